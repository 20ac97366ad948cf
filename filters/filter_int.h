/*
 * filter_int.h - what the files of filters/ share: the chain, a loaded
 * filter instance, and the ctx behind a plugin's pf_txn / pf_module.
 * Only filters/*.c include this.
 *
 * Files: chain.c (config block, loading, options), run.c (running a
 * stage: verdict folding, the work queue, deadlines, logging), ctx.c
 * (session state and the host function table), edit.c (the message
 * that leaves: header edits and Authentication-Results), builtin.c (the
 * registry of compiled-in filters), quarantine.c (the store).
 */
#ifndef FILTERS_FILTER_INT_H
#define FILTERS_FILTER_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "postern/filter.h"
#include "arena.h"
#include "filter.h"

/* Most filters in a chain; more is a config error. */
#define FILTER_MAX 64
#define FILTER_RESULT_KEY_MAX 64
#define FILTER_RESULT_VALUE_MAX 1024
#define FILTER_MAX_RESULTS 256
#define FILTER_MAX_TAGS 256
#define FILTER_MAX_EDITS 1024
#define FILTER_MAX_RCPT_EDITS 1024
#define FILTER_MAX_AUTH_RESULTS 64

/* One configured filter: a pf_module to the plugin. */
struct pf_module {
	struct pf_handle handle; /* first: the pf_* wrappers read it */
	const struct postern_filter *def;
	unsigned def_size; /* def->size, capped to ours */
	const struct filter_conf_entry *conf;
	void *dlhandle; /* NULL for built-ins */
	void *data;	/* pf_module_set_data */
	struct pst_arena *arena;
	/* options the filter read, by position among node's children,
	 * for the unknown-option check after init */
	bool *option_read;
	size_t noptions;
	const char *error; /* first pf_module_error, "FILE:LINE: ..." */
	unsigned index;	   /* position in the chain */
};

struct filter_chain {
	struct pst_arena *arena;
	const struct filter_conf *conf;
	struct pf_module *modules[FILTER_MAX];
	size_t nmodules;
	/* Does any module have a callback at stage s? */
	bool has_stage[FILTER_STAGE__COUNT];
};

/* The callback of module m for stage s, or NULL (honours def_size). */
bool filter_module_has(const struct pf_module *m, enum filter_stage s);

struct filter_kv {
	const char *key, *value;
	bool session; /* set at connect/helo: survives txn_end */
};

struct filter_auth {
	const char *method, *result, *props; /* props may be NULL */
};

struct filter_rcpt_entry {
	struct filter_rcpt rcpt;
	bool deleted;
};

/* A call in flight on the work queue. */
struct filter_job {
	struct filter_ctx *ctx;
	enum filter_stage stage;
	const char *arg;
	size_t next; /* module index to call next */
	struct filter_outcome out;
	filter_done_fn *done;
	void *done_arg;
	/* Written by the worker, read by the loop's deadline timer. */
	atomic_uint call_seq;
	atomic_uint_fast64_t call_deadline; /* monotonic ms */
	atomic_uint call_module;	    /* index being called */
	unsigned seen_seq;
	struct event *timer;
	bool running; /* on the work queue */
};

/*
 * One session.  The per-module view a plugin gets is a struct pf_txn
 * (one per module, in txns[]), so the host knows which filter is calling.
 */
struct pf_txn {
	struct pf_handle handle; /* first */
	struct filter_ctx *ctx;
	struct pf_module *module;
	void *data; /* pf_txn_set_data */
};

struct filter_ctx {
	const struct filter_chain *chain;
	struct event_base *base;
	struct pst_workq *workq;
	struct filter_ctx *prev, *next; /* every ctx of this base */
	struct pst_arena *arena;	/* session lifetime */
	struct pst_arena *txn_arena;	/* reset by filter_ctx_txn_end */
	struct pf_txn txns[FILTER_MAX];

	/* session */
	struct filter_client client;
	const char *helo;
	bool accepted_session; /* PF_ACCEPT at connect/helo */
	bool skip[FILTER_MAX]; /* failed with on_failure skip, or lost */

	/* transaction */
	const char *qid;
	const char *from; /* NULL before MAIL */
	bool accepted_txn; /* PF_ACCEPT at mail/rcpt */
	struct filter_rcpt_entry *rcpts;
	size_t nrcpt, rcpt_cap;
	struct pst_spool *spool;
	const struct mime_part *root;
	struct mime_header **headers; /* root's headers, indexed */
	size_t nheaders;

	/* what filters said */
	struct filter_kv results[FILTER_MAX_RESULTS];
	size_t nresults;
	const char *tags[FILTER_MAX_TAGS];
	size_t ntags;
	double score, session_score;
	size_t session_results, session_tags; /* prefix kept at txn_end */
	struct filter_header_edit edits[FILTER_MAX_EDITS];
	size_t nedits;
	struct filter_auth auth[FILTER_MAX_AUTH_RESULTS];
	size_t nauth;
	/* pf_reply / pf_quarantine of the call in progress */
	unsigned reply_code;
	char reply_enhanced[16];
	char reply_text[400];
	const char *quarantine_reason;

	/* running */
	struct filter_job *job; /* in flight, or NULL */
	bool orphaned;		/* the session gave it up */
	bool closing;		/* filter_ctx_close was called */
	unsigned background;	/* RESET/CLOSE jobs queued or running */
};

/* ctx.c */
extern const struct pf_host filter_host;
void filter_ctx_reset_call(struct filter_ctx *ctx);

/* run.c: call module m at stage s on this thread; the raw verdict. */
int filter_call(struct filter_ctx *ctx, struct pf_module *m,
		enum filter_stage s, const char *arg);

/* builtin.c */
const struct postern_filter *filter_builtin_find(const char *name);

#endif
