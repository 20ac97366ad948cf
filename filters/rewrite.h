/*
 * rewrite.h - body rewriting for the message that leaves: a MIME part
 * replaced by a short text/plain notice, a banner added to the text of
 * the message ("modify, then sign": edit.c writes the result, and DKIM
 * signs what this wrote).
 *
 * A plan (what filters asked for, on the transaction arena) is resolved
 * against the part tree by rewrite_prepare():
 *
 * - Replacing part P replaces the part that holds P's bytes in the
 *   spool: a part parsed out of a base64/QP-encoded message/rfc822 is
 *   replaced with that whole message; a uuencoded file found in a plain
 *   text part (synthetic) is cut out of the text and the notice put in
 *   its lines.  A part inside multipart/signed or multipart/encrypted is
 *   never changed inside: the outermost such container is replaced as
 *   a whole (a signature cannot survive any change, and leaving the
 *   attachment in would be the bypass).  Replacing the root replaces
 *   the body and the top-level Content-* fields.
 * - A banner goes into the first text/plain and the first text/html
 *   part of the message's own text: not an attachment, not inside an
 *   attached message, not inside a signed or encrypted container, at
 *   most REWRITE_TEXT_MAX bytes decoded.  Plain text gets the banner in
 *   the part's charset (UTF-8 and us-ascii parts; other charsets when
 *   iconv can convert it, else non-ASCII characters become '?'), HTML
 *   gets it escaped after <body> (top) or before </body> (bottom), non-
 *   ASCII as character references.  The part is encoded again with its
 *   transfer encoding; a 7bit part whose text is no longer 7-bit becomes
 *   quoted-printable.
 *
 * rewrite_write() then copies the body with the changes spliced in, and
 * rewrite_check() parses the whole result again: no new structural
 * defect, and no stripped content left.
 *
 * Files: rewrite.c (plan, replacements, writing, checking),
 * rewrite_banner.c (banners), rewrite_enc.c (encoders), rewrite_keep.c
 * (the original kept in the quarantine); rewrite_int.h between them.
 * Nothing here logs; results and errors are returned.  A job belongs to
 * one thread.
 */
#ifndef FILTERS_REWRITE_H
#define FILTERS_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "filter.h"
#include "mime.h"

struct pst_spool;

/* Longest notice or banner text, bytes of UTF-8. */
#define REWRITE_NOTICE_MAX 4096
/* Most replacements and banners in one transaction. */
#define REWRITE_MAX_OPS 256
/* Largest text part (decoded) that gets a banner. */
#define REWRITE_TEXT_MAX (8u << 20)

enum rewrite_where {
	REWRITE_TOP,
	REWRITE_BOTTOM,
};

struct rewrite_plan;

/* An empty plan on arena; NULL when out of memory. */
struct rewrite_plan *rewrite_plan_new(struct pst_arena *arena);
/* Is text a valid notice or banner: 1..REWRITE_NOTICE_MAX bytes of
 * UTF-8 without control characters but line breaks and tabs? */
bool rewrite_text_valid(const char *text);
/* Replace the part of index part_index (mime_part.index) with a notice.
 * 0, or -1 (invalid text, plan full, out of memory).  Asking twice for
 * one part keeps the first notice. */
int rewrite_plan_replace(struct rewrite_plan *plan, unsigned part_index,
			 const char *notice);
/* Add a banner.  0 or -1 as above. */
int rewrite_plan_banner(struct rewrite_plan *plan, enum rewrite_where where,
			const char *text);
/* Does the plan ask for anything?  NULL accepted (false). */
bool rewrite_plan_active(const struct rewrite_plan *plan);

struct rewrite_job;

/*
 * Resolve plan against the message (spool and its tree), on arena.  A
 * part index that is not in the tree is ignored.  NULL with *error_r
 * when out of memory or a text part cannot be read.
 */
struct rewrite_job *rewrite_prepare(const struct rewrite_plan *plan,
				    struct pst_spool *src,
				    const struct mime_part *root,
				    struct pst_arena *arena,
				    const char **error_r);

/* Will the job change anything (false: every request fell away)? */
bool rewrite_job_changes(const struct rewrite_job *job);
/* What was done, for logs: "replaced=2 banners=1 skipped=0". */
const char *rewrite_job_summary(const struct rewrite_job *job);

/* The top-level header block: fields to drop (case-insensitive name)
 * and fields to append, when the root's content changes. */
bool rewrite_drops_field(const struct rewrite_job *job, const char *name);
size_t rewrite_add_count(const struct rewrite_job *job);
void rewrite_add_field(const struct rewrite_job *job, size_t i,
		       const char **name_r, const char **value_r);

/* Write the source's bytes [from, end of spool) with the changes applied
 * to out; from must not be after the root's body.  0, or -1 with
 * *error_r. */
int rewrite_write(struct rewrite_job *job, uint64_t from, struct pst_spool *out,
		  const char **error_r);

/* Parse msg (the whole rewritten message, flushed) and check it: no
 * structural defect the original did not have, no stripped content
 * still there.  0, or -1 with *error_r. */
int rewrite_check(const struct rewrite_job *job, struct pst_spool *msg,
		  const char **error_r);

/* ---- encoders (rewrite_enc.c) ---- */

/* Append data as quoted-printable text: its line breaks (CRLF or LF)
 * become CRLF hard breaks, lines at most 76 characters with soft breaks;
 * no line break is added at the end. */
int rewrite_enc_qp(struct pst_buf *out, const char *data, size_t len);
/* Append text escaped for HTML: & < > " as entities, non-ASCII as
 * numeric references, line breaks as <br>. */
int rewrite_enc_html(struct pst_buf *out, const char *text);

#endif
