/*
 * rules_operand.c - the tests of conditions: a variable, an operator and
 * an operand, checked as they are read (unknown variables with a hint,
 * operators the variable's type has no use for, values a result never
 * takes, ranges where one address belongs, regexes PCRE2 refuses), and
 * the texts of actions with their {variables}.  Part of the parser: see
 * rules_parse.c for the grammar and rules_parse.h for what they share.
 */
#include "config.h"

#include <string.h>

#include "rules_parse.h"

/* ---- variables ---- */

bool
rules_operand_header_ok(const char *s, size_t len)
{
	if (len == 0 || len > 76)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 32 || ch >= 127 || ch == ':')
			return false;
	}
	return true;
}

static bool
key_ok(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 32 || ch >= 127 || ch == '{' || ch == '}')
			return false;
	}
	return true;
}

static void
rule_uses(struct parser *p, const struct rules_operand *op)
{
	if (p->rule == NULL || op->def == NULL)
		return;
	p->rule->vars |= UINT64_C(1) << op->def->var;
	if (op->def->var == RULES_VAR_SCORE)
		p->rule->reads_score = true;
}

/* Resolve (def, arg) into op: check the argument, intern the slot. */
static int
operand_bind(struct parser *p, struct rules_operand *op,
	     const struct rules_vardef *def, const char *arg, size_t arglen,
	     const struct rules_loc *argloc)
{
	op->def = def;
	op->arg = NULL;
	if (def->has_arg) {
		bool ok = def->var == RULES_VAR_RESULT
				  ? key_ok(arg, arglen)
				  : rules_operand_header_ok(arg, arglen);

		if (!ok)
			return rules_error(
				p->c, argloc,
				def->var == RULES_VAR_RESULT
					? "keys are printable, without blanks"
					: "header names are printable ASCII, "
					  "without blanks or ':'",
				"bad %s '%s'",
				def->var == RULES_VAR_RESULT ? "result key"
							     : "header name",
				rules_show(p->c->tmp, arg, arglen));
		op->arg = set_strndup(p, arg, arglen);
		if (op->arg == NULL)
			return -1;
	}
	if (rules_var_slot(p->c, op) < 0)
		return -1;
	rule_uses(p, op);
	return 0;
}

/* "unknown variable" with the best hint there is. */
static int
unknown_var(struct parser *p, const struct rules_loc *loc, const char *name,
	    size_t len, const char *what)
{
	const char *s = rules_var_suggest(name, len);
	const char *hint =
		s != NULL ? rules_parse_printf(p, "did you mean %s?", s)
			  : "see VARIABLES in postern-rules(5)";

	return rules_error(p->c, loc, hint, "unknown variable '%s'%s",
			   rules_show(p->c->tmp, name, len), what);
}

/* A variable where a test needs one: NAME, or NAME "arg".  -1 after a
 * syntax error; -2 when only the name is unknown (the parse can go on). */
static int
parse_var(struct parser *p, struct rules_operand *op, struct rules_token *t)
{
	const struct rules_vardef *def;
	struct rules_token arg;

	take(p, t);
	if (t->type != TK_WORD)
		return rules_parse_syntax(p, t, NULL, "expected a variable");
	/* "score" is both: a variable here */
	if (word_index(t, rules_parse_action_words) >= 0 &&
	    rules_var_find(t->val.p, t->val.len) == NULL)
		return rules_error(
			p->c, &t->loc, "a rule is `when CONDITION ACTION...`",
			"expected a condition, found the action '%s'",
			word_str(p, t));
	if (t->val.len > 7 && memcmp(t->val.p, "result.", 7) == 0) {
		struct rules_loc at = t->loc;

		at.off += 7;
		at.col += 7;
		at.len = (unsigned)(t->val.len - 7);
		return operand_bind(p, op, rules_var_def(RULES_VAR_RESULT),
				    t->val.p + 7, t->val.len - 7, &at);
	}
	def = rules_var_find(t->val.p, t->val.len);
	if (def == NULL) {
		unknown_var(p, &t->loc, t->val.p, t->val.len, "");
		return -2;
	}
	if (!def->has_arg)
		return operand_bind(p, op, def, NULL, 0, NULL);
	take(p, &arg);
	if (arg.type != TK_STRING)
		return rules_parse_syntax(
			p, &arg,
			def->var == RULES_VAR_RESULT
				? "write result \"key\""
				: rules_parse_printf(p, "write %s \"Subject\"",
						     def->name),
			"expected the %s after %s",
			def->var == RULES_VAR_RESULT ? "key" : "header name",
			def->name);
	return operand_bind(p, op, def, arg.val.p, arg.val.len, &arg.loc);
}

/* ---- operands ---- */

static bool
type_compatible(enum rules_vtype a, enum rules_vtype b)
{
	if (a == RULES_VT_RESULT)
		a = RULES_VT_STRING;
	if (b == RULES_VT_RESULT)
		b = RULES_VT_STRING;
	return a == b || a == RULES_VT_UNKNOWN || b == RULES_VT_UNKNOWN;
}

/* A variable on the right side: one value of the left side's type. */
static int
rhs_var(struct parser *p, struct rules_test *test)
{
	struct rules_token t;
	const struct rules_vardef *l = test->lhs.def;

	if (parse_var(p, &test->rvar, &t) < 0)
		return -1;
	test->rhs = RULES_RHS_VAR;
	if (test->rvar.def->list)
		return rules_error(p->c, &t.loc,
				   "compare with one value, or test the list "
				   "on the left",
				   "'%s' is a list; the right side must be a "
				   "single value",
				   test->rvar.def->name);
	if (!type_compatible(l->type, test->rvar.def->type))
		return rules_error(p->c, &t.loc, NULL,
				   "cannot compare '%s' (%s) with '%s' (%s)",
				   l->name, rules_vtype_name(l->type),
				   test->rvar.def->name,
				   rules_vtype_name(test->rvar.def->type));
	return 0;
}

/* A bare word on the right of a string test: a variable, or a missing
 * pair of quotes. */
static int
bare_word(struct parser *p, struct rules_test *test)
{
	const struct rules_token *t = peek(p);
	const char *s;

	if (rules_var_find(t->val.p, t->val.len) != NULL ||
	    (t->val.len > 7 && memcmp(t->val.p, "result.", 7) == 0))
		return rhs_var(p, test);
	s = rules_var_suggest(t->val.p, t->val.len);
	return rules_error(
		p->c, &t->loc,
		s != NULL
			? rules_parse_printf(p,
					     "a string is written \"%s\"; "
					     "or did you mean %s?",
					     word_str(p, t), s)
			: rules_parse_printf(p, "write \"%s\"", word_str(p, t)),
		"expected a quoted string, found '%s'", word_str(p, t));
}

static int
check_result_value(struct parser *p, const struct rules_vardef *def,
		   const struct rules_token *t, const char *v, size_t len)
{
	const char *s;
	struct pst_buf b;
	const char *hint;

	for (size_t i = 0; def->domain[i] != NULL; i++) {
		if (rules_strcasecmp_len(v, len, def->domain[i],
					 strlen(def->domain[i])) == 0)
			return 0;
	}
	s = rules_suggest(v, len, def->domain);
	if (s != NULL) {
		hint = rules_parse_printf(p, "did you mean %s?", s);
	} else {
		pst_buf_init(&b, 0);
		pst_buf_printf(&b, "%s is one of:", def->name);
		for (size_t i = 0; def->domain[i] != NULL; i++)
			pst_buf_printf(&b, "%s %s", i ? "," : "",
				       def->domain[i]);
		hint = pst_arena_strdup(p->c->tmp, b.data);
		pst_buf_free(&b);
	}
	return rules_error(p->c, &t->loc, hint, "'%s' is never a value of %s",
			   rules_show(p->c->tmp, v, len), def->name);
}

/* { ... } after in/matches/contains: an inline list, checked now. */
static int
inline_list(struct parser *p, struct rules_test *test)
{
	struct rules_token t;
	struct rules_list *list;

	list = pst_arena_zalloc(p->c->set->arena, sizeof(*list));
	if (list == NULL)
		return rules_oom(p->c);
	take(p, &t);
	list->loc = t.loc;
	if (rules_parse_items(p, list) < 0)
		return -1;
	test->rhs = RULES_RHS_LIST;
	test->list = list;
	return 0;
}

static int
list_ref(struct parser *p, struct rules_test *test)
{
	struct rules_token t;
	struct rules_compiler *c = p->c;

	take(p, &t);
	test->rhs = RULES_RHS_LIST;
	test->list_ref = set_strndup(p, t.val.p, t.val.len);
	test->list_loc = t.loc;
	if (test->list_ref == NULL)
		return -1;
	if (c->nlist_refs == c->list_refs_cap) {
		size_t cap = c->list_refs_cap ? c->list_refs_cap * 2 : 16;
		struct rules_test **n;

		n = pst_arena_calloc(c->tmp, cap, sizeof(*n));
		if (n == NULL)
			return rules_oom(c);
		if (c->nlist_refs)
			memcpy(n, c->list_refs, c->nlist_refs * sizeof(*n));
		c->list_refs = n;
		c->list_refs_cap = cap;
	}
	c->list_refs[c->nlist_refs++] = test;
	return 0;
}

/* Compile a regex token; NULL after an error (reported). */
struct rules_regex *
rules_operand_regex(struct parser *p, const struct rules_token *tok)
{
	const struct rules_token t = *tok;
	struct rules_regex *re;
	const char *why = NULL;
	size_t erroff = 0;

	re = pst_arena_zalloc(p->c->set->arena, sizeof(*re));
	if (re == NULL) {
		rules_oom(p->c);
		return NULL;
	}
	if (rules_regex_compile(p->c->set->arena, t.val.p, t.val.len,
				t.re_flags, re, &why, &erroff) < 0) {
		struct rules_loc at = t.loc;
		unsigned col = t.loc.col + 1;

		for (size_t i = 0; i < erroff && i < t.val.len; i++)
			col += ((unsigned char)t.val.p[i] & 0xc0) != 0x80;
		at.off = t.loc.off + 1 + erroff;
		at.col = col;
		at.len = 1;
		rules_error(p->c, &at, NULL, "bad regex: %s", why);
		return NULL;
	}
	re->text = set_strndup(p, t.raw.p, t.raw.len);
	if (re->text == NULL)
		return NULL;
	*p->c->regex_tail = re;
	p->c->regex_tail = &re->next;
	return re;
}

static int
rhs_regex(struct parser *p, struct rules_test *test)
{
	struct rules_token t;

	take(p, &t);
	test->re = rules_operand_regex(p, &t);
	test->rhs = RULES_RHS_REGEX;
	return test->re != NULL ? 0 : -1;
}

static const char *
op_name(enum rules_op op)
{
	switch (op) {
	case RULES_OP_MATCHES:
		return "matches";
	case RULES_OP_CONTAINS:
		return "contains";
	case RULES_OP_IN:
		return "in";
	case RULES_OP_LT:
		return "<";
	case RULES_OP_LE:
		return "<=";
	case RULES_OP_GT:
		return ">";
	case RULES_OP_GE:
		return ">=";
	default:
		return "is";
	}
}

/* The operand of op; the operator token is at opt (for messages). */
static int
parse_rhs(struct parser *p, struct rules_test *test,
	  const struct rules_token *opt)
{
	const struct rules_vardef *l = test->lhs.def;
	const struct rules_token *t = peek(p);
	struct rules_token tok;

	switch (test->op) {
	case RULES_OP_TRUE:
		return 0;
	case RULES_OP_MATCHES:
		if (t->type == TK_REGEX)
			return rhs_regex(p, test);
		if (t->type == TK_LISTREF)
			return list_ref(p, test);
		if (t->type == TK_LBRACE)
			return inline_list(p, test);
		return rules_parse_syntax(
			p, t,
			t->type == TK_STRING
				? "write /.../, or use contains for a "
				  "plain substring"
				: NULL,
			"expected a /regex/ after matches");
	case RULES_OP_CONTAINS:
		if (t->type == TK_STRING) {
			char *low;

			take(p, &tok);
			/* the evaluator searches a lowercased copy */
			low = set_strndup(p, tok.val.p, tok.val.len);
			if (low == NULL)
				return -1;
			for (size_t i = 0; i < tok.val.len; i++) {
				if (low[i] >= 'A' && low[i] <= 'Z')
					low[i] = (char)(low[i] - 'A' + 'a');
			}
			test->rhs = RULES_RHS_STRING;
			test->str.p = low;
			test->str.len = tok.val.len;
			return 0;
		}
		if (t->type == TK_LISTREF)
			return list_ref(p, test);
		if (t->type == TK_LBRACE)
			return inline_list(p, test);
		if (t->type == TK_WORD)
			return bare_word(p, test);
		return rules_parse_syntax(p, t, NULL,
					  "expected a string after contains");
	case RULES_OP_IN:
		if (t->type == TK_LISTREF)
			return list_ref(p, test);
		if (t->type == TK_LBRACE)
			return inline_list(p, test);
		if (t->type == TK_ADDRESS &&
		    (l->type == RULES_VT_IP || l->type == RULES_VT_UNKNOWN)) {
			take(p, &tok);
			test->rhs = RULES_RHS_CIDR;
			test->cidr = tok.cidr;
			return 0;
		}
		if (t->type == TK_ADDRESS)
			return rules_error(p->c, &t->loc, NULL,
					   "'%s' is %s; only an IP address "
					   "can be in an address range",
					   l->name, rules_vtype_name(l->type));
		return rules_parse_syntax(
			p, t, "write in @name, in { ... }, or in 10.0.0.0/8",
			"expected a list after in");
	case RULES_OP_LT:
	case RULES_OP_LE:
	case RULES_OP_GT:
	case RULES_OP_GE:
		if (t->type == TK_NUMBER) {
			take(p, &tok);
			test->rhs = RULES_RHS_NUMBER;
			test->num = tok.num;
			return 0;
		}
		if (t->type == TK_WORD)
			return rhs_var(p, test);
		return rules_parse_syntax(
			p, t,
			t->type == TK_STRING
				? "numbers and sizes (10M) are written "
				  "without quotes"
				: NULL,
			"expected a number after %s", op_name(test->op));
	case RULES_OP_EQ:
		break;
	}

	/* is / == / != */
	switch (l->type) {
	case RULES_VT_UNKNOWN:
		take(p, &tok);
		return 0;
	case RULES_VT_STRING:
		if (t->type == TK_STRING)
			break;
		if (t->type == TK_WORD)
			return bare_word(p, test);
		return rules_parse_syntax(
			p, t,
			t->type == TK_NUMBER || t->type == TK_ADDRESS
				? rules_parse_printf(p,
						     "'%s' is a string: write "
						     "\"%s\"",
						     l->name,
						     rules_show(p->c->tmp,
								t->raw.p,
								t->raw.len))
				: NULL,
			"expected a quoted string after %s",
			opt->type == TK_WORD ? "is" : "==");
	case RULES_VT_RESULT:
		if (t->type == TK_WORD &&
		    rules_var_find(t->val.p, t->val.len) != NULL)
			return rhs_var(p, test);
		if (t->type != TK_STRING && t->type != TK_WORD)
			return rules_parse_syntax(
				p, t,
				rules_parse_printf(p, "%s is one of: %s, ...",
						   l->name, l->domain[0]),
				"expected a value of %s", l->name);
		take(p, &tok);
		test->rhs = RULES_RHS_STRING;
		test->str.p = set_strndup(p, tok.val.p, tok.val.len);
		test->str.len = tok.val.len;
		if (test->str.p == NULL)
			return -1;
		return check_result_value(p, l, &tok, tok.val.p, tok.val.len);
	case RULES_VT_NUMBER:
		if (t->type == TK_NUMBER) {
			take(p, &tok);
			test->rhs = RULES_RHS_NUMBER;
			test->num = tok.num;
			return 0;
		}
		if (t->type == TK_WORD)
			return rhs_var(p, test);
		return rules_parse_syntax(
			p, t,
			t->type == TK_STRING
				? "numbers and sizes (10M) are written "
				  "without quotes"
				: NULL,
			"'%s' is a number: expected a number", l->name);
	case RULES_VT_BOOL:
		if (rules_tok_is(t, "true") || rules_tok_is(t, "false")) {
			take(p, &tok);
			test->rhs = RULES_RHS_BOOL;
			test->b = rules_tok_is(&tok, "true");
			return 0;
		}
		if (t->type == TK_WORD &&
		    rules_var_find(t->val.p, t->val.len) != NULL)
			return rhs_var(p, test);
		return rules_parse_syntax(p, t, NULL,
					  "'%s' is true or false: expected "
					  "true or false",
					  l->name);
	case RULES_VT_IP:
		if (t->type == TK_ADDRESS && !t->prefix) {
			take(p, &tok);
			test->rhs = RULES_RHS_IP;
			test->cidr = tok.cidr;
			return 0;
		}
		if (t->type == TK_ADDRESS)
			return rules_error(
				p->c, &t->loc,
				rules_parse_printf(
					p, "write `%s in %s`", l->name,
					rules_show(p->c->tmp, t->raw.p,
						   t->raw.len)),
				"'%s' is a range, not one address",
				rules_show(p->c->tmp, t->raw.p, t->raw.len));
		if (t->type == TK_WORD &&
		    rules_var_find(t->val.p, t->val.len) != NULL)
			return rhs_var(p, test);
		return rules_parse_syntax(
			p, t,
			t->type == TK_STRING
				? "addresses are written without quotes"
				: NULL,
			"'%s' is an IP address: expected an address", l->name);
	}
	take(p, &tok);
	test->rhs = RULES_RHS_STRING;
	test->str.p = set_strndup(p, tok.val.p, tok.val.len);
	test->str.len = tok.val.len;
	return test->str.p != NULL ? 0 : -1;
}

/* Does op make sense for the left side's type? */
static int
check_op(struct parser *p, const struct rules_test *test,
	 const struct rules_token *opt)
{
	const struct rules_vardef *l = test->lhs.def;
	const char *need = NULL, *hint = NULL;

	switch (test->op) {
	case RULES_OP_MATCHES:
	case RULES_OP_CONTAINS:
		if (l->type != RULES_VT_STRING) {
			need = "a string";
			hint = l->type == RULES_VT_NUMBER
				       ? "compare numbers with <, <=, >, >= "
					 "or is"
			       : l->type == RULES_VT_RESULT
				       ? rules_parse_printf(
						 p,
						 "write `%s is %s` or "
						 "`%s in { ... }`",
						 l->name, l->domain[0], l->name)
			       : l->type == RULES_VT_IP
				       ? "test ranges with `client.ip in "
					 "192.0.2.0/24`"
				       : NULL;
		}
		break;
	case RULES_OP_LT:
	case RULES_OP_LE:
	case RULES_OP_GT:
	case RULES_OP_GE:
		if (l->type != RULES_VT_NUMBER) {
			need = "a number";
			hint = l->type == RULES_VT_IP
				       ? "test ranges with `client.ip in "
					 "192.0.2.0/24`"
				       : NULL;
		}
		break;
	case RULES_OP_IN:
		if (l->type == RULES_VT_BOOL) {
			need = "a string, number or address";
			hint = rules_parse_printf(p, "write `%s` or `not %s`",
						  l->name, l->name);
		}
		break;
	case RULES_OP_TRUE:
	case RULES_OP_EQ:
		break;
	}
	if (need == NULL || l->type == RULES_VT_UNKNOWN)
		return 0;
	return rules_error(p->c, &opt->loc, hint, "'%s' is %s: '%s' needs %s",
			   l->name, rules_vtype_name(l->type),
			   rules_show(p->c->tmp, opt->raw.p, opt->raw.len),
			   need);
}

static struct rules_cond *
new_test_cond(struct parser *p, struct rules_test *test)
{
	struct rules_cond *cond =
		pst_arena_zalloc(p->c->set->arena, sizeof(*cond));

	if (cond == NULL) {
		rules_oom(p->c);
		return NULL;
	}
	cond->kind = RULES_C_TEST;
	cond->test = test;
	return cond;
}

struct rules_cond *
rules_operand_test(struct parser *p)
{
	struct rules_test *test;
	struct rules_token qt, vt, opt;
	const struct rules_token *t;
	size_t start = peek(p)->loc.off;
	bool have_q = false;
	int rc;
	static const struct rules_vardef unknown = {
		"?",
		RULES_VAR_RESULT,
		RULES_VT_UNKNOWN,
		false,
		false,
		RULES_STAGE_MESSAGE,
		NULL,
		NULL,
	};
	int bad = 0;

	test = pst_arena_zalloc(p->c->set->arena, sizeof(*test));
	if (test == NULL) {
		rules_oom(p->c);
		return NULL;
	}
	if (peek_is(p, "any") || peek_is(p, "all")) {
		take(p, &qt);
		have_q = true;
		test->quant =
			rules_tok_is(&qt, "any") ? RULES_Q_ANY : RULES_Q_ALL;
	}
	rc = parse_var(p, &test->lhs, &vt);
	if (rc < 0) {
		/* Carry on with the test's shape, without types, only when
		 * the variable name itself was the problem. */
		if (rc != -2 || p->c->stopped)
			return NULL;
		if (peek(p)->type == TK_STRING) {
			struct rules_token skip;

			take(p, &skip);
		}
		test->lhs.def = &unknown;
		bad = -1;
	}
	if (have_q && !test->lhs.def->list &&
	    test->lhs.def->type != RULES_VT_UNKNOWN)
		bad = rules_error(
			p->c, &qt.loc,
			rules_parse_printf(p, "drop '%s'", word_str(p, &qt)),
			"'%s' needs a list, and %s has one value",
			word_str(p, &qt), test->lhs.def->name);

	t = peek(p);
	opt = *t;
	if (t->type == TK_EQ || rules_tok_is(t, "is")) {
		take(p, &opt);
		test->op = RULES_OP_EQ;
		if (rules_tok_is(&opt, "is") && peek_is(p, "not")) {
			struct rules_token n;

			take(p, &n);
			test->negate = true;
		}
	} else if (t->type == TK_NE) {
		take(p, &opt);
		test->op = RULES_OP_EQ;
		test->negate = true;
	} else if (rules_tok_is(t, "not")) {
		struct rules_token op2;

		take(p, &opt);
		test->negate = true;
		t = peek(p);
		if (!rules_tok_is(t, "matches") &&
		    !rules_tok_is(t, "contains") && !rules_tok_is(t, "in")) {
			rules_parse_syntax(
				p, t,
				rules_parse_printf(
					p,
					"to negate a whole test, write "
					"`not %s ...`",
					test->lhs.def->name),
				"expected matches, contains or in after 'not'");
			return NULL;
		}
		take(p, &op2);
		/* the operator is "not in": point at both words */
		if (op2.loc.line == opt.loc.line)
			opt.loc.len = (unsigned)(op2.loc.off + op2.loc.len -
						 opt.loc.off);
		opt.val = op2.val;
		opt.raw = op2.raw;
	} else if (rules_tok_is(t, "matches") || rules_tok_is(t, "contains") ||
		   rules_tok_is(t, "in") || t->type == TK_LT ||
		   t->type == TK_LE || t->type == TK_GT || t->type == TK_GE) {
		take(p, &opt);
	} else if (test->lhs.def->type == RULES_VT_BOOL ||
		   (test->lhs.def->type == RULES_VT_UNKNOWN &&
		    (rules_tok_is(t, "and") || rules_tok_is(t, "or") ||
		     t->type == TK_RPAREN))) {
		test->op = RULES_OP_TRUE;
		goto done;
	} else {
		rules_parse_syntax(
			p, t,
			"operators are is, ==, !=, matches, contains, in, <, "
			"<=, >, >=",
			"expected an operator after %s", test->lhs.def->name);
		return NULL;
	}
	if (rules_tok_is(&opt, "matches"))
		test->op = RULES_OP_MATCHES;
	else if (rules_tok_is(&opt, "contains"))
		test->op = RULES_OP_CONTAINS;
	else if (rules_tok_is(&opt, "in"))
		test->op = RULES_OP_IN;
	else if (opt.type == TK_LT)
		test->op = RULES_OP_LT;
	else if (opt.type == TK_LE)
		test->op = RULES_OP_LE;
	else if (opt.type == TK_GT)
		test->op = RULES_OP_GT;
	else if (opt.type == TK_GE)
		test->op = RULES_OP_GE;

	if (check_op(p, test, &opt) < 0) {
		/* the operand is still read, to keep the parse in step */
		bad = -1;
		test->lhs.def = &unknown;
	}
	if (test->negate && test->lhs.def->list &&
	    test->quant == RULES_Q_IMPLICIT) {
		const char *v = test->lhs.def->name;
		const char *o =
			test->op == RULES_OP_EQ ? "is" : op_name(test->op);

		bad = rules_error(
			p->c, &opt.loc,
			rules_parse_printf(
				p,
				"write `not %s %s ...` (none of them) or "
				"`any %s %s%s ...` (at least one is not)",
				v, o, v, test->op == RULES_OP_EQ ? "" : "not ",
				test->op == RULES_OP_EQ ? "!=" : o),
			"'%s' is a list: say whether none or only some of its "
			"values must not match",
			v);
	}
	if (parse_rhs(p, test, &opt) < 0)
		return NULL;
done:
	test->text = rules_parse_source(p, start);
	/* A mistake that left the parse in step: go on, to report the
	 * rule's other mistakes; the set will not be built. */
	if (bad < 0)
		return new_test_cond(p, test);
	if (test->rhs == RULES_RHS_LIST && test->list != NULL &&
	    rules_list_check(p->c, test->list, test, NULL) < 0)
		return NULL;
	return new_test_cond(p, test);
}

/* ---- texts with {variables} ---- */

static int
text_var(struct parser *p, struct rules_seg *seg, const char *name, size_t len,
	 const struct rules_loc *at)
{
	const struct rules_vardef *def;

	if (len == 4 && memcmp(name, "rule", 4) == 0) {
		seg->rule = true;
		return 0;
	}
	if (len > 7 && memcmp(name, "header.", 7) == 0 &&
	    rules_var_find(name, len) == NULL)
		return operand_bind(p, &seg->var,
				    rules_var_def(RULES_VAR_HEADER), name + 7,
				    len - 7, at);
	if (len > 7 && memcmp(name, "result.", 7) == 0)
		return operand_bind(p, &seg->var,
				    rules_var_def(RULES_VAR_RESULT), name + 7,
				    len - 7, at);
	def = rules_var_find(name, len);
	if (def == NULL)
		return unknown_var(p, at, name, len, " in the text");
	if (def->has_arg)
		return rules_error(p->c, at,
				   def->var == RULES_VAR_RESULT
					   ? "write {result.KEY}"
					   : "write {header.Subject}",
				   "{%s} needs a name", def->name);
	return operand_bind(p, &seg->var, def, NULL, 0, NULL);
}

/* Split a string token into literal pieces and {variables}.  Works on
 * the source between the quotes, so a message can point into it. */
int
rules_operand_text(struct parser *p, const struct rules_token *t,
		   struct rules_text *out)
{
	const char *raw = t->inner.p;
	size_t len = t->inner.len, i = 0, nseg = 0;
	unsigned col = t->inner_col;
	struct rules_seg *segs;
	struct pst_buf lit;
	int rc = 0;

	/* at most one literal and one variable per '{' */
	segs = pst_arena_calloc(p->c->set->arena, len + 1, sizeof(*segs));
	if (segs == NULL)
		return rules_oom(p->c);
	pst_buf_init(&lit, 0);
	while (i < len) {
		unsigned char ch = (unsigned char)raw[i];
		struct rules_loc at = { p->file, t->inner_off + i, t->loc.line,
					col, 1 };
		size_t j;

		if (ch == '\\' && i + 1 < len) {
			char e = raw[i + 1], v = e;
			size_t skip = 2;

			if (e == 'n')
				v = '\n';
			else if (e == 't')
				v = '\t';
			else if (e == 'r')
				v = '\r';
			else if (e == 'x' && i + 3 < len) {
				unsigned hi = (unsigned char)raw[i + 2],
					 lo = (unsigned char)raw[i + 3];

				hi = hi <= '9' ? hi - '0'
					       : (hi | 0x20) - 'a' + 10;
				lo = lo <= '9' ? lo - '0'
					       : (lo | 0x20) - 'a' + 10;
				v = (char)(hi * 16 + lo);
				skip = 4;
			}
			pst_buf_append_byte(&lit, v);
			i += skip;
			col += (unsigned)skip;
			continue;
		}
		if (ch == '{' && i + 1 < len && raw[i + 1] == '{') {
			pst_buf_append_byte(&lit, '{');
			i += 2;
			col += 2;
			continue;
		}
		if (ch == '}') {
			pst_buf_append_byte(&lit, '}');
			i += i + 1 < len && raw[i + 1] == '}' ? 2 : 1;
			col += 1;
			continue;
		}
		if (ch != '{') {
			pst_buf_append_byte(&lit, (char)ch);
			i++;
			col += (ch & 0xc0) != 0x80;
			continue;
		}
		for (j = i + 1; j < len && raw[j] != '}' && raw[j] != '{' &&
				raw[j] != '\\' && raw[j] != ' ';
		     j++)
			;
		if (j >= len || raw[j] != '}') {
			rc = rules_error(p->c, &at, "write {{ for a literal {",
					 "'{' without a matching '}'");
			break;
		}
		at.len = (unsigned)(j - i + 1);
		if (lit.len > 0) {
			segs[nseg].lit.p = set_strndup(p, lit.data, lit.len);
			segs[nseg++].lit.len = lit.len;
			pst_buf_reset(&lit);
		}
		if (text_var(p, &segs[nseg], raw + i + 1, j - i - 1, &at) < 0)
			rc = -1;
		nseg++;
		col += (unsigned)(j - i + 1);
		i = j + 1;
	}
	if (rc == 0 && lit.len > 0) {
		segs[nseg].lit.p = set_strndup(p, lit.data, lit.len);
		segs[nseg++].lit.len = lit.len;
	}
	pst_buf_free(&lit);
	out->segs = segs;
	out->n = nseg;
	return p->c->oom ? -1 : rc;
}
