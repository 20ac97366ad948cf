"""The built-in dkim filter through posternd (issue 7), against real peers
on loopback: a dnsmasq started here serving the keys, OpenDKIM's own
milter signing (behind a private Postfix) what posternd verifies and
verifying (behind another Postfix) what posternd signs.

Keys are made per run: RSA with opendkim-genkey, Ed25519 with openssl
genpkey (the TXT record carries the raw 32-byte public key).  Keys that
OpenDKIM's daemon verifies live under postern.example: its libunbound
answers every name under test. itself (../shared/PEERS.md section 4).

Checked where a user sees it: the Authentication-Results field of the
message that leaves posternd (and OpenDKIM's on the message that leaves
its Postfix), posternd's log, and how long a delivery takes when the
key lookups get no answer.
"""

import base64
import os
import re
import socket
import subprocess
import time
import unittest

from harness import (ARTIFACTS, POSTERND, RawSMTP, UpstreamSink,
                     UpstreamTest, _track, free_port, have_program,
                     is_listening, make_dir, message, program, wait_until)
from dns_peer import Dnsmasq, txt_record
from test_filters import build_filter, filter_block, headers_of

DOMAIN = "postern.example"
AUTHSERV = "mx.test.invalid"

# RFC 8463 appendix A: its keys (A.2) and the message signed with both
# (A.3).
RFC_RECORDS = {
    "brisbane._domainkey.football.example.com":
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    "test._domainkey.football.example.com":
        "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
        "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
        "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
        "Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
}
RFC_MESSAGE = "\r\n".join([
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;",
    " d=football.example.com; i=@football.example.com;",
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :",
    " subject : date : message-id : from : subject : date;",
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;",
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus",
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==",
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;",
    " d=football.example.com; i=@football.example.com;",
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :",
    " date : message-id : from : subject : date;",
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;",
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3",
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz",
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=",
    "From: Joe SixPack <joe@football.example.com>",
    "To: Suzie Q <suzie@shopping.example.net>",
    "Subject: Is dinner ready?",
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)",
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>",
    "",
    "Hi.",
    "",
    "We lost the game.  Are you hungry yet?",
    "",
    "Joe.",
    ""]).encode()


def run(*args):
    return subprocess.run(list(args), check=True, capture_output=True)


class Keys:
    """The run's keys, in a directory opendkim may read (mode 0755)."""

    def __init__(self):
        self.dir = make_dir("dkimkeys.")
        self.records = dict(RFC_RECORDS)
        self.paths = {}

    def rsa(self, selector, domain=DOMAIN):
        run(program("opendkim-genkey"), "--bits=2048", "--domain=" + domain,
            "--selector=" + selector, "--directory=" + self.dir)
        path = os.path.join(self.dir, selector + ".private")
        with open(os.path.join(self.dir, selector + ".txt")) as f:
            txt = "".join(re.findall(r'"([^"]*)"', f.read()))
        return self._add(selector, domain, path, txt)

    def ed25519(self, selector, domain=DOMAIN):
        path = os.path.join(self.dir, selector + ".private")
        run(program("openssl"), "genpkey", "-algorithm", "ed25519", "-out",
            path)
        der = run(program("openssl"), "pkey", "-in", path, "-pubout",
                  "-outform", "DER").stdout
        # SubjectPublicKeyInfo of Ed25519: 12 bytes of header, the key.
        txt = "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
        return self._add(selector, domain, path, txt)

    def _add(self, selector, domain, path, txt):
        # opendkim reads them as its user; posternd reads them as root
        os.chown(path, _uid("opendkim"), -1)
        os.chmod(path, 0o640)
        self.records["%s._domainkey.%s" % (selector, domain)] = txt
        self.paths[selector] = path
        return path


def _uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid


class KeyDNS(Dnsmasq):
    """dnsmasq on 127.0.0.1:PORT answering for the keys; nothing is
    forwarded anywhere."""

    def __init__(self, records):
        lines = ["no-resolv", "no-hosts", "no-poll",
                 "listen-address=127.0.0.1", "bind-interfaces",
                 "local=/example/", "local=/example.com/", "log-queries"]
        lines += [txt_record(n, t) for n, t in sorted(records.items())]
        super().__init__(lines, prefix="dkimdns.")

    def queries(self, name):
        return super().queries(name, "TXT")


class OpenDKIM:
    """opendkim, the milter, on 127.0.0.1:PORT: mode "s" signs mail from
    127.0.0.1 with one key (body_length: with l=), mode "v" verifies
    everything (keys through our dnsmasq)."""

    def __init__(self, mode, dns_port, key=None, selector=None,
                 algorithm="rsa-sha256", body_length=False):
        self.dir = make_dir("opendkim.")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "opendkim.conf")
        lines = [
            "Syslog no", "Background no",
            "PidFile %s/opendkim.pid" % self.dir,
            "Socket inet:%d@127.0.0.1" % self.port,
            "UserID opendkim", "UMask 007", "Mode " + mode,
            "RequireSafeKeys false", "Canonicalization relaxed/relaxed",
            "AlwaysAddARHeader yes", "AuthservID dkim.test.invalid",
            "On-Default accept", "On-BadSignature accept",
            "On-NoSignature accept",
            "Nameservers 127.0.0.1@%d" % dns_port,
        ]
        if mode == "v":
            # 127.0.0.1 would be an internal host: never verified
            lines.append("InternalHosts 192.0.2.254")
        else:
            lines += ["Domain " + DOMAIN, "Selector " + selector,
                      "KeyFile " + key, "SignatureAlgorithm " + algorithm]
        if body_length:
            bl = os.path.join(self.dir, "bodylength")
            with open(bl, "w") as f:
                f.write("*\n")
            lines.append("BodyLengthDB refile:" + bl)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = os.path.join(self.dir, "opendkim.log")
        self.proc = None
        ARTIFACTS.append(("opendkim log", self.log))

    def start(self):
        self.log_fh = open(self.log, "ab")
        self.proc = _track(subprocess.Popen(
            [program("opendkim"), "-f", "-x", self.conf],
            stdin=subprocess.DEVNULL, stdout=self.log_fh,
            stderr=self.log_fh))

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("opendkim exited: %s"
                                     % open(self.log).read())
            return is_listening(self.port)
        wait_until(ready, 10, what="opendkim on port %d" % self.port)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)  # libmilter takes its time
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def ar_entries(data, authserv=AUTHSERV):
    """The resinfos ("dkim=pass header.d=...") of the A-R field of
    authserv in data, folding undone."""
    out = []
    for name, value in headers_of(data):
        if name.lower() != "authentication-results":
            continue
        parts = [" ".join(p.split()) for p in value.split(";")]
        if parts[0].lower() == authserv.lower():
            out += parts[1:]
    return out


def dkim_entries(data, authserv=AUTHSERV):
    return [e for e in ar_entries(data, authserv) if e.startswith("dkim=")]


def strip_top(data):
    """data without the fields posternd put on top (its Received and its
    Authentication-Results): the message as it came in."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = []
    for ln in lines:
        if ln[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + ln
        else:
            fields.append(ln)
    keep = [f for f in fields
            if not (f.startswith(b"Received: ") and b"(postern)" in f)
            and not f.lower().startswith(b"authentication-results: "
                                         + AUTHSERV.encode())]
    return b"\r\n".join(keep) + sep + body


class DkimTest(UpstreamTest):
    """A dnsmasq with the run's keys for the whole class."""

    @classmethod
    def setUpClass(cls):
        for p in ("dnsmasq", "opendkim", "opendkim-genkey", "openssl"):
            if not have_program(p):
                raise unittest.SkipTest("%s is not installed" % p)
        cls.keys = Keys()
        cls.keys.rsa("odr")
        cls.keys.ed25519("ode")
        cls.keys.rsa("pr")
        cls.keys.ed25519("pe")
        cls.dns = KeyDNS(cls.keys.records).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def verifier(self, sink=None, extra="", dns_timeout="2s",
                 nameserver=None, dkim_opts="", **kw):
        """posternd with `filter dkim {}` (before it: extra) relaying to
        sink (default: a new upstream sink)."""
        if sink is None:
            sink = self.upstream_sink()
        ns = nameserver or "127.0.0.1:%d" % self.dns.port
        conf = ('dns { nameserver = ["%s"]; timeout = %s; }\n%s\n'
                'filter dkim { %s }' % (ns, dns_timeout, extra, dkim_opts))
        return self.relay(sink, extra=conf, **kw), sink

    def opendkim(self, *args, **kw):
        m = OpenDKIM(*args, **kw)
        self.addCleanup(m.stop)
        return m.start()

    def send(self, d, body, sender="sender@example.net"):
        res = self.send_one(d, body, sender=sender)
        self.assertQueued(res.eod)
        return res


class VerifyTest(DkimTest):
    def test_signed_by_opendkim_rsa_and_ed25519(self):
        d, sink = self.verifier()
        rsa = self.opendkim("s", self.dns.port, key=self.keys.paths["odr"],
                            selector="odr")
        ed = self.opendkim("s", self.dns.port, key=self.keys.paths["ode"],
                           selector="ode", algorithm="ed25519-sha256")
        pf = self.postfix(d.port, main_extra={
            "smtpd_milters": "inet:127.0.0.1:%d, inet:127.0.0.1:%d"
                             % (rsa.port, ed.port),
            "milter_default_action": "tempfail",
            "milter_protocol": "6"})
        c = self.raw_postfix(pf)
        body = message(subject="signed by opendkim").replace(
            b"sender@example.net", b"alice@" + DOMAIN.encode())
        res = self.transact(c, body, sender="alice@" + DOMAIN)
        self.assertReply(res.eod, 250)
        txn = sink.wait_accepted(1, 30)[0]
        sigs = re.findall(rb"a=(rsa-sha256|ed25519-sha256);", txn.data)
        self.assertEqual(sorted(sigs), [b"ed25519-sha256", b"rsa-sha256"],
                         txn.data[:1500])
        got = dkim_entries(txn.data)
        self.assertEqual(len(got), 2, got)
        self.assertIn("dkim=pass header.d=%s header.s=odr "
                      "header.a=rsa-sha256" % DOMAIN, " ".join(got))
        self.assertIn("dkim=pass header.d=%s header.s=ode "
                      "header.a=ed25519-sha256" % DOMAIN, " ".join(got))
        self.assertRegex(d.log(), r"filter dkim: d=%s s=ode "
                         r"a=ed25519-sha256: pass" % re.escape(DOMAIN))
        # The same message altered on its way: both signatures fail.
        signed = strip_top(txn.data)
        for old, new, why in (
                (b"Hello.", b"Hullo.", "body hash did not verify"),
                (b"Subject: signed by opendkim",
                 b"Subject: signed by someone", "signature did not verify")):
            self.assertIn(old, signed)
            self.send(d, signed.replace(old, new))
            got = dkim_entries(sink.txns[-1].data)
            self.assertEqual(got[0].split()[0], "dkim=fail")
            self.assertEqual(got[1].split()[0], "dkim=fail")
            self.assertIn('reason="%s"' % why, " ".join(got))

    def raw_postfix(self, pf):
        c = RawSMTP("127.0.0.1", pf.smtpd_port)
        self.addCleanup(c.close)
        c.hello("client.test")
        return c

    def test_rfc8463_example(self):
        d, sink = self.verifier()
        self.send(d, RFC_MESSAGE, sender="joe@football.example.com")
        got = dkim_entries(sink.txns[-1].data)
        self.assertEqual(got, [
            'dkim=pass header.d=football.example.com header.s=brisbane '
            'header.a=ed25519-sha256 header.b="/gCrinpc"',
            'dkim=pass header.d=football.example.com header.s=test '
            'header.a=rsa-sha256 header.b=F45dVWDf'])

    def test_altered_body_and_header_fail(self):
        d, sink = self.verifier()
        body = RFC_MESSAGE.replace(b"We lost", b"We won")
        self.send(d, body)
        got = dkim_entries(sink.txns[-1].data)
        self.assertEqual(len(got), 2)
        for e in got:
            self.assertTrue(e.startswith(
                'dkim=fail reason="body hash did not verify"'), e)
        body = RFC_MESSAGE.replace(b"Subject: Is dinner ready?",
                                   b"Subject: Is dinner ready?!")
        self.send(d, body)
        for e in dkim_entries(sink.txns[-1].data):
            self.assertTrue(e.startswith(
                'dkim=fail reason="signature did not verify"'), e)

    def test_unsigned_and_unknown_key(self):
        d, sink = self.verifier()
        self.send(d, message(subject="unsigned"))
        self.assertEqual(dkim_entries(sink.txns[-1].data), ["dkim=none"])
        body = RFC_MESSAGE.replace(b"s=brisbane", b"s=nokey")
        self.send(d, body)
        got = dkim_entries(sink.txns[-1].data)
        self.assertTrue(got[0].startswith("dkim=permerror"), got)
        self.assertTrue(got[1].startswith("dkim=pass"), got)
        self.assertGreaterEqual(
            self.dns.queries("nokey._domainkey.football.example.com"), 1)

    def test_body_length_appended_content_flagged(self):
        d, sink = self.verifier()
        ml = self.opendkim("s", self.dns.port, key=self.keys.paths["odr"],
                           selector="odr", body_length=True)
        final = UpstreamSink().start()
        self.addCleanup(final.stop)
        pf = self.postfix(final.port, main_extra={
            "smtpd_milters": "inet:127.0.0.1:%d" % ml.port,
            "milter_default_action": "tempfail",
            "milter_protocol": "6"})
        c = self.raw_postfix(pf)
        body = message(subject="with l=").replace(
            b"sender@example.net", b"alice@" + DOMAIN.encode())
        self.assertReply(self.transact(c, body,
                                       sender="alice@" + DOMAIN).eod, 250)
        signed = final.wait_accepted(1, 30)[0].data
        self.assertRegex(signed, rb"\bl=\d+;")
        # As signed: a plain pass.
        self.send(d, signed)
        got = dkim_entries(sink.txns[-1].data)
        self.assertTrue(got[0].startswith("dkim=pass header.d="), got)
        # Something appended after the signed length: flagged.
        self.send(d, signed + b"Click http://evil.test/ to win.\r\n")
        got = dkim_entries(sink.txns[-1].data)
        self.assertTrue(got[0].startswith(
            'dkim=policy reason="l= leaves part of the body unsigned"'),
            got)
        self.assertIn("odr a=rsa-sha256: policy", d.log())

    def test_max_signatures(self):
        d, sink = self.verifier(dkim_opts="max_signatures = 1;")
        self.send(d, RFC_MESSAGE)
        got = dkim_entries(sink.txns[-1].data)
        self.assertEqual(len(got), 1)
        self.assertIn("header.s=brisbane", got[0])
        self.assertIn("DKIM-Signature fields past max_signatures",
                      d.log())


class DnsFaultTest(DkimTest):
    def test_key_lookup_timeout_is_temperror_quickly(self):
        # A nameserver that never answers.
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        self.addCleanup(silent.close)
        d, sink = self.verifier(
            nameserver="127.0.0.1:%d" % silent.getsockname()[1],
            dns_timeout="1s")
        t0 = time.monotonic()
        self.send(d, RFC_MESSAGE)
        took = time.monotonic() - t0
        got = dkim_entries(sink.txns[-1].data)
        self.assertEqual([e.split()[0] for e in got],
                         ["dkim=temperror", "dkim=temperror"])
        self.assertIn('reason="key lookup failed"', got[0])
        # two lookups of at most 1 s each, nothing near the filter's
        # 30 s deadline
        self.assertLess(took, 6.0)

    def test_nameserver_down_is_temperror(self):
        port = free_port()  # nothing listens there
        d, sink = self.verifier(nameserver="127.0.0.1:%d" % port,
                                dns_timeout="1s")
        t0 = time.monotonic()
        self.send(d, RFC_MESSAGE)
        self.assertLess(time.monotonic() - t0, 6.0)
        got = dkim_entries(sink.txns[-1].data)
        self.assertEqual([e.split()[0] for e in got],
                         ["dkim=temperror", "dkim=temperror"])


class SignTest(DkimTest):
    """posternd signs (trusted client, after the scripted filter edited
    the header); OpenDKIM's verifier behind a Postfix judges."""

    def signer(self, upstream, trusted=True, extra_opts=""):
        so = build_filter("scripted")
        conf = (filter_block("scripted", so) + "\n"
                'filter dkim { sign = ["%s:pr:%s", "%s:pe:%s"]; %s }'
                % (DOMAIN, self.keys.paths["pr"], DOMAIN,
                   self.keys.paths["pe"], extra_opts))
        smtp = {"trusted_networks": ["127.0.0.0/8"]} if trusted else {}
        return self.relay(upstream, extra=(
            'dns { nameserver = ["127.0.0.1:%d"]; timeout = 2s; }\n%s'
            % (self.dns.port, conf)), smtp=smtp)

    def test_signed_by_postern_verified_by_opendkim(self):
        final = self.upstream_sink()
        mv = self.opendkim("v", self.dns.port)
        pf = self.postfix(final.port, main_extra={
            "relay_domains": "example.org",
            "smtpd_milters": "inet:127.0.0.1:%d" % mv.port,
            "milter_default_action": "tempfail",
            "milter_protocol": "6"})
        d = self.signer("smtp://127.0.0.1:%d" % pf.smtpd_port)
        body = message(subject="original subject", extra_headers=(
            "X-Test-Change-Header: Subject: changed by a filter\r\n")
        ).replace(b"sender@example.net", b"alice@" + DOMAIN.encode())
        self.send(d, body, sender="alice@" + DOMAIN)
        data = final.wait_accepted(1, 30)[0].data
        self.assertIn(b"Subject: changed by a filter\r\n", data)
        sigs = re.findall(rb"DKIM-Signature: v=1; a=(rsa-sha256|"
                          rb"ed25519-sha256);", data)
        self.assertEqual(sorted(sigs), [b"ed25519-sha256", b"rsa-sha256"])
        # OpenDKIM's own verdict, in its own field
        ar = " ".join(" ".join(v.split()) for n, v in headers_of(data)
                      if n.lower() == "authentication-results"
                      and v.strip().startswith("dkim.test.invalid"))
        self.assertEqual(len(re.findall(r"\bdkim=", ar)), 2, ar)
        self.assertRegex(ar, r"dkim=pass \(2048-bit key[^)]*\) "
                         r"header\.d=postern\.example [^;]*header\.s=pr ")
        self.assertRegex(ar, r"dkim=pass [^;]*header\.a=ed25519-sha256 "
                         r"header\.s=pe ")
        log = d.log()
        self.assertRegex(log, r"filter dkim: signed d=%s s=pr a=rsa-sha256"
                         % re.escape(DOMAIN))
        self.assertRegex(log, r"filter dkim: signed d=%s s=pe "
                         r"a=ed25519-sha256" % re.escape(DOMAIN))

    def test_untrusted_client_not_signed(self):
        sink = self.upstream_sink()
        d = self.signer(sink, trusted=False)
        body = message().replace(b"sender@example.net",
                                 b"alice@" + DOMAIN.encode())
        self.send(d, body, sender="alice@" + DOMAIN)
        self.assertNotIn(b"DKIM-Signature:", sink.txns[-1].data)

    def test_other_domain_not_signed_and_own_verifies(self):
        sink = self.upstream_sink()
        d = self.signer(sink)
        self.send(d, message())  # From: sender@example.net
        self.assertNotIn(b"DKIM-Signature:", sink.txns[-1].data)
        # What posternd signs, posternd verifies too.
        body = message(subject="round trip").replace(
            b"sender@example.net", b"alice@mail." + DOMAIN.encode())
        self.send(d, body, sender="alice@mail." + DOMAIN)
        signed = sink.txns[-1].data
        self.assertEqual(signed.count(b"DKIM-Signature:"), 2)
        v, vsink = self.verifier()
        self.send(v, strip_top(signed))
        got = dkim_entries(vsink.txns[-1].data)
        self.assertEqual([e.split()[0] for e in got],
                         ["dkim=pass", "dkim=pass"])

    def test_bad_key_refused_at_config_check(self):
        d = self.posternd(start=False, extra=(
            'filter dkim {\n  sign = ["%s:pr:/nonexistent/key"];\n}'
            % DOMAIN))
        r = subprocess.run([POSTERND, "-t", "-c", d.conf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        with open(d.conf) as f:
            line = [i for i, ln in enumerate(f, 1) if "sign =" in ln][0]
        self.assertIn("%s:%d: filter dkim: /nonexistent/key: No such file"
                      % (d.conf, line), r.stderr + r.stdout)
