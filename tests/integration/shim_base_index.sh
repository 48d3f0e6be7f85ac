#!/usr/bin/env bash
# A project whose manifest keeps a base index (`[manifest] index_min_entries`): ingest
# writes it; programs in a Phantom session read every file through it exactly as they
# read the plain tree; a session's writes and a re-ingest are seen at once, and the
# index is rebuilt after them (in the background after `vrift run`); doctor finds a
# damaged one and repairs it; below the threshold the index goes away.
source "$(dirname "$0")/lib/common.bash"
need b3sum node python3
cd "$SCRATCH"
mkdir -p p/node_modules
cd p
for d in $(seq 1 20); do
  mkdir -p "node_modules/pkg$d/lib"
  for f in $(seq 1 30); do echo "module.exports = 'module $d $f';" > "node_modules/pkg$d/lib/f$f.js"; done
done
ln -s pkg1 node_modules/alias
stamp_of() { od -An -tx8 -j8 -N8 "$1" | tr -d ' '; }  # the base state it was built for
listing() { find node_modules -type f -o -type l | sort | tr '\n' ' '; }
sums() { find node_modules -type f | sort | xargs b3sum; }
# node requires every module (through the alias too); python walks and reads the tree.
cat > require_all.js <<'JS'
const out = [];
for (let d = 1; d <= 20; d++) for (let f = 1; f <= 30; f++) out.push(require(`./node_modules/pkg${d}/lib/f${f}.js`));
out.push(require('./node_modules/alias/lib/f2.js'));
console.log(out.join(','));
JS
cat > read_all.py <<'PY'
import hashlib, os
for root, dirs, files in sorted(os.walk("node_modules")):
    for name in sorted(files):
        with open(os.path.join(root, name), "rb") as f:
            print(os.path.join(root, name), hashlib.sha256(f.read()).hexdigest())
PY
plain_list=$(listing)
plain_sums=$(sums)
plain_node=$(node require_all.js)
plain_python=$(python3 read_all.py)

"$VRIFT" init -q
sed -i 's/^index_min_entries = .*/index_min_entries = 1/' .vrift/config.toml
"$VRIFT" ingest -q --phantom
index=.vrift/manifest.lmdb/base.index
[ -s "$index" ] || fail "ingest wrote no base index"
[ -z "$(find node_modules -type f)" ] || fail "phantom: files left on disk"
export -f listing sums
expect_eq "$("$VRIFT" run -- bash -c listing)" "$plain_list" "the tree listed in a session"
expect_eq "$("$VRIFT" run -- bash -c sums)" "$plain_sums" "every file read in a session"
expect_eq "$("$VRIFT" run -- node require_all.js)" "$plain_node" "node requiring every module in a session"
expect_eq "$("$VRIFT" run -- python3 read_all.py)" "$plain_python" "python reading the tree in a session"
pass "ingest writes the base index; coreutils, node and python read the whole tree through it"

before=$(stamp_of "$index")
"$VRIFT" run -- bash -c "echo \"module.exports = 'changed';\" > node_modules/pkg3/lib/f3.js && rm node_modules/pkg4/lib/f4.js"
expect_eq "$("$VRIFT" run -- node -p "require('./node_modules/pkg3/lib/f3.js')")" changed "a module written in a session"
"$VRIFT" run -- test ! -e node_modules/pkg4/lib/f4.js || fail "a file removed in a session is still there"
# The re-ingest at the end of the run leaves the rebuild to a background process.
wait_rebuilt() {
  for _ in $(seq 150); do [ "$(stamp_of "$index")" != "$1" ] && return 0; sleep 0.2; done
  fail "the base index was not rebuilt after the run changed the base"
}
wait_rebuilt "$before"
expect_eq "$("$VRIFT" run -- node -p "require('./node_modules/pkg3/lib/f3.js')")" changed "the written module, through the rebuilt index"
before=$(stamp_of "$index")
"$VRIFT" run -- bash -c 'echo again > node_modules/pkg6/lib/f6.js'
wait_rebuilt "$before"
"$VRIFT" ingest -q
expect_eq "$("$VRIFT" run -- cat node_modules/pkg6/lib/f6.js)" again "a file written, then ingested"
expect_eq "$("$VRIFT" run -- node -p "require('./node_modules/pkg3/lib/f3.js')")" changed "the written module after re-ingest"
"$VRIFT" run -- test ! -e node_modules/pkg4/lib/f4.js || fail "the removed file came back after re-ingest"
expect_eq "$("$VRIFT" run -- node -p "require('./node_modules/pkg5/lib/f5.js')")" "module 5 5" "an untouched module after re-ingest"
check_iron_law "base index"
pass "writes and a re-ingest are seen at once, and the index follows the base"

# A damaged index (its slots emptied, as if its blocks never reached the disk): the
# session reads through it, doctor --deep says so, and --repair rebuilds it.
python3 - "$index" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    slots = struct.unpack("<Q", f.read(24)[16:24])[0]
    f.seek(40)
    f.write(bytes(8 * slots))
PY
"$VRIFT" run -- test ! -e node_modules/pkg5/lib/f5.js || fail "the session does not read through the index"
expect_status 1 "$VRIFT" doctor --deep > doctor.out
grep -q "damaged base index" doctor.out || fail "doctor --deep missed the damaged index: $(cat doctor.out)"
"$VRIFT" doctor --repair > doctor.out || fail "doctor --repair: $(cat doctor.out)"
grep -q "rebuilt" doctor.out || fail "doctor did not rebuild the index: $(cat doctor.out)"
"$VRIFT" doctor --deep > doctor.out || fail "doctor --deep after the repair: $(cat doctor.out)"
expect_eq "$("$VRIFT" run -- node -p "require('./node_modules/pkg5/lib/f5.js')")" "module 5 5" "a module required after the repair"
pass "doctor --deep finds a damaged index and --repair rebuilds it"

sed -i 's/^index_min_entries = 1$/index_min_entries = 1000000/' .vrift/config.toml
"$VRIFT" ingest -q
[ ! -e "$index" ] || fail "the base index stayed below the threshold"
expect_eq "$("$VRIFT" run -- node -p "require('./node_modules/pkg3/lib/f3.js') + require('./node_modules/pkg5/lib/f5.js')")" \
  "changedmodule 5 5" "node without the index"
pass "below the threshold the index goes away"
