/*
 * relay.c - routes by recipient domain and delivery off the event loop
 * (see relay.h).
 *
 * The relay and its routes live on the configuration's arena and are
 * read-only once built, so any loop thread may use them.  Each submitted
 * message becomes a job with its own arena holding copies of what the
 * delivery needs; the spool is borrowed from the caller until done runs.
 * Delivery (maildir: write, fsync, rename, fsync) runs on the work queue;
 * logging and the done callback run on the submitting loop's thread.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "maildir.h"
#include "relay.h"
#include "spool.h"
#include "workq.h"

#define RELAY_DOMAIN_MAX 253
#define RELAY_LABEL_MAX 63

struct relay_route {
	const char *name; /* as in relay_route_conf */
	size_t name_len;
	bool is_default;
	bool is_suffix; /* ".example.org": subdomains only */
	const struct relay_upstream_conf *upstreams;
	size_t nupstreams;
};

struct relay {
	struct pst_arena *arena;
	struct pst_workq *workq;
	struct relay_route *routes;
	size_t nroutes;
	const struct relay_route *deflt;
};

/* ---- configuration ---- */

/*
 * "Example.ORG." -> "example.org", ".Example.org" -> ".example.org":
 * LDH labels of 1..63 characters, not starting or ending with '-', 253
 * characters at most.  NULL when label is not such a name.
 */
static char *
relay_domain_normalize(struct pst_arena *arena, const char *label)
{
	size_t len = strlen(label);
	size_t start = label[0] == '.' ? 1 : 0;
	size_t lablen = 0;
	char *out;

	if (len > start && label[len - 1] == '.')
		len--;
	if (len <= start || len - start > RELAY_DOMAIN_MAX)
		return NULL;
	for (size_t i = start; i < len; i++) {
		char c = label[i];

		if (c == '.') {
			if (lablen == 0 || label[i - 1] == '-')
				return NULL;
			lablen = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return NULL;
		if ((c == '-' && lablen == 0) || ++lablen > RELAY_LABEL_MAX)
			return NULL;
	}
	if (label[len - 1] == '-')
		return NULL;
	out = pst_arena_strndup(arena, label, len);
	if (out == NULL)
		return NULL;
	for (char *p = out; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return out;
}

/* The node of the i-th upstream string, for its file:line. */
static const struct pst_conf_node *
relay_upstream_node(const struct pst_conf_node *block, size_t i)
{
	for (const struct pst_conf_node *n = block->child; n; n = n->next) {
		if (n->key == NULL || strcmp(n->key, "upstream") != 0)
			continue;
		if (n->kind != PST_CONF_LIST)
			return n;
		for (const struct pst_conf_node *item = n->child; item;
		     item = item->next) {
			if (i-- == 0)
				return item;
		}
		return n;
	}
	return block;
}

static int
relay_parse_upstream(struct pst_arena *arena, const struct pst_conf_node *at,
		     const char *spec, struct relay_upstream_conf *up_r,
		     const char **error_r)
{
	static const char *const later[] = {"smtp://", "smtps://", "lmtp://",
					    "lmtp:unix:"};
	const char *path;

	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		if (strncasecmp(spec, later[i], strlen(later[i])) == 0) {
			*error_r = pst_conf_error(
				arena, at,
				"upstream '%s': SMTP upstreams are not "
				"implemented yet",
				spec);
			return -1;
		}
	}
	if (strncasecmp(spec, "maildir:", 8) != 0) {
		*error_r = pst_conf_error(
			arena, at,
			"upstream '%s': unknown kind; use maildir:PATH "
			"(smtp://, smtps://, lmtp:// and lmtp:unix: come later)",
			spec);
		return -1;
	}
	path = spec + 8;
	if (path[0] == '\0') {
		*error_r = pst_conf_error(
			arena, at, "upstream '%s': maildir needs a path", spec);
		return -1;
	}
	if (path[0] != '/') {
		/* Relative to where posternd was started, fixed now so a
		 * later chdir cannot move the mail. */
		char *cwd = getcwd(NULL, 0);

		if (cwd == NULL) {
			*error_r = pst_conf_error(arena, at,
						  "upstream '%s': getcwd: %s",
						  spec, strerror(errno));
			return -1;
		}
		path = pst_arena_printf(arena, "%s%s%s", cwd,
					strcmp(cwd, "/") == 0 ? "" : "/", path);
		free(cwd);
	} else {
		path = pst_arena_strdup(arena, path);
	}
	up_r->kind = RELAY_UPSTREAM_MAILDIR;
	up_r->spec = pst_arena_strdup(arena, spec);
	up_r->path = path;
	if (up_r->spec == NULL || up_r->path == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

struct relay_route_fields {
	struct pst_conf_strings upstream;
};

static const struct pst_conf_field relay_route_fields[] = {
	{.name = "upstream",
	 .type = PST_CONF_T_STRINGS,
	 .offset = offsetof(struct relay_route_fields, upstream),
	 .required = true},
	{.name = NULL},
};

static int
relay_conf_append(struct pst_arena *arena, struct relay_conf *conf,
		  const struct relay_route_conf *route)
{
	if (conf->nroutes == conf->routes_cap) {
		size_t cap = conf->routes_cap ? conf->routes_cap * 2 : 8;
		struct relay_route_conf *routes;

		/* The arena cannot grow in place: the old array stays
		 * behind, a few bytes per doubling. */
		routes = pst_arena_calloc(arena, cap, sizeof(*routes));
		if (routes == NULL)
			return -1;
		if (conf->nroutes > 0)
			memcpy(routes, conf->routes,
			       conf->nroutes * sizeof(*routes));
		conf->routes = routes;
		conf->routes_cap = cap;
	}
	conf->routes[conf->nroutes++] = *route;
	return 0;
}

int
relay_conf_route(struct pst_arena *arena, const struct pst_conf_node *node,
		 void *obj, const char **error_r)
{
	struct relay_conf *conf = obj;
	struct relay_route_fields fields = {{NULL, 0}};
	struct relay_route_conf route = {0};

	if (node->label == NULL || node->label[0] == '\0') {
		*error_r = pst_conf_error(
			arena, node,
			"route needs a name: route \"example.org\" { ... }, "
			"route \".example.org\" { ... } or route default "
			"{ ... }");
		return -1;
	}
	if (strcasecmp(node->label, "default") == 0) {
		route.name = "default";
	} else {
		route.name = relay_domain_normalize(arena, node->label);
		if (route.name == NULL) {
			*error_r = pst_conf_error(
				arena, node,
				"route '%s': not a domain name (use "
				"\"example.org\", \".example.org\" for its "
				"subdomains, or default)",
				node->label);
			return -1;
		}
	}
	for (size_t i = 0; i < conf->nroutes; i++) {
		if (strcmp(conf->routes[i].name, route.name) == 0) {
			*error_r = pst_conf_error(
				arena, node,
				"route '%s' is already defined at %s:%u",
				node->label, conf->routes[i].file,
				conf->routes[i].line);
			return -1;
		}
	}

	if (pst_conf_bind(arena, node, relay_route_fields, &fields, error_r) ==
	    -1)
		return -1;
	if (fields.upstream.n == 0) {
		*error_r = pst_conf_error(arena, node,
					  "route '%s': upstream is empty",
					  node->label);
		return -1;
	}
	route.upstreams = pst_arena_calloc(arena, fields.upstream.n,
					   sizeof(*route.upstreams));
	if (route.upstreams == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < fields.upstream.n; i++) {
		if (relay_parse_upstream(arena, relay_upstream_node(node, i),
					 fields.upstream.v[i],
					 &route.upstreams[i], error_r) == -1)
			return -1;
	}
	route.nupstreams = fields.upstream.n;
	route.file = node->file;
	route.line = node->line;
	if (relay_conf_append(arena, conf, &route) == -1) {
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

/* ---- the relay ---- */

struct relay *
relay_new(struct pst_arena *arena, const struct relay_conf *conf,
	  struct pst_workq *workq, const char **error_r)
{
	struct relay *relay = pst_arena_zalloc(arena, sizeof(*relay));

	if (relay == NULL ||
	    (conf->nroutes > 0 &&
	     (relay->routes = pst_arena_calloc(
		      arena, conf->nroutes, sizeof(*relay->routes))) == NULL)) {
		*error_r = "out of memory";
		return NULL;
	}
	relay->arena = arena;
	relay->workq = workq;
	for (size_t i = 0; i < conf->nroutes; i++) {
		const struct relay_route_conf *rc = &conf->routes[i];
		struct relay_route *r = &relay->routes[i];

		if (rc->nupstreams == 0) {
			*error_r = pst_arena_printf(
				arena, "route '%s': no upstream", rc->name);
			return NULL;
		}
		for (size_t j = 0; j < rc->nupstreams; j++) {
			const struct relay_upstream_conf *up =
				&rc->upstreams[j];

			if (up->kind != RELAY_UPSTREAM_MAILDIR ||
			    up->path == NULL || up->path[0] != '/') {
				*error_r = pst_arena_printf(
					arena,
					"route '%s': upstream '%s': maildir "
					"path must be absolute",
					rc->name, up->spec ? up->spec : "");
				return NULL;
			}
		}
		r->name = rc->name;
		r->name_len = strlen(rc->name);
		r->is_default = strcmp(rc->name, "default") == 0;
		r->is_suffix = rc->name[0] == '.';
		r->upstreams = rc->upstreams;
		r->nupstreams = rc->nupstreams;
		if (r->is_default)
			relay->deflt = r;
	}
	relay->nroutes = conf->nroutes;
	return relay;
}

int
relay_prepare(struct relay *relay, uid_t uid, gid_t gid, const char **error_r)
{
	for (size_t i = 0; i < relay->nroutes; i++) {
		const struct relay_route *r = &relay->routes[i];

		for (size_t j = 0; j < r->nupstreams; j++) {
			if (maildir_prepare(relay->arena, r->upstreams[j].path,
					    uid, gid, error_r) == -1)
				return -1;
		}
	}
	return 0;
}

const struct relay_route *
relay_route_for(const struct relay *relay, struct pst_str domain)
{
	const struct relay_route *best = NULL;

	if (domain.len > 0 && domain.p[domain.len - 1] == '.')
		domain.len--;
	for (size_t i = 0; i < relay->nroutes; i++) {
		const struct relay_route *r = &relay->routes[i];

		if (r->is_default)
			continue;
		if (!r->is_suffix) {
			if (r->name_len == domain.len &&
			    strncasecmp(r->name, domain.p, domain.len) == 0)
				return r;
			continue;
		}
		/* ".example.org" takes a.example.org, not example.org. */
		if (domain.len > r->name_len &&
		    strncasecmp(r->name, domain.p + domain.len - r->name_len,
				r->name_len) == 0 &&
		    (best == NULL || r->name_len > best->name_len))
			best = r;
	}
	return best != NULL ? best : relay->deflt;
}

const char *
relay_route_name(const struct relay_route *route)
{
	return route->name;
}

/* ---- delivery ---- */

struct relay_job {
	struct pst_arena *arena; /* owns the job and everything below */
	const struct relay_route *route;
	const char *qid;
	const char *from;
	struct maildir_rcpt *rcpts;
	size_t nrcpt;
	struct pst_spool *spool; /* borrowed */
	relay_done_fn *done;
	void *arg;
	struct timespec start;
	/* Results, written by the worker. */
	double delay;
	bool delivered;
	const struct relay_upstream_conf *used; /* last one tried */
	const char *filename;
	const char *error;
};

static double
relay_elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* On a worker thread: only job->arena and the read-only route. */
static void
relay_job_work(void *ctx)
{
	struct relay_job *job = ctx;

	for (size_t i = 0; i < job->route->nupstreams; i++) {
		const struct relay_upstream_conf *up =
			&job->route->upstreams[i];

		job->used = up;
		if (maildir_deliver(job->arena, up->path, job->from, job->rcpts,
				    job->nrcpt, job->spool, &job->filename,
				    &job->error) == 0) {
			job->delivered = true;
			break;
		}
		/* Log each failed upstream; the next one may take it. */
		if (i + 1 < job->route->nupstreams)
			pst_log(PST_LOG_WARNING, "relay",
				"%s: maildir[%s]: %s; trying the next upstream",
				job->qid, up->path, job->error);
	}
	job->delay = relay_elapsed(&job->start);
}

static void
relay_log_result(const struct relay_job *job)
{
	char delay[32];

	/* Postfix shape: two decimals below 100 s, whole seconds above. */
	if (job->delay < 100)
		snprintf(delay, sizeof(delay), "%.2f", job->delay);
	else
		snprintf(delay, sizeof(delay), "%.0f", job->delay);
	for (size_t i = 0; i < job->nrcpt; i++) {
		const char *addr = job->rcpts[i].addr;
		char to[1024];

		pst_log_sanitize(to, sizeof(to), addr, (unsigned)strlen(addr));
		if (job->delivered)
			pst_log(PST_LOG_INFO, "relay",
				"%s: to=<%s>, relay=maildir[%s], delay=%s, "
				"status=sent (delivered to maildir as %s)",
				job->qid, to, job->used->path, delay,
				job->filename);
		else
			pst_log(PST_LOG_INFO, "relay",
				"%s: to=<%s>, relay=maildir[%s], delay=%s, "
				"status=deferred (%s)",
				job->qid, to, job->used->path, delay,
				job->error);
	}
}

/* On the submitting loop's thread. */
static void
relay_job_done(void *ctx)
{
	struct relay_job *job = ctx;
	struct pst_arena *arena = job->arena;
	struct relay_reply reply = {0};

	relay_log_result(job);
	if (job->delivered) {
		reply.code = 250;
		snprintf(reply.enhanced, sizeof(reply.enhanced), "2.0.0");
		snprintf(reply.text, sizeof(reply.text), "Ok: queued as %s",
			 job->qid);
	} else {
		/* The reason is in the log; paths stay out of replies. */
		reply.code = 451;
		snprintf(reply.enhanced, sizeof(reply.enhanced), "4.3.0");
		snprintf(reply.text, sizeof(reply.text),
			 "Error: local delivery failed");
	}
	job->done(job->arg, &reply);
	pst_arena_free(&arena);
}

static struct relay_job *
relay_job_new(const struct relay_route *route, const struct relay_msg *msg)
{
	struct pst_arena *arena = pst_arena_new(2048);
	struct relay_job *job;

	if (arena == NULL)
		return NULL;
	job = pst_arena_zalloc(arena, sizeof(*job));
	if (job == NULL)
		goto fail;
	job->arena = arena;
	job->route = route;
	job->spool = msg->spool;
	job->qid = pst_arena_strdup(arena, msg->qid ? msg->qid : "NOQUEUE");
	job->from = pst_arena_strdup(arena, msg->from ? msg->from : "");
	job->rcpts = pst_arena_calloc(arena, msg->nrcpt, sizeof(*job->rcpts));
	if (job->qid == NULL || job->from == NULL || job->rcpts == NULL)
		goto fail;
	for (size_t i = 0; i < msg->nrcpt; i++) {
		const struct relay_rcpt *rc = &msg->rcpts[i];

		job->rcpts[i].addr = pst_arena_strdup(arena, rc->addr);
		if (job->rcpts[i].addr == NULL)
			goto fail;
		if (rc->orcpt != NULL) {
			job->rcpts[i].orcpt =
				pst_arena_strdup(arena, rc->orcpt);
			if (job->rcpts[i].orcpt == NULL)
				goto fail;
		}
	}
	job->nrcpt = msg->nrcpt;
	return job;
fail:
	pst_arena_free(&arena);
	return NULL;
}

int
relay_submit(struct relay *relay, struct event_base *base,
	     const struct relay_route *route, const struct relay_msg *msg,
	     relay_done_fn *done, void *arg)
{
	struct relay_job *job;

	if (route == NULL || route->nupstreams == 0 || msg->nrcpt == 0 ||
	    msg->spool == NULL || relay->workq == NULL)
		return -1;
	job = relay_job_new(route, msg);
	if (job == NULL)
		return -1;
	job->done = done;
	job->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &job->start);
	if (pst_workq_submit(relay->workq, base, relay_job_work, relay_job_done,
			     job) == -1) {
		struct pst_arena *arena = job->arena;

		pst_arena_free(&arena);
		return -1;
	}
	return 0;
}
