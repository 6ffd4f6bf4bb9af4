#!/usr/bin/python3
"""The athlete's best from the trial index (daemon/metrics/METRICS.md 5.4,
tools/index/INDEX.md, tools/station/STATION.md) end to end.

Earlier trials of athlete ATH are put in the data directory:
* three complete trials written by nordic-report-gen with known intended
  peaks (L/R 300/380, 420/260, 350/330 N, one day apart);
* a single-leg session (leg=left), a bilateral isometric test (holds at
  30 degrees) and a bilateral trial killed mid-way (SIGKILL, then
  `nordic-trial recover`: interrupted), recorded by a real nordicd on a
  simulator with 700/680 N peaks;
* a trial left "recording" (nordic-report-gen --incomplete, 800 N), and a
  complete 900 N trial of another athlete.
Each excluded one would win if it counted, so each exclusion is tested.

The expected best is computed here from the files read with h5py by the
documented rule (complete trials of the athlete, reps whose /sets row is
bilateral, highest peak per leg) and cross-checked against the generator's
intended peaks (which trial and roughly what value). Then a real nordicd +
nordic-station: GET /api/v1/athletes/ATH/best (with and without `from`,
404, 400s), and sessions started over the station's WebSocket with
target_pct and no best: the file's /sets zone attributes must equal
pct x best x (1 -/+ tol) computed here, best_source names the trials; a best
typed by the operator wins for its leg; an athlete without such trials is
refused with a message asking for the values and nothing is started."""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import station_testlib as S  # noqa: E402
from nordic_testlib import check, finish  # noqa: E402

import h5py  # noqa: E402
import zmq  # noqa: E402

S.prerequisite(os.path.exists(S.STATION), "nordic-station not built (libwebsockets-dev, libsodium-dev)")
GEN = os.path.join(S.BUILD, "tools", "nordic-report-gen")
TRIAL = os.path.join(S.BUILD, "tools", "nordic-trial")
T0 = 1767225600  # 2026-01-01T00:00:00Z
DAY = 86400
GENERATED = ((300, 380), (420, 260), (350, 330))  # intended L/R peaks, days 0, 1, 2
STRONG = ("sim:?rate=1000&reps=1000&unloaded=2&lead=0.5&rise=0.8&rest=1&var=2"
          "&peak_left=700&peak_right=680&seed=3")
NORMAL = "sim:?rate=1000&reps=1000&unloaded=2&lead=0.5&rise=0.8&rest=1.5&var=2&seed=5"

tmp = tempfile.mkdtemp(prefix="station-best-", dir=os.environ.get("TMPDIR"))
data = tmp + "/data"


def gen(*args):
    p = subprocess.run([GEN, data] + [str(a) for a in args], capture_output=True, text=True)
    check(p.returncode == 0, "nordic-report-gen %s: %s" % (args, p.stderr))
    return p.stdout.split()[0]


def wait_reps(sub, started, n, timeout=40):
    """Until n `rep` messages of the trial just started (its trial_id) came
    on the live socket (the status's counters may still describe the
    previous trial for a moment after a start)."""
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline and len(seen) < n:
        if sub.poll(500):
            _, body = sub.recv_multipart()[:2]
            msg = json.loads(body)
            if msg.get("trial_id") == started.get("trial_id"):
                seen.append(msg)
    return seen[-1] if len(seen) >= n else None


def record_excluded():
    """A single-leg session, an isometric test and an interrupted trial, all
    stronger than any generated trial, recorded by a real nordicd."""
    d = S.Daemon(tmp, STRONG)
    sub = d.zctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"rep")
    sub.connect(d.pub)
    try:
        time.sleep(0.5)
        check(d.ask({"cmd": "tare"})["ok"], "tare (strong sim)")
        r = d.ask({"cmd": "start", "athlete_id": "ATH", "protocol": "1x3", "leg": "left"})
        check(r["ok"], "single-leg start: %s" % r)
        check(wait_reps(sub, r, 2) is not None, "single-leg session has reps")
        check(d.ask({"cmd": "stop"})["ok"], "single-leg stop")
        r = d.ask({"cmd": "start", "athlete_id": "ATH", "protocol": "1x3", "test": "isometric",
                   "angle_deg": 30})
        check(r["ok"], "isometric start: %s" % r)
        check(wait_reps(sub, r, 2) is not None, "isometric test has holds")
        check(d.ask({"cmd": "stop"})["ok"], "isometric stop")
        written0 = d.ask({"cmd": "status"})["status"]["counters"]["file_sets_written"]
        r = d.ask({"cmd": "start", "athlete_id": "ATH"})
        check(r["ok"], "bilateral start to be killed: %s" % r)
        killed = r["file"]
        last = wait_reps(sub, r, 2)
        check(last is not None, "trial to be killed has reps")
        # Killed once the file durably holds the samples of those reps
        # (file_sets_written counts flushed sets, ZMQ_PROTOCOL.md).
        upto = (last or {}).get("i_end", 0) + 500
        deadline = time.time() + 30
        while (time.time() < deadline and d.ask({"cmd": "status"})["status"]["counters"]
               ["file_sets_written"] - written0 < upto):
            time.sleep(0.2)
    finally:
        sub.close(linger=0)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.zctx.term()
    p = subprocess.run([TRIAL, "recover", data], capture_output=True, text=True)
    check(p.returncode == 0, "nordic-trial recover: %s %s" % (p.stdout, p.stderr))
    return killed


def rep_kinds(f):
    """Each rep's working leg and test by the documented rule: those of the
    /sets row whose reps span it (i_start <= i_open, i_end <= i_end), else
    the plan's (both, nordic without a protocol)."""
    reps = f["reps"][:]
    plan = ("both", "nordic")
    rows = []
    if "sets" in f:
        a = f["sets"].attrs
        plan = (attr_str(a, "leg") if "leg" in a else "both",
                attr_str(a, "test") if "test" in a else "nordic")
        legs = {v: k for k, v in h5py.check_enum_dtype(f["sets"].dtype["leg"]).items()}
        tests = {v: k for k, v in h5py.check_enum_dtype(f["sets"].dtype["test"]).items()}
        rows = [(int(s["i_start"]), int(s["i_end"]), (legs[s["leg"]], tests[s["test"]]))
                for s in f["sets"][:] if s["reps_done"] > 0]
    kinds = []
    for r in reps:
        kind = plan
        for lo, hi, k in rows:
            if lo <= r["i_open"] and r["i_end"] <= hi:
                kind = k
                break
        kinds.append(kind)
    return reps, kinds


def attr_str(a, k):
    v = a[k]
    return v.decode() if isinstance(v, bytes) else str(v)


def expected_best(athlete, from_s=None):
    """{leg: (peak, trial_id, rep index, created_utc)} and the trial count,
    from the files by the documented definition; also the best over every
    rep of the athlete regardless of the exclusions."""
    best = {0: None, 1: None}
    unfiltered = [0.0, 0.0]
    trials = 0
    for path in sorted(glob.glob(data + "/*.h5")):
        with h5py.File(path, "r") as f:
            a = f.attrs
            if attr_str(a, "athlete_id") != athlete:
                continue
            reps, kinds = rep_kinds(f)
            for r in reps:
                unfiltered[0] = max(unfiltered[0], r["peak_left_N"])
                unfiltered[1] = max(unfiltered[1], r["peak_right_N"])
            if attr_str(a, "status") != "complete":
                continue
            if from_s is not None and int(a["created_unix_s"]) < from_s:
                continue
            counted = False
            for r, kind in zip(reps, kinds):
                if kind != ("both", "nordic"):
                    continue
                counted = True
                for k, field in ((0, "peak_left_N"), (1, "peak_right_N")):
                    cand = (float(r[field]), int(a["created_unix_s"]), attr_str(a, "trial_id"),
                            int(r["index"]))
                    # ties: newest trial, then lowest rep
                    key = (cand[0], cand[1], -cand[3])
                    if best[k] is None or key > (best[k][0], best[k][1], -best[k][3]):
                        best[k] = cand
            trials += counted
    return best, trials, unfiltered


def api(port, path, want=200):
    status, _, body = S.request(port, "GET", path)
    check(status == want, "GET %s: %s, want %s: %r" % (path, status, want, body[:300]))
    try:
        return json.loads(body)
    except ValueError:
        return None


def ws_start(ws, rid, cmd, timeout=20):
    """Sends a start through the station; returns (best message or None, reply)."""
    ws.send({"type": "cmd", "id": rid, "daemon": "b1", "cmd": cmd})
    best = None
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = ws.recv()
        if m.get("type") == "best" and m.get("id") == rid:
            best = m
        if m.get("type") == "reply" and m.get("id") == rid:
            return best, m["reply"]
    check(False, "no reply to start %d" % rid)
    return best, {}


def sets_attrs(path):
    with h5py.File(path, "r") as f:
        a = f["sets"].attrs
        return ({k: float(a[k]) for k in ("zone_left_low_N", "zone_left_high_N",
                                          "zone_right_low_N", "zone_right_high_N")},
                attr_str(a, "best_source"))


def zone(best, pct, tol):
    # METRICS.md 5.4: target = pct % of best, zone = target x (1 -/+ tol/100)
    t = best * pct / 100.0
    return t * (1.0 - tol / 100.0), t * (1.0 + tol / 100.0)


def main():
    os.makedirs(data, exist_ok=True)
    killed = record_excluded()
    gen_files = [gen("--athlete", "ATH", "--date", T0 + k * DAY, "--left", l, "--right", r,
                     "--seed", 30 + k) for k, (l, r) in enumerate(GENERATED)]
    gen("--athlete", "ATH", "--date", T0 + 3 * DAY, "--left", 800, "--right", 800, "--incomplete")
    gen("--athlete", "OTHER", "--date", T0, "--left", 900, "--right", 900)
    gen("--athlete", "ONLYBAD", "--date", T0, "--left", 300, "--right", 300, "--incomplete")
    with h5py.File(killed, "r") as f:
        check(attr_str(f.attrs, "status") == "interrupted" and len(f["reps"]) >= 1,
              "killed trial recovered as interrupted, with reps: %d" % len(f["reps"]))

    best, ntrials, unfiltered = expected_best("ATH")
    check(best[0] is not None and best[1] is not None, "expected best found in the files")
    gen_ids = [os.path.basename(p)[:-3].split("_")[-1] for p in gen_files]
    # The generator's intended peaks: the left best is the 420 N trial's, the
    # right the 380 N trial's, within the simulator's rep-to-rep variation.
    check(best[0][2] == gen_ids[1] and abs(best[0][0] - 420) < 0.15 * 420,
          "left best from the 420 N trial: %r" % (best[0],))
    check(best[1][2] == gen_ids[0] and abs(best[1][0] - 380) < 0.15 * 380,
          "right best from the 380 N trial: %r" % (best[1],))
    check(ntrials == 3, "three trials count: %d" % ntrials)
    check(unfiltered[0] > best[0][0] + 100 and unfiltered[1] > best[1][0] + 100,
          "the excluded trials would win if counted: %r vs %r" % (unfiltered, best))
    kinds_seen = set()
    for path in glob.glob(data + "/ATH_*.h5"):
        with h5py.File(path, "r") as f:
            reps, kinds = rep_kinds(f)
            if len(reps) and max(float(r["peak_left_N"]) for r in reps) > best[0][0] + 100:
                kinds_seen.add((attr_str(f.attrs, "status"),) + tuple(sorted(set(kinds))))
    check(("complete", ("both", "isometric")) in kinds_seen and
          ("complete", ("left", "nordic")) in kinds_seen and
          ("interrupted", ("both", "nordic")) in kinds_seen and
          ("recording", ("both", "nordic")) in kinds_seen,
          "each excluded kind holds a stronger rep: %r" % kinds_seen)

    d = S.Daemon(tmp, NORMAL)
    st = S.Station(tmp, [("b1", d)])
    try:
        run(d, st.port, best, gen_ids)
        check(st.alive() and d.alive(), "station and daemon still running")
    finally:
        st.stop()
        d.stop()
    finish("test_station_best")


def run(d, port, best, gen_ids):
    # Wait for the station's index to hold every file.
    n_files = len(glob.glob(data + "/*.h5"))
    deadline = time.time() + 30
    listed = 0
    while time.time() < deadline:
        doc = api(port, "/api/v1/trials?limit=1000") or {}
        listed = len(doc.get("items", []))
        if listed == n_files:
            break
        time.sleep(0.3)
    check(listed == n_files, "index lists all %d files (%d)" % (n_files, listed))

    # The API.
    b = api(port, "/api/v1/athletes/ATH/best")
    for k, leg in ((0, "left"), (1, "right")):
        got = b[leg]
        peak, created, trial_id, rep = best[k]
        check(got["peak_N"] == peak and got["trial_id"] == trial_id and got["rep"] == rep,
              "API %s best %r equals the files' %r" % (leg, got, best[k]))
        check(got["created_utc"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
              "API %s best created_utc" % leg)
    check(b["trials"] == 3 and b["from"] is None, "API trials count and from: %r" % b)
    wbest, wtrials, _ = expected_best("ATH", T0 + DAY)
    b = api(port, "/api/v1/athletes/ATH/best?from=2026-01-02T00:00:00Z")
    check(b["right"]["peak_N"] == wbest[1][0] and b["right"]["trial_id"] == wbest[1][2] and
          b["right"]["trial_id"] != gen_ids[0] and b["left"]["peak_N"] == wbest[0][0] and
          b["trials"] == wtrials == 2 and b["from"] == "2026-01-02T00:00:00Z",
          "from excludes the first trial: %r vs %r" % (b, wbest))
    b = api(port, "/api/v1/athletes/ONLYBAD/best")
    check(b == {"athlete_id": "ONLYBAD", "from": None, "trials": 0, "left": None, "right": None},
          "an athlete with only a recording trial: no best: %r" % b)
    api(port, "/api/v1/athletes/NOBODY/best", want=404)
    for q, param in (("?from=tomorrow", "from"), ("?limit=3", "limit"), ("?from=1&from=2", "from")):
        e = api(port, "/api/v1/athletes/ATH/best" + q, want=400)
        check(e and e.get("parameter") == param, "400 %s names %s: %r" % (q, param, e))
    e = api(port, "/api/v1/athletes/x'%20OR%20'1'='1/best", want=400)
    check(e and e.get("parameter") == "id", "400 for a bad athlete id: %r" % e)

    # Sessions through the station's WebSocket.
    ws = S.WebSocket(port, headers={"Origin": "http://127.0.0.1:%d" % port})
    ws.send({"type": "hello", "daemon": "b1"})
    time.sleep(0.5)

    # 1. target_pct, no best: both legs from the index.
    pct, tol = 80, 10
    bm, r = ws_start(ws, 1, {"cmd": "start", "athlete_id": "ATH", "protocol": "1x2",
                             "target_pct": pct, "target_tolerance_pct": tol})
    check(r.get("ok"), "start with target_pct and no best: %r" % r)
    check(bm is not None and bm["best_left_N"] == best[0][0] and
          bm["best_right_N"] == best[1][0] and best[0][2] in bm["text"] and
          best[1][2] in bm["text"] and bm["text"].startswith("best from index: L "),
          "the page is told the best and where it came from: %r" % bm)
    time.sleep(2)
    check(d.ask({"cmd": "stop"})["ok"], "stop 1")
    z, source = sets_attrs(r["file"])
    lo, hi = zone(best[0][0], pct, tol)
    check(z["zone_left_low_N"] == lo and z["zone_left_high_N"] == hi,
          "left zone = 80 %% of the index best: %r vs %r" % (z, (lo, hi)))
    lo, hi = zone(best[1][0], pct, tol)
    check(z["zone_right_low_N"] == lo and z["zone_right_high_N"] == hi,
          "right zone = 80 %% of the index best: %r vs %r" % (z, (lo, hi)))
    check(source.startswith("index: L ") and "trial %s, rep %d" % (best[0][2], best[0][3]) in source
          and "trial %s, rep %d" % (best[1][2], best[1][3]) in source,
          "best_source names the trials and reps: %r" % source)

    # 2. A typed best wins for its leg; the other leg from the index.
    pct = 90
    bm, r = ws_start(ws, 2, {"cmd": "start", "athlete_id": "ATH", "protocol": "1x2",
                             "target_pct": pct, "best_left_N": 500})
    check(r.get("ok"), "start with a typed left best: %r" % r)
    time.sleep(1)
    check(d.ask({"cmd": "stop"})["ok"], "stop 2")
    z, source = sets_attrs(r["file"])
    check((z["zone_left_low_N"], z["zone_left_high_N"]) == zone(500, pct, 10),
          "typed left best 500 N wins: %r" % z)
    check((z["zone_right_low_N"], z["zone_right_high_N"]) == zone(best[1][0], pct, 10),
          "right from the index: %r" % z)
    check("L 500.0 N (entered)" in source and best[1][2] in source and best[0][2] not in source,
          "best_source says the left was entered: %r" % source)

    # 3. Both typed: nothing looked up, nothing added.
    bm, r = ws_start(ws, 3, {"cmd": "start", "athlete_id": "ATH", "protocol": "1x2",
                             "target_pct": 50, "best_left_N": 400, "best_right_N": 300})
    check(r.get("ok") and bm is None, "both typed: no look-up message: %r %r" % (bm, r))
    time.sleep(1)
    check(d.ask({"cmd": "stop"})["ok"], "stop 3")
    z, source = sets_attrs(r["file"])
    check(z["zone_left_low_N"] == zone(400, 50, 10)[0] and source == "",
          "both typed: zone from them, no best_source: %r %r" % (z, source))

    # 4. No earlier complete bilateral trial: refused, nothing started.
    before = sorted(os.listdir(data))
    for rid, athlete in ((4, "NEWBIE"), (5, "ONLYBAD")):
        bm, r = ws_start(ws, rid, {"cmd": "start", "athlete_id": athlete, "protocol": "1x2",
                                   "target_pct": 80})
        err = r.get("error", "")
        check(not r.get("ok") and "best_left_N" in err and athlete in err and
              "nothing was started" in err and bm is None,
              "%s: refused asking for the values: %r" % (athlete, r))
    time.sleep(0.5)
    check(d.ask({"cmd": "status"})["status"]["state"] == "idle",
          "no trial recording after the refusals")
    check(sorted(os.listdir(data)) == before, "no file created by the refused starts")
    ws.close()


main()
