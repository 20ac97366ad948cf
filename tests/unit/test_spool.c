/*
 * test_spool.c - the message spool (memory, then an unlinked file) and
 * the worker pool that reports back to an event loop.
 *
 * Hermetic: every file goes into a fresh mkdtemp() directory that the
 * tests check stays empty, then remove.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "spool.h"
#include "workq.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

static char tmpdir[64];

/* A byte pattern that does not repeat at any power-of-two period, so a
 * block read from the wrong offset never matches by accident. */
static unsigned char
pattern_at(uint64_t i)
{
	uint32_t x = (uint32_t)(i ^ (i >> 11) ^ (i >> 23));

	return (unsigned char)((x * 0x9E3779B1u) >> 24);
}

static void
pattern_fill(unsigned char *p, size_t len, uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_at(offset + i);
}

/* Write total pattern bytes in chunks cycling through sizes[]. */
static void
write_pattern(struct pst_spool *spool, uint64_t total, const size_t *sizes,
	      size_t nsizes)
{
	unsigned char *chunk = malloc(256 * KIB);
	uint64_t off = 0;
	size_t k = 0;
	const char *error = NULL;

	assert_non_null(chunk);
	while (off < total) {
		size_t n = sizes[k++ % nsizes];

		if (n > 256 * KIB)
			n = 256 * KIB;
		if (n > total - off)
			n = (size_t)(total - off);
		pattern_fill(chunk, n, off);
		assert_int_equal(pst_spool_write(spool, chunk, n, &error), 0);
		off += n;
	}
	free(chunk);
	assert_int_equal(pst_spool_flush(spool, &error), 0);
	assert_int_equal(pst_spool_size(spool), total);
}

/* Read everything back through reads of len bytes and compare. */
static void
check_pattern(struct pst_spool *spool, uint64_t total, size_t len)
{
	unsigned char *buf = malloc(len);
	unsigned char *want = malloc(len);
	uint64_t off = 0;

	assert_non_null(buf);
	assert_non_null(want);
	while (off < total) {
		ssize_t n = pst_spool_pread(spool, buf, len, off);

		assert_true(n > 0);
		pattern_fill(want, (size_t)n, off);
		if (memcmp(buf, want, (size_t)n) != 0)
			fail_msg("content differs in [%llu, %llu)",
				 (unsigned long long)off,
				 (unsigned long long)off +
					 (unsigned long long)n);
		off += (uint64_t)n;
	}
	assert_int_equal(pst_spool_pread(spool, buf, len, off), 0);
	free(buf);
	free(want);
}

static int
dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static int
count_fds(void)
{
	return dir_entries("/proc/self/fd");
}

static int
group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_spool.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

/* ---- where the content lives ---- */

static const struct {
	const char *name;
	size_t threshold;
	size_t len;
	bool in_file;
} placement_cases[] = {
	{ "empty", 1000, 0, false },
	{ "below threshold", 1000, 999, false },
	{ "at threshold", 1000, 1000, false },
	{ "one above threshold", 1000, 1001, true },
	{ "far above threshold", 1000, 300 * KIB, true },
	{ "threshold 0: first byte", 0, 1, true },
	{ "large threshold", 4 * MIB, 3 * MIB, false },
};

static void
test_placement(void **state)
{
	(void)state;
	for (size_t i = 0;
	     i < sizeof(placement_cases) / sizeof(placement_cases[0]); i++) {
		struct pst_spool *spool =
			pst_spool_new(placement_cases[i].threshold, tmpdir);
		size_t len = placement_cases[i].len;
		size_t one[] = { len ? len : 1 };

		assert_non_null(spool);
		if (len > 0)
			write_pattern(spool, len, one, 1);
		if (pst_spool_in_file(spool) != placement_cases[i].in_file)
			fail_msg("%s: in_file %d", placement_cases[i].name,
				 pst_spool_in_file(spool));
		assert_int_equal(pst_spool_size(spool), len);
		check_pattern(spool, len, 777);
		assert_int_equal(dir_entries(tmpdir), 0);
		pst_spool_free(&spool);
		assert_null(spool);
	}
}

/* Byte by byte, the move to the file happens exactly at threshold + 1. */
static void
test_switch_point(void **state)
{
	struct pst_spool *spool = pst_spool_new(4096, tmpdir);
	const char *error = NULL;

	(void)state;
	assert_non_null(spool);
	for (uint64_t i = 0; i < 4096 + 10; i++) {
		unsigned char c = pattern_at(i);

		assert_int_equal(pst_spool_write(spool, &c, 1, &error), 0);
		assert_int_equal(pst_spool_in_file(spool), i + 1 > 4096);
	}
	assert_int_equal(pst_spool_flush(spool, &error), 0);
	check_pattern(spool, 4096 + 10, 1);
	pst_spool_free(&spool);
}

/* One write that crosses the threshold moves everything, old and new. */
static void
test_crossing_write(void **state)
{
	struct pst_spool *spool = pst_spool_new(10000, tmpdir);
	size_t sizes[] = { 6000, 6000, 6000 };

	(void)state;
	assert_non_null(spool);
	write_pattern(spool, 18000, sizes, 3);
	assert_true(pst_spool_in_file(spool));
	check_pattern(spool, 18000, 4096);
	pst_spool_free(&spool);
}

static const struct {
	const char *name;
	size_t sizes[4];
	size_t nsizes;
	size_t read_len;
} big_cases[] = {
	{ "odd small chunks", { 1, 7, 4093, 999 }, 4, 65536 },
	{ "exact buffer chunks", { 65536 }, 1, 65535 },
	{ "chunks above the write buffer", { 100000, 3, 200001 }, 3, 12345 },
	{ "mixed", { 65535, 2, 65537, 1000 }, 4, 1 << 20 },
};

/* 20 MB through a 64 KiB threshold, back byte for byte. */
static void
test_big_message(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(big_cases) / sizeof(big_cases[0]); i++) {
		struct pst_spool *spool = pst_spool_new(64 * KIB, tmpdir);

		assert_non_null(spool);
		write_pattern(spool, 20 * MIB, big_cases[i].sizes,
			      big_cases[i].nsizes);
		assert_true(pst_spool_in_file(spool));
		check_pattern(spool, 20 * MIB, big_cases[i].read_len);
		assert_int_equal(dir_entries(tmpdir), 0);
		pst_spool_free(&spool);
	}
}

/* Heap use does not grow with the message (glibc's counters; under ASan
 * they stay 0 and the check passes trivially). */
static void
test_memory_bounded(void **state)
{
	struct pst_spool *spool = pst_spool_new(64 * KIB, tmpdir);
	size_t sizes[] = { 8192 };
	struct mallinfo2 before, after;

	(void)state;
	assert_non_null(spool);
	before = mallinfo2();
	write_pattern(spool, 8 * MIB, sizes, 1);
	after = mallinfo2();
	/* write_pattern's own 256 KiB chunk is freed again. */
	if (after.uordblks > before.uordblks)
		assert_true(after.uordblks - before.uordblks <=
			    64 * KIB + 64 * KIB + 4 * KIB);
	pst_spool_free(&spool);
}

static const struct {
	const char *name;
	uint64_t offset;
	size_t len;
	ssize_t want;
} pread_cases[] = {
	{ "start", 0, 10, 10 },
	{ "odd offset", 12345, 777, 777 },
	{ "across the end", 99990, 100, 10 },
	{ "last byte", 99999, 1, 1 },
	{ "at the end", 100000, 10, 0 },
	{ "past the end", 100001, 10, 0 },
	{ "far past the end", UINT64_MAX, 10, 0 },
	{ "zero length", 5, 0, 0 },
};

static void
run_pread_cases(struct pst_spool *spool)
{
	unsigned char buf[1000], want[1000];

	for (size_t i = 0; i < sizeof(pread_cases) / sizeof(pread_cases[0]);
	     i++) {
		uint64_t off = pread_cases[i].offset;
		ssize_t n =
			pst_spool_pread(spool, buf, pread_cases[i].len, off);
		ssize_t got = 0;

		/* A file read may come back short; collect the rest. */
		while (n > 0) {
			got += n;
			if ((size_t)got == pread_cases[i].len)
				break;
			n = pst_spool_pread(spool, buf + got,
					    pread_cases[i].len - (size_t)got,
					    off + (uint64_t)got);
		}
		assert_true(n >= 0);
		if (got != pread_cases[i].want)
			fail_msg("%s: got %zd want %zd", pread_cases[i].name,
				 got, pread_cases[i].want);
		pattern_fill(want, (size_t)got, off);
		assert_memory_equal(buf, want, (size_t)got);
	}
}

static void
test_pread_memory(void **state)
{
	struct pst_spool *spool = pst_spool_new(200000, tmpdir);
	size_t sizes[] = { 3333 };

	(void)state;
	assert_non_null(spool);
	write_pattern(spool, 100000, sizes, 1);
	assert_false(pst_spool_in_file(spool));
	run_pread_cases(spool);
	pst_spool_free(&spool);
}

static void
test_pread_file(void **state)
{
	struct pst_spool *spool = pst_spool_new(1000, tmpdir);
	size_t sizes[] = { 3333 };

	(void)state;
	assert_non_null(spool);
	write_pattern(spool, 100000, sizes, 1);
	assert_true(pst_spool_in_file(spool));
	run_pread_cases(spool);
	pst_spool_free(&spool);
}

/* Bytes still in the write buffer are readable before the flush too. */
static void
test_pread_unflushed(void **state)
{
	struct pst_spool *spool = pst_spool_new(100, tmpdir);
	unsigned char data[300], buf[300];
	const char *error = NULL;
	uint64_t off = 0;

	(void)state;
	assert_non_null(spool);
	pattern_fill(data, sizeof(data), 0);
	assert_int_equal(pst_spool_write(spool, data, sizeof(data), &error), 0);
	assert_true(pst_spool_in_file(spool));
	while (off < sizeof(data)) {
		ssize_t n = pst_spool_pread(spool, buf + off, sizeof(buf) - off,
					    off);

		assert_true(n > 0);
		off += (uint64_t)n;
	}
	assert_memory_equal(buf, data, sizeof(data));
	pst_spool_free(&spool);
}

/* A reused spool starts in memory again, shows nothing of the previous
 * message, and keeps its one file descriptor. */
static void
test_truncate_reuse(void **state)
{
	struct pst_spool *spool = pst_spool_new(10 * KIB, tmpdir);
	size_t sizes[] = { 5000 };
	const char *error = NULL;
	unsigned char buf[16];
	int fds = -1;

	(void)state;
	assert_non_null(spool);
	for (int round = 0; round < 5; round++) {
		uint64_t total = round % 2 ? 5 * KIB : 200 * KIB + round;

		write_pattern(spool, total, sizes, 1);
		assert_int_equal(pst_spool_in_file(spool), total > 10 * KIB);
		check_pattern(spool, total, 4000);
		assert_int_equal(pst_spool_truncate(spool, &error), 0);
		assert_int_equal(pst_spool_size(spool), 0);
		assert_false(pst_spool_in_file(spool));
		assert_int_equal(pst_spool_pread(spool, buf, sizeof(buf), 0),
				 0);
		if (fds == -1)
			fds = count_fds();
		else
			assert_int_equal(count_fds(), fds);
	}
	/* A shorter second message must not show the first one's tail. */
	write_pattern(spool, 300 * KIB, sizes, 1);
	assert_int_equal(pst_spool_truncate(spool, &error), 0);
	write_pattern(spool, 20 * KIB, sizes, 1);
	check_pattern(spool, 20 * KIB, 64 * KIB);
	assert_int_equal(pst_spool_pread(spool, buf, sizeof(buf), 20 * KIB), 0);
	pst_spool_free(&spool);
}

/* The file has no name: the directory stays empty while it holds data,
 * and no descriptor is left after free. */
static void
test_file_unlinked(void **state)
{
	int fds = count_fds();
	struct pst_spool *spool = pst_spool_new(16, tmpdir);
	size_t sizes[] = { 100 };

	(void)state;
	assert_non_null(spool);
	write_pattern(spool, 1000, sizes, 1);
	assert_true(pst_spool_in_file(spool));
	assert_int_equal(dir_entries(tmpdir), 0);
	assert_int_equal(count_fds(), fds + 1);
	pst_spool_free(&spool);
	assert_int_equal(count_fds(), fds);
}

static void
test_bad_dir(void **state)
{
	char dir[128];
	struct pst_spool *spool;
	char data[200] = { 0 };
	const char *error = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/does-not-exist", tmpdir);
	spool = pst_spool_new(100, dir);
	assert_non_null(spool);
	/* In memory all is well. */
	assert_int_equal(pst_spool_write(spool, data, 100, &error), 0);
	errno = 0;
	assert_int_equal(pst_spool_write(spool, data, 1, &error), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(error);
	assert_non_null(strstr(error, "spool"));
	/* The failure sticks: no message with a hole. */
	error = NULL;
	errno = 0;
	assert_int_equal(pst_spool_write(spool, data, 1, &error), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(error);
	assert_int_equal(pst_spool_flush(spool, &error), -1);
	/* Truncate makes it usable for small messages again. */
	assert_int_equal(pst_spool_truncate(spool, &error), 0);
	assert_int_equal(pst_spool_write(spool, data, 50, &error), 0);
	assert_int_equal(pst_spool_size(spool), 50);
	pst_spool_free(&spool);
}

static void
test_free_null(void **state)
{
	struct pst_spool *spool = NULL;

	(void)state;
	pst_spool_free(&spool);
	pst_spool_free(NULL);
	spool = pst_spool_new(10, tmpdir);
	assert_non_null(spool);
	assert_int_equal(pst_spool_size(spool), 0);
	assert_false(pst_spool_in_file(spool));
	pst_spool_free(&spool);
	assert_null(spool);
}

/* ---- worker pool ---- */

#define WQ_JOBS 1000

struct wq_test {
	pthread_t loop_thread;
	struct event_base *base;
	int done;
	int done_on_loop;
	int work_off_loop;
};

struct wq_job {
	struct wq_test *t;
	int ran;
};

static void
wq_work(void *arg)
{
	struct wq_job *j = arg;

	j->ran++;
	if (!pthread_equal(pthread_self(), j->t->loop_thread))
		__atomic_add_fetch(&j->t->work_off_loop, 1, __ATOMIC_RELAXED);
}

static void
wq_done(void *arg)
{
	struct wq_job *j = arg;
	struct wq_test *t = j->t;

	assert_int_equal(j->ran, 1);
	t->done++;
	if (pthread_equal(pthread_self(), t->loop_thread))
		t->done_on_loop++;
	if (t->done == WQ_JOBS)
		event_base_loopbreak(t->base);
}

static void
test_workq_done_on_loop(void **state)
{
	struct wq_test t = { .loop_thread = pthread_self() };
	struct wq_job *jobs = calloc(WQ_JOBS, sizeof(*jobs));
	struct pst_workq *wq = pst_workq_new(4);

	(void)state;
	assert_non_null(jobs);
	assert_non_null(wq);
	t.base = event_base_new();
	assert_non_null(t.base);
	for (int i = 0; i < WQ_JOBS; i++) {
		jobs[i].t = &t;
		assert_int_equal(pst_workq_submit(wq, t.base, wq_work, wq_done,
						  &jobs[i]),
				 0);
	}
	/* Jobs do not keep the loop alive by themselves: loop until all
	 * are in. */
	while (t.done < WQ_JOBS)
		event_base_loop(t.base, EVLOOP_ONCE);
	assert_int_equal(t.done, WQ_JOBS);
	assert_int_equal(t.done_on_loop, WQ_JOBS);
	assert_int_equal(t.work_off_loop, WQ_JOBS);
	pst_workq_free(&wq);
	assert_null(wq);
	event_base_free(t.base);
	free(jobs);
}

static void
wq_done_never(void *arg)
{
	(void)arg;
	fail_msg("done ran after pst_workq_free");
}

/* Free finishes queued work, frees undelivered jobs, never calls done. */
static void
test_workq_free_undelivered(void **state)
{
	struct wq_test t = { .loop_thread = pthread_self() };
	struct wq_job jobs[50] = { { 0 } };
	struct pst_workq *wq = pst_workq_new(2);

	(void)state;
	assert_non_null(wq);
	t.base = event_base_new();
	assert_non_null(t.base);
	for (int i = 0; i < 50; i++) {
		jobs[i].t = &t;
		assert_int_equal(pst_workq_submit(wq, t.base, wq_work,
						  wq_done_never, &jobs[i]),
				 0);
	}
	pst_workq_free(&wq);
	for (int i = 0; i < 50; i++)
		assert_int_equal(jobs[i].ran, 1);
	/* Nothing is left active on the base. */
	assert_int_equal(event_base_loop(t.base, EVLOOP_NONBLOCK), 1);
	event_base_free(t.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placement),
		cmocka_unit_test(test_switch_point),
		cmocka_unit_test(test_crossing_write),
		cmocka_unit_test(test_big_message),
		cmocka_unit_test(test_memory_bounded),
		cmocka_unit_test(test_pread_memory),
		cmocka_unit_test(test_pread_file),
		cmocka_unit_test(test_pread_unflushed),
		cmocka_unit_test(test_truncate_reuse),
		cmocka_unit_test(test_file_unlinked),
		cmocka_unit_test(test_bad_dir),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_workq_done_on_loop),
		cmocka_unit_test(test_workq_free_undelivered),
	};

	evthread_use_pthreads();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
