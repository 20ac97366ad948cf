/*
 * utf8.h - UTF-8 well-formedness (RFC 3629).  Pure functions; thread-safe.
 */
#ifndef PST_UTF8_H
#define PST_UTF8_H

#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at s[0..avail) (1 for ASCII
 * is NOT returned: s[0] must be >= 0x80), or 0: overlong forms,
 * surrogates, code points above U+10FFFF and a sequence cut short by
 * avail are all refused. */
size_t pst_utf8_seq_len(const unsigned char *s, size_t avail);

#endif
