/*
 * bad.c - shared objects the host must refuse to load: -DBAD_ABI (an ABI
 * version from the future), -DBAD_SIZE (a struct smaller than version
 * 1's), -DNO_SYMBOL (no postern_filter symbol at all).
 */
#include "postern/filter.h"

static enum pf_verdict
bad_connect(struct pf_txn *t)
{
	(void)t;
	return PF_REJECT;
}

#if defined(BAD_ABI)
const struct postern_filter postern_filter = {
	.abi = 7,
	.size = sizeof(struct postern_filter),
	.name = "bad_abi",
	.on_connect = bad_connect,
};
#elif defined(BAD_SIZE)
const struct postern_filter postern_filter = {
	.abi = POSTERN_FILTER_ABI,
	.size = 16,
	.name = "bad_size",
	.on_connect = bad_connect,
};
#else
/* Almost right: the symbol has another name. */
extern const struct postern_filter postern_filter_v1;
const struct postern_filter postern_filter_v1 = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "nosym",
	.on_connect = bad_connect,
};
#endif
