/*
 * quarantine.h - the quarantine store: messages a filter held back, with
 * their envelope and the verdict, until an admin releases or deletes them.
 *
 * Layout under the store's directory DIR, a maildir per reason:
 *
 *   DIR/REASON/new/ID        the message, exactly as it would have been
 *                            relayed (CRLF lines); a mail client may move
 *                            it to cur/ID or cur/ID:2,FLAGS
 *   DIR/REASON/envelope/ID   the envelope and verdict (see quarantine.c)
 *   DIR/REASON/tmp/          files being written
 *
 * The envelope is written last, so an entry is listed only once it is
 * complete.  IDs are "<unixtime>.<qid>" (".<n>" added on a clash): unique
 * in the store, safe as file names, sorted by time.
 *
 * Blocking file I/O (fsync): posternd calls quarantine_store() on a
 * worker thread.  Thread-safe: any number of threads and processes may
 * store at once.  Nothing here logs.
 */
#ifndef FILTERS_QUARANTINE_H
#define FILTERS_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "filter.h"
#include "smtp_cmd.h"

struct pst_arena;
struct pst_spool;

/* Room for an ID and its NUL. */
#define QUARANTINE_ID_MAX 64
/* Longest reason (a folder name). */
#define QUARANTINE_REASON_MAX 64
/* Where a reason a filter gave that is not a valid folder name goes. */
#define QUARANTINE_REASON_INVALID "invalid"

/* One quarantined message's envelope.  Strings may hold any byte but
 * NUL: the store escapes them.  NULL means absent where noted. */
struct quarantine_entry {
	const char *id;	 /* set by quarantine_load/list; ignored by store */
	const char *qid; /* the gateway's queue id */
	time_t time;	 /* when quarantined; 0 at store: now */
	const char *client_addr; /* "192.0.2.7" */
	unsigned client_port;
	const char *client_name; /* "unknown", or NULL */
	const char *helo;	 /* "" when none */
	const char *proto;	 /* "ESMTP", or NULL */
	bool tls;
	const char *from;		 /* "" for the null sender */
	const struct filter_rcpt *rcpts; /* notify: enum smtp_notify bits */
	size_t nrcpt;
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	const char *envid; /* DSN ENVID xtext, or NULL */
	/* The verdict: the folder; at store, any text (an invalid one
	 * goes to QUARANTINE_REASON_INVALID, and reason_given keeps it). */
	const char *reason;
	const char *reason_given; /* set by load when it differed, or NULL */
	const char *filter;	  /* the deciding filter, or NULL */
	const char *text;	  /* the verdict's text, or NULL */
	uint64_t size;		  /* set by load/list: message bytes */
};

/* Is s a valid reason: [a-z0-9_.-]{1,64}, not starting with '.'? */
bool quarantine_reason_valid(const char *s);
/* Is s shaped like an ID (so it is safe in a path)? */
bool quarantine_id_valid(const char *s);

/*
 * Store the message in spool (flushed; not changed during the call) under
 * entry->reason in dir, creating missing directories (mode 0700).  On
 * success 0 with the new ID in id_r, once message and envelope are on
 * disk.  On failure -1 with *error_r (a thread-local text, valid until
 * this thread's next call here), leaving no entry behind.  At least one
 * recipient is required.
 */
int quarantine_store(const char *dir, const struct quarantine_entry *entry,
		     struct pst_spool *spool, char id_r[QUARANTINE_ID_MAX],
		     const char **error_r);

/*
 * Read entry id: its envelope into *entry_r and the message file's path
 * into *msg_path_r, all on arena.  -1 with *error_r (on arena) when the
 * id is malformed or not in the store, or when its envelope or message
 * cannot be read; errors about a file name the file.
 */
int quarantine_load(struct pst_arena *arena, const char *dir, const char *id,
		    struct quarantine_entry *entry_r, const char **msg_path_r,
		    const char **error_r);

/*
 * Called for each entry, in ID order: entry and msg_path set and error
 * NULL, or (an entry that cannot be read) entry and msg_path NULL and
 * error "PATH: what is wrong".  Everything lives until the callback
 * returns.  A nonzero return stops the walk.
 */
typedef int quarantine_list_fn(void *arg, const struct quarantine_entry *entry,
			       const char *msg_path, const char *error);

/* Walk every entry of every reason (a missing dir is an empty store).
 * 0 (also when fn stopped it), or -1 with *error_r on arena when dir
 * cannot be read. */
int quarantine_list(struct pst_arena *arena, const char *dir,
		    quarantine_list_fn *fn, void *arg, const char **error_r);

/* Remove entry id (envelope first, so it disappears from listings at
 * once, then the message).  0, or -1 with *error_r on arena. */
int quarantine_delete(struct pst_arena *arena, const char *dir, const char *id,
		      const char **error_r);

#endif
