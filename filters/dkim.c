/*
 * dkim.c - the built-in dkim filter: verifies every DKIM-Signature of a
 * message (rsa-sha256, ed25519-sha256; libopendkim, keys through the
 * shared resolver) and has the mail of trusted clients signed as it
 * leaves.
 *
 *	filter dkim {
 *		sign = ["example.org:s1:/etc/postern/dkim/s1.key",
 *			"example.org:e1:/etc/postern/dkim/e1.key"];
 *		sign_headers = ["from", "to", "subject", ...];
 *		max_signatures = 10;
 *	}
 *
 * At message, for other clients: results per signature (dkim.N.domain,
 * .selector, .algorithm, .result, .partial), the best of them as
 * "dkim", the d= of the passing ones as dkim.pass_domains (dmarc reads
 * these), and one Authentication-Results entry each.  For a trusted
 * (smtp.trusted_networks) or authenticated client, when keys are
 * configured, the transaction is marked for signing instead: edit.c has
 * the message signed exactly as it leaves, after every other edit
 * (filter_dkim_sign_fields in dkim_sign.c).
 *
 * Blocking (key lookups): runs on the filter threads, never on a loop.
 * The module is read-only after init and shared by every session.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "buf.h"
#include "dkim_int.h"
#include "mime.h"

/* RFC 6376 5.4.1, and the fields a MIME client shows or uses. */
static const char *const dkim_default_sign_headers[] = {
	"from",
	"reply-to",
	"subject",
	"date",
	"to",
	"cc",
	"resent-date",
	"resent-from",
	"resent-sender",
	"resent-to",
	"resent-cc",
	"in-reply-to",
	"references",
	"list-id",
	"list-help",
	"list-unsubscribe",
	"list-subscribe",
	"list-post",
	"list-owner",
	"list-archive",
	"message-id",
	"sender",
	"mime-version",
	"content-type",
	"content-transfer-encoding",
	"content-disposition",
	NULL,
};

/* Names signed once more than present, so an added one breaks the
 * signature (RFC 6376 8.15). */
static const char *const dkim_default_oversign[] = { "from", NULL };

#define DKIM_HEADER_NAME_MAX 64
#define DKIM_HEADERS_MAX 64
#define DKIM_KEYS_MAX 16

struct filter_dkim_module {
	struct pst_arena *arena;
	DKIM_LIB *lib;
	struct pst_dns *dns;
	filter_dkim_fake_fn *fake;
	void *fake_arg;
	struct filter_dkim_opts vopts;
	bool verify;
	uint64_t budget; /* ms for all lookups of a message */
	struct filter_dkim_signer signer;
};

extern const struct postern_filter filter_dkim_def;

/* ---- init ---- */

static bool
dkim_header_name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		      (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '-' ||
		      s[n] == '_'))
			return false;
	return n > 0 && n <= DKIM_HEADER_NAME_MAX;
}

/* Option key, a list of header names (default def), as libopendkim's
 * NULL-terminated array on the module's arena.  NULL after an error. */
static const char **
dkim_header_list(struct pf_module *m, struct filter_dkim_module *dm,
		 const char *key, const char *const *def)
{
	const char *const *v = def;
	const char **out;
	size_t n = 0;
	int rc;

	while (def[n] != NULL)
		n++;
	rc = pf_option_list(m, key, &v, &n);
	if (rc < 0)
		return NULL;
	if (n > DKIM_HEADERS_MAX) {
		pf_module_error(m, key, "at most %d header names",
				DKIM_HEADERS_MAX);
		return NULL;
	}
	out = pst_arena_calloc(dm->arena, n + 1, sizeof(*out));
	if (out == NULL) {
		pf_module_error(m, key, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!dkim_header_name_ok(v[i])) {
			pf_module_error(m, key, "'%s' is not a header name",
					v[i]);
			return NULL;
		}
		out[i] = v[i];
	}
	return out;
}

static int
dkim_init_lib(struct pf_module *m, struct filter_dkim_module *dm)
{
	const char **sign, **over;

	dm->lib = dkim_init(NULL, NULL);
	if (dm->lib == NULL || filter_dkim_verify_setup(dm->lib) < 0) {
		pf_module_error(m, NULL, "libopendkim: cannot initialise");
		return -1;
	}
	sign = dkim_header_list(m, dm, "sign_headers",
				dkim_default_sign_headers);
	if (sign == NULL)
		return -1;
	over = dkim_header_list(m, dm, "oversign_headers",
				dkim_default_oversign);
	if (over == NULL)
		return -1;
	dm->signer.sign_headers = sign;
	dm->signer.oversign = over;
	if (dkim_options(dm->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, sign,
			 sizeof(sign)) != DKIM_STAT_OK ||
	    dkim_options(dm->lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, over,
			 sizeof(over)) != DKIM_STAT_OK) {
		pf_module_error(m, "sign_headers",
				"libopendkim refused the header lists");
		return -1;
	}
	return 0;
}

static int
dkim_init_keys(struct pf_module *m, struct filter_dkim_module *dm)
{
	const char *const *v = NULL;
	struct filter_dkim_key *keys;
	char err[512];
	size_t n = 0;

	if (pf_option_list(m, "sign", &v, &n) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (n > DKIM_KEYS_MAX) {
		pf_module_error(m, "sign", "at most %d keys", DKIM_KEYS_MAX);
		return -1;
	}
	keys = pst_arena_calloc(dm->arena, n, sizeof(*keys));
	if (keys == NULL) {
		pf_module_error(m, "sign", "out of memory");
		return -1;
	}
	dm->signer.keys = keys;
	for (size_t i = 0; i < n; i++) {
		if (filter_dkim_key_load(dm->lib, dm->arena, v[i], &keys[i],
					 err, sizeof(err)) < 0) {
			pf_module_error(m, "sign", "%s", err);
			return -1;
		}
		dm->signer.nkeys++;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(keys[j].domain, keys[i].domain) == 0 &&
			    strcasecmp(keys[j].selector, keys[i].selector) ==
				    0) {
				pf_module_error(
					m, "sign", "%s:%s is listed twice",
					keys[i].domain, keys[i].selector);
				return -1;
			}
		}
	}
	return 0;
}

static void
dkim_module_free(struct filter_dkim_module *dm)
{
	if (dm == NULL)
		return;
	filter_dkim_keys_wipe(dm->signer.keys, dm->signer.nkeys);
	if (dm->lib != NULL)
		dkim_close(dm->lib);
	pst_arena_free(&dm->arena);
	free(dm);
}

static int
dkim_filter_init(struct pf_module *m)
{
	struct filter_dkim_module *dm = calloc(1, sizeof(*dm));
	int64_t max = DKIM_DEFAULT_MAX_SIGNATURES;
	int allow_partial = 0, verify = 1;

	if (dm == NULL || (dm->arena = pst_arena_new(0)) == NULL) {
		free(dm);
		pf_module_error(m, NULL, "out of memory");
		return -1;
	}
	if (pf_option_int(m, "max_signatures", &max) < 0 ||
	    pf_option_bool(m, "allow_partial", &allow_partial) < 0 ||
	    pf_option_bool(m, "verify", &verify) < 0)
		goto fail;
	if (max < 1 || max > DKIM_MAX_SIGNATURES) {
		pf_module_error(m, "max_signatures",
				"max_signatures must be 1 to %d",
				DKIM_MAX_SIGNATURES);
		goto fail;
	}
	dm->vopts.max_signatures = (size_t)max;
	dm->vopts.allow_partial = allow_partial != 0;
	dm->verify = verify != 0;
	/* No lookup starts after three quarters of the filter's deadline
	 * (each takes at most the dns {} timeout): a slow resolver gives
	 * temperror, not a missed deadline. */
	dm->budget =
		m->conf->timeout / 4 * 3 > 0 ? m->conf->timeout / 4 * 3 : 1000;
	dm->dns = m->chain->conf->dns;
	dm->signer.name = pf_module_name(m);
	dm->signer.base.sign = filter_dkim_sign_fields;
	if (dkim_init_lib(m, dm) < 0)
		goto fail;
	dm->signer.lib = dm->lib;
	if (dkim_init_keys(m, dm) < 0)
		goto fail;
	pf_module_set_data(m, dm);
	return 0;
fail:
	dkim_module_free(dm);
	return -1;
}

static void
dkim_filter_fini(struct pf_module *m)
{
	dkim_module_free(pf_module_data(m));
	pf_module_set_data(m, NULL);
}

/* ---- verifying ---- */

static ssize_t
dkim_txn_read(void *arg, void *buf, size_t len, uint64_t off)
{
	return pf_message_read(arg, buf, len, off);
}

/* The d= of the passing signatures, lower case, each once. */
static const char *
dkim_pass_domains(struct pst_arena *arena, const struct filter_dkim_result *r)
{
	struct pst_buf b;
	const char *out = NULL;

	pst_buf_init(&b, FILTER_RESULT_VALUE_MAX - 1);
	for (size_t i = 0; i < r->nsigs; i++) {
		bool seen = false;

		if (strcmp(r->sigs[i].result, "pass") != 0 ||
		    r->sigs[i].domain[0] == '\0')
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(r->sigs[j].result, "pass") == 0 &&
			       strcasecmp(r->sigs[j].domain,
					  r->sigs[i].domain) == 0;
		if (seen)
			continue;
		if ((b.len > 0 && pst_buf_append_byte(&b, ' ') < 0) ||
		    pst_buf_append_cstr(&b, r->sigs[i].domain) < 0)
			break;
	}
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] >= 'A' && b.data[i] <= 'Z')
			b.data[i] = (char)(b.data[i] - 'A' + 'a');
	if (b.len > 0)
		out = pst_arena_strdup(arena, b.data);
	pst_buf_free(&b);
	return out;
}

static void
dkim_set(struct pf_txn *t, size_t n, const char *what, const char *value)
{
	char key[FILTER_RESULT_KEY_MAX + 1];

	snprintf(key, sizeof(key), "dkim.%zu.%s", n, what);
	if (pf_result_set(t, key, value) < 0)
		pf_log(t, PF_LOG_WARNING, "result %s refused", key);
}

/* Results, Authentication-Results and the log for one message. */
static void
dkim_report(struct pf_txn *t, struct pst_arena *arena,
	    const struct filter_dkim_result *r)
{
	const char *pass = dkim_pass_domains(arena, r);

	pf_result_set(t, "dkim", r->overall);
	if (pass != NULL)
		pf_result_set(t, "dkim.pass_domains", pass);
	if (r->error != NULL) {
		const char *props =
			pst_arena_printf(arena, "reason=\"%s\"", r->error);

		pf_auth_result(t, "dkim", "temperror", props);
		pf_log(t, PF_LOG_WARNING, "cannot verify: %s", r->error);
		return;
	}
	if (r->nsigs == 0)
		pf_auth_result(t, "dkim", "none", NULL);
	for (size_t i = 0; i < r->nsigs; i++) {
		const struct filter_dkim_sig *s = &r->sigs[i];
		bool shared = false;
		const char *props;

		for (size_t j = 0; j < r->nsigs && !shared; j++)
			shared = j != i && s->domain[0] != '\0' &&
				 strcasecmp(s->domain, r->sigs[j].domain) == 0;
		dkim_set(t, i + 1, "domain", s->domain);
		dkim_set(t, i + 1, "selector", s->selector);
		dkim_set(t, i + 1, "algorithm", s->algorithm);
		dkim_set(t, i + 1, "result", s->result);
		dkim_set(t, i + 1, "partial", s->partial ? "yes" : "no");
		props = filter_dkim_ar_props(arena, s, shared);
		if (props == NULL ||
		    pf_auth_result(t, "dkim", s->result, props) < 0)
			pf_log(t, PF_LOG_WARNING,
			       "no Authentication-Results entry for d=%s",
			       s->domain);
		pf_log(t, PF_LOG_INFO, "d=%s s=%s a=%s: %s%s%s%s", s->domain,
		       s->selector, s->algorithm, s->result,
		       s->reason ? " (" : "", s->reason ? s->reason : "",
		       s->reason ? ")" : "");
	}
	if (r->skipped > 0) {
		char n[32];

		snprintf(n, sizeof(n), "%zu", r->skipped);
		pf_result_set(t, "dkim.skipped", n);
		pf_log(t, PF_LOG_NOTICE,
		       "%zu DKIM-Signature fields past max_signatures not "
		       "verified",
		       r->skipped);
	}
}

static void
dkim_verify_txn(struct pf_txn *t, struct filter_dkim_module *dm,
		const struct filter_tx *tx)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct filter_dkim_result r;
	struct filter_dkim_dns call;
	struct filter_dkim_input in;

	if (arena == NULL) {
		pf_result_set(t, "dkim", "temperror");
		return;
	}
	memset(&call, 0, sizeof(call));
	call.dns = dm->dns;
	call.fake = dm->fake;
	call.fake_arg = dm->fake_arg;
	call.arena = arena;
	call.deadline = filter_dkim_now() + dm->budget;
	memset(&in, 0, sizeof(in));
	in.headers = tx->headers;
	in.nheaders = tx->nheaders;
	in.body_start = tx->root->body_start;
	in.size = pf_message_size(t);
	in.read = dkim_txn_read;
	in.arg = t;
	filter_dkim_verify(dm->lib, &dm->vopts, &call, arena, pf_queue_id(t),
			   &in, &r);
	dkim_report(t, arena, &r);
	if (call.failed > 0)
		pf_log(t, PF_LOG_NOTICE, "%u of %u key lookups failed",
		       call.failed, call.lookups);
	pst_arena_free(&arena);
}

static enum pf_verdict
dkim_filter_message(struct pf_txn *t)
{
	struct filter_dkim_module *dm = pf_module_data(pf_txn_module(t));
	struct filter_tx *tx = t->ctx->call_tx;

	bool ours;

	if (dm == NULL || tx == NULL || tx->root == NULL)
		return PF_ERROR;
	/* Our users' mail is signed as it leaves, not judged (as the
	 * other built-in filters leave trusted clients alone). */
	ours = t->ctx->client.trusted || pf_auth_user(t) != NULL;
	if (dm->verify && !ours)
		dkim_verify_txn(t, dm, tx);
	if (ours && dm->signer.nkeys > 0)
		tx->signer = &dm->signer.base;
	return PF_CONTINUE;
}

const struct postern_filter filter_dkim_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "dkim",
	.init = dkim_filter_init,
	.fini = dkim_filter_fini,
	.on_message = dkim_filter_message,
};

/* ---- test hooks ---- */

struct filter_dkim_module *
filter_dkim_module_of(struct pf_module *m)
{
	return m != NULL && m->def == &filter_dkim_def ? pf_module_data(m)
						       : NULL;
}

void
filter_dkim_set_fake(struct filter_dkim_module *dm, filter_dkim_fake_fn *fake,
		     void *arg)
{
	dm->fake = fake;
	dm->fake_arg = arg;
}
