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

# npm_tree DIR [FROM]: a real node_modules from a pinned package.json + lockfile (those
# in FROM, else the small fixture), installed into DIR. Skips the suite when npm cannot
# reach its registry or cache.
npm_tree() {
  need node npm
  local from=${2:-$VRIFT_SRC/tests/fixtures/npm-small}
  mkdir -p "$1"
  cp "$from/package.json" "$from/package-lock.json" "$1/"
  (cd "$1" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null 2>"$SCRATCH/npm.err") ||
    { echo "SKIP: npm ci failed (no registry or cache?): $(head -3 "$SCRATCH/npm.err")"; exit 125; }
}

# wait_for_trash: in the project in the current directory, waits (up to a minute) for
# the background process that frees the duplicates ingest moved to .vrift/trash/.
wait_for_trash() {
  for _ in $(seq 1 600); do [ -e .vrift/trash ] || return 0; sleep 0.1; done
  fail "the trash of replaced duplicates was not emptied: $(find .vrift/trash | head -3)"
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

# check_invariants PROJECT PHASE: the two invariants of the Iron Law over every entry.
#   P0-a: every blob in The Source hashes to its name (vrift cas verify --deep, and b3sum
#         of each blob as an independent oracle);
#   P0-b: every file the manifest holds reads its recorded content: through its path
#         (Solid), or from its blob (Phantom), checked with b3sum.
# With a third argument "interrupted", a Phantom path may also hold a file of its
# recorded content (a restore killed between writing a file and recording it).
check_invariants() {
  local project=$1 phase=$2 interrupted=${3:-}
  "$VRIFT" cas verify --deep > "$SCRATCH/verify.out" 2>&1 || fail "$phase: The Source does not verify: $(head -3 "$SCRATCH/verify.out")"
  "$VRIFT" -C "$project" ls > "$SCRATCH/ls.out" 2> "$SCRATCH/ls.err" || fail "$phase: manifest unreadable: $(cat "$SCRATCH/ls.err")"
  python3 - "$phase" "$VRIFT_CAS_ROOT" "$project" "$SCRATCH/ls.out" "$interrupted" <<'PY' || exit 1
import os, re, subprocess, sys
phase, cas, project, listing, interrupted = sys.argv[1:]
def b3(paths):
    out = {}
    for i in range(0, len(paths), 500):
        r = subprocess.run(["b3sum", "--"] + paths[i:i + 500], capture_output=True)
        for line in r.stdout.decode("utf-8", "surrogateescape").splitlines():
            h, p = line.split("  ", 1)
            out[p] = h
    return out
blobs = []
for d, _, files in os.walk(os.path.join(cas, "blake3")):
    blobs += [os.path.join(d, f) for f in files]
sums = b3(blobs)
bad = [b for b in blobs if sums.get(b) != os.path.basename(b)[:64]]
if bad:
    sys.exit(f"FAIL: {phase}: {len(bad)} blobs do not hash to their names, e.g. {bad[:3]}")
want = {}
for line in open(listing, encoding="utf-8", errors="surrogateescape"):
    kind, tier, mode, size, h, path = line.rstrip("\n").split(" ", 5)
    if kind in ("file", "phantom"):
        want[path] = (kind, h, int(size), int(mode, 8))
real = [os.path.join(project, p) for p, (k, *_ ) in want.items() if k == "file"]
got = b3(real)
wrong = []
for path, (kind, h, size, mode) in want.items():
    if kind == "file":
        if got.get(os.path.join(project, path)) != h:
            wrong.append(f"{path}: reads {got.get(os.path.join(project, path))}, manifest says {h}")
    else:
        at_path = os.path.join(project, path)
        if os.path.lexists(at_path) and not (interrupted and b3([at_path]).get(at_path) == h):
            wrong.append(f"{path}: a Phantom path exists physically")
        x = "_x" if mode & 0o111 else ""
        m = re.search(r"\.([A-Za-z0-9]{1,10})$", os.path.basename(path))
        ext = "." + m.group(1) if m and not re.fullmatch(r"\.[A-Za-z0-9]+", os.path.basename(path)) else ""
        blob = f"{cas}/blake3/{h[:2]}/{h}_{size}{x}{ext}"
        if not os.path.isfile(blob):
            wrong.append(f"{path}: its blob {blob} is missing")
if wrong:
    sys.exit(f"FAIL: {phase}: {len(wrong)} entries do not read their recorded content, e.g.\n  " + "\n  ".join(wrong[:5]))
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
tmp = os.path.join(cas, "tmp")
left = [n for n in (os.listdir(tmp) if os.path.isdir(tmp) else [])
        if re.fullmatch(r"[0-9]+\.w[0-9]+", n) and not alive(int(n.split(".")[0]))]
if left and not interrupted:
    sys.exit(f"FAIL: {phase}: staging directories of finished ingests left in The Source: {left[:3]}")
PY
}

# compare_steps MODE STEP...: runs each STEP (a bash command line) in ./plain, then inside
# `vrift run` in ./project; both must print the same (stdout and stderr, the directory's
# own path shown as ".", then piped through $STEP_FILTER, `cat` unless set). Then, in the
# project, the doctor must find nothing and every entry read its recorded bytes.
compare_steps() {
  local mode=$1; shift
  printf 'bash -c "$1" 2>&1 | sed "s|$PWD|.|g" | %s\n' "${STEP_FILTER:-cat}" > "$SCRATCH/run_step.sh"
  local step want got
  for step in "$@"; do
    want=$(cd plain && bash "$SCRATCH/run_step.sh" "$step")
    got=$(cd project && "$VRIFT" run -- bash "$SCRATCH/run_step.sh" "$step" 2>&1) || fail "$mode: vrift run: '$step': $got"
    expect_eq "$got" "$want" "$mode: what '$step' did"
  done
  (cd project && "$VRIFT" doctor > "$SCRATCH/doctor.out") || fail "$mode: the doctor finds problems: $(cat "$SCRATCH/doctor.out")"
  (cd project && check_iron_law "$mode")
}
