"""Plain SMTP with smtplib and a raw socket: greeting, EHLO keywords,
delivery into the maildir with posternd's trace headers, dot-stuffing,
several recipients, the null sender, HELO, replies to every command,
DSN parameters, routes by domain, IPv6, big messages through the spool.
"""

import os
import re

from harness import (HOSTNAME, NOBODY, PosterndTest, Raw, date_ok, lf,
                     message, parse_received)

EHLO_KEYWORDS = {"PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
                 "SMTPUTF8", "CHUNKING", "DSN"}
CLIENT = r"\S+\[127\.0\.0\.1\]"


def smtplib_send(test, s, sender, rcpts, msg, mail_options=(),
                 rcpt_options=()):
    """MAIL, RCPT..., DATA with smtplib; returns the queue id."""
    code, resp = s.mail(sender, list(mail_options))
    test.assertEqual(code, 250, resp)
    for r in rcpts:
        code, resp = s.rcpt(r, list(rcpt_options))
        test.assertEqual(code, 250, "RCPT %s: %r" % (r, resp))
    code, resp = s.data(msg)
    text = resp.decode("utf-8", "replace")
    test.assertEqual(code, 250, text)
    test.assertTrue(text.startswith("2.0.0"), text)
    m = re.search(r"queued as ([0-9A-F]{12})\b", text)
    test.assertTrue(m, "no queue id in %r" % text)
    return m.group(1)


def trace_headers(test, msg_file, original):
    """The header lines posternd put in front of `original` (CRLF bytes
    as sent): asserts the file is trace headers + original (LF)."""
    body = lf(original)
    test.assertTrue(msg_file.raw.endswith(body),
                    "delivered file does not end with the message as sent:"
                    "\n%r" % msg_file.raw[-300:])
    prefix = msg_file.raw[:len(msg_file.raw) - len(body)]
    headers = []
    for ln in prefix.decode("utf-8", "surrogateescape").split("\n")[:-1]:
        if ln[:1] in (" ", "\t"):
            headers[-1] = (headers[-1][0], headers[-1][1] + "\n" + ln)
        else:
            n, v = ln.split(":", 1)
            headers.append((n, v.strip()))
    return headers


class BasicSmtpTest(PosterndTest):
    def setUp(self):
        self.d = self.posternd(smtp={"max_message_size": Raw("10M"),
                                     "max_errors": 100})

    def test_greeting(self):
        c = self.raw(self.d)
        g = c.greeting()
        self.assertReply(g, 220)
        self.assertTrue(g.lines[0].startswith(HOSTNAME + " ESMTP"),
                        "greeting %r" % g)

    def test_ehlo_keywords(self):
        s = self.smtp(self.d)
        code, resp = s.ehlo("client.test")
        self.assertEqual(code, 250)
        first = resp.decode().split("\n")[0]
        self.assertEqual(first.split()[0], HOSTNAME)
        self.assertEqual({k.upper() for k in s.esmtp_features},
                         EHLO_KEYWORDS, "EHLO keywords: %r" % resp)
        self.assertEqual(s.esmtp_features["size"], str(10 * 1024 * 1024))
        for kw in ("pipelining", "8bitmime", "enhancedstatuscodes",
                   "smtputf8", "chunking", "dsn"):
            self.assertEqual(s.esmtp_features[kw], "", kw)

    def test_message_lands_once_with_trace_headers(self):
        body = ("First line.\r\n"
                ".leading dot\r\n"
                "..two leading dots\r\n"
                ".\r\n"
                ". dot space\r\n"
                "last line\r\n")
        msg = message(subject="basic delivery", body=body)
        s = self.smtp(self.d)
        s.ehlo("client.test")
        qid = smtplib_send(self, s, "sender@example.net",
                           ["user@example.org"], msg)
        # The 250 comes only once the file is durable: no waiting.
        files = self.d.messages()
        self.assertEqual(len(files), 1, files)
        f = files[0]
        self.assertTrue(f.raw.startswith(
            b"Return-Path: <sender@example.net>\n"), f.raw[:100])
        self.assertNotIn(b"\r", f.raw, "maildir file must use LF endings")
        hdrs = trace_headers(self, f, msg)
        self.assertEqual([n for n, _ in hdrs],
                         ["Return-Path", "Delivered-To", "X-Original-To",
                          "Received"])
        self.assertEqual(hdrs[1][1], "user@example.org")
        self.assertEqual(hdrs[2][1], "user@example.org")
        rcv = parse_received(hdrs[3][1])
        self.assertEqual(rcv["helo"], "client.test", rcv["raw"])
        self.assertEqual(rcv["ip"], "127.0.0.1", rcv["raw"])
        self.assertTrue(rcv["ptr"], rcv["raw"])
        self.assertEqual(rcv["by"], HOSTNAME, rcv["raw"])
        self.assertEqual(rcv["with"], "ESMTP", rcv["raw"])
        self.assertEqual(rcv["id"], qid, rcv["raw"])
        self.assertEqual(rcv["for"], "user@example.org", rcv["raw"])
        self.assertTrue(date_ok(rcv["date"]), rcv["raw"])
        # The body survived dot-stuffing both ways.
        self.assertIn(b"\n.leading dot\n..two leading dots\n.\n. dot space\n",
                      f.raw)
        s.quit()
        d = self.d
        d.wait_log(r"connect from %s" % CLIENT)
        d.wait_log(r"%s: client=%s, session=[0-9a-fA-F]{16}" % (qid, CLIENT))
        d.wait_log(r"%s: from=<sender@example\.net>, size=\d+, nrcpt=1"
                   % qid)
        d.wait_log(r"%s: to=<user@example\.org>, relay=maildir\[[^\]]+\], "
                   r"delay=[\d.]+, .*status=sent" % qid)
        d.wait_log(r"disconnect from %s ehlo=1 mail=1 rcpt=1 data=1 quit=1 "
                   r"commands=5" % CLIENT)

    def test_multiple_recipients_one_file(self):
        rcpts = ["a@example.org", "b@example.org", "c@deep.sub.example.org"]
        msg = message(subject="three recipients")
        s = self.smtp(self.d)
        s.ehlo("client.test")
        qid = smtplib_send(self, s, "sender@example.net", rcpts, msg)
        files = self.d.messages()
        self.assertEqual(len(files), 1, "one file per accepted message")
        f = files[0]
        self.assertEqual(sorted(f.get_all("Delivered-To")), sorted(rcpts))
        self.assertEqual(sorted(f.get_all("X-Original-To")), sorted(rcpts))
        self.assertEqual(len(f.get_all("Received")), 1)
        self.assertTrue(f.raw.endswith(lf(msg)))
        self.d.wait_log(r"%s: from=<sender@example\.net>, size=\d+, nrcpt=3"
                        % qid)
        for r in rcpts:
            self.d.wait_log(r"%s: to=<%s>, .*status=sent"
                            % (qid, re.escape(r)))

    def test_null_sender(self):
        msg = message(subject="bounce")
        s = self.smtp(self.d)
        s.ehlo("client.test")
        qid = smtplib_send(self, s, "", ["user@example.org"], msg)
        f, = self.d.messages()
        self.assertTrue(f.raw.startswith(b"Return-Path: <>\n"), f.raw[:80])
        self.d.wait_log(r"%s: from=<>, size=\d+, nrcpt=1" % qid)

    def test_helo_instead_of_ehlo(self):
        s = self.smtp(self.d)
        code, resp = s.helo("old.client.test")
        self.assertEqual((code, resp.decode()), (250, HOSTNAME))
        msg = message(subject="helo")
        qid = smtplib_send(self, s, "sender@example.net",
                           ["user@example.org"], msg)
        f, = self.d.messages()
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["helo"], "old.client.test", rcv["raw"])
        self.assertEqual(rcv["id"], qid)
        # RFC 3848: "SMTP" for a HELO session (the spec lists only ESMTP*).
        self.assertEqual(rcv["with"], "SMTP", rcv["raw"])
        self.assertTrue(f.raw.endswith(lf(msg)))

    def test_several_messages_one_session(self):
        s = self.smtp(self.d)
        s.ehlo("client.test")
        qids = set()
        for i in range(5):
            qids.add(smtplib_send(self, s, "sender@example.net",
                                  ["user%d@example.org" % i],
                                  message(subject="msg %d" % i)))
            code, _ = s.rset()
            self.assertEqual(code, 250)
        self.assertEqual(len(qids), 5, "queue ids must differ")
        files = self.d.messages()
        self.assertEqual(len(files), 5)
        self.assertEqual({parse_received(f.get("Received"))["id"]
                          for f in files}, qids)

    def test_command_replies(self):
        c = self.raw(self.d)
        self.assertReply(c.greeting(), 220)
        table = [
            ("MAIL FROM:<a@example.net>", 503, "5.5.1"),  # before EHLO
            ("EHLO client.test", 250, None),
            ("NOOP", 250, "2.0.0"),
            ("RSET", 250, "2.0.0"),
            ("HELP", 214, "2.0.0"),
            ("VRFY user@example.org", 252, "2.0.0"),
            ("EXPN list@example.org", 502, "5.5.1"),
            ("RCPT TO:<user@example.org>", 503, "5.5.1"),
            ("DATA", 503, "5.5.1"),
            ("BOGUS command", 500, "5.5.2"),
            ("MAIL", 501, "5.5.4"),
            ("MAIL TO:<a@example.net>", 501, "5.5.4"),
            ("MAIL FROM:<a@>", 501, "5.1.7"),
            ("MAIL FROM:<a@example.net> FROBNICATE=1", 555, "5.5.4"),
            ("MAIL FROM:<a@example.net> SIZE=1000 BODY=8BITMIME", 250,
             "2.1.0"),
            ("MAIL FROM:<b@example.net>", 503, "5.5.1"),  # nested
            ("RCPT TO:<a@>", 501, "5.1.3"),
            ("RCPT TO:<user@example.org> FROBNICATE=1", 555, "5.5.4"),
            ("RCPT TO:<user@example.org>", 250, "2.1.5"),
            ("RSET", 250, "2.0.0"),
            ("DATA", 503, "5.5.1"),  # RSET ended the transaction
            ("QUIT", 221, "2.0.0"),
        ]
        for cmd, code, enh in table:
            with self.subTest(cmd=cmd):
                self.assertReply(c.cmd(cmd), code, enh, cmd)
        self.assertClosed(c, msg="after QUIT")
        self.assertNothingDelivered(self.d)

    def test_pipelined_transaction(self):
        c = self.raw(self.d)
        c.hello()
        msg = message(subject="pipelined")
        c.send(b"MAIL FROM:<sender@example.net>\r\n"
               b"RCPT TO:<a@example.org>\r\n"
               b"RCPT TO:<nobody@foreign.example>\r\n"
               b"RCPT TO:<b@example.org>\r\n"
               b"DATA\r\n")
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 554, "5.7.1")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 354)
        c.send(msg + b".\r\nQUIT\r\n")
        self.assertQueued(c.reply())
        self.assertReply(c.reply(), 221, "2.0.0")
        f, = self.d.messages()
        self.assertEqual(sorted(f.get_all("Delivered-To")),
                         ["a@example.org", "b@example.org"])

    def test_dsn_parameters_and_orcpt(self):
        c = self.raw(self.d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net> RET=HDRS "
                               "ENVID=test+2Bid"), 250, "2.1.0")
        self.assertReply(c.cmd("RCPT TO:<user@example.org> "
                               "NOTIFY=SUCCESS,FAILURE "
                               "ORCPT=rfc822;orig+2Bx@example.net"),
                         250, "2.1.5")
        self.assertReply(c.cmd("RCPT TO:<plain@example.org> NOTIFY=NEVER"),
                         250, "2.1.5")
        msg = message(subject="dsn")
        self.assertQueued(self.data(c, msg + b".\r\n"))
        f, = self.d.messages()
        self.assertEqual(f.get_all("Delivered-To"),
                         ["user@example.org", "plain@example.org"])
        # X-Original-To carries the decoded ORCPT when there is one.
        self.assertEqual(f.get_all("X-Original-To"),
                         ["orig+x@example.net", "plain@example.org"])

    def test_vrfy_502_when_configured(self):
        d = self.posternd(smtp={"vrfy": "502"})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("VRFY user@example.org"), 502, "5.5.1")

    def test_ipv6_listener(self):
        s = self.smtp(self.d, host="::1")
        s.ehlo("client6.test")
        msg = message(subject="over ipv6")
        qid = smtplib_send(self, s, "sender@example.net",
                           ["user@example.org"], msg)
        f, = self.d.messages()
        rcv = parse_received(f.get("Received"))
        self.assertIn(rcv["ip"], ("::1", "IPv6:::1"), rcv["raw"])
        self.assertEqual(rcv["id"], qid)
        self.d.wait_log(r"connect from \S+\[(IPv6:)?::1\]")

    def test_big_message_through_spool_file(self):
        d = self.posternd(smtp={"spool_memory": Raw("16k")})
        line = ("0123456789" * 9) + "\r\n"
        body = "".join("%06d %s" % (i, line) for i in range(23000))
        msg = message(subject="big", body=body)
        self.assertGreater(len(msg), 2 * 1024 * 1024)
        s = self.smtp(d)
        s.ehlo("client.test")
        smtplib_send(self, s, "sender@example.net", ["user@example.org"],
                     msg)
        f, = d.messages()
        self.assertTrue(f.raw.endswith(lf(msg)), "big message altered")
        s.quit()
        # Spool files are unlinked temp files: nothing may stay behind.
        self.assertEqual(os.listdir(d.spool), [])


class RoutingTest(PosterndTest):
    def test_routes_by_domain(self):
        from harness import Posternd
        d = self.posternd(start=False)
        mail2 = Posternd.make_maildir(os.path.join(d.dir, "mail2"))
        d.routes = [("example.org", "maildir:" + mail2),
                    ("default", "maildir:" + d.maildir)]
        d.write_config()
        d.start()
        s = self.smtp(d)
        s.ehlo("client.test")
        smtplib_send(self, s, "sender@example.net", ["a@example.org"],
                     message(subject="to example.org"))
        smtplib_send(self, s, "sender@example.net",
                     ["b@deep.sub.example.org"],
                     message(subject="to default"))
        f2, = d.messages(mail2)
        f1, = d.messages()
        self.assertEqual(f2.get("Delivered-To"), "a@example.org")
        self.assertEqual(f1.get("Delivered-To"), "b@deep.sub.example.org")
        # Recipients of one transaction share one route: the second
        # route's recipient is told to come back in another transaction.
        code, _ = s.mail("sender@example.net")
        self.assertEqual(code, 250)
        code, _ = s.rcpt("a@example.org")
        self.assertEqual(code, 250)
        code, resp = s.rcpt("b@deep.sub.example.org")
        self.assertEqual((code, resp.decode()[:5]), (452, "4.5.3"))

    def test_maildir_created_when_missing(self):
        d = self.posternd(start=False, prepare_maildir=False)
        target = os.path.join(d.dir, "created", "inbox")
        d.routes = [("default", "maildir:" + target)]
        d.write_config()
        d.start()
        for sub in ("tmp", "new", "cur"):
            st = os.stat(os.path.join(target, sub))
            self.assertEqual(st.st_uid, NOBODY.pw_uid, sub)
        s = self.smtp(d)
        s.ehlo("client.test")
        smtplib_send(self, s, "sender@example.net", ["user@example.org"],
                     message(subject="new maildir"))
        self.assertEqual(len(d.messages(target)), 1)
