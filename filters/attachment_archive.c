/*
 * attachment_archive.c - the members of an archive (zip, 7z, rar, tar,
 * iso, cpio, cab, lha, and gzip/bzip2/xz/zstd streams) through
 * libarchive, read from memory, each becoming an item that is then
 * inspected like a part (and may be an archive itself).
 *
 * Budgets are checked before every header and after every chunk of
 * data: a member's bytes count against max_bytes as they come out, and
 * an archive's output against max_ratio times its size, so a bomb
 * stops after at most one chunk over.  Only built-in decompressors are
 * enabled: libarchive never runs an external program here.  A
 * struct archive per walk; thread-safe as libarchive is.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <archive.h>
#include <archive_entry.h>

#include "attachment_int.h"

/* An archive's output below this is never a bomb by ratio. */
#define ATTACHMENT_RATIO_FLOOR (1u << 20)

static struct archive *
attachment_archive_new(void)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	archive_read_support_format_zip(a);
	archive_read_support_format_7zip(a);
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_iso9660(a);
	archive_read_support_format_cpio(a);
	archive_read_support_format_cab(a);
	archive_read_support_format_lha(a);
	/* a lone compressed file (x.gz): one member */
	archive_read_support_format_raw(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	return a;
}

/* Was the error about encryption (7z with encrypted headers, rar)? */
static bool
attachment_archive_encrypted(struct archive *a)
{
	const char *err = archive_error_string(a);

	return archive_read_has_encrypted_entries(a) > 0 ||
	       (err != NULL && (strstr(err, "ncrypt") != NULL ||
				strstr(err, "assphrase") != NULL));
}

/* The name of the member of a lone compressed file: the archive's name
 * without its compression extension. */
static const char *
attachment_raw_name(struct attachment_walk *w, const char *outer)
{
	static const char *const exts[] = { ".gz", ".bz2", ".xz", ".zst" };
	size_t len = strlen(outer);

	if (len > 4 && strcasecmp(outer + len - 4, ".tgz") == 0)
		return pst_arena_printf(w->arena, "%.*s.tar", (int)(len - 4),
					outer);
	for (size_t k = 0; k < sizeof(exts) / sizeof(exts[0]); k++) {
		size_t el = strlen(exts[k]);

		if (len > el && strcasecmp(outer + len - el, exts[k]) == 0)
			return pst_arena_strndup(w->arena, outer, len - el);
	}
	return "";
}

/* Read the current member's data into buf (kept whole when it fits the
 * budget), counting it; 0, or 1 when the walk must stop, -1 when it
 * could not be read (an encrypted or damaged member). */
static int
attachment_member_data(struct attachment_walk *w, struct archive *a, ssize_t i,
		       ssize_t outer, size_t archive_len, uint64_t *archive_out,
		       struct pst_buf *buf, uint64_t *size_r)
{
	const struct attachment_limits *l = w->limits;
	char chunk[65536];
	la_ssize_t n;

	*size_r = 0;
	while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
		*size_r += (uint64_t)n;
		*archive_out += (uint64_t)n;
		w->scan->bytes += (uint64_t)n;
		if (w->scan->bytes > l->max_bytes ||
		    (*archive_out > ATTACHMENT_RATIO_FLOOR &&
		     *archive_out / (archive_len ? archive_len : 1) >=
			     l->max_ratio)) {
			attachment_item(w, i)->defects |= ATTACHMENT_D_BOMB;
			attachment_item(w, outer)->defects |= ATTACHMENT_D_BOMB;
			w->stop = true;
			return 1;
		}
		if (buf->len + (size_t)n <= ATTACHMENT_READ_MAX &&
		    pst_buf_append(buf, chunk, (size_t)n) < 0) {
			w->error = "out of memory";
			return -1;
		}
		if (attachment_walk_late(w, i))
			return 1;
	}
	return n < 0 ? -1 : 0;
}

/* One member: an item under outer, read and inspected.  0, 1 to stop
 * reading this archive, -1 out of memory. */
static int
attachment_member(struct attachment_walk *w, struct archive *a,
		  struct archive_entry *e, ssize_t outer, size_t len,
		  uint64_t *archive_out)
{
	const struct attachment_item *o = attachment_item(w, outer);
	const char *container = o->filename[0] ? o->filename : o->sniffed_type;
	const char *name = archive_entry_pathname_utf8(e);
	struct pst_str names[1];
	struct pst_buf buf;
	uint64_t size = 0;
	ssize_t i;
	int rc;

	if (name == NULL)
		name = archive_entry_pathname(e);
	if (archive_format(a) == ARCHIVE_FORMAT_RAW) {
		name = attachment_raw_name(w, o->filename);
		if (name == NULL)
			goto oom;
	}
	i = attachment_item_new(w, o->depth + 1, o->part_index, container);
	if (i < 0)
		return -1;
	names[0] = pst_str_from_cstr(name != NULL ? name : "");
	/* an ISO's root directory is "." */
	if (attachment_item_names(w, i, names, 1,
				  archive_entry_filetype(e) != AE_IFDIR) < 0)
		return -1;
	attachment_item(w, outer)->members++;
	if (archive_entry_filetype(e) == AE_IFDIR) {
		attachment_item(w, i)->sniffed_type = "inode/directory";
		return 0;
	}
	if (archive_entry_is_encrypted(e)) {
		attachment_item(w, i)->encrypted = true;
		attachment_item(w, i)->defects |= ATTACHMENT_D_ENCRYPTED;
		attachment_item(w, outer)->encrypted = true;
		attachment_item(w, i)->size =
			archive_entry_size_is_set(e)
				? (uint64_t)archive_entry_size(e)
				: 0;
		return 0;
	}
	pst_buf_init(&buf, 0);
	rc = attachment_member_data(w, a, i, outer, len, archive_out, &buf,
				    &size);
	attachment_item(w, i)->size = size;
	if (rc < 0 && w->error == NULL) {
		bool enc = attachment_archive_encrypted(a);

		attachment_item(w, i)->defects |=
			enc ? ATTACHMENT_D_ENCRYPTED : ATTACHMENT_D_UNREADABLE;
		attachment_item(w, i)->encrypted = enc;
		rc = 1;
	}
	if (rc == 0 || (rc == 1 && buf.len > 0))
		if (attachment_inspect(w, i, (const unsigned char *)buf.data,
				       buf.len, rc == 0) < 0)
			rc = -1;
	pst_buf_free(&buf);
	return rc;
oom:
	w->error = "out of memory";
	return -1;
}

int
attachment_archive_walk(struct attachment_walk *w, ssize_t i,
			const unsigned char *data, size_t len, bool *opened_r)
{
	struct archive *a = attachment_archive_new();
	struct archive_entry *e;
	uint64_t out = 0;
	int rc = 0, r = ARCHIVE_FATAL;
	bool first = true;

	*opened_r = false;
	if (a == NULL) {
		w->error = "out of memory";
		return -1;
	}
	if (archive_read_open_memory(a, data, len) == ARCHIVE_OK)
		r = ARCHIVE_OK;
	while (r == ARCHIVE_OK && !w->stop) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		/* raw without a decompressor: not an archive */
		if (first && r >= ARCHIVE_WARN &&
		    archive_format(a) == ARCHIVE_FORMAT_RAW &&
		    archive_filter_count(a) <= 1)
			break;
		if (r < ARCHIVE_WARN) {
			bool enc = attachment_archive_encrypted(a);

			if (first && !enc)
				break; /* not an archive after all */
			attachment_item(w, i)->defects |=
				enc ? ATTACHMENT_D_ENCRYPTED
				    : ATTACHMENT_D_UNREADABLE;
			attachment_item(w, i)->encrypted |= enc;
			attachment_item(w, i)->archive = true;
			*opened_r = true;
			break;
		}
		first = false;
		*opened_r = true;
		attachment_item(w, i)->archive = true;
		if (!attachment_walk_member(w, i))
			break;
		rc = attachment_member(w, a, e, i, len, &out);
		if (rc != 0)
			break;
		r = ARCHIVE_OK;
	}
	if (first && r == ARCHIVE_EOF) {
		/* an empty archive */
		*opened_r = true;
		attachment_item(w, i)->archive = true;
	} else if (!*opened_r && attachment_type_is_archive(
					 attachment_item(w, i)->sniffed_type)) {
		/* libmagic says archive, libarchive cannot read it */
		*opened_r = true;
		attachment_item(w, i)->archive = true;
		attachment_item(w, i)->defects |= ATTACHMENT_D_UNREADABLE;
	}
	archive_read_free(a);
	return rc < 0 ? -1 : 0;
}
