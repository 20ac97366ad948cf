/*
 * fuzz_milter_edit.c - libFuzzer target for gateway/milter_edit.c: the
 * input is two header blocks split at the first NUL; both are parsed and
 * diffed, and applying the modifications to the first list must give
 * the second (checked here, aborting on a mismatch).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter.h"

#define FUZZ_MAX 256

struct fuzz_list {
	struct pst_str name[FUZZ_MAX * 2], raw[FUZZ_MAX * 2];
	size_t n;
};

static void
fuzz_apply(struct fuzz_list *l, const struct milter_op *op)
{
	size_t pos, nth = 0;

	if (op->kind == MILTER_OP_INSERT) {
		if (op->index > l->n || op->at_end != (op->index == l->n))
			abort();
		memmove(&l->name[op->index + 1], &l->name[op->index],
			(l->n - op->index) * sizeof(l->name[0]));
		memmove(&l->raw[op->index + 1], &l->raw[op->index],
			(l->n - op->index) * sizeof(l->raw[0]));
		l->name[op->index] = op->name;
		l->raw[op->index] = op->raw;
		l->n++;
		return;
	}
	for (pos = 0; pos < l->n; pos++)
		if (pst_str_caseeq(l->name[pos], op->name) &&
		    ++nth == op->index)
			break;
	if (pos == l->n)
		abort();
	if (op->kind == MILTER_OP_CHANGE) {
		l->raw[pos] = op->raw;
		return;
	}
	memmove(&l->name[pos], &l->name[pos + 1],
		(l->n - pos - 1) * sizeof(l->name[0]));
	memmove(&l->raw[pos], &l->raw[pos + 1],
		(l->n - pos - 1) * sizeof(l->raw[0]));
	l->n--;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct milter_field in[FUZZ_MAX], out[FUZZ_MAX];
	static struct milter_op ops[FUZZ_MAX * 2];
	static struct fuzz_list l;
	const char *a = (const char *)data, *b;
	const char *nul = memchr(data, 0, size);
	size_t alen, blen, nin, nout, nops, body;

	if (nul == NULL)
		return 0;
	alen = (size_t)(nul - a);
	b = nul + 1;
	blen = size - alen - 1;
	nin = milter_edit_parse(a, alen, in, FUZZ_MAX, &body);
	nout = milter_edit_parse(b, blen, out, FUZZ_MAX, &body);
	nops = milter_edit_diff(in, nin, out, nout, ops);
	if (nops == (size_t)-1)
		return 0;
	if (nops > nin + nout)
		abort();
	l.n = nin;
	for (size_t i = 0; i < nin; i++) {
		l.name[i] = in[i].name;
		l.raw[i] = in[i].raw;
	}
	for (size_t i = 0; i < nops; i++)
		fuzz_apply(&l, &ops[i]);
	if (l.n != nout)
		abort();
	for (size_t i = 0; i < nout; i++)
		if (!pst_str_eq(l.name[i], out[i].name) ||
		    !pst_str_eq(l.raw[i], out[i].raw))
			abort();
	return 0;
}
