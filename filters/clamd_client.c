/*
 * clamd_client.c - INSTREAM to clamd (see clamd.h).
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * deadline, so a clamd that hangs (busy, reloading its database) costs
 * at most the configured time.  clamd closes the connection as soon as
 * a stream passes its StreamMaxLength, while we may still be sending:
 * a failed send is therefore followed by an attempt to read the reply,
 * which then names the real cause.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clamd.h"

static uint64_t
clamd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
clamd_addr_parse(const char *s, struct clamd_addr *a, const char **error_r)
{
	char host[64];
	const char *colon, *h;
	size_t hlen;
	char *end;
	unsigned long port;

	memset(a, 0, sizeof(*a));
	if (s == NULL || s[0] == '\0' || strlen(s) >= sizeof(a->text)) {
		*error_r = "an address is host:port or /path/to/clamd.sock";
		return -1;
	}
	snprintf(a->text, sizeof(a->text), "%s", s);
	if (s[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;

		if (strlen(s) >= sizeof(un->sun_path)) {
			*error_r = "unix socket path too long";
			return -1;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, s, strlen(s) + 1);
		a->len = sizeof(*un);
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon == NULL || colon == s) {
		*error_r = "an address is host:port or /path/to/clamd.sock";
		return -1;
	}
	h = s;
	hlen = (size_t)(colon - s);
	if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535 ||
	    colon[1] < '0' || colon[1] > '9' || hlen >= sizeof(host)) {
		*error_r = "bad port";
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host,
		      &((struct sockaddr_in *)&a->ss)->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		a->len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host,
		      &((struct sockaddr_in6 *)&a->ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*in6);
		return 0;
	}
	*error_r = "the host must be an IP address (or localhost)";
	return -1;
}

void
clamd_reply_parse(const char *reply, size_t len, struct clamd_result *r)
{
	static const char found[] = " FOUND", error[] = " ERROR", ok[] = ": OK";
	const char *name;
	size_t n;

	memset(r, 0, sizeof(*r));
	while (len > 0 && (reply[len - 1] == '\n' || reply[len - 1] == '\r' ||
			   reply[len - 1] == '\0'))
		len--;
	if (len >= sizeof(ok) - 1 &&
	    memcmp(reply + len - (sizeof(ok) - 1), ok, sizeof(ok) - 1) == 0) {
		r->status = CLAMD_CLEAN;
		return;
	}
	if (len > sizeof(found) - 1 && memcmp(reply + len - (sizeof(found) - 1),
					      found, sizeof(found) - 1) == 0) {
		/* "stream: NAME FOUND": the name after the last ": " */
		name = reply;
		for (size_t i = 0; i + 1 < len; i++)
			if (reply[i] == ':' && reply[i + 1] == ' ')
				name = reply + i + 2;
		n = (size_t)(reply + len - (sizeof(found) - 1) - name);
		if (name > reply + len - (sizeof(found) - 1) || n == 0)
			goto bad;
		if (n >= sizeof(r->virus))
			n = sizeof(r->virus) - 1;
		for (size_t i = 0; i < n; i++)
			r->virus[i] = name[i] > 0x20 && name[i] < 0x7f ? name[i]
								       : '?';
		r->status = CLAMD_INFECTED;
		return;
	}
	r->status = CLAMD_ERROR;
	if (len > sizeof(error) - 1 && memcmp(reply + len - (sizeof(error) - 1),
					      error, sizeof(error) - 1) == 0)
		len -= sizeof(error) - 1;
	n = len < sizeof(r->error) - 8 ? len : sizeof(r->error) - 8;
	memcpy(r->error, "clamd: ", 7);
	for (size_t i = 0; i < n; i++)
		r->error[7 + i] =
			reply[i] >= 0x20 && reply[i] < 0x7f ? reply[i] : '?';
	return;
bad:
	r->status = CLAMD_ERROR;
	snprintf(r->error, sizeof(r->error), "malformed reply from clamd");
}

static void
clamd_fail(struct clamd_result *r, const char *what, int err)
{
	memset(r, 0, sizeof(*r));
	r->status = CLAMD_ERROR;
	if (err != 0)
		snprintf(r->error, sizeof(r->error), "%s: %s", what,
			 strerror(err));
	else
		snprintf(r->error, sizeof(r->error), "%s", what);
}

/* Wait for events on fd until deadline; 1 ready, 0 timeout, -1 error. */
static int
clamd_wait(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { fd, events, 0 };
		uint64_t now = clamd_now();
		int rc;

		if (now >= deadline)
			return 0;
		rc = poll(&pfd, 1,
			  deadline - now > INT32_MAX ? INT32_MAX
						     : (int)(deadline - now));
		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int
clamd_connect(const struct clamd_addr *a, uint64_t ms, struct clamd_result *r)
{
	int fd = socket(a->ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0;
	socklen_t elen = sizeof(err);

	if (fd < 0) {
		clamd_fail(r, "socket", errno);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN) {
		clamd_fail(r, "cannot connect to clamd", errno);
		goto fail;
	}
	switch (clamd_wait(fd, POLLOUT, clamd_now() + ms)) {
	case 1:
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err == 0)
			return fd;
		clamd_fail(r, "cannot connect to clamd", err);
		break;
	case 0:
		clamd_fail(r, "timeout connecting to clamd", 0);
		break;
	default:
		clamd_fail(r, "cannot connect to clamd", errno);
		break;
	}
fail:
	close(fd);
	return -1;
}

/* Send all of buf before deadline; 0, or -1 (errno set; ETIMEDOUT). */
static int
clamd_send(int fd, const void *buf, size_t len, uint64_t deadline)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		switch (clamd_wait(fd, POLLOUT, deadline)) {
		case 1:
			break;
		case 0:
			errno = ETIMEDOUT;
			return -1;
		default:
			return -1;
		}
	}
	return 0;
}

/* The reply, up to its NUL or the end of the connection. */
static void
clamd_reply(int fd, uint64_t deadline, struct clamd_result *r)
{
	char buf[CLAMD_REPLY_MAX];
	size_t len = 0;

	while (len < sizeof(buf)) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);

		if (n > 0) {
			char *nul = memchr(buf + len, '\0', (size_t)n);

			len += (size_t)n;
			if (nul != NULL) {
				clamd_reply_parse(buf, (size_t)(nul - buf), r);
				return;
			}
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			clamd_fail(r, "reading clamd's reply", errno);
			return;
		}
		if (clamd_wait(fd, POLLIN, deadline) != 1) {
			clamd_fail(r, "timeout waiting for clamd's reply", 0);
			return;
		}
	}
	if (len == 0) {
		clamd_fail(r, "clamd closed the connection without a reply", 0);
		return;
	}
	clamd_reply_parse(buf, len, r);
}

/* Stream the input; -1 with *r filled when the input cannot be read,
 * -2 when sending failed (the reply may tell why). */
static int
clamd_stream(int fd, clamd_read_fn *read, void *ctx, uint64_t size,
	     uint64_t deadline, struct clamd_result *r)
{
	char *chunk = malloc(4 + CLAMD_CHUNK);
	uint64_t off = 0;
	int rc = 0;

	if (chunk == NULL) {
		clamd_fail(r, "out of memory", 0);
		return -1;
	}
	if (clamd_send(fd, "zINSTREAM", 10, deadline) < 0) {
		rc = -2;
		goto done;
	}
	while (off < size) {
		size_t want = size - off > CLAMD_CHUNK ? CLAMD_CHUNK
						       : (size_t)(size - off);
		ssize_t n = read(ctx, chunk + 4, want, off);
		uint32_t be;

		if (n <= 0) {
			clamd_fail(r, "cannot read the message", 0);
			rc = -1;
			goto done;
		}
		be = htonl((uint32_t)n);
		memcpy(chunk, &be, 4);
		if (clamd_send(fd, chunk, 4 + (size_t)n, deadline) < 0) {
			rc = -2;
			goto done;
		}
		off += (uint64_t)n;
	}
	if (clamd_send(fd, "\0\0\0\0", 4, deadline) < 0)
		rc = -2;
done:
	free(chunk);
	return rc;
}

void
clamd_scan(const struct clamd_addr *a, const struct clamd_timeouts *to,
	   clamd_read_fn *read, void *ctx, uint64_t size,
	   struct clamd_result *r)
{
	uint64_t deadline;
	int fd, rc, err;

	fd = clamd_connect(a, to->connect_ms, r);
	if (fd < 0)
		return;
	deadline = clamd_now() + to->io_ms;
	rc = clamd_stream(fd, read, ctx, size, deadline, r);
	err = errno;
	if (rc == -1) {
		close(fd);
		return;
	}
	clamd_reply(fd, deadline, r);
	/* A send that failed without clamd saying why is the error. */
	if (rc == -2 && r->status != CLAMD_ERROR)
		clamd_fail(r,
			   err == ETIMEDOUT ? "timeout sending to clamd"
					    : "sending to clamd",
			   err == ETIMEDOUT ? 0 : err);
	else if (rc == -2 && strstr(r->error, "closed the connection"))
		clamd_fail(r,
			   err == ETIMEDOUT ? "timeout sending to clamd"
					    : "sending to clamd",
			   err == ETIMEDOUT ? 0 : err);
	close(fd);
}
