"""Data-directory trouble is reported when it happens (issue 17, point 9):
- idle: the data directory is removed -> status.last_error names it within a
  few seconds (before, only a later `start` found out);
- recording: the data directory is removed -> status.last_error and the log
  say so at once, while the trial still records (before: nothing until the
  stop failed to reopen the file);
- disk full (RLIMIT_FSIZE): after the write failure, status
  counters.file_sets_written never exceeds the rows the file really holds
  (read with h5py after `nordic-trial recover`); before, it counted rows
  still in the writer's buffers, about one flush more than the file."""
import os
import resource
import shutil
import subprocess
import tempfile
import time

import h5py

from daemon_harness import BUILD, Daemon, wait_for
from nordic_testlib import check, finish

TMP = tempfile.mkdtemp(prefix="storage-", dir=os.environ.get("TMPDIR"))
NORDIC_TRIAL = os.path.join(BUILD, "tools", "nordic-trial")


def last_error(d):
    return d.status().get("last_error") or ""


# --- idle: data directory removed --------------------------------------------
d = Daemon(os.path.join(TMP, "idle"), "sim:?rate=1000&reps=0")
try:
    check(last_error(d) == "", "no error at start: %r" % last_error(d))
    os.rmdir(d.data_dir)
    t0 = time.monotonic()
    got = wait_for(lambda: d.data_dir in last_error(d), 5)
    check(got, "idle: the removed data directory reaches status.last_error: %r" % last_error(d))
    check(time.monotonic() - t0 < 4, "idle: reported within seconds")
    check("No such file" in last_error(d), "idle: the reason is given: %r" % last_error(d))
    os.makedirs(d.data_dir)
    check(wait_for(lambda: "usable again" in d.text(), 5), "the recreated directory is noticed")
    r = d.ask({"cmd": "start", "athlete_id": "S1"})
    check(r["ok"], "a trial starts once the directory is back: %r" % r)
    d.ask({"cmd": "stop"})
finally:
    d.stop()

# --- recording: data directory removed ---------------------------------------
d = Daemon(os.path.join(TMP, "rec"), "sim:?rate=1000&reps=0")
try:
    r = d.ask({"cmd": "start", "athlete_id": "S2"})
    check(r["ok"], "trial starts: %r" % r)
    time.sleep(1.0)
    shutil.rmtree(d.data_dir)
    t0 = time.monotonic()
    got = wait_for(lambda: "removed while recording" in last_error(d), 5)
    check(got, "recording: the removal reaches status.last_error at once: %r" % last_error(d))
    check(time.monotonic() - t0 < 4, "recording: reported within seconds, not at stop")
    check(d.status()["state"] == "recording", "the trial still records (metrics go on)")
    check("removed while recording" in d.text(), "recording: the removal is in the log")
    stop = d.ask({"cmd": "stop"})
    check(not stop["ok"] and "removed" in stop.get("error", ""),
          "the stop says the file was removed: %r" % stop)
finally:
    d.stop()


# --- disk full: file_sets_written never above what the file holds ------------
def small_files():
    resource.setrlimit(resource.RLIMIT_FSIZE, (600000, 600000))


d = Daemon(os.path.join(TMP, "full"), "sim:?rate=5000&reps=0", args=["--log-level", "notice"],
           preexec_fn=small_files)
try:
    r = d.ask({"cmd": "start", "athlete_id": "S3"})
    check(r["ok"], "trial starts: %r" % r)
    check(wait_for(lambda: d.status()["counters"]["file_errors"] > 0, 30), "the disk fills up")
    time.sleep(0.5)
    written_during = d.status()["counters"]["file_sets_written"]
    stop = d.ask({"cmd": "stop"})
    check(not stop["ok"], "the stop reports the incomplete file: %r" % stop)
    counters = d.status()["counters"]
finally:
    d.stop()
path = r.get("file", "")
rr = subprocess.run([NORDIC_TRIAL, "recover", os.path.dirname(path)], capture_output=True, text=True,
                    timeout=60)
check(rr.returncode == 0, "recovery runs: %s" % rr.stderr[-300:])
with h5py.File(path, "r") as h:
    rows = len(h["samples/seq"])
check(rows > 1000, "the file holds the rows up to its last flush (%d)" % rows)
check(written_during <= rows, "after the failure, file_sets_written (%d) <= rows in the file (%d)"
      % (written_during, rows))
check(counters["file_sets_written"] <= rows, "after the stop, file_sets_written (%d) <= rows in the "
      "file (%d)" % (counters["file_sets_written"], rows))
check(counters["file_sets_written"] >= rows - 5000,
      "file_sets_written (%d) counts the flushed rows (file %d)" % (counters["file_sets_written"], rows))
check(counters["file_sets_lost"] > 0, "the rest is counted lost (%d)" % counters["file_sets_lost"])
finish("test_storage_errors")
