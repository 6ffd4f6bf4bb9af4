#!/usr/bin/python3
"""A 3 x 2 session end to end over the control socket (pyzmq) with the trial
file read back by h5py (daemon/metrics/METRICS.md section 5, TRIAL_FORMAT.md /sets).

The simulated board reps continuously; the test ends sets with
{"cmd":"set","action":"next"} after two reps, enters a pain rating per set,
watches the rest countdown on `status`, and stops during the third set.
Every /sets field is then computed here from the file's own /reps and
/events rows with the documented rules (a rep belongs to the set that is
current when it is reported, hold samples after its end; a set_next event
applies before the sample at its time), not from the daemon's set rows.
The `set` topic must carry the same rows, `rep` messages the target zone
verdict, and `nordic-report --recompute` must reproduce /sets exactly
(sets.csv). A version 1.0 file (no /sets) still reads everywhere."""
import csv
import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time

import h5py
import numpy as np
import zmq

from nordic_testlib import BUILD, check, finish

NORDICD = os.path.join(BUILD, "daemon", "nordicd")
NORDCTL = os.path.join(BUILD, "tools", "nordctl")
REPORT = os.path.join(BUILD, "tools", "nordic-report")
TRIAL = os.path.join(BUILD, "tools", "nordic-trial")
WATCH = os.path.join(BUILD, "tools", "nordic-watch")
SIM = "sim:?rate=500&reps=0&rest=1&lead=1&rise=0.8&peak_left=400&peak_right=320&seed=11"
TARGET = {"left": 400.0, "right": 320.0}
TOLERANCE_PCT = 15.0
PAINS = [2, 4, 6]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


tmp = tempfile.mkdtemp(prefix="sets-session-", dir=os.environ.get("TMPDIR"))
ctl_ep = "ipc://%s/ctl" % tmp
pub_ep = "tcp://127.0.0.1:%d" % free_port()
log = open(os.path.join(tmp, "nordicd.log"), "w")
daemon = subprocess.Popen([NORDICD, "--device", SIM, "--data-dir", tmp + "/data", "--state-dir",
                           tmp + "/state", "--ctl", ctl_ep, "--pub", pub_ep],
                          stdout=log, stderr=subprocess.STDOUT)
zctx = zmq.Context()
req = None


def connect():
    global req
    if req is not None:
        req.close(linger=0)
    req = zctx.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, 20000)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(ctl_ep)


def ask(obj):
    req.send_string(json.dumps(obj))
    return json.loads(req.recv())


sub = zctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
sub.connect(pub_ep)
messages = []  # (topic, body) in arrival order


def pump(seconds, until=None):
    """Collects published messages for up to `seconds`; returns early when
    until(topic, body) is true for a new message."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if sub.poll(50):
            topic, body = sub.recv_multipart()
            msg = (topic.decode(), json.loads(body))
            messages.append(msg)
            if until and until(*msg):
                return msg
    return None


def rep_count():
    return sum(1 for t, _ in messages if t == "rep")


try:
    connect()
    up = False
    for _ in range(100):
        if os.path.exists(ctl_ep[6:]):
            try:
                up = ask({"cmd": "status"})["ok"]
                break
            except zmq.Again:
                connect()
        time.sleep(0.1)
    check(up, "nordicd answers status")

    # Strict parsing of the new command and the start fields.
    for bad, why in [({"cmd": "set"}, "action"),
                     ({"cmd": "set", "action": "skip"}, "unknown set action"),
                     ({"cmd": "set", "action": "next", "x": 1}, "unknown field"),
                     ({"cmd": "set", "action": 3}, "action"),
                     ({"cmd": "start", "athlete_id": "S1", "rest_s": 60}, "needs a \"protocol\""),
                     ({"cmd": "start", "athlete_id": "S1", "protocol": "3x2", "set_gap_s": 0.2},
                      "set_gap_s"),
                     ({"cmd": "start", "athlete_id": "S1", "protocol": "3x2", "target_pct": 80},
                      "best_left_N"),
                     ({"cmd": "start", "athlete_id": "S1", "protocol": "3x2", "target_left_N": 300,
                       "target_pct": 80, "best_left_N": 400}, "not both")]:
        r = ask(bad)
        check(not r["ok"] and why in r.get("error", ""), "refused %s: %s" % (bad, r))
    r = ask({"cmd": "set", "action": "next"})
    check(not r["ok"] and "no trial is recording" in r["error"], "set next while idle: %s" % r)

    check(ask({"cmd": "tare"})["ok"], "tare")
    # A trial without a protocol refuses set next.
    r = ask({"cmd": "start", "athlete_id": "S0"})
    check(r["ok"], "start without protocol")
    plain_trial = r.get("trial_id", "")
    r = ask({"cmd": "next_day_pain", "trial_id": plain_trial, "value": 2})
    check(not r["ok"] and "still recording" in r["error"], "next-day pain on the recording trial: %s" % r)
    r = ask({"cmd": "set", "action": "next"})
    check(not r["ok"] and "no protocol" in r["error"], "set next without protocol: %s" % r)
    check(ask({"cmd": "stop"})["ok"], "stop")
    time.sleep(0.5)
    pump(0.5)
    messages.clear()

    r = ask({"cmd": "start", "athlete_id": "S1", "protocol": "3x2", "rest_s": 30, "set_gap_s": 600,
             "target_left_N": TARGET["left"], "target_right_N": TARGET["right"],
             "target_tolerance_pct": TOLERANCE_PCT})
    check(r["ok"], "start 3x2: %s" % r)
    path = r.get("file", "")
    st = ask({"cmd": "status"})["status"]
    check(st.get("set", {}).get("phase") == "waiting" and st["set"]["set"] == 1
          and st["set"]["sets_planned"] == 3 and st["set"]["reps_planned"] == 2,
          "status before the first rep: %s" % st.get("set"))

    rest_seen = []
    watch_screen = ""
    for k in range(3):
        target_reps = rep_count() + (2 if k < 2 else 1)
        while rep_count() < target_reps:
            if pump(15, lambda t, b: t == "rep") is None:
                check(False, "no rep within 15 s in set %d" % (k + 1))
                break
        check(ask({"cmd": "mark", "kind": "pain", "value": PAINS[k]})["ok"], "pain in set %d" % (k + 1))
        if k < 2:
            check(ask({"cmd": "set", "action": "next"})["ok"], "set next %d" % (k + 1))
            # Right after the set ends (the next rep is seconds away): rest.
            s = ask({"cmd": "status"})["status"].get("set", {})
            deadline = time.time() + 2
            while s.get("phase") != "rest" and time.time() < deadline:
                time.sleep(0.02)
                s = ask({"cmd": "status"})["status"].get("set", {})
            rest_seen.append(s)
            if k == 0:
                # nordic-watch, as the operator sees it during the rest.
                w = subprocess.run([WATCH, "--pub", pub_ep, "--frames", "20", "--hz", "20", "--ascii"],
                                   capture_output=True, text=True, timeout=30)
                watch_screen = w.stdout
            check(s.get("phase") == "rest" and s.get("set") == k + 2 and s.get("rep") == 0,
                  "rest after set %d: %s" % (k + 1, s))
            check(0 < s.get("rest_remaining_s", -1) <= 30, "countdown below rest_s: %s" % s)
            time.sleep(0.6)
            s2 = ask({"cmd": "status"})["status"].get("set", {})
            if s2.get("phase") == "rest":
                check(s2["rest_remaining_s"] < s["rest_remaining_s"],
                      "the countdown runs: %s then %s" % (s, s2))
    check("SET 2 of 3" in watch_screen and "REST" in watch_screen and "s left" in watch_screen,
          "nordic-watch shows the set and the rest countdown:\n" + watch_screen[-1500:])
    stop = ask({"cmd": "stop"})
    check(stop["ok"], "stop: %s" % stop)
    # Progression (METRICS.md 5.6, default rules): a set pain of 6 is above
    # step_back_above 5, so the rule is step_back and 3x2 steps down to 2x2.
    summ = stop.get("summary", {})
    check(summ.get("sets_planned") == 3 and summ.get("sets_done") == 3 and summ.get("max_set_pain") == 6,
          "session summary: %s" % summ)
    sug = summ.get("suggestion", {})
    check(sug.get("rule") == "step_back" and sug.get("protocol") == "2x2"
          and sug.get("text", "").startswith("step_back"), "suggestion at stop: %s" % sug)
    pump(1.5, lambda t, b: t == "trial" and b.get("event") == "stop")

    # ---- the next day: a pain mark on the closed session (METRICS.md 5.6) ----
    trial_id = stop.get("trial_id", "")
    for bad, why in [({"cmd": "next_day_pain", "trial_id": trial_id, "value": 11}, "out of range"),
                     ({"cmd": "next_day_pain", "trial_id": trial_id}, "needs \"value\""),
                     ({"cmd": "next_day_pain", "value": 2}, "needs \"trial_id\""),
                     ({"cmd": "next_day_pain", "trial_id": "nosuchtrial", "value": 2}, "no trial nosuchtrial"),
                     ({"cmd": "next_day_pain", "trial_id": plain_trial, "value": 2}, "no protocol")]:
        r = ask(bad)
        check(not r["ok"] and why in r.get("error", ""), "refused %s: %s" % (bad, r))
    t_before = time.time()
    r = ask({"cmd": "next_day_pain", "trial_id": trial_id, "value": 7, "detail": "stairs"})
    t_after = time.time()
    check(r["ok"] and r["suggestion"]["rule"] == "step_back" and r["suggestion"]["protocol"] == "2x2",
          "next-day pain 7: %s" % r)
    r2 = ask({"cmd": "next_day_pain", "trial_id": trial_id, "value": 3})
    check(r2["ok"], "a second next-day mark: %s" % r2)

    # ---- single-leg blocks: left first, then "set next" with leg right ----
    first_session_msgs = len(messages)
    r = ask({"cmd": "start", "athlete_id": "S2", "protocol": "2x1", "leg": "left", "leg_on_N": 60,
             "leg_off_N": 30})
    check(r["ok"], "single-leg start: %s" % r)
    leg_path = r.get("file", "")
    check(ask({"cmd": "status"})["status"].get("set", {}).get("leg") == "left", "status shows the leg")
    r = ask({"cmd": "set", "action": "next", "leg": "middle"})
    check(not r["ok"] and "\"leg\"" in r["error"], "bad leg refused: %s" % r)
    n0 = rep_count()
    pump(15, lambda t, b: t == "rep")
    check(ask({"cmd": "set", "action": "next", "leg": "right"})["ok"], "set next to the right leg")
    deadline = time.time() + 3
    while time.time() < deadline and ask({"cmd": "status"})["status"].get("set", {}).get("leg") != "right":
        time.sleep(0.05)
    check(ask({"cmd": "status"})["status"].get("set", {}).get("leg") == "right", "status shows the new leg")
    pump(15, lambda t, b: t == "rep")
    check(rep_count() >= n0 + 2, "reps in both blocks")
    leg_stop = ask({"cmd": "stop"})
    check(leg_stop["ok"], "single-leg stop")
    block = leg_stop.get("summary", {}).get("block_asymmetry_pct")
    daemon.terminate()
    daemon.wait(timeout=30)

    # ---- the file, read by h5py ----
    with h5py.File(path, "r") as f:
        a = f.attrs
        check(int(a["schema_version"]) == 1 and int(a["schema_minor_version"]) == 2, "schema 1.2 (1.1 added /sets)")
        fs = float(a["sample_rate_hz"])
        hold_n = int(round(float(a["rep_hold_s"]) * fs))
        sa = f["sets"].attrs
        check(int(sa["protocol_sets"]) == 3 and int(sa["protocol_reps"]) == 2, "plan on /sets")
        check(float(sa["rest_s"]) == 30 and float(sa["set_gap_s"]) == 600, "rest and gap on /sets")
        lo_l, hi_l = float(sa["zone_left_low_N"]), float(sa["zone_left_high_N"])
        lo_r, hi_r = float(sa["zone_right_low_N"]), float(sa["zone_right_high_N"])
        check(abs(lo_l - TARGET["left"] * (1 - TOLERANCE_PCT / 100)) < 1e-9
              and abs(hi_r - TARGET["right"] * (1 + TOLERANCE_PCT / 100)) < 1e-9, "zone bounds")
        ra = f["reps"].attrs
        check(ra["suggestion_rule"] == "step_back" and ra["suggestion_protocol"] == "2x2"
              and int(ra["sets_planned"]) == 3 and int(ra["max_set_pain"]) == 6,
              "suggestion stored with the summary")
        check(int(ra["next_day_pain"]) == 3 and str(ra["next_day_utc"]).endswith("Z"),
              "the newest next-day pain wins in the summary")
        created = int(a["created_unix_s"])
        nd = [e for e in f["events"][()] if e["kind"].decode() == "pain_next_day"]
        check(len(nd) == 2, "both next-day marks kept as events")
        if nd:
            check(nd[0]["detail"].decode().startswith("7/10; ") and nd[0]["detail"].decode().endswith("; stairs"),
                  "next-day event detail: %s" % nd[0]["detail"])
            check(t_before - created - 1 <= float(nd[0]["t_s"]) <= t_after - created + 1,
                  "next-day event at its own time: %s" % nd[0]["t_s"])
        check(float(sa["progression_acceptable_pain"]) == 3 and float(sa["progression_step_back_above"]) == 5,
              "progression rules stored on /sets")
        reps = f["reps"][()]
        events = f["events"][()]
        sets = f["sets"][()]
        n_samples = f["samples/force_N"].shape[0]
    kinds = [e["kind"].decode() for e in events]
    bounds = [int(round(float(e["t_s"]) * fs)) for e in events if e["kind"].decode() == "set_next"]
    pains = [(int(round(float(e["t_s"]) * fs)), int(e["detail"].decode().split("/")[0]))
             for e in events if e["kind"].decode() == "pain"]
    check(len(bounds) == 2, "two set_next events: %s" % kinds)
    check(len(sets) == 3, "three /sets rows, got %d" % len(sets))

    # Which set each rep belongs to: the one current when it was reported.
    def set_of_report(i_report):
        return sum(1 for b in bounds if b <= i_report)

    groups = [[], [], []]
    for rep in reps:
        report = int(rep["i_end"]) + hold_n - 1
        if int(rep["i_end"]) >= n_samples:  # closed by the stop
            report = n_samples
        groups[min(set_of_report(report), 2)].append(rep)
    ended = ["next", "next", "stop"]
    end_enum = h5py.check_enum_dtype(sets.dtype["ended_by"])
    side_enum = h5py.check_enum_dtype(sets.dtype["weaker_side"])
    end_name = {v: k for k, v in end_enum.items()}
    side_name = {v: k for k, v in side_enum.items()}
    for k, (row, g) in enumerate(zip(sets, groups)):
        tag = "set %d" % (k + 1)
        check(int(row["index"]) == k + 1, tag + " index")
        check(int(row["reps_done"]) == len(g) and len(g) >= 1,
              tag + " reps_done %d vs %d reps" % (row["reps_done"], len(g)))
        check(int(row["reps_planned"]) == 2, tag + " reps_planned")
        check(bool(row["completed"]) == (len(g) >= 2), tag + " completed")
        if not g:
            continue
        pl = np.array([float(r["peak_left_N"]) for r in g])
        pr = np.array([float(r["peak_right_N"]) for r in g])
        check(abs(row["mean_peak_left_N"] - pl.mean()) < 1e-9, tag + " mean_peak_left_N")
        check(abs(row["mean_peak_right_N"] - pr.mean()) < 1e-9, tag + " mean_peak_right_N")
        check(row["max_peak_left_N"] == pl.max() and row["max_peak_right_N"] == pr.max(), tag + " max")
        asym = np.array([100 * (l - r) / max(l, r) for l, r in zip(pl, pr)])
        check(abs(row["mean_asymmetry_pct"] - asym.mean()) < 1e-9, tag + " mean asymmetry")
        weaker = "right" if asym.mean() > 0 else "left" if asym.mean() < 0 else "none"
        check(side_name[row["weaker_side"]] == weaker, tag + " weaker side")
        same = sum(1 for l, r in zip(pl, pr) if (l < r) == (weaker == "left") and l != r)
        check(int(row["same_weaker_reps"]) == same, tag + " same_weaker_reps")
        for leg, p in (("left", pl), ("right", pr)):
            if len(p) >= 2:
                best3 = p[:3].max()
                check(abs(row["decline_%s_pct" % leg] - 100 * (p[-1] - best3) / best3) < 1e-9,
                      tag + " decline " + leg)
            else:
                check(math.isnan(row["decline_%s_pct" % leg]), tag + " no decline with one rep")
        in_zone = sum(1 for l, r in zip(pl, pr) if lo_l <= l <= hi_l and lo_r <= r <= hi_r)
        check(int(row["zone_reps"]) == in_zone, tag + " zone_reps %d vs %d" % (row["zone_reps"], in_zone))
        check(int(row["pain"]) == PAINS[k], tag + " pain %d" % row["pain"])
        check(end_name[row["ended_by"]] == ended[k], tag + " ended_by")
        check(int(row["i_start"]) == int(g[0]["i_open"]) and int(row["i_end"]) == int(g[-1]["i_end"]),
              tag + " span")
        check(abs(row["duration_s"] - (int(g[-1]["i_end"]) - int(g[0]["i_open"])) / fs) < 1e-9,
              tag + " duration")
        if k < 2 and groups[k + 1]:
            rest = (int(groups[k + 1][0]["i_open"]) - int(g[-1]["i_end"])) / fs
            check(abs(row["rest_after_s"] - rest) < 1e-9, tag + " rest_after_s")
        else:
            check(math.isnan(row["rest_after_s"]), tag + " no rest after the last set")
    check(all(p for _, p in pains), "pain events stored")

    # ---- the live topics ----
    set_msgs = [b for t, b in messages[:first_session_msgs] if t == "set"]
    check(len(set_msgs) == 3, "three `set` messages, got %d" % len(set_msgs))
    for b, row in zip(set_msgs, sets):
        check(b["reps_done"] == int(row["reps_done"]) and b["pain"] == int(row["pain"])
              and b["ended_by"] == end_name[row["ended_by"]]
              and abs(b["mean_peak_left_N"] - row["mean_peak_left_N"]) < 1e-9,
              "set topic equals /sets row %d" % row["index"])
    rep_msgs = [b for t, b in messages[:first_session_msgs] if t == "rep"]
    for b in rep_msgs:
        l, r = b["peak_left_N"], b["peak_right_N"]
        want = ("below" if l < lo_l or r < lo_r else "above" if l > hi_l or r > hi_r else "in")
        check(b.get("zone") == want, "rep %d zone %s, expected %s" % (b["index"], b.get("zone"), want))
    live_sets = [b["set"] for t, b in messages if t == "live" and "set" in b]
    check(any(s["phase"] == "set" for s in live_sets) and any(s["phase"] == "rest" for s in live_sets),
          "live carries set and rest phases")

    # ---- offline equals live ----
    out = os.path.join(tmp, "report")
    r = subprocess.run([REPORT, "--recompute", "-o", out, path], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "nordic-report --recompute: %s" % r.stderr)
    with open(os.path.join(out, "sets.csv")) as fh:
        rows = list(csv.DictReader(fh))
    check(len(rows) == 3 and all(x["metrics_source"] == "recomputed" for x in rows), "sets.csv rows")
    fields = ["reps_done", "i_start", "i_end", "mean_peak_left_N", "mean_peak_right_N",
              "max_peak_left_N", "max_peak_right_N", "mean_asymmetry_pct", "decline_left_pct",
              "decline_right_pct", "rest_after_s", "duration_s", "zone_reps", "pain"]
    for x, row in zip(rows, sets):
        for fld in fields:
            stored = float(row[fld])
            got = float(x[fld]) if x[fld] not in ("", "NaN") else float("nan")
            check((math.isnan(stored) and math.isnan(got)) or stored == got,
                  "recomputed %s of set %s: %r vs stored %r" % (fld, x["index"], got, stored))
        check(x["ended_by"] == end_name[row["ended_by"]], "recomputed ended_by")
    r = subprocess.run([REPORT, "--compare", "-o", out + "-cmp", path], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, "nordic-report --compare finds no mismatch: %s" % r.stdout + r.stderr)
    with open(os.path.join(out + "-cmp", "compare.csv")) as fh:
        cmp_rows = [x for x in csv.DictReader(fh) if x["metric"].startswith("set")]
    check(len(cmp_rows) > 3 * 10 and all(x["match"] == "1" for x in cmp_rows), "compare covers /sets")

    # ---- single-leg file: legs per set, block asymmetry from /sets, offline equals live ----
    with h5py.File(leg_path, "r") as f:
        srows = f["sets"][()]
        sattrs = f["sets"].attrs
        leg_enum = {v: k for k, v in h5py.check_enum_dtype(srows.dtype["leg"]).items()}
        check(sattrs["leg"] == "left" and float(sattrs["leg_on_N"]) == 60 and float(sattrs["leg_off_N"]) == 30,
              "single-leg plan on /sets")
        legs = [leg_enum[x["leg"]] for x in srows]
        check(legs == ["left", "right"], "legs per set: %s" % legs)
        nd_events = [e["detail"].decode() for e in f["events"][()] if e["kind"].decode() == "set_next"]
        check(nd_events and nd_events[0].endswith("leg=right"), "set_next event names the leg: %s" % nd_events)
        if len(srows) == 2 and all(x["reps_done"] > 0 for x in srows):
            ml, mr = float(srows[0]["mean_peak_left_N"]), float(srows[1]["mean_peak_right_N"])
            want = 100 * (ml - mr) / max(ml, mr)
            check(block is not None and abs(block - want) < 1e-9, "block asymmetry %s vs %s" % (block, want))
            check(all(math.isnan(x["mean_asymmetry_pct"]) for x in srows), "no asymmetry within single-leg sets")
    r = subprocess.run([REPORT, "--compare", "-o", out + "-leg", leg_path], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, "single-leg session recomputes exactly: %s" % (r.stdout + r.stderr))

    # ---- a version 1.0 file (no /sets, no minor version) still reads ----
    v1 = os.path.join(tmp, "v1", os.path.basename(path))
    os.makedirs(os.path.dirname(v1))
    shutil.copy(path, v1)
    with h5py.File(v1, "r+") as f:
        del f["sets"]
        del f.attrs["schema_minor_version"]
    r = subprocess.run([TRIAL, "summary", v1], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "nordic-trial reads a 1.0 file: %s" % r.stderr)
    r = subprocess.run([REPORT, "--recompute", "-o", out + "-v1", v1], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, "nordic-report reads a 1.0 file: %s" % r.stderr)
    with open(os.path.join(out + "-v1", "sets.csv")) as fh:
        check(len(list(csv.DictReader(fh))) == 0, "a 1.0 file has no sets")
    with open(os.path.join(out + "-v1", "trials.csv")) as fh:
        t = list(csv.DictReader(fh))
        check(len(t) == 1 and int(t[0]["reps"]) == len(reps), "a 1.0 file's reps still counted")
finally:
    if daemon.poll() is None:
        daemon.kill()
        daemon.wait()
    log.close()
    if req is not None:
        req.close(linger=0)
    sub.close(linger=0)
    zctx.term()

finish("test_sets_session")
