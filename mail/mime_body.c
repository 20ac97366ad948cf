/*
 * mime_body.c - body line scanning for the MIME parser of mime.c:
 * delimiter matching, what a body line is, and feeding the rest to the
 * current part's content.
 *
 * The input is looked at line by line only where a line can matter:
 * header blocks (mime.c), and in bodies the lines that start with "--"
 * while a boundary is open (found with memchr over '-', so a base64 body
 * is skipped at memchr speed), plus "begin"/"end" lines in raw
 * text/plain bodies (uuencoded files).  Everything else streams straight
 * into the current leaf's decoder and SHA-256, from the caller's chunk,
 * without a copy.  A line cut by a chunk boundary is kept in one buffer;
 * the line break before a possible delimiter is held back (at most two
 * bytes), because RFC 2046 gives it to the delimiter, not to the content.
 *
 * Memory: nothing of its own; it works on the parser's line buffer and
 * state (mime_int.h).  Not thread-safe, like the parser it serves.
 */
#include "config.h"

#include <string.h>

#include "mime_int.h"

/* 0: no; 1: delimiter; 2: close delimiter; 3: "--boundary" and junk. */
static int
match_boundary(const unsigned char *s, size_t c, const char *b, size_t blen)
{
	size_t j = 2 + blen;
	bool close = false;

	if (c < 2 + blen || memcmp(s + 2, b, blen) != 0)
		return 0;
	if (c - j >= 2 && s[j] == '-' && s[j + 1] == '-') {
		close = true;
		j += 2;
	}
	while (j < c && mime_is_blank(s[j]))
		j++;
	if (j < c)
		return 3;
	return close ? 2 : 1;
}

/* "begin 644 name": where the name is. */
static bool
uu_begin_line(const unsigned char *s, size_t c, size_t *name_r,
	      size_t *name_len_r)
{
	size_t i = 5, d0, e = c;

	if (c < 6 || memcmp(s, "begin ", 6) != 0)
		return false;
	while (i < c && s[i] == ' ')
		i++;
	d0 = i;
	while (i < c && s[i] >= '0' && s[i] <= '7')
		i++;
	if (i - d0 < 3 || i - d0 > 4 || i >= c || s[i] != ' ')
		return false;
	while (i < c && s[i] == ' ')
		i++;
	while (e > i && mime_is_blank(s[e - 1]))
		e--;
	if (e == i)
		return false;
	*name_r = i;
	*name_len_r = e - i;
	return true;
}

static bool
uu_end_line(const unsigned char *s, size_t c)
{
	if (c < 3 || memcmp(s, "end", 3) != 0)
		return false;
	for (size_t j = 3; j < c; j++)
		if (!mime_is_blank(s[j]))
			return false;
	return true;
}

static inline bool
maybe_special(const struct mime_parser *p, unsigned char c)
{
	return (c == '-' && p->nb > 0) || (c == 'e' && p->uu.part != NULL) ||
	       (c == 'b' && p->uu_scan && p->uu.part == NULL) ||
	       (p->dsn == DSN_BODY && (c == '\r' || c == '\n')) ||
	       p->dsn == DSN_BETWEEN;
}

/*
 * A line too long to be special: still flag "--boundary junk" when the
 * first max_header_line bytes show it, so that a whole line and a line
 * cut by chunks (seen only that far) are judged alike.
 */
static void
prefix_window(struct mime_parser *p, const unsigned char *s, size_t n)
{
	size_t w = n < p->lim.max_header_line ? n : p->lim.max_header_line;

	if (w < 2 || s[0] != '-' || s[1] != '-')
		return;
	for (unsigned k = 0; k < p->nb; k++)
		if (match_boundary(s, w, p->bstack[k].b, p->bstack[k].len) ==
		    3) {
			p->cur->defects |= MIME_D_BOUNDARY_PREFIX;
			return;
		}
}

/* What a complete line s[0..n) is.  Lines longer than max_header_line are
 * never special, so that a cut line is judged the same. */
int
mime_classify(struct mime_parser *p, const unsigned char *s, size_t n,
	      unsigned *m_r, bool *close_r)
{
	size_t c = mime_content_len(s, n), nl, nn;
	bool prefix = false;
	int found = -1;

	if (n > p->lim.max_header_line) {
		/* judged like a cut line (pending_line) */
		prefix_window(p, s, n);
		return L_NORMAL;
	}
	if (p->dsn == DSN_BODY && c == 0 && n > 0)
		return L_BLANK;
	if (c == 0)
		return p->dsn == DSN_BETWEEN ? L_BLOCK : L_NORMAL;
	if (s[0] == '-' && p->nb > 0) {
		if (c < 2 || s[1] != '-')
			return p->dsn == DSN_BETWEEN ? L_BLOCK : L_NORMAL;
		for (unsigned k = 0; k < p->nb; k++) {
			int r = match_boundary(s, c, p->bstack[k].b,
					       p->bstack[k].len);

			if (r == 3) {
				prefix = true;
			} else if (r != 0 && found < 0) {
				/* Outermost first, as clients check. */
				found = (int)k;
				*close_r = r == 2;
			} else if (r != 0 &&
				   p->bstack[k].part != p->bstack[found].part) {
				p->bstack[found].part->defects |=
					MIME_D_AMBIGUOUS_BOUNDARY;
			}
		}
		if (found >= 0) {
			mime_count_eol(p, s, n);
			*m_r = (unsigned)found;
			return L_DELIM;
		}
		if (prefix)
			p->cur->defects |= MIME_D_BOUNDARY_PREFIX;
		return p->dsn == DSN_BETWEEN ? L_BLOCK : L_NORMAL;
	}
	if (p->dsn == DSN_BETWEEN)
		return L_BLOCK;
	if (s[0] == 'e' && p->uu.part != NULL && uu_end_line(s, c))
		return L_UU_END;
	if (s[0] == 'b' && p->uu_scan && p->uu.part == NULL &&
	    uu_begin_line(s, c, &nl, &nn))
		return L_UU_BEGIN;
	return L_NORMAL;
}

/*
 * Could the start s[0..n) of a line cut by the chunk's end be special?
 * Decides early only where the whole line would be judged the same.
 */
static bool
possible_special(struct mime_parser *p, const unsigned char *s, size_t n)
{
	bool possible = false, prefix = false;

	if (n > p->lim.max_header_line) {
		prefix_window(p, s, n);
		return false;
	}
	if (s[0] == '\r' || p->dsn == DSN_BETWEEN)
		return true; /* a blank line, or decided by its start */
	if (s[0] == 'e')
		return p->uu.part != NULL &&
		       memcmp(s, "end", n < 3 ? n : 3) == 0;
	if (s[0] == 'b')
		return p->uu_scan && p->uu.part == NULL &&
		       memcmp(s, "begin ", n < 6 ? n : 6) == 0;
	if (n == 1)
		return true;
	if (s[1] != '-')
		return false;
	for (unsigned k = 0; k < p->nb; k++) {
		size_t blen = p->bstack[k].len, t = n - 2, j = 0, rn;
		const unsigned char *r;

		if (memcmp(s + 2, p->bstack[k].b, t < blen ? t : blen) != 0)
			continue;
		if (t <= blen) {
			possible = true;
			continue;
		}
		r = s + 2 + blen;
		rn = t - blen;
		if (r[0] == '-') {
			if (rn == 1) {
				possible = true;
				continue;
			}
			if (r[1] == '-')
				j = 2;
		}
		while (j < rn &&
		       (mime_is_blank(r[j]) || (r[j] == '\r' && j == rn - 1)))
			j++;
		if (j == rn)
			possible = true;
		else
			prefix = true;
	}
	if (!possible && prefix)
		p->cur->defects |= MIME_D_BOUNDARY_PREFIX;
	return possible;
}

static void
start_uu(struct mime_parser *p, const unsigned char *s, size_t n, uint64_t off)
{
	struct mime_part *parent = p->cur, *u;
	size_t c = mime_content_len(s, n), at, len;
	struct pst_buf name;
	struct pst_str t;

	if (!uu_begin_line(s, c, &at, &len))
		return;
	parent->defects |= MIME_D_UUENCODE;
	if (!mime_can_create(p, parent->depth + 1)) {
		p->uu_scan = false;
		return;
	}
	u = mime_new_part(p, parent, off);
	if (u == NULL)
		return;
	u->synthetic = true;
	u->kind = MIME_PART_LEAF;
	u->state = P_CONTENT;
	u->type = "application/octet-stream";
	u->subtype = u->type + 12;
	u->encoding = MIME_ENC_UUENCODE;
	u->encoding_name = "x-uuencode";
	pst_buf_init(&name, 0);
	if (mime_header_append_utf8(&name, (const char *)s + at, len,
				    &u->defects) < 0 ||
	    (t.p = pst_arena_strndup(p->arena, pst_buf_view(&name).p,
				     name.len)) == NULL) {
		mime_oom(p);
	} else {
		t.len = name.len;
		mime_part_add_filename(p->arena, &p->error, u, t,
				       MIME_FN_UUENCODE, false);
		u->filename = pst_str_trim(t);
	}
	pst_buf_free(&name);
	mime_sink_start(p, &p->uu, u);
}

static void
finish_uu(struct mime_parser *p, uint64_t end)
{
	struct mime_part *u = p->uu.part;

	if (u == NULL)
		return;
	u->body_end = mime_max_u64(end, u->body_start);
	u->state = P_DONE;
	mime_sink_finish(p, &p->uu);
}

/* A delimiter of bstack[m]; the content before it ends at cend, the
 * line ends at after. */
static void
delimiter(struct mime_parser *p, unsigned m, bool close, uint64_t cend,
	  uint64_t after)
{
	struct mime_part *mp = p->bstack[m].part, *child;

	if (mp->state == P_EPILOGUE) {
		/* A delimiter after the close: Python and Thunderbird see
		 * epilogue, parsers that keep looking see a part, so we see
		 * it too, and say so. */
		mp->defects |= MIME_D_PART_AFTER_CLOSE;
		if (close)
			return;
	}
	while (p->cur != mp && p->cur != NULL) {
		struct mime_part *q = p->cur;

		mime_close_part(p, q, cend);
		p->cur = q->parent;
	}
	p->nheld = 0;
	p->bol = true;
	if (mp->state == P_PREAMBLE) {
		if (close) {
			/* "--b--" before any "--b": Python's reading, the
			 * preamble is the content. */
			mime_leafify(p, mp, cend);
		} else {
			if (p->main.part == mp)
				p->main.part = NULL;
			mp->preamble_end = mime_max_u64(cend, mp->body_start);
		}
	}
	if (close) {
		mp->state = P_EPILOGUE;
		mp->epilogue_start = after;
		/* The boundary stays open in the epilogue (see above), but
		 * not for a multipart read as one leaf. */
		if (mp->kind == MIME_PART_LEAF)
			mime_pop_boundary(p, mp);
		p->mode = M_BODY;
		p->dsn = DSN_NONE;
		p->scan = p->nb > 0;
		p->uu_scan = false;
		return;
	}
	mp->state = P_PARTS;
	child = mime_new_part(p, mp, after);
	if (child == NULL)
		return;
	p->cur = child;
	mime_begin_block(p);
}

/* The complete line in p->line (its line break, if any, at the end). */
void
mime_buffered_line(struct mime_parser *p)
{
	const unsigned char *s =
		(const unsigned char *)pst_buf_view(&p->line).p;
	size_t n = p->line.len, c = mime_content_len(s, n);
	uint64_t off = p->line_off;
	unsigned m = 0;
	bool close = false;
	int v = mime_classify(p, s, n, &m, &close);

	if (v == L_BLOCK) {
		/* The line stays pending: the new block's first line. */
		mime_block_start(p, off);
		return;
	}
	p->line_pending = false;
	if (v == L_BLANK) {
		mime_flush_held(p);
		mime_block_end(p, off);
		pst_buf_reset(&p->line);
		return;
	}
	if (v == L_DELIM && !close &&
	    !mime_can_create(p, p->bstack[m].part->depth + 1)) {
		mime_flush_held(p);
		mime_content(p, s, n);
		mime_enter_trunc(p);
		pst_buf_reset(&p->line);
		return;
	}
	if (v == L_DELIM) {
		uint64_t cend = off - p->nheld;

		p->nheld = 0;
		delimiter(p, m, close, cend, off + n);
		pst_buf_reset(&p->line);
		return;
	}
	mime_flush_held(p);
	if (v == L_UU_BEGIN)
		start_uu(p, s, n, off);
	mime_content(p, s, c);
	if (v == L_UU_END)
		finish_uu(p, off + c);
	memcpy(p->held, s + c, n - c);
	p->nheld = (unsigned)(n - c);
	p->bol = n > c;
	pst_buf_reset(&p->line);
}

/* Continue a line that an earlier chunk cut, kept because it may be
 * special. */
static size_t
pending_line(struct mime_parser *p, const unsigned char *d, size_t pos,
	     size_t len)
{
	const unsigned char *e = NULL;
	size_t n = 0;

	if (p->line.len == 0 || p->line.data[p->line.len - 1] != '\n') {
		e = memchr(d + pos, '\n', len - pos);
		n = e ? (size_t)(e - (d + pos)) + 1 : len - pos;
		if (p->line.len + n > p->lim.max_header_line) {
			/* Too long to be special: content after all. */
			size_t w = p->lim.max_header_line - p->line.len;

			if (pst_buf_append(&p->line, d + pos, w) < 0) {
				mime_oom(p);
				return len;
			}
			pos += w;
			prefix_window(p, (const unsigned char *)p->line.data,
				      p->line.len);
			mime_flush_held(p);
			p->line_pending = false;
			p->bol = false;
			if (p->line.data[p->line.len - 1] == '\r') {
				/* Maybe the CR of a CRLF: held back as at the
				 * end of a chunk (body_step settles it). */
				p->line.len--;
				p->held[0] = '\r';
				p->nheld = 1;
			}
			mime_content(p, (const unsigned char *)p->line.data,
				     p->line.len);
			pst_buf_reset(&p->line);
			return pos;
		}
		if (pst_buf_append(&p->line, d + pos, n) < 0) {
			mime_oom(p);
			return len;
		}
		if (e == NULL)
			return len;
	}
	mime_buffered_line(p);
	return pos + n;
}

/* Bytes of a line break that ends just before d[i] (in this chunk). */
static inline size_t
eol_before(const unsigned char *d, size_t from, size_t i)
{
	return i >= from + 2 && d[i - 2] == '\r' ? 2 : 1;
}

size_t
mime_body_step(struct mime_parser *p, const unsigned char *d, size_t pos,
	       size_t len)
{
	size_t i = pos, run = pos, k = 0;
	bool dash_only = p->nb > 0 && !p->uu_scan && p->uu.part == NULL &&
			 p->dsn == DSN_NONE;
	const unsigned char *e;

	if (p->line_pending)
		return pending_line(p, d, pos, len);
	if (!p->scan) {
		mime_flush_held(p);
		mime_content(p, d + pos, len - pos);
		return len;
	}
	if (p->nheld > 0 && !p->bol) {
		/* A CR held at the end of the last chunk. */
		if (d[pos] == '\n') {
			p->held[1] = '\n';
			p->nheld = 2;
			p->bol = true;
			i = run = pos + 1;
		} else {
			mime_flush_held(p);
		}
	}
	for (;;) {
		if (p->bol) {
			unsigned m = 0;
			bool close = false;
			size_t n;
			int v;

			if (i == len)
				break;
			if (!maybe_special(p, d[i]))
				goto next_line;
			e = memchr(d + i, '\n', len - i);
			if (e == NULL) {
				if (!possible_special(p, d + i, len - i))
					goto next_line;
				/* Keep the cut line, hold the break before. */
				if (k > 0) {
					mime_flush_held(p);
					mime_content(p, d + run, i - k - run);
					memcpy(p->held, d + i - k, k);
					p->nheld = (unsigned)k;
				}
				pst_buf_reset(&p->line);
				if (pst_buf_append(&p->line, d + i, len - i) <
				    0)
					mime_oom(p);
				p->line_pending = true;
				p->line_off = p->base + i;
				return len;
			}
			n = (size_t)(e - (d + i)) + 1;
			v = mime_classify(p, d + i, n, &m, &close);
			if (v == L_DELIM) {
				uint64_t cend =
					p->base + i - (k ? k : p->nheld);

				if (!close &&
				    !mime_can_create(
					    p, p->bstack[m].part->depth + 1)) {
					mime_flush_held(p);
					mime_content(p, d + run, i - run);
					mime_enter_trunc(p);
					return i;
				}
				if (k > 0) {
					mime_flush_held(p);
					mime_content(p, d + run, i - k - run);
				}
				p->nheld = 0;
				delimiter(p, m, close, cend, p->base + i + n);
				return i + n;
			}
			if (v == L_BLANK) {
				mime_flush_held(p);
				mime_content(p, d + run, i - run);
				mime_block_end(p, p->base + i);
				return i + n;
			}
			if (v == L_BLOCK) {
				mime_flush_held(p);
				mime_block_start(p, p->base + i);
				return i;
			}
			if (v == L_UU_BEGIN) {
				mime_flush_held(p);
				mime_content(p, d + run, i - run);
				run = i;
				start_uu(p, d + i, n, p->base + i);
				dash_only = false;
			} else if (v == L_UU_END) {
				size_t c = mime_content_len(d + i, n);

				mime_flush_held(p);
				mime_content(p, d + run, i + c - run);
				finish_uu(p, p->base + i + c);
				run = i + c;
				k = n - c;
				i += n;
				continue;
			}
		}
	next_line:
		if (dash_only) {
			/* Only a line that starts with '-' can matter. */
			size_t j = p->bol ? i + 1 : i;
			const unsigned char *q = NULL;

			while (j < len) {
				q = memchr(d + j, '-', len - j);
				if (q == NULL || (q > d && q[-1] == '\n'))
					break;
				j = (size_t)(q - d) + 1;
				q = NULL;
			}
			if (q != NULL) {
				i = (size_t)(q - d);
				k = eol_before(d, pos, i);
				p->bol = true;
				continue;
			}
			i = len;
			p->bol = d[len - 1] == '\n';
			if (p->bol)
				k = eol_before(d, pos, len);
			break;
		}
		e = memchr(d + i, '\n', len - i);
		if (e == NULL) {
			i = len;
			p->bol = false;
			break;
		}
		k = e > d + i && e[-1] == '\r' ? 2 : 1;
		i = (size_t)(e - d) + 1;
		p->bol = true;
	}
	/* End of the chunk: hold back a final line break or CR. */
	if (p->bol) {
		if (k > 0) {
			mime_flush_held(p);
			mime_content(p, d + run, len - k - run);
			memcpy(p->held, d + len - k, k);
			p->nheld = (unsigned)k;
		}
	} else {
		mime_flush_held(p);
		if (len > run && d[len - 1] == '\r') {
			mime_content(p, d + run, len - 1 - run);
			p->held[0] = '\r';
			p->nheld = 1;
		} else {
			mime_content(p, d + run, len - run);
		}
	}
	return len;
}
