/*
 * mime_header.h - the header grammar under the MIME parser (mime.h):
 * unfolding, RFC 2047 encoded words, RFC 6532 UTF-8 header text,
 * Content-Type and Content-Disposition values with their parameters
 * (quoted or not, RFC 2231 continuations and charsets, RFC 2047 words in
 * quoted values as Outlook sends them), Content-Transfer-Encoding, and
 * the defect bits that the whole MIME layer reports.
 *
 * Everything returned is allocated on the caller's arena and lives as
 * long as the arena; strings are NUL-terminated and also carry a length,
 * because a value may contain a NUL byte (never trust strlen() on one).
 * Malformed input is never an error: it is read the way mail clients
 * read it and a defect bit is set.  The only failure is out of memory
 * (-1).  Pure functions over their arguments; thread-safe with one arena
 * per thread.
 */
#ifndef MAIL_MIME_HEADER_H
#define MAIL_MIME_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "decode.h"

/*
 * Defects: one 64-bit mask for the MIME layer (headers, structure,
 * decoders, limits).  The bit numbers are stable; mime_defect_name()
 * (mime.h) gives each a short stable name for logs and JSON.
 */
#define MIME_D(n) (UINT64_C(1) << (n))

/* -- header syntax -- */
/* A line that is no header field (it ends the header block), an empty
 * field name, or a first line that is a continuation. */
#define MIME_D_HEADER_SYNTAX MIME_D(0)
/* "Name :" (RFC 5322 obsolete syntax). */
#define MIME_D_HEADER_SPACE_COLON MIME_D(1)
/* 8-bit header text that is not UTF-8: shown as U+FFFD. */
#define MIME_D_HEADER_BAD_UTF8 MIME_D(2)
/* A NUL byte in a header. */
#define MIME_D_HEADER_NUL MIME_D(3)
/* A malformed RFC 2047 word (left as written), or bad base64/Q in one. */
#define MIME_D_ENCODED_WORD MIME_D(4)
/* A charset iconv does not know (read as UTF-8). */
#define MIME_D_CHARSET_UNKNOWN MIME_D(5)
/* Bytes invalid in their charset. */
#define MIME_D_CHARSET_INVALID MIME_D(6)
/* A parameter without '=', junk after a quoted value, blanks in an
 * unquoted value, an open quote or comment. */
#define MIME_D_PARAM_SYNTAX MIME_D(7)
/* The same parameter twice in the same form. */
#define MIME_D_PARAM_DUPLICATE MIME_D(8)
/* RFC 2231: a gap, a duplicate or leading-zero section, a bad %XX, no
 * charset quotes. */
#define MIME_D_PARAM_RFC2231 MIME_D(9)
/* Content-Type not type/subtype: read as the default (text/plain). */
#define MIME_D_BAD_CONTENT_TYPE MIME_D(10)
/* Two Content-Type fields. */
#define MIME_D_DUP_CONTENT_TYPE MIME_D(11)
/* Two Content-Transfer-Encoding, -Disposition or -ID fields. */
#define MIME_D_DUP_MIME_HEADER MIME_D(12)
/* An unknown transfer encoding (content passed through). */
#define MIME_D_UNKNOWN_CTE MIME_D(13)

/* -- structure (mime.c) -- */
/* A multipart without boundary parameter: read as one leaf. */
#define MIME_D_NO_BOUNDARY MIME_D(14)
/* An empty boundary: one leaf. */
#define MIME_D_BAD_BOUNDARY MIME_D(15)
/* A boundary over 70 characters (RFC 2046 says at most 70). */
#define MIME_D_LONG_BOUNDARY MIME_D(16)
/* A transfer encoding on a multipart (ignored, as clients do). */
#define MIME_D_MULTIPART_CTE MIME_D(17)
/* A base64/QP/uuencoded message/rfc822 (RFC 2046 forbids it; clients
 * decode it): its decoded content is parsed as the embedded message. */
#define MIME_D_ENCODED_MESSAGE MIME_D(18)
/* A multipart in which no delimiter came: its body is one leaf. */
#define MIME_D_NO_START_BOUNDARY MIME_D(19)
/* A multipart without its close delimiter. */
#define MIME_D_NO_FINAL_BOUNDARY MIME_D(20)
/* Two boundary values for one multipart, a nested multipart reusing an
 * open boundary, or a line that is the delimiter of two multiparts. */
#define MIME_D_AMBIGUOUS_BOUNDARY MIME_D(21)
/* "--boundary" with junk after it: no delimiter by RFC 2046, one for
 * prefix-matching parsers. */
#define MIME_D_BOUNDARY_PREFIX MIME_D(22)
/* CRLF and bare LF line ends in one message. */
#define MIME_D_MIXED_EOL MIME_D(23)
/* A uuencoded file inside a text part (a synthetic part). */
#define MIME_D_UUENCODE MIME_D(24)
/* The filename candidates of a part disagree. */
#define MIME_D_DUP_FILENAME MIME_D(25)

/* -- decoders (decode.h), per part -- */
#define MIME_D_B64_GARBAGE MIME_D(26)
#define MIME_D_B64_PADDING MIME_D(27)
#define MIME_D_B64_TRUNCATED MIME_D(28)
#define MIME_D_QP_BAD_ESCAPE MIME_D(29)
#define MIME_D_QP_LONG_LINE MIME_D(30)
#define MIME_D_QP_8BIT MIME_D(31)
#define MIME_D_UU_BAD_LINE MIME_D(32)
#define MIME_D_UU_NO_END MIME_D(33)

/* -- limits (struct mime_limits): the tree is truncated -- */
#define MIME_D_LIMIT_DEPTH MIME_D(34)
#define MIME_D_LIMIT_PARTS MIME_D(35)
#define MIME_D_LIMIT_HEADER_LINE MIME_D(36)
#define MIME_D_LIMIT_HEADER_SIZE MIME_D(37)
#define MIME_D_LIMIT_BOUNDARY MIME_D(38)

/* -- line ends -- */
/* A CR not before LF in a header block: no line end here, one for
 * Python and old Mac mail. */
#define MIME_D_BARE_CR MIME_D(39)
/* A delimiter after the close delimiter: the epilogue holds a part for
 * parsers that keep looking (and for us), none for RFC 2046. */
#define MIME_D_PART_AFTER_CLOSE MIME_D(40)

#define MIME_D_COUNT 41

/* The tree is incomplete: a gateway refuses such a message. */
#define MIME_D_LIMITS                                                          \
	(MIME_D_LIMIT_DEPTH | MIME_D_LIMIT_PARTS | MIME_D_LIMIT_HEADER_LINE |  \
	 MIME_D_LIMIT_HEADER_SIZE | MIME_D_LIMIT_BOUNDARY)
/* Clients may see a structure or a name other than ours: the signs of
 * an evasion attempt, worth a reject or a high score. */
#define MIME_D_AMBIGUOUS                                                       \
	(MIME_D_DUP_CONTENT_TYPE | MIME_D_AMBIGUOUS_BOUNDARY |                 \
	 MIME_D_BOUNDARY_PREFIX | MIME_D_ENCODED_MESSAGE |                     \
	 MIME_D_MULTIPART_CTE | MIME_D_HEADER_SPACE_COLON |                    \
	 MIME_D_DUP_FILENAME | MIME_D_HEADER_NUL | MIME_D_BARE_CR |            \
	 MIME_D_PART_AFTER_CLOSE)

/* Map decoder defects (enum decode_defect) to MIME_D_ bits. */
uint64_t mime_defects_from_decoder(unsigned decode_defects);
/* Map charset defects (enum charset_defect) to MIME_D_ bits. */
uint64_t mime_defects_from_charset(unsigned charset_defects);

/* ---- parameters ---- */

enum mime_param_flag {
	MIME_PARAM_QUOTED = 1u << 0,	   /* a quoted-string (section 0) */
	MIME_PARAM_EXTENDED = 1u << 1,	   /* RFC 2231 charset'lang'%XX form */
	MIME_PARAM_CONTINUED = 1u << 2,	   /* RFC 2231 name*0, name*1 joined */
	MIME_PARAM_ENCODED_WORD = 1u << 3, /* RFC 2047 words were decoded */
	MIME_PARAM_NO_VALUE = 1u << 4,	   /* "name" without "=value" */
};

#define MIME_PARAM_ALTS 3

struct mime_param {
	struct mime_param *next; /* in order of appearance */
	const char *name;	 /* lower case, without the RFC 2231 '*' and
				  * section number */
	struct pst_str value;	 /* UTF-8, unquoted, decoded */
	/* Other readings of an ambiguous value, so rules can match all:
	 * the first word of an unquoted value with blanks, a quoted value
	 * with the junk after its closing quote, the text before a NUL,
	 * every RFC 2231 section joined in spite of a gap or duplicate
	 * (Python), the last of duplicate sections (parsers that keep the
	 * last).  Unused slots are {NULL, 0}; none equals value. */
	struct pst_str alt[MIME_PARAM_ALTS];
	const char *charset;  /* RFC 2231 charset as written, or NULL */
	const char *language; /* RFC 2231 language, or NULL */
	unsigned flags;	      /* enum mime_param_flag */
};

/*
 * The value of a parameter as a mail client picks it among duplicates
 * (Mozilla's rules, which Gmail and Apple Mail share): the RFC 2231
 * extended form name*= first, then a name*0.. continuation, then the
 * plain name=; within each form the first one.  NULL if absent.
 */
const struct mime_param *mime_param_get(const struct mime_param *params,
					const char *name);
/* Rank of p in that order (0 best, 2 plain): to list alternatives. */
unsigned mime_param_rank(const struct mime_param *p);

/* A parsed Content-Type or Content-Disposition value. */
struct mime_ctype {
	/* Content-Type: "type/subtype" in lower case, or NULL when the
	 * value is not of that form.  Content-Disposition: the disposition
	 * type in lower case ("attachment"), or NULL when empty. */
	const char *value;
	struct mime_param *params;
	unsigned nparams;
};

/*
 * Parse an unfolded Content-Type value ("text/plain; charset=utf-8").
 * Comments are skipped; type and subtype must be RFC 2045 tokens.
 * 0, or -1 when out of memory.
 */
int mime_header_parse_content_type(struct pst_arena *arena, struct pst_str in,
				   struct mime_ctype *ct_r,
				   uint64_t *defects_r);
/* The same for Content-Disposition ("attachment; filename=x.pdf"). */
int mime_header_parse_disposition(struct pst_arena *arena, struct pst_str in,
				  struct mime_ctype *cd_r, uint64_t *defects_r);
/* Parse "; a=b; c*=..." (what follows the value) into *params_r. */
int mime_header_parse_params(struct pst_arena *arena, struct pst_str in,
			     struct mime_param **params_r, unsigned *nparams_r,
			     uint64_t *defects_r);

/*
 * A Content-Transfer-Encoding value: comments and blanks removed, the
 * token (a view into in, possibly empty) and its encoding.  An unknown
 * token gives MIME_ENC_UNKNOWN and MIME_D_UNKNOWN_CTE; an empty one
 * MIME_ENC_7BIT.
 */
enum mime_encoding mime_header_parse_cte(struct pst_str in,
					 struct pst_str *token_r,
					 uint64_t *defects_r);

/* ---- field values ---- */

/* Is name[0..len) a field name (RFC 5322 ftext: 33..126 but ':')? */
bool mime_header_name_valid(const char *name, size_t len);

/*
 * Unfold a raw field value: every line break (CRLF or LF) that is
 * followed by a blank is removed, the blanks stay (RFC 5322 2.2.3);
 * leading and trailing blanks and line breaks are trimmed.  *out_r is
 * the input itself when nothing changes, else an arena copy.
 */
int mime_header_unfold(struct pst_arena *arena, struct pst_str raw,
		       struct pst_str *out_r);

/*
 * Decode an unfolded value for display and matching: RFC 2047 encoded
 * words (B and Q, every charset charset.h knows; whitespace between two
 * adjacent words dropped; words inside other text decoded as clients do;
 * a malformed word left as written) and raw 8-bit text (UTF-8 kept, as
 * RFC 6532 allows; anything else becomes U+FFFD).  *out_r is the input
 * itself when nothing changes, else an arena copy.
 */
int mime_header_decode(struct pst_arena *arena, struct pst_str in,
		       struct pst_str *out_r, uint64_t *defects_r);

/*
 * Append in[0..len) to out as UTF-8: valid UTF-8 is copied, every other
 * byte >= 0x80 becomes U+FFFD (MIME_D_HEADER_BAD_UTF8); NUL is kept and
 * flagged (MIME_D_HEADER_NUL).  0, or -1 when out refuses to grow.
 */
int mime_header_append_utf8(struct pst_buf *out, const char *in, size_t len,
			    uint64_t *defects_r);

#endif
