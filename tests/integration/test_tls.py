"""STARTTLS: certificate checked against the test CA, the Received header
after TLS, the session reset, commands pipelined behind STARTTLS thrown
away (CVE-2011-0411), the handshake timeout, STARTTLS without tls{}.
"""

import signal
import socket
import ssl
import time

from harness import (HOSTNAME, PosterndTest, Raw, TestCA, lf, message,
                     parse_received)
from test_smtp_basic import smtplib_send


class StartTlsTest(PosterndTest):
    def setUp(self):
        self.d = self.posternd(tls=True)
        self.ca = TestCA.get()

    def test_smtplib_starttls_verified(self):
        s = self.smtp(self.d)
        s.ehlo("client.test")
        self.assertTrue(s.has_extn("starttls"), s.esmtp_features)
        code, resp = s.starttls(context=self.ca.context())
        self.assertEqual(code, 220)
        self.assertTrue(resp.decode().startswith("2.0.0"), resp)
        # starttls() verified the chain (test CA) and the name (IP SAN).
        version, cipher = s.sock.version(), s.sock.cipher()[0]
        s.ehlo("client.test")
        self.assertFalse(s.has_extn("starttls"),
                         "STARTTLS offered again under TLS")
        for kw in ("pipelining", "size", "8bitmime", "smtputf8", "chunking"):
            self.assertTrue(s.has_extn(kw), kw)
        msg = message(subject="over tls")
        qid = smtplib_send(self, s, "sender@example.net",
                           ["user@example.org"], msg)
        f, = self.d.messages()
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["id"], qid, rcv["raw"])
        self.assertEqual(rcv["with"], "ESMTPS", rcv["raw"])
        self.assertIsNotNone(rcv["tls"], "no (using TLS... with cipher ...)"
                             " comment: " + rcv["raw"])
        self.assertEqual(rcv["tls"][0], version, rcv["raw"])
        self.assertEqual(rcv["tls"][1], cipher, rcv["raw"])
        self.assertTrue(f.raw.endswith(lf(msg)))

    def test_certificate_name_and_chain(self):
        c = self.raw(self.d)
        c.hello()
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        c.starttls(self.ca.context(), server_hostname=HOSTNAME)
        cert = c.sock.getpeercert()
        subject = dict(x[0] for x in cert["subject"])
        self.assertEqual(subject["commonName"], HOSTNAME)
        r = c.cmd("EHLO client.test")
        self.assertReply(r, 250)
        self.assertEqual(r.lines[0].split()[0], HOSTNAME)

    def test_untrusted_ca_fails_handshake(self):
        c = self.raw(self.d)
        c.hello()
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        ctx = ssl.create_default_context()  # system CAs only
        with self.assertRaises(ssl.SSLCertVerificationError):
            c.starttls(ctx, server_hostname=HOSTNAME)
        # ...and posternd carries on serving others.
        c2 = self.raw(self.d)
        c2.hello()

    def test_session_reset_after_tls(self):
        c = self.raw(self.d)
        c.hello("before-tls.test")
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        c.starttls(self.ca.context())
        # No EHLO yet after the handshake: the earlier one is forgotten.
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 503,
                         "5.5.1")
        r = c.cmd("EHLO client.test")
        self.assertReply(r, 250)
        self.assertNotIn("STARTTLS", [l.split()[0].upper()
                                      for l in r.lines[1:]])
        self.assertReply(c.cmd("STARTTLS"), 503, "5.5.1")
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250,
                         "2.1.0")

    def test_quit_under_tls(self):
        s = self.smtp(self.d)
        s.ehlo("client.test")
        s.starttls(context=self.ca.context())
        s.ehlo("client.test")
        code, resp = s.quit()  # reads the 221 over TLS
        self.assertEqual((code, resp.decode()[:5]), (221, "2.0.0"))

    def test_pipelined_commands_after_starttls_discarded(self):
        variants = [
            b"STARTTLS\r\nRSET\r\n",
            b"STARTTLS\r\nMAIL FROM:<attacker@example.net>\r\n",
            b"STARTTLS\r\nEHLO injected.test\r\n"
            b"MAIL FROM:<attacker@example.net>\r\n"
            b"RCPT TO:<user@example.org>\r\n",
        ]
        for v in variants:
            with self.subTest(pipelined=v):
                c = self.raw(self.d)
                c.hello()
                c.send(v)  # one write: the commands share a packet
                self.assertReply(c.reply(), 220, "2.0.0")
                # starttls() also fails if a plaintext reply followed.
                c.starttls(self.ca.context())
                r = c.cmd("EHLO client.test")
                self.assertReply(r, 250, msg="first reply after TLS")
                self.assertEqual(r.lines[0].split()[0], HOSTNAME,
                                 "first reply after TLS is not the EHLO's:"
                                 " %r" % r)
                self.assertGreater(len(r.lines), 1, "not an EHLO reply: %r"
                                   % r)
                # A pipelined MAIL FROM would make this one nested (503).
                self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"),
                                 250, "2.1.0")
                self.assertReply(c.cmd("RCPT TO:<user@example.org>"), 250,
                                 "2.1.5")
                # (QUIT under TLS has its own test.)
                self.assertReply(c.cmd("RSET"), 250, "2.0.0")
                c.close()
        self.assertNothingDelivered(self.d)


class StartTlsConfigTest(PosterndTest):
    def test_no_tls_configured(self):
        d = self.posternd()
        c = self.raw(d)
        r = c.hello()
        self.assertNotIn("STARTTLS", [l.split()[0].upper()
                                      for l in r.lines[1:]])
        self.assertReply(c.cmd("STARTTLS"), 502, "5.5.1")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")

    def test_tls_handshake_timeout(self):
        # Only tls_timeout is short, so the close is its doing.
        d = self.posternd(tls=True, smtp={"tls_timeout": Raw("2s"),
                                          "command_timeout": Raw("60s")})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        t0 = time.monotonic()
        closed, got = c.wait_closed(2 + 4)
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, "still open %.1fs after STARTTLS with no "
                        "handshake (tls_timeout = 2s)" % elapsed)
        self.assertGreater(elapsed, 1.0, "closed too early")
        # Still serving.
        c2 = self.raw(d)
        c2.hello()

    def test_command_timeout_under_tls(self):
        d = self.posternd(tls=True, smtp={"command_timeout": Raw("2s")})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        c.starttls(TestCA.get().context())
        self.assertReply(c.cmd("EHLO client.test"), 250)
        t0 = time.monotonic()
        r = c.reply()  # the 421 must come through TLS, not be lost
        elapsed = time.monotonic() - t0
        self.assertReply(r, 421, "4.4.2")
        self.assertTrue(1.5 <= elapsed <= 5, "421 after %.1fs" % elapsed)
        self.assertClosed(c)

    def test_sigterm_idle_tls_session(self):
        d = self.posternd(tls=True)
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        c.starttls(TestCA.get().context())
        self.assertReply(c.cmd("EHLO client.test"), 250)
        d.signal(signal.SIGTERM)
        self.assertReply(c.reply(), 421, "4.3.2")
        self.assertClosed(c)
        self.assertEqual(d.wait_exit(10), 0)

    def test_garbage_instead_of_handshake(self):
        d = self.posternd(tls=True)
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("STARTTLS"), 220, "2.0.0")
        c.send(b"this is not a TLS ClientHello\r\n" * 10)
        closed, _ = c.wait_closed(5)
        self.assertTrue(closed, "connection kept after a failed handshake")
        c2 = self.raw(d)
        c2.hello()
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
