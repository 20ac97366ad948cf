/*
 * test_rewrite_rules.c - the rule actions that rewrite the body
 * (rules/: strip-attachment and banner): how they parse, at which stage
 * they run, which parts strip-attachment names (the elements of
 * attachment.* that made the condition true: any, all, and, or, not),
 * and the texts (UTF-8 and line breaks kept, controls replaced).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rules.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Attachments: names, part indexes; parts NULL in the "unknown" env. */
struct env {
	const char *const *names;
	const size_t *parts;
	size_t n;
	bool with_parts;
};

static int
env_get(void *ctx, enum rules_var var, const char *arg, struct pst_arena *arena,
	struct rules_value *out)
{
	struct env *e = ctx;
	struct pst_str *v;

	(void)arg;
	switch (var) {
	case RULES_VAR_ATT_FILENAME:
	case RULES_VAR_ATT_EXTENSION:
		v = pst_arena_calloc(arena, e->n + 1, sizeof(*v));
		for (size_t i = 0; i < e->n; i++) {
			const char *s = e->names[i];

			if (var == RULES_VAR_ATT_EXTENSION && strrchr(s, '.'))
				s = strrchr(s, '.') + 1;
			v[i] = pst_str_from_cstr(s);
		}
		rules_value_strs(out, v, e->n);
		if (e->with_parts)
			rules_value_parts(out, e->parts);
		return 0;
	case RULES_VAR_SUBJECT:
		rules_value_cstr(out, "hello");
		return 0;
	default:
		return 0;
	}
}

static const char *const names[] = { "a.pdf", "b.exe", "c.txt", "d.exe" };
static const size_t parts[] = { 2, 3, 5, 7 };

struct strip_case {
	const char *name;
	const char *cond;
	const char *want; /* parts, "2,3"; NULL: the rule does not fire */
};

static const struct strip_case strip_cases[] = {
	{ "any", "any attachment.extension in {\"exe\"}", "3,7" },
	{ "implicit any", "attachment.filename matches /\\.exe$/", "3,7" },
	{ "all", "all attachment.filename matches /\\./", "2,3,5,7" },
	{ "all fails", "all attachment.extension == \"exe\"", NULL },
	{ "or: the test that held",
	  "subject == \"nope\" or attachment.extension == \"pdf\"", "2" },
	{ "or: a failed branch leaves nothing",
	  "(attachment.extension == \"exe\" and subject == \"nope\") or "
	  "attachment.extension == \"txt\"",
	  "5" },
	{ "and: both",
	  "attachment.extension == \"exe\" and "
	  "attachment.filename == \"a.pdf\"",
	  "2,3,7" },
	{ "not: records nothing", "not attachment.extension == \"zip\"", "" },
	{ "without attachments", "subject == \"hello\"", "" },
	{ "and fails: forgets",
	  "(attachment.extension == \"exe\" and subject == \"nope\") or "
	  "subject == \"hello\"",
	  "" },
	{ "duplicates once",
	  "attachment.extension == \"exe\" and attachment.filename "
	  "matches /^b/",
	  "3,7" },
};

static void
run_rule(const char *text, struct env *e, struct rules_outcome *out,
	 struct pst_arena *arena)
{
	struct rules_set *set = NULL;
	struct rules_report report;

	if (rules_load_string(NULL, text, strlen(text), NULL, arena, &set,
			      &report) < 0)
		fail_msg("%s", report.text);
	assert_int_equal(rules_set_stage_count(set, RULES_STAGE_MESSAGE), 1);
	assert_int_equal(rules_eval(set, RULES_STAGE_MESSAGE,
				    &(struct rules_env){ e, env_get }, arena, 0,
				    out),
			 0);
	rules_set_unref(&set);
}

static void
test_strip_parts(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(strip_cases); i++) {
		const struct strip_case *c = &strip_cases[i];
		struct pst_arena *arena = pst_arena_new(0);
		struct env e = { names, parts, 4, true };
		struct rules_outcome out;
		char text[512], got[64] = "";

		snprintf(text, sizeof(text),
			 "rule r { when %s strip-attachment \"gone\" }",
			 c->cond);
		run_rule(text, &e, &out, arena);
		if (c->want == NULL) {
			assert_int_equal(out.nactions, 0);
			pst_arena_free(&arena);
			continue;
		}
		if (out.nactions != 1)
			fail_msg("%s: %zu actions", c->name, out.nactions);
		assert_int_equal(out.actions[0].kind,
				 RULES_ACT_STRIP_ATTACHMENT);
		assert_string_equal(out.actions[0].text, "gone");
		for (size_t k = 0; k < out.actions[0].nparts; k++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got),
				 "%s%zu", k ? "," : "",
				 out.actions[0].parts[k]);
		if (strcmp(got, c->want) != 0)
			fail_msg("%s: parts %s, want %s", c->name, got,
				 c->want);
		assert_false(out.actions[0].parts_unknown);
		pst_arena_free(&arena);
	}
}

static void
test_strip_unknown_parts(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct env e = { names, parts, 4, false };
	struct rules_outcome out;

	(void)state;
	run_rule("rule r { when attachment.extension == \"exe\" "
		 "strip-attachment }",
		 &e, &out, arena);
	assert_int_equal(out.nactions, 1);
	assert_int_equal(out.actions[0].nparts, 0);
	assert_true(out.actions[0].parts_unknown);
	/* the default notice */
	assert_non_null(strstr(out.actions[0].text, "removed"));
	pst_arena_free(&arena);

	/* an attachment test in a failed `and` does not count */
	arena = pst_arena_new(0);
	run_rule("rule r { when (attachment.extension == \"exe\" and "
		 "subject == \"nope\") or subject == \"hello\" "
		 "strip-attachment }",
		 &e, &out, arena);
	assert_int_equal(out.nactions, 1);
	assert_false(out.actions[0].parts_unknown);
	pst_arena_free(&arena);
}

static void
test_banner(void **state)
{
	static const struct {
		const char *rule;
		const char *text;
		bool bottom;
	} cases[] = {
		{ "rule r { when subject == \"hello\" banner \"Vorsicht: "
		  "extern\\nzweite Zeile\" }",
		  "Vorsicht: extern\nzweite Zeile", false },
		{ "rule r { when subject == \"hello\" banner bottom "
		  "\"Grüße\\tok\\x07\" }",
		  "Grüße ok?", true },
		{ "rule r { when subject == \"hello\" banner top \"{rule}: "
		  "{subject}\" }",
		  "r: hello", false },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct pst_arena *arena = pst_arena_new(0);
		struct env e = { names, parts, 4, true };
		struct rules_outcome out;

		run_rule(cases[i].rule, &e, &out, arena);
		assert_int_equal(out.nactions, 1);
		assert_int_equal(out.actions[0].kind, RULES_ACT_BANNER);
		assert_string_equal(out.actions[0].text, cases[i].text);
		assert_int_equal(out.actions[0].bottom, cases[i].bottom);
		assert_string_equal(rules_action_name(RULES_ACT_BANNER),
				    "banner");
		pst_arena_free(&arena);
	}
}

static void
test_parse_errors(void **state)
{
	static const struct {
		const char *rule;
		const char *want;
	} cases[] = {
		{ "rule r { when subject == \"x\" banner }",
		  "expected the banner text" },
		{ "rule r { when subject == \"x\" banner middle \"x\" }",
		  "expected the banner text" },
		{ "rule r { when subject == \"x\" strip-attachments }",
		  "did you mean strip-attachment?" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct pst_arena *arena = pst_arena_new(0);
		struct rules_set *set = NULL;
		struct rules_report report;

		assert_int_equal(rules_load_string(NULL, cases[i].rule,
						   strlen(cases[i].rule), NULL,
						   arena, &set, &report),
				 -1);
		if (strstr(report.text, cases[i].want) == NULL)
			fail_msg("%s: %s", cases[i].rule, report.text);
		pst_arena_free(&arena);
	}
}

static void
test_stage(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set = NULL;
	struct rules_report report;
	static const char text[] =
		"rule a { when envelope.from == \"x@y\" banner \"b\" }\n"
		"rule b { when envelope.from == \"x@y\" strip-attachment "
		"}\n";

	(void)state;
	/* actions on the body make an envelope rule a message rule */
	assert_int_equal(rules_load_string(NULL, text, strlen(text), NULL,
					   arena, &set, &report),
			 0);
	assert_int_equal(rules_set_stage_count(set, RULES_STAGE_MAIL), 0);
	assert_int_equal(rules_set_stage_count(set, RULES_STAGE_MESSAGE), 2);
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_parts),
		cmocka_unit_test(test_strip_unknown_parts),
		cmocka_unit_test(test_banner),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_stage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
