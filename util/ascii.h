/*
 * ascii.h - small character helpers that several parsers share.
 */
#ifndef UTIL_ASCII_H
#define UTIL_ASCII_H

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* The value of a hexadecimal digit (either case), or -1. */
static inline int
pst_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Does s[0..len) contain word, ASCII case ignored? */
static inline bool
pst_ascii_contains_ci(const char *s, size_t len, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = 0; i + wl <= len; i++)
		if (strncasecmp(s + i, word, wl) == 0)
			return true;
	return false;
}

#endif
