#!/usr/bin/env bash
# kill -9 soak for the manifest: the unit suite's crash test (ManifestCrash, in
# unit_manifest) run for many more rounds. Two shapes: large transactions (the kill
# usually lands while pages are being written) and small ones (commit and fsync take
# most of the time, so kills land inside the commit). After every kill the manifest must
# open, the killed transaction must be all there or all absent, and mdb_stat's counts
# must agree.
source "$(dirname "$0")/lib/common.bash"
need mdb_stat

bin="${VRIFT_BUILD:?set VRIFT_BUILD to the build directory}/tests/unit_manifest"
[ -x "$bin" ] || { echo "SKIP: $bin is not built (ninja unit_manifest)"; exit 125; }
export TMPDIR="$SCRATCH"

run_soak() {
  local rounds=$1 entries=$2
  VRIFT_MANIFEST_CRASH_ROUNDS=$rounds VRIFT_MANIFEST_CRASH_ENTRIES=$entries \
    "$bin" --gtest_filter='ManifestCrash.*' > "$SCRATCH/soak.out" 2>&1 ||
    { cat "$SCRATCH/soak.out"; fail "crash soak ($rounds rounds of $entries entries)"; }
  grep '^\[ crash' "$SCRATCH/soak.out" || true
  pass "$rounds kills during transactions of $entries entries"
}

run_soak "${VRIFT_MANIFEST_CRASH_ROUNDS:-30}" 200000
run_soak 60 2000
