/*
 * attachment_magic.c - sniffed types through libmagic.  One magic_t for
 * the process, loaded once, used under a mutex: libmagic handles are
 * not thread-safe, and loading a database per worker costs megabytes
 * each.  MAGIC_NO_CHECK_COMPRESS keeps libmagic from decompressing
 * (attachment_archive.c does, within budgets).
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include <magic.h>

#include "attachment.h"

static pthread_once_t attachment_magic_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t attachment_magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t attachment_magic_cookie;
static const char *attachment_magic_error;

static void
attachment_magic_load(void)
{
	magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS |
			       MAGIC_ERROR);

	if (m == NULL) {
		attachment_magic_error = "libmagic: out of memory";
		return;
	}
	if (magic_load(m, NULL) != 0) {
		attachment_magic_error = "libmagic: cannot load its database";
		magic_close(m);
		return;
	}
	attachment_magic_cookie = m;
}

int
attachment_magic_init(const char **error_r)
{
	pthread_once(&attachment_magic_once, attachment_magic_load);
	if (attachment_magic_cookie == NULL) {
		*error_r = attachment_magic_error;
		return -1;
	}
	return 0;
}

const char *
attachment_magic_type(struct pst_arena *arena, const void *buf, size_t len)
{
	const char *t = NULL, *err;
	char *copy;

	if (len == 0)
		return "";
	if (attachment_magic_init(&err) < 0)
		return "";
	pthread_mutex_lock(&attachment_magic_lock);
	t = magic_buffer(attachment_magic_cookie, buf, len);
	copy = pst_arena_strdup(arena, t != NULL ? t : "");
	pthread_mutex_unlock(&attachment_magic_lock);
	return copy;
}
