#!/usr/bin/env bash
# The Iron Law under writes: every way real tools change files, run inside `vrift run`
# on an ingested tree (Solid and Phantom) and on a plain copy, with each written file
# re-ingested at its last close (VRIFT_REINGEST=close, as in an interactive session) and
# at the command's end (`vrift run`'s default). After each scenario:
#   - every blob in The Source hashes to its name (cas verify --deep);
#   - every manifest entry reads its recorded bytes (b3sum inside the session);
#   - the session's view of the tree equals the plain copy's (content, size, mode);
#   - a second project sharing the same blobs sees no change.
source "$(dirname "$0")/lib/common.bash"
need b3sum python3 git dd truncate
cd "$SCRATCH"

make_tree() {
  local d=$1/target
  mkdir -p "$d/sub" "$d/deep/er"
  for n in a b c d e g h i j k l; do printf 'line one of %s\nline two\n' "$n" > "$d/$n.txt"; done
  printf '#!/bin/sh\necho script ran\n' > "$d/f.sh"
  head -c 100000 /dev/urandom > "$d/g.bin"
  cp "$d/g.bin" "$d/h.bin"
  cp "$d/g.bin" "$d/m.bin"
  printf 'source of a copy\n' > "$d/src.txt"
  printf 'below\n' > "$d/sub/s.txt"
  printf 'deeper\n' > "$d/deep/er/x.txt"
  (cd "$d" && mkdir repo && cd repo && git init -q -b main && git config user.email t@e && git config user.name t &&
     printf 'one\n' > one.txt && printf 'shared\n' > shared.txt && git add . && git commit -qm one &&
     git checkout -qb other && printf 'two\n' > two.txt && printf 'changed\n' > shared.txt && git rm -q one.txt &&
     git add . && git commit -qm two && git checkout -q main)
}

SCENARIOS=(
  'echo over > target/a.txt'
  'echo more >> target/b.txt'
  'sed -i s/line/LINE/ target/c.txt'
  'truncate -s 3 target/d.txt'
  'touch -d "2021-02-03 04:05:06" target/e.txt && stat -c "%n %Y" target/e.txt'
  'chmod +x target/f.sh && ./target/f.sh'
  'python3 -c "f = open(\"target/g.bin\", \"r+b\"); f.seek(10); f.write(b\"XYZ\"); f.close()"'
  'dd if=/dev/zero of=target/h.bin bs=1 count=4 seek=2 conv=notrunc status=none'
  'cp target/src.txt target/i.txt'
  'echo fresh > target/j-new.txt && mv target/j-new.txt target/j.txt'
  'rm target/k.txt && ! test -e target/k.txt'
  'ln target/l.txt target/l-link.txt && cat target/l-link.txt'
  'python3 -c "import mmap; f = open(\"target/m.bin\", \"r+b\"); m = mmap.mmap(f.fileno(), 0); m[0:4] = b\"MMAP\"; m.flush(); m.close(); f.close()"'
  'mkdir target/newdir && echo inside > target/newdir/n.txt && mv target/sub target/sub2'
  'rm -r target/deep && ! test -e target/deep'
  'git -C target/repo checkout -q other && git -C target/repo status --porcelain && ls target/repo'
  # gold closes its output, then writes it through a shared mapping
  'cc -fuse-ld=gold -o target/gold-app ../gold.c && ./target/gold-app; echo "exit $?"'
  # a new file created through syscall(SYS_openat2), which has no libc wrapper
  '../openat2-write target/o2.txt "made by openat2" && cat target/o2.txt'
)

# listing DIR: what a program sees of target/ (path, type, size, mode, content hash).
listing() {
  (cd "$1" && find target -path target/repo/.git -prune -o -printf '%p %y %s %m\n' | sort &&
     find target -path target/repo/.git -prune -o -type f -print0 | sort -z | xargs -0 b3sum)
}

printf 'int main(void) { return 7; }\n' > gold.c
cat > openat2-write.c <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct open_how how = {.flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, .mode = 0644,
                         .resolve = RESOLVE_NO_MAGICLINKS};
  long fd = argc == 3 ? syscall(SYS_openat2, AT_FDCWD, argv[1], &how, sizeof how) : -1;
  size_t n = fd < 0 ? 0 : strlen(argv[2]);
  return fd < 0 ? 1 : write((int)fd, argv[2], n) != (ssize_t)n ? 2 : close((int)fd) != 0 ? 3 : 0;
}
EOF
cc -o openat2-write openat2-write.c

for reingest in close exit; do
for mode in solid phantom; do
  export VRIFT_REINGEST=$reingest
  rm -rf plain project clone
  make_tree plain
  cp -a plain project
  cp -a plain clone
  (cd clone && "$VRIFT" init -q && "$VRIFT" ingest -q --$mode target)
  clone_before=$(cd clone && "$VRIFT" run -- sh -c "$(declare -f listing); listing ." )
  cd project
  "$VRIFT" init -q
  "$VRIFT" ingest -q --$mode target
  for s in "${SCENARIOS[@]}"; do
    want=$(cd ../plain && bash -c "$s" 2>&1) || fail "$mode/$reingest: plain run failed: $s"
    got=$("$VRIFT" run -- bash -c "$s" 2>&1) || fail "$mode/$reingest: session run failed: $s: $got"
    expect_eq "$got" "$want" "$mode/$reingest: output of '$s'"
    check_iron_law "$mode/$reingest: after '$s'"
    session_view=$("$VRIFT" run -- bash -c "$(declare -f listing); listing .")
    plain_view=$(listing ../plain)
    [ "$session_view" == "$plain_view" ] ||
      fail "$mode/$reingest: after '$s' the tree differs from the plain copy: $(diff <(echo "$plain_view") <(echo "$session_view") | head -20)"
  done
  if [ $mode = solid ]; then
    # Without the shim, every recorded path reads its recorded bytes too.
    "$VRIFT" ls | awk '$1 == "file" { print $5 "  " substr($0, index($0, $6)) }' > "$SCRATCH/recorded"
    b3sum --check --quiet "$SCRATCH/recorded" || fail "solid: a projection outside the session reads other bytes"
    [ -z "$(find target -name '.vrift-tmp-*')" ] || fail "solid: temps left in the project"
  else
    # Nothing but directories and the git work tree's own files stays on disk.
    left=$(find target -type f | grep -v '^target/repo/' || true)
    [ -z "$left" ] || fail "phantom: files left on disk after re-ingest: $left"
  fi
  cd ..
  clone_after=$(cd clone && "$VRIFT" run -- sh -c "$(declare -f listing); listing .")
  expect_eq "$clone_after" "$clone_before" "$mode/$reingest: the clone sharing the blobs"
  pass "$mode, re-ingest at $reingest: ${#SCENARIOS[@]} writing scenarios keep both invariants and match the plain run"
done
done
