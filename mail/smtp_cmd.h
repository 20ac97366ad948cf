/*
 * smtp_cmd.h - the SMTP server's command grammar (RFC 5321 section 4.1,
 * with RFC 1870 SIZE, 6152 8BITMIME, 3030 CHUNKING, 3461 DSN, 6531
 * SMTPUTF8 parameters).
 *
 * smtp_cmd_parse() takes one command line without its CRLF and fills a
 * struct smtp_cmd of views into that line.  No allocation, no logging,
 * thread-safe.  Errors come back as an SMTP code plus a static text that
 * starts with the enhanced status code, ready for a reply.
 */
#ifndef MAIL_SMTP_CMD_H
#define MAIL_SMTP_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "smtp_addr.h"

enum smtp_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_HELP,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_XCLIENT,
	SMTP_VERB__COUNT,
};

enum smtp_body { SMTP_BODY_UNSET, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };
enum smtp_ret { SMTP_RET_UNSET, SMTP_RET_FULL, SMTP_RET_HDRS };

enum smtp_notify {
	SMTP_NOTIFY_NEVER = 1u << 0,
	SMTP_NOTIFY_SUCCESS = 1u << 1,
	SMTP_NOTIFY_FAILURE = 1u << 2,
	SMTP_NOTIFY_DELAY = 1u << 3,
};

/* Parameters of MAIL FROM. */
struct smtp_mail_params {
	bool has_size;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	struct pst_str envid; /* xtext as sent, or empty */
};

/* Parameters of RCPT TO. */
struct smtp_rcpt_params {
	unsigned notify;      /* enum smtp_notify bits, 0 if absent */
	struct pst_str orcpt; /* "rfc822;xtext" as sent, or empty */
};

/* Which extensions the session offers; a parameter of an extension not
 * offered is refused. */
enum smtp_cmd_ext {
	SMTP_EXT_SIZE = 1u << 0,
	SMTP_EXT_8BITMIME = 1u << 1,
	SMTP_EXT_SMTPUTF8 = 1u << 2,
	SMTP_EXT_DSN = 1u << 3,
	SMTP_EXT_CHUNKING = 1u << 4,
	SMTP_EXT_LENIENT_PATH = 1u << 5, /* accept MAIL FROM:a@b without <> */
};

struct smtp_cmd {
	enum smtp_verb verb;
	struct pst_str verb_text; /* as sent, for "unknown command" logs */
	struct pst_str arg;	  /* everything after the verb, trimmed */
	/* MAIL / RCPT */
	struct smtp_addr addr;
	struct smtp_mail_params mail;
	struct smtp_rcpt_params rcpt;
	/* BDAT */
	uint64_t bdat_size;
	bool bdat_last;
};

#define SMTP_CMD_MAX_PARAMS 16

/*
 * Parse line[0..len) (no CRLF).  ext: enum smtp_cmd_ext bits the session
 * offers; for MAIL the SMTPUTF8 parameter, once seen, allows UTF-8 in the
 * path.  For RCPT pass smtputf8 = whether the transaction's MAIL had it.
 * Returns 0, or the reply code (500 unknown verb or bad line, 501 syntax
 * in arguments, 504 unsupported parameter value, 553 non-ASCII address
 * without SMTPUTF8, 555 unknown parameter, 552 SIZE over limit is NOT
 * decided here) with *error_r a static text starting with the enhanced
 * code.  An unknown verb still fills verb_text.
 */
int smtp_cmd_parse(const char *line, size_t len, unsigned ext, bool smtputf8,
		   struct smtp_cmd *cmd_r, const char **error_r);

/* "MAIL", "RCPT", ... for logs and counters; "unknown" for UNKNOWN. */
const char *smtp_verb_name(enum smtp_verb verb);

#endif
