#!/usr/bin/python3
"""Peer for nordic-bench-metrics: the same pipeline written the usual way in
the scientific Python stack (numpy calibration, scipy.signal.butter +
lfilter with steady-state zi, numpy rep detection and per-rep metrics).

Reads raw int32 counts (n sets x 2 channels, set-major) from a file and
prints one JSON object: ns per set (best of --runs), reps, per-rep values.
Run by the benchmark; uses Debian's /usr/bin/python3 (python3-scipy)."""
import argparse
import json
import sys
import time

import numpy as np
import scipy
from scipy import signal


def pipeline(raw, a):
    fl = (raw[:, 0] - a.offset_left) * a.gain_left
    fr = (raw[:, 1] - a.offset_right) * a.gain_right
    if a.cutoff < 0.45 * a.fs:
        b, den = signal.butter(2, a.cutoff, btype="low", fs=a.fs)
        zi = signal.lfilter_zi(b, den)
        fl, _ = signal.lfilter(b, den, fl, zi=zi * fl[0])
        fr, _ = signal.lfilter(b, den, fr, zi=zi * fr[0])
    total = fl + fr
    n = len(total)
    hold = max(1, int(round(a.hold * a.fs)))
    min_n = int(round(a.min_rep * a.fs))
    # Maximal runs of total < off; those at least `hold` long end reps.
    below = np.concatenate(([0], (total < a.off).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(below))
    starts, ends = edges[0::2], edges[1::2]
    run_starts = starts[(ends - starts) >= hold]
    on_idx = np.flatnonzero(total >= a.on)
    reps = []
    pos = 0
    while True:
        k = np.searchsorted(on_idx, pos)
        if k >= len(on_idx):
            break
        i_open = int(on_idx[k])
        j = np.searchsorted(run_starts, i_open, side="right")
        i_end = int(run_starts[j]) if j < len(run_starts) else n
        if i_end - i_open >= min_n:
            rep = [i_open, i_end]
            for f in (fl, fr):
                seg = f[i_open:i_end]
                p = int(np.argmax(seg))
                rep += [float(seg[p]), i_open + p,
                        float(seg[seg >= a.impulse_threshold].sum() / a.fs)]
            reps.append(rep)
        pos = i_end
    return reps


def main():
    ap = argparse.ArgumentParser()
    for name in ("fs", "cutoff", "on", "off", "hold", "min_rep", "impulse_threshold",
                 "offset_left", "gain_left", "offset_right", "gain_right"):
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=float, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("file")
    a = ap.parse_args()
    raw = np.fromfile(a.file, dtype="<i4").reshape(-1, 2)
    best = float("inf")
    reps = None
    for _ in range(a.runs):
        t0 = time.perf_counter_ns()
        reps = pipeline(raw, a)
        best = min(best, time.perf_counter_ns() - t0)
    json.dump({"peer": "scipy.signal.lfilter + numpy (scipy %s, numpy %s)"
               % (scipy.__version__, np.__version__),
               "ns_per_set": best / len(raw), "reps": reps}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
