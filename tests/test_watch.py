"""nordic-watch as an operator sees it: in a real terminal (tmux), against a
recording nordicd on the simulated board, the screen shows the trial, both
legs' live force, the reps as they close with their peaks, the counters, and
after `stop` the trial summary; `q` quits."""
import os
import subprocess
import tempfile
import time

from nordic_testlib import BUILD, check, finish

NORDICD = os.path.join(BUILD, "daemon", "nordicd")
NORDCTL = os.path.join(BUILD, "tools", "nordctl")
WATCH = os.path.join(BUILD, "tools", "nordic-watch")
# A longish endpoint path, as a real runtime dir gives: the header must still
# show state, trial and athlete within the 110 columns.
TMP = tempfile.mkdtemp(prefix="watch-endpoint-path-", dir=os.environ.get("TMPDIR"))
PUB = "ipc://%s/pub" % TMP
CTL = "ipc://%s/ctl" % TMP
SESSION = "nordic-watch-test-%d" % os.getpid()


def tmux(*args):
    return subprocess.run(["tmux"] + list(args), capture_output=True, text=True, timeout=20)


def screen():
    return tmux("capture-pane", "-p", "-t", SESSION).stdout


def wait_for(text, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        s = screen()
        if text in s:
            return s
        time.sleep(0.2)
    return screen()


def ctl(*args):
    return subprocess.run([NORDCTL, "--ctl", CTL] + list(args), capture_output=True, text=True, timeout=30)


daemon = subprocess.Popen([NORDICD, "--state-dir", TMP, "--pub", PUB, "--ctl", CTL, "--log-level", "warning",
                           "--device", "sim:?rate=1000&reps=0&unloaded=3&lead=1&rest=1&rise=1.5&peak_left=400&peak_right=300"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
try:
    for _ in range(100):
        if ctl("status").returncode == 0:
            break
        time.sleep(0.1)
    check(ctl("tare").returncode == 0, "tare")
    check(ctl("start", "--athlete", "W7", "--mass", "80", "--lever", "0.45").returncode == 0, "start")
    r = tmux("new-session", "-d", "-s", SESSION, "-x", "110", "-y", "40",
             "env", "LANG=C.UTF-8", WATCH, "--pub", PUB)
    check(r.returncode == 0, "tmux session starts: %s" % r.stderr)
    s = wait_for("recording", 10)
    check("W7" in s, "athlete shown:\n" + s)
    check("LEFT" in s and "RIGHT" in s, "a bar per leg")
    s = wait_for("   1 ", 20)  # the first rep's row
    check(any(line.strip().startswith("1 ") for line in s.splitlines()), "rep 1 listed:\n" + s)
    check("gaps 0" in s, "counters shown")
    stop = ctl("stop")
    check(stop.returncode == 0, "stop")
    s = wait_for("imbalance", 10)
    check("imbalance" in s, "summary with the imbalance flag (left 33 % stronger):\n" + s)
    tmux("send-keys", "-t", SESSION, "q")
    time.sleep(1.0)
    check(tmux("has-session", "-t", SESSION).returncode != 0, "q quits")
finally:
    tmux("kill-session", "-t", SESSION)
    daemon.terminate()
    daemon.wait(timeout=30)
finish("test_watch")
