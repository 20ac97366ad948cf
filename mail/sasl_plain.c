/*
 * sasl_plain.c - SASL PLAIN and base64 (see sasl_plain.h).
 */
#include "config.h"

#include <string.h>

#include "sasl_plain.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
sasl_base64_decode(const char *in, size_t len, char *out, size_t outsize)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		unsigned long q;

		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = b64_value(in[i + k]);
			if (v[k] < 0 || pad > 0)
				return -1;
		}
		q = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		    (unsigned long)v[2] << 6 | (unsigned long)v[3];
		/* Canonical: the bits under the padding are zero. */
		if ((pad == 1 && (q & 0xff)) || (pad == 2 && (q & 0xffff)))
			return -1;
		if (o + (size_t)(3 - pad) > outsize)
			return -1;
		out[o++] = (char)(q >> 16);
		if (pad < 2)
			out[o++] = (char)(q >> 8 & 0xff);
		if (pad < 1)
			out[o++] = (char)(q & 0xff);
	}
	return (long)o;
}

int
sasl_base64_encode(const void *in, size_t len, struct pst_buf *out)
{
	const unsigned char *p = in;

	for (size_t i = 0; i < len; i += 3) {
		unsigned long q = (unsigned long)p[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		char quad[4];

		if (n > 1)
			q |= (unsigned long)p[i + 1] << 8;
		if (n > 2)
			q |= p[i + 2];
		quad[0] = b64_alphabet[q >> 18 & 63];
		quad[1] = b64_alphabet[q >> 12 & 63];
		quad[2] = n > 1 ? b64_alphabet[q >> 6 & 63] : '=';
		quad[3] = n > 2 ? b64_alphabet[q & 63] : '=';
		if (pst_buf_append(out, quad, 4) < 0)
			return -1;
	}
	return 0;
}

int
sasl_plain_parse(const char *msg, size_t len, struct sasl_plain *r,
		 const char **error_r)
{
	const char *nul1 = memchr(msg, '\0', len), *nul2;

	if (nul1 == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg))) ==
		    NULL) {
		*error_r = "PLAIN message has fewer than three fields";
		return -1;
	}
	if (memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - msg)) != NULL) {
		*error_r = "PLAIN message has more than three fields";
		return -1;
	}
	r->authzid = (struct pst_str){ msg, (size_t)(nul1 - msg) };
	r->authcid = (struct pst_str){ nul1 + 1, (size_t)(nul2 - nul1 - 1) };
	r->passwd =
		(struct pst_str){ nul2 + 1, len - (size_t)(nul2 + 1 - msg) };
	if (r->authcid.len == 0 || r->passwd.len == 0) {
		*error_r = "PLAIN user name or password is empty";
		return -1;
	}
	if (r->authzid.len > SASL_PLAIN_MAX_FIELD ||
	    r->authcid.len > SASL_PLAIN_MAX_FIELD ||
	    r->passwd.len > SASL_PLAIN_MAX_FIELD) {
		*error_r = "PLAIN field too long";
		return -1;
	}
	return 0;
}

int
sasl_plain_encode(struct pst_str user, struct pst_str pass, struct pst_buf *out)
{
	char msg[SASL_PLAIN_MAX_DECODED];
	size_t n;
	int rc;

	if (user.len > SASL_PLAIN_MAX_FIELD || pass.len > SASL_PLAIN_MAX_FIELD)
		return -1;
	msg[0] = '\0';
	memcpy(msg + 1, user.p, user.len);
	msg[1 + user.len] = '\0';
	memcpy(msg + 2 + user.len, pass.p, pass.len);
	n = 2 + user.len + pass.len;
	rc = sasl_base64_encode(msg, n, out);
	explicit_bzero(msg, sizeof(msg));
	return rc;
}
