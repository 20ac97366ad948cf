/*
 * mbox_settings.h - the `imap {}` and `pop3 {}` blocks: listeners, TLS,
 * limits, the mailbox servers behind postern (backends) and the
 * brute-force guard.
 *
 * Part of struct postern_settings (settings.h); everything lives on the
 * settings arena and is read-only once loaded, so any thread may read it.
 */
#ifndef GATEWAY_MBOX_SETTINGS_H
#define GATEWAY_MBOX_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "conf.h"
#include "net.h"

enum mbox_proto { MBOX_IMAP, MBOX_POP3 };
enum mbox_tls { MBOX_TLS_NONE, MBOX_TLS_STARTTLS, MBOX_TLS_IMPLICIT };

/* `backend NAME { server = "host:port"; tls = ...; }` */
struct mbox_backend {
	const char *name;
	const char *server;
	struct pst_sockaddr addr;
	int tls;		 /* enum mbox_tls */
	bool verify;		 /* check the certificate and its name */
	const char *ca_file;	 /* NULL: the system's store */
	const char *server_name; /* for SNI and the name check */
	bool forward_client;	 /* IMAP ID x-originating-*, POP3 XCLIENT */
	struct pst_conf_strings domains;
	SSL_CTX *ssl_ctx; /* NULL with tls = none */
	const char *file;
	unsigned line;
};

/* `user_map = FILE`: "user backend" per line, sorted for bsearch.
 * Reloaded on SIGHUP, so it lives apart from the settings: the entries
 * on an arena of their own, swapped under the lock (lookups hold it for
 * one bsearch). */
struct mbox_user_entry {
	const char *user; /* lower case */
	const struct mbox_backend *backend;
};
struct mbox_user_map;

struct mbox_guard_settings {
	uint64_t max_failures_ip;   /* failures before an address lockout */
	uint64_t max_failures_user; /* failures before a user lockout */
	uint64_t delay;		    /* ms after the first failure, doubling */
	uint64_t max_delay;	    /* ms */
	uint64_t lockout;	    /* ms; also how long failures are kept */
};

struct mbox_proto_settings {
	bool configured;
	enum mbox_proto proto;
	struct pst_conf_strings listen;	    /* plain + STARTTLS / STLS */
	struct pst_conf_strings listen_tls; /* implicit TLS */
	struct pst_sockaddr *addrs;	    /* listen, then listen_tls */
	size_t naddrs, nplain;
	const char *tls_cert, *tls_key;
	SSL_CTX *tls_ctx;
	struct pst_conf_strings trusted_networks; /* may log in without TLS */
	struct pst_cidr *trusted;
	size_t ntrusted;
	uint64_t max_line;
	uint64_t max_literal;
	uint64_t max_errors;
	uint64_t max_connections;
	uint64_t max_connections_per_ip;
	uint64_t login_timeout;	  /* ms, pre-login inactivity */
	uint64_t idle_timeout;	  /* ms, after login */
	uint64_t backend_timeout; /* ms, backend connect and login */
	bool relay_splice;	  /* splice(2) after login when no leg is TLS */
	struct mbox_backend **backends;
	size_t nbackends, backend_cap;
	const struct mbox_backend *default_backend;
	const char *user_map;
	struct mbox_user_map *users; /* NULL without user_map */
	struct mbox_guard_settings guard;
};

struct mailbox_settings {
	struct mbox_proto_settings imap, pop3;
};

struct pst_arena;

void mbox_settings_defaults(struct mailbox_settings *m);
/* pst_conf_block_fn for the top-level keys "imap" and "pop3"; obj is the
 * struct postern_settings being loaded. */
int mbox_settings_imap_block(struct pst_arena *arena,
			     const struct pst_conf_node *node, void *obj,
			     const char **error_r);
int mbox_settings_pop3_block(struct pst_arena *arena,
			     const struct pst_conf_node *node, void *obj,
			     const char **error_r);
/* Addresses, TLS contexts, the user map; after binding.  0 or -1 with
 * *error_r ("FILE:LINE: ..." on the arena). */
int mbox_settings_finish(struct pst_arena *arena,
			 const struct pst_conf_node *root,
			 struct mailbox_settings *m, const char **error_r);

/* The backend for user (as the client gave it): the user map, then the
 * domain after the last '@', then the default.  NULL: none. */
const struct mbox_backend *
mbox_settings_backend(const struct mbox_proto_settings *p, const char *user);

/* An empty user map for p->users, freed with arena. */
struct mbox_user_map *mbox_user_map_new(struct pst_arena *arena);
/* Read the file path into p->users (made by mbox_user_map_new), in
 * place of what it held: 0, or -1 with *error_r on arena and the old
 * entries kept.  Thread-safe against lookups. */
int mbox_settings_load_user_map(struct pst_arena *arena,
				const struct mbox_proto_settings *p,
				const char *path, const char **error_r);
/* Entries in p's user map (for tests and logs). */
size_t mbox_user_map_count(const struct mbox_proto_settings *p);

/* SIGHUP: read the user maps of imap {} and pop3 {} again.  0, or -1
 * with *error_r (on arena) when one could not be read: that one keeps
 * its old entries. */
int mbox_settings_reload(const struct mailbox_settings *m,
			 struct pst_arena *arena, const char **error_r);

#endif
