/* rules_placeholder.c - keeps libpstrules.a non-empty until rules/ lands. */
int pst_rules_placeholder;
