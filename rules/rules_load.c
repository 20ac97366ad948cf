/*
 * rules_load.c - loading rule files into a set: reading files, includes
 * (relative to the including file, globbed, depth-limited, loops
 * refused), list files, and linking what the parser collected into an
 * immutable set (lists resolved, duplicate names refused, rules grouped
 * by stage, the prefilter built).
 *
 * A load works on its own compiler state and a set that nobody else sees
 * until it succeeds; on any error the set is freed and the caller's
 * current set is untouched.  Foreign resources (descriptors, glob(3)
 * results, realpath buffers) are released before each function returns.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules_int.h"

#define NO_NAME "<string>"

void
rules_options_default(struct rules_options *opts)
{
	opts->match_limit = RULES_DEFAULT_MATCH_LIMIT;
	opts->depth_limit = RULES_DEFAULT_DEPTH_LIMIT;
	opts->max_errors = RULES_DEFAULT_MAX_ERRORS;
}

/* ---- files ---- */

static int
read_file(struct rules_compiler *c, const char *path, const char **text_r,
	  size_t *len_r, const char **why_r)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd;

	*why_r = NULL;
	/* O_NONBLOCK: a FIFO must not hang the load; it is refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*why_r = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why_r = "not a regular file";
		goto fail;
	}
	if ((uint64_t)st.st_size > RULES_MAX_FILE_SIZE) {
		*why_r = "larger than 16 MiB";
		goto fail;
	}
	if (c->total_size + (size_t)st.st_size > RULES_MAX_TOTAL_SIZE) {
		*why_r = "the rule files add up to more than 64 MiB";
		goto fail;
	}
	buf = pst_arena_alloc(c->tmp, (size_t)st.st_size + 1);
	if (buf == NULL) {
		*why_r = "out of memory";
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why_r = strerror(errno);
			goto fail;
		}
		if (n == 0)
			break; /* it shrank meanwhile: take what is there */
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	c->total_size += got;
	*text_r = buf;
	*len_r = got;
	return 0;
fail:
	close(fd);
	return -1;
}

static struct rules_file *
add_file(struct rules_compiler *c, const char *name, const char *text,
	 size_t len)
{
	struct rules_file *f = pst_arena_zalloc(c->tmp, sizeof(*f));

	if (f == NULL ||
	    (f->name = pst_arena_strdup(c->set->arena, name)) == NULL) {
		rules_oom(c);
		return NULL;
	}
	f->text = text;
	f->len = len;
	*c->files_tail = f;
	c->files_tail = &f->next;
	c->nfiles++;
	return f;
}

/* dir(of)/path, with glob(3)'s special bytes in the directory escaped
 * when the result is to be globbed, so only the admin's pattern is one. */
static char *
resolve(struct pst_arena *arena, const char *of, const char *path,
	bool for_glob)
{
	const char *slash = of != NULL ? strrchr(of, '/') : NULL;
	size_t dirlen, o = 0;
	char *dir;

	if (path[0] == '/' || slash == NULL)
		return pst_arena_strdup(arena, path);
	dirlen = (size_t)(slash - of);
	dir = pst_arena_alloc(arena, 2 * dirlen + 1);
	if (dir == NULL)
		return NULL;
	for (size_t i = 0; i < dirlen; i++) {
		if (for_glob && strchr("*?[\\", of[i]) != NULL)
			dir[o++] = '\\';
		dir[o++] = of[i];
	}
	dir[o] = '\0';
	return pst_arena_printf(arena, "%s/%s", dir, path);
}

static void
load_path(struct rules_compiler *c, const struct rules_loc *at,
	  const char *path)
{
	char real[PATH_MAX];
	const char *text, *why, *key;
	struct rules_file *f;
	size_t len;

	if (c->stopped)
		return;
	if (c->nfiles >= RULES_MAX_FILES) {
		rules_error(c, at, NULL, "more than %d rule files",
			    RULES_MAX_FILES);
		return;
	}
	key = realpath(path, real) != NULL ? real : path;
	for (unsigned i = 0; i < c->depth; i++) {
		if (strcmp(c->stack[i], key) == 0) {
			rules_error(c, at,
				    "a file cannot include itself, directly "
				    "or through others",
				    "include loop: '%s' is already being read",
				    rules_show(c->tmp, path, strlen(path)));
			return;
		}
	}
	/* the top file and RULES_MAX_INCLUDE_DEPTH levels below it */
	if (c->depth > RULES_MAX_INCLUDE_DEPTH) {
		rules_error(c, at, NULL, "includes nested deeper than %d",
			    RULES_MAX_INCLUDE_DEPTH);
		return;
	}
	if (read_file(c, path, &text, &len, &why) < 0) {
		rules_error(c, at, NULL, "cannot read '%s': %s",
			    rules_show(c->tmp, path, strlen(path)), why);
		return;
	}
	f = add_file(c, path, text, len);
	c->stack[c->depth] = pst_arena_strdup(c->tmp, key);
	if (f == NULL || c->stack[c->depth] == NULL) {
		rules_oom(c);
		return;
	}
	c->depth++;
	rules_parse_file(c, f);
	c->depth--;
}

/* A directory on the way that does not exist just means no match; one
 * that cannot be read must not silently drop rules. */
static int
glob_error(const char *path, int err)
{
	(void)path;
	return err != ENOENT && err != ENOTDIR;
}

static void
load_pattern(struct rules_compiler *c, const struct rules_loc *at,
	     const char *of, const char *pattern)
{
	bool is_glob = strpbrk(pattern, "*?[") != NULL;
	char *path = resolve(c->tmp, of, pattern, is_glob);
	glob_t g;
	int rc;

	if (path == NULL) {
		rules_oom(c);
		return;
	}
	if (strlen(path) >= PATH_MAX) {
		rules_error(c, at, NULL, "file name too long");
		return;
	}
	if (!is_glob) {
		load_path(c, at, path);
		return;
	}
	rc = glob(path, 0, glob_error, &g);
	if (rc == GLOB_NOMATCH)
		return; /* an empty rules.d/ is fine */
	if (rc != 0) {
		globfree(&g);
		rules_error(c, at, NULL, "cannot expand '%s': %s",
			    rules_show(c->tmp, pattern, strlen(pattern)),
			    rc == GLOB_NOSPACE ? "out of memory"
					       : "a directory cannot be read");
		return;
	}
	/* glob(3) sorts, so 10-base.rules comes before 20-local.rules. */
	for (size_t i = 0; i < g.gl_pathc && !c->stopped; i++)
		load_path(c, at, g.gl_pathv[i]);
	globfree(&g);
}

void
rules_load_include(struct rules_compiler *c, const struct rules_loc *at,
		   const char *pattern)
{
	if (!c->files_allowed) {
		rules_error(c, at, NULL,
			    "include is not allowed here (the text has no "
			    "file name)");
		return;
	}
	load_pattern(c, at, at->file->name, pattern);
}

int
rules_load_list_file(struct rules_compiler *c, const struct rules_loc *at,
		     const char *path, struct rules_file **file_r)
{
	const char *text, *why;
	char *full;
	size_t len;

	if (!c->files_allowed)
		return rules_error(c, at, NULL,
				   "list files are not allowed here (the text "
				   "has no file name)");
	if (c->nfiles >= RULES_MAX_FILES)
		return rules_error(c, at, NULL, "more than %d rule files",
				   RULES_MAX_FILES);
	full = resolve(c->tmp, at->file->name, path, false);
	if (full == NULL)
		return rules_oom(c);
	if (read_file(c, full, &text, &len, &why) < 0)
		return rules_error(c, at, NULL,
				   "cannot read list file '%s': %s",
				   rules_show(c->tmp, full, strlen(full)), why);
	*file_r = add_file(c, full, text, len);
	return *file_r != NULL ? 0 : -1;
}

/* ---- linking ---- */

static int
cmp_list(const void *a, const void *b)
{
	const struct rules_list *x = *(struct rules_list *const *)a;
	const struct rules_list *y = *(struct rules_list *const *)b;
	int d = strcmp(x->name, y->name);

	if (d != 0)
		return d;
	return (x->order > y->order) - (x->order < y->order);
}

static int
cmp_rule(const void *a, const void *b)
{
	const struct rules_rule *x = *(struct rules_rule *const *)a;
	const struct rules_rule *y = *(struct rules_rule *const *)b;
	int d = strcmp(x->name, y->name);

	if (d != 0)
		return d;
	return (x->index > y->index) - (x->index < y->index);
}

static const char *
where(struct rules_compiler *c, const struct rules_loc *loc)
{
	const char *s = pst_arena_printf(c->tmp, "first defined at %s:%u",
					 loc->file->name, loc->line);

	return s;
}

static int
link_lists(struct rules_compiler *c, struct rules_list ***sorted_r, size_t *n_r)
{
	struct rules_list **v, *l;
	size_t n = 0;

	v = pst_arena_calloc(c->tmp, c->set->nlists + 1, sizeof(*v));
	if (v == NULL)
		return rules_oom(c);
	for (l = c->lists; l != NULL; l = l->next) {
		l->order = n;
		v[n++] = l;
	}
	qsort(v, n, sizeof(*v), cmp_list);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i]->name, v[i - 1]->name) == 0)
			rules_error(c, &v[i]->loc, where(c, &v[i - 1]->loc),
				    "list '%s' is defined twice", v[i]->name);
	}
	*sorted_r = v;
	*n_r = n;
	return 0;
}

static struct rules_list *
find_list(struct rules_list **v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(name, v[mid]->name);

		if (d == 0)
			return v[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void
resolve_refs(struct rules_compiler *c, struct rules_list **v, size_t n)
{
	const char **names;

	names = pst_arena_calloc(c->tmp, n + 1, sizeof(*names));
	if (names == NULL) {
		rules_oom(c);
		return;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = v[i]->name;
	for (size_t i = 0; i < c->nlist_refs && !c->stopped; i++) {
		struct rules_test *t = c->list_refs[i];
		struct rules_list *l = find_list(v, n, t->list_ref);

		if (l == NULL) {
			const char *s = rules_suggest(
				t->list_ref, strlen(t->list_ref), names);

			rules_error(
				c, &t->list_loc,
				s != NULL ? pst_arena_printf(
						    c->tmp, "did you mean @%s?",
						    s)
					  : "define it with list NAME { ... }",
				"unknown list '@%s'", t->list_ref);
			continue;
		}
		t->list = l;
		if (t->lhs.def->type != RULES_VT_UNKNOWN)
			rules_list_check(c, l, t, &t->list_loc);
	}
}

static void
check_duplicate_rules(struct rules_compiler *c)
{
	struct rules_rule **v =
		pst_arena_calloc(c->tmp, c->nrules + 1, sizeof(*v));
	size_t n = 0;

	if (v == NULL) {
		rules_oom(c);
		return;
	}
	for (struct rules_rule *r = c->rules; r != NULL; r = r->next)
		v[n++] = r;
	qsort(v, n, sizeof(*v), cmp_rule);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i]->name, v[i - 1]->name) == 0)
			rules_error(c, &v[i]->loc, where(c, &v[i - 1]->loc),
				    "rule '%s' is defined twice", v[i]->name);
	}
}

/* A rule that reads score sees only what rules before it added. */
static void
check_score_order(struct rules_compiler *c)
{
	const struct rules_rule *pending[64];
	size_t npending = 0;

	for (struct rules_rule *r = c->rules; r != NULL; r = r->next) {
		if (r->stage != RULES_STAGE_MESSAGE)
			continue;
		if (r->writes_score) {
			for (size_t i = 0; i < npending; i++)
				rules_warning(
					c, &pending[i]->loc,
					pst_arena_printf(
						c->tmp,
						"rules run in order: move it "
						"after '%s'",
						r->name),
					"rule '%s' reads score before rule "
					"'%s' (%s:%u) adds to it",
					pending[i]->name, r->name, r->file,
					r->line);
			npending = 0;
		}
		if (r->reads_score && npending < 64)
			pending[npending++] = r;
	}
}

static int
build_stages(struct rules_compiler *c)
{
	struct rules_set *set = c->set;
	size_t k[RULES_STAGE__COUNT] = { 0 };

	set->rules = pst_arena_calloc(set->arena, c->nrules + 1,
				      sizeof(*set->rules));
	if (set->rules == NULL)
		return rules_oom(c);
	for (struct rules_rule *r = c->rules; r != NULL; r = r->next) {
		set->rules[set->nrules++] = r;
		set->nstage[r->stage]++;
		set->stage_vars[r->stage] |= r->vars;
	}
	for (unsigned s = 0; s < RULES_STAGE__COUNT; s++) {
		set->stage_rules[s] = pst_arena_calloc(
			set->arena, set->nstage[s] + 1, sizeof(void *));
		if (set->stage_rules[s] == NULL)
			return rules_oom(c);
	}
	for (size_t i = 0; i < set->nrules; i++) {
		struct rules_rule *r = set->rules[i];

		set->stage_rules[r->stage][k[r->stage]++] = r;
	}
	set->slots = pst_arena_calloc(set->arena, c->nslots + 1,
				      sizeof(*set->slots));
	if (set->slots == NULL)
		return rules_oom(c);
	if (c->nslots)
		memcpy(set->slots, c->slots, c->nslots * sizeof(*c->slots));
	set->nslots = c->nslots;
	return 0;
}

static int
cmp_lit(const void *a, const void *b)
{
	const struct rules_regex *x = *(struct rules_regex *const *)a;
	const struct rules_regex *y = *(struct rules_regex *const *)b;
	size_t n = x->literal_len < y->literal_len ? x->literal_len
						   : y->literal_len;
	int d = memcmp(x->literal, y->literal, n);

	if (d != 0)
		return d;
	return (x->literal_len > y->literal_len) -
	       (x->literal_len < y->literal_len);
}

/* One automaton over the distinct literals of every regex. */
static int
build_prefilter(struct rules_compiler *c)
{
	struct rules_set *set = c->set;
	struct rules_regex **v, *re;
	struct pst_str *lits;
	size_t n = 0, nlit = 0;

	for (re = set->regexes; re != NULL; re = re->next)
		n += re->literal != NULL;
	if (n == 0)
		return 0;
	v = pst_arena_calloc(c->tmp, n, sizeof(*v));
	lits = pst_arena_calloc(set->arena, n, sizeof(*lits));
	if (v == NULL || lits == NULL)
		return rules_oom(c);
	n = 0;
	for (re = set->regexes; re != NULL; re = re->next) {
		if (re->literal != NULL)
			v[n++] = re;
	}
	qsort(v, n, sizeof(*v), cmp_lit);
	for (size_t i = 0; i < n; i++) {
		if (nlit == 0 || cmp_lit(&v[i], &v[i - 1]) != 0) {
			lits[nlit].p = v[i]->literal;
			lits[nlit++].len = v[i]->literal_len;
		}
		v[i]->lit_id = (int)nlit - 1;
	}
	set->ac = rules_ac_build(set->arena, lits, nlit);
	if (set->ac == NULL) {
		/* too big to build: every regex runs, as without literals */
		for (size_t i = 0; i < n; i++)
			v[i]->lit_id = -1;
		return 0;
	}
	set->nlits = nlit;
	return 0;
}

static int
link_set(struct rules_compiler *c)
{
	struct rules_list **lists = NULL;
	size_t nlists = 0;

	if (c->stopped)
		return -1;
	if (link_lists(c, &lists, &nlists) == 0)
		resolve_refs(c, lists, nlists);
	check_duplicate_rules(c);
	if (c->nerrors > 0 || c->stopped)
		return -1;
	if (build_stages(c) < 0)
		return -1;
	check_score_order(c);
	c->set->lists = c->lists;
	if (build_prefilter(c) < 0)
		return -1;
	return c->nerrors > 0 || c->oom ? -1 : 0;
}

/* ---- the public entry points ---- */

static int
compiler_init(struct rules_compiler *c, const struct rules_options *opts,
	      struct pst_arena *arena)
{
	memset(c, 0, sizeof(*c));
	if (opts != NULL)
		c->opts = *opts;
	else
		rules_options_default(&c->opts);
	if (c->opts.max_errors == 0)
		c->opts.max_errors = RULES_DEFAULT_MAX_ERRORS;
	c->out_arena = arena;
	pst_buf_init(&c->text, 0);
	c->files_tail = &c->files;
	c->rules_tail = &c->rules;
	c->lists_tail = &c->lists;
	c->tmp = pst_arena_new(64 * 1024);
	c->set = calloc(1, sizeof(*c->set));
	if (c->set != NULL)
		c->set->arena = pst_arena_new(64 * 1024);
	if (c->tmp == NULL || c->set == NULL || c->set->arena == NULL) {
		if (c->set != NULL)
			pst_arena_free(&c->set->arena);
		free(c->set);
		pst_arena_free(&c->tmp);
		c->set = NULL;
		return -1;
	}
	atomic_init(&c->set->refs, 1);
	c->set->match_limit = c->opts.match_limit;
	c->set->depth_limit = c->opts.depth_limit;
	c->regex_tail = &c->set->regexes;
	return 0;
}

static int
compiler_finish(struct rules_compiler *c, struct rules_set **set_r,
		struct rules_report *report_r)
{
	int rc = link_set(c);

	if (c->oom && c->nerrors == 0) {
		c->stopped = false;
		rules_error(c, NULL, NULL, "out of memory");
	}
	memset(report_r, 0, sizeof(*report_r));
	report_r->diags = c->diags;
	report_r->ndiags = c->ndiags;
	report_r->nerrors = c->nerrors;
	report_r->text = pst_arena_strdup(
		c->out_arena, c->text.data != NULL ? c->text.data : "");
	if (report_r->text == NULL)
		report_r->text = "out of memory\n";
	pst_buf_free(&c->text);
	pst_arena_free(&c->tmp);
	if (rc < 0 || c->nerrors > 0) {
		rules_set_unref(&c->set);
		*set_r = NULL;
		return -1;
	}
	*set_r = c->set;
	return 0;
}

static int
oom_report(struct pst_arena *arena, struct rules_set **set_r,
	   struct rules_report *report_r)
{
	memset(report_r, 0, sizeof(*report_r));
	report_r->nerrors = 1;
	report_r->text = "error: out of memory\n";
	(void)arena;
	*set_r = NULL;
	return -1;
}

int
rules_load_files(const char *const *patterns, size_t npatterns,
		 const struct rules_options *opts, struct pst_arena *arena,
		 struct rules_set **set_r, struct rules_report *report_r)
{
	struct rules_compiler c;

	if (compiler_init(&c, opts, arena) < 0)
		return oom_report(arena, set_r, report_r);
	c.files_allowed = true;
	for (size_t i = 0; i < npatterns && !c.stopped; i++)
		load_pattern(&c, NULL, NULL, patterns[i]);
	return compiler_finish(&c, set_r, report_r);
}

int
rules_load_string(const char *name, const char *text, size_t len,
		  const struct rules_options *opts, struct pst_arena *arena,
		  struct rules_set **set_r, struct rules_report *report_r)
{
	struct rules_compiler c;
	struct rules_file *f;
	char *copy;

	if (compiler_init(&c, opts, arena) < 0)
		return oom_report(arena, set_r, report_r);
	c.files_allowed = name != NULL;
	/* a copy with a NUL after it: the lexer may look one byte ahead */
	copy = pst_arena_alloc(c.tmp, len + 1);
	if (copy != NULL) {
		memcpy(copy, text, len);
		copy[len] = '\0';
		f = add_file(&c, name != NULL ? name : NO_NAME, copy, len);
		if (f != NULL) {
			char real[PATH_MAX];

			c.depth = 1;
			c.stack[0] =
				name != NULL && realpath(name, real) != NULL
					? pst_arena_strdup(c.tmp, real)
					: f->name;
			if (c.stack[0] == NULL)
				c.stack[0] = f->name;
			rules_parse_file(&c, f);
		}
	} else {
		rules_oom(&c);
	}
	return compiler_finish(&c, set_r, report_r);
}
