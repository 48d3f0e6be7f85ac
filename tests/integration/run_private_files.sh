#!/usr/bin/env bash
# Files not readable by everyone (lock files, keys) are never stored, since every blob is
# readable by everyone: ingest leaves them as plain files and says so in one note, the
# doctor does not count them as problems, and a recorded file made private inside a
# session (chmod 600) becomes the user's plain file with its new content, its entry gone.
# Phantom and Solid.
source "$(dirname "$0")/lib/common.bash"
need b3sum
cd "$SCRATCH"

for mode in phantom solid; do
  rm -rf p
  mkdir -p p/build/locks
  for i in 1 2 3; do echo "lock $i" > p/build/locks/$i.lock; chmod 600 p/build/locks/$i.lock; done
  echo public > p/build/readme.txt
  echo key > p/build/key.txt
  cd p
  "$VRIFT" init -q
  "$VRIFT" ingest --$mode > ingest.out 2> ingest.err || fail "$mode: ingest: $(cat ingest.err)"
  [ ! -s ingest.err ] || fail "$mode: ingest warned: $(cat ingest.err)"
  grep -q '^note: left as plain files, not stored: 3 files not readable by everyone (e.g. build/locks/[123].lock)' ingest.out ||
    fail "$mode: the ingest note: $(cat ingest.out)"
  for i in 1 2 3; do
    [ "$(stat -c %a build/locks/$i.lock)" == 600 ] && [ "$(cat build/locks/$i.lock)" == "lock $i" ] ||
      fail "$mode: private file $i changed"
  done
  "$VRIFT" ls | grep -q 'locks/1.lock' && fail "$mode: a private file is recorded"
  "$VRIFT" doctor > doctor.out || fail "$mode: the doctor counts private files: $(cat doctor.out)"

  "$VRIFT" run -- bash -c 'chmod 600 build/key.txt && echo more >> build/key.txt' || fail "$mode: chmod in the session"
  expect_eq "$(stat -c %a build/key.txt) $(cat build/key.txt | tr '\n' ' ')" "600 key more " "$mode: the file made private"
  "$VRIFT" ls | grep -q 'build/key.txt' && fail "$mode: the file made private is still recorded: $("$VRIFT" ls)"
  "$VRIFT" ls | grep -q 'build/readme.txt$' || fail "$mode: the public file is not recorded"
  "$VRIFT" doctor > doctor.out || fail "$mode: the doctor after chmod 600: $(cat doctor.out)"
  got=$("$VRIFT" run -- cat build/key.txt build/readme.txt)
  expect_eq "$got" "key
more
public" "$mode: both read in the session"
  check_iron_law "$mode"
  cd ..
  pass "$mode: private files stay plain and unrecorded, counted once; chmod 600 in a session hands a file back"
done
