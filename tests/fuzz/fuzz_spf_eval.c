/*
 * fuzz_spf_eval.c - libFuzzer target for check_host() over a zone the
 * input describes, so that includes, redirects, loops, limits, PTR
 * validation and exp= meet hostile data together.
 *
 * Input: a first byte of options (client family, HELO or MAIL FROM,
 * explanation wanted), then lines "name T data" where T is t (TXT), a
 * (A), q (AAAA), m (MX), p (PTR) or x (the query fails).  A and AAAA
 * data starting with '1' is the client's address, anything else another
 * one.  The sender is user@example.org, the HELO mx.example.org.
 * Beyond "no crash": the result is one of the seven, a problem text
 * comes with the errors and only with them, the query budget holds,
 * and an explanation is printable US-ASCII.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "spf.h"

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct line {
	const char *name;
	size_t name_len;
	char type;
	const char *data;
	size_t data_len;
};

struct zone {
	struct line lines[MAX_LINES];
	size_t n;
	unsigned queries;
	int family;
};

static int
type_char(int type)
{
	switch (type) {
	case SPF_DNS_TXT:
		return 't';
	case SPF_DNS_A:
		return 'a';
	case SPF_DNS_AAAA:
		return 'q';
	case SPF_DNS_MX:
		return 'm';
	default:
		return 'p';
	}
}

static int
query(void *ctx, struct pst_arena *arena, const char *name, int type,
      struct spf_dns_answer *out)
{
	static const unsigned char v4[4] = { 192, 0, 2, 10 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d,
					      0xb8, [15] = 1 };
	struct zone *z = ctx;
	bool exists = false;

	z->queries++;
	if (name[0] == '\0' || strlen(name) > 253)
		abort();
	out->rr = pst_arena_calloc(arena, MAX_LINES, sizeof(*out->rr));
	out->count = 0;
	if (out->rr == NULL)
		return SPF_DNS_TEMPFAIL;
	for (size_t i = 0; i < z->n; i++) {
		const struct line *l = &z->lines[i];
		struct spf_dns_rr *rr;

		if (l->name_len != strlen(name) ||
		    strncasecmp(l->name, name, l->name_len) != 0)
			continue;
		exists = true;
		if (l->type == 'x')
			return SPF_DNS_TEMPFAIL;
		if (l->type != type_char(type))
			continue;
		rr = &out->rr[out->count++];
		rr->text = pst_arena_strndup(arena, l->data, l->data_len);
		rr->len = l->data_len;
		rr->pref = 10;
		if (l->data_len > 0 && l->data[0] == '1')
			memcpy(rr->addr, type == SPF_DNS_A ? v4 : v6,
			       type == SPF_DNS_A ? 4 : 16);
	}
	if (out->count > 0)
		return SPF_DNS_OK;
	return exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN;
}

static void
parse_zone(struct zone *z, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && z->n < MAX_LINES) {
		const char *end = memchr(s + i, '\n', len - i);
		size_t llen = end != NULL ? (size_t)(end - (s + i)) : len - i;
		const char *sp = memchr(s + i, ' ', llen);

		if (sp != NULL && (size_t)(sp - (s + i)) + 2 < llen &&
		    sp[2] == ' ') {
			struct line *l = &z->lines[z->n++];

			l->name = s + i;
			l->name_len = (size_t)(sp - (s + i));
			l->type = sp[1];
			l->data = sp + 3;
			l->data_len = llen - l->name_len - 3;
		}
		i += llen + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pst_arena *arena;
	struct zone z = { 0 };
	struct spf_dns dns = { .ctx = &z, .query = query };
	struct spf_request req = {
		.sender = "user@example.org",
		.helo = "mx.example.org",
		.receiver = "rx.example.net",
		.default_exp = "denied by %{d}",
		.now = 1700000000,
	};
	struct spf_response resp;
	bool error;

	if (size == 0)
		return 0;
	if (spf_addr_parse((data[0] & 1) ? "2001:db8::1" : "192.0.2.10",
			   &req.ip) < 0)
		abort();
	if (data[0] & 4)
		req.flags = SPF_F_EXPLAIN;
	parse_zone(&z, (const char *)data + 1, size - 1);
	arena = pst_arena_new(0);
	if (arena == NULL)
		return 0;
	if (data[0] & 2)
		spf_check_helo(&req, &dns, arena, &resp);
	else
		spf_check_mailfrom(&req, &dns, arena, &resp);
	if ((int)resp.result < SPF_RESULT_NONE ||
	    resp.result > SPF_RESULT_PERMERROR)
		abort();
	error = resp.result == SPF_RESULT_TEMPERROR ||
		resp.result == SPF_RESULT_PERMERROR;
	if (error != (resp.problem != NULL) ||
	    (error && resp.mechanism != NULL))
		abort();
	if (resp.queries != z.queries || resp.queries > 400 ||
	    resp.dns_terms > 11 || resp.voids > 3)
		abort();
	if (resp.explanation != NULL) {
		if (resp.result != SPF_RESULT_FAIL ||
		    !(req.flags & SPF_F_EXPLAIN))
			abort();
		for (const char *p = resp.explanation; *p != '\0'; p++)
			if ((unsigned char)*p < ' ' || (unsigned char)*p > '~')
				abort();
	}
	pst_arena_free(&arena);
	return 0;
}
