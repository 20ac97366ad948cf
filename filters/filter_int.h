/*
 * filter_int.h - what the files of filters/ share: the chain, a loaded
 * filter instance, the ctx behind a plugin's pf_txn, and the scheduling
 * of its calls.  Only the .c files of filters/ include it.
 *
 * Files: chain.c (config block, loading, options), run.c (running a
 * stage: verdict folding, the work queue, deadlines, logging), ctx.c
 * (session state and the host function table), edit.c (the message
 * that leaves: header edits and Authentication-Results), rewrite*.c
 * (body rewriting: notices and banners, and keeping the original),
 * builtin.c (the registry of compiled-in filters), quarantine.c (the
 * store).
 *
 * Who touches what: fields under "loop" belong to the ctx's event loop;
 * the "call" fields and what filters said (results, edits, ...) belong
 * to whoever runs filters at the moment: the loop for inline calls, one
 * worker while a job is out (ctx->busy).  The loop starts a job only
 * when none is out, so the two never overlap; the job's atomics are the
 * only thing both read while a job is out.
 */
#ifndef FILTERS_FILTER_INT_H
#define FILTERS_FILTER_INT_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "postern/filter.h"
#include "arena.h"
#include "filter.h"
#include "mime.h"

/* Most filters in a chain; more is a config error. */
#define FILTER_MAX 64
#define FILTER_NAME_MAX 64
#define FILTER_RESULT_KEY_MAX 64
#define FILTER_RESULT_VALUE_MAX 1024
#define FILTER_MAX_RESULTS 256
#define FILTER_MAX_TAGS 256
#define FILTER_MAX_EDITS 1024
#define FILTER_MAX_RCPT_EDITS 1024
#define FILTER_MAX_AUTH_RESULTS 64
#define FILTER_HEADER_NAME_MAX 128
#define FILTER_HEADER_VALUE_MAX 16384
/* RFC 5322 2.1.1: lines of a header field we write. */
#define FILTER_LINE_MAX 998
#define FILTER_LINE_PREFERRED 78
/* HELO and TLS texts kept for the session. */
#define FILTER_SESSION_STR_MAX 256
/* quarantine reasons, as results keys: [a-z0-9_.-] */
#define FILTER_REASON_MAX 64
/* Default per-call deadline. */
#define FILTER_DEFAULT_TIMEOUT 30000

/* One configured filter: a pf_module to the plugin. */
struct pf_module {
	struct pf_handle handle; /* first: the pf_* wrappers read it */
	const struct postern_filter *def;
	unsigned def_size; /* def->size, capped to ours */
	const struct filter_conf_entry *conf;
	const struct filter_chain *chain; /* built-ins read chain->conf */
	void *dlhandle;			  /* NULL for built-ins */
	void *data;			  /* pf_module_set_data */
	struct pst_arena *arena;
	/* the filter's options (the block's entries but module, timeout,
	 * on_failure) and whether it read each, for the unknown-option
	 * check after init */
	const struct pst_conf_node **options;
	bool *option_read;
	size_t noptions;
	const char *error; /* first error, "FILE:LINE: filter NAME: ..." */
	unsigned index;	   /* position in the chain */
	/* Built-ins only, set in init (filter_module_set_stages): stages
	 * not to call at all, and stages to call on the loop although the
	 * filter is not NONBLOCKING.  Bits (1u << enum filter_stage). */
	unsigned stages_off, stages_inline;
	bool inited; /* init succeeded: fini is due */
};

struct filter_chain {
	struct pst_arena *arena;
	const struct filter_conf *conf;
	struct pf_module *modules[FILTER_MAX];
	size_t nmodules;
	/* Does any module have a callback at stage s? */
	bool has_stage[FILTER_STAGE__COUNT];
	bool freed;
};

/* Has module m a callback for stage s (honours def_size)? */
bool filter_module_has(const struct pf_module *m, enum filter_stage s);
/* May m's callbacks block (no PF_FILTER_NONBLOCKING)? */
bool filter_module_blocking(const struct pf_module *m, enum filter_stage s);
/* For built-ins, from init: see struct pf_module. */
void filter_module_set_stages(struct pf_module *m, unsigned off,
			      unsigned on_loop);
/* "connect", "helo", ... */
const char *filter_stage_name(enum filter_stage s);

/* A result; value has room for cap bytes so that setting it again at
 * every HELO does not grow the session arena. */
struct filter_kv {
	const char *key;
	char *value;
	size_t cap;
};

struct filter_auth {
	const char *method, *result, *props; /* props may be NULL */
};

/* What filters said: once for the session (at connect and helo), once
 * per transaction (from mail on). */
struct filter_said {
	struct filter_kv *results;
	size_t nresults, results_cap;
	const char **tags;
	size_t ntags, tags_cap;
	double score;
	struct filter_auth *auth;
	size_t nauth, auth_cap;
};

struct filter_tx;

/* A request for the ctx's filters: a stage the session waits for, or
 * a RESET or CLOSE that runs in the background.  Requests run one at a
 * time in the order they were made. */
struct filter_req {
	struct filter_req *next;
	enum filter_stage stage;
	struct filter_tx *tx; /* the transaction it concerns */
	const char *arg;
	filter_done_fn *done;
	void *done_arg;
	bool queued;
};

/* One transaction: MAIL to its end.  Retired transactions wait for
 * their RESET, then go back to the ctx's free list. */
struct filter_tx {
	struct filter_tx *next_free;
	struct filter_tx *next_all; /* every tx of the ctx */
	struct pst_arena *arena;
	struct filter_req reset; /* its RESET request */
	bool begun;		 /* txn_begin was called */
	const char *qid;	 /* "" before MAIL */
	const char *from;	 /* NULL before MAIL */
	struct filter_rcpt *rcpts;
	size_t nrcpt, rcpt_cap;
	size_t rcpt_edits;
	struct pst_spool *spool; /* the message, for reading */
	bool owns_spool;	 /* until filter_ctx_take_spool */
	const struct mime_part *root;
	const struct mime_header **headers; /* root's, in order */
	size_t nheaders;
	struct filter_said said;
	struct filter_header_edit *edits;
	size_t nedits, edits_cap;
	const char *accepted_by; /* PF_ACCEPT at mail/rcpt/message */
	/* Set by the dkim filter at message: sign what leaves. */
	const struct filter_signer *signer;
	/* Body rewriting asked for at message (pf_part_replace,
	 * pf_banner_add; rewrite.h), or NULL. */
	struct rewrite_plan *rewrite;
	/* The quarantine ID of the original, kept before the first part
	 * was replaced, or NULL. */
	const char *original_id;
};

/* The work item of a ctx (one at a time). */
struct filter_job {
	struct filter_req *req;
	size_t next; /* module index to look at next */
	struct filter_outcome out;
	char quarantine[FILTER_REASON_MAX + 1];
	/* Session texts as they were when a background job started: the
	 * loop may change the ctx's while the job runs. */
	char *helo, *tls; /* FILTER_SESSION_STR_MAX, on the ctx's arena
			   * when first needed */
	bool has_tls;
	/* Written by the worker, read by the loop's deadline timer. */
	atomic_uint_fast64_t deadline; /* monotonic ms; 0: no call */
	atomic_uint module;	       /* index being called */
	atomic_bool orphaned;	       /* set by the loop: call no more */
	struct event *timer;
};

/*
 * One session.  The per-module view a plugin gets is a struct pf_txn
 * (one per module, in txns[]), so the host knows which filter is calling.
 */
struct pf_txn {
	struct pf_handle handle; /* first */
	struct filter_ctx *ctx;
	struct pf_module *module;
	void *data;		   /* pf_txn_set_data */
	struct pf_stream *streams; /* open in the current call */
};

struct filter_ctx {
	const struct filter_chain *chain;
	struct event_base *base;
	struct pst_workq *workq;	/* NULL: everything runs inline */
	struct filter_ctx *prev, *next; /* every live ctx */
	struct pst_arena *arena;	/* session lifetime */
	struct pf_txn *txns;		/* one per module, on arena */

	/* session (loop) */
	struct filter_client client;
	/* FILTER_SESSION_STR_MAX bytes each, on arena: an idle session
	 * must stay small (bench/idle_sessions.py) */
	char *helo;
	char *tls;
	bool has_tls;
	struct filter_tx *tx;	   /* the current transaction */
	struct filter_tx *spare;   /* for the next txn_end */
	struct filter_tx *free_tx; /* recycled */
	struct filter_tx *all_tx;

	/* what filters decided and said (runner) */
	const char *accepted_by; /* PF_ACCEPT at connect/helo */
	bool skip[FILTER_MAX];	 /* failed with on_failure skip: no more
				  * verdicts asked, reset/close still
				  * delivered */
	bool lost[FILTER_MAX];	 /* missed a deadline in an earlier ctx
				  * of the session: never called */
	struct filter_said session;
	bool cleaned; /* on_close was delivered */

	/* the call in progress (runner) */
	enum filter_stage call_stage; /* FILTER_STAGE__COUNT: none */
	struct filter_tx *call_tx;
	const struct pf_module *call_module;
	const char *call_helo, *call_tls;
	unsigned reply_code;
	char reply_enhanced[16];
	char reply_text[400];
	char quarantine[FILTER_REASON_MAX + 1];

	/* scheduling (loop) */
	struct filter_req stage_req, close_req;
	struct filter_req *queue_head, *queue_tail;
	struct filter_job job;
	bool busy;     /* the job is on the work queue */
	bool pumping;  /* in filter_ctx_pump: do not recurse */
	bool orphaned; /* a call missed its deadline */
	bool closing;  /* filter_ctx_close was called */
	struct filter_outcome orphan_out;
	filter_explain_fn *explain; /* postern scan --explain */
	void *explain_arg;
	char out_quarantine[FILTER_REASON_MAX + 1];
};

/* chain.c: the module part of the host table */
const char *filter_host_module_name(struct pf_module *m);
int filter_host_option_string(struct pf_module *m, const char *key,
			      const char **value_r);
int filter_host_option_int(struct pf_module *m, const char *key,
			   int64_t *value_r);
int filter_host_option_size(struct pf_module *m, const char *key,
			    uint64_t *value_r);
int filter_host_option_duration(struct pf_module *m, const char *key,
				uint64_t *ms_r);
int filter_host_option_bool(struct pf_module *m, const char *key, int *value_r);
int filter_host_option_list(struct pf_module *m, const char *key,
			    const char *const **values_r, size_t *count_r);
void filter_host_module_error(struct pf_module *m, const char *key,
			      const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void filter_host_module_set_data(struct pf_module *m, void *data);
void *filter_host_module_data(struct pf_module *m);

/* ctx.c */
extern const struct pf_host filter_host;
/* Before each call: forget the previous call's reply and reason. */
void filter_ctx_reset_call(struct filter_ctx *ctx);
/* Close streams a filter left open. */
void filter_txn_close_streams(struct pf_txn *t);
/* A transaction for the ctx (free list or new); NULL when out of
 * memory. */
struct filter_tx *filter_tx_get(struct filter_ctx *ctx);
/* Forget a transaction's content and put it on the free list. */
void filter_tx_recycle(struct filter_ctx *ctx, struct filter_tx *tx);
/* Free every tx and the session (not the ctx struct). */
void filter_ctx_destroy(struct filter_ctx *ctx);
/* Is s 1..max bytes of [a-z0-9_.-]? */
bool filter_key_valid(const char *s, size_t max);
/* Can value be written after "name: " folded into lines of at most
 * FILTER_LINE_MAX octets (no run without white space too long)? */
bool filter_value_foldable(size_t name_len, const char *value);

/* run.c: the list of live ctxs (for filter_base_free). */
void filter_live_add(struct filter_ctx *ctx);
/* run.c: call module m at stage s on this thread; the raw verdict. */
int filter_call(struct filter_ctx *ctx, struct pf_module *m,
		enum filter_stage s, struct filter_tx *tx, const char *arg);

/* edit.c: append "name: value" folded, CRLF-terminated. */
struct pst_buf;
int filter_edit_format_field(struct pst_buf *buf, const char *name,
			     const char *value);

/* What the dkim filter leaves on a transaction (at message, for a
 * trusted client) so that filter_ctx_write_message() has the message
 * signed exactly as it leaves; implemented in dkim_sign.c, called
 * through the pointer so that edit.c needs no libopendkim. */
struct pst_spool;
struct filter_signer {
	/* Append the signature fields (CRLF-terminated, folded) for
	 * header block hdr as it leaves, its empty line included when it
	 * has one, and body src[body, end).  from: the value of the one
	 * From field (NULL: none, or several).  Appends nothing when no key
	 * covers From's domain or the message cannot be signed (logged).
	 * 0, or -1 with *error_r (out of memory, the spool unreadable). */
	int (*sign)(const struct filter_signer *s, const char *qid,
		    const char *from, const char *hdr, size_t hdr_len,
		    struct pst_spool *src, uint64_t body, uint64_t end,
		    struct pst_buf *out, const char **error_r);
};

/* rewrite_keep.c: before the first pf_part_replace of a transaction,
 * keep the message as received in the quarantine under reason
 * FILTER_KEEP_REASON (tx->original_id).  Not for a ctx without an event
 * loop (postern scan stores nothing): 0 then, and nothing kept.  0, or
 * -1 with *error_r.  Blocking (fsync): from a filter call only. */
#define FILTER_KEEP_REASON "stripped"
int filter_rewrite_keep(struct filter_ctx *ctx, struct filter_tx *tx,
			const char *filter, const char **error_r);

/* builtin.c */
const struct postern_filter *filter_builtin_find(const char *name);

#endif
