/*
 * dkim_dns.c - libopendkim's key lookups on the process's one resolver.
 *
 * libopendkim asks for keys through query hooks (start, wait, cancel)
 * that hand it a raw DNS reply, which it then parses itself.  The hooks
 * here answer from pst_dns_lookup_packet() on the shared resolver, under
 * the deadline of the message being verified, and nothing else: the
 * library's own res_* resolver and its key-file method are never used
 * (the query method is forced to DNS, so a signature's q= cannot pick
 * another one).  libopendkim trusts the counts and lengths of the reply
 * it parses (a character-string that claims more than its record holds
 * is read past the record), so every reply is checked here first; one
 * that fails the check is a lookup failure.
 *
 * The hooks get no per-message argument, so the message's lookup state
 * (resolver, arena, deadline) is a thread-local set by filter_dkim_dns_begin():
 * libopendkim calls the hooks on the thread that called it.  Query
 * handles live on that arena; cancel frees nothing.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "arena.h"
#include "dkim_int.h"
#include "dns.h"

#define DKIM_DNS_T_TXT 16
#define DKIM_DNS_C_IN 1
#define DKIM_DNS_HEADER 12
/* Compression pointers followed in one name. */
#define DKIM_DNS_HOPS 64
/* Records of the answer section we accept. */
#define DKIM_DNS_ANSWERS_MAX 64

static _Thread_local struct filter_dkim_dns *dkim_q_current;

/* The service handle libopendkim passes back: never dereferenced, but it
 * must not be NULL (or the library would set up its own resolver). */
static char dkim_q_service;

struct dkim_q {
	size_t len;
	int dnssec;
};

uint64_t
filter_dkim_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
filter_dkim_dns_begin(struct filter_dkim_dns *call)
{
	dkim_q_current = call;
}

bool
filter_dkim_name_ok(const char *name)
{
	size_t label = 0, total = 0;

	if (name == NULL || *name == '\0')
		return false;
	for (const char *p = name; *p != '\0'; p++, total++) {
		char c = *p;

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && total <= 253;
}

/* ---- replies ---- */

static unsigned
dkim_q_u16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Step over the name at *pos: labels of at most 63 bytes, 255 in all,
 * compression pointers only backwards and at most DKIM_DNS_HOPS of
 * them.  *pos ends after the name as written. */
static bool
dkim_q_name_skip(const unsigned char *p, size_t len, size_t *pos)
{
	size_t at = *pos, total = 0;
	unsigned hops = 0;
	bool jumped = false;

	for (;;) {
		unsigned c;

		if (at >= len)
			return false;
		c = p[at];
		if (c == 0) {
			if (!jumped)
				*pos = at + 1;
			return true;
		}
		if ((c & 0xc0) == 0xc0) {
			size_t ptr;

			if (at + 1 >= len)
				return false;
			ptr = (size_t)(c & 0x3f) << 8 | p[at + 1];
			if (ptr >= at || ++hops > DKIM_DNS_HOPS)
				return false;
			if (!jumped)
				*pos = at + 2;
			jumped = true;
			at = ptr;
			continue;
		}
		if ((c & 0xc0) != 0)
			return false;
		total += c + 1;
		if (total > 255)
			return false;
		at += c + 1;
	}
}

bool
filter_dkim_reply_ok(const unsigned char *p, size_t len)
{
	size_t pos = DKIM_DNS_HEADER;
	unsigned an;

	if (p == NULL || len < DKIM_DNS_HEADER || len > DKIM_DNS_REPLY_MAX)
		return false;
	if (dkim_q_u16(p + 4) != 1)
		return false;
	an = dkim_q_u16(p + 6);
	if (an > DKIM_DNS_ANSWERS_MAX)
		return false;
	if (!dkim_q_name_skip(p, len, &pos) || len - pos < 4 ||
	    dkim_q_u16(p + pos) != DKIM_DNS_T_TXT ||
	    dkim_q_u16(p + pos + 2) != DKIM_DNS_C_IN)
		return false;
	pos += 4;
	for (unsigned i = 0; i < an; i++) {
		unsigned type, rdlen;
		size_t o = 0;

		if (!dkim_q_name_skip(p, len, &pos) || len - pos < 10)
			return false;
		type = dkim_q_u16(p + pos);
		rdlen = dkim_q_u16(p + pos + 8);
		pos += 10;
		if (len - pos < rdlen)
			return false;
		/* The strings must tile the record exactly. */
		while (type == DKIM_DNS_T_TXT && o < rdlen)
			o += 1 + (size_t)p[pos + o];
		if (type == DKIM_DNS_T_TXT && o != rdlen)
			return false;
		pos += rdlen;
	}
	return true;
}

size_t
filter_dkim_reply_make(unsigned char *buf, size_t size, const char *name,
		       unsigned rcode, const char *txt, size_t txt_len)
{
	size_t pos = DKIM_DNS_HEADER, nstrings, rdlen;
	const char *label = name;

	if (size < DKIM_DNS_HEADER || name == NULL || rcode > 15)
		return 0;
	memset(buf, 0, DKIM_DNS_HEADER);
	buf[2] = 0x81;				/* QR, RD */
	buf[3] = (unsigned char)(0x80 | rcode); /* RA */
	buf[5] = 1;				/* one question */
	buf[7] = txt != NULL ? 1 : 0;		/* answers */
	/* The question: the name as labels. */
	while (*label != '\0') {
		const char *dot = strchr(label, '.');
		size_t n = dot != NULL ? (size_t)(dot - label) : strlen(label);

		if (n == 0 || n > 63 || size - pos < n + 1)
			return 0;
		buf[pos++] = (unsigned char)n;
		memcpy(buf + pos, label, n);
		pos += n;
		label += n;
		if (*label == '.')
			label++;
	}
	if (size - pos < 5)
		return 0;
	buf[pos++] = 0;
	buf[pos++] = 0;
	buf[pos++] = DKIM_DNS_T_TXT;
	buf[pos++] = 0;
	buf[pos++] = DKIM_DNS_C_IN;
	if (txt == NULL)
		return pos;
	/* The answer: a pointer to the question's name, TTL 0, the text
	 * cut into character-strings of at most 255 bytes. */
	nstrings = txt_len == 0 ? 1 : (txt_len + 254) / 255;
	rdlen = txt_len + nstrings;
	if (rdlen > 0xffff || size - pos < 12 + rdlen)
		return 0;
	buf[pos++] = 0xc0;
	buf[pos++] = DKIM_DNS_HEADER;
	buf[pos++] = 0;
	buf[pos++] = DKIM_DNS_T_TXT;
	buf[pos++] = 0;
	buf[pos++] = DKIM_DNS_C_IN;
	memset(buf + pos, 0, 4);
	pos += 4;
	buf[pos++] = (unsigned char)(rdlen >> 8);
	buf[pos++] = (unsigned char)rdlen;
	for (size_t i = 0; i < nstrings; i++) {
		size_t n = txt_len - i * 255 > 255 ? 255 : txt_len - i * 255;

		buf[pos++] = (unsigned char)n;
		memcpy(buf + pos, txt + i * 255, n);
		pos += n;
	}
	return pos;
}

/* ---- the hooks ---- */

/* The reply for name into buf: its length, or 0 after a failure. */
static size_t
dkim_q_answer(struct filter_dkim_dns *call, const char *name,
	      unsigned char *buf, size_t size, int *dnssec_r)
{
	const struct pst_dns_answer *a;
	enum pst_dns_status st;
	uint64_t now;

	if (!filter_dkim_name_ok(name))
		return filter_dkim_reply_make(buf, size, "invalid", 3, NULL, 0);
	if (call->fake != NULL) {
		bool tempfail = false;
		const char *txt = call->fake(call->fake_arg, name, &tempfail);

		if (tempfail)
			return 0;
		return filter_dkim_reply_make(buf, size, name, txt ? 0 : 3, txt,
					      txt ? strlen(txt) : 0);
	}
	now = filter_dkim_now();
	if (call->dns == NULL || now >= call->deadline)
		return 0;
	/* The dns {} timeout per lookup; the deadline bounds how many. */
	st = pst_dns_lookup_packet(call->dns, call->arena, name, PST_DNS_TXT, 0,
				   &a);
	if (st == PST_DNS_BADNAME)
		return filter_dkim_reply_make(buf, size, "invalid", 3, NULL, 0);
	if (st == PST_DNS_TEMPFAIL || a->packet == NULL ||
	    a->packet_len > size ||
	    !filter_dkim_reply_ok(a->packet, a->packet_len))
		return 0;
	memcpy(buf, a->packet, a->packet_len);
	*dnssec_r = a->secure ? DKIM_DNSSEC_SECURE : DKIM_DNSSEC_UNKNOWN;
	return a->packet_len;
}

static int
dkim_q_start(void *srv, int type, unsigned char *query, unsigned char *buf,
	     size_t buflen, void **qh)
{
	struct filter_dkim_dns *call = dkim_q_current;
	struct dkim_q *q;

	(void)srv;
	if (call == NULL || call->arena == NULL || type != DKIM_DNS_T_TXT ||
	    query == NULL || buf == NULL || qh == NULL)
		return DKIM_DNS_ERROR;
	q = pst_arena_zalloc(call->arena, sizeof(*q));
	if (q == NULL)
		return DKIM_DNS_ERROR;
	q->dnssec = DKIM_DNSSEC_UNKNOWN;
	call->lookups++;
	q->len = dkim_q_answer(call, (const char *)query, buf, buflen,
			       &q->dnssec);
	if (q->len == 0) {
		call->failed++;
		return DKIM_DNS_ERROR;
	}
	*qh = q;
	return DKIM_DNS_SUCCESS;
}

/* The answer is there when start returns: nothing to wait for. */
static int
dkim_q_wait(void *srv, void *qh, struct timeval *to, size_t *bytes, int *error,
	    int *dnssec)
{
	const struct dkim_q *q = qh;

	(void)srv;
	(void)to;
	if (q == NULL)
		return DKIM_DNS_ERROR;
	if (bytes != NULL)
		*bytes = q->len;
	if (error != NULL)
		*error = 0;
	if (dnssec != NULL)
		*dnssec = q->dnssec;
	return DKIM_DNS_SUCCESS;
}

static int
dkim_q_cancel(void *srv, void *qh)
{
	(void)srv;
	(void)qh;
	return 0;
}

/* dkim_close() calls this with the service handle: ours is static. */
static void
dkim_q_close(void *srv)
{
	(void)srv;
}

int
filter_dkim_dns_setup(DKIM_LIB *lib)
{
	dkim_query_t qt = DKIM_QUERY_DNS;
	char none[1] = "";

	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qt,
			 sizeof(qt)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, none,
			 sizeof(none)) != DKIM_STAT_OK)
		return -1;
	dkim_dns_set_query_service(lib, &dkim_q_service);
	dkim_dns_set_init(lib, NULL);
	dkim_dns_set_close(lib, dkim_q_close);
	dkim_dns_set_nslist(lib, NULL);
	dkim_dns_set_config(lib, NULL);
	dkim_dns_set_trustanchor(lib, NULL);
	dkim_dns_set_query_start(lib, dkim_q_start);
	dkim_dns_set_query_waitreply(lib, dkim_q_wait);
	dkim_dns_set_query_cancel(lib, dkim_q_cancel);
	return 0;
}
