/*
 * test_dns_live.c - util/dns.c against a real dnsmasq, which the test
 * starts on 127.0.0.1 and a free high port with tests/data/dns/dnsmasq.conf
 * and stops at the end, by its PID.  Without dnsmasq the whole program is
 * a TAP skip ($POSTERN_DNSMASQ names another binary, or nothing usable).
 *
 * A, AAAA, MX, TXT (several strings, over 255 bytes, binary), PTR (IPv4,
 * IPv6, and a zone libunbound would otherwise answer itself), CNAME,
 * NXDOMAIN, NODATA, REFUSED, hostile names in answers, the cache and its
 * TTLs (counted in dnsmasq's query log), a DNSSEC trust anchor the
 * unsigned zone cannot meet, the reply packet for libraries that parse
 * it themselves, many threads at once.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
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

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

extern char **environ;

static struct {
	pid_t pid;
	unsigned port;
	char log[256];
} srv = { .pid = -1 };

static const char *
find_dnsmasq(void)
{
	static const char *const paths[] = { "/usr/sbin/dnsmasq",
					     "/usr/bin/dnsmasq",
					     "/usr/local/sbin/dnsmasq" };
	const char *env = getenv("POSTERN_DNSMASQ");

	/* set to a path (or to nothing usable, to see the skip) */
	if (env != NULL)
		return access(env, X_OK) == 0 ? env : NULL;

	for (size_t i = 0; i < N_ELEMS(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* A port free for both UDP and TCP right now. */
static unsigned
free_port(void)
{
	for (int tries = 0; tries < 20; tries++) {
		unsigned port;
		int u = dns_test_udp_socket(&port);

		if (u < 0)
			continue;
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons(port) };
		int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int ok = t >= 0 &&
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
tcp_answers(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = fd >= 0 &&
		  connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void
stop_dnsmasq(void)
{
	int status;

	if (srv.pid <= 0)
		return;
	kill(srv.pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
			srv.pid = -1;
			return;
		}
		usleep(50 * 1000);
	}
	kill(srv.pid, SIGKILL);
	waitpid(srv.pid, &status, 0);
	srv.pid = -1;
}

static int
start_dnsmasq(const char *bin)
{
	const char *data = getenv("POSTERN_TEST_DATA");
	char conf[512], port[32], pidf[300], logf[300];

	snprintf(conf, sizeof(conf), "--conf-file=%s/dns/dnsmasq.conf",
		 data ? data : "tests/data");
	snprintf(pidf, sizeof(pidf), "--pid-file=%s/dnsmasq.pid",
		 dns_test_tmpdir());
	snprintf(srv.log, sizeof(srv.log), "%s/dnsmasq.log", dns_test_tmpdir());
	snprintf(logf, sizeof(logf), "--log-facility=%s", srv.log);

	for (int attempt = 0; attempt < 5; attempt++) {
		srv.port = free_port();
		if (srv.port == 0)
			return -1;
		snprintf(port, sizeof(port), "--port=%u", srv.port);
		char *argv[] = { (char *)bin, (char *)"--keep-in-foreground",
				 conf,	      port,
				 pidf,	      logf,
				 NULL };

		if (posix_spawn(&srv.pid, bin, NULL, NULL, argv, environ) != 0)
			return -1;
		/* Ready when its TCP port accepts, and it is still ours:
		 * a leftover daemon could answer in its place. */
		for (int i = 0; i < 100; i++) {
			int status;

			if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
				srv.pid = -1;
				break;
			}
			if (tcp_answers(srv.port))
				return 0;
			usleep(50 * 1000);
		}
		stop_dnsmasq();
	}
	return -1;
}

static int
group_setup(void **state)
{
	(void)state;
	const char *bin = find_dnsmasq();

	if (dns_test_tmpdir_make() < 0)
		return -1;
	/* installed but not starting is a failure, not a skip */
	if (start_dnsmasq(bin) < 0) {
		fprintf(stderr, "# cannot start %s on 127.0.0.1\n", bin);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	stop_dnsmasq();
	dns_test_tmpdir_remove();
	return 0;
}

/* How many "query[TYPE] NAME " lines dnsmasq logged. */
static int
log_count(const char *what)
{
	FILE *f = fopen(srv.log, "r");
	char line[1024];
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, what) != NULL)
			n++;
	fclose(f);
	return n;
}

/* dnsmasq writes its log a moment after it answers: wait for want
 * lines, then a little longer to see that no more come. */
static int
log_count_settled(const char *what, int want)
{
	for (int i = 0; i < 40 && log_count(what) < want; i++)
		usleep(25 * 1000);
	usleep(150 * 1000);
	return log_count(what);
}

struct live_case {
	const char *name;
	const char *qname;
	enum pst_dns_type type;
	enum pst_dns_status want;
	const char *want_text; /* dns_test_answer_text(), for OK / records */
	unsigned want_dropped;
	const char *want_error; /* substring */
};

static char long_txt[601];

static const struct live_case live_cases[] = {
	{ "a", "host.postern.test", PST_DNS_A, PST_DNS_OK, "192.0.2.20" },
	{ "a-two", "two.postern.test", PST_DNS_A, PST_DNS_OK,
	  "192.0.2.21 | 192.0.2.22" },
	{ "a-final-dot", "host.postern.test.", PST_DNS_A, PST_DNS_OK,
	  "192.0.2.20" },
	{ "a-any-case", "HOST.Postern.Test", PST_DNS_A, PST_DNS_OK,
	  "192.0.2.20" },
	{ "a-via-cname", "alias.postern.test", PST_DNS_A, PST_DNS_OK,
	  "192.0.2.20" },
	{ "aaaa", "host.postern.test", PST_DNS_AAAA, PST_DNS_OK,
	  "2001:db8::20" },
	{ "mx", "postern.test", PST_DNS_MX, PST_DNS_OK,
	  "10 mx1.postern.test | 20 mx2.postern.test" },
	{ "txt", "postern.test", PST_DNS_TXT, PST_DNS_OK,
	  "v=spf1 ip4:192.0.2.0/24 -all" },
	{ "txt-multi-string", "multi.postern.test", PST_DNS_TXT, PST_DNS_OK,
	  "v=spf1 ip4:192.0.2.1 -all" },
	{ "txt-over-255", "long.postern.test", PST_DNS_TXT, PST_DNS_OK,
	  long_txt },
	{ "txt-two-records", "twice.postern.test", PST_DNS_TXT, PST_DNS_OK,
	  "first | second" },
	{ "txt-binary", "bin.postern.test", PST_DNS_TXT, PST_DNS_OK,
	  "a\\x00b\\xff" },
	{ "ptr-v4", "10.2.0.192.in-addr.arpa", PST_DNS_PTR, PST_DNS_OK,
	  "client.postern.test" },
	/* libunbound would answer 10.in-addr.arpa itself: it must ask */
	{ "ptr-rfc1918", "5.0.0.10.in-addr.arpa", PST_DNS_PTR, PST_DNS_OK,
	  "internal.postern.test" },
	{ "ptr-v6",
	  "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
	  "ip6.arpa",
	  PST_DNS_PTR, PST_DNS_OK, "client6.postern.test" },
	{ "nxdomain", "nx.postern.test", PST_DNS_A, PST_DNS_NXDOMAIN },
	{ "nxdomain-ptr", "99.2.0.192.in-addr.arpa", PST_DNS_PTR,
	  PST_DNS_NXDOMAIN },
	{ "nodata-txt", "nodata.postern.test", PST_DNS_TXT, PST_DNS_NODATA },
	{ "nodata-aaaa", "nodata.postern.test", PST_DNS_AAAA, PST_DNS_NODATA },
	{ "nodata-mx", "nodata.postern.test", PST_DNS_MX, PST_DNS_NODATA },
	/* hostile names: the bad record is left out, the good one kept */
	{ "mx-bad-name-dropped", "badmx.postern.test", PST_DNS_MX, PST_DNS_OK,
	  "20 good.postern.test", 1, "1 records left out" },
	{ "mx-all-bad", "allbad.postern.test", PST_DNS_MX, PST_DNS_NODATA, "",
	  2, "all 2 records malformed" },
	{ "ptr-bad-name", "30.2.0.192.in-addr.arpa", PST_DNS_PTR,
	  PST_DNS_NODATA, "", 1, "malformed" },
	/* dnsmasq refuses what is not its own, and nothing else is asked */
	{ "refused", "www.example.com", PST_DNS_A, PST_DNS_TEMPFAIL, NULL, 0,
	  "SERVFAIL" },
	{ "badname", "a..b", PST_DNS_A, PST_DNS_BADNAME, NULL, 0,
	  "empty label" },
	/* odd bytes are asked as they stand: the server says NXDOMAIN */
	{ "name-with-space", "a b.postern.test", PST_DNS_TXT,
	  PST_DNS_NXDOMAIN },
	{ "name-with-backslash", "host\\.postern.test", PST_DNS_A,
	  PST_DNS_NXDOMAIN },
	{ "name-8bit", "caf\xc3\xa9.postern.test", PST_DNS_A,
	  PST_DNS_NXDOMAIN },
};

static void
check_live(struct pst_arena *arena, struct pst_dns *dns,
	   const struct live_case *c)
{
	const struct pst_dns_answer *a = NULL;
	enum pst_dns_status st =
		pst_dns_lookup(dns, arena, c->qname, c->type, &a);

	assert_non_null(a);
	if (st != c->want)
		fail_msg("%s: status %s (%s), want %s", c->name,
			 pst_dns_status_name(st), a->error ? a->error : "-",
			 pst_dns_status_name(c->want));
	assert_int_equal(a->status, st);
	assert_int_equal(a->type, c->type);
	if (c->want_text != NULL)
		assert_string_equal(dns_test_answer_text(arena, a),
				    c->want_text);
	assert_int_equal(a->dropped, c->want_dropped);
	if (c->want_error != NULL) {
		assert_non_null(a->error);
		if (strstr(a->error, c->want_error) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"", c->name,
				 a->error, c->want_error);
	}
	if (st == PST_DNS_OK)
		assert_true(a->n >= 1);
	assert_false(a->bogus);
	assert_false(a->secure);
}

static void
test_live(void **state)
{
	const struct live_case *c = *state;

	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns *dns = dns_test_resolver(arena, srv.port, 3000, NULL);

	check_live(arena, dns, c);
	/* the same again, answered from the cache this time */
	check_live(arena, dns, c);
	pst_dns_free(&dns);
	pst_arena_free(&arena);
}

/* Second lookup from the cache: dnsmasq saw one query.  A TTL of 1 s is
 * honoured: after 2 s the server is asked again. */
static void
test_cache_ttl(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns *dns = dns_test_resolver(arena, srv.port, 3000, NULL);
	const struct pst_dns_answer *a;

	assert_int_equal(log_count("query[A] cache.postern.test "), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pst_dns_lookup(dns, arena,
						"cache.postern.test", PST_DNS_A,
						&a),
				 PST_DNS_OK);
		assert_true(a->ttl > 250 && a->ttl <= 300);
	}
	assert_int_equal(log_count_settled("query[A] cache.postern.test ", 1),
			 1);

	for (int i = 0; i < 2; i++)
		assert_int_equal(pst_dns_lookup(dns, arena,
						"short.postern.test", PST_DNS_A,
						&a),
				 PST_DNS_OK);
	assert_int_equal(log_count_settled("query[A] short.postern.test ", 1),
			 1);
	usleep(2100 * 1000);
	assert_int_equal(
		pst_dns_lookup(dns, arena, "short.postern.test", PST_DNS_A, &a),
		PST_DNS_OK);
	assert_string_equal(dns_test_answer_text(arena, a), "192.0.2.61");
	assert_int_equal(log_count_settled("query[A] short.postern.test ", 2),
			 2);

	/* the cache belongs to the resolver: a new one asks again */
	pst_dns_free(&dns);
	dns = dns_test_resolver(arena, srv.port, 3000, NULL);
	assert_int_equal(
		pst_dns_lookup(dns, arena, "cache.postern.test", PST_DNS_A, &a),
		PST_DNS_OK);
	assert_int_equal(log_count_settled("query[A] cache.postern.test ", 2),
			 2);
	pst_dns_free(&dns);
	pst_arena_free(&arena);
}

/* A trust anchor for postern.test., which dnsmasq serves unsigned: its
 * answers are bogus and never used; names outside it are insecure. */
static void
test_dnssec_bogus(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	const char *anchor = dns_test_tmp_file(
		arena, "postern.anchor",
		"postern.test. DS 12345 13 2 "
		"49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2F6B1FB2BFB4A0BEF1B64E8D\n");
	struct pst_dns *dns = dns_test_resolver(arena, srv.port, 3000, anchor);
	const struct pst_dns_answer *a;

	assert_int_equal(
		pst_dns_lookup(dns, arena, "host.postern.test", PST_DNS_A, &a),
		PST_DNS_TEMPFAIL);
	assert_true(a->bogus);
	assert_false(a->secure);
	assert_int_equal(a->n, 0);
	assert_non_null(strstr(a->error, "DNSSEC validation failed"));
	/* libunbound's reply still holds the A record: never handed on */
	assert_int_equal(pst_dns_lookup_packet(dns, arena, "host.postern.test",
					       PST_DNS_A, 0, &a),
			 PST_DNS_TEMPFAIL);
	assert_true(a->bogus);
	assert_null(a->packet);

	assert_int_equal(pst_dns_lookup(dns, arena, "host.postern.example",
					PST_DNS_A, &a),
			 PST_DNS_OK);
	assert_string_equal(dns_test_answer_text(arena, a), "192.0.2.70");
	assert_false(a->bogus);
	assert_false(a->secure);
	pst_dns_free(&dns);
	pst_arena_free(&arena);
}

/* The reply as wire format, for libraries that parse it (libopendkim). */
static unsigned
be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void
test_packet(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns *dns = dns_test_resolver(arena, srv.port, 3000, NULL);
	const struct pst_dns_answer *a;

	assert_int_equal(pst_dns_lookup_packet(dns, arena, "long.postern.test",
					       PST_DNS_TXT, 0, &a),
			 PST_DNS_OK);
	assert_non_null(a->packet);
	assert_true(a->packet_len > 600 + 12);
	assert_true(a->packet[2] & 0x80);	  /* a response */
	assert_int_equal(a->packet[3] & 0x0f, 0); /* NOERROR */
	assert_int_equal(be16(a->packet + 4), 1); /* one question */
	assert_int_equal(be16(a->packet + 6), 1); /* one answer */
	assert_non_null(memmem(a->packet, a->packet_len, long_txt + 250, 250));
	/* the parsed records come too */
	assert_int_equal(a->n, 1);
	assert_int_equal(a->rr[0].txt.len, 600);

	assert_int_equal(pst_dns_lookup_packet(dns, arena, "nx.postern.test",
					       PST_DNS_TXT, 0, &a),
			 PST_DNS_NXDOMAIN);
	assert_non_null(a->packet);
	assert_int_equal(a->packet[3] & 0x0f, 3);

	assert_int_equal(pst_dns_lookup_packet(dns, arena,
					       "nodata.postern.test",
					       PST_DNS_TXT, 0, &a),
			 PST_DNS_NODATA);
	assert_non_null(a->packet);
	assert_int_equal(be16(a->packet + 6), 0);

	/* a failure has no packet, and the plain lookup never one */
	assert_int_equal(pst_dns_lookup_packet(dns, arena, "www.example.com",
					       PST_DNS_TXT, 0, &a),
			 PST_DNS_TEMPFAIL);
	assert_null(a->packet);
	assert_int_equal(pst_dns_lookup(dns, arena, "long.postern.test",
					PST_DNS_TXT, &a),
			 PST_DNS_OK);
	assert_null(a->packet);
	assert_int_equal(a->packet_len, 0);
	pst_dns_free(&dns);
	pst_arena_free(&arena);
}

/* ---- many threads on one resolver ---- */

#define THREADS 16
#define ROUNDS 60

struct thread_arg {
	struct pst_dns *dns;
	unsigned seed;
	int errors;
	char first_error[200];
};

static const struct {
	const char *qname;
	enum pst_dns_type type;
	enum pst_dns_status want;
	const char *want_text;
} thread_mix[] = {
	{ "host.postern.test", PST_DNS_A, PST_DNS_OK, "192.0.2.20" },
	{ "host.postern.test", PST_DNS_AAAA, PST_DNS_OK, "2001:db8::20" },
	{ "postern.test", PST_DNS_MX, PST_DNS_OK,
	  "10 mx1.postern.test | 20 mx2.postern.test" },
	{ "multi.postern.test", PST_DNS_TXT, PST_DNS_OK,
	  "v=spf1 ip4:192.0.2.1 -all" },
	{ "10.2.0.192.in-addr.arpa", PST_DNS_PTR, PST_DNS_OK,
	  "client.postern.test" },
	{ "nx.postern.test", PST_DNS_TXT, PST_DNS_NXDOMAIN, "" },
	{ "nodata.postern.test", PST_DNS_MX, PST_DNS_NODATA, "" },
	{ "two.postern.test", PST_DNS_A, PST_DNS_OK,
	  "192.0.2.21 | 192.0.2.22" },
};

static void *
thread_main(void *p)
{
	struct thread_arg *t = p;
	struct pst_arena *arena = pst_arena_new(0);

	for (int i = 0; i < ROUNDS; i++) {
		size_t k = (t->seed + (unsigned)i * 7u) % N_ELEMS(thread_mix);
		const struct pst_dns_answer *a;
		enum pst_dns_status st =
			pst_dns_lookup(t->dns, arena, thread_mix[k].qname,
				       thread_mix[k].type, &a);
		/* dns_test_answer_text() asserts: compare by hand off the main
		 * thread, where cmocka cannot catch a failure */
		struct pst_buf b;
		const char **v = pst_arena_calloc(arena, a->n + 1, sizeof(*v));

		pst_buf_init(&b, 0);
		for (size_t j = 0; v != NULL && j < a->n; j++) {
			char ip[INET6_ADDRSTRLEN];

			switch (a->type) {
			case PST_DNS_A:
				v[j] = pst_arena_strdup(
					arena, inet_ntop(AF_INET, &a->rr[j].a,
							 ip, sizeof(ip)));
				break;
			case PST_DNS_AAAA:
				v[j] = pst_arena_strdup(
					arena,
					inet_ntop(AF_INET6, &a->rr[j].aaaa, ip,
						  sizeof(ip)));
				break;
			case PST_DNS_MX:
				v[j] = pst_arena_printf(arena, "%u %s",
							a->rr[j].mx.pref,
							a->rr[j].mx.host);
				break;
			case PST_DNS_TXT:
				v[j] = a->rr[j].txt.data;
				break;
			case PST_DNS_PTR:
				v[j] = a->rr[j].ptr;
				break;
			}
		}
		if (v != NULL)
			qsort(v, a->n, sizeof(*v), dns_test_cmp_str);
		for (size_t j = 0; v != NULL && j < a->n; j++)
			pst_buf_printf(&b, "%s%s", j ? " | " : "", v[j]);
		const char *got = b.data ? b.data : "";

		if (st != thread_mix[k].want ||
		    strcmp(got, thread_mix[k].want_text) != 0) {
			if (t->errors++ == 0)
				snprintf(t->first_error, sizeof(t->first_error),
					 "%s: %s [%s] %s", thread_mix[k].qname,
					 pst_dns_status_name(st), got,
					 a->error ? a->error : "");
		}
		pst_buf_free(&b);
		pst_arena_reset(arena);
	}
	pst_arena_free(&arena);
	return NULL;
}

static void
test_threads(void **state)
{
	(void)state;
	struct pst_arena *arena = pst_arena_new(0);
	struct pst_dns *dns = dns_test_resolver(arena, srv.port, 3000, NULL);
	struct thread_arg args[THREADS];
	pthread_t tid[THREADS];

	for (unsigned i = 0; i < THREADS; i++) {
		args[i] = (struct thread_arg){ .dns = dns, .seed = i };
		assert_int_equal(
			pthread_create(&tid[i], NULL, thread_main, &args[i]),
			0);
	}
	int errors = 0;

	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		if (args[i].errors > 0)
			fprintf(stderr, "thread %u: %d wrong, first: %s\n", i,
				args[i].errors, args[i].first_error);
		errors += args[i].errors;
	}
	assert_int_equal(errors, 0);
	pst_dns_free(&dns);
	pst_arena_free(&arena);
}

#define CASE(fn, c)                                                            \
	{                                                                      \
		(c).name, (fn), NULL, NULL, (void *)&(c)                       \
	}

int
main(void)
{
	struct CMUnitTest tests[N_ELEMS(live_cases) + 8];
	size_t n = 0;

	if (find_dnsmasq() == NULL) {
		/* TAP: the whole program skipped (cmocka 1.1.5 would
		 * print a skipped case as "not ok", a failure) */
		printf("1..0 # SKIP dnsmasq not installed\n");
		return 0;
	}
	memset(long_txt, 'a', 250);
	memset(long_txt + 250, 'b', 250);
	memset(long_txt + 500, 'c', 100);
	long_txt[600] = '\0';

	for (size_t i = 0; i < N_ELEMS(live_cases); i++)
		tests[n++] = (struct CMUnitTest)CASE(test_live, live_cases[i]);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_cache_ttl);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_packet);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_dnssec_bogus);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_threads);
	return _cmocka_run_group_tests("dns_live", tests, n, group_setup,
				       group_teardown);
}
