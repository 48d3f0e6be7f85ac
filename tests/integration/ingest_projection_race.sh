#!/usr/bin/env bash
# A path replaced or opened for writing while ingest projects it keeps what the other
# program put there. Ingest is held (strace delays one system call for 3 s) just before
# it swaps a duplicate file for a link to its blob (Solid: the projection's atomic
# exchange, the first renameat2 it makes) or takes it off its path (Phantom: the first
# renameat); meanwhile another program renames a new file over the path, or opens the
# file being projected to write it. What that program wrote must be at the path
# afterwards, and the next ingest records it.
source "$(dirname "$0")/lib/common.bash"
need strace b3sum
cd "$SCRATCH"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (reads another process's /proc/PID/task/*/syscall)"; exit 125; }

k_renameat2=316  # x86_64
[ "$(uname -m)" == x86_64 ] || { echo "SKIP: the syscall number below is x86_64's"; exit 125; }

k_renameat=264

# ingest_held PROJECT [--phantom|--twice]: starts `vrift ingest` with its first
# renameat2 (Solid; with --twice the first two) or renameat (Phantom) held for 3 s each,
# and returns once it is held there (pid in $held; `held_again` waits for the second).
ingest_held() {
  local call=renameat2 calls=1 args=
  k_nr=$k_renameat2
  [ "${2:-}" == --phantom ] && call=renameat k_nr=$k_renameat args=--phantom
  [ "${2:-}" == --twice ] && calls=1..2
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o /dev/null -e trace=$call -e inject=$call:delay_enter=3000000:when=$calls \
    "$VRIFT" -C "$1" ingest $args > "$1.out" 2> "$1.err" &
  held=$!
  wait_held "$1" || fail "ingest never reached its projection: $(cat "$1.err")"
}

is_held() {
  local pid
  for pid in $(pgrep -P "$held"); do
    grep -qs "^$k_nr " /proc/"$pid"/task/[0-9]*/syscall && return 0
  done
  return 1
}

wait_held() {
  for _ in $(seq 1 200); do
    is_held && return 0
    sleep 0.05
  done
  return 1
}

# (The second hold follows the first within microseconds, for another 3 s.)
held_again() {
  sleep 3.5
  is_held || fail "ingest never made its second exchange: $(cat "$1.err")"
}

# project NAME [--phantom]: a project whose build/ holds a.bin (ingested) and a new c.bin
# with the same content, which ingest will replace by a link to a.bin's blob (Solid) or
# take off its path (Phantom).
project() {
  mkdir -p "$1/build"
  head -c 70000 /dev/urandom > "$1.a"
  cp "$1.a" "$1/build/a.bin"
  "$VRIFT" -C "$1" init -q
  "$VRIFT" -C "$1" ingest -q ${2:-}
  cp "$1.a" "$1/build/c.bin"
}

# after NAME WANT [--phantom]: (once the held ingest is done) the path holds WANT's
# content, ingest said it left it, and the next ingest records it (in Phantom, the blob
# recorded holds it: cas verify).
# The path is $c (build/c.bin unless set).
after() {
  local p=$1 want=$2 c=${c:-build/c.bin}
  [ "$(b3sum --no-names "$p/$c")" == "$(b3sum --no-names "$want")" ] ||
    fail "$p: the program's file was replaced by the projection"
  grep -q "left as they are: 1 file .*(e.g. $c)" "$p.out" || fail "$p: ingest did not say it left $c: $(cat "$p.out")"
  "$VRIFT" -C "$p" ingest -q ${3:-} || fail "$p: second ingest"
  "$VRIFT" -C "$p" ls "$c" | grep -q " $(b3sum --no-names "$want") $c$" ||
    fail "$p: the program's file is not what the manifest records: $("$VRIFT" -C "$p" ls "$c")"
  [ "${3:-}" == --phantom ] || [ "$(b3sum --no-names "$p/$c")" == "$(b3sum --no-names "$want")" ] ||
    fail "$p: second ingest lost the file"
  "$VRIFT" cas verify --deep > /dev/null || fail "$p: The Source does not verify"
  [ -z "$(ls -A "$VRIFT_CAS_ROOT/tmp")" ] || fail "$p: temps left in The Source: $(ls -A "$VRIFT_CAS_ROOT/tmp")"
}

head -c 5000 /dev/urandom > newer.bin

# --- a program renames its new file over the path (an editor's save, a session's break-before-write)
project r
ingest_held r
cp newer.bin r/build/.c.new && mv r/build/.c.new r/build/c.bin
wait "$held" || fail "ingest failed: $(cat r.err)"
after r newer.bin
pass "a file renamed over the path while ingest projected it stays"

# --- the path changes again while ingest puts the program's file back: the newest wins
project t
ingest_held t --twice
head -c 6000 /dev/urandom > newest.bin
cp newer.bin t/build/.c.new && mv t/build/.c.new t/build/c.bin
held_again t
cp newest.bin t/build/.c.new && mv t/build/.c.new t/build/c.bin
wait "$held" || fail "ingest failed: $(cat t.err)"
after t newest.bin
[ -z "$(find t/build -name '.vrift-tmp*')" ] || fail "temps left: $(ls -a t/build)"
pass "a path replaced twice while ingest projected it holds the newest file"

# --- a program opens the file being projected to write it (it waits on ingest's lease)
project w
ingest_held w
(cat newer.bin > w/build/c.bin) &
writer=$!
wait "$held" || fail "ingest failed: $(cat w.err)"
wait "$writer" || fail "the writer failed"
after w newer.bin
pass "a file opened for writing while ingest projected it keeps what was written, at its path"

# --- Phantom: the writer waits on the lease while ingest takes the file off its path
project pw --phantom
ingest_held pw --phantom
(cat newer.bin > pw/build/c.bin) &
writer=$!
wait "$held" || fail "ingest failed: $(cat pw.err)"
wait "$writer" || fail "the writer failed"
after pw newer.bin --phantom
pass "Phantom: a file opened for writing while ingest took it off its path stays, with what was written"

# --- Tier-1: the symlink is made in The Source's tmp/ and exchanged with the path from
# there; a file renamed over the path meanwhile goes back to it.
mkdir -p s/node_modules/pkg
head -c 70000 /dev/urandom > s/node_modules/pkg/c.bin
"$VRIFT" -C s init -q
ingest_held s
cp newer.bin s/node_modules/pkg/.c.new && mv s/node_modules/pkg/.c.new s/node_modules/pkg/c.bin
wait "$held" || fail "ingest failed: $(cat s.err)"
c=node_modules/pkg/c.bin after s newer.bin
[ -L s/node_modules/pkg/c.bin ] || fail "the second ingest did not make the Tier-1 symlink"
pass "Tier-1: a file renamed over the path while ingest put its symlink there stays"

# --- the copy made where no link to the blob can be: a locked Tier-1 blob, and a file
# with a second name elsewhere (so not its to hand over). Checked the same way.
mkdir -p k/node_modules/pkg k/build outside
head -c 70000 /dev/urandom > k.a
cp k.a k/node_modules/pkg/x.bin
"$VRIFT" -C k init -q
"$VRIFT" -C k ingest -q
blob=$(readlink -f k/node_modules/pkg/x.bin)
if lsattr "$blob" 2>/dev/null | cut -d' ' -f1 | grep -q i; then
  cp k.a k/build/c.bin && ln k/build/c.bin outside/c.bin
  ingest_held k
  cp newer.bin k/build/.c.new && mv k/build/.c.new k/build/c.bin
  wait "$held" || fail "ingest failed: $(cat k.err)"
  after k newer.bin
  [ "$(b3sum --no-names outside/c.bin)" == "$(b3sum --no-names k.a)" ] || fail "the file's other name changed"
  pass "a private copy standing in for a link to a locked blob leaves a replaced path as it is"
else
  echo "note: blobs cannot be made immutable here; the private-copy case is not reached"
fi

# --- nothing in the way: the same projection goes through
project n
ingest_held n
wait "$held" || fail "ingest failed: $(cat n.err)"
[ "$(stat -c %i n/build/c.bin)" == "$(stat -c %i n/build/a.bin)" ] || fail "the duplicate was not linked to its blob"
! grep -q "left as they are" n.out || fail "a projection with nothing in the way was left: $(cat n.out)"
pass "with nothing in the way the held projection links the duplicate"
