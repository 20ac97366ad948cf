/*
 * rules_postfix.h - convert Postfix header_checks / body_checks tables
 * (regexp: and pcre: formats) into postern rules, for sites that migrate.
 *
 * Pure text to text; thread-safe.  What cannot be converted becomes a
 * comment naming the table's line, so nothing is dropped silently.
 */
#ifndef RULES_RULES_POSTFIX_H
#define RULES_RULES_POSTFIX_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct rules_postfix_opts {
	bool body;  /* a body_checks table (else header_checks) */
	bool posix; /* a regexp: table (POSIX syntax; else pcre:) */
};

struct rules_postfix_stats {
	size_t entries;	  /* pattern lines read (if/endif not counted) */
	size_t converted; /* rules written */
	size_t skipped;	  /* entries that became comments */
};

/*
 * Convert the table text (name: used in comments and rule names) and
 * append the rules to out.  Returns 0, or -1 when out of memory (out then
 * holds what was written so far).
 */
int rules_postfix_import(const char *name, const char *text, size_t len,
			 const struct rules_postfix_opts *opts,
			 struct pst_buf *out, struct rules_postfix_stats *st);

#endif
