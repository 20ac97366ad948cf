/*
 * smtpd_xclient.c - who the client is, when a host we trust says so:
 * the PROXY protocol header (util/proxy.c) a load balancer listed in
 * smtp.proxy_protocol_hosts sends before the greeting, and the XCLIENT
 * command (Postfix's XCLIENT_README) from smtp.xclient_hosts.
 *
 * Both replace the session's client (s->peer, s->addr, s->name), so
 * that everything after them — log lines, Received:, relay control,
 * the filter chain, XCLIENT/XFORWARD to upstreams — sees the client as
 * presented.  Connection counting: a PROXY header moves the count from
 * the balancer's address to the client's (one TCP connection through
 * the balancer is one client connection); XCLIENT leaves it where it is
 * (see smtpd_xclient).
 *
 * Runs on the session's loop, like the rest of the session.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "ascii.h"
#include "conn_limits.h"
#include "log.h"
#include "proxy.h"
#include "smtp_addr.h"
#include "smtpd_int.h"

/* The most a complete header can take (version 2 is the longer). */
#define PROXY_PEEK (16 + PST_PROXY_V2_MAX_PAYLOAD)

/* Longest decoded XCLIENT value we keep (NAME, HELO, LOGIN). */
#define XCLIENT_VALUE_MAX 255

static uint64_t
smtpd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- PROXY ---- */

bool
smtpd_xclient_proxy_start(struct smtpd_session *s)
{
	const struct smtpd_settings *smtp = &smtpd_settings(s)->smtp;

	if (!pst_cidr_list_match(smtp->proxy_hosts,
				 (unsigned)smtp->nproxy_hosts, &s->peer.u.sa))
		return false;
	/* Nothing is said before the header: a balancer that forwards
	 * the client's bytes must not forward our greeting first. */
	s->state = SMTPD_PROXY;
	s->proxy_deadline = smtpd_now_ms() + smtp->proxy_timeout;
	smtpd_set_timeout(s, smtp->proxy_timeout);
	return true;
}

void
smtpd_xclient_proxy_event(struct smtpd_session *s, short what)
{
	if (what & BEV_EVENT_TIMEOUT)
		pst_log(PST_LOG_WARNING, "smtpd",
			"warning: no PROXY header from %s within %llums",
			s->addr,
			(unsigned long long)smtpd_settings(s)
				->smtp.proxy_timeout);
	else
		pst_log(PST_LOG_WARNING, "smtpd",
			"warning: lost connection while reading the PROXY "
			"header from %s",
			s->addr);
}

/* The client behind the balancer is the session's client now, and the
 * count moves to its address; over its limit it is refused. */
static void
smtpd_xclient_proxy_take(struct smtpd_session *s,
			 const struct pst_sockaddr *client)
{
	const struct postern_settings *st = smtpd_settings(s);
	struct limits *limits = s->worker->server->limits;
	char via[PST_NET_ADDRSTRLEN + 16], addr[PST_NET_ADDRSTRLEN];

	pst_net_addr_str(&client->u.sa, addr, sizeof(addr));
	/* Counted under both for a moment: never under neither. */
	if (limits_enter(limits, &client->u.sa) != LIMITS_OK) {
		pst_log(PST_LOG_WARNING, "smtpd",
			"warning: too many connections from %s (via proxy %s)",
			addr, s->addr);
		smtpd_reply(s, 421, "4.7.0",
			    "%s Error: too many connections from %s",
			    st->hostname, addr);
		smtpd_close_after_reply(s);
		return;
	}
	limits_leave(limits, &s->counted.sa);
	memset(&s->counted, 0, sizeof(s->counted));
	memcpy(&s->counted, &client->u,
	       client->len < sizeof(s->counted) ? client->len
						: sizeof(s->counted));
	snprintf(via, sizeof(via), "proxy %s", s->addr);
	s->peer = *client;
	memcpy(s->addr, addr, sizeof(s->addr));
	smtpd_session_begin(s, via);
}

int
smtpd_xclient_proxy_read(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t have = evbuffer_get_length(in);
	size_t n = have < PROXY_PEEK ? have : PROXY_PEEK;
	const unsigned char *p;
	struct pst_proxy_header h;
	const char *error = NULL;
	uint64_t now;

	if (n == 0)
		return 0;
	p = evbuffer_pullup(in, (ev_ssize_t)n);
	if (p == NULL) {
		pst_log(PST_LOG_ERR, "smtpd",
			"reading the PROXY header from %s: out of memory",
			s->addr);
		smtpd_session_close(s);
		return -1;
	}
	switch (pst_proxy_parse(p, n, &h, &error)) {
	case PST_PROXY_MORE:
		/* The timeout is for the whole header, however slowly it
		 * trickles in: re-arm with what is left of it. */
		now = smtpd_now_ms();
		if (now >= s->proxy_deadline) {
			smtpd_xclient_proxy_event(s, BEV_EVENT_TIMEOUT);
			smtpd_session_close(s);
			return -1;
		}
		smtpd_set_timeout(s, s->proxy_deadline - now);
		return 0;
	case PST_PROXY_ERROR:
		pst_log(PST_LOG_WARNING, "smtpd",
			"warning: bad PROXY header from %s: %s", s->addr,
			error);
		smtpd_session_close(s);
		return -1;
	case PST_PROXY_DONE:
		break;
	}
	evbuffer_drain(in, h.len);
	s->state = SMTPD_CMD;
	smtpd_set_timeout(s, smtpd_settings(s)->smtp.command_timeout);
	if (h.local) {
		/* A health check, or a client without an IP address: the
		 * balancer is the client. */
		smtpd_session_begin(s, NULL);
		return 0;
	}
	smtpd_xclient_proxy_take(s, &h.src);
	return 0;
}

/* ---- XCLIENT ---- */

/* What one XCLIENT command asks for, applied only once all of it has
 * been found valid. */
struct xclient_req {
	bool has_addr, has_port, has_name, has_helo, has_proto, has_login;
	struct pst_sockaddr addr; /* AF_UNSPEC: [UNAVAILABLE] */
	unsigned port;		  /* 0: [UNAVAILABLE] */
	bool esmtp;
	char name[XCLIENT_VALUE_MAX + 1];  /* "unknown": [UNAVAILABLE] */
	char helo[XCLIENT_VALUE_MAX + 1];  /* "": [UNAVAILABLE] */
	char login[XCLIENT_VALUE_MAX + 1]; /* "": [UNAVAILABLE] */
};

/* xtext (RFC 3461 section 4) into out[size], NUL-terminated; the
 * decoded length in *len_r.  -1: empty, malformed or too long. */
static int
xclient_xtext(struct pst_str v, char *out, size_t size, size_t *len_r)
{
	size_t n = 0;

	if (v.len == 0)
		return -1;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (n + 1 >= size)
			return -1;
		if (c == '+') {
			int hi, lo;

			if (v.len - i < 3 ||
			    (hi = pst_hexval((unsigned char)v.p[i + 1])) < 0 ||
			    (lo = pst_hexval((unsigned char)v.p[i + 2])) < 0)
				return -1;
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c < 33 || c > 126) {
			return -1;
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	*len_r = n;
	return 0;
}

static bool
xclient_unavailable(const char *v)
{
	return strcasecmp(v, "[UNAVAILABLE]") == 0 ||
	       strcasecmp(v, "[TEMPUNAVAIL]") == 0;
}

/* Printable ASCII only: a NUL or control byte from "+00" is refused. */
static bool
xclient_printable(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
			return false;
	return true;
}

/* ADDR: an IPv4 address, or "IPV6:" and an IPv6 address. */
static int
xclient_addr(const char *v, struct pst_sockaddr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (strncasecmp(v, "IPV6:", 5) == 0) {
		sa->u.sin6.sin6_family = AF_INET6;
		sa->len = sizeof(sa->u.sin6);
		return inet_pton(AF_INET6, v + 5, &sa->u.sin6.sin6_addr) == 1
			       ? 0
			       : -1;
	}
	sa->u.sin.sin_family = AF_INET;
	sa->len = sizeof(sa->u.sin);
	return inet_pton(AF_INET, v, &sa->u.sin.sin_addr) == 1 ? 0 : -1;
}

static int
xclient_port(const char *v, unsigned *port_r)
{
	unsigned port = 0;
	size_t n;

	for (n = 0; v[n] >= '0' && v[n] <= '9'; n++) {
		if (n == 5)
			return -1;
		port = port * 10 + (unsigned)(v[n] - '0');
	}
	if (n == 0 || v[n] != '\0' || port > 65535)
		return -1;
	*port_r = port;
	return 0;
}

/* One NAME=value into r.  0, or -1 when the value is bad. */
static int
xclient_attr(struct xclient_req *r, struct pst_str name, const char *v,
	     size_t len)
{
	/* "+00" decodes to a NUL that C string functions would stop at */
	bool nul = strlen(v) != len;
	bool unavail = !nul && xclient_unavailable(v);

	if (pst_str_caseeq_cstr(name, "ADDR")) {
		r->has_addr = true;
		if (unavail) {
			memset(&r->addr, 0, sizeof(r->addr));
			return 0;
		}
		return nul ? -1 : xclient_addr(v, &r->addr);
	}
	if (pst_str_caseeq_cstr(name, "PORT")) {
		r->has_port = true;
		r->port = 0;
		if (unavail)
			return 0;
		return nul ? -1 : xclient_port(v, &r->port);
	}
	if (pst_str_caseeq_cstr(name, "NAME")) {
		r->has_name = true;
		if (unavail) {
			snprintf(r->name, sizeof(r->name), "unknown");
			return 0;
		}
		/* a host name, not an address literal */
		if (v[0] == '[' || !xclient_printable(v, len) ||
		    !smtp_addr_domain_valid((struct pst_str){ v, len }, false))
			return -1;
		memcpy(r->name, v, len + 1);
		return 0;
	}
	if (pst_str_caseeq_cstr(name, "HELO")) {
		r->has_helo = true;
		r->helo[0] = '\0';
		if (unavail)
			return 0;
		if (len > SMTPD_HELO_MAX)
			return -1;
		/* kept printable, as EHLO's argument is */
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)v[i];

			r->helo[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
		}
		r->helo[len] = '\0';
		return 0;
	}
	if (pst_str_caseeq_cstr(name, "PROTO")) {
		r->has_proto = true;
		if (nul)
			return -1;
		if (strcasecmp(v, "SMTP") == 0)
			r->esmtp = false;
		else if (strcasecmp(v, "ESMTP") == 0)
			r->esmtp = true;
		else
			return -1;
		return 0;
	}
	if (pst_str_caseeq_cstr(name, "LOGIN")) {
		r->has_login = true;
		r->login[0] = '\0';
		if (unavail)
			return 0;
		if (!xclient_printable(v, len))
			return -1;
		memcpy(r->login, v, len + 1);
		return 0;
	}
	return 1; /* not an attribute we know */
}

/* What the client sent, safe to echo in a reply or a log line. */
static void
xclient_echo(char *out, size_t size, struct pst_str v)
{
	size_t n = v.len < size - 1 ? v.len : size - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v.p[i];

		out[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[n] = '\0';
}

/* Parse every attribute of the command; on error reply and return -1. */
static int
xclient_parse(struct smtpd_session *s, struct pst_str arg,
	      struct xclient_req *r)
{
	size_t pos = 0;
	bool any = false;

	while (pos < arg.len) {
		struct pst_str tok, name, val;
		char value[XCLIENT_VALUE_MAX + 1], echo[64];
		const char *eq;
		size_t start, len;
		int rc;

		while (pos < arg.len &&
		       (arg.p[pos] == ' ' || arg.p[pos] == '\t'))
			pos++;
		if (pos == arg.len)
			break;
		start = pos;
		while (pos < arg.len && arg.p[pos] != ' ' && arg.p[pos] != '\t')
			pos++;
		tok = (struct pst_str){ arg.p + start, pos - start };
		eq = memchr(tok.p, '=', tok.len);
		if (eq == NULL || eq == tok.p) {
			smtpd_reply(s, 501, "5.5.4",
				    "Syntax: XCLIENT attribute=value");
			return -1;
		}
		name = (struct pst_str){ tok.p, (size_t)(eq - tok.p) };
		val = (struct pst_str){ eq + 1, tok.len - name.len - 1 };
		xclient_echo(echo, sizeof(echo), name);
		if (xclient_xtext(val, value, sizeof(value), &len) < 0)
			rc = -1;
		else
			rc = xclient_attr(r, name, value, len);
		if (rc > 0) {
			smtpd_reply(s, 501, "5.5.4",
				    "Bad XCLIENT attribute name: %s", echo);
			return -1;
		}
		if (rc < 0) {
			char bad[64];

			xclient_echo(bad, sizeof(bad), val);
			smtpd_reply(s, 501, "5.5.4", "Bad %s syntax: %s", echo,
				    bad);
			return -1;
		}
		any = true;
	}
	if (!any) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: XCLIENT attribute=value");
		return -1;
	}
	return 0;
}

static void
xclient_set_port(struct pst_sockaddr *sa, unsigned port)
{
	if (sa->u.sa.sa_family == AF_INET)
		sa->u.sin.sin_port = htons((uint16_t)port);
	else if (sa->u.sa.sa_family == AF_INET6)
		sa->u.sin6.sin6_port = htons((uint16_t)port);
}

/* The session as for a new connection from the presented client, with
 * what this command said (Postfix: HELO and PROTO not given are reset,
 * NAME, ADDR and PORT not given stay).  name: r->name on the heap, or
 * NULL for "unknown"; the session owns it now. */
static void
xclient_apply(struct smtpd_session *s, const struct xclient_req *r, char *name)
{
	unsigned port = pst_net_port(&s->peer.u.sa);

	if (r->has_addr) {
		s->peer = r->addr;
		if (r->addr.u.sa.sa_family == AF_UNSPEC)
			snprintf(s->addr, sizeof(s->addr), "unknown");
		else
			pst_net_addr_str(&s->peer.u.sa, s->addr,
					 sizeof(s->addr));
	}
	xclient_set_port(&s->peer, r->has_port ? r->port : port);
	if (r->has_name) {
		free(s->name_buf);
		s->name_buf = name;
		s->name = name != NULL ? name : "unknown";
	}
	s->helo[0] = '\0';
	s->helo_seen = false;
	s->esmtp = false;
	if (r->has_helo && r->helo[0] != '\0') {
		memcpy(s->helo, r->helo, sizeof(s->helo));
		s->helo_seen = true;
	}
	if (r->has_proto)
		s->esmtp = r->esmtp;
	if (r->has_login) { /* [UNAVAILABLE]: no longer authenticated */
		free(s->login);
		s->login = r->login[0] != '\0' ? strdup(r->login) : NULL;
	}
	/* verdicts on the previous client's connection and HELO */
	s->discard_all = false;
	s->quarantine_all[0] = '\0';
	s->quarantine_all_by[0] = '\0';
}

void
smtpd_xclient(struct smtpd_session *s, const struct smtp_cmd *cmd)
{
	struct xclient_req r;
	char was[PST_NET_ADDRSTRLEN + SMTPD_NAME_MAX + 4];
	char *name = NULL;
	char login[XCLIENT_VALUE_MAX * 4 + 16];

	if (!s->xclient_ok) {
		smtpd_reject(s, "XCLIENT", 550, "5.7.0",
			     "Error: insufficient authorization");
		return;
	}
	if (s->has_txn) {
		smtpd_reply(s, 503, "5.5.1",
			    "Error: MAIL transaction in progress");
		return;
	}
	memset(&r, 0, sizeof(r));
	if (xclient_parse(s, cmd->arg, &r) < 0)
		return;
	if (r.has_name && strcmp(r.name, "unknown") != 0 &&
	    (name = strdup(r.name)) == NULL) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	snprintf(was, sizeof(was), "%s[%s]", s->name, s->addr);
	xclient_apply(s, &r, name);
	login[0] = '\0';
	if (r.has_login && r.login[0] != '\0') {
		char safe[XCLIENT_VALUE_MAX * 4 + 1];

		pst_log_sanitize(safe, sizeof(safe), r.login,
				 (unsigned)strlen(r.login));
		snprintf(login, sizeof(login), ", login=<%s>", safe);
	}
	/*
	 * The connection counts stay with the TCP peer: an XCLIENT sender
	 * (a content filter, a test tool) keeps one connection for many
	 * clients, and what the limits protect is our sockets.
	 */
	pst_log(PST_LOG_INFO, "smtpd",
		"connect from %s[%s] (via XCLIENT from %s)%s", s->name, s->addr,
		was, login);
	/* The filters meet a new client: close their view of the old one
	 * and run the connect stage again, as for a new connection. */
	smtpd_filter_close(s);
	if (smtpd_filter_open(s) < 0 ||
	    (s->helo_seen && filter_ctx_set_helo(s->fctx, s->helo) < 0)) {
		smtpd_reply(s, 421, "4.3.0", "%s Error: out of memory",
			    smtpd_settings(s)->hostname);
		smtpd_close_after_reply(s);
		return;
	}
	if (s->tls)
		filter_ctx_set_tls(s->fctx, s->tls_info);
	/* The reply to XCLIENT is the new greeting, or the refusal. */
	smtpd_filter_run(s, FILTER_CONNECT, NULL, smtpd_connect_filtered);
}
