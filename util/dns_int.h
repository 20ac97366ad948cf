/*
 * dns_int.h - inside the DNS layer: turning libunbound's results into
 * struct pst_dns_answer (dns_answer.c), shared with dns.c and the unit
 * tests, which feed it hostile results without a network.
 */
#ifndef PST_DNS_INT_H
#define PST_DNS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "dns.h"

struct pst_arena;
struct ub_result;

/* One record's RDATA, in the uncompressed wire format libunbound hands
 * out, into rr (names and text on arena).  0, or -1 with *why_r (static
 * text) when it is malformed or memory runs out. */
int pst_dns_rdata_parse(struct pst_arena *arena, enum pst_dns_type type,
			const unsigned char *rd, size_t len,
			struct pst_dns_rr *rr, const char **why_r);

/* A wire-format name at wire[*pos..len) as text ("." for the root) on
 * arena; *pos moves past it.  NULL with *why_r when malformed. */
char *pst_dns_wire_name(struct pst_arena *arena, const unsigned char *wire,
			size_t len, size_t *pos, const char **why_r);

/* The answer for a finished query: err is libunbound's error code (0 or
 * UB_*), r its result (may be NULL when err != 0); dnssec says whether
 * validation is on (a bogus result then fails).  NULL when out of
 * memory.  r is not freed. */
struct pst_dns_answer *pst_dns_answer_build(struct pst_arena *arena,
					    enum pst_dns_type type, bool dnssec,
					    int err, const struct ub_result *r);

/* A TEMPFAIL or BADNAME answer with that text; NULL when out of memory. */
struct pst_dns_answer *pst_dns_answer_fail(struct pst_arena *arena,
					   enum pst_dns_type type,
					   enum pst_dns_status status,
					   const char *error);

/* A name that passed pst_dns_name_check() in libunbound's text syntax:
 * a backslash and bytes outside '!'..'~' as "\DDD".  0, or -1 when it does not
 * fit in size. */
int pst_dns_name_escape(char *out, size_t size, const char *name);

/* Tests only: when set, called on the dispatcher thread as each answer
 * arrives, before the waiter is told, to widen the race between a
 * deadline and an answer.  Set it while no resolver exists. */
extern void (*pst_dns_answer_hook)(void);

#endif
