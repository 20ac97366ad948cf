/*
 * run.c - running the filter chain for a session: which filters are
 * asked, on which thread, what their verdicts add up to, deadlines, and
 * the maillog lines.
 *
 * Semantics:
 *  - At each stage the filters that have a callback for it are called in
 *    chain order.  The first verdict other than PF_CONTINUE ends the
 *    stage and is its outcome; if every filter continues, the outcome is
 *    PF_CONTINUE.
 *  - PF_ACCEPT at connect or helo skips every later call of the session,
 *    at mail, rcpt or message every later call of the transaction (later
 *    stages then report PF_ACCEPT at once, naming that filter).  Reset
 *    and close are still delivered: they free the filters' state.
 *  - PF_REJECT and PF_TEMPFAIL carry the filter's pf_reply() when its
 *    class matches the verdict (one that does not is ignored and
 *    logged), else 550 5.7.1 "Message rejected" / 451 4.7.1 "Try again
 *    later".  PF_QUARANTINE carries the pf_quarantine() reason (default:
 *    the filter's name if it is a valid reason, else "quarantine").
 *  - PF_ERROR, a value that is no verdict, or a call that took longer
 *    than the filter's timeout is a failure; the filter's on_failure
 *    decides: tempfail (451 4.3.0 "Error: filter NAME unavailable"),
 *    reject (550 5.7.1, same text), or skip: the filter is asked no more
 *    verdicts in this session and the chain goes on.
 *  - Filters without PF_FILTER_NONBLOCKING run on the work queue: one
 *    work item runs the rest of the stage from the first blocking filter
 *    on (the hand-off is the cost, not the call), NONBLOCKING filters
 *    before it run directly on the loop.  A stage that needs no blocking
 *    call is answered at once (filter_ctx_run returns 1).
 *  - Deadlines: before each call the worker publishes the call's
 *    deadline and filter index (atomics); a timer on the ctx's loop,
 *    armed for the first deadline, re-arms while calls keep finishing in
 *    time.  When a call overstays, the timer gives the ctx up
 *    ("orphaned"): the session gets the failure outcome at once (failed
 *    and orphaned set) and must go on with a new ctx; the worker calls no
 *    further verdicts and, once the stuck call returns, delivers reset
 *    and close so the filters free their state; the work item's
 *    completion then frees the orphan.  A call that returns late without
 *    the timer noticing is a failure too, but the ctx is kept.
 *  - RESET (filter_ctx_txn_end) and CLOSE (filter_ctx_close) run in the
 *    background, in order with the stages: a ctx has one request running
 *    at a time and a queue; a stage asked for while a reset runs waits.
 *    A failure there is logged; a missed deadline orphans the ctx and the
 *    next stage gets the failure outcome.
 *  - Logs ("filter" component): terminal verdicts at info, "QID:
 *    filter=NAME stage=rcpt verdict=reject 550 5.7.1 text"; PF_CONTINUE
 *    at debug; failures at warning with the reason.
 *
 * Threads: everything here runs on the ctx's loop except the work item
 * (filter_job_work), which touches only what filter_int.h lists as the
 * runner's, and the job's atomics.  The list of live ctxs is shared by
 * every loop (a mutex).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter_int.h"
#include "log.h"
#include "workq.h"

enum filter_run_mode {
	RUN_INLINE, /* on the loop, up to the first blocking filter */
	RUN_WORKER, /* on a worker, with deadlines */
	RUN_ALL,    /* on this thread, every filter, no deadline */
};

static pthread_mutex_t filter_live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct filter_ctx *filter_live;

void
filter_live_add(struct filter_ctx *ctx)
{
	pthread_mutex_lock(&filter_live_lock);
	ctx->prev = NULL;
	ctx->next = filter_live;
	if (filter_live != NULL)
		filter_live->prev = ctx;
	filter_live = ctx;
	pthread_mutex_unlock(&filter_live_lock);
}

/* With filter_live_lock held. */
static void
filter_live_unlink(struct filter_ctx *ctx)
{
	if (ctx->prev != NULL)
		ctx->prev->next = ctx->next;
	else
		filter_live = ctx->next;
	if (ctx->next != NULL)
		ctx->next->prev = ctx->prev;
	ctx->prev = ctx->next = NULL;
}

static void
filter_ctx_free(struct filter_ctx *ctx)
{
	pthread_mutex_lock(&filter_live_lock);
	filter_live_unlink(ctx);
	pthread_mutex_unlock(&filter_live_lock);
	filter_ctx_destroy(ctx);
	free(ctx);
}

static uint64_t
filter_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- one call ---- */

int
filter_call(struct filter_ctx *ctx, struct pf_module *m, enum filter_stage s,
	    struct filter_tx *tx, const char *arg)
{
	struct pf_txn *t = &ctx->txns[m->index];
	const struct postern_filter *d = m->def;
	int v = PF_CONTINUE;

	ctx->call_stage = s;
	ctx->call_tx = tx;
	ctx->call_module = m;
	filter_ctx_reset_call(ctx);
	switch (s) {
	case FILTER_CONNECT:
		v = (int)d->on_connect(t);
		break;
	case FILTER_HELO:
		v = (int)d->on_helo(t, arg != NULL ? arg : "");
		break;
	case FILTER_MAIL:
		v = (int)d->on_mail(t, tx->from != NULL ? tx->from : "");
		break;
	case FILTER_RCPT:
		v = (int)d->on_rcpt(t, arg != NULL ? arg : "");
		break;
	case FILTER_MESSAGE:
		v = (int)d->on_message(t);
		break;
	case FILTER_RESET:
		d->on_reset(t);
		break;
	case FILTER_CLOSE:
		d->on_close(t);
		break;
	default:
		break;
	}
	filter_txn_close_streams(t);
	ctx->call_stage = FILTER_STAGE__COUNT;
	ctx->call_module = NULL;
	return v;
}

/* ---- verdicts ---- */

static const char *
filter_verdict_name(int v)
{
	static const char *const names[] = {
		[PF_CONTINUE] = "continue", [PF_ACCEPT] = "accept",
		[PF_REJECT] = "reject",	    [PF_TEMPFAIL] = "tempfail",
		[PF_DISCARD] = "discard",   [PF_QUARANTINE] = "quarantine",
		[PF_ERROR] = "error",
	};

	return v >= 0 && v <= PF_ERROR ? names[v] : "invalid";
}

static const char *
filter_log_qid(const struct filter_tx *tx)
{
	return tx != NULL && tx->begun ? tx->qid : "NOQUEUE";
}

/* " 550 5.7.1 text" or " reason=spam" for the log, or "". */
static void
filter_outcome_detail(const struct filter_outcome *out, char *buf, size_t size)
{
	char text[sizeof(out->text) * 4];

	buf[0] = '\0';
	if (out->verdict == PF_REJECT || out->verdict == PF_TEMPFAIL) {
		pst_log_sanitize(
			text, sizeof(text), out->text,
			(unsigned)strnlen(out->text, sizeof(out->text)));
		snprintf(buf, size, " %u %s %s", out->code, out->enhanced,
			 text);
	} else if (out->verdict == PF_QUARANTINE && out->quarantine) {
		snprintf(buf, size, " reason=%s", out->quarantine);
	}
}

static void
filter_set_reply(struct filter_outcome *out, unsigned code,
		 const char *enhanced, const char *text)
{
	out->code = code;
	snprintf(out->enhanced, sizeof(out->enhanced), "%s", enhanced);
	snprintf(out->text, sizeof(out->text), "%s", text);
}

/* The outcome of a failure of m by its on_failure; false for skip. */
static bool
filter_failure_outcome(struct filter_outcome *out, const struct pf_module *m)
{
	char text[sizeof(out->text)];

	snprintf(text, sizeof(text), "Error: filter %s unavailable",
		 m->conf->name);
	out->filter = m->conf->name;
	out->failed = true;
	switch (m->conf->on_failure) {
	case FILTER_FAIL_SKIP:
		out->verdict = PF_CONTINUE;
		return false;
	case FILTER_FAIL_REJECT:
		out->verdict = PF_REJECT;
		filter_set_reply(out, 550, "5.7.1", text);
		return true;
	default:
		out->verdict = PF_TEMPFAIL;
		filter_set_reply(out, 451, "4.3.0", text);
		return true;
	}
}

static void
filter_log_failure(const struct filter_req *req, const struct pf_module *m,
		   const char *reason, const struct filter_outcome *out,
		   bool decides)
{
	char detail[sizeof(out->text) * 4 + 64];

	if (req->stage >= FILTER_RESET) {
		pst_log(PST_LOG_WARNING, "filter",
			"%s: filter=%s stage=%s failed (%s)",
			filter_log_qid(req->tx), m->conf->name,
			filter_stage_name(req->stage), reason);
		return;
	}
	filter_outcome_detail(out, detail, sizeof(detail));
	pst_log(PST_LOG_WARNING, "filter",
		"%s: filter=%s stage=%s failed (%s), on_failure=%s%s",
		filter_log_qid(req->tx), m->conf->name,
		filter_stage_name(req->stage), reason,
		decides ? filter_verdict_name(out->verdict) : "skip",
		decides ? detail : "");
}

/* A failure of m in the job's stage.  true when it ends the stage. */
static bool
filter_failure(struct filter_ctx *ctx, struct filter_job *job,
	       const struct pf_module *m, const char *reason)
{
	struct filter_outcome fail;
	bool decides;

	memset(&fail, 0, sizeof(fail));
	decides = filter_failure_outcome(&fail, m);
	filter_log_failure(job->req, m, reason, &fail, decides);
	if (!decides) {
		ctx->skip[m->index] = true;
		return false;
	}
	job->out = fail;
	return true;
}

static void
filter_log_verdict(const struct filter_job *job, const struct pf_module *m,
		   const struct filter_outcome *out)
{
	char detail[sizeof(out->text) * 4 + 64];

	filter_outcome_detail(out, detail, sizeof(detail));
	pst_log(out->verdict == PF_CONTINUE ? PST_LOG_DEBUG : PST_LOG_INFO,
		"filter", "%s: filter=%s stage=%s verdict=%s%s",
		filter_log_qid(job->req->tx), m->conf->name,
		filter_stage_name(job->req->stage),
		filter_verdict_name(out->verdict), detail);
}

/* The reply of a REJECT/TEMPFAIL verdict: the filter's if it fits. */
static void
filter_verdict_reply(struct filter_ctx *ctx, const struct filter_job *job,
		     const struct pf_module *m, struct filter_outcome *out)
{
	bool reject = out->verdict == PF_REJECT;
	unsigned cls = reject ? 5 : 4;

	filter_set_reply(out, reject ? 550 : 451, reject ? "5.7.1" : "4.7.1",
			 reject ? "Message rejected" : "Try again later");
	if (ctx->reply_code == 0)
		return;
	if (ctx->reply_code / 100 != cls) {
		pst_log(PST_LOG_WARNING, "filter",
			"%s: filter=%s stage=%s reply %u ignored: it does "
			"not match verdict %s",
			filter_log_qid(job->req->tx), m->conf->name,
			filter_stage_name(job->req->stage), ctx->reply_code,
			filter_verdict_name(out->verdict));
		return;
	}
	out->code = ctx->reply_code;
	if (ctx->reply_enhanced[0] != '\0')
		snprintf(out->enhanced, sizeof(out->enhanced), "%s",
			 ctx->reply_enhanced);
	if (ctx->reply_text[0] != '\0')
		snprintf(out->text, sizeof(out->text), "%s", ctx->reply_text);
}

/* Fold verdict v of m into the job's outcome.  true when it ends the
 * stage. */
static bool
filter_fold(struct filter_ctx *ctx, struct filter_job *job,
	    const struct pf_module *m, int v)
{
	struct filter_outcome *out = &job->out;
	enum filter_stage s = job->req->stage;
	char reason[64];

	switch (v) {
	case PF_CONTINUE:
		filter_log_verdict(job, m, out);
		return false;
	case PF_ACCEPT:
		if (s <= FILTER_HELO)
			ctx->accepted_by = m->conf->name;
		else
			job->req->tx->accepted_by = m->conf->name;
		break;
	case PF_REJECT:
	case PF_TEMPFAIL:
		out->verdict = v;
		filter_verdict_reply(ctx, job, m, out);
		break;
	case PF_DISCARD:
		break;
	case PF_QUARANTINE:
		if (ctx->quarantine[0] != '\0')
			snprintf(job->quarantine, sizeof(job->quarantine), "%s",
				 ctx->quarantine);
		else if (filter_key_valid(m->conf->name, FILTER_REASON_MAX))
			snprintf(job->quarantine, sizeof(job->quarantine), "%s",
				 m->conf->name);
		else
			snprintf(job->quarantine, sizeof(job->quarantine),
				 "quarantine");
		out->quarantine = job->quarantine;
		break;
	case PF_ERROR:
		return filter_failure(ctx, job, m, "error");
	default:
		snprintf(reason, sizeof(reason), "invalid verdict %d", v);
		return filter_failure(ctx, job, m, reason);
	}
	out->verdict = v;
	out->filter = m->conf->name;
	filter_log_verdict(job, m, out);
	return true;
}

/* ---- running a stage ---- */

static void
filter_job_start(struct filter_ctx *ctx, struct filter_job *job,
		 struct filter_req *req)
{
	job->req = req;
	job->next = 0;
	memset(&job->out, 0, sizeof(job->out));
	job->out.verdict = PF_CONTINUE;
	job->quarantine[0] = '\0';
	ctx->call_helo = ctx->helo;
	ctx->call_tls = ctx->has_tls ? ctx->tls : NULL;
}

static void
filter_timeout_text(const struct pf_module *m, char *buf, size_t size)
{
	snprintf(buf, size, "timeout after %gs",
		 (double)m->conf->timeout / 1000.0);
}

/*
 * Run the job's request from job->next on.  RUN_INLINE stops before the
 * first blocking filter (returns false, job->next at it); otherwise the
 * request runs to its end (true; the outcome in job->out).  RUN_WORKER
 * publishes each call's deadline and stops when the loop gave the ctx
 * up.
 */
static bool
filter_runner(struct filter_ctx *ctx, struct filter_job *job,
	      enum filter_run_mode mode)
{
	const struct filter_chain *chain = ctx->chain;
	struct filter_req *req = job->req;
	bool cleanup = req->stage >= FILTER_RESET;

	if (req->stage == FILTER_RESET && !req->tx->begun)
		return true; /* no transaction: nothing to reset */
	for (; job->next < chain->nmodules; job->next++) {
		size_t i = job->next;
		struct pf_module *m = chain->modules[i];
		uint64_t deadline = 0;
		bool late = false;
		int v;

		if (!filter_module_has(m, req->stage) || ctx->lost[i] ||
		    (!cleanup && ctx->skip[i]))
			continue;
		if (mode == RUN_INLINE && ctx->workq != NULL &&
		    filter_module_blocking(m, req->stage))
			return false;
		if (mode == RUN_WORKER) {
			if (atomic_load(&job->orphaned))
				return true;
			deadline = filter_now_ms() + m->conf->timeout;
			/* Deadline first: the timer reads the index first,
			 * so it never pairs a new index with an old
			 * deadline. */
			atomic_store(&job->deadline, deadline);
			atomic_store(&job->module, (unsigned)i);
		}
		v = filter_call(ctx, m, req->stage, req->tx, req->arg);
		if (mode == RUN_WORKER) {
			if (atomic_load(&job->orphaned)) {
				job->next = i + 1;
				return true;
			}
			late = filter_now_ms() > deadline;
		}
		if (late) {
			char reason[64];

			filter_timeout_text(m, reason, sizeof(reason));
			if (cleanup) {
				filter_log_failure(req, m, reason, NULL, false);
				continue;
			}
			if (filter_failure(ctx, job, m, reason)) {
				job->next = i + 1;
				return true;
			}
			continue;
		}
		if (!cleanup && filter_fold(ctx, job, m, v)) {
			job->next = i + 1;
			return true;
		}
	}
	return true;
}

/* The outcome when no filter needs asking: no filter has the stage, or
 * an earlier PF_ACCEPT covers it.  true with *out filled. */
static bool
filter_stage_settled(const struct filter_ctx *ctx, enum filter_stage stage,
		     const struct filter_tx *tx, struct filter_outcome *out)
{
	const char *by = ctx->accepted_by;

	if (by == NULL && stage >= FILTER_MAIL)
		by = tx->accepted_by;
	memset(out, 0, sizeof(*out));
	out->verdict = PF_CONTINUE;
	if (by != NULL) {
		out->verdict = PF_ACCEPT;
		out->filter = by;
		return true;
	}
	return !ctx->chain->has_stage[stage];
}

/* ---- the work queue ---- */

/* After the stuck call of an orphan returned: reset and close, so the
 * filters free their state; no deadline, nobody waits. */
static void
filter_orphan_cleanup(struct filter_ctx *ctx, struct filter_job *job)
{
	const struct filter_chain *chain = ctx->chain;
	struct filter_req *req = job->req;
	size_t from = req->stage == FILTER_CLOSE ? job->next : 0;

	if (req->stage <= FILTER_RESET && req->tx->begun) {
		for (size_t i = req->stage == FILTER_RESET ? job->next : 0;
		     i < chain->nmodules; i++)
			if (!ctx->lost[i] &&
			    filter_module_has(chain->modules[i], FILTER_RESET))
				filter_call(ctx, chain->modules[i],
					    FILTER_RESET, req->tx, NULL);
	}
	for (size_t i = from; i < chain->nmodules; i++)
		if (!ctx->lost[i] &&
		    filter_module_has(chain->modules[i], FILTER_CLOSE))
			filter_call(ctx, chain->modules[i], FILTER_CLOSE,
				    req->tx, NULL);
	ctx->cleaned = true;
}

/* On a worker. */
static void
filter_job_work(void *arg)
{
	struct filter_ctx *ctx = arg;
	struct filter_job *job = &ctx->job;

	if (job->req->stage >= FILTER_RESET) {
		/* The loop may change the session's texts meanwhile. */
		ctx->call_helo = job->helo;
		ctx->call_tls = job->has_tls ? job->tls : NULL;
	} else {
		ctx->call_helo = ctx->helo;
		ctx->call_tls = ctx->has_tls ? ctx->tls : NULL;
	}
	filter_runner(ctx, job, RUN_WORKER);
	if (atomic_load(&job->orphaned))
		filter_orphan_cleanup(ctx, job);
	else if (job->req->stage == FILTER_CLOSE)
		ctx->cleaned = true;
	else if (job->req->stage == FILTER_RESET)
		job->req->tx->begun = false; /* for filter_base_free */
	atomic_store(&job->deadline, 0);
}

static void filter_ctx_pump(struct filter_ctx *ctx);

/* Hand the outcome of a stage request to its done callback (unless the
 * session is closing).  done may run, end or close the ctx: the pump
 * guard makes those wait until it returns. */
static void
filter_deliver(struct filter_ctx *ctx, struct filter_req *req,
	       const struct filter_outcome *out)
{
	struct filter_outcome copy = *out;
	char quarantine[FILTER_REASON_MAX + 1];
	filter_done_fn *done = req->done;
	void *done_arg = req->done_arg;
	bool was = ctx->pumping;

	req->done = NULL;
	if (copy.quarantine != NULL) {
		snprintf(quarantine, sizeof(quarantine), "%s", copy.quarantine);
		copy.quarantine = quarantine;
	}
	if (ctx->closing || done == NULL)
		return;
	ctx->pumping = true;
	done(done_arg, &copy);
	ctx->pumping = was;
}

/* A background request is over. */
static void
filter_bg_finish(struct filter_ctx *ctx, struct filter_req *req)
{
	if (req->stage == FILTER_RESET)
		filter_tx_recycle(ctx, req->tx);
	else
		ctx->cleaned = true;
}

static void
filter_queue_add(struct filter_ctx *ctx, struct filter_req *req)
{
	req->next = NULL;
	req->queued = true;
	if (ctx->queue_tail != NULL)
		ctx->queue_tail->next = req;
	else
		ctx->queue_head = req;
	ctx->queue_tail = req;
}

static void
filter_queue_remove(struct filter_ctx *ctx, struct filter_req *req)
{
	struct filter_req *prev = NULL;

	for (struct filter_req *r = ctx->queue_head; r != NULL; r = r->next) {
		if (r == req) {
			if (prev != NULL)
				prev->next = r->next;
			else
				ctx->queue_head = r->next;
			if (ctx->queue_tail == r)
				ctx->queue_tail = prev;
			break;
		}
		prev = r;
	}
	req->next = NULL;
	req->queued = false;
}

/* A call overstayed its deadline: give the ctx up. */
static void
filter_orphan(struct filter_ctx *ctx, const struct pf_module *m)
{
	struct filter_job *job = &ctx->job;
	struct filter_req *req = job->req;
	char reason[64];
	bool decides;

	ctx->orphaned = true;
	atomic_store(&job->orphaned, true);
	memset(&ctx->orphan_out, 0, sizeof(ctx->orphan_out));
	decides = filter_failure_outcome(&ctx->orphan_out, m);
	ctx->orphan_out.orphaned = true;
	filter_timeout_text(m, reason, sizeof(reason));
	filter_log_failure(req, m, reason, &ctx->orphan_out, decides);
	if (req->stage < FILTER_RESET) {
		filter_deliver(ctx, req, &ctx->orphan_out);
	} else if (ctx->stage_req.queued) {
		/* The session waits behind this reset: tell it now. */
		filter_queue_remove(ctx, &ctx->stage_req);
		filter_deliver(ctx, &ctx->stage_req, &ctx->orphan_out);
	}
}

static void
filter_job_timer(evutil_socket_t fd, short what, void *arg)
{
	struct filter_ctx *ctx = arg;
	struct filter_job *job = &ctx->job;
	unsigned i;
	uint64_t deadline, now;

	(void)fd;
	(void)what;
	if (!ctx->busy || ctx->orphaned)
		return;
	i = atomic_load(&job->module);
	deadline = atomic_load(&job->deadline);
	if (deadline == 0)
		return; /* the work is done; its completion is on its way */
	now = filter_now_ms();
	if (now < deadline) {
		uint64_t ms = deadline - now;
		struct timeval tv = { (time_t)(ms / 1000),
				      (suseconds_t)(ms % 1000) * 1000 };

		evtimer_add(job->timer, &tv);
		return;
	}
	if (i < ctx->chain->nmodules)
		filter_orphan(ctx, ctx->chain->modules[i]);
}

/* On the loop, when the work item is back. */
static void
filter_job_done(void *arg)
{
	struct filter_ctx *ctx = arg;
	struct filter_job *job = &ctx->job;
	struct filter_req *req = job->req;

	ctx->busy = false;
	evtimer_del(job->timer);
	if (!ctx->orphaned) {
		if (req->stage < FILTER_RESET) {
			req->queued = false;
			filter_deliver(ctx, req, &job->out);
		} else {
			filter_bg_finish(ctx, req);
		}
	}
	filter_ctx_pump(ctx); /* may free ctx */
}

/* Send the job (from job->next on) to the work queue.  0 or -1. */
static int
filter_submit(struct filter_ctx *ctx)
{
	struct filter_job *job = &ctx->job;
	const struct pf_module *m = ctx->chain->modules[job->next];
	uint64_t ms = m->conf->timeout;
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)(ms % 1000) * 1000 };

	if (job->timer == NULL) {
		job->timer = evtimer_new(ctx->base, filter_job_timer, ctx);
		if (job->timer == NULL)
			return -1;
	}
	if (job->req->stage >= FILTER_RESET) {
		if (job->helo == NULL) {
			job->helo = pst_arena_alloc(ctx->arena,
						    FILTER_SESSION_STR_MAX);
			job->tls = pst_arena_alloc(ctx->arena,
						   FILTER_SESSION_STR_MAX);
			if (job->helo == NULL || job->tls == NULL)
				return -1;
		}
		snprintf(job->helo, FILTER_SESSION_STR_MAX, "%s", ctx->helo);
		snprintf(job->tls, FILTER_SESSION_STR_MAX, "%s", ctx->tls);
		job->has_tls = ctx->has_tls;
	}
	/* Time in the queue counts: a saturated pool must not hold a
	 * session forever. */
	atomic_store(&job->deadline, filter_now_ms() + ms);
	atomic_store(&job->module, (unsigned)job->next);
	if (pst_workq_submit(ctx->workq, ctx->base, filter_job_work,
			     filter_job_done, ctx) < 0)
		return -1;
	ctx->busy = true;
	evtimer_add(job->timer, &tv);
	return 0;
}

/* Start a queued request: inline as far as possible, then the work
 * queue.  Stage outcomes go to done. */
static void
filter_start(struct filter_ctx *ctx, struct filter_req *req)
{
	struct filter_job *job = &ctx->job;
	struct filter_outcome out;

	filter_job_start(ctx, job, req);
	if (req->stage < FILTER_RESET) {
		if (filter_stage_settled(ctx, req->stage, req->tx, &out)) {
			filter_deliver(ctx, req, &out);
			return;
		}
		if (filter_runner(ctx, job, RUN_INLINE)) {
			filter_deliver(ctx, req, &job->out);
			return;
		}
	} else if (filter_runner(ctx, job, RUN_INLINE)) {
		filter_bg_finish(ctx, req);
		return;
	}
	if (filter_submit(ctx) == 0)
		return;
	pst_log(PST_LOG_ERR, "filter",
		"%s: stage=%s: cannot queue filter calls",
		filter_log_qid(req->tx), filter_stage_name(req->stage));
	if (req->stage < FILTER_RESET) {
		memset(&out, 0, sizeof(out));
		out.verdict = PF_TEMPFAIL;
		out.failed = true;
		filter_set_reply(&out, 451, "4.3.0",
				 "Error: filters unavailable");
		filter_deliver(ctx, req, &out);
	} else {
		/* The pool is stopping (shutdown): filters still free their
		 * state, on the loop. */
		filter_runner(ctx, job, RUN_ALL);
		filter_bg_finish(ctx, req);
	}
}

/* Run what is queued while nothing is out; free a closed ctx at the
 * end.  Re-entrant calls (from a done callback) leave the work to the
 * outer one. */
static void
filter_ctx_pump(struct filter_ctx *ctx)
{
	if (ctx->pumping)
		return;
	ctx->pumping = true;
	while (!ctx->busy && !ctx->orphaned && ctx->queue_head != NULL) {
		struct filter_req *req = ctx->queue_head;

		filter_queue_remove(ctx, req);
		filter_start(ctx, req);
	}
	ctx->pumping = false;
	if (ctx->closing && !ctx->busy &&
	    (ctx->orphaned || ctx->queue_head == NULL))
		filter_ctx_free(ctx);
}

/* ---- the session's calls ---- */

int
filter_ctx_run(struct filter_ctx *ctx, enum filter_stage stage, const char *arg,
	       struct filter_outcome *out, filter_done_fn *done, void *done_arg)
{
	struct filter_req *req;
	struct filter_tx *tx;
	struct filter_job *job;

	if (ctx == NULL || out == NULL || (unsigned)stage >= FILTER_RESET ||
	    ctx->closing)
		return -1;
	if (ctx->orphaned) {
		*out = ctx->orphan_out;
		return 1;
	}
	req = &ctx->stage_req;
	if (req->queued || (ctx->busy && ctx->job.req == req))
		return -1; /* one stage at a time */
	tx = ctx->tx;
	if (stage == FILTER_MESSAGE && tx->spool == NULL)
		return -1;
	if (filter_stage_settled(ctx, stage, tx, out))
		return 1;
	req->stage = stage;
	req->tx = tx;
	req->done = done;
	req->done_arg = done_arg;
	req->arg = NULL;
	if (arg != NULL) {
		/* The caller's text may be gone when a queued stage
		 * starts. */
		req->arg = pst_arena_strdup(tx->arena, arg);
		if (req->arg == NULL)
			return -1;
	}
	if (ctx->busy || ctx->queue_head != NULL) {
		filter_queue_add(ctx, req);
		return 0;
	}
	job = &ctx->job;
	filter_job_start(ctx, job, req);
	if (filter_runner(ctx, job, RUN_INLINE)) {
		*out = job->out;
		if (out->quarantine != NULL) {
			snprintf(ctx->out_quarantine,
				 sizeof(ctx->out_quarantine), "%s",
				 out->quarantine);
			out->quarantine = ctx->out_quarantine;
		}
		req->done = NULL;
		return 1;
	}
	if (filter_submit(ctx) < 0) {
		req->done = NULL;
		return -1;
	}
	return 0;
}

void
filter_ctx_run_sync(struct filter_ctx *ctx, enum filter_stage stage,
		    const char *arg, struct filter_outcome *out)
{
	struct filter_req req;
	struct filter_job job;

	if (ctx == NULL || out == NULL)
		return;
	if (ctx->orphaned) {
		*out = ctx->orphan_out;
		return;
	}
	if ((unsigned)stage >= FILTER_RESET || ctx->busy ||
	    (stage == FILTER_MESSAGE && ctx->tx->spool == NULL)) {
		memset(out, 0, sizeof(*out));
		out->verdict = PF_TEMPFAIL;
		out->failed = true;
		filter_set_reply(out, 451, "4.3.0",
				 "Error: filters unavailable");
		return;
	}
	if (filter_stage_settled(ctx, stage, ctx->tx, out))
		return;
	memset(&req, 0, sizeof(req));
	req.stage = stage;
	req.tx = ctx->tx;
	req.arg = arg;
	memset(&job, 0, sizeof(job));
	filter_job_start(ctx, &job, &req);
	filter_runner(ctx, &job, RUN_ALL);
	*out = job.out;
	if (out->quarantine != NULL) {
		snprintf(ctx->out_quarantine, sizeof(ctx->out_quarantine), "%s",
			 out->quarantine);
		out->quarantine = ctx->out_quarantine;
	}
}

void
filter_ctx_txn_end(struct filter_ctx *ctx)
{
	struct filter_tx *tx;
	bool in_use;

	if (ctx == NULL || ctx->closing || ctx->orphaned)
		return;
	tx = ctx->tx;
	in_use =
		(ctx->busy && ctx->job.req != NULL && ctx->job.req->tx == tx) ||
		(ctx->stage_req.queued && ctx->stage_req.tx == tx);
	if (!tx->begun && !in_use) {
		filter_tx_recycle(ctx, tx); /* cleared in place */
		return;
	}
	if (ctx->spare == NULL && (ctx->spare = filter_tx_get(ctx)) == NULL) {
		/* Only without txn_begin: keep the transaction. */
		return;
	}
	ctx->tx = ctx->spare;
	ctx->spare = NULL;
	tx->reset.done = NULL;
	tx->reset.arg = NULL;
	filter_queue_add(ctx, &tx->reset);
	filter_ctx_pump(ctx);
}

void
filter_ctx_close(struct filter_ctx **ctx_p)
{
	struct filter_ctx *ctx;

	if (ctx_p == NULL || *ctx_p == NULL)
		return;
	ctx = *ctx_p;
	*ctx_p = NULL;
	if (ctx->closing)
		return;
	ctx->closing = true;
	if (!ctx->orphaned) {
		/* A stage that still waits is not asked any more. */
		if (ctx->stage_req.queued)
			filter_queue_remove(ctx, &ctx->stage_req);
		if (ctx->tx->begun) {
			ctx->tx->reset.done = NULL;
			filter_queue_add(ctx, &ctx->tx->reset);
		}
		ctx->close_req.tx = ctx->tx;
		filter_queue_add(ctx, &ctx->close_req);
	}
	filter_ctx_pump(ctx);
}

/* At shutdown, after the work queue stopped: reset and close for a ctx
 * whose filters did not get them, on this thread. */
static void
filter_ctx_cleanup_sync(struct filter_ctx *ctx)
{
	struct filter_job job;
	struct filter_req req;
	bool begun = false;

	for (struct filter_tx *tx = ctx->all_tx; tx != NULL; tx = tx->next_all)
		if (tx->begun)
			begun = true;
	memset(&job, 0, sizeof(job));
	memset(&req, 0, sizeof(req));
	req.tx = ctx->tx;
	if (begun) {
		req.stage = FILTER_RESET;
		ctx->tx->begun = true; /* one reset for what is pending */
		filter_job_start(ctx, &job, &req);
		filter_runner(ctx, &job, RUN_ALL);
	}
	req.stage = FILTER_CLOSE;
	filter_job_start(ctx, &job, &req);
	filter_runner(ctx, &job, RUN_ALL);
	ctx->cleaned = true;
}

void
filter_base_free(const struct filter_chain *chain, struct event_base *base)
{
	struct filter_ctx *list = NULL, *ctx, *next;

	pthread_mutex_lock(&filter_live_lock);
	for (ctx = filter_live; ctx != NULL; ctx = next) {
		next = ctx->next;
		if (ctx->base != base || (chain != NULL && ctx->chain != chain))
			continue;
		filter_live_unlink(ctx);
		ctx->next = list;
		list = ctx;
	}
	pthread_mutex_unlock(&filter_live_lock);
	while (list != NULL) {
		ctx = list;
		list = ctx->next;
		ctx->next = NULL;
		if (!ctx->cleaned)
			filter_ctx_cleanup_sync(ctx);
		filter_ctx_destroy(ctx);
		free(ctx);
	}
}

bool
filter_base_busy(struct event_base *base)
{
	bool busy = false;

	pthread_mutex_lock(&filter_live_lock);
	for (struct filter_ctx *ctx = filter_live; ctx != NULL && !busy;
	     ctx = ctx->next)
		busy = ctx->base == base;
	pthread_mutex_unlock(&filter_live_lock);
	return busy;
}
