/*
 * milter_reply.c - a stage's outcome as libmilter's answer: SMFIS_*
 * and the SMTP reply (see milter.h).
 *
 * libmilter passes reply text to the MTA as a format string (sendmail
 * expands '%'), refuses CR and LF, and takes at most 32 lines; the text
 * comes from filters and rules, so it is made safe here whatever it is.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <libmilter/mfapi.h>

#include "milter.h"
#include "postern/filter.h"

/* "X.Y.Z" with X the class, Y 0-999, Z 0-999 (RFC 3463). */
static bool
milter_enhanced_ok(const char *e, char cls)
{
	size_t digits = 0, dots = 0;

	if (e == NULL || e[0] != cls || e[1] != '.')
		return false;
	for (const char *p = e + 2; *p != '\0'; p++) {
		if (*p == '.') {
			if (digits == 0 || ++dots > 1)
				return false;
			digits = 0;
		} else if (*p >= '0' && *p <= '9') {
			if (++digits > 3)
				return false;
		} else {
			return false;
		}
	}
	return dots == 1 && digits > 0;
}

/* Append one sanitised character to line (of width w, in bytes of
 * text shown); returns the bytes used. */
static size_t
milter_put(char *line, size_t len, unsigned char c)
{
	if (c == '%') {
		line[len] = '%';
		line[len + 1] = '%';
		return 2;
	}
	line[len] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	return 1;
}

/* Wrap text into reply->lines at white space. */
static void
milter_wrap(struct milter_reply *reply, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;

	reply->nlines = 0;
	while (*s == ' ' || *s == '\t')
		s++;
	while (*s != '\0' && reply->nlines < MILTER_REPLY_LINES) {
		char *line = reply->lines[reply->nlines];
		size_t n = 0, shown = 0, brk = 0;
		const unsigned char *at_brk = NULL, *p = s;

		/* How much fits: the last blank within the width. */
		while (*p != '\0' && shown < MILTER_REPLY_WIDTH) {
			if ((*p == ' ' || *p == '\t') && shown > 0) {
				brk = shown;
				at_brk = p;
			}
			shown++;
			p++;
		}
		if (*p == '\0' || at_brk == NULL) {
			at_brk = p;
			brk = shown;
		}
		for (size_t i = 0; i < brk; i++)
			n += milter_put(line, n, s[i]);
		while (n > 0 && line[n - 1] == ' ')
			n--; /* no trailing blanks */
		line[n] = '\0';
		reply->nlines++;
		s = at_brk;
		while (*s == ' ' || *s == '\t')
			s++;
	}
	if (reply->nlines == 0) {
		snprintf(reply->lines[0], sizeof(reply->lines[0]), "%s",
			 reply->code[0] == '5' ? "Message rejected"
					       : "Try again later");
		reply->nlines = 1;
	}
}

void
milter_reply_set(struct milter_reply *reply, bool permanent, unsigned code,
		 const char *enhanced, const char *text)
{
	char cls = permanent ? '5' : '4';

	if (code / 100 != (unsigned)(cls - '0'))
		code = permanent ? 550 : 451;
	snprintf(reply->code, sizeof(reply->code), "%u", code);
	if (milter_enhanced_ok(enhanced, cls) &&
	    strlen(enhanced) < sizeof(reply->enhanced))
		snprintf(reply->enhanced, sizeof(reply->enhanced), "%s",
			 enhanced);
	else
		reply->enhanced[0] = '\0';
	milter_wrap(reply, text != NULL ? text : "");
}

int
milter_verdict(enum filter_stage stage, const struct filter_outcome *out,
	       struct milter_reply *reply)
{
	reply->nlines = 0;
	switch (out->verdict) {
	case PF_REJECT:
		milter_reply_set(reply, true, out->code, out->enhanced,
				 out->text);
		return SMFIS_REJECT;
	case PF_TEMPFAIL:
	case PF_ERROR: /* never leaves the chain; fail safe if it does */
		milter_reply_set(reply, false, out->code, out->enhanced,
				 out->text);
		return SMFIS_TEMPFAIL;
	case PF_DISCARD:
		return stage == FILTER_MESSAGE ? SMFIS_DISCARD : SMFIS_CONTINUE;
	case PF_CONTINUE:
	case PF_ACCEPT:
	case PF_QUARANTINE:
		return SMFIS_CONTINUE;
	default:
		milter_reply_set(reply, false, 451, "4.3.0",
				 "Error: filters unavailable");
		return SMFIS_TEMPFAIL;
	}
}
