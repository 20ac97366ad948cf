/*
 * rules_bench.c - the rules engine on a 100 KB message: 1,000 regex rules
 * against its headers and body, messages/s and MB/s, against a baseline
 * with no rules measured in the same run; and the same 1,000 rules with
 * the literal prefilter turned off (PCRE2 alone, JIT), to show what the
 * prefilter buys.
 *
 * Built and run by bench/rules_bench.sh against a build's libraries.
 * Every input is generated here from a fixed seed before any clock
 * starts: a vocabulary of made-up words, a message of ~2 KB of headers and
 * ~98 KB of text, and rules in the shapes spam rules have (word pairs
 * with gaps, alternations, character classes, anchors, case-insensitive
 * or not).  1 in 50 rules matches a phrase planted in the body, so the
 * matching path is measured too, and 1 in 100 has no literal the
 * prefilter could use (it runs over its whole text every time).  Each
 * figure is the best of BENCH_ROUNDS rounds of at least BENCH_SECONDS
 * seconds.  One thread.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "rules.h"
#include "rules_int.h"

#define MSG_BYTES (100 * 1024)
#define NRULES 1000
#define MB (1000.0 * 1000.0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned
below(unsigned n)
{
	return (unsigned)(rng() % n);
}

/* ---- the input ---- */

#define NWORDS 4000
static char words[NWORDS][16];

/* Letters with English frequencies, so text looks like text to a regex
 * engine (first-character scans hit as often as in mail). */
static char
letter(void)
{
	static const char freq[] = "eeeeeeeeeeeetttttttttaaaaaaaaooooooo"
				   "iiiiiiinnnnnnnsssssshhhhhhrrrrrrdddd"
				   "lllluuucccmmmwwffggyyppbbvkjxqz";

	return freq[below(sizeof(freq) - 1)];
}

/* Message words are 2-8 letters; rule words 7-10, from the second half
 * of the vocabulary, so a rule's literal is rarely in the message by
 * chance (as "viagra" is rarely in a letter about a meeting). */
static void
make_words(void)
{
	for (unsigned i = 0; i < NWORDS; i++) {
		unsigned n = i < NWORDS / 2 ? 2 + below(7) : 7 + below(4);

		for (unsigned k = 0; k < n; k++)
			words[i][k] = letter();
		words[i][n] = '\0';
	}
}

/* The message's words come from the first half of the vocabulary; rules
 * that should not match use the second half. */
static const char *
msg_word(void)
{
	return words[below(NWORDS / 2)];
}

static const char *
other_word(void)
{
	return words[NWORDS / 2 + below(NWORDS / 2)];
}

/* Phrases planted in the body, and the rules that look for them. */
#define HIT_EVERY 50
#define NO_LITERAL_EVERY 100
#define MAX_HITS (10000 / HIT_EVERY + 1)
static const char *hits[MAX_HITS][2];
static size_t nhits;

struct message {
	struct pst_buf body;
	struct pst_str hdr_names[20], hdr_values[20], raw[20];
	size_t nhdr;
	size_t bytes; /* headers + body */
};

static void
make_message(struct message *m)
{
	static const char *const names[] = {
		"Received",
		"Received",
		"Received",
		"From",
		"To",
		"Subject",
		"Date",
		"Message-ID",
		"MIME-Version",
		"Content-Type",
		"X-Mailer",
		"Reply-To",
		"List-Unsubscribe",
		"DKIM-Signature",
		"Authentication-Results",
		"X-Campaign",
		"Return-Path",
		"Received-SPF",
		"X-Originating-IP",
		"Thread-Topic",
	};
	size_t hbytes = 0;

	pst_buf_init(&m->body, 0);
	m->nhdr = sizeof(names) / sizeof(names[0]);
	for (size_t i = 0; i < m->nhdr; i++) {
		struct pst_buf v, r;

		pst_buf_init(&v, 0);
		pst_buf_init(&r, 0);
		for (unsigned k = 0; k < (i < 3 ? 14u : 6u); k++)
			pst_buf_printf(&v, "%s%s", k ? " " : "", msg_word());
		pst_buf_printf(&r, "%s: %s", names[i], v.data);
		m->hdr_names[i] = pst_str_from_cstr(names[i]);
		m->hdr_values[i].p = v.data;
		m->hdr_values[i].len = v.len;
		m->raw[i].p = r.data;
		m->raw[i].len = r.len;
		hbytes += r.len + 2;
	}
	for (size_t line = 0; hbytes + m->body.len < MSG_BYTES; line++) {
		unsigned n = 8 + below(10);

		/* sentences: a capital, numbers now and then, commas */
		for (unsigned k = 0; k < n; k++) {
			const char *w = msg_word();

			if (k > 0)
				pst_buf_append_cstr(&m->body,
						    below(8) ? " " : ", ");
			if (k == 0)
				pst_buf_printf(&m->body, "%c%s",
					       w[0] - 'a' + 'A', w + 1);
			else if (below(12) == 0)
				pst_buf_printf(&m->body, "%u", below(10000));
			else
				pst_buf_append_cstr(&m->body, w);
		}
		if (line % 7 == 3 && nhits > 0) {
			size_t h = below((unsigned)nhits);

			pst_buf_printf(&m->body, " %s %s", hits[h][0],
				       hits[h][1]);
		}
		pst_buf_append_cstr(&m->body, ".\r\n");
	}
	m->bytes = hbytes + m->body.len;
}

/* ---- the rules ---- */

/* Rules without a literal: the shapes such spam rules have (numbers,
 * shouting, prices), written case-sensitively as they usually are. */
static void
no_literal(struct pst_buf *out, size_t i)
{
	switch (i / NO_LITERAL_EVERY % 4) {
	case 0:
		pst_buf_append_cstr(out, "\\b[0-9]{3}[-. ][0-9]{3}[-. ]"
					 "[0-9]{4}\\b");
		break;
	case 1:
		pst_buf_append_cstr(out, "[A-Z]{12,}");
		break;
	case 2:
		pst_buf_printf(out, "\\$[0-9]+(\\.[0-9]{2})? ?(USD|EUR%u)",
			       below(100));
		break;
	default:
		pst_buf_printf(out, "[A-Z]{5}[0-9]{4}[a-z]{%u}", 3 + below(4));
		break;
	}
}

static void
make_rules(struct pst_buf *out, size_t nrules, bool literal_less)
{
	static const char *const targets[] = {
		"body",		  "body", "body", "subject", "header \"From\"",
		"any rawheaders",
	};

	size_t h = 0;

	for (size_t i = 0; i < nrules; i++) {
		bool hit = i % HIT_EVERY == 7 && h < nhits;
		const char *a = hit ? hits[h][0] : other_word();
		const char *b = hit ? hits[h][1] : other_word();
		const char *target = hit ? "body" : targets[below(6)];
		const char *flags = below(3) ? "i" : "";
		unsigned shape = literal_less && i % NO_LITERAL_EVERY == 3
					 ? 5
					 : below(5);

		if (hit) {
			shape = 0;
			h++;
		}
		pst_buf_printf(out, "rule r%zu { when %s matches /", i, target);
		switch (shape) {
		case 0: /* two words, any blanks */
			pst_buf_printf(out, "\\b%s\\s+%s\\b", a, b);
			break;
		case 1: /* a word, a short gap, a word */
			pst_buf_printf(out, "%s[^a-z]{0,3}%s", a, b);
			break;
		case 2: /* an alternation, then a word */
			pst_buf_printf(out, "(?:%s|%s) %s", a, b, other_word());
			break;
		case 3: /* digits spelled with look-alikes */
			pst_buf_printf(out, "%s[0o]%s", a, b);
			break;
		case 4: /* anchored at a line start */
			pst_buf_printf(out, "^%s %s", a, b);
			flags = "im";
			break;
		default: /* no literal at all: always runs */
			no_literal(out, i);
			flags = "";
			break;
		}
		pst_buf_printf(out, "/%s score +0.1 }\n", flags);
	}
}

/* ---- the environment ---- */

static const struct message *msg;

static int
bench_get(void *ctx, enum rules_var var, const char *arg,
	  struct pst_arena *arena, struct rules_value *out)
{
	(void)ctx;
	switch (var) {
	case RULES_VAR_BODY:
	case RULES_VAR_RAWBODY:
		rules_value_str(out, msg->body.data, msg->body.len);
		break;
	case RULES_VAR_SUBJECT:
		rules_value_str(out, msg->hdr_values[5].p,
				msg->hdr_values[5].len);
		break;
	case RULES_VAR_RAWHEADERS:
		rules_value_strs(out, msg->raw, msg->nhdr);
		break;
	case RULES_VAR_HEADER: {
		struct pst_str *v =
			pst_arena_calloc(arena, msg->nhdr, sizeof(*v));
		size_t n = 0;

		if (v == NULL)
			return -1;
		for (size_t i = 0; i < msg->nhdr; i++) {
			if (pst_str_caseeq_cstr(msg->hdr_names[i], arg))
				v[n++] = msg->hdr_values[i];
		}
		rules_value_strs(out, v, n);
		break;
	}
	case RULES_VAR_SCORE:
		rules_value_num(out, 0);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- measuring ---- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct figure {
	double msgs_per_s;
	size_t fired;
	unsigned flags;
};

static struct figure
measure(const struct rules_set *set, unsigned eval_flags, unsigned rounds,
	double seconds)
{
	struct rules_env env = { NULL, bench_get };
	struct pst_arena *arena = pst_arena_new(256 * 1024);
	struct figure best = { 0, 0, 0 };

	for (unsigned r = 0; r < rounds; r++) {
		double t0 = now(), t;
		unsigned long n = 0;
		struct rules_outcome o;

		do {
			if (rules_eval(set, RULES_STAGE_MESSAGE, &env, arena,
				       eval_flags, &o) < 0) {
				fprintf(stderr, "rules_bench: out of memory\n");
				exit(1);
			}
			best.fired = o.nfired;
			best.flags = o.flags;
			pst_arena_reset(arena);
			n++;
			t = now() - t0;
		} while (t < seconds);
		if ((double)n / t > best.msgs_per_s)
			best.msgs_per_s = (double)n / t;
	}
	pst_arena_free(&arena);
	return best;
}

static struct rules_set *
compile(const char *text, size_t len, struct pst_arena *arena)
{
	struct rules_set *set;
	struct rules_report rep;

	if (rules_load_string("bench.rules", text, len, NULL, arena, &set,
			      &rep) < 0) {
		fprintf(stderr, "rules_bench: the rules do not compile:\n%s",
			rep.text);
		exit(1);
	}
	return set;
}

/* How many regexes of the set would run on this message. */
static size_t
regexes_run(const struct rules_set *set, size_t *no_literal_r)
{
	uint8_t *bits = calloc(set->nlits / 8 + 1, 1);
	size_t run = 0, none = 0;

	if (set->ac != NULL) {
		rules_ac_scan(set->ac, msg->body.data, msg->body.len, bits);
		for (size_t i = 0; i < msg->nhdr; i++)
			rules_ac_scan(set->ac, msg->raw[i].p, msg->raw[i].len,
				      bits);
	}
	for (const struct rules_regex *re = set->regexes; re != NULL;
	     re = re->next) {
		if (re->lit_id < 0)
			none++;
		if (re->lit_id < 0 ||
		    (bits[re->lit_id / 8] & (1u << (re->lit_id % 8))))
			run++;
	}
	free(bits);
	*no_literal_r = none;
	return run;
}

int
main(void)
{
	unsigned rounds = getenv("BENCH_ROUNDS")
				  ? (unsigned)atoi(getenv("BENCH_ROUNDS"))
				  : 3;
	double seconds =
		getenv("BENCH_SECONDS") ? atof(getenv("BENCH_SECONDS")) : 1.0;
	size_t nrules = getenv("RULES_BENCH_RULES")
				? (size_t)atol(getenv("RULES_BENCH_RULES"))
				: NRULES;
	struct pst_arena *arena = pst_arena_new(0);
	struct message m;
	struct pst_buf text, text2;
	struct rules_set *none, *set, *lit;
	struct figure base, pcre, pre, pre_lit;
	size_t run, no_lit;
	double t0, compile_s;

	if (rounds == 0)
		rounds = 1;
	make_words();
	for (size_t i = 0; i < nrules / HIT_EVERY && i < MAX_HITS; i++) {
		hits[i][0] = msg_word();
		hits[i][1] = msg_word();
		nhits++;
	}
	make_message(&m);
	msg = &m;
	pst_buf_init(&text, 0);
	pst_buf_init(&text2, 0);
	make_rules(&text, nrules, true);
	make_rules(&text2, nrules, false);

	none = compile("", 0, arena);
	t0 = now();
	set = compile(text.data, text.len, arena);
	compile_s = now() - t0;
	lit = compile(text2.data, text2.len, arena);
	run = regexes_run(set, &no_lit);

	printf("message: %zu bytes (%zu of headers, %zu of body), %zu header "
	       "fields\n",
	       m.bytes, m.bytes - m.body.len, m.body.len, m.nhdr);
	printf("rules: %zu regex rules, compiled in %.0f ms; prefilter: %zu "
	       "literals, %zu automaton states; %zu regexes without a "
	       "literal\n",
	       rules_set_count(set), compile_s * 1000, set->nlits,
	       rules_ac_states(set->ac), no_lit);
	printf("regexes that run on this message with the prefilter: %zu of "
	       "%zu\n\n",
	       run, rules_set_count(set));

	base = measure(none, 0, rounds, seconds);
	pcre = measure(set, RULES_EVAL_NO_PREFILTER, rounds, seconds);
	pre = measure(set, 0, rounds, seconds);
	pre_lit = measure(lit, 0, rounds, seconds);
	if (pcre.fired != pre.fired) {
		fprintf(stderr,
			"rules_bench: the prefilter changed the result "
			"(%zu rules fired without it, %zu with)\n",
			pcre.fired, pre.fired);
		return 1;
	}

	printf("%-34s %12s %10s %8s\n", "", "messages/s", "MB/s", "fired");
	printf("%-34s %12.0f %10.1f %8zu\n", "no rules (baseline)",
	       base.msgs_per_s, base.msgs_per_s * (double)m.bytes / MB,
	       base.fired);
	printf("%-34s %12.0f %10.1f %8zu\n", "1000 rules, PCRE2 JIT alone",
	       pcre.msgs_per_s, pcre.msgs_per_s * (double)m.bytes / MB,
	       pcre.fired);
	printf("%-34s %12.0f %10.1f %8zu\n", "1000 rules, literal prefilter",
	       pre.msgs_per_s, pre.msgs_per_s * (double)m.bytes / MB,
	       pre.fired);
	printf("%-34s %12.0f %10.1f %8zu\n", "  the same, every rule a literal",
	       pre_lit.msgs_per_s, pre_lit.msgs_per_s * (double)m.bytes / MB,
	       pre_lit.fired);
	if ((pcre.flags | pre.flags) & RULES_F_REGEX_LIMIT)
		printf("note: a regex hit its match limit\n");
	printf("\nSUMMARY rules_bench: %zu rules on a %zu-byte message: "
	       "prefilter %.1f MB/s (%.0f msg/s; %.1f MB/s when every rule "
	       "has a literal), PCRE2 alone %.1f MB/s (%.0f msg/s), no rules "
	       "%.0f msg/s; target 100 MB/s: %s\n",
	       rules_set_count(set), m.bytes,
	       pre.msgs_per_s * (double)m.bytes / MB, pre.msgs_per_s,
	       pre_lit.msgs_per_s * (double)m.bytes / MB,
	       pcre.msgs_per_s * (double)m.bytes / MB, pcre.msgs_per_s,
	       base.msgs_per_s,
	       pre.msgs_per_s * (double)m.bytes / MB >= 100 ? "met"
							    : "NOT met");

	rules_set_unref(&set);
	rules_set_unref(&lit);
	rules_set_unref(&none);
	pst_buf_free(&text);
	pst_buf_free(&text2);
	pst_buf_free(&m.body);
	for (size_t i = 0; i < m.nhdr; i++) {
		free((void *)m.hdr_values[i].p);
		free((void *)m.raw[i].p);
	}
	pst_arena_free(&arena);
	return 0;
}
