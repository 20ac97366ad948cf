/*
 * settings.h - posternd's configuration: the typed structs, their
 * defaults, and loading them from the config file.
 *
 * One struct postern_settings per load; it owns an arena that holds
 * everything in it.  Loaded on the main thread; read-only afterwards, so
 * any thread may read it.
 */
#ifndef GATEWAY_SETTINGS_H
#define GATEWAY_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "conf.h"
#include "dns.h"
#include "filter.h"
#include "mbox_settings.h"
#include "milter_conf.h"
#include "mime.h"
#include "net.h"
#include "relay.h"

enum smtpd_vrfy { SMTPD_VRFY_252, SMTPD_VRFY_502 };
enum smtpd_bare_lf { SMTPD_BARE_LF_NORMALIZE, SMTPD_BARE_LF_REJECT };

struct smtpd_settings {
	struct pst_conf_strings listen;
	struct pst_sockaddr *listen_addrs;
	size_t nlisten;

	const char *tls_cert;
	const char *tls_key;
	SSL_CTX *tls_ctx; /* NULL: no STARTTLS */

	uint64_t max_message_size;
	uint64_t max_recipients;
	uint64_t max_command_line;
	uint64_t max_text_line;
	uint64_t max_errors;
	uint64_t max_connections;
	uint64_t max_connections_per_ip;
	uint64_t spool_memory;

	struct pst_conf_strings relay_domains;
	struct pst_conf_strings trusted_networks;
	struct pst_cidr *trusted;
	size_t ntrusted;
	/* Who may present another client: XCLIENT from these, and from
	 * these a PROXY header before anything else (empty: nobody). */
	struct pst_conf_strings xclient_hosts;
	struct pst_cidr *xclient;
	size_t nxclient;
	struct pst_conf_strings proxy_protocol_hosts;
	struct pst_cidr *proxy_hosts;
	size_t nproxy_hosts;

	int vrfy;    /* enum smtpd_vrfy */
	int bare_lf; /* enum smtpd_bare_lf */

	/* milliseconds */
	uint64_t command_timeout;
	uint64_t data_timeout;
	uint64_t tls_timeout;
	uint64_t proxy_timeout; /* for the whole PROXY header */
	uint64_t shutdown_timeout;
};

enum mime_over_limit { MIME_OVER_LIMIT_REJECT, MIME_OVER_LIMIT_ACCEPT };

/* `mime { ... }`: limits of the MIME parser every message goes through. */
struct mime_settings {
	struct mime_limits limits;
	uint64_t max_depth, max_parts; /* bound as numbers, copied in */
	uint64_t max_header_line, max_header_size, max_boundary;
	int over_limit; /* enum mime_over_limit */
};

struct postern_settings {
	struct pst_arena *arena;
	const char *path;
	const char *hostname;
	const char *user;
	uint64_t threads; /* 0: one per core */
	const char *spool_dir;
	struct smtpd_settings smtp;
	struct mime_settings mime;
	struct relay_conf relay;
	/* `filter NAME {}` blocks, `filters {}` and `quarantine {}`; the
	 * chain is loaded (filters' init run) by settings_load and freed
	 * with the settings. */
	struct filter_conf filters;
	struct filter_chain *chain;
	/* `dns {}`: the resolver every filter shares, made when a filter is
	 * configured (filters.dns) and freed with the settings. */
	struct pst_dns_config dns;
	/* top-level `rules = [...]`: the rules filter, last in the chain */
	struct pst_conf_strings rules;
	const char *quarantine_reply; /* "250 2.0.0 text" as written */
	/* `imap {}` and `pop3 {}`: the mailbox pass-through */
	struct mailbox_settings mailbox;
	/* `milter {}`: read by postern-milter only */
	struct milter_settings milter;
	/* "FILE:LINE: no route ..." (or no smtp.listen): allowed in a file
	 * that has a milter {} block, as postern-milter hands mail back to
	 * its MTA; refused by the programs that listen or relay.  Else
	 * NULL. */
	const char *not_a_gateway;
};

/* Load and check path.  0, or -1 with *error_r = "FILE:LINE: text" (valid
 * until the next call; loading happens on the main thread only). */
int settings_load(const char *path, struct postern_settings **settings_r,
		  const char **error_r);
void settings_free(struct postern_settings **settings_p);

/* Running as root, the `user` to switch to must be named and exist:
 * 0 (with *pw_r, if not NULL: its entry, or NULL when not root), or -1
 * with *error_r. */
struct passwd;
int settings_run_user(const struct postern_settings *st, struct passwd **pw_r,
		      const char **error_r);

/* For the programs that listen or relay (posternd, postern quarantine
 * release): 0, or -1 with *error_r saying what the file lacks. */
int settings_require_gateway(const struct postern_settings *s,
			     const char **error_r);

/* Is domain (ASCII, no trailing dot) one we accept mail for? */
bool settings_relay_domain(const struct smtpd_settings *smtp,
			   struct pst_str domain);

#endif
