/*
 * conf_bind.c - typed binding of configuration blocks onto C structs, and
 * the scalar interpreters (sizes, durations, booleans); see conf.h.  The
 * parser that builds the tree is conf.c.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "conf_int.h"

/* Keys longer than this get no "did you mean" suggestion. */
#define CONF_SUGGEST_MAX 48

/* ---- scalar interpreters ---- */

/* The leading decimal digits of s: 0, -1 if there are none, -2 when the
 * number does not fit; *end_r points past the digits. */
static int
conf_digits(const char *s, uint64_t *v_r, const char **end_r)
{
	uint64_t v = 0;
	bool overflow = false;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	*end_r = p;
	*v_r = v;
	if (p == s)
		return -1;
	return overflow ? -2 : 0;
}

static int
conf_scale(int rc, uint64_t v, uint64_t unit, uint64_t *r)
{
	if (rc < 0)
		return rc;
	if (v > UINT64_MAX / unit)
		return -2;
	*r = v * unit;
	return 0;
}

/* 0, -1 (not a size), -2 (too large). */
static int
conf_size(const char *s, uint64_t *bytes_r)
{
	const char *p;
	uint64_t v, unit = 1;
	int rc = conf_digits(s, &v, &p);

	if (rc == -1)
		return -1;
	switch (*p) {
	case 'k':
	case 'K':
		unit = 1024;
		p++;
		break;
	case 'm':
	case 'M':
		unit = 1024 * 1024;
		p++;
		break;
	case 'g':
	case 'G':
		unit = 1024 * 1024 * 1024;
		p++;
		break;
	default:
		break;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0')
		return -1;
	return conf_scale(rc, v, unit, bytes_r);
}

/* 0, -1 (not a duration), -2 (too large). */
static int
conf_duration(const char *s, uint64_t *ms_r)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
		{ "", 1000 },	   { "ms", 1 },	   { "s", 1000 },
		{ "min", 60000 },  { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 },
	};
	const char *p;
	uint64_t v;
	int rc = conf_digits(s, &v, &p);

	if (rc == -1)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (pst_str_caseeq_cstr(pst_str_from_cstr(p), units[i].suffix))
			return conf_scale(rc, v, units[i].ms, ms_r);
	return -1;
}

int
pst_conf_parse_size(const char *s, uint64_t *bytes_r)
{
	return conf_size(s, bytes_r) < 0 ? -1 : 0;
}

int
pst_conf_parse_duration(const char *s, uint64_t *ms_r)
{
	return conf_duration(s, ms_r) < 0 ? -1 : 0;
}

int
pst_conf_parse_bool(const char *s, bool *value_r)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	struct pst_str str = pst_str_from_cstr(s);

	for (size_t i = 0; i < 3; i++) {
		if (pst_str_caseeq_cstr(str, yes[i])) {
			*value_r = true;
			return 0;
		}
		if (pst_str_caseeq_cstr(str, no[i])) {
			*value_r = false;
			return 0;
		}
	}
	return -1;
}

/* ---- binding ---- */

static const char *
conf_where(struct pst_arena *arena, const struct pst_conf_node *block)
{
	const char *s;

	if (block->key == NULL)
		return "at top level";
	if (block->label != NULL)
		s = pst_arena_printf(arena, "in block '%s %s'",
				     pst_conf_show(arena, block->key),
				     pst_conf_show(arena, block->label));
	else
		s = pst_arena_printf(arena, "in block '%s'",
				     pst_conf_show(arena, block->key));
	return s != NULL ? s : "";
}

static const char *
conf_kind_name(enum pst_conf_kind kind)
{
	switch (kind) {
	case PST_CONF_SCALAR:
		return "a single value";
	case PST_CONF_LIST:
		return "a list";
	case PST_CONF_BLOCK:
		break;
	}
	return "a block";
}

static const char *
conf_type_name(struct pst_arena *arena, const struct pst_conf_field *f)
{
	switch (f->type) {
	case PST_CONF_T_STRING:
		return "a single value";
	case PST_CONF_T_STRINGS:
		return "a value or a list of values";
	case PST_CONF_T_BOOL:
		return "yes or no (true/false, on/off)";
	case PST_CONF_T_UINT:
		return "a whole number";
	case PST_CONF_T_SIZE:
		return "a size such as 512k, 10M or 1G";
	case PST_CONF_T_DURATION:
		return "a duration such as 500ms, 30s, 5min, 2h or 1d";
	case PST_CONF_T_ENUM: {
		const char *s = "one of";

		for (size_t i = 0; f->choices != NULL && f->choices[i]; i++) {
			s = pst_arena_printf(arena, "%s%s %s", s,
					     i > 0 ? "," : "", f->choices[i]);
			if (s == NULL)
				return "one of the documented values";
		}
		return s;
	}
	case PST_CONF_T_BLOCK:
		break;
	}
	return "a block { ... }";
}

/* A limit in the unit an admin writes it in: 10M rather than 10485760. */
static const char *
conf_show_limit(struct pst_arena *arena, enum pst_conf_type type, uint64_t v)
{
	static const struct {
		enum pst_conf_type type;
		uint64_t unit;
		const char *suffix;
	} units[] = {
		{ PST_CONF_T_SIZE, 1u << 30, "G" },
		{ PST_CONF_T_SIZE, 1u << 20, "M" },
		{ PST_CONF_T_SIZE, 1u << 10, "k" },
		{ PST_CONF_T_DURATION, 86400000, "d" },
		{ PST_CONF_T_DURATION, 3600000, "h" },
		{ PST_CONF_T_DURATION, 60000, "min" },
		{ PST_CONF_T_DURATION, 1000, "s" },
		{ PST_CONF_T_DURATION, 1, "ms" },
	};
	const char *s = NULL;
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].type == type && v != 0 && v % units[i].unit == 0)
			break;
	if (i < sizeof(units) / sizeof(units[0]))
		s = pst_arena_printf(arena, "%" PRIu64 "%s", v / units[i].unit,
				     units[i].suffix);
	else
		s = pst_arena_printf(arena, "%" PRIu64, v);
	return s != NULL ? s : "?";
}

static int
conf_bind_number(struct pst_arena *arena, const struct pst_conf_node *n,
		 const struct pst_conf_field *f, void *dst,
		 const char **error_r)
{
	const char *name = pst_conf_show(arena, n->key);
	const char *end;
	uint64_t v = 0;
	int rc;

	if (f->type == PST_CONF_T_SIZE) {
		rc = conf_size(n->value, &v);
	} else if (f->type == PST_CONF_T_DURATION) {
		rc = conf_duration(n->value, &v);
	} else {
		rc = conf_digits(n->value, &v, &end);
		if (rc == 0 && *end != '\0')
			rc = -1;
	}
	if (rc == -1) {
		*error_r = pst_conf_error(arena, n, "'%s' must be %s, not '%s'",
					  name, conf_type_name(arena, f),
					  pst_conf_show(arena, n->value));
		return -1;
	}
	if (rc == -2 ||
	    ((f->min != 0 || f->max != 0) && (v < f->min || v > f->max))) {
		*error_r = pst_conf_error(
			arena, n, "'%s' must be between %s and %s, not %s",
			name, conf_show_limit(arena, f->type, f->min),
			conf_show_limit(arena, f->type,
					f->min || f->max ? f->max : UINT64_MAX),
			pst_conf_show(arena, n->value));
		return -1;
	}
	memcpy(dst, &v, sizeof(v));
	return 0;
}

static int
conf_bind_strings(struct pst_arena *arena, const struct pst_conf_node *n,
		  void *dst, const char **error_r)
{
	struct pst_conf_strings out = { NULL, 0 };
	const struct pst_conf_node *item;

	if (n->kind == PST_CONF_SCALAR) {
		out.n = 1;
	} else {
		for (item = n->child; item != NULL; item = item->next)
			out.n++;
	}
	out.v = pst_arena_calloc(arena, out.n + 1, sizeof(*out.v));
	if (out.v == NULL) {
		*error_r = pst_conf_oom;
		return -1;
	}
	if (n->kind == PST_CONF_SCALAR) {
		out.v[0] = n->value;
	} else {
		size_t i = 0;

		for (item = n->child; item != NULL; item = item->next) {
			if (item->kind != PST_CONF_SCALAR ||
			    item->value == NULL) {
				*error_r = pst_conf_error(
					arena, item,
					"'%s' may hold only values",
					pst_conf_show(arena, n->key));
				return -1;
			}
			out.v[i++] = item->value;
		}
	}
	memcpy(dst, &out, sizeof(out));
	return 0;
}

static int
conf_bind_one(struct pst_arena *arena, const struct pst_conf_node *n,
	      const struct pst_conf_field *f, void *obj, const char **error_r)
{
	const char *name = pst_conf_show(arena, n->key);
	void *dst = (char *)obj + f->offset;
	enum pst_conf_kind want = PST_CONF_SCALAR;
	bool b;

	if (f->type == PST_CONF_T_BLOCK)
		want = PST_CONF_BLOCK;
	if (n->kind != want &&
	    !(f->type == PST_CONF_T_STRINGS && n->kind == PST_CONF_LIST)) {
		*error_r = pst_conf_error(arena, n, "'%s' must be %s, not %s",
					  name, conf_type_name(arena, f),
					  conf_kind_name(n->kind));
		return -1;
	}
	if (n->kind == PST_CONF_SCALAR && n->value == NULL) {
		*error_r = pst_conf_error(arena, n, "'%s' has no value", name);
		return -1;
	}
	switch (f->type) {
	case PST_CONF_T_STRING:
		memcpy(dst, &n->value, sizeof(n->value));
		return 0;
	case PST_CONF_T_STRINGS:
		return conf_bind_strings(arena, n, dst, error_r);
	case PST_CONF_T_BOOL:
		if (pst_conf_parse_bool(n->value, &b) < 0) {
			*error_r = pst_conf_error(
				arena, n, "'%s' must be %s, not '%s'", name,
				conf_type_name(arena, f),
				pst_conf_show(arena, n->value));
			return -1;
		}
		memcpy(dst, &b, sizeof(b));
		return 0;
	case PST_CONF_T_UINT:
	case PST_CONF_T_SIZE:
	case PST_CONF_T_DURATION:
		return conf_bind_number(arena, n, f, dst, error_r);
	case PST_CONF_T_ENUM:
		for (int i = 0; f->choices != NULL && f->choices[i]; i++) {
			if (pst_str_caseeq_cstr(pst_str_from_cstr(n->value),
						f->choices[i])) {
				memcpy(dst, &i, sizeof(i));
				return 0;
			}
		}
		*error_r = pst_conf_error(arena, n, "'%s' must be %s, not '%s'",
					  name, conf_type_name(arena, f),
					  pst_conf_show(arena, n->value));
		return -1;
	case PST_CONF_T_BLOCK:
		break;
	}
	if (f->block == NULL) {
		*error_r = pst_conf_error(arena, n, "block '%s' has no handler",
					  name);
		return -1;
	}
	*error_r = NULL;
	if (f->block(arena, n, obj, error_r) < 0) {
		if (*error_r == NULL)
			*error_r = pst_conf_error(arena, n,
						  "invalid block '%s'", name);
		return -1;
	}
	return 0;
}

/* Edit distance, for "did you mean"; UINT_MAX for long strings. */
static unsigned
conf_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[CONF_SUGGEST_MAX + 1];

	if (la > CONF_SUGGEST_MAX || lb > CONF_SUGGEST_MAX)
		return UINT_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *
conf_unknown_key(struct pst_arena *arena, const struct pst_conf_node *block,
		 const struct pst_conf_node *n,
		 const struct pst_conf_field *fields)
{
	const char *best = NULL;
	unsigned best_d = 3; /* suggest at most two edits away */

	for (const struct pst_conf_field *f = fields; f->name != NULL; f++) {
		unsigned d = conf_distance(n->key, f->name);

		if (d < best_d && d < strlen(f->name)) {
			best = f->name;
			best_d = d;
		}
	}
	if (best != NULL)
		return pst_conf_error(
			arena, n, "unknown key '%s' %s (did you mean '%s'?)",
			pst_conf_show(arena, n->key), conf_where(arena, block),
			best);
	return pst_conf_error(arena, n, "unknown key '%s' %s",
			      pst_conf_show(arena, n->key),
			      conf_where(arena, block));
}

int
pst_conf_bind(struct pst_arena *arena, const struct pst_conf_node *block,
	      const struct pst_conf_field *fields, void *obj,
	      const char **error_r)
{
	const struct pst_conf_node **first;
	const struct pst_conf_node *n;
	size_t nfields = 0, i;

	if (block == NULL || block->kind != PST_CONF_BLOCK) {
		*error_r = pst_conf_error(arena, block, "not a block");
		return -1;
	}
	while (fields[nfields].name != NULL)
		nfields++;
	first = pst_arena_calloc(arena, nfields + 1, sizeof(*first));
	if (first == NULL) {
		*error_r = pst_conf_oom;
		return -1;
	}
	for (n = block->child; n != NULL; n = n->next) {
		const struct pst_conf_field *f;

		if (n->key == NULL) {
			*error_r = pst_conf_error(arena, n,
						  "entry without a "
						  "key");
			return -1;
		}
		for (i = 0; i < nfields; i++)
			if (strcmp(fields[i].name, n->key) == 0)
				break;
		if (i == nfields) {
			*error_r = conf_unknown_key(arena, block, n, fields);
			return -1;
		}
		f = &fields[i];
		if (first[i] != NULL &&
		    !(f->type == PST_CONF_T_BLOCK && f->repeatable)) {
			*error_r = pst_conf_error(
				arena, n, "duplicate %s '%s' (first at %s:%u)",
				f->type == PST_CONF_T_BLOCK ? "block" : "key",
				pst_conf_show(arena, n->key), first[i]->file,
				first[i]->line);
			return -1;
		}
		if (first[i] == NULL)
			first[i] = n;
		if (conf_bind_one(arena, n, f, obj, error_r) < 0)
			return -1;
	}
	for (i = 0; i < nfields; i++) {
		if (fields[i].required && first[i] == NULL) {
			*error_r = pst_conf_error(
				arena, block, "missing required %s '%s' %s",
				fields[i].type == PST_CONF_T_BLOCK ? "block"
								   : "key",
				fields[i].name, conf_where(arena, block));
			return -1;
		}
	}
	return 0;
}
