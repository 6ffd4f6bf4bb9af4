"""A trial cannot start on a board that is gone (issue 17, point 6): with the
TCP board hung up (nordicd reconnecting), `start` is refused with the reason
and no trial file appears; once the board is back, `start` works. A replay
whose stream has ended is refused the same way."""
import os
import subprocess
import tempfile
import time

from daemon_harness import DEVSIM, Daemon, free_port, wait_for
from nordic_testlib import check, finish

TMP = tempfile.mkdtemp(prefix="startgone-", dir=os.environ.get("TMPDIR"))


def board(port):
    return subprocess.Popen([DEVSIM, "--proto", "nfp", "--rate", "1000", "--out", "tcp:%d" % port],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def h5_files(d):
    return sorted(f for f in os.listdir(d) if f.endswith(".h5")) if os.path.isdir(d) else []


port = free_port()
b = board(port)
time.sleep(0.5)
d = Daemon(os.path.join(TMP, "tcp"), "tcp:127.0.0.1:%d?proto=nfp" % port)
try:
    check(wait_for(lambda: d.status().get("rate_hz")), "the board described itself")
    b.kill()
    b.wait()
    gone = wait_for(lambda: d.status()["device"]["connected"] is False, 15)
    check(gone, "status shows the board disconnected")
    r = d.ask({"cmd": "start", "athlete_id": "GONE1"})
    check(not r["ok"], "start is refused while the board is gone: %r" % r)
    err = r.get("error", "")
    check("disconnected" in err and "tcp:127.0.0.1:%d" % port in err,
          "the refusal says the board is disconnected and names it: %r" % err)
    check(h5_files(d.data_dir) == [], "no trial file was created: %r" % h5_files(d.data_dir))
    check(d.status()["state"] == "idle", "the daemon stays idle")

    b = board(port)
    check(wait_for(lambda: d.status()["device"]["connected"], 20), "the board came back")
    r = d.ask({"cmd": "start", "athlete_id": "BACK1"})
    check(r["ok"], "start works once the board is back: %r" % r)
    time.sleep(0.5)
    r = d.ask({"cmd": "stop"})
    check(r["ok"] and r["summary"]["samples"] > 0, "the trial holds samples: %r" % r)
finally:
    d.stop()
    b.kill()
    b.wait()

# A replay that has ended: the device is gone for good.
cap = os.path.join(TMP, "short.nfp")
subprocess.run([DEVSIM, "--proto", "nfp", "--rate", "1000", "--duration", "0.5", "--fast",
                "--out", "file:" + cap], check=True, stdout=subprocess.DEVNULL)
d = Daemon(os.path.join(TMP, "file"), "file:%s?proto=nfp&pace=0" % cap)
try:
    check(wait_for(lambda: "device stream ended" in d.text(), 15), "the replay ended")
    r = d.ask({"cmd": "start", "athlete_id": "ENDED1"})
    check(not r["ok"] and "ended" in r.get("error", ""),
          "start after the stream ended is refused with the reason: %r" % r)
    check(h5_files(d.data_dir) == [], "no trial file for the ended stream")
finally:
    d.stop()
finish("test_start_gone")
