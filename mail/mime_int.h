/*
 * mime_int.h - what mime.c (the push parser), mime_body.c (its body line
 * scanning) and mime_part.c (the meaning of a part's Content-* fields,
 * tree walks, readers) share; not for use outside mail/.
 *
 * Nothing here keeps state: the rules of mime.h on memory and threads
 * apply.
 */
#ifndef MAIL_MIME_INT_H
#define MAIL_MIME_INT_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "arena.h"
#include "mime.h"

/* part->state */
enum {
	P_HEADERS,  /* header block being read */
	P_CONTENT,  /* leaf content */
	P_PREAMBLE, /* multipart before its first delimiter */
	P_PARTS,    /* multipart between delimiters */
	P_EPILOGUE, /* multipart after its close delimiter */
	P_MESSAGE,  /* message/ container, its child open */
	P_BLOCKS,   /* message/delivery-status: header blocks */
	P_DONE,
};

/* what the parser is doing with the next bytes */
enum {
	M_HEADERS,
	M_BODY,
	M_TRUNC, /* a limit was passed: everything is content */
	M_ENDED,
};

/* A leaf being decoded and hashed as it streams by. */
struct sink {
	struct mime_part *part; /* NULL: no content is being kept */
	struct decoder dec;
	EVP_MD_CTX *md;
	bool identity; /* 7bit, 8bit, binary, unknown: no decoder */
	uint64_t size;
	/* an encoded message: its decoded content goes to this parser */
	struct mime_parser *sub;
};

/* An open boundary.  A multipart with two Content-Type fields or two
 * boundary parameters has an entry for each value: a client may split
 * at either, so both are delimiters here (MIME_D_AMBIGUOUS_BOUNDARY). */
struct bentry {
	struct mime_part *part;
	const char *b;
	size_t len;
};

/* Verdicts on a line that may be special. */
enum line_kind {
	L_NORMAL,
	L_DELIM,
	L_UU_BEGIN,
	L_UU_END,
	L_BLANK, /* ends the body of a delivery-status block */
	L_BLOCK, /* starts a delivery-status block */
};

/* mime_parser.dsn: where we are in a message/delivery-status body */
enum {
	DSN_NONE,
	DSN_BODY,    /* cur is a block with non-header lines */
	DSN_BETWEEN, /* cur is the delivery-status part, between blocks */
};

struct mime_parser {
	struct pst_arena *arena;
	struct mime_limits lim;
	int mode;
	uint64_t base;	/* offset of byte 0 of the chunk being fed */
	uint64_t total; /* bytes fed so far */
	struct mime_part *root, *cur; /* cur: the innermost open part */
	unsigned nparts;
	/* A parser of an encoded message's decoded content shares the
	 * part count and header accounting of the parser above it. */
	unsigned *count;
	size_t *htotal;
	unsigned depth_base;
	const struct mime_part *offset_base;

	/* boundaries of open multiparts, outermost first */
	struct bentry *bstack;
	unsigned nb, bcap;

	/* a line cut by a chunk boundary */
	struct pst_buf line;
	bool line_pending;
	uint64_t line_off;

	/* the header field being assembled, and header accounting */
	struct pst_buf field;
	bool have_field;
	size_t field_name_len;
	uint64_t field_off;
	bool first_line;
	size_t block_size;
	size_t header_total; /* (through htotal) */

	/* body scanning */
	bool scan;    /* lines must be looked at */
	bool uu_scan; /* cur is raw text/plain: look for "begin" lines */
	bool bol;     /* the next byte starts a line */
	int dsn;      /* DSN_* */
	unsigned char held[2];
	unsigned nheld; /* bytes held back: the line break before the next
			 * line (bol), or a CR that may start one (!bol) */

	struct sink main, uu;
	const EVP_MD *sha256;
	unsigned char *out;
	bool saw_crlf, saw_lf;
	bool force_leaf; /* end_headers(): a leaf whatever the type */
	const char *error;
};

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

/* ---- shared by mime.c and mime_body.c ---- */

static inline bool
mime_is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Length of a line without its line break. */
static inline size_t
mime_content_len(const unsigned char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\n') {
		n--;
		if (n > 0 && s[n - 1] == '\r')
			n--;
	}
	return n;
}

static inline uint64_t
mime_max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* mime.c */

/* Record out of memory as the parser's error unless one is set. */
void mime_oom(struct mime_parser *p);
/* Start decoding and hashing part's content into sink s. */
void mime_sink_start(struct mime_parser *p, struct sink *s,
		     struct mime_part *part);
/* Finish sink s: its part gets size, SHA-256 and decoder defects. */
void mime_sink_finish(struct mime_parser *p, struct sink *s);
/* Content bytes: to the current leaf and to an open uuencoded file. */
void mime_content(struct mime_parser *p, const unsigned char *d, size_t n);
/* Feed the held-back line break (or CR) as content. */
void mime_flush_held(struct mime_parser *p);
/* A new part under parent (NULL: the root) whose headers start at off. */
struct mime_part *mime_new_part(struct mime_parser *p, struct mime_part *parent,
				uint64_t off);
/* May a part at depth be added?  If not, the limit is recorded. */
bool mime_can_create(struct mime_parser *p, unsigned depth);
/* Start reading a header block (of p->cur). */
void mime_begin_block(struct mime_parser *p);
/* Multipart m never saw a delimiter: its body (to end) is one leaf. */
void mime_leafify(struct mime_parser *p, struct mime_part *m, uint64_t end);
/* Close the boundaries of m and of everything opened after it. */
void mime_pop_boundary(struct mime_parser *p, struct mime_part *m);
/* Close part q: its content ends at end. */
void mime_close_part(struct mime_parser *p, struct mime_part *q, uint64_t end);
/* Everything from here on is content of the current part. */
void mime_enter_trunc(struct mime_parser *p);
/* Note whether the line s[0..n) ends in CRLF or LF. */
void mime_count_eol(struct mime_parser *p, const unsigned char *s, size_t n);
/* A delivery-status block ends at off (its blank line consumed). */
void mime_block_end(struct mime_parser *p, uint64_t off);
/* A line at off starts the next delivery-status block. */
void mime_block_start(struct mime_parser *p, uint64_t off);

/* mime_body.c */

/* What a complete line s[0..n) is (an enum line_kind); for L_DELIM the
 * bstack entry in *m_r and whether it closes in *close_r. */
int mime_classify(struct mime_parser *p, const unsigned char *s, size_t n,
		  unsigned *m_r, bool *close_r);
/* The line kept in p->line, now complete (or ended by the input). */
void mime_buffered_line(struct mime_parser *p);
/* Body bytes d[pos..len) in mode M_BODY; returns where to go on. */
size_t mime_body_step(struct mime_parser *p, const unsigned char *d, size_t pos,
		      size_t len);

#endif
