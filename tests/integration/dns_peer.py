"""A dnsmasq on 127.0.0.1 for the tests that need a real DNS server:
authoritative for what its config says, forwarding nothing anywhere,
logging every query so a test can count them."""

import os
import subprocess

from harness import (ARTIFACTS, _track, free_port, is_listening, make_dir,
                     program, wait_until)


def txt_record(name, text):
    """A dnsmasq txt-record line, the text cut into 255-byte strings."""
    parts = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return "txt-record=%s,%s" % (name, ",".join('"%s"' % p for p in parts))


class Dnsmasq:
    """dnsmasq on 127.0.0.1:PORT with conf_files and the config lines
    given; start() returns self once it answers."""

    def __init__(self, lines=(), conf_files=(), prefix="dnsmasq."):
        self.dir = make_dir(prefix)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "dnsmasq.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.conf_files = list(conf_files) + [self.conf]
        self.log = os.path.join(self.dir, "dnsmasq.log")
        self.proc = None
        ARTIFACTS.append(("dnsmasq log", self.log))

    def start(self):
        if is_listening(self.port):
            raise AssertionError("port %d is already in use" % self.port)
        self.proc = _track(subprocess.Popen(
            [program("dnsmasq"), "--keep-in-foreground"]
            + ["--conf-file=" + c for c in self.conf_files]
            + ["--port=%d" % self.port,
               "--pid-file=" + os.path.join(self.dir, "dnsmasq.pid"),
               "--log-facility=" + self.log],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE))

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("dnsmasq exited: %s"
                                     % self.proc.stderr.read())
            return is_listening(self.port)
        wait_until(ready, 10, what="dnsmasq on port %d" % self.port)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def queries(self, name, qtype=None):
        """How many queries for name (of qtype, e.g. "TXT") it logged."""
        what = "query[%s] %s from" % (qtype, name) if qtype else None
        try:
            with open(self.log) as f:
                if what:
                    return sum(1 for ln in f if what in ln)
                return sum(1 for ln in f
                           if " %s from " % name in ln and "query[" in ln)
        except FileNotFoundError:
            return 0
