/*
 * chain.c - the filter chain's configuration and loading: `filter NAME
 * { ... }` blocks, dlopen() of shared objects or lookup of built-ins,
 * the ABI check, init with the filter's options, and the host functions
 * a filter reads its options through.
 *
 * Everything is allocated on the configuration's arena.  A chain is
 * built on one thread and read-only afterwards; filter_chain_free() runs
 * every fini and dlclose()s, and must come before the arena is freed.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "filter_int.h"

static const char *const filter_failure_names[] = { "tempfail", "reject",
						    "skip", NULL };

/* Longest per-call deadline an admin may set. */
#define FILTER_TIMEOUT_MAX (3600 * 1000)

void
filter_conf_defaults(struct filter_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->threads = 16;
	conf->auth_results = true;
	conf->quarantine_dir = "/var/lib/postern/quarantine";
	conf->spool_memory = 4u << 20;
	/* 0/NULL: the reply of a relayed message ("250 2.0.0 Ok: queued
	 * as QID"), so the client cannot tell. */
	conf->quarantine_code = 0;
	conf->quarantine_text = NULL;
}

/* ---- the config block ---- */

static bool
filter_name_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return false;
	}
	return n > 0 && n <= FILTER_NAME_MAX;
}

static bool
filter_host_key(const char *key)
{
	return strcmp(key, "module") == 0 || strcmp(key, "timeout") == 0 ||
	       strcmp(key, "on_failure") == 0;
}

static int
filter_conf_scalar(struct pst_arena *arena, const struct pst_conf_node *n,
		   const char *name, const char **error_r)
{
	if (n->kind != PST_CONF_SCALAR || n->value == NULL) {
		*error_r = pst_conf_error(arena, n,
					  "filter %s: '%s' must be a single "
					  "value",
					  name, n->key);
		return -1;
	}
	return 0;
}

/* One host key of a filter block onto e. */
static int
filter_conf_host_key(struct pst_arena *arena, const struct pst_conf_node *n,
		     struct filter_conf_entry *e, const char **error_r)
{
	if (filter_conf_scalar(arena, n, e->name, error_r) < 0)
		return -1;
	if (strcmp(n->key, "module") == 0) {
		/* Never a search path: what is loaded is what is named. */
		if (n->value[0] != '/') {
			*error_r = pst_conf_error(
				arena, n,
				"filter %s: module must be an absolute path, "
				"not '%s'",
				e->name, n->value);
			return -1;
		}
		e->module = n->value;
	} else if (strcmp(n->key, "timeout") == 0) {
		if (pst_conf_parse_duration(n->value, &e->timeout) < 0 ||
		    e->timeout == 0 || e->timeout > FILTER_TIMEOUT_MAX) {
			*error_r = pst_conf_error(
				arena, n,
				"filter %s: 'timeout' must be a duration "
				"between 1ms and 1h, not '%s'",
				e->name, n->value);
			return -1;
		}
	} else {
		int i;

		for (i = 0; filter_failure_names[i] != NULL; i++)
			if (strcasecmp(n->value, filter_failure_names[i]) == 0)
				break;
		if (filter_failure_names[i] == NULL) {
			*error_r = pst_conf_error(
				arena, n,
				"filter %s: 'on_failure' must be one of "
				"tempfail, reject, skip, not '%s'",
				e->name, n->value);
			return -1;
		}
		e->on_failure = i;
	}
	return 0;
}

int
filter_conf_block(struct pst_arena *arena, const struct pst_conf_node *node,
		  void *obj, const char **error_r)
{
	struct filter_conf *conf = obj;
	struct filter_conf_entry *e;

	if (node->label == NULL || !filter_name_valid(node->label)) {
		*error_r = pst_conf_error(
			arena, node,
			"a filter block needs a name of letters, digits, "
			"'_', '-' and '.' (at most %d): filter NAME { ... }",
			FILTER_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < conf->nentries; i++) {
		if (strcmp(conf->entries[i].name, node->label) == 0) {
			*error_r = pst_conf_error(
				arena, node,
				"duplicate filter '%s' (first at %s:%u)",
				node->label, conf->entries[i].node->file,
				conf->entries[i].node->line);
			return -1;
		}
	}
	if (conf->nentries >= FILTER_MAX) {
		*error_r = pst_conf_error(arena, node, "more than %d filters",
					  FILTER_MAX);
		return -1;
	}
	if (conf->nentries == conf->cap) {
		size_t cap = conf->cap ? conf->cap * 2 : 8;
		struct filter_conf_entry *v;

		v = pst_arena_calloc(arena, cap, sizeof(*v));
		if (v == NULL) {
			*error_r = "out of memory";
			return -1;
		}
		if (conf->nentries > 0)
			memcpy(v, conf->entries,
			       conf->nentries * sizeof(*conf->entries));
		conf->entries = v;
		conf->cap = cap;
	}
	e = &conf->entries[conf->nentries];
	memset(e, 0, sizeof(*e));
	e->name = node->label;
	e->timeout = FILTER_DEFAULT_TIMEOUT;
	e->on_failure = FILTER_FAIL_TEMPFAIL;
	e->node = node;

	for (const struct pst_conf_node *n = node->child; n != NULL;
	     n = n->next) {
		if (n->key == NULL) {
			*error_r = pst_conf_error(arena, n,
						  "filter %s: entry without a "
						  "key",
						  e->name);
			return -1;
		}
		/* Every key once: a filter reads one value per option. */
		for (const struct pst_conf_node *p = node->child; p != n;
		     p = p->next) {
			if (strcmp(p->key, n->key) == 0) {
				*error_r = pst_conf_error(
					arena, n,
					"filter %s: duplicate key '%s' "
					"(first at %s:%u)",
					e->name, n->key, p->file, p->line);
				return -1;
			}
		}
		if (filter_host_key(n->key) &&
		    filter_conf_host_key(arena, n, e, error_r) < 0)
			return -1;
	}
	conf->nentries++;
	return 0;
}

/* ---- modules ---- */

bool
filter_module_has(const struct pf_module *m, enum filter_stage s)
{
	const struct postern_filter *d = m->def;
	size_t off;
	bool set;

	switch (s) {
	case FILTER_CONNECT:
		off = offsetof(struct postern_filter, on_connect);
		set = d->on_connect != NULL;
		break;
	case FILTER_HELO:
		off = offsetof(struct postern_filter, on_helo);
		set = d->on_helo != NULL;
		break;
	case FILTER_MAIL:
		off = offsetof(struct postern_filter, on_mail);
		set = d->on_mail != NULL;
		break;
	case FILTER_RCPT:
		off = offsetof(struct postern_filter, on_rcpt);
		set = d->on_rcpt != NULL;
		break;
	case FILTER_MESSAGE:
		off = offsetof(struct postern_filter, on_message);
		set = d->on_message != NULL;
		break;
	case FILTER_RESET:
		off = offsetof(struct postern_filter, on_reset);
		set = d->on_reset != NULL;
		break;
	case FILTER_CLOSE:
		off = offsetof(struct postern_filter, on_close);
		set = d->on_close != NULL;
		break;
	default:
		return false;
	}
	return off + sizeof(void *) <= m->def_size && set &&
	       (m->stages_off & (1u << s)) == 0;
}

bool
filter_module_blocking(const struct pf_module *m, enum filter_stage s)
{
	return (m->def->flags & PF_FILTER_NONBLOCKING) == 0 &&
	       (m->stages_inline & (1u << s)) == 0;
}

void
filter_module_set_stages(struct pf_module *m, unsigned off, unsigned on_loop)
{
	m->stages_off = off;
	m->stages_inline = on_loop;
}

const char *
filter_stage_name(enum filter_stage s)
{
	static const char *const names[FILTER_STAGE__COUNT] = {
		"connect", "helo", "mail", "rcpt", "message", "reset", "close",
	};

	return (unsigned)s < FILTER_STAGE__COUNT ? names[s] : "none";
}

/* Where option key is written, or the block. */
static const struct pst_conf_node *
filter_option_where(struct pf_module *m, const char *key)
{
	for (size_t i = 0; key != NULL && i < m->noptions; i++)
		if (strcmp(m->options[i]->key, key) == 0)
			return m->options[i];
	return m->conf->node;
}

/* Record the first error of module m: "FILE:LINE: filter NAME: text"
 * at node. */
static void __attribute__((format(printf, 3, 0)))
filter_module_verror(struct pf_module *m, const struct pst_conf_node *node,
		     const char *fmt, va_list ap)
{
	char text[512];

	if (m->error != NULL)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	/* A filter's text goes to a terminal and a log: one clean line. */
	for (char *p = text; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	m->error = pst_conf_error(m->arena, node, "filter %s: %s",
				  m->conf->name, text);
	if (m->error == NULL)
		m->error = "out of memory";
}

static void __attribute__((format(printf, 3, 4)))
filter_module_errorf(struct pf_module *m, const struct pst_conf_node *node,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	filter_module_verror(m, node, fmt, ap);
	va_end(ap);
}

/* ---- host functions: options ---- */

const char *
filter_host_module_name(struct pf_module *m)
{
	return m->conf->name;
}

/* The node of option key (marked read), or NULL. */
static const struct pst_conf_node *
filter_option(struct pf_module *m, const char *key)
{
	if (key == NULL)
		return NULL;
	for (size_t i = 0; i < m->noptions; i++) {
		if (strcmp(m->options[i]->key, key) == 0) {
			m->option_read[i] = true;
			return m->options[i];
		}
	}
	return NULL;
}

/* The scalar text of option n, or NULL after reporting the wrong type
 * (what it should be: want). */
static const char *
filter_option_scalar(struct pf_module *m, const struct pst_conf_node *n,
		     const char *want)
{
	if (n->kind == PST_CONF_SCALAR && n->value != NULL)
		return n->value;
	filter_module_errorf(m, n, "option '%s' must be %s, not %s", n->key,
			     want,
			     n->kind == PST_CONF_LIST ? "a list" : "a block");
	return NULL;
}

int
filter_host_option_string(struct pf_module *m, const char *key,
			  const char **value_r)
{
	const struct pst_conf_node *n = filter_option(m, key);
	const char *v;

	if (n == NULL)
		return 0;
	v = filter_option_scalar(m, n, "a single value");
	if (v == NULL)
		return -1;
	*value_r = v;
	return 1;
}

int
filter_host_option_int(struct pf_module *m, const char *key, int64_t *value_r)
{
	const struct pst_conf_node *n = filter_option(m, key);
	const char *v;
	char *end;
	long long x;

	if (n == NULL)
		return 0;
	v = filter_option_scalar(m, n, "a whole number");
	if (v == NULL)
		return -1;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' ||
	    !((v[0] >= '0' && v[0] <= '9') || v[0] == '-')) {
		filter_module_errorf(m, n,
				     "option '%s' must be a whole number, "
				     "not '%s'",
				     key, v);
		return -1;
	}
	*value_r = x;
	return 1;
}

int
filter_host_option_size(struct pf_module *m, const char *key, uint64_t *value_r)
{
	const struct pst_conf_node *n = filter_option(m, key);
	const char *v;

	if (n == NULL)
		return 0;
	v = filter_option_scalar(m, n, "a size");
	if (v == NULL)
		return -1;
	if (pst_conf_parse_size(v, value_r) < 0) {
		filter_module_errorf(m, n,
				     "option '%s' must be a size such as "
				     "512k, 10M or 1G, not '%s'",
				     key, v);
		return -1;
	}
	return 1;
}

int
filter_host_option_duration(struct pf_module *m, const char *key,
			    uint64_t *ms_r)
{
	const struct pst_conf_node *n = filter_option(m, key);
	const char *v;

	if (n == NULL)
		return 0;
	v = filter_option_scalar(m, n, "a duration");
	if (v == NULL)
		return -1;
	if (pst_conf_parse_duration(v, ms_r) < 0) {
		filter_module_errorf(m, n,
				     "option '%s' must be a duration such as "
				     "500ms, 30s, 5min or 2h, not '%s'",
				     key, v);
		return -1;
	}
	return 1;
}

int
filter_host_option_bool(struct pf_module *m, const char *key, int *value_r)
{
	const struct pst_conf_node *n = filter_option(m, key);
	const char *v;
	bool b;

	if (n == NULL)
		return 0;
	v = filter_option_scalar(m, n, "yes or no");
	if (v == NULL)
		return -1;
	if (pst_conf_parse_bool(v, &b) < 0) {
		filter_module_errorf(m, n,
				     "option '%s' must be yes or no "
				     "(true/false, on/off), not '%s'",
				     key, v);
		return -1;
	}
	*value_r = b;
	return 1;
}

int
filter_host_option_list(struct pf_module *m, const char *key,
			const char *const **values_r, size_t *count_r)
{
	const struct pst_conf_node *n = filter_option(m, key);
	const struct pst_conf_node *item;
	const char **v;
	size_t count = 0;

	if (n == NULL)
		return 0;
	if (n->kind == PST_CONF_SCALAR && n->value != NULL) {
		count = 1;
	} else if (n->kind == PST_CONF_LIST) {
		for (item = n->child; item != NULL; item = item->next) {
			if (item->kind != PST_CONF_SCALAR ||
			    item->value == NULL) {
				filter_module_errorf(
					m, item,
					"option '%s' may hold only values",
					key);
				return -1;
			}
			count++;
		}
	} else {
		filter_module_errorf(m, n,
				     "option '%s' must be a value or a list "
				     "of values, not a block",
				     key);
		return -1;
	}
	v = pst_arena_calloc(m->arena, count + 1, sizeof(*v));
	if (v == NULL) {
		filter_module_errorf(m, n, "out of memory");
		return -1;
	}
	if (n->kind == PST_CONF_SCALAR) {
		v[0] = n->value;
	} else {
		size_t i = 0;

		for (item = n->child; item != NULL; item = item->next)
			v[i++] = item->value;
	}
	*values_r = v;
	*count_r = count;
	return 1;
}

void
filter_host_module_error(struct pf_module *m, const char *key, const char *fmt,
			 va_list ap)
{
	if (fmt == NULL)
		fmt = "error";
	filter_module_verror(m, filter_option_where(m, key), fmt, ap);
}

void
filter_host_module_set_data(struct pf_module *m, void *data)
{
	m->data = data;
}

void *
filter_host_module_data(struct pf_module *m)
{
	return m->data;
}

/* ---- loading ---- */

/* Find the filter's struct: dlopen + dlsym, or the built-in table. */
static int
filter_module_find(struct pf_module *m)
{
	const struct filter_conf_entry *e = m->conf;
	const struct pst_conf_node *where = filter_option_where(m, NULL);
	const char *err;
	void *sym;

	for (const struct pst_conf_node *n = e->node->child; n != NULL;
	     n = n->next)
		if (strcmp(n->key, "module") == 0)
			where = n;
	if (e->module == NULL) {
		m->def = filter_builtin_find(e->name);
		if (m->def == NULL) {
			filter_module_errorf(m, where,
					     "unknown built-in filter '%s' "
					     "(a filter from a shared object "
					     "needs module = \"/path.so\")",
					     e->name);
			return -1;
		}
		return 0;
	}
	m->dlhandle = dlopen(e->module, RTLD_NOW | RTLD_LOCAL);
	if (m->dlhandle == NULL) {
		err = dlerror();
		filter_module_errorf(m, where, "%s", err ? err : e->module);
		return -1;
	}
	dlerror();
	sym = dlsym(m->dlhandle, "postern_filter");
	if (sym == NULL) {
		filter_module_errorf(m, where,
				     "%s: no symbol postern_filter (not a "
				     "postern filter?)",
				     e->module);
		return -1;
	}
	m->def = sym;
	return 0;
}

/* The ABI check: version first (a struct of another version may have
 * another layout), then the size of what we read. */
static int
filter_module_check(struct pf_module *m)
{
	const struct filter_conf_entry *e = m->conf;
	const char *what = e->module ? e->module : e->name;
	const struct pst_conf_node *where = e->node;

	for (const struct pst_conf_node *n = e->node->child; n != NULL;
	     n = n->next)
		if (strcmp(n->key, "module") == 0)
			where = n;
	if (m->def->abi != POSTERN_FILTER_ABI) {
		filter_module_errorf(m, where,
				     "%s: ABI version %u, this postern speaks "
				     "%u",
				     what, m->def->abi, POSTERN_FILTER_ABI);
		return -1;
	}
	if (m->def->size < offsetof(struct postern_filter, spare)) {
		filter_module_errorf(m, where,
				     "%s: struct postern_filter of %u bytes, "
				     "at least %zu expected",
				     what, m->def->size,
				     offsetof(struct postern_filter, spare));
		return -1;
	}
	m->def_size = m->def->size < sizeof(struct postern_filter)
			      ? m->def->size
			      : (unsigned)sizeof(struct postern_filter);
	return 0;
}

static struct pf_module *
filter_module_new(struct filter_chain *chain, const struct filter_conf_entry *e,
		  unsigned index)
{
	struct pf_module *m = pst_arena_zalloc(chain->arena, sizeof(*m));
	size_t n = 0;

	if (m == NULL)
		return NULL;
	m->handle.host = &filter_host;
	m->conf = e;
	m->chain = chain;
	m->arena = chain->arena;
	m->index = index;
	for (const struct pst_conf_node *c = e->node->child; c != NULL;
	     c = c->next)
		if (!filter_host_key(c->key))
			n++;
	m->options = pst_arena_calloc(chain->arena, n + 1, sizeof(*m->options));
	m->option_read = pst_arena_calloc(chain->arena, n + 1, sizeof(bool));
	if (m->options == NULL || m->option_read == NULL)
		return NULL;
	for (const struct pst_conf_node *c = e->node->child; c != NULL;
	     c = c->next)
		if (!filter_host_key(c->key))
			m->options[m->noptions++] = c;
	return m;
}

/* Load, check and init one module; -1 with m->error. */
static int
filter_module_load(struct pf_module *m)
{
	if (filter_module_find(m) < 0 || filter_module_check(m) < 0)
		return -1;
	if (m->def->init != NULL && m->def->init(m) < 0) {
		/* No fini after a failed init: it set nothing up.  The
		 * filter's own error, if it gave one, comes first. */
		filter_module_errorf(m, m->conf->node, "init failed");
		return -1;
	}
	m->inited = true;
	if (m->error != NULL)
		return -1; /* an option of the wrong type */
	for (size_t i = 0; i < m->noptions; i++) {
		if (!m->option_read[i]) {
			filter_module_errorf(m, m->options[i],
					     "unknown option '%s'",
					     m->options[i]->key);
			return -1;
		}
	}
	return 0;
}

struct filter_chain *
filter_chain_new(struct pst_arena *arena, const struct filter_conf *conf,
		 const char **error_r)
{
	struct filter_chain *chain = pst_arena_zalloc(arena, sizeof(*chain));

	if (chain == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	chain->arena = arena;
	chain->conf = conf;
	for (size_t i = 0; i < conf->nentries && i < FILTER_MAX; i++) {
		struct pf_module *m = filter_module_new(
			chain, &conf->entries[i], (unsigned)i);

		if (m == NULL) {
			*error_r = "out of memory";
			filter_chain_free(&chain);
			return NULL;
		}
		chain->modules[chain->nmodules++] = m;
		if (filter_module_load(m) < 0) {
			*error_r = m->error;
			filter_chain_free(&chain);
			return NULL;
		}
		for (int s = 0; s < FILTER_STAGE__COUNT; s++)
			if (filter_module_has(m, (enum filter_stage)s))
				chain->has_stage[s] = true;
	}
	return chain;
}

void
filter_chain_free(struct filter_chain **chain_p)
{
	struct filter_chain *chain;

	if (chain_p == NULL || *chain_p == NULL)
		return;
	chain = *chain_p;
	*chain_p = NULL;
	if (chain->freed)
		return;
	chain->freed = true;
	/* In reverse: a later filter may rely on an earlier one. */
	for (size_t i = chain->nmodules; i-- > 0;) {
		struct pf_module *m = chain->modules[i];

		if (m->inited && m->def->fini != NULL)
			m->def->fini(m);
		m->inited = false;
		if (m->dlhandle != NULL)
			dlclose(m->dlhandle);
		m->dlhandle = NULL;
	}
}

size_t
filter_chain_length(const struct filter_chain *chain)
{
	return chain != NULL ? chain->nmodules : 0;
}

const struct filter_conf *
filter_chain_conf(const struct filter_chain *chain)
{
	return chain != NULL ? chain->conf : NULL;
}
