/*
 * spf_macro.c - the macro language of RFC 7208 section 7: checking a
 * macro-string and expanding it.
 *
 * Expansion works in a bounded buffer (SPF_MAX_EXPANSION) whatever the
 * record and the sender hold, and hands back a copy on the caller's
 * arena.  The p macro is the only one that needs DNS; the evaluator
 * supplies it as a callback.  Error texts are static.  Thread-safe.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "spf_int.h"

/* A DIGIT transformer beyond the 127 labels a name can have means "all". */
#define MAX_PARTS_DIGIT 1000

static const char delimiters[] = ".-+,/_=";

struct macro {
	char letter;   /* lower case */
	bool upper;    /* URL-escape the result */
	unsigned keep; /* rightmost parts to keep; 0: all */
	bool reverse;
	struct pst_str delims; /* empty: "." */
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Read the macro-expand "{...}" body after "%{" at s.p[*i].  On success
 * *i is past the closing brace.
 */
static int
read_macro(struct pst_str s, size_t *i, unsigned flags, struct macro *m,
	   const char **error_r)
{
	size_t k = *i;
	bool digits = false;

	memset(m, 0, sizeof(*m));
	if (k >= s.len) {
		*error_r = "unterminated macro";
		return -1;
	}
	m->letter = lower(s.p[k]);
	m->upper = m->letter != s.p[k];
	if (strchr("sloidpvhcrt", m->letter) == NULL || m->letter == '\0') {
		*error_r = "unknown macro letter";
		return -1;
	}
	if (strchr("crt", m->letter) != NULL &&
	    !(flags & (SPF_MACRO_EXP | SPF_MACRO_ANY))) {
		*error_r = "macros c, r and t are allowed only in exp text";
		return -1;
	}
	k++;
	while (k < s.len && is_digit(s.p[k])) {
		digits = true;
		if (m->keep < MAX_PARTS_DIGIT)
			m->keep = m->keep * 10 + (unsigned)(s.p[k] - '0');
		k++;
	}
	if (digits && m->keep == 0) {
		*error_r = "macro part count of zero";
		return -1;
	}
	if (k < s.len && (s.p[k] == 'r' || s.p[k] == 'R')) {
		m->reverse = true;
		k++;
	}
	m->delims.p = s.p + k;
	while (k < s.len && s.p[k] != '}' && strchr(delimiters, s.p[k]) &&
	       s.p[k] != '\0')
		k++;
	m->delims.len = (size_t)(s.p + k - m->delims.p);
	if (k >= s.len || s.p[k] != '}') {
		*error_r = k >= s.len ? "unterminated macro"
				      : "invalid character in macro";
		return -1;
	}
	*i = k + 1;
	return 0;
}

int
spf_macro_check(struct pst_str s, unsigned flags, const char **error_r)
{
	for (size_t i = 0; i < s.len;) {
		unsigned char c = (unsigned char)s.p[i];
		struct macro m;

		if (c == '%') {
			char next = i + 1 < s.len ? s.p[i + 1] : '\0';

			if (next == '%' || next == '_' || next == '-') {
				i += 2;
				continue;
			}
			if (next != '{') {
				*error_r = "'%' not followed by '{', '%', "
					   "'_' or '-'";
				return -1;
			}
			i += 2;
			if (read_macro(s, &i, flags, &m, error_r) < 0)
				return -1;
			continue;
		}
		if ((c == ' ' && (flags & SPF_MACRO_EXP)) ||
		    (c >= 0x21 && c <= 0x7e)) {
			i++;
			continue;
		}
		*error_r = "invalid character";
		return -1;
	}
	return 0;
}

static bool
is_delim(const struct macro *m, char c)
{
	if (m->delims.len == 0)
		return c == '.';
	return memchr(m->delims.p, c, m->delims.len) != NULL;
}

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit((char)c) || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static int
append_escaped(struct pst_buf *out, const char *s, size_t len, bool escape)
{
	if (!escape)
		return pst_buf_append(out, s, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int r = is_unreserved(c) ? pst_buf_append_byte(out, (char)c)
					 : pst_buf_printf(out, "%%%02X", c);

		if (r < 0)
			return -1;
	}
	return 0;
}

/*
 * Split value on the delimiters, reverse if asked, keep the rightmost
 * parts, join with "." (RFC 7208 7.3) and append, escaped when the
 * letter was upper case.
 */
static int
append_transformed(struct pst_arena *arena, struct pst_buf *out,
		   const struct macro *m, const char *value)
{
	size_t len = strlen(value), nparts = 1, first, part = 0;
	struct pst_str *parts;
	size_t start = 0;

	if (m->keep == 0 && !m->reverse && m->delims.len == 0)
		return append_escaped(out, value, len, m->upper);
	for (size_t i = 0; i < len; i++)
		if (is_delim(m, value[i]))
			nparts++;
	parts = pst_arena_calloc(arena, nparts, sizeof(*parts));
	if (parts == NULL)
		return -1;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || is_delim(m, value[i])) {
			parts[part].p = value + start;
			parts[part].len = i - start;
			part++;
			start = i + 1;
		}
	}
	if (m->reverse) {
		for (size_t i = 0; i < nparts / 2; i++) {
			struct pst_str t = parts[i];

			parts[i] = parts[nparts - 1 - i];
			parts[nparts - 1 - i] = t;
		}
	}
	first = m->keep != 0 && m->keep < nparts ? nparts - m->keep : 0;
	for (size_t i = first; i < nparts; i++) {
		if ((i > first && append_escaped(out, ".", 1, false) < 0) ||
		    append_escaped(out, parts[i].p, parts[i].len, m->upper) < 0)
			return -1;
	}
	return 0;
}

static const char *
macro_value(struct pst_arena *arena, const struct spf_macro_ctx *ctx,
	    char letter)
{
	switch (letter) {
	case 's':
		return ctx->sender;
	case 'l':
		return ctx->local;
	case 'o':
		return ctx->sdom;
	case 'd':
		return ctx->domain;
	case 'i':
		return spf_addr_dotted(arena, ctx->ip);
	case 'p':
		return ctx->ptr_name != NULL ? ctx->ptr_name(ctx->ptr_arg)
					     : "unknown";
	case 'v':
		return ctx->ip->family == 4 ? "in-addr" : "ip6";
	case 'h':
		return ctx->helo;
	case 'c':
		return spf_addr_text(arena, ctx->ip);
	case 'r':
		return ctx->receiver;
	case 't':
		return pst_arena_printf(arena, "%lld", ctx->now);
	default:
		return NULL;
	}
}

/* RFC 7208 7.3: drop labels from the left until at most 253 bytes. */
static const char *
truncate_domain(char *name)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	while (len > SPF_MAX_DOMAIN) {
		char *dot = strchr(name, '.');

		if (dot == NULL)
			break;
		len -= (size_t)(dot + 1 - name);
		name = dot + 1;
	}
	return name;
}

static int
expand_into(struct pst_arena *arena, struct pst_str s,
	    const struct spf_macro_ctx *ctx, unsigned flags,
	    struct pst_buf *out, const char **error_r)
{
	for (size_t i = 0; i < s.len;) {
		const char *value;
		struct macro m;
		int r;

		if (s.p[i] != '%') {
			size_t n = 1;

			while (i + n < s.len && s.p[i + n] != '%')
				n++;
			r = pst_buf_append(out, s.p + i, n);
			i += n;
		} else if (i + 1 >= s.len) {
			*error_r = "'%' at the end";
			return -1;
		} else if (s.p[i + 1] == '%') {
			r = pst_buf_append_byte(out, '%');
			i += 2;
		} else if (s.p[i + 1] == '_') {
			r = pst_buf_append_byte(out, ' ');
			i += 2;
		} else if (s.p[i + 1] == '-') {
			r = pst_buf_append(out, "%20", 3);
			i += 2;
		} else if (s.p[i + 1] != '{') {
			*error_r = "'%' not followed by '{', '%', '_' or '-'";
			return -1;
		} else {
			i += 2;
			if (read_macro(s, &i, flags, &m, error_r) < 0)
				return -1;
			value = macro_value(arena, ctx, m.letter);
			if (value == NULL) {
				*error_r = "out of memory";
				return -1;
			}
			r = append_transformed(arena, out, &m, value);
		}
		if (r < 0) {
			*error_r = "macro expansion too long";
			return -1;
		}
	}
	return 0;
}

int
spf_macro_expand(struct pst_arena *arena, struct pst_str s,
		 const struct spf_macro_ctx *ctx, unsigned flags,
		 const char **out_r, const char **error_r)
{
	struct pst_buf out;
	char *copy;
	int ret = -1;

	/* checked again here so that no caller can expand what the grammar
	 * refuses */
	if (spf_macro_check(s, flags & (SPF_MACRO_EXP | SPF_MACRO_ANY),
			    error_r) < 0)
		return -1;
	pst_buf_init(&out, SPF_MAX_EXPANSION);
	if (expand_into(arena, s, ctx, flags, &out, error_r) < 0)
		goto done;
	copy = pst_arena_strndup(arena, out.data != NULL ? out.data : "",
				 out.len);
	if (copy == NULL) {
		*error_r = "out of memory";
		goto done;
	}
	*out_r = (flags & SPF_MACRO_DOMAIN) ? truncate_domain(copy) : copy;
	ret = 0;
done:
	pst_buf_free(&out);
	return ret;
}
