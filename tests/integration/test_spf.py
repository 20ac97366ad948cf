"""The built-in spf filter through posternd (issue 7), against a real DNS
server: a dnsmasq started here on 127.0.0.1 with tests/data/dns/
auth-zone.conf plus records this module writes, and posternd's `dns {}`
pointed at it.

Clients connect from 127.0.0.1 or ::1 (the zone lists loopback where a
result needs it; our evaluator has no loopback shortcut), or are
presented with XCLIENT from smtp.xclient_hosts (documentation addresses;
libspf2 then looks things up instead of passing loopback).  Each result
is checked where a user sees it: the Authentication-Results header of the
delivered message, the log line, and the reply when the filter acts.

AuthDNS and AuthTest are shared with test_dmarc.py.
"""

import os
import re
import socket
import subprocess
import time

import unittest

from dns_peer import Dnsmasq
from harness import PosterndTest, have_program

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ZONE = os.path.join(SRC, "tests", "data", "dns", "auth-zone.conf")

# Records for the integration tests only (the unit tests present other
# client addresses): an explanation that names the loopback client.
EXTRA_ZONE = """\
txt-record=expl.spf.test,"v=spf1 ip4:198.51.100.1 -all exp=why.expl.spf.test"
txt-record=why.expl.spf.test,"%{i} may not send for %{d}"
"""


class AuthDNS(Dnsmasq):
    """dnsmasq on 127.0.0.1:PORT serving auth-zone.conf and extra (more
    dnsmasq config lines); nothing is forwarded anywhere."""

    def __init__(self, extra=""):
        super().__init__(extra.splitlines(), conf_files=[ZONE])


def auth_results(msg):
    """The Authentication-Results values of a delivered message, with
    folding white space collapsed."""
    return [" ".join(v.split()) for v in msg.get_all("Authentication-Results")]


class AuthTest(PosterndTest):
    """Base class: a dnsmasq for the whole class, posternd with filters."""

    dns_extra = EXTRA_ZONE

    @classmethod
    def setUpClass(cls):
        if not have_program("dnsmasq"):
            raise unittest.SkipTest("dnsmasq is not installed")
        cls.dns = AuthDNS(cls.dns_extra).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def daemon(self, filters, nameserver=None, dns_timeout="2s"):
        """posternd with dns {} on our dnsmasq (or nameserver) and the
        filter blocks given as text."""
        ns = nameserver or "127.0.0.1:%d" % self.dns.port
        extra = ('dns { nameserver = ["%s"]; timeout = %s; }\n%s'
                 % (ns, dns_timeout, filters))
        return self.posternd(extra=extra)

    def deliver(self, d, sender, helo="client.test", host="127.0.0.1",
                from_header=None, extra_headers=""):
        """One transaction; returns (TxnResult, raw session)."""
        c = self.raw(d, host=host)
        c.hello(helo)
        body = ("From: %s\r\nTo: user@example.org\r\nSubject: auth test\r\n"
                "Message-ID: <%s@client.test>\r\n%s\r\nHello.\r\n"
                % (from_header or ("<%s>" % (sender or "postmaster@" + helo)),
                   os.urandom(6).hex(), extra_headers)).encode()
        res = TxnResultLike()
        res.mail = c.cmd("MAIL FROM:<%s>" % sender)
        if res.mail.code == 250:
            res.rcpt = c.cmd("RCPT TO:<user@example.org>")
            if res.rcpt.code == 250:
                self.assertReply(c.cmd("DATA"), 354)
                c.send(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
                res.eod = c.reply()
        c.cmd("QUIT")
        return res

    def delivered_ar(self, d):
        """The A-R values of the one message delivered so far."""
        msgs = d.wait_messages(1)
        self.assertEqual(len(msgs), 1)
        return auth_results(msgs[0])


class TxnResultLike:
    mail = rcpt = eod = None


class SpfResultsTest(AuthTest):
    """One result per domain, as the A-R header and the log show it."""

    CASES = [
        # (sender domain, result, the log line's reason, in part)
        ("pass.spf.test", "pass", "matched ip4:127.0.0.1"),
        ("fail.spf.test", "fail", "matched -all"),
        ("softfail.spf.test", "softfail", "matched ~all"),
        ("neutral.spf.test", "neutral", "matched ?all"),
        ("none.spf.test", "none", "no SPF record"),
        ("nx.spf.test", "none", "no SPF record"),
        ("syntax.spf.test", "permerror", "syntax error"),
        ("multi.spf.test", "permerror", "has more than one SPF record"),
        ("toomany.spf.test", "permerror", "too many DNS lookups"),
        ("voids.spf.test", "permerror", "void lookup limit of 2"),
        ("loop.spf.test", "permerror", "loop"),
        ("macro.spf.test", "pass", "matched exists:"),
    ]

    def test_each_result(self):
        d = self.daemon("filter spf {}")
        for i, (domain, result, reason) in enumerate(self.CASES):
            with self.subTest(domain=domain):
                local = "joe-bloggs" if domain.startswith("macro") else "joe"
                res = self.deliver(d, "%s@%s" % (local, domain),
                                   helo="good.helo.spf.test")
                self.assertReply(res.mail, 250)
                self.assertReply(res.eod, 250)
                msgs = d.wait_messages(i + 1)
                by_domain = {}
                for m in msgs:
                    for ar in auth_results(m):
                        mm = re.search(r"smtp\.mailfrom=(\S+)", ar)
                        if mm:
                            by_domain[mm.group(1)] = ar
                self.assertEqual(
                    by_domain.get(domain),
                    "mx.test.invalid; spf=%s smtp.mailfrom=%s"
                    % (result, domain))
                d.wait_log(r"filter spf: mailfrom=%s result=%s \(.*%s"
                           % (re.escape(domain), result, re.escape(reason)))
        self.assertEqual(d.count(), len(self.CASES))

    def test_macro_other_local_part_fails(self):
        d = self.daemon("filter spf {}")
        self.deliver(d, "bob@macro.spf.test")
        self.assertEqual(self.delivered_ar(d),
                         ["mx.test.invalid; spf=fail "
                          "smtp.mailfrom=macro.spf.test"])


class SpfActionsTest(AuthTest):
    def test_fail_reject(self):
        d = self.daemon("filter spf { fail = reject; }")
        res = self.deliver(d, "joe@fail.spf.test")
        self.assertReply(res.mail, 550, "5.7.23")
        self.assertEqual(res.mail.text,
                         "5.7.23 SPF fail: fail.spf.test does not designate "
                         "127.0.0.1 as permitted sender")
        self.assertNothingDelivered(d)
        # softfail is not fail
        res = self.deliver(d, "joe@softfail.spf.test")
        self.assertReply(res.eod, 250)

    def test_fail_reject_with_explanation(self):
        d = self.daemon("filter spf { fail = reject; explain = yes; }")
        res = self.deliver(d, "joe@expl.spf.test")
        self.assertReply(res.mail, 550, "5.7.23")
        self.assertEqual(res.mail.text,
                         "5.7.23 SPF fail: 127.0.0.1 may not send for "
                         "expl.spf.test")

    def test_permerror_reject(self):
        d = self.daemon("filter spf { permerror = reject; }")
        res = self.deliver(d, "joe@syntax.spf.test")
        self.assertReply(res.mail, 550, "5.7.24")
        self.assertIn("SPF permanent error for syntax.spf.test", res.mail.text)

    def test_temperror_server_down(self):
        # a port where no server listens
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        d = self.daemon("filter spf { temperror = tempfail; }",
                        nameserver="127.0.0.1:%d" % port, dns_timeout="1s")
        t0 = time.monotonic()
        res = self.deliver(d, "joe@pass.spf.test")
        self.assertReply(res.mail, 451, "4.7.24")
        self.assertLess(time.monotonic() - t0, 8)
        d.wait_log(r"filter spf: mailfrom=pass\.spf\.test result=temperror")

    def test_temperror_timeout_delivers_with_result(self):
        # a server that never answers; temperror = continue (default)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self.addCleanup(s.close)
        d = self.daemon("filter spf {}",
                        nameserver="127.0.0.1:%d" % s.getsockname()[1],
                        dns_timeout="1s")
        res = self.deliver(d, "joe@pass.spf.test")
        self.assertReply(res.eod, 250)
        self.assertEqual(self.delivered_ar(d),
                         ["mx.test.invalid; spf=temperror "
                          "smtp.mailfrom=pass.spf.test"])


class SpfIdentitiesTest(AuthTest):
    def test_ipv6_client(self):
        d = self.daemon("filter spf {}")
        self.deliver(d, "joe@six.spf.test", host="::1")
        self.assertEqual(self.delivered_ar(d),
                         ["mx.test.invalid; spf=pass "
                          "smtp.mailfrom=six.spf.test"])
        d.wait_log(r"mailfrom=six\.spf\.test result=pass "
                   r"\(matched ip6:::1\)")

    def test_ipv6_record_ipv4_client(self):
        d = self.daemon("filter spf {}")
        self.deliver(d, "joe@six.spf.test", host="127.0.0.1")
        self.assertEqual(self.delivered_ar(d),
                         ["mx.test.invalid; spf=fail "
                          "smtp.mailfrom=six.spf.test"])

    def test_helo_identity(self):
        d = self.daemon("filter spf {}")
        self.deliver(d, "joe@pass.spf.test", helo="bad.helo.spf.test")
        d.wait_log(r"filter spf: helo=bad\.helo\.spf\.test result=fail "
                   r"\(matched -all\)")
        # the A-R entry is the MAIL FROM identity's
        self.assertEqual(self.delivered_ar(d),
                         ["mx.test.invalid; spf=pass "
                          "smtp.mailfrom=pass.spf.test"])

    def test_null_sender_uses_helo(self):
        d = self.daemon("filter spf {}")
        res = self.deliver(d, "", helo="good.helo.spf.test")
        self.assertReply(res.eod, 250)
        self.assertEqual(self.delivered_ar(d),
                         ["mx.test.invalid; spf=pass "
                          "smtp.helo=good.helo.spf.test"])

    def test_null_sender_bad_helo_rejected(self):
        d = self.daemon("filter spf { fail = reject; }")
        res = self.deliver(d, "", helo="bad.helo.spf.test")
        self.assertReply(res.mail, 550, "5.7.23")
        self.assertIn("bad.helo.spf.test", res.mail.text)

    def test_trusted_client_not_checked(self):
        before = self.dns.queries("fail.spf.test")
        d = self.posternd(
            smtp={"trusted_networks": ["127.0.0.0/8"]},
            extra='dns { nameserver = ["127.0.0.1:%d"]; }\n'
                  'filter spf { fail = reject; }' % self.dns.port)
        res = self.deliver(d, "joe@fail.spf.test")
        self.assertReply(res.eod, 250)
        msg = d.wait_messages(1)[0]
        self.assertEqual(msg.get_all("Authentication-Results"), [])
        self.assertEqual(self.dns.queries("fail.spf.test"), before)
        d.wait_log(r"filter spf: mailfrom=joe@fail\.spf\.test result=none "
                   r"\(trusted client")


class SpfLibspf2Test(AuthTest):
    """engine = libspf2: selectable, queries our DNS, and its known
    behaviour for loopback clients (pass without a lookup)."""

    def test_libspf2_loopback_pass(self):
        d = self.daemon("filter spf { engine = libspf2; }")
        before = self.dns.queries("fail.spf.test")
        res = self.deliver(d, "joe@fail.spf.test")
        self.assertReply(res.eod, 250)
        self.assertEqual(self.delivered_ar(d),
                         ["mx.test.invalid; spf=pass "
                          "smtp.mailfrom=fail.spf.test"])
        self.assertEqual(self.dns.queries("fail.spf.test"), before)

    def test_config_check(self):
        d = self.posternd(start=False,
                          extra="filter spf { engine = pyspf; }")
        r = subprocess.run([os.environ["POSTERND"], "-t", "-c", d.conf],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("filter spf: 'engine' must be postern or libspf2, "
                      "not 'pyspf'", r.stderr + r.stdout)


class SpfXclientTest(AuthTest):
    """Clients presented with XCLIENT (smtp.xclient_hosts): the addresses
    of the unit tests, and libspf2 doing real lookups (no loopback
    shortcut) through our resolver."""

    def xdaemon(self, filters):
        return self.posternd(
            smtp={"xclient_hosts": ["127.0.0.0/8", "::1/128"]},
            extra='dns { nameserver = ["127.0.0.1:%d"]; timeout = 2s; }\n%s'
                  % (self.dns.port, filters))

    def xdeliver(self, d, addr, sender, helo="good.helo.spf.test"):
        c = self.raw(d)
        c.hello("front.test")
        # the reply is the new session's greeting
        self.assertReply(c.cmd("XCLIENT ADDR=%s HELO=%s" % (addr, helo)),
                         220)
        self.assertReply(c.cmd("EHLO " + helo), 250)
        res = TxnResultLike()
        res.mail = c.cmd("MAIL FROM:<%s>" % sender)
        if res.mail.code == 250:
            self.assertReply(c.cmd("RCPT TO:<user@example.org>"), 250)
            self.assertReply(c.cmd("DATA"), 354)
            c.send(b"From: <joe@example.net>\r\nSubject: x\r\n\r\nHi.\r\n.\r\n")
            res.eod = c.reply()
        c.cmd("QUIT")
        return res

    def test_presented_addresses(self):
        for engine in ("postern", "libspf2"):
            with self.subTest(engine=engine):
                d = self.xdaemon("filter spf { engine = %s; }" % engine)
                cases = [("192.0.2.10", "pass.spf.test", "pass"),
                         ("IPV6:2001:db8::10", "pass.spf.test", "pass"),
                         ("198.51.100.9", "pass.spf.test", "fail"),
                         ("192.0.2.31", "amx.spf.test", "pass"),
                         ("192.0.2.10", "softfail.spf.test", "softfail")]
                for i, (addr, domain, want) in enumerate(cases):
                    before = self.dns.queries(domain)
                    res = self.xdeliver(d, addr, "joe@" + domain)
                    self.assertReply(res.eod, 250)
                    msg = d.wait_messages(i + 1)
                    ars = [a for m in msg for a in auth_results(m)]
                    self.assertIn("mx.test.invalid; spf=%s "
                                  "smtp.mailfrom=%s" % (want, domain), ars)
                    # asked of our dnsmasq, nothing else
                    self.assertGreater(self.dns.queries(domain), before)
                d.stop()

    def test_presented_fail_rejected(self):
        d = self.xdaemon("filter spf { fail = reject; }")
        res = self.xdeliver(d, "192.0.2.10", "joe@fail.spf.test")
        self.assertReply(res.mail, 550, "5.7.23")
        self.assertEqual(res.mail.text,
                         "5.7.23 SPF fail: fail.spf.test does not designate "
                         "192.0.2.10 as permitted sender")
