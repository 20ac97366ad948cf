## mail/spf.mk - the SPF evaluator (RFC 7208): record parser, macro
## expander, check_host() over a DNS interface.  Included by Makefile.am.
SPF_SOURCES =
SPF_UNIT_TESTS =
SPF_FUZZ_TARGETS =
