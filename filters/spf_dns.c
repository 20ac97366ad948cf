/*
 * spf_dns.c - the SPF evaluator's DNS interface (struct spf_dns, see
 * mail/spf.h) over the process's one resolver (util/dns.h).
 *
 * The evaluator asks at most a few dozen questions per check; each goes
 * to pst_dns_lookup_timeout() with what is left of the check's budget,
 * so a slow server gives temperror before the filter's own deadline
 * turns the whole call into a failure.  Answers are copied onto the
 * evaluator's arena.  Thread-safe as long as each check has its own
 * struct spf_dns_pst (the resolver itself is shared).
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "arena.h"
#include "spf_dmarc.h"

uint64_t
spf_dns_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

long
spf_dns_query_timeout(const struct spf_dns_pst *ctx, uint64_t now)
{
	uint64_t left;

	if (ctx->deadline == 0)
		return 0;
	if (now >= ctx->deadline)
		return -1;
	left = ctx->deadline - now;
	/* The resolver's own timeout applies while the budget allows it;
	 * only the last lookups are cut short. */
	return left >= PST_DNS_DEFAULT_TIMEOUT ? 0 : (long)left;
}

/* A name from an answer as the evaluator takes it (NUL-terminated). */
static int
spf_dns_copy_name(struct pst_arena *arena, const char *name,
		  struct spf_dns_rr *rr)
{
	rr->text = pst_arena_strdup(arena, name != NULL ? name : "");
	rr->len = 0;
	return rr->text != NULL ? 0 : -1;
}

static int
spf_dns_copy_rr(const struct pst_dns_rr *in, int type, struct pst_arena *arena,
		struct spf_dns_rr *out)
{
	char *text;

	memset(out, 0, sizeof(*out));
	switch (type) {
	case SPF_DNS_A:
		memcpy(out->addr, &in->a, 4);
		return 0;
	case SPF_DNS_AAAA:
		memcpy(out->addr, &in->aaaa, 16);
		return 0;
	case SPF_DNS_MX:
		out->pref = in->mx.pref;
		return spf_dns_copy_name(arena, in->mx.host, out);
	case SPF_DNS_PTR:
		return spf_dns_copy_name(arena, in->ptr, out);
	case SPF_DNS_TXT:
		/* binary-safe: the evaluator checks for NULs itself */
		text = pst_arena_alloc(arena, in->txt.len + 1);
		if (text == NULL)
			return -1;
		if (in->txt.len > 0)
			memcpy(text, in->txt.data, in->txt.len);
		text[in->txt.len] = '\0';
		out->text = text;
		out->len = in->txt.len;
		return 0;
	default:
		return -1;
	}
}

int
spf_dns_convert(const struct pst_dns_answer *in, int type,
		struct pst_arena *arena, struct spf_dns_answer *out)
{
	out->rr = NULL;
	out->count = 0;
	if (in == NULL)
		return SPF_DNS_TEMPFAIL;
	switch (in->status) {
	case PST_DNS_OK:
		break;
	case PST_DNS_NXDOMAIN:
	case PST_DNS_BADNAME:
		return SPF_DNS_NXDOMAIN;
	case PST_DNS_NODATA:
		return SPF_DNS_NODATA;
	case PST_DNS_TEMPFAIL:
	default:
		return SPF_DNS_TEMPFAIL;
	}
	if (in->n == 0)
		return SPF_DNS_NODATA;
	out->rr = pst_arena_calloc(arena, in->n, sizeof(*out->rr));
	if (out->rr == NULL)
		return SPF_DNS_TEMPFAIL;
	for (size_t i = 0; i < in->n; i++) {
		if (spf_dns_copy_rr(&in->rr[i], type, arena,
				    &out->rr[out->count]) < 0) {
			out->rr = NULL;
			out->count = 0;
			return SPF_DNS_TEMPFAIL;
		}
		out->count++;
	}
	return SPF_DNS_OK;
}

static int
spf_dns_pst_query(void *arg, struct pst_arena *arena, const char *name,
		  int type, struct spf_dns_answer *out)
{
	struct spf_dns_pst *ctx = arg;
	const struct pst_dns_answer *ans = NULL;
	long timeout;

	out->rr = NULL;
	out->count = 0;
	if (ctx->dns == NULL)
		return SPF_DNS_TEMPFAIL;
	switch (type) {
	case SPF_DNS_A:
	case SPF_DNS_AAAA:
	case SPF_DNS_MX:
	case SPF_DNS_PTR:
	case SPF_DNS_TXT:
		break;
	default:
		return SPF_DNS_TEMPFAIL;
	}
	timeout = spf_dns_query_timeout(ctx, spf_dns_now_ms());
	if (timeout < 0) {
		ctx->expired++;
		return SPF_DNS_TEMPFAIL;
	}
	ctx->queries++;
	pst_dns_lookup_timeout(ctx->dns, arena, name, (enum pst_dns_type)type,
			       (unsigned)timeout, &ans);
	return spf_dns_convert(ans, type, arena, out);
}

void
spf_dns_pst_init(struct spf_dns *dns_r, struct spf_dns_pst *ctx,
		 struct pst_dns *dns, unsigned budget_ms)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->dns = dns;
	ctx->deadline = budget_ms != 0 ? spf_dns_now_ms() + budget_ms : 0;
	if (dns_r == NULL)
		return;
	dns_r->ctx = ctx;
	dns_r->query = spf_dns_pst_query;
}
