/*
 * spf_int.h - what the SPF record parser, macro expander and evaluator
 * share (not for other modules).
 */
#ifndef MAIL_SPF_INT_H
#define MAIL_SPF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "spf.h"

/* RFC 7208 4.6.4 and 7.3. */
#define SPF_MAX_DNS_TERMS 10
#define SPF_MAX_VOID 2
#define SPF_MAX_MX_NAMES 10
#define SPF_MAX_PTR_NAMES 10
#define SPF_MAX_DOMAIN 253
#define SPF_MAX_LABEL 63
/* What a macro expansion may produce before truncation: bounds memory
 * whatever the record holds. */
#define SPF_MAX_EXPANSION 8192
/* A TXT record's size is bounded by the DNS message (65535). */
#define SPF_MAX_RECORD 65535

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	enum spf_mech mech;
	enum spf_result qualifier; /* pass, fail, softfail, neutral */
	struct pst_str text;	   /* the directive as written */
	struct pst_str domain;	   /* domain-spec; .p NULL when absent */
	int cidr4;		   /* prefix length for IPv4 (32 default) */
	int cidr6;		   /* prefix length for IPv6 (128 default) */
	struct spf_addr net;	   /* ip4: and ip6: networks */
};

struct spf_record {
	struct spf_term *terms; /* the mechanisms, in order */
	size_t nterms;
	struct pst_str redirect; /* domain-spec; .p NULL when absent */
	struct pst_str exp;	 /* domain-spec; .p NULL when absent */
	bool has_all;
};

/* Parse a selected record (spf_record_is_spf() true) into *rec_r, views
 * into text.  0, or -1 with *error_r on arena. */
int spf_record_parse(const char *text, size_t len, struct pst_arena *arena,
		     struct spf_record *rec_r, const char **error_r);

/* ---- macros (spf_macro.c) ---- */

enum spf_macro_flag {
	SPF_MACRO_EXP = 1u << 0,    /* explain-string: SP, c r t allowed */
	SPF_MACRO_DOMAIN = 1u << 1, /* domain-spec: truncate to 253 */
	SPF_MACRO_ANY = 1u << 2,    /* unknown modifier: any letter */
};

struct spf_macro_ctx {
	const struct spf_addr *ip;
	const char *sender; /* s */
	const char *local;  /* l */
	const char *sdom;   /* o */
	const char *domain; /* d */
	const char *helo;   /* h */
	const char *receiver;
	long long now;
	/* p: the validated name of ip, computed on first use. */
	const char *(*ptr_name)(void *arg);
	void *ptr_arg;
};

/* Check the macro-string s (RFC 7208 7.1).  0, or -1 with a static
 * *error_r. */
int spf_macro_check(struct pst_str s, unsigned flags, const char **error_r);

/* Expand s (already checked) into a NUL-terminated string on arena.  0,
 * or -1 with a static *error_r (bad macro, out of memory, too long). */
int spf_macro_expand(struct pst_arena *arena, struct pst_str s,
		     const struct spf_macro_ctx *ctx, unsigned flags,
		     const char **out_r, const char **error_r);

/* ---- addresses and names (spf_addr.c) ---- */

/* Turn an IPv4-mapped IPv6 address into the IPv4 address. */
void spf_addr_unmap(struct spf_addr *a);
/* Strict RFC 7208 ip4-network / ip6-network text.  0 or -1. */
int spf_addr_parse_ip4(struct pst_str s, struct spf_addr *addr_r);
int spf_addr_parse_ip6(struct pst_str s, struct spf_addr *addr_r);
/* True when the first prefix bits of a and b are equal (same family). */
bool spf_addr_match(const struct spf_addr *a, const struct spf_addr *b,
		    int prefix);
/* "192.0.2.1" or "2001:db8::1" (c macro). */
const char *spf_addr_text(struct pst_arena *arena, const struct spf_addr *a);
/* "192.0.2.1" or the 32 dotted nibbles, upper case (i macro). */
const char *spf_addr_dotted(struct pst_arena *arena, const struct spf_addr *a);
/* "1.2.0.192.in-addr.arpa" or the ip6.arpa name (nibbles upper case). */
const char *spf_addr_reverse(struct pst_arena *arena, const struct spf_addr *a);

/* A name that can be queried: labels of 1..63 bytes, at most 253 bytes
 * without the one trailing dot that may follow. */
bool spf_name_valid(const char *name, size_t len);
/* The toplabel rule of RFC 7208 section 12 for the last label. */
bool spf_toplabel_valid(const char *label, size_t len);
/* ASCII case-insensitive equality of two names ignoring one trailing
 * dot each. */
bool spf_name_eq(const char *a, const char *b);
/* True when name equals parent or ends with "." parent. */
bool spf_name_within(const char *name, const char *parent);

#endif
