/*
 * mime.c - the streaming MIME parser (see mime.h): lines, header blocks,
 * boundaries and the part tree.  What a part's Content-* fields mean,
 * tree walks and reading content are in mime_part.c.
 *
 * The input is looked at line by line only where a line can matter:
 * header blocks, and in bodies the lines that start with "--" while a
 * boundary is open (found with memchr over '-', so a base64 body is
 * skipped at memchr speed), plus "begin"/"end" lines in raw text/plain
 * bodies (uuencoded files).  Everything else streams straight into the
 * current leaf's decoder and SHA-256, from the caller's chunk, without a
 * copy.  A line cut by a chunk boundary is kept in one buffer; the line
 * break before a possible delimiter is held back (at most two bytes),
 * because RFC 2046 gives it to the delimiter, not to the content.
 *
 * Interpretation of ambiguous input (what the major clients do, and a
 * defect bit so a policy can refuse what clients might read otherwise):
 *  - A delimiter is "--" boundary, optional "--", optional blanks, end
 *    of line (RFC 2046; Python, Thunderbird and GMime 3 agree).  "--b
 *    junk" is no delimiter (MIME_D_BOUNDARY_PREFIX: old prefix-matching
 *    parsers split there).  Open boundaries are tried outermost first,
 *    so a line closes an inner part when an outer boundary matches it.
 *  - Where readings differ in what they split, every split is made, so
 *    no client sees a part we miss: two boundary values (two Content-Type
 *    fields, or boundary= twice) are both delimiters; a delimiter after
 *    the close delimiter reopens the multipart (Python and Thunderbird
 *    see epilogue there).  Otherwise the first Content-Type (and
 *    Content-Transfer-Encoding, -Disposition) wins, as in Python and
 *    Thunderbird; later ones stay headers and give filename candidates.
 *  - "Name :" is a header field (RFC 5322 obsolete syntax; Thunderbird,
 *    GMime and Outlook read it so, Python ends the header block there).
 *  - A line that is no header field ends the header block and starts the
 *    body (Python); a first line "From " is an mbox envelope and skipped.
 *  - multipart without boundary, or with an empty one: one leaf (Python).
 *    A multipart in which no delimiter ever comes: its body is one leaf
 *    (Python), decoded with its transfer encoding.
 *  - A transfer encoding on a multipart is ignored for the structure
 *    (clients do), but flagged: it only serves to hide things.
 *  - message/rfc822 and every other message/ type hold one embedded
 *    message (Python's rule; delivery-status holds one part per header
 *    block, as in Python).  A base64 or QP encoded one (forbidden by RFC
 *    2046, decoded by clients) is decoded and the result parsed by a
 *    nested parser fed from the decoder; its parts' offsets are into the
 *    decoded content (mime_part.offset_base).
 *  - A part that ends at the end of input inside a multipart whose
 *    delimiter never came loses its last line break, like one ended by a
 *    delimiter (Python does the same).
 *  - Bare CR is no line end (only LF is); CRLF and LF may mix.
 *  - A line longer than max_header_line is never special; it is judged
 *    the same whether it arrives whole or cut (the fuzz target checks
 *    that every tree is independent of the chunking).
 *
 * Memory: the tree on the caller's arena; a line buffer, a header field
 * buffer (both bounded by max_header_line) and two SHA-256 contexts on
 * the heap, released by mime_parser_free() or the arena's cleanup.  Not
 * thread-safe; one parser per message.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "mime_int.h"

/* Decoded output is produced in slices of this size. */
#define OUT_SLICE (16 * 1024)

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

/* Most boundary values taken for one multipart. */
#define BOUNDARY_ALTERNATIVES 4

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

void
mime_limits_default(struct mime_limits *l)
{
	l->max_depth = MIME_DEFAULT_MAX_DEPTH;
	l->max_parts = MIME_DEFAULT_MAX_PARTS;
	l->max_header_line = MIME_DEFAULT_MAX_HEADER_LINE;
	l->max_header_size = MIME_DEFAULT_MAX_HEADER_SIZE;
	l->max_header_total = MIME_DEFAULT_MAX_HEADER_TOTAL;
	l->max_boundary = MIME_DEFAULT_MAX_BOUNDARY;
}

static bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static void
oom(struct mime_parser *p)
{
	if (p->error == NULL)
		p->error = "out of memory";
}

/* ---- sinks: decode and hash content as it streams ---- */

/*
 * SHA-256, fetched from the provider once per process: EVP_sha256() would
 * fetch (under a lock) at every part, a tenth of the time spent on small
 * messages.  The first thread to fetch publishes it; a loser frees its
 * copy.  Never freed: one object for the process's life.
 */
static const EVP_MD *
sha256_md(void)
{
	static _Atomic(EVP_MD *) cached;
	EVP_MD *md = atomic_load(&cached), *expect = NULL;

	if (md != NULL)
		return md;
	md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (md == NULL)
		return EVP_sha256();
	if (!atomic_compare_exchange_strong(&cached, &expect, md)) {
		EVP_MD_free(md);
		md = expect;
	}
	return md;
}

static void
sink_start(struct mime_parser *p, struct sink *s, struct mime_part *part)
{
	s->part = part;
	s->identity = mime_identity_encoding(part->encoding);
	s->size = 0;
	decoder_init(&s->dec, part->encoding);
	if (EVP_DigestInit_ex(s->md, p->sha256, NULL) != 1)
		oom(p);
}

static void
sub_feed(struct mime_parser *p, struct sink *s, const unsigned char *d,
	 size_t n)
{
	const char *error;

	if (n > 0 && mime_parser_feed(s->sub, d, n, &error) < 0)
		p->error = error;
}

static void sub_end(struct mime_parser *p, struct sink *s);

static void
sink_feed(struct mime_parser *p, struct sink *s, const unsigned char *d,
	  size_t n)
{
	if (s->identity) {
		if (n > 0 && EVP_DigestUpdate(s->md, d, n) != 1)
			oom(p);
		s->size += n;
		return;
	}
	while (n > 0) {
		size_t k = n < OUT_SLICE ? n : OUT_SLICE;
		size_t got = decoder_feed(&s->dec, d, k, p->out);

		if (got > 0 && EVP_DigestUpdate(s->md, p->out, got) != 1)
			oom(p);
		if (s->sub != NULL)
			sub_feed(p, s, p->out, got);
		d += k;
		n -= k;
	}
}

static void
sink_finish(struct mime_parser *p, struct sink *s)
{
	struct mime_part *part = s->part;
	unsigned int mdlen = 0;

	if (part == NULL)
		return;
	if (!s->identity) {
		size_t got = decoder_finish(&s->dec, p->out);

		if (got > 0 && EVP_DigestUpdate(s->md, p->out, got) != 1)
			oom(p);
		s->size = s->dec.out_total;
		part->defects |= mime_defects_from_decoder(s->dec.defects);
		if (s->sub != NULL) {
			sub_feed(p, s, p->out, got);
			sub_end(p, s);
		}
	}
	part->size = s->size;
	if (EVP_DigestFinal_ex(s->md, part->sha256, &mdlen) != 1)
		oom(p);
	s->part = NULL;
}

/* Content bytes: to the current leaf and to an open uuencoded file. */
static inline void
content(struct mime_parser *p, const unsigned char *d, size_t n)
{
	if (n == 0)
		return;
	if (p->main.part != NULL)
		sink_feed(p, &p->main, d, n);
	if (p->uu.part != NULL)
		sink_feed(p, &p->uu, d, n);
}

static void
flush_held(struct mime_parser *p)
{
	if (p->nheld > 0)
		content(p, p->held, p->nheld);
	p->nheld = 0;
}

/* ---- parts ---- */

static void
add_defect(struct mime_parser *p, struct mime_part *part, uint64_t bit)
{
	part->defects |= bit;
	if (bit & MIME_D_LIMITS)
		p->root->defects |= bit;
}

static struct mime_part *
new_part(struct mime_parser *p, struct mime_part *parent, uint64_t off)
{
	struct mime_part *part = pst_arena_zalloc(p->arena, sizeof(*part));

	if (part == NULL) {
		oom(p);
		return NULL;
	}
	part->index = (*p->count)++;
	part->parent = parent;
	part->depth = parent ? parent->depth + 1 : p->depth_base;
	part->offset_base = p->offset_base;
	part->header_start = off;
	part->body_start = part->body_end = off;
	part->preamble_end = part->epilogue_start = off;
	part->type = "text/plain";
	part->subtype = part->type + 5;
	part->state = P_HEADERS;
	if (parent != NULL) {
		if (parent->last_child != NULL)
			parent->last_child->next = part;
		else
			parent->children = part;
		parent->last_child = part;
	}
	return part;
}

/* May a part at depth be added?  If not, the limit is recorded. */
static bool
can_create(struct mime_parser *p, unsigned depth)
{
	if (*p->count >= p->lim.max_parts) {
		add_defect(p, p->cur, MIME_D_LIMIT_PARTS);
		return false;
	}
	if (depth > p->lim.max_depth) {
		add_defect(p, p->cur, MIME_D_LIMIT_DEPTH);
		return false;
	}
	return true;
}

static void
begin_block(struct mime_parser *p)
{
	p->mode = M_HEADERS;
	p->have_field = false;
	p->first_line = true;
	p->block_size = 0;
	p->bol = true;
	p->nheld = 0;
	p->scan = false;
	p->uu_scan = false;
	p->dsn = DSN_NONE;
}

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* A multipart that never saw a delimiter: its body is one leaf, as
 * Python reads it (its speculative sink has the content). */
static void
leafify(struct mime_parser *p, struct mime_part *m, uint64_t end)
{
	m->kind = MIME_PART_LEAF;
	if (p->mode != M_TRUNC)
		m->defects |= MIME_D_NO_START_BOUNDARY;
	m->body_end = m->preamble_end = m->epilogue_start =
		max_u64(end, m->body_start);
	if (p->main.part == m)
		sink_finish(p, &p->main);
}

static void
pop_boundary(struct mime_parser *p, struct mime_part *m)
{
	for (unsigned k = 0; k < p->nb; k++)
		if (p->bstack[k].part == m) {
			p->nb = k;
			return;
		}
}

/* Close part q: its content ends at end. */
static void
close_part(struct mime_parser *p, struct mime_part *q, uint64_t end)
{
	end = max_u64(end, q->body_start);
	if (p->uu.part != NULL && p->uu.part->parent == q) {
		p->uu.part->body_end = max_u64(end, p->uu.part->body_start);
		sink_finish(p, &p->uu);
	}
	switch (q->state) {
	case P_CONTENT:
		q->body_end = end;
		if (p->main.part == q)
			sink_finish(p, &p->main);
		break;
	case P_PREAMBLE:
		leafify(p, q, end);
		pop_boundary(p, q);
		break;
	case P_PARTS:
		/* (past a limit nobody looked for it) */
		if (p->mode != M_TRUNC)
			q->defects |= MIME_D_NO_FINAL_BOUNDARY;
		q->body_end = q->epilogue_start = end;
		pop_boundary(p, q);
		break;
	case P_EPILOGUE:
		pop_boundary(p, q);
		/* a multipart turned leaf keeps the end of its content */
		if (q->kind != MIME_PART_LEAF)
			q->body_end = end;
		break;
	default:
		q->body_end = end;
		break;
	}
	q->state = P_DONE;
}

/* ---- header fields ---- */

/* Store the assembled field on the current part. */
static void
store_field(struct mime_parser *p)
{
	struct mime_part *part = p->cur;
	const char *f = pst_buf_view(&p->field).p;
	size_t n = p->field.len, k = p->field_name_len;
	struct mime_header *h;

	p->have_field = false;
	h = pst_arena_zalloc(p->arena, sizeof(*h));
	if (h == NULL) {
		oom(p);
		return;
	}
	/* strip the final line break */
	if (n > 0 && f[n - 1] == '\n')
		n--;
	if (n > 0 && f[n - 1] == '\r')
		n--;
	while (k < n && f[k] != ':')
		k++; /* blanks before the colon */
	k = k < n ? k + 1 : n;
	h->offset = p->field_off;
	h->name.p = pst_arena_strndup(p->arena, f, p->field_name_len);
	h->name.len = p->field_name_len;
	h->raw.p = pst_arena_strndup(p->arena, f + k, n - k);
	h->raw.len = n - k;
	if (h->name.p == NULL || h->raw.p == NULL ||
	    mime_header_unfold(p->arena, h->raw, &h->unfolded) < 0 ||
	    mime_header_decode(p->arena, h->unfolded, &h->value,
			       &part->defects) < 0) {
		oom(p);
		return;
	}
	if (memchr(h->raw.p, '\0', h->raw.len) != NULL)
		part->defects |= MIME_D_HEADER_NUL;
	*p->htotal += h->name.len + h->raw.len;
	if (h->unfolded.p != h->raw.p + (h->raw.len - h->unfolded.len))
		*p->htotal += h->unfolded.len;
	if (h->value.p != h->unfolded.p)
		*p->htotal += h->value.len;
	if (part->last_header != NULL)
		part->last_header->next = h;
	else
		part->headers = h;
	part->last_header = h;
	part->nheaders++;
}

/* ---- starting a body ---- */

static void
push_boundary(struct mime_parser *p, struct mime_part *m, const char *b,
	      size_t blen)
{
	for (unsigned k = 0; k < p->nb; k++)
		if (p->bstack[k].len == blen &&
		    memcmp(p->bstack[k].b, b, blen) == 0) {
			m->defects |= MIME_D_AMBIGUOUS_BOUNDARY;
			if (p->bstack[k].part == m)
				return;
		}
	if (p->nb < p->bcap) {
		p->bstack[p->nb].part = m;
		p->bstack[p->nb].b = b;
		p->bstack[p->nb].len = blen;
		p->nb++;
	}
}

/* Other boundary values a client could take: further boundary
 * parameters of the first Content-Type and those of later multipart
 * Content-Type fields. */
static void
push_alternatives(struct mime_parser *p, struct mime_part *m)
{
	unsigned taken = 1;
	const struct mime_header *h = NULL;
	bool first = true;

	while ((h = mime_part_header(m, h, "content-type")) != NULL &&
	       taken < BOUNDARY_ALTERNATIVES) {
		struct mime_ctype v;
		uint64_t ignore = 0;
		const struct mime_param *q;

		if (first) {
			v.value = m->type;
			v.params = m->type_params;
		} else if (mime_header_parse_content_type(p->arena, h->unfolded,
							  &v, &ignore) < 0) {
			oom(p);
			return;
		}
		first = false;
		if (v.value == NULL || strncmp(v.value, "multipart/", 10) != 0)
			continue;
		for (q = v.params; q != NULL && taken < BOUNDARY_ALTERNATIVES;
		     q = q->next) {
			if (strcmp(q->name, "boundary") != 0 ||
			    q->value.p == m->boundary || q->value.len == 0 ||
			    q->value.len > p->lim.max_boundary ||
			    strcmp(q->value.p, m->boundary) == 0)
				continue;
			m->defects |= MIME_D_AMBIGUOUS_BOUNDARY;
			push_boundary(p, m, q->value.p, q->value.len);
			taken++;
		}
	}
}

static void
start_leaf(struct mime_parser *p, struct mime_part *part)
{
	part->kind = MIME_PART_LEAF;
	part->state = P_CONTENT;
	sink_start(p, &p->main, part);
	p->mode = M_BODY;
	p->uu_scan = !part->synthetic &&
		     mime_identity_encoding(part->encoding) &&
		     strcmp(part->type, "text/plain") == 0;
	p->dsn = part->parent != NULL && part->parent->state == P_BLOCKS
			 ? DSN_BODY
			 : DSN_NONE;
	p->scan = p->nb > 0 || p->uu_scan || p->dsn != DSN_NONE;
}

/* Everything from here on is content of the current part. */
static void
enter_trunc(struct mime_parser *p)
{
	p->mode = M_TRUNC;
	p->scan = false;
}

static struct mime_parser *parser_create(struct pst_arena *arena,
					 const struct mime_limits *lim,
					 struct mime_parser *above,
					 const struct mime_part *base);

/* An encoded message: a parser for its decoded content, whose root will
 * be the part's one child. */
static void
start_sub(struct mime_parser *p, struct mime_part *part)
{
	struct mime_parser *sub = parser_create(p->arena, &p->lim, p, part);

	if (sub == NULL) {
		oom(p);
		return;
	}
	part->kind = MIME_PART_MESSAGE;
	p->main.sub = sub;
	p->uu_scan = false;
	p->scan = p->nb > 0;
}

/* The encoded message ended: its parser's tree becomes the child. */
static void
sub_end(struct mime_parser *p, struct sink *s)
{
	struct mime_part *part = s->part, *root = NULL;
	const char *error;

	if (mime_parser_end(s->sub, &root, &error) < 0) {
		p->error = error;
	} else {
		root->parent = part;
		part->children = part->last_child = root;
		p->root->defects |= root->defects & MIME_D_LIMITS;
	}
	mime_parser_free(&s->sub);
}

/* The header block of p->cur ended; its body starts at off. */
static void
end_headers(struct mime_parser *p, uint64_t off)
{
	struct mime_part *part = p->cur, *child;
	bool multipart, message;

	if (p->have_field)
		store_field(p);
	part->body_start = part->body_end = off;
	part->preamble_end = part->epilogue_start = off;
	mime_part_interpret(p->arena, part, &p->error);
	if (p->error != NULL)
		return;
	p->bol = true;
	p->nheld = 0;
	if (p->force_leaf ||
	    (part->parent != NULL && part->parent->state == P_BLOCKS)) {
		/* A delivery-status block is a leaf whatever it says. */
		start_leaf(p, part);
		return;
	}
	multipart = strncmp(part->type, "multipart/", 10) == 0;
	message = strncmp(part->type, "message/", 8) == 0;
	if (multipart) {
		size_t blen = part->boundary ? strlen(part->boundary) : 0;

		if (part->boundary == NULL) {
			part->defects |= MIME_D_NO_BOUNDARY;
		} else if (blen == 0) {
			part->defects |= MIME_D_BAD_BOUNDARY;
		} else if (blen > p->lim.max_boundary) {
			add_defect(p, part, MIME_D_LIMIT_BOUNDARY);
			start_leaf(p, part);
			enter_trunc(p);
			return;
		} else {
			if (blen > 70)
				part->defects |= MIME_D_LONG_BOUNDARY;
			if (!mime_identity_encoding(part->encoding) ||
			    part->encoding == MIME_ENC_UNKNOWN)
				part->defects |= MIME_D_MULTIPART_CTE;
			part->kind = MIME_PART_MULTIPART;
			part->state = P_PREAMBLE;
			push_boundary(p, part, part->boundary, blen);
			push_alternatives(p, part);
			/* The preamble is decoded as if it were the
			 * content, in case no delimiter ever comes. */
			sink_start(p, &p->main, part);
			p->mode = M_BODY;
			p->scan = true;
			p->uu_scan = false;
			return;
		}
	}
	if (message) {
		if (!can_create(p, part->depth + 1)) {
			start_leaf(p, part);
			enter_trunc(p);
			return;
		}
		if (!mime_identity_encoding(part->encoding)) {
			/* Forbidden, but clients decode it: so do we, and
			 * parse what comes out. */
			part->defects |= MIME_D_ENCODED_MESSAGE;
			start_leaf(p, part);
			if (strcmp(part->type, "message/delivery-status") != 0)
				start_sub(p, part);
			return;
		} else {
			/* Python reads a delivery-status body as a series
			 * of header blocks, one part each (RFC 3464). */
			part->kind = MIME_PART_MESSAGE;
			part->state = strcmp(part->type,
					     "message/delivery-status") == 0
					      ? P_BLOCKS
					      : P_MESSAGE;
			child = new_part(p, part, off);
			if (child == NULL)
				return;
			p->cur = child;
			begin_block(p);
			return;
		}
	}
	start_leaf(p, part);
}

/* ---- header lines ---- */

static void
count_eol(struct mime_parser *p, const unsigned char *s, size_t n)
{
	if (n == 0 || s[n - 1] != '\n')
		return;
	if (n >= 2 && s[n - 2] == '\r')
		p->saw_crlf = true;
	else
		p->saw_lf = true;
}

/* Length of a line without its line break. */
static size_t
content_len(const unsigned char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\n') {
		n--;
		if (n > 0 && s[n - 1] == '\r')
			n--;
	}
	return n;
}

static int classify(struct mime_parser *p, const unsigned char *s, size_t n,
		    unsigned *m_r, bool *close_r);

/*
 * A header limit was passed at the line at off: the part's body starts
 * there (or where the field that overflowed started) and everything that
 * follows is its content (M_TRUNC).
 */
static void
header_limit(struct mime_parser *p, uint64_t bit, uint64_t off, bool cont)
{
	bool feed_field = cont && p->have_field;

	add_defect(p, p->cur, bit);
	if (feed_field)
		p->have_field = false; /* the cut field is content */
	p->force_leaf = true;
	end_headers(p, feed_field ? p->field_off : off);
	p->force_leaf = false;
	if (p->error != NULL)
		return;
	if (feed_field)
		content(p, (const unsigned char *)p->field.data, p->field.len);
	enter_trunc(p);
}

enum { LINE_CONSUMED, LINE_NOT_CONSUMED };

/* A delivery-status block ends at off (a blank line that is consumed as
 * the separator). */
static void
block_end(struct mime_parser *p, uint64_t off)
{
	struct mime_part *b = p->cur;

	if (p->error != NULL || b->parent == NULL)
		return;
	close_part(p, b, off);
	p->cur = b->parent;
	p->mode = M_BODY;
	p->scan = true;
	p->uu_scan = false;
	p->dsn = DSN_BETWEEN;
	p->bol = true;
	p->nheld = 0;
}

/* A line at off starts the next delivery-status block. */
static void
block_start(struct mime_parser *p, uint64_t off)
{
	struct mime_part *b;

	p->nheld = 0;
	if (!can_create(p, p->cur->depth + 1)) {
		enter_trunc(p);
		return;
	}
	b = new_part(p, p->cur, off);
	if (b == NULL)
		return;
	p->cur = b;
	begin_block(p);
}

/* One complete header line s[0..n) (its line break included when there
 * is one) at offset off. */
static int
header_line(struct mime_parser *p, const unsigned char *s, size_t n,
	    uint64_t off)
{
	struct mime_part *part = p->cur;
	size_t c = content_len(s, n), i, j;
	unsigned m;
	bool close, cont = c > 0 && is_blank(s[0]);

	/* First, so that a line cut by chunks is judged the same: the
	 * cut is noticed as soon as the line passes the limit. */
	if (n > p->lim.max_header_line) {
		header_limit(p, MIME_D_LIMIT_HEADER_LINE, off, cont);
		return LINE_NOT_CONSUMED;
	}
	count_eol(p, s, n);
	if (c > 0 && memchr(s, '\r', c) != NULL)
		part->defects |= MIME_D_BARE_CR;
	if (c == 0 && part->parent != NULL && part->parent->state == P_BLOCKS) {
		/* The end of a delivery-status block: no body. */
		end_headers(p, off);
		block_end(p, off);
		return LINE_CONSUMED;
	}
	if (c == 0) {
		end_headers(p, off + n);
		return LINE_CONSUMED;
	}
	if (p->nb > 0 && c >= 2 && s[0] == '-' && s[1] == '-' &&
	    classify(p, s, n, &m, &close) == L_DELIM) {
		/* A part with headers and no body. */
		end_headers(p, off);
		return LINE_NOT_CONSUMED;
	}
	p->block_size += n;
	if (cont && p->have_field &&
	    p->field.len + n > p->lim.max_header_line) {
		header_limit(p, MIME_D_LIMIT_HEADER_LINE, off, cont);
		return LINE_NOT_CONSUMED;
	}
	if (p->block_size > p->lim.max_header_size ||
	    *p->htotal + p->block_size > p->lim.max_header_total) {
		header_limit(p, MIME_D_LIMIT_HEADER_SIZE, off, cont);
		return LINE_NOT_CONSUMED;
	}
	if (cont) {
		if (!p->have_field) {
			/* Python drops such a line too. */
			part->defects |= MIME_D_HEADER_SYNTAX;
		} else if (pst_buf_append(&p->field, s, n) < 0) {
			oom(p);
		}
		p->first_line = false;
		return LINE_CONSUMED;
	}
	if (p->have_field)
		store_field(p);
	if (p->first_line && c >= 5 && memcmp(s, "From ", 5) == 0) {
		p->first_line = false; /* mbox envelope line */
		return LINE_CONSUMED;
	}
	p->first_line = false;
	for (i = 0; i < c && s[i] > 32 && s[i] < 127 && s[i] != ':'; i++)
		;
	for (j = i; j < c && is_blank(s[j]); j++)
		;
	if (j < c && s[j] == ':') {
		if (i == 0) {
			part->defects |= MIME_D_HEADER_SYNTAX; /* ": x" */
			return LINE_CONSUMED;
		}
		if (j > i)
			part->defects |= MIME_D_HEADER_SPACE_COLON;
		pst_buf_reset(&p->field);
		if (pst_buf_append(&p->field, s, n) < 0)
			oom(p);
		p->have_field = true;
		p->field_name_len = i;
		p->field_off = off;
		return LINE_CONSUMED;
	}
	/* Not a header field: the body starts with this line. */
	part->defects |= MIME_D_HEADER_SYNTAX;
	end_headers(p, off);
	return LINE_NOT_CONSUMED;
}

static size_t
headers_step(struct mime_parser *p, const unsigned char *d, size_t pos,
	     size_t len)
{
	const unsigned char *e;
	size_t n;

	if (p->line_pending) {
		if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\n') {
			/* complete already (it started a DSN block) */
			if (header_line(p, (const unsigned char *)p->line.data,
					p->line.len,
					p->line_off) == LINE_CONSUMED) {
				pst_buf_reset(&p->line);
				p->line_pending = false;
			}
			return pos;
		}
		e = memchr(d + pos, '\n', len - pos);
		n = e ? (size_t)(e - (d + pos)) + 1 : len - pos;
		if (p->line.len + n > p->lim.max_header_line) {
			header_limit(p, MIME_D_LIMIT_HEADER_LINE, p->line_off,
				     is_blank((unsigned char)p->line.data[0]));
			return pos;
		}
		if (pst_buf_append(&p->line, d + pos, n) < 0) {
			oom(p);
			return len;
		}
		if (e == NULL)
			return len;
		if (header_line(p, (const unsigned char *)p->line.data,
				p->line.len, p->line_off) == LINE_CONSUMED) {
			pst_buf_reset(&p->line);
			p->line_pending = false;
		}
		return pos + n;
	}
	e = memchr(d + pos, '\n', len - pos);
	if (e == NULL) {
		n = len - pos;
		if (n > p->lim.max_header_line) {
			header_limit(p, MIME_D_LIMIT_HEADER_LINE, p->base + pos,
				     is_blank(d[pos]));
			return pos;
		}
		pst_buf_reset(&p->line);
		if (pst_buf_append(&p->line, d + pos, n) < 0)
			oom(p);
		p->line_pending = true;
		p->line_off = p->base + pos;
		return len;
	}
	n = (size_t)(e - (d + pos)) + 1;
	if (header_line(p, d + pos, n, p->base + pos) == LINE_CONSUMED)
		return pos + n;
	return pos;
}

/* ---- body lines ---- */

/* 0: no; 1: delimiter; 2: close delimiter; 3: "--boundary" and junk. */
static int
match_boundary(const unsigned char *s, size_t c, const char *b, size_t blen)
{
	size_t j = 2 + blen;
	bool close = false;

	if (c < 2 + blen || memcmp(s + 2, b, blen) != 0)
		return 0;
	if (c - j >= 2 && s[j] == '-' && s[j + 1] == '-') {
		close = true;
		j += 2;
	}
	while (j < c && is_blank(s[j]))
		j++;
	if (j < c)
		return 3;
	return close ? 2 : 1;
}

/* "begin 644 name": where the name is. */
static bool
uu_begin_line(const unsigned char *s, size_t c, size_t *name_r,
	      size_t *name_len_r)
{
	size_t i = 5, d0, e = c;

	if (c < 6 || memcmp(s, "begin ", 6) != 0)
		return false;
	while (i < c && s[i] == ' ')
		i++;
	d0 = i;
	while (i < c && s[i] >= '0' && s[i] <= '7')
		i++;
	if (i - d0 < 3 || i - d0 > 4 || i >= c || s[i] != ' ')
		return false;
	while (i < c && s[i] == ' ')
		i++;
	while (e > i && is_blank(s[e - 1]))
		e--;
	if (e == i)
		return false;
	*name_r = i;
	*name_len_r = e - i;
	return true;
}

static bool
uu_end_line(const unsigned char *s, size_t c)
{
	if (c < 3 || memcmp(s, "end", 3) != 0)
		return false;
	for (size_t j = 3; j < c; j++)
		if (!is_blank(s[j]))
			return false;
	return true;
}

static inline bool
maybe_special(const struct mime_parser *p, unsigned char c)
{
	return (c == '-' && p->nb > 0) || (c == 'e' && p->uu.part != NULL) ||
	       (c == 'b' && p->uu_scan && p->uu.part == NULL) ||
	       (p->dsn == DSN_BODY && (c == '\r' || c == '\n')) ||
	       p->dsn == DSN_BETWEEN;
}

/*
 * A line too long to be special: still flag "--boundary junk" when the
 * first max_header_line bytes show it, so that a whole line and a line
 * cut by chunks (seen only that far) are judged alike.
 */
static void
prefix_window(struct mime_parser *p, const unsigned char *s, size_t n)
{
	size_t w = n < p->lim.max_header_line ? n : p->lim.max_header_line;

	if (w < 2 || s[0] != '-' || s[1] != '-')
		return;
	for (unsigned k = 0; k < p->nb; k++)
		if (match_boundary(s, w, p->bstack[k].b, p->bstack[k].len) ==
		    3) {
			p->cur->defects |= MIME_D_BOUNDARY_PREFIX;
			return;
		}
}

/* What a complete line s[0..n) is.  Lines longer than max_header_line are
 * never special, so that a cut line is judged the same. */
static int
classify(struct mime_parser *p, const unsigned char *s, size_t n, unsigned *m_r,
	 bool *close_r)
{
	size_t c = content_len(s, n), nl, nn;
	bool prefix = false;
	int found = -1;

	if (n > p->lim.max_header_line) {
		/* judged like a cut line (pending_line) */
		prefix_window(p, s, n);
		return L_NORMAL;
	}
	if (p->dsn == DSN_BODY && c == 0 && n > 0)
		return L_BLANK;
	if (c == 0)
		return p->dsn == DSN_BETWEEN ? L_BLOCK : L_NORMAL;
	if (s[0] == '-' && p->nb > 0) {
		if (c < 2 || s[1] != '-')
			return p->dsn == DSN_BETWEEN ? L_BLOCK : L_NORMAL;
		for (unsigned k = 0; k < p->nb; k++) {
			int r = match_boundary(s, c, p->bstack[k].b,
					       p->bstack[k].len);

			if (r == 3) {
				prefix = true;
			} else if (r != 0 && found < 0) {
				/* Outermost first, as clients check. */
				found = (int)k;
				*close_r = r == 2;
			} else if (r != 0 &&
				   p->bstack[k].part != p->bstack[found].part) {
				p->bstack[found].part->defects |=
					MIME_D_AMBIGUOUS_BOUNDARY;
			}
		}
		if (found >= 0) {
			count_eol(p, s, n);
			*m_r = (unsigned)found;
			return L_DELIM;
		}
		if (prefix)
			p->cur->defects |= MIME_D_BOUNDARY_PREFIX;
		return p->dsn == DSN_BETWEEN ? L_BLOCK : L_NORMAL;
	}
	if (p->dsn == DSN_BETWEEN)
		return L_BLOCK;
	if (s[0] == 'e' && p->uu.part != NULL && uu_end_line(s, c))
		return L_UU_END;
	if (s[0] == 'b' && p->uu_scan && p->uu.part == NULL &&
	    uu_begin_line(s, c, &nl, &nn))
		return L_UU_BEGIN;
	return L_NORMAL;
}

/*
 * Could the start s[0..n) of a line cut by the chunk's end be special?
 * Decides early only where the whole line would be judged the same.
 */
static bool
possible_special(struct mime_parser *p, const unsigned char *s, size_t n)
{
	bool possible = false, prefix = false;

	if (n > p->lim.max_header_line) {
		prefix_window(p, s, n);
		return false;
	}
	if (s[0] == '\r' || p->dsn == DSN_BETWEEN)
		return true; /* a blank line, or decided by its start */
	if (s[0] == 'e')
		return p->uu.part != NULL &&
		       memcmp(s, "end", n < 3 ? n : 3) == 0;
	if (s[0] == 'b')
		return p->uu_scan && p->uu.part == NULL &&
		       memcmp(s, "begin ", n < 6 ? n : 6) == 0;
	if (n == 1)
		return true;
	if (s[1] != '-')
		return false;
	for (unsigned k = 0; k < p->nb; k++) {
		size_t blen = p->bstack[k].len, t = n - 2, j = 0, rn;
		const unsigned char *r;

		if (memcmp(s + 2, p->bstack[k].b, t < blen ? t : blen) != 0)
			continue;
		if (t <= blen) {
			possible = true;
			continue;
		}
		r = s + 2 + blen;
		rn = t - blen;
		if (r[0] == '-') {
			if (rn == 1) {
				possible = true;
				continue;
			}
			if (r[1] == '-')
				j = 2;
		}
		while (j < rn &&
		       (is_blank(r[j]) || (r[j] == '\r' && j == rn - 1)))
			j++;
		if (j == rn)
			possible = true;
		else
			prefix = true;
	}
	if (!possible && prefix)
		p->cur->defects |= MIME_D_BOUNDARY_PREFIX;
	return possible;
}

static void
start_uu(struct mime_parser *p, const unsigned char *s, size_t n, uint64_t off)
{
	struct mime_part *parent = p->cur, *u;
	size_t c = content_len(s, n), at, len;
	struct pst_buf name;
	struct pst_str t;

	if (!uu_begin_line(s, c, &at, &len))
		return;
	parent->defects |= MIME_D_UUENCODE;
	if (!can_create(p, parent->depth + 1)) {
		p->uu_scan = false;
		return;
	}
	u = new_part(p, parent, off);
	if (u == NULL)
		return;
	u->synthetic = true;
	u->kind = MIME_PART_LEAF;
	u->state = P_CONTENT;
	u->type = "application/octet-stream";
	u->subtype = u->type + 12;
	u->encoding = MIME_ENC_UUENCODE;
	u->encoding_name = "x-uuencode";
	pst_buf_init(&name, 0);
	if (mime_header_append_utf8(&name, (const char *)s + at, len,
				    &u->defects) < 0 ||
	    (t.p = pst_arena_strndup(p->arena, pst_buf_view(&name).p,
				     name.len)) == NULL) {
		oom(p);
	} else {
		t.len = name.len;
		mime_part_add_filename(p->arena, &p->error, u, t,
				       MIME_FN_UUENCODE, false);
		u->filename = pst_str_trim(t);
	}
	pst_buf_free(&name);
	sink_start(p, &p->uu, u);
}

static void
finish_uu(struct mime_parser *p, uint64_t end)
{
	struct mime_part *u = p->uu.part;

	if (u == NULL)
		return;
	u->body_end = max_u64(end, u->body_start);
	u->state = P_DONE;
	sink_finish(p, &p->uu);
}

/* A delimiter of bstack[m]; the content before it ends at cend, the
 * line ends at after. */
static void
delimiter(struct mime_parser *p, unsigned m, bool close, uint64_t cend,
	  uint64_t after)
{
	struct mime_part *mp = p->bstack[m].part, *child;

	if (mp->state == P_EPILOGUE) {
		/* A delimiter after the close: Python and Thunderbird see
		 * epilogue, parsers that keep looking see a part, so we see
		 * it too, and say so. */
		mp->defects |= MIME_D_PART_AFTER_CLOSE;
		if (close)
			return;
	}
	while (p->cur != mp && p->cur != NULL) {
		struct mime_part *q = p->cur;

		close_part(p, q, cend);
		p->cur = q->parent;
	}
	p->nheld = 0;
	p->bol = true;
	if (mp->state == P_PREAMBLE) {
		if (close) {
			/* "--b--" before any "--b": Python's reading, the
			 * preamble is the content. */
			leafify(p, mp, cend);
		} else {
			if (p->main.part == mp)
				p->main.part = NULL;
			mp->preamble_end = max_u64(cend, mp->body_start);
		}
	}
	if (close) {
		mp->state = P_EPILOGUE;
		mp->epilogue_start = after;
		/* The boundary stays open in the epilogue (see above), but
		 * not for a multipart read as one leaf. */
		if (mp->kind == MIME_PART_LEAF)
			pop_boundary(p, mp);
		p->mode = M_BODY;
		p->dsn = DSN_NONE;
		p->scan = p->nb > 0;
		p->uu_scan = false;
		return;
	}
	mp->state = P_PARTS;
	child = new_part(p, mp, after);
	if (child == NULL)
		return;
	p->cur = child;
	begin_block(p);
}

/* The complete line in p->line (its line break, if any, at the end). */
static void
buffered_line(struct mime_parser *p)
{
	const unsigned char *s =
		(const unsigned char *)pst_buf_view(&p->line).p;
	size_t n = p->line.len, c = content_len(s, n);
	uint64_t off = p->line_off;
	unsigned m = 0;
	bool close = false;
	int v = classify(p, s, n, &m, &close);

	if (v == L_BLOCK) {
		/* The line stays pending: the new block's first line. */
		block_start(p, off);
		return;
	}
	p->line_pending = false;
	if (v == L_BLANK) {
		flush_held(p);
		block_end(p, off);
		pst_buf_reset(&p->line);
		return;
	}
	if (v == L_DELIM && !close &&
	    !can_create(p, p->bstack[m].part->depth + 1)) {
		flush_held(p);
		content(p, s, n);
		enter_trunc(p);
		pst_buf_reset(&p->line);
		return;
	}
	if (v == L_DELIM) {
		uint64_t cend = off - p->nheld;

		p->nheld = 0;
		delimiter(p, m, close, cend, off + n);
		pst_buf_reset(&p->line);
		return;
	}
	flush_held(p);
	if (v == L_UU_BEGIN)
		start_uu(p, s, n, off);
	content(p, s, c);
	if (v == L_UU_END)
		finish_uu(p, off + c);
	memcpy(p->held, s + c, n - c);
	p->nheld = (unsigned)(n - c);
	p->bol = n > c;
	pst_buf_reset(&p->line);
}

/* Continue a line that an earlier chunk cut, kept because it may be
 * special. */
static size_t
pending_line(struct mime_parser *p, const unsigned char *d, size_t pos,
	     size_t len)
{
	const unsigned char *e = NULL;
	size_t n = 0;

	if (p->line.len == 0 || p->line.data[p->line.len - 1] != '\n') {
		e = memchr(d + pos, '\n', len - pos);
		n = e ? (size_t)(e - (d + pos)) + 1 : len - pos;
		if (p->line.len + n > p->lim.max_header_line) {
			/* Too long to be special: content after all. */
			size_t w = p->lim.max_header_line - p->line.len;

			if (pst_buf_append(&p->line, d + pos, w) < 0) {
				oom(p);
				return len;
			}
			pos += w;
			prefix_window(p, (const unsigned char *)p->line.data,
				      p->line.len);
			flush_held(p);
			p->line_pending = false;
			p->bol = false;
			if (p->line.data[p->line.len - 1] == '\r') {
				/* Maybe the CR of a CRLF: held back as at the
				 * end of a chunk (body_step settles it). */
				p->line.len--;
				p->held[0] = '\r';
				p->nheld = 1;
			}
			content(p, (const unsigned char *)p->line.data,
				p->line.len);
			pst_buf_reset(&p->line);
			return pos;
		}
		if (pst_buf_append(&p->line, d + pos, n) < 0) {
			oom(p);
			return len;
		}
		if (e == NULL)
			return len;
	}
	buffered_line(p);
	return pos + n;
}

/* Bytes of a line break that ends just before d[i] (in this chunk). */
static inline size_t
eol_before(const unsigned char *d, size_t from, size_t i)
{
	return i >= from + 2 && d[i - 2] == '\r' ? 2 : 1;
}

static size_t
body_step(struct mime_parser *p, const unsigned char *d, size_t pos, size_t len)
{
	size_t i = pos, run = pos, k = 0;
	bool dash_only = p->nb > 0 && !p->uu_scan && p->uu.part == NULL &&
			 p->dsn == DSN_NONE;
	const unsigned char *e;

	if (p->line_pending)
		return pending_line(p, d, pos, len);
	if (!p->scan) {
		flush_held(p);
		content(p, d + pos, len - pos);
		return len;
	}
	if (p->nheld > 0 && !p->bol) {
		/* A CR held at the end of the last chunk. */
		if (d[pos] == '\n') {
			p->held[1] = '\n';
			p->nheld = 2;
			p->bol = true;
			i = run = pos + 1;
		} else {
			flush_held(p);
		}
	}
	for (;;) {
		if (p->bol) {
			unsigned m = 0;
			bool close = false;
			size_t n;
			int v;

			if (i == len)
				break;
			if (!maybe_special(p, d[i]))
				goto next_line;
			e = memchr(d + i, '\n', len - i);
			if (e == NULL) {
				if (!possible_special(p, d + i, len - i))
					goto next_line;
				/* Keep the cut line, hold the break before. */
				if (k > 0) {
					flush_held(p);
					content(p, d + run, i - k - run);
					memcpy(p->held, d + i - k, k);
					p->nheld = (unsigned)k;
				}
				pst_buf_reset(&p->line);
				if (pst_buf_append(&p->line, d + i, len - i) <
				    0)
					oom(p);
				p->line_pending = true;
				p->line_off = p->base + i;
				return len;
			}
			n = (size_t)(e - (d + i)) + 1;
			v = classify(p, d + i, n, &m, &close);
			if (v == L_DELIM) {
				uint64_t cend =
					p->base + i - (k ? k : p->nheld);

				if (!close &&
				    !can_create(p,
						p->bstack[m].part->depth + 1)) {
					flush_held(p);
					content(p, d + run, i - run);
					enter_trunc(p);
					return i;
				}
				if (k > 0) {
					flush_held(p);
					content(p, d + run, i - k - run);
				}
				p->nheld = 0;
				delimiter(p, m, close, cend, p->base + i + n);
				return i + n;
			}
			if (v == L_BLANK) {
				flush_held(p);
				content(p, d + run, i - run);
				block_end(p, p->base + i);
				return i + n;
			}
			if (v == L_BLOCK) {
				flush_held(p);
				block_start(p, p->base + i);
				return i;
			}
			if (v == L_UU_BEGIN) {
				flush_held(p);
				content(p, d + run, i - run);
				run = i;
				start_uu(p, d + i, n, p->base + i);
				dash_only = false;
			} else if (v == L_UU_END) {
				size_t c = content_len(d + i, n);

				flush_held(p);
				content(p, d + run, i + c - run);
				finish_uu(p, p->base + i + c);
				run = i + c;
				k = n - c;
				i += n;
				continue;
			}
		}
	next_line:
		if (dash_only) {
			/* Only a line that starts with '-' can matter. */
			size_t j = p->bol ? i + 1 : i;
			const unsigned char *q = NULL;

			while (j < len) {
				q = memchr(d + j, '-', len - j);
				if (q == NULL || (q > d && q[-1] == '\n'))
					break;
				j = (size_t)(q - d) + 1;
				q = NULL;
			}
			if (q != NULL) {
				i = (size_t)(q - d);
				k = eol_before(d, pos, i);
				p->bol = true;
				continue;
			}
			i = len;
			p->bol = d[len - 1] == '\n';
			if (p->bol)
				k = eol_before(d, pos, len);
			break;
		}
		e = memchr(d + i, '\n', len - i);
		if (e == NULL) {
			i = len;
			p->bol = false;
			break;
		}
		k = e > d + i && e[-1] == '\r' ? 2 : 1;
		i = (size_t)(e - d) + 1;
		p->bol = true;
	}
	/* End of the chunk: hold back a final line break or CR. */
	if (p->bol) {
		if (k > 0) {
			flush_held(p);
			content(p, d + run, len - k - run);
			memcpy(p->held, d + len - k, k);
			p->nheld = (unsigned)k;
		}
	} else {
		flush_held(p);
		if (len > run && d[len - 1] == '\r') {
			content(p, d + run, len - 1 - run);
			p->held[0] = '\r';
			p->nheld = 1;
		} else {
			content(p, d + run, len - run);
		}
	}
	return len;
}

static size_t
trunc_step(struct mime_parser *p, const unsigned char *d, size_t pos,
	   size_t len)
{
	flush_held(p);
	if (p->line_pending) {
		content(p, (const unsigned char *)p->line.data, p->line.len);
		pst_buf_reset(&p->line);
		p->line_pending = false;
	}
	content(p, d + pos, len - pos);
	return len;
}

/* ---- the interface ---- */

static void
parser_release(void *arg)
{
	struct mime_parser *p = arg;

	mime_parser_free(&p->main.sub);
	pst_buf_free(&p->line);
	pst_buf_free(&p->field);
	EVP_MD_CTX_free(p->main.md);
	EVP_MD_CTX_free(p->uu.md);
	p->main.md = p->uu.md = NULL;
}

static struct mime_parser *
parser_create(struct pst_arena *arena, const struct mime_limits *limits,
	      struct mime_parser *above, const struct mime_part *base)
{
	struct mime_parser *p = pst_arena_zalloc(arena, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->arena = arena;
	if (limits != NULL)
		p->lim = *limits;
	else
		mime_limits_default(&p->lim);
	if (p->lim.max_header_line < 80)
		p->lim.max_header_line = 80;
	if (p->lim.max_boundary < 1)
		p->lim.max_boundary = 1;
	p->count = above ? above->count : &p->nparts;
	p->htotal = above ? above->htotal : &p->header_total;
	p->depth_base = base ? base->depth + 1 : 0;
	p->offset_base = base;
	p->bcap = (p->lim.max_depth + 2) * BOUNDARY_ALTERNATIVES;
	p->bstack = pst_arena_calloc(arena, p->bcap, sizeof(*p->bstack));
	p->out = pst_arena_alloc(arena, OUT_SLICE + 8);
	if (p->bstack == NULL || p->out == NULL)
		return NULL;
	pst_buf_init(&p->line, 0);
	pst_buf_init(&p->field, 0);
	p->sha256 = sha256_md();
	p->main.md = EVP_MD_CTX_new();
	p->uu.md = EVP_MD_CTX_new();
	if (p->main.md == NULL || p->uu.md == NULL ||
	    pst_arena_cleanup_add(arena, parser_release, p) < 0) {
		parser_release(p);
		return NULL;
	}
	p->root = new_part(p, NULL, 0);
	if (p->root == NULL)
		return NULL;
	p->cur = p->root;
	begin_block(p);
	return p;
}

struct mime_parser *
mime_parser_new(struct pst_arena *arena, const struct mime_limits *limits)
{
	return parser_create(arena, limits, NULL, NULL);
}

void
mime_parser_free(struct mime_parser **p_p)
{
	if (p_p == NULL || *p_p == NULL)
		return;
	parser_release(*p_p);
	*p_p = NULL;
}

int
mime_parser_feed(struct mime_parser *p, const void *data, size_t len,
		 const char **error_r)
{
	const unsigned char *d = data;
	size_t pos = 0;

	if (p->error == NULL && p->mode == M_ENDED)
		p->error = "data after the end of the message";
	p->base = p->total;
	while (pos < len && p->error == NULL) {
		switch (p->mode) {
		case M_HEADERS:
			pos = headers_step(p, d, pos, len);
			break;
		case M_BODY:
			pos = body_step(p, d, pos, len);
			break;
		default:
			pos = trunc_step(p, d, pos, len);
			break;
		}
	}
	p->total += len;
	if (p->error != NULL) {
		*error_r = p->error;
		return -1;
	}
	return 0;
}

/* Is the current part inside a multipart that is between delimiters? */
static bool
inside_open_multipart(const struct mime_parser *p)
{
	for (const struct mime_part *q = p->cur; q != NULL; q = q->parent)
		if (q->state == P_PARTS)
			return true;
	return false;
}

int
mime_parser_end(struct mime_parser *p, struct mime_part **root_r,
		const char **error_r)
{
	uint64_t end = p->total;

	if (p->error == NULL && p->mode == M_ENDED)
		p->error = "the message was ended twice";
	p->base = p->total;
	/* Settle a cut last line and header blocks the input ended in. */
	while (p->error == NULL) {
		if (p->mode == M_HEADERS && p->line_pending) {
			if (header_line(p, (const unsigned char *)p->line.data,
					p->line.len,
					p->line_off) == LINE_CONSUMED) {
				pst_buf_reset(&p->line);
				p->line_pending = false;
			}
		} else if (p->mode == M_HEADERS) {
			end_headers(p, p->total);
		} else if (p->mode == M_BODY && p->line_pending) {
			buffered_line(p);
		} else if (p->mode == M_TRUNC && p->line_pending) {
			trunc_step(p, (const unsigned char *)"", 0, 0);
		} else {
			break;
		}
	}
	if (p->error != NULL) {
		*error_r = p->error;
		return -1;
	}
	if (p->mode == M_BODY && p->bol && p->nheld > 0 &&
	    inside_open_multipart(p)) {
		end -= p->nheld; /* as if a delimiter followed */
		p->nheld = 0;
	}
	flush_held(p);
	while (p->cur != NULL) {
		struct mime_part *q = p->cur;

		close_part(p, q, end);
		p->cur = q->parent;
	}
	if (p->saw_crlf && p->saw_lf)
		p->root->defects |= MIME_D_MIXED_EOL;
	p->mode = M_ENDED;
	if (p->error != NULL) {
		*error_r = p->error;
		return -1;
	}
	*root_r = p->root;
	return 0;
}
