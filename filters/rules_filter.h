/*
 * rules_filter.h - the rules as a built-in filter: what rules_filter.c
 * (the stages, reload) and rules_env.c (the variables) share.
 */
#ifndef FILTERS_RULES_FILTER_H
#define FILTERS_RULES_FILTER_H

#include "filter_int.h"
#include "rules.h"

/* One call of the rules filter: the session as the rules see it. */
struct rules_call {
	struct pf_txn *t;
	const char *rcpt; /* at the rcpt stage: the recipient decided */
};

/* struct rules_env.get over a struct rules_call. */
int rules_filter_env_get(void *arg, enum rules_var var, const char *name,
			 struct pst_arena *arena, struct rules_value *out);

#endif
