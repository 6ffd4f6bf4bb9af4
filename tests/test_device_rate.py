#!/usr/bin/python3
"""nordicd with a text board whose real line rate is not the nominal one
(issue 17, points 2 and 4), end to end.

A Python board on a local TCP port prints the HX711_ADC two-cell example's
lines at 50 lines/s, paced on its own monotonic clock (the expected rate is
that pacing, not the daemon's figure). It is switched on only after nordicd
started with `wait=1`: the daemon must stay up meanwhile. With `rate=auto` the
status rate and the trial file's sample_rate_hz (read with h5py) are the
measured rate; with the preset's nominal rate=10 the status shows a warning.
Without `wait=1` an absent board still fails the start with its reason."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import h5py
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nordic_testlib import BUILD, check, finish  # noqa: E402

NORDICD = os.path.join(BUILD, "daemon", "nordicd")
BOARD_RATE = 50.0
TOLERANCE = 0.05  # the documented 5 %


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Board(threading.Thread):
    """HX711_ADC Read_2x_load_cell lines, one per 1/rate s, to every client."""

    def __init__(self, port, rate):
        super().__init__(daemon=True)
        self.port, self.rate = port, rate
        self.quit = threading.Event()
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(4)
        self.srv.settimeout(0.1)

    def run(self):
        while not self.quit.is_set():
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                continue
            t = time.monotonic()
            k = 0
            try:
                while not self.quit.is_set():
                    t += 1.0 / self.rate
                    delay = t - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    line = "Load_cell 1 output val: %.2f    Load_cell 2 output val: %.2f\r\n" % (
                        1000.0 + k % 7, 990.0 - k % 5)
                    conn.sendall(line.encode())
                    k += 1
            except OSError:
                pass
            conn.close()
        self.srv.close()

    def stop(self):
        self.quit.set()
        self.join(5)


class Daemon:
    def __init__(self, tmp, device):
        self.ctl = "ipc://%s/run/control" % tmp
        self.log = open(os.path.join(tmp, "nordicd.log"), "w")
        self.proc = subprocess.Popen(
            [NORDICD, "--device", device, "--data-dir", tmp + "/data", "--state-dir",
             tmp + "/state", "--ctl", self.ctl, "--pub", "tcp://127.0.0.1:%d" % free_port()],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.zctx = zmq.Context()
        self.req = None
        self.connect()

    def connect(self):
        if self.req is not None:
            self.req.close(linger=0)
        self.req = self.zctx.socket(zmq.REQ)
        self.req.setsockopt(zmq.RCVTIMEO, 5000)
        self.req.setsockopt(zmq.LINGER, 0)
        self.req.connect(self.ctl)

    def wait_up(self, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline and self.proc.poll() is None:
            if os.path.exists(self.ctl[6:]):
                try:
                    if self.ask({"cmd": "status"})["ok"]:
                        return True
                except zmq.Again:
                    self.connect()
            time.sleep(0.1)
        return False

    def ask(self, obj):
        self.req.send(json.dumps(obj).encode())
        return json.loads(self.req.recv())

    def status(self):
        return self.ask({"cmd": "status"})["status"]

    def wait_status(self, pred, seconds):
        deadline = time.time() + seconds
        st = self.status()
        while not pred(st) and time.time() < deadline:
            time.sleep(0.2)
            st = self.status()
        return st

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)
        self.req.close(linger=0)
        self.zctx.term()
        self.log.close()


def run_rate_auto_with_wait(tmp):
    port = free_port()
    d = Daemon(tmp + "/auto", "tcp:127.0.0.1:%d?proto=text&preset=hx711-adc-2x&rate=auto&wait=1"
               % port)
    board = None
    try:
        check(d.wait_up(), "nordicd comes up while the tcp board is off (wait=1)")
        time.sleep(1.5)
        check(d.proc.poll() is None, "nordicd still running with the board off")
        st = d.status()
        check(st["device"]["connected"] is False, "board off: not connected")
        check(st["rate_hz"] is None, "rate=auto: no rate before it is measured")
        r = d.ask({"cmd": "start", "athlete_id": "R1"})
        check(not r["ok"], "no trial on an unmeasured rate: %s" % r)

        board = Board(port, BOARD_RATE)
        board.start()
        st = d.wait_status(lambda s: s["rate_hz"] is not None, 20)
        rate = st["rate_hz"]
        check(rate is not None and abs(rate / BOARD_RATE - 1) <= TOLERANCE,
              "measured rate %s within 5 %% of the board's %g lines/s" % (rate, BOARD_RATE))
        check(st["device"].get("warning") is None, "rate=auto: no warning (%s)" %
              st["device"].get("warning"))
        check(st["device"]["connected"] is True, "board on: connected")
        r = d.ask({"cmd": "tare"})
        check(r["ok"], "tare: %s" % r)
        r = d.ask({"cmd": "start", "athlete_id": "R1"})
        check(r["ok"], "start: %s" % r)
        time.sleep(2.0)
        r2 = d.ask({"cmd": "stop"})
        check(r2["ok"], "stop: %s" % r2)
        if r["ok"] and rate is not None:
            with h5py.File(r["file"], "r") as f:
                fs = float(f.attrs["sample_rate_hz"])
                check(fs == rate, "file sample_rate_hz %g is the measured rate %g" % (fs, rate))
                check(abs(fs / BOARD_RATE - 1) <= TOLERANCE,
                      "file sample_rate_hz %g within 5 %% of the board's %g" % (fs, BOARD_RATE))
    finally:
        d.stop()
        if board:
            board.stop()


def run_nominal_rate_warning(tmp):
    port = free_port()
    board = Board(port, BOARD_RATE)
    board.start()
    d = Daemon(tmp + "/nominal", "tcp:127.0.0.1:%d?proto=text&preset=hx711-adc-2x" % port)
    try:
        check(d.wait_up(), "nordicd comes up with the board on")
        st = d.wait_status(lambda s: s["device"].get("warning"), 20)
        warning = st["device"].get("warning") or ""
        check("measured" in warning and "rate=10" in warning,
              "status warns that the measured rate is not rate=10: %r" % warning)
        check(st["rate_hz"] == 10, "the nominal rate stays (as configured): %s" % st["rate_hz"])
        with open(os.path.join(tmp, "nominal", "nordicd.log")) as f:
            check("rate=10" in f.read(), "the log says it too")
    finally:
        d.stop()
        board.stop()


def run_absent_without_wait(tmp):
    port = free_port()
    d = Daemon(tmp + "/nowait", "tcp:127.0.0.1:%d?proto=text&preset=csv" % port)
    try:
        rc = d.proc.wait(timeout=15)
        check(rc != 0, "without wait=1 an absent tcp board fails the start (rc %s)" % rc)
        with open(os.path.join(tmp, "nowait", "nordicd.log")) as f:
            check("cannot connect" in f.read(), "with the reason")
    finally:
        d.stop()


def main():
    base = os.environ.get("TMPDIR") or "/tmp"
    tmp = tempfile.mkdtemp(prefix="devrate.", dir=base)
    for sub in ("auto", "nominal", "nowait"):
        os.makedirs(os.path.join(tmp, sub, "run"))
    run_rate_auto_with_wait(tmp)
    run_nominal_rate_warning(tmp)
    run_absent_without_wait(tmp)
    finish("test_device_rate")


if __name__ == "__main__":
    main()
