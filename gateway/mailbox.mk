## gateway/mailbox.mk - POP3 and IMAP pass-through to the mailbox
## servers.  Included by Makefile.am, which adds the sources to
## libpstgateway.a and the tests and fuzz targets below to its lists.
GATEWAY_MAILBOX_SOURCES =
GATEWAY_MAILBOX_UNIT_TESTS =
GATEWAY_MAILBOX_FUZZ_TARGETS =
