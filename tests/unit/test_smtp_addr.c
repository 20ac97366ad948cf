/*
 * test_smtp_addr.c - RFC 5321 paths as the relay check will see them.
 *
 * One table row per path: what the parser must accept (with the flags,
 * local part, domain and consumed length a caller relies on) and what it
 * must refuse (with the enhanced code, or the whole text where the reason
 * matters).  Then HELO-style domain checks and formatting.
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

#include "smtp_addr.h"

/* Options */
#define N SMTP_ADDR_ALLOW_NULL
#define P SMTP_ADDR_ALLOW_POSTMASTER
#define U SMTP_ADDR_ALLOW_UTF8
#define L SMTP_ADDR_ALLOW_NO_BRACKETS
/* Flags */
#define F_NULL SMTP_ADDR_F_NULL
#define F_PM SMTP_ADDR_F_POSTMASTER
#define F_Q SMTP_ADDR_F_QUOTED
#define F_IP SMTP_ADDR_F_IPLITERAL
#define F_U8 SMTP_ADDR_F_UTF8
#define F_SR SMTP_ADDR_F_SOURCE_ROUTE
#define F_RT SMTP_ADDR_F_ROUTING
#define F_NB SMTP_ADDR_F_NO_BRACKETS

/* Long parts, built from literals so that the table stays readable. */
#define A10 "aaaaaaaaaa"
#define A60 A10 A10 A10 A10 A10 A10
#define A61 A60 "a"
#define A62 A60 "aa"
#define A63 A60 "aaa"
#define A64 A60 "aaaa"
#define A65 A60 "aaaaa"
#define D252 A63 "." A63 "." A63 "." A60 /* "<a@" D252 ">" is 256 */
#define D253 A63 "." A63 "." A63 "." A61
#define D255 A63 "." A63 "." A63 "." A63
#define D256 A63 "." A63 "." A63 "." A62 ".a"

#define E_SYN "5.1.3"
#define E_UTF8 "5.6.7"

struct addr_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	unsigned opts;
	int ret;
	unsigned flags;
	const char *local;
	const char *domain;
	size_t consumed; /* 0: all of the input */
	const char *err; /* prefix of the error text */
};

#define OK(n, i, o, f, l, d)                                                   \
	{                                                                      \
		.name = n, .in = i, .opts = o, .flags = f, .local = l,         \
		.domain = d                                                    \
	}
#define OKC(n, i, o, f, l, d, c)                                               \
	{                                                                      \
		.name = n, .in = i, .opts = o, .flags = f, .local = l,         \
		.domain = d, .consumed = c                                     \
	}
#define BAD(n, i, o, e)                                                        \
	{                                                                      \
		.name = n, .in = i, .opts = o, .ret = -1, .err = e             \
	}
#define BADN(n, i, ln, o, e)                                                   \
	{                                                                      \
		.name = n, .in = i, .len = ln, .opts = o, .ret = -1, .err = e  \
	}

static const struct addr_case cases[] = {
	/* plain mailboxes */
	OK("plain", "<user@example.org>", 0, 0, "user", "example.org"),
	OK("dotted local part", "<first.last@mail.example.org>", 0, 0,
	   "first.last", "mail.example.org"),
	OK("atext specials", "<a+tag{x}'y=z?#$&*/^_`|~-@example.org>", 0, 0,
	   "a+tag{x}'y=z?#$&*/^_`|~-", "example.org"),
	OK("single-label domain", "<root@localhost>", 0, 0, "root",
	   "localhost"),
	OK("numeric labels", "<user@123.example>", 0, 0, "user", "123.example"),
	OK("hyphen inside label", "<user@ex-am--ple.org>", 0, 0, "user",
	   "ex-am--ple.org"),
	OK("A-label", "<user@xn--bcher-kva.example>", 0, 0, "user",
	   "xn--bcher-kva.example"),
	OK("case kept", "<User@Example.ORG>", 0, 0, "User", "Example.ORG"),
	OKC("parameters follow", "<user@example.org> SIZE=100", 0, 0, "user",
	    "example.org", 18),
	OKC("trailing junk left to the caller", "<user@example.org>junk", 0, 0,
	    "user", "example.org", 18),
	OKC("second bracket left to the caller", "<a@b.example>>", 0, 0, "a",
	    "b.example", 13),

	/* null path and postmaster */
	OK("null sender", "<>", N, F_NULL, "", ""),
	OKC("null sender with params", "<> BODY=8BITMIME", N, F_NULL, "", "",
	    2),
	BAD("null path refused for RCPT", "<>", P, "5.1.3 Null address"),
	OK("postmaster", "<postmaster>", P, F_PM, "postmaster", ""),
	OK("Postmaster any case, kept as written", "<PostMaster>", P | U, F_PM,
	   "PostMaster", ""),
	BAD("postmaster without option", "<postmaster>", N,
	    "5.1.3 Address lacks a domain"),
	OK("postmaster with domain is ordinary", "<postmaster@example.org>", P,
	   0, "postmaster", "example.org"),
	BAD("postmaster behind source route", "<@a.example:postmaster>", P,
	    "5.1.3 Address lacks a domain"),
	BAD("quoted postmaster", "<\"postmaster\">", P, E_SYN),
	BAD("other bare local part", "<user>", P,
	    "5.1.3 Address lacks a domain"),

	/* quoted local parts */
	OK("quoted with space", "<\"john doe\"@example.org>", 0, F_Q,
	   "\"john doe\"", "example.org"),
	OK("quoted with escapes", "<\"a\\\"b\\\\c\"@example.org>", 0, F_Q,
	   "\"a\\\"b\\\\c\"", "example.org"),
	OK("empty quoted string", "<\"\"@example.org>", 0, F_Q, "\"\"",
	   "example.org"),
	OK("quoted @ is routing", "<\"a@b\"@example.org>", 0, F_Q | F_RT,
	   "\"a@b\"", "example.org"),
	OK("escaped @ is routing too", "<\"a\\@b\"@example.org>", 0, F_Q | F_RT,
	   "\"a\\@b\"", "example.org"),
	OK("quoted percent", "<\"u%h\"@example.org>", 0, F_Q | F_RT, "\"u%h\"",
	   "example.org"),
	OK("quoted bang", "<\"h!u\"@example.org>", 0, F_Q | F_RT, "\"h!u\"",
	   "example.org"),
	BAD("tab inside quotes", "<\"a\tb\"@example.org>", 0,
	    "5.1.3 Control character"),
	BAD("unterminated quote", "<\"abc@example.org>", 0,
	    "5.1.3 Unterminated quoted string"),
	BAD("escape of a control character", "<\"a\\\x01\"@example.org>", 0,
	    "5.1.3 Control character"),
	BAD("text after closing quote", "<\"a\"b@example.org>", 0, E_SYN),

	/* address literals */
	OK("IPv4 literal", "<user@[192.0.2.1]>", 0, F_IP, "user",
	   "[192.0.2.1]"),
	OK("IPv6 literal", "<user@[IPv6:2001:db8::1]>", 0, F_IP, "user",
	   "[IPv6:2001:db8::1]"),
	OK("IPv6 tag any case, v4 tail", "<u@[ipv6:::ffff:192.0.2.1]>", 0, F_IP,
	   "u", "[ipv6:::ffff:192.0.2.1]"),
	OK("IPv6 unspecified", "<u@[IPv6:::]>", 0, F_IP, "u", "[IPv6:::]"),
	BAD("IPv4 octet > 255", "<user@[192.0.2.256]>", 0,
	    "5.1.3 Bad address literal"),
	BAD("IPv4 three parts", "<user@[192.0.2]>", 0, E_SYN),
	BAD("IPv4 leading zero", "<user@[192.0.2.01]>", 0, E_SYN),
	BAD("IPv4 trailing dot", "<user@[192.0.2.1.]>", 0, E_SYN),
	BAD("IPv6 bad digit", "<user@[IPv6:2001:db8::g]>", 0, E_SYN),
	BAD("IPv6 zone id", "<user@[IPv6:fe80::1%eth0]>", 0, E_SYN),
	BAD("IPv6 nine groups", "<u@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, E_SYN),
	BAD("IPv6 without tag", "<user@[2001:db8::1]>", 0,
	    "5.1.3 General address literal"),
	BAD("general literal", "<user@[x400:c=us;a=b]>", 0,
	    "5.1.3 General address literals are not supported"),
	BAD("unterminated literal", "<user@[192.0.2.1>", 0, E_SYN),
	BAD("empty literal", "<user@[]>", 0, E_SYN),
	BAD("space in literal", "<user@[192.0.2.1 ]>", 0,
	    "5.1.3 Unexpected space"),
	BAD("overlong literal",
	    "<u@[IPv6:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:"
	    "0000:0000]>",
	    0, E_SYN),

	/* UTF-8 (RFC 6531) */
	OK("UTF-8 local and domain",
	   "<\xce\xb4\xce\xbf\xce\xba@\xcf\x80\xce\xb1.example>", U, F_U8,
	   "\xce\xb4\xce\xbf\xce\xba", "\xcf\x80\xce\xb1.example"),
	OK("UTF-8 domain only",
	   "<user@b\xc3\xbc"
	   "cher.example>",
	   U, F_U8, "user",
	   "b\xc3\xbc"
	   "cher.example"),
	OK("UTF-8 in quoted string", "<\"j\xc3\xb6rg\"@example.org>", U,
	   F_Q | F_U8, "\"j\xc3\xb6rg\"", "example.org"),
	OK("4-byte UTF-8", "<\xf0\x9f\x93\xa7@example.org>", U, F_U8,
	   "\xf0\x9f\x93\xa7", "example.org"),
	OK("UTF-8 allowed but absent", "<user@example.org>", U, 0, "user",
	   "example.org"),
	BAD("UTF-8 local without SMTPUTF8", "<j\xc3\xb6rg@example.org>", 0,
	    "5.6.7"),
	BAD("UTF-8 domain without SMTPUTF8",
	    "<user@b\xc3\xbc"
	    "cher.de>",
	    N, E_UTF8),
	BAD("overlong slash", "<\xc0\xafuser@example.org>", U,
	    "5.1.3 Malformed UTF-8"),
	BAD("overlong 3-byte", "<\xe0\x80\xafuser@example.org>", U, E_SYN),
	BAD("overlong is malformed even without option",
	    "<\xc0\xafuser@example.org>", 0, "5.1.3 Malformed UTF-8"),
	BAD("surrogate", "<\xed\xa0\x80@example.org>", U, E_SYN),
	BAD("above U+10FFFF", "<\xf4\x90\x80\x80@example.org>", U, E_SYN),
	BAD("lone continuation byte", "<\x80@example.org>", U, E_SYN),
	BAD("truncated sequence", "<\xe2\x82@example.org>", U, E_SYN),
	BAD("UTF-8 in literal", "<u@[\xc3\xbc]>", U, E_SYN),
	BAD("UTF-8 quoted-pair", "<\"\\\xc3\xbc\"@example.org>", U, E_SYN),

	/* source routes (RFC 5321 appendix C) */
	OK("source route dropped", "<@a.example,@b.example:user@c.example>", 0,
	   F_SR, "user", "c.example"),
	OK("one-hop source route", "<@a.example:user@c.example>", 0, F_SR,
	   "user", "c.example"),
	BAD("route without colon", "<@a.example,user@c.example>", 0,
	    "5.1.3 Bad source route"),
	BAD("empty route domain", "<@:user@c.example>", 0, E_SYN),
	BAD("route to a literal", "<@[192.0.2.1]:user@c.example>", 0, E_SYN),
	BAD("route only", "<@example.org>", 0, "5.1.3 Bad source route"),
	BAD("route with space", "<@a.example user@c.example>", 0, E_SYN),

	/* routing hacks */
	OK("percent hack", "<user%other.example@relay.example>", 0, F_RT,
	   "user%other.example", "relay.example"),
	OK("bang path", "<host!user@relay.example>", 0, F_RT, "host!user",
	   "relay.example"),
	BAD("two at signs", "<a@b@c.example>", 0, E_SYN),

	/* lengths (RFC 5321 4.5.3.1) */
	OK("local part 64", "<" A64 "@example.org>", 0, 0, A64, "example.org"),
	OK("local part 65 (SRS/VERP)", "<" A65 "@example.org>", 0, 0, A65,
	   "example.org"),
	OK("label 63", "<a@" A63 ".example>", 0, 0, "a", A63 ".example"),
	BAD("label 64", "<a@" A64 ".example>", 0,
	    "5.1.3 Domain label too long"),
	OK("path 256", "<a@" D252 ">", 0, 0, "a", D252),
	BAD("path 257", "<a@" D253 ">", 0, "5.1.3 Address too long"),
	OK("path 256 without brackets", "a@" D252, L, F_NB, "a", D252),
	BAD("path 257 without brackets", "ab@" D252, L,
	    "5.1.3 Address too long"),
	BAD("domain 256", "<a@" D256 ">", 0, "5.1.3 Domain too long"),
	BAD("local 254", "<" A60 A60 A60 A60 "aaaaaaaaaaaaaa@x>", 0,
	    "5.1.3 Local part too long"),

	/* dots and hyphens */
	BAD("leading dot", "<.user@example.org>", 0, "5.1.3 Bad local part"),
	BAD("trailing dot in local part", "<user.@example.org>", 0, E_SYN),
	BAD("double dot", "<us..er@example.org>", 0, E_SYN),
	BAD("trailing dot in domain", "<user@example.org.>", 0,
	    "5.1.3 Bad domain"),
	BAD("leading dot in domain", "<user@.example.org>", 0, E_SYN),
	BAD("empty label", "<user@example..org>", 0, E_SYN),
	BAD("leading hyphen", "<user@-example.org>", 0, "5.1.3 Bad domain"),
	BAD("trailing hyphen", "<user@example-.org>", 0, E_SYN),
	BAD("underscore in domain", "<user@ex_ample.org>", 0, E_SYN),
	BAD("empty domain", "<user@>", 0, "5.1.3 Bad domain"),

	/* brackets */
	BAD("no brackets, strict", "user@example.org", N,
	    "5.1.3 Address must be enclosed in <>"),
	OK("no brackets, lenient", "user@example.org", L, F_NB, "user",
	   "example.org"),
	OKC("lenient stops at space", "user@example.org SIZE=10", L, F_NB,
	    "user", "example.org", 16),
	OKC("lenient quoted with space", "\"a b\"@example.org BODY=7BIT", L,
	    F_NB | F_Q, "\"a b\"", "example.org", 17),
	OK("lenient postmaster", "Postmaster", L | P, F_NB | F_PM, "Postmaster",
	   ""),
	OK("brackets still fine when lenient", "<user@example.org>", L, 0,
	   "user", "example.org"),
	BAD("lenient with stray bracket", "user@example.org>", L, E_SYN),
	BAD("missing closing bracket", "<user@example.org", 0,
	    "5.1.3 Missing '>'"),
	BAD("lone opening bracket", "<", N, E_SYN),
	BAD("empty input", "", N | L, "5.1.3 Missing address"),

	/* characters that must never pass */
	BAD("space in local part", "<user @example.org>", 0,
	    "5.1.3 Unexpected space"),
	BAD("space in domain", "<user@exa mple.org>", 0,
	    "5.1.3 Unexpected space"),
	BADN("NUL in local part", "<us\0er@example.org>", 19, 0,
	     "5.1.3 Control character"),
	BAD("CR before bracket", "<user@example.org\r>", 0,
	    "5.1.3 Control character"),
	BAD("LF in local part", "<us\ner@example.org>", 0,
	    "5.1.3 Control character"),
	BAD("DEL in domain", "<user@example.org\x7f>", 0,
	    "5.1.3 Control character"),
	BAD("comment", "<user(comment)@example.org>", 0, E_SYN),
	BAD("angle inside", "<us<er@example.org>", 0, E_SYN),
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void
assert_view(struct pst_str got, const char *want)
{
	assert_non_null(got.p);
	if (got.len != strlen(want) || memcmp(got.p, want, got.len) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)got.len, got.p,
			 want);
}

static void
test_case(void **state)
{
	const struct addr_case *tc = *state;
	size_t len = tc->len ? tc->len : strlen(tc->in);
	struct smtp_addr addr;
	const char *error = NULL;
	size_t consumed = 0;
	int ret;

	ret = smtp_addr_parse(tc->in, len, tc->opts, &addr, &consumed, &error);
	if (ret != tc->ret)
		fail_msg("returned %d (%s), want %d", ret,
			 error ? error : "no error", tc->ret);
	if (ret < 0) {
		assert_non_null(error);
		if (strncmp(error, tc->err, strlen(tc->err)) != 0)
			fail_msg("error \"%s\", want \"%s...\"", error,
				 tc->err);
		return;
	}
	assert_int_equal(addr.flags, tc->flags);
	assert_view(addr.local, tc->local);
	assert_view(addr.domain, tc->domain);
	assert_int_equal(consumed, tc->consumed ? tc->consumed : len);
}

/* Every prefix of a valid path is refused or shorter, never a read past
 * the given length (run under ASan to mean anything). */
static void
test_truncations(void **state)
{
	static const char *const paths[] = {
		"<@a.example,@b.example:\"q\\\"x\"@[IPv6:2001:db8::1]>",
		"<\xce\xb4@\xcf\x80.example>",
		"<user@[192.0.2.1]>",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		size_t full = strlen(paths[i]);

		for (size_t n = 0; n < full; n++) {
			/* Exactly n bytes, so ASan sees any over-read. */
			char *buf = malloc(n > 0 ? n : 1);
			struct smtp_addr addr;
			const char *error;
			size_t consumed;
			int ret;

			assert_non_null(buf);
			memcpy(buf, paths[i], n);
			ret = smtp_addr_parse(buf, n, N | P | U, &addr,
					      &consumed, &error);
			free(buf);
			if (ret == 0)
				fail_msg("prefix %zu of path %zu accepted", n,
					 i);
		}
	}
}

struct domain_case {
	const char *in;
	bool utf8;
	bool want;
};

static void
test_domain_valid(void **state)
{
	static const struct domain_case dc[] = {
		{ "example.org", false, true },
		{ "localhost", false, true },
		{ "[192.0.2.1]", false, true },
		{ "[IPv6:::1]", false, true },
		{ D255, false, true },
		{ D256, false, false },
		{ A63 ".example", false, true },
		{ A64 ".example", false, false },
		{ "", false, false },
		{ "example.org.", false, false },
		{ ".example.org", false, false },
		{ "-example.org", false, false },
		{ "ex_ample.org", false, false },
		{ "exa mple.org", false, false },
		{ "[1.2.3]", false, false },
		{ "[x400:abc]", false, false },
		{ "[192.0.2.1]x", false, false },
		{ "192.0.2.1", false, true },
		{ "b\xc3\xbc"
		  "cher.example",
		  true, true },
		{ "b\xc3\xbc"
		  "cher.example",
		  false, false },
		{ "b\xc0\xbc"
		  "cher.example",
		  true, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(dc) / sizeof(dc[0]); i++) {
		bool got = smtp_addr_domain_valid(pst_str_from_cstr(dc[i].in),
						  dc[i].utf8);

		if (got != dc[i].want)
			fail_msg("\"%s\" (utf8=%d): got %d", dc[i].in,
				 dc[i].utf8, got);
	}
	assert_false(smtp_addr_domain_valid(PST_STR_NULL, false));
	assert_false(
		smtp_addr_domain_valid((struct pst_str){ "a\0b", 3 }, false));
}

static void
format_one(const char *in, unsigned opts, const char *want)
{
	struct smtp_addr addr;
	struct pst_buf out;
	const char *error;
	size_t consumed;

	assert_int_equal(
		smtp_addr_parse(in, strlen(in), opts, &addr, &consumed, &error),
		0);
	pst_buf_init(&out, 0);
	assert_int_equal(smtp_addr_format(&addr, &out), 0);
	assert_non_null(out.data);
	assert_string_equal(out.data, want);
	pst_buf_free(&out);
}

static void
test_format(void **state)
{
	struct smtp_addr addr;
	struct pst_buf out;
	const char *error;
	size_t consumed;

	(void)state;
	format_one("<user@example.org>", 0, "user@example.org");
	format_one("<>", N, "");
	format_one("<PostMaster>", P, "PostMaster");
	format_one("<@a.example:user@c.example>", 0, "user@c.example");
	format_one("<\"a b\"@[192.0.2.1]>", 0, "\"a b\"@[192.0.2.1]");
	format_one("user@example.org", L, "user@example.org");

	/* A limit that does not fit leaves the buffer as it was. */
	assert_int_equal(smtp_addr_parse("<user@example.org>", 18, 0, &addr,
					 &consumed, &error),
			 0);
	pst_buf_init(&out, 10);
	assert_int_equal(pst_buf_append_cstr(&out, "to="), 0);
	assert_int_equal(smtp_addr_format(&addr, &out), -1);
	assert_string_equal(out.data, "to=");
	pst_buf_free(&out);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_domain_valid),
		cmocka_unit_test(test_format),
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
	return _cmocka_run_group_tests("smtp_addr", tests, n, NULL, NULL);
}
