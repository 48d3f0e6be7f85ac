#!/usr/bin/env bash
# A project reached through a symlink (a home or workspace directory that is a link):
# the shell's $PWD names it by the link, the kernel by its real path, and programs get
# paths of both kinds. Inside `vrift run` and a shell session, a path through the link
# is the project's as much as the real one: Phantom files read and are written through
# it, a Solid file written through it is broken away from its blob first (the blob
# keeps its bytes), children whose environment was cleared keep it, and vrift commands
# take such paths. Leaving the session restores the environment.
source "$(dirname "$0")/lib/common.bash"
need b3sum
cd "$SCRATCH"
mkdir -p real/proj/build/sub
ln -s "$SCRATCH/real" link
echo hello > real/proj/build/a.txt
echo deep > real/proj/build/sub/c.txt

cd "$SCRATCH/link/proj"   # $PWD keeps the link
[ "$PWD" == "$SCRATCH/link/proj" ] || fail "the shell did not keep the logical path: $PWD"
"$VRIFT" init -q
"$VRIFT" ingest -q --phantom
[ -z "$(find build -type f)" ] || fail "phantom: files left on disk"

got=$("$VRIFT" run -- cat "$PWD/build/a.txt" "$PWD/build/sub/c.txt")
expect_eq "$got" "hello
deep" "phantom files read through the link"
got=$("$VRIFT" run -- bash -c 'echo new > "$PWD/build/b.txt" && cat "$PWD/build/b.txt" && ls "$PWD/build" | tr "\n" " "')
expect_eq "$got" "new
a.txt b.txt sub " "a file written through the link, then listed"
"$VRIFT" ls "$PWD/build/b.txt" | grep -q ' build/b.txt$' || fail "the file written through the link is not recorded"
got=$("$VRIFT" run -- env -i /bin/cat "$PWD/build/a.txt")
expect_eq "$got" hello "a child with an emptied environment"
(cd build/sub && "$VRIFT" run -- bash -c 'cat "$PWD/c.txt"') > out.txt || fail "from a subdirectory: $(cat out.txt)"
expect_eq "$(cat out.txt)" deep "a phantom file read through the link from a subdirectory"
rm out.txt
check_iron_law "phantom through the link"
pass "phantom: read, written and listed through a symlinked project path"

# The project named through the link with -C from outside it ($PWD elsewhere).
got=$(cd "$SCRATCH" && "$VRIFT" -C link/proj/ run -- cat "$SCRATCH/link/proj/build/a.txt")
expect_eq "$got" hello "a phantom file read through the link given with -C (relative)"
got=$(cd / && "$VRIFT" -C "$SCRATCH/link/proj/build" run -- bash -c "echo viaC > '$SCRATCH/link/proj/build/d.txt'; cat '$SCRATCH/link/proj/build/d.txt'")
expect_eq "$got" viaC "a file written and read through the link given with -C (a subdirectory)"
"$VRIFT" ls build/d.txt | grep -q ' build/d.txt$' || fail "the file written through -C's link is not recorded"
pass "phantom: a project given with -C through the link reads and writes through it"

# Solid: writing a Tier-2 file through the link must break it away from its blob.
"$VRIFT" ingest -q --solid
[ "$(stat -c %h build/a.txt)" -ge 2 ] || fail "solid: a.txt is not a link to its blob"
blob_before=$(b3sum --no-names "$VRIFT_CAS_ROOT"/blake3/*/"$(b3sum --no-names build/a.txt)"*)
"$VRIFT" run -- bash -c 'echo changed > "$PWD/build/a.txt"'
expect_eq "$(cat build/a.txt)" changed "solid: the file written through the link"
expect_eq "$(b3sum --no-names "$VRIFT_CAS_ROOT"/blake3/*/"$(echo hello | b3sum --no-names)"*)" "$blob_before" \
  "solid: the old blob's bytes"
check_iron_law "solid through the link"
pass "solid: a write through the link breaks the file away from its blob"

# A shell session started from the link sees the same; wake restores the environment.
"$VRIFT" ingest -q --phantom
got=$(bash --norc -c '
  before=$(env | grep -v "^_=" | sort)
  eval "$("$VRIFT" inception --shell bash 2>/dev/null)"
  cat "$PWD/build/sub/c.txt"
  eval "$("$VRIFT" wake --shell bash 2>/dev/null)"
  after=$(env | grep -v "^_=" | sort)
  [ "$before" == "$after" ] && echo "environment restored"')
expect_eq "$got" "deep
environment restored" "a session entered through the link"
pass "a shell session entered through the link reads phantom files; wake restores the environment"
