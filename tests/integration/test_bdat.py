"""CHUNKING (RFC 3030) over a raw socket: chunks split anywhere (also
between CR and LF), BDAT LAST, BDAT 0 LAST, pipelined BDAT, no
dot-unstuffing, chunk data consumed even when the command is refused,
BDAT and DATA not mixed, a client vanishing mid-chunk.
"""

import re

from harness import PosterndTest, lf, message, parse_received

BODY = ("Chunked body.\r\n"
        ".a line that starts with a dot stays as it is\r\n"
        "..two dots too\r\n"
        ".\r\n"
        "end\r\n")


def bdat(c, chunk, last=False):
    c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"")
           + chunk)
    return c.reply()


class BdatTest(PosterndTest):
    def setUp(self):
        self.d = self.posternd(smtp={"max_errors": 100})

    def start_tx(self, rcpt="user@example.org"):
        c = self.raw(self.d)
        c.hello()
        self.envelope(c, rcpts=(rcpt,))
        return c

    def test_chunks_split_between_cr_and_lf(self):
        msg = message(subject="bdat split", body=BODY)
        cut = msg.index(b"\r\n", len(msg) // 2) + 1  # ...\r | \n...
        self.assertEqual(msg[cut - 1:cut + 1], b"\r\n")
        parts = [msg[:10], msg[10:cut], msg[cut:]]
        c = self.start_tx()
        total = 0
        for p in parts[:-1]:
            r = bdat(c, p)
            total += len(p)
            self.assertReply(r, 250, "2.0.0")
            # RFC 3030 replies name the chunk's size; a running total
            # of the octets received is a fair reading too.
            n = re.search(r"(\d+) octets", r.text)
            self.assertTrue(n, "no octet count in %r" % r)
            self.assertIn(int(n.group(1)), (len(p), total),
                          "octet count for a %d-octet chunk (%d so far):"
                          " %r" % (len(p), total, r))
        qid = self.assertQueued(bdat(c, parts[-1], last=True))
        f, = self.d.messages()
        # No dot-unstuffing in BDAT: the content is taken as it is.
        self.assertTrue(f.raw.endswith(lf(msg)), f.raw[-200:])
        self.assertIn(b"\n..two dots too\n.\nend\n", f.raw)
        self.assertNotIn(b"\r", f.raw)
        rcv = parse_received(f.get("Received"))
        self.assertEqual(rcv["id"], qid)

    def test_bdat_zero_last(self):
        msg = message(subject="bdat zero last", body=BODY)
        c = self.start_tx()
        self.assertReply(bdat(c, msg[:100]), 250, "2.0.0")
        self.assertReply(bdat(c, msg[100:]), 250, "2.0.0")
        self.assertQueued(bdat(c, b"", last=True))
        f, = self.d.messages()
        self.assertTrue(f.raw.endswith(lf(msg)))

    def test_single_chunk_pipelined_with_quit(self):
        msg = message(subject="bdat pipelined", body=BODY)
        c = self.raw(self.d)
        c.hello()
        c.send(b"MAIL FROM:<sender@example.net>\r\n"
               b"RCPT TO:<user@example.org>\r\n"
               + b"BDAT %d LAST\r\n" % len(msg) + msg + b"QUIT\r\n")
        self.assertReply(c.reply(), 250, "2.1.0")
        self.assertReply(c.reply(), 250, "2.1.5")
        self.assertQueued(c.reply())
        self.assertReply(c.reply(), 221, "2.0.0")
        self.assertClosed(c)
        f, = self.d.messages()
        self.assertTrue(f.raw.endswith(lf(msg)))

    def test_two_messages_in_one_session(self):
        c = self.start_tx()
        m1 = message(subject="first", body=BODY)
        self.assertQueued(bdat(c, m1, last=True))
        self.envelope(c, rcpts=("second@example.org",))
        m2 = message(subject="second")
        self.assertQueued(bdat(c, m2, last=True))
        files = self.d.messages()
        self.assertEqual(len(files), 2)
        self.assertEqual(sorted(f.get("Delivered-To") for f in files),
                         ["second@example.org", "user@example.org"])

    def test_refused_bdat_still_consumes_its_octets(self):
        c = self.raw(self.d)
        c.hello()
        # No transaction: 503, and the chunk "QUIT\r\n" must be skipped,
        # not read as a command.
        self.assertReply(bdat(c, b"QUIT\r\n", last=True), 503, "5.5.1")
        self.assertReply(c.cmd("NOOP"), 250, "2.0.0")
        self.assertNothingDelivered(self.d)

    def test_data_after_bdat_refused(self):
        c = self.start_tx()
        self.assertReply(bdat(c, b"Subject: x\r\n"), 250, "2.0.0")
        self.assertReply(c.cmd("DATA"), 503, "5.5.1")
        self.assertReply(c.cmd("RSET"), 250, "2.0.0")
        # A clean transaction afterwards works.
        self.envelope(c)
        self.assertQueued(bdat(c, message(subject="after"), last=True))
        f, = self.d.messages()
        self.assertIn(b"Subject: after\n", f.raw)

    def test_bare_lf_in_chunk_normalized(self):
        c = self.start_tx()
        self.assertQueued(bdat(c, b"Subject: lf\r\n\r\none\ntwo\r\n",
                               last=True))
        f, = self.d.messages()
        self.assertTrue(f.raw.endswith(b"Subject: lf\n\none\ntwo\n"),
                        f.raw[-60:])

    def test_disconnect_mid_chunk(self):
        c = self.start_tx()
        c.send(b"BDAT 5000 LAST\r\nSubject: cut\r\n\r\nonly part")
        c.close()
        self.d.wait_log(r"disconnect from ")
        self.assertNothingDelivered(self.d)
        self.assertEqual(self.d.messages(), [])
        c2 = self.start_tx()
        self.assertQueued(bdat(c2, message(subject="next"), last=True))
        self.assertEqual(len(self.d.messages()), 1)
