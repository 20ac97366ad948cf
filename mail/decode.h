/*
 * decode.h - streaming Content-Transfer-Encoding decoders (RFC 2045:
 * base64, quoted-printable; and uuencode, still sent as attachments).
 *
 * A decoder is a small state machine: feed it input in chunks of any size
 * (a quartet, an "=XX" escape or a line may straddle two chunks) and it
 * writes decoded bytes into the caller's buffer.  Linear time, no
 * allocation, tolerant of what real mail contains (whitespace and garbage
 * in base64, bad escapes in QP) with every oddity recorded as a defect
 * bit.  Thread-safe across decoders.
 */
#ifndef MAIL_DECODE_H
#define MAIL_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum mime_encoding {
	MIME_ENC_7BIT, /* also the default when absent */
	MIME_ENC_8BIT,
	MIME_ENC_BINARY,
	MIME_ENC_BASE64,
	MIME_ENC_QP,
	MIME_ENC_UUENCODE, /* x-uuencode / uuencode / x-uue, and uu blocks */
	MIME_ENC_UNKNOWN,  /* an unknown token: passed through as is */
};

/*
 * What the decoders make of what real mail contains (as Thunderbird and
 * Python's email package show it to the recipient, where they agree):
 * - base64: CR, LF, SP and HTAB are skipped; other bytes outside the
 *   alphabet are skipped too (B64_GARBAGE); decoding goes on after '='
 *   padding (B64_PADDING: concatenated blocks; Thunderbird goes on,
 *   Python 3.11 stops); a partial quartet at the end yields the whole
 *   bytes it holds (B64_TRUNCATED).
 * - quoted-printable: "=XX" in either case; '=' before LF or CRLF is a
 *   soft break, and so is '=' at the very end of the input; a bad escape
 *   is literal (QP_BAD_ESCAPE; "==" is one '=', as in Python).  Trailing
 *   blanks are kept and "= " before a line break is literal, as both
 *   clients do (RFC 2045 would delete them).  Line breaks stay as they
 *   are.
 * - uuencode: body lines; "begin " lines are skipped, an "end" line ends
 *   the data (later lines are ignored until another "begin ").  A line
 *   cut short has its last group completed with zeros (stripped trailing
 *   blanks) and UU_BAD_LINE set.  decoder_finish() sets UU_NO_END when no
 *   "end" line was fed.
 * - 7bit, 8bit, binary, unknown: copied.
 */

/* Defects found while decoding (struct decoder.defects). */
enum decode_defect {
	DECODE_D_B64_GARBAGE = 1u << 0,	  /* bytes outside the alphabet */
	DECODE_D_B64_PADDING = 1u << 1,	  /* '=' misplaced, data after it */
	DECODE_D_B64_TRUNCATED = 1u << 2, /* a partial quartet at the end */
	DECODE_D_QP_BAD_ESCAPE = 1u << 3, /* '=' not followed by 2 hex */
	DECODE_D_QP_LONG_LINE = 1u << 4,  /* encoded line > 76 octets */
	DECODE_D_QP_8BIT = 1u << 5,	  /* raw byte >= 0x80 */
	DECODE_D_UU_BAD_LINE = 1u << 6,	  /* length char and data disagree */
	DECODE_D_UU_NO_END = 1u << 7,	  /* no "end" line */
};

/* Map a Content-Transfer-Encoding value (any case, surrounding spaces
 * and comments already removed) to the enum. */
enum mime_encoding decode_encoding_from_name(struct pst_str name);
const char *decode_encoding_name(enum mime_encoding enc);

struct decoder {
	enum mime_encoding enc;
	unsigned defects; /* enum decode_defect */
	uint64_t in_total, out_total;
	/* private state */
	uint32_t acc;
	unsigned nacc;
	unsigned state;
	unsigned line_len;
	unsigned char pend[4];
	unsigned npend;
};

void decoder_init(struct decoder *d, enum mime_encoding enc);

/* Most bytes decoder_feed() may write for len bytes of input. */
static inline size_t
decoder_max_out(size_t len)
{
	return len + 8;
}

/* Decode in[0..len) into out (room for decoder_max_out(len) bytes);
 * returns the number of bytes written.  For 7bit/8bit/binary/unknown the
 * input is copied. */
size_t decoder_feed(struct decoder *d, const unsigned char *in, size_t len,
		    unsigned char *out);
/* End of input: flush what is pending (a final QP escape, a partial
 * base64 quartet, as far as it decodes) into out (room for 8 bytes);
 * returns bytes written and records truncation defects. */
size_t decoder_finish(struct decoder *d, unsigned char *out);

#endif
