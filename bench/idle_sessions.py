#!/usr/bin/env python3
"""Memory per idle SMTP session: posternd against smtp-sink, same run.

For each server: open BENCH_SESSIONS (default 5000) TCP connections from
127.0.0.1 .. 127.0.0.20, read each greeting, send EHLO and read the reply
(so every session is fully set up), wait, and compare the server's memory
before and after: (after - before) / sessions, for VmRSS and for Pss
(/proc/PID/smaps_rollup). Prints a table, the ratio posternd / smtp-sink
and a SUMMARY line. Target for posternd: <= 8 KiB per session.

  bench/idle_sessions.py [PATH-TO-POSTERND]   (default /tmp/build-lead/posternd)

Environment: BENCH_SESSIONS (default 5000), BENCH_SETTLE seconds to wait
with all sessions open before measuring (default 2), BENCH_LO_MTU (default
1500, see benchlib.enter_namespace), BENCH_KEEP=1 keeps the work dir. Runs as root, re-executing itself in a private network namespace.
Exit 1 if a server refused or dropped a session (the figure would be
meaningless), 0 otherwise; the target is reported, never enforced.
"""

import os
import resource
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

NAME = "idle_sessions"
SOURCES = 20          # client addresses 127.0.0.1 .. 127.0.0.SOURCES
TARGET = 8 * 1024     # bytes per session
NOFILE = 20000


def open_session(port, i):
    s = socket.socket()
    s.settimeout(10)
    s.bind((f"127.0.0.{1 + i % SOURCES}", 0))
    s.connect(("127.0.0.1", port))
    greet, rest = benchlib.read_reply(s)
    if not greet[0].startswith("220"):
        s.close()
        raise ConnectionError(f"greeting: {greet[0]}")
    s.sendall(b"EHLO client%d.bench.test\r\n" % i)
    ehlo, rest = benchlib.read_reply(s, rest)
    if not ehlo[-1].startswith("250"):
        s.close()
        raise ConnectionError(f"EHLO: {ehlo[-1]}")
    return s


def measure(label, proc, port, count, settle):
    """Returns a dict of figures; raises on a refused or dropped session."""
    pid = proc.pid
    # Warm up: a few complete sessions, so one-time allocations (thread
    # arenas, lazily built tables) are not charged to the sessions.
    warm = [open_session(port, i) for i in range(2 * SOURCES)]
    for s in warm:
        s.close()
    time.sleep(0.5)
    before_rss = benchlib.proc_status(pid)["VmRSS"]
    before_pss = benchlib.proc_pss(pid)
    socks = []
    t0 = time.monotonic()
    try:
        for i in range(count):
            try:
                socks.append(open_session(port, i))
            except (OSError, ConnectionError) as e:
                raise RuntimeError(f"{label}: session {i + 1} of {count} "
                                   f"failed: {e}") from None
        setup = time.monotonic() - t0
        time.sleep(settle)
        if proc.poll() is not None:
            raise RuntimeError(f"{label} exited during the run")
        after_rss = benchlib.proc_status(pid)["VmRSS"]
        after_pss = benchlib.proc_pss(pid)
        # Every session must still be alive: a NOOP on each, all answered.
        for s in socks:
            s.sendall(b"NOOP\r\n")
        for n, s in enumerate(socks):
            r, _ = benchlib.read_reply(s)
            if not r[-1].startswith("250"):
                raise RuntimeError(f"{label}: NOOP on session {n + 1}: {r[-1]}")
    finally:
        for s in socks:
            s.close()
    return {
        "before": before_rss, "after": after_rss,
        "rss": (after_rss - before_rss) / count,
        "pss": (after_pss - before_pss) / count,
        "setup": setup,
    }


def main():
    benchlib.enter_namespace()
    posternd = sys.argv[1] if len(sys.argv) > 1 else benchlib.DEFAULT_POSTERND
    count = int(os.environ.get("BENCH_SESSIONS", "5000"))
    settle = float(os.environ.get("BENCH_SETTLE", "2"))
    # Our own sockets plus the servers' (they inherit the limit).
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
    wd = benchlib.WorkDir("idle")

    results = {}
    try:
        sink, sport = benchlib.start_smtp_sink(wd, max_conns=count + 1000)
        results["smtp-sink"] = measure("smtp-sink", sink, sport, count, settle)
        benchlib.stop(sink)
        if os.access(posternd, os.X_OK):
            maildir = benchlib.make_maildir(os.path.join(wd.path, "mail"))
            spool = os.path.join(wd.path, "spool")
            benchlib.make_dirs_for_user(spool)
            pd, pport = benchlib.start_posternd(
                posternd, wd, "posternd", maildir, spool, threads=2,
                smtp_extra=f"  max_connections = {count + 1000};\n"
                f"  max_connections_per_ip = {count + 1000};\n")
            results["posternd"] = measure("posternd", pd, pport, count,
                                          settle)
            benchlib.stop_posternd(NAME, pd)
        else:
            print(f"{NAME}: {posternd} not found: measuring smtp-sink only",
                  file=sys.stderr)
    except RuntimeError as e:
        benchlib.die(NAME, str(e))

    print(f"{count} idle sessions (EHLO done), from {SOURCES} client addresses")
    print(f"{'server':<10} {'RSS before':>12} {'RSS after':>12} "
          f"{'B/session':>10} {'Pss B/sess':>11} {'setup s':>8}")
    for k, r in results.items():
        print(f"{k:<10} {r['before'] // 1024:>9} KiB {r['after'] // 1024:>9} KiB "
              f"{r['rss']:>10.0f} {r['pss']:>11.0f} {r['setup']:>8.2f}")
    s = results["smtp-sink"]
    if "posternd" not in results:
        print(f"SUMMARY {NAME}: posternd not measured; smtp-sink "
              f"{s['rss']:.0f} B/session (Pss {s['pss']:.0f})")
        sys.exit(2)
    p = results["posternd"]
    ratio = p["rss"] / s["rss"] if s["rss"] > 0 else float("nan")
    verdict = "within" if p["rss"] <= TARGET else "OVER"
    print(f"SUMMARY {NAME}: posternd {p['rss']:.0f} B/session "
          f"(Pss {p['pss']:.0f}), smtp-sink {s['rss']:.0f} B/session "
          f"(Pss {s['pss']:.0f}), ratio {ratio:.2f}; "
          f"{verdict} the {TARGET} B target ({count} sessions)")


if __name__ == "__main__":
    main()
