/*
 * smtpd.c - the SMTP server session: connection lifecycle, reading lines,
 * sending replies, timeouts, STARTTLS and shutdown.  Commands are in
 * smtpd_cmd.c, message content in smtpd_data.c.
 *
 * A session belongs to one worker's event loop and is only touched from
 * it.  Its memory is the struct itself, the bufferevent, and buffers that
 * grow only while a transaction needs them, so an idle session stays
 * small (bench/idle_sessions.py measures it).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "arena.h"
#include "conn_limits.h"
#include "postern/filter.h"
#include "log.h"
#include "smtp_reply.h"
#include "smtpd_int.h"
#include "spool.h"
#include "tls.h"

/* Stop reading from a client that sends faster than we process. */
#define SMTPD_READ_HIGH_WATER (64 * 1024)

static void smtpd_read_cb(struct bufferevent *bev, void *arg);
static void smtpd_write_cb(struct bufferevent *bev, void *arg);
static void smtpd_event_cb(struct bufferevent *bev, short what, void *arg);

struct smtpd_session *
smtpd_session_next(struct smtpd_session *s)
{
	return s->next;
}

void
smtpd_set_timeout(struct smtpd_session *s, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)((ms % 1000) * 1000) };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

void
smtpd_greet(struct smtpd_session *s)
{
	char line[300];

	/* The greeting carries no enhanced code (RFC 2034 section 3). */
	snprintf(line, sizeof(line), "220 %s ESMTP postern\r\n",
		 smtpd_settings(s)->hostname);
	bufferevent_write(s->bev, line, strlen(line));
}

/* The chain's word on the new connection: greet, or refuse and close
 * (a refusal in place of the greeting, RFC 5321 3.1). */
void
smtpd_connect_filtered(struct smtpd_session *s,
		       const struct filter_outcome *out)
{
	if (out->verdict == PF_REJECT || out->verdict == PF_TEMPFAIL) {
		bool temp = out->verdict == PF_TEMPFAIL;

		smtpd_reject(s, "CONNECT", temp ? 421 : 554,
			     temp ? "4.7.0" : "5.7.1", "%s %s",
			     smtpd_settings(s)->hostname, out->text);
		smtpd_close_after_reply(s);
		return;
	}
	smtpd_filter_refused(s, "CONNECT", FILTER_CONNECT, out);
	smtpd_greet(s);
}

void
smtpd_session_start(struct worker *worker, evutil_socket_t fd,
		    const struct sockaddr *peer, socklen_t peer_len)
{
	const struct smtpd_settings *smtp = &worker->server->settings->smtp;
	struct smtpd_session *s = calloc(1, sizeof(*s));
	unsigned char id[8];

	if (s == NULL || (size_t)peer_len > sizeof(s->peer.u)) {
		free(s);
		limits_leave(worker->server->limits, peer);
		evutil_closesocket(fd);
		return;
	}
	s->worker = worker;
	memcpy(&s->peer.u, peer, peer_len);
	s->peer.len = peer_len;
	memcpy(&s->counted, peer,
	       peer_len < sizeof(s->counted) ? peer_len : sizeof(s->counted));
	pst_net_addr_str(peer, s->addr, sizeof(s->addr));
	s->name = "unknown";
	arc4random_buf(id, sizeof(id));
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(s->session_id + 2 * i, 3, "%02x", id[i]);
	pst_buf_init(&s->line, 4096);
	pst_buf_init(&s->content, 0);

	s->bev =
		bufferevent_socket_new(worker->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		limits_leave(worker->server->limits, peer);
		evutil_closesocket(fd);
		free(s);
		return;
	}
	s->next = worker->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	worker->sessions = s;
	worker->nsessions++;

	bufferevent_setcb(s->bev, smtpd_read_cb, smtpd_write_cb, smtpd_event_cb,
			  s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTPD_READ_HIGH_WATER);
	smtpd_set_timeout(s, smtp->command_timeout);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (!smtpd_xclient_proxy_start(s))
		smtpd_session_begin(s, NULL);
}

void
smtpd_session_begin(struct smtpd_session *s, const char *via)
{
	const struct smtpd_settings *smtp = &smtpd_settings(s)->smtp;

	if (via != NULL)
		pst_log(PST_LOG_INFO, "smtpd", "connect from %s[%s] (via %s)",
			s->name, s->addr, via);
	else
		pst_log(PST_LOG_INFO, "smtpd", "connect from %s[%s]", s->name,
			s->addr);
	/* Decided once, for the client the connection brought (the one
	 * behind a proxy), never for one XCLIENT presented. */
	s->xclient_ok = pst_cidr_list_match(
		smtp->xclient, (unsigned)smtp->nxclient, &s->peer.u.sa);
	s->state = SMTPD_CMD;
	if (smtpd_filter_open(s) < 0) {
		smtpd_reply(s, 421, "4.3.0", "%s Error: out of memory",
			    smtpd_settings(s)->hostname);
		smtpd_close_after_reply(s);
		return;
	}
	smtpd_filter_run(s, FILTER_CONNECT, NULL, smtpd_connect_filtered);
}

static void
smtpd_log_disconnect(struct smtpd_session *s)
{
	char counts[400];
	size_t off = 0;
	unsigned total = 0, total_ok = 0;

	counts[0] = '\0';
	for (int v = 1; v < SMTP_VERB__COUNT; v++) {
		const char *name = smtp_verb_name((enum smtp_verb)v);
		char lower[16];
		size_t i;
		int n;

		if (s->verb_count[v] == 0)
			continue;
		for (i = 0; name[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)(name[i] | 0x20);
		lower[i] = '\0';
		if (s->verb_ok[v] == s->verb_count[v])
			n = snprintf(counts + off, sizeof(counts) - off,
				     " %s=%u", lower, s->verb_count[v]);
		else
			n = snprintf(counts + off, sizeof(counts) - off,
				     " %s=%u/%u", lower, s->verb_ok[v],
				     s->verb_count[v]);
		if (n > 0 && (size_t)n < sizeof(counts) - off)
			off += (size_t)n;
		total += s->verb_count[v];
		total_ok += s->verb_ok[v];
	}
	if (s->verb_count[SMTP_VERB_UNKNOWN] > 0) {
		int n = snprintf(counts + off, sizeof(counts) - off,
				 " unknown=0/%u",
				 s->verb_count[SMTP_VERB_UNKNOWN]);

		if (n > 0 && (size_t)n < sizeof(counts) - off)
			off += (size_t)n;
		total += s->verb_count[SMTP_VERB_UNKNOWN];
	}
	if (total_ok == total)
		pst_log(PST_LOG_INFO, "smtpd",
			"disconnect from %s[%s]%s commands=%u", s->name,
			s->addr, counts, total);
	else
		pst_log(PST_LOG_INFO, "smtpd",
			"disconnect from %s[%s]%s commands=%u/%u", s->name,
			s->addr, counts, total_ok, total);
}

/* The final free; the relay no longer holds the transaction. */
static void
smtpd_session_free(struct smtpd_session *s)
{
	struct worker *w = s->worker;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		w->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	w->nsessions--;
	limits_leave(w->server->limits, &s->counted.sa);
	smtpd_filter_close(s);
	pst_arena_free(&s->txn.arena);
	pst_spool_free(&s->spool);
	pst_buf_free(&s->line);
	pst_buf_free(&s->content);
	free(s->name_buf);
	free(s->login);
	free(s);
	server_worker_idle(w);
}

/* Close the connection now.  If the relay is working on this session's
 * message, the session itself lives on until the relay answers. */
void
smtpd_session_close(struct smtpd_session *s)
{
	smtpd_log_disconnect(s);
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->state == SMTPD_WAIT) {
		s->gone = true; /* freed when the relay or chain answers */
		return;
	}
	smtpd_session_free(s);
}

bool
smtpd_relay_returned(struct smtpd_session *s)
{
	if (s->gone) {
		/* The client left while the relay worked: finish the free
		 * that smtpd_session_close() could not do. */
		smtpd_txn_end(s);
		smtpd_session_free(s);
		return false;
	}
	s->state = SMTPD_CMD;
	return true;
}

void
smtpd_reply(struct smtpd_session *s, unsigned code, const char *enhanced,
	    const char *fmt, ...)
{
	char text[SMTP_REPLY_MAX_LINE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* 452 "too many recipients" is how a client learns to split a
	 * transaction, not a client error; only a client that keeps
	 * pushing far past it is (Postfix's smtpd_recipient_overshoot). */
	if (code == 452 && s->overshoot < SMTPD_RCPT_OVERSHOOT)
		s->overshoot++;
	else if (code >= 400 && code != 421)
		s->errors++;
	pst_buf_reset(&s->line);
	if (smtp_reply_append(&s->line, code, enhanced, text) == 0)
		bufferevent_write(s->bev, s->line.data, s->line.len);
}

void
smtpd_close_after_reply(struct smtpd_session *s)
{
	s->state = SMTPD_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	/* The write callback closes once the output has drained; the write
	 * timeout bounds a client that does not read. */
}

void
smtpd_txn_end(struct smtpd_session *s)
{
	struct smtpd_txn *t = &s->txn;
	struct pst_arena *arena = t->arena;

	if (s->fctx != NULL) {
		/* The chain hands the spool back once it has the message. */
		if (s->spool == NULL)
			s->spool = filter_ctx_take_spool(s->fctx);
		filter_ctx_txn_end(s->fctx);
	}
	pst_spool_free(&t->edited);
	if (arena != NULL)
		pst_arena_reset(arena);
	if (s->spool != NULL)
		pst_spool_truncate(s->spool, &(const char *){ NULL });
	memset(t, 0, sizeof(*t));
	t->arena = arena;
	s->has_txn = false;
	pst_buf_reset(&s->content);
	if (s->draining && s->state == SMTPD_CMD) {
		smtpd_reply(s, 421, "4.3.2", "%s Service shutting down",
			    smtpd_settings(s)->hostname);
		smtpd_close_after_reply(s);
	}
}

/* The longest command line allowed for the line at the start of in:
 * RFC 3461 section 4 lets MAIL and RCPT grow by 500 octets for the DSN
 * parameters (ENVID, ORCPT), which posternd offers. */
static size_t
smtpd_line_limit(const struct smtpd_session *s, struct evbuffer *in)
{
	size_t limit = smtpd_settings(s)->smtp.max_command_line;
	char verb[5];

	if (s->esmtp && evbuffer_copyout(in, verb, sizeof(verb)) == 5 &&
	    (verb[4] == ' ' || verb[4] == ':') &&
	    (strncasecmp(verb, "MAIL", 4) == 0 ||
	     strncasecmp(verb, "RCPT", 4) == 0))
		limit += 500;
	return limit;
}

/* Read and dispatch complete command lines; hand content to the DATA and
 * BDAT readers.  Returns when more input is needed or the session waits
 * for something else (relay, TLS, close). */
void
smtpd_process_input(struct smtpd_session *s)
{
	const struct smtpd_settings *smtp = &smtpd_settings(s)->smtp;
	struct evbuffer *in;

	for (;;) {
		size_t limit;
		struct evbuffer_ptr eol;
		size_t eol_len = 0, line_len;
		char *line;

		if (s->state == SMTPD_PROXY) {
			if (smtpd_xclient_proxy_read(s) < 0 ||
			    s->state == SMTPD_PROXY)
				return; /* closed, or needs more */
			continue;
		}
		if (s->state == SMTPD_DATA || s->state == SMTPD_BDAT) {
			smtpd_data_read(s);
			if (s->state == SMTPD_DATA || s->state == SMTPD_BDAT)
				return; /* needs more input */
			continue;
		}
		if (s->state != SMTPD_CMD)
			return;
		in = bufferevent_get_input(s->bev);
		limit = smtpd_line_limit(s, in);
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			size_t have = evbuffer_get_length(in);

			if (have >= limit) {
				/* Too long already: discard up to its end. */
				evbuffer_drain(in, have);
				if (!s->skipping_line) {
					s->skipping_line = true;
					s->verb_count[SMTP_VERB_UNKNOWN]++;
					smtpd_reply(s, 500, "5.5.2",
						    "Error: line too long");
				}
			}
			return;
		}
		line_len = (size_t)eol.pos; /* without the LF */
		if (s->skipping_line || line_len + 1 > limit) {
			evbuffer_drain(in, line_len + 1);
			if (!s->skipping_line) {
				s->verb_count[SMTP_VERB_UNKNOWN]++;
				smtpd_reply(s, 500, "5.5.2",
					    "Error: line too long");
			}
			s->skipping_line = false;
		} else {
			line = (char *)evbuffer_pullup(
				in, (ev_ssize_t)line_len + 1);
			if (line_len > 0 && line[line_len - 1] == '\r')
				line_len--;
			smtpd_cmd_dispatch(s, line, line_len);
			/* The line is only valid until this drain. */
			if (s->bev != NULL && s->state != SMTPD_TLS)
				evbuffer_drain(in, (size_t)eol.pos + 1);
		}
		if (s->bev == NULL)
			return;
		if (s->state == SMTPD_CMD && s->errors >= smtp->max_errors) {
			smtpd_reply(s, 421, "4.7.0",
				    "%s Error: too many errors",
				    smtpd_settings(s)->hostname);
			smtpd_close_after_reply(s);
			return;
		}
	}
}

static void
smtpd_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	smtpd_process_input(arg);
}

/* Under TLS the last reply has only reached the socket bufferevent below
 * the TLS filter: wait for that one to drain before closing. */
static void
smtpd_lower_write_cb(struct bufferevent *lower, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(lower)) == 0)
		smtpd_session_close(arg);
}

static void
smtpd_lower_event_cb(struct bufferevent *lower, short what, void *arg)
{
	(void)lower;
	(void)what;
	smtpd_session_close(arg);
}

static void
smtpd_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;
	struct bufferevent *lower;

	if (s->state != SMTPD_CLOSING ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	lower = s->tls ? bufferevent_get_underlying(bev) : NULL;
	if (lower != NULL &&
	    evbuffer_get_length(bufferevent_get_output(lower)) > 0) {
		/* The TLS layer has nothing more to say; take over the
		 * socket's callbacks just to see the bytes leave. */
		bufferevent_setcb(lower, NULL, smtpd_lower_write_cb,
				  smtpd_lower_event_cb, s);
		bufferevent_enable(lower, EV_WRITE);
		return;
	}
	smtpd_session_close(s);
}

static void
smtpd_tls_done(struct smtpd_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

	pst_tls_describe(ssl, s->tls_info, sizeof(s->tls_info));
	pst_log(PST_LOG_INFO, "smtpd",
		"Anonymous TLS connection established from %s[%s]: %s", s->name,
		s->addr, s->tls_info);
	s->tls = true;
	if (s->fctx != NULL)
		filter_ctx_set_tls(s->fctx, s->tls_info);
	/* RFC 3207 section 4.2: forget everything learned before TLS. */
	s->helo_seen = false;
	s->esmtp = false;
	s->helo[0] = '\0';
	s->state = SMTPD_CMD;
	smtpd_set_timeout(s, smtpd_settings(s)->smtp.command_timeout);
	smtpd_process_input(s);
}

static void
smtpd_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_session *s = arg;
	const char *when;

	(void)bev;
	if ((what & BEV_EVENT_CONNECTED) && s->state == SMTPD_TLS) {
		smtpd_tls_done(s);
		return;
	}
	if (s->state == SMTPD_PROXY) {
		/* No reply: nothing may reach a balancer before the
		 * header, and whoever sent no header is not a client. */
		smtpd_xclient_proxy_event(s, what);
		smtpd_session_close(s);
		return;
	}
	switch (s->state) {
	case SMTPD_DATA:
	case SMTPD_BDAT:
		when = " after DATA";
		break;
	case SMTPD_TLS:
		when = " after STARTTLS";
		break;
	default:
		when = "";
		break;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state != SMTPD_CLOSING &&
	    s->state != SMTPD_TLS) {
		pst_log(PST_LOG_INFO, "smtpd", "timeout%s from %s[%s]", when,
			s->name, s->addr);
		/* Nothing half-received is kept: txn_end drops it. */
		if (s->has_txn)
			smtpd_txn_end(s);
		s->state = SMTPD_CMD;
		smtpd_reply(s, 421, "4.4.2", "%s Error: timeout exceeded",
			    smtpd_settings(s)->hostname);
		smtpd_close_after_reply(s);
		/* Our write side may still be fine; give the 421 a moment
		 * (the write timeout is still armed). */
		bufferevent_enable(s->bev, EV_WRITE);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		pst_log(PST_LOG_INFO, "smtpd", "timeout%s from %s[%s]", when,
			s->name, s->addr);
	else if (s->state != SMTPD_CLOSING)
		pst_log(PST_LOG_INFO, "smtpd", "lost connection%s from %s[%s]",
			when, s->name, s->addr);
	if (s->has_txn && s->state != SMTPD_WAIT)
		smtpd_txn_end(s);
	smtpd_session_close(s);
}

int
smtpd_starttls(struct smtpd_session *s)
{
	SSL_CTX *ctx = smtpd_settings(s)->smtp.tls_ctx;
	struct bufferevent *tls_bev;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return -1;
	/* CVE-2011-0411: whatever the client pipelined after STARTTLS was
	 * sent in clear and must not be read as if it came through TLS. */
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	tls_bev = bufferevent_openssl_filter_new(s->worker->base, s->bev, ssl,
						 BUFFEREVENT_SSL_ACCEPTING,
						 BEV_OPT_CLOSE_ON_FREE);
	if (tls_bev == NULL) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls_bev, 1);
	s->bev = tls_bev;
	s->state = SMTPD_TLS;
	bufferevent_setcb(tls_bev, smtpd_read_cb, smtpd_write_cb,
			  smtpd_event_cb, s);
	bufferevent_setwatermark(tls_bev, EV_READ, 0, SMTPD_READ_HIGH_WATER);
	smtpd_set_timeout(s, smtpd_settings(s)->smtp.tls_timeout);
	bufferevent_enable(tls_bev, EV_READ | EV_WRITE);
	return 0;
}

void
smtpd_session_drain(struct smtpd_session *s)
{
	s->draining = true;
	if (s->state == SMTPD_CMD && !s->has_txn) {
		smtpd_reply(s, 421, "4.3.2", "%s Service shutting down",
			    smtpd_settings(s)->hostname);
		smtpd_close_after_reply(s);
	} else if (s->state == SMTPD_TLS || s->state == SMTPD_PROXY) {
		smtpd_session_close(s);
	}
}

void
smtpd_session_abort(struct smtpd_session *s)
{
	static const char bye[] = "421 4.3.2 Service shutting down\r\n";

	if (s->bev == NULL)
		return; /* already gone, waiting for the relay */
	if (!s->tls) {
		ssize_t rc = send(bufferevent_getfd(s->bev), bye,
				  sizeof(bye) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

		(void)rc;
	}
	if (s->has_txn && s->state != SMTPD_WAIT)
		smtpd_txn_end(s);
	smtpd_session_close(s);
}
