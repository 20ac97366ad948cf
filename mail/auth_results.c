/* auth_results.c - (being written) */
int pst_auth_results_placeholder;
