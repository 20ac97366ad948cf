/*
 * dkim_verify.c - one message through a libopendkim verifying handle,
 * and what each signature came to.
 *
 * The header fields are fed one by one from the parsed message (the
 * fields postern's MIME parser saw, with their bytes from the spool), so
 * that DKIM judges the same header as every other filter and rule; the
 * body is fed in chunks straight from the spool, never held whole.  Only
 * the topmost max_signatures DKIM-Signature fields are fed: each one
 * costs a key lookup and a body hash of its own, and an attacker may
 * add any number of them.  Every signature gets a result of its own:
 * libopendkim keeps even unparseable signatures (BADSIGHANDLES), and one
 * whose DKIM-Signature field it refused, or whose d= and s= make no
 * valid key name, is a permerror here before any lookup.  An l= that
 * leaves body content unsigned is flagged (the signed part may be a
 * whole message that something was appended to) and, unless allowed,
 * turns a pass into policy.
 *
 * Runs on the calling thread (a filter worker): key lookups block it,
 * under the deadline in the filter_dkim_dns.  Results live on the arena.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "auth_results.h"
#include "buf.h"
#include "dkim_int.h"
#include "mime.h"

/* Blanks we look past between a field name and its colon. */
#define DKIM_NAME_BLANKS_MAX 256
/* Longest d=, s=, a= and reason we show: together they fit in one A-R
 * resinfo (AUTH_RESULTS_PROPS_MAX). */
#define DKIM_SHOW_DOMAIN 253
#define DKIM_SHOW_SELECTOR 253
#define DKIM_SHOW_ALG 64
#define DKIM_SHOW_REASON 128

struct dkim_vrun {
	const struct filter_dkim_opts *opts;
	size_t nfed;			    /* DKIM-Signature fields fed */
	bool badfield[DKIM_MAX_SIGNATURES]; /* libopendkim refused it */
	bool badname[DKIM_MAX_SIGNATURES];  /* no valid key name */
};

/* ---- showing what a signature says ---- */

/* s as a printable, quote-free string of at most max bytes ("" for
 * NULL), with spaces only when text: what a signature says is shown,
 * never trusted. */
static const char *
dkim_show(struct pst_arena *arena, const void *s, size_t max, bool text)
{
	char low = text ? 0x20 : 0x21;
	size_t n;
	char *out;

	if (s == NULL)
		return "";
	n = strnlen((const char *)s, max);
	out = pst_arena_strndup(arena, (const char *)s, n);
	if (out == NULL)
		return "";
	for (size_t i = 0; i < n; i++)
		if (out[i] < low || out[i] > 0x7e || out[i] == '"' ||
		    out[i] == '\\')
			out[i] = '?';
	return out;
}

/* ---- feeding ---- */

/* Field h's bytes, without the final line break, into b: the name as
 * written, blanks, the colon and the raw value. */
static int
dkim_field_bytes(const struct filter_dkim_input *msg,
		 const struct mime_header *h, uint64_t limit, struct pst_buf *b)
{
	char blanks[DKIM_NAME_BLANKS_MAX + 1];
	uint64_t at = h->offset + h->name.len;
	size_t k = 0, len;
	ssize_t n;

	if (at >= limit)
		return -1;
	n = msg->read(msg->arg, blanks,
		      limit - at < sizeof(blanks) ? (size_t)(limit - at)
						  : sizeof(blanks),
		      at);
	if (n <= 0)
		return -1;
	while (k < (size_t)n && (blanks[k] == ' ' || blanks[k] == '\t'))
		k++;
	if (k >= (size_t)n || blanks[k] != ':')
		return -1;
	len = h->name.len + k + 1 + h->raw.len;
	if (len > limit - h->offset)
		return -1;
	pst_buf_reset(b);
	if (pst_buf_reserve(b, len) < 0)
		return -1;
	n = msg->read(msg->arg, b->data, len, h->offset);
	if (n != (ssize_t)len)
		return -1;
	b->len = len;
	b->data[len] = '\0';
	return 0;
}

/* Feed the header fields; 0, or -1 with *error_r. */
static int
dkim_feed_headers(DKIM *dkim, struct dkim_vrun *run,
		  const struct filter_dkim_input *msg, size_t *skipped_r,
		  const char **error_r)
{
	struct pst_buf b;
	int rc = 0;

	pst_buf_init(&b, 0);
	for (size_t i = 0; i < msg->nheaders; i++) {
		const struct mime_header *h = msg->headers[i];
		uint64_t limit = i + 1 < msg->nheaders
					 ? msg->headers[i + 1]->offset
					 : msg->body_start;
		bool sig = h->name.len == strlen(DKIM_SIGNHEADER) &&
			   strncasecmp(h->name.p, DKIM_SIGNHEADER,
				       h->name.len) == 0;
		DKIM_STAT st;

		if (sig && run->nfed >= run->opts->max_signatures) {
			(*skipped_r)++;
			continue;
		}
		if (limit > msg->size ||
		    dkim_field_bytes(msg, h, limit, &b) < 0)
			continue; /* not a field we can show it: skip */
		/* libopendkim refuses a tab before the colon without
		 * making the signature an entry of its list: results
		 * would no longer line up with the fields. */
		for (size_t j = h->name.len; sig && b.data[j] != ':'; j++)
			b.data[j] = ' ';
		st = dkim_header(dkim, (unsigned char *)b.data, b.len);
		if (st != DKIM_STAT_OK && st != DKIM_STAT_SYNTAX &&
		    st != DKIM_STAT_CANTVRFY) {
			*error_r = dkim_geterror(dkim) ? dkim_geterror(dkim)
						       : dkim_getresultstr(st);
			rc = -1;
			break;
		}
		if (sig)
			run->badfield[run->nfed++] = st != DKIM_STAT_OK;
	}
	pst_buf_free(&b);
	return rc;
}

static int
dkim_feed_body(DKIM *dkim, const struct filter_dkim_input *msg,
	       struct filter_dkim_bodylen *bl, const char **error_r)
{
	unsigned char buf[DKIM_CHUNK];
	unsigned char tail[2] = { '\r', '\n' };
	uint64_t at = msg->body_start;
	DKIM_STAT st;

	while (at < msg->size) {
		size_t want = msg->size - at < sizeof(buf)
				      ? (size_t)(msg->size - at)
				      : sizeof(buf);
		ssize_t n = msg->read(msg->arg, buf, want, at);

		if (n <= 0) {
			*error_r = "cannot read the message";
			return -1;
		}
		filter_dkim_bodylen_feed(bl, buf, (size_t)n);
		st = dkim_body(dkim, buf, (size_t)n);
		if (st != DKIM_STAT_OK) {
			*error_r = dkim_getresultstr(st);
			return -1;
		}
		at += (uint64_t)n;
		tail[0] = n > 1 ? buf[n - 2] : tail[1];
		tail[1] = buf[n - 1];
	}
	/* Canonicalization ends a last line without CRLF with one (RFC
	 * 6376 3.4.3, 3.4.4); libopendkim wants to see it. */
	if (tail[0] != '\r' || tail[1] != '\n') {
		memcpy(buf, "\r\n", 2);
		st = dkim_body(dkim, buf, 2);
		if (st != DKIM_STAT_OK) {
			*error_r = dkim_getresultstr(st);
			return -1;
		}
	}
	return 0;
}

/* Before any key lookup: a signature whose d= and s= make no key name
 * we could ask for is refused here (libopendkim would otherwise give up
 * on every signature when the name is too long for its buffer). */
static DKIM_CBSTAT
dkim_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	struct dkim_vrun *run = dkim_get_user_context(dkim);

	for (int i = 0; run != NULL && i < nsigs && i < DKIM_MAX_SIGNATURES;
	     i++) {
		const char *d = (const char *)dkim_sig_getdomain(sigs[i]);
		const char *s = (const char *)dkim_sig_getselector(sigs[i]);
		char name[300];
		int n;

		if (dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_UNKNOWN)
			continue;
		n = d && s ? snprintf(name, sizeof(name), "%s._domainkey.%s", s,
				      d)
			   : -1;
		if (n < 0 || (size_t)n >= sizeof(name) ||
		    !filter_dkim_name_ok(name)) {
			run->badname[i] = true;
			dkim_sig_seterror(sigs[i], DKIM_SIGERROR_DOMAIN);
		}
	}
	return DKIM_CBSTAT_CONTINUE;
}

/* ---- results ---- */

static void
dkim_map_error(const DKIM_SIGINFO *csig, struct filter_dkim_sig *r)
{
	DKIM_SIGINFO *sig = (DKIM_SIGINFO *)csig;
	int err = dkim_sig_geterror(sig);

	r->reason = dkim_sig_geterrorstr(err);
	switch (err) {
	case DKIM_SIGERROR_KEYFAIL:
		r->result = "temperror";
		r->reason = "key lookup failed";
		break;
	case DKIM_SIGERROR_BADSIG:
		r->result = "fail";
		r->reason = dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH
				    ? "body hash did not verify"
				    : "signature did not verify";
		break;
	case DKIM_SIGERROR_TOOLARGE_L:
		r->result = "fail";
		r->reason = "l= is longer than the body";
		break;
	case DKIM_SIGERROR_KEYTOOSMALL:
		r->result = "policy";
		r->reason = "key too small";
		break;
	case DKIM_SIGERROR_OK:
	case DKIM_SIGERROR_UNKNOWN:
		/* Never finished (libopendkim gave up on the message). */
		r->result = "temperror";
		r->reason = "not verified";
		break;
	default:
		r->result = "permerror";
		break;
	}
}

static void
dkim_sig_outcome(DKIM *dkim, DKIM_SIGINFO *sig, const struct dkim_vrun *run,
		 size_t i, uint64_t simple_len, uint64_t relaxed_len,
		 struct pst_arena *arena, struct filter_dkim_sig *r)
{
	r->domain = dkim_show(arena,
			      dkim_sig_gettagvalue(sig, false, (u_char *)"d"),
			      DKIM_SHOW_DOMAIN, false);
	r->selector = dkim_show(arena,
				dkim_sig_gettagvalue(sig, false, (u_char *)"s"),
				DKIM_SHOW_SELECTOR, false);
	r->algorithm = dkim_show(
		arena, dkim_sig_gettagvalue(sig, false, (u_char *)"a"),
		DKIM_SHOW_ALG, false);
	r->b8 = dkim_show(arena,
			  dkim_sig_gettagvalue(sig, false, (u_char *)"b"), 8,
			  false);
	if (r->b8[0] == '\0')
		r->b8 = NULL;
	r->reason = NULL;
	if (i < run->nfed && run->badfield[i]) {
		r->result = "permerror";
		r->reason = "signature syntax error";
	} else if (i < DKIM_MAX_SIGNATURES && run->badname[i]) {
		r->result = "permerror";
		r->reason = "invalid d= or s=";
	} else if (DKIM_SIG_CHECK(sig) &&
		   (dkim_sig_geterror(sig) == DKIM_SIGERROR_OK ||
		    dkim_sig_geterror(sig) == DKIM_SIGERROR_UNKNOWN)) {
		ssize_t msglen = -1, canonlen = -1, signlen = -1;
		dkim_canon_t hc = DKIM_CANON_SIMPLE, bc = DKIM_CANON_SIMPLE;

		r->result = "pass";
		if (dkim_sig_getcanonlen(dkim, sig, &msglen, &canonlen,
					 &signlen) == DKIM_STAT_OK &&
		    signlen >= 0 &&
		    dkim_sig_getcanons(sig, &hc, &bc) == DKIM_STAT_OK)
			r->partial = (uint64_t)signlen <
				     (bc == DKIM_CANON_RELAXED ? relaxed_len
							       : simple_len);
		if (r->partial && !run->opts->allow_partial) {
			r->result = "policy";
			r->reason = "l= leaves part of the body unsigned";
		}
	} else {
		dkim_map_error(sig, r);
	}
	if (r->reason != NULL)
		r->reason = dkim_show(arena, r->reason, DKIM_SHOW_REASON, true);
}

static const char *
dkim_overall(const struct filter_dkim_result *out)
{
	static const char *const order[] = { "pass",	  "fail",   "temperror",
					     "permerror", "policy", "neutral" };

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (size_t i = 0; i < out->nsigs; i++)
			if (strcmp(out->sigs[i].result, order[k]) == 0)
				return order[k];
	return out->nsigs > 0 ? "neutral" : "none";
}

/* Human text for the whole message failing: printable, on arena. */
static void
dkim_fail(struct filter_dkim_result *out, struct pst_arena *arena,
	  const char *why)
{
	const char *shown = dkim_show(arena, why, DKIM_SHOW_REASON, true);

	out->overall = "temperror";
	out->error = shown[0] != '\0' ? shown : "verification failed";
	out->nsigs = 0;
}

void
filter_dkim_verify(DKIM_LIB *lib, const struct filter_dkim_opts *opts,
		   struct filter_dkim_dns *call, struct pst_arena *arena,
		   const char *id, const struct filter_dkim_input *msg,
		   struct filter_dkim_result *out)
{
	struct dkim_vrun run;
	struct filter_dkim_bodylen bl;
	DKIM_SIGINFO **sigs = NULL;
	const char *error = NULL;
	uint64_t slen, rlen;
	DKIM_STAT st;
	DKIM *dkim;
	int nsigs = 0;

	memset(out, 0, sizeof(*out));
	memset(&run, 0, sizeof(run));
	run.opts = opts;
	filter_dkim_bodylen_init(&bl);
	out->overall = "none";
	if (msg->body_start > msg->size) {
		dkim_fail(out, arena, "unexpected layout of the message");
		return;
	}
	dkim = dkim_verify(lib, (const unsigned char *)id, NULL, &st);
	if (dkim == NULL) {
		dkim_fail(out, arena, dkim_getresultstr(st));
		return;
	}
	dkim_set_user_context(dkim, &run);
	filter_dkim_dns_begin(call);
	if (dkim_feed_headers(dkim, &run, msg, &out->skipped, &error) < 0)
		goto fail;
	st = dkim_eoh(dkim);
	if (st == DKIM_STAT_NOSIG && run.nfed == 0)
		goto done; /* unsigned */
	if (st != DKIM_STAT_OK && st != DKIM_STAT_NOSIG) {
		error = dkim_geterror(dkim) ? dkim_geterror(dkim)
					    : dkim_getresultstr(st);
		goto fail;
	}
	if (st == DKIM_STAT_OK && dkim_feed_body(dkim, msg, &bl, &error) < 0)
		goto fail;
	if (st == DKIM_STAT_OK)
		(void)dkim_eom(dkim, NULL);
	filter_dkim_bodylen_end(&bl, &slen, &rlen);
	if (dkim_getsiglist(dkim, &sigs, &nsigs) != DKIM_STAT_OK || nsigs < 0) {
		error = "no signature list";
		goto fail;
	}
	out->sigs = pst_arena_calloc(arena, nsigs > 0 ? (size_t)nsigs : 1,
				     sizeof(*out->sigs));
	if (out->sigs == NULL) {
		error = "out of memory";
		goto fail;
	}
	for (int i = 0; i < nsigs; i++)
		dkim_sig_outcome(dkim, sigs[i], &run, (size_t)i, slen, rlen,
				 arena, &out->sigs[i]);
	out->nsigs = (size_t)nsigs;
	out->overall = dkim_overall(out);
	goto done;
fail:
	dkim_fail(out, arena, error);
done:
	filter_dkim_dns_begin(NULL);
	dkim_free(dkim);
}

int
filter_dkim_verify_setup(DKIM_LIB *lib)
{
	/* Keep unparseable signatures in the list: each gets a result. */
	unsigned int flags = DKIM_LIBFLAGS_BADSIGHANDLES;

	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
			 sizeof(flags)) != DKIM_STAT_OK ||
	    filter_dkim_dns_setup(lib) < 0 ||
	    dkim_set_prescreen(lib, dkim_prescreen) != DKIM_STAT_OK)
		return -1;
	return 0;
}

/* ---- Authentication-Results ---- */

static bool
dkim_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		      *s == '_' || *s == '+'))
			return false;
	return true;
}

static int
dkim_ar_prop(struct pst_buf *b, const char *name, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return 0;
	if (b->len > 0 && pst_buf_append_byte(b, ' ') < 0)
		return -1;
	/* The values are printable and quote-free (dkim_show). */
	return pst_buf_printf(b, dkim_token(value) ? "%s=%s" : "%s=\"%s\"",
			      name, value);
}

const char *
filter_dkim_ar_props(struct pst_arena *arena, const struct filter_dkim_sig *sig,
		     bool with_b)
{
	struct pst_buf b;
	const char *out = NULL;

	pst_buf_init(&b, AUTH_RESULTS_PROPS_MAX);
	if (dkim_ar_prop(&b, "reason", sig->reason) == 0 &&
	    dkim_ar_prop(&b, "header.d", sig->domain) == 0 &&
	    dkim_ar_prop(&b, "header.s", sig->selector) == 0 &&
	    dkim_ar_prop(&b, "header.a", sig->algorithm) == 0 &&
	    dkim_ar_prop(&b, "header.b", with_b ? sig->b8 : NULL) == 0)
		out = pst_arena_strdup(arena, b.len > 0 ? b.data : "");
	pst_buf_free(&b);
	return out;
}
