/*
 * clamd.c - the built-in clamd filter: at the end of data the message
 * (as received, our Received: included) is streamed to ClamAV's daemon
 * and the verdict becomes results for the rules:
 *
 *   clamav        clean, infected or error
 *   clamav.virus  the signature's name (infected)
 *   clamav.error  what went wrong (error)
 *
 *   filter clamd {
 *       address = "/run/clamav/clamd.ctl";   # or "127.0.0.1:3310"
 *       connect_timeout = 5s;
 *       timeout = 60s;        # the chain's per-call deadline
 *       max_size = 25M;       # keep <= clamd's StreamMaxLength
 *       on_failure = tempfail;
 *   }
 *
 * A message over max_size is not sent (clamd would refuse it anyway
 * after StreamMaxLength bytes): clamav = error, clamav.error says so,
 * and the filter goes on, for the rules to decide.  Any other error
 * (clamd down, a timeout, a malformed reply, clamd's own error) is a
 * filter error: the filter's on_failure applies.  The exchange gets
 * the chain's deadline for the call less a second, so the filter
 * answers itself before the chain gives up on it.
 *
 * Runs on the filter threads (it blocks on the socket).  The module is
 * read-only after init and shared by every session.
 */
#include "config.h"

#include <stdlib.h>

#include "clamd.h"
#include "filter_int.h"

#define CLAMD_DEFAULT_ADDRESS "/run/clamav/clamd.ctl"
#define CLAMD_DEFAULT_CONNECT_MS 5000
/* clamd's default StreamMaxLength */
#define CLAMD_DEFAULT_MAX_SIZE (25u << 20)

struct clamd_module {
	struct clamd_addr addr;
	struct clamd_timeouts to;
	uint64_t max_size;
};

/* fini is not called when init fails: the state is made last. */
static int
clamd_filter_init(struct pf_module *m)
{
	struct clamd_module cm = { 0 }, *p;
	const char *address = CLAMD_DEFAULT_ADDRESS, *error;
	uint64_t timeout;

	cm.to.connect_ms = CLAMD_DEFAULT_CONNECT_MS;
	cm.max_size = CLAMD_DEFAULT_MAX_SIZE;
	if (pf_option_string(m, "address", &address) < 0 ||
	    pf_option_duration(m, "connect_timeout", &cm.to.connect_ms) < 0 ||
	    pf_option_size(m, "max_size", &cm.max_size) < 0)
		return -1;
	if (clamd_addr_parse(address, &cm.addr, &error) < 0) {
		pf_module_error(m, "address", "clamd: %s: '%s'", error,
				address);
		return -1;
	}
	if (cm.max_size == 0 || cm.to.connect_ms == 0) {
		pf_module_error(
			m, cm.max_size == 0 ? "max_size" : "connect_timeout",
			"clamd: must be more than 0");
		return -1;
	}
	timeout = m->conf->timeout;
	cm.to.io_ms = timeout > 2000 ? timeout - 1000 : timeout;
	p = malloc(sizeof(*p));
	if (p == NULL) {
		pf_module_error(m, NULL, "out of memory");
		return -1;
	}
	*p = cm;
	pf_module_set_data(m, p);
	return 0;
}

static void
clamd_filter_fini(struct pf_module *m)
{
	free(pf_module_data(m));
}

static ssize_t
clamd_filter_read(void *t, void *buf, size_t len, uint64_t offset)
{
	return pf_message_read(t, buf, len, offset);
}

static enum pf_verdict
clamd_filter_message(struct pf_txn *t)
{
	const struct clamd_module *cm = pf_module_data(pf_txn_module(t));
	uint64_t size = pf_message_size(t);
	struct clamd_result r;

	if (size > cm->max_size) {
		pf_result_set(t, "clamav", "error");
		pf_result_set(t, "clamav.error",
			      "message larger than max_size: not scanned");
		pf_log(t, PF_LOG_NOTICE,
		       "not scanned: %llu bytes, max_size %llu",
		       (unsigned long long)size,
		       (unsigned long long)cm->max_size);
		return PF_CONTINUE;
	}
	clamd_scan(&cm->addr, &cm->to, clamd_filter_read, t, size, &r);
	switch (r.status) {
	case CLAMD_CLEAN:
		pf_result_set(t, "clamav", "clean");
		return PF_CONTINUE;
	case CLAMD_INFECTED:
		pf_result_set(t, "clamav", "infected");
		pf_result_set(t, "clamav.virus", r.virus);
		pf_log(t, PF_LOG_INFO, "infected: %s", r.virus);
		return PF_CONTINUE;
	default:
		pf_result_set(t, "clamav", "error");
		pf_result_set(t, "clamav.error", r.error);
		pf_log(t, PF_LOG_WARNING, "%s (%s)", r.error, cm->addr.text);
		return PF_ERROR;
	}
}

const struct postern_filter filter_clamd_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "clamd",
	.init = clamd_filter_init,
	.fini = clamd_filter_fini,
	.on_message = clamd_filter_message,
};
