/*
 * fuzz_html_text.c - libFuzzer target for HTML to text, URL extraction
 * and URL domains: any bytes, never a crash, output bounded by the
 * buffer's limit, every URL inside the text it came from.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "html_text.h"
#include "url_extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

struct span {
	const char *p;
	size_t len;
};

static int
check_url(void *arg, const char *url, size_t len)
{
	const struct span *s = arg;
	char host[URL_DOMAIN_MAX + 1];
	size_t hl;

	if (s != NULL)
		CHECK(url >= s->p && url + len <= s->p + s->len);
	CHECK(len > 0);
	hl = url_domain(url, len, host, sizeof(host));
	CHECK(hl <= URL_DOMAIN_MAX && strlen(host) == hl);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pst_buf out;
	struct span s = { (const char *)data, size };
	int rc;

	pst_buf_init(&out, 1 << 20);
	rc = html_text((const char *)data, size, &out, check_url, NULL);
	CHECK(rc == 0 || rc == -1);
	CHECK(out.len <= (1u << 20));
	CHECK(url_extract((const char *)data, size, check_url, &s) == 0);
	pst_buf_free(&out);
	return 0;
}
