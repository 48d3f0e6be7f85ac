#!/usr/bin/env bash
# `vrift run` re-ingests what its command wrote in one batch at the end (the shim lists
# each written file in .vrift/pending). If vrift itself dies before that batch, nothing
# is lost: the files are on disk at their paths, a file written over a managed one
# reads as written (its entry is dirty), and the next `vrift run` settles the list.
source "$(dirname "$0")/lib/common.bash"
need b3sum
cd "$SCRATCH"

for mode in solid phantom; do
  rm -rf project
  mkdir -p project/target/sub
  printf 'one\n' > project/target/a.txt
  printf 'two\n' > project/target/sub/b.txt
  cd project
  "$VRIFT" init -q
  "$VRIFT" ingest -q --$mode target

  # The command writes, renames a new file over a managed one, then kills vrift (its
  # parent) before the end-of-run batch.
  "$VRIFT" run -- sh -c '
    printf "more\n" >> target/a.txt
    printf "new\n" > target/new.txt
    printf "replaced\n" > target/sub/.b.tmp && mv target/sub/.b.tmp target/sub/b.txt
    kill -9 $PPID' 2>/dev/null && fail "$mode: vrift run survived kill -9"
  sleep 0.2
  [ -s .vrift/pending ] || fail "$mode: nothing listed after vrift died"
  for p in target/a.txt target/new.txt target/sub/b.txt; do
    grep -qx "$p" .vrift/pending || fail "$mode: $p not listed: $(cat .vrift/pending)"
  done
  # Inside a new session, before anything settles, every path reads what was written.
  got=$(VRIFT_REINGEST=exit "$VRIFT" run -- sh -c 'cat target/a.txt target/new.txt target/sub/b.txt')
  expect_eq "$got" "$(printf 'one\nmore\nnew\nreplaced')" "$mode: contents read in the next session"

  # That run settled the list: the manifest records the written contents, nothing is
  # dirty or listed, and every recorded path reads its recorded bytes.
  [ -z "$(ls .vrift | grep pending || true)" ] || fail "$mode: lists left after the next run: $(ls .vrift)"
  dirty=$("$VRIFT" ls | awk '$1 == "dirty"')
  [ -z "$dirty" ] || fail "$mode: still dirty: $dirty"
  for p in target/a.txt target/new.txt target/sub/b.txt; do
    recorded=$("$VRIFT" ls | awk -v p="$p" '$6 == p { print $5 }')
    actual=$("$VRIFT" run -- b3sum --no-names "$p")
    expect_eq "$recorded" "$actual" "$mode: recorded hash of $p"
  done
  "$VRIFT" doctor > doctor.out || fail "$mode: doctor after the settle: $(cat doctor.out)"
  rm -f doctor.out

  # A file nothing holds open any more becomes its blob without a copy (in Solid mode
  # the path and the blob are one inode); one a program still holds open is copied.
  written=$("$VRIFT" run -- sh -c 'printf "solo %s\n" "$0" > target/solo.txt; stat -c %i target/solo.txt' "$mode")
  hash=$("$VRIFT" ls | awk '$6 == "target/solo.txt" { print $5 }')
  blob=$(ls "$VRIFT_CAS_ROOT/blake3/${hash:0:2}/${hash}"_* 2>/dev/null | head -1)
  [ -n "$blob" ] || fail "$mode: no blob for target/solo.txt"
  expect_eq "$(stat -c %i "$blob")" "$written" "$mode: the written file itself became its blob"

  # The shim lists every file the command writes in the project; the batch ingests only
  # what belongs to the projection: new files in a recorded directory, not a file at the
  # project's root or in a directory never ingested.
  "$VRIFT" run -- sh -c 'echo x > notes.txt; mkdir -p scratch; echo y > scratch/z.txt; echo w > target/sub/new2.txt'
  listed=$("$VRIFT" ls | awk '{ print $6 }')
  grep -qx target/sub/new2.txt <<<"$listed" || fail "$mode: a new file in a recorded directory was not ingested"
  if grep -qE '^(notes\.txt|scratch)' <<<"$listed"; then
    fail "$mode: files outside the recorded directories were ingested: $listed"
  fi
  expect_eq "$(stat -c '%h %A' notes.txt scratch/z.txt | sort -u)" "1 -rw-r--r--" "$mode: unrecorded files left as written"
  [ -z "$(ls .vrift | grep pending || true)" ] || fail "$mode: lists left after the run: $(ls .vrift)"
  rm -rf notes.txt scratch

  # More files open for writing at once than the shim's table tracks (256): each one
  # past it is listed when opened, so the batch misses none.
  "$VRIFT" run -- python3 -c '
files = [open(f"target/sub/many{i}.txt", "w") for i in range(300)]
for i, f in enumerate(files):
    f.write(f"file {i}\n")
for f in files:
    f.close()'
  expect_eq "$("$VRIFT" ls | awk '$6 ~ /^target\/sub\/many/' | wc -l)" "300" "$mode: files written 300 at once"
  expect_eq "$("$VRIFT" run -- cat target/sub/many299.txt)" "file 299" "$mode: the last of them"

  # A program the command left running keeps writing a file after the run's batch:
  # the batch stored a copy, so no blob changes.
  written=$("$VRIFT" run -- sh -c 'exec 3>> target/sub/b.txt; echo early >&3; stat -c %i target/sub/b.txt
                                    (sleep 1; echo late >&3) & exit 0')
  hash=$("$VRIFT" ls | awk '$6 == "target/sub/b.txt" { print $5 }')
  blob=$(ls "$VRIFT_CAS_ROOT/blake3/${hash:0:2}/${hash}"_* 2>/dev/null | head -1)
  [ -n "$blob" ] && [ "$(stat -c %i "$blob")" != "$written" ] || fail "$mode: a file still open became a blob"
  sleep 1.5
  "$VRIFT" cas verify --deep > verify.out || fail "$mode: a blob changed after the run: $(cat verify.out)"
  rm -f verify.out
  cd ..
  pass "$mode: a run killed before its batch loses nothing; the next run settles it"
done
