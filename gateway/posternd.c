/*
 * posternd.c - the gateway daemon: parse arguments, load and check the
 * configuration, bind, drop privileges, run one event loop per core, and
 * stop cleanly on SIGTERM.
 *
 *   posternd -c FILE [-f] [-t]
 *
 * Fatal exits happen only here, before serving.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "arena.h"
#include "conn_limits.h"
#include "filter.h"
#include "log.h"
#include "mbox_settings.h"
#include "relay.h"
#include "server.h"
#include "settings.h"
#include "workq.h"

#define RELAY_WORKERS 4

static void
usage(void)
{
	fprintf(stderr, "usage: posternd -c FILE [-f] [-t]\n"
			"  -c FILE  configuration file\n"
			"  -f       log to stderr as well as syslog\n"
			"  -t       check the configuration and exit\n");
	exit(2);
}

/* Become the configured user for good (after binding ports). */
static int
drop_privileges(const char *user, const char **error_r)
{
	static char msg[300];
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		snprintf(msg, sizeof(msg), "unknown user '%s'", user);
		*error_r = msg;
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(msg, sizeof(msg), "cannot become '%s': %s", user,
			 strerror(errno));
		*error_r = msg;
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		*error_r = "privileges could be regained after dropping them";
		return -1;
	}
	return 0;
}

/* uid/gid of the configured user, for files created before the drop. */
static void
user_ids(const struct postern_settings *st, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw =
		(geteuid() == 0 && st->user) ? getpwnam(st->user) : NULL;

	*uid_r = pw ? pw->pw_uid : (uid_t)-1;
	*gid_r = pw ? pw->pw_gid : (gid_t)-1;
}

/* The quarantine store's top directory, made now (as root) and given to
 * the user we run as; the store makes the folders below it. */
static int
prepare_quarantine(const struct postern_settings *st, uid_t uid, gid_t gid,
		   const char **error_r)
{
	static char msg[600];
	const char *dir = st->filters.quarantine_dir;
	bool created;

	if (st->filters.nentries == 0)
		return 0; /* nothing can quarantine */
	/* Parents as a package would make them: root's, 0755. */
	snprintf(msg, sizeof(msg), "%s", dir);
	for (char *p = msg + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(msg, 0755) < 0 && errno != EEXIST)
			break; /* reported below, on the leaf */
		*p = '/';
	}
	created = mkdir(dir, 0700) == 0;

	if (!created && errno != EEXIST) {
		snprintf(msg, sizeof(msg), "quarantine dir '%s': %s", dir,
			 strerror(errno));
		*error_r = msg;
		return -1;
	}
	if (created && uid != (uid_t)-1 && chown(dir, uid, gid) < 0) {
		snprintf(msg, sizeof(msg), "quarantine dir '%s': chown: %s",
			 dir, strerror(errno));
		*error_r = msg;
		return -1;
	}
	return 0;
}

static void
log_started(const struct server *server)
{
	const struct pst_conf_strings *listen = &server->settings->smtp.listen;
	char where[512];
	size_t off = 0;

	where[0] = '\0';
	for (size_t i = 0; i < listen->n && off < sizeof(where); i++) {
		int n = snprintf(where + off, sizeof(where) - off, "%s%s",
				 i ? ", " : "", listen->v[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
	pst_log(PST_LOG_INFO, "smtpd",
		"posternd started, %u threads, listening on %s",
		server->nworkers, where);
}

/* SIGHUP: compile the rule files again; new sessions get the new set,
 * sessions in flight keep theirs, a set with errors changes nothing.
 * The IMAP/POP3 user maps are read again the same way. */
static void
reload(const struct postern_settings *st)
{
	struct pst_arena *arena = pst_arena_new(0);
	const char *report = "";

	if (arena == NULL)
		return;
	if (filter_chain_reload_rules(st->chain, arena, &report) < 0)
		pst_log(PST_LOG_ERR, "smtpd",
			"SIGHUP: rules refused, the old ones stay active: %s",
			report);
	else
		pst_log(PST_LOG_NOTICE, "smtpd", "SIGHUP: rules reloaded%s%s",
			report[0] ? ": " : "", report);
	if (mbox_settings_reload(&st->mailbox, arena, &report) < 0)
		pst_log(PST_LOG_ERR, "smtpd",
			"SIGHUP: user map refused, the old one stays active: "
			"%s",
			report);
	pst_arena_free(&arena);
}

static void
wait_for_shutdown(const struct postern_settings *st)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(st);
			continue;
		}
		pst_log(PST_LOG_INFO, "smtpd", "%s: stopping",
			sig == SIGTERM ? "SIGTERM" : "SIGINT");
		return;
	}
}

/* Bind, drop privileges, run the loops until SIGTERM; 0 or 1. */
static int
serve(const struct postern_settings *st)
{
	struct server server;
	const char *error = NULL;
	sigset_t set;
	uid_t uid;
	gid_t gid;
	int rc = 1;

	/* Signals are taken by sigwait() on this thread only. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	evthread_use_pthreads();

	memset(&server, 0, sizeof(server));
	server.settings = st;
	user_ids(st, &uid, &gid);
	server.workq = pst_workq_new(RELAY_WORKERS);
	/* Filters get threads of their own: a slow filter must not hold
	 * up maildir deliveries, nor they the filters. */
	server.filter_workq = pst_workq_new((unsigned)st->filters.threads);
	server.limits = limits_new((unsigned)st->smtp.max_connections,
				   (unsigned)st->smtp.max_connections_per_ip);
	if (server.workq == NULL || server.filter_workq == NULL ||
	    server.limits == NULL) {
		error = "out of memory";
		goto out;
	}
	server.relay = relay_new(st->arena, &st->relay, server.workq, &error);
	if (server.relay == NULL ||
	    relay_prepare(server.relay, uid, gid, &error) < 0 ||
	    prepare_quarantine(st, uid, gid, &error) < 0 ||
	    server_bind(&server, &error) < 0 ||
	    (geteuid() == 0 && drop_privileges(st->user, &error) < 0) ||
	    server_start(&server, &error) < 0)
		goto out;
	if (uid == (uid_t)-1 && st->user != NULL)
		pst_log(PST_LOG_NOTICE, "smtpd",
			"not started as root: ignoring user '%s'", st->user);
	log_started(&server);
	wait_for_shutdown(st);
	rc = 0;
out:
	if (rc != 0) {
		fprintf(stderr, "posternd: %s\n", error);
		pst_log(PST_LOG_ERR, "smtpd", "fatal: %s", error);
	}
	server_stop(&server);
	pst_workq_free(&server.workq);
	pst_workq_free(&server.filter_workq);
	server_free(&server);
	limits_free(&server.limits);
	if (rc == 0)
		pst_log(PST_LOG_INFO, "smtpd", "posternd stopped");
	return rc;
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *error = NULL;
	bool foreground = false, test_only = false;
	struct postern_settings *st = NULL;
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
	    settings_require_gateway(st, &error) < 0 ||
	    settings_run_user(st, NULL, &error) < 0 ||
	    (test_only &&
	     relay_new(st->arena, &st->relay, NULL, &error) == NULL)) {
		fprintf(stderr, "posternd: %s\n", error);
		settings_free(&st);
		return 1;
	}
	if (test_only) {
		fprintf(stderr, "posternd: configuration %s is ok\n", path);
		settings_free(&st);
		return 0;
	}
	rc = serve(st);
	settings_free(&st);
	return rc;
}
