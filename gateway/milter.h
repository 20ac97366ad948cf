/*
 * milter.h - what the files of postern-milter share.
 *
 * Files: milter_main.c (arguments, configuration, socket, privileges,
 * signals), milter_cb.c (the libmilter callbacks: one struct milter_conn
 * per MTA connection, the filter chain run on it; milter_int.h),
 * milter_eom.c (the end of the message), milter_reply.c
 * (verdicts to SMFIS_* and SMTP reply text), milter_macro.c (paths,
 * names and TLS from what the MTA sends), milter_edit.c (the message
 * rebuilt from what the MTA sends, and the chain's edits turned into
 * milter modifications), milter_conf.c (the `milter {}` block).
 *
 * The pure parts (reply, edit) are here for the unit tests: no libmilter
 * handle, no I/O but reading spools; thread-safe (no shared state).
 */
#ifndef GATEWAY_MILTER_H
#define GATEWAY_MILTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "filter.h"

struct pst_spool;
struct postern_settings;
struct pst_workq;

/* ---- milter_reply.c: verdicts and reply text ---- */

/* libmilter takes at most 32 lines per reply. */
#define MILTER_REPLY_LINES 32
/* A line of reply text we write (SMTP allows 512 octets per reply line
 * with the code). */
#define MILTER_REPLY_WIDTH 200

struct milter_reply {
	char code[4];	   /* "550" */
	char enhanced[12]; /* "5.7.1", or "" */
	/* sanitised text: printable ASCII, '%' doubled for libmilter */
	char lines[MILTER_REPLY_LINES][MILTER_REPLY_WIDTH * 2 + 1];
	size_t nlines;
};

/*
 * The answer to the MTA for the outcome of a stage: an SMFIS_* value,
 * and for SMFIS_REJECT / SMFIS_TEMPFAIL the reply in *reply (nlines > 0).
 * Accept continues (the chain remembers it); discard and quarantine
 * continue until the end of the message, where discard is SMFIS_DISCARD
 * and quarantine continues (the caller calls smfi_quarantine).
 */
int milter_verdict(enum filter_stage stage, const struct filter_outcome *out,
		   struct milter_reply *reply);

/* Fill *reply from code, enhanced status and text: a code of the wrong
 * class is replaced by the class default (550 / 451), an enhanced code
 * that does not match the class is dropped, text is made printable
 * ASCII ('%' doubled, others '?') and wrapped at white space into lines
 * of at most MILTER_REPLY_WIDTH characters. */
void milter_reply_set(struct milter_reply *reply, bool permanent, unsigned code,
		      const char *enhanced, const char *text);

/* ---- milter_macro.c: what the MTA says ---- */

struct pst_arena;

/* "<a@example.org>" -> "a@example.org" on a (the chain's form of a
 * path; "" for the null sender).  NULL when out of memory. */
const char *milter_macro_path(struct pst_arena *a, const char *arg);

/* The client's name from xxfi_connect's hostname: "unknown" when the
 * MTA has none ("[192.0.2.7]", empty), anything but printable ASCII
 * replaced. */
void milter_macro_client_name(char *dst, size_t size, const char *hostname);

/* posternd's TLS text from {tls_version}, {cipher}, {cipher_bits}:
 * "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits)"; false (and
 * "") without a version: no TLS. */
bool milter_macro_tls(char *dst, size_t size, const char *version,
		      const char *cipher, const char *bits);

/* Does the MTA named by macro v put a Received: field on top that it
 * does not show to milters but counts in header positions (Postfix)? */
bool milter_macro_hides_received(const char *v);

/* ---- milter_edit.c: the message and its modifications ---- */

/* Append a header field as the MTA gave it (name, value) to out, with
 * CRLF line ends: value's inner LF become CRLF, a CR alone is dropped;
 * leadspc: the value kept its leading white space (SMFIP_HDR_LEADSPC),
 * else one space is written after the colon.  0 or -1 (out of memory). */
int milter_edit_field(struct pst_buf *out, const char *name, const char *value,
		      bool leadspc);

/* One field of a header block: views into the block's buffer. */
struct milter_field {
	struct pst_str name;
	struct pst_str raw; /* after the colon up to, not including, the
			     * field's final line break */
};

/* Split a header block (up to its empty line, or all of it) into
 * fields.  A line that is no field (no colon) is kept as the raw value
 * of the field before it; a leading one is ignored.  Returns the number
 * of fields put in v (at most max), and *body_r: the offset after the
 * empty line (len when there is none). */
size_t milter_edit_parse(const char *block, size_t len, struct milter_field *v,
			 size_t max, size_t *body_r);

enum milter_op_kind { MILTER_OP_INSERT, MILTER_OP_CHANGE, MILTER_OP_DELETE };

struct milter_op {
	enum milter_op_kind kind;
	struct pst_str name;
	struct pst_str raw; /* INSERT, CHANGE: the new value, as in out */
	size_t index;	    /* INSERT: position (0: top); CHANGE, DELETE:
			     * which field of that name, from 1 */
	bool at_end;	    /* INSERT: after every field (smfi_addheader) */
};

/*
 * Modifications that turn header list in into out, in the order the MTA
 * must apply them (each index counts the list as the earlier ones left
 * it).  Fields equal in name and raw value are kept; a deleted field
 * followed at the same place by one of the same name becomes a change.
 * ops has room for nin + nout entries; returns how many were written,
 * or (size_t)-1 when out of memory.
 */
size_t milter_edit_diff(const struct milter_field *in, size_t nin,
			const struct milter_field *out, size_t nout,
			struct milter_op *ops);

/* A raw value as smfi_* calls take it, into buf (NUL-terminated): CRLF
 * become LF; without leadspc the white space after the colon goes. */
int milter_edit_value(struct pst_buf *buf, struct pst_str raw, bool leadspc);

/* Read the header block at the start of spool (at most max bytes) into
 * buf.  0, or -1 with *error_r. */
int milter_edit_read_head(struct pst_spool *spool, size_t max,
			  struct pst_buf *buf, const char **error_r);

/* Do the bytes of a from offset ao on and b from bo on differ?  -1 when
 * a spool cannot be read. */
int milter_edit_body_differs(struct pst_spool *a, uint64_t ao,
			     struct pst_spool *b, uint64_t bo);

/* ---- milter_cb.c ---- */

/* What the callbacks need; set once by main before smfi_main. */
struct milter_server {
	const struct postern_settings *settings;
	struct pst_workq *workq;
};

extern struct milter_server milter_server;
/* MTA connections whose data is not freed yet (main waits for them at
 * shutdown). */
extern atomic_uint milter_live_conns;

struct smfiDesc;
/* The callback table, flags set for the configured chain. */
void milter_cb_desc(struct smfiDesc *desc);

#endif
