"""A private Postfix as posternd's upstream (issue 3): recipient
verification at RCPT time against a Postfix that refuses unknown users
(relay_recipient_maps), the verification cache, and XCLIENT so that
Postfix logs the real client.  The same cache rules are checked exactly
against the Python sink, which counts every probe.

Chain: client -> posternd -> Postfix (smtpd) -> Python sink (relayhost).
"""

import os
import re
import time
import unittest

from harness import (ARTIFACTS, PostfixInstance, Raw, UpstreamSink,
                     UpstreamTest, closed_port_url, have_program, make_dir,
                     message, split_received)

KNOWN = "known@example.org"
UNKNOWN = "unknown@example.org"


class PostfixUpstreamTest(UpstreamTest):
    @classmethod
    def setUpClass(cls):
        if not have_program("postfix"):
            raise unittest.SkipTest("postfix is not installed")
        cls.final = UpstreamSink().start()
        maps = make_dir("pfmaps.")
        rr = os.path.join(maps, "relay_recipients")
        with open(rr, "w") as f:
            f.write("%s ok\nbob@example.org ok\n" % KNOWN)
        cls.pf = PostfixInstance(cls.final.port, main_extra={
            "relay_domains": "example.org",
            "relay_recipient_maps": "texthash:" + rr,
            "smtpd_authorized_xclient_hosts": "127.0.0.1",
            # IPv6 clients announced by XCLIENT (smtpd still listens on
            # 127.0.0.1 only).
            "inet_protocols": "all",
            "mynetworks": "127.0.0.0/8 [::1]/128",
        })
        try:
            cls.pf.start()
        except Exception:
            cls.final.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        cls.final.stop()

    def setUp(self):
        ARTIFACTS.append(("postfix maillog", self.pf.maillog))
        self.addCleanup(self.check_final)
        self.nfinal = len(self.final.accepted())

    def check_final(self):
        self.assertEqual(self.final.violations, [])
        self.assertEqual(self.final.errors, [])

    def pf_url(self):
        return "smtp://127.0.0.1:%d" % self.pf.smtpd_port

    def final_copy(self, body, timeout=20):
        """The copy Postfix relayed to the final sink (one new one)."""
        acc = self.final.wait_accepted(self.nfinal + 1, timeout)
        txn = acc[self.nfinal]
        self.nfinal += 1
        self.assertTrue(txn.data.endswith(body), txn.data[-300:])
        return txn

    def rejects(self, addr):
        return len(re.findall(r"NOQUEUE: reject: RCPT from .*<%s>"
                              % re.escape(addr), self.pf.log()))

    def test_verify_unknown_refused_at_rcpt(self):
        d = self.relay(self.pf_url(), {"verify_recipients": True,
                                       "verify_cache": Raw("10min")})
        before = self.rejects(UNKNOWN)
        c = self.raw(d)
        c.hello()
        for i in range(2):
            with self.subTest(transaction=i + 1):
                self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"),
                                 250)
                r = c.cmd("RCPT TO:<%s>" % UNKNOWN)
                self.assertReply(r, 550, "5.1.1")
                self.assertIn("[127.0.0.1]:%d said:" % self.pf.smtpd_port,
                              r.text)
                self.assertIn("User unknown", r.text)
                self.assertReply(c.cmd("RCPT TO:<%s>" % KNOWN), 250,
                                 "2.1.5")
                self.assertReply(c.cmd("DATA"), 354)
                body = message(subject="verified %d" % i)
                c.send(body + b".\r\n")
                qid = self.assertQueued(c.reply())
                txn = self.final_copy(body)
                self.assertEqual(txn.delivered, [KNOWN])
                _, rest = split_received(txn.data)  # Postfix's Received
                self.assertArrived(rest, body, qid)
        # The second probe for the unknown user came from the cache.
        self.assertEqual(self.rejects(UNKNOWN) - before, 1,
                         "Postfix was asked again within verify_cache")
        d.wait_log(r"reject: RCPT from \S+\[127\.0\.0\.1\]: 550 5\.1\.1 ")

    def test_xclient_real_client_logged(self):
        # (xclient, client's address, what Postfix must log)
        for xclient, host, want in ((True, "127.0.0.2", "127.0.0.2"),
                                    (True, "::1", "::1"),
                                    (False, "127.0.0.2", "127.0.0.1")):
            with self.subTest(xclient=xclient, client=host):
                d = self.relay(self.pf_url(), {"xclient": xclient})
                body = message(subject="xclient %s" % xclient)
                res = self.send_one(
                    d, body, host="127.0.0.1" if "." in host else host,
                    source=host if "." in host else None,
                    helo="client.test", rcpts=(KNOWN,))
                self.assertQueued(res.eod)
                txn = self.final_copy(body)
                pf_rcv = split_received(txn.data)[0].decode()
                self.assertIn("(Postfix)", pf_rcv)
                pfqid = re.search(r"\(Postfix\) with E?SMTP\S* id (\w+)",
                                  pf_rcv).group(1)
                seen = re.search(r"postfix/smtpd\[\d+\]: %s: client=(\S+)"
                                 % pfqid, self.pf.log())
                self.assertTrue(seen, "no client= line for %s" % pfqid)
                self.assertIn("[%s]" % want, seen.group(1))
                # Received: from client.test (unknown [IPv6:::1])
                self.assertRegex(pf_rcv, r"\[(IPv6:)?%s\]\)"
                                 % re.escape(want))
                d.stop()


class VerifyCacheTest(UpstreamTest):
    def verify_sink(self, **kw):
        return self.upstream_sink(replies={"rcpt": [
            ("^unknown@", "550 5.1.1 sinkmark no such user"),
            ("^busy@", "450 4.2.1 sinkmark try later"),
        ]}, **kw)

    def two_transactions(self, d, sleep=0.0):
        c = self.raw(d)
        c.hello()
        for i in range(2):
            self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
            self.assertReply(c.cmd("RCPT TO:<%s>" % UNKNOWN), 550, "5.1.1")
            self.assertReply(c.cmd("RCPT TO:<%s>" % KNOWN), 250, "2.1.5")
            self.assertReply(c.cmd("DATA"), 354)
            c.send(message(subject="cache %d" % i) + b".\r\n")
            self.assertQueued(c.reply())
            if sleep:
                time.sleep(sleep)
        return c

    def test_cached(self):
        sink = self.verify_sink()
        d = self.relay(sink, {"verify_recipients": True,
                              "verify_cache": Raw("10min")})
        self.two_transactions(d)
        self.assertEqual(sink.probes(UNKNOWN), 1, sink.describe())
        self.assertEqual(sink.probes(KNOWN), 1, sink.describe())
        self.assertEqual([t.delivered for t in sink.accepted()],
                         [[KNOWN], [KNOWN]])
        probe = [t for t in sink.txns if t.via is None][0]
        self.assertEqual(probe.sender, "sender@example.net")

    def test_no_cache(self):
        sink = self.verify_sink()
        d = self.relay(sink, {"verify_recipients": True,
                              "verify_cache": 0})
        self.two_transactions(d)
        self.assertEqual(sink.probes(UNKNOWN), 2, sink.describe())
        self.assertEqual(sink.probes(KNOWN), 2, sink.describe())

    def test_cache_expires(self):
        sink = self.verify_sink()
        d = self.relay(sink, {"verify_recipients": True,
                              "verify_cache": Raw("1s")})
        self.two_transactions(d, sleep=1.5)
        self.assertEqual(sink.probes(UNKNOWN), 2, sink.describe())

    def test_tempfail_relayed_at_rcpt(self):
        sink = self.verify_sink()
        d = self.relay(sink, {"verify_recipients": True})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        r = c.cmd("RCPT TO:<busy@example.org>")
        self.assertReply(r, 450, "4.2.1")
        self.assertMarked(r, sink, "sinkmark")
        self.assertReply(c.cmd("DATA"), 503)
        self.assertNoneArrived(sink, complete=True)

    def test_upstream_down_at_rcpt(self):
        d = self.relay(closed_port_url(), {"verify_recipients": True,
                                           "connect_timeout": Raw("1s")})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        t0 = time.monotonic()
        self.assertReply(c.cmd("RCPT TO:<%s>" % KNOWN), 451, "4.4.1")
        self.assertLess(time.monotonic() - t0, 3.0)

    def test_pipelined_rcpts_answered_in_order(self):
        sink = self.verify_sink()
        d = self.relay(sink, {"verify_recipients": True})
        c = self.raw(d)
        c.hello()
        c.send("MAIL FROM:<sender@example.net>\r\n"
               "RCPT TO:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<busy@example.org>"
               "\r\nRCPT TO:<second@example.org>\r\nDATA\r\n"
               % (KNOWN, UNKNOWN))
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 550, "5.1.1")
        self.assertReply(c.reply(), 450, "4.2.1")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertReply(c.reply(), 354)
        body = message(subject="pipelined")
        c.send(body + b".\r\n")
        qid = self.assertQueued(c.reply())
        txn, = sink.accepted()
        self.assertEqual(txn.delivered, [KNOWN, "second@example.org"])
        self.assertArrived(txn, body, qid)


class XclientSinkTest(UpstreamTest):
    """XCLIENT/XFORWARD as the Python sink sees them, also on a pooled
    connection shared by two clients (each transaction must carry its
    own client)."""

    def run_two_clients(self, d):
        for src in ("127.0.0.2", "127.0.0.3"):
            self.assertQueued(self.send_one(d, source=src,
                                            helo="client-%s.test" % src
                                            ).eod)

    def test_xclient(self):
        sink = self.upstream_sink(xclient=True)
        d = self.relay(sink, {"xclient": True})
        self.run_two_clients(d)
        t1, t2 = sink.accepted()
        for t, src in ((t1, "127.0.0.2"), (t2, "127.0.0.3")):
            self.assertIsNotNone(t.xclient, "no XCLIENT before MAIL")
            self.assertEqual(t.xclient.get("ADDR"), src, t.xclient)
            self.assertEqual(t.xclient.get("HELO"), "client-%s.test" % src,
                             t.xclient)
        for conn in sink.conns:
            # XCLIENT resets the session: EHLO again after each.
            verbs = conn.verbs()
            for i, v in enumerate(verbs):
                if v == "XCLIENT":
                    self.assertIn(verbs[i + 1], ("EHLO", "QUIT"), verbs)

    def test_xclient_ipv6_client(self):
        # Postfix's XCLIENT wants IPv6 addresses as "IPV6:..." (it
        # answers 501 to a bare ::1).
        sink = self.upstream_sink(xclient=True)
        d = self.relay(sink, {"xclient": True})
        self.assertQueued(self.send_one(d, host="::1").eod)
        t, = sink.accepted()
        self.assertIsNotNone(t.xclient, "no XCLIENT before MAIL")
        self.assertEqual(t.xclient.get("ADDR", "").upper(), "IPV6:::1",
                         t.xclient)

    def test_xforward(self):
        sink = self.upstream_sink(xforward=True)
        d = self.relay(sink, {"xclient": True})
        self.run_two_clients(d)
        t1, t2 = sink.accepted()
        for t, src in ((t1, "127.0.0.2"), (t2, "127.0.0.3")):
            self.assertIsNotNone(t.xforward, "no XFORWARD before MAIL")
            self.assertEqual(t.xforward.get("ADDR"), src, t.xforward)

    def test_disabled(self):
        sink = self.upstream_sink(xclient=True, xforward=True)
        d = self.relay(sink, {"xclient": False})
        self.run_two_clients(d)
        for conn in sink.conns:
            self.assertNotIn("XCLIENT", conn.verbs())
            self.assertNotIn("XFORWARD", conn.verbs())
        self.assertEqual(len(sink.accepted()), 2)
