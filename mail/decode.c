/*
 * decode.c - streaming Content-Transfer-Encoding decoders (see decode.h).
 *
 * Each decoder is a byte-at-a-time state machine kept in struct decoder,
 * so that a chunk boundary may fall anywhere; around it sits a fast path
 * that handles the common case (whole base64 quartets, runs of plain QP
 * text) straight from the input.  The fast paths only run in the machine's
 * resting state and do exactly what the machine would do, which is why
 * feeding a body whole, in chunks or byte by byte gives the same output
 * and the same defects (the unit tests and the fuzz target check this).
 *
 * Decoding shrinks data; a call writes more than its input only for
 * bytes held back from earlier calls (at most 5: "begin" in uuencode) and
 * for a cut uuencode group completed at a line end (at most 3 bytes):
 * hence decoder_max_out(len) = len + 8.  No allocation; thread-safe
 * across decoders.
 */
#include "config.h"

#include <string.h>

#include "decode.h"

/* ---- base64 (RFC 2045 6.8) ---- */

/* Values 0..63 for the alphabet; B64_PAD for '='; B64_WS for CR, LF, SP
 * and HTAB (skipped silently: line breaks and transport padding);
 * B64_BAD for everything else.  Both markers have a bit in 0xc0, so one
 * test over several looked-up values tells whether all were alphabet. */
#define B64_PAD 0x40
#define B64_WS 0x41
#define B64_BAD 0x80

/* clang-format off */
static const unsigned char b64_value[256] = {
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x41, 0x41, 0x80, 0x80, 0x41, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x3e, 0x80, 0x80, 0x80, 0x3f,
	0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b,
	0x3c, 0x3d, 0x80, 0x80, 0x80, 0x40, 0x80, 0x80,
	0x80, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
	0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
	0x17, 0x18, 0x19, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
	0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
	0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30,
	0x31, 0x32, 0x33, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
};
/* clang-format on */

/* d->state for base64: where we are relative to '=' padding. */
enum {
	B64_NORMAL,    /* between quartets or inside one */
	B64_NEED_PAD,  /* "xx=" seen: a second '=' would complete it */
	B64_AFTER_PAD, /* a quartet was closed by padding */
};

/* One byte through the careful machine: line breaks, garbage, padding,
 * and quartets that straddle any of these or a chunk boundary. */
static size_t
b64_byte(struct decoder *d, unsigned char c, unsigned char *o)
{
	unsigned v = b64_value[c];

	if (v < 64) {
		if (d->state != B64_NORMAL) {
			/* Data after padding: some clients concatenate
			 * encoded blocks; decode on, as Thunderbird and
			 * Python do, but say so. */
			d->defects |= DECODE_D_B64_PADDING;
			d->state = B64_NORMAL;
		}
		d->acc = d->acc << 6 | v;
		if (++d->nacc < 4)
			return 0;
		o[0] = (unsigned char)(d->acc >> 16);
		o[1] = (unsigned char)(d->acc >> 8);
		o[2] = (unsigned char)d->acc;
		d->acc = 0;
		d->nacc = 0;
		return 3;
	}
	if (v == B64_WS)
		return 0;
	if (v == B64_BAD) {
		d->defects |= DECODE_D_B64_GARBAGE;
		return 0;
	}
	/* '=' */
	switch (d->nacc) {
	case 2:
		o[0] = (unsigned char)(d->acc >> 4);
		d->acc = 0;
		d->nacc = 0;
		d->state = B64_NEED_PAD;
		return 1;
	case 3:
		o[0] = (unsigned char)(d->acc >> 10);
		o[1] = (unsigned char)(d->acc >> 2);
		d->acc = 0;
		d->nacc = 0;
		d->state = B64_AFTER_PAD;
		return 2;
	case 1:
		/* "x=": six bits, not a byte; they are lost. */
		d->defects |= DECODE_D_B64_PADDING;
		d->acc = 0;
		d->nacc = 0;
		d->state = B64_AFTER_PAD;
		return 0;
	default:
		if (d->state != B64_NEED_PAD)
			d->defects |= DECODE_D_B64_PADDING; /* stray '=' */
		d->state = B64_AFTER_PAD;
		return 0;
	}
}

/*
 * The fast path: whole quartets of alphabet bytes, eight input bytes at a
 * time while all eight are valid, then four.  It runs only between
 * quartets in the normal state and stops at anything else (a line break,
 * padding, garbage, the end of the chunk), which b64_byte() then takes.
 * With 76-column lines that is two careful steps per 78 bytes.
 */
static size_t
b64_feed(struct decoder *d, const unsigned char *in, size_t len,
	 unsigned char *out)
{
	const unsigned char *const tab = b64_value;
	unsigned char *o = out;
	size_t i = 0;

	while (i < len) {
		if (d->nacc == 0 && d->state == B64_NORMAL) {
			while (len - i >= 8) {
				const unsigned char *p = in + i;
				unsigned a = tab[p[0]], b = tab[p[1]];
				unsigned c = tab[p[2]], e = tab[p[3]];
				unsigned f = tab[p[4]], g = tab[p[5]];
				unsigned h = tab[p[6]], k = tab[p[7]];
				uint64_t v;

				if ((a | b | c | e | f | g | h | k) & 0xc0)
					break;
				v = (uint64_t)a << 42 | (uint64_t)b << 36 |
				    (uint64_t)c << 30 | (uint64_t)e << 24 |
				    (uint64_t)f << 18 | (uint64_t)g << 12 |
				    (uint64_t)h << 6 | (uint64_t)k;
				o[0] = (unsigned char)(v >> 40);
				o[1] = (unsigned char)(v >> 32);
				o[2] = (unsigned char)(v >> 24);
				o[3] = (unsigned char)(v >> 16);
				o[4] = (unsigned char)(v >> 8);
				o[5] = (unsigned char)v;
				o += 6;
				i += 8;
			}
			if (len - i >= 4) {
				const unsigned char *p = in + i;
				unsigned a = tab[p[0]], b = tab[p[1]];
				unsigned c = tab[p[2]], e = tab[p[3]];
				uint32_t v;

				if (!((a | b | c | e) & 0xc0)) {
					v = a << 18 | b << 12 | c << 6 | e;
					o[0] = (unsigned char)(v >> 16);
					o[1] = (unsigned char)(v >> 8);
					o[2] = (unsigned char)v;
					o += 3;
					i += 4;
					continue;
				}
			}
			if (i == len)
				break;
		}
		o += b64_byte(d, in[i++], o);
	}
	return (size_t)(o - out);
}

static size_t
b64_finish(struct decoder *d, unsigned char *o)
{
	size_t n = 0;

	switch (d->nacc) {
	case 3:
		o[n++] = (unsigned char)(d->acc >> 10);
		o[n++] = (unsigned char)(d->acc >> 2);
		break;
	case 2:
		o[n++] = (unsigned char)(d->acc >> 4);
		break;
	default:
		break;
	}
	if (d->nacc != 0 || d->state == B64_NEED_PAD)
		d->defects |= DECODE_D_B64_TRUNCATED;
	d->acc = 0;
	d->nacc = 0;
	d->state = B64_NORMAL;
	return n;
}

/* ---- quoted-printable (RFC 2045 6.7) ---- */

/*
 * Decoded as the clients decode it, which is not quite RFC 2045: rule 3
 * says trailing blanks on a line "must be deleted" and "=" followed by
 * blanks and a line break is a padded soft break, but Thunderbird and
 * Python's email package both keep trailing blanks and read "= " as a
 * literal '='.  What a rule scans (and the SHA-256 of a QP attachment)
 * must be what the recipient gets, so we keep them too.  Bad escapes are
 * literal, as in both; "==" is one literal '=' as in Python.
 */

#define QP_LINE_MAX 76

/* d->state for QP. */
enum {
	QP_TEXT,   /* ordinary text */
	QP_EQ,	   /* '=' seen */
	QP_EQ_HEX, /* '=' and one hex digit (in d->pend[0]) */
	QP_EQ_CR,  /* "=" CR: a soft break if LF follows */
};

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20; /* lower case accepted too, as clients do */
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Count encoded line length (line breaks excluded); it saturates at the
 * limit, where the defect is set. */
static void
qp_count(struct decoder *d, size_t n)
{
	if (n > QP_LINE_MAX - (size_t)d->line_len) {
		d->defects |= DECODE_D_QP_LONG_LINE;
		d->line_len = QP_LINE_MAX;
	} else {
		d->line_len += (unsigned)n;
	}
}

static size_t
qp_byte(struct decoder *d, unsigned char c, unsigned char *o)
{
	size_t n = 0;
	int lo;

	if (c == '\n')
		d->line_len = 0;
	else if (c != '\r')
		qp_count(d, 1);
again:
	switch (d->state) {
	case QP_TEXT:
		if (c == '=') {
			d->state = QP_EQ;
			return n;
		}
		if (c >= 0x80)
			d->defects |= DECODE_D_QP_8BIT;
		o[n++] = c;
		return n;
	case QP_EQ:
		if (hex_value(c) >= 0) {
			d->pend[0] = c;
			d->state = QP_EQ_HEX;
			return n;
		}
		if (c == '\n') { /* soft line break */
			d->state = QP_TEXT;
			return n;
		}
		if (c == '\r') {
			d->state = QP_EQ_CR;
			return n;
		}
		/* '=' and something else: the '=' is literal. */
		d->defects |= DECODE_D_QP_BAD_ESCAPE;
		o[n++] = '=';
		d->state = QP_TEXT;
		if (c == '=')
			return n; /* "==" is one '=' */
		goto again;
	case QP_EQ_HEX:
		lo = hex_value(c);
		if (lo >= 0) {
			o[n++] = (unsigned char)(hex_value(d->pend[0]) << 4 |
						 lo);
			d->state = QP_TEXT;
			return n;
		}
		d->defects |= DECODE_D_QP_BAD_ESCAPE;
		o[n++] = '=';
		o[n++] = d->pend[0];
		d->state = QP_TEXT;
		goto again;
	case QP_EQ_CR:
	default:
		d->state = QP_TEXT;
		if (c == '\n')
			return n; /* soft line break */
		d->defects |= DECODE_D_QP_BAD_ESCAPE;
		o[n++] = '=';
		o[n++] = '\r';
		goto again;
	}
}

/* In the resting state, decode what needs no state straight from the
 * input: a run of text, a whole "=XX", a whole soft break, a line break.
 * Returns the bytes of input used (0: let qp_byte() take the next one). */
static size_t
qp_fast(struct decoder *d, const unsigned char *in, size_t len,
	unsigned char **o_p)
{
	unsigned char *o = *o_p, c = 0;
	unsigned high = 0;
	size_t i = 0;
	int hi, lo;

	for (;;) {
		size_t j = i;

		while (j < len && (c = in[j]) != '=' && c != '\n' &&
		       c != '\r') {
			high |= c;
			j++;
		}
		if (j > i) {
			memcpy(o, in + i, j - i);
			o += j - i;
			qp_count(d, j - i);
			i = j;
		}
		if (i == len)
			break;
		if (c == '\n') {
			*o++ = c;
			d->line_len = 0;
			i++;
		} else if (c == '\r') {
			*o++ = c;
			i++;
		} else if (len - i >= 3 && (hi = hex_value(in[i + 1])) >= 0 &&
			   (lo = hex_value(in[i + 2])) >= 0) {
			*o++ = (unsigned char)(hi << 4 | lo);
			qp_count(d, 3);
			i += 3;
		} else if (len - i >= 2 && in[i + 1] == '\n') {
			qp_count(d, 1);
			d->line_len = 0;
			i += 2;
		} else if (len - i >= 3 && in[i + 1] == '\r' &&
			   in[i + 2] == '\n') {
			qp_count(d, 1);
			d->line_len = 0;
			i += 3;
		} else {
			break;
		}
	}
	if (high & 0x80)
		d->defects |= DECODE_D_QP_8BIT;
	*o_p = o;
	return i;
}

static size_t
qp_feed(struct decoder *d, const unsigned char *in, size_t len,
	unsigned char *out)
{
	unsigned char *o = out;
	size_t i = 0;

	while (i < len) {
		if (d->state == QP_TEXT) {
			i += qp_fast(d, in + i, len - i, &o);
			if (i == len)
				break;
		}
		o += qp_byte(d, in[i++], o);
	}
	return (size_t)(o - out);
}

static size_t
qp_finish(struct decoder *d, unsigned char *o)
{
	size_t n = 0;

	/* "=" or "=" CR at the very end is a soft break: a body that ends
	 * without a line break (the CRLF before a boundary belongs to the
	 * boundary).  Python and Thunderbird drop it too. */
	if (d->state == QP_EQ_HEX) {
		d->defects |= DECODE_D_QP_BAD_ESCAPE;
		o[n++] = '=';
		o[n++] = d->pend[0];
	}
	d->state = QP_TEXT;
	d->line_len = 0;
	return n;
}

static bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* ---- uuencode ---- */

/* d->state for uuencode: the low bits are where we are in a line. */
enum {
	UU_LINE_START, /* nothing of this line seen yet */
	UU_KEYWORD,    /* matching "begin " or "end" (d->pend[0] says
			* which, d->nacc how far) */
	UU_END_CHECK,  /* "end" seen: is the line only that? */
	UU_DATA,       /* in a data line: d->line_len bytes declared,
			* d->npend written, d->nacc characters of the
			* current group in d->acc */
	UU_SKIP,       /* ignoring the rest of the line */
};
#define UU_STATE_MASK 0xffu
/* An "end" line was seen (and no "begin" since): lines are ignored. */
#define UU_ENDED 0x100u

static const char uu_begin[] = "begin ";
static const char uu_end[] = "end";

static void
uu_set(struct decoder *d, unsigned st)
{
	d->state = (d->state & ~UU_STATE_MASK) | st;
}

static bool
uu_line_break(unsigned char c)
{
	return c == '\n' || c == '\r';
}

static void
uu_line_start(struct decoder *d, unsigned char c)
{
	if (c < 0x20 || c > 0x60)
		d->defects |= DECODE_D_UU_BAD_LINE;
	d->line_len = (unsigned)(c - 0x20) & 63;
	d->npend = 0;
	d->acc = 0;
	d->nacc = 0;
	uu_set(d, UU_DATA);
}

static size_t
uu_emit_group(struct decoder *d, unsigned char *o)
{
	size_t n = 0;

	for (unsigned k = 0; k < 3 && d->npend < d->line_len; k++) {
		o[n++] = (unsigned char)(d->acc >> (16 - 8 * k));
		d->npend++;
	}
	d->acc = 0;
	d->nacc = 0;
	return n;
}

static size_t
uu_data_char(struct decoder *d, unsigned char c, unsigned char *o)
{
	if (d->npend >= d->line_len && d->nacc == 0) {
		/* Past what the length character asked for: padding
		 * ('`' or blanks) is fine, anything else is not. */
		if (c != ' ' && c != '`' && c != '\t')
			d->defects |= DECODE_D_UU_BAD_LINE;
		return 0;
	}
	if (c < 0x20 || c > 0x60)
		d->defects |= DECODE_D_UU_BAD_LINE;
	d->acc = d->acc << 6 | ((unsigned)(c - 0x20) & 63);
	if (++d->nacc < 4)
		return 0;
	return uu_emit_group(d, o);
}

/* A data line ends.  A cut group is completed with zero bits: MTAs strip
 * trailing blanks, and a blank is uuencode's zero. */
static size_t
uu_data_end(struct decoder *d, unsigned char *o)
{
	size_t n = 0;

	if (d->nacc > 0) {
		d->acc <<= 6 * (4 - d->nacc);
		n = uu_emit_group(d, o);
		d->defects |= DECODE_D_UU_BAD_LINE;
	}
	if (d->npend < d->line_len)
		d->defects |= DECODE_D_UU_BAD_LINE;
	uu_set(d, UU_LINE_START);
	return n;
}

/* A line began like a keyword but is not one: its first bytes were data
 * after all (or, after "end", part of an ignored line).  They are known,
 * so they are replayed from the keyword itself; c is the byte that broke
 * the match, or -1 at the end of input. */
static size_t
uu_replay(struct decoder *d, const char *kw, unsigned matched, int c,
	  unsigned char *o)
{
	size_t n = 0;

	if (d->state & UU_ENDED) {
		uu_set(d, c >= 0 && !uu_line_break((unsigned char)c)
				  ? UU_SKIP
				  : UU_LINE_START);
		return 0;
	}
	uu_line_start(d, (unsigned char)kw[0]);
	for (unsigned k = 1; k < matched; k++)
		n += uu_data_char(d, (unsigned char)kw[k], o + n);
	if (c < 0 || uu_line_break((unsigned char)c))
		n += uu_data_end(d, o + n);
	else
		n += uu_data_char(d, (unsigned char)c, o + n);
	return n;
}

static size_t
uu_byte(struct decoder *d, unsigned char c, unsigned char *o)
{
	const char *kw;

	switch (d->state & UU_STATE_MASK) {
	case UU_LINE_START:
		if (uu_line_break(c))
			return 0; /* empty line (or the LF of CRLF) */
		if (c == 'b' || c == 'e') {
			d->pend[0] = c;
			d->nacc = 1;
			uu_set(d, UU_KEYWORD);
			return 0;
		}
		if (d->state & UU_ENDED) {
			uu_set(d, UU_SKIP);
			return 0;
		}
		uu_line_start(d, c);
		return 0;
	case UU_KEYWORD:
		kw = d->pend[0] == 'b' ? uu_begin : uu_end;
		if (c != (unsigned char)kw[d->nacc])
			return uu_replay(d, kw, d->nacc, c, o);
		if (kw[++d->nacc] != '\0')
			return 0;
		if (kw == uu_begin) {
			d->state &= ~UU_ENDED;
			uu_set(d, UU_SKIP);
		} else {
			uu_set(d, UU_END_CHECK);
		}
		d->nacc = 0;
		return 0;
	case UU_END_CHECK:
		if (uu_line_break(c) || is_blank(c)) {
			d->state |= UU_ENDED;
			uu_set(d, c == '\n' ? UU_LINE_START : UU_SKIP);
			return 0;
		}
		return uu_replay(d, uu_end, 3, c, o);
	case UU_DATA:
		if (uu_line_break(c))
			return uu_data_end(d, o);
		return uu_data_char(d, c, o);
	case UU_SKIP:
	default:
		if (uu_line_break(c))
			uu_set(d, UU_LINE_START);
		return 0;
	}
}

static size_t
uu_feed(struct decoder *d, const unsigned char *in, size_t len,
	unsigned char *out)
{
	unsigned char *o = out;

	for (size_t i = 0; i < len; i++)
		o += uu_byte(d, in[i], o);
	return (size_t)(o - out);
}

static size_t
uu_finish(struct decoder *d, unsigned char *o)
{
	size_t n = 0;

	switch (d->state & UU_STATE_MASK) {
	case UU_KEYWORD:
		n = uu_replay(d, d->pend[0] == 'b' ? uu_begin : uu_end, d->nacc,
			      -1, o);
		break;
	case UU_END_CHECK:
		d->state |= UU_ENDED;
		break;
	case UU_DATA:
		n = uu_data_end(d, o);
		break;
	default:
		break;
	}
	if (!(d->state & UU_ENDED))
		d->defects |= DECODE_D_UU_NO_END;
	uu_set(d, UU_LINE_START);
	return n;
}

/* ---- the interface ---- */

static const struct {
	const char *name;
	enum mime_encoding enc;
} encoding_names[] = {
	{ "7bit", MIME_ENC_7BIT },
	{ "8bit", MIME_ENC_8BIT },
	{ "binary", MIME_ENC_BINARY },
	{ "base64", MIME_ENC_BASE64 },
	{ "quoted-printable", MIME_ENC_QP },
	{ "x-uuencode", MIME_ENC_UUENCODE },
	{ "uuencode", MIME_ENC_UUENCODE },
	{ "x-uue", MIME_ENC_UUENCODE },
};

enum mime_encoding
decode_encoding_from_name(struct pst_str name)
{
	for (size_t k = 0; k < sizeof(encoding_names) / sizeof(*encoding_names);
	     k++)
		if (pst_str_caseeq_cstr(name, encoding_names[k].name))
			return encoding_names[k].enc;
	return MIME_ENC_UNKNOWN;
}

const char *
decode_encoding_name(enum mime_encoding enc)
{
	switch (enc) {
	case MIME_ENC_7BIT:
		return "7bit";
	case MIME_ENC_8BIT:
		return "8bit";
	case MIME_ENC_BINARY:
		return "binary";
	case MIME_ENC_BASE64:
		return "base64";
	case MIME_ENC_QP:
		return "quoted-printable";
	case MIME_ENC_UUENCODE:
		return "x-uuencode";
	case MIME_ENC_UNKNOWN:
	default:
		return "unknown";
	}
}

void
decoder_init(struct decoder *d, enum mime_encoding enc)
{
	memset(d, 0, sizeof(*d));
	d->enc = enc;
}

size_t
decoder_feed(struct decoder *d, const unsigned char *in, size_t len,
	     unsigned char *out)
{
	size_t n;

	switch (d->enc) {
	case MIME_ENC_BASE64:
		n = b64_feed(d, in, len, out);
		break;
	case MIME_ENC_QP:
		n = qp_feed(d, in, len, out);
		break;
	case MIME_ENC_UUENCODE:
		n = uu_feed(d, in, len, out);
		break;
	default:
		if (len > 0)
			memcpy(out, in, len);
		n = len;
		break;
	}
	d->in_total += len;
	d->out_total += n;
	return n;
}

size_t
decoder_finish(struct decoder *d, unsigned char *out)
{
	size_t n;

	switch (d->enc) {
	case MIME_ENC_BASE64:
		n = b64_finish(d, out);
		break;
	case MIME_ENC_QP:
		n = qp_finish(d, out);
		break;
	case MIME_ENC_UUENCODE:
		n = uu_finish(d, out);
		break;
	default:
		n = 0;
		break;
	}
	d->out_total += n;
	return n;
}
