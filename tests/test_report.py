"""nordic-report end to end (tools/report/REPORT.md): trial files recorded by nordicd
and written by nordic-report-gen (the daemon's writer and metrics on the
simulator), plus corrupt, truncated, interrupted, wrong-schema and
newer-schema files. Checks every table against the stored values read
independently with h5py, the trend table and MDC flags, exit codes, the
pictures, recomputation with other settings, --compare, bad options, and that
the h5py + numpy example script agrees with the C tool."""
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

import h5py
import numpy as np

BUILD = os.environ["NORDIC_BUILD_DIR"]
SOURCE = os.environ["NORDIC_SOURCE_DIR"]
REPORT = os.path.join(BUILD, "tools", "nordic-report")
GEN = os.path.join(BUILD, "tools", "nordic-report-gen")
TRIAL = os.path.join(BUILD, "tools", "nordic-trial")
FIXTURE = os.path.join(BUILD, "tests", "nordic-test-trial-writer")
NORDICD = os.path.join(BUILD, "daemon", "nordicd")
EXAMPLE = os.path.join(SOURCE, "tools", "report", "nordic_report_example.py")
MDC = 76.0
MDC_PCT = 20.0
DAY = 86400
T0 = 1714566896  # 2024-05-01T12:34:56Z
failures = []

TRIAL_COLUMNS = (
    "file,trial_id,athlete_id,created_utc,date,status,metrics_source,software_version,"
    "device_model,device_serial,sample_rate_hz,samples,duration_s,lost_sets,body_mass_kg,"
    "lever_m,injured_side,reps,discarded_reps,max_left_N,max_right_N,mean_left_N,mean_right_N,"
    "asymmetry_pct,abs_asymmetry_pct,weaker_side,lsi_pct,torque_max_left_Nm,"
    "torque_max_right_Nm,rel_force_max_left_N_per_kg,rel_force_max_right_N_per_kg,"
    "impulse_left_Ns,impulse_right_Ns,flags,weak_left,weak_right,imbalance,pain,pain_rating,"
    "cutoff_hz,on_N,off_N,hold_s,min_rep_s,impulse_threshold_N,weak_threshold_N,"
    "imbalance_pct").split(",")
REP_COLUMNS = (
    "file,trial_id,athlete_id,created_utc,metrics_source,index,i_open,i_end,t_open_s,t_end_s,"
    "peak_left_N,peak_right_N,i_peak_left,i_peak_right,t_peak_left_s,t_peak_right_s,"
    "asymmetry_pct,abs_asymmetry_pct,weaker_side,lsi_pct,torque_left_Nm,torque_right_Nm,"
    "rel_force_left_N_per_kg,rel_force_right_N_per_kg,time_to_peak_left_s,"
    "time_to_peak_right_s,rfd_left_N_per_s,rfd_right_N_per_s,impulse_left_Ns,"
    "impulse_right_Ns").split(",")
TREND_COLUMNS = (
    "athlete_id,test_number,created_utc,date,days_since_first,trial_id,file,max_left_N,"
    "max_right_N,asymmetry_pct,change_first_left_N,change_first_right_N,"
    "change_first_asymmetry_pct,change_prev_left_N,change_prev_right_N,"
    "change_prev_asymmetry_pct,mdc_N,exceeds_mdc_first_left,exceeds_mdc_first_right,"
    "exceeds_mdc_prev_left,exceeds_mdc_prev_right,weak_left,weak_right,imbalance,"
    "mdc_pct,baseline_left_N,baseline_right_N,mdc_applied_left_N,mdc_applied_right_N,"
    "exceeds_mdc_applied_first_left,exceeds_mdc_applied_first_right,"
    "exceeds_mdc_applied_prev_left,exceeds_mdc_applied_prev_right,mean_rep_asymmetry_pct,"
    "weaker_side_by_reps,same_weaker_sessions").split(",")


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def num(text):
    return float(text)  # "NaN" parses too


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def read_csv(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        return header, [dict(zip(header, row)) for row in r]


def gen(dirname, *args):
    p = run([GEN, dirname] + [str(a) for a in args])
    check(p.returncode == 0, "nordic-report-gen %s: %s" % (args, p.stderr))
    return p.stdout.split()


def record_with_nordicd(dirname, tmp):
    state = os.path.join(tmp, "state")
    os.makedirs(state, exist_ok=True)
    p = run([NORDICD, "--device", "sim:?pace=0&reps=3&seed=11", "--record", "rec-1", "--tare",
             "--mass", "80", "--lever", "0.45", "--data-dir", dirname, "--state-dir", state,
             "--ctl", "ipc://%s/ctl" % state, "--pub", "ipc://%s/pub" % state])
    check(p.returncode == 0, "nordicd --record: %s" % p.stderr[-500:])


def stored(path):
    """What the file holds, read with h5py only."""
    with h5py.File(path, "r") as f:
        a = f.attrs
        reps = f["reps"][:]
        s = dict(f["reps"].attrs)
        return dict(a), reps, s


def make_bad_files(bad, tmp, good_file):
    """One file per failure kind; returns {file name: expected reason fragment}."""
    expect = {}
    with open(os.path.join(bad, "corrupt.h5"), "wb") as f:
        f.write(np.random.default_rng(5).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    expect["corrupt.h5"] = "not an HDF5 file"
    data = open(good_file, "rb").read()
    with open(os.path.join(bad, "truncated.h5"), "wb") as f:
        f.write(data[: len(data) * 2 // 5])
    expect["truncated.h5"] = ""
    shutil.copy(good_file, os.path.join(bad, "newer.h5"))
    with h5py.File(os.path.join(bad, "newer.h5"), "r+") as f:
        f.attrs["schema_version"] = np.int32(2)
    expect["newer.h5"] = "newer"
    with h5py.File(os.path.join(bad, "other.h5"), "w") as f:
        f.attrs["schema"] = "something-else"
        f.attrs["schema_version"] = np.int32(1)
    expect["other.h5"] = "schema 'something-else'"
    # Closed without a summary (status stays "recording"), then recovered: "interrupted".
    rec = os.path.join(tmp, "torecover")
    os.makedirs(rec)
    (p,) = gen(rec, "--athlete", "INT", "--incomplete", "--seed", 41, "--date", T0)
    p2 = run([TRIAL, "recover", rec])
    check(p2.returncode == 0, "nordic-trial recover: %s" % p2.stderr)
    shutil.move(p, os.path.join(bad, "interrupted.h5"))
    expect["interrupted.h5"] = "status 'interrupted'"
    (p,) = gen(bad, "--athlete", "NOSUM", "--incomplete", "--seed", 42, "--date", T0)
    expect[os.path.basename(p)] = "status 'recording'"
    with open(os.path.join(bad, ".hidden.h5"), "w") as f:
        f.write("ignored: hidden names are partial writer files")
    return expect


def check_trials(rows, files_meta):
    for row in rows:
        a, reps, s = files_meta[row["file"]]
        f = row["file"]
        for col, attr in [("trial_id", "trial_id"), ("athlete_id", "athlete_id"),
                          ("created_utc", "created_utc"), ("status", "status"),
                          ("software_version", "software_version"),
                          ("device_model", "device_model"), ("device_serial", "device_serial")]:
            check(row[col] == a[attr], "%s: %s %r != %r" % (f, col, row[col], a[attr]))
        check(row["date"] == a["created_utc"][:10], "%s: date" % f)
        check(row["metrics_source"] == "stored", "%s: metrics_source" % f)
        check(num(row["sample_rate_hz"]) == a["sample_rate_hz"], "%s: rate" % f)
        with h5py.File(f, "r") as h:
            n = h["samples/force_N"].shape[0]
            seq = h["samples/seq"][:]
        check(int(row["samples"]) == n, "%s: samples" % f)
        check(int(row["lost_sets"]) == int(np.sum(np.maximum(np.diff(seq.astype(np.int64)) - 1,
                                                             0))), "%s: lost_sets" % f)
        check(int(row["reps"]) == int(s["reps"]) == len(reps), "%s: reps" % f)
        for col in ["max_left_N", "max_right_N", "mean_left_N", "mean_right_N", "asymmetry_pct",
                    "abs_asymmetry_pct", "lsi_pct", "torque_max_left_Nm", "torque_max_right_Nm",
                    "rel_force_max_left_N_per_kg", "rel_force_max_right_N_per_kg"]:
            check(same(num(row[col]), float(s[col])),
                  "%s: %s %s != stored %r" % (f, col, row[col], s[col]))
        check(row["weaker_side"] == s["weaker_side"], "%s: weaker_side" % f)
        for leg in ("left", "right"):
            want = float(np.sum(reps["impulse_%s_Ns" % leg])) if len(reps) else 0.0
            check(abs(num(row["impulse_%s_Ns" % leg]) - want) <= 1e-9 * max(1, want),
                  "%s: impulse_%s_Ns %s != %r" % (f, leg, row["impulse_%s_Ns" % leg], want))
        flags = [k for k in ("weak_left", "weak_right", "imbalance", "pain") if s[k]]
        check(row["flags"] == ";".join(flags), "%s: flags %r != %r" % (f, row["flags"], flags))
        for k in ("weak_left", "weak_right", "imbalance", "pain"):
            check(int(row[k]) == int(s[k]), "%s: %s" % (f, k))
        check(int(row["pain_rating"]) == int(s["pain_rating"]), "%s: pain_rating" % f)
        check(num(row["cutoff_hz"]) == a["filter_cutoff_Hz"], "%s: cutoff" % f)
        check(num(row["weak_threshold_N"]) == a["weak_threshold_N"], "%s: weak thr" % f)


def check_reps(rows, files_meta):
    by_file = {}
    for row in rows:
        by_file.setdefault(row["file"], []).append(row)
    for f, (a, reps, s) in files_meta.items():
        got = by_file.get(f, [])
        check(len(got) == len(reps), "%s: %d rep rows, stored %d" % (f, len(got), len(reps)))
        for row, rep in zip(got, reps):
            for col in ("index", "i_open", "i_end", "i_peak_left", "i_peak_right"):
                check(int(row[col]) == int(rep[col]), "%s rep %s: %s" % (f, row["index"], col))
            for col in REP_COLUMNS[8:]:
                if col in ("i_peak_left", "i_peak_right"):
                    continue
                if col == "weaker_side":
                    check(row[col] == ["none", "left", "right"][int(rep[col])], "%s: side" % f)
                    continue
                check(same(num(row[col]), float(rep[col])),
                      "%s rep %s: %s %s != %r" % (f, row["index"], col, row[col], rep[col]))


def check_trends(rows, files_meta, mdc_pct=MDC_PCT):
    per = {}
    rep_rows = {}
    for f, (a, reps, s) in files_meta.items():
        per.setdefault(a["athlete_id"], []).append((a["created_utc"], f, s))
        rep_rows[f] = reps
    check(len(rows) == len(files_meta), "trend rows %d != %d" % (len(rows), len(files_meta)))
    seen_flag = {0: 0, 1: 0}
    seen_applied = {0: 0, 1: 0}
    by_key = {(r["athlete_id"], int(r["test_number"])): r for r in rows}
    for ath, tests in per.items():
        tests.sort()
        first = prev = None
        sides = []
        for k, (created, f, s) in enumerate(tests, 1):
            r = by_key.get((ath, k))
            check(r is not None and r["file"] == f, "%s test %d: order" % (ath, k))
            if r is None:
                continue
            check(r["created_utc"] == created, "%s test %d: date" % (ath, k))
            for leg in ("left", "right"):
                m = float(s["max_%s_N" % leg])
                check(num(r["max_%s_N" % leg]) == m, "%s test %d: max %s" % (ath, k, leg))
                for base, name in ((first, "first"), (prev, "prev")):
                    col = "change_%s_%s_N" % (name, leg)
                    if base is None:
                        check(math.isnan(num(r[col])), "%s test %d: %s on first" % (ath, k, col))
                        want_flag = 0
                    else:
                        d = m - float(base["max_%s_N" % leg])
                        check(abs(num(r[col]) - d) < 1e-9, "%s test %d: %s" % (ath, k, col))
                        want_flag = int(abs(d) > MDC)
                    flag = int(r["exceeds_mdc_%s_%s" % (name, leg)])
                    check(flag == want_flag, "%s test %d: exceeds_mdc_%s_%s" % (ath, k, name, leg))
                    if base is not None:
                        seen_flag[flag] += 1
                # MDC as % of the baseline (the first test): the larger one applies.
                baseline = float((first or s)["max_%s_N" % leg])
                applied = max(MDC, mdc_pct / 100.0 * baseline)
                check(abs(num(r["baseline_%s_N" % leg]) - baseline) < 1e-9
                      and abs(num(r["mdc_applied_%s_N" % leg]) - applied) < 1e-9,
                      "%s test %d: baseline/applied MDC %s" % (ath, k, leg))
                for base, name in ((first, "first"), (prev, "prev")):
                    want = 0 if base is None else int(abs(m - float(base["max_%s_N" % leg])) > applied)
                    got = int(r["exceeds_mdc_applied_%s_%s" % (name, leg)])
                    check(got == want, "%s test %d: exceeds_mdc_applied_%s_%s" % (ath, k, name, leg))
                    if base is not None:
                        seen_applied[got] += 1
            asym = [float(x) for x in rep_rows[f]["asymmetry_pct"] if math.isfinite(float(x))]
            mean = sum(asym) / len(asym) if asym else float("nan")
            side = "right" if mean > 0 else "left" if mean < 0 else "none"
            sides.append(side)
            check((math.isnan(mean) and math.isnan(num(r["mean_rep_asymmetry_pct"])))
                  or abs(num(r["mean_rep_asymmetry_pct"]) - mean) < 1e-9,
                  "%s test %d: mean_rep_asymmetry_pct" % (ath, k))
            check(r["weaker_side_by_reps"] == side, "%s test %d: weaker_side_by_reps" % (ath, k))
            want_same = 0 if side == "none" else sides.count(side)
            check(int(r["same_weaker_sessions"]) == want_same, "%s test %d: same_weaker_sessions" % (ath, k))
            if first is None:
                first = s
            prev = s
    check(seen_flag[0] > 0 and seen_flag[1] > 0,
          "trend data must exercise both sides of the MDC: %r" % seen_flag)
    check(all(num(r["mdc_pct"]) == mdc_pct for r in rows), "mdc_pct column")
    check(mdc_pct != MDC_PCT or (seen_applied[0] > 0 and seen_applied[1] > 0),
          "trend data must exercise both sides of the applied MDC: %r" % seen_applied)


def png_check(path, w, h, min_pixels):
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "%s: PNG signature" % path)
    pw, ph = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    check((pw, ph) == (w, h), "%s: %dx%d, want %dx%d" % (path, pw, ph, w, h))
    try:
        from PIL import Image  # Debian python3-pil, when present: look at the pixels
        img = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
        left = np.sum(np.all(np.abs(img.astype(int) - [31, 120, 181]) < 30, axis=1))
        right = np.sum(np.all(np.abs(img.astype(int) - [214, 38, 41]) < 30, axis=1))
        check(left > min_pixels and right > min_pixels, "%s: %d left / %d right pixels" % (path, left, right))
    except ImportError:
        idat, pos = b"", 8
        while pos < len(data):
            n = int.from_bytes(data[pos:pos + 4], "big")
            if data[pos + 4:pos + 8] == b"IDAT":
                idat += data[pos + 8:pos + 8 + n]
            pos += 12 + n
        raw = zlib.decompress(idat)
        check(len(set(raw)) > 20, "%s: image looks blank" % path)


def svg_check(path):
    size = os.path.getsize(path)
    check(size > 5000, "%s: only %d bytes" % (path, size))
    root = ET.parse(path).getroot()
    paths = sum(1 for e in root.iter() if e.tag.endswith("path"))
    check(paths > 10, "%s: %d path elements" % (path, paths))


def main():
    tmp = tempfile.mkdtemp(prefix="report-", dir=os.environ.get("TMPDIR"))
    good = os.path.join(tmp, "good")
    allf = os.path.join(tmp, "all", "nested")
    os.makedirs(good)
    os.makedirs(allf)
    # A1: three tests a week apart, large and small changes; A2 pain; A3 weak; A4 imbalance.
    for k, (l, r) in enumerate([(300, 290), (450, 300), (460, 230)]):
        gen(good, "--athlete", "A1", "--date", T0 + 7 * DAY * k, "--left", l, "--right", r,
            "--seed", 10 + k, "--seconds", 30)
    gen(good, "--athlete", "A2", "--date", T0, "--pain", 5, "--seed", 20)
    gen(good, "--athlete", "A3", "--date", T0 + DAY, "--left", 200, "--right", 190,
        "--seed", 30, "--mass", 0, "--lever", 0)
    gen(good, "--athlete", "A4", "--date", T0 + 2 * DAY, "--left", 350, "--right", 250,
        "--seed", 31, "--rate", 200, "--seconds", 40, "--reps", 4)
    record_with_nordicd(good, tmp)
    good_files = sorted(os.path.join(good, n) for n in os.listdir(good) if n.endswith(".h5"))
    check(len(good_files) == 7, "expected 7 good files, got %d" % len(good_files))
    files_meta = {f: stored(f) for f in good_files}

    # 1. Only good files: exit 0, every table checked against h5py.
    out = os.path.join(tmp, "out-good")
    p = run([REPORT, "-o", out, "--no-progress", good])
    check(p.returncode == 0, "good run exit %d: %s" % (p.returncode, p.stderr))
    header, trials = read_csv(os.path.join(out, "trials.csv"))
    check(header == TRIAL_COLUMNS, "trials.csv columns: %s" % header)
    check(sorted(r["file"] for r in trials) == good_files, "trials.csv files")
    check_trials(trials, files_meta)
    header, reps = read_csv(os.path.join(out, "reps.csv"))
    check(header == REP_COLUMNS, "reps.csv columns: %s" % header)
    check_reps(reps, files_meta)
    # Every rep row starts with its trial's identity, as the trials row does.
    by_file = {r["file"]: r for r in trials}
    check(reps and all(r["metrics_source"] == "stored" and r["file"] in by_file and
                       r["trial_id"] == by_file[r["file"]]["trial_id"] and
                       r["athlete_id"] == by_file[r["file"]]["athlete_id"] and
                       r["created_utc"] == by_file[r["file"]]["created_utc"] for r in reps),
          "reps.csv rows carry their trial's file, ids, creation time and metrics source")
    header, trends = read_csv(os.path.join(out, "trends.csv"))
    check(header == TREND_COLUMNS, "trends.csv columns: %s" % header)
    check_trends(trends, files_meta)
    # MDC as 60 % of the baseline: A1's first change of 150 N on the left leg
    # (baseline 300 N -> 180 N applied) is beyond 76 N but not beyond 180 N.
    p = run([REPORT, "-o", out + "-pct", "--no-progress", "--mdc-pct", "60", good])
    check(p.returncode == 0, "--mdc-pct run: %s" % p.stderr)
    _, trends_pct = read_csv(os.path.join(out + "-pct", "trends.csv"))
    check_trends(trends_pct, files_meta, 60.0)
    a1 = [r for r in trends_pct if r["athlete_id"] == "A1" and r["test_number"] == "2"]
    check(a1 and a1[0]["exceeds_mdc_first_left"] == "1" and a1[0]["exceeds_mdc_applied_first_left"] == "0",
          "the %% MDC can be the one that applies: %s" % a1)
    flags = {r["athlete_id"]: r["flags"] for r in trials}
    check(flags.get("A2") == "pain", "A2 flags %r" % flags.get("A2"))
    check(flags.get("A3") == "weak_left;weak_right", "A3 flags %r" % flags.get("A3"))
    check(flags.get("A4") == "imbalance", "A4 flags %r" % flags.get("A4"))
    a3 = [r for r in trials if r["athlete_id"] == "A3"][0]
    check(a3["torque_max_left_Nm"] == "NaN" and a3["rel_force_max_left_N_per_kg"] == "NaN",
          "A3 without lever/mass: NaN torque and N/kg")
    doc = json.load(open(os.path.join(out, "trials.json")))
    check(doc["format"] == "nordic-report" and len(doc["trials"]) == 7 and not doc["skipped"],
          "trials.json shape")
    by_file = {t["file"]: t for t in doc["trials"]}
    for row in trials:
        t = by_file[row["file"]]
        for col in TRIAL_COLUMNS:
            if col == "flags":
                check(";".join(t["flags"]) == row[col], "json flags")
            elif col in ("weak_left", "weak_right", "imbalance", "pain"):
                check(int(t[col]) == int(row[col]), "json %s" % col)
            elif col in ("cutoff_hz", "on_N", "off_N", "hold_s", "min_rep_s",
                         "impulse_threshold_N", "weak_threshold_N", "imbalance_pct"):
                check(t["settings"][col] == num(row[col]), "json settings %s" % col)
            elif col == "pain_rating":
                check((t[col] if t[col] is not None else -1) == int(row[col]), "json pain")
            elif isinstance(t[col], str):
                check(t[col] == row[col], "json %s %r != %r" % (col, t[col], row[col]))
            elif t[col] is None:
                check(row[col] == "NaN", "json null %s but csv %s" % (col, row[col]))
            else:
                check(t[col] == num(row[col]), "json %s %r != %s" % (col, t[col], row[col]))
        check(len(t["rep_list"]) == int(row["reps"]), "json rep_list length")

    # 2. Mixed folder (recursive) with every kind of bad file: skipped, one line each, exit 1.
    for f in good_files:
        shutil.copy(f, allf)
    expect = make_bad_files(allf, tmp, good_files[0])
    out = os.path.join(tmp, "out-all")
    p = run([REPORT, "-o", out, "--no-progress", os.path.join(tmp, "all")])
    check(p.returncode == 1, "mixed run exit %d (want 1)" % p.returncode)
    lines = [ln for ln in p.stderr.splitlines() if "skipped " in ln and ln.startswith(
        "nordic-report: skipped")]
    check(len(lines) == len(expect), "skip lines %d != %d:\n%s" % (len(lines), len(expect),
                                                                   p.stderr))
    for name, frag in expect.items():
        match = [ln for ln in lines if ("/" + name + ":") in ln]
        check(len(match) == 1 and frag in match[0], "skip line for %s: %r" % (name, match))
    check(".hidden.h5" not in p.stderr, "hidden files are ignored")
    check("7 processed, %d skipped" % len(expect) in p.stderr, "summary line: %s" % p.stderr)
    _, trials_all = read_csv(os.path.join(out, "trials.csv"))
    check(len(trials_all) == 7, "mixed run processed %d" % len(trials_all))
    doc = json.load(open(os.path.join(out, "trials.json")))
    check(len(doc["skipped"]) == len(expect) and all(s["reason"] for s in doc["skipped"]),
          "json skipped list")

    # 3. --include-incomplete: interrupted / unfinished trials recomputed; equal to their
    # live-written /reps rows.
    out = os.path.join(tmp, "out-incomplete")
    p = run([REPORT, "-o", out, "--no-progress", "--include-incomplete",
             os.path.join(tmp, "all")])
    check(p.returncode == 1, "incomplete run exit %d (4 bad files remain)" % p.returncode)
    _, rows = read_csv(os.path.join(out, "trials.csv"))
    inc = [r for r in rows if r["status"] != "complete"]
    check(len(inc) == 2 and all(r["metrics_source"] == "recomputed" for r in inc),
          "incomplete trials processed: %r" % [(r["file"], r["status"]) for r in inc])
    check({r["status"] for r in inc} == {"interrupted", "recording"}, "statuses")
    for r in inc:
        with h5py.File(r["file"], "r") as h:
            live = h["reps"][:]
        check(int(r["reps"]) == len(live) > 0, "%s: reps" % r["file"])
        if len(live):
            check(num(r["max_left_N"]) == float(np.max(live["peak_left_N"])),
                  "%s: recomputed max equals live rows" % r["file"])

    # 4. --compare: recomputation equals the stored values for nordicd-made files;
    # the fixture writer's invented reps are caught (exit bit 4).
    out = os.path.join(tmp, "out-compare")
    p = run([REPORT, "-o", out, "--no-progress", "--compare", good])
    check(p.returncode == 0, "compare exit %d: %s" % (p.returncode, p.stderr))
    header, cmp_rows = read_csv(os.path.join(out, "compare.csv"))
    check(header == "file,trial_id,metric,stored,recomputed,difference,match".split(","),
          "compare.csv columns")
    check(len(cmp_rows) > 7 * 11 and all(r["match"] == "1" for r in cmp_rows),
          "compare: all match (%d rows)" % len(cmp_rows))
    fx = os.path.join(tmp, "fixture")
    os.makedirs(fx)
    run([FIXTURE, "fixed", fx, "2", "5000"])
    p = run([REPORT, "-o", out, "--no-progress", "--compare", fx])
    check(p.returncode == 4, "compare mismatch exit %d (want 4)" % p.returncode)
    _, cmp_rows = read_csv(os.path.join(out, "compare.csv"))
    check(any(r["metric"] == "max_left_N" and r["match"] == "0" for r in cmp_rows),
          "compare lists the differing max_left_N")

    # 5. Recompute with another cut-off: more smoothing, lower peaks, settings recorded.
    out = os.path.join(tmp, "out-set")
    p = run([REPORT, "-o", out, "--no-progress", "--set", "cutoff_hz=2", good])
    check(p.returncode == 0, "--set exit %d: %s" % (p.returncode, p.stderr))
    _, rows = read_csv(os.path.join(out, "trials.csv"))
    for r in rows:
        s = files_meta[r["file"]][2]
        check(r["metrics_source"] == "recomputed" and num(r["cutoff_hz"]) == 2,
              "%s: --set recorded" % r["file"])
        check(num(r["max_left_N"]) < float(s["max_left_N"]),
              "%s: 2 Hz peak %s not below stored %r" % (r["file"], r["max_left_N"],
                                                       s["max_left_N"]))
    p = run([REPORT, "-o", out, "--no-progress", "--set", "weak_threshold_N=400", good])
    _, rows = read_csv(os.path.join(out, "trials.csv"))
    a1 = [r for r in rows if r["athlete_id"] == "A1"]
    check(any("weak_right" in r["flags"] for r in a1), "weak threshold 400 flags A1")

    # 6. Glob input expanded by the tool.
    out = os.path.join(tmp, "out-glob")
    p = run([REPORT, "-o", out, "--no-progress", os.path.join(good, "A1_*.h5")])
    _, rows = read_csv(os.path.join(out, "trials.csv"))
    check(p.returncode == 0 and len(rows) == 3, "glob: %d rows, exit %d" % (len(rows),
                                                                         p.returncode))

    # 7. Bad options and inputs: clear errors.
    cases = [
        ([REPORT, "-o", out], 2, "no input"),
        ([REPORT, "-o", out, "--set", "nosuch=1", good], 2, "nosuch"),
        ([REPORT, "-o", out, "--set", "on_N=abc", good], 2, "not a finite number"),
        ([REPORT, "-o", out, "--set", "imbalance_pct=500", good], 2, "imbalance_pct"),
        ([REPORT, "-o", out, "--plots=gif", good], 2, "png, svg"),
        ([REPORT, "-o", out, "--jobs", "0", good], 2, "--jobs"),
        ([REPORT, "-o", "/proc/nordic-report-out", good], 2, "cannot create output folder"),
        ([REPORT, "-o", out, "--no-progress", os.path.join(tmp, "missing.h5")], 1,
         "No such file"),
        ([REPORT, "-o", out, "--no-progress", "--set", "off_N=500", good_files[0]], 1,
         "off_N"),
    ]
    for cmd, rc, frag in cases:
        p = run(cmd)
        check(p.returncode == rc and frag in p.stderr,
              "%s: exit %d (want %d), stderr %r" % (cmd[3:], p.returncode, rc, p.stderr[-300:]))

    # 8. Pictures: a force-time plot per trial, a trend plot per athlete, PNG and SVG.
    out = os.path.join(tmp, "out-plots")
    p = run([REPORT, "-o", out, "--no-progress", "--plots", good])
    check(p.returncode == 0, "plots exit %d: %s" % (p.returncode, p.stderr))
    for f in good_files:
        stem = os.path.basename(f)[:-3]
        png_check(os.path.join(out, "plots", stem + ".png"), 1200, 560, 1000)
        svg_check(os.path.join(out, "plots", stem + ".svg"))
    for ath in ("A1", "A2", "A3", "A4", "rec-1"):
        png_check(os.path.join(out, "plots", ath + "_trend.png"), 1000, 760, 60)
        svg_check(os.path.join(out, "plots", ath + "_trend.svg"))
    check(not [n for n in os.listdir(os.path.join(out, "plots")) if n.endswith(".tmp")],
          "no temporary plot files left")

    # 9. The h5py + numpy example agrees with the C tool's recomputation.
    out = os.path.join(tmp, "out-recompute")
    p = run([REPORT, "-o", out, "--no-progress", "--recompute", os.path.join(tmp, "all")])
    _, c_rows = read_csv(os.path.join(out, "trials.csv"))
    ex_csv = os.path.join(tmp, "example.csv")
    p = run(["/usr/bin/python3", EXAMPLE, "--csv", ex_csv, os.path.join(tmp, "all")])
    check(p.returncode == 1, "example exit %d (bad files present): %s" % (p.returncode,
                                                                         p.stderr[-300:]))
    check(p.stderr.count("skipped") == len(expect), "example skips: %s" % p.stderr)
    _, py_rows = read_csv(ex_csv)
    py = {r["file"]: r for r in py_rows}
    check(len(py) == len(c_rows) == 7, "example rows %d, C rows %d" % (len(py), len(c_rows)))
    for r in c_rows:
        q = py.get(r["file"])
        if q is None:
            check(False, "example lacks %s" % r["file"])
            continue
        check(int(q["reps"]) == int(r["reps"]) and int(q["discarded_reps"]) == int(
            r["discarded_reps"]), "%s: reps %s vs %s" % (r["file"], q["reps"], r["reps"]))
        for col in ("max_left_N", "max_right_N", "mean_left_N", "mean_right_N",
                    "asymmetry_pct", "impulse_left_Ns", "impulse_right_Ns"):
            a, b = num(q[col]), num(r[col])
            check(same(a, b) or abs(a - b) <= 1e-6 * max(1.0, abs(b)),
                  "%s: %s python %r vs C %r" % (r["file"], col, a, b))
        check(q["weaker_side"] == r["weaker_side"], "%s: weaker side" % r["file"])

    if not failures:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_report: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
