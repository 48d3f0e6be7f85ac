#!/usr/bin/env bash
# Directories the user removed outside a session (`rm -rf build`, `cargo clean`, a
# package deleted from node_modules): the next ingest drops every entry they held,
# Phantom files included (they live in their directory; a dependency's directory, which
# Phantom mode keeps virtual, is removed inside a session), keeps the rest, and succeeds;
# the doctor then finds nothing. A PATH given to ingest that does not exist is still an
# error, named.
source "$(dirname "$0")/lib/common.bash"
cd "$SCRATCH"

for mode in solid phantom; do
  rm -rf p
  mkdir -p p/node_modules/a p/node_modules/b/lib p/build/sub
  echo a > p/node_modules/a/index.js
  echo b > p/node_modules/b/lib/index.js
  echo o > p/build/out.o
  echo s > p/build/sub/deep.o
  cd p
  "$VRIFT" init -q
  "$VRIFT" ingest -q --$mode
  expect_eq "$("$VRIFT" ls | wc -l)" 10 "$mode: entries after the first ingest"
  "$VRIFT" ingest > again.out || fail "$mode: ingest again: $(cat again.out)"
  expect_eq "$("$VRIFT" ls | wc -l)" 10 "$mode: entries after an ingest with nothing changed"

  removed=6
  if [ $mode = phantom ]; then
    # node_modules/a is a dependency's directory, virtual in Phantom mode (not on disk):
    # only a session can remove it, and the session's end records that.
    [ ! -e node_modules/a ] || fail "phantom: node_modules/a is on disk"
    "$VRIFT" run -- rm -rf node_modules/a || fail "phantom: rm -rf in a session"
    removed=4
  fi
  rm -rf build node_modules/a
  "$VRIFT" ingest > removed.out 2>&1 || fail "$mode: ingest after rm -rf: $(cat removed.out)"
  grep -q " $removed removed," removed.out || fail "$mode: what ingest removed: $(cat removed.out)"
  expect_eq "$("$VRIFT" ls | awk '{print $NF}' | tr '\n' ' ')" "node_modules node_modules/b node_modules/b/lib node_modules/b/lib/index.js " \
    "$mode: the entries left"
  "$VRIFT" doctor > doctor.out || fail "$mode: doctor: $(cat doctor.out)"

  status=0
  "$VRIFT" ingest nope 2> err.txt || status=$?
  expect_eq "$status" 1 "$mode: exit status of ingest of a missing PATH"
  grep -q "cannot ingest (.*/p/nope): No such file or directory" err.txt || fail "$mode: message: $(cat err.txt)"
  cd ..
  pass "$mode: removed projected directories leave the manifest at the next ingest, Phantom files with them"
done

# --- a mode asked for with PATHs: recorded when they hold every projected directory ----
rm -rf m && mkdir -p m/node_modules/a m/build
echo a > m/node_modules/a/index.js && echo o > m/build/out.o
cd m
"$VRIFT" init -q
grep -q '^projected = \["node_modules", "build"\]$' .vrift/config.toml || fail "projected: $(grep '^projected' .vrift/config.toml)"
"$VRIFT" ingest --phantom node_modules > part.out 2>&1
grep -q '^mode = "solid"$' .vrift/config.toml || fail "ingest --phantom of part of the project recorded the mode"
grep -q "^note: the project stays in solid mode" part.out || fail "no note on a partial mode: $(cat part.out)"
[ ! -e node_modules/a/index.js ] || fail "node_modules/a/index.js is not phantom"
"$VRIFT" ingest --phantom build node_modules > whole.out 2>&1
grep -q '^mode = "phantom"$' .vrift/config.toml || fail "ingest --phantom of every projected directory did not record the mode"
! grep -q "^note: the project stays" whole.out || fail "a note on a whole-project switch: $(cat whole.out)"
"$VRIFT" ingest -q
[ ! -e build/out.o ] && [ ! -e node_modules/a/index.js ] || fail "a plain ingest after the switch made files Solid again"
cd ..
pass "ingest --phantom PATH... records the mode when the PATHs hold every projected directory, and says so when not"
