/*
 * dkim_sign.c - signing: the keys of `sign = [...]`, read and checked at
 * init, and the DKIM-Signature fields of the message that leaves.
 *
 * "Modify, then sign": edit.c builds the header block exactly as it will
 * leave (every filter's edits, the Authentication-Results field) and
 * hands it here with the body's place in the spool; each key whose
 * domain is the RFC5322.From domain (or a parent of it: the longest such
 * domain wins) signs those bytes, read once for all keys, the body in
 * chunks.  The fields are folded with CRLF like the rest of the message.
 * Canonicalization relaxed/relaxed; rsa-sha256 or ed25519-sha256 by the
 * key's type.
 *
 * Key texts stay in memory for the life of the configuration (a reload
 * reads them again) and are wiped at fini.  Thread-safe: the keys are
 * read-only, each signature has its own libopendkim handle.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "arena.h"
#include "buf.h"
#include "dkim_int.h"
#include "log.h"
#include "spool.h"

/* Keys signing one message at most (one domain's keys). */
#define DKIM_SIGN_MAX_KEYS 8
/* The From value we parse. */
#define DKIM_FROM_MAX 4096

/* ---- keys ---- */

static int
dkim_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* The whole file at path (regular, at most DKIM_KEY_FILE_MAX bytes),
 * NUL-terminated, on arena. */
static char *
dkim_read_file(struct pst_arena *arena, const char *path, size_t *len_r,
	       char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > DKIM_KEY_FILE_MAX) {
		snprintf(err, errlen,
			 "%s: not a key file (a regular file of "
			 "at most %d bytes)",
			 path, DKIM_KEY_FILE_MAX);
		goto out;
	}
	text = pst_arena_alloc(arena, (size_t)st.st_size + 1);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: cannot read it", path);
			text = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	text[got] = '\0';
	*len_r = got;
out:
	close(fd);
	return text;
}

/* Can lib sign a small message with key?  0, or -1 with err. */
static int
dkim_sign_try(DKIM_LIB *lib, const struct filter_dkim_key *key, char *err,
	      size_t errlen)
{
	static const char msg[] = "From: <postmaster@example.org>\r\n"
				  "\r\nkey check\r\n";
	unsigned char buf[sizeof(msg)];
	unsigned char *hdr = NULL;
	size_t hlen = 0;
	DKIM_STAT st;
	DKIM *d;

	d = dkim_sign(lib, (const unsigned char *)"init", NULL, key->pem,
		      (const unsigned char *)key->selector,
		      (const unsigned char *)key->domain, DKIM_CANON_RELAXED,
		      DKIM_CANON_RELAXED, key->alg, -1, &st);
	if (d == NULL) {
		snprintf(err, errlen, "%s: libopendkim cannot sign with it: %s",
			 key->path, dkim_getresultstr(st));
		return -1;
	}
	memcpy(buf, msg, sizeof(msg));
	st = dkim_chunk(d, buf, sizeof(msg) - 1);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	if (st == DKIM_STAT_OK)
		st = dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER) + 2, &hdr,
				      &hlen);
	if (st != DKIM_STAT_OK || hlen == 0)
		snprintf(err, errlen, "%s: libopendkim cannot sign with it: %s",
			 key->path,
			 dkim_geterror(d) ? dkim_geterror(d)
					  : dkim_getresultstr(st));
	dkim_free(d);
	return st == DKIM_STAT_OK && hlen > 0 ? 0 : -1;
}

/* Parse key->pem: its type and size.  0, or -1 with err. */
static int
dkim_key_check(struct filter_dkim_key *key, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(key->pem, (int)key->pem_len);
	EVP_PKEY *pkey = NULL;
	int rc = -1;

	if (bio != NULL)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, dkim_no_passphrase,
					       NULL);
	if (pkey == NULL) {
		snprintf(err, errlen,
			 "%s: not a PEM private key (or one with a "
			 "passphrase)",
			 key->path);
		goto out;
	}
	switch (EVP_PKEY_base_id(pkey)) {
	case EVP_PKEY_RSA:
		key->alg = DKIM_SIGN_RSASHA256;
		key->bits = (unsigned)EVP_PKEY_bits(pkey);
		if (key->bits < 1024) {
			snprintf(err, errlen,
				 "%s: a %u-bit RSA key is too small (RFC "
				 "8301: at least 1024, better 2048)",
				 key->path, key->bits);
			goto out;
		}
		break;
	case EVP_PKEY_ED25519:
		key->alg = DKIM_SIGN_ED25519SHA256;
		key->bits = 256;
		key->pkey = pkey; /* we sign with it: dkim_ed25519.c */
		pkey = NULL;
		break;
	default:
		snprintf(err, errlen, "%s: not an RSA or Ed25519 key",
			 key->path);
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int
filter_dkim_key_load(DKIM_LIB *lib, struct pst_arena *arena, const char *spec,
		     struct filter_dkim_key *key, char *err, size_t errlen)
{
	const char *c1 = strchr(spec, ':');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	char *domain, *text, *begin, name[512];
	size_t len = 0, dlen;

	memset(key, 0, sizeof(*key));
	if (c2 == NULL || c1 == spec || c2 == c1 + 1 || c2[1] == '\0') {
		snprintf(err, errlen, "'%s' is not \"domain:selector:keyfile\"",
			 spec);
		return -1;
	}
	dlen = (size_t)(c1 - spec);
	if (dlen > 1 && spec[dlen - 1] == '.')
		dlen--;
	domain = pst_arena_strndup(arena, spec, dlen);
	key->selector = pst_arena_strndup(arena, c1 + 1, (size_t)(c2 - c1 - 1));
	key->path = pst_arena_strdup(arena, c2 + 1);
	if (domain == NULL || key->selector == NULL || key->path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (char *p = domain; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	key->domain = domain;
	if ((size_t)snprintf(name, sizeof(name), "%s._domainkey.%s",
			     key->selector, domain) >= sizeof(name) ||
	    !filter_dkim_name_ok(name)) {
		snprintf(err, errlen,
			 "'%s': the domain and selector make no valid key "
			 "name",
			 spec);
		return -1;
	}
	text = dkim_read_file(arena, key->path, &len, err, errlen);
	if (text == NULL)
		return -1;
	/* libopendkim reads PEM only from a text that starts with it. */
	begin = strstr(text, "-----BEGIN");
	if (begin == NULL || memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: not a PEM private key", key->path);
		OPENSSL_cleanse(text, len);
		return -1;
	}
	key->pem = (unsigned char *)begin;
	key->pem_len = len - (size_t)(begin - text);
	if (begin != text)
		OPENSSL_cleanse(text, (size_t)(begin - text));
	if (dkim_key_check(key, err, errlen) < 0)
		goto fail;
	if (key->alg == DKIM_SIGN_RSASHA256 &&
	    dkim_sign_try(lib, key, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	filter_dkim_keys_wipe(key, 1);
	return -1;
}

void
filter_dkim_keys_wipe(struct filter_dkim_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (keys[i].pem != NULL)
			OPENSSL_cleanse(keys[i].pem, keys[i].pem_len);
		keys[i].pem = NULL;
		EVP_PKEY_free(keys[i].pkey);
		keys[i].pkey = NULL;
	}
}

/* ---- the message that leaves ---- */

const char *
filter_dkim_from_domain(const char *from, char *buf, size_t size)
{
	unsigned char *copy, *user = NULL, *domain = NULL;
	size_t n;
	const char *out = NULL;

	if (from == NULL || size == 0)
		return NULL;
	n = strnlen(from, DKIM_FROM_MAX);
	copy = malloc(n + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, from, n);
	copy[n] = '\0';
	if (dkim_mail_parse(copy, &user, &domain) == 0 && domain != NULL) {
		size_t dlen = strlen((const char *)domain);

		if (dlen > 1 && domain[dlen - 1] == '.')
			dlen--;
		if (dlen > 0 && dlen < size) {
			for (size_t i = 0; i < dlen; i++) {
				char c = (char)domain[i];

				buf[i] = c >= 'A' && c <= 'Z'
						 ? (char)(c - 'A' + 'a')
						 : c;
			}
			buf[dlen] = '\0';
			if (filter_dkim_name_ok(buf))
				out = buf;
		}
	}
	free(copy);
	return out;
}

/* Is d the domain itself or a parent domain of it? */
static bool
dkim_domain_covers(const char *d, const char *domain)
{
	size_t dl = strlen(d), l = strlen(domain);

	if (dl == l)
		return strcmp(d, domain) == 0;
	return l > dl && domain[l - dl - 1] == '.' &&
	       strcmp(domain + l - dl, d) == 0;
}

/* One signature being made: by libopendkim (RSA) or here (Ed25519). */
struct dkim_signing {
	const struct filter_dkim_key *key;
	DKIM *h;
	struct filter_dkim_ed ed;
	bool ed_on;
};

/* Feed bytes to every signature; body: they are body bytes. */
static int
dkim_sign_feed(struct dkim_signing *g, size_t n, const void *data, size_t len,
	       bool body)
{
	for (size_t i = 0; i < n && len > 0; i++) {
		if (g[i].h != NULL && dkim_chunk(g[i].h, (unsigned char *)data,
						 len) != DKIM_STAT_OK)
			return -1;
		if (g[i].ed_on && body)
			filter_dkim_ed_body(&g[i].ed, data, len);
	}
	return 0;
}

/* Start the signatures of the keys of domain best; how many. */
static size_t
dkim_sign_start(const struct filter_dkim_signer *s, const char *qid,
		const char *best, struct dkim_signing *g, const char **why_r)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nkeys && n < DKIM_SIGN_MAX_KEYS; i++) {
		const struct filter_dkim_key *k = &s->keys[i];
		DKIM_STAT st;

		if (strcmp(k->domain, best) != 0)
			continue;
		memset(&g[n], 0, sizeof(g[n]));
		g[n].key = k;
		if (k->alg == DKIM_SIGN_ED25519SHA256) {
			g[n].ed_on = true;
			if (filter_dkim_ed_begin(&g[n].ed) < 0) {
				*why_r = "cannot start an Ed25519 signature";
				return n + 1;
			}
		} else {
			g[n].h = dkim_sign(
				s->lib, (const unsigned char *)qid, NULL,
				k->pem, (const unsigned char *)k->selector,
				(const unsigned char *)best, DKIM_CANON_RELAXED,
				DKIM_CANON_RELAXED, k->alg, -1, &st);
			if (g[n].h == NULL) {
				*why_r = dkim_getresultstr(st);
				return n;
			}
		}
		n++;
	}
	return n;
}

/* Append signature g's field to out.  0, or -1. */
static int
dkim_sign_end(const struct filter_dkim_signer *s, struct dkim_signing *g,
	      const char *hdr, size_t hdr_len, struct pst_buf *out)
{
	unsigned char *sig = NULL;
	size_t len = 0;

	if (g->ed_on)
		return filter_dkim_ed_finish(&g->ed, g->key, s->sign_headers,
					     s->oversign, hdr, hdr_len, out);
	if (dkim_chunk(g->h, NULL, 0) != DKIM_STAT_OK ||
	    dkim_eom(g->h, NULL) != DKIM_STAT_OK ||
	    dkim_getsighdr_d(g->h, strlen(DKIM_SIGNHEADER) + 2, &sig, &len) !=
		    DKIM_STAT_OK)
		return -1;
	return pst_buf_printf(out, "%s: %.*s\r\n", DKIM_SIGNHEADER, (int)len,
			      (const char *)sig);
}

int
filter_dkim_sign_fields(const struct filter_signer *base, const char *qid,
			const char *from, const char *hdr, size_t hdr_len,
			struct pst_spool *src, uint64_t body, uint64_t end,
			struct pst_buf *out, const char **error_r)
{
	const struct filter_dkim_signer *s =
		(const struct filter_dkim_signer *)(const void *)base;
	struct dkim_signing g[DKIM_SIGN_MAX_KEYS];
	char dbuf[256];
	const char *domain, *best = NULL, *why = NULL;
	unsigned char *chunk = NULL;
	size_t n = 0, start = out->len;
	char tail[2] = { '\r', '\n' };
	int rc = 0;

	domain = filter_dkim_from_domain(from, dbuf, sizeof(dbuf));
	if (domain == NULL) {
		pst_log(PST_LOG_INFO, "filter",
			"%s: filter %s: not signed: no single From address",
			qid, s->name);
		return 0;
	}
	for (size_t i = 0; i < s->nkeys; i++)
		if (dkim_domain_covers(s->keys[i].domain, domain) &&
		    (best == NULL || strlen(s->keys[i].domain) > strlen(best)))
			best = s->keys[i].domain;
	if (best == NULL) {
		pst_log(PST_LOG_DEBUG, "filter",
			"%s: filter %s: not signed: no key for %s", qid,
			s->name, domain);
		return 0;
	}
	n = dkim_sign_start(s, qid, best, g, &why);
	if (why != NULL)
		goto done;
	chunk = malloc(DKIM_CHUNK);
	if (chunk == NULL) {
		*error_r = "out of memory";
		rc = -1;
		goto done;
	}
	if (dkim_sign_feed(g, n, hdr, hdr_len, false) < 0) {
		why = "the header block was refused";
		goto done;
	}
	while (body < end) {
		size_t want = end - body < DKIM_CHUNK ? (size_t)(end - body)
						      : DKIM_CHUNK;
		ssize_t got = pst_spool_pread(src, chunk, want, body);

		if (got <= 0) {
			*error_r = "cannot read the message";
			rc = -1;
			goto done;
		}
		if (dkim_sign_feed(g, n, chunk, (size_t)got, true) < 0) {
			why = "the body was refused";
			goto done;
		}
		body += (uint64_t)got;
		tail[0] = got > 1 ? (char)chunk[got - 2] : tail[1];
		tail[1] = (char)chunk[got - 1];
	}
	/* Canonicalization ends a last line without CRLF with one (RFC
	 * 6376 3.4.3, 3.4.4), but libopendkim refuses to sign such a
	 * body: give it the CRLF, the signature is the same. */
	for (size_t i = 0; i < n && (tail[0] != '\r' || tail[1] != '\n'); i++) {
		if (g[i].h != NULL &&
		    dkim_chunk(g[i].h, (unsigned char *)"\r\n", 2) !=
			    DKIM_STAT_OK) {
			why = "the body was refused";
			goto done;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (dkim_sign_end(s, &g[i], hdr, hdr_len, out) < 0) {
			why = "no signature";
			goto done;
		}
	}
	for (size_t i = 0; i < n; i++)
		pst_log(PST_LOG_INFO, "filter",
			"%s: filter %s: signed d=%s s=%s a=%s", qid, s->name,
			best, g[i].key->selector,
			g[i].key->alg == DKIM_SIGN_ED25519SHA256
				? "ed25519-sha256"
				: "rsa-sha256");
done:
	if (why != NULL || rc < 0) {
		/* A message that cannot be signed leaves unsigned. */
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	if (why != NULL)
		pst_log(PST_LOG_WARNING, "filter",
			"%s: filter %s: not signed: %s", qid, s->name, why);
	for (size_t i = 0; i < n; i++) {
		if (g[i].h != NULL)
			dkim_free(g[i].h);
		if (g[i].ed_on)
			filter_dkim_ed_free(&g[i].ed);
	}
	free(chunk);
	return rc;
}
