"""Shared plumbing for postern's Python benchmarks (python3 stdlib only).

Private network (and mount) namespace, free ports, a work dir that is
removed on exit, starting/stopping posternd and smtp-sink, and reading a
process's memory figures from /proc. Single-threaded use only.
"""

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

NS_MARKER = "POSTERN_BENCH_NS"
DEFAULT_POSTERND = "/tmp/build-lead/posternd"
RUN_USER = "nobody"


def die(name, msg):
    print(f"{name}: FAILED: {msg}", file=sys.stderr)
    print(f"SUMMARY {name}: FAILED ({msg})")
    sys.exit(1)


def enter_namespace(mount=False):
    """Re-exec this script in a private network namespace (only loopback
    up) and, with mount=True, a private mount namespace; no-op inside.

    Loopback gets an Ethernet-sized MTU (BENCH_LO_MTU, default 1500): with
    the default 64 KiB MTU, servers that size their buffers from the TCP
    MSS (Postfix's smtp-sink does: 256 KiB per session on lo) would be
    measured in a configuration no real client produces."""
    if os.environ.get(NS_MARKER):
        mtu = os.environ.get("BENCH_LO_MTU", "1500")
        subprocess.run(["ip", "link", "set", "lo", "mtu", mtu, "up"],
                       check=True)
        return
    if os.geteuid() != 0:
        sys.exit(f"{os.path.basename(sys.argv[0])}: must run as root "
                 "(namespaces, user = nobody)")
    os.environ[NS_MARKER] = "1"
    cmd = ["unshare", "--net"]
    if mount:
        cmd += ["--mount", "--propagation", "private"]
    cmd += ["--", sys.executable, os.path.abspath(sys.argv[0])] + sys.argv[1:]
    sys.stdout.flush()
    os.execvp(cmd[0], cmd)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10.0):
    """True once 127.0.0.1:port accepts and proc is still our live child
    (otherwise a leftover server might be answering)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            return proc.poll() is None
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc, timeout=10.0):
    """SIGTERM, then SIGKILL after timeout. Returns the exit status, or
    None if the process had to be killed."""
    if proc is None:
        return None
    if proc.poll() is not None:
        return proc.returncode
    proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def stop_posternd(name, proc):
    """Stop posternd; it must exit 0 on SIGTERM (say so if it does not)."""
    st = stop(proc)
    if st != 0:
        how = "ignored SIGTERM for 10 s" if st is None else f"exited {st}"
        print(f"{name}: note: posternd {how} after SIGTERM", file=sys.stderr)


class WorkDir:
    """A 0755 temp dir, removed (and its tmpfs unmounted) at exit; running
    children registered with track() are stopped first."""

    def __init__(self, tag):
        self.path = tempfile.mkdtemp(prefix=f"postern-bench-{tag}.")
        os.chmod(self.path, 0o755)
        self.mounts = []
        self.procs = []
        atexit.register(self.cleanup)
        # SIGTERM/SIGINT: exit normally so atexit runs.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sys.exit(130))

    def track(self, proc):
        self.procs.append(proc)
        return proc

    def tmpfs(self, name, size_mb):
        d = os.path.join(self.path, name)
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o",
                        f"size={size_mb}m,mode=755", "bench", d], check=True)
        self.mounts.append(d)
        return d

    def cleanup(self):
        for p in self.procs:
            stop(p)
        for d in reversed(self.mounts):
            subprocess.run(["umount", d], stderr=subprocess.DEVNULL)
        self.mounts = []
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"work dir kept: {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def make_dirs_for_user(*dirs):
    pw = pwd.getpwnam(RUN_USER)
    for d in dirs:
        os.makedirs(d, exist_ok=True)
        os.chown(d, pw.pw_uid, pw.pw_gid)


def make_maildir(path):
    make_dirs_for_user(path, *(os.path.join(path, s)
                               for s in ("tmp", "new", "cur")))
    return path


def start_posternd(posternd, wd, name, maildir, spool, threads=2,
                   smtp_extra=""):
    """Write WD/NAME.conf, check it with -t, start posternd -f (log in
    WD/NAME.log) on a free port. Returns (proc, port)."""
    port = free_port()
    conf = os.path.join(wd.path, name + ".conf")
    with open(conf, "w") as f:
        f.write(f"""hostname = "mx.bench.invalid";
user = "{RUN_USER}";
threads = {threads};
spool_dir = "{spool}";
smtp {{
  listen = ["127.0.0.1:{port}"];
  relay_domains = ["example.org"];
  trusted_networks = ["127.0.0.0/8"];
{smtp_extra}}}
route default {{ upstream = "maildir:{maildir}"; }}
""")
    t = subprocess.run([posternd, "-c", conf, "-t"], capture_output=True,
                       text=True)
    if t.returncode != 0:
        raise RuntimeError(f"posternd -t rejected {conf}: "
                           f"{t.stderr.strip() or t.stdout.strip()}")
    log = open(os.path.join(wd.path, name + ".log"), "w")
    proc = wd.track(subprocess.Popen([posternd, "-c", conf, "-f"],
                                     stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL))
    log.close()
    if not wait_port(port, proc):
        raise RuntimeError(f"posternd did not start (see {log.name}):\n"
                           + tail(log.name))
    return proc, port


def start_smtp_sink(wd, max_conns=1000, backlog=1024):
    """smtp-sink discarding every message. Returns (proc, port)."""
    port = free_port()
    log = open(os.path.join(wd.path, "smtp-sink.log"), "w")
    proc = wd.track(subprocess.Popen(
        ["smtp-sink", "-u", RUN_USER, "-m", str(max_conns),
         f"127.0.0.1:{port}", str(backlog)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    log.close()
    if not wait_port(port, proc):
        raise RuntimeError("smtp-sink did not start:\n" + tail(log.name))
    return proc, port


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def proc_status(pid):
    """VmRSS, VmHWM, VmSize ... from /proc/PID/status, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            m = re.match(r"(Vm\w+|Rss\w+):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2)) * 1024
    return out


def proc_pss(pid):
    """Pss from /proc/PID/smaps_rollup, in bytes."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"Pss:\s+(\d+) kB", line)
            if m:
                return int(m.group(1)) * 1024
    raise RuntimeError(f"no Pss in /proc/{pid}/smaps_rollup")


def read_reply(sock, buf=b""):
    """Read one (possibly multi-line) SMTP reply. Returns (lines, rest)."""
    lines = []
    while True:
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed by server")
            buf += chunk
        line, buf = buf.split(b"\r\n", 1)
        lines.append(line.decode("latin-1"))
        if len(line) < 4 or line[3:4] != b"-":
            return lines, buf


def mib(n):
    return n / (1024 * 1024)
