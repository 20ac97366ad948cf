/*
 * sasl_plain.h - the SASL PLAIN mechanism (RFC 4616) and the strict
 * base64 (RFC 4648 section 4) that carries it in IMAP and POP3.
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

/* Decode base64 (padded, no whitespace) into out.  The decoded length,
 * or -1 when in is not canonical base64 or does not fit outsize. */
long sasl_base64_decode(const char *in, size_t len, char *out, size_t outsize);
/* Append the base64 of in to out.  0 or -1. */
int sasl_base64_encode(const void *in, size_t len, struct pst_buf *out);

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
