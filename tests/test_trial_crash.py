"""Crash safety of trial files (daemon/trialfile/TRIAL_FORMAT.md): a streaming writer is SIGKILLed at 24
random moments (including during file creation); after the project's own
recovery (`nordic-trial recover`) every file opens with h5py, is marked
interrupted, and holds every sample set the writer had flushed (the writer
logs its flushed count after each flush), with exact values. Also: a SWMR
reader in another process sees the file grow while it is being written."""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

BUILD = os.environ["NORDIC_BUILD_DIR"]
WRITER = os.path.join(BUILD, "tests", "nordic-test-trial-writer")
TOOL = os.path.join(BUILD, "tools", "nordic-trial")
INTERVAL = 0.1
KILLS = 24
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def expected(n, nch):
    i = np.arange(n, dtype=np.uint64)
    seq = i + np.uint64(3) * (i // np.uint64(5000))
    raw = np.empty((n, nch), dtype=np.int32)
    for ch in range(nch):
        raw[:, ch] = ((i * np.uint64(7919) + np.uint64(ch * 104729)) % np.uint64(2000003)
                      ).astype(np.int64) - 1000000
    force = (raw.astype(np.float64) - (100.0 * np.arange(nch) + 12.5)) * (
        0.001 * (np.arange(nch) + 1))
    return raw, force, seq


def last_flushed(progress):
    try:
        with open(progress) as fh:
            lines = [l for l in fh.read().split("\n") if l.strip()]
    except FileNotFoundError:
        return 0, 0
    return (int(lines[-1]) if lines else 0), len(lines)


def start_writer(d, nch, progress):
    return subprocess.Popen([WRITER, "stream", d, str(nch), str(INTERVAL), progress],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def crash_run(tmp, k, delay, nch):
    d = os.path.join(tmp, "run%02d" % k)
    os.mkdir(d)
    progress = os.path.join(tmp, "run%02d.progress" % k)
    p = start_writer(d, nch, progress)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()
    flushed, nflushes = last_flushed(progress)
    r = subprocess.run([TOOL, "recover", d], capture_output=True, text=True)
    check(r.returncode == 0, "run %d: recover exit %d: %s %s" % (k, r.returncode, r.stdout,
                                                               r.stderr))
    names = sorted(os.listdir(d))
    check(not any(n.endswith(".partial") for n in names), "run %d: partial left: %r" % (k, names))
    if not names:
        # Killed while the file was being created: nothing was recorded yet.
        check(flushed == 0, "run %d: no file but %d rows flushed" % (k, flushed))
        return "none", 0, 0
    check(len(names) == 1, "run %d: files %r" % (k, names))
    path = os.path.join(d, names[0])
    with h5py.File(path, "r") as f:
        status = f.attrs["status"]
        n = f["samples/seq"].shape[0]
        check(status == "interrupted", "run %d: status %r" % (k, status))
        check(f["samples/raw"].shape[0] == n and f["samples/force_N"].shape[0] == n,
              "run %d: sample datasets of equal length" % k)
        check(n >= flushed, "run %d: %d rows < %d flushed" % (k, n, flushed))
        raw, force, seq = expected(n, nch)
        check(np.array_equal(f["samples/seq"][:], seq), "run %d: seq exact" % k)
        check(np.array_equal(f["samples/raw"][:], raw), "run %d: raw exact" % k)
        check(np.array_equal(f["samples/force_N"][:], force), "run %d: force exact" % k)
        ev = f["events"][:]
        check(len(ev) >= 1 and ev[-1]["kind"] == b"interrupted", "run %d: interrupted event" % k)
        check(int(f.attrs["samples_recovered"]) == n, "run %d: samples_recovered" % k)
    # Recovering again changes nothing.
    r2 = subprocess.run([TOOL, "recover", d], capture_output=True, text=True)
    check(r2.returncode == 0 and "0 recovered" in r2.stdout, "run %d: second recover" % k)
    return status, n, flushed


def swmr_growth(tmp):
    d = os.path.join(tmp, "swmr")
    os.mkdir(d)
    progress = os.path.join(tmp, "swmr.progress")
    p = start_writer(d, 2, progress)
    try:
        path = p.stdout.readline().decode().strip()
        deadline = time.monotonic() + 10
        while last_flushed(progress)[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        f = h5py.File(path, "r", swmr=True)
        seq = f["samples/seq"]
        n1 = seq.shape[0]
        sizes = [n1]
        for _ in range(10):
            time.sleep(INTERVAL * 1.5)
            seq.refresh()
            sizes.append(seq.shape[0])
        n2 = sizes[-1]
        check(n1 > 0 and n2 > n1, "SWMR reader sees growth: %r" % sizes)
        check(all(b >= a for a, b in zip(sizes, sizes[1:])), "never shrinks: %r" % sizes)
        _, _, want = expected(n2, 2)
        check(np.array_equal(seq[:n2], want), "SWMR reader reads exact values")
        # The project's reader refuses nothing here and recovery leaves it alone.
        r = subprocess.run([TOOL, "recover", d], capture_output=True, text=True)
        check("1 in use" in r.stdout, "recover skips the live file: %s" % r.stdout)
        r = subprocess.run([TOOL, "summary", path], capture_output=True, text=True)
        check(r.returncode == 0 and "still open for writing" in r.stdout, "summary of live file")
        f.close()
    finally:
        p.kill()
        p.wait()


def main():
    seed = int(os.environ.get("NORDIC_CRASH_SEED", time.time_ns() % 1000000))
    rng = random.Random(seed)
    print("seed", seed)
    tmp = tempfile.mkdtemp(prefix="trial_crash.")
    stats = []
    try:
        swmr_growth(tmp)
        for k in range(KILLS):
            # A few kills land inside file creation, the rest while recording.
            delay = rng.uniform(0.0, 0.02) if k % 8 == 0 else rng.uniform(0.05, 0.7)
            nch = 2 if k % 3 else 8
            stats.append((delay,) + crash_run(tmp, k, delay, nch))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for delay, status, n, flushed in stats:
        print("kill at %.3f s: %-11s %7d rows (flushed before kill: %d)" % (delay, status, n,
                                                                          flushed))
    recorded = sum(1 for s in stats if s[1] == "interrupted")
    check(recorded >= KILLS // 2, "most kills hit a recording (%d)" % recorded)
    print("test_trial_crash: %d kills, %d failed checks" % (len(stats), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
