/*
 * milter_edit.c - the message as the chain sees it, rebuilt from what
 * the MTA sends (header fields one by one, then body chunks), and the
 * message the chain wrote back turned into milter modifications (see
 * milter.h).
 *
 * Why a diff rather than replaying the filters' edits: what leaves is
 * made by filter_ctx_write_message (filters/edit.c) - header edits,
 * Authentication-Results, forged ones removed, the DKIM signature over
 * all of that - and whatever it does next (body rewriting) reaches the
 * MTA the same way, without this file knowing each kind of edit.
 * edit.c copies untouched fields byte for byte and never reorders them,
 * so a greedy walk finds them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter.h"
#include "spool.h"

#define MILTER_CHUNK (64 * 1024)

int
milter_edit_field(struct pst_buf *out, const char *name, const char *value,
		  bool leadspc)
{
	size_t start = out->len;

	if (pst_buf_append_cstr(out, name) < 0 ||
	    pst_buf_append_byte(out, ':') < 0 ||
	    (!leadspc && value[0] != '\0' && pst_buf_append_byte(out, ' ') < 0))
		goto fail;
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\r')
			continue; /* the CRLF is written with the LF */
		if (*p == '\n') {
			if (pst_buf_append(out, "\r\n", 2) < 0)
				goto fail;
			continue;
		}
		if (pst_buf_append_byte(out, *p) < 0)
			goto fail;
	}
	if (pst_buf_append(out, "\r\n", 2) < 0)
		goto fail;
	return 0;
fail:
	out->len = start;
	return -1;
}

/* The end of the line starting at i (the index of its '\n', or len). */
static size_t
milter_line_end(const char *b, size_t len, size_t i)
{
	const char *nl = memchr(b + i, '\n', len - i);

	return nl != NULL ? (size_t)(nl - b) : len;
}

size_t
milter_edit_parse(const char *block, size_t len, struct milter_field *v,
		  size_t max, size_t *body_r)
{
	size_t i = 0, n = 0;
	struct milter_field *cur = NULL;

	*body_r = len;
	while (i < len) {
		size_t e = milter_line_end(block, len, i);
		size_t stop = e, next = e < len ? e + 1 : len;
		const char *colon;

		if (stop > i && block[stop - 1] == '\r')
			stop--;
		if (stop == i) {
			*body_r = next; /* the empty line */
			break;
		}
		if ((block[i] == ' ' || block[i] == '\t') || n >= max ||
		    (colon = memchr(block + i, ':', stop - i)) == NULL) {
			/* a fold, or a line that is no field: it goes with
			 * the field before */
			if (cur != NULL)
				cur->raw.len =
					stop - (size_t)(cur->raw.p - block);
			i = next;
			continue;
		}
		cur = &v[n++];
		cur->name.p = block + i;
		cur->name.len = (size_t)(colon - (block + i));
		cur->raw.p = colon + 1;
		cur->raw.len = (size_t)(block + stop - (colon + 1));
		i = next;
	}
	return n;
}

static bool
milter_field_eq(const struct milter_field *a, const struct milter_field *b)
{
	return pst_str_eq(a->name, b->name) && pst_str_eq(a->raw, b->raw);
}

/* A field of the list as the MTA will have it while the ops apply. */
struct milter_cur {
	struct pst_str name;
};

/* Which field of its name (from 1) the entry at pos is. */
static size_t
milter_nth(const struct milter_cur *cur, size_t pos)
{
	size_t nth = 1;

	for (size_t i = 0; i < pos; i++)
		if (pst_str_caseeq(cur[i].name, cur[pos].name))
			nth++;
	return nth;
}

static void
milter_op(struct milter_op *op, enum milter_op_kind kind, struct pst_str name,
	  struct pst_str raw, size_t index)
{
	op->kind = kind;
	op->name = name;
	op->raw = raw;
	op->index = index;
	op->at_end = false;
}

/* Remove the entry at pos of the simulated list, as a DELETE op. */
static void
milter_drop(struct milter_cur *cur, size_t *n, size_t pos, struct milter_op *op)
{
	milter_op(op, MILTER_OP_DELETE, cur[pos].name,
		  (struct pst_str){ NULL, 0 }, milter_nth(cur, pos));
	memmove(&cur[pos], &cur[pos + 1], (*n - pos - 1) * sizeof(*cur));
	(*n)--;
}

size_t
milter_edit_diff(const struct milter_field *in, size_t nin,
		 const struct milter_field *out, size_t nout,
		 struct milter_op *ops)
{
	struct milter_cur *cur = calloc(nin + nout + 1, sizeof(*cur));
	size_t nops = 0, ncur = nin, i = 0, pos = 0;

	if (cur == NULL)
		return (size_t)-1;
	/* cur is the MTA's list while the ops apply: input fields not yet
	 * reached start at pos. */
	for (size_t k = 0; k < nin; k++)
		cur[k].name = in[k].name;
	for (size_t j = 0; j < nout; j++) {
		size_t k = i;

		while (k < nin && !milter_field_eq(&in[k], &out[j]))
			k++;
		if (k < nin) {
			/* in[i..k) are gone, in[k] stays */
			for (; i < k; i++)
				milter_drop(cur, &ncur, pos, &ops[nops++]);
			i = k + 1;
			pos++;
			continue;
		}
		if (i < nin && pst_str_eq(in[i].name, out[j].name)) {
			/* the same field with another value */
			milter_op(&ops[nops++], MILTER_OP_CHANGE, in[i].name,
				  out[j].raw, milter_nth(cur, pos));
			i++;
			pos++;
			continue;
		}
		milter_op(&ops[nops], MILTER_OP_INSERT, out[j].name, out[j].raw,
			  pos);
		ops[nops++].at_end = pos == ncur;
		memmove(&cur[pos + 1], &cur[pos], (ncur - pos) * sizeof(*cur));
		cur[pos].name = out[j].name;
		ncur++;
		pos++;
	}
	for (; i < nin; i++)
		milter_drop(cur, &ncur, pos, &ops[nops++]);
	free(cur);
	return nops;
}

int
milter_edit_value(struct pst_buf *buf, struct pst_str raw, bool leadspc)
{
	size_t i = 0;

	pst_buf_reset(buf);
	if (!leadspc)
		while (i < raw.len && (raw.p[i] == ' ' || raw.p[i] == '\t'))
			i++;
	for (; i < raw.len; i++) {
		if (raw.p[i] == '\r' && i + 1 < raw.len && raw.p[i + 1] == '\n')
			continue;
		if (pst_buf_append_byte(buf, raw.p[i]) < 0)
			return -1;
	}
	/* an empty value still needs a NUL-terminated buffer */
	return pst_buf_reserve(buf, 1);
}

int
milter_edit_read_head(struct pst_spool *spool, size_t max, struct pst_buf *buf,
		      const char **error_r)
{
	uint64_t off = 0;
	char chunk[8192];

	pst_buf_reset(buf);
	while (buf->len < max) {
		if (buf->len > 0 && (buf->data[0] == '\n' ||
				     (buf->len > 1 && buf->data[0] == '\r' &&
				      buf->data[1] == '\n')))
			return 0; /* no header fields at all */
		size_t want = max - buf->len < sizeof(chunk) ? max - buf->len
							     : sizeof(chunk);
		ssize_t n = pst_spool_pread(spool, chunk, want, off);
		size_t scan;

		if (n < 0) {
			*error_r = "cannot read the message";
			return -1;
		}
		if (n == 0)
			return 0;
		/* the empty line may straddle two chunks */
		scan = buf->len >= 3 ? buf->len - 3 : 0;
		if (pst_buf_append(buf, chunk, (size_t)n) < 0) {
			*error_r = "out of memory";
			return -1;
		}
		off += (uint64_t)n;
		for (size_t i = scan; i + 1 < buf->len; i++) {
			if (buf->data[i] != '\n')
				continue;
			if (buf->data[i + 1] == '\n' ||
			    (buf->data[i + 1] == '\r' && i + 2 < buf->len &&
			     buf->data[i + 2] == '\n'))
				return 0;
		}
	}
	return 0;
}

int
milter_edit_body_differs(struct pst_spool *a, uint64_t ao, struct pst_spool *b,
			 uint64_t bo)
{
	static const size_t chunk = 16 * 1024;
	char *x, *y;
	int rc = 0;

	if (pst_spool_size(a) < ao || pst_spool_size(b) < bo)
		return -1;
	if (pst_spool_size(a) - ao != pst_spool_size(b) - bo)
		return 1;
	x = malloc(chunk);
	y = malloc(chunk);
	if (x == NULL || y == NULL) {
		rc = -1;
		goto done;
	}
	for (;;) {
		ssize_t n = pst_spool_pread(a, x, chunk, ao);
		ssize_t m;

		if (n <= 0) {
			rc = n < 0 ? -1 : 0;
			break;
		}
		m = pst_spool_pread(b, y, (size_t)n, bo);
		if (m != n) {
			rc = -1;
			break;
		}
		if (memcmp(x, y, (size_t)n) != 0) {
			rc = 1;
			break;
		}
		ao += (uint64_t)n;
		bo += (uint64_t)n;
	}
done:
	free(x);
	free(y);
	return rc;
}
