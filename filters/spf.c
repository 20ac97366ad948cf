/*
 * spf.c - the built-in spf filter: RFC 7208 checks of the HELO and MAIL
 * FROM identities at MAIL time.
 *
 *	filter spf {
 *		helo = yes;            # check the HELO identity too
 *		explain = no;          # fetch exp= on fail
 *		fail = continue;       # or reject: 550 5.7.23
 *		temperror = continue;  # or tempfail: 451 4.7.24
 *		permerror = continue;  # or reject: 550 5.7.24
 *		engine = postern;      # or libspf2
 *	}
 *
 * Results for the rules (spf, spf.domain, spf.helo, spf.explanation),
 * one Authentication-Results entry, one log line per identity checked.
 * Clients in smtp.trusted_networks (or authenticated) are not checked.
 * Lookups go through the shared resolver (chain->conf->dns) with a
 * budget of three quarters of the filter's timeout for the whole check,
 * so a slow DNS gives temperror rather than a missed deadline.
 *
 * The module state is read-only after init; each call works on an
 * arena of its own, so calls of different sessions run concurrently.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "auth_results.h"
#include "filter_int.h"
#include "spf.h"
#include "spf_dmarc.h"

enum spf_action {
	SPF_ACTION_CONTINUE,
	SPF_ACTION_REJECT,
	SPF_ACTION_TEMPFAIL,
};

struct spf_filter {
	struct pst_dns *dns;
	const char *receiver; /* %{r}: our host name */
	bool helo;
	bool explain;
	int on_fail, on_temperror, on_permerror; /* enum spf_action */
	struct spf_libspf2 *libspf2; /* engine = libspf2, else NULL */
	unsigned budget_ms;
};

/* Longest explanation kept as a result, and in a reply. */
#define SPF_FILTER_EXP_MAX 512
#define SPF_FILTER_REPLY_EXP_MAX 300

/* ---- options ---- */

/* Option key: one of words (NULL-terminated), as its index in *value_r
 * (untouched when absent).  0, or -1 after reporting the error. */
static int
spf_filter_option_word(struct pf_module *m, const char *key,
		       const char *const *words, const int *values,
		       int *value_r)
{
	const char *v;
	int rc = pf_option_string(m, key, &v);

	if (rc <= 0)
		return rc;
	for (size_t i = 0; words[i] != NULL; i++) {
		if (strcmp(v, words[i]) == 0) {
			*value_r = values[i];
			return 0;
		}
	}
	if (words[1] != NULL)
		pf_module_error(m, key, "'%s' must be %s or %s, not '%s'", key,
				words[0], words[1], v);
	return -1;
}

static int
spf_filter_options(struct pf_module *m, struct spf_filter *f, bool *libspf2_r)
{
	static const char *const fail_words[] = { "continue", "reject", NULL };
	static const int fail_values[] = { SPF_ACTION_CONTINUE,
					   SPF_ACTION_REJECT };
	static const char *const temp_words[] = { "continue", "tempfail",
						  NULL };
	static const int temp_values[] = { SPF_ACTION_CONTINUE,
					   SPF_ACTION_TEMPFAIL };
	static const char *const engine_words[] = { "postern", "libspf2",
						    NULL };
	static const int engine_values[] = { 0, 1 };
	int helo = 1, explain = 0, engine = 0;

	if (pf_option_bool(m, "helo", &helo) < 0 ||
	    pf_option_bool(m, "explain", &explain) < 0 ||
	    spf_filter_option_word(m, "fail", fail_words, fail_values,
				   &f->on_fail) < 0 ||
	    spf_filter_option_word(m, "temperror", temp_words, temp_values,
				   &f->on_temperror) < 0 ||
	    spf_filter_option_word(m, "permerror", fail_words, fail_values,
				   &f->on_permerror) < 0 ||
	    spf_filter_option_word(m, "engine", engine_words, engine_values,
				   &engine) < 0)
		return -1;
	f->helo = helo != 0;
	f->explain = explain != 0;
	*libspf2_r = engine == 1;
	return 0;
}

static int
spf_filter_init(struct pf_module *m)
{
	const struct filter_conf *conf = m->chain->conf;
	struct spf_filter *f = pst_arena_zalloc(m->arena, sizeof(*f));
	uint64_t timeout =
		m->conf->timeout ? m->conf->timeout : FILTER_DEFAULT_TIMEOUT;
	const char *err;
	bool libspf2 = false;

	if (f == NULL) {
		pf_module_error(m, NULL, "out of memory");
		return -1;
	}
	if (spf_filter_options(m, f, &libspf2) < 0)
		return -1;
	f->dns = conf->dns;
	f->receiver = conf->hostname;
	f->budget_ms = timeout / 4 * 3 > 0 ? (unsigned)(timeout / 4 * 3) : 1;
	if (libspf2 && spf_libspf2_new(f->receiver, &f->libspf2, &err) < 0) {
		pf_module_error(m, "engine", "libspf2: %s", err);
		return -1;
	}
	pf_module_set_data(m, f);
	return 0;
}

static void
spf_filter_fini(struct pf_module *m)
{
	struct spf_filter *f = pf_module_data(m);

	if (f != NULL)
		spf_libspf2_free(&f->libspf2);
}

/* ---- texts ---- */

/* s as one line of printable ASCII, at most max bytes, on arena ("" when
 * out of memory). */
static const char *
spf_filter_clean(struct pst_arena *arena, const char *s, size_t max)
{
	size_t len = strlen(s);
	char *out;

	if (len > max)
		len = max;
	out = pst_arena_alloc(arena, len + 1);
	if (out == NULL)
		return "";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[len] = '\0';
	return out;
}

/* Why: "matched -all", "no SPF record", the problem of an error. */
static const char *
spf_filter_reason(struct pst_arena *arena, const struct spf_response *r)
{
	const char *reason;

	switch (r->result) {
	case SPF_RESULT_NONE:
		return "no SPF record";
	case SPF_RESULT_TEMPERROR:
	case SPF_RESULT_PERMERROR:
		return r->problem != NULL
			       ? spf_filter_clean(arena, r->problem, 200)
			       : "error";
	default:
		if (r->mechanism == NULL)
			return "no mechanism matched";
		reason = pst_arena_printf(
			arena, "matched %s",
			spf_filter_clean(arena, r->mechanism, 200));
		return reason != NULL ? reason : "matched";
	}
}

/* "smtp.mailfrom=DOMAIN": a pvalue as RFC 8601 wants it, or NULL when
 * the name cannot be one (the entry then goes without it). */
static const char *
spf_filter_props(struct pst_arena *arena, const char *ptype, const char *value)
{
	const char *props;

	if (value == NULL || value[0] == '\0')
		return NULL;
	props = pst_arena_printf(arena, "%s=%s", ptype, value);
	return props != NULL && auth_results_props_valid(props) ? props : NULL;
}

/* ---- the check ---- */

struct spf_filter_check {
	struct spf_filter *f;
	struct pst_arena *arena;
	struct spf_request req;
	struct spf_dns dns;
	struct spf_dns_pst dns_ctx;
};

static enum spf_result
spf_filter_run(struct spf_filter_check *c, bool helo_identity,
	       struct spf_response *resp)
{
	if (c->f->libspf2 != NULL)
		return spf_libspf2_check(c->f->libspf2, &c->dns, &c->req,
					 helo_identity, c->arena, resp);
	if (helo_identity)
		return spf_check_helo(&c->req, &c->dns, c->arena, resp);
	return spf_check_mailfrom(&c->req, &c->dns, c->arena, resp);
}

static enum pf_verdict
spf_filter_action(struct pf_txn *t, struct spf_filter_check *c,
		  const struct spf_response *r, const char *domain)
{
	const struct spf_filter *f = c->f;
	const char *why;

	switch (r->result) {
	case SPF_RESULT_FAIL:
		if (f->on_fail != SPF_ACTION_REJECT)
			break;
		why = r->explanation != NULL
			      ? spf_filter_clean(c->arena, r->explanation,
						 SPF_FILTER_REPLY_EXP_MAX)
			      : pst_arena_printf(c->arena,
						 "%s does not designate %s as "
						 "permitted sender",
						 domain, pf_client_addr(t));
		pf_reply(t, 550, "5.7.23",
			 pst_arena_printf(c->arena, "SPF fail: %s",
					  why != NULL ? why : domain));
		return PF_REJECT;
	case SPF_RESULT_TEMPERROR:
		if (f->on_temperror != SPF_ACTION_TEMPFAIL)
			break;
		pf_reply(t, 451, "4.7.24",
			 pst_arena_printf(c->arena,
					  "SPF temporary error for %s, try "
					  "again later",
					  domain));
		return PF_TEMPFAIL;
	case SPF_RESULT_PERMERROR:
		if (f->on_permerror != SPF_ACTION_REJECT)
			break;
		pf_reply(t, 550, "5.7.24",
			 pst_arena_printf(
				 c->arena, "SPF permanent error for %s: %s",
				 domain, spf_filter_reason(c->arena, r)));
		return PF_REJECT;
	default:
		break;
	}
	return PF_CONTINUE;
}

/* The identity of MAIL FROM (or, for the null sender, HELO) is known:
 * results, Authentication-Results, the action. */
static enum pf_verdict
spf_filter_report(struct pf_txn *t, struct spf_filter_check *c,
		  const struct spf_response *r, bool null_sender,
		  const char *domain)
{
	const char *name = spf_result_name(r->result);

	pf_result_set(t, "spf", name);
	pf_result_set(t, "spf.domain", domain);
	if (r->result == SPF_RESULT_FAIL && c->f->explain &&
	    r->explanation != NULL)
		pf_result_set(t, "spf.explanation",
			      spf_filter_clean(c->arena, r->explanation,
					       SPF_FILTER_EXP_MAX));
	pf_auth_result(
		t, "spf", name,
		spf_filter_props(c->arena,
				 null_sender ? "smtp.helo" : "smtp.mailfrom",
				 domain));
	return spf_filter_action(t, c, r, domain);
}

static bool
spf_filter_trusted(struct pf_txn *t)
{
	/* client.trusted is set once when the session's ctx is made; a
	 * client that authenticated later is as good. */
	return (t->ctx != NULL && t->ctx->client.trusted) ||
	       pf_auth_user(t) != NULL;
}

static enum pf_verdict
spf_filter_mail(struct pf_txn *t, const char *from)
{
	struct spf_filter *f = pf_module_data(pf_txn_module(t));
	struct spf_filter_check c;
	struct spf_response helo_resp = { 0 }, mail_resp = { 0 };
	const char *helo = pf_helo(t), *domain, *at;
	bool null_sender = from == NULL || from[0] == '\0';
	bool helo_done = false;
	enum pf_verdict v;

	if (f == NULL)
		return PF_ERROR;
	if (helo == NULL)
		helo = "";
	if (spf_filter_trusted(t)) {
		pf_result_set(t, "spf", "none");
		pf_log(t, PF_LOG_INFO, "mailfrom=%s result=none (%s)",
		       null_sender ? "<>" : from,
		       "trusted client: not checked");
		return PF_CONTINUE;
	}
	memset(&c, 0, sizeof(c));
	c.f = f;
	c.arena = pst_arena_new(0);
	if (c.arena == NULL)
		return PF_ERROR;
	if (spf_addr_parse(pf_client_addr(t), &c.req.ip) < 0) {
		/* Nothing to check against (postern scan of a file). */
		pf_result_set(t, "spf", "none");
		pf_log(t, PF_LOG_INFO, "result=none (no client address)");
		pst_arena_free(&c.arena);
		return PF_CONTINUE;
	}
	c.req.sender = null_sender ? "" : from;
	c.req.helo = helo;
	c.req.receiver = f->receiver;
	c.req.flags = f->explain ? SPF_F_EXPLAIN : 0;
	spf_dns_pst_init(&c.dns, &c.dns_ctx, f->dns, f->budget_ms);

	if (f->helo && helo[0] != '\0') {
		spf_filter_run(&c, true, &helo_resp);
		helo_done = true;
		pf_result_set(t, "spf.helo", spf_result_name(helo_resp.result));
		pf_log(t, PF_LOG_INFO, "helo=%s result=%s (%s)", helo,
		       spf_result_name(helo_resp.result),
		       spf_filter_reason(c.arena, &helo_resp));
	}
	if (null_sender) {
		/* RFC 7208 2.4: the HELO identity stands for the sender. */
		if (!helo_done)
			spf_filter_run(&c, true, &helo_resp);
		mail_resp = helo_resp;
		domain = helo;
		if (!helo_done)
			pf_log(t, PF_LOG_INFO,
			       "mailfrom=<> helo=%s result=%s (%s)", helo,
			       spf_result_name(mail_resp.result),
			       spf_filter_reason(c.arena, &mail_resp));
	} else {
		at = strrchr(from, '@');
		domain = at != NULL ? at + 1 : from;
		spf_filter_run(&c, false, &mail_resp);
		pf_log(t, PF_LOG_INFO, "mailfrom=%s result=%s (%s)", domain,
		       spf_result_name(mail_resp.result),
		       spf_filter_reason(c.arena, &mail_resp));
	}
	v = spf_filter_report(t, &c, &mail_resp, null_sender, domain);
	pst_arena_free(&c.arena);
	return v;
}

const struct postern_filter filter_spf_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "spf",
	.init = spf_filter_init,
	.fini = spf_filter_fini,
	.on_mail = spf_filter_mail,
};
