/*
 * test_relay_smtp.c - the SMTP/LMTP side of relay/: upstream URLs and
 * route keys, reply reading, EHLO keywords, dot-stuffing across block
 * boundaries, xtext, the mapping of upstream replies to the client's
 * reply, and relay_submit/relay_verify end to end against a scripted
 * LMTP server on a unix socket in a temporary directory.
 *
 * Hermetic: numeric addresses only (no DNS), the only socket is the
 * unix socket under one mkdtemp() directory, removed at the end.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "arena.h"
#include "conf.h"
#include "log.h"
#include "relay.h"
#include "relay_int.h"
#include "smtp_wire.h"
#include "spool.h"
#include "workq.h"
#include "route_conf.h"

static char tmpdir[64];

/* ---- upstream URLs ---- */

static const struct {
	const char *spec;
	int kind; /* -1: error */
	const char *host;
	unsigned port;
	int family;
	const char *want; /* error text, or the address as text */
} url_cases[] = {
	{ "smtp://127.0.0.1:20025", RELAY_UPSTREAM_SMTP, "127.0.0.1", 20025,
	  AF_INET, "127.0.0.1" },
	{ "SMTP://10.0.0.5", RELAY_UPSTREAM_SMTP, "10.0.0.5", 25, AF_INET,
	  "10.0.0.5" },
	{ "smtp://10.0.0.5:25/", RELAY_UPSTREAM_SMTP, "10.0.0.5", 25, AF_INET,
	  "10.0.0.5" },
	{ "smtp://[::1]:20026", RELAY_UPSTREAM_SMTP, "::1", 20026, AF_INET6,
	  "::1" },
	{ "smtp://[2001:db8::5]", RELAY_UPSTREAM_SMTP, "2001:db8::5", 25,
	  AF_INET6, "2001:db8::5" },
	{ "smtps://192.0.2.1", RELAY_UPSTREAM_SMTPS, "192.0.2.1", 465, AF_INET,
	  "192.0.2.1" },
	{ "smtps://192.0.2.1:10465", RELAY_UPSTREAM_SMTPS, "192.0.2.1", 10465,
	  AF_INET, "192.0.2.1" },
	{ "lmtp://127.0.0.1", RELAY_UPSTREAM_LMTP, "127.0.0.1", 24, AF_INET,
	  "127.0.0.1" },
	{ "lmtp://[::1]:2424", RELAY_UPSTREAM_LMTP, "::1", 2424, AF_INET6,
	  "::1" },
	{ "lmtp:unix:/run/dovecot/lmtp", RELAY_UPSTREAM_LMTP, "localhost", 0,
	  AF_UNIX, "/run/dovecot/lmtp" },
	{ "maildir:/var/mail/x", RELAY_UPSTREAM_MAILDIR, NULL, 0, 0,
	  "/var/mail/x" },
	/* A name is kept for later resolution (resolve = false here). */
	{ "smtp://mx.example.org:25", RELAY_UPSTREAM_SMTP, "mx.example.org", 25,
	  0, NULL },
	{ "smtp://", -1, NULL, 0, 0, "expected host" },
	{ "smtp://:25", -1, NULL, 0, 0, "expected host" },
	{ "smtp://10.0.0.5:", -1, NULL, 0, 0, "expected host" },
	{ "smtp://10.0.0.5:0", -1, NULL, 0, 0, "expected host" },
	{ "smtp://10.0.0.5:65536", -1, NULL, 0, 0, "expected host" },
	{ "smtp://10.0.0.5:123456", -1, NULL, 0, 0, "expected host" },
	{ "smtp://10.0.0.5:2x", -1, NULL, 0, 0, "expected host" },
	{ "smtp://::1:25", -1, NULL, 0, 0, "expected host" },
	{ "smtp://[10.0.0.5]:25", -1, NULL, 0, 0, "expected host" },
	{ "smtp://[::1", -1, NULL, 0, 0, "expected host" },
	{ "smtp://[::1]x", -1, NULL, 0, 0, "expected host" },
	{ "smtp://a b:25", -1, NULL, 0, 0, "expected host" },
	{ "smtp://host/path", -1, NULL, 0, 0, "expected host" },
	{ "smtp://[::1]:25:25", -1, NULL, 0, 0, "expected host" },
	{ "lmtp:unix:", -1, NULL, 0, 0, "needs a path" },
	{ "lmtp:unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  -1, NULL, 0, 0, "socket path longer" },
	{ "maildir:", -1, NULL, 0, 0, "maildir needs a path" },
	{ "http://x", -1, NULL, 0, 0, "unknown kind" },
	{ "lmtp:/x", -1, NULL, 0, 0, "unknown kind" },
	{ "", -1, NULL, 0, 0, "unknown kind" },
};

static void
test_upstream_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		struct pst_arena *arena = pst_arena_new(0);
		struct relay_upstream_conf up;
		const char *error = NULL;
		int rc = relay_upstream_parse(arena, url_cases[i].spec, false,
					      &up, &error);

		if (url_cases[i].kind < 0) {
			if (rc != -1)
				fail_msg("%s: accepted", url_cases[i].spec);
			if (strstr(error, url_cases[i].want) == NULL)
				fail_msg("%s: got '%s'", url_cases[i].spec,
					 error);
			pst_arena_free(&arena);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", url_cases[i].spec, error);
		assert_int_equal(up.kind, url_cases[i].kind);
		assert_string_equal(up.spec, url_cases[i].spec);
		if (url_cases[i].host != NULL)
			assert_string_equal(up.host, url_cases[i].host);
		assert_int_equal(up.port, url_cases[i].port);
		if (url_cases[i].kind == RELAY_UPSTREAM_MAILDIR) {
			assert_string_equal(up.path, url_cases[i].want);
			assert_int_equal(up.naddrs, 0);
		} else if (url_cases[i].family == AF_UNIX) {
			const struct sockaddr_un *sun =
				(const void *)&up.addrs[0].u.ss;

			assert_int_equal(up.naddrs, 1);
			assert_int_equal(sun->sun_family, AF_UNIX);
			assert_string_equal(sun->sun_path, url_cases[i].want);
		} else if (url_cases[i].family == 0) {
			assert_int_equal(up.naddrs, 0);
		} else {
			char ip[PST_NET_ADDRSTRLEN];

			assert_int_equal(up.naddrs, 1);
			assert_int_equal(up.addrs[0].u.sa.sa_family,
					 url_cases[i].family);
			pst_net_addr_str(&up.addrs[0].u.sa, ip, sizeof(ip));
			assert_string_equal(ip, url_cases[i].want);
			assert_int_equal(pst_net_port(&up.addrs[0].u.sa),
					 url_cases[i].port);
		}
		pst_arena_free(&arena);
	}
}

/* ---- route keys ---- */

static void
test_route_keys(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct top top;
	const char *error = NULL;
	const struct relay_route_conf *r;
	struct relay *relay;

	(void)state;
	if (load_routes(arena,
			"route \"example.org\" {\n"
			"  upstream = [\"smtp://127.0.0.1:20025\", "
			"\"smtp://[::1]:20026\", \"maildir:/m\"];\n"
			"  balance = \"round-robin\";\n"
			"  tls = \"verify\";\n"
			"  tls_name = \"mx.example.org\";\n"
			"  connect_timeout = 2s;\n"
			"  command_timeout = 1min;\n"
			"  data_timeout = 3min;\n"
			"  backoff = 0;\n"
			"  pool_size = 0;\n"
			"  pool_idle = 500ms;\n"
			"  verify_recipients = true;\n"
			"  verify_cache = 0;\n"
			"  xclient = false;\n"
			"}\n"
			"route \"lmtp.org\" { upstream = [\"smtp://10.0.0.1\", "
			"\"lmtp:unix:/run/lmtp\"]; }\n"
			"route default { upstream = \"smtp://10.0.0.2\"; }\n",
			&top, &error) != 0)
		fail_msg("%s", error);
	assert_int_equal(top.relay.nroutes, 3);
	r = &top.relay.routes[0];
	assert_int_equal(r->nupstreams, 3);
	assert_int_equal(r->balance, RELAY_BALANCE_ROUND_ROBIN);
	assert_int_equal(r->tls, RELAY_TLS_VERIFY);
	assert_null(r->tls_ca);
	assert_string_equal(r->tls_name, "mx.example.org");
	assert_int_equal(r->connect_timeout, 2000);
	assert_int_equal(r->command_timeout, 60000);
	assert_int_equal(r->data_timeout, 180000);
	assert_int_equal(r->backoff, 0);
	assert_int_equal(r->pool_size, 0);
	assert_int_equal(r->pool_idle, 500);
	assert_true(r->verify_recipients);
	assert_int_equal(r->verify_cache, 0);
	assert_false(r->xclient);
	/* The defaults of the spec. */
	r = &top.relay.routes[2];
	assert_int_equal(r->balance, RELAY_BALANCE_FAILOVER);
	assert_int_equal(r->tls, RELAY_TLS_OPPORTUNISTIC);
	assert_int_equal(r->connect_timeout, 10000);
	assert_int_equal(r->command_timeout, 300000);
	assert_int_equal(r->data_timeout, 600000);
	assert_int_equal(r->backoff, 60000);
	assert_int_equal(r->pool_size, 8);
	assert_int_equal(r->pool_idle, 30000);
	assert_false(r->verify_recipients);
	assert_int_equal(r->verify_cache, 600000);
	assert_true(r->xclient);

	relay = relay_new(arena, &top.relay, NULL, &error);
	if (relay == NULL)
		fail_msg("%s", error);
	{
		const struct relay_route *ex =
			relay_route_for(relay, PST_STR_LIT("example.org"));
		const struct relay_route *lm =
			relay_route_for(relay, PST_STR_LIT("lmtp.org"));
		const struct relay_route *df =
			relay_route_for(relay, PST_STR_LIT("other.net"));

		assert_true(relay_route_verifies(ex));
		assert_false(relay_route_verifies(df));
		assert_int_equal(relay_route_max_rcpt(ex), 0);
		/* Any LMTP upstream, also the second, limits to one. */
		assert_int_equal(relay_route_max_rcpt(lm), 1);
		assert_int_equal(relay_route_max_rcpt(df), 0);
	}
	pst_arena_free(&arena);
}

static const struct {
	const char *name;
	const char *text;
	const char *want;
} route_key_errors[] = {
	{ "unknown key",
	  "route default {\n upstream = \"smtp://10.0.0.1\";\n upstreams = 1;\n}",
	  "t.conf:3" },
	{ "bad balance",
	  "route default { upstream = \"smtp://10.0.0.1\"; "
	  "balance = \"random\"; }",
	  "t.conf:1" },
	{ "bad tls",
	  "route default {\n upstream = \"smtp://10.0.0.1\";\n"
	  " tls = \"maybe\";\n}",
	  "t.conf:3" },
	{ "tls_ca without verify",
	  "route default { upstream = \"smtp://10.0.0.1\"; tls_ca = \"/ca\"; }",
	  "t.conf:1: route 'default': tls_ca is only used with tls = "
	  "\"verify\"" },
	{ "verify with maildir only",
	  "route default { upstream = \"maildir:/m\"; verify_recipients = "
	  "true; }",
	  "t.conf:1: route 'default': verify_recipients needs" },
	{ "pool_size too big",
	  "route default { upstream = \"smtp://10.0.0.1\"; pool_size = 5000; }",
	  "t.conf:1" },
	{ "zero command timeout",
	  "route default { upstream = \"smtp://10.0.0.1\"; command_timeout = "
	  "0; }",
	  "t.conf:1" },
	{ "bad duration",
	  "route default { upstream = \"smtp://10.0.0.1\"; backoff = soon; }",
	  "t.conf:1" },
	{ "bad upstream in list",
	  "route default {\n upstream = [\"smtp://10.0.0.1\",\n"
	  " \"smtp://10.0.0.1:0\"];\n}",
	  "t.conf:3: upstream 'smtp://10.0.0.1:0': expected host" },
};

static void
test_route_key_errors(void **state)
{
	(void)state;
	for (size_t i = 0;
	     i < sizeof(route_key_errors) / sizeof(route_key_errors[0]); i++) {
		struct pst_arena *arena = pst_arena_new(0);
		struct top top;
		const char *error = NULL;

		if (load_routes(arena, route_key_errors[i].text, &top,
				&error) != -1)
			fail_msg("%s: accepted", route_key_errors[i].name);
		if (strstr(error, route_key_errors[i].want) == NULL)
			fail_msg("%s: got '%s'", route_key_errors[i].name,
				 error);
		pst_arena_free(&arena);
	}
}

static void
test_tls_ca_missing(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct top top;
	const char *error = NULL;
	char text[512];

	(void)state;
	snprintf(text, sizeof(text),
		 "route default { upstream = \"smtp://10.0.0.1\"; tls = "
		 "\"verify\"; tls_ca = \"%s/no-such-ca.pem\"; }",
		 tmpdir);
	assert_int_equal(load_routes(arena, text, &top, &error), 0);
	assert_null(relay_new(arena, &top.relay, NULL, &error));
	assert_non_null(strstr(error, "t.conf:1: route 'default': tls_ca"));
	pst_arena_free(&arena);
}

/* ---- replies ---- */

static const struct {
	const char *name;
	const char *lines[6]; /* fed in order until NULL */
	int rc;		      /* of the last feed */
	unsigned code;
	const char *enhanced;
	const char *text;
} reply_cases[] = {
	{ "one line", { "250 2.1.0 Ok" }, 1, 250, "2.1.0", "Ok" },
	{ "no enhanced",
	  { "220 mx ESMTP Postfix" },
	  1,
	  220,
	  "",
	  "mx ESMTP Postfix" },
	{ "multi-line",
	  { "550-5.1.1 The account does not exist.",
	    "550-5.1.1 Please check the address", "550 5.1.1 and try again." },
	  1,
	  550,
	  "5.1.1",
	  "The account does not exist. Please check the address and try "
	  "again." },
	{ "more to come", { "250-first" }, 0, 250, "", "first" },
	{ "code only", { "354" }, 1, 354, "", "" },
	{ "class mismatch is text",
	  { "550 2.0.0 odd" },
	  1,
	  550,
	  "",
	  "2.0.0 odd" },
	{ "code changes", { "250-a", "251 b" }, -1, 0, NULL, NULL },
	{ "not a reply", { "hello" }, -1, 0, NULL, NULL },
	{ "bad separator", { "250_x" }, -1, 0, NULL, NULL },
	{ "1xx", { "199 x" }, -1, 0, NULL, NULL },
	{ "empty", { "" }, -1, 0, NULL, NULL },
};

static void
test_reply_feed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]);
	     i++) {
		struct smtp_wire_reply r;
		int rc = 0;

		smtp_wire_reply_init(&r);
		for (size_t k = 0; k < 6 && reply_cases[i].lines[k]; k++)
			rc = smtp_wire_reply_feed(
				&r, reply_cases[i].lines[k],
				strlen(reply_cases[i].lines[k]));
		if (rc != reply_cases[i].rc)
			fail_msg("%s: rc %d", reply_cases[i].name, rc);
		if (rc < 0)
			continue;
		assert_int_equal(r.code, reply_cases[i].code);
		assert_string_equal(r.enhanced, reply_cases[i].enhanced);
		assert_string_equal(r.text, reply_cases[i].text);
		assert_int_equal(r.done, rc == 1);
	}
}

static void
test_reply_limits(void **state)
{
	struct smtp_wire_reply r;
	char line[SMTP_WIRE_LINE_MAX + 2];
	int rc = 0;

	(void)state;
	/* A hostile upstream's endless reply stops at the line limit. */
	smtp_wire_reply_init(&r);
	for (unsigned i = 0; i < SMTP_WIRE_LINES_MAX + 5 && rc == 0; i++)
		rc = smtp_wire_reply_feed(&r, "250-xxxxxxxxxxxxxxxxxxxxxxxxxx",
					  30);
	assert_int_equal(rc, -1);
	assert_int_equal(r.nlines, SMTP_WIRE_LINES_MAX);
	/* Long texts are cut, never overflow. */
	assert_true(strlen(r.text) < sizeof(r.text));
	/* An overlong line is refused. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	smtp_wire_reply_init(&r);
	assert_int_equal(smtp_wire_reply_feed(&r, line, SMTP_WIRE_LINE_MAX + 1),
			 -1);
	assert_int_equal(smtp_wire_reply_feed(&r, line, SMTP_WIRE_LINE_MAX), 1);
	/* Nothing after the last line. */
	assert_int_equal(smtp_wire_reply_feed(&r, "250 more", 8), -1);
	smtp_wire_reply_set(&r, 451, NULL, "x");
	assert_string_equal(smtp_wire_reply_enhanced(&r), "4.0.0");
	smtp_wire_reply_set(&r, 552, "5.3.4", "big");
	assert_string_equal(smtp_wire_reply_enhanced(&r), "5.3.4");
}

/* ---- EHLO ---- */

static const struct {
	const char *lines; /* '\n'-separated texts after "250-" */
	unsigned ext;
	uint64_t size_max;
	unsigned xclient, xforward;
} ehlo_cases[] = {
	{ "PIPELINING\nSIZE 10240000\nVRFY\nETRN\nSTARTTLS\n"
	  "ENHANCEDSTATUSCODES\n8BITMIME\nDSN\nSMTPUTF8\nCHUNKING",
	  SMTP_WIRE_PIPELINING | SMTP_WIRE_SIZE | SMTP_WIRE_STARTTLS |
		  SMTP_WIRE_ENHANCEDSTATUSCODES | SMTP_WIRE_8BITMIME |
		  SMTP_WIRE_DSN | SMTP_WIRE_SMTPUTF8 | SMTP_WIRE_CHUNKING,
	  10240000, 0, 0 },
	{ "pipelining\nsize\n8bitmime",
	  SMTP_WIRE_PIPELINING | SMTP_WIRE_SIZE | SMTP_WIRE_8BITMIME, 0, 0, 0 },
	{ "SIZE 99999999999999999999999", SMTP_WIRE_SIZE, 0, 0, 0 },
	{ "SIZE -1", SMTP_WIRE_SIZE, 0, 0, 0 },
	{ "XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR "
	  "DESTPORT",
	  SMTP_WIRE_XCLIENT, 0,
	  SMTP_WIRE_A_NAME | SMTP_WIRE_A_ADDR | SMTP_WIRE_A_PROTO |
		  SMTP_WIRE_A_HELO | SMTP_WIRE_A_PORT | SMTP_WIRE_A_LOGIN,
	  0 },
	{ "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT", SMTP_WIRE_XFORWARD,
	  0, 0,
	  SMTP_WIRE_A_NAME | SMTP_WIRE_A_ADDR | SMTP_WIRE_A_PROTO |
		  SMTP_WIRE_A_HELO | SMTP_WIRE_A_SOURCE | SMTP_WIRE_A_PORT |
		  SMTP_WIRE_A_IDENT },
	{ "AUTH PLAIN LOGIN\nAUTH=PLAIN\nX-EXPS\nPIPELININGX\n \n", 0, 0, 0,
	  0 },
};

static void
test_ehlo(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]);
	     i++) {
		struct smtp_wire_ehlo e;
		const char *p = ehlo_cases[i].lines;

		memset(&e, 0, sizeof(e));
		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);

			smtp_wire_ehlo_line(&e, p, len);
			p += len + (nl ? 1 : 0);
		}
		if (e.ext != ehlo_cases[i].ext)
			fail_msg("case %zu: ext %#x", i, e.ext);
		assert_int_equal(e.size_max, ehlo_cases[i].size_max);
		assert_int_equal(e.xclient_attrs, ehlo_cases[i].xclient);
		assert_int_equal(e.xforward_attrs, ehlo_cases[i].xforward);
	}
}

/* ---- dot-stuffing ---- */

struct collect {
	char buf[4096];
	size_t len;
};

static int
collect_emit(void *arg, const char *p, size_t len)
{
	struct collect *c = arg;

	if (c->len + len > sizeof(c->buf))
		return -1;
	memcpy(c->buf + c->len, p, len);
	c->len += len;
	return 0;
}

static const struct {
	const char *in;
	const char *want; /* with the end of data */
} dot_cases[] = {
	{ "a\r\n", "a\r\n.\r\n" },
	{ ".\r\n", "..\r\n.\r\n" },
	{ ".a\r\n..b\r\nc.d\r\n.\r\n", "..a\r\n...b\r\nc.d\r\n..\r\n.\r\n" },
	{ "x\r\n.\r\n.\r\n", "x\r\n..\r\n..\r\n.\r\n" },
	{ "", ".\r\n" },
	{ "no end", "no end\r\n.\r\n" },
	{ "a\r\n.", "a\r\n..\r\n.\r\n" },
	{ "\r\n\r\n.\r\n", "\r\n\r\n..\r\n.\r\n" },
};

static void
test_dot_stuffing(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dot_cases) / sizeof(dot_cases[0]); i++) {
		size_t len = strlen(dot_cases[i].in);

		/* Every way of cutting the input into three blocks gives
		 * the same output as the whole. */
		for (size_t a = 0; a <= len; a++) {
			for (size_t b = a; b <= len; b++) {
				struct smtp_wire_dot dot = { 0 };
				struct collect c = { .len = 0 };
				const char *in = dot_cases[i].in;

				assert_int_equal(
					smtp_wire_dot_stuff(&dot, in, a,
							    collect_emit, &c),
					0);
				assert_int_equal(
					smtp_wire_dot_stuff(&dot, in + a, b - a,
							    collect_emit, &c),
					0);
				assert_int_equal(smtp_wire_dot_stuff(
							 &dot, in + b, len - b,
							 collect_emit, &c),
						 0);
				assert_int_equal(smtp_wire_dot_end(&dot,
								   collect_emit,
								   &c),
						 0);
				if (c.len != strlen(dot_cases[i].want) ||
				    memcmp(c.buf, dot_cases[i].want, c.len) !=
					    0)
					fail_msg("case %zu cut %zu/%zu: '%.*s'",
						 i, a, b, (int)c.len, c.buf);
			}
		}
	}
}

static int
failing_emit(void *arg, const char *p, size_t len)
{
	(void)arg;
	(void)p;
	(void)len;
	return -1;
}

static void
test_dot_emit_error(void **state)
{
	struct smtp_wire_dot dot = { 0 };

	(void)state;
	assert_int_equal(
		smtp_wire_dot_stuff(&dot, ".x\r\n", 4, failing_emit, NULL), -1);
	assert_int_equal(smtp_wire_dot_end(&dot, failing_emit, NULL), -1);
}

/* ---- xtext ---- */

static void
test_xtext(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "127.0.0.1", "127.0.0.1" },
		{ "IPV6:2001:db8::1", "IPV6:2001:db8::1" },
		{ "a b", "a+20b" },
		{ "a+b=c", "a+2Bb+3Dc" },
		{ "\x7f\xc3\xa9", "+7F+C3+A9" },
		{ "[UNAVAILABLE]", "[UNAVAILABLE]" },
		{ "", "" },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(smtp_wire_xtext(out, sizeof(out), cases[i].in),
				 strlen(cases[i].want));
		assert_string_equal(out, cases[i].want);
	}
	assert_int_equal(smtp_wire_xtext(out, 4, "abcd"), (size_t)-1);
	assert_int_equal(smtp_wire_xtext(out, 4, "ab c"), (size_t)-1);
	assert_int_equal(smtp_wire_xtext(out, 5, "abcd"), 4);
}

/* ---- reply mapping ---- */

#define R(s) s /* a reply "code enhanced text"; "" for none */

struct map_case {
	const char *name;
	bool lmtp;
	unsigned nrcpt;
	const char *mail;
	const char *rcpt[3];
	const char *data;
	const char *final[3];
	bool failed;
	unsigned refusal;
	/* want */
	unsigned code;
	const char *enhanced;
	const char *text;   /* substring */
	const char *status; /* per recipient: 's', 'd', 'b' */
};

static const struct map_case map_cases[] = {
	{ "all sent",
	  false,
	  2,
	  "250 2.1.0 Ok",
	  { "250 2.1.5 Ok", "250 2.1.5 Ok" },
	  "354 go",
	  { "250 2.0.0 Ok: queued as ABC" },
	  false,
	  0,
	  250,
	  "2.0.0",
	  "Ok: queued as QID",
	  "ss" },
	{ "BDAT: no DATA reply",
	  false,
	  1,
	  "250 2.1.0 Ok",
	  { "250 2.1.5 Ok" },
	  "",
	  { "250 2.0.0 Ok" },
	  false,
	  0,
	  250,
	  "2.0.0",
	  "queued as QID",
	  "s" },
	{ "one refused",
	  false,
	  1,
	  "250 Ok",
	  { "550 5.1.1 <a@b>: User unknown" },
	  "554 5.5.1 no valid recipients",
	  { "" },
	  false,
	  0,
	  550,
	  "5.1.1",
	  "mx[192.0.2.1]:25 said: <a@b>: User unknown",
	  "b" },
	{ "all refused, one 4xx",
	  false,
	  2,
	  "250 Ok",
	  { "550 5.1.1 unknown", "450 4.2.1 later" },
	  "",
	  { "" },
	  false,
	  0,
	  450,
	  "4.2.1",
	  "said: later",
	  "dd" },
	{ "partial refusal",
	  false,
	  3,
	  "250 Ok",
	  { "250 2.1.5 Ok", "550 5.1.1 no such user", "250 2.1.5 Ok" },
	  "354 go",
	  { "" },
	  false,
	  0,
	  450,
	  "4.1.1",
	  "no such user (for <r1@x>)",
	  "ddd" },
	{ "MAIL refused",
	  false,
	  2,
	  "553 5.7.1 sender rejected",
	  { "", "" },
	  "",
	  { "" },
	  false,
	  0,
	  553,
	  "5.7.1",
	  "said: sender rejected",
	  "bb" },
	{ "MAIL 421 is 451",
	  false,
	  1,
	  "421 4.3.2 shutting down",
	  { "" },
	  "",
	  { "" },
	  false,
	  0,
	  451,
	  "4.3.2",
	  "said: shutting down",
	  "d" },
	{ "DATA refused",
	  false,
	  1,
	  "250 Ok",
	  { "250 Ok" },
	  "554 5.3.0 no data",
	  { "" },
	  false,
	  0,
	  554,
	  "5.3.0",
	  "said: no data",
	  "b" },
	{ "end of data 5xx",
	  false,
	  1,
	  "250 Ok",
	  { "250 Ok" },
	  "354 go",
	  { "552 5.3.4 Message too big" },
	  false,
	  0,
	  552,
	  "5.3.4",
	  "said: Message too big",
	  "b" },
	{ "end of data 4xx without enhanced",
	  false,
	  1,
	  "250 Ok",
	  { "250 Ok" },
	  "354 go",
	  { "451 local error" },
	  false,
	  0,
	  451,
	  "4.0.0",
	  "said: local error",
	  "d" },
	{ "connection lost",
	  false,
	  2,
	  "250 Ok",
	  { "250 Ok", "250 Ok" },
	  "354 go",
	  { "" },
	  true,
	  0,
	  451,
	  "4.4.1",
	  "lost connection",
	  "dd" },
	{ "no 8BITMIME",
	  false,
	  1,
	  "",
	  { "" },
	  "",
	  { "" },
	  false,
	  550,
	  550,
	  "5.6.3",
	  "8BITMIME",
	  "b" },
	{ "no SMTPUTF8",
	  false,
	  1,
	  "",
	  { "" },
	  "",
	  { "" },
	  false,
	  553,
	  553,
	  "5.6.7",
	  "SMTPUTF8",
	  "b" },
	{ "LMTP one",
	  true,
	  1,
	  "250 Ok",
	  { "250 Ok" },
	  "354 go",
	  { "250 2.0.0 <a> Saved" },
	  false,
	  0,
	  250,
	  "2.0.0",
	  "queued as QID",
	  "s" },
	{ "LMTP over quota",
	  true,
	  1,
	  "250 Ok",
	  { "250 Ok" },
	  "354 go",
	  { "552 5.2.2 Mailbox full" },
	  false,
	  0,
	  552,
	  "5.2.2",
	  "said: Mailbox full",
	  "b" },
	{ "LMTP disagree",
	  true,
	  2,
	  "250 Ok",
	  { "250 Ok", "250 Ok" },
	  "354 go",
	  { "250 2.0.0 Saved", "452 4.2.2 Over quota" },
	  false,
	  0,
	  451,
	  "4.2.2",
	  "some recipients have the message",
	  "sd" },
	{ "LMTP all refused",
	  true,
	  2,
	  "250 Ok",
	  { "250 Ok", "250 Ok" },
	  "354 go",
	  { "550 5.1.1 gone", "452 4.2.2 quota" },
	  false,
	  0,
	  452,
	  "4.2.2",
	  "said: quota",
	  "dd" },
};

static void
map_set(struct smtp_wire_reply *r, const char *s)
{
	smtp_wire_reply_init(r);
	if (s == NULL || s[0] == '\0')
		return;
	assert_int_equal(smtp_wire_reply_feed(r, s, strlen(s)), 1);
}

static void
test_map_delivery(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(map_cases) / sizeof(map_cases[0]); i++) {
		const struct map_case *mc = &map_cases[i];
		struct relay_rcpt rcpts[3] = { { "r0@x", NULL, 0 },
					       { "r1@x", NULL, 0 },
					       { "r2@x", NULL, 0 } };
		struct smtp_wire_reply rr[3], ff[3];
		struct smtp_client_tx tx;
		struct relay_rcpt_result res[3];
		struct relay_reply reply;

		memset(&tx, 0, sizeof(tx));
		tx.rcpts = rcpts;
		tx.nrcpt = mc->nrcpt;
		tx.rcpt = rr;
		tx.final = ff;
		map_set(&tx.mail, mc->mail);
		map_set(&tx.data, mc->data);
		for (unsigned k = 0; k < 3; k++) {
			map_set(&rr[k], k < mc->nrcpt ? mc->rcpt[k] : NULL);
			map_set(&ff[k], mc->final[k]);
		}
		tx.failed = mc->failed;
		if (mc->failed)
			snprintf(tx.fail_text, sizeof(tx.fail_text),
				 "lost connection with mx[192.0.2.1]:25 while "
				 "sending message body");
		tx.refusal = mc->refusal;
		tx.mail_accepted = tx.mail.code / 100 == 2;
		relay_map_delivery(&tx, mc->lmtp, "mx[192.0.2.1]:25", "QID",
				   &reply, res);
		if (reply.code != mc->code ||
		    strcmp(reply.enhanced, mc->enhanced) != 0 ||
		    strstr(reply.text, mc->text) == NULL)
			fail_msg("%s: got %u %s %s", mc->name, reply.code,
				 reply.enhanced, reply.text);
		for (unsigned k = 0; k < mc->nrcpt; k++) {
			char want = mc->status[k];
			char got = res[k].status == RELAY_SENT	     ? 's'
				   : res[k].status == RELAY_DEFERRED ? 'd'
								     : 'b';

			if (got != want)
				fail_msg("%s: recipient %u is %c", mc->name, k,
					 got);
			assert_true(res[k].text[0] != '\0');
			assert_true(res[k].dsn[0] == (got == 's'   ? '2'
						      : got == 'd' ? '4'
								   : '5'));
		}
		/* Nothing says 2xx unless the upstream took the message. */
		if (reply.code / 100 == 2)
			assert_true(mc->lmtp ? ff[0].code / 100 == 2
					     : ff[0].code / 100 == 2);
	}
}

static void
test_map_delivery_log_text(void **state)
{
	struct relay_rcpt rcpt = { "a@b", NULL, 0 };
	struct smtp_wire_reply rr, ff;
	struct smtp_client_tx tx;
	struct relay_rcpt_result res;
	struct relay_reply reply;

	(void)state;
	memset(&tx, 0, sizeof(tx));
	tx.rcpts = &rcpt;
	tx.nrcpt = 1;
	tx.rcpt = &rr;
	tx.final = &ff;
	map_set(&tx.mail, "250 2.1.0 Ok");
	map_set(&rr, "550 5.1.1 <a@b>: Recipient address rejected");
	map_set(&ff, NULL);
	map_set(&tx.data, NULL);
	tx.mail_accepted = true;
	relay_map_delivery(&tx, false, "mx[10.0.0.5]:25", "Q", &reply, &res);
	assert_string_equal(res.text,
			    "host mx[10.0.0.5]:25 said: 550 5.1.1 <a@b>: "
			    "Recipient address rejected (in reply to RCPT TO "
			    "command)");
	assert_string_equal(res.dsn, "5.1.1");
	/* No room for the log lines: the reply is still right. */
	relay_map_delivery(&tx, false, "mx[10.0.0.5]:25", "Q", &reply, NULL);
	assert_int_equal(reply.code, 550);
}

static void
test_map_verify(void **state)
{
	static const struct {
		const char *mail, *rcpt;
		bool failed;
		unsigned refusal;
		unsigned code;
		const char *enhanced, *text;
	} cases[] = {
		{ "250 Ok", "250 2.1.5 Ok", false, 0, 250, "2.1.5", "Ok" },
		{ "250 Ok", "550 5.1.1 <x>: User unknown", false, 0, 550,
		  "5.1.1", "up[1.2.3.4]:25 said: <x>: User unknown" },
		{ "250 Ok", "450 4.2.0 greylisted", false, 0, 450, "4.2.0",
		  "said: greylisted" },
		{ "553 5.1.8 bad sender", "", false, 0, 553, "5.1.8",
		  "said: bad sender" },
		{ "250 Ok", "", true, 0, 451, "4.4.1", "cannot verify" },
		{ "", "", false, 553, 553, "5.6.7", "SMTPUTF8" },
		{ "", "", false, 550, 550, "5.6.3", "8BITMIME" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_wire_reply rr;
		struct smtp_client_tx tx;
		struct relay_reply reply;

		memset(&tx, 0, sizeof(tx));
		tx.rcpt = &rr;
		tx.nrcpt = 1;
		map_set(&tx.mail, cases[i].mail);
		map_set(&rr, cases[i].rcpt);
		tx.failed = cases[i].failed;
		tx.refusal = cases[i].refusal;
		relay_map_verify(&tx, "up[1.2.3.4]:25", &reply);
		if (reply.code != cases[i].code ||
		    strcmp(reply.enhanced, cases[i].enhanced) != 0 ||
		    strstr(reply.text, cases[i].text) == NULL)
			fail_msg("case %zu: %u %s %s", i, reply.code,
				 reply.enhanced, reply.text);
	}
}

/* ---- end to end against a scripted LMTP server ---- */

struct fake {
	char path[PATH_MAX];
	int lfd;
	pthread_t thread;
	pthread_mutex_t lock;
	bool stop;
	/* behaviour */
	const char *greeting;
	const char *caps; /* LHLO reply lines after the first, '\n' apart */
	char refuse[64];  /* RCPT of this local part gets 550 */
	/* what it saw */
	int connections;
	int rsets, quits, mails, rcpts;
	char data[8192]; /* last message's raw DATA bytes, stuffed */
	size_t data_len;
	int messages;
};

static int
fake_send(int fd, const char *s)
{
	size_t len = strlen(s);

	return write(fd, s, len) == (ssize_t)len ? 0 : -1;
}

/* One line (without CRLF) from fd through a small buffer; -1 at EOF. */
static int
fake_line(int fd, char *buf, size_t *have, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *have);
		ssize_t n;

		if (nl != NULL) {
			size_t len = (size_t)(nl - buf) + 1;
			size_t copy = len - 1;

			if (copy > 0 && buf[copy - 1] == '\r')
				copy--;
			if (copy >= size)
				copy = size - 1;
			memcpy(line, buf, copy);
			line[copy] = '\0';
			memmove(buf, buf + len, *have - len);
			*have -= len;
			return 0;
		}
		if (*have >= 4096)
			return -1;
		n = read(fd, buf + *have, 4096 - *have);
		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
}

static void
fake_session(struct fake *f, int fd)
{
	char buf[4096], line[1024], reply[1024];
	size_t have = 0;
	int accepted = 0;

	fake_send(fd, f->greeting);
	while (fake_line(fd, buf, &have, line, sizeof(line)) == 0) {
		pthread_mutex_lock(&f->lock);
		if (strncasecmp(line, "LHLO", 4) == 0) {
			snprintf(reply, sizeof(reply), "250-fake\r\n%s\r\n",
				 f->caps);
			fake_send(fd, reply);
		} else if (strncasecmp(line, "MAIL", 4) == 0) {
			f->mails++;
			accepted = 0;
			fake_send(fd, "250 2.1.0 Ok\r\n");
		} else if (strncasecmp(line, "RCPT", 4) == 0) {
			f->rcpts++;
			if (f->refuse[0] && strstr(line, f->refuse)) {
				fake_send(fd,
					  "550 5.1.1 <x>: User unknown\r\n");
			} else {
				accepted++;
				fake_send(fd, "250 2.1.5 Ok\r\n");
			}
		} else if (strncasecmp(line, "DATA", 4) == 0 && accepted == 0) {
			fake_send(fd, "554 5.5.1 no valid recipients\r\n");
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			bool complete = false;

			f->data_len = 0;
			fake_send(fd, "354 go\r\n");
			pthread_mutex_unlock(&f->lock);
			while (fake_line(fd, buf, &have, line, sizeof(line)) ==
			       0) {
				size_t l = strlen(line);

				pthread_mutex_lock(&f->lock);
				if (f->data_len + l + 2 < sizeof(f->data)) {
					memcpy(f->data + f->data_len, line, l);
					memcpy(f->data + f->data_len + l,
					       "\r\n", 2);
					f->data_len += l + 2;
				}
				pthread_mutex_unlock(&f->lock);
				if (strcmp(line, ".") == 0) {
					complete = true;
					break;
				}
			}
			pthread_mutex_lock(&f->lock);
			if (!complete) {
				pthread_mutex_unlock(&f->lock);
				break;
			}
			f->messages++;
			for (int i = 0; i < accepted; i++)
				fake_send(fd, "250 2.0.0 Ok: saved\r\n");
		} else if (strncasecmp(line, "RSET", 4) == 0) {
			f->rsets++;
			fake_send(fd, "250 2.0.0 Ok\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			f->quits++;
			fake_send(fd, "221 2.0.0 Bye\r\n");
			pthread_mutex_unlock(&f->lock);
			break;
		} else {
			fake_send(fd, "502 5.5.2 no\r\n");
		}
		pthread_mutex_unlock(&f->lock);
	}
	close(fd);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		struct pollfd p = { .fd = f->lfd, .events = POLLIN };
		bool stop;
		int fd;

		pthread_mutex_lock(&f->lock);
		stop = f->stop;
		pthread_mutex_unlock(&f->lock);
		if (stop)
			return NULL;
		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&f->lock);
		f->connections++;
		pthread_mutex_unlock(&f->lock);
		fake_session(f, fd);
	}
}

static void
fake_start(struct fake *f, const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->greeting = "220 fake LMTP\r\n";
	f->caps = "250-PIPELINING\r\n250 ENHANCEDSTATUSCODES";
	snprintf(f->path, sizeof(f->path), "%s/%s", tmpdir, name);
	assert_true(strlen(f->path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, f->path, strlen(f->path) + 1);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
	pthread_mutex_destroy(&f->lock);
}

static int
fake_get(struct fake *f, const int *field)
{
	int v;

	pthread_mutex_lock(&f->lock);
	v = *field;
	pthread_mutex_unlock(&f->lock);
	return v;
}

struct done_ctx {
	int calls;
	struct relay_reply reply;
};

static void
done_cb(void *arg, const struct relay_reply *reply)
{
	struct done_ctx *d = arg;

	d->calls++;
	d->reply = *reply;
}

static void
watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fail_msg("relay: done did not run within 10 s");
}

static void
run_until_done(struct event_base *base, struct done_ctx *d)
{
	struct timeval ten = { 10, 0 };
	struct event *dog = evtimer_new(base, watchdog, NULL);

	evtimer_add(dog, &ten);
	while (d->calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(dog);
	assert_int_equal(d->calls, 1);
}

static struct pst_spool *
spool_text(const char *text)
{
	struct pst_spool *spool = pst_spool_new(1 << 20, tmpdir);
	const char *error = NULL;

	assert_non_null(spool);
	assert_int_equal(pst_spool_write(spool, text, strlen(text), &error), 0);
	assert_int_equal(pst_spool_flush(spool, &error), 0);
	return spool;
}

static struct relay *
relay_from(struct pst_arena *arena, const char *text)
{
	struct top top;
	const char *error = NULL;
	struct relay *relay;

	if (load_routes(arena, text, &top, &error) != 0)
		fail_msg("%s", error);
	relay = relay_new(arena, &top.relay, NULL, &error);
	if (relay == NULL)
		fail_msg("%s", error);
	return relay;
}

static void
test_submit_lmtp_unix(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct fake f;
	char conf[PATH_MAX + 200];
	struct relay *relay;
	struct event_base *base = event_base_new();
	struct pst_spool *spool =
		spool_text("Subject: s\r\n\r\n.dot\r\nmid.dle\r\n.\r\n..\r\n");
	struct relay_rcpt rcpt = { "alice@example.org", NULL, 0 };
	struct relay_client who = { "192.0.2.7", 4000,	  "unknown",
				    "c.test",	 "ESMTP", false };
	struct relay_msg msg = { .qid = "QID1",
				 .client = &who,
				 .from = "s@x",
				 .rcpts = &rcpt,
				 .nrcpt = 1,
				 .spool = spool };
	const struct relay_route *route;
	struct done_ctx d = { 0 };

	(void)state;
	fake_start(&f, "lmtp1.sock");
	snprintf(conf, sizeof(conf),
		 "route default { upstream = \"lmtp:unix:%s\"; }", f.path);
	relay = relay_from(arena, conf);
	route = relay_route_for(relay, PST_STR_LIT("example.org"));
	assert_int_equal(relay_route_max_rcpt(route), 1);

	assert_int_equal(relay_submit(relay, base, route, &msg, done_cb, &d),
			 0);
	assert_int_equal(d.calls, 0); /* never from inside the call */
	run_until_done(base, &d);
	assert_int_equal(d.reply.code, 250);
	assert_string_equal(d.reply.enhanced, "2.0.0");
	assert_string_equal(d.reply.text, "Ok: queued as QID1");
	pthread_mutex_lock(&f.lock);
	assert_int_equal(f.messages, 1);
	/* Dot-stuffed on the wire, the end of data after it. */
	f.data[f.data_len] = '\0';
	assert_string_equal(f.data, "Subject: s\r\n\r\n..dot\r\nmid.dle\r\n"
				    "..\r\n...\r\n.\r\n");
	pthread_mutex_unlock(&f.lock);

	/* The second message reuses the pooled connection after RSET. */
	memset(&d, 0, sizeof(d));
	assert_int_equal(relay_submit(relay, base, route, &msg, done_cb, &d),
			 0);
	run_until_done(base, &d);
	assert_int_equal(d.reply.code, 250);
	assert_int_equal(fake_get(&f, &f.connections), 1);
	assert_int_equal(fake_get(&f, &f.rsets), 1);
	assert_int_equal(fake_get(&f, &f.messages), 2);

	/* A refused recipient: the upstream's code and text, marked. */
	snprintf(f.refuse, sizeof(f.refuse), "alice");
	memset(&d, 0, sizeof(d));
	assert_int_equal(relay_submit(relay, base, route, &msg, done_cb, &d),
			 0);
	run_until_done(base, &d);
	assert_int_equal(d.reply.code, 550);
	assert_string_equal(d.reply.enhanced, "5.1.1");
	assert_non_null(strstr(d.reply.text, "localhost["));
	assert_non_null(strstr(d.reply.text, "] said: <x>: User unknown"));
	assert_int_equal(fake_get(&f, &f.messages), 2);

	/* The base goes: the pooled connection says QUIT. */
	relay_base_free(relay, base);
	for (int i = 0; i < 200 && fake_get(&f, &f.quits) == 0; i++)
		usleep(10000);
	assert_int_equal(fake_get(&f, &f.quits), 1);
	event_base_free(base);
	fake_stop(&f);
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

static void
test_submit_unreachable(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	char conf[PATH_MAX + 200];
	struct relay *relay;
	struct event_base *base = event_base_new();
	struct pst_spool *spool = spool_text("x\r\n");
	struct relay_rcpt rcpt = { "a@example.org", NULL, 0 };
	struct relay_msg msg = { .qid = "QID2",
				 .from = "",
				 .rcpts = &rcpt,
				 .nrcpt = 1,
				 .spool = spool };
	struct done_ctx d = { 0 };

	(void)state;
	snprintf(conf, sizeof(conf),
		 "route default { upstream = \"lmtp:unix:%s/none.sock\"; "
		 "backoff = 0; }",
		 tmpdir);
	relay = relay_from(arena, conf);
	assert_int_equal(
		relay_submit(relay, base,
			     relay_route_for(relay, PST_STR_LIT("x.org")), &msg,
			     done_cb, &d),
		0);
	assert_int_equal(d.calls, 0);
	run_until_done(base, &d);
	assert_int_equal(d.reply.code, 451);
	assert_string_equal(d.reply.enhanced, "4.4.1");
	assert_non_null(strstr(d.reply.text, "No such file or directory"));
	relay_base_free(relay, base);
	event_base_free(base);
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

static void
test_verify(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct fake f;
	char conf[PATH_MAX + 300];
	struct relay *relay;
	struct event_base *base = event_base_new();
	struct relay_rcpt bad = { "Bob@Example.org", NULL, 0 };
	struct relay_rcpt bad2 = { "bob@example.ORG", NULL, 0 };
	struct relay_rcpt good = { "alice@example.org", NULL, 0 };
	struct relay_msg msg = { .qid = "QID3", .from = "s@x" };
	const struct relay_route *route;
	struct done_ctx d = { 0 };

	(void)state;
	fake_start(&f, "lmtp2.sock");
	snprintf(f.refuse, sizeof(f.refuse), "ob@");
	snprintf(conf, sizeof(conf),
		 "route default { upstream = \"lmtp:unix:%s\"; "
		 "verify_recipients = true; verify_cache = 1min; }",
		 f.path);
	relay = relay_from(arena, conf);
	route = relay_route_for(relay, PST_STR_LIT("example.org"));
	assert_true(relay_route_verifies(route));

	assert_int_equal(
		relay_verify(relay, base, route, &msg, &bad, done_cb, &d), 0);
	assert_int_equal(d.calls, 0);
	run_until_done(base, &d);
	assert_int_equal(d.reply.code, 550);
	assert_string_equal(d.reply.enhanced, "5.1.1");
	assert_int_equal(fake_get(&f, &f.rcpts), 1);
	assert_int_equal(fake_get(&f, &f.messages), 0);

	/* Cached, whatever the case of the address. */
	memset(&d, 0, sizeof(d));
	assert_int_equal(
		relay_verify(relay, base, route, &msg, &bad2, done_cb, &d), 0);
	assert_int_equal(d.calls, 0);
	run_until_done(base, &d);
	assert_int_equal(d.reply.code, 550);
	assert_int_equal(fake_get(&f, &f.rcpts), 1);

	memset(&d, 0, sizeof(d));
	assert_int_equal(
		relay_verify(relay, base, route, &msg, &good, done_cb, &d), 0);
	run_until_done(base, &d);
	assert_int_equal(d.reply.code, 250);
	assert_string_equal(d.reply.enhanced, "2.1.5");
	assert_int_equal(fake_get(&f, &f.rcpts), 2);
	/* Probes on one pooled connection: MAIL, RCPT, RSET each. */
	assert_int_equal(fake_get(&f, &f.connections), 1);
	assert_int_equal(fake_get(&f, &f.mails), 2);

	relay_base_free(relay, base);
	event_base_free(base);
	fake_stop(&f);
	pst_arena_free(&arena);
}

/* An upstream whose replies run ahead of our commands is dropped, not
 * believed: its extra 250 would otherwise answer the next command. */
static void
test_unsolicited_reply(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct fake f;
	char conf[PATH_MAX + 200];
	struct relay *relay;
	struct event_base *base = event_base_new();
	struct pst_spool *spool = spool_text("x\r\n");
	struct relay_rcpt rcpt = { "a@example.org", NULL, 0 };
	struct relay_msg msg = { .qid = "QID4",
				 .from = "",
				 .rcpts = &rcpt,
				 .nrcpt = 1,
				 .spool = spool };
	struct done_ctx d = { 0 };

	(void)state;
	fake_start(&f, "lmtp3.sock");
	f.greeting = "220 fake\r\n250 2.0.0 bogus\r\n";
	snprintf(conf, sizeof(conf),
		 "route default { upstream = \"lmtp:unix:%s\"; backoff = 0; }",
		 f.path);
	relay = relay_from(arena, conf);
	assert_int_equal(
		relay_submit(relay, base,
			     relay_route_for(relay, PST_STR_LIT("x.org")), &msg,
			     done_cb, &d),
		0);
	run_until_done(base, &d);
	assert_int_equal(d.reply.code, 451);
	assert_string_equal(d.reply.enhanced, "4.4.1");
	assert_non_null(strstr(d.reply.text, "sent a reply to no command"));
	assert_int_equal(fake_get(&f, &f.messages), 0);
	relay_base_free(relay, base);
	event_base_free(base);
	fake_stop(&f);
	pst_spool_free(&spool);
	pst_arena_free(&arena);
}

/* A route of maildirs only has nothing to ask: 250, but not at once. */
static void
test_verify_maildir_route(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct relay *relay = relay_from(
		arena,
		"route default { upstream = \"maildir:/nonexistent\"; }");
	struct event_base *base = event_base_new();
	struct relay_rcpt rcpt = { "a@b", NULL, 0 };
	struct relay_msg msg = { .qid = "Q", .from = "" };
	const struct relay_route *route =
		relay_route_for(relay, PST_STR_LIT("b"));
	struct done_ctx d = { 0 };

	(void)state;
	assert_false(relay_route_verifies(route));
	assert_int_equal(relay_route_max_rcpt(route), 0);
	assert_int_equal(
		relay_verify(relay, base, route, &msg, &rcpt, done_cb, &d), 0);
	assert_int_equal(d.calls, 0);
	run_until_done(base, &d);
	assert_int_equal(d.reply.code, 250);
	assert_int_equal(
		relay_verify(relay, base, NULL, &msg, &rcpt, done_cb, &d), -1);
	relay_base_free(relay, base);
	event_base_free(base);
	pst_arena_free(&arena);
}

/* ---- set-up ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_relay_smtp.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	pst_log_init(false);
	pst_log_set_level(PST_LOG_ERR);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upstream_parse),
		cmocka_unit_test(test_route_keys),
		cmocka_unit_test(test_route_key_errors),
		cmocka_unit_test(test_tls_ca_missing),
		cmocka_unit_test(test_reply_feed),
		cmocka_unit_test(test_reply_limits),
		cmocka_unit_test(test_ehlo),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_dot_emit_error),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_map_delivery),
		cmocka_unit_test(test_map_delivery_log_text),
		cmocka_unit_test(test_map_verify),
		cmocka_unit_test(test_submit_lmtp_unix),
		cmocka_unit_test(test_submit_unreachable),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_unsolicited_reply),
		cmocka_unit_test(test_verify_maildir_route),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
