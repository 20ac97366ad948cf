/*
 * milter_int.h - what milter_cb.c (the stages) and milter_eom.c (the
 * end of the message) share: one MTA connection's state and the calls
 * that run a stage of the chain on it.  Not thread-safe: a connection
 * belongs to the thread libmilter gives it.
 */
#ifndef GATEWAY_MILTER_INT_H
#define GATEWAY_MILTER_INT_H

#include <netinet/in.h>
#include <stdbool.h>

#include <event2/event.h>
#include <libmilter/mfapi.h>

#include "arena.h"
#include "milter.h"
#include "settings.h"

#define MILTER_STR 256
#define MILTER_QID 32
#define MILTER_REASON 65
/* How long close waits on its thread for ctxs to free themselves
 * before a thread of their own takes over (ms). */
#define MILTER_DRAIN_MS 1000

struct milter_txn {
	bool open;
	char qid[MILTER_QID];	  /* what filters and logs see */
	char mta_qid[MILTER_QID]; /* {i}, once the MTA has one */
	const char *from;	  /* on the txn arena */
	struct filter_rcpt *rcpts;
	size_t nrcpt, cap;
	struct mime_parser *mime; /* from the first header on */
	bool data;		  /* header or body seen */
	bool failed;		  /* spool or parser error: tempfail */
	bool discard;
	char quarantine[MILTER_REASON];
};

struct milter_conn {
	struct event_base *base;
	struct filter_ctx *fctx;
	struct pst_arena *txa; /* transaction: envelope copies */
	struct pst_spool *spool;
	bool leadspc; /* SMFIP_HDR_LEADSPC negotiated */
	bool nr_hdr;  /* SMFIP_NR_HDR: header callbacks answer nothing */
	bool nr_body; /* SMFIP_NR_BODY */
	/* Postfix puts its own Received: field on top of the message but
	 * does not send it to milters, while header positions count it:
	 * a stand-in takes its place in our copy (as posternd's own
	 * Received: heads what its filters see). */
	bool hidden_received;
	bool connected;
	char addr[INET6_ADDRSTRLEN];
	unsigned port;
	char name[MILTER_STR];
	char session_id[20];
	char helo[MILTER_STR];
	bool helo_seen;
	char tls[MILTER_STR];
	bool has_tls;
	char auth[MILTER_STR];
	char daemon[64];
	char mta[MILTER_STR]; /* j: the MTA's host name */
	bool trusted_net;
	/* said at connect or helo, for every transaction */
	bool discard_all;
	bool refused; /* connect or helo refused: nothing more is asked */
	char quarantine_all[MILTER_REASON];
	unsigned orphans;
	/* a stage being waited for */
	bool waiting;
	struct filter_outcome out;
	char out_quarantine[MILTER_REASON];
	struct milter_txn tx;
	struct pst_buf scratch;
};

static inline const struct postern_settings *
milter_settings(void)
{
	return milter_server.settings;
}

/* The queue id for log lines: the MTA's ({i}) once known. */
static inline const char *
milter_log_qid(const struct milter_conn *c)
{
	if (!c->tx.open)
		return "NOQUEUE";
	return c->tx.mta_qid[0] != '\0' ? c->tx.mta_qid : c->tx.qid;
}

/* ---- milter_cb.c ---- */

/* The outcome of a filter failure (tempfail, 451 4.3.0). */
void milter_fail_outcome(struct filter_outcome *out);
/* Run stage (arg: the HELO name, or NULL) on c's ctx and wait for its
 * outcome. */
void milter_run(struct milter_conn *c, enum filter_stage stage, const char *arg,
		struct filter_outcome *out);
/* The outcome as libmilter's answer (reply text set, logged). */
sfsistat milter_answer(SMFICTX *ctx, struct milter_conn *c,
		       enum filter_stage stage, const char *verb,
		       const struct filter_outcome *out);
/* The transaction is over (end of message, abort, a new MAIL). */
void milter_txn_end(struct milter_conn *c);
/* Take the MTA's queue id ({i}) once it has one. */
void milter_note_qid(SMFICTX *ctx, struct milter_conn *c);
/* Message bytes to the spool and the MIME parser. */
void milter_feed(struct milter_conn *c, const void *data, size_t len);

/* ---- milter_eom.c ---- */

sfsistat milter_eom(SMFICTX *ctx);

#endif
