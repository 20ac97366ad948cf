/*
 * conn_limits.h - connection counts in total and per client address, shared
 * by every event loop of posternd.  Thread-safe (one mutex; the critical
 * sections are a hash lookup).
 */
#ifndef GATEWAY_CONN_LIMITS_H
#define GATEWAY_CONN_LIMITS_H

#include <sys/socket.h>

enum limits_verdict {
	LIMITS_OK,
	LIMITS_TOO_MANY_TOTAL,
	LIMITS_TOO_MANY_FROM_IP,
};

struct limits;

struct limits *limits_new(unsigned max_total, unsigned max_per_ip);
void limits_free(struct limits **limits_p);

/* Count a new connection from sa; anything but LIMITS_OK means it was
 * not counted and must be refused. */
enum limits_verdict limits_enter(struct limits *limits,
				 const struct sockaddr *sa);
/* The connection from sa (counted by limits_enter) has gone. */
void limits_leave(struct limits *limits, const struct sockaddr *sa);

#endif
