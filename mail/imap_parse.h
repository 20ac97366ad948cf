/*
 * imap_parse.h - the IMAP command grammar that postern answers itself
 * before login (RFC 9051 / RFC 3501 section 9): tags, atoms, quoted
 * strings, literals {n} and {n+} (RFC 7888), and flat parenthesized
 * lists (for ID).
 *
 * Pure functions over caller-owned memory: no allocation, no logging,
 * thread-safe.  Views returned point into the command buffer or into the
 * caller's scratch buffer (unescaped quoted strings).
 */
#ifndef MAIL_IMAP_PARSE_H
#define MAIL_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* ID has at most 30 field/value pairs (RFC 2971), plus the parens. */
#define IMAP_MAX_ARGS 64
#define IMAP_MAX_TAG 64
#define IMAP_MAX_LIST_DEPTH 4

enum imap_arg_type {
	IMAP_ARG_ATOM,	     /* also NIL */
	IMAP_ARG_QUOTED,     /* s is unescaped, in scratch */
	IMAP_ARG_LITERAL,    /* s is the literal's octets */
	IMAP_ARG_LIST_BEGIN, /* "(" */
	IMAP_ARG_LIST_END,   /* ")" */
};

struct imap_arg {
	enum imap_arg_type type;
	struct pst_str s;
};

struct imap_cmd {
	struct pst_str tag;  /* empty when no valid tag was found */
	struct pst_str name; /* the command, as written */
	struct imap_arg args[IMAP_MAX_ARGS];
	unsigned nargs;
};

/* Does line (one line without its CRLF) end in a literal marker?
 * 1: yes, with its size and whether it is non-synchronising ({n+});
 * 0: no; -1: a marker that is malformed or larger than UINT32_MAX. */
int imap_parse_literal(const char *line, size_t len, uint64_t *size_r,
		       bool *nonsync_r);

/* Parse one complete command: buf holds its lines joined by CRLF, each
 * literal's octets following the CRLF after its marker, and no final
 * CRLF.  scratch must have room for len bytes.  0, or -1 with *error_r
 * (static text for a tagged BAD); cmd->tag is set whenever a valid tag
 * began the buffer, so the BAD can be tagged. */
int imap_parse_command(const char *buf, size_t len, char *scratch,
		       struct imap_cmd *cmd, const char **error_r);

/* Is the arg a string (atom, quoted or literal)? */
static inline bool
imap_arg_is_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_QUOTED ||
	       a->type == IMAP_ARG_LITERAL;
}

/* Append s as an IMAP quoted string to out, or as a literal {n+} when it
 * cannot be quoted (CR, LF, 8-bit).  0 or -1 (out of memory/limit). */
int imap_append_string(struct pst_buf *out, struct pst_str s);

#endif
