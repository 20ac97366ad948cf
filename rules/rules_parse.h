/*
 * rules_parse.h - what the two halves of the parser share: rules_parse.c
 * (files, rules, lists, conditions, actions) and rules_operand.c (tests
 * and texts with {variables}).  Only those two files include this.
 */
#ifndef RULES_RULES_PARSE_H
#define RULES_RULES_PARSE_H

#include "rules_lex.h"

struct parser {
	struct rules_compiler *c;
	struct rules_lexer lx;
	struct rules_file *file;
	unsigned depth; /* open braces of the current item */
	bool seen_item;
	struct rules_rule *rule; /* being parsed */
};

/* The action keywords, NULL-ended (a condition must not start with one). */
extern const char *const rules_parse_action_words[];

static inline const struct rules_token *
peek(struct parser *p)
{
	return rules_lex_peek(&p->lx);
}

/* Take the next token, counting braces for error recovery. */
static inline void
take(struct parser *p, struct rules_token *t)
{
	rules_lex_next(&p->lx, t);
	if (t->type == TK_LBRACE)
		p->depth++;
	else if (t->type == TK_RBRACE && p->depth > 0)
		p->depth--;
}

static inline bool
peek_is(struct parser *p, const char *w)
{
	return rules_tok_is(peek(p), w);
}

/* The index of t among words (NULL-ended), or -1. */
static inline int
word_index(const struct rules_token *t, const char *const *words)
{
	if (t->type != TK_WORD)
		return -1;
	for (int i = 0; words[i] != NULL; i++) {
		if (rules_tok_is(t, words[i]))
			return i;
	}
	return -1;
}

/* A word token, printable, for a message. */
static inline const char *
word_str(struct parser *p, const struct rules_token *t)
{
	return rules_show(p->c->tmp, t->val.p, t->val.len);
}

/* A copy on the set's arena (NULL: out of memory, recorded). */
static inline char *
set_strndup(struct parser *p, const char *s, size_t len)
{
	char *r = pst_arena_strndup(p->c->set->arena, s, len);

	if (r == NULL)
		rules_oom(p->c);
	return r;
}

/* rules_parse.c */
/* "expected X, found Y" at t, unless the lexer has already spoken;
 * returns -1. */
int rules_parse_syntax(struct parser *p, const struct rules_token *t,
		       const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A message piece on the temporary arena. */
const char *rules_parse_printf(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The source from off to the end of the last token taken, blanks
 * collapsed, on the set's arena. */
const char *rules_parse_source(struct parser *p, size_t off);
/* After '{': list items up to '}'; 0 or -1 (reported). */
int rules_parse_items(struct parser *p, struct rules_list *list);

/* rules_operand.c */
/* One test of a condition; NULL after an error that stops the rule. */
struct rules_cond *rules_operand_test(struct parser *p);
/* Split a string token into literal pieces and {variables}; 0 or -1. */
int rules_operand_text(struct parser *p, const struct rules_token *t,
		       struct rules_text *out);
/* Compile a regex token; NULL after an error (reported). */
struct rules_regex *rules_operand_regex(struct parser *p,
					const struct rules_token *t);
/* Printable ASCII without blanks or ':', 1 to 76 bytes. */
bool rules_operand_header_ok(const char *s, size_t len);

#endif
