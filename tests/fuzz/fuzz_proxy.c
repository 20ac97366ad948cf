/*
 * fuzz_proxy.c - libFuzzer target for the PROXY protocol header parser.
 *
 * The input is what a balancer (or anyone) sends first.  Beyond "no
 * crash", it checks the contract smtpd relies on: a header never claims
 * more bytes than it was given, the same bytes without what follows
 * give the same header, every shorter prefix of a header only asks for
 * more, an error always has a text, and a v1 header stays within 107
 * bytes and a v2 header within its bound.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
same(const struct pst_proxy_header *a, const struct pst_proxy_header *b)
{
	return a->version == b->version && a->local == b->local &&
	       a->len == b->len && a->src.len == b->src.len &&
	       a->dst.len == b->dst.len &&
	       memcmp(&a->src.u, &b->src.u, sizeof(a->src.u)) == 0 &&
	       memcmp(&a->dst.u, &b->dst.u, sizeof(a->dst.u)) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pst_proxy_header h, again;
	const char *error = NULL;
	enum pst_proxy_status st = pst_proxy_parse(data, size, &h, &error);
	uint8_t *copy;

	switch (st) {
	case PST_PROXY_MORE:
		if (error != NULL)
			abort();
		return 0;
	case PST_PROXY_ERROR:
		if (error == NULL || error[0] == '\0')
			abort();
		return 0;
	case PST_PROXY_DONE:
		break;
	default:
		abort();
	}
	if (h.len == 0 || h.len > size || (h.version != 1 && h.version != 2))
		abort();
	if (h.version == 1 && h.len > PST_PROXY_V1_MAX)
		abort();
	if (h.version == 2 && h.len > 16 + PST_PROXY_V2_MAX_PAYLOAD)
		abort();
	if (!h.local && h.src.u.sa.sa_family != AF_INET &&
	    h.src.u.sa.sa_family != AF_INET6)
		abort();
	if (h.local && h.src.u.sa.sa_family != AF_UNSPEC)
		abort();
	/* The header alone, in a buffer of its own size (ASan sees any
	 * read past it), gives the same answer. */
	copy = malloc(h.len);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, h.len);
	if (pst_proxy_parse(copy, h.len, &again, &error) != PST_PROXY_DONE ||
	    !same(&h, &again))
		abort();
	/* Any shorter prefix only asks for more. */
	for (size_t n = 0; n < h.len; n += 1 + n / 8)
		if (pst_proxy_parse(copy, n, &again, &error) != PST_PROXY_MORE)
			abort();
	if (pst_proxy_parse(copy, h.len - 1, &again, &error) != PST_PROXY_MORE)
		abort();
	free(copy);
	return 0;
}
