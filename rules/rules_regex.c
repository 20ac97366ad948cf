/*
 * rules_regex.c - regexes of rule files: PCRE2 with JIT and match limits,
 * and the literal every match must contain (for the prefilter).
 *
 * Patterns are compiled in UTF mode that tolerates invalid UTF-8 in the
 * subject (PCRE2_MATCH_INVALID_UTF: mail is not always well-formed), and
 * without \C, which could split a character.  A match that hits the
 * match or depth limit, or the JIT stack limit, is reported as such (-1)
 * and the caller counts it as no match: a hostile message never makes a
 * rule hang.
 *
 * Compiled codes live on the set's arena (a cleanup frees each); a
 * matcher (match data, context, JIT stack) lives on an evaluation's arena.
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

/* A literal longer than this is cut (a prefix of a required literal is
 * required too), which bounds the prefilter's automaton. */
#define LITERAL_MAX 32
#define LITERAL_MIN 3
/* JIT stack: start small, grow up to this. */
#define JIT_STACK_MAX (512 * 1024)

static void
regex_free(void *arg)
{
	pcre2_code_free(arg);
}

int
rules_regex_compile(struct pst_arena *arena, const char *pattern, size_t len,
		    unsigned flags, struct rules_regex *re, const char **why_r,
		    size_t *erroff_r)
{
	uint32_t opts =
		PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off = 0;
	pcre2_code *code;
	char lit[LITERAL_MAX + 1];
	char *buf;
	size_t n;
	int err = 0;

	if (flags & RULES_RE_I)
		opts |= PCRE2_CASELESS;
	if (flags & RULES_RE_M)
		opts |= PCRE2_MULTILINE;
	if (flags & RULES_RE_S)
		opts |= PCRE2_DOTALL;
	if (flags & RULES_RE_X)
		opts |= PCRE2_EXTENDED;
	code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &err, &off, NULL);
	if (code == NULL) {
		if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
			strcpy((char *)msg, "invalid pattern");
		*why_r = pst_arena_strdup(arena, (const char *)msg);
		if (*why_r == NULL)
			*why_r = "invalid pattern";
		*erroff_r = off <= len ? off : len;
		return -1;
	}
	if (pst_arena_cleanup_add(arena, regex_free, code) < 0) {
		pcre2_code_free(code);
		*why_r = "out of memory";
		*erroff_r = 0;
		return -1;
	}
	/* Without JIT (not built in, no executable memory) the interpreter
	 * does the same work, only slower. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	re->code = code;
	re->flags = flags;
	re->lit_id = -1;
	re->literal = NULL;
	re->literal_len = 0;

	buf = malloc(len + 1);
	if (buf == NULL)
		return 0; /* no prefilter for this one; it still works */
	n = rules_regex_literal(pattern, len, flags, buf);
	if (n > LITERAL_MAX)
		n = LITERAL_MAX;
	memcpy(lit, buf, n);
	free(buf);
	if (n >= LITERAL_MIN) {
		re->literal = pst_arena_strndup(arena, lit, n);
		if (re->literal != NULL)
			re->literal_len = n;
	}
	return 0;
}

/* ---- matching ---- */

struct rules_matcher {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *stack;
};

static void
matcher_free(void *arg)
{
	struct rules_matcher *m = arg;

	pcre2_match_data_free(m->md);
	pcre2_match_context_free(m->mctx);
	pcre2_jit_stack_free(m->stack);
}

struct rules_matcher *
rules_matcher_new(struct pst_arena *arena, uint32_t match_limit,
		  uint32_t depth_limit)
{
	struct rules_matcher *m = pst_arena_zalloc(arena, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->md = pcre2_match_data_create(1, NULL);
	m->mctx = pcre2_match_context_create(NULL);
	m->stack = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
	if (m->md == NULL || m->mctx == NULL ||
	    pst_arena_cleanup_add(arena, matcher_free, m) < 0) {
		matcher_free(m);
		return NULL;
	}
	pcre2_set_match_limit(m->mctx, match_limit);
	pcre2_set_depth_limit(m->mctx, depth_limit);
	/* The interpreter's backtracking memory, bounded too. */
	pcre2_set_heap_limit(m->mctx, 20 * 1024);
	if (m->stack != NULL)
		pcre2_jit_stack_assign(m->mctx, NULL, m->stack);
	return m;
}

int
rules_regex_match(const struct rules_regex *re, struct rules_matcher *m,
		  const char *s, size_t len)
{
	int rc =
		pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, m->md, m->mctx);

	if (rc >= 0)
		return 1;
	switch (rc) {
	case PCRE2_ERROR_NOMATCH:
		return 0;
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_DEPTHLIMIT:
	case PCRE2_ERROR_HEAPLIMIT:
	case PCRE2_ERROR_JIT_STACKLIMIT:
	case PCRE2_ERROR_NOMEMORY:
		return -1;
	default:
		return -2;
	}
}

/* ---- the required literal ----
 *
 * A conservative walk over the pattern: it collects runs of characters
 * that must appear one after another in every match and keeps the
 * longest.  Anything it does not fully understand ends the current run
 * (always safe) or, where the rest of the pattern could no longer be
 * followed (an alternation at the top, an escape with arguments, option
 * settings, verbs, extended syntax), gives up: then the regex simply runs
 * on every input.  Under /i, k and s are left out of runs (in UTF mode
 * the Kelvin sign and the long s match them) and so is anything not
 * ASCII, because the prefilter folds ASCII case only.
 */

struct lit_walk {
	const char *p;
	size_t len, i;
	bool caseless;
	char *best;
	size_t best_len;
	char *run;
	size_t run_len;
};

static void
run_end(struct lit_walk *w)
{
	if (w->run_len > w->best_len) {
		memcpy(w->best, w->run, w->run_len);
		w->best_len = w->run_len;
	}
	w->run_len = 0;
}

/* A quantifier at w->i?  *min_r is its minimum; *end_r is past it and
 * any lazy/possessive mark. */
static bool
quantifier(const struct lit_walk *w, size_t i, unsigned *min_r, size_t *end_r)
{
	const char *p = w->p;
	unsigned min = 0;
	size_t j;

	if (i >= w->len)
		return false;
	if (p[i] == '*' || p[i] == '?' || p[i] == '+') {
		*min_r = p[i] == '+' ? 1 : 0;
		j = i + 1;
	} else if (p[i] == '{') {
		size_t d = 0;

		j = i + 1;
		while (j < w->len && p[j] >= '0' && p[j] <= '9' && d < 6) {
			min = min * 10 + (unsigned)(p[j++] - '0');
			d++;
		}
		if (d == 0 || j >= w->len)
			return false;
		if (p[j] == ',') {
			j++;
			while (j < w->len && p[j] >= '0' && p[j] <= '9')
				j++;
		}
		if (j >= w->len || p[j] != '}')
			return false;
		j++;
		*min_r = min;
	} else {
		return false;
	}
	if (j < w->len && (p[j] == '?' || p[j] == '+'))
		j++;
	*end_r = j;
	return true;
}

/* Past a character class starting at i ('['), or 0 when it does not end. */
static size_t
skip_class(const struct lit_walk *w, size_t i)
{
	const char *p = w->p;
	size_t j = i + 1;

	if (j < w->len && p[j] == '^')
		j++;
	if (j < w->len && p[j] == ']')
		j++;
	while (j < w->len) {
		if (p[j] == '\\') {
			j += 2;
		} else if (p[j] == '[' && j + 1 < w->len && p[j + 1] == ':') {
			const char *e = NULL;

			for (size_t k = j + 2; k + 1 < w->len; k++) {
				if (p[k] == ':' && p[k + 1] == ']') {
					e = p + k;
					break;
				}
			}
			if (e == NULL)
				return 0;
			j = (size_t)(e - p) + 2;
		} else if (p[j] == ']') {
			return j + 1;
		} else {
			j++;
		}
	}
	return 0;
}

/* Past a group starting at i ('('), or 0 when it does not end or is of
 * a kind the walk does not follow. */
static size_t
skip_group(const struct lit_walk *w, size_t i)
{
	const char *p = w->p;
	unsigned depth = 0;
	size_t j = i;

	if (i + 1 < w->len && p[i + 1] == '*')
		return 0; /* a verb: (*UTF), (*LIMIT_MATCH=...) */
	if (i + 1 < w->len && p[i + 1] == '?') {
		if (i + 2 >= w->len)
			return 0;
		if (p[i + 2] != ':' && p[i + 2] != '=' && p[i + 2] != '!' &&
		    !(p[i + 2] == '<' && i + 3 < w->len &&
		      (p[i + 3] == '=' || p[i + 3] == '!')))
			return 0; /* options, names, comments, conditions */
	}
	while (j < w->len) {
		if (p[j] == '\\') {
			j += 2;
		} else if (p[j] == '[') {
			j = skip_class(w, j);
			if (j == 0)
				return 0;
		} else if (p[j] == '(') {
			depth++;
			j++;
		} else if (p[j] == ')') {
			j++;
			if (--depth == 0)
				return j;
		} else {
			j++;
		}
	}
	return 0;
}

/* One literal character (bytes[0..n)) at w->i, then its quantifier. */
static void
literal(struct lit_walk *w, const char *bytes, size_t n, size_t next)
{
	unsigned min;
	size_t end;
	bool usable = true;

	if (w->caseless &&
	    (n > 1 || (unsigned char)bytes[0] >= 0x80 || bytes[0] == 'k' ||
	     bytes[0] == 'K' || bytes[0] == 's' || bytes[0] == 'S'))
		usable = false;
	w->i = next;
	if (quantifier(w, next, &min, &end)) {
		w->i = end;
		if (min == 0 || !usable) {
			run_end(w);
			return;
		}
		/* ab+c: "ab" and then "bc" are both required */
		memcpy(w->run + w->run_len, bytes, n);
		w->run_len += n;
		run_end(w);
		memcpy(w->run, bytes, n);
		w->run_len = n;
		return;
	}
	if (!usable) {
		run_end(w);
		return;
	}
	memcpy(w->run + w->run_len, bytes, n);
	w->run_len += n;
}

/* A non-literal atom ended at next: end the run, skip its quantifier. */
static void
atom(struct lit_walk *w, size_t next)
{
	unsigned min;
	size_t end;

	run_end(w);
	w->i = next;
	if (quantifier(w, next, &min, &end))
		w->i = end;
}

static size_t
utf8_len(unsigned char lead)
{
	if (lead < 0x80)
		return 1;
	if ((lead & 0xe0) == 0xc0)
		return 2;
	if ((lead & 0xf0) == 0xe0)
		return 3;
	if ((lead & 0xf8) == 0xf0)
		return 4;
	return 0;
}

size_t
rules_regex_literal(const char *pattern, size_t len, unsigned flags, char *buf)
{
	struct lit_walk w;
	char *run;
	size_t out;

	if ((flags & RULES_RE_X) || len == 0)
		return 0;
	run = malloc(len + 1);
	if (run == NULL)
		return 0;
	memset(&w, 0, sizeof(w));
	w.p = pattern;
	w.len = len;
	w.caseless = (flags & RULES_RE_I) != 0;
	w.best = buf;
	w.run = run;
	while (w.i < w.len) {
		unsigned char ch = (unsigned char)pattern[w.i];
		size_t end;

		if (ch == '\\') {
			unsigned char e;
			char lit;

			if (w.i + 1 >= w.len)
				goto give_up;
			e = (unsigned char)pattern[w.i + 1];
			if (e >= 0x80)
				goto give_up;
			if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
			    (e >= '0' && e <= '9')) {
				if (strchr("tnrfea", e) != NULL) {
					lit = e == 't'	 ? '\t'
					      : e == 'n' ? '\n'
					      : e == 'r' ? '\r'
					      : e == 'f' ? '\f'
					      : e == 'e' ? '\x1b'
							 : '\a';
					literal(&w, &lit, 1, w.i + 2);
				} else if (strchr("dDwWsShHvVRNXbBAzZGK", e) !=
					   NULL) {
					atom(&w, w.i + 2);
				} else {
					goto give_up;
				}
			} else {
				lit = (char)e;
				literal(&w, &lit, 1, w.i + 2);
			}
			continue;
		}
		switch (ch) {
		case '.':
		case '^':
		case '$':
			atom(&w, w.i + 1);
			break;
		case '[':
			end = skip_class(&w, w.i);
			if (end == 0)
				goto give_up;
			atom(&w, end);
			break;
		case '(':
			end = skip_group(&w, w.i);
			if (end == 0)
				goto give_up;
			atom(&w, end);
			break;
		case ')':
		case '|':
			goto give_up;
		case '*':
		case '+':
		case '?':
		case '{':
			/* a quantifier where none can follow, or a literal
			 * brace: neither is worth following */
			run_end(&w);
			w.i++;
			break;
		default: {
			size_t n = utf8_len(ch);

			if (n == 0 || w.i + n > w.len)
				goto give_up;
			literal(&w, pattern + w.i, n, w.i + n);
			break;
		}
		}
	}
	run_end(&w);
	free(run);
	out = w.best_len >= LITERAL_MIN ? w.best_len : 0;
	for (size_t i = 0; i < out; i++) {
		if (buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] = (char)(buf[i] - 'A' + 'a');
	}
	return out;
give_up:
	free(run);
	return 0;
}
