## mail/spf.mk - the SPF evaluator (RFC 7208): record parser, macro
## expander, check_host() over a DNS interface.  Included by Makefile.am.
SPF_SOURCES = \
	mail/spf.h mail/spf_int.h \
	mail/spf_addr.c mail/spf_record.c mail/spf_macro.c mail/spf_eval.c

SPF_UNIT_TESTS = tests/unit/test_spf_record tests/unit/test_spf_macro \
	tests/unit/test_spf_eval
tests_unit_test_spf_record_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_spf_record_LDADD = $(UNIT_LDADD)
tests_unit_test_spf_macro_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_spf_macro_LDADD = $(UNIT_LDADD)
tests_unit_test_spf_eval_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_spf_eval_LDADD = $(UNIT_LDADD)

SPF_FUZZ_TARGETS = tests/fuzz/fuzz_spf_record tests/fuzz/fuzz_spf_macro \
	tests/fuzz/fuzz_spf_eval
tests_fuzz_fuzz_spf_record_CPPFLAGS = $(MAIL_CPPFLAGS)
tests_fuzz_fuzz_spf_record_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_spf_record_LDADD = libpstmail.a libpstutil.a
tests_fuzz_fuzz_spf_macro_CPPFLAGS = $(MAIL_CPPFLAGS)
tests_fuzz_fuzz_spf_macro_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_spf_macro_LDADD = libpstmail.a libpstutil.a
tests_fuzz_fuzz_spf_eval_CPPFLAGS = $(MAIL_CPPFLAGS)
tests_fuzz_fuzz_spf_eval_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_spf_eval_LDADD = libpstmail.a libpstutil.a
