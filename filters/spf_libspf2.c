/*
 * spf_libspf2.c - libspf2 as an SPF engine the spf filter can select
 * (`engine = libspf2`), for sites that want its behaviour.  Our own
 * evaluator (mail/spf.h) is the default: libspf2 gets a good part of RFC
 * 7208 wrong (macros, CIDR and modifier syntax, some limits) and passes
 * every loopback client without looking at DNS.
 *
 * libspf2 never touches the system resolver here: its only DNS layer is
 * ours (PEERS.md section 4, approach A), whose lookup asks the
 * evaluator's struct spf_dns of the check in progress, i.e. the shared
 * resolver with the check's time budget.  libspf2's callback carries no
 * per-call argument, so the check in progress is found in a thread-local
 * variable.
 *
 * Threads: libspf2 documents SPF_server_t as reusable and thread-safe;
 * after SPF_server_new_dns() ours is only read (records are compiled per
 * request, the DNS layer keeps no state of its own), so one server per
 * module serves all worker threads at once.  libspf2's logging is global:
 * warnings and info are switched off at the first spf_libspf2_new(),
 * which runs on the main thread while the configuration loads.
 */
#include "config.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* libspf2 names its results as mail/spf.h does: rename libspf2's for
 * this file (the values stay libspf2's). */
#define SPF_RESULT_INVALID SPF2_RESULT_INVALID
#define SPF_RESULT_NEUTRAL SPF2_RESULT_NEUTRAL
#define SPF_RESULT_PASS SPF2_RESULT_PASS
#define SPF_RESULT_FAIL SPF2_RESULT_FAIL
#define SPF_RESULT_SOFTFAIL SPF2_RESULT_SOFTFAIL
#define SPF_RESULT_NONE SPF2_RESULT_NONE
#define SPF_RESULT_TEMPERROR SPF2_RESULT_TEMPERROR
#define SPF_RESULT_PERMERROR SPF2_RESULT_PERMERROR
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#undef SPF_RESULT_INVALID
#undef SPF_RESULT_NEUTRAL
#undef SPF_RESULT_PASS
#undef SPF_RESULT_FAIL
#undef SPF_RESULT_SOFTFAIL
#undef SPF_RESULT_NONE
#undef SPF_RESULT_TEMPERROR
#undef SPF_RESULT_PERMERROR

#include "arena.h"
#include "spf_dmarc.h"

struct spf_libspf2 {
	SPF_server_t *server;
	/* Ours to free: without a destroy callback libspf2 takes a layer
	 * as shared and leaves it alone (libspf2 1.2.10 on Debian does
	 * not call the callback from SPF_server_free() anyway). */
	SPF_dns_server_t *layer;
};

/* The check this thread is running: its DNS interface and arena. */
struct spf_libspf2_call {
	const struct spf_dns *dns;
	struct pst_arena *arena;
};

static __thread struct spf_libspf2_call *spf_libspf2_current;

/* Not an explanation: libspf2 falls back to the server's own text when
 * a record has no exp=, ours comes only from exp=. */
#define SPF_LIBSPF2_NO_EXP "postern-no-explanation"

/* Append one record of the evaluator's answer to rr (index n). */
static int
spf_libspf2_add(SPF_dns_rr_t *rr, int n, ns_type type,
		const struct spf_dns_rr *in)
{
	size_t len;

	switch (type) {
	case ns_t_a:
		if (SPF_dns_rr_buf_realloc(rr, n, sizeof(struct in_addr)) !=
		    SPF_E_SUCCESS)
			return -1;
		memcpy(&rr->rr[n]->a, in->addr, 4);
		return 0;
	case ns_t_aaaa:
		if (SPF_dns_rr_buf_realloc(rr, n, sizeof(struct in6_addr)) !=
		    SPF_E_SUCCESS)
			return -1;
		memcpy(&rr->rr[n]->aaaa, in->addr, 16);
		return 0;
	case ns_t_mx:
	case ns_t_ptr:
	case ns_t_txt:
		len = in->len != 0 || type == ns_t_txt ? in->len
						       : strlen(in->text);
		if (type != ns_t_txt && len > 0 && in->text[len - 1] == '.')
			len--;
		if (SPF_dns_rr_buf_realloc(rr, n, len + 1) != SPF_E_SUCCESS)
			return -1;
		/* libspf2 reads C strings: a NUL inside a TXT string must
		 * not cut a record short into something else. */
		for (size_t i = 0; i < len; i++)
			rr->rr[n]->txt[i] =
				in->text[i] != '\0' ? in->text[i] : '?';
		rr->rr[n]->txt[len] = '\0';
		return 0;
	default:
		return -1;
	}
}

static SPF_dns_rr_t *
spf_libspf2_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type,
		   int should_cache)
{
	struct spf_libspf2_call *call = spf_libspf2_current;
	struct spf_dns_answer ans;
	SPF_dns_rr_t *rr;
	int st, n = 0;

	(void)should_cache;
	/* RFC 7208 3.1: the SPF RR type is gone; libspf2 still asks. */
	if (type == ns_t_spf)
		return SPF_dns_rr_new_init(srv, domain, type, 0, NO_DATA);
	if (call == NULL || domain == NULL)
		return SPF_dns_rr_new_init(srv, domain ? domain : "", type, 0,
					   TRY_AGAIN);
	memset(&ans, 0, sizeof(ans));
	st = call->dns->query(call->dns->ctx, call->arena, domain, (int)type,
			      &ans);
	switch (st) {
	case SPF_DNS_OK:
		break;
	case SPF_DNS_NXDOMAIN:
		return SPF_dns_rr_new_init(srv, domain, type, 0,
					   HOST_NOT_FOUND);
	case SPF_DNS_NODATA:
		return SPF_dns_rr_new_init(srv, domain, type, 0, NO_DATA);
	default:
		return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
	}
	if (ans.count == 0)
		return SPF_dns_rr_new_init(srv, domain, type, 0, NO_DATA);
	rr = SPF_dns_rr_new_init(srv, domain, type, 0, NETDB_SUCCESS);
	if (rr == NULL)
		return NULL;
	for (size_t i = 0; i < ans.count && i < 1024; i++) {
		if (spf_libspf2_add(rr, n, type, &ans.rr[i]) < 0) {
			SPF_dns_rr_free(rr);
			return SPF_dns_rr_new_init(srv, domain, type, 0,
						   TRY_AGAIN);
		}
		n++;
	}
	rr->num_rr = n;
	return rr;
}

int
spf_libspf2_new(const char *receiver, struct spf_libspf2 **engine_r,
		const char **error_r)
{
	struct spf_libspf2 *e;
	SPF_response_t *resp = NULL;
	SPF_errcode_t err;

	*engine_r = NULL;
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	e->layer = calloc(1, sizeof(*e->layer));
	if (e->layer == NULL) {
		free(e);
		*error_r = "out of memory";
		return -1;
	}
	e->layer->lookup = spf_libspf2_lookup;
	e->layer->name = "postern";
	e->server = SPF_server_new_dns(e->layer, 0);
	if (e->server == NULL) {
		free(e->layer);
		free(e);
		*error_r = "cannot create the libspf2 server";
		return -1;
	}
	err = SPF_server_set_rec_dom(e->server,
				     receiver != NULL ? receiver : "unknown");
	if (err == SPF_E_SUCCESS)
		err = SPF_server_set_explanation(e->server, SPF_LIBSPF2_NO_EXP,
						 &resp);
	if (resp != NULL)
		SPF_response_free(resp);
	if (err != SPF_E_SUCCESS) {
		SPF_server_free(e->server);
		free(e->layer);
		free(e);
		*error_r = "cannot configure the libspf2 server";
		return -1;
	}
	*engine_r = e;
	return 0;
}

void
spf_libspf2_free(struct spf_libspf2 **engine_p)
{
	struct spf_libspf2 *e;

	if (engine_p == NULL || *engine_p == NULL)
		return;
	e = *engine_p;
	*engine_p = NULL;
	SPF_server_free(e->server);
	free(e->layer);
	free(e);
}

enum spf_result
spf_libspf2_map(int spf2_result, int spf2_err)
{
	switch (spf2_result) {
	case SPF2_RESULT_NEUTRAL:
		return SPF_RESULT_NEUTRAL;
	case SPF2_RESULT_PASS:
		return SPF_RESULT_PASS;
	case SPF2_RESULT_FAIL:
		return SPF_RESULT_FAIL;
	case SPF2_RESULT_SOFTFAIL:
		return SPF_RESULT_SOFTFAIL;
	case SPF2_RESULT_NONE:
		return SPF_RESULT_NONE;
	case SPF2_RESULT_TEMPERROR:
		return SPF_RESULT_TEMPERROR;
	case SPF2_RESULT_PERMERROR:
		return SPF_RESULT_PERMERROR;
	default:
		/* "invalid": libspf2 stopped before a result */
		switch (spf2_err) {
		case SPF_E_DNS_ERROR:
		case SPF_E_NO_MEMORY:
		case SPF_E_INTERNAL_ERROR:
			return SPF_RESULT_TEMPERROR;
		case SPF_E_SUCCESS:
		case SPF_E_NOT_SPF:
			/* TXT records, none of them SPF */
			return SPF_RESULT_NONE;
		default:
			return SPF_RESULT_PERMERROR;
		}
	}
}

/* The error that decided: the first one other than "not SPF" (which
 * libspf2 adds on top of a compile error), else the response's code. */
static SPF_errcode_t
spf_libspf2_error(SPF_response_t *r, SPF_errcode_t err)
{
	int n = SPF_response_messages(r);

	for (int i = 0; i < n && i < 64; i++) {
		SPF_error_t *e = SPF_response_message(r, i);

		if (e != NULL && SPF_error_errorp(e) &&
		    SPF_error_code(e) != SPF_E_NOT_SPF &&
		    SPF_error_code(e) != SPF_E_SUCCESS)
			return SPF_error_code(e);
	}
	return err != SPF_E_SUCCESS ? err : SPF_response_errcode(r);
}

/* A HELO argument that names a host: not an address literal, more than
 * one label (RFC 7208 2.3). */
static bool
spf_libspf2_helo_ok(const char *helo)
{
	return helo[0] != '\0' && helo[0] != '[' && strchr(helo, '.') != NULL;
}

static enum spf_result
spf_libspf2_request(struct spf_libspf2 *e, const struct spf_request *req,
		    const char *helo, const char *sender,
		    struct pst_arena *arena, struct spf_response *resp)
{
	SPF_request_t *sr = SPF_request_new(e->server);
	SPF_response_t *r = NULL;
	SPF_errcode_t err;
	struct in_addr a4;
	struct in6_addr a6;
	const char *exp;

	if (sr == NULL) {
		resp->problem = "out of memory";
		return resp->result = SPF_RESULT_TEMPERROR;
	}
	if (req->ip.family == 4) {
		memcpy(&a4, req->ip.addr, 4);
		SPF_request_set_ipv4(sr, a4);
	} else {
		memcpy(&a6, req->ip.addr, 16);
		SPF_request_set_ipv6(sr, a6);
	}
	if (helo[0] != '\0')
		SPF_request_set_helo_dom(sr, helo);
	err = SPF_request_set_env_from(sr, sender);
	if (err == SPF_E_SUCCESS)
		err = SPF_request_query_mailfrom(sr, &r);
	if (r == NULL) {
		SPF_request_free(sr);
		resp->problem = "out of memory";
		return resp->result = SPF_RESULT_TEMPERROR;
	}
	err = spf_libspf2_error(r, err);
	resp->result = spf_libspf2_map(SPF_response_result(r), err);
	if (resp->result == SPF_RESULT_TEMPERROR ||
	    resp->result == SPF_RESULT_PERMERROR)
		resp->problem = pst_arena_strdup(arena, SPF_strerror(err));
	else if (SPF_response_reason(r) == SPF_REASON_LOCALHOST)
		resp->mechanism = "libspf2's loopback rule";
	else if (SPF_response_reason(r) == SPF_REASON_MECH)
		resp->mechanism = "a mechanism (libspf2)";
	exp = SPF_response_get_explanation(r);
	if (resp->result == SPF_RESULT_FAIL && (req->flags & SPF_F_EXPLAIN) &&
	    exp != NULL && exp[0] != '\0' &&
	    strcmp(exp, SPF_LIBSPF2_NO_EXP) != 0)
		resp->explanation = pst_arena_strdup(arena, exp);
	SPF_response_free(r);
	SPF_request_free(sr);
	return resp->result;
}

enum spf_result
spf_libspf2_check(struct spf_libspf2 *e, const struct spf_dns *dns,
		  const struct spf_request *req, bool helo_identity,
		  struct pst_arena *arena, struct spf_response *resp)
{
	struct spf_libspf2_call call = { .dns = dns, .arena = arena };
	const char *helo = req->helo != NULL ? req->helo : "";
	const char *sender = req->sender != NULL ? req->sender : "";
	const char *at;

	memset(resp, 0, sizeof(resp[0]));
	if (e == NULL || dns == NULL || dns->query == NULL ||
	    (req->ip.family != 4 && req->ip.family != 6)) {
		resp->problem = "bad request";
		return resp->result = SPF_RESULT_TEMPERROR;
	}
	if (helo_identity || sender[0] == '\0') {
		if (!spf_libspf2_helo_ok(helo))
			return resp->result = SPF_RESULT_NONE;
		sender = pst_arena_printf(arena, "postmaster@%s", helo);
		resp->domain = helo;
	} else {
		at = strrchr(sender, '@');
		resp->domain = at != NULL ? at + 1 : sender;
	}
	if (sender == NULL) {
		resp->problem = "out of memory";
		return resp->result = SPF_RESULT_TEMPERROR;
	}
	spf_libspf2_current = &call;
	spf_libspf2_request(e, req, helo, sender, arena, resp);
	spf_libspf2_current = NULL;
	return resp->result;
}
