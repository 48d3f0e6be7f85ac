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
import contextlib
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-release")
WORK = os.environ.get("VRIFT_BENCH_DIR", "/var/tmp/vrift-bench")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def build():
    global BUILD
    if os.environ.get("VRIFT_BUILD"):
        BUILD = os.environ["VRIFT_BUILD"]  # use an existing build (the CI smoke run)
        return
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        sh(["cmake", "-S", ROOT, "-B", BUILD, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
            "-DVRIFT_TESTS=OFF"], stdout=subprocess.DEVNULL)
    sh(["ninja", "-C", BUILD, "-j2"], stdout=subprocess.DEVNULL)


def remove(path):
    if os.path.lexists(path):
        subprocess.run(["chattr", "-R", "-i", path], stderr=subprocess.DEVNULL, check=False)
        sh(["rm", "-rf", path])


def clean_state(target, *sources):
    """The clean protocol: remove target, sync, drop caches, re-read the sources."""
    if target:
        remove(target)
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
    except OSError:
        print("bench: cannot drop caches (not root): figures may drift", file=sys.stderr)
    for src in sources:
        sh(f"find '{src}' -type f -print0 | xargs -0 -r cat > /dev/null")
        sh(f"find '{src}' -printf '' > /dev/null")


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


def ensure_corpus(args):
    """The reference node_modules (bench/corpus), or a small generated tree in smoke mode."""
    if args.smoke:
        corpus = os.path.join(WORK, "smoke-corpus")
        if not os.path.exists(os.path.join(corpus, "node_modules")):
            for i in range(400):
                d = os.path.join(corpus, "node_modules", f"pkg{i % 20}", "lib")
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, f"m{i}.js"), "w") as f:
                    f.write(f"module.exports = {i % 300};\n" * (1 + i % 40))
        return corpus
    corpus = os.path.join(WORK, "corpus")
    if not os.path.exists(os.path.join(corpus, "node_modules", ".package-lock.json")):
        os.makedirs(corpus, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(ROOT, "bench", "corpus", name), corpus)
        print("bench: installing the corpus (npm ci --ignore-scripts) ...", file=sys.stderr)
        sh(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], cwd=corpus,
           stdout=subprocess.DEVNULL)
    return corpus


def ensure_artifacts(args):
    """A generated tree of large build artifacts: a few hundred files of 1-50 MiB
    (log-uniform sizes, incompressible like object files and archives), under `target/`.
    The same tree every time (seeded); a few files in smoke mode."""
    import random
    count, top = (6, 2) if args.smoke else (240, 50)
    corpus = os.path.join(WORK, "smoke-artifacts" if args.smoke else "artifacts")
    done = os.path.join(corpus, ".complete")
    if os.path.exists(done):
        return corpus
    remove(corpus)
    print(f"bench: generating {count} large artifacts ...", file=sys.stderr)
    rng = random.Random(7)
    for i in range(count):
        kind = ("deps", ".rlib") if i % 3 else ("build", ".o")
        d = os.path.join(corpus, "target", "release", kind[0], f"crate{i % 12}")
        os.makedirs(d, exist_ok=True)
        size = int(2 ** rng.uniform(0, __import__("math").log2(top)) * (1 << 20))
        with open(os.path.join(d, f"artifact{i}{kind[1]}"), "wb") as f:
            for off in range(0, size, 1 << 20):
                f.write(os.urandom(min(1 << 20, size - off)))
    open(done, "w").close()
    return corpus


def new_project(corpus, path, tier_rule=None, tier1_link="symlink", tree="node_modules", phantom_dirs=None):
    """A copy of the corpus as a vrift project (not timed). tier_rule: make every path
    that tier instead of using the default rules. phantom_dirs: [phantom] directories
    (None: the default)."""
    os.makedirs(path, exist_ok=True)
    sh(["cp", "-a", os.path.join(corpus, tree), os.path.join(path, tree)])
    # init registers the project with a Source: a scratch one here, so the bench never
    # leaves entries for its deleted projects in the user's (each ingest names its own).
    sh([os.path.join(BUILD, "vrift"), "--cas-root", os.path.join(WORK, "init-cas"), "-C", path, "init", "-q"])
    cfg = os.path.join(path, ".vrift", "config.toml")
    text = open(cfg).read().replace('link = "symlink"', f'link = "{tier1_link}"')
    if phantom_dirs is not None:
        text = re.sub(r'(?m)^directories = "[a-z0-9]+"$', f'directories = "{phantom_dirs}"', text)
    if tier_rule is not None:
        text = text[:text.index("[[rule]]")] + f'[[rule]]\npattern = "**"\ntier = {tier_rule}\n'
    open(cfg, "w").write(text)


def b3sum_cmd(tree, procs=2):
    return f"find '{tree}' -type f -print0 | xargs -0 -P{procs} -n 1000 b3sum > /dev/null"


_cas_roots = itertools.count()


def cas_root(work):
    """A fresh Source under `work`, its path as long as a user's default one
    (~/.vrift/the_source is 29-35 bytes): Tier-1 symlinks fit in their inode only when
    the root leaves room for a short name (src/cas/layout.hpp)."""
    return os.path.join(work, f"c{next(_cas_roots)}")


def ingest_cmd(project, cas, *extra):
    return [os.path.join(BUILD, "vrift"), "-C", project, "--cas-root", cas, "ingest", "-q", *extra]


def fig_first_ingest(args, work, label, extra, tier_rule, link_kind, cp_flag, corpus=None, tree="node_modules",
                     phantom_dirs=None, free_out=None):
    corpus = corpus or ensure_corpus(args)
    nm = os.path.join(corpus, tree)
    t_v, t_y, t_free = [], [], []
    for run in range(args.runs):
        project = os.path.join(work, f"{label}-p{run}")
        cas = cas_root(work)
        farm = os.path.join(work, f"{label}-farm{run}")
        new_project(corpus, project, tier_rule, link_kind, tree, phantom_dirs)
        clean_state(None, project)
        t_v.append(timed(ingest_cmd(project, cas, *extra)))
        t_free.append(wait_for_trash(project))  # after ingest returned: not part of the figure, nor of the yardstick's
        clean_state(None, nm)
        t_b = timed(b3sum_cmd(nm))
        t_c = timed(["cp", cp_flag, nm, farm])
        t_y.append(t_b + t_c)
        for path in (project, cas, farm):
            remove(path)
    v, y = Stat(t_v), Stat(t_y)
    if free_out is not None:
        free_out.append(Stat(t_free))
    return v, y


def fig_ingest(args, work):
    rows = []
    for label, extra, rule, link, cp_flag, what, dirs in [
        ("solid-t2", ["--solid"], 2, "symlink", "-al", "Solid Tier-2 (hardlinks)", None),
        ("phantom", ["--phantom"], None, "symlink", "-al", "Phantom (the dependencies' directories virtual)", None),
        ("phantom-pd", ["--phantom"], None, "symlink", "-al", "Phantom, physical directories", "physical"),
        ("solid-t1", ["--solid"], None, "symlink", "-as", "Solid Tier-1 (symlinks)", None),
    ]:
        freed = []
        v, y = fig_first_ingest(args, work, label, extra, rule, link, cp_flag, phantom_dirs=dirs, free_out=freed)
        rows.append((f"first ingest, {what}, corpus", v.show(),
                     f"b3sum -P2 + cp {cp_flag}: {y.show()}", f"{v.median / y.median:.2f}x", "<= 1.3x"))
        rows += trash_row(freed[0])
    artifacts = ensure_artifacts(args)
    for label, extra, what in [("art-t2", ["--solid"], "Solid Tier-2 (hardlinks)"), ("art-ph", ["--phantom"], "Phantom")]:
        freed = []
        v, y = fig_first_ingest(args, work, label, extra, None, "symlink", "-al", artifacts, "target", free_out=freed)
        rows.append((f"first ingest, {what}, large artifacts", v.show(),
                     f"b3sum -P2 + cp -al: {y.show()}", f"{v.median / y.median:.2f}x", "<= 1.3x"))
        rows += trash_row(freed[0])
    return rows


def trash_row(freed):
    """The background emptying of the trash after ingest returned, where there was one."""
    if max(freed.samples) < 0.001:
        return []
    return [("  then freed in the background (duplicates within the tree)", freed.show(), "", "", "")]


def fig_reingest(args, work):
    corpus = ensure_corpus(args)
    project = os.path.join(work, "re-p")
    cas = cas_root(work)
    new_project(corpus, project)
    sh(ingest_cmd(project, cas))
    v, y = alternate(args.runs, lambda: timed(ingest_cmd(project, cas)),
                     lambda: timed(f"find '{project}/node_modules' -printf '%s %T@\\n' > /dev/null"))
    remove(project)
    remove(cas)
    return [("re-ingest, nothing changed, corpus", v.show(), "find -printf '%s %T@': " + y.show(),
             f"{v.median / y.median:.2f}x", "<= 2x")]


def wait_for_trash(project):
    """Seconds until the background process has freed the duplicates ingest replaced."""
    start = time.perf_counter()
    while os.path.exists(os.path.join(project, ".vrift", "trash")):
        time.sleep(0.05)
    return time.perf_counter() - start


def ensure_pnpm(args):
    """pnpm (installed into the bench directory) and a project of the corpus's
    dependencies whose store is warm; None in smoke mode or without npm."""
    if args.smoke or shutil.which("npm") is None:
        return None
    tool = os.path.join(WORK, "pnpm-tool")
    pnpm = os.path.join(tool, "node_modules", ".bin", "pnpm")
    proj = os.path.join(WORK, "pnpm-proj")
    store = os.path.join(WORK, "pnpm-store")
    if not os.path.exists(pnpm):
        print("bench: installing pnpm 9 ...", file=sys.stderr)
        sh(["npm", "install", "--prefix", tool, "pnpm@9", "--no-audit", "--no-fund", "--loglevel=error"],
           stdout=subprocess.DEVNULL)
    if not os.path.exists(os.path.join(proj, "pnpm-lock.yaml")):
        os.makedirs(proj, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(ROOT, "bench", "corpus", name), proj)
        sh([pnpm, "import"], cwd=proj, stdout=subprocess.DEVNULL)  # the same versions, as a pnpm lockfile
        sh([pnpm, "install", "--frozen-lockfile", "--ignore-scripts", "--store-dir", store], cwd=proj,
           stdout=subprocess.DEVNULL)
    return [pnpm, "install", "--offline", "--frozen-lockfile", "--ignore-scripts", "--store-dir", store], proj


def fig_second(args, work):
    """A second project with the same tree (every blob already in The Source), beside the
    first ingest of the same tree in the same run, and beside pnpm installing the same
    dependencies offline from its warm store."""
    corpus = ensure_corpus(args)
    pnpm = ensure_pnpm(args)
    t_first, t_second, t_free, t_pnpm = [], [], [], []
    for run in range(args.runs):
        cas = cas_root(work)
        first = os.path.join(work, f"second-first{run}")
        second = os.path.join(work, f"second-p{run}")
        new_project(corpus, first)
        new_project(corpus, second)
        clean_state(None, first)
        t_first.append(timed(ingest_cmd(first, cas)))
        clean_state(None, second)
        t_second.append(timed(ingest_cmd(second, cas)))
        t_free.append(wait_for_trash(second))  # not part of the figure: after ingest returned
        if pnpm:
            cmd, proj = pnpm
            remove(os.path.join(proj, "node_modules"))
            clean_state(None, os.path.join(WORK, "pnpm-store"))
            start = time.perf_counter()
            sh(cmd, cwd=proj, stdout=subprocess.DEVNULL)
            t_pnpm.append(time.perf_counter() - start)
        for path in (first, second, cas):
            remove(path)
    s1, s2, sf = Stat(t_first), Stat(t_second), Stat(t_free)
    rows = [("ingest of a second project, same tree (all blobs present), corpus", s2.show(),
             f"first ingest of the same tree, same run: {s1.show()}", f"{s2.median / s1.median:.2f}x", "<= 1.5x"),
            ("  then freed in the background (duplicates it replaced)", sf.show(), "", "", "")]
    if pnpm:
        sp = Stat(t_pnpm)
        rows.append(("ingest of a second project, same tree", s2.show(),
                     f"pnpm install --offline, warm store: {sp.show()}", f"{s2.median / sp.median:.2f}x", "< 1x"))
    return rows


def cold_rows(args, work, corpus, variants, where=""):
    """Cold first ingest (drop_caches 3) beside cold b3sum with 16 readers, for each
    (label, ingest flags, tier rule, description) in variants."""
    nm = os.path.join(corpus, "node_modules")
    rows = []
    for label, extra, rule, what in variants:
        t_v, t_y = [], []
        for run in range(args.runs):
            project = os.path.join(work, f"{label}-p{run}")
            cas = cas_root(work)
            new_project(corpus, project, rule)
            os.sync()
            open("/proc/sys/vm/drop_caches", "w").write("3\n")
            t_v.append(timed(ingest_cmd(project, cas, *extra)))
            os.sync()
            open("/proc/sys/vm/drop_caches", "w").write("3\n")
            t_y.append(timed(b3sum_cmd(nm, 16).replace("-n 1000", "-n 100")))
            remove(project)
            remove(cas)
        v, y = Stat(t_v), Stat(t_y)
        rows.append((f"cold first ingest (drop_caches 3), {what}{where}", v.show(), "cold b3sum, 16 readers: " + y.show(),
                     f"{v.median / y.median:.2f}x", "<= 1.5x"))
    return rows


def fig_cold(args, work):
    """How well ingest keeps reads in flight: in the main modes (Tier-2, Phantom), and with
    the default tiers, whose Tier-1 symlinks add ~30,000 inode creations to the work."""
    return cold_rows(args, work, ensure_corpus(args),
                     [("cold-t2", ["--solid"], 2, "Solid Tier-2"),
                      ("cold-ph", ["--phantom"], None, "Phantom"),
                      ("cold-def", ["--solid"], None, "Solid, default tiers (Tier-1 symlinks)")])


@contextlib.contextmanager
def journaled_ext4(work, gib):
    """A fresh ext4 with a journal (the usual kind; this machine's own has none, which is
    what arms the create trap), in a sparse image file, loop-mounted while in use."""
    img = os.path.join(work, "journaled.img")
    mnt = os.path.join(work, "j")
    os.makedirs(mnt)
    with open(img, "wb") as f:
        f.truncate(gib << 30)
    sh(["mkfs.ext4", "-q", "-F", "-O", "has_journal", img])
    sh(["mount", "-o", "loop", img, mnt])
    try:
        yield mnt
    finally:
        sh(["umount", "--lazy", mnt])  # a detached trash emptier may still be inside
        os.remove(img)
        os.rmdir(mnt)


def fig_journaled(args, work):
    """The figures the create trap skews (Tier-1 first ingest, cold ingest with the default
    tiers), again on a journaled ext4, where ext4 never scans recently freed inodes: the
    corpus, the projects, The Source and the yardsticks' outputs all live on it."""
    corpus = ensure_corpus(args)
    with journaled_ext4(work, 1 if args.smoke else 4) as fs:
        local = os.path.join(fs, "corpus")
        os.makedirs(local)
        sh(["cp", "-a", os.path.join(corpus, "node_modules"), os.path.join(local, "node_modules")])
        v, y = fig_first_ingest(args, fs, "j-t1", ["--solid"], None, "symlink", "-as", corpus=local)
        rows = [("first ingest, Solid Tier-1 (symlinks), corpus, journaled ext4", v.show(),
                 f"b3sum -P2 + cp -as: {y.show()}", f"{v.median / y.median:.2f}x", "<= 1.3x")]
        rows += cold_rows(args, fs, local, [("cold-j", ["--solid"], None, "Solid, default tiers (Tier-1 symlinks)")],
                          ", journaled ext4")
    return rows


def fig_doctor(args, work):
    """doctor on an ingested corpus (Solid, default tiers), as at every session start."""
    corpus = ensure_corpus(args)
    project = os.path.join(work, "doctor-p")
    cas = cas_root(work)
    new_project(corpus, project)
    sh(ingest_cmd(project, cas))
    vrift = os.path.join(BUILD, "vrift")
    doctor = [vrift, "-C", project, "--cas-root", cas, "doctor"]
    sh(doctor, stdout=subprocess.DEVNULL)  # clean, or the figure means nothing
    v, y = alternate(args.runs, lambda: timed(doctor),
                     lambda: timed(f"find '{project}/node_modules' -printf '%s %T@\\n' > /dev/null"))
    d = Stat([timed(doctor + ["--deep"]) for _ in range(args.runs)])
    remove(project)
    remove(cas)
    return [("doctor, clean corpus project (one lstat per path and per blob)", v.show(),
             "find -printf '%s %T@': " + y.show(), f"{v.median / y.median:.2f}x", "< 1 s"),
            ("doctor --deep (rehash every blob)", d.show(), "-", "-", "-")]


def fig_manifest(args, work):
    """Google Benchmark figures for the manifest (no yardstick: absolute targets), then the
    same random lookups over other B-tree layouts of the same entries (what a layout buys)."""
    import json
    rows = []
    for name, prefix in (("bench_manifest", "manifest"), ("bench_lmdb_layout", "manifest layout")):
        exe = os.path.join(BUILD, name)
        if not os.path.exists(exe):
            continue
        out = subprocess.run([exe, "--benchmark_format=json", "--benchmark_min_time=0.05" if args.smoke else
                              "--benchmark_min_time=0.5", "--benchmark_filter=" + ("/100000$" if args.smoke else ".")],
                             check=True, capture_output=True, text=True).stdout
        for b in json.loads(out)["benchmarks"]:
            shape = (f" (depth {b['depth']:.0f}, {b['leaf_pages']:.0f} leaf pages, {b['MiB']:.0f} MiB)"
                     if "leaf_pages" in b else "")
            rows.append((f"{prefix}: {b['name']}", f"{b['real_time']:.0f} {b['time_unit']}{shape}", "-", "-",
                         "<= 1 us" if prefix == "manifest" and "get" in b["name"].lower() and "1000000" in b["name"]
                         else "-"))
    return rows


def fig_otrunc(args, work):
    """open(O_TRUNC) of 100 MiB Tier-2 files in a session (break-before-write) vs plain files."""
    size_mib = 4 if args.smoke else 100
    files = 3 if args.smoke else 9
    vrift = os.path.join(BUILD, "vrift")
    exe = os.path.join(BUILD, "bench_open_trunc")
    cas = cas_root(work)
    env = dict(os.environ, VRIFT_CAS_ROOT=cas)
    seed = os.path.join(work, "ot-seed.bin")
    with open(seed, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))

    def fresh(dir_):
        remove(dir_)
        os.makedirs(os.path.join(dir_, "target"))
        for i in range(files):
            shutil.copyfile(seed, os.path.join(dir_, "target", f"f{i}.bin"))

    def measure(cmd, cwd):
        out = subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.split()
        return float(out[0]) / 1e6
    names = [f"target/f{i}.bin" for i in range(files)]
    project = os.path.join(work, "ot-p")
    plain = os.path.join(work, "ot-plain")
    t_v, t_y = [], []
    for _ in range(args.runs):
        fresh(project)
        sh([vrift, "-C", project, "init", "-q"], env=env)
        sh([vrift, "-C", project, "ingest", "-q", "target"], env=env)
        fresh(plain)
        os.sync()
        t_v.append(measure([vrift, "run", "--", exe] + names, project))
        t_y.append(measure([exe] + names, plain))
    remove(project)
    remove(plain)
    remove(cas)
    v, y = Stat(t_v), Stat(t_y)
    return [(f"open(O_TRUNC) of a {size_mib} MiB Tier-2 file (break-before-write), median of {files}",
             f"{v.median * 1e6:.0f} ({min(t_v) * 1e6:.0f}-{max(t_v) * 1e6:.0f}) us",
             f"plain file: {y.median * 1e6:.0f} ({min(t_y) * 1e6:.0f}-{max(t_y) * 1e6:.0f}) us",
             f"{v.median / y.median:.2f}x", "<= 2x")]


def write_cproject(root, sources):
    """A C project of `sources` files plus main.c, with a Makefile that tracks headers."""
    os.makedirs(os.path.join(root, "src"), exist_ok=True)
    os.makedirs(os.path.join(root, "include"), exist_ok=True)
    with open(os.path.join(root, "include", "common.h"), "w") as f:
        f.write("#pragma once\n#define SHARED 3\n")
    for i in range(1, sources + 1):
        with open(os.path.join(root, "src", f"u{i}.c"), "w") as f:
            f.write(f'#include "common.h"\nint f{i}(int x) {{ int s = 0; for (int k = 0; k < x; ++k) s += k * {i} + SHARED; return s; }}\n')
    with open(os.path.join(root, "src", "main.c"), "w") as f:
        f.write("#include <stdio.h>\n" + "".join(f"int f{i}(int);" for i in range(1, sources + 1)) +
                "\nint main(void) { long s = 0;" + "".join(f" s += f{i}(10);" for i in range(1, sources + 1)) +
                ' printf("%ld\\n", s); return 0; }\n')
    with open(os.path.join(root, "Makefile"), "w") as f:
        f.write("SRCS := $(wildcard src/*.c)\nOBJS := $(SRCS:src/%.c=obj/%.o)\nCFLAGS := -O2 -Iinclude -MMD -MP\n"
                "app: $(OBJS)\n\tcc -o $@ $(OBJS)\nobj/%.o: src/%.c | obj\n\tcc $(CFLAGS) -c -o $@ $<\n"
                "obj:\n\tmkdir -p obj\nclean:\n\trm -rf obj app\n-include $(OBJS:.o=.d)\n.PHONY: clean\n")


def fig_build(args, work):
    """A clean make -j2 of a ~100-file C project inside vrift run (live re-ingest of every
    output) vs the same build on a plain copy."""
    sources = 10 if args.smoke else 100
    vrift = os.path.join(BUILD, "vrift")
    cas = cas_root(work)
    env = dict(os.environ, VRIFT_CAS_ROOT=cas)
    project = os.path.join(work, "build-p")
    plain = os.path.join(work, "build-plain")
    for d in (project, plain):
        remove(d)
        write_cproject(os.path.join(d, "build", "cproj"), sources)
    sh([vrift, "-C", project, "init", "-q"], env=env)
    sh([vrift, "-C", project, "ingest", "-q", "build"], env=env)
    inside = os.path.join(project, "build", "cproj")
    outside = os.path.join(plain, "build", "cproj")

    def clean():
        sh([vrift, "-C", project, "run", "--", "make", "-s", "-C", inside, "clean"], env=env,
           stdout=subprocess.DEVNULL)
        sh(["make", "-s", "-C", outside, "clean"], stdout=subprocess.DEVNULL)
    t_v, t_y = alternate(args.runs,
                         lambda: timed([vrift, "-C", project, "run", "--", "make", "-s", "-j2", "-C", inside],
                                       prepare=clean, env=env),
                         lambda: timed(["make", "-s", "-j2", "-C", outside]))
    remove(project)
    remove(plain)
    remove(cas)
    return [(f"clean build of a {sources + 1}-file C project, make -j2, inside vrift run (live re-ingest)",
             t_v.show(), "the same build outside: " + t_y.show(), f"{t_v.median / t_y.median:.2f}x", "<= 1.10x")]


def fig_npm_ci(args, work):
    """npm ci of the corpus inside vrift run, into a project whose node_modules does not
    exist yet (vrift init first; the blobs are in The Source from an earlier run, as after
    rm -rf node_modules), the whole install recorded when it ends, beside the same npm ci
    on a plain directory. Both read npm's warm cache (clean protocol, cache re-read)."""
    if args.smoke or shutil.which("npm") is None:
        print("bench: npm ci figure skipped (smoke mode or no npm)", file=sys.stderr)
        return []
    vrift = os.path.join(BUILD, "vrift")
    cas = cas_root(work)
    env = dict(os.environ, VRIFT_CAS_ROOT=cas)
    npm_ci = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]
    cache = subprocess.run(["npm", "config", "get", "cache"], check=True, capture_output=True, text=True).stdout.strip()
    project = os.path.join(work, "npmci-p")
    plain = os.path.join(work, "npmci-plain")

    def fresh(path, init):
        remove(path)
        os.makedirs(path)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(ROOT, "bench", "corpus", name), path)
        if init:
            sh([vrift, "-C", path, "init", "-q"], env=env)
        clean_state(None, cache)

    fresh(project, True)
    sh([vrift, "-C", project, "run", "--"] + npm_ci, env=env, stdout=subprocess.DEVNULL)  # fills The Source
    t_v, t_y = alternate(args.runs,
                         lambda: timed([vrift, "-C", project, "run", "--"] + npm_ci, env=env,
                                       prepare=lambda: fresh(project, True)),
                         lambda: timed(["sh", "-c", f"cd '{plain}' && exec \"$@\"", "-"] + npm_ci,
                                       prepare=lambda: fresh(plain, False)))
    for path in (project, plain, cas):
        remove(path)
    return [("npm ci of the corpus inside vrift run, node_modules made and recorded (blobs present)", t_v.show(),
             "the same npm ci, plain: " + t_y.show(), f"{t_v.median / t_y.median:.2f}x", "-")]


def shim_calls(cmd, cwd):
    """ns per call printed by bench/shim_calls (a failed call voids the figure)."""
    out = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout.split()
    if int(out[1]) != 0:
        raise RuntimeError(f"bench: {out[1]} calls failed in {cmd} (cwd {cwd})")
    return float(out[0])


def shim_calls_pair(cmd, cwd):
    """(ns through the program's stat, ns through libc's, median difference of the rounds)
    printed by `bench/shim_calls stat-pair`."""
    out = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout.split()
    if int(out[1]) != 0:
        raise RuntimeError(f"bench: {out[1]} calls failed in {cmd} (cwd {cwd})")
    return float(out[0]), float(out[2]), float(out[3])


def show_ns(st):
    return f"{st.median:.0f} ({min(st.samples):.0f}-{max(st.samples):.0f}) ns"


def fig_shim(args, work):
    """The shim's cost per call: stat outside the project (the price every program in a
    session pays), stat and open+read+close of Phantom files, and node requiring every
    dependency of the corpus, each beside the same work on plain files without the shim."""
    corpus = ensure_corpus(args)
    vrift = os.path.join(BUILD, "vrift")
    tool = os.path.join(work, "shim_calls")
    sh(["cc", "-O2", "-o", tool, os.path.join(ROOT, "bench", "shim_calls.c"), "-ldl"])
    project = os.path.join(work, "shim-p")
    cas = cas_root(work)
    new_project(corpus, project)
    sh(ingest_cmd(project, cas, "--phantom"))
    rel = []
    for d, _, files in os.walk(os.path.join(corpus, "node_modules")):
        rel += [os.path.relpath(os.path.join(d, f), corpus) for f in files
                if os.path.isfile(os.path.join(d, f)) and not os.path.islink(os.path.join(d, f))]
    rel.sort()
    rel_list = os.path.join(work, "shim-rel.txt")
    abs_list = os.path.join(work, "shim-abs.txt")
    with open(rel_list, "w") as f:
        f.write("".join(p + "\n" for p in rel))
    with open(abs_list, "w") as f:
        f.write("".join(os.path.join(corpus, p) + "\n" for p in rel))
    session = [vrift, "-q", "--cas-root", cas, "run", "--phantom", "--"]
    rounds = "1" if args.smoke else "5"
    rows = []
    # stat() outside the project: what the wrapper adds is tens of ns, under the spread
    # between two processes, so one process in the session times both the stat a program
    # calls (the shim's) and libc's own, round by round on the same paths.
    pairs = [shim_calls_pair(session + [tool, "stat-pair", abs_list, "5" if args.smoke else "21"], project)
             for _ in range(args.runs)]
    v, y = Stat([p[0] for p in pairs]), Stat([p[1] for p in pairs])
    added = Stat([p[2] for p in pairs])
    rows.append((f"shim: stat() outside the project, in a Phantom session, {len(rel)} corpus files", show_ns(v),
                 f"libc's stat in the same process: {show_ns(y)}",
                 f"+{added.median:.0f} ns ({min(added.samples):.0f} to {max(added.samples):.0f})", "<= +15 ns"))
    for what, call, lst, where in [
        ("stat() of Phantom files", "stat", rel_list, "the same plain files, no shim"),
        ("open+read+close of Phantom files", "open", rel_list, "the same plain files, no shim"),
    ]:
        v, y = alternate(args.runs, lambda: shim_calls(session + [tool, call, lst, rounds], project),
                         lambda: shim_calls([tool, call, lst, rounds], corpus))
        rows.append((f"shim: {what}, {len(rel)} corpus files", show_ns(v), f"{where}: {show_ns(y)}",
                     f"{v.median / y.median:.2f}x", "-"))
    if args.smoke or shutil.which("node") is None:
        print("bench: node require figure skipped (smoke mode or no node)", file=sys.stderr)
        return rows
    deps = sorted(__import__("json").load(open(os.path.join(corpus, "package.json")))["dependencies"])
    script = ("const deps = " + __import__("json").dumps(deps) + ";\n"
              "let ok = 0; for (const d of deps) { try { require(require.resolve(d, {paths: [process.cwd()]})); ok++; }"
              " catch (e) {} }\n"
              "if (ok === 0) { process.exit(1); }\n")
    js = os.path.join(work, "require-all.js")
    open(js, "w").write(script)
    v, y = alternate(args.runs, lambda: timed(["sh", "-c", f"cd '{project}' && exec \"$@\"", "-"] + session + ["node", js]),
                     lambda: timed(["sh", "-c", f"cd '{corpus}' && exec node '{js}'"]))
    rows.append((f"shim: node requiring all {len(deps)} dependencies of the corpus, Phantom session", v.show(),
                 f"same on the plain corpus, no shim: {y.show()}", f"{v.median / y.median:.2f}x", "-"))
    remove(project)
    remove(cas)
    return rows


def disk_bytes(*paths):
    """Bytes allocated under all `paths` together (du counts a hardlinked inode once)."""
    out = subprocess.run(["du", "-s", "-c", "--block-size=1", *paths], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    return int(out[-1].split()[0])


def fig_disk(args, work):
    """Disk used by N projects holding the corpus, ingested into one Source, beside one
    plain copy of the corpus (no timing: one measurement per layout)."""
    corpus = ensure_corpus(args)
    count = 2 if args.smoke else 10
    plain = disk_bytes(os.path.join(corpus, "node_modules"))
    rows = []
    for label, extra, rule, dirs in (("Solid, default tiers (Tier-1 symlinks)", ["--solid"], None, None),
                                     ("Solid, all Tier-2 (hardlinks)", ["--solid"], 2, None),
                                     ("Phantom (the dependencies' directories virtual)", ["--phantom"], None, None),
                                     ("Phantom, physical directories", ["--phantom"], None, "physical")):
        cas = cas_root(work)
        projects = [os.path.join(work, f"disk-p{i}") for i in range(count)]
        for p in projects:
            new_project(corpus, p, tier_rule=rule, phantom_dirs=dirs)
            sh(ingest_cmd(p, cas, *extra), stdout=subprocess.DEVNULL)
            wait_for_trash(p)  # counted once the replaced duplicates are freed
        used = disk_bytes(cas, *projects)
        rows.append((f"disk for {count} projects with the corpus, {label}, The Source included",
                     f"{used / 2**20:.0f} MiB", f"one plain copy: {plain / 2**20:.0f} MiB",
                     f"{used / plain:.2f}x", "<= 1.05x"))
        if rule is None and "--phantom" in extra and dirs is None:
            # gc with nothing to remove: every manifest read, every blob listed.
            gc = [os.path.join(BUILD, "vrift"), "--cas-root", cas, "-q", "gc"]
            v, y = alternate(args.runs, lambda: timed(gc),
                             lambda: timed(["find", cas, "-printf", "%s %T@\\n"]))
            rows.append((f"gc of The Source of those {count} projects, nothing to remove", v.show(),
                         f"find -printf '%s %T@' over The Source: {y.show()}", f"{v.median / y.median:.2f}x", "-"))
        for p in projects:
            remove(p)
        remove(cas)
    # What links alone can reach: ten hardlinked copies of the tree (every file shared,
    # every directory a block of its own), as a Solid projection is.
    farms = [os.path.join(work, f"disk-farm{i}") for i in range(count)]
    for farm in farms:
        sh(["cp", "-al", os.path.join(corpus, "node_modules"), farm])
    used = disk_bytes(os.path.join(corpus, "node_modules"), *farms)
    rows.append((f"disk for one plain copy and {count} cp -al copies of it (a yardstick for Solid)",
                 f"{used / 2**20:.0f} MiB", f"one plain copy: {plain / 2**20:.0f} MiB", f"{used / plain:.2f}x", "-"))
    for farm in farms:
        remove(farm)
    return rows


FIGURES = [("hash", fig_hash), ("ingest", fig_ingest), ("reingest", fig_reingest), ("second", fig_second),
           ("cold", fig_cold), ("journaled", fig_journaled), ("doctor", fig_doctor), ("manifest", fig_manifest), ("shim", fig_shim), ("otrunc", fig_otrunc),
           ("build", fig_build), ("npmci", fig_npm_ci), ("disk", fig_disk)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="tiny inputs, one run each")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="", help="run the figures whose name contains this")
    args = ap.parse_args()
    if args.smoke:
        args.runs = 1
    build()
    rows = []
    os.makedirs(WORK, exist_ok=True)
    failed = []
    with tempfile.TemporaryDirectory(prefix="r", dir=WORK) as work:
        for name, fig in FIGURES:
            if args.only and args.only not in name:
                continue
            print(f"bench: {name} ...", file=sys.stderr)
            try:
                got = fig(args, work)
            except Exception as e:  # one broken figure must not void the others
                print(f"bench: {name} failed: {e}", file=sys.stderr)
                failed.append(name)
                continue
            for row in got:  # as soon as measured, in case a later figure fails
                print("bench: | " + " | ".join(row) + " |", file=sys.stderr)
            rows += got
        remove(work)  # immutable Tier-1 blobs included
        os.makedirs(work)
    print(f"| figure | vrift | yardstick | ratio | target |")
    print(f"|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if failed:
        sys.exit(f"bench: figures that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
