#!/usr/bin/env python3
"""Peak memory of posternd receiving one big message, against one small one.

Starts a fresh posternd for each case (so the peaks are comparable), sends
one message with smtplib -- BENCH_SMALL_KB KiB (default 10) as the
baseline, then BENCH_BIG_MB MiB (default 100) of 76-character base64 lines
-- and, after the 250, reads posternd's peak resident size (VmHWM in
/proc/PID/status). Reports both peaks and the growth (target <= 16 MiB:
posternd must stream big messages to its spool, not hold them), and checks
that each message landed complete in the maildir (byte-for-byte, after the
CRLF -> LF conversion maildir delivery does).

  bench/big_message.py [PATH-TO-POSTERND]   (default /tmp/build-lead/posternd)

Runs as root, re-executing itself in private network and mount namespaces;
maildir and spool live on a tmpfs mounted there. BENCH_KEEP=1 keeps the
work dir (configs, logs). Exit 1 if a message was refused or did not land
complete; the memory target is reported, never enforced.
"""

import base64
import email.utils
import os
import smtplib
import sys
import time
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

NAME = "big_message"
TARGET = 16 * 1024 * 1024     # allowed VmHWM growth, bytes
SENDER = "bench@postern.test"
RCPT = "rcpt@example.org"


def make_message(body_bytes):
    """A MIME message with about body_bytes of base64 body (76-char lines,
    CRLF), and the id that marks where it starts in the delivered file."""
    mid = uuid.uuid4().hex
    head = (f"From: Bench <{SENDER}>\r\n"
            f"To: <{RCPT}>\r\n"
            f"Subject: postern big message benchmark\r\n"
            f"Date: {email.utils.formatdate()}\r\n"
            f"Message-ID: <{mid}@bench.test>\r\n"
            f"X-Bench-Id: {mid}\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "\r\n").encode()
    lines = max(1, body_bytes // 78)          # 76 chars + CRLF
    body = base64.encodebytes(os.urandom(57 * lines))   # 76 chars + LF
    body = body.replace(b"\n", b"\r\n")
    return head + body, mid


def verify(maildir, msg, mid):
    """Exactly one file in new/, ending with the message as sent (LF)."""
    new = os.path.join(maildir, "new")
    files = os.listdir(new)
    if len(files) != 1:
        return f"{len(files)} files in {new}, want 1"
    with open(os.path.join(new, files[0]), "rb") as f:
        got = f.read()
    start = got.find(b"\nX-Bench-Id: " + mid.encode() + b"\n")
    if start < 0:
        return "delivered file lacks the X-Bench-Id header"
    # The message starts with From:, a few header lines before X-Bench-Id.
    start = got.rfind(b"\nFrom: ", 0, start)
    if start < 0:
        return "delivered file lacks the From: header"
    want = msg.replace(b"\r\n", b"\n")
    tail = got[start + 1:]
    if tail != want:
        return (f"delivered message differs: {len(tail)} bytes, "
                f"want {len(want)}")
    return None


def run_case(posternd, wd, fs, label, size):
    maildir = benchlib.make_maildir(os.path.join(fs, "mail-" + label))
    spool = os.path.join(fs, "spool-" + label)
    benchlib.make_dirs_for_user(spool)
    max_mb = 2 * size // (1024 * 1024) + 16
    proc, port = benchlib.start_posternd(
        posternd, wd, "posternd-" + label, maildir, spool, threads=2,
        smtp_extra=f"  max_message_size = {max_mb}M;\n")
    start = benchlib.proc_status(proc.pid)
    msg, mid = make_message(size)
    t0 = time.monotonic()
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.test",
                          timeout=600) as s:
            s.sendmail(SENDER, [RCPT], msg)
            secs = time.monotonic() - t0
            after = benchlib.proc_status(proc.pid)
    except (smtplib.SMTPException, OSError) as e:
        raise RuntimeError(f"{label} message: {e}") from None
    benchlib.stop_posternd(NAME, proc)
    leftover = os.listdir(spool)
    err = verify(maildir, msg, mid)
    if err:
        raise RuntimeError(f"{label} message: {err}")
    return {"size": len(msg), "start": start["VmHWM"], "hwm": after["VmHWM"],
            "rss": after["VmRSS"], "secs": secs, "spool_left": leftover}


def main():
    benchlib.enter_namespace(mount=True)
    posternd = sys.argv[1] if len(sys.argv) > 1 else benchlib.DEFAULT_POSTERND
    small = int(os.environ.get("BENCH_SMALL_KB", "10")) * 1024
    big = int(os.environ.get("BENCH_BIG_MB", "100")) * 1024 * 1024
    if not os.access(posternd, os.X_OK):
        benchlib.die(NAME, f"{posternd} not found")
    wd = benchlib.WorkDir("big")
    mb = benchlib.mib
    try:
        # Room for the big message twice (spool + maildir) plus slack.
        fs = wd.tmpfs("fs", 3 * big // (1024 * 1024) + 256)
        res = {}
        for label, size in (("small", small), ("big", big)):
            res[label] = run_case(posternd, wd, fs, label, size)
    except (RuntimeError, OSError) as e:
        benchlib.die(NAME, str(e))

    print(f"{'message':<16} {'VmHWM start':>12} {'VmHWM after':>12} "
          f"{'VmRSS after':>12} {'send s':>7} {'MiB/s':>7}")
    for label, r in res.items():
        name = f"{mb(r['size']):.2f} MiB" if r["size"] >= 1 << 20 \
            else f"{r['size'] / 1024:.1f} KiB"
        print(f"{name:<16} {mb(r['start']):>8.1f} MiB {mb(r['hwm']):>8.1f} MiB "
              f"{mb(r['rss']):>8.1f} MiB {r['secs']:>7.2f} "
              f"{mb(r['size']) / r['secs']:>7.1f}")
        if r["spool_left"]:
            print(f"  note: {len(r['spool_left'])} files left in the spool "
                  f"dir after the {label} message: {r['spool_left'][:3]}")
    growth = res["big"]["hwm"] - res["small"]["hwm"]
    verdict = "within" if growth <= TARGET else "OVER"
    print("both messages delivered complete (byte-for-byte, LF line ends)")
    print(f"SUMMARY {NAME}: peak RSS {mb(res['small']['hwm']):.1f} MiB "
          f"({res['small']['size'] // 1024} KiB msg) -> "
          f"{mb(res['big']['hwm']):.1f} MiB ({mb(res['big']['size']):.0f} MiB msg), "
          f"growth {mb(growth):.1f} MiB; {verdict} the "
          f"{TARGET >> 20} MiB target; delivered complete")


if __name__ == "__main__":
    main()
