/* badabi.c - a filter built for an ABI this postern does not speak. */
#include <postern/filter.h>

const struct postern_filter postern_filter = {
	.abi = 99,
	.size = sizeof(struct postern_filter),
	.name = "badabi",
};
