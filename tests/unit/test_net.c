/*
 * test_net.c - listen strings, address text, CIDR ranges.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

#include "net.h"

struct hostport_case {
	const char *name;
	const char *in;
	int family;	  /* 0: parse error */
	const char *want; /* hostport text, or the error's start */
};

static const struct hostport_case hostport_cases[] = {
	{ "v4", "127.0.0.1:25", AF_INET, "127.0.0.1:25" },
	{ "v4 any star", "*:25", AF_INET, "0.0.0.0:25" },
	{ "v4 any", "0.0.0.0:2525", AF_INET, "0.0.0.0:2525" },
	{ "v6 loopback", "[::1]:2525", AF_INET6, "[::1]:2525" },
	{ "v6 any", "[::]:25", AF_INET6, "[::]:25" },
	{ "v6 full", "[2001:db8::7]:587", AF_INET6, "[2001:db8::7]:587" },
	{ "v6 mapped shown as v4", "[::ffff:192.0.2.7]:25", AF_INET6,
	  "192.0.2.7:25" },
	{ "highest port", "10.0.0.1:65535", AF_INET, "10.0.0.1:65535" },
	{ "lowest port", "10.0.0.1:1", AF_INET, "10.0.0.1:1" },
	{ "port 0", "10.0.0.1:0", 0, "invalid port" },
	{ "port too big", "10.0.0.1:65536", 0, "invalid port" },
	{ "port six digits", "10.0.0.1:000025", 0, "invalid port" },
	{ "port sign", "10.0.0.1:+25", 0, "invalid port" },
	{ "port letters", "10.0.0.1:smtp", 0, "invalid port" },
	{ "port trailing junk", "10.0.0.1:25x", 0, "invalid port" },
	{ "missing port v4", "10.0.0.1", 0, "missing port" },
	{ "empty port v4", "10.0.0.1:", 0, "missing port" },
	{ "missing port v6", "[::1]", 0, "missing port" },
	{ "empty port v6", "[::1]:", 0, "missing port" },
	{ "v6 without brackets", "::1:25", 0, "an IPv6 address must be" },
	{ "v6 unclosed bracket", "[::1:25", 0, "missing ']'" },
	{ "v6 bad address", "[::g]:25", 0, "invalid IPv6 address" },
	{ "v4 in brackets", "[127.0.0.1]:25", 0, "invalid IPv6 address" },
	{ "bad v4 octet", "256.0.0.1:25", 0, "invalid IPv4 address" },
	{ "short v4", "10.1:25", 0, "invalid IPv4 address" },
	{ "hostname", "localhost:25", 0, "invalid IPv4 address" },
	{ "empty host", ":25", 0, "invalid IPv4 address" },
	{ "empty", "", 0, "empty address" },
	{ "garbage", "\x01\xff:25", 0, "invalid IPv4 address" },
	{ "overlong v6", "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0]:25",
	  0, "invalid IPv6 address" },
};

static void
test_hostport_case(void **state)
{
	const struct hostport_case *c = *state;
	struct pst_sockaddr addr;
	const char *error = NULL;
	char text[PST_NET_ADDRSTRLEN];
	int rc = pst_net_parse_hostport(c->in, &addr, &error);

	if (c->family == 0) {
		assert_int_equal(rc, -1);
		assert_non_null(error);
		if (strncmp(error, c->want, strlen(c->want)) != 0)
			fail_msg("%s: error \"%s\", want \"%s\"", c->in, error,
				 c->want);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(addr.u.sa.sa_family, c->family);
	assert_int_equal(addr.len, c->family == AF_INET
					   ? sizeof(struct sockaddr_in)
					   : sizeof(struct sockaddr_in6));
	assert_string_equal(
		pst_net_hostport_str(&addr.u.sa, text, sizeof(text)), c->want);
}

struct cidr_case {
	const char *name;
	const char *in;
	int family; /* 0: parse error */
	unsigned prefix;
};

static const struct cidr_case cidr_cases[] = {
	{ "cidr v4 /8", "127.0.0.0/8", AF_INET, 8 },
	{ "cidr v4 /24", "192.0.2.0/24", AF_INET, 24 },
	{ "cidr v4 /0", "0.0.0.0/0", AF_INET, 0 },
	{ "cidr v4 bare is /32", "192.0.2.7", AF_INET, 32 },
	{ "cidr v4 /32", "192.0.2.7/32", AF_INET, 32 },
	{ "cidr v6 /32", "2001:db8::/32", AF_INET6, 32 },
	{ "cidr v6 bare is /128", "::1", AF_INET6, 128 },
	{ "cidr v6 /0", "::/0", AF_INET6, 0 },
	{ "cidr v6 /127", "2001:db8::2/127", AF_INET6, 127 },
	{ "cidr v4-mapped becomes v4", "::ffff:192.0.2.0/120", AF_INET, 24 },
	{ "cidr host bits v4", "10.0.0.1/8", 0, 0 },
	{ "cidr host bits v6", "2001:db8::1/32", 0, 0 },
	{ "cidr host bit in partial byte", "192.0.2.128/24", 0, 0 },
	{ "cidr host bit odd prefix", "10.1.0.0/15", 0, 0 },
	{ "cidr v4 prefix too long", "10.0.0.0/33", 0, 0 },
	{ "cidr v6 prefix too long", "::/129", 0, 0 },
	{ "cidr empty prefix", "10.0.0.0/", 0, 0 },
	{ "cidr negative prefix", "10.0.0.0/-1", 0, 0 },
	{ "cidr prefix junk", "10.0.0.0/8x", 0, 0 },
	{ "cidr prefix four digits", "::/0128", 0, 0 },
	{ "cidr bad address", "10.0.0/8", 0, 0 },
	{ "cidr hostname", "example.org/24", 0, 0 },
	{ "cidr empty", "", 0, 0 },
	{ "cidr only slash", "/8", 0, 0 },
};

static void
test_cidr_case(void **state)
{
	const struct cidr_case *c = *state;
	struct pst_cidr cidr;
	const char *error = NULL;
	int rc = pst_cidr_parse(c->in, &cidr, &error);

	if (c->family == 0) {
		assert_int_equal(rc, -1);
		assert_non_null(error);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(cidr.family, c->family);
	assert_int_equal(cidr.prefix, c->prefix);
}

struct match_case {
	const char *name;
	const char *cidr;
	const char *addr; /* "host:port" or "[v6]:port" */
	bool want;
};

static const struct match_case match_cases[] = {
	{ "match v4 inside", "192.0.2.0/24", "192.0.2.77:1", true },
	{ "match v4 outside", "192.0.2.0/24", "192.0.3.1:1", false },
	{ "match v4 odd prefix", "10.0.0.0/15", "10.1.255.255:1", true },
	{ "match v4 odd prefix outside", "10.0.0.0/15", "10.2.0.0:1", false },
	{ "match v4 /0", "0.0.0.0/0", "203.0.113.9:1", true },
	{ "match v4 /32 exact", "192.0.2.7", "192.0.2.7:1", true },
	{ "match v4 /32 other", "192.0.2.7", "192.0.2.8:1", false },
	{ "match v4-mapped client", "127.0.0.0/8", "[::ffff:127.0.0.1]:1",
	  true },
	{ "match v4-mapped outside", "127.0.0.0/8", "[::ffff:10.0.0.1]:1",
	  false },
	{ "match mapped range, v4 client", "::ffff:192.0.2.0/120",
	  "192.0.2.1:1", true },
	{ "match v6 inside", "2001:db8::/32", "[2001:db8:1::5]:1", true },
	{ "match v6 outside", "2001:db8::/32", "[2001:db9::5]:1", false },
	{ "match v6 loopback", "::1", "[::1]:1", true },
	{ "match v6 range, v4 client", "::/0", "127.0.0.1:1", false },
	{ "match v6 /0, mapped client", "::/0", "[::ffff:127.0.0.1]:1", false },
	{ "match v4 range, v6 client", "0.0.0.0/0", "[::1]:1", false },
};

static void
test_match_case(void **state)
{
	const struct match_case *c = *state;
	struct pst_cidr cidr;
	struct pst_sockaddr addr;
	const char *error;

	assert_int_equal(pst_cidr_parse(c->cidr, &cidr, &error), 0);
	assert_int_equal(pst_net_parse_hostport(c->addr, &addr, &error), 0);
	assert_int_equal(pst_cidr_match(&cidr, &addr.u.sa), c->want);
}

static void
test_list_match(void **state)
{
	struct pst_cidr list[2];
	struct pst_sockaddr addr;
	const char *error;

	(void)state;
	assert_int_equal(pst_cidr_parse("127.0.0.0/8", &list[0], &error), 0);
	assert_int_equal(pst_cidr_parse("::1/128", &list[1], &error), 0);
	assert_int_equal(pst_net_parse_hostport("[::1]:25", &addr, &error), 0);
	assert_true(pst_cidr_list_match(list, 2, &addr.u.sa));
	assert_false(pst_cidr_list_match(list, 1, &addr.u.sa));
	assert_false(pst_cidr_list_match(list, 0, &addr.u.sa));
	assert_int_equal(pst_net_parse_hostport("127.0.0.2:25", &addr, &error),
			 0);
	assert_true(pst_cidr_list_match(list, 2, &addr.u.sa));
	assert_int_equal(pst_net_parse_hostport("10.0.0.1:25", &addr, &error),
			 0);
	assert_false(pst_cidr_list_match(list, 2, &addr.u.sa));
}

static void
test_addr_str(void **state)
{
	struct pst_sockaddr addr;
	const char *error;
	char buf[PST_NET_ADDRSTRLEN];
	char small[6];

	(void)state;
	assert_int_equal(
		pst_net_parse_hostport("[::ffff:192.0.2.7]:25", &addr, &error),
		0);
	assert_string_equal(pst_net_addr_str(&addr.u.sa, buf, sizeof(buf)),
			    "192.0.2.7");
	assert_int_equal(pst_net_port(&addr.u.sa), 25);
	assert_int_equal(
		pst_net_parse_hostport("[2001:db8::7]:587", &addr, &error), 0);
	assert_string_equal(pst_net_addr_str(&addr.u.sa, buf, sizeof(buf)),
			    "2001:db8::7");
	assert_int_equal(pst_net_port(&addr.u.sa), 587);
	/* too small a buffer: cut, still terminated */
	assert_string_equal(pst_net_addr_str(&addr.u.sa, small, sizeof(small)),
			    "2001:");
	assert_string_equal(
		pst_net_hostport_str(&addr.u.sa, small, sizeof(small)),
		"[2001");
}

static void
test_addr_str_longest(void **state)
{
	/* the widest IPv6 text fits PST_NET_ADDRSTRLEN with brackets */
	struct pst_sockaddr addr;
	const char *error;
	char buf[PST_NET_ADDRSTRLEN];

	(void)state;
	assert_int_equal(pst_net_parse_hostport("[1111:2222:3333:4444:5555:"
						"6666:7777:8888]:65535",
						&addr, &error),
			 0);
	assert_string_equal(pst_net_hostport_str(&addr.u.sa, buf, sizeof(buf)),
			    "[1111:2222:3333:4444:5555:6666:7777:8888]:65535");
}

static void
test_addr_str_other_family(void **state)
{
	struct sockaddr_un sun;
	char buf[PST_NET_ADDRSTRLEN];

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_string_equal(
		pst_net_addr_str((struct sockaddr *)&sun, buf, sizeof(buf)),
		"unix");
	assert_string_equal(
		pst_net_hostport_str((struct sockaddr *)&sun, buf, sizeof(buf)),
		"unix");
	assert_int_equal(pst_net_port((struct sockaddr *)&sun), 0);
	assert_false(pst_cidr_match(NULL, (struct sockaddr *)&sun));
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_list_match),
		cmocka_unit_test(test_addr_str),
		cmocka_unit_test(test_addr_str_longest),
		cmocka_unit_test(test_addr_str_other_family),
	};
	struct CMUnitTest tests[N(hostport_cases) + N(cidr_cases) +
				N(match_cases) + N(more)];
	size_t n = 0;

	/* One test per table row, so that TAP counts and names each. */
	for (size_t i = 0; i < N(hostport_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_hostport_case, (void *)&hostport_cases[i]);

		t.name = hostport_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(cidr_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_cidr_case, (void *)&cidr_cases[i]);

		t.name = cidr_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(match_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_match_case, (void *)&match_cases[i]);

		t.name = match_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(more); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("net", tests, n, NULL, NULL);
}
