/*
 * spool.c - message bytes in memory up to a threshold, then in an
 * unlinked temporary file (see spool.h).
 *
 * Memory stays bounded by the threshold plus one 64 KiB write buffer,
 * whatever the message size: once the content moves to the file, the
 * memory buffer only keeps its allocation for the next message.  File
 * writes use pwrite() at an offset we track, so neither truncation nor a
 * reader on another thread depends on the descriptor's file offset.
 *
 * A failed write leaves the spool unusable until pst_spool_truncate(): the
 * content has a hole, so every later write and flush fails with the same
 * error and errno instead of producing a corrupt message.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"

#define SPOOL_WBUF_SIZE (64u * 1024)
#define SPOOL_MEM_MIN 4096

struct pst_spool {
	size_t threshold;
	char *dir;

	/* Memory phase: mem[0..mem_len) is the whole content. */
	char *mem;
	size_t mem_len;
	size_t mem_cap;

	/* File phase: file[0..file_len) plus wbuf[0..wlen) is the content. */
	int fd; /* -1 until the first move to a file; kept across reuse */
	bool in_file;
	char *wbuf;
	size_t wlen;
	uint64_t file_len;

	uint64_t size;
	const char *failed; /* sticky error text, NULL when healthy */
	int failed_errno;
};

struct pst_spool *
pst_spool_new(size_t mem_threshold, const char *dir)
{
	struct pst_spool *spool = calloc(1, sizeof(*spool));

	if (spool == NULL)
		return NULL;
	spool->dir = strdup(dir != NULL ? dir : "/tmp");
	if (spool->dir == NULL) {
		free(spool);
		return NULL;
	}
	spool->threshold = mem_threshold;
	spool->fd = -1;
	return spool;
}

void
pst_spool_free(struct pst_spool **spool_p)
{
	struct pst_spool *spool;
	int saved_errno = errno;

	if (spool_p == NULL || *spool_p == NULL)
		return;
	spool = *spool_p;
	*spool_p = NULL;
	if (spool->fd != -1)
		close(spool->fd);
	free(spool->mem);
	free(spool->wbuf);
	free(spool->dir);
	free(spool);
	errno = saved_errno;
}

static int
spool_fail(struct pst_spool *spool, const char *text, const char **error_r)
{
	spool->failed = text;
	spool->failed_errno = errno;
	*error_r = text;
	return -1;
}

/* An unlinked file in spool->dir: it vanishes with the descriptor, so a
 * crash leaves nothing behind. */
static int
spool_open_file(struct pst_spool *spool)
{
	char *path;
	size_t len;
	int fd;

#ifdef O_TMPFILE
	fd = open(spool->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
	/* Kernels or file systems without O_TMPFILE answer one of these;
	 * anything else (ENOENT, EACCES, ...) is the directory's fault. */
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -1;
#endif
	len = strlen(spool->dir) + sizeof("/postern-spool.XXXXXX");
	path = malloc(len);
	if (path == NULL)
		return -1;
	snprintf(path, len, "%s/postern-spool.XXXXXX", spool->dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd != -1 && unlink(path) == -1) {
		int saved_errno = errno;

		close(fd);
		fd = -1;
		errno = saved_errno;
	}
	free(path);
	return fd;
}

static int
spool_pwrite_all(int fd, const char *data, size_t len, uint64_t offset)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, data, len, (off_t)offset);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		data += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int
spool_wbuf_flush(struct pst_spool *spool, const char **error_r)
{
	if (spool->wlen == 0)
		return 0;
	if (spool_pwrite_all(spool->fd, spool->wbuf, spool->wlen,
			     spool->file_len) == -1)
		return spool_fail(spool, "cannot write the spool file",
				  error_r);
	spool->file_len += spool->wlen;
	spool->wlen = 0;
	return 0;
}

/* Move the memory content into the file (opened on first use). */
static int
spool_to_file(struct pst_spool *spool, const char **error_r)
{
	if (spool->wbuf == NULL) {
		spool->wbuf = malloc(SPOOL_WBUF_SIZE);
		if (spool->wbuf == NULL)
			return spool_fail(spool, "out of memory", error_r);
	}
	if (spool->fd == -1) {
		spool->fd = spool_open_file(spool);
		if (spool->fd == -1)
			return spool_fail(spool,
					  "cannot create a spool file in the "
					  "spool directory",
					  error_r);
	}
	if (spool_pwrite_all(spool->fd, spool->mem, spool->mem_len, 0) == -1)
		return spool_fail(spool, "cannot write the spool file",
				  error_r);
	spool->file_len = spool->mem_len;
	spool->wlen = 0;
	spool->mem_len = 0;
	spool->in_file = true;
	return 0;
}

static int
spool_mem_append(struct pst_spool *spool, const void *data, size_t len,
		 const char **error_r)
{
	size_t need = spool->mem_len + len; /* <= threshold: no overflow */

	if (need > spool->mem_cap) {
		size_t cap = spool->mem_cap ? spool->mem_cap : SPOOL_MEM_MIN;
		char *mem;

		while (cap < need)
			cap = cap > spool->threshold / 2 ? spool->threshold
							 : cap * 2;
		if (cap > spool->threshold)
			cap = spool->threshold;
		mem = realloc(spool->mem, cap);
		if (mem == NULL)
			return spool_fail(spool, "out of memory", error_r);
		spool->mem = mem;
		spool->mem_cap = cap;
	}
	memcpy(spool->mem + spool->mem_len, data, len);
	spool->mem_len = need;
	return 0;
}

static int
spool_file_append(struct pst_spool *spool, const char *data, size_t len,
		  const char **error_r)
{
	while (len > 0) {
		size_t room = SPOOL_WBUF_SIZE - spool->wlen;

		/* A big write with nothing buffered skips the copy. */
		if (spool->wlen == 0 && len >= SPOOL_WBUF_SIZE) {
			if (spool_pwrite_all(spool->fd, data, len,
					     spool->file_len) == -1)
				return spool_fail(spool,
						  "cannot write the spool file",
						  error_r);
			spool->file_len += len;
			return 0;
		}
		if (room > len)
			room = len;
		memcpy(spool->wbuf + spool->wlen, data, room);
		spool->wlen += room;
		data += room;
		len -= room;
		if (spool->wlen == SPOOL_WBUF_SIZE &&
		    spool_wbuf_flush(spool, error_r) == -1)
			return -1;
	}
	return 0;
}

int
pst_spool_write(struct pst_spool *spool, const void *data, size_t len,
		const char **error_r)
{
	if (spool->failed != NULL) {
		*error_r = spool->failed;
		errno = spool->failed_errno;
		return -1;
	}
	if (len == 0)
		return 0;
	if (!spool->in_file) {
		if (len <= spool->threshold - spool->mem_len) {
			if (spool_mem_append(spool, data, len, error_r) == -1)
				return -1;
			spool->size += len;
			return 0;
		}
		if (spool_to_file(spool, error_r) == -1)
			return -1;
	}
	if (spool_file_append(spool, data, len, error_r) == -1)
		return -1;
	spool->size += len;
	return 0;
}

int
pst_spool_flush(struct pst_spool *spool, const char **error_r)
{
	if (spool->failed != NULL) {
		*error_r = spool->failed;
		errno = spool->failed_errno;
		return -1;
	}
	if (!spool->in_file)
		return 0;
	return spool_wbuf_flush(spool, error_r);
}

uint64_t
pst_spool_size(const struct pst_spool *spool)
{
	return spool->size;
}

ssize_t
pst_spool_pread(struct pst_spool *spool, void *buf, size_t len, uint64_t offset)
{
	ssize_t n;

	if (offset >= spool->size || len == 0)
		return 0;
	if (len > spool->size - offset)
		len = (size_t)(spool->size - offset);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (!spool->in_file) {
		memcpy(buf, spool->mem + offset, len);
		return (ssize_t)len;
	}
	if (offset >= spool->file_len) {
		/* Not flushed yet: serve from the write buffer. */
		memcpy(buf, spool->wbuf + (offset - spool->file_len), len);
		return (ssize_t)len;
	}
	if (len > spool->file_len - offset)
		len = (size_t)(spool->file_len - offset);
	do {
		n = pread(spool->fd, buf, len, (off_t)offset);
	} while (n == -1 && errno == EINTR);
	return n;
}

int
pst_spool_truncate(struct pst_spool *spool, const char **error_r)
{
	bool used_file = spool->in_file || spool->failed != NULL;

	spool->size = 0;
	spool->mem_len = 0;
	spool->wlen = 0;
	spool->file_len = 0;
	spool->in_file = false;
	spool->failed = NULL;
	if (spool->fd != -1 && used_file && ftruncate(spool->fd, 0) == -1) {
		int saved_errno = errno;

		/* Could not give the space back: a new file next time. */
		close(spool->fd);
		spool->fd = -1;
		errno = saved_errno;
		*error_r = "cannot truncate the spool file";
		return -1;
	}
	return 0;
}

int
pst_spool_in_file(const struct pst_spool *spool)
{
	return spool->in_file;
}
