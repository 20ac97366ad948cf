/*
 * fuzz_decode.c - libFuzzer target for the transfer-encoding decoders and
 * the charset converters.
 *
 * Input: byte 0 picks the encoding (low 3 bits) and the charset (the
 * rest); bytes 1..4 are chunk sizes; the rest is the body.  Beyond "no
 * crash", it checks what the MIME parser relies on: the body fed in
 * chunks decodes to exactly what it decodes to whole, with the same
 * defects; no call writes past decoder_max_out() (each output buffer is
 * allocated at exactly that size, so ASan sees any overrun); defect bits
 * belong to the encoding in use; the totals add up.  The decoded bytes
 * then go through a charset converter, whole and in the same chunks:
 * same UTF-8, same defects, and the output is well-formed UTF-8.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "decode.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD 5

static const enum mime_encoding encodings[8] = {
	MIME_ENC_BASE64, MIME_ENC_QP,	MIME_ENC_UUENCODE, MIME_ENC_BASE64,
	MIME_ENC_QP,	 MIME_ENC_7BIT, MIME_ENC_BINARY,   MIME_ENC_UNKNOWN,
};

static const char *const charsets[] = {
	"utf-8",	 "us-ascii",	"latin1",      "windows-1252",
	"shift_jis",	 "iso-2022-jp", "gb2312",      "utf-7",
	"euc-kr",	 "utf-16",	"x-unknown",   "big5",
	"koi8-r",	 "utf-16le",	"euc-jp",      "iso-8859-8-i",
	"iso-2022-kr",	 "hz-gb-2312",	"iso-2022-cn", "utf-32",
	"iso-2022-jp-2", "gb18030",	"big5-hkscs",  "iso-2022-cn-ext",
	"utf-32be",	 "iso-8859-2",	"viscii",      "cp1255",
	"iso-2022-jp-3", "cp1258",	"ibm866",      "utf-16be",
};

struct out {
	unsigned char *p;
	size_t len;
};

static void
append(struct out *o, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	o->p = realloc(o->p, o->len + n);
	if (o->p == NULL)
		abort();
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

static size_t
chunk_size(const uint8_t *sizes, size_t k)
{
	return 1 + sizes[k % 4] % 97;
}

/* Decode body in chunks (sizes == NULL: whole). */
static unsigned
decode(enum mime_encoding enc, const uint8_t *body, size_t len,
       const uint8_t *sizes, struct out *o)
{
	struct decoder d;
	unsigned char tail[8];
	size_t pos = 0, k = 0;

	decoder_init(&d, enc);
	while (pos < len) {
		size_t n = sizes ? chunk_size(sizes, k++) : len - pos;
		unsigned char *buf;
		size_t w;

		if (n > len - pos)
			n = len - pos;
		buf = malloc(decoder_max_out(n));
		if (buf == NULL)
			abort();
		w = decoder_feed(&d, body + pos, n, buf);
		if (w > decoder_max_out(n))
			abort();
		append(o, buf, w);
		free(buf);
		pos += n;
	}
	append(o, tail, decoder_finish(&d, tail));
	if (d.in_total != len || d.out_total != o->len)
		abort();
	return d.defects;
}

static void
check_defects(enum mime_encoding enc, unsigned defects)
{
	unsigned allowed = 0;

	if (enc == MIME_ENC_BASE64)
		allowed = DECODE_D_B64_GARBAGE | DECODE_D_B64_PADDING |
			  DECODE_D_B64_TRUNCATED;
	else if (enc == MIME_ENC_QP)
		allowed = DECODE_D_QP_BAD_ESCAPE | DECODE_D_QP_LONG_LINE |
			  DECODE_D_QP_8BIT;
	else if (enc == MIME_ENC_UUENCODE)
		allowed = DECODE_D_UU_BAD_LINE | DECODE_D_UU_NO_END;
	if (defects & ~allowed)
		abort();
}

static void
check_utf8(const struct pst_buf *b)
{
	const unsigned char *s = (const unsigned char *)b->data;

	for (size_t i = 0; i < b->len;) {
		size_t n;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = pst_utf8_seq_len(s + i, b->len - i);
		if (n == 0)
			abort();
		i += n;
	}
}

static unsigned
convert(const char *charset, const unsigned char *in, size_t len,
	const uint8_t *sizes, struct pst_buf *out)
{
	struct charset_conv *conv = charset_conv_new(charset);
	size_t pos = 0, k = 0;
	unsigned defects;

	if (conv == NULL)
		abort();
	while (pos < len) {
		size_t n = sizes ? chunk_size(sizes, k++) : len - pos;

		if (n > len - pos)
			n = len - pos;
		if (charset_conv_feed(conv, (const char *)in + pos, n, out) < 0)
			abort();
		pos += n;
	}
	if (charset_conv_finish(conv, out) < 0)
		abort();
	defects = charset_conv_defects(conv);
	charset_conv_free(&conv);
	if (conv != NULL)
		abort();
	return defects;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct out whole = { NULL, 0 }, chunked = { NULL, 0 };
	struct pst_buf u1, u2;
	enum mime_encoding enc;
	const char *charset;
	const uint8_t *sizes, *body;
	unsigned dw, dc;
	size_t len;

	if (size < HEAD)
		return 0;
	enc = encodings[data[0] & 7];
	charset = charsets[(data[0] >> 3) %
			   (sizeof(charsets) / sizeof(*charsets))];
	sizes = data + 1;
	body = data + HEAD;
	len = size - HEAD;

	dw = decode(enc, body, len, NULL, &whole);
	dc = decode(enc, body, len, sizes, &chunked);
	if (dw != dc || whole.len != chunked.len ||
	    (whole.len > 0 && memcmp(whole.p, chunked.p, whole.len) != 0))
		abort();
	check_defects(enc, dw);
	/* Decoding never grows the data, but for a cut uuencode group. */
	if (enc != MIME_ENC_UUENCODE && whole.len > len)
		abort();

	pst_buf_init(&u1, 0);
	pst_buf_init(&u2, 0);
	dw = convert(charset, whole.p, whole.len, NULL, &u1);
	dc = convert(charset, whole.p, whole.len, sizes, &u2);
	if (dw != dc || !pst_str_eq(pst_buf_view(&u1), pst_buf_view(&u2)))
		abort();
	if (dw & ~(unsigned)(CHARSET_D_UNKNOWN | CHARSET_D_INVALID))
		abort();
	check_utf8(&u1);
	pst_buf_free(&u1);
	pst_buf_free(&u2);
	free(whole.p);
	free(chunked.p);
	return 0;
}
