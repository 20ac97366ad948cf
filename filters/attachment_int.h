/*
 * attachment_int.h - what attachment.c (the walk over parts and
 * messages) and attachment_archive.c (libarchive) share.  Items are
 * named by index: the array grows while a walk recurses.
 */
#ifndef FILTERS_ATTACHMENT_INT_H
#define FILTERS_ATTACHMENT_INT_H

#include "attachment.h"

/* Bytes of a part or member kept in memory to look inside it; larger
 * ones are sniffed from their start only. */
#define ATTACHMENT_READ_MAX ((uint64_t)256 << 20)
/* Bytes handed to libmagic. */
#define ATTACHMENT_SNIFF_MAX (1u << 20)

struct attachment_walk {
	struct pst_arena *arena;
	const struct attachment_limits *limits;
	struct attachment_scan *scan;
	uint64_t deadline; /* monotonic ms */
	bool stop;	   /* a budget was reached: add nothing more */
	const char *error; /* out of memory, an unreadable message */
};

/* A new item at depth for part_index in container; its index, or -1
 * (out of memory: w->error). */
ssize_t attachment_item_new(struct attachment_walk *w, unsigned depth,
			    size_t part_index, const char *container);
static inline struct attachment_item *
attachment_item(struct attachment_walk *w, ssize_t i)
{
	return &w->scan->items[i];
}
/* Set item i's names from candidates (raw UTF-8, the preferred one
 * first); flags become defects.  0 or -1 (out of memory). */
int attachment_item_names(struct attachment_walk *w, ssize_t i,
			  const struct pst_str *names, size_t n, bool named);
/* Note one more member; false (and w->stop, a defect on item i) when a
 * budget is reached. */
bool attachment_walk_member(struct attachment_walk *w, ssize_t i);
/* Has time run out?  Sets w->stop and the defect on item i. */
bool attachment_walk_late(struct attachment_walk *w, ssize_t i);
/* Look into item i's content data[0..len) (complete when complete):
 * sniff it, compare types, open archives and messages. 0 or -1. */
int attachment_inspect(struct attachment_walk *w, ssize_t i,
		       const unsigned char *data, size_t len, bool complete);

/* attachment_archive.c: read data[0..len) as an archive whose members
 * become items under item i.  0 or -1 (out of memory); an archive it
 * cannot read is a defect.  *opened_r: libarchive knew the format. */
int attachment_archive_walk(struct attachment_walk *w, ssize_t i,
			    const unsigned char *data, size_t len,
			    bool *opened_r);

/* attachment.c: parse data[0..len) as a message whose parts become
 * items under item i. */
int attachment_message_walk(struct attachment_walk *w, ssize_t i,
			    const unsigned char *data, size_t len);

uint64_t attachment_now_ms(void);

#endif
