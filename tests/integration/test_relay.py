"""Relay control: only relay_domains (".x" = subdomains of x) are
accepted from untrusted clients; %-hack, bang paths and quoted @ in the
local part are refused even for relay domains; trusted_networks clients
may relay anywhere.
"""

from harness import PosterndTest

# (recipient, code, enhanced code)
RCPT_TABLE = [
    ("user@example.org", 250, "2.1.5"),
    ("User.Name+tag@EXAMPLE.ORG", 250, "2.1.5"),
    ("user@deep.sub.example.org", 250, "2.1.5"),
    ("user@a.b.sub.example.org", 250, "2.1.5"),
    ("user@sub.example.org", 554, "5.7.1"),      # ".x" is subdomains only
    ("user@foreign.example", 554, "5.7.1"),
    ("user@notexample.org", 554, "5.7.1"),
    ("user@example.org.evil.example", 554, "5.7.1"),
    ("user@sub.example.org.evil.example", 554, "5.7.1"),
    ("user%foreign.example@example.org", 554, "5.7.1"),
    ("foreign.example!user@example.org", 554, "5.7.1"),
    ('"user@foreign.example"@example.org', 554, "5.7.1"),
    ('"user%foreign.example"@example.org', 554, "5.7.1"),
]


class RelayControlTest(PosterndTest):
    def test_relay_domains_table(self):
        d = self.posternd(smtp={"max_errors": 100})
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        for rcpt, code, enh in RCPT_TABLE:
            with self.subTest(rcpt=rcpt):
                self.assertReply(c.cmd("RCPT TO:<%s>" % rcpt), code, enh,
                                 rcpt)
        d.wait_log(r"[0-9A-F]{12}: reject: RCPT from \S+\[127\.0\.0\.1\]: "
                   r"554 5\.7\.1 ")

    def test_source_route_to_foreign_domain_refused(self):
        d = self.posternd()
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        r = c.cmd("RCPT TO:<@example.org:user@foreign.example>")
        self.assertReply(r, "5", msg="source route to a foreign domain")

    def test_nothing_relayed_when_all_refused(self):
        d = self.posternd()
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<user@foreign.example>"), 554,
                         "5.7.1")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertNothingDelivered(d)

    def test_trusted_network_may_relay(self):
        d = self.posternd(smtp={"trusted_networks": ["127.0.0.2/32",
                                                     "::1/128"]})
        for host, source in (("127.0.0.1", "127.0.0.2"), ("::1", None)):
            with self.subTest(client=source or host):
                c = self.raw(d, host=host, source=source)
                c.hello()
                self.envelope(c, rcpts=("user@foreign.example",
                                        "user@example.org"))
                self.assertQueued(self.data(
                    c, b"Subject: relayed\r\n\r\nx\r\n.\r\n"))
        files = d.messages()
        self.assertEqual(len(files), 2)
        for f in files:
            self.assertEqual(f.get_all("Delivered-To"),
                             ["user@foreign.example", "user@example.org"])
        # 127.0.0.1 is not trusted here.
        c = self.raw(d, source="127.0.0.1")
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<sender@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<user@foreign.example>"), 554,
                         "5.7.1")
