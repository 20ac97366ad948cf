/*
 * charset.c - text to UTF-8 (see charset.h).
 *
 * Five kinds of converter, picked from the normalised charset name:
 * UTF-8 is validated here (invalid bytes replaced) rather than run through
 * iconv, windows-1252 (and ISO-8859-1, which clients read as windows-1252)
 * is a table here, us-ascii is read as UTF-8 where the bytes are UTF-8 and
 * as windows-1252 where they are not (mislabelled 8-bit text), UTF-7 is
 * decoded here, and the other charsets on the list below go through
 * glibc's iconv; any other name is unknown.
 *
 * Each kind is a "scan" over a byte range that converts what it can decide
 * and stops before a trailing incomplete sequence (at most CONV_PEND_MAX
 * bytes), which is kept in the converter and joined with the next chunk.
 * A decision at one position never depends on more than CONV_PEND_MAX
 * following bytes, so chunking does not change the result.
 *
 * The converter owns its iconv handle; the caller owns the output buffer.
 * Not thread-safe per converter; converters are independent.
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "charset.h"
#include "utf8.h"

/* Longest incomplete sequence held over to the next chunk. */
#define CONV_PEND_MAX 16
/* Longest charset name we look at; real ones are under 30. */
#define CHARSET_NAME_MAX 64

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

enum conv_kind {
	CONV_UTF8,   /* validate, replace invalid sequences */
	CONV_ASCII,  /* UTF-8 where valid, else windows-1252 */
	CONV_CP1252, /* windows-1252 table */
	CONV_UTF7,   /* RFC 2152, here: glibc's is not chunking-invariant
		      * after an invalid byte inside a base64 run */
	CONV_ICONV,
};

struct charset_conv {
	enum conv_kind kind;
	unsigned defects;
	iconv_t cd;
	bool uhc; /* iconv is glibc's CP949 (see uhc_a2e8) */
	/* UTF-7 state */
	bool u7_b64;	  /* inside a "+..." run */
	bool u7_start;	  /* right after its '+' */
	unsigned u7_bits; /* pending bits, u7_nbits of them */
	unsigned u7_nbits;
	unsigned u7_high; /* a high surrogate waiting for its pair */
	size_t npend;
	unsigned char pend[CONV_PEND_MAX];
};

/* ---- names ---- */

struct charset_alias {
	const char *name;
	enum conv_kind kind;
	const char *iconv_name; /* for CONV_ICONV */
};

/*
 * The charsets we convert, by label.  Only these reach iconv: the label
 * comes from the message, and glibc has converters that mail never uses
 * and that have had crash bugs on invalid input (ISO-2022-JP-3,
 * CVE-2021-3326), or that are not chunking-invariant after an invalid
 * byte (TSCII).  Anything else is unknown: UTF-8 with replacement.
 *
 * Labels are read as clients read them (the WHATWG Encoding Standard,
 * which Thunderbird follows): ISO-8859-1 is windows-1252, GB2312 and GBK
 * are GB18030, Shift_JIS is windows-31j, EUC-KR is windows-949, the "-i"
 * Hebrew/Arabic labels are their base charset, TIS-620 is windows-874.
 * ISO-8859-N and windows-125N are matched by pattern (charset_conv_new).
 */
static const struct charset_alias aliases[] = {
	{ "utf-8", CONV_UTF8, NULL },
	{ "utf8", CONV_UTF8, NULL },
	{ "unicode-1-1-utf-8", CONV_UTF8, NULL },
	{ "unicode-2-0-utf-8", CONV_UTF8, NULL },
	{ "x-unicode20utf8", CONV_UTF8, NULL },
	{ "us-ascii", CONV_ASCII, NULL },
	{ "ascii", CONV_ASCII, NULL },
	{ "us", CONV_ASCII, NULL },
	{ "ansi_x3.4-1968", CONV_ASCII, NULL },
	{ "ansi_x3.4-1986", CONV_ASCII, NULL },
	{ "iso646-us", CONV_ASCII, NULL },
	{ "iso_646.irv:1991", CONV_ASCII, NULL },
	{ "csascii", CONV_ASCII, NULL },
	{ "cp367", CONV_ASCII, NULL },
	{ "ibm367", CONV_ASCII, NULL },
	{ "windows-1252", CONV_CP1252, NULL },
	{ "cp1252", CONV_CP1252, NULL },
	{ "x-cp1252", CONV_CP1252, NULL },
	{ "iso-8859-1", CONV_CP1252, NULL },
	{ "iso8859-1", CONV_CP1252, NULL },
	{ "iso_8859-1", CONV_CP1252, NULL },
	{ "iso_8859-1:1987", CONV_CP1252, NULL },
	{ "iso-ir-100", CONV_CP1252, NULL },
	{ "latin1", CONV_CP1252, NULL },
	{ "l1", CONV_CP1252, NULL },
	{ "cp819", CONV_CP1252, NULL },
	{ "ibm819", CONV_CP1252, NULL },
	{ "csisolatin1", CONV_CP1252, NULL },
	{ "utf-7", CONV_UTF7, NULL },
	{ "utf7", CONV_UTF7, NULL },
	{ "unicode-1-1-utf-7", CONV_UTF7, NULL },
	{ "unicode-2-0-utf-7", CONV_UTF7, NULL },
	{ "x-unicode-2-0-utf-7", CONV_UTF7, NULL },
	{ "csunicode11utf7", CONV_UTF7, NULL },
	{ "ks_c_5601-1987", CONV_ICONV, "CP949" },
	{ "ks_c_5601-1989", CONV_ICONV, "CP949" },
	{ "ks_c_5601", CONV_ICONV, "CP949" },
	{ "ksc_5601", CONV_ICONV, "CP949" },
	{ "ksc5601", CONV_ICONV, "CP949" },
	{ "euc-kr", CONV_ICONV, "CP949" },
	{ "cseuckr", CONV_ICONV, "CP949" },
	{ "korean", CONV_ICONV, "CP949" },
	{ "windows-949", CONV_ICONV, "CP949" },
	{ "x-windows-949", CONV_ICONV, "CP949" },
	{ "gb2312", CONV_ICONV, "GB18030" },
	{ "csgb2312", CONV_ICONV, "GB18030" },
	{ "gb_2312-80", CONV_ICONV, "GB18030" },
	{ "gb_2312", CONV_ICONV, "GB18030" },
	{ "euc-cn", CONV_ICONV, "GB18030" },
	{ "x-euc-cn", CONV_ICONV, "GB18030" },
	{ "chinese", CONV_ICONV, "GB18030" },
	{ "gbk", CONV_ICONV, "GB18030" },
	{ "x-gbk", CONV_ICONV, "GB18030" },
	{ "cp936", CONV_ICONV, "GB18030" },
	{ "ms936", CONV_ICONV, "GB18030" },
	{ "windows-936", CONV_ICONV, "GB18030" },
	{ "shift_jis", CONV_ICONV, "CP932" },
	{ "shift-jis", CONV_ICONV, "CP932" },
	{ "sjis", CONV_ICONV, "CP932" },
	{ "x-sjis", CONV_ICONV, "CP932" },
	{ "ms_kanji", CONV_ICONV, "CP932" },
	{ "csshiftjis", CONV_ICONV, "CP932" },
	{ "windows-31j", CONV_ICONV, "CP932" },
	{ "ms932", CONV_ICONV, "CP932" },
	{ "x-euc-jp", CONV_ICONV, "EUC-JP" },
	{ "iso-8859-8-i", CONV_ICONV, "ISO-8859-8" },
	{ "iso_8859-8-i", CONV_ICONV, "ISO-8859-8" },
	{ "csiso88598i", CONV_ICONV, "ISO-8859-8" },
	{ "logical", CONV_ICONV, "ISO-8859-8" },
	{ "iso-8859-8-e", CONV_ICONV, "ISO-8859-8" },
	{ "iso-8859-6-i", CONV_ICONV, "ISO-8859-6" },
	{ "iso-8859-6-e", CONV_ICONV, "ISO-8859-6" },
	{ "tis-620", CONV_ICONV, "WINDOWS-874" },
	{ "iso-8859-11", CONV_ICONV, "WINDOWS-874" },
	{ "dos-874", CONV_ICONV, "WINDOWS-874" },
	{ "windows-874", CONV_ICONV, "WINDOWS-874" },
	{ "cp874", CONV_ICONV, "WINDOWS-874" },
	{ "shift_jis-2004", CONV_ICONV, "CP932" },
	{ "euc-jp", CONV_ICONV, "EUC-JP" },
	{ "cseucpkdfmtjapanese", CONV_ICONV, "EUC-JP" },
	{ "iso-2022-jp", CONV_ICONV, "ISO-2022-JP" },
	{ "csiso2022jp", CONV_ICONV, "ISO-2022-JP" },
	{ "gb18030", CONV_ICONV, "GB18030" },
	{ "big5", CONV_ICONV, "BIG5" },
	{ "big-5", CONV_ICONV, "BIG5" },
	{ "csbig5", CONV_ICONV, "BIG5" },
	{ "cn-big5", CONV_ICONV, "BIG5" },
	{ "x-x-big5", CONV_ICONV, "BIG5" },
	{ "cp950", CONV_ICONV, "CP950" },
	{ "big5-hkscs", CONV_ICONV, "BIG5-HKSCS" },
	{ "cp949", CONV_ICONV, "CP949" },
	{ "uhc", CONV_ICONV, "CP949" },
	{ "iso-2022-kr", CONV_ICONV, "ISO-2022-KR" },
	{ "csiso2022kr", CONV_ICONV, "ISO-2022-KR" },
	{ "koi8-r", CONV_ICONV, "KOI8-R" },
	{ "koi8r", CONV_ICONV, "KOI8-R" },
	{ "cskoi8r", CONV_ICONV, "KOI8-R" },
	{ "koi", CONV_ICONV, "KOI8-R" },
	{ "koi8", CONV_ICONV, "KOI8-R" },
	{ "koi8-u", CONV_ICONV, "KOI8-U" },
	{ "koi8-ru", CONV_ICONV, "KOI8-U" },
	{ "ibm866", CONV_ICONV, "IBM866" },
	{ "cp866", CONV_ICONV, "IBM866" },
	{ "866", CONV_ICONV, "IBM866" },
	{ "csibm866", CONV_ICONV, "IBM866" },
	{ "ibm850", CONV_ICONV, "IBM850" },
	{ "cp850", CONV_ICONV, "IBM850" },
	{ "ibm437", CONV_ICONV, "IBM437" },
	{ "cp437", CONV_ICONV, "IBM437" },
	{ "macintosh", CONV_ICONV, "MACINTOSH" },
	{ "csmacintosh", CONV_ICONV, "MACINTOSH" },
	{ "x-mac-roman", CONV_ICONV, "MACINTOSH" },
	{ "mac", CONV_ICONV, "MACINTOSH" },
	{ "x-mac-cyrillic", CONV_ICONV, "MAC-CYRILLIC" },
	{ "x-mac-ukrainian", CONV_ICONV, "MAC-CYRILLIC" },
	{ "viscii", CONV_ICONV, "VISCII" },
	{ "utf-16", CONV_ICONV, "UTF-16" },
	{ "utf-16le", CONV_ICONV, "UTF-16LE" },
	{ "utf-16be", CONV_ICONV, "UTF-16BE" },
	{ "utf-32", CONV_ICONV, "UTF-32" },
	{ "utf-32le", CONV_ICONV, "UTF-32LE" },
	{ "utf-32be", CONV_ICONV, "UTF-32BE" },
	{ "ucs-2", CONV_ICONV, "UTF-16" },
	{ "iso-10646-ucs-2", CONV_ICONV, "UTF-16" },
};

/* "iso-8859-N" (also "iso8859-N", "iso_8859-N[:year]") and "latinN" with
 * N a part glibc has, "windows-125N" and "cp125N": the iconv name into
 * buf, or NULL. */
static const char *
pattern_name(const char *name, char *buf, size_t size)
{
	static const char *const prefixes_8859[] = { "iso-8859-", "iso8859-",
						     "iso_8859-" };
	static const char *const prefixes_125x[] = { "windows-125", "cp125",
						     "x-cp125" };
	/* latin2 .. latin10 as parts of ISO 8859 */
	static const unsigned latin_part[] = { 0,  0,  2,  3,  4, 9,
					       10, 13, 14, 15, 16 };
	unsigned long part;
	char *end;

	for (size_t k = 0; k < 3; k++) {
		size_t plen = strlen(prefixes_8859[k]);

		if (strncmp(name, prefixes_8859[k], plen) != 0)
			continue;
		part = strtoul(name + plen, &end, 10);
		if (end == name + plen || (*end != '\0' && *end != ':') ||
		    part < 2 || part > 16 || part == 12)
			return NULL;
		snprintf(buf, size, "ISO-8859-%lu", part);
		return buf;
	}
	if (strncmp(name, "latin", 5) == 0 ||
	    (name[0] == 'l' && name[1] >= '2' && name[1] <= '9')) {
		const char *num = name[1] == 'a' ? name + 5 : name + 1;

		part = strtoul(num, &end, 10);
		if (end == num || *end != '\0' || part < 2 || part > 10)
			return NULL;
		snprintf(buf, size, "ISO-8859-%u", latin_part[part]);
		return buf;
	}
	for (size_t k = 0; k < 3; k++) {
		size_t plen = strlen(prefixes_125x[k]);

		if (strncmp(name, prefixes_125x[k], plen) != 0)
			continue;
		if (name[plen] < '0' || name[plen] > '8' ||
		    name[plen + 1] != '\0')
			return NULL;
		snprintf(buf, size, "WINDOWS-125%c", name[plen]);
		return buf;
	}
	return NULL;
}

/* Lower-case the name into buf, drop surrounding blanks and quotes and an
 * RFC 2231 "*language" suffix.  0 for a name that cannot be a charset
 * (too long, or bytes outside [a-z0-9._:-]): never handed to iconv,
 * whose names can select loadable modules. */
static int
normalise_name(const char *name, char *buf, size_t size)
{
	size_t len = strlen(name), n = 0;

	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t' ||
			   name[len - 1] == '"'))
		len--;
	while (len > 0 && (*name == ' ' || *name == '\t' || *name == '"')) {
		name++;
		len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '*')
			break;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 'a' - 'A');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("._:-", c) != NULL) ||
		    n + 1 >= size)
			return -1;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return 0;
}

/* ---- output helpers ---- */

/* Room for up to want more bytes in out (fewer if its limit says so, but
 * at least one); the room is returned in *room_r.  -1: none at all. */
static int
out_room(struct pst_buf *out, size_t want, size_t *room_r)
{
	if (out->limit != 0) {
		if (out->len >= out->limit)
			return -1;
		if (want > out->limit - out->len)
			want = out->limit - out->len;
	}
	if (pst_buf_reserve(out, want) < 0)
		return -1;
	*room_r = want;
	return 0;
}

static int
put_replacement(struct charset_conv *conv, struct pst_buf *out)
{
	conv->defects |= CHARSET_D_INVALID;
	return pst_buf_append(out, replacement, 3);
}

static int
put_code_point(struct pst_buf *out, unsigned cp)
{
	char u[4];

	if (cp < 0x80)
		return pst_buf_append_byte(out, (char)cp);
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return pst_buf_append(out, u, 2);
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return pst_buf_append(out, u, 3);
	}
	u[0] = (char)(0xf0 | cp >> 18);
	u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return pst_buf_append(out, u, 4);
}

/* ---- windows-1252 ---- */

/* 0x80..0x9f as the WHATWG index has them: the five holes map to the C1
 * controls of the same value, so every byte decodes (as clients do). */
static const uint16_t cp1252_c1[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

static int
put_cp1252(struct pst_buf *out, unsigned char c)
{
	if (c >= 0x80 && c < 0xa0)
		return put_code_point(out, cp1252_c1[c - 0x80]);
	return put_code_point(out, c);
}

static int
scan_cp1252(const unsigned char *s, size_t len, struct pst_buf *out,
	    size_t *used_r)
{
	size_t i = 0, start = 0;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (pst_buf_append(out, s + start, i - start) < 0 ||
		    put_cp1252(out, s[i]) < 0)
			return -1;
		start = ++i;
	}
	*used_r = len;
	return pst_buf_append(out, s + start, len - start);
}

/* ---- UTF-8 and us-ascii ---- */

/* The maximal subpart (Unicode 3.9, as WHATWG and Python replace) at s:
 * how many bytes of an ill-formed or cut sequence start there, all of
 * them a valid beginning.  *cut_r: those bytes run to the end of the
 * input, so more input could complete them. */
static size_t
utf8_subpart(const unsigned char *s, size_t avail, bool *cut_r)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, m;

	*cut_r = false;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else
		return 1;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (m = 1; m < need && m < avail; m++) {
		if (s[m] < lo || s[m] > hi)
			return m;
		lo = 0x80;
		hi = 0xbf;
	}
	*cut_r = m == avail && m < need;
	return m;
}

static bool
all_ascii8(const unsigned char *s)
{
	uint64_t v;

	memcpy(&v, s, 8);
	return (v & 0x8080808080808080ull) == 0;
}

/* Copy well-formed runs; a bad sequence becomes U+FFFD (UTF-8) or its
 * first byte read as windows-1252 (us-ascii: mislabelled 8-bit text). */
static int
scan_utf8(struct charset_conv *conv, const unsigned char *s, size_t len,
	  bool final, struct pst_buf *out, size_t *used_r)
{
	bool ascii = conv->kind == CONV_ASCII, cut;
	size_t i = 0, start = 0, n;

	while (i < len) {
		if (len - i >= 8 && all_ascii8(s + i)) {
			i += 8;
			continue;
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (ascii)
			conv->defects |= CHARSET_D_INVALID;
		n = pst_utf8_seq_len(s + i, len - i);
		if (n > 0) {
			i += n;
			continue;
		}
		n = utf8_subpart(s + i, len - i, &cut);
		if (cut && !final)
			break;
		if (pst_buf_append(out, s + start, i - start) < 0)
			return -1;
		if (ascii) {
			if (put_cp1252(out, s[i]) < 0)
				return -1;
			i++;
		} else {
			if (put_replacement(conv, out) < 0)
				return -1;
			i += n;
		}
		start = i;
	}
	*used_r = i;
	return pst_buf_append(out, s + start, i - start);
}

/* ---- UTF-7 (RFC 2152) ---- */

/* One UTF-16 unit from a base64 run. */
static int
utf7_unit(struct charset_conv *conv, unsigned u, struct pst_buf *out)
{
	if (conv->u7_high != 0) {
		unsigned high = conv->u7_high;

		conv->u7_high = 0;
		if (u >= 0xdc00 && u <= 0xdfff)
			return put_code_point(
				out, 0x10000 + ((high - 0xd800) << 10) +
					     (u - 0xdc00));
		if (put_replacement(conv, out) < 0)
			return -1;
	}
	if (u >= 0xd800 && u <= 0xdbff) {
		conv->u7_high = u;
		return 0;
	}
	if (u >= 0xdc00 && u <= 0xdfff)
		return put_replacement(conv, out);
	return put_code_point(out, u);
}

/* A base64 run ends: an unpaired surrogate, or a partial unit left over
 * (more than 5 bits, or bits that are not zero), becomes U+FFFD (as in
 * Python). */
static int
utf7_run_end(struct charset_conv *conv, struct pst_buf *out)
{
	int ret = 0;

	if (conv->u7_high != 0) {
		conv->u7_high = 0;
		ret = put_replacement(conv, out);
	}
	if (ret == 0 && (conv->u7_nbits >= 6 ||
			 (conv->u7_bits & ((1u << conv->u7_nbits) - 1)) != 0))
		ret = put_replacement(conv, out);
	conv->u7_b64 = false;
	conv->u7_bits = 0;
	conv->u7_nbits = 0;
	return ret;
}

static int
scan_utf7(struct charset_conv *conv, const unsigned char *s, size_t len,
	  bool final, struct pst_buf *out, size_t *used_r)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t j;
		int v;

		if (conv->u7_b64) {
			i++;
			v = pst_base64_value((char)c);
			if (v >= 0) {
				conv->u7_start = false;
				conv->u7_bits =
					(conv->u7_bits << 6 | (unsigned)v) &
					0x3fffff;
				conv->u7_nbits += 6;
				if (conv->u7_nbits < 16)
					continue;
				conv->u7_nbits -= 16;
				if (utf7_unit(
					    conv,
					    (conv->u7_bits >> conv->u7_nbits) &
						    0xffff,
					    out) < 0)
					return -1;
				continue;
			}
			if (conv->u7_start) {
				/* "+-" is '+'; '+' then anything else is
				 * a shift with nothing in it. */
				conv->u7_b64 = false;
				conv->u7_start = false;
				if (c == '-') {
					if (pst_buf_append_byte(out, '+') < 0)
						return -1;
					continue;
				}
				if (put_replacement(conv, out) < 0)
					return -1;
			} else {
				if (utf7_run_end(conv, out) < 0)
					return -1;
				if (c == '-')
					continue; /* the run's terminator */
			}
			i--; /* c is a direct character */
		}
		if (c == '+') {
			conv->u7_b64 = true;
			conv->u7_start = true;
			i++;
			continue;
		}
		if (c >= 0x80) {
			if (put_replacement(conv, out) < 0)
				return -1;
			i++;
			continue;
		}
		for (j = i + 1; j < len && s[j] < 0x80 && s[j] != '+'; j++)
			;
		if (pst_buf_append(out, s + i, j - i) < 0)
			return -1;
		i = j;
	}
	if (final && conv->u7_b64) {
		if (conv->u7_start)
			conv->defects |= CHARSET_D_INVALID; /* a lone '+' */
		conv->u7_start = false;
		if (utf7_run_end(conv, out) < 0)
			return -1;
	}
	*used_r = len;
	return 0;
}

/* ---- iconv ---- */

/* glibc's UHC reports 0xA2E8 as invalid after consuming it: an EILSEQ
 * whose position is right after "A2 E8" read by the same call.  No valid
 * sequence ends in those two bytes, so this is never a real error. */
static bool
uhc_a2e8(const struct charset_conv *conv, const char *call_start,
	 const char *at)
{
	const unsigned char *p = (const unsigned char *)at;

	return conv->uhc && at - call_start >= 2 && p[-2] == 0xa2 &&
	       p[-1] == 0xe8;
}

static int
scan_iconv(struct charset_conv *conv, const unsigned char *s, size_t len,
	   bool final, struct pst_buf *out, size_t *used_r)
{
	char *in = (char *)(uintptr_t)s; /* iconv's prototype lacks const */
	size_t left = len, want = len * 2 + 16, room, r;
	int err;

	while (left > 0) {
		char *o, *in_start = in;
		size_t oleft;

		if (want > 65536)
			want = 65536;
		if (out_room(out, want, &room) < 0)
			return -1;
		o = out->data + out->len;
		oleft = room;
		r = iconv(conv->cd, &in, &left, &o, &oleft);
		err = errno;
		out->len += room - oleft;
		out->data[out->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (err == E2BIG) {
			if (oleft != room || in != in_start)
				continue; /* progress: more room */
			/* Not even one character fitted. */
			if (room < want)
				return -1; /* out's limit */
			if (want < 64) {
				want = 64;
				continue;
			}
			/* Nothing fits in 64 bytes: no real converter does
			 * that; skip the byte below so the loop ends. */
		}
		if (err == EINVAL && !final && left <= CONV_PEND_MAX)
			break; /* cut sequence: wait for more */
		if (err == EILSEQ && uhc_a2e8(conv, in_start, in)) {
			/* U+327E (KS X 1001:2002; the WHATWG index and
			 * glibc's own EUC-KR have it). */
			if (put_code_point(out, 0x327e) < 0)
				return -1;
			continue;
		}
		/* EILSEQ, or a cut sequence at the very end (one U+FFFD
		 * for it), or one longer than we hold back. */
		if (put_replacement(conv, out) < 0)
			return -1;
		if ((err == EINVAL && final) || left == 0) {
			left = 0;
			break;
		}
		in++;
		left--;
	}
	*used_r = len - left;
	return 0;
}

/* ---- the interface ---- */

static int
scan(struct charset_conv *conv, const unsigned char *s, size_t len, bool final,
     struct pst_buf *out, size_t *used_r)
{
	switch (conv->kind) {
	case CONV_CP1252:
		return scan_cp1252(s, len, out, used_r);
	case CONV_UTF7:
		return scan_utf7(conv, s, len, final, out, used_r);
	case CONV_ICONV:
		return scan_iconv(conv, s, len, final, out, used_r);
	case CONV_UTF8:
	case CONV_ASCII:
	default:
		return scan_utf8(conv, s, len, final, out, used_r);
	}
}

struct charset_conv *
charset_conv_new(const char *charset)
{
	char name[CHARSET_NAME_MAX], pattern[16];
	struct charset_conv *conv;
	const char *iconv_name;

	conv = calloc(1, sizeof(*conv));
	if (conv == NULL)
		return NULL;
	conv->cd = (iconv_t)-1;
	if (charset == NULL)
		charset = "";
	if (normalise_name(charset, name, sizeof(name)) < 0) {
		conv->kind = CONV_UTF8;
		conv->defects = CHARSET_D_UNKNOWN;
		return conv;
	}
	if (name[0] == '\0') {
		conv->kind = CONV_ASCII; /* RFC 2045 5.2: the default */
		return conv;
	}
	iconv_name = NULL;
	for (size_t k = 0; k < sizeof(aliases) / sizeof(*aliases); k++) {
		if (strcmp(name, aliases[k].name) == 0) {
			conv->kind = aliases[k].kind;
			if (conv->kind != CONV_ICONV)
				return conv;
			iconv_name = aliases[k].iconv_name;
			break;
		}
	}
	if (iconv_name == NULL)
		iconv_name = pattern_name(name, pattern, sizeof(pattern));
	if (iconv_name == NULL) {
		/* x-unknown, unknown-8bit and anything not listed. */
		conv->kind = CONV_UTF8;
		conv->defects = CHARSET_D_UNKNOWN;
		return conv;
	}
	conv->kind = CONV_ICONV;
	conv->uhc = strcmp(iconv_name, "CP949") == 0;
	conv->cd = iconv_open("UTF-8", iconv_name);
	if (conv->cd == (iconv_t)-1) {
		if (errno == ENOMEM) {
			free(conv);
			return NULL;
		}
		/* A glibc built without that converter. */
		conv->kind = CONV_UTF8;
		conv->defects = CHARSET_D_UNKNOWN;
	}
	return conv;
}

void
charset_conv_free(struct charset_conv **conv_p)
{
	struct charset_conv *conv = *conv_p;

	if (conv == NULL)
		return;
	if (conv->cd != (iconv_t)-1)
		iconv_close(conv->cd);
	free(conv);
	*conv_p = NULL;
}

int
charset_conv_feed(struct charset_conv *conv, const char *in, size_t len,
		  struct pst_buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t used;

	if (conv->npend > 0 && len > 0) {
		/* Join the held-back bytes with the start of this chunk.
		 * CONV_PEND_MAX more bytes settle whatever began in them. */
		unsigned char tmp[2 * CONV_PEND_MAX];
		size_t take = len < CONV_PEND_MAX ? len : CONV_PEND_MAX;
		size_t n = conv->npend + take;

		memcpy(tmp, conv->pend, conv->npend);
		memcpy(tmp + conv->npend, s, take);
		if (scan(conv, tmp, n, false, out, &used) < 0)
			return -1;
		if (used < conv->npend) {
			/* Still cut (all of this chunk is in tmp). */
			conv->npend = n - used;
			memmove(conv->pend, tmp + used, conv->npend);
			return 0;
		}
		s += used - conv->npend;
		len -= used - conv->npend;
		conv->npend = 0;
	}
	if (scan(conv, s, len, false, out, &used) < 0)
		return -1;
	conv->npend = len - used;
	memcpy(conv->pend, s + used, conv->npend);
	return 0;
}

int
charset_conv_finish(struct charset_conv *conv, struct pst_buf *out)
{
	size_t used, room;
	int ret = 0;

	if ((conv->npend > 0 || conv->kind == CONV_UTF7) &&
	    scan(conv, conv->pend, conv->npend, true, out, &used) < 0)
		ret = -1;
	conv->npend = 0;
	if (conv->cd != (iconv_t)-1) {
		/* Back to the initial shift state (stateful charsets). */
		if (out_room(out, 16, &room) == 0) {
			char *o = out->data + out->len;
			size_t oleft = room;

			iconv(conv->cd, NULL, NULL, &o, &oleft);
			out->len += room - oleft;
			out->data[out->len] = '\0';
		} else {
			iconv(conv->cd, NULL, NULL, NULL, NULL);
		}
	}
	return ret;
}

unsigned
charset_conv_defects(const struct charset_conv *conv)
{
	return conv->defects;
}

int
charset_to_utf8(const char *charset, const char *in, size_t len,
		struct pst_buf *out, unsigned *defects_r)
{
	struct charset_conv *conv;
	int ret;

	conv = charset_conv_new(charset);
	if (conv == NULL)
		return -1;
	ret = charset_conv_feed(conv, in, len, out);
	if (charset_conv_finish(conv, out) < 0)
		ret = -1;
	if (defects_r != NULL)
		*defects_r = charset_conv_defects(conv);
	charset_conv_free(&conv);
	return ret;
}
