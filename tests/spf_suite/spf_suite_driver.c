/*
 * spf_suite_driver.c - runs spf_check_mailfrom() over an in-memory zone
 * for tests/spf_suite/run.py, which turns the YAML test suite into a
 * line protocol on stdin:
 *
 *   ZONE                        forget the zone
 *   RR name type [data]         add a record; type A, AAAA, MX, PTR,
 *                               TXT, CNAME or TIMEOUT
 *   CHECK id ip helo mailfrom   run one check
 *
 * Names, TXT data, MX and PTR hosts, helo and mailfrom are hex-encoded
 * bytes ("-" for the empty string); addresses are text; MX data is
 * "pref host".  For each CHECK it prints "id result explanation
 * problem", the last two hex-encoded or "-".
 *
 * The resolver: a query returns the records of that type given before a
 * TIMEOUT entry of the name, and tempfails when there are none and the
 * name has TIMEOUT; a CNAME is followed (a chain of more than 8 is a
 * DNS error); a name with entries but none of the type is NODATA, an
 * unknown name NXDOMAIN.  Names compare without case and without a
 * trailing dot.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "spf.h"

#define MAX_CNAME_HOPS 8
#define T_CNAME 5
#define T_TIMEOUT (-1)

struct entry {
	char *name;
	size_t name_len;
	int type;
	struct spf_dns_rr rr;
};

struct zone {
	struct pst_arena *arena;
	struct entry *entries;
	size_t n, cap;
};

static void
die(const char *what, const char *line)
{
	fprintf(stderr, "spf_suite_driver: %s: %s\n", what, line);
	exit(2);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode hex (or "-") into a NUL-terminated copy on arena. */
static char *
unhex(struct pst_arena *arena, const char *s, size_t *len_r)
{
	size_t n = strcmp(s, "-") == 0 ? 0 : strlen(s);
	char *out;

	if (n % 2 != 0)
		die("odd hex length", s);
	out = pst_arena_alloc(arena, n / 2 + 1);
	if (out == NULL)
		die("out of memory", s);
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			die("bad hex", s);
		out[i / 2] = (char)(hi << 4 | lo);
	}
	out[n / 2] = '\0';
	if (len_r != NULL)
		*len_r = n / 2;
	return out;
}

static void
print_hex(const char *s)
{
	if (s == NULL || *s == '\0') {
		fputs("-", stdout);
		return;
	}
	for (; *s != '\0'; s++)
		printf("%02x", (unsigned char)*s);
}

static size_t
bare_len(const char *name, size_t len)
{
	return len > 0 && name[len - 1] == '.' ? len - 1 : len;
}

static bool
same_name(const struct entry *e, const char *name, size_t len)
{
	size_t a = bare_len(e->name, e->name_len), b = bare_len(name, len);

	return a == b && strncasecmp(e->name, name, a) == 0;
}

static int
type_of(const char *word)
{
	static const struct {
		const char *name;
		int type;
	} types[] = {
		{ "A", SPF_DNS_A },	  { "AAAA", SPF_DNS_AAAA },
		{ "MX", SPF_DNS_MX },	  { "PTR", SPF_DNS_PTR },
		{ "TXT", SPF_DNS_TXT },	  { "CNAME", T_CNAME },
		{ "TIMEOUT", T_TIMEOUT },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(word, types[i].name) == 0)
			return types[i].type;
	die("unknown type", word);
	return 0;
}

static void
zone_add(struct zone *z, char *args)
{
	char *name = strtok(args, " "), *type = strtok(NULL, " ");
	char *d1 = strtok(NULL, " "), *d2 = strtok(NULL, " ");
	struct entry *e;

	if (name == NULL || type == NULL)
		die("bad RR line", args);
	if (z->n == z->cap) {
		size_t cap = z->cap != 0 ? z->cap * 2 : 64;
		struct entry *grown = realloc(z->entries, cap * sizeof(*e));

		if (grown == NULL)
			die("out of memory", name);
		z->entries = grown;
		z->cap = cap;
	}
	e = &z->entries[z->n++];
	memset(e, 0, sizeof(*e));
	e->name = unhex(z->arena, name, &e->name_len);
	e->type = type_of(type);
	switch (e->type) {
	case SPF_DNS_A:
	case SPF_DNS_AAAA:
		if (d1 == NULL ||
		    inet_pton(e->type == SPF_DNS_A ? AF_INET : AF_INET6, d1,
			      e->rr.addr) != 1)
			die("bad address", type);
		break;
	case SPF_DNS_MX:
		if (d1 == NULL || d2 == NULL)
			die("bad MX", name);
		e->rr.pref = (unsigned)strtoul(d1, NULL, 10);
		e->rr.text = unhex(z->arena, d2, &e->rr.len);
		break;
	case T_TIMEOUT:
		break;
	default:
		if (d1 == NULL)
			die("missing data", type);
		e->rr.text = unhex(z->arena, d1, &e->rr.len);
		break;
	}
}

static int
zone_query(void *ctx, struct pst_arena *arena, const char *qname, int type,
	   struct spf_dns_answer *out)
{
	struct zone *z = ctx;
	const char *name = qname;
	size_t len = strlen(qname);

	memset(out, 0, sizeof(*out));
	for (int hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
		const struct entry *cname = NULL;
		bool exists = false, timeout = false;
		size_t count = 0;

		for (size_t i = 0; i < z->n; i++) {
			const struct entry *e = &z->entries[i];

			if (!same_name(e, name, len))
				continue;
			exists = true;
			if (e->type == T_TIMEOUT) {
				timeout = true;
				break;
			}
			if (e->type == type)
				count++;
			else if (e->type == T_CNAME)
				cname = e;
		}
		if (count == 0 && timeout)
			return SPF_DNS_TEMPFAIL;
		if (count == 0 && cname != NULL) {
			name = cname->rr.text;
			len = cname->rr.len;
			continue;
		}
		if (count == 0)
			return exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN;
		out->rr = pst_arena_calloc(arena, count, sizeof(*out->rr));
		if (out->rr == NULL)
			return SPF_DNS_TEMPFAIL;
		for (size_t i = 0; i < z->n && out->count < count; i++) {
			const struct entry *e = &z->entries[i];

			if (same_name(e, name, len) && e->type == type)
				out->rr[out->count++] = e->rr;
		}
		return SPF_DNS_OK;
	}
	return SPF_DNS_TEMPFAIL; /* CNAME loop */
}

static void
check(struct zone *z, char *args)
{
	char *id = strtok(args, " "), *ip = strtok(NULL, " ");
	char *helo = strtok(NULL, " "), *from = strtok(NULL, " ");
	struct pst_arena *arena = pst_arena_new(4096);
	struct spf_dns dns = { .ctx = z, .query = zone_query };
	struct spf_request req = { 0 };
	struct spf_response resp;

	if (id == NULL || ip == NULL || helo == NULL || from == NULL)
		die("bad CHECK line", args);
	if (arena == NULL)
		die("out of memory", id);
	if (spf_addr_parse(ip, &req.ip) < 0)
		die("bad client address", ip);
	req.helo = unhex(arena, helo, NULL);
	req.sender = unhex(arena, from, NULL);
	req.receiver = "receiver.example.net";
	req.default_exp = "DEFAULT";
	req.flags = SPF_F_EXPLAIN;
	spf_check_mailfrom(&req, &dns, arena, &resp);
	printf("%s %s ", id, spf_result_name(resp.result));
	print_hex(resp.explanation);
	putchar(' ');
	print_hex(resp.problem);
	putchar('\n');
	fflush(stdout);
	pst_arena_free(&arena);
}

int
main(void)
{
	struct zone z = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	z.arena = pst_arena_new(65536);
	if (z.arena == NULL)
		die("out of memory", "zone");
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (strcmp(line, "ZONE") == 0) {
			pst_arena_reset(z.arena);
			z.n = 0;
		} else if (strncmp(line, "RR ", 3) == 0) {
			zone_add(&z, line + 3);
		} else if (strncmp(line, "CHECK ", 6) == 0) {
			check(&z, line + 6);
		} else if (n > 0) {
			die("unknown command", line);
		}
	}
	free(line);
	free(z.entries);
	pst_arena_free(&z.arena);
	return 0;
}
