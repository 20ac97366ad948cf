"""The built-in clamd filter (issue 8) against a real clamd from
clamav-daemon, started here with a database of test signatures made here
(sigtool --md5 of a random file, and an .ndb body signature): no
freshclam, nothing downloaded.  clamd listens on a unix socket and on
127.0.0.1; its StreamMaxLength is 1M.

Checked where a user sees it: the reply to the client (the rules refuse
infected mail naming the signature), what reaches the sink, posternd's
log, and the failure action when clamd is gone or refuses the stream.
"""

import base64
import os
import signal
import subprocess
import time
import unittest

from harness import (UpstreamTest, _track, free_port, have_program,
                     make_dir, message, program, wait_until)

MARKER = b"POSTERN-CLAMD-TEST-MARKER-7f3a"

RULES = r'''
rule virus {
    when result.clamav == "infected"
    reject 554 5.7.1 "virus found: {result.clamav.virus}"
}
rule unscanned {
    when result.clamav == "error"
    add-header "X-Clamav" "not scanned: {result.clamav.error}"
}
'''


class Clamd:
    """clamd on a unix socket and 127.0.0.1:PORT with a local database:
    evil.bin's MD5 (.hdb) and MARKER anywhere (.ndb)."""

    def __init__(self):
        self.dir = make_dir("clamd.")
        self.db = make_dir("db.", parent=self.dir)
        self.sock = os.path.join(self.dir, "clamd.sock")
        self.port = free_port()
        self.evil = os.urandom(3000) + b"postern clamd test"
        self.evil_path = os.path.join(self.dir, "evil.bin")
        with open(self.evil_path, "wb") as f:
            f.write(self.evil)
        hdb = subprocess.run([program("sigtool"), "--md5", self.evil_path],
                             check=True, capture_output=True).stdout
        with open(os.path.join(self.db, "test.hdb"), "wb") as f:
            f.write(hdb)
        with open(os.path.join(self.db, "test.ndb"), "w") as f:
            f.write("PosternTest.Marker:0:*:%s\n" % MARKER.hex())
        self.conf = os.path.join(self.dir, "clamd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "DatabaseDirectory " + self.db,
                "LocalSocket " + self.sock,
                "LocalSocketMode 666",
                "TCPSocket %d" % self.port,
                "TCPAddr 127.0.0.1",
                "Foreground yes",
                "LogFile " + os.path.join(self.dir, "clamd.log"),
                "StreamMaxLength 1M",
                "Bytecode no",
                ""]))
        self.proc = None

    def start(self):
        self.proc = _track(subprocess.Popen(
            [program("clamd"), "-c", self.conf], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # loading the database takes a few seconds
        wait_until(lambda: os.path.exists(self.sock) or
                   self.proc.poll() is not None, 60, what="clamd socket")
        if self.proc.poll() is not None:
            raise AssertionError("clamd exited: %s" % self.log())
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.dir, "clamd.log")) as f:
                return f.read()
        except OSError:
            return ""


def with_attachment(data, name="report.bin"):
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n").decode()
    return message(
        extra_headers="MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n",
        body="--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=\"%s\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n%s--b--\r\n"
        % (name, b64))


class ClamdTest(UpstreamTest):
    @classmethod
    def setUpClass(cls):
        for p in ("clamd", "sigtool"):
            if not have_program(p):
                raise unittest.SkipTest("%s is not installed" % p)
        cls.clamd = Clamd().start()

    @classmethod
    def tearDownClass(cls):
        cls.clamd.stop()

    def gateway(self, sink, address=None, opts=""):
        rdir = make_dir("rules.")
        path = os.path.join(rdir, "clamd.rules")
        with open(path, "w") as f:
            f.write(RULES)
        conf = ('filter clamd { address = "%s"; timeout = 20s; %s }\n'
                'rules = ["%s"];'
                % (address or self.clamd.sock, opts, path))
        return self.relay(sink, extra=conf)

    def test_infected_attachment_refused_naming_signature(self):
        sink = self.upstream_sink()
        d = self.gateway(sink)
        res = self.send_one(d, with_attachment(self.clamd.evil))
        self.assertEqual(res.eod.code, 554, res.eod)
        self.assertIn("virus found: evil.bin.UNOFFICIAL", res.eod.text)
        self.assertEqual(sink.accepted(), [])
        self.assertRegex(d.log(), r"filter clamd: infected: "
                         r"evil\.bin\.UNOFFICIAL")

    def test_clean_relayed_and_marker_over_tcp(self):
        sink = self.upstream_sink()
        d = self.gateway(sink, "127.0.0.1:%d" % self.clamd.port)
        res = self.send_one(d, with_attachment(os.urandom(2000)))
        self.assertEqual(res.eod.code, 250, res.eod)
        self.assertEqual(len(sink.wait_accepted(1)), 1)
        self.assertNotIn(b"X-Clamav", sink.accepted()[0].data)
        res = self.send_one(d, message(body="text " + MARKER.decode()
                                       + "\r\n"))
        self.assertEqual(res.eod.code, 554, res.eod)
        self.assertIn("PosternTest.Marker", res.eod.text)

    def test_stream_limit_and_max_size(self):
        big = with_attachment(os.urandom(1 << 20))  # > 1M once encoded
        # clamd's StreamMaxLength refuses it: on_failure (tempfail)
        sink = self.upstream_sink()
        d = self.gateway(sink, opts="max_size = 4M;")
        res = self.send_one(d, big)
        self.assertEqual(res.eod.code, 451, res.eod)
        self.assertRegex(d.log(), r"filter clamd: clamd: INSTREAM size "
                         r"limit exceeded|filter clamd: sending to clamd")
        # a max_size below it: not sent, relayed, the rules see the error
        d2 = self.gateway(sink, opts="max_size = 512K;")
        res = self.send_one(d2, big)
        self.assertEqual(res.eod.code, 250, res.eod)
        data = sink.wait_accepted(1)[0].data
        self.assertIn(b"X-Clamav: not scanned: message larger than "
                      b"max_size", data)

    def test_clamd_gone(self):
        sink = self.upstream_sink()
        d = self.gateway(sink, os.path.join(self.clamd.dir, "none.sock"))
        res = self.send_one(d, message())
        self.assertEqual(res.eod.code, 451, res.eod)
        self.assertEqual(sink.accepted(), [])
        self.assertRegex(d.log(), r"filter clamd: cannot connect to clamd")
        d2 = self.gateway(sink, os.path.join(self.clamd.dir, "none.sock"),
                          opts="on_failure = skip;")
        res = self.send_one(d2, message())
        self.assertEqual(res.eod.code, 250, res.eod)
        self.assertIn(b"X-Clamav: not scanned: cannot connect",
                      sink.wait_accepted(1)[0].data)


if __name__ == "__main__":
    unittest.main()
