#!/usr/bin/python3
"""nordic-station under malformed input (issue 13, STATION.md "Robustness"),
loopback only and bounded in time: more than 10,000 malformed HTTP requests and
WebSocket frames (random bytes, broken request lines and headers, bad and huge
Content-Length, bodies over 64 KiB, path tricks, bad upgrades, unmasked and
reserved-bit frames, bad opcodes, oversized control frames, invalid UTF-8,
JSON junk, messages over 64 KiB) while nordicd records a trial. Afterwards the
station still answers HTTP and streams live data, a slow-loris connection has
been dropped, and the daemon's recording lost nothing (no ring overruns, every
set in the file)."""
import json
import os
import random
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import station_testlib as S  # noqa: E402
from nordic_testlib import check, finish  # noqa: E402

S.prerequisite(os.path.exists(S.STATION), "nordic-station not built (libwebsockets-dev, libsodium-dev)")
import h5py  # noqa: E402

TARGET = 10000
MIN_TIME_S = 20  # keep going this long so the daemon records through it
TIME_LIMIT_S = 150
rng = random.Random(1313)
tmp = tempfile.mkdtemp(prefix="station-fuzz-", dir=os.environ.get("TMPDIR"))
RATE = 10000  # with wave_decimation 1: ~250 messages/s, so a page that stops reading laps soon
conf = os.path.join(tmp, "nordicd.conf")
with open(conf, "w") as f:
    f.write("[live]\nwave_decimation = 1\n")
daemon = S.Daemon(tmp, "sim:?rate=%d&reps=0&rest=2&unloaded=0&seed=5" % RATE, extra=["--config", conf])
station = S.Station(tmp, [("b1", daemon)])
P = station.port
check(daemon.ask({"cmd": "start", "athlete_id": "FUZZ"})["ok"], "trial started")

# A page that subscribes and then never reads (small receive buffer): it must be dropped.
slow = socket.socket()
slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
slow.connect(("127.0.0.1", P))
slow.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
              "Sec-WebSocket-Protocol: nordic-station\r\n\r\n" % P).encode())
slow.sendall(S.WebSocket.frame(b'{"type":"hello","daemon":"b1"}'))
slow_started = time.time()


def exchange(data, timeout=2.0):
    """Sends data, half-closes, reads what comes back until EOF or timeout."""
    try:
        s = socket.create_connection(("127.0.0.1", P), timeout=timeout)
    except OSError:
        return None
    out = b""
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while len(out) < 1 << 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    finally:
        s.close()
    return out


HOST = "Host: 127.0.0.1:%d\r\n" % P


def http_case(i):
    k = i % 16
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    if k == 0:
        return junk
    if k == 1:
        return b"GET /" + junk + b" HTTP/1.1\r\n" + HOST.encode() + b"\r\n"
    if k == 2:
        return ("%s / HTTP/1.1\r\n%s\r\n" % (rng.choice(["BREW", "G ET", "TRACE", "CONNECT", "\x01"]), HOST)).encode()
    if k == 3:
        return ("GET / HTTP/1.1\r\n%sX-Long: %s\r\n\r\n" % (HOST, "a" * rng.randrange(5000, 20000))).encode()
    if k == 4:
        return ("GET / HTTP/1.1\r\n%s%s\r\n" % (HOST, "".join("X-%d: v\r\n" % n for n in range(400)))).encode()
    if k == 5:
        cl = rng.choice(["-1", "abc", "99999999999999999999", "1e3", " 5", "70000"])
        return ("POST /auth/login HTTP/1.1\r\n%sContent-Length: %s\r\n\r\n{}" % (HOST, cl)).encode()
    if k == 6:
        body = b"x" * rng.randrange(65537, 200000)
        return ("POST /api/v1/athletes HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (HOST, len(body))).encode() + body
    if k == 7:
        return ("POST /auth/login HTTP/1.1\r\n%sTransfer-Encoding: chunked\r\n\r\nzz\r\n%s\r\n0\r\n\r\n" % (HOST, "q" * 50)).encode()
    if k == 8:
        return ("GET %s HTTP/1.1\r\n%s\r\n" % (rng.choice(["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/station.html%00.js",
                                                        "/..%2f..%2fetc%2fshadow", "//etc/passwd", "/www/../../x.html",
                                                        "/" + "a/" * 300]), HOST)).encode()
    if k == 9:
        return b"GET / HTTP/1.1\r\nHost: \x00\xff\xfe\r\nCookie: nd_session=" + bytes(rng.randrange(256) for _ in range(80)) + b"\r\n\r\n"
    if k == 10:
        return ("GET /ws HTTP/1.1\r\n%sUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                "Sec-WebSocket-Version: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n"
                % (HOST, rng.choice(["", "short", "!!!!", "a" * 200]), rng.choice(["13", "8", "x", ""]),
                   rng.choice(["nordic-station", "other", "", "a,b,c"]))).encode()
    if k == 11:
        return ("GET / HTTP/9.9\r\n%s\r\n" % HOST).encode()
    if k == 12:
        return ("POST /auth/login HTTP/1.1\r\n%sContent-Length: 40\r\n\r\n%s" % (HOST, json.dumps({"user": "\u0000" * 5, "password": 5})[:40])).encode()
    if k == 13:
        return ("GET /api/v1/status?%s HTTP/1.1\r\n%s\r\n" % ("a=" + "%" * rng.randrange(1, 4000), HOST)).encode()
    if k == 14:  # pipelined good and bad requests
        return ("GET /api/v1/status HTTP/1.1\r\n%s\r\nGARBAGE\r\n\r\nGET /metrics HTTP/1.1\r\n%s\r\n" % (HOST, HOST)).encode()
    return b"GET / HTTP/1.1\r\n" + HOST.encode() + b"Connection: close\r\n" + junk.replace(b"\r\n", b"") + b"\r\n\r\n"


def ws_bad_frame(i):
    """Frames a conforming server must reject (it closes the connection)."""
    k = i % 7
    F = S.WebSocket.frame
    if k == 0:
        return F(b'{"type":"hello"}', mask=False)           # clients must mask
    if k == 1:
        return F(b"hi", rsv=rng.randrange(1, 8))            # reserved bits without an extension
    if k == 2:
        return F(b"x", opcode=rng.choice([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]))
    if k == 3:
        return F(b"p" * 200, opcode=9)                      # control frame over 125 bytes
    if k == 4:
        return F(b"\xff\xfe\xc0\xaf invalid utf-8")         # text must be UTF-8
    if k == 5:
        return F(b"\x00\x01binary", opcode=2)               # binary is refused
    return F(b"", opcode=0)                                  # continuation without a start


def ws_junk_message(i):
    k = i % 8
    if k == 0:
        return b"not json"
    if k == 1:
        return json.dumps({"type": "cmd", "id": "x", "daemon": "b1", "cmd": {"cmd": "stop"}}).encode()
    if k == 2:
        return json.dumps({"type": "cmd", "id": i, "daemon": "nope", "cmd": {"cmd": "status"}}).encode()
    if k == 3:
        return json.dumps({"type": "cmd", "id": i, "daemon": "b1", "cmd": {"cmd": "config", "set": {"on_N": -1}}}).encode()
    if k == 4:
        return json.dumps({"type": "hello", "daemon": ["b1"]}).encode()
    if k == 5:
        return b"[" * rng.randrange(1, 3000)
    if k == 6:
        return json.dumps({"type": "x" * 1000}).encode()
    return bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 500)))


start = time.time()
count = {"http": 0, "ws_bad": 0, "ws_junk": 0}
answered = 0
ws = None
i = 0
while ((sum(count.values()) < TARGET or time.time() - start < MIN_TIME_S)
       and time.time() - start < TIME_LIMIT_S):
    i += 1
    if i % 4 == 0:
        resp = exchange(http_case(i))
        count["http"] += 1
        if resp and resp.startswith(b"HTTP/1.1 "):
            answered += 1
            if b"root:" in resp:
                check(False, "path case %d leaked a system file" % i)
        continue
    if ws is None:
        try:
            ws = S.WebSocket(P)
        except (OSError, ConnectionError) as e:
            check(False, "WebSocket connect during fuzz: %s" % e)
            break
    if i % 10 == 1:
        try:
            ws.send_raw(ws_bad_frame(i))
        except OSError:
            pass
        count["ws_bad"] += 1
        ws.sock.close()
        ws = None
        continue
    try:
        ws.send(ws_junk_message(i))
        count["ws_junk"] += 1
    except OSError:
        ws = None
        continue
    if i % 200 == 0:  # drain what the station queued for us
        ws.sock.settimeout(0.2)
        try:
            while True:
                ws.sock.recv(1 << 20)
        except (socket.timeout, OSError):
            pass
        ws.sock.settimeout(5)
elapsed = time.time() - start
total = sum(count.values())
print("fuzz: %d malformed inputs in %.1f s (%s); %d HTTP cases answered with a status"
      % (total, elapsed, count, answered))
check(total >= TARGET, "at least %d malformed requests/frames sent (%d)" % (TARGET, total))
check(station.alive(), "station alive after the fuzz")

# A message over 64 KiB in fragments: refused with an error, connection kept.
ws = S.WebSocket(P)
big = b'{"type":"hello","pad":"' + b"x" * 70000 + b'"}'
ws.send_raw(S.WebSocket.frame(big[:40000], fin=False) + S.WebSocket.frame(big[40000:], opcode=0))
m = ws.recv()
check(m.get("type") == "error" and "64 KiB" in m.get("error", ""), "over-64-KiB message refused: %s" % m)
ws.send({"type": "hello", "daemon": "b1"})
got = set()
deadline = time.time() + 10
while time.time() < deadline and not {"live", "wave", "status"} <= got:
    m = ws.recv()
    if m.get("type") == "msg":
        got.add(m["topic"])
check({"live", "wave", "status"} <= got, "live stream still flows after the fuzz: %s" % got)
ws.close()

# Slow loris: half a request line, then silence; the station drops it.
s = socket.create_connection(("127.0.0.1", P))
s.sendall(b"GET /api/v1/sta")
s.settimeout(40)
t0 = time.time()
try:
    dropped = s.recv(100) == b""
except (socket.timeout, ConnectionResetError):
    dropped = True
print("slow client dropped after %.1f s" % (time.time() - t0))
check(dropped and time.time() - t0 < 35, "slow client dropped after %.1f s" % (time.time() - t0))
s.close()

# The page that never read has been dropped (the station closed its connection).
slow.settimeout(5)
closed = False
deadline = time.time() + 90
while time.time() < deadline and not closed:
    try:
        closed = slow.recv(1 << 20) == b""
    except socket.timeout:
        pass
    except OSError:
        closed = True
print("non-reading page dropped after %.0f s" % (time.time() - slow_started))
check(closed, "a page that stops reading is dropped")
slow.close()

# At most 64 pages at once: more are refused, the station stays up.
pages, refused = [], 0
for _ in range(70):
    try:
        w = S.WebSocket(P)
        w.send({"type": "hello", "daemon": "b1"})
        pages.append(w)
    except (OSError, ConnectionError):
        refused += 1
for w in pages:
    try:
        w.sock.settimeout(3)
        w.recv()
    except (OSError, ConnectionError, ValueError):
        refused += 1
for w in pages:
    w.sock.close()
check(refused >= 6, "connections beyond 64 pages refused (%d of 70)" % refused)

status, _, body = S.request(P, "GET", "/api/v1/status")
check(status == 200, "station answers after the fuzz: %s" % status)
st = daemon.ask({"cmd": "status"})["status"]
check(st["state"] == "recording", "daemon still recording: %s" % st["state"])
check(st["counters"]["ring_overruns"] == 0, "no ring overruns in nordicd")
r = daemon.ask({"cmd": "stop"}, timeout_ms=20000)
check(r["ok"], "trial stopped: %s" % r)
with h5py.File(r["file"], "r") as f:
    written = int(f.attrs["samples_written"])
    seq = f["samples"]["seq"][:]
    check(len(seq) == written and written >= 0.9 * RATE * elapsed,
          "file holds the %.0f s fuzz window (%d sets)" % (elapsed, written))
    check(len(seq) > 1 and int((seq[1:] - seq[:-1]).max()) == 1, "no gap in the file's seq")
    check(int(f["reps"].attrs.get("samples", written)) == written, "summary samples = file sets")
# /metrics carries the daemon's counters (compared with its own status over pyzmq).
status, _, body = S.request(P, "GET", "/metrics")
metrics = dict(l.rsplit(" ", 1) for l in body.decode().splitlines() if l and not l.startswith("#"))
samples = daemon.ask({"cmd": "status"})["status"]["counters"]["samples"]
check(abs(float(metrics.get('nordic_samples_total{daemon="b1"}', -1e9)) - samples) <= 2500,
      "metrics samples %s ~ daemon %d" % (metrics.get('nordic_samples_total{daemon="b1"}'), samples))
check(metrics.get('nordic_daemon_up{daemon="b1"}') == "1", "daemon up in /metrics")
check(daemon.stop() == 0, "nordicd exits cleanly")
time.sleep(4.5)
status, _, body = S.request(P, "GET", "/metrics")
check(status == 200 and 'nordic_daemon_up{daemon="b1"} 0' in body.decode(),
      "a stopped daemon shows as down; the station stays up")
check(station.stop() == 0, "station exits cleanly")
finish("test_station_fuzz")
