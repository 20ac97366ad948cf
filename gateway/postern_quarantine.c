/*
 * postern_quarantine.c - "postern quarantine": look into the quarantine
 * store, release entries upstream, delete them.
 *
 *   postern quarantine [-c CONF] list [--json]
 *   postern quarantine [-c CONF] show [--raw] ID
 *   postern quarantine [-c CONF] release ID
 *   postern quarantine [-c CONF] delete ID
 *
 * The store's directory comes from the configuration (quarantine.dir).
 * release sends the message the way the gateway would have: the relay
 * built from the same configuration, the route of the first recipient's
 * domain, the original envelope (DSN parameters included) and client;
 * the entry is deleted only once the upstream accepted the message.
 *
 * Text output escapes control and bidirectional-formatting characters,
 * so a hostile subject or address cannot rewrite the admin's terminal.
 *
 * Exit: 0 done; 1 not found, refused upstream, or a damaged entry
 * listed; 2 bad usage or configuration.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "arena.h"
#include "cli_out.h"
#include "log.h"
#include "mime.h"
#include "postern.h"
#include "quarantine.h"
#include "relay.h"
#include "settings.h"
#include "spool.h"
#include "utf8.h"
#include "workq.h"

#define DEFAULT_CONF "/etc/postern/postern.conf"
/* Most header bytes read for a subject or for `show`. */
#define HEAD_MAX (256u * 1024)
#define COPY_BUF (64u * 1024)

static int
usage(void)
{
	fputs("usage: postern quarantine [-c CONF] list [--json]\n"
	      "       postern quarantine [-c CONF] show [--raw] ID\n"
	      "       postern quarantine [-c CONF] release ID\n"
	      "       postern quarantine [-c CONF] delete ID\n"
	      "  CONF defaults to " DEFAULT_CONF "\n",
	      stderr);
	return 2;
}

/* ---- output ---- */

static void
time_text(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		snprintf(buf, size, "@%lld", (long long)t);
}

/* ---- the message file ---- */

/* Read the header block of path (up to HEAD_MAX bytes) onto arena. */
static int
read_head(struct pst_arena *arena, const char *path, const char **head_r,
	  size_t *len_r, bool *cut_r, const char **error_r)
{
	char *buf = pst_arena_alloc(arena, HEAD_MAX + 1);
	size_t len = 0;
	int fd;

	*cut_r = false;
	if (buf == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		*error_r = pst_arena_printf(arena, "%s: %s", path,
					    strerror(errno));
		return -1;
	}
	while (len < HEAD_MAX) {
		ssize_t n = read(fd, buf + len, HEAD_MAX - len);
		char *end;

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*error_r = pst_arena_printf(arena, "%s: %s", path,
						    strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL) {
			len = (size_t)(end - buf) + 4;
			break;
		}
		end = strstr(buf, "\n\n");
		if (end != NULL) {
			len = (size_t)(end - buf) + 2;
			break;
		}
	}
	*cut_r = len == HEAD_MAX;
	close(fd);
	buf[len] = '\0';
	*head_r = buf;
	*len_r = len;
	return 0;
}

/* The decoded Subject of the message at path, or NULL. */
static const char *
message_subject(struct pst_arena *arena, const char *path)
{
	const struct mime_header *h;
	struct mime_parser *p;
	struct mime_part *root = NULL;
	const char *head, *error;
	size_t len;
	bool cut;

	if (read_head(arena, path, &head, &len, &cut, &error) < 0)
		return NULL;
	p = mime_parser_new(arena, NULL);
	if (p == NULL || mime_parser_feed(p, head, len, &error) < 0 ||
	    mime_parser_end(p, &root, &error) < 0) {
		mime_parser_free(&p);
		return NULL;
	}
	mime_parser_free(&p);
	h = mime_part_header(root, NULL, "Subject");
	if (h == NULL)
		return NULL;
	return pst_arena_strndup(arena, h->value.p, h->value.len);
}

/* ---- list ---- */

struct list_state {
	struct pst_arena *arena; /* per entry */
	bool json, any, damaged;
};

static void
list_text(const struct quarantine_entry *e, const char *subject)
{
	char when[64];

	time_text(e->time, when, sizeof(when));
	cli_text_cstr(stdout, e->id);
	printf("  %s  ", when);
	cli_text_cstr(stdout, e->reason);
	printf("  %" PRIu64 "  <", e->size);
	cli_text_cstr(stdout, e->from);
	fputs("> ->", stdout);
	for (size_t i = 0; i < e->nrcpt; i++) {
		fputs(i ? ", <" : " <", stdout);
		cli_text_cstr(stdout, e->rcpts[i].addr);
		putc('>', stdout);
	}
	fputs("  ", stdout);
	if (subject != NULL) {
		putc('"', stdout);
		cli_text_cstr(stdout, subject);
		putc('"', stdout);
	} else {
		fputs("(no subject)", stdout);
	}
	putc('\n', stdout);
}

static void
list_json(struct list_state *ls, const struct quarantine_entry *e,
	  const char *subject)
{
	fputs(ls->any ? ",\n  {\"id\": " : "\n  {\"id\": ", stdout);
	cli_json_cstr(stdout, e->id);
	printf(", \"time\": %lld, \"reason\": ", (long long)e->time);
	cli_json_cstr(stdout, e->reason);
	fputs(", \"reason_given\": ", stdout);
	cli_json_cstr(stdout, e->reason_given);
	fputs(", \"from\": ", stdout);
	cli_json_cstr(stdout, e->from);
	fputs(", \"rcpts\": [", stdout);
	for (size_t i = 0; i < e->nrcpt; i++) {
		if (i > 0)
			fputs(", ", stdout);
		cli_json_cstr(stdout, e->rcpts[i].addr);
	}
	fputs("], \"subject\": ", stdout);
	cli_json_cstr(stdout, subject);
	printf(", \"size\": %" PRIu64 ", \"qid\": ", e->size);
	cli_json_cstr(stdout, e->qid);
	fputs(", \"filter\": ", stdout);
	cli_json_cstr(stdout, e->filter);
	fputs(", \"text\": ", stdout);
	cli_json_cstr(stdout, e->text);
	putc('}', stdout);
}

static int
list_one(void *arg, const struct quarantine_entry *e, const char *msg_path,
	 const char *error)
{
	struct list_state *ls = arg;
	const char *subject;

	if (e == NULL) {
		/* Reported on stderr; the others still listed. */
		fputs("postern quarantine: ", stderr);
		cli_text_cstr(stderr, error);
		putc('\n', stderr);
		ls->damaged = true;
		return 0;
	}
	pst_arena_reset(ls->arena);
	subject = message_subject(ls->arena, msg_path);
	if (ls->json)
		list_json(ls, e, subject);
	else
		list_text(e, subject);
	ls->any = true;
	return 0;
}

static int
cmd_list(const char *dir, bool json)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct list_state ls = { .arena = pst_arena_new(0), .json = json };
	const char *error = NULL;
	int rc = 0;

	if (arena == NULL || ls.arena == NULL) {
		fputs("postern quarantine: out of memory\n", stderr);
		rc = 1;
		goto out;
	}
	if (json)
		fputs("{\"entries\": [", stdout);
	if (quarantine_list(arena, dir, list_one, &ls, &error) < 0) {
		fprintf(stderr, "postern quarantine: %s\n", error);
		rc = 1;
	}
	if (json)
		printf("%s]}\n", ls.any ? "\n" : "");
	if (ls.damaged)
		rc = 1;
out:
	if (fflush(stdout) != 0)
		rc = 1;
	pst_arena_free(&ls.arena);
	pst_arena_free(&arena);
	return rc;
}

/* ---- show ---- */

static const char *
notify_text(struct pst_arena *arena, unsigned notify)
{
	static const char *const names[] = { "NEVER", "SUCCESS", "FAILURE",
					     "DELAY" };
	const char *s = "";

	for (unsigned i = 0; i < 4 && s != NULL; i++)
		if (notify & (1u << i))
			s = pst_arena_printf(arena, "%s%s%s", s, *s ? "," : "",
					     names[i]);
	return s;
}

static void
show_envelope(struct pst_arena *arena, const struct quarantine_entry *e,
	      const char *msg_path)
{
	char when[64];

	time_text(e->time, when, sizeof(when));
	fputs("id:        ", stdout);
	cli_text_cstr(stdout, e->id);
	fputs("\nqueue id:  ", stdout);
	cli_text_cstr(stdout, e->qid ? e->qid : "-");
	printf("\ntime:      %s (%lld)\nreason:    ", when, (long long)e->time);
	cli_text_cstr(stdout, e->reason);
	if (e->reason_given != NULL) {
		fputs(" (the filter said \"", stdout);
		cli_text_cstr(stdout, e->reason_given);
		fputs("\")", stdout);
	}
	fputs("\nfilter:    ", stdout);
	cli_text_cstr(stdout, e->filter ? e->filter : "-");
	fputs("\nverdict:   ", stdout);
	cli_text_cstr(stdout, e->text ? e->text : "-");
	fputs("\nclient:    ", stdout);
	cli_text_cstr(stdout, e->client_name ? e->client_name : "unknown");
	putc('[', stdout);
	cli_text_cstr(stdout, e->client_addr ? e->client_addr : "");
	printf("]:%u helo=", e->client_port);
	cli_text_cstr(stdout, e->helo ? e->helo : "");
	if (e->proto != NULL) {
		putc(' ', stdout);
		cli_text_cstr(stdout, e->proto);
	}
	fputs(e->tls ? " TLS" : "", stdout);
	fputs("\nfrom:      <", stdout);
	cli_text_cstr(stdout, e->from);
	putc('>', stdout);
	for (size_t i = 0; i < e->nrcpt; i++) {
		const struct filter_rcpt *r = &e->rcpts[i];

		fputs(i == 0 ? "\nto:        <" : "\n           <", stdout);
		cli_text_cstr(stdout, r->addr);
		putc('>', stdout);
		if (r->notify != 0) {
			fputs(" NOTIFY=", stdout);
			cli_text_cstr(stdout, notify_text(arena, r->notify));
		}
		if (r->orcpt != NULL) {
			fputs(" ORCPT=", stdout);
			cli_text_cstr(stdout, r->orcpt);
		}
	}
	fputs("\nparams:   ", stdout);
	if (e->body != SMTP_BODY_UNSET)
		fputs(e->body == SMTP_BODY_8BITMIME ? " BODY=8BITMIME"
						    : " BODY=7BIT",
		      stdout);
	if (e->smtputf8)
		fputs(" SMTPUTF8", stdout);
	if (e->ret != SMTP_RET_UNSET)
		fputs(e->ret == SMTP_RET_FULL ? " RET=FULL" : " RET=HDRS",
		      stdout);
	if (e->envid != NULL) {
		fputs(" ENVID=", stdout);
		cli_text_cstr(stdout, e->envid);
	}
	printf("\nsize:      %" PRIu64 " bytes\nfile:      ", e->size);
	cli_text_cstr(stdout, msg_path);
	fputs("\n\n", stdout);
}

/* The header block, one line each, CRLF shown as a line break. */
static int
show_headers(struct pst_arena *arena, const char *path)
{
	const char *head, *error, *s, *end;
	size_t len;
	bool cut;

	if (read_head(arena, path, &head, &len, &cut, &error) < 0) {
		fprintf(stderr, "postern quarantine: %s\n", error);
		return 1;
	}
	for (s = head, end = head + len; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);

		if (n > 0 && s[n - 1] == '\r')
			n--;
		cli_text_out(stdout, s, n, true);
		putc('\n', stdout);
		s = nl != NULL ? nl + 1 : end;
	}
	if (cut)
		printf("(headers cut at %u bytes)\n", HEAD_MAX);
	return 0;
}

/* The message as stored, byte for byte. */
static int
show_raw(const char *path)
{
	char *buf = malloc(COPY_BUF);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	if (buf == NULL || fd == -1) {
		fprintf(stderr, "postern quarantine: %s: %s\n", path,
			strerror(buf == NULL ? ENOMEM : errno));
		free(buf);
		if (fd != -1)
			close(fd);
		return 1;
	}
	while ((n = read(fd, buf, COPY_BUF)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			fprintf(stderr, "postern quarantine: %s: %s\n", path,
				strerror(errno));
			rc = 1;
			break;
		}
	}
	close(fd);
	free(buf);
	return rc;
}

static int
cmd_show(const char *dir, const char *id, bool raw)
{
	struct pst_arena *arena = pst_arena_new(0);
	struct quarantine_entry e;
	const char *path, *error = NULL;
	int rc;

	if (arena == NULL) {
		fputs("postern quarantine: out of memory\n", stderr);
		return 1;
	}
	if (quarantine_load(arena, dir, id, &e, &path, &error) < 0) {
		fputs("postern quarantine: ", stderr);
		cli_text_cstr(stderr, error);
		putc('\n', stderr);
		pst_arena_free(&arena);
		return 1;
	}
	if (raw) {
		rc = show_raw(path);
	} else {
		show_envelope(arena, &e, path);
		rc = show_headers(arena, path);
	}
	if (fflush(stdout) != 0)
		rc = 1;
	pst_arena_free(&arena);
	return rc;
}

/* ---- release ---- */

struct release_wait {
	struct event_base *base;
	bool done;
	struct relay_reply reply;
};

static void
release_done(void *arg, const struct relay_reply *reply)
{
	struct release_wait *w = arg;

	w->reply = *reply;
	w->done = true;
	event_base_loopbreak(w->base);
}

static struct pst_spool *
spool_from_file(const struct postern_settings *st, const char *path,
		const char **error_r)
{
	struct pst_spool *spool =
		pst_spool_new(st->smtp.spool_memory, st->spool_dir);
	char *buf = malloc(COPY_BUF);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0;

	*error_r = NULL;
	if (spool == NULL || buf == NULL)
		*error_r = "out of memory";
	else if (fd == -1)
		*error_r = strerror(errno);
	while (*error_r == NULL && (n = read(fd, buf, COPY_BUF)) != 0) {
		const char *err = NULL;

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			*error_r = strerror(errno);
		else if (pst_spool_write(spool, buf, (size_t)n, &err) < 0)
			*error_r = err;
	}
	if (*error_r == NULL) {
		const char *err = NULL;

		if (pst_spool_flush(spool, &err) < 0)
			*error_r = err;
	}
	if (fd != -1)
		close(fd);
	free(buf);
	if (*error_r != NULL)
		pst_spool_free(&spool);
	return spool;
}

/* Hand the entry to the relay and wait for its answer in *w. */
static int
release_send(const struct postern_settings *st, struct pst_arena *arena,
	     const struct quarantine_entry *e, struct pst_spool *spool,
	     struct release_wait *w, const char **error_r)
{
	struct relay_rcpt *rcpts =
		pst_arena_calloc(arena, e->nrcpt, sizeof(*rcpts));
	struct relay_client client = {
		.addr = e->client_addr ? e->client_addr : "127.0.0.1",
		.port = e->client_port,
		.name = e->client_name ? e->client_name : "unknown",
		.helo = e->helo ? e->helo : "",
		.proto = e->proto ? e->proto : "ESMTP",
		.tls = e->tls,
	};
	struct relay_msg msg = {
		.qid = e->qid ? e->qid : e->id,
		.client = &client,
		.from = e->from,
		.rcpts = rcpts,
		.nrcpt = e->nrcpt,
		.body = e->body,
		.smtputf8 = e->smtputf8,
		.ret = e->ret,
		.envid = e->envid,
		.spool = spool,
	};
	const struct relay_route *route;
	struct pst_workq *wq = NULL;
	struct relay *relay;
	const char *at;
	int rc = -1;

	if (rcpts == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < e->nrcpt; i++) {
		rcpts[i].addr = e->rcpts[i].addr;
		rcpts[i].orcpt = e->rcpts[i].orcpt;
		rcpts[i].notify = e->rcpts[i].notify;
	}
	evthread_use_pthreads();
	wq = pst_workq_new(1);
	w->base = event_base_new();
	if (wq == NULL || w->base == NULL) {
		*error_r = "out of memory";
		goto out;
	}
	relay = relay_new(st->arena, &st->relay, wq, error_r);
	if (relay == NULL)
		goto out;
	at = strrchr(e->rcpts[0].addr, '@');
	route = relay_route_for(relay,
				pst_str_from_cstr(at != NULL ? at + 1 : ""));
	if (route == NULL) {
		*error_r = pst_arena_printf(arena, "no route for <%s>",
					    e->rcpts[0].addr);
		goto out;
	}
	if (relay_submit(relay, w->base, route, &msg, release_done, w) < 0) {
		*error_r = "the relay could not take the message";
		goto out;
	}
	/* The relay calls release_done exactly once, after its own
	 * timeouts at the latest; until then the loop may look idle (a
	 * maildir delivery runs on the work queue). */
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	relay_base_free(relay, w->base);
	if (!w->done)
		*error_r = "the relay did not answer";
	else
		rc = 0;
out:
	pst_workq_free(&wq);
	if (w->base != NULL)
		event_base_free(w->base);
	w->base = NULL;
	return rc;
}

static int
cmd_release(const struct postern_settings *st, const char *id)
{
	const char *dir = st->filters.quarantine_dir;
	struct pst_arena *arena = pst_arena_new(0);
	struct release_wait w = { 0 };
	struct quarantine_entry e;
	struct pst_spool *spool = NULL;
	const char *path, *error = NULL;
	int rc = 1;

	if (arena == NULL) {
		fputs("postern quarantine: out of memory\n", stderr);
		return 1;
	}
	if (quarantine_load(arena, dir, id, &e, &path, &error) < 0)
		goto fail;
	spool = spool_from_file(st, path, &error);
	if (spool == NULL) {
		error = pst_arena_printf(arena, "%s: %s", path, error);
		goto fail;
	}
	if (release_send(st, arena, &e, spool, &w, &error) < 0)
		goto fail;
	if (w.reply.code / 100 != 2) {
		fputs("postern quarantine: ", stderr);
		cli_text_cstr(stderr, id);
		fprintf(stderr, " not released: %u %s ", w.reply.code,
			w.reply.enhanced);
		cli_text_cstr(stderr, w.reply.text);
		fputs(" (kept in the quarantine)\n", stderr);
		goto out;
	}
	printf("released %s: %u %s ", id, w.reply.code, w.reply.enhanced);
	cli_text_cstr(stdout, w.reply.text);
	putc('\n', stdout);
	pst_log(PST_LOG_INFO, "quarantine", "%s: released %s upstream: %u %s",
		e.qid ? e.qid : "NOQUEUE", id, w.reply.code, w.reply.enhanced);
	if (quarantine_delete(arena, dir, id, &error) < 0) {
		error = pst_arena_printf(arena,
					 "released, but still in the "
					 "quarantine: %s",
					 error);
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	fputs("postern quarantine: ", stderr);
	cli_text_cstr(stderr, error != NULL ? error : "out of memory");
	putc('\n', stderr);
out:
	pst_spool_free(&spool);
	pst_arena_free(&arena);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}

static int
cmd_delete(const char *dir, const char *id)
{
	struct pst_arena *arena = pst_arena_new(0);
	const char *error = NULL;
	int rc = 0;

	if (arena == NULL) {
		fputs("postern quarantine: out of memory\n", stderr);
		return 1;
	}
	if (quarantine_delete(arena, dir, id, &error) < 0) {
		fputs("postern quarantine: ", stderr);
		cli_text_cstr(stderr, error);
		putc('\n', stderr);
		rc = 1;
	} else {
		printf("deleted %s\n", id);
		pst_log(PST_LOG_INFO, "quarantine", "%s: deleted", id);
	}
	pst_arena_free(&arena);
	return rc;
}

int
postern_quarantine_main(int argc, char **argv)
{
	const char *conf = DEFAULT_CONF, *cmd, *id = NULL, *error = NULL;
	bool json = false, raw = false;
	struct postern_settings *st = NULL;
	int i = 1, rc;

	if (i < argc && strcmp(argv[i], "-c") == 0) {
		if (i + 1 >= argc)
			return usage();
		conf = argv[i + 1];
		i += 2;
	}
	if (i >= argc)
		return usage();
	cmd = argv[i++];
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && strcmp(cmd, "list") == 0)
			json = true;
		else if (strcmp(argv[i], "--raw") == 0 &&
			 strcmp(cmd, "show") == 0)
			raw = true;
		else if (argv[i][0] == '-' || id != NULL ||
			 strcmp(cmd, "list") == 0)
			return usage();
		else
			id = argv[i];
	}
	if (strcmp(cmd, "list") != 0 && strcmp(cmd, "show") != 0 &&
	    strcmp(cmd, "release") != 0 && strcmp(cmd, "delete") != 0) {
		fprintf(stderr, "postern quarantine: unknown command '%s'\n",
			cmd);
		return usage();
	}
	if (strcmp(cmd, "list") != 0 && id == NULL)
		return usage();
	pst_log_init(false);
	if (settings_load(conf, &st, &error) < 0 ||
	    (strcmp(cmd, "release") == 0 &&
	     settings_require_gateway(st, &error) < 0)) {
		fprintf(stderr, "postern quarantine: %s\n", error);
		settings_free(&st);
		return 2;
	}
	if (strcmp(cmd, "list") == 0)
		rc = cmd_list(st->filters.quarantine_dir, json);
	else if (strcmp(cmd, "show") == 0)
		rc = cmd_show(st->filters.quarantine_dir, id, raw);
	else if (strcmp(cmd, "release") == 0)
		rc = cmd_release(st, id);
	else
		rc = cmd_delete(st->filters.quarantine_dir, id);
	settings_free(&st);
	return rc;
}
