/*
 * test_smtp_cmd.c - the SMTP server's command grammar.
 *
 * One table row per command line: the reply code and enhanced code the
 * client would see, and on success the fields smtpd acts on (verb,
 * argument, path, ESMTP parameters, BDAT size).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"

#define X_SIZE SMTP_EXT_SIZE
#define X_8BIT SMTP_EXT_8BITMIME
#define X_UTF8 SMTP_EXT_SMTPUTF8
#define X_DSN SMTP_EXT_DSN
#define X_LENIENT SMTP_EXT_LENIENT_PATH
#define X_ALL                                                                  \
	(SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 |               \
	 SMTP_EXT_DSN | SMTP_EXT_CHUNKING)

#define V(x) SMTP_VERB_##x

#define A10 "aaaaaaaaaa"
#define A90 A10 A10 A10 A10 A10 A10 A10 A10 A10

struct cmd_case {
	const char *name;
	const char *line;
	size_t len; /* 0: strlen(line) */
	unsigned ext;
	bool smtputf8; /* RCPT: the transaction's MAIL had SMTPUTF8 */
	int code;
	enum smtp_verb verb;
	const char *err;       /* prefix of the error text */
	const char *verb_text; /* NULL: not checked */
	const char *arg;       /* NULL: not checked */
	/* MAIL and RCPT: NULL means not checked */
	const char *local;
	const char *domain;
	unsigned addr_flags;
	/* MAIL parameters */
	uint64_t size;
	bool has_size;
	enum smtp_body body;
	bool utf8;
	enum smtp_ret ret;
	const char *envid; /* NULL: must be empty */
	/* RCPT parameters */
	unsigned notify;
	const char *orcpt; /* NULL: must be empty */
	/* BDAT */
	uint64_t bdat_size;
	bool bdat_last;
};

/* A command line, the extensions offered, the code and verb expected,
 * then any other fields to check. */
#define T(n, l, x, c, v, ...)                                                  \
	{                                                                      \
		.name = n, .line = l, .ext = x, .code = c, .verb = V(v),       \
		__VA_ARGS__                                                    \
	}

static const struct cmd_case cases[] = {
	/* HELO / EHLO */
	T("EHLO", "EHLO mx.example.net", 0, 0, EHLO, .arg = "mx.example.net"),
	T("ehlo lower case", "ehlo mx.example.net", 0, 0, EHLO,
	  .arg = "mx.example.net", .verb_text = "ehlo"),
	T("HELO spaces trimmed", "HELO   mx.example.net  ", 0, 0, HELO,
	  .arg = "mx.example.net"),
	T("EHLO address literal", "EhLo [192.0.2.1]", 0, 0, EHLO,
	  .arg = "[192.0.2.1]"),
	T("EHLO junk is smtpd's to judge", "EHLO a b", 0, 0, EHLO,
	  .arg = "a b"),
	T("EHLO without name", "EHLO", 0, 501, EHLO,
	  .err = "5.5.4 Syntax: EHLO hostname"),
	T("HELO with only space", "HELO  ", 0, 501, HELO,
	  .err = "5.5.4 Syntax: HELO hostname"),

	/* verbs without arguments */
	T("DATA", "DATA", 0, 0, DATA, .arg = ""),
	T("data lower case", "data", 0, 0, DATA),
	T("DATA trailing space", "DATA ", 0, 0, DATA, .arg = ""),
	T("DATA with argument", "DATA now", 0, 501, DATA,
	  .err = "5.5.4 Syntax: DATA"),
	T("RSET", "RSET", 0, 0, RSET),
	T("RSET with argument", "RSET x", 0, 501, RSET, .err = "5.5.4"),
	T("QUIT", "Quit", 0, 0, QUIT),
	T("QUIT with argument", "QUIT bye", 0, 501, QUIT, .err = "5.5.4"),
	T("STARTTLS", "STARTTLS", 0, 0, STARTTLS),
	T("STARTTLS with argument", "STARTTLS x", 0, 501, STARTTLS,
	  .err = "5.5.4 Syntax: STARTTLS"),

	/* optional or free arguments */
	T("NOOP", "NOOP", 0, 0, NOOP, .arg = ""),
	T("NOOP with argument", "NOOP hello there", 0, 0, NOOP,
	  .arg = "hello there"),
	T("HELP", "HELP", 0, 0, HELP),
	T("HELP topic", "help MAIL", 0, 0, HELP, .arg = "MAIL"),
	T("VRFY", "VRFY postmaster", 0, 0, VRFY, .arg = "postmaster"),
	T("VRFY without argument", "VRFY", 0, 501, VRFY,
	  .err = "5.5.4 Syntax: VRFY"),
	T("EXPN", "EXPN staff", 0, 0, EXPN, .arg = "staff"),
	T("EXPN without argument", "EXPN ", 0, 501, EXPN, .err = "5.5.4"),
	T("AUTH", "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", 0, 0, AUTH,
	  .arg = "PLAIN dGVzdAB0ZXN0AHRlc3Q="),
	T("XCLIENT", "XCLIENT ADDR=192.0.2.1 NAME=[UNAVAILABLE]", 0, 0, XCLIENT,
	  .arg = "ADDR=192.0.2.1 NAME=[UNAVAILABLE]"),

	/* unknown verbs and bad lines */
	T("unknown verb", "FOO bar", 0, 500, UNKNOWN,
	  .err = "5.5.2 Error: command not recognized", .verb_text = "FOO"),
	T("verb prefix is not the verb", "MAILX FROM:<a@example.org>", 0, 500,
	  UNKNOWN, .err = "5.5.2", .verb_text = "MAILX"),
	T("empty line", "", 0, 500, UNKNOWN, .err = "5.5.2", .verb_text = ""),
	T("leading space", " NOOP", 0, 500, UNKNOWN, .err = "5.5.2"),
	T("tab after verb", "MAIL\tFROM:<a@example.org>", 0, 500, UNKNOWN,
	  .err = "5.5.2"),
	T("HTTP on the SMTP port", "GET / HTTP/1.1", 0, 500, UNKNOWN,
	  .verb_text = "GET"),
	T("NUL in line", "NOOP a\0b", 0, 500, UNKNOWN, .len = 8,
	  .err = "5.5.2 Error: bad character", .verb_text = "NOOP"),
	T("bare CR in MAIL", "MAIL FROM:<a@example.org>\r", 0, 500, UNKNOWN,
	  .err = "5.5.2"),
	T("bare LF in RCPT", "RCPT TO:<a@example.org>\nDATA", 0, 500, UNKNOWN,
	  .err = "5.5.2"),
	T("DEL in line", "NOOP \x7f", 0, 500, UNKNOWN, .err = "5.5.2"),
	T("HTAB is allowed", "NOOP a\tb", 0, 0, NOOP, .arg = "a\tb"),

	/* MAIL FROM */
	T("MAIL", "MAIL FROM:<user@example.org>", 0, 0, MAIL, .local = "user",
	  .domain = "example.org"),
	T("mail lower case", "mail from:<user@example.org>", 0, 0, MAIL,
	  .local = "user", .domain = "example.org"),
	T("space after colon", "MAIL FROM: <user@example.org>", 0, 0, MAIL,
	  .local = "user"),
	T("spaces after verb", "MAIL  FROM:<user@example.org>", 0, 0, MAIL,
	  .local = "user"),
	T("null sender", "MAIL FROM:<>", 0, 0, MAIL, .local = "", .domain = "",
	  .addr_flags = SMTP_ADDR_F_NULL),
	T("no FROM:", "MAIL <user@example.org>", 0, 501, MAIL,
	  .err = "5.5.4 Syntax: MAIL FROM:<address>"),
	T("space before colon", "MAIL FROM :<user@example.org>", 0, 501, MAIL,
	  .err = "5.5.4 Syntax: MAIL FROM"),
	T("MAIL TO:", "MAIL TO:<user@example.org>", 0, 501, MAIL,
	  .err = "5.5.4"),
	T("MAIL without argument", "MAIL", 0, 501, MAIL, .err = "5.5.4"),
	T("MAIL FROM: without path", "MAIL FROM:", 0, 501, MAIL,
	  .err = "5.5.4 Syntax: MAIL"),
	T("junk after path", "MAIL FROM:<user@example.org>x", 0, 501, MAIL,
	  .err = "5.5.4 Syntax: MAIL"),
	T("bad sender syntax", "MAIL FROM:<a..b@example.org>", 0, 501, MAIL,
	  .err = "5.1.7 Bad local part syntax"),
	T("no brackets, strict", "MAIL FROM:user@example.org", 0, 501, MAIL,
	  .err = "5.1.7"),
	T("no brackets, lenient", "MAIL FROM:user@example.org", X_LENIENT, 0,
	  MAIL, .local = "user", .domain = "example.org",
	  .addr_flags = SMTP_ADDR_F_NO_BRACKETS),
	T("no brackets with SIZE", "MAIL FROM:user@example.org SIZE=10",
	  X_LENIENT | X_SIZE, 0, MAIL, .local = "user", .has_size = true,
	  .size = 10, .addr_flags = SMTP_ADDR_F_NO_BRACKETS),
	T("no postmaster for MAIL", "MAIL FROM:<postmaster>", 0, 501, MAIL,
	  .err = "5.1.7 Address lacks a domain"),
	T("percent hack flagged", "MAIL FROM:<a%b@example.org>", 0, 0, MAIL,
	  .addr_flags = SMTP_ADDR_F_ROUTING),

	/* SIZE (RFC 1870) */
	T("SIZE", "MAIL FROM:<a@example.org> SIZE=12345", X_SIZE, 0, MAIL,
	  .has_size = true, .size = 12345),
	T("SIZE max", "MAIL FROM:<a@example.org> SIZE=18446744073709551615",
	  X_SIZE, 0, MAIL, .has_size = true, .size = UINT64_MAX),
	T("SIZE overflow",
	  "MAIL FROM:<a@example.org> SIZE=18446744073709551616", X_SIZE, 501,
	  MAIL, .err = "5.5.4 Bad SIZE"),
	T("SIZE 21 digits",
	  "MAIL FROM:<a@example.org> SIZE=000000000000000000001", X_SIZE, 501,
	  MAIL, .err = "5.5.4 Bad SIZE"),
	T("SIZE not a number", "MAIL FROM:<a@example.org> SIZE=12k", X_SIZE,
	  501, MAIL, .err = "5.5.4 Bad SIZE"),
	T("SIZE without value", "MAIL FROM:<a@example.org> SIZE", X_SIZE, 501,
	  MAIL, .err = "5.5.4"),
	T("SIZE empty value", "MAIL FROM:<a@example.org> SIZE=", X_SIZE, 501,
	  MAIL, .err = "5.5.4 Syntax error in parameters"),
	T("SIZE not offered", "MAIL FROM:<a@example.org> SIZE=1", X_8BIT, 555,
	  MAIL, .err = "5.5.4 Unsupported parameter"),

	/* BODY (RFC 6152) */
	T("BODY=8BITMIME", "MAIL FROM:<a@example.org> BODY=8BITMIME", X_8BIT, 0,
	  MAIL, .body = SMTP_BODY_8BITMIME),
	T("body=7bit", "MAIL FROM:<a@example.org> body=7bit", X_8BIT, 0, MAIL,
	  .body = SMTP_BODY_7BIT),
	T("BODY=BINARYMIME", "MAIL FROM:<a@example.org> BODY=BINARYMIME", X_ALL,
	  504, MAIL, .err = "5.5.4 Unsupported BODY"),
	T("BODY=other", "MAIL FROM:<a@example.org> BODY=9BIT", X_ALL, 504, MAIL,
	  .err = "5.5.4"),
	T("BODY without value", "MAIL FROM:<a@example.org> BODY", X_ALL, 501,
	  MAIL, .err = "5.5.4"),
	T("BODY not offered", "MAIL FROM:<a@example.org> BODY=8BITMIME", X_SIZE,
	  555, MAIL, .err = "5.5.4"),

	/* SMTPUTF8 (RFC 6531) */
	T("SMTPUTF8 with UTF-8 path",
	  "MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc"
	  "cher.example> SMTPUTF8",
	  X_UTF8, 0, MAIL, .utf8 = true, .local = "j\xc3\xb6rg",
	  .domain = "b\xc3\xbc"
		    "cher.example",
	  .addr_flags = SMTP_ADDR_F_UTF8),
	T("SMTPUTF8 with ASCII path", "MAIL FROM:<a@example.org> smtputf8",
	  X_UTF8, 0, MAIL, .utf8 = true),
	T("UTF-8 path without SMTPUTF8", "MAIL FROM:<j\xc3\xb6rg@example.org>",
	  X_UTF8, 553, MAIL, .err = "5.6.7"),
	T("UTF-8 path, SMTPUTF8 not offered",
	  "MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8", X_SIZE, 553, MAIL,
	  .err = "5.6.7"),
	T("UTF-8 path, not offered, no param",
	  "MAIL FROM:<j\xc3\xb6rg@example.org>", 0, 553, MAIL, .err = "5.6.7"),
	T("SMTPUTF8 not offered", "MAIL FROM:<a@example.org> SMTPUTF8", X_8BIT,
	  555, MAIL, .err = "5.5.4 Unsupported"),
	T("SMTPUTF8 with value", "MAIL FROM:<a@example.org> SMTPUTF8=yes",
	  X_UTF8, 501, MAIL, .err = "5.5.4 SMTPUTF8 takes no value"),
	T("malformed UTF-8 with SMTPUTF8",
	  "MAIL FROM:<j\xc0\xafrg@example.org> SMTPUTF8", X_UTF8, 501, MAIL,
	  .err = "5.1.7 Malformed UTF-8"),

	/* DSN (RFC 3461) on MAIL */
	T("RET and ENVID", "MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ314159",
	  X_DSN, 0, MAIL, .ret = SMTP_RET_HDRS, .envid = "QQ314159"),
	T("RET=FULL", "MAIL FROM:<a@example.org> ret=full", X_DSN, 0, MAIL,
	  .ret = SMTP_RET_FULL),
	T("RET bad", "MAIL FROM:<a@example.org> RET=BODY", X_DSN, 501, MAIL,
	  .err = "5.5.4 Bad RET"),
	T("ENVID xtext", "MAIL FROM:<a@example.org> ENVID=a+2Bb+3D", X_DSN, 0,
	  MAIL, .envid = "a+2Bb+3D"),
	T("ENVID lower-case hex", "MAIL FROM:<a@example.org> ENVID=a+2bb",
	  X_DSN, 501, MAIL, .err = "5.5.4 Bad ENVID"),
	T("ENVID lone plus", "MAIL FROM:<a@example.org> ENVID=a+", X_DSN, 501,
	  MAIL, .err = "5.5.4 Bad ENVID"),
	T("ENVID 100 after decoding",
	  "MAIL FROM:<a@example.org> ENVID=+41+41+41+41+41+41+41+41+41+41" A90,
	  X_DSN, 0, MAIL, .envid = "+41+41+41+41+41+41+41+41+41+41" A90),
	T("ENVID 101", "MAIL FROM:<a@example.org> ENVID=a" A90 "aaaaaaaaaa",
	  X_DSN, 501, MAIL, .err = "5.5.4 Bad ENVID"),
	T("DSN not offered", "MAIL FROM:<a@example.org> RET=FULL", X_SIZE, 555,
	  MAIL, .err = "5.5.4 Unsupported"),

	/* parameter syntax */
	T("all MAIL parameters",
	  "MAIL FROM:<a@example.org>  SIZE=1  BODY=8BITMIME SMTPUTF8 RET=FULL "
	  "ENVID=x",
	  X_ALL, 0, MAIL, .has_size = true, .size = 1,
	  .body = SMTP_BODY_8BITMIME, .utf8 = true, .ret = SMTP_RET_FULL,
	  .envid = "x"),
	T("duplicate parameter", "MAIL FROM:<a@example.org> SIZE=1 size=2",
	  X_SIZE, 501, MAIL, .err = "5.5.4 Duplicate parameter"),
	T("unknown parameter", "MAIL FROM:<a@example.org> FOO=bar", X_ALL, 555,
	  MAIL, .err = "5.5.4 Unsupported parameter"),
	T("AUTH= not offered", "MAIL FROM:<a@example.org> AUTH=<>", X_ALL, 555,
	  MAIL, .err = "5.5.4"),
	T("bad keyword", "MAIL FROM:<a@example.org> -X=1", X_ALL, 501, MAIL,
	  .err = "5.5.4 Syntax error in parameters"),
	T("equals in value", "MAIL FROM:<a@example.org> ENVID=a=b", X_ALL, 501,
	  MAIL, .err = "5.5.4 Syntax error"),
	T("tab before parameter", "MAIL FROM:<a@example.org>\tSIZE=1", X_ALL,
	  501, MAIL, .err = "5.5.4"),
	T("too many parameters",
	  "MAIL FROM:<a@example.org> A B C D E F G H I J K L M N O P Q", X_ALL,
	  501, MAIL, .err = "5.5.4 Too many parameters"),

	/* RCPT TO */
	T("RCPT", "RCPT TO:<user@example.org>", 0, 0, RCPT, .local = "user",
	  .domain = "example.org"),
	T("rcpt lower case, space after colon", "rcpt to: <user@example.org>",
	  0, 0, RCPT, .local = "user"),
	T("RCPT postmaster", "RCPT TO:<Postmaster>", 0, 0, RCPT,
	  .local = "Postmaster", .domain = "",
	  .addr_flags = SMTP_ADDR_F_POSTMASTER),
	T("RCPT null", "RCPT TO:<>", 0, 501, RCPT, .err = "5.1.3 Null"),
	T("RCPT bad path", "RCPT TO:<user@example..org>", 0, 501, RCPT,
	  .err = "5.1.3 Bad domain"),
	T("RCPT no TO:", "RCPT <user@example.org>", 0, 501, RCPT,
	  .err = "5.5.4 Syntax: RCPT TO:<address>"),
	T("RCPT FROM:", "RCPT FROM:<user@example.org>", 0, 501, RCPT,
	  .err = "5.5.4 Syntax: RCPT"),
	T("RCPT TO: without path", "RCPT TO:  ", 0, 501, RCPT, .err = "5.5.4"),
	T("RCPT UTF-8 without SMTPUTF8", "RCPT TO:<j\xc3\xb6rg@example.org>",
	  X_ALL, 553, RCPT, .err = "5.6.7"),
	T("RCPT UTF-8 with SMTPUTF8", "RCPT TO:<j\xc3\xb6rg@example.org>",
	  X_ALL, 0, RCPT, .smtputf8 = true, .addr_flags = SMTP_ADDR_F_UTF8),
	T("RCPT routing flagged", "RCPT TO:<a!b@example.org>", 0, 0, RCPT,
	  .addr_flags = SMTP_ADDR_F_ROUTING),
	T("RCPT source route", "RCPT TO:<@relay.example:a@example.org>", 0, 0,
	  RCPT, .local = "a", .addr_flags = SMTP_ADDR_F_SOURCE_ROUTE),
	T("RCPT lenient", "RCPT TO:a@example.org NOTIFY=NEVER",
	  X_LENIENT | X_DSN, 0, RCPT, .local = "a",
	  .addr_flags = SMTP_ADDR_F_NO_BRACKETS, .notify = SMTP_NOTIFY_NEVER),

	/* DSN (RFC 3461) on RCPT */
	T("NOTIFY list", "RCPT TO:<a@example.org> NOTIFY=SUCCESS,failure",
	  X_DSN, 0, RCPT, .notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE),
	T("NOTIFY all three",
	  "RCPT TO:<a@example.org> NOTIFY=DELAY,FAILURE,SUCCESS", X_DSN, 0,
	  RCPT,
	  .notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
		    SMTP_NOTIFY_DELAY),
	T("NOTIFY=NEVER", "RCPT TO:<a@example.org> NOTIFY=NEVER", X_DSN, 0,
	  RCPT, .notify = SMTP_NOTIFY_NEVER),
	T("NOTIFY NEVER with others",
	  "RCPT TO:<a@example.org> NOTIFY=NEVER,DELAY", X_DSN, 501, RCPT,
	  .err = "5.5.4 Bad NOTIFY"),
	T("NOTIFY repeated", "RCPT TO:<a@example.org> NOTIFY=DELAY,DELAY",
	  X_DSN, 501, RCPT, .err = "5.5.4 Bad NOTIFY"),
	T("NOTIFY unknown", "RCPT TO:<a@example.org> NOTIFY=ALWAYS", X_DSN, 501,
	  RCPT, .err = "5.5.4 Bad NOTIFY"),
	T("NOTIFY empty item", "RCPT TO:<a@example.org> NOTIFY=SUCCESS,", X_DSN,
	  501, RCPT, .err = "5.5.4 Bad NOTIFY"),
	T("NOTIFY not offered", "RCPT TO:<a@example.org> NOTIFY=NEVER", X_SIZE,
	  555, RCPT, .err = "5.5.4 Unsupported"),
	T("ORCPT rfc822",
	  "RCPT TO:<a@example.org> ORCPT=rfc822;a+2Bb@example.org", X_DSN, 0,
	  RCPT, .orcpt = "rfc822;a+2Bb@example.org"),
	T("ORCPT utf-8 escaped",
	  "RCPT TO:<a@example.org> ORCPT=utf-8;j\\x{F6}rg@example.org", X_DSN,
	  0, RCPT, .orcpt = "utf-8;j\\x{F6}rg@example.org"),
	T("ORCPT utf-8 raw with SMTPUTF8",
	  "RCPT TO:<a@example.org> ORCPT=utf-8;j\xc3\xb6rg@example.org", X_ALL,
	  0, RCPT, .smtputf8 = true, .orcpt = "utf-8;j\xc3\xb6rg@example.org"),
	T("ORCPT utf-8 raw without SMTPUTF8",
	  "RCPT TO:<a@example.org> ORCPT=utf-8;j\xc3\xb6rg@example.org", X_ALL,
	  501, RCPT, .err = "5.5.4"),
	T("ORCPT without type", "RCPT TO:<a@example.org> ORCPT=a@example.org",
	  X_DSN, 501, RCPT, .err = "5.5.4 Bad ORCPT"),
	T("ORCPT empty type", "RCPT TO:<a@example.org> ORCPT=;a@example.org",
	  X_DSN, 501, RCPT, .err = "5.5.4 Bad ORCPT"),
	T("ORCPT empty address", "RCPT TO:<a@example.org> ORCPT=rfc822;", X_DSN,
	  501, RCPT, .err = "5.5.4 Bad ORCPT"),
	T("ORCPT bad xtext", "RCPT TO:<a@example.org> ORCPT=rfc822;a+zz", X_DSN,
	  501, RCPT, .err = "5.5.4 Bad ORCPT"),
	T("SMTPUTF8 on RCPT", "RCPT TO:<a@example.org> SMTPUTF8", X_ALL, 555,
	  RCPT, .err = "5.5.4 Unsupported"),
	T("SIZE on RCPT", "RCPT TO:<a@example.org> SIZE=1", X_ALL, 555, RCPT,
	  .err = "5.5.4"),
	T("RCPT duplicate", "RCPT TO:<a@example.org> NOTIFY=NEVER notify=NEVER",
	  X_DSN, 501, RCPT, .err = "5.5.4 Duplicate"),

	/* BDAT (RFC 3030) */
	T("BDAT", "BDAT 1000", X_ALL, 0, BDAT, .bdat_size = 1000),
	T("BDAT LAST", "BDAT 0 LAST", X_ALL, 0, BDAT, .bdat_size = 0,
	  .bdat_last = true),
	T("bdat last lower case", "bdat 42 last", X_ALL, 0, BDAT,
	  .bdat_size = 42, .bdat_last = true),
	T("BDAT max", "BDAT 18446744073709551615", X_ALL, 0, BDAT,
	  .bdat_size = UINT64_MAX),
	T("BDAT overflow", "BDAT 18446744073709551616 LAST", X_ALL, 501, BDAT,
	  .err = "5.5.4 BDAT size too large"),
	T("BDAT without size", "BDAT", X_ALL, 501, BDAT,
	  .err = "5.5.4 Syntax: BDAT"),
	T("BDAT LAST without size", "BDAT LAST", X_ALL, 501, BDAT,
	  .err = "5.5.4 Syntax: BDAT"),
	T("BDAT negative", "BDAT -1", X_ALL, 501, BDAT, .err = "5.5.4"),
	T("BDAT junk marker", "BDAT 10 MORE", X_ALL, 501, BDAT,
	  .err = "5.5.4 Syntax: BDAT"),
	T("BDAT junk after LAST", "BDAT 10 LAST x", X_ALL, 501, BDAT,
	  .err = "5.5.4"),
	T("BDAT size with junk", "BDAT 10x", X_ALL, 501, BDAT, .err = "5.5.4"),
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void
assert_view(const char *what, struct pst_str got, const char *want)
{
	assert_non_null(got.p);
	if (got.len != strlen(want) || memcmp(got.p, want, got.len) != 0)
		fail_msg("%s: got \"%.*s\", want \"%s\"", what, (int)got.len,
			 got.p, want);
}

static void
check_fields(const struct cmd_case *tc, const struct smtp_cmd *cmd)
{
	if (tc->arg != NULL)
		assert_view("arg", cmd->arg, tc->arg);
	if (tc->local != NULL)
		assert_view("local", cmd->addr.local, tc->local);
	if (tc->domain != NULL)
		assert_view("domain", cmd->addr.domain, tc->domain);
	assert_int_equal(cmd->addr.flags, tc->addr_flags);
	assert_int_equal(cmd->mail.has_size, tc->has_size);
	assert_true(cmd->mail.size == tc->size);
	assert_int_equal(cmd->mail.body, tc->body);
	assert_int_equal(cmd->mail.smtputf8, tc->utf8);
	assert_int_equal(cmd->mail.ret, tc->ret);
	assert_view("envid", cmd->mail.envid, tc->envid ? tc->envid : "");
	assert_int_equal(cmd->rcpt.notify, tc->notify);
	assert_view("orcpt", cmd->rcpt.orcpt, tc->orcpt ? tc->orcpt : "");
	assert_true(cmd->bdat_size == tc->bdat_size);
	assert_int_equal(cmd->bdat_last, tc->bdat_last);
}

static void
test_case(void **state)
{
	const struct cmd_case *tc = *state;
	size_t len = tc->len ? tc->len : strlen(tc->line);
	struct smtp_cmd cmd;
	const char *error = NULL;
	int code;

	code = smtp_cmd_parse(tc->line, len, tc->ext, tc->smtputf8, &cmd,
			      &error);
	if (code != tc->code)
		fail_msg("returned %d (%s), want %d", code,
			 code ? error : "no error", tc->code);
	if (cmd.verb != tc->verb)
		fail_msg("verb %s, want %s", smtp_verb_name(cmd.verb),
			 smtp_verb_name(tc->verb));
	if (tc->verb_text != NULL)
		assert_view("verb_text", cmd.verb_text, tc->verb_text);
	if (code != 0) {
		assert_non_null(error);
		if (tc->err != NULL &&
		    strncmp(error, tc->err, strlen(tc->err)) != 0)
			fail_msg("error \"%s\", want \"%s...\"", error,
				 tc->err);
		/* Reply class and enhanced class agree. */
		assert_int_equal(error[0], '0' + code / 100);
		return;
	}
	check_fields(tc, &cmd);
}

/* MAIL's address errors are smtp_addr's texts with the sender detail:
 * same words, X.1.7 instead of X.1.3. */
static void
test_sender_errors(void **state)
{
	static const char *const paths[] = {
		"user@example.org",
		"<user@example.org",
		"<user>",
		"<.user@example.org>",
		"<\"user@example.org>",
		"<user@-example.org>",
		"<user@[192.0.2.300]>",
		"<user@[tag:content]>",
		"<@a.example,user@example.org>",
		"<us\ter@example.org>",
		"<us er@example.org>",
		"<\xc0\xaf@example.org>",
		"<"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"@x>",
		"<a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		".example>",
		"<a@b.c.d>SIZE",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char line[512];
		struct smtp_addr addr;
		struct smtp_cmd cmd;
		const char *aerr = NULL, *cerr = NULL;
		size_t used;
		int code;

		snprintf(line, sizeof(line), "MAIL FROM:%s", paths[i]);
		code = smtp_cmd_parse(line, strlen(line), X_ALL, false, &cmd,
				      &cerr);
		assert_int_equal(code, 501);
		if (smtp_addr_parse(paths[i], strlen(paths[i]),
				    SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_ALLOW_UTF8,
				    &addr, &used, &aerr) == 0) {
			/* The path is fine; the junk after it is not. */
			assert_string_equal(
				cerr, "5.5.4 Syntax: MAIL FROM:<address>");
			continue;
		}
		if (strncmp(cerr, "5.1.7 ", 6) != 0 ||
		    strcmp(cerr + 6, aerr + 6) != 0)
			fail_msg("path %zu: MAIL says \"%s\", address parser "
				 "\"%s\"",
				 i, cerr, aerr);
		/* RCPT keeps the address parser's text. */
		snprintf(line, sizeof(line), "RCPT TO:%s", paths[i]);
		code = smtp_cmd_parse(line, strlen(line), X_ALL, true, &cmd,
				      &cerr);
		assert_int_equal(code, 501);
		assert_string_equal(cerr, aerr);
	}
}

static void
test_verb_names(void **state)
{
	(void)state;
	assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "unknown");
	assert_string_equal(smtp_verb_name(SMTP_VERB_MAIL), "MAIL");
	assert_string_equal(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_verb_name(SMTP_VERB_XCLIENT), "XCLIENT");
	assert_string_equal(smtp_verb_name(SMTP_VERB__COUNT), "unknown");
	assert_string_equal(smtp_verb_name((enum smtp_verb) - 1), "unknown");
	/* Every verb's name parses back to the verb. */
	for (int v = SMTP_VERB_HELO; v < SMTP_VERB__COUNT; v++) {
		const char *name = smtp_verb_name((enum smtp_verb)v);
		struct smtp_cmd cmd;
		const char *error;

		smtp_cmd_parse(name, strlen(name), X_ALL, false, &cmd, &error);
		assert_int_equal(cmd.verb, v);
	}
}

/* Every prefix of a busy line, in a buffer of exactly that size, so that
 * ASan catches a read past the end. */
static void
test_truncations(void **state)
{
	static const char *const lines[] = {
		"MAIL FROM:<@a.example:\"q\\\"\"@[IPv6:::1]> SIZE=10 "
		"BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=a+2B",
		"RCPT TO:<p\xc3\xb6stmaster@example.org> NOTIFY=SUCCESS,DELAY "
		"ORCPT=utf-8;\\x{F6}+2B\xc3\xb6",
		"BDAT 18446744073709551615 LAST",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t full = strlen(lines[i]);

		for (size_t n = 0; n <= full; n++) {
			char *buf = malloc(n > 0 ? n : 1);
			struct smtp_cmd cmd;
			const char *error;

			assert_non_null(buf);
			memcpy(buf, lines[i], n);
			smtp_cmd_parse(buf, n, X_ALL | X_LENIENT, true, &cmd,
				       &error);
			free(buf);
		}
	}
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_sender_errors),
		cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_truncations),
	};
	struct CMUnitTest tests[N_CASES + sizeof(more) / sizeof(more[0])];
	size_t n = 0;

	/* One test per table row, so that TAP counts and names each. */
	for (size_t i = 0; i < N_CASES; i++) {
		struct CMUnitTest t =
			cmocka_unit_test_prestate(test_case, (void *)&cases[i]);

		t.name = cases[i].name;
		tests[n++] = t;
	}
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		tests[n++] = more[i];
	return _cmocka_run_group_tests("smtp_cmd", tests, n, NULL, NULL);
}
