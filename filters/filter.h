/*
 * filter.h - the filter chain as the programs use it: configuration,
 * loading, and running the chain for a session.
 *
 * A chain is the configured filters in config order, each either built
 * in (compiled into postern, found by name) or loaded from a shared
 * object (`module = "/path.so"`), both through the same struct
 * postern_filter (include/postern/filter.h).  A filter_ctx is one SMTP
 * session as the chain sees it: the struct behind a plugin's pf_txn.
 *
 * Threads: a chain is built on the main thread and read-only afterwards.
 * A ctx belongs to one event loop; its stages run one at a time, calls of
 * blocking filters on the work queue with a deadline, PF_FILTER_NONBLOCKING
 * ones directly on the loop.  When a call misses its deadline the ctx is
 * given up ("orphaned"): the session gets the failure outcome at once and
 * must not use the ctx again (filter_ctx_close() it and, to go on, make a
 * new one with filter_ctx_new + filter_ctx_restore); the ctx frees itself
 * when the stuck call returns.
 */
#ifndef FILTERS_FILTER_H
#define FILTERS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "mime.h"

struct event_base;
struct pst_arena;
struct pst_dns;
struct pst_spool;
struct pst_workq;

enum filter_stage {
	FILTER_CONNECT,
	FILTER_HELO,
	FILTER_MAIL,
	FILTER_RCPT,
	FILTER_MESSAGE,
	FILTER_RESET,
	FILTER_CLOSE,
	FILTER_STAGE__COUNT,
};

/* What happens when a filter errs (PF_ERROR, bad verdict) or misses its
 * deadline: tempfail 451 4.3.0 (default), reject 550 5.7.1, or skip (go
 * on as if the filter were not configured). */
enum filter_failure {
	FILTER_FAIL_TEMPFAIL,
	FILTER_FAIL_REJECT,
	FILTER_FAIL_SKIP,
};

/* ---- configuration ---- */

struct filter_conf_entry {
	const char *name;   /* the block label */
	const char *module; /* shared object path, or NULL: built in */
	uint64_t timeout;   /* ms per call [30s] */
	int on_failure;	    /* enum filter_failure */
	const struct pst_conf_node *node; /* the block: options */
};

struct filter_conf {
	struct filter_conf_entry *entries; /* in config order */
	size_t nentries, cap;
	uint64_t threads;	    /* worker threads for filter calls [16] */
	const char *authserv_id;    /* Authentication-Results id [hostname] */
	bool auth_results;	    /* write the header [true] */
	const char *quarantine_dir; /* [/var/lib/postern/quarantine] */
	/* Set by the program before filter_chain_new, for the built-in
	 * filters: the gateway's name and the shared resolver (NULL when
	 * none could be made). */
	const char *hostname;
	struct pst_dns *dns;
	/* Where a rewritten body goes past spool_memory bytes (as the
	 * program's own spools); NULL: the system's temporary dir. */
	const char *spool_dir;
	uint64_t spool_memory;
	unsigned quarantine_code;    /* reply for quarantined mail; 0: as
				      * for relayed mail, "250 2.0.0 Ok:
				      * queued as QID" */
	const char *quarantine_text; /* "2.0.0 text" [NULL] */
};

void filter_conf_defaults(struct filter_conf *conf);

/* `filter NAME { module = ...; timeout = ...; on_failure = ...; options }`
 * (repeatable); obj is a struct filter_conf.  Options are checked at
 * filter_chain_new, by the filter itself. */
pst_conf_block_fn filter_conf_block;

/* `filters { threads; authserv_id; auth_results; }` and `quarantine {
 * dir; reply; }` are bound by the program's own tables onto these
 * fields (see gateway/settings.c). */

/* A built-in filter: the same struct a shared object exports. */
struct postern_filter;
void filter_builtin_register(const struct postern_filter *f);
/* Register every filter compiled into postern (spf, dkim, dmarc, ...);
 * call once at start-up, before loading a configuration. */
void filter_builtins_register_all(void);

struct filter_chain;

/* Load, check and init every configured filter (arena: the config's).
 * A missing file, a missing postern_filter symbol, an ABI mismatch, an
 * unknown built-in, an unknown option, or an init failure is refused
 * with "FILE:LINE: filter NAME: ..." in *error_r. */
struct filter_chain *filter_chain_new(struct pst_arena *arena,
				      const struct filter_conf *conf,
				      const char **error_r);
/* fini every filter and dlclose; NULL accepted; clears *chain_p. */
void filter_chain_free(struct filter_chain **chain_p);
size_t filter_chain_length(const struct filter_chain *chain);
const struct filter_conf *filter_chain_conf(const struct filter_chain *chain);

/* ---- running the chain for one session ---- */

struct filter_client {
	const char *addr; /* "192.0.2.7" */
	unsigned port;
	const char *name;      /* "unknown" */
	const char *tls;       /* NULL: plain text */
	const char *auth_user; /* NULL */
	const char *session_id;
	bool trusted; /* in smtp.trusted_networks (or authenticated): mail
		       * the built-in DKIM filter signs */
};

/* A filter's recipient as the relay will see it. */
struct filter_rcpt {
	const char *addr;  /* "local@domain" */
	const char *orcpt; /* DSN ORCPT, or NULL */
	unsigned notify;   /* DSN NOTIFY bits, opaque here */
};

/* The outcome of a stage: the first terminal verdict, or PF_CONTINUE. */
struct filter_outcome {
	int verdict;	    /* enum pf_verdict; PF_ERROR never leaves the chain:
			     * a failure turns into its on_failure verdict */
	unsigned code;	    /* for REJECT/TEMPFAIL: 4xx/5xx */
	char enhanced[16];  /* "5.7.1" */
	char text[400];	    /* one line, printable */
	const char *filter; /* which filter decided, or NULL */
	const char *quarantine; /* QUARANTINE: the reason */
	bool failed;		/* the verdict came from a failure */
	bool orphaned;		/* a deadline was missed: the ctx is lost */
};

typedef void filter_done_fn(void *arg, const struct filter_outcome *out);

struct filter_ctx;

/* A ctx for a new session on base; NULL when out of memory. */
struct filter_ctx *filter_ctx_new(const struct filter_chain *chain,
				  struct event_base *base,
				  struct pst_workq *workq,
				  const struct filter_client *client);

/* End the session: on_close runs (in the background) and the ctx frees
 * itself; the caller must not touch it again.  NULL accepted. */
void filter_ctx_close(struct filter_ctx **ctx_p);

/* Session state the host sets before the stage that reads it. */
int filter_ctx_set_helo(struct filter_ctx *ctx, const char *helo);
int filter_ctx_set_tls(struct filter_ctx *ctx, const char *tls);
/* A transaction begins: queue id and sender ("" null sender). */
int filter_ctx_txn_begin(struct filter_ctx *ctx, const char *qid,
			 const char *from);
/* A recipient was accepted (after FILTER_RCPT said so). */
int filter_ctx_rcpt_accepted(struct filter_ctx *ctx,
			     const struct filter_rcpt *rcpt);
/* The arena the transaction's MIME tree must live on (reset at txn end
 * by filter_ctx_txn_end). */
struct pst_arena *filter_ctx_txn_arena(struct filter_ctx *ctx);
/* The message, before FILTER_MESSAGE.  The ctx takes the spool (it frees
 * it if it is orphaned; else filter_ctx_take_spool gives it back). */
int filter_ctx_set_message(struct filter_ctx *ctx, struct pst_spool *spool,
			   const struct mime_part *root);
struct pst_spool *filter_ctx_take_spool(struct filter_ctx *ctx);
/* The transaction is over: FILTER_RESET runs in the background, the
 * transaction arena is reset.  The ctx may be used at once. */
void filter_ctx_txn_end(struct filter_ctx *ctx);

/* Copy the session state (helo, tls, transaction, accepted recipients)
 * of an orphaned ctx's session into a fresh ctx without calling any
 * filter, and leave out the filter that missed its deadline for the rest
 * of the session. */
int filter_ctx_restore(struct filter_ctx *ctx, const char *helo,
		       const char *qid, const char *from,
		       const struct filter_rcpt *rcpts, size_t nrcpt,
		       const char *skip_filter);

/*
 * Run one stage (arg: the HELO name at FILTER_HELO, the recipient at
 * FILTER_RCPT, else NULL).  Returns 1 when the outcome is ready at once
 * (no blocking filter to call: *out filled, done not called), 0 when
 * done(arg, out) will be called later on the ctx's loop, -1 when out of
 * memory.  FILTER_RESET and FILTER_CLOSE are not run this way.
 */
int filter_ctx_run(struct filter_ctx *ctx, enum filter_stage stage,
		   const char *arg, struct filter_outcome *out,
		   filter_done_fn *done, void *done_arg);

/* The same, synchronously on this thread, for `postern scan` (deadlines
 * are not enforced). */
void filter_ctx_run_sync(struct filter_ctx *ctx, enum filter_stage stage,
			 const char *arg, struct filter_outcome *out);

/* `postern scan --explain`: after the rules of a stage ran, fn gets
 * their outcome with a trace of every rule (rules/rules.h). */
struct rules_outcome;
typedef void filter_explain_fn(void *arg, enum filter_stage stage,
			       const struct rules_outcome *out);
void filter_ctx_set_explain(struct filter_ctx *ctx, filter_explain_fn *fn,
			    void *arg);

/* Compile the rule files again and swap the set of the rules filter
 * (SIGHUP); sessions in flight keep theirs.  0, or -1 with the compiler's
 * report in *report_r (on arena): the old set stays.  0 too when no
 * rules are configured. */
int filter_chain_reload_rules(const struct filter_chain *chain,
			      struct pst_arena *arena, const char **report_r);

/* ---- after FILTER_MESSAGE: what the chain made of the transaction ---- */

/* The recipients after the filters' additions and deletions. */
size_t filter_ctx_rcpt_count(const struct filter_ctx *ctx);
const struct filter_rcpt *filter_ctx_rcpt(const struct filter_ctx *ctx,
					  size_t i);

/* Does the message that leaves differ from the spool (header edits,
 * an Authentication-Results header, a removed forged one)? */
bool filter_ctx_has_edits(const struct filter_ctx *ctx);
/* Write the message with every edit applied into out (a fresh spool).
 * 0, or -1 with *error_r. */
int filter_ctx_write_message(struct filter_ctx *ctx, struct pst_spool *out,
			     const char **error_r);

/* Results, score, tags: for logs, `postern scan` and the rules. */
size_t filter_ctx_result_count(const struct filter_ctx *ctx);
void filter_ctx_result(const struct filter_ctx *ctx, size_t i,
		       const char **key_r, const char **value_r);
const char *filter_ctx_result_get(const struct filter_ctx *ctx,
				  const char *key);
double filter_ctx_score(const struct filter_ctx *ctx);
size_t filter_ctx_tag_count(const struct filter_ctx *ctx);
const char *filter_ctx_tag(const struct filter_ctx *ctx, size_t i);

/* Header edits in order, for `postern scan`: "add", "insert", "change",
 * "delete" with name and value (NULL for delete). */
struct filter_header_edit {
	const char *op;
	const char *name;
	const char *value;
	size_t index; /* insert: position; change/delete: nth */
};
size_t filter_ctx_edit_count(const struct filter_ctx *ctx);
const struct filter_header_edit *filter_ctx_edit(const struct filter_ctx *ctx,
						 size_t i);

/* Stop every ctx still alive on base (orphans waiting for a stuck call
 * included) and free them; after the work queue has stopped. */
void filter_base_free(const struct filter_chain *chain,
		      struct event_base *base);

/* Is a ctx still alive on base (a closed one whose reset, close or
 * stuck call has not finished yet, an orphan included)?  For a program
 * that gives each session an event_base of its own and must run it
 * until its ctxs have freed themselves (postern-milter).  Thread-safe. */
bool filter_base_busy(struct event_base *base);

#endif
