## util/dns.mk - the DNS layer on libunbound: the resolver (dns.c) and
## its checked answers (dns_answer.c).  Included by Makefile.am, which
## adds $(DNS_SOURCES) to libpstutil_a_SOURCES, $(UNBOUND_CFLAGS) to
## libpstutil_a_CPPFLAGS and $(UNBOUND_LIBS) to PST_LIBS.
DNS_SOURCES = \
	util/dns.c util/dns.h util/dns_int.h \
	util/dns_answer.c
## test_dns: hermetic, plus UDP servers of its own on loopback.
## test_dns_live: a dnsmasq it starts itself with
## $(POSTERN_TEST_DATA)/dns/dnsmasq.conf; a TAP skip without dnsmasq.
DNS_UNIT_TESTS = tests/unit/test_dns tests/unit/test_dns_live
DNS_TEST_HELPERS = tests/unit/dns_test.c tests/unit/dns_test.h
tests_unit_test_dns_SOURCES = tests/unit/test_dns.c $(DNS_TEST_HELPERS)
tests_unit_test_dns_CPPFLAGS = $(UNIT_CPPFLAGS) $(UNBOUND_CFLAGS)
tests_unit_test_dns_LDADD = $(UNIT_LDADD)
tests_unit_test_dns_live_SOURCES = tests/unit/test_dns_live.c \
	$(DNS_TEST_HELPERS)
tests_unit_test_dns_live_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_dns_live_LDADD = $(UNIT_LDADD)
