#!/usr/bin/env python3
"""vrift's benchmark harness: every figure beside its yardstick, measured in the same run.

    python3 bench/run.py              # full run (Release build, >= 5 runs per figure)
    python3 bench/run.py --smoke      # tiny inputs, one run each: proves the harness works
    python3 bench/run.py --only hash  # figures whose name contains "hash"

Prints a Markdown table: median (min-max) for vrift and for the yardstick, and their
ratio. Runs that create many files follow the clean protocol first (rm -rf, sync, drop
the page cache, re-read the source) so ext4's create trap does not skew them.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-release")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def build():
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        sh(["cmake", "-S", ROOT, "-B", BUILD, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
            "-DVRIFT_TESTS=OFF"], stdout=subprocess.DEVNULL)
    sh(["ninja", "-C", BUILD, "-j2"], stdout=subprocess.DEVNULL)


def clean_state(target, *sources):
    """The clean protocol: remove target, sync, drop caches, re-read the sources."""
    if target and os.path.lexists(target):
        sh(["chattr", "-R", "-i", target], stderr=subprocess.DEVNULL, check=False) \
            if shutil.which("chattr") else None
        sh(["rm", "-rf", target])
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
    except OSError:
        print("bench: cannot drop caches (not root): figures may drift", file=sys.stderr)
    for src in sources:
        sh(f"find '{src}' -type f -print0 | xargs -0 -r cat > /dev/null")


def timed(cmd, prepare=None, env=None):
    """Seconds one run of `cmd` takes (after `prepare`, which is not timed)."""
    if prepare:
        prepare()
    start = time.perf_counter()
    subprocess.run(cmd, shell=isinstance(cmd, str), check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


class Stat:
    def __init__(self, samples):
        self.samples = samples
        self.median = statistics.median(samples)

    def show(self, unit="s"):
        if unit == "GB/s":
            return f"{self.median:.2f} ({min(self.samples):.2f}-{max(self.samples):.2f}) GB/s"
        return f"{self.median * 1000:.0f} ({min(self.samples) * 1000:.0f}-{max(self.samples) * 1000:.0f}) ms"


def alternate(runs, a, b):
    """Runs the two measurements interleaved, so drift hits both alike."""
    xs, ys = [], []
    for _ in range(runs):
        xs.append(a())
        ys.append(b())
    return Stat(xs), Stat(ys)


# ------------------------------------------------------------------------------------
# Figures. Each returns rows: (figure, vrift, yardstick, ratio text, target).

def fig_hash(args, work):
    size = (8 << 20) if args.smoke else (1 << 30)
    path = os.path.join(work, "hash.bin")
    with open(path, "wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))
    sh(["cat", path], stdout=subprocess.DEVNULL)  # warm
    vrift = os.path.join(BUILD, "vrift")
    t_v, t_b = alternate(args.runs,
                         lambda: timed([vrift, "hash", path]),
                         lambda: timed(["b3sum", "--num-threads", "1", path]))
    gb = size / 1e9
    v = Stat([gb / s for s in t_v.samples])
    b = Stat([gb / s for s in t_b.samples])
    return [(f"BLAKE3, {size >> 20} MiB file, one thread", v.show("GB/s"), "b3sum --num-threads 1: " + b.show("GB/s"),
             f"{v.median / b.median:.2f}x throughput", ">= 0.95x")]


FIGURES = [("hash", fig_hash)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="tiny inputs, one run each")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    if args.smoke:
        args.runs = 1
    build()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vrift-bench-") as work:
        for name, fig in FIGURES:
            if args.only and args.only not in name:
                continue
            print(f"bench: {name} ...", file=sys.stderr)
            rows += fig(args, work)
    print(f"| figure | vrift | yardstick | ratio | target |")
    print(f"|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
