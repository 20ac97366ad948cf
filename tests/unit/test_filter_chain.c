/*
 * test_filter_chain.c - unit tests for the filter chain: the config
 * block, loading shared objects (ABI and symbol checks with their exact
 * error texts), options, and running stages on a real event loop with a
 * work queue: chain order, verdict folding, accept, failures and
 * on_failure, deadlines (a filter that sleeps past its timeout), one
 * slow session not slowing another, background reset and close, and the
 * maillog lines.
 *
 * The filters are tests/filters/script.c built as shared objects (see
 * its comment for the options that drive it).
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
#include <time.h>

#include "filter_test.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define SCRIPT "module = \"" FT_SO("script") "\";"
#define SCRIPT_NB "module = \"" FT_SO("script_nb") "\";"

/* ---- configuration ---- */

static void
test_conf_block(void **state)
{
	struct ft ft = { 0 };
	const struct filter_conf_entry *e;

	(void)state;
	assert_int_equal(ft_conf(&ft, "filter a { " SCRIPT " }\n"
				      "filter b { " SCRIPT " timeout = 250ms; "
				      "on_failure = skip; x = 1; }\n"
				      "filter c { " SCRIPT
				      " on_failure = reject; }\n"),
			 0);
	assert_int_equal(ft.conf.nentries, 3);
	e = &ft.conf.entries[0];
	assert_string_equal(e->name, "a");
	assert_string_equal(e->module, FT_SO("script"));
	assert_int_equal(e->timeout, 30000);
	assert_int_equal(e->on_failure, FILTER_FAIL_TEMPFAIL);
	e = &ft.conf.entries[1];
	assert_int_equal(e->timeout, 250);
	assert_int_equal(e->on_failure, FILTER_FAIL_SKIP);
	assert_int_equal(ft.conf.entries[2].on_failure, FILTER_FAIL_REJECT);
	assert_int_equal(ft.conf.threads, 16);
	assert_true(ft.conf.auth_results);
	ft_free(&ft);
}

struct error_case {
	const char *name;
	const char *conf;
	const char *want; /* the whole error text */
};

static const struct error_case conf_errors[] = {
	{ "conf: no name", "filter { }",
	  "test.conf:1: a filter block needs a name of letters, digits, '_', "
	  "'-' and '.' (at most 64): filter NAME { ... }" },
	{ "conf: bad name", "filter \"a b\" { }",
	  "test.conf:1: a filter block needs a name of letters, digits, '_', "
	  "'-' and '.' (at most 64): filter NAME { ... }" },
	{ "conf: duplicate name", "filter a { }\n\nfilter a { }",
	  "test.conf:3: duplicate filter 'a' (first at test.conf:1)" },
	{ "conf: relative module", "filter a {\n module = \"x.so\"; }",
	  "test.conf:2: filter a: module must be an absolute path, not "
	  "'x.so'" },
	{ "conf: bad timeout", "filter a { timeout = soon; }",
	  "test.conf:1: filter a: 'timeout' must be a duration between 1ms "
	  "and 1h, not 'soon'" },
	{ "conf: zero timeout", "filter a { timeout = 0; }",
	  "test.conf:1: filter a: 'timeout' must be a duration between 1ms "
	  "and 1h, not '0'" },
	{ "conf: long timeout", "filter a { timeout = 2h; }",
	  "test.conf:1: filter a: 'timeout' must be a duration between 1ms "
	  "and 1h, not '2h'" },
	{ "conf: bad on_failure", "filter a { on_failure = ignore; }",
	  "test.conf:1: filter a: 'on_failure' must be one of tempfail, "
	  "reject, skip, not 'ignore'" },
	{ "conf: list timeout", "filter a { timeout = [1s, 2s]; }",
	  "test.conf:1: filter a: 'timeout' must be a single value" },
	{ "conf: duplicate option", "filter a {\n x = 1;\n x = 2; }",
	  "test.conf:3: filter a: duplicate key 'x' (first at test.conf:2)" },
	{ "conf: duplicate host key",
	  "filter a { timeout = 1s;\ntimeout = 2s; }",
	  "test.conf:2: filter a: duplicate key 'timeout' (first at "
	  "test.conf:1)" },
};

static void
test_conf_error(void **state)
{
	const struct error_case *c = *state;
	struct ft ft = { 0 };

	assert_int_equal(ft_conf(&ft, c->conf), -1);
	assert_string_equal(ft.error, c->want);
	ft_free(&ft);
}

static void
test_conf_too_many(void **state)
{
	char text[FILTER_MAX * 16 + 64];
	struct ft ft = { 0 };
	size_t o = 0;

	(void)state;
	for (int i = 0; i <= FILTER_MAX; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      "filter f%d {}\n", i);
	assert_int_equal(ft_conf(&ft, text), -1);
	assert_string_equal(ft.error, "test.conf:65: more than 64 filters");
	ft_free(&ft);
}

/* ---- loading ---- */

static const struct error_case load_errors[] = {
	{ "load: ABI mismatch",
	  "filter old {\n module = \"" TEST_FILTERS_DIR "/bad_abi.so\"; }",
	  "test.conf:2: filter old: " TEST_FILTERS_DIR "/bad_abi.so: ABI "
	  "version 7, this postern speaks 1" },
	{ "load: missing symbol",
	  "filter x {\n\n module = \"" TEST_FILTERS_DIR "/nosym.so\"; }",
	  "test.conf:3: filter x: " TEST_FILTERS_DIR "/nosym.so: no symbol "
	  "postern_filter (not a postern filter?)" },
	{ "load: struct too small",
	  "filter x { module = \"" TEST_FILTERS_DIR "/bad_size.so\"; }",
	  "test.conf:1: filter x: " TEST_FILTERS_DIR "/bad_size.so: struct "
	  "postern_filter of 16 bytes, at least 96 expected" },
	{ "load: no such file",
	  "filter x { module = \"" TEST_FILTERS_DIR "/missing.so\"; }",
	  "test.conf:1: filter x: " TEST_FILTERS_DIR "/missing.so: cannot "
	  "open shared object file: No such file or directory" },
	{ "load: unknown built-in", "filter nosuch {\n}",
	  "test.conf:1: filter nosuch: unknown built-in filter 'nosuch' (a "
	  "filter from a shared object needs module = \"/path.so\")" },
	{ "load: unknown option",
	  "filter a { " SCRIPT "\n  connect = continue;\n  colour = blue;\n}",
	  "test.conf:3: filter a: unknown option 'colour'" },
	{ "load: unknown option, second filter",
	  "filter a { " SCRIPT " }\nfilter b { " SCRIPT " x = 1; }",
	  "test.conf:2: filter b: unknown option 'x'" },
	{ "load: init error at an option",
	  "filter a { " SCRIPT "\n opt_int = 5;\n init_error = \"bad value\"; "
	  "init_error_key = opt_int; }",
	  "test.conf:2: filter a: bad value" },
	{ "load: init error at the block",
	  "filter a {\n " SCRIPT " init_error = \"no database\"; }",
	  "test.conf:1: filter a: no database" },
	{ "load: option of the wrong type",
	  "filter a { " SCRIPT "\n opt_int = 12x; }",
	  "test.conf:2: filter a: option 'opt_int' must be a whole number, "
	  "not '12x'" },
	{ "load: list for a string",
	  "filter a { " SCRIPT "\n opt_string = [a, b]; }",
	  "test.conf:2: filter a: option 'opt_string' must be a single value, "
	  "not a list" },
	{ "load: bad size", "filter a { " SCRIPT "\n opt_size = 10Q; }",
	  "test.conf:2: filter a: option 'opt_size' must be a size such as "
	  "512k, 10M or 1G, not '10Q'" },
	{ "load: bad duration",
	  "filter a { " SCRIPT "\n opt_duration = forever; }",
	  "test.conf:2: filter a: option 'opt_duration' must be a duration "
	  "such as 500ms, 30s, 5min or 2h, not 'forever'" },
	{ "load: bad bool", "filter a { " SCRIPT "\n opt_bool = maybe; }",
	  "test.conf:2: filter a: option 'opt_bool' must be yes or no "
	  "(true/false, on/off), not 'maybe'" },
	{ "load: block for a string",
	  "filter a { " SCRIPT "\n opt_list = x; opt_string { y = 1; } }",
	  "test.conf:2: filter a: option 'opt_string' must be a single value, "
	  "not a block" },
};

static void
test_load_error(void **state)
{
	const struct error_case *c = *state;
	struct ft ft = { 0 };

	assert_int_equal(ft_chain(&ft, c->conf), -1);
	assert_null(ft.chain);
	assert_string_equal(ft.error, c->want);
	ft_free(&ft);
}

static void
test_options(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;

	(void)state;
	assert_int_equal(ft_chain(&ft, "filter opts { " SCRIPT_NB
				       " opt_string = \"hello world\";"
				       " opt_int = -42; opt_size = 10M;"
				       " opt_duration = 2min; opt_bool = off;"
				       " opt_list = [a, \"b c\", d]; }"),
			 0);
	assert_int_equal(filter_chain_length(ft.chain), 1);
	assert_ptr_equal(filter_chain_conf(ft.chain), &ft.conf);
	ctx = ft_ctx(&ft);
	assert_int_equal(ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL), 1);
	assert_string_equal(filter_ctx_result_get(ctx, "opt.string"),
			    "hello world");
	assert_string_equal(filter_ctx_result_get(ctx, "opt.int"), "-42");
	assert_string_equal(filter_ctx_result_get(ctx, "opt.size"), "10485760");
	assert_string_equal(filter_ctx_result_get(ctx, "opt.duration"),
			    "120000");
	assert_string_equal(filter_ctx_result_get(ctx, "opt.bool"), "0");
	assert_string_equal(filter_ctx_result_get(ctx, "opt.list"), "a|b c|d");
	filter_ctx_close(&ctx);
	assert_null(ctx);
	ft_free(&ft);

	/* A single value reads as a list of one. */
	assert_int_equal(ft_chain(&ft, "filter opts1 { " SCRIPT_NB
				       " opt_list = solo; }"),
			 0);
	ctx = ft_ctx(&ft);
	ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL);
	assert_string_equal(filter_ctx_result_get(ctx, "opt.list"), "solo");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

/* init and fini once per instance; fini at filter_chain_free. */
static void
test_init_fini(void **state)
{
	struct ft ft = { 0 };
	struct script_stats st;

	(void)state;
	assert_int_equal(ft_chain(&ft, "filter if1 { " SCRIPT " }\n"
				       "filter if2 { " SCRIPT " }"),
			 0);
	ft_stats("if1", &st);
	assert_int_equal(st.inits, 1);
	assert_int_equal(st.finis, 0);
	ft_free(&ft);
	ft_stats("if1", &st);
	assert_int_equal(st.finis, 1);
	ft_stats("if2", &st);
	assert_int_equal(st.finis, 1);
}

/* A filter whose init fails gets no fini; the ones before it do. */
static void
test_init_failure_unwinds(void **state)
{
	struct ft ft = { 0 };
	struct script_stats st;

	(void)state;
	assert_int_equal(ft_chain(&ft,
				  "filter uw1 { " SCRIPT " }\n"
				  "filter uw2 { " SCRIPT " init_error = no; }"),
			 -1);
	ft_stats("uw1", &st);
	assert_int_equal(st.finis, 1);
	ft_free(&ft);
}

/* ---- built-in filters ---- */

static int builtin_calls;

static enum pf_verdict
builtin_message(struct pf_txn *t)
{
	(void)t;
	builtin_calls++;
	return PF_DISCARD;
}

static const struct postern_filter builtin_test = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "msgonly",
	.on_message = builtin_message,
};

static void
test_builtin(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;

	(void)state;
	filter_builtin_register(&builtin_test);
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft, "filter msgonly { }"), 0);
	ctx = ft_ctx(&ft);
	/* Stages it does not have are answered at once. */
	assert_int_equal(ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL), 1);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_null(out.filter);
	filter_ctx_txn_begin(ctx, "4F2A1C3B9E", "a@example.org");
	assert_int_equal(ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, NULL), 1);
	ft_message(ctx, "Subject: x\r\n\r\nbody\r\n");
	/* A blocking filter goes through the work queue. */
	assert_int_equal(ft_run(&ft, ctx, FILTER_MESSAGE, NULL, &out, NULL), 0);
	assert_int_equal(out.verdict, PF_DISCARD);
	assert_string_equal(out.filter, "msgonly");
	assert_int_equal(builtin_calls, 1);
	filter_ctx_close(&ctx);
	ft_free(&ft);

	/* An option for a filter without init is unknown. */
	assert_int_equal(ft_chain(&ft, "filter msgonly { level = 3; }"), -1);
	assert_string_equal(ft.error,
			    "test.conf:1: filter msgonly: unknown option "
			    "'level'");
	ft_free(&ft);
}

/* ---- running the chain ---- */

static void
test_chain_order(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct script_stats st;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft, "filter o1 { " SCRIPT " }\n"
				       "filter o2 { " SCRIPT_NB " }\n"
				       "filter o3 { " SCRIPT " }\n"),
			 0);
	ctx = ft_ctx(&ft);
	assert_int_equal(ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL), 0);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_null(out.filter);
	assert_false(out.failed);
	assert_int_equal(filter_ctx_set_helo(ctx, "mx.example.net"), 0);
	ft_run(&ft, ctx, FILTER_HELO, "mx.example.net", &out, NULL);
	assert_string_equal(filter_ctx_result_get(ctx, "trace"),
			    "o1:connect,o2:connect,o3:connect,"
			    "o1:helo(mx.example.net),o2:helo(mx.example.net),"
			    "o3:helo(mx.example.net)");
	filter_ctx_close(&ctx);
	/* close runs in the background: wait until it is done */
	ft_free(&ft);
	ft_stats("o2", &st);
	assert_int_equal(st.calls[0], 1);
	assert_int_equal(st.calls[6], 1);
	assert_int_equal(st.max_concurrent, 1);
}

struct verdict_case {
	const char *name;
	const char *conf; /* the second of three filters */
	int verdict;
	unsigned code;
	const char *enhanced, *text, *quarantine;
	bool failed;
};

static const struct verdict_case verdict_cases[] = {
	{ "verdict: accept", "rcpt = accept;", PF_ACCEPT },
	{ "verdict: reject default", "rcpt = reject;", PF_REJECT, 550, "5.7.1",
	  "Message rejected" },
	{ "verdict: reject with reply",
	  "rcpt = reject; reply = \"553 5.1.8 Sender domain refused\";",
	  PF_REJECT, 553, "5.1.8", "Sender domain refused" },
	{ "verdict: reject reply without enhanced",
	  "rcpt = reject; reply = \"554 - Go away\";", PF_REJECT, 554, "5.7.1",
	  "Go away" },
	{ "verdict: tempfail default", "rcpt = tempfail;", PF_TEMPFAIL, 451,
	  "4.7.1", "Try again later" },
	{ "verdict: tempfail with reply",
	  "rcpt = tempfail; reply = \"450 4.2.0 Greylisted\";", PF_TEMPFAIL,
	  450, "4.2.0", "Greylisted" },
	{ "verdict: reply of the wrong class ignored",
	  "rcpt = reject; reply = \"451 4.7.1 not a reject\";", PF_REJECT, 550,
	  "5.7.1", "Message rejected" },
	{ "verdict: discard", "rcpt = discard;", PF_DISCARD },
	{ "verdict: quarantine with reason",
	  "rcpt = quarantine; act_stage = rcpt; quarantine = spam;",
	  PF_QUARANTINE, 0, NULL, NULL, "spam" },
	{ "verdict: quarantine default reason", "rcpt = quarantine;",
	  PF_QUARANTINE, 0, NULL, NULL, "v2" },
	{ "verdict: error, tempfail", "rcpt = error;", PF_TEMPFAIL, 451,
	  "4.3.0", "Error: filter v2 unavailable", NULL, true },
	{ "verdict: error, reject", "rcpt = error; on_failure = reject;",
	  PF_REJECT, 550, "5.7.1", "Error: filter v2 unavailable", NULL, true },
	{ "verdict: invalid value", "rcpt = invalid;", PF_TEMPFAIL, 451,
	  "4.3.0", "Error: filter v2 unavailable", NULL, true },
};

/* v1 continues, v2 decides, v3 must not be asked. */
static void
test_verdict(void **state)
{
	const struct verdict_case *c = *state;
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	char conf[512];

	ft_loop(&ft, 2);
	snprintf(conf, sizeof(conf),
		 "filter v1 { " SCRIPT " }\nfilter v2 { " SCRIPT " %s }\n"
		 "filter v3 { " SCRIPT " }\n",
		 c->conf);
	assert_int_equal(ft_chain(&ft, conf), 0);
	ctx = ft_ctx(&ft);
	filter_ctx_txn_begin(ctx, "4F2A1C3B9E", "a@example.org");
	ft_run(&ft, ctx, FILTER_RCPT, "b@example.org", &out, NULL);
	assert_int_equal(out.verdict, c->verdict);
	assert_string_equal(out.filter, "v2");
	assert_int_equal(out.failed, c->failed);
	assert_false(out.orphaned);
	if (c->code != 0) {
		assert_int_equal(out.code, c->code);
		assert_string_equal(out.enhanced, c->enhanced);
		assert_string_equal(out.text, c->text);
	}
	if (c->quarantine != NULL)
		assert_string_equal(out.quarantine, c->quarantine);
	assert_string_equal(filter_ctx_result_get(ctx, "trace"),
			    "v1:rcpt(b@example.org),v2:rcpt(b@example.org)");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

/* PF_ACCEPT at connect: nothing more is asked in the session, but reset
 * and close are delivered. */
static void
test_accept_session(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct script_stats a, b;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft, "filter as1 { " SCRIPT
				       " connect = accept; }\n"
				       "filter as2 { " SCRIPT " }\n"),
			 0);
	ctx = ft_ctx(&ft);
	ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL);
	assert_int_equal(out.verdict, PF_ACCEPT);
	assert_string_equal(out.filter, "as1");
	filter_ctx_txn_begin(ctx, "Q1", "a@example.org");
	assert_int_equal(ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, NULL), 1);
	assert_int_equal(out.verdict, PF_ACCEPT);
	assert_string_equal(out.filter, "as1");
	assert_int_equal(
		ft_run(&ft, ctx, FILTER_RCPT, "b@example.org", &out, NULL), 1);
	ft_message(ctx, "Subject: x\r\n\r\nx\r\n");
	assert_int_equal(ft_run(&ft, ctx, FILTER_MESSAGE, NULL, &out, NULL), 1);
	assert_int_equal(out.verdict, PF_ACCEPT);
	filter_ctx_txn_end(ctx); /* frees the spool the ctx holds */
	filter_ctx_close(&ctx);
	ft_free(&ft);
	ft_stats("as1", &a);
	ft_stats("as2", &b);
	assert_int_equal(a.calls[0], 1);
	assert_int_equal(a.calls[2] + a.calls[3] + a.calls[4], 0);
	assert_int_equal(b.calls[0] + b.calls[2] + b.calls[3] + b.calls[4], 0);
	assert_int_equal(a.calls[5], 1);
	assert_int_equal(b.calls[5], 1);
	assert_int_equal(a.calls[6], 1);
	assert_int_equal(b.calls[6], 1);
}

/* PF_ACCEPT at mail: the rest of that transaction only. */
static void
test_accept_transaction(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct script_stats b;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft,
				  "filter at1 { " SCRIPT " mail = accept; }\n"
				  "filter at2 { " SCRIPT " }\n"),
			 0);
	ctx = ft_ctx(&ft);
	ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL);
	filter_ctx_txn_begin(ctx, "Q1", "a@example.org");
	ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, NULL);
	assert_int_equal(out.verdict, PF_ACCEPT);
	assert_int_equal(
		ft_run(&ft, ctx, FILTER_RCPT, "b@example.org", &out, NULL), 1);
	assert_int_equal(out.verdict, PF_ACCEPT);
	filter_ctx_txn_end(ctx);
	filter_ctx_txn_begin(ctx, "Q2", "a@example.org");
	ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, NULL);
	ft_run(&ft, ctx, FILTER_RCPT, "b@example.org", &out, NULL);
	assert_int_equal(out.verdict, PF_ACCEPT);
	filter_ctx_close(&ctx);
	ft_free(&ft);
	ft_stats("at2", &b);
	assert_int_equal(b.calls[0], 1); /* connect */
	assert_int_equal(b.calls[2], 0); /* mail: accepted before it */
	assert_int_equal(b.calls[3], 0);
	assert_int_equal(b.calls[5], 2); /* two transactions reset */
}

/* on_failure = skip: the chain goes on and the filter is asked no more
 * verdicts in the session. */
static void
test_failure_skip(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct script_stats st;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft,
				  "filter sk1 { " SCRIPT
				  " connect = error; on_failure = skip; }\n"
				  "filter sk2 { " SCRIPT " }\n"),
			 0);
	ctx = ft_ctx(&ft);
	ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_false(out.failed);
	ft_run(&ft, ctx, FILTER_HELO, "h", &out, NULL);
	assert_string_equal(filter_ctx_result_get(ctx, "trace"),
			    "sk1:connect,sk2:connect,sk2:helo(h)");
	filter_ctx_close(&ctx);
	ft_free(&ft);
	ft_stats("sk1", &st);
	assert_int_equal(st.calls[1], 0);
	assert_int_equal(st.calls[6], 1); /* close still delivered */
}

static void
test_logging(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	char *log;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft, "filter lg1 { " SCRIPT " }\n"
				       "filter lg2 { " SCRIPT
				       " rcpt = reject; reply = \"550 5.7.1 No "
				       "\\u0001thanks\"; }\n"
				       "filter lg3 { " SCRIPT
				       " mail = error; on_failure = skip; }\n"),
			 0);
	ctx = ft_ctx(&ft);
	ft_log_start();
	filter_ctx_txn_begin(ctx, "4F2A1C3B9E", "a@example.org");
	ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, NULL);
	ft_run(&ft, ctx, FILTER_RCPT, "b@example.org", &out, NULL);
	log = ft_log_take();
	assert_non_null(strstr(log, "postern/filter["));
	assert_non_null(strstr(log, "]: 4F2A1C3B9E: filter=lg1 stage=mail "
				    "verdict=continue\n"));
	assert_non_null(strstr(log, "]: 4F2A1C3B9E: filter=lg3 stage=mail "
				    "failed (error), on_failure=skip\n"));
	assert_non_null(strstr(log, "]: 4F2A1C3B9E: filter=lg2 stage=rcpt "
				    "verdict=reject 550 5.7.1 No ?thanks\n"));
	free(log);
	assert_string_equal(out.text, "No ?thanks");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

static void
test_log_reply_mismatch(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	char *log;

	(void)state;
	assert_int_equal(ft_chain(&ft, "filter rm { " SCRIPT_NB
				       " connect = tempfail; reply = "
				       "\"550 5.7.1 wrong\"; }"),
			 0);
	ctx = ft_ctx(&ft);
	ft_log_start();
	ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL);
	log = ft_log_take();
	assert_non_null(strstr(log, ": NOQUEUE: filter=rm stage=connect "
				    "reply 550 ignored: it does not match "
				    "verdict tempfail\n"));
	assert_non_null(strstr(log, ": NOQUEUE: filter=rm stage=connect "
				    "verdict=tempfail 451 4.7.1 Try again "
				    "later\n"));
	free(log);
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

/* NONBLOCKING filters run on the loop: the outcome comes at once. */
static void
test_nonblocking_inline(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft, "filter nb1 { " SCRIPT_NB " }\n"
				       "filter nb2 { " SCRIPT_NB
				       " helo = reject; }\n"
				       "filter bl { " SCRIPT " }\n"),
			 0);
	ctx = ft_ctx(&ft);
	/* a blocking filter at the end: one hand-off */
	assert_int_equal(ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL), 0);
	/* decided before the blocking filter: no hand-off */
	assert_int_equal(ft_run(&ft, ctx, FILTER_HELO, "x", &out, NULL), 1);
	assert_int_equal(out.verdict, PF_REJECT);
	assert_string_equal(out.filter, "nb2");
	assert_string_equal(filter_ctx_result_get(ctx, "trace"),
			    "nb1:connect,nb2:connect,bl:connect,nb1:helo(x),"
			    "nb2:helo(x)");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

/* Without a loop everything runs on the caller's thread. */
static void
test_run_sync(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct script_stats st;

	(void)state;
	assert_int_equal(ft_chain(&ft, "filter sy1 { " SCRIPT " }\n"
				       "filter sy2 { " SCRIPT
				       " message = quarantine; act_stage = "
				       "message; quarantine = held; }\n"),
			 0);
	ctx = ft_ctx(&ft);
	filter_ctx_run_sync(ctx, FILTER_CONNECT, NULL, &out);
	assert_int_equal(out.verdict, PF_CONTINUE);
	filter_ctx_txn_begin(ctx, "Q", "a@example.org");
	ft_message(ctx, "Subject: x\r\n\r\nx\r\n");
	filter_ctx_run_sync(ctx, FILTER_MESSAGE, NULL, &out);
	assert_int_equal(out.verdict, PF_QUARANTINE);
	assert_string_equal(out.quarantine, "held");
	/* filter_ctx_run works too, answering at once */
	assert_int_equal(ft_run(&ft, ctx, FILTER_HELO, "h", &out, NULL), 1);
	filter_ctx_txn_end(ctx);
	ft_stats("sy1", &st);
	assert_int_equal(st.calls[5], 1);
	filter_ctx_close(&ctx);
	ft_stats("sy1", &st);
	assert_int_equal(st.calls[6], 1);
	ft_free(&ft);
}

/* ---- deadlines ---- */

static bool
stats_closed(void *arg)
{
	struct script_stats st;

	ft_stats(arg, &st);
	return st.calls[6] > 0;
}

static void
test_timeout(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct script_stats st;
	uint64_t ms;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft, "filter slow { " SCRIPT
				       " timeout = 100ms; sleep = 1s; }\n"
				       "filter after { " SCRIPT " }\n"),
			 0);
	ctx = ft_ctx(&ft);
	filter_ctx_txn_begin(ctx, "Q1", "a@example.org");
	ft_message(ctx, "Subject: x\r\n\r\nx\r\n");
	assert_int_equal(ft_run(&ft, ctx, FILTER_MESSAGE, NULL, &out, &ms), 0);
	/* at the deadline, not after the sleep */
	assert_true(ms >= 95);
	assert_true(ms < 600);
	assert_int_equal(out.verdict, PF_TEMPFAIL);
	assert_int_equal(out.code, 451);
	assert_string_equal(out.enhanced, "4.3.0");
	assert_string_equal(out.text, "Error: filter slow unavailable");
	assert_string_equal(out.filter, "slow");
	assert_true(out.failed);
	assert_true(out.orphaned);
	/* The orphan answers every later stage the same way at once. */
	assert_int_equal(ft_run(&ft, ctx, FILTER_RCPT, "x@y", &out, NULL), 1);
	assert_true(out.orphaned);
	assert_null(filter_ctx_take_spool(ctx));
	filter_ctx_close(&ctx);
	/* The stuck call returns; reset and close follow on the worker;
	 * the filter after it was never asked. */
	assert_true(ft_wait(&ft, stats_closed, "slow", 5000));
	ft_stats("after", &st);
	assert_int_equal(st.calls[4], 0);
	ft_free(&ft); /* under ASan: nothing may leak */
	ft_stats("slow", &st);
	assert_int_equal(st.calls[5], 1);
	assert_int_equal(st.calls[6], 1);
}

/* filter_base_free frees an orphan whose stuck call outlived the loop. */
static void
test_timeout_shutdown(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;

	(void)state;
	ft_loop(&ft, 1);
	assert_int_equal(ft_chain(&ft, "filter stuck { " SCRIPT
				       " timeout = 50ms; sleep = 400ms; "
				       "sleep_stage = connect; "
				       "on_failure = skip; }\n"),
			 0);
	ctx = ft_ctx(&ft);
	ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_true(out.failed);
	assert_true(out.orphaned);
	assert_string_equal(out.filter, "stuck");
	/* a new ctx goes on without the lost filter */
	{
		struct filter_ctx *next = ft_ctx(&ft);

		assert_int_equal(filter_ctx_restore(next, "h", NULL, NULL, NULL,
						    0, out.filter),
				 0);
		assert_int_equal(
			ft_run(&ft, next, FILTER_CONNECT, NULL, &out, NULL), 1);
		assert_false(out.failed);
		assert_null(filter_ctx_result_get(next, "trace"));
		filter_ctx_close(&next);
	}
	filter_ctx_close(&ctx);
	ft_free(&ft); /* waits for the sleeping worker, then frees all */
}

static bool
outcome_done(void *arg)
{
	return *(bool *)arg;
}

static struct filter_outcome last_out;

static void
slow_done_out(void *arg, const struct filter_outcome *out)
{
	last_out = *out;
	*(bool *)arg = true;
}

/* A call that returns after its deadline while the loop was busy (the
 * timer could not fire) is a failure too, but the ctx is kept. */
static void
test_late_return(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct timespec busy = { 0, 300 * 1000 * 1000 };
	bool done = false;
	char *log;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft,
				  "filter late1 { " SCRIPT
				  " timeout = 100ms; sleep = 150ms;"
				  " sleep_stage = helo; on_failure = skip; }\n"
				  "filter late2 { " SCRIPT " helo = reject; }\n"
				  "filter late3 { " SCRIPT
				  " timeout = 100ms; sleep = 150ms;"
				  " sleep_stage = mail; }\n"),
			 0);
	ctx = ft_ctx(&ft);
	ft_log_start();
	assert_int_equal(filter_ctx_run(ctx, FILTER_HELO, "h", &out,
					slow_done_out, &done),
			 0);
	nanosleep(&busy, NULL); /* the loop does not run meanwhile */
	assert_true(ft_wait(&ft, outcome_done, &done, 3000));
	out = last_out;
	log = ft_log_take();
	assert_non_null(strstr(log, ": NOQUEUE: filter=late1 stage=helo "
				    "failed (timeout after 0.1s), "
				    "on_failure=skip\n"));
	free(log);
	assert_false(out.orphaned);
	assert_false(out.failed);
	assert_int_equal(out.verdict, PF_REJECT);
	assert_string_equal(out.filter, "late2");

	/* the default: tempfail; the ctx goes on */
	filter_ctx_txn_begin(ctx, "Q", "a@example.org");
	done = false;
	assert_int_equal(filter_ctx_run(ctx, FILTER_MAIL, NULL, &out,
					slow_done_out, &done),
			 0);
	nanosleep(&busy, NULL);
	assert_true(ft_wait(&ft, outcome_done, &done, 3000));
	out = last_out;
	assert_false(out.orphaned);
	assert_true(out.failed);
	assert_int_equal(out.verdict, PF_TEMPFAIL);
	assert_string_equal(out.text, "Error: filter late3 unavailable");
	/* late1 is skipped for the rest of the session */
	assert_string_equal(
		filter_ctx_result_get(ctx, "trace"),
		"late1:helo(h),late2:helo(h),late2:mail,late3:mail");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

/* The session that waits for a slow filter does not hold up another. */
static void
slow_done(void *arg, const struct filter_outcome *out)
{
	(void)out;
	*(bool *)arg = true;
}

static void
test_slow_session_isolated(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *slow, *fast;
	struct filter_outcome out;
	bool slow_finished = false;
	uint64_t ms, start;

	(void)state;
	ft_loop(&ft, 4);
	assert_int_equal(ft_chain(&ft, "filter iso { " SCRIPT
				       " timeout = 5s; sleep = 800ms; "
				       "sleep_stage = helo; }\n"),
			 0);
	slow = ft_ctx(&ft);
	fast = ft_ctx(&ft);
	start = ft_now_ms();
	assert_int_equal(filter_ctx_run(slow, FILTER_HELO, "slow", &out,
					slow_done, &slow_finished),
			 0);
	for (int i = 0; i < 5; i++) {
		ft_run(&ft, fast, FILTER_CONNECT, NULL, &out, &ms);
		assert_true(ms < 300);
	}
	assert_false(slow_finished);
	assert_true(ft_now_ms() - start < 700);
	assert_true(ft_wait(&ft, outcome_done, &slow_finished, 5000));
	assert_true(ft_now_ms() - start >= 750);
	filter_ctx_close(&slow);
	filter_ctx_close(&fast);
	ft_free(&ft);
}

/* ---- reset and close in the background ---- */

static void
test_reset_before_next_stage(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct script_stats st;
	uint64_t ms;

	(void)state;
	ft_loop(&ft, 4);
	assert_int_equal(ft_chain(&ft,
				  "filter rs { " SCRIPT
				  " sleep = 300ms; sleep_stage = reset; }\n"
				  "filter rs_nb { " SCRIPT_NB " }\n"),
			 0);
	ctx = ft_ctx(&ft);
	filter_ctx_txn_begin(ctx, "Q1", "a@example.org");
	ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, NULL);
	filter_ctx_txn_end(ctx);
	/* The ctx may be used at once; the next stage waits for the reset,
	 * even one that only NONBLOCKING filters... and this one too. */
	assert_int_equal(filter_ctx_txn_begin(ctx, "Q2", "c@example.org"), 0);
	assert_int_equal(ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, &ms), 0);
	assert_true(ms >= 250);
	assert_string_equal(filter_ctx_result_get(ctx, "trace"),
			    "rs:mail,rs_nb:mail");
	ft_stats("rs", &st);
	assert_int_equal(st.calls[5], 1);
	assert_int_equal(st.max_concurrent, 1);
	filter_ctx_close(&ctx);
	assert_true(ft_wait(&ft, stats_closed, "rs", 3000));
	ft_free(&ft);
	ft_stats("rs", &st);
	assert_int_equal(st.calls[5], 2);
	assert_int_equal(st.calls[6], 1);
}

/* A reset that overstays orphans the ctx: the next stage hears it. */
static void
test_reset_timeout(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	uint64_t ms;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft, "filter rst { " SCRIPT
				       " timeout = 100ms; sleep = 600ms; "
				       "sleep_stage = reset; }\n"),
			 0);
	ctx = ft_ctx(&ft);
	filter_ctx_txn_begin(ctx, "Q1", "a@example.org");
	ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, NULL);
	filter_ctx_txn_end(ctx);
	filter_ctx_txn_begin(ctx, "Q2", "a@example.org");
	assert_int_equal(ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, &ms), 0);
	assert_true(ms < 500);
	assert_int_equal(out.verdict, PF_TEMPFAIL);
	assert_true(out.orphaned);
	assert_string_equal(out.filter, "rst");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

/* Closing while a stage runs: no outcome is delivered, nothing leaks. */
static void
never_done(void *arg, const struct filter_outcome *out)
{
	(void)arg;
	(void)out;
	fail_msg("done called after filter_ctx_close");
}

static void
test_close_while_running(void **state)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;

	(void)state;
	ft_loop(&ft, 2);
	assert_int_equal(ft_chain(&ft,
				  "filter cwr { " SCRIPT
				  " sleep = 200ms; sleep_stage = helo; }\n"),
			 0);
	ctx = ft_ctx(&ft);
	assert_int_equal(
		filter_ctx_run(ctx, FILTER_HELO, "h", &out, never_done, NULL),
		0);
	filter_ctx_close(&ctx);
	assert_true(ft_wait(&ft, stats_closed, "cwr", 3000));
	ft_free(&ft);
}

/* ---- main ---- */

#define SINGLE_TESTS 21

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(conf_errors) +
				       N_ELEMS(load_errors) +
				       N_ELEMS(verdict_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_conf_block),
		cmocka_unit_test(test_conf_too_many),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_init_fini),
		cmocka_unit_test(test_init_failure_unwinds),
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_chain_order),
		cmocka_unit_test(test_accept_session),
		cmocka_unit_test(test_accept_transaction),
		cmocka_unit_test(test_failure_skip),
		cmocka_unit_test(test_logging),
		cmocka_unit_test(test_log_reply_mismatch),
		cmocka_unit_test(test_nonblocking_inline),
		cmocka_unit_test(test_run_sync),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_shutdown),
		cmocka_unit_test(test_late_return),
		cmocka_unit_test(test_slow_session_isolated),
		cmocka_unit_test(test_reset_before_next_stage),
		cmocka_unit_test(test_reset_timeout),
		cmocka_unit_test(test_close_while_running),
	};
	size_t n = 0;

#define ADD_ROWS(table, fn)                                                    \
	for (size_t i = 0; i < N_ELEMS(table); i++)                            \
	tests[n++] = (struct CMUnitTest){ .name = table[i].name,               \
					  .test_func = fn,                     \
					  .initial_state = (void *)&table[i] }
	ADD_ROWS(conf_errors, test_conf_error);
	ADD_ROWS(load_errors, test_load_error);
	ADD_ROWS(verdict_cases, test_verdict);
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
