/*
 * rewrite_keep.c - the original of a message whose parts are replaced,
 * kept in the quarantine (reason "stripped") so that an admin can give
 * the recipient what was taken out: `postern quarantine release` sends
 * it with the envelope kept here.
 *
 * Runs inside a filter call at the message stage, on a filter thread
 * (quarantine_store fsyncs).  The envelope is what the chain knows: the
 * client, HELO, sender and the recipients as filters left them; the
 * DSN and SMTPUTF8 parameters of the session are not known here and
 * are stored as unset.
 */
#include "config.h"

#include "filter_int.h"
#include "quarantine.h"

int
filter_rewrite_keep(struct filter_ctx *ctx, struct filter_tx *tx,
		    const char *filter, const char **error_r)
{
	struct quarantine_entry e = { 0 };
	char id[QUARANTINE_ID_MAX];

	if (tx->original_id != NULL || ctx->base == NULL)
		return 0;
	if (tx->nrcpt == 0) {
		*error_r = "no recipient";
		return -1;
	}
	e.qid = tx->qid;
	e.client_addr = ctx->client.addr != NULL ? ctx->client.addr : "";
	e.client_port = ctx->client.port;
	e.client_name = ctx->client.name;
	e.helo = ctx->helo != NULL ? ctx->helo : "";
	e.proto = "ESMTP";
	e.tls = ctx->has_tls;
	e.from = tx->from != NULL ? tx->from : "";
	e.rcpts = tx->rcpts;
	e.nrcpt = tx->nrcpt;
	e.reason = FILTER_KEEP_REASON;
	e.filter = filter;
	e.text = "original of a message whose parts were replaced";
	if (quarantine_store(ctx->chain->conf->quarantine_dir, &e, tx->spool,
			     id, error_r) < 0)
		return -1;
	tx->original_id = pst_arena_strdup(tx->arena, id);
	if (tx->original_id == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}
