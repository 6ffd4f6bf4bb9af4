#!/usr/bin/python3
"""A planned session on the station page (issue 15) in a real browser (Debian
chromium headless + python3-selenium) against a real nordicd on sim: and
nordic-station. The page starts a 2x2 session with rest 4 s and a target zone,
shows "Set 1 of 2", the operator taps pain 1, presses Next set, the page shows
the rest countdown falling, pain 3 in set 2, stop; the page's sets table must
equal the file's /sets read with h5py (reps done, per-leg max to 0.1 N, pain)
and the tapped pains; every rep row shows its zone as the daemon's rule gives it
from the file's zone bounds. Then next-day pain 2 entered on the trial page must
be a `pain_next_day` event in the file."""
import glob
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import station_testlib as S  # noqa: E402
from nordic_testlib import check, finish  # noqa: E402

driver = S.chromium()  # the prerequisites first: nothing below runs without them
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
import h5py  # noqa: E402

REST_S = 4
# Empty hooks for 10 s (the tare), then a rep every ~8.5 s (6 s of quiet after
# each, longer than REST_S, so the whole countdown runs before the next rep).
SIM = ("sim:?rate=1000&reps=1000&unloaded=10&lead=1&rise=1&rest=6&var=2"
       "&peak_left=330&peak_right=300&seed=5")

tmp = tempfile.mkdtemp(prefix="station-sets-", dir=os.environ.get("TMPDIR"))
daemon = S.Daemon(tmp, SIM)
station = S.Station(tmp, [("board1", daemon)])


def viewport(w, h):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})


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


def page_sets():
    out = []
    for r in driver.find_elements(By.CSS_SELECTOR, "#set-rows tr[data-set]"):
        done, planned = r.find_element(By.CSS_SELECTOR, ".reps-done").text.split(" / ")
        pain = r.find_element(By.CSS_SELECTOR, ".set-pain").text
        out.append((int(r.get_attribute("data-set")), int(done), int(planned),
                    float(r.find_element(By.CSS_SELECTOR, ".max-left").text),
                    float(r.find_element(By.CSS_SELECTOR, ".max-right").text),
                    None if pain == "–" else int(pain.split("/")[0])))
    return out


def tap_pain(v):
    driver.find_element(By.CSS_SELECTOR, "#pain button[data-value='%d']" % v).click()
    wait_for(lambda: "Pain %d recorded" % v in text("control-msg"), 10, "pain %d acknowledged" % v)


daemon_rc = None
try:
    viewport(1280, 800)
    driver.get(station.url("/"))
    wait_for(lambda: text("state") == "idle", 30, "the page to show the idle daemon")
    driver.find_element(By.ID, "athlete-id").send_keys("SET01")
    driver.find_element(By.ID, "tare").click()
    wait_for(lambda: text("control-msg").startswith("Tared"), 20, "tare reply on the page")

    # The plan, typed and chosen with the keyboard only.
    proto = driver.find_element(By.ID, "protocol")
    proto.send_keys("2x2")
    proto.send_keys(Keys.TAB, Keys.TAB, str(REST_S))  # notes -> rest
    check(driver.switch_to.active_element.get_attribute("id") == "rest-s", "Tab reaches the rest field")
    driver.find_element(By.ID, "set-gap-s").send_keys("60")
    kind = driver.find_element(By.ID, "target-kind")
    kind.send_keys("N")  # "N per leg" chosen by typing
    check(driver.find_element(By.ID, "target-left").is_displayed(), "N targets shown for 'N per leg'")
    driver.find_element(By.ID, "target-left").send_keys("330")
    driver.find_element(By.ID, "target-right").send_keys("300")
    driver.find_element(By.ID, "tolerance").send_keys("2")  # narrow: the sim's spread crosses it

    # Bad plan input: a clear message, nothing sent.
    proto.clear()
    proto.send_keys("3 sets")
    # Start stays disabled for a moment after the tare reply: click it once it is enabled,
    # so that the refusal seen is the page's check of the protocol.
    wait_for(lambda: driver.find_element(By.ID, "start").is_enabled(), 10, "Start enabled")
    driver.find_element(By.ID, "start").click()
    check("Protocol" in text("control-msg") and text("state") == "idle",
          "a malformed protocol is refused on the page: %r" % text("control-msg"))
    proto.clear()
    proto.send_keys("2x2")

    wait_for(lambda: driver.find_element(By.ID, "start").is_enabled(), 10, "Start enabled")
    driver.find_element(By.ID, "start").click()
    wait_for(lambda: text("control-msg").startswith("Recording trial"), 20, "start reply")
    trial_id = text("control-msg").split()[2].rstrip(".")
    check(wait_for(lambda: text("set-pos").startswith("Set 1 of 2 · rep"), 10, "Set 1 of 2"),
          "the page shows set 1 of 2: %r" % text("set-pos"))

    wait_for(lambda: page_reps() >= 2, 60, "2 reps of set 1")
    check(wait_for(lambda: "rep 2 of 2" in text("set-pos"), 5, "rep 2 of 2"),
          "the page counts rep 2 of 2: %r" % text("set-pos"))
    tap_pain(1)
    # Keyboard: focus Next set and press Enter.
    nxt = driver.find_element(By.ID, "next-set")
    wait_for(lambda: nxt.is_enabled(), 5, "Next set enabled")
    nxt.send_keys(Keys.ENTER)
    wait_for(lambda: "ended" in text("control-msg"), 10, "the set command's reply")
    # The countdown: whole seconds left, falling, never above the planned rest.
    seen = []
    deadline = time.time() + REST_S + 6
    while time.time() < deadline:
        left = text("rest-left")  # read once: it may turn to "–" between two reads
        if driver.find_element(By.ID, "set-phase").get_attribute("data-phase") == "rest" and re.fullmatch(r"\d+", left):
            seen.append(int(left))
            if len(set(seen)) == 2 and seen[-1] != seen[-2]:  # mid-countdown
                driver.save_screenshot(os.path.join(S.artifacts_dir(), "station-sets-rest-1280x800.png"))
        elif seen:
            break
        time.sleep(0.2)
    print("countdown seen on the page:", sorted(set(seen), reverse=True))
    check(len(set(seen)) >= 2, "the rest countdown changes on the page: %s" % seen)
    check(seen == sorted(seen, reverse=True) and seen and 0 < seen[0] <= REST_S,
          "countdown falls from <= %d s: %s" % (REST_S, seen))
    viewport(768, 1024)
    time.sleep(0.5)
    check(driver.execute_script("return document.documentElement.scrollWidth") <= 768,
          "no horizontal scrolling at 768 px with the session panel")
    driver.execute_script("document.getElementById('card-session').scrollIntoView()")
    driver.save_screenshot(os.path.join(S.artifacts_dir(), "station-sets-768x1024.png"))
    viewport(1280, 800)

    wait_for(lambda: text("set-pos").startswith("Set 2 of 2"), 30, "set 2")
    wait_for(lambda: len(page_sets()) >= 1, 30, "set 1's row in the sets table (set topic)")
    wait_for(lambda: page_reps() >= 4, 60, "2 reps of set 2")
    tap_pain(3)
    zones = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#rep-rows tr[data-index] td.zone")]
    driver.find_element(By.ID, "stop").click()
    wait_for(lambda: len(page_sets()) == 2, 20, "both sets in the sets table")
    shown = page_sets()
    driver.execute_script("document.getElementById('card-session').scrollIntoView()")
    driver.save_screenshot(os.path.join(S.artifacts_dir(), "station-sets-1280x800.png"))

    files = glob.glob(os.path.join(daemon.data, "*%s*.h5" % trial_id))
    if not check(len(files) == 1, "one trial file for %s: %s" % (trial_id, files)):
        raise SystemExit(finish("test_station_sets"))
    with h5py.File(files[0], "r") as f:
        sets = f["sets"][:]
        reps = f["reps"][:]
        za = dict(f["sets"].attrs)
    check(len(shown) == len(sets) == 2, "page sets %d = file sets %d = 2" % (len(shown), len(sets)))
    for (idx, done, planned, ml, mr, pain), r in zip(shown, sets):
        check(idx == int(r["index"]) and done == int(r["reps_done"]) and planned == int(r["reps_planned"]),
              "set %d reps page %d/%d = file %d/%d" % (idx, done, planned, r["reps_done"], r["reps_planned"]))
        check(abs(ml - r["max_peak_left_N"]) <= 0.1 and abs(mr - r["max_peak_right_N"]) <= 0.1,
              "set %d max page %.1f/%.1f = file %.3f/%.3f" % (idx, ml, mr, r["max_peak_left_N"],
                                                            r["max_peak_right_N"]))
        fp = int(r["pain"])
        check(pain == (None if fp < 0 else fp), "set %d pain page %s = file %d" % (idx, pain, fp))
        # Independent of the daemon's set maths: the max of the file's own /reps in the set.
        own = [p for p in reps if r["i_start"] <= p["i_open"] and p["i_end"] <= r["i_end"]]
        check(len(own) == done and abs(max(p["peak_left_N"] for p in own) - ml) <= 0.1,
              "set %d: %d reps in /reps, their max left = page %.1f" % (idx, len(own), ml))
    check([s[1] for s in shown] == [2, 2], "2 reps done in each set: %s" % shown)
    check([s[5] for s in shown] == [1, 3], "the pains tapped per set (1, 3): %s" % shown)
    # Zone per rep by METRICS.md 5.4 from the file's bounds (L 323.4-336.6, R 294-306).
    want = []
    for p in reps:
        legs = []
        for side in ("left", "right"):
            lo, hi = za["zone_%s_low_N" % side], za["zone_%s_high_N" % side]
            v = p["peak_%s_N" % side]
            legs.append("below" if v < lo else "above" if v > hi else "in")
        want.append("below" if "below" in legs else "above" if "above" in legs else "in")
    print("rep zones on the page:", zones)
    check(zones == want, "rep zones on the page %s = rule on the file %s" % (zones, want))

    # Next-day pain from the trial page (needs the trial index for the page).
    driver.get(station.url("/trial.html?id=" + trial_id))
    shown_card = wait_for(lambda: driver.find_element(By.ID, "ndp-value").is_displayed(), 30,
                          "the next-day pain control on the trial page")
    if check(bool(shown_card), "trial page shows the next-day pain control"):
        val = driver.find_element(By.ID, "ndp-value")
        val.send_keys("11")
        driver.find_element(By.ID, "ndp-send").click()
        check("0 to 10" in text("ndp-msg"), "out-of-range pain refused on the page: %r" % text("ndp-msg"))
        val.clear()
        val.send_keys("2")
        driver.find_element(By.ID, "ndp-note").send_keys("stiff in the morning")
        val.send_keys(Keys.ENTER)
        wait_for(lambda: "saved" in text("ndp-msg") or "Refused" in text("ndp-msg"), 20,
                 "the next_day_pain reply")
        check("saved" in text("ndp-msg"), "next-day pain saved: %r" % text("ndp-msg"))
        driver.save_screenshot(os.path.join(S.artifacts_dir(), "trial-next-day-pain-1280x800.png"))
        with h5py.File(files[0], "r") as f:
            ev = [(e["kind"].decode().rstrip("\0"), e["detail"].decode().rstrip("\0"))
                  for e in f["events"][:]]
        nd = [d for k, d in ev if k == "pain_next_day"]
        check(len(nd) == 1 and nd[0].startswith("2/10;") and nd[0].endswith("; stiff in the morning"),
              "pain_next_day event in the file: %s" % nd)
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    check(not severe, "no console errors: %s" % severe[:3])
finally:
    driver.quit()
    check(station.stop() == 0, "station exits cleanly")
    check((daemon_rc if daemon_rc is not None else daemon.stop()) == 0, "nordicd exits cleanly")
finish("test_station_sets")
