/*
 * rules_int.h - what the files of rules/ share: the compiled form of a
 * rule set, the compiler's state, the lexer's tokens.  Only the files of
 * rules/ and the unit tests include this.
 *
 * Files: rules_lex.c (tokens), rules_parse.c (rules, conditions,
 * actions), rules_operand.c (tests and texts), rules_list.c (lists and
 * their typed views), rules_load.c
 * (files, includes, linking a set), rules_diag.c (error texts),
 * rules_var.c (the variable table, hints), rules_regex.c (PCRE2 and the
 * required-literal extraction), rules_ac.c (the multi-literal prefilter),
 * rules_eval.c (evaluation), rules_action.c (actions, interpolation),
 * rules_value.c (values and addresses), rules_set.c (the set's life),
 * rules_postfix.c (Postfix tables into rules, rules_postfix.h).
 *
 * Lifetimes: everything a compiled set needs lives on its arena (PCRE2
 * codes through arena cleanups); file texts and other compile-time
 * scratch live on a temporary arena that dies with the load.
 */
#ifndef RULES_RULES_INT_H
#define RULES_RULES_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "rules.h"

/* Bounds against hostile or runaway rule files. */
#define RULES_MAX_FILE_SIZE (16u << 20)
#define RULES_MAX_TOTAL_SIZE (64u << 20)
#define RULES_MAX_FILES 256
#define RULES_MAX_INCLUDE_DEPTH 8
#define RULES_MAX_NESTING 64 /* parentheses and nots in one condition */
#define RULES_MAX_RULES 100000
#define RULES_MAX_ACTIONS 64 /* per rule */
#define RULES_MAX_LIST_ITEMS (1u << 20)
#define RULES_MAX_TOKEN (64u * 1024) /* a string, a regex, a name */
#define RULES_MAX_NAME 128	     /* rule and list names */
/* How much of a value an explanation or an interpolation shows. */
#define RULES_SHOW_MAX 60
#define RULES_INTERP_LIST_MAX 10

/* ---- source files and places ---- */

struct rules_file {
	const char *name; /* as shown in messages; on the set's arena */
	const char *text; /* NUL-terminated; on the temporary arena */
	size_t len;
	bool shadow; /* `shadow;` at its top */
	struct rules_file *next;
};

struct rules_loc {
	const struct rules_file *file; /* NULL: not about a place */
	size_t off;		       /* byte offset of the start */
	unsigned line, col;	       /* 1-based; col counts characters */
	unsigned len;		       /* bytes underlined */
};

/* ---- types of expressions ---- */

enum rules_vtype {
	RULES_VT_UNKNOWN, /* after an error: no further checks */
	RULES_VT_STRING,
	RULES_VT_RESULT, /* a string from a fixed set (spf, weekday) */
	RULES_VT_NUMBER,
	RULES_VT_BOOL,
	RULES_VT_IP,
};

struct rules_vardef {
	const char *name;
	enum rules_var var;
	enum rules_vtype type;
	bool list;
	bool has_arg; /* header "Name", header.count "Name", result "k" */
	enum rules_stage stage;
	const char *const *domain; /* RESULT: allowed values, NULL-ended */
	const char *arg;	   /* a fixed argument (spf: "spf") */
};

/* ---- addresses ---- */

struct rules_cidr {
	struct rules_ip ip;
	unsigned prefix; /* 32 or 128 for one address */
};

bool rules_cidr_match(const struct rules_cidr *c, const struct rules_ip *ip);
/* "192.0.2.0/24", "2001:db8::/32" or a bare address; host bits set below
 * the prefix are refused.  0, or -1 with *why_r. */
int rules_cidr_parse(const char *s, size_t len, struct rules_cidr *c_r,
		     const char **why_r);
/* Text of an address ("192.0.2.7"), into buf of at least 48 bytes. */
const char *rules_ip_str(const struct rules_ip *ip, char *buf, size_t size);

/* ---- regular expressions ---- */

#define RULES_RE_I 0x1u
#define RULES_RE_M 0x2u
#define RULES_RE_S 0x4u
#define RULES_RE_X 0x8u

struct rules_regex {
	void *code;	  /* pcre2_code_8 */
	const char *text; /* "/pattern/flags" as written, for explanations */
	unsigned flags;
	/* the literal every match contains (ASCII lowercased), or NULL */
	const char *literal;
	size_t literal_len;
	int lit_id; /* its prefilter id, or -1: always run the regex */
	struct rules_regex *next; /* every regex of the set */
};

/* Compile pattern (no delimiters) with RULES_RE_* flags onto arena (a
 * cleanup frees the code).  0, or -1 with *why_r (PCRE2's message, on
 * arena) and *erroff_r (byte offset into pattern). */
int rules_regex_compile(struct pst_arena *arena, const char *pattern,
			size_t len, unsigned flags, struct rules_regex *re,
			const char **why_r, size_t *erroff_r);

/* The longest run of literal bytes that every match of pattern must
 * contain, ASCII-lowercased into buf (at least len bytes); its length,
 * or 0 when none of at least 3 bytes can be proved. */
size_t rules_regex_literal(const char *pattern, size_t len, unsigned flags,
			   char *buf);

/* Per-evaluation matching state: PCRE2 match data and context. */
struct rules_matcher;
struct rules_matcher *rules_matcher_new(struct pst_arena *arena,
					uint32_t match_limit,
					uint32_t depth_limit);
/* 1: match, 0: no match, -1: a limit was hit, -2: another error. */
int rules_regex_match(const struct rules_regex *re, struct rules_matcher *m,
		      const char *s, size_t len);

/* ---- the multi-literal prefilter (Aho-Corasick) ---- */

struct rules_ac;
/* Build over n literals (already lowercased; ids are their indexes) on
 * arena.  NULL when out of memory. */
struct rules_ac *rules_ac_build(struct pst_arena *arena,
				const struct pst_str *lits, size_t n);
/* Set bit id in bits (n bits, zeroed by the caller) for every literal
 * that occurs in s, ASCII case ignored. */
void rules_ac_scan(const struct rules_ac *ac, const char *s, size_t len,
		   uint8_t *bits);
size_t rules_ac_states(const struct rules_ac *ac);

/* ---- lists ---- */

enum rules_item_kind {
	RULES_ITEM_STRING, /* "text", or a line of a list file */
	RULES_ITEM_NUMBER,
	RULES_ITEM_ADDRESS, /* an address or a CIDR range */
	RULES_ITEM_REGEX,
};

struct rules_item {
	enum rules_item_kind kind;
	bool raw; /* a line of a list file: a string, or an address, or a
		   * /regex/, whatever the use needs */
	struct pst_str str; /* string, or the raw line */
	double num;
	struct rules_cidr cidr;
	struct rules_regex *re;
	struct rules_loc loc;
};

struct rules_list {
	const char *name; /* NULL: an inline list */
	struct rules_loc loc;
	struct rules_item *items;
	size_t n, cap;
	/* typed views, built on first use by rules_list_view() */
	bool have_strs, have_cidrs, have_nums, have_res;
	size_t order;	      /* in the load, for "defined twice" */
	struct pst_str *strs; /* sorted, ASCII case ignored */
	struct rules_cidr *cidrs;
	double *nums;
	struct rules_regex **res;
	struct rules_list *next;
};

/* ---- conditions ---- */

enum rules_op {
	RULES_OP_TRUE, /* a bool variable alone */
	RULES_OP_EQ,
	RULES_OP_MATCHES,
	RULES_OP_CONTAINS,
	RULES_OP_IN,
	RULES_OP_LT,
	RULES_OP_LE,
	RULES_OP_GT,
	RULES_OP_GE,
};

enum rules_quant {
	RULES_Q_IMPLICIT, /* a list without any/all: any */
	RULES_Q_ANY,
	RULES_Q_ALL,
};

enum rules_rhs {
	RULES_RHS_NONE,
	RULES_RHS_STRING,
	RULES_RHS_NUMBER,
	RULES_RHS_BOOL,
	RULES_RHS_IP,	/* one address (is) */
	RULES_RHS_CIDR, /* in one range */
	RULES_RHS_REGEX,
	RULES_RHS_LIST, /* @name or { ... } */
	RULES_RHS_VAR,
};

/* A variable as read by a rule: (var, arg) shares one cache slot per
 * evaluation. */
struct rules_operand {
	const struct rules_vardef *def;
	const char *arg; /* interned: one pointer per distinct argument */
	unsigned slot;
};

struct rules_test {
	struct rules_operand lhs;
	enum rules_quant quant;
	enum rules_op op;
	bool negate; /* !=, is not, not matches, not contains, not in */
	enum rules_rhs rhs;
	struct pst_str str;
	double num;
	bool b;
	struct rules_cidr cidr; /* IP (prefix full) and CIDR */
	struct rules_regex *re;
	struct rules_list *list;
	const char *list_ref; /* @name, until linked */
	struct rules_loc list_loc;
	struct rules_operand rvar;
	const char *text; /* as written, whitespace collapsed */
};

enum rules_cond_kind {
	RULES_C_AND,
	RULES_C_OR,
	RULES_C_NOT,
	RULES_C_TEST,
};

struct rules_cond {
	enum rules_cond_kind kind;
	struct rules_cond **kids; /* AND, OR: n >= 2; NOT: one */
	size_t n;
	struct rules_test *test;
	const char *text; /* NOT: as written, for explanations */
};

/* ---- actions ---- */

/* A text with {variables}: literal pieces and variables in turn. */
struct rules_seg {
	struct pst_str lit; /* when var.def == NULL and !rule */
	struct rules_operand var;
	bool rule; /* {rule}: the rule's name */
};

struct rules_text {
	struct rules_seg *segs;
	size_t n;
};

struct rules_action {
	enum rules_action_kind kind;
	unsigned code;
	const char *enhanced;
	struct rules_text text; /* reply, reason, log line, header value */
	bool has_text;
	const char *header; /* add-header, remove-header */
	const char *tag;
	double score;
	bool bottom; /* banner bottom */
	struct rules_loc loc;
};

struct rules_rule {
	const char *name;
	const char *file;
	unsigned line;
	struct rules_loc loc; /* of the name; valid during the load */
	bool shadow;
	enum rules_stage stage;
	struct rules_cond *cond;
	struct rules_action *actions;
	size_t nactions;
	uint64_t vars; /* bit per enum rules_var read */
	bool reads_score, writes_score;
	/* has strip-attachment: the evaluator records which attachment
	 * elements made the condition true */
	bool wants_parts;
	size_t index;
	struct rules_rule *next;
};

/* The argument of one cache slot. */
struct rules_slot {
	const struct rules_vardef *def;
	const char *arg;
};

struct rules_set {
	atomic_uint refs;
	struct pst_arena *arena;
	struct rules_rule **rules; /* file order */
	size_t nrules;
	struct rules_rule **stage_rules[RULES_STAGE__COUNT];
	size_t nstage[RULES_STAGE__COUNT];
	uint64_t stage_vars[RULES_STAGE__COUNT];
	struct rules_list *lists;
	size_t nlists;
	struct rules_slot *slots;
	unsigned nslots;
	struct rules_regex *regexes;
	struct rules_ac *ac; /* NULL: no literal to look for */
	size_t nlits;
	uint32_t match_limit, depth_limit;
};

/* ---- the compiler ---- */

struct rules_compiler {
	struct rules_set *set;
	struct pst_arena *tmp;	     /* file texts, scratch */
	struct pst_arena *out_arena; /* the caller's: the report */
	struct rules_options opts;
	/* diagnostics */
	struct rules_diag *diags;
	size_t ndiags, cap;
	size_t nerrors;
	bool stopped; /* max_errors reached */
	struct pst_buf text;
	bool oom;
	/* files */
	struct rules_file *files, **files_tail;
	unsigned nfiles;
	size_t total_size;
	bool files_allowed;
	const char *stack[RULES_MAX_INCLUDE_DEPTH + 1]; /* realpaths */
	unsigned depth;
	/* what the parser collected */
	struct rules_rule *rules, **rules_tail;
	size_t nrules;
	struct rules_list *lists, **lists_tail;
	struct rules_test **list_refs; /* tests naming @lists */
	size_t nlist_refs, list_refs_cap;
	struct rules_slot *slots;
	unsigned nslots, slots_cap;
	struct rules_regex **regex_tail;
};

/* rules_diag.c: report an error or warning at loc (NULL: no place).
 * hint may be NULL.  Always returns -1, for `return rules_error(...)`. */
int rules_error(struct rules_compiler *c, const struct rules_loc *loc,
		const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void rules_warning(struct rules_compiler *c, const struct rules_loc *loc,
		   const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Out of memory: recorded once, every later step gives up. */
int rules_oom(struct rules_compiler *c);
/* A short, printable, quoted copy of text for a message. */
const char *rules_show(struct pst_arena *arena, const char *p, size_t len);

/* rules_var.c */
const struct rules_vardef *rules_var_find(const char *name, size_t len);
const struct rules_vardef *rules_var_def(enum rules_var var);
/* The known name closest to name (a typo), or NULL. */
const char *rules_var_suggest(const char *name, size_t len);
/* Of candidates (NULL-ended), the one closest to word, or NULL. */
const char *rules_suggest(const char *word, size_t len,
			  const char *const *candidates);
const char *rules_vtype_name(enum rules_vtype t);
/* Intern (def, arg) as a cache slot; 0, or -1 when out of memory. */
int rules_var_slot(struct rules_compiler *c, struct rules_operand *op);

/* rules_parse.c: parse one file's text into c (rules and lists). */
void rules_parse_file(struct rules_compiler *c, struct rules_file *file);

/* rules_load.c: read and parse a file named by an include. */
void rules_load_include(struct rules_compiler *c, const struct rules_loc *at,
			const char *pattern);
/* Read a list file (path relative to at's file) into text; 0 or -1
 * (reported). */
int rules_load_list_file(struct rules_compiler *c, const struct rules_loc *at,
			 const char *path, struct rules_file **file_r);

/* rules_list.c */
/* Parse the lines of a list file into list. */
void rules_list_read_lines(struct rules_compiler *c, struct rules_list *list,
			   const struct rules_file *file);
/* Check that list can serve a test whose left side has type t with op
 * (building the view once); 0, or -1 (reported). */
int rules_list_check(struct rules_compiler *c, struct rules_list *list,
		     const struct rules_test *t, const struct rules_loc *use);
/* Membership, for evaluation. */
bool rules_list_has_str(const struct rules_list *list, const char *p,
			size_t len);
bool rules_list_has_num(const struct rules_list *list, double num);
bool rules_list_has_ip(const struct rules_list *list,
		       const struct rules_ip *ip);
/* ASCII case-insensitive order of two byte strings. */
int rules_strcasecmp_len(const char *a, size_t alen, const char *b,
			 size_t blen);

/* rules_action.c: interpolate and sanitise an action's text (at most
 * max bytes); build the result of an action.  NULL / -1: out of memory. */
struct rules_run;
const char *rules_action_text(struct rules_run *run,
			      const struct rules_rule *rule,
			      const struct rules_text *text, size_t max);
int rules_action_build(struct rules_run *run, const struct rules_rule *rule,
		       const struct rules_action *a,
		       struct rules_action_result *res);
/* rules_eval.c: the value of an operand in this run (loaded once). */
const struct rules_value *rules_run_value(struct rules_run *run,
					  const struct rules_operand *op);
struct pst_arena *rules_run_arena(struct rules_run *run);
/* The parts recorded for the rule being applied (strip-attachment),
 * without duplicates, on the run's arena. */
const size_t *rules_run_parts(struct rules_run *run, size_t *n_r,
			      bool *unknown_r);
/* Append a printable rendering of element i of v to buf (bounded). */
void rules_value_show(struct pst_buf *buf, const struct rules_value *v,
		      size_t i, size_t max);

#endif
