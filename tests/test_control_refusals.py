"""Control refusals that say what is wrong, and the control `status` that
matches the documentation (issue 17, point 9), with pyzmq as the client:
- a string holding \\u0000 is refused naming its field (athlete_id, notes,
  a nested config key), not only "strings must not contain \\u0000";
- notes/detail with CR (U+000D) or NEL (U+0085) are refused (ZMQ_PROTOCOL.md
  allows tab and newline only), naming the field and the character; tab and
  newline are kept byte for byte in the file (read with h5py);
- a bad athlete_id or mark kind names the offending character;
- the control `status` reply carries every counter ZMQ_PROTOCOL.md lists
  (live_dropped_msgs included), the same set the PUB `status` carries."""
import json
import os
import re
import tempfile
import time

import h5py
import zmq

from daemon_harness import Daemon, wait_for
from nordic_testlib import SOURCE, check, finish

TMP = tempfile.mkdtemp(prefix="refusals-", dir=os.environ.get("TMPDIR"))


def documented_counters():
    with open(os.path.join(SOURCE, "daemon", "wire", "ZMQ_PROTOCOL.md")) as f:
        for line in f:
            if line.startswith("| `counters` |"):
                cell = line.split("|")[2]
                # names are the backticked words not inside parentheses
                outside = re.sub(r"\([^)]*\)", "", cell)
                return set(re.findall(r"`([a-z_]+)`", outside))
    return set()


def refused(d, raw, *needles):
    r = d.ask_raw(raw.encode() if isinstance(raw, str) else raw)
    err = r.get("error", "")
    ok = not r["ok"] and all(n in err for n in needles)
    check(ok, "%s is refused naming %r: %r" % (raw, needles, r))
    return err


d = Daemon(TMP, "sim:?rate=1000&reps=0")
try:
    check(wait_for(lambda: d.status().get("rate_hz")), "the board described itself")
    # NUL, in each place it can be
    err = refused(d, '{"cmd":"start","athlete_id":"A\\u0000B"}', '"athlete_id"', "U+0000")
    refused(d, '{"cmd":"start","athlete_id":"A1","notes":"x\\u0000"}', '"notes"', "U+0000")
    refused(d, '{"cmd":"config","set":{"on_N":1,"cutoff_hz":"\\u0000"}}', '"cutoff_hz"', "U+0000")
    refused(d, '{"cmd":"start","athl\\u0000ete_id":"A1"}', "field name", "U+0000")
    r = d.ask_raw(b'{"cmd":"start","athlete_id":"A1","notes":"\\\\u0000 is text"}')
    check(r["ok"], "an escaped backslash before u0000 is plain text: %r" % r)
    if r["ok"]:
        d.ask({"cmd": "stop"})

    # control characters in notes and mark detail
    refused(d, json.dumps({"cmd": "start", "athlete_id": "A1", "notes": "line\r\nnext"}),
            '"notes"', "U+000D", "tab and newline")
    refused(d, json.dumps({"cmd": "start", "athlete_id": "A1", "notes": "a\u0085b"}),
            '"notes"', "U+0085")
    refused(d, json.dumps({"cmd": "start", "athlete_id": "A1", "notes": "bell\x07"}),
            '"notes"', "U+0007")
    # the offending character of an id or kind
    refused(d, json.dumps({"cmd": "start", "athlete_id": "Jo Smith"}), '"athlete_id"', "U+0020",
            "byte 2")
    refused(d, json.dumps({"cmd": "start", "athlete_id": "Jos\u00e9"}), '"athlete_id"', "U+00E9")
    refused(d, json.dumps({"cmd": "start", "athlete_id": "a/b"}), '"athlete_id"', "'/'")
    refused(d, json.dumps({"cmd": "start", "athlete_id": "A\tB"}), '"athlete_id"', "U+0009")

    notes = "first line\n\tindented second line"
    r = d.ask({"cmd": "start", "athlete_id": "N1", "notes": notes})
    check(r["ok"], "notes with tab and newline are accepted: %r" % r)
    refused(d, json.dumps({"cmd": "mark", "kind": "note", "detail": "x\ry"}), '"detail"', "U+000D")
    refused(d, json.dumps({"cmd": "mark", "kind": "no te"}), '"kind"', "U+0020")
    stop = d.ask({"cmd": "stop"})
    check(stop["ok"], "trial stops: %r" % stop)
    if r["ok"]:
        with h5py.File(r["file"], "r") as h:
            stored = h.attrs["notes"]
            stored = stored.decode() if isinstance(stored, bytes) else stored
        check(stored == notes, "notes are stored byte for byte: %r" % stored)

    # control status counters = the documented list = the PUB status counters
    doc = documented_counters()
    check("live_dropped_msgs" in doc and len(doc) >= 15, "ZMQ_PROTOCOL.md lists the counters: %r"
          % sorted(doc))
    ctl = set(d.status()["counters"])
    check(ctl == doc, "control status counters are the documented ones: missing %r, extra %r"
          % (sorted(doc - ctl), sorted(ctl - doc)))
    sub = d.zctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"status")
    sub.setsockopt(zmq.RCVTIMEO, 5000)
    sub.connect("ipc://%s/run/pub" % TMP)
    frames = sub.recv_multipart()
    pub_status = json.loads(frames[-1])
    body = pub_status.get("status", pub_status)
    check(set(body.get("counters", {})) == doc, "PUB status counters are the documented ones: %r"
          % sorted(body.get("counters", {})))
    sub.close(linger=0)
finally:
    check(d.stop() == 0, "nordicd exits 0")
finish("test_control_refusals")
