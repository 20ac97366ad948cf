/*
 * postern/filter.h - the plugin ABI of postern's filter chain.
 *
 * This is the only header postern installs.  A filter is a shared object
 * that exports one symbol:
 *
 *	const struct postern_filter postern_filter = {
 *		.abi = POSTERN_FILTER_ABI,
 *		.size = sizeof(struct postern_filter),
 *		.name = "example",
 *		.on_message = example_message,
 *	};
 *
 * The host calls the filter at the stages of an SMTP session, shaped
 * like milter's (connect, helo, mail, rcpt, message, reset, close), and
 * the filter answers with a verdict.  Everything a filter reads or does
 * goes through the pf_* functions below, which call into a table of the
 * host's functions; the host's structs are never visible, so the ABI can
 * grow without breaking built filters.
 *
 * Compatibility: POSTERN_FILTER_ABI changes only when a filter built
 * against an older header would break.  New callbacks are added at the
 * end of struct postern_filter and new host functions at the end of
 * struct pf_host; a filter's `size` tells the host which callbacks it
 * knows, and pf_host_has() tells a filter which host functions exist.
 *
 * Threads: unless the filter sets PF_FILTER_NONBLOCKING, its callbacks
 * run on the host's worker threads, never on an event loop, so they may
 * block (DNS, scanning, files).  Calls for one session never overlap, and
 * each has a deadline: a filter that misses it gets the configured
 * failure action and is not called again in that session.  Different
 * sessions run concurrently: module-wide state needs the filter's own
 * locking.  Strings returned by the host live until the end of the
 * stage's callback unless said otherwise; copy what must last longer.
 * Host functions return 0 on success and -1 on failure (out of memory,
 * an invalid argument, a function used at a stage where it means
 * nothing); they never abort.
 */
#ifndef POSTERN_FILTER_H
#define POSTERN_FILTER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POSTERN_FILTER_ABI 1

/* A filter's answer.  Every value but PF_CONTINUE is terminal: the
 * remaining filters are not asked at this stage. */
enum pf_verdict {
	PF_CONTINUE = 0, /* no objection: ask the next filter */
	PF_ACCEPT,	 /* accept without asking later filters (at connect
			  * and helo: for the whole session; later: for this
			  * transaction) */
	PF_REJECT,	 /* permanent refusal: pf_reply() sets the text,
			  * default 550 5.7.1 */
	PF_TEMPFAIL,	 /* temporary refusal, default 451 4.7.1 */
	PF_DISCARD,	 /* accept and drop the message (the client is told
			  * 250); at rcpt: drop that recipient silently */
	PF_QUARANTINE,	 /* accept into the quarantine (pf_quarantine()
			  * names the reason) instead of relaying */
	PF_ERROR,	 /* the filter failed: the host applies the filter's
			  * on_failure action, as after a missed deadline */
};

enum pf_log_level {
	PF_LOG_ERR = 3,
	PF_LOG_WARNING = 4,
	PF_LOG_NOTICE = 5,
	PF_LOG_INFO = 6,
	PF_LOG_DEBUG = 7,
};

/* The filter's callbacks never block: the host may call them on its
 * event loop, without a worker thread (and without a deadline). */
#define PF_FILTER_NONBLOCKING 0x1u

struct pf_module; /* a configured instance: `filter NAME { ... }` */
struct pf_txn;	  /* one SMTP session as a filter sees it */
struct pf_part;	  /* a MIME part of the message */
struct pf_stream; /* decoded content of a part, being read */
struct pf_host;

struct postern_filter {
	unsigned abi;  /* POSTERN_FILTER_ABI */
	unsigned size; /* sizeof(struct postern_filter) */
	const char *name;
	unsigned flags; /* PF_FILTER_* */

	/* Once per configured instance, at load (also for posternd -t):
	 * read options with pf_option_*(); any option the filter did not
	 * read is refused by the host as unknown.  0, or -1 after
	 * pf_module_error().  May be NULL. */
	int (*init)(struct pf_module *m);
	/* At unload (shutdown, reload).  May be NULL. */
	void (*fini)(struct pf_module *m);

	/* The stages.  Each may be NULL (not called). */
	enum pf_verdict (*on_connect)(struct pf_txn *t);
	enum pf_verdict (*on_helo)(struct pf_txn *t, const char *helo);
	enum pf_verdict (*on_mail)(struct pf_txn *t, const char *from);
	enum pf_verdict (*on_rcpt)(struct pf_txn *t, const char *rcpt);
	/* End of data: headers, MIME parts and content are readable. */
	enum pf_verdict (*on_message)(struct pf_txn *t);
	/* The transaction is over (message done, refused, RSET, or the
	 * client went away): free per-transaction state.  May come
	 * without on_message. */
	void (*on_reset)(struct pf_txn *t);
	/* The session is over: free per-session state. */
	void (*on_close)(struct pf_txn *t);

	void *spare[8]; /* for later callbacks: leave zero */
};

/* The one symbol a filter exports. */
extern const struct postern_filter postern_filter;

/* ---- the host's function table (call through the pf_* wrappers) ---- */

struct pf_host {
	unsigned abi;
	unsigned size; /* sizeof(struct pf_host) of the host */

	/* module: options, state, errors */
	const char *(*module_name)(struct pf_module *m);
	int (*option_string)(struct pf_module *m, const char *key,
			     const char **value_r);
	int (*option_int)(struct pf_module *m, const char *key,
			  int64_t *value_r);
	int (*option_size)(struct pf_module *m, const char *key,
			   uint64_t *value_r);
	int (*option_duration)(struct pf_module *m, const char *key,
			       uint64_t *ms_r);
	int (*option_bool)(struct pf_module *m, const char *key, int *value_r);
	int (*option_list)(struct pf_module *m, const char *key,
			   const char *const **values_r, size_t *count_r);
	void (*module_error)(struct pf_module *m, const char *key,
			     const char *fmt, va_list ap);
	void (*module_set_data)(struct pf_module *m, void *data);
	void *(*module_data)(struct pf_module *m);

	/* session and envelope */
	struct pf_module *(*txn_module)(struct pf_txn *t);
	void (*txn_set_data)(struct pf_txn *t, void *data);
	void *(*txn_data)(struct pf_txn *t);
	const char *(*queue_id)(struct pf_txn *t);
	const char *(*client_addr)(struct pf_txn *t);
	unsigned (*client_port)(struct pf_txn *t);
	const char *(*client_name)(struct pf_txn *t);
	const char *(*helo)(struct pf_txn *t);
	const char *(*tls)(struct pf_txn *t);
	const char *(*auth_user)(struct pf_txn *t);
	const char *(*mail_from)(struct pf_txn *t);
	size_t (*rcpt_count)(struct pf_txn *t);
	const char *(*rcpt)(struct pf_txn *t, size_t i);

	/* message: headers of the top-level message, in order */
	uint64_t (*message_size)(struct pf_txn *t);
	size_t (*header_count)(struct pf_txn *t);
	int (*header)(struct pf_txn *t, size_t i, const char **name_r,
		      const char **value_r);
	const char *(*header_value)(struct pf_txn *t, const char *name,
				    size_t nth);
	ssize_t (*message_read)(struct pf_txn *t, void *buf, size_t len,
				uint64_t offset);

	/* message: MIME parts (pre-order walk from the root) */
	const struct pf_part *(*part_root)(struct pf_txn *t);
	const struct pf_part *(*part_next)(const struct pf_part *p);
	const struct pf_part *(*part_parent)(const struct pf_part *p);
	unsigned (*part_depth)(const struct pf_part *p);
	const char *(*part_type)(const struct pf_part *p);
	const char *(*part_charset)(const struct pf_part *p);
	const char *(*part_disposition)(const struct pf_part *p);
	const char *(*part_filename)(const struct pf_part *p);
	const char *(*part_header_value)(const struct pf_part *p,
					 const char *name, size_t nth);
	uint64_t (*part_size)(const struct pf_part *p);
	uint64_t (*part_defects)(const struct pf_part *p);
	struct pf_stream *(*part_open)(struct pf_txn *t,
				       const struct pf_part *p);
	ssize_t (*stream_read)(struct pf_stream *s, void *buf, size_t len);
	void (*stream_close)(struct pf_stream *s);

	/* results, score, tags */
	int (*result_set)(struct pf_txn *t, const char *key, const char *value);
	const char *(*result_get)(struct pf_txn *t, const char *key);
	int (*score_add)(struct pf_txn *t, double delta);
	double (*score)(struct pf_txn *t);
	int (*tag)(struct pf_txn *t, const char *tag);
	int (*has_tag)(struct pf_txn *t, const char *tag);
	int (*auth_result)(struct pf_txn *t, const char *method,
			   const char *result, const char *properties);

	/* edits, applied when the message leaves */
	int (*header_add)(struct pf_txn *t, const char *name,
			  const char *value);
	int (*header_insert)(struct pf_txn *t, size_t index, const char *name,
			     const char *value);
	int (*header_change)(struct pf_txn *t, const char *name, size_t nth,
			     const char *value);
	int (*rcpt_add)(struct pf_txn *t, const char *rcpt);
	int (*rcpt_delete)(struct pf_txn *t, const char *rcpt);
	int (*reply)(struct pf_txn *t, unsigned code, const char *enhanced,
		     const char *text);
	int (*quarantine)(struct pf_txn *t, const char *reason);

	void (*log)(struct pf_txn *t, int level, const char *fmt, va_list ap);

	/* Added within ABI 1: check pf_host_has() (the wrappers do). */
	/* body rewriting, applied when the message leaves */
	unsigned (*part_index)(const struct pf_part *p);
	int (*part_replace)(struct pf_txn *t, unsigned part_index,
			    const char *notice);
	int (*banner_add)(struct pf_txn *t, int where, const char *text);
};

/* Every txn and module starts with this; the wrappers use it. */
struct pf_handle {
	const struct pf_host *host;
};

#define PF_HOST_(x) (((const struct pf_handle *)(const void *)(x))->host)

/* Does the running host have host function fn?  (A filter built against
 * a newer header may run in an older host.) */
#define pf_host_has(x, fn)                                                     \
	(offsetof(struct pf_host, fn) + sizeof(void *) <= PF_HOST_(x)->size && \
	 PF_HOST_(x)->fn != NULL)

/* ---- module (in init/fini, and from any callback via pf_txn_module) ---- */

static inline const char *
pf_module_name(struct pf_module *m)
{
	return PF_HOST_(m)->module_name(m);
}

/*
 * Options of `filter NAME { key = value; }`.  Each returns 1 when the
 * option is set (and *value_r is filled), 0 when it is absent (*value_r
 * untouched: preset the default), -1 when it has the wrong type (the host
 * reports FILE:LINE).  Sizes accept 10K/10M/10G, durations 500ms/3s/2m/1h.
 */
static inline int
pf_option_string(struct pf_module *m, const char *key, const char **value_r)
{
	return PF_HOST_(m)->option_string(m, key, value_r);
}

static inline int
pf_option_int(struct pf_module *m, const char *key, int64_t *value_r)
{
	return PF_HOST_(m)->option_int(m, key, value_r);
}

static inline int
pf_option_size(struct pf_module *m, const char *key, uint64_t *value_r)
{
	return PF_HOST_(m)->option_size(m, key, value_r);
}

static inline int
pf_option_duration(struct pf_module *m, const char *key, uint64_t *ms_r)
{
	return PF_HOST_(m)->option_duration(m, key, ms_r);
}

static inline int
pf_option_bool(struct pf_module *m, const char *key, int *value_r)
{
	return PF_HOST_(m)->option_bool(m, key, value_r);
}

/* A string or a list of strings ("a" reads as ["a"]). */
static inline int
pf_option_list(struct pf_module *m, const char *key,
	       const char *const **values_r, size_t *count_r)
{
	return PF_HOST_(m)->option_list(m, key, values_r, count_r);
}

/* Report a configuration error from init; the host prints it with the
 * file and line of option key (NULL: of the filter block). */
static inline void __attribute__((format(printf, 3, 4)))
pf_module_error(struct pf_module *m, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	PF_HOST_(m)->module_error(m, key, fmt, ap);
	va_end(ap);
}

/* The filter's module-wide state (set in init, freed in fini). */
static inline void
pf_module_set_data(struct pf_module *m, void *data)
{
	PF_HOST_(m)->module_set_data(m, data);
}

static inline void *
pf_module_data(struct pf_module *m)
{
	return PF_HOST_(m)->module_data(m);
}

/* ---- the session and its envelope ---- */

static inline struct pf_module *
pf_txn_module(struct pf_txn *t)
{
	return PF_HOST_(t)->txn_module(t);
}

/* This filter's own per-session state (free it in on_close). */
static inline void
pf_txn_set_data(struct pf_txn *t, void *data)
{
	PF_HOST_(t)->txn_set_data(t, data);
}

static inline void *
pf_txn_data(struct pf_txn *t)
{
	return PF_HOST_(t)->txn_data(t);
}

/* The queue id of the transaction ("" before MAIL). */
static inline const char *
pf_queue_id(struct pf_txn *t)
{
	return PF_HOST_(t)->queue_id(t);
}

/* "192.0.2.7", "2001:db8::7". */
static inline const char *
pf_client_addr(struct pf_txn *t)
{
	return PF_HOST_(t)->client_addr(t);
}

static inline unsigned
pf_client_port(struct pf_txn *t)
{
	return PF_HOST_(t)->client_port(t);
}

/* The client's verified host name, or "unknown". */
static inline const char *
pf_client_name(struct pf_txn *t)
{
	return PF_HOST_(t)->client_name(t);
}

/* The HELO/EHLO argument, "" before it. */
static inline const char *
pf_helo(struct pf_txn *t)
{
	return PF_HOST_(t)->helo(t);
}

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", or NULL
 * for plain text. */
static inline const char *
pf_tls(struct pf_txn *t)
{
	return PF_HOST_(t)->tls(t);
}

/* The authenticated user, or NULL. */
static inline const char *
pf_auth_user(struct pf_txn *t)
{
	return PF_HOST_(t)->auth_user(t);
}

/* MAIL FROM as "local@domain", "" for the null sender, NULL before MAIL. */
static inline const char *
pf_mail_from(struct pf_txn *t)
{
	return PF_HOST_(t)->mail_from(t);
}

/* Accepted recipients so far (at rcpt: not counting the one asked about;
 * at message: after other filters' additions and deletions). */
static inline size_t
pf_rcpt_count(struct pf_txn *t)
{
	return PF_HOST_(t)->rcpt_count(t);
}

static inline const char *
pf_rcpt(struct pf_txn *t, size_t i)
{
	return PF_HOST_(t)->rcpt(t, i);
}

/* ---- the message (on_message only) ---- */

/* Bytes of the message as received, our Received: line included. */
static inline uint64_t
pf_message_size(struct pf_txn *t)
{
	return PF_HOST_(t)->message_size(t);
}

/* Header fields of the top-level message as received, in order. */
static inline size_t
pf_header_count(struct pf_txn *t)
{
	return PF_HOST_(t)->header_count(t);
}

/* Field i: its name as written and its value unfolded, RFC 2047 words
 * decoded to UTF-8. */
static inline int
pf_header(struct pf_txn *t, size_t i, const char **name_r, const char **value_r)
{
	return PF_HOST_(t)->header(t, i, name_r, value_r);
}

/* The decoded value of the nth (from 0) field called name, any case, or
 * NULL. */
static inline const char *
pf_header_value(struct pf_txn *t, const char *name, size_t nth)
{
	return PF_HOST_(t)->header_value(t, name, nth);
}

/* The raw message (CRLF lines, not dot-stuffed) at offset: bytes read,
 * 0 at the end, -1 on error. */
static inline ssize_t
pf_message_read(struct pf_txn *t, void *buf, size_t len, uint64_t offset)
{
	return PF_HOST_(t)->message_read(t, buf, len, offset);
}

/* The part tree: pf_part_root() then pf_part_next() visits every part in
 * pre-order (depth first, as a mail client lists them). */
static inline const struct pf_part *
pf_part_root(struct pf_txn *t)
{
	return PF_HOST_(t)->part_root(t);
}

/* The wrappers below take t only to find the host. */
static inline const struct pf_part *
pf_part_next(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_next(p);
}

static inline const struct pf_part *
pf_part_parent(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_parent(p);
}

/* The root is depth 0. */
static inline unsigned
pf_part_depth(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_depth(p);
}

/* "text/plain", lower case, defaults applied. */
static inline const char *
pf_part_type(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_type(p);
}

/* The charset parameter, lower case, or NULL. */
static inline const char *
pf_part_charset(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_charset(p);
}

/* "attachment", "inline", or NULL. */
static inline const char *
pf_part_disposition(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_disposition(p);
}

/* The file name a mail client would show (RFC 2231 and 2047 decoded), or
 * NULL. */
static inline const char *
pf_part_filename(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_filename(p);
}

static inline const char *
pf_part_header_value(struct pf_txn *t, const struct pf_part *p,
		     const char *name, size_t nth)
{
	return PF_HOST_(t)->part_header_value(p, name, nth);
}

/* Decoded size of a leaf part; 0 for containers. */
static inline uint64_t
pf_part_size(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_size(p);
}

/* Nonzero when the parser found this part malformed. */
static inline uint64_t
pf_part_defects(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_defects(p);
}

/* Read a part's content with the transfer encoding undone (base64,
 * quoted-printable, uuencode); no charset conversion.  Close every
 * stream before the callback returns. */
static inline struct pf_stream *
pf_part_open(struct pf_txn *t, const struct pf_part *p)
{
	return PF_HOST_(t)->part_open(t, p);
}

static inline ssize_t
pf_stream_read(struct pf_txn *t, struct pf_stream *s, void *buf, size_t len)
{
	return PF_HOST_(t)->stream_read(s, buf, len);
}

static inline void
pf_stream_close(struct pf_txn *t, struct pf_stream *s)
{
	PF_HOST_(t)->stream_close(s);
}

/* ---- results, score and tags (rules read them) ---- */

/* key: [a-z0-9_.-], at most 64 bytes; value: printable UTF-8.  Setting a
 * key again replaces it.  Results set at connect or helo last for the
 * session, later ones for the transaction. */
static inline int
pf_result_set(struct pf_txn *t, const char *key, const char *value)
{
	return PF_HOST_(t)->result_set(t, key, value);
}

static inline const char *
pf_result_get(struct pf_txn *t, const char *key)
{
	return PF_HOST_(t)->result_get(t, key);
}

static inline int
pf_score_add(struct pf_txn *t, double delta)
{
	return PF_HOST_(t)->score_add(t, delta);
}

static inline double
pf_score(struct pf_txn *t)
{
	return PF_HOST_(t)->score(t);
}

static inline int
pf_tag(struct pf_txn *t, const char *tag)
{
	return PF_HOST_(t)->tag(t, tag);
}

static inline int
pf_has_tag(struct pf_txn *t, const char *tag)
{
	return PF_HOST_(t)->has_tag(t, tag);
}

/* One resinfo of the Authentication-Results header the host writes
 * (RFC 8601): method "spf", result "pass", properties
 * "smtp.mailfrom=example.org" (or NULL). */
static inline int
pf_auth_result(struct pf_txn *t, const char *method, const char *result,
	       const char *properties)
{
	return PF_HOST_(t)->auth_result(t, method, result, properties);
}

/* ---- edits: applied, in call order, to the message that leaves ---- */

/* Append a header field to the top-level header block. */
static inline int
pf_header_add(struct pf_txn *t, const char *name, const char *value)
{
	return PF_HOST_(t)->header_add(t, name, value);
}

/* Insert before field index (0: at the top, above our Received:). */
static inline int
pf_header_insert(struct pf_txn *t, size_t index, const char *name,
		 const char *value)
{
	return PF_HOST_(t)->header_insert(t, index, name, value);
}

/* Replace the value of the nth (from 0) field called name; value NULL
 * deletes that field. */
static inline int
pf_header_change(struct pf_txn *t, const char *name, size_t nth,
		 const char *value)
{
	return PF_HOST_(t)->header_change(t, name, nth, value);
}

static inline int
pf_header_delete(struct pf_txn *t, const char *name, size_t nth)
{
	return PF_HOST_(t)->header_change(t, name, nth, NULL);
}

/* Envelope recipients ("local@domain"), at message only. */
static inline int
pf_rcpt_add(struct pf_txn *t, const char *rcpt)
{
	return PF_HOST_(t)->rcpt_add(t, rcpt);
}

static inline int
pf_rcpt_delete(struct pf_txn *t, const char *rcpt)
{
	return PF_HOST_(t)->rcpt_delete(t, rcpt);
}

/* The reply for a PF_REJECT or PF_TEMPFAIL verdict: code 4xx/5xx matching
 * the verdict, enhanced "5.7.1" (or NULL), one line of printable text. */
static inline int
pf_reply(struct pf_txn *t, unsigned code, const char *enhanced,
	 const char *text)
{
	return PF_HOST_(t)->reply(t, code, enhanced, text);
}

/* The reason for a PF_QUARANTINE verdict ([a-z0-9_.-]): the quarantine
 * folder the message goes to. */
static inline int
pf_quarantine(struct pf_txn *t, const char *reason)
{
	return PF_HOST_(t)->quarantine(t, reason);
}

/* ---- body rewriting (on_message only) ---- */

/* Where pf_banner_add() puts the banner. */
#define PF_BANNER_TOP 0
#define PF_BANNER_BOTTOM 1

/* The part's position in the pre-order walk (the root is 0), as
 * pf_part_replace() takes it; 0 when the host lacks the function. */
static inline unsigned
pf_part_index(struct pf_txn *t, const struct pf_part *p)
{
	return pf_host_has(t, part_index) ? PF_HOST_(t)->part_index(p) : 0;
}

/* Replace part part_index with a text/plain part holding notice
 * (1..4096 bytes of UTF-8, no control characters but line breaks and
 * tabs).  A part inside a signed or encrypted container replaces the
 * whole container; a part inside an encoded attached message, that
 * message.  Before the first replacement of a transaction the message
 * as received is kept in the quarantine (reason "stripped"); -1 when it
 * cannot be, and nothing is replaced. */
static inline int
pf_part_replace(struct pf_txn *t, unsigned part_index, const char *notice)
{
	if (!pf_host_has(t, part_replace))
		return -1;
	return PF_HOST_(t)->part_replace(t, part_index, notice);
}

/* Add a banner (text as for pf_part_replace) at the top or bottom of the
 * message's text: its first text/plain and first text/html part, not
 * inside attachments, attached messages, signed or encrypted parts. */
static inline int
pf_banner_add(struct pf_txn *t, int where, const char *text)
{
	if (!pf_host_has(t, banner_add))
		return -1;
	return PF_HOST_(t)->banner_add(t, where, text);
}

/* A maillog line "QUEUEID: filter NAME: text". */
static inline void __attribute__((format(printf, 3, 4)))
pf_log(struct pf_txn *t, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	PF_HOST_(t)->log(t, level, fmt, ap);
	va_end(ap);
}

#ifdef __cplusplus
}
#endif

#endif
