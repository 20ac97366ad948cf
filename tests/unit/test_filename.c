/*
 * test_filename.c - attachment names as a rule should match them: NFC,
 * bidi and invisible characters removed and flagged, trailing dots and
 * blanks stripped, double extensions noted, extensions lower-cased.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "filename.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct norm_case {
	const char *in;
	size_t len; /* 0: strlen */
	const char *want;
	unsigned flags;
};

static void
test_normalise(void **state)
{
	static const struct norm_case rows[] = {
		{ "report.pdf", 0, "report.pdf", 0 },
		/* RLO: "photo\u202Egpj.exe" shows as "photoexe.jpg" */
		{ "photo\xe2\x80\xaegpj.exe", 0, "photogpj.exe",
		  FILENAME_F_BIDI },
		{ "\xe2\x81\xa6"
		  "a.exe\xe2\x81\xa9",
		  0, "a.exe", FILENAME_F_BIDI },
		{ "in\xe2\x80\x8bvoice.e\xef\xbb\xbfxe", 0, "invoice.exe",
		  FILENAME_F_ZERO_WIDTH },
		{ "a.ex\xc2\xad"
		  "e",
		  0, "a.exe", FILENAME_F_ZERO_WIDTH },
		{ "run.exe.", 0, "run.exe", FILENAME_F_TRAILING },
		{ "run.exe . . ", 0, "run.exe", FILENAME_F_TRAILING },
		{ "run.exe\xc2\xa0", 0, "run.exe", FILENAME_F_TRAILING },
		{ "dir/payload.exe/", 0, "dir/payload.exe",
		  FILENAME_F_TRAILING },
		{ "a\tb\x01.exe", 0, "ab.exe", FILENAME_F_CONTROL },
		{ "nul\0.exe", 8, "nul.exe", FILENAME_F_CONTROL },
		{ "invoice.pdf.exe", 0, "invoice.pdf.exe",
		  FILENAME_F_DOUBLE_EXT },
		{ "invoice.PDF    .scr", 0, "invoice.PDF    .scr",
		  FILENAME_F_DOUBLE_EXT },
		{ "archive.tar.gz", 0, "archive.tar.gz", 0 },
		{ "v1.2.exe", 0, "v1.2.exe", 0 },
		/* e + combining acute -> U+00E9 */
		{ "re\xcc\x81sume\xcc\x81.doc", 0, "r\xc3\xa9sum\xc3\xa9.doc",
		  FILENAME_F_NFC },
		/* a + dot below + circumflex, and out of canonical order
		 * (circumflex first): both U+1EAD */
		{ "a\xcc\xa3\xcc\x82", 0, "\xe1\xba\xad", FILENAME_F_NFC },
		{ "a\xcc\x82\xcc\xa3", 0, "\xe1\xba\xad", FILENAME_F_NFC },
		/* precomposed e-acute before dot below: e, dot below
		 * compose (U+1EB9), the acute stays */
		{ "\xc3\xa9\xcc\xa3", 0, "\xe1\xba\xb9\xcc\x81",
		  FILENAME_F_NFC },
		/* Cyrillic i + breve -> U+0439 */
		{ "\xd0\xb8\xcc\x86", 0, "\xd0\xb9", FILENAME_F_NFC },
		/* already NFC, and text NFC leaves alone */
		{ "\xc3\xa9t\xc3\xa9.txt", 0, "\xc3\xa9t\xc3\xa9.txt", 0 },
		{ "\xe6\x96\x87\xe6\x9b\xb8.pdf", 0,
		  "\xe6\x96\x87\xe6\x9b\xb8.pdf", 0 },
		{ "bad\xff.exe", 0, "bad\xef\xbf\xbd.exe",
		  FILENAME_F_INVALID_UTF8 },
		{ "", 0, "", FILENAME_F_EMPTY },
		{ " . ", 0, "", FILENAME_F_EMPTY | FILENAME_F_TRAILING },
		{ "\xe2\x80\xae", 0, "", FILENAME_F_EMPTY | FILENAME_F_BIDI },
	};
	struct pst_arena *arena = pst_arena_new(0);

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		const char *out;
		unsigned flags = 12345;
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].in);

		assert_int_equal(filename_normalise(arena, rows[i].in, len,
						    &out, &flags),
				 0);
		if (strcmp(out, rows[i].want) != 0 || flags != rows[i].flags)
			fail_msg("row %zu: got '%s' flags %#x, want '%s' %#x",
				 i, out, flags, rows[i].want, rows[i].flags);
	}
	pst_arena_free(&arena);
}

static void
test_long_name(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	char in[3 * FILENAME_MAX_LEN];
	const char *out;
	unsigned flags;

	(void)state;
	/* two-byte characters: the cut must not split one */
	for (size_t i = 0; i + 1 < sizeof(in); i += 2) {
		in[i] = '\xc3';
		in[i + 1] = '\xa9';
	}
	assert_int_equal(
		filename_normalise(arena, in, sizeof(in) - 1, &out, &flags), 0);
	assert_true(strlen(out) <= FILENAME_MAX_LEN);
	assert_int_equal(strlen(out) % 2, 0);
	assert_true(flags & FILENAME_F_TRUNCATED);
	/* far too long input is refused early, not walked */
	{
		static char huge[64 * FILENAME_MAX_LEN];

		memset(huge, 'a', sizeof(huge));
		assert_int_equal(filename_normalise(arena, huge, sizeof(huge),
						    &out, &flags),
				 0);
		assert_int_equal(strlen(out), FILENAME_MAX_LEN);
	}
	pst_arena_free(&arena);
}

static void
test_extension(void **state)
{
	static const struct {
		const char *name, *want;
	} rows[] = {
		{ "a.EXE", "exe" },
		{ "a.tar.gz", "gz" },
		{ "noext", "" },
		{ ".bashrc", "" },
		{ "dir.d/file", "" },
		{ "dir\\x.Scr", "scr" },
		{ "a.verylongextension", "" },
		{ "a.e xe", "" },
		{ "a.", "" },
		{ "", "" },
	};
	struct pst_arena *arena = pst_arena_new(0);

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++)
		assert_string_equal(filename_extension(arena, rows[i].name),
				    rows[i].want);
	pst_arena_free(&arena);
}

static void
test_nfc_room(void **state)
{
	char out[8];

	(void)state;
	/* too little room is refused, never overrun */
	assert_int_equal(filename_nfc("abc", 3, out, 9), (size_t)-1);
	assert_int_equal(filename_nfc("ab", 2, out, 7), 2);
	assert_string_equal(out, "ab");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_extension),
		cmocka_unit_test(test_nfc_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
