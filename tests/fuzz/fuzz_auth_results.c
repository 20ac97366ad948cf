/*
 * fuzz_auth_results.c - libFuzzer target for mail/auth_results.c.
 *
 * The input is an Authentication-Results value and, as a NUL-terminated
 * string, a method, result or properties text.  Beyond "no crash", it
 * checks what the gateway relies on: an id that parses is not empty and
 * has no line break; written back with auth_results_format_id() it reads
 * back as the same id; properties that pass auth_results_props_valid()
 * hold no ';' outside quotes and comments and no line break, so a filter
 * cannot end its resinfo early or start a header field of its own; a
 * valid keyword is made of letters, digits and '-'.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_results.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does s hold a ';' outside quoted-strings and comments? */
static int
bare_semicolon(const char *s)
{
	unsigned depth = 0;
	int quoted = 0;

	for (; *s != '\0'; s++) {
		if ((quoted || depth > 0) && *s == '\\' && s[1] != '\0') {
			s++;
			continue;
		}
		if (quoted) {
			quoted = *s != '"';
			continue;
		}
		if (*s == '"' && depth == 0)
			quoted = 1;
		else if (*s == '(')
			depth++;
		else if (*s == ')' && depth > 0)
			depth--;
		else if (*s == ';' && depth == 0)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pst_buf id, out, back;
	char *s;

	pst_buf_init(&id, 0);
	pst_buf_init(&out, 0);
	pst_buf_init(&back, 0);
	if (auth_results_authserv_id(
		    (struct pst_str){ (const char *)data, size }, &id) == 0) {
		if (id.len == 0 || memchr(id.data, '\r', id.len) != NULL ||
		    memchr(id.data, '\n', id.len) != NULL)
			abort();
		/* An id with a NUL inside cannot be written; others must
		 * round-trip. */
		if (memchr(id.data, '\0', id.len) == NULL &&
		    auth_results_format_id(&out, id.data) == 0) {
			if (auth_results_authserv_id(pst_buf_view(&out),
						     &back) < 0 ||
			    back.len != id.len ||
			    memcmp(back.data, id.data, id.len) != 0)
				abort();
		}
	}

	s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (auth_results_props_valid(s)) {
		if (bare_semicolon(s) || strchr(s, '\r') || strchr(s, '\n'))
			abort();
		pst_buf_reset(&out);
		if (auth_results_format_resinfo(&out, "spf", "pass", s) < 0)
			abort();
	}
	if (auth_results_keyword_valid(s)) {
		for (const char *p = s; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') ||
			      (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-'))
				abort();
	}
	free(s);
	pst_buf_free(&id);
	pst_buf_free(&out);
	pst_buf_free(&back);
	return 0;
}
