#!/usr/bin/env bash
# Other preloaded libraries in the same programs. First fakeroot, as a Debian package
# build runs it (`fakeroot make install`, `fakeroot tar`), before and after the shim. fakeroot
# defines some stat entries by jumping to others (its fstatat to __fxstatat, its stat to
# __xstat) through the PLT, which reaches the shim first: each shim entry must forward
# to its own next definition, or the two libraries call each other until the stack
# runs out. `vrift run` puts other preloads first; a user may still put the shim
# first. Both must do their work: the ownership fakeroot fakes shows where it is
# the kernel's to show, and the project's files read as their bytes, Solid and Phantom.
# Then a program built with AddressSanitizer, whose runtime wants to come first.
source "$(dirname "$0")/lib/common.bash"
need fakeroot tar b3sum python3
cd "$SCRATCH"
mkdir -p proj/build/sub outside
for i in 1 2 3; do echo "file $i" > "proj/build/f$i.txt"; done
echo deep > proj/build/sub/d.txt
cp -r proj/build plain   # the same tree, never ingested: what the reads must match
echo outside > outside/o

cd proj
"$VRIFT" init -q

# owner_and_bytes.sh: under fakeroot, `chown` a file outside the project and the
# project's files, then print what stat (coreutils: statx), ls (statx), python
# (fstatat) and tar (fstatat, then reads) report.
cat > "$SCRATCH/owner_and_bytes.sh" <<EOF
chown 1234:4321 "$SCRATCH/outside/o"
chown -R 77:88 build
stat -c '%u:%g' "$SCRATCH/outside/o"
ls -n "$SCRATCH/outside/o" | awk '{print \$3 ":" \$4}'
python3 -c 'import os, sys; s = os.stat(sys.argv[1]); print(f"{s.st_uid}:{s.st_gid}")' "$SCRATCH/outside/o"
stat -c '%u:%g %n' build/f1.txt build/sub/d.txt
tar -cf "$SCRATCH/pkg.tar" build
tar --numeric-owner -tvf "$SCRATCH/pkg.tar" | awk '{print \$2, \$6}' | sort -k2
EOF
# With fakeroot's library first (as `vrift run` orders preloads, and as fakeroot puts
# itself), fakeroot fakes every owner: its chown never reaches the shim, and it reads
# the shim's answers through its next definitions.
faked="1234:4321
1234:4321
1234:4321
77:88 build/f1.txt
77:88 build/sub/d.txt
77/88 build/
77/88 build/f1.txt
77/88 build/f2.txt
77/88 build/f3.txt
77/88 build/sub/
77/88 build/sub/d.txt"
# With the shim first (a user's own LD_PRELOAD), a managed file keeps its owner (chown
# is accepted and ignored, hooks_mutate.cpp); the rest is fakeroot's.
own=$(stat -c '%u:%g' "$SCRATCH/plain/f1.txt")
shim_first="1234:4321
1234:4321
1234:4321
$own build/f1.txt
$own build/sub/d.txt
77/88 build/
${own/:/\/} build/f1.txt
${own/:/\/} build/f2.txt
${own/:/\/} build/f3.txt
77/88 build/sub/
${own/:/\/} build/sub/d.txt"

# unpacked_matches MSG: the tar written above holds the plain tree's bytes.
unpacked_matches() {
  rm -rf "$SCRATCH/unpacked" && mkdir "$SCRATCH/unpacked"
  tar -xf "$SCRATCH/pkg.tar" -C "$SCRATCH/unpacked"
  expect_eq "$(tree_hashes "$SCRATCH/unpacked/build")" "$(tree_hashes "$SCRATCH/plain")" "$1: the packed bytes"
}

# under ORDER EXPECTED CMD...: run CMD, check its output and the packed bytes.
under() {
  local order=$1 want=$2 got; shift 2
  got=$("$@" 2>&1) || fail "$mode, $order: $got"
  expect_eq "$got" "$want" "$mode, $order"
  unpacked_matches "$mode, $order"
}

script="$SCRATCH/owner_and_bytes.sh"
for mode in solid phantom; do
  "$VRIFT" ingest -q --$mode
  under "fakeroot then vrift run" "$faked" fakeroot -- "$VRIFT" run -- bash "$script"
  under "vrift run then fakeroot" "$faked" "$VRIFT" run -- fakeroot -- bash "$script"
  under "the shim before fakeroot" "$shim_first" fakeroot -- "$VRIFT" run -- \
    bash -c 'LD_PRELOAD="$VRIFT_SHIM:${LD_PRELOAD%:*}" exec bash "$0"' "$script"
  check_iron_law "$mode under fakeroot"
  pass "$mode: fakeroot's owners and the project's bytes, its library before the shim and after it"
done

# A program built with AddressSanitizer (gcc links its runtime dynamically) refuses to
# start unless that runtime comes first among its libraries; in a session the shim is
# preloaded before it, and the session's ASAN_OPTIONS says that order is intended. It
# reads a Phantom file and a file outside, and reports a leak it was built to have (so
# the sanitizer is known to be working, not just quiet).
need cc
cat > "$SCRATCH/asan_reader.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    struct stat st;
    char line[64] = {0};
    FILE* f = fopen(argv[i], "r");
    if (stat(argv[i], &st) != 0 || f == NULL || fgets(line, sizeof line, f) == NULL) {
      perror(argv[i]);
      return 1;
    }
    fclose(f);
    printf("%s %lld %s", argv[i], (long long)st.st_size, line);
  }
  char* leak = malloc(40);
  strcpy(leak, "leaked");
  leak = NULL;
  return 0;
}
C
cc -fsanitize=address -g -o "$SCRATCH/asan_reader" "$SCRATCH/asan_reader.c"
"$VRIFT" ingest -q --phantom
[ ! -e build/f1.txt ] || fail "phantom: build/f1.txt left on disk"
want=$(cd "$SCRATCH/plain" && "$SCRATCH/asan_reader" f1.txt sub/d.txt 2>"$SCRATCH/asan.plain" | sed 's|^|build/|') || true
got=$("$VRIFT" run -- "$SCRATCH/asan_reader" build/f1.txt build/sub/d.txt 2>"$SCRATCH/asan.err") && fail "the leak was not reported"
expect_eq "$got" "$want" "an ASan-built program reading Phantom files"
grep -q 'detected memory leaks' "$SCRATCH/asan.err" || fail "ASan in the session: $(head -3 "$SCRATCH/asan.err")"
got=$(ASAN_OPTIONS=detect_leaks=0 "$VRIFT" run -- "$SCRATCH/asan_reader" build/f1.txt "$SCRATCH/outside/o" 2>&1) ||
  fail "the user's ASAN_OPTIONS: $got"
pass "an ASan-built program runs in a session, reads Phantom files, and its sanitizer reports"
