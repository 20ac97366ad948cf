/*
 * test_quarantine.c - the quarantine store: store, list, load and delete
 * round trips, hostile envelope values, ID clashes and concurrent stores,
 * directories created on demand, and damaged entries reported with the
 * path of the file at fault.
 *
 * Hermetic: every store lives under one mkdtemp() directory, removed at
 * the end.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "arena.h"
#include "quarantine.h"
#include "spool.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define KIB 1024u

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static char base[64];

/* ---- helpers ---- */

static char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* base/<fmt>, in one of a few rotating buffers. */
static char *
tpath(const char *fmt, ...)
{
	static char path[8][PATH_MAX];
	static int slot;
	char *p = path[slot++ % 8];
	char rel[PATH_MAX - 100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(p, PATH_MAX, "%s/%s", base, rel);
	return p;
}

/* tpath() that stays valid for the whole test (one at a time). */
static const char *
keep_path(const char *rel)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", tpath("%s", rel));
	return path;
}

static int
dir_count(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static char *
read_whole(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *data;

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	data = malloc((size_t)st.st_size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)st.st_size, f),
			 (size_t)st.st_size);
	data[st.st_size] = '\0';
	fclose(f);
	if (len_r != NULL)
		*len_r = (size_t)st.st_size;
	return data;
}

static void
write_whole(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static struct pst_spool *
spool_from(const char *text, size_t len, size_t threshold)
{
	struct pst_spool *spool = pst_spool_new(threshold, base);
	const char *error = NULL;

	assert_non_null(spool);
	assert_int_equal(pst_spool_write(spool, text, len, &error), 0);
	assert_int_equal(pst_spool_flush(spool, &error), 0);
	return spool;
}

static const char msg_text[] = "Received: from mx.example.net\r\n"
			       "Subject: cheap pills\r\n"
			       "\r\n"
			       "Buy now.\r\n";

static const struct filter_rcpt rcpts2[] = {
	{ "bob@example.org", "rfc822;bob@example.org", 0x6 },
	{ "carol@example.org", NULL, 0 },
};

/* A typical entry: everything set. */
static struct quarantine_entry
sample_entry(const char *qid, const char *reason)
{
	struct quarantine_entry e = {
		.qid = qid,
		.time = 1700000000,
		.client_addr = "192.0.2.7",
		.client_port = 41234,
		.client_name = "unknown",
		.helo = "mx.example.net",
		.proto = "ESMTP",
		.tls = true,
		.from = "alice@example.net",
		.rcpts = rcpts2,
		.nrcpt = N_ELEMS(rcpts2),
		.body = SMTP_BODY_8BITMIME,
		.smtputf8 = false,
		.ret = SMTP_RET_HDRS,
		.envid = "QQ314159",
		.reason = reason,
		.filter = "spamcheck",
		.text = "score 12.5",
	};

	return e;
}

/* Store msg_text with e under dir; the ID. */
static const char *
store_ok(const char *dir, const struct quarantine_entry *e)
{
	static char ids[8][QUARANTINE_ID_MAX];
	static int slot;
	char *id = ids[slot++ % 8];
	struct pst_spool *spool = spool_from(msg_text, strlen(msg_text), 4096);
	const char *error = NULL;

	if (quarantine_store(dir, e, spool, id, &error) != 0)
		fail_msg("store: %s", error);
	pst_spool_free(&spool);
	return id;
}

static void
assert_str_or_null(const char *got, const char *want)
{
	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
}

static void
assert_entry_equal(const struct quarantine_entry *got,
		   const struct quarantine_entry *want)
{
	assert_str_or_null(got->qid, want->qid);
	assert_int_equal(got->time, want->time);
	assert_str_or_null(got->client_addr, want->client_addr);
	assert_int_equal(got->client_port, want->client_port);
	assert_str_or_null(got->client_name, want->client_name);
	assert_str_or_null(got->helo, want->helo);
	assert_str_or_null(got->proto, want->proto);
	assert_int_equal(got->tls, want->tls);
	assert_str_or_null(got->from, want->from);
	assert_int_equal(got->nrcpt, want->nrcpt);
	for (size_t i = 0; i < want->nrcpt; i++) {
		assert_str_or_null(got->rcpts[i].addr, want->rcpts[i].addr);
		assert_str_or_null(got->rcpts[i].orcpt, want->rcpts[i].orcpt);
		assert_int_equal(got->rcpts[i].notify, want->rcpts[i].notify);
	}
	assert_int_equal(got->body, want->body);
	assert_int_equal(got->smtputf8, want->smtputf8);
	assert_int_equal(got->ret, want->ret);
	assert_str_or_null(got->envid, want->envid);
	assert_str_or_null(got->filter, want->filter);
	assert_str_or_null(got->text, want->text);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int
group_setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/test_quarantine.XXXXXX");
	return mkdtemp(base) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* What a walk saw. */
struct seen {
	char ids[256][QUARANTINE_ID_MAX];
	char reasons[256][QUARANTINE_REASON_MAX + 1];
	char errors[16][PATH_MAX + 128];
	size_t n, nerrors;
	int stop_after; /* 0: never */
};

static int
seen_fn(void *arg, const struct quarantine_entry *e, const char *msg_path,
	const char *error)
{
	struct seen *s = arg;

	if (e == NULL) {
		assert_null(msg_path);
		assert_non_null(error);
		if (s->nerrors < N_ELEMS(s->errors))
			snprintf(s->errors[s->nerrors++], sizeof(s->errors[0]),
				 "%s", error);
		return 0;
	}
	assert_null(error);
	assert_non_null(msg_path);
	assert_true(s->n < N_ELEMS(s->ids));
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", e->id);
	snprintf(s->reasons[s->n], sizeof(s->reasons[0]), "%s", e->reason);
	s->n++;
	return s->stop_after != 0 && (int)s->n >= s->stop_after;
}

static void
walk(const char *dir, struct seen *s)
{
	struct pst_arena *arena = pst_arena_new(0);
	const char *error = NULL;

	if (quarantine_list(arena, dir, seen_fn, s, &error) != 0)
		fail_msg("list: %s", error);
	pst_arena_free(&arena);
}

/* ---- names ---- */

static void
test_reason_valid(void **state)
{
	static const struct {
		const char *reason;
		bool valid;
	} cases[] = {
		{ "spam", true },
		{ "a-b_c.d9", true },
		{ "0", true },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  true }, /* 64 */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  false }, /* 65 */
		{ "", false },
		{ ".", false },
		{ "..", false },
		{ ".lock", false },
		{ "../etc", false },
		{ "a/b", false },
		{ "Spam", false },
		{ "sp am", false },
		{ "spam\n", false },
		{ "caf\xc3\xa9", false },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		if (quarantine_reason_valid(cases[i].reason) != cases[i].valid)
			fail_msg("reason '%s': want %s", cases[i].reason,
				 cases[i].valid ? "valid" : "invalid");
	assert_false(quarantine_reason_valid(NULL));
	assert_true(quarantine_id_valid("1700000000.4F2A1C3B9E01"));
	assert_true(quarantine_id_valid("1700000000.4F2A1C3B9E01.3"));
	assert_false(quarantine_id_valid("../../etc/passwd"));
	assert_false(quarantine_id_valid("1700000000/x"));
	assert_false(quarantine_id_valid(".1700000000"));
	assert_false(quarantine_id_valid(""));
	assert_false(quarantine_id_valid(NULL));
}

/* ---- store, load, list, delete ---- */

static void
test_round_trip(void **state)
{
	const char *dir = keep_path("rt");
	struct quarantine_entry e = sample_entry("4F2A1C3B9E01", "spam"), got;
	struct pst_arena *arena = pst_arena_new(0);
	const char *id, *path = NULL, *error = NULL;
	char *data, *env;
	size_t len;

	(void)state;
	id = store_ok(dir, &e);
	assert_string_equal(id, "1700000000.4F2A1C3B9E01");

	/* The layout an admin finds on disk. */
	assert_int_equal(dir_count(tpath("rt/spam/new")), 1);
	assert_int_equal(dir_count(tpath("rt/spam/tmp")), 0);
	assert_int_equal(dir_count(tpath("rt/spam/cur")), 0);
	data = read_whole(tpath("rt/spam/new/%s", id), &len);
	assert_int_equal(len, strlen(msg_text));
	assert_memory_equal(data, msg_text, len);
	free(data);
	env = read_whole(tpath("rt/spam/envelope/%s", id), NULL);
	assert_memory_equal(env, "postern-quarantine 1\n", 21);
	assert_non_null(strstr(env, "\nfrom alice@example.net\n"));
	assert_non_null(strstr(env, "\nrcpt bob@example.org success,failure "
				    "rfc822;bob@example.org\n"));
	assert_non_null(strstr(env, "\nrcpt carol@example.org - -\n"));
	assert_non_null(strstr(env, "\nreason spam\n"));
	assert_non_null(strstr(env, "\ntext score%2012.5\n"));
	assert_null(strstr(env, "reason-given"));
	assert_string_equal(env + strlen(env) - 5, "\nend\n");
	free(env);

	assert_int_equal(quarantine_load(arena, dir, id, &got, &path, &error),
			 0);
	assert_entry_equal(&got, &e);
	assert_string_equal(got.id, id);
	assert_string_equal(got.reason, "spam");
	assert_null(got.reason_given);
	assert_int_equal(got.size, strlen(msg_text));
	assert_string_equal(path, tpath("rt/spam/new/%s", id));

	/* Delete: gone from the disk and from lookups. */
	assert_int_equal(quarantine_delete(arena, dir, id, &error), 0);
	assert_int_equal(dir_count(tpath("rt/spam/new")), 0);
	assert_int_equal(dir_count(tpath("rt/spam/envelope")), 0);
	assert_int_equal(quarantine_load(arena, dir, id, &got, &path, &error),
			 -1);
	assert_non_null(strstr(error, "no entry 1700000000.4F2A1C3B9E01"));
	assert_int_equal(quarantine_delete(arena, dir, id, &error), -1);
	assert_non_null(strstr(error, "no entry"));
	pst_arena_free(&arena);
}

/* NULLs and empty strings stay what they were. */
static void
test_round_trip_minimal(void **state)
{
	const char *dir = keep_path("minimal");
	static const struct filter_rcpt r[] = { { "x@example.org", "", 1 } };
	struct quarantine_entry e = {
		.from = "", /* the null sender */
		.helo = "",
		.rcpts = r,
		.nrcpt = 1,
		.reason = "virus",
		.time = 5,
	};
	struct quarantine_entry got;
	struct pst_arena *arena = pst_arena_new(0);
	const char *id, *path, *error = NULL;

	(void)state;
	id = store_ok(dir, &e);
	assert_string_equal(id, "5.NOQUEUE");
	assert_int_equal(quarantine_load(arena, dir, id, &got, &path, &error),
			 0);
	assert_entry_equal(&got, &e);
	assert_string_equal(got.from, "");
	assert_string_equal(got.rcpts[0].orcpt, "");
	assert_int_equal(got.rcpts[0].notify, SMTP_NOTIFY_NEVER);
	assert_int_equal(got.body, SMTP_BODY_UNSET);
	assert_int_equal(got.ret, SMTP_RET_UNSET);
	pst_arena_free(&arena);
}

/* Addresses and texts that try to forge lines or fields come back exactly
 * and add nothing to the file. */
static void
test_hostile_values(void **state)
{
	static const char *const values[] = {
		"evil@x\nrcpt forged@x - -\nend",
		"a b c@x",
		"100%zz@x",
		"-",
		"%2D",
		"\r\n\t\x01\x7f",
		"r\xc3\xa9sum\xc3\xa9@\xe4\xbe\x8b\xe5\xad\x90.example",
		"\xff\xfe broken utf-8",
	};
	const char *dir = keep_path("hostile");
	struct pst_arena *arena = pst_arena_new(0);

	(void)state;
	for (size_t i = 0; i < N_ELEMS(values); i++) {
		const char *v = values[i];
		struct filter_rcpt r[2] = { { v, v, 0 }, { "ok@x", NULL, 0 } };
		struct quarantine_entry e = {
			.qid = v,
			.time = 1000 + (time_t)i,
			.client_addr = v,
			.client_name = v,
			.helo = v,
			.proto = v,
			.from = v,
			.rcpts = r,
			.nrcpt = 2,
			.envid = v,
			.reason = "hostile",
			.filter = v,
			.text = v,
		};
		struct quarantine_entry got;
		const char *id, *path, *error = NULL;
		char *env;
		size_t lines = 0;

		id = store_ok(dir, &e);
		assert_true(quarantine_id_valid(id));
		env = read_whole(tpath("hostile/hostile/envelope/%s", id),
				 NULL);
		for (const char *p = env; *p; p++)
			lines += *p == '\n';
		/* magic, 16 keys, 2 rcpt lines, end */
		if (lines != 20)
			fail_msg("value %zu: %zu lines:\n%s", i, lines, env);
		free(env);
		if (quarantine_load(arena, dir, id, &got, &path, &error) != 0)
			fail_msg("value %zu: %s", i, error);
		assert_entry_equal(&got, &e);
		assert_int_equal(got.nrcpt, 2);
	}
	pst_arena_free(&arena);
}

/* A reason no folder may have goes to "invalid", the given one kept. */
static void
test_invalid_reason(void **state)
{
	static const char *const reasons[] = { "../../etc", "Spam", "", ".lock",
					       "x/y" };
	const char *dir = keep_path("badreason");
	struct pst_arena *arena = pst_arena_new(0);

	(void)state;
	for (size_t i = 0; i < N_ELEMS(reasons); i++) {
		struct quarantine_entry e = sample_entry("Q1", reasons[i]), got;
		const char *id, *path, *error = NULL;

		id = store_ok(dir, &e);
		assert_int_equal(
			quarantine_load(arena, dir, id, &got, &path, &error),
			0);
		assert_string_equal(got.reason, "invalid");
		assert_string_equal(got.reason_given, reasons[i]);
	}
	{
		struct quarantine_entry e = sample_entry("Q2", NULL), got;
		const char *id, *path, *error = NULL;

		id = store_ok(dir, &e);
		assert_int_equal(
			quarantine_load(arena, dir, id, &got, &path, &error),
			0);
		assert_string_equal(got.reason, "invalid");
		assert_null(got.reason_given);
	}
	assert_int_equal(dir_count(tpath("badreason")), 2); /* invalid, .lock */
	assert_int_equal(dir_count(tpath("badreason/invalid/envelope")), 6);
	pst_arena_free(&arena);
}

/* The same qid in the same second: in one reason and across reasons,
 * every store gets its own ID, and each ID finds its own entry. */
static void
test_id_clash(void **state)
{
	const char *dir = keep_path("clash");
	struct quarantine_entry a = sample_entry("SAME", "spam");
	struct quarantine_entry b = sample_entry("SAME", "virus");
	struct pst_arena *arena = pst_arena_new(0);
	struct quarantine_entry got;
	const char *path, *error = NULL;
	char id1[QUARANTINE_ID_MAX], id2[QUARANTINE_ID_MAX];
	char id3[QUARANTINE_ID_MAX];

	(void)state;
	snprintf(id1, sizeof(id1), "%s", store_ok(dir, &a));
	snprintf(id2, sizeof(id2), "%s", store_ok(dir, &a));
	snprintf(id3, sizeof(id3), "%s", store_ok(dir, &b));
	assert_string_equal(id1, "1700000000.SAME");
	assert_string_equal(id2, "1700000000.SAME.1");
	assert_string_equal(id3, "1700000000.SAME.2");
	assert_int_equal(quarantine_load(arena, dir, id3, &got, &path, &error),
			 0);
	assert_string_equal(got.reason, "virus");
	assert_int_equal(quarantine_load(arena, dir, id2, &got, &path, &error),
			 0);
	assert_string_equal(got.reason, "spam");
	/* A qid with characters no file name should have. */
	a.qid = "../x y";
	assert_string_equal(store_ok(dir, &a), "1700000000.___x_y");
	pst_arena_free(&arena);
}

/* ---- concurrency ---- */

#define THREADS 8
#define PER_THREAD 25

struct worker {
	const char *dir;
	unsigned n;
	char ids[PER_THREAD][QUARANTINE_ID_MAX];
	bool failed;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct filter_rcpt r = { "bob@example.org", NULL, 0 };
	char body[64];

	for (int i = 0; i < PER_THREAD; i++) {
		/* Same qid and second for all: only the store keeps them
		 * apart.  Two reasons, so the clash check spans them. */
		struct quarantine_entry e = {
			.qid = "RACE",
			.time = 1234,
			.from = "a@x",
			.rcpts = &r,
			.nrcpt = 1,
			.reason = (w->n + (unsigned)i) % 2 ? "odd" : "even",
		};
		struct pst_spool *spool;
		const char *error = NULL;
		int n = snprintf(body, sizeof(body), "T%u-%d\r\n", w->n, i);

		spool = pst_spool_new(4096, base);
		if (spool == NULL ||
		    pst_spool_write(spool, body, (size_t)n, &error) < 0 ||
		    pst_spool_flush(spool, &error) < 0 ||
		    quarantine_store(w->dir, &e, spool, w->ids[i], &error) < 0)
			w->failed = true;
		pst_spool_free(&spool);
	}
	return NULL;
}

static void
test_concurrent_stores(void **state)
{
	const char *dir = keep_path("race");
	static struct worker w[THREADS];
	pthread_t th[THREADS];
	struct pst_arena *arena = pst_arena_new(0);
	static struct seen s;

	(void)state;
	for (unsigned i = 0; i < THREADS; i++) {
		w[i].dir = dir;
		w[i].n = i;
		assert_int_equal(
			pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_false(w[i].failed);
	}
	/* Every ID once, each naming the message its thread wrote. */
	for (unsigned i = 0; i < THREADS; i++)
		for (int k = 0; k < PER_THREAD; k++) {
			struct quarantine_entry got;
			const char *path, *error = NULL;
			char want[64], *data;

			if (quarantine_load(arena, dir, w[i].ids[k], &got,
					    &path, &error) != 0)
				fail_msg("%s: %s", w[i].ids[k], error);
			data = read_whole(path, NULL);
			snprintf(want, sizeof(want), "T%u-%d\r\n", i, k);
			assert_string_equal(data, want);
			free(data);
		}
	walk(dir, &s);
	assert_int_equal(s.nerrors, 0);
	assert_int_equal(s.n, THREADS * PER_THREAD);
	for (size_t i = 1; i < s.n; i++)
		assert_string_not_equal(s.ids[i - 1], s.ids[i]);
	assert_int_equal(dir_count(tpath("race/odd/tmp")), 0);
	assert_int_equal(dir_count(tpath("race/even/tmp")), 0);
	pst_arena_free(&arena);
}

/* ---- listing ---- */

static void
test_list_sorted(void **state)
{
	static const struct {
		time_t time;
		const char *reason;
	} order[] = {
		{ 300, "b" }, { 100, "a" }, { 99999999999, "a" },
		{ 200, "b" }, { 100, "c" },
	};
	static const char *const want[] = {
		"100.Q", "100.Q.1", "200.Q", "300.Q", "99999999999.Q",
	};
	const char *dir = keep_path("sorted");
	static struct seen s;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(order); i++) {
		struct quarantine_entry e = sample_entry("Q", order[i].reason);

		e.time = order[i].time;
		store_ok(dir, &e);
	}
	walk(dir, &s);
	assert_int_equal(s.nerrors, 0);
	assert_int_equal(s.n, N_ELEMS(want));
	for (size_t i = 0; i < N_ELEMS(want); i++)
		assert_string_equal(s.ids[i], want[i]);
	assert_string_equal(s.reasons[0], "a");
	assert_string_equal(s.reasons[1], "c");

	/* The callback can stop the walk. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	walk(dir, &s);
	assert_int_equal(s.n, 2);

	/* Files that are not entries are not listed. */
	write_whole(tpath("sorted/a/envelope/notes.txt"), "x", 1);
	write_whole(tpath("sorted/readme"), "x", 1);
	assert_int_equal(mkdir(tpath("sorted/Bad"), 0700), 0);
	memset(&s, 0, sizeof(s));
	walk(dir, &s);
	assert_int_equal(s.n, N_ELEMS(want));
	assert_int_equal(s.nerrors, 0);
}

/* A store that does not exist yet is empty; storing creates it all. */
static void
test_missing_dirs(void **state)
{
	const char *dir = keep_path("deep/er/quarantine");
	struct quarantine_entry e = sample_entry("Q", "spam");
	static struct seen s;
	struct stat st;

	(void)state;
	walk(dir, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(stat(tpath("deep"), &st), -1);
	store_ok(dir, &e);
	assert_int_equal(stat(tpath("deep/er/quarantine/spam"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(tpath("deep/er/quarantine/spam/envelope"), &st),
			 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	walk(dir, &s);
	assert_int_equal(s.n, 1);

	/* A reason folder someone made by hand without the subfolders. */
	assert_int_equal(mkdir(tpath("deep/er/quarantine/virus"), 0700), 0);
	memset(&s, 0, sizeof(s));
	walk(dir, &s);
	assert_int_equal(s.n, 1);
	e.reason = "virus";
	store_ok(dir, &e);
	memset(&s, 0, sizeof(s));
	walk(dir, &s);
	assert_int_equal(s.n, 2);
}

/* ---- damaged entries ---- */

static void
test_garbled_envelopes(void **state)
{
	static const struct {
		const char *name;
		const char *text; /* replaces the envelope */
		const char *want; /* in the error, after the path */
		size_t len;	  /* of text; 0: strlen */
	} cases[] = {
		{ "empty", "", "empty file" },
		{ "magic", "hello world\n",
		  "line 1: not a postern quarantine" },
		{ "version", "postern-quarantine 2\nend\n",
		  "line 1: version 2 (this postern reads 1)" },
		{ "no end",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a@x\n"
		  "rcpt b@x - -\nreason spam\n",
		  "truncated (no end line)" },
		{ "unterminated",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a@x\n"
		  "rcpt b@x - -\nreason spam\nend",
		  "line 7: unterminated last line" },
		{ "bad escape",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a%zz@x\n"
		  "rcpt b@x - -\nreason spam\nend\n",
		  "line 4: bad value" },
		{ "escaped NUL",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a%00@x\n"
		  "rcpt b@x - -\nreason spam\nend\n",
		  "line 4: bad value" },
		{ "raw control",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a\r@x\n"
		  "rcpt b@x - -\nreason spam\nend\n",
		  "line 4: bad value" },
		{ "bad time",
		  "postern-quarantine 1\nqid Q\ntime -1\nfrom a@x\n"
		  "rcpt b@x - -\nreason spam\nend\n",
		  "line 3: bad value" },
		{ "huge time",
		  "postern-quarantine 1\nqid Q\ntime 99999999999999999999\n"
		  "from a@x\nrcpt b@x - -\nreason spam\nend\n",
		  "line 3: bad value" },
		{ "twice",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a@x\nfrom c@x\n"
		  "rcpt b@x - -\nreason spam\nend\n",
		  "line 5: key given twice" },
		{ "no from",
		  "postern-quarantine 1\nqid Q\ntime 1\n"
		  "rcpt b@x - -\nreason spam\nend\n",
		  ": no from line" },
		{ "null from",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom -\n"
		  "rcpt b@x - -\nreason spam\nend\n",
		  "must not be \"-\"" },
		{ "no rcpt",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a@x\n"
		  "reason spam\nend\n",
		  ": no rcpt line" },
		{ "short rcpt",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a@x\n"
		  "rcpt b@x\nreason spam\nend\n",
		  "line 5: bad rcpt line" },
		{ "bad notify",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a@x\n"
		  "rcpt b@x success,,delay -\nreason spam\nend\n",
		  "line 5: bad rcpt line" },
		{ "bad body",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a@x\n"
		  "rcpt b@x - -\nbody binarymime\nreason spam\nend\n",
		  "line 6: bad value" },
		{ "no space",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a@x\n"
		  "rcpt b@x - -\nreason\nend\n",
		  "line 6: not a \"key value\" line" },
		{ "after end",
		  "postern-quarantine 1\nqid Q\ntime 1\nfrom a@x\n"
		  "rcpt b@x - -\nreason spam\nend\nqid R\n",
		  "line 8: text after the end line" },
		{ "NUL", "postern-quarantine 1\nqid Q\0\n", "line 2: NUL byte",
		  sizeof("postern-quarantine 1\nqid Q\0\n") - 1 },
	};
	const char *dir = keep_path("garbled");
	struct pst_arena *arena = pst_arena_new(0);

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct quarantine_entry e = sample_entry("G", "spam"), got;
		const char *id, *path, *error = NULL, *envpath;
		static struct seen s;
		size_t len =
			cases[i].len ? cases[i].len : strlen(cases[i].text);

		e.time = 10 + (time_t)i;
		id = store_ok(dir, &e);
		envpath = tpath("garbled/spam/envelope/%s", id);
		write_whole(envpath, cases[i].text, len);
		if (quarantine_load(arena, dir, id, &got, &path, &error) != -1)
			fail_msg("%s: loaded", cases[i].name);
		if (strncmp(error, envpath, strlen(envpath)) != 0 ||
		    strstr(error, cases[i].want) == NULL)
			fail_msg("%s: error '%s', want '%s: ...%s'",
				 cases[i].name, error, envpath, cases[i].want);
		/* The walk reports it with the path and goes on. */
		memset(&s, 0, sizeof(s));
		walk(dir, &s);
		assert_int_equal(s.nerrors, 1);
		assert_string_equal(s.errors[0], error);
		/* It can still be deleted. */
		assert_int_equal(quarantine_delete(arena, dir, id, &error), 0);
	}
	pst_arena_free(&arena);
}

/* Keys of a later version are skipped; the entry still loads. */
static void
test_unknown_key_ignored(void **state)
{
	const char *dir = keep_path("future");
	struct quarantine_entry e = sample_entry("F", "spam"), got;
	struct pst_arena *arena = pst_arena_new(0);
	const char *id, *path, *error = NULL;

	(void)state;
	id = store_ok(dir, &e);
	write_whole(tpath("future/spam/envelope/%s", id),
		    "postern-quarantine 1\nqid F\ntime 7\nfrom a@x\n"
		    "rcpt b@x - -\nscore 12.5\nreason spam\nend\n",
		    strlen("postern-quarantine 1\nqid F\ntime 7\nfrom a@x\n"
			   "rcpt b@x - -\nscore 12.5\nreason spam\nend\n"));
	assert_int_equal(quarantine_load(arena, dir, id, &got, &path, &error),
			 0);
	assert_string_equal(got.from, "a@x");
	assert_int_equal(got.time, 7);
	pst_arena_free(&arena);
}

static void
test_unreadable_envelope(void **state)
{
	const char *dir = keep_path("unreadable");
	struct quarantine_entry e = sample_entry("U", "spam"), got;
	struct pst_arena *arena = pst_arena_new(0);
	const char *id, *path, *error = NULL, *envpath;
	static struct seen s;

	(void)state;
	id = store_ok(dir, &e);
	envpath = tpath("unreadable/spam/envelope/%s", id);
	/* Root reads through any mode: a symlink is refused for everyone
	 * (an entry is never a link). */
	assert_int_equal(unlink(envpath), 0);
	assert_int_equal(symlink("/etc/passwd", envpath), 0);
	assert_int_equal(quarantine_load(arena, dir, id, &got, &path, &error),
			 -1);
	assert_memory_equal(error, envpath, strlen(envpath));
	walk(dir, &s);
	assert_int_equal(s.nerrors, 1);
	assert_memory_equal(s.errors[0], envpath, strlen(envpath));
	assert_int_equal(unlink(envpath), 0);

	/* A directory where the file should be. */
	assert_int_equal(mkdir(envpath, 0700), 0);
	assert_int_equal(quarantine_load(arena, dir, id, &got, &path, &error),
			 -1);
	assert_non_null(strstr(error, ": not a file"));
	assert_int_equal(rmdir(envpath), 0);

	if (geteuid() != 0) {
		id = store_ok(dir, &e);
		envpath = tpath("unreadable/spam/envelope/%s", id);
		assert_int_equal(chmod(envpath, 0), 0);
		assert_int_equal(
			quarantine_load(arena, dir, id, &got, &path, &error),
			-1);
		assert_memory_equal(error, envpath, strlen(envpath));
		assert_non_null(strstr(error, "Permission denied"));
	}
	pst_arena_free(&arena);
}

/* The message file: missing, or moved to cur/ by a mail client. */
static void
test_message_file(void **state)
{
	const char *dir = keep_path("msgfile");
	struct quarantine_entry e = sample_entry("M", "spam"), got;
	struct pst_arena *arena = pst_arena_new(0);
	const char *id, *path, *error = NULL;
	char moved[PATH_MAX];

	(void)state;
	id = store_ok(dir, &e);
	snprintf(moved, sizeof(moved), "%s:2,S",
		 tpath("msgfile/spam/cur/%s", id));
	assert_int_equal(rename(tpath("msgfile/spam/new/%s", id), moved), 0);
	assert_int_equal(quarantine_load(arena, dir, id, &got, &path, &error),
			 0);
	assert_string_equal(path, moved);
	assert_int_equal(got.size, strlen(msg_text));
	assert_int_equal(quarantine_delete(arena, dir, id, &error), 0);
	assert_int_equal(dir_count(tpath("msgfile/spam/cur")), 0);

	id = store_ok(dir, &e);
	assert_int_equal(unlink(tpath("msgfile/spam/new/%s", id)), 0);
	assert_int_equal(quarantine_load(arena, dir, id, &got, &path, &error),
			 -1);
	assert_string_equal(
		error, tpath("msgfile/spam/new/%s: message file missing", id));
	/* Deleting what is left of it works. */
	assert_int_equal(quarantine_delete(arena, dir, id, &error), 0);
	assert_int_equal(dir_count(tpath("msgfile/spam/envelope")), 0);
	pst_arena_free(&arena);
}

static void
test_malformed_ids(void **state)
{
	static const char *const ids[] = { "../../etc/passwd", "", "abc",
					   "1/../../x", ".1" };
	const char *dir = keep_path("rt");
	struct pst_arena *arena = pst_arena_new(0);

	(void)state;
	for (size_t i = 0; i < N_ELEMS(ids); i++) {
		struct quarantine_entry got;
		const char *path, *error = NULL;

		assert_int_equal(quarantine_load(arena, dir, ids[i], &got,
						 &path, &error),
				 -1);
		assert_string_equal(error, "malformed quarantine ID");
		assert_int_equal(quarantine_delete(arena, dir, ids[i], &error),
				 -1);
		assert_string_equal(error, "malformed quarantine ID");
	}
	pst_arena_free(&arena);
}

/* ---- failures leave nothing behind ---- */

static void
test_store_failures(void **state)
{
	struct quarantine_entry e = sample_entry("F", "spam");
	struct pst_spool *spool = spool_from("x\r\n", 3, 4096);
	char id[QUARANTINE_ID_MAX], blocker[PATH_MAX], dir[PATH_MAX + 16];
	char longdir[PATH_MAX + 8];
	const char *error = NULL;
	static struct seen s;

	(void)state;
	/* A file where the store should be stops even root. */
	snprintf(blocker, sizeof(blocker), "%s", tpath("blocker"));
	write_whole(blocker, "x", 1);
	snprintf(dir, sizeof(dir), "%s/q", blocker);
	assert_int_equal(quarantine_store(dir, &e, spool, id, &error), -1);
	assert_non_null(strstr(error, blocker));
	assert_non_null(strstr(error, "Not a directory"));

	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	assert_int_equal(quarantine_store(longdir, &e, spool, id, &error), -1);
	assert_non_null(strstr(error, "too long"));

	e.nrcpt = 0;
	assert_int_equal(quarantine_store(tpath("fail"), &e, spool, id, &error),
			 -1);
	assert_non_null(strstr(error, "no recipient"));
	e = sample_entry("F", "spam");
	e.from = NULL;
	assert_int_equal(quarantine_store(tpath("fail"), &e, spool, id, &error),
			 -1);
	walk(tpath("fail"), &s);
	assert_int_equal(s.n, 0);
	pst_spool_free(&spool);
}

/* A write that fails half way (file size limit) leaves no file. */
static void
test_write_failure_cleans_up(void **state)
{
	const char *dir = keep_path("efbig");
	struct quarantine_entry e = sample_entry("B", "spam");
	size_t n = 300 * KIB;
	char *body = malloc(n), id[QUARANTINE_ID_MAX];
	struct pst_spool *spool;
	const char *error = NULL;
	struct rlimit old, lim;
	static struct seen s;
	int ret;

	(void)state;
	assert_non_null(body);
	memset(body, 'x', n);
	spool = spool_from(body, n, 16 * KIB);
	assert_true(pst_spool_in_file(spool));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100 * KIB;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ret = quarantine_store(dir, &e, spool, id, &error);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(ret, -1);
	assert_non_null(strstr(error, "File too large"));
	assert_int_equal(dir_count(tpath("efbig/spam/tmp")), 0);
	assert_int_equal(dir_count(tpath("efbig/spam/new")), 0);
	assert_int_equal(dir_count(tpath("efbig/spam/envelope")), 0);

	/* Without the limit the same spool goes in whole. */
	assert_int_equal(quarantine_store(dir, &e, spool, id, &error), 0);
	{
		size_t len;
		char *data = read_whole(tpath("efbig/spam/new/%s", id), &len);

		assert_int_equal(len, n);
		assert_memory_equal(data, body, n);
		free(data);
	}
	walk(dir, &s);
	assert_int_equal(s.n, 1);
	pst_spool_free(&spool);
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_valid),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_minimal),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_invalid_reason),
		cmocka_unit_test(test_id_clash),
		cmocka_unit_test(test_concurrent_stores),
		cmocka_unit_test(test_list_sorted),
		cmocka_unit_test(test_missing_dirs),
		cmocka_unit_test(test_garbled_envelopes),
		cmocka_unit_test(test_unknown_key_ignored),
		cmocka_unit_test(test_unreadable_envelope),
		cmocka_unit_test(test_message_file),
		cmocka_unit_test(test_malformed_ids),
		cmocka_unit_test(test_store_failures),
		cmocka_unit_test(test_write_failure_cleans_up),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
