"""What the client is told when the upstream fails (issue 3): replies
injected at every stage, failover between upstreams, back-off, upstreams
that never answer or drop the connection in the middle of the data.

The rule checked everywhere: the client gets 250 only for a message the
upstream accepted; an upstream 5xx is relayed with its code and enhanced
code, marked "HOST[IP]:PORT said:"; a 4xx as a 4xx; an upstream that is
unreachable, times out or drops the connection gives 451 4.4.1.
"""

import re
import signal
import socket
import threading
import time

from harness import (DROP, HANG, RESET, Delay, Raw, RawSMTP, UpstreamTest,
                     closed_port_url, message)

RCPTS = ("user@example.org", "second@example.org", "third@example.org")
FAST = {"connect_timeout": Raw("1s"), "command_timeout": Raw("1s"),
        "data_timeout": Raw("1s")}

# name, injected replies, expected (code, enhanced code) or a list of
# acceptable ones, whether the upstream's text is relayed (marked "said:").
# code "4" means any 4xx (posternd may relay the 4xx or say 451 4.4.1).
# The sink offers CHUNKING unless the name says "DATA", so posternd's
# DATA and BDAT paths both get their end-of-data failures.
NO_CHUNKING = {"without": ["CHUNKING"]}
STAGES = [
    # A 5xx greeting or EHLO+HELO refusal: the spec's "5xx relayed" or
    # "no upstream reachable" (451 4.4.1); either way with the text.
    ("greeting 554", {"connect": "554 5.3.2 sinkmark no service"},
     [(554, "5.3.2"), (451, "4.4.1")], True),
    ("greeting 421", {"connect": "421 4.3.2 sinkmark busy"}, ("4", None),
     False),
    ("EHLO 421", {"ehlo": "421 4.3.2 sinkmark closing"}, ("4", None),
     False),
    ("EHLO and HELO 554", {"ehlo": "554 5.7.1 sinkmark go away",
                           "helo": "554 5.7.1 sinkmark go away"},
     [(554, "5.7.1"), (451, "4.4.1")], True),
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
     (554, "5.5.1"), True, NO_CHUNKING),
    ("DATA 451", {"data": "451 4.3.0 sinkmark data later"}, (451, "4.3.0"),
     True, NO_CHUNKING),
    ("end of data 554", {"eod": "554 5.7.1 sinkmark spam"}, (554, "5.7.1"),
     True),
    ("end of data 452", {"eod": "452 4.3.1 sinkmark disk full"},
     (452, "4.3.1"), True),
    ("end of data 552", {"eod": "552 5.3.4 sinkmark too big"},
     (552, "5.3.4"), True),
    ("end of DATA 554", {"eod": "554 5.7.1 sinkmark spam"}, (554, "5.7.1"),
     True, NO_CHUNKING),
    ("end of DATA 452", {"eod": "452 4.3.1 sinkmark disk full"},
     (452, "4.3.1"), True, NO_CHUNKING),
    ("end of data 421", {"eod": "421 4.3.0 sinkmark going down"},
     ("4", None), False),
    ("end of data 550 multi-line",
     {"eod": "550-5.7.1 sinkmark first line\n550 5.7.1 sinkmark second"},
     (550, "5.7.1"), True),
    # Without ENHANCEDSTATUSCODES upstream: posternd, which offers them,
    # must still give one (of the same class).
    ("end of data 554, no enhanced code", {"eod": "554 sinkmark refused"},
     (554, None), True, {"without": ["ENHANCEDSTATUSCODES"]}),
    ("MAIL 451, no enhanced code", {"mail": "451 sinkmark later"},
     (451, None), True, {"without": ["ENHANCEDSTATUSCODES"]}),
    # A reply line longer than SMTP allows (512 octets) from upstream.
    ("end of data 554, 1500-octet text",
     {"eod": "554 5.7.1 sinkmark " + "x" * 1500}, (554, "5.7.1"), True),
    ("greeting that is no SMTP", {"connect": "hello sinkmark"},
     ("4", None), False),
]


class InjectedRepliesTest(UpstreamTest):
    def test_stage_table(self):
        for name, replies, want, marked, *kw in STAGES:
            with self.subTest(stage=name):
                sink = self.upstream_sink(replies=replies,
                                          **(kw[0] if kw else {}))
                d = self.relay(sink, FAST)
                c = self.raw(d)
                c.hello()
                body = message(subject=name)
                t0 = time.monotonic()
                res = self.transact(c, body, rcpts=RCPTS)
                r = res.refusal()
                self.assertIsNotNone(r, "%s: client got %r" % (name, res))
                if isinstance(want, list):
                    want = ([w for w in want if w[0] == r.code] or
                            want)[0]
                code, enh = want
                if isinstance(code, str):
                    self.assertEqual(str(r.code)[0], code, r)
                    self.assertTrue(r.enh and r.enh.startswith(code + "."),
                                    "enhanced code of %r" % r)
                else:
                    self.assertReply(r, code, enh, name)
                    if enh is None:
                        self.assertTrue(r.enh and r.enh.startswith(
                            str(code)[0] + "."), "enhanced code of %r" % r)
                if marked and (r.code, r.enh) == (451, "4.4.1"):
                    # "refused to talk to me: 554 ...": not a relayed
                    # reply, but the upstream's words must be there.
                    self.assertIn("sinkmark", r.text)
                elif marked:
                    self.assertMarked(r, sink, "sinkmark")
                self.assertLess(time.monotonic() - t0, 5.0)
                for ln in r.lines:  # RFC 5321 4.5.3.1.5
                    self.assertLessEqual(len(ln.encode()) + 6, 512,
                                         "reply line too long: %r" % r)
                # Refused before the data: the upstream transaction must
                # be abandoned, never completed with the data.
                complete = not name.lower().startswith("end of data")
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
    def check_451(self, sink, d, deadline, at_least=0.0, **kw):
        t0 = time.monotonic()
        res = self.send_one(d, message(body=("x" * 76 + "\r\n") * 4000), **kw)
        dt = time.monotonic() - t0
        r = res.refusal()
        self.assertIsNotNone(r, "client got %r" % res)
        self.assertReply(r, 451, "4.4.1")
        self.assertLess(dt, deadline, "451 came after %.1fs" % dt)
        self.assertGreaterEqual(dt, at_least, "451 after %.2fs: before "
                                "the upstream's timeout" % dt)
        self.assertNoneArrived(sink)
        d.wait_log(r"postern/relay\[\d+\]: [0-9A-F]{12}: "
                   r"to=<user@example\.org>, .*status=deferred")
        return res

    def test_never_greets(self):
        sink = self.upstream_sink(replies={"connect": HANG})
        d = self.relay(sink, FAST)
        self.check_451(sink, d, 6.0, at_least=0.9)

    def test_hangs_after_ehlo(self):
        sink = self.upstream_sink(replies={"ehlo": HANG})
        d = self.relay(sink, FAST)
        self.check_451(sink, d, 6.0, at_least=0.9)

    def test_hangs_at_rcpt(self):
        sink = self.upstream_sink(replies={"rcpt": HANG})
        d = self.relay(sink, FAST)
        self.check_451(sink, d, 6.0, at_least=0.9)

    def test_hangs_after_end_of_data(self):
        sink = self.upstream_sink(replies={"eod": HANG})
        d = self.relay(sink, FAST)
        self.check_451(sink, d, 6.0, at_least=0.9)
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
    def check_second(self, first, good, d, deadline=3.0, at_least=0.0):
        body = message(subject="failover")
        t0 = time.monotonic()
        res = self.send_one(d, body)
        dt = time.monotonic() - t0
        qid = self.assertQueued(res.eod)
        txn, = good.accepted()
        self.assertArrived(txn, body, qid)
        self.assertLess(dt, deadline, "failover took %.1fs" % dt)
        # A timeout failover waits for the (1 s) timeout first.
        self.assertGreaterEqual(dt, at_least, "the first upstream was not "
                                "tried: failover took %.2fs" % dt)
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
        self.check_second(bad, good, d, deadline=5.0, at_least=0.9)
        self.assertEqual(len(bad.conns), 1)

    def test_connect_timeout(self):
        hole = self.blackhole()
        if not hole.works:
            self.skipTest("could not make a port where connects hang")
        good = self.upstream_sink()
        d = self.relay([hole.url, good], FAST)
        self.check_second(None, good, d, deadline=5.0, at_least=0.9)

    def test_second_upstream_on_ipv6(self):
        good = self.upstream_sink(host="::1")
        self.assertTrue(good.url.startswith("smtp://[::1]:"))
        d = self.relay([closed_port_url(), good], FAST)
        self.check_second(None, good, d)

    def test_host_name(self):
        # A name, resolved at start.  Where "localhost" is 127.0.0.1 and
        # ::1, nothing listens on one of them: that address must be
        # skipped like a dead upstream.
        addrs = {ai[4][0] for ai in socket.getaddrinfo(
            "localhost", 25, type=socket.SOCK_STREAM)}
        for host in ("127.0.0.1", "::1"):
            if host not in addrs:
                continue
            with self.subTest(sink_on=host):
                good = self.upstream_sink(host=host)
                d = self.relay("smtp://localhost:%d" % good.port, FAST)
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
        d = self.relay([bad, good], dict(FAST, backoff=Raw("4s")),
                       top={"threads": 1})
        for i in range(4):
            self.assertQueued(self.send_one(d).eod, "message %d" % i)
            time.sleep(0.4)
        self.assertEqual(len(good.accepted()), 4)
        self.assertEqual(len(bad.conns), 1, "the failed upstream was "
                         "tried again within the back-off period")
        # After the back-off the first upstream is tried again.
        wait = 4.2 - (time.monotonic() - bad.conns[0].opened)
        if wait > 0:
            time.sleep(wait)
        self.assertQueued(self.send_one(d).eod)
        self.assertEqual(len(bad.conns), 2, "the failed upstream was not "
                         "tried again after the back-off period")
        self.assertEqual(len(good.accepted()), 5)


class TruthUnderLoadTest(UpstreamTest):
    """Parallel clients, an upstream that fails some transactions in
    every way: each client's 250 matches exactly what arrived."""

    KINDS = ("ok", "tempfail", "ok", "reject", "drop", "ok", "badrcpt",
             "ok")

    def test_parallel_clients_with_failures(self):
        sink = self.upstream_sink(replies={
            "eod": [("^tempfail", "451 4.3.0 sinkmark later"),
                    ("^reject", "554 5.7.1 sinkmark no"),
                    ("^drop", DROP)],
            "rcpt": [("^bad@", "550 5.1.1 sinkmark unknown")],
        })
        d = self.relay(sink, dict(FAST, pool_size=2),
                       smtp={"max_connections_per_ip": 100})
        results, errors = [], []

        def client(i):
            try:
                c = RawSMTP("127.0.0.1", d.port)
                c.hello("client%d.test" % i)
                for j, kind in enumerate(self.KINDS):
                    mid = "<load-%d-%d@client.test>" % (i, j)
                    body = message(subject="%s %d %d" % (kind, i, j),
                                   extra_headers="X-Kind: %s\r\n" % kind)
                    body = re.sub(rb"(?m)^Message-ID: .*\r\n",
                                  b"Message-ID: " + mid.encode() + b"\r\n",
                                  body)
                    rcpts = ["u%d@example.org" % i]
                    if kind == "badrcpt":
                        rcpts.append("bad@example.org")
                    res = self.transact(c, body, rcpts=rcpts,
                                        sender="%s@example.net" % kind)
                    results.append((mid, kind, res))
                c.cmd("QUIT")
                c.close()
            except Exception as e:  # reported by the main thread
                errors.append("client %d: %r" % (i, e))

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 10 * len(self.KINDS))
        self.assertToldTruth([(m, r) for m, _, r in results], sink)
        for mid, kind, res in results:
            if kind == "ok":
                self.assertTrue(res.acked, "%s: %r" % (mid, res))
            else:
                self.assertFalse(res.acked, "%s (%s): %r" % (mid, kind,
                                                             res))
        self.assertEqual(len(sink.accepted()),
                         10 * self.KINDS.count("ok"))


class ClientAndDaemonEventsTest(UpstreamTest):
    """The client vanishes, or posternd is told to stop, while the
    upstream still works on the message."""

    def test_client_gone_while_upstream_works(self):
        sink = self.upstream_sink(replies={"eod": Delay(1.0)})
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(message(subject="client leaves") + b".\r\n")
        c.close()
        time.sleep(1.5)
        # posternd is still well (the health check at the end of the
        # test also looks for crashes and sanitizer reports) and serves
        # the next client.
        body = message(subject="next client")
        qid = self.assertQueued(self.send_one(d, body).eod)
        self.assertArrived(sink.accepted()[-1], body, qid)

    def test_sigterm_lets_the_relayed_message_finish(self):
        sink = self.upstream_sink(replies={"eod": Delay(1.0)})
        d = self.relay(sink)
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertReply(c.cmd("DATA"), 354)
        body = message(subject="in flight at SIGTERM")
        c.send(body + b".\r\n")
        time.sleep(0.3)
        d.signal(signal.SIGTERM)
        qid = self.assertQueued(c.reply(), "the message in flight when "
                                "SIGTERM came")
        self.assertArrived(sink.accepted()[-1], body, qid)
        self.assertEqual(d.wait_exit(10), 0)

    def test_xclient_refused_by_upstream(self):
        # Not the message's fault: never a 5xx for it, and nothing told
        # 250 that did not arrive.
        sink = self.upstream_sink(xclient=True, replies={
            "xclient": "550 5.7.0 sinkmark not authorized"})
        d = self.relay(sink, dict(FAST, xclient=True))
        body = message(subject="xclient refused")
        res = self.send_one(d, body)
        if res.acked:
            self.assertArrived(sink.accepted()[-1], body, res.qid)
        else:
            self.assertEqual(res.refusal().code // 100, 4, res)
            self.assertNoneArrived(sink)
