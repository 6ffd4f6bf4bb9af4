#!/usr/bin/python3
"""An isometric test on the station page (METRICS.md 5.7) in a real browser
(Debian chromium headless + python3-selenium) against a real nordicd on sim:
and nordic-station. The operator enters knee angle 95 (refused by the
daemon, its reason on the page, nothing recorded), then 30 with protocol
2x1 and starts; the session card counts holds at 30°; after the first hold
the operator types 60 beside Next set and presses it; the card shows 60°;
after the second hold, stop. The page's set rows must show the angles, and
the file's /sets (h5py) must hold 30 and 60 with test `isometric`."""
import glob
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import station_testlib as S  # noqa: E402
from nordic_testlib import check, finish  # noqa: E402

driver = S.chromium()  # the prerequisites first: nothing below runs without them
from selenium.webdriver.common.by import By  # noqa: E402
import h5py  # noqa: E402

# Empty hooks for 3 s (the tare), then a hold every ~4 s.
SIM = ("sim:?rate=500&reps=1000&unloaded=3&lead=1&rise=1&rest=2&var=2"
       "&peak_left=330&peak_right=300&seed=9")

tmp = tempfile.mkdtemp(prefix="station-iso-", dir=os.environ.get("TMPDIR"))
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


def page_reps():
    return len(driver.find_elements(By.CSS_SELECTOR, "#rep-rows tr[data-index]"))


try:
    driver.get(station.url("/"))
    wait_for(lambda: text("state") == "idle", 30, "the page to show the idle daemon")
    driver.find_element(By.ID, "athlete-id").send_keys("ISO01")
    time.sleep(0.5)
    driver.find_element(By.ID, "tare").click()
    wait_for(lambda: text("control-msg").startswith("Tared"), 20, "tare reply on the page")
    driver.find_element(By.ID, "protocol").send_keys("2x1")
    angle = driver.find_element(By.ID, "iso-angle")
    check(not driver.find_element(By.ID, "next-angle-box").is_displayed(), "no next-angle control before a test")

    # Out of range: the daemon's reason on the page, nothing recorded.
    angle.send_keys("95")
    wait_for(lambda: driver.find_element(By.ID, "start").is_enabled(), 10, "Start enabled")
    driver.find_element(By.ID, "start").click()
    wait_for(lambda: "refused" in text("control-msg"), 20, "the start refusal")
    check("angle_deg" in text("control-msg") and "[0, 90]" in text("control-msg") and text("state") == "idle",
          "angle 95 refused with its reason: %r" % text("control-msg"))
    angle.clear()
    angle.send_keys("30")
    wait_for(lambda: driver.find_element(By.ID, "start").is_enabled(), 10, "Start enabled")
    driver.find_element(By.ID, "start").click()
    wait_for(lambda: text("control-msg").startswith("Recording trial"), 20, "start reply")
    trial_id = text("control-msg").split()[2].rstrip(".")
    check(wait_for(lambda: "hold 0 of 1" in text("set-pos") and "30°" in text("set-pos"), 10, "holds at 30°"),
          "the card counts holds at 30°: %r" % text("set-pos"))
    check(driver.find_element(By.ID, "next-angle-box").is_displayed(), "next-angle control shown in a test")

    wait_for(lambda: page_reps() >= 1, 30, "the first hold")
    driver.find_element(By.ID, "next-angle").send_keys("60")
    nxt = driver.find_element(By.ID, "next-set")
    wait_for(lambda: nxt.is_enabled(), 5, "Next set enabled")
    nxt.click()
    wait_for(lambda: "ended" in text("control-msg"), 10, "the set command's reply")
    check("60°" in text("control-msg"), "reply names the next angle: %r" % text("control-msg"))
    check(wait_for(lambda: "60°" in text("set-pos") and text("set-pos").startswith("Set 2 of 2"), 10, "60°"),
          "the card shows set 2 at 60°: %r" % text("set-pos"))
    wait_for(lambda: page_reps() >= 2, 30, "the second hold")
    driver.find_element(By.ID, "stop").click()
    rows = wait_for(lambda: [r.find_element(By.CSS_SELECTOR, "td").text
                             for r in driver.find_elements(By.CSS_SELECTOR, "#set-rows tr[data-set]")]
                    if len(driver.find_elements(By.CSS_SELECTOR, "#set-rows tr[data-set]")) == 2 else None,
                    20, "both sets in the sets table")
    check(rows == ["1 30°", "2 60°"], "set rows show the angles: %s" % rows)
    driver.save_screenshot(os.path.join(S.artifacts_dir(), "station-isometric-1280x800.png"))

    files = glob.glob(os.path.join(daemon.data, "*%s*.h5" % trial_id))
    if check(len(files) == 1, "one trial file for %s: %s" % (trial_id, files)):
        with h5py.File(files[0], "r") as f:
            sets = f["sets"][:]
            test = {v: k for k, v in h5py.check_enum_dtype(sets.dtype["test"]).items()}
            check([float(x["angle_deg"]) for x in sets] == [30.0, 60.0]
                  and all(test[x["test"]] == "isometric" for x in sets)
                  and f["sets"].attrs["test"] == "isometric",
                  "file /sets angles and test: %s" % [(x["angle_deg"], x["test"]) for x in sets])
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    check(not severe, "no console errors: %s" % severe[:3])
finally:
    driver.quit()
    check(station.stop() == 0, "station exits cleanly")
    check(daemon.stop() == 0, "nordicd exits cleanly")
finish("test_station_isometric")
