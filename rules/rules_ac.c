/*
 * rules_ac.c - the prefilter: one pass over a text finds which of the
 * set's required literals occur in it (Aho-Corasick, ASCII case folded),
 * so that a regex whose literal is absent is never run.
 *
 * The automaton is a full DFA over byte classes (the distinct bytes of
 * the literals, plus one class for every other byte): one table lookup
 * per input byte, no failure-link walk while scanning.  Built once per
 * set on its arena; read-only afterwards, so thread-safe.
 */
#include "config.h"

#include <string.h>

#include "rules_int.h"

/* Cap on the transition table (entries); literals past it get no id
 * and their regexes simply always run. */
#define AC_MAX_ENTRIES (16u << 20)

struct rules_ac {
	uint8_t cls[256]; /* byte -> class, case folded */
	unsigned nclass;
	uint32_t *delta; /* nstates * nclass */
	/* the same table in 16 bits when the states fit: half the cache
	 * lines, which is most of the scan's time */
	uint16_t *delta16;
	uint32_t nstates;
	/* outputs: literal ids ending at a state, then the next state on
	 * the failure chain that has outputs (0: none) */
	uint32_t *out_start, *out_count, *out_ids, *out_next;
	uint8_t *term; /* has outputs of its own or down the chain */
	size_t nlits;
};

static uint8_t
fold(uint8_t b)
{
	return b >= 'A' && b <= 'Z' ? (uint8_t)(b - 'A' + 'a') : b;
}

size_t
rules_ac_states(const struct rules_ac *ac)
{
	return ac != NULL ? ac->nstates : 0;
}

struct rules_ac *
rules_ac_build(struct pst_arena *arena, const struct pst_str *lits, size_t n)
{
	struct rules_ac *ac = pst_arena_zalloc(arena, sizeof(*ac));
	uint32_t *gotos, *fail, *queue, *last_of;
	size_t maxstates = 1, nout = 0;
	bool seen[256] = { false };

	if (ac == NULL)
		return NULL;
	ac->nlits = n;
	for (size_t i = 0; i < n; i++) {
		maxstates += lits[i].len;
		for (size_t j = 0; j < lits[i].len; j++)
			seen[fold((uint8_t)lits[i].p[j])] = true;
	}
	ac->nclass = 1;
	for (unsigned b = 0; b < 256; b++) {
		if (seen[b])
			ac->cls[b] = (uint8_t)ac->nclass++;
	}
	for (unsigned b = 'A'; b <= 'Z'; b++)
		ac->cls[b] = ac->cls[b - 'A' + 'a'];
	if (ac->nclass > 255 || maxstates * ac->nclass > AC_MAX_ENTRIES ||
	    maxstates > UINT32_MAX / 2)
		return NULL; /* the caller limits what it passes */

	ac->delta = pst_arena_calloc(arena, maxstates * ac->nclass,
				     sizeof(uint32_t));
	ac->out_count = pst_arena_calloc(arena, maxstates, sizeof(uint32_t));
	ac->out_start = pst_arena_calloc(arena, maxstates, sizeof(uint32_t));
	ac->out_next = pst_arena_calloc(arena, maxstates, sizeof(uint32_t));
	ac->term = pst_arena_calloc(arena, maxstates, 1);
	ac->out_ids = pst_arena_calloc(arena, n ? n : 1, sizeof(uint32_t));
	gotos = ac->delta; /* the trie first: 0 = no edge (root has none
			    * pointing to it) */
	fail = pst_arena_calloc(arena, maxstates, sizeof(uint32_t));
	queue = pst_arena_calloc(arena, maxstates, sizeof(uint32_t));
	last_of = pst_arena_calloc(arena, n ? n : 1, sizeof(uint32_t));
	if (ac->delta == NULL || ac->out_count == NULL ||
	    ac->out_start == NULL || ac->out_next == NULL || ac->term == NULL ||
	    ac->out_ids == NULL || fail == NULL || queue == NULL ||
	    last_of == NULL)
		return NULL;

	/* the trie */
	ac->nstates = 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t s = 0;

		for (size_t j = 0; j < lits[i].len; j++) {
			unsigned c = ac->cls[(uint8_t)lits[i].p[j]];
			uint32_t *e = &gotos[(size_t)s * ac->nclass + c];

			if (*e == 0)
				*e = ac->nstates++;
			s = *e;
		}
		last_of[i] = s;
		ac->out_count[s]++;
	}
	/* output id lists, grouped by state */
	for (uint32_t s = 0; s < ac->nstates; s++) {
		ac->out_start[s] = (uint32_t)nout;
		nout += ac->out_count[s];
		ac->out_count[s] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t s = last_of[i];

		ac->out_ids[ac->out_start[s] + ac->out_count[s]++] =
			(uint32_t)i;
	}

	/* breadth first: failure links, then the full transition table */
	size_t head = 0, tail = 0;

	for (unsigned c = 0; c < ac->nclass; c++) {
		uint32_t t = gotos[c];

		if (t != 0) {
			fail[t] = 0;
			queue[tail++] = t;
		}
	}
	while (head < tail) {
		uint32_t s = queue[head++];
		uint32_t f = fail[s];

		ac->out_next[s] = ac->out_count[f] > 0 ? f : ac->out_next[f];
		ac->term[s] = ac->out_count[s] > 0 || ac->out_next[s] != 0;
		for (unsigned c = 0; c < ac->nclass; c++) {
			uint32_t *e = &gotos[(size_t)s * ac->nclass + c];

			if (*e != 0) {
				/* f's row is final already (f is shallower) */
				fail[*e] =
					ac->delta[(size_t)f * ac->nclass + c];
				queue[tail++] = *e;
			} else {
				*e = ac->delta[(size_t)f * ac->nclass + c];
			}
		}
	}
	if (ac->nstates <= UINT16_MAX) {
		size_t cells = (size_t)ac->nstates * ac->nclass;

		ac->delta16 = pst_arena_calloc(arena, cells, sizeof(uint16_t));
		if (ac->delta16 != NULL) {
			for (size_t i = 0; i < cells; i++)
				ac->delta16[i] = (uint16_t)ac->delta[i];
		}
	}
	return ac;
}

static void
mark(const struct rules_ac *ac, uint32_t st, uint8_t *bits)
{
	for (uint32_t t = st; t != 0; t = ac->out_next[t]) {
		const uint32_t *id = ac->out_ids + ac->out_start[t];

		for (uint32_t k = 0; k < ac->out_count[t]; k++)
			bits[id[k] / 8] |= (uint8_t)(1u << (id[k] % 8));
	}
}

void
rules_ac_scan(const struct rules_ac *ac, const char *s, size_t len,
	      uint8_t *bits)
{
	const uint8_t *cls = ac->cls, *term = ac->term;
	const uint8_t *p = (const uint8_t *)s;
	size_t nclass = ac->nclass;
	uint32_t st = 0;

	if (ac->delta16 != NULL) {
		const uint16_t *delta = ac->delta16;

		for (size_t i = 0; i < len; i++) {
			st = delta[st * nclass + cls[p[i]]];
			if (term[st])
				mark(ac, st, bits);
		}
		return;
	}
	for (size_t i = 0; i < len; i++) {
		st = ac->delta[st * nclass + cls[p[i]]];
		if (term[st])
			mark(ac, st, bits);
	}
}
