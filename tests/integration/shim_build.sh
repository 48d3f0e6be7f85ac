#!/usr/bin/env bash
# A real build inside `vrift run`, Solid and Phantom, compared with the same build on a
# plain copy: make -j2; make again (nothing to rebuild); touch one source (exactly its
# dependents rebuild: per-path mtimes are right even where a blob is shared); touch a
# header; make clean && make. Every output ends up recorded and projected (none left
# dirty or on disk in Phantom), The Source verifies, and a clone that shares the blobs
# (built earlier, so its outputs' blobs carry older times) sees no change.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/cproject.bash"
need make cc b3sum
cd "$SCRATCH"

make_project() { make_cproject "$1/build/cproj" 40; }

# The build sequence; each step prints what make ran (sorted: -j2 reorders).
STEPS=(
  'make -j2 2>&1 | sort && ./app'
  'make -j2 2>&1 | sort'
  'sleep 0.02 && touch src/u7.c && make -j2 2>&1 | sort && ./app'
  'sleep 0.02 && touch include/g1.h && make -j2 2>&1 | sort'
  'make clean 2>&1 && make -j2 2>&1 | sort && ./app'
)

tree_view() { (cd "$1/build/cproj" && find . -type f -print0 | sort -z | xargs -0 b3sum && find . -printf '%p %y %m\n' | sort); }

for mode in solid phantom; do
  rm -rf plain project clone
  make_project plain
  cp -a plain project
  cp -a plain clone
  # The clone is built first, outside any session, then ingested: its outputs' blobs
  # exist before the project's build makes the same bytes.
  (cd clone/build/cproj && make -s -j2 >/dev/null)
  (cd clone && "$VRIFT" init -q && "$VRIFT" ingest -q --$mode build)
  clone_before=$(cd clone && "$VRIFT" run -- bash -c "$(declare -f tree_view); tree_view .")
  (cd project && "$VRIFT" init -q && "$VRIFT" ingest -q --$mode build)
  for step in "${STEPS[@]}"; do
    want=$(cd plain/build/cproj && bash -c "$step") || fail "$mode: plain: $step"
    got=$(cd project/build/cproj && "$VRIFT" run -- bash -c "$step") || fail "$mode: session: $step: $got"
    expect_eq "$got" "$want" "$mode: what '$step' did"
  done
  session_view=$(cd project && "$VRIFT" run -- bash -c "$(declare -f tree_view); tree_view .")
  expect_eq "$session_view" "$(tree_view plain)" "$mode: the built tree"
  (cd project && "$VRIFT" ls) > "$SCRATCH/ls"
  for out in build/cproj/app build/cproj/obj/u7.o build/cproj/obj/main.d; do
    grep -q " $out\$" "$SCRATCH/ls" || fail "$mode: $out is not recorded"
  done
  "$VRIFT" cas verify --deep >/dev/null || fail "$mode: The Source does not verify"
  if [ $mode = phantom ]; then
    left=$(find project/build -type f)
    [ -z "$left" ] || fail "phantom: files left on disk: $left"
  else
    [ "$(stat -c %h project/build/cproj/app)" -ge 2 ] || fail "solid: app is not a link to its blob"
  fi
  clone_after=$(cd clone && "$VRIFT" run -- bash -c "$(declare -f tree_view); tree_view .")
  expect_eq "$clone_after" "$clone_before" "$mode: the clone sharing the blobs"
  pass "$mode: make, no-op make, touch rebuilds exactly the dependents, clean build; outputs recorded"
done
