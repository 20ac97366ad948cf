/*
 * rules_lex.h - tokens of rule files, for rules_parse.c and rules_list.c.
 *
 * The lexer reads one file's text and hands out tokens with their place
 * (line, column, byte offset and length) for error messages.  Decoded
 * strings live on the compiler's temporary arena.  A token the lexer
 * cannot make sense of is reported at once and comes out as TK_ERROR,
 * which the parser takes as "already said".
 */
#ifndef RULES_RULES_LEX_H
#define RULES_RULES_LEX_H

#include "rules_int.h"

enum rules_tok {
	TK_EOF,
	TK_ERROR,
	TK_WORD,     /* a name, keyword or variable: [A-Za-z_][A-Za-z0-9_.-]* */
	TK_STRING,   /* "text" */
	TK_REGEX,    /* /pattern/flags */
	TK_NUMBER,   /* 12, 4.5, -1, +2.5, 10K, 10M, 1G */
	TK_ADDRESS,  /* 192.0.2.1, 10.0.0.0/8, 2001:db8::/32 */
	TK_ENHANCED, /* 5.7.1 */
	TK_LISTREF,  /* @name */
	TK_LBRACE,
	TK_RBRACE,
	TK_LPAREN,
	TK_RPAREN,
	TK_COMMA,
	TK_SEMI,
	TK_EQ, /* == */
	TK_NE, /* != */
	TK_LT,
	TK_LE,
	TK_GT,
	TK_GE,
};

struct rules_token {
	enum rules_tok type;
	struct rules_loc loc;
	struct pst_str raw; /* the bytes in the source */
	/* WORD, LISTREF: the name; STRING: the decoded text; REGEX: the
	 * pattern between the slashes; ENHANCED: the code */
	struct pst_str val;
	/* STRING: the source between the quotes (for {variables}) */
	struct pst_str inner;
	size_t inner_off;   /* offset of inner in the file */
	unsigned inner_col; /* column of inner's first byte */
	unsigned re_flags;  /* RULES_RE_* */
	double num;
	bool integer; /* NUMBER: no fraction, no size suffix, no sign */
	bool sign;    /* NUMBER: written with + or - */
	struct rules_cidr cidr;
	bool prefix; /* ADDRESS: written with /len */
};

struct rules_lexer {
	struct rules_compiler *c;
	const struct rules_file *file;
	size_t pos;
	unsigned line, col;
	struct rules_token peeked;
	bool has_peek;
	size_t last_end; /* end offset of the last token taken */
};

void rules_lex_init(struct rules_lexer *lx, struct rules_compiler *c,
		    const struct rules_file *file);
/* The next token, without taking it. */
const struct rules_token *rules_lex_peek(struct rules_lexer *lx);
/* Take the next token. */
void rules_lex_next(struct rules_lexer *lx, struct rules_token *t);
/* A short description of a token for "expected X, found Y". */
const char *rules_lex_describe(struct rules_lexer *lx,
			       const struct rules_token *t);
/* Is t the word w? */
bool rules_tok_is(const struct rules_token *t, const char *w);

#endif
