/*
 * rewrite_int.h - what the files of body rewriting share: the plan, the
 * job with its splices, and the helpers rewrite.c (plan, replacements,
 * writing, checking) and rewrite_banner.c (banners) both use.
 */
#ifndef FILTERS_REWRITE_INT_H
#define FILTERS_REWRITE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "rewrite.h"

#define RW_CHUNK (64 * 1024)
#define RW_WRAP 76
#define RW_FIELDS_MAX 4

enum rw_op_kind {
	RW_OP_REPLACE,
	RW_OP_BANNER,
};

struct rw_op {
	enum rw_op_kind kind;
	enum rewrite_where where;
	unsigned index;
	const char *text;
};

struct rewrite_plan {
	struct pst_arena *arena;
	struct rw_op *ops; /* REWRITE_MAX_OPS, on first use */
	size_t nops;
	bool banners;
};

enum rw_splice_kind {
	RW_SP_REPLACE, /* a part (or the root's body) becomes a notice */
	RW_SP_LINES,   /* a uuencoded file's lines become the notice */
	RW_SP_BANNER,  /* a text part's content, encoded again */
};

struct rw_splice {
	enum rw_splice_kind kind;
	uint64_t start, end; /* the spool's bytes replaced */
	const struct mime_part *part;
	const char *bytes; /* what replaces them */
	size_t len;
};

struct rewrite_job {
	struct pst_arena *arena;
	struct pst_spool *src;
	const struct mime_part *root;
	const struct mime_part **parts; /* by index */
	size_t nparts;
	struct rw_splice *sp;
	size_t nsp, spcap;
	const char *drop[RW_FIELDS_MAX];
	size_t ndrop;
	const char *add_name[RW_FIELDS_MAX], *add_value[RW_FIELDS_MAX];
	size_t nadd;
	unsigned replaced, banners, skipped;
	const char *error;
};

/* ---- rewrite.c ---- */

/* Is p's content type exactly type (lower case)? */
bool rw_type_is(const struct mime_part *p, const char *type);
/* A container whose content must never change. */
bool rw_protected(const struct mime_part *p);
/* 7bit, 8bit or binary: the bytes are the content. */
bool rw_identity(enum mime_encoding e);
/* The decoded content of a leaf into b (at most max bytes).  0, or -1
 * (unreadable, or larger than max). */
int rw_read_part(struct pst_spool *src, const struct mime_part *p,
		 struct pst_buf *b, size_t max);
/* Does the spool's range [start, end) end with a line break? */
bool rw_ends_eol(struct pst_spool *src, uint64_t start, uint64_t end);
/* Does p's header block end with an empty line? */
bool rw_blank_before(struct pst_spool *src, const struct mime_part *p);
/* Record that [start, end) of the spool becomes bytes (copied onto the
 * job's arena); NULL when out of memory. */
struct rw_splice *rw_splice_add(struct rewrite_job *job,
				enum rw_splice_kind kind,
				const struct mime_part *part, uint64_t start,
				uint64_t end, const struct pst_buf *bytes);
/* Is [start, end) inside a replaced range? */
bool rw_replaced(const struct rewrite_job *job, uint64_t start, uint64_t end);
/* Text with '\n' line breaks as CRLF lines (a final one included); when
 * ascii, every non-ASCII character as '?'. */
int rw_text_lines(struct pst_buf *b, const char *text, bool ascii,
		  const char *eol);
/* Does text have a line starting with '-' (one that might read as a
 * boundary delimiter of an enclosing multipart)? */
bool rw_dash_line(const char *text);
/* Is s 7-bit text with no line longer than max_line? */
bool rw_ascii(const char *s, size_t len, size_t max_line);

/* ---- rewrite_banner.c ---- */

/* Add the plan's banners to the job's text parts.  0, or -1 with
 * job->error. */
int rw_banners(struct rewrite_job *job, const struct rewrite_plan *plan);

#endif
