#!/usr/bin/env bash
# kill -9 of writers inside a session at random moments between open and close (during
# break-before-write copies, writes, re-ingest, renames over, mmap writes), repeated,
# Solid and Phantom. Then `vrift doctor --repair`, and then: every blob hashes to its
# name, every manifest path reads its recorded bytes, no file of the tree is lost, and
# a second doctor finds nothing to repair.
source "$(dirname "$0")/lib/common.bash"
need python3 b3sum
cd "$SCRATCH"

cat > writer.py <<'PY'
import mmap, os, random, sys
random.seed(int(sys.argv[1]))
names = [f"target/f{i}.bin" for i in range(40)]
while True:
    name = random.choice(names)
    op = random.randrange(6)
    if op == 0:  # rewrite in place
        with open(name, "r+b") as f:
            f.seek(random.randrange(1 << 20))
            f.write(os.urandom(4096))
    elif op == 1:  # truncate and write
        with open(name, "wb") as f:
            f.write(os.urandom(random.randrange(1, 1 << 20)))
    elif op == 2:  # append
        with open(name, "ab") as f:
            f.write(b"appended\n")
    elif op == 3:  # write a temp, rename it over
        tmp = name + ".tmp"
        with open(tmp, "wb") as f:
            f.write(os.urandom(65536))
        os.replace(tmp, name)
    elif op == 4:  # write through a shared mapping
        with open(name, "r+b") as f:
            if os.fstat(f.fileno()).st_size > 0:
                m = mmap.mmap(f.fileno(), 0)
                m[0:8] = b"MAPPED!!"
                m.close()
    else:  # a new file, then remove it
        new = f"target/new{random.randrange(10)}.txt"
        with open(new, "w") as f:
            f.write("new\n")
        if random.random() < 0.5:
            os.remove(new)
PY

for mode in solid phantom; do
  rm -rf project
  mkdir -p project/target
  for i in $(seq 0 39); do head -c $((1 << 20)) /dev/urandom > project/target/f$i.bin; done
  cd project
  "$VRIFT" init -q
  "$VRIFT" ingest -q --$mode target
  for round in $(seq 1 12); do
    setsid "$VRIFT" run -- python3 ../writer.py "$round" > /dev/null 2>&1 &
    leader=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 -- "-$leader" 2>/dev/null || true
    wait "$leader" 2>/dev/null || true
    # Until the whole group is gone (reaped): doctor keeps the temps of live writers.
    for _ in $(seq 1 200); do kill -0 -- "-$leader" 2>/dev/null || break; sleep 0.05; done
  done
  # The writer died in the middle of things: repair, then check.
  "$VRIFT" doctor --repair > "$SCRATCH/doctor.out" 2>&1 || fail "$mode: doctor --repair: $(cat "$SCRATCH/doctor.out")"
  "$VRIFT" doctor > "$SCRATCH/doctor2.out" 2>&1 || fail "$mode: a second doctor still finds problems: $(cat "$SCRATCH/doctor2.out")"
  check_iron_law "$mode: after 12 killed writers"
  for i in $(seq 0 39); do
    "$VRIFT" ls target/f$i.bin | grep -q " target/f$i.bin\$" || fail "$mode: target/f$i.bin is no longer recorded"
  done
  lost=$("$VRIFT" run -- bash -c 'for i in $(seq 0 39); do test -f target/f$i.bin || echo target/f$i.bin; done')
  [ -z "$lost" ] || fail "$mode: files lost: $lost"
  [ -z "$(find target -name '.vrift-tmp-*')" ] || fail "$mode: temps left after repair"
  cd ..
  pass "$mode: 12 writers killed at random moments; doctor --repair; both invariants hold, nothing lost"
done
