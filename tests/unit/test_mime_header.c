/*
 * test_mime_header.c - the header grammar under the MIME parser:
 * unfolding, RFC 2047 encoded words in many charsets, parameters (quoting,
 * escapes, comments, RFC 2231 continuations and charsets, duplicates,
 * missing values), Content-Type, Content-Disposition and
 * Content-Transfer-Encoding.  One cmocka test per table row.
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
#include "mime_header.h"

#define S(lit) lit, sizeof(lit) - 1

static struct pst_str
str_of(const char *s, size_t n)
{
	return (struct pst_str){ s, n };
}

static void
assert_str_eq(struct pst_str got, const char *want, size_t want_len)
{
	if (got.len != want_len || memcmp(got.p, want, want_len) != 0) {
		print_error("got \"%.*s\" (%zu), want \"%.*s\" (%zu)\n",
			    (int)got.len, got.p, got.len, (int)want_len, want,
			    want_len);
		fail();
	}
	/* Every string handed out is NUL-terminated as well. */
	assert_int_equal(got.p[got.len], '\0');
}

/* ---- unfolding ---- */

struct unfold_case {
	const char *name;
	const char *in;
	size_t in_len;
	const char *want;
	size_t want_len;
};

static const struct unfold_case unfold_cases[] = {
	{ "unfold: trims blanks", S("  simple  "), S("simple") },
	{ "unfold: CRLF fold", S(" a\r\n b"), S("a b") },
	{ "unfold: LF fold keeps the tab", S("a\n\tb"), S("a\tb") },
	{ "unfold: several folds", S("a\r\n  \r\n b"), S("a   b") },
	{ "unfold: fold right after the colon", S("\r\n x"), S("x") },
	{ "unfold: trailing line break", S(" x\r\n"), S("x") },
	{ "unfold: empty", S(""), S("") },
	{ "unfold: inner CR kept", S("a\rb"), S("a\rb") },
};

static void
test_unfold(void **state)
{
	const struct unfold_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_str out;

	assert_int_equal(
		mime_header_unfold(arena, str_of(c->in, c->in_len), &out), 0);
	assert_str_eq(out, c->want, c->want_len);
	pst_arena_free(&arena);
}

/* ---- RFC 2047 and RFC 6532 decoding ---- */

struct decode_case {
	const char *name;
	const char *in;
	size_t in_len;
	const char *want;
	size_t want_len;
	uint64_t defects;
};

#define EW MIME_D_ENCODED_WORD
#define U8 MIME_D_HEADER_BAD_UTF8

static const struct decode_case decode_cases[] = {
	{ "2047: plain ASCII untouched", S("Hello world"), S("Hello world"),
	  0 },
	{ "2047: B word", S("=?utf-8?B?w6lt?="), S("\xc3\xa9m"), 0 },
	{ "2047: Q word latin-1", S("=?iso-8859-1?Q?caf=E9?="),
	  S("caf\xc3\xa9"), 0 },
	{ "2047: Q underscore is a space", S("=?utf-8?q?a_b?="), S("a b"), 0 },
	{ "2047: lower-case b and upper-case charset", S("=?UTF-8?b?w6lt?="),
	  S("\xc3\xa9m"), 0 },
	{ "2047: blanks between adjacent words vanish",
	  S("=?utf-8?q?a?= =?utf-8?q?b?="), S("ab"), 0 },
	{ "2047: folding blanks between words vanish",
	  S("=?utf-8?q?a?= \t  =?utf-8?q?b?="), S("ab"), 0 },
	{ "2047: blank between word and text kept", S("=?utf-8?q?a?= b"),
	  S("a b"), 0 },
	{ "2047: text then word", S("x =?utf-8?q?a?="), S("x a"), 0 },
	{ "2047: word glued to text decoded (clients do)", S("x=?utf-8?q?a?=y"),
	  S("xay"), 0 },
	{ "2047: UTF-8 character split over two B words",
	  S("=?utf-8?B?ww==?= =?utf-8?B?qQ==?="), S("\xc3\xa9"), 0 },
	{ "2047: adjacent words in two charsets",
	  S("=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?="), S("\xc3\xa9\xc3\xa9"),
	  0 },
	{ "2047: subject with words and text",
	  S("Re: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Bern"),
	  S("Re: Gr\xc3\xbc\xc3\x9f"
	    "e aus Bern"),
	  0 },
	{ "2047: RFC 2231 language in charset", S("=?utf-8*en?q?hi?="), S("hi"),
	  0 },
	{ "2047: empty encoded text", S("a =?utf-8?q?\?= b"), S("a  b"), 0 },
	/* found by fuzz_mime: a word that converts to nothing */
	{ "2047: only an empty word", S("=?iso-8859-1?q?\?="), S(""), 0 },
	{ "2047: malformed, no end, left as is", S("=?utf-8?q?abc"),
	  S("=?utf-8?q?abc"), EW },
	{ "2047: malformed, '?' inside, left as is", S("=?utf-8?q?a?b?= x"),
	  S("=?utf-8?q?a?b?= x"), EW },
	{ "2047: unknown encoding letter is no word", S("=?utf-8?x?abc?="),
	  S("=?utf-8?x?abc?="), 0 },
	{ "2047: empty charset is no word", S("=?\?q?abc?="), S("=?\?q?abc?="),
	  0 },
	{ "2047: '=?' in text is no word", S("what=?"), S("what=?"), 0 },
	{ "2047: unknown charset decoded as UTF-8, flagged",
	  S("=?x-unknown?q?hi?="), S("hi"), MIME_D_CHARSET_UNKNOWN },
	{ "2047: garbage in a B word", S("=?utf-8?B?w6l!t?="), S("\xc3\xa9m"),
	  EW },
	{ "2047: bad Q escape kept", S("=?utf-8?q?a=ZZ?="), S("a=ZZ"), EW },
	{ "2047: windows-1252 euro", S("=?windows-1252?q?=80?="),
	  S("\xe2\x82\xac"), 0 },
	{ "2047: koi8-r", S("=?koi8-r?B?8NLJ18XU?="),
	  S("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"), 0 },
	{ "2047: windows-1251", S("=?windows-1251?B?z/Do4uXy?="),
	  S("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"), 0 },
	{ "2047: iso-2022-jp", S("=?iso-2022-jp?B?GyRCRnxLXDhsGyhC?="),
	  S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), 0 },
	{ "2047: shift_jis", S("=?shift_jis?B?k/qWe4zq?="),
	  S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), 0 },
	{ "2047: euc-jp", S("=?euc-jp?B?xvzL3Ljs?="),
	  S("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), 0 },
	{ "2047: gb2312", S("=?gb2312?B?1tDOxA==?="),
	  S("\xe4\xb8\xad\xe6\x96\x87"), 0 },
	{ "2047: gbk", S("=?gbk?B?1tDOxA==?="), S("\xe4\xb8\xad\xe6\x96\x87"),
	  0 },
	{ "2047: big5", S("=?big5?B?pKSk5Q==?="), S("\xe4\xb8\xad\xe6\x96\x87"),
	  0 },
	{ "2047: euc-kr", S("=?euc-kr?B?x9Gxub7u?="),
	  S("\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4"), 0 },
	{ "2047: iso-8859-15", S("=?iso-8859-15?B?pHVybw==?="),
	  S("\xe2\x82\xac"
	    "uro"),
	  0 },
	{ "2047: iso-8859-2", S("=?iso-8859-2?B?o/NkvA==?="),
	  S("\xc5\x81\xc3\xb3"
	    "d\xc5\xba"),
	  0 },
	{ "2047: iso-8859-7", S("=?iso-8859-7?B?xevr3OTh?="),
	  S("\xce\x95\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1"), 0 },
	{ "2047: utf-16be", S("=?utf-16be?B?AGgA6Q==?="), S("h\xc3\xa9"), 0 },
	{ "6532: raw UTF-8 kept",
	  S("Gr\xc3\xbc\xc3\x9f"
	    "e"),
	  S("Gr\xc3\xbc\xc3\x9f"
	    "e"),
	  0 },
	{ "6532: invalid 8-bit becomes U+FFFD", S("caf\xe9!"),
	  S("caf\xef\xbf\xbd!"), U8 },
	{ "6532: NUL kept and flagged", S("a\0b"), S("a\0b"),
	  MIME_D_HEADER_NUL },
};

static void
test_decode(void **state)
{
	const struct decode_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_str out;
	uint64_t defects = 0;

	assert_int_equal(mime_header_decode(arena, str_of(c->in, c->in_len),
					    &out, &defects),
			 0);
	if (c->want_len > 0 || out.len > 0)
		assert_str_eq(out, c->want, c->want_len);
	assert_int_equal(defects, c->defects);
	pst_arena_free(&arena);
}

/* ---- parameters ---- */

struct param_case {
	const char *name;
	const char *in;	   /* a Content-Disposition value */
	const char *param; /* looked up with mime_param_get() */
	const char *want;  /* NULL: absent */
	size_t want_len;
	const char *alt; /* NULL: none */
	unsigned flags;
	uint64_t defects;
	unsigned nparams;
};

#define Q MIME_PARAM_QUOTED
#define X MIME_PARAM_EXTENDED
#define C MIME_PARAM_CONTINUED
#define W MIME_PARAM_ENCODED_WORD
#define NV MIME_PARAM_NO_VALUE
#define SYN MIME_D_PARAM_SYNTAX
#define R2231 MIME_D_PARAM_RFC2231
#define DUP MIME_D_PARAM_DUPLICATE

static const struct param_case param_cases[] = {
	{ "param: token value", "attachment; filename=a.pdf", "filename",
	  S("a.pdf"), NULL, 0, 0, 1 },
	{ "param: quoted value", "attachment; filename=\"a b.pdf\"", "filename",
	  S("a b.pdf"), NULL, Q, 0, 1 },
	{ "param: quoted-pair escapes", "attachment; filename=\"a\\\"b\\\\c\"",
	  "filename", S("a\"b\\c"), NULL, Q, 0, 1 },
	{ "param: name is case-insensitive", "attachment; FileName=x",
	  "filename", S("x"), NULL, 0, 0, 1 },
	{ "param: comments and blanks around",
	  "attachment (c) ; (d) filename (e) = (f) x.pdf (g)", "filename",
	  S("x.pdf"), NULL, 0, 0, 1 },
	{ "param: semicolon inside quotes", "attachment; filename=\"a;b\"",
	  "filename", S("a;b"), NULL, Q, 0, 1 },
	{ "param: unquoted value with spaces, first word as alternative",
	  "attachment; filename=my file.exe", "filename", S("my file.exe"),
	  "my", 0, SYN, 1 },
	{ "param: junk after the closing quote",
	  "attachment; filename=\"a.txt\"x.exe", "filename", S("a.txt"),
	  "a.txtx.exe", Q, SYN, 1 },
	{ "param: missing value", "attachment; filename; size=3", "filename",
	  S(""), NULL, NV, SYN, 2 },
	{ "param: missing close quote", "attachment; filename=\"abc.exe",
	  "filename", S("abc.exe"), NULL, Q, SYN, 1 },
	{ "param: empty segments skipped", "attachment;; ;filename=x;",
	  "filename", S("x"), NULL, 0, 0, 1 },
	{ "param: RFC 2047 word in a quoted value (Outlook)",
	  "attachment; filename=\"=?utf-8?B?w6k=?=.pdf\"", "filename",
	  S("\xc3\xa9.pdf"), NULL, Q | W, 0, 1 },
	{ "param: RFC 2047 word in an unquoted value",
	  "attachment; filename==?utf-8?Q?evil=2Eexe?=", "filename",
	  S("evil.exe"), NULL, W, 0, 1 },
	{ "param: NUL from an encoded word, text before it as alternative",
	  "attachment; filename=\"=?utf-8?q?evil.exe=00.txt?=\"", "filename",
	  S("evil.exe\0.txt"), "evil.exe", Q | W, MIME_D_HEADER_NUL, 1 },
	{ "2231: extended value", "attachment; filename*=utf-8''%E2%82%AC%20x",
	  "filename", S("\xe2\x82\xac x"), NULL, X, 0, 1 },
	{ "2231: charset and language",
	  "attachment; filename*=iso-8859-1'en'caf%E9", "filename",
	  S("caf\xc3\xa9"), NULL, X, 0, 1 },
	{ "2231: lower-case hex", "attachment; filename*=utf-8''%c3%a9",
	  "filename", S("\xc3\xa9"), NULL, X, 0, 1 },
	{ "2231: continuations",
	  "attachment; filename*0=\"a\"; filename*1=\"b.txt\"", "filename",
	  S("ab.txt"), NULL, C | Q, 0, 1 },
	{ "2231: continuations with charset",
	  "attachment; filename*0*=utf-8''%C3%A9; filename*1=\".txt\"",
	  "filename", S("\xc3\xa9.txt"), NULL, C | X, 0, 1 },
	{ "2231: sections out of order", "attachment; name*1=b; name*0=a",
	  "name", S("ab"), NULL, C, 0, 1 },
	{ "2231: gap stops the value (Mozilla), all joined as alternative",
	  "attachment; name*0=a; name*2=c", "name", S("a"), "ac", C, R2231, 1 },
	{ "2231: duplicate section, first wins",
	  "attachment; name*0=a; name*0=x; name*1=b", "name", S("ab"), "axb", C,
	  R2231, 1 },
	{ "2231: leading zero section ignored",
	  "attachment; name*0=a; name*01=b", "name", S("a"), "ab", C, R2231,
	  1 },
	{ "2231: no section 0, joined reading",
	  "attachment; name*1=b; name*2=c", "name", S("bc"), NULL, C, R2231,
	  1 },
	/* found by fuzz_mime (clang UBSan: NULL + 0 on an empty buffer) */
	{ "2231: empty extended value", "attachment; name*=iso-8859-1''",
	  "name", S(""), NULL, X, 0, 1 },
	{ "2231: bad percent escape kept", "attachment; name*=utf-8''a%ZZb",
	  "name", S("a%ZZb"), NULL, X, R2231, 1 },
	{ "2231: extended value without quotes", "attachment; name*=abc",
	  "name", S("abc"), NULL, X, R2231, 1 },
	{ "2231: unknown charset", "attachment; name*=x-nope''abc", "name",
	  S("abc"), NULL, X, MIME_D_CHARSET_UNKNOWN, 1 },
	{ "2231: invalid UTF-8 replaced", "attachment; name*=utf-8''a%FFb",
	  "name",
	  S("a\xef\xbf\xbd"
	    "b"),
	  NULL, X, MIME_D_CHARSET_INVALID, 1 },
	{ "dup: same parameter twice, first wins",
	  "attachment; filename=a.txt; filename=b.exe", "filename", S("a.txt"),
	  NULL, 0, DUP, 2 },
	{ "dup: filename and filename* is not a duplicate, * wins",
	  "attachment; filename=basic.txt; filename*=utf-8''ext.exe",
	  "filename", S("ext.exe"), NULL, X, 0, 2 },
	{ "dup: continuation beats plain",
	  "attachment; filename=basic; filename*0=fo; filename*1=o", "filename",
	  S("foo"), NULL, C, 0, 2 },
	{ "dup: extended beats continuation and plain (Mozilla)",
	  "attachment; filename=basic; filename*=UTF-8''extended; "
	  "filename*0=foo; filename*1=bar",
	  "filename", S("extended"), NULL, X, 0, 3 },
	{ "param: absent", "inline", "filename", NULL, 0, NULL, 0, 0, 0 },
};

static void
test_param(void **state)
{
	const struct param_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_ctype cd;
	const struct mime_param *p;
	uint64_t defects = 0;

	assert_int_equal(mime_header_parse_disposition(arena,
						       pst_str_from_cstr(c->in),
						       &cd, &defects),
			 0);
	p = mime_param_get(cd.params, c->param);
	if (c->want == NULL) {
		assert_null(p);
	} else {
		assert_non_null(p);
		assert_str_eq(p->value, c->want, c->want_len);
		if (c->alt == NULL)
			assert_null(p->alt[0].p);
		else
			assert_str_eq(p->alt[0], c->alt, strlen(c->alt));
		assert_int_equal(p->flags, c->flags);
	}
	assert_int_equal(defects, c->defects);
	assert_int_equal(cd.nparams, c->nparams);
	pst_arena_free(&arena);
}

/* ---- Content-Type and Content-Disposition values ---- */

struct ctype_case {
	const char *name;
	bool disposition;
	const char *in;
	const char *want;    /* NULL: not a valid value */
	const char *charset; /* value of "charset", or NULL */
	uint64_t defects;
};

static const struct ctype_case ctype_cases[] = {
	{ "type: simple", false, "text/plain", "text/plain", NULL, 0 },
	{ "type: lower-cased, parameter value kept", false,
	  "Text/HTML; Charset=UTF-8", "text/html", "UTF-8", 0 },
	{ "type: comments (RFC 2045 example)", false,
	  "text/plain; charset=us-ascii (Plain text)", "text/plain", "us-ascii",
	  0 },
	{ "type: comment before the type", false,
	  "(c) multipart/mixed (x); boundary=b", "multipart/mixed", NULL, 0 },
	{ "type: blanks around the slash", false, "text / plain", "text/plain",
	  NULL, 0 },
	{ "type: no subtype", false, "text; charset=utf-8", NULL, "utf-8",
	  MIME_D_BAD_CONTENT_TYPE },
	{ "type: two slashes", false, "a/b/c", NULL, NULL,
	  MIME_D_BAD_CONTENT_TYPE },
	{ "type: empty", false, "", NULL, NULL, MIME_D_BAD_CONTENT_TYPE },
	{ "type: junk after the subtype", false, "text/plain junk",
	  "text/plain", NULL, SYN },
	{ "type: trailing semicolon", false, "text/plain;", "text/plain", NULL,
	  0 },
	{ "type: 8-bit type is invalid", false, "t\xc3\xa9xt/plain", NULL, NULL,
	  MIME_D_BAD_CONTENT_TYPE },
	{ "disposition: lower-cased", true, "ATTACHMENT; filename=x",
	  "attachment", NULL, 0 },
	{ "disposition: missing ';' still finds parameters", true,
	  "attachment filename=x", "attachment", NULL, SYN },
	{ "disposition: empty", true, "", NULL, NULL, 0 },
};

static void
test_ctype(void **state)
{
	const struct ctype_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_ctype v;
	const struct mime_param *cs;
	uint64_t defects = 0;
	int rc;

	if (c->disposition)
		rc = mime_header_parse_disposition(
			arena, pst_str_from_cstr(c->in), &v, &defects);
	else
		rc = mime_header_parse_content_type(
			arena, pst_str_from_cstr(c->in), &v, &defects);
	assert_int_equal(rc, 0);
	if (c->want == NULL)
		assert_null(v.value);
	else
		assert_string_equal(v.value, c->want);
	cs = mime_param_get(v.params, "charset");
	if (c->charset == NULL)
		assert_null(cs);
	else
		assert_string_equal(cs->value.p, c->charset);
	if (c->disposition && strstr(c->in, "filename") != NULL)
		assert_non_null(mime_param_get(v.params, "filename"));
	assert_int_equal(defects, c->defects);
	pst_arena_free(&arena);
}

/* ---- Content-Transfer-Encoding ---- */

struct cte_case {
	const char *name;
	const char *in;
	enum mime_encoding want;
	const char *token;
	uint64_t defects;
};

static const struct cte_case cte_cases[] = {
	{ "cte: base64 with blanks and case", "  BASE64  ", MIME_ENC_BASE64,
	  "BASE64", 0 },
	{ "cte: quoted-printable with a comment", "quoted-printable (qp)",
	  MIME_ENC_QP, "quoted-printable", 0 },
	{ "cte: x-uuencode", "x-uuencode", MIME_ENC_UUENCODE, "x-uuencode", 0 },
	{ "cte: 8bit", "8bit", MIME_ENC_8BIT, "8bit", 0 },
	{ "cte: unknown token", "x-foo", MIME_ENC_UNKNOWN, "x-foo",
	  MIME_D_UNKNOWN_CTE },
	{ "cte: empty means 7bit", "", MIME_ENC_7BIT, "", 0 },
	{ "cte: junk after the token", "base64 garbage", MIME_ENC_BASE64,
	  "base64", SYN },
};

static void
test_cte(void **state)
{
	const struct cte_case *c = *state;
	struct pst_str tok;
	uint64_t defects = 0;

	assert_int_equal(
		mime_header_parse_cte(pst_str_from_cstr(c->in), &tok, &defects),
		c->want);
	assert_int_equal(tok.len, strlen(c->token));
	assert_memory_equal(tok.p, c->token, tok.len);
	assert_int_equal(defects, c->defects);
}

/* ---- single tests ---- */

/* Nothing to do: the input itself comes back, no copy. */
static void
test_no_copy(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	static const char raw[] = " text/plain";
	struct pst_str out, dec;
	uint64_t defects = 0;

	(void)state;
	assert_int_equal(
		mime_header_unfold(arena, pst_str_from_cstr(raw), &out), 0);
	assert_ptr_equal(out.p, raw + 1);
	assert_int_equal(mime_header_decode(arena, out, &dec, &defects), 0);
	assert_ptr_equal(dec.p, out.p);
	pst_arena_free(&arena);
}

/* Every parameter is listed, in order, duplicates included. */
static void
test_param_list(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_ctype ct;
	const struct mime_param *p;
	uint64_t defects = 0;
	const char *want[] = { "boundary", "name", "boundary", "charset" };
	unsigned k = 0;

	(void)state;
	assert_int_equal(
		mime_header_parse_content_type(
			arena,
			pst_str_from_cstr("multipart/mixed; boundary=a;"
					  " name*0=x; name*1=y; "
					  "boundary=\"b\"; charset=c"),
			&ct, &defects),
		0);
	for (p = ct.params; p != NULL; p = p->next) {
		assert_true(k < 4);
		assert_string_equal(p->name, want[k]);
		k++;
	}
	assert_int_equal(k, 4);
	assert_int_equal(ct.nparams, 4);
	assert_string_equal(mime_param_get(ct.params, "boundary")->value.p,
			    "a");
	assert_int_equal(defects, MIME_D_PARAM_DUPLICATE);
	pst_arena_free(&arena);
}

/* Duplicate RFC 2231 sections: first wins (Mozilla); every section
 * joined (Python) and the last of each (others) are the alternatives. */
static void
test_section_readings(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_ctype cd;
	const struct mime_param *p;
	uint64_t defects = 0;

	(void)state;
	assert_int_equal(
		mime_header_parse_disposition(
			arena,
			pst_str_from_cstr("attachment; filename*0=evil; "
					  "filename*1=.txt; "
					  "filename*1=.exe"),
			&cd, &defects),
		0);
	p = mime_param_get(cd.params, "filename");
	assert_non_null(p);
	assert_string_equal(p->value.p, "evil.txt");
	assert_string_equal(p->alt[0].p, "evil.txt.exe");
	assert_string_equal(p->alt[1].p, "evil.exe");
	assert_null(p->alt[2].p);
	assert_int_equal(defects, MIME_D_PARAM_RFC2231);
	pst_arena_free(&arena);
}

static void
test_name_valid(void **state)
{
	(void)state;
	assert_true(mime_header_name_valid(S("Content-Type")));
	assert_true(mime_header_name_valid(S("X-Weird!#$")));
	assert_false(mime_header_name_valid(S("")));
	assert_false(mime_header_name_valid(S("A B")));
	assert_false(mime_header_name_valid(S("A:B")));
	assert_false(mime_header_name_valid(S("N\xc3\xa4me")));
}

/* A very long value with thousands of parameters stays linear. */
static void
test_many_params(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	char buf[64 * 1024];
	struct mime_ctype ct;
	uint64_t defects = 0;
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(buf, sizeof(buf), "attachment");
	for (unsigned k = 0; n + 32 < sizeof(buf); k++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; name*%u=a%u",
				      k % 1000, k);
	assert_int_equal(mime_header_parse_disposition(arena, str_of(buf, n),
						       &ct, &defects),
			 0);
	assert_int_equal(ct.nparams, 1);
	assert_non_null(mime_param_get(ct.params, "name"));
	assert_true(defects & MIME_D_PARAM_RFC2231);
	pst_arena_free(&arena);
}

static void
test_defect_maps(void **state)
{
	(void)state;
	assert_int_equal(mime_defects_from_decoder(DECODE_D_B64_GARBAGE |
						   DECODE_D_UU_NO_END),
			 MIME_D_B64_GARBAGE | MIME_D_UU_NO_END);
	assert_int_equal(mime_defects_from_decoder(DECODE_D_QP_BAD_ESCAPE),
			 MIME_D_QP_BAD_ESCAPE);
	assert_int_equal(mime_defects_from_charset(0), 0);
}

#define N(t) (sizeof(t) / sizeof((t)[0]))

#define ADD_TABLE(table, fn)                                                   \
	for (size_t i = 0; i < N(table); i++) {                                \
		struct CMUnitTest t =                                          \
			cmocka_unit_test_prestate(fn, (void *)&table[i]);      \
		t.name = table[i].name;                                        \
		tests[n++] = t;                                                \
	}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_no_copy),
		cmocka_unit_test(test_param_list),
		cmocka_unit_test(test_section_readings),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_many_params),
		cmocka_unit_test(test_defect_maps),
	};
	struct CMUnitTest tests[N(unfold_cases) + N(decode_cases) +
				N(param_cases) + N(ctype_cases) + N(cte_cases) +
				N(more)];
	size_t n = 0;

	ADD_TABLE(unfold_cases, test_unfold);
	ADD_TABLE(decode_cases, test_decode);
	ADD_TABLE(param_cases, test_param);
	ADD_TABLE(ctype_cases, test_ctype);
	ADD_TABLE(cte_cases, test_cte);
	for (size_t i = 0; i < N(more); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("mime_header", tests, n, NULL, NULL);
}
