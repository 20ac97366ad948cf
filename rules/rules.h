/* rules.h - the rule-file language (placeholder). */
#ifndef RULES_RULES_H
#define RULES_RULES_H
#endif
