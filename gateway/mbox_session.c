/*
 * mbox_session.c - an IMAP or POP3 client connection: lifecycle,
 * reading, writing, timeouts and the client's TLS (STARTTLS / STLS and
 * implicit TLS).  What is said is in mbox_imap.c and mbox_pop3.c.
 *
 * An idle session before login is the struct, one bufferevent and a
 * command buffer that grows only as far as max_line + max_literal.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "conn_limits.h"
#include "log.h"
#include "mbox_int.h"
#include "server.h"
#include "tls.h"

#define MBOX_READ_HIGH_WATER (64 * 1024)
#define MBOX_TLS_TIMEOUT 60000

static void mbox_read_cb(struct bufferevent *bev, void *arg);
static void mbox_write_cb(struct bufferevent *bev, void *arg);
static void mbox_event_cb(struct bufferevent *bev, short what, void *arg);

uint64_t
mbox_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
mbox_set_client_timeout(struct mbox_session *s, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)((ms % 1000) * 1000) };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

bool
mbox_login_allowed(const struct mbox_session *s)
{
	return s->tls ||
	       pst_cidr_list_match(s->conf->trusted,
				   (unsigned)s->conf->ntrusted, &s->peer.u.sa);
}

bool
mbox_error(struct mbox_session *s)
{
	return ++s->errors >= s->conf->max_errors;
}

void
mbox_forget_credentials(struct mbox_session *s)
{
	explicit_bzero(s->pass, sizeof(s->pass));
	explicit_bzero(s->pop3_user, sizeof(s->pop3_user));
	s->pass_len = 0;
	if (s->cmd.data != NULL)
		explicit_bzero(s->cmd.data, s->cmd.cap);
}

static void
mbox_tls_start_bev(struct mbox_session *s, struct bufferevent *bev)
{
	s->bev = bev;
	s->state = MBOX_TLS;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, mbox_read_cb, mbox_write_cb, mbox_event_cb, s);
	bufferevent_setwatermark(bev, EV_READ, 0, MBOX_READ_HIGH_WATER);
	mbox_set_client_timeout(s, MBOX_TLS_TIMEOUT);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void
mbox_session_start(struct mbox_listener *l, evutil_socket_t fd,
		   const struct sockaddr *peer, socklen_t peer_len)
{
	struct mbox_worker *mw = l->mw;
	struct mbox_session *s = calloc(1, sizeof(*s));
	struct limits *limits = l->conf->proto == MBOX_IMAP
					? mw->server->imap_limits
					: mw->server->pop3_limits;
	unsigned char id[8];

	if (s == NULL || (size_t)peer_len > sizeof(s->peer.u))
		goto fail;
	s->mw = mw;
	s->conf = l->conf;
	s->ops = l->conf->proto == MBOX_IMAP ? &mbox_imap_ops : &mbox_pop3_ops;
	s->limits = limits;
	s->guard = mw->server->guard;
	memcpy(&s->peer.u, peer, peer_len);
	s->peer.len = peer_len;
	pst_net_addr_str(peer, s->addr, sizeof(s->addr));
	s->port = pst_net_port(peer);
	arc4random_buf(id, sizeof(id));
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(s->session_id + 2 * i, 3, "%02x", id[i]);
	pst_buf_init(&s->cmd, s->conf->max_line + s->conf->max_literal + 64);
	pst_buf_init(&s->ok_text, 4096);

	if (l->implicit_tls) {
		SSL *ssl = SSL_new(s->conf->tls_ctx);

		if (ssl == NULL)
			goto fail;
		s->bev = bufferevent_openssl_socket_new(
			mw->worker->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
			BEV_OPT_CLOSE_ON_FREE);
		if (s->bev == NULL) {
			SSL_free(ssl);
			goto fail;
		}
	} else {
		s->bev = bufferevent_socket_new(mw->worker->base, fd,
						BEV_OPT_CLOSE_ON_FREE);
		if (s->bev == NULL)
			goto fail;
	}
	s->next = mw->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	mw->sessions = s;
	mw->worker->nsessions++;
	pst_log(PST_LOG_INFO, s->ops->name, "connect from [%s]:%u%s", s->addr,
		s->port, l->implicit_tls ? " (TLS)" : "");
	if (l->implicit_tls) {
		mbox_tls_start_bev(s, s->bev);
		return;
	}
	bufferevent_setcb(s->bev, mbox_read_cb, mbox_write_cb, mbox_event_cb,
			  s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, MBOX_READ_HIGH_WATER);
	mbox_set_client_timeout(s, s->conf->login_timeout);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->state = MBOX_CMD;
	s->ops->greet(s);
	return;
fail:
	if (s != NULL) {
		pst_buf_free(&s->cmd);
		pst_buf_free(&s->ok_text);
	}
	free(s);
	limits_leave(limits, peer);
	evutil_closesocket(fd);
}

void
mbox_session_close(struct mbox_session *s, const char *why)
{
	struct mbox_worker *mw = s->mw;
	struct worker *w = mw->worker;

	if (s->logged_in)
		pst_log(PST_LOG_INFO, s->ops->name,
			"disconnect from [%s]:%u: %s, user=<%s>, in=%llu, "
			"out=%llu, relay=%s, session=%s",
			s->addr, s->port, why, s->user,
			(unsigned long long)s->bytes_in,
			(unsigned long long)s->bytes_out,
			s->relay_spliced ? "splice" : "buffer", s->session_id);
	else
		pst_log(PST_LOG_INFO, s->ops->name,
			"disconnect from [%s]:%u: %s, commands=%u", s->addr,
			s->port, why, s->commands);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		mw->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	w->nsessions--;
	limits_leave(s->limits, &s->peer.u.sa);
	mbox_forget_credentials(s);
	if (s->timer != NULL)
		event_free(s->timer);
	mbox_relay_free(s);
	mbox_backend_free(s);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	pst_buf_free(&s->cmd);
	pst_buf_free(&s->ok_text);
	free(s);
	server_worker_idle(w);
}

void
mbox_write(struct mbox_session *s, const char *data, size_t len)
{
	bufferevent_write(s->bev, data, len);
}

void
mbox_printf(struct mbox_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	bufferevent_write(s->bev, line, (size_t)n);
}

void
mbox_close_after_reply(struct mbox_session *s)
{
	s->state = MBOX_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	mbox_write_cb(s->bev, s);
}

static void
mbox_read_cb(struct bufferevent *bev, void *arg)
{
	struct mbox_session *s = arg;

	(void)bev;
	if (s->state == MBOX_CMD || s->state == MBOX_LITERAL ||
	    s->state == MBOX_SASL)
		s->ops->input(s);
}

static void
mbox_lower_write_cb(struct bufferevent *lower, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(lower)) == 0)
		mbox_session_close(arg, "closed");
}

static void
mbox_lower_event_cb(struct bufferevent *lower, short what, void *arg)
{
	(void)lower;
	(void)what;
	mbox_session_close(arg, "closed");
}

static void
mbox_write_cb(struct bufferevent *bev, void *arg)
{
	struct mbox_session *s = arg;
	struct bufferevent *lower;

	if (s->state != MBOX_CLOSING ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	lower = s->tls ? bufferevent_get_underlying(bev) : NULL;
	if (lower != NULL &&
	    evbuffer_get_length(bufferevent_get_output(lower)) > 0) {
		bufferevent_setcb(lower, NULL, mbox_lower_write_cb,
				  mbox_lower_event_cb, s);
		bufferevent_enable(lower, EV_WRITE);
		return;
	}
	mbox_session_close(s, "closed");
}

static void
mbox_tls_done(struct mbox_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	/* Implicit TLS has no bufferevent below: greet now, in TLS. */
	bool implicit = bufferevent_get_underlying(s->bev) == NULL;

	pst_tls_describe(ssl, s->tls_info, sizeof(s->tls_info));
	pst_log(PST_LOG_INFO, s->ops->name,
		"TLS connection established from [%s]:%u: %s", s->addr, s->port,
		s->tls_info);
	s->tls = true;
	s->state = MBOX_CMD;
	mbox_set_client_timeout(s, s->conf->login_timeout);
	if (implicit)
		s->ops->greet(s);
	s->ops->input(s);
}

static void
mbox_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mbox_session *s = arg;

	(void)bev;
	if ((what & BEV_EVENT_CONNECTED) && s->state == MBOX_TLS) {
		mbox_tls_done(s);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state != MBOX_CLOSING &&
	    s->state != MBOX_TLS) {
		pst_log(PST_LOG_INFO, s->ops->name,
			"timeout before login from [%s]:%u", s->addr, s->port);
		s->ops->bye(s, "Disconnected for inactivity.");
		mbox_close_after_reply(s);
		return;
	}
	mbox_session_close(s, (what & BEV_EVENT_TIMEOUT) ? "timeout"
			      : s->state == MBOX_TLS   ? "TLS handshake failed"
			      : (what & BEV_EVENT_EOF) ? "client closed"
						       : "connection error");
}

int
mbox_client_starttls(struct mbox_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct bufferevent *tls_bev;
	SSL *ssl = SSL_new(s->conf->tls_ctx);

	if (ssl == NULL)
		return -1;
	/* Whatever was pipelined after STARTTLS came in clear and must not
	 * be taken as if it came through TLS (CVE-2011-0411 and kin). */
	evbuffer_drain(in, evbuffer_get_length(in));
	pst_buf_reset(&s->cmd);
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	tls_bev = bufferevent_openssl_filter_new(s->mw->worker->base, s->bev,
						 ssl, BUFFEREVENT_SSL_ACCEPTING,
						 BEV_OPT_CLOSE_ON_FREE);
	if (tls_bev == NULL) {
		SSL_free(ssl);
		return -1;
	}
	mbox_tls_start_bev(s, tls_bev);
	return 0;
}
