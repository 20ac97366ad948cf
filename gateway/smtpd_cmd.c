/*
 * smtpd_cmd.c - SMTP commands: parse with mail/smtp_cmd, check the
 * session state and policy (relay control, limits), and reply.
 *
 * Replies follow RFC 5321 with RFC 3463 enhanced codes on every one but
 * the greeting; texts follow Postfix's where admins know them.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "arena.h"
#include "log.h"
#include "smtp_addr.h"
#include "smtpd_int.h"

static unsigned
smtpd_extensions(const struct smtpd_session *s)
{
	unsigned ext = SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 |
		       SMTP_EXT_DSN | SMTP_EXT_CHUNKING | SMTP_EXT_LENIENT_PATH;

	return s->esmtp ? ext : SMTP_EXT_LENIENT_PATH;
}

/* A queue id: 12 hex digits, unique within a process for 2^48
 * transactions (an odd multiplier permutes Z/2^48), and unpredictable
 * across processes through a random start. */
static void
smtpd_new_qid(char qid[SMTPD_QID_LEN + 1])
{
	static _Atomic uint64_t counter;
	static uint64_t start;
	const uint64_t mask = ((uint64_t)1 << 48) - 1;
	uint64_t n;

	if (start == 0)
		arc4random_buf(&start, sizeof(start));
	n = atomic_fetch_add(&counter, 1);
	n = (start + n * 0x9E3779B97F4BULL) & mask;
	snprintf(qid, SMTPD_QID_LEN + 1, "%012llX", (unsigned long long)n);
}

/* Logged the way Postfix does, so the same grep finds refused mail. */
void
smtpd_reject(struct smtpd_session *s, const char *verb, unsigned code,
	     const char *enhanced, const char *fmt, ...)
{
	char text[400], safe[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	smtpd_reply(s, code, enhanced, "%s", text);
	pst_log_sanitize(safe, sizeof(safe), text, (unsigned)strlen(text));
	pst_log(PST_LOG_INFO, "smtpd",
		"%s: reject: %s from %s[%s]: %u %s %s; from=<%s> helo=<%s>",
		s->has_txn ? s->txn.qid : "NOQUEUE", verb, s->name, s->addr,
		code, enhanced, safe, s->has_txn ? s->txn.from : "", s->helo);
}

/* Reply to a parse error: the code and text come from mail/smtp_cmd. */
static void
smtpd_syntax_error(struct smtpd_session *s, unsigned code, const char *error)
{
	char enhanced[16];
	size_t n = strcspn(error, " ");

	if (n >= sizeof(enhanced) || n == 0) {
		smtpd_reply(s, code, "5.5.2", "%s", error);
		return;
	}
	memcpy(enhanced, error, n);
	enhanced[n] = '\0';
	smtpd_reply(s, code, enhanced, "%s", error[n] ? error + n + 1 : "");
}

static void
smtpd_store_helo(struct smtpd_session *s, struct pst_str arg)
{
	size_t n = arg.len < SMTPD_HELO_MAX ? arg.len : SMTPD_HELO_MAX;

	/* Kept printable ASCII: it goes into Received: and the logs. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)arg.p[i];

		s->helo[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	s->helo[n] = '\0';
}

/* The chain's word on HELO/EHLO: refuse it, or greet with our list. */
static void
smtpd_helo_filtered(struct smtpd_session *s, const struct filter_outcome *out)
{
	const struct postern_settings *st = smtpd_settings(s);
	char text[512];

	if (smtpd_filter_refused(s, s->esmtp ? "EHLO" : "HELO", FILTER_HELO,
				 out)) {
		s->helo_seen = false;
		return;
	}
	if (!s->esmtp) {
		smtpd_reply(s, 250, NULL, "%s", st->hostname);
		return;
	}
	snprintf(text, sizeof(text),
		 "%s\nPIPELINING\nSIZE %llu\n8BITMIME\nENHANCEDSTATUSCODES\n"
		 "SMTPUTF8\nCHUNKING\nDSN%s%s",
		 st->hostname, (unsigned long long)st->smtp.max_message_size,
		 (st->smtp.tls_ctx != NULL && !s->tls) ? "\nSTARTTLS" : "",
		 s->xclient_ok ? "\nXCLIENT ADDR NAME HELO PROTO PORT LOGIN"
			       : "");
	smtpd_reply(s, 250, NULL, "%s", text);
}

static void
smtpd_cmd_ehlo(struct smtpd_session *s, const struct smtp_cmd *cmd)
{
	if (s->has_txn)
		smtpd_txn_end(s); /* EHLO resets the transaction */
	smtpd_store_helo(s, cmd->arg);
	s->helo_seen = true;
	s->esmtp = cmd->verb == SMTP_VERB_EHLO;
	if (filter_ctx_set_helo(s->fctx, s->helo) < 0) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	smtpd_filter_run(s, FILTER_HELO, s->helo, smtpd_helo_filtered);
}

static int
smtpd_txn_begin(struct smtpd_session *s)
{
	struct smtpd_txn *t = &s->txn;

	if (t->arena == NULL && (t->arena = pst_arena_new(2048)) == NULL)
		return -1;
	s->has_txn = true;
	smtpd_new_qid(t->qid);
	return 0;
}

static void
smtpd_mail_filtered(struct smtpd_session *s, const struct filter_outcome *out)
{
	if (smtpd_filter_refused(s, "MAIL", FILTER_MAIL, out)) {
		smtpd_txn_end(s);
		return;
	}
	smtpd_reply(s, 250, "2.1.0", "Ok");
}

static void
smtpd_cmd_mail(struct smtpd_session *s, const struct smtp_cmd *cmd)
{
	const struct smtpd_settings *smtp = &smtpd_settings(s)->smtp;
	struct smtpd_txn *t = &s->txn;
	struct pst_buf addr;

	if (!s->helo_seen) {
		smtpd_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return;
	}
	if (s->has_txn) {
		smtpd_reply(s, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	if (cmd->mail.has_size && cmd->mail.size > smtp->max_message_size) {
		smtpd_reject(s, "MAIL", 552, "5.3.4",
			     "Message size exceeds fixed limit");
		return;
	}
	if (smtpd_txn_begin(s) < 0) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	pst_buf_init(&addr, SMTP_ADDR_MAX_PATH + 1);
	if (smtp_addr_format(&cmd->addr, &addr) < 0) {
		pst_buf_free(&addr);
		smtpd_txn_end(s);
		smtpd_reply(s, 501, "5.1.7", "Bad sender address syntax");
		return;
	}
	t->from = pst_arena_strndup(t->arena, pst_buf_view(&addr).p, addr.len);
	pst_buf_free(&addr);
	t->mail = cmd->mail;
	t->mail.envid.p = pst_arena_strndup(
		t->arena, cmd->mail.envid.p ? cmd->mail.envid.p : "",
		cmd->mail.envid.len);
	if (t->from == NULL || t->mail.envid.p == NULL) {
		smtpd_txn_end(s);
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	pst_log(PST_LOG_INFO, "smtpd", "%s: client=%s[%s], session=%s", t->qid,
		s->name, s->addr, s->session_id);
	if (filter_ctx_txn_begin(s->fctx, t->qid, t->from) < 0) {
		smtpd_txn_end(s);
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	smtpd_filter_run(s, FILTER_MAIL, NULL, smtpd_mail_filtered);
}

bool
smtpd_client_trusted(const struct smtpd_session *s)
{
	const struct smtpd_settings *smtp = &smtpd_settings(s)->smtp;

	return pst_cidr_list_match(smtp->trusted, (unsigned)smtp->ntrusted,
				   &s->peer.u.sa);
}

/* Relay control: may this client send to this address at all? */
static bool
smtpd_rcpt_allowed(const struct smtpd_session *s, const struct smtp_addr *a)
{
	/* Percent hack, bang paths, @ in a quoted local part: old routing
	 * tricks that downstream MTAs may still honour.  Never relay. */
	if (a->flags & SMTP_ADDR_F_ROUTING)
		return false;
	if (a->flags & SMTP_ADDR_F_POSTMASTER)
		return true; /* RFC 5321 4.5.1: always accepted */
	if (smtpd_client_trusted(s))
		return true;
	if (a->flags & SMTP_ADDR_F_IPLITERAL)
		return false;
	return settings_relay_domain(&smtpd_settings(s)->smtp, a->domain);
}

void
smtpd_relay_msg(struct smtpd_session *s, struct relay_msg *msg,
		struct relay_client *client)
{
	const struct smtpd_txn *t = &s->txn;

	memset(client, 0, sizeof(*client));
	/* XCLIENT ADDR=[UNAVAILABLE] is passed on as such */
	client->addr =
		s->peer.u.sa.sa_family == AF_UNSPEC ? "[UNAVAILABLE]" : s->addr;
	client->port = pst_net_port(&s->peer.u.sa);
	client->name = s->name;
	client->helo = s->helo;
	client->proto = s->esmtp ? "ESMTP" : "SMTP";
	client->tls = s->tls;
	memset(msg, 0, sizeof(*msg));
	msg->qid = t->qid;
	msg->client = client;
	msg->from = t->from;
	msg->rcpts = t->rcpts;
	msg->nrcpt = t->nrcpt;
	msg->body = t->mail.body;
	msg->smtputf8 = t->mail.smtputf8;
	msg->ret = t->mail.ret;
	msg->envid = t->mail.envid.len ? t->mail.envid.p : NULL;
}

/* Add the pending recipient to the transaction and say so. */
static void
smtpd_rcpt_commit(struct smtpd_session *s)
{
	struct smtpd_txn *t = &s->txn;

	if (t->nrcpt == t->rcpt_cap) {
		size_t cap = t->rcpt_cap ? t->rcpt_cap * 2 : 8;
		struct relay_rcpt *v =
			pst_arena_calloc(t->arena, cap, sizeof(*v));

		if (v == NULL) {
			smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
			return;
		}
		if (t->nrcpt > 0)
			memcpy(v, t->rcpts, t->nrcpt * sizeof(*v));
		t->rcpts = v;
		t->rcpt_cap = cap;
	}
	if (filter_ctx_rcpt_accepted(
		    s->fctx,
		    &(struct filter_rcpt){ .addr = t->pending.addr,
					   .orcpt = t->pending.orcpt,
					   .notify = t->pending.notify }) < 0) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	t->rcpts[t->nrcpt++] = t->pending;
	t->route = t->pending_route;
	smtpd_reply(s, 250, "2.1.5", "Ok");
}

/* The upstream's verdict on the pending recipient. */
static void
smtpd_rcpt_verified(void *arg, const struct relay_reply *reply)
{
	struct smtpd_session *s = arg;

	if (!smtpd_relay_returned(s))
		return;
	if (reply->code >= 200 && reply->code < 300) {
		smtpd_rcpt_commit(s);
	} else {
		s->verb_ok[SMTP_VERB_RCPT]--; /* counted when dispatched */
		smtpd_reject(s, "RCPT", reply->code, reply->enhanced, "%s",
			     reply->text);
	}
	bufferevent_enable(s->bev, EV_READ);
	smtpd_process_input(s);
}

/* Ask the route's upstream about the pending recipient; the reply waits
 * for its answer (pipelined commands stay in the input buffer). */
static void
smtpd_rcpt_verify(struct smtpd_session *s)
{
	struct smtpd_txn *t = &s->txn;
	struct relay_client client;
	struct relay_msg msg;

	smtpd_relay_msg(s, &msg, &client);
	s->state = SMTPD_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	if (relay_verify(s->worker->server->relay, s->worker->base,
			 t->pending_route, &msg, &t->pending,
			 smtpd_rcpt_verified, s) < 0) {
		s->state = SMTPD_CMD;
		bufferevent_enable(s->bev, EV_READ);
		smtpd_reply(s, 451, "4.4.1",
			    "Error: cannot verify the recipient now");
	}
}

/* The chain's word on the pending recipient, then the upstream's when
 * the route verifies recipients. */
static void
smtpd_rcpt_filtered(struct smtpd_session *s, const struct filter_outcome *out)
{
	if (smtpd_filter_refused(s, "RCPT", FILTER_RCPT, out))
		return;
	if (relay_route_verifies(s->txn.pending_route)) {
		smtpd_rcpt_verify(s);
		return;
	}
	smtpd_rcpt_commit(s);
}

static void
smtpd_cmd_rcpt(struct smtpd_session *s, const struct smtp_cmd *cmd)
{
	const struct postern_settings *st = smtpd_settings(s);
	struct smtpd_txn *t = &s->txn;
	const struct relay_route *route;
	struct pst_buf addr;
	unsigned max;
	char *text;

	if (!s->has_txn) {
		smtpd_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (t->in_data) {
		smtpd_reply(s, 503, "5.5.1", "Error: RCPT after BDAT");
		return;
	}
	pst_buf_init(&addr, SMTP_ADDR_MAX_PATH + 1);
	if (smtp_addr_format(&cmd->addr, &addr) < 0) {
		pst_buf_free(&addr);
		smtpd_reply(s, 501, "5.1.3", "Bad recipient address syntax");
		return;
	}
	text = pst_arena_strndup(t->arena, pst_buf_view(&addr).p, addr.len);
	pst_buf_free(&addr);
	if (text == NULL) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	if (!smtpd_rcpt_allowed(s, &cmd->addr)) {
		smtpd_reject(s, "RCPT", 554, "5.7.1",
			     "<%s>: Relay access denied", text);
		return;
	}
	if (t->nrcpt >= st->smtp.max_recipients) {
		smtpd_reject(s, "RCPT", 452, "4.5.3",
			     "Error: too many recipients");
		return;
	}
	route = relay_route_for(s->worker->server->relay,
				(cmd->addr.flags & SMTP_ADDR_F_POSTMASTER)
					? PST_STR_LIT("")
					: cmd->addr.domain);
	if (route == NULL) {
		smtpd_reject(s, "RCPT", 554, "5.4.4",
			     "<%s>: no route to this domain", text);
		return;
	}
	if (t->route != NULL && route != t->route) {
		/* One transaction, one upstream: the client sends the rest
		 * in another transaction (RFC 5321 4.5.3.1.10). */
		smtpd_reply(s, 452, "4.5.3",
			    "<%s>: Too many recipients for this transaction, "
			    "send the rest separately",
			    text);
		return;
	}
	for (size_t i = 0; i < t->nrcpt; i++) {
		if (strcmp(t->rcpts[i].addr, text) == 0) {
			smtpd_reply(s, 250, "2.1.5", "Ok");
			return; /* a duplicate is delivered once */
		}
	}
	max = relay_route_max_rcpt(route);
	if (max != 0 && t->nrcpt >= max) {
		smtpd_reply(s, 452, "4.5.3",
			    "<%s>: Too many recipients for this transaction, "
			    "send it separately",
			    text);
		return;
	}
	t->pending.addr = text;
	t->pending.notify = cmd->rcpt.notify;
	t->pending.orcpt =
		cmd->rcpt.orcpt.len
			? pst_arena_strndup(t->arena, cmd->rcpt.orcpt.p,
					    cmd->rcpt.orcpt.len)
			: NULL;
	t->pending_route = route;
	smtpd_filter_run(s, FILTER_RCPT, text, smtpd_rcpt_filtered);
}

static void
smtpd_cmd_data(struct smtpd_session *s)
{
	if (!s->has_txn) {
		smtpd_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (s->txn.nrcpt == 0) {
		smtpd_reply(s, 503, "5.5.1", "Error: need RCPT command");
		return;
	}
	if (s->txn.in_data) {
		smtpd_reply(s, 503, "5.5.1", "Error: DATA after BDAT");
		return;
	}
	if (smtpd_data_begin(s, false) < 0) {
		smtpd_reply(s, 451, "4.3.0", "Error: cannot spool the message");
		return;
	}
	smtpd_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

static void
smtpd_cmd_starttls(struct smtpd_session *s)
{
	if (smtpd_settings(s)->smtp.tls_ctx == NULL) {
		smtpd_reply(s, 502, "5.5.1", "Error: command not implemented");
		return;
	}
	if (s->tls) {
		smtpd_reply(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	if (s->has_txn) {
		smtpd_reply(s, 503, "5.5.1",
			    "Error: STARTTLS inside a mail transaction");
		return;
	}
	smtpd_reply(s, 220, "2.0.0", "Ready to start TLS");
	if (smtpd_starttls(s) < 0) {
		smtpd_reply(s, 454, "4.7.0", "TLS not available");
		smtpd_close_after_reply(s);
	}
}

void
smtpd_cmd_dispatch(struct smtpd_session *s, const char *line, size_t len)
{
	const struct smtpd_settings *smtp = &smtpd_settings(s)->smtp;
	struct smtp_cmd cmd;
	const char *error = NULL;
	unsigned errors = s->errors;
	int code;

	code = smtp_cmd_parse(line, len, smtpd_extensions(s),
			      s->has_txn && s->txn.mail.smtputf8, &cmd, &error);
	s->verb_count[cmd.verb]++;
	s->verb = cmd.verb;
	if (code != 0) {
		if (cmd.verb == SMTP_VERB_BDAT) {
			/* The chunk size is unknown, so the client's next
			 * bytes cannot be told from commands: hang up. */
			smtpd_syntax_error(s, code, error);
			smtpd_close_after_reply(s);
			return;
		}
		smtpd_syntax_error(s, (unsigned)code, error);
		return;
	}
	switch (cmd.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		smtpd_cmd_ehlo(s, &cmd);
		break;
	case SMTP_VERB_MAIL:
		smtpd_cmd_mail(s, &cmd);
		break;
	case SMTP_VERB_RCPT:
		smtpd_cmd_rcpt(s, &cmd);
		break;
	case SMTP_VERB_DATA:
		smtpd_cmd_data(s);
		break;
	case SMTP_VERB_BDAT:
		smtpd_bdat_chunk(s, cmd.bdat_size, cmd.bdat_last);
		break;
	case SMTP_VERB_RSET:
		if (s->has_txn)
			smtpd_txn_end(s);
		smtpd_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_VERB_NOOP:
		smtpd_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_VERB_QUIT:
		smtpd_reply(s, 221, "2.0.0", "Bye");
		smtpd_close_after_reply(s);
		break;
	case SMTP_VERB_HELP:
		smtpd_reply(s, 214, "2.0.0",
			    "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP "
			    "QUIT HELP VRFY STARTTLS\nSee RFC 5321");
		break;
	case SMTP_VERB_VRFY:
		if (smtp->vrfy == SMTPD_VRFY_252)
			smtpd_reply(s, 252, "2.0.0",
				    "Cannot VRFY user, but will accept message "
				    "and attempt delivery");
		else
			smtpd_reply(s, 502, "5.5.1",
				    "VRFY command is disabled");
		break;
	case SMTP_VERB_EXPN:
		smtpd_reply(s, 502, "5.5.1", "EXPN command is disabled");
		break;
	case SMTP_VERB_STARTTLS:
		smtpd_cmd_starttls(s);
		break;
	case SMTP_VERB_XCLIENT:
		smtpd_xclient(s, &cmd);
		break;
	case SMTP_VERB_AUTH:
	default:
		smtpd_reply(s, 502, "5.5.1", "Error: command not implemented");
		break;
	}
	if (s->errors == errors)
		s->verb_ok[cmd.verb]++;
}
