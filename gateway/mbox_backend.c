/*
 * mbox_backend.c - the backend leg while logging in: connect (numeric
 * address, no DNS), TLS (implicit at once, or after the protocol's
 * STARTTLS/STLS) with the certificate and its name checked, and
 * line-by-line reading handed to the protocol (mbox_imap.c,
 * mbox_pop3.c).  TLS runs as a filter over the socket bufferevent in
 * both cases, so the two paths are one.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base64.h"
#include "log.h"
#include "mbox_int.h"
#include "server.h"

/* Longest backend line read during login (capability lists are long). */
#define MBOX_BACKEND_MAX_LINE 16384

static void mbox_backend_read_cb(struct bufferevent *bev, void *arg);
static void mbox_backend_event_cb(struct bufferevent *bev, short what,
				  void *arg);

void
mbox_backend_free(struct mbox_session *s)
{
	if (s->backend != NULL) {
		bufferevent_free(s->backend);
		s->backend = NULL;
	}
	s->backend_tls = false;
}

void
mbox_backend_write(struct mbox_session *s, const char *data, size_t len)
{
	if (s->backend != NULL)
		bufferevent_write(s->backend, data, len);
}

void
mbox_backend_write_b64(struct mbox_session *s, const char *p, size_t len)
{
	struct pst_buf b;

	pst_buf_init(&b, 1024);
	pst_base64_encode(&b, p, len, 0);
	pst_buf_append_cstr(&b, "\r\n");
	mbox_backend_write(s, b.data, b.len);
	explicit_bzero(b.data, b.cap);
	pst_buf_free(&b);
}

void
mbox_backend_printf(struct mbox_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(line))
		mbox_backend_write(s, line, (size_t)n);
}

static void
mbox_backend_timeouts(struct mbox_session *s)
{
	uint64_t ms = s->conf->backend_timeout;
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)((ms % 1000) * 1000) };

	bufferevent_set_timeouts(s->backend, &tv, &tv);
}

static int
mbox_backend_tls(struct mbox_session *s)
{
	const struct mbox_backend *be = s->be;
	struct bufferevent *tls;
	unsigned char ip[16];
	bool is_ip;
	SSL *ssl = SSL_new(be->ssl_ctx);

	if (ssl == NULL)
		return -1;
	is_ip = inet_pton(AF_INET, be->server_name, ip) == 1 ||
		inet_pton(AF_INET6, be->server_name, ip) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(ssl, be->server_name);
	if (be->verify && (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(
					   SSL_get0_param(ssl), be->server_name)
				 : SSL_set1_host(ssl, be->server_name)) != 1) {
		SSL_free(ssl);
		return -1;
	}
	/* The server's pipelined plaintext must not be read as TLS data. */
	evbuffer_drain(bufferevent_get_input(s->backend),
		       evbuffer_get_length(bufferevent_get_input(s->backend)));
	bufferevent_set_timeouts(s->backend, NULL, NULL);
	tls = bufferevent_openssl_filter_new(s->mw->worker->base, s->backend,
					     ssl, BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		return -1;
	}
	s->backend = tls;
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	bufferevent_setcb(tls, mbox_backend_read_cb, NULL,
			  mbox_backend_event_cb, s);
	mbox_backend_timeouts(s);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	return 0;
}

int
mbox_backend_connect(struct mbox_session *s)
{
	s->backend = bufferevent_socket_new(s->mw->worker->base, -1,
					    BEV_OPT_CLOSE_ON_FREE);
	if (s->backend == NULL)
		return -1;
	bufferevent_setcb(s->backend, mbox_backend_read_cb, NULL,
			  mbox_backend_event_cb, s);
	mbox_backend_timeouts(s);
	bufferevent_enable(s->backend, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(s->backend, &s->be->addr.u.sa,
				       (int)s->be->addr.len) < 0) {
		mbox_backend_free(s);
		return -1;
	}
	return 0;
}

int
mbox_backend_starttls(struct mbox_session *s)
{
	return mbox_backend_tls(s);
}

static void
mbox_backend_read_cb(struct bufferevent *bev, void *arg)
{
	struct mbox_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (s->state == MBOX_LOGIN && s->backend == bev) {
		size_t eol_len = 0, line_len;
		struct evbuffer_ptr eol = evbuffer_search_eol(
			in, NULL, &eol_len, EVBUFFER_EOL_LF);
		char *line;

		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > MBOX_BACKEND_MAX_LINE)
				mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE,
						"line too long", 13);
			return;
		}
		line_len = (size_t)eol.pos;
		if (line_len > MBOX_BACKEND_MAX_LINE) {
			mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE,
					"line too long", 13);
			return;
		}
		line = (char *)evbuffer_pullup(in, (ev_ssize_t)line_len + 1);
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		{
			/* The protocol may free bev (a failure) or hand it
			 * to the relay: the line leaves the buffer first. */
			char copy[MBOX_BACKEND_MAX_LINE + 1];

			memcpy(copy, line, line_len);
			copy[line_len] = '\0';
			evbuffer_drain(in, (size_t)eol.pos + 1);
			s->ops->backend_line(s, copy, line_len);
		}
	}
}

static void
mbox_backend_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mbox_session *s = arg;
	char why[200];

	if (what & BEV_EVENT_CONNECTED) {
		if (bufferevent_get_underlying(bev) != NULL) {
			s->backend_tls = true;
			s->ops->backend_connected(s);
			return;
		}
		if (s->be->tls == MBOX_TLS_IMPLICIT) {
			if (mbox_backend_tls(s) < 0)
				mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE,
						"TLS setup failed", 16);
			return;
		}
		s->ops->backend_connected(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		snprintf(why, sizeof(why), "timeout");
	} else if (bufferevent_get_underlying(bev) != NULL &&
		   bufferevent_get_openssl_error(bev) != 0) {
		unsigned long e = bufferevent_get_openssl_error(bev);

		snprintf(why, sizeof(why), "TLS: ");
		ERR_error_string_n(e, why + 5, sizeof(why) - 5);
		while (bufferevent_get_openssl_error(bev) != 0)
			;
	} else if (what & BEV_EVENT_EOF) {
		snprintf(why, sizeof(why), "connection closed by backend");
	} else {
		snprintf(why, sizeof(why), "%s",
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, why, strlen(why));
}
