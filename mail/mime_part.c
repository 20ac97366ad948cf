/*
 * mime_part.c - what the parser's tree means and how it is read: the
 * Content-* fields of a part's header block interpreted (type,
 * parameters, transfer encoding, disposition, charset, boundary), the
 * filename candidates and the one shown, defect names, walking the tree,
 * and struct mime_reader, which decodes a part's content from the spool.
 *
 * Memory: what mime_part_interpret() sets lives on the parser's arena;
 * a reader is malloc'ed and freed by mime_reader_close().  Interpreting
 * belongs to the parser's thread; a finished tree may be walked by many
 * threads, a reader by one.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mime_int.h"

/* Filename candidates compared when dropping duplicates. */
#define DEDUP_FILENAMES 64

static const char *const defect_names[MIME_D_COUNT] = {
	"header_syntax",
	"header_space_before_colon",
	"header_invalid_utf8",
	"header_nul",
	"bad_encoded_word",
	"unknown_charset",
	"invalid_charset_sequence",
	"param_syntax",
	"duplicate_param",
	"bad_rfc2231",
	"bad_content_type",
	"duplicate_content_type",
	"duplicate_mime_header",
	"unknown_transfer_encoding",
	"missing_boundary",
	"empty_boundary",
	"long_boundary",
	"multipart_transfer_encoding",
	"encoded_message",
	"missing_start_boundary",
	"missing_final_boundary",
	"ambiguous_boundary",
	"boundary_prefix",
	"mixed_line_endings",
	"uuencode_in_text",
	"ambiguous_filename",
	"base64_garbage",
	"base64_padding",
	"base64_truncated",
	"qp_bad_escape",
	"qp_long_line",
	"qp_8bit",
	"uu_bad_line",
	"uu_no_end",
	"limit_depth",
	"limit_parts",
	"limit_header_line",
	"limit_header_size",
	"limit_boundary",
	"bare_cr",
	"part_after_close",
};

const char *
mime_defect_name(uint64_t bit)
{
	for (unsigned k = 0; k < MIME_D_COUNT; k++)
		if (bit == MIME_D(k))
			return defect_names[k];
	return NULL;
}

/* ---- Content-* fields ---- */

static void
oom(const char **error_r)
{
	if (*error_r == NULL)
		*error_r = "out of memory";
}

static bool
name_is(const struct mime_header *h, const char *name)
{
	return pst_str_caseeq_cstr(h->name, name);
}

void
mime_part_add_filename(struct pst_arena *arena, const char **error_r,
		       struct mime_part *part, struct pst_str name,
		       enum mime_filename_source src, bool alt)
{
	struct mime_filename *fn;
	unsigned k = 0;

	if (name.p == NULL)
		return;
	/* Every name is kept (padding with decoys must not push one out);
	 * duplicates are only looked for among the first ones, so that a
	 * header of thousands of names costs linear time. */
	for (fn = part->filenames; fn != NULL && k < DEDUP_FILENAMES;
	     fn = fn->next, k++)
		if (pst_str_eq(fn->name, name))
			return;
	fn = pst_arena_zalloc(arena, sizeof(*fn));
	if (fn == NULL) {
		oom(error_r);
		return;
	}
	fn->name = name;
	fn->source = src;
	fn->alternative = alt;
	if (part->last_filename != NULL)
		part->last_filename->next = fn;
	else
		part->filenames = fn;
	part->last_filename = fn;
	part->nfilenames++;
}

/* Every value of parameter name, best first (mime_param_get order). */
static void
add_param_filenames(struct pst_arena *arena, const char **error_r,
		    struct mime_part *part, const struct mime_param *params,
		    const char *name, enum mime_filename_source src)
{
	for (unsigned rank = 0; rank < 3; rank++)
		for (const struct mime_param *q = params; q != NULL;
		     q = q->next) {
			if (mime_param_rank(q) != rank ||
			    strcmp(q->name, name) != 0)
				continue;
			mime_part_add_filename(arena, error_r, part, q->value,
					       src, false);
			for (unsigned k = 0; k < MIME_PARAM_ALTS; k++)
				mime_part_add_filename(arena, error_r, part,
						       q->alt[k], src, true);
		}
}

static bool
trimmed_empty(struct pst_str s)
{
	return pst_str_trim(s).len == 0;
}

/*
 * The shown name: Content-Disposition filename (RFC 2231 form first),
 * else Content-Type name.  Thunderbird, Outlook and Gmail agree on this
 * order; Python too, except that it prefers filename= over filename*=
 * when both are present (a known difference, see the corpus notes).
 * Blanks around it go (Python strips, Windows would).
 */
static void
choose_filename(struct pst_arena *arena, const char **error_r,
		struct mime_part *part)
{
	const struct mime_filename *pick = NULL, *fn;
	struct pst_str t;

	for (int want = MIME_FN_DISPOSITION; want <= MIME_FN_TYPE && !pick;
	     want++)
		for (fn = part->filenames; fn != NULL; fn = fn->next)
			if ((int)fn->source == want && !fn->alternative &&
			    !trimmed_empty(fn->name)) {
				pick = fn;
				break;
			}
	if (pick == NULL)
		return;
	t = pst_str_trim(pick->name);
	part->filename.p = pst_arena_strndup(arena, t.p, t.len);
	part->filename.len = t.len;
	if (part->filename.p == NULL)
		oom(error_r);
	for (fn = part->filenames; fn != NULL; fn = fn->next)
		if (!fn->alternative && fn->source <= MIME_FN_DUPLICATE &&
		    !pst_str_eq(pst_str_trim(fn->name), t) &&
		    !trimmed_empty(fn->name))
			part->defects |= MIME_D_DUP_FILENAME;
}

static char *
lower_dup(struct pst_arena *arena, const char **error_r, struct pst_str s)
{
	char *c = pst_arena_strndup(arena, s.p, s.len);

	if (c == NULL) {
		oom(error_r);
		return NULL;
	}
	for (size_t i = 0; i < s.len; i++)
		if (c[i] >= 'A' && c[i] <= 'Z')
			c[i] = (char)(c[i] + 32);
	return c;
}

/* Read the Content-* fields of the block just ended. */
void
mime_part_interpret(struct pst_arena *arena, struct mime_part *part,
		    const char **error_r)
{
	const struct mime_header *ct = NULL, *cte = NULL, *cd = NULL,
				 *cid = NULL;
	struct mime_param *dup_ct = NULL, *dup_cd = NULL;
	const struct mime_param *cs, *b;

	if (part->parent != NULL && part->parent->kind == MIME_PART_MULTIPART &&
	    strcmp(part->parent->type, "multipart/digest") == 0)
		part->type = "message/rfc822"; /* RFC 2046 5.1.5 */
	for (const struct mime_header *h = part->headers; h; h = h->next) {
		struct mime_ctype v;

		if (name_is(h, "content-type")) {
			if (mime_header_parse_content_type(arena, h->unfolded,
							   &v, &part->defects) <
			    0) {
				oom(error_r);
				return;
			}
			if (ct != NULL) {
				part->defects |= MIME_D_DUP_CONTENT_TYPE;
				if (dup_ct == NULL)
					dup_ct = v.params;
				continue;
			}
			ct = h;
			if (v.value != NULL)
				part->type = v.value;
			part->type_params = v.params;
		} else if (name_is(h, "content-disposition")) {
			if (mime_header_parse_disposition(arena, h->unfolded,
							  &v,
							  &part->defects) < 0) {
				oom(error_r);
				return;
			}
			if (cd != NULL) {
				part->defects |= MIME_D_DUP_MIME_HEADER;
				if (dup_cd == NULL)
					dup_cd = v.params;
				continue;
			}
			cd = h;
			part->disposition = v.value;
			part->disposition_params = v.params;
		} else if (name_is(h, "content-transfer-encoding")) {
			if (cte != NULL) {
				part->defects |= MIME_D_DUP_MIME_HEADER;
				continue;
			}
			cte = h;
		} else if (name_is(h, "content-id")) {
			if (cid != NULL)
				part->defects |= MIME_D_DUP_MIME_HEADER;
			else
				cid = h;
		}
	}
	part->subtype = strchr(part->type, '/') + 1;
	if (cte != NULL) {
		struct pst_str tok;

		part->encoding = mime_header_parse_cte(cte->unfolded, &tok,
						       &part->defects);
		if (tok.len > 0)
			part->encoding_name = lower_dup(arena, error_r, tok);
	}
	if (cid != NULL)
		part->content_id = cid->unfolded.p;
	cs = mime_param_get(part->type_params, "charset");
	if (cs != NULL && cs->value.len > 0)
		part->charset =
			lower_dup(arena, error_r, pst_str_trim(cs->value));
	if (strncmp(part->type, "multipart/", 10) == 0 &&
	    (b = mime_param_get(part->type_params, "boundary")) != NULL)
		part->boundary = b->value.p;

	add_param_filenames(arena, error_r, part, part->disposition_params,
			    "filename", MIME_FN_DISPOSITION);
	add_param_filenames(arena, error_r, part, part->type_params, "name",
			    MIME_FN_TYPE);
	add_param_filenames(arena, error_r, part, part->disposition_params,
			    "name", MIME_FN_ODD);
	add_param_filenames(arena, error_r, part, part->type_params, "filename",
			    MIME_FN_ODD);
	add_param_filenames(arena, error_r, part, dup_cd, "filename",
			    MIME_FN_DUPLICATE);
	add_param_filenames(arena, error_r, part, dup_ct, "name",
			    MIME_FN_DUPLICATE);
	choose_filename(arena, error_r, part);
}

/* ---- the tree ---- */

static const struct mime_part *
next_below(const struct mime_part *q, const struct mime_part *top)
{
	if (q->children != NULL)
		return q->children;
	while (q != NULL && q != top) {
		if (q->next != NULL)
			return q->next;
		q = q->parent;
	}
	return NULL;
}

const struct mime_part *
mime_part_next(const struct mime_part *p)
{
	return next_below(p, NULL);
}

uint64_t
mime_part_defects_all(const struct mime_part *p)
{
	uint64_t d = 0;

	for (const struct mime_part *q = p; q != NULL; q = next_below(q, p))
		d |= q->defects;
	return d;
}

const struct mime_header *
mime_part_header(const struct mime_part *p, const struct mime_header *prev,
		 const char *name)
{
	for (const struct mime_header *h = prev ? prev->next : p->headers; h;
	     h = h->next)
		if (pst_str_caseeq_cstr(h->name, name))
			return h;
	return NULL;
}

/* ---- reading content ---- */

#define READER_BUF 4096

struct mime_reader {
	mime_pread_fn *pread;
	void *ctx;
	/* a part parsed from an encoded message reads that message's
	 * decoded content through base; base_pos is where base stands */
	struct mime_reader *base;
	uint64_t base_pos;
	uint64_t pos, end;
	struct decoder dec;
	bool decode, finished;
	size_t out_pos, out_len;
	unsigned char raw[READER_BUF];
	unsigned char out[READER_BUF + 8];
};

/* pread over the decoded content of r->base, forward only: a reader
 * asks for its range in order, after one skip to its start. */
static ssize_t
base_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct mime_reader *r = ctx;
	unsigned char skip[512];
	ssize_t got;

	if (off < r->base_pos)
		return -1;
	while (r->base_pos < off) {
		size_t n = off - r->base_pos < sizeof(skip)
				   ? (size_t)(off - r->base_pos)
				   : sizeof(skip);

		got = mime_reader_read(r->base, skip, n);
		if (got <= 0)
			return -1;
		r->base_pos += (uint64_t)got;
	}
	got = mime_reader_read(r->base, buf, len);
	if (got > 0)
		r->base_pos += (uint64_t)got;
	return got;
}

struct mime_reader *
mime_reader_open(const struct mime_part *part, mime_pread_fn *pread, void *ctx)
{
	struct mime_reader *r = malloc(sizeof(*r));

	if (r == NULL)
		return NULL;
	memset(r, 0, offsetof(struct mime_reader, raw));
	if (part->offset_base != NULL) {
		r->base = mime_reader_open(part->offset_base, pread, ctx);
		if (r->base == NULL) {
			free(r);
			return NULL;
		}
		r->pread = base_pread;
		r->ctx = r;
	} else {
		r->pread = pread;
		r->ctx = ctx;
	}
	r->pos = part->body_start;
	r->end = part->body_end;
	/* leaves and encoded messages decode; a multipart is raw */
	r->decode = part->kind != MIME_PART_MULTIPART &&
		    !mime_identity_encoding(part->encoding);
	decoder_init(&r->dec, part->encoding);
	return r;
}

void
mime_reader_close(struct mime_reader **r_p)
{
	if (r_p == NULL || *r_p == NULL)
		return;
	mime_reader_close(&(*r_p)->base);
	free(*r_p);
	*r_p = NULL;
}

ssize_t
mime_reader_read(struct mime_reader *r, void *buf, size_t len)
{
	unsigned char *o = buf;
	size_t total = 0;

	while (total < len) {
		ssize_t got;
		size_t want;

		if (r->out_pos < r->out_len) {
			size_t k = r->out_len - r->out_pos;

			if (k > len - total)
				k = len - total;
			memcpy(o + total, r->out + r->out_pos, k);
			r->out_pos += k;
			total += k;
			continue;
		}
		if (r->finished)
			break;
		if (r->pos >= r->end) {
			r->finished = true;
			if (r->decode) {
				r->out_len = decoder_finish(&r->dec, r->out);
				r->out_pos = 0;
			}
			continue;
		}
		want = r->end - r->pos < READER_BUF ? (size_t)(r->end - r->pos)
						    : READER_BUF;
		if (!r->decode && want > len - total)
			want = len - total;
		got = r->pread(r->ctx, r->decode ? r->raw : o + total, want,
			       r->pos);
		if (got <= 0 || (size_t)got > want)
			return -1; /* error, or shorter than the tree says */
		r->pos += (uint64_t)got;
		if (r->decode) {
			r->out_len = decoder_feed(&r->dec, r->raw, (size_t)got,
						  r->out);
			r->out_pos = 0;
		} else {
			total += (size_t)got;
		}
	}
	return (ssize_t)total;
}
