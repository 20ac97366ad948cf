/*
 * rewrite.c - body rewriting: parts replaced by notices, banners added
 * to the text (see rewrite.h for what goes where and why).
 *
 * The plan lives on the transaction arena; a job resolves it against
 * the tree into splices: byte ranges of the spool and what replaces
 * each, computed in memory at prepare time (a notice, or a text part of
 * at most REWRITE_TEXT_MAX bytes encoded again), so writing is a copy
 * of the spool with the splices put in, in 64 KiB steps.  Splices never
 * overlap: a range inside a replaced one is dropped.
 *
 * Thread-safety: a plan and a job belong to one thread at a time.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rewrite_int.h"
#include "spool.h"
#include "utf8.h"

/* ---- the plan ---- */

struct rewrite_plan *
rewrite_plan_new(struct pst_arena *arena)
{
	struct rewrite_plan *plan = pst_arena_zalloc(arena, sizeof(*plan));

	if (plan != NULL)
		plan->arena = arena;
	return plan;
}

bool
rewrite_text_valid(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len;

	if (text == NULL)
		return false;
	len = strnlen(text, REWRITE_NOTICE_MAX + 1);
	if (len == 0 || len > REWRITE_NOTICE_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		if (s[i] >= 0x80) {
			size_t n = pst_utf8_seq_len(s + i, len - i);

			if (n == 0)
				return false;
			i += n;
			continue;
		}
		if ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') ||
		    s[i] == 0x7f)
			return false;
		i++;
	}
	return true;
}

static int
rw_plan_add(struct rewrite_plan *plan, enum rw_op_kind kind,
	    enum rewrite_where where, unsigned index, const char *text)
{
	struct rw_op *op;

	if (plan == NULL || !rewrite_text_valid(text) ||
	    plan->nops >= REWRITE_MAX_OPS)
		return -1;
	if (kind == RW_OP_REPLACE) {
		for (size_t i = 0; i < plan->nops; i++)
			if (plan->ops[i].kind == RW_OP_REPLACE &&
			    plan->ops[i].index == index)
				return 0;
	}
	if (plan->ops == NULL) {
		plan->ops = pst_arena_calloc(plan->arena, REWRITE_MAX_OPS,
					     sizeof(*plan->ops));
		if (plan->ops == NULL)
			return -1;
	}
	op = &plan->ops[plan->nops];
	op->kind = kind;
	op->where = where;
	op->index = index;
	op->text = pst_arena_strdup(plan->arena, text);
	if (op->text == NULL)
		return -1;
	plan->nops++;
	plan->banners = plan->banners || kind == RW_OP_BANNER;
	return 0;
}

int
rewrite_plan_replace(struct rewrite_plan *plan, unsigned part_index,
		     const char *notice)
{
	return rw_plan_add(plan, RW_OP_REPLACE, REWRITE_TOP, part_index,
			   notice);
}

int
rewrite_plan_banner(struct rewrite_plan *plan, enum rewrite_where where,
		    const char *text)
{
	if (where != REWRITE_TOP && where != REWRITE_BOTTOM)
		return -1;
	return rw_plan_add(plan, RW_OP_BANNER, where, 0, text);
}

bool
rewrite_plan_active(const struct rewrite_plan *plan)
{
	return plan != NULL && plan->nops > 0;
}

/* ---- the tree ---- */

bool
rw_type_is(const struct mime_part *p, const char *type)
{
	return p->type != NULL && strcmp(p->type, type) == 0;
}

/* A container whose content must never change. */
bool
rw_protected(const struct mime_part *p)
{
	return rw_type_is(p, "multipart/signed") ||
	       rw_type_is(p, "multipart/encrypted") ||
	       rw_type_is(p, "application/pkcs7-mime") ||
	       rw_type_is(p, "application/x-pkcs7-mime");
}

bool
rw_identity(enum mime_encoding e)
{
	return e == MIME_ENC_7BIT || e == MIME_ENC_8BIT || e == MIME_ENC_BINARY;
}

static ssize_t
rw_pread(void *spool, void *buf, size_t len, uint64_t offset)
{
	return pst_spool_pread(spool, buf, len, offset);
}

/* The decoded content of a leaf into b (at most max bytes).  0, or -1
 * (unreadable, or larger than max). */
int
rw_read_part(struct pst_spool *src, const struct mime_part *p,
	     struct pst_buf *b, size_t max)
{
	struct mime_reader *r;
	char chunk[8192];
	ssize_t n;
	int rc = 0;

	if (p->size > max)
		return -1;
	r = mime_reader_open(p, rw_pread, src);
	if (r == NULL)
		return -1;
	while ((n = mime_reader_read(r, chunk, sizeof(chunk))) > 0) {
		if (b->len + (size_t)n > max ||
		    pst_buf_append(b, chunk, (size_t)n) < 0) {
			rc = -1;
			break;
		}
	}
	if (n < 0)
		rc = -1;
	mime_reader_close(&r);
	return rc;
}

/* Does the spool's range [start, end) end with a line break? */
bool
rw_ends_eol(struct pst_spool *src, uint64_t start, uint64_t end)
{
	char c;

	return end > start && pst_spool_pread(src, &c, 1, end - 1) == 1 &&
	       c == '\n';
}

/* Does p's header block end with an empty line? */
bool
rw_blank_before(struct pst_spool *src, const struct mime_part *p)
{
	unsigned char t[3];
	uint64_t n = p->body_start - p->header_start;
	size_t k = n < 3 ? (size_t)n : 3;

	if (p->body_start < p->header_start || k == 0 ||
	    pst_spool_pread(src, t, k, p->body_start - k) != (ssize_t)k ||
	    t[k - 1] != '\n')
		return false;
	if (n == 1 || t[k - 2] == '\n')
		return true;
	return t[k - 2] == '\r' && (n == 2 || t[k - 3] == '\n');
}

/* ---- splices ---- */

struct rw_splice *
rw_splice_add(struct rewrite_job *job, enum rw_splice_kind kind,
	      const struct mime_part *part, uint64_t start, uint64_t end,
	      const struct pst_buf *bytes)
{
	struct rw_splice *s;
	bool brk;
	char c, *p;

	if (job->nsp == job->spcap) {
		size_t cap = job->spcap ? job->spcap * 2 : 8;
		struct rw_splice *n =
			pst_arena_calloc(job->arena, cap, sizeof(*n));

		if (n == NULL)
			return NULL;
		if (job->nsp > 0)
			memcpy(n, job->sp, job->nsp * sizeof(*n));
		job->sp = n;
		job->spcap = cap;
	}
	s = &job->sp[job->nsp];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->part = part;
	s->start = start;
	s->end = end;
	/* a part right after a delimiter at the end of the input: the
	 * delimiter line must end before what we put there */
	brk = part != job->root && start > 0 &&
	      (pst_spool_pread(job->src, &c, 1, start - 1) != 1 || c != '\n');
	s->len = bytes->len + (brk ? 2 : 0);
	s->bytes = p = pst_arena_alloc(job->arena, s->len + 1);
	if (p == NULL)
		return NULL;
	if (brk)
		memcpy(p, "\r\n", 2);
	if (bytes->len > 0)
		memcpy(p + (brk ? 2 : 0), bytes->data, bytes->len);
	p[s->len] = '\0';
	job->nsp++;
	return s;
}

/* Is [start, end) inside a replaced range? */
bool
rw_replaced(const struct rewrite_job *job, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < job->nsp; i++)
		if (job->sp[i].kind != RW_SP_BANNER &&
		    start >= job->sp[i].start && end <= job->sp[i].end)
			return true;
	return false;
}

/* Text with '\n' line breaks as CRLF lines (a final one included); when
 * ascii, every non-ASCII character as '?'. */
int
rw_text_lines(struct pst_buf *b, const char *text, bool ascii, const char *eol)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text);

	for (size_t i = 0; i < len;) {
		int rc;

		if (s[i] >= 0x80 && ascii) {
			size_t n = pst_utf8_seq_len(s + i, len - i);

			rc = pst_buf_append_byte(b, '?');
			i += n > 0 ? n : 1;
		} else if (s[i] == '\n') {
			rc = pst_buf_append_cstr(b, eol);
			i++;
		} else {
			rc = pst_buf_append_byte(b, (char)s[i]);
			i++;
		}
		if (rc < 0)
			return -1;
	}
	return pst_buf_append_cstr(b, eol);
}

/* Does text have a line starting with '-' (one that might read as a
 * boundary delimiter of an enclosing multipart)? */
bool
rw_dash_line(const char *text)
{
	for (const char *p = text; p != NULL; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (*p == '-')
			return true;
	}
	return false;
}

/* text with a blank before each line that starts with '-', on arena. */
static const char *
rw_undash(struct pst_arena *arena, const char *text)
{
	struct pst_buf b;
	const char *out;

	if (!rw_dash_line(text))
		return text;
	pst_buf_init(&b, 0);
	for (const char *p = text; *p != '\0'; p++) {
		if ((p == text || p[-1] == '\n') && *p == '-' &&
		    pst_buf_append_byte(&b, ' ') < 0)
			break;
		if (pst_buf_append_byte(&b, *p) < 0)
			break;
	}
	out = pst_arena_strndup(arena, b.data ? b.data : "", b.len);
	pst_buf_free(&b);
	return out;
}

bool
rw_ascii(const char *s, size_t len, size_t max_line)
{
	size_t line = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80 || c == 0)
			return false;
		line = c == '\n' ? 0 : line + 1;
		if (line > max_line)
			return false;
	}
	return true;
}

/*
 * Where part p's place in its multipart ends: before the line break of
 * the next delimiter (or the end of a multipart never closed).  Usually
 * p->body_end; more when the parser left bytes to no part (a multipart
 * read as one leaf keeps nothing after its close delimiter): replaced by
 * a notice of another type they would become its text.
 */
static uint64_t
rw_extent_end(const struct rewrite_job *job, const struct mime_part *p)
{
	const struct mime_part *mp = p->parent;
	char buf[1024];
	uint64_t next, from;
	ssize_t n;

	if (mp == NULL || mp->kind != MIME_PART_MULTIPART)
		return p->body_end;
	if (p->next != NULL)
		next = p->next->header_start;
	else if (mp->defects & MIME_D_NO_FINAL_BOUNDARY)
		return mp->body_end > p->body_end ? mp->body_end : p->body_end;
	else
		next = mp->epilogue_start;
	/* next is just after a delimiter line: find where it starts */
	if (next <= p->body_end + 1)
		return p->body_end;
	from = next - 1 - p->body_end > sizeof(buf) ? next - 1 - sizeof(buf)
						    : p->body_end;
	n = pst_spool_pread(job->src, buf, (size_t)(next - 1 - from), from);
	if (n != (ssize_t)(next - 1 - from))
		return p->body_end;
	for (ssize_t i = n - 1; i >= 0; i--) {
		uint64_t at;

		if (buf[i] != '\n')
			continue;
		at = from + (uint64_t)i;
		if (i > 0 && buf[i - 1] == '\r')
			at--;
		return at > p->body_end ? at : p->body_end;
	}
	return p->body_end;
}

/* The notice as a part: header block, empty line, content; or for the
 * root only the content (its fields go through the header edits). */
static int
rw_notice(struct rewrite_job *job, const struct mime_part *p, const char *text)
{
	struct pst_buf body, out;
	bool root = p == job->root, plain;
	uint64_t start = root ? p->body_start : p->header_start;
	uint64_t end = root ? pst_spool_size(job->src) : p->body_end;
	int rc = -1;

	if (!root)
		end = rw_extent_end(job, p);
	pst_buf_init(&body, 0);
	pst_buf_init(&out, 0);
	if (rw_text_lines(&body, text, false, "\r\n") < 0)
		goto done;
	plain = rw_ascii(body.data, body.len, 998) && !rw_dash_line(text);
	if (!root &&
	    pst_buf_printf(&out,
			   "Content-Type: text/plain; charset=utf-8\r\n"
			   "Content-Transfer-Encoding: %s\r\n"
			   "Content-Disposition: inline\r\n\r\n",
			   plain ? "7bit" : "quoted-printable") < 0)
		goto done;
	if ((plain ? pst_buf_append(&out, body.data, body.len)
		   : rewrite_enc_qp(&out, body.data, body.len)) < 0)
		goto done;
	/* A range that took the line break before the next delimiter
	 * (a multipart's close delimiter line) must give it back. */
	if (!root && rw_ends_eol(job->src, start, end) &&
	    pst_buf_append(&out, "\r\n", 2) < 0)
		goto done;
	if (root) {
		job->drop[job->ndrop++] = "Content-Type";
		job->drop[job->ndrop++] = "Content-Transfer-Encoding";
		job->drop[job->ndrop++] = "Content-Disposition";
		job->add_name[job->nadd] = "Content-Type";
		job->add_value[job->nadd++] = "text/plain; charset=utf-8";
		job->add_name[job->nadd] = "Content-Transfer-Encoding";
		job->add_value[job->nadd++] =
			plain ? "7bit" : "quoted-printable";
		if (mime_part_header(p, NULL, "MIME-Version") == NULL) {
			job->add_name[job->nadd] = "MIME-Version";
			job->add_value[job->nadd++] = "1.0";
		}
	}
	rc = rw_splice_add(job, RW_SP_REPLACE, p, start, end, &out) != NULL
		     ? 0
		     : -1;
done:
	pst_buf_free(&body);
	pst_buf_free(&out);
	return rc;
}

/* A uuencoded file in a plain text part: its lines become the notice,
 * in the text's own encoding (ASCII unless the text is UTF-8). */
static int
rw_notice_lines(struct rewrite_job *job, const struct mime_part *u,
		const char *text)
{
	const struct mime_part *t = u->parent;
	bool utf8 = t->charset != NULL &&
		    (strcmp(t->charset, "utf-8") == 0 ||
		     strcmp(t->charset, "utf8") == 0) &&
		    t->encoding != MIME_ENC_7BIT;
	struct pst_buf out;
	int rc;

	pst_buf_init(&out, 0);
	text = rw_undash(job->arena, text);
	rc = text != NULL ? rw_text_lines(&out, text, !utf8, "\r\n") : -1;
	/* the text after the file keeps its line */
	if (rc == 0 && !rw_ends_eol(job->src, u->header_start, u->body_end))
		out.len -= 2;
	if (rc == 0 && rw_splice_add(job, RW_SP_LINES, u, u->header_start,
				     u->body_end, &out) == NULL)
		rc = -1;
	pst_buf_free(&out);
	return rc;
}

/* The part whose bytes replacing p means replacing (see rewrite.h). */
static const struct mime_part *
rw_target(const struct rewrite_job *job, const struct mime_part *p,
	  bool *lines_r)
{
	const struct mime_part *top = NULL;
	unsigned guard = 0;

	*lines_r = false;
	while (p->offset_base != NULL && guard++ < 1000)
		p = p->offset_base;
	/* The container goes when a notice cannot stand where the part
	 * is: an attached message right after its part's fields without
	 * an empty line (the notice's fields would join those), a header
	 * block of message/delivery-status (no place for a part). */
	while (p->parent != NULL && p->parent->kind == MIME_PART_MESSAGE &&
	       p->parent->offset_base == NULL &&
	       (!rw_blank_before(job->src, p->parent) ||
		!(rw_type_is(p->parent, "message/rfc822") ||
		  rw_type_is(p->parent, "message/global"))))
		p = p->parent;
	for (const struct mime_part *q = p; q != NULL; q = q->parent)
		if (rw_protected(q))
			top = q;
	if (top != NULL)
		return top;
	if (p->synthetic) {
		const struct mime_part *t = p->parent;

		if (t != NULL && t->offset_base == NULL &&
		    rw_identity(t->encoding) &&
		    p->header_start >= t->body_start &&
		    p->body_end <= t->body_end &&
		    p->body_end > p->header_start) {
			*lines_r = true;
			return p;
		}
		return t != NULL ? t : job->root;
	}
	return p;
}

/* Is p a part below (or equal to) anc? */
static bool
rw_below(const struct mime_part *p, const struct mime_part *anc)
{
	for (unsigned guard = 0; p != NULL && guard < 10000; guard++) {
		if (p == anc)
			return true;
		p = p->parent;
	}
	return false;
}

static int
rw_splice_cmp(const void *a, const void *b)
{
	const struct rw_splice *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	/* the larger range first, so the smaller one falls inside it */
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return 0;
}

/* Sort, drop ranges inside others; -1 when two overlap otherwise (a
 * tree that does not nest: never rewrite that). */
static int
rw_splices_settle(struct rewrite_job *job)
{
	size_t o = 0;

	if (job->nsp > 1)
		qsort(job->sp, job->nsp, sizeof(*job->sp), rw_splice_cmp);
	for (size_t i = 0; i < job->nsp; i++) {
		/* a part of a replaced one goes with it, wherever the tree
		 * put its bytes */
		bool inside = false;

		for (size_t k = 0; k < o && !inside; k++)
			inside = job->sp[k].kind != RW_SP_BANNER &&
				 rw_below(job->sp[i].part, job->sp[k].part);
		if (inside)
			continue;
		if (o > 0 && job->sp[i].start < job->sp[o - 1].end) {
			if (job->sp[i].end > job->sp[o - 1].end)
				return -1;
			continue;
		}
		job->sp[o++] = job->sp[i];
	}
	job->nsp = o;
	return 0;
}

static int
rw_replacements(struct rewrite_job *job, const struct rewrite_plan *plan)
{
	for (size_t i = 0; i < plan->nops; i++) {
		const struct rw_op *op = &plan->ops[i];
		const struct mime_part *p;
		bool lines;
		int rc;

		if (op->kind != RW_OP_REPLACE || op->index >= job->nparts ||
		    job->parts[op->index] == NULL)
			continue;
		p = rw_target(job, job->parts[op->index], &lines);
		if (lines)
			rc = rw_notice_lines(job, p, op->text);
		else if (job->ndrop == 0 || p != job->root)
			rc = rw_notice(job, p, op->text);
		else
			rc = 0; /* the root is replaced already */
		if (rc < 0)
			return -1;
		job->replaced++;
	}
	return 0;
}

/* ---- the job ---- */

struct rewrite_job *
rewrite_prepare(const struct rewrite_plan *plan, struct pst_spool *src,
		const struct mime_part *root, struct pst_arena *arena,
		const char **error_r)
{
	struct rewrite_job *job = pst_arena_zalloc(arena, sizeof(*job));
	size_t n = 0;

	*error_r = "out of memory";
	if (job == NULL)
		return NULL;
	job->arena = arena;
	job->src = src;
	job->root = root;
	for (const struct mime_part *p = root; p != NULL; p = mime_part_next(p))
		if (p->index >= n)
			n = (size_t)p->index + 1;
	job->parts = pst_arena_calloc(arena, n ? n : 1, sizeof(*job->parts));
	if (job->parts == NULL)
		return NULL;
	job->nparts = n;
	for (const struct mime_part *p = root; p != NULL; p = mime_part_next(p))
		job->parts[p->index] = p;
	if (plan == NULL)
		return job;
	if (rw_replacements(job, plan) < 0)
		return NULL;
	if (rw_splices_settle(job) < 0) {
		*error_r = "parts that do not nest";
		return NULL;
	}
	if (plan->banners && rw_banners(job, plan) < 0) {
		*error_r = job->error ? job->error : "cannot add the banner";
		return NULL;
	}
	if (rw_splices_settle(job) < 0) {
		*error_r = "parts that do not nest";
		return NULL;
	}
	return job;
}

bool
rewrite_job_changes(const struct rewrite_job *job)
{
	return job != NULL && job->nsp > 0;
}

const char *
rewrite_job_summary(const struct rewrite_job *job)
{
	return pst_arena_printf(job->arena, "replaced=%u banners=%u skipped=%u",
				job->replaced, job->banners, job->skipped);
}

bool
rewrite_drops_field(const struct rewrite_job *job, const char *name)
{
	for (size_t i = 0; job != NULL && i < job->ndrop; i++)
		if (strcasecmp(job->drop[i], name) == 0)
			return true;
	return false;
}

size_t
rewrite_add_count(const struct rewrite_job *job)
{
	return job != NULL ? job->nadd : 0;
}

void
rewrite_add_field(const struct rewrite_job *job, size_t i, const char **name_r,
		  const char **value_r)
{
	*name_r = job->add_name[i];
	*value_r = job->add_value[i];
}

/* ---- writing ---- */

static int
rw_copy(struct pst_spool *src, uint64_t from, uint64_t to, char *chunk,
	struct pst_spool *out, const char **error_r)
{
	while (from < to) {
		size_t want =
			to - from > RW_CHUNK ? RW_CHUNK : (size_t)(to - from);
		ssize_t n = pst_spool_pread(src, chunk, want, from);

		if (n <= 0) {
			*error_r = "cannot read the message";
			return -1;
		}
		if (pst_spool_write(out, chunk, (size_t)n, error_r) < 0)
			return -1;
		from += (uint64_t)n;
	}
	return 0;
}

int
rewrite_write(struct rewrite_job *job, uint64_t from, struct pst_spool *out,
	      const char **error_r)
{
	uint64_t size = pst_spool_size(job->src), pos = from;
	char *chunk = malloc(RW_CHUNK);
	int rc = -1;

	if (chunk == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < job->nsp; i++) {
		const struct rw_splice *s = &job->sp[i];

		if (s->start < pos || s->end > size || s->end < s->start) {
			*error_r = "unexpected layout of the message";
			goto done;
		}
		if (rw_copy(job->src, pos, s->start, chunk, out, error_r) < 0 ||
		    pst_spool_write(out, s->bytes, s->len, error_r) < 0)
			goto done;
		pos = s->end;
	}
	rc = rw_copy(job->src, pos, size, chunk, out, error_r);
done:
	free(chunk);
	return rc;
}

/* ---- checking ---- */

/* Defects a rewrite must not bring in. */
#define RW_STRUCTURAL                                                          \
	(MIME_D_LIMITS | MIME_D_NO_START_BOUNDARY | MIME_D_NO_FINAL_BOUNDARY | \
	 MIME_D_AMBIGUOUS_BOUNDARY | MIME_D_BOUNDARY_PREFIX |                  \
	 MIME_D_PART_AFTER_CLOSE | MIME_D_BAD_CONTENT_TYPE |                   \
	 MIME_D_DUP_CONTENT_TYPE | MIME_D_HEADER_SYNTAX | MIME_D_B64_GARBAGE | \
	 MIME_D_B64_PADDING | MIME_D_B64_TRUNCATED | MIME_D_QP_BAD_ESCAPE |    \
	 MIME_D_QP_LONG_LINE)

static int
rw_hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Hashes of the leaves of tree root not under a changed range of job
 * (job NULL: every leaf), sorted. */
static unsigned char *
rw_hashes(const struct rewrite_job *job, const struct mime_part *root,
	  size_t *n_r)
{
	size_t n = 0, k = 0;
	unsigned char *v;

	for (const struct mime_part *p = root; p != NULL; p = mime_part_next(p))
		n++;
	v = malloc(n ? n * 32 : 1);
	if (v == NULL)
		return NULL;
	for (const struct mime_part *p = root; p != NULL;
	     p = mime_part_next(p)) {
		bool changed = false;

		if (p->kind != MIME_PART_LEAF)
			continue;
		for (const struct mime_part *q = p; job != NULL && q != NULL;
		     q = q->offset_base ? q->offset_base : q->parent)
			for (size_t i = 0; i < job->nsp && !changed; i++)
				changed = q->offset_base == NULL &&
					  q->header_start >= job->sp[i].start &&
					  q->body_end <= job->sp[i].end &&
					  (q != job->root ||
					   job->sp[i].kind != RW_SP_BANNER);
		if (!changed)
			memcpy(v + 32 * k++, p->sha256, 32);
	}
	qsort(v, k, 32, rw_hash_cmp);
	*n_r = k;
	return v;
}

/* How many of the n sorted hashes in v are h. */
static size_t
rw_count(const unsigned char *v, size_t n, const unsigned char *h)
{
	size_t lo = 0, hi = n, c = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(v + 32 * mid, h, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + c < n && memcmp(v + 32 * (lo + c), h, 32) == 0)
		c++;
	return c;
}

/* Is every stripped leaf's content gone (no more copies in the new tree
 * than the original had outside the changed ranges)? */
static bool
rw_stripped_gone(const struct rewrite_job *job, const struct mime_part *nroot)
{
	unsigned char *kept, *now;
	size_t nkept = 0, nnow = 0;
	bool ok = true;

	kept = rw_hashes(job, job->root, &nkept);
	now = rw_hashes(NULL, nroot, &nnow);
	if (kept == NULL || now == NULL) {
		ok = false;
		goto done;
	}
	for (size_t i = 0; i < job->nsp && ok; i++) {
		const struct mime_part *s = job->sp[i].part;

		if (job->sp[i].kind == RW_SP_BANNER)
			continue;
		for (const struct mime_part *p = s; p != NULL && ok;
		     p = mime_part_next(p)) {
			if (p != s && p->depth <= s->depth)
				break;
			if (p->kind != MIME_PART_LEAF || p->size == 0)
				continue;
			ok = rw_count(now, nnow, p->sha256) <=
			     rw_count(kept, nkept, p->sha256);
		}
	}
done:
	free(kept);
	free(now);
	return ok;
}

int
rewrite_check(const struct rewrite_job *job, struct pst_spool *msg,
	      const char **error_r)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_parser *p = NULL;
	struct mime_part *nroot = NULL;
	uint64_t off = 0, size = pst_spool_size(msg), added;
	char *chunk = malloc(RW_CHUNK);
	int rc = -1;

	*error_r = "out of memory";
	if (arena == NULL || chunk == NULL ||
	    (p = mime_parser_new(arena, NULL)) == NULL)
		goto done;
	while (off < size) {
		ssize_t n = pst_spool_pread(msg, chunk, RW_CHUNK, off);

		if (n <= 0) {
			*error_r = "cannot read the rewritten message";
			goto done;
		}
		if (mime_parser_feed(p, chunk, (size_t)n, error_r) < 0)
			goto done;
		off += (uint64_t)n;
	}
	if (mime_parser_end(p, &nroot, error_r) < 0)
		goto done;
	added = mime_part_defects_all(nroot) &
		~mime_part_defects_all(job->root) & RW_STRUCTURAL;
	if (added != 0) {
		*error_r = pst_arena_printf(job->arena,
					    "the rewritten message is malformed"
					    " (%s)",
					    mime_defect_name(added & -added));
		goto done;
	}
	if (!rw_stripped_gone(job, nroot)) {
		*error_r = "stripped content is still in the message";
		goto done;
	}
	rc = 0;
done:
	mime_parser_free(&p);
	pst_arena_free(&arena);
	free(chunk);
	return rc;
}
