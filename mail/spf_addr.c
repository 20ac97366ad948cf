/*
 * spf_addr.c - addresses and names for the SPF evaluator: the strict
 * ip4-network/ip6-network grammar of RFC 7208, CIDR matching, the text
 * forms the i, c and ptr lookups need, and domain name checks.
 *
 * No allocation except on the caller's arena; thread-safe.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "spf_int.h"

static const char upperhex[] = "0123456789ABCDEF";

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ::ffff:a.b.c.d is the IPv4 client a.b.c.d. */
void
spf_addr_unmap(struct spf_addr *a)
{
	static const unsigned char prefix[12] = { 0, 0, 0, 0, 0,    0,
						  0, 0, 0, 0, 0xff, 0xff };

	if (a->family == 6 && memcmp(a->addr, prefix, sizeof(prefix)) == 0) {
		memmove(a->addr, a->addr + 12, 4);
		memset(a->addr + 4, 0, 12);
		a->family = 4;
	}
}

int
spf_addr_parse(const char *s, struct spf_addr *addr_r)
{
	memset(addr_r, 0, sizeof(*addr_r));
	if (s == NULL)
		return -1;
	if (inet_pton(AF_INET, s, addr_r->addr) == 1) {
		addr_r->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr_r->addr) == 1) {
		addr_r->family = 6;
		spf_addr_unmap(addr_r);
		return 0;
	}
	return -1;
}

/* qnum: "0".."255" without leading zeros (RFC 7208 section 12). */
int
spf_addr_parse_ip4(struct pst_str s, struct spf_addr *addr_r)
{
	size_t i = 0;

	memset(addr_r, 0, sizeof(*addr_r));
	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t start = i;

		if (part > 0) {
			if (i >= s.len || s.p[i] != '.')
				return -1;
			start = ++i;
		}
		while (i < s.len && is_digit(s.p[i]) && i - start < 3)
			v = v * 10 + (unsigned)(s.p[i++] - '0');
		if (i == start || v > 255 ||
		    (s.p[start] == '0' && i - start > 1))
			return -1;
		addr_r->addr[part] = (unsigned char)v;
	}
	if (i != s.len)
		return -1;
	addr_r->family = 4;
	return 0;
}

/* RFC 4291 2.2 text, as inet_pton reads it, after a character check. */
int
spf_addr_parse_ip6(struct pst_str s, struct spf_addr *addr_r)
{
	char buf[INET6_ADDRSTRLEN];

	memset(addr_r, 0, sizeof(*addr_r));
	if (s.len == 0 || s.len >= sizeof(buf))
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];

		if (!is_digit(c) && !(c >= 'a' && c <= 'f') &&
		    !(c >= 'A' && c <= 'F') && c != ':' && c != '.')
			return -1;
	}
	memcpy(buf, s.p, s.len);
	buf[s.len] = '\0';
	if (inet_pton(AF_INET6, buf, addr_r->addr) != 1)
		return -1;
	addr_r->family = 6;
	return 0;
}

bool
spf_addr_match(const struct spf_addr *a, const struct spf_addr *b, int prefix)
{
	int bytes, bits, max = a->family == 4 ? 32 : 128;

	if (a->family != b->family || prefix < 0)
		return false;
	if (prefix > max)
		prefix = max;
	bytes = prefix / 8;
	bits = prefix % 8;
	if (memcmp(a->addr, b->addr, (size_t)bytes) != 0)
		return false;
	if (bits != 0) {
		unsigned mask = (0xffu << (8 - bits)) & 0xffu;

		if ((a->addr[bytes] & mask) != (b->addr[bytes] & mask))
			return false;
	}
	return true;
}

const char *
spf_addr_text(struct pst_arena *arena, const struct spf_addr *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, buf,
		      sizeof(buf)) == NULL)
		return NULL;
	return pst_arena_strdup(arena, buf);
}

/* The 32 nibbles of an IPv6 address, dot-separated, in order or
 * reversed, followed by suffix. */
static const char *
nibbles(struct pst_arena *arena, const unsigned char *addr, bool reverse,
	const char *hex, const char *suffix)
{
	size_t slen = strlen(suffix);
	char *out = pst_arena_alloc(arena, 64 + slen);
	size_t n = 0;

	if (out == NULL)
		return NULL;
	for (int i = 0; i < 32; i++) {
		int k = reverse ? 31 - i : i;
		unsigned byte = addr[k / 2];
		unsigned nib = k % 2 == 0 ? byte >> 4 : byte & 0xf;

		if (i > 0)
			out[n++] = '.';
		out[n++] = hex[nib];
	}
	memcpy(out + n, suffix, slen + 1);
	return out;
}

const char *
spf_addr_dotted(struct pst_arena *arena, const struct spf_addr *a)
{
	if (a->family == 4)
		return spf_addr_text(arena, a);
	/* DNS ignores the case; upper case is what the reference
	 * implementation puts in explanations, and so what the published
	 * RFC 7208 test suite expects (the RFC's 7.4 example is lower
	 * case). */
	return nibbles(arena, a->addr, false, upperhex, "");
}

const char *
spf_addr_reverse(struct pst_arena *arena, const struct spf_addr *a)
{
	if (a->family == 4)
		return pst_arena_printf(arena, "%u.%u.%u.%u.in-addr.arpa",
					a->addr[3], a->addr[2], a->addr[1],
					a->addr[0]);
	/* upper case like %{i}: test zones written for the reference
	 * implementation name their ip6.arpa records that way */
	return nibbles(arena, a->addr, true, upperhex, ".ip6.arpa");
}

bool
spf_name_valid(const char *name, size_t len)
{
	size_t label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > SPF_MAX_DOMAIN)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > SPF_MAX_LABEL) {
			return false;
		}
	}
	return label > 0;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
bool
spf_toplabel_valid(const char *label, size_t len)
{
	bool alpha = false, hyphen = false;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = label[i];

		if (is_alpha(c))
			alpha = true;
		else if (c == '-')
			hyphen = true;
		else if (!is_digit(c))
			return false;
	}
	if (!hyphen)
		return alpha;
	return label[0] != '-' && label[len - 1] != '-';
}

static size_t
name_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

bool
spf_name_eq(const char *a, const char *b)
{
	size_t la = name_len(a), lb = name_len(b);

	return la == lb && strncasecmp(a, b, la) == 0;
}

bool
spf_name_within(const char *name, const char *parent)
{
	size_t ln = name_len(name), lp = name_len(parent);

	if (lp == 0 || ln < lp)
		return false;
	if (strncasecmp(name + ln - lp, parent, lp) != 0)
		return false;
	return ln == lp || name[ln - lp - 1] == '.';
}
