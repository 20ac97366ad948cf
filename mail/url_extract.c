/*
 * url_extract.c - URLs in text and their domains: see url_extract.h.
 * Pure; thread-safe.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "ascii.h"
#include "url_extract.h"

static const char *const url_schemes[] = { "https:", "http:", "ftp:" };

static bool
url_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Bytes that end a URL in running text. */
static bool
url_stops(unsigned char c)
{
	return c <= ' ' || c == 0x7F || c == '<' || c == '>' || c == '"' ||
	       c == '\'' || c == '`' || c == '{' || c == '}' || c == '|' ||
	       c == '^';
}

/* The scheme at text[i] ("http:" then two slashes or backslashes):
 * the index after the slashes, or 0. */
static size_t
url_scheme_at(const char *text, size_t len, size_t i)
{
	for (size_t k = 0; k < sizeof(url_schemes) / sizeof(url_schemes[0]);
	     k++) {
		size_t sl = strlen(url_schemes[k]);

		if (len - i < sl + 3 ||
		    strncasecmp(text + i, url_schemes[k], sl) != 0)
			continue;
		if ((text[i + sl] == '/' || text[i + sl] == '\\') &&
		    (text[i + sl + 1] == '/' || text[i + sl + 1] == '\\'))
			return i + sl + 2;
	}
	return 0;
}

/* The end of the URL starting at i whose host starts at h, trailing
 * punctuation and an unbalanced ')' left out. */
static size_t
url_end(const char *text, size_t len, size_t i, size_t h)
{
	size_t e = h, open = 0, close = 0;

	while (e < len && e - i < URL_EXTRACT_MAX &&
	       !url_stops((unsigned char)text[e])) {
		if (text[e] == '(')
			open++;
		else if (text[e] == ')')
			close++;
		e++;
	}
	while (e > h) {
		char c = text[e - 1];

		if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' ||
		    c == '?' || c == '*' || c == ']') {
			e--;
		} else if (c == ')' && close > open) {
			close--;
			e--;
		} else {
			break;
		}
	}
	return e;
}

int
url_extract(const char *text, size_t len, url_extract_fn *fn, void *arg)
{
	size_t i = 0;

	while (i < len) {
		size_t h = 0, e;
		bool word_start = i == 0 || !url_is_alnum(text[i - 1]);
		int rc;

		if (word_start)
			h = url_scheme_at(text, len, i);
		if (h == 0 && word_start && len - i > 4 &&
		    strncasecmp(text + i, "www.", 4) == 0 &&
		    url_is_alnum(text[i + 4]))
			h = i;
		if (h == 0) {
			i++;
			continue;
		}
		e = url_end(text, len, i, h);
		if (e > h && (rc = fn(arg, text + i, e - i)) != 0)
			return rc;
		i = e > i ? e : i + 1;
	}
	return 0;
}

size_t
url_domain(const char *url, size_t len, char *out, size_t cap)
{
	size_t i = 0, start, end, at, o = 0;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	/* skip the scheme and its slashes: "http:", "//" or "\\" */
	for (size_t k = 0; k < len && k < 16; k++) {
		if (url[k] == ':') {
			i = k + 1;
			break;
		}
		if (!url_is_alnum(url[k]) && url[k] != '+' && url[k] != '-' &&
		    url[k] != '.')
			break;
	}
	if (i > 0 && strncasecmp(url, "www.", 4) == 0 && i > 4)
		i = 0; /* "www.example.org:8080" has no scheme */
	while (i < len && (url[i] == '/' || url[i] == '\\'))
		i++;
	start = i;
	end = i;
	while (end < len && url[end] != '/' && url[end] != '\\' &&
	       url[end] != '?' && url[end] != '#')
		end++;
	/* userinfo: up to the last '@' of the authority */
	at = start;
	for (size_t k = start; k < end; k++)
		if (url[k] == '@')
			at = k + 1;
	start = at;
	if (start < end && url[start] == '[') {
		/* IPv6 literal */
		for (size_t k = start + 1; k < end && url[k] != ']'; k++) {
			if (o + 1 >= cap || (unsigned char)url[k] <= ' ' ||
			    url[k] == 0x7F)
				goto none;
			out[o++] = url[k];
		}
	} else {
		for (size_t k = start; k < end && url[k] != ':'; k++) {
			char c = url[k];

			if (c == '%' && k + 2 < end &&
			    pst_hexval((unsigned char)url[k + 1]) >= 0 &&
			    pst_hexval((unsigned char)url[k + 2]) >= 0) {
				c = (char)(pst_hexval(
						   (unsigned char)url[k + 1]) *
						   16 +
					   pst_hexval(
						   (unsigned char)url[k + 2]));
				k += 2;
			}
			/* no host has blanks or controls (nor "%00") */
			if ((unsigned char)c <= ' ' || c == 0x7F)
				goto none;
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (o + 1 >= cap)
				goto none;
			out[o++] = c;
		}
		while (o > 0 && out[o - 1] == '.')
			o--;
	}
	out[o] = '\0';
	return o;
none:
	out[0] = '\0';
	return 0;
}
