/*
 * attachment_filter.h - the attachment scan of the current message as
 * the rules filter reads it (attachment_filter.c).
 */
#ifndef FILTERS_ATTACHMENT_FILTER_H
#define FILTERS_ATTACHMENT_FILTER_H

#include "postern/filter.h"
#include "attachment.h"

/*
 * The scan of the message of t's session (t: any filter's txn, at the
 * message stage): the attachment filter's (made now with its limits if
 * it has not run yet, kept for the transaction) when the chain has one,
 * else a scan with the default limits made onto arena for this call.
 * NULL with *error_r when it cannot be made.
 */
const struct attachment_scan *attachment_filter_scan(struct pf_txn *t,
						     struct pst_arena *arena,
						     const char **error_r);

/* Items at depth 0: the message's attachments. */
size_t attachment_filter_count(const struct attachment_scan *scan);

#endif
