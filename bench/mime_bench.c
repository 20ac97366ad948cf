/*
 * mime_bench.c - MIME parse + decode throughput and base64 decoding speed,
 * postern against GMime 3 measured in the same run, and the peak RSS of
 * postern's parser on a 100 MiB message.
 *
 * Built and run by bench/mime_bench.sh, outside the autotools build (GMime
 * is a benchmark-only dependency).  Every input is generated here from a
 * fixed seed, in memory, before any clock starts; each figure is the best
 * of several rounds, the two libraries alternating.  Peak RSS is measured
 * on a fresh process per case (this program re-executed), from wait4().
 *
 * Built with -DHAVE_MIME_PARSER when libpstmail.a has the MIME parser;
 * without it only the decoders are measured (see mime_bench.sh).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "buf.h"
#include "decode.h"
#ifdef HAVE_MIME_PARSER
#include "arena.h"
#include "mime.h"
#endif

#define MIB (1024.0 * 1024.0)
/* Both parsers get the message in chunks of this size, as from a socket
 * or a spool file. */
#define CHUNK (64 * 1024)

static unsigned rounds = 3;

/* ---- generated input ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned
rng_below(unsigned n)
{
	return (unsigned)(rng() % n);
}

/* Output goes to memory or, for the 100 MiB message, to a file. */
struct sink {
	struct pst_buf *buf;
	FILE *f;
	uint64_t len;
};

static void
die(const char *what)
{
	fprintf(stderr, "mime_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
put(struct sink *s, const void *p, size_t n)
{
	if (s->f != NULL) {
		if (fwrite(p, 1, n, s->f) != n)
			die("write");
	} else if (pst_buf_append(s->buf, p, n) < 0) {
		die("out of memory");
	}
	s->len += n;
}

static void putf(struct sink *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
putf(struct sink *s, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		die("line too long");
	put(s, line, (size_t)n);
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* raw random bytes as base64, 76-column CRLF lines */
static void
put_base64(struct sink *s, size_t raw)
{
	char line[80];

	while (raw > 0) {
		size_t take = raw < 57 ? raw : 57, n = 0;

		for (size_t i = 0; i < take; i += 3) {
			uint64_t r = rng();
			unsigned v = (unsigned)(r & 0xffffff);
			size_t have = take - i;

			line[n++] = b64_alphabet[v >> 18];
			line[n++] = b64_alphabet[(v >> 12) & 63];
			line[n++] =
				have > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
			line[n++] = have > 2 ? b64_alphabet[v & 63] : '=';
		}
		line[n++] = '\r';
		line[n++] = '\n';
		put(s, line, n);
		raw -= take;
	}
}

/* raw random bytes as one base64 header value, folded (DKIM b=) */
static void
put_base64_folded(struct sink *s, size_t raw)
{
	char v[1024];
	size_t n = 0;

	for (size_t i = 0; i < raw && n + 8 < sizeof(v); i += 3) {
		unsigned w = (unsigned)(rng() & 0xffffff);

		v[n++] = b64_alphabet[w >> 18];
		v[n++] = b64_alphabet[(w >> 12) & 63];
		v[n++] = b64_alphabet[(w >> 6) & 63];
		v[n++] = b64_alphabet[w & 63];
	}
	for (size_t i = 0; i < n; i += 72) {
		if (i > 0)
			put(s, "\r\n\t", 3);
		put(s, v + i, n - i < 72 ? n - i : 72);
	}
	put(s, "\r\n", 2);
}

static const char *const words[] = {
	"the",	    "meeting", "invoice",  "attached", "please",   "review",
	"before",   "Friday",  "thanks",   "regards",  "project",  "budget",
	"report",   "update",  "schedule", "Müller",   "café",	   "€100",
	"naïve",    "déjà",    "quarter",  "results",  "team",	   "client",
	"shipping", "order",   "number",   "account",  "password", "reset",
	"link",	    "below",   "urgent",   "contract", "draft",	   "final",
};

/* Text of about len bytes, quoted-printable, 76-column lines. */
static void
put_qp_text(struct sink *s, size_t len, bool html)
{
	char line[128];
	size_t n = 0, total = 0;

	if (html)
		put(s, "<html><body><p>\r\n", 17);
	while (total < len) {
		const char *w =
			words[rng_below(sizeof(words) / sizeof(*words))];
		char enc[64];
		size_t e = 0;

		for (const unsigned char *c = (const unsigned char *)w; *c;
		     c++) {
			if (*c >= 0x80 || *c == '=')
				e += (size_t)snprintf(enc + e, sizeof(enc) - e,
						      "=%02X", *c);
			else
				enc[e++] = (char)*c;
		}
		if (n + e + 2 > 75) {
			line[n++] = '=';
			line[n++] = '\r';
			line[n++] = '\n';
			put(s, line, n);
			total += n;
			n = 0;
			if (rng_below(4) == 0) {
				put(s, html ? "</p><p>\r\n" : "\r\n",
				    html ? 9 : 2);
				total += 2;
			}
		}
		memcpy(line + n, enc, e);
		n += e;
		line[n++] = ' ';
	}
	line[n++] = '\r';
	line[n++] = '\n';
	put(s, line, n);
	if (html)
		put(s, "</p></body></html>\r\n", 20);
}

static unsigned msg_serial;

static void
put_headers(struct sink *s, const char *content_type)
{
	unsigned id = ++msg_serial;

	putf(s, "Return-Path: <sender%u@example.net>\r\n", id);
	for (int k = 0; k < 3; k++)
		putf(s,
		     "Received: from mail%u.example.net (mail%u.example.net "
		     "[192.0.2.%u])\r\n\tby mx%d.example.org (Postfix) with "
		     "ESMTPS id %08X\r\n\tfor <rcpt@example.org>; Tue, 3 Sep "
		     "2024 10:%02u:%02u +0000\r\n",
		     id, id, id % 250 + 1, k, (unsigned)rng(), id % 60,
		     rng_below(60));
	putf(s, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
		"d=example.net;\r\n\ts=sel1; t=1725357600; "
		"h=from:to:subject:date:message-id:mime-version;\r\n"
		"\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\tb=");
	put_base64_folded(s, 192);
	putf(s,
	     "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= "
	     "<juergen%u@example.net>\r\n",
	     id);
	putf(s, "To: \"Recipient Name\" <rcpt@example.org>, "
		"other@example.org\r\n");
	putf(s, "Subject: =?UTF-8?B?UmU6IFJlY2hudW5nIE5yLiA=?= %u %s %s\r\n",
	     id, words[rng_below(10)], words[rng_below(10)]);
	putf(s, "Date: Tue, 3 Sep 2024 10:%02u:%02u +0200\r\n", id % 60,
	     rng_below(60));
	putf(s, "Message-ID: <%u.%08x@example.net>\r\n", id, (unsigned)rng());
	putf(s, "MIME-Version: 1.0\r\n");
	putf(s, "Content-Type: %s\r\n\r\n", content_type);
}

static void
put_text_part(struct sink *s, size_t len, bool html)
{
	putf(s,
	     "Content-Type: text/%s; charset=\"utf-8\"\r\n"
	     "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
	     html ? "html" : "plain");
	put_qp_text(s, len, html);
}

static void
put_attachment(struct sink *s, size_t raw)
{
	static const char *const names[][2] = {
		{ "\"invoice.pdf\"", "filename=\"invoice.pdf\"" },
		{ "\"=?UTF-8?Q?r=C3=A9sum=C3=A9.docx?=\"",
		  "filename*=UTF-8''r%C3%A9sum%C3%A9.docx" },
		{ "\"=?UTF-8?Q?Angebot_M=C3=BCller.xlsx?=\"",
		  "filename=\"=?UTF-8?Q?Angebot_M=C3=BCller.xlsx?=\"" },
		{ "scan0042.jpg", "filename=scan0042.jpg" },
	};
	unsigned k = rng_below(4);

	putf(s,
	     "Content-Type: application/octet-stream; name=%s\r\n"
	     "Content-Disposition: attachment;\r\n %s\r\n"
	     "Content-Transfer-Encoding: base64\r\n\r\n",
	     names[k][0], names[k][1]);
	put_base64(s, raw);
}

/* One small message of a realistic shape. */
static void
put_small_message(struct sink *s)
{
	unsigned kind = rng_below(10);
	char ct[128];
	char b1[40], b2[40];

	snprintf(b1, sizeof(b1), "----=_Part_%u_%u", msg_serial + 1,
		 (unsigned)rng() % 100000);
	snprintf(b2, sizeof(b2), "----=_Alt_%u", (unsigned)rng() % 100000);
	if (kind < 4) { /* plain text */
		put_headers(s, "text/plain; charset=\"utf-8\"\r\n"
			       "Content-Transfer-Encoding: quoted-printable");
		put_qp_text(s, 500 + rng_below(6000), false);
		return;
	}
	if (kind < 7) { /* text + html */
		snprintf(ct, sizeof(ct),
			 "multipart/alternative;\r\n\tboundary=\"%s\"", b2);
		put_headers(s, ct);
		putf(s, "--%s\r\n", b2);
		put_text_part(s, 500 + rng_below(4000), false);
		putf(s, "--%s\r\n", b2);
		put_text_part(s, 1000 + rng_below(8000), true);
		putf(s, "--%s--\r\n", b2);
		return;
	}
	snprintf(ct, sizeof(ct), "multipart/mixed;\r\n\tboundary=\"%s\"", b1);
	put_headers(s, ct);
	putf(s, "This is a multi-part message in MIME format.\r\n\r\n");
	if (kind < 9) { /* alternative + attachments */
		putf(s,
		     "--%s\r\nContent-Type: multipart/alternative; "
		     "boundary=\"%s\"\r\n\r\n--%s\r\n",
		     b1, b2, b2);
		put_text_part(s, 300 + rng_below(2000), false);
		putf(s, "--%s\r\n", b2);
		put_text_part(s, 600 + rng_below(4000), true);
		putf(s, "--%s--\r\n", b2);
		for (unsigned a = 0; a <= kind - 7; a++) {
			putf(s, "--%s\r\n", b1);
			put_attachment(s, 4000 + rng_below(60000));
		}
	} else { /* a forwarded message */
		putf(s, "--%s\r\n", b1);
		put_text_part(s, 200 + rng_below(1000), false);
		putf(s,
		     "--%s\r\nContent-Type: message/rfc822\r\n"
		     "Content-Disposition: inline\r\n\r\n",
		     b1);
		put_headers(s, "text/plain; charset=utf-8\r\n"
			       "Content-Transfer-Encoding: quoted-printable");
		put_qp_text(s, 500 + rng_below(3000), false);
	}
	putf(s, "--%s--\r\n", b1);
}

/* A message of base64 attachments, about total bytes. */
static void
put_big_message(struct sink *s, uint64_t total)
{
	const char *b = "----=_Part_big_0001";
	char ct[96];

	snprintf(ct, sizeof(ct), "multipart/mixed; boundary=\"%s\"", b);
	put_headers(s, ct);
	putf(s, "--%s\r\n", b);
	put_text_part(s, 2000, false);
	while (s->len < total) {
		uint64_t left = total - s->len;
		size_t raw = left > 4 * 1024 * 1024 ? 3 * 1024 * 1024
						    : (size_t)(left * 3 / 4);

		putf(s, "--%s\r\n", b);
		put_attachment(s, raw > 1000 ? raw : 1000);
	}
	putf(s, "--%s--\r\n", b);
}

/* ---- timing ---- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- base64 alone ---- */

static uint64_t
ours_b64(const unsigned char *in, size_t len, unsigned char *out)
{
	struct decoder d;
	uint64_t total = 0;

	decoder_init(&d, MIME_ENC_BASE64);
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;

		total += decoder_feed(&d, in + off, n, out + total);
	}
	total += decoder_finish(&d, out + total);
	return total;
}

static uint64_t
gmime_b64(const unsigned char *in, size_t len, unsigned char *out)
{
	uint64_t total = 0;
	guint32 save = 0;
	int state = 0;

	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;

		total += g_mime_encoding_base64_decode_step(
			in + off, n, out + total, &state, &save);
	}
	return total;
}

/* ---- parse + decode ---- */

#ifdef HAVE_MIME_PARSER
static struct pst_arena *arena;

/* Returns the decoded bytes of all leaves (a cross-check with GMime). */
static uint64_t
ours_parse(const char *msg, size_t len)
{
	struct mime_parser *p = mime_parser_new(arena, NULL);
	struct mime_part *root;
	const struct mime_part *part;
	const char *error;
	uint64_t total = 0;

	if (p == NULL)
		die("mime_parser_new");
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;

		if (mime_parser_feed(p, msg + off, n, &error) < 0)
			die(error);
	}
	if (mime_parser_end(p, &root, &error) < 0)
		die(error);
	for (part = root; part != NULL; part = mime_part_next(part))
		if (part->kind == MIME_PART_LEAF)
			total += part->size;
	mime_parser_free(&p);
	pst_arena_reset(arena);
	return total;
}
#endif

static void
gmime_walk(GMimeObject *obj, GMimeStream *null)
{
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		for (int i = 0; i < n; i++)
			gmime_walk(g_mime_multipart_get_part(mp, i), null);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(
			GMIME_MESSAGE_PART(obj));

		if (m != NULL && g_mime_message_get_mime_part(m) != NULL)
			gmime_walk(g_mime_message_get_mime_part(m), null);
	} else if (GMIME_IS_PART(obj)) {
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(obj));

		if (w != NULL)
			g_mime_data_wrapper_write_to_stream(w, null);
	}
}

static uint64_t
gmime_parse_stream(GMimeStream *in)
{
	GMimeStream *null = g_mime_stream_null_new();
	GMimeParser *parser = g_mime_parser_new_with_stream(in);
	GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
	uint64_t total;

	if (m == NULL) {
		fprintf(stderr, "mime_bench: GMime could not parse\n");
		exit(1);
	}
	gmime_walk(g_mime_message_get_mime_part(m), null);
	total = GMIME_STREAM_NULL(null)->written;
	g_object_unref(m);
	g_object_unref(parser);
	g_object_unref(null);
	return total;
}

static uint64_t
gmime_parse(const char *msg, size_t len)
{
	/* The memory stream copies the message: a memcpy, < 2% of the
	 * parse, left in as GMime cannot read from a caller's buffer. */
	GMimeStream *in = g_mime_stream_mem_new_with_buffer(msg, len);
	uint64_t total = gmime_parse_stream(in);

	g_object_unref(in);
	return total;
}

/* A set of messages in one buffer. */
struct corpus {
	struct pst_buf data;
	size_t *off; /* n + 1 offsets */
	size_t n;
};

typedef uint64_t parse_fn(const char *msg, size_t len);

static double
time_corpus(parse_fn *fn, const struct corpus *c, uint64_t *decoded_r)
{
	double t = now();
	uint64_t total = 0;

	for (size_t i = 0; i < c->n; i++)
		total +=
			fn(c->data.data + c->off[i], c->off[i + 1] - c->off[i]);
	*decoded_r = total;
	return now() - t;
}

struct pair {
	double ours, gmime; /* best seconds */
	uint64_t ours_out, gmime_out;
};

static void
print_pair(const char *what, const struct pair *p, double mb, size_t msgs)
{
	printf("%-28s %10.1f %10.1f %8.2f", what, mb / p->ours, mb / p->gmime,
	       p->gmime / p->ours);
	if (msgs > 1)
		printf("   (%.0f vs %.0f msgs/s)", (double)msgs / p->ours,
		       (double)msgs / p->gmime);
	printf("\n");
}

/* ---- peak RSS in a fresh process ---- */

static void
rss_child(const char *which, const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die(path);
	if (strcmp(which, "gmime") == 0) {
		/* GMime reads the file itself; seekable, so it keeps part
		 * content as offsets into it (persist stream). */
		GMimeStream *in;

		g_mime_init();
		in = g_mime_stream_fs_new(fd);
		gmime_parse_stream(in);
		g_object_unref(in);
		exit(0);
	}
#ifdef HAVE_MIME_PARSER
	{
		static char buf[CHUNK];
		struct mime_parser *p = mime_parser_new(arena, NULL);
		struct mime_part *root;
		const char *error;
		ssize_t n;

		if (p == NULL)
			die("mime_parser_new");
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (mime_parser_feed(p, buf, (size_t)n, &error) < 0)
				die(error);
		if (n < 0)
			die("read");
		if (mime_parser_end(p, &root, &error) < 0)
			die(error);
		mime_parser_free(&p);
	}
#endif
	close(fd);
	exit(0);
}

/* Peak RSS (KiB) of "self rss WHICH PATH". */
static long
rss_of(const char *self, const char *which, const char *path)
{
	struct rusage ru;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execl(self, self, "rss", which, path, (char *)NULL);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "mime_bench: rss %s %s failed\n", which, path);
		exit(1);
	}
	return ru.ru_maxrss;
}

static void
write_message_file(const char *path, uint64_t size)
{
	struct sink s = { NULL, fopen(path, "w"), 0 };

	if (s.f == NULL)
		die(path);
	put_big_message(&s, size);
	if (fclose(s.f) != 0)
		die(path);
}

static unsigned long
env_num(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strtoul(v, NULL, 10) : def;
}

int
main(int argc, char **argv)
{
	unsigned long b64_mb, big_mb, small_n, rss_mb;
	char self[4096], path_big[4200], path_small[4200];
	struct pst_buf blob, bigmsg;
	struct corpus small;
	unsigned char *out;
	struct pair b64 = { 1e9, 1e9, 0, 0 }, big = { 1e9, 1e9, 0, 0 },
		    sm = { 1e9, 1e9, 0, 0 };
	double t, small_mb;
	long rss_ours_small = 0, rss_ours_big = 0, rss_gm_small, rss_gm_big;
	ssize_t sl;

#ifdef HAVE_MIME_PARSER
	arena = pst_arena_new(64 * 1024);
	if (arena == NULL)
		die("arena");
#endif
	if (argc == 4 && strcmp(argv[1], "rss") == 0)
		rss_child(argv[2], argv[3]);
	if (argc != 2) {
		fprintf(stderr, "usage: mime_bench WORKDIR\n");
		return 2;
	}
	sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl < 0)
		die("readlink");
	self[sl] = '\0';
	rounds = (unsigned)env_num("BENCH_ROUNDS", 3);
	b64_mb = env_num("MIME_BENCH_B64_MB", 20);
	big_mb = env_num("MIME_BENCH_BIG_MB", 20);
	small_n = env_num("MIME_BENCH_SMALL_MSGS", 10000);
	rss_mb = env_num("MIME_BENCH_RSS_MB", 100);

	/* Peak RSS first, while this process is small (GMime not even
	 * initialised): a child's ru_maxrss also counts what it inherited
	 * before exec. */
	snprintf(path_big, sizeof(path_big), "%s/rss-big.eml", argv[1]);
	snprintf(path_small, sizeof(path_small), "%s/rss-small.eml", argv[1]);
	write_message_file(path_big, (uint64_t)rss_mb * 1024 * 1024);
	write_message_file(path_small, 1024 * 1024);
#ifdef HAVE_MIME_PARSER
	rss_ours_small = rss_of(self, "ours", path_small);
	rss_ours_big = rss_of(self, "ours", path_big);
#endif
	rss_gm_small = rss_of(self, "gmime", path_small);
	rss_gm_big = rss_of(self, "gmime", path_big);
	unlink(path_big);
	unlink(path_small);

	g_mime_init();
	/* Inputs, before any clock starts. */
	pst_buf_init(&blob, 0);
	{
		struct sink s = { &blob, NULL, 0 };

		put_base64(&s, b64_mb * 1024 * 1024 / 4 * 3);
	}
	pst_buf_init(&bigmsg, 0);
	{
		struct sink s = { &bigmsg, NULL, 0 };

		put_big_message(&s, (uint64_t)big_mb * 1024 * 1024);
	}
	pst_buf_init(&small.data, 0);
	small.n = small_n;
	small.off = calloc(small_n + 1, sizeof(*small.off));
	if (small.off == NULL)
		die("calloc");
	{
		struct sink s = { &small.data, NULL, 0 };

		for (size_t i = 0; i < small_n; i++) {
			small.off[i] = small.data.len;
			put_small_message(&s);
		}
		small.off[small_n] = small.data.len;
	}
	small_mb = (double)small.data.len / MIB;
	out = malloc(blob.len + 64);
	if (out == NULL)
		die("malloc");

	printf("mime_bench: best of %u rounds, %d KiB chunks\n", rounds,
	       CHUNK / 1024);
	printf("inputs: base64 blob %.1f MiB; message of base64 attachments "
	       "%.1f MiB; %zu small messages, %.1f MiB (mean %.1f KiB)\n",
	       (double)blob.len / MIB, (double)bigmsg.len / MIB, small.n,
	       small_mb, small_mb * 1024 / (double)small.n);
	printf("\n%-28s %10s %10s %8s\n", "MiB/s of input", "postern", "GMime",
	       "ratio");

	for (unsigned r = 0; r < rounds + 2; r++) {
		t = now();
		b64.ours_out =
			ours_b64((unsigned char *)blob.data, blob.len, out);
		t = now() - t;
		if (t < b64.ours)
			b64.ours = t;
		t = now();
		b64.gmime_out =
			gmime_b64((unsigned char *)blob.data, blob.len, out);
		t = now() - t;
		if (t < b64.gmime)
			b64.gmime = t;
	}
	if (b64.ours_out != b64.gmime_out) {
		fprintf(stderr,
			"mime_bench: base64 output differs: %llu vs "
			"%llu bytes\n",
			(unsigned long long)b64.ours_out,
			(unsigned long long)b64.gmime_out);
		return 1;
	}
	print_pair("base64 decode", &b64, (double)blob.len / MIB, 1);

#ifdef HAVE_MIME_PARSER
	{
		struct corpus one = { bigmsg, (size_t[]){ 0, bigmsg.len }, 1 };

		for (unsigned r = 0; r < rounds; r++) {
			t = time_corpus(ours_parse, &one, &big.ours_out);
			if (t < big.ours)
				big.ours = t;
			t = time_corpus(gmime_parse, &one, &big.gmime_out);
			if (t < big.gmime)
				big.gmime = t;
			t = time_corpus(ours_parse, &small, &sm.ours_out);
			if (t < sm.ours)
				sm.ours = t;
			t = time_corpus(gmime_parse, &small, &sm.gmime_out);
			if (t < sm.gmime)
				sm.gmime = t;
		}
	}
	print_pair("parse+decode, 20 MiB msg", &big, (double)bigmsg.len / MIB,
		   1);
	print_pair("parse+decode, small msgs", &sm, small_mb, small.n);
	printf("decoded bytes (cross-check): big %llu vs %llu, small %llu "
	       "vs %llu\n",
	       (unsigned long long)big.ours_out,
	       (unsigned long long)big.gmime_out,
	       (unsigned long long)sm.ours_out,
	       (unsigned long long)sm.gmime_out);
#else
	(void)time_corpus;
	(void)gmime_parse;
	(void)print_pair;
	printf("parse+decode: TODO - libpstmail.a has no MIME parser yet; "
	       "only decoding measured\n");
	(void)big;
	(void)sm;
#endif

	printf("\n%-28s %10s %10s\n", "peak RSS, MiB", "postern", "GMime");
	printf("%-28s %10.1f %10.1f\n", "1 MiB message",
	       (double)rss_ours_small / 1024, (double)rss_gm_small / 1024);
	printf("%3lu MiB message %12s %10.1f %10.1f\n", rss_mb, "",
	       (double)rss_ours_big / 1024, (double)rss_gm_big / 1024);
	printf("%-28s %10.1f %10.1f\n", "growth",
	       (double)(rss_ours_big - rss_ours_small) / 1024,
	       (double)(rss_gm_big - rss_gm_small) / 1024);
	printf("\nSUMMARY mime_bench: base64 %.0f MiB/s (GMime %.0f, x%.2f)",
	       (double)blob.len / MIB / b64.ours,
	       (double)blob.len / MIB / b64.gmime, b64.gmime / b64.ours);
#ifdef HAVE_MIME_PARSER
	printf("; big msg %.0f MiB/s (GMime %.0f, x%.2f); small msgs %.0f "
	       "MiB/s (GMime %.0f, x%.2f); RSS growth 1->%lu MiB: %.1f MiB",
	       (double)bigmsg.len / MIB / big.ours,
	       (double)bigmsg.len / MIB / big.gmime, big.gmime / big.ours,
	       small_mb / sm.ours, small_mb / sm.gmime, sm.gmime / sm.ours,
	       rss_mb, (double)(rss_ours_big - rss_ours_small) / 1024);
#else
	printf("; parse+decode TODO (no MIME parser in libpstmail.a)");
#endif
	printf("\n");
	free(out);
	free(small.off);
	pst_buf_free(&blob);
	pst_buf_free(&bigmsg);
	pst_buf_free(&small.data);
	return 0;
}
