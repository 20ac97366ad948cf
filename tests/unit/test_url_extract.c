/*
 * test_url_extract.c - URLs found in text as a mail client links them,
 * and their domains as rules compare them.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "url_extract.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct found {
	char text[1024];
	size_t n;
};

static int
collect(void *arg, const char *url, size_t len)
{
	struct found *f = arg;
	size_t used = strlen(f->text);

	snprintf(f->text + used, sizeof(f->text) - used, "%s%.*s",
		 used ? " | " : "", (int)len, url);
	f->n++;
	return 0;
}

static void
test_extract(void **state)
{
	static const struct {
		const char *text, *want;
	} rows[] = {
		{ "see https://example.com/a?b=c.",
		  "https://example.com/a?b=c" },
		{ "HTTP://Example.COM", "HTTP://Example.COM" },
		{ "(http://example.org/x_(y))", "http://example.org/x_(y)" },
		{ "(see http://example.org/x)", "http://example.org/x" },
		{ "go to www.example.net, now", "www.example.net" },
		{ "<http://a.example/>", "http://a.example/" },
		{ "http:\\\\evil.example\\x", "http:\\\\evil.example\\x" },
		{ "two: ftp://f.example/x http://h.example",
		  "ftp://f.example/x | http://h.example" },
		{ "nohttp://x.example", "" },
		{ "awww.example.com", "" },
		{ "http://", "" },
		{ "mailto:a@example.com", "" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct found f = { .text = "" };

		assert_int_equal(url_extract(rows[i].text, strlen(rows[i].text),
					     collect, &f),
				 0);
		if (strcmp(f.text, rows[i].want) != 0)
			fail_msg("row %zu: got '%s', want '%s'", i, f.text,
				 rows[i].want);
	}
}

static int
stop_at_first(void *arg, const char *url, size_t len)
{
	(void)url;
	(void)len;
	(*(int *)arg)++;
	return 7;
}

static void
test_stop_and_bound(void **state)
{
	static char big[3 * URL_EXTRACT_MAX];
	int calls = 0;
	struct found f = { .text = "" };

	(void)state;
	assert_int_equal(url_extract("http://a.example http://b.example", 33,
				     stop_at_first, &calls),
			 7);
	assert_int_equal(calls, 1);
	/* a URL longer than the limit is cut, the rest read as text */
	memcpy(big, "http://x.example/", 17);
	memset(big + 17, 'a', sizeof(big) - 17);
	assert_int_equal(url_extract(big, sizeof(big), collect, &f), 0);
	assert_true(f.n >= 1);
}

static void
test_domain(void **state)
{
	static const struct {
		const char *url, *want;
	} rows[] = {
		{ "https://User:pw@Example.COM.:8080/x", "example.com" },
		{ "http://a@b@evil.example/", "evil.example" },
		{ "www.Example.org/path", "www.example.org" },
		{ "www.example.org:8080", "www.example.org" },
		{ "http://[2001:db8::1]:80/", "2001:db8::1" },
		{ "http:\\\\evil.example\\x", "evil.example" },
		{ "http://%65vil.example/", "evil.example" },
		{ "http://host.example?q", "host.example" },
		{ "http://host.example#f", "host.example" },
		{ "http:///", "" },
		{ "http://a%00b.example/", "" },
		{ "http://a\x01b.example/", "" },
	};
	char out[URL_DOMAIN_MAX + 1];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		size_t n = url_domain(rows[i].url, strlen(rows[i].url), out,
				      sizeof(out));

		assert_int_equal(n, strlen(rows[i].want));
		assert_string_equal(out, rows[i].want);
	}
	/* no room: nothing, not a cut name */
	assert_int_equal(url_domain("http://example.com", 18, out, 4), 0);
	assert_string_equal(out, "");
	/* refused after some of the host was written: out is "" */
	assert_int_equal(
		url_domain("http://exa mple.com/", 20, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract),
		cmocka_unit_test(test_stop_and_bound),
		cmocka_unit_test(test_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
