/*
 * fuzz_spf_macro.c - libFuzzer target for the SPF macro language (RFC
 * 7208 section 7).
 *
 * The first byte picks the flags (exp text, domain truncation) and the
 * client's address family; the rest is the macro-string.  Beyond "no
 * crash": checking and expanding agree, expansion stays within its
 * bound, a domain comes back with at most 253 bytes unless one label
 * alone is longer, and exp text comes back without control characters
 * other than those the input had no way to produce.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "spf.h"
#include "spf_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
ptr_name(void *arg)
{
	return arg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pst_arena *arena;
	struct spf_macro_ctx ctx;
	struct spf_addr ip;
	struct pst_str in;
	const char *out = NULL, *error = NULL;
	unsigned flags;
	int checked, expanded;

	if (size == 0)
		return 0;
	flags = data[0] & (SPF_MACRO_EXP | SPF_MACRO_DOMAIN);
	if (spf_addr_parse((data[0] & 0x80) ? "2001:db8::cb01" : "192.0.2.3",
			   &ip) < 0)
		abort();
	in = (struct pst_str){ (const char *)data + 1, size - 1 };
	memset(&ctx, 0, sizeof(ctx));
	ctx.ip = &ip;
	ctx.sender = "strong-bad+x=y/z@email.example.com";
	ctx.local = "strong-bad+x=y/z";
	ctx.sdom = "email.example.com";
	ctx.domain = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.example.org";
	ctx.helo = "mx..example.net.";
	ctx.receiver = "receiver.example.org";
	ctx.now = 1700000000;
	ctx.ptr_name = ptr_name;
	ctx.ptr_arg = "mail.example.com";

	arena = pst_arena_new(0);
	if (arena == NULL)
		return 0;
	checked = spf_macro_check(in, flags & SPF_MACRO_EXP, &error);
	expanded = spf_macro_expand(arena, in, &ctx, flags, &out, &error);
	if (checked < 0 && expanded == 0)
		abort();
	if (checked == 0 && expanded < 0 &&
	    strcmp(error, "macro expansion too long") != 0 &&
	    strcmp(error, "out of memory") != 0)
		abort();
	if (expanded == 0) {
		size_t len = strlen(out);

		if (len > SPF_MAX_EXPANSION)
			abort();
		if ((flags & SPF_MACRO_DOMAIN) && len > SPF_MAX_DOMAIN &&
		    memchr(out, '.', len) != NULL)
			abort();
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)out[i] < ' ' ||
			    (unsigned char)out[i] > '~')
				abort();
	}
	pst_arena_free(&arena);
	return 0;
}
