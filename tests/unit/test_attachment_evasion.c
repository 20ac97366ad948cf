/*
 * test_attachment_evasion.c - every message of the evasion corpus
 * (tests/data/evasion, see make.py there) through the attachment,
 * content and rules filters with the shipped contrib/rules/default.rules:
 * each must be refused, by the rule meant for it, and the clean ones
 * passed.  Then the new rule variables one by one with rules of our
 * own, the filters in either order or the attachment filter absent,
 * and its options.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter_test.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *
data_dir(void)
{
	const char *d = getenv("POSTERN_TEST_DATA");

	return d != NULL ? d : "tests/data";
}

static char *
load(const char *name)
{
	char path[1024];
	FILE *f;
	long size;
	char *text;

	snprintf(path, sizeof(path), "%s/evasion/%s", data_dir(), name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = malloc((size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	return text;
}

/* The message of file through a chain of conf; the ctx (close it). */
static struct filter_ctx *
run(struct ft *ft, const char *conf, const char *file,
    struct filter_outcome *out)
{
	struct filter_client c = { .addr = "192.0.2.7",
				   .port = 4711,
				   .name = "unknown",
				   .session_id = "5f3a1c9e0b7d2e41" };
	struct filter_rcpt r = { .addr = "user@example.org" };
	struct filter_ctx *ctx;
	char *text = load(file);

	filter_builtins_register_all();
	if (ft_chain(ft, conf) < 0)
		fail_msg("chain: %s", ft->error);
	ctx = filter_ctx_new(ft->chain, NULL, NULL, &c);
	assert_non_null(ctx);
	assert_int_equal(filter_ctx_set_helo(ctx, "client.example.net"), 0);
	assert_int_equal(
		filter_ctx_txn_begin(ctx, "4F2A1C3B9E", "sender@example.net"),
		0);
	filter_ctx_run_sync(ctx, FILTER_MAIL, NULL, out);
	assert_int_equal(filter_ctx_rcpt_accepted(ctx, &r), 0);
	ft_message(ctx, text);
	free(text);
	filter_ctx_run_sync(ctx, FILTER_MESSAGE, NULL, out);
	return ctx;
}

static char default_conf[1024];

#define R_TYPE "Attachments of this type are not accepted"
#define R_EXEC "Executable content is not accepted"
#define R_CRYPT "Encrypted attachments are not accepted"
#define R_BUDGET "Attachments could not be inspected"

static void
test_corpus(void **state)
{
	static const struct {
		const char *file;
		const char *want;	 /* reply text, NULL: passes */
		const char *want_defect; /* in attachment.defects, or NULL */
	} rows[] = {
		{ "double_extension.eml", R_TYPE, "double_extension" },
		{ "rtlo_name.eml", R_TYPE, "bidi_name" },
		{ "lying_type.eml", R_EXEC, "type_mismatch" },
		{ "zip_in_zip.eml", R_TYPE, NULL },
		{ "encrypted_zip.eml", R_CRYPT, "encrypted" },
		{ "zip_bomb.eml", R_BUDGET, "bomb" },
		{ "directory_entry.eml", R_TYPE, "trailing_name" },
		{ "empty_name.eml", R_EXEC, "empty_name" },
		{ "empty_member_name.eml", R_EXEC, "empty_name" },
		{ "name_only_in_type.eml", R_TYPE, NULL },
		{ "rfc2231_split.eml", R_TYPE, NULL },
		{ "uuencoded_in_text.eml", R_TYPE, NULL },
		{ "attached_rfc822.eml", R_TYPE, NULL },
		{ "attached_eml_file.eml", R_TYPE, NULL },
		{ "zip_after_image.eml", R_TYPE, "embedded_archive" },
		{ "tar_gz.eml", R_TYPE, NULL },
		{ "seven_zip.eml", R_TYPE, NULL },
		{ "iso_image.eml", R_TYPE, NULL },
		{ "clean_zip.eml", NULL, NULL },
		{ "clean_html.eml", NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct ft ft = { 0 };
		struct filter_outcome out;
		struct filter_ctx *ctx =
			run(&ft, default_conf, rows[i].file, &out);
		const char *defects =
			filter_ctx_result_get(ctx, "attachment.defects");

		if (rows[i].want == NULL) {
			if (out.verdict != PF_CONTINUE)
				fail_msg("%s: refused: %s", rows[i].file,
					 out.text);
			assert_string_equal(
				filter_ctx_result_get(ctx, "attachment"), "ok");
		} else if (out.verdict != PF_REJECT ||
			   strstr(out.text, rows[i].want) == NULL) {
			fail_msg("%s: verdict %d '%s', want reject '%s'",
				 rows[i].file, out.verdict, out.text,
				 rows[i].want);
		}
		if (rows[i].want_defect != NULL &&
		    (defects == NULL ||
		     strstr(defects, rows[i].want_defect) == NULL))
			fail_msg("%s: defects '%s', want %s", rows[i].file,
				 defects ? defects : "(none)",
				 rows[i].want_defect);
		filter_ctx_close(&ctx);
		ft_free(&ft);
	}
}

/* Rules of our own in a temporary file; conf_r gets a chain conf with
 * before and after around the rules filter. */
static char rules_path[64];

static void
write_rules(const char *text)
{
	FILE *f;
	int fd;

	snprintf(rules_path, sizeof(rules_path), "/tmp/pst-att-XXXXXX");
	fd = mkstemp(rules_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_variables(void **state)
{
	static const struct {
		const char *file, *cond;
		bool want;
	} rows[] = {
		{ "zip_in_zip.eml", "any attachment.depth >= 2", true },
		{ "zip_in_zip.eml", "attachment.archive.count == 3", true },
		{ "zip_in_zip.eml", "attachment.count == 1", true },
		{ "zip_in_zip.eml",
		  "any attachment.archive.filename is \"inner.zip\"", true },
		{ "zip_in_zip.eml", "any attachment.filename is \"setup.exe\"",
		  false },
		{ "zip_in_zip.eml",
		  "any attachment.type is \"application/zip\"", true },
		{ "zip_in_zip.eml", "any attachment.size == 1024", true },
		{ "clean_zip.eml", "all attachment.encrypted is false", true },
		{ "encrypted_zip.eml", "any attachment.encrypted", true },
		{ "clean_zip.eml",
		  "all attachment.archive.extension in { \"txt\", \"png\" }",
		  true },
		{ "rtlo_name.eml", "any attachment.defects is \"bidi_name\"",
		  true },
		{ "rtlo_name.eml", "any attachment.extension is \"exe\"",
		  true },
		{ "clean_html.eml", "url.domain is \"news.example.com\"",
		  true },
		{ "clean_html.eml", "any urls matches /^www\\.example\\.org$/",
		  true },
		{ "clean_html.eml", "body contains \"casino\"", false },
		{ "clean_html.eml", "body contains \"the news\"", true },
		{ "clean_html.eml", "attachment.count == 0", true },
	};
	/* what comes before and after the rules filter */
	static const struct {
		const char *before, *after;
	} confs[] = {
		{ "filter attachment { } filter content { }", "" },
		/* rules first: they make the scans the filters keep */
		{ "", "filter content { } "
		      "filter attachment { on_budget = continue; }" },
		/* no attachment or content filter: made for each variable */
		{ "", "" },
	};

	(void)state;
	for (size_t c = 0; c < N_ELEMS(confs); c++) {
		for (size_t i = 0; i < N_ELEMS(rows); i++) {
			struct ft ft = { 0 };
			struct filter_outcome out;
			struct filter_ctx *ctx;
			char rules[512], conf[512];

			snprintf(rules, sizeof(rules),
				 "rule t { when %s reject \"hit\" }\n",
				 rows[i].cond);
			write_rules(rules);
			snprintf(conf, sizeof(conf),
				 "%s filter rules { files = \"%s\"; } %s",
				 confs[c].before, rules_path, confs[c].after);
			ctx = run(&ft, conf, rows[i].file, &out);
			if ((out.verdict == PF_REJECT) != rows[i].want)
				fail_msg("conf %zu, %s: '%s' gave %d (%s)", c,
					 rows[i].file, rows[i].cond,
					 out.verdict, out.text);
			filter_ctx_close(&ctx);
			ft_free(&ft);
			unlink(rules_path);
		}
	}
}

static void
test_options(void **state)
{
	static const struct {
		const char *conf, *want_error;
	} rows[] = {
		{ "filter attachment { on_budget = maybe; }", "on_budget" },
		{ "filter attachment { max_depth = 0; }", "max_depth" },
		{ "filter attachment { max_bytes = 0; }", "max_bytes" },
		{ "filter attachment { colour = blue; }", "colour" },
		{ "filter content { max_urls = 0; }", "max_urls" },
		{ "filter content { max_text = 10; }", "max_text" },
	};

	(void)state;
	filter_builtins_register_all();
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct ft ft = { 0 };

		if (ft_chain(&ft, rows[i].conf) == 0)
			fail_msg("'%s' was accepted", rows[i].conf);
		if (strstr(ft.error, rows[i].want_error) == NULL)
			fail_msg("'%s': %s", rows[i].conf, ft.error);
		ft_free(&ft);
	}
}

static void
test_on_budget(void **state)
{
	static const struct {
		const char *conf;
		int verdict;
	} rows[] = {
		{ "filter attachment { on_budget = tempfail; }", PF_TEMPFAIL },
		{ "filter attachment { on_budget = continue; }", PF_CONTINUE },
		{ "filter attachment { max_ratio = 100000; max_bytes = 2M; }",
		  PF_REJECT },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(rows); i++) {
		struct ft ft = { 0 };
		struct filter_outcome out;
		struct filter_ctx *ctx =
			run(&ft, rows[i].conf, "zip_bomb.eml", &out);

		assert_int_equal(out.verdict, rows[i].verdict);
		assert_string_equal(filter_ctx_result_get(ctx, "attachment"),
				    "over_budget");
		filter_ctx_close(&ctx);
		ft_free(&ft);
	}
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_variables),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_on_budget),
	};

	snprintf(default_conf, sizeof(default_conf),
		 "filter attachment { } filter content { } "
		 "filter rules { files = \"%s/../../contrib/rules/"
		 "default.rules\"; }",
		 data_dir());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
