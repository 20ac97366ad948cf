/*
 * edit.c - the message that leaves: the spool copied into a new spool
 * with the filters' header edits and the Authentication-Results header
 * applied.
 *
 * Only the top-level header block changes, in the filters' call order:
 * add appends a field at the end of the block; insert puts one before
 * the field at index (counting the fields there are at that moment;
 * 0 is the very top); change and delete name the nth field of a name
 * counting the fields as received.  Fields we write are folded at white
 * space, 78 octets per line where possible and never over 998 (the host
 * functions refuse a value that cannot be folded so).  Received fields
 * nobody touched are copied byte for byte.
 *
 * Authentication-Results (RFC 8601), when the configuration asks for
 * it: one field "AUTHSERV-ID; method=result props; ..." from what the
 * filters gave (written only when there is at least one resinfo), right
 * after our own Received: (the first field); and every received
 * Authentication-Results field that claims our authserv-id (case-
 * insensitive) removed, as section 5 asks of a border MTA.
 *
 * DKIM signing ("modify, then sign"): when the dkim filter marked the
 * transaction, the header block is built in memory exactly as it will
 * leave (edits and Authentication-Results included), signed together
 * with the body (dkim_sign.c), and the DKIM-Signature fields go on top.
 *
 * The body is copied unchanged in 64 KiB chunks: the message is never
 * held in memory (only, when signing, its header block).  When filters
 * replaced parts or added banners (rewrite.c), the body is first written
 * rewritten into a spool of its own, which is then what is copied and
 * signed, and the message that leaves is parsed again to check it.
 * Runs on the ctx's loop after FILTER_MESSAGE (or anywhere, for postern
 * scan); the ctx must be idle.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_results.h"
#include "buf.h"
#include "filter_int.h"
#include "log.h"
#include "rewrite.h"
#include "spool.h"

#define EDIT_CHUNK (64 * 1024)
#define EDIT_AR_NAME "Authentication-Results"
/* Largest header block we hold in memory to sign it. */
#define EDIT_HOLD_MAX (32u << 20)

/* ---- folding ---- */

static bool
edit_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
filter_edit_format_field(struct pst_buf *buf, const char *name,
			 const char *value)
{
	size_t start = buf->len, line, i = 0;
	bool content = false;

	if (pst_buf_append_cstr(buf, name) < 0 ||
	    pst_buf_append_byte(buf, ':') < 0)
		goto fail;
	line = strlen(name) + 1;
	if (value[0] != '\0' && !edit_blank(value[0])) {
		if (pst_buf_append_byte(buf, ' ') < 0)
			goto fail;
		line++;
	}
	/* Greedy: a run of blanks and the word after it goes on the line
	 * if it fits in 78, else the line is folded before the blanks. */
	while (value[i] != '\0') {
		size_t seg = i;
		bool word;

		while (edit_blank(value[i]))
			i++;
		word = value[i] != '\0';
		while (value[i] != '\0' && !edit_blank(value[i]))
			i++;
		if (content && word && edit_blank(value[seg]) &&
		    line + (i - seg) > FILTER_LINE_PREFERRED) {
			if (pst_buf_append(buf, "\r\n", 2) < 0)
				goto fail;
			line = 0;
		}
		if (pst_buf_append(buf, value + seg, i - seg) < 0)
			goto fail;
		line += i - seg;
		content = content || word;
	}
	if (pst_buf_append(buf, "\r\n", 2) < 0)
		goto fail;
	return 0;
fail:
	buf->len = start;
	if (buf->data != NULL)
		buf->data[start] = '\0';
	return -1;
}

/* ---- Authentication-Results ---- */

/* Does received field h claim our authserv-id? */
static bool
edit_ar_ours(const struct filter_conf *conf, const char *name,
	     struct pst_str value)
{
	struct pst_buf id;
	bool ours;

	if (strcasecmp(name, EDIT_AR_NAME) != 0)
		return false;
	pst_buf_init(&id, 1024);
	ours = auth_results_authserv_id(value, &id) == 0 &&
	       pst_str_caseeq_cstr(pst_buf_view(&id), conf->authserv_id);
	pst_buf_free(&id);
	return ours;
}

static bool
edit_ar_enabled(const struct filter_conf *conf)
{
	return conf->auth_results && conf->authserv_id != NULL &&
	       conf->authserv_id[0] != '\0';
}

/* The value of the field we write, or 0 with an empty buf when there is
 * nothing to say.  -1 when out of memory. */
static int
edit_ar_value(const struct filter_ctx *ctx, struct pst_buf *v)
{
	const struct filter_said *said[2] = { &ctx->session, &ctx->tx->said };

	if (said[0]->nauth + said[1]->nauth == 0)
		return 0;
	if (auth_results_format_id(v, ctx->chain->conf->authserv_id) < 0) {
		pst_buf_reset(v); /* an id we cannot write: no header */
		return 0;
	}
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < said[k]->nauth; i++) {
			const struct filter_auth *a = &said[k]->auth[i];

			if (pst_buf_append(v, "; ", 2) < 0 ||
			    auth_results_format_resinfo(v, a->method, a->result,
							a->props) < 0)
				return -1;
		}
	}
	return 0;
}

bool
filter_ctx_has_edits(const struct filter_ctx *ctx)
{
	const struct filter_conf *conf;
	const struct filter_tx *tx;

	if (ctx == NULL)
		return false;
	conf = ctx->chain->conf;
	tx = ctx->tx;
	if (tx->nedits > 0 || tx->signer != NULL ||
	    rewrite_plan_active(tx->rewrite))
		return true;
	if (!edit_ar_enabled(conf))
		return false;
	if (ctx->session.nauth + tx->said.nauth > 0)
		return true;
	for (size_t i = 0; i < tx->nheaders; i++)
		if (edit_ar_ours(conf, tx->headers[i]->name.p,
				 tx->headers[i]->unfolded))
			return true;
	return false;
}

/* ---- the new header block ---- */

struct edit_item {
	const struct mime_header *h; /* a received field, or NULL */
	size_t idx;		     /* h is tx->headers[idx] */
	const char *name;
	const char *value; /* new or changed value; NULL: as received */
	bool deleted;
};

struct edit_list {
	struct edit_item *v;
	size_t n, cap;
};

/* The array position before the index-th field still present. */
static size_t
edit_position(const struct edit_list *l, size_t index)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->v[i].deleted && index-- == 0)
			return i;
	return l->n;
}

static void
edit_insert(struct edit_list *l, size_t pos, const char *name,
	    const char *value)
{
	/* cap was sized for every edit and the A-R field */
	memmove(&l->v[pos + 1], &l->v[pos], (l->n - pos) * sizeof(*l->v));
	memset(&l->v[pos], 0, sizeof(*l->v));
	l->v[pos].name = name;
	l->v[pos].value = value;
	l->n++;
}

/* The item of the nth received field called name, or NULL. */
static struct edit_item *
edit_received(struct edit_list *l, const char *name, size_t nth)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].h != NULL &&
		    strcasecmp(l->v[i].h->name.p, name) == 0 && nth-- == 0)
			return &l->v[i];
	return NULL;
}

static void
edit_apply(struct edit_list *l, const struct filter_header_edit *e)
{
	struct edit_item *it;

	if (strcmp(e->op, "add") == 0) {
		edit_insert(l, l->n, e->name, e->value);
	} else if (strcmp(e->op, "insert") == 0) {
		edit_insert(l, edit_position(l, e->index), e->name, e->value);
	} else if ((it = edit_received(l, e->name, e->index)) != NULL) {
		it->value = e->value;
		it->deleted = e->value == NULL;
	}
}

/* The root's Content-* fields when the rewriting changed its content:
 * the old ones go, the new ones come last. */
static void
edit_rewrite_fields(struct edit_list *l, const struct rewrite_job *rw)
{
	if (rw == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		if (rewrite_drops_field(rw, l->v[i].name))
			l->v[i].deleted = true;
	for (size_t i = 0; i < rewrite_add_count(rw); i++) {
		const char *name, *value;

		rewrite_add_field(rw, i, &name, &value);
		edit_insert(l, l->n, name, value);
	}
}

/* ---- writing ---- */

struct edit_writer {
	struct pst_spool *out;
	/* What follows the header block: [from, to) of body (the source
	 * spool, or the rewritten body from the source's header end). */
	struct pst_spool *body;
	uint64_t from, to;
	struct rewrite_job *rw;
	struct pst_buf *hold; /* when set: output goes here, not to out */
	struct pst_buf text;  /* generated fields, flushed before copies */
	char *chunk;	      /* EDIT_CHUNK bytes for copies */
	char last;	      /* last byte written */
	const char *error;
};

static int
edit_put(struct edit_writer *w, const char *data, size_t len)
{
	if (w->hold == NULL)
		return pst_spool_write(w->out, data, len, &w->error);
	if (pst_buf_append(w->hold, data, len) < 0) {
		w->error = "header block too large";
		return -1;
	}
	return 0;
}

static int
edit_flush(struct edit_writer *w)
{
	if (w->text.len == 0)
		return 0;
	if (edit_put(w, w->text.data, w->text.len) < 0)
		return -1;
	w->last = w->text.data[w->text.len - 1];
	pst_buf_reset(&w->text);
	return 0;
}

/* Copy [from, to) of the source spool. */
static int
edit_copy(struct edit_writer *w, struct pst_spool *src, uint64_t from,
	  uint64_t to)
{
	if (edit_flush(w) < 0)
		return -1;
	while (from < to) {
		size_t want = to - from > EDIT_CHUNK ? EDIT_CHUNK
						     : (size_t)(to - from);
		ssize_t n = pst_spool_pread(src, w->chunk, want, from);

		if (n <= 0) {
			w->error = "cannot read the message";
			return -1;
		}
		if (edit_put(w, w->chunk, (size_t)n) < 0)
			return -1;
		w->last = w->chunk[n - 1];
		from += (uint64_t)n;
	}
	return 0;
}

static int
edit_field(struct edit_writer *w, const char *name, const char *value)
{
	char last = w->text.len > 0 ? w->text.data[w->text.len - 1] : w->last;

	/* A received field that ended without a line break (at the end of
	 * the input) must not swallow ours. */
	if (last != '\0' && last != '\n' &&
	    pst_buf_append(&w->text, "\r\n", 2) < 0)
		goto oom;
	if (filter_edit_format_field(&w->text, name, value) < 0)
		goto oom;
	if (w->text.len >= EDIT_CHUNK)
		return edit_flush(w);
	return 0;
oom:
	w->error = "out of memory";
	return -1;
}

/* The empty line after the header block when the message had none and
 * a body follows (a rewritten one may where there was none): after a
 * line break of its own when the last field lacked one. */
static int
edit_separate(struct edit_writer *w)
{
	char last = w->text.len > 0 ? w->text.data[w->text.len - 1] : w->last;

	if (last != '\0' && last != '\n' &&
	    pst_buf_append(&w->text, "\r\n", 2) < 0)
		return -1;
	return pst_buf_append(&w->text, "\r\n", 2);
}

/*
 * Where the received fields end.  The header block is [0, body_start);
 * it ends with an empty line, or (malformed) at a line that is no field
 * or at the end of the input.  *blank_r: there is an empty line, which
 * the rest of the message then starts with.
 */
static int
edit_header_end(const struct filter_tx *tx, uint64_t size, uint64_t *end_r,
		bool *blank_r)
{
	uint64_t e = tx->root->body_start, lo = tx->root->header_start;
	uint64_t line;
	unsigned char tail[3];
	size_t n, brk;

	if (tx->nheaders > 0)
		lo = tx->headers[tx->nheaders - 1]->offset;
	if (e > size || lo > e)
		return -1;
	*end_r = e;
	*blank_r = false;
	n = e - lo < sizeof(tail) ? (size_t)(e - lo) : sizeof(tail);
	if (n == 0)
		return 0;
	if (pst_spool_pread(tx->spool, tail, n, e - n) != (ssize_t)n)
		return -1;
	if (tail[n - 1] != '\n')
		return 0;
	/* The block's last line break: is its line empty? */
	brk = n >= 2 && tail[n - 2] == '\r' ? 2 : 1;
	line = e - brk;
	if (line == lo)
		*blank_r = tx->nheaders == 0;
	else
		*blank_r = tail[n - brk - 1] == '\n';
	if (*blank_r)
		*end_r = line;
	return 0;
}

/* The header block as it leaves (and the empty line when the message
 * lacks one before the rest); *end_r: where the rest of the spool, to
 * be copied unchanged, starts; *blank_r: the rest starts with the
 * message's own empty line. */
static int
edit_write_head(struct filter_ctx *ctx, struct edit_list *l,
		struct edit_writer *w, uint64_t *end_r, bool *blank_r)
{
	struct filter_tx *tx = ctx->tx;
	uint64_t size = pst_spool_size(tx->spool), end;
	bool blank;

	if (edit_header_end(tx, size, &end, &blank) < 0) {
		w->error = "unexpected layout of the message";
		return -1;
	}
	for (size_t i = 1; i < tx->nheaders; i++) {
		if (tx->headers[i]->offset <= tx->headers[i - 1]->offset) {
			w->error = "unexpected layout of the message";
			return -1;
		}
	}
	if (edit_copy(w, tx->spool, 0,
		      tx->nheaders > 0 ? tx->headers[0]->offset : end) < 0)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		const struct edit_item *it = &l->v[i];
		int rc;

		if (it->deleted)
			continue;
		if (it->h != NULL && it->value == NULL) {
			/* A received field's bytes run up to the next
			 * received field (lines the parser skipped go with
			 * it). */
			uint64_t to = it->idx + 1 < tx->nheaders
					      ? tx->headers[it->idx + 1]->offset
					      : end;

			rc = edit_copy(w, tx->spool, it->h->offset, to);
		} else {
			rc = edit_field(w, it->name, it->value);
		}
		if (rc < 0)
			return -1;
	}
	if (!blank && (end < size || w->rw != NULL) && edit_separate(w) < 0) {
		w->error = "out of memory";
		return -1;
	}
	*end_r = end;
	*blank_r = blank;
	return edit_flush(w);
}

/* Where the body comes from: the source spool from end, or that part
 * of it rewritten into a spool of its own (w->body, freed by the
 * caller). */
static int
edit_body(struct filter_ctx *ctx, struct edit_writer *w, uint64_t end)
{
	struct pst_spool *src = ctx->tx->spool;

	w->body = src;
	w->from = end;
	w->to = pst_spool_size(src);
	if (w->rw == NULL)
		return 0;
	w->body = pst_spool_new(ctx->chain->conf->spool_memory,
				ctx->chain->conf->spool_dir);
	if (w->body == NULL) {
		w->error = "out of memory";
		return -1;
	}
	if (rewrite_write(w->rw, end, w->body, &w->error) < 0 ||
	    pst_spool_flush(w->body, &w->error) < 0)
		return -1;
	w->from = 0;
	w->to = pst_spool_size(w->body);
	return 0;
}

static int
edit_write(struct filter_ctx *ctx, struct edit_list *l, struct edit_writer *w)
{
	uint64_t end;
	bool blank;

	if (edit_write_head(ctx, l, w, &end, &blank) < 0 ||
	    edit_body(ctx, w, end) < 0)
		return -1;
	return edit_copy(w, w->body, w->from, w->to);
}

/* The value of the one From field that leaves into b; false when there
 * is none or more than one. */
static bool
edit_from(const struct edit_list *l, struct pst_buf *b)
{
	const struct edit_item *from = NULL;

	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].deleted || strcasecmp(l->v[i].name, "From") != 0)
			continue;
		if (from != NULL)
			return false;
		from = &l->v[i];
	}
	if (from == NULL)
		return false;
	if (from->value != NULL)
		return pst_buf_append_cstr(b, from->value) == 0;
	return pst_buf_append(b, from->h->unfolded.p, from->h->unfolded.len) ==
	       0;
}

/* Modify, then sign: the header block in memory, its DKIM-Signature
 * fields computed over it and the body, then all of it out. */
static int
edit_write_signed(struct filter_ctx *ctx, struct edit_list *l,
		  struct edit_writer *w)
{
	struct filter_tx *tx = ctx->tx;
	uint64_t end, size;
	struct pst_buf head, sigs, from;
	bool blank;
	int rc = -1;

	pst_buf_init(&head, EDIT_HOLD_MAX);
	pst_buf_init(&sigs, 0);
	pst_buf_init(&from, FILTER_HEADER_VALUE_MAX);
	w->hold = &head;
	if (edit_write_head(ctx, l, w, &end, &blank) < 0 ||
	    edit_body(ctx, w, end) < 0)
		goto done;
	end = w->from;
	size = w->to;
	/* The empty line goes with the header block: the signer takes
	 * the body to be what follows it. */
	if (blank) {
		char sep[2] = { 0, 0 };
		size_t brk;

		if (pst_spool_pread(w->body, sep,
				    size - end < 2 ? (size_t)(size - end) : 2,
				    end) < 1) {
			w->error = "cannot read the message";
			goto done;
		}
		brk = sep[0] == '\r' && sep[1] == '\n' ? 2 : 1;
		if (edit_copy(w, w->body, end, end + brk) < 0)
			goto done;
		end += brk;
	}
	w->hold = NULL;
	if (tx->signer->sign(tx->signer, tx->qid,
			     edit_from(l, &from) ? from.data : NULL,
			     head.data ? head.data : "", head.len, w->body, end,
			     size, &sigs, &w->error) < 0)
		goto done;
	if ((sigs.len > 0 && edit_put(w, sigs.data, sigs.len) < 0) ||
	    (head.len > 0 && edit_put(w, head.data, head.len) < 0))
		goto done;
	if (head.len > 0)
		w->last = head.data[head.len - 1];
	rc = edit_copy(w, w->body, end, size);
done:
	w->hold = NULL;
	pst_buf_free(&head);
	pst_buf_free(&sigs);
	pst_buf_free(&from);
	return rc;
}

int
filter_ctx_write_message(struct filter_ctx *ctx, struct pst_spool *out,
			 const char **error_r)
{
	const struct filter_conf *conf;
	struct filter_tx *tx;
	struct edit_list l = { NULL, 0, 0 };
	struct edit_writer w;
	struct pst_buf ar;
	int rc = -1;

	if (ctx == NULL || out == NULL || ctx->tx->spool == NULL ||
	    ctx->tx->root == NULL) {
		*error_r = "no message";
		return -1;
	}
	conf = ctx->chain->conf;
	tx = ctx->tx;
	memset(&w, 0, sizeof(w));
	w.out = out;
	pst_buf_init(&w.text, 0);
	pst_buf_init(&ar, 0);
	if (rewrite_plan_active(tx->rewrite)) {
		w.rw = rewrite_prepare(tx->rewrite, tx->spool, tx->root,
				       tx->arena, &w.error);
		if (w.rw == NULL)
			goto done;
		if (!rewrite_job_changes(w.rw))
			w.rw = NULL;
	}
	l.cap = tx->nheaders + tx->nedits + 1 + rewrite_add_count(w.rw);
	l.v = calloc(l.cap, sizeof(*l.v));
	w.chunk = malloc(EDIT_CHUNK);
	if (l.v == NULL || w.chunk == NULL) {
		w.error = "out of memory";
		goto done;
	}
	for (size_t i = 0; i < tx->nheaders; i++) {
		l.v[i].h = tx->headers[i];
		l.v[i].idx = i;
		l.v[i].name = tx->headers[i]->name.p;
	}
	l.n = tx->nheaders;
	for (size_t i = 0; i < tx->nedits; i++)
		edit_apply(&l, &tx->edits[i]);
	edit_rewrite_fields(&l, w.rw);
	if (edit_ar_enabled(conf)) {
		size_t pos = 0;

		for (size_t i = 0; i < l.n; i++) {
			struct edit_item *it = &l.v[i];

			if (it->h == NULL)
				continue;
			if (it->idx == 0)
				pos = i + 1;
			if (!it->deleted &&
			    edit_ar_ours(conf, it->name,
					 it->value
						 ? pst_str_from_cstr(it->value)
						 : it->h->unfolded))
				it->deleted = true;
		}
		if (edit_ar_value(ctx, &ar) < 0) {
			w.error = "out of memory";
			goto done;
		}
		if (ar.len > 0)
			edit_insert(&l, pos, EDIT_AR_NAME, ar.data);
	}
	if (tx->signer != NULL)
		rc = edit_write_signed(ctx, &l, &w);
	else
		rc = edit_write(ctx, &l, &w);
	if (rc == 0)
		rc = edit_flush(&w);
	if (rc == 0)
		rc = pst_spool_flush(out, &w.error);
	if (rc == 0 && w.rw != NULL) {
		rc = rewrite_check(w.rw, out, &w.error);
		if (rc == 0)
			pst_log(PST_LOG_INFO, "filter", "%s: rewritten: %s",
				tx->qid, rewrite_job_summary(w.rw));
	}
done:
	if (w.body != NULL && w.body != tx->spool)
		pst_spool_free(&w.body);
	if (rc < 0)
		*error_r = w.error ? w.error : "cannot write the message";
	free(l.v);
	free(w.chunk);
	pst_buf_free(&w.text);
	pst_buf_free(&ar);
	return rc;
}
