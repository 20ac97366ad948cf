/*
 * test_rewrite.c - unit tests for body rewriting (filters/rewrite*.c and
 * its hook in filters/edit.c): parts replaced by notices and banners
 * added on many MIME shapes (nested multiparts, QP and base64 text,
 * signed and encrypted parts left alone, attached messages plain and
 * encoded, uuencoded files in text, 7bit text that needs QP, charsets),
 * every result parsed again and its parts checked; the encoders against
 * the decoders; the host functions (pf_part_replace, pf_banner_add) from
 * a built-in test filter, with the original kept in the quarantine.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "decode.h"
#include "filter_test.h"
#include "rewrite.h"
#include "spool.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- helpers ---- */

struct msg {
	struct pst_arena *arena;
	struct pst_spool *spool;
	struct mime_part *root;
};

static void
msg_parse(struct msg *m, const char *text, size_t len)
{
	struct mime_parser *p;
	const char *error;

	m->arena = pst_arena_new(0);
	assert_non_null(m->arena);
	m->spool = pst_spool_new(1 << 20, NULL);
	assert_non_null(m->spool);
	assert_int_equal(pst_spool_write(m->spool, text, len, &error), 0);
	assert_int_equal(pst_spool_flush(m->spool, &error), 0);
	p = mime_parser_new(m->arena, NULL);
	assert_non_null(p);
	assert_int_equal(mime_parser_feed(p, text, len, &error), 0);
	assert_int_equal(mime_parser_end(p, &m->root, &error), 0);
	mime_parser_free(&p);
}

static void
msg_free(struct msg *m)
{
	pst_spool_free(&m->spool);
	pst_arena_free(&m->arena);
}

static ssize_t
spool_pread(void *spool, void *buf, size_t len, uint64_t off)
{
	return pst_spool_pread(spool, buf, len, off);
}

/* The decoded content of part index i of m, NUL-terminated (free it);
 * NULL when there is no such part. */
static char *
part_text(const struct msg *m, unsigned i)
{
	const struct mime_part *p = m->root;
	struct mime_reader *r;
	struct pst_buf b;
	char chunk[4096];
	ssize_t n;

	while (p != NULL && p->index != i)
		p = mime_part_next(p);
	if (p == NULL)
		return NULL;
	pst_buf_init(&b, 0);
	r = mime_reader_open(p, spool_pread, m->spool);
	assert_non_null(r);
	while ((n = mime_reader_read(r, chunk, sizeof(chunk))) > 0)
		assert_int_equal(pst_buf_append(&b, chunk, (size_t)n), 0);
	assert_true(n == 0);
	mime_reader_close(&r);
	assert_int_equal(pst_buf_append_byte(&b, '\0'), 0);
	return b.data;
}

static const struct mime_part *
part_at(const struct msg *m, unsigned i)
{
	const struct mime_part *p = m->root;

	while (p != NULL && p->index != i)
		p = mime_part_next(p);
	return p;
}

/* "type,type,..." of every part in pre-order. */
static char *
shape(const struct msg *m)
{
	struct pst_buf b;

	pst_buf_init(&b, 0);
	for (const struct mime_part *p = m->root; p != NULL;
	     p = mime_part_next(p))
		pst_buf_printf(&b, "%s%s%s", b.len ? "," : "",
			       p->synthetic ? "uu:" : "", p->type);
	pst_buf_append_byte(&b, '\0');
	return b.data;
}

enum op_kind { OP_NONE, OP_REPLACE, OP_TOP, OP_BOTTOM };

struct op {
	enum op_kind kind;
	unsigned index;
	const char *text;
};

/* Rewrite text with ops, check the result (rewrite_check) and parse it
 * into out.  Returns the job's summary (on out's arena). */
static const char *
rewrite_text(const char *text, const struct op *ops, size_t nops,
	     struct msg *out)
{
	struct msg in;
	struct rewrite_plan *plan;
	struct rewrite_job *job;
	struct pst_spool *o;
	const char *error = NULL, *summary;
	char *res;

	msg_parse(&in, text, strlen(text));
	plan = rewrite_plan_new(in.arena);
	assert_non_null(plan);
	for (size_t i = 0; i < nops; i++) {
		int rc = ops[i].kind == OP_REPLACE
				 ? rewrite_plan_replace(plan, ops[i].index,
							ops[i].text)
				 : rewrite_plan_banner(plan,
						       ops[i].kind == OP_TOP
							       ? REWRITE_TOP
							       : REWRITE_BOTTOM,
						       ops[i].text);
		assert_int_equal(rc, 0);
	}
	job = rewrite_prepare(plan, in.spool, in.root, in.arena, &error);
	if (job == NULL)
		fail_msg("prepare: %s", error);
	o = pst_spool_new(1 << 20, NULL);
	assert_non_null(o);
	assert_int_equal(rewrite_write(job, 0, o, &error), 0);
	assert_int_equal(pst_spool_flush(o, &error), 0);
	if (rewrite_job_changes(job) && rewrite_check(job, o, &error) < 0)
		fail_msg("check: %s", error);
	res = ft_spool_text(o);
	msg_parse(out, res, strlen(res));
	summary = pst_arena_strdup(out->arena, rewrite_job_summary(job));
	free(res);
	pst_spool_free(&o);
	msg_free(&in);
	return summary;
}

static char *
spool_text(const struct msg *m)
{
	return ft_spool_text(m->spool);
}

/* ---- messages ---- */

#define HDR "From: a@example.org\r\nTo: b@example.net\r\nSubject: s\r\n"

/* 0 mixed, 1 text/plain, 2 octet-stream */
static const char mixed[] =
	HDR "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	    "\r\n"
	    "preamble\r\n"
	    "--b1\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n"
	    "Hello.\r\n"
	    "--b1\r\n"
	    "Content-Type: application/octet-stream; name=\"evil.exe\"\r\n"
	    "Content-Disposition: attachment; filename=\"evil.exe\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\r\n"
	    "--b1--\r\n"
	    "epilogue\r\n";

static const char mixed_stripped[] =
	HDR "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	    "\r\n"
	    "preamble\r\n"
	    "--b1\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n"
	    "Hello.\r\n"
	    "--b1\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "Content-Disposition: inline\r\n"
	    "\r\n"
	    "The attachment evil.exe was removed.\r\n"
	    "\r\n"
	    "--b1--\r\n"
	    "epilogue\r\n";

/* 0 mixed, 1 alternative, 2 plain QP, 3 html base64, 4 zip */
static const char nested[] = HDR
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
	"\r\n"
	"--alt\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Gr=C3=BC=C3=9Fe, a long line that goes on and on and on and on and "
	"o=\r\n"
	"n.\r\n"
	"--alt\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	/* <html><BODY class="x"><p>Hi</p></BODY></html> */
	"PGh0bWw+PEJPRFkgY2xhc3M9IngiPjxwPkhpPC9wPjwvQk9EWT48L2h0bWw+\r\n"
	"--alt--\r\n"
	"--outer\r\n"
	"Content-Type: application/zip; name=\"a.zip\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\r\n"
	"--outer--\r\n";

/* 0 mixed, 1 text, 2 signed, 3 mixed, 4 text, 5 exe, 6 signature */
static const char signed_msg[] =
	HDR "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"m\"\r\n"
	    "\r\n"
	    "--m\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "Outside.\r\n"
	    "--m\r\n"
	    "Content-Type: multipart/signed; protocol=\"application/"
	    "pkcs7-signature\"; micalg=sha-256; boundary=\"s\"\r\n"
	    "\r\n"
	    "--s\r\n"
	    "Content-Type: multipart/mixed; boundary=\"i\"\r\n"
	    "\r\n"
	    "--i\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "Signed text.\r\n"
	    "--i\r\n"
	    "Content-Type: application/x-msdownload; name=\"x.exe\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "TVqQAAMAAAAE\r\n"
	    "--i--\r\n"
	    "\r\n"
	    "--s\r\n"
	    "Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "MIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n"
	    "--s--\r\n"
	    "--m--\r\n";

/* 0 mixed, 1 text, 2 message/rfc822, 3 its mixed, 4 its text, 5 exe */
static const char attached_msg[] =
	HDR "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"m\"\r\n"
	    "\r\n"
	    "--m\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "See attached.\r\n"
	    "--m\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "\r\n"
	    "From: c@example.com\r\n"
	    "Subject: inner\r\n"
	    "Content-Type: multipart/mixed; boundary=\"n\"\r\n"
	    "\r\n"
	    "--n\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "Inner text.\r\n"
	    "--n\r\n"
	    "Content-Type: application/octet-stream; name=\"in.exe\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "TVqQAAMAAAAEAAAA\r\n"
	    "--n--\r\n"
	    "--m--\r\n";

/* 0 mixed, 1 text, 2 base64 message/rfc822 (3 its text, 4 its exe) */
static const char encoded_msg[] = HDR
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"m\"\r\n"
	"\r\n"
	"--m\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"See attached.\r\n"
	"--m\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	/* Content-Type: multipart/mixed; boundary="n"
	 *
	 * --n
	 * Content-Type: text/plain
	 *
	 * x
	 * --n
	 * Content-Type: application/octet-stream; name="e.exe"
	 *
	 * MZ
	 * --n-- */
	"Q29udGVudC1UeXBlOiBtdWx0aXBhcnQvbWl4ZWQ7IGJvdW5kYXJ5PSJuIg0KDQotLW4NCkNv\r\n"
	"bnRlbnQtVHlwZTogdGV4dC9wbGFpbg0KDQp4DQotLW4NCkNvbnRlbnQtVHlwZTogYXBwbGlj\r\n"
	"YXRpb24vb2N0ZXQtc3RyZWFtOyBuYW1lPSJlLmV4ZSINCg0KTVoNCi0tbi0tDQo=\r\n"
	"--m--\r\n";

/* 0 text/plain with a uuencoded file (1) */
static const char uu_msg[] = HDR "Content-Type: text/plain\r\n"
				 "\r\n"
				 "Before.\r\n"
				 "begin 644 evil.exe\r\n"
				 "#35I0\r\n"
				 "`\r\n"
				 "end\r\n"
				 "After.\r\n";

/* ---- tests: replacing ---- */

static void
test_replace_exact(void **state)
{
	struct op ops[] = { { OP_REPLACE, 2,
			      "The attachment evil.exe was removed." } };
	struct msg out;
	char *text;

	(void)state;
	rewrite_text(mixed, ops, 1, &out);
	text = spool_text(&out);
	assert_string_equal(text, mixed_stripped);
	free(text);
	msg_free(&out);
}

static void
test_replace_nested_and_attached(void **state)
{
	struct op ops[] = { { OP_REPLACE, 4, "zip removed" } };
	struct op in_msg[] = { { OP_REPLACE, 5, "inner exe removed" } };
	struct msg out;
	char *s, *t;

	(void)state;
	rewrite_text(nested, ops, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,multipart/alternative,"
			       "text/plain,text/html,text/plain");
	t = part_text(&out, 4);
	assert_string_equal(t, "zip removed\r\n");
	free(s);
	free(t);
	t = part_text(&out, 2); /* untouched, decoded */
	assert_non_null(strstr(t, "Grüße"));
	free(t);
	msg_free(&out);

	/* inside an attached (plain) message: only that part */
	rewrite_text(attached_msg, in_msg, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,text/plain,message/rfc822,"
			       "multipart/mixed,text/plain,text/plain");
	t = part_text(&out, 5);
	assert_string_equal(t, "inner exe removed\r\n");
	free(s);
	free(t);
	msg_free(&out);
}

static void
test_replace_encoded_message(void **state)
{
	struct op ops[] = { { OP_REPLACE, 4, "removed" } };
	struct msg in, out;
	char *s;

	(void)state;
	msg_parse(&in, encoded_msg, strlen(encoded_msg));
	s = shape(&in);
	assert_string_equal(s, "multipart/mixed,text/plain,message/rfc822,"
			       "multipart/mixed,text/plain,"
			       "application/octet-stream");
	free(s);
	msg_free(&in);
	/* index 5 is the exe inside the encoded message: the whole
	 * message goes */
	ops[0].index = 5;
	rewrite_text(encoded_msg, ops, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,text/plain,text/plain");
	free(s);
	msg_free(&out);
}

static void
test_replace_signed(void **state)
{
	struct op ops[] = { { OP_REPLACE, 5, "signed part removed" } };
	struct op banner[] = { { OP_TOP, 0, "EXTERNAL" } };
	struct msg out;
	char *s, *t, *all;
	const char *sum;

	(void)state;
	/* the exe is inside multipart/signed: the signed part goes whole */
	rewrite_text(signed_msg, ops, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,text/plain,text/plain");
	t = part_text(&out, 2);
	assert_string_equal(t, "signed part removed\r\n");
	free(s);
	free(t);
	msg_free(&out);

	/* a banner goes outside, never inside the signed part */
	sum = rewrite_text(signed_msg, banner, 1, &out);
	assert_string_equal(sum, "replaced=0 banners=1 skipped=0");
	t = part_text(&out, 1);
	assert_string_equal(t, "EXTERNAL\r\n\r\nOutside.");
	free(t);
	all = spool_text(&out);
	/* the signed part byte for byte */
	s = strstr(signed_msg, "--s\r\n");
	assert_non_null(strstr(all, s));
	free(all);
	msg_free(&out);
}

static void
test_replace_uuencoded(void **state)
{
	struct op ops[] = { { OP_REPLACE, 1, "uuencoded file removed" } };
	struct msg in, out;
	char *s, *t;

	(void)state;
	msg_parse(&in, uu_msg, strlen(uu_msg));
	s = shape(&in);
	assert_string_equal(s, "text/plain,uu:application/octet-stream");
	free(s);
	msg_free(&in);
	rewrite_text(uu_msg, ops, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "text/plain");
	t = part_text(&out, 0);
	assert_string_equal(t,
			    "Before.\r\nuuencoded file removed\r\nAfter.\r\n");
	free(s);
	free(t);
	msg_free(&out);
}

static void
test_replace_ignored(void **state)
{
	struct op ops[] = { { OP_REPLACE, 99, "nothing" } };
	struct msg out;
	char *t;
	const char *sum;

	(void)state;
	sum = rewrite_text(mixed, ops, 1, &out);
	assert_string_equal(sum, "replaced=0 banners=0 skipped=0");
	t = spool_text(&out);
	assert_string_equal(t, mixed);
	free(t);
	msg_free(&out);
}

/* ---- tests: banners ---- */

static void
test_banner_qp_base64(void **state)
{
	struct op ops[] = { { OP_TOP, 0, "Caution: external sender" },
			    { OP_BOTTOM, 0, "Footer & <more>" } };
	struct msg out;
	char *t;
	const char *sum;

	(void)state;
	sum = rewrite_text(nested, ops, 2, &out);
	assert_string_equal(sum, "replaced=0 banners=2 skipped=0");
	t = part_text(&out, 2);
	assert_string_equal(t, "Caution: external sender\r\n\r\n"
			       "Grüße, a long line that goes on and on and on "
			       "and on and on.\r\n\r\nFooter & <more>");
	free(t);
	assert_int_equal(part_at(&out, 2)->encoding, MIME_ENC_QP);
	assert_int_equal(part_at(&out, 2)->defects, 0);
	t = part_text(&out, 3);
	assert_string_equal(
		t, "<html><BODY class=\"x\"><div style=\"border:1px solid "
		   "#999;padding:4px\">Caution: external sender</div>"
		   "<p>Hi</p><div style=\"border:1px solid #999;padding:4px\">"
		   "Footer &amp; &lt;more&gt;</div></BODY></html>");
	free(t);
	assert_int_equal(part_at(&out, 3)->encoding, MIME_ENC_BASE64);
	assert_int_equal(part_at(&out, 3)->defects, 0);
	/* the attachment is untouched */
	t = part_text(&out, 4);
	assert_int_equal(part_at(&out, 4)->size, 22);
	free(t);
	msg_free(&out);
}

static void
test_banner_7bit_to_qp(void **state)
{
	static const char in[] =
		HDR "MIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; "
		    "boundary=b\r\n"
		    "\r\n"
		    "--b\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 7bit\r\n"
		    "\r\n"
		    "plain\r\n"
		    "--b--\r\n";
	struct op ops[] = { { OP_TOP, 0,
			      "Achtung: Absender extern, "
			      "Vorsicht bei Anhängen" } };
	struct msg out;
	char *t;

	(void)state;
	rewrite_text(in, ops, 1, &out);
	assert_int_equal(part_at(&out, 1)->encoding, MIME_ENC_QP);
	t = part_text(&out, 1);
	assert_string_equal(t, "Achtung: Absender extern, Vorsicht bei "
			       "Anhängen\r\n\r\nplain");
	free(t);
	msg_free(&out);
}

static void
test_banner_charsets(void **state)
{
	static const char latin[] = HDR "Content-Type: text/plain; "
					"charset=iso-8859-1\r\n"
					"Content-Transfer-Encoding: 8bit\r\n"
					"\r\n"
					"caf\xe9\r\n";
	static const char ascii[] = HDR "Content-Type: text/plain\r\n"
					"\r\n"
					"text\r\n";
	static const char utf16[] = HDR "Content-Type: text/plain; "
					"charset=utf-16\r\n"
					"Content-Transfer-Encoding: base64\r\n"
					"\r\n"
					"//5oAGkA\r\n";
	struct op ops[] = { { OP_TOP, 0, "Réservé" } };
	struct msg out;
	char *t;
	const char *sum;

	(void)state;
	rewrite_text(latin, ops, 1, &out);
	t = part_text(&out, 0);
	assert_string_equal(t, "R\xe9serv\xe9\r\n\r\ncaf\xe9\r\n");
	free(t);
	msg_free(&out);
	/* us-ascii: what does not exist there is '?' */
	rewrite_text(ascii, ops, 1, &out);
	t = part_text(&out, 0);
	assert_string_equal(t, "R?serv?\r\n\r\ntext\r\n");
	free(t);
	msg_free(&out);
	/* a charset ASCII text cannot go into: left alone */
	sum = rewrite_text(utf16, ops, 1, &out);
	assert_string_equal(sum, "replaced=0 banners=0 skipped=1");
	t = spool_text(&out);
	assert_string_equal(t, utf16);
	free(t);
	msg_free(&out);
}

static void
test_banner_wraps(void **state)
{
	static const char in[] = HDR "Content-Type: text/plain; "
				     "charset=utf-8\r\n"
				     "\r\n"
				     "x\r\n";
	struct op ops[] = { { OP_BOTTOM, 0,
			      "This message came from outside the "
			      "organisation. Do not click links or open "
			      "attachments unless you know the content is "
			      "safe.\nSecond line." } };
	struct msg out;
	char *t;

	(void)state;
	rewrite_text(in, ops, 1, &out);
	t = part_text(&out, 0);
	assert_string_equal(t, "x\r\n\r\n"
			       "This message came from outside the "
			       "organisation. Do not click links or open\r\n"
			       "attachments unless you know the content is "
			       "safe.\r\nSecond line.\r\n");
	free(t);
	msg_free(&out);
}

static void
test_banner_not_in_attachments(void **state)
{
	static const char in[] = HDR "MIME-Version: 1.0\r\n"
				     "Content-Type: multipart/mixed; "
				     "boundary=b\r\n"
				     "\r\n"
				     "--b\r\n"
				     "Content-Type: application/pdf\r\n"
				     "\r\n"
				     "%PDF\r\n"
				     "--b\r\n"
				     "Content-Type: text/plain\r\n"
				     "Content-Disposition: attachment; "
				     "filename=notes.txt\r\n"
				     "\r\n"
				     "notes\r\n"
				     "--b--\r\n";
	struct op ops[] = { { OP_TOP, 0, "banner" } };
	struct msg out;
	char *t;
	const char *sum;

	(void)state;
	sum = rewrite_text(in, ops, 1, &out);
	assert_string_equal(sum, "replaced=0 banners=0 skipped=1");
	t = spool_text(&out);
	assert_string_equal(t, in);
	free(t);
	msg_free(&out);
	/* nor in an attached message */
	sum = rewrite_text(attached_msg, ops, 1, &out);
	assert_string_equal(sum, "replaced=0 banners=1 skipped=0");
	t = part_text(&out, 4);
	assert_string_equal(t, "Inner text.");
	free(t);
	t = part_text(&out, 1);
	assert_string_equal(t, "banner\r\n\r\nSee attached.");
	free(t);
	msg_free(&out);
}

static void
test_banner_and_replace(void **state)
{
	struct op ops[] = { { OP_REPLACE, 2, "removed" },
			    { OP_BOTTOM, 0, "scanned" } };
	struct msg out;
	char *t;
	const char *sum;

	(void)state;
	sum = rewrite_text(mixed, ops, 2, &out);
	assert_string_equal(sum, "replaced=1 banners=1 skipped=0");
	t = part_text(&out, 1);
	assert_string_equal(t, "Hello.\r\n\r\nscanned");
	free(t);
	t = part_text(&out, 2);
	assert_string_equal(t, "removed\r\n");
	free(t);
	msg_free(&out);
}

/* Texts that look like the boundary must not end the multipart. */
static void
test_dash_lines(void **state)
{
	struct op notice[] = { { OP_REPLACE, 2, "--b1--\n-- removed" } };
	struct op banner[] = { { OP_BOTTOM, 0, "--b1--" } };
	struct msg out;
	char *s, *t;

	(void)state;
	rewrite_text(mixed, notice, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,text/plain,text/plain");
	t = part_text(&out, 2);
	assert_string_equal(t, "--b1--\r\n-- removed\r\n");
	assert_int_equal(part_at(&out, 2)->encoding, MIME_ENC_QP);
	free(s);
	free(t);
	msg_free(&out);

	rewrite_text(mixed, banner, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,text/plain,"
			       "application/octet-stream");
	t = part_text(&out, 1);
	assert_string_equal(t, "Hello.\r\n\r\n--b1--");
	assert_int_equal(part_at(&out, 1)->encoding, MIME_ENC_QP);
	free(s);
	free(t);
	msg_free(&out);

	/* uuencoded lines replaced in raw text: a blank in front */
	notice[0].index = 1;
	rewrite_text(uu_msg, notice, 1, &out);
	t = part_text(&out, 0);
	assert_string_equal(t, "Before.\r\n --b1--\r\n -- removed\r\n"
			       "After.\r\n");
	free(t);
	msg_free(&out);
}

/* A part whose header block has no empty line gets no banner: the
 * text would read as header (found by fuzz_rewrite). */
static void
test_banner_part_without_empty_line(void **state)
{
	static const char in[] = HDR "Content-Type: multipart/mixed; "
				     "boundary=s\r\n"
				     "\r\n"
				     "--s\r\n"
				     "Content-Type: text/plain\r\n"
				     "--s\r\n"
				     "Content-Type: text/plain\r\n"
				     "\r\n"
				     "second\r\n"
				     "--s--\r\n";
	struct op ops[] = { { OP_TOP, 0, "banner" } };
	struct msg out;
	char *t;

	(void)state;
	rewrite_text(in, ops, 1, &out);
	t = part_text(&out, 1);
	assert_string_equal(t, "");
	free(t);
	t = part_text(&out, 2);
	assert_string_equal(t, "banner\r\n\r\nsecond");
	free(t);
	msg_free(&out);
}

/* An empty 7bit part made quoted-printable: its empty line was also the
 * delimiter's line break (found by fuzz_rewrite). */
static void
test_banner_empty_part_to_qp(void **state)
{
	static const char in[] =
		HDR "Content-Type: multipart/mixed; "
		    "boundary=b\r\n"
		    "\r\n"
		    "--b\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "\r\n"
		    "--b\r\n"
		    "Content-Type: application/pdf\r\n"
		    "\r\n"
		    "%PDF\r\n"
		    "--b--\r\n";
	static const char in_qp[] =
		HDR "Content-Type: multipart/mixed; boundary=b\r\n"
		    "\r\n"
		    "--b\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n"
		    "\r\n"
		    "--b\r\n"
		    "Content-Type: application/pdf\r\n"
		    "\r\n"
		    "%PDF\r\n"
		    "--b--\r\n";
	struct op ops[] = { { OP_TOP, 0, "Grüße" } };
	struct msg out;
	char *s, *t;

	(void)state;
	rewrite_text(in, ops, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,text/plain,application/pdf");
	t = part_text(&out, 1);
	assert_string_equal(t, "Grüße");
	assert_int_equal(part_at(&out, 1)->encoding, MIME_ENC_QP);
	free(s);
	free(t);
	msg_free(&out);

	/* a bottom banner on an empty QP part: the delimiter keeps its
	 * line */
	ops[0].kind = OP_BOTTOM;
	ops[0].text = "end";
	rewrite_text(in_qp, ops, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,text/plain,application/pdf");
	t = part_text(&out, 1);
	assert_string_equal(t, "end");
	free(s);
	free(t);
	msg_free(&out);
}

/* An attached message with no empty line after its part's fields: the
 * whole message/rfc822 part is replaced, or the notice's fields would
 * join the part's (found by fuzz_rewrite). */
static void
test_replace_message_without_empty_line(void **state)
{
	static const char in[] = HDR "Content-Type: multipart/mixed; "
				     "boundary=c\r\n"
				     "\r\n"
				     "--c\r\n"
				     "Content-Type: message/rfc822\r\n"
				     "--c--\r\n";
	struct op ops[] = { { OP_REPLACE, 2, "removed" } };
	struct msg m, out;
	char *s;

	(void)state;
	msg_parse(&m, in, strlen(in));
	s = shape(&m);
	assert_string_equal(s, "multipart/mixed,message/rfc822,text/plain");
	free(s);
	msg_free(&m);
	rewrite_text(in, ops, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,text/plain");
	free(s);
	msg_free(&out);
}

/* A header block of message/delivery-status is no place for a part:
 * the container is replaced (found by fuzz_rewrite). */
static void
test_replace_delivery_status_block(void **state)
{
	static const char in[] =
		HDR "Content-Type: multipart/report; "
		    "report-type=delivery-status; "
		    "boundary=r\r\n"
		    "\r\n"
		    "--r\r\n"
		    "Content-Type: message/delivery-status\r\n"
		    "\r\n"
		    "Reporting-MTA: dns; mx.example.org\r\n"
		    "\r\n"
		    "Final-Recipient: rfc822; b@example.net\r\n"
		    "Action: failed\r\n"
		    "--r--\r\n";
	struct op ops[] = { { OP_REPLACE, 3, "removed" } };
	struct msg m, out;
	char *s;

	(void)state;
	msg_parse(&m, in, strlen(in));
	s = shape(&m);
	assert_string_equal(s, "multipart/report,message/delivery-status,"
			       "text/plain,text/plain");
	free(s);
	msg_free(&m);
	rewrite_text(in, ops, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/report,text/plain");
	free(s);
	msg_free(&out);
}

/* A delimiter at the very end of the input opens an empty part there:
 * the notice starts on a line of its own (found by fuzz_rewrite). */
static void
test_replace_after_final_delimiter(void **state)
{
	static const char in[] = HDR "Content-Type: multipart/mixed; "
				     "boundary=c\r\n"
				     "\r\n"
				     "--c\r\n"
				     "Content-Type: text/plain\r\n"
				     "\r\n"
				     "x\r\n"
				     "--c";
	struct op ops[] = { { OP_REPLACE, 2, "removed" } };
	struct msg out;
	char *s, *t;

	(void)state;
	rewrite_text(in, ops, 1, &out);
	s = shape(&out);
	assert_string_equal(s, "multipart/mixed,text/plain,text/plain");
	t = part_text(&out, 2);
	/* the last line break of an unclosed multipart is the parser's */
	assert_string_equal(t, "removed");
	free(s);
	free(t);
	msg_free(&out);
}

/* ---- tests: the check ---- */

static void
test_check_catches(void **state)
{
	struct msg in;
	struct rewrite_plan *plan;
	struct rewrite_job *job;
	const char *error = NULL;

	(void)state;
	msg_parse(&in, mixed, strlen(mixed));
	plan = rewrite_plan_new(in.arena);
	assert_int_equal(rewrite_plan_replace(plan, 2, "x"), 0);
	job = rewrite_prepare(plan, in.spool, in.root, in.arena, &error);
	assert_non_null(job);
	/* the original still carries the stripped part */
	assert_int_equal(rewrite_check(job, in.spool, &error), -1);
	assert_string_equal(error, "stripped content is still in the message");
	msg_free(&in);
}

static void
test_text_valid(void **state)
{
	static const struct {
		const char *text;
		bool ok;
	} cases[] = {
		{ "ok", true },	       { "two\nlines\tand tab", true },
		{ "Grüße", true },     { "", false },
		{ "bell\a", false },   { "cr\r\n", false },
		{ "bad \xc3", false }, { "del\x7f", false },
	};
	char *big = malloc(REWRITE_NOTICE_MAX + 2);

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		assert_int_equal(rewrite_text_valid(cases[i].text),
				 cases[i].ok);
	memset(big, 'a', REWRITE_NOTICE_MAX + 1);
	big[REWRITE_NOTICE_MAX + 1] = '\0';
	assert_false(rewrite_text_valid(big));
	big[REWRITE_NOTICE_MAX] = '\0';
	assert_true(rewrite_text_valid(big));
	free(big);
}

/* ---- tests: encoders ---- */

static char *
decode(enum mime_encoding enc, const char *in, size_t len, size_t *out_len,
       unsigned *defects)
{
	struct decoder d;
	unsigned char *out = malloc(decoder_max_out(len) + 8);
	size_t n;

	decoder_init(&d, enc);
	n = decoder_feed(&d, (const unsigned char *)in, len, out);
	n += decoder_finish(&d, out + n);
	*out_len = n;
	*defects = d.defects;
	return (char *)out;
}

static void
test_encoders(void **state)
{
#define IN(s)                                                                  \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}
	static const struct {
		const char *s;
		size_t len;
	} inputs[] = {
		IN(""),
		IN("a"),
		IN("ab"),
		IN("abc"),
		IN("line one\r\nline two\r\n"),
		IN("trailing blanks  \r\nand tab\t\r\n"),
		IN("= signs == and =3D\r\n"),
		IN(".leading dot\r\nFrom here\r\n-- dash\r\n"),
		IN("\x00\x01\xff binary \x80"),
		IN("a very long line that certainly goes over seventy-six "
		   "characters and needs soft breaks in quoted-printable, more "
		   "than once, indeed more than twice if it keeps going on"),
		IN("lf only\nlines\n"),
	};
#undef IN

	(void)state;
	for (size_t i = 0; i < N_ELEMS(inputs); i++) {
		struct pst_buf b;
		size_t n;
		unsigned defects;
		char *d;
		const char *line;

		/* base64 */
		pst_buf_init(&b, 0);
		assert_int_equal(
			pst_base64_encode(&b, inputs[i].s, inputs[i].len, 76),
			0);
		d = decode(MIME_ENC_BASE64, b.data ? b.data : "", b.len, &n,
			   &defects);
		assert_int_equal(n, inputs[i].len);
		assert_memory_equal(d, inputs[i].s, n);
		assert_int_equal(defects, 0);
		free(d);
		pst_buf_free(&b);

		/* quoted-printable: same bytes, LF read as CRLF */
		pst_buf_init(&b, 0);
		assert_int_equal(rewrite_enc_qp(&b, inputs[i].s, inputs[i].len),
				 0);
		for (line = b.data; line != NULL && *line;) {
			const char *e = strstr(line, "\r\n");
			size_t l = e ? (size_t)(e - line) : strlen(line);

			assert_true(l <= 76);
			assert_true(l == 0 || (line[l - 1] != ' ' &&
					       line[l - 1] != '\t'));
			for (size_t k = 0; k < l; k++)
				assert_true(line[k] >= 0x20 && line[k] < 0x7f);
			line = e ? e + 2 : NULL;
		}
		d = decode(MIME_ENC_QP, b.data ? b.data : "", b.len, &n,
			   &defects);
		assert_int_equal(defects, 0);
		if (i == N_ELEMS(inputs) - 1) {
			assert_int_equal(n, 16);
			assert_memory_equal(d, "lf only\r\nlines\r\n", 16);
		} else {
			assert_int_equal(n, inputs[i].len);
			assert_memory_equal(d, inputs[i].s, n);
		}
		free(d);
		pst_buf_free(&b);
	}
}

static void
test_enc_html(void **state)
{
	struct pst_buf b;

	(void)state;
	pst_buf_init(&b, 0);
	assert_int_equal(rewrite_enc_html(&b, "a<b>&\"c\"\n€ \xf0\x9f\x98\x80"),
			 0);
	assert_string_equal(b.data, "a&lt;b&gt;&amp;&quot;c&quot;<br>\r\n"
				    "&#8364; &#128512;");
	pst_buf_free(&b);
}

/* ---- through the chain: host functions, edit.c, the quarantine ---- */

/* A built-in filter that strips the part given by option index and
 * adds option banner. */
static int
strip_init(struct pf_module *m)
{
	int64_t *index = calloc(1, sizeof(*index));
	const char *banner = NULL;

	*index = -1;
	if (pf_option_int(m, "index", index) < 0 ||
	    pf_option_string(m, "banner", &banner) < 0)
		return -1;
	pf_module_set_data(m, index);
	(void)banner;
	return 0;
}

static void
strip_fini(struct pf_module *m)
{
	free(pf_module_data(m));
}

static enum pf_verdict
strip_message(struct pf_txn *t)
{
	int64_t *index = pf_module_data(pf_txn_module(t));
	const char *banner = NULL;
	const struct pf_part *p;

	pf_option_string(pf_txn_module(t), "banner", &banner);
	if (*index >= 0) {
		for (p = pf_part_root(t); p != NULL; p = pf_part_next(t, p))
			if (pf_part_index(t, p) == (unsigned)*index)
				break;
		if (p == NULL ||
		    pf_part_replace(t, (unsigned)*index, "stripped") < 0)
			return PF_ERROR;
		/* refused: an unknown part, a bad notice */
		if (pf_part_replace(t, 9999, "x") == 0 ||
		    pf_part_replace(t, 0, "bad\x01") == 0)
			return PF_ERROR;
	}
	if (banner != NULL && pf_banner_add(t, PF_BANNER_TOP, banner) < 0)
		return PF_ERROR;
	if (pf_banner_add(t, 7, "x") == 0)
		return PF_ERROR;
	return PF_CONTINUE;
}

static const struct postern_filter strip_def = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "strip",
	.init = strip_init,
	.fini = strip_fini,
	.on_message = strip_message,
};

static char qdir[] = "/tmp/test_rewrite.XXXXXX";

static int
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Run the strip filter with conf on text; the message that leaves. */
static char *
chain_rewrite(const char *conf, const char *text, bool loop)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	struct filter_outcome out;
	struct filter_rcpt r = { "b@example.net", NULL, 0 };
	struct pst_spool *o;
	const char *error = NULL;
	char *res;

	filter_builtin_register(&strip_def);
	assert_int_equal(ft_conf(&ft, conf), 0);
	ft.conf.quarantine_dir = qdir;
	ft.chain = filter_chain_new(ft.arena, &ft.conf, &ft.error);
	if (ft.chain == NULL)
		fail_msg("%s", ft.error);
	if (loop)
		ft_loop(&ft, 1);
	ctx = ft_ctx(&ft);
	assert_int_equal(filter_ctx_txn_begin(ctx, "QID1", "a@example.org"), 0);
	assert_int_equal(filter_ctx_rcpt_accepted(ctx, &r), 0);
	ft_message(ctx, text);
	ft_run(&ft, ctx, FILTER_MESSAGE, NULL, &out, NULL);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_true(filter_ctx_has_edits(ctx));
	o = pst_spool_new(1 << 20, NULL);
	if (filter_ctx_write_message(ctx, o, &error) < 0)
		fail_msg("write: %s", error);
	res = ft_spool_text(o);
	pst_spool_free(&o);
	filter_ctx_close(&ctx);
	ft_free(&ft);
	return res;
}

static void
test_chain_strip_keeps_original(void **state)
{
	char path[256];
	char *res;

	(void)state;
	res = chain_rewrite("filter strip { index = 2; }", mixed, true);
	assert_non_null(strstr(res, "Content-Disposition: inline\r\n\r\n"
				    "stripped\r\n\r\n--b1--\r\n"));
	assert_null(strstr(res, "TVqQ"));
	free(res);
	snprintf(path, sizeof(path), "%s/stripped/new", qdir);
	assert_int_equal(count_files(path), 1);
}

static void
test_chain_root_replaced(void **state)
{
	static const char in[] = "From: a@example.org\r\n"
				 "Content-Type: application/octet-stream; "
				 "name=x.exe\r\n"
				 "Content-Transfer-Encoding: base64\r\n"
				 "Subject: s\r\n"
				 "\r\n"
				 "TVqQAAMAAAAE\r\n";
	static const char want[] = "From: a@example.org\r\n"
				   "Subject: s\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Transfer-Encoding: 7bit\r\n"
				   "MIME-Version: 1.0\r\n"
				   "\r\n"
				   "stripped\r\n";
	char *res;

	(void)state;
	/* without a loop (postern scan): nothing kept, still rewritten */
	res = chain_rewrite("filter strip { index = 0; }", in, false);
	assert_string_equal(res, want);
	free(res);
}

static void
test_chain_banner_root(void **state)
{
	static const char in[] =
		"From: a@example.org\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"caf=C3=A9\r\n";
	static const char want[] =
		"From: a@example.org\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"=C3=A9t=C3=A9\r\n"
		"\r\n"
		"caf=C3=A9\r\n";
	char *res;

	(void)state;
	res = chain_rewrite("filter strip { banner = \"été\"; }", in, false);
	assert_string_equal(res, want);
	free(res);
}

/* A message without an empty line (or a body) gets one before the
 * banner, even when its last field has no line break. */
static void
test_chain_no_body(void **state)
{
	char *res;

	(void)state;
	res = chain_rewrite("filter strip { banner = \"b\"; }",
			    "Subject: x\r\nContent-Type: text/plain", false);
	assert_string_equal(res, "Subject: x\r\nContent-Type: text/plain"
				 "\r\n\r\nb\r\n");
	free(res);
	res = chain_rewrite("filter strip { banner = \"b\"; }",
			    "Subject: x\r\n", false);
	assert_string_equal(res, "Subject: x\r\n\r\nb\r\n");
	free(res);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(qdir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace_exact),
		cmocka_unit_test(test_replace_nested_and_attached),
		cmocka_unit_test(test_replace_encoded_message),
		cmocka_unit_test(test_replace_signed),
		cmocka_unit_test(test_replace_uuencoded),
		cmocka_unit_test(test_replace_ignored),
		cmocka_unit_test(test_banner_qp_base64),
		cmocka_unit_test(test_banner_7bit_to_qp),
		cmocka_unit_test(test_banner_charsets),
		cmocka_unit_test(test_banner_wraps),
		cmocka_unit_test(test_banner_not_in_attachments),
		cmocka_unit_test(test_banner_and_replace),
		cmocka_unit_test(test_dash_lines),
		cmocka_unit_test(test_banner_part_without_empty_line),
		cmocka_unit_test(test_banner_empty_part_to_qp),
		cmocka_unit_test(test_replace_message_without_empty_line),
		cmocka_unit_test(test_replace_after_final_delimiter),
		cmocka_unit_test(test_replace_delivery_status_block),
		cmocka_unit_test(test_check_catches),
		cmocka_unit_test(test_text_valid),
		cmocka_unit_test(test_encoders),
		cmocka_unit_test(test_enc_html),
		cmocka_unit_test(test_chain_strip_keeps_original),
		cmocka_unit_test(test_chain_root_replaced),
		cmocka_unit_test(test_chain_banner_root),
		cmocka_unit_test(test_chain_no_body),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
