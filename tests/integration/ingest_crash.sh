#!/usr/bin/env bash
# kill -9 at random moments of an ingest of a few thousand files, many times (in one
# chunk, and in many overlapping chunks), Phantom and Solid with Tier-1 symlinks (made in
# per-worker staging directories of The Source):
# afterwards every original file's content is still reachable, at its path or through
# the manifest in The Source, and every blob hashes to its name. `vrift doctor --repair`
# then leaves a clean project in which both invariants hold over every entry, and a
# second ingest finishes the job.
source "$(dirname "$0")/lib/common.bash"
need python3 b3sum
cd "$SCRATCH"

python3 - <<'PY'
import os, random
random.seed(42)
for i in range(3000):
    d = f"orig/build/d{i % 40}"
    os.makedirs(d, exist_ok=True)
    n = i if i % 5 else i // 5 * 5 - 5          # every fifth file repeats an earlier one
    size = random.Random(n).choice([0, 17, 583, 4096, 6500, 40000, 70000])
    data = random.Random(n).randbytes(size)
    with open(f"{d}/f{i}.bin", "wb") as f:
        f.write(data)
PY
(cd orig && find build -type f -print0 | xargs -0 b3sum) | sort -k2 > orig.sums

check() {
  local phase=$1
  "$VRIFT" -C proj cas verify --deep > /dev/null 2> verify.err || fail "$phase: The Source does not verify: $(head -3 verify.err)"
  # (The whole manifest: a crash before the first commit leaves nothing under build.)
  "$VRIFT" -C proj ls > ls.all 2> ls.err || fail "$phase: manifest unreadable: $(cat ls.err)"
  grep -E ' build(/|$)' ls.all > ls.out || true
  python3 - "$phase" "$VRIFT_CAS_ROOT" <<'PY'
import os, sys, subprocess
phase, cas = sys.argv[1], sys.argv[2]
manifest = {}
for line in open("ls.out"):
    kind, tier, mode, size, h, path = line.rstrip("\n").split(" ", 5)
    if kind in ("file", "phantom"):
        manifest[path] = (h, int(size), int(mode, 8))
lost = []
orig = [line.rstrip("\n").split("  ", 1) for line in open("orig.sums")]
present = [path for _, path in orig if os.path.lexists(os.path.join("proj", path))]
sums = {}
if present:
    out = subprocess.run(["b3sum", "--"] + present, cwd="proj", capture_output=True, text=True).stdout
    sums = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in out.splitlines()}
for h, path in orig:
    p = os.path.join("proj", path)
    if os.path.lexists(p):
        if not os.path.isfile(p) or (os.path.islink(p) and not os.readlink(p).startswith(cas + "/")):
            lost.append(f"{path}: neither a regular file nor a link into The Source at its path"); continue
        if sums.get(path) != h:
            lost.append(f"{path}: content at its path is {sums.get(path)}, was {h}")
        continue
    if path not in manifest:
        lost.append(f"{path}: gone from the project and not in the manifest"); continue
    mh, size, mode = manifest[path]
    if mh != h:
        lost.append(f"{path}: manifest says {mh}, content was {h}"); continue
    x = "_x" if mode & 0o111 else ""
    blob = f"{cas}/blake3/{h[:2]}/{h}_{size}{x}.bin"
    if not os.path.isfile(blob):
        lost.append(f"{path}: blob {blob} missing")
if lost:
    print(f"FAIL: {phase}: {len(lost)} files lost, e.g.:", *lost[:5], sep="\n  ")
    sys.exit(1)
PY
}

crash_rounds() {
local mode=$1 rounds=$2
for round in $(seq 1 "$rounds"); do
  chattr -R -i proj 2> /dev/null || true; rm -rf proj && cp -a orig proj
  "$VRIFT" -C proj init -q
  if [ "$mode" == phantom ]; then
    # The tree is build outputs, whose directories stay physical by default: every other
    # Phantom round makes them all virtual, so the kill may land while ingest has a
    # directory aside with its files (leaving_dirs.hpp).
    sed -i "s/^directories = .*/directories = \"$( ((round % 2)) && echo physical || echo virtual)\"/" proj/.vrift/config.toml
  fi
  if [ "$mode" == solid ]; then
    # Every file Tier-1 (the rule before the defaults wins).
    sed -i '0,/^\[\[rule\]\]/s//[[rule]]\npattern = "**"\ntier = 1\n\n[[rule]]/' proj/.vrift/config.toml
  fi
  # Every other round with few descriptors: ingest then works in chunks of ~200 files,
  # storing the next chunk while the current one is synced, recorded and projected, so
  # the kill also lands between and inside overlapping chunks.
  if ((round % 2)); then
    (ulimit -n 700 && exec "$VRIFT" -C proj ingest -q "--$mode" 2> ingest.err) &
  else
    "$VRIFT" -C proj ingest -q "--$mode" 2> ingest.err &
  fi
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 400)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  check "round $round, after kill -9"
  "$VRIFT" -C proj doctor --repair > repair.out || fail "round $round: doctor --repair after the kill: $(cat repair.out)"
  "$VRIFT" -C proj doctor > doctor.out || fail "round $round: doctor after the repair is not clean: $(cat doctor.out)"
  check_invariants proj "round $round, after doctor --repair"
  check "round $round, after doctor --repair"
  "$VRIFT" -C proj ingest -q "--$mode" || fail "round $round: ingest after the crash failed: $(cat ingest.err)"
  check "round $round, after a second ingest"
  [ -z "$(find proj/build -type f)" ] || fail "round $round: files left after the second ingest: $(find proj/build -type f | head -3)"
  check_invariants proj "round $round, after a second ingest"
done
pass "$rounds rounds of kill -9 during a $mode ingest of 3000 files: nothing lost, doctor --repair leaves it clean, every blob verifies"
}

crash_rounds phantom "${VRIFT_CRASH_ROUNDS:-10}"
crash_rounds solid "${VRIFT_CRASH_ROUNDS:-6}"
