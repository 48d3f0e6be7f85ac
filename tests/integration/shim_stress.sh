#!/usr/bin/env bash
# Many readers at once through the shim: 5,000 Phantom files; 100 concurrent processes
# (b3sum, and the C probe reading through open/read) each read 1,000 of them, the slices
# overlapping so every file is read by 20 processes; then one process with 16 threads
# stats, opens and reads all 5,000 while it forks. Every content must be right, nothing
# may hang (each session is bounded by `timeout 300`). Then the same in Solid mode.
#
# VRIFT_PROBE_SELFTEST=1 runs the session side on a second plain copy without vrift.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/../probes/harness.bash"
need cc b3sum timeout python3 xargs
[ -f "$SHIM" ] || { echo "SKIP: no shim at $SHIM"; exit 125; }
cd "$SCRATCH"
chmod 755 "$SCRATCH"
probe_build "$SCRATCH/probes" plain
PROBE=$SCRATCH/probes/plain/probe
PLAIN=$SCRATCH/plain
PROJ=$SCRATCH/project

# 5,000 files in 50 directories: sizes from 0 to ~70 KB, every 7th content repeated
# (dedup), a few executables, mtimes with nanoseconds.
python3 - "$PLAIN/build/stress" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(5000)
for d in range(50):
    os.makedirs(f"{root}/d{d:02}", exist_ok=True)
for i in range(5000):
    p = f"{root}/d{i % 50:02}/f{i:04}.dat"
    if i % 7 == 0:
        data = b"shared content %d\n" % (i % 5)
    else:
        size = rng.choice([0, 1, 17, 100, 1000, 4096, 4097, 20000, 70000]) if i % 13 else rng.randrange(0, 300)
        data = (b"%d:" % i) + rng.randbytes(size)
    with open(p, "wb") as f:
        f.write(data)
    if i % 97 == 0:
        os.chmod(p, 0o755)
    os.utime(p, ns=(1_600_000_000_000_000_000 + i, 1_600_000_000_000_000_000 + i * 1_000_003))
PY
project_setup "$PLAIN" "$PROJ"
(cd "$PLAIN" && find build -type f | sort) > list
[ "$(wc -l < list)" -eq 5000 ] || fail "the stress tree has $(wc -l < list) files"
(cd "$PLAIN" && xargs -d '\n' -a "$SCRATCH/list" b3sum) | sort -k2 > expected.b3
(cd "$PLAIN" && "$PROBE" hashfiles "$SCRATCH/list") | sort -k3 > expected.fnv
# 100 slices of 1,000 paths, each starting 50 further: every file is in 20 slices.
mkdir -p slices
python3 - <<'PY'
paths = open("list").read().splitlines()
for i in range(100):
    with open(f"slices/{i:03}", "w") as f:
        f.write("".join(paths[(i * 50 + k) % len(paths)] + "\n" for k in range(1000)))
PY
export SCRATCH PROBE
PROBE_SESSION_TIMEOUT=310 # the readers below bound themselves with timeout 300

# stress MODE NAME READER: 100 concurrent READER processes, one per slice, in one session.
stress() {
  local mode=$1 name=$2 reader=$3 check=$mode/$2
  probe_selected "$check" || return 0
  rm -rf "out-$mode-$name" && mkdir "out-$mode-$name"
  local rc=0 start=$SECONDS
  (cd "$PROJ" && export OUT="$SCRATCH/out-$mode-$name" READER=$reader && in_session "$mode" timeout 300 bash -c '
    for s in "$SCRATCH"/slices/*; do
      case $READER in
        b3sum) xargs -d "\n" -a "$s" b3sum > "$OUT/${s##*/}" 2>&1 & ;;
        probe) "$PROBE" hashfiles "$s" > "$OUT/${s##*/}" 2>&1 & ;;
      esac
    done
    fails=0
    for job in $(jobs -p); do wait "$job" || fails=$((fails + 1)); done
    exit $fails') > "$name.$mode.log" 2>&1 || rc=$?
  local secs=$((SECONDS - start)) bad=""
  if [ "$rc" -eq 124 ]; then
    bad+=" timed out"
  elif [ "$rc" -ne 0 ]; then
    bad+=" exit=$rc (readers that failed)"
  fi
  local lines
  lines=$(cat "out-$mode-$name"/* | wc -l)
  [ "$lines" -eq 100000 ] || bad+=" $lines of 100000 lines"
  local expected=expected.b3 key=2
  [ "$reader" == probe ] && expected=expected.fnv key=3
  if ! cat "out-$mode-$name"/* | sort -u -k"$key" | diff -q - "$expected" > /dev/null; then
    bad+=" contents differ:"
    bad+=$(cat "out-$mode-$name"/* | sort -u -k"$key" | diff - "$expected" | head -6 | tr '\n' '|' || true)
  fi
  if [ -z "$bad" ]; then
    probe_ok "$check" "100 processes x 1,000 files, all correct (${secs}s)"
  else
    probe_fail "$check" "${bad# }"
    head -5 "$name.$mode.log" | sed 's/^/    /'
  fi
}

threads() {
  local mode=$1
  probe_selected "$mode/threads" || return 0
  local tmp=$SCRATCH/threads.$mode erc=0 arc=0
  mapfile -t files < list
  (cd "$PLAIN" && "$PROBE" threads 16 2 "${files[@]}") > "$tmp.expected" 2>&1 || erc=$?
  (cd "$PROJ" && in_session "$mode" timeout 300 "$PROBE" threads 16 2 "${files[@]}") > "$tmp.actual" 2>&1 || arc=$?
  # 16 threads x 2 rounds over 5,000 files, 20 forks under load
  compare_outputs "$mode/threads" \
    "$tmp.expected" "$erc" "$tmp.actual" "$arc" || true
}

for mode in phantom solid; do
  stress "$mode" b3sum b3sum
  stress "$mode" probe probe
  threads "$mode"
done
probe_summary
