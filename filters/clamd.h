/*
 * clamd.h - a client for ClamAV's daemon: the message streamed with
 * INSTREAM over TCP or a unix socket, the verdict parsed.
 *
 * The protocol (clamd(8)): "zINSTREAM\0", then chunks, each a 4-byte
 * length in network order and the bytes, then a zero length; clamd
 * answers one NUL-terminated line: "stream: OK", "stream: NAME FOUND",
 * or "... ERROR" (e.g. "INSTREAM size limit exceeded. ERROR" once more
 * than its StreamMaxLength arrived).  Addresses are numeric (or
 * "localhost"): nothing here asks the system resolver.
 *
 * Blocking, with deadlines on connect and on the whole exchange: call
 * it from a filter thread, never from an event loop.  Thread-safe (no
 * shared state).  Nothing here logs.
 */
#ifndef FILTERS_CLAMD_H
#define FILTERS_CLAMD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Bytes per INSTREAM chunk. */
#define CLAMD_CHUNK (64 * 1024)
/* Longest reply line kept. */
#define CLAMD_REPLY_MAX 1024

struct clamd_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[128]; /* as configured, for messages */
};

/* "127.0.0.1:3310", "[::1]:3310", "localhost:3310", or an absolute
 * path to a unix socket.  0, or -1 with *error_r. */
int clamd_addr_parse(const char *s, struct clamd_addr *a, const char **error_r);

enum clamd_status {
	CLAMD_CLEAN,
	CLAMD_INFECTED,
	CLAMD_ERROR,
};

struct clamd_result {
	enum clamd_status status;
	char virus[256]; /* INFECTED: the signature's name */
	char error[256]; /* ERROR: what went wrong */
};

/* Parse one reply line (without its NUL) into *r. */
void clamd_reply_parse(const char *reply, size_t len, struct clamd_result *r);

/* Read up to len bytes of what is scanned at offset (pread shape). */
typedef ssize_t clamd_read_fn(void *ctx, void *buf, size_t len,
			      uint64_t offset);

struct clamd_timeouts {
	uint64_t connect_ms;
	uint64_t io_ms; /* for the whole exchange after connecting */
};

/*
 * Scan size bytes read through read(ctx) with clamd at a.  The outcome
 * is in *r: CLAMD_ERROR for a connection that fails or times out, an
 * unreadable input, a malformed or missing reply, or clamd's own error.
 */
void clamd_scan(const struct clamd_addr *a, const struct clamd_timeouts *to,
		clamd_read_fn *read, void *ctx, uint64_t size,
		struct clamd_result *r);

#endif
