/* edit.c - (being written) */
int pst_filters_edit_placeholder;
