#!/usr/bin/env bash
# A directory of the project that is another mount (a tmpfs for build outputs, a bind
# mount of a cache) is ingested like the rest: its files are stored as copies (no link
# crosses filesystems), Tier-1 symlinks to them are made beside their paths (the ones
# under the project's own filesystem are made in The Source's tmp/ and moved in from
# there), and nothing is left behind in either place.
source "$(dirname "$0")/lib/common.bash"
need b3sum
cd "$SCRATCH"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (mounts a tmpfs)"; exit 125; }

mkdir -p p/node_modules/a p/node_modules/m p/build/out
mount -t tmpfs tmpfs p/node_modules/m 2>/dev/null || { echo "SKIP: cannot mount a tmpfs here"; exit 125; }
mount -t tmpfs tmpfs p/build/out || { umount p/node_modules/m; exit 1; }
trap 'umount p/node_modules/m p/build/out 2>/dev/null; cleanup' EXIT

printf 'module.exports = "a";\n' > p/node_modules/a/index.js
printf 'module.exports = "m";\n' > p/node_modules/m/index.js
mkdir -p p/node_modules/m/lib && head -c 100000 /dev/urandom > p/node_modules/m/lib/data.bin
head -c 50000 /dev/urandom > p/build/out/app.o
cp p/node_modules/m/lib/data.bin p/node_modules/a/data-copy.bin  # same content on both filesystems
sums=$(cd p && find node_modules build -type f -print0 | sort -z | xargs -0 b3sum)

"$VRIFT" -C p init -q
"$VRIFT" -C p ingest -q --solid || fail "ingest of a project with mounts inside"
[ "$(cd p && find node_modules build -type f -o -type l | sort | xargs b3sum)" == "$sums" ] ||
  fail "content changed by ingest"
for f in node_modules/a/index.js node_modules/m/index.js node_modules/m/lib/data.bin; do
  [ -L "p/$f" ] || fail "$f is not a Tier-1 symlink"
done
[ -z "$(ls -A "$VRIFT_CAS_ROOT/tmp")" ] || fail "temps left in The Source: $(ls -A "$VRIFT_CAS_ROOT/tmp")"
[ -z "$(find p -name '.vrift-tmp*')" ] || fail "temps left in the project: $(find p -name '.vrift-tmp*')"
"$VRIFT" -C p doctor > doctor.out 2>&1 || fail "doctor after ingest: $(cat doctor.out)"
"$VRIFT" cas verify --deep > /dev/null || fail "The Source does not verify"
out=$("$VRIFT" -C p ingest --solid)
echo "$out" | grep -q " 0 hashed," || fail "a second ingest hashed files again: $out"
pass "mounts inside the project: copies stored, symlinks made beside their paths, nothing left behind"
