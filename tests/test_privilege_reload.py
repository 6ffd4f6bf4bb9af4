"""nordicd least privilege and configuration reload, as an admin meets them:
started as root with user= it drops to that account for good (checked in
/proc/PID/status) and owns what it creates; an unknown user or group is a
clear error; --check-config validates the shipped example, which documents
every key; SIGHUP applies log/live/metric keys (metrics wait for a recording
trial to stop), reports the others as needing a restart and survives a broken
file; the man pages cover every option of --help."""
import json
import os
import pwd
import re
import signal
import subprocess
import time

from nordic_testlib import check, finish, tmpdir_for_nobody

BUILD = os.environ["NORDIC_BUILD_DIR"]
SOURCE = os.environ["NORDIC_SOURCE_DIR"]
NORDICD = os.path.join(BUILD, "daemon", "nordicd")
NORDCTL = os.path.join(BUILD, "tools", "nordctl")
EXAMPLE = os.path.join(SOURCE, "daemon", "nordicd.conf")
TMP = tmpdir_for_nobody("privilege-")  # the dropped daemon must reach its directories


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def ctl(endpoint, *args):
    r = subprocess.run([NORDCTL, "--ctl", endpoint, "--json", "--timeout", "5"] + list(args),
                       capture_output=True, text=True, timeout=20)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"ok": False, "error": "no JSON: %r %r" % (r.stdout, r.stderr)}


class Daemon:
    def __init__(self, name, config_text, extra=()):
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        if "user = " not in config_text:  # no drop, so nobody else creates it
            os.makedirs(os.path.join(self.dir, "run"))
        self.conf = write(os.path.join(self.dir, "nordicd.conf"),
                          config_text.replace("@DIR@", self.dir))
        self.ctl = "ipc://%s/run/control" % self.dir
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.p = subprocess.Popen([NORDICD, "-c", self.conf, "--ctl", self.ctl] + list(extra),
                                  stdout=self.log, stderr=subprocess.STDOUT)
        self.ready = wait_for(lambda: os.path.exists(self.ctl[6:]) or self.p.poll() is not None)

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = -9
        check("Sanitizer" not in self.text() and "runtime error" not in self.text(),
              "%s: no sanitizer report" % self.dir)
        return rc


BASE = """[daemon]
device = sim:?rate=200
state_dir = @DIR@/state
runtime_dir = @DIR@/run
pub = ipc://@DIR@/run/pub
"""

# --- the shipped example config: valid, and every key is documented --------
r = subprocess.run([NORDICD, "--check-config"], capture_output=True, text=True)
check(r.returncode == 0, "--check-config of the defaults")
keys = re.findall(r"^(\w+) = ", r.stdout, re.M)
check(len(keys) >= 25, "--check-config prints every key (%d)" % len(keys))
example = open(EXAMPLE).read()
for k in keys:
    check(re.search(r"^#?%s = " % k, example, re.M) is not None,
          "daemon/nordicd.conf documents %s" % k)
for k in re.findall(r"^#?(\w+) = ", example, re.M):
    check(k in keys, "daemon/nordicd.conf key %s exists in nordicd" % k)
# As shipped it names the package's account; here that account may not exist.
conf = write(os.path.join(TMP, "example.conf"),
             example.replace("user = nordicd", "user = nobody")
             .replace("group = nordicd", "group = nogroup"))
r = subprocess.run([NORDICD, "--check-config", "-c", conf], capture_output=True, text=True)
check(r.returncode == 0, "example config passes --check-config (%s)" % r.stderr)
check("user = nobody" in r.stdout, "--check-config prints the user")

# --- unknown accounts: refused before anything starts ----------------------
bad = write(os.path.join(TMP, "baduser.conf"), "[daemon]\nuser = no-such-user-xyz\n")
r = subprocess.run([NORDICD, "--check-config", "-c", bad], capture_output=True, text=True)
check(r.returncode == 2 and "no-such-user-xyz: no such user" in r.stderr,
      "--check-config refuses an unknown user (%d %r)" % (r.returncode, r.stderr))
r = subprocess.run([NORDICD, "-c", bad, "--state-dir", TMP + "/never"], capture_output=True,
                   text=True, timeout=20)
check(r.returncode == 2 and "no such user" in r.stderr, "nordicd refuses an unknown user")
check(not os.path.exists(TMP + "/never"), "nothing created for an unknown user")
badg = write(os.path.join(TMP, "badgroup.conf"),
             "[daemon]\nuser = nobody\ngroup = no-such-group-xyz\n")
r = subprocess.run([NORDICD, "--check-config", "-c", badg], capture_output=True, text=True)
check(r.returncode == 2 and "no-such-group-xyz: no such group" in r.stderr,
      "unknown group refused (%r)" % r.stderr)
onlyg = write(os.path.join(TMP, "onlygroup.conf"), "[daemon]\ngroup = nogroup\n")
r = subprocess.run([NORDICD, "--check-config", "-c", onlyg], capture_output=True, text=True)
check(r.returncode == 2 and "user is not" in r.stderr, "group without user refused")

# --- the drop itself (needs root) -----------------------------------------
if os.geteuid() != 0:
    print("SKIP: privilege drop and reload-as-nobody need root (running as uid %d)"
          % os.geteuid())
else:
    nobody = pwd.getpwnam("nobody")
    d = Daemon("drop", BASE + "user = nobody\n")
    check(d.ready and d.p.poll() is None, "nordicd as root with user=nobody runs (%s)" % d.text())
    if d.p.poll() is None:
        st = proc_status(d.p.pid)
        check(st["Uid"] == [str(nobody.pw_uid)] * 4, "all four uids are nobody: %s" % st["Uid"])
        check(st["Gid"] == [str(nobody.pw_gid)] * 4, "all four gids are nobody's: %s" % st["Gid"])
        check("0" not in st["Groups"], "no supplementary root group: %s" % st["Groups"])
        check(st["CapEff"] == ["0000000000000000"] and st["CapPrm"] == ["0000000000000000"],
              "no capabilities left")
        check(st["NoNewPrivs"] == ["1"], "no_new_privs set")
        for sub in ("state", "state/trials", "run", "run/control"):
            s = os.stat(os.path.join(d.dir, sub))
            check(s.st_uid == nobody.pw_uid, "%s belongs to nobody" % sub)
        # A trial file is written as nobody.
        rep = ctl(d.ctl, "start", "--athlete", "drop1")
        check(rep.get("ok"), "trial starts as nobody (%s)" % rep)
        time.sleep(0.5)
        rep = ctl(d.ctl, "stop")
        check(rep.get("ok"), "trial stops (%s)" % rep)
        files = os.listdir(os.path.join(d.dir, "state", "trials"))
        check(len(files) == 1, "one trial file (%s)" % files)
        if files:
            s = os.stat(os.path.join(d.dir, "state", "trials", files[0]))
            check(s.st_uid == nobody.pw_uid, "trial file owned by nobody")
    check(d.stop() == 0, "clean exit after the drop")
    check("dropped root: running as nobody" in d.text(), "the drop is logged")

    # A directory the account cannot write: clear error naming it.
    ro = os.path.join(TMP, "rootonly")
    os.makedirs(ro)
    os.chmod(ro, 0o755)
    d = Daemon("rootdir", BASE.replace("@DIR@/state", ro) + "user = nobody\n")
    rc = d.p.wait(timeout=20)
    check(rc == 2 and "state_dir %s is not writable by uid %d" % (ro, nobody.pw_uid) in d.text(),
          "unwritable state_dir refused with its name (%d %r)" % (rc, d.text()))

    # --- SIGHUP reload, run as nobody ------------------------------------------
    d = Daemon("reload", BASE + "user = nobody\n[live]\nlive_hz = 50\n")
    check(d.ready and d.p.poll() is None, "reload daemon runs")
    cfg0 = ctl(d.ctl, "config").get("config", {})
    check(cfg0.get("live_hz") == 50 and cfg0.get("on_N") == 100, "initial config %s" % cfg0)
    write(d.conf, (BASE + "user = nobody\nlog_level = debug\n[live]\nlive_hz = 20\n"
                   "[metrics]\non_N = 140\n").replace("@DIR@", d.dir)
          .replace("run/pub", "run/pub2"))
    d.p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: ctl(d.ctl, "config").get("config", {}).get("on_N") == 140),
          "SIGHUP applies on_N")
    cfg1 = ctl(d.ctl, "config").get("config", {})
    check(cfg1.get("live_hz") == 20, "SIGHUP applies live_hz (%s)" % cfg1)
    check(wait_for(lambda: "restart needed for daemon.pub" in d.text()),
          "changed pub reported as needing a restart")
    check(os.path.exists(d.dir + "/run/pub") and not os.path.exists(d.dir + "/run/pub2"),
          "pub keeps its running endpoint")
    check("daemon.log_level: info -> debug" in d.text(), "log_level change logged")

    # While a trial records, metric settings wait for it to stop.
    check(ctl(d.ctl, "start", "--athlete", "reload1").get("ok"), "trial starts")
    write(d.conf, (BASE + "user = nobody\n[live]\nlive_hz = 20\n[metrics]\non_N = 160\n")
          .replace("@DIR@", d.dir))
    d.p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "apply when it stops" in d.text()), "metrics deferred while recording")
    # (The control `config` command itself is refused while recording, so the
    # settings are read back after the stop.)
    check(ctl(d.ctl, "stop").get("ok"), "trial stops")
    check(wait_for(lambda: ctl(d.ctl, "config").get("config", {}).get("on_N") == 160),
          "deferred settings applied after the stop")

    # A broken file: refused, daemon unchanged and alive.
    write(d.conf, BASE.replace("@DIR@", d.dir) + "[metrics]\non_N = lots\n")
    d.p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "keeping the running one" in d.text()), "broken file refused")
    check("on_N: 'lots' is not a number" in d.text(), "the error names the key and value")
    time.sleep(0.2)
    check(d.p.poll() is None, "daemon alive after a broken reload")
    check(ctl(d.ctl, "config").get("config", {}).get("on_N") == 160, "settings unchanged")
    # An invalid combination (validation, not parsing) is refused too.
    write(d.conf, BASE.replace("@DIR@", d.dir) + "[metrics]\non_N = 40\noff_N = 50\n")
    d.p.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "off_N (50) must not exceed on_N (40)" in d.text()),
          "invalid combination refused")
    check(ctl(d.ctl, "config").get("config", {}).get("on_N") == 160, "still unchanged")
    check(d.stop() == 0, "clean exit after reloads")

# --- hotplug: a serial board absent at start is waited for (wait=1) ----------
d = Daemon("absent", BASE.replace("sim:?rate=200", "serial:/dev/nordic-serial-absent?wait=1"))
check(d.ready and d.p.poll() is None, "nordicd starts without the serial board (%s)" % d.text())
time.sleep(1.0)
check(d.p.poll() is None, "and keeps running, retrying")
st = ctl(d.ctl, "status")
check(st.get("ok") and st.get("status", {}).get("device", {}).get("connected") is False,
      "status says the device is not connected (%s)" % st)
check(d.stop() == 0, "clean exit while waiting for the board")

# --- man pages cover every option of --help ------------------------------------
for prog, page in (("daemon/nordicd", "nordicd.8"), ("tools/nordctl", "nordctl.1"),
                   ("tools/nordic-watch", "nordic-watch.1"), ("tools/nordic-trial", "nordic-trial.1"),
                   ("tools/nordic-devsim", "nordic-devsim.1"),
                   ("tools/nordic-report", "nordic-report.1"),
                   ("tools/station/nordic-station", "nordic-station.1")):
    if not os.path.exists(os.path.join(BUILD, prog)):
        print("SKIP: %s not built" % prog)
        continue
    r = subprocess.run([os.path.join(BUILD, prog), "--help"], capture_output=True, text=True)
    opts = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", r.stdout + r.stderr))
    roff = open(os.path.join(SOURCE, "daemon", "man", page)).read().replace("\\-", "-")
    check(len(opts) > 3, "%s --help lists options" % prog)
    for o in sorted(opts):
        check(o in roff, "%s documents %s" % (page, o))

finish("test_privilege_reload")
