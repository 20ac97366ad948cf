## rules/rules.mk - the rule-file language.  Included by Makefile.am.
RULES_SOURCES = \
	rules/rules.h rules/rules_int.h rules/rules_lex.h \
	rules/rules_lex.c rules/rules_parse.c rules/rules_parse.h \
	rules/rules_operand.c rules/rules_list.c \
	rules/rules_load.c rules/rules_diag.c rules/rules_var.c \
	rules/rules_regex.c rules/rules_ac.c rules/rules_eval.c \
	rules/rules_action.c rules/rules_value.c rules/rules_set.c \
	rules/rules_postfix.c rules/rules_postfix.h
RULES_UNIT_TESTS = tests/unit/test_rules_parse tests/unit/test_rules_eval \
	tests/unit/test_rules_postfix
tests_unit_test_rules_parse_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_rules_parse_LDADD = $(UNIT_LDADD)
tests_unit_test_rules_eval_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_rules_eval_LDADD = $(UNIT_LDADD)
tests_unit_test_rules_postfix_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_rules_postfix_LDADD = $(UNIT_LDADD)
RULES_FUZZ_TARGETS = tests/fuzz/fuzz_rules
tests_fuzz_fuzz_rules_CPPFLAGS = $(RULES_CPPFLAGS) $(PCRE2_CFLAGS)
tests_fuzz_fuzz_rules_LDFLAGS = $(FUZZ_LINK)
tests_fuzz_fuzz_rules_LDADD = libpstrules.a libpstmail.a libpstutil.a \
	$(PCRE2_LIBS)
