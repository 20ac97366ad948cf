/* chain.c - (being written) */
int pst_filters_chain_placeholder;
