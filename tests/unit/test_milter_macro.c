/*
 * test_milter_macro.c - unit tests for gateway/milter_macro.c: what
 * postern-milter makes of the MTA's arguments and macros - envelope
 * paths, the client's name, TLS from {tls_version} {cipher}
 * {cipher_bits}, and which MTA hides its own Received: field ({v}).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "arena.h"
#include "milter.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct path_case {
	const char *arg, *want;
};

static const struct path_case path_cases[] = {
	{ "<a@example.org>", "a@example.org" },
	{ "<>", "" },
	{ "a@example.org", "a@example.org" }, /* sendmail -bs style */
	{ "  <a@example.org>", "a@example.org" },
	{ "<a@example.org", "<a@example.org" }, /* kept as it is */
	{ "<", "<" },
	{ NULL, "" },
};

static void
test_paths(void **state)
{
	struct pst_arena *a = pst_arena_new(0);

	(void)state;
	for (size_t i = 0; i < N(path_cases); i++)
		assert_string_equal(milter_macro_path(a, path_cases[i].arg),
				    path_cases[i].want);
	pst_arena_free(&a);
}

struct name_case {
	const char *hostname, *want;
};

static const struct name_case name_cases[] = {
	{ "mx.example.net", "mx.example.net" },
	{ "[192.0.2.7]", "unknown" }, /* sendmail: no PTR */
	{ "[IPv6:2001:db8::7]", "unknown" },
	{ "", "unknown" },
	{ NULL, "unknown" },
	{ "unknown", "unknown" },	  /* Postfix: no PTR */
	{ "evil\r\nname", "evil??name" }, /* never into a log line */
	{ "caf\xc3\xa9.example", "caf??.example" },
	{ "a b", "a?b" },
};

static void
test_client_names(void **state)
{
	char buf[64];

	(void)state;
	for (size_t i = 0; i < N(name_cases); i++) {
		milter_macro_client_name(buf, sizeof(buf),
					 name_cases[i].hostname);
		assert_string_equal(buf, name_cases[i].want);
	}
	/* a name longer than the buffer is cut, not overrun */
	milter_macro_client_name(buf, 8, "very.long.example.net");
	assert_string_equal(buf, "very.lo");
}

struct tls_case {
	const char *version, *cipher, *bits;
	bool want_tls;
	const char *want;
};

static const struct tls_case tls_cases[] = {
	{ "TLSv1.3", "TLS_AES_256_GCM_SHA384", "256", true,
	  "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits)" },
	{ "TLSv1.2", NULL, NULL, true, "TLSv1.2" },
	{ "TLSv1.2", "", "", true, "TLSv1.2" },
	{ "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", NULL, true,
	  "TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256" },
	{ NULL, "TLS_AES_256_GCM_SHA384", "256", false, "" },
	{ "", "x", "1", false, "" },
};

static void
test_tls(void **state)
{
	char buf[256];

	(void)state;
	for (size_t i = 0; i < N(tls_cases); i++) {
		const struct tls_case *tc = &tls_cases[i];

		assert_int_equal(milter_macro_tls(buf, sizeof(buf), tc->version,
						  tc->cipher, tc->bits),
				 tc->want_tls);
		assert_string_equal(buf, tc->want);
	}
}

static void
test_hidden_received(void **state)
{
	(void)state;
	assert_true(milter_macro_hides_received("Postfix 3.7.11"));
	assert_true(milter_macro_hides_received("Postfix"));
	assert_false(milter_macro_hides_received("8.17.1")); /* sendmail */
	assert_false(milter_macro_hides_received(""));
	assert_false(milter_macro_hides_received(NULL));
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_client_names),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_hidden_received),
	};

	return cmocka_run_group_tests_name("milter_macro", tests, NULL, NULL);
}
