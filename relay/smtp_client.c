/*
 * smtp_client.c - one upstream SMTP/LMTP connection on a libevent loop
 * (see smtp_client.h).
 *
 * Commands and the replies they wait for live in one array: entries
 * [0, nsent) have been written, [0, nreplied) answered; a reply belongs
 * to entry nreplied (RFC 2920: replies come in command order).  With
 * PIPELINING a transaction's commands up to DATA go out in one write;
 * without it, one at a time.  The message is read from the spool in
 * 64 KiB blocks and written while the output buffer stays under a high
 * mark, so memory does not grow with the message.
 *
 * The owner's callback always runs from an event of its own (notify_ev),
 * never from inside a libevent callback of the connection or from the
 * call that started the operation: the owner may free the client there.
 * Not thread-safe: one client, one loop, one owner.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "smtp_client.h"
#include "spool.h"

#define CLIENT_BLOCK (64u * 1024)
/* Keep at most this much of the message queued for the socket. */
#define CLIENT_OUT_HIGH (256u * 1024)
#define CLIENT_OUT_LOW (64u * 1024)
/* XCLIENT/XFORWARD lines: RFC 5321's 512 with room for the verb. */
#define CLIENT_XLINE_MAX 500
#define CLIENT_XLINES 4

enum client_phase {
	PH_CONNECTING,
	PH_TLS,	    /* handshake running */
	PH_OPENING, /* greeting, EHLO, STARTTLS, XCLIENT */
	PH_READY,   /* between operations */
	PH_IDLE,    /* parked in a pool, watched */
	PH_TX,	    /* transaction commands */
	PH_BODY,    /* writing the message */
	PH_NOTIFY,  /* operation over, callback pending */
};

enum client_op { OP_NONE, OP_OPEN, OP_RUN, OP_IDLE };

/* What a command's reply means. */
enum cmd_kind {
	K_GREETING, /* nothing written, the reply is the 220 */
	K_EHLO,
	K_HELO,
	K_STARTTLS,
	K_XCLIENT,
	K_RSET,
	K_XFORWARD,
	K_MAIL,
	K_RCPT,
	K_DATA,
	K_BDAT,	 /* the BDAT LAST header; its reply is a K_FINAL */
	K_FINAL, /* nothing written by itself: reply to end of data */
	K_RSET_END,
};

struct client_cmd {
	unsigned char kind;
	unsigned idx; /* RCPT, FINAL: recipient; XCLIENT/XFORWARD: line */
};

struct smtp_client {
	struct event_base *base;
	const struct smtp_client_conf *conf;
	struct bufferevent *bev;
	SSL *ssl;		  /* owned by bev once it is a filter */
	struct event *connect_ev; /* while connecting */
	evutil_socket_t fd;	  /* until bev owns it */
	struct event *notify_ev;
	enum client_phase phase;
	enum client_op op;
	smtp_client_cb *cb;
	void *arg;
	/* The result handed to cb. */
	enum smtp_client_status st;
	struct smtp_wire_reply st_reply;
	char st_text[256];

	struct smtp_wire_ehlo ehlo;
	bool esmtp;
	bool tls_on;
	bool broken;	 /* unusable: closed, timed out, protocol error */
	bool no_reuse;	 /* the upstream said 421: finish, then close */
	bool tls_failed; /* the TLS handshake failed */
	bool xclient_refused;
	bool xclient_pending; /* open: XCLIENT still to be sent */
	const struct relay_client *open_who;
	char who_id[CLIENT_XLINES * (CLIENT_XLINE_MAX + 1)];
	char xlines[CLIENT_XLINES][CLIENT_XLINE_MAX + 1];
	unsigned nxlines;
	char new_id[CLIENT_XLINES * (CLIENT_XLINE_MAX + 1)];

	struct smtp_wire_reply reply; /* being read */
	struct client_cmd *cmds;
	size_t ncmds, nsent, nreplied, cmds_cap;
	bool pipelining; /* for the current operation */

	/* Transaction. */
	struct smtp_client_tx *tx;
	unsigned accepted; /* recipients answered 2xx */
	bool bdat;
	bool body_done;
	uint64_t body_off;
	struct smtp_wire_dot dot;
	char *block; /* CLIENT_BLOCK bytes, once a body is sent */
	uint64_t idle_ms;
};

static void client_read_cb(struct bufferevent *bev, void *arg);
static void client_write_cb(struct bufferevent *bev, void *arg);
static void client_event_cb(struct bufferevent *bev, short what, void *arg);
static void client_next_open_step(struct smtp_client *c);
static void client_tx_main(struct smtp_client *c);

/* ---- small helpers ---- */

static struct timeval
client_tv(uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

static bool
client_is_unix(const struct smtp_client *c)
{
	return c->conf->addr.u.sa.sa_family == AF_UNIX;
}

/* Read timeout: while a reply is due (longer for end of data), while a
 * TLS handshake runs, or the idle lifetime; none otherwise.  Writes
 * always have the command timeout. */
static void
client_timeouts(struct smtp_client *c)
{
	struct timeval rd, wr = client_tv(c->conf->command_ms);
	const struct timeval *rdp = NULL;

	if (c->bev == NULL)
		return;
	if (c->phase == PH_IDLE) {
		rd = client_tv(c->idle_ms);
		rdp = &rd;
	} else if (c->phase == PH_TLS) {
		rd = client_tv(c->conf->command_ms);
		rdp = &rd;
	} else if (c->nreplied < c->nsent) {
		unsigned char k = c->cmds[c->nreplied].kind;

		rd = client_tv(k == K_FINAL || k == K_BDAT
				       ? c->conf->data_ms
				       : c->conf->command_ms);
		rdp = &rd;
	}
	bufferevent_set_timeouts(c->bev, rdp, &wr);
}

/* Hand the operation's end to the owner, from an event of its own. */
static void
client_notify(struct smtp_client *c, enum smtp_client_status st,
	      const struct smtp_wire_reply *reply, const char *text)
{
	if (c->phase == PH_NOTIFY)
		return; /* the first outcome counts */
	c->st = st;
	if (reply != NULL)
		c->st_reply = *reply;
	else
		smtp_wire_reply_init(&c->st_reply);
	snprintf(c->st_text, sizeof(c->st_text), "%s", text ? text : "");
	c->phase = PH_NOTIFY;
	event_active(c->notify_ev, EV_TIMEOUT, 1);
}

static void
client_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	smtp_client_cb *cb = c->cb;
	void *cbarg = c->arg;

	(void)fd;
	(void)what;
	c->phase = PH_READY;
	c->op = OP_NONE;
	c->cb = NULL;
	c->arg = NULL;
	c->tx = NULL;
	if (c->bev != NULL && !c->broken)
		client_timeouts(c);
	if (cb != NULL)
		cb(cbarg, c, c->st, &c->st_reply, c->st_text);
}

/* Where the conversation was, in Postfix's words. */
static const char *
client_stage(const struct smtp_client *c)
{
	if (c->phase == PH_TLS)
		return "performing the TLS handshake";
	if (c->phase == PH_BODY)
		return "sending message body";
	if (c->nreplied >= c->ncmds)
		return c->phase == PH_IDLE ? "waiting idle in the pool"
					   : "waiting for the next command";
	switch ((enum cmd_kind)c->cmds[c->nreplied].kind) {
	case K_GREETING:
		return "receiving the initial server greeting";
	case K_EHLO:
		return c->conf->lmtp ? "performing the LHLO handshake"
				     : "performing the EHLO handshake";
	case K_HELO:
		return "performing the HELO handshake";
	case K_STARTTLS:
		return "sending STARTTLS";
	case K_XCLIENT:
		return "sending XCLIENT";
	case K_RSET:
	case K_RSET_END:
		return "sending RSET";
	case K_XFORWARD:
		return "sending XFORWARD";
	case K_MAIL:
		return "sending MAIL FROM";
	case K_RCPT:
		return "sending RCPT TO";
	case K_DATA:
		return "sending DATA command";
	case K_BDAT:
		return "sending BDAT";
	case K_FINAL:
		return "sending end of data -- message may be sent more than "
		       "once";
	}
	return "talking";
}

/* The connection is unusable: stop reading, report. */
static void client_fail(struct smtp_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
client_fail(struct smtp_client *c, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c->broken = true;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->op == OP_RUN && c->tx != NULL && c->phase != PH_NOTIFY) {
		struct smtp_client_tx *tx = c->tx;

		tx->failed = true;
		snprintf(tx->fail_text, sizeof(tx->fail_text), "%s", text);
		/* Nothing of the transaction reached the upstream's
		 * books: the owner may try a fresh connection. */
		tx->stale = tx->reset && tx->mail.code == 0;
	}
	client_notify(c, SMTP_CLIENT_FAILED, NULL, text);
}

static int
client_cmd_push(struct smtp_client *c, enum cmd_kind kind, unsigned idx)
{
	if (c->ncmds == c->cmds_cap) {
		size_t cap = c->cmds_cap ? c->cmds_cap * 2 : 16;
		struct client_cmd *v = realloc(c->cmds, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		c->cmds = v;
		c->cmds_cap = cap;
	}
	c->cmds[c->ncmds].kind = (unsigned char)kind;
	c->cmds[c->ncmds].idx = idx;
	c->ncmds++;
	return 0;
}

static void
client_cmds_reset(struct smtp_client *c)
{
	c->ncmds = c->nsent = c->nreplied = 0;
}

/* Drop commands not written yet (without PIPELINING: stop here). */
static void
client_cmds_cut(struct smtp_client *c)
{
	c->ncmds = c->nsent;
}

static const char *
client_notify_text(unsigned notify)
{
	static const char *const texts[] = {
		"",
		"NEVER", /* NEVER alone */
		"SUCCESS",
		"NEVER",
		"FAILURE",
		"NEVER",
		"SUCCESS,FAILURE",
		"NEVER",
		"DELAY",
		"NEVER",
		"SUCCESS,DELAY",
		"NEVER",
		"FAILURE,DELAY",
		"NEVER",
		"SUCCESS,FAILURE,DELAY",
		"NEVER",
	};

	return texts[notify & 15];
}

/* Write one command's text. */
static int
client_cmd_write(struct smtp_client *c, const struct client_cmd *cmd)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct smtp_client_tx *tx = c->tx;
	const struct smtp_wire_ehlo *e = &c->ehlo;
	int rc = 0;

	switch ((enum cmd_kind)cmd->kind) {
	case K_GREETING:
	case K_FINAL:
		return 0;
	case K_EHLO:
		rc = evbuffer_add_printf(out, "%s %s\r\n",
					 c->conf->lmtp ? "LHLO" : "EHLO",
					 c->conf->helo);
		break;
	case K_HELO:
		rc = evbuffer_add_printf(out, "HELO %s\r\n", c->conf->helo);
		break;
	case K_STARTTLS:
		rc = evbuffer_add(out, "STARTTLS\r\n", 10);
		break;
	case K_XCLIENT:
		rc = evbuffer_add_printf(out, "XCLIENT %s\r\n",
					 c->xlines[cmd->idx]);
		break;
	case K_XFORWARD:
		rc = evbuffer_add_printf(out, "XFORWARD %s\r\n",
					 c->xlines[cmd->idx]);
		break;
	case K_RSET:
	case K_RSET_END:
		rc = evbuffer_add(out, "RSET\r\n", 6);
		break;
	case K_MAIL: {
		char size[40] = "";

		if (tx->spool != NULL && (e->ext & SMTP_WIRE_SIZE))
			snprintf(size, sizeof(size), " SIZE=%llu",
				 (unsigned long long)pst_spool_size(tx->spool));
		rc = evbuffer_add_printf(
			out, "MAIL FROM:<%s>%s%s%s%s%s%s\r\n", tx->from, size,
			!(e->ext & SMTP_WIRE_8BITMIME)	 ? ""
			: tx->body == SMTP_BODY_8BITMIME ? " BODY=8BITMIME"
			: tx->body == SMTP_BODY_7BIT	 ? " BODY=7BIT"
							 : "",
			tx->smtputf8 ? " SMTPUTF8" : "",
			!(e->ext & SMTP_WIRE_DSN)  ? ""
			: tx->ret == SMTP_RET_FULL ? " RET=FULL"
			: tx->ret == SMTP_RET_HDRS ? " RET=HDRS"
						   : "",
			(e->ext & SMTP_WIRE_DSN) && tx->envid ? " ENVID=" : "",
			(e->ext & SMTP_WIRE_DSN) && tx->envid ? tx->envid : "");
		break;
	}
	case K_RCPT: {
		const struct relay_rcpt *r = &tx->rcpts[cmd->idx];
		bool dsn = (e->ext & SMTP_WIRE_DSN) != 0;

		rc = evbuffer_add_printf(
			out, "RCPT TO:<%s>%s%s%s%s\r\n", r->addr,
			dsn && r->notify ? " NOTIFY=" : "",
			dsn && r->notify ? client_notify_text(r->notify) : "",
			dsn && r->orcpt ? " ORCPT=" : "",
			dsn && r->orcpt ? r->orcpt : "");
		break;
	}
	case K_DATA:
		rc = evbuffer_add(out, "DATA\r\n", 6);
		break;
	case K_BDAT:
		rc = evbuffer_add_printf(
			out, "BDAT %llu LAST\r\n",
			(unsigned long long)pst_spool_size(tx->spool));
		break;
	}
	return rc < 0 ? -1 : 0;
}

/* Write what may go out now: everything with pipelining, else the next
 * command once the previous one has its reply. */
static void
client_flush(struct smtp_client *c)
{
	while (c->nsent < c->ncmds) {
		unsigned char kind = c->cmds[c->nsent].kind;

		if (!c->pipelining && c->nreplied < c->nsent)
			break;
		/* Every reply is in, yet more bytes wait: they answer
		 * nothing we sent, and would be taken for the reply to
		 * what we send now (reply desynchronisation). */
		if (c->nreplied == c->nsent && kind != K_GREETING &&
		    kind != K_FINAL &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			client_fail(c, "%s sent a reply to no command",
				    c->conf->peer);
			return;
		}
		if (client_cmd_write(c, &c->cmds[c->nsent]) < 0) {
			client_fail(c, "out of memory talking to %s",
				    c->conf->peer);
			return;
		}
		c->nsent++;
	}
	client_timeouts(c);
}

static int
client_send(struct smtp_client *c, enum cmd_kind kind, unsigned idx)
{
	if (client_cmd_push(c, kind, idx) < 0) {
		client_fail(c, "out of memory talking to %s", c->conf->peer);
		return -1;
	}
	client_flush(c);
	return 0;
}

/* ---- XCLIENT / XFORWARD ---- */

/* One attribute "NAME=xtext" appended to the lines being built. */
static void
client_xattr(struct smtp_client *c, const char *name, const char *value)
{
	char enc[CLIENT_XLINE_MAX];
	char *line;
	size_t len, add;

	if (smtp_wire_xtext(enc, sizeof(enc) - strlen(name) - 2, value) ==
	    (size_t)-1)
		return; /* longer than any valid value: leave it out */
	add = strlen(name) + 1 + strlen(enc);
	if (c->nxlines == 0 ||
	    strlen(c->xlines[c->nxlines - 1]) + 1 + add > CLIENT_XLINE_MAX) {
		if (c->nxlines == CLIENT_XLINES)
			return;
		c->xlines[c->nxlines++][0] = '\0';
	}
	line = c->xlines[c->nxlines - 1];
	len = strlen(line);
	snprintf(line + len, CLIENT_XLINE_MAX + 1 - len, "%s%s=%s",
		 len ? " " : "", name, enc);
}

/* Build XCLIENT (xclient) or XFORWARD lines for who, with only the
 * attributes the upstream listed.  Returns the number of lines. */
static unsigned
client_xbuild(struct smtp_client *c, const struct relay_client *who,
	      const char *qid, bool xclient)
{
	unsigned attrs =
		xclient ? c->ehlo.xclient_attrs : c->ehlo.xforward_attrs;
	char addr[80], port[16];

	c->nxlines = 0;
	if (who == NULL || who->addr == NULL)
		return 0;
	snprintf(addr, sizeof(addr), "%s%s",
		 strchr(who->addr, ':') ? "IPV6:" : "", who->addr);
	if (attrs & SMTP_WIRE_A_ADDR)
		client_xattr(c, "ADDR", addr);
	/* The client's port changes with every connection: XCLIENT
	 * leaves it out so a pooled connection keeps serving a client. */
	if (!xclient && (attrs & SMTP_WIRE_A_PORT) && who->port != 0) {
		snprintf(port, sizeof(port), "%u", who->port);
		client_xattr(c, "PORT", port);
	}
	if (attrs & SMTP_WIRE_A_NAME)
		client_xattr(c, "NAME",
			     who->name == NULL || who->name[0] == '\0' ||
					     strcmp(who->name, "unknown") == 0
				     ? "[UNAVAILABLE]"
				     : who->name);
	if ((attrs & SMTP_WIRE_A_PROTO) && who->proto != NULL)
		client_xattr(c, "PROTO", who->proto);
	if (attrs & SMTP_WIRE_A_HELO)
		client_xattr(c, "HELO",
			     who->helo == NULL || who->helo[0] == '\0'
				     ? "[UNAVAILABLE]"
				     : who->helo);
	if (!xclient && (attrs & SMTP_WIRE_A_IDENT) && qid != NULL)
		client_xattr(c, "IDENT", qid);
	if (!xclient && (attrs & SMTP_WIRE_A_SOURCE))
		client_xattr(c, "SOURCE", "REMOTE");
	return c->nxlines;
}

/* The identity the XCLIENT lines carry, to compare with who_id. */
static void
client_xid(struct smtp_client *c, char *out, size_t size)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < c->nxlines && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s\n", c->xlines[i]);
}

static bool
client_wants_xclient(const struct smtp_client *c)
{
	return c->conf->xclient && (c->ehlo.ext & SMTP_WIRE_XCLIENT) &&
	       !c->xclient_refused;
}

/* ---- TLS ---- */

static int
client_tls_start(struct smtp_client *c)
{
	struct bufferevent *filter;
	const char *name = c->conf->tls_name;
	SSL *ssl;

	if (c->conf->ssl_ctx == NULL) {
		client_fail(c, "TLS to %s: no TLS context", c->conf->peer);
		return -1;
	}
	ssl = SSL_new(c->conf->ssl_ctx);
	if (ssl == NULL) {
		client_fail(c, "TLS to %s: out of memory", c->conf->peer);
		return -1;
	}
	if (name != NULL && name[0] != '\0') {
		struct pst_sockaddr tmp;
		const char *err;
		char hp[300];
		bool is_ip;

		snprintf(hp, sizeof(hp), "%s%s%s:1",
			 strchr(name, ':') ? "[" : "", name,
			 strchr(name, ':') ? "]" : "");
		is_ip = pst_net_parse_hostport(hp, &tmp, &err) == 0;
		if (!is_ip)
			SSL_set_tlsext_host_name(ssl, name);
		if (c->conf->tls == RELAY_TLS_VERIFY) {
			X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
			int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param,
								       name)
				       : SSL_set1_host(ssl, name);

			if (ok != 1) {
				SSL_free(ssl);
				client_fail(c, "TLS to %s: bad name '%s'",
					    c->conf->peer, name);
				return -1;
			}
		}
	}
	SSL_set_verify(ssl,
		       c->conf->tls == RELAY_TLS_VERIFY ? SSL_VERIFY_PEER
							: SSL_VERIFY_NONE,
		       NULL);
	/* The filter stops encrypting while the socket's output is over
	 * this mark: the message body stays bounded under TLS too. */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, CLIENT_OUT_HIGH);
	filter = bufferevent_openssl_filter_new(
		c->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (filter == NULL) {
		SSL_free(ssl);
		client_fail(c, "TLS to %s: out of memory", c->conf->peer);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	c->bev = filter;
	c->ssl = ssl;
	c->phase = PH_TLS;
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
			  client_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	client_timeouts(c);
	return 0;
}

static void
client_tls_failed(struct smtp_client *c)
{
	char why[200] = "handshake failed";
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	long vr = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;

	if (c->conf->tls == RELAY_TLS_VERIFY && vr != X509_V_OK)
		snprintf(why, sizeof(why),
			 "certificate verification failed: %s",
			 X509_verify_cert_error_string(vr));
	else if (e != 0)
		ERR_error_string_n(e, why, sizeof(why));
	ERR_clear_error();
	c->tls_failed = true;
	client_fail(c, "TLS handshake with %s failed: %s", c->conf->peer, why);
}

static void
client_tls_done(struct smtp_client *c)
{
	c->tls_on = true;
	c->phase = PH_OPENING;
	if (c->conf->implicit_tls && c->nreplied == 0 && c->ncmds == 0) {
		client_send(c, K_GREETING, 0);
		return;
	}
	/* After STARTTLS everything learnt before is forgotten. */
	memset(&c->ehlo, 0, sizeof(c->ehlo));
	c->esmtp = false;
	client_send(c, K_EHLO, 0);
}

/* ---- the open sequence ---- */

static void
client_opened(struct smtp_client *c)
{
	c->open_who = NULL; /* the owner's memory: not kept */
	c->phase = PH_READY;
	client_notify(c, SMTP_CLIENT_OK, NULL, NULL);
}

static void client_refused(struct smtp_client *c,
			   const struct smtp_wire_reply *reply, const char *fmt,
			   ...) __attribute__((format(printf, 3, 4)));

static void
client_refused(struct smtp_client *c, const struct smtp_wire_reply *reply,
	       const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c->broken = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	client_notify(c, SMTP_CLIENT_REFUSED, reply, text);
}

/* After a successful EHLO (or HELO): STARTTLS, XCLIENT or ready. */
static void
client_next_open_step(struct smtp_client *c)
{
	bool tls_wanted = c->conf->tls != RELAY_TLS_NONE && !client_is_unix(c);

	if (!c->tls_on && tls_wanted && (c->ehlo.ext & SMTP_WIRE_STARTTLS)) {
		client_send(c, K_STARTTLS, 0);
		return;
	}
	if (!c->tls_on && tls_wanted &&
	    c->conf->tls != RELAY_TLS_OPPORTUNISTIC) {
		client_refused(c, NULL, "%s offers no STARTTLS (tls = %s)",
			       c->conf->peer,
			       c->conf->tls == RELAY_TLS_VERIFY ? "verify"
								: "required");
		return;
	}
	if (c->xclient_pending && client_wants_xclient(c) &&
	    client_xbuild(c, c->open_who, NULL, true) > 0) {
		c->xclient_pending = false;
		client_xid(c, c->new_id, sizeof(c->new_id));
		for (unsigned i = 0; i < c->nxlines; i++) {
			if (client_cmd_push(c, K_XCLIENT, i) < 0) {
				client_fail(c, "out of memory");
				return;
			}
		}
		client_flush(c);
		return;
	}
	c->xclient_pending = false;
	c->open_who = NULL;
	client_opened(c);
}

static void
client_open_reply(struct smtp_client *c, const struct client_cmd *cmd,
		  const struct smtp_wire_reply *r)
{
	switch ((enum cmd_kind)cmd->kind) {
	case K_GREETING:
		if (r->code != 220) {
			client_refused(
				c, r, "%s refused to talk to me: %u %s %s",
				c->conf->peer, r->code, r->enhanced, r->text);
			return;
		}
		memset(&c->ehlo, 0, sizeof(c->ehlo));
		client_send(c, K_EHLO, 0);
		return;
	case K_EHLO:
		if (r->code == 250) {
			c->esmtp = true;
			if (c->op == OP_RUN)
				client_tx_main(c);
			else
				client_next_open_step(c);
			return;
		}
		if (r->code >= 500 && !c->conf->lmtp && c->op == OP_OPEN) {
			memset(&c->ehlo, 0, sizeof(c->ehlo));
			client_send(c, K_HELO, 0);
			return;
		}
		if (c->op == OP_RUN) {
			client_fail(c, "%s refused EHLO after XCLIENT: %u %s",
				    c->conf->peer, r->code, r->text);
			return;
		}
		client_refused(c, r, "%s refused %s: %u %s %s", c->conf->peer,
			       c->conf->lmtp ? "LHLO" : "EHLO", r->code,
			       r->enhanced, r->text);
		return;
	case K_HELO:
		if (r->code != 250) {
			client_refused(c, r, "%s refused HELO: %u %s %s",
				       c->conf->peer, r->code, r->enhanced,
				       r->text);
			return;
		}
		c->esmtp = false;
		client_next_open_step(c);
		return;
	case K_STARTTLS:
		if (r->code != 220) {
			if (c->conf->tls == RELAY_TLS_OPPORTUNISTIC) {
				/* Offered, then refused: carry on in
				 * plain text, as opportunistic allows. */
				c->ehlo.ext &= ~SMTP_WIRE_STARTTLS;
				client_next_open_step(c);
				return;
			}
			client_refused(c, r, "%s refused STARTTLS: %u %s %s",
				       c->conf->peer, r->code, r->enhanced,
				       r->text);
			return;
		}
		/* Bytes after the 220 would be read as if protected by
		 * TLS (CVE-2011-0411 and kin): refuse the connection. */
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			client_fail(c,
				    "%s sent data after its STARTTLS reply: "
				    "possible command injection",
				    c->conf->peer);
			return;
		}
		client_tls_start(c);
		return;
	case K_XCLIENT:
		if (r->code != 220) {
			c->xclient_refused = true;
			if (c->op == OP_RUN) {
				client_fail(c, "%s refused XCLIENT: %u %s",
					    c->conf->peer, r->code, r->text);
				return;
			}
			/* Deliver anyway; the upstream logs us as the
			 * client.  Skip the remaining XCLIENT lines. */
			c->nsent = c->ncmds = c->nreplied;
			client_opened(c);
			return;
		}
		if (c->nreplied < c->ncmds)
			return; /* more XCLIENT lines */
		/* The upstream greeted again: EHLO anew. */
		snprintf(c->who_id, sizeof(c->who_id), "%s", c->new_id);
		memset(&c->ehlo, 0, sizeof(c->ehlo));
		client_send(c, K_EHLO, 0);
		return;
	default:
		client_fail(c, "%s: unexpected reply %u", c->conf->peer,
			    r->code);
		return;
	}
}

/* ---- the transaction ---- */

static int
client_emit(void *arg, const char *p, size_t len)
{
	return evbuffer_add(arg, p, len);
}

/* Queue the message while the output buffer has room. */
static void
client_body_pump(struct smtp_client *c)
{
	struct smtp_client_tx *tx = c->tx;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (!c->body_done && evbuffer_get_length(out) < CLIENT_OUT_HIGH) {
		ssize_t n = pst_spool_pread(tx->spool, c->block, CLIENT_BLOCK,
					    c->body_off);
		int rc;

		if (n < 0) {
			client_fail(c, "cannot read the spooled message: %s",
				    strerror(errno));
			return;
		}
		if (n == 0) {
			if (!c->bdat &&
			    smtp_wire_dot_end(&c->dot, client_emit, out) < 0) {
				client_fail(c, "out of memory");
				return;
			}
			c->body_done = true;
			tx->data_sent = true;
			break;
		}
		if (c->bdat)
			rc = evbuffer_add(out, c->block, (size_t)n);
		else
			rc = smtp_wire_dot_stuff(&c->dot, c->block, (size_t)n,
						 client_emit, out);
		if (rc < 0) {
			client_fail(c, "out of memory");
			return;
		}
		c->body_off += (uint64_t)n;
		/* A spool that grew past the size BDAT announced. */
		if (c->bdat && c->body_off > pst_spool_size(tx->spool)) {
			client_fail(c, "spooled message changed size");
			return;
		}
	}
	if (!c->body_done)
		return; /* the write callback calls again */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	c->phase = PH_TX;
	/* The end of data's replies: one, or one per accepted recipient. */
	if (c->conf->lmtp) {
		bool skip = c->bdat; /* BDAT LAST's reply is the first */

		for (size_t i = 0; i < tx->nrcpt; i++) {
			if (tx->rcpt[i].code < 200 || tx->rcpt[i].code >= 300)
				continue;
			if (skip) {
				skip = false;
				continue;
			}
			if (client_cmd_push(c, K_FINAL, (unsigned)i) < 0) {
				client_fail(c, "out of memory");
				return;
			}
		}
	} else if (!c->bdat && client_cmd_push(c, K_FINAL, 0) < 0) {
		client_fail(c, "out of memory");
		return;
	}
	client_flush(c);
}

static void
client_body_start(struct smtp_client *c)
{
	if (c->block == NULL) {
		c->block = malloc(CLIENT_BLOCK);
		if (c->block == NULL) {
			client_fail(c, "out of memory");
			return;
		}
	}
	c->phase = PH_BODY;
	c->body_done = false;
	c->body_off = 0;
	memset(&c->dot, 0, sizeof(c->dot));
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_OUT_LOW, 0);
	client_body_pump(c);
}

/* The transaction's end: report when every reply is in. */
static void
client_tx_maybe_done(struct smtp_client *c)
{
	if (c->phase == PH_BODY || c->nreplied < c->ncmds)
		return;
	client_notify(c, SMTP_CLIENT_OK, NULL, NULL);
}

static void
client_tx_reply(struct smtp_client *c, const struct client_cmd *cmd,
		const struct smtp_wire_reply *r)
{
	struct smtp_client_tx *tx = c->tx;
	bool ok = r->code >= 200 && r->code < 300;

	switch ((enum cmd_kind)cmd->kind) {
	case K_RSET:
		if (!ok) {
			client_fail(c, "%s refused RSET: %u %s", c->conf->peer,
				    r->code, r->text);
			return;
		}
		break;
	case K_XFORWARD:
		break; /* a refusal costs only the log detail */
	case K_MAIL:
		tx->mail = *r;
		tx->mail_accepted = ok;
		if (!ok && !c->pipelining)
			client_cmds_cut(c);
		break;
	case K_RCPT:
		tx->rcpt[cmd->idx] = *r;
		if (ok)
			c->accepted++;
		if (cmd->idx + 1 < tx->nrcpt)
			break;
		/* The last recipient: all of them, or nothing is sent. */
		if (tx->mail_accepted && c->accepted > 0 &&
		    c->accepted < tx->nrcpt)
			tx->abandoned = true;
		if (tx->spool == NULL)
			break; /* a probe: RSET follows */
		if (!tx->mail_accepted || c->accepted < tx->nrcpt) {
			if (!c->pipelining || c->bdat) {
				client_cmds_cut(c);
				if (tx->mail_accepted &&
				    client_send(c, K_RSET_END, 0) < 0)
					return;
			}
			break;
		}
		if (c->bdat) {
			if (client_send(c, K_BDAT, 0) < 0)
				return; /* recipient 0 is the first accepted */
			client_body_start(c);
			return;
		}
		break;
	case K_DATA:
		tx->data = *r;
		if (r->code != 354)
			break;
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			/* Nothing may follow 354 before our message. */
			client_fail(c, "%s sent data after its 354 reply",
				    c->conf->peer);
			return;
		}
		if (!tx->mail_accepted || c->accepted < tx->nrcpt) {
			/* The upstream waits for a message we will not
			 * send: only closing the connection abandons the
			 * transaction now (a "." would deliver it). */
			c->broken = true;
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
			client_notify(c, SMTP_CLIENT_OK, NULL, NULL);
			return;
		}
		client_body_start(c);
		return;
	case K_BDAT:
	case K_FINAL:
		tx->final[c->conf->lmtp ? cmd->idx : 0] = *r;
		break;
	case K_RSET_END:
		break;
	default:
		client_fail(c, "%s: unexpected reply %u", c->conf->peer,
			    r->code);
		return;
	}
	client_tx_maybe_done(c);
}

/* Queue the transaction's commands (after any XCLIENT renewal). */
static void
client_tx_main(struct smtp_client *c)
{
	struct smtp_client_tx *tx = c->tx;
	unsigned ext = c->ehlo.ext;

	/* Never hand an upstream what it did not agree to take. */
	if (tx->body == SMTP_BODY_8BITMIME && !(ext & SMTP_WIRE_8BITMIME))
		tx->refusal = 550;
	else if (tx->smtputf8 && !(ext & SMTP_WIRE_SMTPUTF8))
		tx->refusal = 553;
	if (tx->refusal != 0) {
		client_cmds_cut(c); /* a queued RSET is not needed */
		client_tx_maybe_done(c);
		return;
	}
	c->pipelining = (ext & SMTP_WIRE_PIPELINING) != 0;
	c->bdat = tx->spool != NULL && (ext & SMTP_WIRE_CHUNKING);
	if (c->conf->xclient && !client_wants_xclient(c) &&
	    (ext & SMTP_WIRE_XFORWARD) &&
	    client_xbuild(c, tx->who, tx->qid, false) > 0) {
		for (unsigned i = 0; i < c->nxlines; i++)
			if (client_cmd_push(c, K_XFORWARD, i) < 0)
				goto oom;
	}
	if (client_cmd_push(c, K_MAIL, 0) < 0)
		goto oom;
	for (size_t i = 0; i < tx->nrcpt; i++)
		if (client_cmd_push(c, K_RCPT, (unsigned)i) < 0)
			goto oom;
	if (tx->spool == NULL) {
		if (client_cmd_push(c, K_RSET_END, 0) < 0)
			goto oom;
	} else if (!c->bdat) {
		if (client_cmd_push(c, K_DATA, 0) < 0)
			goto oom;
	}
	client_flush(c);
	return;
oom:
	client_fail(c, "out of memory");
}

/* Text that would break a command line, from a caller that should have
 * refused it already. */
static bool
client_bad_text(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

int
smtp_client_run(struct smtp_client *c, struct smtp_client_tx *tx,
		smtp_client_cb *cb, void *arg)
{
	bool renew = false;

	if (c->broken || (c->phase != PH_READY && c->phase != PH_IDLE) ||
	    tx->nrcpt == 0 || (tx->spool == NULL && tx->nrcpt != 1))
		return -1;
	if (client_bad_text(tx->from) || client_bad_text(tx->envid))
		return -1;
	for (size_t i = 0; i < tx->nrcpt; i++)
		if (client_bad_text(tx->rcpts[i].addr) ||
		    client_bad_text(tx->rcpts[i].orcpt))
			return -1;
	c->op = OP_RUN;
	c->cb = cb;
	c->arg = arg;
	c->tx = tx;
	c->phase = PH_TX;
	c->accepted = 0;
	c->bdat = false;
	client_cmds_reset(c);
	smtp_wire_reply_init(&c->reply);
	smtp_wire_reply_init(&tx->mail);
	smtp_wire_reply_init(&tx->data);
	for (size_t i = 0; i < tx->nrcpt; i++) {
		smtp_wire_reply_init(&tx->rcpt[i]);
		smtp_wire_reply_init(&tx->final[i]);
	}
	tx->refusal = 0;
	tx->failed = tx->stale = tx->mail_accepted = false;
	tx->data_sent = tx->abandoned = false;
	tx->fail_text[0] = '\0';
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		/* Said something while idle: a 421 on its way out. */
		tx->reset = true;
		client_fail(c, "%s sent data while idle", c->conf->peer);
		return 0;
	}
	/* XCLIENT names the client for the whole session: a connection
	 * that served another client hears the new one first. */
	if (tx->who != NULL && client_wants_xclient(c) &&
	    client_xbuild(c, tx->who, NULL, true) > 0) {
		client_xid(c, c->new_id, sizeof(c->new_id));
		renew = strcmp(c->new_id, c->who_id) != 0;
	}
	if (renew) {
		tx->reset = true; /* the connection's state is in doubt */
		for (unsigned i = 0; i < c->nxlines; i++)
			if (client_cmd_push(c, K_XCLIENT, i) < 0) {
				client_fail(c, "out of memory");
				return 0;
			}
		c->pipelining = false;
		client_flush(c);
		return 0;
	}
	if (tx->reset && client_cmd_push(c, K_RSET, 0) < 0) {
		client_fail(c, "out of memory");
		return 0;
	}
	client_tx_main(c);
	return 0;
}

/* ---- reading ---- */

static void
client_reply(struct smtp_client *c, const struct smtp_wire_reply *r)
{
	struct client_cmd cmd;
	const char *stage = client_stage(c);

	if (c->nreplied >= c->nsent) {
		client_fail(c, "%s sent an unexpected reply: %u %s",
			    c->conf->peer, r->code, r->text);
		return;
	}
	cmd = c->cmds[c->nreplied++];
	if (r->code == 421) {
		/* The upstream closes the session.  Before end of data it
		 * is the connection that failed, not the transaction. */
		c->no_reuse = true;
		if (cmd.kind != K_GREETING && cmd.kind != K_FINAL &&
		    cmd.kind != K_BDAT) {
			client_fail(c, "%s closed the session while %s: %u %s",
				    c->conf->peer, stage, r->code, r->text);
			return;
		}
	}
	if (c->op == OP_OPEN ||
	    (c->op == OP_RUN && (cmd.kind == K_XCLIENT || cmd.kind == K_EHLO)))
		client_open_reply(c, &cmd, r);
	else if (c->op == OP_RUN)
		client_tx_reply(c, &cmd, r);
	else
		client_fail(c, "%s sent an unexpected reply: %u %s",
			    c->conf->peer, r->code, r->text);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[SMTP_WIRE_LINE_MAX + 1];

	while (c->phase != PH_NOTIFY && !c->broken && bev == c->bev &&
	       c->phase != PH_TLS) {
		struct evbuffer_ptr eol;
		size_t eol_len = 0, len;
		bool first;
		int rc;

		if (c->phase == PH_IDLE) {
			client_fail(c, "%s sent data while idle",
				    c->conf->peer);
			return;
		}
		if (evbuffer_get_length(in) == 0)
			return;
		eol = evbuffer_search_eol(in, NULL, &eol_len,
					  EVBUFFER_EOL_CRLF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > SMTP_WIRE_LINE_MAX)
				client_fail(c,
					    "%s sent a reply line that is "
					    "too long",
					    c->conf->peer);
			return;
		}
		len = (size_t)eol.pos;
		if (len > SMTP_WIRE_LINE_MAX) {
			client_fail(c, "%s sent a reply line that is too long",
				    c->conf->peer);
			return;
		}
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		line[len] = '\0';
		if (c->nreplied >= c->nsent) {
			client_fail(c, "%s sent an unexpected reply: %s",
				    c->conf->peer, line);
			return;
		}
		first = c->reply.nlines == 0;
		rc = smtp_wire_reply_feed(&c->reply, line, len);
		if (rc < 0) {
			client_fail(c, "%s sent a malformed reply while %s",
				    c->conf->peer, client_stage(c));
			return;
		}
		if (c->cmds[c->nreplied].kind == K_EHLO && !first &&
		    c->reply.code == 250 && len > 4)
			smtp_wire_ehlo_line(&c->ehlo, line + 4, len - 4);
		if (rc == 1) {
			struct smtp_wire_reply r = c->reply;

			smtp_wire_reply_init(&c->reply);
			client_reply(c, &r);
			/* Without PIPELINING the next command goes now. */
			if (c->phase != PH_NOTIFY && !c->broken &&
			    c->phase != PH_TLS)
				client_flush(c);
		}
	}
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;

	(void)bev;
	if (c->phase == PH_BODY)
		client_body_pump(c);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;
	int err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->phase == PH_TLS)
			client_tls_done(c);
		return;
	}
	if (c->phase == PH_NOTIFY || c->broken) {
		c->broken = true;
		return;
	}
	if (c->phase == PH_TLS && (what & BEV_EVENT_ERROR)) {
		client_tls_failed(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->phase == PH_IDLE)
			/* Healthy, just old: the owner may say QUIT. */
			client_notify(c, SMTP_CLIENT_OK, NULL, "expired");
		else
			client_fail(c,
				    "conversation with %s timed out while %s",
				    c->conf->peer, client_stage(c));
		return;
	}
	if ((what & BEV_EVENT_ERROR) && err != 0 && c->ssl == NULL)
		client_fail(c, "lost connection with %s while %s: %s",
			    c->conf->peer, client_stage(c), strerror(err));
	else
		client_fail(c, "lost connection with %s while %s",
			    c->conf->peer, client_stage(c));
}

/* ---- connecting ---- */

static void
client_connected(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	event_free(c->connect_ev);
	c->connect_ev = NULL;
	if (what & EV_TIMEOUT) {
		client_fail(c, "connect to %s: Connection timed out",
			    c->conf->peer);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		client_fail(c, "connect to %s: %s", c->conf->peer,
			    strerror(err));
		return;
	}
	c->bev = bufferevent_socket_new(
		c->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL) {
		client_fail(c, "connect to %s: out of memory", c->conf->peer);
		return;
	}
	c->fd = -1; /* the bufferevent owns it */
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
			  client_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->phase = PH_OPENING;
	if (c->conf->implicit_tls) {
		client_tls_start(c);
		return;
	}
	client_send(c, K_GREETING, 0);
}

struct smtp_client *
smtp_client_open(struct event_base *base, const struct smtp_client_conf *conf,
		 const struct relay_client *who, smtp_client_cb *cb, void *arg,
		 const char **error_r)
{
	struct smtp_client *c = calloc(1, sizeof(*c));
	struct timeval tv = client_tv(conf->connect_ms);

	if (c == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	c->base = base;
	c->conf = conf;
	c->fd = -1;
	c->op = OP_OPEN;
	c->cb = cb;
	c->arg = arg;
	c->phase = PH_CONNECTING;
	c->open_who = who;
	c->xclient_pending = who != NULL && conf->xclient;
	smtp_wire_reply_init(&c->reply);
	c->notify_ev = event_new(base, -1, 0, client_notify_cb, c);
	if (c->notify_ev == NULL) {
		free(c);
		*error_r = "out of memory";
		return NULL;
	}
	c->fd = socket(conf->addr.u.sa.sa_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		event_free(c->notify_ev);
		free(c);
		*error_r = "cannot create a socket";
		return NULL;
	}
	if (connect(c->fd, &conf->addr.u.sa, conf->addr.len) < 0 &&
	    errno != EINPROGRESS) {
		client_fail(c, "connect to %s: %s", conf->peer,
			    strerror(errno));
		return c;
	}
	c->connect_ev = event_new(base, c->fd, EV_WRITE, client_connected, c);
	if (c->connect_ev == NULL || event_add(c->connect_ev, &tv) < 0) {
		client_fail(c, "connect to %s: out of memory", conf->peer);
		return c;
	}
	return c;
}

void
smtp_client_idle(struct smtp_client *c, uint64_t idle_ms, smtp_client_cb *cb,
		 void *arg)
{
	c->op = OP_IDLE;
	c->cb = cb;
	c->arg = arg;
	c->idle_ms = idle_ms ? idle_ms : 1;
	c->phase = PH_IDLE;
	c->tx = NULL;
	client_cmds_reset(c);
	bufferevent_enable(c->bev, EV_READ);
	client_timeouts(c);
	/* Anything already waiting means trouble. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		client_fail(c, "%s sent data while idle", c->conf->peer);
}

bool
smtp_client_reusable(const struct smtp_client *c)
{
	return !c->broken && !c->no_reuse && c->bev != NULL &&
	       c->phase == PH_READY && c->nreplied == c->nsent;
}

const char *
smtp_client_peer(const struct smtp_client *c)
{
	return c->conf->peer;
}

bool
smtp_client_tls_failed(const struct smtp_client *c)
{
	return c->tls_failed;
}

const struct smtp_wire_ehlo *
smtp_client_ehlo(const struct smtp_client *c)
{
	return &c->ehlo;
}

void
smtp_client_close(struct smtp_client **client_p, bool quit)
{
	struct smtp_client *c = *client_p;

	if (c == NULL)
		return;
	*client_p = NULL;
	if (quit && c->bev != NULL && !c->broken && c->ssl == NULL &&
	    (c->phase == PH_READY || c->phase == PH_IDLE) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		/* Best effort, never waits: the socket buffer is empty. */
		evutil_socket_t fd = bufferevent_getfd(c->bev);
		ssize_t rc =
			send(fd, "QUIT\r\n", 6, MSG_DONTWAIT | MSG_NOSIGNAL);

		(void)rc;
	}
	if (c->connect_ev != NULL)
		event_free(c->connect_ev);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	else if (c->fd >= 0)
		close(c->fd);
	event_free(c->notify_ev);
	free(c->cmds);
	free(c->block);
	free(c);
}
