/*
 * cli_out.c - text from mail printed safely by the subcommands
 * (cli_out.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli_out.h"
#include "utf8.h"

/* The code point of a bidirectional-formatting mark at u[0..k) (U+202A..
 * U+202E, U+2066..U+2069, U+200E, U+200F, U+061C: they reorder what a
 * terminal shows), or 0. */
static unsigned
bidi_mark(const unsigned char *u, size_t k)
{
	unsigned cp;

	if (k == 2) {
		cp = (unsigned)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
		return cp == 0x061c ? cp : 0;
	}
	if (k != 3)
		return 0;
	cp = (unsigned)(u[0] & 0x0f) << 12 | (unsigned)(u[1] & 0x3f) << 6 |
	     (u[2] & 0x3f);
	if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0x200e || cp == 0x200f)
		return cp;
	return 0;
}

/* s[0..n) for a terminal: controls, bidi marks and invalid UTF-8
 * escaped; tab kept when keep_tab. */
void
cli_text_out(FILE *f, const char *s, size_t n, bool keep_tab)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (u[i] == '\t' && keep_tab) {
			putc('\t', f);
		} else if (u[i] < 0x20 || u[i] == 0x7f || u[i] == '\\') {
			fprintf(f, u[i] == '\\' ? "\\\\" : "\\x%02x", u[i]);
		} else if (u[i] < 0x80) {
			putc(u[i], f);
		} else if ((k = pst_utf8_seq_len(u + i, n - i)) > 0) {
			unsigned mark = bidi_mark(u + i, k);

			if (mark != 0)
				fprintf(f, "\\u%04x", mark);
			else
				fwrite(u + i, 1, k, f);
			i += k - 1;
		} else {
			fprintf(f, "\\x%02x", u[i]);
		}
	}
}

void
cli_text_cstr(FILE *f, const char *s)
{
	if (s != NULL)
		cli_text_out(f, s, strlen(s), false);
}

/* A JSON string: valid UTF-8 passed through, other bytes as U+FFFD. */
void
cli_json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	putc('"', f);
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (u[i] == '"' || u[i] == '\\')
			fprintf(f, "\\%c", u[i]);
		else if (u[i] == '\n')
			fputs("\\n", f);
		else if (u[i] == '\r')
			fputs("\\r", f);
		else if (u[i] == '\t')
			fputs("\\t", f);
		else if (u[i] < 0x20 || u[i] == 0x7f)
			fprintf(f, "\\u%04x", u[i]);
		else if (u[i] < 0x80)
			putc(u[i], f);
		else if ((k = pst_utf8_seq_len(u + i, n - i)) > 0) {
			fwrite(u + i, 1, k, f);
			i += k - 1;
		} else {
			fputs("\\ufffd", f);
		}
	}
	putc('"', f);
}

void
cli_json_cstr(FILE *f, const char *s)
{
	if (s == NULL)
		fputs("null", f);
	else
		cli_json_str(f, s, strlen(s));
}
