/*
 * fuzz_dkim_reply.c - libFuzzer target for the DNS replies postern lets
 * libopendkim parse.
 *
 * Input: a DNS reply.  filter_dkim_reply_ok() judges it; a reply it
 * accepts is then handed to libopendkim as the answer to the key lookup
 * of a fixed signed message (RFC 8463 appendix A), through query hooks
 * of this target's own that answer with the input, so that libopendkim's
 * reply parser runs on everything the check lets through (under ASan:
 * it must never read outside the reply).  Invariant (abort() when
 * broken): an accepted reply has the question, its type and class where
 * libopendkim looks for them.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <opendkim/dkim.h>

#include "dkim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			abort();                                               \
	} while (0)

static const char msg[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";

static const uint8_t *reply;
static size_t reply_len;
static size_t the_len;
static char service;

static int
start(void *srv, int type, unsigned char *query, unsigned char *buf,
      size_t buflen, void **qh)
{
	(void)srv;
	(void)type;
	(void)query;
	if (reply_len > buflen)
		return DKIM_DNS_ERROR;
	memcpy(buf, reply, reply_len);
	the_len = reply_len;
	*qh = &the_len;
	return DKIM_DNS_SUCCESS;
}

static int
wait_reply(void *srv, void *qh, struct timeval *to, size_t *bytes, int *error,
	   int *dnssec)
{
	(void)srv;
	(void)to;
	*bytes = *(size_t *)qh;
	if (error != NULL)
		*error = 0;
	if (dnssec != NULL)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	return DKIM_DNS_SUCCESS;
}

static int
cancel(void *srv, void *qh)
{
	(void)srv;
	(void)qh;
	return 0;
}

static void
close_service(void *srv)
{
	(void)srv;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static DKIM_LIB *lib;
	unsigned char copy[sizeof(msg)];
	DKIM_STAT st;
	DKIM *d;

	if (!filter_dkim_reply_ok(data, size))
		return 0;
	CHECK(size >= 12 && data[4] == 0 && data[5] == 1);
	if (lib == NULL) {
		dkim_query_t qt = DKIM_QUERY_DNS;

		lib = dkim_init(NULL, NULL);
		CHECK(lib != NULL);
		CHECK(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD,
				   &qt, sizeof(qt)) == DKIM_STAT_OK);
		dkim_dns_set_query_service(lib, &service);
		dkim_dns_set_init(lib, NULL);
		dkim_dns_set_close(lib, close_service);
		dkim_dns_set_query_start(lib, start);
		dkim_dns_set_query_waitreply(lib, wait_reply);
		dkim_dns_set_query_cancel(lib, cancel);
	}
	reply = data;
	reply_len = size;
	d = dkim_verify(lib, (const unsigned char *)"fuzz", NULL, &st);
	CHECK(d != NULL);
	memcpy(copy, msg, sizeof(msg));
	st = dkim_chunk(d, copy, sizeof(msg) - 1);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK)
		(void)dkim_eom(d, NULL);
	dkim_free(d);
	return 0;
}
