/*
 * test_filter_dkim_util.c - helpers of the dkim filter's unit tests (see
 * test_filter_dkim_util.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "spool.h"
#include "test_filter_dkim_util.h"

static char dkt_tmp[64];
static unsigned dkt_nkeys;

const char *
dkt_dir(void)
{
	if (dkt_tmp[0] == '\0') {
		strcpy(dkt_tmp, "/tmp/postern-dkim-test.XXXXXX");
		assert_non_null(mkdtemp(dkt_tmp));
	}
	return dkt_tmp;
}

static int
dkt_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
dkt_cleanup(void)
{
	if (dkt_tmp[0] != '\0')
		nftw(dkt_tmp, dkt_rm, 8, FTW_DEPTH | FTW_PHYS);
	dkt_tmp[0] = '\0';
}

static char *
dkt_base64(const unsigned char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

void
dkt_key_make(struct dkt_key *k, const char *type, unsigned bits)
{
	bool rsa = strcmp(type, "rsa") == 0;
	EVP_PKEY *pkey = rsa ? EVP_RSA_gen(bits)
			     : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	unsigned char raw[64], *der = NULL;
	size_t rawlen = sizeof(raw);
	char *b64, *data;
	BIO *bio;
	long len;
	FILE *f;
	int dlen;

	assert_non_null(pkey);
	memset(k, 0, sizeof(*k));
	snprintf(k->path, sizeof(k->path), "%s/key%u.pem", dkt_dir(),
		 dkt_nkeys++);
	bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	/* RSA as opendkim-genkey writes it; Ed25519 as openssl genpkey. */
	if (rsa)
		assert_int_equal(PEM_write_bio_PrivateKey_traditional(
					 bio, pkey, NULL, NULL, 0, NULL, NULL),
				 1);
	else
		assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL,
							  0, NULL, NULL),
				 1);
	len = BIO_get_mem_data(bio, &data);
	k->pem = strndup(data, (size_t)len);
	assert_non_null(k->pem);
	BIO_free(bio);
	f = fopen(k->path, "w");
	assert_non_null(f);
	fputs(k->pem, f);
	fclose(f);
	if (rsa) {
		dlen = i2d_PUBKEY(pkey, &der);
		assert_true(dlen > 0);
		b64 = dkt_base64(der, (size_t)dlen);
		OPENSSL_free(der);
	} else {
		assert_int_equal(
			EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen), 1);
		b64 = dkt_base64(raw, rawlen);
	}
	assert_true(asprintf(&k->record, "v=DKIM1; k=%s; p=%s",
			     rsa ? "rsa" : "ed25519", b64) > 0);
	free(b64);
	EVP_PKEY_free(pkey);
}

void
dkt_key_free(struct dkt_key *k)
{
	free(k->pem);
	free(k->record);
	memset(k, 0, sizeof(*k));
}

void
dkt_zone_add(struct dkt_zone *z, const char *name, const char *txt)
{
	assert_true(z->n < sizeof(z->v) / sizeof(z->v[0]));
	z->v[z->n].name = name;
	z->v[z->n].txt = txt;
	z->v[z->n].tempfail = txt == NULL;
	z->n++;
}

const char *
dkt_zone_lookup(void *arg, const char *name, bool *tempfail_r)
{
	struct dkt_zone *z = arg;

	z->asked++;
	for (size_t i = 0; i < z->n; i++) {
		if (strcasecmp(z->v[i].name, name) == 0) {
			*tempfail_r = z->v[i].tempfail;
			return z->v[i].txt;
		}
	}
	return NULL;
}

char *
dkt_sign(const char *msg, const char *pem, const char *domain,
	 const char *selector, dkim_alg_t alg, dkim_canon_t hc, dkim_canon_t bc,
	 ssize_t length)
{
	static DKIM_LIB *lib;
	unsigned char *copy = (unsigned char *)strdup(msg), *hdr;
	size_t hlen;
	DKIM_STAT st;
	DKIM *d;
	char *out;

	if (lib == NULL)
		lib = dkim_init(NULL, NULL);
	assert_non_null(lib);
	assert_non_null(copy);
	d = dkim_sign(lib, (const unsigned char *)"test", NULL,
		      (dkim_sigkey_t)pem, (const unsigned char *)selector,
		      (const unsigned char *)domain, hc, bc, alg,
		      length == -2 ? -1 : length, &st);
	assert_non_null(d);
	if (length == -2)
		assert_int_equal(dkim_setpartial(d, true), DKIM_STAT_OK);
	assert_int_equal(dkim_chunk(d, copy, strlen(msg)), DKIM_STAT_OK);
	assert_int_equal(dkim_chunk(d, NULL, 0), DKIM_STAT_OK);
	assert_int_equal(dkim_eom(d, NULL), DKIM_STAT_OK);
	assert_int_equal(
		dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER) + 2, &hdr, &hlen),
		DKIM_STAT_OK);
	assert_true(asprintf(&out, "%s: %.*s\r\n%s", DKIM_SIGNHEADER, (int)hlen,
			     (const char *)hdr, msg) > 0);
	dkim_free(d);
	free(copy);
	return out;
}

void
dkt_run(struct dkt_run *r, const char *conf, struct dkt_zone *zone,
	const struct dkt_client *client, const char *msg)
{
	struct filter_client c = {
		.addr = "192.0.2.7",
		.port = 4711,
		.name = "mx.example.net",
		.session_id = "9c1e0f3a5b7d2e41",
	};
	memset(r, 0, sizeof(*r));
	filter_builtins_register_all();
	if (ft_chain(&r->ft, conf ? conf : "filter dkim { }") < 0)
		fail_msg("chain refused: %s", r->ft.error);
	for (size_t i = 0; i < r->ft.chain->nmodules; i++) {
		struct filter_dkim_module *dm =
			filter_dkim_module_of(r->ft.chain->modules[i]);

		if (dm != NULL && zone != NULL)
			filter_dkim_set_fake(dm, dkt_zone_lookup, zone);
	}
	if (client != NULL) {
		c.trusted = client->trusted;
		c.auth_user = client->auth_user;
	}
	r->ctx = filter_ctx_new(r->ft.chain, NULL, NULL, &c);
	assert_non_null(r->ctx);
	assert_int_equal(
		filter_ctx_txn_begin(r->ctx, "4F2A1C3B9E", "a@example.org"), 0);
	ft_message(r->ctx, msg);
	ft_run(&r->ft, r->ctx, FILTER_MESSAGE, NULL, &r->out, NULL);
}

const char *
dkt_result(struct dkt_run *r, const char *key)
{
	return filter_ctx_result_get(r->ctx, key);
}

char *
dkt_output(struct dkt_run *r)
{
	struct pst_spool *spool = pst_spool_new(1 << 20, "/tmp");
	const char *error = NULL;
	char *text;

	assert_non_null(spool);
	if (filter_ctx_write_message(r->ctx, spool, &error) < 0)
		fail_msg("write_message: %s", error);
	text = ft_spool_text(spool);
	pst_spool_free(&spool);
	return text;
}

void
dkt_done(struct dkt_run *r)
{
	filter_ctx_close(&r->ctx);
	ft_free(&r->ft);
}

/* The header block's fields, one at a time: *p at a field start. */
static bool
dkt_field_at(const char *p, const char *name, size_t *len_r)
{
	size_t n = strlen(name), len = 0;

	if (strncasecmp(p, name, n) != 0 || p[n] != ':')
		return false;
	while (p[len] != '\0') {
		const char *eol = strstr(p + len, "\r\n");

		if (eol == NULL) {
			len = strlen(p);
			break;
		}
		len = (size_t)(eol - p) + 2;
		if (p[len] != ' ' && p[len] != '\t')
			break;
	}
	*len_r = len;
	return true;
}

char *
dkt_field(const char *text, const char *name)
{
	const char *p = text;

	while (*p != '\0' && strncmp(p, "\r\n", 2) != 0) {
		size_t len;
		const char *eol;

		if (dkt_field_at(p, name, &len)) {
			const char *v = p + strlen(name) + 1;
			size_t vl = len - strlen(name) - 1;

			while (vl > 0 && *v == ' ') {
				v++;
				vl--;
			}
			if (vl >= 2 && v[vl - 2] == '\r')
				vl -= 2;
			return strndup(v, vl);
		}
		eol = strstr(p, "\r\n");
		if (eol == NULL)
			break;
		p = eol + 2;
	}
	return NULL;
}

unsigned
dkt_count(const char *text, const char *name)
{
	const char *p = text;
	unsigned n = 0;

	while (*p != '\0' && strncmp(p, "\r\n", 2) != 0) {
		size_t len;
		const char *eol;

		if (dkt_field_at(p, name, &len))
			n++;
		eol = strstr(p, "\r\n");
		if (eol == NULL)
			break;
		p = eol + 2;
	}
	return n;
}
