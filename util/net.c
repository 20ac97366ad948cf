/*
 * net.c - socket addresses, "host:port" strings and CIDR ranges (see
 * net.h).
 *
 * Numeric addresses only: inet_pton() does the address syntax, so there
 * is no resolver, no /etc and no locale here.  An IPv4-mapped IPv6
 * address (what a dual-stack socket reports for an IPv4 client) is
 * treated as the IPv4 address it carries, both when shown and when
 * matched, and a "::ffff:a.b.c.d/n" range (n >= 96) is stored as the
 * IPv4 range it covers.  Pure functions over caller memory; thread-safe.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

/* Longest textual IPv6 address inet_pton() may accept, without NUL. */
#define ADDR_TEXT_MAX (INET6_ADDRSTRLEN - 1)

static int
parse_port(const char *s, unsigned *port_r)
{
	unsigned port = 0;
	size_t n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		if (n == 5)
			return -1;
		port = port * 10 + (unsigned)(s[n] - '0');
	}
	if (n == 0 || s[n] != '\0' || port == 0 || port > 65535)
		return -1;
	*port_r = port;
	return 0;
}

/* Copy s[0..len) into a NUL-terminated buffer of ADDR_TEXT_MAX + 1. */
static int
copy_addr_text(char *dst, const char *s, size_t len)
{
	if (len == 0 || len > ADDR_TEXT_MAX)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int
pst_net_parse_hostport(const char *s, struct pst_sockaddr *addr_r,
		       const char **error_r)
{
	char host[ADDR_TEXT_MAX + 1];
	const char *colon, *portstr;
	unsigned port;

	memset(addr_r, 0, sizeof(*addr_r));
	if (s == NULL || *s == '\0') {
		*error_r = "empty address";
		return -1;
	}
	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL) {
			*error_r = "missing ']' after IPv6 address";
			return -1;
		}
		if (end[1] != ':') {
			*error_r = "missing port";
			return -1;
		}
		portstr = end + 2;
		if (copy_addr_text(host, s + 1, (size_t)(end - s - 1)) < 0 ||
		    inet_pton(AF_INET6, host, &addr_r->u.sin6.sin6_addr) != 1) {
			*error_r = "invalid IPv6 address";
			return -1;
		}
		addr_r->u.sin6.sin6_family = AF_INET6;
		addr_r->len = sizeof(addr_r->u.sin6);
	} else {
		colon = strchr(s, ':');
		if (colon == NULL) {
			*error_r = "missing port";
			return -1;
		}
		if (strchr(colon + 1, ':') != NULL) {
			*error_r = "an IPv6 address must be in brackets";
			return -1;
		}
		portstr = colon + 1;
		if (colon - s == 1 && s[0] == '*') {
			addr_r->u.sin.sin_addr.s_addr = htonl(INADDR_ANY);
		} else if (copy_addr_text(host, s, (size_t)(colon - s)) < 0 ||
			   inet_pton(AF_INET, host, &addr_r->u.sin.sin_addr) !=
				   1) {
			*error_r = "invalid IPv4 address";
			return -1;
		}
		addr_r->u.sin.sin_family = AF_INET;
		addr_r->len = sizeof(addr_r->u.sin);
	}
	if (*portstr == '\0') {
		*error_r = "missing port";
		memset(addr_r, 0, sizeof(*addr_r));
		return -1;
	}
	if (parse_port(portstr, &port) < 0) {
		*error_r = "invalid port (1-65535)";
		memset(addr_r, 0, sizeof(*addr_r));
		return -1;
	}
	if (addr_r->u.sa.sa_family == AF_INET)
		addr_r->u.sin.sin_port = htons((uint16_t)port);
	else
		addr_r->u.sin6.sin6_port = htons((uint16_t)port);
	return 0;
}

/* The IPv4 address inside a v4-mapped sin6, or NULL. */
static const struct in_addr *
mapped_v4(const struct sockaddr_in6 *sin6)
{
	if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return NULL;
	return (const struct in_addr *)(const void *)&sin6->sin6_addr
		.s6_addr[12];
}

/* Text of the address into tmp; true when it is (shown as) IPv4. */
static bool
addr_text(const struct sockaddr *sa, char *tmp, size_t size)
{
	const struct sockaddr_in6 *sin6;
	const struct in_addr *v4;

	switch (sa != NULL ? sa->sa_family : AF_UNSPEC) {
	case AF_INET:
		if (inet_ntop(AF_INET,
			      &((const struct sockaddr_in *)(const void *)sa)
				       ->sin_addr,
			      tmp, (socklen_t)size) == NULL)
			break;
		return true;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		v4 = mapped_v4(sin6);
		if (v4 != NULL) {
			if (inet_ntop(AF_INET, v4, tmp, (socklen_t)size) ==
			    NULL)
				break;
			return true;
		}
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, tmp,
			      (socklen_t)size) == NULL)
			break;
		return false;
	case AF_UNIX:
		snprintf(tmp, size, "unix");
		return true;
	default:
		break;
	}
	snprintf(tmp, size, "unknown");
	return true;
}

char *
pst_net_addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char tmp[PST_NET_ADDRSTRLEN];

	if (size == 0)
		return buf;
	addr_text(sa, tmp, sizeof(tmp));
	snprintf(buf, size, "%s", tmp);
	return buf;
}

char *
pst_net_hostport_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char tmp[PST_NET_ADDRSTRLEN];
	bool v4;

	if (size == 0)
		return buf;
	v4 = addr_text(sa, tmp, sizeof(tmp));
	if (sa == NULL ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		snprintf(buf, size, "%s", tmp);
	else if (v4)
		snprintf(buf, size, "%s:%u", tmp, pst_net_port(sa));
	else
		snprintf(buf, size, "[%s]:%u", tmp, pst_net_port(sa));
	return buf;
}

unsigned
pst_net_port(const struct sockaddr *sa)
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)
				     ->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
				     ->sin6_port);
	return 0;
}

/* Do the first prefix bits of a and b agree? */
static bool
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

static bool
host_bits_clear(const uint8_t *addr, unsigned alen, unsigned prefix)
{
	for (unsigned bit = prefix; bit < alen * 8; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

int
pst_cidr_parse(const char *s, struct pst_cidr *cidr_r, const char **error_r)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0,	0,
					      0, 0, 0, 0, 0xff, 0xff };
	char host[ADDR_TEXT_MAX + 1];
	const char *slash;
	size_t hlen;
	unsigned prefix = 0, max, alen;

	memset(cidr_r, 0, sizeof(*cidr_r));
	if (s == NULL || *s == '\0') {
		*error_r = "empty network";
		return -1;
	}
	slash = strchr(s, '/');
	hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (copy_addr_text(host, s, hlen) < 0) {
		*error_r = "invalid network address";
		return -1;
	}
	if (strchr(host, ':') != NULL) {
		if (inet_pton(AF_INET6, host, cidr_r->addr) != 1) {
			*error_r = "invalid IPv6 network address";
			return -1;
		}
		cidr_r->family = AF_INET6;
		alen = 16;
	} else {
		if (inet_pton(AF_INET, host, cidr_r->addr) != 1) {
			*error_r = "invalid IPv4 network address";
			return -1;
		}
		cidr_r->family = AF_INET;
		alen = 4;
	}
	max = alen * 8;
	if (slash == NULL) {
		prefix = max;
	} else {
		const char *p = slash + 1;
		size_t n;

		for (n = 0; p[n] >= '0' && p[n] <= '9'; n++) {
			if (n == 3)
				break;
			prefix = prefix * 10 + (unsigned)(p[n] - '0');
		}
		if (n == 0 || p[n] != '\0' || prefix > max) {
			*error_r = "invalid prefix length";
			memset(cidr_r, 0, sizeof(*cidr_r));
			return -1;
		}
	}
	if (!host_bits_clear(cidr_r->addr, alen, prefix)) {
		*error_r = "host bits set below the prefix length";
		memset(cidr_r, 0, sizeof(*cidr_r));
		return -1;
	}
	cidr_r->prefix = prefix;
	if (cidr_r->family == AF_INET6 && prefix >= 96 &&
	    memcmp(cidr_r->addr, v4mapped, 12) == 0) {
		/* ::ffff:192.0.2.0/120 is 192.0.2.0/24 */
		memmove(cidr_r->addr, cidr_r->addr + 12, 4);
		memset(cidr_r->addr + 4, 0, 12);
		cidr_r->family = AF_INET;
		cidr_r->prefix = prefix - 96;
	}
	return 0;
}

bool
pst_cidr_match(const struct pst_cidr *cidr, const struct sockaddr *sa)
{
	const uint8_t *addr;
	int family;

	if (cidr == NULL || sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		addr = (const uint8_t *)&(
			       (const struct sockaddr_in *)(const void *)sa)
			       ->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)(const void *)sa;
		const struct in_addr *v4 = mapped_v4(sin6);

		family = v4 != NULL ? AF_INET : AF_INET6;
		addr = v4 != NULL ? (const uint8_t *)v4
				  : sin6->sin6_addr.s6_addr;
	} else {
		return false;
	}
	if (family != cidr->family)
		return false;
	if (cidr->prefix > (family == AF_INET ? 32u : 128u))
		return false;
	return prefix_equal(addr, cidr->addr, cidr->prefix);
}

bool
pst_cidr_list_match(const struct pst_cidr *list, unsigned n,
		    const struct sockaddr *sa)
{
	for (unsigned i = 0; i < n; i++)
		if (pst_cidr_match(&list[i], sa))
			return true;
	return false;
}

int
pst_net_listen(const struct pst_sockaddr *addr, int backlog,
	       const char **error_r)
{
	int one = 1;
	int fd = socket(addr->u.sa.sa_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (addr->u.sa.sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) <
		     0) ||
	    bind(fd, &addr->u.sa, addr->len) < 0 || listen(fd, backlog) < 0) {
		*error_r = strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}
