/*
 * smtp_wire.h - the pure parts of the upstream SMTP/LMTP client: reading
 * an upstream's replies, its EHLO keywords, dot-stuffing the message on
 * its way out, xtext for XCLIENT/XFORWARD values.
 *
 * No sockets, no logging, no allocation; every function works on caller
 * memory only and is thread-safe.  Every input is an upstream's and is
 * treated as hostile: lengths and line counts are bounded.
 */
#ifndef RELAY_SMTP_WIRE_H
#define RELAY_SMTP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest reply line accepted, without CRLF (RFC 5321 says 512 with it;
 * some servers send longer texts). */
#define SMTP_WIRE_LINE_MAX 2048
/* Most lines of one reply (an EHLO reply has about 15). */
#define SMTP_WIRE_LINES_MAX 100
/* Text kept of one reply: room for a relay_reply text with a prefix. */
#define SMTP_WIRE_TEXT_MAX 320

/* One reply of an upstream, collected line by line. */
struct smtp_wire_reply {
	unsigned code;		       /* 0 until the first line */
	char enhanced[16];	       /* "5.1.1" from the first line, or "" */
	char text[SMTP_WIRE_TEXT_MAX]; /* the lines' texts without the
					* enhanced codes, joined by ' ',
					* cut to fit */
	unsigned nlines;
	bool done;
};

void smtp_wire_reply_init(struct smtp_wire_reply *reply);

/*
 * Feed one line (without CRLF).  Returns 1 when the reply is complete,
 * 0 when more lines follow, -1 when the line is not a reply line, its
 * code differs from the first line's, or the reply has too many lines
 * (the caller then drops the connection).
 */
int smtp_wire_reply_feed(struct smtp_wire_reply *reply, const char *line,
			 size_t len);

/* Set a reply by hand (for texts we make up and for tests). */
void smtp_wire_reply_set(struct smtp_wire_reply *reply, unsigned code,
			 const char *enhanced, const char *text);

/* "2.0.0", "4.0.0" or "5.0.0" when the upstream sent no enhanced code,
 * else its own. */
const char *smtp_wire_reply_enhanced(const struct smtp_wire_reply *reply);

/* EHLO keywords we act on. */
enum smtp_wire_ext {
	SMTP_WIRE_PIPELINING = 1u << 0,
	SMTP_WIRE_SIZE = 1u << 1,
	SMTP_WIRE_8BITMIME = 1u << 2,
	SMTP_WIRE_SMTPUTF8 = 1u << 3,
	SMTP_WIRE_DSN = 1u << 4,
	SMTP_WIRE_CHUNKING = 1u << 5,
	SMTP_WIRE_STARTTLS = 1u << 6,
	SMTP_WIRE_XCLIENT = 1u << 7,
	SMTP_WIRE_XFORWARD = 1u << 8,
	SMTP_WIRE_ENHANCEDSTATUSCODES = 1u << 9,
};

/* Attributes an upstream takes in XCLIENT or XFORWARD (its EHLO line
 * lists them). */
enum smtp_wire_attr {
	SMTP_WIRE_A_NAME = 1u << 0,
	SMTP_WIRE_A_ADDR = 1u << 1,
	SMTP_WIRE_A_PORT = 1u << 2,
	SMTP_WIRE_A_PROTO = 1u << 3,
	SMTP_WIRE_A_HELO = 1u << 4,
	SMTP_WIRE_A_IDENT = 1u << 5,  /* XFORWARD */
	SMTP_WIRE_A_SOURCE = 1u << 6, /* XFORWARD */
	SMTP_WIRE_A_LOGIN = 1u << 7,  /* XCLIENT */
};

struct smtp_wire_ehlo {
	unsigned ext;		 /* enum smtp_wire_ext */
	uint64_t size_max;	 /* SIZE n; 0 when absent or unlimited */
	unsigned xclient_attrs;	 /* enum smtp_wire_attr */
	unsigned xforward_attrs; /* enum smtp_wire_attr */
};

/* Take one EHLO/LHLO reply line's text (after "250-" or "250 "); the
 * first line, the server's name, must not be passed.  Unknown keywords
 * are ignored. */
void smtp_wire_ehlo_line(struct smtp_wire_ehlo *ehlo, const char *text,
			 size_t len);

/*
 * Dot-stuffing (RFC 5321 4.5.2) of a message that arrives in blocks: a
 * '.' at the start of a line is doubled, also when the line starts in a
 * later block than the one that ended the previous line.  Start with
 * the state zeroed (the message starts at the start of a line).
 */
struct smtp_wire_dot {
	bool mid_line; /* the last byte seen was not LF */
};

/* Where stuffed bytes go; 0 or -1 (stops the stuffing with -1). */
typedef int smtp_wire_emit_fn(void *arg, const char *p, size_t len);

int smtp_wire_dot_stuff(struct smtp_wire_dot *dot, const char *p, size_t len,
			smtp_wire_emit_fn *emit, void *arg);
/* The end of data: ".\r\n", after a CRLF of our own when the content did
 * not end with a line end. */
int smtp_wire_dot_end(struct smtp_wire_dot *dot, smtp_wire_emit_fn *emit,
		      void *arg);

/*
 * xtext (RFC 3461 4): bytes outside '!'..'~', '+' and '=' as "+HH".
 * Writes a NUL-terminated string into out and returns its length, or
 * (size_t)-1 when it does not fit in size bytes.
 */
size_t smtp_wire_xtext(char *out, size_t size, const char *in);

#endif
