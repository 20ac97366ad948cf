/* spf.c - the built-in spf filter (being written). */
#include "config.h"

#include "filter_int.h"

const struct postern_filter filter_spf_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "spf",
};
