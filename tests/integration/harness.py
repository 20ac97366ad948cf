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

Everything lives below one suite directory (SUITE_DIR) that the runner
removes when every test passed.  Runs as root inside a private network
namespace (see run.sh); nothing here talks to anything but loopback.
Not thread-safe: one test at a time.
"""

import email.utils
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
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
    default); routes is a list of (name, upstream) with name "default"
    or a domain; extra is raw config text appended at the end."""

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
        for name, upstream in self.routes:
            n = name if name == "default" else _render_value(name)
            lines.append("route %s { upstream = %s; }"
                         % (n, _render_value(upstream)))
        if self.extra:
            lines.append(self.extra)
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
    [127.0.0.1]:relay_port.  Log: DIR/maillog.  Root only."""

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

    def __init__(self, relay_port, smtpd_port=None):
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

    def postfix(self, relay_port):
        pf = PostfixInstance(relay_port)
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
