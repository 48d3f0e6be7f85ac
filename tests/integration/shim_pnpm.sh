#!/usr/bin/env bash
# pnpm, whose node_modules is hard links into its own store plus a symlink farm
# (node_modules/<pkg> -> .pnpm/<pkg>@<version>/node_modules/<pkg>). Ingest must leave
# pnpm's store as it was (its files are pnpm's: same mode, no immutable flag, same
# content, and `pnpm store status` finds nothing modified), and pnpm must keep working
# inside a session on the projection, Solid and Phantom: add, remove, reinstall from
# scratch, each step printing what it prints on a plain copy.
source "$(dirname "$0")/lib/common.bash"
need node npm b3sum lsattr
cd "$SCRATCH"
npm install --prefix "$SCRATCH/pnpm-tool" pnpm@9 --no-audit --no-fund --prefer-offline --loglevel=error \
  > /dev/null 2> pnpm-tool.err || { echo "SKIP: cannot install pnpm: $(head -3 pnpm-tool.err)"; exit 125; }
PNPM_BIN="$SCRATCH/pnpm-tool/node_modules/.bin/pnpm --store-dir $SCRATCH/pnpm-store"
PNPM="$PNPM_BIN --prefer-offline --reporter=silent"
export npm_config_update_notifier=false

# The store as pnpm left it: path, mode, content, immutable or not.
store_state() {
  (cd "$SCRATCH/pnpm-store" && find . -type f -printf '%p %m\n' | sort &&
    find . -type f -print0 | sort -z | xargs -0 b3sum && lsattr -R . 2>/dev/null | awk '$1 ~ /i/' | sort)
}
REQUIRE_ALL="node -e 'for (const m of Object.keys(require(\"./package.json\").dependencies)) {
  const x = require(m); console.log(m, typeof x, Object.keys(x).length) }'"
STEPS=(
  "$REQUIRE_ALL"
  "$PNPM add is-number@7.0.0 && node -p 'require(\"is-number\")(5)'"
  "$PNPM remove minimist && node -e 'try { require(\"minimist\") } catch (e) { console.log(e.code) }'"
  "rm -rf node_modules && $PNPM install --frozen-lockfile && $REQUIRE_ALL"
  "ls node_modules node_modules/.pnpm | grep -v '^\.modules.yaml$'"
)

mkdir fixture
cp "$VRIFT_SRC/tests/fixtures/npm-small/package.json" fixture/
(cd fixture && $PNPM install > ../install.out 2>&1) || { echo "SKIP: pnpm cannot install here: $(head -3 install.out)"; exit 125; }

for mode in solid phantom; do
  rm -rf plain project
  for copy in plain project; do
    mkdir $copy
    cp fixture/package.json fixture/pnpm-lock.yaml $copy/
    (cd $copy && $PNPM install --frozen-lockfile) || fail "$mode: pnpm install in $copy"
  done
  before=$(store_state)
  (cd project && "$VRIFT" init -q && "$VRIFT" ingest -q --$mode) || fail "$mode: ingest of a pnpm node_modules"
  after=$(store_state)
  [ "$after" == "$before" ] || fail "$mode: ingest changed pnpm's store: $(diff <(echo "$before") <(echo "$after") | head -5)"
  (cd project && "$VRIFT" run -- $PNPM_BIN store status) > status.out 2>&1 ||
    fail "$mode: pnpm store status after ingest: $(cat status.out)"
  compare_steps "$mode" "${STEPS[@]}"
  [ -z "$(cd project && find node_modules -type f | head -3)" ] || [ "$mode" == solid ] ||
    fail "$mode: files pnpm wrote are left unrecorded on disk"
  pass "$mode: pnpm add, remove and install from scratch in a session match a plain copy; its store untouched"
done
