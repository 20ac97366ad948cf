/*
 * tls.h - OpenSSL server contexts.
 *
 * One SSL_CTX per configuration, shared by all loops (OpenSSL 3 contexts
 * are thread-safe once built).  TLS 1.2 at least; session tickets on.
 */
#ifndef PST_TLS_H
#define PST_TLS_H

#include <openssl/ssl.h>

/* A server context from PEM files.  NULL with *error_r (static or from
 * OpenSSL's queue, copied into errbuf) on failure. */
SSL_CTX *pst_tls_server_ctx(const char *cert_file, const char *key_file,
			    char *errbuf, size_t errlen);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", Postfix's
 * wording for Received: and logs.  Returns buf. */
char *pst_tls_describe(SSL *ssl, char *buf, size_t size);

#endif
