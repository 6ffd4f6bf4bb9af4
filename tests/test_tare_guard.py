"""Tare with load on the hooks (issue 17, point 5). The test is the board: a
TCP server speaking NFP/1 (frames built from drivers/decoders/PROTOCOL.md) whose force
per hook it sets at will (100 counts per newton, an amplifier offset of 5000
counts). Checked against the documented rule (daemon/metrics/METRICS.md, tare guard):
- a first tare on unloaded hooks is taken (offsets = the raw counts sent);
- kneeling at 40 N per hook, a tare is refused (limit tare_max_shift_N = 25 N
  by default), naming the hook and the force, and the zero stays;
- `nordctl tare --force` takes it anyway and status.warning says so;
- unloaded again, the hooks read -40 N at rest: status.warning says the zero
  was taken with load; a tare then (a lower zero) is taken and clears it;
- a first tare under 200 N per hook (no last zero) is refused against the
  device's nominal zero when tare_max_offset_N is set, and otherwise shows the
  at-rest warning once the hooks are unloaded."""
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

import nfp_frames as nfp
import daemon_harness
from daemon_harness import NORDCTL, Daemon, free_port, wait_for
from nordic_testlib import check, finish

TMP = tempfile.mkdtemp(prefix="tareguard-", dir=os.environ.get("TMPDIR"))
CPN = 100.0
OFFSET = 5000
RATE = 500


class Board(threading.Thread):
    """An NFP/1 board on TCP; `load_N` (per hook) is what the hooks carry."""

    def __init__(self, port, offset=OFFSET):
        super().__init__(daemon=True)
        self.offset = offset
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(1)
        self.load_N = 0.0
        self.running = True
        self.start()

    def raw(self):
        return self.offset + int(round(self.load_N * CPN))

    def run(self):
        while self.running:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            seq, t_next = 0, time.monotonic()
            try:
                conn.sendall(b"\x00" + nfp.info(RATE, 2, counts_per_newton=[CPN, CPN]) + nfp.status(0))
                while self.running:
                    r = self.raw()
                    conn.sendall(nfp.samples(seq, seq * 2000, [[r, r]] * 10))
                    seq += 10
                    if seq % RATE == 0:
                        conn.sendall(nfp.info(RATE, 2, counts_per_newton=[CPN, CPN]))
                    t_next += 10 / RATE
                    time.sleep(max(0, t_next - time.monotonic()))
            except OSError:
                pass
            conn.close()

    def stop(self):
        self.running = False
        self.srv.close()


def offsets(d):
    ch = d.status()["channels"]
    return [c["offset_counts"] for c in ch]


def settle():
    time.sleep(0.3)  # the ring holds the new load before the next window opens


def scenario_with_last_zero():
    port = free_port()
    board = Board(port)
    d = Daemon(os.path.join(TMP, "a"), "tcp:127.0.0.1:%d?proto=nfp" % port)
    try:
        check(wait_for(lambda: d.status().get("rate_hz") == RATE), "the board described itself")
        r = d.ask({"cmd": "tare"})
        check(r["ok"], "first tare on unloaded hooks is taken: %r" % r)
        # Before it the offset read 50 + 50 N >= on_N: let that "rep" close.
        time.sleep(1.0)
        check(offsets(d) == [OFFSET, OFFSET], "offsets are the unloaded raw counts: %r" % offsets(d))
        check(d.status().get("warning", "missing") is None, "no warning after a good tare: %r"
              % d.status().get("warning", "missing"))

        board.load_N = 40.0  # kneeling on the hooks
        settle()
        r = d.ask({"cmd": "tare"})
        check(not r["ok"], "a tare kneeling at 40 N per hook is refused: %r" % r)
        err = r.get("error", "")
        check("left hook" in err and "+40.0 N" in err and "25" in err,
              "the refusal names the hook, the force and the limit: %r" % err)
        check(offsets(d) == [OFFSET, OFFSET], "the zero stays after a refusal: %r" % offsets(d))

        out = subprocess.run([NORDCTL, "--ctl", d.ctl, "--json", "--timeout", "15", "tare", "--force"],
                             capture_output=True, text=True, timeout=30)
        reply = json.loads(out.stdout or "{}")
        check(out.returncode == 0 and reply.get("ok"), "nordctl tare --force takes it: %r %r"
              % (out.stdout, out.stderr))
        loaded = OFFSET + 40 * CPN
        check(offsets(d) == [loaded, loaded], "forced zero is the loaded raw: %r" % offsets(d))
        w = d.status().get("warning") or ""
        check("forced" in w and "40.0 N" in w, "status warns about the forced tare: %r" % w)

        board.load_N = 0.0  # off the hooks: they now read -40 N
        check(wait_for(lambda: "at rest" in (d.status().get("warning") or ""), 8),
              "status warns that the hooks read negative at rest: %r" % d.status().get("warning"))
        w = d.status().get("warning") or ""
        check("-40.0 N" in w, "the warning gives the force at rest: %r" % w)
        r = d.ask({"cmd": "tare"})
        check(r["ok"], "the corrective tare (a lower zero) is taken: %r" % r)
        check(offsets(d) == [OFFSET, OFFSET], "back to the true zero: %r" % offsets(d))
        check(wait_for(lambda: d.status().get("warning") is None, 3), "the warning is cleared")

        board.load_N = 20.0  # under the limit: a small drift is still a tare
        settle()
        r = d.ask({"cmd": "tare", "side": "left"})
        check(r["ok"], "a zero move of 20 N (< 25 N) is taken: %r" % r)
        r = d.ask({"cmd": "tare", "force": "yes"})
        check(not r["ok"] and "force" in r.get("error", ""), "force must be a boolean: %r" % r)
    finally:
        d.stop()
        board.stop()


def scenario_first_tare(name, conf):
    port = free_port()
    board = Board(port)
    home = os.path.join(TMP, name)
    os.makedirs(home)
    with open(os.path.join(home, "nordicd.conf"), "w") as f:
        f.write(conf)
    d = Daemon(home, "tcp:127.0.0.1:%d?proto=nfp" % port, args=["-c", os.path.join(home, "nordicd.conf")])
    try:
        check(wait_for(lambda: d.status().get("rate_hz") == RATE), "the board described itself")
        board.load_N = 200.0
        settle()
        return d, board, d.ask({"cmd": "tare"})
    except Exception:
        d.stop()
        board.stop()
        raise


scenario_with_last_zero()

# nordicd --record --tare applies the same guard: the state directory of
# scenario "a" holds the last zero (5000 counts); kneeling at 40 N it refuses.
port = free_port()
board = Board(port)
board.load_N = 40.0
try:
    home = os.path.join(TMP, "a")
    r = subprocess.run([daemon_harness.NORDICD, "--device", "tcp:127.0.0.1:%d?proto=nfp" % port,
                        "--state-dir", os.path.join(home, "state"), "--data-dir",
                        os.path.join(home, "data-record"), "--ctl", "ipc://%s/run/rec-ctl" % home,
                        "--pub", "ipc://%s/run/rec-pub" % home, "--record", "K1", "--tare",
                        "--duration", "3"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "tare refused" in r.stderr and "+40.0 N" in r.stderr,
          "--record --tare kneeling at 40 N is refused (exit %d): %s" % (r.returncode, r.stderr[-400:]))
finally:
    board.stop()

d, board, r = scenario_first_tare("nominal", "[channels]\ntare_max_offset_N = 100\n")
try:
    check(not r["ok"] and "nominal zero" in r.get("error", "") and "+250.0 N" in r.get("error", ""),
          "first tare under 200 N per hook is refused against the nominal zero: %r" % r)
finally:
    d.stop()
    board.stop()

d, board, r = scenario_first_tare("first", "[channels]\n")
try:
    check(r["ok"], "without tare_max_offset_N the first loaded tare has no reference: %r" % r)
    board.load_N = 0.0
    check(wait_for(lambda: "-200.0 N at rest" in (d.status().get("warning") or ""), 8),
          "unloaded, status warns the hooks read -200 N at rest: %r" % d.status().get("warning"))
finally:
    d.stop()
    board.stop()
# Never tared, amplifier offset of -50 N: the warning asks for a tare.
port = free_port()
board = Board(port, offset=-5000)
d = Daemon(os.path.join(TMP, "untared"), "tcp:127.0.0.1:%d?proto=nfp" % port)
try:
    check(wait_for(lambda: "not been tared" in (d.status().get("warning") or ""), 8),
          "untared hooks reading -50 N at rest: the warning asks for a tare: %r"
          % d.status().get("warning"))
    r = d.ask({"cmd": "tare"})
    check(r["ok"] and wait_for(lambda: d.status().get("warning") is None, 3),
          "a tare clears it: %r %r" % (r, d.status().get("warning")))
finally:
    d.stop()
    board.stop()
finish("test_tare_guard")
