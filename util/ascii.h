/*
 * ascii.h - small character helpers that several parsers share.
 */
#ifndef UTIL_ASCII_H
#define UTIL_ASCII_H

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

#endif
