"""nordicd end to end, as a user runs it: bad command lines and configs give
one clear line and a non-zero exit; a simulated trial recorded from the
command line lands in an HDF5 file whose samples, reps and summary h5py reads
back; SIGTERM mid-trial closes the trial cleanly."""
import os
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
TMP = tempfile.mkdtemp(prefix="nordicd-", dir=os.environ.get("TMPDIR"))


def base_args(name):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    return d, ["--state-dir", d, "--data-dir", d, "--ctl", "ipc://%s/ctl" % d,
               "--pub", "ipc://%s/pub" % d]


def run(args, timeout=60):
    return subprocess.run([NORDICD] + args, capture_output=True, text=True, timeout=timeout)


def bad_input(args, needle, what):
    d, common = base_args("bad")
    r = run(common + args, timeout=20)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode != 0, "%s: non-zero exit (got %d)" % (what, r.returncode))
    check(any(needle in l for l in lines), "%s: a line naming %r in %r" % (what, needle, r.stderr))
    check("Sanitizer" not in r.stderr and "Segmentation" not in r.stderr, "%s: no crash" % what)


# --- bad input: one clear line, non-zero exit, never a crash ---------------
bad_input(["--device", "bogus:x"], "bogus", "unknown driver")
bad_input(["--device", "no-colon-here"], "no-colon-here", "malformed URI")
bad_input(["--device", "sim:?rate=fast"], "rate", "bad sim option value")
bad_input(["--device", "sim:?rate=1000000000"], "rate", "sim rate out of range")
bad_input(["--device", "sim:?colour=blue"], "colour", "unknown sim option")
bad_input(["--device", "tcp:"], "tcp", "tcp without host")
bad_input(["--device", "file:/nonexistent/capture.bin"], "/nonexistent/capture.bin", "missing capture file")
bad_input(["--frobnicate"], "frobnicate", "unknown option")
bad_input(["--config", "/nonexistent/nordicd.conf"], "/nonexistent/nordicd.conf", "unreadable config")
cfg = os.path.join(TMP, "bad.conf")
with open(cfg, "w") as f:
    f.write("[metrics]\non_N = -5\n")
bad_input(["--config", cfg], "on_N", "bad config value")
with open(cfg, "w") as f:
    f.write("[daemon]\nwhat = 1\n")
bad_input(["--config", cfg], "what", "unknown config key")
bad_input(["--log-level", "loud"], "loud", "bad log level")
bad_input(["--record", "../etc", "--device", "sim:?pace=0&reps=1"], "athlete id", "bad athlete id")
bad_input(["--mass", "-3"], "--mass", "negative body mass")
bad_input(["--pub", "tcp://0.0.0.0:5999"], "CURVE", "non-loopback publish without keys")
ro = os.path.join(TMP, "readonly")
os.makedirs(ro, exist_ok=True)
os.chmod(ro, 0o500)
if os.geteuid() != 0:  # root writes anywhere; use a path that cannot be a directory instead
    bad_input(["--data-dir", ro], ro, "unwritable data dir")
bad_input(["--data-dir", "/proc/nordicd-trials"], "/proc/nordicd-trials", "uncreatable data dir")

r = run(["--help"])
check(r.returncode == 0 and "--device" in r.stdout, "--help")
r = run(["--version"])
check(r.returncode == 0 and r.stdout.startswith("nordicd "), "--version")
r = run(["--check-config", "--device", "sim:?rate=500"])
check(r.returncode == 0 and "device = sim:?rate=500" in r.stdout, "--check-config prints")
r = run(["--list-devices"])
check(r.returncode == 0 and "sim" in r.stdout and "tcp" in r.stdout, "--list-devices")

# --- a trial from the command line on the simulated board -----------------
d, common = base_args("record")
r = run(common + ["--device", "sim:?pace=0&rate=1000&reps=4&rest=2&peak_left=350&peak_right=280&seed=7",
                  "--record", "A17", "--tare", "--mass", "80", "--lever", "0.45", "--injured", "right",
                  "--notes", "quick start"], timeout=120)
check(r.returncode == 0, "record run exits 0 (stderr: %s)" % r.stderr[-2000:])
files = [f for f in os.listdir(d) if f.endswith(".h5")]
check(len(files) == 1, "one trial file (got %r)" % files)
check("4 reps" in r.stdout, "summary printed with 4 reps: %r" % r.stdout)
if files:
    path = os.path.join(d, files[0])
    check(files[0].startswith("A17_") and len(files[0].split("_")) == 3, "file name pattern")
    check(oct(os.stat(path).st_mode & 0o777) == "0o640", "file mode 0640")
    with h5py.File(path, "r") as h:
        check(h.attrs["schema"] in ("nordic-trial", b"nordic-trial"), "schema attr")
        seq = h["samples/seq"][:]
        raw = h["samples/raw"][:]
        force = h["samples/force_N"][:]
        check(len(seq) > 10000, "samples stored (%d)" % len(seq))
        check(np.all(np.diff(seq.astype(np.int64)) == 1), "contiguous seq: nothing lost")
        check(raw.shape[1] == 2 and force.shape == raw.shape, "two channels")
        reps = h["reps"][:]
        check(len(reps) == 4, "4 rep rows (got %d)" % len(reps))
        if len(reps):
            check(np.all(reps["peak_left_N"] > reps["peak_right_N"]), "left stronger in every rep")
            check(np.all(reps["asymmetry_pct"] > 10) and np.all(reps["asymmetry_pct"] < 30),
                  "asymmetry about 20 %%: %r" % reps["asymmetry_pct"])
            check(abs(float(np.mean(reps["peak_left_N"])) - 350) < 35, "left peaks near 350 N")
        status = h.attrs.get("status")
        check(status in ("complete", b"complete"), "file marked complete (%r)" % status)

# --- SIGTERM mid-trial: the trial is closed cleanly ------------------------
d, common = base_args("sigterm")
p = subprocess.Popen([NORDICD] + common + ["--device", "sim:?rate=2000&reps=0", "--record", "B2"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
deadline = time.time() + 20
while time.time() < deadline and not [f for f in os.listdir(d) if f.endswith(".h5")]:
    time.sleep(0.1)
time.sleep(1.5)
p.send_signal(signal.SIGTERM)
try:
    out, err = p.communicate(timeout=30)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
check(p.returncode == 0, "SIGTERM: exit 0 (%s)" % err[-1500:])
check("device: model nordic-sim" in err, "logs the device description")
files = [f for f in os.listdir(d) if f.endswith(".h5")]
check(len(files) == 1, "SIGTERM: one file")
if files:
    with h5py.File(os.path.join(d, files[0]), "r") as h:
        n = len(h["samples/seq"])
        check(n >= 2000, "SIGTERM: at least 1 s of samples (%d)" % n)
        check(h.attrs.get("status") in ("complete", b"complete"), "SIGTERM: file complete")

# --- disk full (RLIMIT_FSIZE): the file stops, metrics go on, nothing crashes --
import resource  # noqa: E402


def small_files():
    resource.setrlimit(resource.RLIMIT_FSIZE, (600000, 600000))


d, common = base_args("diskfull")
# Paced, so that flushes happen before the limit is hit (about 3 s in).
r = subprocess.run([NORDICD] + common + ["--device", "sim:?rate=5000&reps=3&lead=1&rest=1&rise=1&seed=5",
                                         "--record", "F1", "--tare"],
                   capture_output=True, text=True, timeout=120, preexec_fn=small_files)
check(r.returncode == 1, "disk full: exit 1 (trial file incomplete), got %d" % r.returncode)
check("File too large" in r.stderr,
      "disk full: the error is reported: %s" % r.stderr[-600:])
check("3 reps" in r.stdout, "disk full: metrics went on (summary): %r" % r.stdout)
files = [f for f in os.listdir(d) if f.endswith(".h5")]
check(len(files) == 1, "disk full: one file")
if files:
    tool = os.path.join(BUILD, "tools", "nordic-trial")
    rr = subprocess.run([tool, "recover", d], capture_output=True, text=True, timeout=60)
    with h5py.File(os.path.join(d, files[0]), "r") as h:
        n = len(h["samples/seq"])
        check(rr.returncode == 0, "disk full: recovery runs: %s" % rr.stderr[-300:])
        check(n > 5000, "disk full: rows up to the last flush are readable (%d)" % n)
        seq = h["samples/seq"][:]
        check(np.all(np.diff(seq.astype(np.int64)) == 1), "disk full: stored rows contiguous")

# --- a --record trial stopped by an operator over the control socket ---------
d, common = base_args("ctlstop")
p = subprocess.Popen([NORDICD] + common + ["--device", "sim:?rate=1000&reps=0", "--record", "C3"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
ctl = os.path.join(BUILD, "tools", "nordctl")
deadline = time.time() + 20
while time.time() < deadline and not [f for f in os.listdir(d) if f.endswith(".h5")]:
    time.sleep(0.1)
time.sleep(0.5)
r = subprocess.run([ctl, "--ctl", "ipc://%s/ctl" % d, "stop"], capture_output=True, text=True, timeout=30)
check(r.returncode == 0, "nordctl stop of a --record trial: %s" % r.stderr)
try:
    out, err = p.communicate(timeout=30)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
check(p.returncode == 0, "--record ends with exit 0 after an operator stop (%d): %s" % (p.returncode, err[-500:]))
check("trial " in out and "C3" in out, "--record prints the stopped trial's summary: %r" % out)

finish("test_nordicd")
