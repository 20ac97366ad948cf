## filters/content.mk - the built-in attachment, content and clamd
## filters (libarchive, libmagic).  Included by Makefile.am, which adds
## the sources to libpstfilters.a and the tests and fuzz targets below
## to its lists.
FILTERS_CONTENT_SOURCES =
FILTERS_CONTENT_UNIT_TESTS =
FILTERS_CONTENT_FUZZ_TARGETS =

## Attachment and content inspection: the walk over parts, archives
## (libarchive) and attached messages with sniffed types (libmagic);
## text, HTML to text and URLs.  The pure pieces (mail/filename,
## html_text, url_extract) are in libpstmail.a.
FILTERS_CONTENT_SOURCES += \
	filters/attachment.c filters/attachment.h filters/attachment_int.h \
	filters/attachment_archive.c filters/attachment_magic.c \
	filters/attachment_type.c \
	filters/attachment_filter.c filters/attachment_filter.h \
	filters/content.c filters/content.h
FILTERS_CONTENT_UNIT_TESTS += tests/unit/test_filename \
	tests/unit/test_html_text tests/unit/test_url_extract \
	tests/unit/test_attachment tests/unit/test_attachment_evasion
tests_unit_test_filename_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_filename_LDADD = $(FILTERS_TEST_LDADD)
tests_unit_test_html_text_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_html_text_LDADD = $(FILTERS_TEST_LDADD)
tests_unit_test_url_extract_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_url_extract_LDADD = $(FILTERS_TEST_LDADD)
tests_unit_test_attachment_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_attachment_LDADD = $(FILTERS_TEST_LDADD)
## The evasion corpus (tests/data/evasion, made by make.py) through
## the chain: attachment, content and rules filters.
tests_unit_test_attachment_evasion_SOURCES = \
	tests/unit/test_attachment_evasion.c \
	tests/unit/filter_test.c tests/unit/filter_test.h
tests_unit_test_attachment_evasion_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_attachment_evasion_LDADD = $(FILTERS_TEST_LDADD)
EXTRA_tests_unit_test_attachment_evasion_DEPENDENCIES = $(FILTERS_TEST_SO)

## Fuzzing: the archive walk and HTML to text on arbitrary bytes.
FILTERS_CONTENT_FUZZ_TARGETS += tests/fuzz/fuzz_attachment \
	tests/fuzz/fuzz_html_text
tests_fuzz_fuzz_attachment_CPPFLAGS = $(FILTERS_CPPFLAGS)
tests_fuzz_fuzz_attachment_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_attachment_LDADD = $(PST_LIBS)
tests_fuzz_fuzz_html_text_CPPFLAGS = $(MAIL_CPPFLAGS)
tests_fuzz_fuzz_html_text_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_html_text_LDADD = libpstmail.a libpstutil.a

## Body rewriting (notices, banners: "modify, then sign") and the clamd
## filter.
FILTERS_CONTENT_SOURCES += \
	filters/rewrite.c filters/rewrite.h filters/rewrite_int.h \
	filters/rewrite_banner.c filters/rewrite_enc.c \
	filters/rewrite_keep.c
FILTERS_CONTENT_UNIT_TESTS += tests/unit/test_rewrite
tests_unit_test_rewrite_SOURCES = tests/unit/test_rewrite.c \
	tests/unit/filter_test.c tests/unit/filter_test.h
tests_unit_test_rewrite_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_rewrite_LDADD = $(FILTERS_TEST_LDADD)
EXTRA_tests_unit_test_rewrite_DEPENDENCIES = $(FILTERS_TEST_SO)
FILTERS_CONTENT_UNIT_TESTS += tests/unit/test_rewrite_rules
tests_unit_test_rewrite_rules_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_rewrite_rules_LDADD = $(UNIT_LDADD)
FILTERS_CONTENT_SOURCES += filters/clamd.c filters/clamd.h \
	filters/clamd_client.c
## clamd against a stand-in server on a unix socket and on loopback.
FILTERS_CONTENT_UNIT_TESTS += tests/unit/test_clamd
tests_unit_test_clamd_SOURCES = tests/unit/test_clamd.c \
	tests/unit/filter_test.c tests/unit/filter_test.h
tests_unit_test_clamd_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_clamd_LDADD = $(FILTERS_TEST_LDADD)
EXTRA_tests_unit_test_clamd_DEPENDENCIES = $(FILTERS_TEST_SO)
## Fuzzing: rewriting arbitrary MIME, the result checked.
FILTERS_CONTENT_FUZZ_TARGETS += tests/fuzz/fuzz_rewrite
tests_fuzz_fuzz_rewrite_CPPFLAGS = $(FILTERS_CPPFLAGS)
tests_fuzz_fuzz_rewrite_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_rewrite_LDADD = $(PST_LIBS)
