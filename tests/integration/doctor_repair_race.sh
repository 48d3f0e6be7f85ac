#!/usr/bin/env bash
# `vrift doctor --repair` puts a link back only where the path still holds what doctor
# found there. Doctor is held (strace delays one system call for 3 s) just before it
# puts the repaired link over the path (the first rename it makes); meanwhile a
# program writes a file at that path. What the program wrote must be there afterwards,
# doctor must say it left the path, and the next ingest records it.
source "$(dirname "$0")/lib/common.bash"
need strace b3sum
cd "$SCRATCH"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (reads another process's /proc/PID/task/*/syscall)"; exit 125; }
[ "$(uname -m)" == x86_64 ] || { echo "SKIP: the syscall number below is x86_64's"; exit 125; }
k_renames="316|264"  # renameat2, renameat

# repair_held PROJECT: starts `vrift doctor --repair` with its first rename held for 3 s,
# and returns once it is held there (pid in $held).
repair_held() {
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o /dev/null -e trace=renameat,renameat2 \
    -e inject=renameat,renameat2:delay_enter=3000000:when=1 "$VRIFT" -C "$1" doctor --repair > "$1.out" 2>&1 &
  held=$!
  for _ in $(seq 1 200); do
    for pid in $(pgrep -P "$held"); do
      grep -Eqs "^($k_renames) " /proc/"$pid"/task/[0-9]*/syscall && return 0
    done
    sleep 0.05
  done
  fail "doctor never reached its repair: $(cat "$1.out")"
}

# project NAME: a Solid project whose build/a.bin is a Tier-2 hardlink to its blob.
project() {
  mkdir -p "$1/build"
  head -c 70000 /dev/urandom > "$1/build/a.bin"
  "$VRIFT" -C "$1" init -q
  "$VRIFT" -C "$1" ingest -q --solid
}

# after NAME: the program's file is at build/a.bin, doctor said it left it, the next
# ingest records it, and The Source is intact.
after() {
  local p=$1
  wait "$held" || true  # doctor exits 1: it could not repair everything
  [ "$(b3sum --no-names "$p/build/a.bin")" == "$(b3sum --no-names mine.bin)" ] ||
    fail "$p: the program's file was replaced by the repair"
  grep -q "left as it is.*build/a.bin.*changed while doctor was repairing it" "$p.out" ||
    fail "$p: doctor did not say it left build/a.bin: $(cat "$p.out")"
  "$VRIFT" -C "$p" ingest -q --solid || fail "$p: ingest after the repair"
  "$VRIFT" -C "$p" ls build/a.bin | grep -q " $(b3sum --no-names mine.bin) build/a.bin$" ||
    fail "$p: the program's file is not what the manifest records: $("$VRIFT" -C "$p" ls build/a.bin)"
  "$VRIFT" -C "$p" doctor > /dev/null || fail "$p: doctor after the next ingest: $("$VRIFT" -C "$p" doctor)"
  "$VRIFT" cas verify --deep > /dev/null || fail "$p: The Source does not verify"
  [ -z "$(find "$p/build" -name '.vrift-tmp*')" ] || fail "$p: temps left: $(ls -a "$p/build")"
}

head -c 5000 /dev/urandom > mine.bin

# --- a missing link: a program makes the file while doctor puts the link back
project m
rm m/build/a.bin
repair_held m
cp mine.bin m/build/.a.new && mv m/build/.a.new m/build/a.bin
after m
pass "a file made at a missing link's path while doctor repaired it stays"

# --- a wrong link (a symlink where a hardlink is recorded): a program saves over it
project w
ln -sf "$(find "$VRIFT_CAS_ROOT/blake3" -samefile w/build/a.bin -print -quit)" w/build/a.bin
repair_held w
cp mine.bin w/build/.a.new && mv w/build/.a.new w/build/a.bin
after w
pass "a file saved over a wrong link while doctor repaired it stays"

# --- nothing in the way: the held repair goes through
project n
rm n/build/a.bin
repair_held n
wait "$held" || fail "doctor --repair failed: $(cat n.out)"
[ "$(stat -c %h n/build/a.bin)" -ge 2 ] || fail "the hardlink was not made again"
"$VRIFT" -C n doctor > /dev/null || fail "doctor after the repair: $("$VRIFT" -C n doctor)"
pass "with nothing in the way the held repair links the file again"
