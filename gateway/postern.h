/*
 * postern.h - the subcommands of the postern command-line tool.  Each
 * takes argv from its own name on and returns the exit status.
 */
#ifndef GATEWAY_POSTERN_H
#define GATEWAY_POSTERN_H

int postern_mime_main(int argc, char **argv);
int postern_scan_main(int argc, char **argv);
int postern_quarantine_main(int argc, char **argv);
int postern_rules_main(int argc, char **argv);

#endif
