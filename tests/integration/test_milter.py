"""postern-milter (issue 9): the filter chain and the rules inside a
private Postfix, compared with posternd running the same configuration.

Chains:
  client -> posternd ---------------------------------> sink A
  client -> Postfix (smtpd_milters = postern-milter) -> sink B

A table of rule and filter cases (refusals by client, HELO, sender,
recipient, header and body; headers added, changed and removed;
Authentication-Results; quarantine, discard, tempfail; recipients added
and removed) runs through both, and what a user sees must agree: the
refusal's code, enhanced code and text, whether and to whom the message
was delivered, the header fields the filters touched.  Then: the
miltertest scripts in tests/integration/milter/ (stages without an
MTA), DKIM signing at the end of the message checked by a verifying
posternd, and robustness - Postfix aborting transactions (RSET, a
dropped client), malformed milter packets from a raw socket - after
which the milter must still serve.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import time
import unittest

from harness import (ARTIFACTS, POSTERND, RawSMTP, Raw, UpstreamTest,
                     _track, free_port, have_program, is_listening, make_dir,
                     message, program, sub_dir, wait_until)
from test_dkim import DOMAIN, DkimTest, dkim_entries
from test_filters import build_filter, filter_block, headers_of

HERE = os.path.dirname(os.path.abspath(__file__))
MILTER = os.path.join(os.path.dirname(os.path.abspath(POSTERND)),
                      "postern-milter")
AUTHSERV = "mx.test.invalid"

RULES = r'''
rule blocked_client {
    when client.ip in { 127.0.0.2 }
    reject 554 5.7.1 "Your network is blocked"
}
rule bad_helo {
    when helo is "evil.test"
    reject 550 5.7.1 "Bad HELO {helo}"
}
rule bad_sender {
    when envelope.from.local is "blocked"
    reject 553 5.7.1 "Sender refused"
}
rule nobody_here {
    when envelope.rcpt.local is "nobody"
    reject 550 5.1.1 "No such user <{envelope.rcpt}>"
}
rule bad_header {
    when header "X-Mailer" contains "SpamBot"
    reject 550 5.7.1 "Bulk mailer refused"
}
rule casino {
    when body contains "casino"
    reject 554 5.7.1 "Body refused"
}
rule shouting {
    when subject matches /free money/i
    add-header "X-Spam-Flag" "YES"
}
rule secret {
    when subject contains "strip"
    remove-header "X-Secret"
}
rule later {
    when subject contains "tempfail me"
    tempfail 451 4.7.1 "Try again later please"
}
rule drop {
    when subject contains "discard me"
    discard
}
rule hold {
    when subject contains "hold me"
    quarantine "spam"
}
rule tls {
    when client.tls and subject contains "tls check"
    add-header "X-TLS" "yes"
}
rule login {
    when client.login is "alice"
    add-header "X-Login" "{client.login}"
}
'''


def postern_extra(rules_path, scripted):
    """The filter configuration both daemons share."""
    return (filter_block("scripted", scripted) + "\n"
            'filters { authserv_id = "%s"; }\n'
            'rules = [ "%s" ];\n' % (AUTHSERV, rules_path))


class Milter:
    """postern-milter under test: DIR/milter.conf, DIR/milter.log."""

    def __init__(self, extra, socket_spec=None):
        self.dir = make_dir("milter.")
        self.port = free_port()
        self.socket = socket_spec or "inet:%d@127.0.0.1" % self.port
        self.conf = os.path.join(self.dir, "milter.conf")
        self.logfile = os.path.join(self.dir, "milter.log")
        spool = sub_dir(self.dir, "spool", owner="nobody", mode=0o700)
        # a file for the milter alone: no listen address, no route
        with open(self.conf, "w") as f:
            f.write('hostname = "%s";\nuser = "nobody";\n'
                    'spool_dir = "%s";\n'
                    'smtp { trusted_networks = [ "127.0.0.0/8" ]; }\n'
                    '%s\nmilter { socket = "%s"; timeout = 60s; }\n'
                    % (AUTHSERV, spool, extra, self.socket))
        self.proc = None
        ARTIFACTS.append(("postern-milter log", self.logfile))

    def start(self):
        self.log_fh = open(self.logfile, "ab")
        self.proc = _track(subprocess.Popen(
            [MILTER, "-f", "-c", self.conf], stdin=subprocess.DEVNULL,
            stdout=self.log_fh, stderr=self.log_fh, cwd=self.dir))

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("postern-milter exited (%s):\n%s" % (
                    self.proc.returncode, self.log()))
            return self.socket.startswith("unix:") and \
                os.path.exists(self.socket[5:]) or is_listening(self.port)
        wait_until(ready, 10, what="postern-milter to listen")
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(12)  # libmilter takes its time
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self.log_fh.close()

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def check_health(self):
        log = self.log()
        for bad in ("ERROR: AddressSanitizer", "runtime error:",
                    "LeakSanitizer"):
            if bad in log:
                raise AssertionError("sanitizer report in postern-milter "
                                     "log:\n" + log[-4000:])


class Case:
    def __init__(self, name, want, subject="test", helo="client.test",
                 sender="sender@example.net", rcpts=("user@example.org",),
                 headers="", body="Hello.\r\n", source=None,
                 present=(), absent=(), delivered_to=None):
        self.name = name
        self.want = want  # "deliver", "discard", "hold", or (code, enh)
        self.subject = subject
        self.helo = helo
        self.sender = sender
        self.rcpts = rcpts
        self.headers = headers
        self.body = body
        self.source = source
        self.present = present   # (name, value) that must leave
        self.absent = absent     # names that must not
        self.delivered_to = delivered_to


CASES = [
    Case("plain message passes", "deliver"),
    Case("client refused", (554, "5.7.1"), source="127.0.0.2"),
    Case("helo refused", (550, "5.7.1"), helo="evil.test"),
    Case("sender refused", (553, "5.7.1"), sender="blocked@example.net"),
    Case("recipient refused", (550, "5.1.1"),
         rcpts=("nobody@example.org",)),
    Case("one recipient of two refused", "deliver",
         rcpts=("nobody@example.org", "user@example.org"),
         delivered_to=["user@example.org"]),
    Case("header refused", (550, "5.7.1"),
         headers="X-Mailer: SpamBot 2.0\r\n"),
    Case("body refused", (554, "5.7.1"),
         body="Visit our casino today.\r\n"),
    Case("rule adds a header", "deliver", subject="FREE money",
         present=[("X-Spam-Flag", "YES")]),
    Case("rule removes a header", "deliver", subject="strip it",
         headers="X-Secret: 42\r\n", absent=["X-Secret"]),
    Case("filter adds, inserts, changes, deletes headers", "deliver",
         headers="X-Test-Add-Header: X-Added: one\r\n"
                 "X-Test-Insert-Header: X-Inserted: two\r\n"
                 "X-Test-Change-Header: X-Old: new value\r\n"
                 "X-Test-Delete-Header: X-Gone\r\n"
                 "X-Old: old value\r\nX-Gone: bye\r\n",
         present=[("X-Added", "one"), ("X-Inserted", "two"),
                  ("X-Old", "new value")],
         absent=["X-Gone"]),
    Case("Authentication-Results written, forged one removed", "deliver",
         headers="X-Test-Auth-Result: spf pass smtp.mailfrom=example.net"
                 "\r\nAuthentication-Results: %s; dkim=pass\r\n" % AUTHSERV,
         present=[("Authentication-Results",
                   "%s; spf=pass smtp.mailfrom=example.net" % AUTHSERV)]),
    Case("filter reply multi-word", (550, "5.7.0"),
         headers="X-Test-Verdict: reject\r\n"
                 "X-Test-Reply: 550 5.7.0 Refused by the scripted filter, "
                 "100% sure\r\n"),
    Case("tempfail", (451, "4.7.1"), subject="please tempfail me"),
    Case("discard", "discard", subject="discard me"),
    Case("quarantine", "hold", subject="hold me"),
    Case("recipient added and removed", "deliver",
         rcpts=("user@example.org", "gone@example.org"),
         headers="X-Test-Add-Rcpt: added@example.org\r\n"
                 "X-Test-Delete-Rcpt: gone@example.org\r\n",
         delivered_to=["added@example.org", "user@example.org"]),
]


def run_case(port, case):
    """One session to port as the case says: ("refused", code, enh, text)
    or ("accepted", None, None, None)."""
    c = RawSMTP("127.0.0.1", port, source=case.source)
    try:
        r = c.greeting()
        if r.code != 220:
            return ("refused", r.code, r.enh, r.text)
        r = c.cmd("EHLO " + case.helo)
        if r.code != 250:
            return ("refused", r.code, r.enh, r.text)
        r = c.cmd("MAIL FROM:<%s>" % case.sender)
        if r.code != 250:
            return ("refused", r.code, r.enh, r.text)
        ok = 0
        first_bad = None
        for rc in case.rcpts:
            r = c.cmd("RCPT TO:<%s>" % rc)
            if r.code == 250:
                ok += 1
            elif first_bad is None:
                first_bad = r
        if ok == 0:
            return ("refused", first_bad.code, first_bad.enh, first_bad.text)
        r = c.cmd("DATA")
        if r.code != 354:
            return ("refused", r.code, r.enh, r.text)
        body = message(subject=case.subject, body=case.body,
                       extra_headers=case.headers)
        c.send(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        r = c.reply()
        c.cmd("QUIT")
        if r.code != 250:
            return ("refused", r.code, r.enh, r.text)
        return ("accepted", None, None, None)
    finally:
        c.close()


def reply_text(text, enh):
    """The text a user reads, without the enhanced code."""
    t = " ".join(text.split("\n"))
    if enh and t.startswith(enh):
        t = t[len(enh):].strip()
    return t


class MilterTest(UpstreamTest):
    @classmethod
    def setUpClass(cls):
        for p in ("postfix", "miltertest"):
            if not have_program(p):
                raise unittest.SkipTest("%s is not installed" % p)
        if not os.access(MILTER, os.X_OK):
            raise unittest.SkipTest("%s not built" % MILTER)

    def milter(self, extra):
        m = Milter(extra)
        self.addCleanup(self._finish_milter, m)
        return m.start()

    def _finish_milter(self, m):
        m.stop()
        m.check_health()

    def shared_extra(self):
        rdir = make_dir("rules.")
        path = os.path.join(rdir, "site.rules")
        with open(path, "w") as f:
            f.write(RULES)
        return postern_extra(path, build_filter("scripted"))

    def postfix_with(self, milter, relay_port, **extra):
        main = {"smtpd_milters": "inet:127.0.0.1:%d" % milter.port,
                "non_smtpd_milters": "$smtpd_milters",
                "milter_default_action": "tempfail",
                "milter_protocol": "6",
                "mynetworks": "127.0.0.0/8"}
        main.update(extra)
        return self.postfix(relay_port, main_extra=main)

    def hold_queue(self, pf):
        r = subprocess.run([program("postqueue"), "-c", pf.confdir, "-j"],
                           capture_output=True, timeout=30)
        out = []
        for line in r.stdout.decode().splitlines():
            if line.strip():
                out.append(json.loads(line))
        return [q for q in out if q.get("queue_name") == "hold"]

    # ------------------------------------------------------------ the table

    def test_same_verdicts_as_posternd(self):
        extra = self.shared_extra()
        sink_d = self.upstream_sink()
        d = self.relay(sink_d, extra=extra,
                       smtp={"relay_domains": ["example.org"]})
        m = self.milter(extra)
        sink_p = self.upstream_sink()
        pf = self.postfix_with(m, sink_p.port)
        for case in CASES:
            with self.subTest(case=case.name):
                nd, np_ = len(sink_d.txns), len(sink_p.txns)
                got_d = run_case(d.port, case)
                got_p = run_case(pf.smtpd_port, case)
                self.check_case(case, got_d, got_p, d, pf, sink_d, sink_p,
                                nd, np_)

    def check_case(self, case, got_d, got_p, d, pf, sink_d, sink_p, nd,
                   np_):
        if isinstance(case.want, tuple):
            code, enh = case.want
            for who, got in (("posternd", got_d), ("postfix+milter", got_p)):
                self.assertEqual(got[0], "refused", "%s: %r" % (who, got))
                self.assertEqual(got[1], code, "%s: %r" % (who, got))
                if who == "posternd" or case.source is None:
                    self.assertEqual(got[2], enh, "%s: %r" % (who, got))
            # the same words reach the client (Postfix says its own
            # "not accepting connections" for a refusal at connect)
            if case.source is None:
                self.assertEqual(reply_text(got_p[3], enh),
                                 reply_text(got_d[3], enh))
            time.sleep(0.3)
            self.assertEqual(len(sink_d.txns), nd)
            self.assertEqual(len(sink_p.txns), np_)
            return
        self.assertEqual(got_d[0], "accepted", got_d)
        self.assertEqual(got_p[0], "accepted", got_p)
        if case.want == "discard":
            time.sleep(1.0)
            self.assertEqual(len(sink_d.txns), nd, "posternd delivered")
            self.assertEqual(len(sink_p.txns), np_, "postfix delivered")
            self.assertTrue(pf.wait_log(r"milter-discard"))
            return
        if case.want == "hold":
            time.sleep(1.0)
            self.assertEqual(len(sink_d.txns), nd)
            self.assertEqual(len(sink_p.txns), np_)
            wait_until(lambda: d.log_matches(r"quarantine"), 10,
                       what="posternd quarantine")
            pf.wait_log(r"milter triggers HOLD action")
            held = self.hold_queue(pf)
            self.assertEqual(len(held), 1, held)
            subprocess.run([program("postsuper"), "-c", pf.confdir, "-d",
                            "ALL", "hold"], capture_output=True, timeout=30)
            return
        td = sink_d.wait_accepted(nd + 1, 30)[nd]
        tp = sink_p.wait_accepted(np_ + 1, 30)[np_]
        want_rcpts = sorted(case.delivered_to or case.rcpts)
        self.assertEqual(sorted(td.delivered), want_rcpts)
        self.assertEqual(sorted(tp.delivered), want_rcpts)
        hd, hp = headers_of(td.data), headers_of(tp.data)
        for name, value in case.present:
            vd = [v for n, v in hd if n.lower() == name.lower()]
            vp = [v for n, v in hp if n.lower() == name.lower()]
            self.assertIn(value, vd, "posternd: %s" % hd)
            self.assertEqual(vp, vd, "postfix+milter differs: %s" % hp)
        for name in case.absent:
            self.assertNotIn(name.lower(), [n.lower() for n, _ in hd])
            self.assertNotIn(name.lower(), [n.lower() for n, _ in hp])
        # the fields that came in keep their order around the edits
        names_d = [n for n, _ in hd if n.lower() != "received"]
        names_p = [n for n, _ in hp if n.lower() != "received"]
        self.assertEqual(names_p, names_d)
        # the body arrives unchanged
        self.assertEqual(td.data.split(b"\r\n\r\n", 1)[1],
                         tp.data.split(b"\r\n\r\n", 1)[1])

    # ------------------------------------------------------------ miltertest

    def test_miltertest_stages(self):
        m = self.milter(self.shared_extra())
        r = subprocess.run(
            [program("miltertest"), "-s",
             os.path.join(HERE, "milter", "stages.lua")],
            env=dict(os.environ, MILTER=m.socket), capture_output=True,
            timeout=60)
        out = (r.stdout + r.stderr).decode(errors="replace")
        self.assertEqual(r.returncode, 0, out + "\n" + m.log())
        self.assertIn("stages: ok", out)
        self.assertRegex(m.log(), r"MT0001: reject: RCPT from "
                         r"client.test\[127.0.0.1\]: 550 5.1.1")

    def test_miltertest_negotiation(self):
        m = self.milter(self.shared_extra())
        r = subprocess.run(
            [program("miltertest"), "-s",
             os.path.join(HERE, "milter", "negotiate.lua")],
            env=dict(os.environ, MILTER=m.socket), capture_output=True,
            timeout=60)
        out = (r.stdout + r.stderr).decode(errors="replace")
        self.assertEqual(r.returncode, 0, out + "\n" + m.log())
        self.assertIn("negotiate: ok", out)

    # ------------------------------------------------------------ robustness

    def test_postfix_aborts_and_drops(self):
        m = self.milter(self.shared_extra())
        sink = self.upstream_sink()
        pf = self.postfix_with(m, sink.port)
        # RSET in the middle of a transaction, then a good one
        c = RawSMTP("127.0.0.1", pf.smtpd_port)
        c.hello("client.test")
        self.assertEqual(c.cmd("MAIL FROM:<a@example.net>").code, 250)
        self.assertEqual(c.cmd("RCPT TO:<user@example.org>").code, 250)
        self.assertEqual(c.cmd("RSET").code, 250)
        res = self.transact(c, message(subject="after RSET"))
        self.assertReply(res.eod, 250)
        c.close()
        # a client that goes away in the middle of DATA
        for _ in range(5):
            c = RawSMTP("127.0.0.1", pf.smtpd_port)
            c.hello("client.test")
            c.cmd("MAIL FROM:<a@example.net>")
            c.cmd("RCPT TO:<user@example.org>")
            c.cmd("DATA")
            c.send(b"Subject: cut\r\n\r\nhalf a mes")
            c.close()
        # and one that goes away after MAIL
        c = RawSMTP("127.0.0.1", pf.smtpd_port)
        c.hello("client.test")
        c.cmd("MAIL FROM:<a@example.net>")
        c.close()
        # the milter still decides
        c = RawSMTP("127.0.0.1", pf.smtpd_port)
        c.hello("client.test")
        res = self.transact(c, message(subject="FREE money at last"))
        self.assertReply(res.eod, 250)
        txn = sink.wait_accepted(2, 30)[1]
        self.assertEqual(txn.header("X-Spam-Flag"), "YES")
        c.close()
        self.assertTrue(m.alive())
        wait_until(lambda: m.log().count("disconnect from") >= 8, 10,
                   what="every milter connection closed")

    def test_malformed_packets(self):
        m = self.milter(self.shared_extra())
        packets = [
            b"",                                    # connect and close
            b"\x00\x00\x00\x00",                    # zero length
            b"\xff\xff\xff\xff" + b"x" * 100,       # absurd length
            struct.pack(">I", 1) + b"Z",            # unknown command
            struct.pack(">I", 13) + b"O" + b"\x00" * 3,  # short OPTNEG
            # OPTNEG with garbage, then a connect with a broken address
            struct.pack(">I", 13) + b"O" + struct.pack(">III", 6, 0x1ff,
                                                       0x1fffff)
            + struct.pack(">I", 8) + b"Chost\x004",
            # a header and body before any connect or MAIL
            struct.pack(">I", 13) + b"O" + struct.pack(">III", 6, 0x1ff,
                                                       0x1fffff)
            + struct.pack(">I", 6) + b"Lx\x00y\x00"
            + struct.pack(">I", 5) + b"Bbody" + struct.pack(">I", 1) + b"E",
            os.urandom(4096),
        ]
        for p in packets:
            s = socket.create_connection(("127.0.0.1", m.port), timeout=5)
            try:
                # the milter may drop the connection before we are done
                # sending (a reset): that is an answer too
                try:
                    s.sendall(p)
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(4096):
                        pass
                except (socket.timeout, OSError):
                    pass
            finally:
                s.close()
            self.assertTrue(m.alive(), "milter died after %r" % p[:40])
        # still serving: the stage checks pass
        r = subprocess.run(
            [program("miltertest"), "-s",
             os.path.join(HERE, "milter", "stages.lua")],
            env=dict(os.environ, MILTER=m.socket), capture_output=True,
            timeout=60)
        self.assertEqual(r.returncode, 0,
                         (r.stdout + r.stderr).decode(errors="replace"))

    def test_config_check(self):
        bad = Milter("", socket_spec="inet:99999@127.0.0.1")
        r = subprocess.run([MILTER, "-t", "-c", bad.conf],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr.decode(),
                         r"milter.conf:\d+: milter.socket "
                         r"'inet:99999@127.0.0.1': port must be 1-65535")
        good = Milter(self.shared_extra())
        r = subprocess.run([MILTER, "-t", "-c", good.conf],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        # posternd reads the same file and checks the block too
        r = subprocess.run([POSTERND, "-t", "-c", bad.conf],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("milter.socket", r.stderr.decode())
        # and refuses a file made for the milter alone
        r = subprocess.run([POSTERND, "-t", "-c", good.conf],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr.decode(),
                         r"milter.conf:\d+: smtp.listen has no addresses")

    def test_unix_socket(self):
        d = make_dir("msock.")
        path = os.path.join(d, "milter.sock")
        m = Milter(self.shared_extra(), socket_spec="unix:" + path)
        self.addCleanup(self._finish_milter, m)
        m.start()
        st = os.stat(path)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        r = subprocess.run(
            [program("miltertest"), "-s",
             os.path.join(HERE, "milter", "stages.lua")],
            env=dict(os.environ, MILTER=m.socket), capture_output=True,
            timeout=60)
        self.assertEqual(r.returncode, 0,
                         (r.stdout + r.stderr).decode(errors="replace"))

    def test_filter_timeout(self):
        """A filter past its deadline: the MTA hears the failure action
        at once, the session goes on, the stuck call ends in the
        background and the milter keeps serving."""
        so = build_filter("scripted")
        m = self.milter(filter_block("scripted", so, timeout=Raw("1s"),
                                     on_failure="tempfail"))
        sink = self.upstream_sink()
        pf = self.postfix_with(m, sink.port)
        c = RawSMTP("127.0.0.1", pf.smtpd_port)
        c.hello("client.test")
        t0 = time.monotonic()
        res = self.transact(c, message(subject="slow",
                                       extra_headers="X-Test-Sleep: 4000"
                                                     "\r\n"))
        took = time.monotonic() - t0
        self.assertReply(res.eod, 451, "4.3.0")
        self.assertIn("filter scripted unavailable", res.eod.text)
        self.assertLess(took, 3.5)
        # the same connection, a new ctx without the lost filter
        res = self.transact(c, message(subject="next"))
        self.assertReply(res.eod, 250)
        c.cmd("QUIT")
        c.close()
        sink.wait_accepted(1, 30)
        self.assertRegex(m.log(), r"filter=scripted stage=message failed "
                         r"\(timeout after 1s\)")
        # the stuck call returns, its ctx frees itself; then a new
        # connection is served normally
        time.sleep(3)
        c = RawSMTP("127.0.0.1", pf.smtpd_port)
        c.hello("client.test")
        self.assertReply(self.transact(c, message(subject="later")).eod,
                         250)
        c.close()
        self.assertTrue(m.alive())


class MilterDkimTest(DkimTest):
    """Signing in milter mode: postern-milter inside a Postfix signs at
    the end of the message over the message as it leaves (after the
    filters' header edits); a verifying posternd judges."""

    @classmethod
    def setUpClass(cls):
        if not have_program("postfix"):
            raise unittest.SkipTest("postfix is not installed")
        if not os.access(MILTER, os.X_OK):
            raise unittest.SkipTest("%s not built" % MILTER)
        super().setUpClass()

    def test_signed_in_milter_mode(self):
        d, sink = self.verifier()
        so = build_filter("scripted")
        m = Milter(filter_block("scripted", so) + "\n"
                   'dns { nameserver = ["127.0.0.1:%d"]; timeout = 2s; }\n'
                   'filter dkim { sign = ["%s:pr:%s", "%s:pe:%s"]; }'
                   % (self.dns.port, DOMAIN, self.keys.paths["pr"], DOMAIN,
                      self.keys.paths["pe"]))
        self.addCleanup(m.stop)
        m.start()
        pf = self.postfix(d.port, main_extra={
            "smtpd_milters": "inet:127.0.0.1:%d" % m.port,
            "milter_default_action": "tempfail",
            "milter_protocol": "6"})
        c = RawSMTP("127.0.0.1", pf.smtpd_port)
        self.addCleanup(c.close)
        c.hello("client.test")
        body = message(subject="signed by postern-milter",
                       extra_headers="X-Test-Add-Header: X-Edited: yes\r\n"
                       "X-Test-Change-Header: Subject: changed before "
                       "signing\r\n").replace(
            b"sender@example.net", b"alice@" + DOMAIN.encode())
        res = self.transact(c, body, sender="alice@" + DOMAIN)
        self.assertReply(res.eod, 250)
        txn = sink.wait_accepted(1, 30)[0]
        self.assertEqual(txn.header("Subject"), "changed before signing")
        self.assertEqual(txn.header("X-Edited"), "yes")
        got = " ".join(dkim_entries(txn.data))
        self.assertIn("dkim=pass header.d=%s header.s=pr "
                      "header.a=rsa-sha256" % DOMAIN, got, txn.data[:2000])
        self.assertIn("dkim=pass header.d=%s header.s=pe "
                      "header.a=ed25519-sha256" % DOMAIN, got)
        m.check_health()


if __name__ == "__main__":
    unittest.main()
