/*
 * dns_test.c - helpers shared by the DNS tests (see dns_test.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "dns.h"
#include "dns_test.h"

double
dns_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

const char *
dns_test_rr_text(struct pst_arena *arena, enum pst_dns_type type,
		 const struct pst_dns_rr *rr)
{
	char buf[INET6_ADDRSTRLEN];
	struct pst_buf b;
	const char *out;

	switch (type) {
	case PST_DNS_A:
		return pst_arena_strdup(
			arena, inet_ntop(AF_INET, &rr->a, buf, sizeof(buf)));
	case PST_DNS_AAAA:
		return pst_arena_strdup(arena, inet_ntop(AF_INET6, &rr->aaaa,
							 buf, sizeof(buf)));
	case PST_DNS_MX:
		return pst_arena_printf(arena, "%u %s", rr->mx.pref,
					rr->mx.host);
	case PST_DNS_PTR:
		return rr->ptr;
	case PST_DNS_TXT:
		pst_buf_init(&b, 0);
		for (size_t i = 0; i < rr->txt.len; i++) {
			unsigned char c = (unsigned char)rr->txt.data[i];

			if (c < 0x20 || c >= 0x7f || c == '\\')
				pst_buf_printf(&b, "\\x%02x", c);
			else
				pst_buf_append_byte(&b, (char)c);
		}
		/* the text is NUL-terminated after its length, too */
		assert_int_equal(rr->txt.data[rr->txt.len], '\0');
		out = pst_arena_strdup(arena, b.data ? b.data : "");
		pst_buf_free(&b);
		return out;
	}
	return "?";
}

int
dns_test_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *
dns_test_answer_text(struct pst_arena *arena, const struct pst_dns_answer *a)
{
	const char **v = pst_arena_calloc(arena, a->n + 1, sizeof(*v));
	struct pst_buf b;
	const char *out;

	assert_non_null(v);
	for (size_t i = 0; i < a->n; i++)
		v[i] = dns_test_rr_text(arena, a->type, &a->rr[i]);
	qsort(v, a->n, sizeof(*v), dns_test_cmp_str);
	pst_buf_init(&b, 0);
	for (size_t i = 0; i < a->n; i++)
		pst_buf_printf(&b, "%s%s", i ? " | " : "", v[i]);
	out = pst_arena_strdup(arena, b.data ? b.data : "");
	pst_buf_free(&b);
	return out;
}

int
dns_test_udp_socket(unsigned *port_r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port_r = ntohs(sin.sin_port);
	return fd;
}

struct pst_dns *
dns_test_resolver(struct pst_arena *arena, unsigned port, unsigned timeout_ms,
		  const char *anchor)
{
	const char *server = pst_arena_printf(arena, "127.0.0.1:%u", port);
	struct pst_dns_config cfg;
	struct pst_dns *dns = NULL;
	const char *error = NULL;

	pst_dns_config_init(&cfg);
	cfg.nameserver.v = &server;
	cfg.nameserver.n = 1;
	cfg.timeout = timeout_ms;
	if (anchor != NULL) {
		cfg.dnssec = true;
		cfg.trust_anchor = anchor;
	}
	if (pst_dns_new(arena, &cfg, &dns, &error) != 0)
		fail_msg("pst_dns_new: %s", error);
	return dns;
}

static char tmpdir[] = "/tmp/test_dns.XXXXXX";
static bool tmpdir_made;

int
dns_test_tmpdir_make(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	tmpdir_made = true;
	return chmod(tmpdir, 0755);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
dns_test_tmpdir_remove(void)
{
	if (tmpdir_made)
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir_made = false;
}

const char *
dns_test_tmpdir(void)
{
	return tmpdir;
}

const char *
dns_test_tmp_file(struct pst_arena *arena, const char *name,
		  const char *content)
{
	const char *path = pst_arena_printf(arena, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	return path;
}
