/*
 * proxy.h - the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a TCP load balancer sends before anything
 * else, naming the client it accepted the connection from.
 *
 * A pure parser: pst_proxy_parse() looks at the bytes received so far
 * and says "need more", "done" (with the addresses and the header's
 * length) or "error".  The caller keeps the bytes and calls again with
 * more; nothing is kept between calls.  Thread-safe, no allocation, no
 * logging.
 */
#ifndef PST_PROXY_H
#define PST_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "net.h"

/* Version 1: the longest line, CRLF included (the specification's own
 * worst case, "PROXY UNKNOWN" with two full IPv6 addresses). */
#define PST_PROXY_V1_MAX 107
/* Version 2: 16 fixed bytes, then at most this much of address block
 * and TLVs.  The format allows 65535; real balancers send a few dozen
 * bytes of TLVs, and a header is read before the session starts, so a
 * small bound keeps what an unauthenticated peer can make us hold. */
#define PST_PROXY_V2_MAX_PAYLOAD 1024

enum pst_proxy_status {
	PST_PROXY_ERROR = -1,
	PST_PROXY_MORE = 0, /* a valid start: wait for more bytes */
	PST_PROXY_DONE = 1,
};

struct pst_proxy_header {
	unsigned version; /* 1 or 2 */
	/* No client address to take: v2 LOCAL (the balancer's own health
	 * check), v1 UNKNOWN, v2 UNSPEC or UNIX.  The connection's own
	 * peer stays the client. */
	bool local;
	struct pst_sockaddr src; /* the client (when !local) */
	struct pst_sockaddr dst; /* the address it connected to */
	size_t len;		 /* bytes of the header, to consume */
};

/*
 * Parse the PROXY header at the start of data[0..len).  The version is
 * told by the first byte.  PST_PROXY_DONE: *header_r is filled and
 * header_r->len bytes belong to the header (what follows is the
 * client's).  PST_PROXY_MORE: data is a valid beginning of a header.
 * PST_PROXY_ERROR: *error_r is a static text.  Anything malformed is an
 * error, as soon as it can be seen: a wrong signature, a v1 line past
 * 107 bytes or without CRLF, an address not of its family, a port past
 * 65535, an unknown v2 version, command, family or transport, a v2
 * length past PST_PROXY_V2_MAX_PAYLOAD, an address block or TLV that
 * does not fit.  TLV contents are skipped (not even the CRC32C one is
 * checked: the sender is trusted by configuration, not by checksum).
 */
enum pst_proxy_status pst_proxy_parse(const void *data, size_t len,
				      struct pst_proxy_header *header_r,
				      const char **error_r);

#endif
