/*
 * test_conf.c - unit tests for util/conf.c: syntax, error texts with their
 * FILE:LINE prefix, includes (in a private mkdtemp directory), scalar
 * interpreters and typed binding onto a sample schema.
 *
 * Every table row is its own cmocka test, so the TAP output counts cases.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- tree dump: a compact text form of a parsed tree ----
 * key=value@line, key="quoted"@line, key=[a,"b"]@line,
 * key(label){...}@line; a node from another file shows @file:line with
 * the file's base name; a list item shows @line only off its list's line.
 */

static void
dump_value(struct pst_buf *b, const struct pst_conf_node *n)
{
	if (n->quoted)
		pst_buf_append_byte(b, '"');
	for (const unsigned char *s = (const unsigned char *)n->value; *s;
	     s++) {
		if (*s < 0x20)
			pst_buf_printf(b, "\\x%02x", *s);
		else
			pst_buf_append_byte(b, (char)*s);
	}
	if (n->quoted)
		pst_buf_append_byte(b, '"');
}

static void
dump_where(struct pst_buf *b, const struct pst_conf_node *n,
	   const char *rootfile)
{
	if (strcmp(n->file, rootfile) != 0) {
		const char *base = strrchr(n->file, '/');

		pst_buf_printf(b, "@%s:%u", base ? base + 1 : n->file, n->line);
	} else {
		pst_buf_printf(b, "@%u", n->line);
	}
}

static void
dump_nodes(struct pst_buf *b, const struct pst_conf_node *n,
	   const char *rootfile)
{
	for (bool first = true; n != NULL; n = n->next, first = false) {
		if (!first)
			pst_buf_append_byte(b, ' ');
		pst_buf_append_cstr(b, n->key ? n->key : "-");
		if (n->label != NULL)
			pst_buf_printf(b, "(%s)", n->label);
		switch (n->kind) {
		case PST_CONF_SCALAR:
			pst_buf_append_byte(b, '=');
			dump_value(b, n);
			break;
		case PST_CONF_LIST:
			pst_buf_append_cstr(b, "=[");
			for (const struct pst_conf_node *i = n->child; i;
			     i = i->next) {
				assert_int_equal(i->kind, PST_CONF_SCALAR);
				assert_null(i->key);
				dump_value(b, i);
				if (i->line != n->line)
					pst_buf_printf(b, "@%u", i->line);
				if (i->next)
					pst_buf_append_byte(b, ',');
			}
			pst_buf_append_byte(b, ']');
			break;
		case PST_CONF_BLOCK:
			pst_buf_append_byte(b, '{');
			dump_nodes(b, n->child, rootfile);
			pst_buf_append_byte(b, '}');
			break;
		}
		dump_where(b, n, rootfile);
	}
}

/* The dump of root, malloc'd. */
static char *
dump_root(const struct pst_conf_node *root)
{
	struct pst_buf b;
	char *s;

	assert_int_equal(root->kind, PST_CONF_BLOCK);
	assert_null(root->key);
	pst_buf_init(&b, 0);
	dump_nodes(&b, root->child, root->file);
	s = strdup(b.data ? b.data : "");
	pst_buf_free(&b);
	assert_non_null(s);
	return s;
}

/* ---- syntax: text that parses ---- */

struct parse_case {
	const char *name;
	const char *input;
	const char *want; /* dump of the tree */
};

static const struct parse_case parse_cases[] = {
	{ "syntax: key = value;", "a = 1;", "a=1@1" },
	{ "syntax: key value;", "a 1;", "a=1@1" },
	{ "syntax: key: value;", "a: 1;", "a=1@1" },
	{ "syntax: key:\"value\" without blank", "a:\"x\"", "a=\"x\"@1" },
	{ "syntax: newline ends a value", "a = 1\nb = 2\n", "a=1@1 b=2@2" },
	{ "syntax: comma ends a value", "a = 1, b = 2", "a=1@1 b=2@1" },
	{ "syntax: no terminator before }", "s { a = 1 }", "s{a=1@1}@1" },
	{ "syntax: stray separators", ";; a = 1;; ,", "a=1@1" },
	{ "syntax: empty input", "", "" },
	{ "syntax: only comments", "# x\n// y\n/* z */\n", "" },
	{ "syntax: UTF-8 byte order mark",
	  "\xef\xbb\xbf"
	  "a = 1",
	  "a=1@1" },
	{ "syntax: quoted key", "\"my key\" = v", "my key=v@1" },
	{ "syntax: duplicate keys kept in order", "a = 1\nb = x\na = 2",
	  "a=1@1 b=x@2 a=2@3" },
	{ "block: nested", "a {\n b {\n  c = d;\n }\n}\n", "a{b{c=d@3}@2}@1" },
	{ "block: key = { }", "a = { b = 1 }", "a{b=1@1}@1" },
	{ "block: brace on the next line", "smtp\n{\n a = 1\n}",
	  "smtp{a=1@3}@1" },
	{ "block: two on one line", "a {} b { c = 1 } d = 2",
	  "a{}@1 b{c=1@1}@1 d=2@1" },
	{ "block: bare label", "route default { upstream = \"maildir:/x\"; }",
	  "route(default){upstream=\"maildir:/x\"@1}@1" },
	{ "block: quoted label", "route \".example.org\" {}",
	  "route(.example.org){}@1" },
	{ "block: label and brace on next line", "filter spf\n{\n}",
	  "filter(spf){}@1" },
	{ "list: mixed quoting", "l = [a, \"b\", 'c']", "l=[a,\"b\",\"c\"]@1" },
	{ "list: trailing comma over lines", "l = [\n a,\n \"b\",\n]\nx = 1",
	  "l=[a@2,\"b\"@3]@1 x=1@5" },
	{ "list: empty", "l = []; m []", "l=[]@1 m=[]@1" },
	{ "list: without =", "listen [\"0.0.0.0:25\", \"[::]:25\"]",
	  "listen=[\"0.0.0.0:25\",\"[::]:25\"]@1" },
	{ "list: brackets inside bare items", "l = [a[1], b]; m = x]",
	  "l=[a[1],b]@1 m=x]@1" },
	{ "comment: all three kinds and lines",
	  "a = 1 # one\nb = 2 // two\n/* three\n four */ c = 3\nd = 4",
	  "a=1@1 b=2@2 c=3@4 d=4@5" },
	{ "comment: block comment counts as a line break", "a = 1 /*\n*/ b = 2",
	  "a=1@1 b=2@2" },
	{ "string: escapes", "s = \"q\\\"b\\\\n\\n\\t\\r\"",
	  "s=\"q\"b\\n\\x0a\\x09\\x0d\"@1" },
	{ "string: \\u escapes to UTF-8", "s = \"\\u0041\\u00e9\\u20AC\"",
	  "s=\"A\xc3\xa9\xe2\x82\xac\"@1" },
	{ "string: single quotes are raw", "s = 'a\\nb\"c'",
	  "s=\"a\\nb\"c\"@1" },
	{ "string: empty", "s = \"\"; t = ''", "s=\"\"@1 t=\"\"@1" },
	{ "word: every allowed byte", "a = x.y_z-1/2:3@4*5+6[7]%8~9",
	  "a=x.y_z-1/2:3@4*5+6[7]%8~9@1" },
	{ "word: URL with port", "u = smtp://10.0.0.5:25;",
	  "u=smtp://10.0.0.5:25@1" },
	{ "word: UTF-8 key and value", "gr\xc3\xbc\xc3\x9f = h\xc3\xa9llo",
	  "gr\xc3\xbc\xc3\x9f=h\xc3\xa9llo@1" },
	{ "CRLF line endings", "a = 1\r\nb {\r\n c = \"x\"\r\n}\r\nd 2\r\n",
	  "a=1@1 b{c=\"x\"@3}@2 d=2@5" },
	{ "DESIGN.md sample",
	  "hostname = \"mx.example.org\";\n"
	  "smtp {\n"
	  "  listen = [\"0.0.0.0:25\", \"[::]:25\"];\n"
	  "  tls { cert = \"/c.pem\"; key = \"/k.pem\"; }\n"
	  "  max_message_size = 50M;\n"
	  "}\n"
	  "route \"example.org\" { upstream = [\"smtp://10.0.0.5:25\"]; }\n"
	  "route default       { upstream = \"maildir:/var/mail\"; }\n"
	  "dns   { nameserver = \"127.0.0.1:53\"; timeout = 5s; }\n"
	  "filter spf {}\n",
	  "hostname=\"mx.example.org\"@1 smtp{listen=[\"0.0.0.0:25\","
	  "\"[::]:25\"]@3 tls{cert=\"/c.pem\"@4 key=\"/k.pem\"@4}@4 "
	  "max_message_size=50M@5}@2 route(example.org){upstream="
	  "[\"smtp://10.0.0.5:25\"]@7}@7 route(default){upstream="
	  "\"maildir:/var/mail\"@8}@8 dns{nameserver=\"127.0.0.1:53\"@9 "
	  "timeout=5s@9}@9 filter(spf){}@10" },
};

static void
test_parse(void **state)
{
	const struct parse_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node *root = NULL;
	const char *err = NULL;
	char *got;

	if (pst_conf_parse_string(arena, "t.conf", c->input, strlen(c->input),
				  &root, &err) < 0)
		fail_msg("%s: unexpected error: %s", c->name, err);
	assert_string_equal(root->file, "t.conf");
	got = dump_root(root);
	assert_string_equal(got, c->want);
	free(got);
	pst_arena_free(&arena);
}

/* ---- syntax: text that must be refused, with the exact message ---- */

struct error_case {
	const char *name;
	const char *input;
	size_t len;   /* 0: strlen(input) */
	bool no_name; /* parse with name NULL */
	const char *want;
};

static const struct error_case error_cases[] = {
	{ "error: unterminated string", "a = 1\nb = 2\nc = \"abc\nd = 1", 0,
	  false, "t.conf:3: unterminated string" },
	{ "error: unterminated string at end of file", "a = 'x", 0, false,
	  "t.conf:1: unterminated string" },
	{ "error: backslash-newline in string", "a = \"x\\\n\"", 0, false,
	  "t.conf:1: unterminated string" },
	{ "error: missing terminator",
	  "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\nlisten = x y\n", 0, false,
	  "t.conf:7: expected ';' or newline after value of 'listen'" },
	{ "error: unterminated block comment", "a = 1\n/* x\n\nb = 2\n", 0,
	  false,
	  "t.conf:2: unterminated comment (no '*/' before end of file)" },
	{ "error: unclosed block", "a = 1\nsmtp {\n x = 1\n", 0, false,
	  "t.conf:2: block 'smtp' is not closed (no '}' before end of "
	  "file)" },
	{ "error: stray }", "a = 1\n}\n", 0, false,
	  "t.conf:2: unexpected '}' (no block is open)" },
	{ "error: block in a list", "l = [a,\n{]", 0, false,
	  "t.conf:2: a list holds only values, not blocks (in list 'l')" },
	{ "error: list in a list", "l = [[a]]", 0, false,
	  "t.conf:1: lists of lists are not supported (in list 'l')" },
	{ "error: unclosed list", "x = 1\nl = [a,\n b\n", 0, false,
	  "t.conf:2: list 'l' is not closed (no ']' before end of file)" },
	{ "error: missing comma in list", "l = [a b]", 0, false,
	  "t.conf:1: expected ',' or ']' in list 'l', not 'b'" },
	{ "error: leading comma in list", "l = [,a]", 0, false,
	  "t.conf:1: expected a value or ']' in list 'l', not ','" },
	{ "error: missing value at end of line", "a =\n", 0, false,
	  "t.conf:1: missing value for 'a'" },
	{ "error: key alone on a line", "x = 1\nenabled\ny = 2", 0, false,
	  "t.conf:2: missing value for 'enabled'" },
	{ "error: key then ;", "a;", 0, false,
	  "t.conf:1: missing value for 'a'" },
	{ "error: value expected, got =", "a = = 1", 0, false,
	  "t.conf:1: expected a value for 'a', not '='" },
	{ "error: expected a key", "= 1", 0, false,
	  "t.conf:1: expected a key, not '='" },
	{ "error: unknown escape", "a = 1\ns = \"\\q\"", 0, false,
	  "t.conf:2: unknown escape '\\q' in string" },
	{ "error: \\u0000", "s = \"\\u0000\"", 0, false,
	  "t.conf:1: \\u0000 is not allowed in a string" },
	{ "error: \\u surrogate", "s = \"\\ud800\"", 0, false,
	  "t.conf:1: \\uD800 is a UTF-16 surrogate, not a character" },
	{ "error: short \\u", "s = \"\\u12\"", 0, false,
	  "t.conf:1: \\u in a string needs four hex digits" },
	{ "error: NUL byte", "a = 1\nb = 2\nc = x\0y\n", 20, false,
	  "t.conf:3: NUL byte in the file (is it a text file?)" },
	{ "error: NUL byte inside a string", "s = \"a\0\"", 8, false,
	  "t.conf:1: NUL byte in the file (is it a text file?)" },
	{ "error: unexpected character", "a = 1\n$x = 2", 0, false,
	  "t.conf:2: unexpected character '$'" },
	{ "error: control character", "a = \x01", 0, false,
	  "t.conf:1: unexpected control character 0x01" },
	{ "error: line count survives CRLF", "a = 1\r\nb = 2\r\nc = \"x\r\n", 0,
	  false, "t.conf:3: unterminated string" },
	{ "error: .include without a file name", ".include \"x.conf\";", 0,
	  true,
	  "<string>:1: .include is not allowed here (the text has no file "
	  "name)" },
	{ "error: .include without a path", "a = 1\n.include;", 0, false,
	  "t.conf:2: .include needs a file name or pattern" },
	{ "error: two labels", "route a b {}", 0, false,
	  "t.conf:1: expected ';' or newline after value of 'route'" },
};

static void
test_error(void **state)
{
	const struct error_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node *root = NULL;
	const char *err = NULL;
	size_t len = c->len ? c->len : strlen(c->input);

	assert_int_equal(pst_conf_parse_string(arena,
					       c->no_name ? NULL : "t.conf",
					       c->input, len, &root, &err),
			 -1);
	assert_non_null(err);
	assert_string_equal(err, c->want);
	pst_arena_free(&arena);
}

/* ---- limits that need generated input ---- */

static char *
nested_blocks(unsigned n)
{
	struct pst_buf b;

	pst_buf_init(&b, 0);
	for (unsigned i = 0; i < n; i++)
		pst_buf_append_cstr(&b, "b {\n");
	for (unsigned i = 0; i < n; i++)
		pst_buf_append_cstr(&b, "}\n");
	return b.data;
}

static void
test_depth_limit_ok(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node *root = NULL, *n;
	const char *err = NULL;
	char *text = nested_blocks(PST_CONF_MAX_DEPTH);
	unsigned depth = 0;

	(void)state;
	if (pst_conf_parse_string(arena, "t.conf", text, strlen(text), &root,
				  &err) < 0)
		fail_msg("%s", err);
	for (n = root->child; n != NULL; n = n->child)
		depth++;
	assert_int_equal(depth, PST_CONF_MAX_DEPTH);
	free(text);
	pst_arena_free(&arena);
}

static void
test_depth_limit_exceeded(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node *root = NULL;
	const char *err = NULL;
	char *text = nested_blocks(PST_CONF_MAX_DEPTH + 1);

	(void)state;
	assert_int_equal(pst_conf_parse_string(arena, "t.conf", text,
					       strlen(text), &root, &err),
			 -1);
	assert_string_equal(err, "t.conf:33: blocks nested more than 32 deep");
	free(text);
	pst_arena_free(&arena);
}

static void
test_long_string(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node *root = NULL;
	const char *err = NULL;
	size_t n = 64 * 1024 + 1;
	char *text = malloc(n + 8);

	(void)state;
	assert_non_null(text);
	memcpy(text, "s = \"", 5);
	memset(text + 5, 'x', n);
	memcpy(text + 5 + n, "\"", 2);
	assert_int_equal(pst_conf_parse_string(arena, "t.conf", text,
					       strlen(text), &root, &err),
			 -1);
	assert_string_equal(err, "t.conf:1: string longer than 65536 bytes");
	text[5 + n - 1] = '"'; /* exactly at the limit: fine */
	text[5 + n] = '\0';
	assert_int_equal(pst_conf_parse_string(arena, "t.conf", text,
					       strlen(text), &root, &err),
			 0);
	assert_int_equal(strlen(root->child->value), n - 1);
	free(text);
	pst_arena_free(&arena);
}

static void
test_too_many_nodes(void **state)
{
	struct pst_arena *arena = pst_arena_new(64 * 1024);
	struct pst_conf_node *root = NULL;
	const char *err = NULL;
	size_t items = 1u << 20; /* with the list node: one too many */
	size_t len = 5 + 2 * items + 1;
	char *text = malloc(len + 1);

	(void)state;
	assert_non_null(text);
	memcpy(text, "l = [", 5);
	for (size_t i = 0; i < items; i++)
		memcpy(text + 5 + 2 * i, "a,", 2);
	memcpy(text + len - 1, "]", 2);
	assert_int_equal(
		pst_conf_parse_string(arena, "t.conf", text, len, &root, &err),
		-1);
	assert_string_equal(err, "t.conf:1: too many entries (more than "
				 "1048576 in all files)");
	text[len - 3] = ']'; /* one item fewer fits */
	assert_int_equal(pst_conf_parse_string(arena, "t.conf", text, len - 2,
					       &root, &err),
			 0);
	free(text);
	pst_arena_free(&arena);
}

static void
test_text_too_large(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node *root = NULL;
	const char *err = NULL;
	size_t n = (size_t)PST_CONF_MAX_FILE_SIZE + 1;
	char *text = malloc(n);

	(void)state;
	assert_non_null(text);
	memset(text, '\n', n);
	assert_int_equal(
		pst_conf_parse_string(arena, "t.conf", text, n, &root, &err),
		-1);
	assert_string_equal(err,
			    "t.conf:1: text is larger than 16777216 bytes");
	free(text);
	pst_arena_free(&arena);
}

/* ---- includes, in a fresh temporary directory ---- */

struct conf_file {
	const char *path;    /* relative to the temp dir; "%D" allowed */
	const char *content; /* "%D" is replaced by the temp dir */
	off_t size;	     /* > 0: a sparse file of that size instead */
};

struct include_case {
	const char *name;
	struct conf_file files[11];
	const char *want;	/* dump, or NULL */
	const char *want_error; /* with "%D" for the temp dir */
};

static const struct include_case include_cases[] = {
	{ "include: spliced in place with its own lines",
	  { { "main.conf", "a = 1\n.include \"inc.conf\"\nb = 2\n" },
	    { "inc.conf", "\nx = 1\ny { z = 2 }\n" } },
	  "a=1@1 x=1@inc.conf:2 y{z=2@inc.conf:3}@inc.conf:3 b=2@3" },
	{ "include: inside a block",
	  { { "main.conf", "s {\n  a = 0\n  .include 'inc.conf';\n}\n" },
	    { "inc.conf", "x = 1\n" } },
	  "s{a=0@2 x=1@inc.conf:1}@1" },
	{ "include: relative to the including file",
	  { { "main.conf", ".include \"sub/a.conf\"" },
	    { "sub/a.conf", "a = 1\n.include \"b.conf\"\n" },
	    { "sub/b.conf", "b = 2" } },
	  "a=1@a.conf:1 b=2@b.conf:1" },
	{ "include: absolute path",
	  { { "main.conf", ".include \"%D/abs.conf\"\n" },
	    { "abs.conf", "x = y" } },
	  "x=y@abs.conf:1" },
	{ "include: glob in sorted order",
	  { { "main.conf", "a = 0\n.include \"conf.d/*.conf\"\nz = 9\n" },
	    { "conf.d/20-b.conf", "b = 2" },
	    { "conf.d/10-a.conf", "a = 1" },
	    { "conf.d/readme.txt", "not = included" } },
	  "a=0@1 a=1@10-a.conf:1 b=2@20-b.conf:1 z=9@3" },
	{ "include: glob without a match is fine",
	  { { "main.conf", "a = 1\n.include \"none.d/*.conf\"\nb = 2" } },
	  "a=1@1 b=2@3" },
	{ "include: depth 8 is allowed",
	  { { "main.conf", ".include \"i1.conf\"" },
	    { "i1.conf", ".include \"i2.conf\"" },
	    { "i2.conf", ".include \"i3.conf\"" },
	    { "i3.conf", ".include \"i4.conf\"" },
	    { "i4.conf", ".include \"i5.conf\"" },
	    { "i5.conf", ".include \"i6.conf\"" },
	    { "i6.conf", ".include \"i7.conf\"" },
	    { "i7.conf", ".include \"i8.conf\"" },
	    { "i8.conf", "deep = 8" } },
	  "deep=8@i8.conf:1" },
	{ "include: depth 9 is refused",
	  { { "main.conf", ".include \"i1.conf\"" },
	    { "i1.conf", ".include \"i2.conf\"" },
	    { "i2.conf", ".include \"i3.conf\"" },
	    { "i3.conf", ".include \"i4.conf\"" },
	    { "i4.conf", ".include \"i5.conf\"" },
	    { "i5.conf", ".include \"i6.conf\"" },
	    { "i6.conf", ".include \"i7.conf\"" },
	    { "i7.conf", ".include \"i8.conf\"" },
	    { "i8.conf", "\n.include \"i9.conf\"" },
	    { "i9.conf", "deep = 9" } },
	  NULL,
	  "%D/i8.conf:2: include depth limit of 8 exceeded (does a file "
	  "include itself?)" },
	{ "include: a file including itself",
	  { { "main.conf", "a = 1\n.include \"main.conf\"\n" } },
	  NULL,
	  "%D/main.conf:2: include depth limit of 8 exceeded (does a file "
	  "include itself?)" },
	{ "include: a cycle through a glob",
	  { { "main.conf", ".include \"*.inc\"\n" },
	    { "a.inc", ".include \"main.conf\"\n" } },
	  NULL,
	  "%D/main.conf:1: include depth limit of 8 exceeded (does a file "
	  "include itself?)" },
	{ "include: missing file",
	  { { "main.conf", "a = 1\n.include \"missing.conf\"\n" } },
	  NULL,
	  "%D/main.conf:2: cannot include '%D/missing.conf': No such file or "
	  "directory" },
	{ "include: error inside the included file names that file",
	  { { "main.conf", "a = 1\n.include \"inc.conf\"\n" },
	    { "inc.conf", "x = 1\ny = \"open\n" } },
	  NULL,
	  "%D/inc.conf:2: unterminated string" },
	{ "include: an included file cannot close the includer's block",
	  { { "main.conf", "s {\n.include \"inc.conf\"\n" },
	    { "inc.conf", "x = 1\n}\n" } },
	  NULL,
	  "%D/inc.conf:2: unexpected '}' (no block is open)" },
	{ "include: file too large",
	  { { "main.conf", ".include \"big.conf\"\n" },
	    { "big.conf", NULL, (off_t)PST_CONF_MAX_FILE_SIZE + 1 } },
	  NULL,
	  "%D/main.conf:1: cannot include '%D/big.conf': file is larger "
	  "than 16777216 bytes" },
	{ "include: a directory",
	  { { "main.conf", ".include \"sub\"\n" }, { "sub/x.conf", "" } },
	  NULL,
	  "%D/main.conf:1: cannot include '%D/sub': not a regular file" },
	{ "include: needs a terminator",
	  { { "main.conf", ".include \"a.conf\" x = 1\n" } },
	  NULL,
	  "%D/main.conf:1: expected ';' or newline after value of "
	  "'.include'" },
	{ "include: main file missing",
	  { { NULL } },
	  NULL,
	  "%D/main.conf: cannot read: No such file or directory" },
};

/* s with every "%D" replaced by dir; malloc'd. */
static char *
subst_dir(const char *s, const char *dir)
{
	struct pst_buf b;
	char *out;

	pst_buf_init(&b, 0);
	pst_buf_append_cstr(&b, "");
	for (const char *p = s; *p; p++) {
		if (p[0] == '%' && p[1] == 'D') {
			pst_buf_append_cstr(&b, dir);
			p++;
		} else {
			pst_buf_append_byte(&b, *p);
		}
	}
	out = strdup(b.data);
	pst_buf_free(&b);
	assert_non_null(out);
	return out;
}

static void
write_file(const char *dir, const struct conf_file *f)
{
	char *path = subst_dir(f->path, dir), *full, *slash;
	int fd;

	full = malloc(strlen(dir) + strlen(path) + 2);
	assert_non_null(full);
	sprintf(full, "%s/%s", dir, path);
	slash = strrchr(full, '/');
	*slash = '\0';
	(void)mkdir(full, 0700); /* one level of subdirectory is enough */
	*slash = '/';
	fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (f->size > 0) {
		assert_int_equal(ftruncate(fd, f->size), 0);
	} else {
		char *text = subst_dir(f->content, dir);
		size_t len = strlen(text);

		assert_int_equal(write(fd, text, len), (ssize_t)len);
		free(text);
	}
	close(fd);
	free(full);
	free(path);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
test_include(void **state)
{
	const struct include_case *c = *state;
	char dir[] = "/tmp/test_conf.XXXXXX";
	char *main_path, *want;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node *root = NULL;
	const char *err = NULL;
	int rc;

	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < N_ELEMS(c->files) && c->files[i].path; i++)
		write_file(dir, &c->files[i]);
	main_path = subst_dir("%D/main.conf", dir);
	rc = pst_conf_parse_file(arena, main_path, &root, &err);
	if (c->want_error != NULL) {
		want = subst_dir(c->want_error, dir);
		assert_int_equal(rc, -1);
		assert_string_equal(err, want);
	} else {
		if (rc < 0)
			fail_msg("%s: unexpected error: %s", c->name, err);
		assert_string_equal(root->file, main_path);
		want = dump_root(root);
		assert_string_equal(want, c->want);
	}
	free(want);
	free(main_path);
	pst_arena_free(&arena);
	assert_int_equal(nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---- scalar interpreters ---- */

enum scalar_kind { SIZE, DURATION, BOOL };

struct scalar_case {
	const char *name;
	enum scalar_kind kind;
	const char *input;
	int rc;
	uint64_t want; /* bytes, milliseconds, or 0/1 */
};

static const struct scalar_case scalar_cases[] = {
	{ "size: plain bytes", SIZE, "512", 0, 512 },
	{ "size: zero", SIZE, "0", 0, 0 },
	{ "size: k and K", SIZE, "64k", 0, 65536 },
	{ "size: K", SIZE, "64K", 0, 65536 },
	{ "size: M", SIZE, "10M", 0, 10485760 },
	{ "size: MB", SIZE, "10MB", 0, 10485760 },
	{ "size: gb", SIZE, "1gb", 0, 1073741824 },
	{ "size: bare b", SIZE, "2b", 0, 2 },
	{ "size: largest G", SIZE, "17179869183G", 0,
	  UINT64_C(17179869183) << 30 },
	{ "size: G overflow", SIZE, "17179869184G", -1, 0 },
	{ "size: UINT64_MAX", SIZE, "18446744073709551615", 0, UINT64_MAX },
	{ "size: UINT64_MAX + 1", SIZE, "18446744073709551616", -1, 0 },
	{ "size: empty", SIZE, "", -1, 0 },
	{ "size: suffix alone", SIZE, "k", -1, 0 },
	{ "size: blank inside", SIZE, "10 M", -1, 0 },
	{ "size: negative", SIZE, "-1", -1, 0 },
	{ "size: fraction", SIZE, "1.5M", -1, 0 },
	{ "size: double B", SIZE, "10MBB", -1, 0 },
	{ "size: unknown suffix", SIZE, "1T", -1, 0 },
	{ "duration: bare number is seconds", DURATION, "30", 0, 30000 },
	{ "duration: s", DURATION, "30s", 0, 30000 },
	{ "duration: ms", DURATION, "500ms", 0, 500 },
	{ "duration: min", DURATION, "5min", 0, 300000 },
	{ "duration: m", DURATION, "5m", 0, 300000 },
	{ "duration: h", DURATION, "2h", 0, 7200000 },
	{ "duration: d", DURATION, "1d", 0, 86400000 },
	{ "duration: upper case", DURATION, "1H", 0, 3600000 },
	{ "duration: zero", DURATION, "0", 0, 0 },
	{ "duration: UINT64_MAX ms", DURATION, "18446744073709551615ms", 0,
	  UINT64_MAX },
	{ "duration: seconds overflow", DURATION, "18446744073709552s", -1, 0 },
	{ "duration: days overflow", DURATION, "213503982335d", -1, 0 },
	{ "duration: unknown suffix", DURATION, "10x", -1, 0 },
	{ "duration: suffix alone", DURATION, "ms", -1, 0 },
	{ "duration: empty", DURATION, "", -1, 0 },
	{ "duration: fraction", DURATION, "1.5s", -1, 0 },
	{ "duration: mins", DURATION, "5mins", -1, 0 },
	{ "bool: true", BOOL, "true", 0, 1 },
	{ "bool: yes", BOOL, "yes", 0, 1 },
	{ "bool: ON", BOOL, "ON", 0, 1 },
	{ "bool: False", BOOL, "False", 0, 0 },
	{ "bool: no", BOOL, "no", 0, 0 },
	{ "bool: off", BOOL, "off", 0, 0 },
	{ "bool: 1 is not a word", BOOL, "1", -1, 0 },
	{ "bool: empty", BOOL, "", -1, 0 },
	{ "bool: yess", BOOL, "yess", -1, 0 },
};

static void
test_scalar(void **state)
{
	const struct scalar_case *c = *state;
	uint64_t v = 12345;
	bool b = false;
	int rc;

	switch (c->kind) {
	case SIZE:
		rc = pst_conf_parse_size(c->input, &v);
		break;
	case DURATION:
		rc = pst_conf_parse_duration(c->input, &v);
		break;
	default:
		rc = pst_conf_parse_bool(c->input, &b);
		v = b;
		break;
	}
	assert_int_equal(rc, c->rc);
	if (rc == 0)
		assert_true(v == c->want);
}

/* ---- binding: a sample schema with nested block handlers ---- */

struct smtp_conf {
	struct pst_conf_strings listen;
	uint64_t max_size, timeout, max_rcpt;
	int mode;
	bool starttls;
};

struct route_conf {
	const char *domain;
	struct pst_conf_strings upstream;
	uint64_t weight;
};

struct sample {
	const char *hostname;
	bool debug;
	struct pst_conf_strings rules;
	struct smtp_conf smtp;
	struct route_conf routes[4];
	size_t nroutes;
};

static const char *const modes[] = { "proxy", "store", NULL };

static const struct pst_conf_field smtp_fields[] = {
	{ .name = "listen",
	  .type = PST_CONF_T_STRINGS,
	  .offset = offsetof(struct smtp_conf, listen) },
	{ .name = "max_message_size",
	  .type = PST_CONF_T_SIZE,
	  .offset = offsetof(struct smtp_conf, max_size),
	  .min = 1024,
	  .max = 1u << 30 },
	{ .name = "timeout",
	  .type = PST_CONF_T_DURATION,
	  .offset = offsetof(struct smtp_conf, timeout),
	  .min = 1000,
	  .max = 3600000 },
	{ .name = "max_recipients",
	  .type = PST_CONF_T_UINT,
	  .offset = offsetof(struct smtp_conf, max_rcpt),
	  .min = 1,
	  .max = 100000 },
	{ .name = "mode",
	  .type = PST_CONF_T_ENUM,
	  .offset = offsetof(struct smtp_conf, mode),
	  .choices = modes },
	{ .name = "starttls",
	  .type = PST_CONF_T_BOOL,
	  .offset = offsetof(struct smtp_conf, starttls) },
	{ .name = NULL },
};

static const struct pst_conf_field route_fields[] = {
	{ .name = "upstream",
	  .type = PST_CONF_T_STRINGS,
	  .offset = offsetof(struct route_conf, upstream),
	  .required = true },
	{ .name = "weight",
	  .type = PST_CONF_T_UINT,
	  .offset = offsetof(struct route_conf, weight) },
	{ .name = NULL },
};

static int
bind_smtp(struct pst_arena *arena, const struct pst_conf_node *node, void *obj,
	  const char **error_r)
{
	struct sample *s = obj;

	return pst_conf_bind(arena, node, smtp_fields, &s->smtp, error_r);
}

static int
bind_route(struct pst_arena *arena, const struct pst_conf_node *node, void *obj,
	   const char **error_r)
{
	struct sample *s = obj;
	struct route_conf *r;

	if (node->label == NULL) {
		*error_r = pst_conf_error(arena, node,
					  "route needs a domain: route "
					  "\"example.org\" { ... }");
		return -1;
	}
	if (s->nroutes == N_ELEMS(s->routes)) {
		*error_r = pst_conf_error(arena, node, "too many routes");
		return -1;
	}
	r = &s->routes[s->nroutes];
	r->domain = node->label;
	if (pst_conf_bind(arena, node, route_fields, r, error_r) < 0)
		return -1;
	s->nroutes++;
	return 0;
}

static const struct pst_conf_field sample_fields[] = {
	{ .name = "hostname",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct sample, hostname),
	  .required = true },
	{ .name = "debug",
	  .type = PST_CONF_T_BOOL,
	  .offset = offsetof(struct sample, debug) },
	{ .name = "rules",
	  .type = PST_CONF_T_STRINGS,
	  .offset = offsetof(struct sample, rules) },
	{ .name = "smtp", .type = PST_CONF_T_BLOCK, .block = bind_smtp },
	{ .name = "route",
	  .type = PST_CONF_T_BLOCK,
	  .block = bind_route,
	  .repeatable = true },
	{ .name = NULL },
};

static void
dump_strings(struct pst_buf *b, const struct pst_conf_strings *s)
{
	pst_buf_append_byte(b, '[');
	for (size_t i = 0; i < s->n; i++)
		pst_buf_printf(b, "%s%s", i ? "," : "", s->v[i]);
	pst_buf_append_byte(b, ']');
}

static char *
dump_sample(const struct sample *s)
{
	struct pst_buf b;
	char *out;

	pst_buf_init(&b, 0);
	pst_buf_printf(&b, "host=%s debug=%d rules=", s->hostname, s->debug);
	dump_strings(&b, &s->rules);
	pst_buf_append_cstr(&b, " listen=");
	dump_strings(&b, &s->smtp.listen);
	pst_buf_printf(&b,
		       " size=%" PRIu64 " timeout=%" PRIu64 " rcpt=%" PRIu64
		       " mode=%d tls=%d routes=",
		       s->smtp.max_size, s->smtp.timeout, s->smtp.max_rcpt,
		       s->smtp.mode, s->smtp.starttls);
	for (size_t i = 0; i < s->nroutes; i++) {
		pst_buf_printf(&b, "%s%s:", i ? "," : "", s->routes[i].domain);
		dump_strings(&b, &s->routes[i].upstream);
		pst_buf_printf(&b, "/%" PRIu64, s->routes[i].weight);
	}
	out = strdup(b.data);
	pst_buf_free(&b);
	assert_non_null(out);
	return out;
}

struct bind_case {
	const char *name;
	const char *input;
	const char *want; /* dump_sample, when want_error is NULL */
	const char *want_error;
};

#define DEFAULTS "size=10485760 timeout=300000 rcpt=100 mode=0 tls=0"

static const struct bind_case bind_cases[] = {
	{ "bind: full sample",
	  "hostname = mx.example.org\n"
	  "debug = yes\n"
	  "rules = [\"/etc/a.rules\", '/etc/b.rules']\n"
	  "smtp {\n"
	  "  listen = [\"0.0.0.0:25\", \"[::]:25\"]\n"
	  "  max_message_size = 50M\n"
	  "  timeout = 5min\n"
	  "  max_recipients = 1000\n"
	  "  mode = store\n"
	  "  starttls = on\n"
	  "}\n"
	  "route \"example.org\" { upstream = [smtp://10.0.0.5:25, "
	  "smtp://10.0.0.6:25]; weight = 5 }\n"
	  "route default { upstream = \"maildir:/var/mail\" }\n",
	  "host=mx.example.org debug=1 rules=[/etc/a.rules,/etc/b.rules] "
	  "listen=[0.0.0.0:25,[::]:25] size=52428800 timeout=300000 "
	  "rcpt=1000 mode=1 tls=1 routes=example.org:[smtp://10.0.0.5:25,"
	  "smtp://10.0.0.6:25]/5,default:[maildir:/var/mail]/0" },
	{ "bind: defaults kept", "hostname = mx",
	  "host=mx debug=0 rules=[] listen=[] " DEFAULTS " routes=" },
	{ "bind: one value for a list field",
	  "hostname = mx\nrules = /etc/x.rules\nsmtp { listen = \":25\" }",
	  "host=mx debug=0 rules=[/etc/x.rules] listen=[:25] " DEFAULTS
	  " routes=" },
	{ "bind: enum is case-insensitive",
	  "hostname = mx\nsmtp { mode = "
	  "PROXY; timeout = 1s; max_message_size = 1k }",
	  "host=mx debug=0 rules=[] listen=[] size=1024 timeout=1000 rcpt=100 "
	  "mode=0 tls=0 routes=" },
	{ "bind: range bounds are inclusive",
	  "hostname = mx\nsmtp { max_recipients = 100000; max_message_size "
	  "= 1G; timeout = 1h }",
	  "host=mx debug=0 rules=[] listen=[] size=1073741824 "
	  "timeout=3600000 rcpt=100000 mode=0 tls=0 routes=" },
	{ "bind: unknown key with a suggestion",
	  "hostname = mx\nsmtp {\n  listen = :25\n  max_mesage_size = 10M\n}",
	  NULL,
	  "t.conf:4: unknown key 'max_mesage_size' in block 'smtp' (did you "
	  "mean 'max_message_size'?)" },
	{ "bind: unknown key at top level", "hostname = mx\nzzz = 1", NULL,
	  "t.conf:2: unknown key 'zzz' at top level" },
	{ "bind: unknown key in a labelled block",
	  "hostname = mx\nroute default {\n upstream = x\n wieght = 1\n}", NULL,
	  "t.conf:4: unknown key 'wieght' in block 'route default' (did you "
	  "mean 'weight'?)" },
	{ "bind: list where a string goes", "hostname = [a, b]", NULL,
	  "t.conf:1: 'hostname' must be a single value, not a list" },
	{ "bind: block where a string goes", "hostname { }", NULL,
	  "t.conf:1: 'hostname' must be a single value, not a block" },
	{ "bind: value where a block goes", "hostname = mx\nsmtp = yes", NULL,
	  "t.conf:2: 'smtp' must be a block { ... }, not a single value" },
	{ "bind: block where a list goes", "hostname = mx\nrules { }", NULL,
	  "t.conf:2: 'rules' must be a value or a list of values, not a "
	  "block" },
	{ "bind: bad size",
	  "hostname = mx\nsmtp {\n max_message_size = lots\n}", NULL,
	  "t.conf:3: 'max_message_size' must be a size such as 512k, 10M or "
	  "1G, not 'lots'" },
	{ "bind: size above its range",
	  "hostname = mx\nsmtp { max_message_size = 2G }", NULL,
	  "t.conf:2: 'max_message_size' must be between 1k and 1G, not 2G" },
	{ "bind: size overflow",
	  "hostname = mx\nsmtp { max_message_size = 99999999999G }", NULL,
	  "t.conf:2: 'max_message_size' must be between 1k and 1G, not "
	  "99999999999G" },
	{ "bind: number below its range",
	  "hostname = mx\nsmtp {\n\n max_recipients = 0 }", NULL,
	  "t.conf:4: 'max_recipients' must be between 1 and 100000, not 0" },
	{ "bind: number overflow",
	  "hostname = mx\nsmtp { max_recipients = 99999999999999999999 }", NULL,
	  "t.conf:2: 'max_recipients' must be between 1 and 100000, not "
	  "99999999999999999999" },
	{ "bind: number overflow without a range",
	  "hostname = mx\nroute x { upstream = y; weight = "
	  "18446744073709551616 }",
	  NULL,
	  "t.conf:2: 'weight' must be between 0 and 18446744073709551615, "
	  "not 18446744073709551616" },
	{ "bind: number with a suffix",
	  "hostname = mx\nsmtp { max_recipients "
	  "= 10k }",
	  NULL,
	  "t.conf:2: 'max_recipients' must be a whole number, not '10k'" },
	{ "bind: bad duration", "hostname = mx\nsmtp { timeout = soon }", NULL,
	  "t.conf:2: 'timeout' must be a duration such as 500ms, 30s, 5min, "
	  "2h or 1d, not 'soon'" },
	{ "bind: duration out of range",
	  "hostname = mx\nsmtp { timeout = "
	  "500ms }",
	  NULL, "t.conf:2: 'timeout' must be between 1s and 1h, not 500ms" },
	{ "bind: bad enum", "hostname = mx\nsmtp { mode = relay }", NULL,
	  "t.conf:2: 'mode' must be one of proxy, store, not 'relay'" },
	{ "bind: bad bool", "hostname = mx\ndebug = maybe", NULL,
	  "t.conf:2: 'debug' must be yes or no (true/false, on/off), not "
	  "'maybe'" },
	{ "bind: duplicate key", "hostname = a\ndebug = no\nhostname = b", NULL,
	  "t.conf:3: duplicate key 'hostname' (first at t.conf:1)" },
	{ "bind: duplicate block", "hostname = mx\nsmtp {}\n\nsmtp {}", NULL,
	  "t.conf:4: duplicate block 'smtp' (first at t.conf:2)" },
	{ "bind: duplicate key in a nested block",
	  "hostname = mx\nsmtp {\n mode = proxy\n mode = store\n}", NULL,
	  "t.conf:4: duplicate key 'mode' (first at t.conf:3)" },
	{ "bind: required key missing", "\ndebug = yes", NULL,
	  "t.conf:1: missing required key 'hostname' at top level" },
	{ "bind: required key missing in a nested block",
	  "hostname = mx\nroute default { upstream = a }\nroute x {\n}", NULL,
	  "t.conf:3: missing required key 'upstream' in block 'route x'" },
	{ "bind: error from a block handler",
	  "hostname = mx\nroute { upstream = a }", NULL,
	  "t.conf:2: route needs a domain: route \"example.org\" { ... }" },
	{ "bind: hostile text is shown tamed", "hostname = mx\n\"a\\tb\" = 1",
	  NULL, "t.conf:2: unknown key 'a?b' at top level" },
};

static void
test_bind(void **state)
{
	const struct bind_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node *root = NULL;
	struct sample s = {
		.smtp = { .max_size = 10 << 20,
			  .timeout = 300000,
			  .max_rcpt = 100 },
	};
	const char *err = NULL;
	char *got;
	int rc;

	if (pst_conf_parse_string(arena, "t.conf", c->input, strlen(c->input),
				  &root, &err) < 0)
		fail_msg("%s: parse error: %s", c->name, err);
	rc = pst_conf_bind(arena, root, sample_fields, &s, &err);
	if (c->want_error != NULL) {
		assert_int_equal(rc, -1);
		assert_string_equal(err, c->want_error);
	} else {
		if (rc < 0)
			fail_msg("%s: unexpected error: %s", c->name, err);
		got = dump_sample(&s);
		assert_string_equal(got, c->want);
		free(got);
	}
	pst_arena_free(&arena);
}

static void
test_error_helper(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node node = { .file = "x.conf", .line = 12 };

	(void)state;
	assert_string_equal(
		pst_conf_error(arena, &node, "bad %s %d", "thing", 7),
		"x.conf:12: bad thing 7");
	pst_arena_free(&arena);
}

#define SINGLE_TESTS 6

int
main(void)
{
	static struct CMUnitTest
		tests[N_ELEMS(parse_cases) + N_ELEMS(error_cases) +
		      N_ELEMS(include_cases) + N_ELEMS(scalar_cases) +
		      N_ELEMS(bind_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_depth_limit_ok),
		cmocka_unit_test(test_depth_limit_exceeded),
		cmocka_unit_test(test_long_string),
		cmocka_unit_test(test_too_many_nodes),
		cmocka_unit_test(test_text_too_large),
		cmocka_unit_test(test_error_helper),
	};
	size_t n = 0;

#define ADD_ROWS(table, fn)                                                    \
	for (size_t i = 0; i < N_ELEMS(table); i++)                            \
	tests[n++] = (struct CMUnitTest){ .name = table[i].name,               \
					  .test_func = fn,                     \
					  .initial_state = (void *)&table[i] }
	ADD_ROWS(parse_cases, test_parse);
	ADD_ROWS(error_cases, test_error);
	ADD_ROWS(include_cases, test_include);
	ADD_ROWS(scalar_cases, test_scalar);
	ADD_ROWS(bind_cases, test_bind);
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	/* Every slot is filled, so the macro's sizeof count is right. */
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
