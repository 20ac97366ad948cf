/*
 * tls.c - OpenSSL server contexts (see tls.h).
 *
 * The context returned belongs to the caller (SSL_CTX_free); once built
 * it is shared read-only by every loop, which OpenSSL 3 allows.  Errors
 * are copied out of OpenSSL's per-thread queue into the caller's buffer,
 * naming the file that failed, and the queue is cleared so that a later
 * SSL_get_error() does not see stale entries.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "tls.h"

/* "<what> <file>: <OpenSSL's reason>" into errbuf. */
static void
tls_error(char *errbuf, size_t errlen, const char *what, const char *file)
{
	/* The oldest entry is the cause ("No such file or directory");
	 * later ones only say which layer passed it on. */
	unsigned long e = ERR_get_error();
	char reason[256];

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "unknown error");
	ERR_clear_error();
	if (errbuf != NULL && errlen > 0)
		snprintf(errbuf, errlen, "%s%s%s: %s", what,
			 file != NULL ? " " : "", file != NULL ? file : "",
			 reason);
}

SSL_CTX *
pst_tls_server_ctx(const char *cert_file, const char *key_file, char *errbuf,
		   size_t errlen)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	if (cert_file == NULL || key_file == NULL) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen,
				 "TLS needs both a certificate and a key file");
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_error(errbuf, errlen, "cannot create TLS context", NULL);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		tls_error(errbuf, errlen, "cannot require TLS 1.2", NULL);
		goto fail;
	}
	/* Renegotiation only serves attacks on a mail server; the server's
	 * cipher order is the one the admin chose. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		tls_error(errbuf, errlen, "cannot load certificate chain from",
			  cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		tls_error(errbuf, errlen, "cannot load private key from",
			  key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(errbuf, errlen,
			  "private key does not match the certificate in",
			  cert_file);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

char *
pst_tls_describe(SSL *ssl, char *buf, size_t size)
{
	const SSL_CIPHER *cipher;
	int alg_bits = 0, bits;

	if (size == 0)
		return buf;
	cipher = ssl != NULL ? SSL_get_current_cipher(ssl) : NULL;
	if (cipher == NULL) {
		snprintf(buf, size, "no TLS");
		return buf;
	}
	bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
	snprintf(buf, size, "%s with cipher %s (%d/%d bits)",
		 SSL_get_version(ssl), SSL_CIPHER_get_name(cipher), bits,
		 alg_bits);
	return buf;
}
