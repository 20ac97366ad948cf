/*
 * test_decode.c - the transfer-encoding decoders as the MIME parser and
 * the attachment rules see them.
 *
 * One table row per input: the decoded bytes and the defect bits.  Every
 * row is decoded whole, byte by byte, split in two at every position and
 * in pseudo-random chunks: all must give the same bytes and defects, and
 * no call may write past decoder_max_out().  Then encoding names, the
 * running totals, and long round trips against encoders written here.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define B64 MIME_ENC_BASE64
#define QP MIME_ENC_QP
#define UU MIME_ENC_UUENCODE

#define GARB DECODE_D_B64_GARBAGE
#define PAD DECODE_D_B64_PADDING
#define TRUNC DECODE_D_B64_TRUNCATED
#define BADESC DECODE_D_QP_BAD_ESCAPE
#define LONG DECODE_D_QP_LONG_LINE
#define BIT8 DECODE_D_QP_8BIT
#define BADLINE DECODE_D_UU_BAD_LINE
#define NOEND DECODE_D_UU_NO_END

struct decode_case {
	const char *name;
	enum mime_encoding enc;
	const char *in;
	size_t in_len; /* 0: strlen(in) */
	const char *want;
	size_t want_len; /* 0: strlen(want) */
	unsigned defects;
};

#define C(n, e, i, w, d)                                                       \
	{                                                                      \
		n, e, i, 0, w, 0, d                                            \
	}
#define CL(n, e, i, il, w, wl, d)                                              \
	{                                                                      \
		n, e, i, il, w, wl, d                                          \
	}

#define X10 "xxxxxxxxxx"
#define X76 X10 X10 X10 X10 X10 X10 X10 "xxxxxx"

#define UU_LINE1                                                               \
	"M5&AE(\'%U:6-K(&)R;W=N(&9O>\"!J=6UP<R!O=F5R(\'1H92!L87IY(&1O9RP@"
#define UU_TEXT "The quick brown fox jumps over the lazy dog, 0123456789"

static const struct decode_case cases[] = {
	/* base64: RFC 4648 section 10 */
	C("b64 empty", B64, "", "", 0),
	C("b64 f", B64, "Zg==", "f", 0),
	C("b64 fo", B64, "Zm8=", "fo", 0),
	C("b64 foo", B64, "Zm9v", "foo", 0),
	C("b64 foob", B64, "Zm9vYg==", "foob", 0),
	C("b64 fooba", B64, "Zm9vYmE=", "fooba", 0),
	C("b64 foobar", B64, "Zm9vYmFy", "foobar", 0),
	C("b64 Man", B64, "TWFu", "Man", 0),
	C("b64 CRLF lines", B64, "Zm9v\r\nYmFy\r\n", "foobar", 0),
	C("b64 LF lines", B64, "Zm9v\nYmFy\n", "foobar", 0),
	C("b64 blanks inside quartets", B64, "Zm 9v\tYm\r\nF y", "foobar", 0),
	C("b64 whitespace only", B64, "\r\n \t\r\n", "", 0),
	C("b64 padding then line breaks", B64, "Zg==\r\n\r\n", "f", 0),
	C("b64 nonzero trailing bits", B64, "Zh==", "f", 0),
	C("b64 garbage byte", B64, "Zm9v!YmFy", "foobar", GARB),
	C("b64 8-bit garbage", B64, "Zm9v\377Ym\200Fy", "foobar", GARB),
	C("b64 form feed is garbage", B64, "Zm9v\fYmFy", "foobar", GARB),
	C("b64 only garbage", B64, "!!!-", "", GARB),
	CL("b64 NUL is garbage", B64, "Zm9v\0YmFy", 9, "foobar", 6, GARB),
	C("b64 data after padding", B64, "Zg==Zm8=", "ffo", PAD),
	C("b64 concatenated blocks", B64, "Zm8=\r\nYmFy\r\n", "fobar", PAD),
	C("b64 one pad then data", B64, "Zg=Zm9v", "ffoo", PAD),
	C("b64 extra padding", B64, "Zg===", "f", PAD),
	C("b64 stray pad first", B64, "=Zm9v", "foo", PAD),
	C("b64 pad after one char", B64, "Z=", "", PAD),
	C("b64 truncated 1", B64, "Zm9vY", "foo", TRUNC),
	C("b64 truncated 2", B64, "Zm9vYm", "foob", TRUNC),
	C("b64 truncated 3", B64, "Zm9vYmF", "fooba", TRUNC),
	C("b64 second pad missing", B64, "Zg=", "f", TRUNC),
	C("b64 all defects", B64, "Zg==!Zm9vY", "ffoo", GARB | PAD | TRUNC),
	C("b64 76-column lines", B64,
	  "VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZyBhbmQg"
	  "dGhlbiBzb21l\r\nIG1vcmUgdGV4dCB0byBmaWxsIHR3byBsaW5lcy4=\r\n",
	  "The quick brown fox jumps over the lazy dog and then some more "
	  "text to fill two lines.",
	  0),
	CL("b64 all byte values 0-5", B64, "AAECAwQF", 0, "\0\1\2\3\4\5", 6, 0),
	CL("b64 high bytes", B64, "/+/+", 0, "\xff\xef\xfe", 3, 0),

	/* quoted-printable */
	C("qp RFC 2045 soft breaks", QP,
	  "Now's the time =\r\nfor all folk to come=\r\n to the aid of "
	  "their country.",
	  "Now's the time for all folk to come to the aid of their country.",
	  0),
	C("qp =3D", QP, "a=3Db", "a=b", 0),
	C("qp lower-case hex", QP, "a=3db=c3=a9", "a=b\xc3\xa9", 0),
	C("qp UTF-8 escapes", QP, "caf=C3=A9", "caf\xc3\xa9", 0),
	C("qp soft break LF", QP, "ab=\ncd", "abcd", 0),
	C("qp padded soft break is literal", QP, "ab= \t\r\ncd", "ab= \t\r\ncd",
	  BADESC),
	C("qp padded soft break LF", QP, "ab=  \ncd", "ab=  \ncd", BADESC),
	C("qp trailing blanks kept CRLF", QP, "ab  \r\ncd", "ab  \r\ncd", 0),
	C("qp trailing blanks kept LF", QP, "ab \t\ncd", "ab \t\ncd", 0),
	C("qp inner blanks kept", QP, "a b\tc  d\r\n", "a b\tc  d\r\n", 0),
	C("qp trailing blanks at end", QP, "ab  ", "ab  ", 0),
	C("qp blanks before escape", QP, "a  =41\r\n", "a  A\r\n", 0),
	C("qp =20 kept at line end", QP, "a=20\r\nb", "a \r\nb", 0),
	C("qp escape then blanks", QP, "=41 \r\n", "A \r\n", 0),
	C("qp long blank run kept", QP, "ab        \r\nc", "ab        \r\nc",
	  0),
	C("qp soft break after blanks", QP, "ab  =\r\nc", "ab  c", 0),
	C("qp CRLF kept", QP, "a\r\nb\r\n", "a\r\nb\r\n", 0),
	C("qp LF kept", QP, "a\nb\n", "a\nb\n", 0),
	C("qp bare CR is text", QP, "a \rb", "a \rb", 0),
	C("qp CR at the end", QP, "a \r", "a \r", 0),
	C("qp CR CR LF", QP, "a\r\r\nb", "a\r\r\nb", 0),
	CL("qp NUL passes", QP, "a\0b", 3, "a\0b", 3, 0),
	C("qp bad escape letter", QP, "a=G1b", "a=G1b", BADESC),
	C("qp bad second digit", QP, "=4G", "=4G", BADESC),
	C("qp escape cut at end", QP, "ab=4", "ab=4", BADESC),
	C("qp double equals", QP, "==41", "=41", BADESC),
	C("qp equals blank text", QP, "a= x", "a= x", BADESC),
	C("qp equals bare CR", QP, "=\rX", "=\rX", BADESC),
	C("qp equals too much padding", QP, "=       \r\nb", "=       \r\nb",
	  BADESC),
	C("qp equals at end", QP, "abc=", "abc", 0),
	C("qp equals blanks at end", QP, "abc=  ", "abc=  ", BADESC),
	C("qp equals CR at end", QP, "abc=\r", "abc", 0),
	C("qp 76 columns", QP, X76 "\r\n", X76 "\r\n", 0),
	C("qp 77 columns", QP, X76 "y\r\n", X76 "y\r\n", LONG),
	C("qp 76 columns with soft break", QP, X76 "=\r\n" X76, X76 X76, LONG),
	C("qp 75 columns with soft break", QP,
	  X10 X10 X10 X10 X10 X10 X10 "xxxxx=\r\n" X76,
	  X10 X10 X10 X10 X10 X10 X10 "xxxxx" X76, 0),
	C("qp 8-bit", QP, "caf\xc3\xa9\r\n", "caf\xc3\xa9\r\n", BIT8),
	C("qp 8-bit after bad escape", QP, "=\xff", "=\xff", BADESC | BIT8),

	/* uuencode */
	C("uu Cat", UU, "begin 644 cat.txt\n#0V%T\n`\nend\n", "Cat", 0),
	C("uu CRLF", UU, "begin 644 cat.txt\r\n#0V%T\r\n`\r\nend\r\n", "Cat",
	  0),
	C("uu body only, no end", UU, "#0V%T\n`\n", "Cat", NOEND),
	C("uu two lines", UU,
	  "begin 600 fox\n" UU_LINE1 "\n*,#$R,S0U-C<X.0  \n`\nend\n", UU_TEXT,
	  0),
	C("uu stripped trailing blanks", UU,
	  UU_LINE1 "\n*,#$R,S0U-C<X.0\nend\n", UU_TEXT, BADLINE),
	CL("uu backtick zeros", UU, "&2&DA````\nend\n", 0, "Hi!\0\0\0", 6, 0),
	C("uu extra padding ok", UU, "#0V%T``\nend\n", "Cat", 0),
	C("uu extra garbage", UU, "#0V%TXYZ\nend\n", "Cat", BADLINE),
	C("uu short line", UU, "M0V%T\nend\n", "Cat", BADLINE),
	C("uu illegal char", UU, "#0v%T\nend\n", "Aat", BADLINE),
	C("uu data after end ignored", UU, "#0V%T\nend\n#0V%T\n", "Cat", 0),
	C("uu second block", UU,
	  "begin 644 a\n#0V%T\nend\nbla\nbegin 644 b\n#0V%T\nend\n", "CatCat",
	  0),
	C("uu end at EOF", UU, "#0V%T\nend", "Cat", 0),
	C("uu end with blanks", UU, "#0V%T\nend  \n", "Cat", 0),
	CL("uu not an end line", UU, "#0V%T\nendx\n", 0, "Cat8F\0", 6,
	   BADLINE | NOEND),
	C("uu begin only", UU, "begin 644 x\n", "", NOEND),
	C("uu empty", UU, "", "", NOEND),
	C("uu empty lines", UU, "\n\r\n#0V%T\n\nend\n", "Cat", 0),
	C("uu keyword prefix is data", UU, "bad\nend\n", "\x04@", BADLINE),
	CL("uu cut keyword at EOF", UU, "#0V%T\nen", 0, "Cat8\0\0", 6,
	   BADLINE | NOEND),

	/* identity */
	CL("7bit copies", MIME_ENC_7BIT, "a=41\r\n\0", 7, "a=41\r\n\0", 7, 0),
	C("8bit copies", MIME_ENC_8BIT, "caf\xc3\xa9", "caf\xc3\xa9", 0),
	CL("binary copies", MIME_ENC_BINARY, "\0\xff\r", 3, "\0\xff\r", 3, 0),
	C("unknown copies", MIME_ENC_UNKNOWN, "Zm9v", "Zm9v", 0),
};

/* Output space for one call, with a guard zone after what the API
 * promises, to catch writes past decoder_max_out(). */
#define GUARD 32
#define GUARD_BYTE 0xa5

struct result {
	unsigned char *data;
	size_t len, cap;
	unsigned defects;
	uint64_t in_total, out_total;
};

static void
result_add(struct result *r, const unsigned char *p, size_t n)
{
	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2 + 64;
		r->data = realloc(r->data, r->cap);
		assert_non_null(r->data);
	}
	if (n > 0)
		memcpy(r->data + r->len, p, n);
	r->len += n;
}

static size_t
checked_feed(struct decoder *d, const unsigned char *in, size_t len,
	     struct result *r)
{
	size_t room = decoder_max_out(len), n;
	unsigned char *out = malloc(room + GUARD);

	assert_non_null(out);
	memset(out, GUARD_BYTE, room + GUARD);
	n = decoder_feed(d, in, len, out);
	assert_true(n <= room);
	for (size_t k = room; k < room + GUARD; k++)
		assert_int_equal(out[k], GUARD_BYTE);
	result_add(r, out, n);
	free(out);
	return n;
}

static void
checked_finish(struct decoder *d, struct result *r)
{
	unsigned char out[8 + GUARD];
	size_t n;

	memset(out, GUARD_BYTE, sizeof(out));
	n = decoder_finish(d, out);
	assert_true(n <= 8);
	for (size_t k = 8; k < sizeof(out); k++)
		assert_int_equal(out[k], GUARD_BYTE);
	result_add(r, out, n);
	r->defects = d->defects;
	r->in_total = d->in_total;
	r->out_total = d->out_total;
}

/* Decode in split at the given sizes (the last one repeats). */
static void
decode_chunked(enum mime_encoding enc, const unsigned char *in, size_t len,
	       const size_t *sizes, size_t nsizes, struct result *r)
{
	struct decoder d;
	size_t pos = 0, k = 0;

	memset(r, 0, sizeof(*r));
	decoder_init(&d, enc);
	while (pos < len) {
		size_t n = sizes[k < nsizes ? k : nsizes - 1];

		k++;
		if (n == 0 || n > len - pos)
			n = len - pos;
		checked_feed(&d, in + pos, n, r);
		pos += n;
	}
	checked_finish(&d, r);
}

static void
assert_same(const struct decode_case *tc, const struct result *whole,
	    const struct result *r, const char *how, size_t at)
{
	if (r->len != whole->len ||
	    (r->len > 0 && memcmp(r->data, whole->data, r->len) != 0) ||
	    r->defects != whole->defects) {
		fail_msg("%s: %s (at %zu) differs from whole input", tc->name,
			 how, at);
	}
}

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* One row: the wanted bytes and defects whole, then the same byte by
 * byte and split in two at every position. */
static void
test_case(void **state)
{
	const struct decode_case *tc = *state;
	const unsigned char *in = (const unsigned char *)tc->in;
	size_t len = tc->in_len ? tc->in_len : strlen(tc->in);
	size_t wlen = tc->want_len ? tc->want_len : strlen(tc->want);
	struct result whole, r;
	size_t one = 1, sizes[2];

	decode_chunked(tc->enc, in, len, &len, 1, &whole);
	if (whole.len != wlen ||
	    memcmp(whole.data ? (char *)whole.data : "", tc->want, wlen) != 0)
		fail_msg("%s: output \"%.*s\" (%zu bytes), want %zu bytes",
			 tc->name, (int)whole.len,
			 whole.data ? (char *)whole.data : "", whole.len, wlen);
	if (whole.defects != tc->defects)
		fail_msg("%s: defects %#x, want %#x", tc->name, whole.defects,
			 tc->defects);
	assert_int_equal(whole.in_total, len);
	assert_int_equal(whole.out_total, wlen);

	decode_chunked(tc->enc, in, len, &one, 1, &r);
	assert_same(tc, &whole, &r, "byte by byte", 0);
	free(r.data);
	for (size_t at = 1; at < len; at++) {
		sizes[0] = at;
		sizes[1] = 0;
		decode_chunked(tc->enc, in, len, sizes, 2, &r);
		assert_same(tc, &whole, &r, "split", at);
		free(r.data);
	}
	free(whole.data);
}

struct name_case {
	const char *name;
	enum mime_encoding want;
};

static const struct name_case name_cases[] = {
	{ "7bit", MIME_ENC_7BIT },
	{ "8BIT", MIME_ENC_8BIT },
	{ "Binary", MIME_ENC_BINARY },
	{ "BASE64", MIME_ENC_BASE64 },
	{ "Quoted-Printable", MIME_ENC_QP },
	{ "x-uuencode", MIME_ENC_UUENCODE },
	{ "UUENCODE", MIME_ENC_UUENCODE },
	{ "x-uue", MIME_ENC_UUENCODE },
	{ "base-64", MIME_ENC_UNKNOWN },
	{ "quoted-printable2", MIME_ENC_UNKNOWN },
	{ "", MIME_ENC_UNKNOWN },
	{ "x-gzip64", MIME_ENC_UNKNOWN },
};

static void
test_names(void **state)
{
	(void)state;
	for (size_t t = 0; t < sizeof(name_cases) / sizeof(*name_cases); t++)
		assert_int_equal(decode_encoding_from_name(
					 pst_str_from_cstr(name_cases[t].name)),
				 name_cases[t].want);
	/* Names round-trip. */
	for (int e = MIME_ENC_7BIT; e < MIME_ENC_UNKNOWN; e++)
		assert_int_equal(decode_encoding_from_name(pst_str_from_cstr(
					 decode_encoding_name(e))),
				 e);
	assert_string_equal(decode_encoding_name(MIME_ENC_QP),
			    "quoted-printable");
	assert_string_equal(decode_encoding_name(MIME_ENC_UNKNOWN), "unknown");
	/* Only the view's bytes count. */
	assert_int_equal(
		decode_encoding_from_name((struct pst_str){ "base64xyz", 6 }),
		MIME_ENC_BASE64);
}

/* ---- long round trips ---- */

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static size_t
encode_b64(const unsigned char *in, size_t len, char *out, int cols)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 0;
	int col = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[n++] = alpha[v >> 18];
		out[n++] = alpha[(v >> 12) & 63];
		out[n++] = i + 1 < len ? alpha[(v >> 6) & 63] : '=';
		out[n++] = i + 2 < len ? alpha[v & 63] : '=';
		col += 4;
		if (col >= cols) {
			out[n++] = '\r';
			out[n++] = '\n';
			col = 0;
		}
	}
	return n;
}

/* A QP encoder that exercises what the decoder must undo: escapes, soft
 * breaks, blanks at line ends (encoded) and inside lines (raw). */
static size_t
encode_qp(const unsigned char *in, size_t len, char *out)
{
	size_t n = 0;
	int col = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = in[i];
		bool raw = (c >= 33 && c <= 126 && c != '=') ||
			   ((c == ' ' || c == '\t') && i + 1 < len &&
			    in[i + 1] != '\r' && in[i + 1] != '\n');
		int w = raw ? 1 : 3;

		if (c == '\r' && i + 1 < len && in[i + 1] == '\n') {
			out[n++] = '\r';
			out[n++] = '\n';
			i++;
			col = 0;
			continue;
		}
		if (col + w > 75) {
			n += (size_t)sprintf(out + n, "=\r\n");
			col = 0;
		}
		if (raw)
			out[n++] = (char)c;
		else
			n += (size_t)sprintf(out + n, "=%02X", c);
		col += w;
	}
	return n;
}

static void
round_trip(enum mime_encoding enc, const unsigned char *raw, size_t rawlen,
	   const char *enc_text, size_t enclen)
{
	static const size_t chunkings[][3] = {
		{ 0, 0, 0 },	{ 1, 0, 0 },	{ 3, 7, 0 },
		{ 4096, 0, 0 }, { 77, 78, 79 }, { 65536, 1, 0 },
	};

	for (size_t c = 0; c < sizeof(chunkings) / sizeof(*chunkings); c++) {
		struct result r;
		size_t sizes[3], ns = 0;

		for (size_t k = 0; k < 3 && (k == 0 || chunkings[c][k]); k++)
			sizes[ns++] =
				chunkings[c][k] ? chunkings[c][k] : enclen;
		decode_chunked(enc, (const unsigned char *)enc_text, enclen,
			       sizes, ns, &r);
		assert_int_equal(r.len, rawlen);
		assert_memory_equal(r.data, raw, rawlen);
		assert_int_equal(r.defects, 0);
		free(r.data);
	}
}

static void
test_b64_round_trip(void **state)
{
	size_t lens[] = { 1, 2, 3, 57, 58, 59, 1000, 300001 };
	int cols[] = { 76, 64, 4, 1000000 };

	(void)state;
	for (size_t l = 0; l < sizeof(lens) / sizeof(*lens); l++) {
		for (size_t c = 0; c < sizeof(cols) / sizeof(*cols); c++) {
			size_t len = lens[l];
			unsigned char *raw = malloc(len);
			char *enc = malloc(len * 2 + 16);
			size_t n;

			for (size_t i = 0; i < len; i++)
				raw[i] = (unsigned char)rng();
			n = encode_b64(raw, len, enc, cols[c]);
			round_trip(MIME_ENC_BASE64, raw, len, enc, n);
			free(raw);
			free(enc);
		}
	}
}

static void
test_qp_round_trip(void **state)
{
	size_t len = 200000;
	unsigned char *raw = malloc(len);
	char *enc = malloc(len * 4);
	size_t n;

	(void)state;
	/* Text-like bytes: words, blanks, CRLF, some binary. */
	for (size_t i = 0; i < len; i++) {
		uint32_t v = rng() % 100;

		if (v < 60)
			raw[i] = (unsigned char)('a' + rng() % 26);
		else if (v < 75)
			raw[i] = ' ';
		else if (v < 78)
			raw[i] = '\t';
		else if (v < 82)
			raw[i] = '=';
		else if (v < 86 && i + 1 < len) {
			raw[i++] = '\r';
			raw[i] = '\n';
		} else
			raw[i] = (unsigned char)rng();
	}
	/* A bare CR or LF in binary data is encoded as =0D/=0A by
	 * encode_qp; only CRLF pairs are line breaks. */
	n = encode_qp(raw, len, enc);
	round_trip(MIME_ENC_QP, raw, len, enc, n);
	free(raw);
	free(enc);
}

/* Random chunkings of every table row: the same as whole. */
static void
test_random_chunks(void **state)
{
	(void)state;
	for (int round = 0; round < 50; round++) {
		for (size_t t = 0; t < sizeof(cases) / sizeof(*cases); t++) {
			const struct decode_case *tc = &cases[t];
			size_t len = tc->in_len ? tc->in_len : strlen(tc->in);
			size_t sizes[16];
			struct result whole, r;

			for (size_t k = 0; k < 16; k++)
				sizes[k] = 1 + rng() % 9;
			decode_chunked(tc->enc, (const unsigned char *)tc->in,
				       len, &len, 1, &whole);
			decode_chunked(tc->enc, (const unsigned char *)tc->in,
				       len, sizes, 16, &r);
			assert_same(tc, &whole, &r, "random chunks", 0);
			free(whole.data);
			free(r.data);
		}
	}
}

/* The bound holds in the worst cases for held-back input. */
static void
test_max_out(void **state)
{
	static const struct {
		enum mime_encoding enc;
		const char *held;
	} worst[] = {
		{ MIME_ENC_QP, "=\r" },		{ MIME_ENC_QP, "=4" },
		{ MIME_ENC_UUENCODE, "begin" }, { MIME_ENC_UUENCODE, "#0V" },
		{ MIME_ENC_BASE64, "Zm9" },
	};

	(void)state;
	for (size_t w = 0; w < sizeof(worst) / sizeof(*worst); w++) {
		struct decoder d;
		struct result r;

		memset(&r, 0, sizeof(r));
		decoder_init(&d, worst[w].enc);
		checked_feed(&d, (const unsigned char *)worst[w].held,
			     strlen(worst[w].held), &r);
		assert_int_equal(r.len, 0);
		checked_feed(&d, (const unsigned char *)"x", 1, &r);
		assert_true(r.len <= decoder_max_out(1));
		checked_finish(&d, &r);
		free(r.data);
	}
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_qp_round_trip),
		cmocka_unit_test(test_random_chunks),
		cmocka_unit_test(test_max_out),
	};
	struct CMUnitTest tests[N_CASES + sizeof(more) / sizeof(more[0])];
	size_t n = 0;

	/* One test per table row, so that TAP counts and names each. */
	for (size_t i = 0; i < N_CASES; i++) {
		struct CMUnitTest t =
			cmocka_unit_test_prestate(test_case, (void *)&cases[i]);

		t.name = cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("decode", tests, n, NULL, NULL);
}
