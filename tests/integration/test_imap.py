"""IMAP pass-through: postern in front of a private Dovecot, driven with
imaplib and a line-exact raw client (mbox_test.py)."""

import base64
import imaplib
import os
import re
import signal
import socket
import time

import harness
from mbox_test import (LegacyBackend, MailboxTest, backend_ca, client_context,
                       fresh_source, message)


class IMAPFrom(imaplib.IMAP4):
    """imaplib from a chosen loopback source address."""

    def __init__(self, port, source):
        self._src = source
        super().__init__("127.0.0.1", port, timeout=harness.IO_TIMEOUT)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._src, 0))


def plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())


def count_pipes(pid):
    """Pipe descriptors open in process pid (the spliced relay's)."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("pipe:")
        except OSError:
            pass
    return n


def read_exact(r, n):
    """n octets from RawLine r (an IMAP literal)."""
    while len(r.buf) < n:
        chunk = r.sock.recv(1 << 20)
        if not chunk:
            raise harness.ConnectionClosed("closed inside a literal")
        r.buf += chunk
    data, r.buf = r.buf[:n], r.buf[n:]
    return data


class TestIMAP(MailboxTest):
    PROTO = "imap"

    def imap(self, source=None):
        c = IMAPFrom(self.port, source or fresh_source())
        self.addCleanup(self._logout, c)
        return c

    @staticmethod
    def _logout(c):
        try:
            c.logout()
        except Exception:
            pass

    def test_login_select_fetch(self):
        self.start()
        msgs = [message(i) for i in range(3)]
        self.dc.put_messages("alice", msgs)
        c = self.imap()
        caps = set(c.capabilities)
        for cap in ("IMAP4REV1", "AUTH=PLAIN", "ID", "SASL-IR", "LITERAL+"):
            self.assertIn(cap, caps)
        self.assertNotIn("LOGINDISABLED", caps)
        typ, data = c.login("alice", "alicepw")
        self.assertEqual(typ, "OK")
        typ, data = c.select("INBOX")
        self.assertEqual((typ, data[0]), ("OK", b"3"))
        typ, data = c.fetch("2", "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], msgs[1])
        self.wait_log(r"postern/imap\[\d+\]: login: user=<alice>, "
                      r"method=LOGIN, rip=127\.")

    def test_authenticate_plain_both_forms(self):
        self.start()
        c = self.imap()
        # imaplib waits for "+" and sends the response on its own line
        typ, _ = c.authenticate("PLAIN",
                                lambda _: b"\0alice\0alicepw")
        self.assertEqual(typ, "OK")
        self.assertEqual(c.select("INBOX")[0], "OK")
        # SASL-IR: the response on the command line
        r = self.raw(source=fresh_source())
        r.line()
        r.send(b"a AUTHENTICATE PLAIN " + plain("bob", "bobpw") + b"\r\n")
        last = r.until("a ")[-1]
        self.assertRegex(last, r"^a OK ")
        r.send("b SELECT INBOX\r\n")
        self.assertRegex(r.until("b ")[-1], r"^b OK \[READ-WRITE\]")

    def test_append_and_idle_pass_through(self):
        self.start()
        c = self.imap()
        c.login("alice", "alicepw")
        c.create("INBOX")
        body = message(7, size=5000)
        typ, _ = c.append("INBOX", None, None, body)
        self.assertEqual(typ, "OK")
        # a second session in IDLE sees the next APPEND
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN alice alicepw\r\n")
        r.until("a ")
        r.send("b SELECT INBOX\r\n")
        r.until("b OK")
        r.send("c IDLE\r\n")
        self.assertTrue(r.line().startswith("+"))
        c.append("INBOX", None, None, message(8))
        self.assertRegex(r.until("* 2 EXISTS")[-1], r"^\* 2 EXISTS")
        r.send("DONE\r\n")
        self.assertRegex(r.until("c ")[-1], r"^c OK")
        # non-synchronising literal through the relay
        lit = message(9)
        r.send(b"d APPEND INBOX {%d+}\r\n" % len(lit) + lit + b"\r\n")
        self.assertRegex(r.until("d ")[-1], r"^d OK")
        typ, data = c.select("INBOX")
        self.assertEqual(data[0], b"3")
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(data[0][1], body)

    def _fetch_all(self, r, n, tag):
        """FETCH 1:n BODY.PEEK[] on r; the bodies in order."""
        r.send("%s FETCH 1:%d BODY.PEEK[]\r\n" % (tag, n))
        bodies = []
        while True:
            ln = r.line()
            if ln.startswith(tag + " "):
                self.assertRegex(ln, r"^%s OK" % tag)
                return bodies
            m = re.match(r"^\* \d+ FETCH \(BODY\[\] \{(\d+)\}$", ln)
            self.assertIsNotNone(m, ln)
            bodies.append(read_exact(r, int(m.group(1))))
            self.assertEqual(r.line(), ")")

    def test_large_fetch_and_idle_spliced(self):
        # both legs in clear: the relay splices; a 20 MB FETCH arrives
        # whole and in order, IDLE still works on the same session
        self.start()
        msgs = [message(i, size=50000) for i in range(400)]
        self.dc.put_messages("alice", msgs)
        pipes = count_pipes(self.d.pid)
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN alice alicepw\r\nb SELECT INBOX\r\n")
        self.assertRegex(r.until("b ")[-1], r"^b OK")
        self.assertEqual(self._fetch_all(r, 400, "c"), msgs)
        # one pipe per direction, made when data first flowed
        self.assertEqual(count_pipes(self.d.pid), pipes + 4)
        r.send("d IDLE\r\n")
        self.assertTrue(r.line().startswith("+"))
        c = self.imap()
        c.login("alice", "alicepw")
        c.append("INBOX", None, None, message(401))
        self.assertRegex(r.until("* 401 EXISTS")[-1], r"^\* 401 EXISTS")
        r.send("DONE\r\n")
        self.assertRegex(r.until("d ")[-1], r"^d OK")
        r.send("e LOGOUT\r\n")
        self.assertRegex(r.until("e ")[-1], r"^e OK")
        self.assertTrue(r.closed())
        self.wait_log(r"disconnect from \[127[^]]*\]:\d+: \w+ closed, "
                      r"user=<alice>, in=\d+, out=(\d{8,}), relay=splice")
        # the session's pipes went with it (the APPEND session keeps
        # its own four)
        harness.wait_until(
            lambda: count_pipes(self.d.pid) <= pipes + 4, 5,
            what="pipes of the first session closed")

    def test_client_gone_mid_fetch_spliced(self):
        # the client closes while 20 MB are on their way: the session
        # ends cleanly, nothing leaks, the next session works
        self.start()
        self.dc.put_messages("alice", (message(i, size=50000)
                                       for i in range(400)))
        pipes = count_pipes(self.d.pid)
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN alice alicepw\r\nb SELECT INBOX\r\n")
        r.until("b ")
        r.send("c FETCH 1:400 BODY.PEEK[]\r\n")
        r.line()
        r.close()
        self.wait_log(r"disconnect from .*user=<alice>, .*relay=splice")
        harness.wait_until(lambda: count_pipes(self.d.pid) == pipes,
                           5, what="pipes closed")
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN alice alicepw\r\nb SELECT INBOX\r\n")
        self.assertRegex(r.until("b ")[-1], r"^b OK \[READ-WRITE\]")

    def test_idle_timeout_spliced(self):
        self.start(block={"idle_timeout": harness.Raw("1s")})
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN alice alicepw\r\nb SELECT INBOX\r\n")
        r.until("b ")
        r.send("c IDLE\r\n")
        self.assertTrue(r.line().startswith("+"))
        t0 = time.monotonic()
        self.assertTrue(r.closed(timeout=10))
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.wait_log(r"disconnect from .*: idle timeout, user=<alice>, "
                      r".*relay=splice")

    def test_large_fetch_tls_client_leg(self):
        # TLS on the client leg only: the buffered relay carries it
        self.start(tls=True)
        msgs = [message(i, size=50000) for i in range(200)]
        self.dc.put_messages("alice", msgs)
        r = self.raw(port=self.tls_port, source=fresh_source(),
                     tls_context=client_context())
        r.line()
        r.send("a LOGIN alice alicepw\r\nb SELECT INBOX\r\n")
        self.assertRegex(r.until("b ")[-1], r"^b OK")
        self.assertEqual(self._fetch_all(r, 200, "c"), msgs)
        r.send("d IDLE\r\n")
        self.assertTrue(r.line().startswith("+"))
        r.send("DONE\r\n")
        self.assertRegex(r.until("d ")[-1], r"^d OK")
        r.send("e LOGOUT\r\n")
        r.until("e ")
        self.wait_log(r"login: user=<alice>.* tls=yes, backend_tls=no")
        self.wait_log(r"disconnect from .*user=<alice>, in=\d+, "
                      r"out=\d{7,}, relay=buffer")

    def test_relay_splice_off(self):
        self.start(block={"relay_splice": harness.Raw("no")})
        msgs = [message(i, size=50000) for i in range(40)]
        self.dc.put_messages("alice", msgs)
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN alice alicepw\r\nb SELECT INBOX\r\n")
        r.until("b ")
        self.assertEqual(self._fetch_all(r, 40, "c"), msgs)
        r.send("d LOGOUT\r\n")
        r.until("d ")
        self.wait_log(r"disconnect from .*user=<alice>, .*relay=buffer")

    def test_wrong_password_and_unknown_user_look_alike(self):
        self.start()
        texts = []
        for user, pw in (("alice", "wrong"), ("nosuchuser", "x")):
            r = self.raw(source=fresh_source())
            r.line()
            r.send("a LOGIN %s %s\r\n" % (user, pw))
            texts.append(r.until("a ")[-1])
        self.assertEqual(texts[0], texts[1])
        self.assertEqual(texts[0],
                         "a NO [AUTHENTICATIONFAILED] Authentication failed.")
        self.wait_log(r"authentication failed: user=<alice>, method=LOGIN, "
                      r"rip=127\.[0-9.]+, rport=\d+, failures=1/1")
        self.wait_log(r"authentication failed: user=<nosuchuser>")

    def test_backend_down_is_a_clean_error(self):
        self.start(dovecot=False,
                   backend={"server": "127.0.0.1:%d" % harness.free_port()})
        r = self.raw()
        r.line()
        r.send("a LOGIN alice alicepw\r\n")
        self.assertEqual(r.until("a ")[-1],
                         "a NO [UNAVAILABLE] Server temporarily unavailable, "
                         "try again later.")
        r.send("b NOOP\r\n")
        self.assertEqual(r.until("b ")[-1], "b OK NOOP completed.")
        self.wait_log(r"login failed, backend default\[127\.0\.0\.1:\d+\] "
                      r"unavailable: user=<alice>, rip=127\.0\.0\.1 "
                      r"\(Connection refused\)")

    def test_user_map_picks_the_backend_and_reloads_on_sighup(self):
        umap = os.path.join(harness.make_dir("umap."), "users")
        with open(umap, "w") as f:
            f.write("# user backend\nALICE store\n")
        os.chmod(os.path.dirname(umap), 0o755)
        os.chmod(umap, 0o644)
        self.dc = None
        dc = self.dovecot()
        down = harness.free_port()
        self.start(dovecot=False, block={"user_map": umap}, backends={
            "default": {"server": "127.0.0.1:%d" % down,
                        "tls": harness.Raw("none")},
            "store": {"server": "127.0.0.1:%d" % dc.imap_port,
                      "tls": harness.Raw("none")}})
        c = self.imap()
        self.assertEqual(c.login("alice", "alicepw")[0], "OK")
        self._logout(c)
        r = self.raw()
        r.line()
        r.send("a LOGIN bob bobpw\r\n")
        self.assertRegex(r.until("a ")[-1], r"^a NO \[UNAVAILABLE\]")
        with open(umap, "w") as f:
            f.write("alice store\nbob store\n")
        self.d.signal(signal.SIGHUP)
        self.wait_log(r"SIGHUP: rules reloaded")
        c = self.imap()
        self.assertEqual(c.login("bob", "bobpw")[0], "OK")
        self._logout(c)
        # a broken map is refused and the last good one stays
        with open(umap, "w") as f:
            f.write("bob nosuch\n")
        self.d.signal(signal.SIGHUP)
        self.wait_log(r"SIGHUP: user map refused, the old one stays "
                      r"active: .*users:1: no backend named 'nosuch'")
        c = self.imap()
        self.assertEqual(c.login("bob", "bobpw")[0], "OK")
        self._logout(c)

    def test_backend_by_host_name(self):
        dc = self.dovecot()
        self.start(dovecot=False, backends={"default": {
            "server": "localhost:%d" % dc.imap_port,
            "tls": harness.Raw("none")}})
        c = self.imap()
        self.assertEqual(c.login("alice", "alicepw")[0], "OK")
        self._logout(c)

    def test_backend_without_auth_plain_gets_authenticate_login(self):
        # SASL LOGIN only: no AUTH=PLAIN (and LOGINDISABLED: Dovecot's
        # LOGIN command needs PLAIN), so postern uses AUTHENTICATE LOGIN
        dc = self.dovecot(mechanisms="login")
        self.start(dovecot=False, backends={"default": {
            "server": "127.0.0.1:%d" % dc.imap_port,
            "tls": harness.Raw("none")}})
        c = self.imap()
        self.assertEqual(c.login("alice", "alicepw")[0], "OK")
        self.assertEqual(c.select("INBOX")[0], "OK")
        self._logout(c)
        c = self.imap()
        with self.assertRaises(imaplib.IMAP4.error):
            c.login("alice", "wrong")
        harness.wait_until(lambda: "method=LOGIN" in dc.log(),
                           harness.IO_TIMEOUT, what="dovecot's log line")

    def test_backend_without_sasl_gets_the_login_command(self):
        legacy = LegacyBackend("imap")
        self.addCleanup(legacy.stop)
        self.start(dovecot=False, backends={"default": {
            "server": "127.0.0.1:%d" % legacy.port,
            "forward_client": False, "tls": harness.Raw("none")}})
        c = self.imap()
        self.assertEqual(c.login("alice", "alicepw")[0], "OK")
        self.assertEqual(c.noop()[0], "OK")
        self.assertIn('P2 LOGIN "alice" "alicepw"', legacy.seen)
        self.assertFalse([ln for ln in legacy.seen if "AUTHENTICATE" in ln])

    def test_commands_behind_a_failed_login_stay_here(self):
        self.start()
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN alice wrong\r\nb SELECT INBOX\r\nc NOOP\r\n")
        self.assertRegex(r.until("a ")[-1], r"^a NO \[AUTHENTICATIONFAILED\]")
        self.assertEqual(r.until("b ")[-1], "b BAD Log in first.")
        self.assertEqual(r.until("c ")[-1], "c OK NOOP completed.")
        # ... and behind a good one they reach the backend
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN alice alicepw\r\nb SELECT INBOX\r\n")
        self.assertRegex(r.until("a ")[-1], r"^a OK ")
        self.assertRegex(r.until("b ")[-1], r"^b OK \[READ-WRITE\]")

    def test_literal_injection(self):
        self.start()
        r = self.raw(source=fresh_source())
        r.line()
        # A literal holding a command line is data, never a command.
        lit = b"x LOGOUT\r\ny NOOP"
        r.send(b"a LOGIN {%d+}\r\n" % len(lit) + lit + b" alicepw\r\n")
        self.assertRegex(r.until("a ")[-1], r"^a NO \[AUTHENTICATIONFAILED\]")
        # a password with CRLF and a command cannot reach the backend
        # as a command either (it goes base64-encoded)
        lit = b"alicepw\r\nz LOGOUT\r\n"
        r.send("b LOGIN alice {%d}\r\n" % len(lit))
        self.assertTrue(r.line().startswith("+"))
        r.send(lit + b"\r\n")
        self.assertRegex(r.until("b ")[-1], r"^b NO \[AUTHENTICATIONFAILED\]")
        r.send("c NOOP\r\n")
        self.assertEqual(r.until("c ")[-1], "c OK NOOP completed.")
        self.assertFalse(re.search(r"[xyz] OK", self.d.log()))
        # Dovecot saw the whole literal as one (wrong) user name
        self.assertIn("user=<x LOGOUT??y NOOP>", self.dc.log())

    def test_starttls_discards_pipelined_plaintext(self):
        self.start(tls=True)
        r = self.raw(source=fresh_source())
        greeting = r.line()
        self.assertIn("STARTTLS", greeting)
        r.send("a STARTTLS\r\nb LOGIN alice alicepw\r\n")
        self.assertEqual(r.line(), "a OK Begin TLS negotiation now.")
        r.starttls(client_context())
        r.send("c CAPABILITY\r\n")
        lines = r.until("c ")
        self.assertFalse(any(ln.startswith("b ") for ln in lines), lines)
        self.assertNotIn("STARTTLS", lines[0])
        self.assertRegex(lines[-1], r"^c OK")

    def test_logindisabled_until_tls(self):
        self.start(tls=True, block={"trusted_networks": None})
        r = self.raw(source=fresh_source())
        greeting = r.line()
        self.assertIn("LOGINDISABLED", greeting)
        self.assertNotIn("AUTH=PLAIN", greeting)
        r.send("a LOGIN alice alicepw\r\n")
        self.assertRegex(r.until("a ")[-1], r"^a NO \[PRIVACYREQUIRED\]")
        r.send("b STARTTLS\r\n")
        self.assertRegex(r.line(), r"^b OK")
        r.starttls(client_context())
        r.send("c CAPABILITY\r\n")
        caps = r.until("c ")[0]
        self.assertIn("AUTH=PLAIN", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        r.send("d LOGIN alice alicepw\r\n")
        self.assertRegex(r.until("d ")[-1], r"^d OK")

    def test_implicit_tls_both_legs(self):
        self.start(tls=True, dovecot_tls=True)
        # re-point the backend at Dovecot's IMAPS, verified by our CA
        self.d.stop()
        self.start_again = None
        port = self.dc.imaps_port
        self.d.extra = self.d.extra.replace(
            "127.0.0.1:%d\";\n    tls = none;" % self.dc.imap_port,
            "127.0.0.1:%d\";\n    tls = implicit;\n    ca_file = \"%s\";"
            % (port, backend_ca()))
        self.assertIn("implicit", self.d.extra)
        self.d.write_config()
        self.d.start()
        harness.wait_until(lambda: harness.is_listening(self.tls_port), 10)
        c = imaplib.IMAP4_SSL("127.0.0.1", self.tls_port,
                              ssl_context=client_context(),
                              timeout=harness.IO_TIMEOUT)
        self.addCleanup(self._logout, c)
        self.assertEqual(c.login("alice", "alicepw")[0], "OK")
        self.assertEqual(c.select("INBOX")[0], "OK")
        self.wait_log(r"login: user=<alice>.* tls=yes, backend_tls=yes")

    def test_backend_starttls_and_bad_certificate_name(self):
        self.start(dovecot_tls=True,
                   backends=None, backend={"tls": harness.Raw("starttls")})
        # no CA given: the system store does not know the test CA
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN alice alicepw\r\n")
        self.assertRegex(r.until("a ")[-1], r"^a NO \[UNAVAILABLE\]")
        self.wait_log(r"unavailable: .*TLS")

    def test_backend_starttls_verified(self):
        self.start(dovecot_tls=True,
                   backend={"tls": harness.Raw("starttls"),
                            "ca_file": backend_ca(),
                            "server_name": harness.HOSTNAME})
        c = self.imap()
        self.assertEqual(c.login("alice", "alicepw")[0], "OK")
        self.assertEqual(c.select("INBOX")[0], "OK")
        self.wait_log(r"login: user=<alice>.* backend_tls=yes")

    def test_dovecot_sees_the_client_address(self):
        self.start()
        src = fresh_source()
        c = self.imap(source=src)
        c.login("alice", "alicepw")
        self.dovecot_log_has(r"Login: user=<alice>.*rip=%s," % re.escape(src))

    def test_over_long_lines_and_literals(self):
        self.start(block={"max_line": harness.Raw("1k"),
                          "max_literal": harness.Raw("1k")})
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN {5000}\r\n")
        self.assertEqual(r.until("a ")[-1], "a BAD Literal too large.")
        r.send("b NOOP\r\n")
        self.assertEqual(r.until("b ")[-1], "b OK NOOP completed.")
        r.send("c LOGIN {5000+}\r\n")
        self.assertEqual(r.line(), "* BYE Literal too large.")
        self.assertTrue(r.closed())
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a NOOP " + "x" * 5000 + "\r\n")
        self.assertEqual(r.line(), "* BYE Too long command line.")
        self.assertTrue(r.closed())

    def test_bad_syntax(self):
        self.start()
        r = self.raw(source=fresh_source())
        r.line()
        for line, want in (
                ("a LOGIN \"alice alicepw", "a BAD Unterminated quoted string"),
                ("b LOGIN alice", "b BAD Invalid arguments."),
                ("c  NOOP", "c BAD Invalid command"),
                ("+ NOOP", "* BAD Invalid tag"),
                ("d AUTHENTICATE CRAM-MD5",
                 "d NO Unsupported authentication mechanism."),
                ("e AUTHENTICATE PLAIN !!!!",
                 "e BAD Invalid base64 data in response."),
                ("f ID (\"name\" \"x\")", "f OK ID completed."),
                ("g ID NIL", "g OK ID completed."),
                ("h ID (\"name\")", "h BAD Invalid ID parameters.")):
            r.send(line + "\r\n")
            self.assertEqual(r.until(want.split()[0] + " ")[-1], want, line)

    def test_brute_force_lockout(self):
        self.start(block={"guard": {"max_failures_user": 3,
                                    "max_failures_ip": 100,
                                    "delay": harness.Raw("100ms"),
                                    "max_delay": harness.Raw("300ms"),
                                    "lockout": harness.Raw("60s")}})
        t0 = time.monotonic()
        for i in range(3):
            r = self.raw(source=fresh_source())
            r.line()
            r.send("a LOGIN bob wrong%d\r\n" % i)
            self.assertRegex(r.until("a ")[-1], r"^a NO \[AUTHENTICATIONFAILED\]")
        # delays grow: 100 + 200 + 300 ms at least
        self.assertGreater(time.monotonic() - t0, 0.55)
        self.wait_log(r"lockout: rip=127\.[0-9.]+, user=<bob>, for 60s")
        r = self.raw(source=fresh_source())
        r.line()
        r.send("a LOGIN bob bobpw\r\n")
        self.assertRegex(r.until("a ")[-1],
                         r"^a NO \[ALERT\] Too many failed logins, try again "
                         r"in \d+ seconds\.")
        # another user is not affected
        r.send("b LOGIN alice alicepw\r\n")
        self.assertRegex(r.until("b ")[-1], r"^b OK")

    def test_login_timeout_says_bye(self):
        self.start(block={"login_timeout": harness.Raw("1s")})
        r = self.raw()
        r.line()
        t0 = time.monotonic()
        self.assertEqual(r.line(), "* BYE Disconnected for inactivity.")
        self.assertTrue(r.closed())
        self.assertLess(time.monotonic() - t0, 5)

    def test_connections_per_ip(self):
        self.start(block={"max_connections_per_ip": 2})
        src = fresh_source()
        a, b = self.raw(source=src), self.raw(source=src)
        a.line()
        b.line()
        c = self.raw(source=src)
        self.assertEqual(c.line(), "* BYE [UNAVAILABLE] Too many "
                         "connections, try again later.")
        self.assertTrue(c.closed())
        d = self.raw(source=fresh_source())
        self.assertRegex(d.line(), r"^\* OK ")

    def test_logout_and_capability(self):
        self.start()
        r = self.raw()
        r.line()
        r.send("a CAPABILITY\r\n")
        lines = r.until("a ")
        self.assertRegex(lines[0], r"^\* CAPABILITY IMAP4rev1 ")
        self.assertRegex(lines[-1], r"^a OK")
        r.send("b LOGOUT\r\n")
        self.assertEqual(r.line(), "* BYE Logging out")
        self.assertEqual(r.line(), "b OK Logout completed.")
        self.assertTrue(r.closed())
