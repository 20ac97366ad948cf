/* postern_scan.c - (being written) */
int pst_postern_scan_placeholder;
