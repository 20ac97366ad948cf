/*
 * log.c - maillog lines in Postfix's shape (see log.h).
 *
 * syslog(3) has one ident per process; we speak as several components
 * (postern/smtpd, postern/relay, ...), so lines are formatted here in RFC
 * 3164 form and sent as datagrams straight to /dev/log.  The socket is
 * connected once and reconnected after an error; without a syslog daemon
 * lines are dropped silently (and retried at most once a second, so a
 * missing daemon costs no syscall per line).  Sends never block: a busy
 * daemon costs dropped lines (counted, and reported once lines get
 * through again) rather than a stalled event loop.  A mutex guards the
 * socket; the stderr copy is one write(2) per line, so lines from threads
 * do not interleave.  Thread-safe after pst_log_init().
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_PATH "/dev/log"
/* Longest text of one line; longer ones are cut (Postfix cuts at 2 KB). */
#define LOG_TEXT_MAX 2048
/* Longest wait for a full syslog queue before a line is dropped. */
#define LOG_BUSY_WAIT_MS 10
/* "<PRI>Mmm dd hh:mm:ss postern/<component>[pid]: " */
#define LOG_HEAD_MAX 128

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static time_t log_last_try;
static unsigned long log_dropped; /* lines lost to a busy daemon */
static time_t log_stuck_at;	  /* when waiting for it last failed */
static bool log_to_stderr;
/* read without the lock by every line: atomic */
static int log_level = PST_LOG_INFO;

static const int level_prio[] = {
	[PST_LOG_ERR] = LOG_ERR,       [PST_LOG_WARNING] = LOG_WARNING,
	[PST_LOG_NOTICE] = LOG_NOTICE, [PST_LOG_INFO] = LOG_INFO,
	[PST_LOG_DEBUG] = LOG_DEBUG,
};

/* Called with log_lock held. */
static void
log_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	log_last_try = time(NULL);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, LOG_PATH, sizeof(LOG_PATH));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return;
	}
	log_fd = fd;
}

/* Called with log_lock held.  0, or -1 when the line was not sent. */
static int
log_send_one(const char *line, size_t len)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (log_fd < 0) {
			/* Retry a missing daemon at most once a second,
			 * but always right after losing a connection. */
			if (attempt == 0 && time(NULL) == log_last_try)
				return -1;
			log_connect();
			if (log_fd < 0)
				return -1;
		}
		if (send(log_fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			/* The daemon's queue is full.  Give it a moment to
			 * drain a burst, then drop rather than stall. */
			struct pollfd pfd = { log_fd, POLLOUT, 0 };
			time_t now = time(NULL);

			if (now == log_stuck_at)
				return -1; /* it did not drain a moment ago */
			if (poll(&pfd, 1, LOG_BUSY_WAIT_MS) == 1 &&
			    send(log_fd, line, len,
				 MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
				return 0;
			log_stuck_at = now;
			return -1;
		}
		/* The daemon restarted (ECONNREFUSED, ENOTCONN, ...). */
		close(log_fd);
		log_fd = -1;
	}
	return -1;
}

/*
 * Called with log_lock held.  line is "<PRI>Mmm dd hh:mm:ss postern/
 * component[pid]: text"; tag is where "postern/" starts.  Before the
 * first line that gets through after losses, say how many were lost.
 */
static void
log_send(const char *line, size_t len, size_t tag, size_t head)
{
	if (log_dropped > 0) {
		char note[LOG_HEAD_MAX + 80];
		const char *stamp = memchr(line, '>', tag);
		int n;

		stamp = stamp != NULL ? stamp + 1 : line;
		n = snprintf(note, sizeof(note),
			     "<%d>%.*swarning: %lu log lines dropped: syslog "
			     "daemon busy or absent",
			     LOG_MAIL | LOG_WARNING,
			     (int)(head - (size_t)(stamp - line)), stamp,
			     log_dropped);
		if (n > 0 && (size_t)n < sizeof(note) &&
		    log_send_one(note, (size_t)n) == 0)
			log_dropped = 0;
	}
	if (log_send_one(line, len) < 0)
		log_dropped++;
}

void
pst_log_init(bool to_stderr)
{
	pthread_mutex_lock(&log_lock);
	log_to_stderr = to_stderr;
	if (log_fd < 0)
		log_connect();
	pthread_mutex_unlock(&log_lock);
}

void
pst_log_set_level(enum pst_log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

/* RFC 3164 timestamp, "Mmm dd hh:mm:ss", in the C locale's words. */
static size_t
log_stamp(char *buf, size_t size)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
					    "May", "Jun", "Jul", "Aug",
					    "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (localtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = snprintf(buf, size, "%s %2d %02d:%02d:%02d",
		     months[tm.tm_mon >= 0 && tm.tm_mon < 12 ? tm.tm_mon : 0],
		     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

void
pst_vlog(enum pst_log_level level, const char *component, const char *fmt,
	 va_list ap)
{
	char line[LOG_HEAD_MAX + LOG_TEXT_MAX + 2];
	char stamp[64];
	size_t head, tag, len;
	int n;

	if ((unsigned)level > PST_LOG_DEBUG ||
	    (int)level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	if (component == NULL)
		component = "postern";
	log_stamp(stamp, sizeof(stamp));
	n = snprintf(line, LOG_HEAD_MAX, "<%d>%s ",
		     LOG_MAIL | level_prio[level], stamp);
	if (n < 0)
		return;
	tag = (size_t)n;
	n = snprintf(line + tag, LOG_HEAD_MAX - tag,
		     "postern/%.32s[%ld]: ", component, (long)getpid());
	if (n < 0)
		return;
	head = tag + (size_t)n;
	if (head >= LOG_HEAD_MAX)
		head = LOG_HEAD_MAX - 1;
	n = vsnprintf(line + head, LOG_TEXT_MAX + 1, fmt, ap);
	if (n < 0)
		return;
	len = head + ((size_t)n > LOG_TEXT_MAX ? LOG_TEXT_MAX : (size_t)n);
	/* Callers sanitise what clients send; this is the last guard
	 * against a line break forging a second log line. */
	for (size_t i = head; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';

	pthread_mutex_lock(&log_lock);
	log_send(line, len, tag, head);
	pthread_mutex_unlock(&log_lock);

	if (log_to_stderr) {
		ssize_t w;

		line[len] = '\n';
		do
			w = write(STDERR_FILENO, line + tag, len + 1 - tag);
		while (w < 0 && errno == EINTR);
	}
}

void
pst_log(enum pst_log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pst_vlog(level, component, fmt, ap);
	va_end(ap);
}

char *
pst_log_sanitize(char *dst, unsigned n, const char *src, unsigned src_len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned o = 0;

	if (n == 0)
		return dst;
	for (unsigned i = 0; src != NULL && i < src_len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c < 0x7f) {
			if (o + 1 >= n)
				break;
			dst[o++] = (char)c;
		} else {
			/* whole escapes only, never a cut "\x4" */
			if (o + 4 >= n)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}
