/*
 * base64.h - base64 (RFC 4648 section 4) for whole buffers: SASL
 * exchanges, which want it strict and on one line, and MIME parts
 * written again, which want 76-column lines (RFC 2045 6.8).  The
 * streaming, forgiving decoder for message bodies is mail/decode.c.
 * Pure functions; thread-safe.
 */
#ifndef UTIL_BASE64_H
#define UTIL_BASE64_H

#include <stddef.h>

#include "buf.h"

/* Append the encoding of in[0..len) to out: on one line when line is 0,
 * else in lines of line characters (a multiple of 4), each ended by
 * CRLF, the last one too.  0, or -1 when out cannot grow. */
int pst_base64_encode(struct pst_buf *out, const void *in, size_t len,
		      size_t line);

/* Decode in[0..len) strictly (no blanks, padding required and canonical)
 * into out[0..outsize).  The byte count, or -1 when the input is not
 * canonical base64 or the result does not fit. */
long pst_base64_decode(const char *in, size_t len, char *out, size_t outsize);

/* The value of one base64 digit ('A'..'/': 0..63), or -1. */
int pst_base64_value(char c);

#endif
