## gateway/milter.mk - postern-milter, the filter chain on libmilter.
## Included by Makefile.am after posternd; the tests and fuzz targets
## below join its lists.
MILTER_UNIT_TESTS =
MILTER_FUZZ_TARGETS =
