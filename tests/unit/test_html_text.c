/*
 * test_html_text.c - HTML as a reader sees it: the text rules match,
 * and the links they check.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "html_text.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static int
collect(void *arg, const char *url, size_t len)
{
	char *acc = arg;
	size_t used = strlen(acc);

	snprintf(acc + used, 512 - used, "%s%.*s", used ? " | " : "", (int)len,
		 url);
	return 0;
}

static void
test_text(void **state)
{
	static const struct {
		const char *html, *want_text, *want_urls;
	} rows[] = {
		{ "<p>Hello <b>world</b></p>", "Hello world\n", "" },
		{ "ca<b></b>sino", "casino", "" },
		{ "<script>var casino=1;</script>ok", "ok", "" },
		{ "<STYLE>p{}</STYLE>ok<style type=x>q</style>", "ok", "" },
		{ "<!-- casino -->ok", "ok", "" },
		{ "a<br>b<div>c</div>", "a\nb\nc\n", "" },
		{ "&lt;&amp;&gt;&quot;&#39;&#x41;&#66;", "<&>\"'AB", "" },
		{ "AT&amp T &copy; 1&nbsp;2",
		  "AT& T \xc2\xa9 1\xc2\xa0"
		  "2",
		  "" },
		{ "&bogus; &#0; &#xD800;", "&bogus; \xef\xbf\xbd \xef\xbf\xbd",
		  "" },
		{ "a   \r\n  b", "a b", "" },
		{ "<a href=\"https://x.example/?a=1&amp;b=2\">x</a>", "x",
		  "https://x.example/?a=1&b=2" },
		{ "<A HREF='http://y.example'>y</A><img src=http://i.example/p>",
		  "y", "http://y.example | http://i.example/p" },
		{ "<a href=\" ht&#116;p://z.example \">z</a>", "z",
		  "http://z.example" },
		{ "<a href=\"htt\np://w.example\">w</a>", "w",
		  "http://w.example" },
		{ "<form action=\"https://f.example/login\">", "",
		  "https://f.example/login" },
		/* malformed: unclosed tag, comment, script */
		{ "text <a href=\"x", "text ", "x" },
		{ "a <!-- never closed", "a ", "" },
		{ "b <script>never closed", "b ", "" },
		{ "1 < 2 and 3 <4", "1 < 2 and 3 <4", "" },
		{ "</>x", "</>x", "" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct pst_buf out;
		char urls[512] = "";

		pst_buf_init(&out, 0);
		assert_int_equal(html_text(rows[i].html, strlen(rows[i].html),
					   &out, collect, urls),
				 0);
		if (strcmp(out.data ? out.data : "", rows[i].want_text) != 0 ||
		    strcmp(urls, rows[i].want_urls) != 0)
			fail_msg("row %zu: got '%s' [%s], want '%s' [%s]", i,
				 out.data ? out.data : "", urls,
				 rows[i].want_text, rows[i].want_urls);
		pst_buf_free(&out);
	}
}

static int
stop(void *arg, const char *url, size_t len)
{
	(void)arg;
	(void)url;
	(void)len;
	return 5;
}

static void
test_limits(void **state)
{
	struct pst_buf out;
	static char big[100000];

	(void)state;
	pst_buf_init(&out, 16);
	memset(big, 'x', sizeof(big));
	/* the buffer's limit: -1, what fit is kept */
	assert_int_equal(html_text(big, sizeof(big), &out, NULL, NULL), -1);
	assert_int_equal(out.len, 16);
	pst_buf_free(&out);
	pst_buf_init(&out, 0);
	assert_int_equal(
		html_text("<a href=x>a</a><a href=y>", 25, &out, stop, NULL),
		5);
	pst_buf_free(&out);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
