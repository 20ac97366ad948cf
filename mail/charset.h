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

/*
 * A converter from charset (a MIME charset name, any case; NULL or "" =
 * us-ascii) to UTF-8.  NULL only when out of memory.
 *
 * Names are read as mail clients read them (the WHATWG Encoding Standard
 * that Thunderbird follows): utf8 is UTF-8; iso-8859-1/latin1 are
 * windows-1252; gb2312/gbk are GB18030; shift_jis is windows-31j (CP932);
 * euc-kr/ks_c_5601-1987 are CP949; iso-8859-8-i is ISO-8859-8; UTF-7 is
 * converted (clients do; a rule must see the text, not "+ADw-").
 * us-ascii, which real mail puts on 8-bit text all the time: each 8-bit
 * sequence that is valid UTF-8 is kept as UTF-8, any other 8-bit byte is
 * read as windows-1252, and either sets CHARSET_D_INVALID.  Only the
 * charsets mail uses reach iconv (the list is in charset.c): x-unknown,
 * unknown-8bit and any other name are UTF-8 with invalid bytes replaced,
 * CHARSET_D_UNKNOWN.
 * In UTF-8 an ill-formed sequence becomes one U+FFFD per maximal subpart
 * (as Python and browsers do); through iconv, one U+FFFD per byte skipped.
 */
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
