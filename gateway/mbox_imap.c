/*
 * mbox_imap.c - IMAP before login (RFC 9051 / RFC 3501): postern's own
 * greeting, CAPABILITY, ID, NOOP, LOGOUT, STARTTLS, LOGIN and
 * AUTHENTICATE PLAIN; then the backend login dialogue (STARTTLS, ID with
 * the client's address, AUTHENTICATE PLAIN).
 *
 * A command is assembled in s->cmd line by line, each literal's octets
 * after its line, and parsed whole by imap_parse_command(): so a literal
 * never reaches the command reader as a line (literal injection), and
 * the credentials go to the backend base64-encoded, never re-quoted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ascii.h"
#include "base64.h"
#include "imap_parse.h"
#include "log.h"
#include "mbox_int.h"

/* The backend dialogue (s->bstate & IMAP_B_STATE). */
enum imap_bstate {
	IMAP_B_GREETING,
	IMAP_B_STARTTLS,
	IMAP_B_CAPA, /* sent CAPABILITY (none in the greeting, or after TLS) */
	IMAP_B_ID,
	IMAP_B_AUTH_CONT,  /* sent AUTHENTICATE PLAIN without SASL-IR */
	IMAP_B_LOGIN_USER, /* sent AUTHENTICATE LOGIN */
	IMAP_B_LOGIN_PASS, /* sent the user name */
	IMAP_B_AUTH,
};

#define IMAP_B_STATE 0xff
/* Flags in bstate: what the backend's capabilities say. */
#define IMAP_B_SASL_IR 0x100	   /* SASL-IR */
#define IMAP_B_PLAIN 0x200	   /* AUTH=PLAIN */
#define IMAP_B_LOGINDISABLED 0x400 /* LOGINDISABLED */
#define IMAP_B_SASL_LOGIN 0x800	   /* AUTH=LOGIN */
#define IMAP_B_FLAGS 0xf00

static void
imap_caps(struct mbox_session *s, struct pst_buf *out)
{
	pst_buf_append_cstr(out, "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID "
				 "ENABLE IDLE LITERAL+");
	if (s->conf->tls_ctx != NULL && !s->tls)
		pst_buf_append_cstr(out, " STARTTLS");
	if (mbox_login_allowed(s))
		pst_buf_append_cstr(out, " AUTH=PLAIN");
	else
		pst_buf_append_cstr(out, " LOGINDISABLED");
}

static void
imap_greet(struct mbox_session *s)
{
	struct pst_buf b;

	pst_buf_init(&b, 1024);
	pst_buf_append_cstr(&b, "* OK [CAPABILITY ");
	imap_caps(s, &b);
	pst_buf_append_cstr(&b, "] postern ready.\r\n");
	mbox_write(s, b.data, b.len);
	pst_buf_free(&b);
}

static void
imap_bye(struct mbox_session *s, const char *text)
{
	mbox_printf(s, "* BYE %s\r\n", text);
}

static void
imap_tagged(struct mbox_session *s, const char *status, const char *text)
{
	mbox_printf(s, "%s %s %s\r\n", s->tag[0] ? s->tag : "*", status, text);
}

/* A BAD answer; closes after too many. */
static void
imap_bad(struct mbox_session *s, const char *text)
{
	imap_tagged(s, "BAD", text);
	if (mbox_error(s)) {
		imap_bye(s, "Too many invalid commands.");
		mbox_close_after_reply(s);
	}
}

static bool
imap_copy_cred(char *dst, size_t *len_r, struct pst_str v)
{
	if (v.len == 0 || v.len > SASL_PLAIN_MAX_FIELD ||
	    memchr(v.p, '\0', v.len) != NULL)
		return false;
	memcpy(dst, v.p, v.len);
	dst[v.len] = '\0';
	*len_r = v.len;
	return true;
}

/* A decoded SASL PLAIN response (base64 text in resp). */
static void
imap_plain(struct mbox_session *s, const char *resp, size_t len)
{
	char msg[SASL_PLAIN_MAX_DECODED];
	struct sasl_plain p;
	const char *err;
	long n;

	s->state = MBOX_CMD;
	n = pst_base64_decode(resp, len, msg, sizeof(msg));
	if (n < 0) {
		imap_bad(s, "Invalid base64 data in response.");
		return;
	}
	if (sasl_plain_parse(msg, (size_t)n, &p, &err) < 0 ||
	    (p.authzid.len > 0 && !pst_str_eq(p.authzid, p.authcid)) ||
	    !imap_copy_cred(s->user, &s->user_len, p.authcid) ||
	    !imap_copy_cred(s->pass, &s->pass_len, p.passwd)) {
		explicit_bzero(msg, sizeof(msg));
		s->user[0] = '\0';
		imap_tagged(s, "NO",
			    "[AUTHENTICATIONFAILED] Authentication failed.");
		return;
	}
	explicit_bzero(msg, sizeof(msg));
	s->method = "PLAIN";
	mbox_login_start(s);
}

static void
imap_cmd_authenticate(struct mbox_session *s, const struct imap_cmd *c)
{
	if (c->nargs < 1 || c->nargs > 2 || c->args[0].type != IMAP_ARG_ATOM ||
	    (c->nargs == 2 && c->args[1].type != IMAP_ARG_ATOM)) {
		imap_bad(s, "Invalid arguments.");
		return;
	}
	if (!pst_str_caseeq_cstr(c->args[0].s, "PLAIN")) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism.");
		return;
	}
	if (!mbox_login_allowed(s)) {
		imap_tagged(s, "NO",
			    "[PRIVACYREQUIRED] Plaintext authentication "
			    "disallowed on non-secure (SSL/TLS) connections.");
		return;
	}
	if (c->nargs == 2) {
		/* RFC 4959: "=" is an empty initial response. */
		if (c->args[1].s.len == 1 && c->args[1].s.p[0] == '=')
			imap_plain(s, "", 0);
		else
			imap_plain(s, c->args[1].s.p, c->args[1].s.len);
		return;
	}
	s->state = MBOX_SASL;
	mbox_write(s, "+ \r\n", 4);
}

static void
imap_cmd_login(struct mbox_session *s, const struct imap_cmd *c)
{
	if (c->nargs != 2 || !imap_arg_is_string(&c->args[0]) ||
	    !imap_arg_is_string(&c->args[1])) {
		imap_bad(s, "Invalid arguments.");
		return;
	}
	if (!mbox_login_allowed(s)) {
		imap_tagged(s, "NO",
			    "[PRIVACYREQUIRED] Plaintext authentication "
			    "disallowed on non-secure (SSL/TLS) connections.");
		return;
	}
	if (!imap_copy_cred(s->user, &s->user_len, c->args[0].s) ||
	    !imap_copy_cred(s->pass, &s->pass_len, c->args[1].s)) {
		s->user[0] = '\0';
		imap_tagged(s, "NO",
			    "[AUTHENTICATIONFAILED] Authentication failed.");
		return;
	}
	s->method = "LOGIN";
	mbox_login_start(s);
}

/* ID: NIL, or a list of string pairs (RFC 2971). */
static bool
imap_id_valid(const struct imap_cmd *c)
{
	if (c->nargs == 1 && c->args[0].type == IMAP_ARG_ATOM)
		return pst_str_caseeq_cstr(c->args[0].s, "NIL");
	if (c->nargs < 2 || c->args[0].type != IMAP_ARG_LIST_BEGIN ||
	    c->args[c->nargs - 1].type != IMAP_ARG_LIST_END ||
	    (c->nargs - 2) % 2 != 0 || (c->nargs - 2) / 2 > 30)
		return false;
	for (unsigned i = 1; i + 1 < c->nargs; i++)
		if (!imap_arg_is_string(&c->args[i]))
			return false;
	return true;
}

static void
imap_dispatch(struct mbox_session *s, const char *buf, size_t len)
{
	struct imap_cmd c;
	const char *err;
	char *scratch = malloc(len + 1);

	s->commands++;
	s->tag[0] = '\0';
	if (scratch == NULL) {
		imap_bye(s, "Out of memory.");
		mbox_close_after_reply(s);
		return;
	}
	if (imap_parse_command(buf, len, scratch, &c, &err) < 0) {
		if (c.tag.len > 0 && c.tag.len < sizeof(s->tag)) {
			memcpy(s->tag, c.tag.p, c.tag.len);
			s->tag[c.tag.len] = '\0';
		}
		imap_bad(s, err);
		goto out;
	}
	memcpy(s->tag, c.tag.p, c.tag.len);
	s->tag[c.tag.len] = '\0';
	if (pst_str_caseeq_cstr(c.name, "CAPABILITY") && c.nargs == 0) {
		struct pst_buf b;

		pst_buf_init(&b, 1024);
		pst_buf_append_cstr(&b, "* CAPABILITY ");
		imap_caps(s, &b);
		pst_buf_append_cstr(&b, "\r\n");
		mbox_write(s, b.data, b.len);
		pst_buf_free(&b);
		imap_tagged(s, "OK",
			    "Pre-login capabilities listed, "
			    "post-login capabilities have more.");
	} else if (pst_str_caseeq_cstr(c.name, "NOOP") && c.nargs == 0) {
		imap_tagged(s, "OK", "NOOP completed.");
	} else if (pst_str_caseeq_cstr(c.name, "LOGOUT") && c.nargs == 0) {
		imap_bye(s, "Logging out");
		imap_tagged(s, "OK", "Logout completed.");
		mbox_close_after_reply(s);
	} else if (pst_str_caseeq_cstr(c.name, "ID")) {
		if (!imap_id_valid(&c)) {
			imap_bad(s, "Invalid ID parameters.");
		} else {
			mbox_printf(s, "* ID (\"name\" \"postern\")\r\n");
			imap_tagged(s, "OK", "ID completed.");
		}
	} else if (pst_str_caseeq_cstr(c.name, "STARTTLS") && c.nargs == 0) {
		if (s->tls) {
			imap_bad(s, "TLS is already active.");
		} else if (s->conf->tls_ctx == NULL) {
			imap_bad(s, "TLS support isn't enabled.");
		} else {
			imap_tagged(s, "OK", "Begin TLS negotiation now.");
			if (mbox_client_starttls(s) < 0) {
				imap_bye(s, "TLS initialization failed.");
				mbox_close_after_reply(s);
			}
		}
	} else if (pst_str_caseeq_cstr(c.name, "LOGIN")) {
		imap_cmd_login(s, &c);
	} else if (pst_str_caseeq_cstr(c.name, "AUTHENTICATE")) {
		imap_cmd_authenticate(s, &c);
	} else if (pst_str_caseeq_cstr(c.name, "CAPABILITY") ||
		   pst_str_caseeq_cstr(c.name, "NOOP") ||
		   pst_str_caseeq_cstr(c.name, "LOGOUT") ||
		   pst_str_caseeq_cstr(c.name, "STARTTLS")) {
		imap_bad(s, "Invalid arguments.");
	} else {
		imap_bad(s, "Log in first.");
	}
out:
	explicit_bzero(scratch, len + 1);
	free(scratch);
}

/* The tag at the start of a command that will not be parsed. */
static void
imap_take_tag(struct mbox_session *s, const char *p, size_t len)
{
	size_t n = 0;

	while (n < len && n < sizeof(s->tag) - 1 && p[n] != ' ' &&
	       (unsigned char)p[n] > 0x20 && (unsigned char)p[n] < 0x7f &&
	       p[n] != '+' && p[n] != '"' && p[n] != '{')
		n++;
	if (n < len && p[n] != ' ')
		n = 0;
	memcpy(s->tag, p, n);
	s->tag[n] = '\0';
}

/* The line at the head of in is too long: say so and close (the rest of
 * the command cannot be parsed reliably, literals and all). */
static void
imap_too_long(struct mbox_session *s, const char *what)
{
	s->commands++;
	imap_bye(s, what);
	mbox_close_after_reply(s);
}

static void
imap_input(struct mbox_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t max_line = s->conf->max_line;

	for (;;) {
		struct evbuffer_ptr eol;
		size_t eol_len = 0, line_len, have;
		uint64_t lit = 0;
		bool nonsync = false;
		char *line;
		int rc;

		if (s->state == MBOX_LITERAL) {
			size_t take;

			have = evbuffer_get_length(in);
			if (have == 0)
				return;
			take = have < s->literal_left ? have
						      : (size_t)s->literal_left;
			if (pst_buf_reserve(&s->cmd, take) < 0) {
				imap_too_long(s, "Out of memory.");
				return;
			}
			evbuffer_remove(in, s->cmd.data + s->cmd.len, take);
			s->cmd.len += take;
			s->cmd.data[s->cmd.len] = '\0';
			s->literal_left -= take;
			if (s->literal_left > 0)
				return;
			s->state = MBOX_CMD;
			continue;
		}
		if (s->state != MBOX_CMD && s->state != MBOX_SASL)
			return;
		have = evbuffer_get_length(in);
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (have > max_line)
				imap_too_long(s, "Too long command line.");
			return;
		}
		line_len = (size_t)eol.pos;
		if (line_len + 1 > max_line + 1) {
			imap_too_long(s, "Too long command line.");
			return;
		}
		line = (char *)evbuffer_pullup(in, (ev_ssize_t)line_len + 1);
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (s->state == MBOX_SASL) {
			s->commands++;
			if (line_len == 1 && line[0] == '*') {
				s->state = MBOX_CMD;
				imap_bad(s,
					 "Authentication aborted by client.");
			} else {
				imap_plain(s, line, line_len);
			}
			explicit_bzero(line, line_len);
			evbuffer_drain(in, (size_t)eol.pos + 1);
			if (s->state != MBOX_CMD)
				return;
			continue;
		}
		rc = imap_parse_literal(line, line_len, &lit, &nonsync);
		if (rc == 1 &&
		    s->cmd.len + line_len + 2 + lit >
			    s->conf->max_line + s->conf->max_literal) {
			if (nonsync) {
				/* RFC 7888 4: the octets are on their way
				 * and cannot be told apart from commands. */
				imap_too_long(s, "Literal too large.");
				return;
			}
			/* A synchronising literal is refused before the
			 * client sends it (RFC 9051 7.5). */
			if (s->cmd.len > 0)
				imap_take_tag(s, s->cmd.data, s->cmd.len);
			else
				imap_take_tag(s, line, line_len);
			evbuffer_drain(in, (size_t)eol.pos + 1);
			pst_buf_reset(&s->cmd);
			s->commands++;
			imap_bad(s, "Literal too large.");
			if (s->state != MBOX_CMD)
				return;
			continue;
		}
		if (pst_buf_append(&s->cmd, line, line_len) < 0) {
			imap_too_long(s, "Too long command.");
			return;
		}
		evbuffer_drain(in, (size_t)eol.pos + 1);
		if (rc == 1) {
			if (pst_buf_append(&s->cmd, "\r\n", 2) < 0) {
				imap_too_long(s, "Too long command.");
				return;
			}
			s->literal_left = lit;
			if (!nonsync)
				mbox_write(s, "+ OK\r\n", 6);
			if (lit > 0)
				s->state = MBOX_LITERAL;
			continue;
		}
		imap_dispatch(s, s->cmd.data, s->cmd.len);
		if (s->cmd.data != NULL)
			explicit_bzero(s->cmd.data, s->cmd.len);
		pst_buf_reset(&s->cmd);
		if (s->state != MBOX_CMD)
			return;
	}
}

/* ---- the backend leg ---- */

/* The capabilities in a greeting's [CAPABILITY ...] or a "* CAPABILITY"
 * line, as bstate flags. */
static int
imap_backend_caps(const char *line, size_t len)
{
	return (pst_ascii_contains_ci(line, len, "SASL-IR") ? IMAP_B_SASL_IR
							    : 0) |
	       (pst_ascii_contains_ci(line, len, "AUTH=PLAIN") ? IMAP_B_PLAIN
							       : 0) |
	       (pst_ascii_contains_ci(line, len, "LOGINDISABLED")
			? IMAP_B_LOGINDISABLED
			: 0) |
	       (pst_ascii_contains_ci(line, len, "AUTH=LOGIN")
			? IMAP_B_SASL_LOGIN
			: 0);
}

/* Log in the first way the backend offers: AUTHENTICATE PLAIN (with
 * SASL-IR when offered), AUTHENTICATE LOGIN, the LOGIN command.  With
 * no capabilities known, PLAIN. */
static void
imap_backend_auth(struct mbox_session *s)
{
	int fl = s->bstate & IMAP_B_FLAGS;
	bool ir = (fl & IMAP_B_SASL_IR) != 0;
	struct pst_buf b;

	if (!(fl & IMAP_B_PLAIN) && (fl & IMAP_B_SASL_LOGIN)) {
		mbox_backend_write(s, "P2 AUTHENTICATE LOGIN\r\n", 23);
		s->bstate = IMAP_B_LOGIN_USER | fl;
		return;
	}
	pst_buf_init(&b, 2048);
	if (!(fl & IMAP_B_PLAIN) && !(fl & IMAP_B_LOGINDISABLED)) {
		pst_buf_append_cstr(&b, "P2 LOGIN ");
		imap_append_string(&b,
				   (struct pst_str){ s->user, s->user_len });
		pst_buf_append_byte(&b, ' ');
		imap_append_string(&b,
				   (struct pst_str){ s->pass, s->pass_len });
		ir = true; /* no continuation comes */
	} else {
		pst_buf_append_cstr(&b, "P2 AUTHENTICATE PLAIN");
		if (ir) {
			pst_buf_append_byte(&b, ' ');
			sasl_plain_encode(
				(struct pst_str){ s->user, s->user_len },
				(struct pst_str){ s->pass, s->pass_len }, &b);
		}
	}
	pst_buf_append_cstr(&b, "\r\n");
	mbox_backend_write(s, b.data, b.len);
	explicit_bzero(b.data, b.cap);
	pst_buf_free(&b);
	s->bstate = (ir ? IMAP_B_AUTH : IMAP_B_AUTH_CONT) | fl;
}

/* After greeting (and STARTTLS): tell the backend who the client is
 * (Dovecot trusts this from login_trusted_networks), then log in. */
static void
imap_backend_next(struct mbox_session *s)
{
	int fl = s->bstate & IMAP_B_FLAGS;

	if (s->be->forward_client) {
		mbox_backend_printf(s,
				    "P1 ID (\"x-originating-ip\" \"%s\" "
				    "\"x-originating-port\" \"%u\" "
				    "\"x-session-ext-id\" \"%s\")\r\n",
				    s->addr, s->port, s->session_id);
		s->bstate = IMAP_B_ID | fl;
		return;
	}
	imap_backend_auth(s);
}

/* Ask for the capabilities (what a greeting said before STARTTLS no
 * longer holds after it). */
static void
imap_backend_capa(struct mbox_session *s)
{
	mbox_backend_write(s, "P3 CAPABILITY\r\n", 15);
	s->bstate = IMAP_B_CAPA;
}

static void
imap_backend_connected(struct mbox_session *s)
{
	if ((s->bstate & IMAP_B_STATE) == IMAP_B_STARTTLS) {
		imap_backend_capa(s);
		return;
	}
	s->bstate = IMAP_B_GREETING;
}

static bool
imap_status_is(const char *line, size_t len, const char *tag,
	       const char *status, size_t *rest_r)
{
	size_t tl = strlen(tag), sl = strlen(status);

	if (len < tl + 1 + sl || memcmp(line, tag, tl) != 0 ||
	    line[tl] != ' ' || strncasecmp(line + tl + 1, status, sl) != 0)
		return false;
	if (len > tl + 1 + sl && line[tl + 1 + sl] != ' ')
		return false;
	*rest_r = len > tl + 1 + sl ? tl + 2 + sl : len;
	return true;
}

static void
imap_backend_line(struct mbox_session *s, const char *line, size_t len)
{
	int fl = s->bstate & IMAP_B_FLAGS;
	size_t rest;

	if (len >= 5 && strncasecmp(line, "* BYE", 5) == 0) {
		mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
		return;
	}
	switch (s->bstate & IMAP_B_STATE) {
	case IMAP_B_GREETING:
		if (len < 4 || strncasecmp(line, "* OK", 4) != 0) {
			mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
			return;
		}
		if (s->be->tls == MBOX_TLS_STARTTLS) {
			mbox_backend_write(s, "P0 STARTTLS\r\n", 13);
			s->bstate = IMAP_B_STARTTLS;
			return;
		}
		if (!pst_ascii_contains_ci(line, len, "[CAPABILITY ")) {
			imap_backend_capa(s);
			return;
		}
		s->bstate = imap_backend_caps(line, len);
		imap_backend_next(s);
		return;
	case IMAP_B_CAPA:
		if (len >= 12 && strncasecmp(line, "* CAPABILITY", 12) == 0) {
			fl = imap_backend_caps(line, len);
			s->bstate = IMAP_B_CAPA | fl;
		} else if (imap_status_is(line, len, "P3", "OK", &rest)) {
			s->bstate = fl;
			imap_backend_next(s);
		} else if (len >= 3 && memcmp(line, "P3 ", 3) == 0) {
			mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
		}
		return;
	case IMAP_B_STARTTLS:
		if (line[0] == '*')
			return;
		if (!imap_status_is(line, len, "P0", "OK", &rest) ||
		    mbox_backend_starttls(s) < 0)
			mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
		return;
	case IMAP_B_ID:
		if (len >= 3 && memcmp(line, "P1 ", 3) == 0) {
			s->bstate = fl;
			imap_backend_auth(s);
		}
		return;
	case IMAP_B_LOGIN_USER:
	case IMAP_B_LOGIN_PASS:
		if (len >= 1 && line[0] == '+') { /* "Username:", "Password:" */
			bool user =
				(s->bstate & IMAP_B_STATE) == IMAP_B_LOGIN_USER;

			mbox_backend_write_b64(s, user ? s->user : s->pass,
					       user ? s->user_len
						    : s->pass_len);
			s->bstate =
				(user ? IMAP_B_LOGIN_PASS : IMAP_B_AUTH) | fl;
			return;
		}
		goto auth_result;
	case IMAP_B_AUTH_CONT:
		if (len >= 1 && line[0] == '+') {
			struct pst_buf b;

			pst_buf_init(&b, 2048);
			sasl_plain_encode(
				(struct pst_str){ s->user, s->user_len },
				(struct pst_str){ s->pass, s->pass_len }, &b);
			pst_buf_append_cstr(&b, "\r\n");
			mbox_backend_write(s, b.data, b.len);
			explicit_bzero(b.data, b.cap);
			pst_buf_free(&b);
			s->bstate = IMAP_B_AUTH | fl;
			return;
		}
		__attribute__((fallthrough));
	case IMAP_B_AUTH:
	auth_result:
		if (len >= 1 && line[0] == '*')
			return; /* untagged data before the result */
		if (len >= 1 && line[0] == '+') {
			mbox_backend_write(s, "*\r\n", 3); /* cancel */
			return;
		}
		if (imap_status_is(line, len, "P2", "OK", &rest)) {
			mbox_login_done(s, MBOX_LOGIN_OK, line + rest,
					len - rest);
		} else if (imap_status_is(line, len, "P2", "NO", &rest)) {
			bool temp =
				pst_ascii_contains_ci(line, len,
						      "[UNAVAILABLE]") ||
				pst_ascii_contains_ci(line, len, "[SERVERBUG]");

			mbox_login_done(s,
					temp ? MBOX_LOGIN_UNAVAILABLE
					     : MBOX_LOGIN_FAILED,
					line, len);
		} else if (len >= 3 && memcmp(line, "P2 ", 3) == 0) {
			mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
		}
		return;
	default:
		mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, line, len);
	}
}

static void
imap_login_reply(struct mbox_session *s, enum mbox_login_result result,
		 unsigned retry)
{
	char text[200];

	switch (result) {
	case MBOX_LOGIN_OK:
		mbox_printf(s, "%s OK %s\r\n", s->tag,
			    s->ok_text.len ? s->ok_text.data : "Logged in");
		return;
	case MBOX_LOGIN_FAILED:
		imap_tagged(s, "NO",
			    "[AUTHENTICATIONFAILED] Authentication failed.");
		return;
	case MBOX_LOGIN_LOCKED:
		snprintf(text, sizeof(text),
			 "[ALERT] Too many failed logins, try again in %u "
			 "seconds.",
			 retry);
		imap_tagged(s, "NO", text);
		return;
	case MBOX_LOGIN_IN_USE:
		imap_tagged(s, "NO",
			    "[INUSE] Mailbox is in use, try again "
			    "later.");
		return;
	case MBOX_LOGIN_UNAVAILABLE:
		imap_tagged(s, "NO",
			    "[UNAVAILABLE] Server temporarily "
			    "unavailable, try again later.");
		return;
	}
}

const struct mbox_proto_ops mbox_imap_ops = {
	.name = "imap",
	.greet = imap_greet,
	.input = imap_input,
	.backend_connected = imap_backend_connected,
	.backend_line = imap_backend_line,
	.login_reply = imap_login_reply,
	.bye = imap_bye,
};
