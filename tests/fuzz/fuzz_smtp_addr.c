/*
 * fuzz_smtp_addr.c - libFuzzer target for RFC 5321 path parsing.
 *
 * The first byte picks the smtp_addr_parse options, so every combination
 * is explored; the rest is the path.  Beyond "no crash", it checks what
 * the relay check relies on: views inside the input, limits kept, flags
 * only for what the options allow, and that a parsed address formats
 * back into a path that parses to the same local part and domain.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_addr.h"

#define ALL_OPTS                                                               \
	(SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_ALLOW_POSTMASTER |                   \
	 SMTP_ADDR_ALLOW_UTF8 | SMTP_ADDR_ALLOW_NO_BRACKETS)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_view(struct pst_str v, const char *s, size_t len)
{
	if (v.p == NULL || v.p < s || v.p > s + len ||
	    v.len > (size_t)(s + len - v.p))
		abort();
}

static void
check_error(const char *error)
{
	if (error == NULL || (strncmp(error, "5.1.3 ", 6) != 0 &&
			      strncmp(error, "5.6.7 ", 6) != 0))
		abort();
}

/* Format the address and parse "<formatted>" again: same views back. */
static void
check_round_trip(const struct smtp_addr *addr, unsigned opts)
{
	struct smtp_addr again;
	struct pst_buf out;
	const char *error;
	size_t used;

	pst_buf_init(&out, 1024);
	if (pst_buf_append_byte(&out, '<') < 0 ||
	    smtp_addr_format(addr, &out) < 0 ||
	    pst_buf_append_byte(&out, '>') < 0)
		abort();
	opts &= ~(unsigned)SMTP_ADDR_ALLOW_NO_BRACKETS;
	if (smtp_addr_parse(out.data, out.len, opts, &again, &used, &error) <
		    0 ||
	    used != out.len || !pst_str_eq(again.local, addr->local) ||
	    !pst_str_eq(again.domain, addr->domain))
		abort();
	pst_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_addr addr;
	const char *error = NULL, *s;
	unsigned opts;
	size_t len, used = 0;

	if (size == 0)
		return 0;
	opts = data[0] & ALL_OPTS;
	s = (const char *)data + 1;
	len = size - 1;

	if (smtp_addr_parse(s, len, opts, &addr, &used, &error) < 0) {
		check_error(error);
		return 0;
	}
	if (used == 0 || used > len || used > SMTP_ADDR_MAX_PATH)
		abort();
	check_view(addr.local, s, used);
	check_view(addr.domain, s, used);
	if (addr.local.len > SMTP_ADDR_MAX_LOCAL ||
	    addr.domain.len > SMTP_ADDR_MAX_DOMAIN)
		abort();
	/* Flags only for what the caller allowed. */
	if (((addr.flags & SMTP_ADDR_F_NULL) &&
	     !(opts & SMTP_ADDR_ALLOW_NULL)) ||
	    ((addr.flags & SMTP_ADDR_F_POSTMASTER) &&
	     !(opts & SMTP_ADDR_ALLOW_POSTMASTER)) ||
	    ((addr.flags & SMTP_ADDR_F_UTF8) &&
	     !(opts & SMTP_ADDR_ALLOW_UTF8)) ||
	    ((addr.flags & SMTP_ADDR_F_NO_BRACKETS) &&
	     !(opts & SMTP_ADDR_ALLOW_NO_BRACKETS)))
		abort();
	/* Nothing a downstream parser could split on got through. */
	for (size_t i = 0; i < used; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			abort();
		if (c >= 0x80 && !(opts & SMTP_ADDR_ALLOW_UTF8))
			abort();
	}
	if (addr.flags & (SMTP_ADDR_F_NULL | SMTP_ADDR_F_POSTMASTER)) {
		if (addr.domain.len != 0)
			abort();
	} else {
		if (addr.local.len == 0 && !(addr.flags & SMTP_ADDR_F_QUOTED))
			abort();
		if (!smtp_addr_domain_valid(addr.domain,
					    opts & SMTP_ADDR_ALLOW_UTF8))
			abort();
	}
	check_round_trip(&addr, opts);
	return 0;
}
