/*
 * test_mime.c - the streaming MIME parser: structure, boundaries,
 * embedded messages, uuencoded files, ambiguous and broken input, limits.
 *
 * Every table message is parsed fed whole, byte by byte and in random
 * chunks (three seeds): the trees must be identical to the byte (types,
 * offsets, sizes, SHA-256, defects).  Each tree is checked for the
 * offset invariants, every leaf is read back through struct mime_reader
 * and must give its size and SHA-256, and the pre-order outline must be
 * the one the table expects:  "DEPTH TYPE [SIZE] ["FILENAME"]" per part,
 * joined with " | "; a 'u' after the depth marks a uuencoded file found
 * in a text part.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "arena.h"
#include "mime.h"

struct mime_case {
	const char *name;
	const char *in;
	const char *want; /* outline */
	uint64_t defects; /* union over the tree, exactly */
};

/* The same with limits (0: the default). */
struct limit_case {
	struct mime_case c;
	unsigned depth, parts;
	size_t hline, hsize, boundary;
};

#define MP "Content-Type: multipart/mixed; boundary=b\n\n"
#define B64 "Content-Transfer-Encoding: base64\n"
#define UU                                                                     \
	"begin 644 x.exe\n"                                                    \
	"#86)C\n"                                                              \
	"`\n"                                                                  \
	"end\n"

static const struct mime_case cases[] = {
	/* ---- single parts ---- */
	{ "text, LF", "Subject: x\n\nhello\n", "0 text/plain 6", 0 },
	{ "text, CRLF", "Subject: x\r\n\r\nhello\r\n", "0 text/plain 7", 0 },
	{ "empty input", "", "0 text/plain 0", 0 },
	{ "headers only, no blank line", "Subject: x\n", "0 text/plain 0", 0 },
	{ "headers only, no line break", "Subject: x", "0 text/plain 0", 0 },
	{ "body only", "\nhello", "0 text/plain 5", 0 },
	{ "a line without colon starts the body", "Subject: x\nhello\nworld\n",
	  "0 text/plain 12", MIME_D_HEADER_SYNTAX },
	{ "mbox From line skipped", "From a@b Mon Jan 1\nSubject: x\n\nhi\n",
	  "0 text/plain 3", 0 },
	{ "first line a continuation: dropped",
	  " folded\nContent-Type: text/html\n\n<p>\n", "0 text/html 4",
	  MIME_D_HEADER_SYNTAX },
	{ "whitespace before the colon is a header",
	  "Content-Type : text/html\n\n<p>\n", "0 text/html 4",
	  MIME_D_HEADER_SPACE_COLON },
	{ "invalid Content-Type is text/plain", "Content-Type: image\n\nabc",
	  "0 text/plain 3", MIME_D_BAD_CONTENT_TYPE },
	{ "base64 leaf decoded",
	  "Content-Type: application/pdf\n" B64 "\nYWJj\nZGVm\n",
	  "0 application/pdf 6", 0 },
	{ "base64 garbage flagged",
	  "Content-Type: application/pdf\n" B64 "\nYW*Jj\n",
	  "0 application/pdf 3", MIME_D_B64_GARBAGE },
	{ "quoted-printable leaf decoded",
	  "Content-Transfer-Encoding: quoted-printable\n\na=3Db=\nc\n",
	  "0 text/plain 5", 0 },
	{ "unknown transfer encoding passes through",
	  "Content-Transfer-Encoding: x-foo\n\nabc", "0 text/plain 3",
	  MIME_D_UNKNOWN_CTE },
	{ "duplicate Content-Type: the first wins",
	  "Content-Type: text/plain\nContent-Type: text/html\n\nx",
	  "0 text/plain 1", MIME_D_DUP_CONTENT_TYPE },
	{ "bare CR in a header", "Subject: a\rb\n\nx", "0 text/plain 1",
	  MIME_D_BARE_CR },
	{ "mixed line endings", "Subject: a\r\nX: b\n\nx", "0 text/plain 1",
	  MIME_D_MIXED_EOL },

	/* ---- filenames ---- */
	{ "filename from Content-Disposition beats name",
	  "Content-Type: application/x; name=\"n.exe\"\n"
	  "Content-Disposition: attachment; filename=\"f.pdf\"\n\nx",
	  "0 application/x 1 \"f.pdf\"", MIME_D_DUP_FILENAME },
	{ "filename* beats filename",
	  "Content-Disposition: attachment; filename=\"a.txt\"; "
	  "filename*=utf-8''%C3%A9.exe\n\nx",
	  "0 text/plain 1 \"\xc3\xa9.exe\"", MIME_D_DUP_FILENAME },
	{ "name when there is no filename",
	  "Content-Type: application/x; name==?utf-8?q?r=C3=A9sum=C3=A9.doc?=\n"
	  "Content-Disposition: attachment\n\nx",
	  "0 application/x 1 \"r\xc3\xa9sum\xc3\xa9.doc\"", 0 },
	{ "blanks around the shown name trimmed",
	  "Content-Disposition: attachment; filename=\" a.exe \"\n\nx",
	  "0 text/plain 1 \"a.exe\"", 0 },

	/* ---- multipart ---- */
	{ "multipart, LF",
	  MP "pre\n--b\nContent-Type: text/plain\n\nhello\n"
	     "--b\n\nworld\n--b--\nepilogue\n",
	  "0 multipart/mixed | 1 text/plain 5 | 1 text/plain 5", 0 },
	{ "multipart, CRLF",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
	  "hello\r\n--b\r\n\r\nworld\r\n\r\n--b--\r\n",
	  "0 multipart/mixed | 1 text/plain 5 | 1 text/plain 7", 0 },
	{ "delimiter with trailing blanks", MP "--b \t\n\nx\n--b-- \n",
	  "0 multipart/mixed | 1 text/plain 1", 0 },
	{ "delimiter with junk is no delimiter",
	  MP "--b\n\nx\n--bx\ny\n--b junk\n--b--\n",
	  "0 multipart/mixed | 1 text/plain 17", MIME_D_BOUNDARY_PREFIX },
	{ "empty preamble, first line a delimiter", MP "--b\n\nx\n--b--",
	  "0 multipart/mixed | 1 text/plain 1", 0 },
	{ "part with headers and no body",
	  MP "--b\nContent-Type: text/html\n--b\n\ny\n--b--\n",
	  "0 multipart/mixed | 1 text/html 0 | 1 text/plain 1", 0 },
	{ "two delimiters in a row: an empty part", MP "--b\n--b\n\ny\n--b--\n",
	  "0 multipart/mixed | 1 text/plain 0 | 1 text/plain 1", 0 },
	{ "missing close delimiter", MP "--b\n\nlast\n",
	  "0 multipart/mixed | 1 text/plain 4", MIME_D_NO_FINAL_BOUNDARY },
	{ "missing boundary parameter: one leaf",
	  "Content-Type: multipart/mixed\n\n--b\n\nx\n", "0 multipart/mixed 7",
	  MIME_D_NO_BOUNDARY },
	{ "empty boundary: one leaf",
	  "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n\nx\n",
	  "0 multipart/mixed 6", MIME_D_BAD_BOUNDARY },
	{ "no delimiter ever: the body is one leaf", MP "just text\n",
	  "0 multipart/mixed 10", MIME_D_NO_START_BOUNDARY },
	{ "close before any part: the preamble is the leaf",
	  MP "pre\n--b--\nepi\n", "0 multipart/mixed 3",
	  MIME_D_NO_START_BOUNDARY },
	{ "nested multiparts",
	  MP "--b\nContent-Type: multipart/alternative; boundary=c\n\n"
	     "--c\n\nt\n--c\nContent-Type: text/html\n\nh\n--c--\n"
	     "--b\nContent-Type: image/png\n" B64 "\nYWJj\n--b--\n",
	  "0 multipart/mixed | 1 multipart/alternative | 2 text/plain 1 | "
	  "2 text/html 1 | 1 image/png 3",
	  0 },
	{ "inner boundary longer than the outer (a prefix)",
	  MP "--b\nContent-Type: multipart/alternative; boundary=bb\n\n"
	     "--bb\n\n1\n--bb\n\n2\n--bb--\n--b--\n",
	  "0 multipart/mixed | 1 multipart/alternative | 2 text/plain 1 | "
	  "2 text/plain 1",
	  0 },
	{ "inner missing its close: the outer delimiter ends it",
	  MP "--b\nContent-Type: multipart/alternative; boundary=c\n\n"
	     "--c\n\n1\n--b\n\n2\n--b--\n",
	  "0 multipart/mixed | 1 multipart/alternative | 2 text/plain 1 | "
	  "1 text/plain 1",
	  MIME_D_NO_FINAL_BOUNDARY },
	{ "nested multipart reusing the boundary: outer wins",
	  MP "--b\nContent-Type: multipart/alternative; boundary=b\n\n"
	     "--b\n\n1\n--b--\n",
	  "0 multipart/mixed | 1 multipart/alternative 0 | 1 text/plain 1",
	  MIME_D_AMBIGUOUS_BOUNDARY | MIME_D_NO_START_BOUNDARY },
	{ "a line that is two delimiters: the outer one wins",
	  "Content-Type: multipart/mixed; boundary=\"x--\"\n\n--x--\n"
	  "Content-Type: multipart/alternative; boundary=x\n\n--x\n\na\n"
	  "--x--\n\nb\n--x----\n",
	  "0 multipart/mixed | 1 multipart/alternative | 2 text/plain 1 | "
	  "1 text/plain 1",
	  MIME_D_AMBIGUOUS_BOUNDARY | MIME_D_NO_FINAL_BOUNDARY },
	{ "two boundary parameters: both split",
	  "Content-Type: multipart/mixed; boundary=a; boundary=b\n\n"
	  "--a\n\n1\n--b\n\n2\n--b--\n",
	  "0 multipart/mixed | 1 text/plain 1 | 1 text/plain 1",
	  MIME_D_AMBIGUOUS_BOUNDARY | MIME_D_PARAM_DUPLICATE },
	{ "two Content-Type fields: both boundaries split",
	  "Content-Type: multipart/mixed; boundary=a\n"
	  "Content-Type: multipart/mixed; boundary=b\n\n"
	  "--a\n\n1\n--b\n\n2\n--a--\n",
	  "0 multipart/mixed | 1 text/plain 1 | 1 text/plain 1",
	  MIME_D_AMBIGUOUS_BOUNDARY | MIME_D_DUP_CONTENT_TYPE },
	{ "transfer encoding on a multipart ignored, flagged",
	  "Content-Type: multipart/mixed; boundary=b\n" B64 "\n"
	  "--b\n\nx\n--b--\n",
	  "0 multipart/mixed | 1 text/plain 1", MIME_D_MULTIPART_CTE },
	{ "multipart/digest children default to message/rfc822",
	  "Content-Type: multipart/digest; boundary=b\n\n--b\n\n"
	  "Subject: in\n\nbody\n--b--\n",
	  "0 multipart/digest | 1 message/rfc822 | 2 text/plain 4", 0 },
	{ "multipart headers at the end of input",
	  "Content-Type: multipart/mixed; boundary=b\n", "0 multipart/mixed 0",
	  MIME_D_NO_START_BOUNDARY },

	/* ---- embedded messages ---- */
	{ "message/rfc822",
	  "Content-Type: message/rfc822\n\n"
	  "Subject: in\n\nbody\n",
	  "0 message/rfc822 | 1 text/plain 5", 0 },
	{ "message/rfc822 in a multipart: the break before the delimiter goes",
	  MP "--b\nContent-Type: message/rfc822\n\nSubject: in\n\nbody\n\n"
	     "--b--\n",
	  "0 multipart/mixed | 1 message/rfc822 | 2 text/plain 5", 0 },
	{ "message/global with an attachment",
	  "Content-Type: message/global\n\n" MP "--b\n"
	  "Content-Disposition: attachment; filename=a.exe\n\nMZ\n--b--\n",
	  "0 message/global | 1 multipart/mixed | 2 text/plain 2 \"a.exe\"",
	  0 },
	{ "message/rfc822 empty at the end of input",
	  "Content-Type: message/rfc822\n\n",
	  "0 message/rfc822 | 1 text/plain 0", 0 },
	{ "base64 message/rfc822 is decoded and parsed",
	  "Content-Type: message/rfc822\n" B64 "\nU3ViamVjdDogeAoKeQo=\n",
	  "0 message/rfc822 | 1 text/plain 2", MIME_D_ENCODED_MESSAGE },
	{ "base64 message in a multipart, with a base64 file inside",
	  MP
	  "--b\nContent-Type: message/rfc822\n" B64 "\n"
	  "Q29udGVudC1UeXBlOiBtdWx0aXBhcnQvbWl4ZWQ7IGJvdW5kYXJ5PWMKCi0tYwpDb"
	  "250ZW50LURp\nc3Bvc2l0aW9uOiBhdHRhY2htZW50OyBmaWxlbmFtZT13LmV4ZQpD"
	  "b250ZW50LVRyYW5zZmVyLUVu\nY29kaW5nOiBiYXNlNjQKClRWcVFBQU1BCi0tYy0t"
	  "Cg==\n--b\n\nafter\n--b--\n",
	  "0 multipart/mixed | 1 message/rfc822 | 2 multipart/mixed | "
	  "3 text/plain 6 \"w.exe\" | 1 text/plain 5",
	  MIME_D_ENCODED_MESSAGE },
	{ "a delimiter after the close reopens the multipart",
	  MP "--b\n\n1\n--b--\n--b\nContent-Disposition: attachment; "
	     "filename=epi.exe\n\nMZ\n--b--\nend\n",
	  "0 multipart/mixed | 1 text/plain 1 | 1 text/plain 2 \"epi.exe\"",
	  MIME_D_PART_AFTER_CLOSE },
	{ "delivery-status: one part per header block",
	  "Content-Type: message/delivery-status\n\nReporting-MTA: dns; a\n\n"
	  "Final-Recipient: rfc822; b\nAction: failed\n\n",
	  "0 message/delivery-status | 1 text/plain 0 | 1 text/plain 0", 0 },

	/* found by fuzz_mime: the end of a delivery-status part ends its
	 * block reading; the epilogue makes no block */
	{ "delivery-status closed, then an epilogue",
	  "Content-Type: multipart/report; boundary=r\n\n--r\n"
	  "Content-Type: message/delivery-status\n\nA: 1\n\n--r--\n"
	  "epilogue\n\nmore\n",
	  "0 multipart/report | 1 message/delivery-status | 2 text/plain 0",
	  0 },

	/* ---- uuencode ---- */
	{ "uuencoded file in a text part", "Subject: x\n\nsee\n" UU "bye\n",
	  "0 text/plain 36 | 1u application/octet-stream 3 \"x.exe\"",
	  MIME_D_UUENCODE },
	{ "uuencoded file without end, in a multipart",
	  MP "--b\n\nbegin 644 y.bin\n#86)C\n--b--\n",
	  "0 multipart/mixed | 1 text/plain 21 | "
	  "2u application/octet-stream 3 \"y.bin\"",
	  MIME_D_UUENCODE | MIME_D_UU_NO_END },
	{ "no uuencode search in base64 text",
	  "Content-Type: text/plain\n" B64 "\nYmVnaW4gNjQ0IHgK\n",
	  "0 text/plain 12", 0 },

};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* 78 characters */
#define X78                                                                    \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"                              \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const struct limit_case limit_cases[] = {
	{ { "limit: depth",
	    MP "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n"
	       "Content-Type: multipart/mixed; boundary=d\n\n--d\n\nx\n--d--\n"
	       "--c--\n--b--\n",
	    "0 multipart/mixed | 1 multipart/mixed | 2 multipart/mixed 25",
	    MIME_D_LIMIT_DEPTH },
	  2,
	  0,
	  0,
	  0,
	  0 },
	{ { "limit: parts", MP "--b\n\n1\n--b\n\n2\n--b\n\n3\n--b--\n",
	    "0 multipart/mixed | 1 text/plain 1 | 1 text/plain 15",
	    MIME_D_LIMIT_PARTS },
	  0,
	  3,
	  0,
	  0,
	  0 },
	{ { "limit: header line",
	    "Subject: 012345678901234567890123456789012345678901234567890123"
	    "456789012345678901234567890123456789\nX: y\n\nbody\n",
	    "0 text/plain 111", MIME_D_LIMIT_HEADER_LINE },
	  0,
	  0,
	  80,
	  0,
	  0 },
	{ { "limit: folded header field",
	    "Subject: 012345678901234567890123456789\n 012345678901234567890"
	    "12345678901234567890123456789\n\nbody\n",
	    "0 text/plain 98", MIME_D_LIMIT_HEADER_LINE },
	  0,
	  0,
	  80,
	  0,
	  0 },
	{ { "limit: header block", "A: 1\nB: 2\nC: 3\nD: 4\n\nbody\n",
	    "0 text/plain 16", MIME_D_LIMIT_HEADER_SIZE },
	  0,
	  0,
	  0,
	  12,
	  0 },
	/* found by fuzz_mime: a line over the limit is judged the same
	 * whether it arrives whole or cut by chunks */
	{ { "limit: bare CR in an over-long line is not looked at",
	    "Subject: a\rb0123456789012345678901234567890123456789012345678901"
	    "234567890123456789012345678901234\n\nbody\n",
	    "0 text/plain 104", MIME_D_LIMIT_HEADER_LINE },
	  0,
	  0,
	  80,
	  0,
	  0 },
	{ { "limit: junk after a boundary in an over-long line",
	    MP "--b\n\nx\n--b\001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n--b--\n",
	    "0 multipart/mixed | 1 text/plain 102", MIME_D_BOUNDARY_PREFIX },
	  0,
	  0,
	  80,
	  0,
	  0 },
	{ { "limit: over-long dash line ending in CRLF before a delimiter",
	    MP "--b\n\n-" X78 "\r\n--b--\n",
	    "0 multipart/mixed | 1 text/plain 79", 0 },
	  0,
	  0,
	  80,
	  0,
	  0 },
	{ { "limit: boundary length",
	    "Content-Type: multipart/mixed; boundary=0123456789ab\n\n"
	    "--0123456789ab\n\nx\n--0123456789ab--\n",
	    "0 multipart/mixed 35", MIME_D_LIMIT_BOUNDARY },
	  0,
	  0,
	  0,
	  0,
	  10 },
};

#define N_LIMIT_CASES (sizeof(limit_cases) / sizeof(limit_cases[0]))

/* ---- helpers ---- */

struct input {
	const char *p;
	size_t len;
};

static ssize_t
input_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct input *in = ctx;

	if (off >= in->len)
		return 0;
	if (len > in->len - off)
		len = (size_t)(in->len - off);
	memcpy(buf, in->p + off, len);
	return (ssize_t)len;
}

static struct mime_part *
parse(struct pst_arena *arena, const struct mime_limits *lim, const char *in,
      size_t len, unsigned mode, uint32_t seed)
{
	struct mime_parser *p = mime_parser_new(arena, lim);
	struct mime_part *root = NULL;
	const char *error = NULL;
	size_t pos = 0;

	assert_non_null(p);
	while (pos < len) {
		size_t n = len - pos;

		if (mode == 1) {
			n = 1;
		} else if (mode == 2) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 23;
			if (n > len - pos)
				n = len - pos;
		}
		assert_int_equal(mime_parser_feed(p, in + pos, n, &error), 0);
		pos += n;
	}
	assert_int_equal(mime_parser_end(p, &root, &error), 0);
	mime_parser_free(&p);
	return root;
}

static void
outline(const struct mime_part *root, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct mime_part *q = root; q; q = mime_part_next(q)) {
		n += (size_t)snprintf(buf + n, size - n, "%s%u%s %s",
				      q == root ? "" : " | ", q->depth,
				      q->synthetic ? "u" : "", q->type);
		if (q->kind == MIME_PART_LEAF)
			n += (size_t)snprintf(buf + n, size - n, " %" PRIu64,
					      q->size);
		if (q->filename.p != NULL)
			n += (size_t)snprintf(buf + n, size - n, " \"%s\"",
					      q->filename.p);
		assert_true(n < size);
	}
}

/* Everything about a tree, to compare the ways of feeding it. */
static void
signature(const struct mime_part *root, char *buf, size_t size)
{
	size_t n = 0;

	for (const struct mime_part *q = root; q; q = mime_part_next(q)) {
		n += (size_t)snprintf(
			buf + n, size - n,
			"%u %u %s %d %" PRIu64 " %" PRIu64 " %" PRIu64
			" %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIx64
			" %u %02x%02x%02x%02x;",
			q->index, q->depth, q->type, q->kind, q->header_start,
			q->body_start, q->body_end, q->preamble_end,
			q->epilogue_start, q->size, q->defects, q->nheaders,
			q->sha256[0], q->sha256[1], q->sha256[2], q->sha256[3]);
		assert_true(n < size);
	}
}

/* Offsets inside the input and in order; children inside their parent;
 * every leaf reads back to its size and hash. */
static void
check_tree(const struct mime_part *root, const char *in, size_t len)
{
	struct input input = { in, len };
	unsigned index = 0;

	for (const struct mime_part *q = root; q; q = mime_part_next(q)) {
		struct mime_reader *r;
		unsigned char buf[7], md[32];
		unsigned mdlen = 0;
		uint64_t total = 0;
		EVP_MD_CTX *ctx;
		ssize_t got;

		assert_int_equal(q->index, index++);
		assert_true(q->header_start <= q->body_start);
		assert_true(q->body_start <= q->body_end);
		/* offsets into the input, or into an encoded message's
		 * decoded content */
		assert_true(q->body_end <=
			    (q->offset_base ? q->offset_base->size : len));
		if (q->parent != NULL) {
			assert_int_equal(q->depth, q->parent->depth + 1);
		}
		if (q->parent != NULL &&
		    q->parent->offset_base == q->offset_base) {
			assert_true(q->header_start >= q->parent->body_start);
			assert_true(q->body_end <= q->parent->body_end ||
				    q->parent->kind == MIME_PART_LEAF);
		}
		if (q->kind != MIME_PART_LEAF)
			continue;
		ctx = EVP_MD_CTX_new();
		assert_non_null(ctx);
		assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
		r = mime_reader_open(q, input_pread, &input);
		assert_non_null(r);
		while ((got = mime_reader_read(r, buf, sizeof(buf))) > 0) {
			EVP_DigestUpdate(ctx, buf, (size_t)got);
			total += (uint64_t)got;
		}
		assert_int_equal(got, 0);
		mime_reader_close(&r);
		EVP_DigestFinal_ex(ctx, md, &mdlen);
		EVP_MD_CTX_free(ctx);
		assert_int_equal(total, q->size);
		assert_memory_equal(md, q->sha256, 32);
	}
}

static void
run_case(const struct mime_case *c, const struct mime_limits *lim)
{
	size_t len = strlen(c->in);
	static char want_sig[1 << 16], sig[1 << 16], out[4096];

	for (unsigned run = 0; run < 5; run++) {
		struct pst_arena *arena = pst_arena_new(0);
		struct mime_part *root = parse(arena, lim, c->in, len,
					       run < 2 ? run : 2, run * 7919u);

		check_tree(root, c->in, len);
		if (run == 0) {
			outline(root, out, sizeof(out));
			if (strcmp(out, c->want) != 0) {
				print_error("outline: %s\n   want: %s\n", out,
					    c->want);
				fail();
			}
			assert_int_equal(mime_part_defects_all(root),
					 c->defects);
			signature(root, want_sig, sizeof(want_sig));
		} else {
			signature(root, sig, sizeof(sig));
			if (strcmp(sig, want_sig) != 0) {
				print_error("feed mode %u differs:\n%s\n%s\n",
					    run, sig, want_sig);
				fail();
			}
		}
		pst_arena_free(&arena);
	}
}

static void
test_case(void **state)
{
	run_case(*state, NULL);
}

static void
test_limit_case(void **state)
{
	const struct limit_case *c = *state;
	struct mime_limits lim;

	mime_limits_default(&lim);
	if (c->depth)
		lim.max_depth = c->depth;
	if (c->parts)
		lim.max_parts = c->parts;
	if (c->hline)
		lim.max_header_line = c->hline;
	if (c->hsize)
		lim.max_header_size = c->hsize;
	if (c->boundary)
		lim.max_boundary = c->boundary;
	run_case(&c->c, &lim);
}

/* ---- single tests ---- */

static struct mime_part *
parse_whole(struct pst_arena *arena, const char *in)
{
	return parse(arena, NULL, in, strlen(in), 0, 0);
}

static void
test_headers(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_part *root = parse_whole(
		arena, "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n  aus Bern\r\n"
		       "X-A: 1\r\nx-a: 2\r\nContent-ID: <c@d>\r\n\r\nbody");
	const struct mime_header *h;

	(void)state;
	assert_int_equal(root->nheaders, 4);
	h = mime_part_header(root, NULL, "subject");
	assert_non_null(h);
	assert_string_equal(h->name.p, "Subject");
	assert_string_equal(h->raw.p,
			    " =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n  aus Bern");
	assert_string_equal(h->unfolded.p,
			    "=?utf-8?q?Gr=C3=BC=C3=9Fe?=  aus Bern");
	assert_string_equal(h->value.p, "Gr\xc3\xbc\xc3\x9f"
					"e  aus Bern");
	assert_int_equal(h->offset, 0);
	h = mime_part_header(root, NULL, "X-A");
	assert_string_equal(h->value.p, "1");
	h = mime_part_header(root, h, "X-A");
	assert_string_equal(h->value.p, "2");
	assert_null(mime_part_header(root, h, "X-A"));
	assert_string_equal(root->content_id, "<c@d>");
	assert_int_equal(
		root->body_start,
		strlen("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n  aus Bern\r\n"
		       "X-A: 1\r\nx-a: 2\r\nContent-ID: <c@d>\r\n\r\n"));
	pst_arena_free(&arena);
}

static void
test_part_fields(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_part *root = parse_whole(
		arena, "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
		       "--b\nContent-Type: Application/PDF; name=\"n.pdf\";"
		       " charset=UTF-8\nContent-Transfer-Encoding: BASE64\n"
		       "Content-Disposition: Attachment; filename=f.pdf\n\n"
		       "YWJj\n--b--\n");
	const struct mime_part *q = root->children;
	const struct mime_filename *fn;

	(void)state;
	assert_string_equal(root->boundary, "b");
	assert_int_equal(root->kind, MIME_PART_MULTIPART);
	assert_string_equal(q->type, "application/pdf");
	assert_string_equal(q->subtype, "pdf");
	assert_string_equal(q->charset, "utf-8");
	assert_int_equal(q->encoding, MIME_ENC_BASE64);
	assert_string_equal(q->encoding_name, "base64");
	assert_string_equal(q->disposition, "attachment");
	assert_string_equal(q->filename.p, "f.pdf");
	assert_int_equal(q->nfilenames, 2);
	fn = q->filenames;
	assert_string_equal(fn->name.p, "f.pdf");
	assert_int_equal(fn->source, MIME_FN_DISPOSITION);
	fn = fn->next;
	assert_string_equal(fn->name.p, "n.pdf");
	assert_int_equal(fn->source, MIME_FN_TYPE);
	assert_int_equal(q->size, 3);
	assert_null(q->next);
	pst_arena_free(&arena);
}

/* Preamble and epilogue are skipped but their offsets kept. */
static void
test_preamble_epilogue(void **state)
{
	static const char in[] = MP "pre\n--b\n\nx\n--b--\nepi\n";
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_part *root = parse_whole(arena, in);
	const char *pre = strstr(in, "pre");
	const char *epi = strstr(in, "epi");

	(void)state;
	assert_int_equal(root->body_start, (uint64_t)(pre - in));
	assert_int_equal(root->preamble_end, (uint64_t)(pre + 3 - in));
	assert_int_equal(root->epilogue_start, (uint64_t)(epi - in));
	assert_int_equal(root->body_end, sizeof(in) - 1);
	assert_int_equal(root->children->body_start,
			 (uint64_t)(strstr(in, "x\n") - in));
	assert_int_equal(root->children->body_end,
			 (uint64_t)(strstr(in, "x\n") + 1 - in));
	pst_arena_free(&arena);
}

/* Duplicate Content-Type / Content-Disposition: all names are seen. */
static void
test_filename_candidates(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_part *root = parse_whole(
		arena, "Content-Type: application/x; name=\"a.pdf\"\n"
		       "Content-Disposition: attachment; filename=my file.exe;"
		       " name=odd.scr\n"
		       "Content-Disposition: attachment; filename=\"dup.js\"\n"
		       "\nx");
	const char *want[] = { "my file.exe", "my", "a.pdf", "odd.scr",
			       "dup.js" };
	unsigned k = 0;

	(void)state;
	for (const struct mime_filename *fn = root->filenames; fn;
	     fn = fn->next, k++) {
		assert_true(k < 5);
		assert_string_equal(fn->name.p, want[k]);
	}
	assert_int_equal(k, 5);
	assert_string_equal(root->filename.p, "my file.exe");
	assert_true(root->defects & MIME_D_DUP_MIME_HEADER);
	assert_true(root->defects & MIME_D_DUP_FILENAME);
	pst_arena_free(&arena);
}

/* Padding with decoy names must not push a name out of the list. */
static void
test_many_candidates(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	static char in[16384];
	const struct mime_filename *fn;
	struct mime_part *root;
	size_t n = 0;
	bool seen = false;

	(void)state;
	n += (size_t)snprintf(in, sizeof(in), "Content-Type: application/x");
	for (unsigned k = 0; k < 300; k++)
		n += (size_t)snprintf(in + n, sizeof(in) - n,
				      "; name=\"decoy-%u.txt\"", k);
	snprintf(in + n, sizeof(in) - n, "; name=\"real.exe\"\n\nx");
	root = parse_whole(arena, in);
	assert_int_equal(root->nfilenames, 301);
	for (fn = root->filenames; fn != NULL; fn = fn->next)
		seen |= strcmp(fn->name.p, "real.exe") == 0;
	assert_true(seen);
	pst_arena_free(&arena);
}

static void
test_defect_names(void **state)
{
	(void)state;
	for (unsigned k = 0; k < MIME_D_COUNT; k++) {
		const char *name = mime_defect_name(MIME_D(k));

		assert_non_null(name);
		for (unsigned j = 0; j < k; j++)
			assert_string_not_equal(name,
						mime_defect_name(MIME_D(j)));
	}
	assert_null(mime_defect_name(MIME_D(MIME_D_COUNT)));
	assert_string_equal(mime_defect_name(MIME_D_NO_FINAL_BOUNDARY),
			    "missing_final_boundary");
	assert_string_equal(mime_defect_name(MIME_D_B64_GARBAGE),
			    "base64_garbage");
}

/* A large base64 body split at every kind of place decodes the same;
 * memory stays bounded (no line kept but the current one). */
static void
test_big_chunks(void **state)
{
	static const char head[] = MP "--b\n" B64 "\n";
	static const char tail[] = "\n--b--\n";
	size_t body = 200000, len = sizeof(head) - 1 + body + sizeof(tail) - 1;
	char *in = malloc(len);
	struct pst_arena *arena;
	struct mime_part *root;
	size_t pos = sizeof(head) - 1;

	(void)state;
	assert_non_null(in);
	memcpy(in, head, sizeof(head) - 1);
	for (size_t i = 0; i < body; i++)
		in[pos + i] = (i + 1) % 77 == 0 ? '\n' : "QUJD"[i % 4];
	memcpy(in + pos + body, tail, sizeof(tail) - 1);
	for (uint32_t seed = 1; seed < 4; seed++) {
		arena = pst_arena_new(0);
		root = parse(arena, NULL, in, len, 2, seed);
		check_tree(root, in, len);
		assert_int_equal(root->children->kind, MIME_PART_LEAF);
		assert_true(root->children->size > 140000);
		assert_int_equal(mime_part_defects_all(root) &
					 ~MIME_D_B64_PADDING &
					 ~MIME_D_B64_TRUNCATED,
				 0);
		assert_true(pst_arena_footprint(arena) < 256 * 1024);
		pst_arena_free(&arena);
	}
	free(in);
}

/* The reader on a short spool reports the error. */
static void
test_reader_short(void **state)
{
	static const char in[] = "Content-Transfer-Encoding: base64\n\nYWJj\n";
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_part *root = parse_whole(arena, in);
	struct input cut = { in, sizeof(in) - 4 };
	struct mime_reader *r;
	char buf[16];

	(void)state;
	r = mime_reader_open(root, input_pread, &cut);
	assert_non_null(r);
	assert_int_equal(mime_reader_read(r, buf, sizeof(buf)), -1);
	mime_reader_close(&r);
	assert_null(r);
	pst_arena_free(&arena);
}

static void
test_feed_after_end(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct mime_parser *p = mime_parser_new(arena, NULL);
	struct mime_part *root;
	const char *error = NULL;

	(void)state;
	assert_int_equal(mime_parser_end(p, &root, &error), 0);
	assert_int_equal(mime_parser_feed(p, "x", 1, &error), -1);
	assert_non_null(error);
	mime_parser_free(&p);
	assert_null(p);
	pst_arena_free(&arena);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_part_fields),
		cmocka_unit_test(test_preamble_epilogue),
		cmocka_unit_test(test_filename_candidates),
		cmocka_unit_test(test_many_candidates),
		cmocka_unit_test(test_defect_names),
		cmocka_unit_test(test_big_chunks),
		cmocka_unit_test(test_reader_short),
		cmocka_unit_test(test_feed_after_end),
	};
	struct CMUnitTest
		tests[N_CASES + N_LIMIT_CASES + sizeof(more) / sizeof(more[0])];
	size_t n = 0;

	/* One test per table row, so that TAP counts and names each. */
	for (size_t i = 0; i < N_CASES; i++) {
		struct CMUnitTest t =
			cmocka_unit_test_prestate(test_case, (void *)&cases[i]);

		t.name = cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < N_LIMIT_CASES; i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(
			test_limit_case, (void *)&limit_cases[i]);

		t.name = limit_cases[i].c.name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("mime", tests, n, NULL, NULL);
}
