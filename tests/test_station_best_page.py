#!/usr/bin/python3
"""The station page with a target as % of the athlete's best and the Best
fields left empty (tools/station/STATION.md, METRICS.md 5.4), in a real
browser (Debian chromium headless + python3-selenium) against a real nordicd
on sim: and nordic-station: the page says where the best came from ("best
from index: L <best> N (trial <id>, rep <k>, <date>); R ...", the values
computed here with h5py from the two earlier trials nordic-report-gen wrote),
and the file's /sets zone is 80 % of it; for an athlete without earlier
trials the page shows the station's refusal asking for the values and the
daemon stays idle."""
import glob
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import station_testlib as S  # noqa: E402
from nordic_testlib import check, finish  # noqa: E402

driver = S.chromium(console_log=False)  # the prerequisites first: nothing below runs without them
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402
import h5py  # noqa: E402

GEN = os.path.join(S.BUILD, "tools", "nordic-report-gen")
T0 = 1767225600  # 2026-01-01T00:00:00Z
SIM = "sim:?rate=1000&reps=1000&unloaded=2&lead=0.5&rise=0.8&rest=1.5&var=2&seed=7"

tmp = tempfile.mkdtemp(prefix="station-best-page-", dir=os.environ.get("TMPDIR"))
data = tmp + "/data"
os.makedirs(data)
for k, (l, r) in enumerate(((310, 290), (360, 250))):
    subprocess.run([GEN, data, "--athlete", "PAGE1", "--date", str(T0 + k * 86400), "--left", str(l),
                    "--right", str(r), "--seed", str(50 + k)], check=True, capture_output=True)

# Expected: the highest rep peak per leg over the two complete files (no sets:
# every rep bilateral), with its trial, rep and date.
best = {}
for path in glob.glob(data + "/*.h5"):
    with h5py.File(path, "r") as f:
        a = f.attrs
        for rep in f["reps"][:]:
            for leg, field in (("L", "peak_left_N"), ("R", "peak_right_N")):
                cand = (float(rep[field]), str(a["trial_id"]), int(rep["index"]), str(a["created_utc"]))
                if leg not in best or cand[0] > best[leg][0]:
                    best[leg] = cand
want_text = "best from index: " + "; ".join(
    "%s %.1f N (trial %s, rep %d, %s)" % (leg, *best[leg]) for leg in ("L", "R"))

daemon = S.Daemon(tmp, SIM)
station = S.Station(tmp, [("board1", daemon)])


def text(id_):
    return driver.find_element(By.ID, id_).text


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception:  # element not there yet
            pass
        time.sleep(0.1)
    check(False, "timed out waiting for %s (page says: %r)" % (what, text("control-msg")))
    return None


def start(athlete):
    field = driver.find_element(By.ID, "athlete-id")
    field.clear()
    field.send_keys(athlete)
    wait_for(lambda: driver.find_element(By.ID, "start").is_enabled(), 20, "Start enabled")
    driver.find_element(By.ID, "start").click()


try:
    driver.get(station.url("/"))
    wait_for(lambda: text("state") == "idle", 30, "the page to show the idle daemon")
    # The index must hold both earlier trials before the start.
    wait_for(lambda: len(__import__("json").loads(S.request(
        station.port, "GET", "/api/v1/trials?athlete=PAGE1")[2])["items"]) == 2, 20, "index")
    driver.find_element(By.ID, "protocol").send_keys("1x2")
    Select(driver.find_element(By.ID, "target-kind")).select_by_value("pct")
    driver.find_element(By.ID, "target-pct").send_keys("80")
    check(driver.find_element(By.ID, "best-left").get_attribute("value") == "",
          "Best L left empty")

    # A new athlete: refused by the station, nothing started.
    start("NEWBIE")
    msg = wait_for(lambda: "refused" in text("control-msg") and text("control-msg"), 20,
                   "the refusal")
    check(msg and "NEWBIE" in msg and "Best L" in msg and "nothing was started" in msg,
          "the page shows the station's refusal asking for the best: %r" % msg)
    time.sleep(1)
    check(text("state") == "idle" and daemon.ask({"cmd": "status"})["status"]["state"] == "idle",
          "nothing started for NEWBIE")

    # The athlete with earlier trials: the best from the index, shown.
    start("PAGE1")
    msg = wait_for(lambda: text("control-msg").startswith("Recording trial") and text("control-msg"),
                   20, "start reply")
    check(msg and want_text in msg, "the page shows where the best came from: %r, want %r"
          % (msg, want_text))
    trial_id = msg.split()[2].rstrip(".") if msg else ""
    time.sleep(2)
    driver.find_element(By.ID, "stop").click()
    wait_for(lambda: daemon.ask({"cmd": "status"})["status"]["state"] == "idle", 20, "stopped")
    files = glob.glob(data + "/PAGE1_*_%s.h5" % trial_id)
    check(len(files) == 1, "the session's file: %r" % files)
    if files:
        with h5py.File(files[0], "r") as f:
            a = f["sets"].attrs
            for leg, side in (("L", "left"), ("R", "right")):
                t = best[leg][0] * 80 / 100.0
                check(float(a["zone_%s_low_N" % side]) == t * (1.0 - 10 / 100.0) and
                      float(a["zone_%s_high_N" % side]) == t * (1.0 + 10 / 100.0),
                      "%s zone = 80 %% of the index best (default tolerance 10 %%)" % side)
            src = a["best_source"]
            src = src.decode() if isinstance(src, bytes) else str(src)
            check(src == want_text.replace("best from index: ", "index: "),
                  "best_source stored: %r" % src)
finally:
    driver.quit()
    check(station.stop() == 0, "station exits cleanly")
    check(daemon.stop() == 0, "nordicd exits cleanly")
finish("test_station_best_page")
