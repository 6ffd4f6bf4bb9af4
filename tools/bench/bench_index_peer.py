"""Peer for nordic-bench-index (same run, same files and database).

rebuild DATA_DIR DB: h5py reads every trial file's root attributes, summary,
/reps and /events and inserts them with Python's sqlite3 into the index's own
tables (schema copied from the C index next to DB); prints files/s.
pgquery URL N SINCE: psycopg2 runs the same SQL as nordic-bench-index's libpq
part (rows fetched, no JSON); prints p50/p99 per kind.
query DB N CURSOR SINCE: Python's sqlite3 + json run the SQL nd_api runs for each
query kind N times (as nd_api, the planner is told when modified_since is
selective); prints p50/p99 per kind."""
import json
import math
import os
import random
import sqlite3
import sys
import time

import h5py

SETTINGS = ["filter_cutoff_Hz", "rep_on_N", "rep_off_N", "rep_hold_s", "rep_min_s",
            "impulse_threshold_N", "weak_threshold_N", "imbalance_threshold_pct",
            "tare_window_s", "flush_interval_s"]
SUMMARY = ["reps", "discarded_reps", "max_left_N", "max_right_N", "mean_left_N", "mean_right_N",
           "asymmetry_pct", "abs_asymmetry_pct", "weaker_side", "lsi_pct", "torque_max_left_Nm",
           "torque_max_right_Nm", "rel_force_max_left_N_per_kg", "rel_force_max_right_N_per_kg",
           "weak_left", "weak_right", "imbalance", "pain", "pain_rating", "samples",
           "nonfinite_skipped"]


def py(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def rebuild(data, db_path):
    src = sqlite3.connect(os.path.join(os.path.dirname(db_path), "ingest.sqlite"))
    schema = [r[0] for r in src.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")]
    src.close()
    if os.path.exists(db_path):
        os.unlink(db_path)
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for sql in schema:
        db.execute(sql)
    names = sorted(n for n in os.listdir(data) if n.endswith(".h5") and not n.startswith("."))
    t0 = time.perf_counter()
    for name in names:
        path = os.path.join(data, name)
        st = os.stat(path)
        with h5py.File(path, "r") as f:
            a = f.attrs
            s = f["reps"].attrs
            n = min(f["samples/raw"].shape[0], f["samples/force_N"].shape[0],
                    f["samples/seq"].shape[0])
            reps = f["reps"][:]
            events = f["events"][:]
            sides = {v: k for k, v in h5py.check_enum_dtype(f["reps"].dtype["weaker_side"]).items()}
            row = [name, py(a["trial_id"]), py(a["athlete_id"]), py(a["status"]), None,
                   st.st_size, st.st_mtime_ns, py(a["schema_version"]), py(a["created_utc"]),
                   py(a["created_unix_s"]), py(a["closed_utc"]) if "closed_utc" in a else None,
                   None, py(a["software_version"]), py(a["device_model"]),
                   py(a["device_serial"]), py(a["device_firmware"]),
                   json.dumps([py(x) for x in a["device_counts_per_newton"]]),
                   py(a["sample_rate_hz"]), py(a["nch"]),
                   json.dumps([py(x) for x in a["channel_names"]]), py(a["left_channel"]),
                   py(a["right_channel"]),
                   json.dumps([py(x) for x in a["calibration_offset_counts"]]),
                   json.dumps([py(x) for x in a["calibration_gain_N_per_count"]]),
                   py(a["calibration_device_serial"]), py(a["body_mass_kg"]), py(a["lever_m"]),
                   py(a["injured_side"])] + [py(a[k]) for k in SETTINGS] + [
                   py(a["protocol"]), py(a["notes"]), n, len(reps), len(events),
                   1 if "max_left_N" in s else 0] + [
                   py(s[k]) if k in s else None for k in SUMMARY]
            db.execute("INSERT OR REPLACE INTO trials VALUES (%s)" % ",".join("?" * len(row)), row)
            for i, r in enumerate(reps):
                vals = [name] + [sides[r[k]] if k == "weaker_side" else py(r[k])
                                 for k in reps.dtype.names] + [i]
                db.execute("INSERT INTO reps VALUES (%s)" % ",".join("?" * len(vals)), vals)
            for i, e in enumerate(events):
                db.execute("INSERT INTO events VALUES (?,?,?,?,?)",
                           (name, i, py(e["t_s"]), e["kind"].split(b"\0")[0].decode(),
                            e["detail"].split(b"\0")[0].decode()))
        db.commit()
    dt = time.perf_counter() - t0
    print("  peer rebuild (h5py + Python sqlite3): %.0f files/s (%d files in %.2f s)"
          % (len(names) / dt, len(names), dt))


ITEM = ("trial_id, athlete_id, file_name, status, error, created_utc, closed_utc, recovered_utc,"
        " sample_rate_hz, nch, samples, rep_count, event_count, protocol, file_size,"
        " file_mtime_ns, has_summary, " + ", ".join("s_" + k for k in SUMMARY) +
        ", created_unix_s")


def pctl(v, p):
    v = sorted(v)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def query(db_path, n, cursor, since):
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    ids = [r[0] for r in db.execute("SELECT trial_id FROM trials WHERE file_name LIKE 'ath-%'")]
    rows = db.execute("SELECT count(*) FROM trials").fetchone()[0]
    weeks = max(1, rows // max(1, len(ids)))
    plain = bytes.fromhex(cursor[2:]).decode() if cursor else "0|"
    c_created, c_name = plain.split("|", 1)
    base = "SELECT %s FROM trials WHERE 1=1 %%s ORDER BY created_unix_s DESC, file_name DESC LIMIT 101" % ITEM
    rnd = random.Random(12345)

    def lst(where, args):
        items = [dict(r) for r in db.execute(base % where, args).fetchall()[:100]]
        return json.dumps({"items": items})

    def detail(tid):
        t = dict(db.execute("SELECT * FROM trials WHERE trial_id = ? ORDER BY file_name LIMIT 1",
                            (tid,)).fetchone())
        t["reps"] = [dict(r) for r in db.execute(
            "SELECT * FROM reps WHERE file_name = ? ORDER BY row", (t["file_name"],))]
        t["events"] = [dict(r) for r in db.execute(
            "SELECT * FROM events WHERE file_name = ? ORDER BY row", (t["file_name"],))]
        return json.dumps(t)

    kinds = [
        ("list newest 100", lambda: lst("", ())),
        ("athlete filter", lambda: lst("AND athlete_id = ?", ("ath-%04d" % rnd.randrange(1000),))),
        ("from/to week", lambda: (lambda f: lst("AND created_unix_s >= ? AND created_unix_s < ?",
                                                (f, f + 604800)))(
            1714566896 + rnd.randrange(weeks) * 604800)),
        ("modified_since (1 %)", lambda: lst("AND likelihood(file_mtime_ns >= ?, 0.0001)",
                                             (since * 10 ** 9,))),
        ("page 2 via cursor", lambda: lst(
            "AND (created_unix_s < ? OR (created_unix_s = ? AND file_name < ?))",
            (int(c_created), int(c_created), c_name))),
        ("one trial (detail)", lambda: detail(rnd.choice(ids))),
        ("status, all modified", lambda: lst("AND file_mtime_ns >= ? AND status = ?",
                                             (0, "complete"))),
    ]
    print("  %-24s %10s %10s   (peer: Python sqlite3 + json, same SQL)" % ("query", "p50 ms",
                                                                             "p99 ms"))
    for name, fn in kinds:
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            lat.append(time.perf_counter() - t0)
        print("  %-24s %10.3f %10.3f" % (name, pctl(lat, 50) * 1e3, pctl(lat, 99) * 1e3))


PG_ITEM = ("SELECT trial_id, athlete_id, file_name, status, created_utc, samples, rep_count, "
           "s_max_left_n, s_max_right_n, s_asymmetry_pct, s_pain_rating, created_unix_s, "
           "station_id FROM nordic_trials ")
PG_ORDER = " ORDER BY created_unix_s DESC, station_id DESC, file_name DESC LIMIT 101"


def pgquery(url, n, since):
    import psycopg2
    conn = psycopg2.connect(url)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(PG_ITEM + PG_ORDER)
    rows = cur.fetchall()
    c_created, c_station, c_file = rows[99][11], rows[99][12], rows[99][2]
    cur.execute("SELECT trial_id FROM nordic_trials ORDER BY file_name LIMIT 5000")
    ids = [r[0] for r in cur.fetchall()]
    cur.execute("SELECT count(*) FROM nordic_trials")
    weeks = max(1, cur.fetchone()[0] // 2000)
    rnd = random.Random(12345)
    kinds = [
        ("list newest 100", lambda: (PG_ITEM + PG_ORDER, ())),
        ("athlete filter", lambda: (PG_ITEM + "WHERE athlete_id = %s" + PG_ORDER,
                                    ("ath-%04d" % rnd.randrange(1000),))),
        ("from/to week", lambda: (lambda f: (
            PG_ITEM + "WHERE created_unix_s >= %s AND created_unix_s < %s" + PG_ORDER,
            (f, f + 604800)))(1714566896 + rnd.randrange(weeks) * 604800)),
        ("modified_since (1 %)", lambda: (PG_ITEM + "WHERE file_mtime_ns >= %s" + PG_ORDER,
                                          (since * 10 ** 9,))),
        ("page 2 via cursor", lambda: (
            PG_ITEM + "WHERE (created_unix_s, station_id, file_name) < (%s, %s, %s)" + PG_ORDER,
            (c_created, c_station, c_file))),
        ("one trial (detail)", lambda: (
            "SELECT t.*, (SELECT json_agg(r ORDER BY r.row) FROM nordic_reps r WHERE"
            " r.station_id = t.station_id AND r.file_name = t.file_name),"
            " (SELECT json_agg(e ORDER BY e.row) FROM nordic_events e WHERE"
            " e.station_id = t.station_id AND e.file_name = t.file_name)"
            " FROM nordic_trials t WHERE trial_id = %s ORDER BY station_id, file_name LIMIT 1",
            (rnd.choice(ids),))),
        ("status, all modified", lambda: (
            PG_ITEM + "WHERE file_mtime_ns >= 0 AND status = 'complete'" + PG_ORDER, ())),
    ]
    print("  %-24s %10s %10s   (peer: psycopg2, same SQL)" % ("query", "p50 ms", "p99 ms"))
    for name, fn in kinds:
        lat = []
        for _ in range(n):
            sql, args = fn()
            t0 = time.perf_counter()
            cur.execute(sql, args)
            cur.fetchall()
            lat.append(time.perf_counter() - t0)
        print("  %-24s %10.3f %10.3f" % (name, pctl(lat, 50) * 1e3, pctl(lat, 99) * 1e3))
    conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "pgquery":
        pgquery(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "rebuild":
        rebuild(sys.argv[2], sys.argv[3])
    else:
        query(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
