/*
 * arena.c - region allocator with cleanup handlers (see arena.h).
 *
 * Blocks form a singly linked list, newest first; a request larger than
 * half the default block gets a block of its own so that big allocations
 * do not waste the tail of the current block.
 */
#include "config.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_DEFAULT_BLOCK 1024
#define ARENA_ALIGN (alignof(max_align_t))

struct arena_block {
	struct arena_block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct arena_cleanup {
	struct arena_cleanup *next;
	pst_arena_cleanup_fn *fn;
	void *arg;
};

struct pst_arena {
	struct arena_block *blocks; /* newest first; the last is the first */
	struct arena_cleanup *cleanups;
	size_t block_size;
};

struct pst_arena *
pst_arena_new(size_t first_block)
{
	struct pst_arena *arena = calloc(1, sizeof(*arena));

	if (arena == NULL)
		return NULL;
	arena->block_size = first_block ? first_block : ARENA_DEFAULT_BLOCK;
	return arena;
}

static void
arena_run_cleanups(struct pst_arena *arena)
{
	/* A cleanup may allocate on the arena (rare, but legal): those
	 * allocations are released with the blocks afterwards. */
	while (arena->cleanups != NULL) {
		struct arena_cleanup *c = arena->cleanups;

		arena->cleanups = c->next;
		c->fn(c->arg);
	}
}

void
pst_arena_free(struct pst_arena **arena_p)
{
	struct pst_arena *arena;

	if (arena_p == NULL || *arena_p == NULL)
		return;
	arena = *arena_p;
	*arena_p = NULL;
	arena_run_cleanups(arena);
	while (arena->blocks != NULL) {
		struct arena_block *b = arena->blocks;

		arena->blocks = b->next;
		free(b);
	}
	free(arena);
}

void
pst_arena_reset(struct pst_arena *arena)
{
	struct arena_block *b, *keep = NULL;

	arena_run_cleanups(arena);
	/* Keep one block of the default size, the oldest, for reuse.  Not
	 * simply the list's tail: a big block allocated while the first was
	 * the only one sits behind it, and keeping that would pin the
	 * biggest allocation a transaction ever made for the arena's life. */
	while ((b = arena->blocks) != NULL) {
		arena->blocks = b->next;
		if (b->size == arena->block_size) {
			free(keep);
			keep = b;
		} else {
			free(b);
		}
	}
	if (keep != NULL) {
		keep->next = NULL;
		keep->used = 0;
		arena->blocks = keep;
	}
}

static struct arena_block *
arena_block_new(size_t size)
{
	struct arena_block *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (b == NULL)
		return NULL;
	b->size = size;
	b->used = 0;
	b->next = NULL;
	return b;
}

void *
pst_arena_alloc(struct pst_arena *arena, size_t size)
{
	struct arena_block *b = arena->blocks;
	size_t need;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - ARENA_ALIGN)
		return NULL;
	need = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);

	if (b != NULL && b->size - b->used >= need) {
		void *p = b->data + b->used;

		b->used += need;
		return p;
	}
	if (need > arena->block_size / 2 || b == NULL) {
		size_t bsize =
			need > arena->block_size ? need : arena->block_size;

		b = arena_block_new(bsize);
		if (b == NULL)
			return NULL;
		if (arena->blocks != NULL && need > arena->block_size / 2) {
			/* A big block goes behind the current one, so the
			 * current block's free tail stays in use. */
			b->next = arena->blocks->next;
			arena->blocks->next = b;
		} else {
			b->next = arena->blocks;
			arena->blocks = b;
		}
		b->used = need;
		return b->data;
	}
	b = arena_block_new(arena->block_size);
	if (b == NULL)
		return NULL;
	b->next = arena->blocks;
	arena->blocks = b;
	b->used = need;
	return b->data;
}

void *
pst_arena_zalloc(struct pst_arena *arena, size_t size)
{
	void *p = pst_arena_alloc(arena, size);

	if (p != NULL)
		memset(p, 0, size);
	return p;
}

void *
pst_arena_calloc(struct pst_arena *arena, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return pst_arena_zalloc(arena, n * size);
}

char *
pst_arena_strndup(struct pst_arena *arena, const char *s, size_t len)
{
	char *p;

	if (len == SIZE_MAX)
		return NULL;
	p = pst_arena_alloc(arena, len + 1);
	if (p == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
pst_arena_strdup(struct pst_arena *arena, const char *s)
{
	return pst_arena_strndup(arena, s, strlen(s));
}

char *
pst_arena_vprintf(struct pst_arena *arena, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	p = pst_arena_alloc(arena, (size_t)n + 1);
	if (p == NULL)
		return NULL;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
pst_arena_printf(struct pst_arena *arena, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = pst_arena_vprintf(arena, fmt, ap);
	va_end(ap);
	return p;
}

int
pst_arena_cleanup_add(struct pst_arena *arena, pst_arena_cleanup_fn *fn,
		      void *arg)
{
	struct arena_cleanup *c = pst_arena_alloc(arena, sizeof(*c));

	if (c == NULL)
		return -1;
	c->fn = fn;
	c->arg = arg;
	c->next = arena->cleanups;
	arena->cleanups = c;
	return 0;
}

size_t
pst_arena_footprint(const struct pst_arena *arena)
{
	size_t total = sizeof(*arena);

	for (const struct arena_block *b = arena->blocks; b; b = b->next)
		total += sizeof(*b) + b->size;
	return total;
}
