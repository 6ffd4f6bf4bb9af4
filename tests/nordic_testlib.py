"""Shared bits of the Python tests: where the build is, and a check() that
records failures and carries on, closing with the "N passed, N failed" line
CI reads."""
import atexit
import os
import shutil
import stat
import sys
import tempfile

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


def prerequisite(available, what):
    """Gate a case on a prerequisite (root, a tool, a mount, the install
    prefix). True: run it. Missing: a printed SKIP on a developer machine, but
    a failed check naming it when CI is set, so CI never passes by skipping."""
    if available:
        return True
    if os.environ.get("CI"):
        check(False, "prerequisite missing under CI: %s" % what)
    else:
        print("SKIP: %s" % what)
    return False


def passed():
    return _passed[0]


def finish(name):
    """Print the closing line and exit with the test's status."""
    print("%s: %d passed, %d failed" % (name, _passed[0], len(failures)))
    sys.exit(1 if failures or _passed[0] == 0 else 0)


def reachable_by_others(path):
    """Whether every directory from / down to path lets others search it, so a
    process that dropped to nobody reaches it (a Debian 12 home is 0700)."""
    path = os.path.realpath(path)
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts) + 1):
        d = "/" + "/".join(parts[:i])
        try:
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def tmpdir_for_nobody(prefix):
    """A fresh 0755 directory that nobody can reach: under $TMPDIR when that
    is reachable, else under /tmp (removed at exit)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    fallback = not reachable_by_others(base)
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp" if fallback else base)
    os.chmod(d, 0o755)
    if fallback:
        atexit.register(shutil.rmtree, d, True)
    return d
