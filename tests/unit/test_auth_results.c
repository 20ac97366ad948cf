/*
 * test_auth_results.c - unit tests for mail/auth_results.c: the
 * authserv-id of well-formed and hostile Authentication-Results values,
 * keyword and property syntax (nothing a filter hands in may end a
 * resinfo early), and the text written back.
 *
 * Every table row is its own cmocka test, so the TAP output counts cases.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "auth_results.h"
#include "buf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- authserv-id ---- */

struct id_case {
	const char *name;
	const char *value;
	size_t len;	  /* 0: strlen(value) */
	const char *want; /* NULL: -1 */
};

static const struct id_case id_cases[] = {
	{ "id: token", "mx.example.org; spf=pass", 0, "mx.example.org" },
	{ "id: leading blanks", "  \tmx.example.org;spf=pass", 0,
	  "mx.example.org" },
	{ "id: folded", "\r\n mx.example.org;\r\n spf=pass", 0,
	  "mx.example.org" },
	{ "id: no result", "mx.example.org; none", 0, "mx.example.org" },
	{ "id: version", "mx.example.org 1; spf=pass", 0, "mx.example.org" },
	{ "id: only the id", "mx.example.org", 0, "mx.example.org" },
	{ "id: comment before", "(forged? no) mx.example.org; none", 0,
	  "mx.example.org" },
	{ "id: nested comment", "(a (b (c)) d) mx.example.org; none", 0,
	  "mx.example.org" },
	{ "id: comment with quoted pair", "(a \\) b) mx; none", 0, "mx" },
	{ "id: comment right after", "mx.example.org(c); none", 0,
	  "mx.example.org" },
	{ "id: quoted", "\"mx.example.org\"; spf=pass", 0, "mx.example.org" },
	{ "id: quoted with pairs", "\"mx\\\"x\\\\y\"; none", 0, "mx\"x\\y" },
	{ "id: quoted with blank", "\"mx example\"; none", 0, "mx example" },
	{ "id: quoted folded", "\"mx.\r\n example\"; none", 0, "mx. example" },
	{ "id: utf-8", "m\xc3\xbcx.example; none", 0, "m\xc3\xbcx.example" },
	{ "id: NUL ends it", "mx.example.org\0junk", 19, "mx.example.org" },
	{ "id: empty value", "", 0, NULL },
	{ "id: only blanks", " \t\r\n ", 0, NULL },
	{ "id: only a comment", "(mx.example.org)", 0, NULL },
	{ "id: starts with ;", "; spf=pass", 0, NULL },
	{ "id: empty quotes", "\"\"; none", 0, NULL },
	{ "id: open quote", "\"mx.example.org; none", 0, NULL },
	{ "id: open comment", "(mx.example.org; none", 0, NULL },
	{ "id: comment not closed inside", "(a (b) mx; none", 0, NULL },
	{ "id: quoted pair at end", "\"mx\\", 0, NULL },
	{ "id: control in quotes", "\"mx\x01\"; none", 0, NULL },
	{ "id: tspecial after", "mx.example.org@evil; none", 0, NULL },
	{ "id: slash after", "mx/x; none", 0, NULL },
	{ "id: quote after token", "mx\"x\"; none", 0, NULL },
	{ "id: control after", "mx\x01; none", 0, NULL },
	{ "id: starts with tspecial", "@mx; none", 0, NULL },
	{ "id: deep comment",
	  "((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))"
	  ")) mx; none",
	  0, NULL },
	{ "id: comment at the limit",
	  "((((((((((((((((((((((((((((((((x)))))))))))))))))))))))))))))))) "
	  "mx; none",
	  0, "mx" },
};

static void
test_id(void **state)
{
	const struct id_case *c = *state;
	struct pst_buf id;
	size_t len = c->len ? c->len : strlen(c->value);
	int rc;

	pst_buf_init(&id, 1024);
	rc = auth_results_authserv_id((struct pst_str){ c->value, len }, &id);
	if (c->want == NULL) {
		assert_int_equal(rc, -1);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(id.len, strlen(c->want));
		assert_memory_equal(id.data, c->want, id.len);
	}
	pst_buf_free(&id);
}

/* A limited buffer: a long id fails cleanly. */
static void
test_id_limit(void **state)
{
	struct pst_buf id;

	(void)state;
	pst_buf_init(&id, 4);
	assert_int_equal(
		auth_results_authserv_id(
			pst_str_from_cstr("mx.example.org; none"), &id),
		-1);
	pst_buf_free(&id);
}

/* ---- keywords ---- */

struct kw_case {
	const char *name;
	const char *s;
	bool want;
};

static const struct kw_case kw_cases[] = {
	{ "kw: spf", "spf", true },
	{ "kw: dkim", "dkim", true },
	{ "kw: hyphen inside", "dkim-atps", true },
	{ "kw: digits", "x509", true },
	{ "kw: upper case", "PASS", true },
	{ "kw: empty", "", false },
	{ "kw: leading hyphen", "-spf", false },
	{ "kw: trailing hyphen", "spf-", false },
	{ "kw: blank", "s pf", false },
	{ "kw: semicolon", "spf;dkim", false },
	{ "kw: equals", "spf=pass", false },
	{ "kw: dot", "a.b", false },
	{ "kw: underscore", "a_b", false },
	{ "kw: 8-bit", "sp\xc3\xa9", false },
	{ "kw: 64 bytes",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  true },
	{ "kw: 65 bytes",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  false },
};

static void
test_keyword(void **state)
{
	const struct kw_case *c = *state;

	assert_int_equal(auth_results_keyword_valid(c->s), c->want);
}

/* ---- properties ---- */

static const struct kw_case props_cases[] = {
	{ "props: empty", "", true },
	{ "props: one", "smtp.mailfrom=example.org", true },
	{ "props: address", "smtp.mailfrom=user@example.org", true },
	{ "props: two", "header.d=example.org header.s=sel1", true },
	{ "props: base64 with =", "header.b=AbC+/d=", true },
	{ "props: tabs", "\theader.d=example.org\t", true },
	{ "props: reason", "reason=\"no key\" header.d=example.org", true },
	{ "props: quoted value", "policy.x=\"a; b (c)\"", true },
	{ "props: quoted pair", "policy.x=\"a\\\"b\"", true },
	{ "props: comment", "smtp.mailfrom=example.org (checked twice)", true },
	{ "props: nested comment", "(a (b) c) smtp.helo=mx", true },
	{ "props: utf-8 value", "smtp.mailfrom=\xc3\xa9x.example", true },
	{ "props: semicolon ends resinfo", "smtp.mailfrom=x; dkim=pass",
	  false },
	{ "props: bare semicolon", ";", false },
	{ "props: CRLF", "smtp.mailfrom=x\r\nX-Evil: 1", false },
	{ "props: LF", "smtp.mailfrom=x\nhi", false },
	{ "props: CR in quotes", "policy.x=\"a\rb\"", false },
	{ "props: CR in comment", "(a\rb) smtp.helo=x", false },
	{ "props: open quote", "policy.x=\"a; dkim=pass", false },
	{ "props: open comment", "(a; dkim=pass", false },
	{ "props: stray close", "smtp.helo=x)", false },
	{ "props: no ptype", "mailfrom=x", false },
	{ "props: no value", "smtp.mailfrom=", false },
	{ "props: no equals", "smtp.mailfrom", false },
	{ "props: bad ptype", "sm_tp.mailfrom=x", false },
	{ "props: empty property", "smtp.=x", false },
	{ "props: glued items", "smtp.helo=\"a\"smtp.x=b", false },
	{ "props: bad utf-8", "smtp.helo=\xc3(", false },
	{ "props: overlong utf-8", "smtp.helo=\xc0\xaf", false },
	{ "props: DEL", "smtp.helo=a\x7f", false },
};

static void
test_props(void **state)
{
	const struct kw_case *c = *state;

	assert_int_equal(auth_results_props_valid(c->s), c->want);
}

static void
test_props_too_long(void **state)
{
	char s[AUTH_RESULTS_PROPS_MAX + 2];

	(void)state;
	memcpy(s, "smtp.helo=", 10);
	memset(s + 10, 'a', sizeof(s) - 11);
	s[sizeof(s) - 1] = '\0';
	assert_false(auth_results_props_valid(s));
	s[AUTH_RESULTS_PROPS_MAX] = '\0';
	assert_true(auth_results_props_valid(s));
	assert_false(auth_results_props_valid(NULL));
}

/* ---- formatting ---- */

struct fmt_case {
	const char *name;
	const char *id;
	const char *want; /* NULL: -1 */
};

static const struct fmt_case fmt_cases[] = {
	{ "fmt: token id", "mx.example.org", "mx.example.org" },
	{ "fmt: id with blank", "mx example", "\"mx example\"" },
	{ "fmt: id with quote", "a\"b", "\"a\\\"b\"" },
	{ "fmt: id with backslash", "a\\b", "\"a\\\\b\"" },
	{ "fmt: id with semicolon", "a;b", "\"a;b\"" },
	{ "fmt: utf-8 id", "m\xc3\xbcx", "m\xc3\xbcx" },
	{ "fmt: empty id", "", NULL },
	{ "fmt: control in id", "a\r\nb", NULL },
};

static void
test_format_id(void **state)
{
	const struct fmt_case *c = *state;
	struct pst_buf b, back;

	pst_buf_init(&b, 0);
	pst_buf_init(&back, 0);
	pst_buf_append_cstr(&b, "x");
	if (c->want == NULL) {
		assert_int_equal(auth_results_format_id(&b, c->id), -1);
		assert_string_equal(b.data, "x");
	} else {
		assert_int_equal(auth_results_format_id(&b, c->id), 0);
		assert_string_equal(b.data + 1, c->want);
		/* What we write reads back as the same id. */
		assert_int_equal(auth_results_authserv_id(
					 pst_str_from_cstr(b.data + 1), &back),
				 0);
		assert_string_equal(back.data, c->id);
	}
	pst_buf_free(&b);
	pst_buf_free(&back);
}

static void
test_format_resinfo(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(
		auth_results_format_resinfo(&b, "spf", "pass",
					    "smtp.mailfrom=example.org"),
		0);
	assert_string_equal(b.data, "spf=pass smtp.mailfrom=example.org");
	pst_buf_reset(&b);
	assert_int_equal(auth_results_format_resinfo(&b, "iprev", "fail", NULL),
			 0);
	assert_string_equal(b.data, "iprev=fail");
	pst_buf_reset(&b);
	assert_int_equal(auth_results_format_resinfo(&b, "dkim", "none", ""),
			 0);
	assert_string_equal(b.data, "dkim=none");
	pst_buf_free(&b);

	/* The limit leaves the buffer as it was. */
	pst_buf_init(&b, 12);
	pst_buf_append_cstr(&b, "id; ");
	assert_int_equal(auth_results_format_resinfo(&b, "spf", "pass",
						     "smtp.mailfrom=x"),
			 -1);
	assert_string_equal(b.data, "id; ");
	assert_int_equal(auth_results_format_id(&b, "a very long id"), -1);
	assert_string_equal(b.data, "id; ");
	pst_buf_free(&b);
}

#define SINGLE_TESTS 3

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(id_cases) + N_ELEMS(kw_cases) +
				       N_ELEMS(props_cases) +
				       N_ELEMS(fmt_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_id_limit),
		cmocka_unit_test(test_props_too_long),
		cmocka_unit_test(test_format_resinfo),
	};
	size_t n = 0;

#define ADD_ROWS(table, fn)                                                    \
	for (size_t i = 0; i < N_ELEMS(table); i++)                            \
	tests[n++] = (struct CMUnitTest){ .name = table[i].name,               \
					  .test_func = fn,                     \
					  .initial_state = (void *)&table[i] }
	ADD_ROWS(id_cases, test_id);
	ADD_ROWS(kw_cases, test_keyword);
	ADD_ROWS(props_cases, test_props);
	ADD_ROWS(fmt_cases, test_format_id);
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
