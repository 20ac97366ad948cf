/*
 * mbox_pop3.c - POP3 before login (RFC 1939, RFC 2449 CAPA and response
 * codes, RFC 2595 STLS, RFC 5034 AUTH): postern's own greeting, CAPA,
 * STLS, USER/PASS, AUTH PLAIN, NOOP and QUIT; then the backend login
 * dialogue (STLS, XCLIENT with the client's address, AUTH PLAIN).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ascii.h"
#include "base64.h"
#include "log.h"
#include "mbox_int.h"
#include "pop3_parse.h"

/* The backend dialogue (s->bstate & POP3_B_STATE). */
enum pop3_bstate {
	POP3_B_GREETING,
	POP3_B_STLS,
	POP3_B_CAPA,	  /* sent CAPA, before the +OK */
	POP3_B_CAPA_LIST, /* reading CAPA's lines */
	POP3_B_XCLIENT,
	POP3_B_LOGIN_USER, /* sent AUTH LOGIN */
	POP3_B_LOGIN_PASS, /* sent the user name */
	POP3_B_USER,	   /* sent USER (no SASL PLAIN or LOGIN offered) */
	POP3_B_AUTH,
};

#define POP3_B_STATE 0xff
/* Flags in bstate: what CAPA said. */
#define POP3_B_CAPS 0x100    /* CAPA answered */
#define POP3_B_PLAIN 0x200   /* SASL ... PLAIN */
#define POP3_B_USERCAP 0x400 /* USER */
#define POP3_B_LOGIN 0x800   /* SASL ... LOGIN */
#define POP3_B_FLAGS 0xf00

static void
pop3_greet(struct mbox_session *s)
{
	mbox_write(s, "+OK postern ready.\r\n", 20);
}

static void
pop3_bye(struct mbox_session *s, const char *text)
{
	mbox_printf(s, "-ERR %s\r\n", text);
}

static void
pop3_err(struct mbox_session *s, const char *text)
{
	mbox_printf(s, "-ERR %s\r\n", text);
	if (mbox_error(s)) {
		pop3_bye(s, "Too many invalid commands.");
		mbox_close_after_reply(s);
	}
}

static bool
pop3_copy(char *dst, size_t *len_r, struct pst_str v)
{
	if (v.len == 0 || v.len > SASL_PLAIN_MAX_FIELD)
		return false;
	memcpy(dst, v.p, v.len);
	dst[v.len] = '\0';
	if (len_r != NULL)
		*len_r = v.len;
	return true;
}

static const char pop3_privacy[] =
	"[AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) "
	"connections.";

static void
pop3_plain(struct mbox_session *s, const char *resp, size_t len)
{
	char msg[SASL_PLAIN_MAX_DECODED];
	struct sasl_plain p;
	const char *err;
	long n = pst_base64_decode(resp, len, msg, sizeof(msg));

	s->state = MBOX_CMD;
	if (n < 0) {
		pop3_err(s, "[AUTH] Invalid base64 data in response.");
		return;
	}
	if (sasl_plain_parse(msg, (size_t)n, &p, &err) < 0 ||
	    (p.authzid.len > 0 && !pst_str_eq(p.authzid, p.authcid)) ||
	    !pop3_copy(s->user, &s->user_len, p.authcid) ||
	    !pop3_copy(s->pass, &s->pass_len, p.passwd)) {
		explicit_bzero(msg, sizeof(msg));
		s->user[0] = '\0';
		mbox_printf(s, "-ERR [AUTH] Authentication failed.\r\n");
		return;
	}
	explicit_bzero(msg, sizeof(msg));
	s->method = "PLAIN";
	mbox_login_start(s);
}

static void
pop3_capa(struct mbox_session *s)
{
	mbox_printf(s, "+OK Capability list follows\r\n");
	if (s->conf->tls_ctx != NULL && !s->tls)
		mbox_printf(s, "STLS\r\n");
	if (mbox_login_allowed(s))
		mbox_printf(s, "USER\r\nSASL PLAIN\r\n");
	mbox_printf(s, "RESP-CODES\r\nAUTH-RESP-CODE\r\nTOP\r\nUIDL\r\n"
		       "PIPELINING\r\nIMPLEMENTATION postern\r\n.\r\n");
}

static void
pop3_dispatch(struct mbox_session *s, const char *line, size_t len)
{
	struct pop3_cmd c;
	const char *err;
	struct pst_str k;

	s->commands++;
	if (pop3_parse_command(line, len, &c, &err) < 0) {
		pop3_err(s, err);
		return;
	}
	k = c.keyword;
	if (pst_str_caseeq_cstr(k, "CAPA") && c.nargs == 0) {
		pop3_capa(s);
	} else if (pst_str_caseeq_cstr(k, "NOOP") && c.nargs == 0) {
		mbox_printf(s, "+OK\r\n");
	} else if (pst_str_caseeq_cstr(k, "QUIT") && c.nargs == 0) {
		mbox_printf(s, "+OK Logging out.\r\n");
		mbox_close_after_reply(s);
	} else if (pst_str_caseeq_cstr(k, "STLS") && c.nargs == 0) {
		if (s->tls) {
			pop3_err(s, "TLS already active.");
		} else if (s->conf->tls_ctx == NULL) {
			pop3_err(s, "TLS support isn't enabled.");
		} else {
			s->pop3_user[0] = '\0';
			mbox_printf(s, "+OK Begin TLS negotiation now.\r\n");
			if (mbox_client_starttls(s) < 0) {
				pop3_bye(s, "[SYS/TEMP] TLS initialization "
					    "failed.");
				mbox_close_after_reply(s);
			}
		}
	} else if (pst_str_caseeq_cstr(k, "USER")) {
		if (!mbox_login_allowed(s)) {
			pop3_err(s, pop3_privacy);
		} else if (c.nargs != 1 ||
			   !pop3_copy(s->pop3_user, NULL, c.args[0])) {
			pop3_err(s, "Invalid USER argument.");
		} else {
			mbox_printf(s, "+OK\r\n");
		}
	} else if (pst_str_caseeq_cstr(k, "PASS")) {
		if (!mbox_login_allowed(s)) {
			pop3_err(s, pop3_privacy);
		} else if (s->pop3_user[0] == '\0') {
			pop3_err(s, "No username given.");
		} else if (c.rest.len == 0 ||
			   !pop3_copy(s->pass, &s->pass_len, c.rest)) {
			s->pop3_user[0] = '\0';
			pop3_err(s, "Invalid PASS argument.");
		} else {
			s->user_len = strlen(s->pop3_user);
			memcpy(s->user, s->pop3_user, s->user_len + 1);
			s->pop3_user[0] = '\0';
			s->method = "USER";
			mbox_login_start(s);
		}
	} else if (pst_str_caseeq_cstr(k, "AUTH")) {
		if (c.nargs == 0) {
			mbox_printf(s, "+OK\r\n%s.\r\n",
				    mbox_login_allowed(s) ? "PLAIN\r\n" : "");
		} else if (c.nargs > 2) {
			pop3_err(s, "Invalid AUTH arguments.");
		} else if (!pst_str_caseeq_cstr(c.args[0], "PLAIN")) {
			pop3_err(s, "Unsupported authentication mechanism.");
		} else if (!mbox_login_allowed(s)) {
			pop3_err(s, pop3_privacy);
		} else if (c.nargs == 2) {
			if (c.args[1].len == 1 && c.args[1].p[0] == '=')
				pop3_plain(s, "", 0);
			else
				pop3_plain(s, c.args[1].p, c.args[1].len);
		} else {
			s->state = MBOX_SASL;
			mbox_write(s, "+ \r\n", 4);
		}
	} else {
		pop3_err(s, "Unknown command or not allowed before login.");
	}
}

static void
pop3_input(struct mbox_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t max_line = s->conf->max_line;

	while (s->state == MBOX_CMD || s->state == MBOX_SASL) {
		struct evbuffer_ptr eol;
		size_t eol_len = 0, line_len, have;
		char *line;

		have = evbuffer_get_length(in);
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (have > max_line) {
				evbuffer_drain(in, have);
				if (!s->skipping) {
					s->skipping = true;
					s->commands++;
					pop3_err(s, "Line too long.");
				}
			}
			return;
		}
		line_len = (size_t)eol.pos;
		if (s->skipping || line_len > max_line) {
			evbuffer_drain(in, line_len + 1);
			if (!s->skipping) {
				s->commands++;
				pop3_err(s, "Line too long.");
			}
			s->skipping = false;
			if (s->state == MBOX_SASL)
				s->state = MBOX_CMD;
			continue;
		}
		line = (char *)evbuffer_pullup(in, (ev_ssize_t)line_len + 1);
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (s->state == MBOX_SASL) {
			s->commands++;
			if (line_len == 1 && line[0] == '*') {
				s->state = MBOX_CMD;
				pop3_err(s, "Authentication canceled.");
			} else {
				pop3_plain(s, line, line_len);
			}
		} else {
			pop3_dispatch(s, line, line_len);
		}
		/* The line is only valid until this drain; STLS has
		 * emptied the buffer already. */
		if (s->state != MBOX_TLS) {
			explicit_bzero(line, line_len);
			evbuffer_drain(in, (size_t)eol.pos + 1);
		}
	}
}

/* ---- the backend leg ---- */

/* Can p[0..len) go on a command line: no CR, LF or NUL, and no blank
 * unless it is the last argument (PASS takes the rest of the line)? */
static bool
pop3_line_safe(const char *p, size_t len, bool blank_ok)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0' ||
		    (p[i] == ' ' && !blank_ok))
			return false;
	return true;
}

/* Log in the first way CAPA offers: AUTH PLAIN, AUTH LOGIN, USER and
 * PASS (credentials that a line cannot carry fail as a wrong password
 * would).  Without CAPA, AUTH PLAIN. */
static void
pop3_backend_auth(struct mbox_session *s)
{
	int fl = s->bstate & POP3_B_FLAGS;
	bool caps = (fl & POP3_B_CAPS) && !(fl & POP3_B_PLAIN);
	struct pst_buf b;

	if (caps && (fl & POP3_B_LOGIN)) {
		mbox_backend_write(s, "AUTH LOGIN\r\n", 12);
		s->bstate = POP3_B_LOGIN_USER | fl;
		return;
	}
	if (caps && (fl & POP3_B_USERCAP)) {
		if (!pop3_line_safe(s->user, s->user_len, false) ||
		    !pop3_line_safe(s->pass, s->pass_len, true)) {
			mbox_login_done(s, MBOX_LOGIN_FAILED, "", 0);
			return;
		}
		mbox_backend_printf(s, "USER %.*s\r\n", (int)s->user_len,
				    s->user);
		s->bstate = POP3_B_USER | fl;
		return;
	}
	pst_buf_init(&b, 2048);
	pst_buf_append_cstr(&b, "AUTH PLAIN ");
	sasl_plain_encode((struct pst_str){ s->user, s->user_len },
			  (struct pst_str){ s->pass, s->pass_len }, &b);
	pst_buf_append_cstr(&b, "\r\n");
	mbox_backend_write(s, b.data, b.len);
	explicit_bzero(b.data, b.cap);
	pst_buf_free(&b);
	s->bstate = POP3_B_AUTH | fl;
}

static void
pop3_backend_pass(struct mbox_session *s)
{
	struct pst_buf b;

	pst_buf_init(&b, 512);
	pst_buf_append_cstr(&b, "PASS ");
	pst_buf_append(&b, s->pass, s->pass_len);
	pst_buf_append_cstr(&b, "\r\n");
	mbox_backend_write(s, b.data, b.len);
	explicit_bzero(b.data, b.cap);
	pst_buf_free(&b);
	s->bstate = POP3_B_AUTH | (s->bstate & POP3_B_FLAGS);
}

static void
pop3_backend_next(struct mbox_session *s)
{
	if (s->be->forward_client) {
		/* Dovecot takes these from login_trusted_networks. */
		mbox_backend_printf(s, "XCLIENT ADDR=%s PORT=%u SESSION=%s\r\n",
				    s->addr, s->port, s->session_id);
		s->bstate = POP3_B_XCLIENT | (s->bstate & POP3_B_FLAGS);
		return;
	}
	pop3_backend_auth(s);
}

/* Which way to log in: CAPA (again after STLS, RFC 2595 4). */
static void
pop3_backend_capa(struct mbox_session *s)
{
	mbox_backend_write(s, "CAPA\r\n", 6);
	s->bstate = POP3_B_CAPA;
}

/* Is word one of the blank-separated words of line[from..len)? */
static bool
pop3_has_word(const char *line, size_t len, size_t from, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = from; i + wl <= len; i++)
		if ((i == from || line[i - 1] == ' ') &&
		    strncasecmp(line + i, word, wl) == 0 &&
		    (i + wl == len || line[i + wl] == ' '))
			return true;
	return false;
}

/* One line of CAPA's list: note the SASL mechanisms and USER. */
static int
pop3_backend_cap(const char *line, size_t len)
{
	if (len >= 5 && strncasecmp(line, "SASL ", 5) == 0)
		return (pop3_has_word(line, len, 5, "PLAIN") ? POP3_B_PLAIN
							     : 0) |
		       (pop3_has_word(line, len, 5, "LOGIN") ? POP3_B_LOGIN
							     : 0);
	if (len == 4 && strncasecmp(line, "USER", 4) == 0)
		return POP3_B_USERCAP;
	return 0;
}

static void
pop3_backend_connected(struct mbox_session *s)
{
	if (s->bstate == POP3_B_STLS) {
		pop3_backend_capa(s);
		return;
	}
	s->bstate = POP3_B_GREETING;
}

static void
pop3_backend_line(struct mbox_session *s, const char *line, size_t len)
{
	bool ok = len >= 3 && strncmp(line, "+OK", 3) == 0 &&
		  (len == 3 || line[3] == ' ');
	int fl = s->bstate & POP3_B_FLAGS;

	switch (s->bstate & POP3_B_STATE) {
	case POP3_B_GREETING:
		if (!ok) {
			mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
		} else if (s->be->tls == MBOX_TLS_STARTTLS) {
			mbox_backend_write(s, "STLS\r\n", 6);
			s->bstate = POP3_B_STLS;
		} else {
			pop3_backend_capa(s);
		}
		return;
	case POP3_B_STLS:
		if (!ok || mbox_backend_starttls(s) < 0)
			mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
		return;
	case POP3_B_CAPA:
		/* -ERR: no CAPA (RFC 1939 only): try AUTH PLAIN */
		s->bstate = ok ? POP3_B_CAPA_LIST | POP3_B_CAPS : 0;
		if (!ok)
			pop3_backend_next(s);
		return;
	case POP3_B_CAPA_LIST:
		if (len == 1 && line[0] == '.') {
			s->bstate = fl;
			pop3_backend_next(s);
		} else {
			s->bstate |= pop3_backend_cap(line, len);
		}
		return;
	case POP3_B_XCLIENT:
		/* Refused (not a trusted network): log in all the same. */
		s->bstate = fl;
		pop3_backend_auth(s);
		return;
	case POP3_B_LOGIN_USER:
	case POP3_B_LOGIN_PASS:
		if (len >= 1 && line[0] == '+' && !ok) {
			bool user =
				(s->bstate & POP3_B_STATE) == POP3_B_LOGIN_USER;

			mbox_backend_write_b64(s, user ? s->user : s->pass,
					       user ? s->user_len
						    : s->pass_len);
			s->bstate =
				(user ? POP3_B_LOGIN_PASS : POP3_B_AUTH) | fl;
			return;
		}
		s->bstate = POP3_B_AUTH | fl;
		pop3_backend_line(s, line, len);
		return;
	case POP3_B_USER:
		if (ok)
			pop3_backend_pass(s);
		else
			mbox_login_done(s, MBOX_LOGIN_FAILED, line, len);
		return;
	case POP3_B_AUTH:
		if (len >= 1 && line[0] == '+' && !ok) {
			mbox_backend_write(s, "*\r\n", 3);
			return;
		}
		if (ok)
			mbox_login_done(s, MBOX_LOGIN_OK,
					len > 4 ? line + 4 : "",
					len > 4 ? len - 4 : 0);
		else if (pst_ascii_contains_ci(line, len, "[IN-USE]"))
			mbox_login_done(s, MBOX_LOGIN_IN_USE, line, len);
		else if (pst_ascii_contains_ci(line, len, "[SYS/"))
			mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
		else
			mbox_login_done(s, MBOX_LOGIN_FAILED, line, len);
		return;
	default:
		mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
	}
}

static void
pop3_login_reply(struct mbox_session *s, enum mbox_login_result result,
		 unsigned retry)
{
	switch (result) {
	case MBOX_LOGIN_OK:
		mbox_printf(s, "+OK %s\r\n",
			    s->ok_text.len ? s->ok_text.data : "Logged in.");
		return;
	case MBOX_LOGIN_FAILED:
		mbox_printf(s, "-ERR [AUTH] Authentication failed.\r\n");
		return;
	case MBOX_LOGIN_LOCKED:
		mbox_printf(s,
			    "-ERR [SYS/TEMP] Too many failed logins, try again "
			    "in %u seconds.\r\n",
			    retry);
		return;
	case MBOX_LOGIN_IN_USE:
		mbox_printf(s, "-ERR [IN-USE] Mailbox is in use, try again "
			       "later.\r\n");
		return;
	case MBOX_LOGIN_UNAVAILABLE:
		mbox_printf(s, "-ERR [SYS/TEMP] Server temporarily "
			       "unavailable, try again later.\r\n");
		return;
	}
}

const struct mbox_proto_ops mbox_pop3_ops = {
	.name = "pop3",
	.greet = pop3_greet,
	.input = pop3_input,
	.backend_connected = pop3_backend_connected,
	.backend_line = pop3_backend_line,
	.login_reply = pop3_login_reply,
	.bye = pop3_bye,
};
