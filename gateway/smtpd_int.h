/*
 * smtpd_int.h - what the files of the SMTP session share: the session
 * and transaction structs (OpenSMTPD's split: a session lives from
 * accept to close, a transaction from MAIL to the end of data or RSET).
 * Only smtpd*.c include this.
 */
#ifndef GATEWAY_SMTPD_INT_H
#define GATEWAY_SMTPD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "buf.h"
#include "filter.h"
#include "mime.h"
#include "net.h"
#include "relay.h"
#include "server.h"
#include "smtp_cmd.h"
#include "smtp_data.h"
#include "smtpd.h"

#define SMTPD_HELO_MAX 255
#define SMTPD_NAME_MAX 255 /* a host name, as XCLIENT NAME gives it */
#define SMTPD_QID_LEN 12
/* 452 replies per session before they count as errors. */
#define SMTPD_RCPT_OVERSHOOT 1000

enum smtpd_state {
	SMTPD_CMD,     /* reading commands */
	SMTPD_DATA,    /* reading DATA content */
	SMTPD_BDAT,    /* reading a BDAT chunk */
	SMTPD_WAIT,    /* the relay or the filter chain has the turn;
			* not reading */
	SMTPD_TLS,     /* STARTTLS handshake in progress */
	SMTPD_CLOSING, /* flushing the last reply, then close */
	SMTPD_PROXY,   /* waiting for the PROXY header; nothing sent */
};

struct smtpd_txn {
	struct pst_arena *arena; /* everything below; reset per transaction */
	char qid[SMTPD_QID_LEN + 1];
	const char *from;
	struct smtp_mail_params mail; /* envid copied onto the arena */
	struct relay_rcpt *rcpts;
	size_t nrcpt, rcpt_cap;
	const struct relay_route *route;
	/* RCPT waiting for the upstream's verdict (verify_recipients) */
	struct relay_rcpt pending;
	const struct relay_route *pending_route;
	/* message content */
	bool in_data; /* DATA or the first BDAT seen */
	bool failed;  /* BDAT chunk refused: the rest is discarded */
	unsigned failed_code;
	const char *failed_text;
	uint64_t bdat_size; /* of the current chunk, as the client said */
	uint64_t bdat_left;
	bool bdat_last;
	bool too_big;
	struct smtp_data decoder;
	struct pst_spool *spool; /* owned by the session, reused */
	/* Everything written to the spool also goes through the MIME
	 * parser (on the transaction arena), so the part tree is ready at
	 * the end of data, with offsets into the spool. */
	struct mime_parser *mime;
	struct mime_part *mime_root;
	/* what the filter chain decided before the end of data */
	bool discard;
	const char *quarantine;			     /* reason, or NULL */
	const char *quarantine_by, *quarantine_text; /* filter, verdict */
	/* the message as it leaves, when filters edited it */
	struct pst_spool *edited;
};

struct smtpd_session {
	struct worker *worker;
	struct smtpd_session *prev, *next; /* worker->sessions */
	struct bufferevent *bev;
	/* The client: the TCP peer, or who a PROXY header or XCLIENT
	 * presented (smtpd_xclient.c).  addr is its text ("unknown" for
	 * XCLIENT ADDR=[UNAVAILABLE]); name is "unknown" or XCLIENT's
	 * NAME, then in name_buf (heap, freed with the session). */
	struct pst_sockaddr peer;
	char addr[PST_NET_ADDRSTRLEN];
	const char *name;
	char *name_buf;
	char *login; /* XCLIENT LOGIN (heap), or NULL: not authenticated */
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} counted;		 /* the address limits_enter() counted */
	bool xclient_ok;	 /* may send XCLIENT (smtp.xclient_hosts) */
	uint64_t proxy_deadline; /* SMTPD_PROXY: monotonic ms */
	char session_id[17];
	enum smtpd_state state;
	bool esmtp;
	bool helo_seen;
	bool tls;
	bool skipping_line; /* discarding the rest of an over-long line */
	bool draining;	    /* server shutting down: close after this txn */
	bool gone;	    /* client went away while the relay works */
	unsigned errors;
	unsigned overshoot; /* 452 replies so far */
	char helo[SMTPD_HELO_MAX + 1];
	char tls_info[128];
	struct smtpd_txn txn;
	bool has_txn;
	struct pst_buf line;	/* reply being built */
	struct pst_buf content; /* decoded DATA bytes on their way to spool */
	struct pst_spool *spool;
	unsigned verb_count[SMTP_VERB__COUNT];
	unsigned verb_ok[SMTP_VERB__COUNT];
	enum smtp_verb verb; /* of the command being answered */
	/* the filter chain's view of this session (smtpd_filter.c) */
	struct filter_ctx *fctx;
	void (*filter_next)(struct smtpd_session *s,
			    const struct filter_outcome *out);
	bool discard_all;	    /* DISCARD at connect/helo */
	char quarantine_all[65];    /* QUARANTINE at connect/helo: reason */
	char quarantine_all_by[64]; /* and the filter that said so */
};

static inline const struct postern_settings *
smtpd_settings(const struct smtpd_session *s)
{
	return s->worker->server->settings;
}

/* smtpd.c */
void smtpd_reply(struct smtpd_session *s, unsigned code, const char *enhanced,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void smtpd_close_after_reply(struct smtpd_session *s);
void smtpd_set_timeout(struct smtpd_session *s, uint64_t ms);
void smtpd_process_input(struct smtpd_session *s);
int smtpd_starttls(struct smtpd_session *s);
void smtpd_txn_end(struct smtpd_session *s);
/* Close now, without a reply (s is freed unless the relay holds it). */
void smtpd_session_close(struct smtpd_session *s);
/* The session proper, once the client is known: log the connect (via:
 * "proxy 10.0.0.1" or NULL), run the filters' connect stage, greet. */
void smtpd_session_begin(struct smtpd_session *s, const char *via);
/* The connect stage's outcome: greet, or refuse and close. */
void smtpd_connect_filtered(struct smtpd_session *s,
			    const struct filter_outcome *out);

/* smtpd_cmd.c */
void smtpd_cmd_dispatch(struct smtpd_session *s, const char *line, size_t len);
/* Reply with an error and log it the way Postfix does. */
void smtpd_reject(struct smtpd_session *s, const char *verb, unsigned code,
		  const char *enhanced, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void smtpd_greet(struct smtpd_session *s);
/* Is the client in smtp.trusted_networks? */
bool smtpd_client_trusted(const struct smtpd_session *s);

/* smtpd_cmd.c: the envelope as the relay wants it; client is filled too
 * and must outlive msg. */
void smtpd_relay_msg(struct smtpd_session *s, struct relay_msg *msg,
		     struct relay_client *client);

/* smtpd.c: a relay callback has come back to s.  false: the client had
 * gone and s is freed now; true: s is back in SMTPD_CMD. */
bool smtpd_relay_returned(struct smtpd_session *s);

/* smtpd_filter.c: the session's side of the filter chain. */
typedef void smtpd_filter_next_fn(struct smtpd_session *s,
				  const struct filter_outcome *out);
/* A ctx for the new session; -1 when out of memory. */
int smtpd_filter_open(struct smtpd_session *s);
void smtpd_filter_close(struct smtpd_session *s);
/* Run stage (arg: HELO name, recipient, or NULL) and call next(s, out)
 * with the outcome: at once, or later from the loop with the session in
 * SMTPD_WAIT and reading paused meanwhile (reading resumes after next). */
void smtpd_filter_run(struct smtpd_session *s, enum filter_stage stage,
		      const char *arg, smtpd_filter_next_fn *next);
/* Reply for a REJECT or TEMPFAIL outcome (logged as a reject of verb)
 * and return true; note DISCARD and QUARANTINE for the end of data and
 * return false; false for the rest. */
bool smtpd_filter_refused(struct smtpd_session *s, const char *verb,
			  enum filter_stage stage,
			  const struct filter_outcome *out);

/* smtpd_xclient.c: the PROXY header and XCLIENT. */
/* Is the peer in smtp.proxy_protocol_hosts?  Then the session waits in
 * SMTPD_PROXY for the header (true); false: carry on. */
bool smtpd_xclient_proxy_start(struct smtpd_session *s);
/* Read the header in SMTPD_PROXY.  -1: the session was closed (freed);
 * 0: still waiting, or the session has begun. */
int smtpd_xclient_proxy_read(struct smtpd_session *s);
/* Log why the header never came (a bufferevent event); the caller
 * closes. */
void smtpd_xclient_proxy_event(struct smtpd_session *s, short what);
/* The XCLIENT command. */
void smtpd_xclient(struct smtpd_session *s, const struct smtp_cmd *cmd);

/* smtpd_quarantine.c: store the message (spool, as it would have been
 * relayed) under reason and answer the client once it is on disk. */
void smtpd_quarantine(struct smtpd_session *s, struct pst_spool *spool,
		      const char *reason, const char *filter, const char *text);

/* smtpd_data.c */
int smtpd_data_begin(struct smtpd_session *s, bool bdat);
void smtpd_data_read(struct smtpd_session *s);
void smtpd_bdat_chunk(struct smtpd_session *s, uint64_t size, bool last);

#endif
