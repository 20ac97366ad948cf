/*
 * charset.h - text to UTF-8 through iconv, for text parts and encoded
 * words.  Streaming: a multi-byte character may straddle two chunks.
 * Unknown charsets and invalid sequences never fail the caller: bytes
 * that do not convert become U+FFFD and a defect bit is set.  One
 * converter per use; not shared between threads.
 */
#ifndef MAIL_CHARSET_H
#define MAIL_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum charset_defect {
	CHARSET_D_UNKNOWN = 1u << 0, /* charset not known to iconv: treated
				      * as UTF-8 with invalid bytes replaced */
	CHARSET_D_INVALID = 1u << 1, /* invalid or truncated sequences */
};

struct charset_conv;

/* A converter from charset (a MIME charset name, any case; NULL or "" =
 * us-ascii) to UTF-8.  NULL only when out of memory. */
struct charset_conv *charset_conv_new(const char *charset);
void charset_conv_free(struct charset_conv **conv_p);

/* Convert in[0..len) appending UTF-8 to out; a trailing incomplete
 * sequence is kept for the next call.  0, or -1 when out refused to grow. */
int charset_conv_feed(struct charset_conv *conv, const char *in, size_t len,
		      struct pst_buf *out);
/* End of input: a pending incomplete sequence becomes U+FFFD. */
int charset_conv_finish(struct charset_conv *conv, struct pst_buf *out);
unsigned charset_conv_defects(const struct charset_conv *conv);

/* One-shot convenience for short strings (encoded words, RFC 2231
 * values). */
int charset_to_utf8(const char *charset, const char *in, size_t len,
		    struct pst_buf *out, unsigned *defects_r);

#endif
