/*
 * imap_parse.c - IMAP pre-login command grammar (see imap_parse.h).
 *
 * Everything is bounded by the buffer length; the only loop over the
 * input advances at least one byte per turn.
 */
#include "config.h"

#include <string.h>

#include "imap_parse.h"

/* ATOM-CHAR: CHAR except atom-specials "(" ")" "{" SP CTL "%" "*" '"'
 * "\" "]" (RFC 9051 section 9). */
static bool
imap_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR: ATOM-CHAR or "]". */
static bool
imap_astring_char(unsigned char c)
{
	return c == ']' || imap_atom_char(c);
}

int
imap_parse_literal(const char *line, size_t len, uint64_t *size_r,
		   bool *nonsync_r)
{
	size_t end, i;
	uint64_t n = 0;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	end = len - 1;
	*nonsync_r = false;
	if (line[end - 1] == '+') {
		*nonsync_r = true;
		end--;
	}
	i = end;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == 0 || line[i - 1] != '{') {
		/* "a}" or "{x}" is not a marker; "{}" and "{+}" are bad. */
		if (i > 0 && i == end && line[i - 1] == '{')
			return -1;
		return 0;
	}
	if (i == end || end - i > 10)
		return -1;
	for (size_t j = i; j < end; j++)
		n = n * 10 + (uint64_t)(line[j] - '0');
	if (n > UINT32_MAX)
		return -1;
	*size_r = n;
	return 1;
}

struct imap_cursor {
	const char *p, *end;
	char *scratch;
};

static int
imap_parse_quoted(struct imap_cursor *c, struct pst_str *out,
		  const char **error_r)
{
	char *w = c->scratch;

	c->p++; /* the opening quote */
	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p;

		if (ch == '\\') {
			if (c->p + 1 >= c->end ||
			    (c->p[1] != '"' && c->p[1] != '\\')) {
				*error_r = "Invalid escape in quoted string";
				return -1;
			}
			c->p++;
			ch = (unsigned char)*c->p;
		} else if (ch == '\0' || ch == '\r' || ch == '\n') {
			*error_r = "Invalid characters in quoted string";
			return -1;
		}
		*w++ = (char)ch;
		c->p++;
	}
	if (c->p >= c->end) {
		*error_r = "Unterminated quoted string";
		return -1;
	}
	c->p++; /* the closing quote */
	*out = (struct pst_str){ c->scratch, (size_t)(w - c->scratch) };
	c->scratch = w;
	return 0;
}

static int
imap_parse_literal_arg(struct imap_cursor *c, struct pst_str *out,
		       const char **error_r)
{
	uint64_t n = 0;
	size_t digits = 0;

	c->p++; /* "{" */
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && digits < 11) {
		n = n * 10 + (uint64_t)(*c->p - '0');
		c->p++;
		digits++;
	}
	if (digits == 0 || digits > 10 || n > UINT32_MAX) {
		*error_r = "Invalid literal size";
		return -1;
	}
	if (c->p < c->end && *c->p == '+')
		c->p++;
	if (c->end - c->p < 3 || c->p[0] != '}' || c->p[1] != '\r' ||
	    c->p[2] != '\n') {
		*error_r = "Invalid literal";
		return -1;
	}
	c->p += 3;
	if ((uint64_t)(c->end - c->p) < n) {
		*error_r = "Literal truncated";
		return -1;
	}
	if (memchr(c->p, '\0', (size_t)n) != NULL) {
		*error_r = "NUL in literal";
		return -1;
	}
	*out = (struct pst_str){ c->p, (size_t)n };
	c->p += n;
	return 0;
}

static int
imap_parse_args(struct imap_cursor *c, struct imap_cmd *cmd,
		const char **error_r)
{
	unsigned depth = 0;
	bool need_sep = false;

	while (c->p < c->end) {
		struct imap_arg *a;

		if (*c->p == ')') {
			if (depth == 0) {
				*error_r = "Unexpected ')'";
				return -1;
			}
			depth--;
		} else if (need_sep) {
			if (*c->p != ' ' || c->p + 1 >= c->end ||
			    c->p[1] == ' ' || c->p[1] == ')') {
				*error_r = "Invalid spacing between arguments";
				return -1;
			}
			c->p++;
			need_sep = false;
			continue;
		}
		if (cmd->nargs >= IMAP_MAX_ARGS) {
			*error_r = "Too many arguments";
			return -1;
		}
		a = &cmd->args[cmd->nargs++];
		switch (*c->p) {
		case ')':
			a->type = IMAP_ARG_LIST_END;
			a->s = (struct pst_str){ c->p, 1 };
			c->p++;
			need_sep = true;
			continue;
		case '(':
			if (++depth > IMAP_MAX_LIST_DEPTH) {
				*error_r = "Lists nested too deep";
				return -1;
			}
			a->type = IMAP_ARG_LIST_BEGIN;
			a->s = (struct pst_str){ c->p, 1 };
			c->p++;
			if (c->p < c->end && *c->p == ' ') {
				*error_r = "Invalid spacing in list";
				return -1;
			}
			continue; /* no separator after "(" */
		case '"':
			a->type = IMAP_ARG_QUOTED;
			if (imap_parse_quoted(c, &a->s, error_r) < 0)
				return -1;
			break;
		case '{':
			a->type = IMAP_ARG_LITERAL;
			if (imap_parse_literal_arg(c, &a->s, error_r) < 0)
				return -1;
			break;
		default: {
			const char *start = c->p;

			while (c->p < c->end &&
			       imap_astring_char((unsigned char)*c->p))
				c->p++;
			if (c->p == start) {
				*error_r = "Invalid characters in argument";
				return -1;
			}
			a->type = IMAP_ARG_ATOM;
			a->s = (struct pst_str){ start,
						 (size_t)(c->p - start) };
			break;
		}
		}
		need_sep = true;
	}
	if (depth != 0) {
		*error_r = "Missing ')'";
		return -1;
	}
	return 0;
}

int
imap_parse_command(const char *buf, size_t len, char *scratch,
		   struct imap_cmd *cmd, const char **error_r)
{
	struct imap_cursor c = { buf, buf + len, scratch };
	const char *start;

	memset(cmd, 0, sizeof(*cmd));
	while (c.p < c.end && c.p - buf <= IMAP_MAX_TAG &&
	       imap_astring_char((unsigned char)*c.p) && *c.p != '+')
		c.p++;
	if (c.p == buf || c.p - buf > IMAP_MAX_TAG ||
	    (c.p < c.end && *c.p != ' ')) {
		*error_r = "Invalid tag";
		return -1;
	}
	cmd->tag = (struct pst_str){ buf, (size_t)(c.p - buf) };
	if (c.p >= c.end || c.p + 1 >= c.end) {
		*error_r = "Missing command";
		return -1;
	}
	c.p++;
	start = c.p;
	while (c.p < c.end && imap_atom_char((unsigned char)*c.p))
		c.p++;
	if (c.p == start || (c.p < c.end && *c.p != ' ')) {
		*error_r = "Invalid command";
		return -1;
	}
	cmd->name = (struct pst_str){ start, (size_t)(c.p - start) };
	if (c.p < c.end) {
		if (c.p + 1 >= c.end || c.p[1] == ' ') {
			*error_r = "Invalid spacing between arguments";
			return -1;
		}
		c.p++;
	}
	return imap_parse_args(&c, cmd, error_r);
}

int
imap_append_string(struct pst_buf *out, struct pst_str s)
{
	bool quotable = s.len < 1024;

	for (size_t i = 0; quotable && i < s.len; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if (ch == '\0' || ch == '\r' || ch == '\n' || ch >= 0x80)
			quotable = false;
	}
	if (!quotable) {
		if (pst_buf_printf(out, "{%zu+}\r\n", s.len) < 0)
			return -1;
		return pst_buf_append(out, s.p, s.len);
	}
	if (pst_buf_append_byte(out, '"') < 0)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if ((s.p[i] == '"' || s.p[i] == '\\') &&
		    pst_buf_append_byte(out, '\\') < 0)
			return -1;
		if (pst_buf_append_byte(out, s.p[i]) < 0)
			return -1;
	}
	return pst_buf_append_byte(out, '"');
}
