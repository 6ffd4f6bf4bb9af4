#!/usr/bin/python3
"""An isometric test end to end (daemon/metrics/METRICS.md 5.7): holds at knee
angles entered by the operator, single-leg and bilateral, over the control
socket (pyzmq), the trial file read back by h5py.

The session is 4 x 1 (one hold per set): 0 deg left leg, then `set next`
with leg right (still 0 deg), then angle 30 with both legs, then angle 60.
Each set's angle and leg are taken here from the file's own set_next events
(the start request, then "angle=" and "leg=" of each event), each hold's set
from the rep's report sample, and the best hold per leg per angle and the
asymmetry of those bests from the /reps peaks with the documented rule (a
single-leg set counts for its working leg only) -- not from the daemon's
/sets rows. `nordic-report --recompute` must reproduce /sets exactly (angle
and test included); a file stripped back to the 1.1 layout (no test and
angle fields) must still read; bad requests get a clear error."""
import csv
import json
import math
import os
import shutil
import subprocess
import tempfile
import time

import h5py
import numpy as np
import zmq

from daemon_harness import NORDCTL, Daemon
from nordic_testlib import BUILD, check, finish

REPORT = os.path.join(BUILD, "tools", "nordic-report")
TRIAL = os.path.join(BUILD, "tools", "nordic-trial")
WATCH = os.path.join(BUILD, "tools", "nordic-watch")
SIM = "sim:?rate=500&reps=0&rest=1&lead=1&rise=0.8&peak_left=400&peak_right=320&seed=7"
BLOCKS = [(0.0, "left"), (0.0, "right"), (30.0, "both"), (60.0, "both")]


tmp = tempfile.mkdtemp(prefix="sets-iso-", dir=os.environ.get("TMPDIR"))
daemon = Daemon(tmp, SIM)
ctl_ep, pub_ep = daemon.ctl, "ipc://%s/run/pub" % tmp
ask = daemon.ask
zctx = zmq.Context()
sub = zctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
sub.connect(pub_ep)
messages = []


def pump(seconds, until=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if sub.poll(50):
            topic, body = sub.recv_multipart()
            msg = (topic.decode(), json.loads(body))
            messages.append(msg)
            if until and until(*msg):
                return msg
    return None


def wait_rep():
    if pump(15, lambda t, b: t == "rep") is None:
        check(False, "no hold within 15 s")


def status_set():
    return ask({"cmd": "status"})["status"].get("set", {})


def wait_status(pred):
    deadline = time.time() + 3
    s = status_set()
    while not pred(s) and time.time() < deadline:
        time.sleep(0.05)
        s = status_set()
    return s


try:
    # ---- bad input: clear errors, nothing started ----
    start = {"cmd": "start", "athlete_id": "I1", "protocol": "4x1"}
    for bad, why in [(dict(start, test="isometric"), "needs \"angle_deg\""),
                     (dict(start, test="isometric", angle_deg=95), "out of range [0, 90]"),
                     (dict(start, test="isometric", angle_deg=-5), "out of range [0, 90]"),
                     (dict(start, test="isometric", angle_deg="30"), "must be a number"),
                     (dict(start, angle_deg=30), "for \"test\": \"isometric\" only"),
                     (dict(start, test="nordic", angle_deg=30), "for \"test\": \"isometric\" only"),
                     (dict(start, test="eccentric", angle_deg=30), "unknown test \"eccentric\""),
                     ({"cmd": "start", "athlete_id": "I1", "test": "isometric", "angle_deg": 30},
                      "needs a \"protocol\""),
                     ({"cmd": "set", "action": "next", "angle_deg": 120}, "out of range [0, 90]"),
                     ({"cmd": "set", "action": "next", "angle_deg": None}, "must be a number")]:
        r = ask(bad)
        check(not r["ok"] and why in r.get("error", ""), "refused %s: %s" % (bad, r))
    check(ask({"cmd": "status"})["status"].get("state") != "recording", "nothing started")
    check(ask({"cmd": "tare"})["ok"], "tare")

    # An angle on a Nordic session is refused, and the set does not end.
    r = ask({"cmd": "start", "athlete_id": "N1", "protocol": "2x1"})
    check(r["ok"], "nordic start")
    r = ask({"cmd": "set", "action": "next", "angle_deg": 30})
    check(not r["ok"] and "isometric tests" in r.get("error", ""), "angle on a Nordic session: %s" % r)
    check(status_set().get("sets_ended") == 0 and status_set().get("test") == "nordic",
          "the refused set next ended nothing")
    check(ask({"cmd": "stop"})["ok"], "nordic stop")

    # At most 8 distinct angles per session: the ninth is refused.
    c = subprocess.run([NORDCTL, "--ctl", ctl_ep, "--json", "start", "--athlete", "I9", "--protocol", "20x1",
                        "--test", "isometric", "--angle", "0"], capture_output=True, text=True, timeout=30)
    check(c.returncode == 0 and json.loads(c.stdout or "{}").get("ok"), "nordctl start --test isometric: %s" % c.stderr)
    s = status_set()
    check(s.get("test") == "isometric" and s.get("angle_deg") == 0, "nordctl's start is an isometric test: %s" % s)
    c = subprocess.run([NORDCTL, "--ctl", ctl_ep, "set", "next", "--angle"], capture_output=True, text=True, timeout=30)
    check(c.returncode == 2 and "needs a value" in c.stderr, "nordctl set next --angle without a value: %s" % c.stderr)
    c = subprocess.run([NORDCTL, "--ctl", ctl_ep, "set", "next", "--angle", "95"], capture_output=True, text=True,
                       timeout=30)
    check(c.returncode == 1 and "out of range [0, 90]" in c.stderr, "nordctl passes the refusal: %s" % c.stderr)
    for a in (10, 20, 30, 40, 50, 60, 70, 0, 30):
        check(ask({"cmd": "set", "action": "next", "angle_deg": a})["ok"], "angle %d accepted" % a)
    r = ask({"cmd": "set", "action": "next", "angle_deg": 80})
    check(not r["ok"] and "at most 8 different knee angles" in r.get("error", ""), "ninth angle: %s" % r)
    check(ask({"cmd": "stop"})["ok"], "stop")
    time.sleep(0.3)
    pump(0.5)
    messages.clear()

    # ---- the isometric session ----
    r = ask({"cmd": "start", "athlete_id": "I2", "protocol": "4x1", "test": "isometric",
             "angle_deg": 0, "leg": "left", "leg_on_N": 60, "leg_off_N": 30, "set_gap_s": 600})
    check(r["ok"], "isometric start: %s" % r)
    path = r.get("file", "")
    s = status_set()
    check(s.get("test") == "isometric" and s.get("angle_deg") == 0 and s.get("leg") == "left"
          and s.get("set") == 1, "status before the first hold: %s" % s)
    watch_screen = ""
    for k, (angle, leg) in enumerate(BLOCKS):
        wait_rep()
        if k + 1 < len(BLOCKS):
            nxt = BLOCKS[k + 1]
            cmd = [NORDCTL, "--ctl", ctl_ep, "set", "next"]
            if nxt[0] != angle:
                cmd += ["--angle", "%g" % nxt[0]]
            if nxt[1] != leg:
                cmd += [nxt[1]]
            c = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            check(c.returncode == 0, "%s: %s" % (" ".join(cmd[3:]), c.stderr))
            s = wait_status(lambda s: s.get("angle_deg") == nxt[0] and s.get("leg") == nxt[1])
            check(s.get("angle_deg") == nxt[0] and s.get("leg") == nxt[1] and s.get("set") == k + 2,
                  "status after set next %d: %s" % (k + 1, s))
            if nxt[0] == 30:
                w = subprocess.run([WATCH, "--pub", pub_ep, "--frames", "20", "--hz", "20", "--ascii"],
                                   capture_output=True, text=True, timeout=30)
                watch_screen = w.stdout
    check("ISOMETRIC 30 deg  SET 3 of 4  hold" in watch_screen,
          "nordic-watch shows the angle and the hold count:\n" + watch_screen[-1500:])
    stop = ask({"cmd": "stop"})
    check(stop["ok"], "stop: %s" % stop)
    summ = stop.get("summary", {})
    pump(1.5, lambda t, b: t == "trial" and b.get("event") == "stop")
    trial_msgs = [b for t, b in messages if t == "trial" and b.get("event") == "stop"]
    check(trial_msgs and trial_msgs[-1].get("summary", {}).get("isometric") == summ.get("isometric"),
          "the trial topic carries the same per-angle summary")
    set_msgs = [b for t, b in messages if t == "set"]
    # The next-day pain re-summarises the closed file from its rows: no
    # progression rule for a test, the per-angle attributes stay.
    r = ask({"cmd": "next_day_pain", "trial_id": stop.get("trial_id", ""), "value": 2})
    check(r["ok"] and r["suggestion"]["rule"] == "none", "next-day pain on the test: %s" % r)
    daemon.stop()

    # ---- expected values from /reps and /events ----
    with h5py.File(path, "r") as f:
        a = f.attrs
        check(int(a["schema_version"]) == 1 and int(a["schema_minor_version"]) == 2, "schema 1.2")
        fs = float(a["sample_rate_hz"])
        hold_n = int(round(float(a["rep_hold_s"]) * fs))
        sa = f["sets"].attrs
        check(sa["test"] == "isometric" and float(sa["angle_deg"]) == 0 and sa["leg"] == "left",
              "plan on /sets: %s %s %s" % (sa["test"], sa["angle_deg"], sa["leg"]))
        reps = f["reps"][()]
        events = f["events"][()]
        sets = f["sets"][()]
        ra = dict(f["reps"].attrs)
        n_samples = f["samples/force_N"].shape[0]
    test_enum = {v: k for k, v in h5py.check_enum_dtype(sets.dtype["test"]).items()}
    leg_enum = {v: k for k, v in h5py.check_enum_dtype(sets.dtype["leg"]).items()}
    # Each set's angle and leg, from the start request and the set_next events.
    bounds, plan = [], [(0.0, "left")]
    for e in events:
        if e["kind"].decode() != "set_next":
            continue
        bounds.append(int(round(float(e["t_s"]) * fs)))
        angle, leg = plan[-1]
        for part in e["detail"].decode().split("; "):
            if part.startswith("angle="):
                angle = float(part[6:])
            if part.startswith("leg="):
                leg = part[4:]
        plan.append((angle, leg))
    check(plan == BLOCKS, "angles and legs from the events: %s" % plan)
    groups = [[] for _ in plan]
    for rep in reps:
        report = int(rep["i_end"]) + hold_n - 1
        if int(rep["i_end"]) >= n_samples:
            report = n_samples
        groups[min(sum(1 for b in bounds if b <= report), len(plan) - 1)].append(rep)
    check(len(sets) == len(plan), "%d /sets rows, got %d" % (len(plan), len(sets)))
    best = {}
    for k, (row, g, (angle, leg)) in enumerate(zip(sets, groups, plan)):
        tag = "set %d" % (k + 1)
        check(test_enum[row["test"]] == "isometric", tag + " test")
        check(float(row["angle_deg"]) == angle, tag + " angle %s vs %s" % (row["angle_deg"], angle))
        check(leg_enum[row["leg"]] == leg, tag + " leg")
        check(int(row["reps_done"]) == len(g) and len(g) >= 1, tag + " holds %d vs %d" % (row["reps_done"], len(g)))
        if not g:
            continue
        pl = max(float(r["peak_left_N"]) for r in g)
        pr = max(float(r["peak_right_N"]) for r in g)
        check(row["max_peak_left_N"] == pl and row["max_peak_right_N"] == pr, tag + " best hold per leg")
        b = best.setdefault(angle, [math.nan, math.nan])
        if leg in ("left", "both"):
            b[0] = pl if math.isnan(b[0]) else max(b[0], pl)
        if leg in ("right", "both"):
            b[1] = pr if math.isnan(b[1]) else max(b[1], pr)
    want = []
    for angle, (l, r) in best.items():
        asym = 100 * (l - r) / max(l, r) if not (math.isnan(l) or math.isnan(r)) and max(l, r) > 0 else math.nan
        want.append((angle, l, r, asym))
    iso = summ.get("isometric") or []
    check(len(iso) == len(want) == 3, "three angles in the stop summary: %s" % iso)
    for x, (angle, l, r, asym) in zip(iso, want):
        check(x["angle_deg"] == angle and abs(x["best_left_N"] - l) < 1e-9 and abs(x["best_right_N"] - r) < 1e-9
              and abs(x["asymmetry_pct"] - asym) < 1e-9, "angle %g: %s vs L %r R %r A %r" % (angle, x, l, r, asym))
    check(list(ra.get("iso_angle_deg", [])) == [w[0] for w in want]
          and np.allclose(ra.get("iso_best_left_N", []), [w[1] for w in want], rtol=0, atol=1e-9)
          and np.allclose(ra.get("iso_best_right_N", []), [w[2] for w in want], rtol=0, atol=1e-9)
          and np.allclose(ra.get("iso_asymmetry_pct", []), [w[3] for w in want], rtol=0, atol=1e-9),
          "iso_* attributes of /reps: %s" % {k: v for k, v in ra.items() if k.startswith("iso_")})
    check(summ.get("suggestion", {}).get("rule") == "none", "no progression rule for a test: %s" % summ.get("suggestion"))
    check(len(set_msgs) == len(sets) and all(
        m["test"] == "isometric" and m["angle_deg"] == float(row["angle_deg"]) for m, row in zip(set_msgs, sets)),
        "set topic carries test and angle")

    # ---- offline equals live ----
    out = os.path.join(tmp, "report")
    r = subprocess.run([REPORT, "--recompute", "-o", out, path], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "nordic-report --recompute: %s" % r.stderr)
    with open(os.path.join(out, "sets.csv")) as fh:
        rows = list(csv.DictReader(fh))
    check(len(rows) == len(sets) and all(x["test"] == "isometric" for x in rows), "sets.csv test column")
    for x, row in zip(rows, sets):
        for fld in ("angle_deg", "reps_done", "i_start", "i_end", "max_peak_left_N", "max_peak_right_N",
                    "mean_peak_left_N", "mean_peak_right_N"):
            check(float(x[fld]) == float(row[fld]), "recomputed %s of set %s: %r vs %r" % (fld, x["index"], x[fld], row[fld]))
    r = subprocess.run([REPORT, "--compare", "-o", out + "-cmp", path], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "nordic-report --compare finds no mismatch: %s" % (r.stdout + r.stderr))
    with open(os.path.join(out + "-cmp", "compare.csv")) as fh:
        cmp_rows = [x for x in csv.DictReader(fh) if x["metric"].startswith("set")]
    check(any(x["metric"] == "set3.angle_deg" and x["match"] == "1" for x in cmp_rows),
          "compare covers the angle")
    r = subprocess.run([TRIAL, "summary", path], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "isometric at 30 deg, both legs" in r.stdout, "nordic-trial summary: %s" % r.stdout)

    # ---- a file in the 1.1 layout (no test/angle fields, no iso_* attributes) ----
    old = os.path.join(tmp, "v11", os.path.basename(path))
    os.makedirs(os.path.dirname(old))
    shutil.copy(path, old)
    with h5py.File(old, "r+") as f:
        rows11 = f["sets"][()]
        keep = [n for n in rows11.dtype.names if n not in ("test", "angle_deg")]
        dt = np.dtype([(n, rows11.dtype[n]) for n in keep])
        data = np.array([tuple(x[n] for n in keep) for x in rows11], dtype=dt)
        attrs = {k: v for k, v in f["sets"].attrs.items() if k not in ("test", "angle_deg")}
        del f["sets"]
        d = f.create_dataset("sets", data=data, maxshape=(None,), chunks=(16,))
        for k, v in attrs.items():
            d.attrs[k] = v
        for k in list(f["reps"].attrs):
            if k.startswith("iso_"):
                del f["reps"].attrs[k]
        f.attrs["schema_minor_version"] = np.int32(1)
    r = subprocess.run([TRIAL, "summary", old], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "v1.1" in r.stdout and "isometric" not in r.stdout,
          "nordic-trial reads the 1.1 layout as Nordic sets: %s %s" % (r.stdout[-800:], r.stderr))
    r = subprocess.run([REPORT, "--recompute", "-o", out + "-v11", old], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "nordic-report reads the 1.1 layout: %s" % r.stderr)
    with open(os.path.join(out + "-v11", "sets.csv")) as fh:
        rows = list(csv.DictReader(fh))
    check(len(rows) == len(sets) and all(x["test"] == "nordic" and x["angle_deg"] in ("", "NaN") for x in rows),
          "1.1 rows read as Nordic without an angle: %s" % [(x["test"], x["angle_deg"]) for x in rows])
    check(all(float(x["max_peak_left_N"]) == float(row["max_peak_left_N"]) for x, row in zip(rows, sets)),
          "1.1 rows keep their values")
    r = subprocess.run([REPORT, "--compare", "-o", out + "-v11cmp", old], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "the 1.1 layout recomputes to its stored rows: %s" % (r.stdout + r.stderr))
finally:
    if daemon.proc.poll() is None:
        daemon.stop()
    sub.close(linger=0)
    zctx.term()

finish("test_sets_isometric")
