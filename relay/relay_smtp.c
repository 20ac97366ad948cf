/*
 * relay_smtp.c - deliveries and recipient probes through SMTP and LMTP
 * upstreams, on the submitting event loop (see relay.h, relay_int.h).
 *
 * A transaction (struct relay_tx) tries the route's upstreams in order
 * (round-robin start when configured), skipping those that failed less
 * than `backoff` ago.  It may move on to the next upstream only while
 * the current one has not accepted MAIL: from then on the upstream holds
 * the transaction, and a failure is a 451 4.4.1 for the client, so that
 * nothing is ever delivered twice by our choice.  Idle connections wait
 * in a pool per upstream and event loop and are reused after RSET; one
 * that turns out dead before the upstream heard of the transaction is
 * replaced once, transparently.  maildir: upstreams of a mixed route run
 * on the work queue as one step of the same failover.
 *
 * Threads: a transaction belongs to its loop's thread, except while a
 * worker runs its maildir step (then the worker owns it until the work
 * queue hands it back).  Shared between loops: backoff times (atomics),
 * the table of per-loop states (relay->lock) and the verify cache (its
 * own lock).  The done callback always runs from an event of the loop,
 * never inside relay_submit/relay_verify.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "arena.h"
#include "log.h"
#include "maildir.h"
#include "relay_int.h"
#include "spool.h"
#include "workq.h"

#define RELAY_VCACHE_BUCKETS 4096u
#define RELAY_VCACHE_MAX 100000u

struct relay_pool {
	struct smtp_client **idle; /* most recently used last */
	unsigned n;
	unsigned cap;
	const struct relay_upstream *up;
};

struct relay_loop {
	struct relay *relay;
	struct event_base *base;
	struct relay_pool *pools; /* relay->nups, by upstream index */
	struct relay_tx *active;  /* every transaction of this loop */
};

struct relay_vc_entry {
	struct relay_vc_entry *next;
	const struct relay_route *route;
	uint64_t expires; /* monotonic ms */
	struct relay_reply reply;
	char key[]; /* lower-cased recipient */
};

struct relay_vcache {
	pthread_mutex_t lock;
	struct relay_vc_entry *b[RELAY_VCACHE_BUCKETS];
	size_t n;
};

struct relay_tx {
	struct pst_arena *arena; /* owns the transaction */
	struct relay *relay;
	struct relay_loop *loop;
	struct relay_tx *prev, *next; /* loop->active */
	const struct relay_route *route;
	bool verify;
	/* Copies of the message's envelope. */
	const char *qid;
	const char *from;
	struct relay_rcpt *rcpts;
	size_t nrcpt;
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	const char *envid;
	struct relay_client who;
	bool has_who;
	struct pst_spool *spool; /* borrowed */
	const char *vkey;	 /* verify: cache key */
	relay_done_fn *done;
	void *arg;
	struct timespec start;
	/* Upstream choice. */
	size_t first, tried;
	unsigned attempts;
	bool last_resort;
	struct relay_upstream *up;
	size_t addr_i;
	bool plain; /* this attempt without STARTTLS */
	struct smtp_client *conn;
	bool reused, retried;
	struct smtp_client_tx ctx;
	char last_error[300];
	bool last_was_maildir;
	/* maildir step */
	bool in_worker;
	bool md_ok;
	const char *md_name;
	const char *md_error;
	/* The end. */
	struct event *finish_ev;
	struct relay_reply reply;
	bool finishing;
};

static void relay_tx_next(struct relay_tx *tx);
static void relay_tx_opened(void *arg, struct smtp_client *client,
			    enum smtp_client_status status,
			    const struct smtp_wire_reply *reply,
			    const char *text);

static uint64_t
relay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double
relay_tx_elapsed(const struct relay_tx *tx)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - tx->start.tv_sec) +
	       (double)(now.tv_nsec - tx->start.tv_nsec) / 1e9;
}

static void relay_reply_set(struct relay_reply *r, unsigned code,
			    const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
relay_reply_set(struct relay_reply *r, unsigned code, const char *enhanced,
		const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	snprintf(r->enhanced, sizeof(r->enhanced), "%s", enhanced);
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* ---- reply mapping (pure) ---- */

static bool
relay_ok(const struct smtp_wire_reply *r)
{
	return r->code >= 200 && r->code < 300;
}

/* The upstream's refusal as ours: same code and enhanced code, the text
 * marked with the upstream's name.  421 becomes 451: our session with
 * the client goes on. */
static void
relay_mark(struct relay_reply *out, const struct smtp_wire_reply *r,
	   const char *peer)
{
	unsigned code = r->code == 421 ? 451 : r->code;
	const char *enh = smtp_wire_reply_enhanced(r);

	if (code < 400 || code > 599) {
		relay_reply_set(out, 451, "4.4.1",
				"%s sent an unexpected reply: %u %s", peer,
				r->code, r->text);
		return;
	}
	relay_reply_set(out, code, enh, "%s said: %s", peer,
			r->text[0] != '\0' ? r->text : "(no text)");
}

/* Postfix's wording for a log line. */
static void
relay_said(char *buf, size_t size, const struct smtp_wire_reply *r,
	   const char *peer, const char *command)
{
	if (r->code == 0)
		snprintf(buf, size, "no reply from %s to %s", peer, command);
	else
		snprintf(buf, size,
			 "host %s said: %u %s %s (in reply to %s "
			 "command)",
			 peer, r->code, smtp_wire_reply_enhanced(r), r->text,
			 command);
}

/* "5.1.1" as "4.1.1": the refusal of one recipient, made temporary for
 * the whole message. */
static void
relay_enh_class4(char *out, size_t size, const struct smtp_wire_reply *r)
{
	snprintf(out, size, "%s", smtp_wire_reply_enhanced(r));
	out[0] = '4';
}

static enum relay_status
relay_status_of(unsigned code)
{
	return code < 300   ? RELAY_SENT
	       : code < 500 ? RELAY_DEFERRED
			    : RELAY_BOUNCED;
}

void
relay_map_delivery(const struct smtp_client_tx *tx, bool lmtp, const char *peer,
		   const char *qid, struct relay_reply *reply,
		   struct relay_rcpt_result *res)
{
	size_t n = tx->nrcpt, acc = 0;
	bool per_rcpt_status = false;
	/* res NULL (out of memory for logs): results go to a scratch. */
	struct relay_rcpt_result scratch;
#define RES(i) (res != NULL ? &res[i] : &scratch)

	for (size_t i = 0; i < n; i++) {
		if (relay_ok(&tx->rcpt[i]))
			acc++;
	}
	for (size_t i = 0; i < n; i++)
		RES(i)->text[0] = '\0';
	if (tx->refusal != 0) {
		if (tx->refusal == 553)
			relay_reply_set(reply, 553, "5.6.7",
					"SMTPUTF8 is required, but %s does not "
					"support it",
					peer);
		else
			relay_reply_set(
				reply, 550, "5.6.3",
				"Message has 8-bit content, but %s does "
				"not support 8BITMIME",
				peer);
		for (size_t i = 0; i < n; i++)
			snprintf(RES(i)->text, sizeof(scratch.text), "%s",
				 reply->text);
	} else if (tx->failed) {
		relay_reply_set(reply, 451, "4.4.1", "Error: %s",
				tx->fail_text);
		for (size_t i = 0; i < n; i++)
			snprintf(RES(i)->text, sizeof(scratch.text), "%s",
				 tx->fail_text);
	} else if (!relay_ok(&tx->mail)) {
		relay_mark(reply, &tx->mail, peer);
		for (size_t i = 0; i < n; i++)
			relay_said(RES(i)->text, sizeof(scratch.text),
				   &tx->mail, peer, "MAIL FROM");
	} else if (acc == 0) {
		/* Every recipient refused: a 4xx among them means the
		 * client should come back. */
		const struct smtp_wire_reply *pick = &tx->rcpt[0];

		for (size_t i = 0; i < n; i++) {
			if (tx->rcpt[i].code >= 400 && tx->rcpt[i].code < 500) {
				pick = &tx->rcpt[i];
				break;
			}
		}
		relay_mark(reply, pick, peer);
		for (size_t i = 0; i < n; i++)
			relay_said(RES(i)->text, sizeof(scratch.text),
				   &tx->rcpt[i], peer, "RCPT TO");
	} else if (acc < n) {
		/* Some refused, some not: nothing was sent to anyone, so
		 * the client's retry duplicates nothing. */
		size_t f = 0;
		char enh[16];

		while (f < n && relay_ok(&tx->rcpt[f]))
			f++;
		relay_enh_class4(enh, sizeof(enh), &tx->rcpt[f]);
		relay_reply_set(reply, 450, enh,
				"%s said: %s (for <%s>); not delivered to any "
				"recipient, try again",
				peer, tx->rcpt[f].text, tx->rcpts[f].addr);
		for (size_t i = 0; i < n; i++) {
			if (relay_ok(&tx->rcpt[i]))
				snprintf(
					RES(i)->text, sizeof(scratch.text),
					"delivery abandoned: another recipient "
					"was refused");
			else
				relay_said(RES(i)->text, sizeof(scratch.text),
					   &tx->rcpt[i], peer, "RCPT TO");
		}
	} else if (tx->data.code != 0 && tx->data.code != 354) {
		relay_mark(reply, &tx->data, peer);
		for (size_t i = 0; i < n; i++)
			relay_said(RES(i)->text, sizeof(scratch.text),
				   &tx->data, peer, "DATA");
	} else if (!lmtp) {
		const struct smtp_wire_reply *f = &tx->final[0];

		if (relay_ok(f))
			relay_reply_set(reply, 250, "2.0.0", "Ok: queued as %s",
					qid);
		else if (f->code == 0)
			relay_reply_set(
				reply, 451, "4.4.1",
				"Error: no reply from %s to end of data", peer);
		else
			relay_mark(reply, f, peer);
		for (size_t i = 0; i < n; i++) {
			if (relay_ok(f))
				snprintf(RES(i)->text, sizeof(scratch.text),
					 "%u %s %s", f->code,
					 smtp_wire_reply_enhanced(f), f->text);
			else
				relay_said(RES(i)->text, sizeof(scratch.text),
					   f, peer, "end of DATA");
		}
	} else {
		/* LMTP: a reply per recipient.  Routes with LMTP take one
		 * recipient per transaction, so they agree; when several
		 * disagree, a 4xx makes the client retry all of them
		 * (duplicates, never a loss). */
		size_t ok = 0, f = n, t = n;

		for (size_t i = 0; i < n; i++) {
			const struct smtp_wire_reply *r = &tx->final[i];

			if (relay_ok(r)) {
				ok++;
				snprintf(RES(i)->text, sizeof(scratch.text),
					 "%u %s %s", r->code,
					 smtp_wire_reply_enhanced(r), r->text);
				continue;
			}
			if (f == n)
				f = i;
			if (t == n && r->code >= 400 && r->code < 500)
				t = i;
			relay_said(RES(i)->text, sizeof(scratch.text), r, peer,
				   "end of DATA");
		}
		if (ok == n) {
			relay_reply_set(reply, 250, "2.0.0", "Ok: queued as %s",
					qid);
		} else if (ok == 0) {
			const struct smtp_wire_reply *r =
				&tx->final[t < n ? t : f];

			if (r->code == 0)
				relay_reply_set(
					reply, 451, "4.4.1",
					"Error: no reply from %s to end "
					"of data",
					peer);
			else
				relay_mark(reply, r, peer);
		} else {
			char enh[16];

			relay_enh_class4(enh, sizeof(enh), &tx->final[f]);
			relay_reply_set(
				reply, 451, enh,
				"%s said: %s (for <%s>); some recipients "
				"have the message, try again",
				peer, tx->final[f].text, tx->rcpts[f].addr);
			per_rcpt_status = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct smtp_wire_reply *own =
			lmtp && tx->final[i].code != 0 ? &tx->final[i]
			: tx->rcpt[i].code != 0	       ? &tx->rcpt[i]
						       : NULL;

		RES(i)->status = relay_status_of(reply->code);
		if (per_rcpt_status && own != NULL)
			RES(i)->status = relay_status_of(own->code);
		if (RES(i)->status == RELAY_SENT &&
		    tx->final[lmtp ? i : 0].code)
			snprintf(RES(i)->dsn, sizeof(scratch.dsn), "%s",
				 smtp_wire_reply_enhanced(
					 &tx->final[lmtp ? i : 0]));
		else if (RES(i)->status != RELAY_SENT && own != NULL &&
			 !relay_ok(own) && own->code / 100 == reply->code / 100)
			snprintf(RES(i)->dsn, sizeof(scratch.dsn), "%s",
				 smtp_wire_reply_enhanced(own));
		else
			snprintf(RES(i)->dsn, sizeof(scratch.dsn), "%s",
				 reply->enhanced);
	}
#undef RES
}

void
relay_map_verify(const struct smtp_client_tx *tx, const char *peer,
		 struct relay_reply *reply)
{
	const struct smtp_wire_reply *r = &tx->rcpt[0];

	if (tx->refusal == 553)
		relay_reply_set(reply, 553, "5.6.7",
				"SMTPUTF8 is required, but %s does not support "
				"it",
				peer);
	else if (tx->refusal != 0)
		relay_reply_set(reply, 550, "5.6.3",
				"Message has 8-bit content, but %s does not "
				"support 8BITMIME",
				peer);
	else if (tx->failed)
		relay_reply_set(reply, 451, "4.4.1",
				"Error: cannot verify the recipient now: %s",
				tx->fail_text);
	else if (!relay_ok(&tx->mail))
		relay_mark(reply, &tx->mail, peer);
	else if (relay_ok(r))
		relay_reply_set(reply, 250, "2.1.5", "Ok");
	else if (r->code == 0)
		relay_reply_set(reply, 451, "4.4.1",
				"Error: no reply from %s to RCPT TO", peer);
	else
		relay_mark(reply, r, peer);
}

/* ---- the verify cache ---- */

static uint32_t
relay_vc_hash(const struct relay_route *route, const char *key)
{
	uint32_t h = 2166136261u;
	uintptr_t p = (uintptr_t)route;

	for (size_t i = 0; i < sizeof(p); i++) {
		h ^= (uint8_t)(p >> (8 * i));
		h *= 16777619u;
	}
	for (const char *k = key; *k; k++) {
		h ^= (uint8_t)*k;
		h *= 16777619u;
	}
	return h;
}

static void
relay_vc_clear_locked(struct relay_vcache *vc, uint64_t now)
{
	for (size_t i = 0; i < RELAY_VCACHE_BUCKETS; i++) {
		struct relay_vc_entry **pp = &vc->b[i];

		while (*pp != NULL) {
			struct relay_vc_entry *e = *pp;

			if (now != 0 && e->expires > now) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			vc->n--;
		}
	}
}

static bool
relay_vc_get(struct relay_vcache *vc, const struct relay_route *route,
	     const char *key, struct relay_reply *reply_r)
{
	uint32_t h = relay_vc_hash(route, key) % RELAY_VCACHE_BUCKETS;
	uint64_t now = relay_now_ms();
	bool found = false;

	pthread_mutex_lock(&vc->lock);
	for (struct relay_vc_entry *e = vc->b[h]; e != NULL; e = e->next) {
		if (e->route == route && strcmp(e->key, key) == 0) {
			if (e->expires > now) {
				*reply_r = e->reply;
				found = true;
			}
			break;
		}
	}
	pthread_mutex_unlock(&vc->lock);
	return found;
}

static void
relay_vc_put(struct relay_vcache *vc, const struct relay_route *route,
	     const char *key, const struct relay_reply *reply, uint64_t ttl)
{
	uint32_t h = relay_vc_hash(route, key) % RELAY_VCACHE_BUCKETS;
	uint64_t now = relay_now_ms();
	size_t klen = strlen(key);
	struct relay_vc_entry *e;

	pthread_mutex_lock(&vc->lock);
	for (e = vc->b[h]; e != NULL; e = e->next) {
		if (e->route == route && strcmp(e->key, key) == 0) {
			e->reply = *reply;
			e->expires = now + ttl;
			pthread_mutex_unlock(&vc->lock);
			return;
		}
	}
	if (vc->n >= RELAY_VCACHE_MAX) {
		relay_vc_clear_locked(vc, now); /* expired ones */
		if (vc->n >= RELAY_VCACHE_MAX)
			relay_vc_clear_locked(vc, 0); /* all: start over */
	}
	e = malloc(sizeof(*e) + klen + 1);
	if (e != NULL) {
		e->route = route;
		e->expires = now + ttl;
		e->reply = *reply;
		memcpy(e->key, key, klen + 1);
		e->next = vc->b[h];
		vc->b[h] = e;
		vc->n++;
	}
	pthread_mutex_unlock(&vc->lock);
}

/* ---- per-loop state and the pool ---- */

static struct relay_loop *
relay_loop_get(struct relay *relay, struct event_base *base)
{
	struct relay_loop *loop = NULL;

	pthread_mutex_lock(&relay->lock);
	for (size_t i = 0; i < relay->nloops; i++) {
		if (relay->loops[i]->base == base) {
			loop = relay->loops[i];
			goto out;
		}
	}
	if (relay->nloops == relay->loops_cap) {
		size_t cap = relay->loops_cap ? relay->loops_cap * 2 : 8;
		struct relay_loop **v = realloc(relay->loops, cap * sizeof(*v));

		if (v == NULL)
			goto out;
		relay->loops = v;
		relay->loops_cap = cap;
	}
	loop = calloc(1, sizeof(*loop));
	if (loop == NULL)
		goto out;
	loop->pools =
		calloc(relay->nups ? relay->nups : 1, sizeof(*loop->pools));
	if (loop->pools == NULL) {
		free(loop);
		loop = NULL;
		goto out;
	}
	loop->relay = relay;
	loop->base = base;
	for (size_t r = 0; r < relay->nroutes; r++) {
		for (size_t u = 0; u < relay->routes[r].nupstreams; u++) {
			const struct relay_upstream *up =
				&relay->routes[r].ups[u];

			loop->pools[up->index].up = up;
		}
	}
	relay->loops[relay->nloops++] = loop;
out:
	pthread_mutex_unlock(&relay->lock);
	return loop;
}

static void
relay_pool_remove(struct relay_pool *pool, const struct smtp_client *c)
{
	for (unsigned i = 0; i < pool->n; i++) {
		if (pool->idle[i] == c) {
			memmove(&pool->idle[i], &pool->idle[i + 1],
				(pool->n - i - 1) * sizeof(pool->idle[0]));
			pool->n--;
			return;
		}
	}
}

/* An idle connection closed, misbehaved or expired. */
static void
relay_pool_gone(void *arg, struct smtp_client *client,
		enum smtp_client_status status,
		const struct smtp_wire_reply *reply, const char *text)
{
	struct relay_pool *pool = arg;

	(void)reply;
	(void)text;
	relay_pool_remove(pool, client);
	smtp_client_close(&client, status == SMTP_CLIENT_OK);
}

static struct smtp_client *
relay_pool_take(struct relay_loop *loop, const struct relay_upstream *up)
{
	struct relay_pool *pool = &loop->pools[up->index];

	if (pool->n == 0)
		return NULL;
	return pool->idle[--pool->n];
}

static void
relay_pool_put(struct relay_loop *loop, const struct relay_upstream *up,
	       struct smtp_client *c)
{
	struct relay_pool *pool = &loop->pools[up->index];
	const struct relay_route_conf *rc = up->route->conf;

	if (!smtp_client_reusable(c) || rc->pool_size == 0) {
		smtp_client_close(&c, true);
		return;
	}
	if (pool->n >= rc->pool_size) {
		/* Keep the fresher ones: the oldest goes. */
		struct smtp_client *old = pool->idle[0];

		relay_pool_remove(pool, old);
		smtp_client_close(&old, true);
	}
	if (pool->cap < rc->pool_size) {
		struct smtp_client **v =
			realloc(pool->idle, rc->pool_size * sizeof(*v));

		if (v == NULL) {
			smtp_client_close(&c, true);
			return;
		}
		pool->idle = v;
		pool->cap = rc->pool_size;
	}
	pool->idle[pool->n++] = c;
	smtp_client_idle(c, rc->pool_idle, relay_pool_gone, pool);
}

/* ---- transactions ---- */

static void
relay_tx_free(struct relay_tx *tx)
{
	struct pst_arena *arena = tx->arena;

	if (tx->conn != NULL)
		smtp_client_close(&tx->conn, false);
	if (tx->finish_ev != NULL)
		event_free(tx->finish_ev);
	pst_arena_free(&arena);
}

static void
relay_tx_unlink(struct relay_tx *tx)
{
	if (tx->prev != NULL)
		tx->prev->next = tx->next;
	else
		tx->loop->active = tx->next;
	if (tx->next != NULL)
		tx->next->prev = tx->prev;
	tx->prev = tx->next = NULL;
}

static void
relay_tx_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_tx *tx = arg;
	struct relay_reply reply = tx->reply;
	relay_done_fn *done = tx->done;
	void *done_arg = tx->arg;

	(void)fd;
	(void)what;
	relay_tx_unlink(tx);
	relay_tx_free(tx);
	done(done_arg, &reply);
}

/* The reply is set: the done callback runs from the loop. */
static void
relay_tx_finish(struct relay_tx *tx)
{
	tx->finishing = true;
	event_active(tx->finish_ev, EV_TIMEOUT, 1);
}

static void
relay_tx_log(const struct relay_tx *tx, size_t i, const char *relay_name,
	     const char *dsn, enum relay_status status, const char *text)
{
	static const char *const names[] = { "sent", "deferred", "bounced" };
	char to[1024], why[1024], delay[32];
	const char *addr = tx->rcpts[i].addr;

	relay_format_delay(delay, sizeof(delay), relay_tx_elapsed(tx));
	pst_log_sanitize(to, sizeof(to), addr, (unsigned)strlen(addr));
	pst_log_sanitize(why, sizeof(why), text, (unsigned)strlen(text));
	pst_log(PST_LOG_INFO, "relay",
		"%s: to=<%s>, relay=%s, delay=%s, dsn=%s, status=%s (%s)",
		tx->qid, to, relay_name, delay, dsn, names[status], why);
}

/* "QID: text" with text from upstreams and clients made harmless. */
static void relay_tx_note(const struct relay_tx *tx, enum pst_log_level level,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
relay_tx_note(const struct relay_tx *tx, enum pst_log_level level,
	      const char *fmt, ...)
{
	char raw[1024], safe[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	pst_log_sanitize(safe, sizeof(safe), raw, (unsigned)strlen(raw));
	pst_log(level, "relay", "%s: %s", tx->qid, safe);
}

/* No upstream took it. */
static void
relay_tx_give_up(struct relay_tx *tx)
{
	const char *why =
		tx->last_error[0] ? tx->last_error : "no upstream is available";

	if (tx->verify) {
		relay_reply_set(&tx->reply, 451, "4.4.1",
				"Error: cannot verify the recipient now");
		relay_tx_note(tx, PST_LOG_INFO, "verify <%s>: deferred (%s)",
			      tx->rcpts[0].addr, why);
		relay_tx_finish(tx);
		return;
	}
	if (tx->last_was_maildir)
		relay_reply_set(&tx->reply, 451, "4.3.0",
				"Error: local delivery failed");
	else
		relay_reply_set(&tx->reply, 451, "4.4.1",
				"Error: cannot deliver the message now: %s",
				why);
	for (size_t i = 0; i < tx->nrcpt; i++)
		relay_tx_log(tx, i, "none", tx->reply.enhanced, RELAY_DEFERRED,
			     why);
	relay_tx_finish(tx);
}

/* Log why the upstream failed; skip it for `backoff` from now on. */
static void
relay_tx_mark_down(struct relay_tx *tx, struct relay_upstream *up)
{
	uint64_t backoff = up->route->conf->backoff;

	if (backoff == 0) {
		relay_tx_note(tx, PST_LOG_WARNING, "%s", tx->last_error);
		return;
	}
	__atomic_store_n(&up->down_until, relay_now_ms() + backoff,
			 __ATOMIC_RELAXED);
	relay_tx_note(tx, PST_LOG_WARNING,
		      "%s; upstream %s is skipped for %llus", tx->last_error,
		      up->conf->spec,
		      (unsigned long long)((backoff + 999) / 1000));
}

static struct relay_upstream *
relay_tx_pick(struct relay_tx *tx)
{
	const struct relay_route *route = tx->route;
	size_t n = route->nupstreams;
	uint64_t now = relay_now_ms();

	for (;;) {
		while (tx->tried < n) {
			struct relay_upstream *up =
				&route->ups[(tx->first + tx->tried++) % n];
			uint64_t until = __atomic_load_n(&up->down_until,
							 __ATOMIC_RELAXED);

			if (tx->verify &&
			    up->conf->kind == RELAY_UPSTREAM_MAILDIR)
				continue;
			if (tx->last_resort ? until <= now : until > now)
				continue;
			return up;
		}
		/* Every upstream is backing off: rather than refuse
		 * without trying, try them anyway, once. */
		if (tx->last_resort || tx->attempts > 0)
			return NULL;
		tx->last_resort = true;
		tx->tried = 0;
	}
}

static void
relay_tx_maildir_work(void *arg)
{
	struct relay_tx *tx = arg;
	struct maildir_rcpt *rcpts;

	rcpts = pst_arena_calloc(tx->arena, tx->nrcpt, sizeof(*rcpts));
	if (rcpts == NULL) {
		tx->md_ok = false;
		tx->md_error = "maildir delivery failed (out of memory)";
		return;
	}
	for (size_t i = 0; i < tx->nrcpt; i++) {
		rcpts[i].addr = tx->rcpts[i].addr;
		rcpts[i].orcpt = tx->rcpts[i].orcpt;
	}
	tx->md_ok = maildir_deliver(tx->arena, tx->up->conf->path, tx->from,
				    rcpts, tx->nrcpt, tx->spool, &tx->md_name,
				    &tx->md_error) == 0;
}

static void
relay_tx_maildir_done(void *arg)
{
	struct relay_tx *tx = arg;
	char name[PATH_MAX + 16];

	tx->in_worker = false;
	snprintf(name, sizeof(name), "maildir[%s]", tx->up->conf->path);
	if (tx->md_ok) {
		char text[512];

		relay_reply_set(&tx->reply, 250, "2.0.0", "Ok: queued as %s",
				tx->qid);
		snprintf(text, sizeof(text), "delivered to maildir as %s",
			 tx->md_name);
		for (size_t i = 0; i < tx->nrcpt; i++)
			relay_tx_log(tx, i, name, "2.0.0", RELAY_SENT, text);
		relay_tx_finish(tx);
		return;
	}
	snprintf(tx->last_error, sizeof(tx->last_error), "%.140s: %.150s", name,
		 tx->md_error ? tx->md_error : "failed");
	tx->last_was_maildir = true;
	relay_tx_note(tx, PST_LOG_WARNING, "%s", tx->last_error);
	relay_tx_next(tx);
}

static void relay_tx_ran(void *arg, struct smtp_client *client,
			 enum smtp_client_status status,
			 const struct smtp_wire_reply *reply, const char *text);

static int
relay_tx_run(struct relay_tx *tx)
{
	struct smtp_client_tx *ctx = &tx->ctx;

	ctx->reset = tx->reused;
	if (smtp_client_run(tx->conn, ctx, relay_tx_ran, tx) == -1) {
		smtp_client_close(&tx->conn, false);
		return -1;
	}
	return 0;
}

static int
relay_tx_open(struct relay_tx *tx)
{
	const char *error = NULL;

	tx->reused = false;
	tx->conn = smtp_client_open(tx->loop->base,
				    tx->plain ? &tx->up->plain[tx->addr_i]
					      : &tx->up->addrs[tx->addr_i],
				    tx->has_who ? &tx->who : NULL,
				    relay_tx_opened, tx, &error);
	if (tx->conn == NULL) {
		snprintf(tx->last_error, sizeof(tx->last_error),
			 "connect to %s: %s", tx->up->addrs[tx->addr_i].peer,
			 error);
		return -1;
	}
	return 0;
}

/* An attempt at the current upstream failed before it took anything. */
static void
relay_tx_upstream_failed(struct relay_tx *tx)
{
	tx->last_was_maildir = false;
	relay_tx_mark_down(tx, tx->up);
	relay_tx_next(tx);
}

static void
relay_tx_opened(void *arg, struct smtp_client *client,
		enum smtp_client_status status,
		const struct smtp_wire_reply *reply, const char *text)
{
	struct relay_tx *tx = arg;

	(void)reply;
	if (status == SMTP_CLIENT_OK) {
		if (relay_tx_run(tx) == 0)
			return;
		snprintf(tx->last_error, sizeof(tx->last_error),
			 "cannot start a transaction with %s",
			 smtp_client_peer(client));
		relay_tx_upstream_failed(tx);
		return;
	}
	snprintf(tx->last_error, sizeof(tx->last_error), "%s", text);
	/* Opportunistic TLS never costs a delivery: the same address
	 * again, in plain text (as Postfix does). */
	if (smtp_client_tls_failed(client) && !tx->plain &&
	    tx->up->plain != NULL) {
		relay_tx_note(tx, PST_LOG_WARNING,
			      "%s; trying again without STARTTLS", text);
		smtp_client_close(&tx->conn, false);
		tx->plain = true;
		if (relay_tx_open(tx) == 0)
			return;
	}
	smtp_client_close(&tx->conn, false);
	/* Another address of the same name first. */
	while (tx->addr_i + 1 < tx->up->naddrs) {
		tx->addr_i++;
		tx->plain = false;
		if (relay_tx_open(tx) == 0)
			return;
	}
	relay_tx_upstream_failed(tx);
}

static void
relay_tx_delivered(struct relay_tx *tx)
{
	const char *peer = smtp_client_peer(tx->conn);
	struct relay_rcpt_result *res =
		pst_arena_calloc(tx->arena, tx->nrcpt, sizeof(*res));

	/* Out of memory: the reply matters, the log lines must go. */
	relay_map_delivery(&tx->ctx, tx->up->addrs[0].lmtp, peer, tx->qid,
			   &tx->reply, res);
	if (res == NULL) {
		pst_log(PST_LOG_WARNING, "relay",
			"%s: out of memory: no log lines (%u %s)", tx->qid,
			tx->reply.code, tx->reply.enhanced);
		return;
	}
	for (size_t i = 0; i < tx->nrcpt; i++)
		relay_tx_log(tx, i, peer, res[i].dsn, res[i].status,
			     res[i].text);
}

static void
relay_tx_verified(struct relay_tx *tx)
{
	const struct relay_route_conf *rc = tx->route->conf;

	relay_map_verify(&tx->ctx, smtp_client_peer(tx->conn), &tx->reply);
	/* Only the recipient's own final answers: not the sender's
	 * refusal, not a temporary one, not ours. */
	if (rc->verify_cache > 0 && tx->relay->vcache != NULL &&
	    !tx->ctx.failed && tx->ctx.refusal == 0 && tx->ctx.mail_accepted &&
	    (relay_ok(&tx->ctx.rcpt[0]) || tx->ctx.rcpt[0].code >= 500))
		relay_vc_put(tx->relay->vcache, tx->route, tx->vkey, &tx->reply,
			     rc->verify_cache);
}

static void
relay_tx_ran(void *arg, struct smtp_client *client,
	     enum smtp_client_status status,
	     const struct smtp_wire_reply *reply, const char *text)
{
	struct relay_tx *tx = arg;
	struct smtp_client_tx *ctx = &tx->ctx;

	(void)client;
	(void)status;
	(void)reply;
	(void)text;
	if (ctx->failed && ctx->stale && !tx->retried) {
		/* A pooled connection the upstream had closed: one fresh
		 * try at the same upstream, nothing was accepted. */
		tx->retried = true;
		smtp_client_close(&tx->conn, false);
		tx->addr_i = 0;
		tx->plain = false;
		if (relay_tx_open(tx) == -1)
			relay_tx_upstream_failed(tx);
		return;
	}
	if (ctx->failed && !ctx->mail_accepted) {
		snprintf(tx->last_error, sizeof(tx->last_error), "%s",
			 ctx->fail_text);
		smtp_client_close(&tx->conn, false);
		relay_tx_upstream_failed(tx);
		return;
	}
	if (tx->verify)
		relay_tx_verified(tx);
	else
		relay_tx_delivered(tx);
	relay_pool_put(tx->loop, tx->up, tx->conn);
	tx->conn = NULL;
	relay_tx_finish(tx);
}

static void
relay_tx_next(struct relay_tx *tx)
{
	for (;;) {
		struct relay_upstream *up = relay_tx_pick(tx);

		if (up == NULL) {
			relay_tx_give_up(tx);
			return;
		}
		tx->up = up;
		tx->attempts++;
		tx->retried = false;
		if (up->conf->kind == RELAY_UPSTREAM_MAILDIR) {
			if (tx->relay->workq != NULL) {
				tx->in_worker = true;
				if (pst_workq_submit(
					    tx->relay->workq, tx->loop->base,
					    relay_tx_maildir_work,
					    relay_tx_maildir_done, tx) == 0)
					return;
				tx->in_worker = false;
			}
			snprintf(tx->last_error, sizeof(tx->last_error),
				 "maildir[%s]: cannot queue the delivery",
				 up->conf->path);
			tx->last_was_maildir = true;
			continue;
		}
		tx->conn = relay_pool_take(tx->loop, up);
		if (tx->conn != NULL) {
			tx->reused = true;
			if (relay_tx_run(tx) == 0)
				return;
		}
		tx->addr_i = 0;
		tx->plain = false;
		if (relay_tx_open(tx) == 0)
			return;
		tx->last_was_maildir = false;
		relay_tx_mark_down(tx, up);
	}
}

static char *
relay_dup(struct pst_arena *arena, const char *s, bool *ok)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = pst_arena_strdup(arena, s);
	if (d == NULL)
		*ok = false;
	return d;
}

static struct relay_tx *
relay_tx_new(struct relay *relay, struct event_base *base,
	     const struct relay_route *route, const struct relay_msg *msg,
	     const struct relay_rcpt *rcpts, size_t nrcpt, bool verify)
{
	struct relay_loop *loop = relay_loop_get(relay, base);
	struct pst_arena *arena;
	struct relay_tx *tx;
	bool ok = true;

	if (loop == NULL || (arena = pst_arena_new(4096)) == NULL)
		return NULL;
	tx = pst_arena_zalloc(arena, sizeof(*tx));
	if (tx == NULL) {
		pst_arena_free(&arena);
		return NULL;
	}
	tx->arena = arena;
	tx->relay = relay;
	tx->loop = loop;
	tx->route = route;
	tx->verify = verify;
	tx->qid = relay_dup(arena, msg->qid ? msg->qid : "NOQUEUE", &ok);
	tx->from = relay_dup(arena, msg->from ? msg->from : "", &ok);
	tx->envid = relay_dup(arena, msg->envid, &ok);
	tx->body = msg->body;
	tx->smtputf8 = msg->smtputf8;
	tx->ret = msg->ret;
	tx->spool = verify ? NULL : msg->spool;
	tx->nrcpt = nrcpt;
	tx->rcpts = pst_arena_calloc(arena, nrcpt, sizeof(*tx->rcpts));
	if (tx->rcpts == NULL)
		ok = false;
	for (size_t i = 0; ok && i < nrcpt; i++) {
		tx->rcpts[i].addr = relay_dup(arena, rcpts[i].addr, &ok);
		tx->rcpts[i].orcpt = relay_dup(arena, rcpts[i].orcpt, &ok);
		tx->rcpts[i].notify = rcpts[i].notify;
	}
	if (msg->client != NULL && msg->client->addr != NULL) {
		tx->has_who = true;
		tx->who.addr = relay_dup(arena, msg->client->addr, &ok);
		tx->who.port = msg->client->port;
		tx->who.name = relay_dup(arena, msg->client->name, &ok);
		tx->who.helo = relay_dup(arena, msg->client->helo, &ok);
		tx->who.proto = relay_dup(arena, msg->client->proto, &ok);
		tx->who.tls = msg->client->tls;
	}
	tx->ctx.rcpt = pst_arena_calloc(arena, nrcpt, sizeof(*tx->ctx.rcpt));
	tx->ctx.final = pst_arena_calloc(arena, nrcpt, sizeof(*tx->ctx.final));
	tx->finish_ev = event_new(base, -1, 0, relay_tx_finish_cb, tx);
	if (!ok || tx->ctx.rcpt == NULL || tx->ctx.final == NULL ||
	    tx->finish_ev == NULL) {
		if (tx->finish_ev != NULL)
			event_free(tx->finish_ev);
		pst_arena_free(&arena);
		return NULL;
	}
	tx->ctx.qid = tx->qid;
	tx->ctx.from = tx->from;
	tx->ctx.rcpts = tx->rcpts;
	tx->ctx.nrcpt = nrcpt;
	tx->ctx.body = tx->body;
	tx->ctx.smtputf8 = tx->smtputf8;
	tx->ctx.ret = tx->ret;
	tx->ctx.envid = tx->envid;
	tx->ctx.who = tx->has_who ? &tx->who : NULL;
	tx->ctx.spool = tx->spool;
	clock_gettime(CLOCK_MONOTONIC, &tx->start);
	/* On the loop's list from now on, for relay_base_free. */
	tx->next = loop->active;
	if (loop->active != NULL)
		loop->active->prev = tx;
	loop->active = tx;
	return tx;
}

static void
relay_tx_start(struct relay_tx *tx)
{
	const struct relay_route *route = tx->route;

	if (route->conf->balance == RELAY_BALANCE_ROUND_ROBIN &&
	    route->nupstreams > 1) {
		unsigned *rr = (unsigned *)&route->rr; /* atomic counter */

		tx->first = __atomic_fetch_add(rr, 1, __ATOMIC_RELAXED) %
			    route->nupstreams;
	}
	relay_tx_next(tx);
}

int
relay_smtp_submit(struct relay *relay, struct event_base *base,
		  const struct relay_route *route, const struct relay_msg *msg,
		  relay_done_fn *done, void *arg)
{
	struct relay_tx *tx = relay_tx_new(relay, base, route, msg, msg->rcpts,
					   msg->nrcpt, false);

	if (tx == NULL)
		return -1;
	tx->done = done;
	tx->arg = arg;
	relay_tx_start(tx);
	return 0;
}

int
relay_smtp_verify(struct relay *relay, struct event_base *base,
		  const struct relay_route *route, const struct relay_msg *msg,
		  const struct relay_rcpt *rcpt, relay_done_fn *done, void *arg)
{
	struct relay_tx *tx =
		relay_tx_new(relay, base, route, msg, rcpt, 1, true);
	char *key;

	if (tx == NULL)
		return -1;
	tx->done = done;
	tx->arg = arg;
	key = pst_arena_strdup(tx->arena, rcpt->addr);
	if (key == NULL) {
		relay_tx_unlink(tx);
		relay_tx_free(tx);
		return -1;
	}
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	tx->vkey = key;
	if (!route->network) {
		/* Nothing to ask: a maildir takes every recipient. */
		relay_reply_set(&tx->reply, 250, "2.1.5", "Ok");
		relay_tx_finish(tx);
		return 0;
	}
	if (route->conf->verify_cache > 0 && relay->vcache != NULL &&
	    relay_vc_get(relay->vcache, route, key, &tx->reply)) {
		relay_tx_finish(tx);
		return 0;
	}
	relay_tx_start(tx);
	return 0;
}

void
relay_smtp_base_free(struct relay *relay, struct event_base *base)
{
	struct relay_loop *loop = NULL;

	if (!relay->lock_init)
		return;
	pthread_mutex_lock(&relay->lock);
	for (size_t i = 0; i < relay->nloops; i++) {
		if (relay->loops[i]->base == base) {
			loop = relay->loops[i];
			relay->loops[i] = relay->loops[--relay->nloops];
			break;
		}
	}
	pthread_mutex_unlock(&relay->lock);
	if (loop == NULL)
		return;
	for (unsigned u = 0; u < relay->nups; u++) {
		struct relay_pool *pool = &loop->pools[u];

		while (pool->n > 0)
			smtp_client_close(&pool->idle[--pool->n], true);
		free(pool->idle);
	}
	while (loop->active != NULL) {
		struct relay_tx *tx = loop->active;

		relay_tx_unlink(tx);
		if (tx->in_worker)
			continue; /* a worker has it: leak, never race */
		relay_tx_free(tx);
	}
	free(loop->pools);
	free(loop);
}

/* ---- set-up and tear-down ---- */

static SSL_CTX *
relay_ssl_ctx(struct pst_arena *arena, const struct relay_route_conf *rc,
	      const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char err[256];

	if (ctx == NULL) {
		*error_r = "cannot create a TLS context";
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (rc->tls == RELAY_TLS_VERIFY) {
		int ok = rc->tls_ca != NULL
				 ? SSL_CTX_load_verify_locations(
					   ctx, rc->tls_ca, NULL)
				 : SSL_CTX_set_default_verify_paths(ctx);

		if (ok != 1) {
			ERR_error_string_n(ERR_get_error(), err, sizeof(err));
			ERR_clear_error();
			*error_r = pst_arena_printf(
				arena, "%s:%u: route '%s': tls_ca '%s': %s",
				rc->file ? rc->file : "?", rc->line, rc->name,
				rc->tls_ca ? rc->tls_ca : "(system)", err);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

static void
relay_smtp_cleanup(void *arg)
{
	struct relay *relay = arg;

	for (size_t i = 0; i < relay->nroutes; i++) {
		if (relay->routes[i].ssl_ctx != NULL)
			SSL_CTX_free(relay->routes[i].ssl_ctx);
		relay->routes[i].ssl_ctx = NULL;
	}
	/* Loops whose base was never handed to relay_base_free: their
	 * libevent objects may be gone already, so only our memory. */
	for (size_t i = 0; i < relay->nloops; i++) {
		struct relay_loop *loop = relay->loops[i];

		for (unsigned u = 0; u < relay->nups; u++)
			free(loop->pools[u].idle);
		free(loop->pools);
		free(loop);
	}
	free(relay->loops);
	relay->loops = NULL;
	relay->nloops = 0;
	if (relay->vcache != NULL) {
		relay_vc_clear_locked(relay->vcache, 0);
		pthread_mutex_destroy(&relay->vcache->lock);
		free(relay->vcache);
		relay->vcache = NULL;
	}
	if (relay->lock_init)
		pthread_mutex_destroy(&relay->lock);
	relay->lock_init = false;
}

int
relay_smtp_init(struct relay *relay, const char **error_r)
{
	bool verifies = false;

	if (pthread_mutex_init(&relay->lock, NULL) != 0) {
		*error_r = "cannot create a mutex";
		return -1;
	}
	relay->lock_init = true;
	if (pst_arena_cleanup_add(relay->arena, relay_smtp_cleanup, relay) ==
	    -1) {
		pthread_mutex_destroy(&relay->lock);
		relay->lock_init = false;
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < relay->nroutes; i++) {
		struct relay_route *r = &relay->routes[i];
		bool tls = r->conf->tls != RELAY_TLS_NONE;

		if (!r->network)
			continue;
		verifies |=
			r->conf->verify_recipients && r->conf->verify_cache > 0;
		for (size_t j = 0; j < r->nupstreams; j++)
			tls |= r->ups[j].conf->kind == RELAY_UPSTREAM_SMTPS;
		if (!tls)
			continue;
		r->ssl_ctx = relay_ssl_ctx(relay->arena, r->conf, error_r);
		if (r->ssl_ctx == NULL)
			return -1;
		for (size_t j = 0; j < r->nupstreams; j++) {
			for (size_t k = 0; k < r->ups[j].naddrs; k++)
				r->ups[j].addrs[k].ssl_ctx = r->ssl_ctx;
		}
	}
	if (verifies) {
		relay->vcache = calloc(1, sizeof(*relay->vcache));
		if (relay->vcache == NULL ||
		    pthread_mutex_init(&relay->vcache->lock, NULL) != 0) {
			free(relay->vcache);
			relay->vcache = NULL;
			*error_r = "out of memory";
			return -1;
		}
	}
	return 0;
}
