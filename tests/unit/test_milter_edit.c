/*
 * test_milter_edit.c - unit tests for gateway/milter_edit.c: header
 * fields rebuilt from what an MTA sends, header blocks split into
 * fields, and the modifications that turn the MTA's header list into
 * the one the chain wrote - checked by applying them the way Postfix
 * and Sendmail do (insert at a position, change/delete the nth field of
 * a name) and comparing with the wanted list.
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
#include <strings.h>

#include "milter.h"
#include "spool.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAXF 64

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- rebuilding fields ---- */

struct field_case {
	const char *name;
	const char *hname, *value;
	bool leadspc;
	const char *want;
};

static const struct field_case field_cases[] = {
	{ "plain, space added", "Subject", "hi", false, "Subject: hi\r\n" },
	{ "leading space kept as sent", "Subject", " hi", true,
	  "Subject: hi\r\n" },
	{ "no space when the MTA sent none", "Subject", "hi", true,
	  "Subject:hi\r\n" },
	{ "LF folds become CRLF", "To", "a,\n\tb", false, "To: a,\r\n\tb\r\n" },
	{ "CRLF folds stay CRLF", "To", " a,\r\n b", true, "To: a,\r\n b\r\n" },
	{ "empty value", "X-Empty", "", false, "X-Empty:\r\n" },
	{ "lone CR dropped", "X", "a\rb", false, "X: ab\r\n" },
};

static void
test_field_case(void **state)
{
	const struct field_case *tc = *state;
	struct pst_buf b;

	pst_buf_init(&b, 0);
	assert_int_equal(
		milter_edit_field(&b, tc->hname, tc->value, tc->leadspc), 0);
	assert_int_equal(b.len, strlen(tc->want));
	assert_memory_equal(b.data, tc->want, b.len);
	pst_buf_free(&b);
}

/* ---- parsing ---- */

static void
test_parse(void **state)
{
	const char *block = "Received: from a\r\n\tby b\r\n"
			    "Subject: x\r\n"
			    "no colon line\r\n"
			    "X-Empty:\r\n"
			    "\r\n"
			    "Body: not a header\r\n";
	struct milter_field f[MAXF];
	size_t body, n;

	(void)state;
	n = milter_edit_parse(block, strlen(block), f, MAXF, &body);
	assert_int_equal(n, 3);
	assert_int_equal(f[0].name.len, 8);
	assert_memory_equal(f[0].raw.p, " from a\r\n\tby b", f[0].raw.len);
	assert_int_equal(f[0].raw.len, strlen(" from a\r\n\tby b"));
	/* the line without a colon stays with the field before */
	assert_int_equal(f[1].raw.len, strlen(" x\r\nno colon line"));
	assert_int_equal(f[2].raw.len, 0);
	assert_string_equal(block + body, "Body: not a header\r\n");
}

static void
test_parse_lf_and_no_body(void **state)
{
	const char *lf = "A: 1\nB: 2\n\nbody\n";
	const char *nobody = "A: 1\r\nB: 2";
	struct milter_field f[MAXF];
	size_t body, n;

	(void)state;
	n = milter_edit_parse(lf, strlen(lf), f, MAXF, &body);
	assert_int_equal(n, 2);
	assert_string_equal(lf + body, "body\n");
	n = milter_edit_parse(nobody, strlen(nobody), f, MAXF, &body);
	assert_int_equal(n, 2);
	assert_int_equal(body, strlen(nobody));
	assert_int_equal(f[1].raw.len, 2);
	/* a leading fold belongs to nothing */
	n = milter_edit_parse(" x\r\nA: 1\r\n\r\n", 13, f, MAXF, &body);
	assert_int_equal(n, 1);
	/* no fields at all */
	n = milter_edit_parse("\r\nbody", 6, f, MAXF, &body);
	assert_int_equal(n, 0);
	assert_int_equal(body, 2);
}

/* More fields than room: the rest go with the last one, nothing is
 * written past max. */
static void
test_parse_max(void **state)
{
	const char *block = "A: 1\r\nB: 2\r\nC: 3\r\n\r\n";
	struct milter_field f[3];
	size_t body;

	(void)state;
	memset(f, 0, sizeof(f));
	assert_int_equal(milter_edit_parse(block, strlen(block), f, 2, &body),
			 2);
	assert_null(f[2].name.p);
}

static void
test_value(void **state)
{
	struct pst_buf b;
	const char *raw = " a,\r\n\tb";

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(
		milter_edit_value(&b, (struct pst_str){ raw, 7 }, false), 0);
	assert_string_equal(b.data, "a,\n\tb");
	assert_int_equal(
		milter_edit_value(&b, (struct pst_str){ raw, 7 }, true), 0);
	assert_string_equal(b.data, " a,\n\tb");
	assert_int_equal(
		milter_edit_value(&b, (struct pst_str){ "", 0 }, false), 0);
	assert_string_equal(b.data, "");
	pst_buf_free(&b);
}

/* ---- the diff, checked by applying it as an MTA does ---- */

struct sim {
	char *name[MAXF * 2];
	char *raw[MAXF * 2];
	size_t n;
};

static char *
dup_str(struct pst_str s)
{
	char *p = malloc(s.len + 1);

	assert_non_null(p);
	memcpy(p, s.p, s.len);
	p[s.len] = '\0';
	return p;
}

static void
sim_apply(struct sim *s, const struct milter_op *op)
{
	char *name = dup_str(op->name);
	size_t nth = 0, pos;

	if (op->kind == MILTER_OP_INSERT) {
		assert_true(op->index <= s->n);
		/* appended: smfi_addheader, which knows no index */
		assert_int_equal(op->at_end, op->index == s->n);
		memmove(&s->name[op->index + 1], &s->name[op->index],
			(s->n - op->index) * sizeof(char *));
		memmove(&s->raw[op->index + 1], &s->raw[op->index],
			(s->n - op->index) * sizeof(char *));
		s->name[op->index] = name;
		s->raw[op->index] = dup_str(op->raw);
		s->n++;
		return;
	}
	/* the nth (from 1) field of that name, any case */
	for (pos = 0; pos < s->n; pos++)
		if (strcasecmp(s->name[pos], name) == 0 && ++nth == op->index)
			break;
	assert_true(pos < s->n);
	free(name);
	if (op->kind == MILTER_OP_CHANGE) {
		free(s->raw[pos]);
		s->raw[pos] = dup_str(op->raw);
		return;
	}
	free(s->name[pos]);
	free(s->raw[pos]);
	memmove(&s->name[pos], &s->name[pos + 1],
		(s->n - pos - 1) * sizeof(char *));
	memmove(&s->raw[pos], &s->raw[pos + 1],
		(s->n - pos - 1) * sizeof(char *));
	s->n--;
}

/* Diff in -> out, apply, compare; returns the number of ops. */
static size_t
check_diff(const char *in, const char *out)
{
	struct milter_field fin[MAXF], fout[MAXF];
	struct milter_op ops[MAXF * 2];
	struct sim s = { .n = 0 };
	size_t nin, nout, nops, body;

	nin = milter_edit_parse(in, strlen(in), fin, MAXF, &body);
	nout = milter_edit_parse(out, strlen(out), fout, MAXF, &body);
	nops = milter_edit_diff(fin, nin, fout, nout, ops);
	assert_true(nops <= nin + nout);
	for (size_t i = 0; i < nin; i++) {
		s.name[i] = dup_str(fin[i].name);
		s.raw[i] = dup_str(fin[i].raw);
	}
	s.n = nin;
	for (size_t i = 0; i < nops; i++)
		sim_apply(&s, &ops[i]);
	assert_int_equal(s.n, nout);
	for (size_t i = 0; i < nout; i++) {
		char *name = dup_str(fout[i].name), *raw = dup_str(fout[i].raw);

		assert_string_equal(s.name[i], name);
		assert_string_equal(s.raw[i], raw);
		free(name);
		free(raw);
		free(s.name[i]);
		free(s.raw[i]);
	}
	return nops;
}

struct diff_case {
	const char *name;
	const char *in, *out;
	size_t want_ops; /* the fewest a reader would expect */
};

#define RCV "Received: from a by b\r\n"
#define HDRS RCV "From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n"

static const struct diff_case diff_cases[] = {
	{ "nothing changed", HDRS "\r\n", HDRS "\r\n", 0 },
	{ "field added at the end", HDRS "\r\n", HDRS "X-Spam: yes\r\n\r\n",
	  1 },
	{ "DKIM-Signature on top", HDRS "\r\n",
	  "DKIM-Signature: v=1; a=rsa-sha256;\r\n\tb=abc\r\n" HDRS "\r\n", 1 },
	{ "Authentication-Results after the first field", HDRS "\r\n",
	  RCV "Authentication-Results: mx; spf=pass\r\nFrom: "
	      "a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n\r\n",
	  1 },
	{ "subject changed", HDRS "\r\n",
	  RCV "From: a@example.org\r\nTo: b@example.net\r\nSubject: "
	      "[SPAM] hi\r\n\r\n",
	  1 },
	{ "field deleted", HDRS "\r\n",
	  RCV "From: a@example.org\r\nSubject: hi\r\n\r\n", 1 },
	{ "second of two same-named fields deleted",
	  RCV "X-A: 1\r\nX-A: 2\r\nX-A: 3\r\n\r\n",
	  RCV "X-A: 1\r\nX-A: 3\r\n\r\n", 1 },
	{ "forged A-R removed, ours added",
	  RCV "Authentication-Results: mx; dkim=pass\r\nFrom: x@y\r\n\r\n",
	  RCV "Authentication-Results: mx; spf=fail\r\nFrom: x@y\r\n\r\n", 1 },
	{ "everything at once",
	  RCV "X-A: 1\r\nX-B: 2\r\nX-A: 3\r\nSubject: s\r\n\r\n",
	  "DKIM-Signature: x\r\n" RCV "Authentication-Results: mx; "
	  "none\r\nX-A: 1\r\nX-A: three\r\nSubject: s\r\nX-New: n\r\n\r\n",
	  6 },
	{ "all deleted", "A: 1\r\nB: 2\r\n\r\n", "\r\n", 2 },
	{ "from nothing", "\r\n", "A: 1\r\nB: 2\r\n\r\n", 2 },
	{ "case of a name changed: insert and delete", "subject: x\r\n\r\n",
	  "Subject: x\r\n\r\n", 2 },
	{ "folding changed", "To: a, b\r\n\r\n", "To: a,\r\n b\r\n\r\n", 1 },
	{ "duplicate of a later field inserted", "A: 1\r\nB: 2\r\nC: 3\r\n\r\n",
	  "C: 3\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 0 /* any */ },
};

static void
test_diff_case(void **state)
{
	const struct diff_case *tc = *state;
	size_t nops = check_diff(tc->in, tc->out);

	if (tc->want_ops > 0 || strcmp(tc->in, tc->out) == 0)
		assert_int_equal(nops, tc->want_ops);
}

/* Random edits of a random list: whatever the diff says, applying it
 * gives the list wanted. */
static void
test_diff_random(void **state)
{
	static const char *names[] = { "A", "B", "c", "C", "Received" };
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		char in[4096] = "", out[4096] = "";
		int nin, nout;

		seed = seed * 1103515245u + 12345u;
		nin = (int)((seed >> 16) % 12);
		for (int i = 0; i < nin; i++) {
			seed = seed * 1103515245u + 12345u;
			snprintf(in + strlen(in), sizeof(in) - strlen(in),
				 "%s: %u\r\n", names[(seed >> 16) % N(names)],
				 (seed >> 8) % 3);
		}
		seed = seed * 1103515245u + 12345u;
		nout = (int)((seed >> 16) % 12);
		for (int i = 0; i < nout; i++) {
			seed = seed * 1103515245u + 12345u;
			snprintf(out + strlen(out), sizeof(out) - strlen(out),
				 "%s: %u\r\n", names[(seed >> 16) % N(names)],
				 (seed >> 8) % 3);
		}
		strcat(in, "\r\n");
		strcat(out, "\r\n");
		check_diff(in, out);
	}
}

/* ---- spools ---- */

static struct pst_spool *
spool_of(const char *s)
{
	struct pst_spool *sp = pst_spool_new(16, "/tmp");
	const char *error;

	assert_non_null(sp);
	assert_int_equal(pst_spool_write(sp, s, strlen(s), &error), 0);
	assert_int_equal(pst_spool_flush(sp, &error), 0);
	return sp;
}

static void
test_read_head(void **state)
{
	char big[20000];
	struct pst_spool *sp;
	struct pst_buf b;
	const char *error;

	(void)state;
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "A: 1\r\n\r\n", 8);
	sp = spool_of(big);
	pst_buf_init(&b, 0);
	assert_int_equal(milter_edit_read_head(sp, 1 << 20, &b, &error), 0);
	/* stops in the chunk that has the empty line */
	assert_true(b.len >= 8 && b.len <= 8192);
	assert_memory_equal(b.data, "A: 1\r\n\r\n", 8);
	/* a limit smaller than the message */
	assert_int_equal(milter_edit_read_head(sp, 100, &b, &error), 0);
	assert_int_equal(b.len, 100);
	pst_buf_free(&b);
	pst_spool_free(&sp);
}

static void
test_body_differs(void **state)
{
	struct pst_spool *a = spool_of("H: 1\r\n\r\nbody\r\n");
	struct pst_spool *b = spool_of("H: 1\r\nX: 2\r\n\r\nbody\r\n");
	struct pst_spool *c = spool_of("H: 1\r\n\r\nbodY\r\n");

	(void)state;
	assert_int_equal(milter_edit_body_differs(a, 8, b, 14), 0);
	assert_int_equal(milter_edit_body_differs(a, 8, c, 8), 1);
	assert_int_equal(milter_edit_body_differs(a, 8, c, 9), 1);
	assert_int_equal(milter_edit_body_differs(a, 99, c, 8), -1);
	pst_spool_free(&a);
	pst_spool_free(&b);
	pst_spool_free(&c);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_lf_and_no_body),
		cmocka_unit_test(test_parse_max),
		cmocka_unit_test(test_value),
		cmocka_unit_test(test_diff_random),
		cmocka_unit_test(test_read_head),
		cmocka_unit_test(test_body_differs),
	};
	struct CMUnitTest tests[N(field_cases) + N(diff_cases) + N(more)];
	size_t n = 0;

	for (size_t i = 0; i < N(field_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_field_case, (void *)&field_cases[i]);

		t.name = field_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(diff_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_diff_case, (void *)&diff_cases[i]);

		t.name = diff_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(more); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("milter_edit", tests, n, NULL, NULL);
}
