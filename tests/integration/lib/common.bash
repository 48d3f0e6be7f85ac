# Shared by the integration suites: strict mode, a scratch directory, assertions.
# A suite sources this, then calls `need TOOL...` for what it cannot run without.
set -euo pipefail

: "${VRIFT:?set VRIFT to the vrift binary (ctest does)}"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/vrift-it-XXXXXX")
export VRIFT_CAS_ROOT="$SCRATCH/the_source"

cleanup() {
  chattr -R -i "$SCRATCH" 2>/dev/null || true
  chmod -R u+rwX "$SCRATCH" 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

# need TOOL...: skip the suite (exit 125) when a tool is missing.
need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 125; }
  done
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# expect_eq ACTUAL EXPECTED MESSAGE
expect_eq() { [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"; }

# expect_status CODE CMD...: run CMD, check its exit status.
expect_status() {
  local want=$1; shift
  local got=0
  "$@" || got=$?
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want"
}

# count_blobs [ROOT]: number of blob files in The Source.
count_blobs() { find "${1:-$VRIFT_CAS_ROOT}/blake3" -type f | wc -l; }

# npm_tree DIR: a real node_modules from the pinned small fixture, installed into DIR.
# Skips the suite when npm cannot reach its registry or cache.
npm_tree() {
  need node npm
  mkdir -p "$1"
  cp "$VRIFT_SRC/tests/fixtures/npm-small/package.json" "$VRIFT_SRC/tests/fixtures/npm-small/package-lock.json" "$1/"
  (cd "$1" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null 2>"$SCRATCH/npm.err") ||
    { echo "SKIP: npm ci failed (no registry or cache?): $(head -3 "$SCRATCH/npm.err")"; exit 125; }
}

# tree_hashes DIR [SUB...]: "<b3sum>  <path>" for every file or symlink below DIR (or its
# SUB directories), read through links as a program would, sorted by path.
tree_hashes() {
  local dir=$1; shift
  (cd "$dir" && find "${@:-.}" \( -type f -o -type l \) -print0 | sort -z | xargs -0 -r b3sum 2>/dev/null) || true
}

# check_iron_law MSG: in the project in the current directory, every blob hashes to its
# name (cas verify --deep) and, inside a session, every manifest entry reads its
# recorded bytes.
check_iron_law() {
  "$VRIFT" cas verify --deep > "$SCRATCH/verify.out" 2>&1 || fail "$1: The Source: $(cat "$SCRATCH/verify.out")"
  "$VRIFT" ls | awk '$1 == "file" || $1 == "phantom" { print $5 "  " substr($0, index($0, $6)) }' > "$SCRATCH/recorded"
  "$VRIFT" run -- b3sum --check --quiet "$SCRATCH/recorded" || fail "$1: a manifest entry does not read its recorded bytes"
}
