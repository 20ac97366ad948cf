"""Modify, then sign (issue 8): the rules strip an attachment (replaced by
a text/plain notice, the original kept in the quarantine) and add a
banner; posternd signs the rewritten message; OpenDKIM's verifier, behind
a private Postfix, judges the signature of what arrives at the sink.
Python's email package parses what arrives: the MIME structure, the
notice, the banner in the plain and HTML text (QP and base64 encoded
again), the signed part untouched.

Keys and the DNS for them come from test_dkim (dnsmasq, opendkim-genkey).
"""

import base64
import email
import email.policy
import os
import unittest

from harness import make_dir, message
from test_dkim import DOMAIN, DkimTest
from test_filters import SRC, headers_of

EXE = b"MZ\x90\x00\x03\x00\x00\x00" + os.urandom(600)

RULES = r'''
rule executables {
    when any attachment.extension in { "exe", "scr" }
    strip-attachment "An executable attachment was removed by policy."
    tag stripped
}
rule external {
    when envelope.from.domain != "nowhere.invalid"
    banner "CAUTION: this message comes from outside. Grüße."
}
'''


def b64(data):
    return base64.encodebytes(data).replace(b"\n", b"\r\n").decode()


def mail_with_exe(sender, pdf=False):
    body = ("--mix\r\n"
            "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
            "--alt\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Hello, here is the invoice =E2=82=AC.\r\n"
            "--alt\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s"
            "--alt--\r\n"
            "--mix\r\n"
            "Content-Type: application/octet-stream; name=\"invoice.exe\"\r\n"
            "Content-Disposition: attachment; filename=\"invoice.exe\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s"
            "%s"
            "--mix--\r\n"
            % (b64(b"<html><body><p>Hello</p></body></html>"), b64(EXE),
               "--mix\r\n"
               "Content-Type: application/pdf; name=\"terms.pdf\"\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n"
               + b64(b"%PDF-1.4 terms") if pdf else ""))
    return message(subject="invoice", body=body, extra_headers=(
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"mix\"\r\n")
    ).replace(b"sender@example.net", sender.encode())


class RewriteTest(DkimTest):
    def gateway(self, upstream, sign=True):
        rdir = make_dir("rules.")
        path = os.path.join(rdir, "rewrite.rules")
        with open(path, "w") as f:
            f.write(RULES)
        conf = 'rules = ["%s"];\n' % path
        if sign:
            conf += ('dns { nameserver = ["127.0.0.1:%d"]; timeout = 2s; }\n'
                     'filter dkim { sign = ["%s:pr:%s"]; }'
                     % (self.dns.port, DOMAIN, self.keys.paths["pr"]))
        return self.relay(upstream, extra=conf,
                          smtp={"trusted_networks": ["127.0.0.0/8"]})

    def check_rewritten(self, data, pdf=False):
        msg = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(msg.defects, [])
        got = [(p.get_content_type(), p.get_filename())
               for p in msg.walk()]
        self.assertEqual(got, [
            ("multipart/mixed", None), ("multipart/alternative", None),
            ("text/plain", None), ("text/html", None),
            ("text/plain", None)]
            + ([("application/pdf", "terms.pdf")] if pdf else []))
        parts = list(msg.walk())
        for p in parts:
            self.assertEqual(p.defects, [], p.get_content_type())
        plain = parts[2].get_content().replace("\r\n", "\n")
        self.assertTrue(plain.startswith(
            "CAUTION: this message comes from outside. Grüße.\n\nHello"),
            plain)
        self.assertIn("invoice €.", plain)
        html = parts[3].get_content()
        self.assertRegex(html, r"<body><div [^>]*>CAUTION: this message "
                         r"comes from outside\. Gr&#252;&#223;e\.</div>"
                         r"<p>Hello</p>")
        self.assertEqual(parts[4].get_content().replace("\r\n", "\n"),
                         "An executable attachment was removed by "
                         "policy.\n")
        if pdf:
            self.assertEqual(parts[5].get_content(), b"%PDF-1.4 terms")
        self.assertNotIn(b64(EXE).split("\r\n")[0].encode(), data)

    def test_strip_and_notify_signed_verified_by_opendkim(self):
        final = self.upstream_sink()
        mv = self.opendkim("v", self.dns.port)
        pf = self.postfix(final.port, main_extra={
            "relay_domains": "example.org",
            "smtpd_milters": "inet:127.0.0.1:%d" % mv.port,
            "milter_default_action": "tempfail",
            "milter_protocol": "6"})
        d = self.gateway("smtp://127.0.0.1:%d" % pf.smtpd_port)
        self.send(d, mail_with_exe("alice@" + DOMAIN),
                  sender="alice@" + DOMAIN)
        data = final.wait_accepted(1, 30)[0].data
        self.check_rewritten(data)
        self.assertEqual(data.count(b"DKIM-Signature: "), 1)
        # OpenDKIM's verdict on what posternd signed after rewriting
        ar = " ".join(" ".join(v.split()) for n, v in headers_of(data)
                      if n.lower() == "authentication-results"
                      and v.strip().startswith("dkim.test.invalid"))
        self.assertRegex(ar, r"dkim=pass \(2048-bit key[^)]*\) "
                         r"header\.d=postern\.example [^;]*header\.s=pr ")
        # the original, with the executable, waits in the quarantine
        qdir = os.path.join(d.dir, "quarantine", "stripped", "new")
        files = os.listdir(qdir)
        self.assertEqual(len(files), 1)
        with open(os.path.join(qdir, files[0]), "rb") as f:
            self.assertIn(b64(EXE).split("\r\n")[0].encode(), f.read())
        self.assertRegex(d.log(), r"rule executables: strip-attachment "
                         r"part=4\n")
        self.assertRegex(d.log(), r": rewritten: replaced=1 banners=2 "
                         r"skipped=0\n")

    def test_only_the_matching_attachment_is_stripped(self):
        sink = self.upstream_sink()
        d = self.gateway(sink, sign=False)
        self.send(d, mail_with_exe("bob@example.net", pdf=True))
        self.check_rewritten(sink.wait_accepted(1)[0].data, pdf=True)

    def test_banner_leaves_signed_part_alone(self):
        sink = self.upstream_sink()
        d = self.gateway(sink, sign=False)
        signed = ("--sig\r\n"
                  "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                  "Signed text, byte for byte.\r\n"
                  "--sig\r\n"
                  "Content-Type: application/pkcs7-signature; "
                  "name=smime.p7s\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n"
                  "MIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n"
                  "--sig--\r\n")
        body = message(subject="signed", body=signed, extra_headers=(
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/signed; protocol=\"application/"
            "pkcs7-signature\"; micalg=sha-256; boundary=\"sig\"\r\n"))
        self.send(d, body)
        data = sink.wait_accepted(1)[0].data
        self.assertTrue(data.endswith(signed.encode()), data[-400:])
        self.assertNotIn(b"CAUTION", data)
        # and a plain message gets it, still valid MIME
        self.send(d, mail_with_exe("bob@example.net"))
        data = sink.wait_accepted(2)[1].data
        self.check_rewritten(data)
        self.assertNotIn(b"DKIM-Signature:", data)
