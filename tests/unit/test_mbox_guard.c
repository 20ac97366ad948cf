/*
 * test_mbox_guard.c - the brute-force guard (counts per address and per
 * user, growing delays, lockout and its end) and backend selection
 * (user map, domain, default) from a configuration.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "arena.h"
#include "mbox_guard.h"
#include "mbox_settings.h"

static struct sockaddr_in
addr4(const char *s)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, s, &sin.sin_addr);
	return sin;
}

static const struct mbox_guard_settings guard_conf = {
	.max_failures_ip = 5,
	.max_failures_user = 3,
	.delay = 1000,
	.max_delay = 5000,
	.lockout = 60000,
};

static void
test_user_lockout_and_delays(void **state)
{
	struct mbox_guard *g = mbox_guard_new(&guard_conf);
	struct sockaddr_in a = addr4("192.0.2.1"), b = addr4("192.0.2.2");
	struct mbox_guard_count c;
	unsigned retry = 0;
	uint64_t now = 1000000;

	(void)state;
	assert_non_null(g);
	assert_false(mbox_guard_locked(g, (void *)&a, "alice", now, &retry));
	mbox_guard_fail(g, (void *)&a, "alice", now, &c);
	assert_int_equal(c.ip, 1);
	assert_int_equal(c.user, 1);
	assert_int_equal(c.delay_ms, 1000);
	assert_false(c.locked);
	/* from another address: the user count goes on */
	mbox_guard_fail(g, (void *)&b, "ALICE", now + 1, &c);
	assert_int_equal(c.ip, 1);
	assert_int_equal(c.user, 2);
	assert_int_equal(c.delay_ms, 2000);
	mbox_guard_fail(g, (void *)&b, "alice", now + 2, &c);
	assert_int_equal(c.user, 3);
	assert_int_equal(c.delay_ms, 4000);
	assert_true(c.locked);
	assert_true(mbox_guard_locked(g, (void *)&a, "alice", now + 3, &retry));
	assert_int_equal(retry, 60);
	/* others are not locked */
	assert_false(mbox_guard_locked(g, (void *)&a, "bob", now + 3, &retry));
	/* a success does not lift a lockout */
	mbox_guard_success(g, "alice");
	assert_true(mbox_guard_locked(g, (void *)&a, "alice", now + 4, &retry));
	/* it ends */
	assert_false(
		mbox_guard_locked(g, (void *)&a, "alice", now + 60003, &retry));
	mbox_guard_free(&g);
	assert_null(g);
}

static void
test_ip_lockout_and_cap(void **state)
{
	struct mbox_guard *g = mbox_guard_new(&guard_conf);
	struct sockaddr_in a = addr4("198.51.100.7");
	struct mbox_guard_count c;
	unsigned retry = 0;
	char user[32];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		mbox_guard_fail(g, (void *)&a, user, 5000, &c);
	}
	assert_int_equal(c.ip, 5);
	assert_true(c.locked);
	assert_int_equal(c.delay_ms, 5000); /* capped at max_delay */
	assert_true(mbox_guard_locked(g, (void *)&a, NULL, 5001, &retry));
	assert_true(mbox_guard_locked(g, (void *)&a, "anyone", 5001, &retry));
	mbox_guard_free(&g);
}

static void
test_success_forgets_user(void **state)
{
	struct mbox_guard *g = mbox_guard_new(&guard_conf);
	struct sockaddr_in a = addr4("203.0.113.9");
	struct mbox_guard_count c;

	(void)state;
	mbox_guard_fail(g, (void *)&a, "carol", 10, &c);
	mbox_guard_fail(g, (void *)&a, "carol", 11, &c);
	assert_int_equal(c.user, 2);
	mbox_guard_success(g, "carol");
	mbox_guard_fail(g, (void *)&a, "carol", 12, &c);
	assert_int_equal(c.user, 1);
	assert_int_equal(c.ip, 3); /* the address keeps its count */
	/* counts expire after `lockout` without failures */
	mbox_guard_fail(g, (void *)&a, "carol", 12 + 60000, &c);
	assert_int_equal(c.user, 1);
	assert_int_equal(c.ip, 1);
	mbox_guard_free(&g);
}

static struct mbox_backend *
backend(struct pst_arena *arena, const char *name, const char *domain)
{
	struct mbox_backend *b = pst_arena_zalloc(arena, sizeof(*b));

	b->name = name;
	if (domain != NULL) {
		b->domains.v = pst_arena_calloc(arena, 1, sizeof(char *));
		b->domains.v[0] = domain;
		b->domains.n = 1;
	}
	return b;
}

static void
test_backend_selection(void **state)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct mbox_proto_settings p;
	struct mbox_backend *v[3];
	char path[] = "/tmp/test_mbox_usermapXXXXXX";
	const char *err = NULL;
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "# users on the EU store\n"
		   "Carol@Example.org eu\n"
		   "\n"
		   "dave eu\n");
	fclose(f);
	memset(&p, 0, sizeof(p));
	v[0] = backend(arena, "default", NULL);
	v[1] = backend(arena, "eu", "example.eu");
	v[2] = backend(arena, "us", "example.org");
	p.backends = v;
	p.nbackends = 3;
	p.default_backend = v[0];
	p.users = mbox_user_map_new(arena);
	assert_non_null(p.users);
	assert_int_equal(mbox_settings_load_user_map(arena, &p, path, &err), 0);
	assert_int_equal(mbox_user_map_count(&p), 2);
	assert_ptr_equal(mbox_settings_backend(&p, "carol@example.org"), v[1]);
	assert_ptr_equal(mbox_settings_backend(&p, "dave"), v[1]);
	assert_ptr_equal(mbox_settings_backend(&p, "erin@EXAMPLE.ORG"), v[2]);
	assert_ptr_equal(mbox_settings_backend(&p, "x@example.eu"), v[1]);
	assert_ptr_equal(mbox_settings_backend(&p, "x@example.net"), v[0]);
	assert_ptr_equal(mbox_settings_backend(&p, "x@"), v[0]);
	assert_ptr_equal(mbox_settings_backend(&p, "plain"), v[0]);

	f = fopen(path, "w");
	fprintf(f, "frank nosuch\n");
	fclose(f);
	assert_int_equal(mbox_settings_load_user_map(arena, &p, path, &err),
			 -1);
	assert_non_null(strstr(err, ":1: no backend named 'nosuch'"));
	/* a refused file leaves the entries as they were */
	assert_int_equal(mbox_user_map_count(&p), 2);
	assert_ptr_equal(mbox_settings_backend(&p, "dave"), v[1]);
	f = fopen(path, "w");
	fprintf(f, "frank eu extra\n");
	fclose(f);
	assert_int_equal(mbox_settings_load_user_map(arena, &p, path, &err),
			 -1);
	assert_non_null(strstr(err, "want \"USER BACKEND\""));
	/* a good one replaces them */
	f = fopen(path, "w");
	fprintf(f, "dave us\n");
	fclose(f);
	assert_int_equal(mbox_settings_load_user_map(arena, &p, path, &err), 0);
	assert_int_equal(mbox_user_map_count(&p), 1);
	assert_ptr_equal(mbox_settings_backend(&p, "dave"), v[2]);
	assert_ptr_equal(mbox_settings_backend(&p, "carol@example.org"), v[2]);
	unlink(path);
	assert_int_equal(mbox_settings_load_user_map(arena, &p, path, &err),
			 -1);
	pst_arena_free(&arena);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_lockout_and_delays),
		cmocka_unit_test(test_ip_lockout_and_cap),
		cmocka_unit_test(test_success_forgets_user),
		cmocka_unit_test(test_backend_selection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
