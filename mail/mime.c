/*
 * mime.c - the streaming MIME parser (see mime.h): header blocks, sinks
 * and the part tree.  Body lines (boundaries, uuencode, delivery-status
 * blocks) are scanned in mime_body.c; what a part's Content-* fields
 * mean, tree walks and reading content are in mime_part.c.
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

/* Most boundary values taken for one multipart. */
#define BOUNDARY_ALTERNATIVES 4

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

void
mime_oom(struct mime_parser *p)
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

void
mime_sink_start(struct mime_parser *p, struct sink *s, struct mime_part *part)
{
	s->part = part;
	s->identity = mime_identity_encoding(part->encoding);
	s->size = 0;
	decoder_init(&s->dec, part->encoding);
	if (EVP_DigestInit_ex(s->md, p->sha256, NULL) != 1)
		mime_oom(p);
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
			mime_oom(p);
		s->size += n;
		return;
	}
	while (n > 0) {
		size_t k = n < OUT_SLICE ? n : OUT_SLICE;
		size_t got = decoder_feed(&s->dec, d, k, p->out);

		if (got > 0 && EVP_DigestUpdate(s->md, p->out, got) != 1)
			mime_oom(p);
		if (s->sub != NULL)
			sub_feed(p, s, p->out, got);
		d += k;
		n -= k;
	}
}

void
mime_sink_finish(struct mime_parser *p, struct sink *s)
{
	struct mime_part *part = s->part;
	unsigned int mdlen = 0;

	if (part == NULL)
		return;
	if (!s->identity) {
		size_t got = decoder_finish(&s->dec, p->out);

		if (got > 0 && EVP_DigestUpdate(s->md, p->out, got) != 1)
			mime_oom(p);
		s->size = s->dec.out_total;
		part->defects |= mime_defects_from_decoder(s->dec.defects);
		if (s->sub != NULL) {
			sub_feed(p, s, p->out, got);
			sub_end(p, s);
		}
	}
	part->size = s->size;
	if (EVP_DigestFinal_ex(s->md, part->sha256, &mdlen) != 1)
		mime_oom(p);
	s->part = NULL;
}

/* Content bytes: to the current leaf and to an open uuencoded file. */
void
mime_content(struct mime_parser *p, const unsigned char *d, size_t n)
{
	if (n == 0)
		return;
	if (p->main.part != NULL)
		sink_feed(p, &p->main, d, n);
	if (p->uu.part != NULL)
		sink_feed(p, &p->uu, d, n);
}

void
mime_flush_held(struct mime_parser *p)
{
	if (p->nheld > 0)
		mime_content(p, p->held, p->nheld);
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

struct mime_part *
mime_new_part(struct mime_parser *p, struct mime_part *parent, uint64_t off)
{
	struct mime_part *part = pst_arena_zalloc(p->arena, sizeof(*part));

	if (part == NULL) {
		mime_oom(p);
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
bool
mime_can_create(struct mime_parser *p, unsigned depth)
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

void
mime_begin_block(struct mime_parser *p)
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

/* A multipart that never saw a delimiter: its body is one leaf, as
 * Python reads it (its speculative sink has the content). */
void
mime_leafify(struct mime_parser *p, struct mime_part *m, uint64_t end)
{
	m->kind = MIME_PART_LEAF;
	if (p->mode != M_TRUNC)
		m->defects |= MIME_D_NO_START_BOUNDARY;
	m->body_end = m->preamble_end = m->epilogue_start =
		mime_max_u64(end, m->body_start);
	if (p->main.part == m)
		mime_sink_finish(p, &p->main);
}

void
mime_pop_boundary(struct mime_parser *p, struct mime_part *m)
{
	for (unsigned k = 0; k < p->nb; k++)
		if (p->bstack[k].part == m) {
			p->nb = k;
			return;
		}
}

/* Close part q: its content ends at end. */
void
mime_close_part(struct mime_parser *p, struct mime_part *q, uint64_t end)
{
	end = mime_max_u64(end, q->body_start);
	if (p->uu.part != NULL && p->uu.part->parent == q) {
		p->uu.part->body_end =
			mime_max_u64(end, p->uu.part->body_start);
		mime_sink_finish(p, &p->uu);
	}
	switch (q->state) {
	case P_CONTENT:
		q->body_end = end;
		if (p->main.part == q)
			mime_sink_finish(p, &p->main);
		break;
	case P_PREAMBLE:
		mime_leafify(p, q, end);
		mime_pop_boundary(p, q);
		break;
	case P_PARTS:
		/* (past a limit nobody looked for it) */
		if (p->mode != M_TRUNC)
			q->defects |= MIME_D_NO_FINAL_BOUNDARY;
		q->body_end = q->epilogue_start = end;
		mime_pop_boundary(p, q);
		break;
	case P_EPILOGUE:
		mime_pop_boundary(p, q);
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
		mime_oom(p);
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
		mime_oom(p);
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
			mime_oom(p);
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
	mime_sink_start(p, &p->main, part);
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
void
mime_enter_trunc(struct mime_parser *p)
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
		mime_oom(p);
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
			mime_enter_trunc(p);
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
			mime_sink_start(p, &p->main, part);
			p->mode = M_BODY;
			p->scan = true;
			p->uu_scan = false;
			return;
		}
	}
	if (message) {
		if (!mime_can_create(p, part->depth + 1)) {
			start_leaf(p, part);
			mime_enter_trunc(p);
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
			child = mime_new_part(p, part, off);
			if (child == NULL)
				return;
			p->cur = child;
			mime_begin_block(p);
			return;
		}
	}
	start_leaf(p, part);
}

/* ---- header lines ---- */

void
mime_count_eol(struct mime_parser *p, const unsigned char *s, size_t n)
{
	if (n == 0 || s[n - 1] != '\n')
		return;
	if (n >= 2 && s[n - 2] == '\r')
		p->saw_crlf = true;
	else
		p->saw_lf = true;
}

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
		mime_content(p, (const unsigned char *)p->field.data,
			     p->field.len);
	mime_enter_trunc(p);
}

enum { LINE_CONSUMED, LINE_NOT_CONSUMED };

/* A delivery-status block ends at off (a blank line that is consumed as
 * the separator). */
void
mime_block_end(struct mime_parser *p, uint64_t off)
{
	struct mime_part *b = p->cur;

	if (p->error != NULL || b->parent == NULL)
		return;
	mime_close_part(p, b, off);
	p->cur = b->parent;
	p->mode = M_BODY;
	p->scan = true;
	p->uu_scan = false;
	p->dsn = DSN_BETWEEN;
	p->bol = true;
	p->nheld = 0;
}

/* A line at off starts the next delivery-status block. */
void
mime_block_start(struct mime_parser *p, uint64_t off)
{
	struct mime_part *b;

	p->nheld = 0;
	if (!mime_can_create(p, p->cur->depth + 1)) {
		mime_enter_trunc(p);
		return;
	}
	b = mime_new_part(p, p->cur, off);
	if (b == NULL)
		return;
	p->cur = b;
	mime_begin_block(p);
}

/* One complete header line s[0..n) (its line break included when there
 * is one) at offset off. */
static int
header_line(struct mime_parser *p, const unsigned char *s, size_t n,
	    uint64_t off)
{
	struct mime_part *part = p->cur;
	size_t c = mime_content_len(s, n), i, j;
	unsigned m;
	bool close, cont = c > 0 && mime_is_blank(s[0]);

	/* First, so that a line cut by chunks is judged the same: the
	 * cut is noticed as soon as the line passes the limit. */
	if (n > p->lim.max_header_line) {
		header_limit(p, MIME_D_LIMIT_HEADER_LINE, off, cont);
		return LINE_NOT_CONSUMED;
	}
	mime_count_eol(p, s, n);
	if (c > 0 && memchr(s, '\r', c) != NULL)
		part->defects |= MIME_D_BARE_CR;
	if (c == 0 && part->parent != NULL && part->parent->state == P_BLOCKS) {
		/* The end of a delivery-status block: no body. */
		end_headers(p, off);
		mime_block_end(p, off);
		return LINE_CONSUMED;
	}
	if (c == 0) {
		end_headers(p, off + n);
		return LINE_CONSUMED;
	}
	if (p->nb > 0 && c >= 2 && s[0] == '-' && s[1] == '-' &&
	    mime_classify(p, s, n, &m, &close) == L_DELIM) {
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
			mime_oom(p);
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
	for (j = i; j < c && mime_is_blank(s[j]); j++)
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
			mime_oom(p);
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
			header_limit(
				p, MIME_D_LIMIT_HEADER_LINE, p->line_off,
				mime_is_blank((unsigned char)p->line.data[0]));
			return pos;
		}
		if (pst_buf_append(&p->line, d + pos, n) < 0) {
			mime_oom(p);
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
				     mime_is_blank(d[pos]));
			return pos;
		}
		pst_buf_reset(&p->line);
		if (pst_buf_append(&p->line, d + pos, n) < 0)
			mime_oom(p);
		p->line_pending = true;
		p->line_off = p->base + pos;
		return len;
	}
	n = (size_t)(e - (d + pos)) + 1;
	if (header_line(p, d + pos, n, p->base + pos) == LINE_CONSUMED)
		return pos + n;
	return pos;
}

static size_t
trunc_step(struct mime_parser *p, const unsigned char *d, size_t pos,
	   size_t len)
{
	mime_flush_held(p);
	if (p->line_pending) {
		mime_content(p, (const unsigned char *)p->line.data,
			     p->line.len);
		pst_buf_reset(&p->line);
		p->line_pending = false;
	}
	mime_content(p, d + pos, len - pos);
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
	p->root = mime_new_part(p, NULL, 0);
	if (p->root == NULL)
		return NULL;
	p->cur = p->root;
	mime_begin_block(p);
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
			pos = mime_body_step(p, d, pos, len);
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
			mime_buffered_line(p);
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
	mime_flush_held(p);
	while (p->cur != NULL) {
		struct mime_part *q = p->cur;

		mime_close_part(p, q, end);
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
