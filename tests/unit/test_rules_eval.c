/*
 * test_rules_eval.c - unit tests for rule evaluation (rules/): every
 * operator on every type, any/all over lists, stages (only the stage's
 * rules run, only their variables are asked), terminal actions and stop,
 * score and tags seen by later rules, shadow rules, {variable}
 * interpolation and sanitising, absent values and environment errors,
 * explanations, regex limits, the prefilter (its literals, its automaton,
 * and that it never changes a result), list files, and a set shared by
 * threads while it is swapped.
 *
 * The environment is a struct fake filled per case; the outcome is
 * compared as one line of text (describe()).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "rules.h"
#include "rules_int.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- the fake environment ---- */

struct kv {
	const char *k, *v;
};

struct fake {
	const char *ip, *ptr, *helo, *from, *subject, *body, *rawbody;
	const char *spf, *dkim, *dmarc, *policy, *weekday;
	bool tls;
	double size, score, hour, att_count;
	const char *rcpt[4];
	struct kv headers[6];
	struct kv results[3];
	const char *rawheaders[4];
	const char *att_filename[4], *att_ext[4], *att_type[4], *defects[3];
	const char *att_sniffed[4];
	double att_size[4];
	const char *tags[3];
	int fail_var; /* 1 + the var whose get() fails; 0: none */
};

struct fake_ctx {
	const struct fake *f;
	unsigned asked[RULES_VAR__COUNT];
};

static size_t
count(const char *const *v, size_t max)
{
	size_t n = 0;

	while (n < max && v[n] != NULL)
		n++;
	return n;
}

static void
strs(struct pst_arena *a, struct rules_value *out, const char *const *v,
     size_t max, int part)
{
	size_t n = count(v, max);
	struct pst_str *s = pst_arena_calloc(a, n + 1, sizeof(*s));

	for (size_t i = 0; i < n; i++) {
		const char *p = v[i], *at = strrchr(p, '@');

		if (part == 1 && at != NULL) /* local part */
			s[i] = (struct pst_str){ p, (size_t)(at - p) };
		else if (part == 2) /* domain */
			s[i] = pst_str_from_cstr(at != NULL ? at + 1 : "");
		else
			s[i] = pst_str_from_cstr(p);
	}
	rules_value_strs(out, s, n);
}

static int
fake_get(void *ctx, enum rules_var var, const char *arg, struct pst_arena *a,
	 struct rules_value *out)
{
	struct fake_ctx *fc = ctx;
	const struct fake *f = fc->f;
	const char *at;

	fc->asked[var]++;
	if (f->fail_var == (int)var + 1)
		return -1;
	switch (var) {
	case RULES_VAR_CLIENT_IP:
		if (f->ip != NULL) {
			struct rules_ip ip;

			assert_int_equal(
				rules_ip_parse(f->ip, strlen(f->ip), &ip), 0);
			rules_value_ip(out, &ip);
		}
		break;
	case RULES_VAR_CLIENT_PTR:
		rules_value_cstr(out, f->ptr);
		break;
	case RULES_VAR_CLIENT_TLS:
		rules_value_bool(out, f->tls);
		break;
	case RULES_VAR_TIME_HOUR:
		rules_value_num(out, f->hour);
		break;
	case RULES_VAR_TIME_WEEKDAY:
		rules_value_cstr(out, f->weekday);
		break;
	case RULES_VAR_HELO:
		rules_value_cstr(out, f->helo);
		break;
	case RULES_VAR_FROM:
		rules_value_cstr(out, f->from);
		break;
	case RULES_VAR_FROM_LOCAL:
		if (f->from != NULL) {
			at = strrchr(f->from, '@');
			rules_value_str(out, f->from,
					at ? (size_t)(at - f->from)
					   : strlen(f->from));
		}
		break;
	case RULES_VAR_FROM_DOMAIN:
		if (f->from != NULL && (at = strrchr(f->from, '@')) != NULL)
			rules_value_cstr(out, at + 1);
		break;
	case RULES_VAR_SPF:
		rules_value_cstr(out, f->spf);
		break;
	case RULES_VAR_RCPT:
	case RULES_VAR_RCPT_LOCAL:
	case RULES_VAR_RCPT_DOMAIN:
		strs(a, out, f->rcpt, 4, (int)(var - RULES_VAR_RCPT));
		break;
	case RULES_VAR_HEADER:
	case RULES_VAR_HEADER_COUNT: {
		const char *v[6];
		size_t n = 0;

		for (size_t i = 0; i < 6 && f->headers[i].k != NULL; i++) {
			if (strcasecmp(f->headers[i].k, arg) == 0)
				v[n++] = f->headers[i].v;
		}
		if (var == RULES_VAR_HEADER_COUNT) {
			rules_value_num(out, (double)n);
		} else {
			if (n < 6)
				v[n] = NULL;
			strs(a, out, v, n, 0);
		}
		break;
	}
	case RULES_VAR_RAWHEADERS:
		strs(a, out, f->rawheaders, 4, 0);
		break;
	case RULES_VAR_SUBJECT:
		rules_value_cstr(out, f->subject);
		break;
	case RULES_VAR_MESSAGE_SIZE:
		rules_value_num(out, f->size);
		break;
	case RULES_VAR_MESSAGE_DEFECTS:
		strs(a, out, f->defects, 3, 0);
		break;
	case RULES_VAR_BODY:
		rules_value_cstr(out, f->body);
		break;
	case RULES_VAR_RAWBODY:
		rules_value_cstr(out, f->rawbody);
		break;
	case RULES_VAR_ATT_COUNT:
		rules_value_num(out, f->att_count);
		break;
	case RULES_VAR_ATT_FILENAME:
		strs(a, out, f->att_filename, 4, 0);
		break;
	case RULES_VAR_ATT_EXTENSION:
		strs(a, out, f->att_ext, 4, 0);
		break;
	case RULES_VAR_ATT_TYPE:
		strs(a, out, f->att_type, 4, 0);
		break;
	case RULES_VAR_ATT_SNIFFED_TYPE:
		strs(a, out, f->att_sniffed, 4, 0);
		break;
	case RULES_VAR_ATT_SIZE: {
		size_t n = count(f->att_filename, 4);

		rules_value_nums(out, f->att_size, n);
		break;
	}
	case RULES_VAR_DKIM:
		rules_value_cstr(out, f->dkim);
		break;
	case RULES_VAR_DMARC:
		rules_value_cstr(out, f->dmarc);
		break;
	case RULES_VAR_DMARC_POLICY:
		rules_value_cstr(out, f->policy);
		break;
	case RULES_VAR_RESULT:
		for (size_t i = 0; i < 3 && f->results[i].k != NULL; i++) {
			if (strcmp(f->results[i].k, arg) == 0)
				rules_value_cstr(out, f->results[i].v);
		}
		break;
	case RULES_VAR_SCORE:
		rules_value_num(out, f->score);
		break;
	case RULES_VAR_TAGS:
		strs(a, out, f->tags, 3, 0);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- helpers ---- */

static struct rules_set *
must_compile(struct pst_arena *arena, const char *text)
{
	struct rules_set *set;
	struct rules_report rep;

	if (rules_load_string("t.rules", text, strlen(text), NULL, arena, &set,
			      &rep) < 0)
		fail_msg("compile failed:\n%s", rep.text);
	return set;
}

static void
describe_action(struct pst_buf *b, const struct rules_action_result *a)
{
	pst_buf_append_cstr(b, rules_action_name(a->kind));
	if (a->code)
		pst_buf_printf(b, " %u %s", a->code, a->enhanced);
	if (a->header)
		pst_buf_printf(b, " %s", a->header);
	if (a->kind == RULES_ACT_SCORE)
		pst_buf_printf(b, " %g", a->score);
	if (a->text)
		pst_buf_printf(b, " [%s]", a->text);
}

/* "fired=a,b terminal=reject 550 5.7.1 [text] actions=tag [x]|score 1
 * shadow=... score=1 flags=0x0" with the empty parts left out. */
static const char *
describe(struct pst_arena *arena, const struct rules_outcome *o)
{
	struct pst_buf b;
	const char *r;

	pst_buf_init(&b, 0);
	pst_buf_append_cstr(&b, "fired=");
	for (size_t i = 0; i < o->nfired; i++)
		pst_buf_printf(&b, "%s%s", i ? "," : "", o->fired[i]);
	if (o->terminal != NULL) {
		pst_buf_append_cstr(&b, " terminal=");
		describe_action(&b, o->terminal);
	}
	if (o->nactions > 0) {
		pst_buf_append_cstr(&b, " actions=");
		for (size_t i = 0; i < o->nactions; i++) {
			if (i)
				pst_buf_append_byte(&b, '|');
			describe_action(&b, &o->actions[i]);
		}
	}
	if (o->nshadow > 0) {
		pst_buf_append_cstr(&b, " shadow=");
		for (size_t i = 0; i < o->nshadow; i++) {
			if (i)
				pst_buf_append_byte(&b, '|');
			pst_buf_printf(&b, "%s:", o->shadow[i].rule);
			describe_action(&b, &o->shadow[i]);
		}
	}
	if (o->score != 0)
		pst_buf_printf(&b, " score=%g", o->score);
	if (o->flags & ~RULES_F_STOPPED)
		pst_buf_printf(&b, " flags=%#x(%s)",
			       o->flags & ~RULES_F_STOPPED,
			       o->flag_rule ? o->flag_rule : "-");
	r = pst_arena_strdup(arena, b.data);
	pst_buf_free(&b);
	return r;
}

static const char *
run(struct pst_arena *arena, const char *rules, const struct fake *f,
    enum rules_stage stage, unsigned flags, struct fake_ctx *fc_r)
{
	struct rules_set *set = must_compile(arena, rules);
	struct fake_ctx fc = { f, { 0 } };
	struct rules_env env = { &fc, fake_get };
	struct rules_outcome o;
	const char *d;

	assert_int_equal(rules_eval(set, stage, &env, arena, flags, &o), 0);
	d = describe(arena, &o);
	if (fc_r != NULL)
		*fc_r = fc;
	rules_set_unref(&set);
	return d;
}

/* ---- one condition against one environment ---- */

struct cond_case {
	const char *name;
	const char *cond;
	struct fake env;
	bool want;
};

#define C(n, c, w, ...)                                                        \
	{                                                                      \
		n, c, { __VA_ARGS__ }, w                                       \
	}

static const struct cond_case cond_cases[] = {
	/* strings: is, !=, contains, matches, in; ASCII case ignored */
	C("string is", "subject is \"Hello\"", true, .subject = "hello"),
	C("string is not", "subject is \"Hello\"", false, .subject = "hell"),
	C("string == ", "subject == \"a\"", true, .subject = "A"),
	C("string !=", "subject != \"a\"", true, .subject = "b"),
	C("string is not (words)", "subject is not \"a\"", false,
	  .subject = "a"),
	C("contains", "body contains \"CASINO\"", true,
	  .body = "visit our casino now"),
	C("contains, absent", "body contains \"casino\"", false,
	  .body = "visit our cas ino"),
	C("not contains", "body not contains \"casino\"", true,
	  .body = "nothing here"),
	C("contains a variable", "subject contains envelope.from.local", true,
	  .subject = "Hi BOB, it is me", .from = "bob@example.org"),
	C("contains an empty string", "subject contains \"\"", true,
	  .subject = "x"),
	C("matches", "subject matches /^fr[e3]{2} money/i", true,
	  .subject = "FR33 MONEY inside"),
	C("matches is case-sensitive without i", "subject matches /money/",
	  false, .subject = "MONEY"),
	C("not matches", "subject not matches /money/", true,
	  .subject = "MONEY"),
	C("matches utf-8 caselessly", "subject matches /\xc3\xbc/i", true,
	  .subject = "\xc3\x9c"
		     "ber"),
	C("matches on invalid utf-8 still works", "body matches /abc/", true,
	  .body = "\xff\xfe abc \xc3"),
	C("in an inline list", "helo in { \"a\", \"B\", \"c\" }", true,
	  .helo = "b"),
	C("not in an inline list", "helo not in { \"a\", \"b\" }", true,
	  .helo = "x"),
	C("absent string reads as empty", "subject is \"\"", true),
	C("a variable on the right", "helo is envelope.from.domain", true,
	  .helo = "Example.org", .from = "a@example.org"),
	/* results */
	C("result word", "spf is fail", true, .spf = "fail"),
	C("result string", "spf is \"softfail\"", true, .spf = "softfail"),
	C("absent result reads as none", "dkim is none", true),
	C("result in a list", "dmarc in { \"fail\", \"permerror\" }", true,
	  .dmarc = "permerror"),
	C("result of a custom filter", "result \"clamav\" is \"infected\"",
	  true, .results = { { "clamav", "infected" } }),
	C("result.key form", "result.rspamd contains \"spam\"", true,
	  .results = { { "rspamd", "likely spam" } }),
	C("absent custom result", "result \"x\" is \"\"", true),
	/* numbers and sizes */
	C("number >", "message.size > 10M", true, .size = 10485761),
	C("size is 1024-based", "message.size > 10M", false, .size = 10485760),
	C("number >=", "message.size >= 10M", true, .size = 10485760),
	C("number <", "header.count \"Received\" < 2", true,
	  .headers = { { "Received", "a" } }),
	C("number <=", "score <= -1.5", true, .score = -1.5),
	C("number is", "attachment.count is 2", true, .att_count = 2),
	C("number in", "time.hour in { 22, 23, 0, 1 }", true, .hour = 23),
	C("number vs variable", "attachment.count > header.count \"X\"", true,
	  .att_count = 1),
	/* bools */
	C("bool alone", "client.tls", true, .tls = true),
	C("not bool", "not client.tls", true, .tls = false),
	C("bool is false", "client.tls is false", true),
	/* addresses */
	C("ip in cidr", "client.ip in 10.0.0.0/8", true, .ip = "10.1.2.3"),
	C("ip not in cidr", "client.ip in 10.0.0.0/8", false, .ip = "11.1.2.3"),
	C("ip in odd prefix", "client.ip in 192.0.2.64/27", true,
	  .ip = "192.0.2.95"),
	C("ip just outside odd prefix", "client.ip in 192.0.2.64/27", false,
	  .ip = "192.0.2.96"),
	C("v4-mapped address is IPv4", "client.ip in 192.0.2.0/24", true,
	  .ip = "::ffff:192.0.2.1"),
	C("ipv6 in list", "client.ip in { 10.0.0.0/8, 2001:db8::/32 }", true,
	  .ip = "2001:db8::25"),
	C("ip is", "client.ip is 2001:db8::1", true, .ip = "2001:DB8::1"),
	C("absent ip is in nothing", "client.ip in 0.0.0.0/0", false),
	C("absent ip: not in", "not client.ip in 10.0.0.0/8", true),
	/* lists: implicit any, any, all, empty */
	C("list is any", "envelope.rcpt.domain is \"b.org\"", true,
	  .rcpt = { "x@a.org", "y@b.org" }),
	C("any", "any envelope.rcpt.local is \"y\"", true,
	  .rcpt = { "x@a.org", "y@b.org" }),
	C("all true", "all envelope.rcpt.domain in { \"a.org\", \"b.org\" }",
	  true, .rcpt = { "x@a.org", "y@b.org" }),
	C("all false", "all envelope.rcpt.domain is \"a.org\"", false,
	  .rcpt = { "x@a.org", "y@b.org" }),
	C("all over nothing is true", "all attachment.extension is \"pdf\"",
	  true),
	C("any over nothing is false", "any attachment.extension is \"pdf\"",
	  false),
	C("any not", "any envelope.rcpt.domain not in { \"a.org\" }", true,
	  .rcpt = { "x@a.org", "y@b.org" }),
	C("all not", "all envelope.rcpt.domain not in { \"a.org\" }", false,
	  .rcpt = { "x@a.org", "y@b.org" }),
	C("not (list)", "not envelope.rcpt.domain is \"c.org\"", true,
	  .rcpt = { "x@a.org", "y@b.org" }),
	C("header values", "header \"X-Tag\" is \"two\"", true,
	  .headers = { { "X-Tag", "one" }, { "x-tag", "two" } }),
	C("attachments", "any attachment.filename matches /\\.exe$/i", true,
	  .att_filename = { "a.pdf", "INVOICE.EXE" }),
	C("attachment sizes", "any attachment.size > 5M", true,
	  .att_filename = { "a", "b" }, .att_size = { 1, 6e6 }),
	C("defects", "message.defects contains \"boundary\"", true,
	  .defects = { "MISSING_BOUNDARY" }),
	C("rawheaders", "any rawheaders matches /^X-Mailer: .*bulk/i", true,
	  .rawheaders = { "From: a", "X-Mailer: BulkSender 2" }),
	C("weekday", "time.weekday in { \"sat\", \"sun\" }", true,
	  .weekday = "sun"),
	/* logic */
	C("and", "subject is \"a\" and helo is \"b\"", true, .subject = "a",
	  .helo = "b"),
	C("and false", "subject is \"a\" and helo is \"b\"", false,
	  .subject = "a", .helo = "c"),
	C("or", "subject is \"a\" or helo is \"b\"", true, .helo = "b"),
	C("not binds tighter than and",
	  "not subject is \"a\" and helo is \"b\"", true, .subject = "x",
	  .helo = "b"),
	C("and binds tighter than or",
	  "subject is \"a\" or helo is \"b\" and body contains \"z\"", true,
	  .subject = "a"),
	C("parentheses",
	  "(subject is \"a\" or helo is \"b\") and body contains \"z\"", false,
	  .subject = "a"),
	C("double not", "not not subject is \"a\"", true, .subject = "a"),
};

static void
test_cond(void **state)
{
	const struct cond_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);
	char *rules =
		pst_arena_printf(arena, "rule r { when %s accept }\n", c->cond);
	enum rules_stage stage;
	struct rules_set *set = must_compile(arena, rules);
	struct rules_rule_info info;

	assert_int_equal(rules_set_rule(set, 0, &info), 0);
	stage = info.stage;
	rules_set_unref(&set);
	assert_string_equal(run(arena, rules, &c->env, stage, 0, NULL),
			    c->want ? "fired=r terminal=accept" : "fired=");
	pst_arena_free(&arena);
}

/* ---- whole outcomes ---- */

struct outcome_case {
	const char *name;
	const char *rules;
	enum rules_stage stage;
	struct fake env;
	const char *want;
};

#define O(n, r, s, w, ...)                                                     \
	{                                                                      \
		n, r, s, { __VA_ARGS__ }, w                                    \
	}

static const struct outcome_case outcome_cases[] = {
	O("a stage runs its rules only",
	  "rule c { when client.ip in 10.0.0.0/8 tag c }\n"
	  "rule m { when subject is \"x\" tag m }\n",
	  RULES_STAGE_CONNECT, "fired=c actions=tag [c]", .ip = "10.0.0.1",
	  .subject = "x"),
	O("the other stage",
	  "rule c { when client.ip in 10.0.0.0/8 tag c }\n"
	  "rule m { when subject is \"x\" tag m }\n",
	  RULES_STAGE_MESSAGE, "fired=m actions=tag [m]", .ip = "10.0.0.1",
	  .subject = "x"),
	O("the first terminal action decides and ends the stage",
	  "rule a { when subject is \"x\" tag first }\n"
	  "rule b { when subject is \"x\" reject 554 5.7.0 \"no\" tag "
	  "after }\n"
	  "rule c { when subject is \"x\" accept }\n",
	  RULES_STAGE_MESSAGE,
	  "fired=a,b terminal=reject 554 5.7.0 [no] actions=tag [first]|tag "
	  "[after]",
	  .subject = "x"),
	O("stop ends evaluation without deciding",
	  "rule a { when subject is \"x\" log \"a\" stop }\n"
	  "rule b { when subject is \"x\" reject }\n",
	  RULES_STAGE_MESSAGE, "fired=a actions=log [a]", .subject = "x"),
	O("defaults of reject and tempfail",
	  "rule a { when helo is \"x\" tempfail }\n", RULES_STAGE_HELO,
	  "fired=a terminal=tempfail 451 4.7.1 [Try again later]", .helo = "x"),
	O("reject with defaults", "rule a { when helo is \"x\" reject 554 }\n",
	  RULES_STAGE_HELO,
	  "fired=a terminal=reject 554 5.7.1 [Message rejected by policy]",
	  .helo = "x"),
	O("non-terminal actions accumulate in order",
	  "rule a { when subject is \"x\" add-header \"X-A\" \"1\" score +2 "
	  "}\n"
	  "rule b { when subject is \"x\" remove-header \"X-B\" tag t log "
	  "\"l\" score -0.5 }\n",
	  RULES_STAGE_MESSAGE,
	  "fired=a,b actions=add-header X-A [1]|score 2|remove-header "
	  "X-B|tag [t]|log [l]|score -0.5 score=1.5",
	  .subject = "x"),
	O("score seen by a later rule",
	  "rule loud { when subject matches /!!!/ score +3 }\n"
	  "rule spam { when score >= 5 quarantine \"spam\" }\n",
	  RULES_STAGE_MESSAGE,
	  "fired=loud,spam terminal=quarantine [spam] actions=score 3 "
	  "score=3",
	  .subject = "win!!!", .score = 2),
	O("score not reached",
	  "rule loud { when subject matches /!!!/ score +3 }\n"
	  "rule spam { when score >= 5 quarantine \"spam\" }\n",
	  RULES_STAGE_MESSAGE, "fired=loud actions=score 3 score=3",
	  .subject = "win!!!", .score = 1),
	O("tags seen by a later rule",
	  "rule a { when subject is \"x\" tag bulk }\n"
	  "rule b { when tags is \"bulk\" and tags is \"old\" discard }\n",
	  RULES_STAGE_MESSAGE, "fired=a,b terminal=discard actions=tag [bulk]",
	  .subject = "x", .tags = { "old" }),
	O("quarantine reason defaults to the rule name",
	  "rule held { when subject is \"x\" quarantine }\n",
	  RULES_STAGE_MESSAGE, "fired=held terminal=quarantine [held]",
	  .subject = "x"),
	O("shadow rule: would have, not applied",
	  "rule s shadow { when subject is \"x\" reject \"s\" tag t stop }\n"
	  "rule r { when subject is \"x\" tag real }\n",
	  RULES_STAGE_MESSAGE,
	  "fired=r actions=tag [real] shadow=s:reject 550 5.7.1 [s]|s:tag "
	  "[t]|s:stop",
	  .subject = "x"),
	O("shadow score is not counted",
	  "rule s shadow { when subject is \"x\" score +10 }\n"
	  "rule r { when score > 5 tag high }\n",
	  RULES_STAGE_MESSAGE, "fired= shadow=s:score 10", .subject = "x"),
	O("a file marked shadow",
	  "shadow;\nrule s { when helo is \"x\" reject }\n", RULES_STAGE_HELO,
	  "fired= shadow=s:reject 550 5.7.1 [Message rejected by policy]",
	  .helo = "x"),
	O("interpolation",
	  "rule a { when spf is fail reject 550 5.7.23 \"SPF failed for "
	  "{envelope.from.domain} from {client.ip} ({rule}) {{ok}}\" }\n",
	  RULES_STAGE_MAIL,
	  "fired=a terminal=reject 550 5.7.23 [SPF failed for example.org "
	  "from 192.0.2.7 (a) {ok}]",
	  .spf = "fail", .from = "x@example.org", .ip = "192.0.2.7"),
	O("interpolated lists, numbers, headers and results",
	  "rule a { when subject is \"x\" log \"{envelope.rcpt} "
	  "{message.size} {header.X-A} {result.k} {client.tls} {score}\" }\n",
	  RULES_STAGE_MESSAGE,
	  "fired=a actions=log [a@b, c@d 1234 v1, v2 rv false 0.5]",
	  .subject = "x", .rcpt = { "a@b", "c@d" }, .size = 1234,
	  .headers = { { "X-A", "v1" }, { "x-a", "v2" } },
	  .results = { { "k", "rv" } }, .score = 0.5),
	O("hostile values are sanitised for the SMTP line",
	  "rule a { when helo is envelope.from reject \"bad {helo}\" }\n",
	  RULES_STAGE_MAIL,
	  "fired=a terminal=reject 550 5.7.1 [bad x  250 ok???]",
	  .helo = "x\r\n250 ok\xc3\xa9\x01\xff",
	  .from = "x\r\n250 ok\xc3\xa9\x01\xff"),
	O("header values cannot fold or end the header",
	  "rule a { when subject is \"x\" add-header \"X-S\" \"[{body}]\" }\n",
	  RULES_STAGE_MESSAGE, "fired=a actions=add-header X-S [[a b   c]]",
	  .subject = "x", .body = "a\nb\r\n\tc"),
	O("an environment error is no match, and flagged",
	  "rule a { when body contains \"x\" tag t }\n"
	  "rule b { when subject is \"s\" tag u }\n",
	  RULES_STAGE_MESSAGE, "fired=b actions=tag [u] flags=0x4(a)",
	  .body = "x", .subject = "s", .fail_var = RULES_VAR_BODY + 1),
	O("rcpt stage per recipient",
	  "rule r { when envelope.rcpt.local is \"abuse\" tempfail 450 4.2.1 "
	  "\"full\" }\n",
	  RULES_STAGE_RCPT, "fired=r terminal=tempfail 450 4.2.1 [full]",
	  .rcpt = { "abuse@example.org" }),
	O("list contains",
	  "list words { \"viagra\", \"CASINO\" }\n"
	  "rule r { when body contains @words tag w }\n",
	  RULES_STAGE_MESSAGE, "fired=r actions=tag [w]",
	  .body = "best Casino in town"),
	O("list of regexes",
	  "list pats { /v[i1]agra/i, /^win/ }\n"
	  "rule r { when subject matches @pats tag w }\n",
	  RULES_STAGE_MESSAGE, "fired=r actions=tag [w]",
	  .subject = "cheap V1AGRA"),
	O("number list",
	  "list codes { 1, 2.5, 7 }\n"
	  "rule r { when score in @codes tag w }\n",
	  RULES_STAGE_MESSAGE, "fired=r actions=tag [w]", .score = 2.5),
};

static void
test_outcome(void **state)
{
	const struct outcome_case *c = *state;
	struct pst_arena *arena = pst_arena_new(0);

	assert_string_equal(run(arena, c->rules, &c->env, c->stage, 0, NULL),
			    c->want);
	pst_arena_free(&arena);
}

/* ---- single cases ---- */

static void
test_only_needed_vars_asked(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct fake f = { .ip = "10.0.0.1", .body = "b", .subject = "s" };
	struct fake_ctx fc;
	const char *rules = "rule c { when client.ip in 10.0.0.0/8 tag c }\n"
			    "rule m1 { when body contains \"b\" tag m }\n"
			    "rule m2 { when body contains \"x\" or subject is "
			    "\"s\" tag n }\n";

	(void)state;
	run(arena, rules, &f, RULES_STAGE_CONNECT, 0, &fc);
	assert_int_equal(fc.asked[RULES_VAR_CLIENT_IP], 1);
	assert_int_equal(fc.asked[RULES_VAR_BODY], 0);
	run(arena, rules, &f, RULES_STAGE_MESSAGE, 0, &fc);
	assert_int_equal(fc.asked[RULES_VAR_CLIENT_IP], 0);
	/* asked once although two rules read it */
	assert_int_equal(fc.asked[RULES_VAR_BODY], 1);
	assert_int_equal(fc.asked[RULES_VAR_SUBJECT], 1);
	pst_arena_free(&arena);
}

static void
test_text_bounded(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set = must_compile(
		arena, "rule a { when subject is \"x\" reject \"{body}\" }\n");
	char *body = malloc(100000);
	struct fake f = { .subject = "x" };
	struct fake_ctx fc = { &f, { 0 } };
	struct rules_env env = { &fc, fake_get };
	struct rules_outcome o;

	(void)state;
	memset(body, 'A', 99999);
	body[99999] = '\0';
	f.body = body;
	assert_int_equal(
		rules_eval(set, RULES_STAGE_MESSAGE, &env, arena, 0, &o), 0);
	assert_non_null(o.terminal);
	assert_int_equal(strlen(o.terminal->text), RULES_TEXT_MAX);
	free(body);
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

static void
test_explain(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set = must_compile(
		arena,
		"rule exe {\n when any attachment.filename matches /\\.exe$/i\n"
		" reject }\n"
		"rule spf_fail {\n when spf is fail and not client.ip in "
		"10.0.0.0/8\n reject }\n"
		"rule later { when spf is pass accept }\n"
		"rule rcpts { when all envelope.rcpt.domain is \"a.org\" tag x "
		"}\n");
	struct fake f = { .spf = "fail",
			  .ip = "192.0.2.1",
			  .att_filename = { "a.pdf", "b.EXE" } };
	struct fake_ctx fc = { &f, { 0 } };
	struct rules_env env = { &fc, fake_get };
	struct rules_outcome o;

	(void)state;
	assert_int_equal(rules_eval(set, RULES_STAGE_MAIL, &env, arena,
				    RULES_EVAL_EXPLAIN, &o),
			 0);
	assert_int_equal(o.ntrace, 2);
	assert_string_equal(o.trace[0].rule, "spf_fail");
	assert_int_equal(o.trace[0].line, 4);
	assert_true(o.trace[0].evaluated);
	assert_true(o.trace[0].matched);
	assert_string_equal(o.trace[0].why,
			    "spf is fail: true (\"fail\")\n"
			    "client.ip in 10.0.0.0/8: false (192.0.2.1)\n"
			    "not client.ip in 10.0.0.0/8: true");
	/* the rule after the one that decided was not looked at */
	assert_string_equal(o.trace[1].rule, "later");
	assert_false(o.trace[1].evaluated);
	assert_false(o.trace[1].matched);
	assert_string_equal(o.trace[1].why, "");

	assert_int_equal(rules_eval(set, RULES_STAGE_MESSAGE, &env, arena,
				    RULES_EVAL_EXPLAIN, &o),
			 0);
	assert_int_equal(o.ntrace, 1);
	assert_string_equal(o.trace[0].why,
			    "any attachment.filename matches /\\.exe$/i: true "
			    "(\"b.EXE\")");
	assert_int_equal(rules_eval(set, RULES_STAGE_RCPT, &env, arena,
				    RULES_EVAL_EXPLAIN, &o),
			 0);
	assert_string_equal(o.trace[0].why,
			    "all envelope.rcpt.domain is \"a.org\": true (no "
			    "values)");
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_regex_limit(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set = must_compile(
		arena, "rule slow { when body matches /(a+)+$/ tag slow }\n"
		       "rule next { when body contains \"aaa\" tag next }\n");
	char *body = malloc(100001);
	struct fake f = { 0 };
	struct fake_ctx fc = { &f, { 0 } };
	struct rules_env env = { &fc, fake_get };
	struct rules_outcome o;
	double t0;

	(void)state;
	memset(body, 'a', 100000);
	body[99999] = '!';
	body[100000] = '\0';
	f.body = body;
	t0 = now();
	assert_int_equal(
		rules_eval(set, RULES_STAGE_MESSAGE, &env, arena, 0, &o), 0);
	/* no match, flagged, quickly; the next rule still runs */
	assert_true(now() - t0 < 5.0);
	assert_string_equal(describe(arena, &o),
			    "fired=next actions=tag [next] flags=0x1(slow)");
	free(body);
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

static void
test_regex_limit_option(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_options opts;
	struct rules_set *set;
	struct rules_report rep;
	const char *text = "rule r { when body matches /(x|xx)+$/ tag t }\n";
	struct fake f = { .body = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!" };
	struct fake_ctx fc = { &f, { 0 } };
	struct rules_env env = { &fc, fake_get };
	struct rules_outcome o;

	(void)state;
	rules_options_default(&opts);
	opts.match_limit = 1000;
	assert_int_equal(rules_load_string("t.rules", text, strlen(text), &opts,
					   arena, &set, &rep),
			 0);
	assert_int_equal(
		rules_eval(set, RULES_STAGE_MESSAGE, &env, arena, 0, &o), 0);
	assert_int_equal(o.nfired, 0);
	assert_int_equal(o.flags, RULES_F_REGEX_LIMIT);
	assert_string_equal(o.flag_rule, "r");
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

/* ---- the prefilter ---- */

struct literal_case {
	const char *pattern;
	unsigned flags;
	const char *want; /* "" for none */
};

static const struct literal_case literal_cases[] = {
	{ "FREE MONEY", 0, "free money" },
	{ "casino", RULES_RE_I, "ino" },     /* s: see below */
	{ "\\.(exe|scr)$", RULES_RE_I, "" }, /* "." only: too short */
	{ "invoice[0-9]+\\.zip", 0, "invoice" },
	{ "a|bcdef", 0, "" }, /* alternation at the top */
	{ "(abc|def)ghij", 0, "ghij" },
	{ "abc?def", 0, "def" }, /* c is optional */
	{ "abcx*defg", 0, "defg" },
	{ "ab+cdef", 0, "bcdef" }, /* one b is required */
	{ "x{0,3}hello", 0, "hello" },
	{ "wor{2}ld", 0, "wor" }, /* then "rld": the first kept */
	{ "\\d+ dollars", 0, " dollars" },
	{ "c\\.i\\.a\\.l", 0, "c.i.a.l" },
	{ "skip kiss", RULES_RE_I, "ip " }, /* k and s break runs under i */
	{ "skip kiss", 0, "skip kiss" },
	{ "caf\xc3\xa9 au lait", 0, "caf\xc3\xa9 au lait" },
	{ "caf\xc3\xa9 au lait", RULES_RE_I, " au lait" },
	{ "(?i)hello", 0, "" }, /* option settings: give up */
	{ "hello world", RULES_RE_X, "" },
	{ "\\Qa.b\\E", 0, "" },
	{ "[/]abc[a-z]", 0, "abc" },
	{ "(?=foo)barbaz", 0, "barbaz" },
	{ "hello\\b world", 0, " world" },
	{ "tab\\there", 0, "tab\there" },
};

static void
test_literal(void **state)
{
	const struct literal_case *c = *state;
	char buf[256];
	size_t n = rules_regex_literal(c->pattern, strlen(c->pattern), c->flags,
				       buf);

	buf[n] = '\0';
	assert_string_equal(buf, c->want);
}

static void
test_ac(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_str lits[] = { PST_STR_LIT("he"), PST_STR_LIT("she"),
				  PST_STR_LIT("his"), PST_STR_LIT("hers"),
				  PST_STR_LIT("zzz") };
	struct rules_ac *ac = rules_ac_build(arena, lits, N_ELEMS(lits));
	uint8_t bits[1];

	(void)state;
	assert_non_null(ac);
	bits[0] = 0;
	rules_ac_scan(ac, "uSHErs", 6, bits);
	assert_int_equal(bits[0], 0x1 | 0x2 | 0x8); /* he, she, hers */
	bits[0] = 0;
	rules_ac_scan(ac, "this", 4, bits);
	assert_int_equal(bits[0], 0x4);
	bits[0] = 0;
	rules_ac_scan(ac, "zz z", 4, bits);
	assert_int_equal(bits[0], 0);
	pst_arena_free(&arena);
}

/* The same rules, with and without the prefilter, on many messages:
 * always the same rules fire. */
static void
test_prefilter_same_results(void **state)
{
	static const char *const words[] = {
		"Casino", "viagra",	     "free money",     "kiss",
		"SKIP",	  "lottery",	     "invoice123.zip", "Ünïcode",
		"winner", "\xe2\x84\xaaiss",
	};
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set = must_compile(
		arena,
		"rule a { when body matches /casino/i tag a }\n"
		"rule b { when body matches /free\\s+money/i tag b }\n"
		"rule c { when body matches /kiss/i tag c }\n"
		"rule d { when body matches /SKIP/ tag d }\n"
		"rule e { when body matches /invoice[0-9]+\\.zip/ tag e }\n"
		"rule f { when body matches /\xc3\x9c"
		"n\xc3\xaf"
		"code/i tag f }\n"
		"rule g { when body matches /lotter(y|ies)/ tag g }\n"
		"rule h { when subject matches /winner/i tag h }\n");
	unsigned seed = 1;

	(void)state;
	for (int round = 0; round < 300; round++) {
		struct pst_buf body;
		struct fake f = { 0 };
		struct fake_ctx fc = { &f, { 0 } };
		struct rules_env env = { &fc, fake_get };
		struct rules_outcome o1, o2;

		pst_buf_init(&body, 0);
		for (int w = 0; w < 6; w++) {
			seed = seed * 1103515245u + 12345u;
			pst_buf_printf(&body, "%s ",
				       words[(seed >> 16) % N_ELEMS(words)]);
		}
		f.body = body.data;
		f.subject = body.data;
		assert_int_equal(rules_eval(set, RULES_STAGE_MESSAGE, &env,
					    arena, 0, &o1),
				 0);
		assert_int_equal(rules_eval(set, RULES_STAGE_MESSAGE, &env,
					    arena, RULES_EVAL_NO_PREFILTER,
					    &o2),
				 0);
		assert_string_equal(describe(arena, &o1), describe(arena, &o2));
		pst_buf_free(&body);
		pst_arena_reset(arena);
	}
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

/* ---- list files ---- */

static void
test_list_file(void **state)
{
	char dir[] = "/tmp/test_rules_eval.XXXXXX", path[128], main_[128];
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	struct rules_report rep;
	const char *pats[1] = { main_ };
	FILE *fp;
	struct fake f = { .from = "bulk-a@Partner.example", .ip = "10.9.9.9" };
	struct fake_ctx fc = { &f, { 0 } };
	struct rules_env env = { &fc, fake_get };
	struct rules_outcome o;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/partners.txt", dir);
	fp = fopen(path, "w");
	fputs("# partners\npartner.example\nother.example # since 2023\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/pats.txt", dir);
	fp = fopen(path, "w");
	fputs("/^spam/i\n  # a comment\n/^bulk-/\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/nets.txt", dir);
	fp = fopen(path, "w");
	fputs("10.0.0.0/8\n", fp);
	fclose(fp);
	snprintf(main_, sizeof(main_), "%s/main.rules", dir);
	fp = fopen(main_, "w");
	fputs("list partners file \"partners.txt\"\n"
	      "list pats file \"pats.txt\"\n"
	      "list nets file \"nets.txt\"\n"
	      "rule p { when envelope.from.domain in @partners tag p }\n"
	      "rule q { when envelope.from.local matches @pats tag q }\n"
	      "rule n { when client.ip in @nets tag n }\n",
	      fp);
	fclose(fp);
	assert_int_equal(rules_load_files(pats, 1, NULL, arena, &set, &rep), 0);
	assert_int_equal(rules_set_list_count(set), 3);
	assert_int_equal(rules_eval(set, RULES_STAGE_MAIL, &env, arena, 0, &o),
			 0);
	assert_string_equal(describe(arena, &o),
			    "fired=p,q actions=tag [p]|tag [q]");
	assert_int_equal(
		rules_eval(set, RULES_STAGE_CONNECT, &env, arena, 0, &o), 0);
	assert_string_equal(describe(arena, &o), "fired=n actions=tag [n]");
	rules_set_unref(&set);
	pst_arena_free(&arena);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* ---- contrib/rules/default.rules does what its comments say ---- */

struct default_case {
	const char *name;
	struct fake env;
	const char *want;
};

#define D(n, w, ...)                                                           \
	{                                                                      \
		n, { __VA_ARGS__ }, w                                          \
	}

static const struct default_case default_cases[] = {
	D("default: a clean message", "fired=", .ip = "192.0.2.1",
	  .spf = "pass", .dkim = "pass", .size = 5000),
	D("default: an executable",
	  "fired=dangerous_attachment terminal=reject 550 5.7.1 [Attachments "
	  "of this type are not accepted]",
	  .att_ext = { "pdf", "EXE" }),
	D("default: a disguised executable",
	  "fired=disguised_executable terminal=reject 550 5.7.1 [Executable "
	  "content is not accepted]",
	  .att_type = { "application/pdf" }, .att_ext = { "pdf" },
	  .att_sniffed = { "application/x-dosexec" }),
	D("default: SPF fails, no DKIM",
	  "fired=spf_fail_without_dkim terminal=reject 550 5.7.23 [SPF check "
	  "failed for example.com]",
	  .ip = "192.0.2.1", .spf = "fail", .from = "a@example.com"),
	D("default: SPF fails, DKIM passes", "fired=", .ip = "192.0.2.1",
	  .spf = "fail", .dkim = "pass", .from = "a@example.com"),
	D("default: SPF fails from a trusted network",
	  "fired=", .ip = "127.0.0.1", .spf = "fail", .from = "a@example.com"),
	D("default: DMARC reject",
	  "fired=dmarc_reject terminal=reject 550 5.7.1 [Rejected by the "
	  "DMARC policy of the sender's domain]",
	  .ip = "192.0.2.1", .dmarc = "fail", .policy = "reject",
	  .results = { { "dmarc.disposition", "reject" } }),
	D("default: DMARC fails, the disposition says none",
	  "fired=", .ip = "192.0.2.1", .dmarc = "fail", .policy = "reject",
	  .results = { { "dmarc.disposition", "none" } }),
	D("default: DMARC quarantine",
	  "fired=dmarc_quarantine terminal=quarantine [DMARC policy "
	  "quarantine]",
	  .ip = "192.0.2.1", .dmarc = "fail", .policy = "quarantine",
	  .results = { { "dmarc.disposition", "quarantine" } }),
	D("default: oversized",
	  "fired=oversized terminal=reject 552 5.3.4 [Message too big]",
	  .size = 60.0 * 1024 * 1024),
	D("default: ambiguous MIME",
	  "fired=ambiguous_mime terminal=reject 554 5.6.0 [Malformed MIME "
	  "structure]",
	  .defects = { "qp_long_line", "ambiguous_boundary" }),
	D("default: a lesser MIME defect",
	  "fired=malformed_mime actions=score 1|tag [malformed-mime] score=1",
	  .defects = { "qp_long_line" }),
	D("default: a score over the threshold",
	  "fired=malformed_mime,spam_score terminal=quarantine [spam score 6] "
	  "actions=score 1|tag [malformed-mime]|add-header X-Spam-Flag "
	  "[YES]|add-header X-Spam-Score [6] score=1",
	  .score = 5, .defects = { "base64_garbage" }),
};

static void
test_default(void **state)
{
	const struct default_case *c = *state;
	const char *data = getenv("POSTERN_TEST_DATA");
	struct pst_arena *arena = pst_arena_new(0);
	struct rules_set *set;
	struct rules_report rep;
	struct fake_ctx fc = { &c->env, { 0 } };
	struct rules_env env = { &fc, fake_get };
	struct rules_outcome o;
	char path[512];
	const char *pats[1] = { path };

	if (data == NULL)
		data = "tests/data";
	snprintf(path, sizeof(path), "%s/../../contrib/rules/default.rules",
		 data);
	if (rules_load_files(pats, 1, NULL, arena, &set, &rep) < 0)
		fail_msg("default.rules:\n%s", rep.text);
	assert_string_equal(rep.text, "");
	/* everything in it waits for the message */
	assert_int_equal(rules_set_stage_count(set, RULES_STAGE_MESSAGE),
			 rules_set_count(set));
	assert_int_equal(
		rules_eval(set, RULES_STAGE_MESSAGE, &env, arena, 0, &o), 0);
	assert_string_equal(describe(arena, &o), c->want);
	rules_set_unref(&set);
	pst_arena_free(&arena);
}

/* ---- a shared set, swapped while threads evaluate it ---- */

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rules_set *current;

static struct rules_set *
current_get(void)
{
	struct rules_set *s;

	pthread_mutex_lock(&current_lock);
	s = rules_set_ref(current);
	pthread_mutex_unlock(&current_lock);
	return s;
}

static void *
worker(void *arg)
{
	struct fake f = { .subject = "win money", .body = "casino" };
	struct fake_ctx fc = { &f, { 0 } };
	struct rules_env env = { &fc, fake_get };
	struct pst_arena *arena = pst_arena_new(0);
	long bad = 0;

	(void)arg;
	for (int i = 0; i < 2000; i++) {
		struct rules_set *s = current_get();
		struct rules_outcome o;

		if (rules_eval(s, RULES_STAGE_MESSAGE, &env, arena, 0, &o) <
			    0 ||
		    o.nfired != 1)
			bad++;
		rules_set_unref(&s);
		pst_arena_reset(arena);
	}
	pst_arena_free(&arena);
	return (void *)bad;
}

static void
test_threads_and_reload(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	const char *texts[2] = {
		"rule a { when subject matches /money/ tag a }\n",
		"rule b { when body contains \"casino\" tag b }\n",
	};
	pthread_t t[4];
	struct rules_report rep;

	(void)state;
	current = must_compile(arena, texts[0]);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
	for (int i = 0; i < 200; i++) {
		struct rules_set *next, *old;
		const char *text = texts[i % 2];

		/* a reload with an error leaves the current set alone */
		assert_int_equal(rules_load_string("bad.rules", "rule {", 6,
						   NULL, arena, &next, &rep),
				 -1);
		assert_null(next);
		assert_int_equal(rules_load_string("t.rules", text,
						   strlen(text), NULL, arena,
						   &next, &rep),
				 0);
		pthread_mutex_lock(&current_lock);
		old = current;
		current = next;
		pthread_mutex_unlock(&current_lock);
		rules_set_unref(&old);
		pst_arena_reset(arena);
	}
	for (int i = 0; i < 4; i++) {
		void *bad;

		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((long)bad, 0);
	}
	rules_set_unref(&current);
	pst_arena_free(&arena);
}

static void
test_values(void **state)
{
	struct rules_value v;
	struct rules_ip ip;
	struct sockaddr_in sin;
	char buf[64];

	(void)state;
	assert_int_equal(rules_ip_parse("::ffff:1.2.3.4", 14, &ip), 0);
	assert_int_equal(ip.family, AF_INET);
	assert_string_equal(rules_ip_str(&ip, buf, sizeof(buf)), "1.2.3.4");
	assert_int_equal(rules_ip_parse("1.2.3", 5, &ip), -1);
	assert_int_equal(rules_ip_parse("", 0, &ip), -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0xc0000207);
	assert_int_equal(rules_value_sockaddr(&v, (struct sockaddr *)&sin), 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(rules_ip_str(&v.one.ip, buf, sizeof(buf)),
			    "192.0.2.7");
	sin.sin_family = AF_UNIX;
	assert_int_equal(rules_value_sockaddr(&v, (struct sockaddr *)&sin), -1);
	assert_int_equal(v.n, 0);
	rules_value_cstr(&v, NULL);
	assert_int_equal(v.n, 0);
	assert_string_equal(rules_var_name(RULES_VAR_ATT_SNIFFED_TYPE),
			    "attachment.sniffed_type");
	assert_int_equal(rules_var_type(RULES_VAR_CLIENT_IP), RULES_T_IP);
	assert_true(rules_var_is_list(RULES_VAR_RCPT));
	assert_int_equal(rules_var_stage(RULES_VAR_CLIENT_TLS),
			 RULES_STAGE_MAIL);
	assert_true(rules_action_is_terminal(RULES_ACT_QUARANTINE));
	assert_false(rules_action_is_terminal(RULES_ACT_STOP));
}

#define SINGLE_TESTS 10

int
main(void)
{
	static struct CMUnitTest tests[N_ELEMS(cond_cases) +
				       N_ELEMS(outcome_cases) +
				       N_ELEMS(literal_cases) +
				       N_ELEMS(default_cases) + SINGLE_TESTS];
	static const struct CMUnitTest singles[SINGLE_TESTS] = {
		cmocka_unit_test(test_only_needed_vars_asked),
		cmocka_unit_test(test_text_bounded),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_regex_limit),
		cmocka_unit_test(test_regex_limit_option),
		cmocka_unit_test(test_ac),
		cmocka_unit_test(test_prefilter_same_results),
		cmocka_unit_test(test_list_file),
		cmocka_unit_test(test_threads_and_reload),
		cmocka_unit_test(test_values),
	};
	size_t n = 0;

#define ADD_ROWS(table, fn, label)                                             \
	for (size_t i = 0; i < N_ELEMS(table); i++)                            \
	tests[n++] = (struct CMUnitTest){ .name = label,                       \
					  .test_func = fn,                     \
					  .initial_state = (void *)&table[i] }
	ADD_ROWS(cond_cases, test_cond, cond_cases[i].name);
	ADD_ROWS(outcome_cases, test_outcome, outcome_cases[i].name);
	ADD_ROWS(literal_cases, test_literal, literal_cases[i].pattern);
	ADD_ROWS(default_cases, test_default, default_cases[i].name);
	for (size_t i = 0; i < SINGLE_TESTS; i++)
		tests[n++] = singles[i];
	if (n != N_ELEMS(tests))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
