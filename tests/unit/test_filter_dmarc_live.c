/*
 * test_filter_dmarc_live.c - the dmarc filter through a chain after the
 * real spf filter, against a dnsmasq the test starts on 127.0.0.1 with
 * tests/data/dns/auth-zone.conf: each alignment mode (relaxed and strict,
 * SPF and DKIM), policies none, quarantine and reject with their
 * actions, sp= for a subdomain, a subdomain's own record, pct=, the
 * organizational domain's record, a missing record, two records, a
 * broken record, a server that refuses, several From fields.  DKIM
 * results come from a stand-in filter that sets what the dkim filter
 * would (dkim, dkim.pass_domains) from an X-Test-Dkim header.  Without
 * dnsmasq every test is a skip.
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
#include "dns.h"
#include "filter_int.h"
#include "test_filter_spf_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static unsigned dns_port;

/* What the dkim filter sets, from "X-Test-Dkim: d1 d2" (passing
 * signatures) or "X-Test-Dkim: fail". */
static enum pf_verdict
fake_dkim_message(struct pf_txn *t)
{
	const char *v = pf_header_value(t, "X-Test-Dkim", 0);

	if (v == NULL) {
		pf_result_set(t, "dkim", "none");
	} else if (strcmp(v, "fail") == 0) {
		pf_result_set(t, "dkim", "fail");
	} else {
		pf_result_set(t, "dkim", "pass");
		pf_result_set(t, "dkim.pass_domains", v);
	}
	return PF_CONTINUE;
}

static const struct postern_filter fake_dkim = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "fakedkim",
	.on_message = fake_dkim_message,
};

struct live_case {
	const char *name;
	const char *options; /* inside filter dmarc { } */
	const char *ip;
	const char *mail_from;
	const char *header;	 /* the header block, without the blank line */
	const char *want;	 /* dmarc */
	const char *want_policy; /* NULL: not set */
	const char *want_disposition; /* NULL: "none" */
	int want_verdict;
	const char *want_reply; /* "550 5.7.1 text" or the quarantine */
	const char *want_auth;	/* the dmarc entry */
	const char *want_log;
	bool no_dkim_filter;
};

#define GOOD "192.0.2.10"
#define BAD "198.51.100.9"

static const struct live_case cases[] = {
	/* ---- SPF alignment ---- */
	{ "spf-aligned-pass", "", GOOD, "joe@dm-reject.test",
	  "From: Joe <joe@dm-reject.test>", "pass", "reject", "none",
	  PF_CONTINUE, NULL, "dmarc=pass header.from=dm-reject.test",
	  "filter dmarc: from=dm-reject.test result=pass policy=reject "
	  "disposition=none (spf=pass aligned, dkim=none)" },
	{ "spf-relaxed-subdomain", "", GOOD, "bounce@mail.dm-reject.test",
	  "From: joe@dm-reject.test", "pass", "reject" },
	{ "spf-strict-subdomain-fails", "", GOOD, "bounce@mail.dm-strict.test",
	  "From: joe@dm-strict.test", "fail", "reject", "reject", PF_CONTINUE,
	  NULL, "dmarc=fail header.from=dm-strict.test",
	  "result=fail policy=reject disposition=reject (spf=pass, "
	  "dkim=none)" },
	{ "spf-strict-exact", "", GOOD, "joe@dm-strict.test",
	  "From: joe@dm-strict.test", "pass", "reject" },
	{ "spf-pass-other-domain", "", GOOD, "joe@pass.spf.test",
	  "From: joe@dm-reject.test", "fail", "reject", "reject" },
	{ "spf-fail", "", BAD, "joe@dm-reject.test", "From: joe@dm-reject.test",
	  "fail", "reject", "reject" },
	{ "spf-null-sender-helo", "", GOOD, "", "From: joe@dm-reject.test",
	  "fail", "reject", "reject" },
	/* ---- DKIM alignment ---- */
	{ "dkim-aligned", "", BAD, "joe@dm-reject.test",
	  "From: joe@dm-reject.test\r\nX-Test-Dkim: dm-reject.test", "pass",
	  "reject", "none", PF_CONTINUE, NULL, NULL,
	  "(spf=fail, dkim=pass aligned)" },
	{ "dkim-relaxed-subdomain", "", BAD, "joe@dm-reject.test",
	  "From: joe@dm-reject.test\r\nX-Test-Dkim: other.test "
	  "mail.dm-reject.test",
	  "pass", "reject" },
	{ "dkim-strict-subdomain-fails", "", BAD, "joe@dm-strict.test",
	  "From: joe@dm-strict.test\r\nX-Test-Dkim: mail.dm-strict.test",
	  "fail", "reject", "reject" },
	{ "dkim-strict-exact", "", BAD, "joe@dm-strict.test",
	  "From: joe@dm-strict.test\r\nX-Test-Dkim: dm-strict.test", "pass",
	  "reject" },
	{ "dkim-other-domain", "", BAD, "joe@dm-reject.test",
	  "From: joe@dm-reject.test\r\nX-Test-Dkim: other.test", "fail",
	  "reject", "reject" },
	{ "dkim-fail", "", BAD, "joe@dm-reject.test",
	  "From: joe@dm-reject.test\r\nX-Test-Dkim: fail", "fail", "reject",
	  "reject" },
	{ "dkim-filter-absent", "", BAD, "joe@dm-reject.test",
	  "From: joe@dm-reject.test\r\nX-Test-Dkim: dm-reject.test", "fail",
	  "reject", "reject", PF_CONTINUE, NULL, NULL, "dkim=none)", true },
	/* ---- policies and actions ---- */
	{ "reject-action", "reject = reject;", BAD, "joe@dm-reject.test",
	  "From: joe@dm-reject.test", "fail", "reject", "reject", PF_REJECT,
	  "550 5.7.1 DMARC policy of dm-reject.test says reject" },
	{ "reject-action-pass", "reject = reject;", GOOD, "joe@dm-reject.test",
	  "From: joe@dm-reject.test", "pass", "reject", "none" },
	{ "quarantine", "", BAD, "joe@dm-quar.test", "From: joe@dm-quar.test",
	  "fail", "quarantine", "quarantine" },
	{ "quarantine-action", "quarantine = quarantine; reject = reject;", BAD,
	  "joe@dm-quar.test", "From: joe@dm-quar.test", "fail", "quarantine",
	  "quarantine", PF_QUARANTINE, "dmarc" },
	{ "none-policy", "reject = reject; quarantine = quarantine;", BAD,
	  "joe@dm-none.test", "From: joe@dm-none.test", "fail", "none", "none",
	  PF_CONTINUE },
	/* ---- subdomains, the organizational domain, pct ---- */
	{ "sp-subdomain", "", GOOD, "joe@sub.dm-sp.test",
	  "From: joe@sub.dm-sp.test", "fail", "reject", "reject", PF_CONTINUE,
	  NULL, "dmarc=fail header.from=sub.dm-sp.test",
	  "(spf=fail, dkim=none, organizational domain's record)" },
	{ "sp-organizational-domain-itself", "", BAD, "joe@dm-sp.test",
	  "From: joe@dm-sp.test", "fail", "none", "none" },
	{ "subdomain-own-record", "", GOOD, "joe@own.dm-sp.test",
	  "From: joe@own.dm-sp.test", "fail", "quarantine", "quarantine" },
	{ "org-fallback-p", "", BAD, "joe@x.y.dm-reject.test",
	  "From: joe@x.y.dm-reject.test", "fail", "reject", "reject" },
	{ "pct-zero", "reject = reject;", BAD, "joe@dm-pct.test",
	  "From: joe@dm-pct.test", "fail", "reject", "quarantine",
	  PF_CONTINUE },
	/* ---- no policy ---- */
	{ "missing-record", "reject = reject;", BAD, "joe@dm-missing.test",
	  "From: joe@dm-missing.test", "none", NULL, "none", PF_CONTINUE, NULL,
	  "dmarc=none header.from=dm-missing.test",
	  "from=dm-missing.test result=none (no DMARC record)" },
	{ "two-records", "reject = reject;", BAD, "joe@dm-multi.test",
	  "From: joe@dm-multi.test", "none", NULL, "none", PF_CONTINUE, NULL,
	  NULL, "result=none (several DMARC records)" },
	{ "not-a-dmarc-record", "", BAD, "joe@dm-other.test",
	  "From: joe@dm-other.test", "none" },
	{ "broken-record", "reject = reject;", BAD, "joe@dm-bad.test",
	  "From: joe@dm-bad.test", "permerror", NULL, "none", PF_CONTINUE, NULL,
	  "dmarc=permerror header.from=dm-bad.test",
	  "result=permerror (record at _dmarc.dm-bad.test: " },
	{ "server-refuses", "reject = reject;", BAD, "joe@example.com",
	  "From: joe@refused.example", "temperror", NULL, "none", PF_CONTINUE,
	  NULL, "dmarc=temperror header.from=refused.example" },
	{ "two-from-fields", "reject = reject;", GOOD, "joe@dm-reject.test",
	  "From: joe@dm-reject.test\r\nFrom: joe@dm-reject.test", "permerror",
	  NULL, "none", PF_CONTINUE, NULL, "dmarc=permerror" },
};

static void
test_live(void **state)
{
	const struct live_case *c = *state;
	struct ft ft = { 0 };
	struct pst_dns *dns;
	struct filter_outcome out;
	struct filter_ctx *ctx;
	char conf[512], msg[1024], reply[512];
	const char *v, *auth;
	char *log;

	if (dns_port == 0)
		skip();
	dns = tfs_resolver(&ft, dns_port, 3000);
	filter_builtin_register(&fake_dkim);
	snprintf(conf, sizeof(conf), "filter spf {}\n%s\nfilter dmarc { %s }",
		 c->no_dkim_filter ? "" : "filter fakedkim {}", c->options);
	if (tfs_chain(&ft, dns, conf) < 0)
		fail_msg("chain: %s", ft.error);
	ctx = tfs_ctx(&ft, c->ip, false);
	tfs_mail(ctx, "other.spf.test", c->mail_from, NULL);
	snprintf(msg, sizeof(msg),
		 "Received: from x by mx.example.org; Thu, 26 Nov 2026 "
		 "12:00:00 +0000\r\n%s\r\nSubject: test\r\n\r\nHello.\r\n",
		 c->header);
	ft_log_start();
	tfs_message(ctx, msg, &out);
	log = ft_log_take();
	v = tfs_result(ctx, "dmarc");
	if (v == NULL || strcmp(v, c->want) != 0)
		fail_msg("dmarc=%s, want %s; log:\n%s", v ? v : "(unset)",
			 c->want, log);
	v = tfs_result(ctx, "dmarc.policy");
	if (c->want_policy == NULL)
		assert_null(v);
	else
		assert_string_equal(v ? v : "(unset)", c->want_policy);
	assert_string_equal(tfs_result(ctx, "dmarc.disposition"),
			    c->want_disposition ? c->want_disposition : "none");
	assert_int_equal(out.verdict, c->want_verdict);
	if (c->want_verdict == PF_REJECT) {
		snprintf(reply, sizeof(reply), "%u %s %s", out.code,
			 out.enhanced, out.text);
		assert_string_equal(reply, c->want_reply);
	} else if (c->want_verdict == PF_QUARANTINE) {
		assert_string_equal(out.quarantine, c->want_reply);
	}
	auth = tfs_auth(ctx);
	if (c->want_auth != NULL && strstr(auth, c->want_auth) == NULL)
		fail_msg("A-R '%s' lacks '%s'", auth, c->want_auth);
	if (c->want_log != NULL && strstr(log, c->want_log) == NULL)
		fail_msg("log lacks '%s':\n%s", c->want_log, log);
	free(log);
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

/* Both filters' entries in one place, in chain order. */
static void
test_auth_results_together(void **state)
{
	struct ft ft = { 0 };
	struct pst_dns *dns;
	struct filter_ctx *ctx;

	(void)state;
	if (dns_port == 0)
		skip();
	dns = tfs_resolver(&ft, dns_port, 3000);
	if (tfs_chain(&ft, dns, "filter spf {}\nfilter dmarc {}") < 0)
		fail_msg("chain: %s", ft.error);
	ctx = tfs_ctx(&ft, "2001:db8::10", false);
	tfs_mail(ctx, "good.helo.spf.test", "joe@dm-quar.test", NULL);
	tfs_message(ctx, "From: joe@dm-quar.test\r\n\r\nHello.\r\n", NULL);
	assert_string_equal(tfs_auth(ctx),
			    "spf=pass smtp.mailfrom=dm-quar.test; "
			    "dmarc=pass header.from=dm-quar.test");
	assert_string_equal(tfs_result(ctx, "dmarc.domain"), "dm-quar.test");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

static int
group_setup(void **state)
{
	(void)state;
	dns_port = tfs_dnsmasq_start();
	if (dns_port == 0)
		fprintf(stderr, "# dnsmasq is not installed: skipping\n");
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	tfs_dnsmasq_stop();
	return 0;
}

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(cases) + 1];
	size_t n = 0;

	for (size_t i = 0; i < N_ELEMS(cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = cases[i].name,
			.test_func = test_live,
			.initial_state = (void *)&cases[i],
		};
	tests[n++] =
		(struct CMUnitTest)cmocka_unit_test(test_auth_results_together);
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests_name("filter_dmarc_live", tests,
					   group_setup, group_teardown);
}
