/*
 * conf.c - configuration file parser and typed binding (see conf.h).
 *
 * A hand-written lexer and recursive-descent parser for the documented
 * UCL/nginx-style subset.  Every node records its file and line so that
 * every error, from the parser or from the binding, can say where.
 * Everything the caller gets back, error texts included, lives on the
 * caller's arena; the only foreign resources (file descriptors, glob(3)
 * results) are released before a function returns.  No global state: two
 * threads may load configurations at once on two arenas.
 *
 * Bare-word rules that need care: '[' opens a list only at the start of a
 * token, so "a[1]" is one word; inside a list a ']' that has no '[' of its
 * own in the word closes the list.  A ':' ends a word (it is the "key:
 * value" separator) only when no word character follows it, so
 * "smtp://host:25" stays one word.  "//" and the block-comment opener
 * start a comment only at the start of a token, so a path keeps its
 * slashes; a bare glob that begins with them must be quoted.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "conf_int.h"

/* Longest single token (key, value, list item or label): far beyond any
 * real setting, small enough that copies and error texts stay cheap. */
#define CONF_MAX_TOKEN (64u * 1024)
/* Bounds on a whole load, so a glob that fans out at every include level
 * cannot make one reload read gigabytes. */
#define CONF_MAX_FILES 256
#define CONF_MAX_TOTAL_SIZE (4 * (size_t)PST_CONF_MAX_FILE_SIZE)
/* A node costs some 80 bytes for as little as two bytes of input ("a,"
 * in a list): a bound on nodes bounds that amplification. */
#define CONF_MAX_NODES (1u << 20)
/* How much of an admin's text an error message quotes. */
#define CONF_SHOW_MAX 64
/* The file name of text parsed without one. */
#define CONF_NO_NAME "<string>"

const char pst_conf_oom[] = "out of memory while reading the configuration";

/* ---- messages ---- */

static const char *conf_vmsg(struct pst_arena *arena, const char *file,
			     unsigned line, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static const char *
conf_vmsg(struct pst_arena *arena, const char *file, unsigned line,
	  const char *fmt, va_list ap)
{
	char *text = pst_arena_vprintf(arena, fmt, ap);
	char *msg;

	if (text == NULL)
		return pst_conf_oom;
	if (file == NULL)
		return text;
	msg = pst_arena_printf(arena, "%s:%u: %s", file, line, text);
	return msg != NULL ? msg : pst_conf_oom;
}

const char *
pst_conf_error(struct pst_arena *arena, const struct pst_conf_node *node,
	       const char *fmt, ...)
{
	va_list ap;
	const char *msg;

	va_start(ap, fmt);
	msg = conf_vmsg(arena, node != NULL ? node->file : NULL,
			node != NULL ? node->line : 0, fmt, ap);
	va_end(ap);
	return msg;
}

const char *
pst_conf_show(struct pst_arena *arena, const char *s)
{
	size_t n, i;
	bool cut;
	char *out;

	if (s == NULL)
		return "";
	n = strnlen(s, CONF_SHOW_MAX + 1);
	cut = n > CONF_SHOW_MAX;
	if (cut) {
		n = CONF_SHOW_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	out = pst_arena_alloc(arena, n + 4);
	if (out == NULL)
		return "?";
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	memcpy(out + n, cut ? "..." : "", cut ? 4 : 1);
	return out;
}

/* ---- lexer ---- */

enum conf_tok {
	T_EOF,
	T_WORD,
	T_STRING,
	T_LBRACE,
	T_RBRACE,
	T_LBRACKET,
	T_RBRACKET,
	T_EQUALS,
	T_COLON,
	T_SEMI,
	T_COMMA,
};

/* The punctuation tokens, in the order of enum conf_tok from T_LBRACE. */
static const char conf_punct[] = "{}[]=:;,";

struct conf_token {
	enum conf_tok type;
	const char *text; /* WORD, STRING: NUL-terminated copy on the arena */
	unsigned line;
	bool nl_before; /* a line break separates it from the token before */
};

/* State shared by a file and everything it includes. */
struct conf_parser {
	struct pst_arena *arena;
	const char *error;
	bool includes_allowed;
	unsigned include_depth;
	unsigned files;
	unsigned nodes;
	size_t total_size;
};

/* One file being read. */
struct conf_lexer {
	struct conf_parser *p;
	const char *file;
	const char *pos, *end;
	unsigned line;
	bool in_list;
	bool have_peek;
	struct conf_token peek;
};

/* Where the next entry of a block goes: includes append to the same
 * place, which is how an included file is spliced into its block. */
struct conf_tail {
	struct pst_conf_node **slot;
};

static int conf_fail(struct conf_parser *p, const char *file, unsigned line,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
conf_fail(struct conf_parser *p, const char *file, unsigned line,
	  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p->error = conf_vmsg(p->arena, file, line, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
conf_strerror(struct pst_arena *arena, int err)
{
	char buf[128];
	/* GNU strerror_r (AC_USE_SYSTEM_EXTENSIONS): returns the text. */
	const char *s = strerror_r(err, buf, sizeof(buf));
	char *copy = pst_arena_strdup(arena, s);

	return copy != NULL ? copy : "error";
}

static bool
conf_is_word_byte(unsigned char c)
{
	if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("._-/:@*+[]%~", c) != NULL;
}

static const char *
conf_tok_show(struct conf_lexer *lx, const struct conf_token *t)
{
	static const char *const punct[] = {
		[T_LBRACE] = "'{'",   [T_RBRACE] = "'}'", [T_LBRACKET] = "'['",
		[T_RBRACKET] = "']'", [T_EQUALS] = "'='", [T_COLON] = "':'",
		[T_SEMI] = "';'",     [T_COMMA] = "','",
	};
	const char *s;

	switch (t->type) {
	case T_EOF:
		return "end of file";
	case T_WORD:
	case T_STRING:
		s = pst_arena_printf(lx->p->arena, "'%s'",
				     pst_conf_show(lx->p->arena, t->text));
		return s != NULL ? s : "a value";
	default:
		return punct[t->type];
	}
}

/* Skip blanks and comments; *nl_r is set when a line break was crossed. */
static int
lex_skip(struct conf_lexer *lx, bool *nl_r)
{
	while (lx->pos < lx->end) {
		char c = *lx->pos;
		bool two = lx->pos + 1 < lx->end;

		if (c == '\n') {
			lx->line++;
			*nl_r = true;
			lx->pos++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
			   c == '\v') {
			lx->pos++;
		} else if (c == '#' || (c == '/' && two && lx->pos[1] == '/')) {
			const char *nl = memchr(lx->pos, '\n',
						(size_t)(lx->end - lx->pos));

			lx->pos = nl != NULL ? nl : lx->end;
		} else if (c == '/' && two && lx->pos[1] == '*') {
			unsigned start = lx->line;

			lx->pos += 2;
			for (;;) {
				if (lx->end - lx->pos < 2)
					return conf_fail(lx->p, lx->file, start,
							 "unterminated comment "
							 "(no '*/' before end "
							 "of file)");
				if (lx->pos[0] == '*' && lx->pos[1] == '/')
					break;
				if (lx->pos[0] == '\n') {
					lx->line++;
					*nl_r = true;
				}
				lx->pos++;
			}
			lx->pos += 2;
		} else {
			break;
		}
	}
	return 0;
}

static int
conf_hex4(const char *s, unsigned *cp_r)
{
	unsigned cp = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		cp <<= 4;
		if (c >= '0' && c <= '9')
			cp |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			cp |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			cp |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*cp_r = cp;
	return 0;
}

/* Decode the escapes of a double-quoted string's body [s, e) into out,
 * which has room for e - s bytes plus a NUL (no escape grows). */
static int
lex_unescape(struct conf_lexer *lx, const char *s, const char *e, char *out)
{
	char *o = out;
	unsigned cp;

	while (s < e) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++; /* the scan that found e saw a byte after each '\' */
		switch (*s) {
		case '"':
		case '\\':
			*o++ = *s;
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'u':
			if (e - s < 5 || conf_hex4(s + 1, &cp) < 0)
				return conf_fail(lx->p, lx->file, lx->line,
						 "\\u in a string needs four "
						 "hex digits");
			if (cp == 0)
				return conf_fail(lx->p, lx->file, lx->line,
						 "\\u0000 is not allowed in a "
						 "string");
			if (cp >= 0xd800 && cp <= 0xdfff)
				return conf_fail(
					lx->p, lx->file, lx->line,
					"\\u%04X is a UTF-16 surrogate, "
					"not a character",
					cp);
			if (cp < 0x80) {
				*o++ = (char)cp;
			} else if (cp < 0x800) {
				*o++ = (char)(0xc0 | (cp >> 6));
				*o++ = (char)(0x80 | (cp & 0x3f));
			} else {
				*o++ = (char)(0xe0 | (cp >> 12));
				*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
				*o++ = (char)(0x80 | (cp & 0x3f));
			}
			s += 4;
			break;
		default:
			if ((unsigned char)*s > 0x20 &&
			    (unsigned char)*s < 0x7f)
				return conf_fail(lx->p, lx->file, lx->line,
						 "unknown escape '\\%c' in "
						 "string",
						 *s);
			return conf_fail(lx->p, lx->file, lx->line,
					 "unknown escape in string");
		}
		s++;
	}
	*o = '\0';
	return 0;
}

static int
lex_string(struct conf_lexer *lx, struct conf_token *t)
{
	char quote = *lx->pos;
	const char *s = lx->pos + 1, *p = s;
	char *out;

	/* Find the closing quote first: the body is then known to be on
	 * this line and within the token limit before anything is copied. */
	for (;; p++) {
		if (p >= lx->end || *p == '\n')
			return conf_fail(lx->p, lx->file, lx->line,
					 "unterminated string");
		if (*p == quote)
			break;
		if (quote == '"' && *p == '\\' &&
		    (p + 1 >= lx->end || *++p == '\n'))
			return conf_fail(lx->p, lx->file, lx->line,
					 "unterminated string");
	}
	if ((size_t)(p - s) > CONF_MAX_TOKEN)
		return conf_fail(lx->p, lx->file, lx->line,
				 "string longer than %u bytes", CONF_MAX_TOKEN);
	out = pst_arena_alloc(lx->p->arena, (size_t)(p - s) + 1);
	if (out == NULL)
		return conf_fail(lx->p, NULL, 0, "%s", pst_conf_oom);
	if (quote == '"') {
		if (lex_unescape(lx, s, p, out) < 0)
			return -1;
	} else {
		memcpy(out, s, (size_t)(p - s));
		out[p - s] = '\0';
	}
	t->type = T_STRING;
	t->text = out;
	lx->pos = p + 1;
	return 0;
}

static int
lex_word(struct conf_lexer *lx, struct conf_token *t)
{
	const char *s = lx->pos, *p = s;
	unsigned brackets = 0;

	for (; p < lx->end && conf_is_word_byte((unsigned char)*p); p++) {
		if (*p == ':' && (p + 1 == lx->end ||
				  !conf_is_word_byte((unsigned char)p[1])))
			break;
		if (*p == '[') {
			brackets++;
		} else if (*p == ']') {
			if (brackets == 0 && lx->in_list)
				break;
			if (brackets > 0)
				brackets--;
		}
	}
	if ((size_t)(p - s) > CONF_MAX_TOKEN)
		return conf_fail(lx->p, lx->file, lx->line,
				 "value longer than %u bytes", CONF_MAX_TOKEN);
	t->type = T_WORD;
	t->text = pst_arena_strndup(lx->p->arena, s, (size_t)(p - s));
	if (t->text == NULL)
		return conf_fail(lx->p, NULL, 0, "%s", pst_conf_oom);
	lx->pos = p;
	return 0;
}

static int
lex_next(struct conf_lexer *lx, struct conf_token *t)
{
	bool nl = false;
	unsigned char c;
	const char *punct;

	if (lx->have_peek) {
		*t = lx->peek;
		lx->have_peek = false;
		return 0;
	}
	if (lex_skip(lx, &nl) < 0)
		return -1;
	t->nl_before = nl;
	t->line = lx->line;
	t->text = NULL;
	if (lx->pos >= lx->end) {
		t->type = T_EOF;
		return 0;
	}
	c = (unsigned char)*lx->pos;
	punct = c != '\0' ? strchr(conf_punct, c) : NULL;
	if (c == ':' && lx->pos + 1 < lx->end &&
	    conf_is_word_byte((unsigned char)lx->pos[1]))
		punct = NULL; /* "::1" is a word, "key: value" a separator */
	if (punct != NULL) {
		t->type = (enum conf_tok)(T_LBRACE + (punct - conf_punct));
	} else if (c == '"' || c == '\'') {
		return lex_string(lx, t);
	} else if (conf_is_word_byte(c)) {
		return lex_word(lx, t);
	} else if (c > 0x20 && c < 0x7f) {
		return conf_fail(lx->p, lx->file, lx->line,
				 "unexpected character '%c'", c);
	} else {
		return conf_fail(lx->p, lx->file, lx->line,
				 "unexpected control character 0x%02x", c);
	}
	lx->pos++;
	return 0;
}

static void
lex_unget(struct conf_lexer *lx, const struct conf_token *t)
{
	lx->peek = *t;
	lx->have_peek = true;
}

/* ---- parser ---- */

static int conf_parse_entries(struct conf_lexer *lx, struct conf_tail *tail,
			      unsigned depth, const struct pst_conf_node *open);

static struct pst_conf_node *
conf_node_new(struct conf_lexer *lx, enum pst_conf_kind kind, const char *key,
	      unsigned line)
{
	struct pst_conf_node *n;

	if (lx->p->nodes >= CONF_MAX_NODES) {
		conf_fail(lx->p, lx->file, line,
			  "too many entries (more than %u in all files)",
			  CONF_MAX_NODES);
		return NULL;
	}
	lx->p->nodes++;
	n = pst_arena_zalloc(lx->p->arena, sizeof(*n));
	if (n == NULL) {
		conf_fail(lx->p, NULL, 0, "%s", pst_conf_oom);
		return NULL;
	}
	n->kind = kind;
	n->key = key;
	n->file = lx->file;
	n->line = line;
	return n;
}

static void
conf_append(struct conf_tail *tail, struct pst_conf_node *n)
{
	*tail->slot = n;
	tail->slot = &n->next;
}

/* After a value: ';' or ',' (consumed), or a line break, '}' or the end
 * of the file (left for the caller). */
static int
conf_expect_end(struct conf_lexer *lx, const struct conf_token *key)
{
	struct conf_token t;

	if (lex_next(lx, &t) < 0)
		return -1;
	if (t.type == T_SEMI || t.type == T_COMMA)
		return 0;
	if (t.nl_before || t.type == T_RBRACE || t.type == T_EOF) {
		lex_unget(lx, &t);
		return 0;
	}
	return conf_fail(lx->p, lx->file, t.line,
			 "expected ';' or newline after value of '%s'",
			 pst_conf_show(lx->p->arena, key->text));
}

static int
conf_parse_scalar(struct conf_lexer *lx, struct conf_tail *tail,
		  const struct conf_token *key, const struct conf_token *val)
{
	struct pst_conf_node *n;

	n = conf_node_new(lx, PST_CONF_SCALAR, key->text, key->line);
	if (n == NULL)
		return -1;
	n->value = val->text;
	n->quoted = val->type == T_STRING;
	conf_append(tail, n);
	return conf_expect_end(lx, key);
}

static int
conf_parse_list(struct conf_lexer *lx, struct conf_tail *tail,
		const struct conf_token *key, unsigned open_line)
{
	struct pst_conf_node *list, *item;
	struct conf_tail items;
	struct conf_token t;
	const char *name = pst_conf_show(lx->p->arena, key->text);
	bool want_item = true;

	list = conf_node_new(lx, PST_CONF_LIST, key->text, key->line);
	if (list == NULL)
		return -1;
	conf_append(tail, list);
	items.slot = &list->child;
	/* The '[' was read with no token peeked, so every token from here
	 * to the ']' is lexed with the list's word rules. */
	lx->in_list = true;
	for (;;) {
		if (lex_next(lx, &t) < 0)
			return -1;
		if (t.type == T_RBRACKET)
			break;
		if (t.type == T_EOF)
			return conf_fail(lx->p, lx->file, open_line,
					 "list '%s' is not closed (no ']' "
					 "before end of file)",
					 name);
		if (t.type == T_LBRACE)
			return conf_fail(lx->p, lx->file, t.line,
					 "a list holds only values, not "
					 "blocks (in list '%s')",
					 name);
		if (t.type == T_LBRACKET)
			return conf_fail(lx->p, lx->file, t.line,
					 "lists of lists are not supported "
					 "(in list '%s')",
					 name);
		if (want_item && (t.type == T_WORD || t.type == T_STRING)) {
			item = conf_node_new(lx, PST_CONF_SCALAR, NULL, t.line);
			if (item == NULL)
				return -1;
			item->value = t.text;
			item->quoted = t.type == T_STRING;
			conf_append(&items, item);
			want_item = false;
		} else if (!want_item && t.type == T_COMMA) {
			want_item = true;
		} else {
			return conf_fail(lx->p, lx->file, t.line,
					 "expected %s in list '%s', not %s",
					 want_item ? "a value or ']'"
						   : "',' or ']'",
					 name, conf_tok_show(lx, &t));
		}
	}
	lx->in_list = false;
	return conf_expect_end(lx, key);
}

static int
conf_parse_block(struct conf_lexer *lx, struct conf_tail *tail, unsigned depth,
		 const struct conf_token *key, const char *label)
{
	struct pst_conf_node *n;
	struct conf_tail inner;

	if (depth >= PST_CONF_MAX_DEPTH)
		return conf_fail(lx->p, lx->file, key->line,
				 "blocks nested more than %d deep",
				 PST_CONF_MAX_DEPTH);
	n = conf_node_new(lx, PST_CONF_BLOCK, key->text, key->line);
	if (n == NULL)
		return -1;
	n->label = label;
	conf_append(tail, n);
	inner.slot = &n->child;
	return conf_parse_entries(lx, &inner, depth + 1, n);
}

/* Read a whole regular file into the arena.  0, or -1 with *why_r. */
static int
conf_read_file(struct conf_parser *p, const char *path, const char **text_r,
	       size_t *len_r, const char **why_r)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd;

	if (p->files >= CONF_MAX_FILES) {
		*why_r = "too many configuration files";
		return -1;
	}
	p->files++;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*why_r = conf_strerror(p->arena, errno);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*why_r = conf_strerror(p->arena, errno);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		*why_r = "not a regular file";
		goto fail;
	}
	if (st.st_size > (off_t)PST_CONF_MAX_FILE_SIZE) {
		*why_r = pst_arena_printf(p->arena,
					  "file is larger than %u bytes",
					  PST_CONF_MAX_FILE_SIZE);
		goto fail;
	}
	if ((size_t)st.st_size > CONF_MAX_TOTAL_SIZE - p->total_size) {
		*why_r = "the configuration files are too large together";
		goto fail;
	}
	p->total_size += (size_t)st.st_size;
	buf = pst_arena_alloc(p->arena, (size_t)st.st_size + 1);
	if (buf == NULL) {
		*why_r = "out of memory";
		goto fail;
	}
	/* A file that grows meanwhile is cut at its size from fstat. */
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why_r = conf_strerror(p->arena, errno);
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*text_r = buf;
	*len_r = got;
	return 0;
fail:
	close(fd);
	if (*why_r == NULL)
		*why_r = "out of memory";
	return -1;
}

static int conf_parse_text(struct conf_parser *p, const char *file,
			   const char *text, size_t len, struct conf_tail *tail,
			   unsigned depth);

static int
conf_include_file(struct conf_lexer *lx, struct conf_tail *tail, unsigned depth,
		  unsigned line, const char *path)
{
	const char *text, *why = NULL, *file;
	size_t len;
	int rc;

	file = pst_arena_strdup(lx->p->arena, path);
	if (file == NULL)
		return conf_fail(lx->p, NULL, 0, "%s", pst_conf_oom);
	if (conf_read_file(lx->p, file, &text, &len, &why) < 0)
		return conf_fail(lx->p, lx->file, line,
				 "cannot include '%s': %s",
				 pst_conf_show(lx->p->arena, file), why);
	lx->p->include_depth++;
	rc = conf_parse_text(lx->p, file, text, len, tail, depth);
	lx->p->include_depth--;
	return rc;
}

/* dir/pattern, with glob(3)'s special bytes in dir escaped when the
 * result is to be globbed, so only the admin's pattern is a pattern. */
static char *
conf_resolve(struct pst_arena *arena, const char *file, const char *path,
	     bool for_glob)
{
	const char *slash = strrchr(file, '/');
	size_t dirlen, i, o = 0;
	char *dir;

	if (path[0] == '/' || slash == NULL)
		return pst_arena_strdup(arena, path);
	dirlen = (size_t)(slash - file);
	dir = pst_arena_alloc(arena, 2 * dirlen + 1);
	if (dir == NULL)
		return NULL;
	for (i = 0; i < dirlen; i++) {
		if (for_glob && strchr("*?[\\", file[i]) != NULL)
			dir[o++] = '\\';
		dir[o++] = file[i];
	}
	dir[o] = '\0';
	return pst_arena_printf(arena, "%s/%s", dir, path);
}

/* A directory on the way that does not exist just means no match; one
 * that cannot be read must not silently drop configuration. */
static int
conf_glob_error(const char *path, int err)
{
	(void)path;
	return err != ENOENT && err != ENOTDIR;
}

static int
conf_parse_include(struct conf_lexer *lx, struct conf_tail *tail,
		   unsigned depth, const struct conf_token *key)
{
	struct conf_parser *p = lx->p;
	struct conf_token t;
	bool pattern;
	char *path;
	glob_t g;
	int rc;

	if (lex_next(lx, &t) < 0)
		return -1;
	if ((t.type != T_WORD && t.type != T_STRING) || t.nl_before ||
	    t.text[0] == '\0')
		return conf_fail(p, lx->file, key->line,
				 ".include needs a file name or pattern");
	if (conf_expect_end(lx, key) < 0)
		return -1;
	if (!p->includes_allowed)
		return conf_fail(p, lx->file, key->line,
				 ".include is not allowed here (the text has "
				 "no file name)");
	if (p->include_depth >= PST_CONF_MAX_INCLUDE_DEPTH)
		return conf_fail(p, lx->file, key->line,
				 "include depth limit of %d exceeded (does "
				 "a file include itself?)",
				 PST_CONF_MAX_INCLUDE_DEPTH);
	pattern = strpbrk(t.text, "*?[") != NULL;
	path = conf_resolve(p->arena, lx->file, t.text, pattern);
	if (path == NULL)
		return conf_fail(p, NULL, 0, "%s", pst_conf_oom);
	if (strlen(path) >= PATH_MAX)
		return conf_fail(p, lx->file, key->line,
				 "include path is too long");
	if (!pattern)
		return conf_include_file(lx, tail, depth, key->line, path);

	rc = glob(path, 0, conf_glob_error, &g);
	if (rc == GLOB_NOMATCH)
		return 0; /* an empty conf.d/ is fine */
	if (rc != 0) {
		const char *why = rc == GLOB_NOSPACE
					  ? "out of memory"
					  : "a directory cannot be read";

		globfree(&g);
		return conf_fail(p, lx->file, key->line,
				 "cannot expand '%s': %s",
				 pst_conf_show(p->arena, t.text), why);
	}
	/* glob(3) sorts the names, so conf.d/10-x.conf comes before 20-y. */
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
		rc = conf_include_file(lx, tail, depth, key->line,
				       g.gl_pathv[i]);
	globfree(&g);
	return rc;
}

/* One entry starting with key: a value, a list, a block, or .include. */
static int
conf_parse_entry(struct conf_lexer *lx, struct conf_tail *tail, unsigned depth,
		 const struct conf_token *key)
{
	struct conf_token t, after;
	const char *name = key->text;

	if (key->type == T_WORD && strcmp(name, ".include") == 0)
		return conf_parse_include(lx, tail, depth, key);
	if (lex_next(lx, &t) < 0)
		return -1;
	switch (t.type) {
	case T_EQUALS:
	case T_COLON:
		if (lex_next(lx, &t) < 0)
			return -1;
		if (t.type == T_LBRACE)
			return conf_parse_block(lx, tail, depth, key, NULL);
		if (t.type == T_LBRACKET)
			return conf_parse_list(lx, tail, key, t.line);
		if (t.type == T_WORD || t.type == T_STRING)
			return conf_parse_scalar(lx, tail, key, &t);
		break;
	case T_LBRACE:
		return conf_parse_block(lx, tail, depth, key, NULL);
	case T_LBRACKET:
		if (t.nl_before)
			break;
		return conf_parse_list(lx, tail, key, t.line);
	case T_WORD:
	case T_STRING:
		if (t.nl_before)
			break;
		/* "name label {" or "name value": the token after decides. */
		if (lex_next(lx, &after) < 0)
			return -1;
		if (after.type == T_LBRACE)
			return conf_parse_block(lx, tail, depth, key, t.text);
		lex_unget(lx, &after);
		return conf_parse_scalar(lx, tail, key, &t);
	default:
		break;
	}
	if (t.nl_before || t.type == T_SEMI || t.type == T_COMMA ||
	    t.type == T_RBRACE || t.type == T_EOF)
		return conf_fail(lx->p, lx->file, key->line,
				 "missing value for '%s'",
				 pst_conf_show(lx->p->arena, name));
	return conf_fail(
		lx->p, lx->file, t.line, "expected a value for '%s', not %s",
		pst_conf_show(lx->p->arena, name), conf_tok_show(lx, &t));
}

/* The entries of a block up to its '}' (open != NULL) or of a file up to
 * its end (open == NULL). */
static int
conf_parse_entries(struct conf_lexer *lx, struct conf_tail *tail,
		   unsigned depth, const struct pst_conf_node *open)
{
	struct conf_token t;

	for (;;) {
		if (lex_next(lx, &t) < 0)
			return -1;
		switch (t.type) {
		case T_SEMI:
		case T_COMMA:
			continue; /* "a {};" and stray ";;" are harmless */
		case T_EOF:
			if (open == NULL)
				return 0;
			return conf_fail(
				lx->p, open->file, open->line,
				"block '%s' is not closed (no '}' "
				"before end of file)",
				pst_conf_show(lx->p->arena, open->key));
		case T_RBRACE:
			if (open != NULL)
				return 0;
			return conf_fail(lx->p, lx->file, t.line,
					 "unexpected '}' (no block is open)");
		case T_WORD:
		case T_STRING:
			if (conf_parse_entry(lx, tail, depth, &t) < 0)
				return -1;
			continue;
		default:
			return conf_fail(lx->p, lx->file, t.line,
					 "expected a key, not %s",
					 conf_tok_show(lx, &t));
		}
	}
}

static int
conf_parse_text(struct conf_parser *p, const char *file, const char *text,
		size_t len, struct conf_tail *tail, unsigned depth)
{
	struct conf_lexer lx = {
		.p = p,
		.file = file,
		.pos = text,
		.end = text + len,
		.line = 1,
	};
	const char *nul = memchr(text, '\0', len);

	if (nul != NULL) {
		unsigned line = 1;

		for (const char *s = text; s < nul; s++)
			line += *s == '\n';
		return conf_fail(p, file, line,
				 "NUL byte in the file (is it a text file?)");
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		lx.pos += 3; /* a UTF-8 byte order mark from a Windows editor */
	return conf_parse_entries(&lx, tail, depth, NULL);
}

static struct pst_conf_node *
conf_root_new(struct pst_arena *arena, const char *file)
{
	struct pst_conf_node *root = pst_arena_zalloc(arena, sizeof(*root));

	if (root == NULL)
		return NULL;
	root->kind = PST_CONF_BLOCK;
	root->file = file;
	root->line = 1;
	return root;
}

int
pst_conf_parse_string(struct pst_arena *arena, const char *name,
		      const char *text, size_t len,
		      struct pst_conf_node **root_r, const char **error_r)
{
	struct conf_parser p = {
		.arena = arena,
		.includes_allowed = name != NULL,
	};
	struct pst_conf_node *root;
	struct conf_tail tail;
	const char *file;

	file = pst_arena_strdup(arena, name != NULL ? name : CONF_NO_NAME);
	root = file != NULL ? conf_root_new(arena, file) : NULL;
	if (root == NULL) {
		*error_r = pst_conf_oom;
		return -1;
	}
	if (len > PST_CONF_MAX_FILE_SIZE) {
		*error_r = pst_conf_error(arena, root,
					  "text is larger than %u bytes",
					  PST_CONF_MAX_FILE_SIZE);
		return -1;
	}
	tail.slot = &root->child;
	if (conf_parse_text(&p, file, text, len, &tail, 0) < 0) {
		*error_r = p.error;
		return -1;
	}
	*root_r = root;
	return 0;
}

int
pst_conf_parse_file(struct pst_arena *arena, const char *path,
		    struct pst_conf_node **root_r, const char **error_r)
{
	struct conf_parser p = {
		.arena = arena,
		.includes_allowed = true,
	};
	struct pst_conf_node *root;
	struct conf_tail tail;
	const char *file, *text, *why = NULL;
	size_t len;

	file = pst_arena_strdup(arena, path);
	root = file != NULL ? conf_root_new(arena, file) : NULL;
	if (root == NULL) {
		*error_r = pst_conf_oom;
		return -1;
	}
	if (conf_read_file(&p, file, &text, &len, &why) < 0) {
		const char *msg = pst_arena_printf(arena, "%s: cannot read: %s",
						   file, why);

		*error_r = msg != NULL ? msg : pst_conf_oom;
		return -1;
	}
	tail.slot = &root->child;
	if (conf_parse_text(&p, file, text, len, &tail, 0) < 0) {
		*error_r = p.error;
		return -1;
	}
	*root_r = root;
	return 0;
}
