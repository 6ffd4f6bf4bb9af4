"""kill -9 of a recording nordicd at 20 random moments: after the project's
own recovery (`nordic-trial recover` and nordicd's start-up scan) every file
opens in plain h5py, is marked interrupted, holds a contiguous run of samples
from the trial's first set, and holds at least every sample that arrived more
than the flush interval before the kill."""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
from nordic_testlib import check, finish

BUILD = os.environ["NORDIC_BUILD_DIR"]
NORDICD = os.path.join(BUILD, "daemon", "nordicd")
TRIAL_TOOL = os.path.join(BUILD, "tools", "nordic-trial")
TMP = tempfile.mkdtemp(prefix="crash-", dir=os.environ.get("TMPDIR"))
RATE = 2000
FLUSH_S = 0.25
RUNS = 20
rng = random.Random(int(os.environ.get("NORDIC_CRASH_SEED", "20261125")))


data = os.path.join(TMP, "trials")
state = os.path.join(TMP, "state")
os.makedirs(data)
os.makedirs(state)
common = ["--state-dir", state, "--data-dir", data, "--ctl", "ipc://%s/ctl" % state,
          "--pub", "ipc://%s/pub" % state, "--log-level", "warning"]
bounds = {}
for run in range(RUNS):
    before = set(os.listdir(data))
    p = subprocess.Popen([NORDICD] + common + [
        "--device", "sim:?rate=%d&reps=0&seed=%d" % (RATE, run), "--record", "K%02d" % run],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    new = []
    deadline = time.time() + 20
    while time.time() < deadline and not new:
        new = [f for f in os.listdir(data) if f not in before and f.endswith(".h5")]
        time.sleep(0.01)
    t_file = time.time()
    # The stream started before the file existed, so samples older than
    # (kill - t_file - flush) seconds certainly arrived before the kill.
    delay = rng.uniform(0.05, 2.0)
    time.sleep(delay)
    t_kill = time.time()
    p.send_signal(signal.SIGKILL)
    p.wait()
    p.stderr.close()
    check(len(new) == 1, "run %d: one file appeared" % run)
    if new:
        bounds[new[0]] = max(0, int((t_kill - t_file - FLUSH_S - 0.05) * RATE))

# Each nordicd start recovers what the previous run left (the last file is
# left for this start); the recovery tool then has nothing left to do and is
# harmless to run again.
names = sorted(bounds)
p = subprocess.Popen([NORDICD] + common + ["--log-level", "notice", "--device", "sim:?rate=100"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
time.sleep(2.0)
p.send_signal(signal.SIGTERM)
_, err = p.communicate(timeout=60)
check(p.returncode == 0, "nordicd starts and stops cleanly after crashes")
check("1 trial(s) recovered and marked interrupted" in err,
      "nordicd reports the recovered trials: %s" % err[-800:])
r = subprocess.run([TRIAL_TOOL, "recover", data], capture_output=True, text=True, timeout=120)
check(r.returncode == 0, "nordic-trial recover exits 0 (%s)" % r.stderr[-500:])

for name in names:
    path = os.path.join(data, name)
    try:
        with h5py.File(path, "r") as h:
            status = h.attrs.get("status")
            if isinstance(status, bytes):
                status = status.decode()
            seq = h["samples/seq"][:]
            raw = h["samples/raw"][:]
            force = h["samples/force_N"][:]
            kinds = [k.decode() if isinstance(k, bytes) else k for k in h["events"]["kind"]]
    except Exception as e:  # noqa: BLE001 - any failure to open is the bug we test for
        check(False, "%s opens after recovery: %s" % (name, e))
        continue
    check(status == "interrupted", "%s marked interrupted (%r)" % (name, status))
    check("interrupted" in kinds, "%s has an interrupted event" % name)
    check(len(seq) == len(raw) == len(force), "%s datasets agree in length" % name)
    check(len(seq) == 0 or (seq[0] == 0 and np.all(np.diff(seq.astype(np.int64)) == 1)),
          "%s: contiguous seq from the first set" % name)
    check(len(seq) >= bounds[name],
          "%s: %d samples >= %d older than the flush interval" % (name, len(seq), bounds[name]))

finish("test_daemon_crash")
