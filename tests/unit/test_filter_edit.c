/*
 * test_filter_edit.c - unit tests for the message that leaves
 * (filters/edit.c): header edits applied in call order, folding,
 * Authentication-Results written after our Received: with forged ones
 * (our authserv-id, any case, quoted, behind a comment) removed and
 * others kept, malformed header blocks, and a body larger than the
 * copy buffer passing unchanged.  Each test compares whole messages.
 *
 * The filters are instances of tests/filters/script_nb.so whose options
 * say which edits to make; the ctx has no loop.
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

#include "filter_test.h"
#include "spool.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define NB "module = \"" FT_SO("script_nb") "\"; "

#define RECEIVED                                                               \
	"Received: from mx.example.net (unknown [192.0.2.7])\r\n"              \
	"\tby mx.example.org (postern) with ESMTP id 4F2A1C3B9E;\r\n"          \
	"\tTue, 1 Jul 2025 10:00:00 +0000\r\n"

struct edit_case {
	const char *name;
	const char *conf;
	const char *in;
	const char *want; /* NULL: no edits (has_edits false) */
};

static const struct edit_case edit_cases[] = {
	{ "edit: in call order",
	  "filter e1 { " NB "add_header = [\"X-Added: 1\"];"
	  " insert_header = [\"0 X-Top: t\", \"2 X-Mid: m\"];"
	  " change_header = [\"X-Dup 1 changed\"];"
	  " delete_header = [\"X-Dup 0\", \"Subject 0\"]; }",
	  RECEIVED "From: a@example.org\r\n"
		   "X-Dup: one\r\n"
		   "Subject: hello\r\n"
		   "X-Dup: two\r\n"
		   "\r\n"
		   "body line\r\n",
	  "X-Top: t\r\n" RECEIVED "X-Mid: m\r\n"
	  "From: a@example.org\r\n"
	  "X-Dup: changed\r\n"
	  "X-Added: 1\r\n"
	  "\r\n"
	  "body line\r\n" },
	{ "edit: two filters, later one sees received numbering",
	  "filter e1 { " NB "delete_header = [\"X-Dup 0\"]; }\n"
	  "filter e2 { " NB "change_header = [\"x-dup 1 second\"]; }",
	  RECEIVED "X-Dup: one\r\nX-Dup: two\r\n\r\nb\r\n",
	  RECEIVED "X-Dup: second\r\n\r\nb\r\n" },
	{ "edit: change keeps the received name",
	  "filter e1 { " NB "change_header = [\"SUBJECT 0 new subject\"]; }",
	  RECEIVED "subject: old\r\n\r\nb\r\n",
	  RECEIVED "subject: new subject\r\n\r\nb\r\n" },
	{ "edit: change a folded field",
	  "filter e1 { " NB "change_header = [\"To 0 c@example.org\"]; }",
	  RECEIVED "To: a@example.org,\r\n b@example.org\r\nX: y\r\n\r\nb\r\n",
	  RECEIVED "To: c@example.org\r\nX: y\r\n\r\nb\r\n" },
	{ "edit: insert past the end appends",
	  "filter e1 { " NB "insert_header = [\"99 X-End: e\"]; }",
	  RECEIVED "Subject: s\r\n\r\nb\r\n",
	  RECEIVED "Subject: s\r\nX-End: e\r\n\r\nb\r\n" },
	{ "edit: insert counts the fields there are",
	  "filter e1 { " NB "delete_header = [\"A 0\"]; }\n"
	  "filter e2 { " NB "insert_header = [\"2 X-I: i\"]; }",
	  RECEIVED "A: 1\r\nB: 2\r\n\r\nb\r\n",
	  RECEIVED "B: 2\r\nX-I: i\r\n\r\nb\r\n" },
	{ "edit: no empty line before the body",
	  "filter e1 { " NB "add_header = [\"X-A: 1\"]; }",
	  "Subject: x\r\nnot a header line\r\nmore\r\n",
	  "Subject: x\r\nX-A: 1\r\n\r\nnot a header line\r\nmore\r\n" },
	{ "edit: no body at all",
	  "filter e1 { " NB "add_header = [\"X-A: 1\"]; }", "Subject: x\r\n",
	  "Subject: x\r\nX-A: 1\r\n" },
	{ "edit: empty header block",
	  "filter e1 { " NB "add_header = [\"X-A: 1\"]; }", "\r\nbody\r\n",
	  "X-A: 1\r\n\r\nbody\r\n" },
	{ "edit: mbox From line stays on top",
	  "filter e1 { " NB "insert_header = [\"0 X-A: 1\"]; }",
	  "From a@b Tue Jul  1 10:00:00 2025\r\nSubject: x\r\n\r\nb\r\n",
	  "From a@b Tue Jul  1 10:00:00 2025\r\nX-A: 1\r\nSubject: x\r\n\r\n"
	  "b\r\n" },
	{ "edit: empty value",
	  "filter e1 { " NB "add_header = [\"X-Empty:\"]; }",
	  RECEIVED "\r\nb\r\n", RECEIVED "X-Empty:\r\n\r\nb\r\n" },
	{ "edit: nothing to do", "filter e1 { " NB " }",
	  RECEIVED "Subject: s\r\n\r\nb\r\n", NULL },

	/* Authentication-Results */
	{ "a-r: one per filter, after Received",
	  "filter c1 { " NB "act_stage = connect;"
	  " auth = [\"iprev pass policy.iprev=192.0.2.7\"]; }\n"
	  "filter m1 { " NB "act_stage = mail;"
	  " auth = [\"spf pass smtp.mailfrom=example.org\"]; }\n"
	  "filter m2 { " NB "auth = [\"dkim pass header.d=example.org "
	  "header.s=sel1\"]; }",
	  RECEIVED "Subject: s\r\n\r\nb\r\n",
	  RECEIVED "Authentication-Results: mx.example.org; iprev=pass "
		   "policy.iprev=192.0.2.7;\r\n"
		   " spf=pass smtp.mailfrom=example.org; dkim=pass "
		   "header.d=example.org\r\n"
		   " header.s=sel1\r\n"
		   "Subject: s\r\n\r\nb\r\n" },
	{ "a-r: forged ones removed, others kept",
	  "filter m1 { " NB "auth = [\"spf fail\"]; }",
	  RECEIVED
	  "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=x\r\n"
	  "Subject: s\r\n"
	  "Authentication-Results: (forged)\r\n \"MX.Example.ORG\"; dkim=pass\r\n"
	  "Authentication-Results: other.example.net; spf=fail\r\n"
	  "Authentication-Results: mx.example.org.evil.net; none\r\n"
	  "Authentication-Results: mx.example.org\r\n"
	  "\r\nb\r\n",
	  RECEIVED "Authentication-Results: mx.example.org; spf=fail\r\n"
		   "Subject: s\r\n"
		   "Authentication-Results: other.example.net; spf=fail\r\n"
		   "Authentication-Results: mx.example.org.evil.net; none\r\n"
		   "\r\nb\r\n" },
	{ "a-r: a forged one alone is an edit", "filter m1 { " NB " }",
	  RECEIVED "Authentication-Results: MX.EXAMPLE.ORG; none\r\n"
		   "\r\nb\r\n",
	  RECEIVED "\r\nb\r\n" },
	{ "a-r: a filter's own field is kept",
	  "filter m1 { " NB "add_header = [\"Authentication-Results: "
	  "other.example; x=y\"]; }",
	  RECEIVED "\r\nb\r\n",
	  RECEIVED "Authentication-Results: other.example; x=y\r\n\r\nb\r\n" },
	{ "a-r: off",
	  "auth_results = no\nfilter m1 { " NB "auth = [\"spf pass\"]; }",
	  RECEIVED "Authentication-Results: mx.example.org; none\r\n\r\nb\r\n",
	  NULL },
	{ "a-r: quoted authserv-id",
	  "authserv_id = \"mx example\"\nfilter m1 { " NB
	  "auth = [\"spf pass\"]; }",
	  RECEIVED "Authentication-Results: \"mx example\"; none\r\n\r\nb\r\n",
	  RECEIVED "Authentication-Results: \"mx example\"; spf=pass\r\n"
		   "\r\nb\r\n" },
	{ "a-r: our Received deleted, place kept",
	  "filter m1 { " NB "auth = [\"spf pass\"];"
	  " delete_header = [\"Received 0\"]; }",
	  RECEIVED "Subject: s\r\n\r\nb\r\n",
	  "Authentication-Results: mx.example.org; spf=pass\r\n"
	  "Subject: s\r\n\r\nb\r\n" },
};

static void
test_edit(void **state)
{
	const struct edit_case *c = *state;
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct pst_spool *spool;
	const char *error = NULL;
	char *got;

	assert_int_equal(ft_chain(&ft, c->conf), 0);
	ctx = ft_ctx(&ft);
	ft_run(&ft, ctx, FILTER_CONNECT, NULL, &out, NULL);
	assert_int_equal(
		filter_ctx_txn_begin(ctx, "4F2A1C3B9E", "a@example.org"), 0);
	ft_run(&ft, ctx, FILTER_MAIL, NULL, &out, NULL);
	ft_message(ctx, c->in);
	ft_run(&ft, ctx, FILTER_MESSAGE, NULL, &out, NULL);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_int_equal(filter_ctx_has_edits(ctx), c->want != NULL);
	spool = pst_spool_new(1024, "/tmp");
	assert_non_null(spool);
	assert_int_equal(filter_ctx_write_message(ctx, spool, &error), 0);
	got = ft_spool_text(spool);
	/* with nothing to do, writing copies the message as it is */
	assert_string_equal(got, c->want != NULL ? c->want : c->in);
	free(got);
	pst_spool_free(&spool);
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

/* Folding: lines of 78 where there are blanks, never past 998; the
 * unfolded field is the value. */
static void
test_fold(void **state)
{
	struct pst_buf b;
	char value[2400], *p;
	size_t i, line;

	(void)state;
	for (i = 0; i + 1 < sizeof(value); i++)
		value[i] = i % 13 == 12 ? ' ' : (char)('a' + i % 26);
	value[i] = '\0';
	/* one word longer than 78 in the middle */
	memset(value + 500, 'Z', 700);
	pst_buf_init(&b, 0);
	assert_int_equal(filter_edit_format_field(&b, "X-Long", value), 0);
	assert_true(b.len > 4);
	assert_memory_equal(b.data + b.len - 2, "\r\n", 2);
	line = 0;
	for (p = b.data; *p != '\0'; p++) {
		if (*p == '\r') {
			assert_true(p[1] == '\n');
			/* a continuation starts with a blank */
			assert_true(p[2] == '\0' || p[2] == ' ' ||
				    p[2] == '\t');
			assert_true(line <= 998);
			p++;
			line = 0;
			continue;
		}
		line++;
	}
	/* every line but the one with the long word fits in 78 */
	{
		size_t over = 0;
		char *s = b.data;

		while ((p = strstr(s, "\r\n")) != NULL) {
			if ((size_t)(p - s) > 78)
				over++;
			s = p + 2;
		}
		assert_int_equal(over, 1);
	}
	/* unfolding gives the value back */
	{
		char *u = malloc(b.len + 1);
		size_t o = 0;

		assert_non_null(u);
		for (i = strlen("X-Long: "); i < b.len; i++) {
			if (b.data[i] == '\r' && b.data[i + 1] == '\n') {
				i++;
				continue;
			}
			u[o++] = b.data[i];
		}
		u[o] = '\0';
		assert_string_equal(u, value);
		free(u);
	}
	pst_buf_free(&b);
}

static void
test_fold_short(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(filter_edit_format_field(&b, "X", "a  b\tc"), 0);
	assert_string_equal(b.data, "X: a  b\tc\r\n");
	pst_buf_reset(&b);
	assert_int_equal(filter_edit_format_field(&b, "X", " lead"), 0);
	assert_string_equal(b.data, "X: lead\r\n");
	pst_buf_reset(&b);
	/* trailing blanks never make a line of their own */
	assert_int_equal(
		filter_edit_format_field(
			&b, "X",
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa          "),
		0);
	assert_null(strstr(b.data, "\r\n "));
	pst_buf_free(&b);
}

/* A body far larger than the copy buffer passes byte for byte. */
static void
test_big_body(void **state)
{
	static const char head[] = RECEIVED "Subject: big\r\n\r\n";
	static const char added[] = "X-Scanned: yes\r\n";
	size_t body_len = 200 * 1024 + 17, len = strlen(head) + body_len;
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct pst_spool *spool;
	const char *error;
	char *in, *got;
	size_t hl;

	(void)state;
	in = malloc(len + 1);
	assert_non_null(in);
	memcpy(in, head, strlen(head));
	for (size_t i = 0; i < body_len; i++)
		in[strlen(head) + i] = i % 78 == 76   ? '\r'
				       : i % 78 == 77 ? '\n'
						      : (char)('0' + i % 10);
	in[len] = '\0';
	assert_int_equal(ft_chain(&ft, "filter big { " NB
				       "add_header = [\"X-Scanned: yes\"]; }"),
			 0);
	ctx = ft_ctx(&ft);
	filter_ctx_txn_begin(ctx, "Q", "a@example.org");
	ft_message(ctx, in);
	ft_run(&ft, ctx, FILTER_MESSAGE, NULL, &out, NULL);
	spool = pst_spool_new(4096, "/tmp");
	assert_int_equal(filter_ctx_write_message(ctx, spool, &error), 0);
	assert_true(pst_spool_in_file(spool));
	got = ft_spool_text(spool);
	hl = strlen(head) - 2; /* before the empty line */
	assert_int_equal(strlen(got), len + strlen(added));
	assert_memory_equal(got, in, hl);
	assert_memory_equal(got + hl, added, strlen(added));
	assert_memory_equal(got + hl + strlen(added), in + hl, len - hl);
	free(got);
	free(in);
	pst_spool_free(&spool);
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

#define SINGLE_TESTS 3

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(edit_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_fold_short),
		cmocka_unit_test(test_big_body),
	};
	size_t n = 0;

	for (size_t i = 0; i < N_ELEMS(edit_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = edit_cases[i].name,
			.test_func = test_edit,
			.initial_state = (void *)&edit_cases[i],
		};
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
