/* ctx.c - (being written) */
int pst_filters_ctx_placeholder;
