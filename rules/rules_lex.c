/*
 * rules_lex.c - the tokens of rule files (see rules_lex.h and the grammar
 * in postern-rules(5)).
 *
 * A word is a run of letters, digits and "_.:/-" that is then sorted by
 * its shape: a name, a number or size, an IPv4 or IPv6 address or CIDR
 * range, or an enhanced status code.  A regex starts with '/' at the
 * start of a token (there is no division), and a '/' inside a character
 * class does not end it.  Strings and regexes never span lines.
 */
#include "config.h"

#include <string.h>

#include "ascii.h"
#include "rules_lex.h"

void
rules_lex_init(struct rules_lexer *lx, struct rules_compiler *c,
	       const struct rules_file *file)
{
	memset(lx, 0, sizeof(*lx));
	lx->c = c;
	lx->file = file;
	lx->line = 1;
	lx->col = 1;
}

static int
cur(const struct rules_lexer *lx)
{
	return lx->pos < lx->file->len ? (unsigned char)lx->file->text[lx->pos]
				       : -1;
}

static int
ahead(const struct rules_lexer *lx, size_t n)
{
	return lx->pos + n < lx->file->len
		       ? (unsigned char)lx->file->text[lx->pos + n]
		       : -1;
}

static void
advance(struct rules_lexer *lx)
{
	unsigned char ch;

	if (lx->pos >= lx->file->len)
		return;
	ch = (unsigned char)lx->file->text[lx->pos++];
	if (ch == '\n') {
		lx->line++;
		lx->col = 1;
	} else if ((ch & 0xc0) != 0x80) {
		lx->col++;
	}
}

static void
skip_blank(struct rules_lexer *lx)
{
	for (;;) {
		int ch = cur(lx);

		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
		    ch == '\f' || ch == '\v') {
			advance(lx);
		} else if (ch == '#') {
			while (cur(lx) != -1 && cur(lx) != '\n')
				advance(lx);
		} else {
			return;
		}
	}
}

static void
start(struct rules_lexer *lx, struct rules_token *t)
{
	memset(t, 0, sizeof(*t));
	t->loc.file = lx->file;
	t->loc.off = lx->pos;
	t->loc.line = lx->line;
	t->loc.col = lx->col;
}

static void
finish(struct rules_lexer *lx, struct rules_token *t, enum rules_tok type)
{
	size_t len = lx->pos - t->loc.off;

	t->type = type;
	t->raw.p = lx->file->text + t->loc.off;
	t->raw.len = len;
	t->loc.len = len > 0xffff ? 0xffff : (unsigned)len;
}

static void
fail(struct rules_lexer *lx, struct rules_token *t, const char *hint,
     const char *msg)
{
	finish(lx, t, TK_ERROR);
	rules_error(lx->c, &t->loc, hint, "%s", msg);
}

static void
lex_string(struct rules_lexer *lx, struct rules_token *t)
{
	struct pst_buf b;
	char *val;

	advance(lx); /* the opening quote */
	t->inner.p = lx->file->text + lx->pos;
	t->inner_off = lx->pos;
	t->inner_col = lx->col;
	pst_buf_init(&b, RULES_MAX_TOKEN);
	for (;;) {
		int ch = cur(lx);
		struct rules_loc at = { lx->file, lx->pos, lx->line, lx->col,
					1 };

		if (ch == -1 || ch == '\n' || ch == '\r') {
			pst_buf_free(&b);
			finish(lx, t, TK_ERROR);
			t->loc.len = 1;
			rules_error(lx->c, &t->loc,
				    "a string ends on the line it starts on",
				    "unterminated string");
			return;
		}
		if (ch == '"')
			break;
		if (ch == 0 || (ch < 0x20 && ch != '\t') || ch == 0x7f) {
			advance(lx);
			rules_error(lx->c, &at, "write \\t, \\n or \\xHH",
				    "control character in a string");
			continue;
		}
		if (ch == '\\') {
			int e = ahead(lx, 1), v = -1;

			at.len = 2;
			switch (e) {
			case '\\':
			case '"':
				v = e;
				break;
			case 'n':
				v = '\n';
				break;
			case 't':
				v = '\t';
				break;
			case 'r':
				v = '\r';
				break;
			case 'x':
				if (pst_hexval(ahead(lx, 2)) >= 0 &&
				    pst_hexval(ahead(lx, 3)) >= 0) {
					v = pst_hexval(ahead(lx, 2)) * 16 +
					    pst_hexval(ahead(lx, 3));
					advance(lx);
					advance(lx);
				}
				break;
			default:
				break;
			}
			advance(lx);
			if (e != -1 && e != '\n')
				advance(lx);
			if (v < 0 || v == 0) {
				rules_error(lx->c, &at,
					    "escapes are \\\\ \\\" \\n \\t \\r "
					    "and \\xHH (not \\x00)",
					    "unknown escape in a string");
				continue;
			}
			ch = v;
		} else {
			advance(lx);
		}
		if (pst_buf_append_byte(&b, (char)ch) < 0) {
			pst_buf_free(&b);
			fail(lx, t, NULL, "string too long");
			return;
		}
	}
	t->inner.len = (size_t)(lx->file->text + lx->pos - t->inner.p);
	advance(lx); /* the closing quote */
	t->val.len = b.len;
	val = pst_arena_strndup(lx->c->tmp, b.data != NULL ? b.data : "",
				b.len);
	pst_buf_free(&b);
	if (val == NULL) {
		rules_oom(lx->c);
		finish(lx, t, TK_ERROR);
		return;
	}
	t->val.p = val;
	finish(lx, t, TK_STRING);
}

static void
lex_regex(struct rules_lexer *lx, struct rules_token *t)
{
	bool in_class = false;
	size_t pstart;

	advance(lx);
	pstart = lx->pos;
	for (;;) {
		int ch = cur(lx);

		if (ch == -1 || ch == '\n' || ch == '\r') {
			finish(lx, t, TK_ERROR);
			t->loc.len = 1;
			rules_error(lx->c, &t->loc,
				    "a regex ends on the line it starts on; "
				    "write \\/ for a slash",
				    "unterminated regex");
			return;
		}
		if (ch == '\\') {
			advance(lx);
			if (cur(lx) != -1 && cur(lx) != '\n')
				advance(lx);
			continue;
		}
		if (in_class) {
			if (ch == ']')
				in_class = false;
		} else if (ch == '[') {
			in_class = true;
			advance(lx);
			/* "[]" and "[^]": the ']' is a member */
			if (cur(lx) == '^')
				advance(lx);
			if (cur(lx) == ']')
				advance(lx);
			continue;
		} else if (ch == '/') {
			break;
		}
		advance(lx);
	}
	t->val.p = lx->file->text + pstart;
	t->val.len = lx->pos - pstart;
	advance(lx);
	while ((cur(lx) >= 'a' && cur(lx) <= 'z') ||
	       (cur(lx) >= 'A' && cur(lx) <= 'Z')) {
		struct rules_loc at = { lx->file, lx->pos, lx->line, lx->col,
					1 };
		int f = cur(lx);

		advance(lx);
		if (f == 'i')
			t->re_flags |= RULES_RE_I;
		else if (f == 'm')
			t->re_flags |= RULES_RE_M;
		else if (f == 's')
			t->re_flags |= RULES_RE_S;
		else if (f == 'x')
			t->re_flags |= RULES_RE_X;
		else
			rules_error(
				lx->c, &at,
				"flags are i (ignore case), m (multi-line), "
				"s (dot matches newline), x (extended)",
				"unknown regex flag '%c'", f);
	}
	if (t->val.len > RULES_MAX_TOKEN) {
		fail(lx, t, NULL, "regex too long");
		return;
	}
	finish(lx, t, TK_REGEX);
}

static bool
word_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
	       ch == ':' || ch == '/' || ch == '-';
}

/* digits [. digits] [K|M|G], with an optional sign already skipped. */
static int
parse_number(const char *p, size_t len, double *num_r, bool *integer_r)
{
	double v = 0, scale = 1;
	size_t i = 0, digits = 0;
	bool frac = false;

	*integer_r = true;
	while (i < len && p[i] >= '0' && p[i] <= '9') {
		if (++digits > 15)
			return -1;
		v = v * 10 + (p[i++] - '0');
	}
	if (digits == 0)
		return -1;
	if (i < len && p[i] == '.') {
		size_t fd = 0;

		frac = true;
		i++;
		while (i < len && p[i] >= '0' && p[i] <= '9') {
			if (++fd > 9)
				return -1;
			scale /= 10;
			v += (p[i++] - '0') * scale;
		}
		if (fd == 0)
			return -1;
	}
	if (i < len) {
		if (p[i] == 'k' || p[i] == 'K')
			v *= 1024;
		else if (p[i] == 'm' || p[i] == 'M')
			v *= 1024.0 * 1024;
		else if (p[i] == 'g' || p[i] == 'G')
			v *= 1024.0 * 1024 * 1024;
		else
			return -1;
		i++;
		*integer_r = false;
	}
	if (i != len)
		return -1;
	if (frac)
		*integer_r = false;
	*num_r = v;
	return 0;
}

static bool
is_enhanced(const char *p, size_t len)
{
	size_t i = 0, parts = 0;

	/* class.subject.detail: 1 digit, then 1-3, then 1-3 (RFC 3463) */
	while (parts < 3) {
		size_t d = 0;

		while (i < len && p[i] >= '0' && p[i] <= '9') {
			i++;
			d++;
		}
		if (d == 0 || d > (parts == 0 ? 1u : 3u))
			return false;
		parts++;
		if (parts < 3) {
			if (i >= len || p[i] != '.')
				return false;
			i++;
		}
	}
	return i == len;
}

static void
lex_word(struct rules_lexer *lx, struct rules_token *t)
{
	const char *p;
	size_t len, dots = 0;
	bool sign = cur(lx) == '+' || cur(lx) == '-';
	const char *why = NULL;

	if (sign)
		advance(lx);
	while (word_char(cur(lx)) && lx->pos - t->loc.off <= RULES_MAX_NAME)
		advance(lx);
	if (word_char(cur(lx))) {
		while (word_char(cur(lx)))
			advance(lx);
		fail(lx, t, NULL, "word too long");
		return;
	}
	p = lx->file->text + t->loc.off;
	len = lx->pos - t->loc.off;
	for (size_t i = 0; i < len; i++)
		dots += p[i] == '.';
	if (sign) {
		if (parse_number(p + 1, len - 1, &t->num, &t->integer) < 0) {
			fail(lx, t, NULL, "bad number");
			return;
		}
		if (p[0] == '-')
			t->num = -t->num;
		t->integer = false;
		t->sign = true;
		finish(lx, t, TK_NUMBER);
		return;
	}
	if (memchr(p, ':', len) != NULL ||
	    (p[0] >= '0' && p[0] <= '9' && dots == 3)) {
		if (rules_cidr_parse(p, len, &t->cidr, &why) < 0) {
			/* "spam:high" is a name that happens to have a
			 * colon; "fe80:::1" a broken address */
			if (((p[0] >= 'a' && p[0] <= 'z') ||
			     (p[0] >= 'A' && p[0] <= 'Z')) &&
			    memchr(p, '/', len) == NULL &&
			    memchr(p, '.', len) == NULL &&
			    (len < 2 || memmem(p, len, "::", 2) == NULL)) {
				t->val.p = p;
				t->val.len = len;
				finish(lx, t, TK_WORD);
				return;
			}
			finish(lx, t, TK_ERROR);
			rules_error(lx->c, &t->loc, NULL,
				    "bad address '%s': %s",
				    rules_show(lx->c->tmp, p, len), why);
			return;
		}
		t->prefix = memchr(p, '/', len) != NULL;
		finish(lx, t, TK_ADDRESS);
		return;
	}
	if (p[0] >= '0' && p[0] <= '9') {
		if (dots == 2 && is_enhanced(p, len)) {
			t->val.p = p;
			t->val.len = len;
			finish(lx, t, TK_ENHANCED);
			return;
		}
		if (parse_number(p, len, &t->num, &t->integer) < 0) {
			finish(lx, t, TK_ERROR);
			rules_error(lx->c, &t->loc,
				    "numbers are like 12, 4.5 or 10M; "
				    "addresses like 192.0.2.0/24",
				    "bad number '%s'",
				    rules_show(lx->c->tmp, p, len));
			return;
		}
		finish(lx, t, TK_NUMBER);
		return;
	}
	if (memchr(p, '/', len) != NULL) {
		finish(lx, t, TK_ERROR);
		rules_error(lx->c, &t->loc, "quote it: \"...\"",
			    "unexpected '/' in '%s'",
			    rules_show(lx->c->tmp, p, len));
		return;
	}
	t->val.p = p;
	t->val.len = len;
	finish(lx, t, TK_WORD);
}

static void
lex_one(struct rules_lexer *lx, struct rules_token *t)
{
	int ch, next;

	skip_blank(lx);
	start(lx, t);
	ch = cur(lx);
	next = ahead(lx, 1);
	switch (ch) {
	case -1:
		finish(lx, t, TK_EOF);
		return;
	case '"':
		lex_string(lx, t);
		return;
	case '/':
		lex_regex(lx, t);
		return;
	case '{':
	case '}':
	case '(':
	case ')':
	case ',':
	case ';':
		advance(lx);
		finish(lx, t,
		       ch == '{'   ? TK_LBRACE
		       : ch == '}' ? TK_RBRACE
		       : ch == '(' ? TK_LPAREN
		       : ch == ')' ? TK_RPAREN
		       : ch == ',' ? TK_COMMA
				   : TK_SEMI);
		return;
	case '=':
		advance(lx);
		if (next == '=') {
			advance(lx);
			finish(lx, t, TK_EQ);
			return;
		}
		fail(lx, t, "write == or is", "unexpected '='");
		return;
	case '!':
		advance(lx);
		if (next == '=') {
			advance(lx);
			finish(lx, t, TK_NE);
			return;
		}
		fail(lx, t, "write != or not", "unexpected '!'");
		return;
	case '<':
	case '>':
		advance(lx);
		if (next == '=') {
			advance(lx);
			finish(lx, t, ch == '<' ? TK_LE : TK_GE);
			return;
		}
		finish(lx, t, ch == '<' ? TK_LT : TK_GT);
		return;
	case '@':
		advance(lx);
		if (!word_char(cur(lx)) || cur(lx) == ':' || cur(lx) == '/') {
			fail(lx, t, "write @name", "'@' without a list name");
			return;
		}
		while (word_char(cur(lx)) && cur(lx) != ':' && cur(lx) != '/' &&
		       lx->pos - t->loc.off <= RULES_MAX_NAME)
			advance(lx);
		t->val.p = lx->file->text + t->loc.off + 1;
		t->val.len = lx->pos - t->loc.off - 1;
		finish(lx, t, TK_LISTREF);
		return;
	case '+':
	case '-':
		if (next >= '0' && next <= '9') {
			lex_word(lx, t);
			return;
		}
		break;
	default:
		if (word_char(ch) && ch != '.' && ch != '/' && ch != '-') {
			lex_word(lx, t);
			return;
		}
		break;
	}
	/* Anything else: one character (a whole UTF-8 sequence). */
	advance(lx);
	while ((cur(lx) & 0xc0) == 0x80 && lx->pos - t->loc.off < 4)
		advance(lx);
	finish(lx, t, TK_ERROR);
	rules_error(lx->c, &t->loc, NULL, "unexpected character '%s'",
		    rules_show(lx->c->tmp, t->raw.p, t->raw.len));
}

const struct rules_token *
rules_lex_peek(struct rules_lexer *lx)
{
	if (!lx->has_peek) {
		lex_one(lx, &lx->peeked);
		lx->has_peek = true;
	}
	return &lx->peeked;
}

void
rules_lex_next(struct rules_lexer *lx, struct rules_token *t)
{
	if (lx->has_peek) {
		*t = lx->peeked;
		lx->has_peek = false;
	} else {
		lex_one(lx, t);
	}
	if (t->type != TK_EOF)
		lx->last_end = t->loc.off + t->raw.len;
}

bool
rules_tok_is(const struct rules_token *t, const char *w)
{
	size_t n = strlen(w);

	return t->type == TK_WORD && t->val.len == n &&
	       memcmp(t->val.p, w, n) == 0;
}

const char *
rules_lex_describe(struct rules_lexer *lx, const struct rules_token *t)
{
	struct pst_arena *a = lx->c->tmp;
	const char *s;

	switch (t->type) {
	case TK_EOF:
		return "the end of the file";
	case TK_STRING:
		return "a string";
	case TK_REGEX:
		return "a regex";
	case TK_NUMBER:
		return "a number";
	case TK_ADDRESS:
		return "an address";
	case TK_ENHANCED:
		return "a status code";
	default:
		break;
	}
	s = pst_arena_printf(a, "'%s'", rules_show(a, t->raw.p, t->raw.len));
	return s != NULL ? s : "?";
}
