#!/usr/bin/env bash
# `vrift hash` must print exactly what `b3sum` prints, for awkward sizes and names.
source "$(dirname "$0")/lib/common.bash"
need b3sum strace

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

# A file cut short while it is hashed (from a mapping, for files of 1 MiB and more) is
# one clear error, not a crash: strace holds the hash just after its fstat() of the file
# (which gave the size to map) while the file is truncated. (x86_64 system call number.)
[ "$(uname -m)" == x86_64 ] || exit 0
head -c $((8 << 20)) /dev/urandom > shrinking
ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o /dev/null -P "$PWD/shrinking" -e trace=newfstatat \
  -e inject=newfstatat:delay_exit=2000000:when=1 "$VRIFT" hash shrinking > out 2> err &
tracer=$!
held=
for _ in $(seq 1 200); do
  for pid in $(pgrep -P "$tracer"); do
    grep -qs "^262 " "/proc/$pid/syscall" && held=1   # 262: newfstatat
  done
  [ -n "$held" ] && break
  sleep 0.05
done
[ -n "$held" ] || fail "vrift hash never reached its fstat of the file"
truncate -s 4096 shrinking
status=0; wait "$tracer" || status=$?
expect_eq "$status" 1 "exit status of a hash cut short"
grep -q "cannot hash file (shrinking): the file changed while it was being read" err || fail "message: $(cat err)"
[ ! -s out ] || fail "a hash was printed for a file cut short: $(cat out)"
pass "a file cut short while hashed is an error naming it"
