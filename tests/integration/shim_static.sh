#!/usr/bin/env bash
# A statically linked program cannot be reached by LD_PRELOAD: in a Phantom session it
# is named on stderr with the remedy (it cannot see the files), in Solid it just runs
# (the links are on disk). Nothing it does can change a blob.
source "$(dirname "$0")/lib/common.bash"
need cc b3sum
cd "$SCRATCH"
printf '#include <stdio.h>\nint main(int c, char** v) { FILE* f = fopen(v[1], "r"); char b[64] = {0};\n  if (!f) { puts("cannot open"); return 1; } fgets(b, sizeof b, f); fputs(b, stdout); return 0; }\n' > reader.c
cc -static -O2 -o static-reader reader.c 2> cc.err || { echo "SKIP: no static libc to link with: $(head -2 cc.err)"; exit 125; }
mkdir -p project/build && echo "content" > project/build/file.txt
cd project
"$VRIFT" init -q
"$VRIFT" ingest -q --phantom

out=$("$VRIFT" run --phantom -- "$SCRATCH/static-reader" build/file.txt 2> err.txt) || true
grep -q "static-reader is statically linked and cannot see Phantom files; run it in a Solid session" err.txt ||
  fail "no warning for a static program in Phantom: $(cat err.txt)"
expect_eq "$out" "cannot open" "a static program's view of a phantom file"
pass "a static program in a Phantom session is named with the remedy"

out=$("$VRIFT" run --solid -- "$SCRATCH/static-reader" build/file.txt 2> err.txt)
expect_eq "$out" "content" "a static program reading a Solid projection"
grep -q "statically linked" err.txt && fail "warned in a Solid session: $(cat err.txt)"
"$VRIFT" cas verify --deep > /dev/null || fail "The Source does not verify"
pass "in a Solid session a static program reads the links, without a warning"
