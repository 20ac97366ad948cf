/*
 * content.c - the text and URLs of a message (see content.h), and the
 * built-in `filter content { max_text = 4M; max_urls = 1000; }` that
 * makes them once per transaction for the rules (body, urls,
 * url.domain) and sets the results "content.urls" and
 * "content.domains" (counts).  Per-transaction state on its own arena,
 * freed at reset; calls for one session never overlap.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "content.h"
#include "filter_int.h"
#include "html_text.h"
#include "url_extract.h"

void
content_limits_default(struct content_limits *l)
{
	l->max_text = (size_t)4 << 20;
	l->max_urls = 1000;
}

struct content_build {
	struct pst_arena *arena;
	const struct content_limits *l;
	struct content_result *r;
	size_t urls_cap, domains_cap;
	bool oom;
};

/* Add s to a distinct list; false when out of memory. */
static bool
content_list_add(struct content_build *b, const char ***list, size_t *n,
		 size_t *cap, const char *s, size_t len)
{
	char *copy;

	for (size_t i = 0; i < *n; i++)
		if (strlen((*list)[i]) == len &&
		    memcmp((*list)[i], s, len) == 0)
			return true;
	if (*n >= b->l->max_urls) {
		b->r->truncated = true;
		return true;
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		const char **nl = pst_arena_calloc(b->arena, ncap, sizeof(*nl));

		if (nl == NULL)
			return false;
		if (*n > 0)
			memcpy(nl, *list, *n * sizeof(*nl));
		*list = nl;
		*cap = ncap;
	}
	copy = pst_arena_strndup(b->arena, s, len);
	if (copy == NULL)
		return false;
	(*list)[(*n)++] = copy;
	return true;
}

static int
content_url(void *arg, const char *url, size_t len)
{
	struct content_build *b = arg;
	char host[URL_DOMAIN_MAX + 1];
	size_t hl;

	if (len > URL_EXTRACT_MAX)
		len = URL_EXTRACT_MAX;
	/* only web links: href="mailto:", "#top", "cid:" are not */
	if (len < 4 || (strncasecmp(url, "http", 4) != 0 &&
			strncasecmp(url, "ftp:", 4) != 0 &&
			strncasecmp(url, "www.", 4) != 0))
		return 0;
	if (!content_list_add(b, &b->r->urls, &b->r->nurls, &b->urls_cap, url,
			      len)) {
		b->oom = true;
		return -1;
	}
	hl = url_domain(url, len, host, sizeof(host));
	if (hl > 0 && !content_list_add(b, &b->r->domains, &b->r->ndomains,
					&b->domains_cap, host, hl)) {
		b->oom = true;
		return -1;
	}
	return 0;
}

/* A body text part: a text type not marked as an attachment, not empty. */
static bool
content_is_text(const struct mime_part *p)
{
	return p->kind == MIME_PART_LEAF && p->size > 0 &&
	       strncmp(p->type, "text/", 5) == 0 &&
	       (p->disposition == NULL ||
		strcmp(p->disposition, "attachment") != 0) &&
	       p->filename.p == NULL;
}

/* Append the text of p to body (UTF-8, HTML reduced); URLs to b. */
static int
content_part(struct content_build *b, const struct mime_part *p,
	     mime_pread_fn *pread, void *ctx, struct pst_buf *body)
{
	struct mime_reader *r = mime_reader_open(p, pread, ctx);
	struct charset_conv *conv = charset_conv_new(p->charset);
	bool html = strcmp(p->type, "text/html") == 0;
	size_t start = body->len;
	struct pst_buf text;
	char chunk[16384];
	ssize_t n = 0;
	int rc = -1;

	pst_buf_init(&text, 0);
	if (r == NULL || conv == NULL)
		goto out;
	while (text.len < b->l->max_text &&
	       (n = mime_reader_read(r, chunk, sizeof(chunk))) > 0)
		if (charset_conv_feed(conv, chunk, (size_t)n, &text) < 0)
			goto out;
	if (n < 0 || charset_conv_finish(conv, &text) < 0)
		goto out;
	if (text.len >= b->l->max_text)
		b->r->truncated = true;
	if (html) {
		int h = html_text(text.data ? text.data : "", text.len, body,
				  content_url, b);

		if (h < 0 && b->oom)
			goto out;
		if (h < 0)
			b->r->truncated = true;
	} else if (text.len > 0 &&
		   pst_buf_append(body, text.data, text.len) < 0) {
		b->r->truncated = true;
	}
	/* URLs written as text (in HTML too: "visit www.x.example") */
	if (url_extract(body->data ? body->data + start : "", body->len - start,
			content_url, b) != 0 &&
	    b->oom)
		goto out;
	pst_buf_append(body, "\n", 1);
	rc = 0;
out:
	mime_reader_close(&r);
	charset_conv_free(&conv);
	pst_buf_free(&text);
	return rc;
}

int
content_extract(struct pst_arena *arena, const struct content_limits *l,
		const struct mime_part *root, mime_pread_fn *pread,
		void *pread_ctx, struct content_result **result_r,
		const char **error_r)
{
	struct content_build b = { .arena = arena, .l = l };
	struct pst_buf body;
	char *text;

	*result_r = NULL;
	b.r = pst_arena_zalloc(arena, sizeof(*b.r));
	if (b.r == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	pst_buf_init(&body, l->max_text);
	for (const struct mime_part *p = root; p != NULL;
	     p = mime_part_next(p)) {
		if (!content_is_text(p))
			continue;
		if (body.len >= l->max_text) {
			b.r->truncated = true;
			break;
		}
		if (content_part(&b, p, pread, pread_ctx, &body) < 0) {
			pst_buf_free(&body);
			*error_r = b.oom ? "out of memory"
					 : "cannot read a text part";
			return -1;
		}
	}
	text = pst_arena_alloc(arena, body.len + 1);
	if (text == NULL) {
		pst_buf_free(&body);
		*error_r = "out of memory";
		return -1;
	}
	if (body.len > 0)
		memcpy(text, body.data, body.len);
	text[body.len] = '\0';
	b.r->text = text;
	b.r->text_len = body.len;
	pst_buf_free(&body);
	*result_r = b.r;
	return 0;
}

/* ---- the filter ---- */

struct content_filter {
	struct content_limits limits;
};

struct content_txn {
	struct pst_arena *arena;
	struct content_result *result;
	const char *error;
	bool done;
};

extern const struct postern_filter filter_content_def;

static int
content_filter_init(struct pf_module *m)
{
	struct content_filter *f = pst_arena_zalloc(m->arena, sizeof(*f));
	uint64_t max_text;
	int64_t max_urls;

	if (f == NULL) {
		pf_module_error(m, NULL, "out of memory");
		return -1;
	}
	content_limits_default(&f->limits);
	max_text = f->limits.max_text;
	max_urls = (int64_t)f->limits.max_urls;
	if (pf_option_size(m, "max_text", &max_text) < 0 ||
	    pf_option_int(m, "max_urls", &max_urls) < 0)
		return -1;
	if (max_text < 1024 || max_text > ((uint64_t)1 << 30)) {
		pf_module_error(m, "max_text", "'max_text' must be 1K to 1G");
		return -1;
	}
	if (max_urls < 1 || max_urls > 100000) {
		pf_module_error(m, "max_urls",
				"'max_urls' must be 1 to 100000");
		return -1;
	}
	f->limits.max_text = (size_t)max_text;
	f->limits.max_urls = (size_t)max_urls;
	pf_module_set_data(m, f);
	return 0;
}

static ssize_t
content_filter_pread(void *ctx, void *buf, size_t len, uint64_t offset)
{
	return pf_message_read(ctx, buf, len, offset);
}

static int
content_filter_run(struct pf_txn *t, const struct content_limits *l,
		   struct pst_arena *arena, struct content_result **r,
		   const char **error_r)
{
	const struct pf_part *root = pf_part_root(t);

	return content_extract(arena, l,
			       (const struct mime_part *)(const void *)root,
			       content_filter_pread, t, r, error_r);
}

/* The content module's cached result (its txn: ct), made now if need
 * be, reading the message as t (the filter being called). */
static const struct content_txn *
content_filter_cached(struct pf_txn *t, struct pf_txn *ct)
{
	const struct content_filter *f = pf_module_data(pf_txn_module(ct));
	struct content_txn *st = pf_txn_data(ct);

	if (st == NULL) {
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return NULL;
		pf_txn_set_data(ct, st);
	}
	if (st->done)
		return st;
	if (st->arena == NULL && (st->arena = pst_arena_new(0)) == NULL)
		return NULL;
	st->done = true;
	if (content_filter_run(t, &f->limits, st->arena, &st->result,
			       &st->error) < 0)
		st->result = NULL;
	return st;
}

const struct content_result *
content_filter_result(struct pf_txn *t, struct pst_arena *arena,
		      const char **error_r)
{
	const struct filter_chain *chain = t->ctx->chain;
	struct content_limits l;
	struct content_result *r;

	*error_r = "out of memory";
	for (size_t i = 0; i < chain->nmodules; i++) {
		struct pf_txn *ct = &t->ctx->txns[i];
		const struct content_txn *st;

		if (chain->modules[i]->def != &filter_content_def ||
		    pf_module_data(pf_txn_module(ct)) == NULL)
			continue;
		st = content_filter_cached(t, ct);
		if (st == NULL)
			return NULL;
		if (st->result == NULL)
			*error_r = st->error;
		return st->result;
	}
	content_limits_default(&l);
	if (content_filter_run(t, &l, arena, &r, error_r) < 0)
		return NULL;
	return r;
}

static enum pf_verdict
content_filter_message(struct pf_txn *t)
{
	const struct content_txn *st = content_filter_cached(t, t);
	char n[32];

	if (st == NULL || st->result == NULL) {
		pf_log(t, PF_LOG_ERR, "content: %s",
		       st != NULL && st->error ? st->error : "out of memory");
		return PF_ERROR;
	}
	snprintf(n, sizeof(n), "%zu", st->result->nurls);
	pf_result_set(t, "content.urls", n);
	snprintf(n, sizeof(n), "%zu", st->result->ndomains);
	pf_result_set(t, "content.domains", n);
	return PF_CONTINUE;
}

static void
content_filter_reset(struct pf_txn *t)
{
	struct content_txn *st = pf_txn_data(t);

	if (st == NULL)
		return;
	pst_arena_free(&st->arena);
	st->result = NULL;
	st->error = NULL;
	st->done = false;
}

static void
content_filter_close(struct pf_txn *t)
{
	struct content_txn *st = pf_txn_data(t);

	if (st == NULL)
		return;
	pst_arena_free(&st->arena);
	free(st);
	pf_txn_set_data(t, NULL);
}

const struct postern_filter filter_content_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "content",
	.init = content_filter_init,
	.on_message = content_filter_message,
	.on_reset = content_filter_reset,
	.on_close = content_filter_close,
};
