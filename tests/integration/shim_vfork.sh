#!/usr/bin/env bash
# vfork inside a session. A compiler driver and Python's subprocess start every child
# with vfork; the shim lets a real vfork happen in a Solid session (a fork costs a build
# ~10%), and its child, which shares the parent's memory until it execs, must leave the
# shim's state alone: the parent keeps its view afterwards, the exec'd program is still
# in the session even when handed an environment without it, and a write the child
# cannot break away from its blob is refused. Where the child could need more (Phantom,
# or files being written) the shim forks instead.
source "$(dirname "$0")/lib/common.bash"
need cc b3sum python3
cd "$SCRATCH"

cat > vf.c <<'EOF'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int g_seen;  /* written by the child: visible to the parent only after a real vfork */

static int wait_for(pid_t pid) {
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char** argv) {
  const char* what = argv[1];
  if (strcmp(what, "memory") == 0) {
    /* argv[2], when given: a project file held open for writing across the vfork */
    int fd = argc > 2 ? open(argv[2], O_WRONLY | O_APPEND) : -1;
    pid_t pid = vfork();
    if (pid == 0) {
      g_seen = 42;
      _exit(0);
    }
    wait_for(pid);
    if (fd >= 0) close(fd);
    printf("%s\n", g_seen == 42 ? "shared" : "copied");
  } else if (strcmp(what, "exec") == 0) {
    /* The child execs with an environment that lost the session; then the parent
     * stats a managed file (argv[2]) and writes a new one (argv[3]). */
    char* child_argv[] = {"/bin/sh", "-c", "echo \"child: ${LD_PRELOAD##*/} $VRIFT_MODE\"", NULL};
    char* bare_env[] = {"PATH=/usr/bin:/bin", NULL};
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) {
      execve(child_argv[0], child_argv, bare_env);
      _exit(127);
    }
    if (wait_for(pid) != 0) return 1;
    struct stat st;
    if (stat(argv[2], &st) != 0) return 1;
    printf("parent: %o %lu\n", (unsigned)(st.st_mode & 07777), (unsigned long)st.st_nlink);
    FILE* f = fopen(argv[3], "w");
    if (f == NULL) return 1;
    fputs("written after vfork\n", f);
    fclose(f);
  } else if (strcmp(what, "write") == 0) {
    /* The child tries to write a projection (argv[2]), the ways a program could. */
    const char* how[] = {"open", "fopen", "truncate"};
    for (int i = 0; i < 3; ++i) {
      g_seen = 0;
      pid_t pid = vfork();
      if (pid == 0) {
        int ok;
        if (i == 0) {
          int fd = open(argv[2], O_WRONLY | O_APPEND);
          ok = fd >= 0 && write(fd, "child\n", 6) == 6;
        } else if (i == 1) {
          FILE* f = fopen(argv[2], "a");
          ok = f != NULL && fputs("child\n", f) >= 0 && fclose(f) == 0;
        } else {
          ok = truncate(argv[2], 0) == 0;
        }
        g_seen = ok ? -1 : errno;
        _exit(0);
      }
      wait_for(pid);
      printf("%s: %s\n", how[i], g_seen == -1 ? "written" : g_seen == 0 ? "not shared" : strerror(g_seen));
    }
  }
  return 0;
}
EOF
cc -O1 -o vf vf.c

mkdir -p project/target/sub
printf 'one\n' > project/target/a.txt
printf 'two\n' > project/target/sub/b.txt
printf 'same\n' | tee project/target/c.txt > plain-c.txt
cd project
"$VRIFT" init -q
"$VRIFT" ingest -q target
expected_a=$(b3sum --no-names target/a.txt)

# Outside a session a vfork child shares its parent's memory; in a Solid session too.
expect_eq "$("$SCRATCH/vf" memory)" "shared" "vfork outside a session"
expect_eq "$("$VRIFT" run -- "$SCRATCH/vf" memory)" "shared" "solid: vfork is a real vfork"
pass "a Solid session keeps vfork a real vfork"

# The exec'd child is in the session although its environment was emptied, and the
# parent still sees the projection (mode 644, one link; the blob is 444 with two) and
# still has its writes ingested.
out=$("$VRIFT" run -- "$SCRATCH/vf" exec target/a.txt target/sub/new.txt)
expect_eq "$out" "$(printf 'child: libvrift_shim.so solid\nparent: 644 1')" "solid: exec from a vfork child, then the parent"
"$VRIFT" ls | awk '{ print $6 }' | grep -qx target/sub/new.txt || fail "solid: the parent's write after vfork was not ingested"
expect_eq "$("$VRIFT" run -- cat target/sub/new.txt)" "written after vfork" "solid: the parent's write"
pass "the child of a vfork execs in the session; the parent's view and writes are intact"

# The child cannot break a projection away, so its write is refused and the blob, shared
# with every project holding the same bytes, keeps them (as root the kernel would allow it).
out=$("$VRIFT" run -- "$SCRATCH/vf" write target/a.txt)
expect_eq "$out" "$(printf 'open: Read-only file system\nfopen: Read-only file system\ntruncate: Read-only file system')" \
  "solid: writes to a projection from a vfork child"
expect_eq "$(b3sum --no-names target/a.txt)" "$expected_a" "solid: the projection after the refused writes"
"$VRIFT" cas verify --deep > verify.out || fail "solid: a blob changed: $(cat verify.out)"
# A file of its own (one link, writable) it writes as usual.
expect_eq "$("$VRIFT" run -- "$SCRATCH/vf" write "$SCRATCH/plain-c.txt" | head -1)" "open: written" "solid: a plain file"
pass "a vfork child's write to a projection is refused; the blob keeps its bytes"

# A process writing a project file forks instead (its descriptors are tracked), and so
# does any process of a Phantom session (the child's exec may need the manifest).
expect_eq "$("$VRIFT" run -- "$SCRATCH/vf" memory target/sub/b.txt)" "copied" "solid: vfork while writing"
"$VRIFT" ingest -q --phantom target
expect_eq "$("$VRIFT" run -- "$SCRATCH/vf" memory)" "copied" "phantom: vfork"
"$VRIFT" ingest -q --solid target
pass "vfork runs as fork while files are being written, and in Phantom sessions"

# Real programs that vfork: Python's subprocess and the C compiler driver.
out=$("$VRIFT" run -- python3 -c '
import subprocess
print(subprocess.run(["cat", "target/a.txt"], capture_output=True, text=True).stdout.strip())
subprocess.run(["sh", "-c", "echo py > target/sub/py.txt"], check=True)')
expect_eq "$out" "one" "solid: python subprocess reads a projection"
expect_eq "$("$VRIFT" run -- cat target/sub/py.txt)" "py" "solid: a file written by python's child"
printf 'int main(void) { return 7; }\n' > target/sub/m.c
"$VRIFT" run -- cc -o target/sub/m target/sub/m.c
expect_status 7 "$VRIFT" run -- target/sub/m
check_iron_law "after the vfork checks"
pass "python's subprocess and the compiler driver work in a Solid session"
