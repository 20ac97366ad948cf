/*
 * content.h - what a message says: the decoded text of its text parts
 * (charsets converted to UTF-8, HTML reduced to text by
 * mail/html_text.c) and the URLs in it (mail/url_extract.c: in text,
 * and in href/src attributes of HTML) with their domains.  Uuencoded
 * files inside text are not text: the MIME parser makes them parts of
 * their own, which the attachment walk sees.
 *
 * Bounded: text past max_text bytes is not read, URLs past max_urls
 * are dropped (both noted in the result).  The result lives on the
 * arena it was made on; one thread per extraction.
 */
#ifndef FILTERS_CONTENT_H
#define FILTERS_CONTENT_H

#include <stdbool.h>
#include <stddef.h>

#include "postern/filter.h"
#include "arena.h"
#include "mime.h"

struct content_limits {
	size_t max_text; /* bytes of text kept (default 4 MiB) */
	size_t max_urls; /* distinct URLs kept (default 1000) */
};

void content_limits_default(struct content_limits *l);

struct content_result {
	const char *text; /* NUL-terminated; parts separated by "\n" */
	size_t text_len;
	const char **urls; /* distinct, in order of appearance */
	size_t nurls;
	const char **domains; /* distinct hosts of urls */
	size_t ndomains;
	bool truncated; /* a limit was reached */
};

/*
 * Extract the text and URLs of the message whose tree is root, reading
 * through pread.  0 with *result_r on arena, or -1 with *error_r (out of
 * memory, the message unreadable).
 */
int content_extract(struct pst_arena *arena, const struct content_limits *l,
		    const struct mime_part *root, mime_pread_fn *pread,
		    void *pread_ctx, struct content_result **result_r,
		    const char **error_r);

/*
 * The content of the message of t's session (t: any filter's txn, at
 * the message stage): the content filter's, kept for the transaction,
 * when the chain has one, else one made with the default limits onto
 * arena.  NULL with *error_r when it cannot be made.
 */
const struct content_result *content_filter_result(struct pf_txn *t,
						   struct pst_arena *arena,
						   const char **error_r);

#endif
