/*
 * quarantine_int.h - what quarantine.c (the store) and
 * quarantine_envelope.c (the envelope file) share.
 */
#ifndef FILTERS_QUARANTINE_INT_H
#define FILTERS_QUARANTINE_INT_H

#include <stddef.h>
#include <time.h>

struct pst_arena;
struct pst_buf;
struct quarantine_entry;

/* Far above any real envelope (1000 recipients take ~1 MiB at most). */
#define QUAR_ENVELOPE_MAX (8u << 20)

/* Append the envelope of e, stored for reason at when, to b: 0 or -1
 * (out of memory). */
int quar_envelope_format(struct pst_buf *b, const struct quarantine_entry *e,
			 const char *reason, time_t when);

/* Parse data[0..len) (NUL-terminated) into *e; -1 with *error_r (on
 * arena) prefixed with path. */
int quar_envelope_parse(struct pst_arena *arena, const char *path, char *data,
			size_t len, struct quarantine_entry *e,
			const char **error_r);

#endif
