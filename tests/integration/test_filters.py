"""The filter chain through posternd (issue 5): plugins loaded from
shared objects, every verdict as the client and the upstream see it,
header and recipient edits at the upstream, Authentication-Results,
quarantine and release, deadlines and failure actions, a slow filter
that must not slow anyone else, ABI checks at `posternd -t`, and the
example filter built out of tree against the installed header.

The test filters are built here from tests/integration/filters/*.c with
the system compiler against include/ of the source tree; the example
filter is built exactly as its README says, after `make install
DESTDIR=...`.
"""

import json
import os
import re
import subprocess
import threading
import time

from harness import (POSTERND, Raw, UpstreamTest, make_dir, message,
                     suite_dir)

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.dirname(os.path.abspath(POSTERND))
POSTERN = os.path.join(BUILD, "postern")

_BUILT = {}


def build_filter(name):
    """tests/integration/filters/NAME.c -> SUITE/filters/NAME.so."""
    if name not in _BUILT:
        out_dir = os.path.join(suite_dir(), "filters")
        os.makedirs(out_dir, exist_ok=True)
        os.chmod(out_dir, 0o755)
        out = os.path.join(out_dir, name + ".so")
        subprocess.run(["cc", "-O1", "-Wall", "-Wextra", "-Werror",
                        "-I" + os.path.join(SRC, "include"),
                        "-shared", "-fPIC", "-o", out,
                        os.path.join(SRC, "tests", "integration",
                                     "filters", name + ".c")],
                       check=True)
        _BUILT[name] = out
    return _BUILT[name]


def filter_block(name, module, **opts):
    lines = ["filter %s {" % name, '  module = "%s";' % module]
    for k, v in opts.items():
        if isinstance(v, Raw):
            lines.append("  %s = %s;" % (k, v))
        else:
            lines.append('  %s = "%s";' % (k, v))
    lines.append("}")
    return "\n".join(lines)


def headers_of(data):
    """The header block of a message as [(name, value)], unfolded."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
        elif ":" in line:
            n, v = line.split(":", 1)
            out.append((n, v.strip()))
    return out


class FilterTest(UpstreamTest):
    def scripted(self, sink=None, extra="", **opts):
        so = build_filter("scripted")
        conf = filter_block("scripted", so, **opts) + "\n" + extra
        if sink is not None:
            return self.relay(sink, extra=conf)
        return self.posternd(extra=conf)

    def send(self, d, body, rcpts=("user@example.org",),
             sender="sender@example.net"):
        c = self.raw(d)
        c.hello()
        res = self.transact(c, body, rcpts=rcpts, sender=sender)
        c.cmd("QUIT")
        return res


class FilterEditsTest(FilterTest):
    def test_header_edits_arrive_at_the_upstream(self):
        sink = self.upstream_sink()
        d = self.scripted(sink)
        body = message(subject="edit me", extra_headers=(
            "X-Test-Add-Header: X-Added: first value\r\n"
            "X-Test-Insert-Header: X-Top: at the top\r\n"
            "X-Test-Change-Header: Subject: changed subject\r\n"
            "X-Test-Delete-Header: X-Drop-Me\r\n"
            "X-Drop-Me: secret\r\n"))
        res = self.send(d, body)
        self.assertQueued(res.eod)
        data = sink.txns[-1].data
        hdrs = headers_of(data)
        names = [n for n, _ in hdrs]
        self.assertEqual(hdrs[0], ("X-Top", "at the top"))
        self.assertEqual(names[1], "Received")
        self.assertIn(("Subject", "changed subject"), hdrs)
        self.assertNotIn("edit me", data.decode())
        self.assertNotIn("X-Drop-Me", names)
        # Appended at the end of the header block, body untouched.
        self.assertEqual(hdrs[-1], ("X-Added", "first value"))
        self.assertTrue(data.endswith(b"\r\n\r\nHello.\r\n"))

    def test_recipient_changes_arrive_at_the_upstream(self):
        sink = self.upstream_sink()
        d = self.scripted(sink)
        body = message(extra_headers=(
            "X-Test-Add-Rcpt: added@example.org\r\n"
            "X-Test-Delete-Rcpt: second@example.org\r\n"))
        res = self.send(d, body,
                        rcpts=("user@example.org", "second@example.org"))
        self.assertQueued(res.eod)
        got = [r[0] for r in sink.txns[-1].rcpts]
        self.assertEqual(sorted(got),
                         ["added@example.org", "user@example.org"])

    def test_authentication_results_and_forged_ones(self):
        sink = self.upstream_sink()
        d = self.scripted(sink)
        body = message(extra_headers=(
            "Authentication-Results: mx.test.invalid; dkim=pass "
            "header.d=forged.example\r\n"
            "Authentication-Results: (comment) MX.TEST.INVALID; spf=pass\r\n"
            "Authentication-Results: other.example; spf=fail\r\n"
            "X-Test-Auth-Result: spf pass smtp.mailfrom=example.net\r\n"))
        self.assertQueued(self.send(d, body).eod)
        hdrs = headers_of(sink.txns[-1].data)
        ar = [v for n, v in hdrs if n.lower() == "authentication-results"]
        self.assertEqual(ar, [
            "mx.test.invalid; spf=pass smtp.mailfrom=example.net",
            "other.example; spf=fail"])
        # Ours comes right after our own Received:.
        self.assertEqual(hdrs[0][0], "Received")
        self.assertEqual(hdrs[1][0], "Authentication-Results")

    def test_forged_results_removed_even_without_results(self):
        sink = self.upstream_sink()
        d = self.scripted(sink)
        body = message(extra_headers=(
            "Authentication-Results: mx.test.invalid; dkim=pass\r\n"))
        self.assertQueued(self.send(d, body).eod)
        data = sink.txns[-1].data.decode()
        self.assertNotIn("dkim=pass", data)


class FilterVerdictsTest(FilterTest):
    def test_reject_and_tempfail_at_end_of_data(self):
        d = self.scripted()
        res = self.send(d, message(extra_headers=(
            "X-Test-Verdict: reject\r\n"
            "X-Test-Reply: 554 5.7.9 Not with that content\r\n")))
        self.assertReply(res.eod, 554, "5.7.9")
        self.assertIn("Not with that content", res.eod.text)
        res = self.send(d, message(extra_headers="X-Test-Verdict: tempfail"
                                   "\r\n"))
        self.assertReply(res.eod, 451, "4.7.1")
        self.assertNothingDelivered(d)
        self.assertTrue(d.log_matches(
            r"filter=scripted stage=message verdict=reject 554 5\.7\.9"))
        self.assertTrue(d.log_matches(
            r"reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 554 "
            r"5\.7\.9 Not with that content"))

    def test_recipient_verdicts(self):
        d = self.scripted()
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<s@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<reject-a@example.org>"), 550,
                         "5.1.1")
        self.assertReply(c.cmd("RCPT TO:<tempfail-a@example.org>"), 451,
                         "4.7.1")
        self.assertReply(c.cmd("RCPT TO:<user@example.org>"), 250)
        self.assertQueued(self.data(c, message() + b".\r\n"))
        self.assertEqual(d.count(), 1)

    def test_discard_is_250_and_nothing_delivered(self):
        d = self.scripted()
        res = self.send(d, message(extra_headers="X-Test-Verdict: discard"
                                   "\r\n"))
        self.assertQueued(res.eod)
        self.assertNothingDelivered(d)
        self.assertTrue(d.log_matches(r"discarded: filter verdict"))
        # A recipient discarded at RCPT drops the message the same way.
        res = self.send(d, message(), rcpts=("discard-x@example.org",))
        self.assertQueued(res.eod)
        self.assertNothingDelivered(d)

    def test_accept_skips_later_filters(self):
        so = build_filter("scripted")
        extra = (filter_block("first", so) + "\n" +
                 filter_block("second", so))
        d = self.posternd(extra=extra)
        res = self.send(d, message(extra_headers=(
            "X-Test-Verdict: accept\r\n"
            "X-Test-Add-Header: X-Seen: yes\r\n")))
        self.assertQueued(res.eod)
        msg = d.wait_messages(1)[0]
        # Only the first filter ran: one X-Seen, not two.
        self.assertEqual(msg.get_all("X-Seen"), ["yes"])

    def test_connect_refused(self):
        d = self.scripted(connect="reject")
        c = self.raw(d)
        g = c.reply()
        self.assertEqual(g.code, 554)
        self.assertIn("Connections refused by scripted", g.text)
        self.assertClosed(c)


class FilterFailureTest(FilterTest):
    def test_deadline_gives_tempfail_at_the_deadline(self):
        d = self.scripted(extra="", timeout=Raw("500ms"))
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        t0 = time.monotonic()
        reply = self.data(c, message(extra_headers="X-Test-Sleep: 4000\r\n")
                          + b".\r\n")
        took = time.monotonic() - t0
        self.assertReply(reply, 451, "4.3.0")
        self.assertLess(took, 3.0, "the reply waited for the stuck filter")
        # The session goes on without the filter that overstayed.
        self.envelope(c)
        self.assertQueued(self.data(c, message() + b".\r\n"))
        self.assertTrue(d.log_matches(r"filter=scripted .*timeout"))

    def test_failure_actions(self):
        for action, code in (("tempfail", 451), ("reject", 550),
                             ("skip", 250)):
            with self.subTest(action=action):
                d = self.scripted(on_failure=action)
                res = self.send(d, message(extra_headers=(
                    "X-Test-Verdict: error\r\n")))
                self.assertEqual(res.eod.code, code, res.eod)
                d.stop()

    def test_slow_filter_does_not_slow_other_sessions(self):
        d = self.scripted(sleep_subject="slow", sleep=Raw("2s"))
        slow_reply = {}

        def slow_client():
            slow_reply["r"] = self.send(d, message(subject="slow one")).eod
            slow_reply["t"] = time.monotonic()

        th = threading.Thread(target=slow_client)
        t0 = time.monotonic()
        th.start()
        time.sleep(0.2)  # the slow message is inside the filter now
        c = self.raw(d)
        c.hello()
        for i in range(20):
            self.envelope(c)
            self.assertQueued(self.data(c, message(subject="fast %d" % i)
                                        + b".\r\n"))
        fast_done = time.monotonic()
        th.join(10)
        self.assertQueued(slow_reply["r"])
        # All 20 fast messages were through while the slow one waited.
        self.assertLess(fast_done, slow_reply["t"])
        self.assertGreater(slow_reply["t"] - t0, 1.9)
        self.assertEqual(d.count(), 21)


class FilterLoadTest(FilterTest):
    def check_config(self, extra):
        d = self.posternd(start=False, extra=extra)
        p = subprocess.run([POSTERND, "-t", "-c", d.conf],
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr + p.stdout, d

    def test_abi_mismatch_refused(self):
        so = build_filter("badabi")
        rc, out, d = self.check_config(filter_block("old", so))
        self.assertEqual(rc, 1)
        self.assertRegex(out, re.escape(d.conf) + r":\d+: filter old: .*"
                         r"ABI version 99, this postern speaks 1")

    def test_missing_symbol_refused(self):
        so = build_filter("nosymbol")
        rc, out, d = self.check_config(filter_block("x", so))
        self.assertEqual(rc, 1)
        self.assertIn("no symbol postern_filter", out)

    def test_unknown_option_refused_with_its_line(self):
        so = build_filter("scripted")
        rc, out, d = self.check_config(
            filter_block("s", so) + "\nfilter t {\n  module = \"%s\";\n"
            "  bogus = 1;\n}\n" % so)
        self.assertEqual(rc, 1)
        with open(d.conf) as f:
            line = [i for i, l in enumerate(f, 1) if "bogus" in l][0]
        self.assertIn("%s:%d: filter t: unknown option 'bogus'"
                      % (d.conf, line), out)

    def test_missing_module_file(self):
        rc, out, d = self.check_config(
            filter_block("gone", "/nonexistent/gone.so"))
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent/gone.so", out)

    def test_good_config_passes(self):
        rc, out, d = self.check_config(
            filter_block("s", build_filter("scripted")))
        self.assertEqual(rc, 0, out)


class ExampleFilterTest(FilterTest):
    """contrib/filters/example built out of tree, as a user would."""

    def build_example(self):
        dest = make_dir("destdir.")
        subprocess.run(["make", "-C", BUILD, "install", "DESTDIR=" + dest],
                       check=True, capture_output=True)
        pc_dirs = [os.path.join(r, "") for r, _, files in os.walk(dest)
                   if "postern-filter.pc" in files]
        self.assertEqual(len(pc_dirs), 1, "postern-filter.pc installed")
        env = dict(os.environ, PKG_CONFIG_PATH=pc_dirs[0],
                   PKG_CONFIG_SYSROOT_DIR=dest)
        cflags = subprocess.run(
            ["pkg-config", "--cflags", "postern-filter"], env=env,
            check=True, capture_output=True, text=True).stdout.split()
        plugindir = subprocess.run(
            ["pkg-config", "--variable=plugindir", "postern-filter"],
            env=env, check=True, capture_output=True, text=True).stdout
        self.assertIn("postern/filters", plugindir)
        out = os.path.join(dest, "example.so")
        subprocess.run(["cc"] + cflags + ["-shared", "-fPIC", "-o", out,
                        os.path.join(SRC, "contrib", "filters", "example",
                                     "example.c")], check=True)
        return out

    def test_example_filter_end_to_end(self):
        so = self.build_example()
        d = self.posternd(extra=filter_block(
            "example", so, subject="free money", tag="suspicious",
            max_size=Raw("4k")))
        self.assertQueued(self.send(d, message(subject="FREE MONEY now"))
                          .eod)
        self.assertQueued(self.send(d, message(subject="lunch")).eod)
        res = self.send(d, message(subject="big", body=("x" * 70 + "\r\n") * 120))
        self.assertReply(res.eod, 552, "5.3.4")
        msgs = d.wait_messages(2)
        tagged = [m for m in msgs if m.get("X-Example-Tag")]
        self.assertEqual(len(tagged), 1)
        self.assertEqual(tagged[0].get("X-Example-Tag"), "suspicious")
        self.assertIn("FREE MONEY", tagged[0].get("Subject"))
        self.assertTrue(d.log_matches(
            r"filter example: subject matched, tagged suspicious"))
