/*
 * test_filter_ctx.c - unit tests for the host functions a filter calls
 * (filters/ctx.c): what each refuses (keys, values that would break a
 * header, a reply or a log line, a function used at a stage where it
 * means nothing or outside a callback), what the envelope and message
 * accessors return, recipient changes, and how long results, score and
 * tags last.
 *
 * The filter is a built-in whose callbacks call the test's hook; it is
 * NONBLOCKING and the ctx has no loop, so everything runs on this
 * thread, where cmocka's asserts work.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter_test.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- the hook filter ---- */

typedef enum pf_verdict hook_fn(struct pf_txn *t, enum filter_stage s,
				const char *arg);
static hook_fn *hook;
static const void *hook_arg;

static enum pf_verdict
hook_call(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	return hook != NULL ? hook(t, s, arg) : PF_CONTINUE;
}

static enum pf_verdict
hook_connect(struct pf_txn *t)
{
	return hook_call(t, FILTER_CONNECT, NULL);
}

static enum pf_verdict
hook_helo(struct pf_txn *t, const char *helo)
{
	return hook_call(t, FILTER_HELO, helo);
}

static enum pf_verdict
hook_mail(struct pf_txn *t, const char *from)
{
	return hook_call(t, FILTER_MAIL, from);
}

static enum pf_verdict
hook_rcpt(struct pf_txn *t, const char *rcpt)
{
	return hook_call(t, FILTER_RCPT, rcpt);
}

static enum pf_verdict
hook_message(struct pf_txn *t)
{
	return hook_call(t, FILTER_MESSAGE, NULL);
}

static void
hook_reset(struct pf_txn *t)
{
	hook_call(t, FILTER_RESET, NULL);
}

static void
hook_close(struct pf_txn *t)
{
	hook_call(t, FILTER_CLOSE, NULL);
}

static const struct postern_filter hook_filter = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "hook",
	.flags = PF_FILTER_NONBLOCKING,
	.on_connect = hook_connect,
	.on_helo = hook_helo,
	.on_mail = hook_mail,
	.on_rcpt = hook_rcpt,
	.on_message = hook_message,
	.on_reset = hook_reset,
	.on_close = hook_close,
};

struct env {
	struct ft ft;
	struct filter_ctx *ctx;
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	filter_builtin_register(&hook_filter);
	assert_int_equal(ft_chain(&e->ft, "filter hook { }"), 0);
	e->ctx = ft_ctx(&e->ft);
	hook = NULL;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	hook = NULL;
	filter_ctx_close(&e->ctx);
	ft_free(&e->ft);
	free(e);
	return 0;
}

static struct filter_outcome
run(struct env *e, enum filter_stage s, const char *arg)
{
	struct filter_outcome out;

	assert_int_equal(ft_run(&e->ft, e->ctx, s, arg, &out, NULL), 1);
	return out;
}

static void
begin(struct env *e)
{
	assert_int_equal(
		filter_ctx_txn_begin(e->ctx, "4F2A1C3B9E", "a@example.org"), 0);
	run(e, FILTER_MAIL, NULL);
}

static const char msg[] =
	"Received: from mx.example.net (unknown [192.0.2.7])\r\n"
	"\tby mx.example.org; Tue, 1 Jul 2025 10:00:00 +0000\r\n"
	"From: Alice <a@example.org>\r\n"
	"Subject: =?UTF-8?Q?caf=C3=A9?= report\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"Hello\r\n"
	"--b1\r\n"
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	"Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--b1--\r\n";

/* ---- results ---- */

struct kv_case {
	const char *name;
	const char *key, *value;
	int want;
};

static char long_key[66], long_value[1027];

static const struct kv_case kv_cases[] = {
	{ "result: plain", "spf", "pass", 0 },
	{ "result: key punctuation", "dkim.example-org_1", "fail", 0 },
	{ "result: utf-8 value", "geo", "M\xc3\xbcnchen", 0 },
	{ "result: empty value", "x", "", 0 },
	{ "result: 64-byte key", long_key + 1, "v", 0 },
	{ "result: 65-byte key", long_key, "v", -1 },
	{ "result: 1024-byte value", "v", long_value + 2, 0 },
	{ "result: 1025-byte value", "v", long_value + 1, -1 },
	{ "result: empty key", "", "v", -1 },
	{ "result: upper case key", "SPF", "pass", -1 },
	{ "result: blank in key", "a b", "v", -1 },
	{ "result: NULL key", NULL, "v", -1 },
	{ "result: NULL value", "k", NULL, -1 },
	{ "result: LF in value", "k", "a\nb", -1 },
	{ "result: CR in value", "k", "a\rb", -1 },
	{ "result: tab in value", "k", "a\tb", -1 },
	{ "result: DEL in value", "k", "a\x7f", -1 },
	{ "result: bad utf-8", "k", "a\xc3", -1 },
	{ "result: surrogate", "k", "\xed\xa0\x80", -1 },
};

static enum pf_verdict
kv_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	const struct kv_case *c = hook_arg;

	(void)arg;
	if (s != FILTER_CONNECT)
		return PF_CONTINUE;
	assert_int_equal(pf_result_set(t, c->key, c->value), c->want);
	if (c->want == 0)
		assert_string_equal(pf_result_get(t, c->key), c->value);
	return PF_CONTINUE;
}

static void
test_result(void **state)
{
	const struct kv_case *c = *state;
	struct env *e;

	setup((void **)&e);
	hook = kv_hook;
	hook_arg = c;
	run(e, FILTER_CONNECT, NULL);
	assert_int_equal(filter_ctx_result_count(e->ctx), c->want == 0);
	teardown((void **)&e);
}

static enum pf_verdict
limit_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	char key[16];

	(void)arg;
	if (s != FILTER_CONNECT)
		return PF_CONTINUE;
	assert_int_equal(pf_result_set(t, "k", "short"), 0);
	/* longer, then shorter again: replaced, not added */
	assert_int_equal(pf_result_set(t, "k", "a much longer value"), 0);
	assert_int_equal(pf_result_set(t, "k", "x"), 0);
	assert_string_equal(pf_result_get(t, "k"), "x");
	for (int i = 1; i < FILTER_MAX_RESULTS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(pf_result_set(t, key, "v"), 0);
	}
	assert_int_equal(pf_result_set(t, "one-too-many", "v"), -1);
	assert_int_equal(pf_result_set(t, "k7", "replacing still works"), 0);
	assert_null(pf_result_get(t, "nope"));
	assert_null(pf_result_get(t, NULL));
	return PF_CONTINUE;
}

static void
test_result_limits(void **state)
{
	struct env *e = *state;
	const char *k, *v;

	hook = limit_hook;
	run(e, FILTER_CONNECT, NULL);
	assert_int_equal(filter_ctx_result_count(e->ctx), FILTER_MAX_RESULTS);
	filter_ctx_result(e->ctx, 0, &k, &v);
	assert_string_equal(k, "k");
	assert_string_equal(v, "x");
	filter_ctx_result(e->ctx, FILTER_MAX_RESULTS, &k, &v);
	assert_null(k);
	assert_null(v);
}

/* ---- what lasts: session (connect, helo) and transaction ---- */

static enum pf_verdict
life_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	(void)arg;
	switch (s) {
	case FILTER_CONNECT:
		assert_int_equal(pf_result_set(t, "a", "1"), 0);
		assert_int_equal(pf_score_add(t, 1.5), 0);
		assert_int_equal(pf_tag(t, "conn"), 0);
		assert_int_equal(pf_auth_result(t, "iprev", "pass",
						"policy.iprev=192.0.2.7"),
				 0);
		break;
	case FILTER_HELO:
		assert_int_equal(pf_result_set(t, "b", "2"), 0);
		break;
	case FILTER_MAIL:
		assert_int_equal(pf_result_set(t, "c", "3"), 0);
		assert_int_equal(pf_score_add(t, 2), 0);
		assert_int_equal(pf_tag(t, "mailtag"), 0);
		assert_true(pf_score(t) == 3.5);
		break;
	case FILTER_RCPT:
		/* a transaction value shadows the session's */
		assert_string_equal(pf_result_get(t, "a"), "1");
		assert_int_equal(pf_result_set(t, "a", "override"), 0);
		assert_string_equal(pf_result_get(t, "a"), "override");
		assert_true(pf_has_tag(t, "conn"));
		assert_true(pf_has_tag(t, "mailtag"));
		break;
	case FILTER_RESET:
	case FILTER_CLOSE:
		/* nothing said now would be read */
		assert_int_equal(pf_result_set(t, "late", "x"), -1);
		assert_int_equal(pf_tag(t, "late"), -1);
		assert_int_equal(pf_score_add(t, 1), -1);
		assert_int_equal(pf_auth_result(t, "spf", "pass", NULL), -1);
		/* but what was said is readable */
		assert_string_equal(pf_result_get(t, "b"), "2");
		break;
	default:
		break;
	}
	return PF_CONTINUE;
}

static void
test_lifetime(void **state)
{
	struct env *e = *state;
	const char *k, *v;

	hook = life_hook;
	run(e, FILTER_CONNECT, NULL);
	run(e, FILTER_HELO, "h");
	begin(e);
	run(e, FILTER_RCPT, "b@example.org");
	assert_string_equal(filter_ctx_result_get(e->ctx, "a"), "override");
	assert_string_equal(filter_ctx_result_get(e->ctx, "c"), "3");
	assert_int_equal(filter_ctx_result_count(e->ctx), 3);
	/* session ones first, without those the transaction overrides */
	filter_ctx_result(e->ctx, 0, &k, &v);
	assert_string_equal(k, "b");
	filter_ctx_result(e->ctx, 1, &k, &v);
	assert_string_equal(k, "c");
	filter_ctx_result(e->ctx, 2, &k, &v);
	assert_string_equal(k, "a");
	assert_string_equal(v, "override");
	assert_true(filter_ctx_score(e->ctx) == 3.5);
	assert_int_equal(filter_ctx_tag_count(e->ctx), 2);
	assert_string_equal(filter_ctx_tag(e->ctx, 0), "conn");
	assert_string_equal(filter_ctx_tag(e->ctx, 1), "mailtag");
	assert_null(filter_ctx_tag(e->ctx, 2));

	filter_ctx_txn_end(e->ctx);
	assert_string_equal(filter_ctx_result_get(e->ctx, "a"), "1");
	assert_string_equal(filter_ctx_result_get(e->ctx, "b"), "2");
	assert_null(filter_ctx_result_get(e->ctx, "c"));
	assert_int_equal(filter_ctx_result_count(e->ctx), 2);
	assert_true(filter_ctx_score(e->ctx) == 1.5);
	assert_int_equal(filter_ctx_tag_count(e->ctx), 1);
	assert_string_equal(filter_ctx_tag(e->ctx, 0), "conn");
	/* and the next transaction starts from the session's */
	hook = NULL;
	begin(e);
	assert_null(filter_ctx_result_get(e->ctx, "c"));
	assert_true(filter_ctx_score(e->ctx) == 1.5);
}

static enum pf_verdict
score_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	(void)arg;
	if (s != FILTER_MAIL)
		return PF_CONTINUE;
	assert_int_equal(pf_score_add(t, -0.5), 0);
	assert_int_equal(pf_score_add(t, NAN), -1);
	assert_int_equal(pf_score_add(t, INFINITY), -1);
	assert_int_equal(pf_score_add(t, 1e308), 0);
	assert_int_equal(pf_score_add(t, 1e308), -1); /* would overflow */
	assert_int_equal(pf_tag(t, "a"), 0);
	assert_int_equal(pf_tag(t, "a"), 0); /* once */
	assert_int_equal(pf_tag(t, "Bad"), -1);
	assert_int_equal(pf_tag(t, ""), -1);
	assert_int_equal(pf_tag(t, NULL), -1);
	assert_false(pf_has_tag(t, "b"));
	assert_false(pf_has_tag(t, NULL));
	return PF_CONTINUE;
}

static void
test_score_and_tags(void **state)
{
	struct env *e = *state;

	hook = score_hook;
	begin(e);
	assert_true(filter_ctx_score(e->ctx) == 1e308 - 0.5);
	assert_int_equal(filter_ctx_tag_count(e->ctx), 1);
}

/* ---- replies ---- */

struct reply_case {
	const char *name;
	int verdict;
	unsigned code;
	const char *enhanced, *text;
	int want;	   /* of pf_reply */
	unsigned out_code; /* of the outcome */
	const char *out_enhanced, *out_text;
};

static char long_text[1000];

static const struct reply_case reply_cases[] = {
	{ "reply: reject", PF_REJECT, 554, "5.7.0", "No", 0, 554, "5.7.0",
	  "No" },
	{ "reply: no enhanced", PF_REJECT, 550, NULL, "No", 0, 550, "5.7.1",
	  "No" },
	{ "reply: no text", PF_TEMPFAIL, 450, "4.2.0", NULL, 0, 450, "4.2.0",
	  "Try again later" },
	{ "reply: 2xx", PF_REJECT, 250, NULL, "x", -1, 550, "5.7.1",
	  "Message rejected" },
	{ "reply: 3xx", PF_REJECT, 354, NULL, "x", -1, 550, "5.7.1",
	  "Message rejected" },
	{ "reply: 600", PF_REJECT, 600, NULL, "x", -1, 550, "5.7.1",
	  "Message rejected" },
	{ "reply: class mismatch", PF_REJECT, 550, "4.7.1", "x", -1, 550,
	  "5.7.1", "Message rejected" },
	{ "reply: bad enhanced", PF_REJECT, 550, "5.7", "x", -1, 550, "5.7.1",
	  "Message rejected" },
	{ "reply: enhanced junk", PF_REJECT, 550, "5.7.1 x", "x", -1, 550,
	  "5.7.1", "Message rejected" },
	{ "reply: line breaks", PF_REJECT, 550, "5.7.1", "a\r\n250 ok", 0, 550,
	  "5.7.1", "a  250 ok" },
	{ "reply: control bytes", PF_REJECT, 550, "5.7.1", "a\x01\x1b[0m", 0,
	  550, "5.7.1", "a??[0m" },
	{ "reply: utf-8 kept", PF_REJECT, 550, "5.7.1", "caf\xc3\xa9", 0, 550,
	  "5.7.1", "caf\xc3\xa9" },
	{ "reply: bad utf-8", PF_REJECT, 550, "5.7.1", "a\xff\xc3", 0, 550,
	  "5.7.1", "a??" },
	{ "reply: 4xx for a reject is ignored", PF_REJECT, 451, "4.7.1", "x", 0,
	  550, "5.7.1", "Message rejected" },
};

static enum pf_verdict
reply_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	const struct reply_case *c = hook_arg;

	(void)arg;
	if (s != FILTER_CONNECT)
		return PF_CONTINUE;
	assert_int_equal(pf_reply(t, c->code, c->enhanced, c->text), c->want);
	return (enum pf_verdict)c->verdict;
}

static void
test_reply(void **state)
{
	const struct reply_case *c = *state;
	struct filter_outcome out;
	struct env *e;

	setup((void **)&e);
	hook = reply_hook;
	hook_arg = c;
	out = run(e, FILTER_CONNECT, NULL);
	assert_int_equal(out.verdict, c->verdict);
	assert_int_equal(out.code, c->out_code);
	assert_string_equal(out.enhanced, c->out_enhanced);
	assert_string_equal(out.text, c->out_text);
	teardown((void **)&e);
}

static enum pf_verdict
long_reply_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	(void)arg;
	(void)s;
	assert_int_equal(pf_reply(t, 550, "5.7.1", long_text), 0);
	return PF_REJECT;
}

static void
test_reply_long(void **state)
{
	struct env *e = *state;
	struct filter_outcome out;

	hook = long_reply_hook;
	out = run(e, FILTER_CONNECT, NULL);
	assert_int_equal(strlen(out.text), sizeof(out.text) - 1);
}

static enum pf_verdict
quarantine_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	(void)arg;
	if (s != FILTER_MAIL)
		return PF_CONTINUE;
	assert_int_equal(pf_quarantine(t, "Spam"), -1);
	assert_int_equal(pf_quarantine(t, ""), -1);
	assert_int_equal(pf_quarantine(t, NULL), -1);
	assert_int_equal(pf_quarantine(t, "../x"), -1);
	assert_int_equal(pf_quarantine(t, "virus.eicar"), 0);
	return PF_QUARANTINE;
}

static void
test_quarantine_reason(void **state)
{
	struct env *e = *state;
	struct filter_outcome out;

	hook = quarantine_hook;
	assert_int_equal(filter_ctx_txn_begin(e->ctx, "Q", "a@example.org"), 0);
	out = run(e, FILTER_MAIL, NULL);
	assert_int_equal(out.verdict, PF_QUARANTINE);
	assert_string_equal(out.quarantine, "virus.eicar");
	assert_string_equal(out.filter, "hook");
}

/* ---- stages ---- */

static struct pf_txn *saved_txn;

static enum pf_verdict
stage_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	char buf[8];

	(void)arg;
	saved_txn = t;
	switch (s) {
	case FILTER_CONNECT:
		assert_int_equal(pf_rcpt_add(t, "x@example.org"), -1);
		assert_int_equal(pf_rcpt_delete(t, "x@example.org"), -1);
		assert_int_equal(pf_header_add(t, "X-A", "1"), -1);
		assert_int_equal(pf_header_insert(t, 0, "X-A", "1"), -1);
		assert_int_equal(pf_header_change(t, "Subject", 0, "x"), -1);
		assert_int_equal(pf_header_count(t), 0);
		assert_null(pf_header_value(t, "Subject", 0));
		assert_int_equal(pf_message_size(t), 0);
		assert_int_equal(pf_message_read(t, buf, sizeof(buf), 0), -1);
		assert_null(pf_part_root(t));
		assert_null(pf_part_open(t, NULL));
		break;
	case FILTER_MAIL:
		/* edits may be queued from mail on; change needs the
		 * message */
		assert_int_equal(pf_header_add(t, "X-From-Mail", "yes"), 0);
		assert_int_equal(pf_header_change(t, "Subject", 0, "x"), -1);
		assert_int_equal(pf_rcpt_add(t, "x@example.org"), -1);
		break;
	case FILTER_RESET:
		assert_int_equal(pf_reply(t, 550, NULL, "x"), -1);
		assert_int_equal(pf_quarantine(t, "x"), -1);
		assert_int_equal(pf_header_add(t, "X-A", "1"), -1);
		break;
	default:
		break;
	}
	return PF_CONTINUE;
}

static void
test_wrong_stage(void **state)
{
	struct env *e = *state;

	hook = stage_hook;
	run(e, FILTER_CONNECT, NULL);
	begin(e);
	assert_int_equal(filter_ctx_edit_count(e->ctx), 1);
	filter_ctx_txn_end(e->ctx);
	/* outside any callback, a kept pf_txn is refused */
	assert_non_null(saved_txn);
	assert_int_equal(pf_result_set(saved_txn, "k", "v"), -1);
	assert_null(pf_result_get(saved_txn, "k"));
	assert_int_equal(pf_tag(saved_txn, "t"), -1);
	assert_int_equal(pf_reply(saved_txn, 550, NULL, "x"), -1);
	assert_string_equal(pf_queue_id(saved_txn), "");
	assert_null(pf_mail_from(saved_txn));
	/* these describe the session and stay valid */
	assert_string_equal(pf_client_addr(saved_txn), "192.0.2.7");
	assert_string_equal(pf_module_name(pf_txn_module(saved_txn)), "hook");
	saved_txn = NULL;
}

/* ---- the envelope ---- */

static enum pf_verdict
env_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	switch (s) {
	case FILTER_CONNECT:
		assert_string_equal(pf_client_addr(t), "192.0.2.7");
		assert_int_equal(pf_client_port(t), 4711);
		assert_string_equal(pf_client_name(t), "mx.example.net");
		assert_string_equal(pf_helo(t), "");
		assert_null(pf_tls(t));
		assert_null(pf_auth_user(t));
		assert_null(pf_mail_from(t));
		assert_string_equal(pf_queue_id(t), "");
		assert_int_equal(pf_rcpt_count(t), 0);
		pf_txn_set_data(t, (void *)&env_hook);
		break;
	case FILTER_HELO:
		assert_string_equal(arg, "mx.example.net");
		assert_string_equal(pf_helo(t), "mx.example.net");
		assert_string_equal(pf_tls(t), "TLSv1.3 with cipher X");
		assert_ptr_equal(pf_txn_data(t), (void *)&env_hook);
		break;
	case FILTER_MAIL:
		assert_string_equal(arg, "a@example.org");
		assert_string_equal(pf_mail_from(t), "a@example.org");
		assert_string_equal(pf_queue_id(t), "4F2A1C3B9E");
		break;
	case FILTER_RCPT:
		assert_string_equal(arg, "c@example.org");
		assert_int_equal(pf_rcpt_count(t), 1);
		assert_string_equal(pf_rcpt(t, 0), "b@example.org");
		assert_null(pf_rcpt(t, 1));
		break;
	default:
		break;
	}
	return PF_CONTINUE;
}

static void
test_envelope(void **state)
{
	struct env *e = *state;

	hook = env_hook;
	run(e, FILTER_CONNECT, NULL);
	assert_int_equal(filter_ctx_set_tls(e->ctx, "TLSv1.3 with cipher X"),
			 0);
	assert_int_equal(filter_ctx_set_helo(e->ctx, "mx.example.net"), 0);
	run(e, FILTER_HELO, "mx.example.net");
	begin(e);
	assert_int_equal(
		filter_ctx_rcpt_accepted(
			e->ctx, &(struct filter_rcpt){ .addr = "b@example.org",
						       .orcpt = "rfc822;b@x",
						       .notify = 3 }),
		0);
	run(e, FILTER_RCPT, "c@example.org");
	assert_int_equal(filter_ctx_rcpt_count(e->ctx), 1);
	assert_string_equal(filter_ctx_rcpt(e->ctx, 0)->orcpt, "rfc822;b@x");
	assert_int_equal(filter_ctx_rcpt(e->ctx, 0)->notify, 3);
	assert_null(filter_ctx_rcpt(e->ctx, 1));
}

/* A new ctx for a session whose old one was lost knows its envelope. */
static enum pf_verdict
restore_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	(void)arg;
	if (s == FILTER_RCPT) {
		assert_string_equal(pf_helo(t), "mx.example.net");
		assert_string_equal(pf_queue_id(t), "Q9");
		assert_string_equal(pf_mail_from(t), "");
		assert_int_equal(pf_rcpt_count(t), 2);
		assert_string_equal(pf_rcpt(t, 1), "c@example.org");
	}
	return PF_CONTINUE;
}

static void
test_restore(void **state)
{
	struct env *e = *state;
	const struct filter_rcpt rcpts[2] = { { .addr = "b@example.org" },
					      { .addr = "c@example.org" } };

	hook = restore_hook;
	assert_int_equal(filter_ctx_restore(e->ctx, "mx.example.net", "Q9", "",
					    rcpts, 2, "nosuchfilter"),
			 0);
	run(e, FILTER_RCPT, "d@example.org");
}

/* ---- the message ---- */

static enum pf_verdict
message_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	const struct pf_part *p;
	const char *name, *value;
	struct pf_stream *st, *leak;
	char buf[64];
	ssize_t n;

	(void)arg;
	if (s != FILTER_MESSAGE)
		return PF_CONTINUE;
	assert_int_equal(pf_message_size(t), strlen(msg));
	assert_int_equal(pf_header_count(t), 5);
	assert_int_equal(pf_header(t, 1, &name, &value), 0);
	assert_string_equal(name, "From");
	assert_string_equal(value, "Alice <a@example.org>");
	assert_int_equal(pf_header(t, 5, &name, &value), -1);
	assert_string_equal(pf_header_value(t, "subject", 0),
			    "caf\xc3\xa9 report");
	assert_null(pf_header_value(t, "subject", 1));
	assert_null(pf_header_value(t, NULL, 0));
	assert_string_equal(pf_header_value(t, "RECEIVED", 0),
			    "from mx.example.net (unknown [192.0.2.7])"
			    "\tby mx.example.org; Tue, 1 Jul 2025 10:00:00 "
			    "+0000");
	n = pf_message_read(t, buf, 10, 2);
	assert_int_equal(n, 10);
	assert_memory_equal(buf, msg + 2, 10);
	assert_int_equal(pf_message_read(t, buf, 10, strlen(msg)), 0);

	p = pf_part_root(t);
	assert_non_null(p);
	assert_string_equal(pf_part_type(t, p), "multipart/mixed");
	assert_int_equal(pf_part_depth(t, p), 0);
	assert_null(pf_part_parent(t, p));
	p = pf_part_next(t, p);
	assert_string_equal(pf_part_type(t, p), "text/plain");
	assert_string_equal(pf_part_charset(t, p), "utf-8");
	assert_null(pf_part_filename(t, p));
	assert_int_equal(pf_part_depth(t, p), 1);
	assert_ptr_equal(pf_part_parent(t, p), pf_part_root(t));
	p = pf_part_next(t, p);
	assert_string_equal(pf_part_type(t, p), "application/pdf");
	assert_string_equal(pf_part_disposition(t, p), "attachment");
	assert_string_equal(pf_part_filename(t, p), "report.pdf");
	assert_string_equal(
		pf_part_header_value(t, p, "content-transfer-encoding", 0),
		"base64");
	assert_null(pf_part_header_value(t, p, "content-transfer-encoding", 1));
	assert_int_equal(pf_part_size(t, p), 9);
	assert_int_equal(pf_part_defects(t, p), 0);
	st = pf_part_open(t, p);
	assert_non_null(st);
	n = pf_stream_read(t, st, buf, sizeof(buf));
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "%PDF-1.4\n", 9);
	assert_int_equal(pf_stream_read(t, st, buf, sizeof(buf)), 0);
	pf_stream_close(t, st);
	/* one left open: the host closes it after the callback */
	leak = pf_part_open(t, p);
	assert_non_null(leak);
	assert_null(pf_part_next(t, p));
	return PF_CONTINUE;
}

static void
test_message_access(void **state)
{
	struct env *e = *state;

	hook = message_hook;
	begin(e);
	ft_message(e->ctx, msg);
	run(e, FILTER_MESSAGE, NULL);
}

/* ---- recipients ---- */

static enum pf_verdict
rcpt_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	(void)arg;
	if (s != FILTER_MESSAGE)
		return PF_CONTINUE;
	assert_int_equal(pf_rcpt_add(t, "d@example.org"), 0);
	assert_int_equal(pf_rcpt_add(t, "D@EXAMPLE.ORG"), 0); /* there */
	assert_int_equal(pf_rcpt_add(t, "postmaster"), 0);
	assert_int_equal(pf_rcpt_add(t, "bad"), -1);
	assert_int_equal(pf_rcpt_add(t, "a%b@example.org"), -1);
	assert_int_equal(pf_rcpt_add(t, "@a,@b:c@example.org"), -1);
	assert_int_equal(pf_rcpt_add(t, "<x@example.org>"), -1);
	assert_int_equal(pf_rcpt_add(t, ""), -1);
	assert_int_equal(pf_rcpt_add(t, NULL), -1);
	assert_int_equal(pf_rcpt_add(t, "j\xc3\xb6rg@example.org"), 0);
	assert_int_equal(pf_rcpt_delete(t, "C@example.org"), 0);
	assert_int_equal(pf_rcpt_delete(t, "nobody@example.org"), -1);
	assert_int_equal(pf_rcpt_count(t), 4);
	assert_string_equal(pf_rcpt(t, 0), "b@example.org");
	return PF_CONTINUE;
}

static void
test_rcpt_edits(void **state)
{
	struct env *e = *state;
	static const char *const want[] = { "b@example.org", "d@example.org",
					    "postmaster",
					    "j\xc3\xb6rg@example.org" };

	hook = rcpt_hook;
	begin(e);
	filter_ctx_rcpt_accepted(
		e->ctx, &(struct filter_rcpt){ .addr = "b@example.org" });
	filter_ctx_rcpt_accepted(
		e->ctx, &(struct filter_rcpt){ .addr = "c@example.org" });
	ft_message(e->ctx, msg);
	run(e, FILTER_MESSAGE, NULL);
	assert_int_equal(filter_ctx_rcpt_count(e->ctx), 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(filter_ctx_rcpt(e->ctx, i)->addr, want[i]);
	assert_null(filter_ctx_rcpt(e->ctx, 1)->orcpt);
}

static enum pf_verdict
rcpt_limit_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	char addr[64];
	int i;

	(void)arg;
	if (s != FILTER_MESSAGE)
		return PF_CONTINUE;
	for (i = 0; i < FILTER_MAX_RCPT_EDITS; i++) {
		snprintf(addr, sizeof(addr), "u%d@example.org", i);
		assert_int_equal(pf_rcpt_add(t, addr), 0);
	}
	assert_int_equal(pf_rcpt_add(t, "more@example.org"), -1);
	assert_int_equal(pf_rcpt_delete(t, "u1@example.org"), -1);
	return PF_CONTINUE;
}

static void
test_rcpt_edit_limit(void **state)
{
	struct env *e = *state;

	hook = rcpt_limit_hook;
	begin(e);
	ft_message(e->ctx, msg);
	run(e, FILTER_MESSAGE, NULL);
	assert_int_equal(filter_ctx_rcpt_count(e->ctx), FILTER_MAX_RCPT_EDITS);
}

/* ---- header edits: what is refused ---- */

static char unfoldable[1001], long_name[130], foldable[3000];

static enum pf_verdict
header_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	(void)arg;
	if (s != FILTER_MESSAGE)
		return PF_CONTINUE;
	assert_int_equal(pf_header_add(t, "X-Ok", "v"), 0);
	assert_int_equal(pf_header_add(t, "X-Tab", "a\tb"), 0);
	assert_int_equal(pf_header_add(t, "X-Utf8", "caf\xc3\xa9"), 0);
	assert_int_equal(pf_header_add(t, "X-Empty", ""), 0);
	assert_int_equal(pf_header_add(t, "X-Long", foldable), 0);
	assert_int_equal(pf_header_add(t, "Bad Name", "v"), -1);
	assert_int_equal(pf_header_add(t, "Bad:Name", "v"), -1);
	assert_int_equal(pf_header_add(t, "", "v"), -1);
	assert_int_equal(pf_header_add(t, NULL, "v"), -1);
	assert_int_equal(pf_header_add(t, "X-A", NULL), -1);
	assert_int_equal(pf_header_add(t, "X-A", "a\r\nX-Evil: 1"), -1);
	assert_int_equal(pf_header_add(t, "X-A", "a\nb"), -1);
	assert_int_equal(pf_header_add(t, "X-A", "a\rb"), -1);
	assert_int_equal(pf_header_add(t, "X-A", "a\x01"), -1);
	assert_int_equal(pf_header_add(t, "X-A", "a\xc3"), -1);
	assert_int_equal(pf_header_add(t, "X-A", unfoldable), -1);
	assert_int_equal(pf_header_add(t, long_name, "v"), -1);
	assert_int_equal(pf_header_insert(t, 0, "X-Top", "1"), 0);
	assert_int_equal(pf_header_insert(t, 0, "X Top", "1"), -1);
	assert_int_equal(pf_header_change(t, "subject", 0, "new"), 0);
	assert_int_equal(pf_header_change(t, "Subject", 1, "new"), -1);
	assert_int_equal(pf_header_change(t, "Subject", 0, "a\r\nb"), -1);
	assert_int_equal(pf_header_delete(t, "X-Nope", 0), -1);
	assert_int_equal(pf_header_delete(t, "From", 0), 0);
	/* an edit the filter made is not a received field */
	assert_int_equal(pf_header_delete(t, "X-Ok", 0), -1);
	return PF_CONTINUE;
}

static void
test_header_edit_checks(void **state)
{
	struct env *e = *state;
	static const struct {
		const char *op, *name, *value;
		size_t index;
	} want[] = {
		{ "add", "X-Ok", "v", 0 },
		{ "add", "X-Tab", "a\tb", 0 },
		{ "add", "X-Utf8", "caf\xc3\xa9", 0 },
		{ "add", "X-Empty", "", 0 },
		{ "add", "X-Long", foldable, 0 },
		{ "insert", "X-Top", "1", 0 },
		{ "change", "subject", "new", 0 },
		{ "delete", "From", NULL, 0 },
	};

	hook = header_hook;
	begin(e);
	ft_message(e->ctx, msg);
	run(e, FILTER_MESSAGE, NULL);
	assert_int_equal(filter_ctx_edit_count(e->ctx), N_ELEMS(want));
	for (size_t i = 0; i < N_ELEMS(want); i++) {
		const struct filter_header_edit *ed =
			filter_ctx_edit(e->ctx, i);

		assert_string_equal(ed->op, want[i].op);
		assert_string_equal(ed->name, want[i].name);
		if (want[i].value == NULL)
			assert_null(ed->value);
		else
			assert_string_equal(ed->value, want[i].value);
		assert_int_equal(ed->index, want[i].index);
	}
	assert_null(filter_ctx_edit(e->ctx, N_ELEMS(want)));
	assert_true(filter_ctx_has_edits(e->ctx));
}

static enum pf_verdict
auth_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	(void)arg;
	if (s != FILTER_MAIL)
		return PF_CONTINUE;
	assert_int_equal(
		pf_auth_result(t, "spf", "pass", "smtp.mailfrom=example.org"),
		0);
	assert_int_equal(pf_auth_result(t, "dkim", "none", NULL), 0);
	assert_int_equal(pf_auth_result(t, "dkim", "none", ""), 0);
	assert_int_equal(pf_auth_result(t, "s pf", "pass", NULL), -1);
	assert_int_equal(pf_auth_result(t, "spf", "pa;ss", NULL), -1);
	assert_int_equal(pf_auth_result(t, NULL, "pass", NULL), -1);
	assert_int_equal(
		pf_auth_result(t, "spf", "pass", "smtp.mailfrom=x; dkim=pass"),
		-1);
	assert_int_equal(pf_auth_result(t, "spf", "pass",
					"smtp.mailfrom=x\r\nX-Evil: 1"),
			 -1);
	return PF_CONTINUE;
}

static void
test_auth_result_checks(void **state)
{
	struct env *e = *state;

	hook = auth_hook;
	begin(e);
	assert_int_equal(e->ctx->tx->said.nauth, 3);
}

/* ---- pf_log ---- */

static enum pf_verdict
log_hook(struct pf_txn *t, enum filter_stage s, const char *arg)
{
	(void)arg;
	if (s == FILTER_CONNECT)
		pf_log(t, PF_LOG_WARNING, "hello %s", "wo\nrld\x01");
	if (s == FILTER_MAIL)
		pf_log(t, PF_LOG_DEBUG, "from %s", "caf\xc3\xa9");
	return PF_CONTINUE;
}

static void
test_log(void **state)
{
	struct env *e = *state;
	char *log;

	hook = log_hook;
	ft_log_start();
	run(e, FILTER_CONNECT, NULL);
	begin(e);
	log = ft_log_take();
	assert_non_null(strstr(log, "]: NOQUEUE: filter hook: hello "
				    "wo\\x0arld\\x01\n"));
	assert_non_null(strstr(log, "]: 4F2A1C3B9E: filter hook: from "
				    "caf\\xc3\\xa9\n"));
	free(log);
}

static void
fill_buffers(void)
{
	memset(long_key, 'k', sizeof(long_key) - 1);
	memset(long_value, 'v', sizeof(long_value) - 1);
	memset(long_text, 't', sizeof(long_text) - 1);
	memset(unfoldable, 'x', sizeof(unfoldable) - 1);
	memset(long_name, 'N', sizeof(long_name) - 1);
	for (size_t i = 0; i + 1 < sizeof(foldable); i++)
		foldable[i] = i % 10 == 9 ? ' ' : 'w';
}

#define SINGLE_TESTS 14

int
main(void)
{
	static struct CMUnitTest
		tests[N_ELEMS(kv_cases) + N_ELEMS(reply_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test_setup_teardown(test_result_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lifetime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_score_and_tags, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reply_long, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_reason, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wrong_stage, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_envelope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_access, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_edits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_edit_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_header_edit_checks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_auth_result_checks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_log, setup, teardown),
	};
	size_t n = 0;

	fill_buffers();
#define ADD_ROWS(table, fn)                                                    \
	for (size_t i = 0; i < N_ELEMS(table); i++)                            \
	tests[n++] = (struct CMUnitTest){ .name = table[i].name,               \
					  .test_func = fn,                     \
					  .initial_state = (void *)&table[i] }
	ADD_ROWS(kv_cases, test_result);
	ADD_ROWS(reply_cases, test_reply);
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
