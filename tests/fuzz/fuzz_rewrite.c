/*
 * fuzz_rewrite.c - libFuzzer target for body rewriting (filters/
 * rewrite*.c) on arbitrary MIME.
 *
 * Input: byte 0 says how many operations (0-7), then two bytes per
 * operation: the kind (replace, banner top, banner bottom) with a text
 * of our choosing, and the part index (modulo the part count); the rest
 * is the message.  The plan is resolved, written and checked.
 * Invariants (abort() when broken): prepare and write never fail on a
 * message the parser took (only out of memory may), and the check
 * passes whenever something changed: rewriting never makes a message
 * malformed or leaves stripped content behind.  A tree cut at a MIME
 * limit is skipped: the gateway refuses it before the filters.  For an
 * ambiguous message (MIME_D_AMBIGUOUS: parsers read it differently) a
 * refusal by the check is allowed: that is what the check is for, and
 * the gateway then answers 451 instead of relaying it.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "mime.h"
#include "rewrite.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

static const char *const texts[] = {
	"removed",
	"Grüße: the attachment was removed.\nSee the quarantine.",
	"--boundary\n-- \n.\nFrom me",
	("a long banner line that goes on and on and on past the "
	 "seventy-six columns of a mail line and wraps"),
};

/* The rewritten message on stderr (FUZZ_DUMP=1), to see a failure. */
static void
dump(struct pst_spool *msg)
{
	char buf[4096];
	uint64_t off = 0;
	ssize_t n;

	if (getenv("FUZZ_DUMP") == NULL)
		return;
	while ((n = pst_spool_pread(msg, buf, sizeof(buf), off)) > 0) {
		fwrite(buf, 1, (size_t)n, stderr);
		off += (uint64_t)n;
	}
}

/* Does the header block d[0, n) end with an empty line? */
static bool
ends_blank(const uint8_t *d, size_t n)
{
	if (n == 0 || d[n - 1] != '\n')
		return false;
	if (n == 1 || d[n - 2] == '\n')
		return true;
	return d[n - 2] == '\r' && (n == 2 || d[n - 3] == '\n');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pst_arena *arena;
	struct pst_spool *src, *out;
	struct mime_parser *p;
	struct mime_part *root;
	struct rewrite_plan *plan;
	struct rewrite_job *job;
	const char *error;
	unsigned nops, nparts = 0;

	if (size < 1)
		return 0;
	nops = data[0] % 8;
	if (size < 1 + 2 * (size_t)nops)
		return 0;
	arena = pst_arena_new(0);
	src = pst_spool_new(1 << 20, NULL);
	out = pst_spool_new(1 << 20, NULL);
	CHECK(arena != NULL && src != NULL && out != NULL);
	data += 1 + 2 * nops;
	size -= 1 + 2 * (size_t)nops;
	CHECK(pst_spool_write(src, data, size, &error) == 0 &&
	      pst_spool_flush(src, &error) == 0);
	p = mime_parser_new(arena, NULL);
	CHECK(p != NULL);
	CHECK(mime_parser_feed(p, data, size, &error) == 0);
	CHECK(mime_parser_end(p, &root, &error) == 0);
	mime_parser_free(&p);
	for (const struct mime_part *q = root; q != NULL; q = mime_part_next(q))
		nparts++;
	/* a tree cut at a limit is refused before any filter sees it */
	if (mime_part_defects_all(root) & MIME_D_LIMITS) {
		pst_spool_free(&src);
		pst_spool_free(&out);
		pst_arena_free(&arena);
		return 0;
	}
	plan = rewrite_plan_new(arena);
	CHECK(plan != NULL);
	for (unsigned i = 0; i < nops; i++) {
		const uint8_t *op = data - 2 * nops + 2 * i;
		const char *text = texts[(op[0] >> 2) % 4];

		switch (op[0] % 3) {
		case 0:
			CHECK(rewrite_plan_replace(plan, op[1] % nparts,
						   text) == 0);
			break;
		case 1:
			CHECK(rewrite_plan_banner(plan, REWRITE_TOP, text) ==
			      0);
			break;
		default:
			CHECK(rewrite_plan_banner(plan, REWRITE_BOTTOM, text) ==
			      0);
			break;
		}
	}
	job = rewrite_prepare(plan, src, root, arena, &error);
	/* a tree whose ranges do not nest is the one refusal allowed */
	CHECK(job != NULL || strcmp(error, "parts that do not nest") == 0);
	if (job != NULL) {
		CHECK(rewrite_write(job, root->body_start, out, &error) == 0);
		CHECK(pst_spool_flush(out, &error) == 0);
		if (rewrite_job_changes(job) && rewrite_add_count(job) == 0) {
			/* the whole message: the header block as it was */
			struct pst_spool *msg = pst_spool_new(1 << 20, NULL);
			size_t hb = root->body_start;
			char buf[4096];
			uint64_t off = 0;
			ssize_t n;

			CHECK(msg != NULL);
			CHECK(pst_spool_write(msg, data, hb, &error) == 0);
			/* the empty line edit.c puts where there was none */
			if (!ends_blank(data, hb)) {
				if (hb > 0 && data[hb - 1] != '\n')
					CHECK(pst_spool_write(msg, "\r\n", 2,
							      &error) == 0);
				CHECK(pst_spool_write(msg, "\r\n", 2, &error) ==
				      0);
			}
			while ((n = pst_spool_pread(out, buf, sizeof(buf),
						    off)) > 0) {
				CHECK(pst_spool_write(msg, buf, (size_t)n,
						      &error) == 0);
				off += (uint64_t)n;
			}
			CHECK(pst_spool_flush(msg, &error) == 0);
			/* an ambiguous message (readings differ: see
			 * MIME_D_AMBIGUOUS) may be refused by the check,
			 * which is its purpose; any other may not */
			if (rewrite_check(job, msg, &error) < 0 &&
			    !(mime_part_defects_all(root) & MIME_D_AMBIGUOUS)) {
				fprintf(stderr, "check: %s\n", error);
				dump(msg);
				abort();
			}
			pst_spool_free(&msg);
		}
	}
	pst_spool_free(&src);
	pst_spool_free(&out);
	pst_arena_free(&arena);
	return 0;
}
