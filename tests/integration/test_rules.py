"""Rule files through posternd (issue 6): each stage's rules decide at
that stage (client.ip at connect, envelope.rcpt at RCPT, the message at
end of data), actions become replies, header edits, quarantine; shadow
rules only log; SIGHUP swaps a good rule set at once, refuses a bad one
and drops no session while it does; `postern rules check` and `postern
scan --explain` say what an admin needs to know.
"""

import json
import re
import os
import signal
import subprocess
import threading
import time

from harness import POSTERND, PosterndTest, make_dir, message

BUILD = os.path.dirname(os.path.abspath(POSTERND))
POSTERN = os.path.join(BUILD, "postern")

RULES = r'''
list blocked_nets { 192.0.2.0/24, 2001:db8::/32 }

rule nets {
    when client.ip in @blocked_nets
    reject 554 5.7.1 "Your network is blocked"
}
rule nobody_here {
    when envelope.rcpt.local is "nobody"
    reject 550 5.1.1 "No such user <{envelope.rcpt}>"
}
rule shouting {
    when subject matches /free money/i or body contains "casino"
    add-header "X-Spam-Flag" "YES"
    score +5
    tag loud
}
rule spam {
    when score >= 5 and subject contains "quarantine me"
    quarantine "spam"
}
rule trying shadow {
    when subject contains "shadowed"
    reject 550 5.7.1 "would have been refused"
}
'''


def postern(*args, **kw):
    return subprocess.run([POSTERN] + list(args), capture_output=True,
                          text=True, timeout=60, **kw)


class RulesTest(PosterndTest):
    def rules_posternd(self, text=RULES, **kw):
        rdir = make_dir("rules.")
        path = os.path.join(rdir, "site.rules")
        with open(path, "w") as f:
            f.write(text)
        d = self.posternd(extra='rules = ["%s"];' % path, **kw)
        d.rules_path = path
        return d

    def send(self, d, body, rcpts=("user@example.org",)):
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<s@example.net>"), 250)
        for r in rcpts:
            self.assertReply(c.cmd("RCPT TO:<%s>" % r), 250)
        reply = self.data(c, body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        c.cmd("QUIT")
        return reply

    def test_client_ip_rule_decides_at_connect(self):
        # The client address presented by XCLIENT, as from a front MTA.
        d = self.rules_posternd(smtp={"xclient_hosts": ["127.0.0.1/32"]})
        c = self.raw(d)
        c.hello()
        r = c.cmd("XCLIENT ADDR=192.0.2.7")
        self.assertEqual(r.code, 554, r)
        self.assertIn("Your network is blocked", r.text)
        c = self.raw(d)
        c.hello()
        r = c.cmd("XCLIENT ADDR=198.51.100.7")
        self.assertEqual(r.code, 220, r)
        self.assertTrue(d.log_matches(r"rule nets: reject"))

    def test_client_login_from_xclient(self):
        # A submission front presents its authenticated user: rules see
        # it as client.login; anonymous clients may not use our domain.
        d = self.rules_posternd(text=r'''
rule anonymous_own_domain {
    when not client.login matches /./ and envelope.from.domain is "example.org"
    reject 550 5.7.1 "Authenticate to send as {envelope.from}"
}
''', smtp={"xclient_hosts": ["127.0.0.1/32"]})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("XCLIENT ADDR=198.51.100.7 LOGIN=alice"),
                         220)
        self.assertReply(c.cmd("EHLO client.example"), 250)
        self.assertReply(c.cmd("MAIL FROM:<alice@example.org>"), 250)
        c.cmd("RSET")
        self.assertReply(c.cmd("XCLIENT LOGIN=[UNAVAILABLE]"), 220)
        self.assertReply(c.cmd("EHLO client.example"), 250)
        r = c.cmd("MAIL FROM:<alice@example.org>")
        self.assertReply(r, 550, "5.7.1")
        self.assertIn("Authenticate to send as alice@example.org", r.text)

    def test_rcpt_rule_decides_at_rcpt(self):
        d = self.rules_posternd()
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<s@example.net>"), 250)
        r = c.cmd("RCPT TO:<nobody@example.org>")
        self.assertReply(r, 550, "5.1.1")
        self.assertIn("No such user <nobody@example.org>", r.text)
        self.assertReply(c.cmd("RCPT TO:<user@example.org>"), 250)
        self.assertTrue(d.log_matches(r"rule nobody_here: reject"))

    def test_message_rules_edit_and_quarantine(self):
        d = self.rules_posternd()
        self.assertQueued(self.send(d, message(subject="FREE MONEY")))
        msg = d.wait_messages(1)[0]
        self.assertEqual(msg.get("X-Spam-Flag"), "YES")
        # body contains, on decoded text
        self.assertQueued(self.send(d, message(
            subject="hello", body="Visit our cAsino today\r\n")))
        self.assertEqual(len(d.wait_messages(2)), 2)
        # score from one rule, read by the next: quarantined, not relayed
        self.assertQueued(self.send(d, message(
            subject="free money, quarantine me")))
        time.sleep(0.3)
        self.assertEqual(d.count(), 2)
        out = postern("quarantine", "-c", d.conf, "list", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('"spam"', out.stdout)

    def test_shadow_rule_only_logs(self):
        d = self.rules_posternd()
        self.assertQueued(self.send(d, message(subject="shadowed")))
        self.assertEqual(d.count(), 1)
        self.assertTrue(d.log_matches(
            r"shadow rule trying: would reject would have been refused"))

    def test_sighup_swaps_good_rules_and_refuses_bad_ones(self):
        d = self.rules_posternd()
        with open(d.rules_path, "w") as f:
            f.write('rule all_out {\n    when envelope.rcpt.local is '
                    '"user"\n    reject 550 5.7.1 "closed today"\n}\n')
        d.signal(signal.SIGHUP)
        d.wait_log(r"SIGHUP: rules reloaded")
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<s@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<user@example.org>"), 550, "5.7.1")
        # A broken set is refused, with file:line:col, and the old one
        # stays in force.
        with open(d.rules_path, "w") as f:
            f.write('rule broken {\n    when envelope.from.domian is "x"\n'
                    '    reject 550 5.7.1 "x"\n}\n')
        d.signal(signal.SIGHUP)
        d.wait_log(r"SIGHUP: rules refused")
        self.assertTrue(d.log_matches(re.escape(d.rules_path) + r":2:\d+: "
                                      r"error"))
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<s@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<user@example.org>"), 550, "5.7.1")

    def test_reload_under_load_drops_no_session(self):
        d = self.rules_posternd()
        errors, done = [], []
        stop = threading.Event()

        def client():
            while not stop.is_set():
                try:
                    r = self.send(d, message(subject="load"))
                    if r.code != 250:
                        errors.append(repr(r))
                    done.append(1)
                except Exception as e:  # a dropped session
                    errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for _ in range(10):
            d.signal(signal.SIGHUP)
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertGreater(len(done), 10)
        self.assertEqual(d.count(), len(done))

    def test_rules_check_reports_file_line_column(self):
        rdir = make_dir("rules.")
        path = os.path.join(rdir, "bad.rules")
        with open(path, "w") as f:
            f.write('rule r {\n    when subjct matches /x/\n    tag t\n}\n')
        p = postern("rules", "check", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s:2:10: error:" % path, p.stderr + p.stdout)
        self.assertIn("subject", p.stderr + p.stdout)  # the hint
        good = os.path.join(rdir, "good.rules")
        with open(good, "w") as f:
            f.write(RULES)
        p = postern("rules", "check", good)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_scan_explain(self):
        d = self.rules_posternd()
        mdir = make_dir("msg.")
        path = os.path.join(mdir, "m.eml")
        with open(path, "wb") as f:
            f.write(message(subject="free money"))
        p = postern("scan", "-c", d.conf, "--explain", "--json", path)
        v = json.loads(p.stdout)
        by_rule = {e["rule"]: e for e in v["explain"]}
        self.assertTrue(by_rule["shouting"]["matched"])
        self.assertIn("subject matches", by_rule["shouting"]["why"])
        self.assertFalse(by_rule["spam"]["matched"])
        self.assertEqual(v["score"], 5)
        self.assertIn({"op": "add", "name": "X-Spam-Flag", "value": "YES",
                       "index": v["header_edits"][0]["index"]},
                      v["header_edits"])


