#!/usr/bin/env python3
"""First ingest of the corpus with two builds of vrift, alternated, each run beside its
own yardstick (b3sum -P2 + cp -al / cp -as), clean protocol as in run.py.

    python3 bench/ab_first_ingest.py OLD_BUILD_DIR NEW_BUILD_DIR [RUNS [FIGURE,...]]

FIGURE is one of solid-t2, phantom, solid-t1 (default: all three).

A build dir is what `cmake -DCMAKE_BUILD_TYPE=Release` + `ninja vrift` makes (for
example a `git worktree` of the commit to compare, built into its build-release/)."""
import argparse
import os
import statistics
import sys
import tempfile

import run

FIGURES = [("solid-t2", ["--solid"], 2, "-al"), ("phantom", ["--phantom"], None, "-al"),
           ("solid-t1", ["--solid"], None, "-as")]


def main():
    builds = {"old": sys.argv[1], "new": sys.argv[2]}
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    wanted = sys.argv[4].split(",") if len(sys.argv) > 4 else [f[0] for f in FIGURES]
    figures = [f for f in FIGURES if f[0] in wanted]
    args = argparse.Namespace(smoke=False, runs=1)
    results = {(b, f[0]): [] for b in builds for f in figures}
    os.makedirs(run.WORK, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ab", dir=run.WORK) as work:
        for rep in range(runs):
            for b in (["old", "new"] if rep % 2 == 0 else ["new", "old"]):
                run.BUILD = builds[b]
                for label, extra, rule, cp_flag in figures:
                    v, y = run.fig_first_ingest(args, work, f"{b}-{label}-{rep}", extra, rule, "symlink", cp_flag)
                    results[(b, label)].append((v.median, y.median))
                    print(f"{b} {label}: {v.median * 1000:.0f} ms, yardstick {y.median * 1000:.0f} ms", flush=True)
        run.remove(work)
        os.makedirs(work)
    for label, *_ in figures:
        for b in builds:
            r = results[(b, label)]
            print(f"{label} {b}: median {statistics.median(x[0] for x in r) * 1000:.0f} ms, "
                  f"ratio to yardstick {statistics.median(x[0] / x[1] for x in r):.2f}")


if __name__ == "__main__":
    main()
