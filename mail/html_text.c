/*
 * html_text.c - HTML to text for rules: see html_text.h.
 *
 * One pass over the input, every loop bounded by it: a tag, a comment
 * or a script without its end runs to the end of the input.  Pure;
 * thread-safe.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "ascii.h"
#include "html_text.h"

/* Longest attribute value looked at for a URL. */
#define HTML_ATTR_MAX 4096

static bool
html_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static bool
html_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
html_is_alnum(char c)
{
	return html_is_alpha(c) || (c >= '0' && c <= '9');
}

static int
html_put_cp(struct pst_buf *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return pst_buf_append(out, b, n);
}

size_t
html_text_entity(const char *s, size_t len, struct pst_buf *out)
{
	/* The references mail actually uses; the first five are also
	 * read without their ';', as browsers do. */
	static const struct {
		const char *name;
		uint32_t cp;
	} named[] = {
		{ "amp", '&' },	     { "lt", '<' },	  { "gt", '>' },
		{ "quot", '"' },     { "nbsp", 0xA0 },	  { "apos", '\'' },
		{ "copy", 0xA9 },    { "reg", 0xAE },	  { "trade", 0x2122 },
		{ "ndash", 0x2013 }, { "mdash", 0x2014 }, { "hellip", 0x2026 },
		{ "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201C },
		{ "rdquo", 0x201D }, { "laquo", 0xAB },	  { "raquo", 0xBB },
		{ "euro", 0x20AC },  { "pound", 0xA3 },	  { "bull", 0x2022 },
		{ "middot", 0xB7 },  { "shy", 0xAD },	  { "zwnj", 0x200C },
		{ "zwj", 0x200D },   { "period", '.' },	  { "sol", '/' },
		{ "colon", ':' },    { "commat", '@' },	  { "excl", '!' },
	};
	size_t i = 1;

	if (len < 3 || s[0] != '&')
		return 0;
	if (s[1] == '#') {
		bool hex = len > 2 && (s[2] == 'x' || s[2] == 'X');
		uint32_t cp = 0;
		size_t digits = 0;

		i = hex ? 3 : 2;
		for (; i < len && digits < 16; i++, digits++) {
			int v = hex ? pst_hexval((unsigned char)s[i])
				    : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0'
								  : -1);

			if (v < 0)
				break;
			/* saturate: anything past U+10FFFF is U+FFFD */
			cp = cp > 0x10FFFF
				     ? cp
				     : cp * (hex ? 16u : 10u) + (unsigned)v;
		}
		if (digits == 0)
			return 0;
		if (i < len && s[i] == ';')
			i++;
		if (html_put_cp(out, cp) < 0)
			return 0;
		return i;
	}
	while (i < len && i < 12 && html_is_alnum(s[i]))
		i++;
	for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
		size_t nl = strlen(named[k].name);
		bool semi = i < len && s[i] == ';';

		if (nl != i - 1 || memcmp(s + 1, named[k].name, nl) != 0)
			continue;
		if (!semi && k >= 5)
			return 0;
		if (html_put_cp(out, named[k].cp) < 0)
			return 0;
		return i + (semi ? 1 : 0);
	}
	return 0;
}

/* Tags that end a line of text. */
static bool
html_tag_breaks(const char *name, size_t len)
{
	static const char *const blocks[] = {
		"br",  "p",	"div",	   "tr",      "li",	"ul",
		"ol",  "table", "h1",	   "h2",      "h3",	"h4",
		"h5",  "h6",	"hr",	   "td",      "th",	"blockquote",
		"pre", "title", "section", "article", "header", "footer",
	};

	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		if (strlen(blocks[i]) == len &&
		    strncasecmp(blocks[i], name, len) == 0)
			return true;
	return false;
}

/* Append c, collapsing white space into one blank (or line break). */
static int
html_emit(struct pst_buf *out, char c)
{
	char last = out->len > 0 ? out->data[out->len - 1] : '\n';

	if (html_is_space(c)) {
		if (last == ' ' || last == '\n')
			return 0;
		return pst_buf_append_byte(out, c == '\n' ? '\n' : ' ');
	}
	return pst_buf_append_byte(out, c);
}

static int
html_break(struct pst_buf *out)
{
	if (out->len > 0 && out->data[out->len - 1] == ' ')
		out->data[--out->len] = '\0';
	if (out->len == 0 || out->data[out->len - 1] == '\n')
		return 0;
	return pst_buf_append_byte(out, '\n');
}

/* An attribute value with its references decoded, blanks trimmed. */
static int
html_attr_url(const char *v, size_t vlen, html_text_url_fn *url_fn, void *arg)
{
	struct pst_buf dec;
	size_t a = 0, b;
	int rc = 0;

	pst_buf_init(&dec, HTML_ATTR_MAX);
	for (size_t i = 0; i < vlen && i < HTML_ATTR_MAX;) {
		size_t used = v[i] == '&'
				      ? html_text_entity(v + i, vlen - i, &dec)
				      : 0;

		if (used > 0) {
			i += used;
			continue;
		}
		/* browsers drop tabs and line breaks inside URLs */
		if (v[i] != '\t' && v[i] != '\r' && v[i] != '\n' &&
		    pst_buf_append_byte(&dec, v[i]) < 0)
			break;
		i++;
	}
	b = dec.len;
	while (a < b && html_is_space(dec.data[a]))
		a++;
	while (b > a && html_is_space(dec.data[b - 1]))
		b--;
	if (b > a)
		rc = url_fn(arg, dec.data + a, b - a);
	pst_buf_free(&dec);
	return rc;
}

/*
 * The tag at in[i] ('<' followed by a letter or '/'): report its href
 * and src values, break the line for block tags; returns the index
 * after its '>' (or len) in *end_r and in *raw_r the element whose
 * content is to be skipped (script, style), or NULL.
 */
static int
html_tag(const char *in, size_t len, size_t i, struct pst_buf *out,
	 html_text_url_fn *url_fn, void *arg, size_t *end_r, const char **raw_r)
{
	bool closing = in[i + 1] == '/';
	size_t n = i + (closing ? 2 : 1), name_start = n, name_len;
	int rc;

	*raw_r = NULL;
	while (n < len &&
	       (html_is_alnum(in[n]) || in[n] == '-' || in[n] == ':'))
		n++;
	name_len = n - name_start;
	if (!closing && name_len == 6 &&
	    strncasecmp(in + name_start, "script", 6) == 0)
		*raw_r = "</script";
	else if (!closing && name_len == 5 &&
		 strncasecmp(in + name_start, "style", 5) == 0)
		*raw_r = "</style";
	if (html_tag_breaks(in + name_start, name_len) && html_break(out) < 0)
		return -1;
	/* attributes: name [= value] */
	while (n < len && in[n] != '>') {
		size_t an, al, vs, vl;

		if (html_is_space(in[n]) || in[n] == '/') {
			n++;
			continue;
		}
		an = n;
		while (n < len && !html_is_space(in[n]) && in[n] != '=' &&
		       in[n] != '>' && in[n] != '/')
			n++;
		al = n - an;
		if (al == 0) /* a stray quote or '=' */
			n++;
		while (n < len && html_is_space(in[n]))
			n++;
		if (n >= len || in[n] != '=')
			continue;
		n++;
		while (n < len && html_is_space(in[n]))
			n++;
		if (n < len && (in[n] == '"' || in[n] == '\'')) {
			char q = in[n++];

			vs = n;
			while (n < len && in[n] != q)
				n++;
			vl = n - vs;
			if (n < len)
				n++;
		} else {
			vs = n;
			while (n < len && !html_is_space(in[n]) && in[n] != '>')
				n++;
			vl = n - vs;
		}
		if (url_fn != NULL && !closing &&
		    ((al == 4 && strncasecmp(in + an, "href", 4) == 0) ||
		     (al == 3 && strncasecmp(in + an, "src", 3) == 0) ||
		     (al == 6 && strncasecmp(in + an, "action", 6) == 0)) &&
		    (rc = html_attr_url(in + vs, vl, url_fn, arg)) != 0)
			return rc;
	}
	*end_r = n < len ? n + 1 : len;
	return 0;
}

/* Index after the end of a comment or declaration starting at i. */
static size_t
html_skip_markup(const char *in, size_t len, size_t i)
{
	if (len - i >= 4 && memcmp(in + i, "<!--", 4) == 0) {
		for (size_t j = i + 4; j + 3 <= len; j++)
			if (memcmp(in + j, "-->", 3) == 0)
				return j + 3;
		return len;
	}
	while (i < len && in[i] != '>')
		i++;
	return i < len ? i + 1 : len;
}

int
html_text(const char *in, size_t len, struct pst_buf *out,
	  html_text_url_fn *url_fn, void *arg)
{
	size_t i = 0;

	while (i < len) {
		char c = in[i];
		size_t used;
		int rc;

		if (c == '<' && i + 1 < len &&
		    (in[i + 1] == '!' || in[i + 1] == '?')) {
			i = html_skip_markup(in, len, i);
			continue;
		}
		if (c == '<' && i + 1 < len &&
		    (html_is_alpha(in[i + 1]) ||
		     (in[i + 1] == '/' && i + 2 < len &&
		      html_is_alpha(in[i + 2])))) {
			const char *raw;
			size_t end;

			rc = html_tag(in, len, i, out, url_fn, arg, &end, &raw);
			if (rc != 0)
				return rc;
			i = end;
			if (raw != NULL) {
				size_t rl = strlen(raw);

				while (i + rl <= len &&
				       strncasecmp(in + i, raw, rl) != 0)
					i++;
				if (i + rl > len)
					i = len;
			}
			continue;
		}
		if (c == '&' &&
		    (used = html_text_entity(in + i, len - i, out)) > 0) {
			i += used;
			continue;
		}
		if (html_emit(out, c) < 0)
			return -1;
		i++;
	}
	return 0;
}
