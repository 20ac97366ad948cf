/*
 * fuzz_spf_record.c - libFuzzer target for the SPF record parser (RFC
 * 7208 section 12).
 *
 * Beyond "no crash": an accepted record yields terms whose views lie in
 * the input, qualifiers and prefix lengths in range, domain-specs that
 * pass the macro check, and at most one term per space-separated word;
 * a refused one gives a "syntax error" or a record-level error text.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "spf.h"
#include "spf_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_view(struct pst_str v, const char *s, size_t len)
{
	if (v.p == NULL)
		return;
	if (v.p < s || v.p > s + len || v.len > (size_t)(s + len - v.p))
		abort();
}

static void
check_term(const struct spf_term *t, const char *s, size_t len)
{
	const char *why;

	check_view(t->text, s, len);
	check_view(t->domain, s, len);
	if (t->text.len == 0 || t->cidr4 < 0 || t->cidr4 > 32 || t->cidr6 < 0 ||
	    t->cidr6 > 128)
		abort();
	if (t->qualifier != SPF_RESULT_PASS &&
	    t->qualifier != SPF_RESULT_FAIL &&
	    t->qualifier != SPF_RESULT_SOFTFAIL &&
	    t->qualifier != SPF_RESULT_NEUTRAL)
		abort();
	if (t->domain.p != NULL &&
	    (t->domain.len == 0 || spf_macro_check(t->domain, 0, &why) < 0))
		abort();
	if ((t->mech == SPF_MECH_IP4 && t->net.family != 4) ||
	    (t->mech == SPF_MECH_IP6 && t->net.family != 6))
		abort();
	if ((t->mech == SPF_MECH_INCLUDE || t->mech == SPF_MECH_EXISTS) &&
	    t->domain.p == NULL)
		abort();
	for (size_t i = 0; i < t->text.len; i++)
		if (t->text.p[i] <= ' ' || t->text.p[i] > '~')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pst_arena *arena = pst_arena_new(0);
	const char *s = (const char *)data, *error = NULL;
	struct spf_record rec;
	size_t words = 0;

	if (arena == NULL)
		return 0;
	/* A leading '!' stands for "v=spf1 ", so that most inputs reach
	 * the terms. */
	if (size > 0 && data[0] == '!') {
		char *buf = pst_arena_alloc(arena, size + 6);

		if (buf == NULL)
			goto out;
		memcpy(buf, "v=spf1 ", 7);
		memcpy(buf + 7, data + 1, size - 1);
		s = buf;
		size += 6;
	}
	if (spf_record_parse(s, size, arena, &rec, &error) < 0) {
		if (error == NULL)
			abort();
		if (spf_record_is_spf(s, size) && size <= SPF_MAX_RECORD &&
		    strstr(error, "syntax error") == NULL &&
		    strstr(error, "character") == NULL &&
		    strcmp(error, "out of memory") != 0)
			abort();
		goto out;
	}
	if (!spf_record_is_spf(s, size))
		abort();
	for (size_t i = 0; i + 1 < size; i++)
		if (s[i] == ' ' && s[i + 1] != ' ')
			words++;
	if (rec.nterms > words)
		abort();
	for (size_t i = 0; i < rec.nterms; i++) {
		check_term(&rec.terms[i], s, size);
		if (rec.terms[i].mech == SPF_MECH_ALL && !rec.has_all)
			abort();
	}
	check_view(rec.redirect, s, size);
	check_view(rec.exp, s, size);
out:
	pst_arena_free(&arena);
	return 0;
}
