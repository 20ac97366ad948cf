/*
 * conf.h - the configuration file: a UCL-style syntax parsed into a tree
 * whose every node knows its file and line, and typed binding of a block
 * onto a C struct.
 *
 * Why not libucl: Debian 12's "libucl-dev" is the UCL *compression*
 * library; vstakhov's libucl is not packaged (rspamd bundles a copy), and
 * it keeps no line numbers on objects, which every error here must name.
 *
 * Syntax (the subset of UCL/nginx style that postern documents):
 *   # comment   // comment   and C-style block comments
 *   key = value;   key value;   key: value;    (';' or ',' or newline ends)
 *   block { ... }  block "label" { ... }  block label { ... }
 *   list = [ "a", "b", c ];
 *   strings: "double" (with \" \\ \n \t \r \uXXXX escapes), 'single' (raw),
 *   or bare words (letters, digits, UTF-8, and . _ - / : @ * + [ ] % ~).
 *   .include "path/or/glob*.conf";   (relative to the including file)
 * Numbers, sizes (10k 10M 1G, powers of 1024) and durations (500ms 30s
 * 5min 2h 1d; a bare number is seconds) are scalars interpreted by the
 * binding.  Everything is allocated on the caller's arena.
 */
#ifndef PST_CONF_H
#define PST_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pst_arena;

enum pst_conf_kind {
	PST_CONF_SCALAR,
	PST_CONF_LIST,
	PST_CONF_BLOCK,
};

struct pst_conf_node {
	enum pst_conf_kind kind;
	const char *key;   /* NULL for list items and the root */
	const char *label; /* route "example.org" {}: "example.org"; or NULL */
	const char *value; /* SCALAR: unescaped text */
	bool quoted;	   /* SCALAR: was written in quotes */
	struct pst_conf_node *child; /* LIST items / BLOCK entries, in order */
	struct pst_conf_node *next;  /* sibling */
	const char *file;
	unsigned line;
};

/* Limits against hostile or runaway files. */
#define PST_CONF_MAX_DEPTH 32
#define PST_CONF_MAX_INCLUDE_DEPTH 8
#define PST_CONF_MAX_FILE_SIZE (16u << 20)

/* Parse a file (and its includes) into a root BLOCK node.  0, or -1 with
 * *error_r = "FILE:LINE: what is wrong" (allocated on the arena). */
int pst_conf_parse_file(struct pst_arena *arena, const char *path,
			struct pst_conf_node **root_r, const char **error_r);
/* The same for text in memory; name is used in messages and to resolve
 * relative includes.  name NULL: messages say "<string>" and .include is
 * an error, so untrusted text can never make the parser open a file. */
int pst_conf_parse_string(struct pst_arena *arena, const char *name,
			  const char *text, size_t len,
			  struct pst_conf_node **root_r, const char **error_r);

/* ---- typed binding ---- */

enum pst_conf_type {
	PST_CONF_T_STRING,   /* const char * */
	PST_CONF_T_STRINGS,  /* struct pst_conf_strings; scalar or list */
	PST_CONF_T_BOOL,     /* bool: true/false/yes/no/on/off */
	PST_CONF_T_UINT,     /* uint64_t, plain integer */
	PST_CONF_T_SIZE,     /* uint64_t bytes: 512, 64k, 10M, 1G */
	PST_CONF_T_DURATION, /* uint64_t milliseconds: 30s, 500ms, 5min */
	PST_CONF_T_ENUM,     /* int: index into field->choices */
	PST_CONF_T_BLOCK,    /* handled by field->block */
};

struct pst_conf_strings {
	const char **v;
	size_t n;
};

struct pst_conf_field;

/* Called for a BLOCK field (and for any field whose type is BLOCK, each
 * time it appears when repeatable).  obj is the struct being bound.
 * Returns 0, or -1 with *error_r set ("FILE:LINE: ..."). */
typedef int pst_conf_block_fn(struct pst_arena *arena,
			      const struct pst_conf_node *node, void *obj,
			      const char **error_r);

struct pst_conf_field {
	const char *name;
	enum pst_conf_type type;
	size_t offset;	   /* where the value goes in obj */
	uint64_t min, max; /* numbers: inclusive range, unless both 0 */
	const char *const *choices; /* ENUM: NULL-terminated names */
	pst_conf_block_fn *block;   /* BLOCK */
	bool repeatable;	    /* BLOCK: may appear more than once */
	bool required;
};

/* Bind the entries of a BLOCK node onto obj by the NULL-name-terminated
 * field table.  Unknown keys, duplicates of non-repeatable keys, wrong
 * kinds, values out of range and missing required keys are errors that
 * name the file and line.  Fields not present keep obj's values (the
 * caller fills defaults first). */
int pst_conf_bind(struct pst_arena *arena, const struct pst_conf_node *block,
		  const struct pst_conf_field *fields, void *obj,
		  const char **error_r);

/* Scalar interpreters, also usable on their own.  0 or -1. */
int pst_conf_parse_size(const char *s, uint64_t *bytes_r);
int pst_conf_parse_duration(const char *s, uint64_t *ms_r);
int pst_conf_parse_bool(const char *s, bool *value_r);

/* "FILE:LINE: " + formatted text, on the arena: for block handlers. */
const char *pst_conf_error(struct pst_arena *arena,
			   const struct pst_conf_node *node, const char *fmt,
			   ...) __attribute__((format(printf, 3, 4)));

#endif
