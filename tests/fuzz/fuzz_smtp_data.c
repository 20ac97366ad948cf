/*
 * fuzz_smtp_data.c - libFuzzer target for the DATA/BDAT decoder.
 *
 * Input: byte 0 picks the mode, line limit and an output limit; byte 1
 * seeds the chunk sizes; the rest is what the client sends.  The data is
 * decoded in chunks and in one piece, and by a slow line-at-a-time model;
 * all must agree.  Invariants (abort() when broken): the output has only
 * CRLF line ends; in DOT mode the decoder stops inside the input; the
 * output re-stuffed for an upstream holds no end-of-data but the final
 * one; a refused append leaves decoder and buffer as they were.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

struct result {
	struct pst_buf out;
	size_t consumed;
	bool done;
	unsigned defects;
	uint64_t out_len;
	bool refused; /* out hit its limit: output incomplete */
};

static void
decode(enum smtp_data_mode mode, size_t max_line, const char *in, size_t len,
       uint32_t seed, size_t out_limit, struct result *r)
{
	struct smtp_data d;
	size_t pos = 0;
	bool refused = false;

	smtp_data_init(&d, mode, max_line);
	pst_buf_init(&r->out, out_limit);
	r->done = false;
	while (pos < len && !r->done) {
		size_t n, got;

		/* xorshift: chunk sizes 1..16, or all of it */
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		n = seed == 0 ? len - pos : 1 + seed % 16;
		if (n > len - pos)
			n = len - pos;
		if (refused) {
			got = smtp_data_feed(&d, in + pos, n, NULL, &r->done);
		} else {
			struct smtp_data before = d;
			size_t before_len = r->out.len;

			got = smtp_data_feed(&d, in + pos, n, &r->out,
					     &r->done);
			if (got == (size_t)-1) {
				/* rolled back; skip the rest as a server
				 * refusing the message would */
				CHECK(memcmp(&before, &d, sizeof(d)) == 0);
				CHECK(r->out.len == before_len);
				CHECK(out_limit != 0 &&
				      before_len <= out_limit);
				refused = true;
				continue;
			}
		}
		CHECK(got <= n);
		CHECK(r->done || got == n);
		pos += got;
	}
	if (mode == SMTP_DATA_RAW &&
	    smtp_data_finish(&d, refused ? NULL : &r->out) < 0) {
		CHECK(out_limit != 0);
		refused = true;
	}
	CHECK(pos <= len);
	r->consumed = pos;
	r->defects = d.defects;
	r->out_len = d.out_len;
	r->refused = refused;
}

/* The rules, applied one line at a time to the whole input. */
static void
model(enum smtp_data_mode mode, size_t max_line, const char *in, size_t len,
      struct result *m)
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
			cend--;
		if (!lf && mode == SMTP_DATA_RAW && cend > cstart)
			crlf = true;
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
			CHECK(pst_buf_append_byte(&m->out, (char)c) == 0);
		}
		if (octets > limit)
			m->defects |= SMTP_DATA_F_LONG_LINE;
		if (lf && !crlf)
			m->defects |= SMTP_DATA_F_BARE_LF;
		if (lf || crlf)
			CHECK(pst_buf_append(&m->out, "\r\n", 2) == 0);
		after_crlf = crlf;
		pos = lf ? end + 1 : len;
	}
	m->consumed = pos;
	m->out_len = m->out.len;
	m->refused = false;
}

static void
check_output(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r')
			CHECK(i + 1 < len && p[i + 1] == '\n');
		if (p[i] == '\n')
			CHECK(i > 0 && p[i - 1] == '\r');
	}
}

static void
check_restuffed(const char *p, size_t len)
{
	size_t cap = 2 + 2 * len + 5, n = 0;
	char *s = malloc(cap);

	CHECK(s != NULL);
	s[n++] = '\r';
	s[n++] = '\n';
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '.' && (i == 0 || p[i - 1] == '\n'))
			s[n++] = '.';
		s[n++] = p[i];
	}
	if (len > 0 &&
	    !(len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n')) {
		s[n++] = '\r';
		s[n++] = '\n';
	}
	memcpy(s + n, ".\r\n", 3);
	n += 3;
	for (size_t i = 0; i + 5 < n; i++)
		CHECK(memcmp(s + i, "\r\n.\r\n", 5) != 0);
	CHECK(memcmp(s + n - 5, "\r\n.\r\n", 5) == 0);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t max_lines[] = { 1000, 10, 3, 0 };
	static const size_t out_limits[] = { 0, 0, 0, 7 };
	enum smtp_data_mode mode;
	size_t max_line, out_limit, len;
	const char *in;
	struct result whole, chunked, m;

	if (size < 2)
		return 0;
	mode = data[0] & 1 ? SMTP_DATA_RAW : SMTP_DATA_DOT;
	max_line = max_lines[(data[0] >> 1) & 3];
	out_limit = out_limits[(data[0] >> 3) & 3];
	in = (const char *)data + 2;
	len = size - 2;

	model(mode, max_line, in, len, &m);
	decode(mode, max_line, in, len, 0, 0, &whole);
	decode(mode, max_line, in, len, 0x9e3779b9u * (data[1] + 1u), out_limit,
	       &chunked);

	/* whole == model */
	CHECK(whole.done == m.done && whole.consumed == m.consumed);
	CHECK(whole.defects == m.defects);
	CHECK(whole.out.len == m.out.len && whole.out_len == m.out.len);
	CHECK(m.out.len == 0 ||
	      memcmp(whole.out.data, m.out.data, m.out.len) == 0);
	if (mode == SMTP_DATA_DOT && whole.done)
		CHECK(whole.consumed <= len);
	if (mode == SMTP_DATA_RAW)
		CHECK(!whole.done && whole.consumed == len);
	check_output(whole.out.data, whole.out.len);
	check_restuffed(whole.out.data, whole.out.len);

	/* chunked == whole (output only when it was not refused) */
	CHECK(chunked.done == whole.done);
	CHECK(chunked.consumed == whole.consumed);
	CHECK(chunked.defects == whole.defects);
	if (!chunked.refused) {
		CHECK(chunked.out.len == whole.out.len);
		CHECK(whole.out.len == 0 ||
		      memcmp(chunked.out.data, whole.out.data, whole.out.len) ==
			      0);
	}

	pst_buf_free(&whole.out);
	pst_buf_free(&chunked.out);
	pst_buf_free(&m.out);
	return 0;
}
