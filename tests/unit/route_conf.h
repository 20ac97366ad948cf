/*
 * route_conf.h - for the relay unit tests: bind `route NAME { ... }`
 * blocks from config text the way posternd's settings do.
 */
#ifndef TESTS_UNIT_ROUTE_CONF_H
#define TESTS_UNIT_ROUTE_CONF_H

#include <string.h>

#include "arena.h"
#include "conf.h"
#include "relay.h"

struct top {
	struct relay_conf relay;
};

static int
top_route(struct pst_arena *arena, const struct pst_conf_node *node, void *obj,
	  const char **error_r)
{
	struct top *t = obj;

	return relay_conf_route(arena, node, &t->relay, error_r);
}

static const struct pst_conf_field top_fields[] = {
	{ .name = "route",
	  .type = PST_CONF_T_BLOCK,
	  .repeatable = true,
	  .block = top_route },
	{ .name = NULL },
};

/* Parse and bind text; 0 or -1 with *error_r. */
static int
load_routes(struct pst_arena *arena, const char *text, struct top *top,
	    const char **error_r)
{
	struct pst_conf_node *root = NULL;

	memset(top, 0, sizeof(*top));
	if (pst_conf_parse_string(arena, "t.conf", text, strlen(text), &root,
				  error_r) != 0)
		return -1;
	return pst_conf_bind(arena, root, top_fields, top, error_r);
}

#endif
