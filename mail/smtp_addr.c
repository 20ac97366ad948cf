/*
 * smtp_addr.c - RFC 5321 section 4.1.2 paths with RFC 6531 UTF-8 (see
 * smtp_addr.h).
 *
 * A single forward pass over the input with a cursor; no recursion, no
 * allocation, so hostile input costs time linear in its length and can
 * never read past s[len).  Results are views into the caller's bytes.
 * Error texts are static.  Thread-safe.
 *
 * The grammar is the strict one of RFC 5321 on purpose: this parser's
 * answer decides what the relay check sees, so anything a downstream MTA
 * could read differently (routing characters, source routes, general
 * address literals) is either refused or flagged for the caller.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "smtp_addr.h"
#include "utf8.h"

/* "IPv6:" plus the longest textual IPv6 address (with an IPv4 tail). */
#define LITERAL_MAX_CONTENT (5 + 45)

#define E_MISSING "5.1.3 Missing address"
#define E_BRACKETS "5.1.3 Address must be enclosed in <>"
#define E_UNTERMINATED "5.1.3 Missing '>' at the end of the address"
#define E_NULL "5.1.3 Null address not allowed here"
#define E_NO_DOMAIN "5.1.3 Address lacks a domain"
#define E_LOCAL "5.1.3 Bad local part syntax"
#define E_QUOTE "5.1.3 Unterminated quoted string in address"
#define E_DOMAIN "5.1.3 Bad domain syntax in address"
#define E_LITERAL "5.1.3 Bad address literal"
#define E_GENERAL "5.1.3 General address literals are not supported"
#define E_ROUTE "5.1.3 Bad source route syntax"
#define E_CTRL "5.1.3 Control character in address"
#define E_SPACE "5.1.3 Unexpected space in address"
#define E_BAD_UTF8 "5.1.3 Malformed UTF-8 in address"
#define E_LOCAL_LONG "5.1.3 Local part too long"
#define E_DOMAIN_LONG "5.1.3 Domain too long"
#define E_LABEL_LONG "5.1.3 Domain label too long"
#define E_PATH_LONG "5.1.3 Address too long"
#define E_UTF8 "5.6.7 Non-ASCII address requires SMTPUTF8"

struct cursor {
	const unsigned char *s;
	size_t pos;
	size_t end;
	unsigned opts;	/* enum smtp_addr_opt */
	unsigned flags; /* enum smtp_addr_flag found so far */
	const char *error;
};

static inline bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext, ASCII part. */
static bool
is_atext(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
fail(struct cursor *c, const char *error)
{
	c->error = error;
	return -1;
}

/* The error for a byte the grammar does not allow here: control
 * characters and spaces get their own texts so that logs say why. */
static int
fail_at(struct cursor *c, const char *error)
{
	unsigned char ch;

	if (c->pos >= c->end)
		return fail(c, error);
	ch = c->s[c->pos];
	if (ch < 0x20 || ch == 0x7f)
		return fail(c, E_CTRL);
	if (ch == ' ')
		return fail(c, E_SPACE);
	return fail(c, error);
}

/* Take the non-ASCII character at the cursor, if the caller allows. */
static int
take_utf8(struct cursor *c)
{
	size_t n = pst_utf8_seq_len(c->s + c->pos, c->end - c->pos);

	if (n == 0)
		return fail(c, E_BAD_UTF8);
	if (!(c->opts & SMTP_ADDR_ALLOW_UTF8))
		return fail(c, E_UTF8);
	c->pos += n;
	return 0;
}

static inline struct pst_str
view(const struct cursor *c, size_t start)
{
	return (struct pst_str){ (const char *)c->s + start, c->pos - start };
}

/* Dot-string = Atom *("." Atom), Atom = 1*atext (RFC 6531: plus UTF-8). */
static int
parse_dot_string(struct cursor *c, bool *utf8_r)
{
	for (;;) {
		size_t start = c->pos;

		while (c->pos < c->end) {
			unsigned char ch = c->s[c->pos];

			if (ch >= 0x80) {
				if (take_utf8(c) < 0)
					return -1;
				*utf8_r = true;
				continue;
			}
			if (!is_atext(ch))
				break;
			/* user%host@relay and host!user: routing hacks
			 * that a downstream MTA may still honour. */
			if (ch == '%' || ch == '!')
				c->flags |= SMTP_ADDR_F_ROUTING;
			c->pos++;
		}
		/* Empty atom: leading, trailing or doubled dot. */
		if (c->pos == start)
			return fail_at(c, E_LOCAL);
		if (c->pos >= c->end || c->s[c->pos] != '.')
			return 0;
		c->pos++;
	}
}

/* Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE */
static int
parse_quoted(struct cursor *c, bool *utf8_r)
{
	c->pos++; /* the opening DQUOTE */
	for (;;) {
		unsigned char ch;

		if (c->pos >= c->end)
			return fail(c, E_QUOTE);
		ch = c->s[c->pos];
		if (ch == '"') {
			c->pos++;
			return 0;
		}
		if (ch >= 0x80) {
			if (take_utf8(c) < 0)
				return -1;
			*utf8_r = true;
			continue;
		}
		if (ch == '\\') {
			/* quoted-pairSMTP = "\" %d32-126 */
			if (c->pos + 1 >= c->end)
				return fail(c, E_QUOTE);
			c->pos++;
			ch = c->s[c->pos];
			if (ch < 0x20 || ch > 0x7e)
				return fail_at(c, E_LOCAL);
		} else if (ch < 0x20 || ch == 0x7f) {
			return fail(c, E_CTRL);
		}
		if (ch == '@' || ch == '%' || ch == '!')
			c->flags |= SMTP_ADDR_F_ROUTING;
		c->pos++;
	}
}

/*
 * Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str],
 * or with SMTPUTF8 a U-label, which we check only for well-formed UTF-8
 * and the hyphen and length rules: IDNA validity is the DNS's business.
 * Stops at the first byte that cannot continue the domain; the caller
 * decides whether that byte may end it.
 */
static int
parse_domain_name(struct cursor *c, bool *utf8_r)
{
	for (;;) {
		size_t start = c->pos;

		while (c->pos < c->end) {
			unsigned char ch = c->s[c->pos];

			if (ch >= 0x80) {
				if (take_utf8(c) < 0)
					return -1;
				*utf8_r = true;
				continue;
			}
			if (!is_alpha(ch) && !is_digit(ch) && ch != '-')
				break;
			c->pos++;
		}
		if (c->pos == start)
			return fail_at(c, E_DOMAIN);
		if (c->s[start] == '-' || c->s[c->pos - 1] == '-')
			return fail(c, E_DOMAIN);
		if (c->pos - start > 63)
			return fail(c, E_LABEL_LONG);
		if (c->pos >= c->end || c->s[c->pos] != '.')
			return 0;
		c->pos++;
	}
}

/* Strict dotted quad: four decimal octets, no leading zeros (which some
 * resolvers read as octal), nothing else. */
static bool
ipv4_strict(const char *s, size_t len)
{
	char buf[16];
	unsigned char addr[4];
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t start = i;
		unsigned v = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			start = ++i;
		}
		while (i < len && is_digit((unsigned char)s[i]) &&
		       i - start < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return false;
	}
	if (i != len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1;
}

static bool
ipv6_valid(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];

	if (len == 0 || len >= sizeof(buf))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!is_digit(ch) && !strchr("abcdefABCDEF:.", ch))
			return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, addr) == 1;
}

/* address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 * General-address-literal ) "]"; the last is refused: no MTA we relay to
 * agrees on what its tags mean. */
static int
parse_literal(struct cursor *c)
{
	size_t start = ++c->pos; /* past '[' */
	const char *content;
	size_t len;

	while (c->pos < c->end && c->s[c->pos] != ']') {
		unsigned char ch = c->s[c->pos];

		/* dcontent = %d33-90 / %d94-126 */
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			return fail_at(c, E_LITERAL);
		if (c->pos - start >= LITERAL_MAX_CONTENT)
			return fail(c, E_LITERAL);
		c->pos++;
	}
	if (c->pos >= c->end)
		return fail(c, E_LITERAL);
	content = (const char *)c->s + start;
	len = c->pos - start;
	c->pos++; /* past ']' */
	if (len >= 5 && strncasecmp(content, "IPv6:", 5) == 0) {
		if (!ipv6_valid(content + 5, len - 5))
			return fail(c, E_LITERAL);
	} else if (memchr(content, ':', len) != NULL) {
		return fail(c, E_GENERAL);
	} else if (!ipv4_strict(content, len)) {
		return fail(c, E_LITERAL);
	}
	c->flags |= SMTP_ADDR_F_IPLITERAL;
	return 0;
}

/* A-d-l = At-domain *( "," At-domain ), At-domain = "@" Domain, then ":".
 * RFC 5321 appendix C: accept, check, and ignore it. */
static int
parse_source_route(struct cursor *c)
{
	bool utf8 = false;

	for (;;) {
		size_t start;

		if (c->pos >= c->end || c->s[c->pos] != '@')
			return fail_at(c, E_ROUTE);
		start = ++c->pos;
		if (parse_domain_name(c, &utf8) < 0)
			return -1;
		if (c->pos - start > SMTP_ADDR_MAX_DOMAIN)
			return fail(c, E_DOMAIN_LONG);
		if (c->pos >= c->end)
			return fail(c, E_ROUTE);
		if (c->s[c->pos] == ':')
			break;
		if (c->s[c->pos] != ',')
			return fail_at(c, E_ROUTE);
		c->pos++;
	}
	c->pos++; /* past ':' */
	c->flags |= SMTP_ADDR_F_SOURCE_ROUTE;
	return 0;
}

/* May the mailbox end at the cursor?  At '>' in a path with brackets, at
 * SP or the end of the input in one without. */
static bool
at_path_end(const struct cursor *c, bool bracketed)
{
	if (c->pos >= c->end)
		return !bracketed;
	return bracketed ? c->s[c->pos] == '>' : c->s[c->pos] == ' ';
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), or the bare
 * "postmaster" of RCPT TO:<Postmaster> when the caller allows it.  Ends
 * with the cursor where at_path_end() holds. */
static int
parse_mailbox(struct cursor *c, bool bracketed, struct smtp_addr *addr)
{
	size_t start = c->pos;
	bool utf8 = false, quoted;

	if (c->pos >= c->end)
		return fail(c, bracketed ? E_UNTERMINATED : E_MISSING);
	quoted = c->s[c->pos] == '"';
	if (quoted) {
		c->flags |= SMTP_ADDR_F_QUOTED;
		if (parse_quoted(c, &utf8) < 0)
			return -1;
	} else if (parse_dot_string(c, &utf8) < 0) {
		return -1;
	}
	addr->local = view(c, start);

	if (c->pos >= c->end || c->s[c->pos] != '@') {
		if (!at_path_end(c, bracketed))
			return fail_at(c, bracketed && c->pos >= c->end
						  ? E_UNTERMINATED
						  : E_LOCAL);
		if (!quoted && !(c->flags & SMTP_ADDR_F_SOURCE_ROUTE) &&
		    (c->opts & SMTP_ADDR_ALLOW_POSTMASTER) &&
		    pst_str_caseeq_cstr(addr->local, "postmaster")) {
			c->flags |= SMTP_ADDR_F_POSTMASTER;
			addr->domain = view(c, c->pos);
			return 0;
		}
		return fail(c, E_NO_DOMAIN);
	}

	start = ++c->pos; /* past '@' */
	if (c->pos < c->end && c->s[c->pos] == '[') {
		if (parse_literal(c) < 0)
			return -1;
	} else if (parse_domain_name(c, &utf8) < 0) {
		return -1;
	}
	if (!at_path_end(c, bracketed))
		return fail_at(c, bracketed && c->pos >= c->end ? E_UNTERMINATED
								: E_DOMAIN);
	addr->domain = view(c, start);
	if (utf8)
		c->flags |= SMTP_ADDR_F_UTF8;
	return 0;
}

static int
parse_path(struct cursor *c, struct smtp_addr *addr)
{
	bool bracketed;

	if (c->end == 0)
		return fail(c, E_MISSING);
	bracketed = c->s[0] == '<';
	if (!bracketed) {
		if (!(c->opts & SMTP_ADDR_ALLOW_NO_BRACKETS))
			return fail_at(c, E_BRACKETS);
		c->flags |= SMTP_ADDR_F_NO_BRACKETS;
		return parse_mailbox(c, false, addr);
	}

	c->pos = 1;
	if (c->pos < c->end && c->s[c->pos] == '>') {
		if (!(c->opts & SMTP_ADDR_ALLOW_NULL))
			return fail(c, E_NULL);
		c->flags |= SMTP_ADDR_F_NULL;
		addr->local = view(c, c->pos);
		addr->domain = addr->local;
		c->pos++;
		return 0;
	}
	if (c->pos < c->end && c->s[c->pos] == '@' && parse_source_route(c) < 0)
		return -1;
	if (parse_mailbox(c, true, addr) < 0)
		return -1;
	c->pos++; /* past the '>' that parse_mailbox found */
	return 0;
}

int
smtp_addr_parse(const char *s, size_t len, unsigned opts,
		struct smtp_addr *addr_r, size_t *consumed_r,
		const char **error_r)
{
	struct cursor c = {
		.s = (const unsigned char *)s,
		.end = s != NULL ? len : 0,
		.opts = opts,
	};
	struct smtp_addr addr = { .local = { "", 0 }, .domain = { "", 0 } };
	size_t path_len;

	if (parse_path(&c, &addr) < 0) {
		*error_r = c.error;
		return -1;
	}
	/* RFC 5321 4.5.3.1; a lenient path is measured as if bracketed. */
	path_len = c.pos + ((c.flags & SMTP_ADDR_F_NO_BRACKETS) ? 2 : 0);
	if (addr.local.len > SMTP_ADDR_MAX_LOCAL) {
		*error_r = E_LOCAL_LONG;
		return -1;
	}
	if (addr.domain.len > SMTP_ADDR_MAX_DOMAIN) {
		*error_r = E_DOMAIN_LONG;
		return -1;
	}
	if (path_len > SMTP_ADDR_MAX_PATH) {
		*error_r = E_PATH_LONG;
		return -1;
	}
	addr.flags = c.flags;
	*addr_r = addr;
	*consumed_r = c.pos;
	return 0;
}

bool
smtp_addr_domain_valid(struct pst_str domain, bool allow_utf8)
{
	struct cursor c = {
		.s = (const unsigned char *)domain.p,
		.end = domain.p != NULL ? domain.len : 0,
		.opts = allow_utf8 ? SMTP_ADDR_ALLOW_UTF8 : 0,
	};
	bool utf8 = false;
	int ret;

	if (c.end == 0 || c.end > SMTP_ADDR_MAX_DOMAIN)
		return false;
	if (c.s[0] == '[')
		ret = parse_literal(&c);
	else
		ret = parse_domain_name(&c, &utf8);
	return ret == 0 && c.pos == c.end;
}

int
smtp_addr_format(const struct smtp_addr *addr, struct pst_buf *out)
{
	size_t need;

	if (addr->flags & SMTP_ADDR_F_NULL)
		return pst_buf_append(out, "", 0);
	if (addr->flags & SMTP_ADDR_F_POSTMASTER)
		return pst_buf_append(out, addr->local.p, addr->local.len);
	/* Reserve first so that a refusal leaves out unchanged. */
	need = addr->local.len + 1 + addr->domain.len;
	if (pst_buf_reserve(out, need) < 0)
		return -1;
	if (pst_buf_append(out, addr->local.p, addr->local.len) < 0 ||
	    pst_buf_append_byte(out, '@') < 0 ||
	    pst_buf_append(out, addr->domain.p, addr->domain.len) < 0)
		return -1;
	return 0;
}
