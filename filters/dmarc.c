/*
 * dmarc.c - the built-in dmarc filter (RFC 7489) at the end of DATA.
 *
 *	filter dmarc {
 *		psl = "/usr/share/publicsuffix/public_suffix_list.dat";
 *		reject = continue;      # or reject: 550 5.7.1
 *		quarantine = continue;  # or quarantine
 *	}
 *
 * The author domain comes from the one From field (dmarc_util.c); the
 * policy record is looked up by us through the shared resolver (TXT
 * _dmarc.DOMAIN, then _dmarc.ORGDOMAIN) and read by libopendmarc, which
 * never queries DNS itself here.  Alignment uses what the spf filter
 * (spf, spf.domain) and the dkim filter (dkim.pass_domains) found, so
 * this filter comes after them in the chain; without them SPF and DKIM
 * count as none.  Results for the rules: dmarc, dmarc.policy,
 * dmarc.domain, dmarc.disposition (after pct=); one
 * Authentication-Results entry; one log line.  Clients in
 * smtp.trusted_networks (or authenticated) are not checked.
 *
 * The module state (options, the public suffix list) is read-only after
 * init; each call works on an arena of its own.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "arena.h"
#include "auth_results.h"
#include "buf.h"
#include "filter_int.h"
#include "spf_dmarc.h"

#define DMARC_DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"
/* The log line's note when the policy came from the organizational
 * domain. */
#define DMARC_ORG_NOTE ", organizational domain's record"
/* The header block is read up to this size; a From beyond it is not
 * seen (the message is then out of DMARC's scope: none). */
#define DMARC_HEADER_MAX (1u << 20)

struct dmarc_filter {
	struct pst_dns *dns;
	struct dmarc_psl *psl;
	bool reject, quarantine;
	unsigned budget_ms;
};

/* ---- init ---- */

static int
dmarc_filter_word(struct pf_module *m, const char *key, const char *yes,
		  bool *value_r)
{
	const char *v;
	int rc = pf_option_string(m, key, &v);

	if (rc <= 0)
		return rc;
	if (strcmp(v, "continue") == 0 || strcmp(v, yes) == 0) {
		*value_r = strcmp(v, yes) == 0;
		return 0;
	}
	pf_module_error(m, key, "'%s' must be continue or %s, not '%s'", key,
			yes, v);
	return -1;
}

static int
dmarc_filter_init(struct pf_module *m)
{
	struct dmarc_filter *f = pst_arena_zalloc(m->arena, sizeof(*f));
	uint64_t timeout =
		m->conf->timeout ? m->conf->timeout : FILTER_DEFAULT_TIMEOUT;
	const char *psl = DMARC_DEFAULT_PSL, *err;

	if (f == NULL) {
		pf_module_error(m, NULL, "out of memory");
		return -1;
	}
	if (pf_option_string(m, "psl", &psl) < 0 ||
	    dmarc_filter_word(m, "reject", "reject", &f->reject) < 0 ||
	    dmarc_filter_word(m, "quarantine", "quarantine", &f->quarantine) <
		    0)
		return -1;
	if (dmarc_psl_load(psl, &f->psl, m->arena, &err) < 0) {
		pf_module_error(m, "psl", "public suffix list %s", err);
		return -1;
	}
	f->dns = m->chain->conf->dns;
	f->budget_ms = timeout / 4 * 3 > 0 ? (unsigned)(timeout / 4 * 3) : 1;
	pf_module_set_data(m, f);
	return 0;
}

/* ---- one message ---- */

struct dmarc_check {
	struct dmarc_filter *f;
	struct pst_arena *arena;
	struct spf_dns_pst dns; /* for its budget */
	const char *from;	/* the author domain */
	const char *org;	/* its organizational domain, or NULL */
	bool from_org;		/* the record is the org domain's */
	const char *record;
	const char *problem;
};

/* The raw header block into b: 0, or -1 when the message cannot be
 * read. */
static int
dmarc_filter_header(struct pf_txn *t, struct pst_buf *b)
{
	char chunk[8192];
	uint64_t off = 0;

	while (b->len < DMARC_HEADER_MAX) {
		ssize_t n = pf_message_read(t, chunk, sizeof(chunk), off);
		size_t from = b->len > 3 ? b->len - 3 : 0;

		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (pst_buf_append(b, chunk, (size_t)n) < 0)
			return 0; /* the limit: what we have */
		off += (uint64_t)n;
		for (size_t i = from; i + 1 < b->len; i++)
			if (b->data[i] == '\n' &&
			    (b->data[i + 1] == '\n' ||
			     (b->data[i + 1] == '\r' && i + 2 < b->len &&
			      b->data[i + 2] == '\n')))
				return 0;
	}
	return 0;
}

/* The DMARC record at _dmarc.domain: 1 found (c->record), 0 none, -1 a
 * temporary failure (c->problem). */
static int
dmarc_filter_lookup(struct dmarc_check *c, const char *domain)
{
	const struct pst_dns_answer *ans = NULL;
	const char *name = pst_arena_printf(c->arena, "_dmarc.%s", domain);
	const char **txt;
	size_t *len;
	long timeout;
	int pick;

	if (name == NULL) {
		c->problem = "out of memory";
		return -1;
	}
	if (c->f->dns == NULL) {
		c->problem = "no resolver";
		return -1;
	}
	timeout = spf_dns_query_timeout(&c->dns, spf_dns_now_ms());
	if (timeout < 0) {
		c->problem = "DNS time budget spent";
		return -1;
	}
	switch (pst_dns_lookup_timeout(c->f->dns, c->arena, name, PST_DNS_TXT,
				       (unsigned)timeout, &ans)) {
	case PST_DNS_OK:
		break;
	case PST_DNS_TEMPFAIL:
		c->problem = pst_arena_printf(
			c->arena, "%s: %s", name,
			ans->error != NULL ? ans->error : "DNS failure");
		return -1;
	default:
		return 0;
	}
	txt = pst_arena_calloc(c->arena, ans->n, sizeof(*txt));
	len = pst_arena_calloc(c->arena, ans->n, sizeof(*len));
	if (txt == NULL || len == NULL) {
		c->problem = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < ans->n; i++) {
		txt[i] = ans->rr[i].txt.data;
		len[i] = ans->rr[i].txt.len;
	}
	pick = dmarc_record_pick(txt, len, ans->n);
	if (pick == -2) {
		/* RFC 7489 6.6.3: several records end the discovery */
		c->problem = "several DMARC records";
		return 0;
	}
	if (pick < 0)
		return 0;
	c->record = txt[pick];
	return 1;
}

/* Policy discovery (RFC 7489 6.6.3).  1 record, 0 none, -1 temporary
 * failure. */
static int
dmarc_filter_discover(struct dmarc_check *c)
{
	int rc = dmarc_filter_lookup(c, c->from);

	if (rc != 0 || c->problem != NULL)
		return rc;
	if (c->org == NULL || strcmp(c->org, c->from) == 0)
		return 0;
	c->from_org = true;
	return dmarc_filter_lookup(c, c->org);
}

static unsigned
dmarc_filter_roll(void)
{
	unsigned v;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (unsigned)rand();
	return v % 100;
}

static void
dmarc_filter_auth(struct pf_txn *t, struct dmarc_check *c, const char *result)
{
	const char *props =
		c->from != NULL
			? pst_arena_printf(c->arena, "header.from=%s", c->from)
			: NULL;

	if (props != NULL && !auth_results_props_valid(props))
		props = NULL;
	pf_auth_result(t, "dmarc", result, props);
}

/* A result without a policy to apply: none, temperror, permerror. */
static enum pf_verdict
dmarc_filter_plain(struct pf_txn *t, struct dmarc_check *c, const char *result,
		   const char *why)
{
	pf_result_set(t, "dmarc", result);
	pf_result_set(t, "dmarc.disposition", "none");
	if (c->from != NULL)
		pf_result_set(t, "dmarc.domain", c->from);
	dmarc_filter_auth(t, c, result);
	pf_log(t, PF_LOG_INFO, "from=%s result=%s (%s)",
	       c->from != NULL ? c->from : "-", result, why);
	return PF_CONTINUE;
}

static enum pf_verdict
dmarc_filter_evaluate(struct pf_txn *t, struct dmarc_check *c)
{
	struct dmarc_record rec;
	enum dmarc_policy policy, disp = DMARC_POLICY_NONE_;
	const char *spf = pf_result_get(t, "spf");
	const char *spf_domain = pf_result_get(t, "spf.domain");
	const char *dkim = pf_result_get(t, "dkim");
	const char *dkim_pass = pf_result_get(t, "dkim.pass_domains");
	const char *err;
	bool spf_ok, dkim_ok, pass;

	if (dmarc_record_parse(c->record, c->from, c->from_org ? c->org : NULL,
			       &rec, &err) < 0)
		return dmarc_filter_plain(
			t, c, "permerror",
			pst_arena_printf(c->arena, "record at _dmarc.%s: %s",
					 c->from_org ? c->org : c->from, err));
	policy = dmarc_policy_applied(&rec, c->from_org);
	spf_ok = spf != NULL && strcmp(spf, "pass") == 0 &&
		 spf_domain != NULL &&
		 dmarc_aligned(c->f->psl, c->from, spf_domain, rec.aspf_strict,
			       c->arena);
	dkim_ok = dmarc_dkim_aligned(c->f->psl, c->from, dkim_pass,
				     rec.adkim_strict, c->arena);
	pass = spf_ok || dkim_ok;
	if (!pass)
		disp = dmarc_disposition(policy, rec.pct, dmarc_filter_roll());

	pf_result_set(t, "dmarc", pass ? "pass" : "fail");
	pf_result_set(t, "dmarc.policy", dmarc_policy_name(policy));
	pf_result_set(t, "dmarc.domain", c->from);
	pf_result_set(t, "dmarc.disposition", dmarc_policy_name(disp));
	dmarc_filter_auth(t, c, pass ? "pass" : "fail");
	pf_log(t, PF_LOG_INFO,
	       "from=%s result=%s policy=%s disposition=%s (spf=%s%s, "
	       "dkim=%s%s%s)",
	       c->from, pass ? "pass" : "fail", dmarc_policy_name(policy),
	       dmarc_policy_name(disp), spf != NULL ? spf : "none",
	       spf_ok ? " aligned" : "", dkim != NULL ? dkim : "none",
	       dkim_ok ? " aligned" : "", c->from_org ? DMARC_ORG_NOTE : "");
	if (disp == DMARC_POLICY_REJECT_ && c->f->reject) {
		pf_reply(t, 550, "5.7.1",
			 pst_arena_printf(c->arena,
					  "DMARC policy of %s says reject",
					  c->from));
		return PF_REJECT;
	}
	if (disp == DMARC_POLICY_QUARANTINE_ && c->f->quarantine) {
		pf_quarantine(t, "dmarc");
		return PF_QUARANTINE;
	}
	return PF_CONTINUE;
}

static enum pf_verdict
dmarc_filter_check(struct pf_txn *t, struct dmarc_check *c)
{
	struct pst_buf hdr;
	enum dmarc_from_status st;
	int rc;

	pst_buf_init(&hdr, DMARC_HEADER_MAX);
	if (dmarc_filter_header(t, &hdr) < 0) {
		pst_buf_free(&hdr);
		return PF_ERROR;
	}
	st = dmarc_from_domain(hdr.data != NULL ? hdr.data : "", hdr.len,
			       c->arena, &c->from);
	pst_buf_free(&hdr);
	switch (st) {
	case DMARC_FROM_OK:
		break;
	case DMARC_FROM_NONE:
		return dmarc_filter_plain(t, c, "none", "no From field");
	case DMARC_FROM_MULTIPLE:
		return dmarc_filter_plain(t, c, "permerror",
					  "several From fields or authors");
	default:
		return dmarc_filter_plain(t, c, "permerror",
					  "no usable domain in From");
	}
	c->org = dmarc_org_domain(c->f->psl, c->from, c->arena);
	rc = dmarc_filter_discover(c);
	if (rc < 0)
		return dmarc_filter_plain(t, c, "temperror", c->problem);
	if (rc == 0)
		return dmarc_filter_plain(
			t, c, "none",
			c->problem != NULL ? c->problem : "no DMARC record");
	return dmarc_filter_evaluate(t, c);
}

static bool
dmarc_filter_trusted(struct pf_txn *t)
{
	/* client.trusted is set once when the session's ctx is made; a
	 * client that authenticated later is as good. */
	return (t->ctx != NULL && t->ctx->client.trusted) ||
	       pf_auth_user(t) != NULL;
}

static enum pf_verdict
dmarc_filter_message(struct pf_txn *t)
{
	struct dmarc_filter *f = pf_module_data(pf_txn_module(t));
	struct dmarc_check c;
	enum pf_verdict v;

	if (f == NULL)
		return PF_ERROR;
	if (dmarc_filter_trusted(t)) {
		pf_result_set(t, "dmarc", "none");
		pf_log(t, PF_LOG_INFO, "result=none (%s)",
		       "trusted client: not checked");
		return PF_CONTINUE;
	}
	memset(&c, 0, sizeof(c));
	c.f = f;
	c.arena = pst_arena_new(0);
	if (c.arena == NULL)
		return PF_ERROR;
	spf_dns_pst_init(NULL, &c.dns, f->dns, f->budget_ms);
	v = dmarc_filter_check(t, &c);
	pst_arena_free(&c.arena);
	return v;
}

const struct postern_filter filter_dmarc_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "dmarc",
	.init = dmarc_filter_init,
	.on_message = dmarc_filter_message,
};
