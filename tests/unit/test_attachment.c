/*
 * test_attachment.c - the attachment walk and the content extraction on
 * messages of the evasion corpus (tests/data/evasion) and on damaged
 * archives: what each item says, where it came from, and that every
 * budget stops the walk with its defect.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attachment.h"
#include "content.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct msg {
	struct pst_arena *arena;
	char *data;
	size_t len;
	struct mime_part *root;
};

static ssize_t
msg_pread(void *ctx, void *buf, size_t len, uint64_t offset)
{
	const struct msg *m = ctx;

	if (offset >= m->len)
		return 0;
	if (len > m->len - offset)
		len = m->len - offset;
	memcpy(buf, m->data + offset, len);
	return (ssize_t)len;
}

static void
msg_parse(struct msg *m)
{
	struct mime_parser *p;
	const char *err;

	m->arena = pst_arena_new(0);
	assert_non_null(m->arena);
	p = mime_parser_new(m->arena, NULL);
	assert_non_null(p);
	assert_int_equal(mime_parser_feed(p, m->data, m->len, &err), 0);
	assert_int_equal(mime_parser_end(p, &m->root, &err), 0);
	mime_parser_free(&p);
}

static void
msg_load(struct msg *m, const char *name)
{
	const char *dir = getenv("POSTERN_TEST_DATA");
	char path[1024];
	FILE *f;
	long size;

	snprintf(path, sizeof(path), "%s/evasion/%s", dir ? dir : "tests/data",
		 name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	m->data = malloc((size_t)size + 1);
	assert_non_null(m->data);
	assert_int_equal(fread(m->data, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	m->len = (size_t)size;
	msg_parse(m);
}

static void
msg_free(struct msg *m)
{
	pst_arena_free(&m->arena);
	free(m->data);
}

static const struct attachment_scan *
msg_scan(struct msg *m, const struct attachment_limits *l)
{
	struct attachment_limits def;
	struct attachment_scan *scan;
	const char *err = NULL;

	if (l == NULL) {
		attachment_limits_default(&def);
		l = &def;
	}
	assert_int_equal(attachment_scan_message(m->arena, l, m->root,
						 msg_pread, m, &scan, &err),
			 0);
	return scan;
}

static const struct attachment_item *
find(const struct attachment_scan *s, const char *name)
{
	for (size_t i = 0; i < s->nitems; i++)
		if (strcmp(s->items[i].filename, name) == 0)
			return &s->items[i];
	fail_msg("no item '%s'", name);
	return NULL;
}

static void
test_nested_zip(void **state)
{
	struct msg m = { 0 };
	const struct attachment_scan *s;
	const struct attachment_item *it;

	(void)state;
	msg_load(&m, "zip_in_zip.eml");
	s = msg_scan(&m, NULL);
	assert_int_equal(s->nitems, 4);
	it = find(s, "setup.exe");
	assert_int_equal(it->depth, 2);
	assert_string_equal(it->extension, "exe");
	assert_string_equal(it->container, "inner.zip");
	assert_string_equal(it->declared_type, "");
	assert_non_null(strstr(it->sniffed_type, "executable"));
	assert_int_equal(it->size, 1024);
	/* the MIME part that holds it all: the second leaf (index 2) */
	assert_int_equal(it->part_index, 2);
	assert_int_equal(find(s, "documents.zip")->part_index, 2);
	assert_true(find(s, "documents.zip")->archive);
	assert_int_equal(find(s, "documents.zip")->members, 2);
	assert_int_equal(s->members, 3);
	assert_int_equal(s->defects, 0);
	assert_false(attachment_over_budget(s));
	msg_free(&m);
}

static void
test_budgets(void **state)
{
	static const struct {
		const char *file;
		unsigned max_depth, max_members;
		uint64_t max_bytes;
		uint64_t want;
	} rows[] = {
		{ "zip_in_zip.eml", 1, 10000, 1 << 20, ATTACHMENT_D_TOO_DEEP },
		{ "zip_in_zip.eml", 4, 2, 1 << 20, ATTACHMENT_D_TOO_MANY },
		{ "clean_zip.eml", 4, 10000, 100, ATTACHMENT_D_BOMB },
		/* 20 MiB of zeros in 20 KiB: the ratio, long before the
		 * byte budget */
		{ "zip_bomb.eml", 4, 10000, (uint64_t)1 << 30,
		  ATTACHMENT_D_BOMB },
		{ "attached_eml_file.eml", 0, 10000, 1 << 20,
		  ATTACHMENT_D_TOO_DEEP },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct msg m = { 0 };
		struct attachment_limits l;
		const struct attachment_scan *s;

		attachment_limits_default(&l);
		l.max_depth = rows[i].max_depth;
		l.max_members = rows[i].max_members;
		l.max_bytes = rows[i].max_bytes;
		msg_load(&m, rows[i].file);
		s = msg_scan(&m, &l);
		if ((s->defects & rows[i].want) == 0)
			fail_msg("row %zu: defects %#llx", i,
				 (unsigned long long)s->defects);
		assert_true(attachment_over_budget(s));
		/* the bomb stopped after one chunk past the ratio */
		assert_true(s->bytes < ((uint64_t)8 << 20));
		msg_free(&m);
	}
}

static void
test_defects(void **state)
{
	static const struct {
		const char *file, *name;
		uint64_t want;
		bool encrypted;
	} rows[] = {
		{ "encrypted_zip.eml", "statement.pdf", ATTACHMENT_D_ENCRYPTED,
		  true },
		{ "rtlo_name.eml", "photogpj.exe", ATTACHMENT_D_BIDI_NAME,
		  false },
		{ "lying_type.eml", "beach.jpg", ATTACHMENT_D_TYPE_MISMATCH,
		  false },
		{ "double_extension.eml", "invoice.pdf.exe",
		  ATTACHMENT_D_DOUBLE_EXT | ATTACHMENT_D_TYPE_MISMATCH, false },
		{ "zip_after_image.eml", "cat.png", ATTACHMENT_D_EMBEDDED,
		  false },
		{ "empty_name.eml", "", ATTACHMENT_D_EMPTY_NAME, false },
		{ "directory_entry.eml", "docs/payload.exe",
		  ATTACHMENT_D_TRAILING_NAME, false },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct msg m = { 0 };
		const struct attachment_scan *s;
		const struct attachment_item *it;

		msg_load(&m, rows[i].file);
		s = msg_scan(&m, NULL);
		it = find(s, rows[i].name);
		if ((it->defects & rows[i].want) != rows[i].want)
			fail_msg("%s: defects %#llx", rows[i].file,
				 (unsigned long long)it->defects);
		assert_int_equal(it->encrypted, rows[i].encrypted);
		assert_false(attachment_over_budget(s));
		msg_free(&m);
	}
}

static void
test_where_from(void **state)
{
	static const struct {
		const char *file, *name;
		unsigned depth;
		size_t part;
	} rows[] = {
		/* a uuencoded file: the synthetic child of the text */
		{ "uuencoded_in_text.eml", "setup.exe", 0, 1 },
		/* message/rfc822: a leaf of the inner message */
		{ "attached_rfc822.eml", "update.exe", 0, 5 },
		/* an .eml file: parsed here, its parts are members */
		{ "attached_eml_file.eml", "update.exe", 1, 2 },
		{ "name_only_in_type.eml", "run.exe", 0, 2 },
		{ "rfc2231_split.eml", "invoice.exe", 0, 2 },
		{ "tar_gz.eml", "backup/tool.exe", 1, 2 },
		{ "seven_zip.eml", "payload.exe", 1, 2 },
		{ "iso_image.eml", "PAYLOAD.EXE", 1, 2 },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct msg m = { 0 };
		const struct attachment_item *it;

		msg_load(&m, rows[i].file);
		it = find(msg_scan(&m, NULL), rows[i].name);
		assert_int_equal(it->depth, rows[i].depth);
		assert_int_equal(it->part_index, rows[i].part);
		msg_free(&m);
	}
}

/* A message with one attachment of these bytes, base64. */
static void
msg_with(struct msg *m, const char *type, const char *name,
	 const unsigned char *data, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t cap = len * 2 + 1024, o;

	m->data = malloc(cap);
	assert_non_null(m->data);
	o = (size_t)snprintf(m->data, cap,
			     "Content-Type: multipart/mixed; boundary=b\r\n"
			     "\r\n--b\r\nContent-Type: %s\r\n"
			     "Content-Disposition: attachment; filename=%s\r\n"
			     "Content-Transfer-Encoding: base64\r\n\r\n",
			     type, name);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16;

		v |= i + 1 < len ? (unsigned)data[i + 1] << 8 : 0;
		v |= i + 2 < len ? data[i + 2] : 0;
		m->data[o++] = tab[(v >> 18) & 63];
		m->data[o++] = tab[(v >> 12) & 63];
		m->data[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		m->data[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	o += (size_t)snprintf(m->data + o, cap - o, "\r\n--b--\r\n");
	m->len = o;
	msg_parse(m);
}

static void
test_damaged(void **state)
{
	static const unsigned char junk_zip[] = "PK\x03\x04\x14\x00\x00\x00"
						"\x08\x00garbage garbage";
	static const unsigned char trunc_gz[] = "\x1f\x8b\x08\x00\x00\x00";
	unsigned char random[4096];
	struct msg m = { 0 };
	const struct attachment_scan *s;

	(void)state;
	msg_with(&m, "application/zip", "a.zip", junk_zip,
		 sizeof(junk_zip) - 1);
	s = msg_scan(&m, NULL);
	assert_int_equal(s->nitems, 1);
	assert_true(s->items[0].defects & ATTACHMENT_D_UNREADABLE);
	msg_free(&m);

	memset(&m, 0, sizeof(m));
	msg_with(&m, "application/gzip", "a.gz", trunc_gz,
		 sizeof(trunc_gz) - 1);
	s = msg_scan(&m, NULL);
	assert_true(s->nitems >= 1);
	assert_false(attachment_over_budget(s));
	msg_free(&m);

	/* random bytes called an archive: no crash, no loop */
	srand(42);
	for (size_t i = 0; i < sizeof(random); i++)
		random[i] = (unsigned char)rand();
	memset(&m, 0, sizeof(m));
	msg_with(&m, "application/x-7z-compressed", "r.7z", random,
		 sizeof(random));
	s = msg_scan(&m, NULL);
	assert_int_equal(s->nitems, 1);
	assert_false(s->items[0].archive && s->items[0].members > 0);
	msg_free(&m);
}

static void
test_type_mismatch(void **state)
{
	static const struct {
		const char *declared, *sniffed;
		bool want;
	} rows[] = {
		{ "image/jpeg", "application/x-dosexec", true },
		{ "application/pdf",
		  "application/vnd.microsoft.portable-executable", true },
		{ "text/plain", "application/zip", true },
		{ "image/png", "image/png", false },
		{ "application/octet-stream", "application/x-dosexec", false },
		{ "application/vnd.openxmlformats-officedocument."
		  "wordprocessingml.document",
		  "application/zip", false },
		{ "message/rfc822", "text/plain", false },
		{ "application/x-foo", "text/plain", false },
		{ "image/jpeg", "", false },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++)
		if (attachment_type_mismatch(rows[i].declared,
					     rows[i].sniffed) != rows[i].want)
			fail_msg("row %zu", i);
}

static void
test_content(void **state)
{
	struct msg m = { 0 };
	struct content_limits l;
	struct content_result *r;
	const char *err;

	(void)state;
	msg_load(&m, "clean_html.eml");
	content_limits_default(&l);
	assert_int_equal(
		content_extract(m.arena, &l, m.root, msg_pread, &m, &r, &err),
		0);
	assert_non_null(strstr(r->text, "Read the news or visit"));
	assert_null(strstr(r->text, "casino"));
	assert_null(strstr(r->text, "color"));
	assert_int_equal(r->nurls, 2);
	assert_string_equal(r->urls[0],
			    "https://News.Example.COM/today?x=1&y=2");
	assert_string_equal(r->urls[1], "www.example.org");
	assert_int_equal(r->ndomains, 2);
	assert_string_equal(r->domains[0], "news.example.com");
	assert_string_equal(r->domains[1], "www.example.org");
	assert_false(r->truncated);
	/* at most max_urls, noted */
	l.max_urls = 1;
	assert_int_equal(
		content_extract(m.arena, &l, m.root, msg_pread, &m, &r, &err),
		0);
	assert_int_equal(r->nurls, 1);
	assert_true(r->truncated);
	msg_free(&m);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_zip),
		cmocka_unit_test(test_budgets),
		cmocka_unit_test(test_defects),
		cmocka_unit_test(test_where_from),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_type_mismatch),
		cmocka_unit_test(test_content),
	};
	const char *err;

	if (attachment_magic_init(&err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
