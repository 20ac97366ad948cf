## filters/dkim.mk - the built-in dkim filter (verify and sign, on
## libopendkim).  Included by Makefile.am, which adds the sources to
## libpstfilters.a (with $(OPENDKIM_CFLAGS)), $(OPENDKIM_LIBS) to
## PST_LIBS and the tests and fuzz targets below to its lists.
FILTERS_DKIM_SOURCES = \
	filters/dkim.c filters/dkim_int.h \
	filters/dkim_verify.c filters/dkim_bodylen.c \
	filters/dkim_dns.c filters/dkim_sign.c filters/dkim_ed25519.c

## Hermetic: keys made at test time, a stand-in zone instead of DNS.
FILTERS_DKIM_UNIT_TESTS = tests/unit/test_filter_dkim \
	tests/unit/test_filter_dkim_sign
DKIM_TEST_HELPERS = tests/unit/test_filter_dkim_util.c \
	tests/unit/test_filter_dkim_util.h \
	tests/unit/filter_test.c tests/unit/filter_test.h
DKIM_TEST_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS) $(OPENDKIM_CFLAGS) \
	$(OPENSSL_CFLAGS)
tests_unit_test_filter_dkim_SOURCES = tests/unit/test_filter_dkim.c \
	$(DKIM_TEST_HELPERS)
tests_unit_test_filter_dkim_CPPFLAGS = $(DKIM_TEST_CPPFLAGS)
tests_unit_test_filter_dkim_LDADD = $(UNIT_LDADD)
EXTRA_tests_unit_test_filter_dkim_DEPENDENCIES = $(FILTERS_TEST_SO)
tests_unit_test_filter_dkim_sign_SOURCES = \
	tests/unit/test_filter_dkim_sign.c $(DKIM_TEST_HELPERS)
tests_unit_test_filter_dkim_sign_CPPFLAGS = $(DKIM_TEST_CPPFLAGS)
tests_unit_test_filter_dkim_sign_LDADD = $(UNIT_LDADD)
EXTRA_tests_unit_test_filter_dkim_sign_DEPENDENCIES = $(FILTERS_TEST_SO)

## Fuzzing (./configure CC=clang --enable-fuzzing): the message text
## postern hands libopendkim, and the DNS replies it lets it parse.
FILTERS_DKIM_FUZZ_TARGETS = tests/fuzz/fuzz_dkim tests/fuzz/fuzz_dkim_reply
DKIM_FUZZ_CPPFLAGS = $(FILTERS_CPPFLAGS) $(LIBEVENT_CFLAGS) \
	$(OPENDKIM_CFLAGS) $(OPENSSL_CFLAGS)
tests_fuzz_fuzz_dkim_CPPFLAGS = $(DKIM_FUZZ_CPPFLAGS)
tests_fuzz_fuzz_dkim_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_dkim_LDADD = $(PST_LIBS)
tests_fuzz_fuzz_dkim_reply_CPPFLAGS = $(DKIM_FUZZ_CPPFLAGS)
tests_fuzz_fuzz_dkim_reply_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_dkim_reply_LDADD = $(PST_LIBS)
