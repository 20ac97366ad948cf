/*
 * test_filter_dkim_util.h - what the dkim filter's unit tests share:
 * keys made at test time, a stand-in DNS zone, messages signed by
 * libopendkim itself, and a chain with `filter dkim { ... }` that runs
 * one message and hands back its results and the message that leaves.
 */
#ifndef TESTS_UNIT_TEST_FILTER_DKIM_UTIL_H
#define TESTS_UNIT_TEST_FILTER_DKIM_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include <opendkim/dkim.h>

#include "dkim_int.h"
#include "filter_test.h"

/* A private key in a file of a private directory, and the TXT record
 * that publishes its public half. */
struct dkt_key {
	char path[512];
	char *pem;    /* the file's text */
	char *record; /* "v=DKIM1; k=...; p=..." */
};

/* type "rsa" (bits) or "ed25519". */
void dkt_key_make(struct dkt_key *k, const char *type, unsigned bits);
void dkt_key_free(struct dkt_key *k);
/* The private directory (made on first use, removed by dkt_cleanup). */
const char *dkt_dir(void);
void dkt_cleanup(void);

/* A stand-in zone: TXT records by name; tempfail: the lookup fails. */
struct dkt_record {
	const char *name;
	const char *txt;
	bool tempfail;
};

struct dkt_zone {
	struct dkt_record v[16];
	size_t n;
	unsigned asked;
};

void dkt_zone_add(struct dkt_zone *z, const char *name, const char *txt);
filter_dkim_fake_fn dkt_zone_lookup;

/* msg (CRLF) with a DKIM-Signature by libopendkim on top (malloc'ed).
 * length: l= (-1: none, -2: the whole body). */
char *dkt_sign(const char *msg, const char *pem, const char *domain,
	       const char *selector, dkim_alg_t alg, dkim_canon_t hc,
	       dkim_canon_t bc, ssize_t length);

/* One message through the chain of conf (config text; NULL: just
 * `filter dkim {}`), every dkim filter of it with keys from zone. */
struct dkt_run {
	struct ft ft;
	struct filter_ctx *ctx;
	struct filter_outcome out;
};

struct dkt_client {
	bool trusted;
	const char *auth_user;
};

void dkt_run(struct dkt_run *r, const char *conf, struct dkt_zone *zone,
	     const struct dkt_client *client, const char *msg);
/* A result of the run ("dkim", "dkim.1.result", ...), or NULL. */
const char *dkt_result(struct dkt_run *r, const char *key);
/* The message as it leaves (free it). */
char *dkt_output(struct dkt_run *r);
void dkt_done(struct dkt_run *r);

/* The value of the first header field name of text (malloc'ed, folds
 * kept), or NULL. */
char *dkt_field(const char *text, const char *name);
/* How many fields called name text has. */
unsigned dkt_count(const char *text, const char *name);

#endif
