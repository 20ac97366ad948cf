/*
 * test_milter_conf.c - unit tests for gateway/milter_conf.c: the
 * `milter {}` block (defaults, every key, errors naming FILE:LINE) and
 * sockets in milter's notation.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "arena.h"
#include "conf.h"
#include "milter_conf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct socket_case {
	const char *spec;
	bool ok;
	const char *why; /* part of the error */
};

static const struct socket_case socket_cases[] = {
	{ "inet:8891@127.0.0.1", true },
	{ "inet:8891@localhost", true },
	{ "inet:8891", true },
	{ "inet6:8891@::1", true },
	{ "inet6:8891@2001:db8::7", true },
	{ "unix:/run/postern/milter.sock", true },
	{ "local:/var/spool/postfix/postern/m.sock", true },
	{ "inet:0@127.0.0.1", false, "port" },
	{ "inet:65536@127.0.0.1", false, "port" },
	{ "inet:port@127.0.0.1", false, "port" },
	{ "inet:@127.0.0.1", false, "port" },
	{ "inet:8891@::1", false, "inet6" },
	{ "inet6:8891@[::1]", false, "brackets" },
	{ "inet6:8891@127.0.0.1", false, "IPv6" },
	{ "inet:8891@bad host", false, "host" },
	{ "unix:relative/path", false, "absolute" },
	{ "tcp:8891@127.0.0.1", false, "unknown socket type" },
	{ "/run/milter.sock", false, "want" },
	{ "", false, "want" },
};

static void
test_socket_case(void **state)
{
	const struct socket_case *tc = *state;
	const char *why = NULL;
	int rc = milter_socket_check(tc->spec, &why);

	assert_int_equal(rc, tc->ok ? 0 : -1);
	if (!tc->ok)
		assert_non_null(strstr(why, tc->why));
}

static int
bind_text(struct pst_arena *a, const char *text, struct milter_settings *m,
	  const char **error_r)
{
	struct pst_conf_node *root;

	milter_settings_defaults(m);
	if (pst_conf_parse_string(a, "test.conf", text, strlen(text), &root,
				  error_r) < 0)
		return -1;
	assert_non_null(root->child);
	return milter_conf_block(a, root->child, m, error_r);
}

static void
test_block(void **state)
{
	struct pst_arena *a = pst_arena_new(0);
	struct milter_settings m;
	const char *error = NULL;

	(void)state;
	milter_settings_defaults(&m);
	assert_string_equal(m.socket, "inet:8891@127.0.0.1");
	assert_int_equal(m.mode, 0660);
	assert_false(m.configured);
	assert_int_equal(bind_text(a,
				   "milter {\n socket = \"unix:/run/p.sock\";\n"
				   " timeout = 30s;\n backlog = 16;\n"
				   " socket_mode = \"0666\";\n}\n",
				   &m, &error),
			 0);
	assert_true(m.configured);
	assert_string_equal(m.socket, "unix:/run/p.sock");
	assert_int_equal(m.timeout, 30000);
	assert_int_equal(m.backlog, 16);
	assert_int_equal(m.mode, 0666);
	pst_arena_free(&a);
}

struct error_case {
	const char *text;
	const char *want; /* part of the error */
};

static const struct error_case error_cases[] = {
	{ "milter {\n socket = \"inet:99999@127.0.0.1\";\n}\n",
	  "test.conf:1: milter.socket 'inet:99999@127.0.0.1': port" },
	{ "milter {\n socket_mode = \"rw\";\n}\n", "socket_mode 'rw'" },
	{ "milter {\n socket_mode = \"01777\";\n}\n", "socket_mode" },
	{ "milter {\n timeout = 10ms;\n}\n", "test.conf:2:" },
	{ "milter {\n backlog = 0;\n}\n", "test.conf:2:" },
	{ "milter {\n sockets = \"x\";\n}\n", "test.conf:2:" },
};

static void
test_error_case(void **state)
{
	const struct error_case *tc = *state;
	struct pst_arena *a = pst_arena_new(0);
	struct milter_settings m;
	const char *error = NULL;

	assert_int_equal(bind_text(a, tc->text, &m, &error), -1);
	assert_non_null(error);
	if (strstr(error, tc->want) == NULL)
		fail_msg("error '%s' lacks '%s'", error, tc->want);
	pst_arena_free(&a);
}

int
main(void)
{
	struct CMUnitTest tests[N(socket_cases) + N(error_cases) + 1];
	size_t n = 0;

	for (size_t i = 0; i < N(socket_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_socket_case, (void *)&socket_cases[i]);

		t.name = socket_cases[i].spec[0] ? socket_cases[i].spec
						 : "(empty)";
		tests[n++] = t;
	}
	for (size_t i = 0; i < N(error_cases); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_error_case, (void *)&error_cases[i]);

		t.name = error_cases[i].want;
		tests[n++] = t;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_block);
	return _cmocka_run_group_tests("milter_conf", tests, n, NULL, NULL);
}
