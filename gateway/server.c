/*
 * server.c - worker threads, their event loops and listening sockets,
 * and orderly shutdown (see server.h).
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "conn_limits.h"
#include "log.h"
#include "mbox.h"
#include "net.h"
#include "relay.h"
#include "server.h"
#include "smtpd.h"

#define LISTEN_BACKLOG 511
#define ACCEPT_PAUSE_MS 100

int
server_bind(struct server *server, const char **error_r)
{
	const struct smtpd_settings *smtp = &server->settings->smtp;
	unsigned n = (unsigned)server->settings->threads;
	const struct mailbox_settings *mbox;

	if (n == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		n = cores > 0 ? (unsigned)cores : 1;
	}
	server->workers = calloc(n, sizeof(*server->workers));
	if (server->workers == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	server->nworkers = n;
	mbox = &server->settings->mailbox;
	server->mbox = mbox_server_new(mbox, error_r);
	if (server->mbox == NULL &&
	    (mbox->imap.configured || mbox->pop3.configured))
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &server->workers[i];

		w->server = server;
		w->index = i;
		w->base = event_base_new();
		w->listen_fds = calloc(smtp->nlisten, sizeof(int));
		w->listeners = calloc(smtp->nlisten, sizeof(*w->listeners));
		if (w->base == NULL || w->listen_fds == NULL ||
		    w->listeners == NULL) {
			*error_r = "out of memory";
			return -1;
		}
		for (size_t j = 0; j < smtp->nlisten; j++)
			w->listen_fds[j] = -1;
		for (size_t j = 0; j < smtp->nlisten; j++) {
			static char msg[300];
			const char *err = "unknown error";
			char where[PST_NET_ADDRSTRLEN + 8];

			w->listen_fds[j] = pst_net_listen(
				&smtp->listen_addrs[j], LISTEN_BACKLOG, &err);
			if (w->listen_fds[j] < 0) {
				pst_net_hostport_str(
					&smtp->listen_addrs[j].u.sa, where,
					sizeof(where));
				snprintf(msg, sizeof(msg),
					 "cannot listen on %s: %s", where, err);
				*error_r = msg;
				return -1;
			}
		}
		if (server->mbox != NULL &&
		    mbox_worker_bind(server->mbox, w, &w->mbox, error_r) < 0)
			return -1;
	}
	return 0;
}

static void
server_refuse(evutil_socket_t fd, const char *reply)
{
	/* Best effort on a fresh socket: the reply fits the send buffer. */
	ssize_t rc =
		send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)rc;
	evutil_closesocket(fd);
}

static void
server_accept(struct evconnlistener *listener, evutil_socket_t fd,
	      struct sockaddr *sa, int len, void *arg)
{
	struct worker *w = arg;
	const char *host = w->server->settings->hostname;
	char addr[PST_NET_ADDRSTRLEN], reply[512];

	(void)listener;
	switch (limits_enter(w->server->limits, sa)) {
	case LIMITS_OK:
		smtpd_session_start(w, fd, sa, (socklen_t)len);
		return;
	case LIMITS_TOO_MANY_TOTAL:
		pst_log(PST_LOG_WARNING, "smtpd",
			"warning: connection limit reached, refusing %s",
			pst_net_addr_str(sa, addr, sizeof(addr)));
		snprintf(reply, sizeof(reply),
			 "421 4.7.0 %s Error: too many connections\r\n", host);
		break;
	case LIMITS_TOO_MANY_FROM_IP:
		pst_net_addr_str(sa, addr, sizeof(addr));
		pst_log(PST_LOG_WARNING, "smtpd",
			"warning: too many connections from %s", addr);
		snprintf(reply, sizeof(reply),
			 "421 4.7.0 %s Error: too many connections from %s\r\n",
			 host, addr);
		break;
	}
	server_refuse(fd, reply);
}

static void
server_resume_accept(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

/* EMFILE and friends: pause this listener briefly rather than spin. */
static void
server_accept_error(struct evconnlistener *listener, void *arg)
{
	struct worker *w = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

	pst_log(PST_LOG_WARNING, "smtpd", "warning: accept: %s",
		evutil_socket_error_to_string(err));
	evconnlistener_disable(listener);
	event_base_once(w->base, -1, EV_TIMEOUT, server_resume_accept, listener,
			&tv);
}

static void
server_close_listeners(struct worker *w)
{
	size_t n = w->server->settings->smtp.nlisten;

	for (size_t j = 0; j < n; j++) {
		if (w->listeners[j] != NULL)
			evconnlistener_free(w->listeners[j]);
		else if (w->listen_fds[j] >= 0)
			close(w->listen_fds[j]);
		w->listeners[j] = NULL;
		w->listen_fds[j] = -1;
	}
	mbox_worker_close_listeners(w->mbox);
}

static void
server_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct smtpd_session *s, *next;

	(void)fd;
	(void)what;
	for (s = w->sessions; s != NULL; s = next) {
		next = smtpd_session_next(s);
		smtpd_session_abort(s);
	}
	event_base_loopexit(w->base, NULL);
}

static void
server_worker_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	const struct smtpd_settings *smtp = &w->server->settings->smtp;
	struct timeval tv = { (time_t)(smtp->shutdown_timeout / 1000),
			      (suseconds_t)(smtp->shutdown_timeout % 1000) *
				      1000 };
	struct smtpd_session *s, *next;

	(void)fd;
	(void)what;
	if (w->draining)
		return;
	w->draining = true;
	server_close_listeners(w);
	w->deadline = evtimer_new(w->base, server_deadline, w);
	if (w->deadline != NULL)
		evtimer_add(w->deadline, &tv);
	for (s = w->sessions; s != NULL; s = next) {
		next = smtpd_session_next(s);
		smtpd_session_drain(s);
	}
	mbox_worker_drain(w->mbox);
	if (w->nsessions == 0)
		event_base_loopexit(w->base, NULL);
}

void
server_worker_idle(struct worker *w)
{
	if (w->draining && w->nsessions == 0)
		event_base_loopexit(w->base, NULL);
}

static void *
server_worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int
server_start(struct server *server, const char **error_r)
{
	size_t nlisten = server->settings->smtp.nlisten;

	for (unsigned i = 0; i < server->nworkers; i++) {
		struct worker *w = &server->workers[i];

		w->stop_event =
			event_new(w->base, -1, 0, server_worker_stop, w);
		if (w->stop_event == NULL) {
			*error_r = "out of memory";
			return -1;
		}
		for (size_t j = 0; j < nlisten; j++) {
			w->listeners[j] = evconnlistener_new(
				w->base, server_accept, w,
				LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				0, w->listen_fds[j]);
			if (w->listeners[j] == NULL) {
				*error_r = "cannot create listener";
				return -1;
			}
			evconnlistener_set_error_cb(w->listeners[j],
						    server_accept_error);
		}
		if (w->mbox != NULL && mbox_worker_listen(w->mbox, error_r) < 0)
			return -1;
	}
	for (unsigned i = 0; i < server->nworkers; i++) {
		struct worker *w = &server->workers[i];

		if (pthread_create(&w->thread, NULL, server_worker_main, w)) {
			*error_r = "cannot start worker thread";
			return -1;
		}
		server->nstarted++;
	}
	return 0;
}

void
server_stop(struct server *server)
{
	for (unsigned i = 0; i < server->nstarted; i++)
		event_active(server->workers[i].stop_event, EV_READ, 1);
	for (unsigned i = 0; i < server->nstarted; i++)
		pthread_join(server->workers[i].thread, NULL);
	server->nstarted = 0;
}

void
server_free(struct server *server)
{
	for (unsigned i = 0; server->workers && i < server->nworkers; i++) {
		struct worker *w = &server->workers[i];

		if (w->listeners != NULL)
			server_close_listeners(w);
		mbox_worker_free(&w->mbox);
		if (w->stop_event != NULL)
			event_free(w->stop_event);
		if (w->deadline != NULL)
			event_free(w->deadline);
		if (w->base != NULL) {
			/* Pooled upstream connections live on this base. */
			if (server->relay != NULL)
				relay_base_free(server->relay, w->base);
			/* Filter contexts still waiting for a stuck call. */
			filter_base_free(server->settings->chain, w->base);
			event_base_free(w->base);
		}
		free(w->listeners);
		free(w->listen_fds);
	}
	free(server->workers);
	server->workers = NULL;
	mbox_server_free(&server->mbox);
}
