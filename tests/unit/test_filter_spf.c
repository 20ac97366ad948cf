/*
 * test_filter_spf.c - the spf filter without a DNS server: the adapter
 * between the evaluator and the shared resolver (answers converted,
 * the time budget), the libspf2 engine over a table of records (results
 * mapped, no system resolver, no SPF RR type, NULs in records), and the
 * filter through a chain without a resolver (temperror and its action,
 * trusted clients, options).  The same filter against a real DNS server
 * is test_filter_spf_live.c.
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

/* libspf2's result names collide with mail/spf.h's: see
 * filters/spf_libspf2.c. */
#define SPF_RESULT_INVALID SPF2_RESULT_INVALID
#define SPF_RESULT_NEUTRAL SPF2_RESULT_NEUTRAL
#define SPF_RESULT_PASS SPF2_RESULT_PASS
#define SPF_RESULT_FAIL SPF2_RESULT_FAIL
#define SPF_RESULT_SOFTFAIL SPF2_RESULT_SOFTFAIL
#define SPF_RESULT_NONE SPF2_RESULT_NONE
#define SPF_RESULT_TEMPERROR SPF2_RESULT_TEMPERROR
#define SPF_RESULT_PERMERROR SPF2_RESULT_PERMERROR
#include <netinet/in.h>
#include <spf2/spf.h>
#undef SPF_RESULT_INVALID
#undef SPF_RESULT_NEUTRAL
#undef SPF_RESULT_PASS
#undef SPF_RESULT_FAIL
#undef SPF_RESULT_SOFTFAIL
#undef SPF_RESULT_NONE
#undef SPF_RESULT_TEMPERROR
#undef SPF_RESULT_PERMERROR

#include "arena.h"
#include "dns.h"
#include "filter_int.h"
#include "spf.h"
#include "spf_dmarc.h"
#include "test_filter_spf_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- spf_dns_convert ---- */

static void
test_convert_records(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns_rr rr[2];
	struct pst_dns_answer in = { .status = PST_DNS_OK, .rr = rr, .n = 2 };
	struct spf_dns_answer out;

	(void)state;
	memset(rr, 0, sizeof(rr));
	inet_pton(AF_INET, "192.0.2.1", &rr[0].a);
	inet_pton(AF_INET, "192.0.2.2", &rr[1].a);
	assert_int_equal(spf_dns_convert(&in, SPF_DNS_A, arena, &out),
			 SPF_DNS_OK);
	assert_int_equal(out.count, 2);
	assert_memory_equal(out.rr[1].addr, "\xc0\x00\x02\x02", 4);

	in.type = PST_DNS_AAAA;
	in.n = 1;
	inet_pton(AF_INET6, "2001:db8::7", &rr[0].aaaa);
	assert_int_equal(spf_dns_convert(&in, SPF_DNS_AAAA, arena, &out),
			 SPF_DNS_OK);
	assert_memory_equal(out.rr[0].addr,
			    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07", 16);

	rr[0].mx.pref = 10;
	rr[0].mx.host = "mx.example.org";
	rr[1].mx.pref = 0;
	rr[1].mx.host = "."; /* RFC 7505 null MX */
	in.n = 2;
	assert_int_equal(spf_dns_convert(&in, SPF_DNS_MX, arena, &out),
			 SPF_DNS_OK);
	assert_int_equal(out.rr[0].pref, 10);
	assert_string_equal(out.rr[0].text, "mx.example.org");
	assert_string_equal(out.rr[1].text, ".");

	rr[0].ptr = "host.example.org";
	in.n = 1;
	assert_int_equal(spf_dns_convert(&in, SPF_DNS_PTR, arena, &out),
			 SPF_DNS_OK);
	assert_string_equal(out.rr[0].text, "host.example.org");

	/* TXT is binary-safe: a NUL stays, with its length */
	rr[0].txt.data = "v=spf1\0 -all";
	rr[0].txt.len = 12;
	assert_int_equal(spf_dns_convert(&in, SPF_DNS_TXT, arena, &out),
			 SPF_DNS_OK);
	assert_int_equal(out.rr[0].len, 12);
	assert_memory_equal(out.rr[0].text, "v=spf1\0 -all", 12);
	assert_int_equal(out.rr[0].text[12], '\0');
	pst_arena_free(&arena);
}

static void
test_convert_status(void **state)
{
	static const struct {
		enum pst_dns_status in;
		int want;
	} rows[] = {
		{ PST_DNS_NXDOMAIN, SPF_DNS_NXDOMAIN },
		{ PST_DNS_NODATA, SPF_DNS_NODATA },
		{ PST_DNS_TEMPFAIL, SPF_DNS_TEMPFAIL },
		/* a name no server can hold does not exist */
		{ PST_DNS_BADNAME, SPF_DNS_NXDOMAIN },
		/* OK without records (all dropped) reads as NODATA */
		{ PST_DNS_OK, SPF_DNS_NODATA },
	};
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_dns_answer out;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct pst_dns_answer in = { .status = rows[i].in };

		out.count = 99;
		assert_int_equal(spf_dns_convert(&in, SPF_DNS_TXT, arena, &out),
				 rows[i].want);
		assert_int_equal(out.count, 0);
	}
	assert_int_equal(spf_dns_convert(NULL, SPF_DNS_TXT, arena, &out),
			 SPF_DNS_TEMPFAIL);
	pst_arena_free(&arena);
}

/* ---- the budget ---- */

static void
test_query_timeout(void **state)
{
	struct spf_dns_pst ctx = { 0 };

	(void)state;
	/* no budget: the resolver's own timeout */
	assert_int_equal(spf_dns_query_timeout(&ctx, 1000), 0);
	ctx.deadline = 100000;
	/* plenty left: still the resolver's own */
	assert_int_equal(spf_dns_query_timeout(&ctx, 100000 - 20000), 0);
	assert_int_equal(
		spf_dns_query_timeout(&ctx, 100000 - PST_DNS_DEFAULT_TIMEOUT),
		0);
	/* the end of the budget cuts the last lookups short */
	assert_int_equal(spf_dns_query_timeout(&ctx, 100000 - 1200), 1200);
	assert_int_equal(spf_dns_query_timeout(&ctx, 100000), -1);
	assert_int_equal(spf_dns_query_timeout(&ctx, 200000), -1);
}

static void
test_adapter_without_resolver(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_dns dns;
	struct spf_dns_pst ctx;
	struct spf_dns_answer out;
	struct spf_request req = { .sender = "a@example.org" };
	struct spf_response resp;

	(void)state;
	spf_dns_pst_init(&dns, &ctx, NULL, 1000);
	assert_int_equal(
		dns.query(dns.ctx, arena, "example.org", SPF_DNS_TXT, &out),
		SPF_DNS_TEMPFAIL);
	assert_int_equal(ctx.queries, 0);
	/* and the evaluator makes temperror of it */
	assert_int_equal(spf_addr_parse("192.0.2.1", &req.ip), 0);
	assert_int_equal(spf_check_mailfrom(&req, &dns, arena, &resp),
			 SPF_RESULT_TEMPERROR);
	pst_arena_free(&arena);
}

static void
test_adapter_budget_spent(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_dns dns;
	struct spf_dns_pst ctx;
	struct spf_dns_answer out;

	(void)state;
	/* a non-NULL resolver that must never be reached */
	spf_dns_pst_init(&dns, &ctx, (struct pst_dns *)(uintptr_t)1, 1);
	ctx.deadline = spf_dns_now_ms() - 1;
	assert_int_equal(
		dns.query(dns.ctx, arena, "example.org", SPF_DNS_TXT, &out),
		SPF_DNS_TEMPFAIL);
	assert_int_equal(ctx.queries, 0);
	assert_int_equal(ctx.expired, 1);
	/* an unknown type never reaches the resolver either */
	ctx.deadline = 0;
	assert_int_equal(dns.query(dns.ctx, arena, "example.org", 99, &out),
			 SPF_DNS_TEMPFAIL);
	assert_int_equal(ctx.queries, 0);
	pst_arena_free(&arena);
}

/* ---- libspf2: result mapping ---- */

static void
test_libspf2_map(void **state)
{
	static const struct {
		int result, err;
		enum spf_result want;
	} rows[] = {
		{ SPF2_RESULT_NEUTRAL, SPF_E_SUCCESS, SPF_RESULT_NEUTRAL },
		{ SPF2_RESULT_PASS, SPF_E_SUCCESS, SPF_RESULT_PASS },
		{ SPF2_RESULT_FAIL, SPF_E_SUCCESS, SPF_RESULT_FAIL },
		{ SPF2_RESULT_SOFTFAIL, SPF_E_SUCCESS, SPF_RESULT_SOFTFAIL },
		{ SPF2_RESULT_NONE, SPF_E_NOT_SPF, SPF_RESULT_NONE },
		{ SPF2_RESULT_TEMPERROR, SPF_E_DNS_ERROR,
		  SPF_RESULT_TEMPERROR },
		{ SPF2_RESULT_PERMERROR, SPF_E_MULTIPLE_RECORDS,
		  SPF_RESULT_PERMERROR },
		/* "invalid" after a compile error: permerror */
		{ SPF2_RESULT_INVALID, SPF_E_UNKNOWN_MECH,
		  SPF_RESULT_PERMERROR },
		{ SPF2_RESULT_INVALID, SPF_E_SYNTAX, SPF_RESULT_PERMERROR },
		{ SPF2_RESULT_INVALID, SPF_E_INVALID_CIDR,
		  SPF_RESULT_PERMERROR },
		/* "invalid" after a DNS error: temperror */
		{ SPF2_RESULT_INVALID, SPF_E_DNS_ERROR, SPF_RESULT_TEMPERROR },
		/* "invalid": TXT records, none of them SPF */
		{ SPF2_RESULT_INVALID, SPF_E_NOT_SPF, SPF_RESULT_NONE },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++)
		assert_int_equal(spf_libspf2_map(rows[i].result, rows[i].err),
				 rows[i].want);
}

/* ---- libspf2 over a table of records ---- */

struct fake_rr {
	const char *name;
	int type;
	int status;	  /* enum spf_dns_status */
	const char *text; /* TXT, MX host, PTR; or an address */
	size_t len;	  /* TXT with NULs */
};

static const struct fake_rr fake_zone[] = {
	{ "pass.example", SPF_DNS_TXT, SPF_DNS_OK,
	  "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all" },
	{ "fail.example", SPF_DNS_TXT, SPF_DNS_OK, "v=spf1 -all" },
	{ "soft.example", SPF_DNS_TXT, SPF_DNS_OK, "v=spf1 ~all" },
	{ "neutral.example", SPF_DNS_TXT, SPF_DNS_OK, "v=spf1 ?all" },
	{ "other.example", SPF_DNS_TXT, SPF_DNS_OK, "not spf at all" },
	{ "bad.example", SPF_DNS_TXT, SPF_DNS_OK, "v=spf1 foo:bar -all" },
	{ "two.example", SPF_DNS_TXT, SPF_DNS_OK, "v=spf1 -all" },
	{ "two.example", SPF_DNS_TXT, SPF_DNS_OK, "v=spf1 +all" },
	{ "temp.example", SPF_DNS_TXT, SPF_DNS_TEMPFAIL },
	{ "a.example", SPF_DNS_TXT, SPF_DNS_OK, "v=spf1 a -all" },
	{ "a.example", SPF_DNS_A, SPF_DNS_OK, "192.0.2.77" },
	{ "exp.example", SPF_DNS_TXT, SPF_DNS_OK,
	  "v=spf1 -all exp=why.exp.example" },
	/* libspf2 cannot expand an explanation with spaces (RFC 7208 6.2
	 * allows them): this one it can */
	{ "why.exp.example", SPF_DNS_TXT, SPF_DNS_OK, "go-away-%{i}" },
	/* a NUL would cut "v=spf1 +all\0..." short into a pass */
	{ "nul.example", SPF_DNS_TXT, SPF_DNS_OK, "v=spf1 +all\0 -all", 17 },
	{ "helo.example", SPF_DNS_TXT, SPF_DNS_OK,
	  "v=spf1 ip4:192.0.2.9 -all" },
};

struct fake_dns {
	unsigned queries;
	unsigned by_type[256];
};

static int
fake_query(void *arg, struct pst_arena *arena, const char *name, int type,
	   struct spf_dns_answer *out)
{
	struct fake_dns *f = arg;
	bool exists = false;

	f->queries++;
	if (type >= 0 && type < 256)
		f->by_type[type]++;
	out->count = 0;
	out->rr = pst_arena_calloc(arena, N_ELEMS(fake_zone), sizeof(*out->rr));
	for (size_t i = 0; i < N_ELEMS(fake_zone); i++) {
		const struct fake_rr *z = &fake_zone[i];
		struct spf_dns_rr *rr;

		if (strcasecmp(z->name, name) != 0)
			continue;
		exists = true;
		if (z->type != type)
			continue;
		if (z->status != SPF_DNS_OK)
			return z->status;
		rr = &out->rr[out->count++];
		if (type == SPF_DNS_A)
			inet_pton(AF_INET, z->text, rr->addr);
		rr->text = z->text;
		rr->len = z->len ? z->len : strlen(z->text);
	}
	if (out->count > 0)
		return SPF_DNS_OK;
	return exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN;
}

struct libspf2_case {
	const char *name;
	const char *ip;
	const char *sender; /* "" null */
	const char *helo;
	bool helo_identity;
	enum spf_result want;
	const char *want_domain;
	const char *want_exp; /* with SPF_F_EXPLAIN */
};

static const struct libspf2_case libspf2_cases[] = {
	{ "pass", "192.0.2.10", "a@pass.example", "h.example", false,
	  SPF_RESULT_PASS, "pass.example" },
	{ "pass-ipv6", "2001:db8::10", "a@pass.example", "h.example", false,
	  SPF_RESULT_PASS, "pass.example" },
	{ "fail", "192.0.2.10", "a@fail.example", "h.example", false,
	  SPF_RESULT_FAIL },
	{ "softfail", "192.0.2.10", "a@soft.example", "h.example", false,
	  SPF_RESULT_SOFTFAIL },
	{ "neutral", "192.0.2.10", "a@neutral.example", "h.example", false,
	  SPF_RESULT_NEUTRAL },
	{ "none-nxdomain", "192.0.2.10", "a@nx.example", "h.example", false,
	  SPF_RESULT_NONE },
	{ "none-not-spf", "192.0.2.10", "a@other.example", "h.example", false,
	  SPF_RESULT_NONE },
	{ "permerror-unknown-mechanism", "192.0.2.10", "a@bad.example",
	  "h.example", false, SPF_RESULT_PERMERROR },
	{ "permerror-two-records", "192.0.2.10", "a@two.example", "h.example",
	  false, SPF_RESULT_PERMERROR },
	{ "temperror", "192.0.2.10", "a@temp.example", "h.example", false,
	  SPF_RESULT_TEMPERROR },
	{ "a-mechanism", "192.0.2.77", "a@a.example", "h.example", false,
	  SPF_RESULT_PASS },
	{ "nul-does-not-pass", "198.51.100.1", "a@nul.example", "h.example",
	  false, SPF_RESULT_PERMERROR },
	{ "explanation", "192.0.2.10", "a@exp.example", "h.example", false,
	  SPF_RESULT_FAIL, "exp.example", "go-away-192.0.2.10" },
	{ "helo-identity", "192.0.2.9", "a@fail.example", "helo.example", true,
	  SPF_RESULT_PASS, "helo.example" },
	{ "null-sender-is-helo", "192.0.2.10", "", "helo.example", false,
	  SPF_RESULT_FAIL, "helo.example" },
	{ "helo-literal-is-none", "192.0.2.9", "", "[192.0.2.9]", true,
	  SPF_RESULT_NONE },
	/* libspf2 passes loopback clients without asking DNS */
	{ "loopback-free-ride", "127.0.0.1", "a@fail.example", "h.example",
	  false, SPF_RESULT_PASS },
};

static void
test_libspf2_engine(void **state)
{
	const struct libspf2_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct fake_dns f = { 0 };
	struct spf_dns dns = { .ctx = &f, .query = fake_query };
	struct spf_libspf2 *e = NULL;
	struct spf_request req = { .sender = c->sender,
				   .helo = c->helo,
				   .flags = SPF_F_EXPLAIN };
	struct spf_response resp;
	const char *err;

	assert_int_equal(spf_libspf2_new("mx.example.org", &e, &err), 0);
	assert_int_equal(spf_addr_parse(c->ip, &req.ip), 0);
	assert_int_equal(spf_libspf2_check(e, &dns, &req, c->helo_identity,
					   arena, &resp),
			 c->want);
	if (c->want_domain != NULL)
		assert_string_equal(resp.domain, c->want_domain);
	if (c->want_exp != NULL) {
		assert_non_null(resp.explanation);
		assert_string_equal(resp.explanation, c->want_exp);
	} else {
		assert_null(resp.explanation);
	}
	if (c->want == SPF_RESULT_PERMERROR || c->want == SPF_RESULT_TEMPERROR)
		assert_non_null(resp.problem);
	/* the retired SPF RR type is never asked */
	assert_int_equal(f.by_type[99], 0);
	if (strcmp(c->name, "loopback-free-ride") == 0)
		assert_int_equal(f.queries, 0);
	else if (strcmp(c->name, "helo-literal-is-none") != 0)
		assert_true(f.queries > 0);
	spf_libspf2_free(&e);
	assert_null(e);
	spf_libspf2_free(&e);
	pst_arena_free(&arena);
}

static void
test_libspf2_no_explanation_unasked(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct fake_dns f = { 0 };
	struct spf_dns dns = { .ctx = &f, .query = fake_query };
	struct spf_libspf2 *e = NULL;
	struct spf_request req = { .sender = "a@fail.example",
				   .helo = "h.example" };
	struct spf_response resp;
	const char *err;

	(void)state;
	assert_int_equal(spf_libspf2_new(NULL, &e, &err), 0);
	assert_int_equal(spf_addr_parse("192.0.2.10", &req.ip), 0);
	/* fail without exp=: libspf2's own default text never shows */
	req.flags = SPF_F_EXPLAIN;
	assert_int_equal(spf_libspf2_check(e, &dns, &req, false, arena, &resp),
			 SPF_RESULT_FAIL);
	assert_null(resp.explanation);
	/* with exp= but not asked for */
	req.flags = 0;
	req.sender = "a@exp.example";
	assert_int_equal(spf_libspf2_check(e, &dns, &req, false, arena, &resp),
			 SPF_RESULT_FAIL);
	assert_null(resp.explanation);
	/* a bad request is a temperror, not a crash */
	req.ip.family = 0;
	assert_int_equal(spf_libspf2_check(e, &dns, &req, false, arena, &resp),
			 SPF_RESULT_TEMPERROR);
	spf_libspf2_free(&e);
	pst_arena_free(&arena);
}

/* ---- the filter through a chain, without a resolver ---- */

static void
test_filter_no_resolver(void **state)
{
	static const char *const engines[] = { "postern", "libspf2" };
	struct ft ft;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(engines); i++) {
		struct filter_ctx *ctx;
		struct filter_outcome out;
		char conf[128];
		char *log;

		memset(&ft, 0, sizeof(ft));
		snprintf(conf, sizeof(conf), "filter spf { engine = %s; }",
			 engines[i]);
		assert_int_equal(tfs_chain(&ft, NULL, conf), 0);
		ctx = tfs_ctx(&ft, "192.0.2.10", false);
		ft_log_start();
		assert_int_equal(tfs_mail(ctx, "client.example.net",
					  "joe@example.net", &out),
				 PF_CONTINUE);
		log = ft_log_take();
		assert_string_equal(tfs_result(ctx, "spf"), "temperror");
		assert_string_equal(tfs_result(ctx, "spf.domain"),
				    "example.net");
		assert_string_equal(tfs_result(ctx, "spf.helo"), "temperror");
		assert_string_equal(tfs_auth(ctx), "spf=temperror "
						   "smtp.mailfrom=example.net");
		assert_non_null(strstr(log, "4F2A1C3B9E: filter spf: "
					    "mailfrom=example.net "
					    "result=temperror ("));
		assert_non_null(strstr(log,
				       "filter spf: helo=client.example.net"
				       " result=temperror"));
		free(log);
		filter_ctx_close(&ctx);
		ft_free(&ft);
	}
}

static void
test_filter_temperror_tempfail(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;

	(void)state;
	assert_int_equal(
		tfs_chain(&ft, NULL, "filter spf { temperror = tempfail; }"),
		0);
	ctx = tfs_ctx(&ft, "2001:db8::10", false);
	assert_int_equal(
		tfs_mail(ctx, "client.example.net", "joe@example.net", &out),
		PF_TEMPFAIL);
	assert_int_equal(out.code, 451);
	assert_string_equal(out.enhanced, "4.7.24");
	assert_non_null(strstr(out.text, "example.net"));
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

static void
test_filter_trusted_not_checked(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	char *log;

	(void)state;
	assert_int_equal(
		tfs_chain(&ft, NULL, "filter spf { temperror = tempfail; }"),
		0);
	ctx = tfs_ctx(&ft, "192.0.2.10", true);
	ft_log_start();
	assert_int_equal(
		tfs_mail(ctx, "client.example.net", "joe@example.net", NULL),
		PF_CONTINUE);
	log = ft_log_take();
	assert_string_equal(tfs_result(ctx, "spf"), "none");
	assert_null(tfs_result(ctx, "spf.helo"));
	assert_string_equal(tfs_auth(ctx), "");
	assert_non_null(strstr(log, "result=none (trusted client"));
	free(log);
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

static void
test_filter_null_sender_and_helo_off(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;

	(void)state;
	assert_int_equal(tfs_chain(&ft, NULL, "filter spf { helo = no; }"), 0);
	ctx = tfs_ctx(&ft, "192.0.2.10", false);
	assert_int_equal(
		tfs_mail(ctx, "client.example.net", "joe@example.net", NULL),
		PF_CONTINUE);
	/* helo = no: no HELO check of its own */
	assert_null(tfs_result(ctx, "spf.helo"));
	filter_ctx_txn_end(ctx);
	/* the null sender: the HELO identity, named smtp.helo */
	assert_int_equal(tfs_mail(ctx, "client.example.net", "", NULL),
			 PF_CONTINUE);
	assert_string_equal(tfs_result(ctx, "spf"), "temperror");
	assert_string_equal(tfs_result(ctx, "spf.domain"),
			    "client.example.net");
	assert_string_equal(tfs_auth(ctx),
			    "spf=temperror smtp.helo=client.example.net");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

static void
test_filter_no_client_address(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;

	(void)state;
	assert_int_equal(tfs_chain(&ft, NULL, "filter spf {}"), 0);
	ctx = tfs_ctx(&ft, "", false);
	assert_int_equal(
		tfs_mail(ctx, "client.example.net", "joe@example.net", NULL),
		PF_CONTINUE);
	assert_string_equal(tfs_result(ctx, "spf"), "none");
	assert_string_equal(tfs_auth(ctx), "");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

struct option_case {
	const char *name;
	const char *conf;
	const char *want_error; /* substring; NULL: accepted */
};

static const struct option_case option_cases[] = {
	{ "all-set",
	  "filter spf { helo = no; explain = yes; fail = reject; "
	  "temperror = tempfail; permerror = reject; engine = libspf2; }" },
	{ "defaults", "filter spf {}" },
	{ "fail-word", "filter spf { fail = bounce; }",
	  "test.conf:1: filter spf: 'fail' must be continue or reject, not "
	  "'bounce'" },
	{ "temperror-word", "filter spf { temperror = reject; }",
	  "'temperror' must be continue or tempfail, not 'reject'" },
	{ "permerror-word", "filter spf { permerror = tempfail; }",
	  "'permerror' must be continue or reject" },
	{ "engine-word", "filter spf { engine = pyspf; }",
	  "'engine' must be postern or libspf2, not 'pyspf'" },
	{ "helo-bool", "filter spf { helo = maybe; }", "yes or no" },
	{ "unknown", "filter spf { softfail = reject; }", "softfail" },
};

static void
test_filter_options(void **state)
{
	const struct option_case *c = *state;
	struct ft ft = { 0 };
	int rc = tfs_chain(&ft, NULL, c->conf);

	if (c->want_error == NULL) {
		assert_int_equal(rc, 0);
	} else {
		assert_int_equal(rc, -1);
		assert_non_null(ft.error);
		if (strstr(ft.error, c->want_error) == NULL)
			fail_msg("error '%s' lacks '%s'", ft.error,
				 c->want_error);
	}
	ft_free(&ft);
}

#define SINGLE_TESTS 12

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(libspf2_cases) +
				       N_ELEMS(option_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_convert_records),
		cmocka_unit_test(test_convert_status),
		cmocka_unit_test(test_query_timeout),
		cmocka_unit_test(test_adapter_without_resolver),
		cmocka_unit_test(test_adapter_budget_spent),
		cmocka_unit_test(test_libspf2_map),
		cmocka_unit_test(test_libspf2_no_explanation_unasked),
		cmocka_unit_test(test_filter_no_resolver),
		cmocka_unit_test(test_filter_temperror_tempfail),
		cmocka_unit_test(test_filter_trusted_not_checked),
		cmocka_unit_test(test_filter_null_sender_and_helo_off),
		cmocka_unit_test(test_filter_no_client_address),
	};
	size_t n = 0;

#define ADD_ROWS(table, fn)                                                    \
	for (size_t i = 0; i < N_ELEMS(table); i++)                            \
		tests[n++] = (struct CMUnitTest)                               \
		{                                                              \
			.name = table[i].name, .test_func = fn,                \
			.initial_state = (void *)&table[i]                     \
		}
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	ADD_ROWS(libspf2_cases, test_libspf2_engine);
	ADD_ROWS(option_cases, test_filter_options);
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests_name("filter_spf", tests, NULL, NULL);
}
