/*
 * milter_conf.h - the `milter {}` block of the configuration file:
 * where postern-milter listens and how long it waits for the MTA.
 *
 *	milter {
 *		socket = "inet:8891@127.0.0.1";	# or inet6:PORT@HOST,
 *						# unix:/run/postern/milter.sock
 *		timeout = 2h;			# MTA silence before giving up
 *		backlog = 128;
 *		socket_mode = "0660";		# unix sockets only
 *	}
 *
 * The block is parsed with the rest of the file by settings_load (so
 * `posternd -t` checks it too) and read only by postern-milter.  Pure
 * parsing, no libmilter: posternd links it as well.  Thread-safe once
 * loaded (read-only).
 */
#ifndef GATEWAY_MILTER_CONF_H
#define GATEWAY_MILTER_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

struct milter_settings {
	const char *socket;	 /* milter's notation [inet:8891@127.0.0.1] */
	uint64_t timeout;	 /* ms, libmilter's I/O timeout [2h] */
	uint64_t backlog;	 /* listen(2) backlog [128] */
	const char *socket_mode; /* octal text, unix sockets [0660] */
	unsigned mode;		 /* socket_mode parsed */
	bool configured;	 /* the block was present */
};

void milter_settings_defaults(struct milter_settings *m);

/* The `milter { ... }` block; obj is the struct milter_settings. */
pst_conf_block_fn milter_conf_block;

/*
 * Is spec a socket in milter's notation: "inet:PORT@HOST" (HOST an IPv4
 * address or a name), "inet6:PORT@HOST" (an IPv6 address or a name),
 * "unix:/absolute/path" or "local:/absolute/path"?  A missing @HOST
 * means every address, as libmilter reads it.  0, or -1 with a static
 * *error_r saying what is wrong.
 */
int milter_socket_check(const char *spec, const char **error_r);

#endif
