/*
 * test_pop3_parse.c - the POP3 pre-login command grammar, and SASL
 * PLAIN with its strict base64 (shared by IMAP and POP3).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base64.h"
#include "pop3_parse.h"
#include "sasl_plain.h"

struct pop3_case {
	const char *line;
	size_t len; /* 0: strlen */
	const char *err;
	const char *keyword;
	unsigned nargs;
	const char *arg0, *rest;
};

static const struct pop3_case pop3_cases[] = {
	{ "CAPA", 0, NULL, "CAPA", 0, NULL, NULL },
	{ "user alice", 0, NULL, "user", 1, "alice", "alice" },
	{ "PASS with spaces in it", 0, NULL, "PASS", 4, "with",
	  "with spaces in it" },
	{ "AUTH PLAIN AGEAYg==", 0, NULL, "AUTH", 2, "PLAIN",
	  "PLAIN AGEAYg==" },
	{ "PASS p\xc3\xa4ss", 0, NULL, "PASS", 1, "p\xc3\xa4ss", NULL },
	{ "", 0, "Invalid command", NULL, 0, NULL, NULL },
	{ " USER x", 0, "Invalid command", NULL, 0, NULL, NULL },
	{ "US3R x", 0, "Invalid command", NULL, 0, NULL, NULL },
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0, "Invalid command", NULL, 0, NULL,
	  NULL },
	{ "USER  x", 0, "Invalid spacing between arguments", NULL, 0, NULL,
	  NULL },
	{ "USER x ", 0, "Invalid spacing between arguments", NULL, 0, NULL,
	  NULL },
	{ "USER a\tb", 0, "Invalid characters in command", NULL, 0, NULL,
	  NULL },
	{ "USER a\0b", 8, "Invalid characters in command", NULL, 0, NULL,
	  NULL },
	{ "USER a\rb", 0, "Invalid characters in command", NULL, 0, NULL,
	  NULL },
	{ "X 1 2 3 4 5 6 7 8 9", 0, "Too many arguments", NULL, 0, NULL, NULL },
};

static void
test_pop3_commands(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pop3_cases) / sizeof(*pop3_cases); i++) {
		const struct pop3_case *c = &pop3_cases[i];
		size_t len = c->len ? c->len : strlen(c->line);
		struct pop3_cmd cmd;
		const char *err = NULL;
		int rc = pop3_parse_command(c->line, len, &cmd, &err);

		if (c->err != NULL) {
			if (rc != -1 || strcmp(err, c->err) != 0)
				fail_msg("'%s': rc %d err '%s'", c->line, rc,
					 err ? err : "");
			continue;
		}
		if (rc != 0)
			fail_msg("'%s': %s", c->line, err);
		assert_true(
			pst_str_eq(cmd.keyword, pst_str_from_cstr(c->keyword)));
		assert_int_equal(cmd.nargs, c->nargs);
		if (c->arg0 != NULL)
			assert_true(pst_str_eq(cmd.args[0],
					       pst_str_from_cstr(c->arg0)));
		if (c->rest != NULL)
			assert_true(pst_str_eq(cmd.rest,
					       pst_str_from_cstr(c->rest)));
	}
}

struct b64_case {
	const char *in;
	long len; /* -1: rejected */
	const char *out;
};

static const struct b64_case b64_cases[] = {
	{ "", 0, "" },
	{ "YQ==", 1, "a" },
	{ "YWI=", 2, "ab" },
	{ "YWJj", 3, "abc" },
	{ "AGFsaWNlAHB3", 9, "\0alice\0pw" },
	{ "YQ=", -1, NULL },	  /* not a multiple of 4 */
	{ "Y===", -1, NULL },	  /* too much padding */
	{ "YQ==YQ==", -1, NULL }, /* padding in the middle */
	{ "YR==", -1, NULL },	  /* non-zero bits under the padding */
	{ "YW I", -1, NULL },	  /* space */
	{ "YW=I", -1, NULL },	  /* data after padding */
	{ "YW\nI", -1, NULL },
};

static void
test_base64(void **state)
{
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(b64_cases) / sizeof(*b64_cases); i++) {
		const struct b64_case *c = &b64_cases[i];
		long n = pst_base64_decode(c->in, strlen(c->in), out,
					   sizeof(out));

		if (n != c->len)
			fail_msg("'%s': %ld, want %ld", c->in, n, c->len);
		if (n > 0 && memcmp(out, c->out, (size_t)n) != 0)
			fail_msg("'%s': wrong bytes", c->in);
	}
	/* does not write past outsize */
	assert_int_equal(pst_base64_decode("YWJj", 4, out, 2), -1);
}

static void
test_base64_round_trip(void **state)
{
	unsigned char in[256];
	char out[256];
	struct pst_buf b;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	pst_buf_init(&b, 0);
	for (size_t len = 0; len < 40; len++) {
		pst_buf_reset(&b);
		assert_int_equal(pst_base64_encode(&b, in, len, 0), 0);
		assert_int_equal(b.len % 4, 0);
		assert_int_equal(pst_base64_decode(b.data ? b.data : "", b.len,
						   out, sizeof(out)),
				 (long)len);
		assert_memory_equal(out, in, len);
	}
	pst_buf_free(&b);
}

static void
test_plain(void **state)
{
	struct sasl_plain p;
	const char *err = NULL;
	struct pst_buf b;
	char out[SASL_PLAIN_MAX_DECODED];
	long n;

	(void)state;
	assert_int_equal(sasl_plain_parse("\0alice\0pw", 9, &p, &err), 0);
	assert_int_equal(p.authzid.len, 0);
	assert_true(pst_str_eq(p.authcid, PST_STR_LIT("alice")));
	assert_true(pst_str_eq(p.passwd, PST_STR_LIT("pw")));
	assert_int_equal(sasl_plain_parse("admin\0alice\0pw", 14, &p, &err), 0);
	assert_true(pst_str_eq(p.authzid, PST_STR_LIT("admin")));
	assert_int_equal(sasl_plain_parse("alice\0pw", 8, &p, &err), -1);
	assert_string_equal(err, "PLAIN message has fewer than three fields");
	assert_int_equal(sasl_plain_parse("\0a\0b\0c", 6, &p, &err), -1);
	assert_string_equal(err, "PLAIN message has more than three fields");
	assert_int_equal(sasl_plain_parse("\0\0pw", 4, &p, &err), -1);
	assert_int_equal(sasl_plain_parse("\0alice\0", 7, &p, &err), -1);
	assert_string_equal(err, "PLAIN user name or password is empty");
	assert_int_equal(sasl_plain_parse("", 0, &p, &err), -1);

	pst_buf_init(&b, 0);
	assert_int_equal(sasl_plain_encode(PST_STR_LIT("alice"),
					   PST_STR_LIT("p\r\nw"), &b),
			 0);
	assert_string_equal(b.data, "AGFsaWNlAHANCnc=");
	n = pst_base64_decode(b.data, b.len, out, sizeof(out));
	assert_int_equal(n, 11);
	assert_int_equal(sasl_plain_parse(out, (size_t)n, &p, &err), 0);
	assert_true(pst_str_eq(p.passwd, PST_STR_LIT("p\r\nw")));
	pst_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pop3_commands),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64_round_trip),
		cmocka_unit_test(test_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
