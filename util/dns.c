/*
 * dns.c - the resolver: one libunbound context in forward-only mode, a
 * dispatcher thread, and lookups with a hard deadline.
 *
 * Why not ub_resolve(): it has no timeout; against a nameserver that
 * never answers it returned SERVFAIL after 17 s (measured, libunbound
 * 1.17.1).  So a lookup is ub_resolve_async() on the shared context; the
 * dispatcher thread waits on ub_fd() and runs ub_process(), whose
 * callback hands the result to the waiting thread through a condition
 * variable; at the deadline the waiter cancels the query.
 *
 * Who frees a query: libunbound removes a query from its table (under
 * its lock) before it calls the callback, and ub_cancel() succeeds only
 * while the query is still in that table, in which case the callback
 * never runs.  So after a timeout, a successful ub_cancel() means the
 * waiter frees the query; otherwise the callback is on its way (on the
 * dispatcher thread) and frees it.  dns->lock orders the two.
 *
 * Thread-safety: see dns.h.  Lock order: dns->lock, then libunbound's.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <unbound.h>

#include "arena.h"
#include "dns.h"
#include "dns_int.h"

#define DNS_CLASS_IN 1
/* 253 bytes of name, each at most "\DDD", the final dot, NUL. */
#define DNS_QNAME_MAX (253 * 4 + 2)
/* Longest nameserver entry: "[" IPv6 "]:65535". */
#define DNS_SERVER_MAX (INET6_ADDRSTRLEN + 8)

struct pst_dns {
	struct ub_ctx *ctx;
	unsigned timeout_ms;
	bool dnssec;

	pthread_mutex_t lock;
	pthread_condattr_t condattr; /* CLOCK_MONOTONIC */
	const char *failed;	     /* dispatcher gave up: why (static) */

	pthread_t thread;
	bool thread_started;
	int stop_pipe[2];
};

struct dns_query {
	struct pst_dns *dns;
	pthread_cond_t done_cond;
	bool done;	/* the callback has run */
	bool abandoned; /* the waiter left: the callback frees */
	int err;
	struct ub_result *result;
};

/* ---- configuration ---- */

#define DNS_FIELD(n, t, lo, hi)                                                \
	{                                                                      \
		.name = #n, .type = PST_CONF_T_##t, .min = (lo), .max = (hi),  \
		.offset = offsetof(struct pst_dns_config, n)                   \
	}

const struct pst_conf_field pst_dns_conf_fields[] = {
	DNS_FIELD(nameserver, STRINGS, 0, 0),
	DNS_FIELD(resolv_conf, STRING, 0, 0),
	DNS_FIELD(timeout, DURATION, 1, 300000),
	DNS_FIELD(dnssec, BOOL, 0, 0),
	DNS_FIELD(trust_anchor, STRING, 0, 0),
	DNS_FIELD(cache_size, SIZE, 64u << 10, 4ull << 30),
	{ .name = NULL },
};

void
pst_dns_config_init(struct pst_dns_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->resolv_conf = "/etc/resolv.conf";
	cfg->timeout = PST_DNS_DEFAULT_TIMEOUT;
	cfg->cache_size = PST_DNS_DEFAULT_CACHE_SIZE;
}

/* "IP", "IPv4:PORT", "[IPv6]:PORT" -> libunbound's "IP@PORT".  Numeric
 * only: a host name would need the resolver we are building. */
static int
dns_server_parse(const char *s, char *out, size_t size, const char **why_r)
{
	char host[DNS_SERVER_MAX + 1];
	const char *port = NULL;
	size_t len = strnlen(s, sizeof(host));

	if (len == 0 || len >= sizeof(host)) {
		*why_r = "empty or too long";
		return -1;
	}
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
			*why_r = "expected [IPv6]:PORT";
			return -1;
		}
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		if (end[1] == ':')
			port = end + 2;
	} else {
		const char *colon = strchr(s, ':');

		memcpy(host, s, len + 1);
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			host[colon - s] = '\0'; /* IPv4:PORT */
			port = colon + 1;
		}
	}

	unsigned char bin[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, host, bin) != 1 &&
	    inet_pton(AF_INET6, host, bin) != 1) {
		*why_r = "not an IP address (host names are not allowed)";
		return -1;
	}
	unsigned long p = 53;

	if (port != NULL) {
		char *end;

		errno = 0;
		p = port[0] >= '0' && port[0] <= '9' ? strtoul(port, &end, 10)
						     : 0;
		if (p == 0 || p > 65535 || errno != 0 || *end != '\0') {
			*why_r = "bad port";
			return -1;
		}
	}
	snprintf(out, size, "%s@%lu", host, p);
	return 0;
}

/* The zones libunbound 1.17 answers itself (RFC 6761, RFC 6303 and
 * friends, as ub_ctx_print_local_zones() lists them).  Removed, so the
 * configured servers answer them too: a site's own reverse zones for
 * 10/8 or 192.168/16 are exactly what a gateway asks about. */
static const char *const dns_default_zones[] = {
	"localhost.",
	"test.",
	"onion.",
	"invalid.",
	"home.arpa.",
	"0.in-addr.arpa.",
	"10.in-addr.arpa.",
	"127.in-addr.arpa.",
	"254.169.in-addr.arpa.",
	"2.0.192.in-addr.arpa.",
	"168.192.in-addr.arpa.",
	"100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.",
	"255.255.255.255.in-addr.arpa.",
	"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	"ip6.arpa.",
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	"ip6.arpa.",
	"8.b.d.0.1.0.0.2.ip6.arpa.",
	"d.f.ip6.arpa.",
	"8.e.f.ip6.arpa.",
	"9.e.f.ip6.arpa.",
	"a.e.f.ip6.arpa.",
	"b.e.f.ip6.arpa.",
};

/* Removing the first zone also finalizes the context: the trust anchor
 * is read here, so its errors come out of this function. */
static int
dns_remove_default_zones(struct ub_ctx *ctx, int *ub_err_r)
{
	char zone[32];
	int r;

	for (size_t i = 0;
	     i < sizeof(dns_default_zones) / sizeof(dns_default_zones[0]);
	     i++) {
		r = ub_ctx_zone_remove(ctx, dns_default_zones[i]);
		if (r != 0)
			goto fail;
	}
	/* 100.64.0.0/10 (RFC 6598) and 172.16.0.0/12 */
	for (unsigned i = 64; i <= 127; i++) {
		snprintf(zone, sizeof(zone), "%u.100.in-addr.arpa.", i);
		if ((r = ub_ctx_zone_remove(ctx, zone)) != 0)
			goto fail;
	}
	for (unsigned i = 16; i <= 31; i++) {
		snprintf(zone, sizeof(zone), "%u.172.in-addr.arpa.", i);
		if ((r = ub_ctx_zone_remove(ctx, zone)) != 0)
			goto fail;
	}
	return 0;
fail:
	*ub_err_r = r;
	return -1;
}

/* The first line libunbound logged as "... error: TEXT", printable. */
static const char *
dns_logged_error(struct pst_arena *arena, const char *log)
{
	const char *e = log ? strstr(log, "error: ") : NULL;

	if (e == NULL)
		return NULL;
	e += strlen("error: ");
	size_t n = strcspn(e, "\n");
	char *out = pst_arena_strndup(arena, e, n < 300 ? n : 300);

	for (char *p = out; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return out;
}

/* Finalize the context (reads the trust anchor).  libunbound tells why
 * it fails only on its log, so catch that for the error text. */
static int
dns_finalize(struct pst_arena *arena, struct ub_ctx *ctx, const char **why_r)
{
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *log = open_memstream(&logbuf, &loglen);
	int ub_err = 0;

	if (log != NULL)
		ub_ctx_debugout(ctx, log);
	int r = dns_remove_default_zones(ctx, &ub_err);

	ub_ctx_debugout(ctx, stderr);
	if (log != NULL)
		fclose(log);
	if (r < 0) {
		*why_r = dns_logged_error(arena, logbuf);
		if (*why_r == NULL)
			*why_r = ub_strerror(ub_err);
	}
	free(logbuf);
	return r;
}

static int
dns_set_option(struct ub_ctx *ctx, const char *opt, uint64_t value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, value);
	return ub_ctx_set_option(ctx, opt, buf);
}

static const char *
dns_configure(struct pst_arena *arena, struct ub_ctx *ctx,
	      const struct pst_dns_config *cfg)
{
	char server[DNS_SERVER_MAX + 8];
	const char *why;
	int r;

	/* Queries are answered on a libunbound thread, not a fork. */
	if ((r = ub_ctx_async(ctx, 1)) != 0)
		return pst_arena_printf(arena, "dns: %s", ub_strerror(r));

	/* The validator only when asked: without it no DS/DNSKEY query
	 * ever leaves.  A third of the cache for messages, the rest for
	 * RRsets, as unbound's defaults share it.  A nameserver that went
	 * silent is marked down for as long as libunbound keeps its
	 * infrastructure entry: with the default 900 s, lookups still
	 * failed 35 s after a 90 s outage had ended; with 10 s, 3 s. */
	uint64_t msg = cfg->cache_size / 3;

	if ((r = ub_ctx_set_option(ctx, "module-config:",
				   cfg->dnssec ? "validator iterator"
					       : "iterator")) != 0 ||
	    (r = dns_set_option(ctx, "msg-cache-size:", msg)) != 0 ||
	    (r = dns_set_option(
		     ctx, "rrset-cache-size:", cfg->cache_size - msg)) != 0 ||
	    (r = ub_ctx_set_option(ctx, "infra-host-ttl:", "10")) != 0)
		return pst_arena_printf(arena, "dns: %s", ub_strerror(r));

	for (size_t i = 0; i < cfg->nameserver.n; i++) {
		const char *s = cfg->nameserver.v[i];

		if (dns_server_parse(s, server, sizeof(server), &why) < 0)
			return pst_arena_printf(
				arena, "dns: nameserver \"%s\": %s", s, why);
		if ((r = ub_ctx_set_fwd(ctx, server)) != 0)
			return pst_arena_printf(arena,
						"dns: nameserver \"%s\": %s", s,
						ub_strerror(r));
	}
	if (cfg->nameserver.n == 0) {
		const char *path = cfg->resolv_conf ? cfg->resolv_conf
						    : "/etc/resolv.conf";

		/* Only its nameserver lines count (no port there); with
		 * none, libunbound uses 127.0.0.1 as the C library does. */
		if ((r = ub_ctx_resolvconf(ctx, path)) != 0)
			return pst_arena_printf(arena, "dns: %s: %s", path,
						r == UB_READFILE
							? strerror(errno)
							: ub_strerror(r));
	}

	if (cfg->dnssec) {
		if (cfg->trust_anchor == NULL || cfg->trust_anchor[0] == '\0')
			return "dns: dnssec needs a trust_anchor file";
		/* libunbound only notes the name; open it now for a clear
		 * message, its parse errors come at finalization. */
		FILE *f = fopen(cfg->trust_anchor, "r");

		if (f == NULL)
			return pst_arena_printf(
				arena, "dns: trust_anchor %s: %s",
				cfg->trust_anchor, strerror(errno));
		fclose(f);
		if ((r = ub_ctx_add_ta_file(ctx, cfg->trust_anchor)) != 0)
			return pst_arena_printf(
				arena, "dns: trust_anchor %s: %s",
				cfg->trust_anchor, ub_strerror(r));
	}

	if (dns_finalize(arena, ctx, &why) < 0)
		return pst_arena_printf(
			arena, "dns: cannot start the resolver: %s", why);
	return NULL;
}

/* ---- the dispatcher thread ---- */

static void *
dns_dispatch(void *arg)
{
	struct pst_dns *dns = arg;
	struct pollfd pfd[2] = {
		{ .fd = ub_fd(dns->ctx), .events = POLLIN },
		{ .fd = dns->stop_pipe[0], .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents != 0)
			return NULL;
		if (pfd[0].revents & POLLNVAL)
			break; /* would spin: ub_process() reads nothing */
		if (pfd[0].revents == 0)
			continue;
		/* Callbacks run here, with no lock of ours held. */
		if (ub_process(dns->ctx) != 0)
			break;
	}
	pthread_mutex_lock(&dns->lock);
	dns->failed = "the resolver's background thread failed";
	pthread_mutex_unlock(&dns->lock);
	return NULL;
}

static void
dns_query_free(struct dns_query *q)
{
	pthread_cond_destroy(&q->done_cond);
	free(q);
}

void (*pst_dns_answer_hook)(void);

static void
dns_query_done(void *arg, int err, struct ub_result *result)
{
	struct dns_query *q = arg;
	struct pst_dns *dns = q->dns;

	if (pst_dns_answer_hook != NULL)
		pst_dns_answer_hook();
	pthread_mutex_lock(&dns->lock);
	if (q->abandoned) {
		pthread_mutex_unlock(&dns->lock);
		ub_resolve_free(result);
		dns_query_free(q);
		return;
	}
	q->done = true;
	q->err = err;
	q->result = result;
	pthread_cond_signal(&q->done_cond);
	/* the waiter may free q as soon as the lock is released */
	pthread_mutex_unlock(&dns->lock);
}

static int
dns_start_thread(struct pst_dns *dns)
{
	sigset_t all, old;

	/* Signals stay with the threads that handle them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&dns->thread, NULL, dns_dispatch, dns);

	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return -1;
	dns->thread_started = true;
	return 0;
}

int
pst_dns_new(struct pst_arena *arena, const struct pst_dns_config *cfg,
	    struct pst_dns **dns_r, const char **error_r)
{
	struct pst_dns *dns;
	const char *error;

	*dns_r = NULL;
	if (cfg->timeout == 0 || cfg->timeout > 3600u * 1000) {
		*error_r = "dns: timeout must be between 1ms and 1h";
		return -1;
	}
	dns = calloc(1, sizeof(*dns));
	if (dns == NULL) {
		*error_r = "dns: out of memory";
		return -1;
	}
	dns->timeout_ms = (unsigned)cfg->timeout;
	dns->dnssec = cfg->dnssec;
	dns->stop_pipe[0] = dns->stop_pipe[1] = -1;
	pthread_mutex_init(&dns->lock, NULL);
	pthread_condattr_init(&dns->condattr);
	pthread_condattr_setclock(&dns->condattr, CLOCK_MONOTONIC);

	dns->ctx = ub_ctx_create();
	if (dns->ctx == NULL) {
		error = "dns: cannot create the resolver context";
		goto fail;
	}
	if ((error = dns_configure(arena, dns->ctx, cfg)) != NULL)
		goto fail;
	if (pipe2(dns->stop_pipe, O_CLOEXEC) < 0 || dns_start_thread(dns) < 0) {
		error = pst_arena_printf(arena, "dns: cannot start: %s",
					 strerror(errno));
		goto fail;
	}
	*dns_r = dns;
	return 0;
fail:
	*error_r = error ? error : "dns: out of memory";
	pst_dns_free(&dns);
	return -1;
}

void
pst_dns_free(struct pst_dns **dns_p)
{
	struct pst_dns *dns = dns_p ? *dns_p : NULL;

	if (dns == NULL)
		return;
	*dns_p = NULL;
	if (dns->thread_started) {
		/* The dispatcher finishes the ub_process() it is in, so a
		 * callback for an abandoned query still frees it. */
		ssize_t w;

		do
			w = write(dns->stop_pipe[1], "", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(dns->thread, NULL);
	}
	/* Kills the background thread and the queries still in flight;
	 * their callbacks are not called, and none of them is ours. */
	if (dns->ctx != NULL)
		ub_ctx_delete(dns->ctx);
	for (int i = 0; i < 2; i++)
		if (dns->stop_pipe[i] >= 0)
			close(dns->stop_pipe[i]);
	pthread_condattr_destroy(&dns->condattr);
	pthread_mutex_destroy(&dns->lock);
	free(dns);
}

/* ---- lookups ---- */

static const struct pst_dns_answer dns_oom_answer = {
	.status = PST_DNS_TEMPFAIL,
	.error = "out of memory",
};

static enum pst_dns_status
dns_give(const struct pst_dns_answer *a, const struct pst_dns_answer **answer_r)
{
	*answer_r = a != NULL ? a : &dns_oom_answer;
	return (*answer_r)->status;
}

static enum pst_dns_status
dns_fail(struct pst_arena *arena, enum pst_dns_type type,
	 enum pst_dns_status status, const char *error,
	 const struct pst_dns_answer **answer_r)
{
	return dns_give(pst_dns_answer_fail(arena, type, status, error),
			answer_r);
}

static void
dns_deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool
dns_type_known(enum pst_dns_type type)
{
	switch (type) {
	case PST_DNS_A:
	case PST_DNS_AAAA:
	case PST_DNS_MX:
	case PST_DNS_TXT:
	case PST_DNS_PTR:
		return true;
	}
	return false;
}

/* A copy of the reply packet of a usable answer, on the arena. */
static void
dns_keep_packet(struct pst_arena *arena, struct pst_dns_answer *a,
		const struct ub_result *r)
{
	if (a == NULL || r == NULL || r->answer_packet == NULL ||
	    r->answer_len <= 0)
		return;
	if (a->status != PST_DNS_OK && a->status != PST_DNS_NXDOMAIN &&
	    a->status != PST_DNS_NODATA)
		return;
	unsigned char *p = pst_arena_alloc(arena, (size_t)r->answer_len);

	if (p == NULL)
		return;
	memcpy(p, r->answer_packet, (size_t)r->answer_len);
	a->packet = p;
	a->packet_len = (size_t)r->answer_len;
}

static enum pst_dns_status
dns_lookup(struct pst_dns *dns, struct pst_arena *arena, const char *name,
	   enum pst_dns_type type, unsigned timeout_ms, bool keep_packet,
	   const struct pst_dns_answer **answer_r)
{
	const char *why = pst_dns_name_check(name);

	if (why != NULL)
		return dns_fail(arena, type, PST_DNS_BADNAME, why, answer_r);
	if (!dns_type_known(type))
		return dns_fail(arena, type, PST_DNS_BADNAME,
				"unsupported record type", answer_r);

	char qname[DNS_QNAME_MAX];

	if (pst_dns_name_escape(qname, sizeof(qname), name) < 0)
		return dns_fail(arena, type, PST_DNS_BADNAME, "name too long",
				answer_r);

	struct dns_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return dns_give(NULL, answer_r);
	q->dns = dns;
	pthread_cond_init(&q->done_cond, &dns->condattr);

	struct timespec deadline;
	unsigned ms = timeout_ms ? timeout_ms : dns->timeout_ms;
	int id = 0, r;

	dns_deadline(&deadline, ms);
	pthread_mutex_lock(&dns->lock);
	why = dns->failed;
	pthread_mutex_unlock(&dns->lock);
	if (why != NULL) {
		dns_query_free(q);
		return dns_fail(arena, type, PST_DNS_TEMPFAIL, why, answer_r);
	}
	r = ub_resolve_async(dns->ctx, qname, (int)type, DNS_CLASS_IN, q,
			     dns_query_done, &id);
	if (r != 0) {
		dns_query_free(q);
		return dns_fail(arena, type, PST_DNS_TEMPFAIL, ub_strerror(r),
				answer_r);
	}

	pthread_mutex_lock(&dns->lock);
	while (!q->done) {
		/* 0 is a wakeup (maybe spurious); anything else ends it */
		if (pthread_cond_timedwait(&q->done_cond, &dns->lock,
					   &deadline) != 0)
			break;
	}
	if (!q->done) {
		bool cancelled = ub_cancel(dns->ctx, id) == 0;

		if (!cancelled)
			q->abandoned = true; /* the callback frees it */
		pthread_mutex_unlock(&dns->lock);
		if (cancelled)
			dns_query_free(q);
		return dns_fail(
			arena, type, PST_DNS_TEMPFAIL,
			pst_arena_printf(arena, "no answer within %u ms", ms),
			answer_r);
	}
	pthread_mutex_unlock(&dns->lock);

	struct pst_dns_answer *a = pst_dns_answer_build(
		arena, type, dns->dnssec, q->err, q->result);

	if (keep_packet)
		dns_keep_packet(arena, a, q->result);
	ub_resolve_free(q->result);
	dns_query_free(q);
	return dns_give(a, answer_r);
}

enum pst_dns_status
pst_dns_lookup(struct pst_dns *dns, struct pst_arena *arena, const char *name,
	       enum pst_dns_type type, const struct pst_dns_answer **answer_r)
{
	return dns_lookup(dns, arena, name, type, 0, false, answer_r);
}

enum pst_dns_status
pst_dns_lookup_timeout(struct pst_dns *dns, struct pst_arena *arena,
		       const char *name, enum pst_dns_type type,
		       unsigned timeout_ms,
		       const struct pst_dns_answer **answer_r)
{
	return dns_lookup(dns, arena, name, type, timeout_ms, false, answer_r);
}

enum pst_dns_status
pst_dns_lookup_packet(struct pst_dns *dns, struct pst_arena *arena,
		      const char *name, enum pst_dns_type type,
		      unsigned timeout_ms,
		      const struct pst_dns_answer **answer_r)
{
	return dns_lookup(dns, arena, name, type, timeout_ms, true, answer_r);
}

/* ---- helpers ---- */

const char *
pst_dns_name_check(const char *name)
{
	size_t label = 0, total = 0;

	if (name == NULL || name[0] == '\0')
		return "empty name";
	for (const char *s = name; *s != '\0'; s++, total++) {
		if (total >= 253 && !(*s == '.' && s[1] == '\0'))
			return "name longer than 253 bytes";
		if (*s == '.') {
			if (label == 0)
				return "empty label in name";
			label = 0;
			continue;
		}
		if (++label > 63)
			return "label longer than 63 bytes";
	}
	return NULL;
}

int
pst_dns_name_escape(char *out, size_t size, const char *name)
{
	size_t n = 0;

	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		/* libunbound's parser reads a backslash as an escape: every
		 * other byte but the '.' separator is sent as it stands. */
		bool esc = *s == '\\' || *s <= 0x20 || *s >= 0x7f;

		if (size - n <= (esc ? 4u : 1u)) /* and the NUL */
			return -1;
		if (esc)
			n += (size_t)snprintf(out + n, size - n, "\\%03u", *s);
		else
			out[n++] = (char)*s;
	}
	if (n >= size)
		return -1;
	out[n] = '\0';
	return 0;
}

char *
pst_dns_reverse_name(struct pst_arena *arena, int family, const void *addr)
{
	const unsigned char *b = addr;

	if (family == AF_INET)
		return pst_arena_printf(arena, "%u.%u.%u.%u.in-addr.arpa", b[3],
					b[2], b[1], b[0]);
	if (family != AF_INET6)
		return NULL;

	static const char hex[] = "0123456789abcdef";
	char buf[16 * 4 + sizeof("ip6.arpa")];
	size_t n = 0;

	for (int i = 15; i >= 0; i--) {
		buf[n++] = hex[b[i] & 0xf];
		buf[n++] = '.';
		buf[n++] = hex[b[i] >> 4];
		buf[n++] = '.';
	}
	memcpy(buf + n, "ip6.arpa", sizeof("ip6.arpa"));
	return pst_arena_strdup(arena, buf);
}

const char *
pst_dns_status_name(enum pst_dns_status status)
{
	switch (status) {
	case PST_DNS_OK:
		return "ok";
	case PST_DNS_NXDOMAIN:
		return "nxdomain";
	case PST_DNS_NODATA:
		return "nodata";
	case PST_DNS_TEMPFAIL:
		return "tempfail";
	case PST_DNS_BADNAME:
		return "badname";
	}
	return "unknown";
}
