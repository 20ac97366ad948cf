## filters/filters.mk - the filter chain runtime and the built-in
## filters.  Included by Makefile.am.
FILTERS_SOURCES = \
	include/postern/filter.h \
	filters/filter.h filters/filter_int.h \
	filters/chain.c filters/run.c filters/ctx.c filters/edit.c \
	filters/builtin.c \
	filters/quarantine.c filters/quarantine.h
FILTERS_UNIT_TESTS = tests/unit/test_filter_chain tests/unit/test_quarantine
FILTERS_FUZZ_TARGETS =
tests_unit_test_filter_chain_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_filter_chain_LDADD = $(UNIT_LDADD)
tests_unit_test_quarantine_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_quarantine_LDADD = $(UNIT_LDADD)
