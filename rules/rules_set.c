/*
 * rules_set.c - the life of a compiled rule set: references, and what
 * callers may ask about it (its rules, the stage each runs at, the
 * variables each stage reads).
 *
 * The set is immutable after rules_load_*(); the reference count is
 * atomic, so any thread may take or drop a reference.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

struct rules_set *
rules_set_ref(struct rules_set *set)
{
	if (set != NULL)
		atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
	return set;
}

void
rules_set_unref(struct rules_set **set_p)
{
	struct rules_set *set;

	if (set_p == NULL || *set_p == NULL)
		return;
	set = *set_p;
	*set_p = NULL;
	/* release: our reads of the set happen before the free; acquire in
	 * the thread that frees */
	if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1)
		return;
	pst_arena_free(&set->arena);
	free(set);
}

size_t
rules_set_count(const struct rules_set *set)
{
	return set->nrules;
}

static void
rule_info(const struct rules_rule *r, struct rules_rule_info *info_r)
{
	info_r->name = r->name;
	info_r->file = r->file;
	info_r->line = r->line;
	info_r->stage = r->stage;
	info_r->shadow = r->shadow;
}

int
rules_set_rule(const struct rules_set *set, size_t i,
	       struct rules_rule_info *info_r)
{
	if (i >= set->nrules)
		return -1;
	rule_info(set->rules[i], info_r);
	return 0;
}

int
rules_set_find(const struct rules_set *set, const char *name,
	       struct rules_rule_info *info_r)
{
	for (size_t i = 0; i < set->nrules; i++) {
		if (strcmp(set->rules[i]->name, name) == 0) {
			rule_info(set->rules[i], info_r);
			return 0;
		}
	}
	return -1;
}

size_t
rules_set_stage_count(const struct rules_set *set, enum rules_stage stage)
{
	return (unsigned)stage < RULES_STAGE__COUNT ? set->nstage[stage] : 0;
}

uint64_t
rules_set_vars(const struct rules_set *set, enum rules_stage stage)
{
	return (unsigned)stage < RULES_STAGE__COUNT ? set->stage_vars[stage]
						    : 0;
}

size_t
rules_set_list_count(const struct rules_set *set)
{
	return set->nlists;
}

size_t
rules_set_regex_count(const struct rules_set *set, size_t *no_literal_r)
{
	size_t n = 0, none = 0;

	for (const struct rules_regex *re = set->regexes; re != NULL;
	     re = re->next) {
		n++;
		none += re->lit_id < 0;
	}
	if (no_literal_r != NULL)
		*no_literal_r = none;
	return n;
}
