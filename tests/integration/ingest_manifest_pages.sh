#!/usr/bin/env bash
# A first ingest records its entries in manifest key order (directories by path, each
# one's entries by name, directories and symlinks among the files), so that LMDB fills
# the base's pages instead of splitting them in half: the base takes close to the pages
# its records need. The tree has names that sort before '/' ("a-b", "a.c" beside "a"),
# where a depth-first walk and the key order part, and more files than one chunk.
source "$(dirname "$0")/lib/common.bash"
need python3 mdb_stat mdb_dump
cd "$SCRATCH"

python3 - <<'EOF'
import os
for p in range(120):
    for suffix in ("", "-b", ".c"):
        pkg = f"p/node_modules/pkg{p}{suffix}"
        for d in ("", "/lib", "/lib/sub", "/dist"):
            os.makedirs(pkg + d, exist_ok=True)
            for f in range(4):
                with open(f"{pkg}{d}/file{f}.js", "w") as out:
                    out.write(f"module.exports = '{pkg}{d}/{f}';\n")
        os.symlink("lib/file0.js", pkg + "/main.js")
EOF
cd p
"$VRIFT" init -q
for mode in phantom solid; do
  "$VRIFT" ingest -q --$mode
  entries=$("$VRIFT" ls | wc -l)
  expect_eq "$entries" $((1 + 360 * (4 + 16 + 1))) "$mode: entries"
  pages=$(mdb_stat -s base .vrift/manifest.lmdb | awk '/Leaf pages/ {print $3}')
  # The least pages the records fit in: each takes its key and value, an 8-byte node
  # header and a 2-byte pointer, in 4,080 usable bytes of a 4 KiB page.
  least=$(mdb_dump -s base .vrift/manifest.lmdb | python3 -c '
import sys
lines = [l.strip() for l in sys.stdin if l.startswith(" ")]
used = sum(len(k) // 2 + len(v) // 2 + 10 for k, v in zip(lines[0::2], lines[1::2]))
print(-(-used // 4080))')
  # Key order leaves pages ~95% full; listing order left them ~65% full (1.5x the pages).
  [ "$pages" -le $((least * 12 / 10)) ] || fail "$mode: the base takes $pages leaf pages; its records fit in $least"
  pass "$mode: a first ingest's base takes $pages leaf pages for records that fit in $least"
  "$VRIFT" restore -q
  rm -rf .vrift
  "$VRIFT" init -q
done
