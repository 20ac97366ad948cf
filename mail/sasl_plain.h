/*
 * sasl_plain.h - the SASL PLAIN mechanism (RFC 4616), carried in IMAP
 * and POP3 in strict base64 (util/base64.h).
 *
 * Pure, no allocation, thread-safe.
 */
#ifndef MAIL_SASL_PLAIN_H
#define MAIL_SASL_PLAIN_H

#include <stddef.h>

#include "buf.h"

/* RFC 4616: each of the three fields is at most 255 octets. */
#define SASL_PLAIN_MAX_FIELD 255
#define SASL_PLAIN_MAX_DECODED (3 * SASL_PLAIN_MAX_FIELD + 2)

struct sasl_plain {
	struct pst_str authzid; /* may be empty */
	struct pst_str authcid; /* the user name */
	struct pst_str passwd;
};

/* Split a decoded PLAIN message "authzid NUL authcid NUL passwd".  Views
 * point into msg.  0, or -1 with *error_r. */
int sasl_plain_parse(const char *msg, size_t len, struct sasl_plain *r,
		     const char **error_r);

/* Append base64("" NUL user NUL pass) to out.  0 or -1. */
int sasl_plain_encode(struct pst_str user, struct pst_str pass,
		      struct pst_buf *out);

#endif
