/*
 * test_filter_spf_util.c - helpers of the spf and dmarc filter tests (see
 * test_filter_spf_util.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "dns.h"
#include "dns_test.h"
#include "test_filter_spf_util.h"

extern char **environ;

static pid_t tfs_pid = -1;

static const char *
tfs_dnsmasq_bin(void)
{
	static const char *const paths[] = { "/usr/sbin/dnsmasq",
					     "/usr/bin/dnsmasq",
					     "/usr/local/sbin/dnsmasq" };
	const char *env = getenv("POSTERN_DNSMASQ");

	if (env != NULL)
		return access(env, X_OK) == 0 ? env : NULL;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* A port free for UDP and TCP on 127.0.0.1 right now. */
static unsigned
tfs_free_port(void)
{
	for (int tries = 0; tries < 20; tries++) {
		unsigned port;
		int u = dns_test_udp_socket(&port), t, ok;
		struct sockaddr_in sin = { .sin_family = AF_INET };

		if (u < 0)
			continue;
		sin.sin_port = htons((uint16_t)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ok = t >= 0 &&
		     bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(u);
		if (t >= 0)
			close(t);
		if (ok)
			return port;
	}
	return 0;
}

static bool
tfs_tcp_answers(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

void
tfs_dnsmasq_stop(void)
{
	int status;

	if (tfs_pid <= 0)
		return;
	kill(tfs_pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(tfs_pid, &status, WNOHANG) == tfs_pid) {
			tfs_pid = -1;
			dns_test_tmpdir_remove();
			return;
		}
		usleep(50 * 1000);
	}
	kill(tfs_pid, SIGKILL);
	waitpid(tfs_pid, &status, 0);
	tfs_pid = -1;
	dns_test_tmpdir_remove();
}

unsigned
tfs_dnsmasq_start(void)
{
	const char *bin = tfs_dnsmasq_bin();
	const char *data = getenv("POSTERN_TEST_DATA");
	char conf[512], port_arg[32], pidf[300], logf[300];

	if (bin == NULL)
		return 0;
	assert_int_equal(dns_test_tmpdir_make(), 0);
	snprintf(conf, sizeof(conf), "--conf-file=%s/dns/auth-zone.conf",
		 data ? data : "tests/data");
	snprintf(pidf, sizeof(pidf), "--pid-file=%s/dnsmasq.pid",
		 dns_test_tmpdir());
	snprintf(logf, sizeof(logf), "--log-facility=%s/dnsmasq.log",
		 dns_test_tmpdir());
	for (int attempt = 0; attempt < 5; attempt++) {
		unsigned port = tfs_free_port();
		char *argv[] = { (char *)bin, (char *)"--keep-in-foreground",
				 conf,	      port_arg,
				 pidf,	      logf,
				 NULL };

		assert_true(port != 0);
		snprintf(port_arg, sizeof(port_arg), "--port=%u", port);
		if (posix_spawn(&tfs_pid, bin, NULL, NULL, argv, environ) != 0)
			fail_msg("cannot run %s", bin);
		/* Ready when its TCP port accepts, and it is still ours. */
		for (int i = 0; i < 100; i++) {
			int status;

			if (waitpid(tfs_pid, &status, WNOHANG) == tfs_pid) {
				tfs_pid = -1;
				break;
			}
			if (tfs_tcp_answers(port))
				return port;
			usleep(50 * 1000);
		}
		if (tfs_pid > 0) {
			kill(tfs_pid, SIGKILL);
			waitpid(tfs_pid, NULL, 0);
			tfs_pid = -1;
		}
	}
	fail_msg("cannot start %s with %s", bin, conf);
	return 0;
}

static void
tfs_dns_cleanup(void *arg)
{
	struct pst_dns *dns = arg;

	pst_dns_free(&dns);
}

struct pst_dns *
tfs_resolver(struct ft *ft, unsigned port, unsigned timeout_ms)
{
	struct pst_dns *dns;

	if (ft->arena == NULL) {
		ft->arena = pst_arena_new(0);
		assert_non_null(ft->arena);
		filter_conf_defaults(&ft->conf);
		ft->conf.authserv_id = "mx.example.org";
	}
	dns = dns_test_resolver(ft->arena, port, timeout_ms, NULL);
	/* freed after the chain: cleanups run newest first, and the chain
	 * is freed by hand before the arena */
	assert_int_equal(pst_arena_cleanup_add(ft->arena, tfs_dns_cleanup, dns),
			 0);
	return dns;
}

int
tfs_chain(struct ft *ft, struct pst_dns *dns, const char *text)
{
	filter_builtins_register_all();
	if (ft_conf(ft, text) < 0)
		return -1;
	ft->conf.dns = dns;
	ft->conf.hostname = "mx.example.org";
	ft->chain = filter_chain_new(ft->arena, &ft->conf, &ft->error);
	return ft->chain != NULL ? 0 : -1;
}

struct filter_ctx *
tfs_ctx(struct ft *ft, const char *addr, bool trusted)
{
	struct filter_client c = {
		.addr = addr,
		.port = 4711,
		.name = "unknown",
		.session_id = "5f3a1c9e0b7d2e41",
		.trusted = trusted,
	};
	struct filter_ctx *ctx = filter_ctx_new(ft->chain, NULL, NULL, &c);

	assert_non_null(ctx);
	return ctx;
}

int
tfs_mail(struct filter_ctx *ctx, const char *helo, const char *from,
	 struct filter_outcome *out)
{
	struct filter_outcome o;

	if (out == NULL)
		out = &o;
	assert_int_equal(filter_ctx_set_helo(ctx, helo), 0);
	assert_int_equal(filter_ctx_txn_begin(ctx, "4F2A1C3B9E", from), 0);
	filter_ctx_run_sync(ctx, FILTER_MAIL, NULL, out);
	return out->verdict;
}

int
tfs_message(struct filter_ctx *ctx, const char *text,
	    struct filter_outcome *out)
{
	struct filter_rcpt r = { .addr = "user@example.org" };
	struct filter_outcome o;

	if (out == NULL)
		out = &o;
	assert_int_equal(filter_ctx_rcpt_accepted(ctx, &r), 0);
	ft_message(ctx, text);
	filter_ctx_run_sync(ctx, FILTER_MESSAGE, NULL, out);
	return out->verdict;
}

const char *
tfs_result(struct filter_ctx *ctx, const char *key)
{
	return filter_ctx_result_get(ctx, key);
}

const char *
tfs_auth(struct filter_ctx *ctx)
{
	static char out[2048];
	const struct filter_said *said[2] = { &ctx->session, &ctx->tx->said };
	struct pst_buf b;

	pst_buf_init(&b, sizeof(out) - 1);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < said[k]->nauth; i++) {
			const struct filter_auth *a = &said[k]->auth[i];

			if (b.len > 0)
				pst_buf_append_cstr(&b, "; ");
			pst_buf_printf(&b, "%s=%s", a->method, a->result);
			if (a->props != NULL)
				pst_buf_printf(&b, " %s", a->props);
		}
	}
	snprintf(out, sizeof(out), "%s", b.data != NULL ? b.data : "");
	pst_buf_free(&b);
	return out;
}
