/* run.c - (being written) */
int pst_filters_run_placeholder;
