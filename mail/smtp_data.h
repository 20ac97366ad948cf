/*
 * smtp_data.h - the message bytes of DATA and BDAT, decoded as a stream.
 *
 * This is where SMTP smuggling is stopped.  DATA ends only at
 * <CRLF>.<CRLF>: a "." line counts only when the line before it ended in
 * CRLF and the dot is followed by CRLF.  A bare LF ends a line and is
 * normalised to CRLF (SMTP_DATA_F_BARE_LF is set so the caller may refuse
 * instead); a bare CR never ends anything and sets SMTP_DATA_F_BARE_CR.
 * The output is unambiguous: CRLF line ends only, no dot-stuffing, no
 * bare CR passed through, so no sequence the client sent can end an
 * upstream's DATA early once it is re-stuffed.
 *
 * Arbitrary chunk boundaries are fine (a CR at the end of one chunk and
 * its LF at the start of the next).  No allocation besides the caller's
 * buffer; one decoder per transaction; thread-safe across decoders.
 */
#ifndef MAIL_SMTP_DATA_H
#define MAIL_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum smtp_data_mode {
	SMTP_DATA_DOT, /* DATA: dot-stuffed, ends at CRLF.CRLF */
	SMTP_DATA_RAW, /* BDAT: chunks of known size, no stuffing */
};

/* Defects found (struct smtp_data.defects); decoding carries on. */
enum smtp_data_flag {
	SMTP_DATA_F_BARE_LF = 1u << 0,	 /* LF without CR (normalised) */
	SMTP_DATA_F_BARE_CR = 1u << 1,	 /* CR without LF (dropped) */
	SMTP_DATA_F_LONG_LINE = 1u << 2, /* a line over max_line octets */
	SMTP_DATA_F_NUL = 1u << 3,	 /* NUL byte */
	SMTP_DATA_F_8BIT = 1u << 4,	 /* byte >= 0x80 */
};

struct smtp_data {
	enum smtp_data_mode mode;
	size_t max_line;  /* octets per line with CRLF (1000 by RFC 5321);
			   * 0: no limit */
	unsigned defects; /* enum smtp_data_flag */
	uint64_t out_len; /* decoded bytes produced so far */
	/* private state */
	size_t line_len;
	bool bol;	     /* at the start of a line */
	bool bol_after_crlf; /* ... and the previous line ended in CRLF */
	bool pending_cr;     /* last byte seen was CR */
	int dot_state;	     /* position in a line that began with '.' */
	bool done;
};

void smtp_data_init(struct smtp_data *d, enum smtp_data_mode mode,
		    size_t max_line);

/*
 * Decode in[0..len), appending the content to out (when out is NULL the
 * content is only checked: used while discarding a refused message).
 * Returns the number of input bytes consumed: in DOT mode it stops right
 * after the terminating ".\r\n" and sets *done_r; everything after that is
 * the client's next command.  In RAW mode it consumes everything.
 * Returns (size_t)-1 if out refused to grow (its limit); decoder and out
 * are then as before the call, so the same bytes may be fed again with
 * out == NULL to skip the rest of the message up to its end.
 */
size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
		      struct pst_buf *out, bool *done_r);

/* RAW mode, after the LAST chunk: settle a pending CR and end the content
 * with CRLF if it does not already.  0 or -1 (out's limit). */
int smtp_data_finish(struct smtp_data *d, struct pst_buf *out);

#endif
