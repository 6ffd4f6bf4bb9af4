"""Helpers of the nordic-station tests: start nordicd on sim: and nordic-station,
and a minimal RFC 6455 WebSocket client written here from the RFC (the
independent peer of the station's libwebsockets server; no PyPI)."""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time

import zmq

BUILD = os.environ.get("NORDIC_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "build"))
SOURCE = os.environ.get("NORDIC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
NORDICD = os.path.join(BUILD, "daemon", "nordicd")
STATION = os.path.join(BUILD, "tools", "station", "nordic-station")
WWW = os.path.join(SOURCE, "tools", "station", "www")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """Real nordicd on the simulator, control on ipc, live on loopback TCP."""

    def __init__(self, tmp, sim, extra=()):
        os.makedirs(tmp + "/run", exist_ok=True)
        self.tmp = tmp
        self.ctl = "ipc://%s/run/control" % tmp
        self.pub = "tcp://127.0.0.1:%d" % free_port()
        self.data = tmp + "/data"
        self.log = open(os.path.join(tmp, "nordicd.log"), "w")
        self.proc = subprocess.Popen(
            [NORDICD, "--device", sim, "--data-dir", self.data, "--state-dir", tmp + "/state",
             "--ctl", self.ctl, "--pub", self.pub] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT)
        self.zctx = zmq.Context()
        deadline = time.time() + 15
        while time.time() < deadline:
            if os.path.exists(self.ctl[6:]):
                try:
                    if self.ask({"cmd": "status"})["ok"]:
                        return
                except zmq.Again:
                    pass
            time.sleep(0.1)
        raise RuntimeError("nordicd did not come up")

    def ask(self, obj, timeout_ms=5000):
        req = self.zctx.socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, timeout_ms)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(self.ctl)
        try:
            req.send(json.dumps(obj).encode())
            return json.loads(req.recv())
        finally:
            req.close(linger=0)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.zctx.term()
        return rc


class Station:
    """nordic-station serving one daemon as board NAME."""

    def __init__(self, tmp, daemons, args=(), port=None, wait=True):
        self.port = port or free_port()
        self.log_path = os.path.join(tmp, "station-%d.log" % self.port)
        self.log = open(self.log_path, "w")
        cmd = [STATION, "--listen", "127.0.0.1:%d" % self.port, "--www", WWW,
               "--data-dir", daemons[0][1].data if daemons else tmp,
               "--state-dir", tmp + "/station-state"]
        for name, d in daemons:
            cmd += ["--daemon", "%s=%s,%s" % (name, d.ctl, d.pub)]
        self.proc = subprocess.Popen(cmd + list(args), stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return
                except OSError:
                    if self.proc.poll() is not None:
                        raise RuntimeError("nordic-station exited: " + open(self.log_path).read())
                    time.sleep(0.1)
            raise RuntimeError("nordic-station did not come up")

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def http(port, raw, timeout=5.0):
    """Sends raw bytes, returns (status or None, all bytes read)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
    finally:
        s.close()
    try:
        return int(data.split(b" ", 2)[1]), data
    except (IndexError, ValueError):
        return None, data


def request(port, method, path, body=None, headers=None):
    """One HTTP/1.1 request; returns (status, headers dict lower-case, body bytes)."""
    h = {"Host": "127.0.0.1:%d" % port, "Connection": "close"}
    h.update(headers or {})
    if body is not None:
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        h["Content-Length"] = str(len(body))
    raw = ("%s %s HTTP/1.1\r\n" % (method, path)).encode()
    raw += b"".join(("%s: %s\r\n" % kv).encode() for kv in h.items()) + b"\r\n" + (body or b"")
    status, data = http(port, raw)
    head, _, payload = data.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.decode("latin-1").partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return status, hdrs, payload


class WebSocket:
    """RFC 6455 client: text frames, masking, fragments, control frames."""

    def __init__(self, port, path="/ws", headers=None, protocol="nordic-station", timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        h = {"Host": "127.0.0.1:%d" % port, "Upgrade": "websocket", "Connection": "Upgrade",
             "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13",
             "Sec-WebSocket-Protocol": protocol}
        h.update(headers or {})
        raw = "GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        self.sock.sendall(raw.encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake: %r" % resp)
            resp += chunk
        head, _, self.buf = resp.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        if self.status != 101:
            raise ConnectionError("handshake refused: %r" % head)

    @staticmethod
    def frame(payload, opcode=1, fin=True, mask=True, rsv=0):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if not mask:
            return hdr + payload
        key = os.urandom(4)
        return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        text = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        if isinstance(text, str):
            text = text.encode()
        self.sock.sendall(self.frame(text))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """Next text message as a dict (control frames are answered/skipped)."""
        while True:
            b0, b1 = self._need(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._need(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._need(8))[0]
            payload = self._need(n)
            op = b0 & 0x0F
            if op == 8:
                raise ConnectionError("closed by server: %r" % payload)
            if op == 9:
                self.sock.sendall(self.frame(payload, opcode=10))
                continue
            if op == 1:
                return json.loads(payload)

    def close(self):
        try:
            self.sock.sendall(self.frame(struct.pack("!H", 1000), opcode=8))
        except OSError:
            pass
        self.sock.close()


def prerequisite(ok, reason):
    """A missing prerequisite skips the test, except under CI where it fails."""
    if ok:
        return
    if os.environ.get("CI"):
        print("FAIL: prerequisite missing under CI: %s" % reason)
        raise SystemExit(1)
    print("SKIP: %s" % reason)
    raise SystemExit(0)


def chromium(console_log=True):
    """The station's page in a real browser: headless Debian chromium driven
    by chromium-driver through python3-selenium, 1280 x 800. Each missing
    piece (or nordic-station itself) is a prerequisite with its reason."""
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    prerequisite(os.path.exists(STATION), "nordic-station not built (libwebsockets-dev, libsodium-dev)")
    prerequisite(shutil.which("chromium") is not None, "chromium missing (Debian: chromium)")
    prerequisite(os.path.exists(driver_path), "chromedriver missing (Debian: chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        prerequisite(False, "python3-selenium missing")
    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
              "--disable-gpu"):
        opts.add_argument(a)
    if console_log:
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(60)
    return driver


def artifacts_dir():
    d = os.path.join(BUILD, "tests", "artifacts")
    os.makedirs(d, exist_ok=True)
    return d
