/*
 * builtin.c - the registry of filters compiled into postern.
 *
 * A built-in filter is the same struct postern_filter a shared object
 * exports; `filter NAME { ... }` without a module line names one.  The
 * filters themselves (spf, dkim, rules, ...) register from the program's
 * start-up, before the configuration is loaded.
 *
 * Not thread-safe: register before any thread starts; lookups happen
 * while a configuration is loaded, on one thread.
 */
#include "config.h"

#include <string.h>

#include "filter_int.h"

/* Room for every built-in postern will have, with a margin. */
#define FILTER_BUILTIN_MAX 32

static const struct postern_filter *builtins[FILTER_BUILTIN_MAX];
static size_t nbuiltins;

void
filter_builtin_register(const struct postern_filter *f)
{
	if (f == NULL || f->name == NULL)
		return;
	for (size_t i = 0; i < nbuiltins; i++) {
		if (strcmp(builtins[i]->name, f->name) == 0) {
			builtins[i] = f; /* the last registration wins */
			return;
		}
	}
	if (nbuiltins < FILTER_BUILTIN_MAX)
		builtins[nbuiltins++] = f;
}

const struct postern_filter *
filter_builtin_find(const char *name)
{
	for (size_t i = 0; i < nbuiltins; i++)
		if (strcmp(builtins[i]->name, name) == 0)
			return builtins[i];
	return NULL;
}
