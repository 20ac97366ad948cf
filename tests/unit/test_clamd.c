/*
 * test_clamd.c - unit tests for the clamd filter (filters/clamd*.c)
 * against a stand-in clamd on a unix socket and on loopback: the
 * INSTREAM framing (chunks reassemble to the message), clean, infected
 * and error replies, clamd closing at its StreamMaxLength while we
 * send, a clamd that never answers (timeout), a refused connection, a
 * malformed reply; reply parsing and address parsing tables; the
 * filter in a chain: results for the rules, on_failure on errors,
 * max_size.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clamd.h"
#include "filter_test.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

extern const struct postern_filter filter_clamd_def;

/* ---- the stand-in clamd ---- */

enum fake_mode {
	FAKE_OK,
	FAKE_FOUND,
	FAKE_LIMIT,   /* "size limit exceeded" after limit bytes, close */
	FAKE_SILENT,  /* read everything, never answer */
	FAKE_CLOSE,   /* close at once */
	FAKE_GARBAGE, /* a reply that means nothing */
};

struct fake {
	int lfd;
	enum fake_mode mode;
	size_t limit;
	pthread_t thread;
	/* what arrived */
	char cmd[16];
	char *data;
	size_t len;
	unsigned chunks;
	bool framing_ok;
	int stop[2]; /* a pipe: the test says stop */
};

static bool
fake_read(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void
fake_serve(struct fake *f, int fd)
{
	static const char *const replies[] = {
		[FAKE_OK] = "stream: OK",
		[FAKE_FOUND] = "stream: Eicar-Test-Signature FOUND",
		[FAKE_GARBAGE] = "what?",
	};
	uint32_t be;

	if (f->mode == FAKE_CLOSE)
		return;
	if (!fake_read(fd, f->cmd, 10))
		return;
	for (;;) {
		size_t n;

		if (!fake_read(fd, &be, 4))
			return;
		n = ntohl(be);
		if (n == 0)
			break;
		f->chunks++;
		f->framing_ok = f->framing_ok && n <= CLAMD_CHUNK;
		f->data = realloc(f->data, f->len + n);
		if (!fake_read(fd, f->data + f->len, n))
			return;
		f->len += n;
		if (f->mode == FAKE_LIMIT && f->len > f->limit) {
			static const char msg[] =
				"INSTREAM size limit exceeded. ERROR";

			send(fd, msg, sizeof(msg), MSG_NOSIGNAL);
			return;
		}
	}
	if (f->mode == FAKE_SILENT) {
		struct pollfd p = { f->stop[0], POLLIN, 0 };

		poll(&p, 1, 10000);
		return;
	}
	send(fd, replies[f->mode], strlen(replies[f->mode]) + 1, MSG_NOSIGNAL);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	fake_serve(f, fd);
	close(fd);
	return NULL;
}

static char sock_dir[] = "/tmp/test_clamd.XXXXXX";

/* Listen on a unix socket (unix) or 127.0.0.1:ephemeral; address in
 * addr. */
static void
fake_start(struct fake *f, enum fake_mode mode, bool unix_sock, char *addr,
	   size_t size)
{
	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->limit = 100000;
	f->framing_ok = true;
	assert_int_equal(pipe(f->stop), 0);
	if (unix_sock) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };

		snprintf(addr, size, "%s/clamd.sock", sock_dir);
		unlink(addr);
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", addr);
		f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_int_equal(
			bind(f->lfd, (struct sockaddr *)&un, sizeof(un)), 0);
	} else {
		struct sockaddr_in in = { .sin_family = AF_INET };
		socklen_t len = sizeof(in);

		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		f->lfd = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(
			bind(f->lfd, (struct sockaddr *)&in, sizeof(in)), 0);
		assert_int_equal(
			getsockname(f->lfd, (struct sockaddr *)&in, &len), 0);
		snprintf(addr, size, "127.0.0.1:%u", ntohs(in.sin_port));
	}
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	assert_int_equal(write(f->stop[1], "x", 1), 1);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	close(f->stop[0]);
	close(f->stop[1]);
	free(f->data);
}

/* ---- scanning a buffer ---- */

struct input {
	const char *data;
	size_t len;
	bool fail;
};

static ssize_t
input_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct input *in = ctx;

	if (in->fail)
		return -1;
	if (off >= in->len)
		return 0;
	if (len > in->len - off)
		len = in->len - (size_t)off;
	memcpy(buf, in->data + off, len);
	return (ssize_t)len;
}

static char *
big_input(size_t len)
{
	char *s = malloc(len);

	for (size_t i = 0; i < len; i++)
		s[i] = (char)('a' + i % 26);
	return s;
}

static void
scan(enum fake_mode mode, bool unix_sock, struct input *in, struct fake *f,
     struct clamd_result *r, uint64_t io_ms)
{
	char addr[200];
	struct clamd_addr a;
	struct clamd_timeouts to = { 2000, io_ms };
	const char *error;

	fake_start(f, mode, unix_sock, addr, sizeof(addr));
	assert_int_equal(clamd_addr_parse(addr, &a, &error), 0);
	clamd_scan(&a, &to, input_read, in, in->len, r);
}

static void
test_scan_clean_chunked(void **state)
{
	size_t len = 3 * CLAMD_CHUNK + 123;
	char *data = big_input(len);
	struct input in = { data, len, false };

	(void)state;
	for (int u = 0; u < 2; u++) {
		struct fake f;
		struct clamd_result r;

		scan(FAKE_OK, u == 0, &in, &f, &r, 5000);
		assert_int_equal(r.status, CLAMD_CLEAN);
		fake_stop(&f);
		assert_memory_equal(f.cmd, "zINSTREAM", 10);
		assert_int_equal(f.chunks, 4);
		assert_true(f.framing_ok);
	}
	/* the reassembled stream is the input (checked before free) */
	{
		struct fake f;
		struct clamd_result r;

		scan(FAKE_OK, true, &in, &f, &r, 5000);
		pthread_join(f.thread, NULL);
		assert_int_equal(f.len, len);
		assert_memory_equal(f.data, data, len);
		close(f.lfd);
		close(f.stop[0]);
		close(f.stop[1]);
		free(f.data);
	}
	free(data);
}

static void
test_scan_found(void **state)
{
	struct input in = { "X5O!P%@AP", 9, false };
	struct fake f;
	struct clamd_result r;

	(void)state;
	scan(FAKE_FOUND, false, &in, &f, &r, 5000);
	fake_stop(&f);
	assert_int_equal(r.status, CLAMD_INFECTED);
	assert_string_equal(r.virus, "Eicar-Test-Signature");
}

static void
test_scan_errors(void **state)
{
	size_t len = 4 << 20;
	char *data = big_input(len);
	struct input in = { data, len, false };
	struct input small = { "abc", 3, false };
	struct input bad = { "abc", 3, true };
	struct fake f;
	struct clamd_result r;
	struct clamd_addr a;
	struct clamd_timeouts to = { 1000, 1000 };
	const char *error;
	uint64_t t0;

	(void)state;
	/* clamd stops at its StreamMaxLength while we still send */
	scan(FAKE_LIMIT, true, &in, &f, &r, 5000);
	fake_stop(&f);
	assert_int_equal(r.status, CLAMD_ERROR);
	assert_string_equal(r.error, "clamd: INSTREAM size limit exceeded.");

	/* never answers: the deadline */
	t0 = ft_now_ms();
	scan(FAKE_SILENT, false, &small, &f, &r, 300);
	assert_true(ft_now_ms() - t0 < 2000);
	fake_stop(&f);
	assert_int_equal(r.status, CLAMD_ERROR);
	assert_string_equal(r.error, "timeout waiting for clamd's reply");

	scan(FAKE_CLOSE, true, &small, &f, &r, 1000);
	fake_stop(&f);
	assert_int_equal(r.status, CLAMD_ERROR);

	scan(FAKE_GARBAGE, true, &small, &f, &r, 1000);
	fake_stop(&f);
	assert_int_equal(r.status, CLAMD_ERROR);
	assert_string_equal(r.error, "clamd: what?");

	/* the input cannot be read */
	scan(FAKE_OK, true, &bad, &f, &r, 1000);
	fake_stop(&f);
	assert_int_equal(r.status, CLAMD_ERROR);
	assert_string_equal(r.error, "cannot read the message");

	/* nobody listens */
	snprintf(data, 200, "%s/none.sock", sock_dir);
	assert_int_equal(clamd_addr_parse(data, &a, &error), 0);
	clamd_scan(&a, &to, input_read, &small, small.len, &r);
	assert_int_equal(r.status, CLAMD_ERROR);
	assert_non_null(strstr(r.error, "cannot connect to clamd"));
	free(data);
}

static void
test_reply_parse(void **state)
{
	static const struct {
		const char *reply;
		enum clamd_status status;
		const char *text;
	} cases[] = {
		{ "stream: OK", CLAMD_CLEAN, "" },
		{ "stream: OK\n", CLAMD_CLEAN, "" },
		{ "stream: Win.Test.EICAR_HDB-1 FOUND", CLAMD_INFECTED,
		  "Win.Test.EICAR_HDB-1" },
		{ "1: stream: Eicar-Signature FOUND", CLAMD_INFECTED,
		  "Eicar-Signature" },
		{ "stream: bad\x01name FOUND", CLAMD_INFECTED, "bad?name" },
		{ "stream:  FOUND", CLAMD_ERROR, "malformed reply from clamd" },
		{ "INSTREAM size limit exceeded. ERROR", CLAMD_ERROR,
		  "clamd: INSTREAM size limit exceeded." },
		{ "", CLAMD_ERROR, "clamd: " },
		{ "FOUND", CLAMD_ERROR, "clamd: FOUND" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct clamd_result r;

		clamd_reply_parse(cases[i].reply, strlen(cases[i].reply), &r);
		if (r.status != cases[i].status)
			fail_msg("%s: status %d", cases[i].reply, r.status);
		assert_string_equal(cases[i].status == CLAMD_INFECTED ? r.virus
								      : r.error,
				    cases[i].text);
	}
}

static void
test_addr_parse(void **state)
{
	static const struct {
		const char *addr;
		int family;
	} cases[] = {
		{ "127.0.0.1:3310", AF_INET },
		{ "localhost:3310", AF_INET },
		{ "[::1]:3310", AF_INET6 },
		{ "::1:3310", AF_INET6 },
		{ "/run/clamav/clamd.ctl", AF_UNIX },
		{ "clamd.example.org:3310", -1 },
		{ "127.0.0.1", -1 },
		{ "127.0.0.1:0", -1 },
		{ "127.0.0.1:65536", -1 },
		{ "127.0.0.1:33x", -1 },
		{ "127.0.0.1:-1", -1 },
		{ "relative/path", -1 },
		{ "", -1 },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct clamd_addr a;
		const char *error = NULL;
		int rc = clamd_addr_parse(cases[i].addr, &a, &error);

		if (cases[i].family < 0) {
			assert_int_equal(rc, -1);
			assert_non_null(error);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(a.ss.ss_family, cases[i].family);
		}
	}
}

/* ---- the filter in a chain ---- */

static void
chain_scan(const char *options, const char *msg, struct filter_outcome *out,
	   char *clamav, char *virus)
{
	struct ft ft = { 0 };
	struct filter_ctx *ctx;
	char conf[512];
	const char *v;

	filter_builtin_register(&filter_clamd_def);
	snprintf(conf, sizeof(conf), "filter clamd { %s }", options);
	if (ft_chain(&ft, conf) < 0)
		fail_msg("%s", ft.error);
	ft_loop(&ft, 1);
	ctx = ft_ctx(&ft);
	assert_int_equal(filter_ctx_txn_begin(ctx, "QID", "a@example.org"), 0);
	ft_message(ctx, msg);
	ft_run(&ft, ctx, FILTER_MESSAGE, NULL, out, NULL);
	v = filter_ctx_result_get(ctx, "clamav");
	snprintf(clamav, 32, "%s", v ? v : "(none)");
	v = filter_ctx_result_get(ctx, "clamav.virus");
	snprintf(virus, 64, "%s", v ? v : "(none)");
	filter_ctx_close(&ctx);
	ft_free(&ft);
}

static void
test_filter(void **state)
{
	static const char msg[] = "Subject: x\r\n\r\nbody\r\n";
	struct filter_outcome out;
	struct fake f;
	char addr[200], opts[400], clamav[32], virus[64];

	(void)state;
	fake_start(&f, FAKE_FOUND, true, addr, sizeof(addr));
	snprintf(opts, sizeof(opts), "address = \"%s\";", addr);
	chain_scan(opts, msg, &out, clamav, virus);
	fake_stop(&f);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_string_equal(clamav, "infected");
	assert_string_equal(virus, "Eicar-Test-Signature");

	fake_start(&f, FAKE_OK, false, addr, sizeof(addr));
	snprintf(opts, sizeof(opts), "address = \"%s\";", addr);
	chain_scan(opts, msg, &out, clamav, virus);
	fake_stop(&f);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_string_equal(clamav, "clean");
	assert_int_equal(f.len, strlen(msg));

	/* clamd down: on_failure (tempfail by default, or reject) */
	snprintf(opts, sizeof(opts), "address = \"%s/none.sock\";", sock_dir);
	chain_scan(opts, msg, &out, clamav, virus);
	assert_int_equal(out.verdict, PF_TEMPFAIL);
	assert_true(out.failed);
	assert_string_equal(clamav, "error");
	snprintf(opts, sizeof(opts),
		 "address = \"%s/none.sock\"; on_failure = reject;", sock_dir);
	chain_scan(opts, msg, &out, clamav, virus);
	assert_int_equal(out.verdict, PF_REJECT);

	/* too large for max_size: not sent, an error result, no failure */
	snprintf(opts, sizeof(opts),
		 "address = \"%s/none.sock\"; max_size = 10;", sock_dir);
	chain_scan(opts, msg, &out, clamav, virus);
	assert_int_equal(out.verdict, PF_CONTINUE);
	assert_string_equal(clamav, "error");
}

static void
test_filter_config(void **state)
{
	static const struct {
		const char *conf;
		const char *want;
	} cases[] = {
		{ "filter clamd { address = \"clamd.example.org:3310\"; }",
		  "the host must be an IP address" },
		{ "filter clamd { address = \"127.0.0.1:3310\"; "
		  "max_size = 0; }",
		  "must be more than 0" },
		{ "filter clamd { adress = \"127.0.0.1:3310\"; }", "adress" },
	};

	(void)state;
	filter_builtin_register(&filter_clamd_def);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct ft ft = { 0 };

		assert_int_equal(ft_chain(&ft, cases[i].conf), -1);
		if (strstr(ft.error, cases[i].want) == NULL ||
		    strstr(ft.error, "test.conf:1") == NULL)
			fail_msg("%s: %s", cases[i].conf, ft.error);
		ft_free(&ft);
	}
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(sock_dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sock_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_clean_chunked),
		cmocka_unit_test(test_scan_found),
		cmocka_unit_test(test_scan_errors),
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_filter_config),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
