/*
 * mbox.h - the IMAP and POP3 pass-through as the server sees it:
 * listeners on each worker, next to SMTP's, and their sessions.
 *
 * mbox_server_new/free run on the main thread; the worker calls run on
 * the worker's loop (bind: main thread, before the loops start).
 */
#ifndef GATEWAY_MBOX_H
#define GATEWAY_MBOX_H

#include <stdbool.h>

struct mailbox_settings;
struct mbox_server;
struct mbox_worker;
struct worker;

/* NULL when neither imap {} nor pop3 {} is configured, or out of
 * memory (then *error_r is set). */
struct mbox_server *mbox_server_new(const struct mailbox_settings *conf,
				    const char **error_r);
void mbox_server_free(struct mbox_server **server_p);

/* Bind this worker's listening sockets (SO_REUSEPORT, like SMTP's).
 * 0, or -1 with *error_r. */
int mbox_worker_bind(struct mbox_server *server, struct worker *w,
		     struct mbox_worker **mw_r, const char **error_r);
/* Start accepting on the worker's loop.  0 or -1. */
int mbox_worker_listen(struct mbox_worker *mw, const char **error_r);
/* Stop accepting (shutdown). */
void mbox_worker_close_listeners(struct mbox_worker *mw);
/* Shutdown: say BYE to every session and close it. */
void mbox_worker_drain(struct mbox_worker *mw);
void mbox_worker_free(struct mbox_worker **mw_p);

#endif
