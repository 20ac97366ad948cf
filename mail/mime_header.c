/*
 * mime_header.c - the header grammar under the MIME parser (see
 * mime_header.h): unfolding, RFC 2047 encoded words, parameters with
 * RFC 2231 and the structured Content-* values.
 *
 * Where the RFCs and the clients disagree, this file reads input the way
 * the clients do (they decide what a recipient sees) and sets a defect:
 *  - encoded words are decoded wherever they occur, also glued to other
 *    text and inside quoted parameter values (Outlook writes
 *    name="=?utf-8?B?...?="), as Thunderbird, Gmail and Outlook show them;
 *  - an unquoted parameter value runs to the next ';' or comment, spaces
 *    included (Python, Thunderbird), and its first word is kept as an
 *    alternative reading;
 *  - among duplicate parameters the RFC 2231 forms win, then the first
 *    (mime_param_get(), after Mozilla's nsMIMEHeaderParamImpl tests);
 *  - RFC 2231 continuations are joined up to the first gap (Mozilla);
 *    Python's reading, every section joined, is kept as the alternative.
 *
 * Results live on the caller's arena; scratch memory is a heap buffer
 * freed before returning.  Thread-safe with one arena per thread.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "mime_header.h"
#include "utf8.h"

/* Longest charset name taken from an encoded word or RFC 2231 value. */
#define CHARSET_MAX 64
/* Highest RFC 2231 section number accepted. */
#define SECTION_MAX 9999

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* RFC 2045 token characters: printable ASCII but tspecials. */
static const bool token_char[256] = {
	/* GNU C range designators; the gaps are the tspecials */
	['!'] = true,	      ['#' ... '\''] = true, ['*' ... '+'] = true,
	['-' ... '.'] = true, ['0' ... '9'] = true,  ['A' ... 'Z'] = true,
	['^' ... '~'] = true,
};

static inline bool
is_token_char(unsigned char c)
{
	return token_char[c];
}

static bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

uint64_t
mime_defects_from_decoder(unsigned d)
{
	uint64_t r = 0;

	if (d & DECODE_D_B64_GARBAGE)
		r |= MIME_D_B64_GARBAGE;
	if (d & DECODE_D_B64_PADDING)
		r |= MIME_D_B64_PADDING;
	if (d & DECODE_D_B64_TRUNCATED)
		r |= MIME_D_B64_TRUNCATED;
	if (d & DECODE_D_QP_BAD_ESCAPE)
		r |= MIME_D_QP_BAD_ESCAPE;
	if (d & DECODE_D_QP_LONG_LINE)
		r |= MIME_D_QP_LONG_LINE;
	if (d & DECODE_D_QP_8BIT)
		r |= MIME_D_QP_8BIT;
	if (d & DECODE_D_UU_BAD_LINE)
		r |= MIME_D_UU_BAD_LINE;
	if (d & DECODE_D_UU_NO_END)
		r |= MIME_D_UU_NO_END;
	return r;
}

uint64_t
mime_defects_from_charset(unsigned d)
{
	uint64_t r = 0;

	if (d & CHARSET_D_UNKNOWN)
		r |= MIME_D_CHARSET_UNKNOWN;
	if (d & CHARSET_D_INVALID)
		r |= MIME_D_CHARSET_INVALID;
	return r;
}

bool
mime_header_name_valid(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

/* Copy a buffer's content to the arena as a NUL-terminated view. */
static int
to_arena(struct pst_arena *arena, const char *s, size_t len,
	 struct pst_str *out_r)
{
	char *p = pst_arena_strndup(arena, len ? s : "", len);

	if (p == NULL)
		return -1;
	*out_r = (struct pst_str){ p, len };
	return 0;
}

int
mime_header_append_utf8(struct pst_buf *out, const char *in, size_t len,
			uint64_t *defects_r)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, run = 0;

	while (i < len) {
		size_t n;

		if (s[i] < 0x80) {
			if (s[i] == 0)
				*defects_r |= MIME_D_HEADER_NUL;
			i++;
			continue;
		}
		n = pst_utf8_seq_len(s + i, len - i);
		if (n > 0) {
			i += n;
			continue;
		}
		*defects_r |= MIME_D_HEADER_BAD_UTF8;
		if (pst_buf_append(out, in + run, i - run) < 0 ||
		    pst_buf_append(out, replacement, 3) < 0)
			return -1;
		run = ++i;
	}
	return pst_buf_append(out, in + run, len - run);
}

/* ---- unfolding ---- */

int
mime_header_unfold(struct pst_arena *arena, struct pst_str raw,
		   struct pst_str *out_r)
{
	const char *s = raw.p;
	size_t b = 0, e = raw.len, i, o;
	bool folded = false;
	char *p;

	while (b < e && is_space((unsigned char)s[b]))
		b++;
	while (e > b && is_space((unsigned char)s[e - 1]))
		e--;
	for (i = b; i < e; i++)
		if (s[i] == '\n') {
			folded = true;
			break;
		}
	if (!folded) {
		/* A view of the input; NUL-terminated only if it ends
		 * where the input does, else copied. */
		if (e == raw.len) {
			*out_r = (struct pst_str){ s + b, e - b };
			return 0;
		}
		return to_arena(arena, s + b, e - b, out_r);
	}
	p = pst_arena_alloc(arena, e - b + 1);
	if (p == NULL)
		return -1;
	for (i = b, o = 0; i < e; i++) {
		if (s[i] == '\r' && i + 1 < e && s[i + 1] == '\n')
			continue; /* the LF decides */
		if (s[i] == '\n') {
			/* A line break inside a field is always followed by
			 * a blank (that is what made it a continuation);
			 * RFC 5322 unfolding removes just the CRLF. */
			continue;
		}
		p[o++] = s[i];
	}
	p[o] = '\0';
	*out_r = (struct pst_str){ p, o };
	return 0;
}

/* ---- RFC 2047 encoded words ---- */

struct encoded_word {
	const char *charset;
	size_t charset_len; /* without an RFC 2231 "*lang" suffix */
	char enc;	    /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t len; /* of the whole word */
};

/*
 * Is s[0..n) the start of an encoded word?  0: no; 1: yes (*w filled);
 * -1: it starts like one ("=?charset?X?") but is malformed.
 */
static int
parse_encoded_word(const char *s, size_t n, struct encoded_word *w)
{
	size_t j = 2, k;

	if (n < 2 || s[0] != '=' || s[1] != '?')
		return 0;
	while (j < n && j - 2 <= CHARSET_MAX && s[j] != '?' &&
	       (unsigned char)s[j] > ' ' && (unsigned char)s[j] < 0x7f)
		j++;
	if (j == 2 || j >= n || s[j] != '?' || j - 2 > CHARSET_MAX)
		return 0;
	if (j + 2 >= n || s[j + 2] != '?' || !strchr("BbQq", s[j + 1]) ||
	    s[j + 1] == '\0')
		return 0;
	w->charset = s + 2;
	w->charset_len = j - 2;
	for (k = 0; k < w->charset_len; k++)
		if (w->charset[k] == '*') {
			w->charset_len = k;
			break;
		}
	w->enc = (char)(s[j + 1] & ~0x20);
	/* The text runs to the first '?', which must start "?=": neither
	 * B nor Q text may hold a '?', and stopping there keeps a broken
	 * word from swallowing the next one. */
	k = j + 3;
	while (k < n && s[k] != '?')
		k++;
	if (k + 1 >= n || s[k + 1] != '=' || w->charset_len == 0)
		return -1;
	w->text = s + j + 3;
	w->text_len = k - (j + 3);
	w->len = k + 2;
	return 1;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode the word's text into bytes (appended to raw). */
static int
decode_word_text(const struct encoded_word *w, struct pst_buf *raw,
		 uint64_t *defects_r)
{
	const unsigned char *t = (const unsigned char *)w->text;
	size_t n = w->text_len;

	if (w->enc == 'B') {
		struct decoder d;
		size_t got;

		if (pst_buf_reserve(raw, decoder_max_out(n)) < 0)
			return -1;
		decoder_init(&d, MIME_ENC_BASE64);
		got = decoder_feed(&d, t, n,
				   (unsigned char *)raw->data + raw->len);
		got += decoder_finish(&d, (unsigned char *)raw->data +
						  raw->len + got);
		raw->len += got;
		raw->data[raw->len] = '\0';
		if (d.defects)
			*defects_r |= MIME_D_ENCODED_WORD;
		return 0;
	}
	if (pst_buf_reserve(raw, n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (t[i] == '_') {
			raw->data[raw->len++] = ' ';
		} else if (t[i] == '=' && i + 2 < n &&
			   (hi = hex_value(t[i + 1])) >= 0 &&
			   (lo = hex_value(t[i + 2])) >= 0) {
			raw->data[raw->len++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			if (t[i] == '=')
				*defects_r |= MIME_D_ENCODED_WORD;
			raw->data[raw->len++] = (char)t[i];
		}
	}
	raw->data[raw->len] = '\0';
	return 0;
}

/* Convert bytes in charset (name not NUL-terminated) to UTF-8 on out. */
static int
convert_charset(const char *charset, size_t charset_len, const char *in,
		size_t len, struct pst_buf *out, uint64_t *defects_r)
{
	char name[CHARSET_MAX + 1];
	size_t start = out->len;
	unsigned cdef = 0;

	if (charset_len > CHARSET_MAX)
		charset_len = CHARSET_MAX;
	memcpy(name, charset, charset_len);
	name[charset_len] = '\0';
	if (charset_len == 0)
		return mime_header_append_utf8(out, in, len, defects_r);
	if (charset_to_utf8(name, in, len, out, &cdef) < 0)
		return -1;
	*defects_r |= mime_defects_from_charset(cdef);
	if (out->len > start &&
	    memchr(out->data + start, '\0', out->len - start) != NULL)
		*defects_r |= MIME_D_HEADER_NUL;
	return 0;
}

/* Decoded bytes of adjacent words in one charset wait here, so that a
 * character split between two words (common with B words) converts. */
struct word_run {
	struct pst_buf bytes;
	const char *charset;
	size_t charset_len;
	bool active;
};

static int
word_run_flush(struct word_run *wr, struct pst_buf *out, uint64_t *defects_r)
{
	int rc = 0;

	if (wr->active)
		rc = convert_charset(wr->charset, wr->charset_len,
				     pst_buf_view(&wr->bytes).p, wr->bytes.len,
				     out, defects_r);
	pst_buf_reset(&wr->bytes);
	wr->active = false;
	return rc;
}

static bool
all_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_blank((unsigned char)s[i]))
			return false;
	return true;
}

/* RFC 2047 decode s[0..n) onto out; *changed_r tells whether a word was
 * decoded. */
static int
decode_words(const char *s, size_t n, struct pst_buf *out, uint64_t *defects_r,
	     bool *changed_r)
{
	struct word_run wr = { .active = false };
	size_t i = 0;
	int rc = -1;

	pst_buf_init(&wr.bytes, 0);
	while (i < n) {
		const char *q = memchr(s + i, '=', n - i);
		struct encoded_word w;
		size_t at = q ? (size_t)(q - s) : n;
		int r = 0;

		while (q != NULL) {
			r = parse_encoded_word(s + at, n - at, &w);
			if (r != 0)
				break;
			q = at + 1 < n ? memchr(s + at + 1, '=', n - at - 1)
				       : NULL;
			at = q ? (size_t)(q - s) : n;
		}
		if (r < 0) {
			*defects_r |= MIME_D_ENCODED_WORD;
			r = 0;
			/* Left as written: text up to and with "=?". */
			at += 2;
		}
		if (r > 0 && wr.active && all_blank(s + i, at - i)) {
			/* Blanks between adjacent words vanish. */
		} else {
			if (word_run_flush(&wr, out, defects_r) < 0 ||
			    mime_header_append_utf8(out, s + i, at - i,
						    defects_r) < 0)
				goto out;
		}
		i = at;
		if (r == 0)
			continue;
		if (wr.active &&
		    (w.charset_len != wr.charset_len ||
		     strncasecmp(w.charset, wr.charset, w.charset_len) != 0)) {
			if (word_run_flush(&wr, out, defects_r) < 0)
				goto out;
		}
		wr.active = true;
		wr.charset = w.charset;
		wr.charset_len = w.charset_len;
		if (decode_word_text(&w, &wr.bytes, defects_r) < 0)
			goto out;
		*changed_r = true;
		i += w.len;
	}
	rc = word_run_flush(&wr, out, defects_r);
out:
	pst_buf_free(&wr.bytes);
	return rc;
}

/* Needs no decoding: plain ASCII without "=?" and without NUL. */
static bool
plain_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80 || c == 0)
			return false;
		if (c == '=' && i + 1 < n && s[i + 1] == '?')
			return false;
	}
	return true;
}

int
mime_header_decode(struct pst_arena *arena, struct pst_str in,
		   struct pst_str *out_r, uint64_t *defects_r)
{
	struct pst_buf out;
	bool changed = false;
	int rc;

	if (plain_ascii(in.p, in.len)) {
		*out_r = in;
		return 0;
	}
	pst_buf_init(&out, 0);
	rc = decode_words(in.p, in.len, &out, defects_r, &changed);
	if (rc == 0) {
		if (out.len == in.len &&
		    memcmp(pst_buf_view(&out).p, in.p, in.len) == 0)
			*out_r = in;
		else
			rc = to_arena(arena, pst_buf_view(&out).p, out.len,
				      out_r);
	}
	pst_buf_free(&out);
	return rc;
}

/* ---- structured values: comments, tokens, quoted strings ---- */

/* Skip blanks, line breaks and (nested) comments from s[i]. */
static size_t
skip_cfws(const char *s, size_t n, size_t i, uint64_t *defects_r)
{
	while (i < n) {
		unsigned depth;

		if (is_space((unsigned char)s[i])) {
			i++;
			continue;
		}
		if (s[i] != '(')
			break;
		depth = 0;
		while (i < n) {
			if (s[i] == '\\' && i + 1 < n) {
				i += 2;
				continue;
			}
			if (s[i] == '(')
				depth++;
			else if (s[i] == ')' && --depth == 0) {
				i++;
				break;
			}
			i++;
		}
		if (depth > 0)
			*defects_r |= MIME_D_PARAM_SYNTAX; /* open comment */
	}
	return i;
}

static size_t
scan_token(const char *s, size_t n, size_t i)
{
	while (i < n && is_token_char((unsigned char)s[i]))
		i++;
	return i;
}

static char *
arena_lower(struct pst_arena *arena, const char *s, size_t n)
{
	char *p = pst_arena_strndup(arena, s, n);

	if (p != NULL)
		for (size_t i = 0; i < n; i++)
			if (p[i] >= 'A' && p[i] <= 'Z')
				p[i] = (char)(p[i] + 32);
	return p;
}

/* ---- parameters ---- */

/* One "attribute=value" as written, before RFC 2231 joins sections. */
struct raw_param {
	const char *attr; /* lower case base name */
	size_t attr_len;
	long section;  /* -1: none; -2: malformed number */
	bool extended; /* attribute ended in '*' */
	bool quoted;
	bool no_value;
	bool used;	      /* taken into a joined parameter */
	struct pst_str value; /* unquoted bytes (arena) */
	struct pst_str alt;   /* another reading, or {NULL, 0} */
	unsigned order;
	unsigned group, group_n; /* its sections in the sorted index */
};

/* Read a quoted-string at s[i] == '"' into buf; returns the index after
 * the closing quote (or n when it is missing). */
static size_t
read_quoted(const char *s, size_t n, size_t i, struct pst_buf *buf,
	    uint64_t *defects_r, int *oom_r)
{
	size_t run;

	i++;
	run = i;
	while (i < n && s[i] != '"') {
		if (s[i] == '\\' && i + 1 < n) {
			/* RFC 5322 quoted-pair: the backslash goes. */
			if (pst_buf_append(buf, s + run, i - run) < 0)
				*oom_r = -1;
			run = i + 1;
			i += 2;
			continue;
		}
		i++;
	}
	if (pst_buf_append(buf, s + run, i - run) < 0)
		*oom_r = -1;
	if (i >= n) {
		*defects_r |= MIME_D_PARAM_SYNTAX; /* no closing quote */
		return n;
	}
	return i + 1;
}

/* Split "name*3*" into base name, section and the extended mark. */
static void
split_attribute(struct raw_param *rp, uint64_t *defects_r)
{
	const char *star = memchr(rp->attr, '*', rp->attr_len);
	const char *end = rp->attr + rp->attr_len;
	const char *d;
	long num = 0;

	rp->section = -1;
	rp->extended = false;
	if (star == NULL)
		return;
	if (star + 1 == end) {
		rp->extended = true;
		rp->attr_len = (size_t)(star - rp->attr);
		return;
	}
	for (d = star + 1; d < end && *d >= '0' && *d <= '9'; d++) {
		if (num <= SECTION_MAX)
			num = num * 10 + (*d - '0');
	}
	if (d == star + 1 || (d < end && !(*d == '*' && d + 1 == end))) {
		/* "name*x": not RFC 2231; kept under its full name. */
		*defects_r |= MIME_D_PARAM_RFC2231;
		return;
	}
	rp->extended = d < end;
	rp->attr_len = (size_t)(star - rp->attr);
	if ((star[1] == '0' && d - star > 2) || num > SECTION_MAX) {
		/* Leading zero or absurd number: Mozilla ignores the
		 * section; Python reads it.  Only the alternative uses it. */
		*defects_r |= MIME_D_PARAM_RFC2231;
		rp->section = -2 - num;
		return;
	}
	rp->section = num;
}

/* The value of one parameter as written, from s[i] (after '='). */
static size_t
read_value(struct pst_arena *arena, const char *s, size_t n, size_t i,
	   struct raw_param *rp, struct pst_buf *tmp, uint64_t *defects_r,
	   int *oom_r)
{
	size_t b, e, j;

	pst_buf_reset(tmp);
	if (i < n && s[i] == '"') {
		rp->quoted = true;
		i = read_quoted(s, n, i, tmp, defects_r, oom_r);
		j = skip_cfws(s, n, i, defects_r);
		if (j < n && s[j] != ';') {
			/* Junk after the closing quote: Python keeps it
			 * all, Thunderbird drops it.  Both readings. */
			*defects_r |= MIME_D_PARAM_SYNTAX;
			e = j;
			while (e < n && s[e] != ';')
				e++;
			b = tmp->len;
			if (pst_buf_append(tmp, s + j, e - j) < 0)
				*oom_r = -1;
			while (e > j && is_space((unsigned char)s[e - 1]))
				e--;
			if (to_arena(arena, pst_buf_view(tmp).p, tmp->len,
				     &rp->alt) < 0)
				*oom_r = -1;
			tmp->len = b;
			j = e;
		}
		if (to_arena(arena, pst_buf_view(tmp).p, tmp->len, &rp->value) <
		    0)
			*oom_r = -1;
		return j;
	}
	/* Unquoted: to the next ';' or comment, blanks inside included. */
	b = i;
	e = i;
	while (e < n && s[e] != ';' && s[e] != '(')
		e++;
	j = e;
	while (e > b && is_space((unsigned char)s[e - 1]))
		e--;
	if (to_arena(arena, s + b, e - b, &rp->value) < 0)
		*oom_r = -1;
	for (size_t k = b; k < e; k++)
		if (is_space((unsigned char)s[k]) || s[k] == '"') {
			*defects_r |= MIME_D_PARAM_SYNTAX;
			if (is_space((unsigned char)s[k]) &&
			    to_arena(arena, s + b, k - b, &rp->alt) < 0)
				*oom_r = -1;
			break;
		}
	if (j < n && s[j] == '(') {
		j = skip_cfws(s, n, j, defects_r);
		if (j < n && s[j] != ';')
			*defects_r |= MIME_D_PARAM_SYNTAX;
		while (j < n && s[j] != ';')
			j++;
	}
	return j;
}

/* Tokenise s[0..n) into raw parameters (arena array). */
static int
read_raw_params(struct pst_arena *arena, const char *s, size_t n,
		struct raw_param **raw_r, unsigned *nraw_r, uint64_t *defects_r)
{
	struct raw_param *raw;
	struct pst_buf tmp;
	size_t i = 0, cap = 1;
	unsigned nraw = 0;
	int oom = 0;

	for (size_t k = 0; k < n; k++)
		if (s[k] == ';')
			cap++;
	raw = pst_arena_calloc(arena, cap, sizeof(*raw));
	if (raw == NULL)
		return -1;
	pst_buf_init(&tmp, 0);
	while (i < n && oom == 0) {
		struct raw_param *rp;
		size_t a;

		i = skip_cfws(s, n, i, defects_r);
		if (i >= n)
			break;
		if (s[i] == ';') {
			i++;
			continue;
		}
		a = i;
		while (i < n && s[i] != '=' && s[i] != ';' && s[i] != '(' &&
		       s[i] != '"' && !is_space((unsigned char)s[i]))
			i++;
		if (i == a) {
			/* "=x" or a stray quote: skip to the next ';'. */
			*defects_r |= MIME_D_PARAM_SYNTAX;
			while (i < n && s[i] != ';')
				i++;
			continue;
		}
		if (nraw >= cap)
			break; /* cannot happen: one per ';' at most */
		rp = &raw[nraw];
		rp->order = nraw;
		rp->attr = arena_lower(arena, s + a, i - a);
		if (rp->attr == NULL) {
			oom = -1;
			break;
		}
		rp->attr_len = i - a;
		nraw++;
		split_attribute(rp, defects_r);
		i = skip_cfws(s, n, i, defects_r);
		if (i >= n || s[i] != '=') {
			*defects_r |= MIME_D_PARAM_SYNTAX;
			rp->no_value = true;
			rp->value = (struct pst_str){ "", 0 };
			while (i < n && s[i] != ';')
				i++;
			continue;
		}
		i = skip_cfws(s, n, i + 1, defects_r);
		i = read_value(arena, s, n, i, rp, &tmp, defects_r, &oom);
	}
	pst_buf_free(&tmp);
	*raw_r = raw;
	*nraw_r = nraw;
	return oom;
}

static int
cmp_attr(const struct raw_param *a, const struct raw_param *b)
{
	size_t n = a->attr_len < b->attr_len ? a->attr_len : b->attr_len;
	int c = memcmp(a->attr, b->attr, n);

	if (c != 0)
		return c;
	return a->attr_len < b->attr_len ? -1 : a->attr_len > b->attr_len;
}

/* By name, then order of appearance: the sections of one name are then
 * side by side (grouping stays O(n log n) for hostile headers). */
static int
cmp_by_name(const void *a, const void *b)
{
	const struct raw_param *x = *(const struct raw_param *const *)a;
	const struct raw_param *y = *(const struct raw_param *const *)b;
	int c = cmp_attr(x, y);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* An index of the sectioned parameters, grouped by name. */
static struct raw_param **
group_sections(struct pst_arena *arena, struct raw_param *raw, unsigned nraw)
{
	struct raw_param **idx =
		pst_arena_calloc(arena, nraw + 1, sizeof(*idx));
	unsigned n = 0;

	if (idx == NULL)
		return NULL;
	for (unsigned k = 0; k < nraw; k++)
		if (raw[k].section != -1)
			idx[n++] = &raw[k];
	qsort(idx, n, sizeof(*idx), cmp_by_name);
	for (unsigned k = 0, start = 0; k < n; k++) {
		if (k + 1 < n && cmp_attr(idx[k], idx[k + 1]) == 0)
			continue;
		for (unsigned j = start; j <= k; j++) {
			idx[j]->group = start;
			idx[j]->group_n = k + 1 - start;
		}
		start = k + 1;
	}
	return idx;
}

/* Percent-decode (RFC 2231 extended value) onto out. */
static int
percent_decode(const char *s, size_t n, struct pst_buf *out,
	       uint64_t *defects_r)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		char c;

		if (s[i] != '%')
			continue;
		if (pst_buf_append(out, s + run, i - run) < 0)
			return -1;
		if (i + 2 < n &&
		    (hi = hex_value((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hex_value((unsigned char)s[i + 2])) >= 0) {
			c = (char)(hi << 4 | lo);
			if (pst_buf_append(out, &c, 1) < 0)
				return -1;
			i += 2;
		} else {
			*defects_r |= MIME_D_PARAM_RFC2231;
			if (pst_buf_append(out, "%", 1) < 0)
				return -1;
		}
		run = i + 1;
	}
	return pst_buf_append(out, s + run, n - run);
}

/* Keep another reading of p's value, unless it is no different. */
static void
add_alt(struct mime_param *p, struct pst_str alt)
{
	if (alt.p == NULL || pst_str_eq(alt, p->value))
		return;
	for (unsigned k = 0; k < MIME_PARAM_ALTS; k++) {
		if (p->alt[k].p == NULL) {
			p->alt[k] = alt;
			return;
		}
		if (pst_str_eq(p->alt[k], alt))
			return;
	}
}

/* Turn the bytes of a parameter into its UTF-8 value (or an alt). */
static int
finish_value(struct pst_arena *arena, const char *charset, bool extended,
	     const char *bytes, size_t len, struct pst_str *value_r,
	     unsigned *flags, struct pst_buf *tmp, uint64_t *defects_r)
{
	int rc;

	pst_buf_reset(tmp);
	if (charset != NULL && *charset != '\0') {
		rc = convert_charset(charset, strlen(charset), bytes, len, tmp,
				     defects_r);
	} else if (extended) {
		/* No charset named: read as UTF-8, as clients do today. */
		rc = mime_header_append_utf8(tmp, bytes, len, defects_r);
	} else {
		bool changed = false;

		rc = decode_words(bytes, len, tmp, defects_r, &changed);
		if (changed && flags != NULL)
			*flags |= MIME_PARAM_ENCODED_WORD;
	}
	if (rc < 0)
		return -1;
	return to_arena(arena, pst_buf_view(tmp).p, tmp->len, value_r);
}

/* Split an RFC 2231 extended value "charset'lang'text". */
static int
split_extended(struct pst_arena *arena, struct pst_str v, const char **cs_r,
	       const char **lang_r, struct pst_str *text_r, uint64_t *defects_r)
{
	const char *q1 = memchr(v.p, '\'', v.len);
	const char *q2 =
		q1 ? memchr(q1 + 1, '\'', v.len - (size_t)(q1 + 1 - v.p))
		   : NULL;

	*cs_r = NULL;
	*lang_r = NULL;
	if (q2 == NULL) {
		/* No quotes: Python takes it all as text, so do we. */
		*defects_r |= MIME_D_PARAM_RFC2231;
		*text_r = v;
		return 0;
	}
	*cs_r = pst_arena_strndup(arena, v.p, (size_t)(q1 - v.p));
	*lang_r = pst_arena_strndup(arena, q1 + 1, (size_t)(q2 - q1 - 1));
	if (*cs_r == NULL || *lang_r == NULL)
		return -1;
	if (**lang_r == '\0')
		*lang_r = NULL;
	*text_r = (struct pst_str){ q2 + 1, v.len - (size_t)(q2 + 1 - v.p) };
	return 0;
}

static long
section_number(const struct raw_param *rp)
{
	return rp->section >= 0 ? rp->section : -2 - rp->section;
}

static int
cmp_sections(const void *a, const void *b)
{
	const struct raw_param *x = *(const struct raw_param *const *)a;
	const struct raw_param *y = *(const struct raw_param *const *)b;
	long nx = section_number(x), ny = section_number(y);

	if (nx != ny)
		return nx < ny ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Join sections sec[0..n) (sorted) into bytes; section 0, when
 * extended, names the charset. */
static int
join_sections(struct pst_arena *arena, struct raw_param **sec, unsigned n,
	      struct pst_buf *bytes, const char **cs_r, const char **lang_r,
	      bool *extended_r, uint64_t *defects_r)
{
	*cs_r = NULL;
	*lang_r = NULL;
	*extended_r = false;
	for (unsigned k = 0; k < n; k++) {
		struct pst_str text = sec[k]->value;

		if (sec[k]->extended) {
			*extended_r = true;
			if (k == 0 && split_extended(arena, text, cs_r, lang_r,
						     &text, defects_r) < 0)
				return -1;
			if (percent_decode(text.p, text.len, bytes, defects_r) <
			    0)
				return -1;
		} else if (pst_buf_append(bytes, text.p, text.len) < 0) {
			return -1;
		}
	}
	return 0;
}

/* Build the joined parameter from the n sections grp[] of one name. */
static int
build_continued(struct pst_arena *arena, struct raw_param **grp, unsigned n,
		struct mime_param *p, struct pst_buf *tmp, uint64_t *defects_r)
{
	struct raw_param **sec;
	struct pst_buf bytes;
	struct pst_str joined = PST_STR_NULL, last = PST_STR_NULL;
	unsigned take = 0;
	const char *cs, *lang;
	bool ext;
	int rc = -1;

	sec = pst_arena_calloc(arena, n, sizeof(*sec));
	if (sec == NULL)
		return -1;
	for (unsigned k = 0; k < n; k++) {
		grp[k]->used = true;
		sec[k] = grp[k];
	}
	qsort(sec, n, sizeof(*sec), cmp_sections);
	/* Mozilla: 0, 1, 2... up to the first gap; a duplicate section
	 * or one with a leading zero is ignored. */
	for (unsigned k = 0; k < n; k++) {
		if (sec[k]->section == (long)take) {
			sec[take++] = sec[k];
			continue;
		}
		*defects_r |= MIME_D_PARAM_RFC2231;
		if (sec[k]->section > (long)take)
			break;
	}
	p->flags |= MIME_PARAM_CONTINUED;
	pst_buf_init(&bytes, 0);
	if (take < n) {
		/* The readings of parsers that join every section (Python)
		 * and of those that keep the last of a duplicate are the
		 * alternatives.  sec[] was partly overwritten: sort the full
		 * set again. */
		struct raw_param **all =
			pst_arena_calloc(arena, n, sizeof(*all));
		unsigned m = 0, nl = 0;

		if (all == NULL)
			goto out;
		for (unsigned k = 0; k < n; k++)
			all[m++] = grp[k];
		qsort(all, m, sizeof(*all), cmp_sections);
		if (join_sections(arena, all, m, &bytes, &cs, &lang, &ext,
				  defects_r) < 0 ||
		    finish_value(arena, cs, ext, pst_buf_view(&bytes).p,
				 bytes.len, &joined, NULL, tmp, defects_r) < 0)
			goto out;
		pst_buf_reset(&bytes);
		/* last of each number 0, 1, 2... (reuses all[] in place) */
		for (unsigned k = 0; k < m; k++) {
			if (all[k]->section < 0)
				continue;
			if (nl > 0 && all[k]->section == (long)nl - 1)
				all[nl - 1] = all[k];
			else if (all[k]->section == (long)nl)
				all[nl++] = all[k];
			else
				break;
		}
		if (nl > 0 &&
		    (join_sections(arena, all, nl, &bytes, &cs, &lang, &ext,
				   defects_r) < 0 ||
		     finish_value(arena, cs, ext, pst_buf_view(&bytes).p,
				  bytes.len, &last, NULL, tmp, defects_r) < 0))
			goto out;
		pst_buf_reset(&bytes);
		if (take == 0) {
			/* No section 0: nothing by Mozilla's rules; the
			 * joined reading is all there is. */
			p->value = joined;
			add_alt(p, last);
			rc = 0;
			goto out;
		}
	}
	if (join_sections(arena, sec, take, &bytes, &cs, &lang, &ext,
			  defects_r) < 0)
		goto out;
	if (sec[0]->quoted)
		p->flags |= MIME_PARAM_QUOTED;
	if (ext)
		p->flags |= MIME_PARAM_EXTENDED;
	p->charset = cs;
	p->language = lang;
	rc = finish_value(arena, cs, ext, pst_buf_view(&bytes).p, bytes.len,
			  &p->value, &p->flags, tmp, defects_r);
	if (rc == 0) {
		add_alt(p, joined);
		add_alt(p, last);
	}
out:
	pst_buf_free(&bytes);
	return rc;
}

static int
build_single(struct pst_arena *arena, struct raw_param *rp,
	     struct mime_param *p, struct pst_buf *tmp, uint64_t *defects_r)
{
	if (rp->quoted)
		p->flags |= MIME_PARAM_QUOTED;
	if (rp->no_value)
		p->flags |= MIME_PARAM_NO_VALUE;
	if (rp->extended) {
		struct pst_buf bytes;
		struct pst_str text;
		int rc;

		p->flags |= MIME_PARAM_EXTENDED;
		if (split_extended(arena, rp->value, &p->charset, &p->language,
				   &text, defects_r) < 0)
			return -1;
		pst_buf_init(&bytes, 0);
		rc = percent_decode(text.p, text.len, &bytes, defects_r);
		if (rc == 0)
			rc = finish_value(arena, p->charset, true,
					  pst_buf_view(&bytes).p, bytes.len,
					  &p->value, &p->flags, tmp, defects_r);
		pst_buf_free(&bytes);
		return rc;
	}
	if (finish_value(arena, NULL, false, rp->value.p, rp->value.len,
			 &p->value, &p->flags, tmp, defects_r) < 0)
		return -1;
	if (rp->alt.p != NULL) {
		struct pst_str alt;

		if (finish_value(arena, NULL, false, rp->alt.p, rp->alt.len,
				 &alt, NULL, tmp, defects_r) < 0)
			return -1;
		add_alt(p, alt);
	}
	return 0;
}

unsigned
mime_param_rank(const struct mime_param *p)
{
	if (p->flags & MIME_PARAM_CONTINUED)
		return 1;
	if (p->flags & MIME_PARAM_EXTENDED)
		return 0;
	return 2;
}

const struct mime_param *
mime_param_get(const struct mime_param *params, const char *name)
{
	const struct mime_param *best = NULL;

	for (const struct mime_param *p = params; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0 &&
		    (best == NULL ||
		     mime_param_rank(p) < mime_param_rank(best)))
			best = p;
	return best;
}

static int
cmp_params(const void *a, const void *b)
{
	const struct mime_param *x = *(const struct mime_param *const *)a;
	const struct mime_param *y = *(const struct mime_param *const *)b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return (int)mime_param_rank(x) - (int)mime_param_rank(y);
}

/* The same name twice in the same form is a duplicate; filename= next
 * to filename*= is how Outlook and Thunderbird write and is not. */
static void
check_duplicates(struct mime_param *head, unsigned n, uint64_t *defects_r)
{
	struct mime_param **v;
	unsigned k = 0;

	if (n < 2)
		return;
	v = malloc(n * sizeof(*v));
	if (v == NULL)
		return; /* only a defect bit lost */
	for (struct mime_param *p = head; p != NULL && k < n; p = p->next)
		v[k++] = p;
	qsort(v, k, sizeof(*v), cmp_params);
	for (unsigned i = 1; i < k; i++)
		if (cmp_params(&v[i - 1], &v[i]) == 0) {
			*defects_r |= MIME_D_PARAM_DUPLICATE;
			break;
		}
	free(v);
}

int
mime_header_parse_params(struct pst_arena *arena, struct pst_str in,
			 struct mime_param **params_r, unsigned *nparams_r,
			 uint64_t *defects_r)
{
	struct mime_param *head = NULL, **tail = &head;
	struct raw_param *raw, **idx;
	struct pst_buf tmp;
	unsigned nraw, n = 0;
	int rc = 0;

	*params_r = NULL;
	*nparams_r = 0;
	if (read_raw_params(arena, in.p, in.len, &raw, &nraw, defects_r) < 0 ||
	    (idx = group_sections(arena, raw, nraw)) == NULL)
		return -1;
	pst_buf_init(&tmp, 0);
	for (unsigned k = 0; k < nraw && rc == 0; k++) {
		struct mime_param *p;

		if (raw[k].used)
			continue;
		p = pst_arena_zalloc(arena, sizeof(*p));
		if (p == NULL ||
		    (p->name = pst_arena_strndup(arena, raw[k].attr,
						 raw[k].attr_len)) == NULL) {
			rc = -1;
			break;
		}
		if (raw[k].section == -1)
			rc = build_single(arena, &raw[k], p, &tmp, defects_r);
		else
			rc = build_continued(arena, idx + raw[k].group,
					     raw[k].group_n, p, &tmp,
					     defects_r);
		if (rc == 0 && memchr(p->value.p, '\0', p->value.len) != NULL) {
			/* What C code that stops at the NUL sees. */
			add_alt(p, (struct pst_str){ p->value.p,
						     strlen(p->value.p) });
		}
		*tail = p;
		tail = &p->next;
		n++;
	}
	pst_buf_free(&tmp);
	if (rc < 0)
		return -1;
	check_duplicates(head, n, defects_r);
	*params_r = head;
	*nparams_r = n;
	return 0;
}

/* ---- Content-Type, Content-Disposition, Content-Transfer-Encoding ---- */

int
mime_header_parse_content_type(struct pst_arena *arena, struct pst_str in,
			       struct mime_ctype *ct_r, uint64_t *defects_r)
{
	const char *s = in.p;
	size_t n = in.len, i, t0, t1, s0 = 0, s1 = 0;
	bool ok;

	memset(ct_r, 0, sizeof(*ct_r));
	i = skip_cfws(s, n, 0, defects_r);
	t0 = i;
	i = t1 = scan_token(s, n, i);
	i = skip_cfws(s, n, i, defects_r);
	ok = t1 > t0 && i < n && s[i] == '/';
	if (ok) {
		i = s0 = skip_cfws(s, n, i + 1, defects_r);
		i = s1 = scan_token(s, n, i);
		ok = s1 > s0;
		/* "a/b/c" is no type either (Python agrees). */
		for (size_t k = s1; ok && k < n && s[k] != ';'; k++)
			if (s[k] == '/')
				ok = false;
	}
	if (ok) {
		char *v = pst_arena_alloc(arena, t1 - t0 + s1 - s0 + 2);

		if (v == NULL)
			return -1;
		for (size_t k = t0; k < t1; k++)
			v[k - t0] = s[k];
		v[t1 - t0] = '/';
		for (size_t k = s0; k < s1; k++)
			v[t1 - t0 + 1 + k - s0] = s[k];
		v[t1 - t0 + 1 + s1 - s0] = '\0';
		for (char *c = v; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c + 32);
		ct_r->value = v;
	} else {
		/* RFC 2045 5.2: an invalid type is read as text/plain
		 * (the caller's default).  Parameters still count. */
		*defects_r |= MIME_D_BAD_CONTENT_TYPE;
		while (i < n && s[i] != ';')
			i++;
	}
	i = skip_cfws(s, n, i, defects_r);
	if (i < n && s[i] != ';')
		*defects_r |= MIME_D_PARAM_SYNTAX; /* "text/plain junk" */
	return mime_header_parse_params(arena, (struct pst_str){ s + i, n - i },
					&ct_r->params, &ct_r->nparams,
					defects_r);
}

int
mime_header_parse_disposition(struct pst_arena *arena, struct pst_str in,
			      struct mime_ctype *cd_r, uint64_t *defects_r)
{
	const char *s = in.p;
	size_t n = in.len, i, t0, t1;

	memset(cd_r, 0, sizeof(*cd_r));
	i = skip_cfws(s, n, 0, defects_r);
	t0 = i;
	i = t1 = scan_token(s, n, i);
	if (t1 > t0 &&
	    (cd_r->value = arena_lower(arena, s + t0, t1 - t0)) == NULL)
		return -1;
	i = skip_cfws(s, n, i, defects_r);
	if (i < n && s[i] != ';') {
		/* "attachment filename=x": the parameters are still read,
		 * as lenient clients find them. */
		*defects_r |= MIME_D_PARAM_SYNTAX;
		if (t1 == t0)
			while (i < n && s[i] != ';')
				i++;
	}
	return mime_header_parse_params(arena, (struct pst_str){ s + i, n - i },
					&cd_r->params, &cd_r->nparams,
					defects_r);
}

enum mime_encoding
mime_header_parse_cte(struct pst_str in, struct pst_str *token_r,
		      uint64_t *defects_r)
{
	const char *s = in.p;
	size_t n = in.len, i, t0, t1;
	enum mime_encoding enc;

	i = skip_cfws(s, n, 0, defects_r);
	t0 = i;
	t1 = scan_token(s, n, i);
	*token_r = (struct pst_str){ s + t0, t1 - t0 };
	if (t1 == t0) {
		if (skip_cfws(s, n, t1, defects_r) < n)
			*defects_r |= MIME_D_UNKNOWN_CTE;
		return MIME_ENC_7BIT;
	}
	if (skip_cfws(s, n, t1, defects_r) < n)
		*defects_r |= MIME_D_PARAM_SYNTAX;
	enc = decode_encoding_from_name(*token_r);
	if (enc == MIME_ENC_UNKNOWN)
		*defects_r |= MIME_D_UNKNOWN_CTE;
	return enc;
}
