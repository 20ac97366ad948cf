"""Relaying to an SMTP upstream (issue 3), against the Python sink of
the harness: the content arrives byte for byte with posternd's Received
header on top; the envelope and the ESMTP parameters are carried when the
upstream offers them and dropped when it does not; 8-bit and UTF-8 mail
is refused rather than corrupted; dot-stuffing in both directions (DATA
and BDAT from the client, DATA and BDAT to the upstream); the connection
pool; TLS towards the upstream.

Every test checks what the client was told and what the upstream got;
the sink itself fails a test when posternd sends anything the upstream
did not advertise (pipelining, BDAT, BODY=, DSN, SIZE, SMTPUTF8), bare
line ends, or 8-bit data to a 7-bit server.
"""

import re
import subprocess
import threading
import time

from harness import (POSTERND, Delay, Raw, TestCA, UpstreamTest, make_dir,
                     message,
                     parse_received, sink_server_context, split_received,
                     xtext_decode)

RCPTS = ("user@example.org", "second@example.org", "third@example.org")


def body8():
    return message(subject="8bit",
                   body="Gr\u00fc\u00dfe aus K\u00f6ln.\r\n",
                   extra_headers="MIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n")


class RelayBasicsTest(UpstreamTest):
    def test_relay_byte_exact_envelope_and_log(self):
        sink = self.upstream_sink()
        d = self.relay(sink)
        body = message(subject="relay me",
                       body="Line one.\r\n\r\n  indented\r\n\ttabbed\r\n"
                       "trailing space \r\n" + "x" * 998 + "\r\nend\r\n")
        c = self.raw(d)
        c.hello()
        res = self.transact(c, body, rcpts=RCPTS)
        qid = self.assertQueued(res.eod)
        txn, = sink.accepted()
        self.assertEqual(txn.sender, "sender@example.net")
        self.assertEqual([r[0] for r in txn.rcpts], list(RCPTS))
        self.assertEqual(txn.delivered, list(RCPTS))
        self.assertArrived(txn, body, qid)
        rcv = parse_received(split_head(txn.data))
        self.assertEqual(rcv["by"], "mx.test.invalid")
        self.assertEqual(rcv["ip"], "127.0.0.1")
        # One log line per recipient, Postfix's shape.
        for r in RCPTS:
            d.wait_log(r"postern/relay\[\d+\]: %s: to=<%s>, "
                       r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, "
                       r"delay=[\d.]+, .*dsn=2\.0\.0, status=sent \(250 "
                       % (qid, re.escape(r), sink.port))

    def test_null_sender_and_second_message_same_session(self):
        sink = self.upstream_sink()
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        b1 = message(subject="bounce")
        b2 = message(subject="second")
        q1 = self.assertQueued(self.transact(c, b1, sender="").eod)
        q2 = self.assertQueued(self.transact(c, b2).eod)
        self.assertNotEqual(q1, q2)
        t1, t2 = sink.accepted()
        self.assertEqual(t1.sender, "")
        self.assertArrived(t1, b1, q1)
        self.assertEqual(t2.sender, "sender@example.net")
        self.assertArrived(t2, b2, q2)

    def test_dsn_parameters_carried(self):
        sink = self.upstream_sink()  # offers DSN
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        body = message(subject="dsn")
        res = self.transact(
            c, body, rcpts=("user@example.org", "second@example.org",
                            "third@example.org"),
            mail_params=" RET=HDRS ENVID=QQ+2Bid-314",
            rcpt_params={
                "user@example.org": " NOTIFY=SUCCESS,DELAY "
                "ORCPT=rfc822;orig+2Btag@example.org",
                "second@example.org": " NOTIFY=NEVER",
            })
        self.assertQueued(res.eod)
        txn, = sink.accepted()
        self.assertEqual(txn.params.get("RET"), "HDRS", txn.mail_line)
        self.assertEqual(xdec(txn.params.get("ENVID")), "QQ+id-314",
                         txn.mail_line)
        p = txn.rcpt_params("user@example.org")
        self.assertEqual(set((p.get("NOTIFY") or "").split(",")),
                         {"SUCCESS", "DELAY"}, txn.rcpts)
        self.assertEqual(orcpt(p), "rfc822;orig+tag@example.org", txn.rcpts)
        p = txn.rcpt_params("second@example.org")
        self.assertEqual(p.get("NOTIFY"), "NEVER", txn.rcpts)
        # No ORCPT from the client: none, or the address itself.
        self.assertIn(orcpt(p), (None, "rfc822;second@example.org"))
        p = txn.rcpt_params("third@example.org")
        self.assertNotIn("NOTIFY", p)

    def test_dsn_parameters_dropped_without_dsn(self):
        sink = self.upstream_sink(without=["DSN"])
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        body = message(subject="no dsn upstream")
        res = self.transact(c, body, mail_params=" RET=FULL ENVID=abc",
                            rcpt_params=" NOTIFY=FAILURE "
                            "ORCPT=rfc822;user@example.org")
        qid = self.assertQueued(res.eod)
        txn, = sink.accepted()
        self.assertArrived(txn, body, qid)
        for k in ("RET", "ENVID"):
            self.assertNotIn(k, txn.params)
        self.assertEqual(set(txn.rcpt_params("user@example.org")) &
                         {"NOTIFY", "ORCPT"}, set())

    def test_size_parameter(self):
        body = message(subject="size", body=("y" * 70 + "\r\n") * 70)
        with self.subTest(upstream="offers SIZE"):
            sink = self.upstream_sink()
            d = self.relay(sink)
            c = self.raw(d)
            c.hello()
            res = self.transact(c, body, mail_params=" SIZE=%d" % len(body))
            self.assertQueued(res.eod)
            txn, = sink.accepted()
            self.assertIn("SIZE", txn.params, txn.mail_line)
            self.assertRegex(txn.params["SIZE"] or "", r"^\d+$")
            self.assertGreaterEqual(int(txn.params["SIZE"]), len(body),
                                    txn.mail_line)
        with self.subTest(upstream="no SIZE"):
            sink = self.upstream_sink(without=["SIZE"])
            d = self.relay(sink)
            c = self.raw(d)
            c.hello()
            res = self.transact(c, body, mail_params=" SIZE=%d" % len(body))
            self.assertQueued(res.eod)
            txn, = sink.accepted()
            self.assertNotIn("SIZE", txn.params)

    def test_upstream_size_limit_refused(self):
        sink = self.upstream_sink(without=["SIZE"], extra_ext=["SIZE 2000"])
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        body = message(subject="too big", body=("z" * 70 + "\r\n") * 120)
        res = self.transact(c, body)
        r = res.refusal()
        self.assertIsNotNone(r, "a message over the upstream's SIZE was "
                             "accepted: %r" % res)
        self.assertReply(r, 552, "5.3.4")
        self.assertNoneArrived(sink, complete=True)

    def test_8bitmime_carried(self):
        sink = self.upstream_sink()
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        body = body8()
        res = self.transact(c, body, mail_params=" BODY=8BITMIME")
        qid = self.assertQueued(res.eod)
        txn, = sink.accepted()
        self.assertEqual((txn.params.get("BODY") or "").upper(), "8BITMIME")
        self.assertArrived(txn, body, qid)

    def test_8bitmime_to_7bit_upstream_refused(self):
        sink = self.upstream_sink(without=["8BITMIME"])
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        res = self.transact(c, body8(), mail_params=" BODY=8BITMIME")
        r = res.refusal()
        self.assertIsNotNone(r, "8-bit mail accepted for a 7-bit "
                             "upstream: %r" % res)
        self.assertReply(r, 550, "5.6.3")
        self.assertNoneArrived(sink, complete=True)
        # The session goes on: a 7-bit message is relayed.
        body = message(subject="seven bit")
        self.assertQueued(self.transact(c, body).eod)
        txn, = sink.accepted()
        self.assertArrived(txn, body)

    def test_smtputf8_carried(self):
        sink = self.upstream_sink()
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        body = message(subject="utf8 \u00e9t\u00e9")
        sender = "j\u00f6rg@example.net"
        res = self.transact(c, body, sender=sender,
                            rcpts=("\u00fcser@example.org",),
                            mail_params=" SMTPUTF8")
        qid = self.assertQueued(res.eod)
        txn, = sink.accepted()
        self.assertIn("SMTPUTF8", txn.params, txn.mail_line)
        self.assertEqual(txn.sender, sender)
        self.assertEqual(txn.delivered, ["\u00fcser@example.org"])
        self.assertArrived(txn, body, qid)

    def test_smtputf8_to_upstream_without_it_refused(self):
        sink = self.upstream_sink(without=["SMTPUTF8"])
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        res = self.transact(c, message(subject="utf8 \u00e9t\u00e9"),
                            sender="j\u00f6rg@example.net",
                            mail_params=" SMTPUTF8")
        r = res.refusal()
        self.assertIsNotNone(r, "SMTPUTF8 mail accepted for an upstream "
                             "without SMTPUTF8: %r" % res)
        self.assertReply(r, 553, "5.6.7")
        self.assertNoneArrived(sink, complete=True)

    def test_upstream_without_pipelining_many_recipients(self):
        sink = self.upstream_sink(without=["PIPELINING"])
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        rcpts = ["r%02d@example.org" % i for i in range(12)]
        body = message(subject="no pipelining")
        qid = self.assertQueued(self.transact(c, body, rcpts=rcpts).eod)
        txn, = sink.accepted()
        self.assertEqual(txn.delivered, rcpts)
        self.assertArrived(txn, body, qid)

    def test_multiline_greeting_and_unknown_extensions(self):
        sink = self.upstream_sink(
            replies={"connect": "220-sink.test.invalid ESMTP\n220-more "
                     "greeting text\n220 sink.test.invalid ready"},
            extra_ext=["AUTH PLAIN LOGIN", "X-UNKNOWN-THING 42", "ETRN",
                       "VRFY", "DELIVERBY 300"])
        d = self.relay(sink)
        body = message(subject="multi-line greeting")
        qid = self.assertQueued(self.send_one(d, body).eod)
        txn, = sink.accepted()
        self.assertArrived(txn, body, qid)

    def test_upstream_with_no_extensions(self):
        sink = self.upstream_sink(ext=())
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        body = message(subject="plain old smtp", body=".dot\r\n")
        qid = self.assertQueued(self.transact(c, body, rcpts=RCPTS).eod)
        txn, = sink.accepted()
        self.assertEqual(txn.via, "DATA")
        self.assertEqual(txn.params, {})
        self.assertArrived(txn, body, qid)

    def test_route_by_domain(self):
        a = self.upstream_sink()
        b = self.upstream_sink()
        d = self.posternd(routes=[("example.org", a.url),
                                  (".sub.example.org", b.url),
                                  ("default", "maildir:mail")])
        c = self.raw(d)
        c.hello()
        body = message(subject="routed")
        self.assertQueued(self.transact(c, body,
                                        rcpts=("x@example.org",)).eod)
        self.assertQueued(self.transact(c, body,
                                        rcpts=("y@deep.sub.example.org",)
                                        ).eod)
        self.assertEqual([t.delivered for t in a.accepted()],
                         [["x@example.org"]])
        self.assertEqual([t.delivered for t in b.accepted()],
                         [["y@deep.sub.example.org"]])
        # Recipients of two routes in one transaction: 452 4.5.3 for the
        # second, which the client then sends on its own.
        self.assertReply(c.cmd("MAIL FROM:<s@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<x2@example.org>"), 250)
        self.assertReply(c.cmd("RCPT TO:<y2@deep.sub.example.org>"), 452,
                         "4.5.3")
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: split\r\n\r\nx\r\n.\r\n")
        self.assertQueued(c.reply())
        self.assertEqual(a.accepted()[-1].delivered, ["x2@example.org"])
        self.assertEqual(len(b.accepted()), 1)


class DotStuffingTest(UpstreamTest):
    """Content with dots, by DATA and BDAT, to upstreams with and
    without CHUNKING: always the same octets upstream."""

    BODIES = {
        "dot lines": b"Subject: dots\r\n\r\n.hidden\r\n..two\r\n. space\r\n"
                     b"a.b\r\n.\r\n.\r\nlast\r\n",
        "only a dot": b".\r\n",
        "lines of dots": b"Subject: rows\r\n\r\n..\r\n...\r\n....\r\n"
                         b"..........\r\n.\r\n..\r\n",
        "dot line at the end": b"Subject: end\r\n\r\nx\r\n.\r\n",
        "smuggling": b"Subject: smuggle\r\n\r\nhi\r\n.\r\n"
                     b"MAIL FROM:<evil@example.net>\r\n"
                     b"RCPT TO:<victim@example.org>\r\nDATA\r\n"
                     b"evil\r\n.\r\n",
    }

    def run_bodies(self, sink, bdat=None, extra_splits=False):
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        n = 0
        for name, body in self.BODIES.items():
            splits = [None] if bdat is None else [[]] + (
                self.splits(body) if extra_splits else [])
            for cut in splits:
                with self.subTest(body=name, chunks=cut):
                    res = self.transact(c, body, bdat=cut)
                    qid = self.assertQueued(res.eod)
                    n += 1
                    acc = sink.accepted()
                    self.assertEqual(len(acc), n, "an upstream "
                                     "transaction per message: %r" % acc)
                    self.assertArrived(acc[-1], body, qid, name)
        self.assertEqual(len(sink.txns), n, "extra transactions upstream")
        return sink

    @staticmethod
    def splits(body):
        """BDAT chunk lengths that cut body right after CR, after CRLF
        and after CRLF-dot, where a careless converter goes wrong."""
        out = []
        for pat, off in ((b"\r\n.", 1), (b"\r\n.", 2), (b"\r\n.", 3)):
            i = body.find(pat, 1)
            if i > 0 and i + off < len(body):
                out.append([i + off])
        return out

    def test_data_to_upstream_without_chunking(self):
        s = self.run_bodies(self.upstream_sink(without=["CHUNKING"]))
        self.assertEqual({t.via for t in s.accepted()}, {"DATA"})

    def test_data_to_upstream_with_chunking(self):
        self.run_bodies(self.upstream_sink())

    def test_bdat_converted_to_data(self):
        s = self.run_bodies(self.upstream_sink(without=["CHUNKING"]),
                            bdat=True, extra_splits=True)
        self.assertEqual({t.via for t in s.accepted()}, {"DATA"})

    def test_bdat_relayed_as_bdat(self):
        s = self.run_bodies(self.upstream_sink(), bdat=True,
                            extra_splits=True)
        self.assertEqual({t.via for t in s.accepted()}, {"BDAT"},
                         "BDAT from the client to an upstream with "
                         "CHUNKING")

    def test_bdat_without_final_crlf(self):
        # BDAT content need not end with CRLF; sent on as DATA, a line
        # end must come before the final dot (else the upstream would
        # read on, or take the dot into the last line).
        body = b"Subject: no line end\r\n\r\n.last line, no CRLF."
        for chunking in (False, True):
            with self.subTest(chunking=chunking):
                sink = self.upstream_sink(
                    without=[] if chunking else ["CHUNKING"])
                d = self.relay(sink, {"command_timeout": Raw("2s"),
                                      "data_timeout": Raw("2s")})
                c = self.raw(d)
                c.hello()
                res = self.transact(c, body, bdat=[10])
                if not res.acked:
                    self.assertNoneArrived(sink)
                    continue
                txn, = sink.accepted()
                _, rest = split_received(txn.data)
                self.assertIn(rest, (body, body + b"\r\n"))

    def test_bdat_8bit_to_upstream_without_chunking(self):
        sink = self.upstream_sink(without=["CHUNKING"])
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        body = body8() + b".\r\n..\r\n"
        res = self.transact(c, body, mail_params=" BODY=8BITMIME",
                            bdat=[7, 100])
        qid = self.assertQueued(res.eod)
        txn, = sink.accepted()
        self.assertEqual(txn.via, "DATA")
        self.assertArrived(txn, body, qid)

    def test_big_message_with_dots(self):
        # Bigger than the spool's memory part, so it is streamed from
        # a temp file; dot lines every few lines and at chunk edges.
        lines = []
        for i in range(30000):
            lines.append(b"." * (i % 5) + b"line %d" % i if i % 7
                         else b"." * (i % 4))
        body = b"Subject: big\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
        for chunking, bdat in ((False, None), (False, [65536, 65536]),
                               (True, [100000])):
            with self.subTest(chunking=chunking, bdat=bdat):
                sink = self.upstream_sink(
                    without=[] if chunking else ["CHUNKING"])
                d = self.relay(sink)
                c = self.raw(d)
                c.hello()
                qid = self.assertQueued(self.transact(c, body,
                                                      bdat=bdat).eod)
                txn, = sink.accepted()
                self.assertArrived(txn, body, qid)


class PoolTest(UpstreamTest):
    def test_sequential_messages_share_one_connection(self):
        sink = self.upstream_sink()
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        bodies = [message(subject="pooled %d" % i) for i in range(8)]
        for b in bodies:
            self.assertQueued(self.transact(c, b).eod)
        self.assertEqual(len(sink.accepted()), 8)
        self.assertEqual(len(sink.conns), 1, "one upstream connection for "
                         "8 sequential messages: %s" % sink.describe())
        for t, b in zip(sink.accepted(), bodies):
            self.assertArrived(t, b)
        # RSET between the transactions on the reused connection.
        verbs = [v for v in sink.conns[0].verbs()
                 if v in ("MAIL", "RSET", "DATA", "BDAT")]
        for i, v in enumerate(verbs):
            if v == "MAIL" and i > 0:
                self.assertEqual(verbs[i - 1], "RSET", "no RSET before "
                                 "reusing the connection: %s" % verbs)
        # New client sessions, one after the other: still reused (at
        # most one connection per worker thread).
        for i in range(6):
            self.assertQueued(self.send_one(d).eod)
        self.assertEqual(len(sink.accepted()), 14)
        self.assertLessEqual(len(sink.conns), 2, sink.describe())

    def test_pool_size_bounds_idle_connections(self):
        # Three deliveries at once need three connections; afterwards at
        # most pool_size of them stay open (one worker thread).
        sink = self.upstream_sink(replies={"eod": Delay(1.0)})
        d = self.relay(sink, {"pool_size": 1}, top={"threads": 1})
        results = []

        def client(i):
            results.append(self.send_one(d, message(subject="p%d" % i)))
        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        self.assertEqual([r.acked for r in results], [True] * 3, results)
        self.assertEqual(len(sink.accepted()), 3)
        self.assertEqual(len(sink.conns), 3, sink.describe())
        time.sleep(0.3)
        still = [c for c in sink.conns if c.closed is None]
        self.assertLessEqual(len(still), 1, "idle connections kept beyond "
                             "pool_size = 1: %s" % sink.describe())

    def test_idle_connection_closed_after_pool_idle(self):
        sink = self.upstream_sink()
        d = self.relay(sink, {"pool_idle": Raw("1s")})
        self.assertQueued(self.send_one(d).eod)
        self.assertEqual(len(sink.conns), 1)
        time.sleep(2.5)
        self.assertIsNotNone(sink.conns[0].closed, "pooled connection "
                             "still open 2.5s after pool_idle = 1s")

    def test_connection_closed_by_upstream_is_not_reused(self):
        # The upstream times idle clients out (as Postfix does after
        # smtpd_timeout): the next message must not fail because of it.
        sink = self.upstream_sink(idle_timeout=0.3)
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        for i in range(3):
            body = message(subject="after idle %d" % i)
            res = self.transact(c, body)
            self.assertQueued(res.eod, "message %d" % i)
            self.assertArrived(sink.accepted()[-1], body)
            time.sleep(0.8)
        self.assertEqual(len(sink.conns), 3)

    def test_upstream_restarted_between_messages(self):
        sink = self.upstream_sink()
        d = self.relay(sink)
        self.assertQueued(self.send_one(d).eod)
        sink.close_connections()  # no 421, just gone (RST)
        time.sleep(0.2)
        body = message(subject="after the upstream restarted")
        self.assertQueued(self.send_one(d, body).eod)
        self.assertArrived(sink.accepted()[-1], body)


class UpstreamTlsTest(UpstreamTest):
    def tls_sink(self, **kw):
        return self.upstream_sink(tls_context=sink_server_context(), **kw)

    def check_delivered_over_tls(self, sink, d):
        body = message(subject="over tls")
        qid = self.assertQueued(self.send_one(d, body).eod)
        txn, = sink.accepted()
        self.assertIsNotNone(txn.tls, "message sent before STARTTLS")
        self.assertRegex(txn.tls, r"^TLSv1\.[23]$")
        self.assertArrived(txn, body, qid)

    def check_refused_no_mail(self, sink, d):
        res = self.send_one(d)
        r = res.refusal()
        self.assertIsNotNone(r, "accepted although TLS to the upstream "
                             "failed: %r" % res)
        self.assertEqual(r.code // 100, 4, r)
        self.assertNoneArrived(sink, complete=True)
        self.assertEqual([t for t in sink.txns], [],
                         "MAIL sent without the required TLS")

    def test_required_starttls(self):
        sink = self.tls_sink()
        d = self.relay(sink, {"tls": "required"})
        self.check_delivered_over_tls(sink, d)

    def test_required_not_offered(self):
        sink = self.upstream_sink()
        d = self.relay(sink, {"tls": "required"})
        self.check_refused_no_mail(sink, d)

    def test_verify_ok_by_name_and_by_ip(self):
        ca = TestCA.get()
        for name in ("mx.test.invalid", None):
            with self.subTest(tls_name=name):
                sink = self.tls_sink()
                d = self.relay(sink, {"tls": "verify", "tls_ca": ca.ca_cert,
                                      "tls_name": name})
                self.check_delivered_over_tls(sink, d)

    def test_verify_wrong_name(self):
        ca = TestCA.get()
        sink = self.tls_sink()
        d = self.relay(sink, {"tls": "verify", "tls_ca": ca.ca_cert,
                              "tls_name": "other.test.invalid"})
        self.check_refused_no_mail(sink, d)

    def test_verify_untrusted_ca(self):
        other = TestCA(make_dir("ca-other."))
        sink = self.tls_sink()
        d = self.relay(sink, {"tls": "verify", "tls_ca": other.ca_cert,
                              "tls_name": "mx.test.invalid"})
        self.check_refused_no_mail(sink, d)

    def test_opportunistic(self):
        with self.subTest(starttls="offered"):
            sink = self.tls_sink()
            d = self.relay(sink, {"tls": "opportunistic"})
            self.check_delivered_over_tls(sink, d)
        with self.subTest(starttls="not offered"):
            sink = self.upstream_sink()
            d = self.relay(sink, {"tls": "opportunistic"})
            body = message(subject="plain")
            self.assertQueued(self.send_one(d, body).eod)
            txn, = sink.accepted()
            self.assertIsNone(txn.tls)
            self.assertArrived(txn, body)

    def test_none_ignores_starttls(self):
        sink = self.tls_sink()
        d = self.relay(sink, {"tls": "none"})
        self.assertQueued(self.send_one(d).eod)
        txn, = sink.accepted()
        self.assertIsNone(txn.tls)
        self.assertNotIn("STARTTLS", sink.conns[0].verbs())

    def test_pooled_tls_connection_reused(self):
        sink = self.tls_sink()
        d = self.relay(sink, {"tls": "required"})
        c = self.raw(d)
        c.hello()
        for i in range(3):
            body = message(subject="tls pooled %d" % i)
            self.assertQueued(self.transact(c, body).eod)
            self.assertArrived(sink.accepted()[-1], body)
        self.assertEqual(len(sink.conns), 1, sink.describe())
        self.assertEqual({t.tls is not None for t in sink.accepted()},
                         {True})

    def test_starttls_refused_by_upstream(self):
        # 454 to STARTTLS: opportunistic goes on in plaintext (RFC 3207
        # 4: the client may then continue without TLS); required must
        # not send the message in plaintext.
        refuse = {"starttls": "454 4.7.0 sinkmark TLS not available"}
        with self.subTest(tls="opportunistic"):
            sink = self.tls_sink(replies=refuse)
            d = self.relay(sink, {"tls": "opportunistic"})
            body = message(subject="plain after 454")
            self.assertQueued(self.send_one(d, body).eod)
            txn, = sink.accepted()
            self.assertIsNone(txn.tls)
            self.assertArrived(txn, body)
        with self.subTest(tls="required"):
            sink = self.tls_sink(replies=refuse)
            d = self.relay(sink, {"tls": "required"})
            self.check_refused_no_mail(sink, d)

    def test_smtps_implicit_tls(self):
        ca = TestCA.get()
        sink = self.upstream_sink(tls_context=sink_server_context(),
                                  implicit_tls=True)
        self.assertTrue(sink.url.startswith("smtps://"))
        d = self.relay(sink, {"tls": "verify", "tls_ca": ca.ca_cert})
        self.check_delivered_over_tls(sink, d)


def split_head(data):
    """The value of the Received header on top (for parse_received)."""
    head = split_received(data)[0].decode("utf-8", "replace")
    return head.split(":", 1)[1]


def xdec(v):
    return None if v is None else xtext_decode(v)


def orcpt(params):
    v = params.get("ORCPT")
    if v is None:
        return None
    t, _, a = xdec(v).partition(";")
    return t.lower() + ";" + a


class RouteConfigTest(UpstreamTest):
    """posternd -t on route settings: bad ones are refused with
    FILE:LINE, good ones pass."""

    GOOD = [
        ("smtp://127.0.0.1:25", {}),
        ("smtps://[::1]:465", {"tls": "verify"}),
        ("lmtp://127.0.0.1:24", {"balance": "round-robin"}),
        ("lmtp:unix:/run/dovecot/lmtp", {}),
        (["smtp://127.0.0.1:2525", "smtp://[::1]:2526"],
         {"connect_timeout": Raw("2s"), "command_timeout": Raw("5min"),
          "data_timeout": Raw("10min"), "backoff": Raw("60s"),
          "pool_size": 8, "pool_idle": Raw("30s"),
          "verify_recipients": True, "verify_cache": Raw("10min"),
          "xclient": False, "tls": "opportunistic"}),
    ]
    BAD = [
        ("ftp://127.0.0.1:21", {}),
        ("smtp://[::1:25", {}),
        ("smtp://127.0.0.1:99999", {}),
        ("smtp://127.0.0.1:25/path", {}),
        ("lmtp:unix:", {}),
        ("smtp://127.0.0.1:25", {"tls": "sometimes"}),
        ("smtp://127.0.0.1:25", {"balance": "random-ish"}),
        ("smtp://127.0.0.1:25", {"connect_timeout": Raw("-1s")}),
        ("smtp://127.0.0.1:25", {"no_such_option": 1}),
    ]

    def check(self, upstream, opts):
        d = self.posternd(start=False, routes=[("default", upstream, opts)])
        r = subprocess.run([POSTERND, "-t", "-c", d.conf],
                           capture_output=True, timeout=20)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def test_good(self):
        for upstream, opts in self.GOOD:
            with self.subTest(upstream=upstream, opts=opts):
                rc, out = self.check(upstream, opts)
                self.assertEqual(rc, 0, out)

    def test_bad(self):
        for upstream, opts in self.BAD:
            with self.subTest(upstream=upstream, opts=opts):
                rc, out = self.check(upstream, opts)
                self.assertEqual(rc, 1, out)
                self.assertRegex(out, r"posternd: \S+posternd\.conf:\d+: ")
