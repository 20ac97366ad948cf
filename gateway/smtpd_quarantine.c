/*
 * smtpd_quarantine.c - a message the chain held back goes to the
 * quarantine store instead of the relay.  The store writes and fsyncs
 * (a worker thread does it); the client hears the configured reply only
 * once the message is on disk, so nothing is lost.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "quarantine.h"
#include "smtpd_int.h"
#include "workq.h"

struct smtpd_hold {
	struct smtpd_session *s;
	struct quarantine_entry entry;
	struct filter_rcpt *rcpts;
	struct pst_spool *spool;
	char filter[128];
	char text[400];
	char errbuf[256];
	char id[QUARANTINE_ID_MAX];
	const char *error;
	int rc;
};

static void
smtpd_hold_work(void *arg)
{
	struct smtpd_hold *h = arg;
	const char *dir = smtpd_settings(h->s)->filters.quarantine_dir;

	h->rc = quarantine_store(dir, &h->entry, h->spool, h->id, &h->error);
	if (h->rc < 0) {
		/* The error text is the worker thread's: copy it. */
		snprintf(h->errbuf, sizeof(h->errbuf), "%s", h->error);
		h->error = h->errbuf;
	}
}

/* The configured reply ("250 2.0.0 text" by default): the client is
 * not told that the message was held. */
static void
smtpd_hold_reply(struct smtpd_session *s)
{
	const struct filter_conf *fc = &smtpd_settings(s)->filters;
	const char *text = fc->quarantine_text;
	char enhanced[16];
	size_t n;

	if (fc->quarantine_code == 0 || text == NULL) {
		smtpd_reply(s, 250, "2.0.0", "Ok: queued as %s", s->txn.qid);
		return;
	}
	n = strcspn(text, " ");
	snprintf(enhanced, sizeof(enhanced), "%.*s", (int)n, text);
	smtpd_reply(s, fc->quarantine_code, enhanced, "%s",
		    text[n] ? text + n + 1 : "");
}

static void
smtpd_hold_done(void *arg)
{
	struct smtpd_hold *h = arg;
	struct smtpd_session *s = h->s;
	int rc = h->rc;

	if (rc < 0)
		pst_log(PST_LOG_ERR, "smtpd", "%s: quarantine: %s", s->txn.qid,
			h->error);
	else
		pst_log(PST_LOG_INFO, "smtpd",
			"%s: quarantined as %s, reason=%s", s->txn.qid, h->id,
			h->entry.reason);
	free(h);
	if (!smtpd_relay_returned(s))
		return;
	if (rc < 0)
		smtpd_reply(s, 451, "4.3.0", "Error: cannot queue the message");
	else
		smtpd_hold_reply(s);
	smtpd_txn_end(s);
	if (s->state != SMTPD_CMD)
		return; /* draining: closing after the reply */
	smtpd_set_timeout(s, smtpd_settings(s)->smtp.command_timeout);
	bufferevent_enable(s->bev, EV_READ);
	smtpd_process_input(s);
}

void
smtpd_quarantine(struct smtpd_session *s, struct pst_spool *spool,
		 const char *reason, const char *filter, const char *text)
{
	struct smtpd_txn *t = &s->txn;
	struct smtpd_hold *h = calloc(1, sizeof(*h));
	struct quarantine_entry *e;

	if (h == NULL ||
	    (h->rcpts = pst_arena_calloc(t->arena, t->nrcpt,
					 sizeof(*h->rcpts))) == NULL) {
		free(h);
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		smtpd_txn_end(s);
		return;
	}
	for (size_t i = 0; i < t->nrcpt; i++) {
		h->rcpts[i].addr = t->rcpts[i].addr;
		h->rcpts[i].orcpt = t->rcpts[i].orcpt;
		h->rcpts[i].notify = t->rcpts[i].notify;
	}
	h->s = s;
	h->spool = spool;
	snprintf(h->filter, sizeof(h->filter), "%s", filter ? filter : "");
	snprintf(h->text, sizeof(h->text), "%s", text ? text : "");
	e = &h->entry;
	e->qid = t->qid;
	e->client_addr = s->addr;
	e->client_port = pst_net_port(&s->peer.u.sa);
	e->client_name = s->name;
	e->helo = s->helo;
	e->proto = s->esmtp ? "ESMTP" : "SMTP";
	e->tls = s->tls;
	e->from = t->from;
	e->rcpts = h->rcpts;
	e->nrcpt = t->nrcpt;
	e->body = t->mail.body;
	e->smtputf8 = t->mail.smtputf8;
	e->ret = t->mail.ret;
	e->envid = t->mail.envid.len ? t->mail.envid.p : NULL;
	e->reason = reason;
	e->filter = h->filter[0] ? h->filter : NULL;
	e->text = h->text[0] ? h->text : NULL;
	s->state = SMTPD_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	if (pst_workq_submit(s->worker->server->workq, s->worker->base,
			     smtpd_hold_work, smtpd_hold_done, h) < 0) {
		free(h);
		s->state = SMTPD_CMD;
		bufferevent_enable(s->bev, EV_READ);
		smtpd_reply(s, 451, "4.3.0", "Error: cannot queue the message");
		smtpd_txn_end(s);
	}
}
