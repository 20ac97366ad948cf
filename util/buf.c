/*
 * buf.c - owning growable byte buffer and string views (see buf.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static inline char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

struct pst_str
pst_str_from_cstr(const char *s)
{
	return (struct pst_str){ s, s ? strlen(s) : 0 };
}

bool
pst_str_eq(struct pst_str a, struct pst_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool
pst_str_caseeq(struct pst_str a, struct pst_str b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (ascii_lower(a.p[i]) != ascii_lower(b.p[i]))
			return false;
	return true;
}

bool
pst_str_caseeq_cstr(struct pst_str a, const char *b)
{
	return pst_str_caseeq(a, pst_str_from_cstr(b));
}

bool
pst_str_has_caseprefix(struct pst_str s, const char *prefix)
{
	size_t n = strlen(prefix);

	return s.len >= n && pst_str_caseeq((struct pst_str){ s.p, n },
					    (struct pst_str){ prefix, n });
}

struct pst_str
pst_str_trim(struct pst_str s)
{
	while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

void
pst_buf_init(struct pst_buf *buf, size_t limit)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->limit = limit;
}

void
pst_buf_free(struct pst_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}

void
pst_buf_reset(struct pst_buf *buf)
{
	buf->len = 0;
	if (buf->data != NULL)
		buf->data[0] = '\0';
}

int
pst_buf_reserve(struct pst_buf *buf, size_t extra)
{
	size_t want, cap;
	char *p;

	if (extra > SIZE_MAX - 1 - buf->len)
		return -1;
	want = buf->len + extra;
	if (buf->limit != 0 && want > buf->limit)
		return -1;
	if (want + 1 <= buf->cap)
		return 0;
	cap = buf->cap ? buf->cap : 64;
	while (cap < want + 1) {
		if (cap > SIZE_MAX / 2) {
			cap = want + 1;
			break;
		}
		cap *= 2;
	}
	p = realloc(buf->data, cap);
	if (p == NULL)
		return -1;
	buf->data = p;
	buf->cap = cap;
	return 0;
}

int
pst_buf_append(struct pst_buf *buf, const void *data, size_t len)
{
	if (pst_buf_reserve(buf, len) < 0)
		return -1;
	if (len > 0)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

int
pst_buf_append_cstr(struct pst_buf *buf, const char *s)
{
	return pst_buf_append(buf, s, strlen(s));
}

int
pst_buf_append_byte(struct pst_buf *buf, char c)
{
	return pst_buf_append(buf, &c, 1);
}

int
pst_buf_vprintf(struct pst_buf *buf, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || pst_buf_reserve(buf, (size_t)n) < 0)
		return -1;
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	buf->len += (size_t)n;
	return 0;
}

int
pst_buf_printf(struct pst_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = pst_buf_vprintf(buf, fmt, ap);
	va_end(ap);
	return rc;
}

void
pst_buf_consume(struct pst_buf *buf, size_t n)
{
	if (n >= buf->len) {
		pst_buf_reset(buf);
		return;
	}
	memmove(buf->data, buf->data + n, buf->len - n);
	buf->len -= n;
	buf->data[buf->len] = '\0';
}
