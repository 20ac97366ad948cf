/*
 * mime.h - the streaming MIME parser (RFC 2045-2049, 2231, 5322, 6532)
 * every filter and rule reads a message through.
 *
 * Push the message in chunks of any size as DATA arrives
 * (mime_parser_feed), then mime_parser_end() returns the part tree.  The
 * parser keeps at most one line (a header field or a possible boundary
 * line, bounded by max_header_line) plus per-part state: part bodies are
 * never copied, parts point into the stream by absolute byte offsets (the
 * spool), and every leaf is decoded while it streams by, so its decoded
 * size and SHA-256 are known at the end.  Decoded content is read later
 * through struct mime_reader, in small buffers, from the spool.
 *
 * Malformed input is data, not an error: it is read the way the major
 * mail clients read it and recorded as defect bits (mime_header.h) on
 * the part where it was seen.  Past a limit (struct mime_limits) a
 * MIME_D_LIMIT_* bit is set on the part and on the root, and the tree
 * stops growing: the rest of the input is the body of the part open at
 * that moment.  A gateway refuses such a message rather than pass it on
 * unscanned.  The only hard error is out of memory.
 *
 * The tree and every string in it live on the arena given to
 * mime_parser_new() and are read-only after mime_parser_end().  A parser
 * belongs to one thread; a finished tree may be read by many.
 */
#ifndef MAIL_MIME_H
#define MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arena.h"
#include "buf.h"
#include "decode.h"
#include "mime_header.h"

/* Defaults of struct mime_limits. */
#define MIME_DEFAULT_MAX_DEPTH 32
#define MIME_DEFAULT_MAX_PARTS 10000
/* One header field with its continuation lines.  RFC 5322 allows 998
 * octets per line, but folded To/Cc lists of real mail run to tens of
 * kilobytes; 64 KiB keeps every such message and bounds the buffer. */
#define MIME_DEFAULT_MAX_HEADER_LINE (64 * 1024)
/* All header fields of one part. */
#define MIME_DEFAULT_MAX_HEADER_SIZE (1024 * 1024)
/* Header bytes kept on the arena for the whole message (all parts). */
#define MIME_DEFAULT_MAX_HEADER_TOTAL (8 * 1024 * 1024)
/* RFC 2046 allows 70; longer ones are flagged (MIME_D_LONG_BOUNDARY)
 * and still used up to this length. */
#define MIME_DEFAULT_MAX_BOUNDARY 200

struct mime_limits {
	unsigned max_depth;	 /* deepest part: the root is depth 0 */
	unsigned max_parts;	 /* parts in the tree, synthetic included */
	size_t max_header_line;	 /* one field, folded lines included */
	size_t max_header_size;	 /* the header block of one part */
	size_t max_header_total; /* header bytes kept for the message */
	size_t max_boundary;	 /* boundary parameter length */
};

/* Fill *l with the defaults above. */
void mime_limits_default(struct mime_limits *l);

enum mime_part_kind {
	MIME_PART_LEAF,	     /* content: decoded, sized and hashed */
	MIME_PART_MULTIPART, /* children between boundary delimiters */
	MIME_PART_MESSAGE,   /* message/rfc822, message/global...: exactly
			      * one child, the embedded message (for
			      * message/delivery-status: one per block) */
};

/* A header field of a part, in order of appearance. */
struct mime_header {
	struct mime_header *next;
	struct pst_str name;	 /* as written, without blanks before ':' */
	struct pst_str raw;	 /* after the ':' up to the last line break,
				  * folds and all */
	struct pst_str unfolded; /* folds removed, blanks trimmed */
	struct pst_str value;	 /* unfolded, RFC 2047 words decoded, UTF-8 */
	uint64_t offset;	 /* of the field's first byte */
};

/* Where a filename candidate came from. */
enum mime_filename_source {
	MIME_FN_DISPOSITION, /* Content-Disposition filename (any form) */
	MIME_FN_TYPE,	     /* Content-Type name */
	MIME_FN_ODD,	     /* Content-Disposition name, Content-Type
			      * filename: misplaced, seen by some clients */
	MIME_FN_DUPLICATE,   /* from a second Content-Type/-Disposition */
	MIME_FN_UUENCODE,    /* the name on a uuencode "begin" line */
};

struct mime_filename {
	struct mime_filename *next;
	struct pst_str name; /* UTF-8 as decoded; not trimmed */
	enum mime_filename_source source;
	bool alternative; /* another reading of an ambiguous value
			   * (mime_param.alt) */
};

struct mime_part {
	struct mime_part *parent;
	struct mime_part *children; /* first child; then ->next */
	struct mime_part *next;	    /* next sibling */
	unsigned index;		    /* creation order = pre-order position */
	unsigned depth;		    /* root 0 */
	enum mime_part_kind kind;
	/* A uuencoded file found inside a text/plain body: a child of that
	 * part that no Content-Type announced.  Python's email package
	 * does not see these, Outlook and Thunderbird show them. */
	bool synthetic;

	/* "text/plain", lower case; the default (text/plain, or
	 * message/rfc822 in a digest) when absent or invalid. */
	const char *type;
	const char *subtype;		/* points into type, after the '/' */
	struct mime_param *type_params; /* first Content-Type */
	const char *charset;	 /* charset parameter, lower case, or NULL */
	const char *boundary;	 /* multipart boundary (NULL for others) */
	const char *disposition; /* lower case, or NULL when absent */
	struct mime_param *disposition_params; /* first Content-Disposition */
	enum mime_encoding encoding;
	const char *encoding_name; /* token as written, lower case; NULL
				    * when there is no such header */
	const char *content_id;	   /* unfolded value, or NULL */
	/* The name a client shows: Content-Disposition filename (RFC 2231
	 * form first), else Content-Type name (Thunderbird, Outlook and
	 * Gmail agree), blanks around it trimmed; {NULL, 0} when none.
	 * Length-counted: a NUL may be inside (see filenames for the text
	 * before it). */
	struct pst_str filename;
	struct mime_filename *filenames; /* every candidate, in that order
					  * of preference, then the odd ones
					  * and the alternatives */
	unsigned nfilenames;
	struct mime_header *headers;
	unsigned nheaders;

	/* Absolute offsets into the stream (or, when offset_base is set,
	 * into the decoded content of that part).  The header block is
	 * [header_start, body_start); the content [body_start, body_end):
	 * the line break before a boundary delimiter belongs to the
	 * delimiter (RFC 2046 5.1.1), so it is not in the content.  For a
	 * multipart, the preamble is [body_start, preamble_end) and the
	 * epilogue [epilogue_start, body_end) (epilogue_start == body_end
	 * when there is no close delimiter).  For a synthetic part the
	 * range runs from its "begin" line through its "end" line. */
	uint64_t header_start, body_start, body_end;
	uint64_t preamble_end, epilogue_start;
	/* NULL, or the base64/QP-encoded message/rfc822 ancestor whose
	 * decoded content this part was parsed from (MIME_D_ENCODED_MESSAGE):
	 * the offsets above are into that content.  mime_reader follows. */
	const struct mime_part *offset_base;

	/* Leaves: the content with the transfer encoding undone (no
	 * charset conversion).  Containers: 0, but for an encoded message,
	 * the decoded size. */
	uint64_t size;
	unsigned char sha256[32];
	uint64_t defects; /* MIME_D_* seen in this part */

	/* private */
	struct mime_part *last_child;
	struct mime_header *last_header;
	struct mime_filename *last_filename;
	int state;
};

struct mime_parser;

/* A parser whose tree will live on arena; limits NULL for the defaults.
 * NULL when out of memory. */
struct mime_parser *mime_parser_new(struct pst_arena *arena,
				    const struct mime_limits *limits);

/* Feed the next len bytes of the message.  0, or -1 with *error_r when
 * out of memory (the parser is then unusable). */
int mime_parser_feed(struct mime_parser *p, const void *data, size_t len,
		     const char **error_r);

/* End of the message: close every open part and return the root in
 * *root_r.  0 or -1 (out of memory). */
int mime_parser_end(struct mime_parser *p, struct mime_part **root_r,
		    const char **error_r);

/* Release what the parser holds outside the arena (buffers, hash
 * contexts); the tree stays.  Also done when the arena goes.  NULL and
 * *p_p == NULL are accepted. */
void mime_parser_free(struct mime_parser **p_p);

/* ---- the tree ---- */

/* The part after p in pre-order (the order of Python's Message.walk()),
 * synthetic parts included, or NULL. */
const struct mime_part *mime_part_next(const struct mime_part *p);
/* Every defect bit of p and the parts below it. */
uint64_t mime_part_defects_all(const struct mime_part *p);
/* The first header called name (any case) after prev (NULL: from the
 * start), or NULL. */
const struct mime_header *mime_part_header(const struct mime_part *p,
					   const struct mime_header *prev,
					   const char *name);
/* Short stable name of one defect bit ("missing_final_boundary"), or
 * NULL for a bit that is not defined. */
const char *mime_defect_name(uint64_t bit);

/* ---- reading decoded content ---- */

/* Read up to len bytes of the stream at offset (pread(2) shape; a
 * two-line wrapper around pst_spool_pread fits): bytes read, 0 at the
 * end, -1 on error. */
typedef ssize_t mime_pread_fn(void *ctx, void *buf, size_t len,
			      uint64_t offset);

struct mime_reader;

/*
 * Stream the content of one part: a leaf's decoded content, exactly the
 * bytes behind part->size and part->sha256; a multipart's raw body; an
 * encoded message's decoded content.  Parts parsed from an encoded
 * message are read through a reader of that message, so a chain of such
 * readers may be opened (one per level, a few KiB each).  NULL when out
 * of memory.
 */
struct mime_reader *mime_reader_open(const struct mime_part *part,
				     mime_pread_fn *pread, void *ctx);
/* Up to len bytes into buf: the count, 0 at the end, -1 when pread failed
 * or the stream is shorter than the tree says. */
ssize_t mime_reader_read(struct mime_reader *r, void *buf, size_t len);
/* NULL and *r_p == NULL are accepted; sets *r_p to NULL. */
void mime_reader_close(struct mime_reader **r_p);

#endif
