/*
 * attachment.c - the walk over a message's parts, attached messages and
 * (through attachment_archive.c) archives: see attachment.h.
 *
 * Every loop is bounded: parts by the MIME tree (itself bounded by the
 * parser's limits), members and bytes by the budgets, recursion by
 * max_depth.  Not thread-safe per scan; scans on different threads are
 * independent.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "attachment_int.h"
#include "filename.h"

static const char *const attachment_defect_names[ATTACHMENT_D_COUNT] = {
	"type_mismatch", "encrypted",	  "too_deep",
	"bomb",		 "unreadable",	  "too_many",
	"timeout",	 "bidi_name",	  "hidden_name",
	"control_name",	 "trailing_name", "double_extension",
	"empty_name",	 "name_conflict", "embedded_archive",
};

const char *
attachment_defect_name(uint64_t bit)
{
	for (unsigned b = 0; b < ATTACHMENT_D_COUNT; b++)
		if (bit == (uint64_t)1 << b)
			return attachment_defect_names[b];
	return NULL;
}

void
attachment_limits_default(struct attachment_limits *l)
{
	l->max_depth = 4;
	l->max_members = 10000;
	l->max_bytes = (uint64_t)64 << 20;
	l->max_ratio = 200;
	l->max_ms = 10000;
}

bool
attachment_over_budget(const struct attachment_scan *scan)
{
	return scan != NULL && (scan->defects & ATTACHMENT_D_BUDGET) != 0;
}

uint64_t
attachment_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

ssize_t
attachment_item_new(struct attachment_walk *w, unsigned depth,
		    size_t part_index, const char *container)
{
	struct attachment_scan *s = w->scan;
	struct attachment_item *it;

	if (s->nitems == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct attachment_item *n =
			pst_arena_calloc(w->arena, cap, sizeof(*n));

		if (n == NULL) {
			w->error = "out of memory";
			return -1;
		}
		if (s->nitems > 0)
			memcpy(n, s->items, s->nitems * sizeof(*n));
		s->items = n;
		s->cap = cap;
	}
	it = &s->items[s->nitems];
	memset(it, 0, sizeof(*it));
	it->filename = "";
	it->extension = "";
	it->declared_type = "";
	it->sniffed_type = "";
	it->depth = depth;
	it->part_index = part_index;
	it->container = container;
	return (ssize_t)s->nitems++;
}

static uint64_t
attachment_name_defects(unsigned flags)
{
	uint64_t d = 0;

	if (flags & FILENAME_F_BIDI)
		d |= ATTACHMENT_D_BIDI_NAME;
	if (flags & FILENAME_F_ZERO_WIDTH)
		d |= ATTACHMENT_D_HIDDEN_NAME;
	if (flags & FILENAME_F_CONTROL)
		d |= ATTACHMENT_D_CONTROL_NAME;
	if (flags & FILENAME_F_TRAILING)
		d |= ATTACHMENT_D_TRAILING_NAME;
	if (flags & FILENAME_F_DOUBLE_EXT)
		d |= ATTACHMENT_D_DOUBLE_EXT;
	return d;
}

int
attachment_item_names(struct attachment_walk *w, ssize_t i,
		      const struct pst_str *names, size_t n, bool named)
{
	const char **v = pst_arena_calloc(w->arena, n ? n : 1, sizeof(*v));
	uint64_t defects = 0;
	size_t k = 0;

	if (v == NULL)
		goto oom;
	for (size_t j = 0; j < n; j++) {
		const char *norm;
		unsigned flags;
		bool dup = false;

		if (filename_normalise(w->arena, names[j].p, names[j].len,
				       &norm, &flags) < 0)
			goto oom;
		if (norm[0] == '\0')
			continue;
		defects |= attachment_name_defects(flags);
		for (size_t m = 0; m < k && !dup; m++)
			dup = strcmp(v[m], norm) == 0;
		if (!dup)
			v[k++] = norm;
	}
	attachment_item(w, i)->names = v;
	attachment_item(w, i)->nnames = k;
	if (k > 0) {
		const char *ext = filename_extension(w->arena, v[0]);

		if (ext == NULL)
			goto oom;
		attachment_item(w, i)->filename = v[0];
		attachment_item(w, i)->extension = ext;
		for (size_t m = 1; m < k; m++) {
			const char *e = filename_extension(w->arena, v[m]);

			if (e == NULL)
				goto oom;
			if (strcmp(e, ext) != 0)
				defects |= ATTACHMENT_D_NAME_CONFLICT;
		}
	} else if (named) {
		defects |= ATTACHMENT_D_EMPTY_NAME;
	}
	attachment_item(w, i)->defects |= defects;
	return 0;
oom:
	w->error = "out of memory";
	return -1;
}

bool
attachment_walk_late(struct attachment_walk *w, ssize_t i)
{
	if (w->stop)
		return true;
	if (attachment_now_ms() < w->deadline)
		return false;
	w->stop = true;
	attachment_item(w, i)->defects |= ATTACHMENT_D_TIMEOUT;
	return true;
}

bool
attachment_walk_member(struct attachment_walk *w, ssize_t i)
{
	if (attachment_walk_late(w, i))
		return false;
	if (w->scan->members >= w->limits->max_members) {
		w->stop = true;
		attachment_item(w, i)->defects |= ATTACHMENT_D_TOO_MANY;
		return false;
	}
	w->scan->members++;
	return true;
}

/* Does the end of data hold a ZIP end-of-central-directory record (an
 * archive appended to something else)? */
static bool
attachment_zip_tail(const unsigned char *data, size_t len)
{
	/* the record is 22 bytes plus a comment of at most 65535 */
	size_t from = len > 22 + 65535 ? len - 22 - 65535 : 0;

	for (size_t k = len >= 22 ? len - 22 + 1 : 0; k-- > from;)
		if (data[k] == 'P' && data[k + 1] == 'K' && data[k + 2] == 5 &&
		    data[k + 3] == 6)
			return true;
	return false;
}

static bool
attachment_ext_is(const char *ext, const char *const *list)
{
	for (size_t k = 0; list[k] != NULL; k++)
		if (strcmp(ext, list[k]) == 0)
			return true;
	return false;
}

int
attachment_inspect(struct attachment_walk *w, ssize_t i,
		   const unsigned char *data, size_t len, bool complete)
{
	static const char *const archive_exts[] = {
		"zip", "7z",  "rar", "tar",  "gz",  "tgz", "bz2", "xz",
		"iso", "cab", "jar", "cpio", "lzh", "img", NULL,
	};
	static const char *const message_exts[] = { "eml", "msg", NULL };
	struct attachment_item *it = attachment_item(w, i);
	const char *sniffed = attachment_magic_type(
		w->arena, data,
		len < ATTACHMENT_SNIFF_MAX ? len : ATTACHMENT_SNIFF_MAX);
	bool as_archive, tail;

	if (sniffed == NULL) {
		w->error = "out of memory";
		return -1;
	}
	it->sniffed_type = sniffed;
	if (it->declared_type[0] != '\0' &&
	    attachment_type_mismatch(it->declared_type, sniffed))
		it->defects |= ATTACHMENT_D_TYPE_MISMATCH;
	if (!complete || w->stop)
		return 0;
	/* an archive by its content, its name, or a ZIP at its end */
	tail = !attachment_type_is_archive(sniffed) &&
	       attachment_zip_tail(data, len);
	as_archive = attachment_type_is_archive(sniffed) || tail ||
		     attachment_ext_is(it->extension, archive_exts);
	if (as_archive) {
		bool opened = false;

		if (it->depth + 1 > w->limits->max_depth) {
			it->defects |= ATTACHMENT_D_TOO_DEEP;
			w->stop = true;
			return 0;
		}
		if (attachment_archive_walk(w, i, data, len, &opened) < 0)
			return -1;
		it = attachment_item(w, i);
		if (opened && tail)
			it->defects |= ATTACHMENT_D_EMBEDDED;
		if (opened)
			return 0;
		/* called an archive by its name or type, and not one */
		if (!w->stop &&
		    (attachment_ext_is(it->extension, archive_exts) ||
		     attachment_type_is_archive(it->declared_type))) {
			it->defects |= ATTACHMENT_D_UNREADABLE;
			return 0;
		}
	}
	if (attachment_type_is_message(sniffed) ||
	    attachment_ext_is(it->extension, message_exts)) {
		if (it->depth + 1 > w->limits->max_depth) {
			it->defects |= ATTACHMENT_D_TOO_DEEP;
			w->stop = true;
			return 0;
		}
		return attachment_message_walk(w, i, data, len);
	}
	return 0;
}

/* ---- reading parts ---- */

struct attachment_mem {
	const unsigned char *data;
	size_t len;
};

static ssize_t
attachment_mem_pread(void *ctx, void *buf, size_t len, uint64_t offset)
{
	const struct attachment_mem *m = ctx;

	if (offset >= m->len)
		return 0;
	if (len > m->len - offset)
		len = (size_t)(m->len - offset);
	memcpy(buf, m->data + offset, len);
	return (ssize_t)len;
}

/* Up to max bytes of part's decoded content into buf. */
static int
attachment_read_part(const struct mime_part *part, mime_pread_fn *pread,
		     void *ctx, size_t max, struct pst_buf *buf)
{
	struct mime_reader *r = mime_reader_open(part, pread, ctx);
	char chunk[16384];
	ssize_t n = 0;

	if (r == NULL)
		return -1;
	while (buf->len < max &&
	       (n = mime_reader_read(r, chunk,
				     max - buf->len < sizeof(chunk)
					     ? max - buf->len
					     : sizeof(chunk))) > 0)
		if (pst_buf_append(buf, chunk, (size_t)n) < 0) {
			n = -1;
			break;
		}
	mime_reader_close(&r);
	return n < 0 ? -1 : 0;
}

/* Binary content in what says it is body text: a program, an archive,
 * NULs. */
static bool
attachment_looks_binary(const unsigned char *p, size_t len)
{
	/* "\177ELF" in octal: "\x7fELF" would read as one escape */
	static const char *const magics[] = {
		"MZ",	      "PK\x03\x04", "\177ELF",	"Rar!",
		"7z\xbc\xaf", "%PDF",	    "\x1f\x8b", "\xd0\xcf\x11\xe0",
	};

	for (size_t k = 0; k < sizeof(magics) / sizeof(magics[0]); k++) {
		size_t ml = strlen(magics[k]);

		if (len >= ml && memcmp(p, magics[k], ml) == 0)
			return true;
	}
	return memchr(p, '\0', len) != NULL;
}

/* A body text part, not an attachment: inline (or no disposition)
 * text type without a name. */
static bool
attachment_is_body_text(const struct mime_part *p)
{
	return strncmp(p->type, "text/", 5) == 0 && p->filename.p == NULL &&
	       p->nfilenames == 0 &&
	       (p->disposition == NULL ||
		strcmp(p->disposition, "attachment") != 0);
}

/* One leaf of a message: an item at depth (index of the top-level part
 * it belongs to: top, or its own index when top is (size_t)-1). */
static int
attachment_leaf(struct attachment_walk *w, const struct mime_part *p,
		mime_pread_fn *pread, void *ctx, unsigned depth, size_t top,
		const char *container)
{
	struct pst_str names[16];
	size_t nnames = 0;
	struct pst_buf buf;
	bool body = attachment_is_body_text(p), complete;
	uint64_t want;
	ssize_t i;
	int rc = -1;

	pst_buf_init(&buf, 0);
	/* the start of body text, to see whether it is text at all */
	want = body ? 8192 : p->size;
	if (want > ATTACHMENT_READ_MAX)
		want = ATTACHMENT_READ_MAX;
	if (attachment_read_part(p, pread, ctx, (size_t)want, &buf) < 0) {
		w->error = "cannot read a part of the message";
		goto out;
	}
	if (body && !attachment_looks_binary((const unsigned char *)buf.data,
					     buf.len)) {
		rc = 0;
		goto out;
	}
	i = attachment_item_new(w, depth, top == (size_t)-1 ? p->index : top,
				container);
	if (i < 0)
		goto out;
	if (p->filename.p != NULL)
		names[nnames++] = p->filename;
	for (const struct mime_filename *f = p->filenames;
	     f != NULL && nnames < sizeof(names) / sizeof(names[0]);
	     f = f->next)
		names[nnames++] = f->name;
	if (attachment_item_names(
		    w, i, names, nnames,
		    p->disposition != NULL &&
			    strcmp(p->disposition, "attachment") == 0) < 0)
		goto out;
	attachment_item(w, i)->declared_type = p->type;
	attachment_item(w, i)->size = p->size;
	complete = buf.len == p->size;
	rc = attachment_inspect(w, i, (const unsigned char *)buf.data, buf.len,
				complete);
out:
	pst_buf_free(&buf);
	return rc;
}

/* Every leaf of the tree at root. */
static int
attachment_tree(struct attachment_walk *w, const struct mime_part *root,
		mime_pread_fn *pread, void *ctx, unsigned depth, size_t top,
		const char *container, ssize_t parent)
{
	for (const struct mime_part *p = root; p != NULL && !w->stop;
	     p = mime_part_next(p)) {
		if (p->kind != MIME_PART_LEAF)
			continue;
		if (parent >= 0 && !attachment_walk_member(w, parent))
			break;
		if (parent < 0 && w->scan->nitems > 0 &&
		    attachment_walk_late(w, (ssize_t)w->scan->nitems - 1))
			break;
		if (attachment_leaf(w, p, pread, ctx, depth, top, container) <
		    0)
			return -1;
	}
	return 0;
}

int
attachment_message_walk(struct attachment_walk *w, ssize_t i,
			const unsigned char *data, size_t len)
{
	struct attachment_mem mem = { data, len };
	struct mime_limits limits;
	struct mime_parser *p;
	struct mime_part *root;
	const char *err;
	unsigned left = w->limits->max_members - w->scan->members;
	const struct attachment_item *it = attachment_item(w, i);

	mime_limits_default(&limits);
	if (left < limits.max_parts)
		limits.max_parts = left > 0 ? left : 1;
	p = mime_parser_new(w->arena, &limits);
	if (p == NULL || mime_parser_feed(p, data, len, &err) < 0 ||
	    mime_parser_end(p, &root, &err) < 0) {
		mime_parser_free(&p);
		w->error = "out of memory";
		return -1;
	}
	mime_parser_free(&p);
	return attachment_tree(
		w, root, attachment_mem_pread, &mem, it->depth + 1,
		it->part_index,
		it->filename[0] ? it->filename : it->sniffed_type, i);
}

int
attachment_scan_message(struct pst_arena *arena,
			const struct attachment_limits *limits,
			const struct mime_part *root, mime_pread_fn *pread,
			void *pread_ctx, struct attachment_scan **scan_r,
			const char **error_r)
{
	struct attachment_walk w = { .arena = arena, .limits = limits };
	uint64_t start = attachment_now_ms();

	*scan_r = NULL;
	w.scan = pst_arena_zalloc(arena, sizeof(*w.scan));
	if (w.scan == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	w.deadline = start + limits->max_ms;
	if (root != NULL && attachment_tree(&w, root, pread, pread_ctx, 0,
					    (size_t)-1, NULL, -1) < 0) {
		*error_r = w.error != NULL ? w.error : "out of memory";
		return -1;
	}
	for (size_t k = 0; k < w.scan->nitems; k++)
		w.scan->defects |= w.scan->items[k].defects;
	w.scan->ms = attachment_now_ms() - start;
	*scan_r = w.scan;
	return 0;
}
