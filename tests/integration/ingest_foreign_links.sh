#!/usr/bin/env bash
# Files with other hard links are never turned into blobs: a package manager's store
# (pnpm links its files into node_modules), a `cp -al` backup or another checkout would
# keep a way to write into The Source, and ingest would change files it was not given.
# Such a file is stored as a copy; the outside names keep their inode, mode and flags,
# a write through them later leaves every blob matching its hash and the project reading
# what was ingested. Tier-1 symlinks to such copies still get the short (in-inode) name.
# Hard links inside the project (cargo links its outputs to each other) are stored the
# same way and keep the mode they had.
source "$(dirname "$0")/lib/common.bash"
need b3sum lsattr
cd "$SCRATCH"

for mode in solid phantom hardlink; do
  rm -rf store p
  mkdir -p store p/node_modules/pkg p/build
  printf 'module.exports = 1;\n' > store/index.js
  printf 'object code\n' > store/out.o
  chmod 0644 store/index.js store/out.o
  ln store/index.js p/node_modules/pkg/index.js
  ln store/out.o p/build/out.o
  printf '#!/bin/sh\necho tool\n' > p/build/tool
  chmod 0755 p/build/tool
  ln p/build/tool p/build/tool-1a2b3c  # a second name inside the project
  echo '{}' > p/package.json
  cd p
  "$VRIFT" init -q
  if [ "$mode" == hardlink ]; then
    sed -i 's/^link = "symlink"/link = "hardlink"/' .vrift/config.toml
  fi
  "$VRIFT" ingest -q "--$([ "$mode" == phantom ] && echo phantom || echo solid)" 2> ingest.err ||
    fail "$mode: ingest: $(cat ingest.err)"
  wait_for_trash  # a name already in The Source is a duplicate: its name goes in the background

  for f in index.js out.o; do
    expect_eq "$(stat -c '%a %h' "../store/$f")" "644 1" "$mode: mode and link count of the store's $f"
    lsattr "../store/$f" | grep -q '^[^ ]*i' && fail "$mode: the store's $f was made immutable"
  done
  expect_eq "$("$VRIFT" ls build | awk '$NF ~ /tool/ {print $3, $NF}' | tr '\n' ' ')" \
    "0755 build/tool 0755 build/tool-1a2b3c " "$mode: both names of the in-project link keep their mode"
  if [ "$mode" == solid ]; then
    target=$(readlink node_modules/pkg/index.js)
    [ "${#target}" -lt 60 ] || fail "$mode: the Tier-1 symlink names the long path: $target"
  fi

  # Writes through the outside names reach no blob.
  chmod u+w ../store/index.js ../store/out.o
  echo 'tampered' >> ../store/index.js
  echo 'tampered' >> ../store/out.o
  "$VRIFT" cas verify --deep > verify.out 2>&1 || fail "$mode: a write to the store reached a blob: $(cat verify.out)"
  # What the project holds (read in a session by the shim suites): the contents ingested.
  for f in node_modules/pkg/index.js build/out.o build/tool build/tool-1a2b3c; do
    case $f in
      *index.js) want='module.exports = 1;' ;;
      *out.o) want='object code' ;;
      *) want=$(printf '#!/bin/sh\necho tool') ;;
    esac
    expect_eq "$("$VRIFT" ls "$f" | awk '{print $5}')" "$(echo "$want" | b3sum | cut -c1-64)" "$mode: the hash recorded for $f"
  done
  "$VRIFT" doctor > doctor.out || fail "$mode: doctor: $(cat doctor.out)"
  cd ..
  pass "$mode: files linked from outside the project are stored as copies, the outside names untouched"
done
