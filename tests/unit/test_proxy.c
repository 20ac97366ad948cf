/*
 * test_proxy.c - PROXY protocol v1 and v2 headers: every valid form,
 * every malformed one, each fed whole, with the client's first command
 * behind it, and byte by byte (every strict prefix of a valid header is
 * "need more"; a malformed one fails no later than its full length and
 * stays failed).
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

#include "proxy.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
/* A byte string literal with its length (it may hold NULs). */
#define B(s) (const unsigned char *)(s), sizeof(s) - 1

/* The v2 signature and "version 2" with a command. */
#define SIG "\r\n\r\n\0\r\nQUIT\n"
#define V2_PROXY SIG "\x21"
#define V2_LOCAL SIG "\x20"
/* 192.0.2.7:56324 -> 198.51.100.1:25 */
#define INET4_BLOCK "\xC0\x00\x02\x07\xC6\x33\x64\x01\xDC\x04\x00\x19"
/* 2001:db8::7:56324 -> 2001:db8::1:25 */
#define INET6_BLOCK                                                            \
	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07"                           \
	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"                           \
	"\xDC\x04\x00\x19"
/* ::ffff:192.0.2.7:1 -> ::ffff:10.0.0.1:65535 */
#define MAPPED_BLOCK                                                           \
	"\0\0\0\0\0\0\0\0\0\0\xff\xff\xC0\x00\x02\x07"                         \
	"\0\0\0\0\0\0\0\0\0\0\xff\xff\x0A\x00\x00\x01"                         \
	"\x00\x01\xFF\xFF"

#define FFFF6 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

struct proxy_case {
	const char *name;
	const unsigned char *in;
	size_t len;
	enum pst_proxy_status want;
	/* DONE: */
	unsigned version;
	bool local;
	const char *src; /* address text, "" when local */
	unsigned sport;
	const char *dst;
	unsigned dport;
	/* ERROR: the start of the error text */
	const char *error;
};

#define OK1(n, s, a, ap, d, dp)                                                \
	{                                                                      \
		n, B(s), PST_PROXY_DONE, 1, false, a, ap, d, dp, NULL          \
	}
#define OK2(n, s, a, ap, d, dp)                                                \
	{                                                                      \
		n, B(s), PST_PROXY_DONE, 2, false, a, ap, d, dp, NULL          \
	}
#define LOCAL(n, s, v)                                                         \
	{                                                                      \
		n, B(s), PST_PROXY_DONE, v, true, "", 0, "", 0, NULL           \
	}
#define BAD(n, s, e)                                                           \
	{                                                                      \
		n, B(s), PST_PROXY_ERROR, 0, false, NULL, 0, NULL, 0, e        \
	}

static const struct proxy_case cases[] = {
	/* ---- v1, valid ---- */
	OK1("v1 tcp4", "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n",
	    "192.0.2.7", 56324, "198.51.100.1", 25),
	OK1("v1 tcp6", "PROXY TCP6 2001:db8::7 2001:db8::1 56324 25\r\n",
	    "2001:db8::7", 56324, "2001:db8::1", 25),
	OK1("v1 tcp6 v4-mapped",
	    "PROXY TCP6 ::ffff:192.0.2.7 ::ffff:10.0.0.1 1 65535\r\n",
	    "192.0.2.7", 1, "10.0.0.1", 65535),
	OK1("v1 port 0", "PROXY TCP4 10.1.2.3 10.0.0.1 0 0\r\n", "10.1.2.3", 0,
	    "10.0.0.1", 0),
	OK1("v1 tcp6 longest", "PROXY TCP6 " FFFF6 " " FFFF6 " 65535 65535\r\n",
	    FFFF6, 65535, FFFF6, 65535),
	LOCAL("v1 unknown", "PROXY UNKNOWN\r\n", 1),
	LOCAL("v1 unknown with addresses",
	      "PROXY UNKNOWN 192.0.2.7 198.51.100.1 56324 25\r\n", 1),
	LOCAL("v1 unknown with junk", "PROXY UNKNOWN \x01\xff junk  here\r\n",
	      1),
	/* exactly 107 bytes, the specification's worst case */
	LOCAL("v1 unknown 107 bytes",
	      "PROXY UNKNOWN " FFFF6 " " FFFF6 " 65535 65535\r\n", 1),

	/* ---- v1, malformed ---- */
	BAD("v1 unknown 108 bytes",
	    "PROXY UNKNOWN " FFFF6 " " FFFF6 " 65535 655350\r\n",
	    "PROXY v1: line longer than 107"),
	BAD("v1 no line end",
	    "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25 " FFFF6 FFFF6 FFFF6,
	    "PROXY v1: line longer than 107"),
	BAD("v1 bare LF", "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\n",
	    "PROXY v1: LF without CR"),
	BAD("v1 CR without LF",
	    "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\rEHLO x\r\n",
	    "PROXY v1: CR without LF"),
	BAD("v1 lower case", "proxy TCP4 192.0.2.7 198.51.100.1 56324 25\r\n",
	    "not a PROXY header"),
	BAD("v1 no space", "PROXY\r\n", "not a PROXY header"),
	BAD("v1 nothing after PROXY", "PROXY \r\n",
	    "PROXY v1: unknown protocol"),
	BAD("v1 protocol lower case",
	    "PROXY tcp4 192.0.2.7 198.51.100.1 56324 25\r\n",
	    "PROXY v1: unknown protocol"),
	BAD("v1 protocol TCP5",
	    "PROXY TCP5 192.0.2.7 198.51.100.1 56324 25\r\n",
	    "PROXY v1: unknown protocol"),
	BAD("v1 UDP4", "PROXY UDP4 192.0.2.7 198.51.100.1 56324 25\r\n",
	    "PROXY v1: unknown protocol"),
	BAD("v1 unknown glued", "PROXY UNKNOWNX\r\n",
	    "PROXY v1: unknown protocol"),
	BAD("v1 two spaces after PROXY",
	    "PROXY  TCP4 192.0.2.7 198.51.100.1 56324 25\r\n",
	    "PROXY v1: unknown protocol"),
	BAD("v1 tcp4 alone", "PROXY TCP4\r\n", "PROXY v1: want"),
	BAD("v1 missing port", "PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",
	    "PROXY v1: want"),
	BAD("v1 extra field",
	    "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25 26\r\n",
	    "PROXY v1: want"),
	BAD("v1 two spaces between addresses",
	    "PROXY TCP4 192.0.2.7  198.51.100.1 56324 25\r\n",
	    "PROXY v1: want"),
	BAD("v1 trailing space",
	    "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25 \r\n",
	    "PROXY v1: want"),
	BAD("v1 tab separator",
	    "PROXY TCP4 192.0.2.7\t198.51.100.1 56324 25\r\n",
	    "PROXY v1: want"),
	BAD("v1 ipv6 in tcp4", "PROXY TCP4 2001:db8::7 2001:db8::1 1 2\r\n",
	    "PROXY v1: bad IPv4 address"),
	BAD("v1 ipv4 in tcp6", "PROXY TCP6 192.0.2.7 198.51.100.1 1 2\r\n",
	    "PROXY v1: bad IPv6 address"),
	BAD("v1 octet 256", "PROXY TCP4 256.0.2.7 198.51.100.1 1 2\r\n",
	    "PROXY v1: bad IPv4 address"),
	BAD("v1 octet leading zero",
	    "PROXY TCP4 192.0.2.07 198.51.100.1 1 2\r\n",
	    "PROXY v1: bad IPv4 address"),
	BAD("v1 short ipv4", "PROXY TCP4 192.0.2 198.51.100.1 1 2\r\n",
	    "PROXY v1: bad IPv4 address"),
	BAD("v1 hostname", "PROXY TCP4 localhost 198.51.100.1 1 2\r\n",
	    "PROXY v1: bad IPv4 address"),
	BAD("v1 bad dst", "PROXY TCP4 192.0.2.7 198.51.100 1 2\r\n",
	    "PROXY v1: bad IPv4 address"),
	BAD("v1 ipv6 scope", "PROXY TCP6 fe80::1%eth0 2001:db8::1 1 2\r\n",
	    "PROXY v1: bad IPv6 address"),
	BAD("v1 overlong ipv6",
	    "PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000:0 ::1 1 2\r\n",
	    "PROXY v1: bad IPv6 address"),
	BAD("v1 NUL in address",
	    "PROXY TCP4 192.0.2.7\0 198.51.100.1 56324 25\r\n",
	    "PROXY v1: bad IPv4 address"),
	BAD("v1 port 65536", "PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n",
	    "PROXY v1: bad port"),
	BAD("v1 port leading zero",
	    "PROXY TCP4 192.0.2.7 198.51.100.1 56324 025\r\n",
	    "PROXY v1: bad port"),
	BAD("v1 port six digits",
	    "PROXY TCP4 192.0.2.7 198.51.100.1 100000 25\r\n",
	    "PROXY v1: bad port"),
	BAD("v1 port sign", "PROXY TCP4 192.0.2.7 198.51.100.1 +1 25\r\n",
	    "PROXY v1: bad port"),
	BAD("v1 port negative", "PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n",
	    "PROXY v1: bad port"),
	BAD("v1 port letters", "PROXY TCP4 192.0.2.7 198.51.100.1 smtp 25\r\n",
	    "PROXY v1: bad port"),
	BAD("an SMTP command", "EHLO client.example\r\n", "not a PROXY header"),
	BAD("HTTP", "GET / HTTP/1.0\r\n", "not a PROXY header"),
	BAD("a blank line", "\r\nEHLO x\r\n", "not a PROXY header"),

	/* ---- v2, valid ---- */
	OK2("v2 tcp4", V2_PROXY "\x11\x00\x0C" INET4_BLOCK, "192.0.2.7", 56324,
	    "198.51.100.1", 25),
	OK2("v2 tcp6", V2_PROXY "\x21\x00\x24" INET6_BLOCK, "2001:db8::7",
	    56324, "2001:db8::1", 25),
	OK2("v2 tcp6 v4-mapped", V2_PROXY "\x21\x00\x24" MAPPED_BLOCK,
	    "192.0.2.7", 1, "10.0.0.1", 65535),
	/* ALPN "h2", an empty NOOP, a CRC32C that is not checked */
	OK2("v2 tcp4 with TLVs",
	    V2_PROXY "\x11\x00\x1B" INET4_BLOCK "\x01\x00\x02h2"
		     "\x04\x00\x00"
		     "\x03\x00\x04\xde\xad\xbe\xef",
	    "192.0.2.7", 56324, "198.51.100.1", 25),
	OK2("v2 tcp6 with unknown TLV type",
	    V2_PROXY "\x21\x00\x2A" INET6_BLOCK "\xEA\x00\x03"
		     "abc",
	    "2001:db8::7", 56324, "2001:db8::1", 25),
	LOCAL("v2 local", V2_LOCAL "\x00\x00\x00", 2),
	LOCAL("v2 local with an address block",
	      V2_LOCAL "\x11\x00\x0C" INET4_BLOCK, 2),
	/* LOCAL: the family and block are to be ignored, even invalid */
	LOCAL("v2 local with junk", V2_LOCAL "\xFF\x00\x03\x01\x02\x03", 2),
	LOCAL("v2 proxy unspec", V2_PROXY "\x00\x00\x00", 2),
	LOCAL("v2 proxy unspec with bytes", V2_PROXY "\x00\x00\x02zz", 2),

	/* ---- v2, malformed ---- */
	BAD("v2 bad signature",
	    "\r\n\r\n\0\r\nQUIT\x0B\x21\x11\x00\x0C" INET4_BLOCK,
	    "not a PROXY header"),
	BAD("v2 signature without NUL", "\r\n\r\nX\r\nQUIT\n\x21\x11\x00\x0C",
	    "not a PROXY header"),
	BAD("v2 version 1", SIG "\x11\x11\x00\x0C" INET4_BLOCK,
	    "PROXY v2: unknown version"),
	BAD("v2 version 3", SIG "\x31\x11\x00\x0C" INET4_BLOCK,
	    "PROXY v2: unknown version"),
	BAD("v2 command 2", SIG "\x22\x11\x00\x0C" INET4_BLOCK,
	    "PROXY v2: unknown command"),
	BAD("v2 command 15", SIG "\x2F\x11\x00\x0C" INET4_BLOCK,
	    "PROXY v2: unknown command"),
	BAD("v2 udp4", V2_PROXY "\x12\x00\x0C" INET4_BLOCK,
	    "PROXY v2: not a stream"),
	BAD("v2 udp6", V2_PROXY "\x22\x00\x24" INET6_BLOCK,
	    "PROXY v2: not a stream"),
	BAD("v2 unix dgram", V2_PROXY "\x32\x00\x00", "PROXY v2: not a stream"),
	BAD("v2 inet unspec transport", V2_PROXY "\x10\x00\x0C" INET4_BLOCK,
	    "PROXY v2: unknown address family"),
	BAD("v2 family 4", V2_PROXY "\x41\x00\x0C" INET4_BLOCK,
	    "PROXY v2: unknown address family"),
	BAD("v2 transport 3", V2_PROXY "\x13\x00\x0C" INET4_BLOCK,
	    "PROXY v2: unknown address family"),
	BAD("v2 tcp4 block short", V2_PROXY "\x11\x00\x0B" INET4_BLOCK,
	    "PROXY v2: address block too short"),
	BAD("v2 tcp6 block short", V2_PROXY "\x21\x00\x0C" INET4_BLOCK,
	    "PROXY v2: address block too short"),
	BAD("v2 unix block short", V2_PROXY "\x31\x00\x0C" INET4_BLOCK,
	    "PROXY v2: address block too short"),
	BAD("v2 tcp4 length zero", V2_PROXY "\x11\x00\x00",
	    "PROXY v2: address block too short"),
	BAD("v2 TLV header cut", V2_PROXY "\x11\x00\x0E" INET4_BLOCK "\x01\x00",
	    "PROXY v2: malformed TLV"),
	BAD("v2 TLV one byte", V2_PROXY "\x11\x00\x0D" INET4_BLOCK "\x04",
	    "PROXY v2: malformed TLV"),
	BAD("v2 TLV value past the end",
	    V2_PROXY "\x11\x00\x11" INET4_BLOCK "\x01\x00\x03h2",
	    "PROXY v2: malformed TLV"),
	BAD("v2 TLV length 65535",
	    V2_PROXY "\x11\x00\x10" INET4_BLOCK "\x04\xFF\xFF"
		     "x",
	    "PROXY v2: malformed TLV"),
	BAD("v2 length 1025", V2_PROXY "\x11\x04\x01" INET4_BLOCK,
	    "PROXY v2: header too long"),
	BAD("v2 length 65535", V2_LOCAL "\x00\xFF\xFF",
	    "PROXY v2: header too long"),
	BAD("a lone NUL", "\0", "not a PROXY header"),
};

static void
check_done(const struct proxy_case *c, const struct pst_proxy_header *h)
{
	char text[PST_NET_ADDRSTRLEN];

	assert_int_equal(h->version, c->version);
	assert_int_equal(h->local, c->local);
	if (c->local) {
		assert_int_equal(h->src.u.sa.sa_family, AF_UNSPEC);
		return;
	}
	assert_string_equal(pst_net_addr_str(&h->src.u.sa, text, sizeof(text)),
			    c->src);
	assert_int_equal(pst_net_port(&h->src.u.sa), c->sport);
	assert_string_equal(pst_net_addr_str(&h->dst.u.sa, text, sizeof(text)),
			    c->dst);
	assert_int_equal(pst_net_port(&h->dst.u.sa), c->dport);
	assert_int_equal(h->src.len, h->src.u.sa.sa_family == AF_INET
					     ? sizeof(struct sockaddr_in)
					     : sizeof(struct sockaddr_in6));
}

/* The input as a heap copy, so that ASan sees any read past it. */
static unsigned char *
copy(const unsigned char *in, size_t len, const char *tail)
{
	size_t tlen = tail ? strlen(tail) : 0;
	unsigned char *p = malloc(len + tlen + 1);

	assert_non_null(p);
	memcpy(p, in, len);
	if (tlen)
		memcpy(p + len, tail, tlen);
	return p;
}

static void
test_whole(void **state)
{
	const struct proxy_case *c = *state;
	struct pst_proxy_header h;
	const char *error = NULL;
	unsigned char *p = copy(c->in, c->len, NULL);
	enum pst_proxy_status st = pst_proxy_parse(p, c->len, &h, &error);

	if (st != c->want)
		fail_msg("%s: status %d, want %d (error %s)", c->name, st,
			 c->want, error ? error : "none");
	if (st == PST_PROXY_ERROR) {
		assert_non_null(error);
		if (strncmp(error, c->error, strlen(c->error)) != 0)
			fail_msg("%s: error \"%s\", want \"%s\"", c->name,
				 error, c->error);
	} else {
		assert_int_equal(h.len, c->len);
		check_done(c, &h);
	}
	free(p);
}

/* What the client sends next does not change the header. */
static void
test_with_command(void **state)
{
	const struct proxy_case *c = *state;
	static const char ehlo[] = "EHLO client.example\r\n";
	struct pst_proxy_header h;
	const char *error = NULL;
	unsigned char *p = copy(c->in, c->len, ehlo);
	enum pst_proxy_status st =
		pst_proxy_parse(p, c->len + strlen(ehlo), &h, &error);

	assert_int_equal(st, c->want);
	if (st == PST_PROXY_DONE) {
		assert_int_equal(h.len, c->len);
		check_done(c, &h);
		assert_memory_equal(p + h.len, ehlo, strlen(ehlo));
	}
	free(p);
}

/* Every strict prefix of a valid header needs more; a malformed header
 * may fail early, but once failed it stays failed. */
static void
test_bytewise(void **state)
{
	const struct proxy_case *c = *state;
	bool failed = false;

	for (size_t n = 0; n <= c->len; n++) {
		struct pst_proxy_header h;
		const char *error = NULL;
		unsigned char *p = copy(c->in, n, NULL);
		enum pst_proxy_status st = pst_proxy_parse(p, n, &h, &error);

		free(p);
		if (n < c->len && c->want == PST_PROXY_DONE) {
			if (st != PST_PROXY_MORE)
				fail_msg("%s: prefix of %zu bytes gave %d (%s)",
					 c->name, n, st, error ? error : "");
			continue;
		}
		if (n == c->len) {
			assert_int_equal(st, c->want);
			continue;
		}
		if (failed && st != PST_PROXY_ERROR)
			fail_msg("%s: failed at a shorter prefix, not at %zu",
				 c->name, n);
		if (st == PST_PROXY_DONE)
			fail_msg("%s: done at %zu bytes", c->name, n);
		failed = st == PST_PROXY_ERROR;
	}
}

/* Nothing at all, and the specification's minimal valid forms. */
static void
test_empty(void **state)
{
	struct pst_proxy_header h;
	const char *error = NULL;

	(void)state;
	assert_int_equal(pst_proxy_parse("", 0, &h, &error), PST_PROXY_MORE);
	assert_null(error);
}

/* The v2 payload bound: exactly PST_PROXY_V2_MAX_PAYLOAD passes. */
static void
test_v2_longest(void **state)
{
	static const unsigned char head[] = V2_PROXY "\x11";
	size_t payload = PST_PROXY_V2_MAX_PAYLOAD;
	size_t len = 16 + payload;
	unsigned char *p = calloc(1, len + 1);
	struct pst_proxy_header h;
	const char *error = NULL;
	char text[PST_NET_ADDRSTRLEN];
	size_t noop = payload - 12 - 3;

	(void)state;
	assert_non_null(p);
	memcpy(p, head, 14);
	p[14] = (unsigned char)(payload >> 8);
	p[15] = (unsigned char)payload;
	memcpy(p + 16, INET4_BLOCK, 12);
	p[28] = 0x04; /* NOOP filling the rest */
	p[29] = (unsigned char)(noop >> 8);
	p[30] = (unsigned char)noop;
	assert_int_equal(pst_proxy_parse(p, len - 1, &h, &error),
			 PST_PROXY_MORE);
	assert_int_equal(pst_proxy_parse(p, len, &h, &error), PST_PROXY_DONE);
	assert_int_equal(h.len, len);
	assert_string_equal(pst_net_addr_str(&h.src.u.sa, text, sizeof(text)),
			    "192.0.2.7");
	/* one byte more is refused before it is even waited for */
	p[15] = (unsigned char)(payload + 1);
	p[14] = (unsigned char)((payload + 1) >> 8);
	assert_int_equal(pst_proxy_parse(p, 16, &h, &error), PST_PROXY_ERROR);
	free(p);
}

/* A unix-socket client has no address to take: keep the real peer. */
static void
test_v2_unix(void **state)
{
	static const unsigned char head[] = V2_PROXY "\x31\x00\xD8";
	unsigned char p[16 + 216];
	struct pst_proxy_header h;
	const char *error = NULL;

	(void)state;
	memset(p, 0, sizeof(p));
	memcpy(p, head, 16);
	memcpy(p + 16, "/run/client.sock", 16);
	assert_int_equal(pst_proxy_parse(p, sizeof(p), &h, &error),
			 PST_PROXY_DONE);
	assert_true(h.local);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.len, sizeof(p));
}

/* Random bytes behind each signature: no crash, no read past the
 * buffer (ASan), and a DONE header never claims more than was given. */
static void
test_random(void **state)
{
	unsigned seed = 7;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(rand_r(&seed) % 200);
		unsigned char *p = malloc(len + 16);
		struct pst_proxy_header h;
		const char *error = NULL;
		enum pst_proxy_status st;

		assert_non_null(p);
		for (size_t j = 0; j < len + 16; j++)
			p[j] = (unsigned char)rand_r(&seed);
		if (i % 2)
			memcpy(p, SIG "\x21", 13);
		else
			memcpy(p, "PROXY TCP4 ", 11);
		len += 16;
		st = pst_proxy_parse(p, len, &h, &error);
		if (st == PST_PROXY_DONE)
			assert_true(h.len <= len);
		if (st == PST_PROXY_ERROR)
			assert_non_null(error);
		free(p);
	}
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_v2_longest),
		cmocka_unit_test(test_v2_unix),
		cmocka_unit_test(test_random),
	};
	static char names[3][N(cases)][96];
	struct CMUnitTest tests[3 * N(cases) + N(more)];
	size_t n = 0;

	/* One test per row and way of feeding, so that TAP names each. */
	for (size_t i = 0; i < N(cases); i++) {
		static const struct {
			const char *suffix;
			CMUnitTestFunction fn;
		} ways[3] = {
			{ "", test_whole },
			{ ", then a command", test_with_command },
			{ ", byte by byte", test_bytewise },
		};

		for (size_t w = 0; w < 3; w++) {
			struct CMUnitTest t = cmocka_unit_test_prestate(
				ways[w].fn, (void *)&cases[i]);

			snprintf(names[w][i], sizeof(names[w][i]), "%s%s",
				 cases[i].name, ways[w].suffix);
			t.name = names[w][i];
			tests[n++] = t;
		}
	}
	for (size_t i = 0; i < N(more); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("proxy", tests, n, NULL, NULL);
}
