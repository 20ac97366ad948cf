/*
 * spf_eval.c - check_host() of RFC 7208: record lookup and selection
 * (4.4, 4.5), mechanism evaluation (5), redirect= and exp= (6), with the
 * processing limits of 4.6.4.
 *
 * Every DNS question goes to the caller's struct spf_dns; every result
 * string is allocated on the caller's arena.  Recursion (include,
 * redirect) is bounded by the limit of 10 DNS-querying terms, and a
 * domain already being evaluated is refused as a loop.  The whole
 * evaluation makes at most MAX_QUERIES queries.  Thread-safe: all state
 * is in struct spf_eval on the stack.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "spf_int.h"

/* 10 terms of at most 1 + 10 queries, record lookups, ptr and exp: a
 * guard far above what the limits allow. */
#define MAX_QUERIES 400
/* include/redirect nesting: each costs a DNS term, so the limit of 10
 * is reached first. */
#define MAX_DEPTH (SPF_MAX_DNS_TERMS + 2)

enum ptr_state { PTR_UNKNOWN, PTR_TEMPFAIL, PTR_VOID, PTR_DONE };

struct spf_eval {
	const struct spf_request *req;
	const struct spf_dns *dns;
	struct pst_arena *arena;
	struct spf_addr ip;
	struct spf_macro_ctx mctx;
	unsigned terms, voids, queries, max_void;
	enum spf_result error; /* of the last failed step */
	const char *problem;
	const char *stack[MAX_DEPTH];
	int depth;
	/* validated names of ip (5.5), computed once */
	enum ptr_state ptr_state;
	const char *ptr_rev; /* the in-addr.arpa or ip6.arpa name */
	const char **ptr_names;
	size_t nptr;
};

/* What one domain's evaluation gives its caller. */
struct spf_outcome {
	enum spf_result result;
	const char *mechanism;
	const char *domain;
	struct pst_str exp;	/* exp= of the record that failed */
	const char *exp_domain; /* its <domain>, for %{d} */
};

static enum spf_result eval_domain(struct spf_eval *ev, const char *domain,
				   struct spf_outcome *out);

const char *
spf_result_name(enum spf_result result)
{
	switch (result) {
	case SPF_RESULT_NONE:
		return "none";
	case SPF_RESULT_NEUTRAL:
		return "neutral";
	case SPF_RESULT_PASS:
		return "pass";
	case SPF_RESULT_FAIL:
		return "fail";
	case SPF_RESULT_SOFTFAIL:
		return "softfail";
	case SPF_RESULT_TEMPERROR:
		return "temperror";
	case SPF_RESULT_PERMERROR:
		return "permerror";
	}
	return "permerror";
}

/* Record an error; returns -1 so that callers can "return fail(...)". */
static int fail(struct spf_eval *ev, enum spf_result result, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));

static int
fail(struct spf_eval *ev, enum spf_result result, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ev->problem = pst_arena_vprintf(ev->arena, fmt, ap);
	va_end(ap);
	if (ev->problem == NULL)
		ev->problem = "out of memory";
	ev->error = result;
	return -1;
}

static const char *
type_name(int type)
{
	switch (type) {
	case SPF_DNS_A:
		return "A";
	case SPF_DNS_AAAA:
		return "AAAA";
	case SPF_DNS_MX:
		return "MX";
	case SPF_DNS_PTR:
		return "PTR";
	default:
		return "TXT";
	}
}

/*
 * Ask the caller's resolver.  A name that is not a valid DNS name is
 * answered NXDOMAIN without asking (4.3, 4.8: treated as non-existent).
 * Returns an enum spf_dns_status; TEMPFAIL also when the query budget
 * is spent.
 */
static int
dns_query(struct spf_eval *ev, const char *name, int type,
	  struct spf_dns_answer *ans)
{
	size_t len = strlen(name);
	char *q;
	int st;

	memset(ans, 0, sizeof(*ans));
	if (!spf_name_valid(name, len))
		return SPF_DNS_NXDOMAIN;
	if (ev->queries >= MAX_QUERIES)
		return SPF_DNS_TEMPFAIL;
	if (name[len - 1] == '.')
		len--;
	q = pst_arena_strndup(ev->arena, name, len);
	if (q == NULL)
		return SPF_DNS_TEMPFAIL;
	ev->queries++;
	st = ev->dns->query(ev->dns->ctx, ev->arena, q, type, ans);
	switch (st) {
	case SPF_DNS_OK:
		if (ans->count > 0 && ans->rr == NULL)
			return SPF_DNS_TEMPFAIL;
		return ans->count == 0 ? SPF_DNS_NODATA : SPF_DNS_OK;
	case SPF_DNS_NXDOMAIN:
	case SPF_DNS_NODATA:
		return st;
	default:
		return SPF_DNS_TEMPFAIL;
	}
}

/* 4.6.4: each DNS-querying term counts; the 11th is a permerror. */
static int
count_term(struct spf_eval *ev)
{
	if (++ev->terms > SPF_MAX_DNS_TERMS)
		return fail(ev, SPF_RESULT_PERMERROR,
			    "too many DNS lookups (more than %d)",
			    SPF_MAX_DNS_TERMS);
	return 0;
}

/* 4.6.4: lookups answered NXDOMAIN or with no records. */
static int
count_void(struct spf_eval *ev, const char *name)
{
	if (++ev->voids > ev->max_void)
		return fail(ev, SPF_RESULT_PERMERROR,
			    "void lookup limit of %u exceeded at %s",
			    ev->max_void, name);
	return 0;
}

static int
expand(struct spf_eval *ev, struct pst_str s, unsigned flags,
       const char **out_r)
{
	const char *error = NULL;

	if (spf_macro_expand(ev->arena, s, &ev->mctx, flags, out_r, &error) < 0)
		return fail(ev, SPF_RESULT_PERMERROR, "%s", error);
	return 0;
}

/* <target-name>: the expanded domain-spec, or <domain> (4.8). */
static int
target_name(struct spf_eval *ev, struct pst_str spec, const char **name_r)
{
	if (spec.p == NULL) {
		*name_r = ev->mctx.domain;
		return 0;
	}
	return expand(ev, spec, SPF_MACRO_DOMAIN, name_r);
}

/* An MX or PTR name as a string of its own (len 0: NUL-terminated). */
static char *
rr_text(struct spf_eval *ev, const struct spf_dns_rr *rr)
{
	if (rr->text == NULL)
		return pst_arena_strdup(ev->arena, "");
	if (rr->len == 0)
		return pst_arena_strdup(ev->arena, rr->text);
	return pst_arena_strndup(ev->arena, rr->text, rr->len);
}

/*
 * Compare ip with the A or AAAA records of name (the type the
 * connection needs, 5).  1 match, 0 no match, -1 error.  Void answers
 * count against the limit only when count_voids.
 */
static int
addr_match(struct spf_eval *ev, const char *name, int cidr4, int cidr6,
	   bool count_voids)
{
	int type = ev->ip.family == 4 ? SPF_DNS_A : SPF_DNS_AAAA;
	struct spf_dns_answer ans;
	int st = dns_query(ev, name, type, &ans);

	if (st == SPF_DNS_TEMPFAIL)
		return fail(ev, SPF_RESULT_TEMPERROR,
			    "DNS failure looking up %s %s", type_name(type),
			    name);
	if (st != SPF_DNS_OK)
		return count_voids ? count_void(ev, name) : 0;
	for (size_t i = 0; i < ans.count; i++) {
		struct spf_addr a = { .family = ev->ip.family };

		memcpy(a.addr, ans.rr[i].addr, sizeof(a.addr));
		if (spf_addr_match(&ev->ip, &a,
				   ev->ip.family == 4 ? cidr4 : cidr6))
			return 1;
	}
	return 0;
}

/* 5.4: MX names, then their addresses. */
static int
mech_mx(struct spf_eval *ev, const char *name, const struct spf_term *t)
{
	struct spf_dns_answer ans;
	int st = dns_query(ev, name, SPF_DNS_MX, &ans);

	if (st == SPF_DNS_TEMPFAIL)
		return fail(ev, SPF_RESULT_TEMPERROR,
			    "DNS failure looking up MX %s", name);
	if (st != SPF_DNS_OK)
		return count_void(ev, name);
	if (ans.count > SPF_MAX_MX_NAMES)
		return fail(ev, SPF_RESULT_PERMERROR,
			    "more than %d MX records for %s", SPF_MAX_MX_NAMES,
			    name);
	for (size_t i = 0; i < ans.count; i++) {
		const char *host = rr_text(ev, &ans.rr[i]);
		int r;

		if (host == NULL)
			return fail(ev, SPF_RESULT_TEMPERROR, "out of memory");
		if (host[0] == '\0' || strcmp(host, ".") == 0)
			continue; /* RFC 7505 null MX */
		r = addr_match(ev, host, t->cidr4, t->cidr6, false);
		if (r != 0)
			return r;
	}
	return 0;
}

/* 5.5: the names of ip that resolve back to it, at most 10 looked at. */
static void
ptr_validate(struct spf_eval *ev)
{
	int type = ev->ip.family == 4 ? SPF_DNS_A : SPF_DNS_AAAA;
	struct spf_dns_answer ans;
	size_t n;
	int st;

	if (ev->ptr_state != PTR_UNKNOWN)
		return;
	ev->ptr_state = PTR_TEMPFAIL;
	ev->ptr_rev = spf_addr_reverse(ev->arena, &ev->ip);
	if (ev->ptr_rev == NULL)
		return;
	st = dns_query(ev, ev->ptr_rev, SPF_DNS_PTR, &ans);
	if (st == SPF_DNS_TEMPFAIL)
		return;
	if (st != SPF_DNS_OK) {
		ev->ptr_state = PTR_VOID;
		return;
	}
	n = ans.count < SPF_MAX_PTR_NAMES ? ans.count : SPF_MAX_PTR_NAMES;
	ev->ptr_names = pst_arena_calloc(ev->arena, n, sizeof(char *));
	if (ev->ptr_names == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		struct spf_dns_answer addrs;
		const char *name = rr_text(ev, &ans.rr[i]);

		/* an error on one name skips that name */
		if (name == NULL ||
		    dns_query(ev, name, type, &addrs) != SPF_DNS_OK)
			continue;
		for (size_t k = 0; k < addrs.count; k++) {
			struct spf_addr a = { .family = ev->ip.family };

			memcpy(a.addr, addrs.rr[k].addr, sizeof(a.addr));
			if (spf_addr_match(&ev->ip, &a, 128)) {
				ev->ptr_names[ev->nptr++] = name;
				break;
			}
		}
	}
	ev->ptr_state = PTR_DONE;
}

static int
mech_ptr(struct spf_eval *ev, const char *name)
{
	ptr_validate(ev);
	/* a DNS error on the PTR lookup is no match (5.5) */
	if (ev->ptr_state == PTR_VOID)
		return count_void(ev, ev->ptr_rev);
	for (size_t i = 0; i < ev->nptr; i++)
		if (spf_name_within(ev->ptr_names[i], name))
			return 1;
	return 0;
}

/* %{p} (7.3): <domain> if validated, else a subdomain of it, else any
 * validated name, else "unknown". */
static const char *
ptr_macro(void *arg)
{
	struct spf_eval *ev = arg;
	const char *domain = ev->mctx.domain;

	ptr_validate(ev);
	for (size_t i = 0; i < ev->nptr; i++)
		if (spf_name_eq(ev->ptr_names[i], domain))
			return ev->ptr_names[i];
	for (size_t i = 0; i < ev->nptr; i++)
		if (spf_name_within(ev->ptr_names[i], domain))
			return ev->ptr_names[i];
	return ev->nptr > 0 ? ev->ptr_names[0] : "unknown";
}

/* 5.7: an A lookup, whatever the connection's address family. */
static int
mech_exists(struct spf_eval *ev, const char *name)
{
	struct spf_dns_answer ans;
	int st = dns_query(ev, name, SPF_DNS_A, &ans);

	if (st == SPF_DNS_TEMPFAIL)
		return fail(ev, SPF_RESULT_TEMPERROR,
			    "DNS failure looking up A %s", name);
	if (st != SPF_DNS_OK)
		return count_void(ev, name);
	return 1;
}

static bool
on_stack(const struct spf_eval *ev, const char *name)
{
	for (int i = 0; i < ev->depth; i++)
		if (spf_name_eq(ev->stack[i], name))
			return true;
	return false;
}

/* 5.2: the include table. */
static int
mech_include(struct spf_eval *ev, const char *name)
{
	struct spf_outcome sub;

	if (on_stack(ev, name))
		return fail(ev, SPF_RESULT_PERMERROR, "include loop at %s",
			    name);
	switch (eval_domain(ev, name, &sub)) {
	case SPF_RESULT_PASS:
		return 1;
	case SPF_RESULT_FAIL:
	case SPF_RESULT_SOFTFAIL:
	case SPF_RESULT_NEUTRAL:
		return 0;
	case SPF_RESULT_TEMPERROR:
	case SPF_RESULT_PERMERROR:
		return -1; /* ev->error and ev->problem are set */
	case SPF_RESULT_NONE:
		break;
	}
	return fail(ev, SPF_RESULT_PERMERROR,
		    "included domain %s has no SPF record", name);
}

/* One mechanism: 1 match, 0 no match, -1 error (ev->error). */
static int
eval_mech(struct spf_eval *ev, const struct spf_term *t)
{
	const char *name = NULL;

	switch (t->mech) {
	case SPF_MECH_ALL:
		return 1;
	case SPF_MECH_IP4:
		return spf_addr_match(&ev->ip, &t->net, t->cidr4);
	case SPF_MECH_IP6:
		return spf_addr_match(&ev->ip, &t->net, t->cidr6);
	default:
		break;
	}
	if (count_term(ev) < 0 || target_name(ev, t->domain, &name) < 0)
		return -1;
	switch (t->mech) {
	case SPF_MECH_INCLUDE:
		return mech_include(ev, name);
	case SPF_MECH_A:
		return addr_match(ev, name, t->cidr4, t->cidr6, true);
	case SPF_MECH_MX:
		return mech_mx(ev, name, t);
	case SPF_MECH_PTR:
		return mech_ptr(ev, name);
	default:
		return mech_exists(ev, name);
	}
}

/* 4.3: a domain that can have a record: valid DNS name, more than one
 * label, a top-level label that is not numeric (not an IP literal). */
static bool
domain_ok(const char *domain)
{
	size_t len = strlen(domain);
	const char *dot;

	if (!spf_name_valid(domain, len))
		return false;
	if (domain[len - 1] == '.')
		len--;
	dot = memchr(domain, '.', len);
	if (dot == NULL)
		return false;
	for (dot = domain + len; dot[-1] != '.'; dot--)
		;
	return spf_toplabel_valid(dot, (size_t)(domain + len - dot));
}

/* 4.4, 4.5: the one "v=spf1" TXT record of domain. */
static int
find_record(struct spf_eval *ev, const char *domain,
	    const struct spf_dns_rr **rr_r)
{
	struct spf_dns_answer ans;
	int st = dns_query(ev, domain, SPF_DNS_TXT, &ans);
	size_t found = 0;

	*rr_r = NULL;
	if (st == SPF_DNS_TEMPFAIL)
		return fail(ev, SPF_RESULT_TEMPERROR,
			    "DNS failure looking up TXT %s", domain);
	for (size_t i = 0; st == SPF_DNS_OK && i < ans.count; i++) {
		if (spf_record_is_spf(ans.rr[i].text, ans.rr[i].len)) {
			*rr_r = &ans.rr[i];
			found++;
		}
	}
	if (found > 1)
		return fail(ev, SPF_RESULT_PERMERROR,
			    "%s has more than one SPF record", domain);
	return 0;
}

/* 6.1: no mechanism matched and the record has redirect=. */
static enum spf_result
follow_redirect(struct spf_eval *ev, struct pst_str spec,
		struct spf_outcome *out)
{
	const char *name;

	if (count_term(ev) < 0 || expand(ev, spec, SPF_MACRO_DOMAIN, &name) < 0)
		return ev->error;
	if (on_stack(ev, name)) {
		fail(ev, SPF_RESULT_PERMERROR, "redirect loop at %s", name);
		return ev->error;
	}
	if (eval_domain(ev, name, out) == SPF_RESULT_NONE) {
		fail(ev, SPF_RESULT_PERMERROR,
		     "redirect to %s, which has no SPF record", name);
		out->result = SPF_RESULT_PERMERROR;
	}
	return out->result;
}

static enum spf_result
eval_record(struct spf_eval *ev, const char *domain, struct spf_outcome *out)
{
	const struct spf_dns_rr *rr;
	struct spf_record rec;
	const char *error = NULL;

	if (find_record(ev, domain, &rr) < 0)
		return ev->error;
	if (rr == NULL)
		return SPF_RESULT_NONE;
	if (spf_record_parse(rr->text, rr->len, ev->arena, &rec, &error) < 0) {
		fail(ev, SPF_RESULT_PERMERROR, "%s (in the record of %s)",
		     error, domain);
		return ev->error;
	}
	for (size_t i = 0; i < rec.nterms; i++) {
		const struct spf_term *t = &rec.terms[i];
		int r = eval_mech(ev, t);

		if (r < 0)
			return ev->error;
		if (r == 0)
			continue;
		out->mechanism =
			pst_arena_strndup(ev->arena, t->text.p, t->text.len);
		out->domain = domain;
		if (t->qualifier == SPF_RESULT_FAIL) {
			out->exp = rec.exp;
			out->exp_domain = domain;
		}
		return t->qualifier;
	}
	/* 6.1: redirect is ignored when the record has "all" */
	if (rec.redirect.p != NULL && !rec.has_all)
		return follow_redirect(ev, rec.redirect, out);
	out->domain = domain;
	return SPF_RESULT_NEUTRAL;
}

static enum spf_result
eval_domain(struct spf_eval *ev, const char *domain, struct spf_outcome *out)
{
	const char *saved = ev->mctx.domain;

	memset(out, 0, sizeof(*out));
	if (!domain_ok(domain))
		return out->result = SPF_RESULT_NONE;
	if (ev->depth >= MAX_DEPTH) {
		fail(ev, SPF_RESULT_PERMERROR, "too many nested records");
		return out->result = SPF_RESULT_PERMERROR;
	}
	ev->stack[ev->depth++] = domain;
	ev->mctx.domain = domain;
	out->result = eval_record(ev, domain, out);
	ev->mctx.domain = saved;
	ev->depth--;
	return out->result;
}

/* The explanation must be US-ASCII (6.2). */
static const char *
ascii_only(struct spf_eval *ev, const char *s)
{
	char *copy = pst_arena_strdup(ev->arena, s);

	for (char *p = copy; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return copy;
}

/* Expand an explain-string; NULL when it does not expand. */
static const char *
explain_text(struct spf_eval *ev, struct pst_str text)
{
	const char *error, *out;

	if (spf_macro_check(text, SPF_MACRO_EXP, &error) < 0 ||
	    spf_macro_expand(ev->arena, text, &ev->mctx, SPF_MACRO_EXP, &out,
			     &error) < 0)
		return NULL;
	return ascii_only(ev, out);
}

/* 6.2: any problem with exp= is as if there were no exp=. */
static const char *
explanation(struct spf_eval *ev, const struct spf_outcome *out)
{
	struct spf_dns_answer ans;
	const char *name, *error, *text = NULL;

	if (out->exp.p != NULL) {
		ev->mctx.domain = out->exp_domain;
		if (spf_macro_expand(ev->arena, out->exp, &ev->mctx,
				     SPF_MACRO_DOMAIN, &name, &error) == 0 &&
		    dns_query(ev, name, SPF_DNS_TXT, &ans) == SPF_DNS_OK &&
		    ans.count == 1 && ans.rr[0].text != NULL)
			text = explain_text(ev,
					    (struct pst_str){ ans.rr[0].text,
							      ans.rr[0].len });
	}
	if (text == NULL && ev->req->default_exp != NULL) {
		ev->mctx.domain = out->domain;
		text = explain_text(ev,
				    pst_str_from_cstr(ev->req->default_exp));
	}
	return text;
}

static void
init_ctx(struct spf_eval *ev, const struct spf_request *req,
	 const struct spf_dns *dns, struct pst_arena *arena, const char *sender)
{
	const char *at = strrchr(sender, '@');
	const char *local = at != NULL
				    ? pst_arena_strndup(arena, sender,
							(size_t)(at - sender))
				    : "";
	const char *sdom = at != NULL ? at + 1 : sender;

	memset(ev, 0, sizeof(*ev));
	ev->req = req;
	ev->dns = dns;
	ev->arena = arena;
	ev->ip = req->ip;
	spf_addr_unmap(&ev->ip);
	ev->max_void = req->max_void != 0 ? req->max_void : SPF_MAX_VOID;
	/* 4.3: no local part means "postmaster" */
	if (local == NULL || local[0] == '\0') {
		local = "postmaster";
		sender = pst_arena_printf(arena, "postmaster@%s", sdom);
	}
	ev->mctx.ip = &ev->ip;
	ev->mctx.sender = sender;
	ev->mctx.local = local;
	ev->mctx.sdom = sdom;
	ev->mctx.helo = req->helo != NULL ? req->helo : "";
	ev->mctx.receiver = req->receiver != NULL ? req->receiver : "unknown";
	ev->mctx.now =
		req->now != 0 ? (long long)req->now : (long long)time(NULL);
	ev->mctx.ptr_name = ptr_macro;
	ev->mctx.ptr_arg = ev;
}

/* The shared body: <domain> and <sender> decided by the caller. */
static enum spf_result
check(const struct spf_request *req, const struct spf_dns *dns,
      struct pst_arena *arena, const char *domain, const char *sender,
      struct spf_response *resp)
{
	struct spf_eval ev;
	struct spf_outcome out;

	memset(resp, 0, sizeof(*resp));
	if (sender == NULL || domain == NULL || dns == NULL ||
	    dns->query == NULL ||
	    (req->ip.family != 4 && req->ip.family != 6)) {
		resp->problem = "bad request";
		return resp->result = SPF_RESULT_TEMPERROR;
	}
	init_ctx(&ev, req, dns, arena, sender);
	if (ev.mctx.sender == NULL || ev.mctx.local == NULL) {
		resp->problem = "out of memory";
		return resp->result = SPF_RESULT_TEMPERROR;
	}
	ev.mctx.domain = domain;
	resp->result = eval_domain(&ev, domain, &out);
	if (resp->result == SPF_RESULT_TEMPERROR ||
	    resp->result == SPF_RESULT_PERMERROR)
		resp->problem = ev.problem;
	else
		resp->mechanism = out.mechanism;
	resp->domain = out.domain;
	if (resp->result == SPF_RESULT_FAIL && (req->flags & SPF_F_EXPLAIN))
		resp->explanation = explanation(&ev, &out);
	resp->dns_terms = ev.terms;
	resp->voids = ev.voids;
	resp->queries = ev.queries;
	return resp->result;
}

enum spf_result
spf_check_host(const struct spf_request *req, const struct spf_dns *dns,
	       struct pst_arena *arena, struct spf_response *resp_r)
{
	const char *domain = req->domain;

	if (domain == NULL && req->sender != NULL) {
		const char *at = strrchr(req->sender, '@');

		domain = at != NULL ? at + 1 : req->sender;
	}
	return check(req, dns, arena, domain, req->sender, resp_r);
}

enum spf_result
spf_check_mailfrom(const struct spf_request *req, const struct spf_dns *dns,
		   struct pst_arena *arena, struct spf_response *resp_r)
{
	const char *sender = req->sender, *at;

	if (sender == NULL || sender[0] == '\0')
		return spf_check_helo(req, dns, arena, resp_r);
	at = strrchr(sender, '@');
	return check(req, dns, arena, at != NULL ? at + 1 : sender, sender,
		     resp_r);
}

enum spf_result
spf_check_helo(const struct spf_request *req, const struct spf_dns *dns,
	       struct pst_arena *arena, struct spf_response *resp_r)
{
	const char *helo = req->helo != NULL ? req->helo : "";
	const char *sender = pst_arena_printf(arena, "postmaster@%s", helo);

	return check(req, dns, arena, helo, sender, resp_r);
}
