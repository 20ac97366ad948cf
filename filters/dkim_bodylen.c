/*
 * dkim_bodylen.c - how long a body is after DKIM's body canonicalizations
 * (RFC 6376 3.4.3 simple, 3.4.4 relaxed), counted in one pass with a few
 * counters, so that a signature's l= can be compared with the whole body:
 * libopendkim stops counting at l=.
 *
 * simple: the body as is, trailing empty lines removed, a final CRLF
 * added when missing; an empty body is one CRLF.  relaxed: white space
 * (SP, HTAB) at line ends removed, runs of it inside a line one SP,
 * trailing empty lines removed, a final CRLF added to a non-empty body
 * without one; an empty body stays empty.  Input lines end in CRLF (the
 * spool's form); a lone LF ends a line too, a lone CR is content.
 * Pure, no allocation, thread-safe per struct.
 */
#include "config.h"

#include <string.h>

#include "dkim_int.h"

void
filter_dkim_bodylen_init(struct filter_dkim_bodylen *b)
{
	memset(b, 0, sizeof(*b));
}

static void
dkim_bodylen_eol(struct filter_dkim_bodylen *b)
{
	if (b->s_line == 0) {
		b->s_blank++;
	} else {
		b->simple += 2 * b->s_blank + b->s_line + 2;
		b->s_blank = 0;
		b->s_line = 0;
	}
	if (b->r_line == 0) {
		b->r_blank++;
	} else {
		b->relaxed += 2 * b->r_blank + b->r_line + 2;
		b->r_blank = 0;
		b->r_line = 0;
	}
	b->r_space = false;
}

static void
dkim_bodylen_byte(struct filter_dkim_bodylen *b, unsigned char c)
{
	b->s_line++;
	if (c == ' ' || c == '\t') {
		b->r_space = true;
		return;
	}
	if (b->r_space)
		b->r_line++;
	b->r_space = false;
	b->r_line++;
}

void
filter_dkim_bodylen_feed(struct filter_dkim_bodylen *b, const unsigned char *p,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				dkim_bodylen_eol(b);
				continue;
			}
			dkim_bodylen_byte(b, '\r');
		}
		if (c == '\r')
			b->cr = true;
		else if (c == '\n')
			dkim_bodylen_eol(b);
		else
			dkim_bodylen_byte(b, c);
	}
}

void
filter_dkim_bodylen_end(struct filter_dkim_bodylen *b, uint64_t *simple_r,
			uint64_t *relaxed_r)
{
	if (b->cr) {
		b->cr = false;
		dkim_bodylen_byte(b, '\r');
	}
	/* A last line without its line end gets one. */
	if (b->s_line > 0)
		b->simple += 2 * b->s_blank + b->s_line + 2;
	if (b->r_line > 0)
		b->relaxed += 2 * b->r_blank + b->r_line + 2;
	b->s_line = b->r_line = b->s_blank = b->r_blank = 0;
	*simple_r = b->simple > 0 ? b->simple : 2;
	*relaxed_r = b->relaxed;
}
