/*
 * dkim_int.h - what the files of the built-in dkim filter share.
 *
 * Files: dkim.c (the filter: options, on_message, results and
 * Authentication-Results), dkim_verify.c (one message through a
 * libopendkim verifying handle), dkim_bodylen.c (canonical body lengths,
 * for l=), dkim_dns.c (libopendkim's key lookups on the shared resolver),
 * dkim_sign.c (signing keys, and the DKIM-Signature fields of the
 * message that leaves), dkim_ed25519.c (the Ed25519 signatures, made
 * here: see there why).
 *
 * Threads: a filter_dkim_module is built by init and read-only after; its
 * DKIM_LIB is shared by every thread (libopendkim handles are per
 * message).  Everything per message lives on the caller's arena.
 */
#ifndef FILTERS_DKIM_INT_H
#define FILTERS_DKIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <opendkim/dkim.h>

#include "filter_int.h"

struct pst_arena;
struct pst_dns;
struct mime_header;

/* At most this many signatures verified per message (`max_signatures`
 * may lower it): each costs a key lookup and a body hash. */
#define DKIM_MAX_SIGNATURES 32
#define DKIM_DEFAULT_MAX_SIGNATURES 10
/* Longest key file we read. */
#define DKIM_KEY_FILE_MAX (64 * 1024)
/* libopendkim's reply buffer (MAXPACKET in dkim-keys.c). */
#define DKIM_DNS_REPLY_MAX 8192
/* Body bytes read at a time. */
#define DKIM_CHUNK (64 * 1024)

/* ---- dkim_dns.c ---- */

/* A stand-in resolver for tests and fuzzing: the TXT record text of
 * name (NULL: the name does not exist); *tempfail_r = true: the lookup
 * failed. */
typedef const char *filter_dkim_fake_fn(void *arg, const char *name,
					bool *tempfail_r);

/* What one message's key lookups may use: set on the calling thread by
 * filter_dkim_dns_begin for the libopendkim calls that follow. */
struct filter_dkim_dns {
	struct pst_dns *dns;	   /* NULL (and no fake): every lookup fails */
	filter_dkim_fake_fn *fake; /* instead of dns, when set */
	void *fake_arg;
	struct pst_arena *arena;  /* answers */
	uint64_t deadline;	  /* monotonic ms: no lookup starts after it */
	unsigned lookups, failed; /* key lookups made, and failed */
};

/* Point lib's resolver hooks at filter_dkim_dns and forbid the file and
 * system-resolver fallbacks.  0, or -1 when lib refused an option. */
int filter_dkim_dns_setup(DKIM_LIB *lib);
/* Install call for this thread (NULL: none, every lookup fails). */
void filter_dkim_dns_begin(struct filter_dkim_dns *call);
/* Is name a host name we look keys up for: labels of 1 to 63 letters,
 * digits, '-' and '_', 253 bytes in all, no final dot? */
bool filter_dkim_name_ok(const char *name);
/* CLOCK_MONOTONIC in ms. */
uint64_t filter_dkim_now(void);

/* Is reply[0..len) a DNS reply libopendkim may parse: one question of
 * type TXT, every record of the answer section inside the packet, every
 * TXT record made exactly of its character-strings, names well formed?
 * (libopendkim trusts the counts and lengths it finds.) */
bool filter_dkim_reply_ok(const unsigned char *reply, size_t len);
/* A reply for name with rcode (0 or 3) and the TXT record txt (NULL:
 * none), written into buf.  Its length, or 0 when it does not fit. */
size_t filter_dkim_reply_make(unsigned char *buf, size_t size, const char *name,
			      unsigned rcode, const char *txt, size_t txt_len);

/* ---- dkim_bodylen.c ---- */

/* The length of a body after "simple" and "relaxed" canonicalization
 * (RFC 6376 3.4.3, 3.4.4), counted as the body streams by, for telling
 * whether an l= leaves content unsigned.  Lines end in LF (a CR before
 * it belongs to the line end). */
struct filter_dkim_bodylen {
	uint64_t simple, relaxed;  /* committed lengths */
	uint64_t s_blank, r_blank; /* empty lines not yet committed */
	uint64_t s_line, r_line;   /* current line so far */
	bool r_space;		   /* WSP run pending in the current line */
	bool cr;		   /* last byte a CR, not yet counted */
};

void filter_dkim_bodylen_init(struct filter_dkim_bodylen *b);
void filter_dkim_bodylen_feed(struct filter_dkim_bodylen *b,
			      const unsigned char *p, size_t n);
/* Final lengths (the state is finished; feed no more). */
void filter_dkim_bodylen_end(struct filter_dkim_bodylen *b, uint64_t *simple_r,
			     uint64_t *relaxed_r);

/* ---- dkim_verify.c ---- */

/* One signature's outcome, as it goes into results and the A-R. */
struct filter_dkim_sig {
	const char *domain;    /* d= as written (printable), or "" */
	const char *selector;  /* s=, or "" */
	const char *algorithm; /* "rsa-sha256", ..., or "" */
	const char *result;    /* pass fail temperror permerror policy
				* neutral */
	const char *reason;    /* why, when not pass (printable), or NULL */
	const char *b8;	       /* the first 8 characters of b=, or NULL */
	bool partial;	       /* l= leaves content unsigned */
};

struct filter_dkim_result {
	struct filter_dkim_sig *sigs; /* in the order of the fields */
	size_t nsigs;
	size_t skipped;	     /* DKIM-Signature fields past max_signatures */
	const char *overall; /* the contract's "dkim" result */
	const char *error;   /* the whole message could not be verified:
			      * why (overall is temperror) */
};

/* How the message is read: the fields of its top-level header block
 * (as parsed, in order) and its bytes (the spool, through read). */
struct filter_dkim_input {
	const struct mime_header *const *headers;
	size_t nheaders;
	uint64_t body_start, size;
	ssize_t (*read)(void *arg, void *buf, size_t len, uint64_t off);
	void *arg;
};

struct filter_dkim_opts {
	size_t max_signatures;
	bool allow_partial; /* a pass with unsigned content stays pass */
};

/* Verify every signature (at most opts->max_signatures, the topmost) of
 * msg with lib, key lookups through call; the outcome on arena.  Never
 * fails: a message that cannot be verified has overall "temperror" and
 * error set. */
void filter_dkim_verify(DKIM_LIB *lib, const struct filter_dkim_opts *opts,
			struct filter_dkim_dns *call, struct pst_arena *arena,
			const char *id, const struct filter_dkim_input *msg,
			struct filter_dkim_result *out);

/* Make lib (fresh from dkim_init) ready for filter_dkim_verify: its
 * flags, key lookups through filter_dkim_dns, the checks before
 * lookups.  0, or -1 when lib refused. */
int filter_dkim_verify_setup(DKIM_LIB *lib);

/* The properties of sig's A-R entry: "header.d=D header.s=S
 * header.a=ALG" (values quoted when they are no token), with
 * header.b=B8 when with_b; a reason= first when sig has one.  On
 * arena, or NULL when out of memory. */
const char *filter_dkim_ar_props(struct pst_arena *arena,
				 const struct filter_dkim_sig *sig,
				 bool with_b);

/* ---- dkim_sign.c ---- */

/* One `sign = "domain:selector:keyfile"` entry. */
struct filter_dkim_key {
	const char *domain; /* lower case, no final dot */
	const char *selector;
	const char *path;
	unsigned char *pem; /* the key file's text */
	size_t pem_len;
	dkim_alg_t alg; /* DKIM_SIGN_RSASHA256 or ..._ED25519SHA256 */
	unsigned bits;
	EVP_PKEY *pkey; /* Ed25519: we sign with it (dkim_ed25519.c) */
};

/* The signer the dkim filter leaves on a transaction. */
struct filter_dkim_signer {
	struct filter_signer base; /* first: edit.c calls base.sign */
	DKIM_LIB *lib;
	const char *name; /* the filter's, for the log */
	struct filter_dkim_key *keys;
	size_t nkeys;
	const char *const *sign_headers; /* NULL-terminated */
	const char *const *oversign;
};

/* Read and check spec "domain:selector:path" into *key (strings on
 * arena): the domain and selector must make a valid key name, the file
 * a PEM RSA (1024 bits or more, and lib must sign with it) or Ed25519
 * private key without a passphrase.  0, or -1 with a message in err. */
int filter_dkim_key_load(DKIM_LIB *lib, struct pst_arena *arena,
			 const char *spec, struct filter_dkim_key *key,
			 char *err, size_t errlen);
/* struct filter_signer's sign: s is a struct filter_dkim_signer. */
int filter_dkim_sign_fields(const struct filter_signer *s, const char *qid,
			    const char *from, const char *hdr, size_t hdr_len,
			    struct pst_spool *src, uint64_t body, uint64_t end,
			    struct pst_buf *out, const char **error_r);
/* Wipe the key texts, free the key objects. */
void filter_dkim_keys_wipe(struct filter_dkim_key *keys, size_t n);
/* The domain of the first address of a From field value, lower case,
 * into buf; NULL when there is none. */
const char *filter_dkim_from_domain(const char *from, char *buf, size_t size);

/* ---- dkim_ed25519.c ---- */

/* One Ed25519 signature being made: the body's relaxed canonical form
 * streams into its hash. */
struct filter_dkim_ed {
	EVP_MD_CTX *md;
	char out[4096]; /* canonical bytes not hashed yet */
	size_t n;
	uint64_t blanks; /* empty lines not written yet */
	bool space;	 /* white space pending in the line */
	bool line;	 /* the line has content */
	bool cr;	 /* a CR not yet known to end the line */
	bool failed;
};

int filter_dkim_ed_begin(struct filter_dkim_ed *e);
void filter_dkim_ed_body(struct filter_dkim_ed *e, const unsigned char *p,
			 size_t n);
/* The DKIM-Signature field (folded, CRLF) for header block hdr (fields
 * up to an empty line) and the body fed, by key, appended to out.  0, or
 * -1 (out of memory, OpenSSL refused). */
int filter_dkim_ed_finish(struct filter_dkim_ed *e,
			  const struct filter_dkim_key *key,
			  const char *const *sign, const char *const *over,
			  const char *hdr, size_t hdr_len, struct pst_buf *out);
void filter_dkim_ed_free(struct filter_dkim_ed *e);

/* ---- dkim.c: test hooks ---- */

/* The module behind `filter NAME {}` of the dkim filter, or NULL. */
struct filter_dkim_module;
struct filter_dkim_module *filter_dkim_module_of(struct pf_module *m);
/* Resolve keys through fake instead of the shared resolver. */
void filter_dkim_set_fake(struct filter_dkim_module *dm,
			  filter_dkim_fake_fn *fake, void *arg);

#endif
