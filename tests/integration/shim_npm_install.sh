#!/usr/bin/env bash
# npm rewriting an ingested node_modules inside a session (Phantom and Solid): install
# another version of a package and a new one, remove one, then `npm ci` (node_modules
# removed and made again), as on a plain copy. npm
# replaces package directories by rename and rm -rf, writes through libuv, and rewrites
# node_modules/.package-lock.json. Afterwards node loads the new versions, the tree reads
# as the plain copy's, and both invariants hold.
source "$(dirname "$0")/lib/common.bash"
need b3sum
cd "$SCRATCH"
npm_tree fixture
NPM='npm --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error'
STEPS=(
  "$NPM install semver@7.6.3 >/dev/null && node -p 'require(\"semver/package.json\").version'"
  "$NPM install ms@2.1.3 >/dev/null && node -p 'require(\"ms\")(60000)'"
  "$NPM uninstall minimist >/dev/null && node -e 'try { require(\"minimist\"); } catch (e) { console.log(e.code) }'"
  # npm ci removes node_modules and makes it again: it stays projected, all recorded.
  "$NPM ci >/dev/null && node -p 'require(\"ms\")(60000)'"
)
# (A directory's size depends on the temps once created in it: not compared.)
listing() { (cd "$1" && find node_modules package.json package-lock.json -printf '%p %y %m\n' | sort && tree_hashes . node_modules); }

for mode in phantom solid; do
  rm -rf plain project
  cp -a fixture plain
  cp -a fixture project
  cd project
  "$VRIFT" init -q
  "$VRIFT" ingest -q --$mode node_modules
  for step in "${STEPS[@]}"; do
    want=$(cd ../plain && bash -c "$step" 2>&1) || { echo "SKIP: npm cannot install offline here: $want"; exit 125; }
    got=$("$VRIFT" run -- bash -c "$step" 2>&1) || fail "$mode: session: $step: $got"
    expect_eq "$got" "$want" "$mode: $step"
    check_iron_law "$mode: after '$step'"
  done
  session_view=$("$VRIFT" run -- bash -c "$(declare -f listing tree_hashes); listing .")
  plain_view=$(listing ../plain)
  [ "$session_view" == "$plain_view" ] ||
    fail "$mode: node_modules differs from the plain copy: $(diff <(echo "$plain_view") <(echo "$session_view") | head -20)"
  "$VRIFT" ls node_modules/ms/package.json > /dev/null || fail "$mode: node_modules is not recorded after npm ci"
  plain_files=$(find node_modules -type f | head -3)
  [ -z "$plain_files" ] || fail "$mode: files npm ci wrote are left unrecorded on disk: $plain_files"
  cd ..
  pass "$mode: npm install/uninstall/ci inside the session match the plain copy"
done

# --- vrift init before the first install: npm ci inside vrift run fills the projection --
rm -rf fresh && mkdir fresh
cp fixture/package.json fixture/package-lock.json fresh/
cd fresh
"$VRIFT" init -q
grep -q '^projected = \["node_modules"\]' .vrift/config.toml || fail "package.json does not project node_modules: $(cat .vrift/config.toml)"
"$VRIFT" ingest -q || fail "ingest before node_modules exists"
"$VRIFT" run -- bash -c "$NPM ci >/dev/null" || fail "npm ci inside vrift run"
"$VRIFT" ls node_modules/ms/package.json > /dev/null || fail "node_modules made by npm ci is not recorded"
plain_files=$(find node_modules -type f | head -3)
[ -z "$plain_files" ] || fail "files npm ci wrote are left unrecorded on disk: $plain_files"
"$VRIFT" doctor > doctor.out || fail "doctor after npm ci: $(cat doctor.out)"
session_view=$("$VRIFT" run -- bash -c "$(declare -f tree_hashes); tree_hashes . node_modules")
[ "$session_view" == "$(tree_hashes ../fixture node_modules)" ] || fail "node_modules differs from the fixture's"
check_iron_law "init before install"
cd ..
pass "init before the install: npm ci inside vrift run puts node_modules in the projection"

# --- the same in a shell session: files re-ingested at each close, the rest at wake --
rm -rf fresh2 && mkdir fresh2
cp fixture/package.json fixture/package-lock.json fresh2/
cd fresh2
"$VRIFT" init -q
NPM="$NPM" VRIFT="$VRIFT" bash --norc -c '
  eval "$("$VRIFT" inception --shell bash 2>/dev/null)"
  $NPM ci >/dev/null
  eval "$("$VRIFT" wake --shell bash 2>/dev/null)"' || fail "npm ci in a shell session"
"$VRIFT" ls node_modules/ms/package.json > /dev/null || fail "session: node_modules made by npm ci is not recorded"
plain_files=$(find node_modules -type f | head -3)
[ -z "$plain_files" ] || fail "session: files npm ci wrote are left unrecorded on disk: $plain_files"
"$VRIFT" doctor > doctor.out || fail "session: doctor after npm ci and wake: $(cat doctor.out)"
check_iron_law "npm ci in a shell session"
cd ..
pass "npm ci in a shell session: what close did not record, the last wake does"
