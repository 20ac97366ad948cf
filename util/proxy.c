/*
 * proxy.c - PROXY protocol v1 and v2 headers (see proxy.h).
 *
 * Every length is checked before the bytes it covers are read; the
 * only loop over input (v2 TLVs) consumes at least three bytes per step
 * of a payload bounded by PST_PROXY_V2_MAX_PAYLOAD.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "proxy.h"

static const char v1_prefix[] = "PROXY ";
#define V1_PREFIX_LEN (sizeof(v1_prefix) - 1)

static const unsigned char v2_sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
#define V2_FIXED 16

/* v2 byte 13: version (high nibble) and command (low nibble) */
#define V2_VERSION 0x20
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
/* v2 byte 14: address family and transport, the values the
 * specification defines (anything else must be rejected) */
#define V2_UNSPEC 0x00
#define V2_TCP4 0x11
#define V2_UDP4 0x12
#define V2_TCP6 0x21
#define V2_UDP6 0x22
#define V2_UNIX_STREAM 0x31
#define V2_UNIX_DGRAM 0x32
/* address block sizes */
#define V2_INET_LEN 12
#define V2_INET6_LEN 36
#define V2_UNIX_LEN 216

static enum pst_proxy_status
fail(const char **error_r, const char *error)
{
	*error_r = error;
	return PST_PROXY_ERROR;
}

/* ---- version 1 ---- */

/* A decimal port: 1 to 5 digits without a leading zero, <= 65535. */
static int
v1_port(const char *s, size_t len, unsigned *port_r)
{
	unsigned port = 0;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		port = port * 10 + (unsigned)(s[i] - '0');
	}
	if (port > 65535)
		return -1;
	*port_r = port;
	return 0;
}

/* A numeric address of family into sa (port 0). */
static int
v1_addr(int family, const char *s, size_t len, struct pst_sockaddr *sa)
{
	char text[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(text) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		sa->u.sin.sin_family = AF_INET;
		sa->len = sizeof(sa->u.sin);
		return inet_pton(AF_INET, text, &sa->u.sin.sin_addr) == 1 ? 0
									  : -1;
	}
	sa->u.sin6.sin6_family = AF_INET6;
	sa->len = sizeof(sa->u.sin6);
	return inet_pton(AF_INET6, text, &sa->u.sin6.sin6_addr) == 1 ? 0 : -1;
}

static void
set_port(struct pst_sockaddr *sa, unsigned port)
{
	if (sa->u.sa.sa_family == AF_INET)
		sa->u.sin.sin_port = htons((uint16_t)port);
	else
		sa->u.sin6.sin6_port = htons((uint16_t)port);
}

/* Split off the next field of line[*pos..len): the text up to one
 * space (which must be there when more is wanted) or the end. */
static int
v1_field(const char *line, size_t len, size_t *pos, bool last,
	 const char **field_r, size_t *field_len_r)
{
	size_t start = *pos, i = start;

	while (i < len && line[i] != ' ')
		i++;
	if (i == start)
		return -1; /* empty: two spaces, or nothing left */
	*field_r = line + start;
	*field_len_r = i - start;
	if (last) {
		if (i != len)
			return -1; /* something after the last field */
		*pos = i;
		return 0;
	}
	if (i == len)
		return -1; /* a field missing */
	*pos = i + 1;
	return 0;
}

/* The complete line, without its CRLF. */
static enum pst_proxy_status
v1_line(const char *line, size_t len, struct pst_proxy_header *h,
	const char **error_r)
{
	const char *f[5];
	size_t flen[5], pos = V1_PREFIX_LEN, end = V1_PREFIX_LEN;
	unsigned sport, dport;
	int family;

	while (end < len && line[end] != ' ')
		end++;
	f[0] = line + pos;
	flen[0] = end - pos;
	if (flen[0] == 7 && memcmp(f[0], "UNKNOWN", 7) == 0) {
		/* The rest of the line must be ignored. */
		h->local = true;
		return PST_PROXY_DONE;
	}
	if (flen[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
		family = AF_INET;
	else if (flen[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return fail(error_r, "PROXY v1: unknown protocol");
	pos = end + 1;
	for (int i = 1; i < 5; i++)
		if (pos > len ||
		    v1_field(line, len, &pos, i == 4, &f[i], &flen[i]) < 0)
			return fail(error_r, "PROXY v1: want \"PROXY TCP4|TCP6 "
					     "SRC DST SPORT DPORT\"");
	if (v1_addr(family, f[1], flen[1], &h->src) < 0 ||
	    v1_addr(family, f[2], flen[2], &h->dst) < 0)
		return fail(error_r, family == AF_INET
					     ? "PROXY v1: bad IPv4 address"
					     : "PROXY v1: bad IPv6 address");
	if (v1_port(f[3], flen[3], &sport) < 0 ||
	    v1_port(f[4], flen[4], &dport) < 0)
		return fail(error_r, "PROXY v1: bad port");
	set_port(&h->src, sport);
	set_port(&h->dst, dport);
	return PST_PROXY_DONE;
}

static enum pst_proxy_status
v1_parse(const char *p, size_t len, struct pst_proxy_header *h,
	 const char **error_r)
{
	size_t n = len < PST_PROXY_V1_MAX ? len : PST_PROXY_V1_MAX;

	if (memcmp(p, v1_prefix, len < V1_PREFIX_LEN ? len : V1_PREFIX_LEN))
		return fail(error_r, "not a PROXY header");
	/* Look for the line's end only within the first 107 bytes; a CR
	 * must be followed by LF and an LF preceded by CR, so a stray
	 * one is an error at once, not after a timeout. */
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < len && p[i + 1] != '\n')
			return fail(error_r, "PROXY v1: CR without LF");
		if (p[i] != '\n')
			continue;
		if (i == 0 || p[i - 1] != '\r')
			return fail(error_r, "PROXY v1: LF without CR");
		if (i - 1 < V1_PREFIX_LEN)
			return fail(error_r, "not a PROXY header");
		h->version = 1;
		h->len = i + 1;
		return v1_line(p, i - 1, h, error_r);
	}
	if (len >= PST_PROXY_V1_MAX)
		return fail(error_r, "PROXY v1: line longer than 107 bytes");
	return PST_PROXY_MORE;
}

/* ---- version 2 ---- */

static void
v2_inet(const unsigned char *b, struct pst_proxy_header *h)
{
	h->src.u.sin.sin_family = AF_INET;
	h->dst.u.sin.sin_family = AF_INET;
	h->src.len = h->dst.len = sizeof(struct sockaddr_in);
	memcpy(&h->src.u.sin.sin_addr, b, 4);
	memcpy(&h->dst.u.sin.sin_addr, b + 4, 4);
	/* ports are in network order already */
	memcpy(&h->src.u.sin.sin_port, b + 8, 2);
	memcpy(&h->dst.u.sin.sin_port, b + 10, 2);
}

static void
v2_inet6(const unsigned char *b, struct pst_proxy_header *h)
{
	h->src.u.sin6.sin6_family = AF_INET6;
	h->dst.u.sin6.sin6_family = AF_INET6;
	h->src.len = h->dst.len = sizeof(struct sockaddr_in6);
	memcpy(&h->src.u.sin6.sin6_addr, b, 16);
	memcpy(&h->dst.u.sin6.sin6_addr, b + 16, 16);
	memcpy(&h->src.u.sin6.sin6_port, b + 32, 2);
	memcpy(&h->dst.u.sin6.sin6_port, b + 34, 2);
}

/* TLVs fill tlv[0..len) exactly: type, 16-bit length, value. */
static int
v2_tlvs(const unsigned char *tlv, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		size_t vlen;

		if (len - pos < 3)
			return -1;
		vlen = (size_t)tlv[pos + 1] << 8 | tlv[pos + 2];
		if (len - pos - 3 < vlen)
			return -1;
		pos += 3 + vlen;
	}
	return 0;
}

static enum pst_proxy_status
v2_parse(const unsigned char *p, size_t len, struct pst_proxy_header *h,
	 const char **error_r)
{
	size_t payload, addr_len;

	if (memcmp(p, v2_sig, len < sizeof(v2_sig) ? len : sizeof(v2_sig)))
		return fail(error_r, "not a PROXY header");
	if (len > 12 && (p[12] & 0xF0) != V2_VERSION)
		return fail(error_r, "PROXY v2: unknown version");
	if (len > 12 && (p[12] & 0x0F) != V2_CMD_LOCAL &&
	    (p[12] & 0x0F) != V2_CMD_PROXY)
		return fail(error_r, "PROXY v2: unknown command");
	if (len < V2_FIXED)
		return PST_PROXY_MORE;
	payload = (size_t)p[14] << 8 | p[15];
	if (payload > PST_PROXY_V2_MAX_PAYLOAD)
		return fail(error_r, "PROXY v2: header too long");
	if (len < V2_FIXED + payload)
		return PST_PROXY_MORE;
	h->version = 2;
	h->len = V2_FIXED + payload;
	if ((p[12] & 0x0F) == V2_CMD_LOCAL) {
		/* The balancer speaking for itself: whatever follows is
		 * to be ignored. */
		h->local = true;
		return PST_PROXY_DONE;
	}
	switch (p[13]) {
	case V2_UNSPEC:
		h->local = true;
		return PST_PROXY_DONE;
	case V2_TCP4:
		addr_len = V2_INET_LEN;
		break;
	case V2_TCP6:
		addr_len = V2_INET6_LEN;
		break;
	case V2_UNIX_STREAM:
		addr_len = V2_UNIX_LEN;
		break;
	case V2_UDP4:
	case V2_UDP6:
	case V2_UNIX_DGRAM:
		return fail(error_r, "PROXY v2: not a stream connection");
	default:
		return fail(error_r, "PROXY v2: unknown address family");
	}
	if (payload < addr_len)
		return fail(error_r, "PROXY v2: address block too short");
	if (v2_tlvs(p + V2_FIXED + addr_len, payload - addr_len) < 0)
		return fail(error_r, "PROXY v2: malformed TLV");
	if (p[13] == V2_TCP4)
		v2_inet(p + V2_FIXED, h);
	else if (p[13] == V2_TCP6)
		v2_inet6(p + V2_FIXED, h);
	else
		h->local = true; /* a unix socket path is no client address */
	return PST_PROXY_DONE;
}

enum pst_proxy_status
pst_proxy_parse(const void *data, size_t len, struct pst_proxy_header *header_r,
		const char **error_r)
{
	const unsigned char *p = data;

	memset(header_r, 0, sizeof(*header_r));
	*error_r = NULL;
	if (len == 0)
		return PST_PROXY_MORE;
	if (p[0] == 'P')
		return v1_parse(data, len, header_r, error_r);
	if (p[0] == v2_sig[0])
		return v2_parse(p, len, header_r, error_r);
	return fail(error_r, "not a PROXY header");
}
