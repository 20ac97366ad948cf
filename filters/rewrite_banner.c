/*
 * rewrite_banner.c - banners for the text of a message: the first
 * text/plain and text/html parts of its own text (not attachments, not
 * inside attached messages, signed or encrypted containers) get the
 * text at the top or the bottom, in their charset and transfer encoding
 * (see rewrite.h).
 *
 * Thread-safety: a job belongs to one thread at a time.
 */
#include "config.h"

#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "rewrite_int.h"
#include "spool.h"

/* Does a byte other than a line break follow at off (so that what is
 * written before it must end its line)? */
static bool
rw_glued(struct pst_spool *src, uint64_t off)
{
	char c;

	return pst_spool_pread(src, &c, 1, off) == 1 && c != '\r' && c != '\n';
}

/* Can ASCII text go into text in charset cs as it is? */
static bool
rw_ascii_compatible(const char *cs)
{
	return cs == NULL ||
	       !(strncmp(cs, "utf-16", 6) == 0 ||
		 strncmp(cs, "utf-32", 6) == 0 || strncmp(cs, "ucs-", 4) == 0 ||
		 strncmp(cs, "ucs2", 4) == 0 || strncmp(cs, "ucs4", 4) == 0 ||
		 strcmp(cs, "utf-7") == 0 || strncmp(cs, "ebcdic", 6) == 0 ||
		 strncmp(cs, "ibm0", 4) == 0 || strncmp(cs, "cp0", 3) == 0);
}

/* May p get a banner? */
static bool
rw_banner_ok(const struct rewrite_job *job, const struct mime_part *p)
{
	if (p->kind != MIME_PART_LEAF || p->synthetic || p->offset_base ||
	    p->filename.p != NULL ||
	    (p->disposition != NULL &&
	     strcmp(p->disposition, "attachment") == 0))
		return false;
	if ((!rw_identity(p->encoding) && p->encoding != MIME_ENC_QP &&
	     p->encoding != MIME_ENC_BASE64) ||
	    !rw_ascii_compatible(p->charset))
		return false;
	for (const struct mime_part *q = p->parent; q != NULL; q = q->parent)
		if (q->kind == MIME_PART_MESSAGE || rw_protected(q))
			return false;
	if (p->body_end < p->body_start ||
	    rw_replaced(job, p->header_start, p->body_end))
		return false;
	/* text put where the header block has no empty line would read as
	 * header (edit.c adds one for the root's) */
	if (p != job->root && !rw_blank_before(job->src, p))
		return false;
	/* a uuencoded file cut out of this text: one change per part */
	for (size_t i = 0; i < job->nsp; i++)
		if (job->sp[i].start >= p->body_start &&
		    job->sp[i].end <= p->body_end)
			return false;
	return true;
}

/* Find needle (lower case) in s, ASCII case ignored: the first match
 * from the start, or the last one; -1 when none. */
static ssize_t
rw_find(const char *s, size_t len, const char *needle, bool last)
{
	size_t n = strlen(needle);
	ssize_t found = -1;

	for (size_t i = 0; i + n <= len; i++) {
		if (strncasecmp(s + i, needle, n) != 0)
			continue;
		found = (ssize_t)i;
		if (!last)
			break;
	}
	return found;
}

/* Where a banner goes in HTML: after <body ...>, before </body>. */
static size_t
rw_html_pos(const char *s, size_t len, enum rewrite_where where)
{
	ssize_t at;

	if (where == REWRITE_BOTTOM) {
		at = rw_find(s, len, "</body", true);
		if (at < 0)
			at = rw_find(s, len, "</html", true);
		return at < 0 ? len : (size_t)at;
	}
	at = rw_find(s, len, "<body", false);
	if (at < 0)
		return 0;
	for (size_t i = (size_t)at; i < len; i++)
		if (s[i] == '>')
			return i + 1;
	return 0;
}

/* The banner in an ASCII-compatible 8-bit charset through iconv; -1
 * when the charset is not one we hand to iconv, or a character does
 * not exist in it. */
static int
rw_iconv(struct pst_buf *out, const char *charset, const char *text)
{
	static const char *const ok[] = { "iso-8859-", "windows-125", "koi8-",
					  NULL };
	bool known = false;
	iconv_t cd;
	char *in = (char *)text, *o;
	size_t inleft = strlen(text), outleft = inleft * 4 + 4;
	int rc = -1;

	for (size_t i = 0; ok[i] != NULL; i++)
		known = known || strncmp(charset, ok[i], strlen(ok[i])) == 0;
	/* a name from the message: nothing but what such names hold */
	for (size_t i = 0; known && charset[i] != '\0'; i++)
		known = (charset[i] >= 'a' && charset[i] <= 'z') ||
			(charset[i] >= '0' && charset[i] <= '9') ||
			charset[i] == '-';
	if (!known || strlen(charset) > 20 || pst_buf_reserve(out, outleft) < 0)
		return -1;
	cd = iconv_open(charset, "UTF-8");
	if (cd == (iconv_t)-1)
		return -1;
	o = out->data + out->len;
	if (iconv(cd, &in, &inleft, &o, &outleft) != (size_t)-1 &&
	    inleft == 0) {
		out->len = (size_t)(o - out->data);
		out->data[out->len] = '\0';
		rc = 0;
	}
	iconv_close(cd);
	return rc;
}

/* text word-wrapped to RW_WRAP bytes, lines ended by eol. */
static int
rw_wrap(struct pst_buf *b, const char *text, const char *eol)
{
	size_t len = strlen(text), i = 0;

	while (i <= len) {
		size_t end = i, cut;

		while (end < len && text[end] != '\n')
			end++;
		while (end - i > RW_WRAP) {
			cut = i + RW_WRAP;
			while (cut > i && text[cut] != ' ')
				cut--;
			if (cut == i)
				cut = i + RW_WRAP;
			/* never inside a UTF-8 character */
			while (cut > i &&
			       ((unsigned char)text[cut] & 0xc0) == 0x80)
				cut--;
			if (cut == i)
				cut = i + 1;
			if (pst_buf_append(b, text + i, cut - i) < 0 ||
			    pst_buf_append_cstr(b, eol) < 0)
				return -1;
			i = cut;
			while (i < end && text[i] == ' ')
				i++;
		}
		if (pst_buf_append(b, text + i, end - i) < 0 ||
		    (end < len && pst_buf_append_cstr(b, eol) < 0))
			return -1;
		i = end + 1;
	}
	return 0;
}

/* The banner text for a plain part in its charset, wrapped.  -1: no
 * way to write it there (the part is skipped). */
static int
rw_plain_banner(struct pst_buf *b, const struct mime_part *p, const char *text,
		const char *eol)
{
	const char *cs = p->charset;
	struct pst_buf conv, ascii;
	bool utf8 = cs != NULL &&
		    (strcmp(cs, "utf-8") == 0 || strcmp(cs, "utf8") == 0);
	int rc;

	pst_buf_init(&conv, 0);
	pst_buf_init(&ascii, 0);
	if (utf8 || rw_ascii(text, strlen(text), SIZE_MAX)) {
		rc = rw_wrap(b, text, eol);
	} else if (cs != NULL && rw_iconv(&conv, cs, text) == 0) {
		rc = rw_wrap(b, conv.data, eol);
	} else {
		rc = rw_text_lines(&ascii, text, true, "\n");
		if (rc == 0) {
			ascii.data[--ascii.len] = '\0'; /* the added '\n' */
			rc = rw_wrap(b, ascii.data, eol);
		}
	}
	pst_buf_free(&conv);
	pst_buf_free(&ascii);
	return rc;
}

/* Put the banners into content c of text part p. */
static int
rw_insert(struct pst_buf *out, const struct mime_part *p, const char *c,
	  size_t len, const char *top, const char *bottom)
{
	bool html = rw_type_is(p, "text/html");
	const char *eol = memchr(c, '\n', len) == NULL ||
					  memmem(c, len, "\r\n", 2) != NULL
				  ? "\r\n"
				  : "\n";
	bool ends = len > 0 && c[len - 1] == '\n';
	size_t at = 0;

	for (int k = 0; k < 2; k++) {
		const char *text = k == 0 ? top : bottom;
		size_t pos = 0;

		if (text == NULL)
			continue;
		pos = html     ? rw_html_pos(c, len,
					     k == 0 ? REWRITE_TOP : REWRITE_BOTTOM)
		      : k == 0 ? 0
			       : len;
		if (pos < at)
			pos = at;
		if (pst_buf_append(out, c + at, pos - at) < 0)
			return -1;
		at = pos;
		if (html) {
			if (pst_buf_append_cstr(out,
						"<div style=\"border:1px solid "
						"#999;padding:4px\">") < 0 ||
			    rewrite_enc_html(out, text) < 0 ||
			    pst_buf_append_cstr(out, "</div>") < 0)
				return -1;
			continue;
		}
		if (k == 1 && len > 0 && !ends &&
		    pst_buf_append_cstr(out, eol) < 0)
			return -1;
		if (k == 1 && len > 0 && pst_buf_append_cstr(out, eol) < 0)
			return -1;
		if (rw_plain_banner(out, p, text, eol) < 0)
			return -2;
		if ((k == 0 &&
		     (pst_buf_append_cstr(out, eol) < 0 ||
		      (len > 0 && pst_buf_append_cstr(out, eol) < 0))) ||
		    (k == 1 && ends && pst_buf_append_cstr(out, eol) < 0))
			return -1;
	}
	return pst_buf_append(out, c + at, len - at);
}

/* The part's new header block: its fields but Content-Transfer-
 * Encoding, then the new one. */
static int
rw_part_header(struct pst_buf *out, const struct mime_part *p, const char *cte)
{
	for (const struct mime_header *h = p->headers; h != NULL; h = h->next) {
		if (strcasecmp(h->name.p, "Content-Transfer-Encoding") == 0)
			continue;
		if (pst_buf_append(out, h->name.p, h->name.len) < 0 ||
		    pst_buf_append_byte(out, ':') < 0 ||
		    pst_buf_append(out, h->raw.p, h->raw.len) < 0 ||
		    pst_buf_append(out, "\r\n", 2) < 0)
			return -1;
	}
	return pst_buf_printf(out, "Content-Transfer-Encoding: %s\r\n\r\n",
			      cte);
}

/* Encode text part p again with content c; a 7bit part whose content
 * is no longer 7-bit becomes quoted-printable, and so does an 8bit one
 * when the banner has a line that could read as a delimiter (dash). */
static int
rw_encode(struct rewrite_job *job, const struct mime_part *p,
	  const struct pst_buf *c, bool dash)
{
	const char *data = c->data ? c->data : "";
	bool root = p == job->root, eol;
	struct pst_buf out;
	enum mime_encoding enc = p->encoding;
	uint64_t start = p->body_start;
	int rc = -1;

	pst_buf_init(&out, 0);
	eol = rw_ends_eol(job->src, p->body_start, p->body_end);
	if ((enc == MIME_ENC_7BIT && !rw_ascii(data, c->len, 998)) ||
	    (rw_identity(enc) && dash)) {
		enc = MIME_ENC_QP;
		if (root) {
			job->drop[job->ndrop++] = "Content-Transfer-Encoding";
			job->add_name[job->nadd] = "Content-Transfer-Encoding";
			job->add_value[job->nadd++] = "quoted-printable";
		} else {
			start = p->header_start;
			if (rw_part_header(&out, p, "quoted-printable") < 0)
				goto done;
		}
	}
	if (enc == MIME_ENC_BASE64) {
		if (pst_base64_encode(&out, data, c->len, 76) < 0)
			goto done;
		if (!eol && out.len >= 2)
			out.len -= 2;
	} else if (enc == MIME_ENC_QP) {
		if (rewrite_enc_qp(&out, data, c->len) < 0)
			goto done;
	} else if (pst_buf_append(&out, data, c->len) < 0) {
		goto done;
	}
	/* what follows must still start a line: after an empty part the
	 * delimiter comes at once, its line break being the empty line's */
	if (rw_glued(job->src, p->body_end) &&
	    (out.len == 0 || out.data[out.len - 1] != '\n') &&
	    pst_buf_append(&out, "\r\n", 2) < 0)
		goto done;
	rc = rw_splice_add(job, RW_SP_BANNER, p, start, p->body_end, &out) ? 0
									   : -1;
done:
	pst_buf_free(&out);
	return rc;
}

/* The banner texts of the plan, joined by empty lines. */
static const char *
rw_banner_text(struct rewrite_job *job, const struct rewrite_plan *plan,
	       enum rewrite_where where)
{
	struct pst_buf b;
	const char *s = NULL;

	pst_buf_init(&b, 0);
	for (size_t i = 0; i < plan->nops; i++) {
		const struct rw_op *op = &plan->ops[i];

		if (op->kind != RW_OP_BANNER || op->where != where)
			continue;
		if ((b.len > 0 && pst_buf_append_cstr(&b, "\n\n") < 0) ||
		    pst_buf_append_cstr(&b, op->text) < 0) {
			job->error = "out of memory";
			break;
		}
	}
	if (b.len > 0)
		s = pst_arena_strndup(job->arena, b.data, b.len);
	pst_buf_free(&b);
	return s;
}

static int
rw_banner_part(struct rewrite_job *job, const struct mime_part *p,
	       const char *top, const char *bottom)
{
	struct pst_buf c, n;
	int rc;

	pst_buf_init(&c, 0);
	pst_buf_init(&n, 0);
	if (rw_read_part(job->src, p, &c, REWRITE_TEXT_MAX) < 0) {
		job->skipped++; /* too large, or unreadable */
		rc = 0;
		goto done;
	}
	rc = rw_insert(&n, p, c.data ? c.data : "", c.len, top, bottom);
	if (rc == -2) {
		job->skipped++; /* a charset we cannot write */
		rc = 0;
		goto done;
	}
	if (rc == 0)
		rc = rw_encode(
			job, p, &n,
			(top != NULL && rw_dash_line(top)) ||
				(bottom != NULL && rw_dash_line(bottom)));
	if (rc == 0)
		job->banners++;
done:
	pst_buf_free(&c);
	pst_buf_free(&n);
	return rc;
}

int
rw_banners(struct rewrite_job *job, const struct rewrite_plan *plan)
{
	const char *top = rw_banner_text(job, plan, REWRITE_TOP);
	const char *bottom = rw_banner_text(job, plan, REWRITE_BOTTOM);
	bool plain = false, html = false;

	if (job->error != NULL)
		return -1;
	for (size_t i = 0; i < job->nparts; i++) {
		const struct mime_part *p = job->parts[i];
		bool is_plain, is_html;

		if (p == NULL || (plain && html))
			continue;
		is_plain = rw_type_is(p, "text/plain");
		is_html = rw_type_is(p, "text/html");
		if ((!is_plain || plain) && (!is_html || html))
			continue;
		if (!rw_banner_ok(job, p))
			continue;
		plain = plain || is_plain;
		html = html || is_html;
		if (rw_banner_part(job, p, top, bottom) < 0)
			return -1;
	}
	if (!plain && !html)
		job->skipped++;
	return 0;
}
