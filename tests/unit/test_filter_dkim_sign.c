/*
 * test_filter_dkim_sign.c - unit tests of the dkim filter's signing side:
 * "modify, then sign".  Keys (RSA 2048 as opendkim-genkey writes them,
 * Ed25519 as openssl genpkey does) are made at test time; a message
 * signed here goes through a second chain that verifies it against the
 * published halves:
 *
 * - a trusted client's mail gets one signature per key of its From
 *   domain (or parent domain), on top, covering a header edit made by a
 *   filter after dkim in the chain and the Authentication-Results
 *   field when asked to; changing a signed field afterwards breaks it;
 * - an authenticated client counts as trusted; any other client, a From
 *   of another domain, two From fields or none: no signature;
 * - bodies larger than a read chunk, a message without a body;
 * - key files that are missing, not PEM, too small, of another type, or
 *   listed twice are refused at init with FILE:LINE.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "test_filter_dkim_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define NB "module = \"" FT_SO("script_nb") "\"; "

#define MSG_FROM(from)                                                         \
	"From: " from "\r\n"                                                   \
	"To: Bob <bob@example.net>\r\n"                                        \
	"Subject: hello\r\n"                                                   \
	"Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n"                             \
	"Message-ID: <1@example.org>\r\n"                                      \
	"\r\n"                                                                 \
	"Hello Bob.\r\n"
#define MSG MSG_FROM("Alice <alice@example.org>")

static struct dkt_key rsa_key, ed_key, sub_key;
static struct dkt_zone zone;
static char sign_opts[4096];

static const struct dkt_client trusted = { .trusted = true };
static const struct dkt_client authed = { .auth_user = "alice" };
static const struct dkt_client stranger = { 0 };

static int
setup(void **state)
{
	(void)state;
	dkt_key_make(&rsa_key, "rsa", 2048);
	dkt_key_make(&ed_key, "ed25519", 0);
	dkt_key_make(&sub_key, "ed25519", 0);
	memset(&zone, 0, sizeof(zone));
	dkt_zone_add(&zone, "s1._domainkey.example.org", rsa_key.record);
	dkt_zone_add(&zone, "e1._domainkey.example.org", ed_key.record);
	dkt_zone_add(&zone, "m1._domainkey.mail.example.org", sub_key.record);
	snprintf(sign_opts, sizeof(sign_opts),
		 "sign = [\"example.org:s1:%s\", \"Example.ORG.:e1:%s\"];",
		 rsa_key.path, ed_key.path);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	dkt_key_free(&rsa_key);
	dkt_key_free(&ed_key);
	dkt_key_free(&sub_key);
	dkt_cleanup();
	return 0;
}

/* `filter dkim { sign = ...; extra }` then the filters of after. */
static void
run_signing(struct dkt_run *r, const char *after, const char *extra,
	    const struct dkt_client *client, const char *msg)
{
	char *text;

	assert_true(asprintf(&text, "filter dkim { %s %s }\n%s", sign_opts,
			     extra ? extra : "", after ? after : "") > 0);
	dkt_run(r, text, &zone, client, msg);
	free(text);
}

/* The verdict of a second, verifying chain on text. */
static void
verify_output(const char *text, const char *want1, const char *want2)
{
	struct dkt_run v;
	const char *got;

	dkt_run(&v, NULL, &zone, NULL, text);
	got = dkt_result(&v, "dkim.1.result");
	if (got == NULL || strcmp(got, want1) != 0)
		fail_msg("signature 1: wanted %s, got %s\n%s", want1,
			 got ? got : "(none)", text);
	got = dkt_result(&v, "dkim.2.result");
	if ((want2 == NULL) != (got == NULL) ||
	    (want2 != NULL && strcmp(got, want2) != 0))
		fail_msg("signature 2: wanted %s, got %s", want2 ? want2 : "-",
			 got ? got : "(none)");
	dkt_done(&v);
}

/* ---- who gets signed ---- */

static void
test_sign_trusted(void **state)
{
	struct dkt_run r;
	char *out, *sig, *tampered, *p;

	(void)state;
	/* The edit comes from a filter after dkim: signed all the same. */
	run_signing(&r,
		    "filter edit { " NB "act_stage = \"message\";"
		    " change_header = [\"Subject 0 changed by a filter\"];"
		    " add_header = [\"X-Scanned: yes\"]; }",
		    NULL, &trusted, MSG);
	assert_int_equal(r.out.verdict, PF_CONTINUE);
	assert_true(filter_ctx_has_edits(r.ctx));
	out = dkt_output(&r);
	assert_int_equal(dkt_count(out, "DKIM-Signature"), 2);
	assert_int_equal(strncmp(out, "DKIM-Signature: v=1; a=rsa-sha256;", 34),
			 0);
	sig = dkt_field(out, "DKIM-Signature");
	assert_non_null(strstr(sig, "d=example.org; s=s1;"));
	assert_non_null(strstr(sig, "c=relaxed/relaxed"));
	free(sig);
	assert_non_null(strstr(out, "a=ed25519-sha256;"));
	assert_non_null(strstr(out, "Subject: changed by a filter\r\n"));
	assert_non_null(strstr(out, "X-Scanned: yes\r\n"));
	/* our users' mail is signed, not verified */
	assert_null(strstr(out, "dkim=none"));
	/* Folded with CRLF, lines of at most 78 octets. */
	for (p = out; (p = strstr(p, "\n")) != NULL; p++)
		assert_int_equal(p[-1], '\r');
	dkt_done(&r);

	verify_output(out, "pass", "pass");
	/* Undo the filter's edit: the signatures no longer hold. */
	tampered = strdup(out);
	p = strstr(tampered, "changed by a filter");
	memcpy(p, "hello\r\nX-Pad: aaaaaaa", strlen("changed by a filter"));
	verify_output(tampered, "fail", "fail");
	free(tampered);
	free(out);
}

static void
test_sign_authenticated(void **state)
{
	struct dkt_run r;
	char *out;

	(void)state;
	run_signing(&r, NULL, NULL, &authed, MSG);
	out = dkt_output(&r);
	assert_int_equal(dkt_count(out, "DKIM-Signature"), 2);
	dkt_done(&r);
	verify_output(out, "pass", "pass");
	free(out);
}

static void
test_sign_stranger(void **state)
{
	struct dkt_run r;
	char *out;

	(void)state;
	run_signing(&r, NULL, NULL, &stranger, MSG);
	out = dkt_output(&r);
	assert_int_equal(dkt_count(out, "DKIM-Signature"), 0);
	dkt_done(&r);
	free(out);
	/* Without keys nothing is marked: no edits at all. */
	dkt_run(&r, "filter dkim { verify = no; }", &zone, &trusted, MSG);
	assert_false(filter_ctx_has_edits(r.ctx));
	dkt_done(&r);
}

/* Which From gets which signature. */
struct from_case {
	const char *name;
	const char *extra_conf; /* a filter after dkim, or NULL */
	const char *msg;
	unsigned want; /* signatures */
	const char *d; /* d= of the first */
};

static const struct from_case from_cases[] = {
	{ "From in the domain", NULL, MSG, 2, "example.org" },
	{ "From in upper case", NULL, MSG_FROM("<ALICE@EXAMPLE.ORG>"), 2,
	  "example.org" },
	{ "From in a subdomain", NULL, MSG_FROM("<alice@mx.example.org>"), 2,
	  "example.org" },
	{ "From in the subdomain with a key of its own", NULL,
	  MSG_FROM("alice@mail.example.org"), 1, "mail.example.org" },
	{ "From of another domain", NULL, MSG_FROM("<alice@example.net>"), 0,
	  NULL },
	{ "From ending like the domain", NULL,
	  MSG_FROM("<alice@badexample.org>"), 0, NULL },
	{ "From without an address", NULL, MSG_FROM("undisclosed"), 0, NULL },
	{ "two From fields", NULL,
	  "From: <alice@example.org>\r\n" MSG_FROM("<bob@example.org>"), 0,
	  NULL },
	{ "no From field", NULL, "Subject: x\r\n\r\nbody\r\n", 0, NULL },
	{ "From changed by a filter to another domain",
	  "filter edit { " NB "act_stage = \"message\";"
	  " change_header = [\"From 0 <alice@example.net>\"]; }",
	  MSG, 0, NULL },
	{ "From changed by a filter into the domain",
	  "filter edit { " NB "act_stage = \"message\";"
	  " change_header = [\"From 0 <alice@example.org>\"]; }",
	  MSG_FROM("<alice@example.net>"), 2, "example.org" },
	{ "From deleted by a filter",
	  "filter edit { " NB "act_stage = \"message\";"
	  " delete_header = [\"From 0\"]; }",
	  MSG, 0, NULL },
};

static void
test_sign_from(void **state)
{
	const struct from_case *c = *state;
	char *conf, *out;
	struct dkt_run r;

	assert_true(asprintf(&conf,
			     "filter dkim { sign = [\"example.org:s1:%s\", "
			     "\"example.org:e1:%s\", "
			     "\"mail.example.org:m1:%s\"]; }\n%s",
			     rsa_key.path, ed_key.path, sub_key.path,
			     c->extra_conf ? c->extra_conf : "") > 0);
	dkt_run(&r, conf, &zone, &trusted, c->msg);
	out = dkt_output(&r);
	assert_int_equal(dkt_count(out, "DKIM-Signature"), c->want);
	if (c->d != NULL) {
		char *sig = dkt_field(out, "DKIM-Signature"), want[300];

		snprintf(want, sizeof(want), "d=%s;", c->d);
		assert_non_null(strstr(sig, want));
		free(sig);
		verify_output(out, "pass", c->want > 1 ? "pass" : NULL);
	}
	dkt_done(&r);
	free(out);
	free(conf);
}

/* ---- what is signed ---- */

static void
test_sign_covers_auth_results(void **state)
{
	struct dkt_run r;
	char *out, *tampered, *p;

	(void)state;
	run_signing(&r,
		    "filter auth { " NB "act_stage = \"message\";"
		    " auth = [\"spf pass smtp.mailfrom=example.org\"]; }",
		    "sign_headers = [\"from\", \"subject\", "
		    "\"authentication-results\"];",
		    &trusted, MSG);
	out = dkt_output(&r);
	if (strstr(out, "h=From:Authentication-Results:Subject:from;") == NULL)
		fail_msg("%s", out);
	dkt_done(&r);
	/* A verifier with another authserv-id keeps our A-R field. */
	{
		struct dkt_run v;

		dkt_run(&v,
			"authserv_id = \"other.example.net\";\n"
			"filter dkim { }",
			&zone, NULL, out);
		assert_string_equal(dkt_result(&v, "dkim.1.result"), "pass");
		dkt_done(&v);
	}
	tampered = strdup(out);
	p = strstr(tampered, "spf=pass");
	memcpy(p, "spf=fail", 8);
	{
		struct dkt_run v;

		dkt_run(&v,
			"authserv_id = \"other.example.net\";\n"
			"filter dkim { }",
			&zone, NULL, tampered);
		assert_string_equal(dkt_result(&v, "dkim.1.result"), "fail");
		assert_string_equal(dkt_result(&v, "dkim.2.result"), "fail");
		dkt_done(&v);
	}
	free(tampered);
	free(out);
}

static void
test_sign_big_body(void **state)
{
	size_t body = 300 * 1024 + 5,
	       head = strlen(MSG) - strlen("Hello Bob.\r\n");
	char *msg = malloc(head + body + 1), *out;
	struct dkt_run r;

	(void)state;
	assert_non_null(msg);
	memcpy(msg, MSG, head);
	for (size_t i = 0; i < body; i++)
		msg[head + i] = i % 72 == 70   ? '\r'
				: i % 72 == 71 ? '\n'
					       : (char)('a' + i % 26);
	msg[head + body] = '\0';
	run_signing(&r, NULL, NULL, &trusted, msg);
	out = dkt_output(&r);
	dkt_done(&r);
	assert_int_equal(dkt_count(out, "DKIM-Signature"), 2);
	verify_output(out, "pass", "pass");
	free(out);
	free(msg);
}

static void
test_sign_no_body(void **state)
{
	struct dkt_run r;
	char *out;

	(void)state;
	run_signing(&r, NULL, NULL, &trusted,
		    "From: <alice@example.org>\r\nSubject: empty\r\n");
	out = dkt_output(&r);
	dkt_done(&r);
	assert_int_equal(dkt_count(out, "DKIM-Signature"), 2);
	verify_output(out, "pass", "pass");
	free(out);
}

/* ---- keys ---- */

static const char *
write_file(const char *name, const char *text, mode_t mode)
{
	static char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dkt_dir(), name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static char *
pem_of(EVP_PKEY *pkey, const char *pass)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	assert_non_null(pkey);
	assert_int_equal(PEM_write_bio_PrivateKey(
				 bio, pkey, pass ? EVP_aes_128_cbc() : NULL,
				 (unsigned char *)pass, pass ? 6 : 0, NULL,
				 NULL),
			 1);
	len = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)len);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return out;
}

static void
test_key_errors(void **state)
{
	char *small = pem_of(EVP_RSA_gen(512), NULL);
	char *ec = pem_of(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), NULL);
	char *locked =
		pem_of(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), "secret");
	struct {
		char spec[1200];
		const char *want;
	} cases[10];
	size_t n = 0;

	(void)state;
#define CASE(want_, ...)                                                       \
	do {                                                                   \
		snprintf(cases[n].spec, sizeof(cases[n].spec), __VA_ARGS__);   \
		cases[n++].want = (want_);                                     \
	} while (0)
	CASE("is not \"domain:selector:keyfile\"", "\"example.org:s1\"");
	CASE("is not", "\":s1:%s\"", ed_key.path);
	CASE("no valid key name", "\"exa mple.org:s1:%s\"", ed_key.path);
	CASE("No such file", "\"example.org:s1:%s/none\"", dkt_dir());
	CASE("not a key file", "\"example.org:s1:%s\"", dkt_dir());
	CASE("not a PEM private key", "\"example.org:s1:%s\"",
	     write_file("text", "hello\n", 0600));
	CASE("too small", "\"example.org:s1:%s\"",
	     write_file("small", small, 0600));
	CASE("not an RSA or Ed25519 key", "\"example.org:s1:%s\"",
	     write_file("ec", ec, 0600));
	CASE("passphrase", "\"example.org:s1:%s\"",
	     write_file("locked", locked, 0600));
	CASE("listed twice", "\"example.org:s1:%s\", \"example.org:S1:%s\"",
	     ed_key.path, rsa_key.path);
#undef CASE
	filter_builtins_register_all();
	for (size_t i = 0; i < n; i++) {
		struct ft ft = { 0 };
		char *conf;

		assert_true(asprintf(&conf, "filter dkim {\n sign = [%s];\n}",
				     cases[i].spec) > 0);
		if (ft_chain(&ft, conf) == 0)
			fail_msg("accepted: %s", cases[i].spec);
		if (strstr(ft.error, "test.conf:2") == NULL ||
		    strstr(ft.error, cases[i].want) == NULL)
			fail_msg("%s: %s", cases[i].spec, ft.error);
		ft_free(&ft);
		free(conf);
	}
	free(small);
	free(ec);
	free(locked);
}

/* Junk before the PEM block (comments) is fine. */
static void
test_key_with_preamble(void **state)
{
	char *text, conf[1024];
	struct ft ft = { 0 };

	(void)state;
	assert_true(asprintf(&text, "# made by the test\n%s", ed_key.pem) > 0);
	snprintf(conf, sizeof(conf),
		 "filter dkim { sign = \"example.org:e1:%s\"; }",
		 write_file("preamble", text, 0600));
	filter_builtins_register_all();
	if (ft_chain(&ft, conf) < 0)
		fail_msg("%s", ft.error);
	ft_free(&ft);
	free(text);
}

#define SINGLE_TESTS 8

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(from_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_sign_trusted),
		cmocka_unit_test(test_sign_authenticated),
		cmocka_unit_test(test_sign_stranger),
		cmocka_unit_test(test_sign_covers_auth_results),
		cmocka_unit_test(test_sign_big_body),
		cmocka_unit_test(test_sign_no_body),
		cmocka_unit_test(test_key_errors),
		cmocka_unit_test(test_key_with_preamble),
	};
	size_t n = 0;

	for (size_t i = 0; i < N_ELEMS(from_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = from_cases[i].name,
			.test_func = test_sign_from,
			.initial_state = (void *)&from_cases[i],
		};
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	return cmocka_run_group_tests(tests, setup, teardown);
}
