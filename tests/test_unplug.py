"""A board that goes away mid-trial (daemon/ARCHITECTURE.md, "Faults and bad input"): nordicd records over TCP from
nordic-devsim, which hangs up and comes back while the board keeps counting.
The trial keeps going; the file records device_lost / device_back events and
a gap event whose count equals the hole in the stored seq; the status
counters agree; the data either side of the outage is stored."""
import os
import socket
import subprocess
import tempfile
import time

import h5py
import numpy as np

from nordic_testlib import BUILD, check, finish

NORDICD = os.path.join(BUILD, "daemon", "nordicd")
DEVSIM = os.path.join(BUILD, "tools", "nordic-devsim")
TMP = tempfile.mkdtemp(prefix="unplug-", dir=os.environ.get("TMPDIR"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


port = free_port()
board = subprocess.Popen([DEVSIM, "--proto", "nfp", "--rate", "1000", "--out", "tcp:%d" % port,
                          "--disconnect-every", "2", "--reconnect-after", "0.7", "--duration", "7"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
time.sleep(0.5)
r = subprocess.run([NORDICD, "--state-dir", TMP, "--pub", "ipc://%s/pub" % TMP, "--ctl", "ipc://%s/ctl" % TMP,
                    "--device", "tcp:127.0.0.1:%d?proto=nfp" % port, "--record", "U1", "--duration", "6.5",
                    "--log-level", "notice"],
                   capture_output=True, text=True, timeout=60)
board.kill()
board.wait()
check(r.returncode == 0, "the trial survives the outages (exit %d): %s" % (r.returncode, r.stderr[-800:]))
check("device lost" in r.stderr and "device back" in r.stderr, "lost/back logged")
files = [f for f in os.listdir(os.path.join(TMP, "trials")) if f.endswith(".h5")]
check(len(files) == 1, "one trial file")
if files:
    with h5py.File(os.path.join(TMP, "trials", files[0]), "r") as h:
        seq = h["samples/seq"][:].astype(np.int64)
        ev = h["events"][:]
        kinds = [k.decode() if isinstance(k, bytes) else k for k in ev["kind"]]
        details = [d.decode() if isinstance(d, bytes) else d for d in ev["detail"]]
    jumps = np.diff(seq)
    holes = jumps[jumps > 1] - 1
    check(kinds.count("device_lost") >= 2, "device_lost events: %r" % kinds)
    check(kinds.count("device_back") >= 2, "device_back events: %r" % kinds)
    gap_counts = [int(d.split("count=")[1].split()[0]) for k, d in zip(kinds, details) if k == "gap"]
    check(len(holes) >= 2, "the outages left holes in seq: %r" % holes)
    check(sorted(gap_counts) == sorted(int(x) for x in holes),
          "each gap event's count equals its hole in seq: events %r, holes %r" % (gap_counts, list(holes)))
    check(np.all(jumps >= 1), "seq never goes back")
    check(len(seq) > 3000, "data either side of the outages (%d sets)" % len(seq))
finish("test_unplug")
