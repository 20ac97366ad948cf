"""POP3 pass-through: postern in front of a private Dovecot, driven with
poplib and a line-exact raw client (mbox_test.py)."""

import base64
import poplib
import re
import socket

import harness
from mbox_test import (LegacyBackend, MailboxTest, backend_ca, client_context,
                       fresh_source, message)


class POP3From(poplib.POP3):
    def __init__(self, port, source):
        self._src = source
        super().__init__("127.0.0.1", port, timeout=harness.IO_TIMEOUT)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._src, 0))


def plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())


class TestPOP3(MailboxTest):
    PROTO = "pop3"

    def pop(self, source=None):
        c = POP3From(self.port, source or fresh_source())
        self.addCleanup(self._quit, c)
        return c

    @staticmethod
    def _quit(c):
        try:
            c.quit()
        except Exception:
            pass

    def test_user_pass_stat_retr(self):
        self.start()
        msgs = [message(i, size=3000) for i in range(2)]
        self.dc.put_messages("alice", msgs)
        c = self.pop()
        capa = c.capa()
        for cap in ("USER", "SASL", "RESP-CODES", "AUTH-RESP-CODE"):
            self.assertIn(cap, capa)
        self.assertEqual(capa["SASL"], ["PLAIN"])
        c.user("alice")
        self.assertTrue(c.pass_("alicepw").startswith(b"+OK"))
        self.assertEqual(c.stat()[0], 2)
        resp, lines, octets = c.retr(2)
        self.assertEqual(b"\r\n".join(lines) + b"\r\n", msgs[1])
        self.wait_log(r"postern/pop3\[\d+\]: login: user=<alice>, "
                      r"method=USER, rip=127\.")

    def test_large_pipelined_retr_spliced(self):
        # both legs in clear: the relay splices; 200 RETRs of 50 KB sent
        # in one go come back whole and in order
        self.start()
        msgs = [message(i, size=50000) for i in range(200)]
        self.dc.put_messages("alice", msgs)
        s = socket.create_connection(("127.0.0.1", self.port),
                                     harness.IO_TIMEOUT,
                                     source_address=(fresh_source(), 0))
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"USER alice\r\nPASS alicepw\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"".join(b"RETR %d\r\n" % i for i in range(1, 201)))
        for i in range(200):
            self.assertTrue(f.readline().startswith(b"+OK"))
            lines = []
            while True:
                ln = f.readline()
                self.assertTrue(ln, "closed inside message %d" % (i + 1))
                if ln == b".\r\n":
                    break
                lines.append(ln[1:] if ln.startswith(b"..") else ln)
            self.assertEqual(b"".join(lines), msgs[i])
        s.sendall(b"QUIT\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        self.wait_log(r"postern/pop3\[\d+\]: disconnect from .*"
                      r"user=<alice>, in=\d+, out=\d{8,}, relay=splice")

    def test_auth_plain_with_and_without_initial_response(self):
        self.start()
        r = self.raw(source=fresh_source())
        self.assertEqual(r.line(), "+OK postern ready.")
        r.send(b"AUTH PLAIN " + plain("alice", "alicepw") + b"\r\n")
        self.assertTrue(r.line().startswith("+OK"))
        r.send("STAT\r\n")
        self.assertRegex(r.line(), r"^\+OK \d+ \d+")
        r = self.raw(source=fresh_source())
        r.line()
        r.send("AUTH PLAIN\r\n")
        self.assertEqual(r.line(), "+ ")
        r.send(plain("bob", "bobpw") + b"\r\n")
        self.assertTrue(r.line().startswith("+OK"))
        r = self.raw(source=fresh_source())
        r.line()
        r.send("AUTH PLAIN\r\n*\r\nAUTH\r\n")
        self.assertEqual(r.line(), "+ ")
        self.assertEqual(r.line(), "-ERR Authentication canceled.")
        self.assertEqual(r.until(".")[:2], ["+OK", "PLAIN"])

    def test_wrong_password_unknown_user_and_pipelining(self):
        self.start()
        texts = []
        for user, pw in (("alice", "wrong"), ("nosuchuser", "x")):
            r = self.raw(source=fresh_source())
            r.line()
            # commands behind the failed login are answered here
            r.send("USER %s\r\nPASS %s\r\nSTAT\r\nNOOP\r\n" % (user, pw))
            self.assertEqual(r.line(), "+OK")
            texts.append(r.line())
            self.assertEqual(r.line(), "-ERR Unknown command or not allowed "
                             "before login.")
            self.assertEqual(r.line(), "+OK")
        self.assertEqual(texts, ["-ERR [AUTH] Authentication failed."] * 2)
        self.wait_log(r"postern/pop3\[\d+\]: authentication failed: "
                      r"user=<alice>, method=USER, rip=127\.")

    def test_backend_down(self):
        self.start(dovecot=False,
                   backend={"server": "127.0.0.1:%d" % harness.free_port()})
        r = self.raw()
        r.line()
        r.send(b"AUTH PLAIN " + plain("alice", "alicepw") + b"\r\n")
        self.assertEqual(r.line(), "-ERR [SYS/TEMP] Server temporarily "
                         "unavailable, try again later.")
        r.send("QUIT\r\n")
        self.assertEqual(r.line(), "+OK Logging out.")
        self.assertTrue(r.closed())

    def test_stls_discards_pipelined_plaintext_and_backend_stls(self):
        self.start(tls=True, dovecot_tls=True,
                   backend={"tls": harness.Raw("starttls"),
                            "ca_file": backend_ca()})
        r = self.raw(source=fresh_source())
        r.line()
        r.send("STLS\r\nUSER alice\r\n")
        self.assertEqual(r.line(), "+OK Begin TLS negotiation now.")
        r.starttls(client_context())
        r.send("PASS alicepw\r\n")
        self.assertEqual(r.line(), "-ERR No username given.")
        r.send("USER alice\r\nPASS alicepw\r\nSTAT\r\n")
        self.assertEqual(r.line(), "+OK")
        self.assertTrue(r.line().startswith("+OK"))
        self.assertRegex(r.line(), r"^\+OK 0 0")
        self.wait_log(r"login: user=<alice>.* tls=yes, backend_tls=yes")

    def test_implicit_tls_both_legs(self):
        self.start(tls=True, dovecot_tls=True, block={"trusted_networks": None},
                   backend={"tls": harness.Raw("implicit"),
                            "ca_file": backend_ca()})
        # the backend block above still names the plain port: fix it up
        self.d.stop()
        self.d.extra = self.d.extra.replace(
            ":%d\"" % self.dc.pop3_port, ":%d\"" % self.dc.pop3s_port)
        self.d.write_config()
        self.d.start()
        harness.wait_until(lambda: harness.is_listening(self.tls_port), 10)
        c = poplib.POP3_SSL("127.0.0.1", self.tls_port,
                            context=client_context(),
                            timeout=harness.IO_TIMEOUT)
        self.addCleanup(self._quit, c)
        c.user("bob")
        c.pass_("bobpw")
        self.assertEqual(c.stat(), (0, 0))
        # and without TLS, no plaintext login
        r = self.raw(source=fresh_source())
        r.line()
        r.send("USER bob\r\n")
        self.assertEqual(r.line(), "-ERR [AUTH] Plaintext authentication "
                         "disallowed on non-secure (SSL/TLS) connections.")

    def test_dovecot_sees_the_client_address(self):
        self.start()
        src = fresh_source()
        c = self.pop(source=src)
        c.user("bob")
        c.pass_("bobpw")
        self.dovecot_log_has(r"pop3-login: Info: Login: user=<bob>.*rip=%s,"
                             % re.escape(src))

    def test_long_lines_and_garbage(self):
        self.start()
        r = self.raw(source=fresh_source())
        r.line()
        r.send("NOOP " + "x" * 2000 + "\r\nNOOP\r\n")
        self.assertEqual(r.line(), "-ERR Line too long.")
        self.assertEqual(r.line(), "+OK")
        r.send(b"US\x01ER x\r\nAUTH PLAIN !!!\r\nPASS x\r\n")
        self.assertEqual(r.line(), "-ERR Invalid characters in command")
        self.assertEqual(r.line(), "-ERR [AUTH] Invalid base64 data in "
                         "response.")
        self.assertEqual(r.line(), "-ERR No username given.")

    def test_guard_counts_imap_and_pop3_together(self):
        imap_port = harness.free_port()
        self.start(block={"guard": {"max_failures_ip": 2,
                                    "delay": harness.Raw("0s"),
                                    "lockout": harness.Raw("30s")}},
                   extra='imap {\n  listen = ["127.0.0.1:%d"];\n'
                         '  trusted_networks = ["127.0.0.0/8"];\n'
                         '  backend default { server = "127.0.0.1:1"; }\n'
                         '}\n' % imap_port)
        harness.wait_until(lambda: harness.is_listening(imap_port),
                           harness.START_TIMEOUT, what="imap port")
        src = fresh_source()
        for i in range(2):
            r = self.raw(source=src)
            r.line()
            r.send("USER u%d\r\nPASS wrong\r\n" % i)
            r.line()
            self.assertEqual(r.line(), "-ERR [AUTH] Authentication failed.")
        # the same address over IMAP is locked out too
        r = self.raw(port=imap_port, source=src)
        r.line()
        r.send("a LOGIN alice alicepw\r\n")
        self.assertRegex(r.line(), r"^a NO \[ALERT\] Too many failed "
                         r"logins, try again in \d+ seconds\.")

    def test_backend_without_sasl_plain_gets_auth_login(self):
        # CAPA says "SASL LOGIN": postern answers its two prompts
        dc = self.dovecot(mechanisms="login")
        self.start(dovecot=False, backends={"default": {
            "server": "127.0.0.1:%d" % dc.pop3_port,
            "tls": harness.Raw("none")}})
        c = self.pop()
        c.user("alice")
        self.assertTrue(c.pass_("alicepw").startswith(b"+OK"))
        c.quit()
        c = self.pop()
        c.user("alice")
        with self.assertRaises(poplib.error_proto):
            c.pass_("wrong")
        harness.wait_until(lambda: "method=LOGIN" in dc.log(),
                           harness.IO_TIMEOUT, what="dovecot's log line")

    def test_backend_without_sasl_gets_user_pass(self):
        legacy = LegacyBackend("pop3")
        self.addCleanup(legacy.stop)
        self.start(dovecot=False, backends={"default": {
            "server": "127.0.0.1:%d" % legacy.port,
            "forward_client": False, "tls": harness.Raw("none")}})
        c = self.pop()
        c.user("alice")
        self.assertTrue(c.pass_("alicepw").startswith(b"+OK"))
        self.assertTrue(c.noop().startswith(b"+OK"))
        self.assertEqual(legacy.seen[:3],
                         ["CAPA", "USER alice", "PASS alicepw"])

    def test_brute_force_lockout_per_ip(self):
        self.start(block={"guard": {"max_failures_ip": 2,
                                    "delay": harness.Raw("0s"),
                                    "lockout": harness.Raw("30s")}})
        src = fresh_source()
        for i in range(2):
            r = self.raw(source=src)
            r.line()
            r.send("USER u%d\r\nPASS wrong\r\n" % i)
            r.line()
            self.assertEqual(r.line(), "-ERR [AUTH] Authentication failed.")
        r = self.raw(source=src)
        r.line()
        r.send("USER alice\r\nPASS alicepw\r\n")
        r.line()
        self.assertRegex(r.line(), r"^-ERR \[SYS/TEMP\] Too many failed "
                         r"logins, try again in \d+ seconds\.")
        self.wait_log(r"login refused, locked out: user=<alice>")
        # another address is fine
        c = self.pop()
        c.user("alice")
        self.assertTrue(c.pass_("alicepw").startswith(b"+OK"))
