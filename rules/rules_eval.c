/*
 * rules_eval.c - running the rules of one stage against an environment.
 *
 * Each (variable, argument) a rule reads has a slot; its value is asked
 * of the environment once per call and kept, with what the evaluation
 * derives from it lazily: an ASCII-lowercased copy (for contains) and
 * the prefilter's bitmap of literals present (one Aho-Corasick pass over
 * the body serves every regex that tests the body).  A regex whose
 * literal is absent is not run.  score and tags are the environment's
 * plus what rules of this call added, so a threshold rule sees the rules
 * before it.
 *
 * For a rule with strip-attachment, tests on values that say which MIME
 * part each element came from (attachment.*) look at every element,
 * not only up to the first that decides, and record the parts of the
 * elements that held: what made the condition true, outside any `not`.
 * An `and` that fails forgets what its operands recorded.
 *
 * Everything lives on the caller's arena; the set is only read, so many
 * threads may evaluate one set at once.
 */
#include "config.h" /* _GNU_SOURCE: memmem */

#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

struct slot_state {
	bool loaded;
	struct rules_value v;
	uint8_t **bits;	       /* per element: literals present, lazily */
	struct pst_str *lower; /* per element: lowercased copy, lazily */
};

struct vec {
	void *v;
	size_t n, cap;
};

struct rules_run {
	const struct rules_set *set;
	const struct rules_env *env;
	struct pst_arena *arena;
	unsigned flags;
	struct rules_matcher *m;
	bool no_matcher;
	struct slot_state *slots;
	double score;			/* added by this call */
	struct vec tags;		/* const char *: added by this call */
	struct vec actions, shadow;	/* struct rules_action_result */
	struct vec fired, shadow_fired; /* const char * */
	struct rules_trace *trace;
	size_t ntrace;
	struct pst_buf why;
	const struct rules_rule *rule;
	unsigned oflags;
	const char *flag_rule;
	struct rules_value derived; /* score / tags with this call's part */
	size_t bits_len;
	struct vec parts;   /* size_t: recorded for the current rule */
	bool parts_unknown; /* an attachment test held without parts */
	unsigned negated;   /* nesting of `not` around the test */
};

static void
flag(struct rules_run *run, unsigned f)
{
	if (run->flag_rule == NULL && run->rule != NULL &&
	    (f &
	     (RULES_F_REGEX_LIMIT | RULES_F_REGEX_ERROR | RULES_F_ENV_ERROR)))
		run->flag_rule = run->rule->name;
	run->oflags |= f;
}

static void *
vec_push(struct rules_run *run, struct vec *v, size_t size)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void *n = pst_arena_calloc(run->arena, cap, size);

		if (n == NULL) {
			flag(run, RULES_F_NOMEM);
			return NULL;
		}
		if (v->n)
			memcpy(n, v->v, v->n * size);
		v->v = n;
		v->cap = cap;
	}
	return (char *)v->v + size * v->n++;
}

struct pst_arena *
rules_run_arena(struct rules_run *run)
{
	return run->arena;
}

/* ---- values ---- */

static const struct pst_str *
el_str(const struct rules_value *v, size_t i)
{
	return v->list.str != NULL ? &v->list.str[i] : &v->one.str;
}

static double
el_num(const struct rules_value *v, size_t i)
{
	return v->list.num != NULL ? v->list.num[i] : v->one.num;
}

static bool
el_bool(const struct rules_value *v, size_t i)
{
	return v->list.b != NULL ? v->list.b[i] : v->one.b;
}

static const struct rules_ip *
el_ip(const struct rules_value *v, size_t i)
{
	return v->list.ip != NULL ? &v->list.ip[i] : &v->one.ip;
}

static void
load(struct rules_run *run, const struct rules_operand *op,
     struct slot_state *s)
{
	const struct rules_vardef *def = op->def;
	struct rules_value *v = &s->v;
	enum rules_type want = rules_var_type(def->var);
	int rc;

	s->loaded = true;
	memset(v, 0, sizeof(*v));
	v->type = want;
	rc = run->env->get(run->env->ctx, def->var, op->arg, run->arena, v);
	if (rc < 0 || v->type != want || (v->n > 1 && v->list.str == NULL)) {
		if (rc < 0 || v->type != want || v->n > 1)
			flag(run, RULES_F_ENV_ERROR);
		memset(v, 0, sizeof(*v));
		v->type = want;
	}
	if (!def->list && v->n > 1)
		v->n = 1;
	/* A single value the session does not have reads as its type's
	 * zero ("", none, 0, false); an absent address stays absent. */
	if (!def->list && v->n == 0) {
		switch (def->type) {
		case RULES_VT_STRING:
			rules_value_str(v, "", 0);
			break;
		case RULES_VT_RESULT:
			rules_value_str(v, "none", 4);
			break;
		case RULES_VT_NUMBER:
			rules_value_num(v, 0);
			break;
		case RULES_VT_BOOL:
			rules_value_bool(v, false);
			break;
		default:
			break;
		}
	}
	if (v->n > 0) {
		s->bits = pst_arena_calloc(run->arena, v->n, sizeof(*s->bits));
		s->lower =
			pst_arena_calloc(run->arena, v->n, sizeof(*s->lower));
		if (s->bits == NULL || s->lower == NULL)
			flag(run, RULES_F_NOMEM);
	}
}

static struct slot_state *
slot(struct rules_run *run, const struct rules_operand *op)
{
	struct slot_state *s = &run->slots[op->slot];

	if (!s->loaded)
		load(run, op, s);
	return s;
}

const struct rules_value *
rules_run_value(struct rules_run *run, const struct rules_operand *op)
{
	struct slot_state *s = slot(run, op);
	const struct rules_value *env = &s->v;
	struct rules_value *d = &run->derived;

	if (op->def->var == RULES_VAR_SCORE) {
		rules_value_num(d, (env->n ? el_num(env, 0) : 0) + run->score);
		return d;
	}
	if (op->def->var == RULES_VAR_TAGS && run->tags.n > 0) {
		size_t n = env->n + run->tags.n;
		struct pst_str *all =
			pst_arena_calloc(run->arena, n, sizeof(*all));
		const char **added = run->tags.v;

		if (all == NULL) {
			flag(run, RULES_F_NOMEM);
			return env;
		}
		for (size_t i = 0; i < env->n; i++)
			all[i] = *el_str(env, i);
		for (size_t i = 0; i < run->tags.n; i++)
			all[env->n + i] = pst_str_from_cstr(added[i]);
		rules_value_strs(d, all, n);
		return d;
	}
	return env;
}

/* The slot's own cache applies only to its own value (not to score or
 * tags with this call's additions). */
static struct slot_state *
cache_of(struct rules_run *run, const struct rules_operand *op,
	 const struct rules_value *v)
{
	struct slot_state *s = &run->slots[op->slot];

	return v == &s->v && s->bits != NULL && s->lower != NULL ? s : NULL;
}

static const struct pst_str *
lowered(struct rules_run *run, struct slot_state *s,
	const struct rules_value *v, size_t i)
{
	const struct pst_str *src = el_str(v, i);
	struct pst_str *dst;
	char *p;

	if (s != NULL && s->lower[i].p != NULL)
		return &s->lower[i];
	/* without a cache the copy is the caller's for this test only */
	dst = s != NULL ? &s->lower[i]
			: pst_arena_alloc(run->arena, sizeof(*dst));
	p = pst_arena_alloc(run->arena, src->len + 1);
	if (dst == NULL || p == NULL) {
		flag(run, RULES_F_NOMEM);
		return NULL;
	}
	for (size_t k = 0; k < src->len; k++) {
		char ch = src->p[k];

		p[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	p[src->len] = '\0';
	dst->p = p;
	dst->len = src->len;
	return dst;
}

static bool
contains(struct rules_run *run, struct slot_state *s,
	 const struct rules_value *v, size_t i, const char *needle, size_t nlen)
{
	const struct pst_str *hay;

	if (nlen == 0)
		return true;
	if (el_str(v, i)->len < nlen)
		return false;
	hay = lowered(run, s, v, i);
	return hay != NULL && memmem(hay->p, hay->len, needle, nlen) != NULL;
}

static bool
match(struct rules_run *run, struct slot_state *s, const struct rules_value *v,
      size_t i, const struct rules_regex *re)
{
	const struct pst_str *str = el_str(v, i);
	int rc;

	if (re->lit_id >= 0 && s != NULL && run->set->ac != NULL &&
	    !(run->flags & RULES_EVAL_NO_PREFILTER)) {
		uint8_t *bits = s->bits[i];

		if (bits == NULL) {
			bits = pst_arena_zalloc(run->arena, run->bits_len);
			if (bits != NULL) {
				rules_ac_scan(run->set->ac, str->p, str->len,
					      bits);
				s->bits[i] = bits;
			}
		}
		if (bits != NULL &&
		    !(bits[re->lit_id / 8] & (1u << (re->lit_id % 8))))
			return false;
	}
	if (run->m == NULL && !run->no_matcher) {
		run->m = rules_matcher_new(run->arena, run->set->match_limit,
					   run->set->depth_limit);
		run->no_matcher = run->m == NULL;
	}
	if (run->m == NULL) {
		flag(run, RULES_F_NOMEM);
		return false;
	}
	rc = rules_regex_match(re, run->m, str->p, str->len);
	if (rc == -1)
		flag(run, RULES_F_REGEX_LIMIT);
	else if (rc < -1)
		flag(run, RULES_F_REGEX_ERROR);
	return rc == 1;
}

static bool
ip_eq(const struct rules_ip *a, const struct rules_ip *b)
{
	return a->family == b->family &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* One element against the right side, before negation. */
static bool
pred(struct rules_run *run, const struct rules_test *t,
     const struct rules_value *v, struct slot_state *s, size_t i)
{
	const struct rules_value *r = NULL;

	if (t->rhs == RULES_RHS_VAR) {
		r = rules_run_value(run, &t->rvar);
		if (r->n == 0)
			return false;
	}
	switch (t->op) {
	case RULES_OP_TRUE:
		return el_bool(v, i);
	case RULES_OP_EQ:
		switch (v->type) {
		case RULES_T_STRING: {
			const struct pst_str *a = el_str(v, i);
			const struct pst_str *b =
				r != NULL ? el_str(r, 0) : &t->str;

			return rules_strcasecmp_len(a->p, a->len, b->p,
						    b->len) == 0;
		}
		case RULES_T_NUMBER:
			return el_num(v, i) ==
			       (r != NULL ? el_num(r, 0) : t->num);
		case RULES_T_BOOL:
			return el_bool(v, i) ==
			       (r != NULL ? el_bool(r, 0) : t->b);
		case RULES_T_IP:
			return ip_eq(el_ip(v, i),
				     r != NULL ? el_ip(r, 0) : &t->cidr.ip);
		}
		return false;
	case RULES_OP_MATCHES:
		if (t->rhs == RULES_RHS_REGEX)
			return match(run, s, v, i, t->re);
		for (size_t k = 0; k < t->list->n; k++) {
			if (match(run, s, v, i, t->list->res[k]))
				return true;
		}
		return false;
	case RULES_OP_CONTAINS:
		if (t->rhs == RULES_RHS_STRING)
			return contains(run, s, v, i, t->str.p, t->str.len);
		if (t->rhs == RULES_RHS_VAR) {
			const struct pst_str *n = lowered(run, NULL, r, 0);

			return n != NULL &&
			       contains(run, s, v, i, n->p, n->len);
		}
		for (size_t k = 0; k < t->list->n; k++) {
			if (contains(run, s, v, i, t->list->strs[k].p,
				     t->list->strs[k].len))
				return true;
		}
		return false;
	case RULES_OP_IN:
		if (t->rhs == RULES_RHS_CIDR)
			return rules_cidr_match(&t->cidr, el_ip(v, i));
		switch (v->type) {
		case RULES_T_STRING:
			return rules_list_has_str(t->list, el_str(v, i)->p,
						  el_str(v, i)->len);
		case RULES_T_NUMBER:
			return rules_list_has_num(t->list, el_num(v, i));
		case RULES_T_IP:
			return rules_list_has_ip(t->list, el_ip(v, i));
		default:
			return false;
		}
	case RULES_OP_LT:
		return el_num(v, i) < (r != NULL ? el_num(r, 0) : t->num);
	case RULES_OP_LE:
		return el_num(v, i) <= (r != NULL ? el_num(r, 0) : t->num);
	case RULES_OP_GT:
		return el_num(v, i) > (r != NULL ? el_num(r, 0) : t->num);
	case RULES_OP_GE:
		return el_num(v, i) >= (r != NULL ? el_num(r, 0) : t->num);
	}
	return false;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted, without duplicates (an archive's members all name its
 * part). */
const size_t *
rules_run_parts(struct rules_run *run, size_t *n_r, bool *unknown_r)
{
	size_t *out, n = 0;

	*n_r = 0;
	*unknown_r = run->parts_unknown;
	if (run->parts.n == 0)
		return NULL;
	out = pst_arena_calloc(run->arena, run->parts.n, sizeof(*out));
	if (out == NULL) {
		flag(run, RULES_F_NOMEM);
		return NULL;
	}
	memcpy(out, run->parts.v, run->parts.n * sizeof(*out));
	qsort(out, run->parts.n, sizeof(*out), cmp_size);
	for (size_t i = 0; i < run->parts.n; i++)
		if (n == 0 || out[n - 1] != out[i])
			out[n++] = out[i];
	*n_r = n;
	return out;
}

static void
record_part(struct rules_run *run, size_t part)
{
	size_t *slot = vec_push(run, &run->parts, sizeof(*slot));

	if (slot != NULL)
		*slot = part;
}

static bool
eval_test(struct rules_run *run, const struct rules_test *t)
{
	const struct rules_value *v = rules_run_value(run, &t->lhs);
	struct slot_state *s = cache_of(run, &t->lhs, v);
	bool all = t->quant == RULES_Q_ALL, result = all;
	bool record = run->rule != NULL && run->rule->wants_parts &&
		      run->negated % 2 == 0 && v->parts != NULL;
	size_t decisive = v->n, mark = run->parts.n;

	for (size_t i = 0; i < v->n && !(run->oflags & RULES_F_NOMEM); i++) {
		bool r = pred(run, t, v, s, i) != t->negate;

		if (record && r)
			record_part(run, v->parts[i]);
		if (r != all && decisive == v->n) {
			result = r;
			decisive = i;
			/* any: go on to find every element that holds */
			if (!record || all)
				break;
		}
	}
	if (!result)
		run->parts.n = mark;
	else if (run->rule != NULL && run->rule->wants_parts &&
		 run->negated % 2 == 0 && v->parts == NULL && v->n > 0 &&
		 strncmp(t->lhs.def->name, "attachment.", 11) == 0)
		run->parts_unknown = true;
	if (run->flags & RULES_EVAL_EXPLAIN) {
		struct pst_buf *b = &run->why;

		pst_buf_printf(b, "%s: %s (", t->text,
			       result ? "true" : "false");
		if (decisive < v->n)
			rules_value_show(b, v, decisive, RULES_SHOW_MAX);
		else if (v->n == 1)
			rules_value_show(b, v, 0, RULES_SHOW_MAX);
		else if (v->n == 0)
			pst_buf_append_cstr(b, t->lhs.def->list ? "no values"
								: "absent");
		else
			pst_buf_printf(b, "%zu values", v->n);
		pst_buf_append_cstr(b, ")\n");
	}
	return result;
}

static bool
eval_cond(struct rules_run *run, const struct rules_cond *c)
{
	switch (c->kind) {
	case RULES_C_TEST:
		return eval_test(run, c->test);
	case RULES_C_NOT: {
		bool r;

		run->negated++;
		r = !eval_cond(run, c->kids[0]);
		run->negated--;

		/* say it, or "x in y: false" reads as the reason a rule did
		 * not match */
		if ((run->flags & RULES_EVAL_EXPLAIN) && c->text != NULL)
			pst_buf_printf(&run->why, "%s: %s\n", c->text,
				       r ? "true" : "false");
		return r;
	}
	case RULES_C_AND: {
		size_t mark = run->parts.n;
		bool unknown = run->parts_unknown;

		for (size_t i = 0; i < c->n; i++) {
			if (!eval_cond(run, c->kids[i])) {
				run->parts.n = mark;
				run->parts_unknown = unknown;
				return false;
			}
		}
		return true;
	}
	case RULES_C_OR:
		for (size_t i = 0; i < c->n; i++) {
			if (eval_cond(run, c->kids[i]))
				return true;
		}
		return false;
	}
	return false;
}

/* ---- running a stage ---- */

/* Apply (or, for a shadow rule, record) a matched rule's actions.
 * Returns true when evaluation stops here. */
static bool
apply(struct rules_run *run, struct rules_outcome *out,
      const struct rules_rule *r)
{
	bool stop = false;
	const char **name;

	name = vec_push(run, r->shadow ? &run->shadow_fired : &run->fired,
			sizeof(*name));
	if (name != NULL)
		*name = r->name;
	for (size_t i = 0; i < r->nactions; i++) {
		const struct rules_action *a = &r->actions[i];
		struct rules_action_result res, *slot;

		if (rules_action_build(run, r, a, &res) < 0) {
			flag(run, RULES_F_NOMEM);
			return true;
		}
		if (r->shadow) {
			slot = vec_push(run, &run->shadow, sizeof(*slot));
			if (slot != NULL)
				*slot = res;
			continue;
		}
		if (rules_action_is_terminal(a->kind)) {
			struct rules_action_result *t =
				pst_arena_alloc(run->arena, sizeof(*t));

			if (t == NULL) {
				flag(run, RULES_F_NOMEM);
				return true;
			}
			*t = res;
			out->terminal = t;
			stop = true;
			continue;
		}
		if (a->kind == RULES_ACT_STOP) {
			stop = true;
			continue;
		}
		slot = vec_push(run, &run->actions, sizeof(*slot));
		if (slot == NULL)
			return true;
		*slot = res;
		if (a->kind == RULES_ACT_SCORE) {
			run->score += a->score;
		} else if (a->kind == RULES_ACT_TAG) {
			const char **tag =
				vec_push(run, &run->tags, sizeof(*tag));

			if (tag != NULL)
				*tag = a->tag;
		}
	}
	return stop;
}

int
rules_eval(const struct rules_set *set, enum rules_stage stage,
	   const struct rules_env *env, struct pst_arena *arena, unsigned flags,
	   struct rules_outcome *out)
{
	struct rules_run run;
	struct rules_rule *const *rules;
	size_t n;
	bool stopped = false;

	memset(out, 0, sizeof(*out));
	if ((unsigned)stage >= RULES_STAGE__COUNT)
		return 0;
	rules = set->stage_rules[stage];
	n = set->nstage[stage];
	memset(&run, 0, sizeof(run));
	run.set = set;
	run.env = env;
	run.arena = arena;
	run.flags = flags;
	run.bits_len = set->nlits / 8 + 1;
	run.slots =
		pst_arena_calloc(arena, set->nslots + 1, sizeof(*run.slots));
	if (flags & RULES_EVAL_EXPLAIN)
		run.trace = pst_arena_calloc(arena, n + 1, sizeof(*run.trace));
	if (run.slots == NULL ||
	    ((flags & RULES_EVAL_EXPLAIN) && run.trace == NULL)) {
		out->flags = RULES_F_NOMEM;
		return -1;
	}
	pst_buf_init(&run.why, 0);

	for (size_t i = 0; i < n; i++) {
		const struct rules_rule *r = rules[i];
		struct rules_trace *tr =
			run.trace != NULL ? &run.trace[i] : NULL;
		bool matched;

		if (tr != NULL) {
			tr->rule = r->name;
			tr->file = r->file;
			tr->line = r->line;
			tr->shadow = r->shadow;
			tr->why = "";
			run.ntrace = i + 1;
		}
		if (stopped)
			continue;
		run.rule = r;
		run.parts.n = 0;
		run.parts_unknown = false;
		pst_buf_reset(&run.why);
		matched = eval_cond(&run, r->cond);
		if (tr != NULL) {
			tr->evaluated = true;
			tr->matched = matched;
			if (run.why.len > 0) {
				/* drop the last newline */
				char *w = pst_arena_strndup(arena, run.why.data,
							    run.why.len - 1);

				if (w != NULL)
					tr->why = w;
			}
		}
		if (run.oflags & RULES_F_NOMEM)
			break;
		if (matched && apply(&run, out, r)) {
			stopped = true;
			run.oflags |= RULES_F_STOPPED;
		}
		if (run.oflags & RULES_F_NOMEM)
			break;
	}
	pst_buf_free(&run.why);

	out->actions = run.actions.v;
	out->nactions = run.actions.n;
	out->shadow = run.shadow.v;
	out->nshadow = run.shadow.n;
	out->fired = run.fired.v;
	out->nfired = run.fired.n;
	out->shadow_fired = run.shadow_fired.v;
	out->nshadow_fired = run.shadow_fired.n;
	out->score = run.score;
	out->flags = run.oflags;
	out->flag_rule = run.flag_rule;
	out->trace = run.trace;
	out->ntrace = run.ntrace;
	return (run.oflags & RULES_F_NOMEM) ? -1 : 0;
}
