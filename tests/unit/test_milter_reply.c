/*
 * test_milter_reply.c - unit tests for gateway/milter_reply.c: every
 * chain verdict at every stage mapped to libmilter's SMFIS_* answer, and
 * the reply text made safe for smfi_setreply/smfi_setmlreply (codes and
 * enhanced codes of the right class, '%' doubled, control and 8-bit
 * bytes replaced, long text wrapped into at most 32 lines).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <libmilter/mfapi.h>

#include "milter.h"
#include "postern/filter.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct verdict_case {
	const char *name;
	enum filter_stage stage;
	int verdict;
	unsigned code;
	const char *enhanced, *text;
	int want;
	const char *want_code, *want_enh, *want_line0;
};

static const struct verdict_case verdict_cases[] = {
	{ "continue at connect", FILTER_CONNECT, PF_CONTINUE, 0, "", "",
	  SMFIS_CONTINUE },
	{ "accept at helo continues (chain remembers)", FILTER_HELO, PF_ACCEPT,
	  0, "", "", SMFIS_CONTINUE },
	{ "reject at rcpt with the filter's reply", FILTER_RCPT, PF_REJECT, 550,
	  "5.1.1", "No such user", SMFIS_REJECT, "550", "5.1.1",
	  "No such user" },
	{ "reject 554 at connect", FILTER_CONNECT, PF_REJECT, 554, "5.7.1",
	  "Go away", SMFIS_REJECT, "554", "5.7.1", "Go away" },
	{ "tempfail at mail", FILTER_MAIL, PF_TEMPFAIL, 451, "4.7.1",
	  "Greylisted", SMFIS_TEMPFAIL, "451", "4.7.1", "Greylisted" },
	{ "tempfail at message, 421", FILTER_MESSAGE, PF_TEMPFAIL, 421, "4.3.0",
	  "Busy", SMFIS_TEMPFAIL, "421", "4.3.0", "Busy" },
	{ "reject with a 4xx code gets 550", FILTER_MESSAGE, PF_REJECT, 451,
	  "4.7.1", "wrong class", SMFIS_REJECT, "550", "", "wrong class" },
	{ "tempfail with a 5xx code gets 451", FILTER_RCPT, PF_TEMPFAIL, 550,
	  "5.7.1", "wrong class", SMFIS_TEMPFAIL, "451", "", "wrong class" },
	{ "enhanced of the wrong class dropped", FILTER_MESSAGE, PF_REJECT, 550,
	  "4.7.1", "x", SMFIS_REJECT, "550", "", "x" },
	{ "malformed enhanced dropped", FILTER_MESSAGE, PF_REJECT, 550, "5.7",
	  "x", SMFIS_REJECT, "550", "", "x" },
	{ "enhanced with letters dropped", FILTER_MESSAGE, PF_REJECT, 550,
	  "5.a.1", "x", SMFIS_REJECT, "550", "", "x" },
	{ "empty text gets the default", FILTER_MESSAGE, PF_REJECT, 550,
	  "5.7.1", "", SMFIS_REJECT, "550", "5.7.1", "Message rejected" },
	{ "discard at message", FILTER_MESSAGE, PF_DISCARD, 0, "", "",
	  SMFIS_DISCARD },
	{ "discard at rcpt waits for the end", FILTER_RCPT, PF_DISCARD, 0, "",
	  "", SMFIS_CONTINUE },
	{ "discard at connect waits for the end", FILTER_CONNECT, PF_DISCARD, 0,
	  "", "", SMFIS_CONTINUE },
	{ "quarantine continues (smfi_quarantine at eom)", FILTER_MESSAGE,
	  PF_QUARANTINE, 0, "", "", SMFIS_CONTINUE },
	{ "error never passes: tempfail", FILTER_MESSAGE, PF_ERROR, 0, "", "",
	  SMFIS_TEMPFAIL, "451", "", "Try again later" },
	{ "unknown verdict fails safe", FILTER_MAIL, 99, 0, "", "",
	  SMFIS_TEMPFAIL, "451", "4.3.0", "Error: filters unavailable" },
};

static void
test_verdict_case(void **state)
{
	const struct verdict_case *tc = *state;
	struct filter_outcome out;
	static struct milter_reply reply;
	int v;

	memset(&out, 0, sizeof(out));
	out.verdict = tc->verdict;
	out.code = tc->code;
	snprintf(out.enhanced, sizeof(out.enhanced), "%s", tc->enhanced);
	snprintf(out.text, sizeof(out.text), "%s", tc->text);
	v = milter_verdict(tc->stage, &out, &reply);
	assert_int_equal(v, tc->want);
	if (tc->want_code == NULL) {
		assert_int_equal(reply.nlines, 0);
		return;
	}
	assert_int_equal(reply.nlines, 1);
	assert_string_equal(reply.code, tc->want_code);
	assert_string_equal(reply.enhanced, tc->want_enh);
	assert_string_equal(reply.lines[0], tc->want_line0);
}

struct text_case {
	const char *name;
	const char *text;
	size_t want_lines;
	const char *want_first, *want_last;
};

static const struct text_case text_cases[] = {
	{ "percent doubled (libmilter formats it)", "100% spam", 1,
	  "100%% spam", "100%% spam" },
	{ "CR and LF replaced", "a\r\nb", 1, "a??b", "a??b" },
	{ "8-bit bytes replaced", "caf\xc3\xa9", 1, "caf??", "caf??" },
	{ "tab and control replaced",
	  "a\x01"
	  "b",
	  1, "a?b", "a?b" },
	{ "leading and trailing blanks trimmed", "  hi  ", 1, "hi", "hi" },
};

static void
test_text_case(void **state)
{
	const struct text_case *tc = *state;
	static struct milter_reply r;

	milter_reply_set(&r, true, 550, "5.7.1", tc->text);
	assert_int_equal(r.nlines, tc->want_lines);
	assert_string_equal(r.lines[0], tc->want_first);
	assert_string_equal(r.lines[r.nlines - 1], tc->want_last);
}

/* Long text wraps at blanks into lines of at most the width, and nothing
 * is lost but the blanks where it broke. */
static void
test_wrap(void **state)
{
	static struct milter_reply r;
	char text[1200], joined[1400] = "";

	(void)state;
	text[0] = '\0';
	for (int i = 0; i < 100; i++) {
		char w[16];

		snprintf(w, sizeof(w), "%sword%02d", i ? " " : "", i);
		strcat(text, w);
	}
	milter_reply_set(&r, false, 451, "4.7.1", text);
	assert_true(r.nlines > 1);
	for (size_t i = 0; i < r.nlines; i++) {
		assert_true(strlen(r.lines[i]) <= MILTER_REPLY_WIDTH);
		assert_true(r.lines[i][0] != ' ');
		if (i)
			strcat(joined, " ");
		strcat(joined, r.lines[i]);
	}
	assert_string_equal(joined, text);
}

/* A word longer than a line is cut, not dropped; the line count is
 * capped at libmilter's 32. */
static void
test_wrap_limits(void **state)
{
	static struct milter_reply r;
	static char text[40000];

	(void)state;
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	milter_reply_set(&r, true, 554, "5.6.0", text);
	assert_int_equal(r.nlines, MILTER_REPLY_LINES);
	assert_int_equal(strlen(r.lines[0]), MILTER_REPLY_WIDTH);
	assert_string_equal(r.code, "554");
	assert_string_equal(r.enhanced, "5.6.0");
}

/* Percent signs doubled never overflow a line. */
static void
test_percent_width(void **state)
{
	static struct milter_reply r;
	char text[600];

	(void)state;
	memset(text, '%', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	milter_reply_set(&r, true, 550, NULL, text);
	assert_int_equal(strlen(r.lines[0]), 2 * MILTER_REPLY_WIDTH);
	assert_string_equal(r.enhanced, "");
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_wrap_limits),
		cmocka_unit_test(test_percent_width),
	};
	struct CMUnitTest tests[N(verdict_cases) + N(text_cases) + N(more)];
	size_t n = 0;

	for (size_t i = 0; i < N(verdict_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_verdict_case, (void *)&verdict_cases[i]);

		t.name = verdict_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(text_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_text_case, (void *)&text_cases[i]);

		t.name = text_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(more); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("milter_reply", tests, n, NULL, NULL);
}
