#!/usr/bin/env bash
# Damage to blobs is caught: a changed byte (deep only), a truncated blob, a blob made
# writable, a stray old temp. Each is named, and verify exits 1.
source "$(dirname "$0")/lib/common.bash"
need python3

cd "$SCRATCH"
for i in 1 2 3 4 5; do echo "payload $i $(seq 1 200)" > "f$i.js"; done
"$VRIFT" cas put f1.js f2.js f3.js f4.js f5.js > put.out
blob() { sed -n "${1}p" put.out | cut -d' ' -f3; }

"$VRIFT" cas verify --deep > /dev/null || fail "a fresh Source must verify"
pass "fresh Source verifies"

flipped=$(blob 1); truncated=$(blob 2); writable=$(blob 3)
python3 - "$flipped" <<'PY'
import sys
p = sys.argv[1]
data = bytearray(open(p, "rb").read()); data[10] ^= 0x01
open(p, "r+b").write(data)   # root writes through mode 0444
PY
chmod u+w "$truncated"; truncate -s 5 "$truncated"; chmod 0444 "$truncated"
chmod 0644 "$writable"
touch -d '2 hours ago' "$VRIFT_CAS_ROOT/tmp/1234.0.dead"

expect_status 1 "$VRIFT" cas verify 2> shallow.err
grep -qF "($truncated): wrong size" shallow.err || fail "truncation not named: $(cat shallow.err)"
grep -qF "($writable): wrong mode" shallow.err || fail "writable blob not named: $(cat shallow.err)"
grep -qF "tmp/1234.0.dead): stray temp" shallow.err || fail "stray temp not named: $(cat shallow.err)"
grep -qF "$flipped" shallow.err && fail "a shallow verify cannot know content changed"
pass "shallow verify names size, mode and temp damage"

expect_status 1 "$VRIFT" cas verify --deep 2> deep.err
grep -qF "($flipped): wrong content" deep.err || fail "flipped byte not found: $(cat deep.err)"
expect_eq "$(grep -c 'bad blob' deep.err)" 4 "problems reported by deep verify"
"$VRIFT" --json cas verify --deep > deep.json && fail "json verify must exit 1 too"
python3 -c 'import json,sys; d=json.load(open("deep.json")); assert d["problems"]==4 and len(d["bad"])==4, d'
pass "deep verify names the changed byte; --json agrees"
