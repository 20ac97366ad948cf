/*
 * smtp_data.c - decode the message bytes of DATA and BDAT (see
 * smtp_data.h), the place where SMTP smuggling is stopped.
 *
 * The input is scanned once.  Bytes that pass through unchanged (ordinary
 * text and CRLF line ends) are collected into a span of the input and
 * appended with one pst_buf_append() when something has to be changed
 * (a stuffing dot removed, a bare CR dropped, a bare LF widened to CRLF)
 * or the chunk ends, so a clean 100 MB message costs one append per chunk
 * and one table lookup per byte.
 *
 * End of data is recognised only as CRLF "." CRLF, where the first CRLF is
 * the previous line's end (or the 354 reply's, for the very first line).
 * Because the output holds only CRLF line ends, no bare CR and no
 * stuffing, re-stuffing it for an upstream can never produce an early
 * end-of-data: whatever the client sent, the upstream reads the same
 * message that we parsed.
 *
 * The caller owns the decoder and the output buffer; no allocation here;
 * decoders are independent (thread-safe across decoders).
 */
#include "config.h"

#include <string.h>

#include "smtp_data.h"

/* Byte classes: the defect flag a byte sets, or STOP for CR and LF, which
 * end a run of bytes that can be copied as they are. */
#define CLASS_STOP 0x80u

static const unsigned char byte_class[256] = {
	[0] = SMTP_DATA_F_NUL,
	['\r'] = CLASS_STOP,
	['\n'] = CLASS_STOP,
	[0x80 ... 0xff] = SMTP_DATA_F_8BIT, /* GNU C range designator */
};

/* dot_state values (DOT mode) */
enum {
	DOT_NONE = 0, /* the line did not begin with '.', or has more */
	DOT_ONLY = 1, /* the line is "." so far (its dot already dropped) */
};

void
smtp_data_init(struct smtp_data *d, enum smtp_data_mode mode, size_t max_line)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->max_line = max_line;
	d->bol = true;
	/* The 354 reply (or BDAT command) ended in CRLF, so a first line of
	 * "." ends an empty message. */
	d->bol_after_crlf = true;
}

/* Longest line, CRLF not counted; 0 means no limit. */
static inline size_t
line_limit(const struct smtp_data *d)
{
	if (d->max_line == 0)
		return SIZE_MAX;
	return d->max_line > 2 ? d->max_line - 2 : 0;
}

static inline void
add_line_octets(struct smtp_data *d, size_t n)
{
	d->line_len += n;
	if (d->line_len > line_limit(d))
		d->defects |= SMTP_DATA_F_LONG_LINE;
}

static inline int
emit(struct smtp_data *d, struct pst_buf *out, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (out != NULL && pst_buf_append(out, p, n) < 0)
		return -1;
	d->out_len += n;
	return 0;
}

/* A CR that turned out not to start a CRLF: it is dropped, but it was an
 * octet of the line, and the line no longer is a lone ".". */
static inline void
bare_cr(struct smtp_data *d)
{
	d->defects |= SMTP_DATA_F_BARE_CR;
	d->pending_cr = false;
	d->bol = false;
	d->dot_state = DOT_NONE;
	add_line_octets(d, 1);
}

static inline void
line_end(struct smtp_data *d, bool crlf)
{
	d->bol = true;
	d->bol_after_crlf = crlf;
	d->line_len = 0;
	d->dot_state = DOT_NONE;
}

/* Is the CRLF that just ended the current line the end of data? */
static inline bool
is_end(const struct smtp_data *d)
{
	return d->mode == SMTP_DATA_DOT && d->dot_state == DOT_ONLY &&
	       d->bol_after_crlf;
}

/* The decoding loop; returns bytes consumed or (size_t)-1. */
static size_t
decode(struct smtp_data *d, const char *in, size_t len, struct pst_buf *out)
{
	static const char crlf[2] = { '\r', '\n' };
	size_t i = 0;
	size_t span = 0; /* in[span..i) is still to be copied to out */

	while (i < len) {
		if (d->pending_cr) {
			/* The CR was the last byte of an earlier chunk and
			 * has not been copied: settle it now. */
			if (in[i] == '\n') {
				d->pending_cr = false;
				i++;
				if (is_end(d)) {
					d->done = true;
					return i;
				}
				if (emit(d, out, crlf, 2) < 0)
					return (size_t)-1;
				line_end(d, true);
				span = i;
				continue;
			}
			bare_cr(d);
		}
		if (d->bol) {
			d->bol = false;
			d->line_len = 0;
			d->dot_state = DOT_NONE;
			if (d->mode == SMTP_DATA_DOT && in[i] == '.') {
				/* Stuffing dot, or the start of ".CRLF":
				 * dropped either way. */
				if (emit(d, out, in + span, i - span) < 0)
					return (size_t)-1;
				d->dot_state = DOT_ONLY;
				span = ++i;
				continue;
			}
		}

		/* A run of bytes that are copied as they are. */
		size_t j = i;
		unsigned flags = 0;

		while (j < len) {
			unsigned c = byte_class[(unsigned char)in[j]];

			if (c & CLASS_STOP)
				break;
			flags |= c;
			j++;
		}
		if (j > i) {
			d->defects |= flags;
			d->dot_state = DOT_NONE;
			add_line_octets(d, j - i);
			i = j;
		}
		if (i == len)
			break;

		if (in[i] == '\n') {
			/* Bare LF: a line end, written as CRLF. */
			d->defects |= SMTP_DATA_F_BARE_LF;
			if (emit(d, out, in + span, i - span) < 0 ||
			    emit(d, out, crlf, 2) < 0)
				return (size_t)-1;
			span = ++i;
			line_end(d, false);
			continue;
		}

		/* CR */
		if (i + 1 == len) {
			/* Decide when the next byte comes. */
			if (emit(d, out, in + span, i - span) < 0)
				return (size_t)-1;
			d->pending_cr = true;
			span = ++i;
			continue;
		}
		if (in[i + 1] == '\n') {
			if (is_end(d)) {
				/* The line is only the dropped dot, so
				 * in[span..i) is empty: nothing to copy. */
				if (emit(d, out, in + span, i - span) < 0)
					return (size_t)-1;
				d->done = true;
				return i + 2;
			}
			i += 2; /* CRLF stays in the span */
			line_end(d, true);
			continue;
		}
		/* Bare CR: drop it; the next byte is part of the same line. */
		if (emit(d, out, in + span, i - span) < 0)
			return (size_t)-1;
		span = ++i;
		bare_cr(d);
	}
	if (emit(d, out, in + span, len - span) < 0)
		return (size_t)-1;
	return len;
}

size_t
smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
	       struct pst_buf *out, bool *done_r)
{
	struct smtp_data saved;
	size_t saved_len = out != NULL ? out->len : 0;
	size_t n;

	if (d->done) {
		if (done_r != NULL)
			*done_r = true;
		return 0;
	}
	saved = *d;
	n = decode(d, in, len, out);
	if (n == (size_t)-1) {
		/* Leave decoder and buffer as they were, so that the caller
		 * may feed the same bytes again with out == NULL to skip
		 * the rest of the refused message. */
		*d = saved;
		if (out != NULL && out->data != NULL) {
			out->len = saved_len;
			out->data[saved_len] = '\0';
		}
	}
	if (done_r != NULL)
		*done_r = d->done;
	return n;
}

int
smtp_data_finish(struct smtp_data *d, struct pst_buf *out)
{
	if (d->pending_cr)
		bare_cr(d);
	if (!d->bol) {
		if (emit(d, out, "\r\n", 2) < 0)
			return -1;
		line_end(d, true);
	}
	return 0;
}
