/*
 * settings.c - posternd's configuration: defaults, the field tables that
 * bind the config file onto struct postern_settings, and the checks that
 * need more than one key (see settings.h).
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "settings.h"
#include "smtp_addr.h"
#include "tls.h"

#define SECONDS(n) ((uint64_t)(n)*1000)

static const char *const vrfy_choices[] = { "252", "502", NULL };
static const char *const bare_lf_choices[] = { "normalize", "reject", NULL };

static const struct pst_conf_field tls_fields[] = {
	{ .name = "cert",
	  .type = PST_CONF_T_STRING,
	  .required = true,
	  .offset = offsetof(struct smtpd_settings, tls_cert) },
	{ .name = "key",
	  .type = PST_CONF_T_STRING,
	  .required = true,
	  .offset = offsetof(struct smtpd_settings, tls_key) },
	{ .name = NULL },
};

static int
settings_tls_block(struct pst_arena *arena, const struct pst_conf_node *node,
		   void *obj, const char **error_r)
{
	return pst_conf_bind(arena, node, tls_fields, obj, error_r);
}

#define SMTP_FIELD(n, t, lo, hi)                                               \
	{                                                                      \
		.name = #n, .type = PST_CONF_T_##t, .min = (lo), .max = (hi),  \
		.offset = offsetof(struct smtpd_settings, n)                   \
	}

static const struct pst_conf_field smtp_fields[] = {
	{ .name = "listen", /* required but for postern-milter alone */
	  .type = PST_CONF_T_STRINGS,
	  .offset = offsetof(struct smtpd_settings, listen) },
	{ .name = "tls",
	  .type = PST_CONF_T_BLOCK,
	  .block = settings_tls_block },
	SMTP_FIELD(max_message_size, SIZE, 1024, (uint64_t)1 << 40),
	SMTP_FIELD(max_recipients, UINT, 1, 100000),
	SMTP_FIELD(max_command_line, SIZE, 512, 65536),
	SMTP_FIELD(max_text_line, SIZE, 1000, 1 << 20),
	SMTP_FIELD(max_errors, UINT, 1, 1000),
	SMTP_FIELD(max_connections, UINT, 1, 1000000),
	SMTP_FIELD(max_connections_per_ip, UINT, 1, 1000000),
	SMTP_FIELD(spool_memory, SIZE, 0, 1u << 30),
	SMTP_FIELD(relay_domains, STRINGS, 0, 0),
	SMTP_FIELD(trusted_networks, STRINGS, 0, 0),
	SMTP_FIELD(xclient_hosts, STRINGS, 0, 0),
	SMTP_FIELD(proxy_protocol_hosts, STRINGS, 0, 0),
	SMTP_FIELD(proxy_timeout, DURATION, 100, SECONDS(300)),
	SMTP_FIELD(command_timeout, DURATION, 100, SECONDS(3600)),
	SMTP_FIELD(data_timeout, DURATION, 100, SECONDS(3600)),
	SMTP_FIELD(tls_timeout, DURATION, 100, SECONDS(3600)),
	SMTP_FIELD(shutdown_timeout, DURATION, 0, SECONDS(3600)),
	{ .name = "vrfy",
	  .type = PST_CONF_T_ENUM,
	  .choices = vrfy_choices,
	  .offset = offsetof(struct smtpd_settings, vrfy) },
	{ .name = "bare_lf",
	  .type = PST_CONF_T_ENUM,
	  .choices = bare_lf_choices,
	  .offset = offsetof(struct smtpd_settings, bare_lf) },
	{ .name = NULL },
};

static int
settings_smtp_block(struct pst_arena *arena, const struct pst_conf_node *node,
		    void *obj, const char **error_r)
{
	struct postern_settings *s = obj;

	return pst_conf_bind(arena, node, smtp_fields, &s->smtp, error_r);
}

static const char *const over_limit_choices[] = { "reject", "accept", NULL };

#define MIME_FIELD(n, t, lo, hi)                                               \
	{                                                                      \
		.name = #n, .type = PST_CONF_T_##t, .min = (lo), .max = (hi),  \
		.offset = offsetof(struct mime_settings, n)                    \
	}

static const struct pst_conf_field mime_fields[] = {
	MIME_FIELD(max_depth, UINT, 1, 1000),
	MIME_FIELD(max_parts, UINT, 1, 1000000),
	MIME_FIELD(max_header_line, SIZE, 998, 16u << 20),
	MIME_FIELD(max_header_size, SIZE, 1024, 64u << 20),
	MIME_FIELD(max_boundary, UINT, 70, 4096),
	{ .name = "over_limit",
	  .type = PST_CONF_T_ENUM,
	  .choices = over_limit_choices,
	  .offset = offsetof(struct mime_settings, over_limit) },
	{ .name = NULL },
};

static int
settings_mime_block(struct pst_arena *arena, const struct pst_conf_node *node,
		    void *obj, const char **error_r)
{
	struct postern_settings *s = obj;

	return pst_conf_bind(arena, node, mime_fields, &s->mime, error_r);
}

static int
settings_route_block(struct pst_arena *arena, const struct pst_conf_node *node,
		     void *obj, const char **error_r)
{
	struct postern_settings *s = obj;

	return relay_conf_route(arena, node, &s->relay, error_r);
}

static int
settings_filter_block(struct pst_arena *arena, const struct pst_conf_node *node,
		      void *obj, const char **error_r)
{
	struct postern_settings *s = obj;

	return filter_conf_block(arena, node, &s->filters, error_r);
}

static const struct pst_conf_field filters_fields[] = {
	{ .name = "threads",
	  .type = PST_CONF_T_UINT,
	  .min = 1,
	  .max = 1024,
	  .offset = offsetof(struct filter_conf, threads) },
	{ .name = "authserv_id",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct filter_conf, authserv_id) },
	{ .name = "auth_results",
	  .type = PST_CONF_T_BOOL,
	  .offset = offsetof(struct filter_conf, auth_results) },
	{ .name = NULL },
};

static int
settings_filters_block(struct pst_arena *arena,
		       const struct pst_conf_node *node, void *obj,
		       const char **error_r)
{
	struct postern_settings *s = obj;

	return pst_conf_bind(arena, node, filters_fields, &s->filters, error_r);
}

static const struct pst_conf_field quarantine_fields[] = {
	{ .name = "dir",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct postern_settings, filters.quarantine_dir) },
	{ .name = "reply",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct postern_settings, quarantine_reply) },
	{ .name = NULL },
};

static int
settings_quarantine_block(struct pst_arena *arena,
			  const struct pst_conf_node *node, void *obj,
			  const char **error_r)
{
	return pst_conf_bind(arena, node, quarantine_fields, obj, error_r);
}

static int
settings_dns_block(struct pst_arena *arena, const struct pst_conf_node *node,
		   void *obj, const char **error_r)
{
	struct postern_settings *s = obj;

	return pst_conf_bind(arena, node, pst_dns_conf_fields, &s->dns,
			     error_r);
}

static int
settings_milter_block(struct pst_arena *arena, const struct pst_conf_node *node,
		      void *obj, const char **error_r)
{
	struct postern_settings *s = obj;

	return milter_conf_block(arena, node, &s->milter, error_r);
}

static const struct pst_conf_field top_fields[] = {
	{ .name = "hostname",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct postern_settings, hostname) },
	{ .name = "user",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct postern_settings, user) },
	{ .name = "threads",
	  .type = PST_CONF_T_UINT,
	  .min = 0,
	  .max = 256,
	  .offset = offsetof(struct postern_settings, threads) },
	{ .name = "spool_dir",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct postern_settings, spool_dir) },
	{ .name = "smtp",
	  .type = PST_CONF_T_BLOCK,
	  .required = true,
	  .block = settings_smtp_block },
	{ .name = "mime",
	  .type = PST_CONF_T_BLOCK,
	  .block = settings_mime_block },
	{ .name = "route",
	  .type = PST_CONF_T_BLOCK,
	  .repeatable = true,
	  .block = settings_route_block },
	{ .name = "filter",
	  .type = PST_CONF_T_BLOCK,
	  .repeatable = true,
	  .block = settings_filter_block },
	{ .name = "filters",
	  .type = PST_CONF_T_BLOCK,
	  .block = settings_filters_block },
	{ .name = "quarantine",
	  .type = PST_CONF_T_BLOCK,
	  .block = settings_quarantine_block },
	{ .name = "dns",
	  .type = PST_CONF_T_BLOCK,
	  .block = settings_dns_block },
	{ .name = "rules",
	  .type = PST_CONF_T_STRINGS,
	  .offset = offsetof(struct postern_settings, rules) },
	{ .name = "imap",
	  .type = PST_CONF_T_BLOCK,
	  .block = mbox_settings_imap_block },
	{ .name = "pop3",
	  .type = PST_CONF_T_BLOCK,
	  .block = mbox_settings_pop3_block },
	{ .name = "milter",
	  .type = PST_CONF_T_BLOCK,
	  .block = settings_milter_block },
	{ .name = NULL },
};

static void
settings_defaults(struct postern_settings *s)
{
	struct smtpd_settings *smtp = &s->smtp;

	s->threads = 0;
	s->spool_dir = "/tmp";
	smtp->max_message_size = 50u << 20;
	smtp->max_recipients = 100;
	smtp->max_command_line = 512;
	smtp->max_text_line = 1000;
	smtp->max_errors = 10;
	smtp->max_connections = 10000;
	smtp->max_connections_per_ip = 50;
	smtp->spool_memory = 128u << 10;
	smtp->vrfy = SMTPD_VRFY_252;
	smtp->bare_lf = SMTPD_BARE_LF_NORMALIZE;
	smtp->command_timeout = SECONDS(300); /* RFC 5321 4.5.3.2.7 */
	smtp->data_timeout = SECONDS(180);    /* RFC 5321 4.5.3.2.5 */
	smtp->tls_timeout = SECONDS(60);
	smtp->proxy_timeout = SECONDS(5);
	smtp->shutdown_timeout = SECONDS(30);
	mime_limits_default(&s->mime.limits);
	s->mime.max_depth = s->mime.limits.max_depth;
	s->mime.max_parts = s->mime.limits.max_parts;
	s->mime.max_header_line = s->mime.limits.max_header_line;
	s->mime.max_header_size = s->mime.limits.max_header_size;
	s->mime.max_boundary = s->mime.limits.max_boundary;
	s->mime.over_limit = MIME_OVER_LIMIT_REJECT;
	filter_conf_defaults(&s->filters);
	pst_dns_config_init(&s->dns);
	mbox_settings_defaults(&s->mailbox);
	milter_settings_defaults(&s->milter);
}

static void
tls_ctx_cleanup(void *ctx)
{
	SSL_CTX_free(ctx);
}

/* The node of key in block (NULL: top level), for error lines; the
 * block, or root itself, when the key is not there. */
static const struct pst_conf_node *
settings_find(const struct pst_conf_node *root, const char *block,
	      const char *key)
{
	const struct pst_conf_node *where = root;

	if (block != NULL) {
		for (where = root->child; where != NULL; where = where->next)
			if (where->key && strcmp(where->key, block) == 0)
				break;
		if (where == NULL)
			return root;
	}
	for (const struct pst_conf_node *n = where->child; n; n = n->next)
		if (n->key && strcmp(n->key, key) == 0)
			return n;
	return where;
}

int
settings_run_user(const struct postern_settings *st, struct passwd **pw_r,
		  const char **error_r)
{
	struct passwd *pw;

	if (pw_r != NULL)
		*pw_r = NULL;
	if (geteuid() != 0)
		return 0;
	if (st->user == NULL) {
		*error_r = pst_arena_printf(
			st->arena,
			"%s: running as root needs `user = \"...\";` (an "
			"unprivileged account to run as)",
			st->path);
		return -1;
	}
	pw = getpwnam(st->user);
	if (pw == NULL) {
		*error_r = pst_arena_printf(st->arena,
					    "%s: user '%s' does not exist",
					    st->path, st->user);
		return -1;
	}
	if (pw_r != NULL)
		*pw_r = pw;
	return 0;
}

int
settings_require_gateway(const struct postern_settings *s, const char **error_r)
{
	if (s->not_a_gateway == NULL)
		return 0;
	*error_r = s->not_a_gateway;
	return -1;
}

static void
settings_chain_cleanup(void *chain)
{
	struct filter_chain *c = chain;

	filter_chain_free(&c);
}

static void
settings_dns_cleanup(void *dns)
{
	struct pst_dns *d = dns;

	pst_dns_free(&d);
}

/* The shared resolver, before the filters' init may want it; freed after
 * the chain (arena cleanups run newest first). */
static int
settings_dns_start(struct postern_settings *s, const struct pst_conf_node *root,
		   const char **error_r)
{
	const char *err;

	if (pst_dns_new(s->arena, &s->dns, &s->filters.dns, &err) < 0) {
		*error_r = pst_conf_error(s->arena,
					  settings_find(root, NULL, "dns"),
					  "dns: %s", err);
		return -1;
	}
	if (pst_arena_cleanup_add(s->arena, settings_dns_cleanup,
				  s->filters.dns) < 0) {
		pst_dns_free(&s->filters.dns);
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

/* `rules = [...]` is `filter rules { files = [...]; }` after every other
 * filter: the rules read what the filters found.  The block is made of
 * nodes that carry the file and line of the rules key. */
static int
settings_rules_filter(struct postern_settings *s,
		      const struct pst_conf_node *root, const char **error_r)
{
	const struct pst_conf_node *key = settings_find(root, NULL, "rules");
	struct pst_conf_node *block, *files, **tail;

	if (s->rules.n == 0)
		return 0;
	block = pst_arena_zalloc(s->arena, sizeof(*block));
	files = pst_arena_zalloc(s->arena, sizeof(*files));
	if (block == NULL || files == NULL)
		goto nomem;
	*block = (struct pst_conf_node){ .kind = PST_CONF_BLOCK,
					 .key = "filter",
					 .label = "rules",
					 .child = files,
					 .file = key->file,
					 .line = key->line };
	*files = (struct pst_conf_node){ .kind = PST_CONF_LIST,
					 .key = "files",
					 .file = key->file,
					 .line = key->line };
	tail = &files->child;
	for (size_t i = 0; i < s->rules.n; i++) {
		struct pst_conf_node *v =
			pst_arena_zalloc(s->arena, sizeof(*v));

		if (v == NULL)
			goto nomem;
		*v = (struct pst_conf_node){ .kind = PST_CONF_SCALAR,
					     .value = s->rules.v[i],
					     .quoted = true,
					     .file = key->file,
					     .line = key->line };
		*tail = v;
		tail = &v->next;
	}
	return filter_conf_block(s->arena, block, &s->filters, error_r);
nomem:
	*error_r = "out of memory";
	return -1;
}

/* quarantine.reply "CODE ENHANCED text": a 2xx, 4xx or 5xx reply. */
static int
settings_quarantine_finish(struct postern_settings *s,
			   const struct pst_conf_node *root,
			   const char **error_r)
{
	struct filter_conf *f = &s->filters;
	unsigned code, a, b, c;
	int n = 0;

	if (s->quarantine_reply == NULL)
		return 0;
	if (sscanf(s->quarantine_reply, "%3u %u.%u.%u %n", &code, &a, &b, &c,
		   &n) != 4 ||
	    n == 0 || code < 200 || code > 599 || code / 100 == 3 ||
	    a != code / 100 || s->quarantine_reply[n] == '\0') {
		*error_r = pst_conf_error(
			s->arena, settings_find(root, "quarantine", "reply"),
			"quarantine.reply '%s': want \"CODE X.Y.Z text\", "
			"e.g. \"250 2.0.0 Ok: queued\"",
			s->quarantine_reply);
		return -1;
	}
	f->quarantine_code = code;
	f->quarantine_text = s->quarantine_reply + 4;
	return 0;
}

/* smtp.KEY, a list of CIDR ranges, into *list_r (never NULL). */
static int
settings_cidrs(struct pst_arena *arena, const struct pst_conf_node *root,
	       const char *key, const struct pst_conf_strings *text,
	       struct pst_cidr **list_r, size_t *n_r, const char **error_r)
{
	const char *err;

	*n_r = text->n;
	*list_r = pst_arena_calloc(arena, text->n + 1, sizeof(**list_r));
	if (*list_r == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < text->n; i++) {
		if (pst_cidr_parse(text->v[i], &(*list_r)[i], &err) < 0) {
			*error_r = pst_conf_error(
				arena, settings_find(root, "smtp", key),
				"smtp.%s '%s': %s", key, text->v[i], err);
			return -1;
		}
	}
	return 0;
}

/* Checks across keys, and turning text into addresses, CIDRs and TLS. */
static int
settings_finish(struct postern_settings *s, const struct pst_conf_node *root,
		const char **error_r)
{
	struct smtpd_settings *smtp = &s->smtp;
	struct pst_arena *arena = s->arena;
	const char *err;

	if (s->hostname == NULL) {
		char host[256];

		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		s->hostname = pst_arena_strdup(arena, host);
	}
	s->relay.helo_name = s->hostname; /* what we EHLO upstreams with */
	s->mime.limits.max_depth = (unsigned)s->mime.max_depth;
	s->mime.limits.max_parts = (unsigned)s->mime.max_parts;
	s->mime.limits.max_header_line = (size_t)s->mime.max_header_line;
	s->mime.limits.max_header_size = (size_t)s->mime.max_header_size;
	s->mime.limits.max_boundary = (size_t)s->mime.max_boundary;
	if (!smtp_addr_domain_valid(pst_str_from_cstr(s->hostname), false)) {
		*error_r = pst_conf_error(
			arena, settings_find(root, NULL, "hostname"),
			"hostname '%s' is not a valid domain", s->hostname);
		return -1;
	}
	if (smtp->listen.n == 0) {
		s->not_a_gateway = pst_conf_error(
			arena, settings_find(root, "smtp", "listen"),
			"smtp.listen has no addresses");
		if (!s->milter.configured) {
			*error_r = s->not_a_gateway;
			return -1;
		}
	}
	smtp->nlisten = smtp->listen.n;
	smtp->listen_addrs = pst_arena_calloc(arena, smtp->nlisten,
					      sizeof(*smtp->listen_addrs));
	for (size_t i = 0; i < smtp->nlisten; i++) {
		if (pst_net_parse_hostport(smtp->listen.v[i],
					   &smtp->listen_addrs[i], &err) < 0) {
			*error_r = pst_conf_error(
				arena, settings_find(root, "smtp", "listen"),
				"smtp.listen '%s': %s", smtp->listen.v[i], err);
			return -1;
		}
	}
	smtp->ntrusted = smtp->trusted_networks.n;
	smtp->trusted = pst_arena_calloc(arena, smtp->ntrusted + 1,
					 sizeof(*smtp->trusted));
	for (size_t i = 0; i < smtp->ntrusted; i++) {
		if (pst_cidr_parse(smtp->trusted_networks.v[i],
				   &smtp->trusted[i], &err) < 0) {
			*error_r = pst_conf_error(
				arena,
				settings_find(root, "smtp", "trusted_networks"),
				"smtp.trusted_networks '%s': %s",
				smtp->trusted_networks.v[i], err);
			return -1;
		}
	}
	if (settings_cidrs(arena, root, "xclient_hosts", &smtp->xclient_hosts,
			   &smtp->xclient, &smtp->nxclient, error_r) < 0 ||
	    settings_cidrs(arena, root, "proxy_protocol_hosts",
			   &smtp->proxy_protocol_hosts, &smtp->proxy_hosts,
			   &smtp->nproxy_hosts, error_r) < 0)
		return -1;
	for (size_t i = 0; i < smtp->relay_domains.n; i++) {
		const char *d = smtp->relay_domains.v[i];

		if (*d == '.')
			d++;
		if (!smtp_addr_domain_valid(pst_str_from_cstr(d), true)) {
			*error_r = pst_conf_error(
				arena,
				settings_find(root, "smtp", "relay_domains"),
				"smtp.relay_domains '%s' is not a domain",
				smtp->relay_domains.v[i]);
			return -1;
		}
	}
	if (smtp->tls_cert != NULL) {
		char errbuf[256];

		smtp->tls_ctx = pst_tls_server_ctx(
			smtp->tls_cert, smtp->tls_key, errbuf, sizeof(errbuf));
		if (smtp->tls_ctx == NULL) {
			*error_r = pst_conf_error(
				arena, settings_find(root, "smtp", "tls"),
				"smtp.tls: %s", errbuf);
			return -1;
		}
		if (pst_arena_cleanup_add(arena, tls_ctx_cleanup,
					  smtp->tls_ctx) < 0) {
			SSL_CTX_free(smtp->tls_ctx);
			smtp->tls_ctx = NULL;
			*error_r = "out of memory";
			return -1;
		}
	}
	if (s->relay.nroutes == 0 && s->not_a_gateway == NULL) {
		s->not_a_gateway = pst_conf_error(
			arena, root,
			"no route: add `route default { upstream = \"maildir:/var/lib/postern/mail\"; }`");
		if (!s->milter.configured) {
			*error_r = s->not_a_gateway;
			return -1;
		}
	}
	if (access(s->spool_dir, F_OK) < 0) {
		*error_r = pst_conf_error(
			arena, settings_find(root, NULL, "spool_dir"),
			"spool_dir '%s': %s", s->spool_dir, strerror(errno));
		return -1;
	}
	if (settings_quarantine_finish(s, root, error_r) < 0)
		return -1;
	if (mbox_settings_finish(arena, root, &s->mailbox, error_r) < 0)
		return -1;
	if (s->filters.authserv_id == NULL)
		s->filters.authserv_id = s->hostname;
	s->filters.hostname = s->hostname;
	s->filters.spool_dir = s->spool_dir;
	s->filters.spool_memory = s->smtp.spool_memory;
	if (settings_rules_filter(s, root, error_r) < 0)
		return -1;
	if (s->filters.nentries > 0 && settings_dns_start(s, root, error_r) < 0)
		return -1;
	s->chain = filter_chain_new(arena, &s->filters, error_r);
	if (s->chain == NULL)
		return -1;
	if (pst_arena_cleanup_add(arena, settings_chain_cleanup, s->chain) <
	    0) {
		filter_chain_free(&s->chain);
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

int
settings_load(const char *path, struct postern_settings **settings_r,
	      const char **error_r)
{
	static char errbuf[1024];
	struct postern_settings *s;
	struct pst_conf_node *root;
	struct pst_arena *arena = pst_arena_new(16384);
	const char *err = "out of memory";

	if (arena == NULL)
		goto fail;
	filter_builtins_register_all(); /* once is enough; harmless again */
	s = pst_arena_zalloc(arena, sizeof(*s));
	if (s == NULL)
		goto fail;
	s->arena = arena;
	s->path = pst_arena_strdup(arena, path);
	settings_defaults(s);
	if (pst_conf_parse_file(arena, path, &root, &err) < 0 ||
	    pst_conf_bind(arena, root, top_fields, s, &err) < 0 ||
	    settings_finish(s, root, &err) < 0)
		goto fail;
	*settings_r = s;
	return 0;
fail:
	snprintf(errbuf, sizeof(errbuf), "%s", err);
	pst_arena_free(&arena);
	*error_r = errbuf;
	return -1;
}

void
settings_free(struct postern_settings **settings_p)
{
	struct pst_arena *arena;

	if (settings_p == NULL || *settings_p == NULL)
		return;
	arena = (*settings_p)->arena;
	*settings_p = NULL;
	pst_arena_free(&arena);
}

bool
settings_relay_domain(const struct smtpd_settings *smtp, struct pst_str domain)
{
	if (domain.len > 0 && domain.p[domain.len - 1] == '.')
		domain.len--;
	for (size_t i = 0; i < smtp->relay_domains.n; i++) {
		struct pst_str d = pst_str_from_cstr(smtp->relay_domains.v[i]);

		if (d.len > 0 && d.p[0] == '.') {
			/* ".example.org": any subdomain, not the parent */
			if (domain.len > d.len &&
			    pst_str_caseeq(
				    (struct pst_str){ domain.p + domain.len -
							      d.len,
						      d.len },
				    d))
				return true;
		} else if (pst_str_caseeq(domain, d)) {
			return true;
		}
	}
	return false;
}
