/*
 * mbox_int.h - what the files of the IMAP/POP3 pass-through share: the
 * session struct, the per-protocol operations, and the internal calls
 * between the session (mbox_session.c), the protocols (mbox_imap.c,
 * mbox_pop3.c), the backend leg (mbox_backend.c), the login outcome
 * (mbox_login.c) and the relay (mbox_relay.c).  Only mbox_*.c include
 * this.
 *
 * A session belongs to one worker's event loop and is only touched from
 * it.  Before login it owns the client bufferevent and, while logging
 * in, the backend one; after login both belong to the relay.
 */
#ifndef GATEWAY_MBOX_INT_H
#define GATEWAY_MBOX_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "buf.h"
#include "mbox.h"
#include "mbox_guard.h"
#include "mbox_settings.h"
#include "net.h"
#include "sasl_plain.h"

struct event;
struct evconnlistener;
struct limits;
struct mbox_splice;
struct worker;

/* an IMAP tag (imap_parse.h's IMAP_MAX_TAG) and its NUL */
#define IMAP_TAG_BUF 65

enum mbox_state {
	MBOX_CMD,     /* reading pre-login commands */
	MBOX_LITERAL, /* IMAP: reading a literal's octets */
	MBOX_SASL,    /* waiting for the client's SASL response line */
	MBOX_TLS,     /* client TLS handshake */
	MBOX_LOGIN,   /* the backend leg is logging in; client not read */
	MBOX_DELAY,   /* holding a failure answer (guard delay) */
	MBOX_RELAY,   /* logged in: bytes pass through */
	MBOX_CLOSING, /* flushing the last reply, then close */
};

/* Why a login did not succeed, as the client is told. */
enum mbox_login_result {
	MBOX_LOGIN_OK,
	MBOX_LOGIN_FAILED,	/* wrong credentials (or unknown user) */
	MBOX_LOGIN_UNAVAILABLE, /* backend down, TLS failure, timeout */
	MBOX_LOGIN_LOCKED,	/* the guard says no */
	MBOX_LOGIN_IN_USE,	/* POP3: the mailbox is locked */
};

struct mbox_session;

struct mbox_proto_ops {
	const char *name; /* log component: "imap", "pop3" */
	void (*greet)(struct mbox_session *s);
	/* Handle buffered client input in MBOX_CMD / MBOX_LITERAL /
	 * MBOX_SASL; returns when more input is needed or the state
	 * changed to one that does not read. */
	void (*input)(struct mbox_session *s);
	/* The backend connection is up (and TLS done for implicit). */
	void (*backend_connected)(struct mbox_session *s);
	/* One line from the backend during login (no CRLF). */
	void (*backend_line)(struct mbox_session *s, const char *line,
			     size_t len);
	/* Tell the client the outcome (OK: text after the backend's
	 * status; other results: postern's own text). */
	void (*login_reply)(struct mbox_session *s,
			    enum mbox_login_result result, unsigned retry);
	/* Last words before closing: timeout, shutdown, too many errors. */
	void (*bye)(struct mbox_session *s, const char *text);
};

extern const struct mbox_proto_ops mbox_imap_ops;
extern const struct mbox_proto_ops mbox_pop3_ops;

/* What each worker keeps (mbox_server.c). */
struct mbox_listener {
	struct mbox_worker *mw;
	const struct mbox_proto_settings *conf;
	bool implicit_tls;
	int fd;
	struct evconnlistener *listener;
};

struct mbox_worker {
	struct worker *worker;
	struct mbox_server *server;
	struct mbox_listener *listeners;
	size_t nlisteners;
	struct mbox_session *sessions;
	bool draining;
};

struct mbox_server {
	const struct mailbox_settings *conf;
	struct limits *imap_limits, *pop3_limits;
	struct mbox_guard *guard; /* both protocols' */
};

struct mbox_session {
	struct mbox_worker *mw;
	struct mbox_session *prev, *next;
	const struct mbox_proto_settings *conf;
	const struct mbox_proto_ops *ops;
	struct limits *limits;
	struct mbox_guard *guard;
	struct bufferevent *bev; /* client */
	struct bufferevent *backend;
	struct pst_sockaddr peer;
	char addr[PST_NET_ADDRSTRLEN];
	unsigned port;
	char session_id[17];
	enum mbox_state state;
	bool tls;	  /* client leg under TLS */
	bool backend_tls; /* backend leg under TLS */
	bool skipping;	  /* discarding the rest of an over-long line */
	bool logged_in;	  /* the relay has started */
	unsigned errors;
	unsigned commands;
	char tls_info[128];

	/* IMAP: the command being assembled (lines and literals) */
	struct pst_buf cmd;
	uint64_t literal_left;
	char tag[IMAP_TAG_BUF];
	/* POP3: the name from USER, waiting for PASS */
	char pop3_user[SASL_PLAIN_MAX_FIELD + 1];

	/* the login in progress */
	const char *method; /* "LOGIN", "PLAIN", "USER" */
	char user[SASL_PLAIN_MAX_FIELD + 1];
	char pass[SASL_PLAIN_MAX_FIELD + 1];
	size_t user_len, pass_len;
	const struct mbox_backend *be;
	int bstate;		/* protocol's backend dialogue state */
	struct pst_buf ok_text; /* the backend's success line, for the client */
	struct event *timer;	/* guard delay */
	enum mbox_login_result pending; /* answer held by the delay */
	unsigned pending_retry;

	/* relay */
	uint64_t bytes_in, bytes_out;
	uint64_t login_ms;
	bool splice_pending;	    /* flushing the bufferevents first */
	bool relay_spliced;	    /* the sockets are spliced directly */
	struct mbox_splice *splice; /* mbox_relay.c */
};

/* mbox_session.c */
void mbox_session_start(struct mbox_listener *l, evutil_socket_t fd,
			const struct sockaddr *peer, socklen_t len);
void mbox_write(struct mbox_session *s, const char *data, size_t len);
void mbox_printf(struct mbox_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mbox_close_after_reply(struct mbox_session *s);
void mbox_session_close(struct mbox_session *s, const char *why);
/* Client STARTTLS/STLS: drop pipelined plaintext, start the handshake
 * (the OK must already be written).  0 or -1. */
int mbox_client_starttls(struct mbox_session *s);
/* Plaintext login allowed (TLS, or a trusted network)? */
bool mbox_login_allowed(const struct mbox_session *s);
/* A protocol error: count it, true if the session has too many. */
bool mbox_error(struct mbox_session *s);
void mbox_set_client_timeout(struct mbox_session *s, uint64_t ms);
uint64_t mbox_now_ms(void);
/* Wipe the credentials kept for the login. */
void mbox_forget_credentials(struct mbox_session *s);

/* mbox_login.c: the client gave credentials (s->user, s->pass,
 * s->method set): check the guard, pick the backend, connect. */
void mbox_login_start(struct mbox_session *s);
/* The protocol's backend dialogue ended; text is the backend's answer
 * (OK: what follows the status, passed to the client). */
void mbox_login_done(struct mbox_session *s, enum mbox_login_result result,
		     const char *text, size_t len);

/* mbox_backend.c */
int mbox_backend_connect(struct mbox_session *s);
/* STARTTLS/STLS accepted by the backend: handshake now. */
int mbox_backend_starttls(struct mbox_session *s);
void mbox_backend_write(struct mbox_session *s, const char *data, size_t len);
void mbox_backend_printf(struct mbox_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A credential in base64 and CRLF (a SASL LOGIN answer); the copy is
 * wiped. */
void mbox_backend_write_b64(struct mbox_session *s, const char *p, size_t len);
void mbox_backend_free(struct mbox_session *s);

/* mbox_relay.c: both legs are logged in; pass bytes until one closes. */
void mbox_relay_start(struct mbox_session *s);
/* The spliced relay's pipes and events (before the sockets close). */
void mbox_relay_free(struct mbox_session *s);

#endif
