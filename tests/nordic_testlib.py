"""Shared bits of the Python tests: where the build is, and a check() that
records failures and carries on, closing with the "N passed, N failed" line
CI reads."""
import os
import sys

BUILD = os.environ.get("NORDIC_BUILD_DIR", "")
SOURCE = os.environ.get("NORDIC_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

failures = []
_passed = [0]


def check(cond, what):
    """Record one assertion; a failure is printed and the test goes on."""
    if cond:
        _passed[0] += 1
    else:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return bool(cond)


def passed():
    return _passed[0]


def finish(name):
    """Print the closing line and exit with the test's status."""
    print("%s: %d passed, %d failed" % (name, _passed[0], len(failures)))
    sys.exit(1 if failures or _passed[0] == 0 else 0)
