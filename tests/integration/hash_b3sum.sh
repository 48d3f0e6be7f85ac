#!/usr/bin/env bash
# `vrift hash` must print exactly what `b3sum` prints, for awkward sizes and names.
source "$(dirname "$0")/lib/common.bash"
need b3sum

cd "$SCRATCH"
mkdir files && cd files
for size in 0 1 1023 1024 1025 65536 1048577; do
  head -c "$size" /dev/urandom > "size_$size"
done
head -c $((300 * 1024 * 1024 + 7)) /dev/urandom > big_300MiB
printf 'spaces' > 'name with spaces'
printf 'newline' > $'new\nline'
printf 'backslash' > 'back\slash'
printf 'latin1' > $'caf\xe9'
printf 'truncated utf8' > $'end\xe2\x82'
printf 'bad lead' > $'x\xff\xfey'
printf 'surrogate' > $'s\xed\xa0\x80z'
printf 'overlong' > $'o\xc0\xafk'
printf 'valid utf8' > 'ünïcødé ✓'

expected=$(b3sum -- * ; echo "rc=$?")
actual=$("$VRIFT" hash -- * ; echo "rc=$?")
if [ "$expected" != "$actual" ]; then
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  fail "vrift hash differs from b3sum"
fi
pass "vrift hash == b3sum on $(ls | wc -l) files"

# Errors: one clear line per bad argument, exit 1, the good ones still printed.
mkdir adir
out=$("$VRIFT" hash size_1 missing adir 2>err) && fail "expected exit 1"
expect_eq "$(echo "$out" | wc -l)" 1 "lines printed for the good file"
grep -q "vrift: error: cannot hash file (missing): No such file or directory" err || fail "missing-file message: $(cat err)"
grep -q "vrift: error: cannot hash file (adir): Is a directory" err || fail "directory message: $(cat err)"
pass "errors name the path and the reason"
