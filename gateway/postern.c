/*
 * postern.c - the command-line tool: picks the subcommand and runs it.
 *
 *   postern mime [--json] FILE.eml   print the MIME tree of a message
 *   postern scan ... FILE.eml        what the filter chain does with it
 *   postern quarantine ...           list, show, release, delete
 *
 * Exit status: what the subcommand returns; 2 for bad usage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postern.h"

/* gateway/postern_mime.c */
int postern_mime_main(int argc, char **argv);

static const char usage_text[] =
	"usage: postern COMMAND [ARGS]\n"
	"commands:\n"
	"  mime [--json] FILE.eml   print the MIME tree of a message\n"
	"                           (FILE \"-\" reads standard input)\n"
	"  scan [-c CONF] [--ip A] [--helo H] [--from S] [--rcpt R]...\n"
	"       [--json] FILE.eml   run the filter chain on a message\n"
	"  quarantine [-c CONF] list [--json] | show [--raw] ID |\n"
	"       release ID | delete ID\n"
	"                           look into and act on the quarantine\n"
	"  rules check [-v] FILE...  compile rule files, report errors\n"
	"  rules import-postfix [--header|--body] [--pcre|--regexp] FILE\n"
	"                           convert Postfix header/body checks\n";

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "mime") == 0)
		return postern_mime_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "scan") == 0)
		return postern_scan_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "quarantine") == 0)
		return postern_quarantine_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "rules") == 0)
		return postern_rules_main(argc - 1, argv + 1);
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
