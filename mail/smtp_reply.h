/*
 * smtp_reply.h - SMTP replies: formatting what we send (RFC 5321 section
 * 4.2, RFC 3463 enhanced codes on every line) and parsing what an upstream
 * sends.  No allocation besides the caller's buffer (but see appendf);
 * thread-safe.
 */
#ifndef MAIL_SMTP_REPLY_H
#define MAIL_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Longest reply line we emit, CRLF included (RFC 5321 4.5.3.1.5). */
#define SMTP_REPLY_MAX_LINE 512

/*
 * Append a reply to out: code (200..599), enhanced ("2.1.0", or NULL for
 * the greeting and other replies that carry none) and text.  Text may
 * hold '\n' to make a multi-line reply ("250-..." lines, the last
 * "250 ..."); control characters and bytes >= 0x80 in text are replaced
 * by '?' so nothing a client sent can break the reply; lines that would
 * pass SMTP_REPLY_MAX_LINE are cut.  An enhanced code whose class does not
 * match the code's first digit is replaced by "X.0.0" of the right class
 * (a 3xx reply carries none).  Returns 0, or -1 with out unchanged (out's
 * limit, or code not in 200..599).  appendf formats texts over 2 KB in a
 * temporary heap buffer.
 */
int smtp_reply_append(struct pst_buf *out, unsigned code, const char *enhanced,
		      const char *text);
int smtp_reply_appendf(struct pst_buf *out, unsigned code, const char *enhanced,
		       const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Is s a valid RFC 3463 code "c.sss.ddd" (c in 2,4,5; sss, ddd up to 3
 * digits without leading zeros beyond a single 0)? */
bool smtp_reply_enhanced_valid(const char *s, size_t len);

/* One reply line from a server, without CRLF. */
struct smtp_reply_line {
	unsigned code;
	bool last;		 /* "250 " rather than "250-" */
	struct pst_str text;	 /* after the separator */
	struct pst_str enhanced; /* leading enhanced code of text, or empty */
};

/* Parse "ddd[ -]text" or "ddd".  0 or -1 (not a reply line). */
int smtp_reply_parse_line(const char *line, size_t len,
			  struct smtp_reply_line *reply_r);

#endif
