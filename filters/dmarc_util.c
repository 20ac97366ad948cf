/*
 * dmarc_util.c - the pure parts of the dmarc filter: the public suffix
 * list and organizational domains, identifier alignment, the author
 * domain of the From field, choosing and reading the policy record,
 * pct.
 *
 * Organizational domains and alignment are computed here rather than by
 * libopendmarc: measured on Debian 12 (libopendmarc 1.4.2 with
 * /usr/share/publicsuffix/public_suffix_list.dat), its list lookup
 * ignores wildcard rules (foo.bar.ck -> bar.ck), private-section
 * suffixes (x.github.io -> github.io, so x.github.io and y.github.io
 * "align"), upper case (EXAMPLE.COM -> "") and names under an unlisted
 * TLD (postern.test -> ""), and its strict alignment accepts
 * a.example.com against b.example.com.  libopendmarc still reads the
 * policy record (dmarc_record_parse).
 *
 * Thread-safe; a loaded list is read-only.  Results live on the caller's
 * arena.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <opendmarc/dmarc.h>

#include "arena.h"
#include "buf.h"
#include "spf_dmarc.h"

/* ---- the public suffix list ---- */

#define DMARC_PSL_NORMAL 0x1u
#define DMARC_PSL_WILDCARD 0x2u /* "*.rule": stored as "rule" */
#define DMARC_PSL_EXCEPTION 0x4u

#define DMARC_PSL_FILE_MAX (16u << 20)
#define DMARC_PSL_RULES_MAX 1000000u
#define DMARC_NAME_MAX 253
#define DMARC_LABEL_MAX 63
#define DMARC_LABELS_MAX 128

struct dmarc_psl_entry {
	const char *name; /* NULL: free slot */
	unsigned kinds;
};

struct dmarc_psl {
	struct dmarc_psl_entry *slots;
	size_t mask; /* slots - 1, a power of two minus one */
	size_t count;
};

static uint64_t
dmarc_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct dmarc_psl_entry *
dmarc_psl_slot(const struct dmarc_psl *psl, const char *name, size_t len)
{
	size_t i = (size_t)dmarc_hash(name, len) & psl->mask;

	/* The table is at most half full: a free slot always ends this. */
	for (;;) {
		struct dmarc_psl_entry *e = &psl->slots[i];

		if (e->name == NULL ||
		    (strlen(e->name) == len && memcmp(e->name, name, len) == 0))
			return e;
		i = (i + 1) & psl->mask;
	}
}

static unsigned
dmarc_psl_kinds(const struct dmarc_psl *psl, const char *name)
{
	const struct dmarc_psl_entry *e;

	if (psl == NULL || psl->count == 0)
		return 0;
	e = dmarc_psl_slot(psl, name, strlen(name));
	return e->name != NULL ? e->kinds : 0;
}

/* One rule line (already without comment and white space). */
static int
dmarc_psl_add(struct dmarc_psl *psl, struct pst_arena *arena, const char *line,
	      size_t len)
{
	unsigned kind = DMARC_PSL_NORMAL;
	struct dmarc_psl_entry *e;
	char *name;

	if (len >= 2 && line[0] == '*' && line[1] == '.') {
		kind = DMARC_PSL_WILDCARD;
		line += 2;
		len -= 2;
	} else if (len >= 1 && line[0] == '!') {
		kind = DMARC_PSL_EXCEPTION;
		line++;
		len--;
	}
	while (len > 0 && line[len - 1] == '.')
		len--;
	if (len == 0 || len > DMARC_NAME_MAX)
		return 0; /* not a rule we can match: skipped */
	name = pst_arena_strndup(arena, line, len);
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] - 'A' + 'a');
	e = dmarc_psl_slot(psl, name, len);
	if (e->name == NULL) {
		e->name = name;
		psl->count++;
	}
	e->kinds |= kind;
	return 0;
}

int
dmarc_psl_parse(const char *text, size_t len, struct dmarc_psl **psl_r,
		struct pst_arena *arena, const char **error_r)
{
	struct dmarc_psl *psl;
	size_t lines = 0, slots = 16;

	*psl_r = NULL;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n')
			lines++;
	if (lines + 1 > DMARC_PSL_RULES_MAX) {
		*error_r = "too many lines for a public suffix list";
		return -1;
	}
	while (slots < 2 * (lines + 1))
		slots *= 2;
	psl = pst_arena_zalloc(arena, sizeof(*psl));
	if (psl == NULL ||
	    (psl->slots = pst_arena_calloc(arena, slots,
					   sizeof(*psl->slots))) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	psl->mask = slots - 1;
	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos, w = 0;

		pos += n + (nl != NULL);
		/* A rule ends at the first white space; "//" is a comment. */
		while (w < n && line[w] != ' ' && line[w] != '\t' &&
		       line[w] != '\r')
			w++;
		if (w == 0 || (w >= 2 && line[0] == '/' && line[1] == '/'))
			continue;
		if (dmarc_psl_add(psl, arena, line, w) < 0) {
			*error_r = "out of memory";
			return -1;
		}
	}
	if (psl->count == 0) {
		*error_r = "no rules in the public suffix list";
		return -1;
	}
	*psl_r = psl;
	return 0;
}

int
dmarc_psl_load(const char *path, struct dmarc_psl **psl_r,
	       struct pst_arena *arena, const char **error_r)
{
	FILE *fp = fopen(path, "r");
	struct pst_buf b;
	char chunk[65536];
	size_t n;
	int rc;

	*psl_r = NULL;
	if (fp == NULL) {
		*error_r = pst_arena_printf(arena, "%s: %s", path,
					    strerror(errno));
		return -1;
	}
	pst_buf_init(&b, DMARC_PSL_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (pst_buf_append(&b, chunk, n) < 0) {
			fclose(fp);
			pst_buf_free(&b);
			*error_r = pst_arena_printf(
				arena, "%s: larger than 16M", path);
			return -1;
		}
	}
	if (ferror(fp)) {
		fclose(fp);
		pst_buf_free(&b);
		*error_r = pst_arena_printf(arena, "%s: read error", path);
		return -1;
	}
	fclose(fp);
	rc = dmarc_psl_parse(b.data != NULL ? b.data : "", b.len, psl_r, arena,
			     error_r);
	if (rc < 0)
		*error_r = pst_arena_printf(arena, "%s: %s", path, *error_r);
	pst_buf_free(&b);
	return rc;
}

size_t
dmarc_psl_count(const struct dmarc_psl *psl)
{
	return psl != NULL ? psl->count : 0;
}

/* domain in lower case without a final dot, and where its labels start;
 * NULL when it is not a name. */
static char *
dmarc_name_split(struct pst_arena *arena, const char *domain, size_t *starts,
		 size_t *nlabels_r)
{
	size_t len = domain != NULL ? strlen(domain) : 0, n = 0, label = 0;
	char *s;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > DMARC_NAME_MAX)
		return NULL;
	s = pst_arena_strndup(arena, domain, len);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || n >= DMARC_LABELS_MAX)
				return NULL;
			starts[n++] = i - label;
			label = 0;
			continue;
		}
		if (++label > DMARC_LABEL_MAX)
			return NULL;
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
	}
	*nlabels_r = n;
	return s;
}

const char *
dmarc_org_domain(const struct dmarc_psl *psl, const char *domain,
		 struct pst_arena *arena)
{
	size_t starts[DMARC_LABELS_MAX], n = 0, suffix;
	long exception = -1, longest = -1;
	char *s = dmarc_name_split(arena, domain, starts, &n);

	if (s == NULL)
		return NULL;
	/* The suffixes from the longest: the first rule that matches is
	 * the one with the most labels; an exception rule wins over any. */
	for (size_t i = 0; i < n; i++) {
		unsigned k = dmarc_psl_kinds(psl, s + starts[i]);

		if ((k & DMARC_PSL_EXCEPTION) && exception < 0)
			exception = (long)i;
		if ((k & DMARC_PSL_NORMAL) && longest < 0)
			longest = (long)i;
		if (i + 1 < n && longest < 0 &&
		    (dmarc_psl_kinds(psl, s + starts[i + 1]) &
		     DMARC_PSL_WILDCARD))
			longest = (long)i;
	}
	if (exception >= 0)
		suffix = (size_t)exception + 1; /* the rule minus a label */
	else if (longest >= 0)
		suffix = (size_t)longest;
	else
		suffix = n - 1; /* the implicit rule "*" */
	if (suffix == 0 || suffix > n)
		return NULL; /* the name is a public suffix itself */
	return s + starts[suffix - 1];
}

bool
dmarc_aligned(const struct dmarc_psl *psl, const char *a, const char *b,
	      bool strict, struct pst_arena *arena)
{
	size_t starts[DMARC_LABELS_MAX], n;
	const char *na = dmarc_name_split(arena, a, starts, &n);
	const char *nb = dmarc_name_split(arena, b, starts, &n);
	const char *oa, *ob;

	if (na == NULL || nb == NULL)
		return false;
	if (strcmp(na, nb) == 0)
		return true;
	if (strict)
		return false;
	oa = dmarc_org_domain(psl, na, arena);
	ob = dmarc_org_domain(psl, nb, arena);
	return oa != NULL && ob != NULL && strcmp(oa, ob) == 0;
}

bool
dmarc_dkim_aligned(const struct dmarc_psl *psl, const char *from_domain,
		   const char *list, bool strict, struct pst_arena *arena)
{
	const char *p = list;
	unsigned seen = 0;

	if (list == NULL)
		return false;
	while (*p != '\0' && seen < 256) {
		size_t len;
		const char *d;

		while (*p == ' ')
			p++;
		len = strcspn(p, " ");
		if (len == 0)
			break;
		seen++;
		d = pst_arena_strndup(arena, p, len);
		if (d != NULL &&
		    dmarc_aligned(psl, from_domain, d, strict, arena))
			return true;
		p += len;
	}
	return false;
}

/* ---- the From field ---- */

#define DMARC_FROM_MAILBOXES_MAX 1000
#define DMARC_COMMENT_DEPTH_MAX 32
#define DMARC_SPEC_MAX 1024

const char *
dmarc_from_status_name(enum dmarc_from_status status)
{
	switch (status) {
	case DMARC_FROM_OK:
		return "ok";
	case DMARC_FROM_NONE:
		return "none";
	case DMARC_FROM_MULTIPLE:
		return "multiple";
	case DMARC_FROM_INVALID:
	default:
		return "invalid";
	}
}

/* The domain of an addr-spec from which comments, white space and the
 * content of quoted strings are gone ('@' in quotes became 'q'): what
 * follows the last '@', checked and in lower case; NULL if none. */
static const char *
dmarc_spec_domain(struct pst_arena *arena, const char *spec, size_t len)
{
	const char *at = NULL;
	size_t dlen, label = 0;
	char *d;

	for (size_t i = 0; i < len; i++)
		if (spec[i] == '@')
			at = spec + i;
	if (at == NULL || at == spec)
		return NULL;
	dlen = len - (size_t)(at + 1 - spec);
	if (dlen > 0 && at[dlen] == '.')
		dlen--;
	if (dlen == 0 || dlen > DMARC_NAME_MAX)
		return NULL;
	d = pst_arena_strndup(arena, at + 1, dlen);
	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < dlen; i++) {
		char c = d[i];

		if (c == '.') {
			if (label == 0)
				return NULL;
			label = 0;
			continue;
		}
		if (++label > DMARC_LABEL_MAX)
			return NULL;
		if (c >= 'A' && c <= 'Z')
			d[i] = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '_'))
			return NULL; /* address literals, anything else */
	}
	return label > 0 ? d : NULL;
}

struct dmarc_from_state {
	struct pst_arena *arena;
	struct pst_buf plain, angle;
	bool had_angle, overflow;
	const char *domain; /* the first mailbox's */
	unsigned mailboxes;
	bool invalid, differ;
};

/* A mailbox ends (',' or ';' or the end of the field). */
static void
dmarc_from_mailbox_end(struct dmarc_from_state *st)
{
	struct pst_buf *spec = st->had_angle ? &st->angle : &st->plain;
	const char *d;

	if (st->overflow) {
		st->invalid = true;
	} else if (spec->len > 0 || st->had_angle) {
		st->mailboxes++;
		d = dmarc_spec_domain(st->arena, spec->data ? spec->data : "",
				      spec->len);
		if (d == NULL)
			st->invalid = true;
		else if (st->domain == NULL)
			st->domain = d;
		else if (strcmp(st->domain, d) != 0)
			st->differ = true;
	}
	pst_buf_reset(&st->plain);
	pst_buf_reset(&st->angle);
	st->had_angle = st->overflow = false;
}

static void
dmarc_from_put(struct dmarc_from_state *st, bool in_angle, char c)
{
	if (pst_buf_append_byte(in_angle ? &st->angle : &st->plain, c) < 0)
		st->overflow = true;
}

/* One From field value (unfolded or not). */
static void
dmarc_from_field(struct dmarc_from_state *st, const char *v, size_t len)
{
	bool quoted = false, in_angle = false;
	unsigned depth = 0;

	for (size_t i = 0; i < len && st->mailboxes < DMARC_FROM_MAILBOXES_MAX;
	     i++) {
		char c = v[i];

		if (quoted) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				quoted = false;
			else
				dmarc_from_put(st, in_angle, 'q');
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			if (depth > DMARC_COMMENT_DEPTH_MAX)
				st->invalid = true;
			continue;
		}
		switch (c) {
		case '(':
			depth = 1;
			break;
		case '"':
			quoted = true;
			dmarc_from_put(st, in_angle, 'q');
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			break;
		case '<':
			/* What came before was a display name. */
			if (in_angle || st->had_angle)
				st->invalid = true;
			in_angle = true;
			st->had_angle = true;
			/* a display name of any length is no address */
			pst_buf_reset(&st->plain);
			pst_buf_reset(&st->angle);
			st->overflow = false;
			break;
		case '>':
			if (!in_angle)
				st->invalid = true;
			in_angle = false;
			break;
		case ':':
			/* a group's name (obsolete in From) */
			if (!in_angle)
				pst_buf_reset(&st->plain);
			else
				dmarc_from_put(st, true, c);
			break;
		case ',':
		case ';':
			if (in_angle) {
				dmarc_from_put(st, true, c);
				break;
			}
			dmarc_from_mailbox_end(st);
			break;
		default:
			if (in_angle || !st->had_angle)
				dmarc_from_put(st, in_angle, c);
			break;
		}
	}
	if (quoted || depth > 0 || in_angle)
		st->invalid = true;
	dmarc_from_mailbox_end(st);
}

/* Is line[0..len) the start of a field called name (any case, white
 * space allowed before the colon)?  Sets *value_r past the colon. */
static bool
dmarc_field_is(const char *line, size_t len, const char *name, size_t *value_r)
{
	size_t n = strlen(name), i;

	if (len < n + 1 || strncasecmp(line, name, n) != 0)
		return false;
	for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i >= len || line[i] != ':')
		return false;
	*value_r = i + 1;
	return true;
}

enum dmarc_from_status
dmarc_from_domain(const char *header, size_t len, struct pst_arena *arena,
		  const char **domain_r)
{
	struct dmarc_from_state st;
	unsigned fields = 0;
	size_t pos = 0;

	*domain_r = NULL;
	memset(&st, 0, sizeof(st));
	st.arena = arena;
	pst_buf_init(&st.plain, DMARC_SPEC_MAX);
	pst_buf_init(&st.angle, DMARC_SPEC_MAX);
	while (pos < len) {
		const char *line = header + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
		size_t end, value;

		if (n == 0 || (n == 1 && line[0] == '\r'))
			break; /* the blank line: the body follows */
		/* the field with its continuation lines */
		end = pos + n + (nl != NULL);
		while (end < len &&
		       (header[end] == ' ' || header[end] == '\t')) {
			const char *more =
				memchr(header + end, '\n', len - end);

			end = more != NULL ? (size_t)(more - header) + 1 : len;
		}
		if (dmarc_field_is(line, end - pos, "From", &value)) {
			fields++;
			if (fields == 1)
				dmarc_from_field(&st, line + value,
						 end - pos - value);
		}
		pos = end;
	}
	pst_buf_free(&st.plain);
	pst_buf_free(&st.angle);
	if (fields == 0)
		return DMARC_FROM_NONE;
	if (fields > 1 || st.differ)
		return DMARC_FROM_MULTIPLE;
	if (st.invalid || st.domain == NULL)
		return DMARC_FROM_INVALID;
	*domain_r = st.domain;
	return DMARC_FROM_OK;
}

/* ---- the policy record ---- */

const char *
dmarc_policy_name(enum dmarc_policy policy)
{
	switch (policy) {
	case DMARC_POLICY_QUARANTINE_:
		return "quarantine";
	case DMARC_POLICY_REJECT_:
		return "reject";
	case DMARC_POLICY_NONE_:
	default:
		return "none";
	}
}

/* Does txt (len bytes) start with the version tag "v=DMARC1"? */
static bool
dmarc_record_is_dmarc(const char *txt, size_t len)
{
	size_t i = 0;

	if (txt == NULL || memchr(txt, '\0', len) != NULL)
		return false;
	if (len < 1 || txt[0] != 'v')
		return false;
	for (i = 1; i < len && (txt[i] == ' ' || txt[i] == '\t'); i++)
		;
	if (i >= len || txt[i++] != '=')
		return false;
	for (; i < len && (txt[i] == ' ' || txt[i] == '\t'); i++)
		;
	if (len - i < 6 || memcmp(txt + i, "DMARC1", 6) != 0)
		return false;
	for (i += 6; i < len && (txt[i] == ' ' || txt[i] == '\t'); i++)
		;
	return i == len || txt[i] == ';';
}

int
dmarc_record_pick(const char *const *txt, const size_t *len, size_t n)
{
	int found = -1;

	for (size_t i = 0; i < n; i++) {
		if (!dmarc_record_is_dmarc(txt[i], len[i]))
			continue;
		if (found >= 0)
			return -2;
		found = (int)i;
	}
	return found;
}

static enum dmarc_policy
dmarc_policy_of(int letter)
{
	switch (letter) {
	case DMARC_RECORD_P_REJECT:
		return DMARC_POLICY_REJECT_;
	case DMARC_RECORD_P_QUARANTINE:
		return DMARC_POLICY_QUARANTINE_;
	default:
		return DMARC_POLICY_NONE_;
	}
}

int
dmarc_record_parse(const char *record, const char *from_domain,
		   const char *org_domain, struct dmarc_record *rec_r,
		   const char **error_r)
{
	DMARC_POLICY_T *pctx;
	int rc, p = 0, sp = 0, adkim = 0, aspf = 0, pct = 100;

	memset(rec_r, 0, sizeof(*rec_r));
	rec_r->pct = 100;
	/* libopendmarc's own buffer is BUFSIZ; nothing real is that long */
	if (record == NULL || strlen(record) > 4096) {
		*error_r = "record too long";
		return -1;
	}
	/* The address only matters for reports, which we do not send. */
	pctx = opendmarc_policy_connect_init((u_char *)"0.0.0.0", 0);
	if (pctx == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	rc = opendmarc_policy_store_dmarc(pctx, (u_char *)record,
					  (u_char *)from_domain,
					  (u_char *)org_domain);
	if (rc != DMARC_PARSE_OKAY) {
		*error_r = opendmarc_policy_status_to_str(rc);
		opendmarc_policy_connect_shutdown(pctx);
		return -1;
	}
	opendmarc_policy_fetch_p(pctx, &p);
	opendmarc_policy_fetch_sp(pctx, &sp);
	opendmarc_policy_fetch_adkim(pctx, &adkim);
	opendmarc_policy_fetch_aspf(pctx, &aspf);
	opendmarc_policy_fetch_pct(pctx, &pct);
	opendmarc_policy_connect_shutdown(pctx);
	rec_r->p = dmarc_policy_of(p);
	rec_r->has_sp = sp != DMARC_RECORD_P_UNSPECIFIED;
	rec_r->sp = rec_r->has_sp ? dmarc_policy_of(sp) : rec_r->p;
	rec_r->adkim_strict = adkim == DMARC_RECORD_A_STRICT;
	rec_r->aspf_strict = aspf == DMARC_RECORD_A_STRICT;
	rec_r->pct = pct >= 0 && pct <= 100 ? (unsigned)pct : 100;
	return 0;
}

enum dmarc_policy
dmarc_policy_applied(const struct dmarc_record *rec, bool from_org_domain)
{
	return from_org_domain && rec->has_sp ? rec->sp : rec->p;
}

enum dmarc_policy
dmarc_disposition(enum dmarc_policy policy, unsigned pct, unsigned roll)
{
	if (roll < pct)
		return policy;
	switch (policy) {
	case DMARC_POLICY_REJECT_:
		return DMARC_POLICY_QUARANTINE_;
	default:
		return DMARC_POLICY_NONE_;
	}
}
