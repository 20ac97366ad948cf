/*
 * limits.c - connection counts in total and per client address (see
 * limits.h).
 *
 * Addresses are keyed as 16 bytes (IPv4 as v4-mapped IPv6, so a client
 * cannot double its quota by using both forms).  A chained hash table of
 * fixed size: entries exist only while the address has connections, so
 * the table holds at most max_total entries.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "conn_limits.h"

#define LIMITS_BUCKETS 4096

struct limits_entry {
	struct limits_entry *next;
	uint8_t addr[16];
	unsigned count;
};

struct limits {
	pthread_mutex_t lock;
	unsigned max_total;
	unsigned max_per_ip;
	unsigned total;
	uint32_t seed;
	struct limits_entry *buckets[LIMITS_BUCKETS];
};

struct limits *
limits_new(unsigned max_total, unsigned max_per_ip)
{
	struct limits *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	pthread_mutex_init(&l->lock, NULL);
	l->max_total = max_total;
	l->max_per_ip = max_per_ip;
	l->seed = (uint32_t)random();
	return l;
}

void
limits_free(struct limits **limits_p)
{
	struct limits *l = *limits_p;

	if (l == NULL)
		return;
	*limits_p = NULL;
	for (size_t i = 0; i < LIMITS_BUCKETS; i++) {
		while (l->buckets[i] != NULL) {
			struct limits_entry *e = l->buckets[i];

			l->buckets[i] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static void
limits_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		memcpy(key, &sin6->sin6_addr, 16);
	}
}

/* FNV-1a with a per-process seed, so bucket placement is not predictable
 * by a client choosing its addresses. */
static size_t
limits_hash(const struct limits *l, const uint8_t key[16])
{
	uint32_t h = 2166136261u ^ l->seed;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % LIMITS_BUCKETS;
}

static struct limits_entry **
limits_find(struct limits *l, const uint8_t key[16])
{
	struct limits_entry **ep = &l->buckets[limits_hash(l, key)];

	while (*ep != NULL && memcmp((*ep)->addr, key, 16) != 0)
		ep = &(*ep)->next;
	return ep;
}

enum limits_verdict
limits_enter(struct limits *l, const struct sockaddr *sa)
{
	enum limits_verdict verdict = LIMITS_OK;
	struct limits_entry **ep, *e;
	uint8_t key[16];

	limits_key(sa, key);
	pthread_mutex_lock(&l->lock);
	ep = limits_find(l, key);
	e = *ep;
	if (l->total >= l->max_total) {
		verdict = LIMITS_TOO_MANY_TOTAL;
	} else if (e != NULL && e->count >= l->max_per_ip) {
		verdict = LIMITS_TOO_MANY_FROM_IP;
	} else if (e == NULL && (e = calloc(1, sizeof(*e))) == NULL) {
		verdict = LIMITS_TOO_MANY_TOTAL; /* out of memory: refuse */
	} else {
		if (e->count == 0) {
			memcpy(e->addr, key, 16);
			e->next = *ep;
			*ep = e;
		}
		e->count++;
		l->total++;
	}
	pthread_mutex_unlock(&l->lock);
	return verdict;
}

void
limits_leave(struct limits *l, const struct sockaddr *sa)
{
	struct limits_entry **ep, *e;
	uint8_t key[16];

	limits_key(sa, key);
	pthread_mutex_lock(&l->lock);
	ep = limits_find(l, key);
	e = *ep;
	if (e != NULL) {
		l->total--;
		if (--e->count == 0) {
			*ep = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&l->lock);
}
