"""Integration-test harness for posternd: real daemons on loopback.

What it gives the test modules:
  Posternd      writes a config into a fresh temp dir, starts
                `posternd -f -c CONF` as root (it drops to "nobody"),
                waits for its listeners, stops it with SIGTERM (then
                SIGKILL) and reads what it delivered and logged.
  RawSMTP       a line-exact SMTP client on a plain socket, for what
                smtplib cannot send (BDAT, pipelining, broken input).
  TestCA        a CA and a server certificate for mx.test.invalid and
                127.0.0.1/::1, made with the openssl command line.
  PostfixInstance, SmtpSink, run_smtp_source
                Postfix peers (private instance, smtp-sink, smtp-source).
  PosterndTest  unittest.TestCase base: starts/stops daemons per test and
                fails a test whose daemon crashed or printed a sanitizer
                report.
  UpstreamSink  a recording SMTP/LMTP upstream (thread of this process)
                with replies injected per stage, hangs and drops, and a
                strict check of what the client may send.
  BlackholePort, DovecotInstance, UpstreamTest
                a port where connects hang; a private Dovecot (LMTP on
                TCP and a unix socket, IMAP); the base class of the relay
                tests (transactions, "what arrived" assertions).

Everything lives below one suite directory (SUITE_DIR) that the runner
removes when every test passed.  Runs as root inside a private network
namespace (see run.sh); nothing here talks to anything but loopback.
Not thread-safe: one test at a time (UpstreamSink runs its own loop in
a thread; tests only read what it records).
"""

import asyncio
import email.utils
import imaplib
import os
import pwd
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

POSTERND = os.environ.get("POSTERND", "posternd")
HOSTNAME = "mx.test.invalid"
NOBODY = pwd.getpwnam("nobody")
NOBODY_GID = NOBODY.pw_gid

# How long anything that should be quick may take before we call it hung.
START_TIMEOUT = 10.0
IO_TIMEOUT = 10.0

# Files worth showing when a test fails: (label, path), reset per test.
ARTIFACTS = []
# Child processes still running, killed at exit whatever happens.
_PROCS = []
# Postfix instances still running (they daemonise: stopped by command).
_POSTFIXES = []
_USED_PORTS = set()
_SUITE_DIR = None


class Raw(str):
    """A config value written without quotes (sizes, durations)."""


def suite_dir():
    """The run's root temp dir (0755, so dropped daemons can reach below)."""
    global _SUITE_DIR
    if _SUITE_DIR is None:
        _SUITE_DIR = tempfile.mkdtemp(prefix="postern-it.")
        os.chmod(_SUITE_DIR, 0o755)
    return _SUITE_DIR


def make_dir(prefix, parent=None, owner=None, mode=0o755):
    """A fresh directory below the suite dir; owner "nobody"/"postfix"
    chowns it to that user and its primary group."""
    path = tempfile.mkdtemp(prefix=prefix, dir=parent or suite_dir())
    os.chmod(path, mode)
    if owner:
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def sub_dir(parent, name, owner=None, mode=0o755):
    path = os.path.join(parent, name)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if owner:
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def have_program(name):
    return (shutil.which(name) is not None
            or os.path.exists("/usr/sbin/" + name))


def program(name):
    return shutil.which(name) or "/usr/sbin/" + name


# ---------------------------------------------------------------- sockets

def free_port():
    """A TCP port free on both 127.0.0.1 and ::1, never handed out twice
    in one run (so a daemon from an earlier test cannot answer)."""
    for _ in range(200):
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            s4.bind(("127.0.0.1", 0))
            port = s4.getsockname()[1]
            if port in _USED_PORTS:
                continue
            try:
                s6.bind(("::1", port))
            except OSError:
                continue
            _USED_PORTS.add(port)
            return port
        finally:
            s4.close()
            s6.close()
    raise RuntimeError("no free port pair on 127.0.0.1/::1")


def _listening_ports(family):
    """Ports in LISTEN state in this network namespace."""
    name = "/proc/net/tcp" if family == socket.AF_INET else "/proc/net/tcp6"
    ports = set()
    try:
        with open(name) as f:
            next(f)
            for line in f:
                fields = line.split()
                if len(fields) > 3 and fields[3] == "0A":
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    except FileNotFoundError:
        pass
    return ports


def is_listening(port, family=socket.AF_INET):
    return port in _listening_ports(family)


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value (returned) or the
    deadline passes (AssertionError naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def _track(proc):
    _PROCS.append(proc)
    return proc


def kill_leftovers():
    """atexit/finally: end every child we started that still runs."""
    for pf in list(_POSTFIXES):
        try:
            pf.stop()
        except Exception:
            pass
    for p in _PROCS:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(5)
            except Exception:
                pass


# ---------------------------------------------------------------- replies

class Reply:
    """One SMTP reply: code, the text lines (without code), raw lines."""
    ENH = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)")

    def __init__(self, code, lines):
        self.code = code
        self.lines = lines

    @property
    def enh(self):
        m = self.ENH.match(self.lines[0]) if self.lines else None
        return m.group(0).strip() if m else None

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "<%s>" % " | ".join("%d %s" % (self.code, l)
                                   for l in self.lines)


class ConnectionClosed(Exception):
    pass


class RawSMTP:
    """SMTP over a plain socket, one byte string at a time.  send() never
    adds anything; reply() reads exactly one (possibly multi-line) reply.
    """

    def __init__(self, host, port, source=None, timeout=IO_TIMEOUT):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""
        self.closed = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            raise ConnectionClosed("server closed the connection")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000:
                raise AssertionError("reply line too long: %r"
                                     % self.buf[:200])
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode("utf-8", "surrogateescape")

    def reply(self):
        lines = []
        while True:
            ln = self.line()
            m = re.match(r"^(\d{3})([ -])(.*)$", ln)
            if not m:
                raise AssertionError("malformed reply line %r" % ln)
            lines.append(m.group(3))
            if m.group(2) == " ":
                return Reply(int(m.group(1)), lines)

    def cmd(self, line):
        """Send one command line (CRLF added) and read its reply."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.reply()

    def greeting(self):
        return self.reply()

    def hello(self, name="client.test"):
        """Read the greeting and EHLO; returns the EHLO reply."""
        g = self.greeting()
        if g.code != 220:
            raise AssertionError("greeting %r" % g)
        r = self.cmd("EHLO " + name)
        if r.code != 250:
            raise AssertionError("EHLO got %r" % r)
        return r

    def pending(self):
        return self.buf

    def wait_closed(self, timeout):
        """Read until the server closes; returns (closed, bytes read)."""
        got = self.buf
        self.buf = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, got
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False, got
            except (ConnectionResetError, ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                self.closed = True
                return True, got
            got += chunk

    def starttls(self, context, server_hostname=HOSTNAME):
        if self.buf:
            raise AssertionError("plaintext after the 220 to STARTTLS: %r"
                                 % self.buf)
        self.sock = context.wrap_socket(self.sock,
                                        server_hostname=server_hostname)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- maildir

class MaildirMessage:
    """A delivered file: raw bytes, header list (name, unfolded value)."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.raw = f.read()
        head = self.raw.split(b"\n\n", 1)[0]
        self.headers = []
        for ln in head.split(b"\n"):
            s = ln.decode("utf-8", "surrogateescape")
            if s[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + "\n" + s)
            elif ":" in s:
                n, v = s.split(":", 1)
                self.headers.append((n, v.strip()))
            else:
                self.headers.append(("", s))

    def get_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def get(self, name):
        vals = self.get_all(name)
        return vals[0] if vals else None

    def text(self):
        return self.raw.decode("utf-8", "surrogateescape")

    def __repr__(self):
        return "<%s %d bytes>" % (os.path.basename(self.path), len(self.raw))


def maildir_files(maildir, sub="new"):
    d = os.path.join(maildir, sub)
    try:
        names = [n for n in os.listdir(d) if not n.startswith(".")]
    except FileNotFoundError:
        return []
    paths = [os.path.join(d, n) for n in names]
    paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
    return paths


def parse_received(value):
    """Split posternd's Received header into its clauses (None = absent)."""
    v = re.sub(r"\s+", " ", value).strip()
    out = {"raw": v}
    m = re.match(r"^from (\S+) \((\S+) \[([^\]]+)\]\)", v)
    out["helo"], out["ptr"], out["ip"] = (m.groups() if m
                                          else (None, None, None))
    m = re.search(r" by (\S+) \(postern\)", v)
    out["by"] = m.group(1) if m else None
    m = re.search(r"\(postern\) with (\S+)", v)
    out["with"] = m.group(1) if m else None
    m = re.search(r" id (\S+)", v)
    out["id"] = m.group(1).rstrip(";") if m else None
    m = re.search(r" for <([^>]*)>", v)
    out["for"] = m.group(1) if m else None
    m = re.search(r"\(using (TLSv[\d.]+) with cipher ([^ )]+)", v)
    out["tls"] = m.groups() if m else None
    m = re.search(r"; ([^;]+)$", v)
    out["date"] = m.group(1) if m else None
    return out


def date_ok(s):
    try:
        return email.utils.parsedate_to_datetime(s) is not None
    except (TypeError, ValueError):
        return False


def lf(data):
    """What a CRLF message looks like in the maildir."""
    return data.replace(b"\r\n", b"\n")


# ---------------------------------------------------------------- posternd

def _render_value(v):
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_render_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s + '"'


def _render_block(items, indent):
    out = []
    pad = " " * indent
    for k, v in items.items():
        if v is None:
            continue
        if isinstance(v, dict):
            out.append("%s%s {" % (pad, k))
            out.extend(_render_block(v, indent + 2))
            out.append("%s}" % pad)
        else:
            out.append("%s%s = %s;" % (pad, k, _render_value(v)))
    return out


class Posternd:
    """One posternd under test, in its own directory:
        DIR/posternd.conf, DIR/posternd.log (stderr), DIR/mail (maildir,
        owned by nobody), DIR/spool (spool_dir, owned by nobody).

    top / smtp override or extend the defaults (a value None removes a
    default); routes is a list of (name, upstream) or (name, upstream,
    {option: value}) with name "default" or a domain; extra is raw
    config text appended at the end."""

    def __init__(self, top=None, smtp=None, routes=None, extra="",
                 tls=False, listen6=True, prepare_maildir=True, port=None):
        self.dir = make_dir("posternd.")
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "posternd.conf")
        self.logfile = os.path.join(self.dir, "posternd.log")
        self.maildir = os.path.join(self.dir, "mail")
        self.spool = sub_dir(self.dir, "spool", owner="nobody", mode=0o700)
        if prepare_maildir:
            self.make_maildir(self.maildir)
        self.proc = None
        self.returncode = None
        self.stopped_by_us = False
        self.killed = False
        self.listen6 = listen6

        self.top = {
            "hostname": HOSTNAME,
            "user": "nobody",
            "threads": 2,
            "spool_dir": self.spool,
        }
        self.top.update(top or {})
        listen = ["127.0.0.1:%d" % self.port]
        if listen6:
            listen.append("[::1]:%d" % self.port)
        self.smtp_conf = {
            "listen": listen,
            "relay_domains": ["example.org", ".sub.example.org"],
            "shutdown_timeout": Raw("3s"),
        }
        if tls:
            ca = TestCA.get()
            self.smtp_conf["tls"] = {"cert": ca.server_cert,
                                     "key": ca.server_key}
        self.smtp_conf.update(smtp or {})
        self.routes = (routes if routes is not None
                       else [("default", "maildir:" + self.maildir)])
        self.extra = extra
        self.write_config()
        ARTIFACTS.append(("posternd log", self.logfile))

    @staticmethod
    def make_maildir(path):
        sub_dir(os.path.dirname(path), os.path.basename(path),
                owner="nobody", mode=0o700)
        for s in ("tmp", "new", "cur"):
            sub_dir(path, s, owner="nobody", mode=0o700)
        return path

    def config_text(self):
        lines = ["# written by tests/integration/harness.py"]
        lines += _render_block(self.top, 0)
        lines.append("smtp {")
        lines += _render_block(self.smtp_conf, 2)
        lines.append("}")
        for route in self.routes:
            name, upstream = route[0], route[1]
            opts = route[2] if len(route) > 2 else None
            n = name if name == "default" else _render_value(name)
            if not opts:
                lines.append("route %s { upstream = %s; }"
                             % (n, _render_value(upstream)))
                continue
            lines.append("route %s {" % n)
            lines += _render_block(dict({"upstream": upstream}, **opts), 2)
            lines.append("}")
        if self.extra:
            lines.append(self.extra)
        if "quarantine {" not in self.extra:
            # posternd makes it (as root) when a filter is configured
            lines.append('quarantine { dir = "%s"; }'
                         % os.path.join(self.dir, "quarantine"))
        return "\n".join(lines) + "\n"

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write(self.config_text())

    # -- process

    def start(self, wait=True, check_port=True):
        if check_port and is_listening(self.port):
            raise AssertionError("port %d is already in use" % self.port)
        self.log_fh = open(self.logfile, "ab")
        self.proc = _track(subprocess.Popen(
            [POSTERND, "-f", "-c", self.conf], stdin=subprocess.DEVNULL,
            stdout=self.log_fh, stderr=self.log_fh, cwd=self.dir))
        self.pid = self.proc.pid
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        """Until every configured listener is in LISTEN state, checking
        that OUR process is the one alive (not a leftover)."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    "posternd exited with status %s while starting:\n%s"
                    % (self.proc.returncode, self.log_tail()))
            if not is_listening(self.port, socket.AF_INET):
                return False
            if self.listen6 and not is_listening(self.port, socket.AF_INET6):
                return False
            return True
        wait_until(ready, timeout, what="posternd to listen on port %d"
                   % self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Exit status, or None when still running at the deadline."""
        try:
            self.returncode = self.proc.wait(timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=8.0):
        """SIGTERM, wait, then SIGKILL.  Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.stopped_by_us = True
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                self.killed = True
                self.proc.kill()
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        self.log_fh.close()
        return self.returncode

    def check_health(self):
        """Problems to fail a test for: crash by signal, sanitizer report."""
        problems = []
        rc = self.proc.returncode if self.proc else None
        if rc is not None and rc < 0 and not self.killed \
                and -rc != signal.SIGTERM:
            problems.append("posternd died from signal %d" % -rc)
        if self.killed:
            problems.append("posternd did not exit within 8s of SIGTERM "
                            "(killed)")
        log = self.log()
        for pat in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                    "runtime error:", "Segmentation fault"):
            if pat in log:
                problems.append("log contains %r" % pat)
        return problems

    # -- log

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])

    def wait_log(self, pattern, timeout=IO_TIMEOUT, count=1):
        """Wait until regex `pattern` matches `count` times in the log;
        returns the last match."""
        rx = re.compile(pattern, re.M)

        def found():
            ms = list(rx.finditer(self.log()))
            return ms[count - 1] if len(ms) >= count else None
        try:
            return wait_until(found, timeout, what="log /%s/ x%d"
                              % (pattern, count))
        except AssertionError as e:
            raise AssertionError("%s; log tail:\n%s"
                                 % (e, self.log_tail())) from None

    def log_matches(self, pattern):
        return re.findall(pattern, self.log(), re.M)

    # -- delivered mail

    def messages(self, maildir=None):
        return [MaildirMessage(p)
                for p in maildir_files(maildir or self.maildir)]

    def count(self, maildir=None):
        return len(maildir_files(maildir or self.maildir))

    def wait_messages(self, n, timeout=IO_TIMEOUT, maildir=None):
        """Wait until at least n files are in new/; returns them all."""
        md = maildir or self.maildir
        wait_until(lambda: len(maildir_files(md)) >= n, timeout,
                   what="%d messages in %s/new (have %d)"
                   % (n, md, len(maildir_files(md))))
        return self.messages(md)

    # -- clients

    def smtp(self, host="127.0.0.1", timeout=IO_TIMEOUT, **kw):
        return smtplib.SMTP(host, self.port, local_hostname="client.test",
                            timeout=timeout, **kw)

    def raw(self, host="127.0.0.1", source=None, timeout=IO_TIMEOUT):
        return RawSMTP(host, self.port, source=source, timeout=timeout)


# ---------------------------------------------------------------- TLS

class TestCA:
    """A throw-away CA and a server certificate signed by it.  Made once
    per run; the key is owned by nobody so it can be read before or after
    posternd drops privileges."""
    _instance = None

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = cls(make_dir("ca."))
        return cls._instance

    def __init__(self, d):
        self.dir = d
        self.ca_key = os.path.join(d, "ca.key")
        self.ca_cert = os.path.join(d, "ca.crt")
        self.server_key = os.path.join(d, "server.key")
        self.server_cert = os.path.join(d, "server.crt")
        csr = os.path.join(d, "server.csr")
        ext = os.path.join(d, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints = critical, CA:FALSE\n"
                    "keyUsage = critical, digitalSignature, keyEncipherment\n"
                    "extendedKeyUsage = serverAuth\n"
                    "subjectAltName = DNS:%s, IP:127.0.0.1, IP:::1\n"
                    % HOSTNAME)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes"]
        self._openssl(["req", "-x509"] + ec +
                      ["-keyout", self.ca_key, "-out", self.ca_cert,
                       "-days", "2", "-subj", "/CN=postern test CA",
                       "-addext", "basicConstraints=critical,CA:TRUE",
                       "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        self._openssl(["req"] + ec +
                      ["-keyout", self.server_key, "-out", csr,
                       "-subj", "/CN=" + HOSTNAME])
        self._openssl(["x509", "-req", "-in", csr, "-CA", self.ca_cert,
                       "-CAkey", self.ca_key, "-CAcreateserial",
                       "-out", self.server_cert, "-days", "2",
                       "-extfile", ext])
        os.chown(self.server_key, NOBODY.pw_uid, NOBODY_GID)
        os.chmod(self.server_key, 0o600)
        os.chmod(self.server_cert, 0o644)

    @staticmethod
    def _openssl(args):
        r = subprocess.run(["openssl"] + args, capture_output=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("openssl %s failed: %s"
                               % (args[0], r.stderr.decode(errors="replace")))

    def context(self):
        """Client context that trusts only the test CA and checks names."""
        ctx = ssl.create_default_context(cafile=self.ca_cert)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


# ---------------------------------------------------------------- postfix

class PostfixInstance:
    """A private Postfix (own config, queue and data dirs; chroot off)
    listening on 127.0.0.1:smtpd_port and relaying everything to
    [127.0.0.1]:relay_port.  main_extra: main.cf settings added or
    overriding the defaults.  Log: DIR/maillog.  Root only."""

    MASTER_CF = """\
127.0.0.1:{smtpd_port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

    def __init__(self, relay_port, smtpd_port=None, main_extra=None):
        self.dir = make_dir("postfix.")
        self.smtpd_port = smtpd_port or free_port()
        self.relay_port = relay_port
        self.confdir = sub_dir(self.dir, "conf")
        queue = sub_dir(self.dir, "queue")
        os.chown(queue, 0, 0)  # Postfix insists on a root-owned queue
        data = sub_dir(self.dir, "data", owner="postfix")
        self.maillog = os.path.join(self.dir, "maillog")
        main = {
            "compatibility_level": "3.6",
            "queue_directory": queue,
            "data_directory": data,
            "myhostname": "postfix.test.invalid",
            "mydomain": "test.invalid",
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_recipient_restrictions": "",
            "smtpd_peername_lookup": "no",
            "relayhost": "[127.0.0.1]:%d" % relay_port,
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
            "biff": "no",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "queue_run_delay": "5s",
            "minimal_backoff_time": "5s",
            "maximal_backoff_time": "10s",
            "smtp_connect_timeout": "5s",
        }
        main.update(main_extra or {})
        with open(os.path.join(self.confdir, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.confdir, "master.cf"), "w") as f:
            f.write(self.MASTER_CF.format(smtpd_port=self.smtpd_port))
        self.started = False
        ARTIFACTS.append(("postfix maillog", self.maillog))

    def _postfix(self, *args, timeout=60):
        return subprocess.run([program("postfix"), "-c", self.confdir]
                              + list(args), capture_output=True,
                              timeout=timeout)

    def start(self):
        for step in ("check", "start"):
            r = self._postfix(step)
            if r.returncode != 0:
                raise AssertionError(
                    "postfix %s failed (%d): %s\nmaillog:\n%s"
                    % (step, r.returncode,
                       (r.stdout + r.stderr).decode(errors="replace"),
                       self.log()))
        self.started = True
        _POSTFIXES.append(self)
        wait_until(lambda: is_listening(self.smtpd_port), START_TIMEOUT,
                   what="postfix smtpd on port %d" % self.smtpd_port)
        return self

    def stop(self):
        if self.started:
            self.started = False
            self._postfix("stop")
            _POSTFIXES.remove(self)

    def log(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, count=1, timeout=60):
        rx = re.compile(pattern, re.M)

        def found():
            return len(rx.findall(self.log())) >= count
        try:
            wait_until(found, timeout, interval=0.2,
                       what="maillog /%s/ x%d" % (pattern, count))
        except AssertionError as e:
            raise AssertionError("%s; maillog tail:\n%s" % (
                e, "\n".join(self.log().splitlines()[-20:]))) from None
        return rx.findall(self.log())

    def flush(self):
        subprocess.run([program("postqueue"), "-c", self.confdir, "-f"],
                       capture_output=True, timeout=30)


class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1:port, one file per transaction in
    DIR/sink/ (written as user postfix)."""

    def __init__(self, port=None):
        self.dir = make_dir("sink.")
        self.port = port or free_port()
        self.dumpdir = sub_dir(self.dir, "sink", owner="postfix")
        self.logfile = os.path.join(self.dir, "smtp-sink.log")
        self.proc = None

    def start(self, *extra):
        self.log_fh = open(self.logfile, "ab")
        self.proc = _track(subprocess.Popen(
            [program("smtp-sink"), "-u", "postfix",
             "-d", self.dumpdir + "/%Y%m%d%H%M%S."] + list(extra) +
            ["127.0.0.1:%d" % self.port, "100"],
            stdin=subprocess.DEVNULL, stdout=self.log_fh,
            stderr=self.log_fh))

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("smtp-sink exited: %s" % open(
                    self.logfile).read())
            return is_listening(self.port)
        wait_until(ready, START_TIMEOUT, what="smtp-sink")
        return self

    def files(self):
        out = []
        for root, _, names in os.walk(self.dumpdir):
            out += [os.path.join(root, n) for n in names]
        return sorted(out)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc:
            self.log_fh.close()


def run_smtp_source(port, messages, sessions=1, host="127.0.0.1",
                    sender="load@example.net", rcpt="rcpt@example.org",
                    length=1024, extra=(), timeout=120):
    """smtp-source bounded by -m; returns the CompletedProcess."""
    args = [program("smtp-source"), "-s", str(sessions), "-m",
            str(messages), "-l", str(length), "-f", sender, "-t", rcpt,
            "-M", "source.test", "-S", "postern load test"] + list(extra)
    args.append("%s:%d" % (host if ":" not in host else "[%s]" % host,
                           port))
    return subprocess.run(args, capture_output=True, timeout=timeout)


# ---------------------------------------------------------------- TestCase

class PosterndTest(unittest.TestCase):
    """Base class: self.posternd(...) starts a daemon that is stopped and
    health-checked when the test ends; self.raw()/self.smtp() open
    clients that are closed before the daemon is stopped."""

    maxDiff = 4000

    def posternd(self, start=True, **kw):
        d = Posternd(**kw)
        self.addCleanup(self._finish_posternd, d)
        if start:
            d.start()
        return d

    def _finish_posternd(self, d):
        if d.proc is None:
            return
        d.stop()
        problems = d.check_health()
        if problems:
            self.fail("; ".join(problems) + "\nlog tail:\n" + d.log_tail())

    def raw(self, d, host="127.0.0.1", source=None, timeout=IO_TIMEOUT):
        c = d.raw(host=host, source=source, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def smtp(self, d, host="127.0.0.1", timeout=IO_TIMEOUT):
        c = d.smtp(host=host, timeout=timeout)
        self.addCleanup(_close_smtplib, c)
        return c

    def postfix(self, relay_port, **kw):
        pf = PostfixInstance(relay_port, **kw)
        self.addCleanup(pf.stop)
        return pf.start()

    def sink(self, *extra):
        s = SmtpSink()
        self.addCleanup(s.stop)
        return s.start(*extra)

    def need(self, *programs):
        for p in programs:
            if not have_program(p):
                self.skipTest("%s is not installed" % p)

    # -- assertions

    def assertReply(self, reply, code, enh=None, msg=None):
        """Reply has this code (int, or a str like "5" for a class) and,
        when given, this enhanced status code."""
        ok = (reply.code == code if isinstance(code, int)
              else str(reply.code).startswith(code))
        if enh is not None:
            ok = ok and reply.enh == enh
        if not ok:
            want = "%s%s" % (code, " " + enh if enh else "")
            self.fail("%swanted %s, got %r" % (msg + ": " if msg else "",
                                             want, reply))

    def assertQueued(self, reply, msg=None):
        """250 2.0.0 ... queued as QID; returns QID."""
        self.assertReply(reply, 250, "2.0.0", msg)
        m = re.search(r"queued as ([0-9A-F]{12})\b", reply.text)
        self.assertTrue(m, "no 12-hex-digit queue id in %r" % reply)
        return m.group(1)

    def assertClosed(self, client, timeout=5.0, msg="connection closed"):
        closed, extra = client.wait_closed(timeout)
        self.assertTrue(closed, "%s: still open after %.1fs (read %r)"
                        % (msg, timeout, extra[:200]))
        return extra

    def assertNothingDelivered(self, d, maildir=None):
        files = d.messages(maildir)
        self.assertEqual(files, [], "expected nothing delivered")

    # -- common transactions over RawSMTP

    def envelope(self, c, sender="sender@example.net",
                 rcpts=("user@example.org",), mail_params=""):
        self.assertReply(c.cmd("MAIL FROM:<%s>%s" % (sender, mail_params)),
                         250, "2.1.0")
        for r in rcpts:
            self.assertReply(c.cmd("RCPT TO:<%s>" % r), 250, "2.1.5")

    def data(self, c, body):
        """DATA, expect 354, send body as is (must end the data itself);
        returns the end-of-data reply."""
        self.assertReply(c.cmd("DATA"), 354)
        c.send(body)
        return c.reply()


def _close_smtplib(c):
    try:
        c.close()
    except Exception:
        pass


def message(subject="test", body="Hello.\r\n", extra_headers=""):
    """A small CRLF message as bytes."""
    return ("From: Sender <sender@example.net>\r\n"
            "To: User <user@example.org>\r\n"
            "Subject: %s\r\n"
            "Message-ID: <%s@client.test>\r\n"
            "Date: %s\r\n"
            "%s"
            "\r\n%s" % (subject, os.urandom(8).hex(),
                        email.utils.formatdate(), extra_headers,
                        body)).encode("utf-8")


# ---------------------------------------------------------------- upstreams
#
# Peers for posternd's relay (issue 3).  UpstreamSink is an SMTP/LMTP
# server on its own asyncio loop in a thread of the test process: it
# records every connection and transaction (envelope, parameters, the
# content after dot-unstuffing) and answers as told per stage.  It also
# plays a strict receiver: anything the client does that the advertised
# extensions do not allow is recorded in `violations` (and refused the
# way a real server would), so a test fails when posternd pipelines to
# a server without PIPELINING, sends BDAT without CHUNKING, BODY= without
# 8BITMIME, DSN parameters without DSN, bare LFs, and so on.

HANG = "<hang>"  # reply spec: never answer, keep the connection open
DROP = "<drop>"  # reply spec: close the connection instead of answering
RESET = "<reset>"  # reply spec: abort the connection (TCP RST)

SINK_EXT = ("PIPELINING", "SIZE 52428800", "8BITMIME", "ENHANCEDSTATUSCODES",
            "DSN", "SMTPUTF8", "CHUNKING")

# MAIL/RCPT parameter -> the extension that allows it.
_PARAM_EXT = {"SIZE": "SIZE", "BODY": "8BITMIME", "SMTPUTF8": "SMTPUTF8",
              "RET": "DSN", "ENVID": "DSN", "NOTIFY": "DSN", "ORCPT": "DSN"}
_MAIL_PARAMS = ("SIZE", "BODY", "SMTPUTF8", "RET", "ENVID")
_RCPT_PARAMS = ("NOTIFY", "ORCPT")


class Delay:
    """Reply spec: answer `reply` (a spec itself) after `seconds`."""

    def __init__(self, seconds, reply=None):
        self.seconds = seconds
        self.reply = reply


def xtext_decode(s):
    """RFC 3461 xtext: "+2B" -> "+"."""
    return re.sub(r"\+([0-9A-Fa-f]{2})",
                  lambda m: chr(int(m.group(1), 16)), s or "")


def reply_code(text):
    """The 3-digit code of a reply spec such as "250 2.0.0 Ok" (0 for
    an injected reply that has none)."""
    return int(text[:3]) if text[:3].isdigit() else 0


class SinkConn:
    """One connection the sink accepted (attributes are read by tests)."""

    def __init__(self, cid, peer):
        self.id = cid
        self.peer = peer
        self.opened = time.monotonic()
        self.closed = None      # monotonic time once closed
        self.hellos = []        # every (verb, argument): EHLO/HELO/LHLO
        self.tls = None         # "TLSv1.3" once TLS is up
        self.tls_error = None   # why a STARTTLS handshake failed
        self.xclient = []       # XCLIENT attribute dicts, in order
        self.xforward = []      # XFORWARD attribute dicts, in order
        self.commands = []      # every command line (str, no CRLF)
        self.txns = []          # SinkTxn begun on this connection
        self.quit = False       # the client sent QUIT
        self.dropped = False    # the sink dropped it (DROP, drop_in_data)
        self.pipelined = 0      # commands that came with more behind them

    def verbs(self):
        return [c.split(" ", 1)[0].upper() for c in self.commands]

    def __repr__(self):
        return "<conn %d %s>" % (self.id, " ".join(self.verbs()))


class SinkTxn:
    """One MAIL transaction as the sink saw it."""

    def __init__(self, conn, line, sender, params):
        self.conn = conn            # SinkConn
        self.mail_line = line
        self.sender = sender
        self.params = params        # {"SIZE": "123", "SMTPUTF8": None, ...}
        self.mail_reply = None
        self.rcpts = []             # [address, params, reply]
        self.data = None            # content: dot-unstuffed / BDAT octets
        self.partial = b""          # what arrived when data was cut off
        self.via = None             # "DATA" or "BDAT"
        self.complete = False       # the end of the data arrived
        self.replies = []           # [(rcpt or None, reply)] after data
        self.xclient = dict(conn.xclient[-1]) if conn.xclient else None
        self.xforward = dict(conn.xforward[-1]) if conn.xforward else None
        self.tls = conn.tls

    @property
    def accepted_rcpts(self):
        return [a for a, _, r in self.rcpts if reply_code(r) // 100 == 2]

    @property
    def delivered(self):
        """Recipients the message was accepted for after its data."""
        out = []
        for rcpt, rep in self.replies:
            if reply_code(rep) // 100 == 2:
                out += [rcpt] if rcpt is not None else self.accepted_rcpts
        return out

    @property
    def accepted(self):
        return bool(self.delivered)

    def rcpt_params(self, addr):
        for a, p, _ in self.rcpts:
            if a == addr:
                return p
        raise KeyError(addr)

    def header(self, name):
        """First value of a header field in the content (unfolded)."""
        head = (self.data or b"").split(b"\r\n\r\n", 1)[0]
        m = re.search(rb"(?im)^" + re.escape(name.encode()) +
                      rb":[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head)
        return (m.group(1).decode("utf-8", "surrogateescape")
                .replace("\r\n", "") if m else None)

    def __repr__(self):
        return "<txn conn %d from=<%s> rcpts=%s via=%s %d octets %s>" % (
            self.conn.id, self.sender, [r[0] for r in self.rcpts],
            self.via, len(self.data or b""), self.replies)


class _SinkInput:
    """Buffered reader that knows what the client sent ahead of a reply."""

    def __init__(self, reader):
        self.reader = reader
        self.buf = bytearray()

    async def fill(self):
        chunk = await self.reader.read(65536)
        if not chunk:
            raise ConnectionClosed("client closed the connection")
        self.buf += chunk

    async def line(self, limit=65536):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                out = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return out
            if len(self.buf) > limit:
                raise ConnectionClosed("line longer than %d octets" % limit)
            await self.fill()


class _SinkSession:
    def __init__(self, sink, conn, reader, writer):
        self.sink = sink
        self.conn = conn
        self.inp = _SinkInput(reader)
        self.writer = writer
        self.esmtp = False
        self.hello = False
        self.txn = None
        self.refusing = False
        self.data_octets = 0

    # -- helpers

    def violation(self, what):
        self.sink.violations.append("conn %d: %s" % (self.conn.id, what))
        self.sink._log(self.conn, "!", what)

    def ext(self):
        """Keywords advertised in the last EHLO/LHLO reply."""
        if not self.esmtp:
            return {}
        out = {}
        for e in self.sink.ext_lines(self.conn):
            k, _, v = e.partition(" ")
            out[k.upper()] = v
        return out

    def has(self, kw):
        return kw in self.ext()

    async def send(self, text):
        data = b"".join(ln.encode("utf-8") + b"\r\n"
                        for ln in text.split("\n"))
        self.writer.write(data)
        await self.writer.drain()
        self.sink._log(self.conn, "S", text)

    async def hang(self):
        self.sink._log(self.conn, "S", "(hangs)")
        while True:
            await self.inp.fill()
            self.inp.buf.clear()

    async def drop(self, reset=False):
        self.conn.dropped = True
        self.sink._log(self.conn, "S", "(resets)" if reset else "(drops)")
        if reset:
            self.writer.transport.abort()
        else:
            self.writer.close()
        raise ConnectionClosed("dropped by the sink")

    async def answer(self, stage, default, arg=None, record=None):
        """Send the injected reply for stage (or default); returns it.
        record(reply) runs before the reply is sent, so a test that has
        seen the reply also sees it recorded."""
        rep = self.sink.injected(stage, self.conn, arg)
        if isinstance(rep, Delay):
            await asyncio.sleep(rep.seconds)
            rep = rep.reply
        if rep is None:
            rep = default
        if rep == HANG:
            await self.hang()
        if rep in (DROP, RESET):
            await self.drop(reset=rep == RESET)
        if record is not None:
            record(rep)
        await self.send(rep)
        return rep

    def parse_params(self, text, allowed):
        params, bad = {}, []
        ext = self.ext()
        for p in text.split():
            k, eq, v = p.partition("=")
            k = k.upper()
            params[k] = v if eq else None
            need = _PARAM_EXT.get(k)
            if k not in allowed or need is None:
                bad.append("unknown parameter %s" % p)
            elif need not in ext:
                bad.append("%s sent but %s not advertised" % (p, need))
            elif k == "BODY" and v.upper() not in ("7BIT", "8BITMIME"):
                bad.append("%s not advertised" % p)
        return params, bad

    # -- the session

    async def run(self):
        sink = self.sink
        greet = await self.answer("connect", "220 %s %s test sink"
                                  % (sink.name,
                                     "LMTP" if sink.lmtp else "ESMTP"))
        if reply_code(greet) == 421:
            return
        if reply_code(greet) != 220:
            self.refusing = True
        while True:
            raw = await self.read_command()
            if not raw.endswith(b"\r\n"):
                self.violation("command line not ended by CRLF: %r"
                               % raw[:80])
            text = raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            self.conn.commands.append(text)
            sink._log(self.conn, "C", text)
            verb = text.split(" ", 1)[0].upper()
            if self.inp.buf and verb != "BDAT":
                self.conn.pipelined += 1
                if not self.has("PIPELINING"):
                    self.violation("sent %r before the reply to %r "
                                   "(no PIPELINING)"
                                   % (bytes(self.inp.buf[:40]), text[:40]))
                elif verb in ("EHLO", "HELO", "LHLO", "DATA", "STARTTLS",
                              "XCLIENT"):
                    self.violation("sent %r before the reply to %s"
                                   % (bytes(self.inp.buf[:40]), verb))
            if self.refusing and verb != "QUIT":
                await self.send("503 5.5.1 no service here")
                continue
            handler = getattr(self, "cmd_" + verb.lower(), None)
            if handler is None:
                await self.send("502 5.5.2 command not recognized")
                continue
            if await handler(text) == "close":
                return

    async def read_command(self):
        if not self.sink.idle_timeout:
            return await self.inp.line()
        try:
            return await asyncio.wait_for(self.inp.line(),
                                          self.sink.idle_timeout)
        except asyncio.TimeoutError:
            await self.send("421 4.4.2 %s idle timeout" % self.sink.name)
            self.conn.dropped = True
            raise ConnectionClosed("idle timeout") from None

    def reset(self):
        if self.txn is not None and not self.txn.complete:
            self.sink._log(self.conn, "!", "transaction abandoned")
        self.txn = None

    async def cmd_ehlo(self, text, verb="EHLO"):
        sink = self.sink
        if (verb == "LHLO") != sink.lmtp:
            self.violation("%s to an %s server" % (verb, "LMTP" if sink.lmtp
                                                    else "SMTP"))
            await self.send("500 5.5.1 command unrecognized")
            return
        self.conn.hellos.append((verb, text[5:].strip()))
        self.reset()
        if verb == "HELO":
            rep = await self.answer("helo", "250 %s" % sink.name)
        else:
            lines = [sink.name] + sink.ext_lines(self.conn)
            default = "\n".join("250%s%s" % ("-" if i < len(lines) - 1
                                             else " ", ln)
                                for i, ln in enumerate(lines))
            rep = await self.answer("ehlo", default)
        if reply_code(rep) // 100 == 2:
            self.hello = True
            self.esmtp = verb != "HELO"

    async def cmd_helo(self, text):
        await self.cmd_ehlo(text, "HELO")

    async def cmd_lhlo(self, text):
        await self.cmd_ehlo(text, "LHLO")

    async def cmd_mail(self, text):
        m = re.match(r"(?i)^MAIL FROM:\s?<([^>]*)>(.*)$", text)
        if not m:
            self.violation("malformed MAIL: %r" % text)
            await self.send("501 5.5.4 syntax: MAIL FROM:<address>")
            return
        if not self.hello:
            self.violation("MAIL before EHLO/HELO/LHLO")
            await self.send("503 5.5.1 send EHLO first")
            return
        if self.txn is not None:
            self.violation("MAIL inside a transaction (no RSET)")
            await self.send("503 5.5.1 nested MAIL command")
            return
        params, bad = self.parse_params(m.group(2), _MAIL_PARAMS)
        if bad:
            for b in bad:
                self.violation(b)
            await self.send("555 5.5.4 %s" % bad[0])
            return
        sender = m.group(1)
        if any(ord(ch) > 127 for ch in sender) and "SMTPUTF8" not in params:
            self.violation("non-ASCII sender without SMTPUTF8")
            await self.send("553 5.6.7 SMTPUTF8 needed")
            return
        limit = self.ext().get("SIZE", "")
        if limit.isdigit() and int(limit) and (params.get("SIZE") or
                                               "0").isdigit() \
                and int(params.get("SIZE") or 0) > int(limit):
            await self.send("552 5.3.4 message size exceeds fixed limit")
            return
        txn = SinkTxn(self.conn, text, sender, params)
        self.conn.txns.append(txn)
        self.sink.txns.append(txn)
        def record(rep):
            txn.mail_reply = rep
            if reply_code(rep) // 100 == 2:
                self.txn = txn
        await self.answer("mail", "250 2.1.0 Ok", sender, record)

    async def cmd_rcpt(self, text):
        m = re.match(r"(?i)^RCPT TO:\s?<([^>]*)>(.*)$", text)
        if not m:
            self.violation("malformed RCPT: %r" % text)
            await self.send("501 5.5.4 syntax: RCPT TO:<address>")
            return
        if self.txn is None:
            await self.send("503 5.5.1 need MAIL command")
            return
        params, bad = self.parse_params(m.group(2), _RCPT_PARAMS)
        if bad:
            for b in bad:
                self.violation(b)
            await self.send("555 5.5.4 %s" % bad[0])
            return
        addr = m.group(1)
        if any(ord(ch) > 127 for ch in addr) and \
                "SMTPUTF8" not in self.txn.params:
            self.violation("non-ASCII recipient without SMTPUTF8")
            await self.send("553 5.6.7 SMTPUTF8 needed")
            return
        txn = self.txn
        await self.answer("rcpt", "250 2.1.5 Ok", addr,
                          lambda rep: txn.rcpts.append([addr, params, rep]))

    async def cmd_data(self, text):
        txn = self.txn
        if txn is None:
            await self.send("503 5.5.1 need MAIL command")
            return
        if not txn.accepted_rcpts:
            await self.send("554 5.5.1 no valid recipients")
            return
        if txn.via == "BDAT":
            self.violation("DATA after BDAT")
            await self.send("503 5.5.1 DATA after BDAT")
            return
        rep = await self.answer("data", "354 End data with <CR><LF>.<CR><LF>")
        if reply_code(rep) != 354:
            return
        txn.via = "DATA"
        body = bytearray()
        seen = 0
        bad_lf = bad_cr = eight = False
        drop_at = self.sink.drop_in_data
        while True:
            ln = await self.inp.line(limit=1 << 22)
            seen += len(ln)
            if drop_at is not None and seen > drop_at:
                txn.partial = bytes(body)
                await self.drop(reset=self.sink.drop_reset)
            if ln == b".\r\n":
                break
            if ln == b".\n":
                self.violation("data ended by .<LF>")
                break
            if not ln.endswith(b"\r\n") and not bad_lf:
                bad_lf = True
                self.violation("bare LF in DATA: %r" % ln[-40:])
            if b"\r" in ln[:-2] and not bad_cr:
                bad_cr = True
                self.violation("bare CR in DATA: %r" % ln[:40])
            if not eight and not self.has("8BITMIME") and \
                    re.search(rb"[\x80-\xff]", ln):
                eight = True
                self.violation("8-bit content to a server without "
                               "8BITMIME")
            if ln.startswith(b"."):
                ln = ln[1:]
            body += ln
            if len(body) > 64 << 20:
                raise ConnectionClosed("message too big for the sink")
        txn.data = bytes(body)
        txn.complete = True
        self.sink._log(self.conn, "C", "(%d octets of data)" % len(body))
        if self.inp.buf and not self.has("PIPELINING"):
            self.violation("sent %r before the reply to the end of data"
                           % bytes(self.inp.buf[:40]))
        await self.finish(txn)

    async def cmd_bdat(self, text):
        m = re.match(r"(?i)^BDAT (\d{1,10})( LAST)?$", text)
        if not m:
            self.violation("malformed BDAT: %r" % text)
            await self.send("501 5.5.4 syntax: BDAT size [LAST]")
            return "close"
        n, last = int(m.group(1)), bool(m.group(2))
        txn = self.txn
        chunk = bytearray()
        drop_at = self.sink.drop_in_data
        while len(chunk) < n:
            if not self.inp.buf:
                await self.inp.fill()
            take = min(n - len(chunk), len(self.inp.buf))
            chunk += self.inp.buf[:take]
            del self.inp.buf[:take]
            self.data_octets += take
            if drop_at is not None and txn is not None and \
                    len(txn.partial) + len(chunk) > drop_at:
                txn.partial += bytes(chunk)
                await self.drop(reset=self.sink.drop_reset)
        self.sink._log(self.conn, "C", "(%d octets of BDAT)" % n)
        if not self.has("CHUNKING"):
            self.violation("BDAT to a server without CHUNKING")
            await self.send("500 5.5.1 command unrecognized")
            return
        if txn is None or not txn.accepted_rcpts:
            await self.send("503 5.5.1 need MAIL and RCPT")
            return
        if txn.via == "DATA":
            self.violation("BDAT after DATA")
        if not self.has("8BITMIME") and re.search(rb"[\x80-\xff]", chunk):
            self.violation("8-bit content to a server without 8BITMIME")
        txn.via = "BDAT"
        txn.partial += bytes(chunk)
        if not last:
            rep = await self.answer("bdat", "250 2.0.0 %d octets received"
                                    % n)
            if reply_code(rep) // 100 != 2:
                self.txn = None
            return
        txn.data = txn.partial
        txn.complete = True
        if self.inp.buf and not self.has("PIPELINING"):
            self.violation("sent %r before the reply to BDAT LAST"
                           % bytes(self.inp.buf[:40]))
        await self.finish(txn)

    async def finish(self, txn):
        sink = self.sink
        sink.nmsg += 1
        n = sink.nmsg
        self.txn = None
        self.conn.xforward = []  # XFORWARD attributes last one transaction

        def record(rcpt):
            def rec(rep):
                txn.replies.append((rcpt, rep))
                if reply_code(rep) // 100 == 2 and sink.on_accept:
                    sink.on_accept(txn)
            return rec
        if sink.lmtp:
            for addr in txn.accepted_rcpts:
                await self.answer("eod", "250 2.0.0 <%s> Ok: delivered as "
                                  "S%06d" % (addr, n), addr, record(addr))
        else:
            await self.answer("eod", "250 2.0.0 Ok: queued as S%06d" % n,
                              txn.sender, record(None))

    async def cmd_rset(self, text):
        self.reset()
        await self.answer("rset", "250 2.0.0 Ok")

    async def cmd_noop(self, text):
        await self.send("250 2.0.0 Ok")

    async def cmd_vrfy(self, text):
        await self.send("252 2.0.0 send some mail, we will try")

    async def cmd_quit(self, text):
        self.conn.quit = True
        await self.send("221 2.0.0 Bye")
        return "close"

    async def cmd_starttls(self, text):
        sink = self.sink
        if not self.has("STARTTLS"):
            self.violation("STARTTLS not advertised")
            await self.send("502 5.5.1 STARTTLS not available")
            return
        rep = await self.answer("starttls", "220 2.0.0 Ready to start TLS")
        if reply_code(rep) != 220:
            return
        if self.inp.buf:
            self.violation("sent %r before the TLS handshake"
                           % bytes(self.inp.buf[:40]))
            self.inp.buf.clear()
        try:
            await self.writer.start_tls(sink.tls_context)
        except (ssl.SSLError, OSError, ConnectionError) as e:
            self.conn.tls_error = repr(e)
            sink._log(self.conn, "!", "TLS handshake failed: %r" % e)
            raise ConnectionClosed("TLS handshake failed") from None
        obj = self.writer.get_extra_info("ssl_object")
        self.conn.tls = obj.version() if obj else "TLS"
        sink._log(self.conn, "!", "TLS up: %s" % self.conn.tls)
        self.esmtp = self.hello = False
        self.txn = None

    def _attrs(self, text):
        out = {}
        for kv in text.split()[1:]:
            k, _, v = kv.partition("=")
            out[k.upper()] = xtext_decode(v)
        return out

    async def cmd_xclient(self, text):
        if not self.has("XCLIENT"):
            self.violation("XCLIENT not advertised")
            await self.send("502 5.5.1 XCLIENT not available")
            return
        if self.txn is not None:
            self.violation("XCLIENT inside a transaction")
            await self.send("503 5.5.1 XCLIENT inside a transaction")
            return
        self.conn.xclient.append(self._attrs(text))
        rep = await self.answer("xclient", "220 %s ESMTP test sink"
                                % self.sink.name)
        if reply_code(rep) == 220:
            self.esmtp = self.hello = False

    async def cmd_xforward(self, text):
        if not self.has("XFORWARD"):
            self.violation("XFORWARD not advertised")
            await self.send("502 5.5.1 XFORWARD not available")
            return
        self.conn.xforward.append(self._attrs(text))
        await self.send("250 2.0.0 Ok")


class UpstreamSink:
    """An SMTP (or LMTP) upstream for posternd, in a thread of this
    process.

      ext/without/extra_ext   EHLO keywords: ext (default SINK_EXT) minus
                              those named in without plus extra_ext;
                              STARTTLS is added when tls_context is given
                              (and not implicit_tls), XCLIENT/XFORWARD
                              with xclient/xforward
      replies                 {stage: spec}: stages connect, ehlo, helo,
                              mail, rcpt, data, bdat, eod, rset, starttls,
                              xclient; spec is a reply ("450 4.2.0 busy",
                              lines joined by "\\n"), HANG, DROP, RESET,
                              Delay(seconds, spec), a list of (regex,
                              spec) matched against the address (rcpt;
                              eod in LMTP: per recipient; eod in SMTP and
                              mail: the sender), or a callable(conn,
                              arg) -> spec or None
      drop_in_data            drop the connection once that many octets
                              of the message content arrived
                              (drop_reset: with an RST)
      idle_timeout            seconds a connection may sit without a
                              command, then 421 and close
      lmtp, unix              LMTP; listen on a unix socket path instead
      on_accept               callable(txn) for each accepted message,
                              on the sink's thread
    Records: conns (SinkConn), txns (SinkTxn), violations (str), errors.
    """

    def __init__(self, port=None, host="127.0.0.1", unix=None, lmtp=False,
                 ext=SINK_EXT, without=(), extra_ext=(), replies=None,
                 name="sink.test.invalid", tls_context=None,
                 implicit_tls=False, xclient=False, xforward=False,
                 drop_in_data=None, drop_reset=False, idle_timeout=None,
                 on_accept=None, transcript=True):
        self.host = host
        self.unix = unix
        self.port = None if unix else (port or free_port())
        self.lmtp = lmtp
        drop = {w.split()[0].upper() for w in without}
        self.ext = [e for e in ext if e.split()[0].upper() not in drop]
        self.ext += list(extra_ext)
        self.replies = dict(replies or {})
        self.name = name
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.xclient = xclient
        self.xforward = xforward
        self.drop_in_data = drop_in_data
        self.drop_reset = drop_reset
        self.idle_timeout = idle_timeout
        self.on_accept = on_accept
        self.conns = []
        self.txns = []
        self.violations = []
        self.errors = []
        self.nmsg = 0
        self.nconns = 0
        self._loop = None
        self._thread = None
        self._server = None
        self._writers = set()
        self._tasks = set()
        self._log_fh = None
        if transcript:
            self.dir = make_dir("upstream.")
            self.logfile = os.path.join(self.dir, "transcript.log")
            self._log_fh = open(self.logfile, "a", buffering=1,
                                encoding="utf-8", errors="replace")
            ARTIFACTS.append(("upstream sink %s transcript"
                              % (self.port or self.unix), self.logfile))

    # -- configuration as posternd sees it

    @property
    def url(self):
        if self.unix:
            return "lmtp:unix:" + self.unix
        scheme = ("lmtp" if self.lmtp else
                  "smtps" if self.implicit_tls else "smtp")
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (scheme, host, self.port)

    def ext_lines(self, conn):
        lines = list(self.ext)
        if self.tls_context is not None and not self.implicit_tls \
                and conn.tls is None:
            lines.append("STARTTLS")
        if self.xclient:
            lines.append("XCLIENT NAME ADDR PORT PROTO HELO LOGIN "
                         "DESTADDR DESTPORT")
        if self.xforward:
            lines.append("XFORWARD NAME ADDR PORT PROTO HELO IDENT "
                         "SOURCE")
        return lines

    def injected(self, stage, conn, arg):
        spec = self.replies.get(stage)
        if callable(spec):
            spec = spec(conn, arg)
        if isinstance(spec, (list, tuple)):
            for rx, rep in spec:
                if re.search(rx, arg or "", re.I):
                    if callable(rep):
                        rep = rep(conn, arg)
                    return rep
            return None
        return spec

    def _log(self, conn, who, text):
        if self._log_fh is None:
            return
        t = time.strftime("%H:%M:%S")
        for ln in text.split("\n"):
            self._log_fh.write("%s conn %d %s: %s\n" % (t, conn.id, who, ln))

    # -- process

    def start(self):
        ready = threading.Event()
        err = []

        def main():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._listen())
            except Exception as e:  # reported by start()
                err.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, daemon=True,
                                        name="upstream-sink")
        self._thread.start()
        if not ready.wait(START_TIMEOUT):
            raise AssertionError("upstream sink did not start")
        if err:
            raise AssertionError("upstream sink: %r" % err[0])
        return self

    async def _listen(self):
        ctx = self.tls_context if self.implicit_tls else None
        if self.unix:
            self._server = await asyncio.start_unix_server(
                self._session, path=self.unix, ssl=ctx)
            os.chmod(self.unix, 0o666)
        else:
            self._server = await asyncio.start_server(
                self._session, self.host, self.port, ssl=ctx,
                reuse_address=True, backlog=512)

    async def _session(self, reader, writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        self.nconns += 1
        conn = SinkConn(self.nconns, writer.get_extra_info("peername"))
        if self.implicit_tls:
            obj = writer.get_extra_info("ssl_object")
            conn.tls = obj.version() if obj else "TLS"
        self.conns.append(conn)
        self._log(conn, "!", "connect from %s" % (conn.peer,))
        try:
            await _SinkSession(self, conn, reader, writer).run()
        except (ConnectionClosed, ConnectionError, OSError, ssl.SSLError,
                asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception as e:  # a bug in the sink: fail the test
            self.errors.append("conn %d: %r" % (conn.id, e))
            self._log(conn, "!", "sink error %r" % e)
        finally:
            conn.closed = time.monotonic()
            self._log(conn, "!", "closed")
            try:
                writer.close()
            except Exception:
                pass
            self._writers.discard(writer)
            self._tasks.discard(task)

    def stop(self):
        if self._loop is None or not self._thread.is_alive():
            return

        async def shutdown():
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.sleep(0.01)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(),
                                             self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            if self._log_fh:
                self._log_fh.close()
                self._log_fh = None

    def close_connections(self):
        """Drop every open connection (as a restarted server would)."""
        async def drop():
            for w in list(self._writers):
                w.transport.abort()
        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(10)

    # -- what happened

    def accepted(self):
        """Transactions whose message was accepted (for some rcpt)."""
        return [t for t in list(self.txns) if t.accepted]

    def completed(self):
        """Transactions whose data arrived in full (accepted or not)."""
        return [t for t in list(self.txns) if t.complete]

    def wait_accepted(self, n, timeout=IO_TIMEOUT):
        wait_until(lambda: len(self.accepted()) >= n, timeout,
                   what="%d messages accepted by the upstream sink "
                   "(have %d)" % (n, len(self.accepted())))
        return self.accepted()

    def probes(self, addr):
        """RCPT commands for addr in transactions that sent no data
        (recipient verification probes)."""
        n = 0
        for t in list(self.txns):
            if t.via is None:
                n += sum(1 for a, _, _ in t.rcpts if a == addr)
        return n

    def describe(self):
        return "\n".join("%r %r" % (c, c.txns) for c in self.conns)


class BlackholePort:
    """127.0.0.1:port where TCP connects never complete: a listener with
    backlog 0 that never accepts, its queue filled by our own connects,
    so the kernel drops further SYNs.  works is False when the kernel
    answered anyway (tests then skip)."""

    def __init__(self):
        self.port = free_port()
        self.url = "smtp://127.0.0.1:%d" % self.port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(0)
        self.fill = []
        self.works = False
        for _ in range(16):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            self.fill.append(s)
            _, w, _ = select.select([], [s], [], 0.3)
            if not w:
                self.works = True
                break

    def close(self):
        for s in self.fill:
            s.close()
        self.lsock.close()


def closed_port_url(scheme="smtp"):
    """An upstream URL where nothing listens (connection refused)."""
    return "%s://127.0.0.1:%d" % (scheme, free_port())


def sink_server_context(ca=None):
    """Server-side TLS context with the test CA's server certificate."""
    ca = ca or TestCA.get()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca.server_cert, ca.server_key)
    return ctx


def dot_stuff(body):
    """body (CRLF lines, ending in CRLF) as sent after DATA, with the
    final dot line."""
    if not body.endswith(b"\r\n") and body:
        raise ValueError("DATA content must end with CRLF")
    lines = body.split(b"\r\n")[:-1] if body else []
    out = b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n"
                   for ln in lines)
    return out + b".\r\n"


def split_received(data):
    """(first header field with its folded lines, the rest) of a message
    as an upstream received it (CRLF)."""
    m = re.match(rb"([^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)", data)
    head = m.group(1) if m else b""
    return head, data[len(head):]


class ForegroundPeer:
    """A peer started as self.proc with its output in self.logfile
    (written through self.log_fh): stop() and log() for it."""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc:
            self.log_fh.close()
            self.proc = None

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class DovecotInstance(ForegroundPeer):
    """A private Dovecot: LMTP on 127.0.0.1:lmtp_port and on the unix
    socket lmtp_socket, IMAP on imap_port; users alice/alicepw and
    bob/bobpw whose mail is DIR/mail/USER/Maildir (owned by nobody).
    LMTP maps "RCPT TO:<alice@any.domain>" to user alice."""

    CONF = """\
instance_name = postern-it-{tag}
base_dir = {dir}/run
state_dir = {dir}/state
listen = 127.0.0.1
protocols = imap lmtp
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {dir}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
  unix_listener {lmtp_socket} {{
    mode = 0666
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@example.org
}}
"""

    USERS = {"alice": "alicepw", "bob": "bobpw"}

    def __init__(self):
        self.dir = make_dir("dovecot.")
        self.lmtp_port = free_port()
        self.imap_port = free_port()
        self.lmtp_socket = os.path.join(self.dir, "lmtp.sock")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.logfile = os.path.join(self.dir, "dovecot.log")
        self.maildir = sub_dir(self.dir, "mail", owner="nobody")
        with open(self.conf, "w") as f:
            f.write(self.CONF.format(tag=os.path.basename(self.dir),
                                     dir=self.dir, imap_port=self.imap_port,
                                     lmtp_port=self.lmtp_port,
                                     lmtp_socket=self.lmtp_socket))
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for user, pw in self.USERS.items():
                f.write("%s:{PLAIN}%s:%d:%d::%s/%s::\n"
                        % (user, pw, NOBODY.pw_uid, NOBODY_GID,
                           self.maildir, user))
        self.proc = None
        ARTIFACTS.append(("dovecot log", self.logfile))

    def start(self):
        self.log_fh = open(os.path.join(self.dir, "dovecot.stderr"), "ab")
        self.proc = _track(subprocess.Popen(
            [program("dovecot"), "-F", "-c", self.conf],
            stdin=subprocess.DEVNULL, stdout=self.log_fh,
            stderr=self.log_fh))

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited (%s): %s" % (
                    self.proc.returncode, self.log()))
            return (is_listening(self.lmtp_port) and
                    is_listening(self.imap_port) and
                    os.path.exists(self.lmtp_socket))
        wait_until(ready, START_TIMEOUT, what="dovecot")
        return self

    def mailbox(self, user):
        """Raw messages in user's INBOX maildir (new and cur)."""
        base = os.path.join(self.maildir, user, "Maildir")
        out = []
        for sub in ("new", "cur"):
            for p in maildir_files(base, sub):
                with open(p, "rb") as f:
                    out.append(f.read())
        return out

    def imap_fetch(self, user):
        """Every INBOX message of user, read over IMAP (RFC822 bytes)."""
        im = imaplib.IMAP4("127.0.0.1", self.imap_port)
        try:
            im.login(user, self.USERS[user])
            im.select("INBOX", readonly=True)
            typ, data = im.search(None, "ALL")
            out = []
            for num in data[0].split():
                typ, parts = im.fetch(num, "(RFC822)")
                out.append(parts[0][1])
            im.logout()
            return out
        finally:
            try:
                im.shutdown()
            except Exception:
                pass


class TxnResult:
    """What the client was told during one transaction."""

    def __init__(self):
        self.mail = None
        self.rcpts = []
        self.data = None
        self.bdat = []
        self.eod = None

    def replies(self):
        out = [self.mail] + self.rcpts + [self.data] + self.bdat + \
            [self.eod]
        return [r for r in out if r is not None]

    @property
    def acked(self):
        return self.eod is not None and self.eod.code == 250

    @property
    def qid(self):
        m = self.eod and re.search(r"queued as ([0-9A-F]{12})\b",
                                   self.eod.text)
        return m.group(1) if m else None

    def refusal(self):
        """The first reply that was neither 2xx nor 354 (None: none)."""
        for r in self.replies():
            if r.code // 100 != 2 and r.code != 354:
                return r
        return None

    def __repr__(self):
        return "<txn %s>" % " ".join(repr(r) for r in self.replies())


class UpstreamTest(PosterndTest):
    """Base class for relay tests: starts sinks, Dovecot, posternd with
    upstream routes, drives transactions and checks what arrived."""

    def upstream_sink(self, allow_violations=False, **kw):
        s = UpstreamSink(**kw)
        self.addCleanup(self._finish_sink, s, allow_violations)
        return s.start()

    def _finish_sink(self, s, allow_violations):
        s.stop()
        if s.errors:
            self.fail("upstream sink errors: %s" % s.errors)
        if s.violations and not allow_violations:
            self.fail("protocol violations seen by the upstream sink:\n  "
                      + "\n  ".join(s.violations[:20]))

    def dovecot(self):
        self.need("dovecot")
        dv = DovecotInstance()
        self.addCleanup(dv.stop)
        return dv.start()

    def blackhole(self):
        b = BlackholePort()
        self.addCleanup(b.close)
        return b

    def relay(self, upstream, opts=None, routes=None, **kw):
        """posternd with route default -> upstream (a URL, a sink or a
        list of them) and route options opts."""
        def url(u):
            return u if isinstance(u, str) else u.url
        ups = ([url(u) for u in upstream]
               if isinstance(upstream, (list, tuple)) else url(upstream))
        if routes is None:
            routes = [("default", ups, opts or {})]
        return self.posternd(routes=routes, **kw)

    def transact(self, c, body, rcpts=("user@example.org",),
                 sender="sender@example.net", mail_params="",
                 rcpt_params=None, bdat=None):
        """One transaction on an open RawSMTP session (EHLO done).  bdat:
        None = DATA, else a list of chunk lengths (the rest goes into
        the last chunk).  Stops at the first refusal that ends it."""
        res = TxnResult()
        res.mail = c.cmd("MAIL FROM:<%s>%s" % (sender, mail_params))
        if res.mail.code != 250:
            return res
        for r in rcpts:
            p = (rcpt_params or {}).get(r, "") \
                if isinstance(rcpt_params, dict) else (rcpt_params or "")
            res.rcpts.append(c.cmd("RCPT TO:<%s>%s" % (r, p)))
        if not any(r.code == 250 for r in res.rcpts):
            self.assertReply(c.cmd("RSET"), 250)
            return res
        if bdat is None:
            res.data = c.cmd("DATA")
            if res.data.code != 354:
                return res
            c.send(dot_stuff(body))
            res.eod = c.reply()
            return res
        chunks, rest = [], body
        for n in bdat:
            chunks.append(rest[:n])
            rest = rest[n:]
        chunks.append(rest)
        for i, ch in enumerate(chunks):
            last = i == len(chunks) - 1
            c.send(b"BDAT %d%s\r\n" % (len(ch), b" LAST" if last else b"")
                   + ch)
            r = c.reply()
            if last:
                res.eod = r
            else:
                res.bdat.append(r)
                if r.code != 250:
                    break
        return res

    def send_one(self, d, body=None, source=None, helo="client.test",
                 host="127.0.0.1", **kw):
        """A new session: EHLO, one transaction, QUIT."""
        c = self.raw(d, host=host, source=source)
        c.hello(helo)
        res = self.transact(c, body if body is not None else message(),
                            **kw)
        try:
            c.cmd("QUIT")
        except (ConnectionClosed, OSError):
            pass
        c.close()
        return res

    # -- assertions

    def assertArrived(self, txn, body, qid=None, msg=None):
        """txn's content (a SinkTxn, or bytes) is posternd's Received
        header + body, exactly."""
        data = txn if isinstance(txn, bytes) else txn.data
        self.assertIsNotNone(data, msg)
        head, rest = split_received(data)
        self.assertTrue(head.startswith(b"Received: from "),
                        "%sno Received header on top: %r"
                        % (msg + ": " if msg else "", data[:200]))
        self.assertIn(b"(postern)", head)
        if rest != body:
            self.fail("%scontent differs from what the client sent:\n"
                      "sent    %r\narrived %r"
                      % (msg + ": " if msg else "", body[:600], rest[:600]))
        if qid:
            rcv = parse_received(head.decode("utf-8", "replace"))
            self.assertEqual(rcv["id"], qid, head)

    def assertMarked(self, reply, sink, token):
        """A relayed upstream reply: "... HOST[IP]:PORT said: ..." with
        the upstream's own text (token) in it."""
        where = "[127.0.0.1]:%d said:" % sink.port
        self.assertIn(where, reply.text, "upstream reply not marked with "
                      "%r: %r" % (where, reply))
        self.assertIn(token, reply.text, "upstream text not relayed: %r"
                      % reply)

    def assertNoneArrived(self, sink, complete=False):
        """No message was accepted by the sink (complete=True: not even
        its data was sent in full)."""
        acc = sink.accepted()
        self.assertEqual(acc, [], "the upstream accepted a message the "
                         "client was not told 250 for")
        if complete:
            self.assertEqual(sink.completed(), [], "the upstream received "
                             "a complete message (only RSET/QUIT was "
                             "allowed)")

    def assertToldTruth(self, results, sink, key="Message-ID"):
        """Every message acknowledged with 250 arrived (matched by its
        Message-ID), and nothing arrived that was not acknowledged."""
        arrived = {}
        for t in sink.accepted():
            arrived.setdefault(t.header(key), []).append(t)
        for mid, res in results:
            if res.acked:
                self.assertIn(mid, arrived, "client got 250 for %s but it "
                              "did not arrive: %r" % (mid, res))
            else:
                self.assertNotIn(mid, arrived, "client was refused (%r) "
                                 "but %s arrived upstream" % (res, mid))


def sink_main(argv):
    """Command line for a stand-alone UpstreamSink (bench/soak.py):
        python3 -c 'import harness; harness.sink_main(sys.argv[1:])'
            --port N [--host H] [--lmtp] --record FILE
    FILE gets one line per accepted message: its Message-ID, a tab and
    the number of recipients it was accepted for, written before the
    sink's 250 goes out.  Prints "READY port" once listening; SIGTERM
    stops it and prints the counters (connections, messages,
    violations) on stderr."""
    import argparse
    p = argparse.ArgumentParser(prog="upstream-sink")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lmtp", action="store_true")
    p.add_argument("--record", required=True)
    a = p.parse_args(argv)
    rec = open(a.record, "a", buffering=1)

    def on_accept(txn):
        rec.write("%s\t%d\n" % (txn.header("Message-ID"),
                                len(txn.delivered)))
        txn.data = None  # keep memory flat over long runs

    sink = UpstreamSink(port=a.port, host=a.host, lmtp=a.lmtp,
                        on_accept=on_accept, transcript=False)
    sink.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("READY %d" % sink.port, flush=True)
    while not done.wait(1.0):
        if len(sink.conns) > 1000:
            # Forget closed connections and their transactions.
            sink.conns[:] = [c for c in sink.conns if c.closed is None]
            sink.txns[:] = [t for t in sink.txns
                            if t.conn.closed is None]
    sink.stop()
    rec.close()
    sys.stderr.write("upstream-sink: %d messages, %d violations%s\n"
                     % (sink.nmsg, len(sink.violations),
                        "".join("\n  " + v for v in sink.violations[:20])))
    return 1 if sink.violations or sink.errors else 0
