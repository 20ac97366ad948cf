/*
 * postern_mime.c - "postern mime [--json] FILE.eml": parse a message with
 * the gateway's MIME parser and print its part tree.
 *
 * The file is fed in small chunks, as DATA arrives, never read whole.
 * Text form: an indented outline for people.  JSON form (--json): fixed,
 * because the differential tests read it:
 *
 *   {"defects": [...], "parts": [{"depth", "type", "charset", "encoding",
 *    "disposition", "filename", "filenames", "size", "sha256"}, ...],
 *    "synthetic": [{same keys..., "parent": N}, ...]}
 *
 * "parts" is the pre-order walk of Python's Message.walk(); "defects" the
 * names of every defect bit in the message.  Files found uuencoded inside
 * text parts are not MIME parts (Python does not see them), so they are
 * listed apart in "synthetic", "parent" being the index in "parts" of the
 * text part that holds them.  size and sha256 are null for containers.
 *
 * Exit: 0 printed, 1 unreadable file or out of memory, 2 bad usage.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cli_out.h"
#include "mime.h"
#include "utf8.h"

int postern_mime_main(int argc, char **argv);

#define CHUNK 4096

static int
usage(void)
{
	fputs("usage: postern mime [--json] FILE.eml\n", stderr);
	return 2;
}

/* ---- JSON ---- */

static bool
is_container(const struct mime_part *p)
{
	return p->kind != MIME_PART_LEAF ||
	       strncmp(p->type, "message/", 8) == 0;
}

static void
json_part(FILE *f, const struct mime_part *p, long parent)
{
	fprintf(f, "{\"depth\": %u, \"type\": ", p->depth);
	cli_json_cstr(f, p->type);
	fputs(", \"charset\": ", f);
	cli_json_cstr(f, p->charset);
	fputs(", \"encoding\": ", f);
	cli_json_cstr(f, p->encoding_name);
	fputs(", \"disposition\": ", f);
	cli_json_cstr(f, p->disposition);
	fputs(", \"filename\": ", f);
	if (p->filename.p != NULL)
		cli_json_str(f, p->filename.p, p->filename.len);
	else
		fputs("null", f);
	fputs(", \"filenames\": [", f);
	for (const struct mime_filename *fn = p->filenames; fn; fn = fn->next) {
		cli_json_str(f, fn->name.p, fn->name.len);
		if (fn->next != NULL)
			fputs(", ", f);
	}
	fputs("], \"size\": ", f);
	if (is_container(p)) {
		fputs("null, \"sha256\": null", f);
	} else {
		fprintf(f, "%" PRIu64 ", \"sha256\": \"", p->size);
		for (int i = 0; i < 32; i++)
			fprintf(f, "%02x", p->sha256[i]);
		putc('"', f);
	}
	if (parent >= 0)
		fprintf(f, ", \"parent\": %ld", parent);
	putc('}', f);
}

static void
json_defects(FILE *f, uint64_t defects)
{
	bool first = true;

	putc('[', f);
	for (unsigned k = 0; k < MIME_D_COUNT; k++) {
		if (!(defects & MIME_D(k)))
			continue;
		if (!first)
			fputs(", ", f);
		cli_json_cstr(f, mime_defect_name(MIME_D(k)));
		first = false;
	}
	putc(']', f);
}

/* Index in the "parts" list (synthetic parts left out) of part. */
static long
walk_index(const struct mime_part *root, const struct mime_part *part)
{
	long i = 0;

	for (const struct mime_part *q = root; q; q = mime_part_next(q)) {
		if (q == part)
			return i;
		if (!q->synthetic)
			i++;
	}
	return -1;
}

static void
print_json(FILE *f, const struct mime_part *root)
{
	const struct mime_part *q;
	bool first = true, any = false;

	fputs("{\"defects\": ", f);
	json_defects(f, mime_part_defects_all(root));
	fputs(",\n \"parts\": [", f);
	for (q = root; q; q = mime_part_next(q)) {
		if (q->synthetic)
			continue;
		fputs(first ? "\n  " : ",\n  ", f);
		json_part(f, q, -1);
		first = false;
	}
	fputs("],\n \"synthetic\": [", f);
	for (q = root; q; q = mime_part_next(q)) {
		if (!q->synthetic)
			continue;
		fputs(any ? ",\n  " : "\n  ", f);
		json_part(f, q, walk_index(root, q->parent));
		any = true;
	}
	fputs("]}\n", f);
}

/* ---- text ---- */

/* Bidirectional formatting characters reorder a terminal line (the
 * "RTLO" trick behind "evil[U+202E]fdp.exe"): shown escaped. */
static bool
is_bidi(const unsigned char *u, size_t k)
{
	unsigned cp;

	if (k != 3)
		return false;
	cp = (unsigned)(u[0] & 0x0f) << 12 | (unsigned)(u[1] & 0x3f) << 6 |
	     (u[2] & 0x3f);
	return (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f ||
	       cp == 0x061c;
}

static void
text_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	putc('"', f);
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (u[i] == '"' || u[i] == '\\') {
			fprintf(f, "\\%c", u[i]);
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			fprintf(f, "\\x%02x", u[i]);
		} else if (u[i] < 0x80) {
			putc(u[i], f);
		} else if ((k = pst_utf8_seq_len(u + i, n - i)) > 0) {
			if (is_bidi(u + i, k))
				fprintf(f, "\\u%04x",
					(unsigned)(u[i] & 0x0f) << 12 |
						(unsigned)(u[i + 1] & 0x3f)
							<< 6 |
						(u[i + 2] & 0x3f));
			else
				fwrite(u + i, 1, k, f);
			i += k - 1;
		} else {
			fprintf(f, "\\x%02x", u[i]);
		}
	}
	putc('"', f);
}

static void
text_defects(FILE *f, uint64_t defects)
{
	const char *sep = "";

	for (unsigned k = 0; k < MIME_D_COUNT; k++)
		if (defects & MIME_D(k)) {
			fprintf(f, "%s%s", sep, mime_defect_name(MIME_D(k)));
			sep = ", ";
		}
}

static void
print_text(FILE *f, const struct mime_part *root)
{
	uint64_t all = mime_part_defects_all(root);

	for (const struct mime_part *q = root; q; q = mime_part_next(q)) {
		int ind = 2 * (int)q->depth;

		fprintf(f, "%*s%s%s", ind, "",
			q->synthetic ? "(uuencoded in the text) " : "",
			q->type);
		if (q->charset)
			fprintf(f, "; charset=%s", q->charset);
		if (q->kind == MIME_PART_MULTIPART) {
			fputs("  boundary ", f);
			text_str(f, q->boundary, strlen(q->boundary));
		}
		if (q->encoding_name)
			fprintf(f, "  %s", q->encoding_name);
		if (q->disposition)
			fprintf(f, "  %s", q->disposition);
		if (q->filename.p) {
			fputs("  ", f);
			text_str(f, q->filename.p, q->filename.len);
		}
		if (!is_container(q))
			fprintf(f, "  %" PRIu64 " bytes", q->size);
		putc('\n', f);
		if (q->nfilenames > 1 ||
		    (q->nfilenames == 1 && q->filename.p == NULL)) {
			fprintf(f, "%*s  names:", ind, "");
			for (const struct mime_filename *fn = q->filenames; fn;
			     fn = fn->next) {
				putc(' ', f);
				text_str(f, fn->name.p, fn->name.len);
			}
			putc('\n', f);
		}
		if (q->defects) {
			fprintf(f, "%*s  defects: ", ind, "");
			text_defects(f, q->defects);
			putc('\n', f);
		}
	}
	if (all & MIME_D_LIMITS)
		fputs("LIMIT PASSED: the tree is incomplete; the gateway "
		      "refuses such a message\n",
		      f);
}

int
postern_mime_main(int argc, char **argv)
{
	const char *path = NULL, *error = "";
	bool json = false, ok = true;
	struct pst_arena *arena;
	struct mime_parser *parser;
	struct mime_part *root = NULL;
	unsigned char buf[CHUNK];
	FILE *in;
	size_t n;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return usage();
		else if (path == NULL)
			path = argv[i];
		else
			return usage();
	}
	if (path == NULL)
		return usage();
	in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (in == NULL) {
		fprintf(stderr, "postern mime: %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	arena = pst_arena_new(0);
	parser = arena ? mime_parser_new(arena, NULL) : NULL;
	if (parser == NULL) {
		fputs("postern mime: out of memory\n", stderr);
		ok = false;
	}
	while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (mime_parser_feed(parser, buf, n, &error) < 0) {
			fprintf(stderr, "postern mime: %s\n", error);
			ok = false;
		}
	if (ok && ferror(in)) {
		fprintf(stderr, "postern mime: %s: %s\n", path,
			strerror(errno));
		ok = false;
	}
	if (ok && mime_parser_end(parser, &root, &error) < 0) {
		fprintf(stderr, "postern mime: %s\n", error);
		ok = false;
	}
	if (in != stdin)
		fclose(in);
	if (ok) {
		if (json)
			print_json(stdout, root);
		else
			print_text(stdout, root);
		if (fflush(stdout) != 0)
			ok = false;
	}
	mime_parser_free(&parser);
	pst_arena_free(&arena);
	return ok ? 0 : 1;
}
