#!/usr/bin/env bash
# Bad input gets one clear line and loses nothing: awkward names, symlink loops, special
# files, unreadable files, paths near PATH_MAX, a file changing under ingest, a full
# Source, a Source on another filesystem, a damaged or newer manifest.
source "$(dirname "$0")/lib/common.bash"
need python3 b3sum setpriv mdb_dump mdb_load
cd "$SCRATCH"

# --- names, loops, special files, long paths -----------------------------------------
mkdir -p p/build/deep
cd p/build
printf 'spaces' > 'with spaces.txt'
printf 'newline' > $'new\nline.txt'
printf 'latin1' > $'caf\xe9.txt'
printf 'backslash' > 'back\slash'
printf '' > empty.txt
printf 'twice' > linked-a.txt && ln linked-a.txt linked-b.txt
truncate -s 5M sparse.img && printf 'tail' >> sparse.img
ln -s loop-b loop-a && ln -s loop-a loop-b && ln -s missing dangling
mkfifo fifo
python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind("sock")'
mknod null-dev c 1 3 2>/dev/null || true
long=deep
while [ ${#long} -lt 3800 ]; do long="$long/$(printf 'd%.0s' $(seq 1 200))"; done
mkdir -p "$long" && printf 'deep content' > "$long/leaf.txt"
cd ../..
before=$(tree_hashes p build)
"$VRIFT" -C p init -q
"$VRIFT" -C p ingest 2> warn.txt > out.txt || fail "ingest failed: $(cat warn.txt)"
grep -q "skipped special file (.*build/fifo): a FIFO cannot be stored" warn.txt || fail "FIFO warning: $(cat warn.txt)"
grep -q "skipped special file (.*build/sock): a socket" warn.txt || fail "socket warning: $(cat warn.txt)"
[ -p p/build/fifo ] && [ -S p/build/sock ] || fail "special files were touched"
[ "$(tree_hashes p build)" == "$before" ] || fail "content changed"
[ "$(readlink p/build/loop-a)" == loop-b ] && [ "$(readlink p/build/dangling)" == missing ] || fail "symlinks changed"
"$VRIFT" -C p ls build > ls.txt
grep -qF 'symlink 2 0777 6 - build/loop-a -> loop-b' ls.txt || fail "loop not recorded as a symlink: $(grep loop ls.txt)"
grep -qF '\file 2 0644 7 ' ls.txt || fail "newline name not listed escaped: $(cat ls.txt)"
grep -qF "$(printf 'caf\xef\xbf\xbd.txt')" ls.txt || fail "non-UTF-8 name not listed"
grep -q "leaf.txt$" ls.txt || fail "path near PATH_MAX not ingested"
[ "$(stat -c %b p/build/sparse.img)" -lt 100 ] || fail "sparse file lost its holes"
[ "$(stat -c %i p/build/linked-a.txt)" == "$(stat -c %i p/build/linked-b.txt)" ] || fail "hardlinked pair no longer shares its blob"
[ "$(grep -c 'build/linked-[ab].txt$' ls.txt)" -eq 2 ] || fail "hardlinked pair not both recorded"
pass "awkward names, loops, special files, a hardlinked pair, a sparse file and a ~3,900-byte path"

# --- init refuses to nest or repeat without --force ------------------------------------
status=0; "$VRIFT" -C p init > /dev/null 2> err.txt || status=$?
expect_eq "$status" 1 "exit status of init in an existing project"
grep -q "already a vrift project; use --force" err.txt || fail "repeat-init message: $(cat err.txt)"
status=0; "$VRIFT" -C p/build init > /dev/null 2> err.txt || status=$?
expect_eq "$status" 1 "exit status of init inside a project"
grep -q "inside the project at .*/p; use --force" err.txt || fail "nested-init message: $(cat err.txt)"
"$VRIFT" -C p init -q --force || fail "init --force in an existing project"
"$VRIFT" -C p ls build > /dev/null || fail "init --force lost the manifest"
[ "$("$VRIFT" -C p ls build | wc -l)" -eq "$(wc -l < ls.txt)" ] || fail "init --force changed the manifest"
pass "init refuses to repeat or nest without --force, and --force keeps the manifest"

# --- an unreadable file (as an unprivileged user): warned, left alone ----------------
mkdir -p u/build && echo readable > u/build/ok.txt && echo secret > u/build/locked.txt
chmod 000 u/build/locked.txt
mkdir -p nobody-cas && chown -R 65534:65534 u nobody-cas && chmod 755 "$SCRATCH"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- env HOME=/nonexistent VRIFT_CAS_ROOT="$SCRATCH/nobody-cas" "$@"; }
as_nobody "$VRIFT" -C u init -q
status=0; as_nobody "$VRIFT" -C u ingest > /dev/null 2> warn.txt || status=$?
expect_eq "$status" 1 "exit status with an unreadable file"
grep -q "cannot ingest file (.*locked.txt): Permission denied" warn.txt || fail "unreadable warning: $(cat warn.txt)"
[ "$(cat u/build/ok.txt)" == readable ] && [ "$(stat -c %a u/build/locked.txt)" == 0 ] || fail "files changed"
pass "an unreadable file is named, left alone, and the rest ingested"

# --- a file that keeps changing while it is ingested ----------------------------------
mkdir -p c/build && head -c 20M /dev/urandom > c/build/growing.log
( while :; do head -c 65536 /dev/urandom >> c/build/growing.log; done ) &
writer=$!
"$VRIFT" -C c init -q
"$VRIFT" -C c ingest --phantom > out.txt 2> warn.txt || true
kill "$writer"; wait "$writer" 2>/dev/null || true
# Either the file was stored (what is at its path now was written after), or it was
# open or changing each time it was read, and ingest said so.
"$VRIFT" -C c ls build/growing.log > /dev/null 2>&1 ||
  grep -q "open in another process or replaced while being ingested (e.g. build/growing.log)" out.txt || grep -q "growing.log): it kept changing" warn.txt ||
  fail "a changing file neither stored nor named: $(cat out.txt warn.txt)"
"$VRIFT" cas verify --deep > /dev/null || fail "a changing file produced a bad blob"
pass "a file written during ingest is never stored under a wrong hash"

# --- a file another process has open: left as it is, recorded once it is closed --------
mkdir -p o/build && echo first > o/build/app.log && echo done > o/build/out.o
"$VRIFT" -C o init -q
exec 3>> o/build/app.log
"$VRIFT" -C o ingest > busy.out || fail "ingest with a file open elsewhere: $(cat busy.out)"
grep -q "^note: left as they are: 1 file open in another process or replaced while being ingested (e.g. build/app.log)" busy.out ||
  fail "no note on the open file: $(cat busy.out)"
"$VRIFT" -C o ls build/out.o > /dev/null || fail "the closed file was not ingested"
! "$VRIFT" -C o ls build/app.log > /dev/null 2>&1 || fail "the open file was recorded"
echo second >&3
exec 3>&-
[ "$(stat -c %h o/build/app.log)" == 1 ] && [ "$(cat o/build/app.log)" == "$(printf 'first\nsecond')" ] ||
  fail "the open file was changed: $(cat o/build/app.log)"
"$VRIFT" -C o ingest -q
"$VRIFT" -C o ls build/app.log > /dev/null || fail "the file was not recorded once closed"
"$VRIFT" cas verify --deep > /dev/null || fail "The Source does not verify"
pass "a file open in another process is left as it is, and recorded by the ingest after it is closed"

# --- The Source on another filesystem (EXDEV) ------------------------------------------
[ -d /dev/shm ] || { echo "note: no /dev/shm; skipping the cross-filesystem part"; exit 0; }
shm=$(mktemp -d /dev/shm/vrift-it-XXXXXX)
drop_shm() { chattr -R -i "$shm" 2>/dev/null || true; rm -rf "$shm"; }
trap 'cleanup; drop_shm' EXIT
mkdir -p x/node_modules/dep x/build && echo "dep" > x/node_modules/dep/i.js && echo "obj" > x/build/a.o && echo "obj" > x/build/b.o
"$VRIFT" -C x init -q
"$VRIFT" -C x --cas-root "$shm/src" --json ingest > x.json
python3 -c 'import json; s=json.load(open("x.json")); assert s["cross_filesystem"] and s["copies"] == 2 and s["failed"] == 0, s'
[[ "$(readlink x/node_modules/dep/i.js)" == "$shm/src/"* ]] &&
  [ "$(stat -L -c %i x/node_modules/dep/i.js)" == "$(stat -c %i "$(find "$shm/src/blake3" -name '*.js')")" ] ||
  fail "Tier-1 is not a symlink to the blob on the other filesystem"
[ "$(stat -c %a x/build/a.o)" == 444 ] && [ "$(cat x/build/a.o)" == obj ] || fail "Tier-2 copy is not a read-only private file"
"$VRIFT" -C x --cas-root "$shm/src" ingest -q --phantom
[ ! -e x/build/a.o ] && [ -d x/build ] || fail "Phantom across filesystems left the file"
"$VRIFT" --cas-root "$shm/src" cas verify --deep > /dev/null || fail "cross-filesystem blobs do not verify"
pass "a Source on another filesystem: Tier-1 symlinks, Tier-2 read-only copies, Phantom works"

# --- a full Source: one clear error, nothing lost --------------------------------------
mkdir "$shm/small"
if mount -t tmpfs -o size=2m tmpfs "$shm/small" 2>/dev/null; then
  trap 'umount "$shm/small" 2>/dev/null; cleanup; drop_shm' EXIT
  mkdir -p f/build && for i in $(seq 1 8); do head -c 1M /dev/urandom > f/build/big$i.bin; done
  sums=$(tree_hashes f build)
  "$VRIFT" -C f init -q
  status=0; "$VRIFT" -C f --cas-root "$shm/small/src" ingest --phantom > /dev/null 2> err.txt || status=$?
  expect_eq "$status" 1 "exit status with a full Source"
  grep -q "No space left on device; free some space" err.txt || fail "full-disk message: $(cat err.txt)"
  [ "$(tree_hashes f build)" == "$sums" ] || fail "files lost when The Source filled up"
  [ -z "$(ls -A "$shm/small/src/tmp")" ] || fail "temps left in a full Source"
  pass "a full Source: one error line, every file still in the project"

  # The same with many small chunks in flight (few descriptors): the chunks that
  # finished stay recorded and projected, the one that hit the limit records nothing.
  rm -rf "$shm/small/src"
  mkdir -p g/build && for i in $(seq 1 200); do head -c 16K /dev/urandom > g/build/f$i.bin; done
  sums=$(tree_hashes g build)
  "$VRIFT" -C g init -q
  status=0; (ulimit -n 300 && exec "$VRIFT" -C g --cas-root "$shm/small/src" ingest --solid > /dev/null 2> err.txt) || status=$?
  expect_eq "$status" 1 "exit status with a full Source, many chunks"
  grep -q "No space left on device; free some space" err.txt || fail "full-disk message, many chunks: $(cat err.txt)"
  [ "$(tree_hashes g build)" == "$sums" ] || fail "files lost when The Source filled up during chunked ingest"
  [ -z "$(ls -A "$shm/small/src/tmp")" ] || fail "temps left in a full Source, many chunks"
  recorded=$("$VRIFT" -C g --cas-root "$shm/small/src" ls build | grep -c '^file ' || true)
  [ "$recorded" -gt 0 ] && [ "$recorded" -lt 200 ] || fail "expected some chunks recorded before the Source filled, got $recorded of 200"
  "$VRIFT" -C g --cas-root "$shm/small/src" doctor > doctor.out 2>&1 || true
  # The unfinished chunk's files are simply not recorded yet; nothing else may be wrong.
  if grep -v -e '^unrecorded file' -e '^doctor:' -e '^  ' doctor.out | grep -q .; then
    fail "doctor after a chunked ingest hit a full Source: $(cat doctor.out)"
  fi
  pass "a full Source during chunked ingest: finished chunks kept, one error line, nothing lost"
else
  echo "note: cannot mount a small tmpfs here; skipping the full-disk part"
fi

# --- a damaged or newer manifest: a clear error, no crash --------------------------------
"$VRIFT" -C p status > /dev/null || fail "status on a good manifest"
cp -a p/.vrift/manifest.lmdb good.lmdb
mdb_dump -n -s meta p/.vrift/manifest.lmdb/data.mdb > meta.dump 2>/dev/null ||
  mdb_dump -s meta p/.vrift/manifest.lmdb > meta.dump
python3 - <<'PY'
lines = open("meta.dump").read().split("\n")
out, i = [], 0
while i < len(lines):
    out.append(lines[i])
    if lines[i].strip() == bytes("format", "ascii").hex():
        value = bytes.fromhex(lines[i + 1].strip())
        out.append(" " + (99).to_bytes(len(value), "little").hex())
        i += 2
        continue
    i += 1
open("meta.dump", "w").write("\n".join(out))
PY
mdb_load -s meta -f meta.dump p/.vrift/manifest.lmdb 2>/dev/null
status=0; "$VRIFT" -C p status > /dev/null 2> err.txt || status=$?
expect_eq "$status" 1 "exit status with a newer manifest"
grep -q "cannot open manifest (.*manifest.lmdb): .*newer" err.txt || fail "newer-version message: $(cat err.txt)"
rm -rf p/.vrift/manifest.lmdb && cp -a good.lmdb p/.vrift/manifest.lmdb
head -c 65536 /dev/urandom | dd of=p/.vrift/manifest.lmdb/data.mdb bs=1 seek=0 conv=notrunc status=none
status=0; "$VRIFT" -C p status > /dev/null 2> err.txt || status=$?
expect_eq "$status" 1 "exit status with a damaged manifest"
grep -q "cannot open manifest (.*manifest.lmdb): it is damaged or not a vrift manifest" err.txt || fail "damaged-manifest message: $(cat err.txt)"
[ "$(wc -l < err.txt)" -eq 1 ] || fail "more than one line for a damaged manifest: $(cat err.txt)"
pass "a newer or damaged manifest: one clear line, exit 1"
