/*
 * smtp_addr.h - RFC 5321 paths: Reverse-path and Forward-path of MAIL
 * and RCPT, with RFC 6531 (SMTPUTF8) addresses.
 *
 * The parser returns views into the caller's line; it copies nothing and
 * never logs.  Thread-safe.
 */
#ifndef MAIL_SMTP_ADDR_H
#define MAIL_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* RFC 5321 section 4.5.3.1.  Its 64-octet local-part limit is not
 * enforced on receipt: SRS and VERP senders pass it in real traffic, and
 * 4.5.3.1 asks for no limits where possible.  The path limit (256 with
 * the brackets) bounds the local part instead. */
#define SMTP_ADDR_MAX_LOCAL 253
#define SMTP_ADDR_MAX_DOMAIN 255
#define SMTP_ADDR_MAX_PATH 256

/* What the parser found (smtp_addr.flags). */
enum smtp_addr_flag {
	SMTP_ADDR_F_NULL = 1u << 0,	  /* <> */
	SMTP_ADDR_F_POSTMASTER = 1u << 1, /* <postmaster>, no domain */
	SMTP_ADDR_F_QUOTED = 1u << 2,	  /* quoted-string local part */
	SMTP_ADDR_F_IPLITERAL = 1u << 3, /* domain is [192.0.2.1] / [IPv6:..] */
	SMTP_ADDR_F_UTF8 = 1u << 4,	 /* non-ASCII in local part or domain */
	SMTP_ADDR_F_SOURCE_ROUTE = 1u << 5, /* @a,@b: was present and dropped */
	SMTP_ADDR_F_ROUTING = 1u << 6,	    /* % ! or @ inside the local part:
					     * old routing hacks, never relay */
	SMTP_ADDR_F_NO_BRACKETS = 1u << 7,  /* lenient: path without < > */
};

/* What the caller allows (opts of smtp_addr_parse). */
enum smtp_addr_opt {
	SMTP_ADDR_ALLOW_NULL = 1u << 0,	       /* MAIL FROM:<> */
	SMTP_ADDR_ALLOW_POSTMASTER = 1u << 1,  /* RCPT TO:<postmaster> */
	SMTP_ADDR_ALLOW_UTF8 = 1u << 2,	       /* SMTPUTF8 given on MAIL */
	SMTP_ADDR_ALLOW_NO_BRACKETS = 1u << 3, /* MAIL FROM:user@example.org */
};

struct smtp_addr {
	struct pst_str local;  /* as written (quotes kept), empty for <> */
	struct pst_str domain; /* as written; for a literal, with brackets */
	unsigned flags;	       /* enum smtp_addr_flag */
};

/*
 * Parse a path at the start of s[0..len): "<local@domain>", "<>",
 * "<postmaster>", "<@a,@b:local@domain>".  On success returns 0 and sets
 * *consumed_r to the bytes used (ESMTP parameters may follow).  On error
 * returns -1 and sets *error_r to a static text that begins with the
 * enhanced status code ("5.1.3 ..." bad address syntax, "5.6.7 ..."
 * UTF-8 without SMTPUTF8); smtp_cmd turns 5.1.3 into 5.1.7 (bad sender)
 * for MAIL.
 */
int smtp_addr_parse(const char *s, size_t len, unsigned opts,
		    struct smtp_addr *addr_r, size_t *consumed_r,
		    const char **error_r);

/* Is domain (without angle brackets) a syntactically valid domain name or
 * "[...]" address literal?  Exposed for HELO/EHLO argument checks. */
bool smtp_addr_domain_valid(struct pst_str domain, bool allow_utf8);

/* Append "local@domain" (or "" for the null path, "postmaster" alone) to
 * out.  Returns 0 or -1 (buffer limit; out is then unchanged). */
int smtp_addr_format(const struct smtp_addr *addr, struct pst_buf *out);

#endif
