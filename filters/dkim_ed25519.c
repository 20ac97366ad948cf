/*
 * dkim_ed25519.c - Ed25519 DKIM signatures (RFC 8463), made here rather
 * than by libopendkim: libopendkim 2.11.0~beta2 leaks the key object of
 * every Ed25519 signature it makes (dkim_free() releases the crypto state
 * of RSA keys only: about 0.5 KB a message, seen with ASan), which a
 * daemon cannot afford.  RSA signatures stay libopendkim's.
 *
 * The signature has the shape of libopendkim's: relaxed/relaxed, every
 * field named in sign_headers signed, h= listing them in the order of
 * the header (a name that occurs twice is hashed from the bottom up, as
 * RFC 6376 5.4.2 has a verifier pick them), then the oversigned names
 * once more.  Header fields are split as libopendkim splits them (a line
 * that starts with white space continues a field; a line without a colon
 * is no field).  libopendkim verifies these signatures in the tests.
 *
 * The body streams through the relaxed body canonicalization into its
 * hash; only the header block is in memory.  Not thread-safe per struct.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dkim_int.h"

/* Fields of a header block we sign at most. */
#define DKIM_ED_FIELDS_MAX 1024

/* ---- the body: relaxed canonicalization into SHA-256 ---- */

static void
dkim_ed_flush(struct filter_dkim_ed *e)
{
	if (e->n > 0 && EVP_DigestUpdate(e->md, e->out, e->n) != 1)
		e->failed = true;
	e->n = 0;
}

static void
dkim_ed_put(struct filter_dkim_ed *e, const char *p, size_t n)
{
	while (n > 0) {
		size_t k =
			sizeof(e->out) - e->n < n ? sizeof(e->out) - e->n : n;

		memcpy(e->out + e->n, p, k);
		e->n += k;
		p += k;
		n -= k;
		if (e->n == sizeof(e->out))
			dkim_ed_flush(e);
	}
}

/* A byte of line content (not a line end). */
static void
dkim_ed_content(struct filter_dkim_ed *e, char c)
{
	if (c == ' ' || c == '\t') {
		e->space = true;
		return;
	}
	/* The line has content: the empty lines before it count now. */
	for (; e->blanks > 0; e->blanks--)
		dkim_ed_put(e, "\r\n", 2);
	if (e->space)
		dkim_ed_put(e, " ", 1);
	e->space = false;
	e->line = true;
	dkim_ed_put(e, &c, 1);
}

static void
dkim_ed_eol(struct filter_dkim_ed *e)
{
	if (e->line)
		dkim_ed_put(e, "\r\n", 2);
	else
		e->blanks++;
	e->line = false;
	e->space = false;
}

int
filter_dkim_ed_begin(struct filter_dkim_ed *e)
{
	memset(e, 0, sizeof(*e));
	e->md = EVP_MD_CTX_new();
	if (e->md == NULL || EVP_DigestInit_ex(e->md, EVP_sha256(), NULL) != 1)
		return -1;
	return 0;
}

void
filter_dkim_ed_body(struct filter_dkim_ed *e, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = (char)p[i];

		if (e->cr) {
			e->cr = false;
			if (c == '\n') {
				dkim_ed_eol(e);
				continue;
			}
			dkim_ed_content(e, '\r');
		}
		if (c == '\r')
			e->cr = true;
		else if (c == '\n')
			dkim_ed_eol(e);
		else
			dkim_ed_content(e, c);
	}
}

void
filter_dkim_ed_free(struct filter_dkim_ed *e)
{
	EVP_MD_CTX_free(e->md);
	e->md = NULL;
}

/* ---- the header ---- */

struct dkim_ed_field {
	const char *p; /* the field, without its final line break */
	size_t len;
	size_t name; /* length of the name, blanks before the colon cut */
	bool listed; /* its name is in sign_headers: in h= */
	bool taken;  /* hashed already */
};

/* Split hdr into fields (up to an empty line); how many. */
static size_t
dkim_ed_fields(const char *hdr, size_t len, struct dkim_ed_field *f, size_t max)
{
	size_t at = 0, n = 0;

	while (at < len && n < max) {
		size_t start = at, end, colon;

		if (hdr[at] == '\n' ||
		    (hdr[at] == '\r' && at + 1 < len && hdr[at + 1] == '\n'))
			break; /* the empty line */
		/* the field runs to a line end not followed by a blank */
		for (;;) {
			const char *lf = memchr(hdr + at, '\n', len - at);

			at = lf != NULL ? (size_t)(lf - hdr) + 1 : len;
			if (at >= len || (hdr[at] != ' ' && hdr[at] != '\t'))
				break;
		}
		end = at;
		if (end > start && hdr[end - 1] == '\n')
			end--;
		if (end > start && hdr[end - 1] == '\r')
			end--;
		if (hdr[start] == ' ' || hdr[start] == '\t')
			continue; /* a continuation with no field above */
		for (colon = start; colon < end && hdr[colon] != ':'; colon++)
			;
		if (colon == end || colon == start)
			continue; /* no field */
		f[n].p = hdr + start;
		f[n].len = end - start;
		f[n].name = colon - start;
		while (f[n].name > 0 && (f[n].p[f[n].name - 1] == ' ' ||
					 f[n].p[f[n].name - 1] == '\t'))
			f[n].name--;
		f[n].listed = f[n].taken = false;
		if (f[n].name > 0)
			n++;
	}
	return n;
}

/* RFC 6376 3.4.2: name in lower case, ':', the value unfolded with runs
 * of white space as one SP and none at either end; then CRLF when crlf. */
static int
dkim_ed_canon_field(struct pst_buf *b, const char *p, size_t len, size_t name,
		    bool crlf)
{
	const char *v;
	bool space = false, content = false;

	for (size_t i = 0; i < name; i++) {
		char c = p[i];

		if (pst_buf_append_byte(b, c >= 'A' && c <= 'Z'
						   ? (char)(c - 'A' + 'a')
						   : c) < 0)
			return -1;
	}
	if (pst_buf_append_byte(b, ':') < 0)
		return -1;
	v = memchr(p + name, ':', len - name);
	if (v == NULL)
		return -1;
	for (v++; v < p + len; v++) {
		if (*v == '\r' || *v == '\n')
			continue;
		if (*v == ' ' || *v == '\t') {
			space = content;
			continue;
		}
		if (space && pst_buf_append_byte(b, ' ') < 0)
			return -1;
		space = false;
		content = true;
		if (pst_buf_append_byte(b, *v) < 0)
			return -1;
	}
	if (crlf && pst_buf_append(b, "\r\n", 2) < 0)
		return -1;
	return 0;
}

static bool
dkim_ed_listed(const char *const *list, const char *name, size_t len)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strlen(list[i]) == len &&
		    strncasecmp(list[i], name, len) == 0)
			return true;
	return false;
}

/* Hash the last field called name not taken yet, if any. */
static int
dkim_ed_take(struct pst_buf *data, struct dkim_ed_field *f, size_t nf,
	     const char *name, size_t len)
{
	for (size_t j = nf; j-- > 0;) {
		if (f[j].taken || f[j].name != len ||
		    strncasecmp(f[j].p, name, len) != 0)
			continue;
		f[j].taken = true;
		return dkim_ed_canon_field(data, f[j].p, f[j].len, f[j].name,
					   true);
	}
	return 0;
}

static char *
dkim_ed_base64(const unsigned char *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* The value of the DKIM-Signature field, up to and with "b=". */
static int
dkim_ed_value(struct pst_buf *v, const struct filter_dkim_key *key,
	      const char *bh, struct dkim_ed_field *f, size_t nf,
	      const char *const *over)
{
	bool first = true;

	if (pst_buf_printf(v,
			   "v=1; a=ed25519-sha256; c=relaxed/relaxed; "
			   "d=%s; s=%s; t=%llu; bh=%s; h=",
			   key->domain, key->selector,
			   (unsigned long long)time(NULL), bh) < 0)
		return -1;
	for (size_t i = 0; i < nf; i++) {
		if (!f[i].listed)
			continue;
		if ((!first && pst_buf_append(v, " : ", 3) < 0) ||
		    pst_buf_append(v, f[i].p, f[i].name) < 0)
			return -1;
		first = false;
	}
	for (size_t i = 0; over != NULL && over[i] != NULL; i++) {
		if ((!first && pst_buf_append(v, " : ", 3) < 0) ||
		    pst_buf_append_cstr(v, over[i]) < 0)
			return -1;
		first = false;
	}
	return pst_buf_append_cstr(v, "; b=");
}

int
filter_dkim_ed_finish(struct filter_dkim_ed *e,
		      const struct filter_dkim_key *key,
		      const char *const *sign, const char *const *over,
		      const char *hdr, size_t hdr_len, struct pst_buf *out)
{
	struct dkim_ed_field *f = NULL;
	unsigned char digest[EVP_MAX_MD_SIZE], sig[64];
	unsigned int dlen = 0;
	size_t nf, slen = sizeof(sig);
	char *bh = NULL, *b = NULL;
	struct pst_buf v, data;
	EVP_MD_CTX *ctx = NULL;
	int rc = -1;

	pst_buf_init(&v, 0);
	pst_buf_init(&data, 0);
	/* the body: its last line and trailing empty lines settled */
	if (e->cr)
		dkim_ed_content(e, '\r');
	if (e->line)
		dkim_ed_put(e, "\r\n", 2);
	dkim_ed_flush(e);
	if (e->failed || EVP_DigestFinal_ex(e->md, digest, &dlen) != 1)
		goto done;
	bh = dkim_ed_base64(digest, dlen);
	f = calloc(DKIM_ED_FIELDS_MAX, sizeof(*f));
	if (bh == NULL || f == NULL)
		goto done;
	nf = dkim_ed_fields(hdr, hdr_len, f, DKIM_ED_FIELDS_MAX);
	for (size_t i = 0; i < nf; i++)
		f[i].listed = dkim_ed_listed(sign, f[i].p, f[i].name);
	if (dkim_ed_value(&v, key, bh, f, nf, over) < 0)
		goto done;
	/* What a verifier hashes for h=: each name takes the last field of
	 * that name not taken yet; an oversigned name usually none. */
	for (size_t i = 0; i < nf; i++)
		if (f[i].listed &&
		    dkim_ed_take(&data, f, nf, f[i].p, f[i].name) < 0)
			goto done;
	for (size_t i = 0; over != NULL && over[i] != NULL; i++)
		if (dkim_ed_take(&data, f, nf, over[i], strlen(over[i])) < 0)
			goto done;
	/* ... and the signature's own field, b= empty, no CRLF. */
	{
		struct pst_buf self;
		int r;

		pst_buf_init(&self, 0);
		r = pst_buf_append_cstr(&self, "DKIM-Signature: ") < 0 ||
				    pst_buf_append(&self, v.data, v.len) < 0
			    ? -1
			    : dkim_ed_canon_field(&data, self.data, self.len,
						  strlen(DKIM_SIGNHEADER),
						  false);
		pst_buf_free(&self);
		if (r < 0)
			goto done;
	}
	/* RFC 8463: Ed25519 over the SHA-256 of the data. */
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_Digest(data.data, data.len, digest, &dlen, EVP_sha256(),
		       NULL) != 1 ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &slen, digest, dlen) != 1)
		goto done;
	b = dkim_ed_base64(sig, slen);
	if (b == NULL || pst_buf_append_cstr(&v, b) < 0 ||
	    filter_edit_format_field(out, DKIM_SIGNHEADER, v.data) < 0)
		goto done;
	rc = 0;
done:
	EVP_MD_CTX_free(ctx);
	free(f);
	free(bh);
	free(b);
	pst_buf_free(&v);
	pst_buf_free(&data);
	return rc;
}
