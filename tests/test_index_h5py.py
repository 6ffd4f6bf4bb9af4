"""Trial index (tools/index/INDEX.md) against independent readers: trial files
written by nordic-report-gen and the fixture writer (incl. a crashed and a
recovered trial, 3 channels, an injured side, several events) are indexed
with `nordic-trial index`; every trials/reps/events row is read back with
Python's sqlite3 and compared with the file read by h5py. Also: damaged and
foreign files are listed as such, `--rebuild` yields exactly the rows of the
incremental runs, bad command lines fail with a message."""
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nordic_testlib import BUILD, check, finish  # noqa: E402

GEN = os.path.join(BUILD, "tools", "nordic-report-gen")
TRIAL = os.path.join(BUILD, "tools", "nordic-trial")
FIXTURE = os.path.join(BUILD, "tests", "nordic-test-trial-writer")
T0 = 1714566896  # 2024-05-01T12:34:56Z


def run(*args, ok=True):
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        print(p.stdout, p.stderr, file=sys.stderr)
    return p


def same(db_value, h5_value, what):
    """A stored value equals the file's: NaN is NULL, numbers bit-exact."""
    if isinstance(h5_value, (bytes, np.bytes_)):
        h5_value = h5_value.decode()
    if isinstance(h5_value, (float, np.floating)) and math.isnan(h5_value):
        return check(db_value is None, "%s: NaN stored as NULL, got %r" % (what, db_value))
    if isinstance(h5_value, (np.integer, int)):
        return check(db_value == int(h5_value), "%s: %r != %r" % (what, db_value, h5_value))
    if isinstance(h5_value, (np.floating, float)):
        return check(db_value == float(h5_value), "%s: %r != %r" % (what, db_value, h5_value))
    return check(db_value == h5_value, "%s: %r != %r" % (what, db_value, h5_value))


def sides(dtype_field):
    return {v: k for k, v in h5py.check_enum_dtype(dtype_field).items()}


SETTING_ATTRS = {
    "filter_cutoff_Hz": "filter_cutoff_Hz", "rep_on_N": "rep_on_N", "rep_off_N": "rep_off_N",
    "rep_hold_s": "rep_hold_s", "rep_min_s": "rep_min_s",
    "impulse_threshold_N": "impulse_threshold_N", "weak_threshold_N": "weak_threshold_N",
    "imbalance_threshold_pct": "imbalance_threshold_pct", "tare_window_s": "tare_window_s",
    "flush_interval_s": "flush_interval_s", "body_mass_kg": "body_mass_kg",
    "lever_m": "lever_m", "sample_rate_hz": "sample_rate_hz",
}
SUMMARY_ATTRS = [
    "reps", "discarded_reps", "max_left_N", "max_right_N", "mean_left_N", "mean_right_N",
    "asymmetry_pct", "abs_asymmetry_pct", "lsi_pct", "torque_max_left_Nm",
    "torque_max_right_Nm", "rel_force_max_left_N_per_kg", "rel_force_max_right_N_per_kg",
    "weak_left", "weak_right", "imbalance", "pain", "pain_rating", "samples",
    "nonfinite_skipped",
]


def compare_trial(db, path):
    name = os.path.basename(path)
    row = db.execute("SELECT * FROM trials WHERE file_name = ?", (name,)).fetchone()
    if not check(row is not None, "%s is indexed" % name):
        return
    st = os.stat(path)
    same(row["file_size"], st.st_size, name + " file_size")
    same(row["file_mtime_ns"], st.st_mtime_ns, name + " file_mtime_ns")
    swmr = row["status"] == "recording"
    with h5py.File(path, "r", swmr=swmr) as f:
        a = f.attrs
        for col in ("trial_id", "athlete_id", "status", "created_utc", "software_version",
                    "device_model", "device_serial", "device_firmware",
                    "calibration_device_serial", "injured_side", "protocol", "notes"):
            same(row[col], a[col], "%s %s" % (name, col))
        for col in ("closed_utc", "recovered_utc"):
            same(row[col], a[col] if col in a else None, "%s %s" % (name, col))
        same(row["created_unix_s"], a["created_unix_s"], name + " created_unix_s")
        same(row["schema_version"], a["schema_version"], name + " schema_version")
        same(row["nch"], a["nch"], name + " nch")
        same(row["left_channel"], a["left_channel"], name + " left_channel")
        same(row["right_channel"], a["right_channel"], name + " right_channel")
        for col, attr in SETTING_ATTRS.items():
            same(row[col], a[attr], "%s %s" % (name, col))
        import json
        check(json.loads(row["channel_names"]) == [str(x) for x in a["channel_names"]],
              name + " channel_names")
        for col in ("device_counts_per_newton", "calibration_offset_counts",
                    "calibration_gain_N_per_count"):
            check(json.loads(row[col]) == [float(x) for x in a[col]], "%s %s" % (name, col))
        n = min(f["samples/raw"].shape[0], f["samples/force_N"].shape[0],
                f["samples/seq"].shape[0])
        same(row["samples"], n, name + " samples")
        reps = f["reps"][:]
        events = f["events"][:]
        same(row["rep_count"], len(reps), name + " rep_count")
        same(row["event_count"], len(events), name + " event_count")
        s = f["reps"].attrs
        has = "max_left_N" in s
        same(row["has_summary"], 1 if has else 0, name + " has_summary")
        for attr in SUMMARY_ATTRS:
            same(row["s_" + attr], s[attr] if has else None, "%s summary %s" % (name, attr))
        same(row["s_weaker_side"], s["weaker_side"] if has else None, name + " s_weaker_side")
        side_names = sides(f["reps"].dtype["weaker_side"])
        db_reps = db.execute("SELECT * FROM reps WHERE file_name = ? ORDER BY row",
                             (name,)).fetchall()
        check(len(db_reps) == len(reps), "%s: %d rep rows" % (name, len(reps)))
        for i, (dr, hr) in enumerate(zip(db_reps, reps)):
            for field in reps.dtype.names:
                if field == "weaker_side":
                    same(dr[field], side_names[hr[field]], "%s rep %d %s" % (name, i, field))
                else:
                    same(dr[field], hr[field], "%s rep %d %s" % (name, i, field))
        db_ev = db.execute("SELECT * FROM events WHERE file_name = ? ORDER BY row",
                           (name,)).fetchall()
        check(len(db_ev) == len(events), "%s: %d events" % (name, len(events)))
        for i, (de, he) in enumerate(zip(db_ev, events)):
            same(de["t_s"], he["t_s"], "%s event %d t_s" % (name, i))
            same(de["kind"], he["kind"].split(b"\0")[0], "%s event %d kind" % (name, i))
            same(de["detail"], he["detail"].split(b"\0")[0], "%s event %d detail" % (name, i))


def dump(db_path):
    db = sqlite3.connect(db_path)
    out = []
    for t, key in (("trials", "file_name"), ("reps", "file_name, row"),
                   ("events", "file_name, row")):
        out.append(db.execute("SELECT * FROM %s ORDER BY %s" % (t, key)).fetchall())
    db.close()
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="index_h5py.", dir=os.environ.get("TMPDIR"))
    data = os.path.join(tmp, "trials")
    os.mkdir(data)
    db_path = os.path.join(tmp, "index.sqlite3")
    index = [TRIAL, "index", "--db", db_path, "--data-dir", data]

    # Round 1: generated trials (3 per athlete a week apart, pain, different peaks).
    paths = []
    for athlete, left, right, pain in (("ath-1", 330, 300, 2), ("ath-2", 250, 310, 6)):
        p = run(GEN, data, "--athlete", athlete, "--date", str(T0), "--count", "3",
                "--left", str(left), "--right", str(right), "--pain", str(pain))
        check(p.returncode == 0, "nordic-report-gen runs")
        paths += p.stdout.split()
    p = run(GEN, data, "--athlete", "ath-3", "--date", str(T0), "--incomplete", "--mass", "0",
            "--lever", "0")
    paths += p.stdout.split()
    p = run(*index)
    check(p.returncode == 0 and "7 file(s)" in p.stdout, "first index run: %r" % p.stdout)

    # Round 2: more files after the first run (incremental): the fixture
    # writer's 3-channel trial (injured side, 4 events, Unicode notes), a
    # crashed trial (killed while recording: SWMR-open, "recording") ...
    p = run(FIXTURE, "fixed", data, "3", "20000")
    check(p.returncode == 0, "fixture writer runs")
    paths.append(p.stdout.split()[0])
    progress = os.path.join(tmp, "progress")
    w = subprocess.Popen([FIXTURE, "stream", data, "2", "0.05", progress],
                         stdout=subprocess.PIPE, text=True)
    crashed = w.stdout.readline().strip()
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(progress) and len(open(progress).read().split()) >= 3:
            break
        time.sleep(0.05)
    w.send_signal(signal.SIGKILL)
    w.wait()
    w.stdout.close()
    paths.append(crashed)
    # ... damaged and foreign files.
    with open(paths[0], "rb") as f:
        head = f.read(3000)
    with open(os.path.join(data, "ath-1_20240601T000000Z_cut.h5"), "wb") as f:
        f.write(head)
    with open(os.path.join(data, "ath-1_20240602T000000Z_zero.h5"), "wb"):
        pass
    with open(os.path.join(data, "readme.h5"), "w") as f:
        f.write("not a trial\n")
    with h5py.File(os.path.join(data, "other.h5"), "w") as f:
        f.attrs["schema"] = "someone-else"
        f["x"] = np.arange(3)
    p = run(*index)
    check(p.returncode == 0 and "6 file(s)" in p.stdout, "incremental run: %r" % p.stdout)

    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    st = dict(db.execute("SELECT file_name, status FROM trials").fetchall())
    check(st.get(os.path.basename(crashed)) == "recording", "crashed trial listed as recording")
    check(st.get("ath-1_20240601T000000Z_cut.h5") == "damaged", "truncated file is damaged")
    check(st.get("ath-1_20240602T000000Z_zero.h5") == "damaged", "empty file is damaged")
    check(st.get("readme.h5") == "foreign", "text file is foreign")
    check(st.get("other.h5") == "foreign", "other HDF5 schema is foreign")
    err = db.execute("SELECT error FROM trials WHERE file_name = 'other.h5'").fetchone()[0]
    check("someone-else" in err, "foreign error names the schema: %r" % err)
    for path in paths:
        compare_trial(db, path)
    db.close()

    # Round 3: recovery marks the crashed trial interrupted; the next run
    # re-reads the changed file; one file deleted goes away.
    # (recover also reports the damaged and foreign files as failures: exit 1)
    p = run(TRIAL, "recover", data, ok=False)
    check("recovered        %s" % os.path.basename(crashed) in p.stdout,
          "nordic-trial recover repaired the crashed trial: %r" % p.stdout)
    os.unlink(paths[1])
    gone = os.path.basename(paths[1])
    paths.pop(1)
    p = run(*index)
    check(p.returncode == 0, "run after recover: %r" % p.stdout)
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    check(db.execute("SELECT status FROM trials WHERE file_name = ?",
                     (os.path.basename(crashed),)).fetchone()[0] == "interrupted",
          "recovered trial is interrupted")
    check(db.execute("SELECT count(*) FROM trials WHERE file_name = ?", (gone,)).fetchone()[0]
          == 0, "deleted file's row removed")
    check(db.execute("SELECT count(*) FROM reps WHERE file_name = ?", (gone,)).fetchone()[0]
          == 0, "deleted file's reps removed")
    for path in paths:
        compare_trial(db, path)
    # WAL journal in the database's directory.
    check(db.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "WAL journal")
    db.close()

    # Rebuild equals incremental: same rows in a fresh database and in place.
    incremental = dump(db_path)
    fresh = os.path.join(tmp, "fresh.sqlite3")
    p = run(TRIAL, "index", "--db", fresh, "--data-dir", data, "--rebuild")
    check(p.returncode == 0, "rebuild into a fresh database")
    check(dump(fresh) == incremental, "rebuild (fresh database) == incremental rows")
    p = run(*index, "--rebuild")
    check(p.returncode == 0, "rebuild in place")
    check(dump(db_path) == incremental, "rebuild (in place) == incremental rows")
    check(sum(len(t) for t in incremental) > 0, "the compared tables are not empty")

    # Bad command lines: a message, exit status 1 or 2, the index untouched.
    p = run(TRIAL, "index", "--db", db_path, "--data-dir", os.path.join(tmp, "missing"), ok=False)
    check(p.returncode == 1 and "missing" in p.stderr, "missing data dir: %r" % p.stderr)
    p = run(TRIAL, "index", "--bogus", ok=False)
    check(p.returncode == 2 and "--bogus" in p.stderr, "unknown option: %r" % p.stderr)
    p = run(TRIAL, "index", "--db", ok=False)
    check(p.returncode == 2, "--db without a path")
    check(dump(db_path) == incremental, "failed runs left the index as it was")
    finish("test_index_h5py")


main()
