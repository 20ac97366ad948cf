/*
 * test_buf.c - growable buffers, string views, and pst_log_sanitize()
 * (which shares their job: bounded copies of hostile bytes).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"
#include "log.h"

/* Under ASan, let a huge malloc() fail with NULL, as libc's does, instead
 * of aborting: the tests check that failure path. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static void
test_init_empty(void **state)
{
	struct pst_buf b;
	struct pst_str v;

	(void)state;
	pst_buf_init(&b, 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	v = pst_buf_view(&b);
	assert_non_null(v.p);
	assert_int_equal(v.len, 0);
	pst_buf_consume(&b, 5);
	pst_buf_reset(&b);
	assert_int_equal(b.len, 0);
	pst_buf_free(&b);
}

static void
test_append_grows(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(pst_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 1000000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	for (size_t i = 0; i < b.len; i += 9973)
		assert_int_equal(b.data[i], '0' + (int)(i % 10));
	pst_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_append_empty(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(pst_buf_append(&b, "", 0), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	pst_buf_free(&b);
}

static void
test_append_binary(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(pst_buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(pst_buf_append_byte(&b, '\0'), 0);
	assert_int_equal(pst_buf_append_cstr(&b, "cd"), 0);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "a\0b\0cd", 7);
	pst_buf_free(&b);
}

static void
test_limit_refusal_unchanged(void **state)
{
	struct pst_buf b;
	char *data;
	size_t cap;

	(void)state;
	pst_buf_init(&b, 10);
	assert_int_equal(pst_buf_append(&b, "hello", 5), 0);
	data = b.data;
	cap = b.cap;
	assert_int_equal(pst_buf_append(&b, "world!", 6), -1);
	assert_int_equal(pst_buf_append_cstr(&b, "123456"), -1);
	assert_int_equal(pst_buf_printf(&b, "%s", "abcdef"), -1);
	assert_int_equal(pst_buf_reserve(&b, 6), -1);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	pst_buf_free(&b);
}

static void
test_limit_exact(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 10);
	assert_int_equal(pst_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(pst_buf_append_byte(&b, 'x'), -1);
	assert_int_equal(pst_buf_append(&b, "", 0), 0);
	assert_string_equal(b.data, "0123456789");
	/* consuming makes room again */
	pst_buf_consume(&b, 3);
	assert_int_equal(pst_buf_append(&b, "abc", 3), 0);
	assert_string_equal(b.data, "3456789abc");
	assert_int_equal(pst_buf_append_byte(&b, 'x'), -1);
	pst_buf_free(&b);
}

static void
test_reserve_overflow(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(pst_buf_append(&b, "abc", 3), 0);
	assert_int_equal(pst_buf_reserve(&b, SIZE_MAX), -1);
	assert_int_equal(pst_buf_reserve(&b, SIZE_MAX - 3), -1);
	assert_int_equal(pst_buf_reserve(&b, SIZE_MAX >> 3), -1);
	assert_string_equal(b.data, "abc");
	assert_int_equal(pst_buf_reserve(&b, 1000), 0);
	assert_true(b.cap >= 1004);
	assert_int_equal(b.len, 3);
	pst_buf_free(&b);
}

static void
test_printf(void **state)
{
	struct pst_buf b;
	char big[500];

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(pst_buf_printf(&b, "%s", ""), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(pst_buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_int_equal(pst_buf_printf(&b, "/%03u", 7u), 0);
	assert_string_equal(b.data, "42-x/007");
	assert_int_equal(b.len, 8);
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pst_buf_printf(&b, "%s", big), 0);
	assert_int_equal(b.len, 8 + 499);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(b.data[b.len - 1], 'q');
	pst_buf_free(&b);
}

static void
test_consume(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(pst_buf_append_cstr(&b, "EHLO x\r\nQUIT\r\n"), 0);
	pst_buf_consume(&b, 0);
	assert_string_equal(b.data, "EHLO x\r\nQUIT\r\n");
	pst_buf_consume(&b, 8);
	assert_string_equal(b.data, "QUIT\r\n");
	assert_int_equal(b.len, 6);
	pst_buf_consume(&b, 6);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(pst_buf_append_cstr(&b, "abc"), 0);
	pst_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	pst_buf_free(&b);
}

static void
test_reset_keeps_memory(void **state)
{
	struct pst_buf b;
	char *data;
	size_t cap;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(pst_buf_append_cstr(&b, "some content"), 0);
	data = b.data;
	cap = b.cap;
	pst_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	assert_string_equal(b.data, "");
	assert_int_equal(pst_buf_append_cstr(&b, "new"), 0);
	assert_string_equal(b.data, "new");
	pst_buf_free(&b);
	/* a freed buffer may be used again */
	assert_int_equal(pst_buf_append_cstr(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	pst_buf_free(&b);
}

static void
test_view(void **state)
{
	struct pst_buf b;
	struct pst_str v;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(pst_buf_append(&b, "a\0c", 3), 0);
	v = pst_buf_view(&b);
	assert_ptr_equal(v.p, b.data);
	assert_int_equal(v.len, 3);
	assert_true(pst_str_eq(v, (struct pst_str){ "a\0c", 3 }));
	assert_false(pst_str_eq(v, PST_STR_LIT("a")));
	pst_buf_free(&b);
}

static void
test_str_from_cstr(void **state)
{
	struct pst_str s;

	(void)state;
	s = pst_str_from_cstr("abc");
	assert_int_equal(s.len, 3);
	s = pst_str_from_cstr(NULL);
	assert_null(s.p);
	assert_int_equal(s.len, 0);
	assert_int_equal(PST_STR_LIT("MAIL").len, 4);
	assert_true(pst_str_eq(PST_STR_NULL, PST_STR_LIT("")));
}

struct caseeq_case {
	const char *a, *b;
	bool want;
};

static void
test_caseeq(void **state)
{
	static const struct caseeq_case cases[] = {
		{ "MAIL", "mail", true },
		{ "Mail From", "mAIL fROM", true },
		{ "", "", true },
		{ "MAIL", "MAI", false },
		{ "MAIL", "MAIM", false },
		/* ASCII only: '@' and '`', '[' and '{' differ by 0x20 too */
		{ "@", "`", false },
		{ "[", "{", false },
		{ "\xc4", "\xe4", false },
		{ "Z", "z", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pst_str a = pst_str_from_cstr(cases[i].a);

		assert_int_equal(
			pst_str_caseeq(a, pst_str_from_cstr(cases[i].b)),
			cases[i].want);
		assert_int_equal(pst_str_caseeq_cstr(a, cases[i].b),
				 cases[i].want);
	}
}

static void
test_caseprefix(void **state)
{
	struct pst_str s = PST_STR_LIT("MAIL FROM:<a@b>");

	(void)state;
	assert_true(pst_str_has_caseprefix(s, "mail from:"));
	assert_true(pst_str_has_caseprefix(s, ""));
	assert_true(pst_str_has_caseprefix(s, "MAIL FROM:<a@b>"));
	assert_false(pst_str_has_caseprefix(s, "MAIL FROM:<a@b>x"));
	assert_false(pst_str_has_caseprefix(s, "rcpt"));
	assert_false(pst_str_has_caseprefix(PST_STR_LIT("MA"), "MAIL"));
}

struct trim_case {
	const char *in, *want;
};

static void
test_trim(void **state)
{
	static const struct trim_case cases[] = {
		{ "  a b  ", "a b" },
		{ "\t x\t", "x" },
		{ "x", "x" },
		{ "    ", "" },
		{ "", "" },
		{ "\r\nx\r\n", "\r\nx\r\n" }, /* only SP and HTAB */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pst_str t = pst_str_trim(pst_str_from_cstr(cases[i].in));

		assert_int_equal(t.len, strlen(cases[i].want));
		assert_memory_equal(t.p, cases[i].want, t.len);
	}
}

struct sanitize_case {
	const char *in;
	unsigned in_len;
	unsigned n;
	const char *want;
};

static void
test_log_sanitize(void **state)
{
	static const struct sanitize_case cases[] = {
		{ "plain text", 10, 64, "plain text" },
		{ "a\r\nb", 4, 64, "a\\x0d\\x0ab" },
		{ "caf\xc3\xa9", 5, 64, "caf\\xc3\\xa9" },
		{ "a\0b", 3, 64, "a\\x00b" },
		{ "del\x7f", 4, 64, "del\\x7f" },
		{ "tab\t", 4, 64, "tab\\x09" },
		/* cut to fit, never inside an escape */
		{ "abcdef", 6, 4, "abc" },
		{ "ab\ncd", 5, 6, "ab" },
		{ "ab\ncd", 5, 7, "ab\\x0a" },
		{ "x", 1, 1, "" },
		{ "abc", 0, 8, "" },
	};
	char dst[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(dst, '#', sizeof(dst));
		assert_ptr_equal(pst_log_sanitize(dst, cases[i].n, cases[i].in,
						  cases[i].in_len),
				 dst);
		assert_string_equal(dst, cases[i].want);
		/* nothing written past n */
		for (unsigned k = cases[i].n; k < sizeof(dst); k++)
			assert_int_equal(dst[k], '#');
	}
	/* n == 0: dst untouched */
	dst[0] = '#';
	pst_log_sanitize(dst, 0, "abc", 3);
	assert_int_equal(dst[0], '#');
	assert_string_equal(pst_log_sanitize(dst, 8, NULL, 3), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_empty),
		cmocka_unit_test(test_append_grows),
		cmocka_unit_test(test_append_empty),
		cmocka_unit_test(test_append_binary),
		cmocka_unit_test(test_limit_refusal_unchanged),
		cmocka_unit_test(test_limit_exact),
		cmocka_unit_test(test_reserve_overflow),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_consume),
		cmocka_unit_test(test_reset_keeps_memory),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_str_from_cstr),
		cmocka_unit_test(test_caseeq),
		cmocka_unit_test(test_caseprefix),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_log_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
