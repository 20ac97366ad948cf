/*
 * example.c - a complete out-of-tree postern filter.
 *
 * Tags messages whose Subject matches a regular expression (adding a
 * header and a result the rules can test) and rejects messages above a
 * size.  Build it against the installed header:
 *
 *	cc $(pkg-config --cflags postern-filter) -shared -fPIC \
 *		-o example.so example.c
 *
 * and load it:
 *
 *	filter example {
 *		module = "/usr/local/lib/postern/filters/example.so";
 *		subject = "free money";   # POSIX extended, any case
 *		tag = "suspicious";
 *		max_size = 10M;
 *	}
 */
#include <regex.h>
#include <stdlib.h>

#include <postern/filter.h>

struct example {
	regex_t subject;
	int has_subject;
	const char *tag;
	uint64_t max_size;
};

static int
example_init(struct pf_module *m)
{
	struct example *ex = calloc(1, sizeof(*ex));
	const char *pattern = NULL;
	int rc;

	if (ex == NULL) {
		pf_module_error(m, NULL, "out of memory");
		return -1;
	}
	ex->tag = "example";
	ex->max_size = 0; /* no limit */
	if (pf_option_string(m, "subject", &pattern) < 0 ||
	    pf_option_string(m, "tag", &ex->tag) < 0 ||
	    pf_option_size(m, "max_size", &ex->max_size) < 0)
		goto fail;
	if (pattern != NULL) {
		rc = regcomp(&ex->subject, pattern,
			     REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc != 0) {
			char why[128];

			regerror(rc, &ex->subject, why, sizeof(why));
			pf_module_error(m, "subject", "bad regex '%s': %s",
					pattern, why);
			goto fail;
		}
		ex->has_subject = 1;
	}
	pf_module_set_data(m, ex);
	return 0;
fail:
	free(ex);
	return -1;
}

static void
example_fini(struct pf_module *m)
{
	struct example *ex = pf_module_data(m);

	if (ex == NULL)
		return;
	if (ex->has_subject)
		regfree(&ex->subject);
	free(ex);
}

static enum pf_verdict
example_message(struct pf_txn *t)
{
	struct example *ex = pf_module_data(pf_txn_module(t));
	const char *subject = pf_header_value(t, "Subject", 0);

	if (ex->max_size != 0 && pf_message_size(t) > ex->max_size) {
		pf_reply(t, 552, "5.3.4", "Message too big for this site");
		return PF_REJECT;
	}
	if (ex->has_subject && subject != NULL &&
	    regexec(&ex->subject, subject, 0, NULL, 0) == 0) {
		pf_tag(t, ex->tag);
		pf_result_set(t, "example.subject", "match");
		pf_header_add(t, "X-Example-Tag", ex->tag);
		pf_log(t, PF_LOG_INFO, "subject matched, tagged %s", ex->tag);
	}
	return PF_CONTINUE;
}

const struct postern_filter postern_filter = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "example",
	.init = example_init,
	.fini = example_fini,
	.on_message = example_message,
};
