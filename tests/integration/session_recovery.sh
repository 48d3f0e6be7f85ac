#!/usr/bin/env bash
# Startup recovery: `vrift inception` runs doctor --repair before the session starts.
# A projection damaged outside any session (a deleted Tier-2 link, a Tier-1 symlink
# replaced by a copy with other content, a leftover temp of a dead writer) is named on
# stderr after "Entering the dream", repaired, and the session then reads every file as
# recorded; a clean project enters with a clean summary.
source "$(dirname "$0")/lib/common.bash"
need bash b3sum
cd "$SCRATCH"
export HOME="$SCRATCH/home"
mkdir -p "$HOME" project/build project/node_modules/pkg
for i in 1 2 3; do echo "output $i" > project/build/out$i.txt; done
echo "module.exports = 1;" > project/node_modules/pkg/index.js
cd project
"$VRIFT" init -q
"$VRIFT" ingest -q

enter() { bash --norc -c 'eval "$("$VRIFT" inception --shell bash)" && cat build/out1.txt node_modules/pkg/index.js && "$VRIFT" wake --shell bash --end >/dev/null' 2>&1; }

out=$(enter) || fail "inception on a clean project: $out"
grep -q "Entering the dream" <<<"$out" || fail "no greeting: $out"
grep -q "^recovery: " <<<"$out" || fail "no recovery summary on a clean project: $out"
grep -q "repaired" <<<"$out" && fail "a clean project reported repairs: $out"
pass "a clean project enters with a recovery summary and nothing repaired"

rm build/out1.txt                                   # a Tier-2 link deleted
rm node_modules/pkg/index.js && echo "edited outside" > node_modules/pkg/index.js  # user's newer content
echo partial > "build/.vrift-tmp-999999-0"         # a temp of a writer that is gone
out=$(enter) || fail "inception after sabotage: $out"
grep -q "^repaired: .*build/out1.txt" <<<"$out" || fail "the deleted link was not named as repaired: $out"
grep -q "^repaired: .*node_modules/pkg/index.js" <<<"$out" || fail "the edited file was not named: $out"
grep -q "^output 1$" <<<"$out" || fail "build/out1.txt does not read its content in the session: $out"
grep -q "^edited outside$" <<<"$out" || fail "the user's newer content was not kept: $out"
[ ! -e "build/.vrift-tmp-999999-0" ] || fail "the stale temp is still there"
"$VRIFT" doctor >/dev/null || fail "doctor still finds problems after the session started"
check_iron_law "after startup recovery"
pass "inception names and repairs a deleted link, a file edited outside a session and a stale temp"
