/* noop.c - a filter that looks at every message and lets it pass: the
 * benchmark's unit of chain overhead (bench/filter_chain.sh).  Built with
 * -DNOOP_NONBLOCKING it says its callback never blocks, so the host may
 * call it on the event loop instead of a worker thread. */
#include <postern/filter.h>

static enum pf_verdict
noop_message(struct pf_txn *t)
{
	(void)t;
	return PF_CONTINUE;
}

const struct postern_filter postern_filter = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "noop",
#ifdef NOOP_NONBLOCKING
	.flags = PF_FILTER_NONBLOCKING,
#endif
	.on_message = noop_message,
};
