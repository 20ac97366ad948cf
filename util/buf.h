/*
 * buf.h - owning growable byte buffer and non-owning string view.
 *
 * struct pst_buf owns its heap memory, keeps data NUL-terminated for C
 * APIs and refuses to grow past its limit.  struct pst_str is a pointer
 * and a length into memory somebody else owns: parsers hand these out.
 * Not thread-safe; a buffer belongs to one owner.
 */
#ifndef PST_BUF_H
#define PST_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct pst_str {
	const char *p;
	size_t len;
};

#define PST_STR_LIT(lit) ((struct pst_str){ (lit), sizeof(lit) - 1 })
#define PST_STR_NULL ((struct pst_str){ NULL, 0 })

struct pst_str pst_str_from_cstr(const char *s);
bool pst_str_eq(struct pst_str a, struct pst_str b);
/* ASCII case-insensitive comparison. */
bool pst_str_caseeq(struct pst_str a, struct pst_str b);
bool pst_str_caseeq_cstr(struct pst_str a, const char *b);
bool pst_str_has_caseprefix(struct pst_str s, const char *prefix);
/* Strip leading and trailing SP and HTAB. */
struct pst_str pst_str_trim(struct pst_str s);

struct pst_buf {
	char *data; /* NULL until the first append; then NUL-terminated */
	size_t len;
	size_t cap;
	size_t limit; /* most bytes of content it may hold; 0: no limit */
};

/* An empty buffer that will refuse to hold more than limit bytes. */
void pst_buf_init(struct pst_buf *buf, size_t limit);
void pst_buf_free(struct pst_buf *buf);
/* Forget the content, keep the memory. */
void pst_buf_reset(struct pst_buf *buf);

/* Each returns 0, or -1 with the buffer unchanged (out of memory, or the
 * limit would be passed). */
int pst_buf_reserve(struct pst_buf *buf, size_t extra);
int pst_buf_append(struct pst_buf *buf, const void *data, size_t len);
int pst_buf_append_cstr(struct pst_buf *buf, const char *s);
int pst_buf_append_byte(struct pst_buf *buf, char c);
int pst_buf_printf(struct pst_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int pst_buf_vprintf(struct pst_buf *buf, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drop the first n bytes (n > len drops everything). */
void pst_buf_consume(struct pst_buf *buf, size_t n);

static inline struct pst_str
pst_buf_view(const struct pst_buf *buf)
{
	return (struct pst_str){ buf->data ? buf->data : "", buf->len };
}

#endif
