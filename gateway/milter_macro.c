/*
 * milter_macro.c - what the MTA says, as the chain reads it: paths,
 * the client's name, TLS from the macros, which MTA it is (see
 * milter.h).  Pure functions; thread-safe.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "milter.h"

const char *
milter_macro_path(struct pst_arena *a, const char *arg)
{
	size_t len;

	if (arg == NULL)
		return "";
	while (*arg == ' ')
		arg++;
	len = strlen(arg);
	if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>')
		return pst_arena_strndup(a, arg + 1, len - 2);
	return pst_arena_strdup(a, arg);
}

void
milter_macro_client_name(char *dst, size_t size, const char *hostname)
{
	/* "[192.0.2.7]" is an MTA's way of saying it has no name */
	if (hostname == NULL || hostname[0] == '\0' || hostname[0] == '[')
		hostname = "unknown";
	snprintf(dst, size, "%s", hostname);
	for (char *p = dst; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?'; /* a DNS name never has these */
}

bool
milter_macro_tls(char *dst, size_t size, const char *version,
		 const char *cipher, const char *bits)
{
	if (version == NULL || version[0] == '\0') {
		dst[0] = '\0';
		return false;
	}
	if (cipher != NULL && cipher[0] == '\0')
		cipher = NULL;
	if (bits != NULL && bits[0] == '\0')
		bits = NULL;
	snprintf(dst, size, "%s%s%s%s%s%s", version,
		 cipher ? " with cipher " : "", cipher ? cipher : "",
		 bits ? " (" : "", bits ? bits : "", bits ? " bits)" : "");
	return true;
}

bool
milter_macro_hides_received(const char *v)
{
	return v != NULL && strncmp(v, "Postfix", 7) == 0;
}
