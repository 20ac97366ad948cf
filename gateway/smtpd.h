/*
 * smtpd.h - the SMTP server session, as seen by the event loop owner.
 * A session lives on one worker's loop and is only touched from it.
 */
#ifndef GATEWAY_SMTPD_H
#define GATEWAY_SMTPD_H

#include <event2/util.h>
#include <sys/socket.h>

struct worker;

/* Take over an accepted connection (already counted in the limits). */
void smtpd_session_start(struct worker *worker, evutil_socket_t fd,
			 const struct sockaddr *peer, socklen_t peer_len);

/* The loop is shutting down: idle sessions get 421 and close now; a
 * session inside a transaction closes once it completes. */
void smtpd_session_drain(struct smtpd_session *session);
/* Shutdown deadline passed: close whatever is left. */
void smtpd_session_abort(struct smtpd_session *session);

struct smtpd_session *smtpd_session_next(struct smtpd_session *session);

#endif
