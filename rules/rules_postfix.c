/*
 * rules_postfix.c - Postfix header_checks / body_checks tables into rules
 * (see rules_postfix.h).
 *
 * Postfix tests each header line ("Name: value") or each body line on its
 * own, and within a line the first matching entry wins.  The rules keep
 * that meaning: header entries test every element of rawheaders, body
 * entries the raw body line by line (multi-line mode, anchored at a line
 * start, never crossing a line break with .*?).  An if/endif block and
 * the exclusions that earlier DUNNO, OK and non-terminal entries make for
 * the same line become lookaheads at the line's start, so "this line
 * matches the if pattern and not the DUNNO pattern and this pattern" is
 * one regex over one line.  Table flags become inline flag groups:
 * Postfix matches case-insensitively unless `i` is given.
 *
 * Every produced regex is compiled here once; one that PCRE2 refuses
 * becomes a comment, like every action postern has no equivalent for.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "rules_int.h"
#include "rules_postfix.h"

#define PF_MAX_IF 32
#define PF_MAX_EXCLUSIONS 64
#define PF_SHOW 200

struct pf_cond {
	const char *pat; /* PCRE syntax, as written between delimiters */
	size_t len;
	bool negated;
	bool caseless, multiline, dotall, extended, ungreedy, anchored;
};

struct pf_ctx {
	const struct rules_postfix_opts *o;
	struct pst_buf *out;
	struct rules_postfix_stats *st;
	struct pst_arena *arena;
	const char *name;
	char base[48];
	struct pf_cond ifs[PF_MAX_IF];
	unsigned nifs;
	const char *excl[PF_MAX_EXCLUSIONS]; /* conditions of earlier
					      * entries that end the lookup */
	size_t nexcl;
	bool excl_full;
	bool in_if_line; /* an if or endif line, not an entry */
	bool oom;
};

static void
out_str(struct pst_buf *b, const char *s, size_t len)
{
	pst_buf_append_byte(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			pst_buf_printf(b, "\\%c", ch);
		else if (ch == '{' || ch == '}')
			pst_buf_printf(b, "%c%c", ch, ch);
		else if (ch < 0x20 || ch == 0x7f)
			pst_buf_printf(b, "\\x%02x", ch);
		else
			pst_buf_append_byte(b, (char)ch);
	}
	pst_buf_append_byte(b, '"');
}

/* The table line, printable, for a comment. */
static void
out_line(struct pst_buf *b, const char *s, size_t len)
{
	size_t n = len < PF_SHOW ? len : PF_SHOW;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		pst_buf_append_byte(b,
				    ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
	}
	if (n < len)
		pst_buf_append_cstr(b, "...");
}

/* A comment for a line not converted (an entry, or if/endif trouble:
 * only entries count as skipped). */
static void
skip_note(struct pf_ctx *x, unsigned line, const char *s, size_t len,
	  const char *why)
{
	pst_buf_printf(x->out, "# %s:%u: not converted: %s\n#   ", x->name,
		       line, why);
	out_line(x->out, s, len);
	pst_buf_append_cstr(x->out, "\n\n");
	if (!x->in_if_line)
		x->st->skipped++;
}

/* ---- patterns ---- */

/* [!]DELIM pattern DELIM flags; *rest_r after the flags.  NULL or why. */
static const char *
parse_pattern(struct pf_ctx *x, const char *s, size_t len, struct pf_cond *c,
	      size_t *rest_r)
{
	size_t i = 0, j;
	char delim;

	memset(c, 0, sizeof(*c));
	c->caseless = true; /* Postfix's default; `i` toggles it */
	if (i < len && s[i] == '!') {
		c->negated = true;
		i++;
	}
	if (i >= len)
		return "no pattern";
	delim = s[i];
	if (delim == ' ' || delim == '\t' || delim == '\\' ||
	    (delim >= '0' && delim <= '9') || (delim >= 'a' && delim <= 'z') ||
	    (delim >= 'A' && delim <= 'Z'))
		return "the pattern has no delimiter (like /.../)";
	for (j = i + 1; j < len && s[j] != delim; j++) {
		if (s[j] == '\\')
			j++;
	}
	if (j >= len)
		return "the pattern does not end";
	c->pat = s + i + 1;
	c->len = j - i - 1;
	for (j++; j < len && s[j] != ' ' && s[j] != '\t'; j++) {
		switch (s[j]) {
		case 'i':
			c->caseless = !c->caseless;
			break;
		case 'm':
			c->multiline = true;
			break;
		case 's':
			if (x->o->posix)
				return "unknown flag 's'";
			c->dotall = true;
			break;
		case 'x':
			if (x->o->posix)
				return "flag 'x' (basic regular expressions) "
				       "has no PCRE equivalent";
			c->extended = true;
			break;
		case 'A':
		case 'U':
		case 'E':
		case 'X':
			if (x->o->posix)
				return "unknown flag";
			c->anchored |= s[j] == 'A';
			c->ungreedy |= s[j] == 'U';
			/* E and X change nothing a header line can show */
			break;
		default:
			return "unknown flag";
		}
	}
	*rest_r = j;
	return NULL;
}

/* The pattern in PCRE syntax inside our /.../: '/' escaped, and for a
 * regexp: table the GNU word boundaries \< \> as \b. */
static void
out_pat(struct pf_ctx *x, struct pst_buf *b, const struct pf_cond *c)
{
	for (size_t i = 0; i < c->len; i++) {
		char ch = c->pat[i];

		if (ch == '\\' && i + 1 < c->len) {
			char e = c->pat[i + 1];

			if (x->o->posix && (e == '<' || e == '>'))
				pst_buf_append_cstr(b, "\\b");
			else
				pst_buf_printf(b, "\\%c", e);
			i++;
		} else if (ch == '/') {
			pst_buf_append_cstr(b, "\\/");
		} else if ((unsigned char)ch < 0x20 || ch == 0x7f) {
			pst_buf_printf(b, "\\x%02x", (unsigned char)ch);
		} else {
			pst_buf_append_byte(b, ch);
		}
	}
}

/* (?flags:pattern) with the condition's own flags. */
static void
out_group(struct pf_ctx *x, struct pst_buf *b, const struct pf_cond *c)
{
	pst_buf_printf(b, "(?%s%s%s%s%s%s:", c->caseless ? "i" : "",
		       c->multiline ? "m" : "", c->dotall ? "s" : "",
		       c->extended ? "x" : "", c->ungreedy ? "U" : "",
		       c->caseless ? "" : "-i");
	out_pat(x, b, c);
	pst_buf_append_byte(b, ')');
}

/* A zero-width test at the line's start: the line matches (or, negated,
 * does not match) c. */
static void
out_look(struct pf_ctx *x, struct pst_buf *b, const struct pf_cond *c)
{
	pst_buf_append_cstr(b, c->negated ? "(?!" : "(?=");
	if (!c->anchored)
		pst_buf_append_cstr(b, x->o->body ? ".*?" : "[\\s\\S]*?");
	out_group(x, b, c);
	pst_buf_append_byte(b, ')');
}

/* The lookaheads that say "this entry applies": its if blocks and its
 * own pattern; the exclusion later entries use. */
static char *
entry_cond(struct pf_ctx *x, const struct pf_cond *c)
{
	struct pst_buf b;
	char *s;

	pst_buf_init(&b, 0);
	for (unsigned i = 0; i < x->nifs; i++)
		out_look(x, &b, &x->ifs[i]);
	out_look(x, &b, c);
	s = pst_arena_strdup(x->arena, b.data != NULL ? b.data : "");
	pst_buf_free(&b);
	if (s == NULL)
		x->oom = true;
	return s;
}

/* The regex of the rule for entry c: 0, or the reason it cannot be. */
static const char *
entry_regex(struct pf_ctx *x, const struct pf_cond *c, struct pst_buf *re,
	    struct pst_arena *scratch)
{
	struct rules_regex tmp;
	const char *why = NULL;
	size_t off;
	unsigned flags = x->o->body ? RULES_RE_M : 0;
	bool simple = x->nifs == 0 && x->nexcl == 0 && !c->negated &&
		      !c->anchored && !c->ungreedy;

	if (simple) {
		out_pat(x, re, c);
		pst_buf_append_byte(re, '/');
		if (c->caseless)
			pst_buf_append_byte(re, 'i');
		if (c->multiline || x->o->body)
			pst_buf_append_byte(re, 'm');
		if (c->dotall)
			pst_buf_append_byte(re, 's');
		if (c->extended)
			pst_buf_append_byte(re, 'x');
		flags |= (c->caseless ? RULES_RE_I : 0) |
			 (c->multiline ? RULES_RE_M : 0) |
			 (c->dotall ? RULES_RE_S : 0) |
			 (c->extended ? RULES_RE_X : 0);
	} else {
		pst_buf_append_cstr(re, x->o->body ? "^" : "\\A");
		for (unsigned i = 0; i < x->nifs; i++)
			out_look(x, re, &x->ifs[i]);
		for (size_t i = 0; i < x->nexcl; i++)
			pst_buf_printf(re, "(?!%s)", x->excl[i]);
		if (c->negated) {
			out_look(x, re, c);
		} else {
			if (!c->anchored)
				pst_buf_append_cstr(
					re, x->o->body ? ".*?" : "[\\s\\S]*?");
			out_group(x, re, c);
		}
		pst_buf_append_byte(re, '/');
		if (x->o->body)
			pst_buf_append_byte(re, 'm');
	}
	if (re->data == NULL)
		return "out of memory";
	/* what the rule file will hold between the slashes, unescaped
	 * back: our lexer takes \/ as PCRE does, so compile it as is */
	memset(&tmp, 0, sizeof(tmp));
	off = (size_t)(strrchr(re->data, '/') - re->data);
	if (rules_regex_compile(scratch, re->data, off, flags, &tmp, &why,
				&off) < 0)
		return pst_arena_printf(x->arena,
					"not a valid PCRE pattern "
					"(%s)",
					why);
	return NULL;
}

/* ---- actions ---- */

/* The text of an action with $1, ${1} and $$ handled: substitutions
 * cannot be carried over, so they are left out (*dropped_r). */
static char *
action_text(struct pf_ctx *x, const char *s, size_t len, bool *dropped_r)
{
	struct pst_buf b;
	char *r;

	pst_buf_init(&b, 0);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '$' && i + 1 < len && s[i + 1] == '$') {
			pst_buf_append_byte(&b, '$');
			i++;
		} else if (s[i] == '$' && i + 1 < len &&
			   ((s[i + 1] >= '0' && s[i + 1] <= '9') ||
			    s[i + 1] == '{' || s[i + 1] == '(')) {
			char close = s[i + 1] == '{'   ? '}'
				     : s[i + 1] == '(' ? ')'
						       : 0;

			i++;
			if (close != 0) {
				while (i < len && s[i] != close)
					i++;
			}
			*dropped_r = true;
			if (b.len > 0 && b.data[b.len - 1] == ' ' &&
			    i + 1 < len && s[i + 1] == ' ')
				i++; /* "type $1 not" -> "type not" */
		} else {
			pst_buf_append_byte(&b, s[i]);
		}
	}
	r = pst_arena_strdup(x->arena, b.data != NULL ? b.data : "");
	pst_buf_free(&b);
	if (r == NULL)
		x->oom = true;
	return r != NULL ? r : (char *)"";
}

static bool
word_is(const char *w, size_t wlen, const char *name)
{
	return rules_strcasecmp_len(w, wlen, name, strlen(name)) == 0;
}

/* A header name the pattern starts with: ^Subject: or ^X-Foo: */
static size_t
pattern_header(const struct pf_cond *c, char *buf, size_t size)
{
	size_t n = 0;

	if (c->len < 3 || c->pat[0] != '^')
		return 0;
	for (size_t i = 1; i < c->len; i++) {
		char ch = c->pat[i];

		if (ch == ':')
			return n > 0 ? n : 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') ||
		    n + 1 >= size)
			return 0;
		buf[n++] = ch;
		buf[n] = '\0';
	}
	return 0;
}

/* class.subject.detail: one digit, then 1-3 and 1-3 (RFC 3463). */
static bool
enhanced_ok(const char *s)
{
	size_t i = 1;

	if (s[0] < '2' || s[0] > '5' || s[1] != '.')
		return false;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;

		if (s[i++] != '.')
			return false;
		while (s[i] >= '0' && s[i] <= '9' && d < 4) {
			i++;
			d++;
		}
		if (d == 0 || d > 3)
			return false;
	}
	return s[i] == '\0';
}

enum pf_kind {
	PF_RULE,      /* write a rule with these actions */
	PF_EXCEPTION, /* DUNNO / OK: later entries skip this line */
	PF_SKIP,      /* no equivalent */
};

/* The actions for a table result; *why_r when there are none. */
static enum pf_kind
convert_action(struct pf_ctx *x, const struct pf_cond *c, const char *s,
	       size_t len, struct pst_buf *acts, bool *terminal_r,
	       const char **why_r)
{
	size_t wlen = 0, t;
	const char *text;
	bool dropped = false;
	char hname[80];

	while (wlen < len && s[wlen] != ' ' && s[wlen] != '\t')
		wlen++;
	t = wlen;
	while (t < len && (s[t] == ' ' || s[t] == '\t'))
		t++;
	text = action_text(x, s + t, len - t, &dropped);
	*terminal_r = false;
	if (wlen == 0) {
		*why_r = "no action";
		return PF_SKIP;
	}
	if (word_is(s, wlen, "DUNNO") || word_is(s, wlen, "OK"))
		return PF_EXCEPTION;
	if (word_is(s, wlen, "REJECT") || word_is(s, wlen, "DEFER") ||
	    (wlen == 3 && (s[0] == '4' || s[0] == '5') && s[1] >= '0' &&
	     s[1] <= '9' && s[2] >= '0' && s[2] <= '9')) {
		bool temp = word_is(s, wlen, "DEFER") || s[0] == '4';
		unsigned code = temp ? 450 : 550;
		const char *enh = temp ? "4.7.1" : "5.7.1";
		char ebuf[16];

		if (wlen == 3)
			code = (unsigned)((s[0] - '0') * 100 +
					  (s[1] - '0') * 10 + (s[2] - '0'));
		/* "REJECT 5.7.1 text": Postfix takes a leading status code */
		if (text[0] == (temp ? '4' : '5') && text[1] == '.') {
			size_t k = 0;

			while (text[k] != '\0' && text[k] != ' ' && k < 15) {
				ebuf[k] = text[k];
				k++;
			}
			ebuf[k] = '\0';
			if (k >= 5 && (text[k] == ' ' || text[k] == '\0') &&
			    enhanced_ok(ebuf)) {
				enh = pst_arena_strdup(x->arena, ebuf);
				text += k;
				while (*text == ' ')
					text++;
				if (enh == NULL)
					enh = temp ? "4.7.1" : "5.7.1";
			}
		}
		if (code % 100 > 59) {
			*why_r = "bad reply code";
			return PF_SKIP;
		}
		pst_buf_printf(acts, "\t%s %u %s ",
			       temp ? "tempfail" : "reject", code, enh);
		if (text[0] == '\0')
			text = temp ? "Try again later"
				    : "Message content rejected";
		out_str(acts, text, strlen(text));
		pst_buf_append_byte(acts, '\n');
		*terminal_r = true;
	} else if (word_is(s, wlen, "DISCARD")) {
		if (text[0] != '\0') {
			pst_buf_append_cstr(acts, "\tlog ");
			out_str(acts, text, strlen(text));
			pst_buf_append_byte(acts, '\n');
		}
		pst_buf_append_cstr(acts, "\tdiscard\n");
		*terminal_r = true;
	} else if (word_is(s, wlen, "HOLD")) {
		pst_buf_append_cstr(acts, "\tquarantine ");
		if (text[0] == '\0')
			text = x->o->body ? "held by body_checks"
					  : "held by header_checks";
		out_str(acts, text, strlen(text));
		pst_buf_append_byte(acts, '\n');
		*terminal_r = true;
	} else if (word_is(s, wlen, "WARN") || word_is(s, wlen, "INFO")) {
		pst_buf_append_cstr(acts, "\tlog ");
		if (text[0] == '\0')
			text = x->o->body ? "body_checks warning"
					  : "header_checks warning";
		out_str(acts, text, strlen(text));
		pst_buf_append_byte(acts, '\n');
	} else if (word_is(s, wlen, "IGNORE")) {
		if (x->o->body) {
			*why_r = "IGNORE of a body line has no equivalent";
			return PF_SKIP;
		}
		if (c->negated ||
		    pattern_header(c, hname, sizeof(hname)) == 0) {
			*why_r = "IGNORE needs a pattern that starts with "
				 "^Name: to know which header to remove";
			return PF_SKIP;
		}
		pst_buf_append_cstr(acts, "\tremove-header ");
		out_str(acts, hname, strlen(hname));
		pst_buf_append_byte(acts, '\n');
	} else if (word_is(s, wlen, "PREPEND")) {
		const char *colon = strchr(text, ':');

		if (x->o->body) {
			*why_r = "PREPEND of a body line has no equivalent";
			return PF_SKIP;
		}
		if (colon == NULL || colon == text) {
			*why_r = "PREPEND needs \"Name: value\"";
			return PF_SKIP;
		}
		for (const char *p = text; p < colon; p++) {
			if (*p <= ' ' || *p >= 127) {
				*why_r = "PREPEND needs \"Name: value\"";
				return PF_SKIP;
			}
		}
		pst_buf_append_cstr(acts, "\tadd-header ");
		out_str(acts, text, (size_t)(colon - text));
		pst_buf_append_byte(acts, ' ');
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		out_str(acts, colon, strlen(colon));
		pst_buf_append_byte(acts, '\n');
	} else if (word_is(s, wlen, "REDIRECT") || word_is(s, wlen, "BCC") ||
		   word_is(s, wlen, "FILTER")) {
		*why_r = pst_arena_printf(
			x->arena,
			"%.*s has no equivalent (postern relays by route, "
			"not by content)",
			(int)wlen, s);
		return PF_SKIP;
	} else {
		*why_r = pst_arena_printf(x->arena,
					  "%.*s has no equivalent in postern "
					  "rules",
					  (int)(wlen < 32 ? wlen : 32), s);
		return PF_SKIP;
	}
	if (dropped)
		pst_buf_append_cstr(acts,
				    "\t# note: $N substitutions of the table "
				    "were left out of the text\n");
	return PF_RULE;
}

/* Whatever the table holds, what is written must compile: the rule is
 * compiled here, and a refusal (a header name too long for add-header,
 * a pattern our /.../ cannot hold) becomes the reason it is not. */
static const char *
rule_compiles(struct pf_ctx *x, const struct pst_buf *rule)
{
	struct pst_arena *a = pst_arena_new(0);
	struct rules_set *set;
	struct rules_report rep;
	const char *why = NULL;

	if (a == NULL || rule->data == NULL)
		return "out of memory";
	if (rules_load_string(NULL, rule->data, rule->len, NULL, a, &set,
			      &rep) < 0)
		why = pst_arena_strdup(x->arena,
				       rep.ndiags > 0 ? rep.diags[0].message
						      : "it does not compile");
	rules_set_unref(&set);
	pst_arena_free(&a);
	return why != NULL || rep.nerrors == 0 ? why : "out of memory";
}

static void
add_exclusion(struct pf_ctx *x, const struct pf_cond *c)
{
	char *e;

	if (x->nexcl == PF_MAX_EXCLUSIONS) {
		x->excl_full = true;
		return;
	}
	e = entry_cond(x, c);
	if (e != NULL)
		x->excl[x->nexcl++] = e;
}

static void
entry(struct pf_ctx *x, unsigned line, const char *s, size_t len)
{
	struct pf_cond c;
	struct pst_buf re, acts, rule;
	struct pst_arena *scratch;
	const char *why;
	size_t rest;
	bool terminal = false;
	enum pf_kind kind;

	x->st->entries++;
	why = parse_pattern(x, s, len, &c, &rest);
	if (why != NULL) {
		skip_note(x, line, s, len, why);
		return;
	}
	while (rest < len && (s[rest] == ' ' || s[rest] == '\t'))
		rest++;
	pst_buf_init(&acts, 0);
	why = NULL;
	kind = convert_action(x, &c, s + rest, len - rest, &acts, &terminal,
			      &why);
	if (kind == PF_EXCEPTION) {
		pst_buf_free(&acts);
		pst_buf_printf(x->out,
			       "# %s:%u: an exception: the entries after it "
			       "skip a line that matches it\n#   ",
			       x->name, line);
		out_line(x->out, s, len);
		pst_buf_append_cstr(x->out, "\n\n");
		add_exclusion(x, &c);
		return;
	}
	if (kind == PF_SKIP) {
		pst_buf_free(&acts);
		skip_note(x, line, s, len, why != NULL ? why : "?");
		return;
	}
	pst_buf_init(&re, 0);
	pst_buf_init(&rule, 0);
	scratch = pst_arena_new(0);
	why = scratch != NULL ? entry_regex(x, &c, &re, scratch)
			      : "out of memory";
	pst_arena_free(&scratch);
	if (why == NULL) {
		pst_buf_printf(&rule, "rule %s_%u {\n\twhen %s /", x->base,
			       line,
			       x->o->body ? "rawbody matches"
					  : "any rawheaders matches");
		pst_buf_append(&rule, re.data, re.len);
		pst_buf_append_byte(&rule, '\n');
		pst_buf_append(&rule, acts.data, acts.len);
		pst_buf_append_cstr(&rule, "}\n");
		why = rule_compiles(x, &rule);
	}
	if (why != NULL) {
		skip_note(x, line, s, len, why);
	} else {
		pst_buf_printf(x->out, "# %s:%u: ", x->name, line);
		out_line(x->out, s, len);
		pst_buf_append_byte(x->out, '\n');
		pst_buf_append(x->out, rule.data, rule.len);
		pst_buf_append_byte(x->out, '\n');
		x->st->converted++;
		/* Postfix stops at the first entry a line matches; a
		 * decision stops the rules too, anything else must keep
		 * the line from the entries after it. */
		if (!terminal)
			add_exclusion(x, &c);
	}
	pst_buf_free(&rule);
	pst_buf_free(&re);
	pst_buf_free(&acts);
}

static void
if_line(struct pf_ctx *x, unsigned line, const char *s, size_t len)
{
	size_t p = 2, rest;
	struct pf_cond c;
	const char *why;

	while (p < len && (s[p] == ' ' || s[p] == '\t'))
		p++;
	why = parse_pattern(x, s + p, len - p, &c, &rest);
	if (why == NULL && x->nifs == PF_MAX_IF)
		why = "if blocks nested too deeply";
	if (why != NULL) {
		/* the block's entries would apply too widely: keep a
		 * never-matching condition so they stay off */
		static const struct pf_cond never = { "(*FAIL)", 7,	false,
						      false,	 false, false,
						      false,	 false, true };

		skip_note(x, line, s, len, why);
		if (x->nifs < PF_MAX_IF)
			x->ifs[x->nifs++] = never;
		return;
	}
	/* the line buffer is reused: keep a copy of the pattern */
	c.pat = pst_arena_strndup(x->arena, c.pat, c.len);
	if (c.pat == NULL) {
		x->oom = true;
		return;
	}
	x->ifs[x->nifs++] = c;
}

int
rules_postfix_import(const char *name, const char *text, size_t len,
		     const struct rules_postfix_opts *opts, struct pst_buf *out,
		     struct rules_postfix_stats *st)
{
	struct pf_ctx x;
	const char *slash = strrchr(name, '/');
	const char *b = slash != NULL ? slash + 1 : name;
	size_t pos = 0, n = 0;
	unsigned line = 0;
	struct pst_buf logical;

	memset(&x, 0, sizeof(x));
	memset(st, 0, sizeof(*st));
	x.o = opts;
	x.out = out;
	x.st = st;
	x.name = name;
	x.arena = pst_arena_new(0);
	if (x.arena == NULL)
		return -1;
	for (; *b != '\0' && n + 1 < sizeof(x.base); b++) {
		char ch = *b;

		x.base[n++] =
			(ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
					(ch >= '0' && ch <= '9') || ch == '-'
				? ch
				: '_';
	}
	x.base[n] = '\0';
	if (n == 0)
		strcpy(x.base, "postfix");

	pst_buf_printf(out,
		       "# Converted by postern rules import-postfix from %s\n"
		       "# (a %s table, read as %s).\n",
		       name, opts->posix ? "regexp:" : "pcre:",
		       opts->body ? "body_checks" : "header_checks");
	pst_buf_append_cstr(
		out,
		opts->body
			? "# Postfix tests each body line; these rules test "
			  "the raw body line by line\n# (multi-line mode); a "
			  "pattern that can match a line break (\\s, [^x])\n"
			  "# may also match across two lines here.\n"
			: "# Postfix tests each header line (\"Name: value\"); "
			  "these rules test\n# rawheaders, the message's "
			  "header lines, the same way.  Postfix also\n# runs "
			  "header_checks on the headers of MIME parts and "
			  "attached\n# messages: for attachments, test "
			  "attachment.filename or attachment.type.\n");
	pst_buf_append_cstr(
		out, "# The first rule that decides wins, in table order.\n\n");

	pst_buf_init(&logical, 0);
	while (pos < len && !x.oom) {
		size_t end;
		unsigned first = line + 1;

		/* one logical line: a line, and the lines after it that
		 * start with a blank */
		pst_buf_reset(&logical);
		do {
			size_t e = pos;

			while (e < len && text[e] != '\n')
				e++;
			end = e;
			if (end > pos && text[end - 1] == '\r')
				end--;
			if (logical.len > 0)
				pst_buf_append_byte(&logical, ' ');
			while (pos < end && logical.len > 0 &&
			       (text[pos] == ' ' || text[pos] == '\t'))
				pos++;
			pst_buf_append(&logical, text + pos, end - pos);
			line++;
			pos = e < len ? e + 1 : e;
		} while (pos < len && (text[pos] == ' ' || text[pos] == '\t') &&
			 logical.len > 0 && logical.data[0] != '#');
		{
			const char *s =
				logical.data != NULL ? logical.data : "";
			size_t l = logical.len, k = 0;

			while (k < l && (s[k] == ' ' || s[k] == '\t'))
				k++;
			while (l > k && (s[l - 1] == ' ' || s[l - 1] == '\t'))
				l--;
			if (k == l || s[k] == '#')
				continue;
			s += k;
			l -= k;
			if (l >= 5 &&
			    rules_strcasecmp_len(s, 5, "endif", 5) == 0 &&
			    (l == 5 || s[5] == ' ' || s[5] == '\t')) {
				x.in_if_line = true;
				if (x.nifs == 0)
					skip_note(&x, first, s, l,
						  "endif without if");
				else
					x.nifs--;
				x.in_if_line = false;
			} else if (l > 3 &&
				   rules_strcasecmp_len(s, 2, "if", 2) == 0 &&
				   (s[2] == ' ' || s[2] == '\t')) {
				x.in_if_line = true;
				if_line(&x, first, s, l);
				x.in_if_line = false;
			} else {
				entry(&x, first, s, l);
			}
		}
	}
	pst_buf_free(&logical);
	if (x.nifs > 0)
		pst_buf_printf(out,
			       "# %s: %u if block%s without endif at the "
			       "end of the table\n",
			       name, x.nifs, x.nifs > 1 ? "s" : "");
	if (x.excl_full)
		pst_buf_printf(out,
			       "# note: more than %d DUNNO/OK/non-deciding "
			       "entries; later rules do not skip lines the "
			       "entries past that matched\n",
			       PF_MAX_EXCLUSIONS);
	pst_arena_free(&x.arena);
	return x.oom ? -1 : 0;
}
