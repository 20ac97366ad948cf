## filters/spf_dmarc.mk - the built-in spf and dmarc filters.
FILTERS_SPF_DMARC_SOURCES = filters/spf.c filters/dmarc.c
FILTERS_SPF_DMARC_UNIT_TESTS =
