/* dmarc.c - the built-in dmarc filter (being written). */
#include "config.h"

#include "filter_int.h"

const struct postern_filter filter_dmarc_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "dmarc",
};
