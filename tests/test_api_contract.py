"""/api/v1 contract test (tools/index/openapi.yaml, tools/index/INDEX.md):
real nordicd on the simulator records a trial through its control socket,
real nordic-station serves the index over HTTP; every response of every
documented endpoint is validated against the OpenAPI document (JSON Schema
2020-12 via Debian's python3-jsonschema), values are compared with the HDF5
files read by h5py, pagination walks every trial exactly once, a file copied
into the data directory appears without a restart, and bad parameters
(SQL-looking strings, huge limits, unknown parameters and fields) get a 400
naming the parameter while the index stays unchanged."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nordic_testlib import BUILD, SOURCE, check, finish  # noqa: E402

try:
    import jsonschema
    import yaml
except ImportError as e:  # python3-jsonschema, python3-yaml (tools/quickstart.sh)
    print("missing prerequisite: %s" % e)
    sys.exit(1 if os.environ.get("CI") else 77)

import station_testlib as stl  # noqa: E402

GEN = os.path.join(BUILD, "tools", "nordic-report-gen")
SPEC = os.path.join(SOURCE, "tools", "index", "openapi.yaml")
SIM = "sim:?rate=1000&reps=1000&rest=0.5&lead=1&rise=1&seed=11"
T0 = 1714566896

with open(SPEC) as f:
    DOC = yaml.safe_load(f)
RESOLVER = jsonschema.RefResolver.from_schema(DOC)
exercised = set()  # (template, method, status)


def template_of(path):
    """The OpenAPI path template a concrete path belongs to."""
    parts = path.split("/")
    for tmpl in DOC["paths"]:
        t = tmpl.split("/")
        if len(t) == len(parts) and all(a.startswith("{") or a == b for a, b in zip(t, parts)):
            return tmpl
    return None


def call(port, method, path, query=None, body=None, want=200):
    """One request; the response is checked against the document. Returns
    (status, parsed JSON or raw bytes, headers)."""
    q = ""
    if query is not None:
        q = "?" + (query if isinstance(query, str) else urllib.parse.urlencode(query))
    status, hdrs, payload = stl.request(port, method, path + q, body)
    tmpl = template_of(path)
    what = "%s %s%s" % (method, path, q)
    check(status == want, "%s: status %s, want %s: %r" % (what, status, want, payload[:300]))
    if not check(tmpl is not None, "%s is a documented path" % what):
        return status, payload, hdrs
    op = DOC["paths"][tmpl].get(method.lower())
    if not check(op is not None, "%s: method documented" % what):
        return status, payload, hdrs
    resp = op["responses"].get(str(status))
    if not check(resp is not None, "%s: status %s documented" % (what, status)):
        return status, payload, hdrs
    if "$ref" in resp:
        resp = RESOLVER.resolve(resp["$ref"])[1]
    exercised.add((tmpl, method, status))
    ctype = hdrs.get("content-type", [""])[0].split(";")[0].strip()
    content = resp.get("content", {})
    check(ctype in content, "%s: content type %r documented (%s)" % (what, ctype, list(content)))
    if ctype == "application/json":
        try:
            doc = json.loads(payload)
        except ValueError:
            check(False, "%s: body is JSON: %r" % (what, payload[:200]))
            return status, payload, hdrs
        schema = content[ctype]["schema"]
        v = jsonschema.Draft202012Validator(schema, resolver=RESOLVER)
        errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
        check(not errors, "%s: schema: %s" % (what, "; ".join(
            "%s: %s" % (list(e.path), e.message[:200]) for e in errors[:3])))
        return status, doc, hdrs
    return status, payload, hdrs


def bad(port, method, path, query=None, body=None, parameter=None, want=400):
    _, doc, _ = call(port, method, path, query, body, want)
    check(isinstance(doc, dict) and doc.get("parameter") == parameter,
          "%s %s %r %r: error names %r: %r" % (method, path, query, body, parameter, doc))


def same_num(a, b):
    if isinstance(b, (float, np.floating)) and np.isnan(b):
        return a is None
    return a == b


def main():
    tmp = tempfile.mkdtemp(prefix="api_contract.", dir=os.environ.get("TMPDIR"))
    if not os.path.exists(stl.STATION):
        print("nordic-station not built (libwebsockets-dev, libsodium-dev)")
        sys.exit(1 if os.environ.get("CI") else 77)
    d = stl.Daemon(tmp, SIM)
    os.makedirs(tmp + "/station-state", exist_ok=True)
    # Generated trials of two athletes, one damaged and one foreign file.
    p = subprocess.run([GEN, d.data, "--athlete", "ath-g1", "--date", str(T0), "--count", "4",
                        "--pain", "5"], capture_output=True, text=True, check=True)
    gen_paths = p.stdout.split()
    subprocess.run([GEN, d.data, "--athlete", "ath-g2", "--date", str(T0 + 3600), "--count", "3",
                    "--left", "240", "--right", "300"], capture_output=True, check=True)
    with open(gen_paths[0], "rb") as f:
        cut = f.read(4096)
    with open(os.path.join(d.data, "ath-g1_20240301T000000Z_cut.h5"), "wb") as f:
        f.write(cut)
    with open(os.path.join(d.data, "notes.h5"), "w") as f:
        f.write("not a trial\n")
    s = stl.Station(tmp, [("board1", d)])
    port = s.port
    try:
        run_checks(d, s, port, gen_paths, tmp)
    finally:
        s.stop()
        d.stop()
    finish("test_api_contract")


def run_checks(d, st_proc, port, gen_paths, tmp):
    # A trial recorded now by nordicd: closes -> inotify -> listed.
    r = d.ask({"cmd": "tare"})
    check(r["ok"], "tare: %s" % r)
    r = d.ask({"cmd": "start", "athlete_id": "ath-live", "body_mass_kg": 75, "lever_m": 0.42,
               "injured_side": "right", "protocol": "1x3", "notes": "contract"})
    check(r["ok"], "start: %s" % r)
    live_id, live_path = r["trial_id"], r["file"]
    time.sleep(1.0)
    r = d.ask({"cmd": "mark", "kind": "pain", "value": 2, "detail": "api"})
    check(r["ok"], "pain mark: %s" % r)
    time.sleep(4.0)
    r = d.ask({"cmd": "stop"})
    check(r["ok"], "stop: %s" % r)
    deadline = time.time() + 20
    item = None
    while time.time() < deadline:
        _, doc, _ = call(port, "GET", "/api/v1/trials", {"athlete": "ath-live"})
        items = doc.get("items", []) if isinstance(doc, dict) else []
        if items and items[0]["status"] == "complete":
            item = items[0]
            break
        time.sleep(0.3)
    check(item is not None and item["trial_id"] == live_id,
          "the recorded trial is listed complete after stop: %r" % item)

    # Every trial once, newest first, across pages of 3.
    seen, cursor, pages = [], None, 0
    while pages < 20:
        q = {"limit": 3}
        if cursor:
            q["cursor"] = cursor
        _, doc, _ = call(port, "GET", "/api/v1/trials", q)
        seen += doc["items"]
        cursor = doc["next_cursor"]
        pages += 1
        if not cursor:
            break
    names = [i["file_name"] for i in seen]
    on_disk = sorted(n for n in os.listdir(d.data) if n.endswith(".h5") and not n.startswith("."))
    check(sorted(names) == on_disk, "pages hold every file once: %s vs %s" % (names, on_disk))
    keys = [(i["created_utc"], i["file_name"]) for i in seen]
    check(keys == sorted(keys, reverse=True), "newest first, file name breaking ties")
    st = {i["file_name"]: i["status"] for i in seen}
    check(st.get("ath-g1_20240301T000000Z_cut.h5") == "damaged", "truncated file damaged")
    check(st.get("notes.h5") == "foreign", "text file foreign")

    # Filters.
    _, doc, _ = call(port, "GET", "/api/v1/trials", {"athlete": "ath-g2"})
    check(len(doc["items"]) == 3 and all(i["athlete_id"] == "ath-g2" for i in doc["items"]),
          "athlete filter")
    _, doc, _ = call(port, "GET", "/api/v1/trials", {"status": "damaged"})
    check([i["file_name"] for i in doc["items"]] == ["ath-g1_20240301T000000Z_cut.h5"],
          "status filter")
    # Generated trials are a week apart from T0: [T0+7d, T0+14d) holds one per athlete.
    _, doc, _ = call(port, "GET", "/api/v1/trials",
                     {"from": "2024-05-08T12:34:56Z", "to": str(T0 + 14 * 86400)})
    check(sorted(i["athlete_id"] for i in doc["items"]) == ["ath-g1", "ath-g2"],
          "from/to filter: %r" % [i["file_name"] for i in doc["items"]])
    since = int(os.stat(live_path).st_mtime)
    _, doc, _ = call(port, "GET", "/api/v1/trials", {"modified_since": since})
    check(live_id in [i["trial_id"] for i in doc["items"]], "modified_since finds the new trial")
    _, doc, _ = call(port, "GET", "/api/v1/trials", {"modified_since": since + 3600})
    check(doc["items"] == [], "modified_since in the future: nothing")

    # One trial against its file (h5py).
    for trial_id, path in ((live_id, live_path),
                           (os.path.basename(gen_paths[1])[:-3].split("_")[-1], gen_paths[1])):
        _, doc, _ = call(port, "GET", "/api/v1/trials/" + trial_id)
        with h5py.File(path, "r") as f:
            a = f.attrs
            check(doc["athlete_id"] == a["athlete_id"] and doc["samples"] ==
                  f["samples/force_N"].shape[0], "%s metadata" % trial_id)
            sa = f["reps"].attrs
            for k in ("max_left_N", "max_right_N", "mean_left_N", "asymmetry_pct", "lsi_pct"):
                check(same_num(doc["summary"][k], sa[k]), "%s summary %s" % (trial_id, k))
            check(doc["summary"]["pain_rating"] == sa["pain_rating"], "%s pain rating" % trial_id)
            reps = f["reps"][:]
            sides = {v: k for k, v in h5py.check_enum_dtype(f["reps"].dtype["weaker_side"]).items()}
            check(len(doc["reps"]) == len(reps) and len(reps) > 0, "%s rep count" % trial_id)
            for jr, hr in zip(doc["reps"], reps):
                for field in reps.dtype.names:
                    want = sides[hr[field]] if field == "weaker_side" else hr[field]
                    ok = jr[field] == want if field == "weaker_side" else same_num(jr[field], want)
                    check(ok, "%s rep %s %s: %r vs %r" % (trial_id, hr["index"], field,
                                                          jr[field], want))
            ev = [(e["t_s"], e["kind"].decode().rstrip("\0"), e["detail"].decode().rstrip("\0"))
                  for e in f["events"][:]]
            check([(e["t_s"], e["kind"], e["detail"]) for e in doc["events"]] == ev,
                  "%s events" % trial_id)
            check(doc["settings"]["weak_threshold_N"] == a["weak_threshold_N"] and
                  doc["settings"]["injured_side"] == a["injured_side"], "%s settings" % trial_id)
            _, evdoc, _ = call(port, "GET", "/api/v1/trials/%s/events" % trial_id)
            check(evdoc["events"] == doc["events"], "events endpoint equals the detail's events")
            _, sdoc, _ = call(port, "GET", "/api/v1/trials/%s/settings" % trial_id)
            check(sdoc["settings"] == doc["settings"], "settings endpoint equals the detail's")
            # Trace: rows 0, N, 2N ... of force_N, t = i/fs.
            force = f["samples/force_N"][:]
            fs = a["sample_rate_hz"]
            _, tr, _ = call(port, "GET", "/api/v1/trials/%s/trace" % trial_id, {"decimate": 50})
            check(tr["t_s"] == [i / fs for i in range(0, len(force), 50)], "trace t_s")
            check(np.array_equal(np.array(tr["force_N"], dtype=float), force[::50]),
                  "trace force_N equals h5py force_N[::50]")
            _, csv, _ = call(port, "GET", "/api/v1/trials/%s/trace" % trial_id,
                             {"format": "csv", "decimate": 7})
            lines = csv.decode().splitlines()
            names = [str(x) for x in a["channel_names"]]
            check(lines[0] == "t_s," + ",".join('"%s"' % n for n in names), "csv header")
            rows = np.array([[float(x) for x in l.split(",")] for l in lines[1:]])
            check(rows.shape == (len(force[::7]), 1 + force.shape[1]) and
                  np.array_equal(rows[:, 1:], force[::7]), "csv rows equal force_N[::7]")
            _, raw, _ = call(port, "GET", "/api/v1/trials/%s/file" % trial_id)
            with open(path, "rb") as fh:
                check(raw == fh.read(), "file download equals the trial file")
    call(port, "GET", "/api/v1/trials/no-such-trial", want=404)
    call(port, "GET", "/api/v1/trials/cut/settings", want=409)

    # A file copied in (not by nordicd) appears without a restart.
    extra = os.path.join(tmp, "elsewhere")
    os.makedirs(extra)
    p = subprocess.run([GEN, extra, "--athlete", "ath-copy", "--trial-id", "copied1"],
                       capture_output=True, text=True, check=True)
    shutil.copy(p.stdout.split()[0], d.data)
    deadline = time.time() + 15
    found = False
    while time.time() < deadline and not found:
        status, _, _ = stl.request(port, "GET", "/api/v1/trials/copied1")
        found = status == 200
        time.sleep(0.2)
    check(found, "copied-in file indexed by the station's watcher")

    # Athletes.
    body = {"id": "ath-g1", "display_name": "Gunnar Ås", "body_mass_kg": 81.5, "lever_m": 0.44,
            "injured_side": "left", "notes": "hamstring strain 2024"}
    _, a, _ = call(port, "POST", "/api/v1/athletes", body=body, want=201)
    check(all(a[k] == v for k, v in body.items()), "created athlete echoes its fields")
    call(port, "POST", "/api/v1/athletes", body=body, want=409)
    call(port, "POST", "/api/v1/athletes", body={"id": "ath-x", "display_name": "X"}, want=201)
    _, a2, _ = call(port, "PUT", "/api/v1/athletes/ath-g1", body={"body_mass_kg": 80})
    check(a2["body_mass_kg"] == 80 and a2["lever_m"] == 0.44 and
          a2["created_utc"] == a["created_utc"], "PUT changes only the given field")
    _, a3, _ = call(port, "GET", "/api/v1/athletes/ath-g1")
    check(a3 == a2, "GET returns what PUT stored")
    _, lst, _ = call(port, "GET", "/api/v1/athletes", {"q": "Gunnar"})
    check([x["id"] for x in lst["items"]] == ["ath-g1"], "search by display name")
    _, lst, _ = call(port, "GET", "/api/v1/athletes", {"limit": 1})
    check(len(lst["items"]) == 1 and lst["next_cursor"], "athletes page 1")
    _, lst2, _ = call(port, "GET", "/api/v1/athletes", {"limit": 1, "cursor": lst["next_cursor"]})
    check(len(lst2["items"]) == 1 and lst2["items"][0]["id"] != lst["items"][0]["id"],
          "athletes page 2")
    _, h, _ = call(port, "GET", "/api/v1/athletes/ath-g1/history")
    created = [t["created_utc"] for t in h["trials"]]
    check(len(h["trials"]) == 5 and created == sorted(created),
          "history: 4 generated + the damaged file named ath-g1, oldest first")
    _, h, _ = call(port, "GET", "/api/v1/athletes/ath-live/history")
    check(h["athlete"] is None and [t["trial_id"] for t in h["trials"]] == [live_id],
          "history of an athlete with trials but no registry entry")
    call(port, "GET", "/api/v1/athletes/nobody", want=404)
    call(port, "PUT", "/api/v1/athletes/nobody", body={"notes": "x"}, want=404)
    call(port, "GET", "/api/v1/athletes/nobody/history", want=404)
    # The best per leg (METRICS.md 5.4): generated trials have no sets, so
    # every rep is bilateral; the highest peak of the athlete's files (h5py).
    _, b, _ = call(port, "GET", "/api/v1/athletes/ath-g2/best")
    for leg in ("left", "right"):
        peaks = []
        for path in glob.glob(os.path.join(d.data, "ath-g2_*.h5")):
            with h5py.File(path, "r") as f:
                peaks += [(float(r["peak_%s_N" % leg]), f.attrs["trial_id"], int(r["index"]))
                          for r in f["reps"][:]]
        top = max(peaks)
        check((b[leg]["peak_N"], b[leg]["trial_id"], b[leg]["rep"]) == top,
              "best %s equals the highest rep peak in the files: %r vs %r" % (leg, b[leg], top))
    check(b["trials"] == 3, "best: three trials of ath-g2 count")
    call(port, "GET", "/api/v1/athletes/nobody/best", want=404)

    # Station-owned endpoints are documented too.
    call(port, "GET", "/api/v1/status")
    _, metrics, hdrs = call(port, "GET", "/metrics")
    check(b"# TYPE" in metrics, "/metrics is Prometheus text")

    # Bad input: 400 naming the parameter; nothing stored.
    _, before, _ = call(port, "GET", "/api/v1/trials", {"limit": 1000})
    for q, param in (
            ({"limit": 10 ** 9}, "limit"), ({"limit": 0}, "limit"), ({"limit": "ten"}, "limit"),
            ({"athlete": "x' OR '1'='1"}, "athlete"),
            ({"athlete": "a; DROP TABLE trials; --"}, "athlete"),
            ({"athlete": "a&limit=5"}, "athlete"),
            ({"status": "complete' --"}, "status"),
            ({"from": "1 UNION SELECT * FROM athletes"}, "from"),
            ({"to": "tomorrow"}, "to"), ({"modified_since": "-5"}, "modified_since"),
            ({"cursor": "' OR 1=1 --"}, "cursor"), ({"cursor": "c1" + "41" * 10}, "cursor"),
            ({"order": "trial_id"}, "order"), ({"sql": "SELECT 1"}, "sql")):
        bad(port, "GET", "/api/v1/trials", q, parameter=param)
    bad(port, "GET", "/api/v1/trials", "limit=1&limit=2", parameter="limit")
    bad(port, "GET", "/api/v1/trials/x'%20OR%20'1'='1", parameter="trial_id")
    bad(port, "GET", "/api/v1/trials/" + live_id, {"fields": "all"}, parameter="fields")
    bad(port, "GET", "/api/v1/trials/%s/trace" % live_id, {"format": "xml"}, parameter="format")
    bad(port, "GET", "/api/v1/trials/%s/trace" % live_id, {"decimate": 10 ** 9},
        parameter="decimate")
    bad(port, "GET", "/api/v1/trials/%s/trace" % live_id, {"decimate": 2, "x": 1}, parameter="x")
    bad(port, "GET", "/api/v1/trials/%s/events" % live_id, {"kind": "pain"}, parameter="kind")
    bad(port, "GET", "/api/v1/trials/1'%20UNION%20SELECT%20*%20FROM%20athletes--/settings",
        parameter="trial_id")
    bad(port, "GET", "/api/v1/trials/.hidden/file", parameter="trial_id")
    bad(port, "GET", "/api/v1/athletes/x'%20OR%20'1'='1", parameter="id")
    bad(port, "GET", "/api/v1/athletes/%s/history" % ("a" * 65), parameter="id")
    bad(port, "GET", "/api/v1/athletes/ath-g2/best", {"from": "last week"}, parameter="from")
    bad(port, "GET", "/api/v1/athletes/ath-g2/best", {"leg": "left"}, parameter="leg")
    bad(port, "GET", "/api/v1/athletes", {"q": "'; DROP TABLE athletes; --"}, parameter="q")
    bad(port, "GET", "/api/v1/athletes", {"limit": 10 ** 9}, parameter="limit")
    for body, param in (
            ({"id": "n1", "display_name": "N", "role": "admin"}, "role"),
            ({"display_name": "N"}, "id"), ({"id": "n1"}, "display_name"),
            ({"id": "n1' OR 1=1 --", "display_name": "N"}, "id"),
            ({"id": "n1", "display_name": "N", "body_mass_kg": "80"}, "body_mass_kg"),
            ({"id": "n1", "display_name": "N", "body_mass_kg": 1e9}, "body_mass_kg"),
            ({"id": "n1", "display_name": "N", "lever_m": 3}, "lever_m"),
            ({"id": "n1", "display_name": "N", "injured_side": "both"}, "injured_side"),
            ({"id": "n1", "display_name": "x" * 129}, "display_name"),
            ([1, 2], "body"), ("{\"id\": \"n1\"", "body")):
        raw = body.encode() if isinstance(body, str) else None
        bad(port, "POST", "/api/v1/athletes", body=raw if raw else body, parameter=param)
    bad(port, "PUT", "/api/v1/athletes/ath-g1", body={"id": "other"}, parameter="id")
    bad(port, "PUT", "/api/v1/athletes/ath-g1", body={"weight": 80}, parameter="weight")
    _, after, _ = call(port, "GET", "/api/v1/trials", {"limit": 1000})
    check(before == after, "refused requests changed no trial row")
    _, lst, _ = call(port, "GET", "/api/v1/athletes", {"limit": 1000})
    check(sorted(x["id"] for x in lst["items"]) == ["ath-g1", "ath-x"],
          "refused requests stored no athlete")
    _, a4, _ = call(port, "GET", "/api/v1/athletes/ath-g1")
    check(a4 == a2, "refused PUTs changed nothing")
    check(st_proc.alive() and d.alive(), "station and daemon still running")

    # Every documented operation was exercised with its success status and,
    # where documented, its 400.
    for tmpl, ops in DOC["paths"].items():
        for method, op in ops.items():
            for status in op["responses"]:
                if status in ("200", "201", "400"):
                    check((tmpl, method.upper(), int(status)) in exercised,
                          "exercised %s %s -> %s" % (method.upper(), tmpl, status))


main()
