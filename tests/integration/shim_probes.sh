#!/usr/bin/env bash
# The shim makes a projection indistinguishable from a plain copy: the probe programs
# (tests/probes/probe.c, built three ways: plain, _FORTIFY_SOURCE, _FILE_OFFSET_BITS=64)
# ask libc about every kind of path of a test tree through every interposed entry point
# family, on the plain copy and inside `vrift run --phantom`, then `--solid`, and the
# answers must be the same. Also the shim's ABI: what it exports, imports and needs.
#
# VRIFT_PROBE_SELFTEST=1 runs the "session" side on a second plain copy without vrift
# (must pass: the harness has no false failures). See tests/probes/harness.bash.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/../probes/harness.bash"
need cc nm readelf timeout b3sum cksum
[ -f "$SHIM" ] || { echo "SKIP: no shim at $SHIM"; exit 125; }
cd "$SCRATCH"
chmod 755 "$SCRATCH"

probe_build "$SCRATCH/probes"
make_tree "$SCRATCH/plain"
project_setup "$SCRATCH/plain" "$SCRATCH/project"
PLAIN=$SCRATCH/plain
PROJ=$SCRATCH/project

# --- the paths every probe is pointed at (relative to the tree root) --------------------
mapfile -d '' ALL < <(cd "$PLAIN" && find build node_modules .venv -print0 | sort -z)
mapfile -d '' FILES < <(cd "$PLAIN" && find build node_modules .venv -type f -print0 | sort -z)
mapfile -d '' DIRS < <(cd "$PLAIN" && find build node_modules .venv -type d -print0 | sort -z)
EXTRA=(
  build/nonexistent build/small.txt/ build/small.txt/x build/private.txt/ build/link-to-dir/ build/link-to-dir/c
  build/link-to-dir/../b/c/deep.txt build/a/../small.txt ./build/small.txt build//a//b/c/deep.txt
  build/a/b/up/x build/loop1/x build/chain build/empty-dir/ node_modules/pkg-b/link-to-a/index.js
  node_modules/pkg-a/index.js/ node_modules/.bin/cli node_modules/nope/index.js
  @/build/small.txt @/build/link-to-dir/c/deep.txt @/node_modules/pkg-a/lib/util.js @/build/link-to-file
  build/a/b/c/missing.txt node_modules/pkg-a/lib/missing.js build/link-to-dir/missing
  node_modules/pkg-b/link-to-a/lib/missing.js @/node_modules/pkg-a/missing.json
  ^/build/small.txt ^/build/big.bin ^/node_modules/pkg-a/index.js ^/build/link-to-file ^/build/a
  ^/node_modules/pkg-a/missing.js ^/build/small.txt/x
)
READABLE=("${FILES[@]}" build/link-to-file build/chain build/link-to-dir/mid.txt build/a/b/up
  node_modules/pkg-b/link-to-a/lib/util.js @/build/big.bin @/node_modules/pkg-a/index.js)
DIRLIKE=("${DIRS[@]}" build/link-to-dir node_modules/pkg-b/link-to-a @/build/a build/small.txt build/nonexistent
  build/loop1 build/dangling)
SOME=(build/small.txt build/big.bin build/empty build/sparse.img build/link-to-file build/a/b/c/deep.txt
  node_modules/pkg-a/index.js node_modules/@scope/pkg-c/index.js "build/with space/a file.txt"
  .venv/lib/python3/site-packages/spkg/__init__.py build/many/f042.txt)

run_matrix() {
  local mode=$1 v p
  for v in "${PROBE_VARIANTS[@]}"; do
    p=$SCRATCH/probes/$v/probe
    local n="$mode/$v"
    pair "$n/stat" "$mode" "$PLAIN" "$PROJ" "$p" stat "${ALL[@]}" "${EXTRA[@]}"
    pair "$n/open" "$mode" "$PLAIN" "$PROJ" "$p" open "${ALL[@]}" "${EXTRA[@]}"
    pair "$n/procfd" "$mode" "$PLAIN" "$PROJ" "$p" procfd "${ALL[@]}" "${EXTRA[@]}"
    pair "$n/fopen" "$mode" "$PLAIN" "$PROJ" "$p" fopen "${READABLE[@]}" build build/nonexistent build/dangling
    pair "$n/read+mmap" "$mode" "$PLAIN" "$PROJ" "$p" read "${READABLE[@]}"
    pair "$n/access" "$mode" "$PLAIN" "$PROJ" "$p" access "${ALL[@]}" "${EXTRA[@]}"
    pair "$n/readlink" "$mode" "$PLAIN" "$PROJ" "$p" readlink "${ALL[@]}" "${EXTRA[@]}"
    pair "$n/realpath" "$mode" "$PLAIN" "$PROJ" "$p" realpath "${ALL[@]}" "${EXTRA[@]}"
    pair "$n/readdir" "$mode" "$PLAIN" "$PROJ" "$p" readdir "${DIRLIKE[@]}"
    pair "$n/glob" "$mode" "$PLAIN" "$PROJ" "$p" glob 'build/*' 'build/.*' 'build/*/*' 'build/a/*/c/*.txt' \
      'node_modules/*/package.json' 'node_modules/*/*' 'build/link-to-dir/*' 'build/*.{sh,txt}' 'build/nonexist*' \
      'build/with space/*' 'build/many/f0[0-4]?.txt' '.venv/lib/*/site-packages/*/*.py' '@/build/a/*'
    pair "$n/nftw" "$mode" "$PLAIN" "$PROJ" "$p" nftw build node_modules .venv build/link-to-dir
    pair "$n/nftw-follow" "$mode" "$PLAIN" "$PROJ" "$p" nftw-follow build/a build/many .venv node_modules/pkg-a \
      node_modules/@scope
    pair "$n/fts" "$mode" "$PLAIN" "$PROJ" "$p" fts build node_modules .venv
    pair "$n/fts-order" "$mode" "$PLAIN" "$PROJ" "$p" fts-order build node_modules .venv build/link-to-dir
    pair "$n/statfs" "$mode" "$PLAIN" "$PROJ" "$p" statfs "${ALL[@]}" "${EXTRA[@]}"
    pair "$n/chdir" "$mode" "$PLAIN" "$PROJ" bash -c '
      p=$1
      "$p" chdir build/a/b c/deep.txt ../../small.txt up mid.txt ../dup3.txt nope
      "$p" chdir build/link-to-dir c/deep.txt ../../small.txt mid.txt
      "$p" chdir node_modules/pkg-a index.js lib/util.js ../pkg-b/index.js ../@scope/pkg-c/index.js
      "$p" chdir "build/with space" "a file.txt" ../small.txt
      "$p" chdir build/nonexistent x
      "$p" chdir build/small.txt x' _ "$p"
    pair "$n/dup+fcntl" "$mode" "$PLAIN" "$PROJ" "$p" dup "${SOME[@]}"
    pair "$n/fork" "$mode" "$PLAIN" "$PROJ" "$p" fork "${SOME[@]}"
    pair "$n/fds" "$mode" "$PLAIN" "$PROJ" "$p" fds build/small.txt
    pair "$n/threads" "$mode" "$PLAIN" "$PROJ" "$p" threads 16 10 "${FILES[@]}" "${DIRS[@]}" build/link-to-file
    pair "$n/spawn+exec" "$mode" "$PLAIN" "$PROJ" bash -c '
      p=$1
      "$p" spawn build/run.sh one "two words"
      "$p" spawn ./build/run.sh
      "$p" spawn build/link-to-run via-link
      "$p" spawn build/exec-only.sh
      "$p" spawn build/bin/hello --read build/small.txt
      "$p" spawn build/bin/hello-dyn
      "$p" spawn node_modules/.bin/cli x
      "$p" spawn node_modules/pkg-a/bin/cli.sh y
      "$p" spawn .venv/activate.sh
      "$p" spawn build/small.txt
      "$p" spawn build/nonexistent
      PATH=build/bin:$PATH "$p" spawn hello from-path' _ "$p"
    pair "$n/spawn-addopen" "$mode" "$PLAIN" "$PROJ" "$p" stdin "${SOME[@]}" build/nonexistent
    pair "$n/dlopen" "$mode" "$PLAIN" "$PROJ" "$p" dlopen build/lib/libplug.so build/lib/libplug-copy.so \
      node_modules/pkg-a/lib/native.so ./build/lib/libplug.so @/build/lib/libplug.so build/lib/nope.so build/small.txt
  done
  # /proc/self/exe of an executable run from the project, however it was started.
  pair "$mode/exe" "$mode" "$PLAIN" "$PROJ" bash -c '
    build/bin/hello --exe
    ./build/bin/hello --exe
    PATH=$PWD/build/bin:$PATH hello --exe
    python3 -c "import subprocess; subprocess.run([\"build/bin/hello\", \"--exe\"])"
    "$1" spawn build/bin/hello --exe' _ "$SCRATCH/probes/plain/probe"
  # Directory mtimes: ingest rewrites directories; the projection must still answer the
  # plain copy's mtime for each directory.
  pair "$mode/dir-mtimes" "$mode" "$PLAIN" "$PROJ" env PROBE_DIR_MTIME=1 "$SCRATCH/probes/plain/probe" stat "${DIRS[@]}"
  # As an unprivileged user: permission answers (EACCES on 0600/0400 files) must match.
  if command -v setpriv > /dev/null; then
    pair "$mode/unprivileged" "$mode" "$PLAIN" "$PROJ" setpriv --reuid=65534 --regid=65534 --clear-groups -- \
      "$SCRATCH/probes/plain/probe" access build/private.txt build/owner-read.txt build/readonly.txt \
      build/exec-only.sh build/small.txt node_modules/pkg-a/index.js build/run.sh
    pair "$mode/unprivileged-open" "$mode" "$PLAIN" "$PROJ" setpriv --reuid=65534 --regid=65534 --clear-groups -- \
      "$SCRATCH/probes/plain/probe" open build/private.txt build/owner-read.txt build/small.txt
  fi
}

# --- the shim's ABI -------------------------------------------------------------------
abi_check() {
  probe_selected abi || return 0
  local exports undef needed bad=""
  exports=$(nm -D --defined-only "$SHIM" | awk '{print $3}' | sort)
  undef=$(nm -D --undefined-only "$SHIM" | awk '{print $2}' | sort)
  needed=$(readelf -d "$SHIM" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort)
  echo "shim exports ($(wc -w <<<"$exports")): $(tr '\n' ' ' <<<"$exports")"
  echo "shim needs: $(tr '\n' ' ' <<<"$needed")"
  if grep -q '^_Z' <<<"$exports"; then
    bad+=" C++-mangled-exports:$(grep '^_Z' <<<"$exports" | head -5 | tr '\n' ,)"
  fi
  local cxx
  cxx=$(grep -E '^(_Znwm|_Znam|_ZdlPv|_ZdaPv|__cxa_throw|__cxa_begin_catch|__gxx_personality)' <<<"$undef" || true)
  [ -z "$cxx" ] || bad+=" C++-runtime-imports:$(tr '\n' , <<<"$cxx")"
  local lib
  for lib in $needed; do
    case $lib in
      libc.so.6 | ld-linux-x86-64.so.2 | libdl.so.2 | libpthread.so.0 | liblmdb.so.0) ;;
      *) bad+=" needs:$lib" ;;
    esac
  done
  # vrift run dlopens the shim: its initial-exec TLS must fit glibc's small static surplus.
  local tls
  tls=$(readelf -lW "$SHIM" | awk '$1 == "TLS" { print $6 }')
  [ -z "$tls" ] || [ $((tls)) -le 256 ] || bad+=" static-TLS:$tls-bytes"
  if [ -z "$bad" ]; then
    probe_ok abi "no C++ exports or runtime imports; needs only libc/ld.so/libdl/libpthread/liblmdb; small TLS"
  else
    probe_fail abi "$bad"
  fi
}

abi_check
run_matrix phantom
if [ "$SELFTEST" != 1 ] && probe_selected phantom/no-files-left; then
  left=$(cd "$PROJ" && find build node_modules .venv -type f -perm -o=r | head -3 || true)
  if [ -z "$left" ]; then
    probe_ok phantom/no-files-left "the probes left no regular file in the project"
  else
    probe_fail phantom/no-files-left "regular files appeared in the project during the probes: $left"
  fi
fi
run_matrix solid
# Back in Solid mode every file reads, without a session, as in the plain copy (which
# the probes only read).
if probe_selected final-content; then
  (cd "$PROJ" && in_session solid true) || true
  if [ "$(tree_hashes "$PLAIN" build node_modules .venv)" == "$(tree_hashes "$PROJ" build node_modules .venv)" ]; then
    probe_ok final-content "back in Solid mode every file of the project reads as in the plain copy"
  else
    probe_fail final-content "back in Solid mode the project's files differ from the plain copy"
  fi
fi
probe_summary
