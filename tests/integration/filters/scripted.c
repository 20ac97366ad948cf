/*
 * scripted.c - a test filter whose behaviour the message asks for, so
 * one module covers every verdict and edit in the integration tests.
 *
 * At on_message it reads X-Test-* header fields of the message:
 *   X-Test-Verdict: reject|tempfail|discard|quarantine|accept|error
 *   X-Test-Reply: 550 5.7.1 text        (for reject/tempfail)
 *   X-Test-Quarantine: reason
 *   X-Test-Sleep: MILLISECONDS          (before answering)
 *   X-Test-Add-Header: Name: value      (pf_header_add)
 *   X-Test-Insert-Header: Name: value   (pf_header_insert at 0)
 *   X-Test-Change-Header: Name: value   (first field of that name)
 *   X-Test-Delete-Header: Name
 *   X-Test-Add-Rcpt: addr / X-Test-Delete-Rcpt: addr
 *   X-Test-Auth-Result: method result [props]
 * At rcpt, a recipient whose local part starts with "reject-",
 * "tempfail-" or "discard-" gets that verdict.  Options: `connect` =
 * "reject" refuses every connection; `sleep_subject` + `sleep` sleep
 * at on_message when the Subject contains the text; `result` sets
 * result scripted.seen=yes on every message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <postern/filter.h>

struct scripted {
	const char *connect;
	const char *sleep_subject;
	uint64_t sleep_ms;
};

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
			       (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static int
scripted_init(struct pf_module *m)
{
	struct scripted *sc = calloc(1, sizeof(*sc));

	if (sc == NULL)
		return -1;
	if (pf_option_string(m, "connect", &sc->connect) < 0 ||
	    pf_option_string(m, "sleep_subject", &sc->sleep_subject) < 0 ||
	    pf_option_duration(m, "sleep", &sc->sleep_ms) < 0) {
		free(sc);
		return -1;
	}
	pf_module_set_data(m, sc);
	return 0;
}

static void
scripted_fini(struct pf_module *m)
{
	free(pf_module_data(m));
}

static enum pf_verdict
scripted_connect(struct pf_txn *t)
{
	struct scripted *sc = pf_module_data(pf_txn_module(t));

	if (sc->connect != NULL && strcmp(sc->connect, "reject") == 0) {
		pf_reply(t, 554, "5.7.1", "Connections refused by scripted");
		return PF_REJECT;
	}
	return PF_CONTINUE;
}

static enum pf_verdict
scripted_rcpt(struct pf_txn *t, const char *rcpt)
{
	if (strncmp(rcpt, "reject-", 7) == 0) {
		pf_reply(t, 550, "5.1.1", "Recipient refused by scripted");
		return PF_REJECT;
	}
	if (strncmp(rcpt, "tempfail-", 9) == 0)
		return PF_TEMPFAIL;
	if (strncmp(rcpt, "discard-", 8) == 0)
		return PF_DISCARD;
	return PF_CONTINUE;
}

/* "Name: value" into name (bounded) and a pointer to value. */
static const char *
split_field(const char *v, char *name, size_t size)
{
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);

	if (n >= size)
		n = size - 1;
	memcpy(name, v, n);
	name[n] = '\0';
	if (colon == NULL)
		return NULL;
	colon++;
	while (*colon == ' ')
		colon++;
	return colon;
}

static void
scripted_edits(struct pf_txn *t)
{
	const char *v;
	char name[128];

	for (size_t i = 0; (v = pf_header_value(t, "X-Test-Add-Header", i));
	     i++) {
		const char *value = split_field(v, name, sizeof(name));

		if (value)
			pf_header_add(t, name, value);
	}
	if ((v = pf_header_value(t, "X-Test-Insert-Header", 0))) {
		const char *value = split_field(v, name, sizeof(name));

		if (value)
			pf_header_insert(t, 0, name, value);
	}
	if ((v = pf_header_value(t, "X-Test-Change-Header", 0))) {
		const char *value = split_field(v, name, sizeof(name));

		if (value)
			pf_header_change(t, name, 0, value);
	}
	if ((v = pf_header_value(t, "X-Test-Delete-Header", 0)))
		pf_header_delete(t, v, 0);
	for (size_t i = 0; (v = pf_header_value(t, "X-Test-Add-Rcpt", i)); i++)
		pf_rcpt_add(t, v);
	for (size_t i = 0; (v = pf_header_value(t, "X-Test-Delete-Rcpt", i));
	     i++)
		pf_rcpt_delete(t, v);
	if ((v = pf_header_value(t, "X-Test-Auth-Result", 0))) {
		char method[64], result[64], props[256];

		props[0] = '\0';
		if (sscanf(v, "%63s %63s %255[^\n]", method, result, props) >=
		    2)
			pf_auth_result(t, method, result,
				       props[0] ? props : NULL);
	}
}

static enum pf_verdict
scripted_message(struct pf_txn *t)
{
	struct scripted *sc = pf_module_data(pf_txn_module(t));
	const char *v, *subject = pf_header_value(t, "Subject", 0);

	pf_result_set(t, "scripted.seen", "yes");
	if (sc->sleep_subject && subject &&
	    strstr(subject, sc->sleep_subject) != NULL)
		sleep_ms(sc->sleep_ms);
	if ((v = pf_header_value(t, "X-Test-Sleep", 0)))
		sleep_ms(strtoull(v, NULL, 10));
	scripted_edits(t);
	v = pf_header_value(t, "X-Test-Verdict", 0);
	if (v == NULL)
		return PF_CONTINUE;
	if (strcasecmp(v, "reject") == 0 || strcasecmp(v, "tempfail") == 0) {
		const char *reply = pf_header_value(t, "X-Test-Reply", 0);
		unsigned code;
		char enhanced[16];
		int n = 0;

		if (reply &&
		    sscanf(reply, "%3u %15s %n", &code, enhanced, &n) == 2)
			pf_reply(t, code, enhanced, reply + n);
		return strcasecmp(v, "reject") == 0 ? PF_REJECT : PF_TEMPFAIL;
	}
	if (strcasecmp(v, "discard") == 0)
		return PF_DISCARD;
	if (strcasecmp(v, "accept") == 0)
		return PF_ACCEPT;
	if (strcasecmp(v, "error") == 0)
		return PF_ERROR;
	if (strcasecmp(v, "quarantine") == 0) {
		v = pf_header_value(t, "X-Test-Quarantine", 0);
		pf_quarantine(t, v ? v : "test");
		return PF_QUARANTINE;
	}
	return PF_CONTINUE;
}

const struct postern_filter postern_filter = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "scripted",
	.init = scripted_init,
	.fini = scripted_fini,
	.on_connect = scripted_connect,
	.on_rcpt = scripted_rcpt,
	.on_message = scripted_message,
};
