/*
 * rules_filter.c - the rule files (rules/, postern-rules(5)) as the last
 * filter of the chain: at each stage the rules of that stage run after
 * the other filters, read what they found, and their actions become the
 * filter's verdict and edits.
 *
 * `rules = ["/etc/postern/rules/NAME.rules"];` (globs allowed) at the top level
 * adds it; `filter rules { files = [...]; }` places it explicitly.  The
 * compiled set is shared by every session; a session takes a reference at its
 * first stage and keeps that set to its end, so a reload (SIGHUP:
 * filter_chain_reload_rules) changes what new sessions see at once and
 * nothing for sessions in flight.  A set with errors is refused and the
 * old one stays.
 *
 * Stages up to rcpt read only the envelope: they run on the event loop.
 * The message stage decodes the body and runs the regexes: it runs on
 * the filter threads like any filter that may take time.
 *
 * strip-attachment replaces the parts whose attachment.* elements made
 * the rule true (the evaluator records them when the environment says
 * which part each element comes from); the original is kept in the
 * quarantine first (pf_part_replace).  A strip that cannot be done is a
 * filter error (on_failure: by default 451), never a message relayed
 * with what was to be removed.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rules_filter.h"

struct rules_module {
	pthread_mutex_t lock; /* guards set */
	struct rules_set *set;
	const char **patterns;
	size_t npatterns;
};

/* A session's reference to the set it started with. */
struct rules_session {
	struct rules_set *set;
};

static int
rules_filter_compile(struct rules_module *rm, struct pst_arena *arena,
		     struct rules_set **set_r, const char **report_r)
{
	struct rules_report report;
	int rc;

	rc = rules_load_files(rm->patterns, rm->npatterns, NULL, arena, set_r,
			      &report);
	*report_r = report.text;
	return rc;
}

static int
rules_filter_init(struct pf_module *m)
{
	struct rules_module *rm = calloc(1, sizeof(*rm));
	const char *const *files = NULL;
	struct pst_arena *arena = NULL;
	const char *report = "";
	size_t n = 0;

	if (rm == NULL)
		return -1;
	pthread_mutex_init(&rm->lock, NULL);
	pf_module_set_data(m, rm);
	if (pf_option_list(m, "files", &files, &n) < 0)
		return -1;
	if (n == 0) {
		pf_module_error(m, NULL,
				"rules: no rule files (files = [\"...\"])");
		return -1;
	}
	rm->patterns = (const char **)files;
	rm->npatterns = n;
	arena = pst_arena_new(0);
	if (arena == NULL)
		return -1;
	if (rules_filter_compile(rm, arena, &rm->set, &report) < 0) {
		pf_module_error(m, "files", "rule files refused:\n%s", report);
		pst_arena_free(&arena);
		return -1;
	}
	if (report[0] != '\0') /* warnings */
		fprintf(stderr, "%s", report);
	pst_arena_free(&arena);
	/* Envelope stages on the loop; see the file comment. */
	filter_module_set_stages(m, 0, ~(1u << FILTER_MESSAGE) & 0xffu);
	return 0;
}

static void
rules_filter_fini(struct pf_module *m)
{
	struct rules_module *rm = pf_module_data(m);

	if (rm == NULL)
		return;
	rules_set_unref(&rm->set);
	pthread_mutex_destroy(&rm->lock);
	free(rm);
}

static struct rules_set *
rules_filter_session_set(struct pf_txn *t)
{
	struct rules_session *rs = pf_txn_data(t);

	if (rs == NULL) {
		struct rules_module *rm = pf_module_data(pf_txn_module(t));

		rs = calloc(1, sizeof(*rs));
		if (rs == NULL)
			return NULL;
		pthread_mutex_lock(&rm->lock);
		rs->set = rules_set_ref(rm->set);
		pthread_mutex_unlock(&rm->lock);
		pf_txn_set_data(t, rs);
	}
	return rs->set;
}

/* strip-attachment when the environment could not say which parts the
 * attachment.* values came from: every attachment goes (a part with a
 * file name or an attachment disposition), rather than none. */
static int
rules_filter_strip_all(struct pf_txn *t, const struct rules_action_result *a)
{
	for (const struct pf_part *p = pf_part_root(t); p != NULL;
	     p = pf_part_next(t, p)) {
		const char *disp = pf_part_disposition(t, p);

		if (pf_part_parent(t, p) == NULL ||
		    (pf_part_filename(t, p) == NULL &&
		     (disp == NULL || strcmp(disp, "attachment") != 0)))
			continue;
		if (pf_part_replace(t, pf_part_index(t, p), a->text) < 0) {
			pf_log(t, PF_LOG_ERR,
			       "rule %s: strip-attachment: part %u cannot be "
			       "replaced",
			       a->rule, pf_part_index(t, p));
			return -1;
		}
		pf_log(t, PF_LOG_INFO, "rule %s: strip-attachment part=%u",
		       a->rule, pf_part_index(t, p));
	}
	return 0;
}

/* strip-attachment: every part recorded for the rule. */
static int
rules_filter_strip(struct pf_txn *t, const struct rules_action_result *a)
{
	if (a->nparts == 0 && a->parts_unknown)
		return rules_filter_strip_all(t, a);
	if (a->nparts == 0) {
		pf_log(t, PF_LOG_WARNING,
		       "rule %s: strip-attachment: no attachment made the rule "
		       "true, nothing stripped",
		       a->rule);
		return 0;
	}
	for (size_t i = 0; i < a->nparts; i++) {
		if (a->parts[i] > UINT32_MAX ||
		    pf_part_replace(t, (unsigned)a->parts[i], a->text) < 0) {
			pf_log(t, PF_LOG_ERR,
			       "rule %s: strip-attachment: part %zu cannot be "
			       "replaced",
			       a->rule, a->parts[i]);
			return -1;
		}
		pf_log(t, PF_LOG_INFO, "rule %s: strip-attachment part=%zu",
		       a->rule, a->parts[i]);
	}
	return 0;
}

/* Apply one accumulated action; -1 when it must fail the filter. */
static int
rules_filter_apply(struct pf_txn *t, const struct rules_action_result *a)
{
	switch (a->kind) {
	case RULES_ACT_STRIP_ATTACHMENT:
		return rules_filter_strip(t, a);
	case RULES_ACT_BANNER:
		if (pf_banner_add(t,
				  a->bottom ? PF_BANNER_BOTTOM : PF_BANNER_TOP,
				  a->text) < 0)
			pf_log(t, PF_LOG_WARNING, "rule %s: banner refused",
			       a->rule);
		break;
	case RULES_ACT_ADD_HEADER:
		if (pf_header_add(t, a->header, a->text ? a->text : "") < 0)
			pf_log(t, PF_LOG_WARNING,
			       "rule %s: add-header %s refused", a->rule,
			       a->header);
		break;
	case RULES_ACT_REMOVE_HEADER: {
		size_t n = 0;

		/* nth counts fields as received: delete each one. */
		while (pf_header_value(t, a->header, n) != NULL)
			n++;
		for (size_t i = 0; i < n; i++)
			pf_header_delete(t, a->header, i);
		break;
	}
	case RULES_ACT_SCORE:
		pf_score_add(t, a->score);
		break;
	case RULES_ACT_TAG:
		pf_tag(t, a->text);
		break;
	case RULES_ACT_LOG:
		pf_log(t, PF_LOG_INFO, "rule %s: %s", a->rule, a->text);
		break;
	default:
		break;
	}
	return 0;
}

static enum pf_verdict
rules_filter_terminal(struct pf_txn *t, const struct rules_action_result *a)
{
	pf_log(t, PF_LOG_INFO, "rule %s: %s%s%s", a->rule,
	       rules_action_name(a->kind), a->text ? " " : "",
	       a->text ? a->text : "");
	switch (a->kind) {
	case RULES_ACT_ACCEPT:
		return PF_ACCEPT;
	case RULES_ACT_REJECT:
		pf_reply(t, a->code, a->enhanced, a->text);
		return PF_REJECT;
	case RULES_ACT_TEMPFAIL:
		if (a->code != 0)
			pf_reply(t, a->code, a->enhanced, a->text);
		return PF_TEMPFAIL;
	case RULES_ACT_DISCARD:
		return PF_DISCARD;
	case RULES_ACT_QUARANTINE:
		pf_quarantine(t, a->text ? a->text : "rules");
		return PF_QUARANTINE;
	default:
		return PF_CONTINUE;
	}
}

static enum pf_verdict
rules_filter_stage(struct pf_txn *t, enum rules_stage stage, const char *rcpt)
{
	struct rules_set *set = rules_filter_session_set(t);
	struct rules_call call = { .t = t, .rcpt = rcpt };
	struct rules_env env = { .ctx = &call, .get = rules_filter_env_get };
	struct rules_outcome out;
	struct pst_arena *arena;
	enum pf_verdict v = PF_CONTINUE;

	if (set == NULL)
		return PF_ERROR;
	if (rules_set_stage_count(set, stage) == 0)
		return PF_CONTINUE;
	arena = pst_arena_new(0);
	if (arena == NULL)
		return PF_ERROR;
	if (rules_eval(set, stage, &env, arena,
		       t->ctx->explain ? RULES_EVAL_EXPLAIN : 0, &out) < 0) {
		pst_arena_free(&arena);
		return PF_ERROR;
	}
	if (t->ctx->explain != NULL)
		t->ctx->explain(t->ctx->explain_arg, t->ctx->call_stage, &out);
	for (size_t i = 0; i < out.nshadow; i++) {
		const struct rules_action_result *a = &out.shadow[i];

		pf_log(t, PF_LOG_INFO, "shadow rule %s: would %s%s%s", a->rule,
		       rules_action_name(a->kind), a->text ? " " : "",
		       a->text ? a->text : "");
	}
	if (out.flags & (RULES_F_REGEX_LIMIT | RULES_F_REGEX_ERROR))
		pf_log(t, PF_LOG_WARNING,
		       "rule %s: a regex hit its match limit (taken as no "
		       "match)",
		       out.flag_rule ? out.flag_rule : "?");
	for (size_t i = 0; i < out.nactions; i++)
		if (rules_filter_apply(t, &out.actions[i]) < 0)
			v = PF_ERROR;
	if (out.terminal != NULL && v != PF_ERROR)
		v = rules_filter_terminal(t, out.terminal);
	pst_arena_free(&arena);
	return v;
}

static enum pf_verdict
rules_filter_connect(struct pf_txn *t)
{
	return rules_filter_stage(t, RULES_STAGE_CONNECT, NULL);
}

static enum pf_verdict
rules_filter_helo(struct pf_txn *t, const char *helo)
{
	(void)helo;
	return rules_filter_stage(t, RULES_STAGE_HELO, NULL);
}

static enum pf_verdict
rules_filter_mail(struct pf_txn *t, const char *from)
{
	(void)from;
	return rules_filter_stage(t, RULES_STAGE_MAIL, NULL);
}

static enum pf_verdict
rules_filter_rcpt(struct pf_txn *t, const char *rcpt)
{
	return rules_filter_stage(t, RULES_STAGE_RCPT, rcpt);
}

static enum pf_verdict
rules_filter_message(struct pf_txn *t)
{
	return rules_filter_stage(t, RULES_STAGE_MESSAGE, NULL);
}

static void
rules_filter_close(struct pf_txn *t)
{
	struct rules_session *rs = pf_txn_data(t);

	if (rs == NULL)
		return;
	rules_set_unref(&rs->set);
	free(rs);
	pf_txn_set_data(t, NULL);
}

const struct postern_filter filter_rules_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "rules",
	.init = rules_filter_init,
	.fini = rules_filter_fini,
	.on_connect = rules_filter_connect,
	.on_helo = rules_filter_helo,
	.on_mail = rules_filter_mail,
	.on_rcpt = rules_filter_rcpt,
	.on_message = rules_filter_message,
	.on_close = rules_filter_close,
};

int
filter_chain_reload_rules(const struct filter_chain *chain,
			  struct pst_arena *arena, const char **report_r)
{
	*report_r = "";
	for (size_t i = 0; i < chain->nmodules; i++) {
		struct pf_module *m = chain->modules[i];
		struct rules_module *rm = m->data;
		struct rules_set *set = NULL, *old;

		if (m->def != &filter_rules_def || rm == NULL)
			continue;
		if (rules_filter_compile(rm, arena, &set, report_r) < 0)
			return -1;
		pthread_mutex_lock(&rm->lock);
		old = rm->set;
		rm->set = set;
		pthread_mutex_unlock(&rm->lock);
		rules_set_unref(&old);
	}
	return 0;
}
