#!/usr/bin/env python3
"""Differential test of `postern mime --json` against Python's email package.

    differential.py [options] [POSTERN] [NAME-SUBSTRING...]

POSTERN is the path of the postern binary (default: $POSTERN).  For every
tests/data/mime/*.eml (or only those whose name contains one of the
substrings) both parsers read the message; the part trees are compared
part by part on type, depth, size, sha256 and filename.  Each message
also has NAME.expect.json, what a rule must see; those checks run against
postern's output (see make_corpus.py for the keys).

One line per message, PASS, FAIL or EXPECTED-DIFF (a difference listed in
expected_differences.json, with its reason); WARN lines for "should see"
expectations that are not met; at the end a line per category and exactly
"N passed, N failed" (EXPECTED-DIFF counts as passed).  Exit status 1 when
anything failed.

Options:
  --python-only   print Python's view of every message (no postern needed)
                  and check the expectations that Python can be held to
  --show          print both part trees side by side for each message
  --corpus DIR    the corpus directory (default tests/data/mime)

Python only, standard library only.

Which entry point: email.message_from_bytes() on the file's bytes (see
python_view() for why not message_from_binary_file()).

Which policy: email.policy.default, not compat32.  Both share the MIME
structure code (feedparser, walk(), get_payload(decode=True)), so tree,
type, size and sha256 do not depend on the choice.  They differ in header
values: compat32 returns parameter values raw, so an Outlook-style
filename="=?utf-8?B?...?=" comes back as the encoded word, while default
decodes RFC 2047 words and RFC 6532 UTF-8 the way mail clients show the
name to the user.  The parser under test is specified to decode both, so
default is the comparable reference; compat32 would turn every such
message into a difference that says nothing.  (default has its own
quirks, e.g. it drops an unquoted encoded-word parameter value; those are
listed in expected_differences.json.)
"""

import email
import email.policy
import hashlib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.normpath(os.path.join(HERE, "..", "data", "mime"))
EXPECTED_FILE = os.path.join(HERE, "expected_differences.json")
POSTERN_TIMEOUT = 60
FIELDS = ("type", "depth", "size", "sha256", "filename")

# ---------------------------------------------------------------------------
# Python's view


def py_walk(msg, depth=0):
    """Message.walk() with the depth of each part."""
    yield depth, msg
    if msg.is_multipart():
        for sub in msg.get_payload():
            yield from py_walk(sub, depth + 1)


def guard(fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # the reference must not stop the run
        return "<python error: %s: %s>" % (type(e).__name__, e)


def py_encoding(p):
    v = p.get("content-transfer-encoding")
    return str(v).strip().lower() if v is not None else None


def py_decoded(p):
    # Containers have no content of their own.  A multipart that could not
    # be split (no boundary, no delimiter) is a leaf in both parsers, and
    # its body is content a rule must be able to see, so it is compared.
    if p.is_multipart():
        return None
    data = p.get_payload(decode=True)
    if data is None:
        return None
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return data


def python_view(path):
    """The part list of one message as Python's email package sees it,
    in the shape of postern's JSON."""
    with open(path, "rb") as f:
        raw = f.read()
    # Not message_from_binary_file(): it reads through a TextIOWrapper in
    # universal-newline mode, which rewrites every CRLF and lone CR to LF
    # before the parser sees them, so CRLF text and binary content would
    # come out with sizes and hashes of a different message.
    # message_from_bytes() is the same parser on the bytes as they are.
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = []
    for depth, p in py_walk(msg):
        data = guard(py_decoded, p)
        if isinstance(data, str):
            size = digest = data
        elif data is None:
            size = digest = None
        else:
            size, digest = len(data), hashlib.sha256(data).hexdigest()
        parts.append({
            "depth": depth,
            "type": guard(p.get_content_type),
            "charset": guard(p.get_content_charset),
            "encoding": guard(py_encoding, p),
            "disposition": guard(p.get_content_disposition),
            "filename": guard(p.get_filename),
            "size": size,
            "sha256": digest,
        })
    defects = sorted({type(d).__name__ for _, p in py_walk(msg)
                      for d in p.defects})
    return {"defects": defects, "parts": parts}


# ---------------------------------------------------------------------------
# postern's view


def postern_view(postern, path):
    """(view, error): postern's JSON, or why there is none."""
    try:
        r = subprocess.run([postern, "mime", "--json", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=POSTERN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "postern ran longer than %ds" % POSTERN_TIMEOUT
    err = r.stderr.decode("utf-8", "replace").strip()
    if r.returncode < 0:
        return None, "postern killed by signal %d: %s" % (-r.returncode,
                                                         err[:300])
    # Malformed input is data, not an error: postern exits 0 for every
    # message.  Anything else (a sanitizer report, say) is a failure.
    if r.returncode != 0 or "Sanitizer" in err or "runtime error" in err:
        return None, "postern exit %d: %s" % (r.returncode, err[:300])
    try:
        view = json.loads(r.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return None, "postern printed no JSON (%s) %s" % (e, err[:300])
    if (not isinstance(view, dict) or
            not isinstance(view.get("parts"), list) or
            not isinstance(view.get("defects"), list)):
        return None, "postern JSON lacks 'parts' or 'defects'"
    for i, p in enumerate(view["parts"] + (view.get("synthetic") or [])):
        bad = schema_error(p)
        if bad:
            return None, "postern JSON part %d: %s" % (i, bad)
    return view, None


KEYS = ("depth", "type", "charset", "encoding", "disposition", "filename",
        "filenames", "size", "sha256")


def schema_error(p):
    """What is wrong with one part object of the fixed JSON format."""
    if not isinstance(p, dict):
        return "not an object"
    missing = [k for k in KEYS if k not in p]
    if missing:
        return "missing %s" % ", ".join(missing)
    if not isinstance(p["depth"], int) or p["depth"] < 0:
        return "bad depth"
    t = p["type"]
    if not isinstance(t, str) or t != t.lower() or t.count("/") != 1:
        return "type %r is not a lower-case type/subtype" % (t,)
    if not isinstance(p["filenames"], list):
        return "filenames is not a list"
    if (p["size"] is None) != (p["sha256"] is None):
        return "size and sha256 must both be null or both be set"
    if p["sha256"] is not None and not (
            isinstance(p["sha256"], str) and len(p["sha256"]) == 64 and
            all(c in "0123456789abcdef" for c in p["sha256"])):
        return "sha256 is not 64 lower-case hex digits"
    return None


def embedded_errors(parts):
    """The format gives message/rfc822 and message/global exactly one
    child, the embedded message."""
    errs = []
    for i, p in enumerate(parts):
        if p["type"] not in ("message/rfc822", "message/global"):
            continue
        kids = 0
        for q in parts[i + 1:]:
            if q["depth"] <= p["depth"]:
                break
            kids += q["depth"] == p["depth"] + 1
        if kids != 1:
            errs.append("part %d (%s) has %d children, the format says "
                        "exactly one" % (i, p["type"], kids))
    return errs


def split_uuencoded(parts):
    """Files found uuencoded inside a text part are parts Python's walk()
    does not have.  postern lists them apart, under "synthetic"; should
    they ever appear in "parts" as children of the text part, they are
    recognised here: a leaf is never followed by a deeper part in Python's
    pre-order, so any part deeper than the leaf before it is one of those,
    and is set aside (its filenames still count for the must-see
    checks)."""
    main, extra = [], []
    leaf_depth = None
    for p in parts:
        d = p.get("depth")
        if leaf_depth is not None and isinstance(d, int) and d > leaf_depth:
            extra.append(p)
            continue
        main.append(p)
        t = str(p.get("type") or "")
        leaf = not (t.startswith("multipart/") or t.startswith("message/"))
        leaf_depth = d if leaf else None
    return main, extra


# ---------------------------------------------------------------------------
# Comparing


def compare(pv, yv):
    """Differences between postern's part list and Python's:
    [(index, field, postern value, python value)]."""
    diffs = []
    for i, (a, b) in enumerate(zip(pv, yv)):
        for f in FIELDS:
            if a.get(f) != b.get(f):
                diffs.append((i, f, a.get(f), b.get(f)))
    if len(pv) != len(yv):
        diffs.append((min(len(pv), len(yv)), "parts", len(pv), len(yv)))
    return diffs


def win_norm(name):
    """A filename as Windows would store it: no trailing dots or spaces."""
    return name.rstrip(". ") if isinstance(name, str) else name


def seen_filenames(parts):
    names = set()
    for p in parts:
        for n in (p.get("filenames") or []) + [p.get("filename")]:
            if isinstance(n, str):
                names.add(win_norm(n))
    return names


def check_expect(exp, parts, defects):
    """(failures, warnings) of one expect.json against a part list."""
    fails, warns = [], []
    names = seen_filenames(parts)

    def seen(want):
        alts = want if isinstance(want, list) else [want]
        return any(win_norm(a) in names for a in alts)

    for want in exp.get("must_see_filenames", []):
        if not seen(want):
            fails.append("must see filename %s" % json.dumps(want))
    for want in exp.get("should_see_filenames", []):
        if not seen(want):
            warns.append("should see filename %s" % json.dumps(want))
    types = {p.get("type") for p in parts}
    for want in exp.get("must_see_types", []):
        if want not in types:
            fails.append("must see type %s" % want)
    hashes = {p.get("sha256") for p in parts}
    for want in exp.get("must_see_sha256", []):
        if want not in hashes:
            fails.append("must see content sha256 %s..." % want[:16])
    limit = any(str(d).startswith("limit_") for d in defects)
    if exp.get("must_see_unless_limit") and limit:
        fails = []
    if exp.get("must_have_defects") == "limit" and not limit:
        fails.append("must report a limit_* defect")
    elif exp.get("must_have_defects") and not defects:
        fails.append("must report a defect")
    if len(parts) < exp.get("min_parts", 0):
        fails.append("at least %d parts, has %d" % (exp["min_parts"],
                                                     len(parts)))
    return fails, warns


def expected_fields(entry):
    f = entry.get("field")
    return set(f if isinstance(f, list) else [f])


def short(v, n=70):
    s = json.dumps(v, ensure_ascii=True)
    return s if len(s) <= n else s[:n - 3] + "..."


def show_tree(label, parts):
    print("    %s:" % label)
    for i, p in enumerate(parts[:60]):
        print("      %3d %s%s size=%s sha=%s fn=%s fns=%s" % (
            i, "  " * min(int(p.get("depth") or 0), 20), p.get("type"),
            p.get("size"), str(p.get("sha256"))[:12],
            short(p.get("filename"), 40), short(p.get("filenames"), 60)))
    if len(parts) > 60:
        print("      ... %d parts" % len(parts))


# ---------------------------------------------------------------------------


def load_expect(path):
    try:
        with open(path[:-4] + ".expect.json", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def python_only(files, show):
    ok = bad = 0
    for path in files:
        name = os.path.basename(path)[:-4]
        try:
            yv = python_view(path)
        except Exception as e:
            print("FAIL %s: python: %s: %s" % (name, type(e).__name__, e))
            bad += 1
            continue
        ok += 1
        exp = load_expect(path)
        # Python keeps one filename per part, so only the chosen names
        # can be checked here; misses are informational.
        fails, warns = check_expect(exp, yv["parts"], yv["defects"])
        print("OK   %s: %d parts%s" % (name, len(yv["parts"]), "".join(
            "; python misses: " + m for m in fails)))
        if yv["defects"]:
            print("     python defects: %s" % ", ".join(yv["defects"]))
        for i, p in enumerate(yv["parts"]):
            if not show and i >= 40:
                print("     ... %d parts" % len(yv["parts"]))
                break
            print("     %s%s cs=%s enc=%s disp=%s fn=%s size=%s sha=%s" % (
                "  " * min(p["depth"], 20), p["type"], p["charset"],
                p["encoding"], p["disposition"], short(p["filename"], 50),
                p["size"], str(p["sha256"])[:12]))
    print("%d passed, %d failed" % (ok, bad))
    return bad == 0


def differential(postern, files, show):
    try:
        with open(EXPECTED_FILE, encoding="utf-8") as f:
            expected = json.load(f)
    except FileNotFoundError:
        expected = {}
    for key in sorted(expected):
        if not key.startswith("_") and not os.path.exists(
                os.path.join(os.path.dirname(files[0]), key + ".eml")):
            print("WARN expected_differences.json: no message %s" % key)
    stats = {}
    passed = failed = 0
    for path in files:
        name = os.path.basename(path)[:-4]
        cat = name.split("-", 1)[0]
        st = stats.setdefault(cat, [0, 0, 0])
        exp = load_expect(path)
        pv, err = postern_view(postern, path)
        try:
            yv = python_view(path)
        except Exception as e:
            yv, yerr = None, "%s: %s" % (type(e).__name__, e)
        problems, warns, diffs = [], [], []
        if err:
            problems.append(err)
        else:
            main, _ = split_uuencoded(pv["parts"])
            synthetic = pv.get("synthetic") or []
            fails, warns = check_expect(exp, pv["parts"] + synthetic,
                                        pv["defects"])
            problems += fails
            # Past a limit the tree is cut short by design.
            if not any(str(d).startswith("limit_") for d in pv["defects"]):
                problems += embedded_errors(pv["parts"])
            if yv is None:
                problems.append("python failed: " + yerr)
            else:
                diffs = compare(main, yv["parts"])
        entry = expected.get(name)
        unexpected = diffs
        if entry and diffs:
            allowed = expected_fields(entry)
            if "tree" not in allowed:
                unexpected = [d for d in diffs if d[1] not in allowed]
            else:
                unexpected = []
        if problems or unexpected:
            status = "FAIL"
            failed += 1
            st[2] += 1
        elif diffs:
            status = "EXPECTED-DIFF"
            passed += 1
            st[1] += 1
        else:
            status = "PASS"
            passed += 1
            st[0] += 1
        line = "%s %s" % (status, name)
        if status == "EXPECTED-DIFF":
            line += ": %s (%s)" % ("/".join(sorted(expected_fields(entry))),
                                   entry.get("reason", ""))
        elif status == "PASS" and entry:
            line += " (listed in expected_differences.json, no difference)"
        print(line)
        for p in problems:
            print("    %s" % p)
        for i, f, a, b in unexpected[:8]:
            print("    part %d %s: postern %s, python %s" % (i, f, short(a),
                                                            short(b)))
        if len(unexpected) > 8:
            print("    ... %d more differences" % (len(unexpected) - 8))
        for w in warns:
            print("WARN %s: %s" % (name, w))
        if show and pv is not None and yv is not None:
            show_tree("postern", pv["parts"])
            show_tree("python", yv["parts"])
    for cat in sorted(stats):
        p, e, f = stats[cat]
        print("# %s: %d/%d passed (%d pass, %d expected-diff), %d failed" % (
            cat, p + e, p + e + f, p, e, f))
    print("%d passed, %d failed" % (passed, failed))
    return failed == 0


def main(argv):
    args = list(argv)
    only = "--python-only" in args
    show = "--show" in args
    args = [a for a in args if a not in ("--python-only", "--show")]
    corpus = DEFAULT_CORPUS
    if "--corpus" in args:
        i = args.index("--corpus")
        corpus = args[i + 1]
        del args[i:i + 2]
    postern = os.environ.get("POSTERN")
    if not only:
        # The first argument is the binary when it names a file;
        # otherwise every argument is a name filter.
        if args and os.path.isfile(args[0]):
            postern = args.pop(0)
        if not postern:
            print("usage: differential.py [--python-only] [--show] "
                  "[--corpus DIR] [POSTERN] [NAME-SUBSTRING...]",
                  file=sys.stderr)
            return 2
        postern = os.path.abspath(postern)
        if not os.access(postern, os.X_OK):
            print("differential.py: %s is not executable" % postern,
                  file=sys.stderr)
            return 2
    files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus)
                   if f.endswith(".eml") and
                   (not args or any(s in f for s in args)))
    if not files:
        print("differential.py: no messages in %s" % corpus, file=sys.stderr)
        return 2
    if only:
        return 0 if python_only(files, show) else 1
    return 0 if differential(postern, files, show) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
