#!/usr/bin/env bash
# vrift restore: Solid (Tier-1 symlinks and Tier-2 hardlinks) and Phantom projects turn
# back into plain private files with the content, mode and mtime they had before ingest
# (find -printf and b3sum against the pre-ingest tree), keep working once The Source is
# gone, restore one PATH only, and survive kill -9 at random moments: a re-run (or
# doctor --repair, then restore) finishes the job and nothing is lost.
source "$(dirname "$0")/lib/common.bash"
need b3sum python3
cd "$SCRATCH"

npm_tree plain
mkdir -p plain/build/obj plain/build/empty
for i in $(seq 1 40); do echo "object $((i % 9))" > "plain/build/obj/o$i.o"; done
printf '#!/bin/sh\necho built\n' > plain/build/tool.sh; chmod 755 plain/build/tool.sh
chmod 640 plain/build/obj/o3.o 2>/dev/null; chmod 644 plain/build/obj/o3.o
chmod 664 plain/build/obj/o4.o
touch -d '2021-03-04 05:06:07.891011121' plain/build/obj/o7.o plain/build/obj
ln -s obj/o1.o plain/build/first

# snapshot DIR: every path with size, mode and mtime, then b3sum of every file. Left
# out: the project root's own line (init adds .vrift/ to it) and the size of
# directories (ext4 never shrinks a directory, and the temp names projection puts
# beside files for a moment may have grown it by a block during ingest).
snapshot() {
  (cd "$1" && find . -path ./.vrift -prune -o -path . -o \( -type d -printf '%p dir %m %T@\n' \) -o -printf '%p %s %m %T@\n' | LC_ALL=C sort &&
   find . -path ./.vrift -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 b3sum)
}
snapshot plain > plain.snap

restore_and_compare() {  # restore_and_compare NAME INGEST-ARGS...
  local name=$1; shift
  rm -rf "$name"; cp -a plain "$name"
  (cd "$name" && "$VRIFT" init -q && "$VRIFT" ingest -q "$@")
  (cd "$name" && "$VRIFT" restore -q) || fail "$name: restore failed"
  snapshot "$name" > "$name.snap"
  diff plain.snap "$name.snap" > "$name.diff" || fail "$name: tree differs from before ingest: $(head -10 "$name.diff")"
  [ -z "$(find "$name" -path "$name/.vrift" -prune -o -type l -lname "$VRIFT_CAS_ROOT/*" -print)" ] ||
    fail "$name: symlinks into The Source remain"
  [ -z "$("$VRIFT" -C "$name" ls)" ] || fail "$name: the manifest still claims paths"
  "$VRIFT" -C "$name" doctor > doctor.out || fail "$name: doctor after restore: $(cat doctor.out)"
}
restore_and_compare solid
restore_and_compare phantom --phantom
pass "Solid (Tier-1 + Tier-2) and Phantom: restore gives back the pre-ingest tree (paths, sizes, modes, mtimes, content)"

# Without The Source the restored trees still read, and node still loads the packages.
mv "$VRIFT_CAS_ROOT" "$SCRATCH/moved-source"
for name in solid phantom; do
  snapshot "$name" > "$name.after"
  diff plain.snap "$name.after" > /dev/null || fail "$name: tree changed once The Source was gone"
done
if command -v node > /dev/null; then
  (cd solid && node -e 'require("./node_modules/lodash"); require("./node_modules/semver")') || fail "node cannot load the restored tree"
fi
mv "$SCRATCH/moved-source" "$VRIFT_CAS_ROOT"
pass "restored trees do not need The Source"

# --- one PATH only -------------------------------------------------------------------
for mode in --solid --phantom; do
  rm -rf part; cp -a plain part; cd part
  "$VRIFT" init -q; "$VRIFT" ingest -q $mode
  "$VRIFT" restore -q node_modules/lodash
  [ -z "$("$VRIFT" ls node_modules/lodash)" ] || fail "$mode: lodash still in the manifest"
  [ -n "$("$VRIFT" ls node_modules/semver)" ] || fail "$mode: semver left the manifest"
  [ -z "$(find node_modules/lodash -type l -lname "$VRIFT_CAS_ROOT/*")" ] || fail "$mode: lodash still links into The Source"
  [ "$(find node_modules/lodash -type f | wc -l)" -eq "$(find ../plain/node_modules/lodash -type f | wc -l)" ] ||
    fail "$mode: lodash files missing"
  if [ "$mode" == --solid ]; then
    [ -L node_modules/semver/package.json ] || fail "semver is no longer projected"
  else
    [ ! -e node_modules/semver/package.json ] || fail "semver is no longer Phantom"
  fi
  [ "$(tree_hashes . node_modules/lodash)" == "$(tree_hashes ../plain node_modules/lodash)" ] || fail "$mode: lodash content differs"
  "$VRIFT" doctor > ../doctor.out || fail "$mode: doctor after a partial restore: $(cat ../doctor.out)"
  "$VRIFT" ingest -q $mode
  [ -z "$("$VRIFT" ls node_modules/lodash)" ] || fail "$mode: ingest took the restored lodash back"
  "$VRIFT" ingest -q $mode node_modules/lodash
  [ -n "$("$VRIFT" ls node_modules/lodash)" ] || fail "$mode: an explicit ingest did not take lodash back"
  "$VRIFT" restore -q
  cd ..
  snapshot part > part.snap
  diff plain.snap part.snap > part.diff || fail "$mode: after the partial and full restores: $(head -5 part.diff)"
done
pass "restore PATH gives back one subtree; ingest leaves it alone until named; the rest stays projected"

# --- kill -9 during restore ----------------------------------------------------------
python3 - <<'PY'
import os, random
for i in range(3000):
    d = f"big/build/d{i % 30}"
    os.makedirs(d, exist_ok=True)
    data = random.Random(i % 2500).randbytes(random.Random(i).choice([0, 100, 3000, 20000]))
    with open(f"{d}/f{i}.bin", "wb") as f:
        f.write(data)
    if i % 7 == 0:
        os.chmod(f"{d}/f{i}.bin", 0o640 | 0o004)
PY
mkdir -p big/node_modules/pkg && for i in $(seq 1 300); do echo "module $i" > "big/node_modules/pkg/m$i.js"; done
snapshot big > big.snap
rounds=${VRIFT_CRASH_ROUNDS:-10}
for round in $(seq 1 "$rounds"); do
  mode=--solid; [ $((round % 2)) -eq 0 ] && mode=--phantom
  rm -rf crash; cp -a big crash
  (cd crash && "$VRIFT" init -q && "$VRIFT" ingest -q $mode)
  "$VRIFT" -C crash restore -q 2> restore.err &
  pid=$!
  sleep "$((RANDOM % 2)).$(printf '%03d' $((RANDOM % 1000)))"  # a restore of this tree takes 1-2 s
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # Whatever the moment: every file reads its content, at its path or through the manifest.
  check_invariants crash "round $round ($mode), after kill -9" interrupted
  python3 - crash big.snap "$round" <<'PY'
import os, subprocess, sys
root, snap, rnd = sys.argv[1:]
sums = {}
for line in open(snap):
    if "  ./" in line:
        h, p = line.rstrip("\n").split("  ", 1)
        sums[p] = h
listing = subprocess.run([os.environ["VRIFT"], "-C", root, "ls"], capture_output=True, text=True, check=True).stdout
managed = {l.split(" ", 5)[5].rstrip("\n"): l.split(" ")[4] for l in listing.splitlines() if l.split(" ")[0] in ("file", "phantom")}
lost = [p for p, h in sums.items() if not os.path.lexists(os.path.join(root, p)) and managed.get(p[2:]) != h]
if lost:
    sys.exit(f"FAIL: round {rnd}: {len(lost)} files neither at their path nor in the manifest, e.g. {lost[:3]}")
PY
  if [ $((round % 3)) -eq 0 ]; then
    "$VRIFT" -C crash doctor --repair > repair.out || fail "round $round: doctor --repair after the kill: $(cat repair.out)"
  fi
  "$VRIFT" -C crash restore -q || fail "round $round: restore after the kill failed: $(cat restore.err)"
  snapshot crash > crash.snap
  diff big.snap crash.snap > crash.diff || fail "round $round ($mode): tree differs after the re-run: $(head -5 crash.diff)"
  [ -z "$("$VRIFT" -C crash ls)" ] || fail "round $round: the manifest still claims paths"
done
pass "$rounds rounds of kill -9 during restore of 3300 files: a re-run (or doctor --repair, then restore) loses nothing"
