"""Shared pieces of test_imap.py and test_pop3.py: a posternd with an
imap {} / pop3 {} block in front of a private Dovecot (dovecot_peer.py),
clients bound to chosen loopback source addresses, and a line-exact raw
client.

Dovecot's auth penalty is per source address, so every test that fails a
login uses an address of its own (127.0.0.x, x from SOURCES)."""

import itertools
import socket
import ssl
import threading
import time

import harness
from dovecot_peer import MailboxDovecot

_SOURCES = itertools.count(10)


def fresh_source():
    """A loopback source address no other test has used in this run."""
    n = next(_SOURCES)
    return "127.0.%d.%d" % (n // 250, 1 + n % 250)


def message(n, size=200):
    words = ("line %d " % n) * max(1, size // 8)
    body = "\r\n".join(words[i:i + 72] for i in range(0, len(words), 72))
    text = ("From: sender@example.net\r\nTo: alice@example.org\r\n"
            "Subject: test %d\r\nMessage-ID: <m%d@example.net>\r\n\r\n"
            "%s\r\n" % (n, n, body))
    return text.encode()


class RawLine:
    """A line-exact client for IMAP/POP3 on a plain or TLS socket."""

    def __init__(self, port, source=None, tls_context=None,
                 timeout=harness.IO_TIMEOUT):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout,
            source_address=(source, 0) if source else None)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(
                self.sock, server_hostname=harness.HOSTNAME)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise harness.ConnectionClosed("closed, read %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def until(self, prefix):
        """Lines up to and including the first one starting with prefix."""
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if ln.startswith(prefix):
                return lines

    def starttls(self, context):
        self.sock = context.wrap_socket(self.sock,
                                        server_hostname=harness.HOSTNAME)
        self.buf = b""

    def closed(self, timeout=5.0):
        """True once the server has closed (after reading what is left)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class LegacyBackend:
    """A mailbox server of the old school, for the login paths Dovecot
    cannot show (its LOGIN and USER commands need the PLAIN mechanism):
    no SASL at all, only IMAP LOGIN or POP3 USER/PASS, for alice/alicepw.
    Logged in, it answers every command OK.  self.seen: the lines it
    got, in order."""

    def __init__(self, proto):
        self.proto = proto
        self.seen = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def stop(self):
        self.sock.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,),
                             daemon=True).start()

    def _session(self, conn):
        f = conn.makefile("rwb", buffering=0)
        imap = self.proto == "imap"
        f.write(b"* OK [CAPABILITY IMAP4rev1 ID] legacy ready\r\n" if imap
                else b"+OK legacy ready\r\n")
        user = None
        for raw in f:
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            self.seen.append(line)
            if imap:
                tag, _, rest = line.partition(" ")
                cmd = rest.split(" ")[0].upper()
                if cmd == "LOGIN":
                    ok = rest.split(" ", 1)[1] in (
                        "alice alicepw", '"alice" "alicepw"')
                    f.write(("%s %s\r\n" % (tag, "OK Logged in" if ok else
                                            "NO Bad")).encode())
                elif cmd == "LOGOUT":
                    f.write(b"* BYE\r\n%s OK\r\n" % tag.encode())
                    break
                else:
                    f.write(("%s OK %s done\r\n" % (tag, cmd)).encode())
            else:
                cmd, _, arg = line.partition(" ")
                cmd = cmd.upper()
                if cmd == "CAPA":
                    f.write(b"+OK\r\nUSER\r\nTOP\r\n.\r\n")
                elif cmd == "USER":
                    user = arg
                    f.write(b"+OK\r\n")
                elif cmd == "PASS":
                    ok = (user, arg) == ("alice", "alicepw")
                    f.write(b"+OK in\r\n" if ok else b"-ERR bad\r\n")
                elif cmd == "QUIT":
                    f.write(b"+OK bye\r\n")
                    break
                else:
                    f.write(b"-ERR unknown\r\n" if cmd == "AUTH"
                            else b"+OK\r\n")
        conn.close()


def _render(block):
    return "\n".join(harness._render_block(block, 2))


class MailboxTest(harness.PosterndTest):
    """self.start(proto, ...) starts Dovecot and a posternd whose
    imap {} or pop3 {} block points at it; self.port / self.tls_port are
    postern's plain and implicit-TLS ports."""

    PROTO = "imap"

    def dovecot(self, tls=False, **kw):
        if tls:
            ca = harness.TestCA.get()
            kw.update(cert=ca.server_cert, key=ca.server_key)
        d = MailboxDovecot(**kw)
        self.addCleanup(d.stop)
        return d.start()

    def start(self, block=None, backend=None, tls=False, dovecot_tls=False,
              dovecot=True, backends=None, extra=""):
        self.dc = self.dovecot(tls=dovecot_tls) if dovecot else None
        self.port = harness.free_port()
        self.tls_port = harness.free_port() if tls else None
        conf = {
            "listen": ["127.0.0.1:%d" % self.port],
            "trusted_networks": ["127.0.0.0/8"],
            "login_timeout": harness.Raw("10s"),
        }
        if tls:
            ca = harness.TestCA.get()
            conf["listen_tls"] = ["127.0.0.1:%d" % self.tls_port]
            conf["tls"] = {"cert": ca.server_cert, "key": ca.server_key}
        conf.update(block or {})
        conf = {k: v for k, v in conf.items() if v is not None}
        if backends is None:
            port = 1
            if self.dc is not None:
                port = (self.dc.imap_port if self.PROTO == "imap"
                        else self.dc.pop3_port)
            be = {"server": "127.0.0.1:%d" % port, "tls": harness.Raw("none")}
            be.update(backend or {})
            backends = {"default": be}
        text = "%s {\n%s\n" % (self.PROTO, _render(conf))
        for name, be in backends.items():
            text += "  backend %s {\n%s\n  }\n" % (
                name, "\n".join(harness._render_block(be, 4)))
        text += "}\n" + extra
        self.d = self.posternd(extra=text)
        for p in (self.port, self.tls_port):
            if p:
                harness.wait_until(lambda: harness.is_listening(p),
                                   harness.START_TIMEOUT,
                                   what="%s port %d" % (self.PROTO, p))
        return self.d

    def raw(self, port=None, source=None, tls_context=None):
        c = RawLine(port or self.port, source=source,
                    tls_context=tls_context)
        self.addCleanup(c.close)
        return c

    def wait_log(self, pattern, timeout=harness.IO_TIMEOUT):
        return self.d.wait_log(pattern, timeout=timeout)

    def dovecot_log_has(self, pattern, timeout=harness.IO_TIMEOUT):
        import re
        harness.wait_until(lambda: re.search(pattern, self.dc.log()),
                           timeout, what="dovecot log %r" % pattern)


def client_context():
    return harness.TestCA.get().context()


def backend_ca():
    return harness.TestCA.get().ca_cert


def settle(seconds=0.2):
    time.sleep(seconds)
