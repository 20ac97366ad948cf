"""Runs the integration test modules (test_*.py next to this file).

    python3 runner.py POSTERND [SUBSTRING...]

Prints one line per test (PASS/FAIL/ERROR/SKIP, with its time), the
failure text and the tail of the daemons' logs for each failed test, and
at the end a line "N skipped" (when any) and exactly "N passed, N failed".
Exit status 1 when anything failed.  A test that runs longer than
TEST_TIMEOUT seconds is interrupted and counted as failed.  Called by
run.sh inside a private network namespace; not meant to run outside one.
"""

import atexit
import os
import shutil
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_TIMEOUT = 120


class TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout("test ran longer than %ds" % TEST_TIMEOUT)


class Result(unittest.TestResult):
    def __init__(self, harness):
        super().__init__()
        self.harness = harness
        self.passed = 0
        self.nskipped = 0
        self.failed_ids = set()

    def startTest(self, test):
        super().startTest(test)
        del self.harness.ARTIFACTS[:]
        self.t0 = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)

    def stopTest(self, test):
        signal.setitimer(signal.ITIMER_REAL, 0)
        super().stopTest(test)

    def _line(self, word, test, extra=""):
        dt = time.monotonic() - getattr(self, "t0", time.monotonic())
        print("%-5s %s (%.2fs)%s" % (word, test.id(), dt, extra), flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        self._line("PASS", test)

    @property
    def nfailed(self):
        return len(self.failed_ids)

    def _bad(self, word, test, err, test_id=None):
        # A test counts once however many of its subtests failed.
        self.failed_ids.add(test_id or test.id())
        self._line(word, test)
        text = self._exc_info_to_string(err, test)
        for ln in text.rstrip().splitlines():
            print("    " + ln)
        for label, path in self.harness.ARTIFACTS:
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            print("    --- %s (%s), last %d lines:"
                  % (label, path, min(25, len(lines))))
            for ln in lines[-25:]:
                print("    | " + ln)
        sys.stdout.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._bad("FAIL", test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._bad("ERROR", test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.nskipped += 1
        self._line("SKIP", test, ": " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1
        self._line("XFAIL", test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed_ids.add(test.id())
        self._line("XPASS", test)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = ("FAIL" if issubclass(err[0], test.failureException)
                    else "ERROR")
            self._bad(kind, subtest, err, test_id=test.id())


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


def main(argv):
    if len(argv) < 2:
        print("usage: runner.py POSTERND [SUBSTRING...]", file=sys.stderr)
        return 2
    posternd = os.path.abspath(argv[1])
    if not os.access(posternd, os.X_OK):
        print("runner: %s is not an executable" % posternd, file=sys.stderr)
        return 2
    os.environ["POSTERND"] = posternd
    sys.path.insert(0, HERE)
    import harness
    atexit.register(harness.kill_leftovers)
    signal.signal(signal.SIGALRM, _on_alarm)
    # Killed from outside (CI timeout): still stop the daemons we started.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

    loader = unittest.TestLoader()
    tests = list(_flatten(loader.discover(HERE, pattern="test_*.py",
                                          top_level_dir=HERE)))
    want = argv[2:]
    if want:
        tests = [t for t in tests if any(w in t.id() for w in want)]
    if not tests:
        print("runner: no tests selected")
        print("0 passed, 1 failed")
        return 1

    print("posternd: %s; work dir: %s" % (posternd, harness.suite_dir()),
          flush=True)
    result = Result(harness)
    t0 = time.monotonic()
    try:
        unittest.TestSuite(tests).run(result)
    finally:
        harness.kill_leftovers()
    dt = time.monotonic() - t0
    if result.nskipped:
        print("%d skipped" % result.nskipped)
    print("time: %.1fs" % dt)
    if result.nfailed == 0 and not os.environ.get("POSTERN_IT_KEEP"):
        shutil.rmtree(harness.suite_dir(), ignore_errors=True)
    else:
        print("work dir kept: %s" % harness.suite_dir())
    print("%d passed, %d failed" % (result.passed, result.nfailed))
    return 1 if result.nfailed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
