/*
 * smtpd_data.c - message content: DATA and BDAT into the spool through
 * mail/smtp_data (which stops SMTP smuggling), our Received: header, the
 * checks at the end of the message, and the hand-over to the relay.  The
 * client's final reply is the relay's answer: nothing is acknowledged
 * before it is delivered.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "arena.h"
#include "log.h"
#include "smtpd_int.h"
#include "spool.h"

/* Decoded bytes collected before one spool write. */
#define SMTPD_CONTENT_BATCH (64 * 1024)

static const char *
smtpd_protocol(const struct smtpd_session *s)
{
	bool utf8 = s->txn.mail.smtputf8;

	if (!s->esmtp)
		return "SMTP";
	if (utf8)
		return s->tls ? "UTF8SMTPS" : "UTF8SMTP";
	return s->tls ? "ESMTPS" : "ESMTP";
}

/* RFC 5321 4.4 trace header, in Postfix's layout. */
static int
smtpd_received(struct smtpd_session *s, struct pst_buf *out)
{
	const struct smtpd_txn *t = &s->txn;
	char date[64];
	struct tm tm;
	time_t now = time(NULL);
	int rc;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
	rc = pst_buf_printf(out, "Received: from %s (%s [%s%s])\r\n",
			    s->helo[0] ? s->helo : "unknown", s->name,
			    s->peer.u.sa.sa_family == AF_INET6 &&
					    strchr(s->addr, ':')
				    ? "IPv6:"
				    : "",
			    s->addr);
	if (rc == 0 && s->tls)
		rc = pst_buf_printf(out, "\t(using %s)\r\n", s->tls_info);
	if (rc == 0)
		rc = pst_buf_printf(out, "\tby %s (postern) with %s id %s",
				    smtpd_settings(s)->hostname,
				    smtpd_protocol(s), t->qid);
	if (rc == 0 && t->nrcpt == 1)
		rc = pst_buf_printf(out, "\r\n\tfor <%s>; %s\r\n",
				    t->rcpts[0].addr, date);
	else if (rc == 0)
		rc = pst_buf_printf(out, ";\r\n\t%s\r\n", date);
	return rc;
}

/* Append to the spool and show the same bytes to the MIME parser. */
static int
smtpd_spool_append(struct smtpd_session *s, const char *data, size_t len)
{
	struct smtpd_txn *t = &s->txn;
	const char *error = NULL;

	if (pst_spool_write(s->spool, data, len, &error) < 0 ||
	    (t->mime != NULL &&
	     mime_parser_feed(t->mime, data, len, &error) < 0)) {
		pst_log(PST_LOG_ERR, "smtpd", "%s: spool: %s", t->qid,
			error ? error : "out of memory");
		return -1;
	}
	return 0;
}

int
smtpd_data_begin(struct smtpd_session *s, bool bdat)
{
	const struct postern_settings *st = smtpd_settings(s);
	struct smtpd_txn *t = &s->txn;

	if (s->spool == NULL) {
		s->spool = pst_spool_new(st->smtp.spool_memory, st->spool_dir);
		if (s->spool == NULL)
			return -1;
	}
	t->in_data = true;
	smtp_data_init(&t->decoder, bdat ? SMTP_DATA_RAW : SMTP_DATA_DOT,
		       st->smtp.max_text_line);
	pst_buf_reset(&s->content);
	/* The tree lives as long as the chain reads it, which may be
	 * longer than the transaction if a filter overstays. */
	t->mime = mime_parser_new(filter_ctx_txn_arena(s->fctx),
				  &st->mime.limits);
	if (t->mime == NULL || smtpd_received(s, &s->content) < 0 ||
	    smtpd_spool_append(s, s->content.data, s->content.len) < 0)
		return -1;
	pst_buf_reset(&s->content);
	if (!bdat) {
		s->state = SMTPD_DATA;
		smtpd_set_timeout(s, st->smtp.data_timeout);
	}
	return 0;
}

/* Does the content so far make the message one we refuse? */
static bool
smtpd_content_refused(const struct smtpd_session *s)
{
	unsigned d = s->txn.decoder.defects;

	if (d & (SMTP_DATA_F_BARE_CR | SMTP_DATA_F_LONG_LINE))
		return true;
	return (d & SMTP_DATA_F_BARE_LF) &&
	       smtpd_settings(s)->smtp.bare_lf == SMTPD_BARE_LF_REJECT;
}

/* Move decoded bytes into the spool.  -1 on a spool error. */
static int
smtpd_content_flush(struct smtpd_session *s)
{
	if (s->content.len == 0)
		return 0;
	if (smtpd_spool_append(s, s->content.data, s->content.len) < 0)
		return -1;
	pst_buf_reset(&s->content);
	return 0;
}

/* The part tree is incomplete (a parser limit): no filter could see the
 * whole message, so it is refused unless the admin said otherwise. */
static bool
smtpd_mime_refused(struct smtpd_session *s, const char **why_r)
{
	const struct smtpd_txn *t = &s->txn;
	uint64_t over;

	if (t->mime_root == NULL)
		return false;
	over = mime_part_defects_all(t->mime_root) & MIME_D_LIMITS;
	if (over == 0 ||
	    smtpd_settings(s)->mime.over_limit == MIME_OVER_LIMIT_ACCEPT)
		return false;
	/* The lowest bit set names the limit. */
	*why_r = mime_defect_name(over & (~over + 1));
	return true;
}

/* Feed up to max bytes of input to the decoder.  Returns bytes consumed,
 * or -1 on an internal error; *done_r at the end of DATA. */
static ssize_t
smtpd_feed(struct smtpd_session *s, size_t max, bool *done_r)
{
	struct smtpd_txn *t = &s->txn;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	uint64_t limit = smtpd_settings(s)->smtp.max_message_size;
	struct evbuffer_iovec vec;
	size_t used, n;
	bool keep;

	if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1 || vec.iov_len == 0)
		return 0;
	n = vec.iov_len < max ? vec.iov_len : max;
	if (s->state == SMTPD_BDAT && (t->failed || !t->in_data)) {
		/* A refused chunk: read and forget its bytes. */
		evbuffer_drain(in, n);
		return (ssize_t)n;
	}
	keep = !t->too_big && !t->failed && !smtpd_content_refused(s);
	used = smtp_data_feed(&t->decoder, vec.iov_base, n,
			      keep ? &s->content : NULL, done_r);
	if (used == (size_t)-1)
		return -1;
	evbuffer_drain(in, used);
	if (t->decoder.out_len > limit) {
		t->too_big = true;
		pst_buf_reset(&s->content);
	}
	if (s->content.len >= SMTPD_CONTENT_BATCH && smtpd_content_flush(s) < 0)
		return -1;
	return (ssize_t)used;
}

static void
smtpd_relay_done(void *arg, const struct relay_reply *reply)
{
	struct smtpd_session *s = arg;

	if (!smtpd_relay_returned(s))
		return;
	smtpd_reply(s, reply->code, reply->enhanced, "%s", reply->text);
	smtpd_txn_end(s);
	if (s->state != SMTPD_CMD)
		return; /* draining: closing after the reply */
	smtpd_set_timeout(s, smtpd_settings(s)->smtp.command_timeout);
	bufferevent_enable(s->bev, EV_READ);
	smtpd_process_input(s);
}

/* The recipients as the chain left them, for the relay. */
static int
smtpd_filtered_rcpts(struct smtpd_session *s)
{
	struct smtpd_txn *t = &s->txn;
	size_t n = filter_ctx_rcpt_count(s->fctx);
	struct relay_rcpt *v;

	v = pst_arena_calloc(t->arena, n ? n : 1, sizeof(*v));
	if (v == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct filter_rcpt *r = filter_ctx_rcpt(s->fctx, i);

		v[i].addr = r->addr;
		v[i].orcpt = r->orcpt;
		v[i].notify = r->notify;
	}
	t->rcpts = v;
	t->nrcpt = n;
	t->rcpt_cap = n;
	return 0;
}

/* The message as it leaves: the spool, or a copy with the filters'
 * header edits (and Authentication-Results) applied. */
static struct pst_spool *
smtpd_outgoing(struct smtpd_session *s, const char **error_r)
{
	const struct postern_settings *st = smtpd_settings(s);
	struct smtpd_txn *t = &s->txn;

	if (!filter_ctx_has_edits(s->fctx))
		return s->spool;
	t->edited = pst_spool_new(st->smtp.spool_memory, st->spool_dir);
	if (t->edited == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	if (filter_ctx_write_message(s->fctx, t->edited, error_r) < 0 ||
	    pst_spool_flush(t->edited, error_r) < 0)
		return NULL;
	return t->edited;
}

/* The chain has seen the message: refuse, drop, quarantine, or relay. */
static void
smtpd_message_filtered(struct smtpd_session *s,
		       const struct filter_outcome *out)
{
	struct smtpd_txn *t = &s->txn;
	struct relay_msg msg;
	struct relay_client client;
	const char *error = NULL;

	if (s->spool == NULL)
		s->spool = filter_ctx_take_spool(s->fctx);
	if (smtpd_filter_refused(s, "END-OF-MESSAGE", FILTER_MESSAGE, out)) {
		smtpd_txn_end(s);
		return;
	}
	if (s->spool == NULL || smtpd_filtered_rcpts(s) < 0) {
		smtpd_reply(s, 451, "4.3.0", "Error: cannot queue the message");
		smtpd_txn_end(s);
		return;
	}
	if (t->discard || s->discard_all || t->nrcpt == 0) {
		/* The client must not learn that the message was dropped. */
		pst_log(PST_LOG_INFO, "smtpd", "%s: discarded: %s", t->qid,
			t->nrcpt == 0 ? "no recipient left after filters"
				      : "filter verdict");
		smtpd_reply(s, 250, "2.0.0", "Ok: queued as %s", t->qid);
		smtpd_txn_end(s);
		return;
	}
	msg.spool = smtpd_outgoing(s, &error);
	if (msg.spool == NULL) {
		pst_log(PST_LOG_ERR, "smtpd", "%s: rewriting the message: %s",
			t->qid, error);
		smtpd_reply(s, 451, "4.3.0", "Error: cannot queue the message");
		smtpd_txn_end(s);
		return;
	}
	if (t->quarantine != NULL) { /* said at MAIL, RCPT or here */
		smtpd_quarantine(s, msg.spool, t->quarantine, t->quarantine_by,
				 t->quarantine_text);
		return;
	}
	if (s->quarantine_all[0] != '\0') { /* said at connect or HELO */
		smtpd_quarantine(s, msg.spool, s->quarantine_all,
				 s->quarantine_all_by, NULL);
		return;
	}
	smtpd_relay_msg(s, &msg, &client);
	msg.spool = t->edited != NULL ? t->edited : s->spool;
	pst_log(PST_LOG_INFO, "smtpd", "%s: from=<%s>, size=%llu, nrcpt=%zu",
		t->qid, t->from, (unsigned long long)pst_spool_size(msg.spool),
		t->nrcpt);
	s->state = SMTPD_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	if (relay_submit(s->worker->server->relay, s->worker->base, t->route,
			 &msg, smtpd_relay_done, s) < 0) {
		s->state = SMTPD_CMD;
		bufferevent_enable(s->bev, EV_READ);
		smtpd_reply(s, 451, "4.3.0", "Error: cannot queue the message");
		smtpd_txn_end(s);
	}
}

/* The whole message is in: refuse it, or hand it to the chain. */
static void
smtpd_message_end(struct smtpd_session *s)
{
	struct smtpd_txn *t = &s->txn;
	const char *error = NULL;

	s->state = SMTPD_CMD;
	smtpd_set_timeout(s, smtpd_settings(s)->smtp.command_timeout);
	if (t->too_big) {
		pst_log(PST_LOG_INFO, "smtpd",
			"%s: reject: END-OF-MESSAGE from %s[%s]: 552 5.3.4 "
			"Message size exceeds fixed limit",
			t->qid, s->name, s->addr);
		smtpd_reply(s, 552, "5.3.4",
			    "Message size exceeds fixed limit");
		smtpd_txn_end(s);
		return;
	}
	if (smtpd_content_refused(s)) {
		unsigned d = t->decoder.defects;
		const char *why =
			(d & SMTP_DATA_F_BARE_CR) ? "bare CR in message content"
			: (d & SMTP_DATA_F_LONG_LINE)
				? "text line too long (RFC 5322 2.1.1)"
				: "bare LF line ending (RFC 5321 2.3.8)";

		pst_log(PST_LOG_INFO, "smtpd",
			"%s: reject: END-OF-MESSAGE from %s[%s]: 550 5.6.0 "
			"Message refused: %s",
			t->qid, s->name, s->addr, why);
		smtpd_reply(s, 550, "5.6.0", "Message refused: %s", why);
		smtpd_txn_end(s);
		return;
	}
	if (smtpd_content_flush(s) < 0 ||
	    pst_spool_flush(s->spool, &error) < 0 ||
	    mime_parser_end(t->mime, &t->mime_root, &error) < 0) {
		smtpd_reply(s, 451, "4.3.0", "Error: cannot spool the message");
		smtpd_txn_end(s);
		return;
	}
	if (smtpd_mime_refused(s, &error)) {
		pst_log(PST_LOG_INFO, "smtpd",
			"%s: reject: END-OF-MESSAGE from %s[%s]: 554 5.6.0 "
			"Message refused: MIME structure over a limit (%s)",
			t->qid, s->name, s->addr, error);
		smtpd_reply(s, 554, "5.6.0",
			    "Message refused: MIME structure over a limit (%s)",
			    error);
		smtpd_txn_end(s);
		return;
	}
	if (filter_ctx_set_message(s->fctx, s->spool, t->mime_root) < 0) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		smtpd_txn_end(s);
		return;
	}
	s->spool = NULL; /* the chain holds it while filters read it */
	smtpd_filter_run(s, FILTER_MESSAGE, NULL, smtpd_message_filtered);
}

static void
smtpd_internal_error(struct smtpd_session *s)
{
	s->state = SMTPD_CMD;
	smtpd_txn_end(s);
	smtpd_reply(s, 421, "4.3.0", "%s Error: internal error",
		    smtpd_settings(s)->hostname);
	smtpd_close_after_reply(s);
}

/* A BDAT chunk has been read completely. */
static void
smtpd_bdat_done(struct smtpd_session *s)
{
	struct smtpd_txn *t = &s->txn;
	const struct smtpd_settings *smtp = &smtpd_settings(s)->smtp;

	s->state = SMTPD_CMD;
	smtpd_set_timeout(s, smtp->command_timeout);
	if (!t->failed && t->too_big) {
		t->failed = true;
		t->failed_code = 552;
		t->failed_text = "5.3.4 Message size exceeds fixed limit";
	}
	if (t->failed) {
		char enhanced[8];

		snprintf(enhanced, sizeof(enhanced), "%.5s", t->failed_text);
		smtpd_reply(s, t->failed_code, enhanced, "%s",
			    t->failed_text + 6);
		if (t->bdat_last || !s->has_txn)
			smtpd_txn_end(s);
		return;
	}
	if (!t->bdat_last) {
		smtpd_reply(s, 250, "2.0.0", "Ok: %llu octets",
			    (unsigned long long)t->bdat_size);
		return;
	}
	if (smtp_data_finish(&t->decoder, &s->content) < 0) {
		smtpd_internal_error(s);
		return;
	}
	smtpd_message_end(s);
}

void
smtpd_bdat_chunk(struct smtpd_session *s, uint64_t size, bool last)
{
	struct smtpd_txn *t = &s->txn;

	/* Whatever the verdict, the chunk's bytes must be read: they are
	 * message content, never commands. */
	t->bdat_size = size;
	t->bdat_left = size;
	t->bdat_last = last;
	if (!t->failed) {
		const char *why =
			!s->esmtp ? "5.5.1 Error: BDAT needs EHLO (CHUNKING)"
			: !s->has_txn	? "5.5.1 Error: need MAIL command"
			: t->nrcpt == 0 ? "5.5.1 Error: need RCPT command"
					: NULL;

		if (why != NULL) {
			t->failed = true;
			t->failed_code = 503;
			t->failed_text = why;
		} else if (!t->in_data && smtpd_data_begin(s, true) < 0) {
			t->failed = true;
			t->failed_code = 451;
			t->failed_text =
				"4.3.0 Error: cannot spool the message";
		}
	}
	s->state = SMTPD_BDAT;
	smtpd_set_timeout(s, smtpd_settings(s)->smtp.data_timeout);
	if (size == 0)
		smtpd_bdat_done(s);
}

void
smtpd_data_read(struct smtpd_session *s)
{
	struct smtpd_txn *t = &s->txn;
	struct evbuffer *in = bufferevent_get_input(s->bev);

	while (evbuffer_get_length(in) > 0) {
		bool done = false;
		ssize_t used;

		if (s->state == SMTPD_DATA) {
			used = smtpd_feed(s, SIZE_MAX, &done);
		} else {
			used = smtpd_feed(s, t->bdat_left, &done);
			if (used > 0)
				t->bdat_left -= (uint64_t)used;
			done = t->bdat_left == 0;
		}
		if (used < 0) {
			smtpd_internal_error(s);
			return;
		}
		if (!done)
			continue;
		if (s->state == SMTPD_DATA)
			smtpd_message_end(s);
		else
			smtpd_bdat_done(s);
		return;
	}
}
