/*
 * mbox_settings.c - the `imap {}` and `pop3 {}` blocks (see
 * mbox_settings.h): defaults, binding, and turning text into addresses,
 * CIDRs, TLS contexts and the user map.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "arena.h"
#include "mbox_settings.h"
#include "settings.h"
#include "tls.h"

#define SECONDS(n) ((uint64_t)(n)*1000)
#define MBOX_MAX_BACKENDS 1024
#define MBOX_USER_MAP_MAX_LINE 1024

static const char *const tls_choices[] = { "none", "starttls", "implicit",
					   NULL };

static const struct pst_conf_field backend_fields[] = {
	{ .name = "server",
	  .type = PST_CONF_T_STRING,
	  .required = true,
	  .offset = offsetof(struct mbox_backend, server) },
	{ .name = "tls",
	  .type = PST_CONF_T_ENUM,
	  .choices = tls_choices,
	  .offset = offsetof(struct mbox_backend, tls) },
	{ .name = "verify",
	  .type = PST_CONF_T_BOOL,
	  .offset = offsetof(struct mbox_backend, verify) },
	{ .name = "ca_file",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct mbox_backend, ca_file) },
	{ .name = "server_name",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct mbox_backend, server_name) },
	{ .name = "forward_client",
	  .type = PST_CONF_T_BOOL,
	  .offset = offsetof(struct mbox_backend, forward_client) },
	{ .name = "domains",
	  .type = PST_CONF_T_STRINGS,
	  .offset = offsetof(struct mbox_backend, domains) },
	{ .name = NULL },
};

static int
mbox_backend_block(struct pst_arena *arena, const struct pst_conf_node *node,
		   void *obj, const char **error_r)
{
	struct mbox_proto_settings *p = obj;
	struct mbox_backend *b;

	if (node->label == NULL || node->label[0] == '\0') {
		*error_r = pst_conf_error(arena, node,
					  "backend needs a name: `backend "
					  "default { server = ...; }`");
		return -1;
	}
	for (size_t i = 0; i < p->nbackends; i++) {
		if (strcasecmp(p->backends[i]->name, node->label) == 0) {
			*error_r = pst_conf_error(
				arena, node,
				"backend '%s' is already defined at %s:%u",
				node->label, p->backends[i]->file,
				p->backends[i]->line);
			return -1;
		}
	}
	if (p->nbackends >= MBOX_MAX_BACKENDS) {
		*error_r = pst_conf_error(arena, node, "too many backends");
		return -1;
	}
	if (p->nbackends == p->backend_cap) {
		size_t cap = p->backend_cap ? 2 * p->backend_cap : 8;
		struct mbox_backend **v =
			pst_arena_calloc(arena, cap, sizeof(*v));

		if (v == NULL)
			goto nomem;
		if (p->nbackends > 0)
			memcpy(v, p->backends, p->nbackends * sizeof(*v));
		p->backends = v;
		p->backend_cap = cap;
	}
	b = pst_arena_zalloc(arena, sizeof(*b));
	if (b == NULL)
		goto nomem;
	b->name = pst_arena_strdup(arena, node->label);
	b->verify = true;
	b->forward_client = true;
	b->file = node->file;
	b->line = node->line;
	if (pst_conf_bind(arena, node, backend_fields, b, error_r) < 0)
		return -1;
	p->backends[p->nbackends++] = b;
	return 0;
nomem:
	*error_r = "out of memory";
	return -1;
}

static const struct pst_conf_field tls_fields[] = {
	{ .name = "cert",
	  .type = PST_CONF_T_STRING,
	  .required = true,
	  .offset = offsetof(struct mbox_proto_settings, tls_cert) },
	{ .name = "key",
	  .type = PST_CONF_T_STRING,
	  .required = true,
	  .offset = offsetof(struct mbox_proto_settings, tls_key) },
	{ .name = NULL },
};

static int
mbox_tls_block(struct pst_arena *arena, const struct pst_conf_node *node,
	       void *obj, const char **error_r)
{
	return pst_conf_bind(arena, node, tls_fields, obj, error_r);
}

#define GUARD_FIELD(n, t, lo, hi)                                              \
	{                                                                      \
		.name = #n, .type = PST_CONF_T_##t, .min = (lo), .max = (hi),  \
		.offset = offsetof(struct mbox_guard_settings, n)              \
	}

static const struct pst_conf_field guard_fields[] = {
	GUARD_FIELD(max_failures_ip, UINT, 1, 1000000),
	GUARD_FIELD(max_failures_user, UINT, 1, 1000000),
	GUARD_FIELD(delay, DURATION, 0, SECONDS(60)),
	GUARD_FIELD(max_delay, DURATION, 0, SECONDS(300)),
	GUARD_FIELD(lockout, DURATION, 1000, SECONDS(86400)),
	{ .name = NULL },
};

static int
mbox_guard_block(struct pst_arena *arena, const struct pst_conf_node *node,
		 void *obj, const char **error_r)
{
	struct mbox_proto_settings *p = obj;

	return pst_conf_bind(arena, node, guard_fields, &p->guard, error_r);
}

#define PROTO_FIELD(n, t, lo, hi)                                              \
	{                                                                      \
		.name = #n, .type = PST_CONF_T_##t, .min = (lo), .max = (hi),  \
		.offset = offsetof(struct mbox_proto_settings, n)              \
	}

static const struct pst_conf_field proto_fields[] = {
	PROTO_FIELD(listen, STRINGS, 0, 0),
	PROTO_FIELD(listen_tls, STRINGS, 0, 0),
	{ .name = "tls", .type = PST_CONF_T_BLOCK, .block = mbox_tls_block },
	PROTO_FIELD(trusted_networks, STRINGS, 0, 0),
	PROTO_FIELD(max_line, SIZE, 256, 65536),
	PROTO_FIELD(max_literal, SIZE, 256, 1u << 20),
	PROTO_FIELD(max_errors, UINT, 1, 1000),
	PROTO_FIELD(max_connections, UINT, 1, 1000000),
	PROTO_FIELD(max_connections_per_ip, UINT, 1, 1000000),
	PROTO_FIELD(login_timeout, DURATION, 100, SECONDS(3600)),
	PROTO_FIELD(idle_timeout, DURATION, 1000, SECONDS(86400)),
	PROTO_FIELD(backend_timeout, DURATION, 100, SECONDS(600)),
	PROTO_FIELD(user_map, STRING, 0, 0),
	PROTO_FIELD(relay_splice, BOOL, 0, 0),
	{ .name = "backend",
	  .type = PST_CONF_T_BLOCK,
	  .repeatable = true,
	  .block = mbox_backend_block },
	{ .name = "guard",
	  .type = PST_CONF_T_BLOCK,
	  .block = mbox_guard_block },
	{ .name = NULL },
};

static void
mbox_proto_defaults(struct mbox_proto_settings *p, enum mbox_proto proto)
{
	memset(p, 0, sizeof(*p));
	p->proto = proto;
	p->max_line = proto == MBOX_IMAP ? 8192 : 512;
	p->max_literal = 8192;
	p->max_errors = 10;
	p->max_connections = 10000;
	p->max_connections_per_ip = 20;
	p->login_timeout = SECONDS(60);
	/* RFC 9051 5.4: an autologout timer of at least 30 minutes. */
	p->idle_timeout = SECONDS(35 * 60);
	p->backend_timeout = SECONDS(15);
	p->relay_splice = true;
	p->guard.max_failures_ip = 20;
	p->guard.max_failures_user = 10;
	p->guard.delay = SECONDS(1);
	p->guard.max_delay = SECONDS(15);
	p->guard.lockout = SECONDS(15 * 60);
}

void
mbox_settings_defaults(struct mailbox_settings *m)
{
	mbox_proto_defaults(&m->imap, MBOX_IMAP);
	mbox_proto_defaults(&m->pop3, MBOX_POP3);
}

int
mbox_settings_imap_block(struct pst_arena *arena,
			 const struct pst_conf_node *node, void *obj,
			 const char **error_r)
{
	struct postern_settings *s = obj;

	s->mailbox.imap.configured = true;
	return pst_conf_bind(arena, node, proto_fields, &s->mailbox.imap,
			     error_r);
}

int
mbox_settings_pop3_block(struct pst_arena *arena,
			 const struct pst_conf_node *node, void *obj,
			 const char **error_r)
{
	struct postern_settings *s = obj;

	s->mailbox.pop3.configured = true;
	return pst_conf_bind(arena, node, proto_fields, &s->mailbox.pop3,
			     error_r);
}

static void
mbox_ssl_ctx_cleanup(void *ctx)
{
	SSL_CTX_free(ctx);
}

static const struct pst_conf_node *
mbox_find(const struct pst_conf_node *root, const char *block, const char *key)
{
	const struct pst_conf_node *b;

	for (b = root->child; b != NULL; b = b->next)
		if (b->key != NULL && strcmp(b->key, block) == 0)
			break;
	if (b == NULL)
		return root;
	for (const struct pst_conf_node *n = b->child; n; n = n->next)
		if (key != NULL && n->key != NULL && strcmp(n->key, key) == 0)
			return n;
	return b;
}

static int
mbox_add_ctx(struct pst_arena *arena, SSL_CTX *ctx, const char **error_r)
{
	if (pst_arena_cleanup_add(arena, mbox_ssl_ctx_cleanup, ctx) < 0) {
		SSL_CTX_free(ctx);
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

/* A client context for one backend: TLS 1.2+, and unless verify = no,
 * the chain checked against ca_file (or the system store). */
static int
mbox_backend_ctx(struct pst_arena *arena, struct mbox_backend *b,
		 const char *where, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	unsigned long e;
	char reason[256];

	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (b->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if ((b->ca_file != NULL
			     ? SSL_CTX_load_verify_locations(ctx, b->ca_file,
							     NULL)
			     : SSL_CTX_set_default_verify_paths(ctx)) != 1)
			goto fail;
	}
	b->ssl_ctx = ctx;
	return mbox_add_ctx(arena, ctx, error_r);
fail:
	e = ERR_get_error();
	ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	SSL_CTX_free(ctx);
	*error_r = pst_arena_printf(arena, "%s: backend '%s': TLS: %s", where,
				    b->name, reason);
	return -1;
}

static int
mbox_user_cmp(const void *a, const void *b)
{
	const struct mbox_user_entry *x = a, *y = b;

	return strcmp(x->user, y->user);
}

static const struct mbox_backend *
mbox_backend_named(const struct mbox_proto_settings *p, const char *name)
{
	for (size_t i = 0; i < p->nbackends; i++)
		if (strcasecmp(p->backends[i]->name, name) == 0)
			return p->backends[i];
	return NULL;
}

static char *
mbox_lower(struct pst_arena *arena, const char *s, size_t len)
{
	char *d = pst_arena_strndup(arena, s, len);

	for (char *c = d; c != NULL && *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c | 0x20);
	return d;
}

struct mbox_user_map {
	pthread_mutex_t lock;
	struct pst_arena *arena; /* the entries' */
	struct mbox_user_entry *v;
	size_t n;
};

static void
mbox_user_map_free(void *arg)
{
	struct mbox_user_map *map = arg;

	pst_arena_free(&map->arena);
	pthread_mutex_destroy(&map->lock);
	free(map);
}

struct mbox_user_map *
mbox_user_map_new(struct pst_arena *arena)
{
	struct mbox_user_map *map = calloc(1, sizeof(*map));

	if (map == NULL)
		return NULL;
	pthread_mutex_init(&map->lock, NULL);
	if (pst_arena_cleanup_add(arena, mbox_user_map_free, map) < 0) {
		mbox_user_map_free(map);
		return NULL;
	}
	return map;
}

size_t
mbox_user_map_count(const struct mbox_proto_settings *p)
{
	size_t n;

	if (p->users == NULL)
		return 0;
	pthread_mutex_lock(&p->users->lock);
	n = p->users->n;
	pthread_mutex_unlock(&p->users->lock);
	return n;
}

/* Read path onto a new arena: *arena_r, *v_r, *n_r. */
static int
mbox_user_map_read(struct pst_arena *err_arena,
		   const struct mbox_proto_settings *p, const char *path,
		   struct pst_arena **arena_r, struct mbox_user_entry **v_r,
		   size_t *n_r, const char **error_r)
{
	struct pst_arena *arena = pst_arena_new(0);
	FILE *f = fopen(path, "r");
	char line[MBOX_USER_MAP_MAX_LINE];
	struct mbox_user_entry *v = NULL;
	size_t cap = 0, n = 0;
	unsigned lineno = 0;

	if (f == NULL || arena == NULL) {
		*error_r = pst_arena_printf(
			err_arena, "user_map '%s': %s", path,
			f == NULL ? strerror(errno) : "out of memory");
		goto fail;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *user, *name, *extra, *save = NULL;
		const struct mbox_backend *b;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			*error_r = pst_arena_printf(err_arena,
						    "%s:%u: line too long",
						    path, lineno);
			goto fail;
		}
		user = strtok_r(line, " \t\r\n", &save);
		if (user == NULL || user[0] == '#')
			continue;
		name = strtok_r(NULL, " \t\r\n", &save);
		extra = strtok_r(NULL, " \t\r\n", &save);
		if (name == NULL || extra != NULL) {
			*error_r = pst_arena_printf(
				err_arena, "%s:%u: want \"USER BACKEND\"", path,
				lineno);
			goto fail;
		}
		b = mbox_backend_named(p, name);
		if (b == NULL) {
			*error_r = pst_arena_printf(
				err_arena, "%s:%u: no backend named '%s'", path,
				lineno, name);
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct mbox_user_entry *nv =
				pst_arena_calloc(arena, ncap, sizeof(*nv));

			if (nv == NULL)
				goto nomem;
			if (n > 0)
				memcpy(nv, v, n * sizeof(*nv));
			v = nv;
			cap = ncap;
		}
		v[n].user = mbox_lower(arena, user, strlen(user));
		v[n].backend = b;
		if (v[n].user == NULL)
			goto nomem;
		n++;
	}
	fclose(f);
	if (n > 0)
		qsort(v, n, sizeof(*v), mbox_user_cmp);
	*arena_r = arena;
	*v_r = v;
	*n_r = n;
	return 0;
nomem:
	*error_r = "out of memory";
fail:
	if (f != NULL)
		fclose(f);
	pst_arena_free(&arena);
	return -1;
}

int
mbox_settings_load_user_map(struct pst_arena *arena,
			    const struct mbox_proto_settings *p,
			    const char *path, const char **error_r)
{
	struct mbox_user_map *map = p->users;
	struct pst_arena *old, *fresh;
	struct mbox_user_entry *v;
	size_t n;

	if (mbox_user_map_read(arena, p, path, &fresh, &v, &n, error_r) < 0)
		return -1;
	pthread_mutex_lock(&map->lock);
	old = map->arena;
	map->arena = fresh;
	map->v = v;
	map->n = n;
	pthread_mutex_unlock(&map->lock);
	pst_arena_free(&old);
	return 0;
}

int
mbox_settings_reload(const struct mailbox_settings *m, struct pst_arena *arena,
		     const char **error_r)
{
	const struct mbox_proto_settings *ps[] = { &m->imap, &m->pop3 };
	int rc = 0;

	for (size_t i = 0; i < 2; i++) {
		const char *err;

		if (!ps[i]->configured || ps[i]->user_map == NULL)
			continue;
		if (mbox_settings_load_user_map(arena, ps[i], ps[i]->user_map,
						&err) < 0) {
			*error_r = err;
			rc = -1;
		}
	}
	return rc;
}

const struct mbox_backend *
mbox_settings_backend(const struct mbox_proto_settings *p, const char *user)
{
	char lower[256];
	const char *at;
	size_t len = strlen(user);

	if (len < sizeof(lower) && p->users != NULL) {
		struct mbox_user_entry key = { lower, NULL }, *hit;
		const struct mbox_backend *b = NULL;

		for (size_t i = 0; i <= len; i++)
			lower[i] = (user[i] >= 'A' && user[i] <= 'Z')
					   ? (char)(user[i] | 0x20)
					   : user[i];
		pthread_mutex_lock(&p->users->lock);
		hit = bsearch(&key, p->users->v, p->users->n,
			      sizeof(*p->users->v), mbox_user_cmp);
		if (hit != NULL)
			b = hit->backend;
		pthread_mutex_unlock(&p->users->lock);
		if (b != NULL)
			return b;
	}
	at = strrchr(user, '@');
	if (at != NULL && at[1] != '\0') {
		for (size_t i = 0; i < p->nbackends; i++) {
			const struct mbox_backend *b = p->backends[i];

			for (size_t j = 0; j < b->domains.n; j++)
				if (strcasecmp(b->domains.v[j], at + 1) == 0)
					return b;
		}
	}
	return p->default_backend;
}

/* "192.0.2.7:143", "[2001:db8::7]:993", or "imap1.example.org:143":
 * a name is looked up once, here (the first address), and becomes the
 * name the backend's certificate must carry unless server_name says
 * otherwise. */
static int
mbox_backend_address(struct pst_arena *arena, struct mbox_backend *b,
		     const char **error_r)
{
	const char *colon = strrchr(b->server, ':');
	struct addrinfo hints, *res = NULL;
	char *host;
	int rc;

	if (pst_net_parse_hostport(b->server, &b->addr, error_r) == 0)
		return 0;
	if (colon == NULL || colon == b->server || b->server[0] == '[' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    colon[1] == '\0')
		return -1; /* pst_net_parse_hostport's error says why */
	if (strlen(colon + 1) > 5 || atoi(colon + 1) < 1 ||
	    atoi(colon + 1) > 65535) {
		*error_r = "port must be 1-65535";
		return -1;
	}
	host = pst_arena_strndup(arena, b->server, (size_t)(colon - b->server));
	if (host == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		*error_r = pst_arena_printf(arena, "cannot resolve '%s': %s",
					    host, gai_strerror(rc));
		return -1;
	}
	memcpy(&b->addr.u.ss, res->ai_addr, res->ai_addrlen);
	b->addr.len = res->ai_addrlen;
	freeaddrinfo(res);
	if (b->server_name == NULL)
		b->server_name = host;
	return 0;
}

static int
mbox_proto_finish(struct pst_arena *arena, const struct pst_conf_node *root,
		  struct mbox_proto_settings *p, const char **error_r)
{
	const char *block = p->proto == MBOX_IMAP ? "imap" : "pop3";
	const char *err;

	if (!p->configured)
		return 0;
	if (p->listen.n + p->listen_tls.n == 0) {
		*error_r = pst_conf_error(arena, mbox_find(root, block, NULL),
					  "%s: no listen or listen_tls address",
					  block);
		return -1;
	}
	p->nplain = p->listen.n;
	p->naddrs = p->listen.n + p->listen_tls.n;
	p->addrs = pst_arena_calloc(arena, p->naddrs, sizeof(*p->addrs));
	if (p->addrs == NULL)
		goto nomem;
	for (size_t i = 0; i < p->naddrs; i++) {
		bool tls = i >= p->nplain;
		const char *text =
			tls ? p->listen_tls.v[i - p->nplain] : p->listen.v[i];

		if (pst_net_parse_hostport(text, &p->addrs[i], &err) < 0) {
			*error_r = pst_conf_error(
				arena,
				mbox_find(root, block,
					  tls ? "listen_tls" : "listen"),
				"%s.%s '%s': %s", block,
				tls ? "listen_tls" : "listen", text, err);
			return -1;
		}
	}
	if (p->tls_cert != NULL) {
		char errbuf[256];

		p->tls_ctx = pst_tls_server_ctx(p->tls_cert, p->tls_key, errbuf,
						sizeof(errbuf));
		if (p->tls_ctx == NULL) {
			*error_r = pst_conf_error(arena,
						  mbox_find(root, block, "tls"),
						  "%s.tls: %s", block, errbuf);
			return -1;
		}
		if (mbox_add_ctx(arena, p->tls_ctx, error_r) < 0)
			return -1;
	} else if (p->listen_tls.n > 0) {
		*error_r = pst_conf_error(arena,
					  mbox_find(root, block, "listen_tls"),
					  "%s.listen_tls needs a tls { cert; "
					  "key; } block",
					  block);
		return -1;
	}
	p->ntrusted = p->trusted_networks.n;
	p->trusted =
		pst_arena_calloc(arena, p->ntrusted + 1, sizeof(*p->trusted));
	if (p->trusted == NULL)
		goto nomem;
	for (size_t i = 0; i < p->ntrusted; i++) {
		if (pst_cidr_parse(p->trusted_networks.v[i], &p->trusted[i],
				   &err) < 0) {
			*error_r = pst_conf_error(
				arena,
				mbox_find(root, block, "trusted_networks"),
				"%s.trusted_networks '%s': %s", block,
				p->trusted_networks.v[i], err);
			return -1;
		}
	}
	if (p->nbackends == 0) {
		*error_r = pst_conf_error(
			arena, mbox_find(root, block, NULL),
			"%s: no backend: add `backend default { server = "
			"\"127.0.0.1:%s\"; }`",
			block, p->proto == MBOX_IMAP ? "143" : "110");
		return -1;
	}
	for (size_t i = 0; i < p->nbackends; i++) {
		struct mbox_backend *b = p->backends[i];
		const char *where =
			pst_arena_printf(arena, "%s:%u", b->file, b->line);

		if (mbox_backend_address(arena, b, &err) < 0) {
			*error_r = pst_arena_printf(
				arena, "%s: backend '%s': server '%s': %s",
				where, b->name, b->server, err);
			return -1;
		}
		if (b->server_name == NULL) {
			char host[PST_NET_ADDRSTRLEN];

			b->server_name = pst_arena_strdup(
				arena, pst_net_addr_str(&b->addr.u.sa, host,
							sizeof(host)));
		}
		if (b->tls != MBOX_TLS_NONE &&
		    mbox_backend_ctx(arena, b, where, error_r) < 0)
			return -1;
		if (strcasecmp(b->name, "default") == 0)
			p->default_backend = b;
	}
	if (p->user_map != NULL &&
	    (p->users = mbox_user_map_new(arena)) == NULL)
		goto nomem;
	if (p->user_map != NULL &&
	    mbox_settings_load_user_map(arena, p, p->user_map, &err) < 0) {
		*error_r = pst_conf_error(
			arena, mbox_find(root, block, "user_map"), "%s", err);
		return -1;
	}
	if (p->guard.max_delay < p->guard.delay)
		p->guard.max_delay = p->guard.delay;
	return 0;
nomem:
	*error_r = "out of memory";
	return -1;
}

int
mbox_settings_finish(struct pst_arena *arena, const struct pst_conf_node *root,
		     struct mailbox_settings *m, const char **error_r)
{
	if (mbox_proto_finish(arena, root, &m->imap, error_r) < 0 ||
	    mbox_proto_finish(arena, root, &m->pop3, error_r) < 0)
		return -1;
	return 0;
}
