/*
 * fuzz_imap.c - libFuzzer target for the IMAP pre-login grammar.
 *
 * The input is a command as the session assembles it.  Beyond "no
 * crash": the literal-marker reader agrees with its own contract, the
 * parser returns 0 or -1 with an error text, every view stays inside
 * the input or the scratch buffer, and quoted strings never come out
 * longer than they went in.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_view(struct pst_str v, const char *a, size_t alen, const char *b,
	   size_t blen)
{
	if (v.len == 0)
		return;
	if (v.p >= a && v.p <= a + alen && v.len <= (size_t)(a + alen - v.p))
		return;
	if (v.p >= b && v.p <= b + blen && v.len <= (size_t)(b + blen - v.p))
		return;
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char *scratch = malloc(size + 1);
	struct imap_cmd cmd;
	const char *err = NULL;
	uint64_t lit = 0;
	bool nonsync = false;
	int rc;

	if (scratch == NULL)
		return 0;
	rc = imap_parse_literal(s, size, &lit, &nonsync);
	if (rc < -1 || rc > 1 || (rc == 1 && lit > UINT32_MAX))
		abort();
	rc = imap_parse_command(s, size, scratch, &cmd, &err);
	if (rc != 0 && (rc != -1 || err == NULL))
		abort();
	if (cmd.nargs > IMAP_MAX_ARGS || cmd.tag.len > IMAP_MAX_TAG)
		abort();
	check_view(cmd.tag, s, size, scratch, size);
	if (rc == 0) {
		check_view(cmd.name, s, size, scratch, size);
		for (unsigned i = 0; i < cmd.nargs; i++)
			check_view(cmd.args[i].s, s, size, scratch, size);
	}
	free(scratch);
	return 0;
}
