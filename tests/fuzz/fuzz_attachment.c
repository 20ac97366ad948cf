/*
 * fuzz_attachment.c - libFuzzer target for the attachment walk: the
 * input is the content of one attachment (any bytes: zip, 7z, tar, gz,
 * iso, a message...), named after byte 0 so that each archive format
 * and .eml is tried by name as well as by content.  Small budgets keep
 * each run short; they must hold (bytes, members) whatever the input.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attachment.h"

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "a.zip", "a.7z",  "a.tar.gz",
					     "a.iso", "a.eml", "a.bin",
					     "a.rar", "a.cab" };
	struct attachment_limits l;
	struct attachment_scan *scan;
	struct mime_parser *p;
	struct mime_part *root;
	struct pst_arena *arena;
	struct input in;
	const char *err;
	char head[256];
	size_t hl;
	uint8_t *msg;

	if (size < 1)
		return 0;
	hl = (size_t)snprintf(head, sizeof(head),
			      "Content-Type: application/octet-stream\r\n"
			      "Content-Disposition: attachment; "
			      "filename=\"%s\"\r\n"
			      "Content-Transfer-Encoding: binary\r\n\r\n",
			      names[data[0] % 8]);
	msg = malloc(hl + size - 1);
	CHECK(msg != NULL);
	memcpy(msg, head, hl);
	memcpy(msg + hl, data + 1, size - 1);
	in.p = msg;
	in.len = hl + size - 1;
	arena = pst_arena_new(0);
	CHECK(arena != NULL);
	p = mime_parser_new(arena, NULL);
	CHECK(p != NULL);
	CHECK(mime_parser_feed(p, in.p, in.len, &err) == 0);
	CHECK(mime_parser_end(p, &root, &err) == 0);
	mime_parser_free(&p);
	attachment_limits_default(&l);
	l.max_bytes = 4 << 20;
	l.max_members = 200;
	l.max_ms = 3000;
	CHECK(attachment_scan_message(arena, &l, root, input_pread, &in, &scan,
				      &err) == 0);
	/* a bomb may pass the budget by one chunk, never more */
	CHECK(scan->bytes <= l.max_bytes + 65536);
	CHECK(scan->members <= l.max_members);
	for (size_t i = 0; i < scan->nitems; i++) {
		const struct attachment_item *it = &scan->items[i];

		CHECK(it->filename != NULL && it->extension != NULL);
		CHECK(it->sniffed_type != NULL && it->declared_type != NULL);
		CHECK(it->depth <= l.max_depth);
		CHECK(it->part_index == 0);
	}
	pst_arena_free(&arena);
	free(msg);
	return 0;
}
