/*
 * postern_scan.c - "postern scan": what would the gateway do with this
 * message?  Runs the configured filter chain offline, stage by stage as
 * a session would, and prints what it decided.
 *
 *   postern scan [-c CONF] [--ip A] [--helo H] [--from S] [--rcpt R]...
 *                [--json] FILE.eml
 *
 * The message is read into a spool with every bare LF made CRLF (mail on
 * disk usually has LF lines; the gateway hands filters CRLF).  Stages run
 * synchronously on this thread: CONNECT, HELO, MAIL, RCPT for each
 * recipient, then the gateway's own checks at end of data (size, MIME
 * limits), then MESSAGE.  As in the gateway, a reject or tempfail ends
 * the session there (at RCPT: refuses that recipient), while discard and
 * quarantine are remembered and decide the message's fate at the end.
 *
 * Defaults: --ip 127.0.0.1, --helo localhost, --from the Return-Path or
 * From address, --rcpt the To addresses; the output says which were
 * taken from defaults.
 *
 * Text output escapes control and bidirectional-formatting characters.
 * The JSON form (--json) is one object:
 *
 *   {"file", "size", "envelope": {"ip", "helo", "from", "rcpts",
 *    "defaulted": [...]}, "stages": [OUTCOME + "stage", "arg"],
 *    "verdict": OUTCOME, "results": {key: value}, "score", "tags",
 *    "header_edits": [{"op", "name", "value", "index"}], "rcpts"}
 *
 * OUTCOME is {"verdict", "code", "enhanced", "text", "filter",
 * "quarantine", "failed"}; absent values are null.
 *
 * Exit: 0 accept or continue (the message would be relayed); 1 reject,
 * tempfail, discard or quarantine, or the message could not be read;
 * 2 bad usage or configuration.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cli_out.h"
#include "filter.h"
#include "rules.h"
#include "mime.h"
#include "postern.h"
#include "postern/filter.h"
#include "settings.h"
#include "spool.h"
#include "utf8.h"

#define DEFAULT_CONF "/etc/postern/postern.conf"
#define CHUNK 4096
/* Header bytes read for the default sender and recipients. */
#define HEAD_MAX (256u * 1024)
#define MAX_RCPT_ARGS 1000

static int
usage(void)
{
	fputs("usage: postern scan [-c CONF] [--ip A] [--helo H] [--from S] "
	      "[--rcpt R]...\n"
	      "                    [--json] [--explain] FILE.eml\n"
	      "  FILE \"-\" reads standard input; CONF defaults to " DEFAULT_CONF
	      "\n",
	      stderr);
	return 2;
}

/* ---- what the scan collects ---- */

struct scan_stage {
	const char *name; /* "connect", "rcpt", "data" (the gateway's own
			   * end-of-data checks), ... */
	const char *arg;  /* the recipient at rcpt, the name at helo */
	struct filter_outcome out;
};

/* One rule as --explain shows it. */
struct scan_trace {
	const char *stage, *rule, *file, *why;
	unsigned line;
	bool shadow, evaluated, matched;
};

struct scan {
	const char *conf, *file;
	bool json;
	bool explain; /* list every rule, whether it matched and why */
	const char *ip, *helo, *from;
	const char **rcpts;
	size_t nrcpt;
	bool ip_default, helo_default, from_default, rcpt_default;
	const char *from_source, *rcpt_source; /* header they came from */

	struct postern_settings *st;
	struct pst_arena *arena;
	struct pst_spool *spool;
	struct filter_ctx *ctx;

	struct scan_stage stages[8 + MAX_RCPT_ARGS];
	size_t nstages;
	struct filter_outcome final;
	size_t accepted;	   /* recipients the chain let through */
	bool in_txn;		   /* filter_ctx_txn_begin was called */
	struct scan_trace *traces; /* --explain, on arena */
	size_t ntraces, traces_cap;
};

static const char *
verdict_name(int v)
{
	static const char *const names[] = {
		[PF_CONTINUE] = "continue", [PF_ACCEPT] = "accept",
		[PF_REJECT] = "reject",	    [PF_TEMPFAIL] = "tempfail",
		[PF_DISCARD] = "discard",   [PF_QUARANTINE] = "quarantine",
		[PF_ERROR] = "error",
	};

	if (v < 0 || (size_t)v >= sizeof(names) / sizeof(names[0]) ||
	    names[v] == NULL)
		return "unknown";
	return names[v];
}

static bool
refused(const struct filter_outcome *out)
{
	return out->verdict == PF_REJECT || out->verdict == PF_TEMPFAIL;
}

/* ---- output helpers ---- */

/* ---- reading the message ---- */

/* Append data to the spool with bare LF made CRLF; *cr carries a CR at
 * the end of one chunk over to the next. */
static int
spool_crlf(struct pst_spool *spool, const char *data, size_t len, bool *cr,
	   const char **error_r)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		bool prev_cr = i > 0 ? data[i - 1] == '\r' : *cr;

		if (data[i] != '\n' || prev_cr)
			continue;
		if (pst_spool_write(spool, data + start, i - start, error_r) <
			    0 ||
		    pst_spool_write(spool, "\r", 1, error_r) < 0)
			return -1;
		start = i;
	}
	if (len > 0)
		*cr = data[len - 1] == '\r';
	return pst_spool_write(spool, data + start, len - start, error_r);
}

static int
scan_read(struct scan *sc)
{
	const char *dir = getenv("TMPDIR"), *error = NULL;
	FILE *in = strcmp(sc->file, "-") == 0 ? stdin : fopen(sc->file, "rb");
	char buf[CHUNK];
	bool cr = false;
	size_t n;
	int rc = 0;

	if (in == NULL) {
		fprintf(stderr, "postern scan: %s: %s\n", sc->file,
			strerror(errno));
		return -1;
	}
	sc->spool = pst_spool_new(sc->st->smtp.spool_memory,
				  dir != NULL && *dir ? dir : "/tmp");
	if (sc->spool == NULL) {
		error = "out of memory";
		rc = -1;
	}
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		rc = spool_crlf(sc->spool, buf, n, &cr, &error);
	if (rc == 0 && ferror(in)) {
		error = strerror(errno);
		rc = -1;
	}
	if (rc == 0)
		rc = pst_spool_flush(sc->spool, &error);
	if (in != stdin)
		fclose(in);
	if (rc < 0)
		fprintf(stderr, "postern scan: %s: %s\n", sc->file, error);
	return rc;
}

/* Parse the message from the spool onto arena: the whole tree (limits
 * from the configuration), or only the header (head_only). */
static struct mime_part *
scan_parse(struct scan *sc, struct pst_arena *arena, bool head_only)
{
	struct mime_parser *p = mime_parser_new(arena, &sc->st->mime.limits);
	uint64_t size = pst_spool_size(sc->spool), off = 0;
	struct mime_part *root = NULL;
	const char *error = NULL;
	char buf[CHUNK];

	if (head_only && size > HEAD_MAX)
		size = HEAD_MAX;
	while (p != NULL && off < size) {
		size_t want = size - off < sizeof(buf) ? (size_t)(size - off)
						       : sizeof(buf);
		ssize_t n = pst_spool_pread(sc->spool, buf, want, off);

		if (n <= 0 || mime_parser_feed(p, buf, (size_t)n, &error) < 0) {
			mime_parser_free(&p);
			break;
		}
		off += (uint64_t)n;
		if (head_only && memmem(buf, (size_t)n, "\r\n\r\n", 4) != NULL)
			break;
	}
	if (p != NULL && mime_parser_end(p, &root, &error) < 0)
		root = NULL;
	mime_parser_free(&p);
	return root;
}

/* ---- default sender and recipients from the header ---- */

/* One mailbox's address: the angle-addr without a source route, else
 * the bare addr-spec (comments and blanks dropped); NULL when it has
 * no '@' (a phrase alone, a broken item), "" for "<>". */
static const char *
mailbox_addr(struct pst_arena *arena, struct pst_str v, size_t lt, size_t gt,
	     const char *bare, size_t bare_len)
{
	const char *a, *colon;

	if (gt > lt) {
		a = pst_arena_strndup(arena, v.p + lt + 1, gt - lt - 1);
		if (a != NULL && a[0] == '@' && (colon = strchr(a, ':')))
			a = colon + 1; /* <@relay:user@host> */
		if (a != NULL && a[0] == '\0')
			return a;
	} else {
		a = pst_arena_strndup(arena, bare, bare_len);
	}
	return a != NULL && strchr(a, '@') != NULL ? a : NULL;
}

/*
 * The addresses of an address-list header value (RFC 5322 3.4), at most
 * max: display names, comments and group names dropped.  Lenient, as
 * it only picks defaults: whatever it cannot read is skipped.
 */
static size_t
header_addrs(struct pst_arena *arena, struct pst_str v, const char **out,
	     size_t max)
{
	char *bare = pst_arena_alloc(arena, v.len + 1);
	size_t n = 0, bn = 0, lt = 0, gt = 0, depth = 0;
	bool quoted = false, in_angle = false;

	if (bare == NULL)
		return 0;
	for (size_t i = 0; i <= v.len && n < max; i++) {
		char c = i < v.len ? v.p[i] : ',';
		const char *a;

		if (i == v.len) {
			/* An unclosed quote or comment ends here too. */
			quoted = false;
			in_angle = false;
			depth = 0;
		}
		if (quoted || depth > 0) {
			if (c == '\\' && i + 1 < v.len) {
				if (quoted) {
					bare[bn++] = c;
					bare[bn++] = v.p[i + 1];
				}
				i++;
			} else if (quoted) {
				bare[bn++] = c;
				quoted = c != '"';
			} else if (c == '(') {
				depth++;
			} else if (c == ')') {
				depth--;
			}
			continue;
		}
		if (c == '(') {
			depth = 1;
		} else if (c == '"') {
			quoted = true;
			bare[bn++] = c;
		} else if (c == '<' && !in_angle) {
			in_angle = true;
			lt = i;
		} else if (c == '>' && in_angle) {
			in_angle = false;
			gt = i;
		} else if (in_angle) {
			continue;
		} else if (c == ':' && gt <= lt) {
			bn = 0; /* "group name:" */
		} else if (c == ',' || c == ';') {
			a = mailbox_addr(arena, v, lt, gt, bare, bn);
			if (a != NULL && a[0] != '\0')
				out[n++] = a;
			bn = lt = gt = 0;
		} else if (c != ' ' && c != '\t') {
			bare[bn++] = c;
		}
	}
	return n;
}

static int
scan_defaults(struct scan *sc)
{
	const struct mime_header *h;
	const struct mime_part *root;
	const char *addrs[MAX_RCPT_ARGS];
	size_t n;

	root = scan_parse(sc, sc->arena, true);
	if (root == NULL)
		return -1;
	if (sc->from == NULL) {
		sc->from_default = true;
		sc->from = "";
		sc->from_source = "none found: null sender";
		h = mime_part_header(root, NULL, "Return-Path");
		if (h != NULL && pst_str_eq(h->unfolded, PST_STR_LIT("<>"))) {
			sc->from_source = "Return-Path";
		} else if (h != NULL && header_addrs(sc->arena, h->unfolded,
						     addrs, 1) == 1) {
			sc->from = addrs[0];
			sc->from_source = "Return-Path";
		} else if ((h = mime_part_header(root, NULL, "From")) != NULL &&
			   header_addrs(sc->arena, h->unfolded, addrs, 1) ==
				   1) {
			sc->from = addrs[0];
			sc->from_source = "From";
		}
	}
	if (sc->nrcpt == 0) {
		sc->rcpt_default = true;
		sc->rcpt_source = "To";
		for (h = mime_part_header(root, NULL, "To"); h != NULL;
		     h = mime_part_header(root, h, "To")) {
			n = header_addrs(sc->arena, h->unfolded, addrs,
					 MAX_RCPT_ARGS - sc->nrcpt);
			for (size_t i = 0; i < n; i++)
				if (*addrs[i] != '\0')
					sc->rcpts[sc->nrcpt++] = addrs[i];
		}
	}
	return 0;
}

/* ---- running the chain ---- */

static struct filter_outcome *
scan_stage(struct scan *sc, const char *name, const char *arg)
{
	struct scan_stage *s = &sc->stages[sc->nstages++];

	s->name = name;
	s->arg = arg;
	memset(&s->out, 0, sizeof(s->out));
	return &s->out;
}

static void
scan_refuse(struct filter_outcome *out, unsigned code, const char *enhanced,
	    const char *text)
{
	out->verdict = code / 100 == 4 ? PF_TEMPFAIL : PF_REJECT;
	out->code = code;
	snprintf(out->enhanced, sizeof(out->enhanced), "%s", enhanced);
	snprintf(out->text, sizeof(out->text), "%s", text);
}

/* The gateway's own checks at end of data; true when it would refuse. */
static bool
scan_data_checks(struct scan *sc, const struct mime_part *root)
{
	uint64_t over = mime_part_defects_all(root) & MIME_D_LIMITS;
	struct filter_outcome *out;
	char text[200];

	if (pst_spool_size(sc->spool) > sc->st->smtp.max_message_size) {
		out = scan_stage(sc, "data", NULL);
		scan_refuse(out, 552, "5.3.4",
			    "Message size exceeds fixed limit");
		sc->final = *out;
		return true;
	}
	if (over != 0 && sc->st->mime.over_limit == MIME_OVER_LIMIT_REJECT) {
		out = scan_stage(sc, "data", NULL);
		snprintf(text, sizeof(text),
			 "Message refused: MIME structure over a limit (%s)",
			 mime_defect_name(over & (~over + 1)));
		scan_refuse(out, 554, "5.6.0", text);
		sc->final = *out;
		return true;
	}
	return false;
}

/* Keep what a non-refusing outcome means for the message's fate:
 * discard over quarantine over accept, as the gateway decides. */
static void
scan_note(struct scan *sc, const struct filter_outcome *out)
{
	int now = sc->final.verdict;

	if (out->verdict == PF_DISCARD ||
	    (out->verdict == PF_QUARANTINE && now != PF_DISCARD) ||
	    (out->verdict == PF_ACCEPT && now == PF_CONTINUE))
		sc->final = *out;
}

/* Run one stage; true when the session or message ends there. */
static bool
scan_run(struct scan *sc, enum filter_stage stage, const char *name,
	 const char *arg)
{
	struct filter_outcome *out = scan_stage(sc, name, arg);

	filter_ctx_run_sync(sc->ctx, stage, arg, out);
	if (refused(out)) {
		sc->final = *out;
		return true;
	}
	scan_note(sc, out);
	return false;
}

static const char *
scan_stage_label(enum filter_stage stage)
{
	static const char *const names[] = { "connect", "helo", "mail", "rcpt",
					     "message" };

	return (unsigned)stage < 5 ? names[stage] : "?";
}

/* The rules filter ran a stage: keep its trace (its arena goes). */
static void
scan_explain(void *arg, enum filter_stage stage,
	     const struct rules_outcome *out)
{
	struct scan *sc = arg;

	for (size_t i = 0; i < out->ntrace; i++) {
		const struct rules_trace *r = &out->trace[i];
		struct scan_trace *t;

		if (sc->ntraces == sc->traces_cap) {
			size_t cap = sc->traces_cap ? sc->traces_cap * 2 : 32;
			struct scan_trace *v =
				pst_arena_calloc(sc->arena, cap, sizeof(*v));

			if (v == NULL)
				return;
			if (sc->ntraces)
				memcpy(v, sc->traces, sc->ntraces * sizeof(*v));
			sc->traces = v;
			sc->traces_cap = cap;
		}
		t = &sc->traces[sc->ntraces++];
		t->stage = scan_stage_label(stage);
		t->rule = pst_arena_strdup(sc->arena, r->rule);
		t->file = pst_arena_strdup(sc->arena, r->file ? r->file : "");
		t->why = pst_arena_strdup(sc->arena, r->why ? r->why : "");
		t->line = r->line;
		t->shadow = r->shadow;
		t->evaluated = r->evaluated;
		t->matched = r->matched;
	}
}

static int
scan_chain(struct scan *sc)
{
	struct filter_client client = {
		.addr = sc->ip,
		.name = "unknown",
		.session_id = "scan",
	};
	struct filter_outcome last_refusal = { 0 };
	const struct mime_part *root;

	sc->ctx = filter_ctx_new(sc->st->chain, NULL, NULL, &client);
	if (sc->ctx == NULL)
		return -1;
	if (sc->explain)
		filter_ctx_set_explain(sc->ctx, scan_explain, sc);
	if (scan_run(sc, FILTER_CONNECT, "connect", NULL))
		return 0;
	if (filter_ctx_set_helo(sc->ctx, sc->helo) < 0)
		return -1;
	if (scan_run(sc, FILTER_HELO, "helo", sc->helo))
		return 0;
	/* A made-up queue id: the filters log it. */
	if (filter_ctx_txn_begin(sc->ctx, "SCAN", sc->from) < 0)
		return -1;
	sc->in_txn = true;
	if (scan_run(sc, FILTER_MAIL, "mail", NULL))
		return 0;
	for (size_t i = 0; i < sc->nrcpt; i++) {
		struct filter_rcpt r = { .addr = sc->rcpts[i] };
		struct filter_outcome *out = scan_stage(sc, "rcpt", r.addr);

		filter_ctx_run_sync(sc->ctx, FILTER_RCPT, r.addr, out);
		if (refused(out)) {
			last_refusal = *out; /* that recipient only */
			continue;
		}
		scan_note(sc, out);
		if (filter_ctx_rcpt_accepted(sc->ctx, &r) < 0)
			return -1;
		sc->accepted++;
	}
	if (sc->accepted == 0) {
		/* No recipient: the client gets no further than DATA. */
		sc->final = last_refusal;
		return 0;
	}
	root = scan_parse(sc, filter_ctx_txn_arena(sc->ctx), false);
	if (root == NULL)
		return -1;
	if (scan_data_checks(sc, root))
		return 0;
	if (filter_ctx_set_message(sc->ctx, sc->spool, root) < 0)
		return -1;
	sc->spool = NULL; /* the ctx holds it while filters read it */
	scan_run(sc, FILTER_MESSAGE, "message", NULL);
	sc->spool = filter_ctx_take_spool(sc->ctx);
	if (!refused(&sc->final) && sc->final.verdict != PF_DISCARD &&
	    filter_ctx_rcpt_count(sc->ctx) == 0) {
		/* The gateway drops a message left without recipients. */
		memset(&sc->final, 0, sizeof(sc->final));
		sc->final.verdict = PF_DISCARD;
		snprintf(sc->final.text, sizeof(sc->final.text),
			 "no recipient left after filters");
	}
	return 0;
}

/* ---- printing ---- */

static void
text_outcome(const struct filter_outcome *o)
{
	fputs(verdict_name(o->verdict), stdout);
	if (o->code != 0)
		printf(" %u %s", o->code, o->enhanced);
	if (o->text[0] != '\0') {
		putc(' ', stdout);
		cli_text_cstr(stdout, o->text);
	}
	if (o->quarantine != NULL) {
		fputs(" [reason ", stdout);
		cli_text_cstr(stdout, o->quarantine);
		putc(']', stdout);
	}
	if (o->filter != NULL) {
		fputs(" (filter ", stdout);
		cli_text_cstr(stdout, o->filter);
		putc(')', stdout);
	}
	if (o->failed)
		fputs(" (the filter failed)", stdout);
}

static void
print_text(struct scan *sc)
{
	struct filter_ctx *ctx = sc->ctx;
	size_t n;

	fputs("message:    ", stdout);
	cli_text_cstr(stdout, sc->file);
	printf(" (%" PRIu64 " bytes)\nclient:     ",
	       sc->spool ? pst_spool_size(sc->spool) : 0);
	cli_text_cstr(stdout, sc->ip);
	fputs(sc->ip_default ? " (default)" : "", stdout);
	fputs("\nhelo:       ", stdout);
	cli_text_cstr(stdout, sc->helo);
	fputs(sc->helo_default ? " (default)" : "", stdout);
	fputs("\nfrom:       <", stdout);
	cli_text_cstr(stdout, sc->from);
	putc('>', stdout);
	if (sc->from_default)
		printf(" (default: %s)", sc->from_source);
	for (size_t i = 0; i < sc->nrcpt; i++) {
		fputs(i == 0 ? "\nrcpt:       <" : "\n            <", stdout);
		cli_text_cstr(stdout, sc->rcpts[i]);
		putc('>', stdout);
		if (sc->rcpt_default && i == 0)
			printf(" (default: all of %s)", sc->rcpt_source);
	}
	fputs("\n\n", stdout);
	for (size_t i = 0; i < sc->nstages; i++) {
		const struct scan_stage *s = &sc->stages[i];

		fputs(s->name, stdout);
		if (s->arg != NULL) {
			fputs(" <", stdout);
			cli_text_cstr(stdout, s->arg);
			putc('>', stdout);
		}
		fputs(": ", stdout);
		text_outcome(&s->out);
		putc('\n', stdout);
	}
	fputs("\nverdict:    ", stdout);
	text_outcome(&sc->final);
	putc('\n', stdout);
	if (sc->explain) {
		fputs("rules:     ", stdout);
		if (sc->ntraces == 0)
			fputs(" (none ran)", stdout);
		for (size_t i = 0; i < sc->ntraces; i++) {
			const struct scan_trace *t = &sc->traces[i];

			printf("\n  %-7s ", t->stage);
			cli_text_cstr(stdout, t->rule);
			printf(" (%s:%u)%s: %s", t->file, t->line,
			       t->shadow ? " [shadow]" : "",
			       !t->evaluated ? "not evaluated"
			       : t->matched  ? "matched"
					     : "no match");
			for (const char *w = t->why; *w != '\0';) {
				size_t len = strcspn(w, "\n");
				char *line =
					pst_arena_strndup(sc->arena, w, len);

				fputs("\n      ", stdout);
				cli_text_cstr(stdout, line ? line : "");
				w += len;
				if (*w == '\n')
					w++;
			}
		}
		putc('\n', stdout);
	}
	n = filter_ctx_result_count(ctx);
	fputs("results:   ", stdout);
	for (size_t i = 0; i < n; i++) {
		const char *k, *v;

		filter_ctx_result(ctx, i, &k, &v);
		putc(' ', stdout);
		cli_text_cstr(stdout, k);
		putc('=', stdout);
		cli_text_cstr(stdout, v);
	}
	printf("%s\nscore:      %g\ntags:      ", n ? "" : " (none)",
	       filter_ctx_score(ctx));
	n = filter_ctx_tag_count(ctx);
	for (size_t i = 0; i < n; i++) {
		putc(' ', stdout);
		cli_text_cstr(stdout, filter_ctx_tag(ctx, i));
	}
	fputs(n ? "\nheader edits:" : " (none)\nheader edits:", stdout);
	n = filter_ctx_edit_count(ctx);
	for (size_t i = 0; i < n; i++) {
		const struct filter_header_edit *e = filter_ctx_edit(ctx, i);

		fputs("\n  ", stdout);
		cli_text_cstr(stdout, e->op);
		putc(' ', stdout);
		cli_text_cstr(stdout, e->name);
		if (strcmp(e->op, "add") != 0)
			printf("[%zu]", e->index);
		if (e->value != NULL) {
			fputs(": ", stdout);
			cli_text_cstr(stdout, e->value);
		}
	}
	fputs(n ? "\nrecipients:" : " (none)\nrecipients:", stdout);
	n = filter_ctx_rcpt_count(ctx);
	for (size_t i = 0; i < n; i++) {
		fputs(" <", stdout);
		cli_text_cstr(stdout, filter_ctx_rcpt(ctx, i)->addr);
		putc('>', stdout);
	}
	fputs(n ? "\n" : " (none)\n", stdout);
}

static void
json_outcome(const struct filter_outcome *o)
{
	fputs("\"verdict\": ", stdout);
	cli_json_cstr(stdout, verdict_name(o->verdict));
	if (o->code != 0) {
		printf(", \"code\": %u, \"enhanced\": ", o->code);
		cli_json_cstr(stdout, o->enhanced);
	} else {
		fputs(", \"code\": null, \"enhanced\": null", stdout);
	}
	fputs(", \"text\": ", stdout);
	cli_json_cstr(stdout, o->text[0] ? o->text : NULL);
	fputs(", \"filter\": ", stdout);
	cli_json_cstr(stdout, o->filter);
	fputs(", \"quarantine\": ", stdout);
	cli_json_cstr(stdout, o->quarantine);
	printf(", \"failed\": %s", o->failed ? "true" : "false");
}

static void
json_defaulted(const struct scan *sc)
{
	const char *sep = "";

	fputs("\"defaulted\": [", stdout);
	if (sc->ip_default) {
		fputs("\"ip\"", stdout);
		sep = ", ";
	}
	if (sc->helo_default) {
		printf("%s\"helo\"", sep);
		sep = ", ";
	}
	if (sc->from_default) {
		printf("%s\"from\"", sep);
		sep = ", ";
	}
	if (sc->rcpt_default)
		printf("%s\"rcpt\"", sep);
	putc(']', stdout);
}

static void
print_json(struct scan *sc)
{
	struct filter_ctx *ctx = sc->ctx;
	double score = filter_ctx_score(ctx);
	size_t n;

	fputs("{\"file\": ", stdout);
	cli_json_cstr(stdout, sc->file);
	printf(", \"size\": %" PRIu64 ",\n \"envelope\": {\"ip\": ",
	       sc->spool ? pst_spool_size(sc->spool) : 0);
	cli_json_cstr(stdout, sc->ip);
	fputs(", \"helo\": ", stdout);
	cli_json_cstr(stdout, sc->helo);
	fputs(", \"from\": ", stdout);
	cli_json_cstr(stdout, sc->from);
	fputs(", \"rcpts\": [", stdout);
	for (size_t i = 0; i < sc->nrcpt; i++) {
		fputs(i ? ", " : "", stdout);
		cli_json_cstr(stdout, sc->rcpts[i]);
	}
	fputs("], ", stdout);
	json_defaulted(sc);
	fputs("},\n \"stages\": [", stdout);
	for (size_t i = 0; i < sc->nstages; i++) {
		fputs(i ? ",\n  {\"stage\": " : "\n  {\"stage\": ", stdout);
		cli_json_cstr(stdout, sc->stages[i].name);
		fputs(", \"arg\": ", stdout);
		cli_json_cstr(stdout, sc->stages[i].arg);
		fputs(", ", stdout);
		json_outcome(&sc->stages[i].out);
		putc('}', stdout);
	}
	fputs("],\n \"verdict\": {", stdout);
	json_outcome(&sc->final);
	fputs("},\n \"results\": {", stdout);
	n = filter_ctx_result_count(ctx);
	for (size_t i = 0; i < n; i++) {
		const char *k, *v;

		filter_ctx_result(ctx, i, &k, &v);
		fputs(i ? ", " : "", stdout);
		cli_json_cstr(stdout, k);
		fputs(": ", stdout);
		cli_json_cstr(stdout, v);
	}
	if (isfinite(score))
		printf("},\n \"score\": %.17g, \"tags\": [", score);
	else
		fputs("},\n \"score\": null, \"tags\": [", stdout);
	n = filter_ctx_tag_count(ctx);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", stdout);
		cli_json_cstr(stdout, filter_ctx_tag(ctx, i));
	}
	fputs("],\n \"header_edits\": [", stdout);
	n = filter_ctx_edit_count(ctx);
	for (size_t i = 0; i < n; i++) {
		const struct filter_header_edit *e = filter_ctx_edit(ctx, i);

		fputs(i ? ",\n  {\"op\": " : "\n  {\"op\": ", stdout);
		cli_json_cstr(stdout, e->op);
		fputs(", \"name\": ", stdout);
		cli_json_cstr(stdout, e->name);
		fputs(", \"value\": ", stdout);
		cli_json_cstr(stdout, e->value);
		printf(", \"index\": %zu}", e->index);
	}
	fputs("],\n \"rcpts\": [", stdout);
	n = filter_ctx_rcpt_count(ctx);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", stdout);
		cli_json_cstr(stdout, filter_ctx_rcpt(ctx, i)->addr);
	}
	fputs("],\n \"explain\": [", stdout);
	for (size_t i = 0; sc->explain && i < sc->ntraces; i++) {
		const struct scan_trace *t = &sc->traces[i];

		fputs(i ? ",\n  {\"stage\": " : "\n  {\"stage\": ", stdout);
		cli_json_cstr(stdout, t->stage);
		fputs(", \"rule\": ", stdout);
		cli_json_cstr(stdout, t->rule);
		fputs(", \"file\": ", stdout);
		cli_json_cstr(stdout, t->file);
		printf(", \"line\": %u, \"shadow\": %s, \"evaluated\": %s, "
		       "\"matched\": %s, \"why\": ",
		       t->line, t->shadow ? "true" : "false",
		       t->evaluated ? "true" : "false",
		       t->matched ? "true" : "false");
		cli_json_cstr(stdout, t->why);
		putc('}', stdout);
	}
	fputs("]}\n", stdout);
}

/* ---- main ---- */

static int
scan_args(struct scan *sc, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;

		if (strcmp(a, "--json") == 0) {
			sc->json = true;
		} else if (strcmp(a, "--explain") == 0) {
			sc->explain = true;
		} else if (strcmp(a, "-c") == 0 && has_value) {
			sc->conf = argv[++i];
		} else if (strcmp(a, "--ip") == 0 && has_value) {
			sc->ip = argv[++i];
		} else if (strcmp(a, "--helo") == 0 && has_value) {
			sc->helo = argv[++i];
		} else if (strcmp(a, "--from") == 0 && has_value) {
			sc->from = argv[++i];
		} else if (strcmp(a, "--rcpt") == 0 && has_value) {
			if (sc->nrcpt == MAX_RCPT_ARGS)
				return -1;
			sc->rcpts[sc->nrcpt++] = argv[++i];
		} else if ((a[0] == '-' && a[1] != '\0') || sc->file != NULL) {
			return -1;
		} else {
			sc->file = a;
		}
	}
	return sc->file != NULL ? 0 : -1;
}

int
postern_scan_main(int argc, char **argv)
{
	static struct scan scan;
	struct scan *sc = &scan;
	const char *error = NULL;
	int rc = 1;

	memset(sc, 0, sizeof(*sc));
	sc->conf = DEFAULT_CONF;
	sc->rcpts = calloc(MAX_RCPT_ARGS, sizeof(*sc->rcpts));
	if (sc->rcpts == NULL) {
		fputs("postern scan: out of memory\n", stderr);
		return 1;
	}
	if (scan_args(sc, argc, argv) < 0) {
		free(sc->rcpts);
		return usage();
	}
	sc->ip_default = sc->ip == NULL;
	sc->helo_default = sc->helo == NULL;
	if (sc->ip == NULL)
		sc->ip = "127.0.0.1";
	if (sc->helo == NULL)
		sc->helo = "localhost";
	if (settings_load(sc->conf, &sc->st, &error) < 0) {
		fprintf(stderr, "postern scan: %s\n", error);
		free(sc->rcpts);
		return 2;
	}
	sc->arena = pst_arena_new(0);
	if (sc->arena == NULL || scan_read(sc) < 0)
		goto out;
	if (scan_defaults(sc) < 0) {
		fputs("postern scan: out of memory\n", stderr);
		goto out;
	}
	if (sc->nrcpt == 0) {
		fputs("postern scan: no recipient: the message has no To: "
		      "address; give --rcpt\n",
		      stderr);
		rc = 2;
		goto out;
	}
	if (scan_chain(sc) < 0) {
		fputs("postern scan: out of memory\n", stderr);
		goto out;
	}
	if (sc->json)
		print_json(sc);
	else
		print_text(sc);
	rc = sc->final.verdict == PF_CONTINUE || sc->final.verdict == PF_ACCEPT
		     ? 0
		     : 1;
	if (fflush(stdout) != 0)
		rc = 1;
out:
	if (sc->ctx != NULL) {
		if (sc->spool == NULL)
			sc->spool = filter_ctx_take_spool(sc->ctx);
		if (sc->in_txn)
			filter_ctx_txn_end(sc->ctx);
		filter_ctx_close(&sc->ctx);
	}
	pst_spool_free(&sc->spool);
	pst_arena_free(&sc->arena);
	settings_free(&sc->st);
	free(sc->rcpts);
	return rc;
}
