/*
 * quarantine_envelope.c - the quarantine's envelope file: written with
 * every stored message, read back by list, show and release.
 *
 * The envelope is a small text file, one "key value" line each:
 *
 *   postern-quarantine 1
 *   qid 4F2A1C3B9E01
 *   time 1700000000
 *   client-addr 192.0.2.7
 *   client-port 41234
 *   client-name unknown
 *   helo mx.example.net
 *   proto ESMTP
 *   tls 0
 *   from alice@example.net
 *   rcpt bob@example.org success,failure rfc822;bob@example.org
 *   body 8bitmime
 *   smtputf8 0
 *   ret -
 *   envid -
 *   reason spam
 *   filter spamcheck
 *   text score 12.5
 *   end
 *
 * Values are escaped: '%', SP, control bytes and DEL as %XX, a NULL
 * value as "-" (a value "-" as %2D), so a hostile address cannot add a
 * line or a field.  Bytes above 0x7f stay as they are (UTF-8 addresses
 * remain readable).  Unknown keys are ignored so that later versions can
 * add some; "end" marks a complete file.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ascii.h"
#include "arena.h"
#include "buf.h"
#include "quarantine.h"
#include "quarantine_int.h"

#define QUAR_MAGIC "postern-quarantine"
#define QUAR_VERSION 1

/* ---- escaping ---- */

static bool
quar_must_escape(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '%';
}

static int
quar_put_value(struct pst_buf *b, const char *s)
{
	if (s == NULL)
		return pst_buf_append_byte(b, '-');
	if (strcmp(s, "-") == 0)
		return pst_buf_append_cstr(b, "%2D");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int r = quar_must_escape(*p) ? pst_buf_printf(b, "%%%02X", *p)
					     : pst_buf_append_byte(b, (char)*p);

		if (r < 0)
			return -1;
	}
	return 0;
}

/* Undo quar_put_value on s[0..len): 0 with *out_r (NULL for "-"), or -1
 * for a bad escape, a raw byte that should have been escaped, or NUL. */
static int
quar_get_value(struct pst_arena *arena, const char *s, size_t len,
	       const char **out_r)
{
	char *out, *o;

	if (len == 1 && s[0] == '-') {
		*out_r = NULL;
		return 0;
	}
	out = pst_arena_alloc(arena, len + 1);
	if (out == NULL)
		return -1;
	for (o = out; len > 0; s++, len--) {
		unsigned char c = (unsigned char)*s;

		if (c == '%') {
			int hi = len >= 3 ? pst_hexval(s[1]) : -1;
			int lo = hi >= 0 ? pst_hexval(s[2]) : -1;

			if (lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			s += 2;
			len -= 2;
		} else if (quar_must_escape(c)) {
			return -1;
		}
		*o++ = (char)c;
	}
	*o = '\0';
	*out_r = out;
	return 0;
}

/* ---- the envelope: writing ---- */

static const char *const quar_notify_names[] = { "never", "success", "failure",
						 "delay" };
#define QUAR_NOTIFY_COUNT                                                      \
	(sizeof(quar_notify_names) / sizeof(quar_notify_names[0]))

static int
quar_put_notify(struct pst_buf *b, unsigned notify)
{
	const char *sep = "";
	int r = 0;

	if ((notify & ((1u << QUAR_NOTIFY_COUNT) - 1)) == 0)
		return pst_buf_append_byte(b, '-');
	for (unsigned i = 0; i < QUAR_NOTIFY_COUNT && r == 0; i++)
		if (notify & (1u << i)) {
			r = pst_buf_printf(b, "%s%s", sep,
					   quar_notify_names[i]);
			sep = ",";
		}
	return r;
}

static int
quar_put_line(struct pst_buf *b, const char *key, const char *value)
{
	if (pst_buf_printf(b, "%s ", key) < 0 || quar_put_value(b, value) < 0)
		return -1;
	return pst_buf_append_byte(b, '\n');
}

static const char *
quar_body_name(enum smtp_body body)
{
	switch (body) {
	case SMTP_BODY_7BIT:
		return "7bit";
	case SMTP_BODY_8BITMIME:
		return "8bitmime";
	default:
		return NULL;
	}
}

static const char *
quar_ret_name(enum smtp_ret ret)
{
	switch (ret) {
	case SMTP_RET_FULL:
		return "full";
	case SMTP_RET_HDRS:
		return "hdrs";
	default:
		return NULL;
	}
}

int
quar_envelope_format(struct pst_buf *b, const struct quarantine_entry *e,
		     const char *reason, time_t when)
{
	int r = 0;

	r |= pst_buf_printf(b, "%s %d\n", QUAR_MAGIC, QUAR_VERSION);
	r |= quar_put_line(b, "qid", e->qid);
	r |= pst_buf_printf(b, "time %lld\n", (long long)when);
	r |= quar_put_line(b, "client-addr", e->client_addr);
	r |= pst_buf_printf(b, "client-port %u\n", e->client_port);
	r |= quar_put_line(b, "client-name", e->client_name);
	r |= quar_put_line(b, "helo", e->helo);
	r |= quar_put_line(b, "proto", e->proto);
	r |= pst_buf_printf(b, "tls %d\n", e->tls ? 1 : 0);
	r |= quar_put_line(b, "from", e->from);
	for (size_t i = 0; i < e->nrcpt && r == 0; i++) {
		r |= pst_buf_append_cstr(b, "rcpt ");
		r |= quar_put_value(b, e->rcpts[i].addr);
		r |= pst_buf_append_byte(b, ' ');
		r |= quar_put_notify(b, e->rcpts[i].notify);
		r |= pst_buf_append_byte(b, ' ');
		r |= quar_put_value(b, e->rcpts[i].orcpt);
		r |= pst_buf_append_byte(b, '\n');
	}
	r |= quar_put_line(b, "body", quar_body_name(e->body));
	r |= pst_buf_printf(b, "smtputf8 %d\n", e->smtputf8 ? 1 : 0);
	r |= quar_put_line(b, "ret", quar_ret_name(e->ret));
	r |= quar_put_line(b, "envid", e->envid);
	r |= quar_put_line(b, "reason", reason);
	if (strcmp(reason, e->reason != NULL ? e->reason : "") != 0)
		r |= quar_put_line(b, "reason-given", e->reason);
	r |= quar_put_line(b, "filter", e->filter);
	r |= quar_put_line(b, "text", e->text);
	r |= pst_buf_append_cstr(b, "end\n");
	return r < 0 ? -1 : 0;
}

/* ---- the envelope: reading ---- */

struct quar_parse {
	struct pst_arena *arena;
	struct quarantine_entry *e;
	struct filter_rcpt *rcpts;
	size_t rcpt_cap;
	unsigned seen; /* bits of quar_keys[] seen */
	const char *error;
};

static int
quar_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*v_r = v;
	return 0;
}

static int
quar_parse_bool(const char *s, size_t len, bool *v_r)
{
	if (len != 1 || (s[0] != '0' && s[0] != '1'))
		return -1;
	*v_r = s[0] == '1';
	return 0;
}

static int
quar_parse_notify(const char *s, size_t len, unsigned *notify_r)
{
	unsigned notify = 0;

	if (len == 1 && s[0] == '-') {
		*notify_r = 0;
		return 0;
	}
	while (len > 0) {
		const char *comma = memchr(s, ',', len);
		size_t n = comma != NULL ? (size_t)(comma - s) : len;
		unsigned i;

		for (i = 0; i < QUAR_NOTIFY_COUNT; i++)
			if (strlen(quar_notify_names[i]) == n &&
			    memcmp(quar_notify_names[i], s, n) == 0)
				break;
		if (i == QUAR_NOTIFY_COUNT)
			return -1;
		notify |= 1u << i;
		if (comma == NULL)
			break;
		s = comma + 1;
		len -= n + 1;
		if (len == 0)
			return -1;
	}
	*notify_r = notify;
	return 0;
}

/* "rcpt ADDR NOTIFY ORCPT" */
static int
quar_parse_rcpt(struct quar_parse *p, const char *v, size_t len)
{
	const char *sp1 = memchr(v, ' ', len), *sp2;
	struct filter_rcpt r;
	size_t n1, n2;

	if (sp1 == NULL)
		return -1;
	n1 = (size_t)(sp1 - v);
	sp2 = memchr(sp1 + 1, ' ', len - n1 - 1);
	if (sp2 == NULL)
		return -1;
	n2 = (size_t)(sp2 - sp1 - 1);
	if (quar_get_value(p->arena, v, n1, &r.addr) < 0 || r.addr == NULL ||
	    quar_parse_notify(sp1 + 1, n2, &r.notify) < 0 ||
	    quar_get_value(p->arena, sp2 + 1, len - n1 - n2 - 2, &r.orcpt) < 0)
		return -1;
	if (p->e->nrcpt == p->rcpt_cap) {
		size_t cap = p->rcpt_cap ? p->rcpt_cap * 2 : 8;
		struct filter_rcpt *nv =
			pst_arena_calloc(p->arena, cap, sizeof(*nv));

		if (nv == NULL)
			return -1;
		if (p->e->nrcpt > 0)
			memcpy(nv, p->rcpts, p->e->nrcpt * sizeof(*nv));
		p->rcpts = nv;
		p->rcpt_cap = cap;
	}
	p->rcpts[p->e->nrcpt++] = r;
	p->e->rcpts = p->rcpts;
	return 0;
}

enum quar_key_type { QK_STRING, QK_UINT, QK_BOOL, QK_BODY, QK_RET };

struct quar_key {
	const char *name;
	enum quar_key_type type;
	size_t offset; /* in struct quarantine_entry */
	bool required;
};

static const struct quar_key quar_keys[] = {
	{ "qid", QK_STRING, offsetof(struct quarantine_entry, qid), true },
	{ "time", QK_UINT, offsetof(struct quarantine_entry, time), true },
	{ "client-addr", QK_STRING,
	  offsetof(struct quarantine_entry, client_addr), false },
	{ "client-port", QK_UINT,
	  offsetof(struct quarantine_entry, client_port), false },
	{ "client-name", QK_STRING,
	  offsetof(struct quarantine_entry, client_name), false },
	{ "helo", QK_STRING, offsetof(struct quarantine_entry, helo), false },
	{ "proto", QK_STRING, offsetof(struct quarantine_entry, proto), false },
	{ "tls", QK_BOOL, offsetof(struct quarantine_entry, tls), false },
	{ "from", QK_STRING, offsetof(struct quarantine_entry, from), true },
	{ "body", QK_BODY, offsetof(struct quarantine_entry, body), false },
	{ "smtputf8", QK_BOOL, offsetof(struct quarantine_entry, smtputf8),
	  false },
	{ "ret", QK_RET, offsetof(struct quarantine_entry, ret), false },
	{ "envid", QK_STRING, offsetof(struct quarantine_entry, envid), false },
	{ "reason", QK_STRING, offsetof(struct quarantine_entry, reason),
	  true },
	{ "reason-given", QK_STRING,
	  offsetof(struct quarantine_entry, reason_given), false },
	{ "filter", QK_STRING, offsetof(struct quarantine_entry, filter),
	  false },
	{ "text", QK_STRING, offsetof(struct quarantine_entry, text), false },
};
#define QUAR_NKEYS (sizeof(quar_keys) / sizeof(quar_keys[0]))

static int
quar_parse_typed(struct quar_parse *p, const struct quar_key *k, const char *v,
		 size_t len)
{
	char *field = (char *)p->e + k->offset;
	const char *s;
	uint64_t u;

	switch (k->type) {
	case QK_STRING:
		if (quar_get_value(p->arena, v, len, &s) < 0)
			return -1;
		memcpy(field, &s, sizeof(s));
		return 0;
	case QK_UINT:
		if (k->offset == offsetof(struct quarantine_entry, time)) {
			time_t t;

			if (quar_parse_uint(v, len, INT64_MAX, &u) < 0)
				return -1;
			t = (time_t)u;
			memcpy(field, &t, sizeof(t));
		} else {
			unsigned port;

			if (quar_parse_uint(v, len, 65535, &u) < 0)
				return -1;
			port = (unsigned)u;
			memcpy(field, &port, sizeof(port));
		}
		return 0;
	case QK_BOOL:
		return quar_parse_bool(v, len, (bool *)field);
	case QK_BODY:
		if (len == 1 && v[0] == '-')
			p->e->body = SMTP_BODY_UNSET;
		else if (len == 4 && memcmp(v, "7bit", 4) == 0)
			p->e->body = SMTP_BODY_7BIT;
		else if (len == 8 && memcmp(v, "8bitmime", 8) == 0)
			p->e->body = SMTP_BODY_8BITMIME;
		else
			return -1;
		return 0;
	case QK_RET:
		if (len == 1 && v[0] == '-')
			p->e->ret = SMTP_RET_UNSET;
		else if (len == 4 && memcmp(v, "full", 4) == 0)
			p->e->ret = SMTP_RET_FULL;
		else if (len == 4 && memcmp(v, "hdrs", 4) == 0)
			p->e->ret = SMTP_RET_HDRS;
		else
			return -1;
		return 0;
	}
	return -1;
}

/* One "key value" line (without its LF). */
static int
quar_parse_line(struct quar_parse *p, const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);
	size_t klen, vlen;

	if (sp == NULL) {
		p->error = "not a \"key value\" line";
		return -1;
	}
	klen = (size_t)(sp - line);
	vlen = len - klen - 1;
	if (klen == 4 && memcmp(line, "rcpt", 4) == 0) {
		if (quar_parse_rcpt(p, sp + 1, vlen) < 0) {
			p->error = "bad rcpt line";
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < QUAR_NKEYS; i++) {
		const struct quar_key *k = &quar_keys[i];

		if (strlen(k->name) != klen || memcmp(k->name, line, klen) != 0)
			continue;
		if (p->seen & (1u << i)) {
			p->error = "key given twice";
			return -1;
		}
		p->seen |= 1u << i;
		if (quar_parse_typed(p, k, sp + 1, vlen) < 0) {
			p->error = "bad value";
			return -1;
		}
		return 0;
	}
	return 0; /* a key of a later version */
}

static const char *
quar_why(char *buf, size_t size, uint64_t version)
{
	snprintf(buf, size, "version %" PRIu64 " (this postern reads %d)",
		 version, QUAR_VERSION);
	return buf;
}

int
quar_envelope_parse(struct pst_arena *arena, const char *path, char *data,
		    size_t len, struct quarantine_entry *e,
		    const char **error_r)
{
	struct quar_parse p = { .arena = arena, .e = e };
	const char *s = data, *end = data + len;
	unsigned lineno = 0;
	bool ended = false;
	char why[96];

	memset(e, 0, sizeof(*e));
	while (s < end && p.error == NULL) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n;

		lineno++;
		if (nl == NULL) {
			p.error = "unterminated last line";
			break;
		}
		n = (size_t)(nl - s);
		if (memchr(s, '\0', n) != NULL) {
			p.error = "NUL byte";
		} else if (ended) {
			p.error = "text after the end line";
		} else if (lineno == 1) {
			size_t m = strlen(QUAR_MAGIC);
			uint64_t v;

			if (n <= m + 1 ||
			    memcmp(s, QUAR_MAGIC " ", m + 1) != 0 ||
			    quar_parse_uint(s + m + 1, n - m - 1, UINT32_MAX,
					    &v) < 0)
				p.error = "not a postern quarantine envelope";
			else if (v != QUAR_VERSION)
				p.error = quar_why(why, sizeof(why), v);
		} else if (n == 3 && memcmp(s, "end", 3) == 0) {
			ended = true;
		} else {
			quar_parse_line(&p, s, n);
		}
		s = nl + 1;
	}
	if (p.error == NULL && lineno == 0)
		p.error = "empty file";
	if (p.error == NULL && !ended)
		p.error = "truncated (no end line)";
	for (size_t i = 0; p.error == NULL && i < QUAR_NKEYS; i++)
		if (quar_keys[i].required && !(p.seen & (1u << i))) {
			snprintf(why, sizeof(why), "no %s line",
				 quar_keys[i].name);
			p.error = why;
			lineno = 0;
		}
	if (p.error == NULL && (e->from == NULL || e->reason == NULL)) {
		p.error = "from and reason must not be \"-\"";
		lineno = 0;
	}
	if (p.error == NULL && e->nrcpt == 0) {
		p.error = "no rcpt line";
		lineno = 0;
	}
	if (p.error == NULL)
		return 0;
	if (lineno > 0)
		*error_r = pst_arena_printf(arena, "%s: line %u: %s", path,
					    lineno, p.error);
	else
		*error_r =
			pst_arena_printf(arena, "%s: %s", path,
					 p.error ? p.error : "out of memory");
	if (*error_r == NULL)
		*error_r = "quarantine: out of memory";
	return -1;
}
