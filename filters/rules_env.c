/*
 * rules_env.c - what the rules read: the values of rule variables for
 * one call of the rules filter, from the session and message through the
 * same accessors a plugin uses (and the MIME tree for defects).
 *
 * The body is the decoded text of the message's text parts (not
 * attachments), converted to UTF-8, HTML reduced to its text (tags,
 * scripts and styles dropped, common entities decoded), bounded by
 * RULES_ENV_BODY_MAX so a huge message cannot make a huge buffer.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "charset.h"
#include "filter_int.h"
#include "rules_filter.h"

/* Text of the body the rules see; the rest is not scanned. */
#define RULES_ENV_BODY_MAX (4u << 20)
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

/* Drop tags, scripts and styles; decode a few entities; keep the text. */
static void
rules_env_html_text(const char *in, size_t len, struct pst_buf *out)
{
	static const struct {
		const char *name;
		const char *text;
	} entities[] = {
		{ "&amp;", "&" },   { "&lt;", "<" },  { "&gt;", ">" },
		{ "&quot;", "\"" }, { "&#39;", "'" }, { "&nbsp;", " " },
		{ "&apos;", "'" },
	};
	size_t i = 0;

	while (i < len) {
		if (in[i] == '<') {
			const char *close = NULL;

			if (len - i > 7 &&
			    (strncasecmp(in + i, "<script", 7) == 0))
				close = "</script";
			else if (len - i > 6 &&
				 strncasecmp(in + i, "<style", 6) == 0)
				close = "</style";
			if (close != NULL) {
				size_t cl = strlen(close), j = i + 1;

				while (j + cl <= len &&
				       strncasecmp(in + j, close, cl) != 0)
					j++;
				i = j;
			}
			while (i < len && in[i] != '>')
				i++;
			i++;
			pst_buf_append(out, " ", 1);
			continue;
		}
		if (in[i] == '&') {
			size_t k;

			for (k = 0; k < sizeof(entities) / sizeof(entities[0]);
			     k++) {
				size_t el = strlen(entities[k].name);

				if (len - i >= el &&
				    strncasecmp(in + i, entities[k].name, el) ==
					    0) {
					pst_buf_append(
						out, entities[k].text,
						strlen(entities[k].text));
					i += el;
					break;
				}
			}
			if (k < sizeof(entities) / sizeof(entities[0]))
				continue;
		}
		pst_buf_append(out, in + i, 1);
		i++;
	}
}

/* Append the decoded UTF-8 text of one text part to body. */
static int
rules_env_part_text(struct rules_call *c, const struct pf_part *p,
		    struct pst_buf *body)
{
	struct pf_stream *st = pf_part_open(c->t, p);
	struct charset_conv *conv = charset_conv_new(pf_part_charset(c->t, p));
	bool html = strcmp(pf_part_type(c->t, p), "text/html") == 0;
	struct pst_buf text;
	char chunk[16384];
	ssize_t n;
	int rc = 0;

	pst_buf_init(&text, 0);
	if (st == NULL || conv == NULL) {
		rc = -1;
		goto out;
	}
	while (body->len + text.len < RULES_ENV_BODY_MAX &&
	       (n = pf_stream_read(c->t, st, chunk, sizeof(chunk))) > 0)
		if (charset_conv_feed(conv, chunk, (size_t)n, &text) < 0) {
			rc = -1;
			goto out;
		}
	charset_conv_finish(conv, &text);
	if (html)
		rules_env_html_text(text.data ? text.data : "", text.len, body);
	else if (text.len > 0)
		pst_buf_append(body, text.data, text.len);
	pst_buf_append(body, "\n", 1);
out:
	if (st != NULL)
		pf_stream_close(c->t, st);
	charset_conv_free(&conv);
	pst_buf_free(&text);
	return rc;
}

static int
rules_env_body(struct rules_call *c, struct pst_arena *arena,
	       struct rules_value *out)
{
	struct pst_buf body;
	int rc = 0;

	pst_buf_init(&body, 0);
	for (const struct pf_part *p = pf_part_root(c->t); p != NULL;
	     p = pf_part_next(c->t, p)) {
		const char *type = pf_part_type(c->t, p);
		const char *disp = pf_part_disposition(c->t, p);

		if (pf_part_size(c->t, p) == 0 ||
		    strncmp(type, "text/", 5) != 0 ||
		    (disp != NULL && strcmp(disp, "attachment") == 0))
			continue;
		if (body.len >= RULES_ENV_BODY_MAX ||
		    rules_env_part_text(c, p, &body) < 0)
			break;
	}
	if (body.len > 0) {
		char *copy = pst_arena_strndup(arena, body.data, body.len);

		if (copy == NULL)
			rc = -1;
		else
			rules_value_str(out, copy, body.len);
	}
	pst_buf_free(&body);
	return rc;
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

/* attachment.*: parts with a file name or an attachment disposition. */
static int
rules_env_attachments(struct rules_call *c, enum rules_var var,
		      struct pst_arena *arena, struct rules_value *out)
{
	size_t cap = 16, n = 0;
	const char **v = pst_arena_calloc(arena, cap, sizeof(*v));
	double *num = pst_arena_calloc(arena, cap, sizeof(*num));

	if (v == NULL || num == NULL)
		return -1;
	for (const struct pf_part *p = pf_part_root(c->t); p != NULL;
	     p = pf_part_next(c->t, p)) {
		const char *fn = pf_part_filename(c->t, p);
		const char *disp = pf_part_disposition(c->t, p);
		const char *dot;

		if (fn == NULL && (disp == NULL || strcmp(disp, "attachment")))
			continue;
		if (n == cap) {
			const char **nv =
				pst_arena_calloc(arena, cap * 2, sizeof(*nv));
			double *nn =
				pst_arena_calloc(arena, cap * 2, sizeof(*nn));

			if (nv == NULL || nn == NULL)
				return -1;
			memcpy(nv, v, n * sizeof(*v));
			memcpy(nn, num, n * sizeof(*num));
			v = nv;
			num = nn;
			cap *= 2;
		}
		switch (var) {
		case RULES_VAR_ATT_FILENAME:
			v[n] = fn ? fn : "";
			break;
		case RULES_VAR_ATT_EXTENSION:
			dot = fn ? strrchr(fn, '.') : NULL;
			v[n] = dot ? dot + 1 : "";
			break;
		case RULES_VAR_ATT_TYPE:
			v[n] = pf_part_type(c->t, p);
			break;
		default:
			num[n] = (double)pf_part_size(c->t, p);
			break;
		}
		n++;
	}
	if (var == RULES_VAR_ATT_COUNT)
		rules_value_num(out, (double)n);
	else if (var == RULES_VAR_ATT_SIZE)
		rules_value_nums(out, num, n);
	else
		rules_env_strs(out, arena, v, n);
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
		return rules_env_body(c, arena, out);
	case RULES_VAR_RAWBODY:
		return rules_env_rawbody(c, arena, out);
	case RULES_VAR_ATT_COUNT:
	case RULES_VAR_ATT_FILENAME:
	case RULES_VAR_ATT_EXTENSION:
	case RULES_VAR_ATT_TYPE:
	case RULES_VAR_ATT_SIZE:
		return rules_env_attachments(c, var, arena, out);
	case RULES_VAR_SCORE:
		rules_value_num(out, pf_score(t));
		return 0;
	case RULES_VAR_TAGS:
		return rules_env_tags(c, arena, out);
	default:
		/* sniffed types and archive members come with the
		 * attachment filter (issue 8): absent until then */
		return 0;
	}
}
