"""nordic-trial export --format xdf|bids|csv|club-csv (tools/export/EXPORT.md),
checked by independent readers against the HDF5 trial read with h5py:

- XDF: Debian's libxdf loads the file (tests/xdf_check.cpp) and compares every
  sample, time stamp, marker and clock offset with values computed here from
  h5py and the documented sample-time formula.
- BIDS: the npm bids-validator 1.15.0 (installed by tools/quickstart.sh into
  build/npm) reports zero errors; the motion/channels/events files hold the
  HDF5 values.
- CSV: every row equals h5py's raw/force/seq and the documented times.
- club CSV: each column equals its formula in EXPORT.md applied to /reps.
- Bad input: foreign, damaged, still-recording files are refused with one
  line; interrupted and schema 1.0 files export with one note line; no export
  ever leaves a partial file under its final name (disk-full and kill -9).

Bugs it catches: values or channels swapped, a sample lost at a slice
boundary, time stamps not interpolated between clock pairs or across a gap,
wrong clock offsets, markers at the wrong rows, BIDS files the validator
rejects, club formulas wrong (imbalance sign, torque, per kg), a final name
left by a failed export, a foreign file crashing the exporter."""
import csv
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nordic_testlib import BUILD, check, finish  # noqa: E402

NORDICD = os.path.join(BUILD, "daemon", "nordicd")
TOOL = os.path.join(BUILD, "tools", "nordic-trial")
XDF_CHECK = os.path.join(BUILD, "tests", "xdf_check")
VALIDATOR = os.path.join(BUILD, "npm", "node_modules", ".bin", "bids-validator")
TMP = tempfile.mkdtemp(prefix="exports-", dir=os.environ.get("TMPDIR"))
CI = bool(os.environ.get("CI"))


def prerequisite(path, what):
    """A missing independent reader fails under CI, and is reported otherwise."""
    if os.path.exists(path):
        return True
    if CI:
        check(False, "%s missing (%s): install it with tools/quickstart.sh" % (what, path))
    else:
        print("NOT CHECKED: %s missing (%s); tools/quickstart.sh installs it" % (what, path))
    return False


def export(files, fmt, out, extra_env=None, preexec=None):
    os.makedirs(out, exist_ok=True)
    return subprocess.run([TOOL, "export"] + files + ["--format", fmt, "--out", out],
                          capture_output=True, text=True, timeout=600, preexec_fn=preexec)


# --- a real trial: nordicd on the simulator, gaps, tare, 3 reps ------------
rec = os.path.join(TMP, "rec")
os.makedirs(rec)
r = subprocess.run([NORDICD, "--device", "sim:?pace=0&rate=1000&reps=3&rest=2&drop_every=2500&seed=3",
                    "--data-dir", rec, "--state-dir", rec, "--ctl", "ipc://%s/ctl" % rec,
                    "--pub", "ipc://%s/pub" % rec, "--record", "ath.07", "--tare", "--mass", "80",
                    "--lever", "0.45", "--log-level", "error"], capture_output=True, text=True, timeout=300)
check(r.returncode == 0, "nordicd records the trial: %s" % r.stderr[-800:])
TRIAL = os.path.join(rec, [f for f in os.listdir(rec) if f.endswith(".h5")][0])
STEM = os.path.basename(TRIAL)[:-3]

with h5py.File(TRIAL, "r") as h:
    A = dict(h.attrs)
    RAW = h["samples/raw"][:]
    FORCE = h["samples/force_N"][:]
    SEQ = h["samples/seq"][:]
    REPS = h["reps"][:]
    EVENTS = h["events"][:]
    CLOCK = h["clock"][:]
    NAMES = [n.decode() if isinstance(n, bytes) else n for n in A["channel_names"]]
FS = float(A["sample_rate_hz"])
N, NCH = FORCE.shape
L, R = int(A["left_channel"]), int(A["right_channel"])
check(len(REPS) == 3 and len(CLOCK) > 3, "trial has reps and clock pairs")
check(np.any(np.diff(SEQ.astype(np.int64)) != 1), "trial has gaps")


def mono_s(rows, clock):
    """EXPORT.md 'Sample times': host monotonic seconds of each row."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(clock) == 0:
        return rows / FS
    idx = clock["sample_index"].astype(np.int64)
    mono = clock["host_monotonic_ns"].astype(np.uint64)
    reason = clock["reason"]
    out = np.empty(len(rows))
    for j, i in enumerate(rows):
        k = int(np.searchsorted(idx, i, side="right")) - 1
        if k < 0:
            out[j] = float(mono[0]) / 1e9 - float(idx[0] - i) / FS
            continue
        a_s = float(mono[k]) / 1e9
        if k + 1 < len(idx) and idx[k + 1] > idx[k]:
            rows_ab = int(idx[k + 1] - idx[k])
            span = float(np.int64(mono[k + 1] - mono[k])) / 1e9
            if reason[k + 1] == 0 or span < rows_ab / FS:
                out[j] = a_s + float(i - idx[k]) * span / float(rows_ab)
            else:
                out[j] = a_s + float(i - idx[k]) / FS
        else:
            out[j] = a_s + float(i - idx[k]) / FS
    return out


def offset_s(rows, clock):
    rows = np.asarray(rows, dtype=np.int64)
    idx = clock["sample_index"].astype(np.int64)
    off = (clock["host_realtime_ns"].astype(np.int64) - clock["host_monotonic_ns"].astype(np.int64)) / 1e9
    k = np.maximum(np.searchsorted(idx, rows, side="right") - 1, 0)
    return off[k]


def libxdf_sync(ts, clock):
    """libxdf adds the offset of the last ClockOffset collected before ts
    (the first one before that)."""
    times = clock["host_monotonic_ns"].astype(np.float64) / 1e9
    vals = (clock["host_realtime_ns"].astype(np.int64) - clock["host_monotonic_ns"].astype(np.int64)) / 1e9
    k = np.maximum(np.searchsorted(times, ts, side="left") - 1, 0)
    return ts + vals[k]


# --- XDF -------------------------------------------------------------------
out = os.path.join(TMP, "xdf")
r = export([TRIAL], "xdf", out)
xdf = os.path.join(out, STEM + ".xdf")
check(r.returncode == 0 and os.path.exists(xdf), "xdf export: %s" % r.stderr)
if prerequisite(XDF_CHECK, "libxdf check program (libxdf-dev)") and os.path.exists(xdf):
    markers = []
    for rep in REPS:
        markers.append((int(rep["i_open"]), "rep_start %d" % rep["index"]))
        markers.append((int(rep["i_end"]), "rep_end %d peak_left_N=%s peak_right_N=%s"
                        % (rep["index"], "%.17g" % rep["peak_left_N"], "%.17g" % rep["peak_right_N"])))
    for e in EVENTS:
        markers.append((int(max(0, round(e["t_s"] * FS))),
                        "%s: %s" % (e["kind"].decode(), e["detail"].decode())))
    order = sorted(range(len(markers)), key=lambda j: (markers[j][0], j))
    markers = [markers[j] for j in order]
    ts = libxdf_sync(mono_s(np.arange(N), CLOCK), CLOCK)
    mts = libxdf_sync(mono_s([m[0] for m in markers], CLOCK), CLOCK)
    exp_path = os.path.join(TMP, "xdf_expected.txt")
    with open(exp_path, "w") as f:
        f.write("stream NordicForce Force %d %r double64\n" % (NCH, FS))
        for n in NAMES:
            f.write("label %s unit N\n" % n)
        f.write("samples %d\n" % N)
        for i in range(N):
            f.write("%r %s\n" % (ts[i], " ".join(repr(float(v)) for v in FORCE[i])))
        f.write("markers %d\n" % len(markers))
        for (row, text), t in zip(markers, mts):
            f.write("%r\t%s\n" % (t, text))
        f.write("clock %d\n" % len(CLOCK))
        for c in CLOCK:
            f.write("%r %r\n" % (float(c["host_monotonic_ns"]) / 1e9,
                                 float(np.int64(c["host_realtime_ns"]) - np.int64(c["host_monotonic_ns"])) / 1e9))
    r = subprocess.run([XDF_CHECK, xdf, exp_path], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "libxdf reads the export equal to the HDF5 file: %s %s"
          % (r.stdout[-500:], r.stderr[-1500:]))
    # Synced times are UTC: within a second of the file's creation time.
    check(abs(ts[0] - float(A["created_unix_s"])) < 2.0, "XDF times after clock sync are Unix UTC")

# --- CSV -------------------------------------------------------------------
out = os.path.join(TMP, "csv")
r = export([TRIAL], "csv", out)
path = os.path.join(out, STEM + ".csv")
check(r.returncode == 0 and os.path.exists(path), "csv export: %s" % r.stderr)
with open(path) as f:
    lines = f.read().splitlines()
meta = [l for l in lines if l.startswith("#")]
body = [l for l in lines if not l.startswith("#")]
check(any(l == "# trial_id: %s" % A["trial_id"] for l in meta), "metadata block names the trial")
check(any(l == "# sample_rate_hz: %s" % repr(FS).rstrip("0").rstrip(".") or "1000" for l in meta)
      or any(l.startswith("# sample_rate_hz: 1000") for l in meta), "metadata block has the rate")
rows = list(csv.reader(body))
header = rows[0]
others = [c for c in range(NCH) if c not in (L, R)]
want_header = (["time_s", "utc_s", "seq"] + ["raw_%s" % n for n in NAMES] + ["force_left_N", "force_right_N"]
               + ["force_%s_N" % NAMES[c] for c in others])
check(header == want_header, "csv columns %r" % header)
data = rows[1:]
check(len(data) == N, "one row per sample set (%d vs %d)" % (len(data), N))
if len(data) == N:
    t = np.array([float(x[0]) for x in data])
    utc = np.array([float(x[1]) for x in data])
    seq = np.array([int(x[2]) for x in data], dtype=np.uint64)
    raw = np.array([[int(v) for v in x[3:3 + NCH]] for x in data])
    fl = np.array([[float(v) for v in x[3 + NCH:]] for x in data])
    check(np.array_equal(t, np.arange(N) / FS), "time_s = row / fs")
    check(np.array_equal(seq, SEQ), "seq column equals /samples/seq")
    check(np.array_equal(raw, RAW), "raw columns equal /samples/raw")
    check(np.array_equal(fl[:, 0], FORCE[:, L]) and np.array_equal(fl[:, 1], FORCE[:, R]),
          "force_left/right equal /samples/force_N at left/right_channel, every digit")
    want_utc = mono_s(np.arange(N), CLOCK) + offset_s(np.arange(N), CLOCK)
    check(np.max(np.abs(utc - want_utc)) <= 1.5e-6, "utc_s from the clock pairs (max err %.2e s)"
          % np.max(np.abs(utc - want_utc)))

# --- club CSV ----------------------------------------------------------------
out = os.path.join(TMP, "club")
r = export([TRIAL], "club-csv", out)
path = os.path.join(out, "nordic_club.csv")
check(r.returncode == 0 and os.path.exists(path), "club export: %s" % r.stderr)
with open(path) as f:
    club = list(csv.DictReader(f))
check(len(club) == 1, "one row per trial")
if club:
    c = club[0]
    pl, pr = REPS["peak_left_N"], REPS["peak_right_N"]
    mass, lever = float(A["body_mass_kg"]), float(A["lever_m"])
    want = {
        "L Max Force (N)": pl.max(), "R Max Force (N)": pr.max(),
        "Max Imbalance (%)": 100 * (pl.max() - pr.max()) / max(pl.max(), pr.max()),
        "L Avg Force (N)": pl.mean(), "R Avg Force (N)": pr.mean(),
        "Avg Imbalance (%)": 100 * (pl.mean() - pr.mean()) / max(pl.mean(), pr.mean()),
        "L Max Torque (Nm)": pl.max() * lever, "R Max Torque (Nm)": pr.max() * lever,
        "L Avg Torque (Nm)": pl.mean() * lever, "R Avg Torque (Nm)": pr.mean() * lever,
        "L Max Force Per Kg (N/kg)": pl.max() / mass, "R Max Force Per Kg (N/kg)": pr.max() / mass,
        "Body Weight (kg)": mass, "Reps": len(REPS),
    }
    for k, v in want.items():
        check(k in c and abs(float(c[k]) - v) <= 1e-9 * max(1, abs(v)), "%s: %s vs %r" % (k, c.get(k), v))
    created = time.gmtime(int(A["created_unix_s"]))
    check(c["Date UTC"] == time.strftime("%Y-%m-%d", created) and c["Time UTC"] == time.strftime("%H:%M:%S", created),
          "date and time UTC")
    check(c["Athlete ID"] == A["athlete_id"] and c["Device"] == A["device_model"]
          and c["Trial ID"] == A["trial_id"], "identity columns")

# --- BIDS ---------------------------------------------------------------------
out = os.path.join(TMP, "bids")
r = export([TRIAL], "bids", out)
ds = os.path.join(out, "nordic_bids")
check(r.returncode == 0 and os.path.isdir(ds), "bids export: %s" % r.stderr)
if prerequisite(VALIDATOR, "npm bids-validator@1.15.0") and os.path.isdir(ds):
    v = subprocess.run([VALIDATOR, "--json", ds], capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(v.stdout)
        errors = report["issues"]["errors"]
        check(errors == [], "bids-validator: zero errors (%s)" % [e.get("key") for e in errors])
    except (ValueError, KeyError) as e:
        check(False, "bids-validator gave a report (%s): %s %s" % (e, v.stdout[-500:], v.stderr[-500:]))
if os.path.isdir(ds):
    sub = "sub-ath07"
    ses = [d for d in os.listdir(os.path.join(ds, sub))][0]
    mdir = os.path.join(ds, sub, ses, "motion")
    pre = os.path.join(mdir, "%s_%s_task-nordic_tracksys-nordicboard" % (sub, ses))
    with open(pre + "_channels.tsv") as f:
        ch = list(csv.DictReader(f, delimiter="\t"))
    check([x["name"] for x in ch] == ["latency"] + NAMES, "channels.tsv lists latency + the channels")
    check(all(x["type"] == "MISC" and x["units"] == "N" for x in ch[1:]) and ch[0]["type"] == "LATENCY",
          "force channels typed MISC in N, latency LATENCY")
    mot = np.loadtxt(pre + "_motion.tsv", delimiter="\t", ndmin=2)
    check(mot.shape == (N, NCH + 1), "motion.tsv one row per sample set, no header")
    if mot.shape == (N, NCH + 1):
        check(np.array_equal(mot[:, 1:], FORCE), "motion.tsv forces equal /samples/force_N")
        m = mono_s(np.arange(N), CLOCK)
        check(np.max(np.abs(mot[:, 0] - (m - m[0]))) <= 1e-6, "latency column from the clock pairs")
    with open(pre + "_motion.json") as f:
        side = json.load(f)
    check(side["SamplingFrequency"] == FS and side["TaskName"] == "nordic", "motion.json rate and task")
    with open(os.path.join(mdir, "%s_%s_task-nordic_events.tsv" % (sub, ses))) as f:
        ev = list(csv.DictReader(f, delimiter="\t"))
    reps = [e for e in ev if e["trial_type"] == "rep"]
    check(len(reps) == len(REPS) and all(abs(float(e["onset"]) - rp["i_open"] / FS) < 1e-12
                                         and abs(float(e["peak_left_N"]) - rp["peak_left_N"]) == 0
                                         for e, rp in zip(reps, REPS)), "rep events: onsets and peaks")
    check(len(ev) - len(reps) == len(EVENTS), "every trial event in events.tsv")
    r = export([TRIAL], "bids", out)
    check(r.returncode != 0 and "already exists" in r.stderr, "an existing dataset is never overwritten")

# --- nordic-report --export: same exports from folders and globs ------------
REPORT = os.path.join(BUILD, "tools", "nordic-report")
if os.path.exists(REPORT):
    o = os.path.join(TMP, "report-export")
    res = subprocess.run([REPORT, "--export", "club-csv", "-o", o, rec], capture_output=True, text=True,
                         timeout=300)
    check(res.returncode == 0, "nordic-report --export club-csv on the folder: %s" % res.stderr)
    with open(os.path.join(o, "nordic_club.csv")) as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == 1 and abs(float(rows[0]["L Max Force (N)"]) - REPS["peak_left_N"].max()) < 1e-9,
          "nordic-report club row from /reps")
    res = subprocess.run([REPORT, "--export", "csv", "-o", o, os.path.join(rec, "*.h5")],
                         capture_output=True, text=True, timeout=300)
    with open(os.path.join(o, STEM + ".csv")) as f:
        body = [l for l in f.read().splitlines() if not l.startswith("#")][1:]
    check(res.returncode == 0 and len(body) == N
          and np.array_equal(np.array([float(x.split(",")[3 + NCH]) for x in body]), FORCE[:, L]),
          "nordic-report --export csv from a glob: left force column equals h5py")
    res = subprocess.run([REPORT, "--export", "pdf", "-o", o, rec], capture_output=True, text=True)
    check(res.returncode == 2 and "unknown export format 'pdf'" in res.stderr, "nordic-report: bad format named")

# --- bad input: one clear line each ------------------------------------------
bad = os.path.join(TMP, "bad")
os.makedirs(bad)


def one_line(res, needle, what, ok_exit=False):
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    check((res.returncode == 0) == ok_exit, "%s: exit %d" % (what, res.returncode))
    check(len(lines) == 1 and needle in lines[0], "%s: exactly one line, with %r: %r" % (what, needle, res.stderr))
    check("Traceback" not in res.stderr and "Segmentation" not in res.stderr and "HDF5-DIAG" not in res.stderr,
          "%s: no crash or library dump" % what)


foreign = os.path.join(bad, "notes.h5")
with open(foreign, "w") as f:
    f.write("not a trial\n")
other = os.path.join(bad, "other.h5")
with h5py.File(other, "w") as h:
    h.attrs["schema"] = "something-else"
damaged = os.path.join(bad, "damaged.h5")
shutil.copy(TRIAL, damaged)
with open(damaged, "r+b") as f:  # keep the superblock, cut the rest
    f.truncate(os.path.getsize(TRIAL) // 3)
recording = os.path.join(bad, "recording.h5")
shutil.copy(TRIAL, recording)
with h5py.File(recording, "r+") as h:
    h.attrs["status"] = "recording"
interrupted = os.path.join(bad, "interrupted.h5")
shutil.copy(TRIAL, interrupted)
with h5py.File(interrupted, "r+") as h:
    h.attrs["status"] = "interrupted"
    h.attrs["recovered_utc"] = "2026-01-01T00:00:00Z"
v1 = os.path.join(bad, "v1.h5")
shutil.copy(TRIAL, v1)
with h5py.File(v1, "r+") as h:
    del h["clock"]
    del h.attrs["schema_minor_version"]

for fmt in ("xdf", "csv", "club-csv", "bids"):
    o = os.path.join(bad, "out-" + fmt)
    one_line(export([foreign], fmt, o), "not an HDF5 file", "%s: foreign file" % fmt)
    one_line(export([other], fmt, o), "is not 'nordic-trial'", "%s: other schema" % fmt)
    one_line(export([damaged], fmt, o), "damaged.h5", "%s: damaged file" % fmt)
    one_line(export([recording], fmt, o), "still being recorded", "%s: recording file" % fmt)
    check(not [x for x in os.listdir(o)], "%s: nothing written for refused files" % fmt)
    one_line(export([interrupted], fmt, o), "interrupted trial", "%s: interrupted file" % fmt, ok_exit=True)
    shutil.rmtree(o)
    one_line(export([v1], fmt, o), "without clock pairs", "%s: schema 1.0 file" % fmt, ok_exit=True)
    shutil.rmtree(o)

# A schema 1.0 file still exports: times from created_utc + i / fs, no offsets.
o = os.path.join(bad, "v1-csv")
export([v1], "csv", o)
with open(os.path.join(o, "v1.csv")) as f:
    body = [l for l in f.read().splitlines() if not l.startswith("#")]
utc1 = float(body[2].split(",")[1])
check(abs(utc1 - (float(A["created_unix_s"]) + 1 / FS)) < 1e-6, "schema 1.0: utc_s = created + i/fs")
if os.path.exists(XDF_CHECK):
    o = os.path.join(bad, "v1-xdf")
    export([v1], "xdf", o)
    exp_path = os.path.join(TMP, "xdf_v1_expected.txt")
    with open(exp_path, "w") as f:
        f.write("stream NordicForce Force %d %r double64\n" % (NCH, FS))
        for n in NAMES:
            f.write("label %s unit N\n" % n)
        f.write("samples %d\n" % N)
        for i in range(N):
            f.write("%r %s\n" % (i / FS, " ".join(repr(float(x)) for x in FORCE[i])))
        f.write("markers %d\n" % len(markers))
        for row, text in markers:
            f.write("%r\t%s\n" % (row / FS, text))
        f.write("clock 0\n")
    r = subprocess.run([XDF_CHECK, os.path.join(o, "v1.xdf"), exp_path], capture_output=True, text=True)
    check(r.returncode == 0, "schema 1.0 XDF: trial-time stamps, no clock offsets: %s" % r.stderr[-800:])

# Mixed batch: good files exported, the bad one named (xdf/csv); all-or-nothing for bids/club.
o = os.path.join(bad, "mixed")
res = export([TRIAL, foreign], "xdf", o)
check(res.returncode != 0 and os.path.exists(os.path.join(o, STEM + ".xdf")), "xdf batch: good file exported")
res = export([TRIAL, foreign], "club-csv", o)
check(res.returncode != 0 and not os.path.exists(os.path.join(o, "nordic_club.csv")), "club batch: all or nothing")

# --- never a partial file under the final name --------------------------------


def limit_fsize(limit):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


# Limits below each output's size (the club row file is ~700 bytes).
for fmt, limit in (("xdf", 200_000), ("csv", 200_000), ("bids", 200_000), ("club-csv", 300)):
    o = os.path.join(TMP, "full-" + fmt)
    res = export([TRIAL], fmt, o, preexec=limit_fsize(limit))
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    check(res.returncode != 0 and any("too large" in l or "No space" in l for l in lines),
          "%s: a full disk is one clear error: %r" % (fmt, res.stderr[-400:]))
    check(os.listdir(o) == [], "%s: nothing left after the failed export (%r)" % (fmt, os.listdir(o)))

# kill -9 in the middle: the final name never appears.
o = os.path.join(TMP, "killed")
os.makedirs(o)
p = subprocess.Popen([TOOL, "export", TRIAL, "--format", "csv", "--out", o])
deadline = time.time() + 10
while time.time() < deadline and not os.listdir(o):
    time.sleep(0.001)
p.send_signal(signal.SIGKILL)
p.wait()
check(not os.path.exists(os.path.join(o, STEM + ".csv"))
      or len(open(os.path.join(o, STEM + ".csv")).read().splitlines()) == N + 1 + 16,
      "killed export: the final name is absent or complete")

finish("test_exports")
