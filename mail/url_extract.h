/*
 * url_extract.h - URLs in plain text ("http://", "https://", "ftp://"
 * and bare "www." names) and the domain of a URL, for rules.  Reads
 * URLs the way browsers and mail clients that make links do: the
 * scheme in any case, backslashes for slashes, trailing punctuation
 * not part of the link.  Pure; thread-safe.
 */
#ifndef MAIL_URL_EXTRACT_H
#define MAIL_URL_EXTRACT_H

#include <stddef.h>

/* Longest URL reported; a longer one is cut there. */
#define URL_EXTRACT_MAX 2048
/* Longest host name (RFC 1035: 253, with room for percent escapes). */
#define URL_DOMAIN_MAX 255

/* One URL (a view into the text); nonzero stops the scan. */
typedef int url_extract_fn(void *arg, const char *url, size_t len);

/* Call fn for each URL in text[0..len), in order.  0, or fn's nonzero. */
int url_extract(const char *text, size_t len, url_extract_fn *fn, void *arg);

/*
 * The host of url[0..len) ("https://User@Example.COM.:8080/x" gives
 * "example.com"; "www.example.org/x" gives "www.example.org"):
 * userinfo, port and a trailing dot removed, percent escapes decoded,
 * ASCII lower-cased, IPv6 brackets removed.  Written to out (cap bytes,
 * NUL-terminated); returns its length, 0 when the URL has no host, it
 * does not fit, or it holds a blank or a control character.
 */
size_t url_domain(const char *url, size_t len, char *out, size_t cap);

#endif
