## gateway/milter.mk - postern-milter, the filter chain on libmilter.
## Included by Makefile.am after posternd; the tests and fuzz targets
## below join its lists.

# The `milter {}` block is parsed with the rest of the configuration
# (posternd -t checks it too): pure parsing, no libmilter.
libpstgateway_a_SOURCES += gateway/milter_conf.c gateway/milter_conf.h

# The pieces the unit tests link without a libmilter handle.
MILTER_PURE_SOURCES = gateway/milter.h gateway/milter_reply.c \
	gateway/milter_edit.c gateway/milter_macro.c

sbin_PROGRAMS += postern-milter
postern_milter_SOURCES = gateway/milter_main.c gateway/milter_cb.c \
	gateway/milter_int.h gateway/milter_eom.c \
	$(MILTER_PURE_SOURCES)
postern_milter_CPPFLAGS = $(GATEWAY_CPPFLAGS) $(LIBEVENT_CFLAGS) \
	$(OPENSSL_CFLAGS)
postern_milter_LDADD = $(PST_LIBS) $(MILTER_LIBS)

# (dist_man_MANS is set after this file is included: its own list.)
dist_man8_MANS = doc/postern-milter.8

MILTER_UNIT_TESTS = tests/unit/test_milter_reply tests/unit/test_milter_edit \
	tests/unit/test_milter_conf tests/unit/test_milter_macro
tests_unit_test_milter_reply_SOURCES = tests/unit/test_milter_reply.c \
	$(MILTER_PURE_SOURCES)
tests_unit_test_milter_reply_CPPFLAGS = $(UNIT_CPPFLAGS) -I$(srcdir)/gateway
tests_unit_test_milter_reply_LDADD = $(UNIT_LDADD)
tests_unit_test_milter_edit_SOURCES = tests/unit/test_milter_edit.c \
	$(MILTER_PURE_SOURCES)
tests_unit_test_milter_edit_CPPFLAGS = $(UNIT_CPPFLAGS) -I$(srcdir)/gateway
tests_unit_test_milter_edit_LDADD = $(UNIT_LDADD)
tests_unit_test_milter_macro_SOURCES = tests/unit/test_milter_macro.c \
	$(MILTER_PURE_SOURCES)
tests_unit_test_milter_macro_CPPFLAGS = $(UNIT_CPPFLAGS) -I$(srcdir)/gateway
tests_unit_test_milter_macro_LDADD = $(UNIT_LDADD)
tests_unit_test_milter_conf_CPPFLAGS = $(UNIT_CPPFLAGS) -I$(srcdir)/gateway
tests_unit_test_milter_conf_LDADD = $(UNIT_LDADD)

MILTER_FUZZ_TARGETS = tests/fuzz/fuzz_milter_edit
if FUZZING
tests_fuzz_fuzz_milter_edit_SOURCES = tests/fuzz/fuzz_milter_edit.c \
	$(MILTER_PURE_SOURCES)
tests_fuzz_fuzz_milter_edit_CPPFLAGS = $(GATEWAY_CPPFLAGS)
tests_fuzz_fuzz_milter_edit_LDFLAGS = -fsanitize=fuzzer
tests_fuzz_fuzz_milter_edit_LDADD = libpstutil.a
endif
