/*
 * smtp_wire.c - replies, EHLO keywords, dot-stuffing and xtext for the
 * upstream client (see smtp_wire.h).  Pure functions over caller memory;
 * thread-safe.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "buf.h"
#include "smtp_reply.h"
#include "smtp_wire.h"

void
smtp_wire_reply_init(struct smtp_wire_reply *reply)
{
	reply->code = 0;
	reply->enhanced[0] = '\0';
	reply->text[0] = '\0';
	reply->nlines = 0;
	reply->done = false;
}

/* Append text to the reply's text, ' ' between lines, cut to fit. */
static void
smtp_wire_text_add(struct smtp_wire_reply *reply, const char *p, size_t len)
{
	size_t have = strlen(reply->text);
	size_t room;

	if (have > 0 && have + 1 < sizeof(reply->text))
		reply->text[have++] = ' ';
	room = sizeof(reply->text) - 1 - have;
	if (len > room)
		len = room;
	memcpy(reply->text + have, p, len);
	reply->text[have + len] = '\0';
}

int
smtp_wire_reply_feed(struct smtp_wire_reply *reply, const char *line,
		     size_t len)
{
	struct smtp_reply_line rl;
	struct pst_str text;

	if (reply->done || reply->nlines >= SMTP_WIRE_LINES_MAX ||
	    len > SMTP_WIRE_LINE_MAX ||
	    smtp_reply_parse_line(line, len, &rl) < 0)
		return -1;
	if (reply->nlines > 0 && rl.code != reply->code)
		return -1;
	text = rl.text;
	/* An enhanced code counts only when its class is the reply's. */
	if (rl.enhanced.len > 0 &&
	    rl.enhanced.p[0] == (char)('0' + rl.code / 100)) {
		if (reply->nlines == 0 &&
		    rl.enhanced.len < sizeof(reply->enhanced)) {
			memcpy(reply->enhanced, rl.enhanced.p, rl.enhanced.len);
			reply->enhanced[rl.enhanced.len] = '\0';
		}
		text.p += rl.enhanced.len;
		text.len -= rl.enhanced.len;
		text = pst_str_trim(text);
	}
	if (reply->nlines == 0)
		reply->code = rl.code;
	reply->nlines++;
	if (text.len > 0)
		smtp_wire_text_add(reply, text.p, text.len);
	if (rl.last)
		reply->done = true;
	return rl.last ? 1 : 0;
}

void
smtp_wire_reply_set(struct smtp_wire_reply *reply, unsigned code,
		    const char *enhanced, const char *text)
{
	smtp_wire_reply_init(reply);
	reply->code = code;
	if (enhanced != NULL && strlen(enhanced) < sizeof(reply->enhanced))
		strcpy(reply->enhanced, enhanced);
	if (text != NULL)
		smtp_wire_text_add(reply, text, strlen(text));
	reply->nlines = 1;
	reply->done = true;
}

const char *
smtp_wire_reply_enhanced(const struct smtp_wire_reply *reply)
{
	if (reply->enhanced[0] != '\0')
		return reply->enhanced;
	if (reply->code >= 500)
		return "5.0.0";
	if (reply->code >= 400)
		return "4.0.0";
	return "2.0.0";
}

/* ---- EHLO ---- */

static const struct {
	const char *name;
	unsigned bit;
} smtp_wire_exts[] = {
	{ "PIPELINING", SMTP_WIRE_PIPELINING },
	{ "SIZE", SMTP_WIRE_SIZE },
	{ "8BITMIME", SMTP_WIRE_8BITMIME },
	{ "SMTPUTF8", SMTP_WIRE_SMTPUTF8 },
	{ "DSN", SMTP_WIRE_DSN },
	{ "CHUNKING", SMTP_WIRE_CHUNKING },
	{ "STARTTLS", SMTP_WIRE_STARTTLS },
	{ "XCLIENT", SMTP_WIRE_XCLIENT },
	{ "XFORWARD", SMTP_WIRE_XFORWARD },
	{ "ENHANCEDSTATUSCODES", SMTP_WIRE_ENHANCEDSTATUSCODES },
};

static const struct {
	const char *name;
	unsigned bit;
} smtp_wire_attrs[] = {
	{ "NAME", SMTP_WIRE_A_NAME },	  { "ADDR", SMTP_WIRE_A_ADDR },
	{ "PORT", SMTP_WIRE_A_PORT },	  { "PROTO", SMTP_WIRE_A_PROTO },
	{ "HELO", SMTP_WIRE_A_HELO },	  { "IDENT", SMTP_WIRE_A_IDENT },
	{ "SOURCE", SMTP_WIRE_A_SOURCE }, { "LOGIN", SMTP_WIRE_A_LOGIN },
};

/* The next space-separated word of s[*pos..len). */
static struct pst_str
smtp_wire_word(const char *s, size_t len, size_t *pos)
{
	size_t i = *pos, start;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	start = i;
	while (i < len && s[i] != ' ' && s[i] != '\t')
		i++;
	*pos = i;
	return (struct pst_str){ s + start, i - start };
}

static unsigned
smtp_wire_attr_list(const char *s, size_t len, size_t pos)
{
	unsigned bits = 0;

	for (;;) {
		struct pst_str w = smtp_wire_word(s, len, &pos);

		if (w.len == 0)
			return bits;
		for (size_t i = 0;
		     i < sizeof(smtp_wire_attrs) / sizeof(smtp_wire_attrs[0]);
		     i++) {
			if (pst_str_caseeq_cstr(w, smtp_wire_attrs[i].name))
				bits |= smtp_wire_attrs[i].bit;
		}
	}
}

void
smtp_wire_ehlo_line(struct smtp_wire_ehlo *ehlo, const char *text, size_t len)
{
	size_t pos = 0;
	struct pst_str kw = smtp_wire_word(text, len, &pos);
	unsigned bit = 0;

	for (size_t i = 0;
	     i < sizeof(smtp_wire_exts) / sizeof(smtp_wire_exts[0]); i++) {
		if (pst_str_caseeq_cstr(kw, smtp_wire_exts[i].name)) {
			bit = smtp_wire_exts[i].bit;
			break;
		}
	}
	if (bit == 0)
		return;
	ehlo->ext |= bit;
	if (bit == SMTP_WIRE_SIZE) {
		struct pst_str n = smtp_wire_word(text, len, &pos);
		uint64_t v = 0;

		/* A number that does not parse or overflows: no limit we
		 * could honour; the upstream will say so at MAIL. */
		for (size_t i = 0; i < n.len; i++) {
			if (n.p[i] < '0' || n.p[i] > '9' ||
			    v > (UINT64_MAX - 9) / 10) {
				v = 0;
				break;
			}
			v = v * 10 + (uint64_t)(n.p[i] - '0');
		}
		ehlo->size_max = v;
	} else if (bit == SMTP_WIRE_XCLIENT) {
		ehlo->xclient_attrs = smtp_wire_attr_list(text, len, pos);
	} else if (bit == SMTP_WIRE_XFORWARD) {
		ehlo->xforward_attrs = smtp_wire_attr_list(text, len, pos);
	}
}

/* ---- dot-stuffing ---- */

int
smtp_wire_dot_stuff(struct smtp_wire_dot *dot, const char *p, size_t len,
		    smtp_wire_emit_fn *emit, void *arg)
{
	size_t start = 0, i = 0;

	while (i < len) {
		const char *lf;

		if (!dot->mid_line && p[i] == '.') {
			/* Emit up to here, then one extra dot; the line's
			 * own dot goes out with the next segment. */
			if ((i > start &&
			     emit(arg, p + start, i - start) < 0) ||
			    emit(arg, ".", 1) < 0)
				return -1;
			start = i;
		}
		lf = memchr(p + i, '\n', len - i);
		if (lf == NULL) {
			dot->mid_line = true;
			break;
		}
		i = (size_t)(lf - p) + 1;
		dot->mid_line = false;
	}
	if (len > start && emit(arg, p + start, len - start) < 0)
		return -1;
	return 0;
}

int
smtp_wire_dot_end(struct smtp_wire_dot *dot, smtp_wire_emit_fn *emit, void *arg)
{
	if (dot->mid_line) {
		dot->mid_line = false;
		return emit(arg, "\r\n.\r\n", 5);
	}
	return emit(arg, ".\r\n", 3);
}

/* ---- xtext ---- */

size_t
smtp_wire_xtext(char *out, size_t size, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=') {
			if (o + 1 >= size)
				return (size_t)-1;
			out[o++] = (char)*p;
		} else {
			if (o + 3 >= size)
				return (size_t)-1;
			out[o++] = '+';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (o >= size)
		return (size_t)-1;
	out[o] = '\0';
	return o;
}
