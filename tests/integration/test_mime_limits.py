"""Every message goes through the MIME parser while DATA streams in; a
message whose structure passes a parser limit cannot be fully scanned,
so by default it is refused at the end of data (issue 4), and passed on
only when the admin says `mime { over_limit = "accept"; }`.
"""

import subprocess

from harness import POSTERND, PosterndTest


def nested(depth):
    """A message whose multiparts nest depth levels deep."""
    head = b"Subject: deep\r\nMIME-Version: 1.0\r\n"
    body = b"innermost\r\n"
    for level in reversed(range(depth)):
        b = b"b%d" % level
        body = (b"--" + b + b"\r\n" + body_headers(level + 1, depth) +
                body + b"\r\n--" + b + b"--\r\n")
    return (head + b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
            + body)


def body_headers(level, depth):
    if level == depth:
        return b"Content-Type: text/plain\r\n\r\n"
    return b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % level


def many_parts(n):
    parts = b"".join(b"--x\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i
                     for i in range(n))
    return (b"Subject: parts\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
            + parts + b"--x--\r\n")


def dotted(msg):
    return msg.replace(b"\r\n.", b"\r\n..") + b".\r\n"


class MimeLimitsTest(PosterndTest):
    def test_nesting_over_the_limit_refused(self):
        d = self.posternd(extra="mime { max_depth = 8; }")
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertReply(self.data(c, dotted(nested(12))), 554, "5.6.0")
        self.assertNothingDelivered(d)
        # Within the limit the same shape is delivered.
        self.envelope(c)
        self.assertQueued(self.data(c, dotted(nested(6))))
        self.assertEqual(len(d.messages()), 1)
        self.assertTrue(d.log_matches(r"reject: END-OF-MESSAGE .*554 5\.6\.0"
                                      r" .*limit_depth"))

    def test_default_depth_limit_is_32(self):
        d = self.posternd()
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertReply(self.data(c, dotted(nested(40))), 554, "5.6.0")
        self.envelope(c)
        self.assertQueued(self.data(c, dotted(nested(20))))

    def test_too_many_parts_refused(self):
        d = self.posternd(extra="mime { max_parts = 50; }")
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertReply(self.data(c, dotted(many_parts(100))), 554, "5.6.0")
        self.assertNothingDelivered(d)
        self.envelope(c)
        self.assertQueued(self.data(c, dotted(many_parts(20))))

    def test_over_limit_accept_passes_it_on(self):
        d = self.posternd(extra='mime { max_parts = 50; over_limit = "accept"; }')
        c = self.raw(d)
        c.hello()
        self.envelope(c)
        self.assertQueued(self.data(c, dotted(many_parts(100))))
        f, = d.messages()
        self.assertIn(b"part 99", f.raw)

    def test_bad_mime_block_is_a_config_error(self):
        d = self.posternd(start=False, extra="mime { max_dept = 8; }")
        r = subprocess.run([POSTERND, "-t", "-c", d.conf],
                           capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr.decode(), r"posternd\.conf:\d+: .*max_dept")
