#!/usr/bin/python3
"""nordic-station security (issue 13, STATION.md "Security"), checked from
outside with raw HTTP, a WebSocket client written from RFC 6455, and Python's
ssl module: a non-loopback bind without TLS and accounts is refused with one
line; with --users every page, API call and WebSocket needs a login; control
over the WebSocket and state-changing requests need the session's CSRF token;
foreign Origins are refused; failed logins are rate-limited; passwords are
stored as Argon2id; every response carries a Content-Security-Policy; TLS works."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import station_testlib as S  # noqa: E402
from nordic_testlib import check, finish  # noqa: E402

S.prerequisite(os.path.exists(S.STATION), "nordic-station not built (libwebsockets-dev, libsodium-dev)")
S.prerequisite(shutil.which("openssl") is not None, "openssl missing (Debian: openssl)")

tmp = tempfile.mkdtemp(prefix="station-auth-", dir=os.environ.get("TMPDIR"))
daemon = S.Daemon(tmp, "sim:?rate=500&reps=0&rest=2&seed=3")
DSPEC = "b1=%s,%s" % (daemon.ctl, daemon.pub)


def run_station(*args, stdin=None):
    return subprocess.run([S.STATION, "--daemon", DSPEC, "--www", S.WWW] + list(args),
                          input=stdin, capture_output=True, text=True, timeout=60)


# --- start-up policy -----------------------------------------------------------------
cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                cert, "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
users = os.path.join(tmp, "users")
for bind in ("0.0.0.0:%d" % S.free_port(), "192.0.2.1:8080", "*:8080"):
    r = run_station("--listen", bind)
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(lines) == 1 and "refusing to listen" in lines[0]
          and "TLS" in lines[0], "non-loopback %s without TLS refused in one line: %r" % (bind, r.stderr))
r = run_station("--listen", "0.0.0.0:%d" % S.free_port(), "--tls-cert", cert, "--tls-key", key)
check(r.returncode == 2 and "operator accounts" in r.stderr, "TLS without accounts refused: %r" % r.stderr)
r = run_station("--tls-cert", cert)
check(r.returncode == 2 and "both" in r.stderr, "a certificate without key refused: %r" % r.stderr)

# --- the INI file mirrors the options -------------------------------------------------
bad = os.path.join(tmp, "bad.conf")
with open(bad, "w") as f:
    f.write("[station]\nlisten = 127.0.0.1:8080\nlisten_port = 9\n")
r = run_station("--config", bad)
check(r.returncode == 2 and "bad.conf:3" in r.stderr and "unknown key" in r.stderr,
      "unknown INI key refused naming file and line: %r" % r.stderr)
with open(bad, "w") as f:
    f.write("[station]\ndaemon = x\n")
r = run_station("--config", bad)
check(r.returncode == 2 and "bad.conf:2" in r.stderr and "NAME=CTL,PUB" in r.stderr,
      "bad daemon line refused: %r" % r.stderr)
with open(bad, "w") as f:
    f.write("[station]\nlisten = 0.0.0.0:8080\n")
r = run_station("--config", bad)
check(r.returncode == 2 and "refusing to listen on 0.0.0.0:8080" in r.stderr,
      "a non-loopback listen from the INI file is refused too: %r" % r.stderr)
good = os.path.join(tmp, "good.conf")
cport = S.free_port()
with open(good, "w") as f:
    f.write("[station]\ndaemon = cfgboard=%s,%s\nlisten = 127.0.0.1:%d\nwww = %s\n"
            "data_dir = %s\nstate_dir = %s\n" % (daemon.ctl, daemon.pub, cport, S.WWW, daemon.data,
                                                  os.path.join(tmp, "cfg-state")))
cproc = subprocess.Popen([S.STATION, "--config", good], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
names = None
deadline = time.time() + 10
while time.time() < deadline and names is None:
    try:
        st_, _, body = S.request(cport, "GET", "/api/v1/status")
        names = [d["name"] for d in json.loads(body)["daemons"]]
    except (OSError, ValueError):
        time.sleep(0.2)
check(names == ["cfgboard"], "daemon and listen taken from the INI file: %s" % names)
cproc.terminate()
check(cproc.wait(timeout=15) == 0, "INI-configured station exits cleanly")

# --- accounts -----------------------------------------------------------------------
r = run_station("--users", users, "--add-user", "physio", stdin="short\n")
check(r.returncode != 0 and "too short" in r.stderr, "a short password refused: %r" % r.stderr)
r = run_station("--users", users, "--add-user", "bad name", stdin="long enough pw\n")
check(r.returncode != 0 and "user name" in r.stderr, "a bad user name refused: %r" % r.stderr)
PASSWORD = "correct horse battery"
r = run_station("--users", users, "--add-user", "physio", stdin=PASSWORD + "\n")
check(r.returncode == 0, "add-user: %r" % r.stderr)
line = open(users).read().strip()
check(line.startswith("physio:$argon2id$v=19$m=") and PASSWORD not in line,
      "password stored as an Argon2id hash: %r" % line[:40])
check(os.stat(users).st_mode & 0o077 == 0, "users file is 0600")
os.chmod(users, 0o644)
r = run_station("--users", users, "--listen", "127.0.0.1:%d" % S.free_port())
check(r.returncode == 2 and "accessible by others" in r.stderr,
      "a world-readable users file refused: %r" % r.stderr)
os.chmod(users, 0o600)
empty = os.path.join(tmp, "empty-users")
open(empty, "w").close()
os.chmod(empty, 0o600)
r = run_station("--users", empty, "--listen", "127.0.0.1:%d" % S.free_port())
check(r.returncode == 2 and "no account" in r.stderr, "login with no accounts refused: %r" % r.stderr)

# API tokens for programs: made once, stored as a hash only.
tokens = os.path.join(tmp, "tokens")
r = run_station("--tokens", tokens, "--add-token", "puller")
token = r.stdout.strip()
check(r.returncode == 0 and token.startswith("nd_") and len(token) == 67, "add-token prints a token")
check(token not in open(tokens).read() and open(tokens).read().startswith("puller:"),
      "the tokens file holds no token in clear")
check(os.stat(tokens).st_mode & 0o077 == 0, "tokens file is 0600")

# --- login required -----------------------------------------------------------------
st = S.Station(tmp, [("b1", daemon)], args=["--users", users, "--tokens", tokens])
P = st.port
status, hdrs, body = S.request(P, "GET", "/")
check(status == 302 and hdrs.get("location") == ["/login.html"], "page redirects to the login: %s %s" % (status, hdrs.get("location")))
check("frame-ancestors 'none'" in hdrs.get("content-security-policy", [""])[0], "CSP on the redirect")
for path in ("/api/v1/status", "/metrics", "/api/v1/trials"):
    status, _, body = S.request(P, "GET", path)
    check(status == 401, "%s needs a login: %s" % (path, status))
status, _, _ = S.request(P, "GET", "/login.html")
check(status == 200, "the login page itself is public")
try:
    S.WebSocket(P)
    check(False, "WebSocket without a session refused")
except ConnectionError:
    check(True, "WebSocket without a session refused")

status, _, body = S.request(P, "POST", "/auth/login", {"user": "physio", "password": "wrong one!"},
                            {"Origin": "http://127.0.0.1:%d" % P})
check(status == 401, "wrong password: %s" % status)
status, hdrs, body = S.request(P, "POST", "/auth/login", {"user": "physio", "password": PASSWORD})
check(status == 200, "login: %s %s" % (status, body))
cookie_hdr = hdrs.get("set-cookie", [""])[0]
check("HttpOnly" in cookie_hdr and "SameSite=Strict" in cookie_hdr, "session cookie flags: %r" % cookie_hdr)
cookie = cookie_hdr.split(";")[0]
csrf = json.loads(body)["csrf"]
auth = {"Cookie": cookie}
status, _, body = S.request(P, "GET", "/api/v1/status", headers=auth)
check(status == 200 and json.loads(body)["daemons"][0]["name"] == "b1", "status with the session")

# A program with the API token: no session, no CSRF token needed; a wrong token is refused.
status, _, body = S.request(P, "GET", "/api/v1/status", headers={"Authorization": "Bearer " + token})
check(status == 200, "API token accepted: %s" % status)
status, _, _ = S.request(P, "GET", "/metrics", headers={"Authorization": "Bearer " + token})
check(status == 200, "API token accepted for /metrics: %s" % status)
bad_token = "nd_" + ("0" if token[3] != "0" else "1") + token[4:]
status, _, _ = S.request(P, "GET", "/api/v1/status", headers={"Authorization": "Bearer " + bad_token})
check(status == 401, "a wrong API token refused: %s" % status)
status, _, _ = S.request(P, "GET", "/station.html", headers={"Authorization": "Bearer " + token})
check(status == 302, "an API token does not open the pages: %s" % status)

# Control over the WebSocket: CSRF token needed.
ws = S.WebSocket(P, headers=auth)
ws.send({"type": "hello", "daemon": "b1"})


def reply_to(w, ident, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = w.recv()
        if m.get("type") == "reply" and m.get("id") == ident:
            return m["reply"]
    return None


ws.send({"type": "cmd", "id": 1, "daemon": "b1", "cmd": {"cmd": "status"}})
r1 = reply_to(ws, 1)
check(r1 and not r1["ok"] and "CSRF" in r1["error"], "command without CSRF refused: %s" % r1)
ws.send({"type": "cmd", "id": 2, "daemon": "b1", "csrf": "0" * 64, "cmd": {"cmd": "status"}})
r2 = reply_to(ws, 2)
check(r2 and not r2["ok"] and "CSRF" in r2["error"], "command with a wrong CSRF refused: %s" % r2)
ws.send({"type": "cmd", "id": 3, "daemon": "b1", "csrf": csrf, "cmd": {"cmd": "status"}})
r3 = reply_to(ws, 3)
check(r3 and r3["ok"] and r3["status"]["state"] in ("idle", "recording"), "command with CSRF answered")
ws.send({"type": "cmd", "id": 4, "daemon": "b1", "csrf": csrf, "cmd": {"cmd": "config", "set": {"on_N": 1}}})
r4 = reply_to(ws, 4)
check(r4 and not r4["ok"] and "one of" in r4["error"], "commands outside the page's set refused: %s" % r4)
ws.close()

# Foreign Origin: WebSocket and POST refused even with the session.
try:
    S.WebSocket(P, headers=dict(auth, Origin="http://evil.example"))
    check(False, "WebSocket from a foreign Origin refused")
except ConnectionError:
    check(True, "WebSocket from a foreign Origin refused")
status, _, _ = S.request(P, "POST", "/auth/logout", {}, dict(auth, **{"X-CSRF-Token": csrf, "Origin": "http://evil.example"}))
check(status == 403, "cross-origin POST refused: %s" % status)
status, _, _ = S.request(P, "POST", "/auth/logout", {}, auth)
check(status == 403, "POST without the CSRF header refused: %s" % status)
status, _, _ = S.request(P, "POST", "/auth/logout", {}, dict(auth, **{"X-CSRF-Token": csrf}))
check(status == 200, "logout with CSRF: %s" % status)
status, _, _ = S.request(P, "GET", "/api/v1/status", headers=auth)
check(status == 401, "the session is gone after logout: %s" % status)

# Rate limit: 5 failures per address (one above), then 429 with Retry-After, even for
# the right password.
codes = [S.request(P, "POST", "/auth/login", {"user": "physio", "password": "nope %d" % i})[0]
         for i in range(4)]
status, hdrs, _ = S.request(P, "POST", "/auth/login", {"user": "physio", "password": PASSWORD})
check(codes == [401] * 4 and status == 429 and int(hdrs.get("retry-after", ["0"])[0]) > 0,
      "failed logins rate-limited: %s then %s" % (codes, status))
# Over all addresses: a burst of 10 password checks, then 2 per second (429, Retry-After 1).
# The bucket was drawn by the 7 attempts above; a fast run of logins exhausts it.
codes = []
for i in range(12):
    # Different source addresses in 127.0.0.0/8, so the per-address limit is not what answers.
    s_ = socket.socket()
    s_.bind(("127.0.0.%d" % (10 + i), 0))
    s_.connect(("127.0.0.1", P))
    body_ = json.dumps({"user": "physio", "password": "wrong %d" % i}).encode()
    s_.sendall(("POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n"
                "Connection: close\r\n\r\n" % (P, len(body_))).encode() + body_)
    resp = b""
    while True:
        chunk = s_.recv(4096)
        if not chunk:
            break
        resp += chunk
    s_.close()
    codes.append(int(resp.split(b" ", 2)[1]) if resp else None)
check(401 in codes and codes[-1] == 429 and codes.count(429) >= 2,
      "password checks limited over all addresses: %s" % codes)
check(st.stop() == 0, "station (auth) exits cleanly")

# --- TLS on a non-loopback bind -------------------------------------------------------
port = S.free_port()
log = open(os.path.join(tmp, "tls.log"), "w")
proc = subprocess.Popen([S.STATION, "--daemon", DSPEC, "--www", S.WWW, "--listen", "0.0.0.0:%d" % port,
                         "--data-dir", daemon.data, "--state-dir", os.path.join(tmp, "tls-state"),
                         "--users", users, "--tls-cert", cert, "--tls-key", key],
                        stdout=log, stderr=subprocess.STDOUT)
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
got = None
deadline = time.time() + 10
while time.time() < deadline and got is None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
            with ctx.wrap_socket(raw) as tls:
                tls.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                got = tls.recv(4096)
    except (OSError, ssl.SSLError):
        time.sleep(0.2)
check(got is not None and got.startswith(b"HTTP/1.1 401"), "HTTPS answers (login required): %r" % (got or b"")[:40])
try:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        plain = raw.recv(100)
except OSError:
    plain = b""
check(not plain.startswith(b"HTTP/1.1 200"), "plain HTTP is not served on the TLS port")
proc.terminate()
check(proc.wait(timeout=15) == 0, "TLS station exits cleanly")
check(daemon.stop() == 0, "nordicd exits cleanly")
finish("test_station_auth")
