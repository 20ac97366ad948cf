/*
 * net.h - socket addresses, "host:port" listen strings and CIDR ranges.
 *
 * Pure functions over caller-owned memory; thread-safe.  No DNS: every
 * host here is a numeric address.
 */
#ifndef PST_NET_H
#define PST_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct pst_sockaddr {
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
};

/* Longest text pst_net_addr_str() produces, with NUL. */
#define PST_NET_ADDRSTRLEN 64

/* Parse "192.0.2.1:25", "[2001:db8::1]:25", "*:25" (IPv4 any) or
 * "[::]:25".  0, or -1 with *error_r set to a static message. */
int pst_net_parse_hostport(const char *s, struct pst_sockaddr *addr_r,
			   const char **error_r);

/* "192.0.2.7" or "2001:db8::7" (a v4-mapped IPv6 address is shown as
 * IPv4).  Returns buf. */
/* A listening TCP socket on addr, non-blocking, close-on-exec,
 * SO_REUSEPORT (so that every event loop can have its own), IPv6
 * sockets IPv6-only.  The fd, or -1 with *error_r (strerror). */
int pst_net_listen(const struct pst_sockaddr *addr, int backlog,
		   const char **error_r);

char *pst_net_addr_str(const struct sockaddr *sa, char *buf, size_t size);
/* "192.0.2.7:25" or "[2001:db8::7]:25".  Returns buf. */
char *pst_net_hostport_str(const struct sockaddr *sa, char *buf, size_t size);
unsigned pst_net_port(const struct sockaddr *sa);

struct pst_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

/* Parse "192.0.2.0/24", "2001:db8::/32" or a bare address (a host
 * route).  Host bits set below the prefix are an error, so that a typo
 * like 10.0.0.1/8 is not silently widened. */
int pst_cidr_parse(const char *s, struct pst_cidr *cidr_r,
		   const char **error_r);
/* Does sa fall in cidr?  IPv4-mapped IPv6 addresses match IPv4 ranges. */
bool pst_cidr_match(const struct pst_cidr *cidr, const struct sockaddr *sa);
bool pst_cidr_list_match(const struct pst_cidr *list, unsigned n,
			 const struct sockaddr *sa);

#endif
