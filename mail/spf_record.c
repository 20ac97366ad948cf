/*
 * spf_record.c - the SPF record grammar of RFC 7208 section 12: version,
 * directives (qualifier and mechanism, with domain-spec, IP networks and
 * dual CIDR lengths) and modifiers (redirect=, exp=, unknown ones).
 *
 * The whole record is checked before anything is evaluated (4.6: a
 * syntax error anywhere is a permerror).  The parsed record holds views
 * into the record text; the term array lives on the caller's arena.
 * Thread-safe.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "arena.h"
#include "spf_int.h"

/* How much of a bad term an error text quotes. */
#define ERROR_QUOTE_MAX 64

static const struct {
	const char *name;
	enum spf_mech mech;
} mechanisms[] = {
	{ "all", SPF_MECH_ALL }, { "include", SPF_MECH_INCLUDE },
	{ "a", SPF_MECH_A },	 { "mx", SPF_MECH_MX },
	{ "ptr", SPF_MECH_PTR }, { "ip4", SPF_MECH_IP4 },
	{ "ip6", SPF_MECH_IP6 }, { "exists", SPF_MECH_EXISTS },
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_name_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.';
}

bool
spf_record_is_spf(const char *text, size_t len)
{
	return text != NULL && len >= 6 &&
	       strncasecmp(text, "v=spf1", 6) == 0 &&
	       (len == 6 || text[6] == ' ');
}

/* "syntax error at 'term'", the term cut and made printable. */
static const char *
syntax_error(struct pst_arena *arena, struct pst_str term, const char *why)
{
	char quoted[ERROR_QUOTE_MAX + 4];
	size_t n = 0;
	const char *text;

	for (size_t i = 0; i < term.len && n < ERROR_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)term.p[i];

		quoted[n++] =
			c >= 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
	}
	if (n < term.len)
		memcpy(quoted + n, "...", 3), n += 3;
	quoted[n] = '\0';
	text = pst_arena_printf(arena, "syntax error at '%s': %s", quoted, why);
	return text != NULL ? text : "syntax error";
}

/* Where the macro-string part of a domain-spec ends is where the last
 * macro-expand ends (RFC 7208 domain-end: "." toplabel ["."] or a
 * macro-expand; a trailing dot after a macro is accepted as well). */
static bool
ends_with_macro(struct pst_str s)
{
	size_t i = 0, end = 0;

	/* Walk the checked string to find the end of its last macro. */
	while (i < s.len) {
		if (s.p[i] != '%') {
			i++;
			continue;
		}
		if (i + 1 < s.len && s.p[i + 1] == '{') {
			const char *close = memchr(s.p + i, '}', s.len - i);

			i = close != NULL ? (size_t)(close - s.p) + 1 : s.len;
		} else {
			i += 2;
		}
		end = i;
	}
	return end != 0 && end == s.len;
}

/* domain-spec = macro-string domain-end (RFC 7208 section 12). */
static int
check_domain_spec(struct pst_str s, const char **why_r)
{
	struct pst_str body = s;
	size_t dot;

	if (s.len == 0) {
		*why_r = "empty domain";
		return -1;
	}
	if (spf_macro_check(s, 0, why_r) < 0)
		return -1;
	if (ends_with_macro(s))
		return 0;
	if (body.p[body.len - 1] == '.')
		body.len--;
	if (ends_with_macro(body) && body.len > 0)
		return 0;
	for (dot = body.len; dot > 0 && body.p[dot - 1] != '.'; dot--)
		;
	if (dot == 0 || !spf_toplabel_valid(body.p + dot, body.len - dot)) {
		*why_r = "bad top-level label";
		return -1;
	}
	return 0;
}

/* "/" ( "0" / %x31-39 0*N DIGIT ), value at most max. */
static int
parse_cidr(struct pst_str digits, int max, int *cidr_r)
{
	int v = 0;

	if (digits.len == 0 || digits.len > 3 ||
	    (digits.p[0] == '0' && digits.len > 1))
		return -1;
	for (size_t i = 0; i < digits.len; i++) {
		if (!is_digit(digits.p[i]))
			return -1;
		v = v * 10 + (digits.p[i] - '0');
	}
	if (v > max)
		return -1;
	*cidr_r = v;
	return 0;
}

/* Length of the run of digits that ends s. */
static size_t
trailing_digits(struct pst_str s)
{
	size_t n = 0;

	while (n < s.len && is_digit(s.p[s.len - 1 - n]))
		n++;
	return n;
}

/*
 * Take a dual-cidr-length off the end of *s (a domain-spec cannot end
 * in "/" DIGIT, so a suffix of that shape is always the CIDR part).
 */
static int
split_dual_cidr(struct pst_str *s, struct spf_term *t, const char **why_r)
{
	size_t n = trailing_digits(*s);

	if (n > 0 && s->len >= n + 2 && s->p[s->len - n - 1] == '/' &&
	    s->p[s->len - n - 2] == '/') {
		struct pst_str d = { s->p + s->len - n, n };

		if (parse_cidr(d, 128, &t->cidr6) < 0) {
			*why_r = "bad IPv6 prefix length";
			return -1;
		}
		s->len -= n + 2;
		n = trailing_digits(*s);
	}
	if (n > 0 && s->len >= n + 1 && s->p[s->len - n - 1] == '/') {
		struct pst_str d = { s->p + s->len - n, n };

		if (parse_cidr(d, 32, &t->cidr4) < 0) {
			*why_r = "bad IPv4 prefix length";
			return -1;
		}
		s->len -= n + 1;
	}
	return 0;
}

/* ip4:network[/len] and ip6:network[/len].  The IPv4 prefix follows the
 * last '/' so that "a.b.c.d//n" fails on the network part; an IPv6
 * network holds no '/'. */
static int
parse_ip(struct pst_str arg, struct spf_term *t, const char **why_r)
{
	bool v4 = t->mech == SPF_MECH_IP4;
	struct pst_str net = arg;
	size_t slash = arg.len;
	int r;

	for (size_t i = 0; i < arg.len; i++) {
		if (arg.p[i] == '/') {
			slash = i;
			if (!v4)
				break;
		}
	}
	if (slash < arg.len) {
		struct pst_str d = { arg.p + slash + 1, arg.len - slash - 1 };

		net.len = slash;
		if (parse_cidr(d, v4 ? 32 : 128, v4 ? &t->cidr4 : &t->cidr6) <
		    0) {
			*why_r = v4 ? "bad IPv4 prefix length"
				    : "bad IPv6 prefix length";
			return -1;
		}
	}
	r = v4 ? spf_addr_parse_ip4(net, &t->net)
	       : spf_addr_parse_ip6(net, &t->net);
	if (r < 0)
		*why_r = v4 ? "bad IPv4 address" : "bad IPv6 address";
	return r;
}

/* The part of a mechanism after its name: [":" domain-spec] and CIDR. */
static int
parse_mech_arg(struct pst_str rest, struct spf_term *t, const char **why_r)
{
	bool domain_required =
		t->mech == SPF_MECH_INCLUDE || t->mech == SPF_MECH_EXISTS;
	bool cidr_allowed = t->mech == SPF_MECH_A || t->mech == SPF_MECH_MX;
	struct pst_str spec;

	switch (t->mech) {
	case SPF_MECH_ALL:
		if (rest.len != 0) {
			*why_r = "'all' takes no argument";
			return -1;
		}
		return 0;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		if (rest.len == 0 || rest.p[0] != ':') {
			*why_r = "missing address";
			return -1;
		}
		rest.p++, rest.len--;
		return parse_ip(rest, t, why_r);
	default:
		break;
	}
	if (cidr_allowed && split_dual_cidr(&rest, t, why_r) < 0)
		return -1;
	if (rest.len == 0) {
		if (domain_required) {
			*why_r = "missing domain";
			return -1;
		}
		return 0;
	}
	if (rest.p[0] != ':') {
		*why_r = "unexpected text after the mechanism";
		return -1;
	}
	spec = (struct pst_str){ rest.p + 1, rest.len - 1 };
	if (check_domain_spec(spec, why_r) < 0)
		return -1;
	t->domain = spec;
	return 0;
}

static int
parse_directive(struct pst_str term, struct spf_term *t, const char **why_r)
{
	static const char qualifiers[] = "+-~?";
	static const enum spf_result results[] = { SPF_RESULT_PASS,
						   SPF_RESULT_FAIL,
						   SPF_RESULT_SOFTFAIL,
						   SPF_RESULT_NEUTRAL };
	const char *q = memchr(qualifiers, term.p[0], 4);
	struct pst_str s = term;
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	t->text = term;
	t->qualifier = SPF_RESULT_PASS;
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (q != NULL) {
		t->qualifier = results[q - qualifiers];
		s.p++;
		s.len--;
	}
	while (n < s.len && s.p[n] != ':' && s.p[n] != '/')
		n++;
	for (size_t i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]);
	     i++) {
		if (strlen(mechanisms[i].name) == n &&
		    strncasecmp(s.p, mechanisms[i].name, n) == 0) {
			t->mech = mechanisms[i].mech;
			return parse_mech_arg(
				(struct pst_str){ s.p + n, s.len - n }, t,
				why_r);
		}
	}
	*why_r = "unknown mechanism";
	return -1;
}

static int
parse_modifier(struct pst_str term, size_t name_len, struct spf_record *rec,
	       const char **why_r)
{
	struct pst_str value = { term.p + name_len + 1,
				 term.len - name_len - 1 };
	struct pst_str *slot = NULL;

	if (name_len == 8 && strncasecmp(term.p, "redirect", 8) == 0)
		slot = &rec->redirect;
	else if (name_len == 3 && strncasecmp(term.p, "exp", 3) == 0)
		slot = &rec->exp;
	if (slot == NULL)
		/* unknown-modifier = name "=" macro-string: ignored, but
		 * still checked */
		return spf_macro_check(value, SPF_MACRO_ANY, why_r);
	if (slot->p != NULL) {
		*why_r = "modifier given twice";
		return -1;
	}
	if (check_domain_spec(value, why_r) < 0)
		return -1;
	*slot = value;
	return 0;
}

static int
parse_term(struct pst_str term, struct spf_record *rec, struct spf_term *t,
	   bool *is_mech_r, const char **why_r)
{
	size_t n = 0;

	*is_mech_r = false;
	while (n < term.len && is_name_char(term.p[n]))
		n++;
	if (n < term.len && term.p[n] == '=') {
		if (n == 0 || !is_alpha(term.p[0])) {
			*why_r = "bad modifier name";
			return -1;
		}
		return parse_modifier(term, n, rec, why_r);
	}
	*is_mech_r = true;
	return parse_directive(term, t, why_r);
}

int
spf_record_parse(const char *text, size_t len, struct pst_arena *arena,
		 struct spf_record *rec_r, const char **error_r)
{
	size_t i = 6, nterms = 0;

	memset(rec_r, 0, sizeof(*rec_r));
	if (!spf_record_is_spf(text, len)) {
		*error_r = "not an SPF record";
		return -1;
	}
	if (len > SPF_MAX_RECORD) {
		*error_r = "record too long";
		return -1;
	}
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)text[k];

		if (c < 0x20 || c > 0x7e) {
			*error_r = "record holds a control or non-ASCII "
				   "character";
			return -1;
		}
		if (c == ' ' && k + 1 < len && text[k + 1] != ' ')
			nterms++;
	}
	rec_r->terms =
		pst_arena_calloc(arena, nterms + 1, sizeof(*rec_r->terms));
	if (rec_r->terms == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	while (i < len) {
		struct pst_str term;
		const char *why = NULL;
		struct spf_term *t = &rec_r->terms[rec_r->nterms];
		bool is_mech;

		while (i < len && text[i] == ' ')
			i++;
		if (i == len)
			break;
		term.p = text + i;
		while (i < len && text[i] != ' ')
			i++;
		term.len = (size_t)(text + i - term.p);
		if (parse_term(term, rec_r, t, &is_mech, &why) < 0) {
			*error_r = syntax_error(arena, term, why);
			return -1;
		}
		if (is_mech) {
			if (t->mech == SPF_MECH_ALL)
				rec_r->has_all = true;
			rec_r->nterms++;
		}
	}
	return 0;
}

int
spf_record_check(const char *text, size_t len, struct pst_arena *arena,
		 const char **error_r)
{
	struct spf_record rec;

	return spf_record_parse(text, len, arena, &rec, error_r);
}
