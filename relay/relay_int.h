/*
 * relay_int.h - what relay.c (configuration, routes, maildir jobs) and
 * relay_smtp.c (deliveries to SMTP/LMTP upstreams) share; not for use
 * outside relay/ apart from unit tests.
 *
 * The relay, its routes and upstreams are built once on the
 * configuration's arena and then read by every loop thread; the only
 * fields that change afterwards are atomics (backoff times, the
 * round-robin counter) or sit behind relay->lock (the per-loop states)
 * and the verify cache's own lock.
 */
#ifndef RELAY_RELAY_INT_H
#define RELAY_RELAY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "relay.h"
#include "smtp_client.h"

struct relay_loop;
struct relay_vcache;

/* An upstream at run time. */
struct relay_upstream {
	const struct relay_upstream_conf *conf;
	const struct relay_route *route;
	unsigned index;	     /* among all upstreams: pool slot */
	uint64_t down_until; /* CLOCK_MONOTONIC ms; __atomic access */
	struct smtp_client_conf *addrs; /* network: one per address */
	struct smtp_client_conf *plain; /* the same without STARTTLS, for
					 * tls = opportunistic after a
					 * failed handshake; else NULL */
	size_t naddrs;
};

struct relay_route {
	const char *name; /* as in relay_route_conf */
	size_t name_len;
	bool is_default;
	bool is_suffix; /* ".example.org": subdomains only */
	const struct relay_upstream_conf *upstreams;
	size_t nupstreams;
	const struct relay_route_conf *conf;
	struct relay_upstream *ups; /* nupstreams, same order */
	bool network;		    /* has an SMTP/LMTP upstream */
	unsigned rr;		    /* round-robin counter; atomic */
	SSL_CTX *ssl_ctx;	    /* when TLS may be used */
};

struct relay {
	struct pst_arena *arena;
	struct pst_workq *workq;
	struct relay_route *routes;
	size_t nroutes;
	const struct relay_route *deflt;
	const char *helo;
	unsigned nups; /* upstreams of all routes */
	pthread_mutex_t lock;
	bool lock_init;
	struct relay_loop **loops; /* one per event_base, behind lock */
	size_t nloops, loops_cap;
	struct relay_vcache *vcache;
};

/* ---- relay.c ---- */

/*
 * Parse one upstream ("smtp://host:port", "smtps://...", "lmtp://...",
 * "lmtp:unix:/path", "maildir:/path"); IPv6 hosts in brackets.  Numeric
 * hosts never touch DNS; names are resolved with getaddrinfo when
 * resolve is set, else left with no address.  Relative paths are made
 * absolute against the current directory.  0, or -1 with *error_r
 * (without file:line; on the arena).
 */
int relay_upstream_parse(struct pst_arena *arena, const char *spec,
			 bool resolve, struct relay_upstream_conf *up_r,
			 const char **error_r);

/* The delay= field: two decimals below 100 s, whole seconds above. */
void relay_format_delay(char *buf, size_t size, double seconds);

/* ---- relay_smtp.c ---- */

/* Set up the shared state of network deliveries (TLS contexts, pools,
 * verify cache) once the routes exist; registers its cleanup on the
 * relay's arena.  0 or -1 with *error_r. */
int relay_smtp_init(struct relay *relay, const char **error_r);

int relay_smtp_submit(struct relay *relay, struct event_base *base,
		      const struct relay_route *route,
		      const struct relay_msg *msg, relay_done_fn *done,
		      void *arg);
int relay_smtp_verify(struct relay *relay, struct event_base *base,
		      const struct relay_route *route,
		      const struct relay_msg *msg,
		      const struct relay_rcpt *rcpt, relay_done_fn *done,
		      void *arg);
void relay_smtp_base_free(struct relay *relay, struct event_base *base);

/* What a recipient's log line says. */
enum relay_status { RELAY_SENT, RELAY_DEFERRED, RELAY_BOUNCED };

struct relay_rcpt_result {
	enum relay_status status;
	char dsn[16];
	char text[400];
};

/*
 * The client's reply for a finished transaction (see the spec in
 * relay.h's users' documentation): peer names the upstream in texts,
 * qid goes into the 250 text.  results: one per recipient (nrcpt), for
 * the log.  Pure; for tests.
 */
void relay_map_delivery(const struct smtp_client_tx *tx, bool lmtp,
			const char *peer, const char *qid,
			struct relay_reply *reply,
			struct relay_rcpt_result *results);
/* The client's reply to RCPT for a finished probe. */
void relay_map_verify(const struct smtp_client_tx *tx, const char *peer,
		      struct relay_reply *reply);

#endif
