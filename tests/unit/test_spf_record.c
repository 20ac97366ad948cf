/*
 * test_spf_record.c - the SPF record grammar (RFC 7208 sections 4.5,
 * 4.6, 5, 6 and 12), one table row per record: accepted, or refused with
 * the text an admin would read.  Evaluation is test_spf_eval.c.
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

#include "arena.h"
#include "spf.h"
#include "spf_int.h"

struct record_case {
	const char *name;
	const char *record;
	const char *err; /* NULL: valid; else a substring of the error */
};

#define OK(n, r)                                                               \
	{                                                                      \
		.name = n, .record = r                                         \
	}
#define BAD(n, r, e)                                                           \
	{                                                                      \
		.name = n, .record = r, .err = e                               \
	}

#define L63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"

static const struct record_case cases[] = {
	/* 4.5: the version, then nothing or terms */
	OK("4.5 version alone", "v=spf1"),
	OK("4.5 version any case", "V=SpF1 -ALL"),
	OK("4.6 trailing spaces", "v=spf1 -all   "),
	OK("4.6 several spaces between terms", "v=spf1  a   mx    -all"),
	BAD("4.6 tab is not a separator", "v=spf1 a\t-all", "control"),
	BAD("4.6 non-ASCII in the record", "v=spf1 a:b\xc3\xa9.example -all",
	    "non-ASCII"),
	BAD("4.6 DEL in the record", "v=spf1 a:b\x7f.example -all",
	    "non-ASCII"),

	/* 4.6.1 and 4.6.2: qualifiers and mechanism names */
	OK("4.6.2 every qualifier", "v=spf1 +a -a ~a ?a"),
	OK("4.6.2 mechanism names in any case",
	   "v=spf1 A MX PTR IP4:192.0.2.1 IP6:2001:db8::1 "
	   "Include:example.org Exists:example.org ALL"),
	BAD("4.6.2 unknown mechanism", "v=spf1 foo -all",
	    "syntax error at 'foo': unknown mechanism"),
	BAD("4.6.2 two qualifiers", "v=spf1 +-all", "unknown mechanism"),
	BAD("4.6.2 qualifier alone", "v=spf1 - all", "unknown mechanism"),
	BAD("4.6.2 mechanism name with a dot", "v=spf1 -all.", "'-all.'"),
	BAD("4.6.2 old 'default' as a mechanism", "v=spf1 default",
	    "unknown mechanism"),

	/* 5.1 all */
	BAD("5.1 all with an argument", "v=spf1 -all:example.org",
	    "takes no argument"),
	BAD("5.1 all with a prefix length", "v=spf1 all/8",
	    "takes no argument"),
	OK("5.1 two alls", "v=spf1 all -all"),

	/* 5.2 include */
	OK("5.2 include", "v=spf1 include:_spf.example.org -all"),
	BAD("5.2 include without domain", "v=spf1 include -all",
	    "missing domain"),
	BAD("5.2 include with empty domain", "v=spf1 include: -all",
	    "empty domain"),
	BAD("5.2 include takes no CIDR", "v=spf1 include:example.org/24",
	    "top-level label"),
	OK("5.2 include with a macro", "v=spf1 include:%{ir}._spf.%{d}"),

	/* 5.3 a, with the domain-end rule of section 12 */
	OK("5.3 a alone", "v=spf1 a"),
	OK("5.3 a with domain", "v=spf1 a:mail.example.org"),
	OK("5.3 a with IPv4 prefix", "v=spf1 a/24"),
	OK("5.3 a with IPv6 prefix", "v=spf1 a//64"),
	OK("5.3 a with both prefixes", "v=spf1 a:mail.example.org/24//64"),
	OK("5.3 a with prefix 0", "v=spf1 a/0//0"),
	OK("5.3 a with top prefixes", "v=spf1 a/32//128"),
	BAD("5.3 a IPv4 prefix 33", "v=spf1 a/33", "bad IPv4 prefix"),
	BAD("5.3 a IPv6 prefix 129", "v=spf1 a//129", "bad IPv6 prefix"),
	BAD("5.3 a prefix leading zero", "v=spf1 a/024", "bad IPv4 prefix"),
	BAD("5.3 a IPv6 prefix leading zero", "v=spf1 a//064",
	    "bad IPv6 prefix"),
	BAD("5.3 a empty prefix", "v=spf1 a/", "unexpected text"),
	BAD("5.3 a prefixes in the wrong order", "v=spf1 a//64/24",
	    "unexpected text"),
	BAD("5.3 a with empty domain", "v=spf1 a:", "empty domain"),
	BAD("5.3 a with empty domain and prefix", "v=spf1 a:/24",
	    "empty domain"),
	BAD("12 numeric top label", "v=spf1 a:192.0.2.1", "top-level label"),
	BAD("12 single label", "v=spf1 a:localhost", "top-level label"),
	BAD("12 single label with final dot", "v=spf1 a:localhost.",
	    "top-level label"),
	OK("12 final dot", "v=spf1 a:mail.example.org."),
	BAD("12 top label starts with '-'", "v=spf1 a:example.-org",
	    "top-level label"),
	BAD("12 top label ends with '-'", "v=spf1 a:example.org-",
	    "top-level label"),
	OK("12 top label digits with '-'", "v=spf1 a:example.1-2"),
	OK("12 top label alphanumeric", "v=spf1 a:example.a1"),
	BAD("12 top label with '_'", "v=spf1 a:example.o_rg",
	    "top-level label"),
	BAD("12 empty top label", "v=spf1 a:example..", "top-level label"),
	OK("12 literal ':' and '/' inside the domain",
	   "v=spf1 a:foo:bar/baz.example.org"),
	OK("12 other visible characters inside the domain",
	   "v=spf1 a:a!b\"c#d$e&f'g(h)i*j+k,l;m<n=o>p?q@r[s]t^u`v{w|x}y~z.org"),
	OK("12 domain ending in a macro", "v=spf1 a:%{d}"),
	OK("12 macro then final dot", "v=spf1 exists:%{i}.%{d}."),
	OK("12 domain ending in %%", "v=spf1 a:example%%"),
	BAD("12 literal after the last macro", "v=spf1 a:x.%{d}org",
	    "top-level label"),
	OK("12 63-octet top label", "v=spf1 a:example." L63),
	BAD("12 NUL in a domain", "v=spf1 a:mail.example.org\x01", "control"),

	/* 5.4 mx */
	OK("5.4 mx forms", "v=spf1 mx mx:example.org mx/24 mx//64 "
			   "mx:example.org/24//64"),
	BAD("5.4 mx prefix 33", "v=spf1 mx/33", "bad IPv4 prefix"),
	BAD("5.4 mx empty domain", "v=spf1 mx:", "empty domain"),
	BAD("5.4 mx bad top label", "v=spf1 mx:example.123", "top-level label"),

	/* 5.5 ptr */
	OK("5.5 ptr", "v=spf1 ptr ptr:example.org"),
	BAD("5.5 ptr takes no CIDR", "v=spf1 ptr/24", "unexpected text"),
	BAD("5.5 ptr with empty domain", "v=spf1 ptr:", "empty domain"),

	/* 5.6 ip4 and ip6 */
	OK("5.6 ip4", "v=spf1 ip4:192.0.2.1 ip4:192.0.2.0/24 ip4:0.0.0.0/0"),
	OK("5.6 ip4 255", "v=spf1 ip4:255.255.255.255/32"),
	BAD("5.6 ip4 three octets", "v=spf1 ip4:1.2.3",
	    "syntax error at 'ip4:1.2.3': bad IPv4 address"),
	BAD("5.6 ip4 five octets", "v=spf1 ip4:1.2.3.4.5", "bad IPv4"),
	BAD("5.6 ip4 octet 256", "v=spf1 ip4:192.0.2.256", "bad IPv4"),
	BAD("5.6 ip4 leading zero", "v=spf1 ip4:192.0.2.01", "bad IPv4"),
	BAD("5.6 ip4 with a port", "v=spf1 ip4:192.0.2.1:25", "bad IPv4"),
	BAD("5.6 ip4 without address", "v=spf1 ip4", "missing address"),
	BAD("5.6 ip4 empty", "v=spf1 ip4:", "bad IPv4"),
	BAD("5.6 ip4 prefix 33", "v=spf1 ip4:192.0.2.0/33", "bad IPv4 prefix"),
	BAD("5.6 ip4 prefix leading zero", "v=spf1 ip4:192.0.2.0/024",
	    "bad IPv4 prefix"),
	BAD("5.6 ip4 dual prefix", "v=spf1 ip4:192.0.2.0//24", "bad IPv4"),
	BAD("5.6 ip4 IPv6 address", "v=spf1 ip4:2001:db8::1", "bad IPv4"),
	BAD("5.6 ip4 name", "v=spf1 ip4:mail.example.org", "bad IPv4"),
	OK("5.6 ip6", "v=spf1 ip6:2001:db8::1 ip6:2001:db8::/32 ip6:::/0 "
		      "ip6:::ffff:192.0.2.1 ip6:2001:DB8:0:0:0:0:0:1/128"),
	BAD("5.6 ip6 prefix 129", "v=spf1 ip6:2001:db8::/129",
	    "bad IPv6 prefix"),
	BAD("5.6 ip6 two '::'", "v=spf1 ip6:2001::db8::1", "bad IPv6"),
	BAD("5.6 ip6 IPv4 address", "v=spf1 ip6:192.0.2.1", "bad IPv6"),
	BAD("5.6 ip6 dual prefix", "v=spf1 ip6:2001:db8:://64",
	    "bad IPv6 prefix"),
	BAD("5.6 ip6 zone index", "v=spf1 ip6:fe80::1%eth0", "bad IPv6"),

	/* 5.7 exists */
	OK("5.7 exists", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}"),
	BAD("5.7 exists without domain", "v=spf1 exists", "missing domain"),
	BAD("5.7 exists empty", "v=spf1 exists:", "empty domain"),
	BAD("5.7 exists takes no CIDR", "v=spf1 exists:example.org/24",
	    "top-level label"),

	/* 6: modifiers */
	OK("6.1 redirect", "v=spf1 redirect=_spf.example.org"),
	OK("6.1 redirect in any case", "v=spf1 Redirect=_spf.example.org"),
	BAD("6.1 redirect twice",
	    "v=spf1 redirect=a.example.org redirect=b.example.org",
	    "modifier given twice"),
	BAD("6.1 redirect empty", "v=spf1 redirect=", "empty domain"),
	BAD("6.1 redirect bad domain", "v=spf1 redirect=example.org/24",
	    "top-level label"),
	BAD("6.1 redirect without '='", "v=spf1 redirect", "unknown mechanism"),
	BAD("6.1 redirect with ':'", "v=spf1 redirect:example.org",
	    "unknown mechanism"),
	OK("6.2 exp", "v=spf1 -all exp=explain.%{d}"),
	BAD("6.2 exp twice", "v=spf1 exp=a.example.org exp=b.example.org",
	    "modifier given twice"),
	BAD("6.2 exp empty", "v=spf1 -all exp=", "empty domain"),
	BAD("6.2 c macro in an exp domain", "v=spf1 exp=%{c}.example.org",
	    "only in exp text"),
	OK("6 unknown modifiers are allowed, repeated",
	   "v=spf1 foo=bar foo=baz x-y_z.1=%{d} empty= -all"),
	OK("6 a modifier may be named like a mechanism", "v=spf1 include=x"),
	BAD("6 unknown modifier with a bad macro", "v=spf1 foo=%{q}",
	    "unknown macro letter"),
	BAD("6 unknown modifier with a stray '%'", "v=spf1 foo=50%",
	    "'%' not followed"),
	BAD("6 modifier name starting with a digit", "v=spf1 1up=x",
	    "bad modifier name"),
	BAD("6 modifier without name", "v=spf1 =x", "bad modifier name"),
	BAD("6 qualifier on a modifier", "v=spf1 -foo=bar",
	    "bad modifier name"),
	BAD("6 qualifier on redirect", "v=spf1 +redirect=example.org",
	    "unknown mechanism"),

	/* 7.1 macro syntax inside domain-specs */
	BAD("7.1 unknown macro letter", "v=spf1 a:%{x}.example.org",
	    "unknown macro letter"),
	BAD("7.1 c only in exp", "v=spf1 a:%{c}.example.org",
	    "only in exp text"),
	BAD("7.1 r only in exp", "v=spf1 a:%{r}.example.org",
	    "only in exp text"),
	BAD("7.1 t only in exp", "v=spf1 a:%{t}.example.org",
	    "only in exp text"),
	BAD("7.1 '%' then another character",
	    "v=spf1 -exists:%(ir).example.org", "'%' not followed"),
	BAD("7.1 '%' at the end", "v=spf1 a:example.org%", "'%' not followed"),
	BAD("7.1 unterminated macro", "v=spf1 a:%{d", "unterminated"),
	BAD("7.1 part count of zero", "v=spf1 a:%{d0}", "part count of zero"),
	BAD("7.1 bad delimiter", "v=spf1 a:%{d2r:}", "invalid character"),
	BAD("7.1 transformers out of order", "v=spf1 a:%{dr2}",
	    "invalid character"),
	BAD("7.1 empty macro", "v=spf1 a:%{}.example.org",
	    "unknown macro letter"),
	OK("7.1 every domain-spec letter and transformer",
	   "v=spf1 exists:%{s}%{l}%{o}%{d}%{i}%{p}%{v}%{h}%{d2}%{dr}"
	   "%{d1r}%{l-}%{l.-+,/_=}%{L3r-}%{S}.example.org"),
	OK("7.1 escapes", "v=spf1 a:%%%_%-.example.org"),
	OK("7.1 large part count", "v=spf1 a:%{d99999999999999999999}"),
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void
test_case(void **state)
{
	const struct record_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	const char *error = NULL;
	int r;

	assert_non_null(arena);
	r = spf_record_check(c->record, strlen(c->record), arena, &error);
	if (c->err == NULL) {
		if (r != 0)
			fail_msg("%s: unexpected error: %s", c->record, error);
	} else {
		assert_int_equal(r, -1);
		assert_non_null(error);
		if (strstr(error, c->err) == NULL)
			fail_msg("error '%s' lacks '%s'", error, c->err);
	}
	pst_arena_free(&arena);
}

/* 4.5: which TXT records are SPF records. */
static void
test_is_spf(void **state)
{
	(void)state;
	assert_true(spf_record_is_spf("v=spf1", 6));
	assert_true(spf_record_is_spf("v=spf1 -all", 11));
	assert_true(spf_record_is_spf("V=SPF1 -all", 11));
	assert_false(spf_record_is_spf("v=spf10 -all", 12));
	assert_false(spf_record_is_spf("v=spf1-all", 10));
	assert_false(spf_record_is_spf("v=spf1\t-all", 11));
	assert_false(spf_record_is_spf(" v=spf1 -all", 12));
	assert_false(spf_record_is_spf("v=spf", 5));
	assert_false(spf_record_is_spf("spf2.0/pra -all", 15));
	assert_false(spf_record_is_spf(NULL, 0));
	/* a length shorter than the text is honoured */
	assert_false(spf_record_is_spf("v=spf1 -all", 5));
}

/* The parsed form the evaluator uses. */
static void
test_parsed_terms(void **state)
{
	static const char rec[] = "v=spf1 -a:mail.example.org/24//64 ~mx "
				  "ip4:192.0.2.0/25 ?ip6:2001:db8::/48 "
				  "exp=x.%{d} redirect=r.example.org foo=bar";
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_record r;
	const char *error = NULL;

	(void)state;
	assert_int_equal(spf_record_parse(rec, strlen(rec), arena, &r, &error),
			 0);
	assert_int_equal(r.nterms, 4);
	assert_false(r.has_all);
	assert_int_equal(r.terms[0].mech, SPF_MECH_A);
	assert_int_equal(r.terms[0].qualifier, SPF_RESULT_FAIL);
	assert_int_equal(r.terms[0].cidr4, 24);
	assert_int_equal(r.terms[0].cidr6, 64);
	assert_int_equal(r.terms[0].domain.len, strlen("mail.example.org"));
	assert_memory_equal(r.terms[0].domain.p, "mail.example.org", 16);
	assert_int_equal(r.terms[1].mech, SPF_MECH_MX);
	assert_int_equal(r.terms[1].qualifier, SPF_RESULT_SOFTFAIL);
	assert_null(r.terms[1].domain.p);
	assert_int_equal(r.terms[1].cidr4, 32);
	assert_int_equal(r.terms[1].cidr6, 128);
	assert_int_equal(r.terms[2].mech, SPF_MECH_IP4);
	assert_int_equal(r.terms[2].qualifier, SPF_RESULT_PASS);
	assert_int_equal(r.terms[2].cidr4, 25);
	assert_int_equal(r.terms[2].net.family, 4);
	assert_int_equal(r.terms[2].net.addr[2], 2);
	assert_int_equal(r.terms[3].mech, SPF_MECH_IP6);
	assert_int_equal(r.terms[3].qualifier, SPF_RESULT_NEUTRAL);
	assert_int_equal(r.terms[3].cidr6, 48);
	assert_int_equal(r.terms[3].net.family, 6);
	assert_int_equal(r.exp.len, 6);
	assert_memory_equal(r.exp.p, "x.%{d}", 6);
	assert_int_equal(r.redirect.len, 13);
	assert_int_equal(r.terms[3].text.len, strlen("?ip6:2001:db8::/48"));

	assert_int_equal(
		spf_record_parse("v=spf1 a -all", 13, arena, &r, &error), 0);
	assert_true(r.has_all);
	assert_int_equal(r.terms[1].mech, SPF_MECH_ALL);
	assert_int_equal(r.terms[1].qualifier, SPF_RESULT_FAIL);
	pst_arena_free(&arena);
}

/* Error texts quote hostile terms safely and briefly. */
static void
test_error_quoting(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	char rec[400];
	const char *error = NULL;

	(void)state;
	snprintf(rec, sizeof(rec), "v=spf1 ip4:%0300d", 1);
	assert_int_equal(spf_record_check(rec, strlen(rec), arena, &error), -1);
	assert_non_null(strstr(error, "syntax error at 'ip4:000"));
	assert_non_null(strstr(error, "...'"));
	assert_true(strlen(error) < 160);
	assert_int_equal(
		spf_record_check("v=spf1 a:'x'.org", 16, arena, &error), 0);
	assert_int_equal(spf_record_check("v=spf1 x'y", 10, arena, &error), -1);
	assert_non_null(strstr(error, "'x?y'"));
	pst_arena_free(&arena);
}

/* A record of 3000 terms parses; a record over the limit does not. */
static void
test_big_records(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	size_t n = 6, cap = SPF_MAX_RECORD + 16;
	char *rec = malloc(cap);
	const char *error = NULL;

	(void)state;
	assert_non_null(rec);
	memcpy(rec, "v=spf1", 6);
	for (int i = 0; i < 3000; i++)
		n += (size_t)snprintf(rec + n, cap - n, " ip4:10.%d.%d.0/24",
				      i / 256, i % 256);
	assert_int_equal(spf_record_check(rec, n, arena, &error), 0);
	memset(rec + 6, ' ', cap - 6);
	assert_int_equal(spf_record_check(rec, SPF_MAX_RECORD, arena, &error),
			 0);
	assert_int_equal(
		spf_record_check(rec, SPF_MAX_RECORD + 1, arena, &error), -1);
	assert_string_equal(error, "record too long");
	free(rec);
	pst_arena_free(&arena);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_is_spf),
		cmocka_unit_test(test_parsed_terms),
		cmocka_unit_test(test_error_quoting),
		cmocka_unit_test(test_big_records),
	};
	struct CMUnitTest tests[N_CASES + sizeof(more) / sizeof(more[0])];
	size_t n = 0;

	for (size_t i = 0; i < N_CASES; i++) {
		struct CMUnitTest t =
			cmocka_unit_test_prestate(test_case, (void *)&cases[i]);

		t.name = cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("spf_record", tests, n, NULL, NULL);
}
