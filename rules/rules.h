/*
 * rules.h - the rule-file language (postern-rules(5)): compile rule files
 * into an immutable rule set, and evaluate a set at an SMTP stage against
 * an environment that supplies the values of variables.
 *
 * A set is compiled once (rules_load_files) and shared read-only by every
 * session on every thread; it carries a reference count so that a reload
 * can swap sets while sessions in flight finish on the old one.  A load
 * that fails leaves nothing behind: the caller's current set is untouched.
 *
 * The library never logs and never touches a socket.  Compile errors come
 * back as text in the shape "file:line:column: error: ...", the source
 * line, a caret line and a hint; evaluation returns an outcome (terminal
 * action, accumulated actions, rules that fired, shadow "would have"
 * actions, per-rule explanations) plus flags for what went wrong while it
 * carried on (a regex that hit its match limit counts as no match).
 *
 * Threads: a set may be evaluated by any number of threads at once; each
 * rules_eval() call uses only the arena and environment it is given.
 */
#ifndef RULES_RULES_H
#define RULES_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "arena.h"
#include "buf.h"

/* ---- stages and variables ---- */

/* The SMTP stages at which rules run, in order.  Each rule runs at the
 * earliest stage at which every variable it reads is known (and its
 * actions mean something: add-header needs the message). */
enum rules_stage {
	RULES_STAGE_CONNECT,
	RULES_STAGE_HELO,
	RULES_STAGE_MAIL,
	RULES_STAGE_RCPT, /* once per RCPT command */
	RULES_STAGE_MESSAGE,
	RULES_STAGE__COUNT,
};

/* "connect", "helo", "mail", "rcpt", "message". */
const char *rules_stage_name(enum rules_stage stage);

/*
 * Every variable a rule can read.  The comment gives the name in rule
 * files, the type, and the earliest stage the environment must be able
 * to answer it.  "list" variables may have any number of values.
 */
enum rules_var {
	RULES_VAR_CLIENT_IP,	   /* client.ip: ip, connect (absent: unix) */
	RULES_VAR_CLIENT_PTR,	   /* client.ptr: string, connect ("unknown") */
	RULES_VAR_CLIENT_TLS,	   /* client.tls: bool, mail (after STARTTLS) */
	RULES_VAR_CLIENT_LOGIN,	   /* client.login: string, mail (after AUTH) */
	RULES_VAR_TIME_HOUR,	   /* time.hour: number 0-23, connect */
	RULES_VAR_TIME_WEEKDAY,	   /* time.weekday: "mon".."sun", connect */
	RULES_VAR_HELO,		   /* helo: string, helo */
	RULES_VAR_FROM,		   /* envelope.from: string, mail ("" null) */
	RULES_VAR_FROM_LOCAL,	   /* envelope.from.local: string, mail */
	RULES_VAR_FROM_DOMAIN,	   /* envelope.from.domain: string, mail */
	RULES_VAR_SPF,		   /* spf: result, mail */
	RULES_VAR_RCPT,		   /* envelope.rcpt: list, rcpt (see below) */
	RULES_VAR_RCPT_LOCAL,	   /* envelope.rcpt.local: list, rcpt */
	RULES_VAR_RCPT_DOMAIN,	   /* envelope.rcpt.domain: list, rcpt */
	RULES_VAR_HEADER,	   /* header "Name": list, decoded values */
	RULES_VAR_HEADER_COUNT,	   /* header.count "Name": number */
	RULES_VAR_RAWHEADERS,	   /* rawheaders: list, "Name: value" lines,
				    * unfolded, not decoded */
	RULES_VAR_SUBJECT,	   /* subject: string, decoded */
	RULES_VAR_MESSAGE_SIZE,	   /* message.size: number, bytes */
	RULES_VAR_MESSAGE_DEFECTS, /* message.defects: list of MIME defect
				    * names (mime_defect_name()) */
	RULES_VAR_BODY,		   /* body: string, decoded text */
	RULES_VAR_RAWBODY,	   /* rawbody: string, as received */
	RULES_VAR_ATT_COUNT,	   /* attachment.count: number */
	RULES_VAR_ATT_FILENAME,	   /* attachment.filename: list */
	RULES_VAR_ATT_EXTENSION,   /* attachment.extension: list, no dot */
	RULES_VAR_ATT_TYPE,	   /* attachment.type: list, declared */
	RULES_VAR_ATT_SNIFFED_TYPE,	 /* attachment.sniffed_type: list */
	RULES_VAR_ATT_SIZE,		 /* attachment.size: list of numbers */
	RULES_VAR_ATT_ARCHIVE_FILENAME,	 /* attachment.archive.filename */
	RULES_VAR_ATT_ARCHIVE_EXTENSION, /* attachment.archive.extension */
	RULES_VAR_ATT_ARCHIVE_COUNT,	 /* attachment.archive.count: number
					  * of members read */
	RULES_VAR_ATT_ENCRYPTED, /* attachment.encrypted: list of bools */
	RULES_VAR_ATT_DEPTH,	 /* attachment.depth: list of numbers */
	RULES_VAR_ATT_DEFECTS,	 /* attachment.defects: list of names */
	RULES_VAR_URLS,		 /* urls: list, from text and href */
	RULES_VAR_URL_DOMAIN,	 /* url.domain: list, their hosts */
	RULES_VAR_DKIM,		 /* dkim: result, message */
	RULES_VAR_DMARC,	 /* dmarc: result, message */
	RULES_VAR_DMARC_POLICY,	 /* dmarc.policy: none/quarantine/reject */
	RULES_VAR_RESULT,	 /* result "key": string, message */
	RULES_VAR_SCORE,	 /* score: number, message */
	RULES_VAR_TAGS,		 /* tags: list, message */
	RULES_VAR__COUNT,
};
/*
 * Every variable from message on is asked only at RULES_STAGE_MESSAGE.
 * At RULES_STAGE_RCPT, envelope.rcpt (and .local, .domain) is the one
 * recipient of the RCPT command being decided; at RULES_STAGE_MESSAGE it
 * is every accepted recipient.  spf/dkim/dmarc are "pass", "fail",
 * "softfail", "neutral", "none", "temperror", "permerror" (absent reads
 * as "none"); dmarc.policy is the published p= of a failing domain.
 */

enum rules_type {
	RULES_T_STRING,
	RULES_T_NUMBER,
	RULES_T_BOOL,
	RULES_T_IP,
};

/* The name in rule files ("envelope.from"), the type of each value,
 * whether it is a list, the earliest stage it is known. */
const char *rules_var_name(enum rules_var var);
enum rules_type rules_var_type(enum rules_var var);
bool rules_var_is_list(enum rules_var var);
enum rules_stage rules_var_stage(enum rules_var var);

/* ---- values: what the environment answers ---- */

/* An IPv4 (family AF_INET, the address in addr[0..3]) or IPv6 address.
 * A v4-mapped IPv6 address is taken as IPv4. */
struct rules_ip {
	int family;
	uint8_t addr[16];
};

/*
 * A value: n elements of one type.  n == 0 means absent (no recipient
 * yet, a unix-socket client's address) or an empty list.  Fill it with
 * the rules_value_*() setters below rather than by hand.  Strings need
 * not be NUL-terminated; they must stay valid until rules_eval() returns.
 */
struct rules_value {
	enum rules_type type;
	size_t n;
	/* n > 1, or any list: the elements (the array of the matching
	 * type); NULL when n <= 1 and the element is in one */
	union {
		const struct pst_str *str;
		const double *num;
		const bool *b;
		const struct rules_ip *ip;
	} list;
	union {
		struct pst_str str;
		double num;
		bool b;
		struct rules_ip ip;
	} one;
	/* Optional, for attachment.* lists: the MIME part (mime_part.index)
	 * each element comes from, n entries, so that strip-attachment can
	 * replace the parts that made a rule true; NULL when unknown. */
	const size_t *parts;
};

void rules_value_str(struct rules_value *out, const char *p, size_t len);
/* NULL: absent. */
void rules_value_cstr(struct rules_value *out, const char *s);
void rules_value_num(struct rules_value *out, double num);
void rules_value_bool(struct rules_value *out, bool b);
void rules_value_ip(struct rules_value *out, const struct rules_ip *ip);
/* From a socket address (AF_INET/AF_INET6); 0, or -1 (another family:
 * the value is left absent). */
int rules_value_sockaddr(struct rules_value *out, const struct sockaddr *sa);
/* Arrays owned by the caller (e.g. on the arena get() is given). */
void rules_value_strs(struct rules_value *out, const struct pst_str *v,
		      size_t n);
void rules_value_nums(struct rules_value *out, const double *v, size_t n);

/* Say which part each element came from (an array of out->n indexes,
 * owned by the caller like the elements); set after the elements. */
static inline void
rules_value_parts(struct rules_value *out, const size_t *parts)
{
	out->parts = parts;
}

/* Parse "192.0.2.7" or "2001:db8::7"; 0 or -1. */
int rules_ip_parse(const char *s, size_t len, struct rules_ip *ip_r);

/*
 * The environment: how the evaluator learns the values of variables.
 * get() fills *out for var (arg is the header name for RULES_VAR_HEADER
 * and RULES_VAR_HEADER_COUNT, the key for RULES_VAR_RESULT, else NULL);
 * out arrives zeroed with out->type set to rules_var_type(var).  Memory
 * the answer needs may come from arena (it lives as long as the
 * outcome).  Each (var, arg) is asked at most once per rules_eval().
 * Returns 0 (leave out->n == 0 for absent), or -1 when the value cannot
 * be had (the body cannot be read): it is then taken as absent and the
 * outcome gets RULES_F_ENV_ERROR.
 */
struct rules_env {
	void *ctx;
	int (*get)(void *ctx, enum rules_var var, const char *arg,
		   struct pst_arena *arena, struct rules_value *out);
};

/* ---- loading ---- */

#define RULES_DEFAULT_MATCH_LIMIT 1000000u
#define RULES_DEFAULT_DEPTH_LIMIT 10000u
#define RULES_DEFAULT_MAX_ERRORS 20u

struct rules_options {
	uint32_t match_limit; /* PCRE2 match limit per regex match */
	uint32_t depth_limit; /* PCRE2 depth limit (interpreter only) */
	unsigned max_errors;  /* stop reporting after this many */
};

void rules_options_default(struct rules_options *opts);

/* One compile error or warning. */
struct rules_diag {
	const char *file;
	unsigned line, column; /* 1-based; 0: not about a place */
	bool warning;
	const char *message;
	const char *hint; /* or NULL */
};

struct rules_report {
	const struct rules_diag *diags;
	size_t ndiags;
	size_t nerrors;
	/* every diag formatted for a terminal: "file:line:col: error: msg",
	 * the source line, a caret line, "hint: ..."; "" when none */
	const char *text;
};

struct rules_set;

/*
 * Compile the files named by patterns (each a path or a glob; a glob that
 * matches nothing is fine, a missing plain file is an error) into one
 * set.  Returns 0 with *set_r (one reference), or -1 with *set_r = NULL.
 * Either way *report_r lists the errors and warnings, allocated on arena
 * (the caller's; the set has its own).  opts may be NULL (defaults).
 */
int rules_load_files(const char *const *patterns, size_t npatterns,
		     const struct rules_options *opts, struct pst_arena *arena,
		     struct rules_set **set_r, struct rules_report *report_r);

/* The same for text in memory.  name is used in messages and to resolve
 * include and list files; name NULL: messages say "<string>" and include
 * and list files are errors, so untrusted text never opens a file. */
int rules_load_string(const char *name, const char *text, size_t len,
		      const struct rules_options *opts, struct pst_arena *arena,
		      struct rules_set **set_r, struct rules_report *report_r);

/* ---- the set ---- */

/* Another reference (atomic); returns set. */
struct rules_set *rules_set_ref(struct rules_set *set);
/* Drop a reference (atomic); the last one frees the set.  NULL and
 * *set_p == NULL are accepted; clears *set_p. */
void rules_set_unref(struct rules_set **set_p);

struct rules_rule_info {
	const char *name;
	const char *file;
	unsigned line;
	enum rules_stage stage;
	bool shadow;
};

size_t rules_set_count(const struct rules_set *set);
/* Rule i in file order; 0, or -1 when i is out of range. */
int rules_set_rule(const struct rules_set *set, size_t i,
		   struct rules_rule_info *info_r);
/* By name; 0 or -1. */
int rules_set_find(const struct rules_set *set, const char *name,
		   struct rules_rule_info *info_r);
/* Rules that run at stage (0: the caller can skip rules_eval()). */
size_t rules_set_stage_count(const struct rules_set *set,
			     enum rules_stage stage);
/* Bit (1 << var) for each variable a rule of that stage reads, so the
 * caller prepares only those (decoding the body is not free). */
uint64_t rules_set_vars(const struct rules_set *set, enum rules_stage stage);
size_t rules_set_list_count(const struct rules_set *set);
/* Regexes in the set, and in *no_literal_r (may be NULL) how many have
 * no literal the prefilter can look for: those run on every text they
 * test, which is what a large set's speed depends on. */
size_t rules_set_regex_count(const struct rules_set *set, size_t *no_literal_r);

/* ---- evaluation ---- */

enum rules_action_kind {
	/* terminal: the first one decides */
	RULES_ACT_ACCEPT,
	RULES_ACT_REJECT,
	RULES_ACT_TEMPFAIL,
	RULES_ACT_DISCARD,
	RULES_ACT_QUARANTINE,
	/* the rest accumulate */
	RULES_ACT_ADD_HEADER,
	RULES_ACT_REMOVE_HEADER,
	RULES_ACT_SCORE,
	RULES_ACT_TAG,
	RULES_ACT_LOG,
	RULES_ACT_STOP,
	/* body rewriting (message stage): they accumulate too */
	RULES_ACT_STRIP_ATTACHMENT,
	RULES_ACT_BANNER,
};

bool rules_action_is_terminal(enum rules_action_kind kind);
/* "accept", "reject", ..., "add-header", "stop". */
const char *rules_action_name(enum rules_action_kind kind);

/* Longest text of a reply, a quarantine reason or a log line, after
 * interpolation (the reply fits one SMTP line with its codes). */
#define RULES_TEXT_MAX 399
/* Longest header value from add-header. */
#define RULES_HEADER_VALUE_MAX 900
/* Longest notice (strip-attachment) or banner: UTF-8 and line breaks
 * kept. */
#define RULES_NOTICE_MAX 2000

/* An action as it applies: {variables} interpolated and sanitised
 * (printable, no CR/LF, bounded). */
struct rules_action_result {
	enum rules_action_kind kind;
	const char *rule;     /* the rule's name */
	unsigned code;	      /* reject: 5xx, tempfail: 4xx */
	const char *enhanced; /* reject, tempfail: "5.7.1" */
	/* reject, tempfail: the reply text; quarantine: the reason; log:
	 * the line; tag: the tag; add-header: the value; else NULL */
	const char *text;
	const char *header; /* add-header, remove-header: the field name */
	double score;	    /* score: the delta */
	/* strip-attachment: the parts (mime_part.index) whose attachment.*
	 * elements made the condition true, without duplicates; text is
	 * the notice.  banner: text is the banner, bottom where it goes. */
	const size_t *parts;
	size_t nparts;
	/* strip-attachment: an attachment.* test held whose values do not
	 * say which part each element comes from */
	bool parts_unknown;
	bool bottom;
};

/* rules_eval() flags */
#define RULES_EVAL_EXPLAIN 0x1u	     /* fill outcome->trace */
#define RULES_EVAL_NO_PREFILTER 0x2u /* run every regex (benchmarks) */

/* outcome->flags: what went wrong while evaluation carried on */
#define RULES_F_REGEX_LIMIT 0x1u /* a match hit a limit: taken as no match */
#define RULES_F_REGEX_ERROR 0x2u /* a match failed otherwise: no match */
#define RULES_F_ENV_ERROR 0x4u	 /* get() failed: taken as absent */
#define RULES_F_NOMEM 0x8u	 /* out of memory: evaluation stopped */
#define RULES_F_STOPPED 0x10u	 /* a rule said stop (or decided) */

/* With RULES_EVAL_EXPLAIN: one entry per rule of the stage, in order. */
struct rules_trace {
	const char *rule;
	const char *file;
	unsigned line;
	bool shadow;
	bool evaluated; /* false: an earlier rule decided or stopped */
	bool matched;
	/* the tests that decided, one per line: "subject matches /x/i:
	 * true (\"Win money\")"; "" when not evaluated */
	const char *why;
};

struct rules_outcome {
	/* the first terminal action, or NULL (no rule decided) */
	const struct rules_action_result *terminal;
	/* non-terminal actions of matched rules, in order */
	const struct rules_action_result *actions;
	size_t nactions;
	/* what shadow rules would have done, terminal ones included */
	const struct rules_action_result *shadow;
	size_t nshadow;
	/* rules whose condition held (shadow rules in shadow_fired) */
	const char *const *fired;
	size_t nfired;
	const char *const *shadow_fired;
	size_t nshadow_fired;
	double score;	       /* sum of the score actions applied */
	unsigned flags;	       /* RULES_F_* */
	const char *flag_rule; /* the first rule a flag came from */
	const struct rules_trace *trace;
	size_t ntrace;
};

/*
 * Run the rules of stage, in order, until one decides (a terminal
 * action) or says stop.  score and tags read what the environment says
 * plus what earlier rules of this call added; the caller adds
 * outcome->score and the tags to the transaction for later stages.
 * Everything in *out lives on arena.  Returns 0, or -1 when out of
 * memory (*out holds what was done, with RULES_F_NOMEM).
 */
int rules_eval(const struct rules_set *set, enum rules_stage stage,
	       const struct rules_env *env, struct pst_arena *arena,
	       unsigned flags, struct rules_outcome *out);

#endif
