/*
 * filename.h - attachment file names made comparable: what a rule
 * should match is the name a user's file manager would act on, not the
 * bytes an attacker chose to show.
 *
 * filename_normalise() takes a UTF-8 name (from MIME parameters or an
 * archive member) and returns it in Unicode NFC, with bidi and
 * zero-width format characters and other controls removed, trailing
 * dots and blanks stripped (Windows drops them), and reports what it
 * removed as FILENAME_F_* bits, so that a rule can refuse a name that
 * needed it.  Pure functions; results live on the caller's arena;
 * thread-safe.
 */
#ifndef MAIL_FILENAME_H
#define MAIL_FILENAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

enum filename_flag {
	FILENAME_F_BIDI = 1u << 0,	   /* bidi controls (U+202E RLO...) */
	FILENAME_F_ZERO_WIDTH = 1u << 1,   /* U+200B, U+FEFF, soft hyphen... */
	FILENAME_F_CONTROL = 1u << 2,	   /* C0/C1 controls, DEL */
	FILENAME_F_TRAILING = 1u << 3,	   /* trailing dots or blanks */
	FILENAME_F_DOUBLE_EXT = 1u << 4,   /* "invoice.pdf.exe" */
	FILENAME_F_INVALID_UTF8 = 1u << 5, /* bytes that are not UTF-8 */
	FILENAME_F_EMPTY = 1u << 6,	   /* nothing left (or no name) */
	FILENAME_F_NFC = 1u << 7,	   /* composition changed the name */
	FILENAME_F_TRUNCATED = 1u << 8,	   /* longer than FILENAME_MAX_LEN */
};

/* Longest normalised name kept, in bytes; the rest is dropped. */
#define FILENAME_MAX_LEN 1024
/* Longest extension taken as one (".backup" yes, ".tar_gz_2024" no). */
#define FILENAME_EXT_MAX 10

/*
 * Normalise in[0..len) (any bytes; invalid UTF-8 becomes U+FFFD) onto
 * arena.  *out_r is NUL-terminated, never NULL ("" for an empty name);
 * *flags_r gets FILENAME_F_* bits.  0, or -1 when out of memory.
 */
int filename_normalise(struct pst_arena *arena, const char *in, size_t len,
		       const char **out_r, unsigned *flags_r);

/*
 * The extension of a (normalised) name: the text after the last '.' of
 * its last path component ('/' or '\\'), ASCII lower-cased onto arena;
 * "" when there is none or it is longer than FILENAME_EXT_MAX.  NULL
 * only when out of memory.
 */
const char *filename_extension(struct pst_arena *arena, const char *name);

/* "a.pdf.exe", "a.doc .scr": two extensions, the inner one of a
 * document or media type people open without thinking. */
bool filename_double_extension(const char *name);

/*
 * NFC of the well-formed UTF-8 string in[0..len) into out[0..cap), cap
 * at least 3 * len + 1 (a precomposed letter before a mark it cannot
 * absorb comes apart).  Covers canonical composition for Latin, Greek
 * and Cyrillic letters with the combining marks U+0300..U+036F:
 * decomposition of those letters, canonical reordering, non-blocked
 * composition; other text is copied unchanged.  Returns the length
 * written (NUL-terminated), or (size_t)-1 when cap is too small.
 */
size_t filename_nfc(const char *in, size_t len, char *out, size_t cap);

#endif
