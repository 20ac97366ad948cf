/*
 * filename.c - attachment file names normalised for matching: see
 * filename.h.  Pure; results on the caller's arena; thread-safe.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "buf.h"
#include "filename.h"
#include "utf8.h"

/* Bidi controls: LRM, RLM, ALM, LRE..RLO, LRI..PDI. */
static bool
filename_is_bidi(uint32_t cp)
{
	return cp == 0x200E || cp == 0x200F || cp == 0x061C ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Characters that show as nothing: zero-width space and joiners, word
 * joiner and invisible operators, BOM, soft hyphen, Mongolian vowel
 * separator, combining grapheme joiner, Hangul fillers, variation
 * selectors, tag characters. */
static bool
filename_is_invisible(uint32_t cp)
{
	return (cp >= 0x200B && cp <= 0x200D) ||
	       (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF || cp == 0x00AD ||
	       cp == 0x180E || cp == 0x034F || cp == 0x115F || cp == 0x1160 ||
	       cp == 0x3164 || cp == 0xFFA0 || (cp >= 0xFE00 && cp <= 0xFE0F) ||
	       (cp >= 0xE0000 && cp <= 0xE007F) ||
	       (cp >= 0xE0100 && cp <= 0xE01EF);
}

/* Blanks Windows and most file managers drop at the end of a name. */
static size_t
filename_trailing_blank(const char *s, size_t len)
{
	static const char *const blanks[] = {
		"\xc2\xa0",	/* U+00A0 */
		"\xe3\x80\x80", /* U+3000 */
		"\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82", "\xe2\x80\x83",
		"\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87",
		"\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", /* U+2000.. */
		"\xe2\x80\xaf",					/* U+202F */
	};

	if (len == 0)
		return 0;
	if (s[len - 1] == '.' || s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '/' || s[len - 1] == '\\')
		return 1;
	for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++) {
		size_t bl = strlen(blanks[i]);

		if (len >= bl && memcmp(s + len - bl, blanks[i], bl) == 0)
			return bl;
	}
	return 0;
}

int
filename_normalise(struct pst_arena *arena, const char *in, size_t len,
		   const char **out_r, unsigned *flags_r)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned flags = 0;
	struct pst_buf clean;
	size_t cap, n, cut;
	char *out;

	*out_r = "";
	if (in == NULL)
		len = 0;
	if (len > 4 * FILENAME_MAX_LEN) {
		len = 4 * FILENAME_MAX_LEN;
		flags |= FILENAME_F_TRUNCATED;
	}
	pst_buf_init(&clean, 0);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k;

		if (s[i] < 0x80) {
			cp = s[i];
			k = 1;
		} else if ((k = pst_utf8_seq_len(s + i, len - i)) == 0) {
			flags |= FILENAME_F_INVALID_UTF8;
			if (pst_buf_append(&clean, "\xef\xbf\xbd", 3) < 0)
				goto oom;
			i++;
			continue;
		} else if (k == 2) {
			cp = ((uint32_t)(s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F);
		} else if (k == 3) {
			cp = ((uint32_t)(s[i] & 0x0F) << 12) |
			     ((uint32_t)(s[i + 1] & 0x3F) << 6) |
			     (s[i + 2] & 0x3F);
		} else {
			cp = ((uint32_t)(s[i] & 0x07) << 18) |
			     ((uint32_t)(s[i + 1] & 0x3F) << 12) |
			     ((uint32_t)(s[i + 2] & 0x3F) << 6) |
			     (s[i + 3] & 0x3F);
		}
		if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
			flags |= FILENAME_F_CONTROL;
		else if (filename_is_bidi(cp))
			flags |= FILENAME_F_BIDI;
		else if (filename_is_invisible(cp))
			flags |= FILENAME_F_ZERO_WIDTH;
		else if (pst_buf_append(&clean, in + i, k) < 0)
			goto oom;
		i += k;
	}
	cap = 3 * clean.len + 1;
	out = pst_arena_alloc(arena, cap);
	if (out == NULL)
		goto oom;
	n = filename_nfc(clean.data != NULL ? clean.data : "", clean.len, out,
			 cap);
	if (n == (size_t)-1)
		goto oom;
	if (n != clean.len || memcmp(out, clean.data ? clean.data : "", n))
		flags |= FILENAME_F_NFC;
	pst_buf_free(&clean);
	while ((cut = filename_trailing_blank(out, n)) > 0) {
		n -= cut;
		flags |= FILENAME_F_TRAILING;
	}
	if (n > FILENAME_MAX_LEN) {
		n = FILENAME_MAX_LEN;
		/* back to a character boundary */
		while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80)
			n--;
		flags |= FILENAME_F_TRUNCATED;
	}
	out[n] = '\0';
	if (n == 0)
		flags |= FILENAME_F_EMPTY;
	if (filename_double_extension(out))
		flags |= FILENAME_F_DOUBLE_EXT;
	*out_r = out;
	*flags_r = flags;
	return 0;
oom:
	pst_buf_free(&clean);
	return -1;
}

/* The last path component of name. */
static const char *
filename_base(const char *name)
{
	const char *base = name;

	for (const char *p = name; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	return base;
}

/* Is s[0..len) an extension: 1..FILENAME_EXT_MAX ASCII letters and
 * digits? */
static bool
filename_ext_ok(const char *s, size_t len)
{
	if (len == 0 || len > FILENAME_EXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

const char *
filename_extension(struct pst_arena *arena, const char *name)
{
	const char *base = filename_base(name);
	const char *dot = strrchr(base, '.');
	char *ext;
	size_t len;

	if (dot == NULL || dot == base)
		return "";
	len = strlen(dot + 1);
	if (!filename_ext_ok(dot + 1, len))
		return "";
	ext = pst_arena_strndup(arena, dot + 1, len);
	if (ext == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (ext[i] >= 'A' && ext[i] <= 'Z')
			ext[i] = (char)(ext[i] - 'A' + 'a');
	return ext;
}

bool
filename_double_extension(const char *name)
{
	static const char *const inner[] = {
		"pdf", "doc",  "docx", "xls", "xlsx", "ppt",  "pptx", "odt",
		"ods", "rtf",  "txt",  "csv", "jpg",  "jpeg", "png",  "gif",
		"bmp", "tif",  "tiff", "mp3", "mp4",  "avi",  "mov",  "wav",
		"htm", "html", "zip",  "rar", "7z",   "eml",  "xml",  "svg",
	};
	const char *base = filename_base(name);
	const char *last = strrchr(base, '.'), *prev = NULL;
	size_t ilen;

	if (last == NULL || !filename_ext_ok(last + 1, strlen(last + 1)))
		return false;
	for (const char *p = base; p < last; p++)
		if (*p == '.')
			prev = p;
	if (prev == NULL)
		return false;
	/* "a.pdf   .exe": blanks between the two count for nothing */
	ilen = (size_t)(last - prev - 1);
	while (ilen > 0 && (prev[ilen] == ' ' || prev[ilen] == '_'))
		ilen--;
	for (size_t i = 0; i < sizeof(inner) / sizeof(inner[0]); i++)
		if (strlen(inner[i]) == ilen &&
		    strncasecmp(prev + 1, inner[i], ilen) == 0)
			return true;
	return false;
}
