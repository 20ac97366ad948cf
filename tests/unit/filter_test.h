/*
 * filter_test.h - what the filter chain's unit tests share: a chain from
 * config text, an event loop with a work queue, running a stage and
 * waiting for its outcome, a message in a spool with its MIME tree, the
 * log lines written meanwhile, and the counters of the script test
 * filter (tests/filters/script.c).
 */
#ifndef TESTS_UNIT_FILTER_TEST_H
#define TESTS_UNIT_FILTER_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "filter_int.h"

/* A test filter built by filters.mk. */
#define FT_SO(name) TEST_FILTERS_DIR "/" name ".so"

struct ft {
	struct pst_arena *arena;
	struct filter_conf conf;
	struct filter_chain *chain;
	const char *error;
	struct event_base *base;
	struct pst_workq *workq;
};

/* Parse config text (file name "test.conf"): `filter NAME { }` blocks,
 * and top-level authserv_id / auth_results for the filters' settings.
 * 0, or -1 with ft->error. */
int ft_conf(struct ft *ft, const char *text);
/* ft_conf and filter_chain_new. */
int ft_chain(struct ft *ft, const char *text);
/* An event base and a work queue of threads workers. */
void ft_loop(struct ft *ft, unsigned threads);
/* Everything: work queue (waits for stuck calls), the base's ctxs,
 * the base, the chain, the arena. */
void ft_free(struct ft *ft);

/* A ctx for client 192.0.2.7:4711 on ft's loop (or inline without). */
struct filter_ctx *ft_ctx(struct ft *ft);

/* Run a stage and wait for its outcome; returns what filter_ctx_run
 * returned (1: at once, 0: through done), *ms_r the milliseconds until
 * the outcome was there. */
int ft_run(struct ft *ft, struct filter_ctx *ctx, enum filter_stage stage,
	   const char *arg, struct filter_outcome *out, uint64_t *ms_r);
/* Turn the loop until cond(arg) or ms milliseconds passed. */
bool ft_wait(struct ft *ft, bool (*cond)(void *), void *arg, unsigned ms);

/* text into a new spool, parsed on the ctx's transaction arena, set as
 * the ctx's message.  The ctx owns the spool afterwards. */
void ft_message(struct filter_ctx *ctx, const char *text);
/* The content of a spool, NUL-terminated (free it). */
char *ft_spool_text(struct pst_spool *spool);

/* Log lines: capture stderr (all levels) until ft_log_take(), which
 * returns what was written (free it). */
void ft_log_start(void);
char *ft_log_take(void);

/* Counters of a script filter instance (see tests/filters/script.c). */
struct script_stats {
	unsigned calls[7]; /* connect helo mail rcpt message reset close */
	unsigned inits, finis;
	unsigned concurrent, max_concurrent;
};
void ft_stats(const char *name, struct script_stats *out);

uint64_t ft_now_ms(void);

#endif
