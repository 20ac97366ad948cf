/*
 * test_charset.c - text parts and encoded words to UTF-8, as a rule that
 * reads the text will see it.
 *
 * One table row per input: charset label, bytes, the UTF-8 wanted and
 * the defect bits.  Every row is converted one-shot, byte by byte and
 * split in two at every position (inside multi-byte characters and
 * ISO-2022 escapes): all must agree.  Then the default charset, buffer
 * limits, and a long stateful text in random chunks.
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

#include "charset.h"

#define UNK CHARSET_D_UNKNOWN
#define INV CHARSET_D_INVALID
#define FFFD "\xef\xbf\xbd"

struct charset_case {
	const char *name;
	const char *charset;
	const char *in;
	size_t in_len; /* 0: strlen(in) */
	const char *want;
	size_t want_len; /* 0: strlen(want) */
	unsigned defects;
};

#define C(n, cs, i, w, d)                                                      \
	{                                                                      \
		n, cs, i, 0, w, 0, d                                           \
	}
#define CL(n, cs, i, il, w, wl, d)                                             \
	{                                                                      \
		n, cs, i, il, w, wl, d                                         \
	}

static const struct charset_case cases[] = {
	/* UTF-8: validated, invalid sequences replaced */
	C("utf-8 plain", "utf-8", "h\xc3\xa9llo", "h\xc3\xa9llo", 0),
	C("utf8 alias, any case", "UTF8", "\xe2\x82\xac", "\xe2\x82\xac", 0),
	C("utf-8 4-byte", "UTF-8", "\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!", 0),
	C("utf-8 invalid byte", "utf-8", "a\xffz", "a" FFFD "z", INV),
	C("utf-8 cut at the end", "utf-8", "a\xe2\x82", "a" FFFD, INV),
	C("utf-8 maximal subpart", "utf-8", "\xe2\x82X", FFFD "X", INV),
	C("utf-8 overlong", "utf-8", "\xc0\xaf", FFFD FFFD, INV),
	C("utf-8 surrogate", "utf-8", "\xed\xa0\x80", FFFD FFFD FFFD, INV),
	C("utf-8 above U+10FFFF", "utf-8", "\xf4\x90\x80\x80",
	  FFFD FFFD FFFD FFFD, INV),
	CL("utf-8 NUL passes", "utf-8", "a\0b", 3, "a\0b", 3, 0),
	C("utf-8 RFC 2231 language suffix", "utf-8*en", "\xc3\xa9", "\xc3\xa9",
	  0),
	C("quoted label", "\"UTF-8\"", "\xc3\xa9", "\xc3\xa9", 0),

	/* windows-1252 and the labels clients read as it */
	C("latin1", "latin1", "caf\xe9", "caf\xc3\xa9", 0),
	C("iso-8859-1 is windows-1252", "ISO-8859-1", "\x80 5",
	  "\xe2\x82\xac 5", 0),
	C("cp1252 smart quotes", "windows-1252", "\x93quoted\x94 \x96 \x85",
	  "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\x93 \xe2\x80\xa6", 0),
	C("cp1252 hole is C1", "cp1252", "\x81\x9d", "\xc2\x81\xc2\x9d", 0),

	/* us-ascii: UTF-8 where valid, else windows-1252 */
	C("us-ascii plain", "us-ascii", "hello", "hello", 0),
	C("us-ascii with UTF-8", "US-ASCII", "caf\xc3\xa9", "caf\xc3\xa9", INV),
	C("us-ascii with latin1", "us-ascii", "caf\xe9", "caf\xc3\xa9", INV),
	C("us-ascii mixed", "ascii", "\xe2\x80\x99 and \x92",
	  "\xe2\x80\x99 and \xe2\x80\x99", INV),
	C("us-ascii cut UTF-8 at end", "us-ascii", "a\xe2\x80",
	  "a\xc3\xa2\xe2\x82\xac", INV),
	C("empty label is us-ascii", "", "caf\xe9", "caf\xc3\xa9", INV),

	/* iconv */
	C("shift_jis", "shift_jis", "\x93\xfa\x96\x7b",
	  "\xe6\x97\xa5\xe6\x9c\xac", 0),
	C("shift_jis NEC extension", "Shift_JIS", "\x87\x40", "\xe2\x91\xa0",
	  0),
	C("shift_jis cut at end", "shift_jis", "a\x93", "a" FFFD, INV),
	C("iso-2022-jp", "iso-2022-jp", "\x1b$B$3$s$K$A$O\x1b(B!",
	  "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf!", 0),
	C("iso-2022-jp two runs", "ISO-2022-JP",
	  "a\x1b$B$\"\x1b(BX\x1b$B$$\x1b(BY", "a\xe3\x81\x82X\xe3\x81\x84Y", 0),
	C("gb2312", "gb2312", "\xc4\xe3\xba\xc3", "\xe4\xbd\xa0\xe5\xa5\xbd",
	  0),
	C("gb2312 read as GB18030", "GB2312", "\x81\x40", "\xe4\xb8\x82", 0),
	C("gb18030 four bytes", "gb18030", "\x81\x30\x81\x30", "\xc2\x80", 0),
	C("ks_c_5601-1987", "ks_c_5601-1987", "\xc7\xd1\xb1\xdb",
	  "\xed\x95\x9c\xea\xb8\x80", 0),
	C("euc-kr read as CP949", "euc-kr", "\x81\x41", "\xea\xb0\x82", 0),
	C("cp949 0xA2E8", "ks_c_5601-1987", "\xa2\xe8\xb0\xa1Z",
	  "\xe3\x89\xbe\xea\xb0\x80Z", 0),
	C("cp949 invalid pair", "euc-kr", "\xa2\xe9z", FFFD FFFD "z", INV),
	C("cp949 0xA2E8 then invalid", "euc-kr", "\xa2\xe8\xa2\xe9z",
	  "\xe3\x89\xbe" FFFD FFFD "z", INV),
	C("euc-jp", "EUC-JP", "\xc6\xfc\xcb\xdc", "\xe6\x97\xa5\xe6\x9c\xac",
	  0),
	C("big5", "big5", "\xa4\xa4\xa4\xe5", "\xe4\xb8\xad\xe6\x96\x87", 0),
	C("koi8-r", "koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4",
	  "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", 0),
	C("windows-1251", "windows-1251", "\xcf\xf0\xe8",
	  "\xd0\x9f\xd1\x80\xd0\xb8", 0),
	C("iso-8859-15 euro", "iso-8859-15", "\xa4", "\xe2\x82\xac", 0),
	C("iso-8859-2 by pattern", "ISO_8859-2:1987", "\xb1\xe6",
	  "\xc4\x85\xc4\x87", 0),
	C("latin2", "latin2", "\xb1", "\xc4\x85", 0),
	C("latin9 is iso-8859-15", "latin9", "\xa4", "\xe2\x82\xac", 0),
	C("windows-1250 by pattern", "cp1250", "\x9c", "\xc5\x9b", 0),
	C("windows-1255 Hebrew", "windows-1255", "\xf9\xec\xe5\xed",
	  "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", 0),
	C("iso-2022-kr", "iso-2022-kr", "\x1b$)C\x0e\x47\x51\x31\x5b\x0f!",
	  "\xed\x95\x9c\xea\xb8\x80!", 0),
	C("iso-8859-8-i", "iso-8859-8-i", "\xf9\xec\xe5\xed",
	  "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", 0),
	C("utf-7 RFC 2152", "utf-7", "Hi Mom -+Jjo--!",
	  "Hi Mom -\xe2\x98\xba-!", 0),
	C("utf-7 CJK", "UTF-7", "+ZeVnLIqe-",
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0),
	C("utf-7 plus minus", "utf-7", "1 +- 1 = 2", "1 + 1 = 2", 0),
	C("utf-7 surrogate pair", "utf-7", "+2D3cAA-", "\xf0\x9f\x90\x80", 0),
	C("utf-7 lone surrogate", "utf-7", "+2D0-x", FFFD "x", INV),
	C("utf-7 bad leftover bits", "utf-7", "+AGF-", "a" FFFD, INV),
	C("utf-7 8-bit byte", "utf-7", "a\xe9", "a" FFFD, INV),
	CL("utf-16le", "utf-16le", "h\0i\0", 4, "hi", 0, 0),
	CL("utf-16 with BOM", "utf-16", "\xff\xfeh\0i\0", 6, "hi", 0, 0),
	CL("utf-16le odd byte at end", "utf-16le", "h\0i", 3, "h" FFFD, 0, INV),
	C("iconv invalid byte", "shift_jis", "a\xa0z", "a" FFFD "z", INV),

	/* names that are not charsets */
	C("x-unknown", "x-unknown", "h\xc3\xa9", "h\xc3\xa9", UNK),
	C("unknown-8bit invalid", "unknown-8bit", "caf\xe9", "caf" FFFD,
	  UNK | INV),
	C("iso-2022-jp-3 not offered", "iso-2022-jp-3", "abc", "abc", UNK),
	C("tscii not offered", "tscii", "abc", "abc", UNK),
	C("iso-8859-12 does not exist", "iso-8859-12", "abc", "abc", UNK),
	C("path-like label refused", "../../tmp/x", "abc", "abc", UNK),
	C("iconv suffix refused", "utf-8//translit", "abc", "abc", UNK),
	C("overlong label",
	  "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
	  "abcdefghijabcdefghij",
	  "abc", "abc", UNK),
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

struct conv_result {
	struct pst_buf out;
	unsigned defects;
};

/* Convert in, split at the given sizes (the last one repeats). */
static void
convert_chunked(const char *charset, const char *in, size_t len,
		const size_t *sizes, size_t nsizes, struct conv_result *r)
{
	struct charset_conv *conv = charset_conv_new(charset);
	size_t pos = 0, k = 0;

	assert_non_null(conv);
	pst_buf_init(&r->out, 0);
	while (pos < len) {
		size_t n = sizes[k < nsizes ? k : nsizes - 1];

		k++;
		if (n == 0 || n > len - pos)
			n = len - pos;
		assert_int_equal(charset_conv_feed(conv, in + pos, n, &r->out),
				 0);
		pos += n;
	}
	assert_int_equal(charset_conv_finish(conv, &r->out), 0);
	r->defects = charset_conv_defects(conv);
	charset_conv_free(&conv);
	assert_null(conv);
}

static void
assert_same(const struct charset_case *tc, struct pst_str whole,
	    unsigned whole_defects, const struct conv_result *r,
	    const char *how, size_t at)
{
	if (!pst_str_eq(pst_buf_view(&r->out), whole) ||
	    r->defects != whole_defects)
		fail_msg("%s: %s (at %zu) gives \"%s\" %#x, whole \"%.*s\" %#x",
			 tc->name, how, at, r->out.data ? r->out.data : "",
			 r->defects, (int)whole.len, whole.p, whole_defects);
}

static void
test_case(void **state)
{
	const struct charset_case *tc = *state;
	size_t len = tc->in_len ? tc->in_len : strlen(tc->in);
	size_t want_len = tc->want_len ? tc->want_len : strlen(tc->want);
	struct pst_buf out;
	struct conv_result r;
	unsigned defects = 0xdead;
	size_t one = 1, sizes[2];

	pst_buf_init(&out, 0);
	assert_int_equal(
		charset_to_utf8(tc->charset, tc->in, len, &out, &defects), 0);
	if (out.len != want_len ||
	    memcmp(out.data ? out.data : "", tc->want, want_len) != 0)
		fail_msg("%s: got \"%s\" (%zu bytes), want \"%s\"", tc->name,
			 out.data ? out.data : "", out.len, tc->want);
	if (defects != tc->defects)
		fail_msg("%s: defects %#x, want %#x", tc->name, defects,
			 tc->defects);

	convert_chunked(tc->charset, tc->in, len, &one, 1, &r);
	assert_same(tc, pst_buf_view(&out), defects, &r, "byte by byte", 0);
	pst_buf_free(&r.out);
	for (size_t at = 1; at < len; at++) {
		sizes[0] = at;
		sizes[1] = 0;
		convert_chunked(tc->charset, tc->in, len, sizes, 2, &r);
		assert_same(tc, pst_buf_view(&out), defects, &r, "split", at);
		pst_buf_free(&r.out);
	}
	pst_buf_free(&out);
}

/* NULL is the RFC 2045 default, us-ascii. */
static void
test_null_charset(void **state)
{
	struct pst_buf out;
	unsigned defects;

	(void)state;
	pst_buf_init(&out, 0);
	assert_int_equal(charset_to_utf8(NULL, "caf\xe9", 4, &out, &defects),
			 0);
	assert_string_equal(out.data, "caf\xc3\xa9");
	assert_int_equal(defects, INV);
	pst_buf_reset(&out);
	assert_int_equal(charset_to_utf8(NULL, "plain", 5, &out, NULL), 0);
	assert_string_equal(out.data, "plain");
	pst_buf_free(&out);
}

/* A full buffer is reported, not overrun. */
static void
test_limit(void **state)
{
	static const char *const charsets[] = { "utf-8", "latin1", "us-ascii",
						"shift_jis", "iso-2022-jp" };

	(void)state;
	for (size_t c = 0; c < sizeof(charsets) / sizeof(*charsets); c++) {
		struct charset_conv *conv = charset_conv_new(charsets[c]);
		struct pst_buf out;
		char in[4096];
		int ret = 0;

		assert_non_null(conv);
		memset(in, 'a', sizeof(in));
		pst_buf_init(&out, 1000);
		for (int k = 0; k < 4 && ret == 0; k++)
			ret = charset_conv_feed(conv, in, sizeof(in), &out);
		assert_int_equal(ret, -1);
		assert_true(out.len <= 1000);
		charset_conv_free(&conv);
		pst_buf_free(&out);
	}
}

static uint32_t rng_state = 4242;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

/* A long ISO-2022-JP text (shift state across chunks), Shift_JIS and
 * UTF-8 text in random chunks: the same as one-shot. */
static void
test_long_random_chunks(void **state)
{
	static const struct {
		const char *charset;
		const char *unit;
	} texts[] = {
		{ "iso-2022-jp", "ab \x1b$B$3$s$K$A$O\x1b(B\r\n" },
		{ "shift_jis", "x\x93\xfa\x96\x7b\x87\x40 " },
		{ "utf-8", "\xe6\x97\xa5\xf0\x9f\x98\x80\xc3\xa9\xff-" },
		{ "us-ascii", "\xe2\x80\x99\x92\xc3" },
		{ "utf-7", "a+ZeVnLIqe-b+Jjo-" },
	};

	(void)state;
	for (size_t t = 0; t < sizeof(texts) / sizeof(*texts); t++) {
		size_t ulen = strlen(texts[t].unit), len = ulen * 3000;
		char *in = malloc(len);
		struct pst_buf whole;
		unsigned defects;

		assert_non_null(in);
		for (size_t k = 0; k < 3000; k++)
			memcpy(in + k * ulen, texts[t].unit, ulen);
		pst_buf_init(&whole, 0);
		assert_int_equal(charset_to_utf8(texts[t].charset, in, len,
						 &whole, &defects),
				 0);
		assert_true(whole.len > len / 2);
		for (int round = 0; round < 20; round++) {
			size_t sizes[32];
			struct conv_result r;

			for (size_t k = 0; k < 32; k++)
				sizes[k] = 1 + rng() % (round < 10 ? 7 : 5000);
			convert_chunked(texts[t].charset, in, len, sizes, 32,
					&r);
			assert_true(pst_str_eq(pst_buf_view(&r.out),
					       pst_buf_view(&whole)));
			assert_int_equal(r.defects, defects);
			pst_buf_free(&r.out);
		}
		pst_buf_free(&whole);
		free(in);
	}
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_null_charset),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_long_random_chunks),
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
	return _cmocka_run_group_tests("charset", tests, n, NULL, NULL);
}
