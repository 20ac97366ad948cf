/*
 * noop.c - a filter that has every callback and does nothing: for tests
 * of loading and for measuring what the chain itself costs.  It never
 * blocks, so the host calls it on the event loop.
 */
#include "postern/filter.h"

static enum pf_verdict
noop_connect(struct pf_txn *t)
{
	(void)t;
	return PF_CONTINUE;
}

static enum pf_verdict
noop_arg(struct pf_txn *t, const char *arg)
{
	(void)t;
	(void)arg;
	return PF_CONTINUE;
}

static void
noop_end(struct pf_txn *t)
{
	(void)t;
}

const struct postern_filter postern_filter = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "noop",
	.flags = PF_FILTER_NONBLOCKING,
	.on_connect = noop_connect,
	.on_helo = noop_arg,
	.on_mail = noop_arg,
	.on_rcpt = noop_arg,
	.on_message = noop_connect,
	.on_reset = noop_end,
	.on_close = noop_end,
};
