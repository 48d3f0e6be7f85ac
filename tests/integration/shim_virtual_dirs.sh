#!/usr/bin/env bash
# [phantom] directories = "virtual": ingest removes the directories below the projected
# ones that it leaves empty, and a session makes one again, with its recorded mode and
# mtime, only when a program names it or changes an entry in it. Reading a file below a
# virtual directory makes nothing. Programs see the plain tree either way; the doctor
# finds nothing; "physical" keeps every directory, and brings them back. "tier1" (the
# default) does so for the directories of dependencies only; ingest keeps a directory a
# process works in; a switch to Solid made in two halves brings every directory back.
source "$(dirname "$0")/lib/common.bash"
need python3 node stat find
cd "$SCRATCH"

make_tree() {
  mkdir -p "$1/node_modules/a/lib/deep" "$1/node_modules/b/.bin" "$1/node_modules/@s/c" "$1/node_modules/ro/x"
  echo 'module.exports = require("./lib/x");' > "$1/node_modules/a/index.js"
  echo 'module.exports = 42;' > "$1/node_modules/a/lib/x.js"
  echo deep > "$1/node_modules/a/lib/deep/f.txt"
  echo c > "$1/node_modules/@s/c/c.txt"
  echo r > "$1/node_modules/ro/x/r.txt"
  ln -s ../a/index.js "$1/node_modules/b/.bin/a"
  chmod 0750 "$1/node_modules/a/lib"
  chmod 0555 "$1/node_modules/ro/x" "$1/node_modules/ro"
  touch -d '2001-02-03 04:05:06.123456789' "$1/node_modules/a/lib" "$1/node_modules/ro/x" "$1/node_modules/ro"
  touch -d '2002-03-04 05:06:07' "$1/node_modules/a" "$1/node_modules"
}
make_tree plain
virtual_project() {
  rm -rf p && cp -a plain p && cd p && "$VRIFT" init -q
  grep -q '^directories = "tier1"$' .vrift/config.toml || fail "directories is not tier1 by default"
  sed -i 's/^directories = "tier1"/directories = "virtual"/' .vrift/config.toml
  "$VRIFT" ingest -q --phantom
}
virtual_project
# On disk: the projected directory and the directories holding a symlink.
expect_eq "$(find node_modules | sort | tr '\n' ' ')" "node_modules node_modules/b node_modules/b/.bin node_modules/b/.bin/a " \
  "what a Phantom ingest leaves on disk"
"$VRIFT" doctor > doctor.out || fail "doctor with virtual directories: $(cat doctor.out)"

# The session sees the plain tree: names, types, modes, mtimes.
view='find node_modules -printf "%p %y %m %TY-%Tm-%Td %TT\n" | sort'
expect_eq "$("$VRIFT" run -- bash -c "$view")" "$(cd ../plain && bash -c "$view")" "find in a session"
# tar checks that no directory changed while it read it (ctime); making one changes its
# parent's, which a session does not show: tar exits 0, with the plain tree's listing.
cd .. && virtual_project
got=$("$VRIFT" run -- tar cf - node_modules 2> tar.err | tar tf - | sort) || fail "tar in a session: $(cat tar.err)"
[ ! -s tar.err ] || fail "tar in a session: $(cat tar.err)"
expect_eq "$got" "$(cd ../plain && tar cf - node_modules | tar tf - | sort)" "tar of virtual directories"
cd .. && virtual_project

# Reading files and resolving paths below virtual directories makes no directory.
got=$("$VRIFT" run -- bash -c 'cat node_modules/a/lib/deep/f.txt node_modules/@s/c/c.txt
  node -p "require(\"fs\").realpathSync.native(\"node_modules/a/lib/x.js\").slice(process.cwd().length)"')
expect_eq "$got" "deep
c
/node_modules/a/lib/x.js" "reads below virtual directories"
[ ! -e node_modules/a ] && [ ! -e node_modules/@s ] || fail "a read made directories: $(find node_modules -type d | sort | tr '\n' ' ')"
# node's require stats the package directory and lstats each directory on its way (as
# Python's os.path.realpath does): those are made.
got=$("$VRIFT" run -- bash -c 'node -p "require(\"./node_modules/a\")"; test -d node_modules/ro/x && echo dir')
expect_eq "$got" "42
dir" "node and test -d in virtual directories"
# test -d named node_modules/ro/x itself: made, with its recorded mode and mtime, and its
# parent's (made too) as well; node_modules keeps its own mtime.
expect_eq "$(stat -c '%n %a %y' node_modules/ro node_modules/ro/x | tr '\n' ' ')" \
  "$(cd ../plain && stat -c '%n %a %y' node_modules/ro node_modules/ro/x | tr '\n' ' ')" "directories made again"
expect_eq "$(stat -c %y node_modules)" "$(stat -c %y ../plain/node_modules)" "the mtime of the directory that gained one"

# Changes in virtual directories: each is made first, and recorded as usual.
"$VRIFT" run -- bash -c '
  set -e
  echo new > node_modules/a/lib/deep/new.txt
  mkdir node_modules/@s/c/sub
  if mkdir node_modules/a 2>/dev/null; then echo "mkdir of a virtual directory succeeded"; exit 1; fi
  if rmdir node_modules/a/lib/deep 2>/dev/null; then echo "rmdir of a non-empty virtual directory"; exit 1; fi
  mv node_modules/@s node_modules/@t
  rm -rf node_modules/ro' > changes.out 2>&1 || fail "changes in virtual directories: $(cat changes.out)"
"$VRIFT" ls > ls.out
grep -q ' node_modules/a/lib/deep/new.txt$' ls.out || fail "a file made in a virtual directory is not recorded"
grep -q ' node_modules/@t/c/sub$' ls.out && grep -q ' node_modules/@t/c/c.txt$' ls.out || fail "the moved virtual directory: $(grep @ ls.out)"
! grep -q ' node_modules/ro' ls.out || fail "rm -rf of a virtual directory left entries"
expect_eq "$("$VRIFT" run -- cat node_modules/a/lib/deep/new.txt node_modules/@t/c/c.txt | tr '\n' ' ')" "new c " "reading the changed tree"
"$VRIFT" doctor > doctor.out || fail "doctor after the changes: $(cat doctor.out)"

# A Phantom ingest again removes what is left empty; what holds files stays.
"$VRIFT" ingest -q
[ ! -e node_modules/@t ] || fail "a second ingest left an emptied directory: $(find node_modules/@t | head -3)"
expect_eq "$("$VRIFT" run -- cat node_modules/a/lib/deep/new.txt)" new "the file written in a session, after ingest"
check_invariants . "virtual directories"

# directories = "physical": ingest brings every directory back and keeps it.
sed -i 's/^directories = "virtual"/directories = "physical"/' .vrift/config.toml
"$VRIFT" ingest -q
expect_eq "$(find node_modules -type d | wc -l)" "$("$VRIFT" ls | awk '$1 == "dir"' | wc -l)" "directories on disk once physical"
expect_eq "$(stat -c '%a %y' node_modules/a/lib)" "$(stat -c '%a %y' ../plain/node_modules/a/lib)" "a directory made physical"
"$VRIFT" doctor > doctor.out || fail "doctor with physical directories: $(cat doctor.out)"
[ -z "$(find node_modules -type f)" ] || fail "physical directories brought files back"
cd ..
pass "Phantom: directories virtual until needed, made again as recorded; changes in them recorded; physical on request"

# --- the default: virtual where Tier-1 (dependencies), physical elsewhere (build outputs)
rm -rf t && mkdir t && cp -a plain/node_modules t/ && mkdir -p t/build/obj/sub && echo o > t/build/obj/sub/o.o
cd t
"$VRIFT" init -q
grep -q '^projected = \["node_modules", "build"\]$' .vrift/config.toml || fail "projected: $(grep '^projected' .vrift/config.toml)"
"$VRIFT" ingest -q --phantom
dirs_on_disk() { find node_modules build -type d | sort | tr '\n' ' '; }
expect_eq "$(dirs_on_disk)" "build build/obj build/obj/sub node_modules node_modules/b node_modules/b/.bin " \
  "directories on disk with the default"
(cd build/obj/sub && "$VRIFT" run -- cat o.o) > out.txt || fail "vrift run from a build directory: $(cat out.txt)"
expect_eq "$(cat out.txt)" o "a build output read from its directory"

# A directory some process works in stays, though empty: here one a session made.
"$VRIFT" run -- test -d node_modules/a/lib/deep || fail "test -d of a virtual directory"
(cd node_modules/a/lib/deep && exec sleep 60) &
worker=$!
sleep 0.2
"$VRIFT" ingest -q
[ -d node_modules/a/lib/deep ] || fail "ingest removed the working directory of a live process"
kill "$worker"; wait "$worker" 2>/dev/null || true
"$VRIFT" ingest -q
[ ! -e node_modules/a ] || fail "ingest kept an empty directory nobody works in: $(dirs_on_disk)"

# An ingest killed while it had a directory aside (src/project/leaving_dirs.hpp) leaves
# it under a temp name that keeps its own: the next ingest puts it back and takes it
# again; doctor names it and --repair puts it back.
sh -c 'exit 0' & wait $!
aside="node_modules/.vrift-tmp-$!-1.a"
cp -a ../plain/node_modules/a "$aside"
"$VRIFT" ingest -q
[ ! -e "$aside" ] && [ ! -e node_modules/a ] || fail "ingest after a killed one: $(find node_modules -maxdepth 1 | sort | tr '\n' ' ')"
expect_eq "$("$VRIFT" run -- cat node_modules/a/lib/x.js node_modules/a/lib/deep/f.txt | tr '\n' ' ')" "module.exports = 42; deep " \
  "files of a directory put back and taken again"
"$VRIFT" doctor > doctor.out || fail "doctor after putting a directory back: $(cat doctor.out)"
cp -a ../plain/node_modules/a "$aside"
expect_status 1 "$VRIFT" doctor > doctor.out
grep -q "stale temp" doctor.out || fail "doctor on a directory left aside: $(cat doctor.out)"
"$VRIFT" doctor --repair > repair.out 2>&1 || fail "doctor --repair of a directory left aside: $(cat repair.out)"
grep -q "put back under its own name" repair.out || fail "doctor --repair of a directory left aside: $(cat repair.out)"
[ ! -e "$aside" ] && [ -z "$(find node_modules/a -type f 2>/dev/null)" ] || fail "doctor --repair left the files aside or on disk"
"$VRIFT" doctor > doctor.out || fail "doctor after the repair: $(cat doctor.out)"
expect_eq "$("$VRIFT" run -- cat node_modules/a/lib/x.js)" "module.exports = 42;" "a file of the directory doctor put back"

# "virtual" takes the build outputs' directories too; "tier1" brings them back.
sed -i 's/^directories = "tier1"/directories = "virtual"/' .vrift/config.toml
"$VRIFT" ingest -q
expect_eq "$(dirs_on_disk)" "build node_modules node_modules/b node_modules/b/.bin " "directories on disk, all virtual"
sed -i 's/^directories = "virtual"/directories = "tier1"/' .vrift/config.toml
"$VRIFT" ingest -q
expect_eq "$(dirs_on_disk)" "build build/obj build/obj/sub node_modules node_modules/b node_modules/b/.bin " \
  "directories on disk, back to tier1"
"$VRIFT" doctor > doctor.out || fail "doctor after the switches: $(cat doctor.out)"

# To Solid in two halves (a PATH first, as an interrupted switch leaves it): every
# directory and file is back.
"$VRIFT" ingest -q --solid node_modules/a
"$VRIFT" ingest -q --solid
[ "$(tree_hashes . node_modules)" == "$(tree_hashes ../plain node_modules)" ] || fail "files differ after a switch to Solid in two halves"
expect_eq "$(cd node_modules && find . -type d | sort | tr '\n' ' ')" "$(cd ../plain/node_modules && find . -type d | sort | tr '\n' ' ')" \
  "directories after a switch to Solid in two halves"
"$VRIFT" doctor > doctor.out || fail "doctor after the switch to Solid: $(cat doctor.out)"
cd ..
pass "Phantom by default: dependencies' directories virtual, build outputs' on disk; working directories kept; a directory left aside put back; back to Solid in two halves"
