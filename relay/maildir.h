/*
 * maildir.h - durable, synchronous delivery of one message into a maildir
 * (the "maildir:PATH" upstream, for trying postern out).
 *
 * maildir_deliver() blocks on fsync, so the relay runs it on a worker
 * thread.  It touches no shared state apart from an atomic name counter:
 * any number of threads may deliver at once, into the same maildir too.
 * Results (the file name, error texts) are allocated on the arena passed
 * in, which only the calling thread may use during the call.
 */
#ifndef RELAY_MAILDIR_H
#define RELAY_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>

struct pst_arena;
struct pst_spool;

struct maildir_rcpt {
	const char *addr;  /* "local@domain" */
	const char *orcpt; /* DSN ORCPT "type;xtext" as sent, or NULL */
};

/*
 * Write the message into PATH/new/ (PATH absolute; PATH/tmp, new and cur
 * are created with mode 0700 if missing).  The file starts with
 * "Return-Path: <from>", then "Delivered-To:" and "X-Original-To:" for
 * each recipient, then the spool's content with CRLF turned into LF.
 * Returns 0 once the file and its directory entry are on disk, with
 * *name_r the file name inside new/; or -1 with *error_r saying what
 * failed ("write tmp/NAME: No space left on device") and nothing left in
 * tmp/ or new/.  from is "" for the null sender; spool must be flushed
 * and must not change during the call.
 */
int maildir_deliver(struct pst_arena *arena, const char *path, const char *from,
		    const struct maildir_rcpt *rcpts, size_t nrcpt,
		    struct pst_spool *spool, const char **name_r,
		    const char **error_r);

/*
 * Create PATH (and missing parents) and PATH/tmp, new, cur if missing;
 * directories this call creates are chowned to uid:gid ((uid_t)-1 and
 * (gid_t)-1 keep the owner).  For start-up, before privileges are
 * dropped.  0, or -1 with *error_r on the arena.
 */
int maildir_prepare(struct pst_arena *arena, const char *path, uid_t uid,
		    gid_t gid, const char **error_r);

/* The X-Original-To address for a recipient: the decoded xtext of an
 * "rfc822;" ORCPT (type compared without case), or NULL when orcpt is
 * NULL, of another type, malformed, or decodes to control characters.
 * Allocated on the arena. */
const char *maildir_orcpt_decode(struct pst_arena *arena, const char *orcpt);

#endif
