#!/usr/bin/python3
"""Read nordicd trial files with h5py + numpy and recompute the headline metrics.

Living documentation of the trial file format (daemon/trialfile/TRIAL_FORMAT.md) and of
the metric definitions (daemon/metrics/METRICS.md, daemon/metrics/METRICS.md) for Python users.
It recomputes, from the stored calibrated force and the stored settings, what
`nordic-report --recompute` reports, and its numbers agree with the C tool
(tests/test_report.py checks this).

    /usr/bin/python3 tools/report/nordic_report_example.py [--csv OUT.csv]
        [--include-incomplete] INPUT...        (files or folders)

Needs Debian's python3-h5py and python3-numpy. The Butterworth filter uses
scipy.signal.lfilter when python3-scipy is installed (fast); otherwise a plain
Python loop (same numbers, about 100 times slower).
"""
import csv
import math
import os
import sys

import h5py
import numpy as np

try:
    from scipy.signal import lfilter
except ImportError:  # pragma: no cover - depends on the machine
    lfilter = None

SCHEMA, SCHEMA_VERSION = "nordic-trial", 1
COLUMNS = ["file", "trial_id", "athlete_id", "created_utc", "status", "reps",
           "discarded_reps", "max_left_N", "max_right_N", "mean_left_N", "mean_right_N",
           "asymmetry_pct", "weaker_side", "impulse_left_Ns", "impulse_right_Ns",
           "stored_max_left_N", "stored_max_right_N"]


def butterworth(x, cutoff_hz, fs):
    """Causal 2nd-order Butterworth low-pass, DF2T, first output = first input."""
    if len(x) == 0 or cutoff_hz >= 0.45 * fs:
        return x.copy()  # off: pass-through
    k = math.tan(math.pi * cutoff_hz / fs)
    norm = 1.0 / (1.0 + math.sqrt(2.0) * k + k * k)
    b0 = k * k * norm
    b = [b0, 2.0 * b0, b0]
    a = [1.0, 2.0 * (k * k - 1.0) * norm, (1.0 - math.sqrt(2.0) * k + k * k) * norm]
    x0 = x[0]
    z1, z2 = x0 - b0 * x0, (b[2] - a[2]) * x0  # steady state for x0
    if lfilter is not None:
        y, _ = lfilter(b, a, x, zi=[z1, z2])
        return y
    y = np.empty_like(x)
    for i, xi in enumerate(x):
        yi = b0 * xi + z1
        z1 = b[1] * xi - a[1] * yi + z2
        z2 = b[2] * xi - a[2] * yi
        y[i] = yi
    return y


def detect_reps(total, on_n, off_n, hold_n, min_n, index, n):
    """Rep windows [i_open, i_end) on T = fL + fR (finite sets only).

    total holds the finite sets; index maps them to sample indices in the file
    (sets with a non-finite leg are skipped but keep their index)."""
    below = total < off_n
    # Runs of samples below off_N: start and length, kept when long enough.
    edges = np.diff(np.concatenate(([0], below.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    closing = starts[(ends - starts) >= hold_n]
    above = np.flatnonzero(total >= on_n)
    reps, discarded, pos = [], 0, 0
    while True:
        k = np.searchsorted(above, pos)
        if k == len(above):
            break
        c_open = above[k]
        j = np.searchsorted(closing, c_open, side="right")
        c_end = closing[j] if j < len(closing) else len(total)
        i_open = index[c_open]
        i_end = index[c_end] if c_end < len(total) else n
        if i_end - i_open >= min_n:
            reps.append((c_open, c_end, i_open, i_end))
        else:
            discarded += 1
        pos = c_end
    return reps, discarded


def analyse(path):
    """Returns a dict of COLUMNS, or raises ValueError with the reason."""
    try:
        f = h5py.File(path, "r")
    except OSError:
        f = h5py.File(path, "r", swmr=True)  # still marked open for writing
    with f:
        a = f.attrs
        if a.get("schema") != SCHEMA:
            raise ValueError(f"schema {a.get('schema')!r} is not {SCHEMA!r}")
        if int(a["schema_version"]) > SCHEMA_VERSION:
            raise ValueError(f"schema_version {int(a['schema_version'])} is newer than "
                             f"{SCHEMA_VERSION}")
        status = a["status"]
        ident = {k: a[k] for k in ("trial_id", "athlete_id", "created_utc")}
        fs = float(a["sample_rate_hz"])
        force = f["samples/force_N"][:]
        # Rows common to the three sample datasets (a crash can leave one longer).
        n = min(force.shape[0], f["samples/raw"].shape[0], f["samples/seq"].shape[0])
        left = force[:n, int(a["left_channel"])]
        right = force[:n, int(a["right_channel"])]
        stored = f["reps"].attrs
        stored_max = (stored.get("max_left_N", math.nan), stored.get("max_right_N", math.nan))
        settings = {k: float(a[k]) for k in ("filter_cutoff_Hz", "rep_on_N", "rep_off_N",
                                              "rep_hold_s", "rep_min_s",
                                              "impulse_threshold_N")}
    ok = np.isfinite(left) & np.isfinite(right)
    index = np.flatnonzero(ok)
    fl = butterworth(left[ok], settings["filter_cutoff_Hz"], fs)
    fr = butterworth(right[ok], settings["filter_cutoff_Hz"], fs)
    hold_n = max(1, round(settings["rep_hold_s"] * fs))
    min_n = round(settings["rep_min_s"] * fs)
    reps, discarded = detect_reps(fl + fr, settings["rep_on_N"], settings["rep_off_N"],
                                  hold_n, min_n, index, n)
    thr = settings["impulse_threshold_N"]
    peaks = np.array([[fl[o:e].max(), fr[o:e].max()] for o, e, _, _ in reps]).reshape(-1, 2)
    impulse = np.zeros(2)
    for o, e, _, _ in reps:
        for leg, filt in enumerate((fl, fr)):
            seg = filt[o:e]
            impulse[leg] += seg[seg >= thr].sum() / fs
    row = dict(file=path, status=status, reps=len(reps), discarded_reps=discarded,
               stored_max_left_N=stored_max[0], stored_max_right_N=stored_max[1], **ident)
    if len(reps):
        mx, mean = peaks.max(axis=0), peaks.mean(axis=0)
        top = max(mx)
        asym = 100.0 * (mx[0] - mx[1]) / top if top > 0 else math.nan
        weaker = "none" if not top > 0 or mx[0] == mx[1] else ("left" if mx[0] < mx[1] else "right")
    else:
        mx = mean = (math.nan, math.nan)
        asym, weaker = math.nan, "none"
    row.update(max_left_N=mx[0], max_right_N=mx[1], mean_left_N=mean[0], mean_right_N=mean[1],
               asymmetry_pct=asym, weaker_side=weaker, impulse_left_Ns=impulse[0],
               impulse_right_Ns=impulse[1])
    return row


def inputs(args):
    for arg in args:
        if os.path.isdir(arg):
            for root, dirs, files in os.walk(arg):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.endswith(".h5") and not name.startswith("."):
                        yield os.path.join(root, name)
        else:
            yield arg


def main(argv):
    out, include_incomplete, args = None, False, []
    it = iter(argv)
    for arg in it:
        if arg == "--csv":
            out = next(it, None)
        elif arg == "--include-incomplete":
            include_incomplete = True
        elif arg in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            args.append(arg)
    if not args or (out is None and "--csv" in argv):
        print("usage: nordic_report_example.py [--csv OUT] [--include-incomplete] INPUT...",
              file=sys.stderr)
        return 2
    rows, skipped = [], 0
    for path in sorted(set(inputs(args))):
        try:
            row = analyse(path)
            if row["status"] != "complete" and not include_incomplete:
                raise ValueError(f"status {row['status']!r}: trial did not finish")
            rows.append(row)
        except (OSError, ValueError, KeyError) as e:
            skipped += 1
            print(f"nordic_report_example: skipped {path}: {e}", file=sys.stderr)
    sink = open(out, "w", newline="") if out else sys.stdout
    w = csv.DictWriter(sink, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({k: (repr(float(v)) if isinstance(v, (float, np.floating)) else v)
                    for k, v in row.items()})
    if out:
        sink.close()
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
