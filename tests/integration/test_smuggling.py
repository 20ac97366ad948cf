"""SMTP smuggling: end-of-data look-alikes made of bare CR/LF inside
DATA, followed by a second, smuggled transaction.  Whatever posternd does
with the bare line ends (normalise, refuse), at most one message may
arrive and the smuggled one must never become a message of its own.
"""

from harness import ConnectionClosed, PosterndTest

VARIANTS = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r"]

SMUGGLED = (b"MAIL FROM:<smuggler@example.net>\r\n"
            b"RCPT TO:<victim@example.org>\r\n"
            b"DATA\r\n"
            b"From: smuggler@example.net\r\n"
            b"To: victim@example.org\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"smuggled body\r\n")


class SmugglingTest(PosterndTest):
    def run_variants(self, d):
        for i, v in enumerate(VARIANTS):
            with self.subTest(variant=v):
                before = {m.path for m in d.messages()}
                c = self.raw(d)
                c.hello()
                self.envelope(c, sender="real%d@example.net" % i,
                              rcpts=("user@example.org",))
                self.assertReply(c.cmd("DATA"), 354)
                c.send(b"From: real@example.net\r\n"
                       b"Subject: real %d\r\n"
                       b"\r\n"
                       b"real body" % i + v + SMUGGLED + b"\r\n.\r\n"
                       b"QUIT\r\n")
                replies = []
                while True:
                    try:
                        replies.append(c.reply())
                    except ConnectionClosed:
                        break
                c.close()
                queued = [r for r in replies if r.code == 250]
                self.assertLessEqual(len(queued), 1, replies)
                for r in replies:
                    self.assertNotIn(r.code, (354,), "smuggled DATA "
                                     "accepted: %r" % replies)
                    self.assertNotIn(r.enh, ("2.1.0", "2.1.5"), "smuggled "
                                     "MAIL/RCPT executed: %r" % replies)
                self.assertTrue(replies and replies[-1].code == 221,
                                "QUIT not answered last: %r" % replies)
                new = [m for m in d.messages() if m.path not in before]
                self.assertLessEqual(len(new), 1, new)
                for f in new:
                    self.assertTrue(f.raw.startswith(
                        b"Return-Path: <real%d@example.net>\n" % i),
                        f.raw[:80])
                    self.assertNotIn("victim@example.org",
                                     f.get_all("Delivered-To"))
                    self.assertEqual(f.get("Subject"), "real %d" % i)
                    # The smuggled text is body of the real message.
                    self.assertIn(b"smuggled body", f.raw)
                    self.assertNotIn(b"\r", f.raw)
                # Delivery is done before the 250: count now is final.
                self.assertEqual(len(new), len(queued), replies)

    def test_variants_bare_lf_normalize(self):
        self.run_variants(self.posternd())

    def test_variants_bare_lf_reject(self):
        d = self.posternd(smtp={"bare_lf": "reject"})
        self.run_variants(d)
        # With bare LF refused and bare CR always refused, every variant
        # contains a refused line end.
        self.assertEqual(d.messages(), [])

    def test_smuggling_in_bdat_is_just_data(self):
        d = self.posternd()
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        chunk = (b"Subject: bdat\r\n\r\nbody\r\n.\r\n" + SMUGGLED
                 + b"\r\n.\r\n")
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk + b"QUIT\r\n")
        self.assertQueued(c.reply())
        self.assertReply(c.reply(), 221)
        f, = d.messages()
        self.assertEqual(f.get_all("Delivered-To"), ["user@example.org"])
        self.assertIn(b"\nsmuggled body\n", f.raw)
