#!/usr/bin/env python3
"""Run postern's SPF evaluator against the openspf.org RFC 7208 test suite.

usage: tests/spf_suite/run.py BUILD_DIR SUITE.yml [-v]

BUILD_DIR is a configured and built postern tree (libpstmail.a and
libpstutil.a); SUITE.yml is rfc7208-tests.yml, which is not part of this
repository (see README.md).  The driver next to this script is compiled
with the build's compiler and flags, the zonedata of each section is
served to it as an in-memory DNS, and each test's result (and
explanation, where the test gives one) is compared.  One line per
failing test, then "N passed, N failed"; the exit status is 1 when any
test failed.
"""

import ipaddress
import os
import re
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))


def make_vars(build_dir):
    """The configured CC and flags of the build (so that a sanitizer
    build links its own runtime)."""
    wanted = ("CC", "CFLAGS", "WARN_CFLAGS", "HARDEN_CFLAGS",
              "SAN_CFLAGS", "LDFLAGS")
    found = {}
    with open(os.path.join(build_dir, "Makefile")) as f:
        for line in f:
            m = re.match(r"^(\w+) = ?(.*)$", line.rstrip("\n"))
            if m and m.group(1) in wanted:
                found[m.group(1)] = m.group(2)
    return found


def build_driver(build_dir):
    v = make_vars(build_dir)
    out = os.path.join(build_dir, "spf_suite_driver")
    cmd = [v.get("CC", "cc")]
    for key in ("CFLAGS", "WARN_CFLAGS", "HARDEN_CFLAGS", "SAN_CFLAGS"):
        cmd += v.get(key, "").split()
    cmd += ["-I" + build_dir, "-I" + os.path.join(SRCDIR, "util"),
            "-I" + os.path.join(SRCDIR, "mail"),
            os.path.join(HERE, "spf_suite_driver.c"),
            os.path.join(build_dir, "libpstmail.a"),
            os.path.join(build_dir, "libpstutil.a"), "-o", out]
    cmd += v.get("LDFLAGS", "").split()
    cmd += [f for f in v.get("SAN_CFLAGS", "").split()
            if f.startswith("-fsanitize")]
    subprocess.run(cmd, check=True)
    return out


def hexs(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return s.hex() if s else "-"


def txt_bytes(v):
    """A TXT value: one string, or a list of character-strings that are
    joined without separator (RFC 7208 3.3)."""
    if isinstance(v, list):
        return b"".join(str(x).encode("utf-8") for x in v)
    return str(v).encode("utf-8")


def zone_lines(zonedata):
    """The RR lines of one section.  Type SPF records are served as TXT
    when the name has no TXT entry of its own (the suite's convention;
    "TXT: NONE" only suppresses that); SPF itself is never served, as
    RFC 7208 3.1 no longer uses it."""
    lines = ["ZONE"]
    for name, entries in (zonedata or {}).items():
        name = str(name)
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        for e in entries:
            if e == "TIMEOUT":
                lines.append("RR %s TIMEOUT" % hexs(name))
                continue
            (rtype, value), = e.items()
            if rtype == "SPF":
                if has_txt or value == "NONE":
                    continue
                rtype = "TXT"
            if rtype == "TXT":
                if value == "NONE":
                    continue
                lines.append("RR %s TXT %s" % (hexs(name),
                                               hexs(txt_bytes(value))))
            elif rtype in ("A", "AAAA"):
                addr = ipaddress.ip_address(str(value))
                lines.append("RR %s %s %s" % (hexs(name), rtype, addr))
            elif rtype == "MX":
                pref, host = value
                lines.append("RR %s MX %d %s" % (hexs(name), int(pref),
                                                hexs(str(host))))
            elif rtype in ("PTR", "CNAME"):
                lines.append("RR %s %s %s" % (hexs(name), rtype,
                                              hexs(str(value))))
            else:
                sys.exit("unknown record type %s at %s" % (rtype, name))
    return lines


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    verbose = "-v" in sys.argv[1:]
    if len(args) != 2:
        sys.exit(__doc__.strip().splitlines()[2])
    build_dir, suite = args
    driver = build_driver(os.path.abspath(build_dir))
    with open(suite, "rb") as f:
        sections = [d for d in yaml.safe_load_all(f) if d]

    lines, tests = [], {}
    for sec in sections:
        lines += zone_lines(sec.get("zonedata"))
        for name, t in sec["tests"].items():
            tid = "t%d" % len(tests)
            tests[tid] = (sec["description"], name, t)
            lines.append("CHECK %s %s %s %s" % (
                tid, str(t["host"]), hexs(str(t.get("helo", ""))),
                hexs(str(t.get("mailfrom", "")))))
    proc = subprocess.run([driver], input="\n".join(lines) + "\n",
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit("driver failed (exit %d)" % proc.returncode)
    if proc.stderr:
        sys.stderr.write(proc.stderr)

    got = {}
    for line in proc.stdout.splitlines():
        tid, result, exp, problem = line.split(" ")
        unhex = (lambda h: "" if h == "-"
                 else bytes.fromhex(h).decode("utf-8", "replace"))
        got[tid] = (result, unhex(exp), unhex(problem))

    passed = failed = 0
    for tid, (section, name, t) in tests.items():
        want = t["result"]
        want = want if isinstance(want, list) else [want]
        result, exp, problem = got.get(tid, ("(no answer)", "", ""))
        why = None
        if result not in want:
            why = "expected %s, got %s" % ("|".join(want), result)
        elif "explanation" in t and result == "fail" and \
                exp != str(t["explanation"]):
            why = "explanation: expected %r, got %r" % (
                str(t["explanation"]), exp)
        if why is None:
            passed += 1
            if verbose:
                print("ok   %-28s %-8s %s" % (name, t["spec"], result))
            continue
        failed += 1
        extra = " (%s)" % problem if problem else ""
        print("FAIL %s: %s [%s]: %s%s" % (section, name, t["spec"], why,
                                          extra))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
