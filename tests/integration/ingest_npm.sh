#!/usr/bin/env bash
# Ingest of a real node_modules, Solid (Tier-1 symlinks; hardlinks by config) and
# Phantom: every file's projection, mode, inode and content; dedup across projects;
# node runs on the hardlinked tree exactly as on the plain one.
source "$(dirname "$0")/lib/common.bash"
need b3sum python3 node
cd "$SCRATCH"

npm_tree plain
mkdir -p plain/build
for i in $(seq 1 40); do echo "object $((i % 7))" > plain/build/out$i.o; done
printf '#!/bin/sh\necho built\n' > plain/build/tool.sh; chmod 755 plain/build/tool.sh
before=$(tree_hashes plain node_modules build)
nfiles=$(find plain/node_modules plain/build -type f | wc -l)
[ "$nfiles" -gt 1000 ] || fail "fixture too small: $nfiles files"

# --- Solid, default Tier-1 link kind (symlink) -------------------------------------
cp -a plain solid && cd solid
"$VRIFT" init -q
"$VRIFT" --json ingest > ingest.json
python3 - "$nfiles" <<'PY'
import json, sys
s = json.load(open("ingest.json"))
n = int(sys.argv[1])
assert s["files"] == n and s["hashed"] == n and s["failed"] == 0, s
assert s["new_blobs"] < n, s        # the fixture has duplicate contents
assert s["tier1"] + s["tier2"] == n and s["tier2"] == 41, s
assert s["node_modules_symlinks"] == s["tier1"], s  # every Tier-1 file is under node_modules
PY
[ "$(tree_hashes . node_modules build)" == "$before" ] || fail "content changed by Solid ingest"

python3 - "$VRIFT_CAS_ROOT" <<'PY'
import os, stat, sys
cas = sys.argv[1]
for top in ("node_modules", "build"):
    for d, dirs, files in os.walk(top):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, name)
            st = os.lstat(p)
            if top == "node_modules":
                if name in (".bin",) or d.endswith(".bin"):
                    continue
                assert stat.S_ISLNK(st.st_mode), f"Tier-1 {p} is not a symlink"
                # a short name of the blob, so the symlink fits in its inode (no data block),
                # unless the root and the extension leave room for fewer than 16 id characters
                target = os.readlink(p)
                dot = name.rfind(".")
                ext = name[dot:] if dot > 0 and name[dot + 1:].isalnum() and len(name) - dot - 1 <= 10 else ""
                if len(cas) + 3 + len(ext) + 16 <= 59:
                    assert target[:len(cas) + 3] in (cas + "/s/", cas + "/x/") and len(target) <= 59, f"{p} -> {target}"
                    assert st.st_blocks == 0, f"{p} -> {target} took a data block"
                else:
                    assert target.startswith(cas + "/blake3/"), f"{p} -> {target}"
                blob = os.stat(target)
                plain = os.stat(os.path.join("..", "plain", p))
                want = 0o555 if plain.st_mode & 0o111 else 0o444
                assert stat.S_IMODE(blob.st_mode) == want, f"{target} mode {oct(blob.st_mode)}"
            else:
                assert stat.S_ISREG(st.st_mode), f"Tier-2 {p} is not a file"
                assert stat.S_IMODE(st.st_mode) in (0o444, 0o555), f"{p} mode {oct(st.st_mode)}"
                assert st.st_nlink >= 2, f"{p} shares no inode with a blob"
PY
# Every Tier-2 path is the very inode of the blob the manifest names for it.
"$VRIFT" ls build | while read -r kind tier mode size hash path; do
  [ "$kind" == file ] || continue
  ext=${path##*.}; x=; [ $((8#$mode & 0111)) -ne 0 ] && x=_x
  blob="$VRIFT_CAS_ROOT/blake3/${hash:0:2}/${hash}_${size}${x}.${ext}"
  [ "$(stat -c %i "$path")" == "$(stat -c %i "$blob")" ] || fail "$path is not linked to $blob"
  [ "$(b3sum --no-names "$blob")" == "$hash" ] || fail "$blob does not hash to its name"
done
# ...and each is the very inode of the blob the manifest names for it.
"$VRIFT" ls node_modules | while read -r kind tier mode size hash path; do
  [ "$kind" == file ] || continue
  blob=$(find "$VRIFT_CAS_ROOT/blake3/${hash:0:2}" -name "${hash}_${size}*" -samefile "$(readlink -f "$path")" -print -quit)
  [ -n "$blob" ] || fail "$path -> $(readlink "$path") is not the blob of $hash"
done
pass "Solid: Tier-1 fast symlinks to short names of 0444/0555 blobs, Tier-2 read-only hardlinks, content unchanged"

find node_modules -type d -printf '%P %C@ %T@\n' | sort > dirs.before
"$VRIFT" --json ingest > again.json
python3 -c 'import json; s=json.load(open("again.json")); assert s["hashed"] == 0 and s["unchanged"] == s["files"] and s["node_modules_symlinks"] == 0, s'
find node_modules -type d -printf '%P %C@ %T@\n' | sort > dirs.after
cmp -s dirs.before dirs.after || fail "re-ingest with nothing changed touched directories: $(diff dirs.before dirs.after | head -3)"
manifest_mtime=$(stat -c %y .vrift/manifest.lmdb/data.mdb)
"$VRIFT" ingest -q
[ "$(stat -c %y .vrift/manifest.lmdb/data.mdb)" == "$manifest_mtime" ] || fail "a second re-ingest with nothing changed wrote the manifest"
pass "re-ingest with nothing changed hashes nothing, leaves every directory alone, and then writes nothing"
cd ..

# --- a second project with the same tree stores no new blob --------------------------
blobs=$(count_blobs)
cp -a plain second && cd second
"$VRIFT" init -q
"$VRIFT" --json ingest > ingest.json
python3 -c 'import json; s=json.load(open("ingest.json")); assert s["new_blobs"] == 0, s'
[ "$(count_blobs)" -eq "$blobs" ] || fail "second project added blobs"
# Its duplicates went to the trash, which a background process empties.
wait_for_trash
check_invariants . "second project"
cd ..
pass "second project with the same tree: no new blob; its duplicates freed after ingest"

# --- Phantom -----------------------------------------------------------------------
cp -a plain phantom && cd phantom
"$VRIFT" init -q
sed -i 's/^directories = .*/directories = "virtual"/' .vrift/config.toml  # build/ too
"$VRIFT" ingest -q --phantom
[ -z "$(find node_modules build -type f)" ] || fail "regular files left in a Phantom project"
[ "$(find node_modules -type l | wc -l)" -eq "$(find ../plain/node_modules -type l | wc -l)" ] || fail "symlinks lost"
# Directories stay on disk only where they hold a symlink (the rest are virtual); a
# session sees all of them.
(cd ../plain && { echo node_modules; echo build; find node_modules build -type l -printf '%h\n' |
  while read -r d; do while [ "$d" != . ]; do echo "$d"; d=$(dirname "$d"); done; done; } | sort -u) > kept.want
find node_modules build -type d | sort > kept.have
diff kept.want kept.have > /dev/null || fail "directories on disk: $(diff kept.want kept.have | head -5)"
[ "$("$VRIFT" run -- find node_modules build -type d | wc -l)" -eq "$(find ../plain/node_modules ../plain/build -type d | wc -l)" ] ||
  fail "directories lost"
# Each file's content is in The Source under the hash the manifest records.
"$VRIFT" ls | awk '$1 == "phantom" {print $5 "  ./" $6}' | sort -k2 > manifest.sums
(cd ../plain && find node_modules build -type f -print0 | sort -z | xargs -0 b3sum | sed 's|  |  ./|') | sort -k2 > plain.sums
diff plain.sums manifest.sums > /dev/null || fail "manifest hashes differ from the files' b3sum"
"$VRIFT" cas verify --deep > /dev/null || fail "The Source does not verify"
# Back to Solid: the files become symlinks again, and ingest says what that means for Node.
"$VRIFT" ingest --solid > to_solid.out
grep -q "^note: $(find ../plain/node_modules -type f | wc -l) files under node_modules are now symlinks into The Source" to_solid.out ||
  fail "no note on Node and Tier-1 symlinks: $(cat to_solid.out)"
[ "$(find node_modules build -type d | wc -l)" -eq "$(find ../plain/node_modules ../plain/build -type d | wc -l)" ] ||
  fail "Solid again: directories not all on disk"
"$VRIFT" doctor > doctor.out || fail "Solid again: doctor: $(cat doctor.out)"
cd ..
pass "Phantom: only symlinks (and the directories holding them) stay; every file is in The Source by its hash; Solid again brings the directories back"

# --- Solid with tier1 link = hardlink: node runs on it as on the plain tree ------------
cp -a plain hard && cd hard
"$VRIFT" init -q
sed -i 's/^link = "symlink"/link = "hardlink"/' .vrift/config.toml
"$VRIFT" ingest > ingest.out
[ -z "$(find node_modules -type l ! -path '*/.bin/*')" ] || fail "hardlink config still made symlinks"
! grep -q "now symlinks" ingest.out || fail "a note on symlinks where none were made: $(cat ingest.out)"
cd ..
cat > require_all.js <<'JS'
const pkg = require(process.cwd() + "/package.json");
for (const dep of Object.keys(pkg.dependencies).sort()) {
  const m = require(require.resolve(dep, { paths: [process.cwd()] }));
  const keys = typeof m === "object" || typeof m === "function" ? Object.keys(m).sort().join(",") : "";
  console.log(dep, typeof m, keys);
}
console.log(require(process.cwd() + "/node_modules/lodash").chunk([1, 2, 3, 4, 5], 2));
console.log(require(process.cwd() + "/node_modules/semver").satisfies("1.2.3", "^1.0.0"));
JS
expected=$(cd plain && node ../require_all.js)
actual=$(cd hard && node ../require_all.js)
[ "$expected" == "$actual" ] || fail "node output differs on the hardlinked tree"
[ "$(tree_hashes hard node_modules build)" == "$before" ] || fail "content differs on the hardlinked tree"
pass "node requires every dependency from the hardlinked Solid tree, same output as plain"

# --- [tier1] link changed after ingest: the next ingest converts the files -------------
# relink FROM TO LEFTOVER: in ./phantom, set link = TO, ingest, expect no LEFTOVER
# (a `find` test) under node_modules, a clean doctor, a tree found unchanged afterwards
# and every file's content as before.
relink() {
  (cd phantom
   sed -i "s/^link = \"$1\"/link = \"$2\"/" .vrift/config.toml
   "$VRIFT" ingest > relink.out || fail "ingest after link = $2: $(cat relink.out)"
   left=$(find node_modules "${@:3}" | head -3)
   [ -z "$left" ] || fail "left after link = $2: $left"
   "$VRIFT" doctor > doctor.out || fail "doctor after link = $2: $(cat doctor.out)"
   "$VRIFT" ingest | grep -q ' 0 hashed, .* 0 re-projected' || fail "the tree is not found unchanged after link = $2")
  [ "$(tree_hashes phantom node_modules build)" == "$before" ] || fail "content differs after link = $2"
}
relink symlink hardlink -type l ! -path '*/.bin/*'
[ "$(cd phantom && node ../require_all.js)" == "$expected" ] || fail "node output differs on the converted tree"
pass "link = hardlink set after ingest: the next ingest turns the Tier-1 symlinks into files node runs from"

relink hardlink symlink -type f
pass "link = symlink again: the next ingest turns those files back into Tier-1 symlinks"
