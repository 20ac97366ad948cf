#!/usr/bin/env python3
"""Reliability soak: nothing acknowledged is ever lost (issue 3).

SOAK_MESSAGES (20000) distinct messages go from a load client at
concurrency SOAK_CONC (20) through posternd (route default = an SMTP
upstream) to a sink that keeps a record of every message it accepted,
while posternd is killed with SIGKILL and restarted SOAK_KILLS (10)
times, spread over the run.  The load client is our own (smtp-source
does not say which message got which reply): it logs every message's
Message-ID and every reply, and sends a message again when it was not
acknowledged with 250 (as an MTA would), up to SOAK_RETRIES times.

Reported: messages acknowledged with 250 but missing at the sink (must
be 0), duplicates at the sink (a message accepted upstream whose 250
never reached the client because posternd died in between, then sent
again; allowed by RFC 5321 6.1, reported), messages that arrived
although never acknowledged, and messages never acknowledged at all.

Usage: python3 bench/soak.py [POSTERND]    (default /tmp/build-lead/posternd)
Environment: SOAK_MESSAGES, SOAK_CONC, SOAK_KILLS, SOAK_SIZE (body
octets, default 2048), SOAK_PER_CONN (messages per client connection
before QUIT, default 10), SOAK_RETRIES (default 20), SOAK_THREADS
(posternd's threads, default 2), BENCH_KEEP=1 keeps the work dir.

Runs as root in a private network namespace (only loopback), like the
other benchmarks (bench/benchlib.py).  The sink is the integration
tests' UpstreamSink (tests/integration/harness.py) in its own process;
it records a message before it answers 250.  Exit status 0 when no
acknowledged message is missing and every kill/restart happened, else 1.
"""

import asyncio
import collections
import os
import random
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

NAME = "soak"
ITDIR = os.path.join(os.path.dirname(HERE), "tests", "integration")


def env_int(name, default):
    return int(os.environ.get(name, default))


N = env_int("SOAK_MESSAGES", 20000)
CONC = env_int("SOAK_CONC", 20)
KILLS = env_int("SOAK_KILLS", 10)
SIZE = env_int("SOAK_SIZE", 2048)
PER_CONN = env_int("SOAK_PER_CONN", 10)
RETRIES = env_int("SOAK_RETRIES", 20)
THREADS = env_int("SOAK_THREADS", 2)
IO_TIMEOUT = 30.0
RUN_ID = "%x" % int(time.time())


class Posternd:
    """posternd on a fixed port, killed and restarted on demand."""

    def __init__(self, binary, wd, sink_port):
        self.binary = binary
        self.port = benchlib.free_port()
        self.conf = os.path.join(wd.path, "posternd.conf")
        self.logname = os.path.join(wd.path, "posternd.log")
        spool = os.path.join(wd.path, "spool")
        benchlib.make_dirs_for_user(spool)
        with open(self.conf, "w") as f:
            f.write(f"""hostname = "mx.soak.invalid";
user = "{benchlib.RUN_USER}";
threads = {THREADS};
spool_dir = "{spool}";
smtp {{
  listen = ["127.0.0.1:{self.port}"];
  relay_domains = ["example.org"];
  max_connections = 10000;
  max_connections_per_ip = 1000;
  shutdown_timeout = 5s;
}}
route default {{
  upstream = "smtp://127.0.0.1:{sink_port}";
  connect_timeout = 5s;
  command_timeout = 30s;
  data_timeout = 30s;
}}
""")
        t = subprocess.run([binary, "-c", self.conf, "-t"],
                           capture_output=True, text=True)
        if t.returncode != 0:
            raise RuntimeError("posternd -t: " + (t.stderr or t.stdout))
        self.wd = wd
        self.proc = None
        self.starts = 0
        self.kills = 0

    def start(self):
        log = open(self.logname, "a")
        self.proc = self.wd.track(subprocess.Popen(
            [self.binary, "-f", "-c", self.conf], stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT))
        log.close()
        self.starts += 1

    async def wait_ready(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("posternd exited with %s while starting"
                                   % self.proc.returncode)
            try:
                r, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.02)
        raise RuntimeError("posternd did not listen within %.0fs" % timeout)

    async def kill_and_restart(self):
        self.proc.send_signal(signal.SIGKILL)
        while self.proc.poll() is None:
            await asyncio.sleep(0.005)
        self.kills += 1
        self.start()
        await self.wait_ready()


def make_message(n):
    mid = "<soak-%s-%d@client.soak.invalid>" % (RUN_ID, n)
    head = ("From: Soak <soak@example.net>\r\n"
            "To: User <user@example.org>\r\n"
            "Subject: soak %d\r\n"
            "Message-ID: %s\r\n"
            "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\n" % (n, mid))
    line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
    body = bytearray()
    i = 0
    while len(body) < SIZE:
        # A dot-line now and then, so stuffing is exercised on both legs.
        body += (b".dotted line\r\n" if i % 13 == 0 else line)
        i += 1
    data = head.encode() + bytes(body)
    stuffed = b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n"
                       for ln in data.split(b"\r\n")[:-1])
    return mid, stuffed + b".\r\n"


class Stats:
    def __init__(self):
        self.acked = set()
        self.attempts = collections.Counter()
        self.replies = collections.Counter()  # "250", "451", "conn-error"
        self.log = []  # (time, message id, attempt, outcome)
        self.given_up = set()
        self.pending = 0  # messages neither acknowledged nor given up


class Client:
    """One of CONC sessions: takes message numbers from a queue."""

    def __init__(self, port, queue, stats, retry_q):
        self.port = port
        self.queue = queue
        self.stats = stats
        self.retry = retry_q
        self.r = self.w = None
        self.sent_on_conn = 0

    async def reply(self):
        lines = []
        while True:
            ln = await asyncio.wait_for(self.r.readline(), IO_TIMEOUT)
            if not ln:
                raise ConnectionError("closed by posternd")
            lines.append(ln)
            if len(ln) < 4 or ln[3:4] != b"-":
                return int(ln[:3]), b"".join(lines)

    async def cmd(self, line):
        self.w.write(line + b"\r\n")
        await self.w.drain()
        return await self.reply()

    async def connect(self):
        give_up = time.monotonic() + 60
        while True:
            if time.monotonic() > give_up:
                raise RuntimeError("cannot connect to posternd for 60 s")
            try:
                self.r, self.w = await asyncio.open_connection(
                    "127.0.0.1", self.port)
                code, _ = await self.reply()
                if code != 220:
                    raise ConnectionError("greeting %d" % code)
                code, _ = await self.cmd(b"EHLO client.soak.invalid")
                if code != 250:
                    raise ConnectionError("EHLO %d" % code)
                self.sent_on_conn = 0
                return
            except (OSError, ConnectionError, asyncio.TimeoutError):
                self.close()
                await asyncio.sleep(0.02 + random.random() * 0.03)

    def close(self):
        if self.w is not None:
            try:
                self.w.transport.abort()
            except Exception:
                pass
        self.r = self.w = None

    async def send(self, n):
        """One attempt; returns the end-of-data code or a failure word."""
        mid, data = make_message(n)
        if self.w is None:
            await self.connect()
        try:
            code, _ = await self.cmd(b"MAIL FROM:<soak@example.net>")
            if code != 250:
                return str(code), mid
            code, _ = await self.cmd(b"RCPT TO:<user@example.org>")
            if code != 250:
                await self.cmd(b"RSET")
                return str(code), mid
            code, _ = await self.cmd(b"DATA")
            if code != 354:
                return str(code), mid
            self.w.write(data)
            await self.w.drain()
            code, _ = await self.reply()
            self.sent_on_conn += 1
            if self.sent_on_conn >= PER_CONN:
                try:
                    await self.cmd(b"QUIT")
                except (OSError, ConnectionError, asyncio.TimeoutError):
                    pass
                self.close()
            return str(code), mid
        except (OSError, ConnectionError, asyncio.TimeoutError):
            self.close()
            return "conn-error", mid

    async def run(self):
        st = self.stats
        while True:
            try:
                n = self.retry.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    n = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    if st.pending == 0:
                        break
                    await asyncio.sleep(0.05)
                    continue
            st.attempts[n] += 1
            outcome, mid = await self.send(n)
            st.replies[outcome] += 1
            st.log.append((time.monotonic(), mid, st.attempts[n], outcome))
            if outcome == "250":
                st.acked.add(mid)
                st.pending -= 1
            elif st.attempts[n] > RETRIES:
                st.given_up.add(mid)
                st.pending -= 1
            else:
                self.retry.put_nowait(n)
        self.close()


async def killer(pd, stats, total):
    """SIGKILL + restart KILLS times, evenly over the acknowledgements,
    each at a random moment within its slice."""
    step = total / (KILLS + 1)
    for k in range(1, KILLS + 1):
        target = int(step * k + random.uniform(-0.3, 0.3) * step)
        while len(stats.acked) < target and stats.pending > 0:
            await asyncio.sleep(0.005)
        if stats.pending == 0:
            break
        await pd.kill_and_restart()


async def soak(pd):
    stats = Stats()
    stats.pending = N
    queue = asyncio.Queue()
    for n in range(N):
        queue.put_nowait(n)
    retry_q = asyncio.Queue()
    await pd.wait_ready()
    t0 = time.monotonic()
    clients = [Client(pd.port, queue, stats, retry_q) for _ in range(CONC)]
    kt = asyncio.ensure_future(killer(pd, stats, N))
    await asyncio.gather(*(c.run() for c in clients))
    await kt
    return stats, time.monotonic() - t0


def start_sink(wd):
    port = benchlib.free_port()
    record = os.path.join(wd.path, "sink-record.txt")
    log = open(os.path.join(wd.path, "sink.log"), "w")
    proc = wd.track(subprocess.Popen(
        [sys.executable, "-c",
         "import sys; sys.path.insert(0, %r); import harness; "
         "sys.exit(harness.sink_main(sys.argv[1:]))" % ITDIR,
         "--port", str(port), "--record", record],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
        text=True))
    log.close()
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        raise RuntimeError("sink did not start: " +
                           benchlib.tail(log.name))
    return proc, port, record


def main():
    benchlib.enter_namespace()
    posternd = sys.argv[1] if len(sys.argv) > 1 else \
        benchlib.DEFAULT_POSTERND
    if not os.access(posternd, os.X_OK):
        benchlib.die(NAME, "%s is not an executable" % posternd)
    wd = benchlib.WorkDir(NAME)
    try:
        sink, sink_port, record = start_sink(wd)
        pd = Posternd(posternd, wd, sink_port)
        pd.start()
        stats, dt = asyncio.run(soak(pd))
    except RuntimeError as e:
        benchlib.die(NAME, str(e))
    alive = pd.proc.poll() is None
    benchlib.stop_posternd(NAME, pd.proc)
    sink.send_signal(signal.SIGTERM)
    try:
        sink_rc = sink.wait(20)
    except subprocess.TimeoutExpired:
        sink.kill()
        sink_rc = -9
    arrived = collections.Counter()
    with open(record) as f:
        for ln in f:
            mid = ln.split("\t", 1)[0]
            arrived[mid] += 1
    missing = sorted(m for m in stats.acked if m not in arrived)
    dups = {m: c for m, c in arrived.items() if c > 1}
    unacked_arrived = sorted(m for m in arrived if m not in stats.acked)
    strangers = [m for m in arrived if not m.startswith("<soak-%s-" % RUN_ID)]
    retried = sum(1 for c in stats.attempts.values() if c > 1)

    print("soak: %d messages, concurrency %d, %d SIGKILLs of posternd "
          "(%d starts), %.1f s, %.0f msgs/s"
          % (N, CONC, pd.kills, pd.starts, dt, len(stats.acked) / dt))
    print("  client replies at end of data: %s"
          % ", ".join("%s x%d" % kv for kv in sorted(stats.replies.items())))
    print("  acknowledged (250):              %6d" % len(stats.acked))
    print("  messages sent more than once:    %6d" % retried)
    print("  never acknowledged (gave up):    %6d" % len(stats.given_up))
    print("  distinct messages at the sink:   %6d" % len(arrived))
    print("  ACKNOWLEDGED BUT MISSING:        %6d" % len(missing))
    print("  duplicates at the sink:          %6d (%d extra copies)"
          % (len(dups), sum(c - 1 for c in dups.values())))
    print("  arrived but never acknowledged:  %6d" % len(unacked_arrived))
    for m in missing[:10]:
        print("    missing: %s, client log: %s" % (m, [
            (round(t, 3), a, o) for t, mm, a, o in stats.log if mm == m]))
    problems = []
    if missing:
        problems.append("%d acknowledged messages missing" % len(missing))
    if strangers:
        problems.append("%d unknown messages at the sink" % len(strangers))
    if pd.kills < KILLS:
        problems.append("only %d of %d kills happened" % (pd.kills, KILLS))
    if not alive:
        problems.append("posternd was not running at the end")
    if sink_rc != 0:
        problems.append("the sink saw protocol violations or errors "
                        "(see sink.log)")
    summary = ("%d msgs, %d kills: acknowledged-but-missing %d, duplicates "
               "%d, arrived-unacknowledged %d, gave up %d, %.0f msgs/s"
               % (N, pd.kills, len(missing), len(dups),
                  len(unacked_arrived), len(stats.given_up),
                  len(stats.acked) / dt))
    if problems:
        print("soak: FAILED: " + "; ".join(problems), file=sys.stderr)
        print("SUMMARY soak: FAILED (%s): %s" % ("; ".join(problems),
                                                 summary))
        return 1
    print("SUMMARY soak: " + summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
