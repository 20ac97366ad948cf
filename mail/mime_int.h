/*
 * mime_int.h - what mime.c (the push parser) and mime_part.c (the
 * meaning of a part's Content-* fields, tree walks, readers) share; not
 * for use outside mail/.
 *
 * Nothing here keeps state: the rules of mime.h on memory and threads
 * apply.
 */
#ifndef MAIL_MIME_INT_H
#define MAIL_MIME_INT_H

#include <stdbool.h>

#include "arena.h"
#include "mime.h"

/* Does enc pass content through unchanged (no decoder)? */
static inline bool
mime_identity_encoding(enum mime_encoding enc)
{
	return enc != MIME_ENC_BASE64 && enc != MIME_ENC_QP &&
	       enc != MIME_ENC_UUENCODE;
}

/* Add name to part's filename candidates unless it is there already
 * (NULL name: nothing); on out of memory *error_r is set if still NULL. */
void mime_part_add_filename(struct pst_arena *arena, const char **error_r,
			    struct mime_part *part, struct pst_str name,
			    enum mime_filename_source src, bool alt);

/* Read the Content-* fields of part's header block just ended into part,
 * allocating on arena; on out of memory *error_r is set if still NULL. */
void mime_part_interpret(struct pst_arena *arena, struct mime_part *part,
			 const char **error_r);

#endif
