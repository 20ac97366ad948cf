/*
 * dns_test.h - helpers shared by test_dns.c (hermetic, and the test's own
 * UDP servers) and test_dns_live.c (a real dnsmasq).
 */
#ifndef PST_DNS_TEST_H
#define PST_DNS_TEST_H

#include "dns.h"

struct pst_arena;

/* CLOCK_MONOTONIC in milliseconds. */
double dns_test_now_ms(void);

/* One record as text: "192.0.2.1", "10 mx.example", "ptr.example", or
 * TXT as its bytes with \xNN for anything unprintable (asserts the NUL
 * after a TXT's length). */
const char *dns_test_rr_text(struct pst_arena *arena, enum pst_dns_type type,
			     const struct pst_dns_rr *rr);
/* All records as text, sorted, joined with " | ": order-free. */
const char *dns_test_answer_text(struct pst_arena *arena,
				 const struct pst_dns_answer *a);
/* qsort() comparison of const char * elements. */
int dns_test_cmp_str(const void *a, const void *b);

/* A UDP socket bound to 127.0.0.1 and a free port; -1 on failure. */
int dns_test_udp_socket(unsigned *port_r);

/* A resolver on 127.0.0.1:port; fails the test when it cannot be made.
 * anchor: a trust-anchor file to turn DNSSEC on, or NULL. */
struct pst_dns *dns_test_resolver(struct pst_arena *arena, unsigned port,
				  unsigned timeout_ms, const char *anchor);

/* A private directory (0755: dnsmasq drops to "nobody"), removed with
 * everything in it.  0 or -1. */
int dns_test_tmpdir_make(void);
void dns_test_tmpdir_remove(void);
const char *dns_test_tmpdir(void);
/* Write content to a file of the directory; its path, on arena. */
const char *dns_test_tmp_file(struct pst_arena *arena, const char *name,
			      const char *content);

#endif
