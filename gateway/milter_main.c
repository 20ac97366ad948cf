/*
 * milter_main.c - postern-milter: postern's filter chain and rules
 * inside Postfix or Sendmail, on libmilter.
 *
 *   postern-milter -c FILE [-f] [-t]
 *
 * Reads the same configuration file as posternd (its `milter {}` block
 * says where to listen), opens the socket as root, drops to `user`, and
 * hands the process to smfi_main().  libmilter owns SIGHUP, SIGTERM and
 * SIGINT (they stop it); SIGUSR1 compiles the rule files again, as
 * SIGHUP does for posternd.  Fatal exits happen only here, before
 * serving.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>
#include <libmilter/mfapi.h>

#include "arena.h"
#include "filter.h"
#include "log.h"
#include "milter.h"
#include "settings.h"
#include "workq.h"

/* How long to wait at shutdown for connections to finish (s). */
#define MILTER_STOP_WAIT 10

static void
usage(void)
{
	fprintf(stderr, "usage: postern-milter -c FILE [-f] [-t]\n"
			"  -c FILE  configuration file (the milter {} block)\n"
			"  -f       log to stderr as well as syslog\n"
			"  -t       check the configuration and exit\n");
	exit(2);
}

/* The path of a unix:/local: socket, or NULL. */
static const char *
milter_unix_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return NULL;
}

/*
 * TCP_NODELAY on libmilter's listening socket, which accepted sockets
 * inherit on Linux.  libmilter writes a reply as several packets (each
 * modification, then the verdict) and the MTA acknowledges none of them
 * on its own: with Nagle's algorithm every message waits for a delayed
 * ACK, about 40 ms.  libmilter keeps the socket to itself, so it is
 * found among our descriptors: the one listening socket of TCP.
 */
static void
milter_nodelay(void)
{
	for (int fd = 0; fd < 1024; fd++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int listening = 0, one = 1;
		socklen_t ilen = sizeof(listening);

		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
			       &ilen) < 0 ||
		    !listening)
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			       sizeof(one)) < 0)
			pst_log(PST_LOG_WARNING, "milter", "TCP_NODELAY: %s",
				strerror(errno));
	}
}

/* Open the socket (as root), give a unix socket its mode and owner. */
static int
milter_listen(const struct postern_settings *st, const struct passwd *pw,
	      const char **error_r)
{
	static char msg[600];
	const struct milter_settings *m = &st->milter;
	const char *path = milter_unix_path(m->socket);
	struct smfiDesc desc;

	milter_cb_desc(&desc);
	if (smfi_setconn((char *)m->socket) != MI_SUCCESS ||
	    smfi_settimeout((int)(m->timeout / 1000)) != MI_SUCCESS ||
	    smfi_setbacklog((int)m->backlog) != MI_SUCCESS ||
	    smfi_register(desc) != MI_SUCCESS) {
		*error_r = "libmilter refused the settings";
		return -1;
	}
	if (smfi_opensocket(true) != MI_SUCCESS) {
		snprintf(msg, sizeof(msg), "cannot listen on %s", m->socket);
		*error_r = msg;
		return -1;
	}
	if (path == NULL) {
		milter_nodelay();
		return 0;
	}
	if (chmod(path, (mode_t)m->mode) < 0 ||
	    (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) < 0)) {
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		*error_r = msg;
		return -1;
	}
	return 0;
}

static int
milter_drop_privileges(const struct passwd *pw, const char **error_r)
{
	static char msg[300];

	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(msg, sizeof(msg), "cannot become '%s': %s",
			 pw->pw_name, strerror(errno));
		*error_r = msg;
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		*error_r = "privileges could be regained after dropping them";
		return -1;
	}
	return 0;
}

/* SIGUSR1: the rule files again; sessions in flight keep theirs. */
static void *
milter_reload_thread(void *arg)
{
	const struct postern_settings *st = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		struct pst_arena *arena;
		const char *report = "";

		if (sigwait(&set, &sig) != 0)
			continue;
		arena = pst_arena_new(0);
		if (arena == NULL)
			continue;
		if (filter_chain_reload_rules(st->chain, arena, &report) < 0)
			pst_log(PST_LOG_ERR, "milter",
				"SIGUSR1: rules refused, the old ones stay "
				"active: %s",
				report);
		else
			pst_log(PST_LOG_NOTICE, "milter",
				"SIGUSR1: rules reloaded%s%s",
				report[0] ? ": " : "", report);
		pst_arena_free(&arena);
	}
	return NULL;
}

/* After smfi_main: connections still open hold the settings. */
static bool
milter_wait_conns(void)
{
	for (int i = 0; i < MILTER_STOP_WAIT * 10; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (atomic_load(&milter_live_conns) == 0)
			return true;
		nanosleep(&ts, NULL);
	}
	return atomic_load(&milter_live_conns) == 0;
}

static int
milter_serve(const struct postern_settings *st, const struct passwd *pw)
{
	const char *error = NULL;
	pthread_t reload;
	sigset_t set;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by all */
	evthread_use_pthreads();
	milter_server.settings = st;
	milter_server.workq = pst_workq_new((unsigned)st->filters.threads);
	if (milter_server.workq == NULL) {
		error = "out of memory";
		goto fail;
	}
	if (milter_listen(st, pw, &error) < 0 ||
	    (pw != NULL && milter_drop_privileges(pw, &error) < 0))
		goto fail;
	if (pw == NULL && st->user != NULL)
		pst_log(PST_LOG_NOTICE, "milter",
			"not started as root: ignoring user '%s'", st->user);
	if (pthread_create(&reload, NULL, milter_reload_thread, (void *)st) !=
	    0) {
		error = "cannot start a thread";
		goto fail;
	}
	pthread_detach(reload);
	pst_log(PST_LOG_INFO, "milter",
		"postern-milter started, listening on %s, %zu filters",
		st->milter.socket, filter_chain_length(st->chain));
	rc = smfi_main() == MI_SUCCESS ? 0 : 1;
	if (!milter_wait_conns()) {
		/* Threads still use the chain: leave it to exit(). */
		pst_log(PST_LOG_WARNING, "milter",
			"stopping with %u connections still open",
			atomic_load(&milter_live_conns));
		_exit(rc);
	}
	pst_workq_free(&milter_server.workq);
	pst_log(PST_LOG_INFO, "milter", "postern-milter stopped");
	return rc;
fail:
	fprintf(stderr, "postern-milter: %s\n", error);
	pst_log(PST_LOG_ERR, "milter", "fatal: %s", error);
	pst_workq_free(&milter_server.workq);
	return 1;
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *error = NULL;
	bool foreground = false, test_only = false;
	struct postern_settings *st = NULL;
	struct passwd *pw = NULL;
	int opt, rc;

	while ((opt = getopt(argc, argv, "c:fth")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			test_only = true;
			break;
		default:
			usage();
		}
	}
	if (path == NULL || optind != argc)
		usage();
	pst_log_init(foreground || test_only);
	if (settings_load(path, &st, &error) < 0 ||
	    settings_run_user(st, &pw, &error) < 0) {
		fprintf(stderr, "postern-milter: %s\n", error);
		settings_free(&st);
		return 1;
	}
	if (!st->milter.configured)
		pst_log(PST_LOG_NOTICE, "milter",
			"%s: no milter {} block: listening on %s", path,
			st->milter.socket);
	if (test_only) {
		fprintf(stderr,
			"postern-milter: configuration %s is ok (socket %s)\n",
			path, st->milter.socket);
		settings_free(&st);
		return 0;
	}
	rc = milter_serve(st, pw);
	settings_free(&st);
	return rc;
}
