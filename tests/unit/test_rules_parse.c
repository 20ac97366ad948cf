/*
 * test_rules_parse.c - unit tests for the rule-file compiler (rules/):
 * good inputs, the exact text of every kind of error (place, source
 * line, caret, hint), stage inference, warnings, includes and list files
 * (in a private mkdtemp directory), and the limits on hostile input.
 *
 * Every table row is its own cmocka test, so the TAP output counts cases.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "rules.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* Compile text named "t.rules"; the report text, on arena. */
static int
compile(struct pst_arena *arena, const char *text, struct rules_set **set_r,
	const char **report_r)
{
	struct rules_report rep;
	int rc = rules_load_string("t.rules", text, strlen(text), NULL, arena,
				   set_r, &rep);

	*report_r = rep.text;
	return rc;
}

/* ---- inputs that compile ---- */

struct good_case {
	const char *name;
	const char *input;
	size_t nrules;
	size_t nlists;
};

static const struct good_case good_cases[] = {
	{ "empty file", "", 0 },
	{ "comments and blank lines", "# a comment\n\n   # another\n", 0 },
	{ "the DESIGN sketch",
	  "rule executables {\n"
	  "    when any attachment.filename matches "
	  "/\\.(exe|scr|js|vbs|bat|cmd)$/i\n"
	  "      or any attachment.archive.filename matches /\\.exe$/i\n"
	  "    reject 550 5.7.1 \"Executable attachments are not accepted\"\n"
	  "}\n"
	  "list trusted_networks { 10.0.0.0/8, ::1 }\n"
	  "rule spf_fail {\n"
	  "    when spf is fail and not client.ip in @trusted_networks\n"
	  "    reject 550 5.7.23 \"SPF check failed for "
	  "{envelope.from.domain}\"\n"
	  "}\n"
	  "rule shouting {\n"
	  "    when header \"Subject\" matches /FREE MONEY/ or body matches "
	  "/casino/i\n"
	  "    score 4.5\n"
	  "}\n"
	  "rule spam {\n"
	  "    when score >= 5\n"
	  "    add-header \"X-Spam-Flag\" \"YES\"\n"
	  "    quarantine \"spam\"\n"
	  "}\n",
	  4, 1 },
	{ "every operator",
	  "rule a { when subject is \"x\" or subject == \"x\" or subject != "
	  "\"x\" or subject is not \"x\" accept }\n"
	  "rule b { when subject matches /x/ or subject not matches /y/i "
	  "accept }\n"
	  "rule c { when subject contains \"x\" or subject not contains "
	  "\"y\" accept }\n"
	  "rule d { when message.size < 1 or message.size <= 2K or "
	  "message.size > 3M or message.size >= 1G accept }\n"
	  "rule e { when client.ip in 10.0.0.0/8 or client.ip not in { "
	  "192.0.2.1, 2001:db8::/32 } or client.ip is ::1 accept }\n"
	  "rule f { when client.tls or not client.tls or client.tls is "
	  "false accept }\n"
	  "rule g { when any envelope.rcpt.domain in { \"a.org\" } and all "
	  "envelope.rcpt.domain not in { \"b.org\" } accept }\n"
	  "rule h { when (subject is \"a\" or subject is \"b\") and not "
	  "(body contains \"c\") accept }\n",
	  8 },
	{ "every action",
	  "rule a { when subject is \"x\"\n"
	  "  add-header \"X-A\" \"1\"; remove-header \"X-B\"\n"
	  "  score +1.5 score -2 score 3 tag spam tag \"bulk\" tag spam:high "
	  "log \"hi\" stop }\n"
	  "rule b { when subject is \"y\" accept }\n"
	  "rule c { when subject is \"y\" reject }\n"
	  "rule d { when subject is \"y\" reject 554 }\n"
	  "rule e { when subject is \"y\" reject \"no\" }\n"
	  "rule f { when subject is \"y\" tempfail }\n"
	  "rule g { when subject is \"y\" tempfail 421 4.3.2 \"later\" }\n"
	  "rule h { when subject is \"y\" discard }\n"
	  "rule i { when subject is \"y\" quarantine }\n"
	  "rule j { when subject is \"y\" quarantine \"why {rule}\" }\n",
	  10 },
	{ "variables with arguments",
	  "rule a { when header \"X-Mailer\" contains \"bulk\" or "
	  "header.count \"Received\" > 30 or result \"clamav\" is "
	  "\"infected\" or result.rspamd is \"spam\" accept }\n",
	  1 },
	{ "a variable on the right",
	  "rule a { when envelope.from.domain is helo or message.size > "
	  "attachment.count accept }\n",
	  1 },
	{ "results as words and strings",
	  "rule a { when spf is pass and dkim is \"fail\" and dmarc in { "
	  "\"fail\", \"none\" } and dmarc.policy is reject and time.weekday "
	  "in { \"sat\", \"sun\" } accept }\n",
	  1 },
	{ "regex list inline",
	  "list pats { /viagra/i, /c[i1]al[i1]s/ }\n"
	  "rule a { when subject matches @pats tag drugs }\n",
	  1, 1 },
	{ "shadow rule and file",
	  "shadow;\nrule a { when subject is \"x\" tag t }\n"
	  "rule b shadow { when subject is \"x\" tag t }\n",
	  2 },
	{ "semicolons are optional",
	  "list l { \"a\", \"b\", };\nrule a { when subject in @l accept; }\n",
	  1, 1 },
	{ "escapes and interpolation",
	  "rule a { when subject is \"tab\\there \\\"q\\\" \\x41\" log "
	  "\"{{literal}} {client.ip} {header.X-Spam} {result.k} {rule}\" }\n",
	  1 },
	{ "utf-8 in strings and regexes",
	  "rule a { when subject contains \"caf\xc3\xa9\" or body matches "
	  "/\xc3\xbc+/i accept }\n",
	  1 },
};

static void
test_good(void **state)
{
	const struct good_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set = NULL;
	const char *report;

	assert_int_equal(compile(arena, c->input, &set, &report), 0);
	assert_string_equal(report, "");
	assert_non_null(set);
	assert_int_equal(rules_set_count(set), c->nrules);
	assert_int_equal(rules_set_list_count(set), c->nlists);
	rules_set_unref(&set);
	assert_null(set);
	pst_arena_free(&arena);
}

/* ---- errors: the exact text ---- */

struct error_case {
	const char *name;
	const char *input;
	const char *want;
};

static const struct error_case error_cases[] = {
	{ "unknown variable with a hint",
	  "rule a {\n\twhen envelope.form is \"x\"\n\taccept\n}\n",
	  "t.rules:2:7: error: unknown variable 'envelope.form'\n"
	  "\twhen envelope.form is \"x\"\n"
	  "\t     ^~~~~~~~~~~~~\n"
	  "hint: did you mean envelope.from?\n" },
	{ "unknown variable without a hint",
	  "rule a { when frobnicate is \"x\" accept }\n",
	  "t.rules:1:15: error: unknown variable 'frobnicate'\n"
	  "rule a { when frobnicate is \"x\" accept }\n"
	  "              ^~~~~~~~~~\n"
	  "hint: see VARIABLES in postern-rules(5)\n" },
	{ "matches on a number",
	  "rule a { when message.size matches /x/ accept }\n",
	  "t.rules:1:28: error: 'message.size' is a number: 'matches' needs "
	  "a string\n"
	  "rule a { when message.size matches /x/ accept }\n"
	  "                           ^~~~~~~\n"
	  "hint: compare numbers with <, <=, >, >= or is\n" },
	{ "an address compared with a number",
	  "rule a { when client.ip < 5 accept }\n",
	  "t.rules:1:25: error: 'client.ip' is an IP address: '<' needs a "
	  "number\n"
	  "rule a { when client.ip < 5 accept }\n"
	  "                        ^\n"
	  "hint: test ranges with `client.ip in 192.0.2.0/24`\n" },
	{ "a result value that does not exist",
	  "rule a { when spf is fial accept }\n",
	  "t.rules:1:22: error: 'fial' is never a value of spf\n"
	  "rule a { when spf is fial accept }\n"
	  "                     ^~~~\n"
	  "hint: did you mean fail?\n" },
	{ "a result value far from any",
	  "rule a { when dmarc.policy is \"bounce\" accept }\n",
	  "t.rules:1:31: error: 'bounce' is never a value of dmarc.policy\n"
	  "rule a { when dmarc.policy is \"bounce\" accept }\n"
	  "                              ^~~~~~~~\n"
	  "hint: dmarc.policy is one of: none, quarantine, reject\n" },
	{ "a string without quotes",
	  "rule a { when subject is winner accept }\n",
	  "t.rules:1:26: error: expected a quoted string, found 'winner'\n"
	  "rule a { when subject is winner accept }\n"
	  "                         ^~~~~~\n"
	  "hint: write \"winner\"\n" },
	{ "a string without quotes that looks like a variable",
	  "rule a { when subject is envelope.frm accept }\n",
	  "t.rules:1:26: error: expected a quoted string, found "
	  "'envelope.frm'\n"
	  "rule a { when subject is envelope.frm accept }\n"
	  "                         ^~~~~~~~~~~~\n"
	  "hint: a string is written \"envelope.frm\"; or did you mean "
	  "envelope.from?\n" },
	{ "a bad regex points into it",
	  "rule a { when subject matches /a(b/ accept }\n",
	  "t.rules:1:35: error: bad regex: missing closing parenthesis\n"
	  "rule a { when subject matches /a(b/ accept }\n"
	  "                                  ^\n" },
	{ "a string where a regex belongs",
	  "rule a { when subject matches \"x\" accept }\n",
	  "t.rules:1:31: error: expected a /regex/ after matches, found a "
	  "string\n"
	  "rule a { when subject matches \"x\" accept }\n"
	  "                              ^~~\n"
	  "hint: write /.../, or use contains for a plain substring\n" },
	{ "negation of a list without any/all",
	  "rule a { when envelope.rcpt not in { \"x\" } accept }\n",
	  "t.rules:1:29: error: 'envelope.rcpt' is a list: say whether none "
	  "or only some of its values must not match\n"
	  "rule a { when envelope.rcpt not in { \"x\" } accept }\n"
	  "                            ^~~~~~\n"
	  "hint: write `not envelope.rcpt in ...` (none of them) or `any "
	  "envelope.rcpt not in ...` (at least one is not)\n" },
	{ "any on a single value",
	  "rule a { when any subject is \"x\" accept }\n",
	  "t.rules:1:15: error: 'any' needs a list, and subject has one "
	  "value\n"
	  "rule a { when any subject is \"x\" accept }\n"
	  "              ^~~\n"
	  "hint: drop 'any'\n" },
	{ "a range where one address belongs",
	  "rule a { when client.ip is 10.0.0.0/8 accept }\n",
	  "t.rules:1:28: error: '10.0.0.0/8' is a range, not one address\n"
	  "rule a { when client.ip is 10.0.0.0/8 accept }\n"
	  "                           ^~~~~~~~~~\n"
	  "hint: write `client.ip in 10.0.0.0/8`\n" },
	{ "host bits in a range",
	  "rule a { when client.ip in 10.0.0.1/8 accept }\n",
	  "t.rules:1:28: error: bad address '10.0.0.1/8': host bits set "
	  "after the prefix\n"
	  "rule a { when client.ip in 10.0.0.1/8 accept }\n"
	  "                           ^~~~~~~~~~\n" },
	{ "unknown action", "rule a { when subject is \"x\" rejct }\n",
	  "t.rules:1:30: error: unknown action 'rejct'\n"
	  "rule a { when subject is \"x\" rejct }\n"
	  "                             ^~~~~\n"
	  "hint: did you mean reject?\n" },
	{ "reject with a 4xx code",
	  "rule a { when subject is \"x\" reject 451 4.7.1 \"no\" }\n",
	  "t.rules:1:37: error: reject needs a 5xx code, not 451\n"
	  "rule a { when subject is \"x\" reject 451 4.7.1 \"no\" }\n"
	  "                                    ^~~\n"
	  "hint: use tempfail for a temporary (4xx) refusal\n" },
	{ "tempfail with a 5xx code",
	  "rule a { when subject is \"x\" tempfail 550 }\n",
	  "t.rules:1:39: error: tempfail needs a 4xx code, not 550\n"
	  "rule a { when subject is \"x\" tempfail 550 }\n"
	  "                                      ^~~\n"
	  "hint: use reject for a permanent (5xx) refusal\n" },
	{ "enhanced code of the wrong class",
	  "rule a { when subject is \"x\" reject 550 4.7.1 \"no\" }\n",
	  "t.rules:1:41: error: enhanced code 4.7.1 does not match reply "
	  "code 550\n"
	  "rule a { when subject is \"x\" reject 550 4.7.1 \"no\" }\n"
	  "                                        ^~~~~\n"
	  "hint: write 5.7.1\n" },
	{ "rule without action", "rule a { when subject is \"x\" }\n",
	  "t.rules:1:30: error: rule 'a' has no action\n"
	  "rule a { when subject is \"x\" }\n"
	  "                             ^\n"
	  "hint: add an action: accept, reject, tag, ...\n" },
	{ "rule without when", "rule a { accept }\n",
	  "t.rules:1:10: error: expected 'when', found 'accept'\n"
	  "rule a { accept }\n"
	  "         ^~~~~~\n"
	  "hint: a rule is `rule NAME { when CONDITION ACTION... }`\n" },
	{ "two terminal actions",
	  "rule a { when subject is \"x\"\n  reject\n  accept\n}\n",
	  "t.rules:3:3: error: the rule already has a terminal action "
	  "(reject, line 2)\n"
	  "  accept\n"
	  "  ^~~~~~\n"
	  "hint: one rule decides once: split it in two rules\n" },
	{ "tests not joined",
	  "rule a { when subject is \"x\" body contains \"y\" accept }\n",
	  "t.rules:1:30: error: expected 'and', 'or' or an action, found "
	  "'body'\n"
	  "rule a { when subject is \"x\" body contains \"y\" accept }\n"
	  "                             ^~~~\n"
	  "hint: join tests with and / or; then come the actions\n" },
	{ "unknown variable in a text",
	  "rule a { when subject is \"x\" log \"from {envelope.frm}\" }\n",
	  "t.rules:1:40: error: unknown variable 'envelope.frm' in the text\n"
	  "rule a { when subject is \"x\" log \"from {envelope.frm}\" }\n"
	  "                                       ^~~~~~~~~~~~~~\n"
	  "hint: did you mean envelope.from?\n" },
	{ "unclosed brace in a text",
	  "rule a { when subject is \"x\" log \"a { b\" }\n",
	  "t.rules:1:37: error: '{' without a matching '}'\n"
	  "rule a { when subject is \"x\" log \"a { b\" }\n"
	  "                                    ^\n"
	  "hint: write {{ for a literal {\n" },
	{ "unterminated string", "rule a { when subject is \"x\n accept }\n",
	  "t.rules:1:26: error: unterminated string\n"
	  "rule a { when subject is \"x\n"
	  "                         ^\n"
	  "hint: a string ends on the line it starts on\n" },
	{ "unknown escape", "rule a { when subject is \"a\\qb\" accept }\n",
	  "t.rules:1:28: error: unknown escape in a string\n"
	  "rule a { when subject is \"a\\qb\" accept }\n"
	  "                           ^~\n"
	  "hint: escapes are \\\\ \\\" \\n \\t \\r and \\xHH (not \\x00)\n" },
	{ "unknown regex flag", "rule a { when subject matches /x/g accept }\n",
	  "t.rules:1:34: error: unknown regex flag 'g'\n"
	  "rule a { when subject matches /x/g accept }\n"
	  "                                 ^\n"
	  "hint: flags are i (ignore case), m (multi-line), s (dot matches "
	  "newline), x (extended)\n" },
	{ "unterminated regex",
	  "rule a { when subject matches /x[/]\n accept }\n",
	  "t.rules:1:31: error: unterminated regex\n"
	  "rule a { when subject matches /x[/]\n"
	  "                              ^\n"
	  "hint: a regex ends on the line it starts on; write \\/ for a "
	  "slash\n" },
	{ "a typo at the top", "rul a { }\n",
	  "t.rules:1:1: error: expected rule, list, include or shadow, found "
	  "'rul'\n"
	  "rul a { }\n"
	  "^~~\n"
	  "hint: did you mean rule?\n" },
	{ "a lone equals sign", "rule a { when subject = \"x\" accept }\n",
	  "t.rules:1:23: error: unexpected '='\n"
	  "rule a { when subject = \"x\" accept }\n"
	  "                      ^\n"
	  "hint: write == or is\n" },
	{ "header without a name",
	  "rule a { when header matches /x/ accept }\n",
	  "t.rules:1:22: error: expected the header name after header, found "
	  "'matches'\n"
	  "rule a { when header matches /x/ accept }\n"
	  "                     ^~~~~~~\n"
	  "hint: write header \"Subject\"\n" },
	{ "bad header name",
	  "rule a { when header \"Sub ject\" is \"x\" accept }\n",
	  "t.rules:1:22: error: bad header name 'Sub ject'\n"
	  "rule a { when header \"Sub ject\" is \"x\" accept }\n"
	  "                     ^~~~~~~~~~\n"
	  "hint: header names are printable ASCII, without blanks or ':'\n" },
	{ "an action where the condition belongs", "rule a { when reject }\n",
	  "t.rules:1:15: error: expected a condition, found the action "
	  "'reject'\n"
	  "rule a { when reject }\n"
	  "              ^~~~~~\n"
	  "hint: a rule is `when CONDITION ACTION...`\n" },
	{ "unknown list",
	  "list trusted { 10.0.0.0/8 }\n"
	  "rule a { when client.ip in @trustd accept }\n",
	  "t.rules:2:28: error: unknown list '@trustd'\n"
	  "rule a { when client.ip in @trustd accept }\n"
	  "                           ^~~~~~~\n"
	  "hint: did you mean @trusted?\n" },
	{ "list item of the wrong type",
	  "list words { \"a\", 5 }\n"
	  "rule a { when subject in @words accept }\n",
	  "t.rules:1:19: error: list 'words' holds strings for `subject`; "
	  "this item is not a string\n"
	  "list words { \"a\", 5 }\n"
	  "                  ^\n"
	  "hint: used at t.rules:2:26 by `subject in @words`\n" },
	{ "inline list item of the wrong type",
	  "rule a { when client.ip in { 10.0.0.0/8, \"x\" } accept }\n",
	  "t.rules:1:42: error: this list holds addresses for `client.ip`; "
	  "this item is not an address\n"
	  "rule a { when client.ip in { 10.0.0.0/8, \"x\" } accept }\n"
	  "                                         ^~~\n" },
	{ "a result list with a typo",
	  "rule a { when spf in { \"pass\", \"nuetral\" } accept }\n",
	  "t.rules:1:32: error: 'nuetral' is never a value of spf\n"
	  "rule a { when spf in { \"pass\", \"nuetral\" } accept }\n"
	  "                               ^~~~~~~~~\n" },
	{ "duplicate rule",
	  "rule a { when subject is \"y\" accept }\n"
	  "rule a { when subject is \"z\" accept }\n",
	  "t.rules:2:6: error: rule 'a' is defined twice\n"
	  "rule a { when subject is \"z\" accept }\n"
	  "     ^\n"
	  "hint: first defined at t.rules:1\n" },
	{ "duplicate list", "list a { \"x\" }\nlist a { \"y\" }\n",
	  "t.rules:2:6: error: list 'a' is defined twice\n"
	  "list a { \"y\" }\n"
	  "     ^\n"
	  "hint: first defined at t.rules:1\n" },
	{ "shadow after a rule",
	  "rule x { when subject is \"a\" accept }\nshadow;\n",
	  "t.rules:2:1: error: 'shadow' for the whole file must come before "
	  "its first rule\n"
	  "shadow;\n"
	  "^~~~~~\n"
	  "hint: move `shadow;` to the top of the file\n" },
	{ "bad tag", "rule a { when subject is \"a\" tag \"two words\" }\n",
	  "t.rules:1:34: error: bad tag 'two words'\n"
	  "rule a { when subject is \"a\" tag \"two words\" }\n"
	  "                                 ^~~~~~~~~~~\n"
	  "hint: tags are letters, digits and _ - . :\n" },
	{ "number in quotes", "rule a { when message.size > \"10M\" accept }\n",
	  "t.rules:1:30: error: expected a number after >, found a string\n"
	  "rule a { when message.size > \"10M\" accept }\n"
	  "                             ^~~~~\n"
	  "hint: numbers and sizes (10M) are written without quotes\n" },
	{ "types of two variables",
	  "rule a { when subject is message.size accept }\n",
	  "t.rules:1:26: error: cannot compare 'subject' (a string) with "
	  "'message.size' (a number)\n"
	  "rule a { when subject is message.size accept }\n"
	  "                         ^~~~~~~~~~~~\n" },
	{ "the column counts characters, not bytes",
	  "rule a { when subject is \"\xc3\xa9\xc3\xa9\" or frob is \"x\" "
	  "accept }\n",
	  "t.rules:1:34: error: unknown variable 'frob'\n"
	  "rule a { when subject is \"\xc3\xa9\xc3\xa9\" or frob is \"x\" "
	  "accept }\n"
	  "                                 ^~~~\n"
	  "hint: see VARIABLES in postern-rules(5)\n" },
	{ "several errors in one run",
	  "rule a { when subjet is \"x\" accept }\n"
	  "rule b { when subject is \"x\" rejct }\n",
	  "t.rules:1:15: error: unknown variable 'subjet'\n"
	  "rule a { when subjet is \"x\" accept }\n"
	  "              ^~~~~~\n"
	  "hint: did you mean subject?\n"
	  "t.rules:2:30: error: unknown action 'rejct'\n"
	  "rule b { when subject is \"x\" rejct }\n"
	  "                             ^~~~~\n"
	  "hint: did you mean reject?\n" },
};

static void
test_error(void **state)
{
	const struct error_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set = (void *)1;
	const char *report;

	assert_int_equal(compile(arena, c->input, &set, &report), -1);
	assert_null(set);
	assert_string_equal(report, c->want);
	pst_arena_free(&arena);
}

/* ---- stage inference ---- */

struct stage_case {
	const char *name;
	const char *cond;   /* between when and the action */
	const char *action; /* NULL: accept */
	enum rules_stage want;
};

static const struct stage_case stage_cases[] = {
	{ "client.ip: connect", "client.ip in 10.0.0.0/8", NULL,
	  RULES_STAGE_CONNECT },
	{ "client.ptr: connect", "client.ptr matches /dyn/", NULL,
	  RULES_STAGE_CONNECT },
	{ "time: connect", "time.hour < 6 and time.weekday is sun", NULL,
	  RULES_STAGE_CONNECT },
	{ "helo: helo", "helo is \"localhost\"", NULL, RULES_STAGE_HELO },
	{ "client.tls: mail", "not client.tls", NULL, RULES_STAGE_MAIL },
	{ "envelope.from: mail", "envelope.from.domain is \"x.org\"", NULL,
	  RULES_STAGE_MAIL },
	{ "spf: mail", "spf is fail", NULL, RULES_STAGE_MAIL },
	{ "envelope.rcpt: rcpt", "envelope.rcpt.local is \"abuse\"", NULL,
	  RULES_STAGE_RCPT },
	{ "rcpt and client.ip: rcpt",
	  "client.ip in 10.0.0.0/8 and envelope.rcpt is \"a@b\"", NULL,
	  RULES_STAGE_RCPT },
	{ "attachment: message", "any attachment.extension is \"exe\"", NULL,
	  RULES_STAGE_MESSAGE },
	{ "header: message", "header \"X-A\" is \"1\"", NULL,
	  RULES_STAGE_MESSAGE },
	{ "dkim: message", "dkim is pass", NULL, RULES_STAGE_MESSAGE },
	{ "score: message", "score > 5", NULL, RULES_STAGE_MESSAGE },
	{ "a variable in the reply text", "client.ip in 10.0.0.0/8",
	  "reject \"bad {subject}\"", RULES_STAGE_MESSAGE },
	{ "a variable on the right side", "helo is envelope.from.domain", NULL,
	  RULES_STAGE_MAIL },
	{ "add-header needs the message", "client.ip in 10.0.0.0/8",
	  "add-header \"X-Internal\" \"yes\"", RULES_STAGE_MESSAGE },
	{ "quarantine needs the message", "client.ip in 10.0.0.0/8",
	  "quarantine", RULES_STAGE_MESSAGE },
	{ "tag does not", "client.ip in 10.0.0.0/8", "tag internal",
	  RULES_STAGE_CONNECT },
};

static void
test_stage(void **state)
{
	const struct stage_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	struct rules_rule_info info;
	const char *report;
	char *text;

	text = pst_arena_printf(arena, "rule r {\n when %s\n %s\n}\n", c->cond,
				c->action ? c->action : "accept");
	assert_int_equal(compile(arena, text, &set, &report), 0);
	assert_string_equal(report, "");
	assert_int_equal(rules_set_find(set, "r", &info), 0);
	assert_string_equal(rules_stage_name(info.stage),
			    rules_stage_name(c->want));
	assert_int_equal(rules_set_stage_count(set, c->want), 1);
	assert_true(rules_set_vars(set, c->want) != 0);
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

/* ---- single cases ---- */

static void
test_rule_info(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	struct rules_rule_info info;
	const char *report;

	(void)state;
	assert_int_equal(compile(arena,
				 "shadow;\n\nrule one { when helo is \"x\" "
				 "accept }\nrule two { when spf is none tag "
				 "t }\n",
				 &set, &report),
			 0);
	assert_int_equal(rules_set_rule(set, 1, &info), 0);
	assert_string_equal(info.name, "two");
	assert_string_equal(info.file, "t.rules");
	assert_int_equal(info.line, 4);
	assert_true(info.shadow);
	assert_int_equal(info.stage, RULES_STAGE_MAIL);
	assert_int_equal(rules_set_rule(set, 2, &info), -1);
	assert_int_equal(rules_set_find(set, "three", &info), -1);
	assert_int_equal(rules_set_vars(set, RULES_STAGE_HELO),
			 UINT64_C(1) << RULES_VAR_HELO);
	assert_int_equal(rules_set_vars(set, RULES_STAGE_MAIL),
			 UINT64_C(1) << RULES_VAR_SPF);
	/* a second reference keeps the set after the first is dropped */
	struct rules_set *again = rules_set_ref(set);

	rules_set_unref(&set);
	assert_int_equal(rules_set_count(again), 2);
	rules_set_unref(&again);
	rules_set_unref(&again); /* NULL is fine */
	pst_arena_free(&arena);
}

static void
test_regex_count(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	const char *report;
	size_t none = 99;

	(void)state;
	assert_int_equal(compile(arena,
				 "list l { /free money/, /[0-9]+/ }\n"
				 "rule a { when body matches /casino/i or "
				 "subject matches @l or helo matches /(a|b)/ "
				 "accept }\n",
				 &set, &report),
			 0);
	assert_int_equal(rules_set_regex_count(set, &none), 4);
	assert_int_equal(none, 2); /* [0-9]+ and (a|b) */
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

static void
test_score_warning(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	const char *report;

	(void)state;
	assert_int_equal(
		compile(arena,
			"rule spam { when score >= 5 quarantine }\n"
			"rule loud { when subject matches /!!!/ score +3 }\n",
			&set, &report),
		0);
	assert_string_equal(
		report,
		"t.rules:1:6: warning: rule 'spam' reads score before rule "
		"'loud' (t.rules:2) adds to it\n"
		"rule spam { when score >= 5 quarantine }\n"
		"     ^~~~\n"
		"hint: rules run in order: move it after 'loud'\n");
	assert_non_null(set);
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

static void
test_no_name(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	struct rules_report rep;
	const char *text =
		"include \"/etc/passwd\"\nlist l file \"/etc/passwd\"\n";

	(void)state;
	assert_int_equal(rules_load_string(NULL, text, strlen(text), NULL,
					   arena, &set, &rep),
			 -1);
	assert_int_equal(rep.nerrors, 2);
	assert_string_equal(rep.diags[0].file, "<string>");
	assert_int_equal(rep.diags[0].line, 1);
	assert_int_equal(rep.diags[0].column, 9);
	assert_string_equal(rep.diags[0].message,
			    "include is not allowed here (the text has no "
			    "file name)");
	assert_string_equal(rep.diags[1].message,
			    "list files are not allowed here (the text has no "
			    "file name)");
	pst_arena_free(&arena);
}

static void
test_max_errors(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_options opts;
	struct rules_set *set;
	struct rules_report rep;
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	for (int i = 0; i < 50; i++)
		pst_buf_printf(&b, "rule r%d { when nope is \"x\" accept }\n",
			       i);
	rules_options_default(&opts);
	opts.max_errors = 3;
	assert_int_equal(rules_load_string("t.rules", b.data, b.len, &opts,
					   arena, &set, &rep),
			 -1);
	assert_int_equal(rep.nerrors, 3);
	assert_non_null(strstr(rep.text, "error: too many errors (3); "
					 "stopping here\n"));
	pst_buf_free(&b);
	pst_arena_free(&arena);
}

static void
test_nesting_limit(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	struct pst_buf b;
	const char *report;

	(void)state;
	pst_buf_init(&b, 0);
	pst_buf_append_cstr(&b, "rule a { when ");
	for (int i = 0; i < 1000; i++)
		pst_buf_append_cstr(&b, "not (");
	assert_int_equal(compile(arena, b.data, &set, &report), -1);
	assert_non_null(strstr(report, "condition nested too deeply"));
	pst_buf_free(&b);
	pst_arena_free(&arena);
}

static void
test_binary_garbage(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	struct rules_report rep;
	char text[4096];

	(void)state;
	/* every byte value, twice over: errors, never a crash */
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)(i * 7 + (i >> 8));
	assert_int_equal(rules_load_string("t.rules", text, sizeof(text), NULL,
					   arena, &set, &rep),
			 -1);
	assert_true(rep.nerrors > 0);
	pst_arena_free(&arena);
}

/* ---- files: includes and list files in a private directory ---- */

static char tmpdir[64];

static void
put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
files_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_rules.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
files_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static int
load_main(struct pst_arena *arena, struct rules_set **set_r,
	  const char **report_r)
{
	struct rules_report rep;
	char path[256];
	const char *pats[1] = { path };
	int rc;

	snprintf(path, sizeof(path), "%s/main.rules", tmpdir);
	rc = rules_load_files(pats, 1, NULL, arena, set_r, &rep);
	*report_r = rep.text;
	return rc;
}

/* The report with the directory name taken out, for exact comparison. */
static const char *
strip_dir(struct pst_arena *arena, const char *report)
{
	struct pst_buf b;
	size_t n = strlen(tmpdir);
	const char *p = report, *hit;
	char *r;

	pst_buf_init(&b, 0);
	while ((hit = strstr(p, tmpdir)) != NULL) {
		pst_buf_append(&b, p, (size_t)(hit - p));
		pst_buf_append_cstr(&b, "DIR");
		p = hit + n;
	}
	pst_buf_append_cstr(&b, p);
	r = pst_arena_strdup(arena, b.data != NULL ? b.data : "");
	pst_buf_free(&b);
	return r;
}

static void
test_include_and_lists(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	struct rules_rule_info info;
	const char *report;

	char dir[128];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/d", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	put("main.rules", "include \"d/*.rules\"\n"
			  "list nets file \"nets.txt\"\n"
			  "rule main { when client.ip in @nets accept }\n");
	put("d/10-a.rules", "rule a { when helo is \"a\" accept }\n");
	put("d/20-b.rules", "shadow;\nrule b { when helo is \"b\" accept }\n");
	put("nets.txt", "# our networks\n10.0.0.0/8\n\n  192.168.0.0/16 # "
			"office\n2001:db8::/32\n");
	assert_int_equal(load_main(arena, &set, &report), 0);
	assert_string_equal(report, "");
	assert_int_equal(rules_set_count(set), 3);
	/* glob order, then the including file */
	assert_int_equal(rules_set_rule(set, 0, &info), 0);
	assert_string_equal(info.name, "a");
	assert_false(info.shadow);
	assert_int_equal(rules_set_rule(set, 1, &info), 0);
	assert_string_equal(info.name, "b");
	assert_true(info.shadow);
	assert_string_equal(strip_dir(arena, info.file), "DIR/d/20-b.rules");
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

static void
test_list_file_errors(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	const char *report;

	(void)state;
	put("main.rules", "list nets file \"nets.txt\"\n"
			  "rule main { when client.ip in @nets accept }\n");
	put("nets.txt", "10.0.0.0/8\nexample.org\n");
	assert_int_equal(load_main(arena, &set, &report), -1);
	assert_string_equal(
		strip_dir(arena, report),
		"DIR/nets.txt:2:1: error: bad address 'example.org' in list "
		"'nets': not an IPv4 or IPv6 address\n"
		"example.org\n"
		"^~~~~~~~~~~\n"
		"hint: used at DIR/main.rules:2:31 by `client.ip in @nets`\n");

	put("main.rules", "list nets file \"missing.txt\"\n");
	assert_int_equal(load_main(arena, &set, &report), -1);
	assert_string_equal(strip_dir(arena, report),
			    "DIR/main.rules:1:16: error: cannot read list file "
			    "'DIR/missing.txt': No such file or directory\n"
			    "list nets file \"missing.txt\"\n"
			    "               ^~~~~~~~~~~~~\n");
	pst_arena_free(&arena);
}

static void
test_include_loop(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	const char *report;

	(void)state;
	put("main.rules", "include \"other.rules\"\n");
	put("other.rules", "include \"main.rules\"\n");
	assert_int_equal(load_main(arena, &set, &report), -1);
	assert_string_equal(strip_dir(arena, report),
			    "DIR/other.rules:1:9: error: include loop: "
			    "'DIR/main.rules' is already being read\n"
			    "include \"main.rules\"\n"
			    "        ^~~~~~~~~~~~\n"
			    "hint: a file cannot include itself, directly or "
			    "through others\n");

	put("main.rules", "include \"main.rules\"\n");
	assert_int_equal(load_main(arena, &set, &report), -1);
	assert_non_null(strstr(report, "include loop"));
	pst_arena_free(&arena);
}

static void
test_include_depth(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	const char *report;
	char name[32], text[64];

	(void)state;
	/* main -> i1 -> ... -> i9: nine levels below main, one too many */
	put("main.rules", "include \"i1.rules\"\n");
	for (int i = 1; i <= 9; i++) {
		snprintf(name, sizeof(name), "i%d.rules", i);
		snprintf(text, sizeof(text), "include \"i%d.rules\"\n", i + 1);
		put(name, i < 9 ? text
				: "rule deep { when helo is \"x\" "
				  "accept }\n");
	}
	assert_int_equal(load_main(arena, &set, &report), -1);
	assert_string_equal(strip_dir(arena, report),
			    "DIR/i8.rules:1:9: error: includes nested deeper "
			    "than 8\n"
			    "include \"i9.rules\"\n"
			    "        ^~~~~~~~~~\n");
	/* one level less is fine */
	put("i8.rules", "rule deep { when helo is \"x\" accept }\n");
	assert_int_equal(load_main(arena, &set, &report), 0);
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

static void
test_missing_files(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	struct rules_report rep;
	char pat[256], plain[256];
	const char *pats[1];

	(void)state;
	/* a glob that matches nothing is an empty set */
	snprintf(pat, sizeof(pat), "%s/none/*.rules", tmpdir);
	pats[0] = pat;
	assert_int_equal(rules_load_files(pats, 1, NULL, arena, &set, &rep), 0);
	assert_int_equal(rules_set_count(set), 0);
	rules_set_unref(&set);
	/* a plain file that is missing is an error */
	snprintf(plain, sizeof(plain), "%s/none.rules", tmpdir);
	pats[0] = plain;
	assert_int_equal(rules_load_files(pats, 1, NULL, arena, &set, &rep),
			 -1);
	assert_string_equal(strip_dir(arena, rep.text),
			    "error: cannot read 'DIR/none.rules': No such file "
			    "or directory\n");
	/* a directory is not a rule file */
	pats[0] = tmpdir;
	assert_int_equal(rules_load_files(pats, 1, NULL, arena, &set, &rep),
			 -1);
	assert_non_null(strstr(rep.text, "not a regular file"));
	pst_arena_free(&arena);
}

#define SINGLE_TESTS 12

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(good_cases) +
				       N_ELEMS(error_cases) +
				       N_ELEMS(stage_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_rule_info),
		cmocka_unit_test(test_score_warning),
		cmocka_unit_test(test_regex_count),
		cmocka_unit_test(test_no_name),
		cmocka_unit_test(test_max_errors),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_binary_garbage),
		cmocka_unit_test(test_include_and_lists),
		cmocka_unit_test(test_list_file_errors),
		cmocka_unit_test(test_include_loop),
		cmocka_unit_test(test_include_depth),
		cmocka_unit_test(test_missing_files),
	};
	size_t n = 0;

#define ADD_ROWS(table, fn)                                                    \
	for (size_t i = 0; i < N_ELEMS(table); i++)                            \
	tests[n++] = (struct CMUnitTest){ .name = table[i].name,               \
					  .test_func = fn,                     \
					  .initial_state = (void *)&table[i] }
	ADD_ROWS(good_cases, test_good);
	ADD_ROWS(error_cases, test_error);
	ADD_ROWS(stage_cases, test_stage);
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	if (n != N_ELEMS(tests))
		return 1;
	/* one private directory for the tests that need files */
	return cmocka_run_group_tests(tests, files_setup, files_teardown);
}
