/*
 * spf.h - Sender Policy Framework (RFC 7208): check_host() for the MAIL
 * FROM and HELO identities.
 *
 * The evaluator is pure computation over a DNS interface the caller
 * provides (struct spf_dns): it never logs, never opens a socket and
 * keeps no global state, so it is thread-safe as long as each call has
 * its own arena.  It is synchronous: the caller runs it off the event
 * loop and its resolver bounds each query in time.  Everything it
 * returns (explanation, mechanism, problem text) lives on the caller's
 * arena.
 */
#ifndef MAIL_SPF_H
#define MAIL_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pst_arena;

/* RFC 7208 section 2.6. */
enum spf_result {
	SPF_RESULT_NONE,
	SPF_RESULT_NEUTRAL,
	SPF_RESULT_PASS,
	SPF_RESULT_FAIL,
	SPF_RESULT_SOFTFAIL,
	SPF_RESULT_TEMPERROR,
	SPF_RESULT_PERMERROR,
};

/* "none", "neutral", "pass", ...: the RFC 8601 result names. */
const char *spf_result_name(enum spf_result result);

/* ---- the DNS interface ---- */

/* Query types: the DNS RR type numbers. */
enum spf_dns_type {
	SPF_DNS_A = 1,
	SPF_DNS_PTR = 12,
	SPF_DNS_MX = 15,
	SPF_DNS_TXT = 16,
	SPF_DNS_AAAA = 28,
};

/* What a query returns. */
enum spf_dns_status {
	SPF_DNS_OK,	  /* answers in out (count may be 0: as NODATA) */
	SPF_DNS_NXDOMAIN, /* the name does not exist (RCODE 3) */
	SPF_DNS_NODATA,	  /* the name exists, no record of the type */
	SPF_DNS_TEMPFAIL, /* SERVFAIL, other RCODEs, timeout */
};

/* One answer record.  Which fields are set depends on the type. */
struct spf_dns_rr {
	/* A: addr[0..3]; AAAA: addr[0..15], network byte order. */
	unsigned char addr[16];
	/* MX: the preference. */
	unsigned pref;
	/* TXT: the record's character-strings concatenated without spaces
	 * (RFC 7208 3.3), len bytes, which may include NUL bytes.
	 * MX: the exchange host; PTR: the name; a trailing dot is allowed,
	 * "" or "." is the RFC 7505 null MX; len bytes, or NUL-terminated
	 * when len is 0. */
	const char *text;
	size_t len;
};

struct spf_dns_answer {
	struct spf_dns_rr *rr; /* count records, on the arena given */
	size_t count;
};

struct spf_dns {
	void *ctx;
	/*
	 * Look up name (the name as the record wrote it after macro
	 * expansion: labels of 1 to 63 bytes separated by '.', at most 253
	 * bytes, no trailing dot; bytes other than letters, digits and '-'
	 * may occur and must be queried as they are, not read as escapes)
	 * of type (enum spf_dns_type).  CNAMEs are followed by the
	 * resolver.  Fills *out with records allocated on arena and returns
	 * an enum spf_dns_status.  Called synchronously, at most a few
	 * hundred times per check; the resolver enforces its own timeouts.
	 */
	int (*query)(void *ctx, struct pst_arena *arena, const char *name,
		     int type, struct spf_dns_answer *out);
};

/* ---- addresses ---- */

struct spf_addr {
	int family;		/* 4 or 6 */
	unsigned char addr[16]; /* network order; 4 bytes used for IPv4 */
};

/* Parse a textual IPv4 or IPv6 address ("192.0.2.1", "2001:db8::1").  An
 * IPv4-mapped IPv6 address (::ffff:192.0.2.1) becomes IPv4, as RFC 7208
 * asks.  0, or -1 when s is not an address. */
int spf_addr_parse(const char *s, struct spf_addr *addr_r);

/* ---- check_host() ---- */

enum spf_flag {
	/* On fail, compute the explanation (exp= of the record, else
	 * default_exp). */
	SPF_F_EXPLAIN = 1u << 0,
};

struct spf_request {
	struct spf_addr ip; /* <ip>: the SMTP client */
	/* <domain> for spf_check_host(); the others compute it. */
	const char *domain;
	/* <sender>: "local@domain"; spf_check_mailfrom() takes the MAIL
	 * FROM address here ("" for the null reverse-path). */
	const char *sender;
	const char *helo;     /* HELO/EHLO argument, for %{h}; NULL: "" */
	const char *receiver; /* %{r}: this host's name; NULL: "unknown" */
	/* The explanation when the record has no usable exp=; macro-
	 * expanded like one.  NULL: none. */
	const char *default_exp;
	int64_t now;	   /* %{t}, seconds since the epoch; 0: time() */
	unsigned flags;	   /* enum spf_flag */
	unsigned max_void; /* void lookup limit; 0: 2 (RFC 7208 4.6.4) */
};

struct spf_response {
	enum spf_result result;
	/* fail with SPF_F_EXPLAIN: the explanation (US-ASCII), or NULL
	 * when neither the record nor default_exp gave one. */
	const char *explanation;
	/* The top-level term that decided ("-all", "include:_spf.x.org",
	 * for redirect the one in the target record); NULL for none,
	 * errors and the default neutral. */
	const char *mechanism;
	/* The domain whose record decided (after redirects), or NULL. */
	const char *domain;
	/* temperror and permerror: why ("too many DNS lookups", "void
	 * lookup limit", "syntax error at 'ip4:1.2.3'", "include loop",
	 * ...).  NULL otherwise. */
	const char *problem;
	unsigned dns_terms; /* terms counted against the limit of 10 */
	unsigned voids;	    /* void lookups */
	unsigned queries;   /* DNS queries made in total */
};

/*
 * RFC 7208 check_host(<ip>, <domain>, <sender>) with req->domain and
 * req->sender as given (req->domain NULL: the part of the sender after
 * its last '@'; a sender without "@" or with an empty local part gets
 * "postmaster" as its local part, as 4.3 says).  Fills *resp_r and
 * returns resp_r->result.  Never fails: a request it cannot work on
 * (no address, no sender, no query function) and resource problems come
 * back as temperror with a problem text.
 */
enum spf_result spf_check_host(const struct spf_request *req,
			       const struct spf_dns *dns,
			       struct pst_arena *arena,
			       struct spf_response *resp_r);

/* The MAIL FROM identity (RFC 7208 2.4): req->sender is the reverse-path
 * address; for the null reverse-path ("" or NULL) the identity is
 * "postmaster@" HELO, as 2.4 asks.  req->domain is ignored. */
enum spf_result spf_check_mailfrom(const struct spf_request *req,
				   const struct spf_dns *dns,
				   struct pst_arena *arena,
				   struct spf_response *resp_r);

/* The HELO identity (RFC 7208 2.3): <domain> is req->helo, <sender> is
 * "postmaster@" HELO; req->domain and req->sender are ignored.  A HELO
 * that is an address literal or not a multi-label name gives none. */
enum spf_result spf_check_helo(const struct spf_request *req,
			       const struct spf_dns *dns,
			       struct pst_arena *arena,
			       struct spf_response *resp_r);

/* ---- the record parser and the macro expander, for tests and tools ---- */

/* True when text[0..len) is an SPF record: "v=spf1" (any case) followed
 * by a space or the end (RFC 7208 4.5). */
bool spf_record_is_spf(const char *text, size_t len);

/*
 * Check a whole record's syntax (RFC 7208 section 12) without
 * evaluating it.  0, or -1 with *error_r set to a text on arena such as
 * "syntax error at 'ip4:1.2.3'".
 */
int spf_record_check(const char *text, size_t len, struct pst_arena *arena,
		     const char **error_r);

#endif
