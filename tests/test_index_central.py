"""Many stations, one PostgreSQL (tools/index/INDEX.md, "Many stations"): a
PostgreSQL 15 started here (initdb/pg_ctl in a temporary directory, as an
unprivileged user), two stations' indexes copied into it with
`nordic-trial index --central URL --station ID`, read back with psycopg2 and
compared with the HDF5 files read by h5py. While the server is stopped the
stations keep indexing (exit status 3, changes queued in the outbox); after
it returns the outbox drains: every trial once, deleted ones gone. Sending a
batch twice (as after a crash between the server's commit and the outbox
delete) leaves the same rows."""
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nordic_testlib import BUILD, check, finish, reachable_by_others  # noqa: E402
from index_central_lib import PG_BIN, Postgres, central_count, compare  # noqa: E402

GEN = os.path.join(BUILD, "tools", "nordic-report-gen")
TRIAL = os.path.join(BUILD, "tools", "nordic-trial")
T0 = 1714566896

try:
    import psycopg2
except ImportError as e:
    print("missing prerequisite python3-psycopg2: %s" % e)
    sys.exit(1 if os.environ.get("CI") else 77)
if not os.path.exists(os.path.join(PG_BIN, "initdb")):
    print("missing prerequisite: PostgreSQL 15 server (Debian postgresql-15)")
    sys.exit(1 if os.environ.get("CI") else 77)


def index(station, data, db, url, ok=(0,)):
    p = subprocess.run([TRIAL, "index", "--db", db, "--data-dir", data, "--central", url,
                        "--station", station], capture_output=True, text=True, timeout=300)
    if p.returncode not in ok:
        print(p.stdout, p.stderr, file=sys.stderr)
    return p


def gen(data, athlete, count, date, pain=3):
    p = subprocess.run([GEN, data, "--athlete", athlete, "--count", str(count), "--date",
                        str(date), "--pain", str(pain), "--seconds", "12", "--reps", "2"],
                       capture_output=True, text=True, check=True)
    return p.stdout.split()


def main():
    base = os.environ.get("TMPDIR")
    root = tempfile.mkdtemp(prefix="index_central.", dir=base if base and
                            reachable_by_others(base) else None)
    pg = Postgres(root)
    pg.start()
    try:
        run(root, pg)
    finally:
        try:
            pg.stop()
        except RuntimeError:
            pass
    finish("test_index_central")


def run(root, pg):
    stations = {}
    for sid, athlete, date in (("clinic-a", "ath-a", T0), ("clinic-b", "ath-b", T0 + 3600)):
        data = os.path.join(root, sid, "trials")
        os.makedirs(data)
        stations[sid] = (data, os.path.join(root, sid, "index.sqlite"),
                         gen(data, athlete, 5, date))
    with open(os.path.join(stations["clinic-a"][0], "ath-a_20240301T000000Z_cut.h5"), "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)

    for sid, (data, db, _) in stations.items():
        p = index(sid, data, db, pg.url)
        check(p.returncode == 0 and "file(s) sent" in p.stdout, "%s pushed: %r" % (sid, p.stdout))
    conn = psycopg2.connect(pg.url)
    conn.autocommit = True
    cur = conn.cursor()
    check(compare(cur, "clinic-a", stations["clinic-a"][0]) == 6, "clinic-a: 6 files")
    check(compare(cur, "clinic-b", stations["clinic-b"][0]) == 5, "clinic-b: 5 files")

    # Nothing changed: nothing sent, nothing duplicated.
    p = index("clinic-a", stations["clinic-a"][0], stations["clinic-a"][1], pg.url)
    check(p.returncode == 0 and "sent" not in p.stdout, "second run sends nothing: %r" % p.stdout)
    cur.execute("SELECT count(*) FROM nordic_trials")
    check(cur.fetchone()[0] == 11, "still 11 trials")
    conn.close()

    # Server down: the station keeps indexing; changes wait in the outbox.
    pg.stop()
    data_a, db_a, paths_a = stations["clinic-a"]
    new = gen(data_a, "ath-a", 3, T0 + 90 * 86400, pain=8)
    os.unlink(paths_a[0])
    p = index("clinic-a", data_a, db_a, pg.url, ok=(3,))
    check(p.returncode == 3 and "cannot connect" in p.stderr and "stay queued" in p.stderr,
          "server down: exit 3, changes queued: %d %r" % (p.returncode, p.stderr))
    local = sqlite3.connect(db_a)
    check(local.execute("SELECT count(*) FROM trials").fetchone()[0] == 8,
          "local index current while the server is down")
    check(local.execute("SELECT count(DISTINCT file_name) FROM central_outbox").fetchone()[0]
          == 4, "outbox holds the 3 new files and the deleted one")
    local.close()
    time.sleep(1)
    pg.start()
    p = index("clinic-a", data_a, db_a, pg.url)
    check(p.returncode == 0 and "4 file(s) sent" in p.stdout, "outbox drained: %r" % p.stdout)
    conn = psycopg2.connect(pg.url)
    conn.autocommit = True
    cur = conn.cursor()
    check(compare(cur, "clinic-a", data_a) == 8, "clinic-a after the outage: 8 files")
    cur.execute("SELECT count(*) FROM nordic_trials WHERE file_name = %s",
                (os.path.basename(paths_a[0]),))
    check(cur.fetchone()[0] == 0, "the deleted trial is gone centrally")

    # A batch sent again (crash after the server's commit): same rows.
    local = sqlite3.connect(db_a)
    local.execute("INSERT INTO central_outbox (file_name) SELECT file_name FROM trials")
    local.commit()
    local.close()
    p = index("clinic-a", data_a, db_a, pg.url)
    check(p.returncode == 0 and "8 file(s) sent" in p.stdout, "re-sent: %r" % p.stdout)
    check(compare(cur, "clinic-a", data_a) == 8, "re-sending changed nothing")
    check(compare(cur, "clinic-b", stations["clinic-b"][0]) == 5, "clinic-b untouched")
    cur.execute("SELECT count(*), count(DISTINCT (station_id, file_name)) FROM nordic_trials")
    total, distinct = cur.fetchone()
    check(total == distinct == 13, "13 trials, no duplicates (%d, %d)" % (total, distinct))

    # A central table made by an older station, before reps.leg and
    # reps.test: the next push adds the columns and fills them (generated
    # trials have no sets, so every rep is a bilateral Nordic rep:
    # tools/index/INDEX.md).
    cur.execute("ALTER TABLE nordic_reps DROP COLUMN leg, DROP COLUMN test")
    local = sqlite3.connect(db_a)
    local.execute("INSERT INTO central_outbox (file_name) SELECT file_name FROM trials")
    local.commit()
    local.close()
    p = index("clinic-a", data_a, db_a, pg.url)
    check(p.returncode == 0 and "8 file(s) sent" in p.stdout,
          "push to a table without leg: %r %r" % (p.stdout, p.stderr))
    cur.execute("SELECT count(*), count(leg), bool_and(leg = 'both'), count(test),"
                " bool_and(test = 'nordic') FROM nordic_reps WHERE station_id = 'clinic-a'")
    n, with_leg, all_both, with_test, all_nordic = cur.fetchone()
    check(n > 0 and with_leg == n and all_both and with_test == n and all_nordic,
          "leg and test added and filled: %r" % ((n, with_leg, all_both, with_test, all_nordic),))
    check(compare(cur, "clinic-a", data_a) == 8, "rows still equal their files")

    # A watching station (the watcher thread nordic-station runs): trials
    # arriving during a 20 s outage reach the server once it is back.
    data_c = os.path.join(root, "clinic-c", "trials")
    os.makedirs(data_c)
    db_c = os.path.join(root, "clinic-c", "index.sqlite")
    gen(data_c, "ath-c", 2, T0)
    log = open(os.path.join(root, "watch.log"), "w")
    w = subprocess.Popen([TRIAL, "index", "--db", db_c, "--data-dir", data_c, "--central", pg.url,
                          "--station", "clinic-c", "--watch"], stdout=log, stderr=log)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not central_count(cur, "clinic-c") == 2:
            time.sleep(0.2)
        check(central_count(cur, "clinic-c") == 2, "watching station pushed its first trials")
        conn.close()
        pg.stop()
        outage = time.time()
        gen(data_c, "ath-c", 3, T0 + 30 * 86400, pain=9)
        time.sleep(max(0.0, 20 - (time.time() - outage)))
        local = sqlite3.connect(db_c)
        check(local.execute("SELECT count(*) FROM trials").fetchone()[0] == 5,
              "indexed locally during the outage")
        local.close()
        pg.start()
        conn = psycopg2.connect(pg.url)
        conn.autocommit = True
        cur = conn.cursor()
        deadline = time.time() + 20
        while time.time() < deadline and central_count(cur, "clinic-c") != 5:
            time.sleep(0.2)
        check(compare(cur, "clinic-c", data_c) == 5, "clinic-c after a 20 s outage: 5 trials")
        check(w.poll() is None, "the watcher kept running through the outage")
    finally:
        w.terminate()
        rc = w.wait(timeout=20)
        log.close()
    check(rc == 0, "watcher stops cleanly on SIGTERM (%s)" % rc)
    text = open(os.path.join(root, "watch.log")).read()
    check(text.count("changes stay queued") == 1 and "reachable again" in text,
          "one warning per outage, and the recovery logged: %r" % text[-500:])
    conn.close()

    # Taken out of the central copy: nothing is queued any more.
    p = subprocess.run([TRIAL, "index", "--db", db_a, "--data-dir", data_a, "--no-central"],
                       capture_output=True, text=True)
    check(p.returncode == 0, "--no-central: %r" % p.stderr)
    gen(data_a, "ath-a", 1, T0 + 200 * 86400)
    p = subprocess.run([TRIAL, "index", "--db", db_a, "--data-dir", data_a],
                       capture_output=True, text=True)
    local = sqlite3.connect(db_a)
    check(local.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'central_outbox%'")
          .fetchone()[0] == 0 and p.returncode == 0, "no outbox or triggers after --no-central")
    local.close()

    # Bad use: a message, the local index unharmed.
    p = index("bad station!", data_a, db_a, pg.url, ok=(1,))
    check(p.returncode == 1 and "station id" in p.stderr, "bad station id: %r" % p.stderr)
    p = subprocess.run([TRIAL, "index", "--db", db_a, "--data-dir", data_a, "--central", pg.url],
                       capture_output=True, text=True)
    check(p.returncode == 2 and "--station" in p.stderr, "--central without --station")


main()
