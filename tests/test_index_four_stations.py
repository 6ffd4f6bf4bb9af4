"""Four stations, one PostgreSQL (issue 14 item 5; tools/index/INDEX.md): four
real nordicd on the simulator each record 10 trials concurrently (tare,
start, a pain mark, stop, over the control socket); next to each, a real
nordic-station with `--index URL --station-id ID` indexes the trials and
copies its index into one PostgreSQL 15 started by this test. The server is stopped for 20 s while the
stations record. Afterwards: 40 trials, no duplicates, every central row
equal to its HDF5 file read with h5py (psycopg2 as the reader)."""
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nordic_testlib import check, finish, reachable_by_others  # noqa: E402
from index_central_lib import PG_BIN, Postgres, central_count, compare  # noqa: E402

try:
    import psycopg2
    import station_testlib as stl
except ImportError as e:
    print("missing prerequisite: %s" % e)
    sys.exit(1 if os.environ.get("CI") else 77)
if not os.path.exists(os.path.join(PG_BIN, "initdb")):
    print("missing prerequisite: PostgreSQL 15 server (Debian postgresql-15)")
    sys.exit(1 if os.environ.get("CI") else 77)

SIM = "sim:?rate=1000&reps=1000&rest=0.5&lead=1&rise=1&seed=%d"
STATIONS, TRIALS = 4, 10


def record(d, sid, outcome):
    """TRIALS trials on daemon d, one after another."""
    ok = 0
    r = d.ask({"cmd": "tare"})
    for k in range(TRIALS):
        r = d.ask({"cmd": "start", "athlete_id": "ath-%s-%d" % (sid, k % 3),
                   "body_mass_kg": 70 + k, "protocol": "1x3"})
        if not r.get("ok"):
            outcome[sid] = "start %d: %s" % (k, r)
            return
        time.sleep(1.2)
        d.ask({"cmd": "mark", "kind": "pain", "value": k % 11, "detail": "trial %d" % k})
        time.sleep(1.0)
        r = d.ask({"cmd": "stop"}, timeout_ms=15000)
        if not r.get("ok"):
            outcome[sid] = "stop %d: %s" % (k, r)
            return
        ok += 1
    outcome[sid] = ok


def main():
    base = os.environ.get("TMPDIR")
    root = tempfile.mkdtemp(prefix="index_four.", dir=base if base and
                            reachable_by_others(base) else None)
    pg = Postgres(root)
    pg.start()
    daemons, watchers = [], []
    try:
        for i in range(STATIONS):
            sid = "station-%d" % i
            d = stl.Daemon(os.path.join(root, sid), SIM % (i + 1))
            daemons.append((sid, d))
            watchers.append(stl.Station(os.path.join(root, sid), [(sid, d)],
                                        args=["--index", pg.url, "--station-id", sid]))
        outcome = {}
        threads = [threading.Thread(target=record, args=(d, sid, outcome))
                   for sid, d in daemons]
        for t in threads:
            t.start()
        # Mid-way: the server goes away for 20 s while every station records.
        time.sleep(8)
        pg.stop()
        down_at = time.time()
        time.sleep(20)
        during = {sid: len([n for n in os.listdir(d.data) if n.endswith(".h5")])
                  for sid, d in daemons}
        pg.start()
        check(time.time() - down_at >= 20, "server was down 20 s")
        for t in threads:
            t.join(timeout=180)
        for sid, _ in daemons:
            check(outcome.get(sid) == TRIALS, "%s recorded %d trials: %r"
                  % (sid, TRIALS, outcome.get(sid)))
        check(sum(during.values()) > 0, "stations kept recording during the outage: %r" % during)
        conn = psycopg2.connect(pg.url)
        conn.autocommit = True
        cur = conn.cursor()
        deadline = time.time() + 60
        while time.time() < deadline:
            if sum(central_count(cur, sid) for sid, _ in daemons) >= STATIONS * TRIALS:
                break
            time.sleep(0.5)
        time.sleep(3)  # anything late (a duplicate would show now)
        for sid, d in daemons:
            check(compare(cur, sid, d.data) == TRIALS, "%s: %d trials centrally" % (sid, TRIALS))
        cur.execute("SELECT count(*), count(DISTINCT (station_id, file_name)),"
                    " count(DISTINCT trial_id) FROM nordic_trials")
        total, distinct, ids = cur.fetchone()
        check(total == distinct == ids == STATIONS * TRIALS,
              "40 trials, no duplicates: %d rows, %d keys, %d trial ids" % (total, distinct, ids))
        cur.execute("SELECT count(*) FROM nordic_events WHERE kind = 'pain'")
        check(cur.fetchone()[0] == STATIONS * TRIALS, "every trial's pain mark centrally")
        cur.execute("SELECT count(*) FROM nordic_trials WHERE status <> 'complete'")
        check(cur.fetchone()[0] == 0, "every trial complete")
        conn.close()
        for w in watchers:
            check(w.alive(), "station kept running through the outage")
        # The stations' API lists what they recorded.
        for (sid, d), w in zip(daemons, watchers):
            status, _, body = stl.request(w.port, "GET", "/api/v1/trials?limit=1000")
            items = json.loads(body).get("items", []) if status == 200 else []
            check(len(items) == TRIALS, "%s: /api/v1/trials lists %d trials" % (sid, TRIALS))
    finally:
        for w in watchers:
            check(w.stop() == 0, "station exits cleanly")
        for _, d in daemons:
            d.stop()
        try:
            pg.stop()
        except RuntimeError:
            pass
    for (sid, _), w in zip(daemons, watchers):
        text = open(w.log_path).read()
        check("changes stay queued" in text and "reachable again" in text,
              "%s logged the outage and the recovery" % sid)
    finish("test_index_four_stations")


main()
