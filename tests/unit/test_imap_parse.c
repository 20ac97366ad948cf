/*
 * test_imap_parse.c - the IMAP pre-login grammar: literal markers, whole
 * commands with atoms, quoted strings, literals and lists, and the
 * malformed input a hostile client sends.
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

#include "imap_parse.h"

struct literal_case {
	const char *line;
	int rc;
	uint64_t size;
	bool nonsync;
};

static const struct literal_case literal_cases[] = {
	{ "a LOGIN {5}", 1, 5, false },
	{ "a LOGIN {5+}", 1, 5, true },
	{ "a LOGIN alice {0}", 1, 0, false },
	{ "a LOGIN {4294967295}", 1, 4294967295u, false },
	{ "a LOGIN {4294967296}", -1, 0, false },
	{ "a LOGIN {99999999999}", -1, 0, false },
	{ "a LOGIN {}", -1, 0, false },
	{ "a LOGIN {+}", -1, 0, false },
	{ "a LOGIN x}", 0, 0, false },
	{ "a LOGIN {x}", 0, 0, false },
	{ "a NOOP", 0, 0, false },
	{ "}", 0, 0, false },
	{ "", 0, 0, false },
};

static void
test_literal_markers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(literal_cases) / sizeof(*literal_cases);
	     i++) {
		const struct literal_case *c = &literal_cases[i];
		uint64_t size = 0;
		bool nonsync = false;
		int rc = imap_parse_literal(c->line, strlen(c->line), &size,
					    &nonsync);

		if (rc != c->rc)
			fail_msg("%s: rc %d, want %d", c->line, rc, c->rc);
		if (rc == 1 && (size != c->size || nonsync != c->nonsync))
			fail_msg("%s: size %llu nonsync %d", c->line,
				 (unsigned long long)size, nonsync);
	}
}

struct cmd_case {
	const char *name;
	const char *buf;
	size_t len;	 /* 0: strlen */
	const char *err; /* NULL: parses */
	const char *tag;
	const char *cmd;
	unsigned nargs;
	const char *args[4]; /* first args, as strings */
};

static const struct cmd_case cmd_cases[] = {
	{ "noop", "a1 NOOP", 0, NULL, "a1", "NOOP", 0, { NULL } },
	{ "login atoms",
	  "a LOGIN alice secret",
	  0,
	  NULL,
	  "a",
	  "LOGIN",
	  2,
	  { "alice", "secret" } },
	{ "login quoted with escapes",
	  "a LOGIN \"al ice\" \"p\\\"w\\\\\"",
	  0,
	  NULL,
	  "a",
	  "LOGIN",
	  2,
	  { "al ice", "p\"w\\" } },
	{ "login literals",
	  "a LOGIN {5}\r\nalice {3+}\r\na b",
	  0,
	  NULL,
	  "a",
	  "LOGIN",
	  2,
	  { "alice", "a b" } },
	{ "literal holding CRLF and a command",
	  "a LOGIN {13}\r\nx\r\nb LOGOUT\r\n pw",
	  0,
	  NULL,
	  "a",
	  "LOGIN",
	  2,
	  { "x\r\nb LOGOUT\r\n", "pw" } },
	{ "empty literal",
	  "a LOGIN {0}\r\n pw",
	  0,
	  NULL,
	  "a",
	  "LOGIN",
	  2,
	  { "", "pw" } },
	{ "utf8 in quoted",
	  "a LOGIN \"j\xc3\xb6rg\" x",
	  0,
	  NULL,
	  "a",
	  "LOGIN",
	  2,
	  { "j\xc3\xb6rg", "x" } },
	{ "id list",
	  "t ID (\"name\" \"x\" \"version\" NIL)",
	  0,
	  NULL,
	  "t",
	  "ID",
	  6,
	  { "(", "name", "x", "version" } },
	{ "empty list", "t ID ()", 0, NULL, "t", "ID", 2, { "(", ")" } },
	{ "tag with ]", "a]1 NOOP", 0, NULL, "a]1", "NOOP", 0, { NULL } },
	{ "sasl-ir",
	  "a AUTHENTICATE PLAIN AGFsaWNlAHB3",
	  0,
	  NULL,
	  "a",
	  "AUTHENTICATE",
	  2,
	  { "PLAIN", "AGFsaWNlAHB3" } },
	/* malformed */
	{ "empty", "", 0, "Invalid tag", NULL, NULL, 0, { NULL } },
	{ "tag only", "a", 0, "Missing command", "a", NULL, 0, { NULL } },
	{ "tag and space", "a ", 0, "Missing command", "a", NULL, 0, { NULL } },
	{ "plus tag", "+ NOOP", 0, "Invalid tag", NULL, NULL, 0, { NULL } },
	{ "star tag", "* NOOP", 0, "Invalid tag", NULL, NULL, 0, { NULL } },
	{ "quote in tag",
	  "a\"b NOOP",
	  0,
	  "Invalid tag",
	  NULL,
	  NULL,
	  0,
	  { NULL } },
	{ "double space",
	  "a  NOOP",
	  0,
	  "Invalid command",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "trailing space",
	  "a NOOP ",
	  0,
	  "Invalid spacing between arguments",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "double space args",
	  "a LOGIN x  y",
	  0,
	  "Invalid spacing between arguments",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "unterminated quote",
	  "a LOGIN \"abc",
	  0,
	  "Unterminated quoted string",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "bad escape",
	  "a LOGIN \"a\\b\"",
	  0,
	  "Invalid escape in quoted string",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "CR in quoted",
	  "a LOGIN \"a\rb\"",
	  0,
	  "Invalid characters in quoted string",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "NUL in quoted",
	  "a LOGIN \"a\0b\"",
	  12,
	  "Invalid characters in quoted string",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "NUL in literal",
	  "a LOGIN {3}\r\na\0b x",
	  19,
	  "NUL in literal",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "literal truncated",
	  "a LOGIN {10}\r\nabc",
	  0,
	  "Literal truncated",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "literal without CRLF",
	  "a LOGIN {3}abc",
	  0,
	  "Invalid literal",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "literal size junk",
	  "a LOGIN {x}\r\n",
	  0,
	  "Invalid literal size",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "huge literal",
	  "a LOGIN {99999999999}\r\n",
	  0,
	  "Invalid literal size",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "unbalanced )",
	  "a ID )",
	  0,
	  "Unexpected ')'",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "missing )",
	  "a ID (\"a\" \"b\"",
	  0,
	  "Missing ')'",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "deep lists",
	  "a ID (((((x)))))",
	  0,
	  "Lists nested too deep",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "space after (",
	  "a ID ( x)",
	  0,
	  "Invalid spacing in list",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "atom specials",
	  "a LOGIN a%b",
	  0,
	  "Invalid spacing between arguments",
	  "a",
	  NULL,
	  0,
	  { NULL } },
	{ "control char",
	  "a LOGIN \x01",
	  0,
	  "Invalid characters in argument",
	  "a",
	  NULL,
	  0,
	  { NULL } },
};

static void
test_commands(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(*cmd_cases); i++) {
		const struct cmd_case *c = &cmd_cases[i];
		size_t len = c->len ? c->len : strlen(c->buf);
		char *scratch = malloc(len + 1);
		const char *err = NULL;
		struct imap_cmd cmd;
		int rc;

		assert_non_null(scratch);
		rc = imap_parse_command(c->buf, len, scratch, &cmd, &err);
		if (c->err != NULL) {
			if (rc != -1 || err == NULL || strcmp(err, c->err) != 0)
				fail_msg("%s: rc %d err '%s', want '%s'",
					 c->name, rc, err ? err : "", c->err);
		} else if (rc != 0) {
			fail_msg("%s: failed: %s", c->name, err);
		}
		if (c->tag != NULL &&
		    (cmd.tag.len != strlen(c->tag) ||
		     memcmp(cmd.tag.p, c->tag, cmd.tag.len) != 0))
			fail_msg("%s: tag '%.*s'", c->name, (int)cmd.tag.len,
				 cmd.tag.p);
		if (c->tag == NULL && cmd.tag.len != 0)
			fail_msg("%s: unexpected tag", c->name);
		if (rc == 0) {
			if (!pst_str_eq(cmd.name, pst_str_from_cstr(c->cmd)))
				fail_msg("%s: command '%.*s'", c->name,
					 (int)cmd.name.len, cmd.name.p);
			if (cmd.nargs != c->nargs)
				fail_msg("%s: %u args, want %u", c->name,
					 cmd.nargs, c->nargs);
			for (unsigned j = 0; j < 4 && c->args[j]; j++)
				if (!pst_str_eq(cmd.args[j].s,
						pst_str_from_cstr(c->args[j])))
					fail_msg("%s: arg %u '%.*s'", c->name,
						 j, (int)cmd.args[j].s.len,
						 cmd.args[j].s.p);
		}
		free(scratch);
	}
}

static void
test_arg_types(void **state)
{
	const char *buf = "a X atom \"q\" {1}\r\nl (NIL)";
	char scratch[64];
	struct imap_cmd cmd;
	const char *err;

	(void)state;
	assert_int_equal(
		imap_parse_command(buf, strlen(buf), scratch, &cmd, &err), 0);
	assert_int_equal(cmd.nargs, 6);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_ATOM);
	assert_int_equal(cmd.args[1].type, IMAP_ARG_QUOTED);
	assert_int_equal(cmd.args[2].type, IMAP_ARG_LITERAL);
	assert_int_equal(cmd.args[3].type, IMAP_ARG_LIST_BEGIN);
	assert_int_equal(cmd.args[4].type, IMAP_ARG_ATOM);
	assert_int_equal(cmd.args[5].type, IMAP_ARG_LIST_END);
}

static void
test_too_many_args(void **state)
{
	char buf[1024], scratch[1024];
	struct imap_cmd cmd;
	const char *err = NULL;
	size_t n = (size_t)snprintf(buf, sizeof(buf), "a ID (");

	(void)state;
	for (int i = 0; i < IMAP_MAX_ARGS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sx",
				      i ? " " : "");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ")");
	assert_int_equal(imap_parse_command(buf, n, scratch, &cmd, &err), -1);
	assert_string_equal(err, "Too many arguments");
}

static void
test_append_string(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(imap_append_string(&b, PST_STR_LIT("a\"b\\c")), 0);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\"");
	pst_buf_reset(&b);
	assert_int_equal(imap_append_string(&b, PST_STR_LIT("a\r\nb")), 0);
	assert_string_equal(b.data, "{4+}\r\na\r\nb");
	pst_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_markers),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_arg_types),
		cmocka_unit_test(test_too_many_args),
		cmocka_unit_test(test_append_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
