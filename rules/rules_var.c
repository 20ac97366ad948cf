/*
 * rules_var.c - the variables a rule can read: name, type, the earliest
 * stage they are known, and "did you mean" hints for typos.
 *
 * The table is constant; thread-safe.
 */
#include "config.h"

#include <string.h>

#include "rules_int.h"

static const char *const auth_results[] = {
	"pass", "fail",	     "softfail",  "neutral",
	"none", "temperror", "permerror", NULL,
};
static const char *const dmarc_policies[] = { "none", "quarantine", "reject",
					      NULL };
static const char *const weekdays[] = { "mon", "tue", "wed", "thu",
					"fri", "sat", "sun", NULL };

#define S RULES_VT_STRING
#define N RULES_VT_NUMBER

/* In enum rules_var order (rules_var_def() indexes it). */
static const struct rules_vardef vars[RULES_VAR__COUNT] = {
	{ "client.ip", RULES_VAR_CLIENT_IP, RULES_VT_IP, false, false,
	  RULES_STAGE_CONNECT, NULL, NULL },
	{ "client.ptr", RULES_VAR_CLIENT_PTR, S, false, false,
	  RULES_STAGE_CONNECT, NULL, NULL },
	/* STARTTLS comes after the first EHLO: known for sure at MAIL. */
	{ "client.tls", RULES_VAR_CLIENT_TLS, RULES_VT_BOOL, false, false,
	  RULES_STAGE_MAIL, NULL, NULL },
	/* The SASL login (XCLIENT LOGIN, the MTA's {auth_authen}): like
	 * STARTTLS, AUTH comes after EHLO. */
	{ "client.login", RULES_VAR_CLIENT_LOGIN, S, false, false,
	  RULES_STAGE_MAIL, NULL, NULL },
	{ "time.hour", RULES_VAR_TIME_HOUR, N, false, false,
	  RULES_STAGE_CONNECT, NULL, NULL },
	{ "time.weekday", RULES_VAR_TIME_WEEKDAY, RULES_VT_RESULT, false, false,
	  RULES_STAGE_CONNECT, weekdays, NULL },
	{ "helo", RULES_VAR_HELO, S, false, false, RULES_STAGE_HELO, NULL,
	  NULL },
	{ "envelope.from", RULES_VAR_FROM, S, false, false, RULES_STAGE_MAIL,
	  NULL, NULL },
	{ "envelope.from.local", RULES_VAR_FROM_LOCAL, S, false, false,
	  RULES_STAGE_MAIL, NULL, NULL },
	{ "envelope.from.domain", RULES_VAR_FROM_DOMAIN, S, false, false,
	  RULES_STAGE_MAIL, NULL, NULL },
	{ "spf", RULES_VAR_SPF, RULES_VT_RESULT, false, false, RULES_STAGE_MAIL,
	  auth_results, NULL },
	{ "envelope.rcpt", RULES_VAR_RCPT, S, true, false, RULES_STAGE_RCPT,
	  NULL, NULL },
	{ "envelope.rcpt.local", RULES_VAR_RCPT_LOCAL, S, true, false,
	  RULES_STAGE_RCPT, NULL, NULL },
	{ "envelope.rcpt.domain", RULES_VAR_RCPT_DOMAIN, S, true, false,
	  RULES_STAGE_RCPT, NULL, NULL },
	{ "header", RULES_VAR_HEADER, S, true, true, RULES_STAGE_MESSAGE, NULL,
	  NULL },
	{ "header.count", RULES_VAR_HEADER_COUNT, N, false, true,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "rawheaders", RULES_VAR_RAWHEADERS, S, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "subject", RULES_VAR_SUBJECT, S, false, false, RULES_STAGE_MESSAGE,
	  NULL, NULL },
	{ "message.size", RULES_VAR_MESSAGE_SIZE, N, false, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "message.defects", RULES_VAR_MESSAGE_DEFECTS, S, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "body", RULES_VAR_BODY, S, false, false, RULES_STAGE_MESSAGE, NULL,
	  NULL },
	{ "rawbody", RULES_VAR_RAWBODY, S, false, false, RULES_STAGE_MESSAGE,
	  NULL, NULL },
	{ "attachment.count", RULES_VAR_ATT_COUNT, N, false, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.filename", RULES_VAR_ATT_FILENAME, S, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.extension", RULES_VAR_ATT_EXTENSION, S, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.type", RULES_VAR_ATT_TYPE, S, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.sniffed_type", RULES_VAR_ATT_SNIFFED_TYPE, S, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.size", RULES_VAR_ATT_SIZE, N, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.archive.filename", RULES_VAR_ATT_ARCHIVE_FILENAME, S,
	  true, false, RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.archive.extension", RULES_VAR_ATT_ARCHIVE_EXTENSION, S,
	  true, false, RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.archive.count", RULES_VAR_ATT_ARCHIVE_COUNT, N, false,
	  false, RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.encrypted", RULES_VAR_ATT_ENCRYPTED, RULES_VT_BOOL, true,
	  false, RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.depth", RULES_VAR_ATT_DEPTH, N, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "attachment.defects", RULES_VAR_ATT_DEFECTS, S, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "urls", RULES_VAR_URLS, S, true, false, RULES_STAGE_MESSAGE, NULL,
	  NULL },
	{ "url.domain", RULES_VAR_URL_DOMAIN, S, true, false,
	  RULES_STAGE_MESSAGE, NULL, NULL },
	{ "dkim", RULES_VAR_DKIM, RULES_VT_RESULT, false, false,
	  RULES_STAGE_MESSAGE, auth_results, NULL },
	{ "dmarc", RULES_VAR_DMARC, RULES_VT_RESULT, false, false,
	  RULES_STAGE_MESSAGE, auth_results, NULL },
	{ "dmarc.policy", RULES_VAR_DMARC_POLICY, RULES_VT_RESULT, false, false,
	  RULES_STAGE_MESSAGE, dmarc_policies, NULL },
	{ "result", RULES_VAR_RESULT, S, false, true, RULES_STAGE_MESSAGE, NULL,
	  NULL },
	{ "score", RULES_VAR_SCORE, N, false, false, RULES_STAGE_MESSAGE, NULL,
	  NULL },
	{ "tags", RULES_VAR_TAGS, S, true, false, RULES_STAGE_MESSAGE, NULL,
	  NULL },
};

#undef S
#undef N

const struct rules_vardef *
rules_var_def(enum rules_var var)
{
	if ((unsigned)var >= RULES_VAR__COUNT)
		return NULL;
	return &vars[var];
}

const struct rules_vardef *
rules_var_find(const char *name, size_t len)
{
	for (size_t i = 0; i < RULES_VAR__COUNT; i++) {
		if (strlen(vars[i].name) == len &&
		    memcmp(vars[i].name, name, len) == 0)
			return &vars[i];
	}
	return NULL;
}

const char *
rules_var_name(enum rules_var var)
{
	const struct rules_vardef *d = rules_var_def(var);

	return d != NULL ? d->name : "?";
}

enum rules_type
rules_var_type(enum rules_var var)
{
	const struct rules_vardef *d = rules_var_def(var);

	if (d == NULL)
		return RULES_T_STRING;
	switch (d->type) {
	case RULES_VT_NUMBER:
		return RULES_T_NUMBER;
	case RULES_VT_BOOL:
		return RULES_T_BOOL;
	case RULES_VT_IP:
		return RULES_T_IP;
	default:
		return RULES_T_STRING;
	}
}

bool
rules_var_is_list(enum rules_var var)
{
	const struct rules_vardef *d = rules_var_def(var);

	return d != NULL && d->list;
}

enum rules_stage
rules_var_stage(enum rules_var var)
{
	const struct rules_vardef *d = rules_var_def(var);

	return d != NULL ? d->stage : RULES_STAGE_MESSAGE;
}

const char *
rules_stage_name(enum rules_stage stage)
{
	static const char *const names[RULES_STAGE__COUNT] = {
		"connect", "helo", "mail", "rcpt", "message",
	};

	return (unsigned)stage < RULES_STAGE__COUNT ? names[stage] : "?";
}

const char *
rules_vtype_name(enum rules_vtype t)
{
	switch (t) {
	case RULES_VT_STRING:
		return "a string";
	case RULES_VT_RESULT:
		return "a result";
	case RULES_VT_NUMBER:
		return "a number";
	case RULES_VT_BOOL:
		return "true or false";
	case RULES_VT_IP:
		return "an IP address";
	default:
		return "unknown";
	}
}

/* Edit distance (insert, delete, substitute, swap neighbours), bounded:
 * names longer than 64 bytes are never close. */
static unsigned
distance(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned d[65][65];

	if (alen > 64 || blen > 64)
		return 1000;
	for (size_t i = 0; i <= alen; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= blen; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= alen; i++) {
		for (size_t j = 1; j <= blen; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[alen][blen];
}

const char *
rules_suggest(const char *word, size_t len, const char *const *candidates)
{
	const char *best = NULL;
	unsigned best_d = 1000;
	/* A third of the word may be wrong, at least one edit, at most 3. */
	unsigned limit = len >= 9 ? 3 : len >= 4 ? 2 : 1;

	for (size_t i = 0; candidates[i] != NULL; i++) {
		unsigned d = distance(word, len, candidates[i],
				      strlen(candidates[i]));

		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

const char *
rules_var_suggest(const char *name, size_t len)
{
	const char *names[RULES_VAR__COUNT + 1];
	const char *dot;

	for (size_t i = 0; i < RULES_VAR__COUNT; i++)
		names[i] = vars[i].name;
	names[RULES_VAR__COUNT] = NULL;
	/* "envelope.sender.domain": compare the whole name first, then
	 * the part an admin is likeliest to have mistyped. */
	const char *s = rules_suggest(name, len, names);

	if (s != NULL)
		return s;
	dot = memchr(name, '.', len);
	if (dot != NULL && len > 0) {
		size_t n = 0;
		const char *only = NULL;

		/* "attachment.name": the prefix is right; if only one
		 * variable starts with it and ends alike, offer it. */
		for (size_t i = 0; i < RULES_VAR__COUNT; i++) {
			size_t plen = (size_t)(dot - name) + 1;

			if (strncmp(vars[i].name, name, plen) == 0) {
				n++;
				only = vars[i].name;
			}
		}
		if (n == 1)
			return only;
	}
	return NULL;
}

static bool
arg_eq(const struct rules_vardef *def, const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	/* Header names are case-insensitive; result keys are not. */
	if (def->var == RULES_VAR_HEADER || def->var == RULES_VAR_HEADER_COUNT)
		return rules_strcasecmp_len(a, strlen(a), b, strlen(b)) == 0;
	return strcmp(a, b) == 0;
}

int
rules_var_slot(struct rules_compiler *c, struct rules_operand *op)
{
	for (unsigned i = 0; i < c->nslots; i++) {
		if (c->slots[i].def == op->def &&
		    arg_eq(op->def, c->slots[i].arg, op->arg)) {
			op->slot = i;
			op->arg = c->slots[i].arg;
			return 0;
		}
	}
	if (c->nslots == c->slots_cap) {
		unsigned cap = c->slots_cap ? c->slots_cap * 2 : 16;
		struct rules_slot *n;

		n = pst_arena_calloc(c->tmp, cap, sizeof(*n));
		if (n == NULL)
			return rules_oom(c);
		if (c->nslots)
			memcpy(n, c->slots, c->nslots * sizeof(*n));
		c->slots = n;
		c->slots_cap = cap;
	}
	c->slots[c->nslots].def = op->def;
	c->slots[c->nslots].arg = op->arg;
	op->slot = c->nslots++;
	return 0;
}
