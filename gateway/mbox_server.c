/*
 * mbox_server.c - IMAP and POP3 listeners on each worker, next to
 * SMTP's (see mbox.h): every worker binds its own SO_REUSEPORT sockets,
 * so the kernel spreads connections; the connection limits and the
 * brute-force guard are shared by the workers (mutex-protected), and
 * the guard by both protocols too: a password guessed over POP3 is a
 * password guessed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "conn_limits.h"
#include "log.h"
#include "mbox_int.h"
#include "server.h"

#define MBOX_BACKLOG 511

#define MIN_U64(a, b) ((a) < (b) ? (a) : (b))
#define MAX_U64(a, b) ((a) > (b) ? (a) : (b))

/* One guard for both protocols: of two configured guard blocks, the
 * stricter value of each setting. */
static struct mbox_guard_settings
mbox_guard_shared(const struct mailbox_settings *conf)
{
	const struct mbox_guard_settings *i = &conf->imap.guard,
					 *p = &conf->pop3.guard;
	struct mbox_guard_settings g;

	if (!conf->pop3.configured)
		return *i;
	if (!conf->imap.configured)
		return *p;
	g.max_failures_ip = MIN_U64(i->max_failures_ip, p->max_failures_ip);
	g.max_failures_user =
		MIN_U64(i->max_failures_user, p->max_failures_user);
	g.delay = MAX_U64(i->delay, p->delay);
	g.max_delay = MAX_U64(i->max_delay, p->max_delay);
	g.lockout = MAX_U64(i->lockout, p->lockout);
	return g;
}

struct mbox_server *
mbox_server_new(const struct mailbox_settings *conf, const char **error_r)
{
	struct mbox_server *m;
	struct mbox_guard_settings guard;

	if (!conf->imap.configured && !conf->pop3.configured)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		goto nomem;
	m->conf = conf;
	m->imap_limits =
		limits_new((unsigned)conf->imap.max_connections,
			   (unsigned)conf->imap.max_connections_per_ip);
	m->pop3_limits =
		limits_new((unsigned)conf->pop3.max_connections,
			   (unsigned)conf->pop3.max_connections_per_ip);
	guard = mbox_guard_shared(conf);
	m->guard = mbox_guard_new(&guard);
	if (m->imap_limits == NULL || m->pop3_limits == NULL ||
	    m->guard == NULL) {
		mbox_server_free(&m);
		goto nomem;
	}
	return m;
nomem:
	*error_r = "out of memory";
	return NULL;
}

void
mbox_server_free(struct mbox_server **server_p)
{
	struct mbox_server *m = *server_p;

	if (m == NULL)
		return;
	*server_p = NULL;
	limits_free(&m->imap_limits);
	limits_free(&m->pop3_limits);
	mbox_guard_free(&m->guard);
	free(m);
}

static int
mbox_bind_proto(struct mbox_worker *mw, const struct mbox_proto_settings *p,
		const char **error_r)
{
	for (size_t i = 0; i < p->naddrs; i++) {
		struct mbox_listener *l = &mw->listeners[mw->nlisteners];
		static char msg[300];
		const char *err = "unknown error";
		char where[PST_NET_ADDRSTRLEN + 8];

		l->mw = mw;
		l->conf = p;
		l->implicit_tls = i >= p->nplain;
		l->fd = pst_net_listen(&p->addrs[i], MBOX_BACKLOG, &err);
		if (l->fd < 0) {
			pst_net_hostport_str(&p->addrs[i].u.sa, where,
					     sizeof(where));
			snprintf(msg, sizeof(msg),
				 "%s: cannot listen on %s: %s",
				 p->proto == MBOX_IMAP ? "imap" : "pop3", where,
				 err);
			*error_r = msg;
			return -1;
		}
		mw->nlisteners++;
	}
	return 0;
}

int
mbox_worker_bind(struct mbox_server *server, struct worker *w,
		 struct mbox_worker **mw_r, const char **error_r)
{
	const struct mailbox_settings *conf = server->conf;
	size_t n = (conf->imap.configured ? conf->imap.naddrs : 0) +
		   (conf->pop3.configured ? conf->pop3.naddrs : 0);
	struct mbox_worker *mw = calloc(1, sizeof(*mw));

	*mw_r = mw;
	if (mw == NULL ||
	    (mw->listeners = calloc(n + 1, sizeof(*mw->listeners))) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	mw->worker = w;
	mw->server = server;
	if ((conf->imap.configured &&
	     mbox_bind_proto(mw, &conf->imap, error_r) < 0) ||
	    (conf->pop3.configured &&
	     mbox_bind_proto(mw, &conf->pop3, error_r) < 0))
		return -1;
	return 0;
}

static void
mbox_refuse(evutil_socket_t fd, const char *reply)
{
	/* Best effort on a fresh socket: the reply fits the send buffer. */
	ssize_t rc =
		send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)rc;
	evutil_closesocket(fd);
}

static void
mbox_accept(struct evconnlistener *listener, evutil_socket_t fd,
	    struct sockaddr *sa, int len, void *arg)
{
	struct mbox_listener *l = arg;
	struct mbox_server *m = l->mw->server;
	bool imap = l->conf->proto == MBOX_IMAP;
	const char *name = imap ? "imap" : "pop3";
	char addr[PST_NET_ADDRSTRLEN];

	(void)listener;
	if (l->mw->draining) {
		evutil_closesocket(fd);
		return;
	}
	switch (limits_enter(imap ? m->imap_limits : m->pop3_limits, sa)) {
	case LIMITS_OK:
		mbox_session_start(l, fd, sa, (socklen_t)len);
		return;
	case LIMITS_TOO_MANY_TOTAL:
		pst_log(PST_LOG_WARNING, name,
			"warning: connection limit reached, refusing %s",
			pst_net_addr_str(sa, addr, sizeof(addr)));
		break;
	case LIMITS_TOO_MANY_FROM_IP:
		pst_log(PST_LOG_WARNING, name,
			"warning: too many connections from %s",
			pst_net_addr_str(sa, addr, sizeof(addr)));
		break;
	}
	/* Implicit TLS: nothing can be said before the handshake. */
	if (l->implicit_tls)
		evutil_closesocket(fd);
	else
		mbox_refuse(fd, imap ? "* BYE [UNAVAILABLE] Too many "
				       "connections, try again later.\r\n"
				     : "-ERR [SYS/TEMP] Too many connections, "
				       "try again later.\r\n");
}

static void
mbox_accept_error(struct evconnlistener *listener, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	(void)listener;
	(void)arg;
	pst_log(PST_LOG_WARNING, "imap", "warning: accept: %s",
		evutil_socket_error_to_string(err));
}

int
mbox_worker_listen(struct mbox_worker *mw, const char **error_r)
{
	for (size_t i = 0; i < mw->nlisteners; i++) {
		struct mbox_listener *l = &mw->listeners[i];

		l->listener = evconnlistener_new(
			mw->worker->base, mbox_accept, l,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
			l->fd);
		if (l->listener == NULL) {
			*error_r = "cannot create listener";
			return -1;
		}
		evconnlistener_set_error_cb(l->listener, mbox_accept_error);
	}
	return 0;
}

void
mbox_worker_close_listeners(struct mbox_worker *mw)
{
	if (mw == NULL)
		return;
	for (size_t i = 0; i < mw->nlisteners; i++) {
		struct mbox_listener *l = &mw->listeners[i];

		if (l->listener != NULL)
			evconnlistener_free(l->listener);
		else if (l->fd >= 0)
			close(l->fd);
		l->listener = NULL;
		l->fd = -1;
	}
}

void
mbox_worker_drain(struct mbox_worker *mw)
{
	struct mbox_session *s, *next;

	if (mw == NULL)
		return;
	mw->draining = true;
	mbox_worker_close_listeners(mw);
	for (s = mw->sessions; s != NULL; s = next) {
		next = s->next;
		switch (s->state) {
		case MBOX_CMD:
		case MBOX_LITERAL:
		case MBOX_SASL:
			s->ops->bye(s, "Server shutting down.");
			mbox_close_after_reply(s);
			break;
		case MBOX_CLOSING:
			break;
		default:
			/* Mid-login, in TLS or relaying: a reply could
			 * land inside the backend's data. */
			mbox_session_close(s, "server shutting down");
			break;
		}
	}
}

void
mbox_worker_free(struct mbox_worker **mw_p)
{
	struct mbox_worker *mw = *mw_p;

	if (mw == NULL)
		return;
	*mw_p = NULL;
	mbox_worker_close_listeners(mw);
	while (mw->sessions != NULL)
		mbox_session_close(mw->sessions, "server stopped");
	free(mw->listeners);
	free(mw);
}
