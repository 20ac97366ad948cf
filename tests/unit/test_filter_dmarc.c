/*
 * test_filter_dmarc.c - the dmarc filter without a DNS server: the public
 * suffix list and organizational domains (wildcards, exceptions, the
 * private section, case, unlisted TLDs, malformed names), alignment
 * strict and relaxed for SPF and for the dkim filter's passing domains,
 * the author domain of the From field (display names, comments, quoted
 * strings, encoded words, folding, several fields or authors), picking
 * the policy record, reading it through libopendmarc, sp= and pct=; the
 * filter through a chain without a resolver (temperror, none,
 * permerror, trusted clients, options).  Policies against a real DNS
 * server: test_filter_dmarc_live.c.
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
#include <unistd.h>

#include "arena.h"
#include "filter_int.h"
#include "spf_dmarc.h"
#include "test_filter_spf_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* Rules in the shapes the real list has (from its ICANN and private
 * sections). */
static const char test_psl[] =
	"// ===BEGIN ICANN DOMAINS===\n"
	"com\n"
	"uk\n"
	"co.uk\n"
	"\n"
	"// ck : https://en.wikipedia.org/wiki/.ck\n"
	"*.ck\n"
	"!www.ck\n"
	"jp\n"
	"kawasaki.jp\n"
	"*.kawasaki.jp\n"
	"!city.kawasaki.jp\n"
	"ORG   trailing text after white space is ignored\r\n"
	"// ===BEGIN PRIVATE DOMAINS===\n"
	"github.io\n"
	"blogspot.co.uk";

static struct dmarc_psl *
psl_get(struct pst_arena *arena)
{
	struct dmarc_psl *psl = NULL;
	const char *err = NULL;

	if (dmarc_psl_parse(test_psl, strlen(test_psl), &psl, arena, &err) < 0)
		fail_msg("psl: %s", err);
	return psl;
}

/* ---- organizational domains ---- */

struct org_case {
	const char *name;
	const char *domain;
	const char *want; /* NULL: none */
};

static const struct org_case org_cases[] = {
	{ "org-itself", "example.com", "example.com" },
	{ "org-subdomain", "a.b.example.com", "example.com" },
	{ "org-suffix", "com", NULL },
	{ "org-two-label-suffix", "a.example.co.uk", "example.co.uk" },
	{ "org-two-label-suffix-itself", "co.uk", NULL },
	{ "org-wildcard", "foo.bar.ck", "foo.bar.ck" },
	{ "org-wildcard-deeper", "a.foo.bar.ck", "foo.bar.ck" },
	{ "org-wildcard-suffix", "bar.ck", NULL },
	{ "org-exception", "www.ck", "www.ck" },
	{ "org-exception-sub", "a.www.ck", "www.ck" },
	{ "org-wildcard-and-exception", "city.kawasaki.jp",
	  "city.kawasaki.jp" },
	{ "org-wildcard-second-level", "a.b.c.kawasaki.jp", "b.c.kawasaki.jp" },
	{ "org-private-section", "x.github.io", "x.github.io" },
	{ "org-private-section-sub", "a.x.github.io", "x.github.io" },
	{ "org-private-suffix", "github.io", NULL },
	{ "org-private-longest-rule", "me.blogspot.co.uk",
	  "me.blogspot.co.uk" },
	{ "org-case", "Mail.EXAMPLE.Com", "example.com" },
	{ "org-upper-rule", "a.b.example.org", "example.org" },
	{ "org-final-dot", "a.example.com.", "example.com" },
	/* the implicit rule "*" */
	{ "org-unlisted-tld", "a.b.postern.test", "postern.test" },
	{ "org-unlisted-tld-itself", "postern.test", "postern.test" },
	{ "org-single-label", "test", NULL },
	/* malformed */
	{ "org-empty-label", "a..example.com", NULL },
	{ "org-leading-dot", ".example.com", NULL },
	{ "org-empty", "", NULL },
	{ "org-only-dot", ".", NULL },
	{ "org-label-64",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".example.com",
	  NULL },
};

static void
test_org_domain(void **state)
{
	const struct org_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	const char *got = dmarc_org_domain(psl_get(arena), c->domain, arena);

	if (c->want == NULL)
		assert_null(got);
	else
		assert_string_equal(got != NULL ? got : "(null)", c->want);
	pst_arena_free(&arena);
}

static void
test_org_domain_limits(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct dmarc_psl *psl = psl_get(arena);
	char name[300];

	(void)state;
	/* 253 bytes is a name, 254 is not */
	memset(name, 'a', sizeof(name));
	for (size_t i = 63; i < 253; i += 64)
		name[i] = '.';
	memcpy(name + 253 - 4, ".com", 4);
	name[253] = '\0';
	assert_non_null(dmarc_org_domain(psl, name, arena));
	name[252] = 'm';
	name[253] = 'x';
	name[254] = '\0';
	assert_null(dmarc_org_domain(psl, name, arena));
	/* many one-letter labels: bounded */
	for (size_t i = 0; i < 251; i += 2) {
		name[i] = 'a';
		name[i + 1] = '.';
	}
	memcpy(name + 250, "com", 4);
	assert_string_equal(dmarc_org_domain(psl, name, arena), "a.com");
	/* no list at all: the implicit rule everywhere */
	assert_string_equal(dmarc_org_domain(NULL, "a.b.example.co.uk", arena),
			    "co.uk");
	pst_arena_free(&arena);
}

static void
test_psl_parse_errors(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct dmarc_psl *psl = NULL;
	const char *err = NULL;

	(void)state;
	assert_int_equal(
		dmarc_psl_parse("// only comments\n\n", 18, &psl, arena, &err),
		-1);
	assert_null(psl);
	assert_string_equal(err, "no rules in the public suffix list");
	assert_int_equal(
		dmarc_psl_load("/nonexistent/psl.dat", &psl, arena, &err), -1);
	assert_non_null(strstr(err, "/nonexistent/psl.dat: No such file"));
	assert_int_equal(
		dmarc_psl_parse(test_psl, strlen(test_psl), &psl, arena, &err),
		0);
	/* distinct names: "*.ck" and "!www.ck" are two, "kawasaki.jp" and
	 * "*.kawasaki.jp" one */
	assert_int_equal(dmarc_psl_count(psl), 11);
	pst_arena_free(&arena);
}

/* The list Debian ships, as the filter loads it by default. */
static void
test_psl_debian(void **state)
{
	static const char path[] =
		"/usr/share/publicsuffix/public_suffix_list.dat";
	static const struct {
		const char *domain, *want;
	} rows[] = {
		{ "mail.example.com", "example.com" },
		{ "a.b.example.co.uk", "example.co.uk" },
		{ "foo.bar.ck", "foo.bar.ck" },
		{ "www.ck", "www.ck" },
		{ "x.github.io", "x.github.io" },
		{ "a.b.postern.test", "postern.test" },
	};
	struct pst_arena *arena;
	struct dmarc_psl *psl = NULL;
	const char *err = NULL;

	(void)state;
	if (access(path, R_OK) != 0)
		skip();
	arena = pst_arena_new(0);
	if (dmarc_psl_load(path, &psl, arena, &err) < 0)
		fail_msg("%s", err);
	assert_true(dmarc_psl_count(psl) > 5000);
	for (size_t i = 0; i < N_ELEMS(rows); i++)
		assert_string_equal(
			dmarc_org_domain(psl, rows[i].domain, arena),
			rows[i].want);
	assert_null(dmarc_org_domain(psl, "github.io", arena));
	pst_arena_free(&arena);
}

/* ---- alignment ---- */

struct align_case {
	const char *name;
	const char *a, *b;
	bool relaxed, strict;
};

static const struct align_case align_cases[] = {
	{ "align-same", "example.com", "example.com", true, true },
	{ "align-case-and-dot", "EXAMPLE.com", "example.COM.", true, true },
	{ "align-parent", "example.com", "mail.example.com", true, false },
	{ "align-child", "a.example.com", "example.com", true, false },
	{ "align-siblings", "a.example.com", "b.example.com", true, false },
	{ "align-other-domain", "example.com", "example.net", false, false },
	{ "align-suffix-is-not-org", "example.com", "com", false, false },
	{ "align-co-uk", "example.co.uk", "co.uk", false, false },
	{ "align-co-uk-siblings", "example.co.uk", "other.co.uk", false,
	  false },
	{ "align-private-siblings", "x.github.io", "y.github.io", false,
	  false },
	{ "align-wildcard-siblings", "a.bar.ck", "b.bar.ck", false, false },
	{ "align-unlisted-tld", "a.postern.test", "b.postern.test", true,
	  false },
	{ "align-malformed", "a..example.com", "example.com", false, false },
	{ "align-empty", "", "", false, false },
};

static void
test_align(void **state)
{
	const struct align_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct dmarc_psl *psl = psl_get(arena);

	assert_int_equal(dmarc_aligned(psl, c->a, c->b, false, arena),
			 c->relaxed);
	assert_int_equal(dmarc_aligned(psl, c->a, c->b, true, arena),
			 c->strict);
	/* symmetric */
	assert_int_equal(dmarc_aligned(psl, c->b, c->a, false, arena),
			 c->relaxed);
	pst_arena_free(&arena);
}

static void
test_dkim_aligned(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct dmarc_psl *psl = psl_get(arena);

	(void)state;
	/* the dkim filter's dkim.pass_domains: any one aligned will do */
	assert_true(dmarc_dkim_aligned(psl, "example.com",
				       "other.net mail.example.com", false,
				       arena));
	assert_false(dmarc_dkim_aligned(
		psl, "example.com", "other.net mail.example.com", true, arena));
	assert_true(dmarc_dkim_aligned(psl, "example.com",
				       "mail.example.com  example.com", true,
				       arena));
	assert_false(dmarc_dkim_aligned(psl, "example.com", "x.github.io",
					false, arena));
	assert_false(dmarc_dkim_aligned(psl, "example.com", "", false, arena));
	assert_false(
		dmarc_dkim_aligned(psl, "example.com", "   ", false, arena));
	assert_false(
		dmarc_dkim_aligned(psl, "example.com", NULL, false, arena));
	pst_arena_free(&arena);
}

/* ---- the From field ---- */

struct from_case {
	const char *name;
	const char *header;
	enum dmarc_from_status want;
	const char *want_domain;
};

#define OK DMARC_FROM_OK
#define NONE DMARC_FROM_NONE
#define MULTI DMARC_FROM_MULTIPLE
#define BAD DMARC_FROM_INVALID

static const struct from_case from_cases[] = {
	{ "from-plain", "From: joe@example.com\r\n\r\nbody", OK,
	  "example.com" },
	{ "from-display-name",
	  "Subject: x\r\nFrom: Joe Bloggs "
	  "<joe@Example.COM>\r\nTo: a@b.c\r\n\r\n",
	  OK, "example.com" },
	{ "from-quoted-name-with-at-and-angle",
	  "From: \"evil@bank.example <x@bank.example>\" <joe@example.com>\r\n"
	  "\r\n",
	  OK, "example.com" },
	{ "from-comment-with-address",
	  "From: joe@example.com (Joe <joe@bank.example>)\r\n\r\n", OK,
	  "example.com" },
	{ "from-encoded-word-not-decoded",
	  "From: =?utf-8?q?joe=40bank.example_=3C?= <joe@example.com>\r\n"
	  "\r\n",
	  OK, "example.com" },
	{ "from-folded", "From: Joe\r\n Bloggs\r\n\t<joe@example.com>\r\n\r\n",
	  OK, "example.com" },
	{ "from-lf-lines", "Subject: x\nFrom: joe@example.com\n\nbody", OK,
	  "example.com" },
	{ "from-white-space-before-colon", "From : joe@example.com\r\n\r\n", OK,
	  "example.com" },
	{ "from-any-case-name", "FROM: joe@example.com\r\n\r\n", OK,
	  "example.com" },
	{ "from-final-dot", "From: joe@example.com.\r\n\r\n", OK,
	  "example.com" },
	{ "from-quoted-local-part-with-at",
	  "From: \"joe@bank.example\"@example.com\r\n\r\n", OK, "example.com" },
	{ "from-spaces-around-at", "From: joe @ example.com\r\n\r\n", OK,
	  "example.com" },
	{ "from-two-authors-same-domain",
	  "From: a@example.com, B <b@EXAMPLE.com>\r\n\r\n", OK, "example.com" },
	{ "from-no-header-end", "From: joe@example.com", OK, "example.com" },
	{ "from-underscore", "From: joe@mail_1.example.com\r\n\r\n", OK,
	  "mail_1.example.com" },
	/* out of scope */
	{ "from-none", "Subject: x\r\nTo: a@b.c\r\n\r\n", NONE },
	{ "from-only-in-body", "Subject: x\r\n\r\nFrom: a@example.com\r\n",
	  NONE },
	{ "from-similar-names",
	  "Fromage: a@example.com\r\nX-From: "
	  "a@example.com\r\nResent-From: "
	  "a@example.com\r\n\r\n",
	  NONE },
	{ "from-empty-input", "", NONE },
	/* several */
	{ "from-two-fields",
	  "From: a@example.com\r\nFrom: a@example.com\r\n\r\n", MULTI },
	{ "from-two-authors-two-domains",
	  "From: a@example.com, b@bank.example\r\n\r\n", MULTI },
	/* unusable */
	{ "from-no-at", "From: Joe Bloggs\r\n\r\n", BAD },
	{ "from-empty", "From:\r\n\r\n", BAD },
	{ "from-address-literal", "From: joe@[192.0.2.1]\r\n\r\n", BAD },
	{ "from-unterminated-quote", "From: \"joe <joe@example.com>\r\n\r\n",
	  BAD },
	{ "from-unterminated-angle", "From: Joe <joe@example.com\r\n\r\n",
	  BAD },
	{ "from-unterminated-comment", "From: joe@example.com (x\r\n\r\n",
	  BAD },
	{ "from-two-angles", "From: <a@example.com> <b@example.com>\r\n\r\n",
	  BAD },
	{ "from-group", "From: undisclosed-recipients:;\r\n\r\n", BAD },
	{ "from-non-ascii-domain", "From: joe@\xc3\xa9xample.com\r\n\r\n",
	  BAD },
	{ "from-empty-label", "From: joe@example..com\r\n\r\n", BAD },
	{ "from-no-local-part", "From: @example.com\r\n\r\n", BAD },
	{ "from-deep-comments",
	  "From: joe@example.com "
	  "((((((((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))"
	  "))))))))))))))))\r\n\r\n",
	  BAD },
	{ "from-one-bad-one-good", "From: Joe, joe@example.com\r\n\r\n", BAD },
};

static void
test_from(void **state)
{
	const struct from_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	const char *domain = "unset";
	enum dmarc_from_status st =
		dmarc_from_domain(c->header, strlen(c->header), arena, &domain);

	if (st != c->want)
		fail_msg("status %s, want %s", dmarc_from_status_name(st),
			 dmarc_from_status_name(c->want));
	if (c->want == OK)
		assert_string_equal(domain, c->want_domain);
	else
		assert_null(domain);
	pst_arena_free(&arena);
}

static void
test_from_long_field(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	size_t n = 200000;
	char *h = malloc(n + 64);
	const char *domain;

	(void)state;
	/* a huge display name: bounded work, no crash, a clear answer */
	strcpy(h, "From: ");
	memset(h + 6, 'x', n);
	strcpy(h + 6 + n, " <joe@example.com>\r\n\r\n");
	assert_int_equal(dmarc_from_domain(h, strlen(h), arena, &domain),
			 DMARC_FROM_OK);
	assert_string_equal(domain, "example.com");
	/* a huge address: too long to be one */
	strcpy(h, "From: joe@");
	memset(h + 10, 'a', n);
	strcpy(h + 10 + n, ".com\r\n\r\n");
	assert_int_equal(dmarc_from_domain(h, strlen(h), arena, &domain),
			 DMARC_FROM_INVALID);
	/* many authors: bounded */
	h[0] = '\0';
	strcat(h, "From: ");
	for (int i = 0; i < 5000 && strlen(h) < n; i++)
		strcat(h, "a@example.com,");
	strcat(h, "\r\n\r\n");
	assert_int_equal(dmarc_from_domain(h, strlen(h), arena, &domain),
			 DMARC_FROM_OK);
	free(h);
	pst_arena_free(&arena);
}

/* ---- the record ---- */

static void
test_record_pick(void **state)
{
	static const struct {
		const char *txt[3];
		size_t n;
		int want;
	} rows[] = {
		{ { NULL }, 0, -1 },
		{ { "v=DMARC1; p=none" }, 1, 0 },
		{ { "v=DMARC1" }, 1, 0 },
		{ { "v = DMARC1 ; p=none" }, 1, 0 },
		{ { "google-site-verification=x", "v=DMARC1;p=reject" }, 2, 1 },
		{ { "v=DMARC1; p=reject", "v=DMARC1; p=none" }, 2, -2 },
		{ { "v=DMARC10; p=none" }, 1, -1 },
		{ { "v=dmarc1; p=none" }, 1, -1 },
		{ { "V=DMARC1; p=none" }, 1, -1 },
		{ { "p=none; v=DMARC1" }, 1, -1 },
		{ { " v=DMARC1; p=none" }, 1, -1 },
		{ { "v=spf1 -all", "x", "v=DMARC1; p=none" }, 3, 2 },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		size_t len[3];

		for (size_t k = 0; k < rows[i].n; k++)
			len[k] = strlen(rows[i].txt[k]);
		assert_int_equal(dmarc_record_pick(rows[i].txt, len, rows[i].n),
				 rows[i].want);
	}
	/* a NUL inside: not a record (libopendmarc would read half) */
	{
		const char *txt[1] = { "v=DMARC1; p=none\0; p=reject" };
		size_t len[1] = { 27 };

		assert_int_equal(dmarc_record_pick(txt, len, 1), -1);
	}
}

static void
test_record_parse(void **state)
{
	struct dmarc_record rec;
	const char *err = NULL;
	char big[5000];

	(void)state;
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=reject", "example.com",
					    NULL, &rec, &err),
			 0);
	assert_int_equal(rec.p, DMARC_POLICY_REJECT_);
	assert_false(rec.has_sp);
	assert_int_equal(rec.sp, DMARC_POLICY_REJECT_);
	assert_false(rec.adkim_strict);
	assert_false(rec.aspf_strict);
	assert_int_equal(rec.pct, 100);

	assert_int_equal(dmarc_record_parse("v=DMARC1; p=none; sp=quarantine; "
					    "adkim=s; aspf=s; pct=25; "
					    "rua=mailto:r@example.com",
					    "a.example.com", "example.com",
					    &rec, &err),
			 0);
	assert_int_equal(rec.p, DMARC_POLICY_NONE_);
	assert_true(rec.has_sp);
	assert_int_equal(rec.sp, DMARC_POLICY_QUARANTINE_);
	assert_true(rec.adkim_strict);
	assert_true(rec.aspf_strict);
	assert_int_equal(rec.pct, 25);

	assert_int_equal(dmarc_record_parse("v=DMARC1; p=bogus", "example.com",
					    NULL, &rec, &err),
			 -1);
	assert_non_null(strstr(err, "bad token value"));
	assert_int_equal(
		dmarc_record_parse("v=DMARC1", "example.com", NULL, &rec, &err),
		-1);
	assert_non_null(strstr(err, "p="));
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=none; pct=101",
					    "example.com", NULL, &rec, &err),
			 -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "v=DMARC1; p=none; x=", 20);
	assert_int_equal(
		dmarc_record_parse(big, "example.com", NULL, &rec, &err), -1);
	assert_string_equal(err, "record too long");
}

static void
test_policy_and_pct(void **state)
{
	struct dmarc_record rec = { .p = DMARC_POLICY_NONE_,
				    .sp = DMARC_POLICY_REJECT_,
				    .has_sp = true,
				    .pct = 100 };

	(void)state;
	/* sp= only for a record found at the organizational domain */
	assert_int_equal(dmarc_policy_applied(&rec, true),
			 DMARC_POLICY_REJECT_);
	assert_int_equal(dmarc_policy_applied(&rec, false), DMARC_POLICY_NONE_);
	rec.has_sp = false;
	rec.sp = rec.p;
	assert_int_equal(dmarc_policy_applied(&rec, true), DMARC_POLICY_NONE_);

	/* pct=: the rest gets the next less strict policy */
	assert_int_equal(dmarc_disposition(DMARC_POLICY_REJECT_, 100, 99),
			 DMARC_POLICY_REJECT_);
	assert_int_equal(dmarc_disposition(DMARC_POLICY_REJECT_, 50, 49),
			 DMARC_POLICY_REJECT_);
	assert_int_equal(dmarc_disposition(DMARC_POLICY_REJECT_, 50, 50),
			 DMARC_POLICY_QUARANTINE_);
	assert_int_equal(dmarc_disposition(DMARC_POLICY_REJECT_, 0, 0),
			 DMARC_POLICY_QUARANTINE_);
	assert_int_equal(dmarc_disposition(DMARC_POLICY_QUARANTINE_, 0, 0),
			 DMARC_POLICY_NONE_);
	assert_int_equal(dmarc_disposition(DMARC_POLICY_QUARANTINE_, 100, 0),
			 DMARC_POLICY_QUARANTINE_);
	assert_int_equal(dmarc_disposition(DMARC_POLICY_NONE_, 0, 0),
			 DMARC_POLICY_NONE_);
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_QUARANTINE_),
			    "quarantine");
}

/* ---- the filter through a chain, without a resolver ---- */

static const char *psl_file;

/* A session that sent msg from 192.0.2.10; the outcome. */
static struct filter_ctx *
message_session(struct ft *ft, const char *conf, bool trusted, const char *msg,
		struct filter_outcome *out)
{
	struct filter_ctx *ctx;

	if (tfs_chain(ft, NULL, conf) < 0)
		fail_msg("chain: %s", ft->error);
	ctx = tfs_ctx(ft, "192.0.2.10", trusted);
	assert_int_equal(
		tfs_mail(ctx, "client.example.net", "joe@example.net", NULL),
		PF_CONTINUE);
	tfs_message(ctx, msg, out);
	return ctx;
}

static void
test_filter_without_resolver(void **state)
{
	static const struct {
		const char *msg, *want, *want_auth, *want_log;
	} rows[] = {
		{ "From: joe@example.com\r\nSubject: x\r\n\r\nhi\r\n",
		  "temperror", "dmarc=temperror header.from=example.com",
		  "from=example.com result=temperror (no resolver)" },
		{ "Subject: x\r\n\r\nhi\r\n", "none", "dmarc=none",
		  "from=- result=none (no From field)" },
		{ "From: a@example.com\r\nFrom: b@example.com\r\n\r\nhi\r\n",
		  "permerror", "dmarc=permerror",
		  "result=permerror (several From fields or authors)" },
		{ "From: joe\r\n\r\nhi\r\n", "permerror", "dmarc=permerror",
		  "result=permerror (no usable domain in From)" },
	};
	char conf[256];

	(void)state;
	snprintf(conf, sizeof(conf),
		 "filter dmarc { psl = \"%s\"; reject = reject; }", psl_file);
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct ft ft = { 0 };
		struct filter_outcome out;
		struct filter_ctx *ctx;
		char *log;

		ft_log_start();
		ctx = message_session(&ft, conf, false, rows[i].msg, &out);
		log = ft_log_take();
		assert_int_equal(out.verdict, PF_CONTINUE);
		assert_string_equal(tfs_result(ctx, "dmarc"), rows[i].want);
		assert_string_equal(tfs_result(ctx, "dmarc.disposition"),
				    "none");
		assert_null(tfs_result(ctx, "dmarc.policy"));
		assert_string_equal(tfs_auth(ctx), rows[i].want_auth);
		if (strstr(log, rows[i].want_log) == NULL)
			fail_msg("log lacks '%s':\n%s", rows[i].want_log, log);
		free(log);
		filter_ctx_close(&ctx);
		ft_free(&ft);
	}
}

static void
test_filter_trusted(void **state)
{
	struct ft ft = { 0 };
	struct filter_outcome out;
	struct filter_ctx *ctx;
	char conf[256];

	(void)state;
	snprintf(conf, sizeof(conf), "filter dmarc { psl = \"%s\"; }",
		 psl_file);
	ctx = message_session(&ft, conf, true, "From: joe@example.com\r\n\r\n",
			      &out);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_string_equal(tfs_result(ctx, "dmarc"), "none");
	assert_string_equal(tfs_auth(ctx), "");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

struct option_case {
	const char *name;
	const char *conf; /* @PSL@: a good psl file */
	const char *want_error;
};

static const struct option_case option_cases[] = {
	{ "options-all", "filter dmarc { psl = \"@PSL@\"; reject = reject; "
			 "quarantine = quarantine; }" },
	{ "options-continue",
	  "filter dmarc { psl = \"@PSL@\"; reject = continue; "
	  "quarantine = continue; }" },
	{ "options-reject-word",
	  "filter dmarc { psl = \"@PSL@\"; reject = yes; }",
	  "test.conf:1: filter dmarc: 'reject' must be continue or reject, "
	  "not 'yes'" },
	{ "options-quarantine-word",
	  "filter dmarc { psl = \"@PSL@\"; quarantine = reject; }",
	  "'quarantine' must be continue or quarantine, not 'reject'" },
	{ "options-psl-missing",
	  "filter dmarc { psl = \"/nonexistent@PSL@\"; }",
	  "filter dmarc: public suffix list /nonexistent" },
	{ "options-unknown", "filter dmarc { psl = \"@PSL@\"; pct = 100; }",
	  "pct" },
};

static void
test_filter_options(void **state)
{
	const struct option_case *c = *state;
	struct ft ft = { 0 };
	char conf[512];
	int rc;

	const char *at = strstr(c->conf, "@PSL@");

	assert_non_null(at);
	snprintf(conf, sizeof(conf), "%.*s%s%s", (int)(at - c->conf), c->conf,
		 psl_file, at + 5);
	rc = tfs_chain(&ft, NULL, conf);
	if (c->want_error == NULL) {
		if (rc < 0)
			fail_msg("%s", ft.error);
	} else {
		assert_int_equal(rc, -1);
		if (strstr(ft.error, c->want_error) == NULL)
			fail_msg("error '%s' lacks '%s'", ft.error,
				 c->want_error);
	}
	ft_free(&ft);
}

static int
group_setup(void **state)
{
	static char path[] = "/tmp/test_filter_dmarc.XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0 || write(fd, test_psl, strlen(test_psl)) < 0)
		return -1;
	close(fd);
	psl_file = path;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (psl_file != NULL)
		unlink(psl_file);
	return 0;
}

#define SINGLE_TESTS 10

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(org_cases) +
				       N_ELEMS(align_cases) +
				       N_ELEMS(from_cases) +
				       N_ELEMS(option_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_org_domain_limits),
		cmocka_unit_test(test_psl_parse_errors),
		cmocka_unit_test(test_psl_debian),
		cmocka_unit_test(test_dkim_aligned),
		cmocka_unit_test(test_from_long_field),
		cmocka_unit_test(test_record_pick),
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_policy_and_pct),
		cmocka_unit_test(test_filter_without_resolver),
		cmocka_unit_test(test_filter_trusted),
	};
	size_t n = 0;

#define ADD_ROWS(table, fn)                                                    \
	for (size_t i = 0; i < N_ELEMS(table); i++)                            \
	tests[n++] = (struct CMUnitTest){ .name = table[i].name,               \
					  .test_func = fn,                     \
					  .initial_state = (void *)&table[i] }
	ADD_ROWS(org_cases, test_org_domain);
	ADD_ROWS(align_cases, test_align);
	ADD_ROWS(from_cases, test_from);
	ADD_ROWS(option_cases, test_filter_options);
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests_name("filter_dmarc", tests, group_setup,
					   group_teardown);
}
