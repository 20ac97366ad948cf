/* auth_results.h - (being written) */
#ifndef MAIL_AUTH_RESULTS_H
#define MAIL_AUTH_RESULTS_H
#endif
