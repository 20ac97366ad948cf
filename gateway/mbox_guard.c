/*
 * mbox_guard.c - failed-login counting and lockout (see mbox_guard.h).
 *
 * Keys are "i" + 16 address bytes (IPv4 as v4-mapped) or "u" + the user
 * name folded to lower case, hashed with a per-process seed.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "mbox_guard.h"

#define GUARD_BUCKETS 4096
#define GUARD_KEY_MAX 258

struct guard_entry {
	struct guard_entry *next;
	unsigned failures;
	uint64_t last_ms;	  /* last failure */
	uint64_t locked_until_ms; /* 0: not locked */
	size_t keylen;
	char key[]; /* keylen bytes */
};

struct mbox_guard {
	pthread_mutex_t lock;
	struct mbox_guard_settings conf;
	uint32_t seed;
	size_t nentries;
	struct guard_entry *buckets[GUARD_BUCKETS];
};

struct mbox_guard *
mbox_guard_new(const struct mbox_guard_settings *conf)
{
	struct mbox_guard *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	g->conf = *conf;
	g->seed = (uint32_t)random();
	return g;
}

void
mbox_guard_free(struct mbox_guard **guard_p)
{
	struct mbox_guard *g = *guard_p;

	if (g == NULL)
		return;
	*guard_p = NULL;
	for (size_t i = 0; i < GUARD_BUCKETS; i++) {
		while (g->buckets[i] != NULL) {
			struct guard_entry *e = g->buckets[i];

			g->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static size_t
guard_ip_key(const struct sockaddr *sa, char key[GUARD_KEY_MAX])
{
	memset(key, 0, 17);
	key[0] = 'i';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		key[11] = key[12] = (char)0xff;
		memcpy(key + 13, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		memcpy(key + 1, &sin6->sin6_addr, 16);
	}
	return 17;
}

static size_t
guard_user_key(const char *user, char key[GUARD_KEY_MAX])
{
	size_t n = 1;

	key[0] = 'u';
	for (; *user != '\0' && n < GUARD_KEY_MAX; user++)
		key[n++] = (*user >= 'A' && *user <= 'Z') ? (char)(*user | 0x20)
							  : *user;
	return n;
}

static size_t
guard_hash(const struct mbox_guard *g, const char *key, size_t len)
{
	uint32_t h = 2166136261u ^ g->seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h % GUARD_BUCKETS;
}

static bool
guard_expired(const struct mbox_guard *g, const struct guard_entry *e,
	      uint64_t now)
{
	return e->locked_until_ms <= now && now - e->last_ms >= g->conf.lockout;
}

/* The entry for key, NULL if none; drops expired entries on the way. */
static struct guard_entry *
guard_find(struct mbox_guard *g, const char *key, size_t len, uint64_t now,
	   bool create)
{
	struct guard_entry **ep = &g->buckets[guard_hash(g, key, len)], *e;

	while ((e = *ep) != NULL) {
		if (guard_expired(g, e, now)) {
			*ep = e->next;
			free(e);
			g->nentries--;
			continue;
		}
		if (e->keylen == len && memcmp(e->key, key, len) == 0)
			return e;
		ep = &e->next;
	}
	if (!create || g->nentries >= MBOX_GUARD_MAX_ENTRIES)
		return NULL;
	e = calloc(1, sizeof(*e) + len);
	if (e == NULL)
		return NULL;
	memcpy(e->key, key, len);
	e->keylen = len;
	e->next = *ep;
	*ep = e;
	g->nentries++;
	return e;
}

static bool
guard_entry_locked(const struct guard_entry *e, uint64_t now, unsigned *retry_r)
{
	if (e == NULL || e->locked_until_ms <= now)
		return false;
	*retry_r = (unsigned)((e->locked_until_ms - now + 999) / 1000);
	return true;
}

bool
mbox_guard_locked(struct mbox_guard *g, const struct sockaddr *sa,
		  const char *user, uint64_t now, unsigned *retry_r)
{
	char key[GUARD_KEY_MAX];
	bool locked;
	size_t n;

	pthread_mutex_lock(&g->lock);
	n = guard_ip_key(sa, key);
	locked = guard_entry_locked(guard_find(g, key, n, now, false), now,
				    retry_r);
	if (!locked && user != NULL) {
		n = guard_user_key(user, key);
		locked = guard_entry_locked(guard_find(g, key, n, now, false),
					    now, retry_r);
	}
	pthread_mutex_unlock(&g->lock);
	return locked;
}

/* One more failure on e; true when it starts a lockout. */
static bool
guard_count(struct mbox_guard *g, struct guard_entry *e, uint64_t max,
	    uint64_t now, unsigned *count_r)
{
	if (e == NULL) {
		*count_r = 0;
		return false;
	}
	if (e->locked_until_ms != 0 && e->locked_until_ms <= now) {
		/* A lockout ended: start counting again. */
		e->failures = 0;
		e->locked_until_ms = 0;
	}
	e->failures++;
	e->last_ms = now;
	*count_r = e->failures;
	if (e->failures >= max && e->locked_until_ms == 0) {
		e->locked_until_ms = now + g->conf.lockout;
		return true;
	}
	return false;
}

void
mbox_guard_fail(struct mbox_guard *g, const struct sockaddr *sa,
		const char *user, uint64_t now, struct mbox_guard_count *c)
{
	char key[GUARD_KEY_MAX];
	unsigned most;
	size_t n;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&g->lock);
	n = guard_ip_key(sa, key);
	c->locked = guard_count(g, guard_find(g, key, n, now, true),
				g->conf.max_failures_ip, now, &c->ip);
	if (user != NULL && user[0] != '\0') {
		n = guard_user_key(user, key);
		if (guard_count(g, guard_find(g, key, n, now, true),
				g->conf.max_failures_user, now, &c->user))
			c->locked = true;
	}
	pthread_mutex_unlock(&g->lock);
	most = c->ip > c->user ? c->ip : c->user;
	c->delay_ms = g->conf.delay;
	for (unsigned i = 1; i < most && c->delay_ms < g->conf.max_delay; i++)
		c->delay_ms *= 2;
	if (c->delay_ms > g->conf.max_delay)
		c->delay_ms = g->conf.max_delay;
}

void
mbox_guard_success(struct mbox_guard *g, const char *user)
{
	char key[GUARD_KEY_MAX];
	struct guard_entry **ep, *e;
	size_t n;

	n = guard_user_key(user, key);
	pthread_mutex_lock(&g->lock);
	ep = &g->buckets[guard_hash(g, key, n)];
	while ((e = *ep) != NULL) {
		if (e->keylen == n && memcmp(e->key, key, n) == 0 &&
		    e->locked_until_ms == 0) {
			*ep = e->next;
			free(e);
			g->nentries--;
			break;
		}
		ep = &e->next;
	}
	pthread_mutex_unlock(&g->lock);
}
