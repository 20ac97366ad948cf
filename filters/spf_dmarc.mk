## filters/spf_dmarc.mk - the built-in spf and dmarc filters.
FILTERS_SPF_DMARC_SOURCES = filters/spf.c filters/dmarc.c \
	filters/spf_dmarc.h filters/spf_dns.c filters/spf_libspf2.c \
	filters/dmarc_util.c

## test_filter_spf, test_filter_dmarc: hermetic (pure pieces, the
## filters through a chain without a resolver, libspf2 over a table).
## The _live ones start a dnsmasq of their own on 127.0.0.1 with
## tests/data/dns/auth-zone.conf (a TAP skip without dnsmasq) and run
## the filters through a chain for clients of any address.
FILTERS_SPF_DMARC_UNIT_TESTS = tests/unit/test_filter_spf \
	tests/unit/test_filter_dmarc tests/unit/test_filter_spf_live \
	tests/unit/test_filter_dmarc_live
FILTERS_SPF_DMARC_TEST_CPPFLAGS = $(UNIT_CPPFLAGS) \
	-DTEST_FILTERS_DIR='"$(abs_builddir)/tests/filters"'
FILTERS_SPF_DMARC_HELPERS = tests/unit/filter_test.c tests/unit/filter_test.h \
	tests/unit/test_filter_spf_util.c tests/unit/test_filter_spf_util.h \
	tests/unit/dns_test.c tests/unit/dns_test.h

tests_unit_test_filter_spf_SOURCES = tests/unit/test_filter_spf.c \
	$(FILTERS_SPF_DMARC_HELPERS)
tests_unit_test_filter_spf_CPPFLAGS = $(FILTERS_SPF_DMARC_TEST_CPPFLAGS)
tests_unit_test_filter_spf_LDADD = $(UNIT_LDADD)
tests_unit_test_filter_dmarc_SOURCES = tests/unit/test_filter_dmarc.c \
	$(FILTERS_SPF_DMARC_HELPERS)
tests_unit_test_filter_dmarc_CPPFLAGS = $(FILTERS_SPF_DMARC_TEST_CPPFLAGS)
tests_unit_test_filter_dmarc_LDADD = $(UNIT_LDADD)
tests_unit_test_filter_spf_live_SOURCES = tests/unit/test_filter_spf_live.c \
	$(FILTERS_SPF_DMARC_HELPERS)
tests_unit_test_filter_spf_live_CPPFLAGS = $(FILTERS_SPF_DMARC_TEST_CPPFLAGS)
tests_unit_test_filter_spf_live_LDADD = $(UNIT_LDADD)
tests_unit_test_filter_dmarc_live_SOURCES = \
	tests/unit/test_filter_dmarc_live.c $(FILTERS_SPF_DMARC_HELPERS)
tests_unit_test_filter_dmarc_live_CPPFLAGS = $(FILTERS_SPF_DMARC_TEST_CPPFLAGS)
tests_unit_test_filter_dmarc_live_LDADD = $(UNIT_LDADD)
