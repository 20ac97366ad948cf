/*
 * log.h - maillog lines in Postfix's shape.
 *
 * Lines go to syslog (facility mail) as "postern/<component>[pid]: text",
 * written straight to /dev/log so that one process can speak as several
 * components (smtpd, relay, ...).  With pst_log_init(..., true) every line
 * also goes to stderr in the same shape.  Thread-safe: each line is one
 * datagram / one write(2).  Never log AUTH payloads or message bodies.
 */
#ifndef PST_LOG_H
#define PST_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum pst_log_level {
	PST_LOG_ERR,
	PST_LOG_WARNING,
	PST_LOG_NOTICE,
	PST_LOG_INFO,
	PST_LOG_DEBUG,
};

/* Call once, before threads start.  to_stderr: also write to stderr. */
void pst_log_init(bool to_stderr);
/* Lines below this level are dropped (default PST_LOG_INFO). */
void pst_log_set_level(enum pst_log_level level);

/* One maillog line; component is "smtpd", "relay", ... (no prefix). */
void pst_log(enum pst_log_level level, const char *component, const char *fmt,
	     ...) __attribute__((format(printf, 3, 4)));
void pst_vlog(enum pst_log_level level, const char *component, const char *fmt,
	      va_list ap) __attribute__((format(printf, 3, 0)));

/* Copy src into dst (size n) with control and non-ASCII bytes escaped as
 * \xHH, so that client-supplied text cannot forge log lines.  Returns dst. */
char *pst_log_sanitize(char *dst, unsigned n, const char *src,
		       unsigned src_len);

#endif
