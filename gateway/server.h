/*
 * server.h - posternd's event loops: one worker thread per core, each
 * with its own event_base and its own SO_REUSEPORT listening sockets, so
 * the kernel spreads connections and loops never share a session.
 *
 * The main thread binds every socket (as root, before privileges are
 * dropped), starts the workers, then waits for signals; shutdown is
 * posted to each loop with event_active(), which is thread-safe once
 * evthread_use_pthreads() has run.
 */
#ifndef GATEWAY_SERVER_H
#define GATEWAY_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "settings.h"

struct event;
struct event_base;
struct evconnlistener;
struct limits;
struct mbox_server;
struct mbox_worker;
struct pst_workq;
struct relay;
struct smtpd_session;

struct worker {
	struct server *server;
	unsigned index;
	pthread_t thread;
	struct event_base *base;
	int *listen_fds; /* one per smtp.listen address; -1 once closed */
	struct evconnlistener **listeners;
	struct event *stop_event;	/* posted by the main thread */
	struct event *deadline;		/* shutdown_timeout after stop */
	struct smtpd_session *sessions; /* doubly linked, for shutdown */
	unsigned nsessions;		/* SMTP, IMAP and POP3 sessions */
	struct mbox_worker *mbox;	/* IMAP/POP3 listeners, or NULL */
	bool draining;
};

struct server {
	const struct postern_settings *settings;
	struct relay *relay;
	struct pst_workq *workq;	/* maildir deliveries, quarantine */
	struct pst_workq *filter_workq; /* filter calls */
	struct limits *limits;
	struct mbox_server *mbox; /* IMAP/POP3, NULL when not configured */
	struct worker *workers;
	unsigned nworkers;
	unsigned nstarted; /* threads running */
};

/* Create the workers' event bases and bind every listening socket.
 * 0, or -1 with *error_r (static or errno text). */
int server_bind(struct server *server, const char **error_r);
/* Start the worker threads.  0 or -1. */
int server_start(struct server *server, const char **error_r);
/* Ask every loop to stop accepting and finish its sessions (bounded by
 * smtp.shutdown_timeout), then join the threads. */
void server_stop(struct server *server);
void server_free(struct server *server);

/* Called by a worker when it has no sessions left while draining. */
void server_worker_idle(struct worker *worker);

#endif
