## gateway/mailbox.mk - POP3 and IMAP pass-through to the mailbox
## servers.  Included by Makefile.am, which adds the sources to
## libpstgateway.a and the tests and fuzz targets below to its lists.
## The pure parsers (mail/imap_parse, pop3_parse, sasl_plain) are in
## libpstmail.a with the rest of mail/.
GATEWAY_MAILBOX_SOURCES = \
	gateway/mbox.h gateway/mbox_int.h \
	gateway/mbox_settings.c gateway/mbox_settings.h \
	gateway/mbox_guard.c gateway/mbox_guard.h \
	gateway/mbox_server.c gateway/mbox_session.c \
	gateway/mbox_imap.c gateway/mbox_pop3.c \
	gateway/mbox_login.c gateway/mbox_backend.c \
	gateway/mbox_relay.c

## Hermetic unit tests: the parsers, SASL PLAIN, the guard, backend
## selection.
GATEWAY_MAILBOX_UNIT_TESTS = tests/unit/test_imap_parse \
	tests/unit/test_pop3_parse tests/unit/test_mbox_guard
tests_unit_test_imap_parse_CPPFLAGS = $(UNIT_CPPFLAGS) -I$(srcdir)/gateway
tests_unit_test_imap_parse_LDADD = $(UNIT_LDADD)
tests_unit_test_pop3_parse_CPPFLAGS = $(UNIT_CPPFLAGS) -I$(srcdir)/gateway
tests_unit_test_pop3_parse_LDADD = $(UNIT_LDADD)
tests_unit_test_mbox_guard_CPPFLAGS = $(UNIT_CPPFLAGS) -I$(srcdir)/gateway \
	$(OPENSSL_CFLAGS)
tests_unit_test_mbox_guard_LDADD = $(UNIT_LDADD)

## Fuzzing (./configure CC=clang --enable-fuzzing): the pre-login
## parsers with hostile input.
GATEWAY_MAILBOX_FUZZ_TARGETS = tests/fuzz/fuzz_imap tests/fuzz/fuzz_pop3
tests_fuzz_fuzz_imap_CPPFLAGS = $(MAIL_CPPFLAGS)
tests_fuzz_fuzz_imap_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_imap_LDADD = libpstmail.a libpstutil.a
tests_fuzz_fuzz_pop3_CPPFLAGS = $(MAIL_CPPFLAGS)
tests_fuzz_fuzz_pop3_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_pop3_LDADD = libpstmail.a libpstutil.a
