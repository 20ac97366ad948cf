/*
 * fuzz_dkim.c - libFuzzer target for what postern hands libopendkim: the
 * header fields and body of a message to verify, and the header block
 * and body of a message to sign.
 *
 * Input: a message.  Lone LFs become CRLF and lone CRs spaces, and a
 * Received: field goes on top: the form smtpd spools.  It is parsed by
 * the MIME parser as smtpd does
 * and verified (filter_dkim_verify) with a fixed key table: RFC 8463's
 * two keys for football.example.com, any name with "tempfail" in it a
 * failed lookup, every other name NXDOMAIN.  Then it is signed
 * (filter_dkim_sign_fields) with the RFC's Ed25519 key when its From is
 * in football.example.com, and the signed message verified again.
 *
 * Invariants (abort() when broken): every result is one of RFC 8601's,
 * at most max_signatures of them; every Authentication-Results entry is
 * valid RFC 8601 and foldable; a partial signature is never a pass; and
 * a message without parser defects that postern signed verifies: its
 * first signature passes (unless its header has VT or FF, which
 * libopendkim counts as white space and RFC 6376 does not).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "arena.h"
#include "auth_results.h"
#include "buf.h"
#include "dkim_int.h"
#include "mime.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

#define FUZZ_MAX_INPUT (256 * 1024)
#define RECEIVED                                                               \
	"Received: from client.test (unknown [192.0.2.7])\r\n"                 \
	"\tby mx.test.invalid (postern) with ESMTP id 4F2A1C3B9E;\r\n"         \
	"\tTue, 1 Jul 2025 10:00:00 +0000\r\n"
#define MAX_SIGS 4

/* RFC 8463 A.1 and A.2. */
static const unsigned char rfc_seed[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
	0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
	0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};
#define RFC_ED_KEY                                                             \
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC_RSA_KEY                                                             \
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"  \
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC" \
	"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3" \
	"Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

static const char *const sign_headers[] = { "from", "to",	  "subject",
					    "date", "message-id", "reply-to",
					    NULL };
static const char *const oversign[] = { "from", NULL };
static DKIM_LIB *lib;
static struct filter_dkim_key key;
static struct filter_dkim_signer signer;
static struct pst_arena *keep;

static const char *
zone(void *arg, const char *name, bool *tempfail_r)
{
	(void)arg;
	if (strstr(name, "tempfail") != NULL) {
		*tempfail_r = true;
		return NULL;
	}
	if (strcmp(name, "brisbane._domainkey.football.example.com") == 0)
		return RFC_ED_KEY;
	if (strcmp(name, "test._domainkey.football.example.com") == 0)
		return RFC_RSA_KEY;
	return NULL;
}

/* The library and the signing key, once. */
static void
setup(void)
{
	char path[] = "/tmp/fuzz-dkim-key.XXXXXX", err[512], *spec;
	EVP_PKEY *pkey;
	FILE *f;
	int fd;

	lib = dkim_init(NULL, NULL);
	CHECK(lib != NULL && filter_dkim_verify_setup(lib) == 0);

	keep = pst_arena_new(0);
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, rfc_seed,
					    sizeof(rfc_seed));
	fd = mkstemp(path);
	CHECK(pkey != NULL && fd >= 0 && (f = fdopen(fd, "w")) != NULL);
	CHECK(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1);
	fclose(f);
	EVP_PKEY_free(pkey);
	spec = pst_arena_printf(keep, "football.example.com:brisbane:%s", path);
	CHECK(filter_dkim_key_load(lib, keep, spec, &key, err, sizeof(err)) ==
	      0);
	unlink(path);
	signer.base.sign = filter_dkim_sign_fields;
	signer.sign_headers = sign_headers;
	signer.oversign = oversign;
	signer.lib = lib;
	signer.name = "fuzz";
	signer.keys = &key;
	signer.nkeys = 1;
}

struct input {
	const char *p;
	size_t len;
};

static ssize_t
input_read(void *arg, void *buf, size_t len, uint64_t off)
{
	const struct input *in = arg;

	if (off >= in->len)
		return 0;
	if (len > in->len - off)
		len = (size_t)(in->len - off);
	memcpy(buf, in->p + off, len);
	return (ssize_t)len;
}

static bool
known_result(const char *r)
{
	static const char *const known[] = { "pass",	  "fail",   "temperror",
					     "permerror", "policy", "neutral",
					     "none" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(r, known[i]) == 0)
			return true;
	return false;
}

/* Verify text; the result on arena, its root on *root_r. */
static void
verify(struct pst_arena *arena, const char *text, size_t len,
       const struct mime_part **root_r, struct filter_dkim_result *out)
{
	struct filter_dkim_opts opts = { .max_signatures = MAX_SIGS };
	const struct mime_header **hv = NULL;
	struct filter_dkim_dns call;
	struct filter_dkim_input in;
	struct input src = { text, len };
	struct mime_parser *p;
	struct mime_part *root = NULL;
	const char *error;
	size_t n = 0;

	p = mime_parser_new(arena, NULL);
	CHECK(p != NULL);
	CHECK(mime_parser_feed(p, text, len, &error) == 0);
	CHECK(mime_parser_end(p, &root, &error) == 0);
	mime_parser_free(&p);
	for (const struct mime_header *h = root->headers; h != NULL;
	     h = h->next)
		n++;
	hv = pst_arena_calloc(arena, n + 1, sizeof(*hv));
	CHECK(hv != NULL);
	n = 0;
	for (const struct mime_header *h = root->headers; h != NULL;
	     h = h->next)
		hv[n++] = h;
	memset(&call, 0, sizeof(call));
	call.fake = zone;
	call.arena = arena;
	memset(&in, 0, sizeof(in));
	in.headers = hv;
	in.nheaders = n;
	in.body_start = root->body_start;
	in.size = len;
	in.read = input_read;
	in.arg = &src;
	filter_dkim_verify(lib, &opts, &call, arena, "fuzz", &in, out);
	*root_r = root;

	CHECK(known_result(out->overall));
	CHECK(out->nsigs <= MAX_SIGS);
	for (size_t i = 0; i < out->nsigs; i++) {
		const struct filter_dkim_sig *s = &out->sigs[i];
		const char *props = filter_dkim_ar_props(arena, s, true);

		CHECK(known_result(s->result) && strcmp(s->result, "none"));
		CHECK(props != NULL && auth_results_props_valid(props));
		CHECK(filter_value_foldable(strlen("dkim=permerror"), props));
		CHECK(!s->partial || strcmp(s->result, "policy") == 0);
	}
}

/* The value of the one From field of root, or NULL. */
static const char *
from_of(struct pst_arena *arena, const struct mime_part *root)
{
	const struct mime_header *from = NULL;

	for (const struct mime_header *h = root->headers; h != NULL;
	     h = h->next) {
		if (h->name.len != 4 || strncasecmp(h->name.p, "From", 4) != 0)
			continue;
		if (from != NULL)
			return NULL;
		from = h;
	}
	return from ? pst_arena_strndup(arena, from->unfolded.p,
					from->unfolded.len)
		    : NULL;
}

static void
sign_and_check(struct pst_arena *arena, const char *text, size_t len,
	       const struct mime_part *root)
{
	const char *blank = memmem(text, len, "\r\n\r\n", 4);
	/* the header block with its empty line, as edit.c hands it */
	size_t head = blank != NULL ? (size_t)(blank - text) + 4 : len;
	struct pst_spool *spool = pst_spool_new(FUZZ_MAX_INPUT * 2, "/tmp");
	struct filter_dkim_result r;
	const struct mime_part *root2;
	const char *error = NULL;
	struct pst_buf sigs;
	char *signed_text;

	CHECK(spool != NULL);
	CHECK(pst_spool_write(spool, text, len, &error) == 0);
	CHECK(pst_spool_flush(spool, &error) == 0);
	pst_buf_init(&sigs, 0);
	CHECK(filter_dkim_sign_fields(&signer.base, "fuzz",
				      from_of(arena, root), text, head, spool,
				      head, len, &sigs, &error) == 0);
	pst_spool_free(&spool);
	if (sigs.len == 0) {
		pst_buf_free(&sigs);
		return;
	}
	signed_text = pst_arena_alloc(arena, sigs.len + len + 1);
	CHECK(signed_text != NULL);
	memcpy(signed_text, sigs.data, sigs.len);
	memcpy(signed_text + sigs.len, text, len);
	verify(arena, signed_text, sigs.len + len, &root2, &r);
	/* What we sign must verify, when the parser and libopendkim saw
	 * the same header block (libopendkim's relaxed canonicalization
	 * takes VT and FF for white space, RFC 6376 only SP and HTAB). */
	if (root->defects == 0 && blank != NULL && root->body_start == head &&
	    memchr(text, '\v', head) == NULL &&
	    memchr(text, '\f', head) == NULL)
		CHECK(r.nsigs >= 1 && strcmp(r.sigs[0].result, "pass") == 0);
	pst_buf_free(&sigs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct filter_dkim_result r;
	const struct mime_part *root;
	struct pst_arena *arena;
	char *text;
	size_t len = 0;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (lib == NULL)
		setup();
	arena = pst_arena_new(0);
	CHECK(arena != NULL);
	text = pst_arena_alloc(arena, sizeof(RECEIVED) + 2 * size + 1);
	CHECK(text != NULL);
	memcpy(text, RECEIVED, sizeof(RECEIVED) - 1);
	len = sizeof(RECEIVED) - 1;
	for (size_t i = 0; i < size; i++) {
		char c = (char)data[i];

		if (c == '\n' && text[len - 1] != '\r')
			text[len++] = '\r';
		if (c == '\r' && (i + 1 >= size || data[i + 1] != '\n'))
			c = ' ';
		text[len++] = c;
	}
	verify(arena, text, len, &root, &r);
	sign_and_check(arena, text, len, root);
	pst_arena_free(&arena);
	return 0;
}
