#!/usr/bin/env bash
# A project remembers The Source its files are in (.vrift/source). Run with another one
# (another VRIFT_CAS_ROOT, `sudo` with another home), every command refuses with one
# line naming both and changes nothing: no blob lands there, no link is re-made, no
# record changes. `--cas-root` with the right one works. The Source moved elsewhere: the
# first command says so once and binds the project to the new place; doctor names the
# Tier-1 symlinks still pointing at the old place and re-makes them, and so does ingest.
# A full `restore` unbinds the project, which can then go to another Source.
source "$(dirname "$0")/lib/common.bash"
need b3sum python3
cd "$SCRATCH"

make_project() {  # make_project DIR: Tier-1 files under node_modules, Tier-2 under build
  mkdir -p "$1/node_modules/dep/lib" "$1/build"
  for i in 1 2 3 4; do echo "dep $i" > "$1/node_modules/dep/lib/m$i.js"; done
  for i in 1 2 3; do echo "object $i" > "$1/build/o$i.o"; done
  echo "shared" > "$1/node_modules/dep/same.txt" && echo "shared" > "$1/build/same.txt"
  (cd "$1" && "$VRIFT" init -q)
}

A=$SCRATCH/source-a
B=$SCRATCH/source-b
make_project proj
tree_hashes proj node_modules build > proj.sums
(cd proj && VRIFT_CAS_ROOT=$A "$VRIFT" ingest -q node_modules build)
[ "$(readlink proj/.vrift/source)" == "$A" ] || fail "ingest did not record its Source: $(ls -la proj/.vrift)"
make_project other && (cd other && VRIFT_CAS_ROOT=$B "$VRIFT" ingest -q node_modules build)
blobs_b=$(count_blobs "$B")

# --- another Source: refused, nothing changed ----------------------------------------------
before=$(cd proj && find . -path ./.vrift -prune -o -printf '%p %y %i %l\n' | sort)
for cmd in "ingest node_modules" "ingest --phantom build" doctor "doctor --repair" status ls restore \
           "run -- cat node_modules/dep/lib/m1.js" "run --phantom -- cat build/o1.o"; do
  got=0
  (cd proj && VRIFT_CAS_ROOT=$B "$VRIFT" $cmd > out.txt 2> err.txt) || got=$?
  [ "$got" -eq 1 ] || fail "'vrift $cmd' with another Source exited $got: $(cat proj/err.txt)"
  expect_eq "$(cat proj/err.txt)" \
    "vrift: error: project's files are in another Source ($SCRATCH/proj): they are in $A, and this command uses $B; run it with --cas-root $A (or VRIFT_CAS_ROOT=$A)" \
    "'vrift $cmd' with another Source"
  [ ! -s proj/out.txt ] || fail "'vrift $cmd' with another Source printed: $(cat proj/out.txt)"
done
rm -f proj/out.txt proj/err.txt
expect_eq "$(cd proj && find . -path ./.vrift -prune -o -printf '%p %y %i %l\n' | sort)" "$before" "the tree after the refused commands"
expect_eq "$(count_blobs "$B")" "$blobs_b" "blobs in the other Source"
expect_eq "$(readlink proj/.vrift/source)" "$A" "the recorded Source"
(cd proj && "$VRIFT" --cas-root "$A" doctor > /dev/null) || fail "doctor with --cas-root naming the project's Source"
(cd proj && VRIFT_CAS_ROOT=$B "$VRIFT" --cas-root "$A" run -- cat node_modules/dep/lib/m2.js > out.txt) &&
  expect_eq "$(cat proj/out.txt)" "dep 2" "a run with --cas-root" && rm -f proj/out.txt
pass "with another Source every command refuses in one line and changes nothing; --cas-root works"

# --- The Source moved ---------------------------------------------------------------------
cp -a proj proj2   # (the copy's links and hardlinks name the same blobs)
(cd proj2 && VRIFT_CAS_ROOT=$A "$VRIFT" ingest -q node_modules build)
chattr -R -i "$A" 2>/dev/null || true
mv "$A" "$SCRATCH/moved"
A=$SCRATCH/moved
export VRIFT_CAS_ROOT=$A
(cd proj && "$VRIFT" status > /dev/null 2> err.txt) || fail "status after The Source moved: $(cat proj/err.txt)"
grep -qF "vrift: warning: the project's Source is gone ($SCRATCH/source-a): it uses $A from now on" proj/err.txt ||
  fail "no warning that the project's Source is gone: $(cat proj/err.txt)"
expect_eq "$(readlink proj/.vrift/source)" "$A" "the recorded Source after the move"
(cd proj && "$VRIFT" status > /dev/null 2> err.txt) && [ ! -s proj/err.txt ] || fail "the warning came twice: $(cat proj/err.txt)"
rm -f proj/err.txt
expect_status 1 bash -c "cd proj && '$VRIFT' doctor > ../doctor.out"
expect_eq "$(grep -c 'names its blob in a Source at another place' doctor.out)" 5 "Tier-1 links doctor names: $(cat doctor.out)"
(cd proj && "$VRIFT" doctor --repair > ../repair.out) || fail "doctor --repair after the move: $(cat repair.out)"
(cd proj && "$VRIFT" doctor > ../doctor.out) || fail "not clean after the repair: $(cat doctor.out)"
[ -z "$(find proj/node_modules -type l -lname "$SCRATCH/source-a/*")" ] || fail "links still name the old place"
expect_eq "$(tree_hashes proj node_modules build)" "$(cat proj.sums)" "the project's content after the repair"
check_invariants "$SCRATCH/proj" "after the move and the repair"
(cd proj2 && "$VRIFT" ingest -q node_modules build 2> ../ingest.err) || fail "ingest after the move: $(cat ingest.err)"
(cd proj2 && "$VRIFT" doctor > ../doctor.out) || fail "ingest left links to the old place: $(cat doctor.out)"
expect_eq "$(tree_hashes proj2 node_modules build)" "$(cat proj.sums)" "the second project's content after its ingest"
check_invariants "$SCRATCH/proj2" "after the move and a second ingest"
pass "The Source moved: one warning, then doctor --repair or ingest re-make the links in the new place"

# --- a full restore unbinds ----------------------------------------------------------------
(cd proj && "$VRIFT" restore -q) || fail "restore"
[ ! -e proj/.vrift/source ] && [ ! -L proj/.vrift/source ] || fail "a full restore kept the project bound"
(cd proj && VRIFT_CAS_ROOT=$B "$VRIFT" ingest -q node_modules build) || fail "ingest into another Source after a restore"
expect_eq "$(readlink proj/.vrift/source)" "$B" "the Source recorded by that ingest"
VRIFT_CAS_ROOT=$B check_invariants "$SCRATCH/proj" "in the other Source"
expect_eq "$(tree_hashes proj node_modules build)" "$(cat proj.sums)" "the project's content in the other Source"
pass "a full restore unbinds the project; it then goes to another Source"
