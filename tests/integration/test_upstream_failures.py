"""What the client is told when the upstream fails (issue 3): replies
injected at every stage, failover between upstreams, back-off, upstreams
that never answer or drop the connection in the middle of the data.

The rule checked everywhere: the client gets 250 only for a message the
upstream accepted; an upstream 5xx is relayed with its code and enhanced
code, marked "HOST[IP]:PORT said:"; a 4xx as a 4xx; an upstream that is
unreachable, times out or drops the connection gives 451 4.4.1.
"""

import time

from harness import (DROP, HANG, RESET, Raw, UpstreamTest, closed_port_url,
                     message)

RCPTS = ("user@example.org", "second@example.org", "third@example.org")
FAST = {"connect_timeout": Raw("1s"), "command_timeout": Raw("1s"),
        "data_timeout": Raw("1s")}

# name, injected replies, expected (code, enhanced code), relayed upstream
# text (the "said:" marking is checked), delivered to nobody.
# code "4" means any 4xx (posternd may relay the 4xx or say 451 4.4.1).
STAGES = [
    ("greeting 554", {"connect": "554 5.3.2 sinkmark no service"},
     (554, "5.3.2"), True),
    ("greeting 421", {"connect": "421 4.3.2 sinkmark busy"}, ("4", None),
     False),
    ("EHLO 421", {"ehlo": "421 4.3.2 sinkmark closing"}, ("4", None),
     False),
    ("EHLO and HELO 554", {"ehlo": "554 5.7.1 sinkmark go away",
                           "helo": "554 5.7.1 sinkmark go away"},
     (554, "5.7.1"), True),
    ("MAIL 451", {"mail": "451 4.3.0 sinkmark try later"}, (451, "4.3.0"),
     True),
    ("MAIL 553", {"mail": "553 5.1.8 sinkmark bad sender"}, (553, "5.1.8"),
     True),
    ("MAIL 421", {"mail": "421 4.3.2 sinkmark shutting down"}, ("4", None),
     False),
    ("RCPT one of three 550",
     {"rcpt": [("^second@", "550 5.1.1 sinkmark no such user")]},
     (450, None), False),
    ("RCPT one of three 450",
     {"rcpt": [("^third@", "450 4.2.1 sinkmark mailbox busy")]},
     (450, None), False),
    ("RCPT all 550", {"rcpt": [(".", "550 5.1.1 sinkmark no such user")]},
     (550, "5.1.1"), True),
    ("RCPT all 450", {"rcpt": [(".", "450 4.2.1 sinkmark mailbox busy")]},
     ("4", None), False),
    ("RCPT all refused, 550 and 450",
     {"rcpt": [("^user@", "450 4.2.1 sinkmark busy"),
               (".", "550 5.1.1 sinkmark no such user")]},
     (450, None), False),
    ("DATA 554", {"data": "554 5.5.1 sinkmark no data for you"},
     (554, "5.5.1"), True),
    ("DATA 451", {"data": "451 4.3.0 sinkmark data later"}, (451, "4.3.0"),
     True),
    ("end of data 554", {"eod": "554 5.7.1 sinkmark spam"}, (554, "5.7.1"),
     True),
    ("end of data 452", {"eod": "452 4.3.1 sinkmark disk full"},
     (452, "4.3.1"), True),
    ("end of data 552", {"eod": "552 5.3.4 sinkmark too big"},
     (552, "5.3.4"), True),
]


class InjectedRepliesTest(UpstreamTest):
    def test_stage_table(self):
        for name, replies, (code, enh), marked in STAGES:
            with self.subTest(stage=name):
                sink = self.upstream_sink(replies=replies)
                d = self.relay(sink, FAST)
                c = self.raw(d)
                c.hello()
                body = message(subject=name)
                t0 = time.monotonic()
                res = self.transact(c, body, rcpts=RCPTS)
                r = res.refusal()
                self.assertIsNotNone(r, "%s: client got %r" % (name, res))
                if isinstance(code, str):
                    self.assertEqual(str(r.code)[0], code, r)
                    self.assertTrue(r.enh and r.enh.startswith(code + "."),
                                    "enhanced code of %r" % r)
                else:
                    self.assertReply(r, code, enh, name)
                    if enh is None:
                        self.assertTrue(r.enh and r.enh.startswith(
                            str(code)[0] + "."), "enhanced code of %r" % r)
                if marked:
                    self.assertMarked(r, sink, "sinkmark")
                self.assertLess(time.monotonic() - t0, 5.0)
                # Refused before the data: the upstream transaction must
                # be abandoned, never completed with the data.
                complete = not name.startswith("end of data")
                self.assertNoneArrived(sink, complete=complete)
                # The session is still usable.
                self.assertReply(c.cmd("RSET"), 250)
                self.assertReply(c.cmd("NOOP"), 250)
                status = "bounced" if str(r.code)[0] == "5" else "deferred"
                if status == "bounced" or code != 450:
                    d.wait_log(r"postern/relay\[\d+\]: [0-9A-F]{12}: "
                               r"to=<user@example\.org>, relay=.*"
                               r"status=%s \(" % status)
                d.stop()
                sink.stop()

    def test_partial_recipients_abandoned_with_pipelining(self):
        # With PIPELINING a client may send RCPT, RCPT, DATA in one go;
        # the upstream then answers 354 when any RCPT passed.  A refused
        # recipient must still leave nothing delivered to the others.
        for pipelining in (True, False):
            with self.subTest(pipelining=pipelining):
                sink = self.upstream_sink(
                    without=[] if pipelining else ["PIPELINING"],
                    replies={"rcpt": [("^third@", "550 5.1.1 sinkmark "
                                       "no such user")]})
                d = self.relay(sink)
                c = self.raw(d)
                c.hello()
                res = self.transact(c, message(), rcpts=RCPTS)
                self.assertReply(res.refusal(), 450)
                self.assertNoneArrived(sink, complete=True)
                # The client retries without the refused recipient: one
                # copy for each of the others, the retry duplicates nothing.
                res = self.transact(c, message(), rcpts=RCPTS[:2])
                self.assertQueued(res.eod)
                acc = sink.accepted()
                self.assertEqual([t.delivered for t in acc],
                                 [list(RCPTS[:2])])

    def test_refused_then_next_message_delivered(self):
        # An upstream that failed one transaction (and closed) does not
        # spoil the next.
        sink = self.upstream_sink(replies={
            "eod": lambda conn, arg: DROP if conn.id == 1 else None,
        })
        d = self.relay(sink, FAST)
        c = self.raw(d)
        c.hello()
        res = self.transact(c, message(subject="dropped"))
        self.assertReply(res.refusal(), 451, "4.4.1")
        body = message(subject="next one")
        qid = self.assertQueued(self.transact(c, body).eod)
        self.assertArrived(sink.accepted()[-1], body, qid)


class UnresponsiveUpstreamTest(UpstreamTest):
    def check_451(self, sink, d, deadline, **kw):
        t0 = time.monotonic()
        res = self.send_one(d, message(body="x" * 300000 + "\r\n"), **kw)
        dt = time.monotonic() - t0
        r = res.refusal()
        self.assertIsNotNone(r, "client got %r" % res)
        self.assertReply(r, 451, "4.4.1")
        self.assertLess(dt, deadline, "451 came after %.1fs" % dt)
        self.assertNoneArrived(sink)
        d.wait_log(r"postern/relay\[\d+\]: [0-9A-F]{12}: "
                   r"to=<user@example\.org>, .*status=deferred")
        return res

    def test_never_greets(self):
        sink = self.upstream_sink(replies={"connect": HANG})
        d = self.relay(sink, FAST)
        self.check_451(sink, d, 6.0)

    def test_hangs_after_ehlo(self):
        sink = self.upstream_sink(replies={"ehlo": HANG})
        d = self.relay(sink, FAST)
        self.check_451(sink, d, 6.0)

    def test_hangs_at_rcpt(self):
        sink = self.upstream_sink(replies={"rcpt": HANG})
        d = self.relay(sink, FAST)
        self.check_451(sink, d, 6.0)

    def test_hangs_after_end_of_data(self):
        sink = self.upstream_sink(replies={"eod": HANG})
        d = self.relay(sink, FAST)
        self.check_451(sink, d, 6.0)
        # The data did arrive, but the upstream never said 250: the
        # client was told 451 (a duplicate on retry is allowed by RFC
        # 5321 6.1; a lost message is not).
        self.assertEqual(len(sink.completed()), 1)

    def test_drops_in_the_middle_of_data(self):
        for reset in (False, True):
            with self.subTest(rst=reset):
                sink = self.upstream_sink(drop_in_data=20000,
                                          drop_reset=reset)
                d = self.relay(sink, FAST)
                self.check_451(sink, d, 6.0)
                self.assertEqual(sink.completed(), [], "no complete "
                                 "message at the upstream")
                self.assertTrue(sink.conns[0].dropped)
                d.stop()

    def test_drops_at_end_of_data(self):
        for how in (DROP, RESET):
            with self.subTest(how=how):
                sink = self.upstream_sink(replies={"eod": how})
                d = self.relay(sink, FAST)
                self.check_451(sink, d, 6.0)
                d.stop()

    def test_drops_at_mail(self):
        sink = self.upstream_sink(replies={"mail": DROP})
        d = self.relay(sink, FAST)
        self.check_451(sink, d, 6.0)
        self.assertEqual(sink.completed(), [])

    def test_nothing_listening(self):
        d = self.relay(closed_port_url(), FAST)
        t0 = time.monotonic()
        res = self.send_one(d)
        self.assertReply(res.refusal(), 451, "4.4.1")
        self.assertLess(time.monotonic() - t0, 3.0)
        d.wait_log(r"to=<user@example\.org>, .*status=deferred")


class FailoverTest(UpstreamTest):
    def check_second(self, first, good, d, deadline=3.0):
        body = message(subject="failover")
        t0 = time.monotonic()
        res = self.send_one(d, body)
        dt = time.monotonic() - t0
        qid = self.assertQueued(res.eod)
        txn, = good.accepted()
        self.assertArrived(txn, body, qid)
        self.assertLess(dt, deadline, "failover took %.1fs" % dt)
        if first is not None:
            self.assertNoneArrived(first, complete=True)
            self.assertEqual(first.txns, [], "MAIL sent to the failed "
                             "upstream")
        return qid

    def test_connection_refused(self):
        good = self.upstream_sink()
        d = self.relay([closed_port_url(), good], FAST)
        self.check_second(None, good, d)

    def test_greeting_4xx(self):
        bad = self.upstream_sink(replies={"connect": "421 4.3.2 busy"})
        good = self.upstream_sink()
        d = self.relay([bad, good], FAST)
        self.check_second(bad, good, d)
        self.assertEqual(len(bad.conns), 1)

    def test_ehlo_4xx(self):
        bad = self.upstream_sink(replies={"ehlo": "451 4.3.0 not now"})
        good = self.upstream_sink()
        d = self.relay([bad, good], FAST)
        self.check_second(bad, good, d)

    def test_greeting_timeout(self):
        bad = self.upstream_sink(replies={"connect": HANG})
        good = self.upstream_sink()
        d = self.relay([bad, good], FAST)
        self.check_second(bad, good, d, deadline=5.0)

    def test_connect_timeout(self):
        hole = self.blackhole()
        if not hole.works:
            self.skipTest("could not make a port where connects hang")
        good = self.upstream_sink()
        d = self.relay([hole.url, good], FAST)
        self.check_second(None, good, d, deadline=5.0)

    def test_second_upstream_on_ipv6(self):
        good = self.upstream_sink(host="::1")
        self.assertTrue(good.url.startswith("smtp://[::1]:"))
        d = self.relay([closed_port_url(), good], FAST)
        self.check_second(None, good, d)

    def test_no_failover_after_a_5xx_verdict(self):
        # A refusal of the message is the delivery system's answer, not
        # an outage: the next upstream must not be asked.
        bad = self.upstream_sink(replies={"mail": "550 5.7.1 sinkmark no"})
        other = self.upstream_sink()
        d = self.relay([bad, other], FAST)
        res = self.send_one(d)
        self.assertReply(res.refusal(), 550, "5.7.1")
        self.assertMarked(res.refusal(), bad, "sinkmark")
        self.assertNoneArrived(other)

    def test_all_upstreams_down(self):
        bad = self.upstream_sink(replies={"connect": "421 4.3.2 busy"})
        d = self.relay([closed_port_url(), bad, closed_port_url()], FAST)
        res = self.send_one(d)
        self.assertReply(res.refusal(), 451, "4.4.1")
        self.assertNoneArrived(bad)

    def test_round_robin(self):
        a = self.upstream_sink()
        b = self.upstream_sink()
        d = self.relay([a, b], dict(FAST, balance="round-robin"))
        for i in range(8):
            self.assertQueued(self.send_one(d).eod)
        self.assertEqual(len(a.accepted()) + len(b.accepted()), 8)
        self.assertGreaterEqual(len(a.accepted()), 1, "round-robin never "
                                "used the first upstream")
        self.assertGreaterEqual(len(b.accepted()), 1, "round-robin never "
                                "used the second upstream")

    def test_backoff(self):
        # One worker thread, so "skipped for the back-off period" means
        # exactly one attempt at the failed upstream.  The good upstream
        # times idle connections out quickly, so each message needs a
        # new connection and the route is walked again every time.
        bad = self.upstream_sink(replies={"connect": "421 4.3.2 busy"})
        good = self.upstream_sink(idle_timeout=0.2)
        d = self.relay([bad, good], dict(FAST, backoff=Raw("3s")),
                       top={"threads": 1})
        for i in range(4):
            self.assertQueued(self.send_one(d).eod, "message %d" % i)
            time.sleep(0.4)
        self.assertEqual(len(good.accepted()), 4)
        self.assertEqual(len(bad.conns), 1, "the failed upstream was "
                         "tried again within the back-off period")
        # After the back-off the first upstream is tried again.
        wait = 3.2 - (time.monotonic() - bad.conns[0].opened)
        if wait > 0:
            time.sleep(wait)
        self.assertQueued(self.send_one(d).eod)
        self.assertEqual(len(bad.conns), 2, "the failed upstream was not "
                         "tried again after the back-off period")
        self.assertEqual(len(good.accepted()), 5)
