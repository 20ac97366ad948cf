/*
 * ctx.c - a session as the filter chain sees it: the filter_ctx's state
 * (client, HELO, transactions, what filters said) and the host functions
 * of the plugin ABI (the table filter_host) through which filters read
 * and change it.
 *
 * Every host function checks its arguments and the stage: a filter gets
 * -1 (or NULL, 0) for a wrong key, a value that would break a header or
 * a log line, a function that means nothing at this stage, or a call
 * outside its own callback, never a crash.  Host functions run on
 * whichever thread runs the filter; the scheduling in run.c makes sure
 * only one thread runs filters of a ctx at a time.  Strings handed out
 * live on the session's or the transaction's arena.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_results.h"
#include "filter_int.h"
#include "log.h"
#include "mime_header.h"
#include "rewrite.h"
#include "smtp_addr.h"
#include "smtp_reply.h"
#include "spool.h"
#include "utf8.h"

/* ---- validation ---- */

bool
filter_key_valid(const char *s, size_t max)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (n >= max ||
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0;
}

/* Printable UTF-8 of at most max bytes: no control character but HTAB
 * when tab is set, no invalid sequence. */
static bool
filter_text_valid(const char *s, size_t max, bool tab)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, i = 0;

	if (s == NULL)
		return false;
	len = strlen(s);
	if (len > max)
		return false;
	while (i < len) {
		if (p[i] >= 0x80) {
			size_t n = pst_utf8_seq_len(p + i, len - i);

			if (n == 0)
				return false;
			i += n;
			continue;
		}
		if ((p[i] < 0x20 && !(tab && p[i] == '\t')) || p[i] == 0x7f)
			return false;
		i++;
	}
	return true;
}

bool
filter_value_foldable(size_t name_len, const char *value)
{
	size_t line = name_len + 2, i = 0;

	/* The first word stays on the name's line; every later run of
	 * blanks and a word may start a line of its own. */
	while (value[i] != '\0') {
		size_t start = i;

		while (value[i] == ' ' || value[i] == '\t')
			i++;
		while (value[i] != '\0' && value[i] != ' ' && value[i] != '\t')
			i++;
		if (start == 0 ? line + i > FILTER_LINE_MAX
			       : i - start > FILTER_LINE_MAX)
			return false;
	}
	return true;
}

static bool
filter_header_name_ok(const char *name)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strlen(name);
	return len > 0 && len <= FILTER_HEADER_NAME_MAX &&
	       mime_header_name_valid(name, len);
}

/* A header value: printable UTF-8 and blanks, no line break (the host
 * folds), foldable after name. */
static bool
filter_header_value_ok(const char *name, const char *value)
{
	return filter_text_valid(value, FILTER_HEADER_VALUE_MAX, true) &&
	       filter_value_foldable(strlen(name), value);
}

/* "local@domain" as RCPT TO would accept it (UTF-8 allowed), no
 * routing tricks. */
static bool
filter_rcpt_ok(const char *rcpt)
{
	char path[SMTP_ADDR_MAX_PATH + 3];
	struct smtp_addr a;
	const char *err;
	size_t len, used;
	int n;

	if (rcpt == NULL || (len = strlen(rcpt)) == 0 ||
	    len > SMTP_ADDR_MAX_PATH - 2)
		return false;
	n = snprintf(path, sizeof(path), "<%s>", rcpt);
	if (n < 0 || (size_t)n >= sizeof(path))
		return false;
	if (smtp_addr_parse(path, (size_t)n,
			    SMTP_ADDR_ALLOW_UTF8 | SMTP_ADDR_ALLOW_POSTMASTER,
			    &a, &used, &err) < 0)
		return false;
	return used == (size_t)n &&
	       (a.flags & (SMTP_ADDR_F_ROUTING | SMTP_ADDR_F_SOURCE_ROUTE |
			   SMTP_ADDR_F_NULL)) == 0;
}

/* ---- arrays on arenas ---- */

/* Make room for one more of n elements in *v (capacity *cap, at most
 * max).  0, or -1 when full or out of memory. */
static int
filter_grow(struct pst_arena *arena, void **v, size_t n, size_t *cap,
	    size_t size, size_t max)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -1;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > max)
		ncap = max;
	nv = pst_arena_calloc(arena, ncap, size);
	if (nv == NULL)
		return -1;
	if (n > 0)
		memcpy(nv, *v, n * size);
	*v = nv;
	*cap = ncap;
	return 0;
}

#define FILTER_GROW(arena, arr, n, cap, max)                                   \
	filter_grow((arena), (void **)&(arr), (n), &(cap), sizeof(*(arr)),     \
		    (max))

/* ---- transactions ---- */

struct filter_tx *
filter_tx_get(struct filter_ctx *ctx)
{
	struct filter_tx *tx = ctx->free_tx;

	if (tx != NULL) {
		ctx->free_tx = tx->next_free;
		tx->next_free = NULL;
		return tx;
	}
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL)
		return NULL;
	tx->arena = pst_arena_new(0);
	if (tx->arena == NULL) {
		free(tx);
		return NULL;
	}
	tx->qid = "";
	tx->reset.stage = FILTER_RESET;
	tx->reset.tx = tx;
	tx->next_all = ctx->all_tx;
	ctx->all_tx = tx;
	return tx;
}

/* Forget the content, keep the arena's first block and the links. */
static void
filter_tx_clear(struct filter_tx *tx)
{
	struct pst_arena *arena = tx->arena;
	struct filter_tx *next_all = tx->next_all;

	if (tx->owns_spool)
		pst_spool_free(&tx->spool);
	pst_arena_reset(arena);
	memset(tx, 0, sizeof(*tx));
	tx->arena = arena;
	tx->next_all = next_all;
	tx->qid = "";
	tx->reset.stage = FILTER_RESET;
	tx->reset.tx = tx;
}

void
filter_tx_recycle(struct filter_ctx *ctx, struct filter_tx *tx)
{
	filter_tx_clear(tx);
	if (tx == ctx->tx)
		return; /* cleared in place */
	tx->next_free = ctx->free_tx;
	ctx->free_tx = tx;
}

void
filter_ctx_destroy(struct filter_ctx *ctx)
{
	struct filter_tx *tx = ctx->all_tx;

	while (tx != NULL) {
		struct filter_tx *next = tx->next_all;

		if (tx->owns_spool)
			pst_spool_free(&tx->spool);
		pst_arena_free(&tx->arena);
		free(tx);
		tx = next;
	}
	ctx->all_tx = ctx->tx = ctx->spare = ctx->free_tx = NULL;
	if (ctx->job.timer != NULL)
		event_free(ctx->job.timer);
	ctx->job.timer = NULL;
	pst_arena_free(&ctx->arena);
}

/* Is tx being worked on by a job that was given up?  The session must
 * not touch it then. */
static bool
filter_tx_lost(const struct filter_ctx *ctx, const struct filter_tx *tx)
{
	return ctx->orphaned && ctx->busy && ctx->job.req != NULL &&
	       ctx->job.req->tx == tx;
}

/* ---- the session's side ---- */

static void
filter_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

struct filter_ctx *
filter_ctx_new(const struct filter_chain *chain, struct event_base *base,
	       struct pst_workq *workq, const struct filter_client *client)
{
	struct filter_ctx *ctx;
	struct filter_client *c;

	if (chain == NULL || client == NULL)
		return NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return NULL;
	ctx->chain = chain;
	ctx->base = base;
	ctx->workq = base != NULL ? workq : NULL;
	ctx->call_stage = FILTER_STAGE__COUNT;
	ctx->stage_req.stage = FILTER_CONNECT;
	ctx->close_req.stage = FILTER_CLOSE;
	atomic_init(&ctx->job.deadline, 0);
	atomic_init(&ctx->job.module, 0);
	atomic_init(&ctx->job.orphaned, false);
	ctx->arena = pst_arena_new(0);
	if (ctx->arena == NULL)
		goto fail;
	c = &ctx->client;
	c->addr =
		pst_arena_strdup(ctx->arena, client->addr ? client->addr : "");
	c->port = client->port;
	c->trusted = client->trusted;
	c->name = pst_arena_strdup(ctx->arena,
				   client->name ? client->name : "unknown");
	c->auth_user = client->auth_user
			       ? pst_arena_strdup(ctx->arena, client->auth_user)
			       : NULL;
	c->session_id = pst_arena_strdup(
		ctx->arena, client->session_id ? client->session_id : "");
	if (c->addr == NULL || c->name == NULL || c->session_id == NULL ||
	    (client->auth_user != NULL && c->auth_user == NULL))
		goto fail;
	ctx->helo = pst_arena_zalloc(ctx->arena, FILTER_SESSION_STR_MAX);
	ctx->tls = pst_arena_zalloc(ctx->arena, FILTER_SESSION_STR_MAX);
	ctx->txns = pst_arena_calloc(ctx->arena,
				     chain->nmodules ? chain->nmodules : 1,
				     sizeof(*ctx->txns));
	if (ctx->helo == NULL || ctx->tls == NULL || ctx->txns == NULL)
		goto fail;
	if (client->tls != NULL)
		filter_ctx_set_tls(ctx, client->tls);
	c->tls = NULL; /* read through ctx->tls */
	for (size_t i = 0; i < chain->nmodules; i++) {
		ctx->txns[i].handle.host = &filter_host;
		ctx->txns[i].ctx = ctx;
		ctx->txns[i].module = chain->modules[i];
	}
	ctx->tx = filter_tx_get(ctx);
	if (ctx->tx == NULL)
		goto fail;
	filter_live_add(ctx);
	return ctx;
fail:
	filter_ctx_destroy(ctx);
	free(ctx);
	return NULL;
}

int
filter_ctx_set_helo(struct filter_ctx *ctx, const char *helo)
{
	if (ctx == NULL || helo == NULL)
		return -1;
	filter_copy_str(ctx->helo, FILTER_SESSION_STR_MAX, helo);
	return 0;
}

int
filter_ctx_set_tls(struct filter_ctx *ctx, const char *tls)
{
	if (ctx == NULL)
		return -1;
	ctx->has_tls = tls != NULL;
	filter_copy_str(ctx->tls, FILTER_SESSION_STR_MAX, tls ? tls : "");
	return 0;
}

int
filter_ctx_txn_begin(struct filter_ctx *ctx, const char *qid, const char *from)
{
	struct filter_tx *tx;

	if (ctx == NULL || qid == NULL || from == NULL ||
	    filter_tx_lost(ctx, ctx->tx))
		return -1;
	/* filter_ctx_txn_end() cannot fail: it takes this one. */
	if (ctx->spare == NULL && (ctx->spare = filter_tx_get(ctx)) == NULL)
		return -1;
	tx = ctx->tx;
	tx->qid = pst_arena_strdup(tx->arena, qid);
	tx->from = pst_arena_strdup(tx->arena, from);
	if (tx->qid == NULL || tx->from == NULL) {
		tx->qid = "";
		tx->from = NULL;
		return -1;
	}
	tx->begun = true;
	return 0;
}

int
filter_ctx_rcpt_accepted(struct filter_ctx *ctx, const struct filter_rcpt *rcpt)
{
	struct filter_tx *tx;
	struct filter_rcpt *r;

	if (ctx == NULL || rcpt == NULL || rcpt->addr == NULL ||
	    filter_tx_lost(ctx, ctx->tx))
		return -1;
	tx = ctx->tx;
	if (FILTER_GROW(tx->arena, tx->rcpts, tx->nrcpt, tx->rcpt_cap,
			SIZE_MAX / sizeof(*tx->rcpts)) < 0)
		return -1;
	r = &tx->rcpts[tx->nrcpt];
	r->addr = pst_arena_strdup(tx->arena, rcpt->addr);
	r->orcpt =
		rcpt->orcpt ? pst_arena_strdup(tx->arena, rcpt->orcpt) : NULL;
	r->notify = rcpt->notify;
	if (r->addr == NULL || (rcpt->orcpt != NULL && r->orcpt == NULL))
		return -1;
	tx->nrcpt++;
	return 0;
}

struct pst_arena *
filter_ctx_txn_arena(struct filter_ctx *ctx)
{
	return ctx != NULL && ctx->tx != NULL ? ctx->tx->arena : NULL;
}

int
filter_ctx_set_message(struct filter_ctx *ctx, struct pst_spool *spool,
		       const struct mime_part *root)
{
	struct filter_tx *tx;
	const struct mime_header **v = NULL;
	size_t n = 0;

	if (ctx == NULL || spool == NULL || root == NULL ||
	    filter_tx_lost(ctx, ctx->tx))
		return -1;
	tx = ctx->tx;
	for (const struct mime_header *h = root->headers; h != NULL;
	     h = h->next)
		n++;
	if (n > 0) {
		v = pst_arena_calloc(tx->arena, n, sizeof(*v));
		if (v == NULL)
			return -1; /* the spool stays the caller's */
		n = 0;
		for (const struct mime_header *h = root->headers; h != NULL;
		     h = h->next)
			v[n++] = h;
	}
	if (tx->owns_spool && tx->spool != spool)
		pst_spool_free(&tx->spool);
	tx->spool = spool;
	tx->owns_spool = true;
	tx->root = root;
	tx->headers = v;
	tx->nheaders = n;
	return 0;
}

struct pst_spool *
filter_ctx_take_spool(struct filter_ctx *ctx)
{
	struct filter_tx *tx;

	if (ctx == NULL || filter_tx_lost(ctx, ctx->tx))
		return NULL;
	tx = ctx->tx;
	if (!tx->owns_spool)
		return NULL;
	/* Still readable here for filter_ctx_write_message(): the caller
	 * keeps it at least until filter_ctx_txn_end(). */
	tx->owns_spool = false;
	return tx->spool;
}

int
filter_ctx_restore(struct filter_ctx *ctx, const char *helo, const char *qid,
		   const char *from, const struct filter_rcpt *rcpts,
		   size_t nrcpt, const char *skip_filter)
{
	if (ctx == NULL)
		return -1;
	if (helo != NULL && filter_ctx_set_helo(ctx, helo) < 0)
		return -1;
	if (qid != NULL &&
	    filter_ctx_txn_begin(ctx, qid, from != NULL ? from : "") < 0)
		return -1;
	for (size_t i = 0; qid != NULL && i < nrcpt; i++)
		if (filter_ctx_rcpt_accepted(ctx, &rcpts[i]) < 0)
			return -1;
	for (size_t i = 0; skip_filter != NULL && i < ctx->chain->nmodules; i++)
		if (strcmp(ctx->chain->modules[i]->conf->name, skip_filter) ==
		    0)
			ctx->lost[i] = true;
	return 0;
}

/* ---- what the chain made of it ---- */

size_t
filter_ctx_rcpt_count(const struct filter_ctx *ctx)
{
	return ctx != NULL ? ctx->tx->nrcpt : 0;
}

const struct filter_rcpt *
filter_ctx_rcpt(const struct filter_ctx *ctx, size_t i)
{
	return ctx != NULL && i < ctx->tx->nrcpt ? &ctx->tx->rcpts[i] : NULL;
}

static const struct filter_kv *
filter_said_find(const struct filter_said *said, const char *key)
{
	for (size_t i = 0; i < said->nresults; i++)
		if (strcmp(said->results[i].key, key) == 0)
			return &said->results[i];
	return NULL;
}

/* Session results that the transaction does not override, then the
 * transaction's: the i-th of them. */
static const struct filter_kv *
filter_ctx_kv(const struct filter_ctx *ctx, size_t i, size_t *count_r)
{
	const struct filter_said *s = &ctx->session, *t = &ctx->tx->said;
	size_t n = 0;

	for (size_t k = 0; k < s->nresults; k++) {
		if (filter_said_find(t, s->results[k].key) != NULL)
			continue;
		if (n++ == i)
			return &s->results[k];
	}
	if (i >= n && i - n < t->nresults)
		return &t->results[i - n];
	if (count_r != NULL)
		*count_r = n + t->nresults;
	return NULL;
}

size_t
filter_ctx_result_count(const struct filter_ctx *ctx)
{
	size_t n = 0;

	if (ctx == NULL)
		return 0;
	filter_ctx_kv(ctx, SIZE_MAX, &n);
	return n;
}

void
filter_ctx_result(const struct filter_ctx *ctx, size_t i, const char **key_r,
		  const char **value_r)
{
	const struct filter_kv *kv = ctx ? filter_ctx_kv(ctx, i, NULL) : NULL;

	*key_r = kv ? kv->key : NULL;
	*value_r = kv ? kv->value : NULL;
}

static const char *
filter_result_lookup(const struct filter_ctx *ctx, const struct filter_tx *tx,
		     const char *key)
{
	const struct filter_kv *kv = NULL;

	if (key == NULL)
		return NULL;
	if (tx != NULL)
		kv = filter_said_find(&tx->said, key);
	if (kv == NULL)
		kv = filter_said_find(&ctx->session, key);
	return kv ? kv->value : NULL;
}

const char *
filter_ctx_result_get(const struct filter_ctx *ctx, const char *key)
{
	return ctx != NULL ? filter_result_lookup(ctx, ctx->tx, key) : NULL;
}

double
filter_ctx_score(const struct filter_ctx *ctx)
{
	return ctx != NULL ? ctx->session.score + ctx->tx->said.score : 0;
}

size_t
filter_ctx_tag_count(const struct filter_ctx *ctx)
{
	return ctx != NULL ? ctx->session.ntags + ctx->tx->said.ntags : 0;
}

const char *
filter_ctx_tag(const struct filter_ctx *ctx, size_t i)
{
	if (ctx == NULL)
		return NULL;
	if (i < ctx->session.ntags)
		return ctx->session.tags[i];
	i -= ctx->session.ntags;
	return i < ctx->tx->said.ntags ? ctx->tx->said.tags[i] : NULL;
}

size_t
filter_ctx_edit_count(const struct filter_ctx *ctx)
{
	return ctx != NULL ? ctx->tx->nedits : 0;
}

const struct filter_header_edit *
filter_ctx_edit(const struct filter_ctx *ctx, size_t i)
{
	return ctx != NULL && i < ctx->tx->nedits ? &ctx->tx->edits[i] : NULL;
}

/* ---- host functions: the call in progress ---- */

void
filter_ctx_reset_call(struct filter_ctx *ctx)
{
	ctx->reply_code = 0;
	ctx->reply_enhanced[0] = '\0';
	ctx->reply_text[0] = '\0';
	ctx->quarantine[0] = '\0';
}

/* The ctx when t's filter is being called now, else NULL. */
static struct filter_ctx *
host_ctx(struct pf_txn *t)
{
	struct filter_ctx *ctx;

	if (t == NULL || t->ctx == NULL)
		return NULL;
	ctx = t->ctx;
	if (ctx->call_stage >= FILTER_STAGE__COUNT ||
	    ctx->call_module != t->module)
		return NULL;
	return ctx;
}

/* The same, only at stages from..to. */
static struct filter_ctx *
host_ctx_at(struct pf_txn *t, enum filter_stage from, enum filter_stage to)
{
	struct filter_ctx *ctx = host_ctx(t);

	if (ctx == NULL || ctx->call_stage < from || ctx->call_stage > to)
		return NULL;
	return ctx;
}

/* Where what a filter says now goes, and its arena; NULL at reset and
 * close (nothing said then would be read). */
static struct filter_said *
host_said(struct filter_ctx *ctx, struct pst_arena **arena_r)
{
	switch (ctx->call_stage) {
	case FILTER_CONNECT:
	case FILTER_HELO:
		*arena_r = ctx->arena;
		return &ctx->session;
	case FILTER_MAIL:
	case FILTER_RCPT:
	case FILTER_MESSAGE:
		*arena_r = ctx->call_tx->arena;
		return &ctx->call_tx->said;
	default:
		return NULL;
	}
}

static struct pf_module *
host_txn_module(struct pf_txn *t)
{
	return t != NULL ? t->module : NULL;
}

static void
host_txn_set_data(struct pf_txn *t, void *data)
{
	if (t != NULL)
		t->data = data;
}

static void *
host_txn_data(struct pf_txn *t)
{
	return t != NULL ? t->data : NULL;
}

static const char *
host_queue_id(struct pf_txn *t)
{
	struct filter_ctx *ctx = host_ctx(t);

	return ctx != NULL && ctx->call_tx != NULL ? ctx->call_tx->qid : "";
}

static const char *
host_client_addr(struct pf_txn *t)
{
	return t != NULL ? t->ctx->client.addr : "";
}

static unsigned
host_client_port(struct pf_txn *t)
{
	return t != NULL ? t->ctx->client.port : 0;
}

static const char *
host_client_name(struct pf_txn *t)
{
	return t != NULL ? t->ctx->client.name : "unknown";
}

static const char *
host_helo(struct pf_txn *t)
{
	struct filter_ctx *ctx = host_ctx(t);

	return ctx != NULL && ctx->call_helo != NULL ? ctx->call_helo : "";
}

static const char *
host_tls(struct pf_txn *t)
{
	struct filter_ctx *ctx = host_ctx(t);

	return ctx != NULL ? ctx->call_tls : NULL;
}

static const char *
host_auth_user(struct pf_txn *t)
{
	return t != NULL ? t->ctx->client.auth_user : NULL;
}

static const char *
host_mail_from(struct pf_txn *t)
{
	struct filter_ctx *ctx = host_ctx(t);

	return ctx != NULL && ctx->call_tx->begun ? ctx->call_tx->from : NULL;
}

static size_t
host_rcpt_count(struct pf_txn *t)
{
	struct filter_ctx *ctx = host_ctx(t);

	return ctx != NULL ? ctx->call_tx->nrcpt : 0;
}

static const char *
host_rcpt(struct pf_txn *t, size_t i)
{
	struct filter_ctx *ctx = host_ctx(t);

	if (ctx == NULL || i >= ctx->call_tx->nrcpt)
		return NULL;
	return ctx->call_tx->rcpts[i].addr;
}

/* ---- host functions: the message ---- */

static struct filter_tx *
host_message(struct pf_txn *t)
{
	struct filter_ctx *ctx = host_ctx_at(t, FILTER_MESSAGE, FILTER_MESSAGE);

	if (ctx == NULL || ctx->call_tx->spool == NULL)
		return NULL;
	return ctx->call_tx;
}

static uint64_t
host_message_size(struct pf_txn *t)
{
	struct filter_tx *tx = host_message(t);

	return tx != NULL ? pst_spool_size(tx->spool) : 0;
}

static size_t
host_header_count(struct pf_txn *t)
{
	struct filter_tx *tx = host_message(t);

	return tx != NULL ? tx->nheaders : 0;
}

static int
host_header(struct pf_txn *t, size_t i, const char **name_r,
	    const char **value_r)
{
	struct filter_tx *tx = host_message(t);

	if (tx == NULL || i >= tx->nheaders || name_r == NULL ||
	    value_r == NULL)
		return -1;
	*name_r = tx->headers[i]->name.p;
	*value_r = tx->headers[i]->value.p;
	return 0;
}

static const char *
host_header_value(struct pf_txn *t, const char *name, size_t nth)
{
	struct filter_tx *tx = host_message(t);

	if (tx == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < tx->nheaders; i++)
		if (strcasecmp(tx->headers[i]->name.p, name) == 0 && nth-- == 0)
			return tx->headers[i]->value.p;
	return NULL;
}

static ssize_t
host_message_read(struct pf_txn *t, void *buf, size_t len, uint64_t offset)
{
	struct filter_tx *tx = host_message(t);

	if (tx == NULL || (buf == NULL && len > 0))
		return -1;
	return pst_spool_pread(tx->spool, buf, len, offset);
}

/* A pf_part is a mime_part: the tree is read-only while filters run. */
static const struct mime_part *
part_of(const struct pf_part *p)
{
	return (const struct mime_part *)(const void *)p;
}

static const struct pf_part *
pf_part_of(const struct mime_part *p)
{
	return (const struct pf_part *)(const void *)p;
}

static const struct pf_part *
host_part_root(struct pf_txn *t)
{
	struct filter_tx *tx = host_message(t);

	return tx != NULL ? pf_part_of(tx->root) : NULL;
}

static const struct pf_part *
host_part_next(const struct pf_part *p)
{
	return p != NULL ? pf_part_of(mime_part_next(part_of(p))) : NULL;
}

static const struct pf_part *
host_part_parent(const struct pf_part *p)
{
	return p != NULL ? pf_part_of(part_of(p)->parent) : NULL;
}

static unsigned
host_part_depth(const struct pf_part *p)
{
	return p != NULL ? part_of(p)->depth : 0;
}

static const char *
host_part_type(const struct pf_part *p)
{
	return p != NULL ? part_of(p)->type : NULL;
}

static const char *
host_part_charset(const struct pf_part *p)
{
	return p != NULL ? part_of(p)->charset : NULL;
}

static const char *
host_part_disposition(const struct pf_part *p)
{
	return p != NULL ? part_of(p)->disposition : NULL;
}

static const char *
host_part_filename(const struct pf_part *p)
{
	return p != NULL ? part_of(p)->filename.p : NULL;
}

static const char *
host_part_header_value(const struct pf_part *p, const char *name, size_t nth)
{
	const struct mime_header *h = NULL;

	if (p == NULL || name == NULL)
		return NULL;
	do
		h = mime_part_header(part_of(p), h, name);
	while (h != NULL && nth-- > 0);
	return h != NULL ? h->value.p : NULL;
}

static uint64_t
host_part_size(const struct pf_part *p)
{
	return p != NULL ? part_of(p)->size : 0;
}

static uint64_t
host_part_defects(const struct pf_part *p)
{
	return p != NULL ? part_of(p)->defects : 0;
}

struct pf_stream {
	struct pf_stream *next;
	struct pf_txn *txn;
	struct mime_reader *reader;
};

static ssize_t
host_spool_pread(void *spool, void *buf, size_t len, uint64_t offset)
{
	return pst_spool_pread(spool, buf, len, offset);
}

static struct pf_stream *
host_part_open(struct pf_txn *t, const struct pf_part *p)
{
	struct filter_tx *tx = host_message(t);
	struct pf_stream *s;

	if (tx == NULL || p == NULL)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->reader = mime_reader_open(part_of(p), host_spool_pread, tx->spool);
	if (s->reader == NULL) {
		free(s);
		return NULL;
	}
	s->txn = t;
	s->next = t->streams;
	t->streams = s;
	return s;
}

static ssize_t
host_stream_read(struct pf_stream *s, void *buf, size_t len)
{
	if (s == NULL || (buf == NULL && len > 0))
		return -1;
	return mime_reader_read(s->reader, buf, len);
}

static void
host_stream_close(struct pf_stream *s)
{
	struct pf_stream **pp;

	if (s == NULL)
		return;
	for (pp = &s->txn->streams; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	mime_reader_close(&s->reader);
	free(s);
}

void
filter_txn_close_streams(struct pf_txn *t)
{
	while (t->streams != NULL)
		host_stream_close(t->streams);
}

/* ---- host functions: results, score, tags ---- */

static int
host_result_set(struct pf_txn *t, const char *key, const char *value)
{
	struct filter_ctx *ctx = host_ctx(t);
	struct pst_arena *arena;
	struct filter_said *said;
	struct filter_kv *kv = NULL;
	size_t len;

	if (ctx == NULL || (said = host_said(ctx, &arena)) == NULL ||
	    !filter_key_valid(key, FILTER_RESULT_KEY_MAX) ||
	    !filter_text_valid(value, FILTER_RESULT_VALUE_MAX, false))
		return -1;
	len = strlen(value);
	for (size_t i = 0; i < said->nresults; i++)
		if (strcmp(said->results[i].key, key) == 0)
			kv = &said->results[i];
	if (kv == NULL) {
		const char *k;

		if (FILTER_GROW(arena, said->results, said->nresults,
				said->results_cap, FILTER_MAX_RESULTS) < 0 ||
		    (k = pst_arena_strdup(arena, key)) == NULL)
			return -1;
		kv = &said->results[said->nresults];
		memset(kv, 0, sizeof(*kv));
		kv->key = k;
		said->nresults++;
	}
	if (len >= kv->cap) {
		char *v = pst_arena_alloc(arena, len + 1);

		if (v == NULL)
			return -1;
		kv->value = v;
		kv->cap = len + 1;
	}
	memcpy(kv->value, value, len + 1);
	return 0;
}

static const char *
host_result_get(struct pf_txn *t, const char *key)
{
	struct filter_ctx *ctx = host_ctx(t);

	return ctx != NULL ? filter_result_lookup(ctx, ctx->call_tx, key)
			   : NULL;
}

static int
host_score_add(struct pf_txn *t, double delta)
{
	struct filter_ctx *ctx = host_ctx(t);
	struct pst_arena *arena;
	struct filter_said *said;

	if (ctx == NULL || (said = host_said(ctx, &arena)) == NULL ||
	    !isfinite(delta) || !isfinite(said->score + delta))
		return -1;
	said->score += delta;
	return 0;
}

static double
host_score(struct pf_txn *t)
{
	struct filter_ctx *ctx = host_ctx(t);

	if (ctx == NULL)
		return 0;
	return ctx->session.score + ctx->call_tx->said.score;
}

static bool
filter_said_has_tag(const struct filter_said *said, const char *tag)
{
	for (size_t i = 0; i < said->ntags; i++)
		if (strcmp(said->tags[i], tag) == 0)
			return true;
	return false;
}

static int
host_has_tag(struct pf_txn *t, const char *tag)
{
	struct filter_ctx *ctx = host_ctx(t);

	if (ctx == NULL || tag == NULL)
		return 0;
	return filter_said_has_tag(&ctx->session, tag) ||
	       filter_said_has_tag(&ctx->call_tx->said, tag);
}

static int
host_tag(struct pf_txn *t, const char *tag)
{
	struct filter_ctx *ctx = host_ctx(t);
	struct pst_arena *arena;
	struct filter_said *said;
	const char *copy;

	if (ctx == NULL || (said = host_said(ctx, &arena)) == NULL ||
	    !filter_key_valid(tag, FILTER_RESULT_KEY_MAX))
		return -1;
	if (host_has_tag(t, tag))
		return 0;
	if (FILTER_GROW(arena, said->tags, said->ntags, said->tags_cap,
			FILTER_MAX_TAGS) < 0 ||
	    (copy = pst_arena_strdup(arena, tag)) == NULL)
		return -1;
	said->tags[said->ntags++] = copy;
	return 0;
}

static int
host_auth_result(struct pf_txn *t, const char *method, const char *result,
		 const char *props)
{
	struct filter_ctx *ctx = host_ctx(t);
	struct pst_arena *arena;
	struct filter_said *said;
	struct filter_auth *a;

	if (ctx == NULL || (said = host_said(ctx, &arena)) == NULL ||
	    !auth_results_keyword_valid(method) ||
	    !auth_results_keyword_valid(result))
		return -1;
	if (props != NULL && *props == '\0')
		props = NULL;
	if (props != NULL && (!auth_results_props_valid(props) ||
			      !filter_value_foldable(0, props)))
		return -1;
	if (FILTER_GROW(arena, said->auth, said->nauth, said->auth_cap,
			FILTER_MAX_AUTH_RESULTS) < 0)
		return -1;
	a = &said->auth[said->nauth];
	a->method = pst_arena_strdup(arena, method);
	a->result = pst_arena_strdup(arena, result);
	a->props = props ? pst_arena_strdup(arena, props) : NULL;
	if (a->method == NULL || a->result == NULL ||
	    (props != NULL && a->props == NULL))
		return -1;
	said->nauth++;
	return 0;
}

/* ---- host functions: edits ---- */

static int
host_edit(struct filter_ctx *ctx, const char *op, const char *name,
	  const char *value, size_t index)
{
	struct filter_tx *tx = ctx->call_tx;
	struct filter_header_edit *e;

	if (FILTER_GROW(tx->arena, tx->edits, tx->nedits, tx->edits_cap,
			FILTER_MAX_EDITS) < 0)
		return -1;
	e = &tx->edits[tx->nedits];
	e->op = op;
	e->name = pst_arena_strdup(tx->arena, name);
	e->value = value ? pst_arena_strdup(tx->arena, value) : NULL;
	e->index = index;
	if (e->name == NULL || (value != NULL && e->value == NULL))
		return -1;
	tx->nedits++;
	return 0;
}

static int
host_header_add(struct pf_txn *t, const char *name, const char *value)
{
	struct filter_ctx *ctx = host_ctx_at(t, FILTER_MAIL, FILTER_MESSAGE);

	if (ctx == NULL || !filter_header_name_ok(name) ||
	    !filter_header_value_ok(name, value))
		return -1;
	return host_edit(ctx, "add", name, value, 0);
}

static int
host_header_insert(struct pf_txn *t, size_t index, const char *name,
		   const char *value)
{
	struct filter_ctx *ctx = host_ctx_at(t, FILTER_MAIL, FILTER_MESSAGE);

	if (ctx == NULL || !filter_header_name_ok(name) ||
	    !filter_header_value_ok(name, value))
		return -1;
	return host_edit(ctx, "insert", name, value, index);
}

static int
host_header_change(struct pf_txn *t, const char *name, size_t nth,
		   const char *value)
{
	struct filter_ctx *ctx = host_ctx_at(t, FILTER_MESSAGE, FILTER_MESSAGE);
	size_t seen = 0;
	bool found = false;

	if (ctx == NULL || !filter_header_name_ok(name) ||
	    (value != NULL && !filter_header_value_ok(name, value)))
		return -1;
	/* Only a field the message has: the nth as received. */
	for (size_t i = 0; i < ctx->call_tx->nheaders && !found; i++)
		if (strcasecmp(ctx->call_tx->headers[i]->name.p, name) == 0)
			found = seen++ == nth;
	if (!found)
		return -1;
	return host_edit(ctx, value ? "change" : "delete", name, value, nth);
}

static struct filter_ctx *
host_rcpt_edit(struct pf_txn *t, const char *rcpt)
{
	struct filter_ctx *ctx = host_ctx_at(t, FILTER_MESSAGE, FILTER_MESSAGE);

	if (ctx == NULL || !filter_rcpt_ok(rcpt) ||
	    ctx->call_tx->rcpt_edits >= FILTER_MAX_RCPT_EDITS)
		return NULL;
	return ctx;
}

static int
host_rcpt_add(struct pf_txn *t, const char *rcpt)
{
	struct filter_ctx *ctx = host_rcpt_edit(t, rcpt);
	struct filter_tx *tx;

	if (ctx == NULL)
		return -1;
	tx = ctx->call_tx;
	for (size_t i = 0; i < tx->nrcpt; i++)
		if (strcasecmp(tx->rcpts[i].addr, rcpt) == 0)
			return 0;
	if (FILTER_GROW(tx->arena, tx->rcpts, tx->nrcpt, tx->rcpt_cap,
			SIZE_MAX / sizeof(*tx->rcpts)) < 0)
		return -1;
	memset(&tx->rcpts[tx->nrcpt], 0, sizeof(*tx->rcpts));
	tx->rcpts[tx->nrcpt].addr = pst_arena_strdup(tx->arena, rcpt);
	if (tx->rcpts[tx->nrcpt].addr == NULL)
		return -1;
	tx->nrcpt++;
	tx->rcpt_edits++;
	return 0;
}

static int
host_rcpt_delete(struct pf_txn *t, const char *rcpt)
{
	struct filter_ctx *ctx = host_rcpt_edit(t, rcpt);
	struct filter_tx *tx;

	if (ctx == NULL)
		return -1;
	tx = ctx->call_tx;
	for (size_t i = 0; i < tx->nrcpt; i++) {
		if (strcasecmp(tx->rcpts[i].addr, rcpt) == 0) {
			memmove(&tx->rcpts[i], &tx->rcpts[i + 1],
				(tx->nrcpt - i - 1) * sizeof(*tx->rcpts));
			tx->nrcpt--;
			tx->rcpt_edits++;
			return 0;
		}
	}
	return -1;
}

/* Copy text as one line of printable ASCII and UTF-8: line breaks and
 * tabs become blanks, other control bytes and invalid UTF-8 '?'; cut on
 * a character boundary. */
static void
filter_sanitize_line(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t len = strlen(src), i = 0, o = 0;

	while (i < len && o + 1 < size) {
		if (s[i] >= 0x80) {
			size_t n = pst_utf8_seq_len(s + i, len - i);

			if (n == 0) {
				dst[o++] = '?';
				i++;
				continue;
			}
			if (o + n >= size)
				break;
			memcpy(dst + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\t')
			dst[o++] = ' ';
		else if (s[i] < 0x20 || s[i] == 0x7f)
			dst[o++] = '?';
		else
			dst[o++] = (char)s[i];
		i++;
	}
	dst[o] = '\0';
}

static int
host_reply(struct pf_txn *t, unsigned code, const char *enhanced,
	   const char *text)
{
	struct filter_ctx *ctx = host_ctx_at(t, FILTER_CONNECT, FILTER_MESSAGE);

	if (ctx == NULL || code < 400 || code > 599)
		return -1;
	if (enhanced != NULL &&
	    (!smtp_reply_enhanced_valid(enhanced, strlen(enhanced)) ||
	     enhanced[0] != (char)('0' + code / 100)))
		return -1;
	ctx->reply_code = code;
	filter_copy_str(ctx->reply_enhanced, sizeof(ctx->reply_enhanced),
			enhanced ? enhanced : "");
	filter_sanitize_line(ctx->reply_text, sizeof(ctx->reply_text),
			     text ? text : "");
	return 0;
}

static int
host_quarantine(struct pf_txn *t, const char *reason)
{
	struct filter_ctx *ctx = host_ctx_at(t, FILTER_CONNECT, FILTER_MESSAGE);

	if (ctx == NULL || !filter_key_valid(reason, FILTER_REASON_MAX))
		return -1;
	filter_copy_str(ctx->quarantine, sizeof(ctx->quarantine), reason);
	return 0;
}

/* ---- host functions: body rewriting ---- */

static unsigned
host_part_index(const struct pf_part *p)
{
	return p != NULL ? part_of(p)->index : 0;
}

/* The plan of the message being filtered, made on first use. */
static struct filter_tx *
host_rewrite_tx(struct pf_txn *t, const char *text)
{
	struct filter_tx *tx = host_message(t);

	if (tx == NULL || tx->root == NULL || !rewrite_text_valid(text))
		return NULL;
	if (tx->rewrite == NULL)
		tx->rewrite = rewrite_plan_new(tx->arena);
	return tx->rewrite != NULL ? tx : NULL;
}

static int
host_part_replace(struct pf_txn *t, unsigned index, const char *notice)
{
	struct filter_tx *tx = host_rewrite_tx(t, notice);
	const struct mime_part *p;
	const char *error = NULL;

	if (tx == NULL)
		return -1;
	for (p = tx->root; p != NULL && p->index != index;
	     p = mime_part_next(p))
		;
	if (p == NULL)
		return -1;
	if (filter_rewrite_keep(t->ctx, tx, t->module->conf->name, &error) <
	    0) {
		pst_log(PST_LOG_ERR, "filter",
			"%s: filter %s: cannot keep the original: %s", tx->qid,
			t->module->conf->name, error);
		return -1;
	}
	return rewrite_plan_replace(tx->rewrite, index, notice);
}

static int
host_banner_add(struct pf_txn *t, int where, const char *text)
{
	struct filter_tx *tx = host_rewrite_tx(t, text);

	if (tx == NULL || (where != PF_BANNER_TOP && where != PF_BANNER_BOTTOM))
		return -1;
	return rewrite_plan_banner(
		tx->rewrite,
		where == PF_BANNER_TOP ? REWRITE_TOP : REWRITE_BOTTOM, text);
}

static void __attribute__((format(printf, 3, 0)))
host_log(struct pf_txn *t, int level, const char *fmt, va_list ap)
{
	struct filter_ctx *ctx = host_ctx(t);
	char text[1024], clean[1024];
	enum pst_log_level l;
	const char *qid;
	int n;

	if (t == NULL || fmt == NULL)
		return;
	if (level <= PF_LOG_ERR)
		l = PST_LOG_ERR;
	else if (level == PF_LOG_WARNING)
		l = PST_LOG_WARNING;
	else if (level == PF_LOG_NOTICE)
		l = PST_LOG_NOTICE;
	else if (level == PF_LOG_INFO)
		l = PST_LOG_INFO;
	else
		l = PST_LOG_DEBUG;
	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		return;
	pst_log_sanitize(clean, sizeof(clean), text,
			 (unsigned)strnlen(text, sizeof(text)));
	qid = ctx != NULL && ctx->call_tx != NULL && ctx->call_tx->begun
		      ? ctx->call_tx->qid
		      : "NOQUEUE";
	pst_log(l, "filter", "%s: filter %s: %s", qid, t->module->conf->name,
		clean);
}

const struct pf_host filter_host = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct pf_host),
	.module_name = filter_host_module_name,
	.option_string = filter_host_option_string,
	.option_int = filter_host_option_int,
	.option_size = filter_host_option_size,
	.option_duration = filter_host_option_duration,
	.option_bool = filter_host_option_bool,
	.option_list = filter_host_option_list,
	.module_error = filter_host_module_error,
	.module_set_data = filter_host_module_set_data,
	.module_data = filter_host_module_data,
	.txn_module = host_txn_module,
	.txn_set_data = host_txn_set_data,
	.txn_data = host_txn_data,
	.queue_id = host_queue_id,
	.client_addr = host_client_addr,
	.client_port = host_client_port,
	.client_name = host_client_name,
	.helo = host_helo,
	.tls = host_tls,
	.auth_user = host_auth_user,
	.mail_from = host_mail_from,
	.rcpt_count = host_rcpt_count,
	.rcpt = host_rcpt,
	.message_size = host_message_size,
	.header_count = host_header_count,
	.header = host_header,
	.header_value = host_header_value,
	.message_read = host_message_read,
	.part_root = host_part_root,
	.part_next = host_part_next,
	.part_parent = host_part_parent,
	.part_depth = host_part_depth,
	.part_type = host_part_type,
	.part_charset = host_part_charset,
	.part_disposition = host_part_disposition,
	.part_filename = host_part_filename,
	.part_header_value = host_part_header_value,
	.part_size = host_part_size,
	.part_defects = host_part_defects,
	.part_open = host_part_open,
	.stream_read = host_stream_read,
	.stream_close = host_stream_close,
	.result_set = host_result_set,
	.result_get = host_result_get,
	.score_add = host_score_add,
	.score = host_score,
	.tag = host_tag,
	.has_tag = host_has_tag,
	.auth_result = host_auth_result,
	.header_add = host_header_add,
	.header_insert = host_header_insert,
	.header_change = host_header_change,
	.rcpt_add = host_rcpt_add,
	.rcpt_delete = host_rcpt_delete,
	.reply = host_reply,
	.quarantine = host_quarantine,
	.log = host_log,
	.part_index = host_part_index,
	.part_replace = host_part_replace,
	.banner_add = host_banner_add,
};

void
filter_ctx_set_explain(struct filter_ctx *ctx, filter_explain_fn *fn, void *arg)
{
	ctx->explain = fn;
	ctx->explain_arg = arg;
}
