"""The systemd watchdog follows the threads' health (issue 17, point 10).
nordicd runs with NOTIFY_SOCKET pointed at a datagram socket this test reads
and WATCHDOG_USEC=2 s, and with the test-only hook NORDICD_TEST_STALL_WRITER_S
that makes the file writer hang (like a stalled disk) when a trial's first
samples arrive. Idle and recording, WATCHDOG=1 arrives steadily; while the
writer hangs it stops within half the interval, WATCHDOG=trigger with a status
naming the writer follows, status.last_error says so, and the pets resume once
the writer moves again. The old daemon petted from the signal loop whatever the
threads did."""
import os
import socket
import tempfile
import time

from daemon_harness import Daemon, wait_for
from nordic_testlib import check, finish

TMP = tempfile.mkdtemp(prefix="watchdog-", dir=os.environ.get("TMPDIR"))
INTERVAL_S = 2.0
STALL_S = 7.0

sock_path = os.path.join(TMP, "notify")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sock_path)
sock.settimeout(0.05)
messages = []  # (monotonic time, text)


def drain(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        messages.append((time.monotonic(), data.decode()))


def pets(t0, t1):
    return [t for t, m in messages if t0 <= t < t1 and "WATCHDOG=1" in m.split("\n")]


def max_gap(times, t0, t1):
    points = [t0] + times + [t1]
    return max(b - a for a, b in zip(points, points[1:]))


d = Daemon(TMP, "sim:?rate=1000&reps=0",
           env={"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": str(int(INTERVAL_S * 1e6)),
                "NORDICD_TEST_STALL_WRITER_S": str(STALL_S)})
try:
    t_idle = time.monotonic()
    drain(3)
    check(any("READY=1" in m for _, m in messages), "READY=1 was sent")
    idle = pets(t_idle, time.monotonic())
    check(len(idle) >= 5 and max_gap(idle, t_idle, time.monotonic()) < INTERVAL_S / 2,
          "idle: WATCHDOG=1 arrives steadily (%d pets)" % len(idle))

    r = d.ask({"cmd": "start", "athlete_id": "WD1"})
    t_start = time.monotonic()
    check(r["ok"], "trial starts: %r" % r)
    drain(STALL_S - 1.5)
    t_mid = time.monotonic()
    during = pets(t_start + INTERVAL_S / 2 + 0.5, t_mid)
    check(during == [], "no WATCHDOG=1 while the writer hangs (%d arrived)" % len(during))
    triggers = [(t, m) for t, m in messages if t >= t_start and "WATCHDOG=trigger" in m]
    check(len(triggers) == 1, "one WATCHDOG=trigger was sent: %r" % triggers)
    if triggers:
        check("file writer" in triggers[0][1], "its STATUS names the file writer: %r" % triggers[0][1])
        check(triggers[0][0] - t_start >= INTERVAL_S - 0.2,
              "the trigger comes only after a whole interval (%.2f s)" % (triggers[0][0] - t_start))
    st = d.status()
    check("file writer" in (st.get("last_error") or ""), "status.last_error names the writer: %r"
          % st.get("last_error"))

    # The writer wakes up; it catches up and the pets come back.
    drain(3.5)
    t_back = time.monotonic()
    drain(3)
    after = pets(t_back, time.monotonic())
    check(len(after) >= 5 and max_gap(after, t_back, time.monotonic()) < INTERVAL_S / 2,
          "pets resume steadily once the writer moves (%d)" % len(after))
    r = d.ask({"cmd": "stop"})
    check(r["ok"] and r["summary"]["samples"] > 5000, "the trial closes with its samples: %r"
          % r.get("summary", r))
    check("made no progress" in d.text(), "the stall is in the log")
finally:
    check(d.stop() == 0, "nordicd exits 0")
    sock.close()

# No hook: recording is healthy, the pets never pause.
messages.clear()
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
os.unlink(sock_path)
sock.bind(sock_path)
sock.settimeout(0.05)
d = Daemon(os.path.join(TMP, "healthy"), "sim:?rate=1000&reps=0",
           env={"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": str(int(INTERVAL_S * 1e6))})
try:
    r = d.ask({"cmd": "start", "athlete_id": "WD2"})
    t0 = time.monotonic()
    drain(4)
    got = pets(t0, time.monotonic())
    check(len(got) >= 10 and max_gap(got, t0, time.monotonic()) < INTERVAL_S / 2,
          "recording without a stall: pets keep coming (%d)" % len(got))
    check(not any("trigger" in m for _, m in messages), "no trigger on a healthy daemon")
    d.ask({"cmd": "stop"})
finally:
    d.stop()
    sock.close()
finish("test_watchdog")
