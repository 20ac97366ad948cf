/*
 * test_maildir.c - maildir delivery, route configuration and lookup, and
 * relay_submit() through the worker pool back to an event loop.
 *
 * Hermetic: every maildir lives under one mkdtemp() directory, removed at
 * the end.  Relay log lines are read back from stderr (pst_log_init(true))
 * redirected into a file there.
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

#include <event2/event.h>
#include <event2/thread.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "maildir.h"
#include "relay.h"
#include "spool.h"
#include "workq.h"
#include "route_conf.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

static char base[64];

/* ---- helpers ---- */

static char *
md_path(const char *name)
{
	static char path[4][PATH_MAX];
	static int slot;
	char *p = path[slot++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", base, name);
	return p;
}

static int
dir_entries(const char *dir, const char *sub, char *first_r, size_t size)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (n++ == 0 && first_r != NULL)
			snprintf(first_r, size, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static char *
read_file(const char *path, size_t *len_r)
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
	*len_r = (size_t)st.st_size;
	return data;
}

/* The only file in DIR/new, read whole. */
static char *
read_delivered(const char *dir, size_t *len_r)
{
	char name[NAME_MAX + 1], path[PATH_MAX];

	assert_int_equal(dir_entries(dir, "new", name, sizeof(name)), 1);
	assert_int_equal(dir_entries(dir, "tmp", NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/new/%s", dir, name);
	return read_file(path, len_r);
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
	snprintf(base, sizeof(base), "/tmp/test_maildir.XXXXXX");
	return mkdtemp(base) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- maildir_deliver ---- */

static void
test_deliver_basic(void **state)
{
	const char *dir = md_path("basic");
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_spool *spool =
		spool_from("Subject: hi\r\n\r\nbody\r\n", 21, 4096);
	struct maildir_rcpt rcpt = { "rcpt@example.org", NULL };
	const char *name = NULL, *error = NULL;
	char path[PATH_MAX];
	struct stat st;
	size_t len;
	char *data;

	(void)state;
	assert_int_equal(maildir_deliver(arena, dir, "from@example.net", &rcpt,
					 1, spool, &name, &error),
			 0);
	assert_non_null(name);
	data = read_delivered(dir, &len);
	assert_string_equal(data, "Return-Path: <from@example.net>\n"
				  "Delivered-To: rcpt@example.org\n"
				  "X-Original-To: rcpt@example.org\n"
				  "Subject: hi\n\nbody\n");
	free(data);
	/* The maildir was created complete and private. */
	assert_int_equal(dir_entries(dir, "cur", NULL, 0), 0);
	for (int i = 0; i < 4; i++) {
		static const char *const subs[] = { "", "/tmp", "/new",
						    "/cur" };

		snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0700);
	}
	snprintf(path, sizeof(path), "%s/new/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

struct rc {
	const char *addr;
	const char *orcpt;
};

static const struct {
	const char *name;
	const char *from;
	struct rc rcpts[3];
	size_t nrcpt;
	const char *body;
	const char *want;
} content_cases[] = {
	{ "null sender",
	  "",
	  { { "a@x.org", NULL } },
	  1,
	  "A: b\r\n\r\nc\r\n",
	  "Return-Path: <>\nDelivered-To: a@x.org\nX-Original-To: a@x.org\n"
	  "A: b\n\nc\n" },
	{ "three recipients in order",
	  "s@y.net",
	  { { "a@x.org", NULL }, { "b@x.org", NULL }, { "c@x.org", NULL } },
	  3,
	  "X: 1\r\n",
	  "Return-Path: <s@y.net>\n"
	  "Delivered-To: a@x.org\nX-Original-To: a@x.org\n"
	  "Delivered-To: b@x.org\nX-Original-To: b@x.org\n"
	  "Delivered-To: c@x.org\nX-Original-To: c@x.org\n"
	  "X: 1\n" },
	{ "ORCPT plain",
	  "s@y.net",
	  { { "a@x.org", "rfc822;orig@z.org" } },
	  1,
	  "",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: orig@z.org\n" },
	{ "ORCPT xtext decoded",
	  "s@y.net",
	  { { "a@x.org", "rfc822;first+2Blast+3Dx@z.org" } },
	  1,
	  "",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: first+last=x@z.org\n" },
	{ "ORCPT type without case",
	  "s@y.net",
	  { { "a@x.org", "RFC822;o+2bx@z.org" } },
	  1,
	  "",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: o+x@z.org\n" },
	{ "ORCPT other type",
	  "s@y.net",
	  { { "a@x.org", "utf-8;o@z.org" } },
	  1,
	  "",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: a@x.org\n" },
	{ "ORCPT bad xtext",
	  "s@y.net",
	  { { "a@x.org", "rfc822;o+G1@z.org" } },
	  1,
	  "",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: a@x.org\n" },
	{ "ORCPT truncated xtext",
	  "s@y.net",
	  { { "a@x.org", "rfc822;o+2" } },
	  1,
	  "",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: a@x.org\n" },
	{ "ORCPT decoding to a line break",
	  "s@y.net",
	  { { "a@x.org", "rfc822;o+0D+0ABcc:+20v@z.org" } },
	  1,
	  "",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: a@x.org\n" },
	{ "ORCPT empty address",
	  "s@y.net",
	  { { "a@x.org", "rfc822;" } },
	  1,
	  "",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: a@x.org\n" },
	{ "bare CR kept, CRLF turned to LF",
	  "s@y.net",
	  { { "a@x.org", NULL } },
	  1,
	  "a\rb\r\n\r\nc\r\r\n",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: a@x.org\na\rb\n\nc\r\n" },
	{ "no final line end",
	  "s@y.net",
	  { { "a@x.org", NULL } },
	  1,
	  "x\r\ny",
	  "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
	  "X-Original-To: a@x.org\nx\ny" },
	{ "UTF-8 addresses",
	  "s\xc3\xa9@y.net",
	  { { "\xc3\xa9t\xc3\xa9@x.org", NULL } },
	  1,
	  "",
	  "Return-Path: <s\xc3\xa9@y.net>\n"
	  "Delivered-To: \xc3\xa9t\xc3\xa9@x.org\n"
	  "X-Original-To: \xc3\xa9t\xc3\xa9@x.org\n" },
};

static void
test_deliver_content(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(content_cases) / sizeof(content_cases[0]);
	     i++) {
		char sub[32];
		const char *dir;
		struct pst_arena *arena = pst_arena_new(0);
		struct maildir_rcpt rcpts[3];
		struct pst_spool *spool;
		const char *name = NULL, *error = NULL;
		size_t len;
		char *data;

		snprintf(sub, sizeof(sub), "content-%zu", i);
		dir = md_path(sub);
		for (size_t r = 0; r < content_cases[i].nrcpt; r++) {
			rcpts[r].addr = content_cases[i].rcpts[r].addr;
			rcpts[r].orcpt = content_cases[i].rcpts[r].orcpt;
		}
		spool = spool_from(content_cases[i].body,
				   strlen(content_cases[i].body), 4096);
		if (maildir_deliver(arena, dir, content_cases[i].from, rcpts,
				    content_cases[i].nrcpt, spool, &name,
				    &error) != 0)
			fail_msg("%s: %s", content_cases[i].name, error);
		data = read_delivered(dir, &len);
		if (strcmp(data, content_cases[i].want) != 0)
			fail_msg("%s: got [%s]", content_cases[i].name, data);
		free(data);
		pst_spool_free(&spool);
		pst_arena_free(&arena);
	}
}

static const struct {
	const char *name;
	size_t n;	  /* bytes of 'a' before tail */
	const char *tail; /* then these */
	const char *want; /* arrive as these */
} edge_cases[] = {
	{ "CRLF split by the buffer", 65535, "\r\nb\r\n", "\nb\n" },
	{ "CRLF at the buffer start", 65536, "\r\nb\r\n", "\nb\n" },
	{ "CRLF ending the buffer", 65534, "\r\nb\r\n", "\nb\n" },
	{ "CRLF split by the second buffer", 131071, "\r\nb\r\n", "\nb\n" },
	{ "bare CR ending the buffer", 65535, "\rb\r\n", "\rb\n" },
	{ "CR ending the message", 65535, "\r", "\r" },
};

/* Line ends split across the 64 KiB copy buffers. */
static void
test_deliver_crlf_at_buffer_edge(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(edge_cases) / sizeof(edge_cases[0]);
	     i++) {
		size_t n = edge_cases[i].n, tlen = strlen(edge_cases[i].tail);
		size_t wlen = strlen(edge_cases[i].want);
		char *body = malloc(n + tlen), *want;
		char sub[32];
		const char *dir, *name = NULL, *error = NULL;
		struct pst_arena *arena = pst_arena_new(0);
		struct maildir_rcpt rcpt = { "a@x.org", NULL };
		struct pst_spool *spool;
		size_t len, hlen;
		char *data;

		memset(body, 'a', n);
		memcpy(body + n, edge_cases[i].tail, tlen);
		spool = spool_from(body, n + tlen, 1024);
		assert_true(pst_spool_in_file(spool));
		snprintf(sub, sizeof(sub), "edge-%zu", i);
		dir = md_path(sub);
		assert_int_equal(maildir_deliver(arena, dir, "s@y.net", &rcpt,
						 1, spool, &name, &error),
				 0);
		data = read_delivered(dir, &len);
		want = strstr(data, "X-Original-To: a@x.org\n");
		assert_non_null(want);
		hlen = (size_t)(want - data) +
		       strlen("X-Original-To: a@x.org\n");
		if (len != hlen + n + wlen ||
		    memcmp(data + hlen + n, edge_cases[i].want, wlen) != 0)
			fail_msg("%s: wrong tail", edge_cases[i].name);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(data[hlen + k], 'a');
		free(data);
		free(body);
		pst_spool_free(&spool);
		pst_arena_free(&arena);
	}
}

/* 5 MB through a file-backed spool arrives byte for byte. */
static void
test_deliver_big(void **state)
{
	const char *dir = md_path("big");
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_spool *spool = pst_spool_new(64 * KIB, base);
	struct maildir_rcpt rcpt = { "a@x.org", NULL };
	const char *name = NULL, *error = NULL;
	const char *hdr = "Return-Path: <s@y.net>\nDelivered-To: a@x.org\n"
			  "X-Original-To: a@x.org\n";
	char *want = malloc(5 * MIB + 1024), *data;
	size_t wlen = strlen(hdr), total = 0, len;
	char line[1200];

	(void)state;
	assert_non_null(spool);
	assert_non_null(want);
	memcpy(want, hdr, wlen);
	for (unsigned k = 0; total < 5 * MIB; k++) {
		size_t n = (k * 37u) % 998;

		for (size_t j = 0; j < n; j++)
			line[j] = (char)('!' + (k + j) % 90);
		memcpy(line + n, "\r\n", 2);
		assert_int_equal(pst_spool_write(spool, line, n + 2, &error),
				 0);
		memcpy(want + wlen, line, n);
		want[wlen + n] = '\n';
		wlen += n + 1;
		total += n + 2;
	}
	assert_int_equal(pst_spool_flush(spool, &error), 0);
	assert_true(pst_spool_in_file(spool));
	assert_int_equal(maildir_deliver(arena, dir, "s@y.net", &rcpt, 1, spool,
					 &name, &error),
			 0);
	data = read_delivered(dir, &len);
	assert_int_equal(len, wlen);
	assert_memory_equal(data, want, wlen);
	free(data);
	free(want);
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

/* SECONDS.M<usec>P<pid>Q<n>R<16 hex>.HOST, host escaped. */
static void
test_name_format(void **state)
{
	const char *dir = md_path("names");
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_spool *spool = spool_from("x\r\n", 3, 4096);
	struct maildir_rcpt rcpt = { "a@x.org", NULL };
	const char *name = NULL, *error = NULL, *p;
	char host[256], esc[1100], prefix[64];
	size_t o = 0;
	char *end;

	(void)state;
	assert_int_equal(
		maildir_deliver(arena, dir, "", &rcpt, 1, spool, &name, &error),
		0);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	for (const char *h = host; *h; h++) {
		if (*h == '/')
			o += (size_t)sprintf(esc + o, "\\057");
		else if (*h == ':')
			o += (size_t)sprintf(esc + o, "\\072");
		else
			esc[o++] = *h;
	}
	esc[o] = '\0';
	assert_null(strchr(name, '/'));
	assert_null(strchr(name, ':'));

	assert_true(strtoll(name, &end, 10) > 1600000000);
	assert_int_equal(*end, '.');
	assert_int_equal(end[1], 'M');
	assert_true(strtol(end + 2, &end, 10) < 1000000);
	snprintf(prefix, sizeof(prefix), "P%ldQ", (long)getpid());
	assert_memory_equal(end, prefix, strlen(prefix));
	p = end + strlen(prefix);
	strtoul(p, &end, 10);
	assert_true(end > p);
	assert_int_equal(*end, 'R');
	for (int i = 1; i <= 16; i++)
		assert_non_null(strchr("0123456789abcdef", end[i]));
	assert_int_equal(end[17], '.');
	assert_string_equal(end + 18, esc);
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

struct many_ctx {
	const char *dir;
	struct pst_spool *spool;
	int n;
	int failed;
	char first_error[256]; /* what went wrong, for the failure message */
};

static void *
deliver_many(void *arg)
{
	struct many_ctx *c = arg;
	struct maildir_rcpt rcpt = { "a@x.org", NULL };

	for (int i = 0; i < c->n; i++) {
		struct pst_arena *arena = pst_arena_new(0);
		const char *name, *error;

		if (maildir_deliver(arena, c->dir, "s@y.net", &rcpt, 1,
				    c->spool, &name, &error) != 0 &&
		    c->failed++ == 0)
			snprintf(c->first_error, sizeof(c->first_error), "%s",
				 error);
		pst_arena_free(&arena);
	}
	return NULL;
}

/* 1000 deliveries, one after another and from four threads at once,
 * give 1000 distinct files (a repeated name would overwrite one). */
static void
test_unique_names(void **state)
{
	struct pst_spool *spool = spool_from("x\r\n", 3, 4096);
	struct many_ctx seq = { md_path("many-seq"), spool, 1000, 0, "" };
	struct many_ctx par[4];
	pthread_t th[4];

	(void)state;
	deliver_many(&seq);
	if (seq.failed != 0)
		fail_msg("%d failed: %s", seq.failed, seq.first_error);
	assert_int_equal(dir_entries(seq.dir, "new", NULL, 0), 1000);
	assert_int_equal(dir_entries(seq.dir, "tmp", NULL, 0), 0);

	for (int i = 0; i < 4; i++) {
		par[i] = (struct many_ctx){ md_path("many-par"), spool, 250, 0,
					    "" };
		assert_int_equal(
			pthread_create(&th[i], NULL, deliver_many, &par[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		if (par[i].failed != 0)
			fail_msg("thread %d: %d failed: %s", i, par[i].failed,
				 par[i].first_error);
	}
	assert_int_equal(dir_entries(md_path("many-par"), "new", NULL, 0),
			 1000);
	pst_spool_free(&spool);
}

static void
test_unwritable_dir(void **state)
{
	char blocker[PATH_MAX], dir[PATH_MAX + 16];
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_spool *spool = spool_from("x\r\n", 3, 4096);
	struct maildir_rcpt rcpt = { "a@x.org", NULL };
	const char *name = NULL, *error = NULL;
	int fd;

	(void)state;
	/* A file where a directory should be stops even root. */
	snprintf(blocker, sizeof(blocker), "%s", md_path("blocker"));
	fd = open(blocker, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(dir, sizeof(dir), "%s/maildir", blocker);
	assert_int_equal(maildir_deliver(arena, dir, "s@y.net", &rcpt, 1, spool,
					 &name, &error),
			 -1);
	assert_non_null(error);
	assert_non_null(strstr(error, "Not a directory"));
	assert_non_null(strstr(error, blocker));

	/* Relative paths are refused outright. */
	error = NULL;
	assert_int_equal(maildir_deliver(arena, "rel/maildir", "s@y.net", &rcpt,
					 1, spool, &name, &error),
			 -1);
	assert_non_null(strstr(error, "not absolute"));
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

/* A write that fails halfway leaves neither tmp/ nor new/ behind. */
static void
test_write_failure_cleans_up(void **state)
{
	const char *dir = md_path("efbig");
	struct pst_arena *arena = pst_arena_new(0);
	size_t n = 300 * KIB;
	char *body = malloc(n);
	struct pst_spool *spool;
	struct maildir_rcpt rcpt = { "a@x.org", NULL };
	const char *name = NULL, *error = NULL;
	struct rlimit old, lim;
	int ret;

	(void)state;
	assert_non_null(body);
	memset(body, 'x', n);
	spool = spool_from(body, n, 1 * MIB);
	assert_false(pst_spool_in_file(spool));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100 * KIB;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ret = maildir_deliver(arena, dir, "s@y.net", &rcpt, 1, spool, &name,
			      &error);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(ret, -1);
	assert_non_null(error);
	assert_memory_equal(error, "write tmp/", 10);
	assert_non_null(strstr(error, ": File too large"));
	assert_int_equal(dir_entries(dir, "tmp", NULL, 0), 0);
	assert_int_equal(dir_entries(dir, "new", NULL, 0), 0);
	free(body);
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

static const struct {
	const char *name;
	const char *from;
	const char *rcpt;
} injection_cases[] = {
	{ "CRLF in sender", "a@b\r\nBcc: x@y", "r@x.org" },
	{ "LF in sender", "a@b\nX: y", "r@x.org" },
	{ "CR in recipient", "a@b", "r@x.org\rX: y" },
	{ "LF in recipient", "a@b", "r@x.org\nX: y" },
};

static void
test_header_injection_refused(void **state)
{
	const char *dir = md_path("inject");
	struct pst_spool *spool = spool_from("x\r\n", 3, 4096);

	(void)state;
	for (size_t i = 0;
	     i < sizeof(injection_cases) / sizeof(injection_cases[0]); i++) {
		struct pst_arena *arena = pst_arena_new(0);
		struct maildir_rcpt rcpt = { injection_cases[i].rcpt, NULL };
		const char *name = NULL, *error = NULL;

		if (maildir_deliver(arena, dir, injection_cases[i].from, &rcpt,
				    1, spool, &name, &error) != -1)
			fail_msg("%s: delivered", injection_cases[i].name);
		assert_non_null(error);
		assert_non_null(strstr(error, "CR or LF"));
		pst_arena_free(&arena);
	}
	assert_true(dir_entries(dir, "new", NULL, 0) <= 0);
	assert_true(dir_entries(dir, "tmp", NULL, 0) <= 0);
	pst_spool_free(&spool);
}

/* Parents as by mkdir -p; the maildir's own directories chowned when
 * created (root only), existing ones left alone. */
static void
test_prepare(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	const char *dir = md_path("prep/a/b/mail");
	const char *error = NULL;
	uid_t uid = getuid() == 0 ? 4242 : (uid_t)-1;
	gid_t gid = getuid() == 0 ? 4343 : (gid_t)-1;
	char path[PATH_MAX];
	struct stat st;

	(void)state;
	assert_int_equal(maildir_prepare(arena, dir, uid, gid, &error), 0);
	for (int i = 0; i < 4; i++) {
		static const char *const subs[] = { "", "/tmp", "/new",
						    "/cur" };

		snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0700);
		if (uid != (uid_t)-1) {
			assert_int_equal(st.st_uid, uid);
			assert_int_equal(st.st_gid, gid);
		}
	}
	/* Parents keep their creator. */
	assert_int_equal(stat(md_path("prep/a"), &st), 0);
	assert_int_equal(st.st_uid, getuid());
	/* Again: nothing to do, nothing fails. */
	assert_int_equal(maildir_prepare(arena, dir, uid, gid, &error), 0);
	assert_int_equal(maildir_prepare(arena, "relative", uid, gid, &error),
			 -1);
	assert_non_null(strstr(error, "not absolute"));
	pst_arena_free(&arena);
}

/* ---- route configuration ---- */

static const struct {
	const char *name;
	const char *text;
	const char *want; /* error text */
} route_error_cases[] = {
	{ "missing name", "route { upstream = \"maildir:/m\"; }",
	  "t.conf:1: route needs a name" },
	{ "space in domain",
	  "route \"exa mple.org\" { upstream = \"maildir:/m\"; }",
	  "t.conf:1: route 'exa mple.org': not a domain name" },
	{ "empty label", "route \"a..b\" { upstream = \"maildir:/m\"; }",
	  "t.conf:1: route 'a..b': not a domain name" },
	{ "hyphen start", "route \"-a.org\" { upstream = \"maildir:/m\"; }",
	  "t.conf:1: route '-a.org': not a domain name" },
	{ "hyphen end", "route \"a-.org\" { upstream = \"maildir:/m\"; }",
	  "t.conf:1: route 'a-.org': not a domain name" },
	{ "lone dot", "route \".\" { upstream = \"maildir:/m\"; }",
	  "t.conf:1: route '.': not a domain name" },
	{ "double dot prefix",
	  "route \"..a.org\" { upstream = \"maildir:/m\"; }",
	  "t.conf:1: route '..a.org': not a domain name" },
	{ "label too long",
	  "route \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org\" "
	  "{ upstream = \"maildir:/m\"; }",
	  "not a domain name" },
	{ "duplicate, other case",
	  "route \"example.org\" { upstream = \"maildir:/m\"; }\n"
	  "route \"Example.ORG.\" { upstream = \"maildir:/n\"; }",
	  "t.conf:2: route 'Example.ORG.' is already defined at t.conf:1" },
	{ "duplicate default",
	  "route default { upstream = \"maildir:/m\"; }\n"
	  "route default { upstream = \"maildir:/n\"; }",
	  "t.conf:2: route 'default' is already defined at t.conf:1" },
	{ "smtp port out of range",
	  "route default {\n upstream = \"smtp://10.0.0.5:65536\";\n}",
	  "t.conf:2: upstream 'smtp://10.0.0.5:65536': expected host, "
	  "host:port or [IPv6]:port" },
	{ "IPv6 without brackets",
	  "route default { upstream = \"smtp://::1:25\"; }",
	  "t.conf:1: upstream 'smtp://::1:25': expected host" },
	{ "lmtp unix without path",
	  "route default { upstream = \"lmtp:unix:\"; }",
	  "t.conf:1: upstream 'lmtp:unix:': lmtp:unix: needs a path" },
	{ "second list item",
	  "route default {\n upstream = [\n  \"maildir:/m\",\n  \"ftp://x\"\n ];\n}",
	  "t.conf:4: upstream 'ftp://x': unknown kind; use smtp://HOST:PORT" },
	{ "empty maildir path", "route default { upstream = \"maildir:\"; }",
	  "t.conf:1: upstream 'maildir:': maildir needs a path" },
	{ "no upstream", "route default { }", "t.conf:1" },
	{ "empty upstream list", "route default { upstream = []; }",
	  "t.conf:1" },
	{ "unknown key",
	  "route default { upstream = \"maildir:/m\"; uplink = 1; }",
	  "t.conf:1" },
};

static void
test_conf_route_errors(void **state)
{
	(void)state;
	for (size_t i = 0;
	     i < sizeof(route_error_cases) / sizeof(route_error_cases[0]);
	     i++) {
		struct pst_arena *arena = pst_arena_new(0);
		struct top top;
		const char *error = NULL;

		if (load_routes(arena, route_error_cases[i].text, &top,
				&error) != -1)
			fail_msg("%s: accepted", route_error_cases[i].name);
		assert_non_null(error);
		if (strstr(error, route_error_cases[i].want) == NULL)
			fail_msg("%s: got '%s'", route_error_cases[i].name,
				 error);
		pst_arena_free(&arena);
	}
}

static void
test_conf_route_ok(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct top top;
	const char *error = NULL;
	char *cwd = getcwd(NULL, 0), want[PATH_MAX], text[4096];
	size_t n = 0;

	(void)state;
	/* More routes than the first allocation, to grow the array. */
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "route \"d%d.example\" { upstream = "
				      "\"maildir:/m%d\"; }\n",
				      i, i);
	snprintf(text + n, sizeof(text) - n,
		 "route \".Example.ORG.\" {\n"
		 "  upstream = [\"maildir:/var/mail/a\", \"maildir:rel/b\"];\n"
		 "}\nroute default { upstream = maildir:/m; }\n");
	if (load_routes(arena, text, &top, &error) != 0)
		fail_msg("%s", error);
	assert_int_equal(top.relay.nroutes, 22);
	for (int i = 0; i < 20; i++) {
		char name[32];

		snprintf(name, sizeof(name), "d%d.example", i);
		assert_string_equal(top.relay.routes[i].name, name);
		assert_int_equal(top.relay.routes[i].line, (unsigned)i + 1);
	}
	assert_string_equal(top.relay.routes[20].name, ".example.org");
	assert_int_equal(top.relay.routes[20].nupstreams, 2);
	assert_string_equal(top.relay.routes[20].upstreams[0].path,
			    "/var/mail/a");
	snprintf(want, sizeof(want), "%s/rel/b", cwd);
	assert_string_equal(top.relay.routes[20].upstreams[1].path, want);
	assert_string_equal(top.relay.routes[21].name, "default");
	free(cwd);
	pst_arena_free(&arena);
}

/* ---- routing ---- */

static const struct {
	const char *domain;
	const char *want; /* route name, NULL for none */
} route_for_cases[] = {
	{ "example.org", "example.org" },
	{ "EXAMPLE.Org", "example.org" },
	{ "example.org.", "example.org" },
	{ "a.example.org", ".example.org" },
	{ "A.B.Example.Org.", ".example.org" },
	{ "sub.example.org", ".example.org" },
	{ "x.sub.example.org", ".sub.example.org" },
	{ "y.x.sub.example.org", ".sub.example.org" },
	{ "notexample.org", "default" },
	{ "org", "default" },
	{ "other.net", "other.net" },
	{ "a.other.net", "default" },
	{ "[192.0.2.1]", "default" },
	{ "", "default" },
	{ ".", "default" },
};

static struct relay *
make_relay(struct pst_arena *arena, const char *text, struct pst_workq *wq)
{
	struct top top;
	const char *error = NULL;
	struct relay *relay;

	if (load_routes(arena, text, &top, &error) != 0)
		fail_msg("%s", error);
	relay = relay_new(arena, &top.relay, wq, &error);
	if (relay == NULL)
		fail_msg("%s", error);
	return relay;
}

static void
test_route_for(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct relay *relay = make_relay(
		arena,
		"route \".example.org\" { upstream = maildir:/a; }\n"
		"route default { upstream = maildir:/d; }\n"
		"route \"example.org\" { upstream = maildir:/b; }\n"
		"route \".sub.example.org\" { upstream = maildir:/c; }\n"
		"route \"Other.NET.\" { upstream = maildir:/e; }\n",
		NULL);
	struct relay *nodef = make_relay(
		arena, "route \"example.org\" { upstream = maildir:/b; }\n",
		NULL);

	(void)state;
	for (size_t i = 0;
	     i < sizeof(route_for_cases) / sizeof(route_for_cases[0]); i++) {
		const struct relay_route *r = relay_route_for(
			relay, pst_str_from_cstr(route_for_cases[i].domain));

		assert_non_null(r);
		if (strcmp(relay_route_name(r), route_for_cases[i].want) != 0)
			fail_msg("%s: got %s", route_for_cases[i].domain,
				 relay_route_name(r));
		/* The same answer twice: routes compare by identity. */
		assert_ptr_equal(
			r, relay_route_for(relay,
					   pst_str_from_cstr(
						   route_for_cases[i].domain)));
	}
	assert_null(relay_route_for(nodef, PST_STR_LIT("other.org")));
	assert_string_equal(relay_route_name(relay_route_for(
				    nodef, PST_STR_LIT("Example.org."))),
			    "example.org");
	pst_arena_free(&arena);
}

static void
test_relay_new_relative(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct relay_upstream_conf up = { .kind = RELAY_UPSTREAM_MAILDIR,
					  .spec = "maildir:x",
					  .path = "x" };
	struct relay_route_conf rc = { .name = "default",
				       .upstreams = &up,
				       .nupstreams = 1,
				       .file = "t.conf",
				       .line = 1 };
	struct relay_conf conf = { .routes = &rc,
				   .nroutes = 1,
				   .routes_cap = 1 };
	const char *error = NULL;

	(void)state;
	assert_null(relay_new(arena, &conf, NULL, &error));
	assert_non_null(strstr(error, "must be absolute"));
	pst_arena_free(&arena);
}

/* ---- relay_submit ---- */

struct submit_ctx {
	struct event_base *base;
	pthread_t loop_thread;
	int calls;
	bool on_loop;
	struct relay_reply reply;
};

static void
submit_done(void *arg, const struct relay_reply *reply)
{
	struct submit_ctx *c = arg;

	c->calls++;
	c->on_loop = pthread_equal(pthread_self(), c->loop_thread);
	c->reply = *reply;
}

static void
watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fail_msg("relay_submit: done did not run within 10 s");
}

/* Capture stderr (where pst_log_init(true) also writes) into a file. */
struct capture {
	int saved;
	char path[PATH_MAX];
};

static void
capture_start(struct capture *cap)
{
	int fd;

	snprintf(cap->path, sizeof(cap->path), "%s", md_path("log.txt"));
	fd = open(cap->path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	cap->saved = dup(2);
	dup2(fd, 2);
	close(fd);
}

static char *
capture_end(struct capture *cap)
{
	size_t len;

	fflush(stderr);
	dup2(cap->saved, 2);
	close(cap->saved);
	return read_file(cap->path, &len);
}

/* Submit msg for domain and run the loop until done; returns the log. */
static char *
run_submit(struct relay *relay, const struct relay_msg *msg, const char *domain,
	   struct submit_ctx *c)
{
	struct event *dog;
	struct timeval ten = { 10, 0 };
	struct capture cap;

	memset(c, 0, sizeof(*c));
	c->loop_thread = pthread_self();
	c->base = event_base_new();
	assert_non_null(c->base);
	dog = evtimer_new(c->base, watchdog, NULL);
	evtimer_add(dog, &ten);
	capture_start(&cap);
	assert_int_equal(
		relay_submit(relay, c->base,
			     relay_route_for(relay, pst_str_from_cstr(domain)),
			     msg, submit_done, c),
		0);
	while (c->calls == 0)
		event_base_loop(c->base, EVLOOP_ONCE);
	event_free(dog);
	event_base_free(c->base);
	assert_int_equal(c->calls, 1);
	assert_true(c->on_loop);
	return capture_end(&cap);
}

static void
test_submit_delivers(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_workq *wq = pst_workq_new(2);
	char text[1024];
	struct relay *relay;
	struct pst_spool *spool =
		spool_from("Subject: s\r\n\r\nhello\r\n", 22, 4096);
	struct relay_rcpt rcpts[2] = { { "a@example.org", NULL, 0 },
				       { "b@example.org", "rfc822;o+2Bb@x.org",
					 0 } };
	struct relay_msg msg = { .qid = "4F2A1C3B9E",
				 .from = "s@example.net",
				 .rcpts = rcpts,
				 .nrcpt = 2,
				 .spool = spool };
	struct submit_ctx c;
	const char *error = NULL;
	char *log, *data, line[512];
	size_t len;

	(void)state;
	assert_non_null(wq);
	snprintf(text, sizeof(text),
		 "route default { upstream = \"maildir:%s\"; }",
		 md_path("submit-ok"));
	relay = make_relay(arena, text, wq);
	assert_int_equal(relay_prepare(relay, (uid_t)-1, (gid_t)-1, &error), 0);
	assert_int_equal(dir_entries(md_path("submit-ok"), "new", NULL, 0), 0);

	log = run_submit(relay, &msg, "example.org", &c);
	assert_int_equal(c.reply.code, 250);
	assert_string_equal(c.reply.enhanced, "2.0.0");
	assert_string_equal(c.reply.text, "Ok: queued as 4F2A1C3B9E");
	data = read_delivered(md_path("submit-ok"), &len);
	assert_string_equal(data, "Return-Path: <s@example.net>\n"
				  "Delivered-To: a@example.org\n"
				  "X-Original-To: a@example.org\n"
				  "Delivered-To: b@example.org\n"
				  "X-Original-To: o+b@x.org\n"
				  "Subject: s\n\nhello\n");
	/* One line per recipient, Postfix's shape. */
	for (int i = 0; i < 2; i++) {
		snprintf(line, sizeof(line),
			 "4F2A1C3B9E: to=<%c@example.org>, relay=maildir[%s], "
			 "delay=",
			 'a' + i, md_path("submit-ok"));
		if (strstr(log, line) == NULL)
			fail_msg("no '%s' in log:\n%s", line, log);
	}
	assert_non_null(strstr(log, ", status=sent (delivered to maildir as "));
	free(data);
	free(log);
	pst_workq_free(&wq);
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

static void
test_submit_fails_and_fails_over(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_workq *wq = pst_workq_new(1);
	char text[3 * PATH_MAX + 256], blocker[PATH_MAX];
	struct relay *relay;
	struct pst_spool *spool = spool_from("x\r\n", 3, 4096);
	struct relay_rcpt rcpt = { "a@example.org", NULL, 0 };
	struct relay_msg msg = { .qid = "ABCDEF1234",
				 .from = "",
				 .rcpts = &rcpt,
				 .nrcpt = 1,
				 .spool = spool };
	struct submit_ctx c;
	char *log;
	int fd;

	(void)state;
	snprintf(blocker, sizeof(blocker), "%s", md_path("submit-blocker"));
	fd = open(blocker, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(text, sizeof(text),
		 "route \"example.org\" { upstream = \"maildir:%s/md\"; }\n"
		 "route \"example.net\" { upstream = [\"maildir:%s/md\", "
		 "\"maildir:%s\"]; }\n",
		 blocker, blocker, md_path("submit-second"));
	relay = make_relay(arena, text, wq);

	/* Failure: 451 without details, the reason in the log. */
	log = run_submit(relay, &msg, "example.org", &c);
	assert_int_equal(c.reply.code, 451);
	assert_string_equal(c.reply.enhanced, "4.3.0");
	assert_string_equal(c.reply.text, "Error: local delivery failed");
	assert_non_null(strstr(log, "ABCDEF1234: to=<a@example.org>, "
				    "relay=maildir["));
	assert_non_null(strstr(log, ", status=deferred ("));
	assert_non_null(strstr(log, "Not a directory"));
	free(log);

	/* The second upstream takes what the first could not. */
	log = run_submit(relay, &msg, "example.net", &c);
	assert_int_equal(c.reply.code, 250);
	assert_int_equal(dir_entries(md_path("submit-second"), "new", NULL, 0),
			 1);
	assert_non_null(strstr(log, "status=sent"));
	free(log);

	/* Nothing to deliver, nowhere to go: not even queued. */
	assert_int_equal(relay_submit(relay, NULL, NULL, &msg, submit_done, &c),
			 -1);
	msg.nrcpt = 0;
	assert_int_equal(
		relay_submit(relay, NULL,
			     relay_route_for(relay, PST_STR_LIT("example.org")),
			     &msg, submit_done, &c),
		-1);
	pst_workq_free(&wq);
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver_basic),
		cmocka_unit_test(test_deliver_content),
		cmocka_unit_test(test_deliver_crlf_at_buffer_edge),
		cmocka_unit_test(test_deliver_big),
		cmocka_unit_test(test_name_format),
		cmocka_unit_test(test_unique_names),
		cmocka_unit_test(test_unwritable_dir),
		cmocka_unit_test(test_write_failure_cleans_up),
		cmocka_unit_test(test_header_injection_refused),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_conf_route_errors),
		cmocka_unit_test(test_conf_route_ok),
		cmocka_unit_test(test_route_for),
		cmocka_unit_test(test_relay_new_relative),
		cmocka_unit_test(test_submit_delivers),
		cmocka_unit_test(test_submit_fails_and_fails_over),
	};

	evthread_use_pthreads();
	pst_log_init(true);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
