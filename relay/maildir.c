/*
 * maildir.c - durable delivery of one message into a maildir (see
 * maildir.h).
 *
 * The classic maildir protocol: write tmp/NAME (O_EXCL), fsync it, rename
 * it into new/NAME, fsync new/.  Only then has the message arrived, so
 * only then may the client hear 250.  Names follow the maildir convention
 * "SECONDS.M<usec>P<pid>Q<counter>R<random>.HOST": the pid and a process
 * counter make them unique within this host, the random part guards
 * against pid reuse across restarts and against other writers.
 *
 * Blocking and thread-safe; the caller's arena holds the results.  The
 * message is copied through fixed 64 KiB buffers, never held whole.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ascii.h"
#include "arena.h"
#include "maildir.h"
#include "spool.h"

#define MAILDIR_BUF_SIZE (64u * 1024)
#define MAILDIR_NAME_TRIES 5
/* Escaping turns one byte into at most four ("\057"). */
#define MAILDIR_HOST_MAX 255
#define MAILDIR_HOST_ESC_MAX (MAILDIR_HOST_MAX * 4 + 1)

static pthread_once_t maildir_host_once = PTHREAD_ONCE_INIT;
static char maildir_host[MAILDIR_HOST_ESC_MAX];
static unsigned long maildir_counter;

static void
maildir_host_init(void)
{
	char host[MAILDIR_HOST_MAX + 1];
	size_t o = 0;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		strcpy(host, "localhost");
	host[MAILDIR_HOST_MAX] = '\0';
	for (const char *p = host; *p != '\0'; p++) {
		/* '/' would split the path, ':' starts maildir flags. */
		if (*p == '/') {
			memcpy(maildir_host + o, "\\057", 4);
			o += 4;
		} else if (*p == ':') {
			memcpy(maildir_host + o, "\\072", 4);
			o += 4;
		} else {
			maildir_host[o++] = *p;
		}
	}
	maildir_host[o] = '\0';
}

static const char *maildir_errorf(struct pst_arena *arena, int err,
				  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "what failed: strerror(err)" on the arena; a static text when the
 * arena is out of memory, so an error is never lost. */
static const char *
maildir_errorf(struct pst_arena *arena, int err, const char *fmt, ...)
{
	char ebuf[128];
	const char *etext;
	char *what;
	const char *text;
	va_list ap;

	etext = strerror_r(err, ebuf, sizeof(ebuf));
	va_start(ap, fmt);
	what = pst_arena_vprintf(arena, fmt, ap);
	va_end(ap);
	if (what == NULL)
		return "maildir delivery failed (out of memory)";
	if (err == 0)
		return what;
	text = pst_arena_printf(arena, "%s: %s", what, etext);
	return text != NULL ? text : what;
}

static int
maildir_new_name(struct pst_arena *arena, const char **name_r,
		 const char **error_r)
{
	struct timespec ts;
	unsigned char rnd[8];
	unsigned long q;
	char *name;

	pthread_once(&maildir_host_once, maildir_host_init);
	clock_gettime(CLOCK_REALTIME, &ts);
	q = __atomic_add_fetch(&maildir_counter, 1, __ATOMIC_RELAXED);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		*error_r = maildir_errorf(arena, errno, "getrandom");
		return -1;
	}
	name = pst_arena_printf(
		arena, "%lld.M%ldP%ldQ%luR%02x%02x%02x%02x%02x%02x%02x%02x.%s",
		(long long)ts.tv_sec, (long)(ts.tv_nsec / 1000), (long)getpid(),
		q, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
		rnd[7], maildir_host);
	if (name == NULL) {
		*error_r = "maildir delivery failed (out of memory)";
		return -1;
	}
	*name_r = name;
	return 0;
}

/* mkdir that tells whether it created the directory. */
static int
maildir_mkdir(const char *path, mode_t mode, bool *created_r)
{
	struct stat st;

	*created_r = false;
	if (mkdir(path, mode) == 0) {
		*created_r = true;
		return 0;
	}
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

static int
maildir_chown(const char *path, uid_t uid, gid_t gid)
{
	if (uid == (uid_t)-1 && gid == (gid_t)-1)
		return 0;
	/* We just created it; never follow a link someone swapped in. */
	return fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}

int
maildir_prepare(struct pst_arena *arena, const char *path, uid_t uid, gid_t gid,
		const char **error_r)
{
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	char *p;
	bool created;

	if (path[0] != '/') {
		*error_r = maildir_errorf(
			arena, 0, "maildir %s: path is not absolute", path);
		return -1;
	}
	p = pst_arena_strdup(arena, path);
	if (p == NULL) {
		*error_r = "maildir delivery failed (out of memory)";
		return -1;
	}
	/* Parents as by mkdir -p; they stay with their creator. */
	for (char *s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		if (s[1] == '\0' || s[-1] == '/')
			continue;
		*s = '\0';
		if (maildir_mkdir(p, 0755, &created) == -1) {
			*error_r = maildir_errorf(arena, errno, "mkdir %s", p);
			return -1;
		}
		*s = '/';
	}
	if (maildir_mkdir(path, 0700, &created) == -1) {
		*error_r = maildir_errorf(arena, errno, "mkdir %s", path);
		return -1;
	}
	if (created && maildir_chown(path, uid, gid) == -1) {
		*error_r = maildir_errorf(arena, errno, "chown %s", path);
		return -1;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		const char *sub =
			pst_arena_printf(arena, "%s/%s", path, subdirs[i]);

		if (sub == NULL) {
			*error_r = "maildir delivery failed (out of memory)";
			return -1;
		}
		if (maildir_mkdir(sub, 0700, &created) == -1) {
			*error_r =
				maildir_errorf(arena, errno, "mkdir %s", sub);
			return -1;
		}
		if (created && maildir_chown(sub, uid, gid) == -1) {
			*error_r =
				maildir_errorf(arena, errno, "chown %s", sub);
			return -1;
		}
	}
	return 0;
}

const char *
maildir_orcpt_decode(struct pst_arena *arena, const char *orcpt)
{
	const char *s;
	char *out, *o;

	if (orcpt == NULL || strncasecmp(orcpt, "rfc822;", 7) != 0)
		return NULL;
	s = orcpt + 7;
	if (*s == '\0')
		return NULL;
	out = pst_arena_alloc(arena, strlen(s) + 1);
	if (out == NULL)
		return NULL;
	for (o = out; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '+') {
			int hi = pst_hexval(s[1]);
			int lo = hi < 0 ? -1 : pst_hexval(s[2]);

			if (lo < 0)
				return NULL;
			c = (unsigned char)(hi << 4 | lo);
			s += 2;
		}
		/* Whatever lands in a header line must not end it. */
		if (c < 0x20 || c == 0x7f)
			return NULL;
		*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

/* Output through one buffer so that headers and body take few writes. */
struct maildir_out {
	int fd;
	char *buf;
	size_t len;
};

static int
maildir_out_flush(struct maildir_out *out)
{
	const char *p = out->buf;
	size_t len = out->len;

	while (len > 0) {
		ssize_t n = write(out->fd, p, len);

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
	out->len = 0;
	return 0;
}

static int
maildir_out_put(struct maildir_out *out, const char *data, size_t len)
{
	while (len > 0) {
		size_t room = MAILDIR_BUF_SIZE - out->len;

		if (room > len)
			room = len;
		memcpy(out->buf + out->len, data, room);
		out->len += room;
		data += room;
		len -= room;
		if (out->len == MAILDIR_BUF_SIZE &&
		    maildir_out_flush(out) == -1)
			return -1;
	}
	return 0;
}

static int
maildir_out_line(struct maildir_out *out, const char *a, const char *b,
		 const char *c)
{
	if (maildir_out_put(out, a, strlen(a)) == -1 ||
	    maildir_out_put(out, b, strlen(b)) == -1)
		return -1;
	return maildir_out_put(out, c, strlen(c));
}

static int
maildir_write_envelope(struct pst_arena *arena, struct maildir_out *out,
		       const char *from, const struct maildir_rcpt *rcpts,
		       size_t nrcpt)
{
	if (maildir_out_line(out, "Return-Path: <", from, ">\n") == -1)
		return -1;
	for (size_t i = 0; i < nrcpt; i++) {
		const char *orig = maildir_orcpt_decode(arena, rcpts[i].orcpt);

		if (orig == NULL)
			orig = rcpts[i].addr;
		if (maildir_out_line(out, "Delivered-To: ", rcpts[i].addr,
				     "\n") == -1 ||
		    maildir_out_line(out, "X-Original-To: ", orig, "\n") == -1)
			return -1;
	}
	return 0;
}

/*
 * Put one chunk with CRLF turned into LF.  A CR that ends the chunk is
 * held in *pending_cr until the next chunk shows whether an LF follows;
 * a bare CR (the spool should hold none) is kept as it is.
 */
static int
maildir_out_unix(struct maildir_out *out, const char *p, const char *end,
		 bool *pending_cr)
{
	if (*pending_cr && p < end) {
		bool lf = *p == '\n';

		*pending_cr = false;
		if (maildir_out_put(out, lf ? "\n" : "\r", 1) == -1)
			return -1;
		if (lf)
			p++;
	}
	while (p < end) {
		const char *cr = memchr(p, '\r', (size_t)(end - p));
		size_t run = cr != NULL ? (size_t)(cr - p) : (size_t)(end - p);

		if (maildir_out_put(out, p, run) == -1)
			return -1;
		if (cr == NULL)
			break;
		if (cr + 1 == end) {
			*pending_cr = true;
			break;
		}
		if (maildir_out_put(out, cr[1] == '\n' ? "\n" : "\r", 1) == -1)
			return -1;
		p = cr[1] == '\n' ? cr + 2 : cr + 1;
	}
	return 0;
}

/* Copy the spool through the in buffer.  *read_err_r tells a spool
 * failure from a write failure. */
static int
maildir_write_body(struct maildir_out *out, struct pst_spool *spool, char *in,
		   bool *read_err_r)
{
	uint64_t size = pst_spool_size(spool);
	uint64_t off = 0;
	bool pending_cr = false;

	*read_err_r = false;
	while (off < size) {
		ssize_t n = pst_spool_pread(spool, in, MAILDIR_BUF_SIZE, off);

		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			*read_err_r = true;
			return -1;
		}
		off += (uint64_t)n;
		if (maildir_out_unix(out, in, in + n, &pending_cr) == -1)
			return -1;
	}
	if (pending_cr && maildir_out_put(out, "\r", 1) == -1)
		return -1;
	return maildir_out_flush(out);
}

static bool
maildir_header_safe(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

/* Write and sync tmp/NAME; on failure the caller unlinks it. */
static int
maildir_write_file(struct pst_arena *arena, int fd, const char *tmpname,
		   const char *from, const struct maildir_rcpt *rcpts,
		   size_t nrcpt, struct pst_spool *spool, const char **error_r)
{
	struct maildir_out out = { .fd = fd };
	char *in;
	bool read_err = false;
	int ret = -1;

	out.buf = malloc(MAILDIR_BUF_SIZE);
	in = malloc(MAILDIR_BUF_SIZE);
	if (out.buf == NULL || in == NULL) {
		*error_r = "maildir delivery failed (out of memory)";
		goto out;
	}
	if (maildir_write_envelope(arena, &out, from, rcpts, nrcpt) == -1 ||
	    maildir_write_body(&out, spool, in, &read_err) == -1) {
		if (read_err)
			*error_r = maildir_errorf(arena, errno, "read spool");
		else
			*error_r = maildir_errorf(arena, errno, "write %s",
						  tmpname);
		goto out;
	}
	if (fsync(fd) == -1) {
		*error_r = maildir_errorf(arena, errno, "fsync %s", tmpname);
		goto out;
	}
	ret = 0;
out:
	free(out.buf);
	free(in);
	return ret;
}

/* Create tmp/NAME under dfd, making the maildir's directories on first
 * use. */
static int
maildir_create_tmp(struct pst_arena *arena, int dfd, const char *path,
		   const char **name_r, const char **tmpname_r,
		   const char **error_r)
{
	bool prepared = false;

	for (int tries = 0; tries < MAILDIR_NAME_TRIES; tries++) {
		const char *name, *tmpname;
		int fd;

		if (maildir_new_name(arena, &name, error_r) == -1)
			return -1;
		tmpname = pst_arena_printf(arena, "tmp/%s", name);
		if (tmpname == NULL) {
			*error_r = "maildir delivery failed (out of memory)";
			return -1;
		}
		fd = openat(dfd, tmpname,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1) {
			*name_r = name;
			*tmpname_r = tmpname;
			return fd;
		}
		if (errno == ENOENT && !prepared) {
			if (maildir_prepare(arena, path, (uid_t)-1, (gid_t)-1,
					    error_r) == -1)
				return -1;
			prepared = true;
			continue;
		}
		if (errno != EEXIST) {
			*error_r = maildir_errorf(arena, errno, "open %s/%s",
						  path, tmpname);
			return -1;
		}
	}
	*error_r = maildir_errorf(arena, EEXIST, "open %s/tmp/...", path);
	return -1;
}

static int
maildir_open_dir(struct pst_arena *arena, const char *path,
		 const char **error_r)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd == -1 && errno == ENOENT) {
		if (maildir_prepare(arena, path, (uid_t)-1, (gid_t)-1,
				    error_r) == -1)
			return -1;
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd == -1)
		*error_r = maildir_errorf(arena, errno, "open %s", path);
	return dfd;
}

/* fsync new/ so the rename itself survives a crash. */
static int
maildir_sync_new(int dfd)
{
	int fd = openat(dfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd == -1)
		return -1;
	ret = fsync(fd);
	if (ret == -1) {
		int saved_errno = errno;

		close(fd);
		errno = saved_errno;
		return -1;
	}
	return close(fd);
}

int
maildir_deliver(struct pst_arena *arena, const char *path, const char *from,
		const struct maildir_rcpt *rcpts, size_t nrcpt,
		struct pst_spool *spool, const char **name_r,
		const char **error_r)
{
	const char *name, *tmpname, *newname;
	int dfd, fd;

	if (path[0] != '/') {
		*error_r = maildir_errorf(
			arena, 0, "maildir %s: path is not absolute", path);
		return -1;
	}
	/* The SMTP parser lets no CR or LF through; refuse them anyway
	 * rather than let an address add header lines. */
	if (!maildir_header_safe(from)) {
		*error_r = "refusing a sender address with CR or LF";
		return -1;
	}
	for (size_t i = 0; i < nrcpt; i++) {
		if (!maildir_header_safe(rcpts[i].addr)) {
			*error_r = "refusing a recipient address with CR or LF";
			return -1;
		}
	}

	dfd = maildir_open_dir(arena, path, error_r);
	if (dfd == -1)
		return -1;
	fd = maildir_create_tmp(arena, dfd, path, &name, &tmpname, error_r);
	if (fd == -1) {
		close(dfd);
		return -1;
	}
	if (maildir_write_file(arena, fd, tmpname, from, rcpts, nrcpt, spool,
			       error_r) == -1) {
		close(fd);
		goto fail_tmp;
	}
	if (close(fd) == -1) {
		*error_r = maildir_errorf(arena, errno, "close %s", tmpname);
		goto fail_tmp;
	}
	newname = pst_arena_printf(arena, "new/%s", name);
	if (newname == NULL) {
		*error_r = "maildir delivery failed (out of memory)";
		goto fail_tmp;
	}
	if (renameat(dfd, tmpname, dfd, newname) == -1) {
		*error_r = maildir_errorf(arena, errno, "rename %s to %s",
					  tmpname, newname);
		goto fail_tmp;
	}
	if (maildir_sync_new(dfd) == -1) {
		/* Not known to be durable: take it back, so the client's
		 * retry does not leave a second copy. */
		*error_r = maildir_errorf(arena, errno, "fsync %s/new", path);
		unlinkat(dfd, newname, 0);
		close(dfd);
		return -1;
	}
	close(dfd);
	*name_r = name;
	return 0;

fail_tmp:
	unlinkat(dfd, tmpname, 0);
	close(dfd);
	return -1;
}
