/*
 * rewrite_enc.c - the encoders body rewriting needs: base64 and
 * quoted-printable (RFC 2045 6.7, 6.8) for text parts encoded again, and
 * HTML escaping for banners.  Pure functions appending to a buffer;
 * thread-safe.
 */
#include "config.h"

#include <string.h>

#include "rewrite.h"
#include "utf8.h"

#define ENC_LINE 76

/* One byte of a QP line as it is written: 1 or 3 characters. */
static size_t
qp_token(unsigned char c, bool last, char tok[3])
{
	static const char hex[] = "0123456789ABCDEF";

	/* a blank at the end of a line would be lost in transport */
	if ((c >= 33 && c <= 126 && c != '=') ||
	    ((c == ' ' || c == '\t') && !last)) {
		tok[0] = (char)c;
		return 1;
	}
	tok[0] = '=';
	tok[1] = hex[c >> 4];
	tok[2] = hex[c & 15];
	return 3;
}

/* One line of text (without its break) as QP lines. */
static int
qp_line(struct pst_buf *out, const unsigned char *s, size_t len)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		char tok[3];
		size_t n = qp_token(s[i], i + 1 == len, tok);

		/* room for the soft break's '=' unless this is the end */
		if (col + n > (i + 1 == len ? ENC_LINE : ENC_LINE - 1)) {
			if (pst_buf_append(out, "=\r\n", 3) < 0)
				return -1;
			col = 0;
		}
		/* "." alone or "From " at the start of a line survive
		 * transport either way, but some MTAs mangle them; "-" could
		 * start what reads as a boundary delimiter */
		if (col == 0 && (s[i] == '.' || s[i] == 'F' || s[i] == '-')) {
			n = 3;
			tok[0] = '=';
			tok[1] = "0123456789ABCDEF"[s[i] >> 4];
			tok[2] = "0123456789ABCDEF"[s[i] & 15];
		}
		if (pst_buf_append(out, tok, n) < 0)
			return -1;
		col += n;
	}
	return 0;
}

int
rewrite_enc_qp(struct pst_buf *out, const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		size_t end;

		if (s[i] != '\n')
			continue;
		end = i > start && s[i - 1] == '\r' ? i - 1 : i;
		if (qp_line(out, s + start, end - start) < 0 ||
		    pst_buf_append(out, "\r\n", 2) < 0)
			return -1;
		start = i + 1;
	}
	return qp_line(out, s + start, len - start);
}

int
rewrite_enc_html(struct pst_buf *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text);

	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		int rc;

		if (c >= 0x80) {
			size_t n = pst_utf8_seq_len(s + i, len - i);
			uint32_t cp;

			if (n == 0) {
				rc = pst_buf_append_cstr(out, "&#xFFFD;");
				i++;
			} else {
				cp = n == 2   ? (uint32_t)(c & 0x1f)
				     : n == 3 ? (uint32_t)(c & 0x0f)
					      : (uint32_t)(c & 0x07);
				for (size_t k = 1; k < n; k++)
					cp = cp << 6 | (s[i + k] & 0x3f);
				rc = pst_buf_printf(out, "&#%u;", (unsigned)cp);
				i += n;
			}
		} else {
			switch (c) {
			case '&':
				rc = pst_buf_append_cstr(out, "&amp;");
				break;
			case '<':
				rc = pst_buf_append_cstr(out, "&lt;");
				break;
			case '>':
				rc = pst_buf_append_cstr(out, "&gt;");
				break;
			case '"':
				rc = pst_buf_append_cstr(out, "&quot;");
				break;
			case '\r':
				rc = 0;
				break;
			case '\n':
				rc = pst_buf_append_cstr(out, "<br>\r\n");
				break;
			default:
				rc = pst_buf_append_byte(out, (char)c);
				break;
			}
			i++;
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}
