/*
 * auth_results.c - Authentication-Results grammar (RFC 8601): the
 * authserv-id of a received field, the syntax of a filter's method,
 * result and properties, and the text postern writes (see
 * auth_results.h).
 *
 * The id is read the way RFC 8601 section 2.2 writes it: [CFWS]
 * authserv-id, where authserv-id is an RFC 2045 value (a token or a
 * quoted-string).  A field whose value does not parse is not ours: it
 * stays, and a downstream reader cannot take it for ours either.
 */
#include "config.h"

#include <string.h>

#include "auth_results.h"
#include "utf8.h"

/* RFC 2045 tspecials. */
static bool
ar_tspecial(unsigned char c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool
ar_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* A byte of an RFC 2045 token; 8-bit bytes are allowed for UTF-8 ids
 * (RFC 8616). */
static bool
ar_token_char(unsigned char c)
{
	return c != ' ' && !ar_ctl(c) && !ar_tspecial(c);
}

static bool
ar_let_dig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Skip a comment starting at s[*i] == '(' (nested, with quoted-pairs).
 * 0, or -1 when it does not end or nests too deep. */
static int
ar_skip_comment(const char *s, size_t len, size_t *i)
{
	unsigned depth = 0;

	while (*i < len) {
		unsigned char c = (unsigned char)s[(*i)++];

		if (c == '(') {
			if (++depth > AUTH_RESULTS_COMMENT_DEPTH)
				return -1;
		} else if (c == ')') {
			if (--depth == 0)
				return 0;
		} else if (c == '\\') {
			if (*i >= len)
				return -1;
			(*i)++;
		}
	}
	return -1;
}

/* Skip folding white space and comments.  0, or -1 on a bad comment. */
static int
ar_skip_cfws(const char *s, size_t len, size_t *i)
{
	while (*i < len) {
		char c = s[*i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			(*i)++;
		else if (c == '(') {
			if (ar_skip_comment(s, len, i) < 0)
				return -1;
		} else
			break;
	}
	return 0;
}

/* A quoted-string at s[*i] == '"', unquoted into id_r.  Line breaks are
 * folding and dropped; other control characters make it invalid. */
static int
ar_quoted(const char *s, size_t len, size_t *i, struct pst_buf *id_r)
{
	for ((*i)++; *i < len; (*i)++) {
		unsigned char c = (unsigned char)s[*i];

		if (c == '"') {
			(*i)++;
			return 0;
		}
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\\') {
			if (++(*i) >= len)
				return -1;
			c = (unsigned char)s[*i];
		}
		if (ar_ctl(c) && c != '\t')
			return -1;
		if (pst_buf_append_byte(id_r, (char)c) < 0)
			return -1;
	}
	return -1;
}

int
auth_results_authserv_id(struct pst_str value, struct pst_buf *id_r)
{
	const char *s = value.p;
	size_t len = value.len, i = 0, start = id_r->len;

	if (s == NULL || ar_skip_cfws(s, len, &i) < 0 || i >= len)
		return -1;
	if (s[i] == '"') {
		if (ar_quoted(s, len, &i, id_r) < 0)
			return -1;
	} else {
		size_t j = i;

		while (j < len && ar_token_char((unsigned char)s[j]))
			j++;
		if (pst_buf_append(id_r, s + i, j - i) < 0)
			return -1;
		i = j;
	}
	if (id_r->len == start)
		return -1;
	/* A NUL ends the value for C readers downstream: the id stands. */
	if (i < len && s[i] != '\0' && memchr(" \t\r\n(;", s[i], 6) == NULL)
		return -1;
	return 0;
}

/* The length of the keyword at s (0 if there is none). */
static size_t
ar_keyword_len(const char *s)
{
	size_t n = 0;

	while (ar_let_dig((unsigned char)s[n]) || s[n] == '-')
		n++;
	if (n == 0 || n > AUTH_RESULTS_KEYWORD_MAX || s[0] == '-' ||
	    s[n - 1] == '-')
		return 0;
	return n;
}

bool
auth_results_keyword_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = ar_keyword_len(s);
	return n > 0 && s[n] == '\0';
}

/* A pvalue at s[*i]: a quoted-string or a run of safe bytes. */
static bool
ar_pvalue(const char *s, size_t len, size_t *i)
{
	size_t start = *i;

	if (*i < len && s[*i] == '"') {
		for ((*i)++; *i < len; (*i)++) {
			unsigned char c = (unsigned char)s[*i];

			if (c == '"') {
				(*i)++;
				return true;
			}
			if (c == '\\' && ++(*i) >= len)
				return false;
			c = (unsigned char)s[*i];
			if (ar_ctl(c) && c != '\t')
				return false;
		}
		return false;
	}
	while (*i < len) {
		unsigned char c = (unsigned char)s[*i];

		if (c >= 0x80) {
			size_t n = pst_utf8_seq_len(
				(const unsigned char *)s + *i, len - *i);

			if (n == 0)
				return false;
			*i += n;
			continue;
		}
		if (c <= ' ' || c == 0x7f || strchr(";()\"\\", c) != NULL)
			break;
		(*i)++;
	}
	return *i > start;
}

/* A comment item of props: balanced, no control characters. */
static bool
ar_props_comment(const char *s, size_t len, size_t *i)
{
	size_t start = *i;

	if (ar_skip_comment(s, len, i) < 0)
		return false;
	for (size_t k = start; k < *i; k++)
		if (ar_ctl((unsigned char)s[k]) && s[k] != '\t')
			return false;
	return true;
}

/* One "ptype.property=pvalue" or "reason=pvalue" item. */
static bool
ar_propspec(const char *s, size_t len, size_t *i)
{
	size_t n = ar_keyword_len(s + *i);

	if (n == 0)
		return false;
	if (s[*i + n] == '.') {
		size_t m;

		*i += n + 1;
		m = ar_keyword_len(s + *i);
		if (m == 0)
			return false;
		*i += m;
	} else {
		if (n != 6 || strncasecmp(s + *i, "reason", 6) != 0)
			return false;
		*i += n;
	}
	if (*i >= len || s[*i] != '=')
		return false;
	(*i)++;
	return ar_pvalue(s, len, i);
}

bool
auth_results_props_valid(const char *props)
{
	size_t len, i = 0;

	if (props == NULL)
		return false;
	len = strlen(props);
	if (len > AUTH_RESULTS_PROPS_MAX)
		return false;
	while (i < len) {
		if (props[i] == ' ' || props[i] == '\t') {
			i++;
			continue;
		}
		if (props[i] == '(') {
			if (!ar_props_comment(props, len, &i))
				return false;
			continue;
		}
		if (!ar_propspec(props, len, &i))
			return false;
		/* Items are separated by blanks (or a comment). */
		if (i < len && props[i] != ' ' && props[i] != '\t' &&
		    props[i] != '(')
			return false;
	}
	return true;
}

int
auth_results_format_id(struct pst_buf *buf, const char *id)
{
	size_t len, extra = 0;
	bool token = true;

	if (id == NULL || *id == '\0')
		return -1;
	len = strlen(id);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];

		if (ar_ctl(c))
			return -1;
		if (!ar_token_char(c))
			token = false;
		if (c == '"' || c == '\\')
			extra++;
	}
	if (token)
		return pst_buf_append(buf, id, len);
	if (pst_buf_reserve(buf, len + extra + 2) < 0)
		return -1;
	pst_buf_append_byte(buf, '"');
	for (size_t i = 0; i < len; i++) {
		if (id[i] == '"' || id[i] == '\\')
			pst_buf_append_byte(buf, '\\');
		pst_buf_append_byte(buf, id[i]);
	}
	pst_buf_append_byte(buf, '"');
	return 0;
}

int
auth_results_format_resinfo(struct pst_buf *buf, const char *method,
			    const char *result, const char *props)
{
	size_t ml = strlen(method), rl = strlen(result);
	size_t pl = props != NULL ? strlen(props) : 0;

	if (pst_buf_reserve(buf, ml + 1 + rl + (pl > 0 ? pl + 1 : 0)) < 0)
		return -1;
	pst_buf_append(buf, method, ml);
	pst_buf_append_byte(buf, '=');
	pst_buf_append(buf, result, rl);
	if (pl > 0) {
		pst_buf_append_byte(buf, ' ');
		pst_buf_append(buf, props, pl);
	}
	return 0;
}
