/*
 * fuzz_pop3.c - libFuzzer target for the POP3 pre-login grammar and
 * SASL PLAIN.
 *
 * The first byte picks what is fed: POP3 command lines or a base64
 * PLAIN response.  Beyond "no crash": views stay inside the input,
 * decoded base64 re-encodes to the same text (it is canonical), and a
 * PLAIN message that parses has non-empty fields within RFC 4616's
 * limits.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "pop3_parse.h"
#include "sasl_plain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_view(struct pst_str v, const char *s, size_t len)
{
	if (v.len == 0)
		return;
	if (v.p < s || v.p > s + len || v.len > (size_t)(s + len - v.p))
		abort();
}

static void
fuzz_plain(const char *s, size_t len)
{
	char out[SASL_PLAIN_MAX_DECODED];
	struct sasl_plain p;
	struct pst_buf b;
	const char *err;
	long n = pst_base64_decode(s, len, out, sizeof(out));

	if (n < 0)
		return;
	if ((size_t)n > sizeof(out))
		abort();
	pst_buf_init(&b, 0);
	if (pst_base64_encode(&b, out, (size_t)n, 0) < 0 || b.len != len ||
	    (len > 0 && memcmp(b.data, s, len) != 0))
		abort();
	pst_buf_free(&b);
	if (sasl_plain_parse(out, (size_t)n, &p, &err) == 0 &&
	    (p.authcid.len == 0 || p.passwd.len == 0 ||
	     p.authcid.len > SASL_PLAIN_MAX_FIELD ||
	     p.passwd.len > SASL_PLAIN_MAX_FIELD))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	struct pop3_cmd cmd;
	const char *err = NULL;
	size_t len;

	if (size == 0)
		return 0;
	len = size - 1;
	if (data[0] & 1) {
		fuzz_plain(s, len);
		return 0;
	}
	if (pop3_parse_command(s, len, &cmd, &err) == 0) {
		if (cmd.keyword.len == 0 || cmd.nargs > POP3_MAX_ARGS)
			abort();
		check_view(cmd.keyword, s, len);
		check_view(cmd.rest, s, len);
		for (unsigned i = 0; i < cmd.nargs; i++)
			check_view(cmd.args[i], s, len);
	} else if (err == NULL) {
		abort();
	}
	return 0;
}
