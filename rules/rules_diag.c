/*
 * rules_diag.c - compile errors and warnings, in the shape compilers use:
 *
 *   file:line:column: error: what is wrong
 *   the source line
 *        ^~~~~
 *   hint: what to write instead
 *
 * Columns count characters (a tab is one, and is repeated in the caret
 * line so the caret sits under the token whatever the tab width).  The
 * report lives on the caller's arena; the text is built in a heap buffer
 * during the load.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rules_int.h"

/* Longest source line shown; past it the line is cut and, when the
 * caret would fall beyond, not shown at all. */
#define DIAG_LINE_MAX 200

int
rules_oom(struct rules_compiler *c)
{
	c->oom = true;
	c->stopped = true;
	return -1;
}

const char *
rules_show(struct pst_arena *arena, const char *p, size_t len)
{
	struct pst_buf b;
	const char *s;
	size_t n = len < 40 ? len : 40;

	pst_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch < 0x20 || ch == 0x7f)
			pst_buf_printf(&b, "\\x%02x", ch);
		else
			pst_buf_append_byte(&b, (char)ch);
	}
	if (n < len)
		pst_buf_append_cstr(&b, "...");
	s = pst_arena_strdup(arena, b.data != NULL ? b.data : "");
	pst_buf_free(&b);
	return s != NULL ? s : "?";
}

/* The source line at loc, and the caret line under it. */
static void
diag_source(struct pst_buf *b, const struct rules_loc *loc)
{
	const char *text = loc->file->text;
	size_t start = loc->off, end = loc->off, col = 0, shown;

	if (text == NULL || loc->off > loc->file->len)
		return;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	while (end < loc->file->len && text[end] != '\n')
		end++;
	if (end > start && text[end - 1] == '\r')
		end--;
	if (loc->off - start > DIAG_LINE_MAX)
		return;
	shown = end - start < DIAG_LINE_MAX ? end - start : DIAG_LINE_MAX;
	for (size_t i = 0; i < shown; i++) {
		unsigned char ch = (unsigned char)text[start + i];

		pst_buf_append_byte(b,
				    ch == '\t' || ch >= 0x80 ||
						    (ch >= 0x20 && ch != 0x7f)
					    ? (char)ch
					    : '?');
	}
	pst_buf_append_byte(b, '\n');
	for (size_t i = start; i < loc->off; i++) {
		unsigned char ch = (unsigned char)text[i];

		if ((ch & 0xc0) == 0x80)
			continue; /* a UTF-8 continuation byte */
		pst_buf_append_byte(b, ch == '\t' ? '\t' : ' ');
		col++;
	}
	pst_buf_append_byte(b, '^');
	for (size_t i = loc->off + 1; i < loc->off + loc->len && i < end; i++) {
		if (((unsigned char)text[i] & 0xc0) != 0x80)
			pst_buf_append_byte(b, '~');
	}
	pst_buf_append_byte(b, '\n');
	(void)col;
}

static void __attribute__((format(printf, 5, 0)))
diag_add(struct rules_compiler *c, const struct rules_loc *loc, bool warning,
	 const char *hint, const char *fmt, va_list ap)
{
	struct rules_diag *d;
	char *msg;

	if (c->stopped)
		return;
	if (!warning && c->nerrors >= c->opts.max_errors) {
		pst_buf_printf(&c->text,
			       "error: too many errors (%u); stopping here\n",
			       c->opts.max_errors);
		c->stopped = true;
		return;
	}
	msg = pst_arena_vprintf(c->out_arena, fmt, ap);
	if (msg == NULL) {
		rules_oom(c);
		return;
	}
	if (c->ndiags == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct rules_diag *n;

		n = pst_arena_calloc(c->out_arena, cap, sizeof(*n));
		if (n == NULL) {
			rules_oom(c);
			return;
		}
		if (c->ndiags)
			memcpy(n, c->diags, c->ndiags * sizeof(*n));
		c->diags = n;
		c->cap = cap;
	}
	d = &c->diags[c->ndiags++];
	d->warning = warning;
	d->message = msg;
	d->hint = hint != NULL ? pst_arena_strdup(c->out_arena, hint) : NULL;
	if (loc != NULL && loc->file != NULL) {
		d->file = pst_arena_strdup(c->out_arena, loc->file->name);
		d->line = loc->line;
		d->column = loc->col;
	}
	if (!warning)
		c->nerrors++;

	if (d->file != NULL && d->line > 0)
		pst_buf_printf(&c->text, "%s:%u:%u: ", d->file, d->line,
			       d->column);
	else if (d->file != NULL)
		pst_buf_printf(&c->text, "%s: ", d->file);
	pst_buf_printf(&c->text, "%s: %s\n", warning ? "warning" : "error",
		       msg);
	if (d->line > 0)
		diag_source(&c->text, loc);
	if (d->hint != NULL)
		pst_buf_printf(&c->text, "hint: %s\n", d->hint);
}

int
rules_error(struct rules_compiler *c, const struct rules_loc *loc,
	    const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(c, loc, false, hint, fmt, ap);
	va_end(ap);
	return -1;
}

void
rules_warning(struct rules_compiler *c, const struct rules_loc *loc,
	      const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(c, loc, true, hint, fmt, ap);
	va_end(ap);
}
