"""Attachments through posternd (issue 8): the attachment, content and
rules filters with contrib/rules/default.rules refuse at end of data
each message of the evasion corpus (tests/data/evasion: executables
behind lying names and types, inside archives, inside attached
messages, a zip bomb) with the rule's reply and log line, and deliver
the clean ones; a rule on urls and url.domain sees the links of HTML.
"""

import os

from harness import PosterndTest, make_dir

SRC = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CORPUS = os.path.join(SRC, "tests", "data", "evasion")
DEFAULT_RULES = os.path.join(SRC, "contrib", "rules", "default.rules")

# file: (code, text in the reply, rule in the log or None)
REFUSED = {
    "double_extension.eml": (550, "not accepted", "dangerous_attachment"),
    "rtlo_name.eml": (550, "not accepted", "dangerous_attachment"),
    "lying_type.eml": (550, "Executable content", "disguised_executable"),
    "zip_in_zip.eml": (550, "not accepted", "dangerous_attachment"),
    "encrypted_zip.eml": (550, "Encrypted", "encrypted_archive"),
    "zip_bomb.eml": (554, "could not be inspected", None),
    "empty_name.eml": (550, "Executable content", "disguised_executable"),
    "uuencoded_in_text.eml": (550, "not accepted", "dangerous_attachment"),
    "attached_eml_file.eml": (550, "not accepted", "dangerous_attachment"),
    "zip_after_image.eml": (550, "not accepted", "dangerous_attachment"),
}
PASSED = ("clean_zip.eml", "clean_html.eml")

LINK_RULES = r'''
rule news_links {
    when any url.domain is "news.example.com"
      and any urls contains "/today"
    add-header "X-Links" "news"
}
'''


class AttachmentTest(PosterndTest):
    def attachment_posternd(self, extra_rules=None):
        paths = [DEFAULT_RULES]
        if extra_rules is not None:
            rdir = make_dir("rules.")
            path = os.path.join(rdir, "links.rules")
            with open(path, "w") as f:
                f.write(extra_rules)
            paths.append(path)
        return self.posternd(extra=(
            "filter attachment { } filter content { } rules = [%s];"
            % ", ".join('"%s"' % p for p in paths)))

    def send_file(self, d, name):
        with open(os.path.join(CORPUS, name), "rb") as f:
            body = f.read()
        c = self.raw(d)
        c.hello()
        self.assertReply(c.cmd("MAIL FROM:<s@example.net>"), 250)
        self.assertReply(c.cmd("RCPT TO:<user@example.org>"), 250)
        reply = self.data(c, body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        c.cmd("QUIT")
        return reply

    def test_evasions_are_refused(self):
        d = self.attachment_posternd()
        for name, (code, text, rule) in sorted(REFUSED.items()):
            r = self.send_file(d, name)
            self.assertEqual(r.code, code, "%s: %r" % (name, r))
            self.assertIn(text, r.text, name)
            if rule is not None:
                self.assertTrue(d.log_matches(r"rule %s: reject" % rule),
                                name)
        self.assertTrue(d.log_matches(r"attachment: .*defects=bomb"))
        self.assertEqual(d.count(), 0)

    def test_clean_mail_is_delivered(self):
        d = self.attachment_posternd(LINK_RULES)
        for name in PASSED:
            self.assertQueued(self.send_file(d, name))
        msgs = d.wait_messages(len(PASSED))
        links = [m.get("X-Links") for m in msgs]
        self.assertIn("news", links)
