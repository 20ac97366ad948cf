/*
 * relay.c - configuration of routes and upstreams, routing by recipient
 * domain, and delivery into maildirs off the event loop (see relay.h).
 *
 * The relay and its routes live on the configuration's arena and are
 * read-only once built, so any loop thread may use them.  Routes with an
 * SMTP or LMTP upstream deliver through relay_smtp.c on the submitting
 * loop.  Routes of maildirs only turn each message into a job with its
 * own arena holding copies of what the delivery needs; the spool is
 * borrowed from the caller until done runs.  Delivery (write, fsync,
 * rename, fsync) runs on the work queue; logging and the done callback
 * run on the submitting loop's thread.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "maildir.h"
#include "relay.h"
#include "relay_int.h"
#include "spool.h"
#include "workq.h"

#define RELAY_DOMAIN_MAX 253
#define RELAY_LABEL_MAX 63

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

/* PATH made absolute against the current directory, fixed now so a
 * later chdir cannot move the mail. */
static const char *
relay_abs_path(struct pst_arena *arena, const char *spec, const char *path,
	       const char **error_r)
{
	char *cwd;
	const char *abs;

	if (path[0] == '/')
		return pst_arena_strdup(arena, path);
	cwd = getcwd(NULL, 0);
	if (cwd == NULL) {
		*error_r = pst_arena_printf(arena, "upstream '%s': getcwd: %s",
					    spec, strerror(errno));
		return NULL;
	}
	abs = pst_arena_printf(arena, "%s%s%s", cwd,
			       strcmp(cwd, "/") == 0 ? "" : "/", path);
	free(cwd);
	return abs;
}

/* "host", "host:port", "[v6]" or "[v6]:port", with an optional '/' at
 * the end.  host_r is a copy without brackets. */
static int
relay_split_hostport(struct pst_arena *arena, const char *spec, const char *s,
		     unsigned dflt_port, const char **host_r, unsigned *port_r,
		     const char **error_r)
{
	size_t len = strlen(s);
	const char *host, *colon = NULL;
	size_t hlen;

	if (len > 0 && s[len - 1] == '/')
		len--;
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL)
			goto bad;
		host = s + 1;
		hlen = (size_t)(close - host);
		if ((size_t)(close - s) + 1 < len) {
			if (close[1] != ':')
				goto bad;
			colon = close + 1;
		}
		if (memchr(host, ':', hlen) == NULL)
			goto bad; /* brackets are for IPv6 */
	} else {
		host = s;
		colon = memchr(s, ':', len);
		hlen = colon ? (size_t)(colon - s) : len;
		for (size_t i = 0; i < hlen; i++) {
			char c = host[i];

			if (!((c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			      c == '_'))
				goto bad;
		}
	}
	if (hlen == 0 || hlen > 253)
		goto bad;
	*port_r = dflt_port;
	if (colon != NULL) {
		const char *p = colon + 1, *end = s + len;
		unsigned long port = 0;

		if (p == end || end - p > 5)
			goto bad;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				goto bad;
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			goto bad;
		*port_r = (unsigned)port;
	}
	*host_r = pst_arena_strndup(arena, host, hlen);
	if (*host_r == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	return 0;
bad:
	*error_r = pst_arena_printf(
		arena,
		"upstream '%s': expected host, host:port or [IPv6]:port after "
		"the scheme",
		spec);
	return -1;
}

/* Numeric addresses directly; names through getaddrinfo when resolve. */
static int
relay_resolve(struct pst_arena *arena, const char *spec,
	      struct relay_upstream_conf *up, bool resolve,
	      const char **error_r)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", up->port);
	rc = getaddrinfo(up->host, port, &hints, &res);
	if (rc != 0) {
		if (!resolve)
			return 0; /* a name, looked up later */
		hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
		rc = getaddrinfo(up->host, port, &hints, &res);
		if (rc != 0) {
			*error_r = pst_arena_printf(
				arena, "upstream '%s': cannot resolve '%s': %s",
				spec, up->host, gai_strerror(rc));
			return -1;
		}
	}
	up->addrs = pst_arena_calloc(arena, RELAY_UPSTREAM_ADDRS_MAX,
				     sizeof(*up->addrs));
	if (up->addrs == NULL) {
		freeaddrinfo(res);
		*error_r = "out of memory";
		return -1;
	}
	for (struct addrinfo *ai = res;
	     ai != NULL && up->naddrs < RELAY_UPSTREAM_ADDRS_MAX;
	     ai = ai->ai_next) {
		struct pst_sockaddr *a = &up->addrs[up->naddrs];
		bool dup = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(a->u.ss))
			continue;
		for (size_t i = 0; i < up->naddrs; i++)
			dup |= up->addrs[i].len == ai->ai_addrlen &&
			       memcmp(&up->addrs[i].u, ai->ai_addr,
				      ai->ai_addrlen) == 0;
		if (dup)
			continue;
		memcpy(&a->u, ai->ai_addr, ai->ai_addrlen);
		a->len = (socklen_t)ai->ai_addrlen;
		up->naddrs++;
	}
	freeaddrinfo(res);
	if (up->naddrs == 0) {
		*error_r = pst_arena_printf(
			arena,
			"upstream '%s': '%s' has no IPv4 or IPv6 address", spec,
			up->host);
		return -1;
	}
	return 0;
}

int
relay_upstream_parse(struct pst_arena *arena, const char *spec, bool resolve,
		     struct relay_upstream_conf *up_r, const char **error_r)
{
	static const struct {
		const char *prefix;
		enum relay_upstream_kind kind;
		unsigned port;
	} net[] = {
		{ "smtp://", RELAY_UPSTREAM_SMTP, 25 },
		{ "smtps://", RELAY_UPSTREAM_SMTPS, 465 },
		{ "lmtp://", RELAY_UPSTREAM_LMTP, 24 },
	};
	struct relay_upstream_conf up;

	memset(&up, 0, sizeof(up));
	up.spec = pst_arena_strdup(arena, spec);
	if (up.spec == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < sizeof(net) / sizeof(net[0]); i++) {
		if (strncasecmp(spec, net[i].prefix, strlen(net[i].prefix)) !=
		    0)
			continue;
		up.kind = net[i].kind;
		if (relay_split_hostport(
			    arena, spec, spec + strlen(net[i].prefix),
			    net[i].port, &up.host, &up.port, error_r) == -1 ||
		    relay_resolve(arena, spec, &up, resolve, error_r) == -1)
			return -1;
		*up_r = up;
		return 0;
	}
	if (strncasecmp(spec, "lmtp:unix:", 10) == 0) {
		struct sockaddr_un *sun;

		up.kind = RELAY_UPSTREAM_LMTP;
		if (spec[10] == '\0') {
			*error_r = pst_arena_printf(
				arena, "upstream '%s': lmtp:unix: needs a path",
				spec);
			return -1;
		}
		up.path = relay_abs_path(arena, spec, spec + 10, error_r);
		if (up.path == NULL)
			return -1;
		if (strlen(up.path) >= sizeof(sun->sun_path)) {
			*error_r = pst_arena_printf(
				arena,
				"upstream '%s': socket path longer than %zu "
				"bytes",
				spec, sizeof(sun->sun_path) - 1);
			return -1;
		}
		up.host = "localhost";
		up.addrs = pst_arena_zalloc(arena, sizeof(*up.addrs));
		if (up.addrs == NULL) {
			*error_r = "out of memory";
			return -1;
		}
		sun = (struct sockaddr_un *)&up.addrs[0].u.ss;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, up.path, strlen(up.path) + 1);
		up.addrs[0].len =
			(socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				    strlen(up.path) + 1);
		up.naddrs = 1;
		*up_r = up;
		return 0;
	}
	if (strncasecmp(spec, "maildir:", 8) != 0) {
		*error_r = pst_arena_printf(
			arena,
			"upstream '%s': unknown kind; use smtp://HOST:PORT, "
			"smtps://HOST:PORT, lmtp://HOST:PORT, "
			"lmtp:unix:/PATH or maildir:/PATH",
			spec);
		return -1;
	}
	if (spec[8] == '\0') {
		*error_r = pst_arena_printf(
			arena, "upstream '%s': maildir needs a path", spec);
		return -1;
	}
	up.kind = RELAY_UPSTREAM_MAILDIR;
	up.path = relay_abs_path(arena, spec, spec + 8, error_r);
	if (up.path == NULL)
		return -1;
	*up_r = up;
	return 0;
}

struct relay_route_fields {
	struct pst_conf_strings upstream;
	int balance;
	int tls;
	const char *tls_ca;
	const char *tls_name;
	uint64_t connect_timeout;
	uint64_t command_timeout;
	uint64_t data_timeout;
	uint64_t backoff;
	uint64_t pool_size;
	uint64_t pool_idle;
	bool verify_recipients;
	uint64_t verify_cache;
	bool xclient;
};

static const char *const relay_balance_names[] = { "failover", "round-robin",
						   NULL };
static const char *const relay_tls_names[] = { "none", "opportunistic",
					       "required", "verify", NULL };

#define RELAY_FIELD(n, t, lo, hi)                                              \
	{                                                                      \
		.name = #n, .type = PST_CONF_T_##t,                            \
		.offset = offsetof(struct relay_route_fields, n), .min = lo,   \
		.max = hi                                                      \
	}

/* Durations in ms: at least 1 s where 0 would mean "never wait". */
static const struct pst_conf_field relay_route_fields[] = {
	{ .name = "upstream",
	  .type = PST_CONF_T_STRINGS,
	  .offset = offsetof(struct relay_route_fields, upstream),
	  .required = true },
	{ .name = "balance",
	  .type = PST_CONF_T_ENUM,
	  .offset = offsetof(struct relay_route_fields, balance),
	  .choices = relay_balance_names },
	{ .name = "tls",
	  .type = PST_CONF_T_ENUM,
	  .offset = offsetof(struct relay_route_fields, tls),
	  .choices = relay_tls_names },
	RELAY_FIELD(tls_ca, STRING, 0, 0),
	RELAY_FIELD(tls_name, STRING, 0, 0),
	RELAY_FIELD(connect_timeout, DURATION, 100, 3600000),
	RELAY_FIELD(command_timeout, DURATION, 1000, 86400000),
	RELAY_FIELD(data_timeout, DURATION, 1000, 86400000),
	RELAY_FIELD(backoff, DURATION, 0, 86400000),
	RELAY_FIELD(pool_size, UINT, 0, 1000),
	RELAY_FIELD(pool_idle, DURATION, 100, 86400000),
	RELAY_FIELD(verify_recipients, BOOL, 0, 0),
	RELAY_FIELD(verify_cache, DURATION, 0, 7 * 86400000ull),
	RELAY_FIELD(xclient, BOOL, 0, 0),
	{ .name = NULL },
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
	struct relay_route_fields fields;
	struct relay_route_conf route;
	bool network = false;

	memset(&fields, 0, sizeof(fields));
	memset(&route, 0, sizeof(route));

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

	fields.balance = RELAY_BALANCE_FAILOVER;
	fields.tls = RELAY_TLS_OPPORTUNISTIC;
	fields.connect_timeout = 10 * 1000;
	fields.command_timeout = 5 * 60 * 1000;
	fields.data_timeout = 10 * 60 * 1000;
	fields.backoff = 60 * 1000;
	fields.pool_size = 8;
	fields.pool_idle = 30 * 1000;
	fields.verify_recipients = false;
	fields.verify_cache = 10 * 60 * 1000;
	fields.xclient = true;
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
		const char *why = NULL;

		if (relay_upstream_parse(arena, fields.upstream.v[i], true,
					 &route.upstreams[i], &why) == -1) {
			*error_r = pst_conf_error(
				arena, relay_upstream_node(node, i), "%s", why);
			return -1;
		}
		if (route.upstreams[i].kind != RELAY_UPSTREAM_MAILDIR)
			network = true;
	}
	if (fields.verify_recipients && !network) {
		*error_r = pst_conf_error(
			arena, node,
			"route '%s': verify_recipients needs an smtp://, "
			"smtps:// or lmtp:// upstream",
			node->label);
		return -1;
	}
	if (fields.tls_ca != NULL && fields.tls != RELAY_TLS_VERIFY) {
		*error_r = pst_conf_error(
			arena, node,
			"route '%s': tls_ca is only used with tls "
			"= \"verify\"",
			node->label);
		return -1;
	}
	route.balance = (enum relay_balance)fields.balance;
	route.tls = (enum relay_tls)fields.tls;
	route.tls_ca = fields.tls_ca;
	route.tls_name = fields.tls_name;
	route.connect_timeout = fields.connect_timeout;
	route.command_timeout = fields.command_timeout;
	route.data_timeout = fields.data_timeout;
	route.backoff = fields.backoff;
	route.pool_size = (unsigned)fields.pool_size;
	route.pool_idle = fields.pool_idle;
	route.verify_recipients = fields.verify_recipients;
	route.verify_cache = fields.verify_cache;
	route.xclient = fields.xclient;
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

/* "host[ip]:port" or "localhost[/path]": how logs and replies name one
 * address of an upstream. */
static const char *
relay_peer_name(struct pst_arena *arena, const struct relay_upstream_conf *up,
		const struct pst_sockaddr *addr)
{
	char ip[PST_NET_ADDRSTRLEN];

	if (addr->u.sa.sa_family == AF_UNIX)
		return pst_arena_printf(arena, "%s[%s]", up->host, up->path);
	pst_net_addr_str(&addr->u.sa, ip, sizeof(ip));
	return pst_arena_printf(arena, "%s[%s]:%u", up->host, ip, up->port);
}

static int
relay_route_build(struct relay *relay, const struct relay_route_conf *rc,
		  struct relay_route *r, const char **error_r)
{
	struct pst_arena *arena = relay->arena;

	if (rc->nupstreams == 0) {
		*error_r = pst_arena_printf(arena, "route '%s': no upstream",
					    rc->name);
		return -1;
	}
	r->name = rc->name;
	r->name_len = strlen(rc->name);
	r->is_default = strcmp(rc->name, "default") == 0;
	r->is_suffix = rc->name[0] == '.';
	r->upstreams = rc->upstreams;
	r->nupstreams = rc->nupstreams;
	r->conf = rc;
	r->ups = pst_arena_calloc(arena, rc->nupstreams, sizeof(*r->ups));
	if (r->ups == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t j = 0; j < rc->nupstreams; j++) {
		const struct relay_upstream_conf *up = &rc->upstreams[j];
		struct relay_upstream *u = &r->ups[j];

		u->conf = up;
		u->route = r;
		u->index = relay->nups++;
		if (up->kind == RELAY_UPSTREAM_MAILDIR) {
			if (up->path == NULL || up->path[0] != '/') {
				*error_r = pst_arena_printf(
					arena,
					"route '%s': upstream '%s': maildir "
					"path must be absolute",
					rc->name, up->spec ? up->spec : "");
				return -1;
			}
			continue;
		}
		if (up->naddrs == 0) {
			*error_r = pst_arena_printf(
				arena,
				"route '%s': upstream '%s' has no address",
				rc->name, up->spec ? up->spec : "");
			return -1;
		}
		r->network = true;
		u->naddrs = up->naddrs;
		u->addrs =
			pst_arena_calloc(arena, up->naddrs, sizeof(*u->addrs));
		if (u->addrs == NULL) {
			*error_r = "out of memory";
			return -1;
		}
		for (size_t k = 0; k < up->naddrs; k++) {
			struct smtp_client_conf *cc = &u->addrs[k];

			cc->addr = up->addrs[k];
			cc->peer = relay_peer_name(arena, up, &up->addrs[k]);
			cc->lmtp = up->kind == RELAY_UPSTREAM_LMTP;
			cc->implicit_tls = up->kind == RELAY_UPSTREAM_SMTPS;
			cc->tls = rc->tls;
			cc->tls_name = rc->tls_name ? rc->tls_name : up->host;
			cc->helo = relay->helo;
			cc->connect_ms = rc->connect_timeout;
			cc->command_ms = rc->command_timeout;
			cc->data_ms = rc->data_timeout;
			cc->xclient = rc->xclient;
			if (cc->peer == NULL) {
				*error_r = "out of memory";
				return -1;
			}
		}
		if (rc->tls != RELAY_TLS_OPPORTUNISTIC ||
		    up->kind == RELAY_UPSTREAM_SMTPS)
			continue;
		u->plain =
			pst_arena_calloc(arena, up->naddrs, sizeof(*u->plain));
		if (u->plain == NULL) {
			*error_r = "out of memory";
			return -1;
		}
		for (size_t k = 0; k < up->naddrs; k++) {
			u->plain[k] = u->addrs[k];
			u->plain[k].tls = RELAY_TLS_NONE;
		}
	}
	return 0;
}

/* Our name for EHLO: configured, or this host's (a name that is not a
 * valid domain falls back to an address literal of loopback). */
static const char *
relay_helo_name(struct pst_arena *arena, const struct relay_conf *conf)
{
	char host[256];

	if (conf->helo_name != NULL && conf->helo_name[0] != '\0')
		return pst_arena_strdup(arena, conf->helo_name);
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		if (relay_domain_normalize(arena, host) != NULL)
			return pst_arena_strdup(arena, host);
	}
	return "[127.0.0.1]";
}

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
	relay->helo = relay_helo_name(arena, conf);
	if (relay->helo == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	for (size_t i = 0; i < conf->nroutes; i++) {
		struct relay_route *r = &relay->routes[i];

		if (relay_route_build(relay, &conf->routes[i], r, error_r) ==
		    -1)
			return NULL;
		if (r->is_default)
			relay->deflt = r;
	}
	relay->nroutes = conf->nroutes;
	if (relay_smtp_init(relay, error_r) == -1)
		return NULL;
	return relay;
}

int
relay_prepare(struct relay *relay, uid_t uid, gid_t gid, const char **error_r)
{
	for (size_t i = 0; i < relay->nroutes; i++) {
		const struct relay_route *r = &relay->routes[i];

		for (size_t j = 0; j < r->nupstreams; j++) {
			if (r->upstreams[j].kind != RELAY_UPSTREAM_MAILDIR)
				continue;
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

void
relay_format_delay(char *buf, size_t size, double seconds)
{
	/* Postfix shape: two decimals below 100 s, whole seconds above. */
	if (seconds < 100)
		snprintf(buf, size, "%.2f", seconds);
	else
		snprintf(buf, size, "%.0f", seconds);
}

static void
relay_log_result(const struct relay_job *job)
{
	char delay[32];

	relay_format_delay(delay, sizeof(delay), job->delay);
	for (size_t i = 0; i < job->nrcpt; i++) {
		const char *addr = job->rcpts[i].addr;
		char to[1024];

		pst_log_sanitize(to, sizeof(to), addr, (unsigned)strlen(addr));
		if (job->delivered)
			pst_log(PST_LOG_INFO, "relay",
				"%s: to=<%s>, relay=maildir[%s], delay=%s, "
				"dsn=2.0.0, status=sent (delivered to maildir "
				"as %s)",
				job->qid, to, job->used->path, delay,
				job->filename);
		else
			pst_log(PST_LOG_INFO, "relay",
				"%s: to=<%s>, relay=maildir[%s], delay=%s, "
				"dsn=4.3.0, status=deferred (%s)",
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
	struct relay_reply reply = { 0 };

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
	    msg->spool == NULL || base == NULL)
		return -1;
	if (route->network)
		return relay_smtp_submit(relay, base, route, msg, done, arg);
	if (relay->workq == NULL)
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

unsigned
relay_route_max_rcpt(const struct relay_route *route)
{
	/* Any LMTP upstream, not only the first: after a failover an LMTP
	 * upstream must not get several recipients either. */
	for (size_t i = 0; i < route->nupstreams; i++) {
		if (route->upstreams[i].kind == RELAY_UPSTREAM_LMTP)
			return 1;
	}
	return 0;
}

bool
relay_route_verifies(const struct relay_route *route)
{
	return route->network && route->conf != NULL &&
	       route->conf->verify_recipients;
}

int
relay_verify(struct relay *relay, struct event_base *base,
	     const struct relay_route *route, const struct relay_msg *msg,
	     const struct relay_rcpt *rcpt, relay_done_fn *done, void *arg)
{
	if (route == NULL || rcpt == NULL || rcpt->addr == NULL || base == NULL)
		return -1;
	return relay_smtp_verify(relay, base, route, msg, rcpt, done, arg);
}

void
relay_base_free(struct relay *relay, struct event_base *base)
{
	if (relay != NULL && base != NULL)
		relay_smtp_base_free(relay, base);
}
