/*
 * sasl_plain.c - SASL PLAIN and base64 (see sasl_plain.h).
 */
#include "config.h"

#include <string.h>

#include "base64.h"
#include "sasl_plain.h"

int
sasl_plain_parse(const char *msg, size_t len, struct sasl_plain *r,
		 const char **error_r)
{
	const char *nul1 = memchr(msg, '\0', len), *nul2;

	if (nul1 == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg))) ==
		    NULL) {
		*error_r = "PLAIN message has fewer than three fields";
		return -1;
	}
	if (memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - msg)) != NULL) {
		*error_r = "PLAIN message has more than three fields";
		return -1;
	}
	r->authzid = (struct pst_str){ msg, (size_t)(nul1 - msg) };
	r->authcid = (struct pst_str){ nul1 + 1, (size_t)(nul2 - nul1 - 1) };
	r->passwd =
		(struct pst_str){ nul2 + 1, len - (size_t)(nul2 + 1 - msg) };
	if (r->authcid.len == 0 || r->passwd.len == 0) {
		*error_r = "PLAIN user name or password is empty";
		return -1;
	}
	if (r->authzid.len > SASL_PLAIN_MAX_FIELD ||
	    r->authcid.len > SASL_PLAIN_MAX_FIELD ||
	    r->passwd.len > SASL_PLAIN_MAX_FIELD) {
		*error_r = "PLAIN field too long";
		return -1;
	}
	return 0;
}

int
sasl_plain_encode(struct pst_str user, struct pst_str pass, struct pst_buf *out)
{
	char msg[SASL_PLAIN_MAX_DECODED];
	size_t n;
	int rc;

	if (user.len > SASL_PLAIN_MAX_FIELD || pass.len > SASL_PLAIN_MAX_FIELD)
		return -1;
	msg[0] = '\0';
	memcpy(msg + 1, user.p, user.len);
	msg[1 + user.len] = '\0';
	memcpy(msg + 2 + user.len, pass.p, pass.len);
	n = 2 + user.len + pass.len;
	rc = pst_base64_encode(out, msg, n, 0);
	explicit_bzero(msg, sizeof(msg));
	return rc;
}
