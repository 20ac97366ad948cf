/*
 * mbox_login.c - from the client's credentials to a logged-in relay or a
 * failure answer: the brute-force guard, backend selection, and the log
 * lines (one per failure, in a shape fail2ban can match:
 *   postern/imap[812]: authentication failed: user=<alice>,
 *   method=LOGIN, rip=192.0.2.7, rport=51234, failures=3/1
 * with the "rip=" address to ban).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "mbox_int.h"
#include "server.h"

/* Carry on reading the client: from the loop, never from inside the
 * reader that may have called us. */
static void
mbox_resume(struct mbox_session *s)
{
	s->state = MBOX_CMD;
	s->user[0] = '\0';
	mbox_forget_credentials(s);
	mbox_set_client_timeout(s, s->conf->login_timeout);
	bufferevent_enable(s->bev, EV_READ);
	bufferevent_trigger(s->bev, EV_READ,
			    BEV_TRIG_IGNORE_WATERMARKS |
				    BEV_TRIG_DEFER_CALLBACKS);
}

static const char *
mbox_safe_user(const struct mbox_session *s, char *buf, unsigned size)
{
	return pst_log_sanitize(buf, size, s->user, (unsigned)s->user_len);
}

void
mbox_login_start(struct mbox_session *s)
{
	char user[4 * SASL_PLAIN_MAX_FIELD + 1];
	unsigned retry = 0;

	bufferevent_disable(s->bev, EV_READ);
	s->state = MBOX_LOGIN;
	if (mbox_guard_locked(s->guard, &s->peer.u.sa, s->user, mbox_now_ms(),
			      &retry)) {
		pst_log(PST_LOG_WARNING, s->ops->name,
			"login refused, locked out: user=<%s>, method=%s, "
			"rip=%s, rport=%u, retry=%us",
			mbox_safe_user(s, user, sizeof(user)), s->method,
			s->addr, s->port, retry);
		s->ops->login_reply(s, MBOX_LOGIN_LOCKED, retry);
		mbox_resume(s);
		return;
	}
	s->be = mbox_settings_backend(s->conf, s->user);
	if (s->be == NULL) {
		/* Said as a failure: whether a user has a backend is no
		 * business of the client's. */
		pst_log(PST_LOG_WARNING, s->ops->name,
			"no backend for user=<%s>, rip=%s",
			mbox_safe_user(s, user, sizeof(user)), s->addr);
		mbox_login_done(s, MBOX_LOGIN_FAILED, "", 0);
		return;
	}
	s->bstate = 0;
	if (mbox_backend_connect(s) < 0)
		mbox_login_done(s, MBOX_LOGIN_UNAVAILABLE, "", 0);
}

static void
mbox_delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct mbox_session *s = arg;

	(void)fd;
	(void)what;
	s->ops->login_reply(s, s->pending, s->pending_retry);
	mbox_resume(s);
}

void
mbox_login_done(struct mbox_session *s, enum mbox_login_result result,
		const char *text, size_t len)
{
	char user[4 * SASL_PLAIN_MAX_FIELD + 1], why[300];
	char be[PST_NET_ADDRSTRLEN + 8] = "none";
	struct mbox_guard_count count;
	struct timeval tv;

	if (s->be != NULL)
		pst_net_hostport_str(&s->be->addr.u.sa, be, sizeof(be));
	pst_log_sanitize(why, sizeof(why), text,
			 (unsigned)(len < 200 ? len : 200));
	mbox_safe_user(s, user, sizeof(user));
	if (result == MBOX_LOGIN_OK) {
		pst_buf_reset(&s->ok_text);
		if (pst_buf_append(&s->ok_text, text, len) < 0)
			pst_buf_reset(&s->ok_text);
		mbox_guard_success(s->guard, s->user);
		pst_log(PST_LOG_INFO, s->ops->name,
			"login: user=<%s>, method=%s, rip=%s, rport=%u, "
			"backend=%s[%s], tls=%s, backend_tls=%s, session=%s",
			user, s->method, s->addr, s->port, s->be->name, be,
			s->tls ? "yes" : "no", s->backend_tls ? "yes" : "no",
			s->session_id);
		s->ops->login_reply(s, MBOX_LOGIN_OK, 0);
		mbox_forget_credentials(s);
		mbox_relay_start(s);
		return;
	}
	mbox_backend_free(s);
	if (result != MBOX_LOGIN_FAILED) {
		pst_log(PST_LOG_WARNING, s->ops->name,
			"login failed, backend %s[%s] unavailable: user=<%s>, "
			"rip=%s (%s)",
			s->be ? s->be->name : "-", be, user, s->addr,
			why[0] ? why : "no answer");
		s->ops->login_reply(s, result, 0);
		mbox_resume(s);
		return;
	}
	mbox_guard_fail(s->guard, &s->peer.u.sa, s->user, mbox_now_ms(),
			&count);
	/* The line fail2ban reads: one per failure, the address as rip=. */
	pst_log(PST_LOG_WARNING, s->ops->name,
		"authentication failed: user=<%s>, method=%s, rip=%s, "
		"rport=%u, failures=%u/%u",
		user, s->method, s->addr, s->port, count.ip, count.user);
	if (count.locked)
		pst_log(PST_LOG_WARNING, s->ops->name,
			"lockout: rip=%s, user=<%s>, for %llus", s->addr, user,
			(unsigned long long)(s->conf->guard.lockout / 1000));
	s->pending = MBOX_LOGIN_FAILED;
	s->pending_retry = 0;
	if (count.delay_ms == 0) {
		s->ops->login_reply(s, MBOX_LOGIN_FAILED, 0);
		mbox_resume(s);
		return;
	}
	if (s->timer == NULL)
		s->timer = evtimer_new(s->mw->worker->base, mbox_delay_done, s);
	if (s->timer == NULL) {
		s->ops->login_reply(s, MBOX_LOGIN_FAILED, 0);
		mbox_resume(s);
		return;
	}
	s->state = MBOX_DELAY;
	tv.tv_sec = (time_t)(count.delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(count.delay_ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);
}
