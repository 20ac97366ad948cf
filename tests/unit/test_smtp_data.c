/*
 * test_smtp_data.c - the DATA/BDAT stream decoder, above all its defence
 * against SMTP smuggling.
 *
 * Every table case is fed whole, byte by byte and in random-size chunks;
 * all must give the same output, defects, end and consumed count.  The
 * output must re-stuff into a stream with exactly one end-of-data marker.
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

#include "smtp_data.h"

#define LF SMTP_DATA_F_BARE_LF
#define CR SMTP_DATA_F_BARE_CR
#define LONG SMTP_DATA_F_LONG_LINE
#define NUL SMTP_DATA_F_NUL
#define B8 SMTP_DATA_F_8BIT

#define S(lit) lit, sizeof(lit) - 1

struct data_case {
	const char *name;
	enum smtp_data_mode mode;
	size_t max_line;
	const char *in;
	size_t in_len;
	const char *want;
	size_t want_len;
	bool want_done;
	size_t want_consumed; /* for done cases; otherwise in_len */
	unsigned want_defects;
};

#define DOT SMTP_DATA_DOT
#define RAW SMTP_DATA_RAW

static const struct data_case cases[] = {
	/* ordinary messages */
	{ "empty message", DOT, 1000, S(".\r\n"), S(""), true, 3, 0 },
	{ "simple message", DOT, 1000, S("Subject: x\r\n\r\nbody\r\n.\r\n"),
	  S("Subject: x\r\n\r\nbody\r\n"), true, 23, 0 },
	{ "pipelined command left unconsumed", DOT, 1000,
	  S("a\r\n.\r\nQUIT\r\n"), S("a\r\n"), true, 6, 0 },
	{ "second terminator left unconsumed", DOT, 1000, S("a\r\n.\r\n.\r\n"),
	  S("a\r\n"), true, 6, 0 },
	{ "empty line before end", DOT, 1000, S("\r\n.\r\n"), S("\r\n"), true,
	  5, 0 },
	{ "no end yet", DOT, 1000, S("abc\r\ndef"), S("abc\r\ndef"), false, 0,
	  0 },
	{ "no end yet, pending CR", DOT, 1000, S("abc\r"), S("abc"), false, 0,
	  0 },
	{ "no end yet, pending dot", DOT, 1000, S("a\r\n."), S("a\r\n"), false,
	  0, 0 },
	{ "no end yet, pending dot CR", DOT, 1000, S("a\r\n.\r"), S("a\r\n"),
	  false, 0, 0 },

	/* dot-stuffing */
	{ "stuffed dot", DOT, 1000, S("..x\r\n.\r\n"), S(".x\r\n"), true, 8,
	  0 },
	{ "unstuffed leading dot dropped", DOT, 1000, S(".x\r\n.\r\n"),
	  S("x\r\n"), true, 7, 0 },
	{ "double dot line", DOT, 1000, S("..\r\n.\r\n"), S(".\r\n"), true, 7,
	  0 },
	{ "triple dot line", DOT, 1000, S("...\r\n.\r\n"), S("..\r\n"), true, 8,
	  0 },
	{ "dot inside line kept", DOT, 1000, S("a.b\r\n.\r\n"), S("a.b\r\n"),
	  true, 8, 0 },
	{ "dot space line", DOT, 1000, S(". \r\n.\r\n"), S(" \r\n"), true, 7,
	  0 },
	{ "dot stuffed after bare LF", DOT, 1000, S("a\n..b\r\n.\r\n"),
	  S("a\r\n.b\r\n"), true, 10, LF },

	/* SMTP smuggling: none of these end the data */
	{ "smuggle LF.LF", DOT, 1000, S("x\n.\nMAIL FROM:<a@b>\r\n"),
	  S("x\r\n\r\nMAIL FROM:<a@b>\r\n"), false, 0, LF },
	{ "smuggle LF.CRLF", DOT, 1000, S("x\n.\r\nRCPT TO:<a@b>\r\n"),
	  S("x\r\n\r\nRCPT TO:<a@b>\r\n"), false, 0, LF },
	{ "smuggle CRLF.LF", DOT, 1000, S("x\r\n.\nRCPT TO:<a@b>\r\n"),
	  S("x\r\n\r\nRCPT TO:<a@b>\r\n"), false, 0, LF },
	{ "smuggle CR.CR", DOT, 1000, S("x\r.\rDATA\r\n"), S("x.DATA\r\n"),
	  false, 0, CR },
	{ "smuggle CRLF.CR", DOT, 1000, S("x\r\n.\rDATA\r\n"),
	  S("x\r\nDATA\r\n"), false, 0, CR },
	{ "smuggle CR.CRLF", DOT, 1000, S("x\r.\r\nDATA\r\n"),
	  S("x.\r\nDATA\r\n"), false, 0, CR },
	{ "smuggle LF.CR", DOT, 1000, S("x\n.\rDATA\r\n"), S("x\r\nDATA\r\n"),
	  false, 0, LF | CR },
	{ "smuggle CR.LF", DOT, 1000, S("x\r.\nDATA\r\n"), S("x.\r\nDATA\r\n"),
	  false, 0, CR | LF },
	{ "smuggle CRLF.NULCRLF", DOT, 1000, S("x\r\n.\0\r\nDATA\r\n"),
	  S("x\r\n\0\r\nDATA\r\n"), false, 0, NUL },
	{ "smuggle CRLF.CRCRLF", DOT, 1000, S("x\r\n.\r\r\nDATA\r\n"),
	  S("x\r\n\r\nDATA\r\n"), false, 0, CR },
	{ "smuggle LF.CRLF as first line end", DOT, 1000, S("\n.\r\nX\r\n"),
	  S("\r\n\r\nX\r\n"), false, 0, LF },
	{ "smuggle LF only text", DOT, 1000, S("a\nb\n.\n"),
	  S("a\r\nb\r\n\r\n"), false, 0, LF },
	{ "smuggle CRLF.SP CRLF", DOT, 1000, S("x\r\n. \r\nDATA\r\n"),
	  S("x\r\n \r\nDATA\r\n"), false, 0, 0 },
	{ "smuggle CRLF..CRLF", DOT, 1000, S("x\r\n..\r\nDATA\r\n"),
	  S("x\r\n.\r\nDATA\r\n"), false, 0, 0 },
	{ "smuggle CR at line start then dot", DOT, 1000,
	  S("x\r\n\r.\r\nDATA\r\n"), S("x\r\n.\r\nDATA\r\n"), false, 0, CR },

	/* genuine ends next to defects */
	{ "CR CRLF then end", DOT, 1000, S("a\r\r\n.\r\n"), S("a\r\n"), true, 7,
	  CR },
	{ "bare LF then CRLF line then end", DOT, 1000, S("a\n\r\n.\r\n"),
	  S("a\r\n\r\n"), true, 7, LF },

	/* byte checks */
	{ "8bit", DOT, 1000, S("caf\xc3\xa9\r\n.\r\n"), S("caf\xc3\xa9\r\n"),
	  true, 10, B8 },
	{ "NUL kept", DOT, 1000, S("a\0b\r\n.\r\n"), S("a\0b\r\n"), true, 8,
	  NUL },
	{ "line at limit", DOT, 10, S("12345678\r\n.\r\n"), S("12345678\r\n"),
	  true, 13, 0 },
	{ "line over limit", DOT, 10, S("123456789\r\n.\r\n"),
	  S("123456789\r\n"), true, 14, LONG },
	{ "stuffing dot not counted", DOT, 10, S("..2345678\r\n.\r\n"),
	  S(".2345678\r\n"), true, 14, 0 },
	{ "bare CR counted", DOT, 10, S("1234\r5678\r\n.\r\n"),
	  S("12345678\r\n"), true, 14, LONG | CR },
	{ "no line limit", DOT, 0, S("123456789012345\r\n.\r\n"),
	  S("123456789012345\r\n"), true, 20, 0 },

	/* RAW (BDAT), always followed by smtp_data_finish() */
	{ "raw plain", RAW, 1000, S("a\r\nb\r\n"), S("a\r\nb\r\n"), false, 0,
	  0 },
	{ "raw adds final CRLF", RAW, 1000, S("a\r\nb"), S("a\r\nb\r\n"), false,
	  0, 0 },
	{ "raw dots untouched", RAW, 1000, S(".\r\n..x\r\n"), S(".\r\n..x\r\n"),
	  false, 0, 0 },
	{ "raw end marker is content", RAW, 1000,
	  S("a\r\n.\r\nMAIL FROM:<x>\r\n"), S("a\r\n.\r\nMAIL FROM:<x>\r\n"),
	  false, 0, 0 },
	{ "raw bare LF", RAW, 1000, S("a\nb\n"), S("a\r\nb\r\n"), false, 0,
	  LF },
	{ "raw bare CR", RAW, 1000, S("a\rb\r\n"), S("ab\r\n"), false, 0, CR },
	{ "raw CR CRLF", RAW, 1000, S("a\r\r\n"), S("a\r\n"), false, 0, CR },
	{ "raw trailing CR", RAW, 1000, S("a\r"), S("a\r\n"), false, 0, CR },
	{ "raw lone CR", RAW, 1000, S("\r"), S("\r\n"), false, 0, CR },
	{ "raw empty", RAW, 1000, S(""), S(""), false, 0, 0 },
	{ "raw 8bit and NUL", RAW, 1000, S("\x80\0\r\n"), S("\x80\0\r\n"),
	  false, 0, B8 | NUL },
	{ "raw long line", RAW, 10, S("123456789\r\nx"),
	  S("123456789\r\nx\r\n"), false, 0, LONG },
	{ "raw long last line", RAW, 10, S("ab\r\n123456789"),
	  S("ab\r\n123456789\r\n"), false, 0, LONG },
};

/* Chunking strategies: 0 whole, 1 byte by byte, 2.. random sizes. */
static size_t
chunk_size(int strategy, size_t left, unsigned *seed)
{
	if (strategy == 0)
		return left;
	if (strategy == 1)
		return 1;
	return 1 + (size_t)rand_r(seed) % 7;
}

struct run_result {
	struct pst_buf out;
	size_t consumed;
	bool done;
	unsigned defects;
	uint64_t out_len;
};

static void
run_decoder(enum smtp_data_mode mode, size_t max_line, const char *in,
	    size_t len, int strategy, unsigned seed, bool with_out,
	    struct run_result *r)
{
	struct smtp_data d;
	size_t pos = 0;

	smtp_data_init(&d, mode, max_line);
	pst_buf_init(&r->out, 0);
	r->done = false;
	while (pos < len && !r->done) {
		size_t n = chunk_size(strategy, len - pos, &seed);
		size_t got;

		if (n > len - pos)
			n = len - pos;
		got = smtp_data_feed(&d, in + pos, n, with_out ? &r->out : NULL,
				     &r->done);
		assert_true(got != (size_t)-1);
		assert_true(got <= n);
		if (!r->done)
			assert_int_equal(got, n);
		pos += got;
	}
	if (mode == SMTP_DATA_RAW)
		assert_int_equal(
			smtp_data_finish(&d, with_out ? &r->out : NULL), 0);
	r->consumed = pos;
	r->defects = d.defects;
	r->out_len = d.out_len;
}

/* No CR without LF after it, no LF without CR before it. */
static void
assert_only_crlf(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r')
			assert_true(i + 1 < len && p[i + 1] == '\n');
		if (p[i] == '\n')
			assert_true(i > 0 && p[i - 1] == '\r');
	}
}

/*
 * Send the output on as a relay would: after "DATA\r\n", dot-stuff it,
 * end an unfinished last line, add ".\r\n".  The upstream must see
 * exactly one end-of-data, the one we added.
 */
static void
assert_restuff_safe(const char *p, size_t len)
{
	struct pst_buf s;
	size_t count = 0, at = 0;

	pst_buf_init(&s, 0);
	assert_int_equal(pst_buf_append(&s, "\r\n", 2), 0);
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '.' && (i == 0 || p[i - 1] == '\n'))
			assert_int_equal(pst_buf_append_byte(&s, '.'), 0);
		assert_int_equal(pst_buf_append_byte(&s, p[i]), 0);
	}
	if (len > 0 && !(len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n'))
		assert_int_equal(pst_buf_append(&s, "\r\n", 2), 0);
	assert_int_equal(pst_buf_append(&s, ".\r\n", 3), 0);
	for (size_t i = 0; i + 5 <= s.len; i++) {
		if (memcmp(s.data + i, "\r\n.\r\n", 5) == 0) {
			count++;
			at = i;
		}
	}
	assert_int_equal(count, 1);
	assert_int_equal(at, s.len - 5);
	pst_buf_free(&s);
}

static void
check_case(const struct data_case *c)
{
	size_t want_consumed = c->want_done ? c->want_consumed : c->in_len;

	for (int strategy = 0; strategy < 8; strategy++) {
		for (int with_out = 1; with_out >= 0; with_out--) {
			struct run_result r;

			run_decoder(c->mode, c->max_line, c->in, c->in_len,
				    strategy, (unsigned)strategy * 7919u,
				    with_out, &r);
			if (r.done != c->want_done ||
			    r.consumed != want_consumed ||
			    r.defects != c->want_defects)
				fail_msg("%s (strategy %d, out %d): done %d "
					 "consumed %zu defects %#x",
					 c->name, strategy, with_out, r.done,
					 r.consumed, r.defects);
			assert_int_equal(r.out_len, c->want_len);
			if (with_out) {
				assert_int_equal(r.out.len, c->want_len);
				if (c->want_len > 0)
					assert_memory_equal(r.out.data, c->want,
							    c->want_len);
				assert_only_crlf(r.out.data, r.out.len);
				assert_restuff_safe(r.out.data, r.out.len);
			}
			pst_buf_free(&r.out);
		}
	}
}

static void
test_case(void **state)
{
	check_case(*state);
}

static void
test_rfc_line_limit(void **state)
{
	/* 998 octets plus CRLF is the most RFC 5321 allows. */
	static const size_t lens[] = { 997, 998, 999, 1200 };
	char *in = malloc(1300);

	(void)state;
	assert_non_null(in);
	for (size_t k = 0; k < 4; k++) {
		struct smtp_data d;
		bool done;
		size_t n = lens[k];

		memset(in, 'a', n);
		memcpy(in + n, "\r\n.\r\n", 5);
		smtp_data_init(&d, SMTP_DATA_DOT, 1000);
		assert_int_equal(smtp_data_feed(&d, in, n + 5, NULL, &done),
				 n + 5);
		assert_true(done);
		assert_int_equal(d.defects,
				 n > 998 ? SMTP_DATA_F_LONG_LINE : 0u);
		assert_int_equal(d.out_len, n + 2);
	}
	/* A stuffing dot does not count: "." + 998 octets is fine. */
	{
		struct smtp_data d;
		bool done;

		in[0] = '.';
		memset(in + 1, 'a', 998);
		memcpy(in + 999, "\r\n.\r\n", 5);
		smtp_data_init(&d, SMTP_DATA_DOT, 1000);
		smtp_data_feed(&d, in, 1004, NULL, &done);
		assert_true(done);
		assert_int_equal(d.defects, 0);
	}
	free(in);
}

static void
test_limit_rolls_back(void **state)
{
	static const char msg[] = "0123456789\r\nabcdefghij\r\n.\r\nQUIT\r\n";
	struct smtp_data d;
	struct pst_buf out;
	bool done = true;
	size_t n;

	(void)state;
	pst_buf_init(&out, 16);
	smtp_data_init(&d, SMTP_DATA_DOT, 1000);
	assert_int_equal(smtp_data_feed(&d, msg, 5, &out, &done), 5);
	assert_false(done);
	assert_int_equal(out.len, 5);
	/* The rest does not fit: refused, nothing changed... */
	n = smtp_data_feed(&d, msg + 5, sizeof(msg) - 1 - 5, &out, &done);
	assert_int_equal(n, (size_t)-1);
	assert_false(done);
	assert_int_equal(out.len, 5);
	assert_string_equal(out.data, "01234");
	assert_int_equal(d.out_len, 5);
	/* ...so the same bytes can be skipped to the end of data. */
	n = smtp_data_feed(&d, msg + 5, sizeof(msg) - 1 - 5, NULL, &done);
	assert_true(done);
	assert_int_equal(5 + n, sizeof(msg) - 1 - 6);
	pst_buf_free(&out);
}

static void
test_feed_after_done(void **state)
{
	struct smtp_data d;
	struct pst_buf out;
	bool done = false;

	(void)state;
	pst_buf_init(&out, 0);
	smtp_data_init(&d, SMTP_DATA_DOT, 1000);
	assert_int_equal(smtp_data_feed(&d, ".\r\n", 3, &out, &done), 3);
	assert_true(done);
	done = false;
	assert_int_equal(smtp_data_feed(&d, "x\r\n", 3, &out, &done), 0);
	assert_true(done);
	assert_int_equal(out.len, 0);
	pst_buf_free(&out);
}

static void
test_finish_twice(void **state)
{
	struct smtp_data d;
	struct pst_buf out;
	bool done;

	(void)state;
	pst_buf_init(&out, 0);
	smtp_data_init(&d, SMTP_DATA_RAW, 1000);
	assert_int_equal(smtp_data_feed(&d, "a\r", 2, &out, &done), 2);
	assert_false(done);
	assert_int_equal(smtp_data_finish(&d, &out), 0);
	assert_int_equal(smtp_data_finish(&d, &out), 0);
	assert_string_equal(out.data, "a\r\n");
	assert_int_equal(d.defects, SMTP_DATA_F_BARE_CR);
	pst_buf_free(&out);
}

static void
test_raw_chunks_split_crlf(void **state)
{
	/* BDAT chunks of arbitrary sizes, CR and LF in different chunks. */
	static const char *chunks[] = { "Subject: x\r", "\n\r", "\nbody\r",
					"\n.\r", "\n" };
	struct smtp_data d;
	struct pst_buf out;
	bool done;

	(void)state;
	pst_buf_init(&out, 0);
	smtp_data_init(&d, SMTP_DATA_RAW, 1000);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(smtp_data_feed(&d, chunks[i],
						strlen(chunks[i]), &out, &done),
				 strlen(chunks[i]));
	assert_int_equal(smtp_data_finish(&d, &out), 0);
	assert_string_equal(out.data, "Subject: x\r\n\r\nbody\r\n.\r\n");
	assert_int_equal(d.defects, 0);
	pst_buf_free(&out);
}

/*
 * A slow, line-at-a-time model of the decoder written from the rules, to
 * cross-check it on random input over a small alphabet.
 */
struct model {
	struct pst_buf out;
	size_t consumed;
	bool done;
	unsigned defects;
};

static void
model_run(enum smtp_data_mode mode, size_t max_line, const char *in, size_t len,
	  struct model *m)
{
	size_t pos = 0, limit;
	bool after_crlf = true;

	limit = max_line == 0 ? SIZE_MAX : max_line > 2 ? max_line - 2 : 0;
	pst_buf_init(&m->out, 0);
	m->done = false;
	m->defects = 0;
	while (pos < len) {
		const char *lf = memchr(in + pos, '\n', len - pos);
		size_t end = lf ? (size_t)(lf - in) : len;
		bool crlf = lf && end > pos && in[end - 1] == '\r';
		size_t cstart = pos, cend = crlf ? end - 1 : end;
		size_t octets = 0;

		if (!lf && mode == SMTP_DATA_DOT && cend > cstart &&
		    in[cend - 1] == '\r')
			cend--; /* pending CR, not settled yet */
		if (!lf && mode == SMTP_DATA_RAW && cend > cstart)
			crlf = true; /* finish() ends the line */
		if (mode == SMTP_DATA_DOT && crlf && after_crlf &&
		    cend - cstart == 1 && in[cstart] == '.') {
			m->done = true;
			pos = end + 1;
			break;
		}
		if (mode == SMTP_DATA_DOT && cend > cstart && in[cstart] == '.')
			cstart++;
		for (size_t i = cstart; i < cend; i++) {
			unsigned char c = (unsigned char)in[i];

			octets++;
			if (c == '\r') {
				m->defects |= SMTP_DATA_F_BARE_CR;
				continue;
			}
			if (c == 0)
				m->defects |= SMTP_DATA_F_NUL;
			if (c >= 0x80)
				m->defects |= SMTP_DATA_F_8BIT;
			pst_buf_append_byte(&m->out, (char)c);
		}
		if (octets > limit)
			m->defects |= SMTP_DATA_F_LONG_LINE;
		if (lf && !crlf)
			m->defects |= SMTP_DATA_F_BARE_LF;
		if (lf || crlf)
			pst_buf_append(&m->out, "\r\n", 2);
		after_crlf = crlf;
		pos = lf ? end + 1 : len;
	}
	m->consumed = pos;
}

static void
test_random_against_model(void **state)
{
	static const char alphabet[] = { '\r', '\n', '.', 'a', '\0', '\x80' };
	unsigned seed = 12345;
	char in[64];

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(in);
		enum smtp_data_mode mode =
			iter & 1 ? SMTP_DATA_RAW : SMTP_DATA_DOT;
		size_t max_line = (size_t)rand_r(&seed) % 8;
		struct model m;
		struct run_result r;

		for (size_t i = 0; i < len; i++) {
			/* mostly the interesting bytes */
			int k = rand_r(&seed) % 10;

			in[i] = alphabet[k < 6 ? k : k % 4];
		}
		model_run(mode, max_line, in, len, &m);
		run_decoder(mode, max_line, in, len, iter % 4, (unsigned)iter,
			    true, &r);
		if (r.done != m.done || r.consumed != m.consumed ||
		    r.defects != m.defects || r.out.len != m.out.len ||
		    (m.out.len > 0 &&
		     memcmp(r.out.data, m.out.data, m.out.len) != 0))
			fail_msg("iteration %d differs from the model", iter);
		assert_only_crlf(r.out.data, r.out.len);
		assert_restuff_safe(r.out.data, r.out.len);
		pst_buf_free(&r.out);
		pst_buf_free(&m.out);
	}
}

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_rfc_line_limit),
		cmocka_unit_test(test_limit_rolls_back),
		cmocka_unit_test(test_feed_after_done),
		cmocka_unit_test(test_finish_twice),
		cmocka_unit_test(test_raw_chunks_split_crlf),
		cmocka_unit_test(test_random_against_model),
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
	return _cmocka_run_group_tests("smtp_data", tests, n, NULL, NULL);
}
