## rules/rules.mk - the rule-file language.  Included by Makefile.am.
RULES_SOURCES = rules/rules.h rules/rules_placeholder.c
RULES_UNIT_TESTS =
RULES_FUZZ_TARGETS =
