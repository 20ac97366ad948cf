/*
 * smtp_reply.c - SMTP replies: what we send (RFC 5321 4.2 with RFC 3463
 * enhanced codes on every line of a multi-line reply) and what an
 * upstream sends us (see smtp_reply.h).
 *
 * Each reply line is composed in a bounded stack buffer and appended to
 * the caller's buffer whole; on failure the caller's buffer is put back
 * as it was, so a half reply is never sent.  Thread-safe.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

/* "5.999.999" is the longest valid enhanced code. */
#define ENHANCED_MAX 9

/* Parse 1..3 digits without leading zeros ("0" alone is fine); returns
 * the digits consumed or 0. */
static size_t
enhanced_part(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && n < 4 && s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return 0;
	return n;
}

bool
smtp_reply_enhanced_valid(const char *s, size_t len)
{
	size_t pos, n;

	if (s == NULL || len < 5 || len > ENHANCED_MAX)
		return false;
	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return false;
	pos = 2;
	n = enhanced_part(s + pos, len - pos);
	if (n == 0)
		return false;
	pos += n;
	if (pos >= len || s[pos] != '.')
		return false;
	pos++;
	n = enhanced_part(s + pos, len - pos);
	return n != 0 && pos + n == len;
}

/*
 * The enhanced code to send with code into enh (ENHANCED_MAX + 1 bytes):
 * empty when there is none or the class (3xx) has none; "X.0.0" when the
 * given one is malformed or of another class than the code.
 */
static void
pick_enhanced(unsigned code, const char *enhanced, char *enh)
{
	char cls = (char)('0' + code / 100);
	size_t len;

	enh[0] = '\0';
	if (enhanced == NULL || enhanced[0] == '\0')
		return;
	if (cls != '2' && cls != '4' && cls != '5')
		return;
	len = strnlen(enhanced, ENHANCED_MAX + 1);
	if (smtp_reply_enhanced_valid(enhanced, len) && enhanced[0] == cls) {
		memcpy(enh, enhanced, len + 1);
		return;
	}
	enh[0] = cls;
	memcpy(enh + 1, ".0.0", 5);
}

int
smtp_reply_append(struct pst_buf *out, unsigned code, const char *enhanced,
		  const char *text)
{
	char enh[ENHANCED_MAX + 1];
	char line[SMTP_REPLY_MAX_LINE];
	size_t saved_len = out->len;
	const char *p = text != NULL ? text : "";

	if (code < 200 || code > 599)
		return -1;
	pick_enhanced(code, enhanced, enh);

	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t tlen = nl != NULL ? (size_t)(nl - p) : strlen(p);
		/* a single trailing newline does not make an empty line */
		bool last = nl == NULL || nl[1] == '\0';
		size_t n, room;

		/* "text\r\n" from an upstream: the CR belongs to the end */
		if (nl != NULL && tlen > 0 && p[tlen - 1] == '\r')
			tlen--;
		n = (size_t)snprintf(line, sizeof(line), "%03u%c", code,
				     last ? ' ' : '-');
		if (enh[0] != '\0') {
			size_t elen = strlen(enh);

			memcpy(line + n, enh, elen);
			n += elen;
			if (tlen > 0)
				line[n++] = ' ';
		}
		room = sizeof(line) - 2 - n;
		if (tlen > room)
			tlen = room;
		for (size_t i = 0; i < tlen; i++) {
			unsigned char c = (unsigned char)p[i];

			line[n++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
		}
		/* "250" alone rather than "250 " for an empty last line */
		if (last && n == 4)
			n = 3;
		line[n++] = '\r';
		line[n++] = '\n';
		if (pst_buf_append(out, line, n) < 0) {
			if (out->data != NULL) {
				out->len = saved_len;
				out->data[saved_len] = '\0';
			}
			return -1;
		}
		if (last)
			return 0;
		p = nl + 1;
	}
}

int
smtp_reply_appendf(struct pst_buf *out, unsigned code, const char *enhanced,
		   const char *fmt, ...)
{
	char stack[2048];
	char *text = stack;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(stack)) {
		/* A long multi-line reply: rare enough for the heap. */
		text = malloc((size_t)n + 1);
		if (text == NULL)
			return -1;
		va_start(ap, fmt);
		vsnprintf(text, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	rc = smtp_reply_append(out, code, enhanced, text);
	if (text != stack)
		free(text);
	return rc;
}

int
smtp_reply_parse_line(const char *line, size_t len,
		      struct smtp_reply_line *reply_r)
{
	struct pst_str text;
	size_t k;

	if (reply_r == NULL)
		return -1;
	memset(reply_r, 0, sizeof(*reply_r));
	if (line == NULL || len < 3)
		return -1;
	if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;

	reply_r->code = (unsigned)(line[0] - '0') * 100 +
			(unsigned)(line[1] - '0') * 10 +
			(unsigned)(line[2] - '0');
	reply_r->last = len == 3 || line[3] == ' ';
	text.p = line + (len > 3 ? 4 : 3);
	text.len = len > 3 ? len - 4 : 0;
	reply_r->text = text;
	reply_r->enhanced = (struct pst_str){ text.p, 0 };

	for (k = 0; k < text.len && k <= ENHANCED_MAX && text.p[k] != ' '; k++)
		;
	if ((k == text.len || text.p[k] == ' ') &&
	    smtp_reply_enhanced_valid(text.p, k))
		reply_r->enhanced.len = k;
	return 0;
}
