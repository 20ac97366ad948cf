"""The daemon's life: `posternd -t`, start-up refusals (no `user` as root,
port taken), privilege drop, SIGTERM (idle sessions get 421, a
transaction in flight completes, exit 0), SIGHUP (keeps running).
"""

import os
import signal
import socket
import subprocess
import time

from harness import (NOBODY, NOBODY_GID, POSTERND, Posternd, PosterndTest,
                     Raw, message, wait_until)
from test_smtp_basic import smtplib_send


def run_check(conf):
    return subprocess.run([POSTERND, "-t", "-c", conf], capture_output=True,
                          timeout=30)


def line_of(conf_text, needle):
    for i, ln in enumerate(conf_text.splitlines(), 1):
        if needle in ln:
            return i
    raise AssertionError("%r not in config" % needle)


class ConfigCheckTest(PosterndTest):
    def test_good_config(self):
        d = Posternd()
        r = run_check(d.conf)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err)
        self.assertIn("posternd: configuration %s is ok" % d.conf,
                      (r.stdout + r.stderr).decode(errors="replace"))

    def check_error_line(self, d, needle):
        r = run_check(d.conf)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 1, err)
        where = "%s:%d:" % (d.conf, line_of(d.config_text(), needle))
        self.assertIn("posternd: " + where, err)

    def test_unknown_top_level_key(self):
        self.check_error_line(Posternd(extra="frobnicate = 1;"),
                              "frobnicate")

    def test_unknown_key_in_smtp_block(self):
        self.check_error_line(Posternd(smtp={"frobnicate": 1}),
                              "frobnicate")

    def test_bad_value(self):
        self.check_error_line(Posternd(smtp={"bare_lf": "sometimes"}),
                              "bare_lf")

    def test_missing_file(self):
        r = run_check("/nonexistent/posternd.conf")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"/nonexistent/posternd.conf", r.stderr)


class StartupTest(PosterndTest):
    def test_root_without_user_refused(self):
        d = self.posternd(start=False, top={"user": None})
        d.start(wait=False)
        rc = d.wait_exit(10)
        if rc is None:
            self.fail("posternd runs as root without `user`")
        self.assertNotEqual(rc, 0)
        self.assertIn("user", d.log())
        self.assertFalse(d.log_matches(r"posternd started"))

    def test_port_in_use(self):
        d = self.posternd(start=False, listen6=False)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", d.port))
        s.listen(1)
        self.addCleanup(s.close)
        d.start(wait=False, check_port=False)
        rc = d.wait_exit(10)
        self.assertIsNotNone(rc, "posternd kept running without its port")
        self.assertNotEqual(rc, 0)
        self.assertIn(str(d.port), d.log())

    def test_privileges_dropped(self):
        d = self.posternd()
        uid, gid = NOBODY.pw_uid, NOBODY_GID

        def ids(pid):
            out = {}
            with open("/proc/%d/status" % pid) as f:
                for ln in f:
                    k, _, v = ln.partition(":")
                    out[k] = v.split()
            return out

        def dropped():
            st = ids(d.pid)
            return st["Uid"] == [str(uid)] * 4 and st
        st = wait_until(dropped, 5, what="Uid line to show nobody")
        self.assertEqual(st["Gid"], [str(gid)] * 4, "Gid: %r" % st["Gid"])
        self.assertNotIn("0", st.get("Groups", []), "still in group root")
        # Every thread (the event loops) runs as nobody too.
        for tid in os.listdir("/proc/%d/task" % d.pid):
            tst = ids(int(tid))
            self.assertEqual(tst["Uid"], [str(uid)] * 4, "thread " + tid)
        self.assertEqual(st["CapEff"], ["0000000000000000"],
                         "effective capabilities left")
        # And it still serves.
        s = self.smtp(d)
        s.ehlo("client.test")
        smtplib_send(self, s, "sender@example.net", ["user@example.org"],
                     message())
        self.assertEqual(d.count(), 1)


class SignalTest(PosterndTest):
    def test_sigterm_idle_session(self):
        d = self.posternd()
        c = self.raw(d)
        c.hello()
        d.wait_log(r"connect from ")
        d.signal(signal.SIGTERM)
        self.assertReply(c.reply(), 421, "4.3.2")
        self.assertClosed(c)
        self.assertEqual(d.wait_exit(10), 0, "exit status after SIGTERM")

    def test_sigterm_without_sessions(self):
        d = self.posternd()
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(10), 0)
        self.assertLess(time.monotonic() - t0, 3, "slow exit when idle")

    def test_sigterm_transaction_in_flight_completes(self):
        d = self.posternd(smtp={"shutdown_timeout": Raw("10s")})
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertReply(c.cmd("DATA"), 354)
        c.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
        d.signal(signal.SIGTERM)

        # Stops accepting: poll until connecting is refused.
        def refused():
            try:
                s = socket.create_connection(("127.0.0.1", d.port), 2)
            except (ConnectionRefusedError, ConnectionResetError):
                # Reset: the connection sat in the backlog of a listener
                # that closed before accepting it.
                return True
            s.close()
            return False
        wait_until(refused, 5, what="listener to close after SIGTERM")
        self.assertTrue(d.alive(), "exited with a transaction in flight")
        c.send(b"second half\r\n.\r\n")
        self.assertQueued(c.reply())
        self.assertReply(c.reply(), 421, "4.3.2")
        self.assertClosed(c)
        self.assertEqual(d.wait_exit(10), 0)
        f, = d.messages()
        self.assertIn(b"first half\nsecond half\n", f.raw)

    def test_sighup_keeps_running(self):
        d = self.posternd()
        d.signal(signal.SIGHUP)
        # SIGHUP reloads the rules (none here): nothing else changes.
        d.wait_log(r"SIGHUP: rules reloaded")
        self.assertTrue(d.alive())
        s = self.smtp(d)
        s.ehlo("client.test")
        smtplib_send(self, s, "sender@example.net", ["user@example.org"],
                     message(subject="after hup"))
        self.assertEqual(d.count(), 1)
