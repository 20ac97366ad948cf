/*
 * postern.c - the command-line tool: picks the subcommand and runs it.
 *
 *   postern mime [--json] FILE.eml   print the MIME tree of a message
 *
 * Exit status: what the subcommand returns; 2 for bad usage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* gateway/postern_mime.c */
int postern_mime_main(int argc, char **argv);

static const char usage_text[] =
	"usage: postern COMMAND [ARGS]\n"
	"commands:\n"
	"  mime [--json] FILE.eml   print the MIME tree of a message\n"
	"                           (FILE \"-\" reads standard input)\n";

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "mime") == 0)
		return postern_mime_main(argc - 1, argv + 1);
	if (argc == 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc >= 2)
		fprintf(stderr, "postern: unknown command '%s'\n", argv[1]);
	fputs(usage_text, stderr);
	return 2;
}
