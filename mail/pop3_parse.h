/*
 * pop3_parse.h - the POP3 command line grammar postern answers itself
 * before login (RFC 1939, RFC 2449, RFC 5034): a keyword and arguments
 * separated by single spaces.
 *
 * Pure, no allocation, thread-safe; views point into the line.
 */
#ifndef MAIL_POP3_PARSE_H
#define MAIL_POP3_PARSE_H

#include <stddef.h>

#include "buf.h"

#define POP3_MAX_ARGS 8
/* RFC 2449 section 4: keywords are 3 or 4 characters; postern accepts
 * a little more so that an unknown longer one is answered, not a
 * syntax error. */
#define POP3_MAX_KEYWORD 16

struct pop3_cmd {
	struct pst_str keyword;
	struct pst_str args[POP3_MAX_ARGS];
	unsigned nargs;
	/* everything after the keyword and its space (PASS allows spaces
	 * in the password, RFC 1939 section 7) */
	struct pst_str rest;
};

/* Parse line (without CRLF).  0, or -1 with *error_r (static text):
 * control characters, an empty or over-long keyword, too many args. */
int pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd,
		       const char **error_r);

#endif
