/*
 * attachment_filter.c - the built-in `filter attachment { ... }`: at the
 * end of data, walk the message (attachment.c), set the results rules
 * read (result "attachment", "attachment.defects", "attachment.count")
 * and refuse a message that could not be inspected within the budgets
 * (on_budget: reject, the default; tempfail; continue).
 *
 * The scan is kept for the transaction so that the rules filter reads
 * the same one (attachment_filter_scan()); it is made on first use,
 * whichever filter asks first.  Per-transaction state lives on its own
 * arena, freed at reset.  Calls for one session never overlap, so the
 * state needs no lock.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attachment_filter.h"
#include "filter_int.h"

enum attachment_on_budget {
	ATT_BUDGET_REJECT,
	ATT_BUDGET_TEMPFAIL,
	ATT_BUDGET_CONTINUE,
};

struct attachment_filter {
	struct attachment_limits limits;
	int on_budget; /* enum attachment_on_budget */
};

struct attachment_txn {
	struct pst_arena *arena; /* NULL until the first scan */
	struct attachment_scan *scan;
	const char *error;
	bool done;
};

extern const struct postern_filter filter_attachment_def;

static int
attachment_filter_uint(struct pf_module *m, const char *key, unsigned *v)
{
	int64_t n = *v;
	int rc = pf_option_int(m, key, &n);

	if (rc < 0)
		return -1;
	if (rc > 0 && (n < 1 || n > 1000000)) {
		pf_module_error(m, key, "'%s' must be 1 to 1000000", key);
		return -1;
	}
	*v = (unsigned)n;
	return 0;
}

static int
attachment_filter_init(struct pf_module *m)
{
	struct attachment_filter *f = pst_arena_zalloc(m->arena, sizeof(*f));
	const char *on_budget = "reject", *err;

	if (f == NULL) {
		pf_module_error(m, NULL, "out of memory");
		return -1;
	}
	attachment_limits_default(&f->limits);
	if (attachment_filter_uint(m, "max_depth", &f->limits.max_depth) < 0 ||
	    attachment_filter_uint(m, "max_members", &f->limits.max_members) <
		    0 ||
	    attachment_filter_uint(m, "max_ratio", &f->limits.max_ratio) < 0 ||
	    pf_option_size(m, "max_bytes", &f->limits.max_bytes) < 0 ||
	    pf_option_duration(m, "max_time", &f->limits.max_ms) < 0 ||
	    pf_option_string(m, "on_budget", &on_budget) < 0)
		return -1;
	if (strcmp(on_budget, "reject") == 0)
		f->on_budget = ATT_BUDGET_REJECT;
	else if (strcmp(on_budget, "tempfail") == 0)
		f->on_budget = ATT_BUDGET_TEMPFAIL;
	else if (strcmp(on_budget, "continue") == 0)
		f->on_budget = ATT_BUDGET_CONTINUE;
	else {
		pf_module_error(m, "on_budget",
				"'on_budget' must be reject, tempfail or "
				"continue, not '%s'",
				on_budget);
		return -1;
	}
	if (f->limits.max_bytes == 0 || f->limits.max_ms == 0) {
		pf_module_error(m, NULL,
				"'max_bytes' and 'max_time' must not be 0");
		return -1;
	}
	if (attachment_magic_init(&err) < 0) {
		pf_module_error(m, NULL, "%s", err);
		return -1;
	}
	pf_module_set_data(m, f);
	return 0;
}

static ssize_t
attachment_filter_pread(void *ctx, void *buf, size_t len, uint64_t offset)
{
	return pf_message_read(ctx, buf, len, offset);
}

/* The scan of the current message for t's session (t: any filter's
 * txn), made with limits onto arena. */
static int
attachment_filter_run(struct pf_txn *t, const struct attachment_limits *l,
		      struct pst_arena *arena, struct attachment_scan **scan_r,
		      const char **error_r)
{
	const struct pf_part *root = pf_part_root(t);

	return attachment_scan_message(
		arena, l, (const struct mime_part *)(const void *)root,
		attachment_filter_pread, t, scan_r, error_r);
}

/* The attachment module's txn in t's session, or NULL. */
static struct pf_txn *
attachment_filter_txn(struct pf_txn *t)
{
	const struct filter_chain *chain = t->ctx->chain;

	for (size_t i = 0; i < chain->nmodules; i++)
		if (chain->modules[i]->def == &filter_attachment_def)
			return &t->ctx->txns[i];
	return NULL;
}

/* The attachment module's cached scan (its txn: at), made now if need
 * be, reading the message as t (the filter being called: the host
 * answers only the caller). */
static const struct attachment_txn *
attachment_filter_cached(struct pf_txn *t, struct pf_txn *at)
{
	const struct attachment_filter *f = pf_module_data(pf_txn_module(at));
	struct attachment_txn *st = pf_txn_data(at);

	if (st == NULL) {
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return NULL;
		pf_txn_set_data(at, st);
	}
	if (st->done)
		return st;
	if (st->arena == NULL && (st->arena = pst_arena_new(0)) == NULL)
		return NULL;
	st->done = true;
	if (attachment_filter_run(t, &f->limits, st->arena, &st->scan,
				  &st->error) < 0)
		st->scan = NULL;
	return st;
}

const struct attachment_scan *
attachment_filter_scan(struct pf_txn *t, struct pst_arena *arena,
		       const char **error_r)
{
	struct pf_txn *at = attachment_filter_txn(t);
	struct attachment_limits l;
	struct attachment_scan *scan;

	*error_r = "out of memory";
	if (at != NULL && pf_module_data(pf_txn_module(at)) != NULL) {
		const struct attachment_txn *st =
			attachment_filter_cached(t, at);

		if (st == NULL)
			return NULL;
		if (st->scan == NULL)
			*error_r = st->error;
		return st->scan;
	}
	attachment_limits_default(&l);
	if (attachment_filter_run(t, &l, arena, &scan, error_r) < 0)
		return NULL;
	return scan;
}

size_t
attachment_filter_count(const struct attachment_scan *scan)
{
	size_t n = 0;

	for (size_t i = 0; scan != NULL && i < scan->nitems; i++)
		if (scan->items[i].depth == 0)
			n++;
	return n;
}

static enum pf_verdict
attachment_filter_message(struct pf_txn *t)
{
	const struct attachment_filter *f = pf_module_data(pf_txn_module(t));
	const struct attachment_txn *st = attachment_filter_cached(t, t);
	const struct attachment_scan *scan;
	char defects[512] = "", count[32];
	size_t dl = 0;

	if (st == NULL || st->scan == NULL) {
		pf_log(t, PF_LOG_ERR, "attachment: %s",
		       st != NULL && st->error ? st->error : "out of memory");
		return PF_ERROR;
	}
	scan = st->scan;
	for (unsigned b = 0; b < ATTACHMENT_D_COUNT; b++) {
		const char *name = attachment_defect_name((uint64_t)1 << b);
		int n;

		if ((scan->defects & ((uint64_t)1 << b)) == 0)
			continue;
		n = snprintf(defects + dl, sizeof(defects) - dl, "%s%s",
			     dl ? "," : "", name);
		if (n > 0 && (size_t)n < sizeof(defects) - dl)
			dl += (size_t)n;
	}
	snprintf(count, sizeof(count), "%zu", attachment_filter_count(scan));
	pf_result_set(t, "attachment.count", count);
	pf_result_set(t, "attachment.defects", defects);
	pf_result_set(t, "attachment",
		      attachment_over_budget(scan) ? "over_budget"
		      : scan->defects != 0	   ? "defects"
						   : "ok");
	if (scan->defects != 0)
		pf_log(t, PF_LOG_INFO,
		       "attachment: items=%zu members=%u bytes=%llu "
		       "defects=%s",
		       scan->nitems, scan->members,
		       (unsigned long long)scan->bytes, defects);
	if (!attachment_over_budget(scan) ||
	    f->on_budget == ATT_BUDGET_CONTINUE)
		return PF_CONTINUE;
	if (f->on_budget == ATT_BUDGET_TEMPFAIL) {
		pf_reply(t, 451, "4.7.1",
			 "Attachments could not be inspected, try again later");
		return PF_TEMPFAIL;
	}
	pf_reply(t, 554, "5.7.1",
		 "Attachments could not be inspected (too large, too deep "
		 "or too many)");
	return PF_REJECT;
}

static void
attachment_filter_reset(struct pf_txn *t)
{
	struct attachment_txn *st = pf_txn_data(t);

	if (st == NULL)
		return;
	pst_arena_free(&st->arena);
	st->scan = NULL;
	st->error = NULL;
	st->done = false;
}

static void
attachment_filter_close(struct pf_txn *t)
{
	struct attachment_txn *st = pf_txn_data(t);

	if (st == NULL)
		return;
	pst_arena_free(&st->arena);
	free(st);
	pf_txn_set_data(t, NULL);
}

const struct postern_filter filter_attachment_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "attachment",
	.init = attachment_filter_init,
	.on_message = attachment_filter_message,
	.on_reset = attachment_filter_reset,
	.on_close = attachment_filter_close,
};
