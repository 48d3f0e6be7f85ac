#!/usr/bin/env bash
# Real programs see a projection exactly as they see a plain copy: coreutils (ls, find,
# du, stat, cat, wc, sha256sum, cp -a, tar, grep, diff), bash, the LMDB tools, python3 (imports,
# os.scandir, os.fwalk, /proc/self/fd, statvfs, compileall), node (require of a real npm tree, fs), git (status of an
# ingested work tree), gcc + make (a small C project builds and runs). Each check runs
# the same script in the plain copy and inside `vrift run` on the project and compares
# everything it prints. Read-only checks run Phantom then Solid; the ones that write
# (compileall, make, git's index refresh) run Phantom, on both sides alike.
#
# VRIFT_PROBE_SELFTEST=1 runs the session side on a second plain copy without vrift.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/../probes/harness.bash"
need cc make git python3 tar grep diff du find b3sum sha256sum timeout mdb_load mdb_dump mdb_stat
[ -f "$SHIM" ] || { echo "SKIP: no shim at $SHIM"; exit 125; }
cd "$SCRATCH"
chmod 755 "$SCRATCH"
PY=$(python3 -c 'import sys; print(sys.executable)')
export PY PYTHONDONTWRITEBYTECODE=1 GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$SCRATCH/gitconfig
git config --global user.name vrift && git config --global user.email vrift@example.invalid
git config --global safe.directory '*'

# --- the tree: the probe tree, a real npm install, a git work tree, a C project --------
PLAIN=$SCRATCH/plain
PROJ=$SCRATCH/project
HAVE_NODE=1
if ! (npm_tree "$PLAIN") > "$SCRATCH/npm.log" 2>&1; then
  echo "note: node checks skipped: $(tail -1 "$SCRATCH/npm.log")"
  HAVE_NODE=0
fi
make_tree "$PLAIN"
repo=$PLAIN/build/repo
mkdir -p "$repo/docs" && git -C "$repo" init -q
printf 'readme\n' > "$repo/README"
printf 'doc %s\n' 1 2 3 > "$repo/docs/guide.txt"
printf '#!/bin/sh\necho tool\n' > "$repo/tool.sh" && chmod 755 "$repo/tool.sh"
ln -s README "$repo/link"
git -C "$repo" add -A && git -C "$repo" commit -q -m initial
printf 'more\n' >> "$repo/docs/guide.txt" && git -C "$repo" commit -q -am second
git -C "$repo" status --porcelain > /dev/null # a fresh, clean index
src=$PLAIN/build/src
mkdir -p "$src/include"
printf '#pragma once\nint add(int a, int b);\nconst char *greeting(void);\n' > "$src/include/util.h"
printf '#include "util.h"\nint add(int a, int b) { return a + b; }\n' > "$src/add.c"
printf '#include "util.h"\nconst char *greeting(void) { return "hi from make"; }\n' > "$src/greet.c"
printf '#include <stdio.h>\n#include "util.h"\nint main(void) { printf("%%s %%d\\n", greeting(), add(40, 2)); return 0; }\n' > "$src/main.c"
cat > "$src/Makefile" <<'MK'
CFLAGS = -O1 -Iinclude -MMD
SRCS = $(sort $(wildcard *.c))
OBJS = $(SRCS:.c=.o)
app: $(OBJS)
	$(CC) -o $@ $^
%.o: %.c
	$(CC) $(CFLAGS) -c -o $@ $<
-include $(OBJS:.o=.d)
MK
mkdir "$PLAIN/lmdb-env" && printf 'alpha\none\nbeta\ntwo\n' | mdb_load -T "$PLAIN/lmdb-env"
# Phantom directories virtual: every tool below meets them (shim/vfs.hpp).
project_setup "$PLAIN" "$PROJ" virtual
export PLAIN PROJ

# --- read-only checks ----------------------------------------------------------------
TREE="build node_modules .venv"
export TREE

readonly_checks() {
  local m=$1
  session_pair "$m/ls -lR" "$m" "$PLAIN" "$PROJ" '
    # links column, blocks ("total") and directory sizes/mtimes are the filesystem'"'"'s own
    ls -lR --time-style=+%s $TREE | awk '"'"'/^total /{next} /^d/{$2=$5=$6=""; print; next} {$2=""; print}'"'"'
    ls -la --time-style=+%s build build/a/b node_modules/pkg-a | awk '"'"'/^total /{next} /^d/{next} {$2=""; print}'"'"'
    ls -L -l --time-style=+%s build | awk '"'"'/^total /{next} /^d/{next} {$2=""; print}'"'"'
    ls -1F build; ls -1 --file-type node_modules/.bin; ls -d build/*/ | sort'
  session_pair "$m/find" "$m" "$PLAIN" "$PROJ" '
    find $TREE ! -type d -printf "%p %y %s %m %u %g %T@ %l\n" | sort
    find $TREE -type d -printf "%p %m\n" | sort
    find $TREE -type f | sort | b3sum | cut -c1-16
    find -L build -type f 2>&1 | sort
    find $TREE -newer build/old.txt -type f -name "*.txt" | sort
    find build -maxdepth 1 -executable -type f | sort
    find $TREE -type f -links +1 | sort
    find $TREE -empty | sort'
  session_pair "$m/du -ab" "$m" "$PLAIN" "$PROJ" '
    # apparent sizes of everything but directories (whose own size is the filesystem'"'"'s)
    du -ab $TREE | while IFS=$'"'"'\t'"'"' read -r size path; do [ -d "$path" ] || echo "$size $path"; done | sort -k2
    echo "files total: $(find $TREE -type f -printf "%s\n" | awk "{s+=\$1} END {print s}")"'
  session_pair "$m/stat" "$m" "$PLAIN" "$PROJ" '
    find $TREE ! -type d -print0 | sort -z | xargs -0 stat -c "%n|%s|%a|%F|%u|%g|%Y|%.9Y|%N"
    find $TREE -type d -print0 | sort -z | xargs -0 stat -c "%n|%a|%F|%u"
    stat -L -c "%n %s %a %F" build/link-to-file build/chain build/link-to-dir node_modules/.bin/cli
    stat -f -c "%T" build >/dev/null && echo statfs ok'
  session_pair "$m/cat+wc+sums" "$m" "$PLAIN" "$PROJ" '
    lst=$(mktemp)
    find $TREE \( -type f -o -type l \) -print0 | sort -z > "$lst"
    xargs -0 cat < "$lst" 2>&1 | sha256sum
    xargs -0 sha256sum < "$lst" 2>&1
    xargs -0 wc < "$lst" 2>&1
    xargs -0 b3sum < "$lst" 2>&1 | sort -k2
    head -c 100 build/big.bin | od -An -tx1 | head -2; tail -c 100 build/big.bin | od -An -tx1 | tail -2
    tail -n 2 build/mid.dat; head -n 1 build/run.sh; cmp build/dup1.txt build/a/dup3.txt && echo same
    cat "build/with space/a file.txt" build/link-to-dir/mid.txt node_modules/pkg-b/link-to-a/lib/util.js
    sed -n 1p build/small.txt; awk "END {print NR}" build/mid.dat; sort build/many/f00*.txt | head -3
    rm -f "$lst"'
  session_pair "$m/readlink+realpath" "$m" "$PLAIN" "$PROJ" '
    find $TREE -print0 | sort -z | xargs -0 realpath -e --relative-to=. 2>&1
    find $TREE -print0 | sort -z | xargs -0 readlink -f -- | sed "s|^$PWD|@|"
    find $TREE -type l -print0 | sort -z | xargs -0 readlink --
    readlink build/small.txt || echo "not a link: $?"'
  session_pair "$m/bash" "$m" "$PLAIN" "$PROJ" '
    for f in build/* build/.[!.]* node_modules/*/* .venv/*; do
      t=""; [ -e "$f" ] && t+=e; [ -f "$f" ] && t+=f; [ -d "$f" ] && t+=d; [ -L "$f" ] && t+=L
      [ -r "$f" ] && t+=r; [ -x "$f" ] && t+=x; [ -s "$f" ] && t+=s; [ "$f" -nt build/old.txt ] && t+=n
      echo "$f $t"
    done
    echo "$(< build/small.txt)"; while read -r l; do echo "line: $l"; done < build/a/b/mid.txt
    . .venv/activate.sh; . build/run.sh sourced
    cd build/link-to-dir && pwd -P | sed "s|^$OLDPWD|@|" && cat c/deep.txt ../../small.txt && cd - >/dev/null
    shopt -s globstar nullglob; n=0; for f in build/**; do n=$((n+1)); done; echo "globstar: $n"
    build/run.sh via-bash; ./build/bin/hello bash; node_modules/.bin/cli bash'
  session_pair "$m/cp -a" "$m" "$PLAIN" "$PROJ" '
    out=$(mktemp -d)
    cp -a $TREE "$out/" 2>&1
    cp -r build/a "$out/cp-r" 2>&1
    cd "$out"
    find $TREE ! -type d -printf "%p %y %s %m %T@ %l\n" | sort
    find $TREE -type f -links +1 | sort
    find $TREE \( -type f -o -type l \) -print0 | sort -z | xargs -0 b3sum 2>&1 | sort -k2
    diff -r --no-dereference build "$OLDPWD/build" && echo "cp -a copy equals the tree"
    diff -r cp-r "$OLDPWD/build/a" && echo "cp -r copy equals the tree"
    cd - > /dev/null; rm -rf "$out"'
  session_pair "$m/tar" "$m" "$PLAIN" "$PROJ" '
    out=$(mktemp -d)
    tar -cf "$out/t.tar" $TREE 2>&1; echo "tar c: $?"
    # directory times are the filesystem'"'"'s own after ingest: drop them from directory lines
    tar --full-time -tvf "$out/t.tar" | awk '"'"'/^d/{$4=$5=""} {print}'"'"' | sort -k6
    mkdir "$out/x" && tar -C "$out/x" -xf "$out/t.tar" && diff -r --no-dereference "$out/x/build" build && echo "tar round trip equal"
    tar -cf - build/small.txt build/big.bin | tar -tvf - --full-time
    rm -rf "$out"'
  session_pair "$m/grep" "$m" "$PLAIN" "$PROJ" '
    grep -r "same bytes" $TREE | sort
    grep -rl "hello" build | sort
    grep -rc "file" build/many | sort | tail -3
    grep -R -l "module.exports" node_modules/pkg-a node_modules/pkg-b | sort
    grep -q spaced "build/with space/a file.txt" && echo found
    grep -r nomatch-anywhere build; echo "no match: $?"'
  session_pair "$m/diff -r" "$m" "$PLAIN" "$PROJ" '
    diff -r --no-dereference "$PLAIN/build" build && echo "build equal"
    diff -r --no-dereference "$PLAIN/node_modules" node_modules && echo "node_modules equal"
    diff -r --no-dereference "$PLAIN/.venv" .venv && echo ".venv equal"
    diff -r "$PLAIN/build/a" build/link-to-dir/.. && echo "through a symlink equal"'
  session_pair "$m/python" "$m" "$PLAIN" "$PROJ" '
    PYTHONPATH=build/pylib "$PY" -c "
import os, pkg, pkg.mod, pkg.sub
print(os.path.relpath(pkg.__file__), pkg.X, pkg.mod.f(), os.path.relpath(pkg.sub.__file__))"
    PYTHONPATH=.venv/lib/python3/site-packages "$PY" -c "import os, spkg; print(spkg.NAME, os.path.relpath(spkg.__file__))"
    "$PY" - <<'"'"'PYEOF'"'"'
import hashlib, os, stat
for top in os.environ["TREE"].split():
    for d, dirs, files in sorted(os.walk(top)):
        dirs.sort()
        with os.scandir(d) as it:
            for e in sorted(it, key=lambda e: e.name):
                line = [e.path]
                try:
                    st = e.stat(follow_symlinks=False)
                    line += [e.is_file(follow_symlinks=False), e.is_dir(follow_symlinks=False), e.is_symlink(),
                             oct(st.st_mode)]
                    if not e.is_dir(follow_symlinks=False):
                        line += [st.st_size, st.st_mtime_ns]
                    if e.is_symlink():
                        line.append(os.readlink(e.path))
                        line.append(os.path.relpath(os.path.realpath(e.path)))
                    line.append(e.is_file())
                    if e.is_file() and os.access(e.path, os.R_OK):
                        with open(e.path, "rb") as f:
                            line.append(hashlib.sha256(f.read()).hexdigest()[:16])
                except OSError as x:
                    line.append(f"OSError {x.errno} {x.strerror}")
                print(*line)
import pathlib
print(sorted(str(p) for p in pathlib.Path("build").rglob("*.txt"))[:50])
print(os.path.getsize("build/big.bin"), os.path.exists("build/dangling"), os.path.lexists("build/dangling"))
PYEOF'
  # Where an open file says it is, and what filesystem a file is on: /proc/self/fd
  # readlinks and realpath of an fd (python, coreutils), statfs (stat -f, os.statvfs),
  # directory fds (os.fwalk reads through fdopendir and getdents), inode agreement.
  session_pair "$m/fds+statfs" "$m" "$PLAIN" "$PROJ" '
    find $TREE -type f -print0 | sort -z | xargs -0 stat -f -c "%n %T %s %l"
    stat -L -f -c "%n %T" build/link-to-file node_modules/.bin/cli
    "$PY" - <<'"'"'PYEOF'"'"'
import os
here = os.getcwd()
def show(p):
    return "@" + p[len(here):] if p.startswith(here + "/") else p
lines = []
for top in os.environ["TREE"].split():
    for d, dirs, files, dfd in os.fwalk(top):  # dfd is open only while the walk is here
        for name in files:
            p = os.path.join(d, name)
            try:
                fd = os.open(name, os.O_RDONLY, dir_fd=dfd)
            except OSError as x:
                lines.append(f"{p} open {x.errno}")
                continue
            link = os.readlink(f"/proc/self/fd/{fd}")
            real = os.path.realpath(f"/proc/{os.getpid()}/fd/{fd}")
            same = os.fstat(fd).st_ino == os.stat(name, dir_fd=dfd, follow_symlinks=False).st_ino
            vfs = os.fstatvfs(fd)
            tag = "same-ino" if same else "INO-DIFFERS"
            lines.append(f"{p} {show(link)} {show(real)} {tag} {vfs.f_bsize} {vfs.f_namemax}")
            os.close(fd)
print(*sorted(lines), sep="\n")
for top in os.environ["TREE"].split():
    for e in sorted(os.scandir(top), key=lambda e: e.name):
        print(e.path, e.inode() == os.stat(e.path, follow_symlinks=False).st_ino, os.statvfs(e.path).f_namemax)
PYEOF'
  if [ "$HAVE_NODE" == 1 ]; then
    session_pair "$m/node" "$m" "$PLAIN" "$PROJ" '
      node - <<'"'"'JS'"'"'
const fs = require("fs"), path = require("path");
const pkg = require(process.cwd() + "/package.json");
for (const dep of Object.keys(pkg.dependencies).sort()) {
  const resolved = require.resolve(dep, { paths: [process.cwd()] });
  const m = require(resolved);
  const keys = typeof m === "object" || typeof m === "function" ? Object.keys(m).sort() : [];
  console.log(dep, path.relative(process.cwd(), resolved), typeof m, keys.length, keys.slice(0, 6).join(","));
}
console.log(require("lodash").chunk([1, 2, 3, 4, 5], 2), require("semver").satisfies("1.2.3", "^1.0.0"));
console.log(require("./node_modules/pkg-a").answer, require("@scope/pkg-c").c);
function walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : 1)) {
    const p = path.join(d, e.name);
    const l = fs.lstatSync(p);
    let extra = "";
    if (e.isFile()) extra = require("crypto").createHash("sha256").update(fs.readFileSync(p)).digest("hex").slice(0, 12);
    if (e.isSymbolicLink()) extra = fs.readlinkSync(p) + " " + (fs.existsSync(p) ? path.relative(process.cwd(), fs.realpathSync(p)) : "-");
    console.log(p, e.isFile(), e.isDirectory(), e.isSymbolicLink(), l.mode.toString(8), e.isDirectory() ? "" : l.size, e.isDirectory() ? "" : l.mtimeMs, extra);
    if (e.isDirectory()) walk(p);
  }
}
walk("node_modules/semver"); walk("node_modules/pkg-a"); walk("build/a");
console.log(path.relative(process.cwd(), fs.realpathSync.native("node_modules/lodash/lodash.js")));
fs.promises.readFile("node_modules/uuid/package.json", "utf8").then(s => {
  console.log("async read", JSON.parse(s).version);
  fs.stat("build/big.bin", (err, st) => console.log("async stat", err, st && st.size));
});
JS
      node_modules/.bin/semver 1.2.3 -r "^1.0.0"; echo "semver bin: $?"'
  fi
}

# --- checks that write (in physical directories, on both sides) -------------------------
# git refreshes its index once in a copy (the index caches inode numbers), python and make
# add files: none of the listings above may run after these.
git_checks() {
  local m=$1
  session_pair "$m/git (read)" "$m" "$PLAIN" "$PROJ" '
    cd build/repo
    git status --porcelain=v1 --untracked-files=all; echo "status: $?"
    git ls-files -s; git diff --stat; git diff --cached --stat; git log --format="%H %s"
    git cat-file -p HEAD:docs/guide.txt; git rev-parse HEAD^{tree}; git fsck --no-progress 2>&1 | head -5'
}

writing_checks() {
  local m=$1
  session_pair "$m/python compileall" "$m" "$PLAIN" "$PROJ" '
    "$PY" -m compileall -q build/pylib .venv; echo "compileall: $?"
    # a .pyc header records the source mtime and size the interpreter saw
    find build/pylib .venv -name "*.pyc" | sort | while read -r f; do
      "$PY" -c "import sys,struct; h=open(sys.argv[1],\"rb\").read(16); print(sys.argv[1], struct.unpack(\"<4xIII\", h))" "$f"
    done
    PYTHONDONTWRITEBYTECODE= PYTHONPATH=build/pylib "$PY" -c "import pkg.mod; print(pkg.mod.f())"'
  session_pair "$m/make" "$m" "$PLAIN" "$PROJ" '
    cd build/src
    make -j2 2>&1 | sort; echo "make: ${PIPESTATUS[0]}"
    ./app
    make; echo "make again: $?"
    ls *.o *.d app | sort'
  session_pair "$m/git (write)" "$m" "$PLAIN" "$PROJ" '
    cd build/repo
    git status --porcelain; echo "status: $?"
    git update-index --refresh >/dev/null; echo "refresh: $?"
    git status --porcelain; git stash list
    printf "new\n" > new.txt; git add new.txt; git status --porcelain; git rm -q --cached new.txt; rm -f new.txt
    git status --porcelain; echo "after: $?"'
}

# --- programs with an LMDB of their own -------------------------------------------------
# The shim carries its LMDB inside it, hidden: a program linked with the system's LMDB
# reads and writes its own environment through its own copy, and a program without LMDB
# maps none (the shim adds no library to a process but itself).
lmdb_checks() {
  local m=$1
  session_pair "$m/LMDB tools" "$m" "$PLAIN" "$PROJ" '
    mdb_dump -p lmdb-env; mdb_stat lmdb-env | grep -E "depth|Entries"
    d=$(mktemp -d); cp lmdb-env/data.mdb "$d/"
    printf "gamma\nthree\n" | mdb_load -T "$d"; echo "load: $?"
    mdb_dump -p "$d" | grep -v "^mapsize="; rm -rf "$d"
    echo "LMDB libraries mapped by cat: $(grep -c lmdb /proc/self/maps)"'
}

readonly_checks phantom
readonly_checks solid
lmdb_checks phantom
lmdb_checks solid
git_checks phantom
writing_checks phantom
git_checks solid
probe_summary
