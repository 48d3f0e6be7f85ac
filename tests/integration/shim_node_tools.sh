#!/usr/bin/env bash
# The heavy node tools of a real project on the reference node_modules (bench/corpus:
# typescript, eslint, jest, webpack, prettier, terser and their ~29,800 files), in a
# plain copy and inside `vrift run` on an ingested copy, Phantom and Solid (default
# tiers: every node_modules file a Tier-1 symlink): each prints the same and writes the
# same bytes. These tools resolve and read thousands of modules through realpath,
# statx, open and readdir from node's own threads.
source "$(dirname "$0")/lib/common.bash"
need b3sum
cd "$SCRATCH"
npm_tree corpus "$VRIFT_SRC/bench/corpus"
mkdir -p corpus/src corpus/test
cat > corpus/src/util.ts <<'TS'
export function add(a: number, b: number): number { return a + b; }
export const greet = (name: string): string => `hello ${name}`;
TS
cat > corpus/src/index.js <<'JS'
const _ = require('lodash');
module.exports = function main() { return _.chunk([1, 2, 3, 4, 5], 2).length; };
JS
cat > corpus/test/chunk.test.js <<'JS'
const main = require('../src/index.js');
test('chunks', () => { expect(main()).toBe(3); });
JS
cat > corpus/tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "es2020", "module": "commonjs", "outDir": "out", "strict": true }, "include": ["src/**/*.ts"] }
JSON
cat > corpus/eslint.config.js <<'JS'
module.exports = [{ files: ["src/**/*.js"], rules: { "no-unused-vars": "error", "semi": ["error", "always"] } }];
JS
cat > corpus/webpack.config.js <<'JS'
module.exports = { mode: 'production', entry: './src/index.js', target: 'node',
                   output: { path: __dirname + '/dist', filename: 'bundle.js', library: { type: 'commonjs2' } } };
JS
cat > steps.sh <<'SH'
echo "== tsc"; node_modules/.bin/tsc -p . 2>&1; echo "rc=$?"; b3sum out/util.js
echo "== eslint"; ESLINT_USE_FLAT_CONFIG=true node_modules/.bin/eslint src 2>&1; echo "rc=$?"
echo "== jest"; node_modules/.bin/jest --ci --no-cache 2>&1 | grep -E '^(Tests|Test Suites):'
echo "== webpack"; node_modules/.bin/webpack --no-stats 2>&1; echo "rc=$?"; b3sum dist/bundle.js
echo "== prettier"; node_modules/.bin/prettier --check src/util.ts 2>&1; echo "rc=$?"
echo "== terser"; node_modules/.bin/terser src/index.js -c -m | b3sum
echo "== require"; node -e '
  const deps = Object.keys(require("./package.json").dependencies);
  for (const d of deps) { try { require(d); console.log(d, "ok"); } catch (e) { console.log(d, e.code); } }'
SH
(cd corpus && bash ../steps.sh > ../plain.out 2>&1)
grep -q '^rc=0' plain.out && grep -q 'Tests: *1 passed' plain.out || fail "the tools fail on the plain copy: $(head -20 plain.out)"

for mode in phantom solid; do
  chattr -R -i project 2> /dev/null || true; rm -rf project
  cp -a corpus project
  rm -rf project/out project/dist
  (cd project && "$VRIFT" init -q && "$VRIFT" ingest -q "--$mode" node_modules)
  if [ "$mode" == solid ]; then
    [ -L project/node_modules/typescript/lib/tsc.js ] || fail "solid: not projected as Tier-1 symlinks"
  else
    [ ! -e project/node_modules/typescript/lib/tsc.js ] || fail "phantom: files still on disk"
  fi
  (cd project && "$VRIFT" run -- bash ../steps.sh > "../$mode.out" 2>&1) || true
  diff plain.out "$mode.out" > "$mode.diff" || fail "$mode: the tools print otherwise than on the plain copy:
$(head -30 "$mode.diff")"
  check_invariants "$SCRATCH/project" "$mode: after the tools ran"
  pass "$mode: tsc, eslint, jest, webpack, prettier, terser and require() of every dependency as on a plain copy"
done
