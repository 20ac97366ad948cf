/*
 * test_filter_spf_util.h - what the spf and dmarc filter tests share: a
 * dnsmasq of their own with tests/data/dns/auth-zone.conf, a chain of
 * built-in filters over a given resolver, sessions for any client
 * address, and reading back what the filters said (results,
 * Authentication-Results entries, log lines).
 */
#ifndef TESTS_UNIT_TEST_FILTER_SPF_UTIL_H
#define TESTS_UNIT_TEST_FILTER_SPF_UTIL_H

#include <stdbool.h>

#include "filter_test.h"

struct pst_dns;

/* Start dnsmasq on 127.0.0.1 and a free port with auth-zone.conf in a
 * fresh private directory: the port, 0 when dnsmasq is not installed
 * (the caller skips), and a test failure when it does not start. */
unsigned tfs_dnsmasq_start(void);
void tfs_dnsmasq_stop(void);

/* A resolver for 127.0.0.1:port (timeout_ms per lookup), on ft->arena
 * (made when needed) and freed with it. */
struct pst_dns *tfs_resolver(struct ft *ft, unsigned port, unsigned timeout_ms);

/* Built-in filters registered, config text parsed, conf.dns and
 * conf.hostname ("mx.example.org") set, the chain made.  0, or -1 with
 * ft->error. */
int tfs_chain(struct ft *ft, struct pst_dns *dns, const char *text);

/* A session for client addr (inline, without a loop). */
struct filter_ctx *tfs_ctx(struct ft *ft, const char *addr, bool trusted);

/* HELO and MAIL FROM (from "" for the null sender): runs FILTER_MAIL and
 * returns its verdict; out (may be NULL) gets the outcome. */
int tfs_mail(struct filter_ctx *ctx, const char *helo, const char *from,
	     struct filter_outcome *out);

/* A message (header and body text, LF or CRLF) and FILTER_MESSAGE after
 * a recipient; the verdict. */
int tfs_message(struct filter_ctx *ctx, const char *text,
		struct filter_outcome *out);

/* A result of the current transaction or session, or NULL. */
const char *tfs_result(struct filter_ctx *ctx, const char *key);

/* The Authentication-Results entries said so far, "method=result
 * props" joined with "; " ("" for none); static storage. */
const char *tfs_auth(struct filter_ctx *ctx);

#endif
