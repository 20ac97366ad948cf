/*
 * attachment.h - what a message really carries: every leaf part, every
 * member of an archive among them (zip, 7z, rar, tar, gzip, iso,
 * through libarchive, nested up to a depth), every part of an attached
 * message (message/rfc822 parts come from the MIME parser; .eml files
 * and messages inside archives are parsed here), each with its file
 * names normalised for matching (mail/filename.h), declared and sniffed
 * (libmagic) type, size, encryption and the defects found.
 *
 * Budgets bound the work per message: decompressed bytes, members,
 * depth, ratio of an archive's output to its size, and time.  Reaching
 * one stops the walk and sets its defect bit: a result, never a loop.
 *
 * Ownership: a scan and everything in it live on the arena it was made
 * on.  Threads: a scan is built by one thread; libmagic is shared
 * behind a lock (attachment_magic.c).
 */
#ifndef FILTERS_ATTACHMENT_H
#define FILTERS_ATTACHMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "mime.h"

/* Defects of one item (and, or-ed, of the scan).  Stable names in
 * attachment_defect_name(): what rules read in attachment.defects. */
enum attachment_defect {
	ATTACHMENT_D_TYPE_MISMATCH = 1u << 0,  /* declared vs sniffed */
	ATTACHMENT_D_ENCRYPTED = 1u << 1,      /* encrypted member/archive */
	ATTACHMENT_D_TOO_DEEP = 1u << 2,       /* nesting over max_depth */
	ATTACHMENT_D_BOMB = 1u << 3,	       /* bytes or ratio over budget */
	ATTACHMENT_D_UNREADABLE = 1u << 4,     /* a damaged archive */
	ATTACHMENT_D_TOO_MANY = 1u << 5,       /* members over budget */
	ATTACHMENT_D_TIMEOUT = 1u << 6,	       /* time over budget */
	ATTACHMENT_D_BIDI_NAME = 1u << 7,      /* bidi controls in a name */
	ATTACHMENT_D_HIDDEN_NAME = 1u << 8,    /* zero-width characters */
	ATTACHMENT_D_CONTROL_NAME = 1u << 9,   /* control characters */
	ATTACHMENT_D_TRAILING_NAME = 1u << 10, /* trailing dots, blanks */
	ATTACHMENT_D_DOUBLE_EXT = 1u << 11,    /* "invoice.pdf.exe" */
	ATTACHMENT_D_EMPTY_NAME = 1u << 12,    /* an attachment, no name */
	ATTACHMENT_D_NAME_CONFLICT = 1u << 13, /* candidates disagree on
						* the extension */
	ATTACHMENT_D_EMBEDDED = 1u << 14,      /* an archive behind another type
						* (a ZIP after an image) */
};

#define ATTACHMENT_D_COUNT 15
/* The defects that mean "not fully inspected". */
#define ATTACHMENT_D_BUDGET                                                    \
	(ATTACHMENT_D_TOO_DEEP | ATTACHMENT_D_BOMB | ATTACHMENT_D_TOO_MANY |   \
	 ATTACHMENT_D_TIMEOUT)

/* "type_mismatch", "encrypted", ...; NULL for an unknown bit. */
const char *attachment_defect_name(uint64_t bit);

struct attachment_limits {
	unsigned max_depth;   /* containers inside containers (default 4) */
	unsigned max_members; /* archive entries and parsed parts per
			       * message (10000) */
	uint64_t max_bytes;   /* decompressed bytes per message (64 MiB) */
	unsigned max_ratio;   /* an archive's output / its size (200) */
	uint64_t max_ms;      /* wall time per message (10 s) */
};

void attachment_limits_default(struct attachment_limits *l);

struct attachment_item {
	const char *filename;  /* preferred name, normalised; "" when none */
	const char *extension; /* of filename, lower case, no dot; "" */
	const char **names;    /* every candidate, normalised, filename
				* first; nnames >= 1 when filename != "" */
	size_t nnames;
	const char *declared_type; /* Content-Type of a part; "" for
				    * members */
	const char *sniffed_type;  /* libmagic's MIME type, "" if unknown */
	uint64_t size;		   /* decoded or uncompressed bytes */
	unsigned depth;		   /* 0: a MIME part; n: inside n archives
				    * or attached .eml files */
	unsigned members;	   /* an archive's entries, as read */
	bool archive;		   /* read as an archive */
	bool encrypted;
	uint64_t defects; /* ATTACHMENT_D_* */
	/* The MIME part it came from: mime_part.index (pre-order position
	 * from the root, as pf_part_next() walks): the part itself at
	 * depth 0, the top-level part holding the archive or .eml for
	 * members.  What an action that strips attachments removes. */
	size_t part_index;
	const char *container; /* name of the archive or message holding
				* it (depth > 0), else NULL */
};

struct attachment_scan {
	struct attachment_item *items; /* in walk order: a part, then what
					* it contains */
	size_t nitems;
	size_t cap;
	uint64_t defects; /* of every item, and of the walk */
	uint64_t bytes;	  /* decompressed */
	unsigned members; /* entries and parts read inside attachments */
	uint64_t ms;	  /* time spent */
};

/*
 * Walk the message whose tree is root, reading content through pread
 * (see mime_reader_open).  The scan goes on arena.  0 with *scan_r, or
 * -1 with *error_r when out of memory or the message cannot be read
 * (an archive that cannot be read is a defect, not an error).
 */
int attachment_scan_message(struct pst_arena *arena,
			    const struct attachment_limits *limits,
			    const struct mime_part *root, mime_pread_fn *pread,
			    void *pread_ctx, struct attachment_scan **scan_r,
			    const char **error_r);

/* Did the scan stop at a budget? */
bool attachment_over_budget(const struct attachment_scan *scan);

/* ---- libmagic (attachment_magic.c) ---- */

/* Load the database once per process; 0, or -1 with *error_r (then
 * every sniffed type is ""). */
int attachment_magic_init(const char **error_r);
/* The MIME type of buf[0..len) ("application/zip") onto arena, "" when
 * unknown; never NULL unless out of memory.  Thread-safe (a lock). */
const char *attachment_magic_type(struct pst_arena *arena, const void *buf,
				  size_t len);

/* ---- types (attachment_type.c) ---- */

/* Is this sniffed or declared type an archive postern opens? */
bool attachment_type_is_archive(const char *type);
/* A message to parse (message/rfc822)? */
bool attachment_type_is_message(const char *type);
/* Do declared and sniffed disagree in a way a mail client would act
 * on (text that is a program, an image that is an archive)? */
bool attachment_type_mismatch(const char *declared, const char *sniffed);

#endif
