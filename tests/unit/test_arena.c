/*
 * test_arena.c - region allocator: alignment, blocks, reset, cleanups.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdalign.h>
#include <stdbool.h>
#include <string.h>

#include "arena.h"

/* Under ASan, let a huge malloc() fail with NULL, as libc's does, instead
 * of aborting: the tests check that failure path. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

#define ALIGN (alignof(max_align_t))

static bool
aligned(const void *p)
{
	return ((uintptr_t)p % ALIGN) == 0;
}

static void
test_alignment(void **state)
{
	static const size_t sizes[] = { 1,  2,	3,  7,	 8,   9,   15,	 16,
					17, 31, 33, 100, 511, 513, 1000, 5000 };
	struct pst_arena *a = pst_arena_new(0);

	(void)state;
	assert_non_null(a);
	for (int round = 0; round < 4; round++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = pst_arena_alloc(a, sizes[i]);

			assert_non_null(p);
			assert_true(aligned(p));
		}
	pst_arena_free(&a);
	assert_null(a);
}

static void
test_zero_size(void **state)
{
	struct pst_arena *a = pst_arena_new(0);
	char *p, *q;

	(void)state;
	p = pst_arena_alloc(a, 0);
	q = pst_arena_alloc(a, 0);
	assert_non_null(p);
	assert_non_null(q);
	assert_ptr_not_equal(p, q);
	pst_arena_free(&a);
}

/* Fill many allocations of mixed sizes, then check none overwrote
 * another. */
static void
test_no_overlap(void **state)
{
	enum { N = 500 };
	struct pst_arena *a = pst_arena_new(256);
	unsigned char *p[N];
	size_t len[N];

	(void)state;
	for (size_t i = 0; i < N; i++) {
		len[i] = 1 + (i * 37) % 300;
		p[i] = pst_arena_alloc(a, len[i]);
		assert_non_null(p[i]);
		memset(p[i], (int)(i & 0xff), len[i]);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < len[i]; k++)
			assert_int_equal(p[i][k], i & 0xff);
	pst_arena_free(&a);
}

static void
test_lazy_first_block(void **state)
{
	struct pst_arena *a = pst_arena_new(4096);
	size_t empty, one, two;

	(void)state;
	empty = pst_arena_footprint(a);
	assert_true(empty < 256); /* no block yet */
	assert_non_null(pst_arena_alloc(a, 10));
	one = pst_arena_footprint(a);
	assert_true(one >= empty + 4096);
	assert_true(one < empty + 4096 + 256);
	/* further small allocations share the block */
	for (int i = 0; i < 10; i++)
		assert_non_null(pst_arena_alloc(a, 100));
	two = pst_arena_footprint(a);
	assert_int_equal(two, one);
	pst_arena_free(&a);
}

static void
test_big_allocation(void **state)
{
	struct pst_arena *a = pst_arena_new(1024);
	size_t before, after_big;
	char *big;

	(void)state;
	assert_non_null(pst_arena_alloc(a, 16));
	before = pst_arena_footprint(a);
	big = pst_arena_alloc(a, 1 << 20);
	assert_non_null(big);
	assert_true(aligned(big));
	memset(big, 'x', 1 << 20);
	after_big = pst_arena_footprint(a);
	assert_true(after_big >= before + (1 << 20));
	/* the current block's tail is still used for small requests */
	assert_non_null(pst_arena_alloc(a, 64));
	assert_int_equal(pst_arena_footprint(a), after_big);
	assert_int_equal(big[(1 << 20) - 1], 'x');
	pst_arena_free(&a);
}

static void
test_huge_refused(void **state)
{
	struct pst_arena *a = pst_arena_new(0);

	(void)state;
	assert_null(pst_arena_alloc(a, SIZE_MAX));
	assert_null(pst_arena_alloc(a, SIZE_MAX - 8));
	assert_null(pst_arena_zalloc(a, SIZE_MAX >> 2));
	/* the arena still works */
	assert_non_null(pst_arena_alloc(a, 8));
	pst_arena_free(&a);
}

static void
test_arena_calloc(void **state)
{
	struct pst_arena *a = pst_arena_new(0);
	unsigned *v;

	(void)state;
	assert_null(pst_arena_calloc(a, SIZE_MAX / 2, 4));
	assert_null(pst_arena_calloc(a, (SIZE_MAX / 16) + 1, 16));
	assert_non_null(pst_arena_calloc(a, 0, 16));
	v = pst_arena_calloc(a, 100, sizeof(*v));
	assert_non_null(v);
	for (int i = 0; i < 100; i++)
		assert_int_equal(v[i], 0);
	pst_arena_free(&a);
}

static void
test_zalloc_after_reset(void **state)
{
	/* reset hands out used memory again: zalloc must clear it */
	struct pst_arena *a = pst_arena_new(1024);
	unsigned char *p;

	(void)state;
	p = pst_arena_alloc(a, 200);
	memset(p, 0xaa, 200);
	pst_arena_reset(a);
	p = pst_arena_zalloc(a, 200);
	for (int i = 0; i < 200; i++)
		assert_int_equal(p[i], 0);
	pst_arena_free(&a);
}

static void
test_reset_keeps_first_block(void **state)
{
	struct pst_arena *a = pst_arena_new(1024);
	size_t one;

	(void)state;
	assert_non_null(pst_arena_alloc(a, 16));
	one = pst_arena_footprint(a);
	for (int i = 0; i < 100; i++)
		assert_non_null(pst_arena_alloc(a, 200));
	assert_true(pst_arena_footprint(a) > one);
	pst_arena_reset(a);
	assert_int_equal(pst_arena_footprint(a), one);
	/* and it keeps working, many times over */
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 50; i++) {
			char *s = pst_arena_printf(a, "round %d item %d", round,
						   i);

			assert_non_null(s);
			assert_true(aligned(s));
		}
		pst_arena_reset(a);
		assert_int_equal(pst_arena_footprint(a), one);
	}
	pst_arena_free(&a);
}

static void
test_reset_after_big_allocation(void **state)
{
	/* A transaction that once needed 1 MB must not keep 1 MB for the
	 * rest of the session: reset returns to the first block's size. */
	struct pst_arena *a = pst_arena_new(1024);
	size_t one;

	(void)state;
	assert_non_null(pst_arena_alloc(a, 16));
	one = pst_arena_footprint(a);
	assert_non_null(pst_arena_alloc(a, 1 << 20));
	pst_arena_reset(a);
	assert_int_equal(pst_arena_footprint(a), one);
	assert_non_null(pst_arena_alloc(a, 16));
	assert_int_equal(pst_arena_footprint(a), one);
	pst_arena_free(&a);
}

static void
test_reset_after_big_first_allocation(void **state)
{
	struct pst_arena *a = pst_arena_new(1024);
	size_t empty = pst_arena_footprint(a);

	(void)state;
	assert_non_null(pst_arena_alloc(a, 1 << 20));
	pst_arena_reset(a);
	assert_true(pst_arena_footprint(a) < empty + 1024 + 256);
	assert_non_null(pst_arena_alloc(a, 16));
	assert_true(pst_arena_footprint(a) < empty + 1024 + 256);
	pst_arena_free(&a);
}

/* Cleanup order, recorded as the letters they were registered with. */
static char trace[16];
static int trace_n;

static void
record(void *arg)
{
	trace[trace_n++] = *(const char *)arg;
}

static void
test_cleanups_newest_first(void **state)
{
	static const char letters[] = "abc";
	struct pst_arena *a = pst_arena_new(0);

	(void)state;
	trace_n = 0;
	for (int i = 0; i < 3; i++)
		assert_int_equal(
			pst_arena_cleanup_add(a, record, (void *)&letters[i]),
			0);
	pst_arena_reset(a);
	assert_int_equal(trace_n, 3);
	assert_memory_equal(trace, "cba", 3);
	/* they ran once: a second reset runs nothing */
	pst_arena_reset(a);
	assert_int_equal(trace_n, 3);

	/* and on free */
	assert_int_equal(pst_arena_cleanup_add(a, record, (void *)&letters[0]),
			 0);
	assert_int_equal(pst_arena_cleanup_add(a, record, (void *)&letters[1]),
			 0);
	pst_arena_free(&a);
	assert_null(a);
	assert_int_equal(trace_n, 5);
	assert_memory_equal(trace, "cbaba", 5);
}

static struct pst_arena *alloc_in_cleanup_arena;
static char *alloc_in_cleanup_result;

static void
alloc_in_cleanup(void *arg)
{
	(void)arg;
	alloc_in_cleanup_result =
		pst_arena_strdup(alloc_in_cleanup_arena, "from a cleanup");
}

static void
test_cleanup_may_allocate(void **state)
{
	struct pst_arena *a = pst_arena_new(0);

	(void)state;
	alloc_in_cleanup_arena = a;
	assert_int_equal(pst_arena_cleanup_add(a, alloc_in_cleanup, NULL), 0);
	pst_arena_reset(a);
	assert_non_null(alloc_in_cleanup_result);
	assert_string_equal(alloc_in_cleanup_result, "from a cleanup");
	assert_int_equal(pst_arena_cleanup_add(a, alloc_in_cleanup, NULL), 0);
	pst_arena_free(&a);
}

static void
test_free_null(void **state)
{
	struct pst_arena *a = NULL;

	(void)state;
	pst_arena_free(NULL);
	pst_arena_free(&a);
	assert_null(a);
}

static void
test_strings(void **state)
{
	static const char unterminated[4] = { 'a', 'b', 'c', 'd' };
	struct pst_arena *a = pst_arena_new(64);
	char *s, *big;
	char want[3000];

	(void)state;
	s = pst_arena_strndup(a, unterminated, 3);
	assert_string_equal(s, "abc");
	s = pst_arena_strndup(a, unterminated, 0);
	assert_string_equal(s, "");
	s = pst_arena_strndup(a, "a\0b", 3);
	assert_memory_equal(s, "a\0b", 4);
	assert_null(pst_arena_strndup(a, "x", SIZE_MAX));
	s = pst_arena_strdup(a, "hello");
	assert_string_equal(s, "hello");
	s = pst_arena_printf(a, "%s=%d", "rcpt", 42);
	assert_string_equal(s, "rcpt=42");
	s = pst_arena_printf(a, "%s", "");
	assert_string_equal(s, "");
	/* longer than a block */
	memset(want, 'z', sizeof(want) - 1);
	want[sizeof(want) - 1] = '\0';
	big = pst_arena_printf(a, "%s", want);
	assert_string_equal(big, want);
	pst_arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_zero_size),
		cmocka_unit_test(test_no_overlap),
		cmocka_unit_test(test_lazy_first_block),
		cmocka_unit_test(test_big_allocation),
		cmocka_unit_test(test_huge_refused),
		cmocka_unit_test(test_arena_calloc),
		cmocka_unit_test(test_zalloc_after_reset),
		cmocka_unit_test(test_reset_keeps_first_block),
		cmocka_unit_test(test_reset_after_big_allocation),
		cmocka_unit_test(test_reset_after_big_first_allocation),
		cmocka_unit_test(test_cleanups_newest_first),
		cmocka_unit_test(test_cleanup_may_allocate),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
