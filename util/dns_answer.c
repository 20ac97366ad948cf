/*
 * dns_answer.c - libunbound's results as struct pst_dns_answer, checked
 * record by record, and the text forms of names.
 *
 * Everything here reads hostile bytes: every length is checked before
 * it is used, every loop is bounded by the data or by PST_DNS_MAX_RR, and
 * names are kept only when each label is 1-63 letters, digits, '-' or '_'
 * (so that a name can go into a log line, a header or another query
 * without quoting).  Pure functions over the caller's arena; thread-safe.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unbound.h>

#include "arena.h"
#include "dns.h"
#include "dns_int.h"

/* RFC 1035 3.1: 255 bytes of wire format, so 253 characters of text. */
#define DNS_WIRE_NAME_MAX 255
#define DNS_TEXT_NAME_MAX 253
#define DNS_LABEL_MAX 63
/* Entries of a result we look at; libunbound's own cap is the 64 KiB
 * packet, this bounds the walk even if the list were not terminated. */
#define DNS_RESULT_SCAN_MAX 65536
/* Longest error text taken from libunbound (why_bogus). */
#define DNS_WHY_MAX 300
#define DNS_XSTR(x) #x
#define DNS_STR(x) DNS_XSTR(x)

enum {
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_SERVFAIL = 2,
	RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
};

static bool
dns_label_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

char *
pst_dns_wire_name(struct pst_arena *arena, const unsigned char *wire,
		  size_t len, size_t *pos, const char **why_r)
{
	char text[DNS_WIRE_NAME_MAX + 1];
	size_t p = *pos, start = *pos, tlen = 0;

	for (;;) {
		if (p >= len) {
			*why_r = "name runs past the record";
			return NULL;
		}
		size_t l = wire[p++];

		if (l == 0)
			break;
		if (l > DNS_LABEL_MAX) {
			/* 0xc0 pointers have no place in libunbound's
			 * uncompressed data; 0x40/0x80 are obsolete. */
			*why_r = "compressed or extended label";
			return NULL;
		}
		if (l > len - p) {
			*why_r = "label runs past the record";
			return NULL;
		}
		if (p - start + l + 1 > DNS_WIRE_NAME_MAX) {
			*why_r = "name longer than 255 bytes";
			return NULL;
		}
		for (size_t i = 0; i < l; i++) {
			if (!dns_label_char_ok(wire[p + i])) {
				*why_r = "name with a byte other than a "
					 "letter, digit, '-' or '_'";
				return NULL;
			}
		}
		/* p - start + l + 1 <= 255 keeps tlen + 1 + l < sizeof */
		if (tlen > 0)
			text[tlen++] = '.';
		memcpy(text + tlen, wire + p, l);
		tlen += l;
		p += l;
	}
	*pos = p;
	if (tlen == 0)
		text[tlen++] = '.';
	char *s = pst_arena_strndup(arena, text, tlen);

	if (s == NULL)
		*why_r = "out of memory";
	return s;
}

static int
dns_rdata_name(struct pst_arena *arena, const unsigned char *rd, size_t len,
	       size_t pos, const char **name_r, const char **why_r)
{
	char *name = pst_dns_wire_name(arena, rd, len, &pos, why_r);

	if (name == NULL)
		return -1;
	if (pos != len) {
		*why_r = "bytes after the name";
		return -1;
	}
	*name_r = name;
	return 0;
}

static int
dns_rdata_txt(struct pst_arena *arena, const unsigned char *rd, size_t len,
	      struct pst_dns_rr *rr, const char **why_r)
{
	/* The content is shorter than the RDATA: one length byte per
	 * string, at least one string (RFC 1035 3.3.14). */
	if (len == 0) {
		*why_r = "TXT record without a string";
		return -1;
	}
	char *out = pst_arena_alloc(arena, len);

	if (out == NULL) {
		*why_r = "out of memory";
		return -1;
	}
	size_t p = 0, olen = 0;

	while (p < len) {
		size_t l = rd[p++];

		if (l > len - p) {
			*why_r = "TXT string runs past the record";
			return -1;
		}
		memcpy(out + olen, rd + p, l);
		olen += l;
		p += l;
	}
	out[olen] = '\0';
	rr->txt.data = out;
	rr->txt.len = olen;
	return 0;
}

int
pst_dns_rdata_parse(struct pst_arena *arena, enum pst_dns_type type,
		    const unsigned char *rd, size_t len, struct pst_dns_rr *rr,
		    const char **why_r)
{
	memset(rr, 0, sizeof(*rr));
	if (rd == NULL) {
		*why_r = "no data";
		return -1;
	}
	switch (type) {
	case PST_DNS_A:
		if (len != sizeof(rr->a)) {
			*why_r = "A record not 4 bytes long";
			return -1;
		}
		memcpy(&rr->a, rd, len);
		return 0;
	case PST_DNS_AAAA:
		if (len != sizeof(rr->aaaa)) {
			*why_r = "AAAA record not 16 bytes long";
			return -1;
		}
		memcpy(&rr->aaaa, rd, len);
		return 0;
	case PST_DNS_MX:
		if (len < 3) {
			*why_r = "MX record too short";
			return -1;
		}
		rr->mx.pref = (uint16_t)(rd[0] << 8 | rd[1]);
		return dns_rdata_name(arena, rd, len, 2, &rr->mx.host, why_r);
	case PST_DNS_PTR:
		return dns_rdata_name(arena, rd, len, 0, &rr->ptr, why_r);
	case PST_DNS_TXT:
		return dns_rdata_txt(arena, rd, len, rr, why_r);
	}
	*why_r = "unsupported record type";
	return -1;
}

struct pst_dns_answer *
pst_dns_answer_fail(struct pst_arena *arena, enum pst_dns_type type,
		    enum pst_dns_status status, const char *error)
{
	struct pst_dns_answer *a = pst_arena_zalloc(arena, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->status = status;
	a->type = type;
	a->error = error;
	return a;
}

static const char *
dns_rcode_text(int rcode)
{
	switch (rcode) {
	case RCODE_FORMERR:
		return "the nameserver could not parse the query (FORMERR)";
	case RCODE_SERVFAIL:
		return "server failure (SERVFAIL), or no nameserver answered";
	case RCODE_NOTIMP:
		return "the nameserver does not implement the query (NOTIMP)";
	case RCODE_REFUSED:
		return "the nameserver refused the query (REFUSED)";
	}
	return NULL;
}

/* libunbound's why_bogus quotes names from the answer: keep it printable
 * and short before it reaches a log line. */
static const char *
dns_clean_text(struct pst_arena *arena, const char *prefix, const char *s)
{
	char buf[DNS_WHY_MAX + 1];
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n < DNS_WHY_MAX; s++) {
		unsigned char c = (unsigned char)*s;

		buf[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[n] = '\0';
	return pst_arena_printf(arena, "%s%s", prefix, buf);
}

static struct pst_dns_answer *
dns_answer_records(struct pst_arena *arena, struct pst_dns_answer *a,
		   const struct ub_result *r)
{
	size_t count = 0;

	while (count < DNS_RESULT_SCAN_MAX && r->data[count] != NULL)
		count++;
	size_t keep = count < PST_DNS_MAX_RR ? count : PST_DNS_MAX_RR;

	a->rr = pst_arena_calloc(arena, keep, sizeof(*a->rr));
	if (a->rr == NULL)
		return NULL;

	const char *why = NULL;

	for (size_t i = 0; i < count; i++) {
		if (a->n == keep) {
			a->dropped++;
			why = "more than " DNS_STR(PST_DNS_MAX_RR) " records";
			continue;
		}
		if (r->len[i] < 0) {
			a->dropped++;
			why = "negative record length";
			continue;
		}
		const unsigned char *rd = (const unsigned char *)r->data[i];

		if (pst_dns_rdata_parse(arena, a->type, rd, (size_t)r->len[i],
					&a->rr[a->n], &why) == 0)
			a->n++;
		else
			a->dropped++;
	}
	if (a->n == 0) {
		a->status = PST_DNS_NODATA;
		a->error = pst_arena_printf(
			arena, "all %u records malformed: %s", a->dropped, why);
	} else {
		a->status = PST_DNS_OK;
		if (a->dropped > 0)
			a->error = pst_arena_printf(arena,
						    "%u records left out: %s",
						    a->dropped, why);
		a->ttl = r->ttl > 0 ? (uint32_t)r->ttl : 0;
	}
	return a;
}

struct pst_dns_answer *
pst_dns_answer_build(struct pst_arena *arena, enum pst_dns_type type,
		     bool dnssec, int err, const struct ub_result *r)
{
	struct pst_dns_answer *a = pst_arena_zalloc(arena, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->type = type;
	a->status = PST_DNS_TEMPFAIL;
	if (err != 0) {
		a->error = ub_strerror(err);
		return a;
	}
	if (r == NULL) {
		a->error = "no result";
		return a;
	}
	if (r->qtype != (int)type) {
		a->error = "result for another record type";
		return a;
	}
	if (dnssec && r->bogus) {
		/* libunbound still hands out the data: never use it. */
		a->bogus = true;
		a->error =
			dns_clean_text(arena, "DNSSEC validation failed: ",
				       r->why_bogus ? r->why_bogus : "bogus");
		return a->error != NULL ? a : NULL;
	}
	a->secure = dnssec && r->secure;
	if (r->rcode == RCODE_NXDOMAIN) {
		a->status = PST_DNS_NXDOMAIN;
		return a;
	}
	if (r->rcode != RCODE_NOERROR) {
		a->error = dns_rcode_text(r->rcode);
		if (a->error == NULL)
			a->error = pst_arena_printf(
				arena, "DNS error (rcode %d)", r->rcode);
		return a->error != NULL ? a : NULL;
	}
	if (!r->havedata || r->data == NULL || r->len == NULL ||
	    r->data[0] == NULL) {
		a->status = PST_DNS_NODATA;
		return a;
	}
	return dns_answer_records(arena, a, r);
}
