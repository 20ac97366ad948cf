/*
 * milter_conf.c - the `milter {}` block (see milter_conf.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "milter_conf.h"

#define MILTER_HOUR ((uint64_t)3600 * 1000)

void
milter_settings_defaults(struct milter_settings *m)
{
	memset(m, 0, sizeof(*m));
	m->socket = "inet:8891@127.0.0.1";
	/* libmilter's own default (7210 s): Postfix keeps a connection
	 * open across many messages. */
	m->timeout = 2 * MILTER_HOUR;
	m->backlog = 128;
	m->socket_mode = "0660";
	m->mode = 0660;
}

static const struct pst_conf_field milter_fields[] = {
	{ .name = "socket",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct milter_settings, socket) },
	{ .name = "timeout",
	  .type = PST_CONF_T_DURATION,
	  .min = 1000,
	  .max = 24 * MILTER_HOUR,
	  .offset = offsetof(struct milter_settings, timeout) },
	{ .name = "backlog",
	  .type = PST_CONF_T_UINT,
	  .min = 1,
	  .max = 65535,
	  .offset = offsetof(struct milter_settings, backlog) },
	{ .name = "socket_mode",
	  .type = PST_CONF_T_STRING,
	  .offset = offsetof(struct milter_settings, socket_mode) },
	{ .name = NULL },
};

static int
milter_port_check(const char *p, size_t len)
{
	unsigned long port = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		port = port * 10 + (unsigned long)(p[i] - '0');
	}
	return port >= 1 && port <= 65535 ? 0 : -1;
}

/* A host name as libmilter would resolve it: letters, digits, '-', '.'. */
static bool
milter_name_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

int
milter_socket_check(const char *spec, const char **error_r)
{
	const char *colon, *at, *host;
	unsigned char addr[16];
	bool v6;

	colon = spec != NULL ? strchr(spec, ':') : NULL;
	if (colon == NULL) {
		*error_r = "want inet:PORT@HOST, inet6:PORT@HOST or "
			   "unix:/path";
		return -1;
	}
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		const char *path = colon + 1;

		if (path[0] != '/') {
			*error_r = "a unix socket needs an absolute path";
			return -1;
		}
		if (strlen(path) >=
		    sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*error_r = "unix socket path too long";
			return -1;
		}
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0)
		v6 = false;
	else if (strncmp(spec, "inet6:", 6) == 0)
		v6 = true;
	else {
		*error_r = "unknown socket type (want inet:, inet6: or unix:)";
		return -1;
	}
	at = strchr(colon + 1, '@');
	if (milter_port_check(colon + 1, at != NULL ? (size_t)(at - colon - 1)
						    : strlen(colon + 1)) < 0) {
		*error_r = "port must be 1-65535";
		return -1;
	}
	if (at == NULL)
		return 0; /* every address */
	host = at + 1;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) == 1)
		return 0;
	if (v6 && inet_pton(AF_INET, host, addr) == 1) {
		*error_r = "an IPv4 address needs inet: (not IPv6)";
		return -1;
	}
	if (host[0] == '[' || strchr(host, ':') != NULL) {
		*error_r = v6 ? "bad IPv6 address (write inet6:PORT@::1, "
				"without brackets)"
			      : "an IPv6 address needs inet6:";
		return -1;
	}
	if (!milter_name_ok(host)) {
		*error_r = "bad host";
		return -1;
	}
	return 0;
}

static int
milter_mode_parse(const char *s, unsigned *mode_r)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '7')
		return -1;
	v = strtoul(s, &end, 8);
	if (*end != '\0' || v > 0777)
		return -1;
	*mode_r = (unsigned)v;
	return 0;
}

int
milter_conf_block(struct pst_arena *arena, const struct pst_conf_node *node,
		  void *obj, const char **error_r)
{
	struct milter_settings *m = obj;
	const char *why = NULL;

	if (pst_conf_bind(arena, node, milter_fields, m, error_r) < 0)
		return -1;
	m->configured = true;
	if (milter_socket_check(m->socket, &why) < 0) {
		*error_r = pst_conf_error(arena, node, "milter.socket '%s': %s",
					  m->socket, why);
		return -1;
	}
	if (milter_mode_parse(m->socket_mode, &m->mode) < 0) {
		*error_r = pst_conf_error(arena, node,
					  "milter.socket_mode '%s': want an "
					  "octal mode such as \"0660\"",
					  m->socket_mode);
		return -1;
	}
	return 0;
}
