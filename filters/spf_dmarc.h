/*
 * spf_dmarc.h - the pieces of the built-in spf and dmarc filters that
 * their unit tests reach: the SPF evaluator's DNS interface over the
 * shared resolver (spf_dns.c), the optional libspf2 engine
 * (spf_libspf2.c), and the pure parts of DMARC (dmarc_util.c: the public
 * suffix list, organizational domains, alignment, the From field, policy
 * records, pct).  Only filters/ and the tests include it.
 *
 * Everything returned lives on the caller's arena.  The pure functions
 * are thread-safe; a loaded public suffix list is read-only and may be
 * shared by any number of threads.
 */
#ifndef FILTERS_SPF_DMARC_H
#define FILTERS_SPF_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "spf.h"

struct pst_arena;

/* ---- spf_dns.c: struct spf_dns over struct pst_dns ---- */

/* The adapter's state for one check (or a few in a row): a budget in
 * time shared by all their queries. */
struct spf_dns_pst {
	struct pst_dns *dns; /* NULL: every query is a temporary failure */
	uint64_t deadline;   /* monotonic ms after which nothing is asked;
			      * 0: no budget, each query its own timeout */
	unsigned queries;    /* sent to the resolver */
	unsigned expired;    /* refused because the budget was spent */
};

/* Fill *dns_r so that the evaluator queries through ctx: resolver dns
 * (or NULL), budget_ms for every query made through it (0: none).
 * dns_r NULL: only the budget is set up. */
void spf_dns_pst_init(struct spf_dns *dns_r, struct spf_dns_pst *ctx,
		      struct pst_dns *dns, unsigned budget_ms);

/* Monotonic clock in milliseconds. */
uint64_t spf_dns_now_ms(void);

/* The timeout to hand pst_dns_lookup_timeout() for a query made at now:
 * 0 (the resolver's own) while at least PST_DNS_DEFAULT_TIMEOUT of the
 * budget remains, else what remains; -1 when nothing remains. */
long spf_dns_query_timeout(const struct spf_dns_pst *ctx, uint64_t now);

/* Turn a resolver answer into the evaluator's: records copied onto
 * arena (TXT binary-safe, MX and PTR names as text).  BADNAME (a name
 * no server could hold) reads as NXDOMAIN.  Returns an enum
 * spf_dns_status; TEMPFAIL when out of memory. */
int spf_dns_convert(const struct pst_dns_answer *in, int type,
		    struct pst_arena *arena, struct spf_dns_answer *out);

/* ---- spf_libspf2.c: the libspf2 engine (`engine = libspf2`) ---- */

struct spf_libspf2;

/* One libspf2 server whose only DNS layer asks the struct spf_dns of the
 * check in progress; receiver: our host name for %{r}.  0, or -1 with
 * *error_r (static). */
int spf_libspf2_new(const char *receiver, struct spf_libspf2 **engine_r,
		    const char **error_r);
void spf_libspf2_free(struct spf_libspf2 **engine_p);

/* check_host() for the MAIL FROM identity (helo_identity false) or the
 * HELO identity (true) of req through libspf2; the same contract as
 * spf_check_mailfrom() / spf_check_helo() (explanation only with
 * SPF_F_EXPLAIN; no mechanism or counters).  Queries go through dns. */
enum spf_result spf_libspf2_check(struct spf_libspf2 *engine,
				  const struct spf_dns *dns,
				  const struct spf_request *req,
				  bool helo_identity, struct pst_arena *arena,
				  struct spf_response *resp_r);

/* libspf2's SPF_result_t and SPF_errcode_t as our result: "invalid"
 * (a record libspf2 could not compile) is permerror, a DNS error
 * temperror. */
enum spf_result spf_libspf2_map(int spf2_result, int spf2_err);

/* ---- dmarc_util.c: the public suffix list ---- */

struct dmarc_psl;

/* Parse the text of a public suffix list (publicsuffix.org format: one
 * rule a line, "//" comments, "*." wildcards, "!" exceptions; both the
 * ICANN and the private section count).  Rules are kept in lower case.
 * 0, or -1 with *error_r on arena. */
int dmarc_psl_parse(const char *text, size_t len, struct dmarc_psl **psl_r,
		    struct pst_arena *arena, const char **error_r);
/* The same from a file (at most 16 MiB). */
int dmarc_psl_load(const char *path, struct dmarc_psl **psl_r,
		   struct pst_arena *arena, const char **error_r);
/* Rules loaded. */
size_t dmarc_psl_count(const struct dmarc_psl *psl);

/* The organizational domain of domain (RFC 7489 3.2): its public suffix
 * (the longest matching rule, an exception rule taking one label off,
 * the implicit rule "*" when none matches) plus one label, in lower case
 * without a final dot.  NULL when domain is malformed (empty labels,
 * longer than 253 bytes) or is itself a public suffix. */
const char *dmarc_org_domain(const struct dmarc_psl *psl, const char *domain,
			     struct pst_arena *arena);

/* Are domains a and b aligned (RFC 7489 3.1): strict, the same name
 * (any case, a final dot ignored); relaxed, the same organizational
 * domain. */
bool dmarc_aligned(const struct dmarc_psl *psl, const char *a, const char *b,
		   bool strict, struct pst_arena *arena);

/* ---- dmarc_util.c: the RFC5322.From domain ---- */

enum dmarc_from_status {
	DMARC_FROM_OK,	     /* *domain_r is the one author domain */
	DMARC_FROM_NONE,     /* no From field: out of DMARC's scope */
	DMARC_FROM_MULTIPLE, /* several From fields, or mailboxes of
			      * several domains (RFC 7489 6.6.1) */
	DMARC_FROM_INVALID,  /* no usable domain: unparsable, no '@', an
			      * address literal, a malformed name */
};

/* The author domain from the raw header block (bytes up to the blank
 * line; CRLF or LF lines; folded fields unfolded): every From field is
 * parsed as RFC 5322 mailbox-list (display names, quoted strings,
 * comments, angle addresses; encoded words are never decoded, so they
 * cannot smuggle a '<' or ',').  The domain comes back in lower case
 * without a final dot. */
enum dmarc_from_status dmarc_from_domain(const char *header, size_t len,
					 struct pst_arena *arena,
					 const char **domain_r);

/* "ok", "none", "multiple", "invalid". */
const char *dmarc_from_status_name(enum dmarc_from_status status);

/* ---- dmarc_util.c: the policy record and its outcome ---- */

enum dmarc_policy {
	DMARC_POLICY_NONE_,
	DMARC_POLICY_QUARANTINE_,
	DMARC_POLICY_REJECT_,
};

/* "none", "quarantine", "reject". */
const char *dmarc_policy_name(enum dmarc_policy policy);

/* Which of the TXT strings at _dmarc.DOMAIN is the policy record (RFC
 * 7489 6.6.3): those that start with "v=DMARC1" (then white space, ';'
 * or the end) count; returns the index of the only one, -1 when there
 * is none, -2 when there are several.  A record containing a NUL byte
 * does not count. */
int dmarc_record_pick(const char *const *txt, const size_t *len, size_t n);

/* What a record says, read by libopendmarc (opendmarc_policy_store_dmarc):
 * p=, sp= (has_sp false without one), adkim=/aspf= strictness, pct=.
 * 0, or -1 with *error_r (libopendmarc's text) when it refuses the
 * record.  from_domain: the RFC5322.From domain; org_domain: non-NULL
 * when the record was found at the organizational domain instead. */
struct dmarc_record {
	enum dmarc_policy p, sp;
	bool has_sp;
	bool adkim_strict, aspf_strict;
	unsigned pct; /* 0..100 */
};
int dmarc_record_parse(const char *record, const char *from_domain,
		       const char *org_domain, struct dmarc_record *rec_r,
		       const char **error_r);

/* The policy that applies: sp= when the record came from the
 * organizational domain and has one, else p=. */
enum dmarc_policy dmarc_policy_applied(const struct dmarc_record *rec,
				       bool from_org_domain);

/* The disposition after pct= (RFC 7489 6.6.4): policy when roll (0..99)
 * < pct, else the next less strict policy (reject -> quarantine,
 * quarantine -> none). */
enum dmarc_policy dmarc_disposition(enum dmarc_policy policy, unsigned pct,
				    unsigned roll);

/* Is one of the space-separated domains in list (the dkim filter's
 * dkim.pass_domains) aligned with from_domain? */
bool dmarc_dkim_aligned(const struct dmarc_psl *psl, const char *from_domain,
			const char *list, bool strict, struct pst_arena *arena);

#endif
