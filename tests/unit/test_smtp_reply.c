/*
 * test_smtp_reply.c - formatting our replies and parsing an upstream's.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

struct fmt_case {
	const char *name;
	unsigned code;
	const char *enhanced;
	const char *text;
	const char *want;
};

static const struct fmt_case fmt_cases[] = {
	{ "greeting", 220, NULL, "mx.example.org ESMTP postern",
	  "220 mx.example.org ESMTP postern\r\n" },
	{ "single line", 250, "2.1.0", "Ok", "250 2.1.0 Ok\r\n" },
	{ "multi-line EHLO", 250, NULL, "mx.example.org\nPIPELINING\n8BITMIME",
	  "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n" },
	{ "enhanced code on every line", 550, "5.7.1", "first\nsecond",
	  "550-5.7.1 first\r\n550 5.7.1 second\r\n" },
	{ "class mismatch fixed", 550, "2.0.0", "x", "550 5.0.0 x\r\n" },
	{ "malformed enhanced fixed", 451, "4.3", "x", "451 4.0.0 x\r\n" },
	{ "leading zero enhanced fixed", 250, "2.01.0", "x",
	  "250 2.0.0 x\r\n" },
	{ "too long enhanced fixed", 550, "5.1000.1", "x", "550 5.0.0 x\r\n" },
	{ "widest enhanced kept", 550, "5.999.999", "x",
	  "550 5.999.999 x\r\n" },
	{ "3xx carries no enhanced", 354, "2.0.0",
	  "End data with <CR><LF>.<CR><LF>",
	  "354 End data with <CR><LF>.<CR><LF>\r\n" },
	{ "empty enhanced is none", 421, "", "bye", "421 bye\r\n" },
	{ "control chars replaced", 501, "5.5.2", "bad\rarg\x01\x7f",
	  "501 5.5.2 bad?arg??\r\n" },
	{ "8bit replaced", 250, NULL, "caf\xc3\xa9", "250 caf??\r\n" },
	{ "tab replaced", 250, NULL, "a\tb", "250 a?b\r\n" },
	{ "CRLF in text separates lines", 250, NULL, "a\r\nb",
	  "250-a\r\n250 b\r\n" },
	{ "trailing newline ignored", 250, NULL, "a\n", "250 a\r\n" },
	{ "empty middle line", 250, NULL, "a\n\nb",
	  "250-a\r\n250-\r\n250 b\r\n" },
	{ "empty text", 250, NULL, "", "250\r\n" },
	{ "NULL text", 250, NULL, NULL, "250\r\n" },
	{ "empty text with enhanced", 250, "2.0.0", "", "250 2.0.0\r\n" },
	{ "empty continuation with enhanced", 250, "2.0.0", "\nx",
	  "250-2.0.0\r\n250 2.0.0 x\r\n" },
	{ "injected reply stays text", 250, NULL, "ok\r\n554 fake",
	  "250-ok\r\n250 554 fake\r\n" },
};

static void
test_fmt_case(void **state)
{
	const struct fmt_case *c = *state;
	struct pst_buf out;

	pst_buf_init(&out, 0);
	assert_int_equal(smtp_reply_append(&out, c->code, c->enhanced, c->text),
			 0);
	assert_string_equal(out.data, c->want);
	pst_buf_free(&out);
}

struct parse_case {
	const char *name;
	const char *line;
	int want_rc;
	unsigned code;
	bool last;
	const char *text;
	const char *enhanced;
};

static const struct parse_case parse_cases[] = {
	{ "parse final with enhanced", "250 2.1.0 Ok", 0, 250, true, "2.1.0 Ok",
	  "2.1.0" },
	{ "parse continuation", "250-PIPELINING", 0, 250, false, "PIPELINING",
	  "" },
	{ "parse code only", "250", 0, 250, true, "", "" },
	{ "parse code and space", "250 ", 0, 250, true, "", "" },
	{ "parse greeting", "220 mx ESMTP", 0, 220, true, "mx ESMTP", "" },
	{ "parse enhanced alone", "550 5.7.1", 0, 550, true, "5.7.1", "5.7.1" },
	{ "parse enhanced glued to text", "550 5.7.1x", 0, 550, true, "5.7.1x",
	  "" },
	{ "parse enhanced leading zero", "250 2.0.00 x", 0, 250, true,
	  "2.0.00 x", "" },
	{ "parse enhanced class 3", "250 3.0.0 x", 0, 250, true, "3.0.0 x",
	  "" },
	{ "parse enhanced other class", "250 5.0.0 x", 0, 250, true, "5.0.0 x",
	  "5.0.0" },
	{ "parse multi continuation enhanced", "451-4.3.0 try later", 0, 451,
	  false, "4.3.0 try later", "4.3.0" },
	{ "parse 599", "599 x", 0, 599, true, "x", "" },
	{ "parse code 199", "199 x", -1, 0, false, NULL, NULL },
	{ "parse code 600", "600 x", -1, 0, false, NULL, NULL },
	{ "parse code 099", "099 x", -1, 0, false, NULL, NULL },
	{ "parse two digits", "25", -1, 0, false, NULL, NULL },
	{ "parse four digits", "2500 x", -1, 0, false, NULL, NULL },
	{ "parse letters", "abc", -1, 0, false, NULL, NULL },
	{ "parse bad separator", "250x", -1, 0, false, NULL, NULL },
	{ "parse empty", "", -1, 0, false, NULL, NULL },
	{ "parse digit letter", "2a0 x", -1, 0, false, NULL, NULL },
};

static void
test_parse_case(void **state)
{
	const struct parse_case *c = *state;
	struct smtp_reply_line r;
	size_t len = strlen(c->line);

	/* a copy without NUL, so reading past len would be caught */
	char *line = malloc(len ? len : 1);

	assert_non_null(line);
	memcpy(line, c->line, len);
	assert_int_equal(smtp_reply_parse_line(line, len, &r), c->want_rc);
	if (c->want_rc == 0) {
		assert_int_equal(r.code, c->code);
		assert_int_equal(r.last, c->last);
		assert_int_equal(r.text.len, strlen(c->text));
		assert_memory_equal(r.text.p, c->text, r.text.len);
		assert_int_equal(r.enhanced.len, strlen(c->enhanced));
		assert_memory_equal(r.enhanced.p, c->enhanced, r.enhanced.len);
	}
	free(line);
}

struct enh_case {
	const char *name;
	const char *s;
	bool valid;
};

static const struct enh_case enh_cases[] = {
	{ "enhanced 2.0.0", "2.0.0", true },
	{ "enhanced 5.7.1", "5.7.1", true },
	{ "enhanced 4.999.999", "4.999.999", true },
	{ "enhanced 2.10.100", "2.10.100", true },
	{ "enhanced class 3", "3.0.0", false },
	{ "enhanced two parts", "2.0", false },
	{ "enhanced empty part", "2..0", false },
	{ "enhanced subject leading zero", "2.00.0", false },
	{ "enhanced detail leading zero", "2.0.01", false },
	{ "enhanced four digits", "2.1000.0", false },
	{ "enhanced letter", "x.0.0", false },
	{ "enhanced trailing space", "2.0.0 ", false },
	{ "enhanced trailing dot", "2.0.0.", false },
	{ "enhanced empty", "", false },
};

static void
test_enh_case(void **state)
{
	const struct enh_case *c = *state;

	assert_int_equal(smtp_reply_enhanced_valid(c->s, strlen(c->s)),
			 c->valid);
}

static void
test_long_line_cut(void **state)
{
	char text[700];
	struct pst_buf out;

	(void)state;
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	pst_buf_init(&out, 0);
	assert_int_equal(smtp_reply_append(&out, 550, "5.7.1", text), 0);
	assert_int_equal(out.len, SMTP_REPLY_MAX_LINE);
	assert_memory_equal(out.data, "550 5.7.1 xxx", 13);
	assert_memory_equal(out.data + out.len - 3, "x\r\n", 3);
	pst_buf_free(&out);
}

static void
test_bad_code(void **state)
{
	struct pst_buf out;

	(void)state;
	pst_buf_init(&out, 0);
	assert_int_equal(pst_buf_append_cstr(&out, "250 ok\r\n"), 0);
	assert_int_equal(smtp_reply_append(&out, 199, NULL, "x"), -1);
	assert_int_equal(smtp_reply_append(&out, 600, NULL, "x"), -1);
	assert_int_equal(smtp_reply_append(&out, 0, NULL, "x"), -1);
	assert_string_equal(out.data, "250 ok\r\n");
	pst_buf_free(&out);
}

static void
test_limit_leaves_buffer(void **state)
{
	struct pst_buf out;

	(void)state;
	pst_buf_init(&out, 30);
	assert_int_equal(pst_buf_append_cstr(&out, "250 ok\r\n"), 0);
	/* the second line would pass the limit: nothing of it stays */
	assert_int_equal(
		smtp_reply_append(&out, 250, NULL, "first line\nsecond line"),
		-1);
	assert_string_equal(out.data, "250 ok\r\n");
	assert_int_equal(out.len, 8);
	pst_buf_free(&out);
}

static void
test_appendf(void **state)
{
	struct pst_buf out;

	(void)state;
	pst_buf_init(&out, 0);
	assert_int_equal(smtp_reply_appendf(&out, 250, "2.1.5",
					    "Ok: %u recipients for <%s>", 3u,
					    "a@example.org"),
			 0);
	assert_string_equal(out.data,
			    "250 2.1.5 Ok: 3 recipients for <a@example.org>"
			    "\r\n");
	pst_buf_free(&out);
}

static void
test_appendf_long(void **state)
{
	/* over the 2 KB stack buffer: 10 lines of 300 characters */
	char line[301];
	struct pst_buf out;

	(void)state;
	memset(line, 'y', 300);
	line[300] = '\0';
	pst_buf_init(&out, 0);
	assert_int_equal(smtp_reply_appendf(&out, 250, NULL,
					    "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n"
					    "%s\n%s",
					    line, line, line, line, line, line,
					    line, line, line, line),
			 0);
	assert_int_equal(out.len, 10 * (4 + 300 + 2));
	assert_memory_equal(out.data + 9 * 306, "250 yyy", 7);
	assert_memory_equal(out.data + 8 * 306, "250-yyy", 7);
	pst_buf_free(&out);
}

/* Every line we format parses back as what we meant. */
static void
test_roundtrip(void **state)
{
	struct pst_buf out;
	struct smtp_reply_line r;
	const char *p, *eol;
	int lines = 0;

	(void)state;
	pst_buf_init(&out, 0);
	assert_int_equal(
		smtp_reply_append(&out, 452, "4.5.3", "Too many\nrecipients"),
		0);
	for (p = out.data; (eol = strstr(p, "\r\n")) != NULL; p = eol + 2) {
		assert_int_equal(
			smtp_reply_parse_line(p, (size_t)(eol - p), &r), 0);
		assert_int_equal(r.code, 452);
		assert_int_equal(r.enhanced.len, 5);
		assert_memory_equal(r.enhanced.p, "4.5.3", 5);
		assert_int_equal(r.last, lines == 1);
		lines++;
	}
	assert_int_equal(lines, 2);
	pst_buf_free(&out);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_long_line_cut),
		cmocka_unit_test(test_bad_code),
		cmocka_unit_test(test_limit_leaves_buffer),
		cmocka_unit_test(test_appendf),
		cmocka_unit_test(test_appendf_long),
		cmocka_unit_test(test_roundtrip),
	};
	struct CMUnitTest
		tests[N(fmt_cases) + N(parse_cases) + N(enh_cases) + N(more)];
	size_t n = 0;

	/* One test per table row, so that TAP counts and names each. */
	for (size_t i = 0; i < N(fmt_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_fmt_case, (void *)&fmt_cases[i]);

		t.name = fmt_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(parse_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_parse_case, (void *)&parse_cases[i]);

		t.name = parse_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(enh_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_enh_case, (void *)&enh_cases[i]);

		t.name = enh_cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(more); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("smtp_reply", tests, n, NULL, NULL);
}
