#!/usr/bin/python3
"""Mutation check: does the test suite catch behaviour-breaking edits?

Applies each mutation below to the source tree one at a time (files found by
basename with `git ls-files`, so it survives files moving into subfolders),
rebuilds only the targets its tests need in one build directory, runs those
tests with ctest, restores the file and prints a table. A mutation counts as
caught when a named test fails; a mutation that does not apply or does not
build is reported as such (never as caught). For the rep-detector mutations
the table also counts the hand-made cases of test_rep_detector that fail
("case NAME: FAILED"), which must be at least two.

Not part of CI (it rebuilds many times). Usage, from the repository root:
  tools/mutation-check.py [--build-dir build] [--jobs 2] [--only NAME,...]
Exit status 0 only when every mutation is caught (and the per-case minimum
holds).
"""
import argparse
import os
import re
import subprocess
import sys

# name, file basename, exact text, replacement, build targets, ctest regex,
# minimum failing hand-made cases in test_rep_detector (0 = not counted).
MUTATIONS = [
    ("asymmetry-sign", "nd_metrics.c",
     "return 100.0 * (left - right) / mx;", "return 100.0 * (right - left) / mx;",
     ["test_metrics", "test_metrics_offline"], "^(test_metrics|test_metrics_offline)$", 0),
    ("rep-end-boundary-inclusive-off", "nd_rep_detector.h",
     "if (total_N >= d->off_N) {", "if (total_N > d->off_N) {",
     ["test_rep_detector", "test_metrics"], "^(test_rep_detector|test_metrics)$", 2),
    ("rep-end-index", "nd_rep_detector.h",
     "d->i_end = d->dip_start;", "d->i_end = i;",
     ["test_rep_detector", "test_metrics"], "^(test_rep_detector|test_metrics)$", 2),
    ("hold-length-plus-one", "nd_rep_detector.h",
     "if (d->dip_len < d->hold_n) return", "if (d->dip_len <= d->hold_n) return",
     ["test_rep_detector", "test_metrics"], "^(test_rep_detector|test_metrics)$", 2),
    ("hold-length-minus-one", "nd_rep_detector.h",
     "if (d->dip_len < d->hold_n) return", "if (d->dip_len + 1 < d->hold_n) return",
     ["test_rep_detector", "test_metrics"], "^(test_rep_detector|test_metrics)$", 2),
    ("crc-check", "nd_nfp_decoder.c",
     "if (nd_crc16(st->body, len - 2) != get_u16(st->body + len - 2)) {", "if (0) {",
     ["test_nfp", "test_serial_golden"], "^(test_nfp|test_serial_golden)$", 0),
    ("lossless-ring-guard", "nd_ring.c",
     "if (free_slots < want) want = (size_t)free_slots;", "(void)free_slots;",
     ["test_ring"], "^test_ring$", 0),
    ("flush-hands-no-rows", "nd_trial_file.c",
     "    if (write_buffer(tf, err, errlen) < 0) return -1;\n    for (int i = 0; i < D_COUNT",
     "    for (int i = 0; i < D_COUNT",
     ["nordic-test-trial-writer", "nordic-trial", "nordicd"],
     "^py_test_(trial|daemon)_crash$", 0),
    ("curve-requirement", "nd_zsec.c",
     "    case ND_EP_REMOTE:\n        break;", "    case ND_EP_REMOTE:\n        return 0;",
     ["test_zsec"], "^test_zsec$", 0),
    ("calibration-slope", "nd_calibration.c",
     "double gain = mass_kg * ND_G / delta;", "double gain = mass_kg / delta;",
     ["test_calibration"], "^test_calibration$", 0),
]


def locate(basename):
    files = subprocess.run(["git", "ls-files"], capture_output=True, text=True,
                           check=True).stdout.split("\n")
    hits = [f for f in files if os.path.basename(f) == basename]
    if len(hits) != 1:
        raise RuntimeError("%s: %d files by that name in git ls-files" % (basename, len(hits)))
    return hits[0]


def run(cmd, timeout):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        return -1, "timeout after %d s: %s" % (timeout, e)


def build(build_dir, targets, jobs):
    return run(["cmake", "--build", build_dir, "-j%d" % jobs, "--target"] + targets, 1800)


def check_one(m, args):
    name, base, old, new, targets, regex, min_cases = m
    path = locate(base)
    original = open(path).read()
    if original.count(old) != 1:
        return dict(name=name, file=path, result="NOT APPLIED (text found %d times)"
                    % original.count(old), caught=False)
    try:
        with open(path, "w") as f:
            f.write(original.replace(old, new))
        rc, out = build(args.build_dir, targets, args.jobs)
        if rc != 0:
            return dict(name=name, file=path, result="BUILD FAILED", caught=False,
                        detail=out[-800:])
        rc, out = run(["ctest", "--test-dir", args.build_dir, "-R", regex, "--output-on-failure",
                       "--timeout", "600"], 1800)
        tail = out.split("The following tests FAILED:")[-1] if "tests FAILED" in out else ""
        failed = sorted(set(re.findall(r"^\s*\d+ - (\S+) \(", tail, re.M)))
        cases = sorted(set(re.findall(r"case (\w+): FAILED", out)))
        caught = rc != 0 and bool(failed)
        ok = caught and len(cases) >= min_cases
        result = "caught" if ok else ("caught, but only %d hand-made case(s)" % len(cases)
                                      if caught else "NOT CAUGHT")
        return dict(name=name, file=path, result=result, caught=ok, failed=failed, cases=cases,
                    min_cases=min_cases)
    finally:
        with open(path, "w") as f:
            f.write(original)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    if subprocess.run(["git", "diff", "--quiet"]).returncode != 0:
        sys.exit("mutation-check: the work tree has uncommitted changes; commit or stash first")
    only = set(filter(None, args.only.split(",")))
    rows = []
    try:
        for m in MUTATIONS:
            if only and m[0] not in only:
                continue
            print("== %s (%s)" % (m[0], m[1]), flush=True)
            r = check_one(m, args)
            print("   %s %s %s" % (r["result"], " ".join(r.get("failed", [])),
                                   " ".join(r.get("cases", []))), flush=True)
            rows.append(r)
    finally:
        # Every file is restored; rebuild so the tree's binaries match the source.
        targets = sorted({t for m in MUTATIONS for t in m[4]})
        build(args.build_dir, targets, args.jobs)
    print()
    print("| mutation | file | result | failing tests | failing hand-made cases |")
    print("|---|---|---|---|---|")
    for r in rows:
        cases = r.get("cases", [])
        print("| %s | %s | %s | %s | %s |" % (
            r["name"], r["file"], r["result"], ", ".join(r.get("failed", [])) or "-",
            ("%d: %s" % (len(cases), ", ".join(cases))) if r.get("min_cases") else "-"))
    missed = [r["name"] for r in rows if not r["caught"]]
    print("\n%d mutations, %d caught%s" % (len(rows), len(rows) - len(missed),
                                          (", missed: " + ", ".join(missed)) if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
