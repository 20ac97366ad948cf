"""Limits and hostile input: long lines, bare CR/LF, message size,
recipient count, error count, timeouts, vanishing clients, connection
limits.  Each test configures only the limit it exercises, so the reply
it gets can only come from that limit.
"""

import os
import socket
import time

from harness import PosterndTest, Raw, lf, message

OK_BODY = b"Subject: ok\r\n\r\nfine\r\n.\r\n"


class LineLengthTest(PosterndTest):
    def setUp(self):
        self.d = self.posternd(smtp={"max_errors": 100})

    def test_command_line_too_long(self):
        c = self.raw(self.d)
        c.hello()
        line = b"NOOP " + b"x" * (600 - 5 - 2) + b"\r\n"
        self.assertEqual(len(line), 600)
        self.assertReply(c.cmd(line[:-2]), 500, "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0",
                         "session continues after the long line")
        # What follows octet 512 is discarded, not read as a command.
        self.assertReply(c.cmd(b"NOOP " + b"y" * 520 + b"QUIT"), 500,
                         "5.5.2")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        # A long line in the middle of a transaction keeps the envelope.
        self.envelope(c)
        self.assertReply(c.cmd(b"RCPT TO:<" + b"z" * 1100 + b"@example.org>"),
                         500, "5.5.2")
        self.assertQueued(self.data(c, OK_BODY))
        f, = self.d.messages()
        self.assertEqual(f.get("Delivered-To"), "user@example.org")

    def test_command_line_at_limit_accepted(self):
        c = self.raw(self.d)
        c.hello()
        line = b"NOOP " + b"x" * (512 - 5 - 2)
        self.assertEqual(len(line) + 2, 512)
        r = c.cmd(line)
        self.assertFalse(r.code == 500 and r.enh == "5.5.2",
                         "512 octets incl. CRLF refused as too long: %r" % r)

    def test_dsn_rcpt_line_over_512_accepted(self):
        # RFC 3461 section 4: MAIL and RCPT may be 500 octets longer for
        # the DSN parameters; ORCPT alone may carry a 500-octet address.
        c = self.raw(self.d)
        c.hello()
        self.envelope(c, rcpts=())
        orcpt = b"rfc822;" + b"o" * 480 + b"@example.org"
        line = b"RCPT TO:<user@example.org> NOTIFY=FAILURE ORCPT=" + orcpt
        self.assertGreater(len(line) + 2, 512)
        self.assertReply(c.cmd(line), 250, "2.1.5")
        # ... but not more than that.
        self.assertReply(c.cmd(b"RCPT TO:<user@example.org> ORCPT=rfc822;"
                               + b"o" * 1100), 500, "5.5.2")

    def test_text_line_too_long(self):
        c = self.raw(self.d)
        c.hello()
        self.envelope(c)
        body = (b"Subject: long line\r\n\r\n" + b"a" * 1001 + b"\r\n"
                b"after\r\n.\r\n")
        self.assertReply(self.data(c, body), 550, "5.6.0")
        self.assertNothingDelivered(self.d)
        # 998 + CRLF = 1000 octets is the largest line allowed.
        self.envelope(c)
        body = b"Subject: max line\r\n\r\n" + b"b" * 998 + b"\r\n.\r\n"
        self.assertQueued(self.data(c, body))
        f, = self.d.messages()
        self.assertIn(b"\n" + b"b" * 998 + b"\n", f.raw)


class LineEndingTest(PosterndTest):
    def send(self, d, body):
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        return c, self.data(c, body)

    def test_bare_lf_normalized_by_default(self):
        d = self.posternd()
        c, r = self.send(d, b"Subject: bare lf\r\n\r\nline1\nline2\r\n"
                            b"line3\n\r\n.\r\n")
        self.assertQueued(r)
        f, = d.messages()
        self.assertTrue(f.raw.endswith(
            b"Subject: bare lf\n\nline1\nline2\nline3\n\n"), f.raw[-80:])
        self.assertNotIn(b"\r", f.raw)

    def test_bare_lf_rejected_when_configured(self):
        d = self.posternd(smtp={"bare_lf": "reject"})
        c, r = self.send(d, b"Subject: bare lf\r\n\r\nline1\nline2\r\n"
                            b".\r\n")
        self.assertReply(r, 550, "5.6.0")
        self.assertNothingDelivered(d)
        # The session is still usable for a clean message.
        self.envelope(c)
        self.assertQueued(self.data(c, OK_BODY))
        self.assertEqual(len(d.messages()), 1)

    def test_bare_cr_rejected(self):
        d = self.posternd()
        for body in (b"Subject: cr\r\n\r\nline1\rline2\r\n.\r\n",
                     b"Subject: cr\r\n\r\nends with cr\r\r\n.\r\n",
                     b"Subject:\rcr in header\r\n\r\nx\r\n.\r\n"):
            with self.subTest(body=body):
                c, r = self.send(d, body)
                self.assertReply(r, 550, "5.6.0")
                c.close()
        self.assertNothingDelivered(d)


class SizeLimitTest(PosterndTest):
    def setUp(self):
        self.d = self.posternd(smtp={"max_message_size": Raw("64k"),
                                     "spool_memory": Raw("16k"),
                                     "max_errors": 100})

    def test_ehlo_size(self):
        c = self.raw(self.d)
        r = c.hello()
        self.assertIn("SIZE 65536", r.lines[1:])

    def test_size_parameter_too_big(self):
        c = self.raw(self.d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net> SIZE=70000"),
                         552, "5.3.4")
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net> SIZE=1000"),
                         250, "2.1.0")

    def test_message_too_big(self):
        c = self.raw(self.d)
        c.hello()
        self.envelope(c)
        body = b"Subject: big\r\n\r\n" + (b"c" * 98 + b"\r\n") * 1000
        self.assertReply(self.data(c, body + b".\r\n"), 552, "5.3.4")
        self.assertNothingDelivered(self.d)
        self.assertEqual(os.listdir(self.d.spool), [])
        # Below the limit (and above spool_memory) is fine.
        self.envelope(c)
        body = b"Subject: fits\r\n\r\n" + (b"d" * 98 + b"\r\n") * 500
        self.assertQueued(self.data(c, body + b".\r\n"))
        f, = self.d.messages()
        self.assertTrue(f.raw.endswith(lf(body)))

    def test_bdat_too_big(self):
        c = self.raw(self.d)
        c.hello()
        self.envelope(c)
        chunk = b"Subject: big\r\n\r\n" + (b"e" * 98 + b"\r\n") * 700
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        self.assertReply(c.reply(), 552, "5.3.4")
        # The whole chunk was consumed: the next command is understood.
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertNothingDelivered(self.d)


class RecipientLimitTest(PosterndTest):
    def test_too_many_recipients(self):
        d = self.posternd(smtp={"max_recipients": 3})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        rcpts = ["r%d@example.org" % i for i in range(5)]
        for i, r in enumerate(rcpts):
            rep = c.cmd("RCPT TO:<%s>" % r)
            if i < 3:
                self.assertReply(rep, 250, "2.1.5", r)
            else:
                self.assertReply(rep, 452, "4.5.3", r)
        self.assertQueued(self.data(c, OK_BODY))
        f, = d.messages()
        self.assertEqual(f.get_all("Delivered-To"), rcpts[:3])

    def test_452_is_not_a_client_error(self):
        # A big mailing splits itself on 452 4.5.3; those replies must
        # not use up max_errors and cut the session.
        d = self.posternd(smtp={"max_recipients": 2, "max_errors": 3})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        for i in range(20):
            rep = c.cmd("RCPT TO:<r%d@example.org>" % i)
            self.assertReply(rep, 250 if i < 2 else 452)
        self.assertQueued(self.data(c, OK_BODY))
        self.assertReply(c.cmd("NOOP"), 250)


class ErrorLimitTest(PosterndTest):
    def test_too_many_errors(self):
        d = self.posternd(smtp={"max_errors": 3})
        c = self.raw(d)
        c.hello()
        replies = []
        for i in range(6):
            try:
                r = c.cmd("BOGUS%d" % i)
            except Exception as e:
                self.fail("connection ended without a 421 after %r: %s"
                          % (replies, e))
            replies.append(r)
            if r.code == 421:
                break
        self.assertReply(replies[-1], 421, "4.7.0", "after %r" % replies)
        errors = len(replies) - 1
        self.assertIn(errors, (2, 3), "error replies before 421: %r"
                      % replies)
        for r in replies[:-1]:
            self.assertReply(r, 500, "5.5.2")
        self.assertClosed(c, msg="after 421")


class TimeoutTest(PosterndTest):
    def test_command_timeout(self):
        d = self.posternd(smtp={"command_timeout": Raw("2s")})
        c = self.raw(d)
        c.hello()
        t0 = time.monotonic()
        r = c.reply()
        elapsed = time.monotonic() - t0
        self.assertReply(r, 421, "4.4.2")
        self.assertTrue(1.5 <= elapsed <= 5, "421 after %.1fs" % elapsed)
        self.assertClosed(c)

    def test_data_timeout(self):
        d = self.posternd(smtp={"data_timeout": Raw("2s"),
                                "command_timeout": Raw("60s")})
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: stalled\r\n\r\nhalf a mess")
        t0 = time.monotonic()
        r = c.reply()
        elapsed = time.monotonic() - t0
        self.assertReply(r, 421, "4.4.2")
        self.assertTrue(1.5 <= elapsed <= 5, "421 after %.1fs" % elapsed)
        self.assertClosed(c)
        d.wait_log(r"disconnect from ")
        self.assertNothingDelivered(d)


class DisconnectTest(PosterndTest):
    def test_disconnect_mid_data(self):
        d = self.posternd()
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: cut off\r\n\r\n" + b"x" * 5000 + b"\r\nmore")
        c.close()
        d.wait_log(r"disconnect from ")
        self.assertNothingDelivered(d)
        self.assertEqual(os.listdir(os.path.join(d.maildir, "tmp")), [],
                         "temp file left in maildir tmp/")
        # The next client is served.
        c2 = self.raw(d)
        c2.hello()
        self.envelope(c2)
        self.assertQueued(self.data(c2, OK_BODY))
        self.assertEqual(len(d.messages()), 1)

    def test_reset_mid_data(self):
        d = self.posternd()
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: reset\r\n\r\npartial")
        # RST instead of FIN.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
        d.wait_log(r"disconnect from ")
        self.assertNothingDelivered(d)
        c2 = self.raw(d)
        c2.hello()


class ConnectionLimitTest(PosterndTest):
    def connect(self, d, source):
        c = self.raw(d, source=source)
        return c, c.greeting()

    def test_per_ip_limit(self):
        d = self.posternd(smtp={"max_connections_per_ip": 3})
        held = []
        for _ in range(3):
            c, g = self.connect(d, "127.0.0.1")
            self.assertReply(g, 220)
            held.append(c)
        c, g = self.connect(d, "127.0.0.1")
        self.assertReply(g, 421, "4.7.0", "4th connection from 127.0.0.1")
        self.assertClosed(c)
        # Other addresses still get in.
        for src in ("127.0.0.2", "127.0.0.3"):
            c, g = self.connect(d, src)
            self.assertReply(g, 220, msg="from " + src)
        # A slot freed by QUIT is usable again (once the server noticed).
        self.assertReply(held[0].cmd("QUIT"), 221)
        self.assertClosed(held[0])
        deadline = time.monotonic() + 5
        while True:
            c, g = self.connect(d, "127.0.0.1")
            if g.code == 220 or time.monotonic() > deadline:
                break
            c.close()
            time.sleep(0.1)
        self.assertReply(g, 220, msg="after a slot was freed")

    def test_total_limit(self):
        d = self.posternd(smtp={"max_connections": 3})
        for src in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
            c, g = self.connect(d, src)
            self.assertReply(g, 220, msg="from " + src)
        c, g = self.connect(d, "127.0.0.4")
        self.assertReply(g, 421, "4.7.0", "4th connection in total")
        self.assertClosed(c)
