/*
 * test_filter_spf_live.c - the spf filter through a chain against a real
 * DNS server: a dnsmasq the test starts on 127.0.0.1 with
 * tests/data/dns/auth-zone.conf, reached through the shared resolver.
 * Sessions are made for any client address (IPv4 and IPv6 documentation
 * nets, loopback), so every result is checked as the rules and the
 * Authentication-Results header see it, with the log line and the
 * verdict: pass, fail, softfail, neutral, none, permerror (syntax, two
 * records, too many lookups, void lookups, include loop), temperror
 * (server down, no answer, the time budget), macros, exp=, the HELO
 * identity, the null sender, fail/permerror/temperror actions; both
 * engines.  Without dnsmasq every test is a skip.
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
#include "dns.h"
#include "dns_test.h"
#include "filter_int.h"
#include "test_filter_spf_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static unsigned dns_port;

enum engine {
	BOTH,
	OURS,
	LIBSPF2,
};

struct live_case {
	const char *name;
	enum engine engine;
	const char *options; /* inside filter spf { } */
	const char *ip;
	const char *helo;
	const char *from; /* "" null sender */
	const char *want;
	const char *want_helo;	/* spf.helo; "-": not set; NULL: any */
	int want_verdict;	/* enum pf_verdict */
	const char *want_reply; /* "550 5.7.23 text" */
	const char *want_auth;	/* the A-R entries */
	const char *want_log;	/* substring */
	const char *want_exp;	/* spf.explanation */
};

#define GOOD_HELO "good.helo.spf.test"

static const struct live_case cases[] = {
	/* ---- each result ---- */
	{ "pass", BOTH, "", "192.0.2.10", GOOD_HELO, "joe@pass.spf.test",
	  "pass", "pass", PF_CONTINUE, NULL,
	  "spf=pass smtp.mailfrom=pass.spf.test",
	  "filter spf: mailfrom=pass.spf.test result=pass" },
	{ "pass-log-mechanism", OURS, "", "192.0.2.10", GOOD_HELO,
	  "joe@pass.spf.test", "pass", "pass", PF_CONTINUE, NULL, NULL,
	  "4F2A1C3B9E: filter spf: mailfrom=pass.spf.test result=pass "
	  "(matched ip4:192.0.2.0/24)" },
	{ "pass-ipv6", BOTH, "", "2001:db8::10", GOOD_HELO, "joe@pass.spf.test",
	  "pass", "pass", PF_CONTINUE, NULL,
	  "spf=pass smtp.mailfrom=pass.spf.test" },
	{ "fail", BOTH, "", "192.0.2.10", GOOD_HELO, "joe@fail.spf.test",
	  "fail", "pass", PF_CONTINUE, NULL,
	  "spf=fail smtp.mailfrom=fail.spf.test",
	  "mailfrom=fail.spf.test result=fail" },
	{ "fail-log-mechanism", OURS, "", "192.0.2.10", GOOD_HELO,
	  "joe@fail.spf.test", "fail", "pass", PF_CONTINUE, NULL, NULL,
	  "mailfrom=fail.spf.test result=fail (matched -all)" },
	{ "softfail", BOTH, "", "192.0.2.10", GOOD_HELO,
	  "joe@softfail.spf.test", "softfail", "pass", PF_CONTINUE, NULL,
	  "spf=softfail smtp.mailfrom=softfail.spf.test" },
	{ "neutral", BOTH, "", "192.0.2.10", GOOD_HELO, "joe@neutral.spf.test",
	  "neutral", "pass", PF_CONTINUE, NULL,
	  "spf=neutral smtp.mailfrom=neutral.spf.test" },
	{ "none-not-spf", BOTH, "", "192.0.2.10", GOOD_HELO,
	  "joe@none.spf.test", "none", "pass", PF_CONTINUE, NULL,
	  "spf=none smtp.mailfrom=none.spf.test" },
	{ "none-nxdomain", BOTH, "", "192.0.2.10", GOOD_HELO, "joe@nx.spf.test",
	  "none", "pass", PF_CONTINUE, NULL,
	  "spf=none smtp.mailfrom=nx.spf.test",
	  "mailfrom=nx.spf.test result=none (no SPF record)" },
	/* ---- permerror ---- */
	{ "permerror-syntax", OURS, "", "192.0.2.10", GOOD_HELO,
	  "joe@syntax.spf.test", "permerror", "pass", PF_CONTINUE, NULL,
	  "spf=permerror smtp.mailfrom=syntax.spf.test",
	  "result=permerror (syntax error" },
	{ "permerror-two-records", BOTH, "", "192.0.2.10", GOOD_HELO,
	  "joe@multi.spf.test", "permerror", "pass", PF_CONTINUE, NULL,
	  "spf=permerror smtp.mailfrom=multi.spf.test" },
	{ "permerror-too-many-lookups", OURS, "", "192.0.2.10", GOOD_HELO,
	  "joe@toomany.spf.test", "permerror", "pass", PF_CONTINUE, NULL, NULL,
	  "result=permerror (too many DNS lookups" },
	{ "permerror-void-lookups", OURS, "", "192.0.2.10", GOOD_HELO,
	  "joe@voids.spf.test", "permerror", "pass", PF_CONTINUE, NULL, NULL,
	  "result=permerror (void lookup limit of 2 exceeded" },
	{ "permerror-include-loop", OURS, "", "192.0.2.10", GOOD_HELO,
	  "joe@loop.spf.test", "permerror", "pass", PF_CONTINUE, NULL, NULL,
	  "result=permerror (" },
	{ "permerror-reject", OURS, "permerror = reject;", "192.0.2.10",
	  GOOD_HELO, "joe@multi.spf.test", "permerror", "pass", PF_REJECT,
	  "550 5.7.24 SPF permanent error for multi.spf.test: multi.spf.test "
	  "has more than one SPF record" },
	/* ---- mechanisms that look things up ---- */
	{ "a", BOTH, "", "192.0.2.30", GOOD_HELO, "joe@amx.spf.test", "pass" },
	{ "mx", BOTH, "", "192.0.2.31", GOOD_HELO, "joe@amx.spf.test", "pass" },
	{ "mx-ipv6", BOTH, "", "2001:db8::31", GOOD_HELO, "joe@amx.spf.test",
	  "pass" },
	{ "a-mx-no-match", BOTH, "", "192.0.2.32", GOOD_HELO,
	  "joe@amx.spf.test", "fail" },
	{ "ipv6-only-record", BOTH, "", "2001:db8::99", GOOD_HELO,
	  "joe@six.spf.test", "pass" },
	{ "ipv6-only-record-v4-client", BOTH, "", "192.0.2.10", GOOD_HELO,
	  "joe@six.spf.test", "fail" },
	/* ---- macros ---- */
	{ "macro-ir-l1r", OURS, "", "192.0.2.10", GOOD_HELO,
	  "joe-bloggs@macro.spf.test", "pass" },
	{ "macro-other-local-part", OURS, "", "192.0.2.10", GOOD_HELO,
	  "bob@macro.spf.test", "fail" },
	{ "macro-ipv6-nibbles", OURS, "", "::1", GOOD_HELO,
	  "joe-x@macro.spf.test", "pass" },
	{ "macro-helo", OURS, "", "198.51.100.7", GOOD_HELO,
	  "joe@macroh.spf.test", "pass", "fail" },
	{ "macro-helo-other", OURS, "", "198.51.100.7", "other.spf.test",
	  "joe@macroh.spf.test", "fail", "none" },
	/* ---- explanation and the fail action ---- */
	{ "fail-reject-default-text", BOTH, "fail = reject;", "192.0.2.10",
	  GOOD_HELO, "joe@fail.spf.test", "fail", "pass", PF_REJECT,
	  "550 5.7.23 SPF fail: fail.spf.test does not designate 192.0.2.10 "
	  "as permitted sender" },
	{ "exp-reject", OURS, "fail = reject; explain = yes;", "192.0.2.10",
	  GOOD_HELO, "joe@exp.spf.test", "fail", "pass", PF_REJECT,
	  "550 5.7.23 SPF fail: 192.0.2.10 is not one of exp.spf.test's "
	  "designated mail servers",
	  NULL, NULL,
	  "192.0.2.10 is not one of exp.spf.test's designated mail servers" },
	{ "exp-not-asked", OURS, "fail = reject;", "192.0.2.10", GOOD_HELO,
	  "joe@exp.spf.test", "fail", "pass", PF_REJECT,
	  "550 5.7.23 SPF fail: exp.spf.test does not designate 192.0.2.10 "
	  "as permitted sender" },
	/* ---- the HELO identity and the null sender ---- */
	{ "helo-fail-mailfrom-pass", BOTH, "", "192.0.2.10",
	  "bad.helo.spf.test", "joe@pass.spf.test", "pass", "fail", PF_CONTINUE,
	  NULL, "spf=pass smtp.mailfrom=pass.spf.test",
	  "filter spf: helo=bad.helo.spf.test result=fail" },
	{ "helo-off", BOTH, "helo = no;", "192.0.2.10", "bad.helo.spf.test",
	  "joe@pass.spf.test", "pass", "-" },
	{ "null-sender-pass", BOTH, "", "192.0.2.10", GOOD_HELO, "", "pass",
	  "pass", PF_CONTINUE, NULL, "spf=pass smtp.helo=" GOOD_HELO,
	  "helo=" GOOD_HELO " result=pass" },
	{ "null-sender-fail-reject", BOTH, "fail = reject;", "192.0.2.10",
	  "bad.helo.spf.test", "", "fail", "fail", PF_REJECT,
	  "550 5.7.23 SPF fail: bad.helo.spf.test does not designate "
	  "192.0.2.10 as permitted sender" },
	{ "null-sender-helo-off", BOTH, "helo = no;", "192.0.2.10",
	  "bad.helo.spf.test", "", "fail", "-", PF_CONTINUE, NULL,
	  "spf=fail smtp.helo=bad.helo.spf.test",
	  "mailfrom=<> helo=bad.helo.spf.test result=fail" },
	{ "null-sender-helo-literal", BOTH, "", "192.0.2.10", "[192.0.2.10]",
	  "", "none", "none" },
	/* libspf2 passes loopback without looking (PEERS.md 4) */
	{ "loopback-ours", OURS, "", "127.0.0.1", GOOD_HELO,
	  "joe@fail.spf.test", "fail" },
	{ "loopback-libspf2", LIBSPF2, "", "127.0.0.1", GOOD_HELO,
	  "joe@fail.spf.test", "pass", "pass", PF_CONTINUE, NULL, NULL,
	  "mailfrom=fail.spf.test result=pass (matched libspf2's loopback "
	  "rule)" },
	{ "libspf2-log", LIBSPF2, "", "192.0.2.10", GOOD_HELO,
	  "joe@fail.spf.test", "fail", "pass", PF_CONTINUE, NULL, NULL,
	  "mailfrom=fail.spf.test result=fail (matched a mechanism "
	  "(libspf2))" },
};

static void
run_case(const struct live_case *c, const char *engine)
{
	struct ft ft = { 0 };
	struct pst_dns *dns = tfs_resolver(&ft, dns_port, 3000);
	struct filter_outcome out;
	struct filter_ctx *ctx;
	char conf[512], reply[512];
	const char *v;
	char *log;

	snprintf(conf, sizeof(conf), "filter spf { engine = %s; %s }", engine,
		 c->options ? c->options : "");
	if (tfs_chain(&ft, dns, conf) < 0)
		fail_msg("chain: %s", ft.error);
	ctx = tfs_ctx(&ft, c->ip, false);
	ft_log_start();
	tfs_mail(ctx, c->helo, c->from, &out);
	log = ft_log_take();
	v = tfs_result(ctx, "spf");
	if (v == NULL || strcmp(v, c->want) != 0)
		fail_msg("%s: spf=%s, want %s; log:\n%s", engine,
			 v ? v : "(unset)", c->want, log);
	v = tfs_result(ctx, "spf.helo");
	if (c->want_helo != NULL && strcmp(c->want_helo, "-") == 0)
		assert_null(v);
	else if (c->want_helo != NULL &&
		 (v == NULL || strcmp(v, c->want_helo) != 0))
		fail_msg("%s: spf.helo=%s, want %s", engine, v ? v : "(unset)",
			 c->want_helo);
	assert_int_equal(out.verdict, c->want_verdict);
	if (c->want_reply != NULL) {
		snprintf(reply, sizeof(reply), "%u %s %s", out.code,
			 out.enhanced, out.text);
		assert_string_equal(reply, c->want_reply);
	}
	if (c->want_auth != NULL)
		assert_string_equal(tfs_auth(ctx), c->want_auth);
	if (c->want_log != NULL && strstr(log, c->want_log) == NULL)
		fail_msg("%s: log lacks '%s':\n%s", engine, c->want_log, log);
	v = tfs_result(ctx, "spf.explanation");
	if (c->want_exp == NULL)
		assert_null(v);
	else
		assert_string_equal(v != NULL ? v : "(unset)", c->want_exp);
	free(log);
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

static void
test_live(void **state)
{
	const struct live_case *c = *state;

	if (dns_port == 0)
		skip();
	if (c->engine != LIBSPF2)
		run_case(c, "postern");
	if (c->engine != OURS)
		run_case(c, "libspf2");
}

/* ---- temperror ---- */

/* A chain over a resolver on port; the time the MAIL stage took. */
static uint64_t
temperror_case(unsigned port, unsigned dns_timeout, const char *options,
	       const char *engine, struct filter_outcome *out,
	       const char **result_r, char **log_r)
{
	static char result[32];
	struct ft ft = { 0 };
	struct pst_dns *dns = tfs_resolver(&ft, port, dns_timeout);
	struct filter_ctx *ctx;
	char conf[256];
	uint64_t t0, ms;
	const char *v;

	snprintf(conf, sizeof(conf), "filter spf { engine = %s; %s }", engine,
		 options);
	if (tfs_chain(&ft, dns, conf) < 0)
		fail_msg("chain: %s", ft.error);
	ctx = tfs_ctx(&ft, "192.0.2.10", false);
	ft_log_start();
	t0 = ft_now_ms();
	tfs_mail(ctx, GOOD_HELO, "joe@pass.spf.test", out);
	ms = ft_now_ms() - t0;
	*log_r = ft_log_take();
	v = tfs_result(ctx, "spf");
	snprintf(result, sizeof(result), "%s", v ? v : "(unset)");
	*result_r = result;
	filter_ctx_close(&ctx);
	ft_free(&ft);
	return ms;
}

static void
test_server_down(void **state)
{
	static const char *const engines[] = { "postern", "libspf2" };
	unsigned port;
	int fd;

	(void)state;
	/* a port where nothing listens: bound, then closed */
	fd = dns_test_udp_socket(&port);
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < N_ELEMS(engines); i++) {
		struct filter_outcome out;
		const char *result;
		char *log;
		uint64_t ms =
			temperror_case(port, 1000, "temperror = tempfail;",
				       engines[i], &out, &result, &log);

		assert_string_equal(result, "temperror");
		assert_int_equal(out.verdict, PF_TEMPFAIL);
		assert_int_equal(out.code, 451);
		assert_string_equal(out.enhanced, "4.7.24");
		assert_non_null(strstr(log, "result=temperror"));
		/* two lookups of at most a second each */
		assert_true(ms < 5000);
		free(log);
	}
}

static void
test_no_answer_budget(void **state)
{
	struct filter_outcome out;
	const char *result;
	unsigned port;
	char *log;
	uint64_t ms;
	int fd;

	(void)state;
	/* a server that never answers, a resolver that would wait 20 s a
	 * lookup: the filter's budget (3/4 of its 2 s timeout) ends it
	 * in time, as temperror, before the filter's own deadline */
	fd = dns_test_udp_socket(&port);
	assert_true(fd >= 0);
	ms = temperror_case(port, 20000, "timeout = 2s;", "postern", &out,
			    &result, &log);
	close(fd);
	assert_string_equal(result, "temperror");
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_false(out.failed);
	assert_true(ms >= 1400);
	assert_true(ms < 2000);
	assert_non_null(strstr(log, "result=temperror (DNS failure"));
	free(log);
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

#define SINGLE_TESTS 2

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_server_down),
		cmocka_unit_test(test_no_answer_budget),
	};
	size_t n = 0;

	for (size_t i = 0; i < N_ELEMS(cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = cases[i].name,
			.test_func = test_live,
			.initial_state = (void *)&cases[i],
		};
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests_name("filter_spf_live", tests,
					   group_setup, group_teardown);
}
