/*
 * quarantine.c - the quarantine store (see quarantine.h): a maildir per
 * reason, an envelope file per entry.
 *
 * Storing follows the maildir protocol twice: the message goes to tmp/,
 * is fsynced, renamed into new/ID and new/ is fsynced; then the envelope
 * the same way into envelope/ID.  Listing reads envelope/ only, so a
 * listed entry always has its message.
 *
 * The ID is claimed under an flock(2) on DIR/.lock: the check that no
 * reason holds it yet and the rename into new/ID happen together, so two
 * threads or processes never get one ID.  Only the claim is locked; the
 * slow writes and fsyncs are not.
 *
 * The envelope file is written and read by quarantine_envelope.c.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "quarantine.h"
#include "quarantine_int.h"
#include "spool.h"

#define QUAR_BUF_SIZE (64u * 1024)
#define QUAR_QID_MAX 32
#define QUAR_CLASH_MAX 1000
/* Our longest path below dir: REASON/envelope/ID plus a tmp suffix. */
#define QUAR_DIR_MAX (PATH_MAX - QUARANTINE_REASON_MAX - 2 * QUARANTINE_ID_MAX)
#define QUAR_ERROR_MAX 768

static _Thread_local char quar_errbuf[QUAR_ERROR_MAX];
static unsigned long quar_counter;

static const char *quar_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "what: strerror(err)" (err 0: "what") in this thread's buffer. */
static const char *
quar_fail(int err, const char *fmt, ...)
{
	char ebuf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(quar_errbuf, sizeof(quar_errbuf), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(quar_errbuf) && err != 0)
		snprintf(quar_errbuf + n, sizeof(quar_errbuf) - (size_t)n,
			 ": %s", strerror_r(err, ebuf, sizeof(ebuf)));
	return quar_errbuf;
}

/* An error text for the arena-based functions. */
static const char *
quar_keep(struct pst_arena *arena, const char *text)
{
	const char *s = pst_arena_strdup(arena, text);

	return s != NULL ? s : "quarantine: out of memory";
}

/* ---- names ---- */

static bool
quar_reason_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '.' || c == '-';
}

bool
quarantine_reason_valid(const char *s)
{
	size_t n;

	if (s == NULL || s[0] == '\0' || s[0] == '.')
		return false;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= QUARANTINE_REASON_MAX ||
		    !quar_reason_char((unsigned char)s[n]))
			return false;
	return true;
}

static bool
quar_id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool
quarantine_id_valid(const char *s)
{
	size_t n;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return false;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= QUARANTINE_ID_MAX - 1 ||
		    !quar_id_char((unsigned char)s[n]))
			return false;
	return true;
}

/* The qid as it goes into an ID: letters, digits, '_' and '-' only. */
static void
quar_qid_part(const char *qid, char out[QUAR_QID_MAX + 1])
{
	size_t n = 0;

	for (; qid != NULL && qid[n] != '\0' && n < QUAR_QID_MAX; n++) {
		unsigned char c = (unsigned char)qid[n];

		out[n] = quar_id_char(c) && c != '.' ? (char)c : '_';
	}
	out[n] = '\0';
	if (n == 0)
		strcpy(out, "NOQUEUE");
}

/* ---- files ---- */

static int
quar_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
quar_fsync_dir(int dfd, const char *sub)
{
	int fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret, saved;

	if (fd == -1)
		return -1;
	ret = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

static int
quar_mkdir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* dir (and its missing parents), dir/reason and its four folders. */
static int
quar_prepare(const char *dir, const char *reason, const char **error_r)
{
	static const char *const subdirs[] = { "tmp", "new", "cur",
					       "envelope" };
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *s = strchr(path + 1, '/'); s != NULL;
	     s = strchr(s + 1, '/')) {
		if (s[1] == '\0' || s[-1] == '/')
			continue;
		*s = '\0';
		if (quar_mkdir(path, 0755) == -1) {
			*error_r = quar_fail(errno, "mkdir %s", path);
			return -1;
		}
		*s = '/';
	}
	if (quar_mkdir(dir, 0700) == -1) {
		*error_r = quar_fail(errno, "mkdir %s", dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, reason);
	if (quar_mkdir(path, 0700) == -1) {
		*error_r = quar_fail(errno, "mkdir %s", path);
		return -1;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", dir, reason,
			 subdirs[i]);
		if (quar_mkdir(path, 0700) == -1) {
			*error_r = quar_fail(errno, "mkdir %s", path);
			return -1;
		}
	}
	return 0;
}

/* Open dir/reason, creating what is missing. */
static int
quar_open_reason(const char *dir, const char *reason, const char **error_r)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, reason);
	if (quar_prepare(dir, reason, error_r) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		*error_r = quar_fail(errno, "open %s", path);
	return fd;
}

/* Create tmp/NAME under the reason's fd with a name no one else uses. */
static int
quar_create_tmp(int rfd, const char *dir, const char *reason, const char *qid,
		char name_r[NAME_MAX], const char **error_r)
{
	for (int tries = 0; tries < 10; tries++) {
		unsigned long q =
			__atomic_add_fetch(&quar_counter, 1, __ATOMIC_RELAXED);
		int fd;

		snprintf(name_r, NAME_MAX, "tmp/%s.P%ldQ%lu", qid,
			 (long)getpid(), q);
		fd = openat(rfd, name_r,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1)
			return fd;
		if (errno != EEXIST) {
			*error_r = quar_fail(errno, "open %s/%s/%s", dir,
					     reason, name_r);
			return -1;
		}
	}
	*error_r = quar_fail(EEXIST, "open %s/%s/tmp/%s...", dir, reason, qid);
	return -1;
}

/* Copy the spool into fd and fsync it. */
static int
quar_write_spool(int fd, struct pst_spool *spool, const char *what,
		 const char **error_r)
{
	uint64_t size = pst_spool_size(spool), off = 0;
	char *buf = malloc(QUAR_BUF_SIZE);
	int ret = -1;

	if (buf == NULL) {
		*error_r = quar_fail(ENOMEM, "write %s", what);
		return -1;
	}
	while (off < size) {
		ssize_t n = pst_spool_pread(spool, buf, QUAR_BUF_SIZE, off);

		if (n <= 0) {
			*error_r = quar_fail(n == 0 ? EIO : errno,
					     "read the message spool");
			goto out;
		}
		if (quar_write_all(fd, buf, (size_t)n) == -1) {
			*error_r = quar_fail(errno, "write %s", what);
			goto out;
		}
		off += (uint64_t)n;
	}
	if (fsync(fd) == -1) {
		*error_r = quar_fail(errno, "fsync %s", what);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* Is id in use in any reason of dir (a complete entry, or a message
 * being stored)?  Called under the store lock. */
static bool
quar_id_taken(const char *dir, const char *id)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool taken = false;

	if (d == NULL)
		return false;
	while (!taken && (de = readdir(d)) != NULL) {
		char sub[NAME_MAX + QUARANTINE_ID_MAX + 16];
		struct stat st;

		if (!quarantine_reason_valid(de->d_name))
			continue;
		snprintf(sub, sizeof(sub), "%s/new/%s", de->d_name, id);
		taken = fstatat(dirfd(d), sub, &st, AT_SYMLINK_NOFOLLOW) == 0;
		snprintf(sub, sizeof(sub), "%s/envelope/%s", de->d_name, id);
		taken = taken ||
			fstatat(dirfd(d), sub, &st, AT_SYMLINK_NOFOLLOW) == 0;
	}
	closedir(d);
	return taken;
}

/* Move tmp/NAME to new/ID under a fresh ID. */
static int
quar_claim(const char *dir, const char *reason, int rfd, const char *tmpname,
	   time_t when, const char *qid, char id_r[QUARANTINE_ID_MAX],
	   const char **error_r)
{
	char path[PATH_MAX], newname[QUARANTINE_ID_MAX + 8];
	int lfd, ret = -1;

	snprintf(path, sizeof(path), "%s/.lock", dir);
	lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd == -1) {
		*error_r = quar_fail(errno, "open %s", path);
		return -1;
	}
	while (flock(lfd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			*error_r = quar_fail(errno, "lock %s", path);
			close(lfd);
			return -1;
		}
	}
	for (unsigned n = 0; n < QUAR_CLASH_MAX; n++) {
		if (n == 0)
			snprintf(id_r, QUARANTINE_ID_MAX, "%lld.%s",
				 (long long)when, qid);
		else
			snprintf(id_r, QUARANTINE_ID_MAX, "%lld.%s.%u",
				 (long long)when, qid, n);
		if (quar_id_taken(dir, id_r))
			continue;
		snprintf(newname, sizeof(newname), "new/%s", id_r);
		if (renameat(rfd, tmpname, rfd, newname) == -1)
			*error_r = quar_fail(errno, "rename %s/%s/%s to %s",
					     dir, reason, tmpname, newname);
		else
			ret = 0;
		break;
	}
	if (ret == -1 && *error_r == NULL)
		*error_r = quar_fail(0, "%s: no free ID for %s", dir, qid);
	close(lfd); /* releases the lock */
	return ret;
}

/* Write the envelope to tmp/, then into envelope/ID. */
static int
quar_write_envelope(const char *dir, const char *reason, int rfd,
		    const char *qid, const struct pst_buf *text, const char *id,
		    const char **error_r)
{
	char tmpname[NAME_MAX], envname[QUARANTINE_ID_MAX + 16];
	int fd;

	fd = quar_create_tmp(rfd, dir, reason, qid, tmpname, error_r);
	if (fd == -1)
		return -1;
	if (quar_write_all(fd, text->data, text->len) == -1 ||
	    fsync(fd) == -1) {
		*error_r = quar_fail(errno, "write %s/%s/%s", dir, reason,
				     tmpname);
		close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		*error_r = quar_fail(errno, "close %s/%s/%s", dir, reason,
				     tmpname);
		goto fail;
	}
	snprintf(envname, sizeof(envname), "envelope/%s", id);
	if (renameat(rfd, tmpname, rfd, envname) == -1) {
		*error_r = quar_fail(errno, "rename %s/%s/%s to %s", dir,
				     reason, tmpname, envname);
		goto fail;
	}
	if (quar_fsync_dir(rfd, "envelope") == -1) {
		*error_r =
			quar_fail(errno, "fsync %s/%s/envelope", dir, reason);
		unlinkat(rfd, envname, 0);
		return -1;
	}
	return 0;
fail:
	unlinkat(rfd, tmpname, 0);
	return -1;
}

static int
quar_store_check(const char *dir, const struct quarantine_entry *e,
		 const char **error_r)
{
	if (dir == NULL || dir[0] == '\0' || strlen(dir) >= QUAR_DIR_MAX) {
		*error_r = "quarantine directory name empty or too long";
		return -1;
	}
	if (e->from == NULL || e->nrcpt == 0 || e->rcpts == NULL) {
		*error_r = "quarantine: no sender or no recipient";
		return -1;
	}
	for (size_t i = 0; i < e->nrcpt; i++)
		if (e->rcpts[i].addr == NULL) {
			*error_r = "quarantine: recipient without address";
			return -1;
		}
	return 0;
}

int
quarantine_store(const char *dir, const struct quarantine_entry *entry,
		 struct pst_spool *spool, char id_r[QUARANTINE_ID_MAX],
		 const char **error_r)
{
	const char *reason = quarantine_reason_valid(entry->reason)
				     ? entry->reason
				     : QUARANTINE_REASON_INVALID;
	time_t when = entry->time != 0 ? entry->time : time(NULL);
	char qid[QUAR_QID_MAX + 1], tmpname[NAME_MAX];
	char id[QUARANTINE_ID_MAX], newname[QUARANTINE_ID_MAX + 8];
	struct pst_buf text;
	int rfd, fd, ret = -1;

	*error_r = NULL;
	if (quar_store_check(dir, entry, error_r) < 0)
		return -1;
	quar_qid_part(entry->qid, qid);
	pst_buf_init(&text, QUAR_ENVELOPE_MAX);
	if (quar_envelope_format(&text, entry, reason, when) < 0) {
		*error_r = "quarantine: envelope too large or out of memory";
		pst_buf_free(&text);
		return -1;
	}
	rfd = quar_open_reason(dir, reason, error_r);
	if (rfd == -1)
		goto out;
	fd = quar_create_tmp(rfd, dir, reason, qid, tmpname, error_r);
	if (fd == -1)
		goto out_rfd;
	if (quar_write_spool(fd, spool, tmpname, error_r) == -1) {
		close(fd);
		unlinkat(rfd, tmpname, 0);
		goto out_rfd;
	}
	if (close(fd) == -1) {
		*error_r = quar_fail(errno, "close %s/%s/%s", dir, reason,
				     tmpname);
		unlinkat(rfd, tmpname, 0);
		goto out_rfd;
	}
	if (quar_claim(dir, reason, rfd, tmpname, when, qid, id, error_r) < 0) {
		unlinkat(rfd, tmpname, 0);
		goto out_rfd;
	}
	snprintf(newname, sizeof(newname), "new/%s", id);
	if (quar_fsync_dir(rfd, "new") == -1) {
		*error_r = quar_fail(errno, "fsync %s/%s/new", dir, reason);
		unlinkat(rfd, newname, 0);
		goto out_rfd;
	}
	if (quar_write_envelope(dir, reason, rfd, qid, &text, id, error_r) <
	    0) {
		unlinkat(rfd, newname, 0);
		goto out_rfd;
	}
	memcpy(id_r, id, QUARANTINE_ID_MAX);
	ret = 0;
out_rfd:
	close(rfd);
out:
	pst_buf_free(&text);
	return ret;
}

/* ---- reading the store ---- */

/* Read path whole onto the arena (at most max bytes). */
static int
quar_read_file(struct pst_arena *arena, const char *path, size_t max,
	       char **data_r, size_t *len_r, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	size_t len = 0;
	char *data;

	if (fd == -1) {
		*error_r = quar_keep(arena, quar_fail(errno, "%s", path));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		*error_r = quar_keep(arena, quar_fail(errno, "%s", path));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		*error_r = quar_keep(
			arena,
			!S_ISREG(st.st_mode)
				? quar_fail(0, "%s: not a file", path)
				: quar_fail(0, "%s: larger than %zu bytes",
					    path, max));
		close(fd);
		return -1;
	}
	data = pst_arena_alloc(arena, (size_t)st.st_size + 1);
	if (data == NULL) {
		close(fd);
		*error_r = "quarantine: out of memory";
		return -1;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, data + len, (size_t)st.st_size - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r =
				quar_keep(arena, quar_fail(n == 0 ? EIO : errno,
							   "read %s", path));
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	data[len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
}

/* The message file of id in dir/reason: new/ID, cur/ID, or cur/ID:...
 * (a mail client moved it and added flags). */
static int
quar_find_message(struct pst_arena *arena, const char *rdir, const char *id,
		  const char **path_r, uint64_t *size_r, const char **error_r)
{
	size_t idlen = strlen(id);
	const char *path;
	struct stat st;
	struct dirent *de;
	DIR *d;

	path = pst_arena_printf(arena, "%s/new/%s", rdir, id);
	if (path != NULL && stat(path, &st) == 0)
		goto found;
	path = pst_arena_printf(arena, "%s/cur", rdir);
	d = path != NULL ? opendir(path) : NULL;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, id, idlen) != 0 ||
		    (de->d_name[idlen] != '\0' && de->d_name[idlen] != ':'))
			continue;
		path = pst_arena_printf(arena, "%s/cur/%s", rdir, de->d_name);
		if (path != NULL && stat(path, &st) == 0) {
			closedir(d);
			goto found;
		}
	}
	if (d != NULL)
		closedir(d);
	*error_r = pst_arena_printf(arena, "%s/new/%s: message file missing",
				    rdir, id);
	if (*error_r == NULL)
		*error_r = "quarantine: out of memory";
	return -1;
found:
	if (!S_ISREG(st.st_mode)) {
		*error_r =
			quar_keep(arena, quar_fail(0, "%s: not a file", path));
		return -1;
	}
	*path_r = path;
	*size_r = (uint64_t)st.st_size;
	return 0;
}

/* Load id of reason (both known valid). */
static int
quar_load_in(struct pst_arena *arena, const char *dir, const char *reason,
	     const char *id, struct quarantine_entry *e,
	     const char **msg_path_r, const char **error_r)
{
	const char *rdir = pst_arena_printf(arena, "%s/%s", dir, reason);
	const char *path = pst_arena_printf(arena, "%s/envelope/%s", rdir, id);
	char *data;
	size_t len;

	if (rdir == NULL || path == NULL) {
		*error_r = "quarantine: out of memory";
		return -1;
	}
	if (quar_read_file(arena, path, QUAR_ENVELOPE_MAX, &data, &len,
			   error_r) < 0 ||
	    quar_envelope_parse(arena, path, data, len, e, error_r) < 0)
		return -1;
	if (strcmp(e->reason, reason) != 0) {
		/* Moved by hand: the folder is where it is now. */
		if (e->reason_given == NULL)
			e->reason_given = e->reason;
		e->reason = pst_arena_strdup(arena, reason);
		if (e->reason == NULL) {
			*error_r = "quarantine: out of memory";
			return -1;
		}
	}
	e->id = pst_arena_strdup(arena, id);
	if (e->id == NULL) {
		*error_r = "quarantine: out of memory";
		return -1;
	}
	return quar_find_message(arena, rdir, id, msg_path_r, &e->size,
				 error_r);
}

/* The reason folder holding envelope/ID, or NULL (*error_r set). */
static const char *
quar_find_reason(struct pst_arena *arena, const char *dir, const char *id,
		 const char **error_r)
{
	const char *found = NULL;
	struct dirent *de;
	DIR *d;

	if (!quarantine_id_valid(id)) {
		*error_r = "malformed quarantine ID";
		return NULL;
	}
	d = opendir(dir);
	if (d == NULL) {
		*error_r = quar_keep(
			arena,
			errno == ENOENT
				? quar_fail(0, "no entry %s in %s", id, dir)
				: quar_fail(errno, "%s", dir));
		return NULL;
	}
	while (found == NULL && (de = readdir(d)) != NULL) {
		char sub[NAME_MAX + QUARANTINE_ID_MAX + 16];
		struct stat st;

		if (!quarantine_reason_valid(de->d_name))
			continue;
		snprintf(sub, sizeof(sub), "%s/envelope/%s", de->d_name, id);
		if (fstatat(dirfd(d), sub, &st, AT_SYMLINK_NOFOLLOW) == 0)
			found = pst_arena_strdup(arena, de->d_name);
	}
	closedir(d);
	if (found == NULL)
		*error_r = quar_keep(
			arena, quar_fail(0, "no entry %s in %s", id, dir));
	return found;
}

int
quarantine_load(struct pst_arena *arena, const char *dir, const char *id,
		struct quarantine_entry *entry_r, const char **msg_path_r,
		const char **error_r)
{
	const char *reason = quar_find_reason(arena, dir, id, error_r);

	if (reason == NULL)
		return -1;
	return quar_load_in(arena, dir, reason, id, entry_r, msg_path_r,
			    error_r);
}

struct quar_item {
	const char *id, *reason;
	unsigned long long time;
};

struct quar_items {
	struct quar_item *v;
	size_t n, cap;
};

static int
quar_items_add(struct pst_arena *arena, struct quar_items *items,
	       const char *id, const char *reason)
{
	struct quar_item *it;

	if (items->n == items->cap) {
		size_t cap = items->cap ? items->cap * 2 : 64;
		struct quar_item *v = realloc(items->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		items->v = v;
		items->cap = cap;
	}
	it = &items->v[items->n];
	it->id = pst_arena_strdup(arena, id);
	it->reason = reason;
	it->time = strtoull(id, NULL, 10);
	if (it->id == NULL)
		return -1;
	items->n++;
	return 0;
}

static int
quar_item_cmp(const void *a, const void *b)
{
	const struct quar_item *x = a, *y = b;
	int c;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	c = strcmp(x->id, y->id);
	return c != 0 ? c : strcmp(x->reason, y->reason);
}

/* Open dir/reason/envelope for reading; NULL with errno. */
static DIR *
quar_open_envelopes(DIR *d, const char *reason)
{
	char sub[NAME_MAX + 16];
	DIR *ed;
	int fd;

	snprintf(sub, sizeof(sub), "%s/envelope", reason);
	fd = openat(dirfd(d), sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	ed = fdopendir(fd);
	if (ed == NULL) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return ed;
}

/* Every envelope/ID of every reason into items. */
static int
quar_collect(struct pst_arena *arena, const char *dir, DIR *d,
	     struct quar_items *items, const char **error_r)
{
	struct dirent *de, *ee;

	while ((de = readdir(d)) != NULL) {
		const char *reason;
		DIR *ed;

		if (!quarantine_reason_valid(de->d_name))
			continue;
		ed = quar_open_envelopes(d, de->d_name);
		if (ed == NULL) {
			/* A stray file, or a folder with no entries yet. */
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			*error_r = quar_keep(arena,
					     quar_fail(errno, "%s/%s/envelope",
						       dir, de->d_name));
			return -1;
		}
		reason = pst_arena_strdup(arena, de->d_name);
		while (reason != NULL && (ee = readdir(ed)) != NULL) {
			if (quarantine_id_valid(ee->d_name) &&
			    quar_items_add(arena, items, ee->d_name, reason) <
				    0)
				reason = NULL;
		}
		closedir(ed);
		if (reason == NULL) {
			*error_r = "quarantine: out of memory";
			return -1;
		}
	}
	return 0;
}

int
quarantine_list(struct pst_arena *arena, const char *dir,
		quarantine_list_fn *fn, void *arg, const char **error_r)
{
	struct quar_items items = { 0 };
	struct pst_arena *scratch = NULL;
	DIR *d = opendir(dir);
	int ret = -1;

	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = quar_keep(arena, quar_fail(errno, "%s", dir));
		return -1;
	}
	if (quar_collect(arena, dir, d, &items, error_r) < 0)
		goto out;
	if (items.n > 1)
		qsort(items.v, items.n, sizeof(items.v[0]), quar_item_cmp);
	scratch = pst_arena_new(0);
	if (scratch == NULL) {
		*error_r = "quarantine: out of memory";
		goto out;
	}
	ret = 0;
	for (size_t i = 0; i < items.n; i++) {
		struct quarantine_entry e;
		const char *path = NULL, *error = NULL;
		int stop;

		pst_arena_reset(scratch);
		if (quar_load_in(scratch, dir, items.v[i].reason, items.v[i].id,
				 &e, &path, &error) < 0)
			stop = fn(arg, NULL, NULL, error);
		else
			stop = fn(arg, &e, path, NULL);
		if (stop != 0)
			break;
	}
out:
	pst_arena_free(&scratch);
	free(items.v);
	closedir(d);
	return ret;
}

int
quarantine_delete(struct pst_arena *arena, const char *dir, const char *id,
		  const char **error_r)
{
	const char *reason = quar_find_reason(arena, dir, id, error_r);
	const char *rdir, *env, *msg = NULL;
	uint64_t size;
	int rfd;

	if (reason == NULL)
		return -1;
	rdir = pst_arena_printf(arena, "%s/%s", dir, reason);
	env = pst_arena_printf(arena, "envelope/%s", id);
	if (rdir == NULL || env == NULL) {
		*error_r = "quarantine: out of memory";
		return -1;
	}
	/* Found before the envelope goes: without it nothing names it. */
	if (quar_find_message(arena, rdir, id, &msg, &size, error_r) < 0)
		msg = NULL;
	rfd = open(rdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd == -1 || unlinkat(rfd, env, 0) == -1) {
		*error_r = quar_keep(
			arena, quar_fail(errno, "remove %s/%s", rdir, env));
		if (rfd != -1)
			close(rfd);
		return -1;
	}
	quar_fsync_dir(rfd, "envelope");
	close(rfd);
	if (msg != NULL && unlink(msg) == -1 && errno != ENOENT) {
		*error_r = quar_keep(arena, quar_fail(errno, "remove %s", msg));
		return -1;
	}
	return 0;
}
