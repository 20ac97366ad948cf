/*
 * arena.h - region allocator with cleanup handlers.
 *
 * An arena hands out memory that lives until the arena is reset or freed;
 * nothing is freed piece by piece.  Foreign resources (file descriptors,
 * library handles) register a cleanup that runs, newest first, when the
 * arena is reset or freed.  One arena belongs to one owner (a session, a
 * transaction, a loaded configuration); it is not thread-safe.
 */
#ifndef PST_ARENA_H
#define PST_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct pst_arena;

typedef void pst_arena_cleanup_fn(void *arg);

/* A new arena whose first block holds first_block bytes (0: a default).
 * The first block is allocated lazily.  NULL when out of memory. */
struct pst_arena *pst_arena_new(size_t first_block);

/* Run cleanups, free every block and the arena, set *arena_p to NULL.
 * NULL and *arena_p == NULL are accepted. */
void pst_arena_free(struct pst_arena **arena_p);

/* Run cleanups and forget every allocation; keep the first block for
 * reuse so a transaction arena does not go back to malloc each time. */
void pst_arena_reset(struct pst_arena *arena);

/* size bytes aligned for any C type, or NULL (out of memory, overflow). */
void *pst_arena_alloc(struct pst_arena *arena, size_t size);
void *pst_arena_zalloc(struct pst_arena *arena, size_t size);
/* n elements of size bytes each, zeroed, with overflow checking. */
void *pst_arena_calloc(struct pst_arena *arena, size_t n, size_t size);

char *pst_arena_strdup(struct pst_arena *arena, const char *s);
/* Copy len bytes of s and add a NUL; s need not be NUL-terminated. */
char *pst_arena_strndup(struct pst_arena *arena, const char *s, size_t len);
char *pst_arena_printf(struct pst_arena *arena, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *pst_arena_vprintf(struct pst_arena *arena, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Register fn(arg) to run at reset/free; 0, or -1 when out of memory (the
 * cleanup has then NOT been registered: the caller must release arg). */
int pst_arena_cleanup_add(struct pst_arena *arena, pst_arena_cleanup_fn *fn,
			  void *arg);

/* Bytes of block memory the arena holds (for statistics and tests). */
size_t pst_arena_footprint(const struct pst_arena *arena);

#endif
