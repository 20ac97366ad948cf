/*
 * fuzz_rules.c - libFuzzer target for the rule-file language (rules/):
 * the input is compiled as a rule file (lexer, parser, type checks,
 * regexes, linking) and, when it compiles, evaluated at every stage
 * against a fixed environment with explanations on.  The same bytes are
 * also read as a Postfix header_checks and body_checks table, and what
 * the importer writes must always compile.
 *
 * The text is compiled with no file name, which makes include and list
 * files errors before any path is built, so the fuzzer never opens a
 * file.  Invariants checked (a trap when broken): a failed compile says
 * why, with at least one error; every report line names a place or is a
 * plain "error:"; an outcome's terminal action is terminal.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "rules.h"
#include "rules_postfix.h"

static const struct pst_str rcpts[] = {
	{ "postmaster@example.org", 22 },
	{ "Bob@Example.NET", 15 },
};
static const struct pst_str hdrs[] = {
	{ "Subject: FREE MONEY now", 23 },
	{ "X-Mailer: BulkMail 1.0", 22 },
	{ "Received: from unknown by mx.example.org", 40 },
};
static const double sizes[] = { 1024, 7340032 };

static int
fuzz_get(void *ctx, enum rules_var var, const char *arg, struct pst_arena *a,
	 struct rules_value *out)
{
	struct rules_ip ip;

	(void)ctx;
	(void)a;
	switch (var) {
	case RULES_VAR_CLIENT_IP:
		rules_ip_parse("192.0.2.7", 9, &ip);
		rules_value_ip(out, &ip);
		break;
	case RULES_VAR_CLIENT_TLS:
		rules_value_bool(out, true);
		break;
	case RULES_VAR_TIME_HOUR:
	case RULES_VAR_ATT_COUNT:
	case RULES_VAR_HEADER_COUNT:
		rules_value_num(out, 3);
		break;
	case RULES_VAR_MESSAGE_SIZE:
	case RULES_VAR_SCORE:
		rules_value_num(out, 4.5);
		break;
	case RULES_VAR_ATT_SIZE:
		rules_value_nums(out, sizes, 2);
		break;
	case RULES_VAR_RCPT:
	case RULES_VAR_RCPT_LOCAL:
	case RULES_VAR_RCPT_DOMAIN:
	case RULES_VAR_ATT_FILENAME:
	case RULES_VAR_TAGS:
		rules_value_strs(out, rcpts, 2);
		break;
	case RULES_VAR_RAWHEADERS:
	case RULES_VAR_HEADER:
		rules_value_strs(out, hdrs,
				 arg != NULL && arg[0] == 'X' ? 1 : 3);
		break;
	case RULES_VAR_SPF:
	case RULES_VAR_DKIM:
	case RULES_VAR_DMARC:
		rules_value_cstr(out, "fail");
		break;
	case RULES_VAR_BODY:
	case RULES_VAR_RAWBODY:
		rules_value_cstr(out, "Hello,\r\nvisit our CASINO\r\n> quoted "
				      "\xc3\xa9 \xff\r\nbegin 644 a.exe\r\n");
		break;
	default:
		/* the rest: a string, with a CR LF to be sanitised */
		if (rules_var_type(var) == RULES_T_STRING)
			rules_value_cstr(out, "a\r\nb {c} \"d\"");
		break;
	}
	return 0;
}

static void
check_report(const struct rules_report *rep, int rc)
{
	if (rc < 0 && (rep->nerrors == 0 || rep->text[0] == '\0'))
		__builtin_trap();
	for (size_t i = 0; i < rep->ndiags; i++) {
		if (rep->diags[i].message == NULL)
			__builtin_trap();
	}
}

static void
evaluate(const struct rules_set *set, struct pst_arena *arena)
{
	struct rules_env env = { NULL, fuzz_get };

	for (unsigned s = 0; s < RULES_STAGE__COUNT; s++) {
		struct rules_outcome out;

		if (rules_eval(set, (enum rules_stage)s, &env, arena,
			       s % 2 ? RULES_EVAL_EXPLAIN : 0, &out) < 0)
			continue;
		if (out.terminal != NULL &&
		    !rules_action_is_terminal(out.terminal->kind))
			__builtin_trap();
		for (size_t i = 0; i < out.nactions; i++) {
			const char *t = out.actions[i].text;

			/* nothing that could split a line or a header */
			if (t != NULL && strpbrk(t, "\r\n") != NULL)
				__builtin_trap();
		}
	}
}

static void
import(const char *text, size_t len, bool body, struct pst_arena *arena)
{
	struct rules_postfix_opts o = { body, false };
	struct rules_postfix_stats st;
	struct rules_report rep;
	struct rules_set *set;
	struct pst_buf out;

	pst_buf_init(&out, 0);
	if (rules_postfix_import("t", text, len, &o, &out, &st) == 0 &&
	    out.data != NULL) {
		/* what the importer writes always compiles */
		if (rules_load_string(NULL, out.data, out.len, NULL, arena,
				      &set, &rep) < 0)
			__builtin_trap();
		rules_set_unref(&set);
	}
	pst_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set = NULL;
	struct rules_report rep;
	int rc;

	if (arena == NULL)
		return 0;
	rc = rules_load_string(NULL, (const char *)data, size, NULL, arena,
			       &set, &rep);
	check_report(&rep, rc);
	if (rc == 0) {
		evaluate(set, arena);
		rules_set_unref(&set);
	}
	import((const char *)data, size, false, arena);
	import((const char *)data, size, true, arena);
	pst_arena_free(&arena);
	return 0;
}
