/*
 * smtp_client.h - one connection to an SMTP or LMTP upstream, driven on
 * the caller's event_base (libevent bufferevents, OpenSSL for STARTTLS
 * and implicit TLS).
 *
 * smtp_client_open() connects and greets: greeting, EHLO (HELO when EHLO
 * is refused) or LHLO, STARTTLS as the TLS mode says, XCLIENT when
 * offered and wanted (the upstream then greets again and hears EHLO
 * again).  smtp_client_run() then runs one transaction on a ready
 * connection: [RSET] [XFORWARD] MAIL, RCPT..., DATA with the dot-stuffed
 * message from a spool, or BDAT, pipelined when the upstream offers
 * PIPELINING; or a recipient probe (MAIL, RCPT, RSET).  Between
 * operations a connection can wait in a pool (smtp_client_idle).
 *
 * The callback of an operation never runs inside the call that started
 * it: it runs from the loop, on base's thread, once.  A client belongs
 * to one event_base and one owner at a time; nothing here is shared
 * between threads.  The configuration passed in must outlive the client.
 */
#ifndef RELAY_SMTP_CLIENT_H
#define RELAY_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "net.h"
#include "relay.h"
#include "smtp_wire.h"

struct event_base;
struct pst_spool;
struct smtp_client;

/* How to reach and talk to one address of an upstream. */
struct smtp_client_conf {
	struct pst_sockaddr addr; /* TCP address or AF_UNIX socket */
	const char *peer;	  /* "host[192.0.2.1]:25", for texts */
	bool lmtp;		  /* LHLO, replies per recipient */
	bool implicit_tls;	  /* smtps: TLS before the greeting */
	enum relay_tls tls;	  /* STARTTLS policy (not for unix) */
	SSL_CTX *ssl_ctx;	  /* for TLS of any kind */
	const char *tls_name;	  /* verify: expected name; also SNI */
	const char *helo;	  /* our name in EHLO/LHLO/HELO */
	uint64_t connect_ms, command_ms, data_ms;
	bool xclient; /* XCLIENT or XFORWARD when offered */
};

enum smtp_client_status {
	SMTP_CLIENT_OK,
	SMTP_CLIENT_REFUSED, /* the upstream answered no (reply is set) */
	SMTP_CLIENT_FAILED,  /* connection, TLS, timeout, protocol error */
};

/*
 * Called when an operation ends.  For open: status OK (ready), REFUSED
 * (greeting or EHLO/HELO refused: reply), or FAILED (text says why, in
 * Postfix's words: "connect to X: Connection refused").  For idle: the
 * connection closed or misbehaved while idle (always FAILED).  For run:
 * see struct smtp_client_tx (status is OK unless FAILED).
 */
typedef void smtp_client_cb(void *arg, struct smtp_client *client,
			    enum smtp_client_status status,
			    const struct smtp_wire_reply *reply,
			    const char *text);

/* Start connecting.  NULL when not even that was possible (out of
 * memory, no socket), with *error_r a static text; else cb follows.
 * who: the client to announce with XCLIENT (NULL: none). */
struct smtp_client *smtp_client_open(struct event_base *base,
				     const struct smtp_client_conf *conf,
				     const struct relay_client *who,
				     smtp_client_cb *cb, void *arg,
				     const char **error_r);

/* Close and free (*client_p = NULL); quit: say QUIT first when the
 * connection is idle and healthy (best effort, never waits).  Any
 * pending callback is cancelled. */
void smtp_client_close(struct smtp_client **client_p, bool quit);

/* One transaction or probe.  The caller fills the inputs, keeps the
 * struct (and what it points to) alive until the callback, and reads
 * the outputs there. */
struct smtp_client_tx {
	/* inputs */
	const char *qid; /* for XFORWARD IDENT */
	const char *from;
	const struct relay_rcpt *rcpts;
	size_t nrcpt;
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	const char *envid;
	const struct relay_client *who; /* NULL: no XCLIENT/XFORWARD */
	struct pst_spool *spool;	/* NULL: a probe (MAIL, RCPT, RSET) */
	bool reset;			/* RSET first (a reused connection) */
	/* outputs; a reply with code 0 was never received */
	struct smtp_wire_reply mail;
	struct smtp_wire_reply *rcpt;  /* nrcpt entries (caller's) */
	struct smtp_wire_reply data;   /* DATA's 354 or refusal */
	struct smtp_wire_reply *final; /* SMTP: [0]; LMTP: per recipient
					* (caller's, nrcpt entries) */
	unsigned refusal;	       /* 550 (8BITMIME) or 553 (SMTPUTF8)
					* missing: nothing was sent */
	bool failed;		       /* connection lost, timeout or
					* protocol error: see fail_text */
	bool stale;		       /* failed before the upstream heard
					* of the transaction on a reused
					* connection: try a fresh one */
	bool mail_accepted;	       /* MAIL was answered 2xx */
	bool data_sent;		       /* end of data (or BDAT LAST) sent */
	bool abandoned;		       /* not every recipient was accepted,
					* the message was not sent */
	char fail_text[256];
};

/* Run tx on a ready connection (after open's OK or taken from idle).
 * 0, or -1 (not ready / out of memory) without a callback. */
int smtp_client_run(struct smtp_client *client, struct smtp_client_tx *tx,
		    smtp_client_cb *cb, void *arg);

/* Can the connection take another transaction (after run's callback)? */
bool smtp_client_reusable(const struct smtp_client *client);

/* Park a ready connection: cb (FAILED) when the upstream closes it or
 * sends anything, or after idle_ms; the owner then closes it.  Taking it
 * back: smtp_client_run (which ends the idle watch). */
void smtp_client_idle(struct smtp_client *client, uint64_t idle_ms,
		      smtp_client_cb *cb, void *arg);

/* The peer text of the connection ("host[ip]:port"). */
const char *smtp_client_peer(const struct smtp_client *client);
/* Did the connection fail in its TLS handshake?  (An opportunistic
 * owner may then try again without STARTTLS.) */
bool smtp_client_tls_failed(const struct smtp_client *client);
/* The EHLO keywords the upstream offered (for tests and logs). */
const struct smtp_wire_ehlo *smtp_client_ehlo(const struct smtp_client *client);

#endif
