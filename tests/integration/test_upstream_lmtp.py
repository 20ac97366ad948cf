"""LMTP upstreams (RFC 2033, issue 3): a private Dovecot over TCP and
over a unix socket, and the Python sink in LMTP mode.

LMTP answers per recipient after the data, while the SMTP client gets
one reply for the message; posternd therefore takes one recipient per
client transaction on an LMTP route (452 4.5.3 for the next, which the
client sends in a new transaction), so the single LMTP reply is exactly
the client's.  smtplib would not retry a 452 by itself: these tests
drive the retry.
"""

import time
import unittest

from harness import (ARTIFACTS, HANG, DovecotInstance, Raw, UpstreamTest,
                     have_program, make_dir, message)


class DovecotLmtpTest(UpstreamTest):
    @classmethod
    def setUpClass(cls):
        if not have_program("dovecot"):
            raise unittest.SkipTest("dovecot is not installed")
        cls.dv = DovecotInstance().start()

    @classmethod
    def tearDownClass(cls):
        cls.dv.stop()

    def setUp(self):
        ARTIFACTS.append(("dovecot log", self.dv.logfile))
        self.before = {u: len(self.dv.mailbox(u)) for u in ("alice", "bob")}

    def new_mail(self, user, n, timeout=5.0):
        """The messages user got since the test began (waits for n)."""
        def got():
            box = self.dv.mailbox(user)
            return box[self.before[user]:] if len(box) - \
                self.before[user] >= n else None
        deadline = time.monotonic() + timeout
        while True:
            new = got()
            if new is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        new = self.dv.mailbox(user)[self.before[user]:]
        self.assertEqual(len(new), n, "%s got %d new messages, wanted %d"
                         % (user, len(new), n))
        return new

    def lmtp_url(self):
        return "lmtp://127.0.0.1:%d" % self.dv.lmtp_port

    def check_copy(self, raw, body, qid):
        """A Dovecot maildir file (LF): its own header lines, posternd's
        Received with our queue id, then the message as sent."""
        self.assertTrue(raw.endswith(body.replace(b"\r\n", b"\n")),
                        raw[-300:])
        self.assertRegex(raw, rb"\nReceived: from client\.test \(\S+ "
                         rb"\[127\.0\.0\.1\]\)\n\tby mx\.test\.invalid "
                         rb"\(postern\) with ESMTP id " + qid.encode())
        self.assertIn(b"Delivered-To: alice@example.org\n", raw)

    def test_known_user_delivered_and_read_over_imap(self):
        d = self.relay(self.lmtp_url())
        body = message(subject="lmtp to alice", body=".dot\r\nend\r\n")
        res = self.send_one(d, body, rcpts=("alice@example.org",))
        qid = self.assertQueued(res.eod)
        raw, = self.new_mail("alice", 1)
        self.check_copy(raw, body, qid)
        # And as a mail client sees it.
        imap = self.dv.imap_fetch("alice")
        self.assertTrue(any(m.endswith(body) and qid.encode() in m
                            for m in imap), "not in alice's INBOX over IMAP")
        d.wait_log(r"postern/relay\[\d+\]: %s: to=<alice@example\.org>, "
                   r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*dsn=2\.0\.0, "
                   r"status=sent \(250 " % (qid, self.dv.lmtp_port))

    def test_unknown_user_refused(self):
        d = self.relay(self.lmtp_url())
        res = self.send_one(d, rcpts=("nobody@example.org",))
        r = res.refusal()
        self.assertIsNotNone(r, "unknown LMTP user accepted: %r" % res)
        self.assertReply(r, 550, "5.1.1")
        self.assertIn("[127.0.0.1]:%d said:" % self.dv.lmtp_port, r.text)
        self.assertIn("doesn't exist", r.text)
        time.sleep(0.3)
        self.new_mail("alice", 0, timeout=0)
        d.wait_log(r"to=<nobody@example\.org>, .*status=bounced")

    def test_second_recipient_in_its_own_transaction(self):
        d = self.relay(self.lmtp_url())
        c = self.raw(d)
        c.hello()
        body = message(subject="two recipients")
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<alice@example.org>"), 250, "2.1.5")
        self.assertReply(c.cmd("RCPT TO:<bob@example.org>"), 452, "4.5.3")
        self.assertReply(c.cmd("DATA"), 354)
        c.send(body + b".\r\n")
        q1 = self.assertQueued(c.reply())
        # What an MTA does with the 452: the same message again, to the
        # deferred recipient only.
        res = self.transact(c, body, rcpts=("bob@example.org",))
        q2 = self.assertQueued(res.eod)
        self.assertNotEqual(q1, q2)
        a, = self.new_mail("alice", 1)
        b, = self.new_mail("bob", 1)
        self.assertIn(q1.encode(), a)
        self.assertIn(q2.encode(), b)
        self.assertIn(b"Delivered-To: bob@example.org\n", b)

    def test_unix_socket(self):
        d = self.relay("lmtp:unix:" + self.dv.lmtp_socket)
        body = message(subject="over the unix socket")
        qid = self.assertQueued(self.send_one(
            d, body, rcpts=("alice@example.org",)).eod)
        raw, = self.new_mail("alice", 1)
        self.check_copy(raw, body, qid)

    def test_verify_recipients(self):
        d = self.relay(self.lmtp_url(), {"verify_recipients": True})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        r = c.cmd("RCPT TO:<nobody@example.org>")
        self.assertReply(r, 550, "5.1.1")
        self.assertIn("[127.0.0.1]:%d said:" % self.dv.lmtp_port, r.text)
        self.assertReply(c.cmd("RCPT TO:<alice@example.org>"), 250)
        self.assertReply(c.cmd("DATA"), 354)
        body = message(subject="verified")
        c.send(body + b".\r\n")
        qid = self.assertQueued(c.reply())
        raw, = self.new_mail("alice", 1)
        self.check_copy(raw, body, qid)


class SinkLmtpTest(UpstreamTest):
    def test_per_recipient_reply_is_the_clients(self):
        sink = self.upstream_sink(lmtp=True, replies={"eod": [
            ("^full@", "452 4.2.2 sinkmark mailbox full"),
            ("^gone@", "550 5.2.1 sinkmark mailbox disabled"),
        ]})
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        for rcpt, code, enh in (("full@example.org", 452, "4.2.2"),
                                ("gone@example.org", 550, "5.2.1"),
                                ("fine@example.org", 250, "2.0.0")):
            with self.subTest(rcpt=rcpt):
                body = message(subject=rcpt)
                res = self.transact(c, body, rcpts=(rcpt,))
                self.assertReply(res.eod, code, enh)
                if code != 250:
                    self.assertMarked(res.eod, sink, "sinkmark")
                else:
                    qid = self.assertQueued(res.eod)
                    txn = sink.accepted()[-1]
                    self.assertEqual(txn.delivered, [rcpt])
                    self.assertArrived(txn, body, qid)
        self.assertEqual(len(sink.accepted()), 1)
        for conn in sink.conns:
            self.assertEqual({v for v, _ in conn.hellos}, {"LHLO"})
        for t in sink.txns:
            self.assertEqual(len(t.rcpts), 1, "more than one RCPT in an "
                             "LMTP transaction: %r" % t)

    def test_one_recipient_per_transaction(self):
        sink = self.upstream_sink(lmtp=True)
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        rcpts = ["r%d@example.org" % i for i in range(3)]
        body = message(subject="fan out")
        pending = list(rcpts)
        rounds = 0
        while pending and rounds < 5:
            rounds += 1
            self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
            sent = []
            for r in pending:
                rep = c.cmd("RCPT TO:<%s>" % r)
                if rep.code == 250:
                    sent.append(r)
                else:
                    self.assertReply(rep, 452, "4.5.3")
            self.assertEqual(len(sent), 1)
            self.assertReply(c.cmd("DATA"), 354)
            c.send(body + b".\r\n")
            self.assertQueued(c.reply())
            pending = [r for r in pending if r not in sent]
        self.assertEqual(pending, [])
        self.assertEqual(sorted(r for t in sink.accepted()
                                for r in t.delivered), rcpts)

    def test_hangs_after_data(self):
        sink = self.upstream_sink(lmtp=True, replies={"eod": HANG})
        d = self.relay(sink, {"data_timeout": Raw("1s"),
                              "command_timeout": Raw("1s")})
        t0 = time.monotonic()
        res = self.send_one(d)
        self.assertReply(res.refusal(), 451, "4.4.1")
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertNoneArrived(sink)

    def test_unix_socket_sink(self):
        path = make_dir("lmtpsock.") + "/lmtp.sock"
        sink = self.upstream_sink(lmtp=True, unix=path)
        self.assertEqual(sink.url, "lmtp:unix:" + path)
        d = self.relay(sink)
        body = message(subject="unix lmtp")
        qid = self.assertQueued(self.send_one(d, body).eod)
        txn, = sink.accepted()
        self.assertArrived(txn, body, qid)
