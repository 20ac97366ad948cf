/*
 * dns.h - the process's one DNS resolver, on libunbound.
 *
 * A struct pst_dns forwards every query to the configured nameservers, or
 * to those of /etc/resolv.conf when none are configured, and to nothing
 * else: no root servers, no /etc/hosts, no local answers for the special
 * zones (test., 10.in-addr.arpa., ...) that libunbound would otherwise
 * serve itself; the site's servers decide.  The cache is libunbound's:
 * shared by every thread and session, it keeps each answer for its TTL.
 * DNSSEC validation is optional, with a trust-anchor file.
 *
 * pst_dns_lookup() blocks the calling thread (a worker, never an event
 * loop) until the answer or its deadline, whichever comes first.  Answers
 * are hostile input: a record with a bad length, or a name that is not
 * made of letters, digits, '-' and '_' in labels of at most 63 bytes, is
 * left out and counted in answer->dropped.  Answers and everything they
 * point to live on the caller's arena.
 *
 * Thread-safety: once pst_dns_new() has returned, any number of threads
 * may call pst_dns_lookup() on the same resolver at once.  pst_dns_new()
 * and pst_dns_free() run alone (no lookup in flight); create the resolver
 * after any fork().
 */
#ifndef PST_DNS_H
#define PST_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "conf.h"

struct pst_arena;
struct pst_dns;

/* ---- configuration: dns { nameserver = [...]; timeout = 5s; } ---- */

struct pst_dns_config {
	/* "192.0.2.53", "192.0.2.53:5353", "2001:db8::53" or
	 * "[2001:db8::53]:5353"; none: the servers of resolv_conf. */
	struct pst_conf_strings nameserver;
	const char *resolv_conf;  /* default "/etc/resolv.conf" */
	uint64_t timeout;	  /* ms, per lookup */
	bool dnssec;		  /* validate; needs trust_anchor */
	const char *trust_anchor; /* file of DS or DNSKEY records */
	uint64_t cache_size;	  /* bytes, messages and RRsets together */
};

#define PST_DNS_DEFAULT_TIMEOUT 5000u
#define PST_DNS_DEFAULT_CACHE_SIZE (12u << 20)

/* Fill in the defaults. */
void pst_dns_config_init(struct pst_dns_config *cfg);

/* The fields of a dns { } block for pst_conf_bind() onto a struct
 * pst_dns_config: nameserver, resolv_conf, timeout, dnssec,
 * trust_anchor, cache_size.  NULL-name-terminated. */
extern const struct pst_conf_field pst_dns_conf_fields[];

/* Build the resolver: two threads of its own (libunbound's, and one that
 * hands its answers over).  Every setting is checked here, the
 * trust-anchor file read, so that a bad configuration fails at startup;
 * cfg is not kept.  0, or -1 with *error_r (allocated on arena). */
int pst_dns_new(struct pst_arena *arena, const struct pst_dns_config *cfg,
		struct pst_dns **dns_r, const char **error_r);

/* Stop and free; no lookup may be running.  NULL and *dns_p == NULL are
 * accepted; *dns_p is set to NULL. */
void pst_dns_free(struct pst_dns **dns_p);

/* ---- lookups ---- */

enum pst_dns_type {
	PST_DNS_A = 1,
	PST_DNS_PTR = 12,
	PST_DNS_MX = 15,
	PST_DNS_TXT = 16,
	PST_DNS_AAAA = 28,
};

enum pst_dns_status {
	PST_DNS_OK,	  /* n >= 1 records */
	PST_DNS_NXDOMAIN, /* the name does not exist */
	PST_DNS_NODATA,	  /* it exists, without a usable record of the type */
	PST_DNS_TEMPFAIL, /* timeout, SERVFAIL, REFUSED, network, DNSSEC bogus,
			   * out of memory: try again later */
	PST_DNS_BADNAME,  /* the name asked for is malformed: nothing sent */
};

struct pst_dns_rr {
	union {
		struct in_addr a;
		struct in6_addr aaaa;
		struct {
			uint16_t pref;
			const char *host; /* "." is the null MX (RFC 7505) */
		} mx;
		struct {
			const char *data; /* strings concatenated; + NUL */
			size_t len;	  /* binary-safe: may hold NULs */
		} txt;
		const char *ptr;
	};
};

/* Names in answers: labels joined by '.', no final dot, case kept. */
struct pst_dns_answer {
	enum pst_dns_status status;
	enum pst_dns_type type;
	const char *error; /* TEMPFAIL, BADNAME, or records dropped: why */
	struct pst_dns_rr *rr;
	size_t n;
	uint32_t ttl;	  /* OK: seconds the answer stays cached */
	unsigned dropped; /* malformed records (or past the limit) left out */
	bool secure;	  /* DNSSEC: validated */
	bool bogus;	  /* DNSSEC: validation failed (status TEMPFAIL) */
	/* pst_dns_lookup_packet() only: the reply, or NULL */
	const unsigned char *packet;
	size_t packet_len;
};

/* Records kept per answer; the rest are dropped. */
#define PST_DNS_MAX_RR 512

/* Look name up: "example.org" or "example.org." (one final dot), labels
 * of 1 to 63 bytes, 253 in all.  Every byte but '.' is queried as it
 * stands ('\' is no escape; IDNs go as A-labels, the caller's business).
 * Waits at most the configured timeout.  Returns the answer's status;
 * *answer_r is always set, on arena (or, when even that fails, to a
 * static TEMPFAIL answer). */
enum pst_dns_status pst_dns_lookup(struct pst_dns *dns, struct pst_arena *arena,
				   const char *name, enum pst_dns_type type,
				   const struct pst_dns_answer **answer_r);

/* The same with its own deadline (ms from now, 0: the configured one),
 * for callers that spend a budget over several lookups. */
enum pst_dns_status
pst_dns_lookup_timeout(struct pst_dns *dns, struct pst_arena *arena,
		       const char *name, enum pst_dns_type type,
		       unsigned timeout_ms,
		       const struct pst_dns_answer **answer_r);

/* The same, and answer->packet keeps the reply as DNS wire format, for a
 * library that parses replies itself (libopendkim's query hooks).  Only
 * an OK, NXDOMAIN or NODATA answer has a packet: the reply of a failure
 * (a DNSSEC-bogus one still carries its records) is never handed on.
 * The packet is hostile input for whoever parses it. */
enum pst_dns_status
pst_dns_lookup_packet(struct pst_dns *dns, struct pst_arena *arena,
		      const char *name, enum pst_dns_type type,
		      unsigned timeout_ms,
		      const struct pst_dns_answer **answer_r);

/* ---- helpers (pure, thread-safe) ---- */

/* Is name acceptable to pst_dns_lookup()?  NULL, or why not (static). */
const char *pst_dns_name_check(const char *name);

/* "10.2.0.192.in-addr.arpa" or the nibble form under ip6.arpa for an
 * address (family AF_INET or AF_INET6, addr in network order), on arena.
 * NULL when out of memory or family is unknown. */
char *pst_dns_reverse_name(struct pst_arena *arena, int family,
			   const void *addr);

/* "ok", "nxdomain", "nodata", "tempfail", "badname". */
const char *pst_dns_status_name(enum pst_dns_status status);

#endif
