"""nordic-station --hub (issue 14 item 4; tools/index/INDEX.md "Hub"): a
PostgreSQL 15 started by this test, two stations (real nordicd on the
simulator + real nordic-station with --index/--station-id/--base-url) record
a trial each, and a hub serves both from the central index:
/api/v1/trials lists both with station identity (station-qualified ids),
a trial's detail equals its HDF5 file read with h5py, the file and trace
come through the hub equal to the station's own, a trial recorded later and
a file deleted on a station reach the hub, and with one station stopped (and
then PostgreSQL too) the hub still lists every trial and answers that
station's file request with the documented 502. Every response is validated
against tools/index/openapi.yaml."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nordic_testlib import SOURCE, check, finish, reachable_by_others  # noqa: E402

try:
    from index_central_lib import PG_BIN, Postgres  # (imports h5py)
    import h5py
    import numpy as np
    import jsonschema
    import psycopg2
    import yaml
    import station_testlib as stl
except ImportError as e:  # python3-h5py, -numpy, -jsonschema, -yaml, -psycopg2
    print("missing prerequisite: %s" % e)
    sys.exit(1 if os.environ.get("CI") else 77)
if not os.path.exists(os.path.join(PG_BIN, "initdb")):
    print("missing prerequisite: PostgreSQL 15 server (Debian postgresql-15)")
    sys.exit(1 if os.environ.get("CI") else 77)
if not os.path.exists(stl.STATION):
    print("missing prerequisite: nordic-station not built (libwebsockets-dev, libcurl4-openssl-dev)")
    sys.exit(1 if os.environ.get("CI") else 77)

SIM = "sim:?rate=1000&reps=1000&rest=0.5&lead=1&rise=1&seed=%d"
SPEC = os.path.join(SOURCE, "tools", "index", "openapi.yaml")
with open(SPEC) as f:
    DOC = yaml.safe_load(f)
RESOLVER = jsonschema.RefResolver.from_schema(DOC)


def template_of(path):
    parts = path.split("/")
    for tmpl in DOC["paths"]:
        t = tmpl.split("/")
        if len(t) == len(parts) and all(a.startswith("{") or a == b for a, b in zip(t, parts)):
            return tmpl
    return None


def call(port, path, query=None, want=200):
    """GET; status, content type and JSON body checked against the document."""
    q = "?" + urllib.parse.urlencode(query) if query else ""
    status, hdrs, payload = stl.request(port, "GET", path + q)
    what = "GET %s%s on :%d" % (path, q, port)
    check(status == want, "%s: status %s, want %s: %r" % (what, status, want, payload[:300]))
    tmpl = template_of(path)
    if not check(tmpl is not None, "%s is a documented path" % what):
        return status, payload
    resp = DOC["paths"][tmpl]["get"]["responses"].get(str(status))
    if not check(resp is not None, "%s: status %s documented" % (what, status)):
        return status, payload
    if "$ref" in resp:
        resp = RESOLVER.resolve(resp["$ref"])[1]
    ctype = hdrs.get("content-type", [""])[0].split(";")[0].strip()
    content = resp.get("content", {})
    check(ctype in content, "%s: content type %r documented" % (what, ctype))
    if ctype != "application/json":
        return status, payload
    try:
        doc = json.loads(payload)
    except ValueError:
        check(False, "%s: body is JSON: %r" % (what, payload[:200]))
        return status, None
    v = jsonschema.Draft202012Validator(content[ctype]["schema"], resolver=RESOLVER)
    errors = list(v.iter_errors(doc))
    check(not errors, "%s: schema: %s" % (what, "; ".join(e.message[:200] for e in errors[:3])))
    return status, doc


def same_num(a, b):
    if isinstance(b, (float, np.floating)) and np.isnan(b):
        return a is None
    return a == b


def record(d, athlete, seconds=3.0, tare=True):
    """One trial with a pain mark; returns (trial_id, path). Only the first
    trial tares: later the simulator's reps load the hooks (tare refused)."""
    if tare:
        t = d.ask({"cmd": "tare"})
        check(t.get("ok"), "tare: %r" % t)
    r = d.ask({"cmd": "start", "athlete_id": athlete, "body_mass_kg": 72, "protocol": "1x3"})
    check(r.get("ok"), "start: %r" % r)
    time.sleep(1.0)
    check(d.ask({"cmd": "mark", "kind": "pain", "value": 4, "detail": "hub"})["ok"], "pain mark")
    time.sleep(seconds)
    s = d.ask({"cmd": "stop"}, timeout_ms=15000)
    check(s.get("ok"), "stop: %r" % s)
    return r["trial_id"], r["file"]


def hub_items(port):
    _, doc = call(port, "/api/v1/trials", {"limit": 1000})
    return doc.get("items", []) if isinstance(doc, dict) else []


def wait_for(pred, seconds, step=0.3):
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def detail_equals_file(port, ref, path):
    """The hub's detail of ref equals the HDF5 file (h5py)."""
    _, doc = call(port, "/api/v1/trials/" + ref)
    if not check(isinstance(doc, dict), "%s: detail" % ref):
        return
    with h5py.File(path, "r") as f:
        a = f.attrs
        station, _, trial = ref.partition(":")
        check(doc["trial_id"] == ref and trial == a["trial_id"], "%s: trial id" % ref)
        check(doc["station_id"] == station, "%s: station_id" % ref)
        check(doc["file_name"] == station + "/" + os.path.basename(path), "%s: file name" % ref)
        check(doc["athlete_id"] == a["athlete_id"] and doc["samples"] ==
              f["samples/force_N"].shape[0] and doc["sample_rate_hz"] == a["sample_rate_hz"],
              "%s: athlete, samples, rate" % ref)
        sa = f["reps"].attrs
        for k in ("max_left_N", "max_right_N", "mean_left_N", "asymmetry_pct", "lsi_pct"):
            check(same_num(doc["summary"][k], sa[k]), "%s: summary %s" % (ref, k))
        reps = f["reps"][:]
        sides = {v: k for k, v in h5py.check_enum_dtype(f["reps"].dtype["weaker_side"]).items()}
        check(len(doc["reps"]) == len(reps) and len(reps) > 0, "%s: rep count" % ref)
        for jr, hr in zip(doc["reps"], reps):
            for field in reps.dtype.names:
                want = sides[hr[field]] if field == "weaker_side" else hr[field]
                ok = jr[field] == want if field == "weaker_side" else same_num(jr[field], want)
                check(ok, "%s: rep %s %s: %r vs %r" % (ref, hr["index"], field, jr[field], want))
        ev = [(e["t_s"], e["kind"].decode().rstrip("\0"), e["detail"].decode().rstrip("\0"))
              for e in f["events"][:]]
        check([(e["t_s"], e["kind"], e["detail"]) for e in doc["events"]] == ev,
              "%s: events (with the pain mark)" % ref)
        check(doc["settings"]["rep_on_N"] == a["rep_on_N"] and
              doc["metadata"]["device_serial"] == a["device_serial"], "%s: settings" % ref)
        # Trace through the hub (fetched from the station): force_N[::50], t = i/fs.
        force = f["samples/force_N"][:]
        fs = a["sample_rate_hz"]
        _, tr = call(port, "/api/v1/trials/%s/trace" % ref, {"decimate": 50})
        check(isinstance(tr, dict) and tr["t_s"] == [i / fs for i in range(0, len(force), 50)]
              and np.array_equal(np.array(tr["force_N"], dtype=float), force[::50]),
              "%s: trace through the hub equals h5py force_N[::50]" % ref)


def stalled_station():
    """A TCP server that accepts and never answers (a hung station)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            held.append(c)
    threading.Thread(target=serve, daemon=True).start()
    return srv, "http://127.0.0.1:%d" % srv.getsockname()[1]


def slow_get(port, path, result):
    """GET with a long read timeout (a fetch the hub gives up after ~10 s)."""
    raw = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
           % (path, port)).encode()
    t0 = time.time()
    status, data = stl.http(port, raw, timeout=40.0)
    result["status"], result["body"] = status, data.partition(b"\r\n\r\n")[2]
    result["seconds"] = time.time() - t0


def refusals(root, pg_url):
    """Bad hub/base URL combinations stop start-up with a message (exit 2)."""
    cases = [
        (["--hub", pg_url, "--daemon", "b=ipc:///nonexistent/c,tcp://127.0.0.1:1"],
         "hub takes no daemon"),
        (["--hub", pg_url, "--index", pg_url, "--station-id", "x"], "hub takes no daemon"),
        (["--daemon", "b=ipc:///nonexistent/c,tcp://127.0.0.1:1", "--base-url",
          "http://127.0.0.1:1"], "base_url is published in the central index"),
        (["--daemon", "b=ipc:///nonexistent/c,tcp://127.0.0.1:1", "--index", pg_url,
          "--station-id", "x", "--base-url", "ftp://host"], "expected http://"),
        (["--daemon", "b=ipc:///nonexistent/c,tcp://127.0.0.1:1", "--hub-token", "/dev/null"],
         "hub_token is the token a hub sends"),
        (["--hub", pg_url, "--hub-token", os.path.join(root, "no-such-token")],
         "no-such-token"),
    ]
    for args, msg in cases:
        p = subprocess.run([stl.STATION, "--listen", "127.0.0.1:%d" % stl.free_port(),
                            "--state-dir", os.path.join(root, "refused")] + args,
                           capture_output=True, text=True, timeout=20)
        check(p.returncode != 0 and msg in p.stderr,
              "%s refused with %r: rc %d %r" % (args, msg, p.returncode, p.stderr))
        check(pg_url not in p.stderr, "the server URL is not echoed")
    ini = os.path.join(root, "hub.conf")
    with open(ini, "w") as f:
        f.write("[station]\nhub = %s\nhub_tokn = x\n" % pg_url)
    p = subprocess.run([stl.STATION, "--config", ini], capture_output=True, text=True, timeout=20)
    check(p.returncode == 2 and "hub.conf:3" in p.stderr and "hub_token" in p.stderr,
          "a misspelt INI key is refused naming the line and the valid keys: %r" % p.stderr)
    p = subprocess.run([stl.STATION, "--help"], capture_output=True, text=True, timeout=20)
    check(all(o in p.stdout for o in ("--hub URL", "--base-url URL", "--hub-token FILE")),
          "--help lists the hub options")


def main():
    base = os.environ.get("TMPDIR")
    root = tempfile.mkdtemp(prefix="station_hub.", dir=base if base and
                            reachable_by_others(base) else None)
    pg = Postgres(root)
    pg.start()
    daemons, stations, hub = {}, {}, None
    try:
        refusals(root, pg.url)
        # One API token for the hub, accepted by both stations (the same tokens line).
        tokens = os.path.join(root, "tokens")
        p = subprocess.run([stl.STATION, "--tokens", tokens, "--add-token", "hub"],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode == 0, "token made: %r" % p.stderr)
        hub_token = os.path.join(root, "hub-token")
        with open(hub_token, "w") as f:
            f.write(p.stdout.strip() + "\n")
        for i, sid in enumerate(("st-a", "st-b")):
            tmp = os.path.join(root, sid)
            d = stl.Daemon(tmp, SIM % (i + 5))
            port = stl.free_port()
            daemons[sid] = d
            stations[sid] = stl.Station(tmp, [(sid, d)], port=port, args=[
                "--index", pg.url, "--station-id", sid, "--tokens", tokens,
                "--base-url", "http://127.0.0.1:%d/" % port])
        recorded = {sid: record(d, "ath-" + sid) for sid, d in daemons.items()}
        conn = psycopg2.connect(pg.url)
        conn.autocommit = True
        cur = conn.cursor()

        def central_both():
            cur.execute("SELECT count(*) FROM nordic_trials WHERE status = 'complete'")
            return cur.fetchone()[0] == 2
        check(wait_for(central_both, 30), "both trials reached PostgreSQL")
        cur.execute("SELECT station_id, base_url FROM nordic_stations ORDER BY station_id")
        check(cur.fetchall() == [(sid, "http://127.0.0.1:%d" % stations[sid].port)
                                 for sid in ("st-a", "st-b")],
              "each station published its base URL (trailing '/' dropped)")

        # A column written by a newer version: the hub leaves it out, never fails on it.
        cur.execute("ALTER TABLE nordic_trials ADD COLUMN from_a_newer_version TEXT")
        hub_tmp = os.path.join(root, "hub")
        os.makedirs(hub_tmp)
        hub = stl.Station(hub_tmp, [], args=["--hub", pg.url, "--hub-token", hub_token])
        want = {"%s:%s" % (sid, tid) for sid, (tid, _) in recorded.items()}
        items = wait_for(lambda: {i["trial_id"] for i in hub_items(hub.port)} == want and
                         hub_items(hub.port), 30)
        check(bool(items), "the hub lists both stations' trials: %r" % want)
        for it in items or []:
            sid, _, tid = it["trial_id"].partition(":")
            check(it["station_id"] == sid and it["status"] == "complete" and
                  it["file_name"] == sid + "/" + os.path.basename(recorded[sid][1]),
                  "list item carries its station: %r" % it)
        _, doc = call(hub.port, "/api/v1/trials", {"athlete": "ath-st-b"})
        check([i["trial_id"] for i in doc["items"]] == ["st-b:" + recorded["st-b"][0]],
              "athlete filter over the stations")
        _, h = call(hub.port, "/api/v1/athletes/ath-st-a/history")
        check([t["trial_id"] for t in h["trials"]] == ["st-a:" + recorded["st-a"][0]],
              "athlete history on the hub")

        for sid, (tid, path) in recorded.items():
            ref = "%s:%s" % (sid, tid)
            detail_equals_file(hub.port, ref, path)
            _, raw = call(hub.port, "/api/v1/trials/%s/file" % ref)
            _, own = call(stations[sid].port, "/api/v1/trials/%s/file" % tid)
            with open(path, "rb") as fh:
                on_disk = fh.read()
            check(raw == on_disk == own, "%s: file through the hub == the station's file" % ref)

        # A hub with a token the stations do not know: refused, 502 saying why.
        wrong_tmp = os.path.join(root, "hub-wrong")
        os.makedirs(wrong_tmp)
        wrong_token = os.path.join(root, "wrong-token")
        with open(wrong_token, "w") as f:
            f.write("0" * 64 + "\n")
        wrong = stl.Station(wrong_tmp, [], args=["--hub", pg.url, "--hub-token", wrong_token])
        try:
            ref_a = "st-a:" + recorded["st-a"][0]
            check(wait_for(lambda: ref_a in {i["trial_id"] for i in hub_items(wrong.port)}, 30),
                  "second hub mirrored")
            _, e = call(wrong.port, "/api/v1/trials/%s/file" % ref_a, want=502)
            check(isinstance(e, dict) and "refused" in e.get("error", "") and
                  "hub_token" in e.get("error", ""), "wrong hub token: %r" % e)
        finally:
            check(wrong.stop() == 0, "second hub exits cleanly")
        # The ':' percent-encoded, as the pages' links send it.
        _, raw = call(hub.port, "/api/v1/trials/st-a%%3A%s/file" % recorded["st-a"][0])
        with open(recorded["st-a"][1], "rb") as fh:
            check(raw == fh.read(), "file through the hub with an encoded ':'")
        # Addressing: unqualified, unknown station, bad ids.
        call(hub.port, "/api/v1/trials/" + recorded["st-a"][0], want=404)
        call(hub.port, "/api/v1/trials/st-z:%s/file" % recorded["st-a"][0], want=404)
        _, e = call(hub.port, "/api/v1/trials/st-a:x%27%20OR%201=1/file", want=400)
        check(isinstance(e, dict) and e.get("parameter") == "trial_id", "bad id named: %r" % e)
        call(hub.port, "/api/v1/trials/st-a:x:y", want=400)
        _, tr = call(hub.port, "/api/v1/trials/st-a:%s/trace" % recorded["st-a"][0],
                     {"decimate": 0}, want=400)
        check(isinstance(tr, dict) and tr.get("parameter") == "decimate",
              "the station's 400 comes back through the hub: %r" % tr)
        # No daemons on a hub: the API and the live page say so.
        _, st = call(hub.port, "/api/v1/status", want=404)
        check(isinstance(st, dict) and "hub" in st.get("error", ""), "status: %r" % st)
        status, _, page = stl.request(hub.port, "GET", "/station.html")
        check(status == 404 and b"This is a hub" in page, "live page on a hub: %r" % page[:80])
        status, hdrs, _ = stl.request(hub.port, "GET", "/trial.html")
        check(status == 200, "trials page served by the hub")

        # Later changes reach the hub: a new trial on st-a, a file deleted on st-b.
        tid2, path2 = record(daemons["st-a"], "ath-st-a", seconds=2.0, tare=False)
        os.unlink(recorded["st-b"][1])
        want2 = {"st-a:" + recorded["st-a"][0], "st-a:" + tid2}
        check(wait_for(lambda: {i["trial_id"] for i in hub_items(hub.port)} == want2, 30),
              "new trial appears, deleted one goes: %r" %
              sorted(i["trial_id"] for i in hub_items(hub.port)))
        detail_equals_file(hub.port, "st-a:" + tid2, path2)

        # A fresh trial on st-b, then st-b's station stops: still listed, file -> 502.
        tid3, path3 = record(daemons["st-b"], "ath-st-b", seconds=2.0, tare=False)
        ref3 = "st-b:" + tid3
        check(wait_for(lambda: (ref3, "complete") in {(i["trial_id"], i["status"])
                                                      for i in hub_items(hub.port)}, 30),
              "st-b's new trial listed complete")
        # A hung station: its fetch runs off the hub's web server thread, so
        # other requests are answered meanwhile; given up with a 502.
        srv, stall_url = stalled_station()
        st_b_url = "http://127.0.0.1:%d" % stations["st-b"].port
        cur.execute("UPDATE nordic_stations SET base_url = %s WHERE station_id = 'st-b'",
                    (stall_url,))
        time.sleep(3)  # one pull
        slow = {}
        t = threading.Thread(target=slow_get, args=(hub.port, "/api/v1/trials/%s/file" % ref3,
                                                     slow))
        t.start()
        time.sleep(1.0)
        t0 = time.time()
        items_meanwhile = hub_items(hub.port)
        listed_in = time.time() - t0
        check(t.is_alive() and len(items_meanwhile) == 3 and listed_in < 3.0,
              "the hub lists trials while a fetch from a hung station waits (%.2f s)" % listed_in)
        t.join(timeout=60)
        err = json.loads(slow.get("body") or b"{}")
        check(slow.get("status") == 502 and "st-b" in err.get("error", "") and
              slow.get("seconds", 0) >= 5, "hung station given up with 502: %r" % slow)
        srv.close()
        cur.execute("UPDATE nordic_stations SET base_url = %s WHERE station_id = 'st-b'",
                    (st_b_url,))
        time.sleep(3)
        _, raw = call(hub.port, "/api/v1/trials/%s/file" % ref3)
        with open(path3, "rb") as fh:
            check(raw == fh.read(), "st-b's file through the hub again")

        check(stations["st-b"].stop() == 0, "st-b's station stops cleanly")
        _, e = call(hub.port, "/api/v1/trials/%s/file" % ref3, want=502)
        check(isinstance(e, dict) and "st-b" in e.get("error", "") and
              "unreachable" in e.get("error", ""), "502 names the station: %r" % e)
        call(hub.port, "/api/v1/trials/%s/trace" % ref3, want=502)
        detail_equals_file_no_trace = call(hub.port, "/api/v1/trials/" + ref3)[1]
        check(isinstance(detail_equals_file_no_trace, dict) and
              detail_equals_file_no_trace.get("samples") ==
              h5py.File(path3, "r")["samples/force_N"].shape[0],
              "its detail still served from the hub's mirror")
        # PostgreSQL gone too: the hub serves its last pull.
        conn.close()
        pg.stop()
        time.sleep(3)
        got = {i["trial_id"] for i in hub_items(hub.port)}
        check(got == want2 | {ref3}, "with the server down the hub still lists %r: %r"
              % (sorted(want2 | {ref3}), sorted(got)))
        _, raw = call(hub.port, "/api/v1/trials/st-a:%s/file" % tid2)
        with open(path2, "rb") as fh:
            check(raw == fh.read(), "st-a's file still fetched with the server down")
        check(hub.alive(), "hub kept running")
    finally:
        if hub:
            check(hub.stop() == 0, "hub exits cleanly")
        for s in stations.values():
            s.stop()
        for d in daemons.values():
            d.stop()
        try:
            pg.stop()
        except RuntimeError:
            pass
    if hub:
        text = open(hub.log_path).read()
        check("serving the last pulled rows" in text, "hub logged the server outage once")
    finish("test_station_hub")


main()
