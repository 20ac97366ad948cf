"""SMTPUTF8 (RFC 6531) and 8BITMIME: UTF-8 addresses only with the
SMTPUTF8 parameter, UTF-8 headers and 8-bit bodies delivered byte-exact.
"""

from harness import PosterndTest, TestCA, lf, parse_received
from test_smtp_basic import smtplib_send

SENDER = "jörg@example.net"
RCPT = "ünïcødé@example.org"
MSG = ("From: Jörg <jörg@example.net>\r\n"
       "To: <ünïcødé@example.org>\r\n"
       "Subject: Grüße aus Köln — 日本語\r\n"
       "MIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n"
       "\r\n"
       "Ünïcødé body: 😀 ∑ Ωmega\r\n"
       ".Punkt am Anfang: ÄÖÜ\r\n").encode("utf-8")


class SmtpUtf8Test(PosterndTest):
    def setUp(self):
        self.d = self.posternd(smtp={"max_errors": 100})

    def test_utf8_addresses_with_smtputf8(self):
        s = self.smtp(self.d)
        s.ehlo("client.test")
        self.assertTrue(s.has_extn("smtputf8"))
        qid = smtplib_send(self, s, SENDER, [RCPT], MSG,
                           mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        f, = self.d.messages()
        self.assertTrue(f.raw.startswith(
            ("Return-Path: <%s>\n" % SENDER).encode("utf-8")), f.raw[:80])
        self.assertEqual(f.get("Delivered-To"), RCPT)
        self.assertEqual(f.get("X-Original-To"), RCPT)
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["id"], qid)
        self.assertEqual(rcv["with"], "UTF8SMTP", rcv["raw"])
        self.assertEqual(rcv["for"], RCPT, rcv["raw"])
        self.assertTrue(f.raw.endswith(lf(MSG)), "UTF-8 content altered")
        self.d.wait_log(r"%s: from=<jörg@example\.net>" % qid)

    def test_utf8_sender_without_smtputf8_refused(self):
        c = self.raw(self.d)
        c.hello()
        r = c.cmd(("MAIL FROM:<%s>" % SENDER).encode("utf-8"))
        self.assertReply(r, "5", msg="UTF-8 sender without SMTPUTF8")
        self.assertTrue(r.enh and r.enh.startswith("5."), r)
        r = c.cmd(("MAIL FROM:<%s> BODY=8BITMIME" % SENDER).encode("utf-8"))
        self.assertReply(r, "5", msg="UTF-8 sender with only 8BITMIME")
        # The session goes on.
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250,
                         "2.1.0")
        r = c.cmd(("RCPT TO:<%s>" % RCPT).encode("utf-8"))
        self.assertReply(r, "5", msg="UTF-8 recipient without SMTPUTF8")
        self.assertReply(c.cmd("RCPT TO:<user@example.org>"), 250, "2.1.5")
        self.assertReply(c.cmd("RSET"), 250)
        self.assertNothingDelivered(self.d)

    def test_8bit_body_without_smtputf8(self):
        msg = ("From: sender@example.net\r\n"
               "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
               "Content-Type: text/plain; charset=iso-8859-1\r\n"
               "\r\n").encode() + b"Gr\xfc\xdfe, caf\xe9 \xff\xfe\r\n"
        s = self.smtp(self.d)
        s.ehlo("client.test")
        smtplib_send(self, s, "sender@example.net", ["user@example.org"],
                     msg, mail_options=["BODY=8BITMIME"])
        f, = self.d.messages()
        self.assertTrue(f.raw.endswith(lf(msg)), "8-bit body altered")
        self.assertEqual(parse_received(f.get("Received"))["with"], "ESMTP")

    def test_smtputf8_over_tls(self):
        d = self.posternd(tls=True)
        s = self.smtp(d)
        s.ehlo("client.test")
        s.starttls(context=TestCA.get().context())
        s.ehlo("client.test")
        smtplib_send(self, s, SENDER, [RCPT], MSG,
                     mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        f, = d.messages()
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["with"], "UTF8SMTPS", rcv["raw"])
        self.assertTrue(f.raw.endswith(lf(MSG)))
