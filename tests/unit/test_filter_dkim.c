/*
 * test_filter_dkim.c - unit tests of the dkim filter's verifying side
 * (filters/dkim*.c), keys from a stand-in zone instead of DNS:
 *
 * - the RFC 8463 appendix A example (ed25519-sha256 and rsa-sha256 over
 *   the same message) passes, with per-signature results and one
 *   Authentication-Results entry each;
 * - an altered body, an altered signed header, a missing, revoked or
 *   unreachable key, no resolver at all: fail, permerror, temperror;
 * - l=: content past it is flagged (dkim.N.partial) and a pass becomes
 *   policy unless allow_partial; an l= longer than the body fails;
 * - hostile signatures (syntax errors, control bytes, absurd d=, unknown
 *   algorithms, From unsigned, expired) each get a permerror and do not
 *   spoil the verification of the good signature beside them;
 * - max_signatures: only the topmost are verified, the rest counted;
 * - the canonical body lengths agree with libopendkim's for every body
 *   of a table;
 * - the check of DNS replies handed to libopendkim refuses replies that
 *   would make it read past a record;
 * - the A-R properties stay valid RFC 8601 whatever d= says.
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

#include "arena.h"
#include "auth_results.h"
#include "test_filter_dkim_util.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define DK(opts) "filter dkim { " opts " }"

/* RFC 8463 appendix A: the keys (A.2) and the signed message (A.3). */
#define RFC_ED_NAME "brisbane._domainkey.football.example.com"
#define RFC_ED_KEY                                                             \
	"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC_RSA_NAME "test._domainkey.football.example.com"
#define RFC_RSA_KEY                                                             \
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"  \
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC" \
	"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3" \
	"Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

#define RFC_SIG_ED                                                             \
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"        \
	" d=football.example.com; i=@football.example.com;\r\n"                \
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"              \
	" subject : date : message-id : from : subject : date;\r\n"            \
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"                \
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"      \
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
#define RFC_SIG_RSA                                                            \
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"            \
	" d=football.example.com; i=@football.example.com;\r\n"                \
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"        \
	" date : message-id : from : subject : date;\r\n"                      \
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"                \
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"      \
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"      \
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
#define RFC_HEAD                                                               \
	"From: Joe SixPack <joe@football.example.com>\r\n"                     \
	"To: Suzie Q <suzie@shopping.example.net>\r\n"                         \
	"Subject: Is dinner ready?\r\n"                                        \
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                      \
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
#define RFC_BODY                                                               \
	"\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"
#define RFC_MSG RFC_SIG_ED RFC_SIG_RSA RFC_HEAD RFC_BODY

static void
rfc_zone(struct dkt_zone *z)
{
	memset(z, 0, sizeof(*z));
	dkt_zone_add(z, RFC_ED_NAME, RFC_ED_KEY);
	dkt_zone_add(z, RFC_RSA_NAME, RFC_RSA_KEY);
}

static void
assert_result(struct dkt_run *r, const char *key, const char *want)
{
	const char *got = dkt_result(r, key);

	if (want == NULL) {
		if (got != NULL)
			fail_msg("%s: wanted no result, got \"%s\"", key, got);
		return;
	}
	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("%s: wanted \"%s\", got \"%s\"", key, want,
			 got ? got : "(none)");
}

/* The Authentication-Results field of the message that leaves,
 * unfolded. */
static char *
ar_of(struct dkt_run *r)
{
	char *out = dkt_output(r),
	     *ar = dkt_field(out, "Authentication-Results");
	char *p;

	free(out);
	assert_non_null(ar);
	while ((p = strstr(ar, "\r\n")) != NULL)
		memmove(p, p + 2, strlen(p + 2) + 1);
	return ar;
}

/* ---- RFC 8463 ---- */

static void
test_rfc8463(void **state)
{
	struct dkt_zone z;
	struct dkt_run r;
	char *ar;

	(void)state;
	rfc_zone(&z);
	dkt_run(&r, NULL, &z, NULL, RFC_MSG);
	assert_int_equal(r.out.verdict, PF_CONTINUE);
	assert_result(&r, "dkim", "pass");
	assert_result(&r, "dkim.1.result", "pass");
	assert_result(&r, "dkim.1.domain", "football.example.com");
	assert_result(&r, "dkim.1.selector", "brisbane");
	assert_result(&r, "dkim.1.algorithm", "ed25519-sha256");
	assert_result(&r, "dkim.1.partial", "no");
	assert_result(&r, "dkim.2.result", "pass");
	assert_result(&r, "dkim.2.selector", "test");
	assert_result(&r, "dkim.2.algorithm", "rsa-sha256");
	assert_result(&r, "dkim.3.result", NULL);
	assert_result(&r, "dkim.pass_domains", "football.example.com");
	assert_int_equal(z.asked, 2);
	/* One entry each; the same d= twice: header.b tells them apart. */
	ar = ar_of(&r);
	assert_non_null(strstr(
		ar, "dkim=pass header.d=football.example.com header.s=brisbane"
		    " header.a=ed25519-sha256 header.b=\"/gCrinpc\""));
	assert_non_null(strstr(ar, "dkim=pass header.d=football.example.com"
				   " header.s=test header.a=rsa-sha256"
				   " header.b=F45dVWDf"));
	free(ar);
	dkt_done(&r);
}

/* The spool as posternd writes it: our Received: on top. */
static void
test_rfc8463_with_received(void **state)
{
	struct dkt_zone z;
	struct dkt_run r;

	(void)state;
	rfc_zone(&z);
	dkt_run(&r, NULL, &z, NULL,
		"Received: from mx.example.net (unknown [192.0.2.7])\r\n"
		"\tby mx.example.org (postern) with ESMTP id 4F2A1C3B9E;\r\n"
		"\tTue, 1 Jul 2025 10:00:00 +0000\r\n" RFC_MSG);
	assert_result(&r, "dkim.1.result", "pass");
	assert_result(&r, "dkim.2.result", "pass");
	dkt_done(&r);
}

/* ---- what breaks a signature ---- */

struct verify_case {
	const char *name;
	const char *conf;
	const char *msg;
	const char *zone_ed, *zone_rsa; /* "" : NXDOMAIN, NULL: tempfail */
	const char *want1, *want2;	/* dkim.1.result, dkim.2.result */
	const char *overall;
	const char *reason1; /* in the A-R, or NULL */
};

static const struct verify_case verify_cases[] = {
	{ "altered body", NULL,
	  RFC_SIG_ED RFC_SIG_RSA RFC_HEAD
	  "\r\nHi.\r\n\r\nWe won the game.  Are you hungry yet?\r\n",
	  RFC_ED_KEY, RFC_RSA_KEY, "fail", "fail", "fail",
	  "body hash did not verify" },
	{ "appended body line", NULL, RFC_MSG "P.S. send money\r\n", RFC_ED_KEY,
	  RFC_RSA_KEY, "fail", "fail", "fail", NULL },
	{ "altered signed header", NULL,
	  RFC_SIG_ED RFC_SIG_RSA
	  "From: Joe SixPack <joe@football.example.com>\r\n"
	  "To: Suzie Q <suzie@shopping.example.net>\r\n"
	  "Subject: Is dinner ready??\r\n"
	  "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	  "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" RFC_BODY,
	  RFC_ED_KEY, RFC_RSA_KEY, "fail", "fail", "fail",
	  "signature did not verify" },
	/* The RFC's signatures sign From, Subject and Date twice: one
	 * more of them, above or below, breaks both. */
	{ "a second From added above", NULL,
	  RFC_SIG_ED RFC_SIG_RSA
	  "From: <boss@football.example.com>\r\n" RFC_HEAD RFC_BODY,
	  RFC_ED_KEY, RFC_RSA_KEY, "fail", "fail", "fail", NULL },
	{ "a second Subject added below", NULL,
	  RFC_SIG_ED RFC_SIG_RSA RFC_HEAD
	  "Subject: wire the money\r\n" RFC_BODY,
	  RFC_ED_KEY, RFC_RSA_KEY, "fail", "fail", "fail", NULL },
	{ "relaxed canonicalization forgives white space", NULL,
	  RFC_SIG_ED RFC_SIG_RSA
	  "From:   Joe  SixPack <joe@football.example.com>   \r\n"
	  "To: Suzie Q\r\n <suzie@shopping.example.net>\r\n"
	  "subject: Is dinner ready?\r\n"
	  "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	  "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	  "\r\nHi.  \r\n\r\nWe lost the game. \t Are you hungry yet?\r\n"
	  "\r\nJoe.\r\n\r\n\r\n",
	  RFC_ED_KEY, RFC_RSA_KEY, "pass", "pass", "pass", NULL },
	{ "tab before the colon of DKIM-Signature", NULL,
	  "DKIM-Signature\t: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	  " d=football.example.com; i=@football.example.com;\r\n"
	  " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	  " subject : date : message-id : from : subject : date;\r\n"
	  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	  " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	  " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n" RFC_SIG_RSA RFC_HEAD RFC_BODY,
	  RFC_ED_KEY, RFC_RSA_KEY, "pass", "pass", "pass", NULL },
	{ "body without its final CRLF", NULL,
	  RFC_SIG_ED RFC_SIG_RSA RFC_HEAD
	  "\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n"
	  "\r\nJoe.",
	  RFC_ED_KEY, RFC_RSA_KEY, "pass", "pass", "pass", NULL },
	{ "key not in DNS", NULL, RFC_MSG, "", RFC_RSA_KEY, "permerror", "pass",
	  "pass", "key not found in DNS" },
	{ "key lookup fails", NULL, RFC_MSG, NULL, RFC_RSA_KEY, "temperror",
	  "pass", "pass", "key lookup failed" },
	{ "both lookups fail", NULL, RFC_MSG, NULL, NULL, "temperror",
	  "temperror", "temperror", NULL },
	{ "revoked key", NULL, RFC_MSG, "v=DKIM1; k=ed25519; p=", "",
	  "permerror", "permerror", "permerror", NULL },
	{ "key of the wrong type", NULL, RFC_MSG, RFC_RSA_KEY, RFC_ED_KEY,
	  "permerror", "permerror", "permerror", NULL },
	{ "key record is garbage", NULL, RFC_MSG, "v=DKIM1; k=ed25519; p=!!",
	  "hello world", "permerror", "permerror", "permerror", NULL },
	{ "key for a hash the signature does not use", NULL, RFC_MSG,
	  RFC_ED_KEY,
	  "v=DKIM1; h=sha1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNAD", "pass",
	  "permerror", "pass", NULL },
	{ "unsigned", NULL, RFC_HEAD RFC_BODY, RFC_ED_KEY, RFC_RSA_KEY, NULL,
	  NULL, "none", NULL },
};

static void
test_verify(void **state)
{
	const struct verify_case *c = *state;
	struct dkt_zone z;
	struct dkt_run r;
	char *ar;

	memset(&z, 0, sizeof(z));
	dkt_zone_add(&z, RFC_ED_NAME,
		     c->zone_ed && !c->zone_ed[0] ? "x" : c->zone_ed);
	dkt_zone_add(&z, RFC_RSA_NAME,
		     c->zone_rsa && !c->zone_rsa[0] ? "x" : c->zone_rsa);
	/* "" asks for NXDOMAIN: leave the name out of the zone. */
	if (c->zone_ed && !c->zone_ed[0])
		z.v[0].name = "absent.invalid";
	if (c->zone_rsa && !c->zone_rsa[0])
		z.v[1].name = "absent.invalid";
	dkt_run(&r, c->conf, &z, NULL, c->msg);
	assert_int_equal(r.out.verdict, PF_CONTINUE);
	assert_result(&r, "dkim", c->overall);
	assert_result(&r, "dkim.1.result", c->want1);
	assert_result(&r, "dkim.2.result", c->want2);
	ar = ar_of(&r);
	if (c->want1 == NULL)
		assert_non_null(strstr(ar, "; dkim=none"));
	else
		assert_non_null(strstr(ar, c->want1));
	if (c->reason1 != NULL && strstr(ar, c->reason1) == NULL)
		fail_msg("no reason \"%s\" in %s", c->reason1, ar);
	free(ar);
	dkt_done(&r);
}

/* No resolver and no stand-in: every key lookup is a temperror. */
static void
test_no_resolver(void **state)
{
	struct dkt_run r;

	(void)state;
	dkt_run(&r, NULL, NULL, NULL, RFC_MSG);
	assert_result(&r, "dkim", "temperror");
	assert_result(&r, "dkim.1.result", "temperror");
	assert_result(&r, "dkim.2.result", "temperror");
	dkt_done(&r);
}

/* ---- l= ---- */

#define PARTIAL_MSG                                                            \
	"From: <a@example.org>\r\nTo: <b@example.net>\r\nSubject: l=\r\n"      \
	"\r\nThe signed part.\r\n"

static void
test_partial(void **state)
{
	struct dkt_key key;
	struct dkt_zone z;
	struct dkt_run r;
	char *signed_msg, *appended, *truncated, *ar;

	(void)state;
	/* RSA: libopendkim leaks the key of each Ed25519 signature it
	 * makes (see filters/dkim_ed25519.c). */
	dkt_key_make(&key, "rsa", 1024);
	memset(&z, 0, sizeof(z));
	dkt_zone_add(&z, "e1._domainkey.example.org", key.record);
	signed_msg = dkt_sign(PARTIAL_MSG, key.pem, "example.org", "e1",
			      DKIM_SIGN_RSASHA256, DKIM_CANON_RELAXED,
			      DKIM_CANON_SIMPLE, -2);
	assert_non_null(strstr(signed_msg, "l=18"));

	/* l= covers the whole body: a plain pass. */
	dkt_run(&r, NULL, &z, NULL, signed_msg);
	assert_result(&r, "dkim.1.result", "pass");
	assert_result(&r, "dkim.1.partial", "no");
	dkt_done(&r);

	/* Content after l=: flagged, and policy by default. */
	assert_true(asprintf(&appended, "%sClick here: http://evil.test/\r\n",
			     signed_msg) > 0);
	dkt_run(&r, NULL, &z, NULL, appended);
	assert_result(&r, "dkim", "policy");
	assert_result(&r, "dkim.1.result", "policy");
	assert_result(&r, "dkim.1.partial", "yes");
	assert_result(&r, "dkim.pass_domains", NULL);
	ar = ar_of(&r);
	assert_non_null(strstr(ar, "dkim=policy reason="));
	free(ar);
	dkt_done(&r);
	dkt_run(&r, DK("allow_partial = yes;"), &z, NULL, appended);
	assert_result(&r, "dkim.1.result", "pass");
	assert_result(&r, "dkim.1.partial", "yes");
	dkt_done(&r);

	/* Only empty lines after l= add nothing to a simple body. */
	free(appended);
	assert_true(asprintf(&appended, "%s\r\n\r\n", signed_msg) > 0);
	dkt_run(&r, NULL, &z, NULL, appended);
	assert_result(&r, "dkim.1.result", "pass");
	assert_result(&r, "dkim.1.partial", "no");
	dkt_done(&r);

	/* A body shorter than l=: fail. */
	truncated = strdup(signed_msg);
	strcpy(strstr(truncated, "The signed"), "The\r\n");
	dkt_run(&r, NULL, &z, NULL, truncated);
	assert_result(&r, "dkim.1.result", "fail");
	dkt_done(&r);

	free(truncated);
	free(appended);
	free(signed_msg);
	dkt_key_free(&key);
}

/* ---- hostile signatures ---- */

struct hostile_case {
	const char *name;
	const char *field; /* a DKIM-Signature field put above the RFC's */
	const char *reason;
};

#define LONG63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct hostile_case hostile_cases[] = {
	{ "missing tags", "DKIM-Signature: v=1; a=rsa-sha256\r\n", NULL },
	{ "empty", "DKIM-Signature:\r\n", NULL },
	{ "control byte",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1;\x01 "
	  "h=from; bh=AAAA; b=AAAA\r\n",
	  "signature syntax error" },
	{ "8-bit byte",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=ex\xc3\xa4mple.org; s=s1; "
	  "h=from; bh=AAAA; b=AAAA\r\n",
	  "signature syntax error" },
	{ "d= no domain",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=ex!ample..org; s=s1; "
	  "h=from; bh=AAAA; b=AAAA\r\n",
	  NULL },
	{ "d= too long",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=" LONG63 "." LONG63 "." LONG63
	  "." LONG63 ".org; s=s1; h=from; bh=AAAA; b=AAAA\r\n",
	  NULL },
	/* libopendkim would give up on every signature of the message
	 * when the key name does not fit its buffer */
	{ "d= and s= too long for a key name",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=" LONG63 "." LONG63 "." LONG63
	  ".org; s=" LONG63 "; h=from; bh=AAAA; b=AAAA\r\n",
	  "invalid d= or s=" },
	{ "d= with an empty label",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=example..org; s=s1; "
	  "h=from; bh=AAAA; b=AAAA\r\n",
	  "invalid d= or s=" },
	{ "s= with a dot label too long",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=" LONG63
	  "a; h=from; bh=AAAA; b=AAAA\r\n",
	  "invalid d= or s=" },
	{ "unknown algorithm",
	  "DKIM-Signature: v=1; a=rsa-sha512; d=example.org; s=s1; "
	  "h=from; bh=AAAA; b=AAAA\r\n",
	  NULL },
	{ "From not signed",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; "
	  "h=subject; bh=AAAA; b=AAAA\r\n",
	  NULL },
	{ "expired",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; "
	  "t=1000000000; x=1000000001; h=from; bh=AAAA; b=AAAA\r\n",
	  NULL },
	{ "version 2",
	  "DKIM-Signature: v=2; a=rsa-sha256; d=example.org; "
	  "s=s1; h=from; bh=AAAA; b=AAAA\r\n",
	  NULL },
	{ "q= asks for a file",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; "
	  "q=file; h=from; bh=AAAA; b=AAAA\r\n",
	  NULL },
	{ "l= negative",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; l=-5; "
	  "h=from; bh=AAAA; b=AAAA\r\n",
	  NULL },
	{ "i= outside d=",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; "
	  "i=@evil.test; h=from; bh=AAAA; b=AAAA\r\n",
	  NULL },
	{ "b= not base64",
	  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; "
	  "h=from; bh=AAAA; b=!!!!\r\n",
	  NULL },
};

static void
test_hostile(void **state)
{
	const struct hostile_case *c = *state;
	struct dkt_zone z;
	struct dkt_run r;
	char *msg, *ar;

	rfc_zone(&z);
	assert_true(asprintf(&msg, "%s%s", c->field, RFC_MSG) > 0);
	dkt_run(&r, NULL, &z, NULL, msg);
	assert_result(&r, "dkim.1.result", "permerror");
	/* the good signatures beside it still pass */
	assert_result(&r, "dkim.2.result", "pass");
	assert_result(&r, "dkim.3.result", "pass");
	assert_result(&r, "dkim", "pass");
	ar = ar_of(&r);
	assert_non_null(strstr(ar, "dkim=permerror"));
	if (c->reason != NULL && strstr(ar, c->reason) == NULL)
		fail_msg("no reason \"%s\" in %s", c->reason, ar);
	free(ar);
	dkt_done(&r);
	free(msg);
}

/* ---- max_signatures ---- */

static void
test_max_signatures(void **state)
{
	struct dkt_zone z;
	struct dkt_run r;
	char *msg;

	(void)state;
	rfc_zone(&z);
	/* Ten junk signatures on top push the RFC's past the limit. */
	msg = strdup(RFC_MSG);
	for (int i = 0; i < 10; i++) {
		char *m;

		assert_true(asprintf(&m,
				     "DKIM-Signature: v=1; a=rsa-sha256; "
				     "d=example.org; s=junk%d; h=from; "
				     "bh=AAAA; b=AAAA\r\n%s",
				     i, msg) > 0);
		free(msg);
		msg = m;
	}
	dkt_run(&r, DK("max_signatures = 3;"), &z, NULL, msg);
	assert_result(&r, "dkim.3.result", "permerror");
	assert_result(&r, "dkim.4.result", NULL);
	assert_result(&r, "dkim.skipped", "9");
	assert_result(&r, "dkim", "permerror");
	assert_int_equal(z.asked, 3);
	dkt_done(&r);
	dkt_run(&r, DK("max_signatures = 12;"), &z, NULL, msg);
	assert_result(&r, "dkim.11.result", "pass");
	assert_result(&r, "dkim.12.result", "pass");
	assert_result(&r, "dkim.skipped", NULL);
	assert_result(&r, "dkim", "pass");
	dkt_done(&r);
	free(msg);
}

static void
test_bad_options(void **state)
{
	static const struct {
		const char *opts, *want;
	} cases[] = {
		{ "max_signatures = 0;", "max_signatures" },
		{ "max_signatures = 33;", "must be 1 to 32" },
		{ "sign_headers = [\"from\", \"x y\"];", "not a header name" },
		{ "no_such_option = 1;", "no_such_option" },
	};

	(void)state;
	filter_builtins_register_all();
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct ft ft = { 0 };
		char conf[256];

		snprintf(conf, sizeof(conf), "filter dkim {\n %s\n}",
			 cases[i].opts);
		assert_int_equal(ft_chain(&ft, conf), -1);
		if (strstr(ft.error, cases[i].want) == NULL ||
		    strstr(ft.error, "test.conf:2") == NULL)
			fail_msg("%s: %s", cases[i].opts, ft.error);
		ft_free(&ft);
	}
}

/* ---- canonical body lengths ---- */

/* Compared with libopendkim's own count (it signs only bodies that
 * end in CRLF). */
static const char *const bodies[] = {
	"",
	"\r\n",
	"\r\n\r\n\r\n",
	"a\r\n",
	"a\r\n\r\n\r\n",
	"  a  \r\n",
	" \t \r\n",
	"a \t b\r\n\t\r\nc\r\n",
	"line one\r\n  \r\n\r\nline three   \r\n \r\n",
	"x\r\n\r\ny\r\n\r\n",
	"tab\tin\t\tthe middle\r\n",
	" \r\n \r\nlast\r\n \t\r\n",
};

/* Worked out by hand from RFC 6376 3.4.3 and 3.4.4. */
static const struct {
	const char *body;
	uint64_t simple, relaxed;
} body_lens[] = {
	{ "a", 3, 3 },
	{ "a \t b\r\n\t\r\nc", 13, 10 },
	{ "no final line end  ", 21, 19 },
	{ "cr\ralone\r\n", 10, 10 },
	{ "trailing cr\r", 14, 14 },
	{ "lf\nonly\n", 10, 10 },
};

static void
test_bodylen(void **state)
{
	struct dkt_key key;

	(void)state;
	dkt_key_make(&key, "rsa", 1024);
	for (size_t i = 0; i < N_ELEMS(bodies); i++) {
		for (int relaxed = 0; relaxed < 2; relaxed++) {
			static DKIM_LIB *lib;
			struct filter_dkim_bodylen bl;
			uint64_t simple_len, relaxed_len, mine;
			ssize_t msglen, canonlen, signlen;
			unsigned char *copy;
			char *msg;
			DKIM_STAT st;
			DKIM *d;

			if (lib == NULL)
				lib = dkim_init(NULL, NULL);
			assert_true(asprintf(&msg,
					     "From: <a@example.org>\r\n"
					     "\r\n%s",
					     bodies[i]) > 0);
			copy = (unsigned char *)msg;
			d = dkim_sign(lib, (const unsigned char *)"t", NULL,
				      (dkim_sigkey_t)key.pem,
				      (const unsigned char *)"e1",
				      (const unsigned char *)"example.org",
				      DKIM_CANON_RELAXED,
				      relaxed ? DKIM_CANON_RELAXED
					      : DKIM_CANON_SIMPLE,
				      DKIM_SIGN_RSASHA256, -1, &st);
			assert_non_null(d);
			st = dkim_chunk(d, copy, strlen(msg));
			if (st == DKIM_STAT_OK)
				st = dkim_chunk(d, NULL, 0);
			if (st == DKIM_STAT_OK)
				st = dkim_eom(d, NULL);
			if (st != DKIM_STAT_OK)
				fail_msg("body %zu: %s", i,
					 dkim_geterror(d) ? dkim_geterror(d)
							  : "?");
			assert_int_equal(dkim_sig_getcanonlen(
						 d, dkim_getsignature(d),
						 &msglen, &canonlen, &signlen),
					 0);
			filter_dkim_bodylen_init(&bl);
			/* in pieces, to cross every boundary */
			for (size_t k = 0; bodies[i][k] != '\0'; k++)
				filter_dkim_bodylen_feed(
					&bl,
					(const unsigned char *)bodies[i] + k,
					1);
			filter_dkim_bodylen_end(&bl, &simple_len, &relaxed_len);
			mine = relaxed ? relaxed_len : simple_len;
			if ((uint64_t)canonlen != mine)
				fail_msg("body %zu (%s): libopendkim %zd, "
					 "ours %llu",
					 i, relaxed ? "relaxed" : "simple",
					 canonlen, (unsigned long long)mine);
			dkim_free(d);
			free(msg);
		}
	}
	dkt_key_free(&key);
	for (size_t i = 0; i < N_ELEMS(body_lens); i++) {
		struct filter_dkim_bodylen bl;
		uint64_t simple_len, relaxed_len;

		filter_dkim_bodylen_init(&bl);
		filter_dkim_bodylen_feed(
			&bl, (const unsigned char *)body_lens[i].body,
			strlen(body_lens[i].body));
		filter_dkim_bodylen_end(&bl, &simple_len, &relaxed_len);
		assert_int_equal(simple_len, body_lens[i].simple);
		assert_int_equal(relaxed_len, body_lens[i].relaxed);
	}
}

/* ---- DNS replies ---- */

#define LONG_TXT RFC_RSA_KEY RFC_RSA_KEY
#define QNAME "s1._domainkey.example.org"

static void
test_replies(void **state)
{
	/* header 12, the name as labels, type and class 4; then the
	 * answer: pointer 2, type, class, TTL, length 10, the strings */
	const size_t ans = 12 + strlen(QNAME) + 2 + 4, rdata = ans + 12;
	const size_t second = rdata + 1 + 255;
	unsigned char buf[1024], bad[1024];
	size_t n;

	(void)state;
	assert_true(strlen(LONG_TXT) > 255 && strlen(LONG_TXT) < 510);
	n = filter_dkim_reply_make(buf, sizeof(buf), QNAME, 0, LONG_TXT,
				   strlen(LONG_TXT));
	assert_int_equal(n, rdata + 2 + strlen(LONG_TXT));
	assert_true(filter_dkim_reply_ok(buf, n));
	assert_int_equal(buf[rdata], 255);
	assert_int_equal(buf[second], strlen(LONG_TXT) - 255);
	/* every cut of it is refused */
	for (size_t i = 0; i < n; i++)
		assert_false(filter_dkim_reply_ok(buf, i));
	/* a string that claims more than its record holds, or less */
	memcpy(bad, buf, n);
	bad[second]++;
	assert_false(filter_dkim_reply_ok(bad, n));
	memcpy(bad, buf, n);
	bad[second]--;
	assert_false(filter_dkim_reply_ok(bad, n));
	/* a compression pointer forwards, and one to itself */
	memcpy(bad, buf, n);
	bad[ans + 1] = (unsigned char)(ans + 4);
	assert_false(filter_dkim_reply_ok(bad, n));
	memcpy(bad, buf, n);
	bad[ans + 1] = (unsigned char)ans;
	assert_false(filter_dkim_reply_ok(bad, n));
	/* more answers than there are */
	memcpy(bad, buf, n);
	bad[7] = 2;
	assert_false(filter_dkim_reply_ok(bad, n));
	/* two questions */
	memcpy(bad, buf, n);
	bad[5] = 2;
	assert_false(filter_dkim_reply_ok(bad, n));
	/* a question of another type */
	memcpy(bad, buf, n);
	bad[ans - 3] = 1;
	assert_false(filter_dkim_reply_ok(bad, n));
	/* a label length with the reserved bits */
	memcpy(bad, buf, n);
	bad[12] = 0x42;
	assert_false(filter_dkim_reply_ok(bad, n));
	/* NXDOMAIN without an answer is fine */
	n = filter_dkim_reply_make(buf, sizeof(buf), "x.example.org", 3, NULL,
				   0);
	assert_true(n > 0 && filter_dkim_reply_ok(buf, n));
	/* an empty record is one empty string */
	n = filter_dkim_reply_make(buf, sizeof(buf), "x.example.org", 0, "", 0);
	assert_true(n > 0 && filter_dkim_reply_ok(buf, n));
	/* names that cannot be written, a buffer too small */
	assert_int_equal(
		filter_dkim_reply_make(buf, sizeof(buf), "a..b", 0, NULL, 0),
		0);
	assert_int_equal(filter_dkim_reply_make(buf, sizeof(buf), LONG63 "a.b",
						0, NULL, 0),
			 0);
	assert_int_equal(filter_dkim_reply_make(buf, 40, QNAME, 0, LONG_TXT,
						strlen(LONG_TXT)),
			 0);
	assert_false(filter_dkim_reply_ok(NULL, 0));
}

/* ---- A-R properties ---- */

static void
test_ar_props(void **state)
{
	static const struct {
		struct filter_dkim_sig sig;
		bool with_b;
		const char *want;
	} cases[] = {
		{ { "example.org", "s1", "rsa-sha256", "pass", NULL, "AbC+/=x",
		    false },
		  true,
		  "header.d=example.org header.s=s1 header.a=rsa-sha256 "
		  "header.b=\"AbC+/=x\"" },
		{ { "ex;ample.org", "s (1)", "", "permerror", "bad one", NULL,
		    false },
		  false,
		  "reason=\"bad one\" header.d=\"ex;ample.org\" "
		  "header.s=\"s (1)\"" },
		{ { "", "", "", "permerror", "x", NULL, false },
		  true,
		  "reason=x" },
	};
	struct pst_arena *arena = pst_arena_new(0);

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		const char *p = filter_dkim_ar_props(arena, &cases[i].sig,
						     cases[i].with_b);

		assert_non_null(p);
		assert_string_equal(p, cases[i].want);
		assert_true(auth_results_props_valid(p));
	}
	pst_arena_free(&arena);
}

#define SINGLE_TESTS 9

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(verify_cases) +
				       N_ELEMS(hostile_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_rfc8463),
		cmocka_unit_test(test_rfc8463_with_received),
		cmocka_unit_test(test_no_resolver),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_max_signatures),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_bodylen),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_ar_props),
	};
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < N_ELEMS(verify_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = verify_cases[i].name,
			.test_func = test_verify,
			.initial_state = (void *)&verify_cases[i],
		};
	for (size_t i = 0; i < N_ELEMS(hostile_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = hostile_cases[i].name,
			.test_func = test_hostile,
			.initial_state = (void *)&hostile_cases[i],
		};
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	dkt_cleanup();
	return rc;
}
