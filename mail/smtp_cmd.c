/*
 * smtp_cmd.c - the SMTP server's command grammar (see smtp_cmd.h).
 *
 * One command line in, a struct smtp_cmd of views into that line out.
 * The parser never allocates and never logs; every error is an SMTP code
 * plus a static text that starts with the enhanced status code.  The
 * line length is bounded by the caller's reader; the parser adds its own
 * bounds on parameter count and value sizes.  Thread-safe.
 *
 * What the session may do with a command (state, limits, policy) is the
 * caller's business: here only the syntax is judged, and the ESMTP
 * parameters are checked against the extensions the session offers.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "smtp_cmd.h"
#include "utf8.h"

/* RFC 3461 sections 4.2 and 4.4: limits on the decoded values. */
#define ENVID_MAX 100
#define ORCPT_MAX 500
/* 1*20DIGIT of RFC 1870 and RFC 3030. */
#define NUMBER_MAX_DIGITS 20

#define E_UNKNOWN "5.5.2 Error: command not recognized"
#define E_BADCHAR "5.5.2 Error: bad character in command"
#define E_HELO "5.5.4 Syntax: HELO hostname"
#define E_EHLO "5.5.4 Syntax: EHLO hostname"
#define E_DATA "5.5.4 Syntax: DATA"
#define E_RSET "5.5.4 Syntax: RSET"
#define E_QUIT "5.5.4 Syntax: QUIT"
#define E_STARTTLS "5.5.4 Syntax: STARTTLS"
#define E_VRFY "5.5.4 Syntax: VRFY address"
#define E_EXPN "5.5.4 Syntax: EXPN mailing-list"
#define E_MAIL "5.5.4 Syntax: MAIL FROM:<address>"
#define E_RCPT "5.5.4 Syntax: RCPT TO:<address>"
#define E_BDAT "5.5.4 Syntax: BDAT size [LAST]"
#define E_BDAT_SIZE "5.5.4 BDAT size too large"
#define E_PARAM_SYNTAX "5.5.4 Syntax error in parameters"
#define E_PARAM_MANY "5.5.4 Too many parameters"
#define E_PARAM_DUP "5.5.4 Duplicate parameter"
#define E_PARAM_UNKNOWN "5.5.4 Unsupported parameter"
#define E_SIZE "5.5.4 Bad SIZE value"
#define E_BODY "5.5.4 Unsupported BODY type"
#define E_SMTPUTF8 "5.5.4 SMTPUTF8 takes no value"
#define E_RET "5.5.4 Bad RET value"
#define E_ENVID "5.5.4 Bad ENVID value"
#define E_NOTIFY "5.5.4 Bad NOTIFY value"
#define E_ORCPT "5.5.4 Bad ORCPT value"
#define E_UTF8 "5.6.7 Non-ASCII address requires SMTPUTF8"
#define E_SENDER "5.1.7 Bad sender address syntax"

/* One verb a line reads better than packed columns. */
/* clang-format off */
static const char *const verb_names[SMTP_VERB__COUNT] = {
	[SMTP_VERB_UNKNOWN] = "unknown",
	[SMTP_VERB_HELO] = "HELO",
	[SMTP_VERB_EHLO] = "EHLO",
	[SMTP_VERB_MAIL] = "MAIL",
	[SMTP_VERB_RCPT] = "RCPT",
	[SMTP_VERB_DATA] = "DATA",
	[SMTP_VERB_BDAT] = "BDAT",
	[SMTP_VERB_RSET] = "RSET",
	[SMTP_VERB_NOOP] = "NOOP",
	[SMTP_VERB_QUIT] = "QUIT",
	[SMTP_VERB_HELP] = "HELP",
	[SMTP_VERB_VRFY] = "VRFY",
	[SMTP_VERB_EXPN] = "EXPN",
	[SMTP_VERB_STARTTLS] = "STARTTLS",
	[SMTP_VERB_AUTH] = "AUTH",
	[SMTP_VERB_XCLIENT] = "XCLIENT",
};
/* clang-format on */

/*
 * The MAIL FROM twins of smtp_addr's "5.1.3" texts: RFC 3463 gives a bad
 * sender address its own detail (X.1.7).  Matched on the text after the
 * code, so a text missing here still gets the generic sender reply.
 */
static const char *const sender_errors[] = {
	"5.1.7 Missing address",
	"5.1.7 Address must be enclosed in <>",
	"5.1.7 Missing '>' at the end of the address",
	"5.1.7 Address lacks a domain",
	"5.1.7 Bad local part syntax",
	"5.1.7 Unterminated quoted string in address",
	"5.1.7 Bad domain syntax in address",
	"5.1.7 Bad address literal",
	"5.1.7 General address literals are not supported",
	"5.1.7 Bad source route syntax",
	"5.1.7 Control character in address",
	"5.1.7 Unexpected space in address",
	"5.1.7 Malformed UTF-8 in address",
	"5.1.7 Local part too long",
	"5.1.7 Domain too long",
	"5.1.7 Domain label too long",
	"5.1.7 Address too long",
};

struct param {
	struct pst_str keyword;
	struct pst_str value;
	bool has_value;
};

static inline bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline struct pst_str
str_skip(struct pst_str s, size_t n)
{
	return (struct pst_str){ s.p + n, s.len - n };
}

/* Parse 1*20DIGIT into *v_r.  Returns 0, -1 for bad syntax, -2 when the
 * number does not fit in 64 bits. */
static int
parse_number(struct pst_str s, uint64_t *v_r)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > NUMBER_MAX_DIGITS)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d;

		if (!is_digit((unsigned char)s.p[i]))
			return -1;
		d = (unsigned)(s.p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	*v_r = v;
	return 0;
}

static inline bool
hex_upper(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static inline bool
hex_any(unsigned char c)
{
	return hex_upper(c) || (c >= 'a' && c <= 'f');
}

/*
 * xtext (RFC 3461 section 4): %d33-126 except "+" and "=", and "+" with
 * two upper-case hex digits for anything else.  *decoded_r gets the
 * length after decoding, which is what the RFC limits.
 */
static bool
xtext_valid(struct pst_str s, size_t *decoded_r)
{
	size_t n = 0;

	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++, n++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '+') {
			if (s.len - i < 3 ||
			    !hex_upper((unsigned char)s.p[i + 1]) ||
			    !hex_upper((unsigned char)s.p[i + 2]))
				return false;
			i += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
	}
	*decoded_r = n;
	return true;
}

/*
 * The "utf-8" addr-type of ORCPT (RFC 6533 section 3): xtext-like
 * characters without "+", "=", "\", with "\x{HEX}" for what must be
 * escaped and, once SMTPUTF8 is in force, raw UTF-8.  We also take
 * "+HH", which senders that encode everything as xtext emit.
 */
static bool
utf8_addr_valid(struct pst_str s, bool smtputf8, size_t *decoded_r)
{
	const unsigned char *p = (const unsigned char *)s.p;
	size_t n = 0;

	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; n++) {
		unsigned char c = p[i];

		if (c >= 0x80) {
			size_t k = pst_utf8_seq_len(p + i, s.len - i);

			if (!smtputf8 || k == 0)
				return false;
			i += k;
		} else if (c == '\\') {
			size_t j = i + 3, digits = 0;

			if (s.len - i < 5 || p[i + 1] != 'x' || p[i + 2] != '{')
				return false;
			while (j < s.len && hex_any(p[j]) && digits < 6) {
				j++;
				digits++;
			}
			if (digits == 0 || j >= s.len || p[j] != '}')
				return false;
			i = j + 1;
		} else if (c == '+') {
			if (s.len - i < 3 || !hex_upper(p[i + 1]) ||
			    !hex_upper(p[i + 2]))
				return false;
			i += 3;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		} else {
			i++;
		}
	}
	*decoded_r = n;
	return true;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool
keyword_valid(struct pst_str k)
{
	if (k.len == 0 || !is_alnum((unsigned char)k.p[0]))
		return false;
	for (size_t i = 1; i < k.len; i++)
		if (!is_alnum((unsigned char)k.p[i]) && k.p[i] != '-')
			return false;
	return true;
}

/* esmtp-value = 1*(%d33-60 / %d62-126), RFC 6531 adds UTF8-non-ascii. */
static bool
value_valid(struct pst_str v, bool utf8)
{
	const unsigned char *p = (const unsigned char *)v.p;

	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len;) {
		if (p[i] >= 0x80) {
			size_t k = pst_utf8_seq_len(p + i, v.len - i);

			if (!utf8 || k == 0)
				return false;
			i += k;
			continue;
		}
		if (p[i] < 33 || p[i] > 126 || p[i] == '=')
			return false;
		i++;
	}
	return true;
}

/*
 * Split what follows the path into SP-separated "keyword[=value]" words.
 * Syntax is checked later, once we know whether SMTPUTF8 is in force.
 */
static int
split_params(struct pst_str rest, struct param *pv, size_t *n_r,
	     const char **error_r)
{
	size_t n = 0, i = 0;

	while (i < rest.len) {
		size_t start, eq = 0;
		bool has_eq = false;

		if (rest.p[i] == ' ') {
			i++;
			continue;
		}
		if (n == SMTP_CMD_MAX_PARAMS) {
			*error_r = E_PARAM_MANY;
			return 501;
		}
		for (start = i; i < rest.len && rest.p[i] != ' '; i++) {
			if (rest.p[i] == '=' && !has_eq) {
				has_eq = true;
				eq = i;
			}
		}
		if (has_eq) {
			pv[n].keyword =
				(struct pst_str){ rest.p + start, eq - start };
			pv[n].value =
				(struct pst_str){ rest.p + eq + 1, i - eq - 1 };
		} else {
			pv[n].keyword =
				(struct pst_str){ rest.p + start, i - start };
			pv[n].value = (struct pst_str){ rest.p + i, 0 };
		}
		pv[n].has_value = has_eq;
		n++;
	}
	*n_r = n;
	return 0;
}

/* Syntax and uniqueness of param i; the caller judges its meaning. */
static int
check_param(const struct param *pv, size_t i, bool utf8, const char **error_r)
{
	if (!keyword_valid(pv[i].keyword) ||
	    (pv[i].has_value && !value_valid(pv[i].value, utf8))) {
		*error_r = E_PARAM_SYNTAX;
		return 501;
	}
	for (size_t j = 0; j < i; j++) {
		if (pst_str_caseeq(pv[i].keyword, pv[j].keyword)) {
			*error_r = E_PARAM_DUP;
			return 501;
		}
	}
	return 0;
}

static int
unsupported(const char **error_r)
{
	*error_r = E_PARAM_UNKNOWN;
	return 555;
}

static int
syntax(const char *error, const char **error_r)
{
	*error_r = error;
	return 501;
}

static int
mail_param(const struct param *p, unsigned ext, struct smtp_mail_params *m,
	   const char **error_r)
{
	struct pst_str k = p->keyword, v = p->value;
	size_t n;

	if (pst_str_caseeq_cstr(k, "SIZE")) {
		if (!(ext & SMTP_EXT_SIZE))
			return unsupported(error_r);
		if (!p->has_value || parse_number(v, &m->size) < 0)
			return syntax(E_SIZE, error_r);
		m->has_size = true;
	} else if (pst_str_caseeq_cstr(k, "BODY")) {
		if (!(ext & SMTP_EXT_8BITMIME))
			return unsupported(error_r);
		if (!p->has_value)
			return syntax(E_PARAM_SYNTAX, error_r);
		if (pst_str_caseeq_cstr(v, "7BIT")) {
			m->body = SMTP_BODY_7BIT;
		} else if (pst_str_caseeq_cstr(v, "8BITMIME")) {
			m->body = SMTP_BODY_8BITMIME;
		} else {
			/* BINARYMIME needs CHUNKING and binary-clean
			 * upstreams; we offer neither. */
			*error_r = E_BODY;
			return 504;
		}
	} else if (pst_str_caseeq_cstr(k, "SMTPUTF8")) {
		if (!(ext & SMTP_EXT_SMTPUTF8))
			return unsupported(error_r);
		if (p->has_value)
			return syntax(E_SMTPUTF8, error_r);
		m->smtputf8 = true;
	} else if (pst_str_caseeq_cstr(k, "RET")) {
		if (!(ext & SMTP_EXT_DSN))
			return unsupported(error_r);
		if (p->has_value && pst_str_caseeq_cstr(v, "FULL"))
			m->ret = SMTP_RET_FULL;
		else if (p->has_value && pst_str_caseeq_cstr(v, "HDRS"))
			m->ret = SMTP_RET_HDRS;
		else
			return syntax(E_RET, error_r);
	} else if (pst_str_caseeq_cstr(k, "ENVID")) {
		if (!(ext & SMTP_EXT_DSN))
			return unsupported(error_r);
		if (!p->has_value || !xtext_valid(v, &n) || n > ENVID_MAX)
			return syntax(E_ENVID, error_r);
		m->envid = v;
	} else {
		return unsupported(error_r);
	}
	return 0;
}

/* NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ), RFC 3461 4.1 */
static int
parse_notify(struct pst_str v, unsigned *notify_r)
{
	unsigned bits = 0;
	size_t i = 0;

	if (v.len == 0)
		return -1;
	for (;;) {
		size_t start = i;
		struct pst_str item;
		unsigned bit;

		while (i < v.len && v.p[i] != ',')
			i++;
		item = (struct pst_str){ v.p + start, i - start };
		if (pst_str_caseeq_cstr(item, "NEVER"))
			bit = SMTP_NOTIFY_NEVER;
		else if (pst_str_caseeq_cstr(item, "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (pst_str_caseeq_cstr(item, "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (pst_str_caseeq_cstr(item, "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return -1;
		if (bits & bit)
			return -1;
		bits |= bit;
		if (i >= v.len)
			break;
		i++; /* past ',' */
	}
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		return -1;
	*notify_r = bits;
	return 0;
}

/* ORCPT = addr-type ";" xtext (RFC 3461 4.2), addr-type an RFC 822 atom;
 * "utf-8" addresses follow RFC 6533. */
static bool
orcpt_valid(struct pst_str v, bool smtputf8)
{
	const char *semi = memchr(v.p, ';', v.len);
	struct pst_str type, addr;
	size_t n;

	if (semi == NULL || semi == v.p)
		return false;
	type = (struct pst_str){ v.p, (size_t)(semi - v.p) };
	addr = str_skip(v, type.len + 1);
	for (size_t i = 0; i < type.len; i++) {
		unsigned char c = (unsigned char)type.p[i];

		if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\".[]", c))
			return false;
	}
	if (pst_str_caseeq_cstr(type, "utf-8")) {
		if (!utf8_addr_valid(addr, smtputf8, &n))
			return false;
	} else if (!xtext_valid(addr, &n)) {
		return false;
	}
	return n <= ORCPT_MAX;
}

static int
rcpt_param(const struct param *p, unsigned ext, bool smtputf8,
	   struct smtp_rcpt_params *r, const char **error_r)
{
	struct pst_str k = p->keyword, v = p->value;

	if (pst_str_caseeq_cstr(k, "NOTIFY")) {
		if (!(ext & SMTP_EXT_DSN))
			return unsupported(error_r);
		if (!p->has_value || parse_notify(v, &r->notify) < 0)
			return syntax(E_NOTIFY, error_r);
	} else if (pst_str_caseeq_cstr(k, "ORCPT")) {
		if (!(ext & SMTP_EXT_DSN))
			return unsupported(error_r);
		if (!p->has_value || !orcpt_valid(v, smtputf8))
			return syntax(E_ORCPT, error_r);
		r->orcpt = v;
	} else {
		return unsupported(error_r);
	}
	return 0;
}

/*
 * An address error as a reply: UTF-8 without SMTPUTF8 is 553 X.6.7 (RFC
 * 6531 section 3.7.4.1), anything else a syntax error, with the sender
 * detail (X.1.7) for MAIL.
 */
static int
addr_error(const char *error, bool sender, const char **error_r)
{
	size_t n = sizeof(sender_errors) / sizeof(sender_errors[0]);

	if (strncmp(error, "5.6.7", 5) == 0) {
		*error_r = error;
		return 553;
	}
	*error_r = error;
	if (!sender)
		return 501;
	*error_r = E_SENDER;
	if (strncmp(error, "5.1.3 ", 6) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(sender_errors[i] + 6, error + 6) == 0) {
				*error_r = sender_errors[i];
				break;
			}
		}
	}
	return 501;
}

/*
 * "FROM:" / "TO:" then the path, with the optional spaces after the colon
 * that many clients send.  Leaves the rest of the arguments in *rest_r.
 */
static int
parse_path_arg(struct smtp_cmd *cmd, const char *keyword, unsigned opts,
	       struct pst_str *rest_r, const char **error_r)
{
	bool sender = cmd->verb == SMTP_VERB_MAIL;
	const char *syntax_error = sender ? E_MAIL : E_RCPT;
	struct pst_str s = cmd->arg;
	const char *error;
	size_t used;

	if (!pst_str_has_caseprefix(s, keyword))
		return syntax(syntax_error, error_r);
	s = pst_str_trim(str_skip(s, strlen(keyword)));
	if (s.len == 0)
		return syntax(syntax_error, error_r);
	if (smtp_addr_parse(s.p, s.len, opts, &cmd->addr, &used, &error) < 0)
		return addr_error(error, sender, error_r);
	s = str_skip(s, used);
	if (s.len > 0 && s.p[0] != ' ')
		return syntax(syntax_error, error_r);
	*rest_r = s;
	return 0;
}

static int
parse_mail(struct smtp_cmd *cmd, unsigned ext, const char **error_r)
{
	struct param pv[SMTP_CMD_MAX_PARAMS];
	unsigned opts = SMTP_ADDR_ALLOW_NULL;
	struct pst_str rest;
	bool utf8 = false;
	size_t n;
	int ret;

	/* Whether SMTPUTF8 is among the parameters is known only after the
	 * path; allow UTF-8 in the path if it is offered and check below. */
	if (ext & SMTP_EXT_SMTPUTF8)
		opts |= SMTP_ADDR_ALLOW_UTF8;
	if (ext & SMTP_EXT_LENIENT_PATH)
		opts |= SMTP_ADDR_ALLOW_NO_BRACKETS;
	if ((ret = parse_path_arg(cmd, "FROM:", opts, &rest, error_r)) != 0)
		return ret;
	if ((ret = split_params(rest, pv, &n, error_r)) != 0)
		return ret;
	for (size_t i = 0; i < n; i++)
		if ((ext & SMTP_EXT_SMTPUTF8) &&
		    pst_str_caseeq_cstr(pv[i].keyword, "SMTPUTF8"))
			utf8 = true;
	for (size_t i = 0; i < n; i++) {
		if ((ret = check_param(pv, i, utf8, error_r)) != 0 ||
		    (ret = mail_param(&pv[i], ext, &cmd->mail, error_r)) != 0)
			return ret;
	}
	if ((cmd->addr.flags & SMTP_ADDR_F_UTF8) && !cmd->mail.smtputf8) {
		*error_r = E_UTF8;
		return 553;
	}
	return 0;
}

static int
parse_rcpt(struct smtp_cmd *cmd, unsigned ext, bool smtputf8,
	   const char **error_r)
{
	struct param pv[SMTP_CMD_MAX_PARAMS];
	unsigned opts = SMTP_ADDR_ALLOW_POSTMASTER;
	struct pst_str rest;
	size_t n;
	int ret;

	if (smtputf8)
		opts |= SMTP_ADDR_ALLOW_UTF8;
	if (ext & SMTP_EXT_LENIENT_PATH)
		opts |= SMTP_ADDR_ALLOW_NO_BRACKETS;
	if ((ret = parse_path_arg(cmd, "TO:", opts, &rest, error_r)) != 0)
		return ret;
	if ((ret = split_params(rest, pv, &n, error_r)) != 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		if ((ret = check_param(pv, i, smtputf8, error_r)) != 0 ||
		    (ret = rcpt_param(&pv[i], ext, smtputf8, &cmd->rcpt,
				      error_r)) != 0)
			return ret;
	}
	return 0;
}

/* bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] (RFC 3030 2) */
static int
parse_bdat(struct smtp_cmd *cmd, const char **error_r)
{
	struct pst_str s = cmd->arg, tail;
	size_t i = 0;
	int ret;

	while (i < s.len && s.p[i] != ' ')
		i++;
	ret = parse_number((struct pst_str){ s.p, i }, &cmd->bdat_size);
	if (ret == -2)
		return syntax(E_BDAT_SIZE, error_r);
	if (ret < 0)
		return syntax(E_BDAT, error_r);
	tail = pst_str_trim(str_skip(s, i));
	if (tail.len == 0)
		return 0;
	if (!pst_str_caseeq_cstr(tail, "LAST"))
		return syntax(E_BDAT, error_r);
	cmd->bdat_last = true;
	return 0;
}

static enum smtp_verb
lookup_verb(struct pst_str text)
{
	for (int v = SMTP_VERB_UNKNOWN + 1; v < SMTP_VERB__COUNT; v++)
		if (pst_str_caseeq_cstr(text, verb_names[v]))
			return (enum smtp_verb)v;
	return SMTP_VERB_UNKNOWN;
}

/* The verbs whose grammar is only "argument required" or "none". */
static int
check_arg_count(const struct smtp_cmd *cmd, const char **error_r)
{
	bool empty = cmd->arg.len == 0;

	switch (cmd->verb) {
	case SMTP_VERB_HELO:
		return empty ? syntax(E_HELO, error_r) : 0;
	case SMTP_VERB_EHLO:
		return empty ? syntax(E_EHLO, error_r) : 0;
	case SMTP_VERB_VRFY:
		return empty ? syntax(E_VRFY, error_r) : 0;
	case SMTP_VERB_EXPN:
		return empty ? syntax(E_EXPN, error_r) : 0;
	case SMTP_VERB_DATA:
		return empty ? 0 : syntax(E_DATA, error_r);
	case SMTP_VERB_RSET:
		return empty ? 0 : syntax(E_RSET, error_r);
	case SMTP_VERB_QUIT:
		return empty ? 0 : syntax(E_QUIT, error_r);
	case SMTP_VERB_STARTTLS:
		return empty ? 0 : syntax(E_STARTTLS, error_r);
	default:
		return 0;
	}
}

static int
parse_line(const char *line, size_t len, unsigned ext, bool smtputf8,
	   struct smtp_cmd *cmd, const char **error_r)
{
	size_t vlen = 0;

	while (vlen < len && line[vlen] != ' ')
		vlen++;
	cmd->verb_text = (struct pst_str){ line, vlen };
	/* A NUL or bare CR/LF in a command is an attack on whoever reads
	 * the line after us; refuse the whole line. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*error_r = E_BADCHAR;
			return 500;
		}
	}
	cmd->verb = lookup_verb(cmd->verb_text);
	if (cmd->verb == SMTP_VERB_UNKNOWN) {
		*error_r = E_UNKNOWN;
		return 500;
	}
	cmd->arg = pst_str_trim(str_skip((struct pst_str){ line, len }, vlen));

	switch (cmd->verb) {
	case SMTP_VERB_MAIL:
		return parse_mail(cmd, ext, error_r);
	case SMTP_VERB_RCPT:
		return parse_rcpt(cmd, ext, smtputf8, error_r);
	case SMTP_VERB_BDAT:
		return parse_bdat(cmd, error_r);
	default:
		return check_arg_count(cmd, error_r);
	}
}

int
smtp_cmd_parse(const char *line, size_t len, unsigned ext, bool smtputf8,
	       struct smtp_cmd *cmd_r, const char **error_r)
{
	static const struct pst_str empty = { "", 0 };
	struct smtp_cmd cmd = {
		.verb = SMTP_VERB_UNKNOWN,
		.verb_text = empty,
		.arg = empty,
		.addr = { .local = empty, .domain = empty },
		.mail = { .envid = empty },
		.rcpt = { .orcpt = empty },
	};
	int ret;

	if (line == NULL)
		len = 0;
	ret = parse_line(line != NULL ? line : "", len, ext, smtputf8, &cmd,
			 error_r);
	/* Filled even on error, so that the caller can log what came. */
	*cmd_r = cmd;
	return ret;
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
	if ((unsigned)verb >= SMTP_VERB__COUNT)
		return verb_names[SMTP_VERB_UNKNOWN];
	return verb_names[verb];
}
