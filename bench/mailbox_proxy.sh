#!/bin/bash
# IMAP/POP3 pass-through benchmark (issue 10): what does postern cost in
# front of a mailbox server?
#
# A private Dovecot (tests/integration/dovecot_peer.py) holds
# BENCH_MBOX_MESSAGES (2000) messages of BENCH_MBOX_SIZE (51200) octets.
# In the same run, alternating, BENCH_MBOX_ROUNDS (3) times each:
#   IMAP  "FETCH 1:N BODY.PEEK[]" on one session, directly to Dovecot and
#         through posternd (imap {} with a default backend);
#   POP3  "RETR 1" .. "RETR N", pipelined 100 at a time, both ways.
# The best round of each path counts.  Prints MB/s, the ratio through /
# direct (target >= 0.9), and posternd's RSS per idle logged-in IMAP
# session (BENCH_MBOX_SESSIONS, 100, logged in and SELECTed, measured as
# the growth of VmRSS divided by the count) and the pipe descriptors it
# holds for them (the spliced relay's).  BENCH_MBOX_SPLICE=no measures
# the buffered relay instead (relay_splice = no).
#
# Usage: bench/mailbox_proxy.sh [PATH-TO-POSTERND]  (default /tmp/build-lead/posternd)
# Runs as root in a private network namespace (only loopback).  Needs
# dovecot-imapd and dovecot-pop3d.  Exit status 0 when every transfer
# was complete.

set -u

POSTERND=${1:-/tmp/build-lead/posternd}
HERE=$(cd "$(dirname "$0")" && pwd)
case $POSTERND in
/*) ;;
*) POSTERND=$(pwd)/$POSTERND ;;
esac

if [ -z "${POSTERN_BENCH_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "mailbox_proxy.sh: must run as root" >&2
		exit 1
	fi
	POSTERN_BENCH_NS=1 exec unshare --net -- "$0" "$POSTERND"
fi
ip link set lo up

export POSTERND HERE
exec python3 - <<'PYEOF'
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ["HERE"], "..", "tests",
                                "integration"))
import harness  # noqa: E402
from dovecot_peer import MailboxDovecot  # noqa: E402

harness.POSTERND = os.environ["POSTERND"]
N = int(os.environ.get("BENCH_MBOX_MESSAGES", "2000"))
SIZE = int(os.environ.get("BENCH_MBOX_SIZE", "51200"))
ROUNDS = int(os.environ.get("BENCH_MBOX_ROUNDS", "3"))
SESSIONS = int(os.environ.get("BENCH_MBOX_SESSIONS", "100"))
SPLICE = os.environ.get("BENCH_MBOX_SPLICE", "yes")


def msg(i):
    head = ("From: bench@example.net\r\nTo: alice@example.org\r\n"
            "Subject: bench %d\r\nMessage-ID: <b%d@example.net>\r\n\r\n"
            % (i, i)).encode()
    line = (b"x" * 76) + b"\r\n"
    body = line * ((SIZE - len(head)) // len(line) + 1)
    return head + body[:SIZE - len(head) - 2] + b"\r\n"


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), 30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_line_starting(s, buf, prefix):
    """Read until a whole line starting with prefix; returns the rest."""
    while True:
        i = buf.find(b"\r\n" + prefix) if not buf.startswith(prefix) else 0
        if i >= 0:
            j = buf.find(b"\r\n", i + 2 if i else 0)
            if j >= 0:
                return buf[j + 2:]
        chunk = s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("closed waiting for %r" % prefix)
        buf += chunk


def imap_login(port):
    s = connect(port)
    rest = read_line_starting(s, b"", b"* OK")
    s.sendall(b"a LOGIN alice alicepw\r\nb SELECT INBOX\r\n")
    rest = read_line_starting(s, rest, b"b OK")
    if rest:
        raise RuntimeError("unexpected %r" % rest[:100])
    return s


def imap_fetch(port):
    s = imap_login(port)
    t0 = time.monotonic()
    s.sendall(b"c FETCH 1:%d BODY.PEEK[]\r\n" % N)
    total = 0
    tail = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("closed during FETCH")
        total += len(chunk)
        tail = (tail + chunk)[-200:]
        if re.search(rb"\r\nc OK[^\r\n]*\r\n$", tail):
            break
    dt = time.monotonic() - t0
    s.sendall(b"d LOGOUT\r\n")
    s.close()
    if total < N * SIZE:
        raise RuntimeError("IMAP: only %d octets" % total)
    return total, dt


def pop3_retr(port):
    s = connect(port)
    rest = read_line_starting(s, b"", b"+OK")
    s.sendall(b"USER alice\r\n")
    rest = read_line_starting(s, rest, b"+OK")
    s.sendall(b"PASS alicepw\r\n")
    rest = read_line_starting(s, rest, b"+OK")
    if rest:
        raise RuntimeError("unexpected %r" % rest[:100])
    t0 = time.monotonic()
    total = 0
    for start in range(1, N + 1, 100):
        batch = range(start, min(N, start + 99) + 1)
        s.sendall(b"".join(b"RETR %d\r\n" % i for i in batch))
        want = len(batch)
        seen = 0
        tail = b""
        while seen < want:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("closed during RETR")
            total += len(chunk)
            data = tail + chunk
            seen += data.count(b"\r\n.\r\n") - tail.count(b"\r\n.\r\n")
            tail = data[-4:]
    dt = time.monotonic() - t0
    s.sendall(b"QUIT\r\n")
    s.close()
    if total < N * SIZE:
        raise RuntimeError("POP3: only %d octets" % total)
    return total, dt


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pipes(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("pipe:")
        except OSError:
            pass
    return n


def main():
    dc = MailboxDovecot().start()
    d = None
    try:
        print("filling the mailbox: %d messages of %d octets" % (N, SIZE))
        dc.put_messages("alice", (msg(i) for i in range(N)))
        imap_port, pop3_port = harness.free_port(), harness.free_port()
        extra = ("imap {\n  listen = \"127.0.0.1:%d\";\n"
                 "  trusted_networks = [ \"127.0.0.0/8\" ];\n"
                 "  max_connections_per_ip = 100000;\n"
                 "  relay_splice = %s;\n"
                 "  backend default { server = \"127.0.0.1:%d\"; }\n}\n"
                 "pop3 {\n  listen = \"127.0.0.1:%d\";\n"
                 "  trusted_networks = [ \"127.0.0.0/8\" ];\n"
                 "  relay_splice = %s;\n"
                 "  backend default { server = \"127.0.0.1:%d\"; }\n}\n"
                 % (imap_port, SPLICE, dc.imap_port, pop3_port, SPLICE,
                    dc.pop3_port))
        d = harness.Posternd(extra=extra, listen6=False)
        d.start()
        harness.wait_until(lambda: harness.is_listening(imap_port), 10)
        harness.wait_until(lambda: harness.is_listening(pop3_port), 10)
        # sessions first, on a fresh heap: after the transfers, freed
        # buffers would be reused and hide the growth
        socks = []
        base = rss_kb(d.pid)
        base_pipes = pipes(d.pid)
        for _ in range(SESSIONS):
            socks.append(imap_login(imap_port))
        time.sleep(1)
        grown = rss_kb(d.pid) - base
        pipe_fds = pipes(d.pid) - base_pipes
        for s in socks:
            s.close()
        imap_fetch(dc.imap_port)  # warm Dovecot's index and page cache
        pop3_retr(dc.pop3_port)
        best = {}
        for r in range(ROUNDS):
            for name, fn, port in (
                    ("imap direct", imap_fetch, dc.imap_port),
                    ("imap postern", imap_fetch, imap_port),
                    ("pop3 direct", pop3_retr, dc.pop3_port),
                    ("pop3 postern", pop3_retr, pop3_port)):
                total, dt = fn(port)
                mbs = total / dt / 1e6
                print("round %d %-13s %8.1f MB/s (%d octets in %.2fs)"
                      % (r + 1, name, mbs, total, dt))
                best[name] = max(best.get(name, 0), mbs)
        per = grown * 1024.0 / SESSIONS
        ri = best["imap postern"] / best["imap direct"]
        rp = best["pop3 postern"] / best["pop3 direct"]
        print("IMAP FETCH: direct %.1f MB/s, postern %.1f MB/s, ratio %.2f"
              % (best["imap direct"], best["imap postern"], ri))
        print("POP3 RETR:  direct %.1f MB/s, postern %.1f MB/s, ratio %.2f"
              % (best["pop3 direct"], best["pop3 postern"], rp))
        print("RSS per idle logged-in IMAP session: %.1f KiB, %.1f pipe "
              "descriptors (%d sessions, relay_splice = %s)"
              % (per / 1024, pipe_fds / SESSIONS, SESSIONS, SPLICE))
        print("SUMMARY mailbox_proxy imap_ratio=%.2f pop3_ratio=%.2f "
              "rss_per_session_kib=%.1f target_ratio=0.9 %s"
              % (ri, rp, per / 1024,
                 "ok" if min(ri, rp) >= 0.9 else "below-target"))
    finally:
        if d is not None:
            d.stop()
        dc.stop()
        harness.kill_leftovers()
        import shutil
        shutil.rmtree(harness.suite_dir(), ignore_errors=True)


main()
PYEOF
