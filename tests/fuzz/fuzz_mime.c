/*
 * fuzz_mime.c - libFuzzer target for the streaming MIME parser.
 *
 * Input: byte 0 picks the limits (the defaults, or tiny ones so that the
 * truncation paths run), byte 1 seeds the chunk sizes; the rest is the
 * message.  It is parsed fed in chunks chosen from the seed and fed
 * whole; both trees must be identical (offsets, sizes, hashes, defects).
 * Invariants (abort() when broken): offsets inside the input and in
 * order, children inside their parent, pre-order indexes, every defect
 * bit named, and every leaf read back through struct mime_reader gives
 * exactly its size and SHA-256.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "arena.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

struct input {
	const uint8_t *p;
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
parse(struct pst_arena *arena, const struct mime_limits *lim, const uint8_t *in,
      size_t len, uint32_t seed)
{
	struct mime_parser *p = mime_parser_new(arena, lim);
	struct mime_part *root = NULL;
	const char *error;
	size_t pos = 0;

	CHECK(p != NULL);
	while (pos < len) {
		size_t n = len - pos;

		if (seed != 0) {
			/* xorshift: mostly small chunks, sometimes big */
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			n = seed % 8 == 0 ? 1 + seed % 4096 : 1 + seed % 13;
			if (n > len - pos)
				n = len - pos;
		}
		CHECK(mime_parser_feed(p, in + pos, n, &error) == 0);
		pos += n;
	}
	CHECK(mime_parser_end(p, &root, &error) == 0);
	mime_parser_free(&p);
	return root;
}

static void
read_back(const struct mime_part *q, struct input *in)
{
	unsigned char buf[61], md[32];
	unsigned mdlen = 0;
	struct mime_reader *r;
	uint64_t total = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ssize_t got;

	CHECK(ctx != NULL);
	CHECK(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
	r = mime_reader_open(q, input_pread, in);
	CHECK(r != NULL);
	while ((got = mime_reader_read(r, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)got);
		total += (uint64_t)got;
	}
	CHECK(got == 0);
	mime_reader_close(&r);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	CHECK(total == q->size);
	CHECK(memcmp(md, q->sha256, 32) == 0);
}

static void
check_tree(const struct mime_part *root, struct input *in)
{
	unsigned index = 0;

	for (const struct mime_part *q = root; q; q = mime_part_next(q)) {
		CHECK(q->index == index++);
		CHECK(q->header_start <= q->body_start);
		CHECK(q->body_start <= q->body_end);
		/* into the input, or an encoded message's content */
		CHECK(q->body_end <=
		      (q->offset_base ? q->offset_base->size : in->len));
		CHECK(q->type != NULL && strchr(q->type, '/') != NULL);
		if (q->parent != NULL)
			CHECK(q->depth == q->parent->depth + 1);
		if (q->parent != NULL &&
		    q->parent->offset_base == q->offset_base) {
			CHECK(q->header_start >= q->parent->body_start);
			CHECK(q->body_end <= q->parent->body_end ||
			      q->parent->kind == MIME_PART_LEAF);
		}
		if (q->kind == MIME_PART_MULTIPART) {
			CHECK(q->body_start <= q->preamble_end);
			CHECK(q->preamble_end <= q->body_end);
		}
		for (unsigned k = 0; k < 64; k++)
			if (q->defects & (UINT64_C(1) << k))
				CHECK(mime_defect_name(UINT64_C(1) << k));
		for (const struct mime_filename *fn = q->filenames; fn;
		     fn = fn->next)
			CHECK(fn->name.p != NULL &&
			      fn->name.p[fn->name.len] == '\0');
		for (const struct mime_header *h = q->headers; h; h = h->next)
			CHECK(h->offset >= q->header_start &&
			      h->offset < q->body_start + 1);
		if (q->kind == MIME_PART_LEAF)
			read_back(q, in);
	}
}

static bool
same_tree(const struct mime_part *a, const struct mime_part *b)
{
	while (a != NULL && b != NULL) {
		if (a->index != b->index || a->depth != b->depth ||
		    a->kind != b->kind || strcmp(a->type, b->type) != 0 ||
		    a->header_start != b->header_start ||
		    a->body_start != b->body_start ||
		    a->body_end != b->body_end ||
		    a->preamble_end != b->preamble_end ||
		    a->epilogue_start != b->epilogue_start ||
		    a->size != b->size || a->defects != b->defects ||
		    a->nheaders != b->nheaders ||
		    a->nfilenames != b->nfilenames ||
		    memcmp(a->sha256, b->sha256, 32) != 0)
			return false;
		a = mime_part_next(a);
		b = mime_part_next(b);
	}
	return a == NULL && b == NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim;
	struct pst_arena *arena;
	struct mime_part *whole, *chunked;
	struct input in;
	uint32_t seed;

	if (size < 2)
		return 0;
	mime_limits_default(&lim);
	if (data[0] & 1) {
		lim.max_depth = 1 + data[0] % 5;
		lim.max_parts = 2 + data[0] % 9;
		lim.max_header_line = 80 + (data[0] >> 4) * 10;
		lim.max_header_size = 60 + data[0] * 3;
		lim.max_header_total = 200 + data[0] * 8;
		lim.max_boundary = 1 + data[0] % 23;
	}
	seed = 0x9e3779b9u ^ ((uint32_t)data[1] * 2654435761u);
	in.p = data + 2;
	in.len = size - 2;
	arena = pst_arena_new(0);
	CHECK(arena != NULL);
	whole = parse(arena, &lim, in.p, in.len, 0);
	chunked = parse(arena, &lim, in.p, in.len, seed);
	CHECK(same_tree(whole, chunked));
	check_tree(chunked, &in);
	pst_arena_free(&arena);
	return 0;
}
