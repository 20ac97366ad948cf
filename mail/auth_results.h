/*
 * auth_results.h - the pieces of the Authentication-Results grammar (RFC
 * 8601) that the gateway needs: the authserv-id of a received field, so
 * that fields claiming ours can be removed (RFC 8601 section 5); the
 * syntax of what a filter hands in (method, result, properties); and the
 * text of the header field postern writes.
 *
 * Pure functions over their arguments: no I/O, no logging, no allocation
 * besides the caller's buffer.  Thread-safe.
 */
#ifndef MAIL_AUTH_RESULTS_H
#define MAIL_AUTH_RESULTS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Longest method, result or property name we accept. */
#define AUTH_RESULTS_KEYWORD_MAX 64
/* Longest properties string of one resinfo. */
#define AUTH_RESULTS_PROPS_MAX 1024
/* Deepest nesting of comments we follow. */
#define AUTH_RESULTS_COMMENT_DEPTH 32

/*
 * The authserv-id of an Authentication-Results field value (what follows
 * the colon, folded or not): comments and folding white space before it
 * are skipped, a quoted-string is unquoted.  On success appends the id
 * to *id_r (which the caller has reset) and returns 0; returns -1 when
 * the value does not start with an authserv-id followed by white space,
 * a comment, ';' or the end (unterminated quotes or comments, comments
 * nested deeper than AUTH_RESULTS_COMMENT_DEPTH, control characters, an
 * empty id), or when id_r's limit is reached.
 */
int auth_results_authserv_id(struct pst_str value, struct pst_buf *id_r);

/* Is s a keyword as methods and results are (RFC 8601 section 2.2,
 * RFC 5321 Keyword): letters, digits and '-', starting and ending with a
 * letter or digit, at most AUTH_RESULTS_KEYWORD_MAX bytes? */
bool auth_results_keyword_valid(const char *s);

/*
 * Are props the properties of one resinfo: items separated by blanks,
 * each "ptype.property=pvalue" or "reason=pvalue" (ptype and property
 * keywords; pvalue a quoted-string, or bytes other than controls,
 * blanks, ';', '(', ')', '"' and '\\', UTF-8 allowed) or a comment
 * "( ... )"?  An empty string is valid.  Nothing in valid props can end
 * the resinfo early: no ';' outside quotes or comments, no line break.
 */
bool auth_results_props_valid(const char *props);

/* Append id as an authserv-id: as is when it is a token, else as a
 * quoted-string.  0, or -1 (an empty id, control characters in it, or
 * buf's limit; buf is then unchanged). */
int auth_results_format_id(struct pst_buf *buf, const char *id);

/* Append one resinfo "method=result props" (props NULL or empty: none),
 * without the ';' that separates it from the previous one.  Arguments
 * are not validated here.  0, or -1 with buf unchanged. */
int auth_results_format_resinfo(struct pst_buf *buf, const char *method,
				const char *result, const char *props);

#endif
