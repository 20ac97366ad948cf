/*
 * milter_eom.c - the end of the message in postern-milter: the chain's
 * verdict at the message stage, then what it changed sent back to the
 * MTA as milter modifications - recipients, header fields (with
 * Authentication-Results and the DKIM signature), the body when parts
 * were replaced or banners added - or the refusal.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "milter_int.h"
#include "spool.h"
#include "postern/filter.h"

/* The recipients as the chain left them. */
static int
milter_apply_rcpts(SMFICTX *ctx, struct milter_conn *c)
{
	const struct milter_txn *t = &c->tx;
	size_t n = filter_ctx_rcpt_count(c->fctx);
	char *arg;

	for (size_t i = 0; i < t->nrcpt; i++) {
		bool kept = false;

		for (size_t j = 0; j < n && !kept; j++)
			kept = strcmp(filter_ctx_rcpt(c->fctx, j)->addr,
				      t->rcpts[i].addr) == 0;
		if (kept)
			continue;
		arg = pst_arena_printf(c->txa, "<%s>", t->rcpts[i].addr);
		if (arg == NULL || smfi_delrcpt(ctx, arg) != MI_SUCCESS)
			return -1;
	}
	for (size_t j = 0; j < n; j++) {
		const char *a = filter_ctx_rcpt(c->fctx, j)->addr;
		bool had = false;

		for (size_t i = 0; i < t->nrcpt && !had; i++)
			had = strcmp(t->rcpts[i].addr, a) == 0;
		if (had)
			continue;
		arg = pst_arena_printf(c->txa, "<%s>", a);
		if (arg == NULL || smfi_addrcpt(ctx, arg) != MI_SUCCESS)
			return -1;
	}
	return 0;
}

/* Count the lines of a header block: no more fields than that. */
static size_t
milter_count_lines(const struct pst_buf *b)
{
	size_t n = 1;

	for (size_t i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return n;
}

static int
milter_apply_ops(SMFICTX *ctx, struct milter_conn *c,
		 const struct milter_op *ops, size_t nops)
{
	struct pst_buf name, value;
	int rc = 0;

	pst_buf_init(&name, 0);
	pst_buf_init(&value, 0);
	for (size_t i = 0; i < nops && rc == 0; i++) {
		const struct milter_op *op = &ops[i];

		pst_buf_reset(&name);
		if (pst_buf_append(&name, op->name.p, op->name.len) < 0 ||
		    pst_buf_reserve(&name, 1) < 0 ||
		    (op->kind != MILTER_OP_DELETE &&
		     milter_edit_value(&value, op->raw, c->leadspc) < 0)) {
			rc = -1;
			break;
		}
		name.data[name.len] = '\0';
		if (value.data != NULL)
			value.data[value.len] = '\0';
		switch (op->kind) {
		case MILTER_OP_INSERT:
			if (op->at_end)
				rc = smfi_addheader(ctx, name.data,
						    value.data ? value.data
							       : "");
			else
				rc = smfi_insheader(
					ctx, (int)op->index, name.data,
					value.data ? value.data : "");
			break;
		case MILTER_OP_CHANGE:
			rc = smfi_chgheader(ctx, name.data, (int)op->index,
					    value.data ? value.data : "");
			break;
		case MILTER_OP_DELETE:
			rc = smfi_chgheader(ctx, name.data, (int)op->index,
					    NULL);
			break;
		}
		rc = rc == MI_SUCCESS ? 0 : -1;
	}
	pst_buf_free(&name);
	pst_buf_free(&value);
	return rc;
}

static int
milter_replace_body(SMFICTX *ctx, struct pst_spool *out, uint64_t from)
{
	static const size_t chunk = 64 * 1024;
	unsigned char *buf = malloc(chunk);
	int rc = 0;

	if (buf == NULL)
		return -1;
	for (;;) {
		ssize_t n = pst_spool_pread(out, buf, chunk, from);

		if (n <= 0) {
			rc = n < 0 ? -1 : 0;
			break;
		}
		if (smfi_replacebody(ctx, buf, (int)n) != MI_SUCCESS) {
			rc = -1;
			break;
		}
		from += (uint64_t)n;
	}
	free(buf);
	return rc;
}

/* The message the chain wrote, as modifications of the MTA's copy.
 * *nedits_r: how many modifications went out. */
static int
milter_apply_message(SMFICTX *ctx, struct milter_conn *c, struct pst_spool *in,
		     size_t *nedits_r, const char **error_r)
{
	const struct postern_settings *st = milter_settings();
	size_t max = st->mime.limits.max_header_size + 65536;
	struct pst_spool *out = NULL;
	struct pst_buf hin, hout;
	struct milter_field *fin = NULL, *fout = NULL;
	struct milter_op *ops = NULL;
	size_t nin, nout, nops, bin, bout;
	int rc = -1, differs;

	pst_buf_init(&hin, 0);
	pst_buf_init(&hout, 0);
	*error_r = "out of memory";
	out = pst_spool_new(st->smtp.spool_memory, st->spool_dir);
	if (out == NULL ||
	    filter_ctx_write_message(c->fctx, out, error_r) < 0 ||
	    milter_edit_read_head(in, max, &hin, error_r) < 0 ||
	    milter_edit_read_head(out, max, &hout, error_r) < 0)
		goto done;
	*error_r = "out of memory";
	nin = milter_count_lines(&hin);
	nout = milter_count_lines(&hout);
	fin = calloc(nin, sizeof(*fin));
	fout = calloc(nout, sizeof(*fout));
	ops = calloc(nin + nout, sizeof(*ops));
	if (fin == NULL || fout == NULL || ops == NULL)
		goto done;
	nin = milter_edit_parse(hin.data ? hin.data : "", hin.len, fin, nin,
				&bin);
	nout = milter_edit_parse(hout.data ? hout.data : "", hout.len, fout,
				 nout, &bout);
	nops = milter_edit_diff(fin, nin, fout, nout, ops);
	if (nops == (size_t)-1)
		goto done;
	*error_r = "the MTA refused a header change";
	if (milter_apply_ops(ctx, c, ops, nops) < 0)
		goto done;
	*nedits_r += nops;
	differs = milter_edit_body_differs(in, bin, out, bout);
	*error_r = "cannot read the message";
	if (differs < 0)
		goto done;
	if (differs > 0) {
		*error_r = "the MTA refused the new body";
		if (milter_replace_body(ctx, out, bout) < 0)
			goto done;
		(*nedits_r)++;
	}
	rc = 0;
done:
	free(fin);
	free(fout);
	free(ops);
	pst_buf_free(&hin);
	pst_buf_free(&hout);
	pst_spool_free(&out);
	return rc;
}

/* The whole message is in: refuse it, or hand it to the chain. */
static bool
milter_mime_refused(struct milter_conn *c, const struct mime_part *root,
		    struct filter_outcome *out)
{
	uint64_t over = mime_part_defects_all(root) & MIME_D_LIMITS;

	if (over == 0 ||
	    milter_settings()->mime.over_limit == MIME_OVER_LIMIT_ACCEPT)
		return false;
	(void)c;
	memset(out, 0, sizeof(*out));
	out->verdict = PF_REJECT;
	out->code = 554;
	snprintf(out->enhanced, sizeof(out->enhanced), "5.6.0");
	snprintf(out->text, sizeof(out->text),
		 "Message refused: MIME structure over a limit (%s)",
		 mime_defect_name(over & (~over + 1)));
	return true;
}

static sfsistat
milter_eom_apply(SMFICTX *ctx, struct milter_conn *c,
		 const struct filter_outcome *msg_out)
{
	struct milter_txn *t = &c->tx;
	struct filter_outcome out;
	struct pst_spool *spool = c->spool;
	const char *reason = NULL, *error = NULL;
	size_t nedits = 0;
	sfsistat v;

	v = milter_answer(ctx, c, FILTER_MESSAGE, "END-OF-MESSAGE", msg_out);
	if (v != SMFIS_CONTINUE && v != SMFIS_DISCARD)
		return v;
	if (spool == NULL) { /* the ctx was lost with the message */
		milter_fail_outcome(&out);
		return milter_answer(ctx, c, FILTER_MESSAGE, "END-OF-MESSAGE",
				     &out);
	}
	if (v == SMFIS_DISCARD || t->discard || c->discard_all ||
	    filter_ctx_rcpt_count(c->fctx) == 0) {
		pst_log(PST_LOG_INFO, "milter", "%s: discard: %s",
			milter_log_qid(c),
			filter_ctx_rcpt_count(c->fctx) == 0
				? "no recipient left after filters"
				: "filter verdict");
		return SMFIS_DISCARD;
	}
	if (milter_apply_rcpts(ctx, c) < 0) {
		error = "the MTA refused a recipient change";
		goto fail;
	}
	if (filter_ctx_has_edits(c->fctx) &&
	    milter_apply_message(ctx, c, spool, &nedits, &error) < 0)
		goto fail;
	if (msg_out->verdict == PF_QUARANTINE)
		reason = msg_out->quarantine;
	else if (t->quarantine[0] != '\0')
		reason = t->quarantine;
	else if (c->quarantine_all[0] != '\0')
		reason = c->quarantine_all;
	if (reason != NULL) {
		char *r = pst_arena_strdup(c->txa,
					   reason[0] ? reason : "quarantine");

		if (r == NULL || smfi_quarantine(ctx, r) != MI_SUCCESS) {
			error = "the MTA refused to quarantine";
			goto fail;
		}
		pst_log(PST_LOG_INFO, "milter", "%s: hold: %s",
			milter_log_qid(c), r);
	}
	pst_log(PST_LOG_INFO, "milter",
		"%s: from=<%s>, size=%llu, nrcpt=%zu, edits=%zu%s%s",
		milter_log_qid(c), t->from,
		(unsigned long long)pst_spool_size(spool),
		filter_ctx_rcpt_count(c->fctx), nedits,
		msg_out->filter ? ", decided_by=" : "",
		msg_out->filter ? msg_out->filter : "");
	return SMFIS_CONTINUE;
fail:
	pst_log(PST_LOG_ERR, "milter", "%s: %s", milter_log_qid(c), error);
	milter_fail_outcome(&out);
	return milter_answer(ctx, c, FILTER_MESSAGE, "END-OF-MESSAGE", &out);
}

sfsistat
milter_eom(SMFICTX *ctx)
{
	struct milter_conn *c = smfi_getpriv(ctx);
	struct milter_txn *t;
	struct filter_outcome out;
	struct mime_part *root = NULL;
	const char *error = NULL;
	sfsistat v;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if (c->refused || !c->tx.open)
		return SMFIS_CONTINUE;
	t = &c->tx;
	milter_note_qid(ctx, c);
	if (!t->data)
		milter_feed(c, "\r\n", 2); /* no header, no body */
	if (!t->failed && (pst_spool_flush(c->spool, &error) < 0 ||
			   mime_parser_end(t->mime, &root, &error) < 0)) {
		pst_log(PST_LOG_ERR, "milter", "%s: spool: %s",
			milter_log_qid(c), error);
		t->failed = true;
	}
	if (t->failed) {
		milter_fail_outcome(&out);
		v = milter_answer(ctx, c, FILTER_MESSAGE, "END-OF-MESSAGE",
				  &out);
	} else if (milter_mime_refused(c, root, &out)) {
		v = milter_answer(ctx, c, FILTER_MESSAGE, "END-OF-MESSAGE",
				  &out);
	} else if (filter_ctx_set_message(c->fctx, c->spool, root) < 0) {
		milter_fail_outcome(&out);
		v = milter_answer(ctx, c, FILTER_MESSAGE, "END-OF-MESSAGE",
				  &out);
	} else {
		c->spool = NULL; /* the chain holds it while filters read */
		milter_run(c, FILTER_MESSAGE, NULL, &out);
		/* NULL when the ctx was lost with the message */
		c->spool = filter_ctx_take_spool(c->fctx);
		v = milter_eom_apply(ctx, c, &out);
	}
	t->mime = NULL; /* the tree is the ctx's now */
	milter_txn_end(c);
	return v;
}
