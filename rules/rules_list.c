/*
 * rules_list.c - named lists (`list NAME { ... }`, `list NAME file "p"`)
 * and inline lists: reading list files, checking items against the way a
 * rule uses the list, and membership tests.
 *
 * A list file holds one item per line; blank lines and lines starting
 * with '#' are skipped, and " #" (a blank, then '#') starts a comment,
 * except on a /regex/ line.  A line is a string, an address or range, a
 * number or a /regex/flags depending on the rule that uses the list, and
 * is checked as such (with its file and line) when the set is linked.
 * Each use builds the typed view it needs once: sorted strings (ASCII
 * case ignored), ranges, numbers, compiled regexes.  Views live on the
 * set's arena and are read-only after the load.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

int
rules_strcasecmp_len(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;

	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return x < y ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static struct rules_item *
list_add(struct rules_compiler *c, struct rules_list *list)
{
	if (list->n >= RULES_MAX_LIST_ITEMS) {
		rules_error(c, &list->loc, NULL,
			    "list '%s' has more than %u items",
			    list->name != NULL ? list->name : "{...}",
			    RULES_MAX_LIST_ITEMS);
		return NULL;
	}
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8;
		struct rules_item *n;

		n = pst_arena_calloc(c->tmp, cap, sizeof(*n));
		if (n == NULL) {
			rules_oom(c);
			return NULL;
		}
		if (list->n)
			memcpy(n, list->items, list->n * sizeof(*n));
		list->items = n;
		list->cap = cap;
	}
	memset(&list->items[list->n], 0, sizeof(list->items[0]));
	return &list->items[list->n++];
}

void
rules_list_read_lines(struct rules_compiler *c, struct rules_list *list,
		      const struct rules_file *file)
{
	const char *text = file->text;
	size_t pos = 0, len = file->len;
	unsigned line = 0;

	while (pos < len && !c->stopped) {
		size_t start = pos, end, a, b;
		struct rules_item *it;
		unsigned col = 1;

		while (pos < len && text[pos] != '\n')
			pos++;
		end = pos;
		if (pos < len)
			pos++;
		line++;
		a = start;
		while (a < end && (text[a] == ' ' || text[a] == '\t')) {
			a++;
			col++;
		}
		if (a == end || text[a] == '#')
			continue;
		b = end;
		if (text[a] != '/') {
			for (size_t k = a + 1; k < end; k++) {
				if (text[k] == '#' && (text[k - 1] == ' ' ||
						       text[k - 1] == '\t')) {
					b = k;
					break;
				}
			}
		}
		while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' ||
				 text[b - 1] == '\r'))
			b--;
		it = list_add(c, list);
		if (it == NULL)
			return;
		it->kind = RULES_ITEM_STRING;
		it->raw = true;
		it->str.p = pst_arena_strndup(c->set->arena, text + a, b - a);
		if (it->str.p == NULL) {
			rules_oom(c);
			return;
		}
		it->str.len = b - a;
		it->loc.file = file;
		it->loc.off = a;
		it->loc.line = line;
		it->loc.col = col;
		it->loc.len = (unsigned)(b - a > 0xffff ? 0xffff : b - a);
	}
}

/* ---- views ---- */

static int
cmp_str(const void *a, const void *b)
{
	const struct pst_str *x = a, *y = b;

	return rules_strcasecmp_len(x->p, x->len, y->p, y->len);
}

static int
cmp_num(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

static const char *
list_label(struct rules_compiler *c, const struct rules_list *list)
{
	const char *s;

	if (list->name == NULL)
		return "this list";
	s = pst_arena_printf(c->tmp, "list '%s'", list->name);
	return s != NULL ? s : "the list";
}

static const char *
use_hint(struct rules_compiler *c, const struct rules_test *t,
	 const struct rules_loc *use)
{
	const char *s;

	if (use == NULL || use->file == NULL)
		return NULL;
	s = pst_arena_printf(c->tmp, "used at %s:%u:%u by `%s`",
			     use->file->name, use->line, use->col, t->text);
	return s;
}

static int
view_strings(struct rules_compiler *c, struct rules_list *list,
	     const struct rules_test *t, const struct rules_loc *use)
{
	const struct rules_vardef *def = t->lhs.def;
	int rc = 0;

	list->strs = pst_arena_calloc(c->set->arena, list->n ? list->n : 1,
				      sizeof(*list->strs));
	if (list->strs == NULL)
		return rules_oom(c);
	for (size_t i = 0; i < list->n; i++) {
		const struct rules_item *it = &list->items[i];

		if (it->kind != RULES_ITEM_STRING) {
			rc = rules_error(c, &it->loc, use_hint(c, t, use),
					 "%s holds strings for `%s`; this "
					 "item is not a string",
					 list_label(c, list), def->name);
			continue;
		}
		if (def->type == RULES_VT_RESULT &&
		    t->op != RULES_OP_CONTAINS) {
			bool ok = false;

			for (size_t k = 0; def->domain[k] != NULL; k++)
				ok |= rules_strcasecmp_len(
					      it->str.p, it->str.len,
					      def->domain[k],
					      strlen(def->domain[k])) == 0;
			if (!ok)
				rc = rules_error(c, &it->loc,
						 use_hint(c, t, use),
						 "'%s' is never a value of %s",
						 rules_show(c->tmp, it->str.p,
							    it->str.len),
						 def->name);
		}
		/* lowercased: `in` compares ignoring case anyway, and
		 * `contains` searches a lowercased copy of the value */
		char *low = pst_arena_strndup(c->set->arena, it->str.p,
					      it->str.len);

		if (low == NULL)
			return rules_oom(c);
		for (size_t k = 0; k < it->str.len; k++) {
			if (low[k] >= 'A' && low[k] <= 'Z')
				low[k] = (char)(low[k] - 'A' + 'a');
		}
		list->strs[i].p = low;
		list->strs[i].len = it->str.len;
	}
	qsort(list->strs, list->n, sizeof(*list->strs), cmp_str);
	return rc;
}

static int
view_numbers(struct rules_compiler *c, struct rules_list *list,
	     const struct rules_test *t, const struct rules_loc *use)
{
	int rc = 0;

	list->nums = pst_arena_calloc(c->set->arena, list->n ? list->n : 1,
				      sizeof(*list->nums));
	if (list->nums == NULL)
		return rules_oom(c);
	for (size_t i = 0; i < list->n; i++) {
		const struct rules_item *it = &list->items[i];
		char *end;
		double v;

		if (it->kind == RULES_ITEM_NUMBER) {
			list->nums[i] = it->num;
			continue;
		}
		if (it->raw && it->str.len > 0 && it->str.len < 32) {
			char buf[32];

			memcpy(buf, it->str.p, it->str.len);
			buf[it->str.len] = '\0';
			v = strtod(buf, &end);
			if (*end == '\0' && buf[0] >= '0' && buf[0] <= '9') {
				list->nums[i] = v;
				continue;
			}
		}
		rc = rules_error(c, &it->loc, use_hint(c, t, use),
				 "%s holds numbers for `%s`; this item is "
				 "not a number",
				 list_label(c, list), t->lhs.def->name);
	}
	qsort(list->nums, list->n, sizeof(*list->nums), cmp_num);
	return rc;
}

static int
view_cidrs(struct rules_compiler *c, struct rules_list *list,
	   const struct rules_test *t, const struct rules_loc *use)
{
	int rc = 0;

	list->cidrs = pst_arena_calloc(c->set->arena, list->n ? list->n : 1,
				       sizeof(*list->cidrs));
	if (list->cidrs == NULL)
		return rules_oom(c);
	for (size_t i = 0; i < list->n; i++) {
		const struct rules_item *it = &list->items[i];
		const char *why = NULL;

		if (it->kind == RULES_ITEM_ADDRESS) {
			list->cidrs[i] = it->cidr;
			continue;
		}
		if (it->raw && rules_cidr_parse(it->str.p, it->str.len,
						&list->cidrs[i], &why) == 0)
			continue;
		if (why != NULL)
			rc = rules_error(
				c, &it->loc, use_hint(c, t, use),
				"bad address '%s' in %s: %s",
				rules_show(c->tmp, it->str.p, it->str.len),
				list_label(c, list), why);
		else
			rc = rules_error(c, &it->loc, use_hint(c, t, use),
					 "%s holds addresses for `%s`; this "
					 "item is not an address",
					 list_label(c, list), t->lhs.def->name);
	}
	return rc;
}

/* A list file line "/pattern/flags". */
static int
raw_regex(struct rules_compiler *c, struct rules_item *it)
{
	const char *p = it->str.p, *why = NULL;
	size_t len = it->str.len, close = 0, erroff = 0;
	unsigned flags = 0;
	struct rules_loc at = it->loc;

	if (len < 2 || p[0] != '/')
		return 1;
	for (size_t i = len - 1; i > 0; i--) {
		if (p[i] == '/') {
			close = i;
			break;
		}
	}
	if (close == 0)
		return 1;
	for (size_t i = close + 1; i < len; i++) {
		if (p[i] == 'i')
			flags |= RULES_RE_I;
		else if (p[i] == 'm')
			flags |= RULES_RE_M;
		else if (p[i] == 's')
			flags |= RULES_RE_S;
		else if (p[i] == 'x')
			flags |= RULES_RE_X;
		else
			return 1;
	}
	it->re = pst_arena_zalloc(c->set->arena, sizeof(*it->re));
	if (it->re == NULL)
		return rules_oom(c);
	if (rules_regex_compile(c->set->arena, p + 1, close - 1, flags, it->re,
				&why, &erroff) < 0) {
		it->re = NULL;
		at.off += 1 + erroff;
		at.col += 1 + (unsigned)erroff;
		at.len = 1;
		return rules_error(c, &at, NULL, "bad regex: %s", why);
	}
	it->re->text = it->str.p;
	*c->regex_tail = it->re;
	c->regex_tail = &it->re->next;
	return 0;
}

static int
view_regexes(struct rules_compiler *c, struct rules_list *list,
	     const struct rules_test *t, const struct rules_loc *use)
{
	int rc = 0;

	list->res = pst_arena_calloc(c->set->arena, list->n ? list->n : 1,
				     sizeof(*list->res));
	if (list->res == NULL)
		return rules_oom(c);
	for (size_t i = 0; i < list->n; i++) {
		struct rules_item *it = &list->items[i];
		int r;

		if (it->kind == RULES_ITEM_REGEX) {
			list->res[i] = it->re;
			continue;
		}
		if (it->raw) {
			r = raw_regex(c, it);
			if (r == 0) {
				list->res[i] = it->re;
				continue;
			}
			if (r < 0) {
				rc = -1;
				continue;
			}
		}
		rc = rules_error(c, &it->loc, use_hint(c, t, use),
				 "%s holds regexes for `%s`; this item is not "
				 "a /regex/",
				 list_label(c, list), t->lhs.def->name);
	}
	return rc;
}

int
rules_list_check(struct rules_compiler *c, struct rules_list *list,
		 const struct rules_test *t, const struct rules_loc *use)
{
	enum rules_vtype type = t->lhs.def->type;

	if (t->op == RULES_OP_MATCHES) {
		if (list->have_res)
			return 0;
		list->have_res = true;
		return view_regexes(c, list, t, use);
	}
	switch (type) {
	case RULES_VT_STRING:
	case RULES_VT_RESULT:
		if (list->have_strs)
			return 0;
		list->have_strs = true;
		return view_strings(c, list, t, use);
	case RULES_VT_NUMBER:
		if (list->have_nums)
			return 0;
		list->have_nums = true;
		return view_numbers(c, list, t, use);
	case RULES_VT_IP:
		if (list->have_cidrs)
			return 0;
		list->have_cidrs = true;
		return view_cidrs(c, list, t, use);
	default:
		return 0;
	}
}

/* ---- membership ---- */

bool
rules_list_has_str(const struct rules_list *list, const char *p, size_t len)
{
	size_t lo = 0, hi = list->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = rules_strcasecmp_len(p, len, list->strs[mid].p,
					     list->strs[mid].len);

		if (d == 0)
			return true;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

bool
rules_list_has_num(const struct rules_list *list, double num)
{
	size_t lo = 0, hi = list->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (list->nums[mid] == num)
			return true;
		if (num < list->nums[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

bool
rules_list_has_ip(const struct rules_list *list, const struct rules_ip *ip)
{
	for (size_t i = 0; i < list->n; i++) {
		if (rules_cidr_match(&list->cidrs[i], ip))
			return true;
	}
	return false;
}
