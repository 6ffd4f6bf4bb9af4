"""Shared by the central-index tests: a throw-away PostgreSQL 15 (initdb/pg_ctl
in a temporary directory, as an unprivileged user) and the comparison of the
central rows with the HDF5 files read by h5py (psycopg2 as the reader)."""
import math
import os
import shutil
import socket
import subprocess

import h5py

from nordic_testlib import check

PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Postgres:
    """A throw-away PostgreSQL 15 cluster owned by an unprivileged user."""

    def __init__(self, root):
        self.dir = os.path.join(root, "pg")
        os.makedirs(self.dir)
        self.as_user = []
        if os.geteuid() == 0:  # initdb refuses root
            os.chmod(root, 0o755)
            shutil.chown(self.dir, "nobody", "nogroup")
            self.as_user = ["runuser", "-u", "nobody", "--"]
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self.run(os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "nordic",
                 "--auth=trust", "-E", "UTF8", "--no-sync")
        self.url = "postgresql://nordic@127.0.0.1:%d/postgres" % self.port

    def run(self, *args):
        p = subprocess.run(self.as_user + list(args), capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("%s: %s %s" % (args[0], p.stdout, p.stderr))

    def start(self):
        self.run(os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l",
                 os.path.join(self.dir, "log"), "-w", "-o",
                 "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off" % (self.port, self.dir),
                 "start")

    def stop(self):
        self.run(os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")


def num_equal(db_value, h5_value):
    h = float(h5_value)
    if math.isnan(h):
        return db_value is None
    return db_value == h


def compare(cur, station, data):
    """Central rows of station == its trial files (h5py), no extra, no duplicate."""
    names = sorted(n for n in os.listdir(data) if n.endswith(".h5") and not n.startswith("."))
    cur.execute("SELECT file_name, count(*) FROM nordic_trials WHERE station_id = %s"
                " GROUP BY file_name ORDER BY file_name", (station,))
    rows = cur.fetchall()
    check([r[0] for r in rows] == names, "%s: central trials == files (%d vs %d)"
          % (station, len(rows), len(names)))
    check(all(r[1] == 1 for r in rows), "%s: no duplicate trial rows" % station)
    for name in names:
        path = os.path.join(data, name)
        cur.execute("SELECT trial_id, athlete_id, status, created_utc, samples, s_max_left_N,"
                    " s_max_right_N, s_asymmetry_pct, s_pain_rating, body_mass_kg, file_size"
                    " FROM nordic_trials WHERE station_id = %s AND file_name = %s",
                    (station, name))
        t = cur.fetchone()
        try:
            f = h5py.File(path, "r")
        except OSError:
            check(t[2] in ("damaged", "foreign"), "%s: unreadable file listed as such" % name)
            continue
        with f:
            a, s = f.attrs, f["reps"].attrs
            check(t[0] == a["trial_id"] and t[1] == a["athlete_id"] and t[2] == a["status"] and
                  t[3] == a["created_utc"] and t[4] == f["samples/force_N"].shape[0],
                  "%s %s: metadata" % (station, name))
            check(num_equal(t[5], s["max_left_N"]) and num_equal(t[6], s["max_right_N"]) and
                  num_equal(t[7], s["asymmetry_pct"]) and t[8] == s["pain_rating"] and
                  num_equal(t[9], a["body_mass_kg"]) and t[10] == os.stat(path).st_size,
                  "%s %s: summary values bit-exact" % (station, name))
            reps = f["reps"][:]
            cur.execute("SELECT peak_left_N, peak_right_N, impulse_left_Ns, lsi_pct FROM"
                        " nordic_reps WHERE station_id = %s AND file_name = %s ORDER BY row",
                        (station, name))
            db_reps = cur.fetchall()
            check(len(db_reps) == len(reps) and all(
                num_equal(d[0], h["peak_left_N"]) and num_equal(d[1], h["peak_right_N"]) and
                num_equal(d[2], h["impulse_left_Ns"]) and num_equal(d[3], h["lsi_pct"])
                for d, h in zip(db_reps, reps)), "%s %s: reps equal /reps" % (station, name))
            events = f["events"][:]
            cur.execute("SELECT t_s, kind, detail FROM nordic_events WHERE station_id = %s AND"
                        " file_name = %s ORDER BY row", (station, name))
            check(cur.fetchall() == [(float(e["t_s"]), e["kind"].split(b"\0")[0].decode(),
                                      e["detail"].split(b"\0")[0].decode()) for e in events],
                  "%s %s: events equal /events" % (station, name))
    return len(names)


def central_count(cur, station):
    cur.execute("SELECT count(*) FROM nordic_trials WHERE station_id = %s", (station,))
    return cur.fetchone()[0]
