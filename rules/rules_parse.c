/*
 * rules_parse.c - the grammar of rule files (postern-rules(5)):
 *
 *   file      = { "shadow" [";"] | include | list | rule | ";" }
 *   include   = "include" STRING [";"]
 *   list      = "list" NAME ( "{" [ item { "," item } [","] ] "}"
 *                           | "file" STRING ) [";"]
 *   rule      = "rule" NAME [ "shadow" ] "{" "when" cond action
 *               { action } "}"
 *   cond      = and { "or" and }
 *   and       = unary { "and" unary }
 *   unary     = "not" unary | "(" cond ")" | test
 *   test      = [ "any" | "all" ] var [ op operand ]
 *
 * A recursive-descent parser that checks as it goes: variables are looked
 * up, types checked against operators and operands, regexes compiled, so
 * every error points at the token it is about.  After an error in a rule
 * or list the parser skips to the end of that item (its closing brace,
 * or a top-level keyword at the start of a line) and carries on, so one
 * run reports every independent mistake.  @list names are resolved when
 * the set is linked (rules_load.c), since a list may be defined later or
 * in another file.  Tests (variables, operators, operands, their types)
 * and texts with {variables} are in rules_operand.c.
 */
#include "config.h"

#include <string.h>

#include "rules_parse.h"

static const char *const top_words[] = { "rule", "list", "include", "shadow",
					 NULL };
const char *const rules_parse_action_words[] = {
	"accept",     "reject",		  "tempfail", "discard", "quarantine",
	"add-header", "remove-header",	  "score",    "tag",	 "log",
	"stop",	      "strip-attachment", "banner",   NULL,
};
static const enum rules_action_kind action_kinds[] = {
	RULES_ACT_ACCEPT,	 RULES_ACT_REJECT,
	RULES_ACT_TEMPFAIL,	 RULES_ACT_DISCARD,
	RULES_ACT_QUARANTINE,	 RULES_ACT_ADD_HEADER,
	RULES_ACT_REMOVE_HEADER, RULES_ACT_SCORE,
	RULES_ACT_TAG,		 RULES_ACT_LOG,
	RULES_ACT_STOP,		 RULES_ACT_STRIP_ATTACHMENT,
	RULES_ACT_BANNER,
};

/* ---- messages and recovery ---- */

/* "expected X, found Y", unless the lexer has already spoken. */
int
rules_parse_syntax(struct parser *p, const struct rules_token *t,
		   const char *hint, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (t->type == TK_ERROR)
		return -1;
	va_start(ap, fmt);
	msg = pst_arena_vprintf(p->c->tmp, fmt, ap);
	va_end(ap);
	if (msg == NULL)
		return rules_oom(p->c);
	return rules_error(p->c, &t->loc, hint, "%s, found %s", msg,
			   rules_lex_describe(&p->lx, t));
}

const char *
rules_parse_printf(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, fmt);
	s = pst_arena_vprintf(p->c->tmp, fmt, ap);
	va_end(ap);
	return s;
}

/* Skip to the end of the item an error was found in. */
static void
recover(struct parser *p)
{
	struct rules_token t;

	for (;;) {
		const struct rules_token *n = peek(p);

		if (n->type == TK_EOF || p->c->stopped)
			return;
		if (n->loc.col == 1 && word_index(n, top_words) >= 0) {
			p->depth = 0;
			return;
		}
		take(p, &t);
		if (t.type == TK_RBRACE && p->depth == 0)
			return;
	}
}

/* The source text from off to the end of the last token, blanks
 * collapsed, for explanations and messages. */
const char *
rules_parse_source(struct parser *p, size_t off)
{
	const char *text = p->file->text;
	size_t end = p->lx.last_end, o = 0;
	char *out;
	bool blank = false;

	if (end < off)
		end = off;
	if (end - off > 200)
		end = off + 200;
	out = pst_arena_alloc(p->c->set->arena, end - off + 4);
	if (out == NULL) {
		rules_oom(p->c);
		return "";
	}
	for (size_t i = off; i < end; i++) {
		char ch = text[i];

		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			blank = true;
			continue;
		}
		if (blank && o > 0)
			out[o++] = ' ';
		blank = false;
		out[o++] = ch;
	}
	if (end < p->lx.last_end) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* ---- conditions ---- */

static struct rules_cond *parse_or(struct parser *p, unsigned depth);

static struct rules_cond *
parse_unary(struct parser *p, unsigned depth)
{
	struct rules_token t;
	struct rules_cond *kid, *cond;

	if (depth > RULES_MAX_NESTING) {
		rules_error(p->c, &peek(p)->loc, NULL,
			    "condition nested too deeply (over %d levels)",
			    RULES_MAX_NESTING);
		return NULL;
	}
	if (peek_is(p, "not")) {
		take(p, &t);
		kid = parse_unary(p, depth + 1);
		if (kid == NULL)
			return NULL;
		cond = pst_arena_zalloc(p->c->set->arena, sizeof(*cond));
		if (cond != NULL)
			cond->kids =
				pst_arena_alloc(p->c->set->arena, sizeof(kid));
		if (cond == NULL || cond->kids == NULL) {
			rules_oom(p->c);
			return NULL;
		}
		cond->kind = RULES_C_NOT;
		cond->kids[0] = kid;
		cond->n = 1;
		cond->text = rules_parse_source(p, t.loc.off);
		return cond;
	}
	if (peek(p)->type == TK_LPAREN) {
		take(p, &t);
		cond = parse_or(p, depth + 1);
		if (cond == NULL)
			return NULL;
		take(p, &t);
		if (t.type != TK_RPAREN) {
			rules_parse_syntax(p, &t, NULL, "expected ')'");
			return NULL;
		}
		return cond;
	}
	return rules_operand_test(p);
}

/* a { op b }: AND and OR nodes hold all their operands in one array. */
static struct rules_cond *
parse_chain(struct parser *p, unsigned depth, const char *word,
	    enum rules_cond_kind kind)
{
	struct rules_cond *first, **kids = NULL, *cond;
	size_t n = 0, cap = 0;

	first = kind == RULES_C_OR ? parse_chain(p, depth, "and", RULES_C_AND)
				   : parse_unary(p, depth);
	if (first == NULL || !peek_is(p, word))
		return first;
	while (first != NULL) {
		struct rules_cond *next;
		struct rules_token t;

		if (n == cap) {
			struct rules_cond **k;

			cap = cap ? cap * 2 : 4;
			k = pst_arena_calloc(p->c->tmp, cap, sizeof(*k));
			if (k == NULL) {
				rules_oom(p->c);
				return NULL;
			}
			if (n)
				memcpy(k, kids, n * sizeof(*k));
			kids = k;
		}
		kids[n++] = first;
		if (!peek_is(p, word))
			break;
		take(p, &t);
		next = kind == RULES_C_OR
			       ? parse_chain(p, depth, "and", RULES_C_AND)
			       : parse_unary(p, depth);
		if (next == NULL)
			return NULL;
		first = next;
	}
	cond = pst_arena_zalloc(p->c->set->arena, sizeof(*cond));
	if (cond == NULL ||
	    (cond->kids = pst_arena_calloc(p->c->set->arena, n,
					   sizeof(*kids))) == NULL) {
		rules_oom(p->c);
		return NULL;
	}
	memcpy(cond->kids, kids, n * sizeof(*kids));
	cond->n = n;
	cond->kind = kind;
	return cond;
}

static struct rules_cond *
parse_or(struct parser *p, unsigned depth)
{
	return parse_chain(p, depth, "or", RULES_C_OR);
}

/* ---- actions ---- */

static int
expect_string(struct parser *p, struct rules_token *t, const char *what,
	      const char *hint)
{
	take(p, t);
	if (t->type != TK_STRING)
		return rules_parse_syntax(p, t, hint, "expected %s", what);
	return 0;
}

static int
parse_reply(struct parser *p, struct rules_action *a,
	    const struct rules_token *kw)
{
	bool reject = a->kind == RULES_ACT_REJECT;
	unsigned cls = reject ? 5 : 4;
	struct rules_token t;
	const struct rules_token *n = peek(p);

	a->code = reject ? 550 : 451;
	a->enhanced = reject ? "5.7.1" : "4.7.1";
	if (n->type == TK_NUMBER) {
		take(p, &t);
		if (!t.integer || t.num < 200 || t.num > 599)
			return rules_error(
				p->c, &t.loc,
				reject ? "write reject 550 5.7.1 \"...\""
				       : "write tempfail 451 4.7.1 "
					 "\"...\"",
				"bad reply code");
		a->code = (unsigned)t.num;
		if (a->code / 100 != cls || a->code % 100 > 59)
			return rules_error(
				p->c, &t.loc,
				reject ? "use tempfail for a temporary (4xx) "
					 "refusal"
				       : "use reject for a permanent (5xx) "
					 "refusal",
				"%s needs a %uxx code, not %u", word_str(p, kw),
				cls, a->code);
		n = peek(p);
		if (n->type == TK_ENHANCED) {
			take(p, &t);
			if ((unsigned)(t.val.p[0] - '0') != cls)
				return rules_error(
					p->c, &t.loc,
					rules_parse_printf(
						p, "write %u%s", cls,
						rules_show(p->c->tmp,
							   t.val.p + 1,
							   t.val.len - 1)),
					"enhanced code %s does not match "
					"reply code %u",
					rules_show(p->c->tmp, t.val.p,
						   t.val.len),
					a->code);
			a->enhanced = set_strndup(p, t.val.p, t.val.len);
			if (a->enhanced == NULL)
				return -1;
		} else if (cls == 5) {
			a->enhanced = "5.7.1";
		}
	} else if (n->type == TK_ENHANCED) {
		return rules_error(
			p->c, &n->loc,
			reject ? "write reject 550 5.7.1 \"...\""
			       : "write tempfail 451 4.7.1 \"...\"",
			"the enhanced code comes after a reply code");
	}
	if (peek(p)->type == TK_STRING) {
		take(p, &t);
		a->has_text = true;
		return rules_operand_text(p, &t, &a->text);
	}
	return 0;
}

static bool
tag_ok(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		      ch == '.' || ch == ':'))
			return false;
	}
	return true;
}

static int
parse_action(struct parser *p, struct rules_action *a)
{
	struct rules_token kw, t;
	int i;

	take(p, &kw);
	i = word_index(&kw, rules_parse_action_words);
	if (i < 0) {
		const char *s =
			kw.type == TK_WORD
				? rules_suggest(kw.val.p, kw.val.len,
						rules_parse_action_words)
				: NULL;

		if (kw.type == TK_WORD &&
		    (rules_tok_is(&kw, "and") || rules_tok_is(&kw, "or")))
			return rules_error(
				p->c, &kw.loc,
				"put the whole condition after when, before "
				"the actions",
				"'%s' after an action", word_str(p, &kw));
		if (s != NULL)
			return rules_error(
				p->c, &kw.loc,
				rules_parse_printf(p, "did you mean %s?", s),
				"unknown action '%s'", word_str(p, &kw));
		return rules_parse_syntax(
			p, &kw,
			"actions are accept, reject, tempfail, discard, "
			"quarantine, add-header, remove-header, score, "
			"tag, log, stop, strip-attachment, banner",
			"expected an action or '}'");
	}
	a->kind = action_kinds[i];
	a->loc = kw.loc;
	switch (a->kind) {
	case RULES_ACT_REJECT:
	case RULES_ACT_TEMPFAIL:
		return parse_reply(p, a, &kw);
	case RULES_ACT_QUARANTINE:
		if (peek(p)->type == TK_STRING) {
			take(p, &t);
			a->has_text = true;
			return rules_operand_text(p, &t, &a->text);
		}
		return 0;
	case RULES_ACT_LOG:
		if (expect_string(p, &t, "the text to log after log",
				  "write log \"...\"") < 0)
			return -1;
		a->has_text = true;
		return rules_operand_text(p, &t, &a->text);
	case RULES_ACT_ADD_HEADER:
	case RULES_ACT_REMOVE_HEADER:
		if (expect_string(p, &t, "a header name",
				  a->kind == RULES_ACT_ADD_HEADER
					  ? "write add-header \"X-Name\" "
					    "\"value\""
					  : "write remove-header \"X-Name\"") <
		    0)
			return -1;
		if (!rules_operand_header_ok(t.val.p, t.val.len))
			return rules_error(p->c, &t.loc,
					   "header names are printable ASCII, "
					   "without blanks or ':'",
					   "bad header name '%s'",
					   word_str(p, &t));
		a->header = set_strndup(p, t.val.p, t.val.len);
		if (a->header == NULL)
			return -1;
		if (a->kind == RULES_ACT_REMOVE_HEADER)
			return 0;
		if (expect_string(p, &t, "the header value",
				  "write add-header \"X-Name\" \"value\"") < 0)
			return -1;
		a->has_text = true;
		return rules_operand_text(p, &t, &a->text);
	case RULES_ACT_STRIP_ATTACHMENT:
		if (peek(p)->type == TK_STRING) {
			take(p, &t);
			a->has_text = true;
			return rules_operand_text(p, &t, &a->text);
		}
		return 0;
	case RULES_ACT_BANNER:
		if (peek(p)->type == TK_WORD &&
		    (rules_tok_is(peek(p), "top") ||
		     rules_tok_is(peek(p), "bottom"))) {
			take(p, &t);
			a->bottom = rules_tok_is(&t, "bottom");
		}
		if (expect_string(p, &t, "the banner text",
				  "write banner \"...\" or banner bottom "
				  "\"...\"") < 0)
			return -1;
		a->has_text = true;
		return rules_operand_text(p, &t, &a->text);
	case RULES_ACT_SCORE:
		take(p, &t);
		if (t.type != TK_NUMBER)
			return rules_parse_syntax(
				p, &t, "write score +2.5 or score -1",
				"expected a number after score");
		a->score = t.num;
		return 0;
	case RULES_ACT_TAG:
		take(p, &t);
		if (t.type != TK_WORD && t.type != TK_STRING)
			return rules_parse_syntax(p, &t, "write tag NAME",
						  "expected a tag after tag");
		if (!tag_ok(t.val.p, t.val.len))
			return rules_error(
				p->c, &t.loc,
				"tags are letters, digits and _ - . :",
				"bad tag '%s'", word_str(p, &t));
		a->tag = set_strndup(p, t.val.p, t.val.len);
		return a->tag != NULL ? 0 : -1;
	default:
		return 0;
	}
}

/* The earliest stage at which the rule is decided and its actions mean
 * something. */
static void
rule_stage(struct rules_rule *r)
{
	enum rules_stage s = RULES_STAGE_CONNECT;

	for (unsigned v = 0; v < RULES_VAR__COUNT; v++) {
		if ((r->vars & (UINT64_C(1) << v)) &&
		    rules_var_stage((enum rules_var)v) > s)
			s = rules_var_stage((enum rules_var)v);
	}
	for (size_t i = 0; i < r->nactions; i++) {
		switch (r->actions[i].kind) {
		case RULES_ACT_STRIP_ATTACHMENT:
			r->wants_parts = true;
			s = RULES_STAGE_MESSAGE;
			break;
		case RULES_ACT_ADD_HEADER:
		case RULES_ACT_REMOVE_HEADER:
		case RULES_ACT_QUARANTINE:
		case RULES_ACT_BANNER:
			s = RULES_STAGE_MESSAGE;
			break;
		case RULES_ACT_SCORE:
			r->writes_score = !r->shadow;
			break;
		default:
			break;
		}
	}
	r->stage = s;
}

static int
parse_actions(struct parser *p, struct rules_rule *r)
{
	struct rules_action actions[RULES_MAX_ACTIONS];
	const struct rules_action *terminal = NULL;
	size_t n = 0;
	struct rules_token t;
	const struct rules_token *pk;

	for (;;) {
		pk = peek(p);
		if (pk->type == TK_SEMI) {
			take(p, &t);
			continue;
		}
		if (pk->type == TK_RBRACE)
			break;
		if (n == 0 && pk->type == TK_WORD &&
		    word_index(pk, rules_parse_action_words) < 0 &&
		    rules_suggest(pk->val.p, pk->val.len,
				  rules_parse_action_words) == NULL)
			return rules_parse_syntax(
				p, pk,
				"join tests with and / or; then come the "
				"actions",
				"expected 'and', 'or' or an action");
		if (pk->type == TK_EOF)
			return rules_parse_syntax(p, pk,
						  "close the rule with '}'",
						  "expected an action or '}'");
		if (n == RULES_MAX_ACTIONS)
			return rules_error(p->c, &pk->loc, NULL,
					   "more than %d actions in one rule",
					   RULES_MAX_ACTIONS);
		memset(&actions[n], 0, sizeof(actions[n]));
		if (parse_action(p, &actions[n]) < 0)
			return -1;
		if (rules_action_is_terminal(actions[n].kind)) {
			if (terminal != NULL)
				return rules_error(
					p->c, &actions[n].loc,
					"one rule decides once: split it in "
					"two rules",
					"the rule already has a terminal action "
					"(%s, line %u)",
					rules_action_name(terminal->kind),
					terminal->loc.line);
			terminal = &actions[n];
		}
		n++;
	}
	take(p, &t); /* '}' */
	if (n == 0)
		return rules_error(p->c, &t.loc,
				   "add an action: accept, reject, tag, ...",
				   "rule '%s' has no action", r->name);
	r->actions = pst_arena_calloc(p->c->set->arena, n, sizeof(*actions));
	if (r->actions == NULL)
		return rules_oom(p->c);
	memcpy(r->actions, actions, n * sizeof(*actions));
	r->nactions = n;
	return 0;
}

static void
parse_rule(struct parser *p)
{
	struct rules_compiler *c = p->c;
	struct rules_token kw, name, t;
	struct rules_rule *r;

	take(p, &kw);
	take(p, &name);
	if (name.type != TK_WORD || word_index(&name, top_words) >= 0) {
		rules_parse_syntax(p, &name, "write rule NAME { when ... }",
				   "expected a rule name");
		recover(p);
		return;
	}
	r = pst_arena_zalloc(c->set->arena, sizeof(*r));
	if (r == NULL) {
		rules_oom(c);
		return;
	}
	r->name = set_strndup(p, name.val.p, name.val.len);
	r->file = p->file->name;
	r->line = name.loc.line;
	r->loc = name.loc;
	r->shadow = p->file->shadow;
	p->rule = r;
	if (peek_is(p, "shadow")) {
		take(p, &t);
		r->shadow = true;
	}
	take(p, &t);
	if (t.type != TK_LBRACE) {
		rules_parse_syntax(p, &t, "write rule NAME { when ... }",
				   "expected '{' after the rule name");
		goto fail;
	}
	take(p, &t);
	if (!rules_tok_is(&t, "when")) {
		rules_parse_syntax(
			p, &t,
			"a rule is `rule NAME { when CONDITION ACTION... }`",
			"expected 'when'");
		goto fail;
	}
	r->cond = parse_or(p, 0);
	if (r->cond == NULL || parse_actions(p, r) < 0)
		goto fail;
	p->rule = NULL;
	if (c->nerrors > 0 || r->name == NULL)
		return; /* the set will not be built: keep nothing */
	if (c->nrules == RULES_MAX_RULES) {
		rules_error(c, &name.loc, NULL, "more than %d rules",
			    RULES_MAX_RULES);
		return;
	}
	rule_stage(r);
	r->index = c->nrules++;
	*c->rules_tail = r;
	c->rules_tail = &r->next;
	return;
fail:
	p->rule = NULL;
	recover(p);
}

/* ---- lists ---- */

static int
parse_item(struct parser *p, struct rules_list *list)
{
	struct rules_token t;
	struct rules_item *it;

	take(p, &t);
	if (t.type != TK_STRING && t.type != TK_NUMBER &&
	    t.type != TK_ADDRESS && t.type != TK_REGEX)
		return rules_parse_syntax(
			p, &t,
			t.type == TK_WORD
				? rules_parse_printf(p, "write \"%s\"",
						     word_str(p, &t))
				: NULL,
			"expected a string, number, address or /regex/");
	if (list->n >= RULES_MAX_LIST_ITEMS)
		return rules_error(p->c, &t.loc, NULL, "too many list items");
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8;
		struct rules_item *n;

		n = pst_arena_calloc(p->c->tmp, cap, sizeof(*n));
		if (n == NULL)
			return rules_oom(p->c);
		if (list->n)
			memcpy(n, list->items, list->n * sizeof(*n));
		list->items = n;
		list->cap = cap;
	}
	it = &list->items[list->n++];
	memset(it, 0, sizeof(*it));
	it->loc = t.loc;
	switch (t.type) {
	case TK_STRING:
		it->kind = RULES_ITEM_STRING;
		it->str.p = set_strndup(p, t.val.p, t.val.len);
		it->str.len = t.val.len;
		return it->str.p != NULL ? 0 : -1;
	case TK_NUMBER:
		it->kind = RULES_ITEM_NUMBER;
		it->num = t.num;
		return 0;
	case TK_ADDRESS:
		it->kind = RULES_ITEM_ADDRESS;
		it->cidr = t.cidr;
		return 0;
	default:
		it->kind = RULES_ITEM_REGEX;
		it->re = rules_operand_regex(p, &t);
		return it->re != NULL ? 0 : -1;
	}
}

/* After '{': items separated by commas, then '}'. */
int
rules_parse_items(struct parser *p, struct rules_list *list)
{
	struct rules_token t;

	for (;;) {
		if (peek(p)->type == TK_RBRACE) {
			take(p, &t);
			return 0;
		}
		if (parse_item(p, list) < 0)
			return -1;
		take(p, &t);
		if (t.type == TK_RBRACE)
			return 0;
		if (t.type != TK_COMMA)
			return rules_parse_syntax(
				p, &t, NULL,
				"expected ',' or '}' after a list item");
	}
}

static void
parse_list(struct parser *p)
{
	struct rules_compiler *c = p->c;
	struct rules_token kw, name, t;
	struct rules_list *list;

	take(p, &kw);
	take(p, &name);
	if (name.type != TK_WORD) {
		rules_parse_syntax(p, &name, "write list NAME { \"a\", \"b\" }",
				   "expected a list name");
		recover(p);
		return;
	}
	list = pst_arena_zalloc(c->set->arena, sizeof(*list));
	if (list == NULL) {
		rules_oom(c);
		return;
	}
	list->name = set_strndup(p, name.val.p, name.val.len);
	list->loc = name.loc;
	take(p, &t);
	if (t.type == TK_LBRACE) {
		if (rules_parse_items(p, list) < 0) {
			recover(p);
			return;
		}
	} else if (rules_tok_is(&t, "file")) {
		struct rules_file *f;

		take(p, &t);
		if (t.type != TK_STRING) {
			rules_parse_syntax(p, &t,
					   "write list NAME file \"path\"",
					   "expected a file name after file");
			recover(p);
			return;
		}
		if (rules_load_list_file(c, &t.loc, t.val.p, &f) < 0)
			return;
		rules_list_read_lines(c, list, f);
	} else {
		rules_parse_syntax(
			p, &t,
			"write list NAME { \"a\", \"b\" } or list NAME file "
			"\"path\"",
			"expected '{' or file after the list name");
		recover(p);
		return;
	}
	if (peek(p)->type == TK_SEMI)
		take(p, &t);
	if (list->name == NULL)
		return;
	*c->lists_tail = list;
	c->lists_tail = &list->next;
	c->set->nlists++;
}

static void
parse_include(struct parser *p)
{
	struct rules_token kw, t;

	take(p, &kw);
	take(p, &t);
	if (t.type != TK_STRING) {
		rules_parse_syntax(
			p, &t, "write include \"other.rules\"",
			"expected a file name or pattern after include");
		recover(p);
		return;
	}
	if (peek(p)->type == TK_SEMI) {
		struct rules_token semi;

		take(p, &semi);
	}
	if (memchr(t.val.p, '\0', t.val.len) != NULL || t.val.len == 0) {
		rules_error(p->c, &t.loc, NULL, "bad file name");
		return;
	}
	rules_load_include(p->c, &t.loc, t.val.p);
}

void
rules_parse_file(struct rules_compiler *c, struct rules_file *file)
{
	struct parser p;
	struct rules_token t;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.file = file;
	rules_lex_init(&p.lx, c, file);
	while (!c->stopped) {
		const struct rules_token *n = peek(&p);

		if (n->type == TK_EOF)
			break;
		if (n->type == TK_SEMI) {
			take(&p, &t);
			continue;
		}
		switch (word_index(n, top_words)) {
		case 0:
			parse_rule(&p);
			p.seen_item = true;
			break;
		case 1:
			parse_list(&p);
			p.seen_item = true;
			break;
		case 2:
			parse_include(&p);
			p.seen_item = true;
			break;
		case 3:
			take(&p, &t);
			if (peek(&p)->type == TK_SEMI) {
				struct rules_token semi;

				take(&p, &semi);
			}
			if (p.seen_item)
				rules_error(c, &t.loc,
					    "move `shadow;` to the top of the "
					    "file",
					    "'shadow' for the whole file must "
					    "come before its first rule");
			else
				file->shadow = true;
			break;
		default: {
			const char *s =
				n->type == TK_WORD
					? rules_suggest(n->val.p, n->val.len,
							top_words)
					: NULL;

			rules_parse_syntax(
				&p, n,
				s != NULL ? rules_parse_printf(
						    &p, "did you mean %s?", s)
					  : NULL,
				"expected rule, list, include or shadow");
			take(&p, &t);
			recover(&p);
			break;
		}
		}
	}
}
