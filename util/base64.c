/*
 * base64.c - see base64.h.
 */
#include "config.h"

#include <stdint.h>

#include "base64.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
pst_base64_value(char c)
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

int
pst_base64_encode(struct pst_buf *out, const void *in, size_t len, size_t line)
{
	const unsigned char *p = in;
	size_t col = 0;

	/* 4/3 of the input, and a CRLF per line */
	if (pst_buf_reserve(
		    out, len / 3 * 4 + 8 +
				 (line ? (len / 3 * 4 / line + 1) * 2 : 0)) < 0)
		return -1;
	for (size_t i = 0; i < len; i += 3) {
		size_t n = len - i < 3 ? len - i : 3;
		uint32_t q = (uint32_t)p[i] << 16;
		char quad[4];

		if (n > 1)
			q |= (uint32_t)p[i + 1] << 8;
		if (n > 2)
			q |= p[i + 2];
		quad[0] = b64_alphabet[q >> 18 & 63];
		quad[1] = b64_alphabet[q >> 12 & 63];
		quad[2] = n > 1 ? b64_alphabet[q >> 6 & 63] : '=';
		quad[3] = n > 2 ? b64_alphabet[q & 63] : '=';
		if (pst_buf_append(out, quad, 4) < 0)
			return -1;
		col += 4;
		if (line != 0 && col >= line) {
			if (pst_buf_append(out, "\r\n", 2) < 0)
				return -1;
			col = 0;
		}
	}
	if (col > 0 && line != 0 && pst_buf_append(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

long
pst_base64_decode(const char *in, size_t len, char *out, size_t outsize)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		uint32_t q;

		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = pst_base64_value(in[i + k]);
			if (v[k] < 0 || pad > 0)
				return -1;
		}
		q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
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
