/*
 * test_dns.c - unit tests for util/dns.c and util/dns_answer.c that need
 * no DNS server but the test's own.
 *
 * Hermetic: record parsing, answers built from hand-made libunbound
 * results (hostile ones included), query names, reverse names,
 * configuration errors.  On loopback: a UDP socket that never answers
 * (deadlines) and threads of the test that answer everything with
 * SERVFAIL, at once or a little later (the race between a deadline and
 * an answer).  The answers of a real server are in test_dns_live.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unbound.h>

#include "arena.h"
#include "conf.h"
#include "dns.h"
#include "dns_int.h"
#include "dns_test.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- record parsing (hermetic) ---- */

struct rdata_case {
	const char *name;
	enum pst_dns_type type;
	const char *rd; /* bytes, with explicit length */
	size_t len;
	const char *want; /* dns_test_rr_text(), or NULL: malformed */
};

#define RD(s) (s), (sizeof(s) - 1)

static const struct rdata_case rdata_cases[] = {
	{ "a", PST_DNS_A, RD("\xc0\x00\x02\x01"), "192.0.2.1" },
	{ "a-short", PST_DNS_A, RD("\xc0\x00\x02"), NULL },
	{ "a-long", PST_DNS_A, RD("\xc0\x00\x02\x01\x00"), NULL },
	{ "a-empty", PST_DNS_A, RD(""), NULL },
	{ "aaaa", PST_DNS_AAAA,
	  RD("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"), "2001:db8::1" },
	{ "aaaa-short", PST_DNS_AAAA, RD("\x20\x01\x0d\xb8"), NULL },
	{ "mx", PST_DNS_MX,
	  RD("\x00\x0a\x02mx\x07"
	     "example\x00"),
	  "10 mx.example" },
	{ "mx-pref-max", PST_DNS_MX, RD("\xff\xff\x01m\x00"), "65535 m" },
	{ "mx-null", PST_DNS_MX, RD("\x00\x00\x00"), "0 ." },
	{ "mx-case-kept", PST_DNS_MX,
	  RD("\x00\x01\x02Mx\x02"
	     "Ex\x00"),
	  "1 Mx.Ex" },
	{ "mx-no-name", PST_DNS_MX, RD("\x00\x0a"), NULL },
	{ "mx-unterminated", PST_DNS_MX, RD("\x00\x0a\x02mx"), NULL },
	{ "mx-label-past-end", PST_DNS_MX, RD("\x00\x0a\x09mx\x00"), NULL },
	{ "mx-trailing", PST_DNS_MX, RD("\x00\x0a\x02mx\x00X"), NULL },
	{ "mx-pointer", PST_DNS_MX, RD("\x00\x0a\xc0\x0c"), NULL },
	{ "mx-ext-label", PST_DNS_MX,
	  RD("\x00\x0a\x41"
	     "a\x00"),
	  NULL },
	{ "mx-dot-in-label", PST_DNS_MX,
	  RD("\x00\x0a\x03"
	     "a.b\x00"),
	  NULL },
	{ "mx-nul-in-label", PST_DNS_MX,
	  RD("\x00\x0a\x03"
	     "a\0b\x00"),
	  NULL },
	{ "mx-space", PST_DNS_MX,
	  RD("\x00\x0a\x03"
	     "a b\x00"),
	  NULL },
	{ "mx-8bit", PST_DNS_MX, RD("\x00\x0a\x02\xc3\xa9\x00"), NULL },
	{ "ptr", PST_DNS_PTR, RD("\x04host\x07postern\x04test\x00"),
	  "host.postern.test" },
	{ "ptr-underscore-dash", PST_DNS_PTR, RD("\x05_a-b1\x00"), "_a-b1" },
	{ "ptr-ctl", PST_DNS_PTR,
	  RD("\x04"
	     "a\nbc\x00"),
	  NULL },
	{ "ptr-empty", PST_DNS_PTR, RD(""), NULL },
	{ "txt", PST_DNS_TXT, RD("\x05hello"), "hello" },
	{ "txt-strings-joined", PST_DNS_TXT,
	  RD("\x03"
	     "abc\x00\x02"
	     "de"),
	  "abcde" },
	{ "txt-binary", PST_DNS_TXT,
	  RD("\x04"
	     "a\0\xff\n"),
	  "a\\x00\\xff\\x0a" },
	{ "txt-empty-string", PST_DNS_TXT, RD("\x00"), "" },
	{ "txt-no-string", PST_DNS_TXT, RD(""), NULL },
	{ "txt-past-end", PST_DNS_TXT, RD("\x05hell"), NULL },
	{ "txt-second-past-end", PST_DNS_TXT,
	  RD("\x01"
	     "a\x05"
	     "b"),
	  NULL },
	{ "unknown-type", (enum pst_dns_type)99, RD("\x00"), NULL },
};

static void
test_rdata(void **state)
{
	const struct rdata_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns_rr rr;
	const char *why = NULL;
	int r = pst_dns_rdata_parse(arena, c->type,
				    (const unsigned char *)c->rd, c->len, &rr,
				    &why);

	if (c->want == NULL) {
		assert_int_equal(r, -1);
		assert_non_null(why);
	} else {
		assert_int_equal(r, 0);
		assert_string_equal(dns_test_rr_text(arena, c->type, &rr),
				    c->want);
	}
	pst_arena_free(&arena);
}

/* Names at the limits: 63-byte labels, 255 bytes of wire format. */
static void
test_wire_name_limits(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	unsigned char w[300];
	const char *why = NULL;
	size_t pos, n = 0;

	/* 3 labels of 63 + 1 of 61 = 4 + 250 + root = 255 bytes: fits */
	for (int l = 0; l < 4; l++) {
		size_t len = l < 3 ? 63 : 61;

		w[n++] = (unsigned char)len;
		memset(w + n, 'a' + l, len);
		n += len;
	}
	w[n++] = 0;
	assert_int_equal(n, 255);
	pos = 0;
	const char *name = pst_dns_wire_name(arena, w, n, &pos, &why);

	assert_non_null(name);
	assert_int_equal(strlen(name), 253);
	assert_int_equal(pos, 255);

	/* one more byte in the last label: 256 bytes, refused */
	n = 0;
	for (int l = 0; l < 4; l++) {
		size_t len = l < 3 ? 63 : 62;

		w[n++] = (unsigned char)len;
		memset(w + n, 'a', len);
		n += len;
	}
	w[n++] = 0;
	pos = 0;
	assert_null(pst_dns_wire_name(arena, w, n, &pos, &why));
	assert_string_equal(why, "name longer than 255 bytes");

	/* a label of 64 is not a length */
	w[0] = 64;
	memset(w + 1, 'a', 64);
	w[65] = 0;
	pos = 0;
	assert_null(pst_dns_wire_name(arena, w, 66, &pos, &why));
	pst_arena_free(&arena);
}

/* ---- answers from hand-made libunbound results (hermetic) ---- */

static char *a_data[] = { (char *)"\xc0\x00\x02\x01", (char *)"\xc0\x00\x02",
			  (char *)"\xc0\x00\x02\x02", NULL };
static int a_len[] = { 4, 3, 4 };

static void
test_answer_ok_and_dropped(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	struct ub_result r = { .qtype = 1,
			       .data = a_data,
			       .len = a_len,
			       .havedata = 1,
			       .ttl = 60 };
	struct pst_dns_answer *a =
		pst_dns_answer_build(arena, PST_DNS_A, false, 0, &r);

	assert_int_equal(a->status, PST_DNS_OK);
	assert_string_equal(dns_test_answer_text(arena, a),
			    "192.0.2.1 | 192.0.2.2");
	assert_int_equal(a->dropped, 1);
	assert_string_equal(a->error,
			    "1 records left out: A record not 4 bytes long");
	assert_int_equal(a->ttl, 60);
	assert_false(a->secure);
	pst_arena_free(&arena);
}

static void
test_answer_all_malformed(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	char *data[] = { (char *)"\x00\x0a\x03"
				 "a b\x00",
			 NULL };
	int len[] = { 7 };
	struct ub_result r = {
		.qtype = 15, .data = data, .len = len, .havedata = 1
	};
	struct pst_dns_answer *a =
		pst_dns_answer_build(arena, PST_DNS_MX, false, 0, &r);

	assert_int_equal(a->status, PST_DNS_NODATA);
	assert_int_equal(a->n, 0);
	assert_int_equal(a->dropped, 1);
	assert_non_null(strstr(a->error, "all 1 records malformed"));
	pst_arena_free(&arena);
}

static void
test_answer_too_many(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	enum { N = PST_DNS_MAX_RR + 88 };
	char **data = calloc(N + 1, sizeof(*data));
	int *len = calloc(N, sizeof(*len));

	for (int i = 0; i < N; i++) {
		data[i] = (char *)"\xc0\x00\x02\x01";
		len[i] = 4;
	}
	struct ub_result r = {
		.qtype = 1, .data = data, .len = len, .havedata = 1
	};
	struct pst_dns_answer *a =
		pst_dns_answer_build(arena, PST_DNS_A, false, 0, &r);

	assert_int_equal(a->status, PST_DNS_OK);
	assert_int_equal(a->n, PST_DNS_MAX_RR);
	assert_int_equal(a->dropped, 88);
	free(data);
	free(len);
	pst_arena_free(&arena);
}

struct result_case {
	const char *name;
	bool dnssec;
	int err;
	struct ub_result r;
	bool null_result;
	enum pst_dns_status want;
	const char *want_error; /* substring, or NULL: no error text */
	bool want_bogus, want_secure;
	size_t want_n;
};

static char *one_a[] = { (char *)"\xc0\x00\x02\x01", NULL };
static int one_a_len[] = { 4 };
static int neg_len[] = { -4 };
static char *no_data[] = { NULL };

static const struct result_case result_cases[] = {
	{ "nxdomain", .r = { .qtype = 1, .rcode = 3, .nxdomain = 1 },
	  .want = PST_DNS_NXDOMAIN },
	{ "nodata", .r = { .qtype = 1, .data = no_data },
	  .want = PST_DNS_NODATA },
	{ "nodata-null-data", .r = { .qtype = 1, .havedata = 1 },
	  .want = PST_DNS_NODATA },
	{ "servfail", .r = { .qtype = 1, .rcode = 2 }, .want = PST_DNS_TEMPFAIL,
	  .want_error = "SERVFAIL" },
	{ "refused", .r = { .qtype = 1, .rcode = 5 }, .want = PST_DNS_TEMPFAIL,
	  .want_error = "REFUSED" },
	{ "formerr", .r = { .qtype = 1, .rcode = 1 }, .want = PST_DNS_TEMPFAIL,
	  .want_error = "FORMERR" },
	{ "odd-rcode", .r = { .qtype = 1, .rcode = 9 },
	  .want = PST_DNS_TEMPFAIL, .want_error = "rcode 9" },
	{ "ub-error", .err = UB_NOMEM, .null_result = true,
	  .want = PST_DNS_TEMPFAIL, .want_error = "out of memory" },
	{ "no-result", .null_result = true, .want = PST_DNS_TEMPFAIL,
	  .want_error = "no result" },
	{ "other-type",
	  .r = { .qtype = 28, .data = one_a, .len = one_a_len, .havedata = 1 },
	  .want = PST_DNS_TEMPFAIL, .want_error = "another record type" },
	{ "negative-len",
	  .r = { .qtype = 1, .data = one_a, .len = neg_len, .havedata = 1 },
	  .want = PST_DNS_NODATA, .want_error = "negative record length" },
	/* libunbound hands out the data of a bogus answer: never used */
	{ "bogus", .dnssec = true,
	  .r = { .qtype = 1,
		 .data = one_a,
		 .len = one_a_len,
		 .havedata = 1,
		 .bogus = 1,
		 .why_bogus = (char *)"sig\nexpired\x01" },
	  .want = PST_DNS_TEMPFAIL,
	  .want_error = "DNSSEC validation failed: sig?expired?",
	  .want_bogus = true },
	{ "bogus-ignored-without-dnssec",
	  .r = { .qtype = 1,
		 .data = one_a,
		 .len = one_a_len,
		 .havedata = 1,
		 .bogus = 1 },
	  .want = PST_DNS_OK, .want_n = 1 },
	{ "secure", .dnssec = true,
	  .r = { .qtype = 1,
		 .data = one_a,
		 .len = one_a_len,
		 .havedata = 1,
		 .secure = 1 },
	  .want = PST_DNS_OK, .want_secure = true, .want_n = 1 },
	{ "secure-nxdomain", .dnssec = true,
	  .r = { .qtype = 1, .rcode = 3, .nxdomain = 1, .secure = 1 },
	  .want = PST_DNS_NXDOMAIN, .want_secure = true },
};

static void
test_result(void **state)
{
	const struct result_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns_answer *a =
		pst_dns_answer_build(arena, PST_DNS_A, c->dnssec, c->err,
				     c->null_result ? NULL : &c->r);

	assert_non_null(a);
	assert_int_equal(a->status, c->want);
	assert_int_equal(a->type, PST_DNS_A);
	if (c->want_error != NULL) {
		assert_non_null(a->error);
		if (strstr(a->error, c->want_error) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"", a->error,
				 c->want_error);
	} else {
		assert_null(a->error);
	}
	assert_int_equal(a->bogus, c->want_bogus);
	assert_int_equal(a->secure, c->want_secure);
	assert_int_equal(a->n, c->want_n);
	pst_arena_free(&arena);
}

/* ---- query names and reverse names (hermetic) ---- */

static void
test_name_check(void **state)
{
	(void)state;
	char l63[64], l64[65], long_name[300];

	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	assert_null(pst_dns_name_check("example.org"));
	assert_null(pst_dns_name_check("example.org."));
	assert_null(pst_dns_name_check("_spf.Example.ORG"));
	/* SPF macros expand to such names: they must go through */
	assert_null(
		pst_dns_name_check("strong-bad@email.example.com.bl.example"));
	assert_null(pst_dns_name_check("a+b=c._spf.example"));
	assert_null(pst_dns_name_check(l63));
	assert_non_null(pst_dns_name_check(l64));
	assert_non_null(pst_dns_name_check(NULL));
	assert_non_null(pst_dns_name_check(""));
	assert_non_null(pst_dns_name_check("."));
	assert_non_null(pst_dns_name_check("a..b"));
	assert_non_null(pst_dns_name_check(".a"));
	assert_non_null(pst_dns_name_check("a.b.."));
	/* any byte but '.' is a label byte, sent as it stands */
	assert_null(pst_dns_name_check("a b.example"));
	assert_null(pst_dns_name_check("a\\.b.example"));
	assert_null(pst_dns_name_check("a\tb"));
	assert_null(pst_dns_name_check("caf\xc3\xa9.example"));

	/* 253 characters pass, with or without the final dot; 254 not */
	size_t n = 0;

	while (n + 64 <= 253) {
		memcpy(long_name + n, l63, 63);
		n += 63;
		long_name[n++] = '.';
	}
	while (n < 253)
		long_name[n++] = 'b';
	long_name[n] = '\0';
	assert_int_equal(strlen(long_name), 253);
	assert_null(pst_dns_name_check(long_name));
	strcat(long_name, ".");
	assert_null(pst_dns_name_check(long_name));
	long_name[253] = 'b';
	assert_non_null(pst_dns_name_check(long_name));
}

struct escape_case {
	const char *name, *want;
};

static const struct escape_case escape_cases[] = {
	{ "example.org", "example.org" },
	{ "Example.ORG.", "Example.ORG." },
	{ "_spf.a-b.example", "_spf.a-b.example" },
	{ "a b.example", "a\\032b.example" },
	{ "a\\.b", "a\\092.b" },
	{ "\\092", "\\092092" },
	{ "caf\xc3\xa9", "caf\\195\\169" },
	{ "x\x7f\x01", "x\\127\\001" },
	{ "@;()\"$", "@;()\"$" },
};

static void
test_name_escape(void **state)
{
	(void)state;
	char out[64];

	for (size_t i = 0; i < N_ELEMS(escape_cases); i++) {
		assert_int_equal(pst_dns_name_escape(out, sizeof(out),
						     escape_cases[i].name),
				 0);
		assert_string_equal(out, escape_cases[i].want);
	}
	/* exactly full, and one byte short */
	assert_int_equal(pst_dns_name_escape(out, 4, "abcd"), -1);
	assert_int_equal(pst_dns_name_escape(out, 5, "abcd"), 0);
	assert_int_equal(pst_dns_name_escape(out, 5, "\\"), 0);
	assert_string_equal(out, "\\092");
	assert_int_equal(pst_dns_name_escape(out, 4, "\\"), -1);
}

static void
test_reverse_name(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	unsigned char v4[4] = { 192, 0, 2, 10 };
	unsigned char v6[16];

	inet_pton(AF_INET6, "2001:db8::10", v6);
	assert_string_equal(pst_dns_reverse_name(arena, AF_INET, v4),
			    "10.2.0.192.in-addr.arpa");
	assert_string_equal(pst_dns_reverse_name(arena, AF_INET6, v6),
			    "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
			    "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_null(pst_dns_reverse_name(arena, AF_UNIX, v4));
	assert_string_equal(pst_dns_status_name(PST_DNS_NXDOMAIN), "nxdomain");
	pst_arena_free(&arena);
}

/* ---- configuration (hermetic: nothing is sent) ---- */

struct config_case {
	const char *name;
	const char *servers[3];
	uint64_t timeout;
	bool dnssec;
	const char *anchor;	/* file content, or "-" for a missing file */
	const char *resolv;	/* file content, or "-" for a missing file */
	const char *want_error; /* substring, or NULL: accepted */
};

static const struct config_case config_cases[] = {
	{ "v4", { "127.0.0.1" } },
	{ "v4-port", { "127.0.0.1:5353" } },
	{ "v6", { "::1" } },
	{ "v6-port", { "[::1]:5353" } },
	{ "v6-brackets", { "[2001:db8::53]" } },
	{ "several", { "192.0.2.1", "192.0.2.2:53", "[::1]:53" } },
	{ "hostname", { "ns.example.org" }, .want_error = "not an IP" },
	{ "hostname-port", { "ns.example.org:53" }, .want_error = "not an IP" },
	{ "port-zero", { "127.0.0.1:0" }, .want_error = "bad port" },
	{ "port-big", { "127.0.0.1:65536" }, .want_error = "bad port" },
	{ "port-junk", { "127.0.0.1:53x" }, .want_error = "bad port" },
	{ "port-sign", { "127.0.0.1:-53" }, .want_error = "bad port" },
	{ "port-empty", { "127.0.0.1:" }, .want_error = "bad port" },
	{ "v6-unclosed", { "[::1:53" }, .want_error = "[IPv6]:PORT" },
	{ "v6-junk", { "[::1]x53" }, .want_error = "[IPv6]:PORT" },
	{ "v6-scope", { "fe80::1%eth0" }, .want_error = "not an IP" },
	{ "empty", { "" }, .want_error = "empty" },
	{ "timeout-zero",
	  { "127.0.0.1" },
	  .timeout = 0,
	  .want_error = "timeout" },
	{ "dnssec-no-anchor",
	  { "127.0.0.1" },
	  .dnssec = true,
	  .want_error = "needs a trust_anchor" },
	{ "dnssec-missing-anchor",
	  { "127.0.0.1" },
	  .dnssec = true,
	  .anchor = "-",
	  .want_error = "No such file" },
	{ "dnssec-garbage-anchor",
	  { "127.0.0.1" },
	  .dnssec = true,
	  .anchor = "this is not a DS record\n",
	  .want_error = "cannot start the resolver: parse error in " },
	{ "dnssec-anchor",
	  { "127.0.0.1" },
	  .dnssec = true,
	  .anchor =
		  "postern.test. DS 12345 13 2 "
		  "0000000000000000000000000000000000000000000000000000000000000000\n" },
	{ "resolv-conf",
	  .resolv = "search example.org\nnameserver 192.0.2.53\n" },
	{ "resolv-conf-missing", .resolv = "-", .want_error = "No such file" },
};

static void
test_config(void **state)
{
	const struct config_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns_config cfg;
	struct pst_dns *dns = NULL;
	const char *error = NULL;

	pst_dns_config_init(&cfg);
	cfg.nameserver.v = (const char **)c->servers;
	while (cfg.nameserver.n < N_ELEMS(c->servers) &&
	       c->servers[cfg.nameserver.n] != NULL)
		cfg.nameserver.n++;
	if (strcmp(c->name, "timeout-zero") == 0)
		cfg.timeout = 0;
	cfg.dnssec = c->dnssec;
	if (c->anchor != NULL)
		cfg.trust_anchor =
			strcmp(c->anchor, "-") == 0
				? "/nonexistent/anchor"
				: dns_test_tmp_file(arena, "anchor", c->anchor);
	if (c->resolv != NULL)
		cfg.resolv_conf =
			strcmp(c->resolv, "-") == 0
				? "/nonexistent/resolv.conf"
				: dns_test_tmp_file(arena, "resolv.conf",
						    c->resolv);

	int r = pst_dns_new(arena, &cfg, &dns, &error);

	if (c->want_error == NULL) {
		if (r != 0)
			fail_msg("unexpected error: %s", error);
		assert_non_null(dns);
	} else {
		assert_int_equal(r, -1);
		assert_null(dns);
		if (strstr(error, c->want_error) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"", error,
				 c->want_error);
		assert_non_null(strstr(error, "dns: "));
	}
	pst_dns_free(&dns);
	assert_null(dns);
	pst_dns_free(&dns); /* NULL is fine */
	pst_arena_free(&arena);
}

/* The dns { } block binds onto the config through the field table. */
static void
test_config_bind(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	static const char text[] =
		"dns { nameserver = [\"127.0.0.1:5353\", \"[::1]:53\"];\n"
		"      timeout = 3s; dnssec = yes;\n"
		"      trust_anchor = \"/etc/postern/root.key\";\n"
		"      cache_size = 1M; }\n";
	struct pst_conf_node *root = NULL;
	const char *error = NULL;
	struct pst_dns_config cfg;

	pst_dns_config_init(&cfg);
	assert_int_equal(cfg.timeout, 5000);
	assert_string_equal(cfg.resolv_conf, "/etc/resolv.conf");
	assert_int_equal(pst_conf_parse_string(arena, NULL, text,
					       sizeof(text) - 1, &root, &error),
			 0);
	assert_int_equal(pst_conf_bind(arena, root->child, pst_dns_conf_fields,
				       &cfg, &error),
			 0);
	assert_int_equal(cfg.nameserver.n, 2);
	assert_string_equal(cfg.nameserver.v[1], "[::1]:53");
	assert_int_equal(cfg.timeout, 3000);
	assert_true(cfg.dnssec);
	assert_string_equal(cfg.trust_anchor, "/etc/postern/root.key");
	assert_int_equal(cfg.cache_size, 1u << 20);

	static const char bad[] = "dns { timeout = 0; }\n";

	pst_dns_config_init(&cfg);
	assert_int_equal(pst_conf_parse_string(arena, NULL, bad,
					       sizeof(bad) - 1, &root, &error),
			 0);
	assert_int_equal(pst_conf_bind(arena, root->child, pst_dns_conf_fields,
				       &cfg, &error),
			 -1);
	assert_non_null(strstr(error, "timeout"));
	pst_arena_free(&arena);
}

/* ---- the test's own servers on loopback ---- */

/* A UDP server of the test's own that answers every query with SERVFAIL
 * (QR and RA set, RCODE 2, the rest echoed), delay_ms after it came. */
struct responder {
	int fd;
	unsigned port;
	unsigned delay_ms;
	pthread_t thread;
	bool started;
};

static struct {
	int silent_fd; /* bound, never read: nothing answers */
	unsigned silent_port;
	struct responder servfail, slow;
	atomic_bool stop;
} srv = { .silent_fd = -1, .servfail = { .fd = -1 }, .slow = { .fd = -1 } };

#define RESPONDER_PENDING 256

struct pending {
	unsigned char buf[512];
	size_t len;
	struct sockaddr_storage from;
	socklen_t flen;
	double due;
};

static void *
responder_main(void *arg)
{
	struct responder *r = arg;
	struct pending *q = calloc(RESPONDER_PENDING, sizeof(*q));
	size_t n = 0;

	while (q != NULL && !atomic_load(&srv.stop)) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		double now = dns_test_now_ms();

		/* answer what is due, oldest first */
		for (size_t i = 0; i < n;) {
			if (q[i].due > now) {
				i++;
				continue;
			}
			q[i].buf[2] |= 0x80;
			q[i].buf[3] = 0x80 | 2;
			sendto(r->fd, q[i].buf, q[i].len, 0,
			       (struct sockaddr *)&q[i].from, q[i].flen);
			q[i] = q[--n];
		}
		if (poll(&p, 1, n > 0 ? 1 : 20) <= 0 || n == RESPONDER_PENDING)
			continue;
		struct pending *e = &q[n];
		ssize_t len;

		e->flen = sizeof(e->from);
		len = recvfrom(r->fd, e->buf, sizeof(e->buf), 0,
			       (struct sockaddr *)&e->from, &e->flen);
		if (len < 12)
			continue;
		e->len = (size_t)len;
		e->due = dns_test_now_ms() + r->delay_ms;
		n++;
	}
	free(q);
	return NULL;
}

static int
responder_start(struct responder *r, unsigned delay_ms)
{
	r->delay_ms = delay_ms;
	r->fd = dns_test_udp_socket(&r->port);
	if (r->fd < 0 || pthread_create(&r->thread, NULL, responder_main, r))
		return -1;
	r->started = true;
	return 0;
}

static void
responder_stop(struct responder *r)
{
	if (r->started)
		pthread_join(r->thread, NULL);
	if (r->fd >= 0)
		close(r->fd);
}

static int
group_setup(void **state)
{
	(void)state;
	if (dns_test_tmpdir_make() < 0)
		return -1;
	srv.silent_fd = dns_test_udp_socket(&srv.silent_port);
	if (srv.silent_fd < 0 || responder_start(&srv.servfail, 0) < 0 ||
	    responder_start(&srv.slow, 8) < 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	atomic_store(&srv.stop, true);
	responder_stop(&srv.servfail);
	responder_stop(&srv.slow);
	if (srv.silent_fd >= 0)
		close(srv.silent_fd);
	dns_test_tmpdir_remove();
	return 0;
}

/* Nothing answers: the deadline holds, within a margin for a loaded
 * machine and the sanitizers. */
#define DEADLINE_MARGIN_MS 400.0

static void
test_timeout(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns *dns =
		dns_test_resolver(arena, srv.silent_port, 500, NULL);
	const struct pst_dns_answer *a;
	double t0 = dns_test_now_ms();

	assert_int_equal(
		pst_dns_lookup(dns, arena, "host.postern.test", PST_DNS_A, &a),
		PST_DNS_TEMPFAIL);
	double ms = dns_test_now_ms() - t0;

	assert_true(ms >= 495.0);
	if (ms > 500.0 + DEADLINE_MARGIN_MS)
		fail_msg("took %.0f ms with a 500 ms timeout", ms);
	assert_string_equal(a->error, "no answer within 500 ms");

	/* a lookup's own, shorter deadline */
	t0 = dns_test_now_ms();
	assert_int_equal(pst_dns_lookup_timeout(dns, arena, "mx.postern.test",
						PST_DNS_MX, 200, &a),
			 PST_DNS_TEMPFAIL);
	ms = dns_test_now_ms() - t0;
	assert_true(ms >= 195.0 && ms <= 200.0 + DEADLINE_MARGIN_MS);
	assert_string_equal(a->error, "no answer within 200 ms");
	assert_int_equal(pst_dns_lookup_packet(dns, arena, "mx.postern.test",
					       PST_DNS_MX, 100, &a),
			 PST_DNS_TEMPFAIL);
	assert_null(a->packet);
	/* freed at once, with queries still in flight inside libunbound */
	pst_dns_free(&dns);
	pst_arena_free(&arena);
}

static void
test_servfail(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns *dns =
		dns_test_resolver(arena, srv.servfail.port, 3000, NULL);
	const struct pst_dns_answer *a;

	assert_int_equal(
		pst_dns_lookup(dns, arena, "host.postern.test", PST_DNS_A, &a),
		PST_DNS_TEMPFAIL);
	assert_non_null(strstr(a->error, "SERVFAIL"));
	assert_int_equal(a->n, 0);
	assert_int_equal(pst_dns_lookup_packet(dns, arena, "host.postern.test",
					       PST_DNS_A, 0, &a),
			 PST_DNS_TEMPFAIL);
	assert_null(a->packet);
	pst_dns_free(&dns);
	pst_arena_free(&arena);
}

/* ---- many threads on one resolver ---- */

#define THREADS 16

/* Many threads time out at once: each keeps its deadline, and the queries
 * cancelled or abandoned in flight leak nothing (ASan). */
struct timeout_arg {
	struct pst_dns *dns;
	unsigned ms;
	double took;
	enum pst_dns_status st;
};

static void *
timeout_main(void *p)
{
	struct timeout_arg *t = p;
	struct pst_arena *arena = pst_arena_new(0);
	const struct pst_dns_answer *a;
	char name[64];
	double t0 = dns_test_now_ms();

	snprintf(name, sizeof(name), "t%u.postern.test", t->ms);
	t->st = pst_dns_lookup_timeout(t->dns, arena, name, PST_DNS_TXT, t->ms,
				       &a);
	t->took = dns_test_now_ms() - t0;
	pst_arena_free(&arena);
	return NULL;
}

static void
test_threads_timeout(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns *dns =
		dns_test_resolver(arena, srv.silent_port, 5000, NULL);
	struct timeout_arg args[THREADS];
	pthread_t tid[THREADS];

	for (unsigned i = 0; i < THREADS; i++) {
		args[i] =
			(struct timeout_arg){ .dns = dns, .ms = 100 + 25 * i };
		assert_int_equal(
			pthread_create(&tid[i], NULL, timeout_main, &args[i]),
			0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(args[i].st, PST_DNS_TEMPFAIL);
		if (args[i].took < args[i].ms - 5.0 ||
		    args[i].took > args[i].ms + DEADLINE_MARGIN_MS)
			fail_msg("thread %u: %.0f ms for a %u ms deadline", i,
				 args[i].took, args[i].ms);
	}
	pst_dns_free(&dns);
	pst_arena_free(&arena);
}

/* Answers that come just as deadlines pass: the responder answers after
 * 8 ms (libunbound asks 5 times: about 40 ms), the lookups wait 10 to
 * 130 ms, and each answer dawdles 5 ms on the dispatcher thread before
 * it is handed over, so that some waiters give up after libunbound has
 * committed to the callback.  Whichever wins, the waiter or the callback
 * frees the query, once (ASan, TSan); the deadline holds. */
#define RACE_ROUNDS 25

struct race_arg {
	struct pst_dns *dns;
	unsigned id;
	int timeouts, servfails, other, late;
};

static void *
race_main(void *p)
{
	struct race_arg *t = p;
	struct pst_arena *arena = pst_arena_new(0);

	for (unsigned i = 0; i < RACE_ROUNDS; i++) {
		const struct pst_dns_answer *a;
		unsigned ms = 10 + (t->id * 7 + i * 13) % 121;
		char name[64];
		double t0 = dns_test_now_ms();

		snprintf(name, sizeof(name), "r%u-%u.postern.test", t->id, i);
		enum pst_dns_status st = pst_dns_lookup_timeout(
			t->dns, arena, name, PST_DNS_A, ms, &a);
		double took = dns_test_now_ms() - t0;

		if (took > ms + DEADLINE_MARGIN_MS)
			t->late++;
		if (st == PST_DNS_TEMPFAIL && a->error != NULL &&
		    strncmp(a->error, "no answer within", 16) == 0)
			t->timeouts++;
		else if (st == PST_DNS_TEMPFAIL && a->error != NULL &&
			 strstr(a->error, "SERVFAIL") != NULL)
			t->servfails++;
		else
			t->other++;
		pst_arena_reset(arena);
	}
	pst_arena_free(&arena);
	return NULL;
}

static void
race_hook(void)
{
	usleep(5000);
}

static void
test_deadline_race(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);

	pst_dns_answer_hook = race_hook;
	struct pst_dns *dns =
		dns_test_resolver(arena, srv.slow.port, 5000, NULL);
	struct race_arg args[THREADS];
	pthread_t tid[THREADS];
	int timeouts = 0, servfails = 0;

	for (unsigned i = 0; i < THREADS; i++) {
		args[i] = (struct race_arg){ .dns = dns, .id = i };
		assert_int_equal(
			pthread_create(&tid[i], NULL, race_main, &args[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(args[i].late, 0);
		assert_int_equal(args[i].other, 0);
		timeouts += args[i].timeouts;
		servfails += args[i].servfails;
	}
	/* both ends of the race were reached */
	assert_true(timeouts > 0);
	assert_true(servfails > 0);
	pst_dns_free(&dns);
	pst_dns_answer_hook = NULL;
	pst_arena_free(&arena);
}

#define CASE(fn, c)                                                            \
	{                                                                      \
		(c).name, (fn), NULL, NULL, (void *)&(c)                       \
	}

int
main(void)
{
	struct CMUnitTest tests[N_ELEMS(rdata_cases) + N_ELEMS(result_cases) +
				N_ELEMS(config_cases) + 16];
	size_t n = 0;

	for (size_t i = 0; i < N_ELEMS(rdata_cases); i++)
		tests[n++] =
			(struct CMUnitTest)CASE(test_rdata, rdata_cases[i]);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_wire_name_limits);
	tests[n++] =
		(struct CMUnitTest)cmocka_unit_test(test_answer_ok_and_dropped);
	tests[n++] =
		(struct CMUnitTest)cmocka_unit_test(test_answer_all_malformed);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_answer_too_many);
	for (size_t i = 0; i < N_ELEMS(result_cases); i++)
		tests[n++] =
			(struct CMUnitTest)CASE(test_result, result_cases[i]);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_name_check);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_name_escape);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reverse_name);
	for (size_t i = 0; i < N_ELEMS(config_cases); i++)
		tests[n++] =
			(struct CMUnitTest)CASE(test_config, config_cases[i]);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_config_bind);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_timeout);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_servfail);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_threads_timeout);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_deadline_race);
	return _cmocka_run_group_tests("dns", tests, n, group_setup,
				       group_teardown);
}
