/*
 * test_spf_eval.c - check_host() (RFC 7208) over an in-memory zone,
 * organised by section of the RFC: identities (2.3, 2.4), initial
 * processing (4.3), record lookup and selection (4.4, 4.5), evaluation
 * and limits (4.6, 4.7), each mechanism (5), modifiers (6), macros in
 * use (7).  Each row gives the zone, the client and what must come out:
 * the result, the deciding term, the problem text of errors, the
 * explanation, and for some the number of DNS queries made.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "spf.h"

#define L63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"
#define L64 L63 "d"
#define IP6REV "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"

#define NONE SPF_RESULT_NONE
#define NEUTRAL SPF_RESULT_NEUTRAL
#define PASS SPF_RESULT_PASS
#define FAIL SPF_RESULT_FAIL
#define SOFTFAIL SPF_RESULT_SOFTFAIL
#define TEMPERROR SPF_RESULT_TEMPERROR
#define PERMERROR SPF_RESULT_PERMERROR

enum mode { MAILFROM, HELO, HOST };

#define ZONE_MAX 26
/* .queries: 0 unchecked, NO_QUERIES none at all, > 0 exactly */
#define NO_QUERIES (-1)

struct eval_case {
	const char *name;
	/* "name TYPE data": TXT data is the whole rest of the line, MX
	 * "pref host"; data TIMEOUT makes the query fail. */
	const char *zone[ZONE_MAX];
	const char *ip;	    /* NULL: 192.0.2.10 */
	const char *sender; /* NULL: user@example.org */
	const char *helo;   /* NULL: mx.example.net */
	const char *domain; /* HOST mode */
	enum mode mode;
	enum spf_result want;
	const char *mech;    /* the deciding term, NULL: none */
	const char *problem; /* substring of the problem text */
	const char *exp;     /* set: ask for it; "" means none expected */
	const char *default_exp;
	unsigned max_void;
	int queries; /* > 0: exactly this many DNS queries */
};

/* ---- the fake resolver ---- */

struct zone {
	const char *const *lines;
	unsigned queries;
};

static int
type_of(const char *word, size_t len)
{
	static const struct {
		const char *name;
		int type;
	} types[] = {
		{ "A", SPF_DNS_A },	{ "AAAA", SPF_DNS_AAAA },
		{ "MX", SPF_DNS_MX },	{ "TXT", SPF_DNS_TXT },
		{ "PTR", SPF_DNS_PTR },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].name) == len &&
		    strncmp(types[i].name, word, len) == 0)
			return types[i].type;
	fail_msg("bad zone type %.*s", (int)len, word);
	return -1;
}

static void
fill_rr(struct pst_arena *arena, int type, const char *data,
	struct spf_dns_rr *rr)
{
	memset(rr, 0, sizeof(*rr));
	switch (type) {
	case SPF_DNS_A:
		assert_int_equal(inet_pton(AF_INET, data, rr->addr), 1);
		break;
	case SPF_DNS_AAAA:
		assert_int_equal(inet_pton(AF_INET6, data, rr->addr), 1);
		break;
	case SPF_DNS_MX:
		rr->pref = (unsigned)strtoul(data, NULL, 10);
		data = strchr(data, ' ') + 1;
		/* FALLTHROUGH */
	default:
		rr->text = pst_arena_strdup(arena, data);
		rr->len = strlen(data);
		break;
	}
}

static int
zone_query(void *ctx, struct pst_arena *arena, const char *name, int type,
	   struct spf_dns_answer *out)
{
	struct zone *z = ctx;
	bool exists = false;
	size_t n = 0;

	z->queries++;
	/* the contract: no trailing dot, a valid name */
	assert_true(name[0] != '\0' && name[strlen(name) - 1] != '.');
	out->rr = pst_arena_calloc(arena, ZONE_MAX, sizeof(*out->rr));
	out->count = 0;
	for (size_t i = 0; i < ZONE_MAX && z->lines[i] != NULL; i++) {
		const char *line = z->lines[i];
		const char *sp = strchr(line, ' ');
		const char *sp2 = strchr(sp + 1, ' ');

		if ((size_t)(sp - line) != strlen(name) ||
		    strncasecmp(line, name, strlen(name)) != 0)
			continue;
		exists = true;
		if (type_of(sp + 1, (size_t)(sp2 - sp - 1)) != type)
			continue;
		if (strcmp(sp2 + 1, "TIMEOUT") == 0)
			return SPF_DNS_TEMPFAIL;
		fill_rr(arena, type, sp2 + 1, &out->rr[n++]);
	}
	out->count = n;
	if (n > 0)
		return SPF_DNS_OK;
	return exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN;
}

/* ---- the cases ---- */

static const struct eval_case cases[] = {
	/* 2.3 the HELO identity */
	{ .name = "2.3 HELO identity passes",
	  .mode = HELO,
	  .zone = { "mx.example.net TXT v=spf1 a -all",
		    "mx.example.net A 192.0.2.10" },
	  .want = PASS,
	  .mech = "a" },
	{ .name = "2.3 HELO sender is postmaster@HELO",
	  .mode = HELO,
	  .zone = { "mx.example.net TXT v=spf1 exists:%{l}.%{o}.%{d}.x.org "
		    "-all",
		    "postmaster.mx.example.net.mx.example.net.x.org A "
		    "127.0.0.2" },
	  .want = PASS },
	{ .name = "2.3 HELO that is not a FQDN is none",
	  .mode = HELO,
	  .helo = "localhost",
	  .want = NONE,
	  .queries = NO_QUERIES },
	{ .name = "2.3 HELO address literal is none",
	  .mode = HELO,
	  .helo = "[192.0.2.10]",
	  .want = NONE,
	  .queries = NO_QUERIES },
	{ .name = "2.3 HELO fail",
	  .mode = HELO,
	  .zone = { "mx.example.net TXT v=spf1 -all" },
	  .want = FAIL,
	  .mech = "-all" },

	/* 2.4 the MAIL FROM identity */
	{ .name = "2.4 null reverse-path checks postmaster@HELO",
	  .sender = "",
	  .zone = { "mx.example.net TXT v=spf1 exists:%{l}.%{d} -all",
		    "postmaster.mx.example.net A 127.0.0.2" },
	  .want = PASS },
	{ .name = "2.4 the domain follows the last @",
	  .sender = "\"odd@local\"@example.org",
	  .zone = { "example.org TXT v=spf1 -all" },
	  .want = FAIL },
	{ .name = "2.4 check_host with its own domain and sender",
	  .mode = HOST,
	  .domain = "example.net",
	  .sender = "user@example.org",
	  .zone = { "example.net TXT v=spf1 exists:%{d}.%{o}.%{l}.x.org "
		    "-all",
		    "example.net.example.org.user.x.org A 127.0.0.2" },
	  .want = PASS },

	/* 4.3 initial processing */
	{ .name = "4.3 a label over 63 octets is none",
	  .sender = "user@" L64 ".example.org",
	  .want = NONE,
	  .queries = NO_QUERIES },
	{ .name = "4.3 a label of 63 octets is checked",
	  .sender = "user@" L63 ".example.org",
	  .zone = { L63 ".example.org TXT v=spf1 -all" },
	  .want = FAIL },
	{ .name = "4.3 an empty label is none",
	  .sender = "user@mail..example.org",
	  .want = NONE,
	  .queries = NO_QUERIES },
	{ .name = "4.3 a single label is none",
	  .sender = "user@localhost",
	  .zone = { "localhost TXT v=spf1 -all" },
	  .want = NONE,
	  .queries = NO_QUERIES },
	{ .name = "4.3 a domain literal is none",
	  .sender = "user@[192.0.2.10]",
	  .want = NONE,
	  .queries = NO_QUERIES },
	{ .name = "4.3 a numeric top label is none",
	  .sender = "user@192.0.2.10",
	  .want = NONE,
	  .queries = NO_QUERIES },
	{ .name = "4.3 no local part means postmaster",
	  .sender = "@example.org",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT sender %{s} local %{l}" },
	  .want = FAIL,
	  .exp = "sender postmaster@example.org local postmaster" },
	{ .name = "4.3 a final dot on the domain",
	  .sender = "user@example.org.",
	  .zone = { "example.org TXT v=spf1 +all" },
	  .want = PASS },
	{ .name = "4.3 NXDOMAIN is none", .want = NONE, .queries = 1 },

	/* 4.4 record lookup */
	{ .name = "4.4 a TXT timeout is temperror",
	  .zone = { "example.org TXT TIMEOUT" },
	  .want = TEMPERROR,
	  .problem = "DNS failure looking up TXT example.org" },
	{ .name = "4.4 no TXT record is none",
	  .zone = { "example.org A 192.0.2.10" },
	  .want = NONE },

	/* 4.5 selecting records */
	{ .name = "4.5 other TXT records are ignored",
	  .zone = { "example.org TXT google-site-verification=abc",
		    "example.org TXT v=spf1 -all",
		    "example.org TXT v=DMARC1; p=none" },
	  .want = FAIL },
	{ .name = "4.5 v=spf10 is not SPF",
	  .zone = { "example.org TXT v=spf10 -all" },
	  .want = NONE },
	{ .name = "4.5 the version must end in a space",
	  .zone = { "example.org TXT v=spf1-all" },
	  .want = NONE },
	{ .name = "4.5 the version in any case",
	  .zone = { "example.org TXT V=Spf1 -all" },
	  .want = FAIL },
	{ .name = "4.5 two SPF records are permerror",
	  .zone = { "example.org TXT v=spf1 +all",
		    "example.org TXT v=spf1 -all" },
	  .want = PERMERROR,
	  .problem = "more than one SPF record" },
	{ .name = "4.5 an empty record is neutral",
	  .zone = { "example.org TXT v=spf1" },
	  .want = NEUTRAL },
	{ .name = "4.5 non-ASCII in the SPF record is permerror",
	  .zone = { "example.org TXT v=spf1 a:\xc3\xa9.example.org -all" },
	  .want = PERMERROR,
	  .problem = "non-ASCII" },
	{ .name = "4.5 non-ASCII in another record does not matter",
	  .zone = { "example.org TXT caf\xc3\xa9",
		    "example.org TXT v=spf1 -all" },
	  .want = FAIL },

	/* 4.6 record evaluation */
	{ .name = "4.6 a syntax error anywhere is permerror",
	  .zone = { "example.org TXT v=spf1 +all ip4:1.2.3" },
	  .want = PERMERROR,
	  .problem = "syntax error at 'ip4:1.2.3'",
	  .queries = 1 },
	{ .name = "4.6 terms are evaluated left to right",
	  .zone = { "example.org TXT v=spf1 -ip4:192.0.2.10 +all" },
	  .want = FAIL,
	  .mech = "-ip4:192.0.2.10" },
	{ .name = "4.6.2 + is pass",
	  .zone = { "example.org TXT v=spf1 +ip4:192.0.2.10 -all" },
	  .want = PASS,
	  .mech = "+ip4:192.0.2.10" },
	{ .name = "4.6.2 no qualifier is pass",
	  .zone = { "example.org TXT v=spf1 ip4:192.0.2.10 -all" },
	  .want = PASS },
	{ .name = "4.6.2 ~ is softfail",
	  .zone = { "example.org TXT v=spf1 ~ip4:192.0.2.10 -all" },
	  .want = SOFTFAIL },
	{ .name = "4.6.2 ? is neutral",
	  .zone = { "example.org TXT v=spf1 ?ip4:192.0.2.10 -all" },
	  .want = NEUTRAL,
	  .mech = "?ip4:192.0.2.10" },
	{ .name = "4.6 extra spaces",
	  .zone = { "example.org TXT v=spf1   ?ip4:192.0.2.0/24   " },
	  .want = NEUTRAL,
	  .mech = "?ip4:192.0.2.0/24" },

	/* 4.6.4 DNS lookup limits */
	{ .name = "4.6.4 ten DNS terms are allowed",
	  .zone = { "example.org TXT v=spf1 a a a a a a a a a a -all",
		    "example.org A 198.51.100.1" },
	  .want = FAIL,
	  .queries = 11 },
	{ .name = "4.6.4 the eleventh DNS term is permerror",
	  .zone = { "example.org TXT v=spf1 a a a a a a a a a a a -all",
		    "example.org A 198.51.100.1" },
	  .want = PERMERROR,
	  .problem = "too many DNS lookups",
	  .queries = 11 },
	{ .name = "4.6.4 terms after a match do not count",
	  .zone = { "example.org TXT v=spf1 ip4:192.0.2.10 a a a a a a a a "
		    "a a a" },
	  .want = PASS,
	  .queries = 1 },
	{ .name = "4.6.4 ip4, ip6, all and exp do not count",
	  .zone = { "example.org TXT v=spf1 a a a a a a a a a a "
		    "ip6:2001:db8::/32 exp=e.example.org ip4:192.0.2.10",
		    "example.org A 198.51.100.1" },
	  .want = PASS },
	{ .name = "4.6.4 an include and its terms count together",
	  .zone = { "example.org TXT v=spf1 include:i.example.org a a a a a "
		    "-all",
		    "i.example.org TXT v=spf1 a a a a -all",
		    "example.org A 198.51.100.1",
		    "i.example.org A 198.51.100.1" },
	  .want = FAIL },
	{ .name = "4.6.4 an include past the limit is permerror",
	  .zone = { "example.org TXT v=spf1 include:i.example.org a a a a a "
		    "-all",
		    "i.example.org TXT v=spf1 a a a a a -all",
		    "example.org A 198.51.100.1",
		    "i.example.org A 198.51.100.1" },
	  .want = PERMERROR,
	  .problem = "too many DNS lookups" },
	{ .name = "4.6.4 redirect counts",
	  .zone = { "example.org TXT v=spf1 a a a a a a a a a "
		    "redirect=r.example.org",
		    "r.example.org TXT v=spf1 -all",
		    "example.org A 198.51.100.1" },
	  .want = FAIL },
	{ .name = "4.6.4 redirect past the limit is permerror",
	  .zone = { "example.org TXT v=spf1 a a a a a a a a a "
		    "redirect=r.example.org",
		    "r.example.org TXT v=spf1 a -all",
		    "example.org A 198.51.100.1" },
	  .want = PERMERROR,
	  .problem = "too many DNS lookups" },
	{ .name = "4.6.4 mx with ten names",
	  .zone = { "example.org TXT v=spf1 mx -all",
		    "example.org MX 10 m1.example.org",
		    "example.org MX 10 m2.example.org",
		    "example.org MX 10 m3.example.org",
		    "example.org MX 10 m4.example.org",
		    "example.org MX 10 m5.example.org",
		    "example.org MX 10 m6.example.org",
		    "example.org MX 10 m7.example.org",
		    "example.org MX 10 m8.example.org",
		    "example.org MX 10 m9.example.org",
		    "example.org MX 10 m10.example.org",
		    "m10.example.org A 192.0.2.10" },
	  .want = PASS,
	  .queries = 12 },
	{ .name = "4.6.4 mx with eleven names is permerror",
	  .zone = { "example.org TXT v=spf1 mx -all",
		    "example.org MX 10 m1.example.org",
		    "example.org MX 10 m2.example.org",
		    "example.org MX 10 m3.example.org",
		    "example.org MX 10 m4.example.org",
		    "example.org MX 10 m5.example.org",
		    "example.org MX 10 m6.example.org",
		    "example.org MX 10 m7.example.org",
		    "example.org MX 10 m8.example.org",
		    "example.org MX 10 m9.example.org",
		    "example.org MX 10 m10.example.org",
		    "example.org MX 10 m11.example.org",
		    "m1.example.org A 192.0.2.10" },
	  .want = PERMERROR,
	  .problem = "more than 10 MX records" },
	{ .name = "4.6.4 mx address lookups are not DNS terms",
	  .zone = { "example.org TXT v=spf1 mx a a a a a a a a a -all",
		    "example.org MX 10 m1.example.org",
		    "example.org MX 10 m2.example.org",
		    "example.org MX 10 m3.example.org",
		    "example.org A 198.51.100.1" },
	  .want = FAIL },
	{ .name = "4.6.4 only ten PTR names are looked at",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    "10.2.0.192.in-addr.arpa PTR p1.example.org",
		    "10.2.0.192.in-addr.arpa PTR p2.example.org",
		    "10.2.0.192.in-addr.arpa PTR p3.example.org",
		    "10.2.0.192.in-addr.arpa PTR p4.example.org",
		    "10.2.0.192.in-addr.arpa PTR p5.example.org",
		    "10.2.0.192.in-addr.arpa PTR p6.example.org",
		    "10.2.0.192.in-addr.arpa PTR p7.example.org",
		    "10.2.0.192.in-addr.arpa PTR p8.example.org",
		    "10.2.0.192.in-addr.arpa PTR p9.example.org",
		    "10.2.0.192.in-addr.arpa PTR p10.example.org",
		    "10.2.0.192.in-addr.arpa PTR p11.example.org",
		    "p11.example.org A 192.0.2.10" },
	  .want = FAIL,
	  .queries = 12 },
	{ .name = "4.6.4 the tenth PTR name is looked at",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    "10.2.0.192.in-addr.arpa PTR p1.example.org",
		    "10.2.0.192.in-addr.arpa PTR p2.example.org",
		    "10.2.0.192.in-addr.arpa PTR p3.example.org",
		    "10.2.0.192.in-addr.arpa PTR p4.example.org",
		    "10.2.0.192.in-addr.arpa PTR p5.example.org",
		    "10.2.0.192.in-addr.arpa PTR p6.example.org",
		    "10.2.0.192.in-addr.arpa PTR p7.example.org",
		    "10.2.0.192.in-addr.arpa PTR p8.example.org",
		    "10.2.0.192.in-addr.arpa PTR p9.example.org",
		    "10.2.0.192.in-addr.arpa PTR p10.example.org",
		    "10.2.0.192.in-addr.arpa PTR p11.example.org",
		    "p10.example.org A 192.0.2.10" },
	  .want = PASS },
	{ .name = "4.6.4 two void lookups are allowed",
	  .zone = { "example.org TXT v=spf1 a:v1.example.org "
		    "a:v2.example.org -all" },
	  .want = FAIL },
	{ .name = "4.6.4 a third void lookup is permerror",
	  .zone = { "example.org TXT v=spf1 a:v1.example.org "
		    "a:v2.example.org a:v3.example.org -all" },
	  .want = PERMERROR,
	  .problem = "void lookup limit of 2 exceeded at v3.example.org" },
	{ .name = "4.6.4 NODATA answers are void too",
	  .zone = { "example.org TXT v=spf1 mx exists:example.org "
		    "a:example.org/0 -all" },
	  .want = PERMERROR,
	  .problem = "void lookup limit" },
	{ .name = "4.6.4 the void limit can be raised",
	  .max_void = 3,
	  .zone = { "example.org TXT v=spf1 a:v1.example.org "
		    "a:v2.example.org a:v3.example.org -all" },
	  .want = FAIL },
	{ .name = "4.6.4 void lookups add up across includes",
	  .zone = { "example.org TXT v=spf1 a:v1.example.org "
		    "include:i.example.org -all",
		    "i.example.org TXT v=spf1 a:v2.example.org "
		    "a:v3.example.org -all" },
	  .want = PERMERROR,
	  .problem = "void lookup limit" },
	{ .name = "4.6.4 lookups that find records are not void",
	  .zone = { "example.org TXT v=spf1 a a a a -all",
		    "example.org A 198.51.100.1" },
	  .want = FAIL },

	/* 4.7 default result */
	{ .name = "4.7 no match and no redirect is neutral",
	  .zone = { "example.org TXT v=spf1 ip4:198.51.100.1" },
	  .want = NEUTRAL,
	  .mech = NULL },

	/* 5.1 all */
	{ .name = "5.1 all matches",
	  .zone = { "example.org TXT v=spf1 -all" },
	  .want = FAIL,
	  .mech = "-all",
	  .queries = 1 },
	{ .name = "5.1 terms after all are not evaluated",
	  .zone = { "example.org TXT v=spf1 ~all a:v1.example.org" },
	  .want = SOFTFAIL,
	  .queries = 1 },

	/* 5.2 include */
	{ .name = "5.2 include of pass matches",
	  .zone = { "example.org TXT v=spf1 include:i.example.org -all",
		    "i.example.org TXT v=spf1 ip4:192.0.2.10 -all" },
	  .want = PASS,
	  .mech = "include:i.example.org" },
	{ .name = "5.2 include of fail does not match",
	  .zone = { "example.org TXT v=spf1 include:i.example.org ~all",
		    "i.example.org TXT v=spf1 -all" },
	  .want = SOFTFAIL,
	  .mech = "~all" },
	{ .name = "5.2 include of softfail does not match",
	  .zone = { "example.org TXT v=spf1 include:i.example.org ?all",
		    "i.example.org TXT v=spf1 ~all" },
	  .want = NEUTRAL,
	  .mech = "?all" },
	{ .name = "5.2 include of neutral does not match",
	  .zone = { "example.org TXT v=spf1 include:i.example.org -all",
		    "i.example.org TXT v=spf1 ?all" },
	  .want = FAIL },
	{ .name = "5.2 include of default neutral does not match",
	  .zone = { "example.org TXT v=spf1 include:i.example.org -all",
		    "i.example.org TXT v=spf1" },
	  .want = FAIL,
	  .mech = "-all" },
	{ .name = "5.2 include of temperror is temperror",
	  .zone = { "example.org TXT v=spf1 include:i.example.org -all",
		    "i.example.org TXT TIMEOUT" },
	  .want = TEMPERROR,
	  .problem = "DNS failure looking up TXT i.example.org" },
	{ .name = "5.2 include of permerror is permerror",
	  .zone = { "example.org TXT v=spf1 include:i.example.org +all",
		    "i.example.org TXT v=spf1 ip4:1.2.3" },
	  .want = PERMERROR,
	  .problem = "syntax error at 'ip4:1.2.3': bad IPv4 address (in "
		     "the record of i.example.org)" },
	{ .name = "5.2 include of none is permerror",
	  .zone = { "example.org TXT v=spf1 include:i.example.org +all" },
	  .want = PERMERROR,
	  .problem = "included domain i.example.org has no SPF record" },
	{ .name = "5.2 the qualifier applies to the include",
	  .zone = { "example.org TXT v=spf1 -include:i.example.org +all",
		    "i.example.org TXT v=spf1 +all" },
	  .want = FAIL,
	  .mech = "-include:i.example.org" },
	{ .name = "5.2 include loop",
	  .zone = { "example.org TXT v=spf1 include:i.example.org -all",
		    "i.example.org TXT v=spf1 include:example.org -all" },
	  .want = PERMERROR,
	  .problem = "include loop" },
	{ .name = "5.2 include of itself",
	  .zone = { "example.org TXT v=spf1 include:Example.ORG -all" },
	  .want = PERMERROR,
	  .problem = "include loop" },
	{ .name = "5.2 the same include twice is no loop",
	  .zone = { "example.org TXT v=spf1 include:i.example.org "
		    "include:i.example.org -all",
		    "i.example.org TXT v=spf1 ip4:198.51.100.1" },
	  .want = FAIL },
	{ .name = "5.2 %{d} inside an include is the included domain",
	  .zone = { "example.org TXT v=spf1 include:i.example.org -all",
		    "i.example.org TXT v=spf1 exists:%{d}.x.org -all",
		    "i.example.org.x.org A 127.0.0.2" },
	  .want = PASS },
	{ .name = "5.2 %{d} after an include is the domain again",
	  .zone = { "example.org TXT v=spf1 include:i.example.org "
		    "exists:%{d}.y.org -all",
		    "i.example.org TXT v=spf1 -all",
		    "example.org.y.org A 127.0.0.2" },
	  .want = PASS,
	  .mech = "exists:%{d}.y.org" },
	{ .name = "5.2 include of a malformed name is permerror",
	  .sender = L64 "@example.org",
	  .zone = { "example.org TXT v=spf1 include:%{l}.example.org "
		    "+all" },
	  .want = PERMERROR,
	  .problem = "has no SPF record" },

	/* 5.3 a */
	{ .name = "5.3 a matches the domain's address",
	  .zone = { "example.org TXT v=spf1 a -all",
		    "example.org A 192.0.2.10" },
	  .want = PASS,
	  .mech = "a",
	  .queries = 2 },
	{ .name = "5.3 a with several addresses",
	  .zone = { "example.org TXT v=spf1 a -all",
		    "example.org A 198.51.100.1", "example.org A 192.0.2.10" },
	  .want = PASS },
	{ .name = "5.3 a:domain",
	  .zone = { "example.org TXT v=spf1 a:mail.example.org -all",
		    "mail.example.org A 192.0.2.10" },
	  .want = PASS },
	{ .name = "5.3 a/24",
	  .zone = { "example.org TXT v=spf1 a/24 -all",
		    "example.org A 192.0.2.200" },
	  .want = PASS },
	{ .name = "5.3 a without prefix is the address only",
	  .zone = { "example.org TXT v=spf1 a -all",
		    "example.org A 192.0.2.200" },
	  .want = FAIL },
	{ .name = "5.3 an IPv6 client asks AAAA",
	  .ip = "2001:db8::10",
	  .zone = { "example.org TXT v=spf1 a -all", "example.org A 192.0.2.10",
		    "example.org AAAA 2001:db8::10" },
	  .want = PASS,
	  .queries = 2 },
	{ .name = "5.3 an IPv6 client does not match A records",
	  .ip = "2001:db8::10",
	  .zone = { "example.org TXT v=spf1 a/0 -all",
		    "example.org A 192.0.2.10" },
	  .want = FAIL },
	{ .name = "5.3 a//64 for IPv6",
	  .ip = "2001:db8::1:10",
	  .zone = { "example.org TXT v=spf1 a//64 -all",
		    "example.org AAAA 2001:db8::99" },
	  .want = PASS },
	{ .name = "5.3 an IPv4 prefix does not apply to IPv6",
	  .ip = "2001:db8::1:10",
	  .zone = { "example.org TXT v=spf1 a/24 -all",
		    "example.org AAAA 2001:db8::99" },
	  .want = FAIL },
	{ .name = "5.3 an IPv6 prefix does not apply to IPv4",
	  .zone = { "example.org TXT v=spf1 a//0 -all",
		    "example.org A 192.0.2.11" },
	  .want = FAIL },
	{ .name = "5.3 a/0 matches whenever there is an address",
	  .zone = { "example.org TXT v=spf1 a/0 a:v.example.org/0 -all",
		    "example.org A 198.51.100.1" },
	  .want = PASS },
	{ .name = "5.3 a/0 on a name without addresses",
	  .zone = { "example.org TXT v=spf1 a:v.example.org/0 -all" },
	  .want = FAIL },
	{ .name = "5.3 an A timeout is temperror",
	  .zone = { "example.org TXT v=spf1 a -all", "example.org A TIMEOUT" },
	  .want = TEMPERROR,
	  .problem = "DNS failure looking up A example.org" },
	{ .name = "5.3 an IPv4-mapped client is IPv4",
	  .ip = "::ffff:192.0.2.10",
	  .zone = { "example.org TXT v=spf1 a -all",
		    "example.org A 192.0.2.10" },
	  .want = PASS },
	{ .name = "5.3 a name with ':' and '/' is looked up as written",
	  .zone = { "example.org TXT v=spf1 a:foo:bar/baz.example.org -all",
		    "foo:bar/baz.example.org A 192.0.2.10" },
	  .want = PASS },
	{ .name = "5.3 a target with a 64-octet label does not exist",
	  .sender = L64 "@example.org",
	  .zone = { "example.org TXT v=spf1 a:%{l}.example.org -all" },
	  .want = FAIL,
	  .queries = 1 },

	/* 5.4 mx */
	{ .name = "5.4 mx matches an exchange's address",
	  .zone = { "example.org TXT v=spf1 mx -all",
		    "example.org MX 10 mx1.example.org",
		    "example.org MX 20 mx2.example.org",
		    "mx1.example.org A 198.51.100.1",
		    "mx2.example.org A 192.0.2.10" },
	  .want = PASS,
	  .mech = "mx" },
	{ .name = "5.4 no implicit MX",
	  .zone = { "example.org TXT v=spf1 mx -all",
		    "example.org A 192.0.2.10" },
	  .want = FAIL },
	{ .name = "5.4 mx:domain/24",
	  .zone = { "example.org TXT v=spf1 mx:other.example.net/24 -all",
		    "other.example.net MX 10 mx.other.example.net",
		    "mx.other.example.net A 192.0.2.99" },
	  .want = PASS },
	{ .name = "5.4 an MX timeout is temperror",
	  .zone = { "example.org TXT v=spf1 mx -all",
		    "example.org MX TIMEOUT" },
	  .want = TEMPERROR,
	  .problem = "DNS failure looking up MX example.org" },
	{ .name = "5.4 an exchange address timeout is temperror",
	  .zone = { "example.org TXT v=spf1 mx -all",
		    "example.org MX 10 mx1.example.org",
		    "mx1.example.org A TIMEOUT" },
	  .want = TEMPERROR,
	  .problem = "DNS failure looking up A mx1.example.org" },
	{ .name = "5.4 a null MX is skipped",
	  .zone = { "example.org TXT v=spf1 mx -all", "example.org MX 0 ." },
	  .want = FAIL,
	  .queries = 2 },
	{ .name = "5.4 an IPv6 client asks AAAA of the exchanges",
	  .ip = "2001:db8::10",
	  .zone = { "example.org TXT v=spf1 mx -all",
		    "example.org MX 10 mx1.example.org",
		    "mx1.example.org A 192.0.2.10",
		    "mx1.example.org AAAA 2001:db8::10" },
	  .want = PASS },

	/* 5.5 ptr */
	{ .name = "5.5 ptr with a validated name",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    "10.2.0.192.in-addr.arpa PTR mail.example.org",
		    "mail.example.org A 192.0.2.10" },
	  .want = PASS,
	  .mech = "ptr" },
	{ .name = "5.5 a name that does not resolve back",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    "10.2.0.192.in-addr.arpa PTR mail.example.org",
		    "mail.example.org A 198.51.100.1" },
	  .want = FAIL },
	{ .name = "5.5 a name outside the domain",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    "10.2.0.192.in-addr.arpa PTR mail.example.net",
		    "mail.example.net A 192.0.2.10" },
	  .want = FAIL },
	{ .name = "5.5 the domain itself",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    "10.2.0.192.in-addr.arpa PTR example.org",
		    "example.org A 192.0.2.10" },
	  .want = PASS },
	{ .name = "5.5 a suffix without a label boundary",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    "10.2.0.192.in-addr.arpa PTR badexample.org",
		    "badexample.org A 192.0.2.10" },
	  .want = FAIL },
	{ .name = "5.5 ptr:domain",
	  .zone = { "example.org TXT v=spf1 ptr:example.net -all",
		    "10.2.0.192.in-addr.arpa PTR mail.example.net",
		    "mail.example.net A 192.0.2.10" },
	  .want = PASS },
	{ .name = "5.5 a PTR timeout is no match",
	  .zone = { "example.org TXT v=spf1 ptr ?all",
		    "10.2.0.192.in-addr.arpa PTR TIMEOUT" },
	  .want = NEUTRAL,
	  .mech = "?all" },
	{ .name = "5.5 an address timeout skips that name",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    "10.2.0.192.in-addr.arpa PTR a.example.org",
		    "10.2.0.192.in-addr.arpa PTR b.example.org",
		    "a.example.org A TIMEOUT", "b.example.org A 192.0.2.10" },
	  .want = PASS },
	{ .name = "5.5 ptr for IPv6",
	  .ip = "2001:db8::cb01",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    IP6REV ".ip6.arpa PTR mail.example.org",
		    "mail.example.org AAAA 2001:db8::cb01" },
	  .want = PASS },
	{ .name = "5.5 names compare in any case",
	  .zone = { "example.org TXT v=spf1 ptr -all",
		    "10.2.0.192.in-addr.arpa PTR MAIL.Example.ORG",
		    "MAIL.Example.ORG A 192.0.2.10" },
	  .want = PASS },
	{ .name = "5.5 no PTR record is a void lookup",
	  .zone = { "example.org TXT v=spf1 ptr ptr ptr -all" },
	  .want = PERMERROR,
	  .problem = "void lookup limit" },

	/* 5.6 ip4 and ip6 */
	{ .name = "5.6 ip4 network",
	  .zone = { "example.org TXT v=spf1 ip4:192.0.2.0/24 -all" },
	  .want = PASS,
	  .queries = 1 },
	{ .name = "5.6 ip4 smaller network",
	  .zone = { "example.org TXT v=spf1 ip4:192.0.2.0/29 -all" },
	  .want = FAIL },
	{ .name = "5.6 ip4 /0",
	  .zone = { "example.org TXT v=spf1 ip4:0.0.0.0/0 -all" },
	  .want = PASS },
	{ .name = "5.6 ip4 does not match an IPv6 client",
	  .ip = "2001:db8::1",
	  .zone = { "example.org TXT v=spf1 ip4:0.0.0.0/0 -all" },
	  .want = FAIL },
	{ .name = "5.6 ip6 network",
	  .ip = "2001:db8::1",
	  .zone = { "example.org TXT v=spf1 ip6:2001:db8::/32 -all" },
	  .want = PASS },
	{ .name = "5.6 ip6 does not match an IPv4 client",
	  .zone = { "example.org TXT v=spf1 ip6:::/0 -all" },
	  .want = FAIL },
	{ .name = "5.6 an IPv4-mapped client matches ip4",
	  .ip = "::ffff:192.0.2.10",
	  .zone = { "example.org TXT v=spf1 ip6:::/0 ip4:192.0.2.10 -all" },
	  .want = PASS,
	  .mech = "ip4:192.0.2.10" },

	/* 5.7 exists */
	{ .name = "5.7 exists matches any A record",
	  .zone = { "example.org TXT v=spf1 -exists:%{ir}.bl.example.net "
		    "+all",
		    "10.2.0.192.bl.example.net A 127.0.0.2" },
	  .want = FAIL,
	  .mech = "-exists:%{ir}.bl.example.net" },
	{ .name = "5.7 exists asks A even for IPv6",
	  .ip = "2001:db8::10",
	  .zone = { "example.org TXT v=spf1 exists:x.example.org -all",
		    "x.example.org AAAA 2001:db8::10" },
	  .want = FAIL },
	{ .name = "5.7 exists timeout is temperror",
	  .zone = { "example.org TXT v=spf1 exists:x.example.org -all",
		    "x.example.org A TIMEOUT" },
	  .want = TEMPERROR },
	{ .name = "5.7 exists with a final dot",
	  .zone = { "example.org TXT v=spf1 exists:%{d}. -all",
		    "example.org A 127.0.0.2" },
	  .want = PASS },

	/* 6.1 redirect */
	{ .name = "6.1 redirect when nothing matches",
	  .zone = { "example.org TXT v=spf1 ip4:198.51.100.1 "
		    "redirect=r.example.org",
		    "r.example.org TXT v=spf1 ip4:192.0.2.10 -all" },
	  .want = PASS,
	  .mech = "ip4:192.0.2.10" },
	{ .name = "6.1 redirect is ignored after a match",
	  .zone = { "example.org TXT v=spf1 ip4:192.0.2.10 "
		    "redirect=r.example.org" },
	  .want = PASS,
	  .queries = 1 },
	{ .name = "6.1 redirect is ignored with all anywhere",
	  .zone = { "example.org TXT v=spf1 redirect=r.example.org ?all",
		    "r.example.org TXT v=spf1 -all" },
	  .want = NEUTRAL,
	  .mech = "?all" },
	{ .name = "6.1 redirect to a domain without record is permerror",
	  .zone = { "example.org TXT v=spf1 redirect=r.example.org" },
	  .want = PERMERROR,
	  .problem = "redirect to r.example.org, which has no SPF record" },
	{ .name = "6.1 redirect to a malformed name is permerror",
	  .sender = L64 "@example.org",
	  .zone = { "example.org TXT v=spf1 redirect=%{l}.example.org" },
	  .want = PERMERROR },
	{ .name = "6.1 the target's result is the result",
	  .zone = { "example.org TXT v=spf1 redirect=r.example.org",
		    "r.example.org TXT v=spf1 ~all" },
	  .want = SOFTFAIL,
	  .mech = "~all" },
	{ .name = "6.1 the target's default is neutral",
	  .zone = { "example.org TXT v=spf1 redirect=r.example.org",
		    "r.example.org TXT v=spf1" },
	  .want = NEUTRAL },
	{ .name = "6.1 redirect temperror",
	  .zone = { "example.org TXT v=spf1 redirect=r.example.org",
		    "r.example.org TXT TIMEOUT" },
	  .want = TEMPERROR },
	{ .name = "6.1 redirect loop",
	  .zone = { "example.org TXT v=spf1 redirect=r.example.org",
		    "r.example.org TXT v=spf1 redirect=example.org" },
	  .want = PERMERROR,
	  .problem = "redirect loop" },
	{ .name = "6.1 %{d} after redirect is the target",
	  .zone = { "example.org TXT v=spf1 redirect=r.example.org",
		    "r.example.org TXT v=spf1 exists:%{d}.x.org -all",
		    "r.example.org.x.org A 127.0.0.2" },
	  .want = PASS },
	{ .name = "6.1 redirect with a macro",
	  .zone = { "example.org TXT v=spf1 redirect=_%{l}.%{d}",
		    "_user.example.org TXT v=spf1 -all" },
	  .want = FAIL },
	{ .name = "6 unknown modifiers are ignored",
	  .zone = { "example.org TXT v=spf1 foo=bar default=deny -all" },
	  .want = FAIL },
	{ .name = "6 a duplicate redirect is permerror",
	  .zone = { "example.org TXT v=spf1 redirect=a.example.org "
		    "redirect=a.example.org" },
	  .want = PERMERROR,
	  .problem = "modifier given twice" },

	/* 6.2 exp */
	{ .name = "6.2 exp on fail",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT %{i} is not allowed to send for %{d}" },
	  .want = FAIL,
	  .exp = "192.0.2.10 is not allowed to send for example.org" },
	{ .name = "6.2 c, r and t in exp",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT from %{c} at %{r} %{t}" },
	  .want = FAIL,
	  .exp = "from 192.0.2.10 at rx.example.net 1700000000" },
	{ .name = "6.2 exp is not looked up without fail",
	  .zone = { "example.org TXT v=spf1 ~all exp=e.example.org",
		    "e.example.org TXT explained" },
	  .want = SOFTFAIL,
	  .exp = "",
	  .queries = 1 },
	{ .name = "6.2 exp with two TXT records is ignored",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT one", "e.example.org TXT two" },
	  .want = FAIL,
	  .exp = "" },
	{ .name = "6.2 exp NXDOMAIN is ignored",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org" },
	  .want = FAIL,
	  .exp = "" },
	{ .name = "6.2 exp timeout is ignored",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT TIMEOUT" },
	  .want = FAIL,
	  .exp = "" },
	{ .name = "6.2 exp with a bad macro is ignored",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT bad %{x}" },
	  .want = FAIL,
	  .exp = "" },
	{ .name = "6.2 exp with non-ASCII is ignored",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT caf\xc3\xa9" },
	  .want = FAIL,
	  .exp = "default for example.org",
	  .default_exp = "default for %{d}" },
	{ .name = "6.2 exp of a malformed name is ignored",
	  .sender = L64 "@example.org",
	  .zone = { "example.org TXT v=spf1 -all exp=%{l}.example.org" },
	  .want = FAIL,
	  .exp = "" },
	{ .name = "6.2 the default explanation",
	  .default_exp = "See http://example.net/why?s=%{S}",
	  .zone = { "example.org TXT v=spf1 -all" },
	  .want = FAIL,
	  .exp = "See http://example.net/why?s=user%40example.org" },
	{ .name = "6.2 the default explanation when exp= fails",
	  .default_exp = "default for %{d}",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org" },
	  .want = FAIL,
	  .exp = "default for example.org" },
	{ .name = "6.2 exp of an included record is not used",
	  .zone = { "example.org TXT v=spf1 include:i.example.org -all",
		    "i.example.org TXT v=spf1 -all exp=ei.example.org",
		    "ei.example.org TXT inner" },
	  .want = FAIL,
	  .exp = "" },
	{ .name = "6.2 after redirect the target's exp is used",
	  .zone = { "example.org TXT v=spf1 exp=e1.example.org "
		    "redirect=r.example.org",
		    "r.example.org TXT v=spf1 -all exp=e2.example.org",
		    "e1.example.org TXT one", "e2.example.org TXT two %{d}" },
	  .want = FAIL,
	  .exp = "two r.example.org" },
	{ .name = "6.2 after redirect the original exp is not used",
	  .zone = { "example.org TXT v=spf1 exp=e1.example.org "
		    "redirect=r.example.org",
		    "r.example.org TXT v=spf1 -all", "e1.example.org TXT one" },
	  .want = FAIL,
	  .exp = "" },
	{ .name = "6.2 exp with a macro domain",
	  .zone = { "example.org TXT v=spf1 -all exp=%{d}.e.example.net",
		    "example.org.e.example.net TXT text" },
	  .want = FAIL,
	  .exp = "text" },
	{ .name = "6.2 exp lookups do not count against the limit",
	  .zone = { "example.org TXT v=spf1 a a a a a a a a a a -all "
		    "exp=e.example.org",
		    "example.org A 198.51.100.1",
		    "e.example.org TXT still explained" },
	  .want = FAIL,
	  .exp = "still explained" },
	{ .name = "6.2 exp in a modifier twice is permerror",
	  .zone = { "example.org TXT v=spf1 -all exp=a.example.org "
		    "exp=b.example.org" },
	  .want = PERMERROR,
	  .problem = "modifier given twice" },

	/* 7 macros in use */
	{ .name = "7.3 %{ir}.%{v} for IPv6",
	  .ip = "2001:db8::cb01",
	  .zone = { "example.org TXT v=spf1 exists:%{ir}.%{v}._spf.%{d} "
		    "-all",
		    IP6REV ".ip6._spf.example.org A 127.0.0.2" },
	  .want = PASS },
	{ .name = "7.3 i, c and v for IPv6 in an explanation",
	  .ip = "2001:db8::cb01",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT %{c} is %{ir}.%{v}.arpa" },
	  .want = FAIL,
	  .exp = "2001:db8::cb01 is 1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
		 "0.0.0.8.B.D.0.1.0.0.2.ip6.arpa" },
	{ .name = "7.3 %{p} is the validated name",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT name %{p}",
		    "10.2.0.192.in-addr.arpa PTR mail.example.net",
		    "mail.example.net A 192.0.2.10" },
	  .want = FAIL,
	  .exp = "name mail.example.net" },
	{ .name = "7.3 %{p} prefers the domain",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT name %{p}",
		    "10.2.0.192.in-addr.arpa PTR a.example.net",
		    "10.2.0.192.in-addr.arpa PTR b.example.org",
		    "10.2.0.192.in-addr.arpa PTR example.org",
		    "a.example.net A 192.0.2.10", "b.example.org A 192.0.2.10",
		    "example.org A 192.0.2.10" },
	  .want = FAIL,
	  .exp = "name example.org" },
	{ .name = "7.3 %{p} then a subdomain of the domain",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT name %{p}",
		    "10.2.0.192.in-addr.arpa PTR a.example.net",
		    "10.2.0.192.in-addr.arpa PTR b.example.org",
		    "a.example.net A 192.0.2.10",
		    "b.example.org A 192.0.2.10" },
	  .want = FAIL,
	  .exp = "name b.example.org" },
	{ .name = "7.3 %{p} unknown",
	  .zone = { "example.org TXT v=spf1 -all exp=e.example.org",
		    "e.example.org TXT name %{p}" },
	  .want = FAIL,
	  .exp = "name unknown" },
	{ .name = "7.3 %{p} in a mechanism",
	  .zone = { "example.org TXT v=spf1 exists:%{p}.x.org -all",
		    "10.2.0.192.in-addr.arpa PTR mail.example.org",
		    "mail.example.org A 192.0.2.10",
		    "mail.example.org.x.org A 127.0.0.2" },
	  .want = PASS },
	{ .name = "7.3 %{h}",
	  .zone = { "example.org TXT v=spf1 exists:%{h}.x.org -all",
		    "mx.example.net.x.org A 127.0.0.2" },
	  .want = PASS },
	{ .name = "7.3 long expansions lose labels on the left",
	  .sender = L63 "@example.org",
	  .zone = { "example.org TXT v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{d} "
		    "-all",
		    L63 "." L63 "." L63 ".example.org A 127.0.0.2" },
	  .want = PASS },
	{ .name = "7.3 upper case macros are URL-escaped in lookups",
	  .sender = "a+b@example.org",
	  .zone = { "example.org TXT v=spf1 exists:%{L}.x.org -all",
		    "a%2Bb.x.org A 127.0.0.2" },
	  .want = PASS },
	{ .name = "7.3 %{o} stays the sender's domain in an include",
	  .zone = { "example.org TXT v=spf1 include:i.example.net -all",
		    "i.example.net TXT v=spf1 exists:%{o}.%{d}.x.org -all",
		    "example.org.i.example.net.x.org A 127.0.0.2" },
	  .want = PASS },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void
run(const struct eval_case *c, struct spf_response *resp, struct zone *z,
    struct pst_arena *arena)
{
	struct spf_dns dns = { .ctx = z, .query = zone_query };
	struct spf_request req = {
		.sender = c->sender != NULL ? c->sender : "user@example.org",
		.helo = c->helo != NULL ? c->helo : "mx.example.net",
		.domain = c->domain,
		.receiver = "rx.example.net",
		.default_exp = c->default_exp,
		.now = 1700000000,
		.flags = c->exp != NULL ? SPF_F_EXPLAIN : 0,
		.max_void = c->max_void,
	};

	z->lines = c->zone;
	z->queries = 0;
	assert_int_equal(
		spf_addr_parse(c->ip != NULL ? c->ip : "192.0.2.10", &req.ip),
		0);
	switch (c->mode) {
	case MAILFROM:
		spf_check_mailfrom(&req, &dns, arena, resp);
		break;
	case HELO:
		spf_check_helo(&req, &dns, arena, resp);
		break;
	case HOST:
		spf_check_host(&req, &dns, arena, resp);
		break;
	}
}

static void
test_case(void **state)
{
	const struct eval_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_response resp;
	struct zone z;

	run(c, &resp, &z, arena);
	if (resp.result != c->want)
		fail_msg("result %s, want %s (problem: %s)",
			 spf_result_name(resp.result), spf_result_name(c->want),
			 resp.problem ? resp.problem : "-");
	if (c->want == TEMPERROR || c->want == PERMERROR) {
		assert_non_null(resp.problem);
		assert_null(resp.mechanism);
	} else {
		assert_null(resp.problem);
	}
	if (c->problem != NULL && strstr(resp.problem, c->problem) == NULL)
		fail_msg("problem '%s' lacks '%s'", resp.problem, c->problem);
	if (c->mech != NULL) {
		assert_non_null(resp.mechanism);
		assert_string_equal(resp.mechanism, c->mech);
	}
	if (c->want == NEUTRAL && c->mech == NULL && resp.mechanism != NULL)
		fail_msg("default neutral, but mechanism %s", resp.mechanism);
	if (c->exp != NULL && c->exp[0] == '\0')
		assert_null(resp.explanation);
	else if (c->exp != NULL) {
		assert_non_null(resp.explanation);
		assert_string_equal(resp.explanation, c->exp);
	} else {
		assert_null(resp.explanation);
	}
	assert_int_equal(resp.queries, z.queries);
	if (c->queries == NO_QUERIES)
		assert_int_equal(z.queries, 0);
	else if (c->queries > 0)
		assert_int_equal(z.queries, (unsigned)c->queries);
	pst_arena_free(&arena);
}

static int
odd_query(void *ctx, struct pst_arena *arena, const char *name, int type,
	  struct spf_dns_answer *out)
{
	int *mode = ctx;

	(void)arena;
	(void)name;
	if (type == SPF_DNS_TXT) {
		static struct spf_dns_rr rr = { .text = "v=spf1 a -all",
						.len = 13 };

		out->rr = &rr;
		out->count = 1;
		return SPF_DNS_OK;
	}
	out->rr = NULL;
	out->count = 0;
	return *mode; /* OK with no records, or a status out of range */
}

/* The resolver contract: OK without records is NODATA (void), an
 * unknown status is a temporary failure. */
static void
test_dns_contract(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_response resp;
	int mode = SPF_DNS_OK;
	struct spf_dns dns = { .ctx = &mode, .query = odd_query };
	struct spf_request req = { .sender = "user@example.org" };

	(void)state;
	assert_int_equal(spf_addr_parse("192.0.2.10", &req.ip), 0);
	assert_int_equal(spf_check_mailfrom(&req, &dns, arena, &resp), FAIL);
	assert_int_equal(resp.voids, 1);
	assert_int_equal(resp.dns_terms, 1);
	assert_int_equal(resp.queries, 2);
	assert_string_equal(resp.domain, "example.org");
	mode = 42;
	assert_int_equal(spf_check_mailfrom(&req, &dns, arena, &resp),
			 TEMPERROR);
	assert_string_equal(resp.problem,
			    "DNS failure looking up A example.org");
	pst_arena_free(&arena);
}

/* Requests the evaluator cannot work on are temperror, not a crash. */
static void
test_bad_request(void **state)
{
	static const char *const none[] = { NULL };
	struct pst_arena *arena = pst_arena_new(0);
	struct zone z = { .lines = none };
	struct spf_dns dns = { .ctx = &z, .query = zone_query };
	struct spf_request req = { .sender = "user@example.org" };
	struct spf_response resp;

	(void)state;
	assert_int_equal(spf_check_host(&req, &dns, arena, &resp), TEMPERROR);
	assert_string_equal(resp.problem, "bad request");
	assert_int_equal(spf_addr_parse("192.0.2.10", &req.ip), 0);
	dns.query = NULL;
	assert_int_equal(spf_check_host(&req, &dns, arena, &resp), TEMPERROR);
	dns.query = zone_query;
	req.sender = NULL;
	assert_int_equal(spf_check_host(&req, &dns, arena, &resp), TEMPERROR);
	/* no domain given: the sender's */
	req.sender = "user@example.org";
	assert_int_equal(spf_check_host(&req, &dns, arena, &resp), NONE);
	assert_int_equal(z.queries, 1);
	/* no HELO at all */
	assert_int_equal(spf_check_helo(&req, &dns, arena, &resp), NONE);
	pst_arena_free(&arena);
}

/* Without SPF_F_EXPLAIN nothing is looked up for exp=. */
static void
test_explain_only_when_asked(void **state)
{
	static const char *const zone[] = {
		"example.org TXT v=spf1 -all exp=e.example.org",
		"e.example.org TXT why", NULL
	};
	struct pst_arena *arena = pst_arena_new(0);
	struct zone z = { .lines = zone };
	struct spf_dns dns = { .ctx = &z, .query = zone_query };
	struct spf_request req = { .sender = "user@example.org",
				   .default_exp = "default" };
	struct spf_response resp;

	(void)state;
	assert_int_equal(spf_addr_parse("192.0.2.10", &req.ip), 0);
	assert_int_equal(spf_check_mailfrom(&req, &dns, arena, &resp), FAIL);
	assert_null(resp.explanation);
	assert_int_equal(z.queries, 1);
	req.flags = SPF_F_EXPLAIN;
	z.queries = 0;
	assert_int_equal(spf_check_mailfrom(&req, &dns, arena, &resp), FAIL);
	assert_string_equal(resp.explanation, "why");
	assert_int_equal(z.queries, 2);
	pst_arena_free(&arena);
}

/* The counters a log line would carry. */
static void
test_counters(void **state)
{
	static const char *const zone[] = {
		"example.org TXT v=spf1 a:v1.example.org include:i.example.org "
		"mx -all",
		"i.example.org TXT v=spf1 a -all",
		"i.example.org A 198.51.100.1",
		"example.org MX 10 m.example.org",
		"m.example.org A 192.0.2.10",
		NULL
	};
	struct pst_arena *arena = pst_arena_new(0);
	struct zone z = { .lines = zone };
	struct spf_dns dns = { .ctx = &z, .query = zone_query };
	struct spf_request req = { .sender = "user@example.org" };
	struct spf_response resp;

	(void)state;
	assert_int_equal(spf_addr_parse("192.0.2.10", &req.ip), 0);
	assert_int_equal(spf_check_mailfrom(&req, &dns, arena, &resp), PASS);
	assert_string_equal(resp.mechanism, "mx");
	assert_string_equal(resp.domain, "example.org");
	assert_int_equal(resp.dns_terms, 4); /* a, include, a, mx */
	assert_int_equal(resp.voids, 1);
	assert_int_equal(resp.queries, 6);
	assert_int_equal(resp.queries, z.queries);
	pst_arena_free(&arena);
}

static void
test_result_names(void **state)
{
	(void)state;
	assert_string_equal(spf_result_name(NONE), "none");
	assert_string_equal(spf_result_name(NEUTRAL), "neutral");
	assert_string_equal(spf_result_name(PASS), "pass");
	assert_string_equal(spf_result_name(FAIL), "fail");
	assert_string_equal(spf_result_name(SOFTFAIL), "softfail");
	assert_string_equal(spf_result_name(TEMPERROR), "temperror");
	assert_string_equal(spf_result_name(PERMERROR), "permerror");
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_dns_contract),
		cmocka_unit_test(test_bad_request),
		cmocka_unit_test(test_explain_only_when_asked),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_result_names),
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
	return _cmocka_run_group_tests("spf_eval", tests, n, NULL, NULL);
}
