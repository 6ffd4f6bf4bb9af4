"""nordctl's documented exit status on every path that never reaches a daemon
(0 help, 2 usage, 3 no answer), with a message on stderr. Run in the
sanitizer build too: there a leak on an early return turned every one of
these into exit 1."""
import os
import socket
import subprocess
import tempfile

from nordic_testlib import BUILD, check, finish

NORDCTL = os.path.join(BUILD, "tools", "nordctl")
TMP = tempfile.mkdtemp(prefix="nordctl-exit-", dir=os.environ.get("TMPDIR"))
ENV = dict(os.environ)
for var in ("NORDIC_CTL", "NORDIC_SERVER_KEY", "NORDIC_CLIENT_KEY"):
    ENV.pop(var, None)


def run(*args):
    return subprocess.run([NORDCTL] + list(args), env=ENV, capture_output=True, text=True, timeout=30)


def expect(args, code, stderr_has, what):
    r = run(*args)
    check(r.returncode == code, "%s: exit %d (got %d, stderr %r)" % (what, code, r.returncode, r.stderr[-300:]))
    if stderr_has:
        check(stderr_has in r.stderr, "%s: stderr mentions %r" % (what, stderr_has))


r = run("--help")
check(r.returncode == 0 and "Usage" in r.stdout, "--help: exit 0 with usage (got %d)" % r.returncode)
expect([], 2, "Usage", "no command")
expect(["frobnicate"], 2, "unknown command", "unknown command")
expect(["--timeout"], 2, "needs a value", "option without value")
expect(["--timeout", "0", "status"], 2, "--timeout", "timeout out of range")
expect(["start", "--mass", "80"], 2, "--athlete", "start without athlete")
# A target as % of the best needs the best: nordicd has no index (METRICS.md 5.4).
expect(["start", "--athlete", "A1", "--protocol", "3x6", "--target-pct", "80"], 2,
       "nordic-station", "target-pct without best points to the station")
expect(["--ctl", "ipc://%s/absent" % TMP, "status"], 3, "no control socket", "ipc socket missing")

# A TCP port nobody answers on: no answer within the timeout.
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
ctl = "tcp://127.0.0.1:%d" % port
expect(["--ctl", ctl, "--timeout", "0.3", "status"], 3, "no answer", "nobody listening")
expect(["--ctl", ctl, "--server-key", os.path.join(TMP, "server.pub"), "status"], 2,
       "both --server-key and --client-key", "CURVE with one key only")
expect(["--ctl", ctl, "--server-key", os.path.join(TMP, "server.pub"), "--client-key",
        os.path.join(TMP, "client.key"), "status"], 2, "cannot open key file", "CURVE key files missing")
expect(["--ctl", "bogus://x", "status"], 3, "cannot connect", "unsupported transport")
finish("test_nordctl_exit")
