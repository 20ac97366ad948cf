/*
 * mbox_relay.c - after login: a transparent two-way relay between the
 * client and the backend, without parsing, so IDLE, literals, COMPRESS
 * and anything else pass as they are.
 *
 * Two paths:
 * - a TLS leg: bufferevents, bytes moving as evbuffer chains (no copy).
 *   Reading from one side pauses while the other side's output is over
 *   RELAY_HIGH and resumes when it drains to half of that.
 * - both legs in clear: what the bufferevents still hold is flushed,
 *   then the sockets are driven directly with splice(2) through one pipe
 *   per direction, so the data never enters user space (the proxy's own
 *   cost at mailbox download speeds was the copies and the system calls
 *   of the buffered path).  A pipe is made when its direction first
 *   carries data; a direction is read only while its pipe is empty, so
 *   a full pipe is never mistaken for a silent socket.  Without a pipe
 *   (out of descriptors, or splice refused) a direction falls back to
 *   an evbuffer and read/write.
 * Either side closing ends the session once what it said has reached
 * the other side.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "mbox_int.h"
#include "server.h"

#define RELAY_HIGH (1024 * 1024)
/* libevent reads and writes 16 KiB per call by default: too many
 * system calls for mailbox downloads. */
#define RELAY_IO_MAX (256 * 1024)
/* A direction that moves bulk data (one read of half the pipe or more)
 * gets its pipe grown to this: the benchmark's FETCH runs 6% faster than
 * with the default 64 KiB, and 1 MiB gains nothing more.  Interactive
 * and idle sessions keep the default (a 16-slot pipe).  The kernel may
 * refuse (fs.pipe-user-pages-soft): the pipe then stays as it is. */
#define RELAY_PIPE_SIZE (256 * 1024)
/* Read/write rounds per direction and event, so that one busy session
 * cannot starve the others of the worker. */
#define RELAY_ROUNDS 16
/* The read size of the fallback path. */
#define RELAY_FALLBACK_READ (64 * 1024)

/* One direction of the spliced relay. */
struct mbox_splice_dir {
	struct mbox_session *s;
	const char *closed_why; /* source EOF: "client closed", ... */
	const char *error_why;
	uint64_t *count;
	int src, dst;
	int pipe[2];	     /* -1 until data first flows */
	struct evbuffer *fb; /* fallback without a pipe */
	size_t len;	     /* octets in pipe or fb */
	size_t cap;	     /* the pipe's capacity */
	bool eof;
	struct event *rd; /* src readable */
	struct event *wr; /* dst writable */
};

struct mbox_splice {
	struct mbox_splice_dir up;   /* client -> backend */
	struct mbox_splice_dir down; /* backend -> client */
	struct timeval idle;
};

static void mbox_relay_read(struct bufferevent *from, void *arg);
static void mbox_splice_start(struct mbox_session *s);

static struct bufferevent *
mbox_relay_other(struct mbox_session *s, struct bufferevent *bev)
{
	return bev == s->bev ? s->backend : s->bev;
}

static bool
mbox_relay_flushed(struct mbox_session *s)
{
	return evbuffer_get_length(bufferevent_get_output(s->bev)) == 0 &&
	       evbuffer_get_length(bufferevent_get_output(s->backend)) == 0;
}

static void
mbox_relay_drained(struct bufferevent *to, void *arg)
{
	struct mbox_session *s = arg;
	struct bufferevent *from = mbox_relay_other(s, to);

	if (s->state == MBOX_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(to)) == 0)
			mbox_session_close(s, "closed");
		return;
	}
	if (s->splice_pending) {
		if (mbox_relay_flushed(s))
			mbox_splice_start(s);
		return;
	}
	bufferevent_setwatermark(to, EV_WRITE, 0, 0);
	bufferevent_enable(from, EV_READ);
}

static void
mbox_relay_read(struct bufferevent *from, void *arg)
{
	struct mbox_session *s = arg;
	struct bufferevent *to = mbox_relay_other(s, from);
	struct evbuffer *in = bufferevent_get_input(from);
	struct evbuffer *out = bufferevent_get_output(to);
	size_t n = evbuffer_get_length(in);

	if (from == s->bev)
		s->bytes_in += n;
	else
		s->bytes_out += n;
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) >= RELAY_HIGH) {
		bufferevent_disable(from, EV_READ);
		bufferevent_setwatermark(to, EV_WRITE, RELAY_HIGH / 2, 0);
	}
}

static void
mbox_relay_event(struct bufferevent *bev, short what, void *arg)
{
	struct mbox_session *s = arg;
	struct bufferevent *to = mbox_relay_other(s, bev);
	const char *why;

	if (what & BEV_EVENT_TIMEOUT)
		why = "idle timeout";
	else if (bev == s->bev)
		why = (what & BEV_EVENT_EOF) ? "client closed"
					     : "client connection error";
	else
		why = (what & BEV_EVENT_EOF) ? "backend closed"
					     : "backend connection error";
	/* What the closing side said last still goes to the other. */
	mbox_relay_read(bev, s);
	if (s->state == MBOX_CLOSING ||
	    evbuffer_get_length(bufferevent_get_output(to)) == 0 ||
	    (what & BEV_EVENT_TIMEOUT)) {
		mbox_session_close(s, why);
		return;
	}
	s->state = MBOX_CLOSING;
	s->splice_pending = false;
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	bufferevent_disable(to, EV_READ);
	bufferevent_setwatermark(to, EV_WRITE, 0, 0);
}

/* The socket under bev (below a TLS filter, if any). */
static void
mbox_relay_nodelay(struct bufferevent *bev)
{
	struct bufferevent *lower = bufferevent_get_underlying(bev);
	evutil_socket_t fd = bufferevent_getfd(lower != NULL ? lower : bev);
	int one = 1;

	/* Without it the last segment of each answer waits for the
	 * peer's delayed ACK (Nagle): 40 ms per pipelined POP3 batch. */
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
}

static void
mbox_splice_dir_free(struct mbox_splice_dir *d)
{
	if (d->rd != NULL)
		event_free(d->rd);
	if (d->wr != NULL)
		event_free(d->wr);
	if (d->pipe[0] >= 0)
		close(d->pipe[0]);
	if (d->pipe[1] >= 0)
		close(d->pipe[1]);
	if (d->fb != NULL)
		evbuffer_free(d->fb);
}

void
mbox_relay_free(struct mbox_session *s)
{
	struct mbox_splice *sp = s->splice;

	if (sp == NULL)
		return;
	s->splice = NULL;
	mbox_splice_dir_free(&sp->up);
	mbox_splice_dir_free(&sp->down);
	free(sp);
}

/* A pipe for d, or the fallback buffer when there is none to be had.
 * -1 only when neither can be made. */
static int
mbox_splice_dir_open(struct mbox_splice_dir *d)
{
	if (d->pipe[0] >= 0 || d->fb != NULL)
		return 0;
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == 0) {
		int cap = fcntl(d->pipe[1], F_GETPIPE_SZ);

		d->cap = cap > 0 ? (size_t)cap : 65536;
		return 0;
	}
	d->pipe[0] = d->pipe[1] = -1;
	pst_log(PST_LOG_WARNING, d->s->ops->name,
		"relay: no pipe (%s), copying instead: session=%s",
		strerror(errno), d->s->session_id);
	d->fb = evbuffer_new();
	return d->fb != NULL ? 0 : -1;
}

/* splice refused the socket: carry on with read/write (the pipe is
 * empty whenever this is called). */
static int
mbox_splice_dir_fallback(struct mbox_splice_dir *d)
{
	int err = errno;

	close(d->pipe[0]);
	close(d->pipe[1]);
	d->pipe[0] = d->pipe[1] = -1;
	pst_log(PST_LOG_WARNING, d->s->ops->name,
		"relay: splice refused (%s), copying instead: session=%s",
		strerror(err), d->s->session_id);
	d->fb = evbuffer_new();
	return d->fb != NULL ? 0 : -1;
}

/* Fill an empty pipe (or fallback buffer) from the source.
 * 1: got data, 0: nothing now, -1: error, -2: end of stream. */
static int
mbox_splice_dir_fill(struct mbox_splice_dir *d)
{
	ssize_t n;

	if (mbox_splice_dir_open(d) < 0)
		return -1;
	if (d->fb != NULL)
		n = evbuffer_read(d->fb, d->src, RELAY_FALLBACK_READ);
	else
		n = splice(d->src, NULL, d->pipe[1], NULL, RELAY_PIPE_SIZE,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		d->len += (size_t)n;
		*d->count += (uint64_t)n;
		if (d->fb == NULL && (size_t)n >= d->cap / 2 &&
		    d->cap < RELAY_PIPE_SIZE) {
			int cap = fcntl(d->pipe[1], F_SETPIPE_SZ,
					RELAY_PIPE_SIZE);

			/* refused: do not ask again */
			d->cap = cap > 0 ? (size_t)cap : RELAY_PIPE_SIZE;
		}
		return 1;
	}
	if (n == 0)
		return -2;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	if (d->fb == NULL && (errno == EINVAL || errno == ENOSYS))
		return mbox_splice_dir_fallback(d);
	return -1;
}

/* Empty the pipe (or fallback buffer) into the destination.
 * 1: progress, 0: destination full, -1: error. */
static int
mbox_splice_dir_flush(struct mbox_splice_dir *d)
{
	ssize_t n;

	if (d->fb != NULL)
		n = evbuffer_write(d->fb, d->dst);
	else
		n = splice(d->pipe[0], NULL, d->dst, NULL, d->len,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		d->len -= (size_t)n < d->len ? (size_t)n : d->len;
		return 1;
	}
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	return -1;
}

/* Wait for what d needs next: the destination while data is held, else
 * the source.  The client's read event carries the idle timer; a
 * pending event is left alone so that the timer only restarts on
 * activity. */
static void
mbox_splice_dir_arm(struct mbox_splice_dir *d)
{
	struct mbox_splice *sp = d->s->splice;

	if (d->len > 0) {
		event_del(d->rd);
		if (!event_pending(d->wr, EV_WRITE, NULL))
			event_add(d->wr, &sp->idle);
		return;
	}
	event_del(d->wr);
	if (!d->eof && !event_pending(d->rd, EV_READ, NULL))
		event_add(d->rd, d == &sp->up ? &sp->idle : NULL);
}

static void
mbox_splice_pump(struct mbox_splice_dir *d)
{
	struct mbox_session *s = d->s;
	int r;

	for (unsigned i = 0; i < RELAY_ROUNDS; i++) {
		if (d->len == 0) {
			if (d->eof)
				break;
			r = mbox_splice_dir_fill(d);
			if (r == -2) {
				d->eof = true;
				break;
			}
			if (r < 0) {
				mbox_session_close(s, d->error_why);
				return;
			}
			if (r == 0)
				break;
		}
		r = mbox_splice_dir_flush(d);
		if (r < 0) {
			/* the destination failed: the other direction's
			 * error */
			struct mbox_splice *sp = s->splice;

			mbox_session_close(s, d == &sp->up ? sp->down.error_why
							   : sp->up.error_why);
			return;
		}
		if (r == 0)
			break;
	}
	if (d->eof && d->len == 0) {
		mbox_session_close(s, d->closed_why);
		return;
	}
	mbox_splice_dir_arm(d);
}

static void
mbox_splice_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mbox_splice_dir *d = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		mbox_session_close(d->s, "idle timeout");
		return;
	}
	mbox_splice_pump(d);
}

static int
mbox_splice_dir_init(struct mbox_splice_dir *d, struct mbox_session *s, int src,
		     int dst)
{
	struct event_base *base = s->mw->worker->base;

	d->s = s;
	d->src = src;
	d->dst = dst;
	d->pipe[0] = d->pipe[1] = -1;
	d->rd = event_new(base, src, EV_READ | EV_PERSIST, mbox_splice_cb, d);
	d->wr = event_new(base, dst, EV_WRITE | EV_PERSIST, mbox_splice_cb, d);
	return d->rd != NULL && d->wr != NULL ? 0 : -1;
}

/* Both bufferevents are empty: take their sockets over. */
static void
mbox_splice_start(struct mbox_session *s)
{
	struct mbox_splice *sp = calloc(1, sizeof(*sp));
	int cfd = bufferevent_getfd(s->bev);
	int bfd = bufferevent_getfd(s->backend);
	uint64_t ms = s->conf->idle_timeout;

	s->splice_pending = false;
	if (sp == NULL) {
		mbox_session_close(s, "out of memory");
		return;
	}
	s->splice = sp;
	sp->idle.tv_sec = (time_t)(ms / 1000);
	sp->idle.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	sp->up.closed_why = "client closed";
	sp->up.error_why = "client connection error";
	sp->up.count = &s->bytes_in;
	sp->down.closed_why = "backend closed";
	sp->down.error_why = "backend connection error";
	sp->down.count = &s->bytes_out;
	if (mbox_splice_dir_init(&sp->up, s, cfd, bfd) < 0 ||
	    mbox_splice_dir_init(&sp->down, s, bfd, cfd) < 0) {
		mbox_session_close(s, "out of memory");
		return;
	}
	/* The bufferevents keep their sockets (closed on free) but no
	 * longer watch them. */
	bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	bufferevent_disable(s->backend, EV_READ | EV_WRITE);
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	bufferevent_set_timeouts(s->backend, NULL, NULL);
	s->relay_spliced = true;
	mbox_splice_dir_arm(&sp->up);
	mbox_splice_dir_arm(&sp->down);
}

void
mbox_relay_start(struct mbox_session *s)
{
	uint64_t ms = s->conf->idle_timeout;
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)((ms % 1000) * 1000) };

	s->state = MBOX_RELAY;
	s->logged_in = true;
	mbox_relay_nodelay(s->bev);
	mbox_relay_nodelay(s->backend);
	s->login_ms = mbox_now_ms();
	bufferevent_setcb(s->bev, mbox_relay_read, mbox_relay_drained,
			  mbox_relay_event, s);
	bufferevent_setcb(s->backend, mbox_relay_read, mbox_relay_drained,
			  mbox_relay_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, 0);
	bufferevent_setwatermark(s->backend, EV_READ, 0, 0);
	bufferevent_set_max_single_read(s->bev, RELAY_IO_MAX);
	bufferevent_set_max_single_read(s->backend, RELAY_IO_MAX);
	bufferevent_set_max_single_write(s->bev, RELAY_IO_MAX);
	bufferevent_set_max_single_write(s->backend, RELAY_IO_MAX);
	/* The client is silent in IDLE: its side carries the idle timer;
	 * the backend keeps its own. */
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_set_timeouts(s->backend, NULL, &tv);
	s->splice_pending = s->conf->relay_splice && !s->tls && !s->backend_tls;
	if (s->splice_pending) {
		/* Commands pipelined behind the login, the login's answer
		 * and whatever the backend sent after its OK go out
		 * through the bufferevents first; nothing more is read
		 * into them. */
		mbox_relay_read(s->bev, s);
		mbox_relay_read(s->backend, s);
		bufferevent_disable(s->bev, EV_READ);
		bufferevent_disable(s->backend, EV_READ);
		bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
		bufferevent_setwatermark(s->backend, EV_WRITE, 0, 0);
		bufferevent_enable(s->bev, EV_WRITE);
		bufferevent_enable(s->backend, EV_WRITE);
		if (mbox_relay_flushed(s))
			mbox_splice_start(s);
		return;
	}
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	bufferevent_enable(s->backend, EV_READ | EV_WRITE);
	/* Commands pipelined behind the login, and whatever the backend
	 * sent after its OK, go on now. */
	mbox_relay_read(s->bev, s);
	mbox_relay_read(s->backend, s);
}
