"""The admin's tools of issue 5: `postern scan` (the filter chain run
offline on a message file) and `postern quarantine` (list, show, release
and delete what the gateway held back), run as built next to posternd.

The chain is the scripted test filter (tests/integration/filters/
scripted.c), told what to do by X-Test-* header fields of the message.
Messages are quarantined by a real posternd, then released to a
recording upstream.
"""

import json
import os
import subprocess

from harness import (POSTERND, UpstreamTest, make_dir, message)
from test_filters import build_filter, filter_block

BUILD = os.path.dirname(os.path.abspath(POSTERND))
POSTERN = os.path.join(BUILD, "postern")


def postern(*args, stdin=None):
    """Run the postern tool: (exit status, stdout bytes, stderr text)."""
    r = subprocess.run([POSTERN] + list(args), input=stdin,
                       capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


class CliTest(UpstreamTest):
    def setUp(self):
        if not os.access(POSTERN, os.X_OK):
            self.skipTest("%s is not built" % POSTERN)

    def config(self, **kw):
        """A posternd config with the scripted filter (not started)."""
        extra = filter_block("scripted", build_filter("scripted"))
        extra += "\n" + kw.pop("extra", "")
        return self.posternd(start=False, extra=extra, **kw)

    def eml(self, d, data, name="msg.eml"):
        path = os.path.join(d.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run_ok(self, *args, status=0, stdin=None):
        rc, out, err = postern(*args, stdin=stdin)
        self.assertEqual(rc, status, "postern %s: exit %d\nstdout: %r\n"
                         "stderr: %s" % (" ".join(args), rc, out[:2000],
                                         err))
        return out, err


class ScanTest(CliTest):
    def test_defaults_and_a_message_that_passes(self):
        d = self.config()
        path = self.eml(d, message(subject="hello"))
        out, _ = self.run_ok("scan", "-c", d.conf, path)
        text = out.decode()
        self.assertIn("client:     127.0.0.1 (default)", text)
        self.assertIn("helo:       localhost (default)", text)
        self.assertIn("from:       <sender@example.net> (default: From)",
                      text)
        self.assertIn("rcpt:       <user@example.org> (default: all of To)",
                      text)
        self.assertIn("\nverdict:    continue\n", text)
        self.assertIn("recipients: <user@example.org>", text)
        for stage in ("connect: continue", "helo <localhost>: continue",
                      "mail: continue",
                      "rcpt <user@example.org>: continue",
                      "message: continue"):
            self.assertIn("\n" + stage + "\n", text)

    def test_json_quarantine_with_header_edits(self):
        d = self.config()
        path = self.eml(d, message(extra_headers=(
            "X-Test-Verdict: quarantine\r\n"
            "X-Test-Quarantine: spam\r\n"
            "X-Test-Add-Header: X-Added: \"quoted\" value\r\n")))
        out, _ = self.run_ok("scan", "-c", d.conf, "--json", "--ip",
                             "192.0.2.7", "--helo", "mx.example.net",
                             path, status=1)
        r = json.loads(out)
        self.assertEqual(r["envelope"]["ip"], "192.0.2.7")
        self.assertEqual(r["envelope"]["defaulted"], ["from", "rcpt"])
        self.assertEqual([s["stage"] for s in r["stages"]],
                         ["connect", "helo", "mail", "rcpt", "message"])
        v = r["verdict"]
        self.assertEqual((v["verdict"], v["quarantine"], v["filter"]),
                         ("quarantine", "spam", "scripted"))
        self.assertEqual(r["header_edits"], [
            {"op": "add", "name": "X-Added", "value": "\"quoted\" value",
             "index": 0}])
        self.assertEqual(r["rcpts"], ["user@example.org"])

    def test_reject_and_recipient_verdicts(self):
        d = self.config()
        path = self.eml(d, message(extra_headers=(
            "X-Test-Verdict: reject\r\n"
            "X-Test-Reply: 554 5.7.9 Not with that content\r\n")))
        out, _ = self.run_ok("scan", "-c", d.conf, path, status=1)
        self.assertIn("\nverdict:    reject 554 5.7.9 Not with that content"
                      " (filter scripted)\n", out.decode())
        # A refused recipient is that recipient's business only.
        path = self.eml(d, message(), name="plain.eml")
        out, _ = self.run_ok("scan", "-c", d.conf, "--json",
                             "--from", "s@example.net",
                             "--rcpt", "reject-a@example.org",
                             "--rcpt", "user@example.org", path)
        r = json.loads(out)
        self.assertEqual(r["stages"][3]["verdict"], "reject")
        self.assertEqual(r["stages"][3]["arg"], "reject-a@example.org")
        self.assertEqual(r["verdict"]["verdict"], "continue")
        self.assertEqual(r["rcpts"], ["user@example.org"])
        self.assertEqual(r["envelope"]["from"], "s@example.net")
        # Every recipient refused: the message goes nowhere.
        out, _ = self.run_ok("scan", "-c", d.conf, "--json", "--rcpt",
                             "tempfail-a@example.org", path, status=1)
        self.assertEqual(json.loads(out)["verdict"]["verdict"], "tempfail")

    def test_stdin_with_lf_lines(self):
        d = self.config()
        data = message().replace(b"\r\n", b"\n")
        out, _ = self.run_ok("scan", "-c", d.conf, "--json", "-",
                             stdin=data)
        r = json.loads(out)
        # The chain saw CRLF lines, as from the gateway.
        self.assertEqual(r["size"], len(data) + data.count(b"\n"))
        self.assertEqual(r["file"], "-")

    def test_usage_and_configuration_errors(self):
        d = self.config()
        path = self.eml(d, b"Subject: no recipient\r\n\r\nx\r\n")
        rc, _, err = postern("scan", "-c", d.conf, path)
        self.assertEqual(rc, 2)
        self.assertIn("no recipient", err)
        rc, _, err = postern("scan", "-c", d.conf)
        self.assertEqual(rc, 2)
        self.assertIn("usage: postern scan", err)
        rc, _, err = postern("scan", "-c", os.path.join(d.dir, "nope.conf"),
                             path)
        self.assertEqual(rc, 2)
        self.assertIn("nope.conf", err)
        rc, _, err = postern("scan", "-c", d.conf,
                             os.path.join(d.dir, "missing.eml"))
        self.assertEqual(rc, 1)
        self.assertIn("missing.eml: No such file", err)


class QuarantineTest(CliTest):
    def gateway(self, sink):
        self.qdir = make_dir("quarantine.", owner="nobody", mode=0o700)
        so = build_filter("scripted")
        extra = (filter_block("scripted", so)
                 + '\nquarantine { dir = "%s"; }' % self.qdir)
        return self.relay(sink, extra=extra)

    def hold(self, d, subject, reason="spam"):
        body = message(subject=subject, extra_headers=(
            "X-Test-Verdict: quarantine\r\n"
            "X-Test-Quarantine: %s\r\n" % reason))
        res = self.send_one(d, body)
        self.assertReply(res.eod, 250, "2.0.0")
        return body

    def entries(self, d):
        out, _ = self.run_ok("quarantine", "-c", d.conf, "list", "--json")
        return json.loads(out)["entries"]

    def test_list_show_release(self):
        sink = self.upstream_sink()
        d = self.gateway(sink)
        body = self.hold(d, "caught one")
        self.assertEqual(sink.txns, [])
        (e,) = self.entries(d)
        self.assertEqual(e["reason"], "spam")
        self.assertEqual(e["from"], "sender@example.net")
        self.assertEqual(e["rcpts"], ["user@example.org"])
        self.assertEqual(e["subject"], "caught one")
        self.assertEqual(e["filter"], "scripted")
        self.assertTrue(os.path.isfile(os.path.join(
            self.qdir, "spam", "envelope", e["id"])))

        out, _ = self.run_ok("quarantine", "-c", d.conf, "list")
        self.assertIn(e["id"], out.decode())
        self.assertIn('"caught one"', out.decode())
        out, _ = self.run_ok("quarantine", "-c", d.conf, "show", e["id"])
        text = out.decode()
        self.assertIn("reason:    spam\n", text)
        self.assertIn("from:      <sender@example.net>\n", text)
        self.assertIn("\nSubject: caught one\n", text)
        raw, _ = self.run_ok("quarantine", "-c", d.conf, "show", "--raw",
                             e["id"])
        # As it would have been relayed: our Received: on top (and
        # whatever the chain added), then the message as sent.
        self.assertTrue(raw.startswith(b"Received: from "), raw[:200])
        self.assertTrue(raw.endswith(body), raw[-300:])

        out, _ = self.run_ok("quarantine", "-c", d.conf, "release", e["id"])
        self.assertRegex(out.decode(),
                         r"^released %s: 250 2\.0\.0 " % e["id"])
        self.assertEqual(len(sink.txns), 1)
        t = sink.txns[0]
        self.assertEqual(t.sender, "sender@example.net")
        self.assertEqual(t.accepted_rcpts, ["user@example.org"])
        self.assertEqual(t.data, raw)
        self.assertEqual(self.entries(d), [])

    def test_refused_release_keeps_the_entry(self):
        answer = {"eod": "451 4.3.0 not now"}
        sink = self.upstream_sink(
            replies={"eod": lambda conn, arg: answer["eod"]})
        d = self.gateway(sink)
        self.hold(d, "first", reason="virus")
        (e,) = self.entries(d)
        rc, out, err = postern("quarantine", "-c", d.conf, "release",
                               e["id"])
        self.assertEqual(rc, 1, err)
        self.assertIn("not released: 451", err)
        self.assertIn("kept in the quarantine", err)
        self.assertEqual([x["id"] for x in self.entries(d)], [e["id"]])
        # Deleted by hand instead.
        out, _ = self.run_ok("quarantine", "-c", d.conf, "delete", e["id"])
        self.assertEqual(out.decode(), "deleted %s\n" % e["id"])
        self.assertEqual(self.entries(d), [])
        rc, _, err = postern("quarantine", "-c", d.conf, "show", e["id"])
        self.assertEqual(rc, 1)
        self.assertIn("no entry %s" % e["id"], err)

    def test_damaged_entry_is_reported_with_its_path(self):
        sink = self.upstream_sink()
        d = self.gateway(sink)
        self.hold(d, "one")
        self.hold(d, "two")
        first, second = self.entries(d)
        env = os.path.join(self.qdir, "spam", "envelope", first["id"])
        with open(env, "w") as f:
            f.write("garbage\n")
        rc, out, err = postern("quarantine", "-c", d.conf, "list", "--json")
        self.assertEqual(rc, 1)
        self.assertIn(env + ": line 1: not a postern quarantine envelope",
                      err)
        self.assertEqual([x["id"] for x in json.loads(out)["entries"]],
                         [second["id"]])
        rc, _, err = postern("quarantine", "-c", d.conf, "show",
                             "../../etc/passwd")
        self.assertEqual(rc, 1)
        self.assertIn("malformed quarantine ID", err)
