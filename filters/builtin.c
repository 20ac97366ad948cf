/* builtin.c - (being written) */
int pst_filters_builtin_placeholder;
