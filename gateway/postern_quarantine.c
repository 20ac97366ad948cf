/* postern_quarantine.c - (being written) */
int pst_postern_quarantine_placeholder;
