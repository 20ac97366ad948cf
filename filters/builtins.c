/*
 * builtins.c - the filters compiled into postern, registered by name so
 * that `filter spf {}` (no module line) finds them.
 */
#include "config.h"

#include "filter_int.h"

extern const struct postern_filter filter_spf_def;
extern const struct postern_filter filter_dkim_def;
extern const struct postern_filter filter_dmarc_def;
extern const struct postern_filter filter_rules_def;
extern const struct postern_filter filter_clamd_def;
extern const struct postern_filter filter_attachment_def;
extern const struct postern_filter filter_content_def;

void
filter_builtins_register_all(void)
{
	filter_builtin_register(&filter_spf_def);
	filter_builtin_register(&filter_dkim_def);
	filter_builtin_register(&filter_dmarc_def);
	filter_builtin_register(&filter_rules_def);
	filter_builtin_register(&filter_attachment_def);
	filter_builtin_register(&filter_content_def);
	filter_builtin_register(&filter_clamd_def);
}
