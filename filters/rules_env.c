/*
 * rules_env.c - what the rules read: the values of rule variables for
 * one call of the rules filter, from the session and message through the
 * same accessors a plugin uses (and the MIME tree for defects).
 *
 * The body and the URLs come from the content filter (content.c: text
 * parts converted to UTF-8, HTML reduced to text, bounded), attachment.*
 * from the attachment walk (attachment.c: parts, archive members,
 * attached messages); both are made once per transaction when the
 * chain has those filters, else for each variable asked.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "attachment_filter.h"
#include "content.h"
#include "filename.h"
#include "filter_int.h"
#include "rules_filter.h"

/* Raw body the rules see. */
#define RULES_ENV_RAWBODY_MAX (4u << 20)

static void
rules_env_strs(struct rules_value *out, struct pst_arena *arena,
	       const char *const *v, size_t n)
{
	struct pst_str *s = n ? pst_arena_calloc(arena, n, sizeof(*s)) : NULL;

	if (n == 0 || s == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		s[i] = pst_str_from_cstr(v[i]);
	rules_value_strs(out, s, n);
}

/* "local@domain": the part before the last '@' (or after). */
static const char *
rules_env_addr_part(struct pst_arena *arena, const char *addr, bool domain)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL)
		return domain ? "" : addr;
	return domain ? at + 1
		      : pst_arena_strndup(arena, addr, (size_t)(at - addr));
}

static int
rules_env_rcpts(struct rules_call *c, enum rules_var var,
		struct pst_arena *arena, struct rules_value *out)
{
	size_t n = c->rcpt != NULL ? 1 : pf_rcpt_count(c->t);
	const char **v = pst_arena_calloc(arena, n ? n : 1, sizeof(*v));

	if (v == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *a = c->rcpt != NULL ? c->rcpt : pf_rcpt(c->t, i);

		if (a == NULL)
			a = "";
		v[i] = var == RULES_VAR_RCPT
			       ? a
			       : rules_env_addr_part(
					 arena, a,
					 var == RULES_VAR_RCPT_DOMAIN);
		if (v[i] == NULL)
			return -1;
	}
	rules_env_strs(out, arena, v, n);
	return 0;
}

static int
rules_env_headers(struct rules_call *c, const char *name, bool raw,
		  struct pst_arena *arena, struct rules_value *out)
{
	size_t total = pf_header_count(c->t), n = 0;
	const char **v = pst_arena_calloc(arena, total ? total : 1, sizeof(*v));

	if (v == NULL)
		return -1;
	for (size_t i = 0; i < total; i++) {
		const char *hn, *hv;

		if (pf_header(c->t, i, &hn, &hv) < 0)
			continue;
		if (raw)
			v[n++] = pst_arena_printf(arena, "%s: %s", hn, hv);
		else if (strcasecmp(hn, name) == 0)
			v[n++] = hv;
	}
	rules_env_strs(out, arena, v, n);
	return 0;
}

static int
rules_env_content(struct rules_call *c, enum rules_var var,
		  struct pst_arena *arena, struct rules_value *out)
{
	const char *err;
	const struct content_result *r =
		content_filter_result(c->t, arena, &err);

	if (r == NULL) {
		pf_log(c->t, PF_LOG_ERR, "rules: body: %s", err);
		return -1;
	}
	if (var == RULES_VAR_BODY) {
		if (r->text_len > 0)
			rules_value_str(out, r->text, r->text_len);
	} else if (var == RULES_VAR_URLS) {
		rules_env_strs(out, arena, r->urls, r->nurls);
	} else {
		rules_env_strs(out, arena, r->domains, r->ndomains);
	}
	return 0;
}

static int
rules_env_rawbody(struct rules_call *c, struct pst_arena *arena,
		  struct rules_value *out)
{
	const struct filter_tx *tx = c->t->ctx->call_tx;
	uint64_t start, size = pf_message_size(c->t), len;
	char *buf;
	ssize_t n;

	if (tx->root == NULL)
		return 0;
	start = tx->root->body_start;
	if (start >= size)
		return 0;
	len = size - start;
	if (len > RULES_ENV_RAWBODY_MAX)
		len = RULES_ENV_RAWBODY_MAX;
	buf = pst_arena_alloc(arena, (size_t)len + 1);
	if (buf == NULL)
		return -1;
	n = pf_message_read(c->t, buf, (size_t)len, start);
	if (n < 0)
		return -1;
	rules_value_str(out, buf, (size_t)n);
	return 0;
}

static int
rules_env_defects(struct rules_call *c, struct pst_arena *arena,
		  struct rules_value *out)
{
	const struct filter_tx *tx = c->t->ctx->call_tx;
	uint64_t all = tx->root ? mime_part_defects_all(tx->root) : 0;
	const char *v[64];
	size_t n = 0;

	for (unsigned b = 0; b < 64; b++) {
		const char *name;

		if ((all & ((uint64_t)1 << b)) == 0)
			continue;
		name = mime_defect_name((uint64_t)1 << b);
		if (name != NULL)
			v[n++] = name;
	}
	rules_env_strs(out, arena, v, n);
	return 0;
}

/* Does variable var read item it (parts: depth 0; members: deeper)? */
static bool
rules_env_att_reads(enum rules_var var, const struct attachment_item *it)
{
	switch (var) {
	case RULES_VAR_ATT_FILENAME:
	case RULES_VAR_ATT_EXTENSION:
	case RULES_VAR_ATT_TYPE:
		return it->depth == 0;
	case RULES_VAR_ATT_ARCHIVE_FILENAME:
	case RULES_VAR_ATT_ARCHIVE_EXTENSION:
		return it->depth > 0;
	default:
		return true;
	}
}

/* attachment.*: from the walk over parts, archives and attached
 * messages.  File names: every candidate of each item. */
static int
rules_env_attachments(struct rules_call *c, enum rules_var var,
		      struct pst_arena *arena, struct rules_value *out)
{
	const char *err;
	const struct attachment_scan *scan =
		attachment_filter_scan(c->t, arena, &err);
	size_t cap = 1, n = 0;
	const char **v;
	double *num;
	bool *b;
	size_t *parts;

	if (scan == NULL) {
		pf_log(c->t, PF_LOG_ERR, "rules: attachments: %s", err);
		return -1;
	}
	if (var == RULES_VAR_ATT_COUNT) {
		rules_value_num(out, (double)attachment_filter_count(scan));
		return 0;
	}
	if (var == RULES_VAR_ATT_ARCHIVE_COUNT) {
		rules_value_num(out, (double)scan->members);
		return 0;
	}
	for (size_t i = 0; i < scan->nitems; i++)
		cap += scan->items[i].nnames + 1;
	cap += ATTACHMENT_D_COUNT;
	v = pst_arena_calloc(arena, cap, sizeof(*v));
	num = pst_arena_calloc(arena, cap, sizeof(*num));
	b = pst_arena_calloc(arena, cap, sizeof(*b));
	parts = pst_arena_calloc(arena, cap, sizeof(*parts));
	if (v == NULL || num == NULL || b == NULL || parts == NULL)
		return -1;
	if (var == RULES_VAR_ATT_DEFECTS) {
		for (unsigned k = 0; k < ATTACHMENT_D_COUNT; k++)
			if (scan->defects & ((uint64_t)1 << k))
				v[n++] = attachment_defect_name((uint64_t)1
								<< k);
		rules_env_strs(out, arena, v, n);
		return 0;
	}
	for (size_t i = 0; i < scan->nitems; i++) {
		const struct attachment_item *it = &scan->items[i];
		size_t first = n;

		if (!rules_env_att_reads(var, it))
			continue;
		switch (var) {
		case RULES_VAR_ATT_FILENAME:
		case RULES_VAR_ATT_ARCHIVE_FILENAME:
			for (size_t k = 0; k < it->nnames; k++)
				v[n++] = it->names[k];
			if (it->nnames == 0)
				v[n++] = "";
			break;
		case RULES_VAR_ATT_EXTENSION:
		case RULES_VAR_ATT_ARCHIVE_EXTENSION:
			for (size_t k = 0; k < it->nnames; k++) {
				const char *e =
					filename_extension(arena, it->names[k]);

				if (e == NULL)
					return -1;
				v[n++] = e;
			}
			if (it->nnames == 0)
				v[n++] = "";
			break;
		case RULES_VAR_ATT_TYPE:
			v[n++] = it->declared_type;
			break;
		case RULES_VAR_ATT_SNIFFED_TYPE:
			v[n++] = it->sniffed_type;
			break;
		case RULES_VAR_ATT_ENCRYPTED:
			b[n++] = it->encrypted;
			break;
		case RULES_VAR_ATT_DEPTH:
			num[n++] = (double)it->depth;
			break;
		default: /* RULES_VAR_ATT_SIZE */
			num[n++] = (double)it->size;
			break;
		}
		/* so that strip-attachment replaces what made the rule true */
		for (size_t k = first; k < n; k++)
			parts[k] = it->part_index;
	}
	if (var == RULES_VAR_ATT_SIZE || var == RULES_VAR_ATT_DEPTH) {
		rules_value_nums(out, num, n);
	} else if (var == RULES_VAR_ATT_ENCRYPTED) {
		/* a list of booleans: no setter, the evaluator reads it */
		out->type = RULES_T_BOOL;
		out->n = n;
		out->list.b = n > 0 ? b : NULL;
	} else {
		rules_env_strs(out, arena, v, n);
	}
	rules_value_parts(out, parts);
	return 0;
}

static int
rules_env_tags(struct rules_call *c, struct pst_arena *arena,
	       struct rules_value *out)
{
	const struct filter_ctx *ctx = c->t->ctx;
	size_t n = filter_ctx_tag_count(ctx);
	const char **v = pst_arena_calloc(arena, n ? n : 1, sizeof(*v));

	if (v == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		v[i] = filter_ctx_tag(ctx, i);
	rules_env_strs(out, arena, v, n);
	return 0;
}

int
rules_filter_env_get(void *arg, enum rules_var var, const char *name,
		     struct pst_arena *arena, struct rules_value *out)
{
	struct rules_call *c = arg;
	struct pf_txn *t = c->t;
	const char *s;
	struct rules_ip ip;
	struct tm tm;
	time_t now;
	static const char *const days[] = { "sun", "mon", "tue", "wed",
					    "thu", "fri", "sat" };

	switch (var) {
	case RULES_VAR_CLIENT_IP:
		s = pf_client_addr(t);
		if (s != NULL && rules_ip_parse(s, strlen(s), &ip) == 0)
			rules_value_ip(out, &ip);
		return 0;
	case RULES_VAR_CLIENT_PTR:
		rules_value_cstr(out, pf_client_name(t));
		return 0;
	case RULES_VAR_CLIENT_TLS:
		rules_value_bool(out, pf_tls(t) != NULL);
		return 0;
	case RULES_VAR_CLIENT_LOGIN:
		rules_value_cstr(out, pf_auth_user(t));
		return 0;
	case RULES_VAR_TIME_HOUR:
	case RULES_VAR_TIME_WEEKDAY:
		now = time(NULL);
		localtime_r(&now, &tm);
		if (var == RULES_VAR_TIME_HOUR)
			rules_value_num(out, tm.tm_hour);
		else
			rules_value_cstr(out, days[tm.tm_wday % 7]);
		return 0;
	case RULES_VAR_HELO:
		rules_value_cstr(out, pf_helo(t));
		return 0;
	case RULES_VAR_FROM:
	case RULES_VAR_FROM_LOCAL:
	case RULES_VAR_FROM_DOMAIN:
		s = pf_mail_from(t);
		if (s != NULL && var != RULES_VAR_FROM)
			s = rules_env_addr_part(arena, s,
						var == RULES_VAR_FROM_DOMAIN);
		rules_value_cstr(out, s);
		return 0;
	case RULES_VAR_SPF:
		rules_value_cstr(out, pf_result_get(t, "spf"));
		return 0;
	case RULES_VAR_DKIM:
		rules_value_cstr(out, pf_result_get(t, "dkim"));
		return 0;
	case RULES_VAR_DMARC:
		rules_value_cstr(out, pf_result_get(t, "dmarc"));
		return 0;
	case RULES_VAR_DMARC_POLICY:
		rules_value_cstr(out, pf_result_get(t, "dmarc.policy"));
		return 0;
	case RULES_VAR_RESULT:
		rules_value_cstr(out, name ? pf_result_get(t, name) : NULL);
		return 0;
	case RULES_VAR_RCPT:
	case RULES_VAR_RCPT_LOCAL:
	case RULES_VAR_RCPT_DOMAIN:
		return rules_env_rcpts(c, var, arena, out);
	case RULES_VAR_HEADER:
		return rules_env_headers(c, name ? name : "", false, arena,
					 out);
	case RULES_VAR_HEADER_COUNT: {
		size_t n = 0;

		while (name && pf_header_value(t, name, n) != NULL)
			n++;
		rules_value_num(out, (double)n);
		return 0;
	}
	case RULES_VAR_RAWHEADERS:
		return rules_env_headers(c, NULL, true, arena, out);
	case RULES_VAR_SUBJECT:
		rules_value_cstr(out, pf_header_value(t, "Subject", 0));
		return 0;
	case RULES_VAR_MESSAGE_SIZE:
		rules_value_num(out, (double)pf_message_size(t));
		return 0;
	case RULES_VAR_MESSAGE_DEFECTS:
		return rules_env_defects(c, arena, out);
	case RULES_VAR_BODY:
	case RULES_VAR_URLS:
	case RULES_VAR_URL_DOMAIN:
		return rules_env_content(c, var, arena, out);
	case RULES_VAR_RAWBODY:
		return rules_env_rawbody(c, arena, out);
	case RULES_VAR_ATT_COUNT:
	case RULES_VAR_ATT_FILENAME:
	case RULES_VAR_ATT_EXTENSION:
	case RULES_VAR_ATT_TYPE:
	case RULES_VAR_ATT_SIZE:
	case RULES_VAR_ATT_SNIFFED_TYPE:
	case RULES_VAR_ATT_ARCHIVE_FILENAME:
	case RULES_VAR_ATT_ARCHIVE_EXTENSION:
	case RULES_VAR_ATT_ARCHIVE_COUNT:
	case RULES_VAR_ATT_ENCRYPTED:
	case RULES_VAR_ATT_DEPTH:
	case RULES_VAR_ATT_DEFECTS:
		return rules_env_attachments(c, var, arena, out);
	case RULES_VAR_SCORE:
		rules_value_num(out, pf_score(t));
		return 0;
	case RULES_VAR_TAGS:
		return rules_env_tags(c, arena, out);
	default:
		return 0;
	}
}
