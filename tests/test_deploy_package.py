"""Deployment as a clinic meets it: the systemd unit passes
`systemd-analyze security --offline=true` at exposure <= 2.0 with every
required directive; cpack builds a .deb whose contents, dependencies,
conffiles and maintainer scripts are right; the package installs into a
throwaway root (an overlay of this system, so dpkg, adduser and the real
libraries are used), where the unit verifies, the udev rules tag fake boards
for hotplug start (udevadm test under umockdev), the installed daemon started
as root drops to the nordicd account, and a purge leaves nothing behind."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from nordic_testlib import check, finish

BUILD = os.environ["NORDIC_BUILD_DIR"]
SOURCE = os.environ["NORDIC_SOURCE_DIR"]
UNIT = os.path.join(BUILD, "nordicd.service")
TMP = tempfile.mkdtemp(prefix="deploy-", dir=os.environ.get("TMPDIR"))


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(cmd, **kw)


# Fake boards for udevadm test: an Arduino CDC ttyACM and an NFP/1 USB board.
FAKE_DEVICES = """P: /devices/pci0000:00/0000:00:14.0/usb1/1-1
N: bus/usb/001/002
E: DEVNAME=/dev/bus/usb/001/002
E: DEVTYPE=usb_device
E: SUBSYSTEM=usb
E: MAJOR=189
E: MINOR=1
A: idVendor=2341
A: idProduct=0043
A: serial=ABC123
A: busnum=1
A: devnum=2
A: dev=189:1

P: /devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0
E: DEVTYPE=usb_interface
E: SUBSYSTEM=usb
A: bInterfaceClass=02

P: /devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/tty/ttyACM0
N: ttyACM0
E: DEVNAME=/dev/ttyACM0
E: SUBSYSTEM=tty
E: MAJOR=166
E: MINOR=0
A: dev=166:0

P: /devices/pci0000:00/0000:00:14.0/usb1/1-2
N: bus/usb/001/003
E: DEVNAME=/dev/bus/usb/001/003
E: DEVTYPE=usb_device
E: SUBSYSTEM=usb
E: MAJOR=189
E: MINOR=2
A: idVendor=1209
A: idProduct=0001
A: serial=NFP42
A: busnum=1
A: devnum=3
A: dev=189:2
"""
ACM = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/tty/ttyACM0"
NFP = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2"


def in_root_phase(merged, deb, results):
    """Runs inside a private mount namespace (unshare -m): the overlay root is
    mounted at `merged`; everything here happens to the throwaway root."""
    def ch(*cmd, **kw):
        return run(["chroot", merged] + list(cmd), **kw)

    def getent(db, name):
        return ch("getent", db, name)

    shutil.copy(deb, os.path.join(merged, "tmp", "nordicd.deb"))
    r = ch("dpkg", "-i", "/tmp/nordicd.deb")
    check(r.returncode == 0, "dpkg -i in the throwaway root (%s %s)" % (r.stdout, r.stderr))
    if r.returncode:
        return
    pw = getent("passwd", "nordicd")
    check(pw.returncode == 0, "postinst created user nordicd")
    fields = pw.stdout.strip().split(":")
    uid = int(fields[2]) if len(fields) > 3 else -1
    check(uid > 0 and uid < 1000, "nordicd is a system account (uid %d)" % uid)
    check(fields[-1] in ("/usr/sbin/nologin", "/bin/false"), "no login shell: %s" % fields)
    gr = getent("group", "nordic")
    check(gr.returncode == 0 and "nordicd" in gr.stdout.strip().split(":")[-1].split(","),
          "nordicd is in group nordic (%s)" % gr.stdout.strip())
    nordic_gid = gr.stdout.strip().split(":")[2] if gr.returncode == 0 else "?"
    st = os.stat(os.path.join(merged, "var/lib/nordicd"))
    check(st.st_uid == uid and (st.st_mode & 0o777) == 0o750, "/var/lib/nordicd nordicd 0750")
    check(os.path.islink(os.path.join(
        merged, "etc/systemd/system/multi-user.target.wants/nordicd.service")),
        "postinst enabled nordicd.service")

    # The installed unit verifies (binary, man pages, syntax).
    r = ch("systemd-analyze", "verify", "/lib/systemd/system/nordicd.service")
    check(r.returncode == 0 and not r.stderr.strip(),
          "systemd-analyze verify of the installed unit: %s" % r.stderr)
    r = ch("systemd-analyze", "security", "--offline=true",
           "/lib/systemd/system/nordicd.service")
    m = re.search(r"Overall exposure level for nordicd.service: ([0-9.]+)", r.stdout + r.stderr)
    check(m and float(m.group(1)) <= 2.0, "installed unit exposure <= 2.0")
    for page in ("nordicd", "nordicd.conf", "nordctl", "nordic-watch", "nordic-trial",
                 "nordic-devsim"):
        r = ch("man", "-w", page)
        check(r.returncode == 0, "man page %s installed" % page)
    r = ch("nordicd", "--check-config", "-c", "/etc/nordicd/nordicd.conf")
    check(r.returncode == 0 and "user = nordicd" in r.stdout,
          "installed config passes --check-config (%s)" % r.stderr)

    # udev: the installed rules tag fake boards for hotplug start.
    with open(os.path.join(merged, "tmp", "boards.umockdev"), "w") as f:
        f.write(FAKE_DEVICES)
    if shutil.which("umockdev-run") and shutil.which("udevadm"):
        for sys_path, kind, link in ((ACM, "cdc", "nordic-serial-cdc-ABC123"),
                                     (NFP, "nfp-usb", "nordic-nfp-usb-NFP42")):
            r = ch("umockdev-run", "-d", "/tmp/boards.umockdev", "--", "udevadm", "test",
                   "--action=add", sys_path)
            out = r.stdout + r.stderr
            results.write(out)
            check("60-nordic.rules" in out, "udevadm read 60-nordic.rules")
            check(not re.search(r"60-nordic\.rules:\d+ .*(?:[Ii]nvalid|error|Unknown)", out),
                  "no rule errors in 60-nordic.rules")
            check("NORDIC_DEVICE=%s" % kind in out, "%s: NORDIC_DEVICE=%s" % (sys_path, kind))
            check("SYSTEMD_WANTS=nordicd.service" in out, "%s: SYSTEMD_WANTS" % kind)
            tags = re.search(r"^TAGS=(.*)$", out, re.M)
            check(tags and ":systemd:" in tags.group(1) and ":uaccess:" in tags.group(1),
                  "%s: tags systemd and uaccess (%s)" % (kind, tags and tags.group(1)))
            check(re.search(r"GROUP %s\b" % nordic_gid, out) is not None,
                  "%s: GROUP nordic (gid %s)" % (kind, nordic_gid))
            check(re.search(r"MODE 0660\b", out) is not None, "%s: MODE 0660" % kind)
            check(link in out, "%s: symlink /dev/%s" % (kind, link))
    else:
        print("SKIP: udevadm/umockdev-run missing (Debian: udev, umockdev)")

    # The installed daemon, started as root, drops to nordicd.
    log = open(os.path.join(TMP, "installed-nordicd.log"), "w+")
    p = subprocess.Popen(["chroot", merged, "/usr/sbin/nordicd", "-c", "/etc/nordicd/nordicd.conf",
                          "--device", "sim:?rate=200", "--pub", "ipc:///run/nordicd/pub"],
                         stdout=log, stderr=subprocess.STDOUT)
    sock = os.path.join(merged, "run/nordicd/control")
    end = time.monotonic() + 10
    while time.monotonic() < end and not os.path.exists(sock) and p.poll() is None:
        time.sleep(0.05)
    check(p.poll() is None and os.path.exists(sock), "installed nordicd runs as a service would")
    if p.poll() is None:
        status = {}
        with open("/proc/%d/status" % p.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                status[k] = v.split()
        check(status["Uid"] == [str(uid)] * 4, "installed daemon runs as nordicd: %s"
              % status["Uid"])
        check(nordic_gid in status["Groups"], "keeps group nordic for devices: %s"
              % status["Groups"])
        check(status["CapEff"] == ["0000000000000000"], "no capabilities")
        check(os.stat(sock).st_uid == uid, "control socket owned by nordicd")
        r = ch("nordctl", "--json", "status")
        check(r.returncode == 0 and json.loads(r.stdout or "{}").get("ok"),
              "nordctl status against the installed daemon (%s %s)" % (r.stdout, r.stderr))
        p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=20) == 0, "installed daemon stops cleanly")

    r = ch("dpkg", "--purge", "nordicd")
    check(r.returncode == 0, "dpkg --purge (%s %s)" % (r.stdout, r.stderr))
    check(getent("passwd", "nordicd").returncode != 0, "purge removed user nordicd")
    check(getent("group", "nordicd").returncode != 0, "purge removed group nordicd")
    check(getent("group", "nordic").returncode != 0, "purge removed group nordic")
    for path in ("var/lib/nordicd", "var/log/nordicd", "etc/nordicd", "usr/sbin/nordicd",
                 "lib/systemd/system/nordicd.service", "lib/udev/rules.d/60-nordic.rules",
                 "etc/systemd/system/multi-user.target.wants/nordicd.service"):
        check(not os.path.lexists(os.path.join(merged, path)), "purge removed /%s" % path)


# Bookkeeping that any package install/purge changes (dpkg's database and log,
# man-db's index, shadow's backup copies), and our own scratch files.
ALLOWED = re.compile(r"^(var/lib/dpkg/|var/log/dpkg\.log$|var/log/apt/|var/cache/man/|"
                     r"var/cache/debconf/|etc/(passwd|group|shadow|gshadow)-$|"
                     r"etc/\.pwd\.lock$|var/lib/systemd/deb-systemd-helper-(enabled|masked)/$|"
                     r"tmp/)")


# Directories the package owns: purge deletes them even if they existed before.
OWNED = re.compile(r"^(var/lib/nordicd|var/log/nordicd|etc/nordicd|run/nordicd)$")


def leftovers(upper):
    """Files the install + purge left in the overlay's upper layer that differ
    from the lower one (the real system)."""
    left = []
    for dirpath, dirnames, filenames in os.walk(upper):
        rel_dir = os.path.relpath(dirpath, upper)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if ALLOWED.match(rel):
                continue
            up, low = os.path.join(upper, rel), os.path.join("/", rel)
            st = os.lstat(up)
            if os.path.isfile(up) and not os.path.islink(up) and os.path.isfile(low):
                with open(up, "rb") as a, open(low, "rb") as b:
                    if a.read() == b.read():
                        continue  # copied up, content restored
            whiteout = (st.st_mode & 0o170000) == 0o020000
            if whiteout and OWNED.match(rel):
                continue  # purge removed the package's own directory that predated it
            left.append(rel + (" (whiteout: deleted a system file)" if whiteout else ""))
        for d in dirnames:
            rel = os.path.normpath(os.path.join(rel_dir, d)) + "/"
            if not os.path.exists(os.path.join("/", rel)) and not ALLOWED.match(rel):
                left.append(rel)
    return left


# --- entry point inside the mount namespace ---------------------------------
if len(sys.argv) == 5 and sys.argv[1] == "--in-root":
    upper, work, merged = sys.argv[2], sys.argv[3], sys.argv[4]
    deb = os.environ["NORDIC_DEB"]
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=/,upperdir=%s,workdir=%s" % (upper, work), merged], check=True)
    # The kernel and device views come from the host; /run is empty, as on a
    # machine where neither systemd nor udevd is running for this root.
    # /dev is a private tmpfs with only the basic nodes, so that nothing done
    # here (udevadm test creates /dev symlinks) reaches the host's /dev.
    for sub in ("proc", "sys"):
        subprocess.run(["mount", "--rbind", "/" + sub, os.path.join(merged, sub)], check=True)
    for sub in ("run", "dev"):
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", os.path.join(merged, sub)], check=True)
    for node in ("null", "zero", "full", "random", "urandom", "tty"):
        target = os.path.join(merged, "dev", node)
        open(target, "w").close()
        subprocess.run(["mount", "--bind", "/dev/" + node, target], check=True)
    os.makedirs(os.path.join(merged, "dev", "shm"))
    os.makedirs(os.path.join(merged, "dev", "pts"))
    subprocess.run(["mount", "-t", "devpts", "devpts", "-o", "newinstance,ptmxmode=0666",
                    os.path.join(merged, "dev", "pts")], check=True)  # umockdev's ttys
    os.symlink("pts/ptmx", os.path.join(merged, "dev", "ptmx"))
    os.environ["TMPDIR"] = "/tmp"  # scratch files of the chroot'ed tools stay in its /tmp
    with open(os.path.join(TMP, "udevadm-test.log"), "w") as results:
        in_root_phase(merged, deb, results)
    finish("test_deploy_package")

# --- unit file: directives and exposure -------------------------------------
check(os.path.exists(UNIT), "configured unit %s exists" % UNIT)
unit = open(UNIT).read()
for directive in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=nordicd",
                  "SupplementaryGroups=nordic", "StateDirectory=nordicd",
                  "RuntimeDirectory=nordicd", "LogsDirectory=nordicd", "ProtectSystem=strict",
                  "ProtectHome=yes", "NoNewPrivileges=yes", "PrivateTmp=yes",
                  "DevicePolicy=closed", "DeviceAllow=char-usb_device rw",
                  "DeviceAllow=char-ttyUSB rw", "DeviceAllow=char-ttyACM rw",
                  "RestrictAddressFamilies=", "RestrictNamespaces=yes", "RestrictRealtime=yes",
                  "RestrictSUIDSGID=yes", "MemoryDenyWriteExecute=yes", "SystemCallFilter=",
                  "CapabilityBoundingSet=\n", "ExecReload=/bin/kill -HUP $MAINPID"):
    check(directive in unit, "unit has %s" % directive.strip())
m = re.search(r"^ExecStart=(\S+)", unit, re.M)
check(m and m.group(1).endswith("/sbin/nordicd"), "ExecStart runs the installed nordicd")
r = run(["systemd-analyze", "security", "--offline=true", UNIT])
m = re.search(r"Overall exposure level for nordicd.service: ([0-9.]+)", r.stdout + r.stderr)
check(m is not None, "systemd-analyze security reports an exposure (%s)" % r.stderr)
if m:
    print("exposure (systemd-analyze security --offline=true): %s" % m.group(1))
    check(float(m.group(1)) <= 2.0, "exposure %s <= 2.0" % m.group(1))

# nordic-station's unit (issue 13), when the station is built.
STATION_UNIT = os.path.join(BUILD, "nordic-station.service")
if os.path.exists(os.path.join(BUILD, "tools", "station", "nordic-station")):
    check(os.path.exists(STATION_UNIT), "configured unit %s exists" % STATION_UNIT)
    r = run(["systemd-analyze", "security", "--offline=true", STATION_UNIT])
    m = re.search(r"Overall exposure level for nordic-station.service: ([0-9.]+)", r.stdout + r.stderr)
    check(m is not None and float(m.group(1)) <= 2.0,
          "nordic-station.service exposure <= 2.0 (%s)" % (m and m.group(1)))
    if m:
        print("nordic-station.service exposure: %s" % m.group(1))

# --- the .deb ------------------------------------------------------------------
config = os.path.join(BUILD, "CPackConfig.cmake")
prefix = re.search(r'CPACK_PACKAGING_INSTALL_PREFIX "([^"]*)"', open(config).read()).group(1)
if prefix != "/usr":
    print("SKIP: the package checks need a build configured with -DCMAKE_INSTALL_PREFIX=/usr "
          "(this one: %s)" % prefix)
    finish("test_deploy_package")
r = run(["cpack", "-G", "DEB", "--config", config, "-B", TMP], timeout=300)
debs = glob.glob(os.path.join(TMP, "nordicd_*.deb"))
check(r.returncode == 0 and len(debs) == 1, "cpack builds one .deb (%s)" % r.stderr[-500:])
if not debs:
    finish("test_deploy_package")
deb = debs[0]
info = run(["dpkg-deb", "-I", deb]).stdout
contents = run(["dpkg-deb", "-c", deb]).stdout
paths = {line.split()[-1].lstrip(".") for line in contents.splitlines()}
for path in ("/usr/sbin/nordicd", "/usr/bin/nordctl", "/usr/bin/nordic-watch",
             "/usr/bin/nordic-trial", "/etc/nordicd/nordicd.conf",
             "/lib/systemd/system/nordicd.service", "/lib/udev/rules.d/60-nordic.rules",
             "/usr/share/man/man8/nordicd.8", "/usr/share/man/man5/nordicd.conf.5",
             "/usr/share/man/man1/nordctl.1", "/usr/share/man/man1/nordic-watch.1",
             "/usr/share/man/man1/nordic-trial.1", "/usr/share/man/man1/nordic-devsim.1"):
    check(path in paths, "package contains %s" % path)
check(not any("bench" in p or "/test" in p for p in paths), "no benchmarks or tests packaged")
# Every packaged program has its man page.
for p in sorted(paths):
    if re.match(r"^/usr/s?bin/.", p):
        name = os.path.basename(p)
        check(any(re.match(r"^/usr/share/man/man[18]/%s\.[18]$" % re.escape(name), q)
                  for q in paths), "man page for %s" % name)
for line in contents.splitlines():
    if line.split()[-1].startswith("./usr/bin/nordic") or line.split()[-1] == "./usr/sbin/nordicd":
        check(line.startswith("-rwxr-xr-x root/root"), "program mode and owner: %s" % line)
depends = re.search(r"^ Depends: (.*)$", info, re.M)
depends = depends.group(1) if depends else ""
for dep in ("adduser", "init-system-helpers", "libzmq5", "libhdf5", "libusb-1.0-0",
            "libserialport0", "libinih1", "libcjson1", "libsystemd0"):
    check(dep in depends, "Depends names %s (%s)" % (dep, depends))
ctl_dir = os.path.join(TMP, "control")
run(["dpkg-deb", "-e", deb, ctl_dir])
station_built = os.path.exists(os.path.join(BUILD, "tools", "station", "nordic-station"))
want_conffiles = ["/etc/nordicd/nordicd.conf"] + (
    ["/etc/nordic-station/nordic-station.conf"] if station_built else [])
check(open(os.path.join(ctl_dir, "conffiles")).read().split() == want_conffiles,
      "the configs are the conffiles: %s" % want_conffiles)
if station_built:
    listing = run(["dpkg-deb", "-c", deb]).stdout
    for path in ("./usr/bin/nordic-station", "./usr/share/nordic-station/www/station.html",
                 "nordic-station.service", "./usr/share/man/man1/nordic-station.1"):
        check(path in listing, "package holds %s" % path)
    check("libwebsockets" in depends and "libsodium" in depends,
          "Depends names libwebsockets and libsodium (%s)" % depends)
for script in ("postinst", "prerm", "postrm"):
    path = os.path.join(ctl_dir, script)
    check(os.path.exists(path) and os.access(path, os.X_OK), "%s present and executable" % script)
    check(run(["sh", "-n", path]).returncode == 0, "%s parses" % script)
    if shutil.which("shellcheck"):
        r = run(["shellcheck", "-s", "sh", path])
        check(r.returncode == 0, "shellcheck %s: %s" % (script, r.stdout))
postinst = open(os.path.join(ctl_dir, "postinst")).read()
postrm = open(os.path.join(ctl_dir, "postrm")).read()
check("adduser" in postinst and "udevadm control --reload-rules" in postinst,
      "postinst creates the account and reloads udev")
check("deluser" in postrm and "rm -rf /var/lib/nordicd" in postrm, "postrm purge cleans up")

# --- install and purge in a throwaway root -----------------------------------
if os.geteuid() != 0 or not shutil.which("unshare"):
    print("SKIP: the throwaway-root install needs root and unshare")
    finish("test_deploy_package")
root = os.path.join(TMP, "root")
upper, work, merged = (os.path.join(root, d) for d in ("upper", "work", "merged"))
for d in (upper, work, merged):
    os.makedirs(d)
probe = run(["unshare", "-m", "sh", "-c", "mount -t overlay overlay -o lowerdir=/,upperdir=%s,"
             "workdir=%s %s" % (upper, work, merged)])
if probe.returncode != 0:
    print("SKIP: overlay mounts are not permitted here (%s)" % probe.stderr.strip())
    finish("test_deploy_package")
shutil.rmtree(work)
os.makedirs(work)
env = dict(os.environ, NORDIC_DEB=deb)
r = run(["unshare", "-m", sys.executable, os.path.abspath(__file__), "--in-root", upper, work,
         merged], env=env, timeout=300)
sys.stdout.write(r.stdout)
sys.stderr.write(r.stderr)
check(r.returncode == 0, "install/purge phase in the throwaway root passed")
left = leftovers(upper)
check(not left, "purge left nothing behind: %s" % left[:20])
finish("test_deploy_package")
