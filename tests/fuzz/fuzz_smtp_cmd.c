/*
 * fuzz_smtp_cmd.c - libFuzzer target for the SMTP command grammar.
 *
 * The first byte picks the extensions offered (low six bits) and whether
 * the transaction has SMTPUTF8 (bit 6); the rest is the command line.
 * Beyond "no crash", it checks the contract smtpd relies on: only the
 * documented reply codes, error texts whose class matches the code, and
 * views that stay inside the line.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"

#define ALL_EXT                                                                \
	(SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 |               \
	 SMTP_EXT_DSN | SMTP_EXT_CHUNKING | SMTP_EXT_LENIENT_PATH)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_view(struct pst_str v, const char *s, size_t len)
{
	if (v.len == 0)
		return; /* empty views may point at a static "" */
	if (v.p == NULL || v.p < s || v.p > s + len ||
	    v.len > (size_t)(s + len - v.p))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd cmd;
	const char *error = NULL, *s;
	unsigned ext;
	bool smtputf8;
	size_t len;
	int code;

	if (size == 0)
		return 0;
	ext = data[0] & ALL_EXT;
	smtputf8 = (data[0] & 0x40) != 0;
	s = (const char *)data + 1;
	len = size - 1;

	code = smtp_cmd_parse(s, len, ext, smtputf8, &cmd, &error);
	switch (code) {
	case 0:
		if (cmd.verb == SMTP_VERB_UNKNOWN)
			abort();
		break;
	case 500:
		if (cmd.verb != SMTP_VERB_UNKNOWN)
			abort();
		__attribute__((fallthrough));
	case 501:
	case 504:
	case 553:
	case 555:
		if (error == NULL || error[0] != '0' + code / 100 ||
		    error[1] != '.')
			abort();
		break;
	default:
		abort();
	}
	if ((unsigned)cmd.verb >= SMTP_VERB__COUNT ||
	    smtp_verb_name(cmd.verb) == NULL)
		abort();
	check_view(cmd.verb_text, s, len);
	check_view(cmd.arg, s, len);
	check_view(cmd.addr.local, s, len);
	check_view(cmd.addr.domain, s, len);
	check_view(cmd.mail.envid, s, len);
	check_view(cmd.rcpt.orcpt, s, len);
	if (code != 0)
		return 0;
	/* A parameter of an extension not offered never gets through. */
	if ((cmd.mail.has_size && !(ext & SMTP_EXT_SIZE)) ||
	    (cmd.mail.body != SMTP_BODY_UNSET && !(ext & SMTP_EXT_8BITMIME)) ||
	    (cmd.mail.smtputf8 && !(ext & SMTP_EXT_SMTPUTF8)) ||
	    ((cmd.mail.ret != SMTP_RET_UNSET || cmd.mail.envid.len ||
	      cmd.rcpt.notify || cmd.rcpt.orcpt.len) &&
	     !(ext & SMTP_EXT_DSN)))
		abort();
	if ((cmd.addr.flags & SMTP_ADDR_F_UTF8) &&
	    !(cmd.verb == SMTP_VERB_MAIL ? cmd.mail.smtputf8 : smtputf8))
		abort();
	if ((cmd.rcpt.notify & SMTP_NOTIFY_NEVER) &&
	    cmd.rcpt.notify != SMTP_NOTIFY_NEVER)
		abort();
	return 0;
}
