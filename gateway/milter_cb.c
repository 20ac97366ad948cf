/*
 * milter_cb.c - the libmilter callbacks: the filter chain run for each
 * MTA connection, stage by stage, with the same verdicts as posternd.
 *
 * libmilter gives each MTA connection a thread and calls the callbacks
 * of one connection one at a time.  Each connection has a struct
 * milter_conn (its private data, freed at close) with an event_base of
 * its own: the chain runs exactly as in posternd (filter_ctx_run), its
 * blocking filters on the shared filter work queue under their
 * deadlines, and the connection's thread runs the base until the
 * stage's outcome is in.  A filter that overstays gets the failure
 * outcome at once and the session goes on with a new ctx (as posternd
 * does); the stuck call finishes on its worker and the old ctx frees
 * itself on the base, which the connection keeps running - at close
 * handing it to a thread of its own if that takes long.
 *
 * The message is rebuilt from the header fields and body chunks into a
 * spool and through the MIME parser as they arrive; at the end of the
 * message (milter_eom.c) the chain's verdict is answered and what it
 * changed (header fields, Authentication-Results, the DKIM signature,
 * the body, recipients) goes back through smfi_* calls (milter_edit.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <libmilter/mfapi.h>

#include "arena.h"
#include "log.h"
#include "milter_int.h"
#include "settings.h"
#include "spool.h"
#include "postern/filter.h"

struct milter_server milter_server;
atomic_uint milter_live_conns;

/* The MTA's macro, or NULL when it did not send it (or sent it
 * empty). */
static const char *
milter_macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static void
milter_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* ---- running a stage ---- */

static void
milter_stage_done(void *arg, const struct filter_outcome *out)
{
	struct milter_conn *c = arg;

	c->out = *out;
	if (out->quarantine != NULL) {
		milter_copy(c->out_quarantine, sizeof(c->out_quarantine),
			    out->quarantine);
		c->out.quarantine = c->out_quarantine;
	}
	c->waiting = false;
	event_base_loopbreak(c->base);
}

void
milter_fail_outcome(struct filter_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->verdict = PF_TEMPFAIL;
	out->code = 451;
	snprintf(out->enhanced, sizeof(out->enhanced), "4.3.0");
	snprintf(out->text, sizeof(out->text),
		 "Error: filters unavailable, try again later");
	out->failed = true;
}

static struct filter_ctx *
milter_ctx_new(struct milter_conn *c)
{
	const struct postern_settings *st = milter_settings();
	struct filter_client client;
	struct filter_ctx *fctx;

	memset(&client, 0, sizeof(client));
	client.addr = c->addr;
	client.port = c->port;
	client.name = c->name;
	client.tls = c->has_tls ? c->tls : NULL;
	client.auth_user = c->auth[0] != '\0' ? c->auth : NULL;
	client.session_id = c->session_id;
	client.trusted = c->trusted_net || c->auth[0] != '\0';
	fctx = filter_ctx_new(st->chain, c->base, milter_server.workq, &client);
	if (fctx != NULL && c->helo_seen)
		filter_ctx_set_helo(fctx, c->helo);
	return fctx;
}

/* The chain gave the ctx up (a filter overstayed): go on with a new
 * one that knows the session and the transaction so far. */
static int
milter_recover(struct milter_conn *c, const char *lost)
{
	struct milter_txn *t = &c->tx;

	t->mime = NULL; /* it lived on the old ctx's arena */
	filter_ctx_close(&c->fctx);
	c->orphans++;
	c->fctx = milter_ctx_new(c);
	if (c->fctx == NULL)
		return -1;
	return filter_ctx_restore(c->fctx, c->helo_seen ? c->helo : NULL,
				  t->open ? t->qid : NULL,
				  t->open ? t->from : NULL, t->rcpts,
				  t->open ? t->nrcpt : 0, lost);
}

/* Run stage on the chain and wait for its outcome on this thread. */
void
milter_run(struct milter_conn *c, enum filter_stage stage, const char *arg,
	   struct filter_outcome *out)
{
	int rc = -1;

	if (c->fctx != NULL)
		rc = filter_ctx_run(c->fctx, stage, arg, out, milter_stage_done,
				    c);
	if (rc == 1)
		return;
	if (rc < 0) {
		milter_fail_outcome(out);
		return;
	}
	c->waiting = true;
	while (c->waiting)
		event_base_loop(c->base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY);
	*out = c->out;
	if (out->orphaned && milter_recover(c, out->filter) < 0) {
		pst_log(PST_LOG_ERR, "milter",
			"%s: cannot make a new filter context: out of memory",
			milter_log_qid(c));
		filter_ctx_close(&c->fctx);
	}
}

/* The MTA's answer for an outcome; sets the reply for refusals. */
sfsistat
milter_answer(SMFICTX *ctx, struct milter_conn *c, enum filter_stage stage,
	      const char *verb, const struct filter_outcome *out)
{
	struct milter_reply *reply = malloc(sizeof(*reply));
	const char *l[MILTER_REPLY_LINES + 1];
	int v;

	if (reply == NULL)
		return SMFIS_TEMPFAIL;
	v = milter_verdict(stage, out, reply);
	if (reply->nlines > 0) {
		char text[sizeof(out->text) * 4];

		pst_log_sanitize(
			text, sizeof(text), out->text,
			(unsigned)strnlen(out->text, sizeof(out->text)));
		pst_log(PST_LOG_INFO, "milter",
			"%s: %s: %s from %s[%s]: %s %s %s; filter=%s",
			milter_log_qid(c),
			v == SMFIS_REJECT ? "reject" : "tempfail", verb,
			c->name, c->addr, reply->code, reply->enhanced, text,
			out->filter != NULL ? out->filter : "-");
		memset(l, 0, sizeof(l));
		for (size_t i = 0; i < reply->nlines; i++)
			l[i] = reply->lines[i];
		if (reply->nlines == 1)
			smfi_setreply(ctx, reply->code,
				      reply->enhanced[0] ? reply->enhanced
							 : NULL,
				      reply->lines[0]);
		else
			/* libmilter stops at the first NULL */
			smfi_setmlreply(
				ctx, reply->code,
				reply->enhanced[0] ? reply->enhanced : NULL,
				l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7],
				l[8], l[9], l[10], l[11], l[12], l[13], l[14],
				l[15], l[16], l[17], l[18], l[19], l[20], l[21],
				l[22], l[23], l[24], l[25], l[26], l[27], l[28],
				l[29], l[30], l[31], NULL);
	}
	free(reply);
	return v;
}

/* ---- per-connection data ---- */

static struct milter_conn *
milter_conn_get(SMFICTX *ctx)
{
	struct milter_conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->base = event_base_new();
	c->txa = pst_arena_new(0);
	if (c->base == NULL || c->txa == NULL ||
	    smfi_setpriv(ctx, c) != MI_SUCCESS) {
		if (c->base != NULL)
			event_base_free(c->base);
		pst_arena_free(&c->txa);
		free(c);
		return NULL;
	}
	pst_buf_init(&c->scratch, 0);
	atomic_fetch_add(&milter_live_conns, 1);
	return c;
}

/* The transaction is over (end of message, abort, close). */
void
milter_txn_end(struct milter_conn *c)
{
	struct milter_txn *t = &c->tx;
	const char *error;

	if (!t->open && !t->data)
		return;
	if (t->mime != NULL)
		mime_parser_free(&t->mime);
	filter_ctx_txn_end(c->fctx);
	if (c->spool != NULL && pst_spool_truncate(c->spool, &error) < 0)
		pst_spool_free(&c->spool);
	pst_arena_reset(c->txa);
	memset(t, 0, sizeof(*t));
}

static void
milter_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static uint64_t
milter_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run base until no ctx lives on it (or until limit, when limit is not
 * 0); true when it is empty. */
static bool
milter_drain(struct event_base *base, uint64_t limit)
{
	struct event *tick = evtimer_new(base, milter_drain_tick, NULL);
	struct timeval tv = { 0, 50 * 1000 };
	bool empty;

	while (!(empty = !filter_base_busy(base))) {
		if (limit != 0 && milter_now_ms() >= limit)
			break;
		if (tick != NULL)
			evtimer_add(tick, &tv);
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY);
	}
	if (tick != NULL)
		event_free(tick);
	return empty;
}

static void *
milter_drain_thread(void *arg)
{
	struct event_base *base = arg;

	milter_drain(base, 0);
	event_base_free(base);
	atomic_fetch_sub(&milter_live_conns, 1);
	return NULL;
}

static void
milter_conn_free(SMFICTX *ctx, struct milter_conn *c)
{
	pthread_t th;
	pthread_attr_t attr;
	bool handed = false;

	milter_txn_end(c);
	filter_ctx_close(&c->fctx);
	if (!milter_drain(c->base, milter_now_ms() + MILTER_DRAIN_MS)) {
		/* A stuck call: its ctx frees itself when it returns. */
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		handed = pthread_create(&th, &attr, milter_drain_thread,
					c->base) == 0;
		pthread_attr_destroy(&attr);
		if (!handed)
			milter_drain(c->base, 0);
	}
	if (!handed) {
		event_base_free(c->base);
		atomic_fetch_sub(&milter_live_conns, 1);
	}
	pst_spool_free(&c->spool);
	pst_arena_free(&c->txa);
	pst_buf_free(&c->scratch);
	free(c);
	smfi_setpriv(ctx, NULL);
}

/* ---- session stages ---- */

static void
milter_session_id(char *buf, size_t size)
{
	uint64_t v;

	arc4random_buf(&v, sizeof(v));
	snprintf(buf, size, "%016llx", (unsigned long long)v);
}

static bool
milter_trusted(const struct sockaddr *sa)
{
	const struct smtpd_settings *smtp = &milter_settings()->smtp;

	return sa != NULL &&
	       pst_cidr_list_match(smtp->trusted, (unsigned)smtp->ntrusted, sa);
}

/* A session-wide outcome (connect, helo). */
static sfsistat
milter_session_outcome(SMFICTX *ctx, struct milter_conn *c,
		       enum filter_stage stage, const char *verb,
		       const struct filter_outcome *out)
{
	sfsistat v = milter_answer(ctx, c, stage, verb, out);

	if (v == SMFIS_REJECT || v == SMFIS_TEMPFAIL)
		c->refused = true;
	else if (out->verdict == PF_DISCARD)
		c->discard_all = true;
	else if (out->verdict == PF_QUARANTINE)
		milter_copy(c->quarantine_all, sizeof(c->quarantine_all),
			    out->quarantine);
	return v;
}

/* Append " key=value" (sanitised) to a log line being built. */
static void
milter_log_kv(char *line, size_t size, const char *key, const char *value)
{
	char v[MILTER_STR * 4];
	size_t len = strlen(line);

	if (value == NULL || value[0] == '\0' || len >= size)
		return;
	pst_log_sanitize(v, sizeof(v), value, (unsigned)strlen(value));
	snprintf(line + len, size - len, " %s=%s", key, v);
}

/* "connect from NAME[ADDR] daemon=smtpd mta=HOST client=\"_\"": what
 * the MTA said about the session, names sanitised (they come from DNS
 * and from clients). */
static void
milter_log_connect(SMFICTX *ctx, const struct milter_conn *c)
{
	char line[2048];

	line[0] = '\0';
	milter_log_kv(line, sizeof(line), "daemon", c->daemon);
	milter_log_kv(line, sizeof(line), "mta", c->mta);
	milter_log_kv(line, sizeof(line), "mta_client", milter_macro(ctx, "_"));
	pst_log(PST_LOG_INFO, "milter", "connect from %s[%s]%s", c->name,
		c->addr, line);
}

static sfsistat
milter_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct milter_conn *c = milter_conn_get(ctx);
	struct filter_outcome out;
	const char *d;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	c->connected = true;
	milter_session_id(c->session_id, sizeof(c->session_id));
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, c->addr, sizeof(c->addr));
		c->port = ntohs(in->sin_port);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, c->addr, sizeof(c->addr));
		c->port = ntohs(in6->sin6_port);
	} else {
		/* local submission (sendmail -bs, Postfix non_smtpd_milters) */
		milter_copy(c->addr, sizeof(c->addr), "127.0.0.1");
	}
	milter_macro_client_name(c->name, sizeof(c->name), hostname);
	c->trusted_net =
		sa == NULL || milter_trusted((const struct sockaddr *)sa);
	d = milter_macro(ctx, "{daemon_name}");
	milter_copy(c->daemon, sizeof(c->daemon), d);
	milter_copy(c->mta, sizeof(c->mta), milter_macro(ctx, "j"));
	c->hidden_received =
		milter_macro_hides_received(milter_macro(ctx, "v"));
	milter_log_connect(ctx, c);
	c->fctx = milter_ctx_new(c);
	milter_run(c, FILTER_CONNECT, NULL, &out);
	return milter_session_outcome(ctx, c, FILTER_CONNECT, "CONNECT", &out);
}

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" from the
 * MTA's macros, as posternd describes its own TLS. */
static void
milter_tls_macros(SMFICTX *ctx, struct milter_conn *c)
{
	const char *version = milter_macro(ctx, "{tls_version}");
	const char *cipher = milter_macro(ctx, "{cipher}");
	const char *bits = milter_macro(ctx, "{cipher_bits}");

	if (c->has_tls ||
	    !milter_macro_tls(c->tls, sizeof(c->tls), version, cipher, bits))
		return;
	c->has_tls = true;
	if (c->fctx != NULL)
		filter_ctx_set_tls(c->fctx, c->tls);
}

static sfsistat
milter_helo(SMFICTX *ctx, char *helo)
{
	struct milter_conn *c = smfi_getpriv(ctx);
	struct filter_outcome out;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if (c->refused)
		return SMFIS_CONTINUE; /* the MTA already refuses */
	milter_tls_macros(ctx, c);
	milter_copy(c->helo, sizeof(c->helo), helo);
	c->helo_seen = true;
	if (c->fctx != NULL)
		filter_ctx_set_helo(c->fctx, c->helo);
	milter_run(c, FILTER_HELO, c->helo, &out);
	return milter_session_outcome(ctx, c, FILTER_HELO, "HELO", &out);
}

/* {auth_authen} came with MAIL: the session is someone else's now, as
 * after XCLIENT LOGIN in posternd - a new ctx that sees the
 * authenticated client from connect on. */
static sfsistat
milter_auth(SMFICTX *ctx, struct milter_conn *c, const char *user)
{
	struct filter_outcome out;
	sfsistat v;

	milter_copy(c->auth, sizeof(c->auth), user);
	filter_ctx_close(&c->fctx);
	c->discard_all = false;
	c->quarantine_all[0] = '\0';
	c->fctx = milter_ctx_new(c);
	milter_run(c, FILTER_CONNECT, NULL, &out);
	v = milter_session_outcome(ctx, c, FILTER_CONNECT, "MAIL", &out);
	if (v == SMFIS_CONTINUE && c->helo_seen) {
		milter_run(c, FILTER_HELO, c->helo, &out);
		v = milter_session_outcome(ctx, c, FILTER_HELO, "MAIL", &out);
	}
	return v;
}

/* ---- transaction stages ---- */

static void
milter_new_qid(char *qid, size_t size)
{
	uint64_t v;

	arc4random_buf(&v, sizeof(v));
	snprintf(qid, size, "%012llX",
		 (unsigned long long)(v & (((uint64_t)1 << 48) - 1)));
}

/* A transaction-wide outcome (mail, rcpt). */
static sfsistat
milter_txn_outcome(SMFICTX *ctx, struct milter_conn *c, enum filter_stage stage,
		   const char *verb, const struct filter_outcome *out)
{
	sfsistat v = milter_answer(ctx, c, stage, verb, out);

	if (out->verdict == PF_DISCARD)
		c->tx.discard = true;
	else if (out->verdict == PF_QUARANTINE)
		milter_copy(c->tx.quarantine, sizeof(c->tx.quarantine),
			    out->quarantine);
	return v;
}

static sfsistat
milter_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_conn *c = smfi_getpriv(ctx);
	struct milter_txn *t;
	struct filter_outcome out;
	const char *auth, *qid;
	sfsistat v;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if (c->refused)
		return SMFIS_CONTINUE;
	milter_txn_end(c); /* no abort came between two messages */
	t = &c->tx;
	milter_tls_macros(ctx, c);
	auth = milter_macro(ctx, "{auth_authen}");
	if (auth != NULL && strcmp(auth, c->auth) != 0) {
		v = milter_auth(ctx, c, auth);
		if (v != SMFIS_CONTINUE)
			return v;
	}
	qid = milter_macro(ctx, "i");
	if (qid != NULL && strlen(qid) < sizeof(t->qid)) {
		milter_copy(t->qid, sizeof(t->qid), qid);
		milter_copy(t->mta_qid, sizeof(t->mta_qid), qid);
	} else {
		milter_new_qid(t->qid, sizeof(t->qid));
	}
	t->from = milter_macro_path(c->txa, argv != NULL ? argv[0] : NULL);
	if (t->from == NULL ||
	    filter_ctx_txn_begin(c->fctx, t->qid, t->from) < 0) {
		milter_fail_outcome(&out);
		return milter_answer(ctx, c, FILTER_MAIL, "MAIL", &out);
	}
	t->open = true;
	milter_run(c, FILTER_MAIL, NULL, &out);
	return milter_txn_outcome(ctx, c, FILTER_MAIL, "MAIL", &out);
}

void
milter_note_qid(SMFICTX *ctx, struct milter_conn *c)
{
	const char *qid;

	if (c->tx.mta_qid[0] != '\0' || (qid = milter_macro(ctx, "i")) == NULL)
		return;
	milter_copy(c->tx.mta_qid, sizeof(c->tx.mta_qid), qid);
	if (strcmp(qid, c->tx.qid) != 0)
		pst_log(PST_LOG_INFO, "milter",
			"%s: postern_id=%s, client=%s[%s]", c->tx.mta_qid,
			c->tx.qid, c->name, c->addr);
}

static sfsistat
milter_envrcpt(SMFICTX *ctx, char **argv)
{
	struct milter_conn *c = smfi_getpriv(ctx);
	struct milter_txn *t;
	struct filter_outcome out;
	struct filter_rcpt r;
	sfsistat v;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if (c->refused || !c->tx.open)
		return SMFIS_CONTINUE;
	t = &c->tx;
	milter_note_qid(ctx, c);
	memset(&r, 0, sizeof(r));
	r.addr = milter_macro_path(c->txa, argv != NULL ? argv[0] : NULL);
	if (r.addr == NULL) {
		milter_fail_outcome(&out);
		return milter_answer(ctx, c, FILTER_RCPT, "RCPT", &out);
	}
	milter_run(c, FILTER_RCPT, r.addr, &out);
	v = milter_txn_outcome(ctx, c, FILTER_RCPT, "RCPT", &out);
	if (v != SMFIS_CONTINUE)
		return v;
	if (t->nrcpt == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct filter_rcpt *n =
			pst_arena_calloc(c->txa, cap, sizeof(*n));

		if (n == NULL)
			goto fail;
		if (t->nrcpt > 0)
			memcpy(n, t->rcpts, t->nrcpt * sizeof(*n));
		t->rcpts = n;
		t->cap = cap;
	}
	if (filter_ctx_rcpt_accepted(c->fctx, &r) < 0)
		goto fail;
	t->rcpts[t->nrcpt++] = r;
	return SMFIS_CONTINUE;
fail:
	milter_fail_outcome(&out);
	return milter_answer(ctx, c, FILTER_RCPT, "RCPT", &out);
}

static int
milter_feed_raw(struct milter_conn *c, const void *data, size_t len,
		const char **error_r)
{
	if (pst_spool_write(c->spool, data, len, error_r) < 0 ||
	    mime_parser_feed(c->tx.mime, data, len, error_r) < 0)
		return -1;
	return 0;
}

/* The stand-in for the MTA's own Received: field (see hidden_received),
 * in Postfix's layout. */
static int
milter_stand_in(struct milter_conn *c, const char **error_r)
{
	const struct milter_txn *t = &c->tx;
	struct pst_buf b;
	char date[64];
	struct tm tm;
	time_t now = time(NULL);
	int rc;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
	pst_buf_init(&b, 0);
	rc = pst_buf_printf(&b,
			    "Received: from %s (%s [%s])\r\n\tby %s (Postfix) "
			    "with %s id %s;\r\n\t%s\r\n",
			    c->helo_seen ? c->helo : "unknown", c->name,
			    c->addr, c->mta[0] ? c->mta : "localhost",
			    c->has_tls ? "ESMTPS" : "ESMTP",
			    t->mta_qid[0] ? t->mta_qid : t->qid, date);
	if (rc < 0)
		*error_r = "out of memory";
	else
		rc = milter_feed_raw(c, b.data, b.len, error_r);
	pst_buf_free(&b);
	return rc;
}

/* Message bytes into the spool and the MIME parser. */
void
milter_feed(struct milter_conn *c, const void *data, size_t len)
{
	const struct postern_settings *st = milter_settings();
	struct milter_txn *t = &c->tx;
	const char *error = NULL;

	if (t->failed || !t->open)
		return;
	if (!t->data) {
		t->data = true;
		if (c->spool == NULL)
			c->spool = pst_spool_new(st->smtp.spool_memory,
						 st->spool_dir);
		t->mime = mime_parser_new(filter_ctx_txn_arena(c->fctx),
					  &st->mime.limits);
		if (c->spool == NULL || t->mime == NULL ||
		    (c->hidden_received && milter_stand_in(c, &error) < 0))
			goto fail;
	}
	if (milter_feed_raw(c, data, len, &error) < 0)
		goto fail;
	return;
fail:
	pst_log(PST_LOG_ERR, "milter", "%s: spool: %s", milter_log_qid(c),
		error ? error : "out of memory");
	t->failed = true;
}

static sfsistat
milter_header(SMFICTX *ctx, char *name, char *value)
{
	struct milter_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if (c->tx.open && !c->tx.failed) {
		pst_buf_reset(&c->scratch);
		if (milter_edit_field(&c->scratch, name ? name : "",
				      value ? value : "", c->leadspc) < 0)
			c->tx.failed = true;
		else
			milter_feed(c, c->scratch.data, c->scratch.len);
	}
	return c->nr_hdr ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
milter_eoh(SMFICTX *ctx)
{
	struct milter_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	milter_note_qid(ctx, c);
	milter_feed(c, "\r\n", 2);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct milter_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	milter_feed(c, chunk, len);
	return c->nr_body ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
milter_abort(SMFICTX *ctx)
{
	struct milter_conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		milter_txn_end(c);
	return SMFIS_CONTINUE;
}

static sfsistat
milter_close(SMFICTX *ctx)
{
	struct milter_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	if (c->connected)
		pst_log(PST_LOG_INFO, "milter", "disconnect from %s[%s]",
			c->name, c->addr);
	milter_conn_free(ctx, c);
	return SMFIS_CONTINUE;
}

/* ---- negotiation ---- */

/* What we may do to a message: everything the chain can ask for. */
#define MILTER_ACTIONS                                                         \
	(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT |       \
	 SMFIF_DELRCPT | SMFIF_QUARANTINE)

static sfsistat
milter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
		 unsigned long f2, unsigned long f3, unsigned long *pf0,
		 unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct milter_conn *c = milter_conn_get(ctx);
	unsigned long want = SMFIP_NOUNKNOWN | SMFIP_NODATA |
			     SMFIP_HDR_LEADSPC | SMFIP_NR_HDR | SMFIP_NR_BODY;

	(void)f2;
	(void)f3;
	if (c == NULL)
		return SMFIS_REJECT; /* the MTA applies its default */
	*pf0 = f0 & MILTER_ACTIONS;
	pst_log(PST_LOG_DEBUG, "milter",
		"negotiate: MTA offers actions 0x%lx, steps 0x%lx", f0, f1);
	if (f0 & SMFIF_SETSYMLIST)
		*pf0 |= SMFIF_SETSYMLIST;
	*pf1 = f1 & want;
	*pf2 = 0;
	*pf3 = 0;
	c->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	/* Header and body chunks never get an answer of their own: the
	 * verdict on the message comes at its end. */
	c->nr_hdr = (*pf1 & SMFIP_NR_HDR) != 0;
	c->nr_body = (*pf1 & SMFIP_NR_BODY) != 0;
	if (*pf0 & SMFIF_SETSYMLIST) {
		smfi_setsymlist(ctx, SMFIM_CONNECT, "j v {daemon_name} _");
		smfi_setsymlist(ctx, SMFIM_HELO,
				"{tls_version} {cipher} {cipher_bits}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM,
				"i {auth_authen} {auth_type} {tls_version} "
				"{cipher} {cipher_bits}");
		smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
		smfi_setsymlist(ctx, SMFIM_EOH, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

void
milter_cb_desc(struct smfiDesc *d)
{
	memset(d, 0, sizeof(*d));
	d->xxfi_name = "postern";
	d->xxfi_version = SMFI_VERSION;
	d->xxfi_flags = MILTER_ACTIONS | SMFIF_SETSYMLIST;
	d->xxfi_connect = milter_connect;
	d->xxfi_helo = milter_helo;
	d->xxfi_envfrom = milter_envfrom;
	d->xxfi_envrcpt = milter_envrcpt;
	d->xxfi_header = milter_header;
	d->xxfi_eoh = milter_eoh;
	d->xxfi_body = milter_body;
	d->xxfi_eom = milter_eom;
	d->xxfi_abort = milter_abort;
	d->xxfi_close = milter_close;
	d->xxfi_negotiate = milter_negotiate;
}
