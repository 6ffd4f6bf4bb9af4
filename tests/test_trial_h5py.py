"""Trial files read by an independent reader (Debian's h5py): layout, dtypes,
attributes and exact values as written by tests/trial_write_fixture.c, and the
CSV export of tools/nordic-trial checked against the same data."""
import csv
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

import h5py
import numpy as np

BUILD = os.environ["NORDIC_BUILD_DIR"]
WRITER = os.path.join(BUILD, "tests", "nordic-test-trial-writer")
TOOL = os.path.join(BUILD, "tools", "nordic-trial")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def expected_rows(n, nch):
    i = np.arange(n, dtype=np.uint64)
    seq = i + np.uint64(3) * (i // np.uint64(5000))
    raw = np.empty((n, nch), dtype=np.int32)
    force = np.empty((n, nch), dtype=np.float64)
    for ch in range(nch):
        r = ((i * np.uint64(7919) + np.uint64(ch * 104729)) % np.uint64(2000003)).astype(
            np.int64) - 1000000
        raw[:, ch] = r
        force[:, ch] = (r.astype(np.float64) - (100.0 * ch + 12.5)) * (0.001 * (ch + 1))
    return raw, force, seq


def expected_rep(index):
    peak = [300.0 + index, 280.0 + 0.5 * index]
    i_open = 1000 * index
    i_peak = [i_open + 400, i_open + 410]
    t_peak = [i_peak[0] / 1000.0, i_peak[1] / 1000.0]
    t_open = i_open / 1000.0
    asym = 100.0 * (peak[0] - peak[1]) / peak[0]
    rep = {
        "index": index, "i_open": i_open, "i_end": i_open + 700,
        "t_open_s": t_open, "t_end_s": (i_open + 700) / 1000.0,
        "peak_left_N": peak[0], "peak_right_N": peak[1],
        "i_peak_left": i_peak[0], "i_peak_right": i_peak[1],
        "t_peak_left_s": t_peak[0], "t_peak_right_s": t_peak[1],
        "asymmetry_pct": asym, "abs_asymmetry_pct": abs(asym), "weaker_side": 2,
        "lsi_pct": float("nan") if index == 3 else 100.0 * peak[1] / peak[0],
    }
    for s, name in enumerate(["left", "right"]):
        rep["torque_%s_Nm" % name] = peak[s] * 0.45
        rep["rel_force_%s_N_per_kg" % name] = peak[s] / 80.5
        ttp = t_peak[s] - t_open
        rep["time_to_peak_%s_s" % name] = ttp
        rep["rfd_%s_N_per_s" % name] = peak[s] / ttp
        rep["impulse_%s_Ns" % name] = 100.0 + index + s
    return rep


def same(a, b):
    if isinstance(b, float) and math.isnan(b):
        return math.isnan(a)
    return a == b


def check_file(path, nch, nsets):
    name = os.path.basename(path)
    check(re.fullmatch(r"ath-01\.x_Y_\d{8}T\d{6}Z_[0-9a-f]{12}\.h5", name) is not None,
          "file name %s" % name)
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o640, "mode 0640")
    with h5py.File(path, "r") as f:
        a = f.attrs
        check(a["schema"] == "nordic-trial" and isinstance(a["schema"], str), "schema str")
        check(int(a["schema_version"]) == 1, "schema_version")
        check(a["status"] == "complete", "status complete")
        for key in ["trial_id", "athlete_id", "created_utc", "software_version", "device_model",
                    "device_serial", "injured_side", "protocol", "notes", "closed_utc"]:
            check(isinstance(a[key], str), "attr %s decodes to str" % key)
        check(a["athlete_id"] == "ath-01.x_Y", "athlete_id")
        check(name.endswith("_%s.h5" % a["trial_id"]), "trial_id in name")
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["created_utc"]) is not None,
              "created_utc ISO")
        check(name.split("_")[-2] == a["created_utc"].replace("-", "").replace(":", ""),
              "name timestamp = created_utc")
        check(a["device_model"] == "Sim Board Ω", "UTF-8 device model")
        check(a["device_serial"] == "SN-0042", "device serial")
        check(a["notes"] == "fixture trial – ünïcode ok", "notes")
        check(a["sample_rate_hz"] == 1000.0, "rate")
        names = list(a["channel_names"])
        check(len(names) == nch and names[:2] == ["left", "right"][:nch] and all(
            isinstance(x, str) for x in names), "channel_names %r" % names)
        check(a["body_mass_kg"] == 80.5 and a["lever_m"] == 0.45, "subject")
        check(a["injured_side"] == "right", "injured side")
        off = a["calibration_offset_counts"]
        gain = a["calibration_gain_N_per_count"]
        check(off.dtype == np.float64 and off.shape == (nch,), "offset dtype")
        check(all(off[c] == 100.0 * c + 12.5 for c in range(nch)), "offsets")
        check(all(gain[c] == 0.001 * (c + 1) for c in range(nch)), "gains")
        check(int(a["left_channel"]) == 0 and int(a["right_channel"]) == min(1, nch - 1),
              "mapping")
        settings = {"filter_cutoff_Hz": 10.0, "rep_on_N": 100.0, "rep_off_N": 50.0,
                    "rep_hold_s": 0.25, "rep_min_s": 0.5, "impulse_threshold_N": 25.0,
                    "weak_threshold_N": 256.0, "imbalance_threshold_pct": 15.0,
                    "tare_window_s": 1.0}
        for k, v in settings.items():
            check(a[k] == v, "setting %s" % k)
        check(int(a["metrics_version"]) == 1, "metrics_version")

        raw, force, seq = f["samples/raw"], f["samples/force_N"], f["samples/seq"]
        check(raw.dtype == np.dtype("<i4") and force.dtype == np.dtype("<f8")
              and seq.dtype == np.dtype("<u8"), "sample dtypes")
        check(raw.shape == (nsets, nch) and force.shape == (nsets, nch)
              and seq.shape == (nsets,), "sample shapes")
        check(raw.maxshape == (None, nch) and seq.maxshape == (None,), "unlimited first dim")
        rows = int(a["chunk_rows"])
        check(raw.chunks == (rows, nch) and seq.chunks == (rows,), "chunking")
        for ds in (raw, force, seq):
            chunk_bytes = ds.dtype.itemsize * int(np.prod(ds.chunks))
            check(65536 <= chunk_bytes <= 1048576, "chunk size %s %d" % (ds.name, chunk_bytes))
        check(raw.attrs["unit"] == "counts" and force.attrs["unit"] == "N", "units")
        want_raw, want_force, want_seq = expected_rows(nsets, nch)
        check(np.array_equal(raw[:], want_raw), "raw values exact")
        check(np.array_equal(force[:], want_force), "force values exact")
        got_seq = seq[:]
        check(np.array_equal(got_seq, want_seq), "seq exact")
        check(int(np.count_nonzero(np.diff(got_seq) != 1)) == (nsets - 1) // 5000,
              "gaps visible in seq")

        reps = f["reps"][:]
        check(len(reps) == 3, "3 reps")
        spec_fields = ["index", "t_open_s", "t_end_s", "peak_left_N", "peak_right_N",
                       "t_peak_left_s", "t_peak_right_s", "asymmetry_pct", "impulse_left_Ns",
                       "impulse_right_Ns", "torque_left_Nm", "torque_right_Nm"]
        for fld in spec_fields:
            check(fld in reps.dtype.names, "reps field %s" % fld)
        check(h5py.check_enum_dtype(f["reps"].dtype["weaker_side"]) ==
              {"none": 0, "left": 1, "right": 2}, "weaker_side enum")
        for row in reps:
            want = expected_rep(int(row["index"]))
            for k, v in want.items():
                check(same(row[k].item(), v), "rep %d %s: %r != %r" % (row["index"], k,
                                                                       row[k], v))

        ev = f["events"][:]
        check(ev.dtype.names == ("t_s", "kind", "detail"), "event fields")
        got = [(e["t_s"], e["kind"].decode(), e["detail"].decode()) for e in ev]
        check(got == [(0.0, "tare", "offset set"), (0.5, "gap", "count=3"),
                      (1.0, "mark", "operator: good rep ✓"), (1.5, "pain", "rating=2")],
              "events %r" % got)

        s = f["reps"].attrs
        check(int(s["reps"]) == 3 and int(s["discarded_reps"]) == 1, "summary reps")
        check(s["max_left_N"] == 303.0 and s["max_right_N"] == 281.5, "summary max")
        check(s["mean_left_N"] == 302.0 and s["mean_right_N"] == 281.0, "summary mean")
        check(s["weaker_side"] == "right", "summary weaker side")
        check(int(s["pain_rating"]) == 2 and int(s["pain"]) == 0, "summary pain")
        check(int(s["samples"]) == nsets, "summary samples")
        check(s["torque_max_left_Nm"] == 303.0 * 0.45, "summary torque")
    return want_raw, want_force, want_seq


def check_export(path, nch, want_raw, want_force, want_seq, out_dir):
    subprocess.run([TOOL, "export", path, "--out-dir", out_dir], check=True)
    stem = os.path.join(out_dir, os.path.basename(path)[:-3])
    with open(stem + "_samples.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    check(header[:3] == ["index", "t_s", "seq"] and len(header) == 3 + 2 * nch, "csv header")
    data = rows[1:]
    check(len(data) == len(want_seq), "csv sample rows")
    ok = all(int(r[2]) == want_seq[i] and
             all(int(r[3 + c]) == want_raw[i, c] for c in range(nch)) and
             all(float(r[3 + nch + c]) == want_force[i, c] for c in range(nch))
             for i, r in enumerate(data))
    check(ok, "csv samples equal the file exactly")
    with open(stem + "_reps.csv", newline="") as fh:
        reps = list(csv.DictReader(fh))
    check(len(reps) == 3, "csv reps")
    for r in reps:
        want = expected_rep(int(r["index"]))
        for k, v in want.items():
            if k == "weaker_side":
                check(r[k] == "right", "csv weaker side")
            else:
                check(same(float(r[k]), float(v)), "csv rep %s %s" % (r["index"], k))
    with open(stem + "_events.csv", newline="") as fh:
        ev = list(csv.DictReader(fh))
    check([e["detail"] for e in ev][2] == "operator: good rep ✓", "csv events")
    # Clear errors for bad input, nothing written.
    p = subprocess.run([TOOL, "export", path], capture_output=True, text=True)
    check(p.returncode == 2 and "at least one of" in p.stderr, "export without target")
    p = subprocess.run([TOOL, "summary", os.path.join(out_dir, "missing.h5")],
                       capture_output=True, text=True)
    check(p.returncode == 1 and "No such file" in p.stderr, "summary of missing file")
    p = subprocess.run([TOOL, "export", path, "--samples", "/nonexistent-dir/x.csv"],
                       capture_output=True, text=True)
    check(p.returncode == 1 and "cannot write" in p.stderr, "export to bad path")
    p = subprocess.run([TOOL, "summary", path], capture_output=True, text=True)
    check(p.returncode == 0 and "status:          complete" in p.stdout
          and "max   left 303.0 N" in p.stdout, "summary output")
    p = subprocess.run([TOOL, "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "recover DIR" in p.stdout, "--help")


def main():
    tmp = tempfile.mkdtemp(prefix="trial_h5py.")
    try:
        for nch, nsets in ((2, 50000), (8, 17000), (1, 20000)):
            d = os.path.join(tmp, "n%d" % nch)
            os.mkdir(d)
            out = subprocess.run([WRITER, "fixed", d, str(nch), str(nsets)], check=True,
                                 capture_output=True, text=True).stdout.split("\n")[0]
            check(os.listdir(d) == [os.path.basename(out)], "only the final file in the dir")
            want = check_file(out, nch, nsets)
            if nch == 2:
                check_export(out, nch, *want, d)
                if shutil.which("h5dump"):
                    p = subprocess.run(["h5dump", "-H", out], capture_output=True)
                    check(p.returncode == 0, "h5dump reads the file")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_trial_h5py: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
