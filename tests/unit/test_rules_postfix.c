/*
 * test_rules_postfix.c - unit tests for `postern rules import-postfix`
 * (rules/rules_postfix.c): the rule written for each kind of table entry,
 * the comment for each entry that cannot be converted, and - what a
 * migrating site cares about - that the converted rules act on sample
 * header lines and bodies the way Postfix's table would: first match per
 * line, DUNNO exceptions, if/endif, negated patterns, case rules.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "rules.h"
#include "rules_postfix.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* The output after the explanatory header (up to the first blank line). */
static const char *
convert(struct pst_buf *out, const char *table, bool body, bool posix,
	struct rules_postfix_stats *st)
{
	struct rules_postfix_opts o = { body, posix };
	const char *p;

	pst_buf_init(out, 0);
	assert_int_equal(rules_postfix_import("header_checks", table,
					      strlen(table), &o, out, st),
			 0);
	p = strstr(out->data, "\n\n");
	assert_non_null(p);
	return p + 2;
}

struct entry_case {
	const char *name;
	const char *table;
	bool body, posix;
	const char *want;
};

static const struct entry_case entry_cases[] = {
	{ "REJECT with text", "/^Subject:.*viagra/ REJECT No spam\n", false,
	  false,
	  "# header_checks:1: /^Subject:.*viagra/ REJECT No spam\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /^Subject:.*viagra/i\n"
	  "\treject 550 5.7.1 \"No spam\"\n"
	  "}\n\n" },
	{ "REJECT with a status code and the i flag",
	  "/^X-Foo: (bar)/i REJECT 5.7.0 Bad {thing} $1 here\n", false, false,
	  "# header_checks:1: /^X-Foo: (bar)/i REJECT 5.7.0 Bad {thing} $1 "
	  "here\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /^X-Foo: (bar)/\n"
	  "\treject 550 5.7.0 \"Bad {{thing}} here\"\n"
	  "\t# note: $N substitutions of the table were left out of the "
	  "text\n"
	  "}\n\n" },
	{ "REJECT with something that is not a status code (fuzzer)",
	  "/^X-A:/ REJECT 5.7.A0 Lottery\n", false, false,
	  "# header_checks:1: /^X-A:/ REJECT 5.7.A0 Lottery\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /^X-A:/i\n"
	  "\treject 550 5.7.1 \"5.7.A0 Lottery\"\n"
	  "}\n\n" },
	{ "REJECT without text", "/^X-A:/ REJECT\n", false, false,
	  "# header_checks:1: /^X-A:/ REJECT\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /^X-A:/i\n"
	  "\treject 550 5.7.1 \"Message content rejected\"\n"
	  "}\n\n" },
	{ "DEFER and 4NN", "/^X-A:/ DEFER\n/^X-B:/ 421 4.3.0 later\n", false,
	  false,
	  "# header_checks:1: /^X-A:/ DEFER\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /^X-A:/i\n"
	  "\ttempfail 450 4.7.1 \"Try again later\"\n"
	  "}\n\n"
	  "# header_checks:2: /^X-B:/ 421 4.3.0 later\n"
	  "rule header_checks_2 {\n"
	  "\twhen any rawheaders matches /^X-B:/i\n"
	  "\ttempfail 421 4.3.0 \"later\"\n"
	  "}\n\n" },
	{ "DISCARD, HOLD, WARN",
	  "/a/ DISCARD gone\n/b/ HOLD\n/c/ WARN \"quoted\" \\ text\n", false,
	  false,
	  "# header_checks:1: /a/ DISCARD gone\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /a/i\n"
	  "\tlog \"gone\"\n"
	  "\tdiscard\n"
	  "}\n\n"
	  "# header_checks:2: /b/ HOLD\n"
	  "rule header_checks_2 {\n"
	  "\twhen any rawheaders matches /b/i\n"
	  "\tquarantine \"held by header_checks\"\n"
	  "}\n\n"
	  "# header_checks:3: /c/ WARN \"quoted\" \\ text\n"
	  "rule header_checks_3 {\n"
	  "\twhen any rawheaders matches /c/i\n"
	  "\tlog \"\\\"quoted\\\" \\\\ text\"\n"
	  "}\n\n" },
	{ "IGNORE and PREPEND",
	  "/^X-Spam-Flag:/ IGNORE\n/^X-Mailer: Bulk/ PREPEND X-Bulk: yes\n",
	  false, false,
	  "# header_checks:1: /^X-Spam-Flag:/ IGNORE\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /^X-Spam-Flag:/i\n"
	  "\tremove-header \"X-Spam-Flag\"\n"
	  "}\n\n"
	  "# header_checks:2: /^X-Mailer: Bulk/ PREPEND X-Bulk: yes\n"
	  "rule header_checks_2 {\n"
	  "\twhen any rawheaders matches "
	  "/\\A(?!(?=[\\s\\S]*?(?i:^X-Spam-Flag:)))[\\s\\S]*?(?i:^X-Mailer: "
	  "Bulk)/\n"
	  "\tadd-header \"X-Bulk\" \"yes\"\n"
	  "}\n\n" },
	{ "what cannot be converted",
	  "/^To:/ REDIRECT a@b\n/x/ FILTER smtp:[1.2.3.4]\n/y/ REPLACE Z: "
	  "1\n/^(/ REJECT\n/unterminated\nno-delimiter OK\n/z/ IGNORE\n/p/ "
	  "PREPEND no colon\n",
	  false, false,
	  "# header_checks:1: not converted: REDIRECT has no equivalent "
	  "(postern relays by route, not by content)\n"
	  "#   /^To:/ REDIRECT a@b\n\n"
	  "# header_checks:2: not converted: FILTER has no equivalent "
	  "(postern relays by route, not by content)\n"
	  "#   /x/ FILTER smtp:[1.2.3.4]\n\n"
	  "# header_checks:3: not converted: REPLACE has no equivalent in "
	  "postern rules\n"
	  "#   /y/ REPLACE Z: 1\n\n"
	  "# header_checks:4: not converted: not a valid PCRE pattern "
	  "(missing closing parenthesis)\n"
	  "#   /^(/ REJECT\n\n"
	  "# header_checks:5: not converted: the pattern does not end\n"
	  "#   /unterminated\n\n"
	  "# header_checks:6: not converted: the pattern has no delimiter "
	  "(like /.../)\n"
	  "#   no-delimiter OK\n\n"
	  "# header_checks:7: not converted: IGNORE needs a pattern that "
	  "starts with ^Name: to know which header to remove\n"
	  "#   /z/ IGNORE\n\n"
	  "# header_checks:8: not converted: PREPEND needs \"Name: value\"\n"
	  "#   /p/ PREPEND no colon\n\n" },
	{ "a header name add-header refuses (fuzzer)",
	  "/^X:/ PREPEND X-0123456789012345678901234567890123456789012345678"
	  "9012345678901234567890123456789: y\n",
	  false, false,
	  "# header_checks:1: not converted: bad header name "
	  "'X-01234567890123456789012345678901234567...'\n"
	  "#   /^X:/ PREPEND X-01234567890123456789012345678901234567890123456"
	  "789012345678901234567890123456789: y\n\n" },
	{ "other delimiters and slashes", "|^X-Path: /usr/bin|  WARN path\n",
	  false, false,
	  "# header_checks:1: |^X-Path: /usr/bin|  WARN path\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /^X-Path: \\/usr\\/bin/i\n"
	  "\tlog \"path\"\n"
	  "}\n\n" },
	{ "regexp: word boundaries", "/\\<cialis\\>/ REJECT\n", false, true,
	  "# header_checks:1: /\\<cialis\\>/ REJECT\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /\\bcialis\\b/i\n"
	  "\treject 550 5.7.1 \"Message content rejected\"\n"
	  "}\n\n" },
	{ "regexp: x has no equivalent", "/a b/x REJECT\n", false, true,
	  "# header_checks:1: not converted: flag 'x' (basic regular "
	  "expressions) has no PCRE equivalent\n"
	  "#   /a b/x REJECT\n\n" },
	{ "pcre flags", "/a.b/sxU REJECT\n/^c/A WARN\n", false, false,
	  "# header_checks:1: /a.b/sxU REJECT\n"
	  "rule header_checks_1 {\n"
	  "\twhen any rawheaders matches /\\A[\\s\\S]*?(?isxU:a.b)/\n"
	  "\treject 550 5.7.1 \"Message content rejected\"\n"
	  "}\n\n"
	  "# header_checks:2: /^c/A WARN\n"
	  "rule header_checks_2 {\n"
	  "\twhen any rawheaders matches /\\A(?i:^c)/\n"
	  "\tlog \"header_checks warning\"\n"
	  "}\n\n" },
	{ "continuation lines and comments",
	  "# comment\n\n/^Subject:/\n  REJECT\n   spam\n", false, false,
	  "# header_checks:3: /^Subject:/ REJECT spam\n"
	  "rule header_checks_3 {\n"
	  "\twhen any rawheaders matches /^Subject:/i\n"
	  "\treject 550 5.7.1 \"spam\"\n"
	  "}\n\n" },
	{ "body entry", "/^begin 644 .*\\.exe/ REJECT uuencoded\n", true, false,
	  "# header_checks:1: /^begin 644 .*\\.exe/ REJECT uuencoded\n"
	  "rule header_checks_1 {\n"
	  "\twhen rawbody matches /^begin 644 .*\\.exe/im\n"
	  "\treject 550 5.7.1 \"uuencoded\"\n"
	  "}\n\n" },
	{ "unbalanced if and endif", "endif\nif /^X:/\n/a/ REJECT\n", false,
	  false,
	  "# header_checks:1: not converted: endif without if\n"
	  "#   endif\n\n"
	  "# header_checks:3: /a/ REJECT\n"
	  "rule header_checks_3 {\n"
	  "\twhen any rawheaders matches "
	  "/\\A(?=[\\s\\S]*?(?i:^X:))[\\s\\S]*?(?i:a)/\n"
	  "\treject 550 5.7.1 \"Message content rejected\"\n"
	  "}\n\n"
	  "# header_checks: 1 if block without endif at the end of the "
	  "table\n" },
};

static void
test_entry(void **state)
{
	const struct entry_case *c = *state;
	struct rules_postfix_stats st;
	struct pst_buf out;

	assert_string_equal(convert(&out, c->table, c->body, c->posix, &st),
			    c->want);
	pst_buf_free(&out);
}

/* ---- the converted table acts like the table ---- */

static const char table[] =
	"# a site's header_checks\n"
	"/^Subject:.*important/      DUNNO\n"
	"/^Subject:.*viagra/         REJECT no viagra\n"
	"/^X-Mailer:.*bulk/i         WARN bulk mailer\n"
	"/^X-Mailer:/                REJECT unknown mailer\n"
	"if /^Received:/\n"
	"/from .*\\.bad\\.example/   HOLD bad relay\n"
	"if !/by mx\\.example\\.org/\n"
	"/unknown/                   DISCARD\n"
	"endif\n"
	"endif\n"
	"/^X-Case: Exact/i           REJECT exact case\n";

struct act_case {
	const char *name;
	const char *lines[4]; /* the message's header lines */
	const char *want;     /* terminal action and rule, or "-" */
	const char *logs;     /* log lines, "|"-joined */
};

static const struct act_case act_cases[] = {
	{ "a plain match",
	  { "Subject: cheap viagra" },
	  "reject header_checks_3",
	  "" },
	{ "case-insensitive by default",
	  { "SUBJECT: cheap VIAGRA" },
	  "reject header_checks_3",
	  "" },
	{ "DUNNO excepts its line",
	  { "Subject: important viagra news" },
	  "-",
	  "" },
	{ "DUNNO excepts only its line",
	  { "Subject: important", "Subject: viagra" },
	  "reject header_checks_3",
	  "" },
	{ "WARN ends the lookup for its line",
	  { "X-Mailer: bulkmail 1.0" },
	  "-",
	  "bulk mailer" },
	{ "i toggles to case-sensitive",
	  { "X-Mailer: BulkMail 1.0" },
	  "reject header_checks_5",
	  "" },
	{ "the next entry still sees other lines",
	  { "X-Mailer: bulkmail 1.0", "X-Mailer: Other" },
	  "reject header_checks_5",
	  "bulk mailer" },
	{ "if block applies to its lines",
	  { "Received: from x.bad.example by mx" },
	  "quarantine header_checks_7",
	  "" },
	{ "if block: another header does not count",
	  { "Received: from a.good", "X-Note: from y.bad.example" },
	  "-",
	  "" },
	{ "nested negated if",
	  { "Received: from unknown by relay.other" },
	  "discard header_checks_9",
	  "" },
	{ "nested negated if excludes",
	  { "Received: from unknown by mx.example.org" },
	  "-",
	  "" },
	{ "the i flag makes it case-sensitive", { "X-Case: exact" }, "-", "" },
	{ "the i flag, exact case",
	  { "X-Case: Exact" },
	  "reject header_checks_12",
	  "" },
};

static int
lines_get(void *ctx, enum rules_var var, const char *arg, struct pst_arena *a,
	  struct rules_value *out)
{
	const struct act_case *c = ctx;
	struct pst_str *v = pst_arena_calloc(a, 4, sizeof(*v));
	size_t n = 0;

	(void)arg;
	if (var != RULES_VAR_RAWHEADERS)
		return 0;
	while (n < 4 && c->lines[n] != NULL) {
		v[n] = pst_str_from_cstr(c->lines[n]);
		n++;
	}
	rules_value_strs(out, v, n);
	return 0;
}

static void
test_acts(void **state)
{
	const struct act_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_postfix_stats st;
	struct rules_postfix_opts o = { false, false };
	struct rules_report rep;
	struct rules_set *set;
	struct rules_env env = { (void *)c, lines_get };
	struct rules_outcome out;
	struct pst_buf text, b;

	pst_buf_init(&text, 0);
	assert_int_equal(rules_postfix_import("header_checks", table,
					      strlen(table), &o, &text, &st),
			 0);
	assert_int_equal(st.entries, 7);   /* if and endif do not count */
	assert_int_equal(st.converted, 6); /* nor does DUNNO */
	assert_int_equal(st.skipped, 0);
	if (rules_load_string("converted.rules", text.data, text.len, NULL,
			      arena, &set, &rep) < 0)
		fail_msg("the converted rules do not compile:\n%s\n%s",
			 rep.text, text.data);
	assert_string_equal(rep.text, "");
	assert_int_equal(
		rules_eval(set, RULES_STAGE_MESSAGE, &env, arena, 0, &out), 0);
	pst_buf_init(&b, 0);
	if (out.terminal != NULL)
		pst_buf_printf(&b, "%s %s",
			       rules_action_name(out.terminal->kind),
			       out.terminal->rule);
	else
		pst_buf_append_cstr(&b, "-");
	assert_string_equal(b.data, c->want);
	pst_buf_reset(&b);
	pst_buf_append_cstr(&b, "");
	for (size_t i = 0; i < out.nactions; i++) {
		if (out.actions[i].kind == RULES_ACT_LOG)
			pst_buf_printf(&b, "%s%s", b.len ? "|" : "",
				       out.actions[i].text);
	}
	assert_string_equal(b.data, c->logs);
	pst_buf_free(&b);
	pst_buf_free(&text);
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

static const char *body_line;

static int
body_get(void *ctx, enum rules_var var, const char *arg, struct pst_arena *a,
	 struct rules_value *out)
{
	(void)ctx;
	(void)arg;
	(void)a;
	if (var == RULES_VAR_RAWBODY)
		rules_value_cstr(out, body_line);
	return 0;
}

static void
test_body_lines(void **state)
{
	static const char body_table[] = "if !/^>/\n"
					 "/^begin [0-7]+ .*\\.exe/ REJECT uu\n"
					 "endif\n";
	static const struct {
		const char *body;
		bool rejected;
	} cases[] = {
		{ "hello\r\nbegin 644 a.exe\r\nM...\r\n", true },
		{ "hello\r\n> begin 644 a.exe\r\n", false },
		{ "hello begin 644 a.exe\r\n",
		  false }, /* not at a line start */
		{ "x\r\nbegin 644 a.txt\r\n.exe\r\n",
		  false }, /* not one line */
	};
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_postfix_stats st;
	struct rules_postfix_opts o = { true, false };
	struct rules_report rep;
	struct rules_set *set;
	struct rules_env env = { NULL, body_get };
	struct pst_buf text;

	(void)state;
	pst_buf_init(&text, 0);
	assert_int_equal(rules_postfix_import("body_checks", body_table,
					      strlen(body_table), &o, &text,
					      &st),
			 0);
	assert_int_equal(rules_load_string("b.rules", text.data, text.len, NULL,
					   arena, &set, &rep),
			 0);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct rules_outcome out;

		body_line = cases[i].body;
		assert_int_equal(rules_eval(set, RULES_STAGE_MESSAGE, &env,
					    arena, 0, &out),
				 0);
		assert_int_equal(out.terminal != NULL, cases[i].rejected);
	}
	pst_buf_free(&text);
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

static void
test_stats_and_garbage(void **state)
{
	struct pst_buf out;
	struct rules_postfix_stats st;
	struct rules_postfix_opts o = { false, false };
	char junk[2048];

	(void)state;
	convert(&out, "/a/ REJECT\n/b/ REDIRECT x@y\nif /c/\nendif\nendif\n",
		false, false, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.converted, 1);
	assert_int_equal(st.skipped, 1);
	pst_buf_free(&out);
	/* any bytes: comments and rules, never a crash */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 31 + 7);
	pst_buf_init(&out, 0);
	assert_int_equal(
		rules_postfix_import("junk", junk, sizeof(junk), &o, &out, &st),
		0);
	pst_buf_free(&out);
}

#define SINGLE_TESTS 2

int
main(void)
{
	static struct CMUnitTest
		tests[N_ELEMS(entry_cases) + N_ELEMS(act_cases) + SINGLE_TESTS];
	size_t n = 0;

	for (size_t i = 0; i < N_ELEMS(entry_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = entry_cases[i].name,
			.test_func = test_entry,
			.initial_state = (void *)&entry_cases[i],
		};
	for (size_t i = 0; i < N_ELEMS(act_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = act_cases[i].name,
			.test_func = test_acts,
			.initial_state = (void *)&act_cases[i],
		};
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_body_lines);
	tests[n++] =
		(struct CMUnitTest)cmocka_unit_test(test_stats_and_garbage);
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
