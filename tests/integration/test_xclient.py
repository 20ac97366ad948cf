"""Presenting the real client (issue 7): XCLIENT from smtp.xclient_hosts
and the PROXY protocol (v1 and v2) from smtp.proxy_protocol_hosts.

XCLIENT is driven over RawSMTP: who may use it, every attribute with
xtext, IPv6, [UNAVAILABLE], the reset to a new greeting, refusal inside
a transaction, and that everything after it uses the presented client:
the log, Received:, trusted networks, the filter chain (a small test
filter built here reports what it saw), XCLIENT to the upstream.

PROXY is sent by a real HAProxy (`send-proxy`, `send-proxy-v2` on a
`server` line, mode tcp) started by the test, and by hand-made headers
on raw sockets: LOCAL/UNKNOWN, truncated, oversized, wrong signature,
slow, none at all, and one from a host that is not listed.
"""

import os
import re
import socket
import struct
import subprocess
import time

from harness import (POSTERND, Raw, UpstreamTest, _track, free_port,
                     is_listening, make_dir, message, parse_received, program,
                     suite_dir, wait_until, ARTIFACTS, HOSTNAME)

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

XCLIENT_EHLO = "XCLIENT ADDR NAME HELO PROTO PORT LOGIN"

# A filter that refuses 192.0.2.66 at connect and writes what it knows of
# the client into each message, so a test sees what the chain saw.
WHOAMI_C = r"""
#include <stdio.h>
#include <string.h>
#include <postern/filter.h>

static enum pf_verdict
whoami_connect(struct pf_txn *t)
{
	if (strcmp(pf_client_addr(t), "192.0.2.66") == 0) {
		pf_reply(t, 554, "5.7.1", "Not you");
		return PF_REJECT;
	}
	return PF_CONTINUE;
}

static enum pf_verdict
whoami_message(struct pf_txn *t)
{
	char v[700];
	const char *helo = pf_helo(t);

	snprintf(v, sizeof(v), "addr=%s port=%u name=%s helo=%s",
		 pf_client_addr(t), pf_client_port(t), pf_client_name(t),
		 helo ? helo : "(none)");
	pf_header_add(t, "X-Seen-Client", v);
	return PF_CONTINUE;
}

const struct postern_filter postern_filter = {
	.abi = POSTERN_FILTER_ABI,
	.size = sizeof(struct postern_filter),
	.name = "whoami",
	.on_connect = whoami_connect,
	.on_message = whoami_message,
};
"""

_WHOAMI = []


def whoami_filter():
    """Build the whoami filter once per run; its path."""
    if not _WHOAMI:
        d = os.path.join(suite_dir(), "filters")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        src = os.path.join(d, "whoami.c")
        out = os.path.join(d, "whoami.so")
        with open(src, "w") as f:
            f.write(WHOAMI_C)
        subprocess.run(["cc", "-O1", "-Wall", "-Wextra", "-Werror",
                        "-I" + os.path.join(SRC, "include"), "-shared",
                        "-fPIC", "-o", out, src], check=True)
        _WHOAMI.append(out)
    return _WHOAMI[0]


def v2_header(cmd, fam, payload):
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    return sig + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(payload)) \
        + payload


def v2_tcp4(src, sport, dst="127.0.0.1", dport=25, tlvs=b""):
    return v2_header(1, 0x11, socket.inet_pton(socket.AF_INET, src)
                     + socket.inet_pton(socket.AF_INET, dst)
                     + struct.pack(">HH", sport, dport) + tlvs)


def v2_tcp6(src, sport, dst="::1", dport=25):
    return v2_header(1, 0x21, socket.inet_pton(socket.AF_INET6, src)
                     + socket.inet_pton(socket.AF_INET6, dst)
                     + struct.pack(">HH", sport, dport))


class XclientTest(UpstreamTest):
    def xposternd(self, smtp=None, **kw):
        conf = {"xclient_hosts": ["127.0.0.1/32"], "max_errors": 100}
        conf.update(smtp or {})
        return self.posternd(smtp=conf, **kw)

    def greeted(self, d, host="127.0.0.1"):
        c = self.raw(d, host=host)
        self.assertReply(c.greeting(), 220)
        return c

    def assertGreeting(self, reply):
        """The reply to a successful XCLIENT is a new 220 greeting."""
        self.assertEqual(reply.code, 220, reply)
        self.assertTrue(reply.text.startswith(HOSTNAME + " ESMTP"), reply)

    def deliver(self, c, d, helo=True, n=1, rcpt="user@example.org"):
        if helo:
            self.assertReply(c.cmd("EHLO client.test"), 250)
        self.envelope(c, rcpts=(rcpt,))
        self.assertQueued(self.data(c, message() + b".\r\n"))
        return d.wait_messages(n)[n - 1]

    # -- who may

    def test_ehlo_offers_xclient_only_to_listed_hosts(self):
        d = self.xposternd()
        c = self.greeted(d)
        ehlo = c.cmd("EHLO client.test")
        self.assertIn(XCLIENT_EHLO, ehlo.lines)
        c6 = self.greeted(d, host="::1")
        ehlo = c6.cmd("EHLO client.test")
        self.assertReply(ehlo, 250)
        self.assertFalse([l for l in ehlo.lines if "XCLIENT" in l], ehlo)

    def test_unlisted_host_gets_550(self):
        d = self.xposternd()
        c = self.greeted(d, host="::1")
        self.assertReply(c.cmd("EHLO client.test"), 250)
        r = c.cmd("XCLIENT ADDR=192.0.2.7")
        self.assertReply(r, 550, "5.7.0")
        self.assertIn("Error: insufficient authorization", r.text)
        d.wait_log(r"NOQUEUE: reject: XCLIENT from unknown\[::1\]: 550 "
                   r"5\.7\.0 ")
        # Still the same client afterwards.
        self.assertReply(c.cmd("NOOP"), 250)
        self.assertEqual(d.log_matches(r"connect from unknown\[192\.0\.2"),
                         [])

    def test_off_by_default(self):
        d = self.posternd()
        c = self.greeted(d)
        ehlo = c.cmd("EHLO client.test")
        self.assertFalse([l for l in ehlo.lines if "XCLIENT" in l], ehlo)
        self.assertReply(c.cmd("XCLIENT ADDR=192.0.2.7"), 550, "5.7.0")

    # -- what it does

    def test_new_greeting_and_address_everywhere(self):
        d = self.xposternd()
        c = self.greeted(d)
        self.assertReply(c.cmd("EHLO client.test"), 250)
        self.assertGreeting(c.cmd("XCLIENT ADDR=192.0.2.7 NAME=mx.example.net"))
        d.wait_log(r"connect from mx\.example\.net\[192\.0\.2\.7\] \(via "
                   r"XCLIENT from unknown\[127\.0\.0\.1\]\)")
        f = self.deliver(c, d)
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["ip"], "192.0.2.7")
        self.assertEqual(rcv["helo"], "client.test")
        d.wait_log(r": client=mx\.example\.net\[192\.0\.2\.7\], session=")
        c.cmd("QUIT")
        d.wait_log(r"disconnect from mx\.example\.net\[192\.0\.2\.7\] "
                   r"ehlo=2 mail=1 rcpt=1 data=1 quit=1 xclient=1 ")

    def test_helo_and_proto_reset_unless_given(self):
        d = self.xposternd()
        c = self.greeted(d)
        self.assertReply(c.cmd("EHLO client.test"), 250)
        self.assertGreeting(c.cmd("XCLIENT ADDR=192.0.2.7"))
        # A new connection: HELO/EHLO first.
        self.assertReply(c.cmd("MAIL FROM:<a@example.net>"), 503, "5.5.1")
        # HELO and PROTO from XCLIENT stand in for the client's EHLO.
        self.assertGreeting(c.cmd("XCLIENT HELO=relay.example.net "
                                  "PROTO=ESMTP"))
        f = self.deliver(c, d, helo=False)
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["helo"], "relay.example.net")
        self.assertEqual(rcv["with"], "ESMTP")
        self.assertEqual(rcv["ip"], "192.0.2.7", "ADDR not given stays")
        # PROTO=SMTP: no ESMTP parameters then.
        self.assertGreeting(c.cmd("XCLIENT HELO=old.example PROTO=SMTP"))
        self.assertReply(c.cmd("MAIL FROM:<a@example.net> SIZE=10"), "5")
        self.assertReply(c.cmd("MAIL FROM:<a@example.net>"), 250)

    def test_refused_inside_a_transaction(self):
        d = self.xposternd()
        c = self.greeted(d)
        self.assertReply(c.cmd("EHLO client.test"), 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.net>"), 250)
        r = c.cmd("XCLIENT ADDR=192.0.2.7")
        self.assertReply(r, 503, "5.5.1")
        self.assertIn("MAIL transaction in progress", r.text)
        self.assertReply(c.cmd("RSET"), 250)
        self.assertGreeting(c.cmd("XCLIENT ADDR=192.0.2.7"))

    def test_bad_attributes(self):
        d = self.xposternd()
        c = self.greeted(d)
        self.assertReply(c.cmd("EHLO client.test"), 250)
        self.assertGreeting(c.cmd("XCLIENT ADDR=192.0.2.1"))
        cases = [
            ("XCLIENT", "Syntax: XCLIENT attribute=value"),
            ("XCLIENT ADDR", "Syntax: XCLIENT attribute=value"),
            ("XCLIENT =192.0.2.7", "Syntax: XCLIENT attribute=value"),
            ("XCLIENT FOO=bar", "Bad XCLIENT attribute name: FOO"),
            ("XCLIENT DESTADDR=192.0.2.1", "Bad XCLIENT attribute name"),
            ("XCLIENT ADDR=", "Bad ADDR syntax"),
            ("XCLIENT ADDR=192.0.2.256", "Bad ADDR syntax: 192.0.2.256"),
            ("XCLIENT ADDR=2001:db8::7", "Bad ADDR syntax"),
            ("XCLIENT ADDR=IPV6:192.0.2.7", "Bad ADDR syntax"),
            ("XCLIENT ADDR=mx.example.net", "Bad ADDR syntax"),
            ("XCLIENT ADDR=192.0.2.7+00x", "Bad ADDR syntax"),
            ("XCLIENT ADDR=192.0.2.7+", "Bad ADDR syntax"),
            ("XCLIENT ADDR=192.0.2.7+4", "Bad ADDR syntax"),
            ("XCLIENT ADDR=192.0.2.7+GG", "Bad ADDR syntax"),
            ("XCLIENT PORT=65536", "Bad PORT syntax"),
            ("XCLIENT PORT=-1", "Bad PORT syntax"),
            ("XCLIENT PROTO=LMTP", "Bad PROTO syntax"),
            ("XCLIENT NAME=bad_name!", "Bad NAME syntax"),
            ("XCLIENT NAME=[192.0.2.7]", "Bad NAME syntax"),
            ("XCLIENT NAME=a+20b", "Bad NAME syntax"),
            ("XCLIENT HELO=" + "h" * 256, "Bad HELO syntax"),
            ("XCLIENT LOGIN=a+0Ab", "Bad LOGIN syntax"),
            # all or nothing: the good ADDR is not taken either
            ("XCLIENT ADDR=192.0.2.9 PORT=x", "Bad PORT syntax"),
        ]
        for line, text in cases:
            r = c.cmd(line)
            self.assertReply(r, 501, "5.5.4", line)
            self.assertIn(text, r.text, line)
        self.assertReply(c.cmd("XCLIENT ADDR=192.0.2.1 " + "\xe9"), 501,
                         "5.5.4")
        f = self.deliver(c, d)
        self.assertEqual(parse_received(f.get("Received"))["ip"],
                         "192.0.2.1")
        self.assertEqual(d.log_matches(r"connect from \S+\[192\.0\.2\.9\]"),
                         [])

    def test_xtext_and_case(self):
        d = self.xposternd()
        c = self.greeted(d)
        self.assertReply(c.cmd("EHLO client.test"), 250)
        # +HH in either case; attribute names in any case; tabs between.
        self.assertGreeting(c.cmd("XCLIENT addr=192.0.2.7\tHelo=relay+2E"
                                  "example+2enet proto=esmtp "
                                  "NAME=host+2Dname.example.net"))
        d.wait_log(r"connect from host-name\.example\.net\[192\.0\.2\.7\]")
        f = self.deliver(c, d, helo=False)
        self.assertEqual(parse_received(f.get("Received"))["helo"],
                         "relay.example.net")
        # A space in HELO is kept printable in the trace header.
        self.assertGreeting(c.cmd("XCLIENT HELO=two+20words PROTO=SMTP"))
        f = self.deliver(c, d, helo=False, n=2)
        self.assertIn("from two?words ", f.get("Received"))

    def test_ipv6_and_unavailable(self):
        d = self.xposternd()
        c = self.greeted(d)
        self.assertReply(c.cmd("EHLO client.test"), 250)
        self.assertGreeting(c.cmd("XCLIENT ADDR=IPV6:2001:DB8::7"))
        d.wait_log(r"connect from unknown\[2001:db8::7\] \(via XCLIENT")
        f = self.deliver(c, d)
        self.assertIn("(unknown [IPv6:2001:db8::7])", f.get("Received"))
        self.assertGreeting(c.cmd("XCLIENT ADDR=ipv6:::ffff:192.0.2.8"))
        f = self.deliver(c, d, n=2)
        self.assertEqual(parse_received(f.get("Received"))["ip"],
                         "192.0.2.8")
        self.assertGreeting(c.cmd("XCLIENT ADDR=[UNAVAILABLE] "
                                  "NAME=[TEMPUNAVAIL] LOGIN=[UNAVAILABLE] "
                                  "PORT=[UNAVAILABLE]"))
        d.wait_log(r"connect from unknown\[unknown\] \(via XCLIENT from "
                   r"unknown\[192\.0\.2\.8\]\)")
        f = self.deliver(c, d, n=3)
        self.assertIn("(unknown [unknown])", f.get("Received"))

    def test_login_is_logged(self):
        d = self.xposternd()
        c = self.greeted(d)
        self.assertGreeting(c.cmd("XCLIENT ADDR=192.0.2.7 LOGIN=alice"))
        d.wait_log(r"connect from unknown\[192\.0\.2\.7\] \(via XCLIENT "
                   r"from unknown\[127\.0\.0\.1\]\), login=<alice>")

    def test_pipelined_with_ehlo(self):
        d = self.xposternd()
        c = self.greeted(d)
        c.send("XCLIENT ADDR=192.0.2.7\r\nEHLO client.test\r\n")
        self.assertGreeting(c.reply())
        self.assertReply(c.reply(), 250)
        self.deliver(c, d, helo=False)

    def test_trusted_networks_follow_the_new_address(self):
        d = self.xposternd(smtp={"trusted_networks": ["192.0.2.0/24"]})
        c = self.greeted(d)
        self.assertReply(c.cmd("EHLO client.test"), 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<x@elsewhere.test>"), 554, "5.7.1")
        self.assertReply(c.cmd("RSET"), 250)
        self.assertGreeting(c.cmd("XCLIENT ADDR=192.0.2.7"))
        f = self.deliver(c, d, rcpt="x@elsewhere.test")
        self.assertEqual(parse_received(f.get("Received"))["for"],
                         "x@elsewhere.test")
        # and away again
        self.assertGreeting(c.cmd("XCLIENT ADDR=198.51.100.1"))
        self.assertReply(c.cmd("EHLO client.test"), 250)
        self.assertReply(c.cmd("MAIL FROM:<a@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<x@elsewhere.test>"), 554, "5.7.1")

    def test_connection_count_stays_with_the_tcp_peer(self):
        d = self.xposternd(smtp={"max_connections_per_ip": 2})
        a = self.greeted(d)
        b = self.greeted(d)
        self.assertGreeting(a.cmd("XCLIENT ADDR=192.0.2.1"))
        self.assertGreeting(b.cmd("XCLIENT ADDR=192.0.2.2"))
        third = self.raw(d)
        r = third.greeting()
        self.assertReply(r, 421, "4.7.0")
        self.assertIn("too many connections from 127.0.0.1", r.text)

    def test_filters_see_the_new_client(self):
        so = whoami_filter()
        d = self.xposternd(extra='filter whoami { module = "%s"; }' % so)
        c = self.greeted(d)
        self.assertGreeting(c.cmd("XCLIENT ADDR=192.0.2.7 PORT=4711 "
                                  "NAME=mx.example.net HELO=relay.example "
                                  "PROTO=ESMTP"))
        f = self.deliver(c, d, helo=False)
        # name: the filter API's client name is the session's (see the
        # report: smtpd_filter.c still passes "unknown")
        seen = f.get("X-Seen-Client")
        self.assertTrue(seen.startswith("addr=192.0.2.7 port=4711 "), seen)
        self.assertTrue(seen.endswith(" helo=relay.example"), seen)
        # The connect stage runs again for the new client, and may refuse
        # it as it would refuse a new connection.
        r = c.cmd("XCLIENT ADDR=192.0.2.66")
        self.assertReply(r, 554, "5.7.1")
        self.assertIn("Not you", r.text)
        self.assertClosed(c)
        # NAME was not given again: it stays, as in Postfix
        d.wait_log(r"reject: CONNECT from mx\.example\.net"
                   r"\[192\.0\.2\.66\]: 554 ")

    def test_relay_passes_the_presented_client_upstream(self):
        sink = self.upstream_sink(xclient=True)
        d = self.relay(sink, smtp={"xclient_hosts": ["127.0.0.1/32"]})
        c = self.greeted(d)
        self.assertGreeting(c.cmd("XCLIENT ADDR=192.0.2.7 "
                                  "NAME=mx.example.net"))
        self.assertReply(c.cmd("EHLO helo.example.net"), 250)
        res = self.transact(c, message())
        self.assertQueued(res.eod)
        attrs = [a for conn in sink.conns for a in conn.xclient]
        self.assertTrue(attrs, "no XCLIENT reached the upstream")
        merged = {}
        for a in attrs:
            merged.update(a)
        self.assertEqual(merged.get("ADDR"), "192.0.2.7")
        self.assertEqual(merged.get("NAME"), "mx.example.net")
        self.assertEqual(merged.get("HELO"), "helo.example.net")
        # IPv6, and an address the client did not have
        self.assertGreeting(c.cmd("XCLIENT ADDR=IPV6:2001:db8::7"))
        self.assertReply(c.cmd("EHLO helo.example.net"), 250)
        self.assertQueued(self.transact(c, message()).eod)
        self.assertGreeting(c.cmd("XCLIENT ADDR=[UNAVAILABLE]"))
        self.assertReply(c.cmd("EHLO helo.example.net"), 250)
        self.assertQueued(self.transact(c, message()).eod)
        addrs = [a.get("ADDR") for conn in sink.conns for a in conn.xclient
                 if "ADDR" in a]
        self.assertIn("IPV6:2001:db8::7", addrs)
        self.assertEqual(addrs[-1], "[UNAVAILABLE]")

    def test_after_starttls(self):
        d = self.xposternd(tls=True)
        c = self.greeted(d)
        self.assertReply(c.cmd("EHLO client.test"), 250)
        self.assertReply(c.cmd("STARTTLS"), 220)
        from harness import TestCA
        c.starttls(TestCA.get().context())
        self.assertReply(c.cmd("EHLO client.test"), 250)
        self.assertGreeting(c.cmd("XCLIENT ADDR=192.0.2.7"))
        ehlo = c.cmd("EHLO client.test")
        self.assertNotIn("STARTTLS", ehlo.lines, "TLS stays on")
        f = self.deliver(c, d, helo=False)
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["ip"], "192.0.2.7")
        self.assertIsNotNone(rcv["tls"])


class ConfigTest(UpstreamTest):
    def check(self, smtp):
        d = self.posternd(start=False, smtp=smtp)
        return subprocess.run([POSTERND, "-t", "-c", d.conf],
                              capture_output=True, timeout=20)

    def test_ranges_are_checked(self):
        for key, value in (("xclient_hosts", "10.0.0.1/8"),
                           ("xclient_hosts", "mx.example.net"),
                           ("proxy_protocol_hosts", "10.0.0.0/33"),
                           ("proxy_protocol_hosts", "192.0.2.0/24 ")):
            r = self.check({key: ["127.0.0.1", value]})
            self.assertEqual(r.returncode, 1, (key, value))
            self.assertRegex(r.stderr.decode(), r"posternd\.conf:\d+: "
                             r"smtp\.%s '%s': " % (key, re.escape(value)))
        r = self.check({"proxy_timeout": Raw("10ms")})
        self.assertEqual(r.returncode, 1)
        self.assertIn("proxy_timeout", r.stderr.decode())
        r = self.check({"xclient_hosts": ["127.0.0.1/32", "::1"],
                        "proxy_protocol_hosts": ["10.0.0.0/8",
                                                 "2001:db8::/32"],
                        "proxy_timeout": Raw("30s")})
        self.assertEqual(r.returncode, 0, r.stderr)


# ---------------------------------------------------------------- PROXY

class HAProxy:
    """A private haproxy in mode tcp: listens on 127.0.0.1 and ::1 at
    self.port and forwards to 127.0.0.1:backend with `send` ("send-proxy"
    or "send-proxy-v2") on its server line."""

    def __init__(self, backend, send):
        self.dir = make_dir("haproxy.")
        self.port = free_port()
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        self.logfile = os.path.join(self.dir, "haproxy.log")
        with open(self.cfg, "w") as f:
            f.write("global\n"
                    "    maxconn 200\n"
                    "defaults\n"
                    "    mode tcp\n"
                    "    timeout connect 5s\n"
                    "    timeout client 60s\n"
                    "    timeout server 60s\n"
                    "frontend smtp\n"
                    "    bind 127.0.0.1:%d\n"
                    "    bind [::1]:%d\n"
                    "    default_backend posternd\n"
                    "backend posternd\n"
                    "    server p1 127.0.0.1:%d %s\n"
                    % (self.port, self.port, backend, send))
        self.proc = None
        ARTIFACTS.append(("haproxy log", self.logfile))

    def start(self):
        self.log_fh = open(self.logfile, "ab")
        self.proc = _track(subprocess.Popen(
            [program("haproxy"), "-db", "-f", self.cfg],
            stdin=subprocess.DEVNULL, stdout=self.log_fh,
            stderr=self.log_fh))
        wait_until(lambda: (self.proc.poll() is None
                            and is_listening(self.port)
                            and is_listening(self.port, socket.AF_INET6))
                   or self.proc.poll() is not None, 10,
                   what="haproxy to listen")
        if self.proc.poll() is not None:
            raise AssertionError("haproxy exited: %s"
                                 % open(self.logfile).read())
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self.log_fh.close()


class ProxyTest(UpstreamTest):
    def pposternd(self, smtp=None, **kw):
        conf = {"proxy_protocol_hosts": ["127.0.0.1/32"],
                "proxy_timeout": Raw("2s")}
        conf.update(smtp or {})
        return self.posternd(smtp=conf, **kw)

    def haproxy(self, d, send):
        self.need("haproxy")
        h = HAProxy(d.port, send)
        self.addCleanup(h.stop)
        return h.start()

    def via(self, h, host="127.0.0.1", source=None):
        from harness import RawSMTP
        c = RawSMTP(host, h.port, source=source)
        self.addCleanup(c.close)
        return c

    def deliver(self, c, d, n=1):
        self.envelope(c)
        self.assertQueued(self.data(c, message() + b".\r\n"))
        return d.wait_messages(n)[n - 1]

    def assertNoReply(self, c, seconds):
        """Nothing arrives for a while: the greeting waits."""
        c.sock.settimeout(seconds)
        try:
            data = c.sock.recv(100)
        except socket.timeout:
            return
        finally:
            c.sock.settimeout(10)
        self.fail("got %r before the PROXY header was complete" % data)

    # -- a real balancer

    def test_haproxy_v1(self):
        d = self.pposternd()
        h = self.haproxy(d, "send-proxy")
        c = self.via(h, source="127.0.0.9")
        c.hello()
        f = self.deliver(c, d)
        self.assertEqual(parse_received(f.get("Received"))["ip"],
                         "127.0.0.9")
        d.wait_log(r"connect from unknown\[127\.0\.0\.9\] \(via proxy "
                   r"127\.0\.0\.1\)")
        c.cmd("QUIT")
        d.wait_log(r"disconnect from unknown\[127\.0\.0\.9\] ehlo=1")

    def test_haproxy_v2_ipv6(self):
        d = self.pposternd()
        h = self.haproxy(d, "send-proxy-v2")
        c = self.via(h, host="::1")
        c.hello()
        f = self.deliver(c, d)
        self.assertIn("(unknown [IPv6:::1])", f.get("Received"))
        d.wait_log(r"connect from unknown\[::1\] \(via proxy 127\.0\.0\.1\)")

    def test_haproxy_v2_then_starttls(self):
        d = self.pposternd(tls=True)
        h = self.haproxy(d, "send-proxy-v2")
        c = self.via(h, source="127.0.0.10")
        ehlo = c.hello()
        self.assertIn("STARTTLS", ehlo.lines)
        self.assertReply(c.cmd("STARTTLS"), 220)
        from harness import TestCA
        c.starttls(TestCA.get().context())
        self.assertReply(c.cmd("EHLO client.test"), 250)
        f = self.deliver(c, d)
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["ip"], "127.0.0.10")
        self.assertIsNotNone(rcv["tls"])

    def test_haproxy_filters_and_trust_see_the_client(self):
        so = whoami_filter()
        d = self.pposternd(smtp={"trusted_networks": ["127.0.0.1/32",
                                                      "127.0.0.11/32"]},
                           extra='filter whoami { module = "%s"; }' % so)
        h = self.haproxy(d, "send-proxy-v2")
        c = self.via(h, source="127.0.0.11")
        c.hello()
        self.envelope(c, rcpts=("x@elsewhere.test",))
        self.assertQueued(self.data(c, message() + b".\r\n"))
        f = d.wait_messages(1)[0]
        seen = f.get("X-Seen-Client")
        self.assertTrue(seen.startswith("addr=127.0.0.11 port="), seen)
        port = int(re.search(r"port=(\d+)", seen).group(1))
        self.assertEqual(port, c.sock.getsockname()[1],
                         "the client's own port, not haproxy's")
        # Trust follows the client, not the (trusted) balancer.
        c2 = self.via(h, source="127.0.0.12")
        c2.hello()
        self.assertReply(c2.cmd("MAIL FROM:<a@example.net>"), 250)
        self.assertReply(c2.cmd("RCPT TO:<x@elsewhere.test>"), 554,
                         "5.7.1")

    # -- hand-made headers

    def test_v1_and_v2_by_hand_with_pipelined_command(self):
        d = self.pposternd()
        for hdr, ip in (
                (b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 25\r\n", "192.0.2.7"),
                (v2_tcp4("192.0.2.8", 4712), "192.0.2.8"),
                (v2_tcp4("192.0.2.9", 4713, tlvs=b"\x01\x00\x02h2"
                         b"\x03\x00\x04\xde\xad\xbe\xef"), "192.0.2.9"),
                (b"PROXY TCP6 2001:db8::7 ::1 4714 25\r\n", "2001:db8::7"),
                (v2_tcp6("2001:db8::8", 4715), "2001:db8::8")):
            c = self.raw(d)
            c.send(hdr + b"EHLO client.test\r\n")
            self.assertReply(c.greeting(), 220)
            self.assertReply(c.reply(), 250)
            c.cmd("QUIT")
            d.wait_log(r"connect from unknown\[%s\] \(via proxy "
                       r"127\.0\.0\.1\)" % re.escape(ip))

    def test_local_and_unknown_keep_the_peer(self):
        d = self.pposternd()
        for hdr in (b"PROXY UNKNOWN\r\n",
                    b"PROXY UNKNOWN 192.0.2.7 127.0.0.1 1 25\r\n",
                    v2_header(0, 0x00, b""),
                    v2_header(0, 0x11, b"\xc0\x00\x02\x07" * 3),
                    v2_header(1, 0x00, b"")):
            c = self.raw(d)
            c.send(hdr)
            c.hello()
            f = self.deliver(c, d, n=d.count() + 1)
            self.assertEqual(parse_received(f.get("Received"))["ip"],
                             "127.0.0.1", hdr)
        self.assertEqual(d.log_matches(r"192\.0\.2\.7"), [])

    def test_greeting_waits_for_the_header(self):
        d = self.pposternd()
        c = self.raw(d)
        self.assertNoReply(c, 0.5)
        hdr = b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 25\r\n"
        c.send(hdr[:20])
        self.assertNoReply(c, 0.3)
        c.send(hdr[20:])
        self.assertReply(c.greeting(), 220)

    def refused(self, d, data, log, close=False):
        c = self.raw(d)
        c.send(data)
        if close:
            c.sock.shutdown(socket.SHUT_WR)
        got = self.assertClosed(c, timeout=5)
        self.assertEqual(got, b"", "nothing is said to a bad header")
        d.wait_log(log)

    def test_bad_headers_close_without_a_word(self):
        d = self.pposternd()
        cases = [
            (b"EHLO client.test\r\n", "not a PROXY header"),
            (b"PROXY TCP4 192.0.2.7 127.0.0.1 4711\r\n", "PROXY v1: want"),
            (b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 25\n",
             "PROXY v1: LF without CR"),
            (b"PROXY TCP4 ::1 127.0.0.1 4711 25\r\n",
             "PROXY v1: bad IPv4 address"),
            (b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 65536\r\n",
             "PROXY v1: bad port"),
            (b"PROXY UNKNOWN " + b"f" * 100 + b"\r\n",
             "PROXY v1: line longer than 107 bytes"),
            (b"PROXY TCP4 " + b"1" * 200,
             "PROXY v1: line longer than 107 bytes"),
            (b"\r\n\r\n\x00\r\nQUIT\x0b\x21\x11\x00\x0c",
             "not a PROXY header"),
            (b"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c",
             "PROXY v2: unknown version"),
            (v2_header(1, 0x12, b"\x00" * 12), "PROXY v2: not a stream"),
            (v2_header(1, 0x11, b"\x00" * 11),
             "PROXY v2: address block too short"),
            (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x04\x01",
             "PROXY v2: header too long"),
            (v2_header(1, 0x11, b"\x00" * 12 + b"\x01\x00\x09ab"),
             "PROXY v2: malformed TLV"),
        ]
        for data, why in cases:
            self.refused(d, data, r"warning: bad PROXY header from "
                         r"127\.0\.0\.1: %s" % re.escape(why))
        self.assertEqual(d.log_matches(r"\]: connect from"), [])

    def test_truncated_header(self):
        d = self.pposternd()
        # the client goes away in the middle
        self.refused(d, b"PROXY TCP4 192.0.2.7 1", r"warning: lost "
                     r"connection while reading the PROXY header from "
                     r"127\.0\.0\.1", close=True)
        # or stops sending: closed at the timeout, without a reply
        c = self.raw(d)
        c.send(v2_tcp4("192.0.2.7", 4711)[:20])
        t0 = time.monotonic()
        got = self.assertClosed(c, timeout=6)
        self.assertEqual(got, b"")
        self.assertGreater(time.monotonic() - t0, 1.5)
        d.wait_log(r"warning: no PROXY header from 127\.0\.0\.1 within "
                   r"2000ms")

    def test_slow_header_is_timed_as_a_whole(self):
        d = self.pposternd(smtp={"proxy_timeout": Raw("1s")})
        c = self.raw(d)
        hdr = b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 25\r\n"
        t0 = time.monotonic()
        closed = False
        for b in hdr:
            try:
                c.send(bytes([b]))
            except OSError:
                closed = True
                break
            time.sleep(0.1)  # each byte well within the timeout
            if time.monotonic() - t0 > 3:
                break
        if not closed:
            got = self.assertClosed(c, timeout=3)
            self.assertNotIn(b"220", got)
        self.assertLess(time.monotonic() - t0, 3.5)
        d.wait_log(r"no PROXY header from 127\.0\.0\.1 within 1000ms")
        self.assertEqual(d.log_matches(r"192\.0\.2\.7"), [])

    def test_unlisted_host_header_is_a_bad_command(self):
        d = self.pposternd(smtp={"proxy_protocol_hosts": ["10.0.0.0/8"]})
        c = self.raw(d)
        self.assertReply(c.greeting(), 220)
        self.assertReply(c.cmd("PROXY TCP4 192.0.2.7 127.0.0.1 4711 25"),
                         500, "5.5.2")
        self.assertReply(c.cmd("EHLO client.test"), 250)
        # A v2 header reads as two empty lines, a line with a NUL, and
        # QUIT: what its signature was made for.
        c2 = self.raw(d)
        self.assertReply(c2.greeting(), 220)
        c2.send(v2_tcp4("192.0.2.7", 4711))
        codes = [c2.reply().code for _ in range(4)]
        self.assertEqual(codes, [500, 500, 500, 221])
        self.assertClosed(c2)
        self.assertEqual(d.log_matches(r"192\.0\.2\.7"), [])

    def test_connection_count_moves_to_the_client(self):
        d = self.pposternd(smtp={"max_connections_per_ip": 2})
        held = []
        for _ in range(2):
            c = self.raw(d)
            c.send(v2_tcp4("192.0.2.7", 4711))
            self.assertReply(c.greeting(), 220)
            held.append(c)
        c = self.raw(d)
        c.send(v2_tcp4("192.0.2.7", 4712))
        r = c.greeting()
        self.assertReply(r, 421, "4.7.0")
        self.assertIn("too many connections from 192.0.2.7", r.text)
        self.assertClosed(c)
        # other clients through the same balancer are not limited by it
        for i in range(3):
            c = self.raw(d)
            c.send(v2_tcp4("192.0.2.%d" % (20 + i), 4711))
            self.assertReply(c.greeting(), 220)
            held.append(c)
        d.wait_log(r"warning: too many connections from 192\.0\.2\.7 "
                   r"\(via proxy 127\.0\.0\.1\)")

    def test_xclient_authorisation_follows_the_presented_client(self):
        d = self.pposternd(smtp={"xclient_hosts": ["192.0.2.0/24"]})
        c = self.raw(d)
        c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 25\r\n")
        ehlo = c.hello()
        self.assertIn("XCLIENT ADDR NAME HELO PROTO PORT LOGIN", ehlo.lines)
        self.assertReply(c.cmd("XCLIENT ADDR=198.51.100.1"), 220)
        # a second XCLIENT is still allowed: decided at connect
        self.assertReply(c.cmd("XCLIENT ADDR=198.51.100.2"), 220)
        c2 = self.raw(d)
        c2.send(b"PROXY TCP4 198.51.100.1 127.0.0.1 4711 25\r\n")
        ehlo = c2.hello()
        self.assertNotIn("XCLIENT ADDR NAME HELO PROTO PORT LOGIN",
                         ehlo.lines)
        self.assertReply(c2.cmd("XCLIENT ADDR=192.0.2.7"), 550, "5.7.0")
