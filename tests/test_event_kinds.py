"""Event kinds in trial files are the documented ones (issue 17, point 8):
a capture built from drivers/decoders/PROTOCOL.md with a device overflow (STATUS
counter rising) and a device restart (seq going back) is recorded by
nordicd; every kind in the file's /events must be in the table of
daemon/trialfile/TRIAL_FORMAT.md, and the overflow and restart appear under the
documented names `overflow` and `restart`."""
import os
import re
import subprocess
import tempfile

import h5py

import nfp_frames as nfp
from nordic_testlib import BUILD, SOURCE, check, finish

NORDICD = os.path.join(BUILD, "daemon", "nordicd")
TMP = tempfile.mkdtemp(prefix="evkinds-", dir=os.environ.get("TMPDIR"))


def documented_kinds():
    """Kinds from the /events table: the backticked name in the first column."""
    with open(os.path.join(SOURCE, "daemon", "trialfile", "TRIAL_FORMAT.md")) as f:
        text = f.read()
    section = text.split("### `/events`", 1)[1].split("\n## ", 1)[0]
    kinds = set()
    for line in section.splitlines():
        m = re.match(r"\|\s*`([a-z_]+)`\s*\|", line)
        if m:
            kinds.add(m.group(1))
    return kinds


kinds_doc = documented_kinds()
check({"restart", "overflow", "gap", "device_lost", "device_back"} <= kinds_doc,
      "TRIAL_FORMAT.md's table lists the device event kinds: %r" % sorted(kinds_doc))

# 1000 sets/s, 10 sets per frame: 2 s, then an overflow of 7 sets, 1 s more,
# then the device restarts (seq back to 0) and runs 1 s.
rate, per = 1000, 10
cap = bytearray(b"\x00" + nfp.info(rate, 2, counts_per_newton=[100, 100]) + nfp.status(0))
seq = 0


def run(frames, seq0):
    out = bytearray()
    for k in range(frames):
        s = seq0 + k * per
        out += nfp.samples(s, s * 1000, [[1000 + (s + i) % 50, 2000] for i in range(per)])
    return out


cap += run(200, 0)
cap += nfp.status(7)
cap += run(100, 2000)
cap += run(100, 0)  # restart
capture = os.path.join(TMP, "events.nfp")
with open(capture, "wb") as f:
    f.write(cap)

r = subprocess.run([NORDICD, "--state-dir", TMP, "--pub", "ipc://%s/pub" % TMP,
                    "--ctl", "ipc://%s/ctl" % TMP, "--device", "file:%s?proto=nfp&pace=0" % capture,
                    "--record", "EV1", "--log-level", "notice"],
                   capture_output=True, text=True, timeout=120)
check(r.returncode == 0, "recording the capture succeeds (exit %d): %s" % (r.returncode, r.stderr[-600:]))
files = [f for f in os.listdir(os.path.join(TMP, "trials")) if f.endswith(".h5")]
check(len(files) == 1, "one trial file: %r" % files)
if files:
    with h5py.File(os.path.join(TMP, "trials", files[0]), "r") as h:
        kinds = [k.decode() for k in h["events"]["kind"]]
        details = [d.decode() for d in h["events"]["detail"]]
    for k in kinds:
        check(k in kinds_doc, "event kind %r is documented in TRIAL_FORMAT.md" % k)
    check("overflow" in kinds, "the device overflow is an `overflow` event: %r" % kinds)
    check("restart" in kinds, "the device restart is a `restart` event: %r" % kinds)
    ov = [d for k, d in zip(kinds, details) if k == "overflow"]
    check(ov and "count=7" in ov[0], "the overflow event carries the 7 dropped sets: %r" % ov)
finish("test_event_kinds")
