/*
 * conf_int.h - what conf.c (the parser) and conf_bind.c (the binding)
 * share.  Not for other files.
 */
#ifndef PST_CONF_INT_H
#define PST_CONF_INT_H

struct pst_arena;

extern const char pst_conf_oom[];

/* A copy of an admin's text fit for a message: control bytes become '?'
 * and long text is cut (on a UTF-8 boundary) with "...". */
const char *pst_conf_show(struct pst_arena *arena, const char *s);

#endif
