/*
 * cli_out.h - how the postern subcommands print text that came from
 * mail: for a terminal (controls, bidi marks and invalid UTF-8 escaped,
 * so a hostile subject cannot rewrite the screen) and as JSON strings.
 */
#ifndef GATEWAY_CLI_OUT_H
#define GATEWAY_CLI_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* s[0..n) for a terminal; a tab is kept when keep_tab. */
void cli_text_out(FILE *f, const char *s, size_t n, bool keep_tab);
/* The same for a C string; NULL prints nothing. */
void cli_text_cstr(FILE *f, const char *s);
/* A JSON string: valid UTF-8 passed through, other bytes as U+FFFD. */
void cli_json_str(FILE *f, const char *s, size_t n);
/* The same for a C string; NULL prints null. */
void cli_json_cstr(FILE *f, const char *s);

#endif
