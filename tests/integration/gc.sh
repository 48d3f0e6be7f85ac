#!/usr/bin/env bash
# vrift gc removes exactly the blobs no registered project names: never one a project
# still reads (Solid Tier-1 symlinks, Tier-2 hardlinks, Phantom entries, executables),
# every one that nothing names any more (with its short name), stray temps and orphaned
# short names; it stops at a registered project that is gone until told to forget it,
# and a moved project is found again by the next command run in it. An ingest running
# beside a gc loop never loses a file (the reference lock).
source "$(dirname "$0")/lib/common.bash"
need b3sum python3
cd "$SCRATCH"

# gc_field JSON_FILE FIELD
gc_field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# A tree with Tier-1 (node_modules), Tier-2 (build), executables and shared content.
make_plain() {
  local dir=$1 tag=$2
  mkdir -p "$dir/node_modules/pkg/lib" "$dir/node_modules/pkg/bin" "$dir/build/obj"
  printf 'module.exports = 42;\n' > "$dir/node_modules/pkg/index.js"
  printf 'exports.x = "shared";\n' > "$dir/node_modules/pkg/lib/x.js"
  printf '#!/bin/sh\necho cli\n' > "$dir/node_modules/pkg/bin/cli" && chmod 755 "$dir/node_modules/pkg/bin/cli"
  printf 'own module of %s\n' "$tag" > "$dir/node_modules/pkg/lib/own-$tag.js"
  for i in 1 2 3; do printf 'object %s\n' "$i" > "$dir/build/obj/o$i.o"; done
  printf 'artifact of %s\n' "$tag" > "$dir/build/own-$tag.bin"
  printf '#!/bin/sh\necho %s\n' "$tag" > "$dir/build/run-$tag.sh" && chmod 755 "$dir/build/run-$tag.sh"
}

ingest_project() {  # DIR TAG [--phantom]
  make_plain "$1" "$2"
  (cd "$1" && "$VRIFT" init -q && "$VRIFT" ingest -q ${3:-} node_modules build)
}
ingest_project solid s
ingest_project phantom p --phantom
ingest_project other o
before_solid=$(tree_hashes solid node_modules build)
before_other=$(tree_hashes other node_modules build)
[ "$(ls "$VRIFT_CAS_ROOT/projects" | wc -l)" -eq 3 ] || fail "three projects should be registered"

# --- everything named: nothing goes ------------------------------------------------
blobs=$(count_blobs)
"$VRIFT" --json gc --dry-run > dry.json
"$VRIFT" --json gc > gc.json
for f in dry.json gc.json; do
  expect_eq "$(gc_field $f removed)" 0 "$f: blobs removed while every one is named"
  expect_eq "$(gc_field $f projects)" 3 "$f: projects read"
  expect_eq "$(gc_field $f blobs)" "$blobs" "$f: blobs seen"
done
expect_eq "$(count_blobs)" "$blobs" "blobs after a gc with nothing to remove"
for p in solid phantom other; do check_invariants "$SCRATCH/$p" "gc with nothing to remove ($p)"; done
pass "with every blob named by a project, gc and gc --dry-run remove nothing"

# --- a blob nothing names (cas put) goes, and only it ----------------------------------
printf 'loose content\n' > loose.txt
loose=$("$VRIFT" cas put loose.txt | awk '{print $2}')
[ -f "$loose" ] || fail "cas put made no blob"
"$VRIFT" --json gc --dry-run > dry.json
expect_eq "$(gc_field dry.json removed)" 1 "dry run: blobs that would go"
[ -f "$loose" ] || fail "gc --dry-run removed a blob"
"$VRIFT" --json gc > gc.json
expect_eq "$(gc_field gc.json removed)" 1 "blobs removed"
[ ! -e "$loose" ] || fail "the blob nothing names is still there"
expect_eq "$(count_blobs)" "$blobs" "blobs after removing the loose one"
pass "a blob no manifest names goes; gc --dry-run only counts it"

# --- content one project stopped using goes; shared content stays ------------------------
own_t1=$(b3sum --no-names solid/node_modules/pkg/lib/own-s.js)
own_t2=$(b3sum --no-names solid/build/own-s.bin)
short=$(readlink solid/node_modules/pkg/lib/own-s.js)
rm solid/node_modules/pkg/lib/own-s.js solid/build/own-s.bin
printf 'changed artifact\n' > solid/build/new.bin
(cd solid && "$VRIFT" ingest -q node_modules build)
"$VRIFT" --json gc > gc.json
expect_eq "$(gc_field gc.json removed)" 2 "blobs removed once solid dropped two files of its own"
[ -z "$(find "$VRIFT_CAS_ROOT/blake3" -name "${own_t1}_*")" ] || fail "the dropped Tier-1 blob is still there"
[ -z "$(find "$VRIFT_CAS_ROOT/blake3" -name "${own_t2}_*")" ] || fail "the dropped Tier-2 blob is still there"
case "$short" in
  "$VRIFT_CAS_ROOT"/s/*) [ ! -e "$short" ] || fail "the dropped blob's short name $short is still there" ;;
esac
for p in solid phantom other; do check_invariants "$SCRATCH/$p" "after dropping files ($p)"; done
[ "$(tree_hashes other node_modules build)" == "$before_other" ] || fail "other's files changed"
pass "blobs a project stopped naming go with their short names; every project still reads its files"

# --- a registered project that is gone stops gc; --forget-missing drops it ------------------
rm -rf other
blobs=$(count_blobs)
expect_status 1 "$VRIFT" gc
"$VRIFT" gc 2> gone.err || true
grep -q "registered project is gone ($SCRATCH/other)" gone.err || fail "no line naming the gone project: $(cat gone.err)"
expect_eq "$(count_blobs)" "$blobs" "blobs removed although a project is gone"
"$VRIFT" --json gc --forget-missing > gc.json
expect_eq "$(gc_field gc.json removed)" 3 "blobs only the deleted project named (own-o.js, own-o.bin, run-o.sh)"
expect_eq "$(ls "$VRIFT_CAS_ROOT/projects" | wc -l)" 2 "registered projects after forgetting one"
for p in solid phantom; do check_invariants "$SCRATCH/$p" "after forgetting a deleted project ($p)"; done
pass "a deleted project stops gc, with nothing removed, until --forget-missing forgets it"

# --- a moved project is found again by any command run in it -----------------------------
mv phantom moved
expect_status 1 "$VRIFT" gc
"$VRIFT" -C moved status > /dev/null
"$VRIFT" --json gc --forget-missing > gc.json
expect_eq "$(gc_field gc.json removed)" 0 "blobs removed after a project moved"
check_invariants "$SCRATCH/moved" "after the project moved"
pass "a moved project is registered again by the next command in it; gc keeps its blobs"

# --- stray temps and orphaned short names --------------------------------------------------
printf 'stray\n' > "$VRIFT_CAS_ROOT/tmp/old.stray" && touch -d '2 hours ago' "$VRIFT_CAS_ROOT/tmp/old.stray"
printf 'busy\n' > "$VRIFT_CAS_ROOT/tmp/new.stray"
sleep 0 & dead=$!; wait $dead
mkdir "$VRIFT_CAS_ROOT/tmp/$dead.w3" "$VRIFT_CAS_ROOT/tmp/$$.w3"   # staging of a killed ingest; of a live one
ln -s "$VRIFT_CAS_ROOT/blake3/x" "$VRIFT_CAS_ROOT/tmp/$dead.w3/$dead.17"
ln -s "$VRIFT_CAS_ROOT/blake3/y" "$VRIFT_CAS_ROOT/tmp/$$.w3/$$.18"
printf 'orphan content\n' > orphan.txt
orphan=$("$VRIFT" cas put orphan.txt | awk '{print $2}')
mkdir -p "$VRIFT_CAS_ROOT/s"
ln "$orphan" "$VRIFT_CAS_ROOT/s/OrphanShortName0000.txt" && rm -f "$orphan"  # a crash between the two removals
"$VRIFT" --json gc > gc.json
expect_eq "$(gc_field gc.json temps)" 2 "stray temps removed"
expect_eq "$(gc_field gc.json short_names)" 1 "orphaned short names removed"
[ ! -e "$VRIFT_CAS_ROOT/tmp/old.stray" ] && [ -e "$VRIFT_CAS_ROOT/tmp/new.stray" ] || fail "gc removed the wrong temps"
[ ! -e "$VRIFT_CAS_ROOT/tmp/$dead.w3" ] || fail "gc left a dead ingest's staging directory"
[ -L "$VRIFT_CAS_ROOT/tmp/$$.w3/$$.18" ] || fail "gc removed a live ingest's staging"
rm -rf "$VRIFT_CAS_ROOT/tmp/$$.w3"
[ ! -e "$VRIFT_CAS_ROOT/s/OrphanShortName0000.txt" ] || fail "the orphaned short name is still there"
"$VRIFT" cas verify > /dev/null || fail "The Source does not verify after gc"
pass "temps older than an hour, dead ingests' staging and short names of no blob go; fresh and live temps stay"

# --- a stale temp naming a locked blob goes; the blob stays locked --------------------------
if [ "$(id -u)" -eq 0 ] && command -v chattr > /dev/null; then
  mkdir -p locked/node_modules/dep && echo "locked content" > locked/node_modules/dep/index.js
  (cd locked && "$VRIFT" init -q && "$VRIFT" ingest -q node_modules)
  blob=$(readlink -f locked/node_modules/dep/index.js)
  lsattr "$blob" | cut -c1-20 | grep -q i || fail "the Tier-1 blob was not locked: $(lsattr "$blob")"
  mkdir "$VRIFT_CAS_ROOT/tmp/$dead.w5"   # a killed ingest's staging, holding a name of the blob made before its lock
  chattr -i "$blob" && ln "$blob" "$VRIFT_CAS_ROOT/tmp/$dead.w5/$dead.1" && chattr +i "$blob"
  "$VRIFT" --json gc > gc.json
  [ ! -e "$VRIFT_CAS_ROOT/tmp/$dead.w5" ] || fail "gc left the staging directory"
  lsattr "$blob" | cut -c1-20 | grep -q i || fail "gc unlocked the blob behind the stale temp: $(lsattr "$blob")"
  pass "a stale temp naming a locked blob goes, and the blob stays locked"
fi

# --- ingest beside a gc loop loses nothing -------------------------------------------------
mkdir -p busy/build && (cd busy && "$VRIFT" init -q)
stop=$SCRATCH/stop
( while [ ! -e "$stop" ]; do "$VRIFT" -q gc || exit 1; done ) & gc_loop=$!
for round in 1 2 3 4 5 6 7 8; do
  # New content at the same Phantom paths: the last round's blobs become garbage.
  for i in $(seq 1 40); do printf 'round %s file %s\n' "$round" "$i" > "busy/build/f$i.txt"; done
  (cd busy && "$VRIFT" ingest -q --phantom build)
done
touch "$stop"
wait "$gc_loop" || fail "gc failed while ingest ran beside it"
"$VRIFT" --json gc > gc.json
expect_eq "$(gc_field gc.json blobs)" "$(gc_field gc.json referenced)" "blobs left beside the ones named"
check_invariants "$SCRATCH/busy" "ingest beside a gc loop"
expect_eq "$("$VRIFT" -C busy ls build | grep -c '^phantom')" 40 "phantom files"
for p in solid moved; do check_invariants "$SCRATCH/$p" "after the gc loop ($p)"; done
[ "$(tree_hashes solid node_modules)" == "$(echo "$before_solid" | grep -v own-s | grep node_modules)" ] ||
  fail "solid's node_modules reads differently"
pass "ingest running beside a gc loop: every recorded file keeps its blob"
