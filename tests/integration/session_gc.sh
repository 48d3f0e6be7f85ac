#!/usr/bin/env bash
# A session's writes and gc: a file written while gc holds The Source (gc.lock taken
# exclusively) is not re-ingested at its close but left at its path as a private file,
# which the end of the session records (once gc is gone); with gc gone, the same write
# is re-ingested at once. In neither case is its content lost, and gc afterwards keeps
# every blob the session named.
source "$(dirname "$0")/lib/common.bash"
need bash b3sum flock
cd "$SCRATCH"
export HOME="$SCRATCH/home" SCRATCH
mkdir -p "$HOME" project/build
for i in 1 2 3; do echo "output $i" > project/build/out$i.txt; done
cd project
"$VRIFT" init -q
"$VRIFT" ingest -q --phantom build
[ -z "$(find build -type f)" ] || fail "Phantom ingest left files"

# in_session CMD: runs CMD in a live session (re-ingest at each last close). The shell
# that entered is not in the session itself, so files are written by programs it starts.
in_session() {
  bash --norc -c 'eval "$("$VRIFT" inception --shell bash 2>/dev/null)" && eval "$1" && "$VRIFT" wake --shell bash --end >/dev/null 2>&1' - "$1"
}

# --- gc holds The Source: the writes stay private files ---------------------------------
# The session writes while a stand-in for gc holds gc.lock, and looks at the project
# before gc lets go; the wake that ends the session then records the files.
flock -x "$VRIFT_CAS_ROOT/gc.lock" -c "touch '$SCRATCH/held'; while [ ! -e '$SCRATCH/release' ]; do sleep 0.05; done" &
holder=$!
while [ ! -e "$SCRATCH/held" ]; do sleep 0.05; done
# (The project is looked at from here, outside the session, while it waits.)
in_session 'sh -c "echo \"new while gc\" > build/new.txt && echo \"rewritten while gc\" > build/out1.txt" &&
  cat build/new.txt build/out1.txt > "$SCRATCH/seen.txt"; touch "$SCRATCH/written"
  while [ ! -e "$SCRATCH/looked" ]; do sleep 0.05; done; touch "$SCRATCH/release"' &
session=$!
while [ ! -e "$SCRATCH/written" ] && kill -0 $session 2>/dev/null; do sleep 0.05; done
find build -type f | sort > "$SCRATCH/private.txt"
"$VRIFT" ls build > "$SCRATCH/ls.txt"
touch "$SCRATCH/looked"
wait "$session" || fail "the session failed"
wait "$holder"
printf 'new while gc\nrewritten while gc\n' | cmp -s - "$SCRATCH/seen.txt" || fail "the session read back: $(cat "$SCRATCH/seen.txt")"
[ "$(tr '\n' ' ' < "$SCRATCH/private.txt")" == "build/new.txt build/out1.txt " ] ||
  fail "files written while gc held The Source are not private files at their paths: $(cat "$SCRATCH/private.txt")"
grep -q ' build/new.txt$' "$SCRATCH/ls.txt" && fail "new.txt was recorded while gc held The Source"
grep -q '^dirty .* build/out1.txt$' "$SCRATCH/ls.txt" || fail "out1.txt is not marked dirty: $(cat "$SCRATCH/ls.txt")"
pass "while gc holds The Source, a session's writes stay private files at their paths"

# --- the end of the session records them; gc keeps what the manifest names -----------
[ -z "$(find build -type f)" ] || fail "the end of the session left the private files: $(find build -type f)"
"$VRIFT" ls build | grep -q '^phantom .* build/new.txt$' || fail "new.txt is not recorded at the end of the session"
"$VRIFT" -q gc
in_session 'cat build/new.txt build/out1.txt build/out2.txt' > seen.txt
printf 'new while gc\nrewritten while gc\noutput 2\n' | cmp -s - seen.txt || fail "after the session and gc the session reads: $(cat seen.txt)"
check_invariants "$SCRATCH/project" "after the session and gc"
pass "the end of the session records them; gc then keeps every blob they need"

# --- without gc, the same kind of write is re-ingested at its close ----------------------
in_session 'sh -c "echo written freely > build/free.txt"'
[ ! -e build/free.txt ] || fail "a write with no gc running was not re-ingested at its close"
"$VRIFT" ls build | grep -q ' build/free.txt$' || fail "free.txt is not in the manifest"
"$VRIFT" -q gc
check_invariants "$SCRATCH/project" "after a re-ingest at close and gc"
pass "with no gc running, a session's write is re-ingested at its close and gc keeps it"
