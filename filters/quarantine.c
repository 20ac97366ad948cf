/* quarantine.c - (being written) */
int pst_filters_quarantine_placeholder;
