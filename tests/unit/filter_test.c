/*
 * filter_test.c - helpers of the filter chain's unit tests (see
 * filter_test.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "arena.h"
#include "conf.h"
#include "filter_test.h"
#include "log.h"
#include "mime.h"
#include "spool.h"
#include "workq.h"

uint64_t
ft_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
ft_conf(struct ft *ft, const char *text)
{
	struct pst_conf_node *root;

	if (ft->arena == NULL) {
		ft->arena = pst_arena_new(0);
		assert_non_null(ft->arena);
		filter_conf_defaults(&ft->conf);
		ft->conf.authserv_id = "mx.example.org";
	}
	if (pst_conf_parse_string(ft->arena, "test.conf", text, strlen(text),
				  &root, &ft->error) < 0)
		return -1;
	for (const struct pst_conf_node *n = root->child; n != NULL;
	     n = n->next) {
		if (strcmp(n->key, "filter") == 0) {
			if (filter_conf_block(ft->arena, n, &ft->conf,
					      &ft->error) < 0)
				return -1;
		} else if (strcmp(n->key, "authserv_id") == 0) {
			ft->conf.authserv_id = n->value;
		} else if (strcmp(n->key, "auth_results") == 0) {
			ft->conf.auth_results = strcmp(n->value, "yes") == 0;
		} else {
			fail_msg("unexpected key %s in test config", n->key);
		}
	}
	return 0;
}

int
ft_chain(struct ft *ft, const char *text)
{
	if (ft_conf(ft, text) < 0)
		return -1;
	ft->chain = filter_chain_new(ft->arena, &ft->conf, &ft->error);
	return ft->chain != NULL ? 0 : -1;
}

void
ft_loop(struct ft *ft, unsigned threads)
{
	static bool threads_on;

	if (!threads_on) {
		assert_int_equal(evthread_use_pthreads(), 0);
		threads_on = true;
	}
	ft->base = event_base_new();
	assert_non_null(ft->base);
	ft->workq = pst_workq_new(threads);
	assert_non_null(ft->workq);
}

void
ft_free(struct ft *ft)
{
	pst_workq_free(&ft->workq);
	if (ft->base != NULL) {
		filter_base_free(ft->chain, ft->base);
		event_base_free(ft->base);
		ft->base = NULL;
	} else {
		filter_base_free(ft->chain, NULL);
	}
	filter_chain_free(&ft->chain);
	pst_arena_free(&ft->arena);
}

struct filter_ctx *
ft_ctx(struct ft *ft)
{
	struct filter_client c = {
		.addr = "192.0.2.7",
		.port = 4711,
		.name = "mx.example.net",
		.session_id = "9c1e0f3a5b7d2e41",
	};
	struct filter_ctx *ctx =
		filter_ctx_new(ft->chain, ft->base, ft->workq, &c);

	assert_non_null(ctx);
	return ctx;
}

struct ft_wait_state {
	bool done;
	struct filter_outcome out;
	char quarantine[FILTER_REASON_MAX + 1];
};

static void
ft_done(void *arg, const struct filter_outcome *out)
{
	struct ft_wait_state *st = arg;

	st->out = *out;
	if (out->quarantine != NULL) {
		snprintf(st->quarantine, sizeof(st->quarantine), "%s",
			 out->quarantine);
		st->out.quarantine = st->quarantine;
	}
	st->done = true;
}

static bool
ft_is_done(void *arg)
{
	return ((struct ft_wait_state *)arg)->done;
}

static void
ft_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

bool
ft_wait(struct ft *ft, bool (*cond)(void *), void *arg, unsigned ms)
{
	uint64_t until = ft_now_ms() + ms;
	struct timeval tv = { 0, 10 * 1000 };
	struct event *tick = event_new(ft->base, -1, EV_PERSIST, ft_tick, NULL);

	assert_non_null(tick);
	event_add(tick, &tv);
	while (!cond(arg) && ft_now_ms() < until)
		event_base_loop(ft->base, EVLOOP_ONCE);
	event_free(tick);
	return cond(arg);
}

int
ft_run(struct ft *ft, struct filter_ctx *ctx, enum filter_stage stage,
       const char *arg, struct filter_outcome *out, uint64_t *ms_r)
{
	static struct ft_wait_state st; /* outlives a test that fails */
	uint64_t start = ft_now_ms();
	int rc;

	memset(&st, 0, sizeof(st));
	rc = filter_ctx_run(ctx, stage, arg, out, ft_done, &st);
	assert_true(rc == 0 || rc == 1);
	if (rc == 0) {
		assert_non_null(ft->base);
		assert_true(ft_wait(ft, ft_is_done, &st, 10000));
		*out = st.out;
	}
	if (ms_r != NULL)
		*ms_r = ft_now_ms() - start;
	return rc;
}

void
ft_message(struct filter_ctx *ctx, const char *text)
{
	struct pst_spool *spool = pst_spool_new(1 << 20, "/tmp");
	struct mime_parser *p;
	struct mime_part *root;
	const char *error;

	assert_non_null(spool);
	assert_int_equal(pst_spool_write(spool, text, strlen(text), &error), 0);
	assert_int_equal(pst_spool_flush(spool, &error), 0);
	p = mime_parser_new(filter_ctx_txn_arena(ctx), NULL);
	assert_non_null(p);
	assert_int_equal(mime_parser_feed(p, text, strlen(text), &error), 0);
	assert_int_equal(mime_parser_end(p, &root, &error), 0);
	mime_parser_free(&p);
	assert_int_equal(filter_ctx_set_message(ctx, spool, root), 0);
}

char *
ft_spool_text(struct pst_spool *spool)
{
	uint64_t size = pst_spool_size(spool);
	char *s = malloc(size + 1);

	assert_non_null(s);
	assert_int_equal(pst_spool_pread(spool, s, size, 0), (ssize_t)size);
	s[size] = '\0';
	return s;
}

static FILE *ft_log_file;
static int ft_saved_stderr = -1;

void
ft_log_start(void)
{
	pst_log_init(true);
	pst_log_set_level(PST_LOG_DEBUG);
	fflush(stderr);
	ft_log_file = tmpfile();
	assert_non_null(ft_log_file);
	ft_saved_stderr = dup(STDERR_FILENO);
	assert_true(ft_saved_stderr >= 0);
	assert_true(dup2(fileno(ft_log_file), STDERR_FILENO) >= 0);
}

char *
ft_log_take(void)
{
	long size;
	char *s;

	assert_non_null(ft_log_file);
	pst_log_init(false); /* quiet again */
	pst_log_set_level(PST_LOG_INFO);
	dup2(ft_saved_stderr, STDERR_FILENO);
	close(ft_saved_stderr);
	ft_saved_stderr = -1;
	fseek(ft_log_file, 0, SEEK_END);
	size = ftell(ft_log_file);
	assert_true(size >= 0);
	rewind(ft_log_file);
	s = calloc(1, (size_t)size + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)size, ft_log_file), (size_t)size);
	fclose(ft_log_file);
	ft_log_file = NULL;
	return s;
}

void
ft_stats(const char *name, struct script_stats *out)
{
	static const char *const sos[2] = { FT_SO("script"),
					    FT_SO("script_nb") };
	static int (*fn[2])(const char *, struct script_stats *);

	/* Our own references keep the counters across chains. */
	for (int i = 0; i < 2; i++) {
		if (fn[i] == NULL) {
			void *h = dlopen(sos[i], RTLD_NOW | RTLD_LOCAL);

			assert_non_null(h);
			*(void **)&fn[i] = dlsym(h, "script_stats");
			assert_non_null(fn[i]);
		}
	}
	memset(out, 0, sizeof(*out));
	if (fn[0](name, out) < 0)
		assert_int_equal(fn[1](name, out), 0);
}
