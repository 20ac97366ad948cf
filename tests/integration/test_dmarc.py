"""The built-in dmarc filter through posternd (issue 7), after the spf
filter, against the dnsmasq of test_spf.py (tests/data/dns/
auth-zone.conf): SPF alignment relaxed and strict end to end, policies
none, quarantine and reject with the filter's actions, sp= for a
subdomain, pct=, the organizational domain's record, a missing record,
several From fields; the public suffix list Debian ships.  What the user
sees: the Authentication-Results header of the delivered message, the
log line, the reply, the quarantine.

DKIM alignment needs signed mail and the dkim filter; it is covered by
tests/unit/test_filter_dmarc_live.c with the dkim filter's results set by
a stand-in.
"""

import os
import re

from test_spf import AuthTest, auth_results


def quarantined(d, reason):
    """The messages in the quarantine folder of reason (a maildir)."""
    new = os.path.join(d.dir, "quarantine", reason, "new")
    if not os.path.isdir(new):
        return []
    return [os.path.join(new, f) for f in os.listdir(new)]


class DmarcTest(AuthTest):
    def dmarc(self, options=""):
        return self.daemon("filter spf {}\nfilter dmarc { %s }" % options)

    def assertDelivered(self, d, mailfrom, from_header, want_dmarc,
                        want_log=None, host="127.0.0.1"):
        """One message delivered; its dmarc A-R entry is want_dmarc."""
        res = self.deliver(d, mailfrom, from_header=from_header, host=host)
        self.assertReply(res.eod, 250)
        ar = self.delivered_ar(d)
        self.assertEqual(len(ar), 1, ar)
        domain = re.search(r"@([^>\s]+)", from_header).group(1)
        self.assertIn("dmarc=%s header.from=%s" % (want_dmarc, domain), ar[0])
        if want_log:
            d.wait_log(want_log)
        return ar[0]


class DmarcAlignmentTest(DmarcTest):
    def test_spf_aligned_pass(self):
        d = self.dmarc()
        ar = self.assertDelivered(
            d, "joe@dm-reject.test", "Joe <joe@dm-reject.test>", "pass",
            r"filter dmarc: from=dm-reject\.test result=pass policy=reject "
            r"disposition=none \(spf=pass aligned, dkim=none\)")
        self.assertEqual(ar, "mx.test.invalid; spf=pass "
                             "smtp.mailfrom=dm-reject.test; dmarc=pass "
                             "header.from=dm-reject.test")

    def test_spf_relaxed_subdomain(self):
        d = self.dmarc()
        self.assertDelivered(d, "bounce@mail.dm-reject.test",
                             "<joe@dm-reject.test>", "pass")

    def test_spf_strict_subdomain_fails(self):
        d = self.dmarc()
        self.assertDelivered(
            d, "bounce@mail.dm-strict.test", "<joe@dm-strict.test>", "fail",
            r"from=dm-strict\.test result=fail policy=reject "
            r"disposition=reject \(spf=pass, dkim=none\)")

    def test_spf_strict_exact(self):
        d = self.dmarc()
        self.assertDelivered(d, "joe@dm-strict.test",
                             "<joe@dm-strict.test>", "pass")

    def test_spf_other_domain(self):
        # SPF passes, but for a domain that is not the author's
        d = self.dmarc()
        self.assertDelivered(d, "joe@pass.spf.test", "<joe@dm-reject.test>",
                             "fail")

    def test_ipv6_client(self):
        d = self.dmarc()
        self.assertDelivered(d, "joe@dm-quar.test", "<joe@dm-quar.test>",
                             "pass", host="::1")


class DmarcPolicyTest(DmarcTest):
    def test_reject(self):
        d = self.dmarc("reject = reject;")
        res = self.deliver(d, "joe@pass.spf.test",
                           from_header="<joe@dm-reject.test>")
        self.assertReply(res.eod, 550, "5.7.1")
        self.assertIn("DMARC policy of dm-reject.test says reject",
                      res.eod.text)
        self.assertNothingDelivered(d)

    def test_reject_continue_by_default(self):
        d = self.dmarc()
        self.assertDelivered(d, "joe@pass.spf.test", "<joe@dm-reject.test>",
                             "fail", r"disposition=reject")

    def test_quarantine(self):
        d = self.dmarc("quarantine = quarantine;")
        res = self.deliver(d, "joe@pass.spf.test",
                           from_header="<joe@dm-quar.test>")
        self.assertReply(res.eod, 250)
        d.wait_log(r"quarantined as \S+, reason=dmarc")
        self.assertNothingDelivered(d)
        held = quarantined(d, "dmarc")
        self.assertEqual(len(held), 1)
        with open(held[0], "rb") as f:
            data = f.read()
        self.assertIn(b"dmarc=fail header.from=dm-quar.test", data)

    def test_policy_none(self):
        d = self.dmarc("reject = reject; quarantine = quarantine;")
        self.assertDelivered(
            d, "joe@pass.spf.test", "<joe@dm-none.test>", "fail",
            r"from=dm-none\.test result=fail policy=none disposition=none")

    def test_subdomain_policy(self):
        d = self.dmarc("reject = reject;")
        res = self.deliver(d, "joe@sub.dm-sp.test",
                           from_header="<joe@sub.dm-sp.test>")
        self.assertReply(res.eod, 550, "5.7.1")
        d.wait_log(r"from=sub\.dm-sp\.test result=fail policy=reject "
                   r"disposition=reject .*organizational domain's record")

    def test_organizational_domain_fallback(self):
        # no record at _dmarc.x.y.dm-reject.test: dm-reject.test's
        d = self.dmarc("reject = reject;")
        res = self.deliver(d, "joe@pass.spf.test",
                           from_header="<joe@x.y.dm-reject.test>")
        self.assertReply(res.eod, 550, "5.7.1")
        d.wait_log(r"from=x\.y\.dm-reject\.test result=fail policy=reject "
                   r"disposition=reject .*organizational domain's record")
        # and relaxed alignment across the organizational domain
        self.assertDelivered(
            d, "joe@mail.dm-reject.test", "<joe@x.y.dm-reject.test>", "pass",
            r"from=x\.y\.dm-reject\.test result=pass policy=reject")

    def test_pct_zero(self):
        # p=reject; pct=0: never rejected, quarantined at most
        d = self.dmarc("reject = reject;")
        self.assertDelivered(
            d, "joe@pass.spf.test", "<joe@dm-pct.test>", "fail",
            r"policy=reject disposition=quarantine")

    def test_missing_record(self):
        d = self.dmarc("reject = reject;")
        self.assertDelivered(
            d, "joe@dm-missing.test", "<joe@dm-missing.test>", "none",
            r"from=dm-missing\.test result=none \(no DMARC record\)")

    def test_multiple_from_fields(self):
        d = self.dmarc("reject = reject;")
        res = self.deliver(d, "joe@dm-reject.test",
                           from_header="<joe@dm-reject.test>",
                           extra_headers="From: <joe@other.example>\r\n")
        self.assertReply(res.eod, 250)
        ar = self.delivered_ar(d)
        self.assertEqual(ar, ["mx.test.invalid; spf=pass "
                              "smtp.mailfrom=dm-reject.test; "
                              "dmarc=permerror"])
        d.wait_log(r"result=permerror \(several From fields")

    def test_trusted_client_not_checked(self):
        d = self.posternd(
            smtp={"trusted_networks": ["127.0.0.0/8"]},
            extra='dns { nameserver = ["127.0.0.1:%d"]; }\n'
                  'filter dmarc { reject = reject; }' % self.dns.port)
        res = self.deliver(d, "joe@pass.spf.test",
                           from_header="<joe@dm-reject.test>")
        self.assertReply(res.eod, 250)
        self.assertEqual(auth_results(d.wait_messages(1)[0]), [])
