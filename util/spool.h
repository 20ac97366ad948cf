/*
 * spool.h - where a message's bytes wait between DATA and delivery.
 *
 * Content stays in memory up to a threshold, then moves to an unlinked
 * temporary file (O_TMPFILE, or mkstemp + unlink), so peak memory does
 * not grow with message size and nothing is left on disk after a crash.
 * Written by one thread; once complete it may be read by another thread
 * (pst_spool_pread does not move any shared offset).  Not thread-safe
 * for concurrent writers.
 */
#ifndef PST_SPOOL_H
#define PST_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pst_spool;

/* mem_threshold: bytes kept in memory before going to a file in dir. */
struct pst_spool *pst_spool_new(size_t mem_threshold, const char *dir);
void pst_spool_free(struct pst_spool **spool_p);

/* Append bytes.  0, or -1 with *error_r (static text, errno kept). */
int pst_spool_write(struct pst_spool *spool, const void *data, size_t len,
		    const char **error_r);
/* Flush buffered writes to the file (no fsync: the spool is temporary). */
int pst_spool_flush(struct pst_spool *spool, const char **error_r);

uint64_t pst_spool_size(const struct pst_spool *spool);

/* Read up to len bytes at offset into buf; returns bytes read (0 at the
 * end) or -1.  Call pst_spool_flush() after the last write first. */
ssize_t pst_spool_pread(struct pst_spool *spool, void *buf, size_t len,
			uint64_t offset);

/* Forget the content, keep the threshold and directory (next message). */
int pst_spool_truncate(struct pst_spool *spool, const char **error_r);

/* Is the content in a file now?  (For tests and statistics.) */
int pst_spool_in_file(const struct pst_spool *spool);

#endif
