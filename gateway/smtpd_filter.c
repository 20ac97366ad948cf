/*
 * smtpd_filter.c - the session's side of the filter chain: one
 * filter_ctx per session, running a stage while the session waits, and
 * turning outcomes into SMTP replies.
 *
 * While the chain works on a stage the session is in SMTPD_WAIT with
 * reading paused, exactly as while the relay works: pipelined commands
 * stay in the input buffer and are read once the outcome is in.  When a
 * filter misses its deadline the chain gives the ctx up; the session
 * goes on with a fresh ctx that knows what the old one knew (HELO,
 * sender, accepted recipients) and leaves that filter out.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "arena.h"
#include "log.h"
#include "smtpd_int.h"
#include "postern/filter.h"

static void
smtpd_filter_client(const struct smtpd_session *s, struct filter_client *c)
{
	memset(c, 0, sizeof(*c));
	c->addr = s->addr;
	c->port = pst_net_port(&s->peer.u.sa);
	c->name = s->name;
	c->tls = s->tls ? s->tls_info : NULL;
	c->session_id = s->session_id;
	c->trusted = smtpd_client_trusted(s);
	c->auth_user = s->login;
}

int
smtpd_filter_open(struct smtpd_session *s)
{
	struct server *server = s->worker->server;
	struct filter_client client;

	smtpd_filter_client(s, &client);
	s->fctx = filter_ctx_new(server->settings->chain, s->worker->base,
				 server->filter_workq, &client);
	return s->fctx != NULL ? 0 : -1;
}

void
smtpd_filter_close(struct smtpd_session *s)
{
	filter_ctx_close(&s->fctx);
}

/* The chain lost the ctx to a filter that overstayed: carry on with a
 * new one.  -1 when that fails too (the caller then tempfails). */
static int
smtpd_filter_recover(struct smtpd_session *s, const char *lost_filter)
{
	struct smtpd_txn *t = &s->txn;
	struct filter_rcpt *rcpts = NULL;
	int rc;

	/* The old ctx owns the MIME tree of the current message (on its
	 * transaction arena) and, at end of data, the spool. */
	t->mime = NULL;
	t->mime_root = NULL;
	filter_ctx_close(&s->fctx);
	if (smtpd_filter_open(s) < 0)
		return -1;
	if (s->tls)
		filter_ctx_set_tls(s->fctx, s->tls_info);
	if (s->has_txn && t->nrcpt > 0) {
		rcpts = pst_arena_calloc(t->arena, t->nrcpt, sizeof(*rcpts));
		if (rcpts == NULL)
			return -1;
		for (size_t i = 0; i < t->nrcpt; i++) {
			rcpts[i].addr = t->rcpts[i].addr;
			rcpts[i].orcpt = t->rcpts[i].orcpt;
			rcpts[i].notify = t->rcpts[i].notify;
		}
	}
	rc = filter_ctx_restore(s->fctx, s->helo_seen ? s->helo : NULL,
				s->has_txn ? t->qid : NULL,
				s->has_txn ? t->from : NULL, rcpts,
				s->has_txn ? t->nrcpt : 0, lost_filter);
	return rc;
}

static void
smtpd_filter_done(void *arg, const struct filter_outcome *out)
{
	struct smtpd_session *s = arg;
	smtpd_filter_next_fn *next = s->filter_next;
	unsigned errors;

	s->filter_next = NULL;
	if (out->orphaned && smtpd_filter_recover(s, out->filter) < 0)
		pst_log(PST_LOG_ERR, "smtpd",
			"%s: cannot make a new filter context: out of memory",
			s->has_txn ? s->txn.qid : "NOQUEUE");
	if (!smtpd_relay_returned(s))
		return; /* the client had gone: s is freed */
	bufferevent_enable(s->bev, EV_READ);
	errors = s->errors;
	next(s, out);
	/* The command was counted as answered well when dispatched. */
	if (s->errors != errors && s->verb_ok[s->verb] > 0)
		s->verb_ok[s->verb]--;
	if (s->state == SMTPD_CMD)
		smtpd_process_input(s);
}

void
smtpd_filter_run(struct smtpd_session *s, enum filter_stage stage,
		 const char *arg, smtpd_filter_next_fn *next)
{
	struct filter_outcome out;
	int rc = -1;

	memset(&out, 0, sizeof(out));
	if (s->fctx != NULL)
		rc = filter_ctx_run(s->fctx, stage, arg, &out,
				    smtpd_filter_done, s);
	if (rc == 1) {
		next(s, &out);
		return;
	}
	if (rc < 0) {
		/* No ctx (out of memory at connect or in recovery): fail
		 * safe, never let mail pass unfiltered. */
		out.verdict = PF_TEMPFAIL;
		out.code = 451;
		snprintf(out.enhanced, sizeof(out.enhanced), "4.3.0");
		snprintf(out.text, sizeof(out.text),
			 "Error: filters unavailable, try again later");
		out.failed = true;
		next(s, &out);
		return;
	}
	s->filter_next = next;
	s->state = SMTPD_WAIT;
	bufferevent_disable(s->bev, EV_READ);
}

bool
smtpd_filter_refused(struct smtpd_session *s, const char *verb,
		     enum filter_stage stage, const struct filter_outcome *out)
{
	bool session = stage == FILTER_CONNECT || stage == FILTER_HELO;
	const char *qid = s->has_txn ? s->txn.qid : "NOQUEUE";

	switch (out->verdict) {
	case PF_REJECT:
	case PF_TEMPFAIL:
		smtpd_reject(s, verb, out->code, out->enhanced, "%s",
			     out->text);
		return true;
	case PF_DISCARD:
		pst_log(PST_LOG_INFO, "smtpd",
			"%s: discard: %s from %s[%s]: filter %s", qid, verb,
			s->name, s->addr, out->filter ? out->filter : "?");
		if (session)
			s->discard_all = true;
		else
			s->txn.discard = true;
		return false;
	case PF_QUARANTINE:
		pst_log(PST_LOG_INFO, "smtpd",
			"%s: hold: %s from %s[%s]: filter %s: %s", qid, verb,
			s->name, s->addr, out->filter ? out->filter : "?",
			out->quarantine ? out->quarantine : "");
		if (session) {
			snprintf(s->quarantine_all, sizeof(s->quarantine_all),
				 "%s", out->quarantine ? out->quarantine : "");
			snprintf(s->quarantine_all_by,
				 sizeof(s->quarantine_all_by), "%s",
				 out->filter ? out->filter : "");
		} else {
			struct pst_arena *a = s->txn.arena;

			s->txn.quarantine = pst_arena_strdup(
				a, out->quarantine ? out->quarantine : "");
			s->txn.quarantine_by =
				out->filter ? pst_arena_strdup(a, out->filter)
					    : NULL;
			s->txn.quarantine_text = pst_arena_strdup(a, out->text);
		}
		return false;
	default:
		return false;
	}
}
