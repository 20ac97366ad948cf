/*
 * mbox_guard.h - brute-force protection for IMAP and POP3 logins:
 * failed logins counted per client address and per user name, a delay
 * that doubles with each failure, and a temporary lockout once either
 * count reaches its limit.
 *
 * One guard per protocol, shared by every event loop: thread-safe (one
 * mutex around a hash lookup).  Memory is bounded: entries expire after
 * guard.lockout without failures, and at most MBOX_GUARD_MAX_ENTRIES are
 * kept (past that, new names are not tracked but addresses still are
 * checked against the entries that exist).
 */
#ifndef GATEWAY_MBOX_GUARD_H
#define GATEWAY_MBOX_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mbox_settings.h"

#define MBOX_GUARD_MAX_ENTRIES 100000

struct mbox_guard;

struct mbox_guard *mbox_guard_new(const struct mbox_guard_settings *conf);
void mbox_guard_free(struct mbox_guard **guard_p);

/* Is the address or the user locked out at now_ms?  When so, the
 * seconds left go to *retry_r. */
bool mbox_guard_locked(struct mbox_guard *g, const struct sockaddr *sa,
		       const char *user, uint64_t now_ms, unsigned *retry_r);

struct mbox_guard_count {
	unsigned ip, user; /* failures counted so far, this one included */
	uint64_t delay_ms; /* hold the failure answer this long */
	bool locked;	   /* this failure started a lockout */
};

/* Count a failed login. */
void mbox_guard_fail(struct mbox_guard *g, const struct sockaddr *sa,
		     const char *user, uint64_t now_ms,
		     struct mbox_guard_count *count_r);
/* A successful login forgets the user's failures. */
void mbox_guard_success(struct mbox_guard *g, const char *user);

#endif
