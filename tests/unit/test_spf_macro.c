/*
 * test_spf_macro.c - the macro language of RFC 7208 section 7: every
 * letter, transformer and delimiter, the escapes, URL escaping of upper
 * case letters, the 253-octet truncation, and what is refused.  The
 * 7.4 examples of the RFC are in the table as the RFC gives them.
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

#include "arena.h"
#include "spf.h"
#include "spf_int.h"

#define L63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"
#define L61 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija"
#define L58 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefgh"

enum ctx_kind { CTX_RFC4, CTX_RFC6, CTX_ODD };

struct macro_case {
	const char *name;
	const char *in;
	unsigned flags;
	enum ctx_kind ctx;
	const char *want; /* NULL: refused */
	const char *err;  /* substring of the error when refused */
};

#define X(n, i, w)                                                             \
	{                                                                      \
		.name = n, .in = i, .want = w                                  \
	}
#define X6(n, i, w)                                                            \
	{                                                                      \
		.name = n, .in = i, .ctx = CTX_RFC6, .want = w                 \
	}
#define XO(n, i, w)                                                            \
	{                                                                      \
		.name = n, .in = i, .ctx = CTX_ODD, .want = w                  \
	}
#define XF(n, i, f, w)                                                         \
	{                                                                      \
		.name = n, .in = i, .flags = f, .want = w                      \
	}
#define BADF(n, i, f, e)                                                       \
	{                                                                      \
		.name = n, .in = i, .flags = f, .err = e                       \
	}

#define EXP SPF_MACRO_EXP
#define DOM SPF_MACRO_DOMAIN

static const struct macro_case cases[] = {
	/* 7.4, the examples for strong-bad@email.example.com, 192.0.2.3 */
	X("7.4 s", "%{s}", "strong-bad@email.example.com"),
	X("7.4 o", "%{o}", "email.example.com"),
	X("7.4 d", "%{d}", "email.example.com"),
	X("7.4 d4", "%{d4}", "email.example.com"),
	X("7.4 d3", "%{d3}", "email.example.com"),
	X("7.4 d2", "%{d2}", "example.com"),
	X("7.4 d1", "%{d1}", "com"),
	X("7.4 dr", "%{dr}", "com.example.email"),
	X("7.4 d2r", "%{d2r}", "example.email"),
	X("7.4 l", "%{l}", "strong-bad"),
	X("7.4 l-", "%{l-}", "strong.bad"),
	X("7.4 lr", "%{lr}", "strong-bad"),
	X("7.4 lr-", "%{lr-}", "bad.strong"),
	X("7.4 l1r-", "%{l1r-}", "strong"),
	X("7.4 ir.v._spf.d2", "%{ir}.%{v}._spf.%{d2}",
	  "3.2.0.192.in-addr._spf.example.com"),
	X("7.4 lr-.lp._spf.d2", "%{lr-}.lp._spf.%{d2}",
	  "bad.strong.lp._spf.example.com"),
	X("7.4 lr-.lp.ir.v._spf.d2", "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
	X("7.4 ir.v.l1r-.lp._spf.d2", "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	  "3.2.0.192.in-addr.strong.lp._spf.example.com"),
	X("7.4 d2.trusted-domains", "%{d2}.trusted-domains.example.net",
	  "example.com.trusted-domains.example.net"),
	/* the RFC writes the nibbles in lower case; DNS ignores the case,
	 * and the published test suite wants upper case */
	X6("7.4 IPv6 ir.v._spf.d2", "%{ir}.%{v}._spf.%{d2}",
	   "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2"
	   ".ip6._spf.example.com"),

	/* 7.3: the other letters */
	X("7.3 i IPv4", "%{i}", "192.0.2.3"),
	X6("7.3 i IPv6 is 32 nibbles", "%{i}",
	   "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1"),
	X("7.3 v IPv4", "%{v}", "in-addr"),
	X6("7.3 v IPv6", "%{v}", "ip6"),
	X("7.3 h", "%{h}", "mx.example.net"),
	X("7.3 p from the evaluator", "%{p}", "mail.example.com"),
	XO("7.3 p unknown", "%{p}", "unknown"),
	XF("7.3 c IPv4 in exp", "%{c}", EXP, "192.0.2.3"),
	{ .name = "7.3 c IPv6 readable",
	  .in = "%{c}",
	  .flags = EXP,
	  .ctx = CTX_RFC6,
	  .want = "2001:db8::cb01" },
	XF("7.3 r in exp", "%{r}", EXP, "receiver.example.org"),
	XF("7.3 t in exp", "%{t}", EXP, "1700000000"),
	XF("7.3 letters in any case", "%{D2}", 0, "example.com"),

	/* 7.3 transformers */
	X("7.3 count above the parts", "%{d127}", "email.example.com"),
	X("7.3 huge count", "%{d99999999999}", "email.example.com"),
	X("7.3 reverse then count", "%{d1r}", "email"),
	X("7.3 R as reverse", "%{dR}", "com.example.email"),
	XO("7.3 every delimiter", "%{l.-+,/_=}", "a.b.c.d.e.f.g.h"),
	XO("7.3 '+' splits", "%{s+}", "a.b-c.d,e/f_g=h@odd.example"),
	XO("7.3 reverse with two delimiters", "%{l2r+-}", "c.a.b"),
	XO("7.3 consecutive delimiters", "%{hr}", "example..x"),
	XO("7.3 count keeps empty parts", "%{h2}", ".example"),
	X("7.3 '=' and '/' split", "%{o1r=}", "email.example.com"),

	/* 7.3 URL escaping of upper case letters */
	XO("7.3 S escapes", "%{S}", "a.b-c%2Bd%2Ce%2Ff_g%3Dh%40odd.example"),
	XO("7.3 L escapes after splitting", "%{L+}", "a.b-c.d%2Ce%2Ff_g%3Dh"),
	XO("7.3 unreserved stays", "%{H}", "x..example"),
	X("7.3 lower case does not escape", "%{s}",
	  "strong-bad@email.example.com"),

	/* 7.1 escapes and literals */
	XF("7.1 %% %_ %-", "a%%b%_c%-d", EXP, "a%b c%20d"),
	XF("7.1 spaces in exp", "You are %{i}, not %{d}", EXP,
	   "You are 192.0.2.3, not email.example.com"),
	BADF("7.1 space outside exp", "a b", 0, "invalid character"),
	BADF("7.1 c outside exp", "%{c}", 0, "only in exp"),
	BADF("7.1 r outside exp", "%{r}", DOM, "only in exp"),
	BADF("7.1 t outside exp", "%{t}", 0, "only in exp"),
	BADF("7.1 unknown letter", "%{a}", EXP, "unknown macro letter"),
	BADF("7.1 zero count", "%{d0}", 0, "part count of zero"),
	BADF("7.1 zero count written 00", "%{d00r}", 0, "part count of zero"),
	BADF("7.1 '%' alone", "%", EXP, "'%' not followed"),
	BADF("7.1 '%' and a letter", "%d", 0, "'%' not followed"),
	BADF("7.1 '%(' ", "%(d)", 0, "'%' not followed"),
	BADF("7.1 unterminated", "%{d2r", 0, "unterminated"),
	BADF("7.1 space inside braces", "%{d }", EXP, "invalid character"),
	BADF("7.1 control character", "a\tb", EXP, "invalid character"),
	BADF("7.1 non-ASCII", "caf\xc3\xa9", EXP, "invalid character"),

	/* 7.3: domain names over 253 octets lose labels on the left */
	XF("7.3 final dot dropped for lookups", "%{d}.", DOM,
	   "email.example.com"),
	XF("7.3 exactly 253 kept", L63 "." L63 "." L63 "." L61, DOM, NULL),
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static const char *
ptr_cb(void *arg)
{
	return arg;
}

static void
make_ctx(enum ctx_kind kind, struct spf_macro_ctx *ctx, struct spf_addr *ip)
{
	memset(ctx, 0, sizeof(*ctx));
	assert_int_equal(spf_addr_parse(kind == CTX_RFC6 ? "2001:db8::cb01"
							 : "192.0.2.3",
					ip),
			 0);
	ctx->ip = ip;
	ctx->receiver = "receiver.example.org";
	ctx->now = 1700000000;
	ctx->helo = "mx.example.net";
	if (kind == CTX_ODD) {
		ctx->sender = "a.b-c+d,e/f_g=h@odd.example";
		ctx->local = "a.b-c+d,e/f_g=h";
		ctx->sdom = "odd.example";
		ctx->domain = "odd.example";
		ctx->helo = "x..example";
		return;
	}
	ctx->sender = "strong-bad@email.example.com";
	ctx->local = "strong-bad";
	ctx->sdom = "email.example.com";
	ctx->domain = "email.example.com";
	ctx->ptr_name = ptr_cb;
	ctx->ptr_arg = "mail.example.com";
}

static void
test_case(void **state)
{
	const struct macro_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_macro_ctx ctx;
	struct spf_addr ip;
	struct pst_str in = pst_str_from_cstr(c->in);
	const char *out = NULL, *error = NULL;
	int checked, expanded;

	make_ctx(c->ctx, &ctx, &ip);
	checked = spf_macro_check(in, c->flags & SPF_MACRO_EXP, &error);
	expanded = spf_macro_expand(arena, in, &ctx, c->flags, &out, &error);
	if (c->err != NULL) {
		assert_int_equal(checked, -1);
		assert_int_equal(expanded, -1);
		if (strstr(error, c->err) == NULL)
			fail_msg("error '%s' lacks '%s'", error, c->err);
	} else {
		assert_int_equal(checked, 0);
		assert_int_equal(expanded, 0);
		/* want NULL: the input itself comes back */
		assert_string_equal(out, c->want != NULL ? c->want : c->in);
	}
	pst_arena_free(&arena);
}

/* 7.3: the expanded name loses whole labels from the left until it
 * fits in 253 octets. */
static void
test_truncation(void **state)
{
	static const char four[] = L63 "." L63 "." L63 "." L63; /* 255 */
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_macro_ctx ctx;
	struct spf_addr ip;
	const char *out, *error;
	char in[600];

	(void)state;
	make_ctx(CTX_RFC4, &ctx, &ip);
	ctx.local = four;
	assert_int_equal(spf_macro_expand(arena, PST_STR_LIT("%{l}"), &ctx, DOM,
					  &out, &error),
			 0);
	assert_string_equal(out, L63 "." L63 "." L63);
	/* not in a domain: no truncation */
	assert_int_equal(spf_macro_expand(arena, PST_STR_LIT("%{l}"), &ctx, 0,
					  &out, &error),
			 0);
	assert_string_equal(out, four);
	/* the labels that go may come from several macros */
	ctx.local = "a.b.c";
	snprintf(in, sizeof(in), "%%{l}.%s.%s.%s.%s", L63, L63, L63, L58);
	assert_int_equal(spf_macro_expand(arena, pst_str_from_cstr(in), &ctx,
					  DOM, &out, &error),
			 0);
	assert_int_equal(strlen(out), 252);
	assert_string_equal(out, "c." L63 "." L63 "." L63 "." L58);
	/* one label too long to cut: left as is, the lookup refuses it */
	ctx.local = L63 L63 L63 L63 L63;
	assert_int_equal(spf_macro_expand(arena, PST_STR_LIT("%{l}"), &ctx, DOM,
					  &out, &error),
			 0);
	assert_int_equal(strlen(out), 315);
	assert_false(spf_name_valid(out, strlen(out)));
	pst_arena_free(&arena);
}

/* Expansion is bounded whatever the inputs. */
static void
test_expansion_bound(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_macro_ctx ctx;
	struct spf_addr ip;
	const char *out = NULL, *error = NULL;
	char *in = malloc(42 * 4 + 1);

	(void)state;
	assert_non_null(in);
	make_ctx(CTX_RFC4, &ctx, &ip);
	ctx.local = L63 L63 L63 L63; /* 252 unreserved bytes, 30 times */
	in[0] = '\0';
	for (int i = 0; i < 30; i++)
		strcat(in, "%{L}");
	assert_int_equal(spf_macro_expand(arena, pst_str_from_cstr(in), &ctx, 0,
					  &out, &error),
			 0);
	for (int i = 0; i < 12; i++)
		strcat(in, "%{L}");
	ctx.local =
		"%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%"
		"%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%"
		"%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%";
	assert_int_equal(spf_macro_expand(arena, pst_str_from_cstr(in), &ctx, 0,
					  &out, &error),
			 -1);
	assert_string_equal(error, "macro expansion too long");
	free(in);
	pst_arena_free(&arena);
}

/* Client addresses, and the strict ip4-network / ip6-network forms. */
static void
test_addresses(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct spf_addr a, b;

	(void)state;
	assert_int_equal(spf_addr_parse("192.0.2.1", &a), 0);
	assert_int_equal(a.family, 4);
	/* an IPv4-mapped client is an IPv4 client */
	assert_int_equal(spf_addr_parse("::ffff:192.0.2.1", &b), 0);
	assert_int_equal(b.family, 4);
	assert_memory_equal(a.addr, b.addr, 4);
	assert_int_equal(spf_addr_parse("::FFFF:c000:201", &b), 0);
	assert_int_equal(b.family, 4);
	assert_int_equal(spf_addr_parse("2001:db8::1", &a), 0);
	assert_int_equal(a.family, 6);
	assert_int_equal(spf_addr_parse("::192.0.2.1", &a), 0);
	assert_int_equal(a.family, 6);
	assert_int_equal(spf_addr_parse("mail.example.org", &a), -1);
	assert_int_equal(spf_addr_parse("", &a), -1);
	assert_int_equal(spf_addr_parse(NULL, &a), -1);
	assert_int_equal(spf_addr_parse("192.0.2.1 ", &a), -1);

	assert_int_equal(spf_addr_parse_ip4(PST_STR_LIT("0.0.0.0"), &a), 0);
	assert_int_equal(spf_addr_parse_ip4(PST_STR_LIT("1.2.3.04"), &a), -1);
	assert_int_equal(spf_addr_parse_ip4(PST_STR_LIT("1.2.3.1000"), &a), -1);
	assert_int_equal(spf_addr_parse_ip4(PST_STR_LIT("1.2.3."), &a), -1);
	assert_int_equal(spf_addr_parse_ip4(PST_STR_LIT(".1.2.3"), &a), -1);
	assert_int_equal(spf_addr_parse_ip6(PST_STR_LIT("::"), &a), 0);
	assert_int_equal(
		spf_addr_parse_ip6(PST_STR_LIT("1:2:3:4:5:6:7:8:9"), &a), -1);
	assert_int_equal(spf_addr_parse_ip6(PST_STR_LIT(" ::1"), &a), -1);

	/* prefixes */
	assert_int_equal(spf_addr_parse("192.0.2.130", &a), 0);
	assert_int_equal(spf_addr_parse("192.0.2.1", &b), 0);
	assert_true(spf_addr_match(&a, &b, 24));
	assert_true(spf_addr_match(&a, &b, 0));
	assert_false(spf_addr_match(&a, &b, 25));
	assert_true(spf_addr_match(&b, &b, 32));
	assert_int_equal(spf_addr_parse("2001:db8::1", &b), 0);
	assert_false(spf_addr_match(&a, &b, 0)); /* families differ */
	assert_int_equal(spf_addr_parse("2001:db8:1fff::1", &a), 0);
	assert_true(spf_addr_match(&a, &b, 32));
	assert_true(spf_addr_match(&a, &b, 35));
	assert_false(spf_addr_match(&a, &b, 36));

	/* the names that ptr looks up */
	assert_int_equal(spf_addr_parse("192.0.2.3", &a), 0);
	assert_string_equal(spf_addr_reverse(arena, &a),
			    "3.2.0.192.in-addr.arpa");
	assert_int_equal(spf_addr_parse("2001:db8::cb01", &a), 0);
	assert_string_equal(spf_addr_reverse(arena, &a),
			    "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
			    "8.B.D.0.1.0.0.2.ip6.arpa");
	pst_arena_free(&arena);
}

/* Name checks used by initial processing and lookups (4.3). */
static void
test_names(void **state)
{
	(void)state;
	assert_true(spf_name_valid("example.org", 11));
	assert_true(spf_name_valid("example.org.", 12));
	assert_false(spf_name_valid("example..org", 12));
	assert_false(spf_name_valid(".example.org", 12));
	assert_false(spf_name_valid(".", 1));
	assert_false(spf_name_valid("", 0));
	assert_true(spf_name_valid(L63 ".org", 67));
	assert_false(spf_name_valid(L63 "x.org", 68));
	assert_true(spf_toplabel_valid("org", 3));
	assert_true(spf_toplabel_valid("a1", 2));
	assert_true(spf_toplabel_valid("1a", 2));
	assert_true(spf_toplabel_valid("1-2", 3));
	assert_false(spf_toplabel_valid("123", 3));
	assert_false(spf_toplabel_valid("-a", 2));
	assert_false(spf_toplabel_valid("a-", 2));
	assert_false(spf_toplabel_valid("", 0));
	assert_true(spf_name_eq("Example.ORG.", "example.org"));
	assert_false(spf_name_eq("example.org", "example.net"));
	assert_true(spf_name_within("mail.example.org", "example.org"));
	assert_true(spf_name_within("example.org", "Example.org."));
	assert_false(spf_name_within("badexample.org", "example.org"));
	assert_false(spf_name_within("org", "example.org"));
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_expansion_bound),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_names),
	};
	struct CMUnitTest tests[N_CASES + sizeof(more) / sizeof(more[0])];
	size_t n = 0;

	for (size_t i = 0; i < N_CASES; i++) {
		struct CMUnitTest t =
			cmocka_unit_test_prestate(test_case, (void *)&cases[i]);

		t.name = cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("spf_macro", tests, n, NULL, NULL);
}
