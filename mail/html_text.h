/*
 * html_text.h - HTML reduced to the text a reader sees, for rules: tags
 * dropped (inline ones without a trace, so "ca<b></b>sino" reads
 * "casino"; block ones as a line break), script, style and comments
 * dropped with their content, character references decoded, white
 * space collapsed; and the URLs of href and src attributes handed to a
 * callback.  Not an HTML parser: a tolerant single pass that never
 * fails on malformed input.  Pure; thread-safe.
 */
#ifndef MAIL_HTML_TEXT_H
#define MAIL_HTML_TEXT_H

#include <stddef.h>

#include "buf.h"

/* A URL from an attribute, entities decoded, blanks trimmed; nonzero
 * stops the pass (html_text returns it). */
typedef int html_text_url_fn(void *arg, const char *url, size_t len);

/*
 * Append the text of in[0..len) to out (UTF-8 in, UTF-8 out; bytes are
 * copied, not checked).  url_fn may be NULL.  0; -1 when out refused to
 * grow (its limit: what fit is kept); or url_fn's nonzero.
 */
int html_text(const char *in, size_t len, struct pst_buf *out,
	      html_text_url_fn *url_fn, void *arg);

/*
 * Decode the character reference at s[0..len) (s[0] == '&'): append its
 * UTF-8 to out and return the bytes it used, or 0 when it is not one
 * (the '&' is then text).  Numeric references to NUL, surrogates or
 * beyond U+10FFFF give U+FFFD.
 */
size_t html_text_entity(const char *s, size_t len, struct pst_buf *out);

#endif
