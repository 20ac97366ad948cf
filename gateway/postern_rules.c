/*
 * postern_rules.c - `postern rules`: check rule files, and convert
 * Postfix header_checks / body_checks tables into rules.
 *
 *   postern rules check [-v] FILE...
 *	compile the files (paths or globs, as `rules = [...]` in
 *	postern.conf) as one set; errors and warnings on stderr, a summary
 *	(with -v: every rule and the stage it runs at) on stdout.
 *	Exit 0: the set compiles (warnings allowed); 1: errors; 2: usage.
 *   postern rules import-postfix [--header|--body] [--pcre|--regexp] FILE
 *	print the rules for a Postfix table on stdout, a comment for each
 *	entry that cannot be converted; the counts on stderr.  The table
 *	kind is guessed from the file name ("body" in it: body_checks)
 *	unless given.  FILE "-" reads standard input.  Exit 0, or 1 when
 *	the file cannot be read.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "postern.h"
#include "rules.h"
#include "rules_postfix.h"

/* Declared in postern.h once the command is wired in; here so that the
 * file stands on its own until then. */
int postern_rules_main(int argc, char **argv);

/* Postfix tables are small; this only keeps a mistake (a mailbox named
 * as the table) from eating memory. */
#define TABLE_MAX (16u << 20)

static const char usage_text[] =
	"usage: postern rules check [-v] FILE...\n"
	"       postern rules import-postfix [--header|--body] "
	"[--pcre|--regexp] FILE\n";

static int
usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

static int
rules_check(int argc, char **argv)
{
	struct pst_arena *arena;
	struct rules_set *set = NULL;
	struct rules_report rep;
	size_t count[RULES_STAGE__COUNT] = { 0 }, nshadow = 0;
	bool verbose = false;
	int first = 1, rc;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = true;
		first = 2;
	}
	if (first >= argc)
		return usage();
	arena = pst_arena_new(0);
	if (arena == NULL) {
		fputs("postern rules: out of memory\n", stderr);
		return 1;
	}
	rc = rules_load_files((const char *const *)argv + first,
			      (size_t)(argc - first), NULL, arena, &set, &rep);
	fputs(rep.text, stderr);
	if (rc < 0) {
		fprintf(stderr, "%zu error%s\n", rep.nerrors,
			rep.nerrors == 1 ? "" : "s");
		pst_arena_free(&arena);
		return 1;
	}
	for (size_t i = 0; i < rules_set_count(set); i++) {
		struct rules_rule_info info;

		if (rules_set_rule(set, i, &info) < 0)
			continue;
		count[info.stage]++;
		nshadow += info.shadow;
		if (verbose)
			printf("%s\t%s\t%s:%u%s\n", info.name,
			       rules_stage_name(info.stage), info.file,
			       info.line, info.shadow ? "\tshadow" : "");
	}
	printf("%zu rule%s (", rules_set_count(set),
	       rules_set_count(set) == 1 ? "" : "s");
	for (unsigned s = 0; s < RULES_STAGE__COUNT; s++)
		printf("%s%s %zu", s ? ", " : "",
		       rules_stage_name((enum rules_stage)s), count[s]);
	printf("), %zu shadow, %zu list%s: ok\n", nshadow,
	       rules_set_list_count(set),
	       rules_set_list_count(set) == 1 ? "" : "s");
	if (verbose) {
		size_t none, n = rules_set_regex_count(set, &none);

		printf("%zu regex%s, %zu without a literal of 3 or more "
		       "characters (these run on every text they test)\n",
		       n, n == 1 ? "" : "es", none);
	}
	rules_set_unref(&set);
	pst_arena_free(&arena);
	return 0;
}

static int
read_table(const char *path, struct pst_buf *buf)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char chunk[8192];
	size_t n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (pst_buf_append(buf, chunk, n) < 0) {
			fprintf(stderr, "%s: larger than 16 MiB\n", path);
			if (f != stdin)
				fclose(f);
			return -1;
		}
	}
	if (ferror(f)) {
		perror(path);
		if (f != stdin)
			fclose(f);
		return -1;
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

static int
rules_import(int argc, char **argv)
{
	struct rules_postfix_opts opts = { false, false };
	struct rules_postfix_stats st;
	struct pst_buf table, out;
	const char *path = NULL, *base;
	bool kind_given = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--body") == 0 ||
		    strcmp(argv[i], "--header") == 0) {
			opts.body = strcmp(argv[i], "--body") == 0;
			kind_given = true;
		} else if (strcmp(argv[i], "--regexp") == 0 ||
			   strcmp(argv[i], "--pcre") == 0) {
			opts.posix = strcmp(argv[i], "--regexp") == 0;
		} else if (path == NULL &&
			   (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
			path = argv[i];
		} else {
			return usage();
		}
	}
	if (path == NULL)
		return usage();
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	if (!kind_given)
		opts.body = strstr(base, "body") != NULL;

	pst_buf_init(&table, TABLE_MAX);
	pst_buf_init(&out, 0);
	if (read_table(path, &table) < 0) {
		pst_buf_free(&table);
		return 1;
	}
	if (rules_postfix_import(strcmp(path, "-") == 0 ? "stdin" : base,
				 table.data != NULL ? table.data : "",
				 table.len, &opts, &out, &st) < 0) {
		fputs("postern rules: out of memory\n", stderr);
		pst_buf_free(&table);
		pst_buf_free(&out);
		return 1;
	}
	fwrite(out.data, 1, out.len, stdout);
	fprintf(stderr,
		"%zu entr%s: %zu converted, %zu not (see the "
		"comments)\n",
		st.entries, st.entries == 1 ? "y" : "ies", st.converted,
		st.skipped);
	pst_buf_free(&table);
	pst_buf_free(&out);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
postern_rules_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return rules_check(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "import-postfix") == 0)
		return rules_import(argc - 1, argv + 1);
	return usage();
}
