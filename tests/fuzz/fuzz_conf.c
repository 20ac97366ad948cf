/*
 * fuzz_conf.c - libFuzzer target for util/conf.c: parse the input as a
 * configuration text, then bind the tree onto a small schema that has a
 * field of every type and a nested, repeatable block.
 *
 * The text is parsed with no file name, which makes every .include an
 * error before any path is built, so the fuzzer never opens a file.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "conf.h"

struct fuzz_inner {
	const char *name;
	uint64_t weight;
	struct pst_conf_strings tags;
};

struct fuzz_conf {
	const char *hostname;
	struct pst_conf_strings listen;
	bool debug;
	uint64_t count, size, timeout;
	int mode;
	struct fuzz_inner inner[4];
	size_t ninner;
};

static const char *const fuzz_modes[] = { "proxy", "store", "off", NULL };

static const struct pst_conf_field inner_fields[] = {
	{ .name = "name",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct fuzz_inner, name),
	  .required = true },
	{ .name = "weight",
	  .type = PST_CONF_T_UINT,
	  .offset = offsetof(struct fuzz_inner, weight),
	  .min = 1,
	  .max = 100 },
	{ .name = "tags",
	  .type = PST_CONF_T_STRINGS,
	  .offset = offsetof(struct fuzz_inner, tags) },
	{ .name = NULL },
};

static int
fuzz_inner_block(struct pst_arena *arena, const struct pst_conf_node *node,
		 void *obj, const char **error_r)
{
	struct fuzz_conf *c = obj;

	if (c->ninner == sizeof(c->inner) / sizeof(c->inner[0])) {
		*error_r = pst_conf_error(arena, node, "too many");
		return -1;
	}
	if (pst_conf_bind(arena, node, inner_fields, &c->inner[c->ninner],
			  error_r) < 0)
		return -1;
	c->ninner++;
	return 0;
}

static const struct pst_conf_field fuzz_fields[] = {
	{ .name = "hostname",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct fuzz_conf, hostname) },
	{ .name = "listen",
	  .type = PST_CONF_T_STRINGS,
	  .offset = offsetof(struct fuzz_conf, listen) },
	{ .name = "debug",
	  .type = PST_CONF_T_BOOL,
	  .offset = offsetof(struct fuzz_conf, debug) },
	{ .name = "count",
	  .type = PST_CONF_T_UINT,
	  .offset = offsetof(struct fuzz_conf, count) },
	{ .name = "size",
	  .type = PST_CONF_T_SIZE,
	  .offset = offsetof(struct fuzz_conf, size),
	  .min = 1024,
	  .max = 1u << 30 },
	{ .name = "timeout",
	  .type = PST_CONF_T_DURATION,
	  .offset = offsetof(struct fuzz_conf, timeout) },
	{ .name = "mode",
	  .type = PST_CONF_T_ENUM,
	  .offset = offsetof(struct fuzz_conf, mode),
	  .choices = fuzz_modes },
	{ .name = "inner",
	  .type = PST_CONF_T_BLOCK,
	  .block = fuzz_inner_block,
	  .repeatable = true },
	{ .name = NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_conf_node *root;
	struct fuzz_conf conf;
	const char *error = NULL;
	int rc;

	if (arena == NULL)
		return 0;
	memset(&conf, 0, sizeof(conf));
	rc = pst_conf_parse_string(arena, NULL, (const char *)data, size, &root,
				   &error);
	if (rc == 0)
		rc = pst_conf_bind(arena, root, fuzz_fields, &conf, &error);
	/* Every failure must come with a message that names a place. */
	if (rc < 0 && (error == NULL || strncmp(error, "<string>:", 9) != 0))
		__builtin_trap();
	pst_arena_free(&arena);
	return 0;
}
