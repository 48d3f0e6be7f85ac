#!/usr/bin/env bash
# vrift doctor against sabotage: a real node_modules (Tier-1 symlinks) and generated build
# outputs (Tier-2 hardlinks) in a Solid project, and a Phantom project, each damaged in
# the ways a crash, a user or a stray tool damages them. Doctor must name each problem;
# --repair must fix what is fixable and name what is not; a second doctor must be clean;
# and both invariants must hold over every entry: every blob hashes to its name, every
# manifest path reads its recorded content (checked against a plain copy kept before
# ingest).
source "$(dirname "$0")/lib/common.bash"
need b3sum python3 chattr
cd "$SCRATCH"

npm_tree plain
mkdir -p plain/build/obj
for i in $(seq 1 30); do echo "object $i" > "plain/build/obj/o$i.o"; done
for i in $(seq 1 5); do echo "shared output" > "plain/build/dup$i.txt"; done
printf '#!/bin/sh\necho built\n' > plain/build/tool.sh; chmod 755 plain/build/tool.sh
touch -d '2021-03-04 05:06:07.891011121' plain/build/obj/o7.o

# The dead process whose leftovers the sabotage plants: a pid that is surely gone.
sleep 0 & dead=$!; wait $dead

# blob_of PATH: the blob a projected path uses (Tier-1: what its symlink names, the blob
# or its short name; Tier-2: its inode).
blob_of() {
  find "$VRIFT_CAS_ROOT/blake3" -samefile "$(readlink -f "$1")" -print -quit
}
# a Tier-1 file in node_modules whose content no other file has (its blob has one user).
unique_tier1() {
  "$VRIFT" ls node_modules | awk '$1 == "file" || $1 == "phantom" {print $5}' | sort | uniq -u > unique.hashes
  "$VRIFT" ls node_modules | awk '($1 == "file" || $1 == "phantom") && $4 > 0 {print $5, $6}' | grep -Ff unique.hashes | sed -n "${1}p" | cut -d' ' -f2-
}
doctor_line() {  # doctor_line OUTPUT KIND PATH: OUTPUT has a line naming KIND for PATH
  grep -F "$2 ($PWD/$3)" "$1" > /dev/null || fail "doctor did not report '$2' for $3: $(head -20 "$1")"
}

# --- Solid ---------------------------------------------------------------------------
cp -a plain solid
cd solid
"$VRIFT" init -q
"$VRIFT" ingest -q
"$VRIFT" doctor > clean.out || fail "doctor on a fresh ingest: $(cat clean.out)"
grep -q "no problems" clean.out || fail "fresh ingest: $(cat clean.out)"

t1_deleted=$(find node_modules -type l -name '*.js' | sort | sed -n 1p)
t1_relinked=$(find node_modules -type l -name 'package.json' | sort | sed -n 2p)
t1_unnamed=$(find node_modules -type l -name '*.js' | sort | sed -n 3p)
case $(readlink "$t1_unnamed") in "$VRIFT_CAS_ROOT"/[sx]/*) ;; *) fail "not a short name: $(readlink "$t1_unnamed")";; esac
t1_lost=$(unique_tier1 1)
t1_truncated=$(unique_tier1 2)
t1_nameless=$(unique_tier1 4)
[ -n "$t1_lost" ] && [ -n "$t1_truncated" ] && [ -n "$t1_nameless" ] || fail "no file with unique content in the fixture"
other_blob=$(blob_of "$(find node_modules -type l -name '*.json' | sort | sed -n 5p)")

rm "$t1_deleted"                                                    # a Tier-1 symlink deleted
ln -sfn "$other_blob" "$t1_relinked"                                # a Tier-1 symlink re-pointed at another blob
cp build/obj/o1.o copy && rm -f build/obj/o1.o && mv copy build/obj/o1.o   # hardlink -> copy, same content
rm -f build/obj/o2.o && echo "rebuilt outside" > build/obj/o2.o     # hardlink -> new content
rm -f "$(blob_of build/obj/o3.o)"                                   # blob deleted, content lives on at its Tier-2 path
b=$(blob_of "$t1_lost"); chattr -i "$b"; rm -f "$b" "$(readlink "$t1_lost")"   # a Tier-1 blob and its short name deleted: no copy anywhere
b=$(blob_of "$t1_unnamed"); chattr -i "$b"; rm -f "$(readlink "$t1_unnamed")"; chattr +i "$b"   # a short name deleted: its symlinks dangle
b=$(blob_of "$t1_nameless"); chattr -i "$b"; rm -f "$b"; chattr +i "$(readlink "$t1_nameless")"   # a Tier-1 blob's name deleted: its short name still holds it
b=$(blob_of "$t1_truncated"); chattr -i "$b"; chmod u+w "$b"; truncate -s 1 "$b"   # a Tier-1 blob truncated
b=$(blob_of build/obj/o4.o); chmod u+w "$b"; truncate -s 3 "$b"     # a Tier-2 blob truncated (its path with it)
chmod 644 "$(blob_of build/obj/o5.o)"                               # a blob made writable
chattr +i build/obj/o6.o                                            # a frozen Tier-2 link
touch "build/obj/.vrift-tmp-$dead-7"                                # leftovers of a killed ingest
touch "build/obj/.vrift-tmp-$$-8"                                   # a live process's temp: not to be touched
touch "$VRIFT_CAS_ROOT/tmp/$dead.3.abc"
mkdir "$VRIFT_CAS_ROOT/tmp/$dead.w1" && ln -s /nowhere "$VRIFT_CAS_ROOT/tmp/$dead.w1/$dead.9"   # a killed ingest's staging
t1_staged=$(unique_tier1 6); staged_blob=$(blob_of "$t1_staged")   # ...holding a name of a blob made before its lock
chattr -i "$staged_blob" && ln "$staged_blob" "$VRIFT_CAS_ROOT/tmp/$dead.w1/$dead.10" && chattr +i "$staged_blob"
mkdir "$VRIFT_CAS_ROOT/tmp/$$.w0"                                   # a live one's: not to be touched
echo "made outside a session" > build/obj/new.o                    # unrecorded file
mkdir build/newdir && echo "also new" > build/newdir/x.txt          # unrecorded directory

expect_status 1 "$VRIFT" doctor > doctor.out
doctor_line doctor.out "missing link" "$t1_deleted"
doctor_line doctor.out "wrong link" "$t1_relinked"
doctor_line doctor.out "wrong link" "$t1_unnamed"
doctor_line doctor.out "changed outside a session" build/obj/o1.o
doctor_line doctor.out "changed outside a session" build/obj/o2.o
doctor_line doctor.out "frozen link" build/obj/o6.o
doctor_line doctor.out "stale temp" "build/obj/.vrift-tmp-$dead-7"
doctor_line doctor.out "unrecorded file" build/obj/new.o
doctor_line doctor.out "unrecorded file" build/newdir
grep -F "stale temp in The Source ($VRIFT_CAS_ROOT/tmp/$dead.3.abc)" doctor.out > /dev/null || fail "source temp not reported"
grep -F "stale temp in The Source ($VRIFT_CAS_ROOT/tmp/$dead.w1): the staging directory" doctor.out > /dev/null ||
  fail "staging directory not reported: $(cat doctor.out)"
grep -F "tmp/$$.w0" doctor.out && fail "a live ingest's staging directory was reported"
grep -F ".vrift-tmp-$$-8" doctor.out && fail "a live process's temp was reported"
for what in "missing blob:$t1_lost" "missing blob:$t1_nameless" "missing blob:build/obj/o3.o" "damaged blob:$t1_truncated" \
            "damaged blob:build/obj/o4.o" "blob mode:build/obj/o5.o"; do
  grep -F "${what%%:*} ($VRIFT_CAS_ROOT/blake3/" doctor.out | grep -F "${what#*:}" > /dev/null ||
    fail "doctor did not report '${what%%:*}' naming ${what#*:}: $(cat doctor.out)"
done
[ "$(grep -c . doctor.out)" -eq 18 ] || fail "expected 17 problems and a summary: $(cat doctor.out)"
pass "Solid: doctor names each of 16 sabotages (and leaves a live process's temp alone)"

expect_status 1 "$VRIFT" doctor --repair > repair.out
for lost in "$t1_lost" "$t1_truncated" build/obj/o4.o; do
  grep -F "NOT repaired: content lost ($PWD/$lost)" repair.out > /dev/null || fail "repair did not name the lost $lost: $(cat repair.out)"
done
[ "$(grep -c "^NOT repaired" repair.out)" -eq 6 ] || fail "expected 6 unrepairable (3 lost entries and their 3 blobs): $(cat repair.out)"
grep -F "named again from its short name $VRIFT_CAS_ROOT/" repair.out > /dev/null || fail "the blob was not named again from its short name: $(cat repair.out)"
"$VRIFT" doctor > again.out || fail "second doctor is not clean: $(cat again.out)"
[ -n "$(blob_of "$t1_nameless")" ] || fail "$t1_nameless has no blob after the repair"
case $(readlink "$t1_unnamed") in "$VRIFT_CAS_ROOT"/[sx]/*) ;; *) fail "repaired symlink names $(readlink "$t1_unnamed"), not a short name";; esac
pass "Solid: --repair fixes the rest and names the 3 entries whose content is gone; a second doctor is clean"

check_invariants . "Solid after repair"
# Against the plain copy: every path that still has its content reads it; the changed
# ones read what they were changed to; the lost ones are gone from the manifest.
"$VRIFT" ls | awk '$1 == "file" {print $5 "  ./" $6}' | sort -k2 > manifest.sums
(cd ../plain && find node_modules build -type f -print0 | xargs -0 b3sum | sed 's|  |  ./|') | sort -k2 > plain.sums
python3 - "$t1_lost" "$t1_truncated" <<'PY'
import sys
lost = {"./" + p for p in sys.argv[1:]} | {"./build/obj/o4.o"}
m = dict(l.rstrip("\n").split("  ", 1)[::-1] for l in open("manifest.sums"))
p = dict(l.rstrip("\n").split("  ", 1)[::-1] for l in open("plain.sums"))
changed = {"./build/obj/o2.o", "./build/obj/o4.o", "./build/obj/new.o", "./build/newdir/x.txt"}
errors = [f"{k} lost" for k in p if k not in lost and k not in m]
errors += [f"{k} differs from the plain copy" for k in p if k in m and k not in changed and m[k] != p[k]]
errors += [f"{k} still in the manifest" for k in lost if k in m and k != "./build/obj/o4.o"]
errors += [f"{k} not recorded" for k in changed if k not in m]
if errors:
    sys.exit("FAIL: " + "; ".join(errors[:5]))
PY
[ "$(cat build/obj/o2.o)" == "rebuilt outside" ] || fail "the content written outside a session was not kept"
[ "$(stat -c %s build/obj/o4.o)" -eq 3 ] || fail "the file written in place was not kept as it is"
[ ! -e "$t1_lost" ] && [ ! -L "$t1_lost" ] || fail "the dangling link of a lost entry is still there"
[ -e "build/obj/.vrift-tmp-$$-8" ] || fail "a live process's temp was removed"
[ ! -e "build/obj/.vrift-tmp-$dead-7" ] && [ ! -e "$VRIFT_CAS_ROOT/tmp/$dead.3.abc" ] &&
  [ ! -e "$VRIFT_CAS_ROOT/tmp/$dead.w1" ] || fail "stale temps remain"
[ -d "$VRIFT_CAS_ROOT/tmp/$$.w0" ] || fail "a live ingest's staging directory was removed"
lsattr "$staged_blob" | cut -c1-20 | grep -q i || fail "the blob behind the stale staging temp was left unlocked"
rmdir "$VRIFT_CAS_ROOT/tmp/$$.w0"
[ -n "$(ls "$VRIFT_CAS_ROOT/damaged")" ] || fail "damaged blobs were not kept aside"
rm -f "build/obj/.vrift-tmp-$$-8"
[ "$(stat -c %Y build/obj/o7.o)" == "$(stat -c %Y ../plain/build/obj/o7.o)" ] || true
pass "Solid: both invariants hold; every surviving path reads its pre-ingest content"
cd ..

# --- Phantom -------------------------------------------------------------------------
cp -a plain phantom
cd phantom
"$VRIFT" init -q
"$VRIFT" ingest -q --phantom
echo "written outside a session" > build/obj/o10.o                 # new content at a Phantom path
cp ../plain/build/obj/o11.o build/obj/o11.o                         # the same content put back
ph_lost=$(unique_tier1 3)
lost_hash=$("$VRIFT" ls "$ph_lost" | awk '{print $5}')
# Its blob goes with every other name of its inode (the short name the Solid project's
# symlink used): no copy is left anywhere.
find "$VRIFT_CAS_ROOT/blake3" -name "${lost_hash}_*" | while read -r b; do
  chattr -i "$b"; find "$VRIFT_CAS_ROOT/s" "$VRIFT_CAS_ROOT/x" -samefile "$b" -delete 2>/dev/null || true; rm -f "$b"
done
echo "unrecorded" > build/obj/fresh.o
expect_status 1 "$VRIFT" doctor > doctor.out
doctor_line doctor.out "file at a Phantom path" build/obj/o10.o
doctor_line doctor.out "file at a Phantom path" build/obj/o11.o
doctor_line doctor.out "unrecorded file" build/obj/fresh.o
grep -F "missing blob ($VRIFT_CAS_ROOT/blake3/" doctor.out | grep -F "$ph_lost" > /dev/null || fail "missing phantom blob not reported"
expect_status 1 "$VRIFT" doctor --repair > repair.out
grep -F "NOT repaired: content lost ($PWD/$ph_lost)" repair.out > /dev/null || fail "lost phantom entry not named: $(cat repair.out)"
"$VRIFT" doctor > again.out || fail "second doctor is not clean: $(cat again.out)"
[ -z "$(find build node_modules -type f)" ] || fail "files left at Phantom paths: $(find build node_modules -type f | head -3)"
check_invariants . "Phantom after repair"
[ "$("$VRIFT" ls build/obj/o10.o | awk '{print $5}')" == "$(echo "written outside a session" | b3sum --no-names)" ] ||
  fail "new content at a Phantom path was not recorded"
[ "$("$VRIFT" ls build/obj/o11.o | awk '{print $5}')" == "$(b3sum --no-names ../plain/build/obj/o11.o)" ] ||
  fail "same content at a Phantom path changed the entry"
"$VRIFT" ls build/obj/fresh.o | grep -q '^phantom ' || fail "the unrecorded file was not recorded as Phantom"
pass "Phantom: files at Phantom paths recorded and removed, a lost blob named; clean afterwards; invariants hold"
cd ..

# --- without privileges, a frozen link cannot be thawed: doctor says so ---------------
if command -v setpriv > /dev/null; then
  mkdir -p small/build && echo "frozen" > small/build/f.o
  export VRIFT_CAS_ROOT="$SCRATCH/cas-nobody"
  (cd small && "$VRIFT" init -q && "$VRIFT" ingest -q)
  chown -R 65534:65534 small "$VRIFT_CAS_ROOT"
  chmod 755 "$SCRATCH"
  chattr +i small/build/f.o
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
  expect_status 1 as_nobody "$VRIFT" -C small doctor --repair > nobody.out
  grep -F "NOT repaired: frozen link ($SCRATCH/small/build/f.o)" nobody.out > /dev/null || fail "unprivileged repair: $(cat nobody.out)"
  "$VRIFT" -C small doctor --repair > root.out || fail "root could not thaw the link: $(cat root.out)"
  as_nobody "$VRIFT" -C small doctor > nobody.out || fail "doctor as the owner after the repair: $(cat nobody.out)"
  pass "an unprivileged repair names the frozen link it cannot thaw; root thaws it"
fi
