/*
 * script.c - a test filter whose behaviour comes from its options, so
 * one shared object plays every filter a test chain needs:
 *
 *   connect/helo/mail/rcpt/message = "reject";  the verdict of a stage:
 *	continue accept reject tempfail discard quarantine error invalid
 *   reply = "550 5.7.1 text";  pf_reply() with it ("-" for no enhanced)
 *   sleep = 2s; sleep_stage = "message";  sleep in that stage ("all")
 *   act_stage = "message";  where the actions below happen:
 *   result = ["key=value"]; score = "1.5"; tag = ["t"];
 *   auth = ["method result props"]; quarantine = "reason";
 *   add_header = ["Name: value"]; insert_header = ["IDX Name: value"];
 *   change_header = ["Name NTH value"]; delete_header = ["Name NTH"];
 *   rcpt_add = ["a@b"]; rcpt_delete = ["a@b"];
 *   opt_string, opt_int, opt_size, opt_duration, opt_bool, opt_list:
 *	read as their types and shown as results opt.* at connect
 *   init_error = "text"; init_error_key = "opt_int";  fail init
 *
 * Every call appends "NAME:stage" (with the argument at helo and rcpt)
 * to the result "trace", so a test sees who was called in which order;
 * script_stats() (found with dlsym) counts calls per instance, including
 * reset and close, which cannot leave results.  Per-session memory is
 * allocated at the first call and freed at close, so a missing close
 * shows as a leak under ASan.  Built twice: script.so (blocking) and
 * script_nb.so (-DSCRIPT_NONBLOCKING).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postern/filter.h"

#define SCRIPT_MAX 128
#define SCRIPT_STAGES 7

struct script_stats {
	unsigned calls[SCRIPT_STAGES]; /* connect .. close */
	unsigned inits, finis;
	unsigned concurrent, max_concurrent;
};

/* For the tests: the counters of instance name; 0, or -1 if unknown. */
int script_stats(const char *name, struct script_stats *out);

struct script {
	char name[64];
	const char *verdict[5];
	const char *reply;
	uint64_t sleep_ms;
	int sleep_stage; /* -1: all */
	int act_stage;
	const char *const *result, *const *tag, *const *auth;
	size_t nresult, ntag, nauth;
	const char *score, *quarantine;
	const char *const *add, *const *insert, *const *change, *const *del;
	size_t nadd, ninsert, nchange, ndel;
	const char *const *rcpt_add, *const *rcpt_del;
	size_t nrcpt_add, nrcpt_del;
	char opts[6][128];
	struct script_stats stats;
};

static pthread_mutex_t script_lock = PTHREAD_MUTEX_INITIALIZER;
static struct script *scripts[SCRIPT_MAX];
static const char *const stage_names[SCRIPT_STAGES] = {
	"connect", "helo", "mail", "rcpt", "message", "reset", "close",
};

int
script_stats(const char *name, struct script_stats *out)
{
	int rc = -1;

	pthread_mutex_lock(&script_lock);
	for (int i = 0; i < SCRIPT_MAX; i++) {
		if (scripts[i] != NULL && strcmp(scripts[i]->name, name) == 0) {
			*out = scripts[i]->stats;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&script_lock);
	return rc;
}

static int
stage_index(const char *s)
{
	for (int i = 0; i < SCRIPT_STAGES; i++)
		if (strcmp(stage_names[i], s) == 0)
			return i;
	return strcmp(s, "all") == 0 ? -1 : -2;
}

static int
script_init(struct pf_module *m)
{
	struct script *s = calloc(1, sizeof(*s));
	const char *str, *const *list;
	size_t n;
	int64_t i64;
	uint64_t u64;
	int b;

	if (s == NULL)
		return -1;
	snprintf(s->name, sizeof(s->name), "%s", pf_module_name(m));
	for (int i = 0; i < 5; i++) {
		s->verdict[i] = "continue";
		pf_option_string(m, stage_names[i], &s->verdict[i]);
	}
	pf_option_string(m, "reply", &s->reply);
	pf_option_duration(m, "sleep", &s->sleep_ms);
	str = "message";
	pf_option_string(m, "sleep_stage", &str);
	s->sleep_stage = stage_index(str);
	str = "message";
	pf_option_string(m, "act_stage", &str);
	s->act_stage = stage_index(str);
	pf_option_list(m, "result", &s->result, &s->nresult);
	pf_option_list(m, "tag", &s->tag, &s->ntag);
	pf_option_list(m, "auth", &s->auth, &s->nauth);
	pf_option_string(m, "score", &s->score);
	pf_option_string(m, "quarantine", &s->quarantine);
	pf_option_list(m, "add_header", &s->add, &s->nadd);
	pf_option_list(m, "insert_header", &s->insert, &s->ninsert);
	pf_option_list(m, "change_header", &s->change, &s->nchange);
	pf_option_list(m, "delete_header", &s->del, &s->ndel);
	pf_option_list(m, "rcpt_add", &s->rcpt_add, &s->nrcpt_add);
	pf_option_list(m, "rcpt_delete", &s->rcpt_del, &s->nrcpt_del);

	if (pf_option_string(m, "opt_string", &str) == 1)
		snprintf(s->opts[0], sizeof(s->opts[0]), "%s", str);
	if (pf_option_int(m, "opt_int", &i64) == 1)
		snprintf(s->opts[1], sizeof(s->opts[1]), "%lld",
			 (long long)i64);
	if (pf_option_size(m, "opt_size", &u64) == 1)
		snprintf(s->opts[2], sizeof(s->opts[2]), "%llu",
			 (unsigned long long)u64);
	if (pf_option_duration(m, "opt_duration", &u64) == 1)
		snprintf(s->opts[3], sizeof(s->opts[3]), "%llu",
			 (unsigned long long)u64);
	if (pf_option_bool(m, "opt_bool", &b) == 1)
		snprintf(s->opts[4], sizeof(s->opts[4]), "%d", b);
	if (pf_option_list(m, "opt_list", &list, &n) == 1) {
		size_t o = 0;

		for (size_t i = 0; i < n && o < sizeof(s->opts[5]); i++)
			o += (size_t)snprintf(s->opts[5] + o,
					      sizeof(s->opts[5]) - o, "%s%s",
					      i ? "|" : "", list[i]);
	}
	if (pf_option_string(m, "init_error", &str) == 1) {
		const char *key = NULL;

		pf_option_string(m, "init_error_key", &key);
		pf_module_error(m, key, "%s", str);
		free(s);
		return -1;
	}

	s->stats.inits = 1;
	pthread_mutex_lock(&script_lock);
	for (int i = 0; i < SCRIPT_MAX; i++) {
		if (scripts[i] == NULL ||
		    strcmp(scripts[i]->name, s->name) == 0) {
			free(scripts[i]);
			scripts[i] = s;
			break;
		}
	}
	pthread_mutex_unlock(&script_lock);
	pf_module_set_data(m, s);
	return 0;
}

/* The counters stay readable after fini: the test reads them then. */
static void
script_fini(struct pf_module *m)
{
	struct script *s = pf_module_data(m);

	pthread_mutex_lock(&script_lock);
	s->stats.finis++;
	pthread_mutex_unlock(&script_lock);
}

/* Free everything when the shared object goes. */
static void __attribute__((destructor)) script_unload(void)
{
	for (int i = 0; i < SCRIPT_MAX; i++) {
		free(scripts[i]);
		scripts[i] = NULL;
	}
}

static enum pf_verdict
verdict_of(const char *v)
{
	static const char *const names[] = { "continue", "accept",
					     "reject",	 "tempfail",
					     "discard",	 "quarantine",
					     "error" };

	for (int i = 0; i < 7; i++)
		if (strcmp(v, names[i]) == 0)
			return (enum pf_verdict)i;
	return (enum pf_verdict)42; /* "invalid" */
}

static void
trace(struct pf_txn *t, struct script *s, int stage, const char *arg)
{
	const char *old = pf_result_get(t, "trace");
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s%s%s:%s%s%s%s", old ? old : "",
		 old ? "," : "", s->name, stage_names[stage], arg ? "(" : "",
		 arg ? arg : "", arg ? ")" : "");
	pf_result_set(t, "trace", buf);
}

static void
act(struct pf_txn *t, struct script *s)
{
	char name[128];
	size_t idx;
	int off;

	for (size_t i = 0; i < s->nresult; i++) {
		const char *eq = strchr(s->result[i], '=');

		if (eq != NULL && (size_t)(eq - s->result[i]) < sizeof(name)) {
			snprintf(name, sizeof(name), "%.*s",
				 (int)(eq - s->result[i]), s->result[i]);
			pf_result_set(t, name, eq + 1);
		}
	}
	if (s->score != NULL)
		pf_score_add(t, strtod(s->score, NULL));
	for (size_t i = 0; i < s->ntag; i++)
		pf_tag(t, s->tag[i]);
	for (size_t i = 0; i < s->nauth; i++) {
		char method[64], result[64];

		off = 0;
		if (sscanf(s->auth[i], "%63s %63s %n", method, result, &off) >=
		    2)
			pf_auth_result(t, method, result,
				       off > 0 ? s->auth[i] + off : NULL);
	}
	for (size_t i = 0; i < s->nadd; i++) {
		const char *c = strchr(s->add[i], ':');

		if (c != NULL && (size_t)(c - s->add[i]) < sizeof(name)) {
			snprintf(name, sizeof(name), "%.*s",
				 (int)(c - s->add[i]), s->add[i]);
			pf_header_add(t, name, c[1] == ' ' ? c + 2 : c + 1);
		}
	}
	for (size_t i = 0; i < s->ninsert; i++) {
		off = 0;
		if (sscanf(s->insert[i], "%zu %127[^:]: %n", &idx, name,
			   &off) >= 2 &&
		    off > 0)
			pf_header_insert(t, idx, name, s->insert[i] + off);
	}
	for (size_t i = 0; i < s->nchange; i++) {
		off = 0;
		if (sscanf(s->change[i], "%127s %zu %n", name, &idx, &off) >=
			    2 &&
		    off > 0)
			pf_header_change(t, name, idx, s->change[i] + off);
	}
	for (size_t i = 0; i < s->ndel; i++)
		if (sscanf(s->del[i], "%127s %zu", name, &idx) == 2)
			pf_header_delete(t, name, idx);
	for (size_t i = 0; i < s->nrcpt_del; i++)
		pf_rcpt_delete(t, s->rcpt_del[i]);
	for (size_t i = 0; i < s->nrcpt_add; i++)
		pf_rcpt_add(t, s->rcpt_add[i]);
	if (s->quarantine != NULL)
		pf_quarantine(t, s->quarantine);
}

static void
opts(struct pf_txn *t, struct script *s)
{
	static const char *const keys[6] = { "opt.string", "opt.int",
					     "opt.size",   "opt.duration",
					     "opt.bool",   "opt.list" };

	for (int i = 0; i < 6; i++)
		if (s->opts[i][0] != '\0')
			pf_result_set(t, keys[i], s->opts[i]);
}

/* Per-session memory: freed at close, or ASan reports a leak. */
struct script_session {
	unsigned calls;
};

static enum pf_verdict
call(struct pf_txn *t, int stage, const char *arg)
{
	struct script *s = pf_module_data(pf_txn_module(t));
	struct script_session *ss = pf_txn_data(t);
	enum pf_verdict v = PF_CONTINUE;

	if (ss == NULL) {
		ss = calloc(1, sizeof(*ss));
		pf_txn_set_data(t, ss);
	}
	if (ss != NULL)
		ss->calls++;
	pthread_mutex_lock(&script_lock);
	s->stats.calls[stage]++;
	if (++s->stats.concurrent > s->stats.max_concurrent)
		s->stats.max_concurrent = s->stats.concurrent;
	pthread_mutex_unlock(&script_lock);

	if (stage < 5) {
		trace(t, s, stage, arg);
		if (stage == 0)
			opts(t, s);
		if (stage == s->act_stage)
			act(t, s);
		v = verdict_of(s->verdict[stage]);
		if (s->reply != NULL && (v == PF_REJECT || v == PF_TEMPFAIL)) {
			unsigned code = 0;
			char enh[16] = "";
			int off = 0;

			if (sscanf(s->reply, "%u %15s %n", &code, enh, &off) >=
			    2)
				pf_reply(t, code, strcmp(enh, "-") ? enh : NULL,
					 off > 0 ? s->reply + off : NULL);
		}
	}
	if (s->sleep_ms > 0 &&
	    (s->sleep_stage == -1 || s->sleep_stage == stage)) {
		struct timespec ts = { (time_t)(s->sleep_ms / 1000),
				       (long)(s->sleep_ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&script_lock);
	s->stats.concurrent--;
	pthread_mutex_unlock(&script_lock);
	return v;
}

static enum pf_verdict
script_connect(struct pf_txn *t)
{
	return call(t, 0, NULL);
}

static enum pf_verdict
script_helo(struct pf_txn *t, const char *helo)
{
	return call(t, 1, helo);
}

static enum pf_verdict
script_mail(struct pf_txn *t, const char *from)
{
	(void)from;
	return call(t, 2, NULL);
}

static enum pf_verdict
script_rcpt(struct pf_txn *t, const char *rcpt)
{
	return call(t, 3, rcpt);
}

static enum pf_verdict
script_message(struct pf_txn *t)
{
	return call(t, 4, NULL);
}

static void
script_reset(struct pf_txn *t)
{
	call(t, 5, NULL);
}

static void
script_close(struct pf_txn *t)
{
	call(t, 6, NULL);
	free(pf_txn_data(t));
	pf_txn_set_data(t, NULL);
}

const struct postern_filter postern_filter = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "script",
#ifdef SCRIPT_NONBLOCKING
	.flags = PF_FILTER_NONBLOCKING,
#endif
	.init = script_init,
	.fini = script_fini,
	.on_connect = script_connect,
	.on_helo = script_helo,
	.on_mail = script_mail,
	.on_rcpt = script_rcpt,
	.on_message = script_message,
	.on_reset = script_reset,
	.on_close = script_close,
};
