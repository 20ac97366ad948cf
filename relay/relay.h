/*
 * relay.h - hands an accepted message to where it goes next.
 *
 * The SMTP front calls relay_submit() after end of data and answers the
 * client only from the reply that comes back: the relay either delivered
 * the message durably (maildir) or an upstream accepted it, or it says
 * why not.  Delivery runs off the event loop; the done callback runs on
 * the submitting loop's thread.
 *
 * Routes: `route NAME { upstream = ...; }` with NAME a domain, ".domain"
 * for its subdomains, or default.  Upstreams are SMTP (smtp://, smtps://
 * with implicit TLS), LMTP (lmtp://, lmtp:unix:/path) or maildir:PATH,
 * tried in order (failover), with a pool of idle connections per
 * upstream and event loop.  Network deliveries run on the submitting
 * loop; maildir deliveries on the work queue.
 */
#ifndef RELAY_RELAY_H
#define RELAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "conf.h"
#include "net.h"
#include "smtp_cmd.h"

struct event_base;
struct pst_arena;
struct pst_spool;
struct pst_workq;

struct relay_route; /* opaque */

/* One upstream of a route, as checked at load time. */
enum relay_upstream_kind {
	RELAY_UPSTREAM_MAILDIR, /* "maildir:PATH" */
	RELAY_UPSTREAM_SMTP,	/* "smtp://host:port" */
	RELAY_UPSTREAM_SMTPS,	/* "smtps://host:port": TLS from the start */
	RELAY_UPSTREAM_LMTP,	/* "lmtp://host:port", "lmtp:unix:/path" */
};

/* Most addresses kept for one upstream name. */
#define RELAY_UPSTREAM_ADDRS_MAX 8

struct relay_upstream_conf {
	enum relay_upstream_kind kind;
	const char *spec; /* as written, for messages */
	const char *path; /* MAILDIR: absolute directory; LMTP over a unix
			   * socket: its absolute path; else NULL */
	const char *host; /* network: the host as written, without [] */
	unsigned port;
	/* network: the addresses host resolved to at load time (TCP) or
	 * the unix socket address, tried in order; 0 for maildir */
	struct pst_sockaddr *addrs;
	size_t naddrs;
};

enum relay_balance {
	RELAY_BALANCE_FAILOVER,	   /* always start with the first */
	RELAY_BALANCE_ROUND_ROBIN, /* start with the next one each time */
};

enum relay_tls {
	RELAY_TLS_NONE,
	RELAY_TLS_OPPORTUNISTIC, /* STARTTLS when offered, no checks */
	RELAY_TLS_REQUIRED,	 /* STARTTLS or fail, no certificate checks */
	RELAY_TLS_VERIFY,	 /* STARTTLS, chain against tls_ca, name */
};

struct relay_route_conf {
	const char *name; /* "default", "example.org" or ".example.org",
			   * lower case, no trailing dot */
	struct relay_upstream_conf *upstreams; /* tried in order */
	size_t nupstreams;
	const char *file; /* where it was defined, for messages */
	unsigned line;
	/* Network upstreams (defaults in brackets).  Times in ms. */
	enum relay_balance balance; /* [failover] */
	enum relay_tls tls;	    /* [opportunistic] */
	const char *tls_ca;	    /* CA file for verify [system store] */
	const char *tls_name;	    /* expected name for verify [host] */
	uint64_t connect_timeout;   /* [10s] */
	uint64_t command_timeout;   /* per upstream reply [5min] */
	uint64_t data_timeout;	    /* reply to end of data [10min] */
	uint64_t backoff;	    /* a failed upstream is skipped [60s] */
	unsigned pool_size;	    /* idle connections per upstream and
				     * event loop [8] */
	uint64_t pool_idle;	    /* idle connection lifetime [30s] */
	bool verify_recipients;	    /* ask the upstream at RCPT [false] */
	uint64_t verify_cache;	    /* cache of those answers, 0 off [10min] */
	bool xclient;		    /* XCLIENT/XFORWARD when offered [true] */
};

struct relay_conf {
	struct relay_route_conf *routes; /* array, in config order */
	size_t nroutes;
	size_t routes_cap; /* allocated entries (relay_conf_route grows it) */
	/* The name we greet upstreams with (EHLO/LHLO); NULL: the host
	 * name from gethostname(). */
	const char *helo_name;
};

struct relay_rcpt {
	const char *addr;  /* "local@domain" as accepted */
	const char *orcpt; /* DSN ORCPT value, or NULL */
	unsigned notify;   /* enum smtp_notify bits */
};

/* Who sent the message, for XCLIENT/XFORWARD to upstreams that offer
 * them (so the delivery server logs the real client). */
struct relay_client {
	const char *addr; /* "192.0.2.7" or "2001:db8::7" */
	unsigned port;
	const char *name;  /* "unknown" until reverse DNS exists */
	const char *helo;  /* "" when none */
	const char *proto; /* "SMTP", "ESMTP" */
	bool tls;
};

struct relay_msg {
	const char *qid;
	const struct relay_client *client;
	const char *from; /* "" for the null sender */
	const struct relay_rcpt *rcpts;
	size_t nrcpt;
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	const char *envid;
	/* The message as CRLF lines, not dot-stuffed, our Received: first.
	 * Flushed; only read by the relay. */
	struct pst_spool *spool;
};

/* The answer for the client's end of data. */
struct relay_reply {
	unsigned code;	   /* 250, 4xx, 5xx */
	char enhanced[16]; /* "2.0.0" */
	char text[400];	   /* without code */
};

typedef void relay_done_fn(void *arg, const struct relay_reply *reply);

/* Config block handler for `route NAME { ... }` (repeatable); obj is a
 * struct relay_conf. */
pst_conf_block_fn relay_conf_route;

struct relay;

/* Build the relay from the bound configuration (arena: the config's).
 * Checks targets (maildir paths must be absolute) but creates nothing:
 * see relay_prepare().  NULL and *error_r on failure. */
struct relay *relay_new(struct pst_arena *arena, const struct relay_conf *conf,
			struct pst_workq *workq, const char **error_r);

/* Create missing maildir directories (PATH and PATH/tmp, new, cur) and
 * chown those it creates to uid:gid ((uid_t)-1 / (gid_t)-1: keep).
 * posternd calls it as root, before dropping privileges, so the
 * unprivileged process can deliver.  0, or -1 with *error_r (on the
 * relay's arena). */
int relay_prepare(struct relay *relay, uid_t uid, gid_t gid,
		  const char **error_r);

/* The route a recipient domain takes, or NULL when no route (not even
 * default) matches.  Routes are compared by identity: recipients of one
 * transaction must share one route. */
const struct relay_route *relay_route_for(const struct relay *relay,
					  struct pst_str domain);
const char *relay_route_name(const struct relay_route *route);

/* Deliver msg by route; done(arg, reply) is called exactly once, on
 * base's thread, after relay_submit returned 0.  Everything msg points
 * to is copied during the call, except the spool, which the caller keeps
 * alive and unchanged until done has run.  -1 when the job could
 * not even be queued (the caller answers 451). */
int relay_submit(struct relay *relay, struct event_base *base,
		 const struct relay_route *route, const struct relay_msg *msg,
		 relay_done_fn *done, void *arg);

/* Most recipients one client transaction may have on this route; 0 for
 * no limit of the route's own.  Routes with an LMTP upstream (first or
 * failover) say 1: LMTP answers per recipient after DATA, but the client
 * gets one reply for the message, so one recipient per transaction keeps
 * that reply true for everyone (the client sends the others in new
 * transactions after 452 4.5.3). */
unsigned relay_route_max_rcpt(const struct relay_route *route);

/* Does this route verify recipients with its upstream at RCPT time? */
bool relay_route_verifies(const struct relay_route *route);

/* Ask the route's upstream whether it takes rcpt (MAIL FROM:<msg->from>
 * with msg's parameters, then RCPT, then RSET; answers are cached per
 * recipient for the route's verify_cache time).  done(arg, reply) runs
 * once on base's thread with the upstream's verdict: 250 2.1.5 accepted,
 * its 4xx/5xx (text marked with the upstream's name), or 451 4.4.1 when
 * no upstream could be asked.  msg->rcpts/spool are not used.  -1 when
 * the request could not even be queued. */
int relay_verify(struct relay *relay, struct event_base *base,
		 const struct relay_route *route, const struct relay_msg *msg,
		 const struct relay_rcpt *rcpt, relay_done_fn *done, void *arg);

/* Forget everything the relay keeps on base: close its idle upstream
 * connections and abandon deliveries and probes still running there
 * (their done callbacks are not run).  Call it once base's loop has
 * stopped for good, before event_base_free(base), on the thread that ran
 * the loop or after joining it; the work queue must have stopped (or
 * have no maildir delivery of this base in flight). */
void relay_base_free(struct relay *relay, struct event_base *base);

#endif
