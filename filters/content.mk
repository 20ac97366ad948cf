## filters/content.mk - the built-in attachment, content and clamd
## filters (libarchive, libmagic).  Included by Makefile.am, which adds
## the sources to libpstfilters.a and the tests and fuzz targets below
## to its lists.
FILTERS_CONTENT_SOURCES =
FILTERS_CONTENT_UNIT_TESTS =
FILTERS_CONTENT_FUZZ_TARGETS =
