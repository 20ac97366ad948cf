/*
 * rules_value.c - values as the environment hands them to the evaluator,
 * and the addresses and CIDR ranges of rule files.
 *
 * Pure functions over caller-owned memory; thread-safe.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "rules_int.h"

static void
value_reset(struct rules_value *out, enum rules_type type)
{
	memset(out, 0, sizeof(*out));
	out->type = type;
}

void
rules_value_str(struct rules_value *out, const char *p, size_t len)
{
	value_reset(out, RULES_T_STRING);
	out->n = 1;
	out->one.str.p = p != NULL ? p : "";
	out->one.str.len = p != NULL ? len : 0;
}

void
rules_value_cstr(struct rules_value *out, const char *s)
{
	if (s == NULL) {
		value_reset(out, RULES_T_STRING);
		return;
	}
	rules_value_str(out, s, strlen(s));
}

void
rules_value_num(struct rules_value *out, double num)
{
	value_reset(out, RULES_T_NUMBER);
	out->n = 1;
	out->one.num = num;
}

void
rules_value_bool(struct rules_value *out, bool b)
{
	value_reset(out, RULES_T_BOOL);
	out->n = 1;
	out->one.b = b;
}

/* A v4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address. */
static void
ip_normalise(struct rules_ip *ip)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0,    0,
					    0, 0, 0, 0, 0xff, 0xff };

	if (ip->family == AF_INET6 && memcmp(ip->addr, mapped, 12) == 0) {
		memmove(ip->addr, ip->addr + 12, 4);
		memset(ip->addr + 4, 0, 12);
		ip->family = AF_INET;
	}
}

void
rules_value_ip(struct rules_value *out, const struct rules_ip *ip)
{
	value_reset(out, RULES_T_IP);
	out->n = 1;
	out->one.ip = *ip;
	ip_normalise(&out->one.ip);
}

int
rules_value_sockaddr(struct rules_value *out, const struct sockaddr *sa)
{
	struct rules_ip ip;

	memset(&ip, 0, sizeof(ip));
	value_reset(out, RULES_T_IP);
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		ip.family = AF_INET;
		memcpy(ip.addr, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		ip.family = AF_INET6;
		memcpy(ip.addr, &sin6->sin6_addr, 16);
	} else {
		return -1;
	}
	rules_value_ip(out, &ip);
	return 0;
}

void
rules_value_strs(struct rules_value *out, const struct pst_str *v, size_t n)
{
	value_reset(out, RULES_T_STRING);
	out->n = v != NULL ? n : 0;
	out->list.str = v;
}

void
rules_value_nums(struct rules_value *out, const double *v, size_t n)
{
	value_reset(out, RULES_T_NUMBER);
	out->n = v != NULL ? n : 0;
	out->list.num = v;
}

int
rules_ip_parse(const char *s, size_t len, struct rules_ip *ip_r)
{
	char buf[INET6_ADDRSTRLEN + 1];

	memset(ip_r, 0, sizeof(*ip_r));
	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, ip_r->addr) == 1) {
		ip_r->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, ip_r->addr) == 1) {
		ip_r->family = AF_INET6;
		ip_normalise(ip_r);
		return 0;
	}
	return -1;
}

const char *
rules_ip_str(const struct rules_ip *ip, char *buf, size_t size)
{
	if (inet_ntop(ip->family == AF_INET ? AF_INET : AF_INET6, ip->addr, buf,
		      (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
	return buf;
}

int
rules_cidr_parse(const char *s, size_t len, struct rules_cidr *c_r,
		 const char **why_r)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	unsigned max, prefix = 0;

	memset(c_r, 0, sizeof(*c_r));
	if (rules_ip_parse(s, alen, &c_r->ip) < 0) {
		*why_r = "not an IPv4 or IPv6 address";
		return -1;
	}
	max = c_r->ip.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		c_r->prefix = max;
		return 0;
	}
	if (slash + 1 == s + len || len - alen - 1 > 3) {
		*why_r = "bad prefix length";
		return -1;
	}
	for (const char *p = slash + 1; p < s + len; p++) {
		if (*p < '0' || *p > '9') {
			*why_r = "bad prefix length";
			return -1;
		}
		prefix = prefix * 10 + (unsigned)(*p - '0');
	}
	if (prefix > max) {
		*why_r = max == 32 ? "prefix longer than 32 bits"
				   : "prefix longer than 128 bits";
		return -1;
	}
	c_r->prefix = prefix;
	/* 10.0.0.1/8 is a typo for something: say so rather than widen. */
	for (unsigned bit = prefix; bit < max; bit++) {
		if (c_r->ip.addr[bit / 8] & (0x80u >> (bit % 8))) {
			*why_r = "host bits set after the prefix";
			return -1;
		}
	}
	return 0;
}

bool
rules_cidr_match(const struct rules_cidr *c, const struct rules_ip *ip)
{
	unsigned full, rest;

	if (c->ip.family != ip->family)
		return false;
	full = c->prefix / 8;
	rest = c->prefix % 8;
	if (memcmp(c->ip.addr, ip->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((c->ip.addr[full] ^ ip->addr[full]) & (0xffu << (8 - rest)) &
		0xffu) == 0;
}

static void
show_str(struct pst_buf *buf, const struct pst_str *s, size_t max)
{
	size_t n = s->len < max ? s->len : max;

	pst_buf_append_byte(buf, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s->p[i];

		if (ch == '"' || ch == '\\')
			pst_buf_printf(buf, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			pst_buf_printf(buf, "\\x%02x", ch);
		else
			pst_buf_append_byte(buf, (char)ch);
	}
	pst_buf_append_byte(buf, '"');
	if (n < s->len)
		pst_buf_append_cstr(buf, "...");
}

void
rules_value_show(struct pst_buf *buf, const struct rules_value *v, size_t i,
		 size_t max)
{
	char ip[64];

	if (i >= v->n) {
		pst_buf_append_cstr(buf, v->n == 0 ? "(absent)" : "?");
		return;
	}
	switch (v->type) {
	case RULES_T_STRING:
		show_str(buf,
			 v->list.str != NULL ? &v->list.str[i] : &v->one.str,
			 max);
		break;
	case RULES_T_NUMBER:
		pst_buf_printf(buf, "%.15g",
			       v->list.num != NULL ? v->list.num[i]
						   : v->one.num);
		break;
	case RULES_T_BOOL:
		pst_buf_append_cstr(
			buf, (v->list.b != NULL ? v->list.b[i] : v->one.b)
				     ? "true"
				     : "false");
		break;
	case RULES_T_IP:
		pst_buf_append_cstr(buf, rules_ip_str(v->list.ip != NULL
							      ? &v->list.ip[i]
							      : &v->one.ip,
						      ip, sizeof(ip)));
		break;
	}
}
