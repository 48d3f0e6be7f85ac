#!/usr/bin/env bash
# 8 processes store the same 1,000 files into one Source at once: all succeed, one blob
# per distinct content stays, no temp is left, and everything verifies deep.
source "$(dirname "$0")/lib/common.bash"
need b3sum python3

cd "$SCRATCH"
python3 - <<'PY'
import os, random
random.seed(7)
os.makedirs("files", exist_ok=True)
for i in range(1000):
    # 700 distinct contents: some files share content with another.
    n = i % 700
    data = (f"content {n}\n" * (1 + n % 50)).encode()
    if n % 97 == 0:
        data += os.urandom(0) + bytes(range(256)) * 400   # a few larger files
    with open(f"files/f{i:04d}.txt", "wb") as f:
        f.write(data)
PY

# Half the writers copy, half link the files' own inodes: both race for the same names.
pids=()
for p in 1 2 3 4 5 6 7 8; do
  if [ $((p % 2)) -eq 0 ]; then link=--link; else link=; fi
  (find files -type f -print0 | shuf -z | xargs -0 "$VRIFT" cas put $link > "out.$p" 2> "err.$p") &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "a writer failed: $(cat err.*)"; done
for p in 1 2 3 4 5 6 7 8; do
  [ ! -s "err.$p" ] || fail "writer $p printed errors: $(head -3 err.$p)"
  expect_eq "$(wc -l < out.$p)" 1000 "lines printed by writer $p"
done

distinct=$(b3sum --no-names files/* | sort -u | wc -l)
expect_eq "$(count_blobs)" "$distinct" "blobs in The Source"
expect_eq "$(find "$VRIFT_CAS_ROOT/tmp" -type f | wc -l)" 0 "temps left behind"
pass "$(count_blobs) blobs for $distinct distinct contents"

# Every blob hashes to its name, per the independent oracle too.
"$VRIFT" cas verify --deep > verify.out || fail "verify --deep failed: $(cat verify.out)"
find "$VRIFT_CAS_ROOT/blake3" -type f | while read -r blob; do
  name=$(basename "$blob"); want=${name%%_*}
  got=$(b3sum --no-names "$blob")
  [ "$got" == "$want" ] || fail "blob $blob hashes to $got"
done
# The hash a writer printed is the b3sum of the blob path it printed.
while read -r h blob; do
  expect_eq "$(b3sum --no-names "$blob")" "$h" "printed hash vs blob"
done < <(sed -n '1,50p' out.1 | cut -d' ' -f1,3)
pass "all blobs verify deep and match b3sum"
