"""Real clients and MTAs against posternd: swaks (plain, pipelined,
STARTTLS), smtp-source as a load client, and a private Postfix instance
relaying into posternd.  One test checks the Postfix harness alone
(Postfix -> smtp-sink) so a harness problem is told apart from a
posternd one.
"""

import re
import subprocess
import smtplib

from harness import (HOSTNAME, PosterndTest, TestCA, message,
                     parse_received, program, run_smtp_source)


class SwaksTest(PosterndTest):
    def setUp(self):
        self.need("swaks")
        self.d = self.posternd(tls=True)

    def swaks(self, *extra):
        args = [program("swaks"), "--server", "127.0.0.1:%d" % self.d.port,
                "--from", "sender@example.net", "--to", "user@example.org",
                "--helo", "swaks.test",
                "--header", "Subject: swaks test",
                "--body", "Sent by swaks.\n.dot line\n"] + list(extra)
        r = subprocess.run(args, capture_output=True, timeout=60)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "swaks failed:\n" + out)
        return out

    def check_one(self, with_):
        f, = self.d.messages()
        self.assertIn(b"\nSubject: swaks test\n", f.raw)
        self.assertIn(b"\nSent by swaks.\n.dot line\n", f.raw)
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["helo"], "swaks.test", rcv["raw"])
        self.assertEqual(rcv["with"], with_, rcv["raw"])
        return f

    def test_basic(self):
        out = self.swaks()
        self.assertRegex(out, r"<[-~]\s+250 2\.0\.0 .*queued as [0-9A-F]{12}")
        self.check_one("ESMTP")

    def test_pipeline(self):
        out = self.swaks("--pipeline")
        self.assertIn("250", out)
        self.check_one("ESMTP")

    def test_starttls_verified(self):
        self.swaks("--tls", "--tls-verify", "--tls-ca-path",
                   TestCA.get().ca_cert)
        f = self.check_one("ESMTPS")
        self.assertIsNotNone(parse_received(f.get("Received"))["tls"])


class SmtpSourceTest(PosterndTest):
    def test_200_messages_10_sessions(self):
        self.need("smtp-source")
        d = self.posternd()
        r = run_smtp_source(d.port, messages=200, sessions=10, length=2048)
        self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode(
            errors="replace"))
        # smtp-source waits for each 250: all 200 are already durable.
        files = d.messages()
        self.assertEqual(len(files), 200)
        qids = {parse_received(f.get("Received"))["id"] for f in files}
        self.assertEqual(len(qids), 200, "queue ids must be unique")
        for f in files:
            self.assertEqual(f.get("Delivered-To"), "rcpt@example.org")
            self.assertIn(b"Subject: postern load test", f.raw)
        self.assertEqual(len(d.log_matches(r"status=sent")), 200)

    def test_many_messages_per_connection(self):
        self.need("smtp-source")
        d = self.posternd()
        r = run_smtp_source(d.port, messages=50, sessions=2, length=512,
                            extra=["-d"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(d.messages()), 50)


class PostfixRelayTest(PosterndTest):
    N = 20

    def test_postfix_relays_into_posternd(self):
        self.need("postfix", "postconf")
        d = self.posternd()
        pf = self.postfix(relay_port=d.port)
        subjects = set()
        with smtplib.SMTP("127.0.0.1", pf.smtpd_port,
                          local_hostname="submit.test", timeout=30) as s:
            for i in range(self.N):
                subj = "via postfix %d" % i
                subjects.add(subj)
                s.sendmail("sender@example.net", ["user%d@example.org" % i],
                           message(subject=subj,
                                   body="Line %d.\r\n.dot\r\n" % i))
        files = d.wait_messages(self.N, timeout=60)
        self.assertEqual(len(files), self.N)
        sent = pf.wait_log(r"status=sent \(250 2\.0\.0[^)]*queued as "
                           r"([0-9A-F]{12})", count=self.N, timeout=30)
        self.assertEqual(len(sent), self.N)
        relay = "relay=127.0.0.1[127.0.0.1]:%d" % d.port
        self.assertEqual(pf.log().count(relay), self.N,
                         "every message relayed to posternd")
        got_subjects, qids = set(), set()
        for f in files:
            rcv = parse_received(f.get("Received"))
            qids.add(rcv["id"])
            self.assertEqual(rcv["helo"], "postfix.test.invalid", rcv["raw"])
            self.assertEqual(rcv["by"], HOSTNAME)
            # Postfix's own Received comes after posternd's.
            self.assertEqual(len(f.get_all("Received")), 2)
            self.assertIn("by postfix.test.invalid (Postfix)",
                          f.get_all("Received")[1])
            got_subjects.add(f.get("Subject"))
            self.assertRegex(f.get("Delivered-To"), r"^user\d+@example\.org$")
            self.assertIn(b"\n.dot\n", f.raw)
        self.assertEqual(got_subjects, subjects)
        # Postfix saw the same queue ids posternd wrote into Received.
        self.assertEqual(set(sent), qids)

    def test_harness_postfix_to_smtp_sink(self):
        """Harness self-check (no posternd involved)."""
        self.need("postfix", "smtp-sink")
        sink = self.sink()
        pf = self.postfix(relay_port=sink.port)
        with smtplib.SMTP("127.0.0.1", pf.smtpd_port,
                          local_hostname="submit.test", timeout=30) as s:
            for i in range(3):
                s.sendmail("sender@example.net", ["user@example.org"],
                           message(subject="sink %d" % i))
        pf.wait_log(r"status=sent", count=3, timeout=30)
        files = sink.files()
        self.assertEqual(len(files), 3, files)
        for p in files:
            with open(p, "rb") as fh:
                self.assertTrue(re.search(rb"Subject: sink \d", fh.read()))
