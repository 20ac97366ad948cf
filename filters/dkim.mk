## filters/dkim.mk - the built-in dkim filter (verify and sign).
FILTERS_DKIM_SOURCES = filters/dkim.c
FILTERS_DKIM_UNIT_TESTS =
FILTERS_DKIM_FUZZ_TARGETS =
