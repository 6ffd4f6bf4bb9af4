"""A reload made while a trial records applies at the stop itself
(issue 17, point 7): SIGHUP with a new [metrics] on_N during a trial, then
`stop` and at once `start`: the new trial's file (read with h5py) records the
new on_N, five times in a row with a different value each time. The old code
applied the deferred settings from a 100 ms poll, so a start right after the
stop kept the old value."""
import os
import signal
import tempfile

import h5py

from daemon_harness import Daemon, wait_for
from nordic_testlib import check, finish

TMP = tempfile.mkdtemp(prefix="reloadstop-", dir=os.environ.get("TMPDIR"))
CONF = os.path.join(TMP, "nordicd.conf")


def write_conf(on_n):
    with open(CONF, "w") as f:
        f.write("[metrics]\non_N = %g\noff_N = 40\n" % on_n)


def file_on_n(path):
    with h5py.File(path, "r") as h:
        return float(h.attrs["rep_on_N"])


write_conf(100)
d = Daemon(TMP, "sim:?rate=1000&reps=0", args=["-c", CONF])
try:
    check(wait_for(lambda: d.status().get("rate_hz")), "the board described itself")
    r = d.ask({"cmd": "start", "athlete_id": "R0"})
    check(r["ok"], "first trial starts: %r" % r)
    started = []
    for i, on_n in enumerate([111, 122, 133, 144, 155]):
        write_conf(on_n)
        marker = d.text().count("metric settings apply when it stops")
        d.proc.send_signal(signal.SIGHUP)
        check(wait_for(lambda: d.text().count("metric settings apply when it stops") > marker, 10),
              "reload %d was deferred to the stop" % i)
        stop = d.ask({"cmd": "stop"})
        start = d.ask({"cmd": "start", "athlete_id": "R%d" % (i + 1)})
        check(stop["ok"] and start["ok"], "stop then start at once: %r %r" % (stop, start))
        if start["ok"]:
            started.append((start["file"], on_n))
    check(d.ask({"cmd": "stop"})["ok"], "last trial stops")
    for i, (path, on_n) in enumerate(started):
        got = file_on_n(path)
        check(got == on_n, "trial %d started right after stop uses the reloaded on_N %g (file has %g)"
              % (i + 1, on_n, got))
    cfg = d.ask({"cmd": "config"})
    check(cfg["ok"] and cfg["config"]["on_N"] == 155, "config shows the last reload: %r" % cfg)
finally:
    check(d.stop() == 0, "nordicd exits 0")
finish("test_reload_at_stop")
