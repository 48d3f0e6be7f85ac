# Shared by the shim suites (tests/integration/shim_*.sh), sourced after lib/common.bash:
# builds the probes, lays out a test tree, runs a command on the plain copy and inside a
# vrift session on the project copy, and compares the two. A check never stops the suite:
# every check prints `ok: NAME` or `FAIL: NAME` (with the diff), and `probe_summary`
# prints "N passed, N failed" and gives the suite's exit status.
#
# Environment:
#   VRIFT_PROBE_SELFTEST=1  run every "session" command on a second plain copy with `env`
#                           instead of `vrift run`: proves the harness has no false failures
#   VRIFT_PROBE_KEEP=DIR    keep every output pair (and diff) under DIR for inspection
#   VRIFT_PROBE_ONLY=RE     run only checks whose name matches the extended regex RE

PROBES_SRC=${VRIFT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/probes
SHIM=${VRIFT_SHIM:-$(dirname "$VRIFT")/libvrift_shim.so}
SELFTEST=${VRIFT_PROBE_SELFTEST:-0}
export LC_ALL=C TZ=UTC
PROBE_PASSED=0
PROBE_FAILED=0
PROBE_FAILED_NAMES=()

# probe_build OUT [VARIANT...]: the probe in three builds (or the ones named),
# OUT/<variant>/probe. (The programs that live in the tree are compiled by make_tree.)
#   plain   -O0, no fortify: open, stat, readdir, realpath... by their plain names
#   fortify -O2 -D_FORTIFY_SOURCE=2: __open_2, __openat_2, __realpath_chk, __readlink_chk...
#   lfs     -D_FILE_OFFSET_BITS=64: open64, stat64, readdir64, fts64_*, glob64, nftw64...
PROBE_VARIANTS=(plain fortify lfs)
probe_build() {
  local out=$1 cc=${CC:-cc} v flags
  shift
  [ $# -gt 0 ] || set -- "${PROBE_VARIANTS[@]}"
  local variants=("$@")
  for v in "${variants[@]}"; do
    case $v in
      plain) flags="-O0 -U_FORTIFY_SOURCE" ;;
      fortify) flags="-O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2" ;;
      lfs) flags="-O1 -U_FORTIFY_SOURCE -D_FILE_OFFSET_BITS=64" ;;
    esac
    mkdir -p "$out/$v"
    # shellcheck disable=SC2086
    $cc -std=gnu11 -g -Wall -Wextra -Wno-unused-result -Wno-unused-parameter $flags \
      -o "$out/$v/probe" "$PROBES_SRC/probe.c" -ldl -lpthread ||
      { echo "FAIL: probe ($v) does not compile"; exit 1; }
  done
  # The builds import the names they are meant to exercise.
  [ "${#variants[@]}" -eq "${#PROBE_VARIANTS[@]}" ] || return 0
  local imports
  imports=$(nm -D --undefined-only "$out/fortify/probe")
  for sym in __open_2 __openat_2 __realpath_chk __readlink_chk __snprintf_chk; do
    grep -q " $sym@" <<<"$imports" || { echo "FAIL: the fortify probe does not import $sym"; exit 1; }
  done
  imports=$(nm -D --undefined-only "$out/lfs/probe")
  for sym in open64 openat64 stat64 lstat64 fstatat64 readdir64 scandir64 fts64_open fts64_read fts64_set glob64 nftw64 \
    fopen64 statfs64 fstatfs64 statvfs64 fstatvfs64; do
    grep -q " $sym@" <<<"$imports" || { echo "FAIL: the lfs probe does not import $sym"; exit 1; }
  done
  for sym in stat lstat readdir fts_open statfs fstatvfs; do
    ! grep -q " $sym@" <<<"$imports" || { echo "FAIL: the lfs probe still imports $sym"; exit 1; }
  done
  imports=$(nm -D --undefined-only "$out/plain/probe")
  for sym in open stat lstat fstatat readdir realpath readlink __xstat __lxstat __fxstat __xstat64 statx \
    scandirat readdir_r getdents64 euidaccess fts_open fts_set fts_children nftw glob posix_spawn execve dlopen statfs \
    statvfs fstatfs; do
    grep -q " $sym@" <<<"$imports" || { echo "FAIL: the plain probe does not import $sym"; exit 1; }
  done
}

# make_tree DIR: the probe tree: build/ (Tier-2) and node_modules/, .venv/ (Tier-1), with
# small/large/empty/sparse files, an executable script, an ELF, shared objects, nested
# dirs, symlinks (to a file, a dir, dangling, a chain, a loop, absolute), awkward names,
# fixed mtimes with nanoseconds, and duplicate contents across paths, modes and tiers.
make_tree() {
  local root=$1 cc=${CC:-cc}
  local b=$root/build nm=$root/node_modules
  mkdir -p "$b/a/b/c" "$b/bin" "$b/lib" "$b/with space" "$b/many" "$b/empty-dir" "$b/pylib/pkg/sub"
  printf 'hello\n' > "$b/small.txt"
  : > "$b/empty"
  head -c 1048593 /dev/urandom > "$b/big.bin"
  yes 'the quick brown fox jumps over the lazy dog' | head -c 70000 > "$b/mid.dat" || true
  truncate -s 200K "$b/sparse.img" && printf 'tail' >> "$b/sparse.img"
  printf 'no newline at the end' > "$b/nonl.txt"
  printf '#!/bin/sh\necho "script $0 $#: $*"\ncat "$(dirname "$0")/small.txt"\n' > "$b/run.sh"
  chmod 755 "$b/run.sh"
  $cc -O1 -o "$b/bin/hello" "$PROBES_SRC/hello.c"
  $cc -O1 -shared -fPIC -o "$b/lib/libplug.so" "$PROBES_SRC/plug.c"
  cp "$b/lib/libplug.so" "$b/lib/libplug-copy.so"
  $cc -O1 -DWITH_PLUG -o "$b/bin/hello-dyn" "$PROBES_SRC/hello.c" -L"$b/lib" -lplug '-Wl,-rpath,$ORIGIN/../lib'
  printf 'same bytes\n' > "$b/dup1.txt"
  printf 'same bytes\n' > "$b/dup2.txt" && chmod 755 "$b/dup2.txt"
  printf 'same bytes\n' > "$b/a/dup3.txt"
  touch -d '2001-02-03 04:05:06.000000001' "$b/dup1.txt"
  touch -d '2011-02-03 04:05:06.5' "$b/dup2.txt"
  printf 'deep\n' > "$b/a/b/c/deep.txt"
  printf 'middle\n' > "$b/a/b/mid.txt"
  printf 'spaced\n' > "$b/with space/a file.txt"
  printf 'newline\n' > "$b/"$'new\nline.txt'
  printf 'latin1\n' > "$b/"$'caf\xe9.txt'
  printf 'hidden\n' > "$b/.hidden"
  printf 'ns\n' > "$b/ns.txt" && touch -d '2021-03-04 05:06:07.123456789' "$b/ns.txt"
  printf 'old\n' > "$b/old.txt" && touch -d '1990-01-01 00:00:00' "$b/old.txt"
  printf 'private\n' > "$b/private.txt" && chmod 600 "$b/private.txt"
  printf 'owner read\n' > "$b/owner-read.txt" && chmod 400 "$b/owner-read.txt"
  printf 'read only\n' > "$b/readonly.txt" && chmod 444 "$b/readonly.txt"
  printf '#!/bin/sh\necho exec-only\n' > "$b/exec-only.sh" && chmod 711 "$b/exec-only.sh"
  for i in $(seq -w 1 120); do printf 'file %s\n' "$i" > "$b/many/f$i.txt"; done
  printf 'X = 1\n' > "$b/pylib/pkg/__init__.py"
  printf 'def f():\n    return 42\n' > "$b/pylib/pkg/mod.py"
  : > "$b/pylib/pkg/sub/__init__.py"
  ln -s small.txt "$b/link-to-file"
  ln -s a/b "$b/link-to-dir"
  ln -s nowhere "$b/dangling"
  ln -s link-to-file "$b/chain"
  ln -s loop2 "$b/loop1" && ln -s loop1 "$b/loop2"
  ln -s ../../small.txt "$b/a/b/up"
  ln -s /dev/null "$b/devnull"
  ln -s run.sh "$b/link-to-run"
  ln -s 'with space' "$b/link to spaced"
  mkdir -p "$nm/pkg-a/lib" "$nm/pkg-a/bin" "$nm/pkg-b" "$nm/@scope/pkg-c" "$nm/.bin"
  printf '{"name":"pkg-a","version":"1.0.0","main":"index.js"}\n' > "$nm/pkg-a/package.json"
  printf 'module.exports = require("./lib/util");\n' > "$nm/pkg-a/index.js"
  printf 'module.exports = { answer: 42 };\n' > "$nm/pkg-a/lib/util.js"
  printf '#!/bin/sh\necho "cli $0 $*"\n' > "$nm/pkg-a/bin/cli.sh" && chmod 755 "$nm/pkg-a/bin/cli.sh"
  cp "$b/lib/libplug.so" "$nm/pkg-a/lib/native.so"
  printf '{"name":"pkg-b","version":"2.0.0"}\n' > "$nm/pkg-b/package.json"
  cp "$nm/pkg-a/index.js" "$nm/pkg-b/index.js"
  printf 'same bytes\n' > "$nm/pkg-b/dup.txt"
  ln -s ../pkg-a "$nm/pkg-b/link-to-a"
  printf '{"name":"@scope/pkg-c","version":"3.0.0"}\n' > "$nm/@scope/pkg-c/package.json"
  printf 'exports.c = "c";\n' > "$nm/@scope/pkg-c/index.js"
  touch -d '2019-05-06 07:08:09.987654321' "$nm/@scope/pkg-c/index.js"
  ln -s ../pkg-a/bin/cli.sh "$nm/.bin/cli"
  mkdir -p "$root/.venv/lib/python3/site-packages/spkg"
  printf 'NAME = "spkg"\n' > "$root/.venv/lib/python3/site-packages/spkg/__init__.py"
  printf '#!/bin/sh\necho venv\n' > "$root/.venv/activate.sh" && chmod 755 "$root/.venv/activate.sh"
}

# in_session MODE CMD...: CMD inside a vrift session of MODE (solid|phantom) on the project
# in the working directory; in self-test mode, CMD as it is. A session that hangs is
# killed after PROBE_SESSION_TIMEOUT seconds (60; exit status 124).
in_session() {
  local mode=$1; shift
  local limit=${PROBE_SESSION_TIMEOUT:-60}
  if [ "$SELFTEST" == 1 ]; then
    timeout -k 5 "$limit" env "$@"
  else
    timeout -k 5 "$limit" "$VRIFT" -q run "--$mode" -- "$@"
  fi
}

probe_selected() { [ -z "${VRIFT_PROBE_ONLY:-}" ] || [[ $1 =~ $VRIFT_PROBE_ONLY ]]; }

# Known failures: check ids listed in tests/probes/known-failures.txt (one a line, `#`
# comments) fail as "xfail" without failing the suite, so CI stays green while the shim
# is completed; a listed check that passes says so (XPASS) and should leave the list.
# VRIFT_PROBE_STRICT=1 ignores the list.
PROBE_XFAIL=0
declare -A PROBE_KNOWN=()
if [ "${VRIFT_PROBE_STRICT:-0}" != 1 ] && [ "$SELFTEST" != 1 ] && [ -f "$PROBES_SRC/known-failures.txt" ]; then
  while IFS= read -r line; do
    line=${line%%#*}
    line=${line%"${line##*[![:space:]]}"}
    [ -z "$line" ] || PROBE_KNOWN[$line]=1
  done < "$PROBES_SRC/known-failures.txt"
fi

# probe_ok ID [WHAT] / probe_fail ID [WHY]: one check's verdict. ID names the check
# (mode/variant/probe), stable across runs; it is what known-failures.txt lists.
probe_ok() {
  if [ -n "${PROBE_KNOWN[$1]:-}" ]; then
    echo "XPASS: $1${2:+: $2} (listed in tests/probes/known-failures.txt: remove it from there)"
  else
    echo "ok: $1${2:+: $2}"
  fi
  PROBE_PASSED=$((PROBE_PASSED + 1))
}
probe_fail() {
  if [ -n "${PROBE_KNOWN[$1]:-}" ]; then
    echo "xfail: $1${2:+: $2} (a known failure)"
    PROBE_XFAIL=$((PROBE_XFAIL + 1))
    return 0
  fi
  echo "FAIL: $1${2:+: $2}"
  PROBE_FAILED=$((PROBE_FAILED + 1))
  PROBE_FAILED_NAMES+=("$1")
}

# compare_outputs NAME EXPECTED_OUT EXPECTED_RC ACTUAL_OUT ACTUAL_RC ACTUAL_ERR
compare_outputs() {
  local name=$1 eo=$2 erc=$3 ao=$4 arc=$5 aerr=${6:-/dev/null}
  if [ -n "${VRIFT_PROBE_KEEP:-}" ]; then
    local keep="$VRIFT_PROBE_KEEP/${name//\//_}"
    mkdir -p "$VRIFT_PROBE_KEEP" && cp "$eo" "$keep.expected" && cp "$ao" "$keep.actual"
    cp "$aerr" "$keep.stderr" 2>/dev/null || true
    diff -a "$eo" "$ao" > "$keep.diff" || true
  fi
  if [ "$erc" == "$arc" ] && cmp -s "$eo" "$ao"; then
    probe_ok "$name"
    return 0
  fi
  probe_fail "$name" "differs from the plain copy (exit $arc, plain $erc; $(diff -a "$eo" "$ao" | grep -c '^[<>]') lines differ)"
  # Which calls differ (the first word of a probe line names the call), then the diff.
  local by_call=""
  [ "${PAIR_BY_CALL:-1}" == 0 ] || by_call=$(diff -a "$eo" "$ao" | sed -n 's/^[<>] \([A-Za-z_][A-Za-z0-9_.+-]*\) .*/\1/p' | sort | uniq -c |
    sort -rn | awk '{printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1}' | cut -c1-600)
  [ -z "$by_call" ] || echo "    differing lines by call: $by_call"
  diff -a -u --label plain --label session "$eo" "$ao" | head -n "${VRIFT_PROBE_DIFF_LINES:-40}" | sed 's/^/    /'
  if [ -s "$aerr" ]; then
    echo "    --- stderr in the session:"
    head -5 "$aerr" | sed 's/^/    /'
  fi
  return 1
}

# pair NAME MODE PLAIN_DIR PROJECT_DIR CMD...: CMD in PLAIN_DIR as it is, and in
# PROJECT_DIR inside the session, then compare stdout and exit status.
pair() {
  local name=$1 mode=$2 plain=$3 proj=$4; shift 4
  probe_selected "$name" || return 0
  local tmp=$SCRATCH/out
  mkdir -p "$tmp"
  local erc=0 arc=0
  (cd "$plain" && "$@") > "$tmp/expected" 2> "$tmp/expected.err" || erc=$?
  (cd "$proj" && in_session "$mode" "$@") > "$tmp/actual" 2> "$tmp/actual.err" || arc=$?
  compare_outputs "$name" "$tmp/expected" "$erc" "$tmp/actual" "$arc" "$tmp/actual.err" || true
}

# session_pair NAME MODE PLAIN_DIR PROJECT_DIR SCRIPT: a bash script run in both places
# (in the session, bash itself runs under the shim); stdout+stderr of the script compared.
# The script sees the suite's exported variables.
session_pair() {
  local name=$1 mode=$2 plain=$3 proj=$4 script=$5
  PAIR_BY_CALL=0
  pair "$name" "$mode" "$plain" "$proj" bash -c "exec 2>&1
$script"
  PAIR_BY_CALL=1
}

probe_summary() {
  echo
  if [ "$PROBE_FAILED" -gt 0 ]; then
    echo "failed checks:"
    printf '  %s\n' "${PROBE_FAILED_NAMES[@]}"
  fi
  [ "$PROBE_XFAIL" -eq 0 ] || echo "$PROBE_XFAIL known failures (xfail, listed in tests/probes/known-failures.txt)"
  echo "$PROBE_PASSED passed, $PROBE_FAILED failed"
  [ "$PROBE_FAILED" -eq 0 ]
}

# project_setup PLAIN PROJECT [DIRECTORIES]: PROJECT becomes a vrift project holding a
# copy of PLAIN, ingested Phantom (self-test: a plain copy); DIRECTORIES is the config's
# [phantom] directories ("physical" unless given).
project_setup() {
  local plain=$1 proj=$2 dirs=${3:-physical}
  cp -a "$plain" "$proj"
  if [ "$SELFTEST" == 1 ]; then
    echo "self-test: the session is a second plain copy, run without vrift"
    return 0
  fi
  # Files not readable by everyone stay private (blobs are world-readable): ingest warns
  # and keeps them, so it exits 0 with them left in place.
  (cd "$proj" && "$VRIFT" init -q &&
    sed -i "s/^directories = .*/directories = \"$dirs\"/" .vrift/config.toml && "$VRIFT" ingest -q --phantom 2>/dev/null) ||
    { echo "FAIL: vrift init/ingest --phantom of the test tree"; exit 1; }
  local left
  left=$(cd "$proj" && find build node_modules .venv -type f -perm -o=r 2>/dev/null | head -3 || true)
  [ -z "$left" ] || { echo "FAIL: regular files left after a Phantom ingest: $left"; exit 1; }
}
