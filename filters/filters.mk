## filters/filters.mk - the filter chain runtime and the built-in
## filters.  Included by Makefile.am.
FILTERS_SOURCES = \
	include/postern/filter.h \
	filters/filter.h filters/filter_int.h \
	filters/chain.c filters/run.c filters/ctx.c filters/edit.c \
	filters/builtin.c \
	filters/quarantine.c filters/quarantine.h filters/quarantine_int.h \
	filters/quarantine_envelope.c
FILTERS_UNIT_TESTS = tests/unit/test_filter_chain tests/unit/test_filter_ctx \
	tests/unit/test_filter_edit tests/unit/test_quarantine
FILTERS_FUZZ_TARGETS =

## The chain's tests load real shared objects: test filters built from
## tests/filters/*.c (no libtool: plain rules; not sanitized, which an
## ASan program loads fine).
FILTERS_TEST_SO = tests/filters/noop.so tests/filters/script.so \
	tests/filters/script_nb.so tests/filters/bad_abi.so \
	tests/filters/bad_size.so tests/filters/nosym.so
FILTERS_SO_CC = $(MKDIR_P) tests/filters && \
	$(CC) $(CFLAGS) $(WARN_CFLAGS) -I$(srcdir)/include -shared -fPIC
tests/filters/noop.so: $(srcdir)/tests/filters/noop.c \
		$(srcdir)/include/postern/filter.h
	$(FILTERS_SO_CC) -o $@ $(srcdir)/tests/filters/noop.c
tests/filters/script.so: $(srcdir)/tests/filters/script.c \
		$(srcdir)/include/postern/filter.h
	$(FILTERS_SO_CC) -o $@ $(srcdir)/tests/filters/script.c
tests/filters/script_nb.so: $(srcdir)/tests/filters/script.c \
		$(srcdir)/include/postern/filter.h
	$(FILTERS_SO_CC) -DSCRIPT_NONBLOCKING -o $@ \
		$(srcdir)/tests/filters/script.c
tests/filters/bad_abi.so: $(srcdir)/tests/filters/bad.c \
		$(srcdir)/include/postern/filter.h
	$(FILTERS_SO_CC) -DBAD_ABI -o $@ $(srcdir)/tests/filters/bad.c
tests/filters/bad_size.so: $(srcdir)/tests/filters/bad.c \
		$(srcdir)/include/postern/filter.h
	$(FILTERS_SO_CC) -DBAD_SIZE -o $@ $(srcdir)/tests/filters/bad.c
tests/filters/nosym.so: $(srcdir)/tests/filters/bad.c \
		$(srcdir)/include/postern/filter.h
	$(FILTERS_SO_CC) -DNO_SYMBOL -o $@ $(srcdir)/tests/filters/bad.c
MOSTLYCLEANFILES = $(FILTERS_TEST_SO)

## Layering: the chain's tests need nothing above filters/.
FILTERS_TEST_LDADD = libpstfilters.a libpstrules.a libpstmail.a libpstutil.a \
	$(FILTERS_DEP_LIBS) $(LIBEVENT_LIBS) $(OPENSSL_LIBS) $(PTHREAD_LIBS) $(DL_LIBS) \
	$(CMOCKA_LIBS)
FILTERS_TEST_CPPFLAGS = $(FILTERS_CPPFLAGS) $(CMOCKA_CFLAGS) \
	$(LIBEVENT_CFLAGS) -DTEST_FILTERS_DIR='"$(abs_builddir)/tests/filters"'

tests_unit_test_filter_chain_SOURCES = tests/unit/test_filter_chain.c \
	tests/unit/filter_test.c tests/unit/filter_test.h
tests_unit_test_filter_chain_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_filter_chain_LDADD = $(FILTERS_TEST_LDADD)
EXTRA_tests_unit_test_filter_chain_DEPENDENCIES = $(FILTERS_TEST_SO)
tests_unit_test_filter_ctx_SOURCES = tests/unit/test_filter_ctx.c \
	tests/unit/filter_test.c tests/unit/filter_test.h
tests_unit_test_filter_ctx_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_filter_ctx_LDADD = $(FILTERS_TEST_LDADD)
EXTRA_tests_unit_test_filter_ctx_DEPENDENCIES = $(FILTERS_TEST_SO)
tests_unit_test_filter_edit_SOURCES = tests/unit/test_filter_edit.c \
	tests/unit/filter_test.c tests/unit/filter_test.h
tests_unit_test_filter_edit_CPPFLAGS = $(FILTERS_TEST_CPPFLAGS)
tests_unit_test_filter_edit_LDADD = $(FILTERS_TEST_LDADD)
EXTRA_tests_unit_test_filter_edit_DEPENDENCIES = $(FILTERS_TEST_SO)
tests_unit_test_quarantine_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_quarantine_LDADD = $(UNIT_LDADD)
