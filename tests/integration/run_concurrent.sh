#!/usr/bin/env bash
# Several `vrift run`s in one project at once (a watcher in one terminal, a build in
# another). Each settles at its end what the shim listed, which may include files
# another run is writing right then:
# - a file rewritten just as another run made it a blob (its open waited on that run's
#   write lease) is broken away from the blob first: no blob changes, every rewrite reads
#   back;
# - a file another run still holds open is left to that run (a copy swapped in at its
#   path would lose what it writes next).
# Solid and Phantom; afterwards every blob hashes to its name and the doctor finds nothing.
source "$(dirname "$0")/lib/common.bash"
need b3sum
cd "$SCRATCH"

for mode in solid phantom; do
  rm -rf p
  mkdir -p p/build
  echo seed > p/build/seed.o
  cd p
  "$VRIFT" init -q
  "$VRIFT" ingest -q --$mode

  # --- three writers, each writing 200 files, then rewriting half of them ------------
  for round in 1 2; do
    pids=()
    for w in a b c; do
      "$VRIFT" run -- bash -c "mkdir -p build/$w
        for i in \$(seq 200); do echo $w\$i > build/$w/f\$i.o; done
        sleep 0.\$((RANDOM % 5))
        for i in \$(seq 100); do echo again$round$w\$i > build/$w/f\$i.o; done" > run-$w.log 2>&1 &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || fail "$mode: a concurrent run failed: $(cat run-*.log)"; done
    "$VRIFT" cas verify --deep > verify.out 2>&1 || fail "$mode: round $round: a rewrite reached a blob: $(cat verify.out)"
    want=$(for w in a b c; do for i in $(seq 200); do
      if [ "$i" -le 100 ]; then echo "again$round$w$i"; else echo "$w$i"; fi; done; done)
    got=$("$VRIFT" run -- bash -c 'for w in a b c; do for i in $(seq 200); do cat build/$w/f$i.o; done; done')
    [ "$got" == "$want" ] || fail "$mode: round $round: contents: $(diff <(echo "$want") <(echo "$got") | head -5)"
  done
  expect_eq "$("$VRIFT" ls build | awk '$1 == "file" || $1 == "phantom"' | wc -l)" 601 "$mode: files recorded"
  pass "$mode: three runs writing and rewriting at once: every write reads back, no blob changed"

  # --- a file held open by one run across another run's settle -------------------------
  # Appending to a recorded file breaks it away from its blob (its entry is then dirty,
  # and every settle takes the dirty entries).
  "$VRIFT" run -- bash -c 'exec 3>> build/seed.o
    echo one >&3; touch ../opened
    for i in $(seq 600); do [ -e ../settled ] && break; sleep 0.05; done  # (30 s at most)
    echo two >&3; exec 3>&-' > held.log 2>&1 &
  holder=$!
  for i in $(seq 600); do [ -e ../opened ] && break; sleep 0.05; done
  [ -e ../opened ] || fail "$mode: the run holding the file did not start: $(cat held.log)"
  "$VRIFT" run -- true || fail "$mode: the other run"
  touch ../settled
  wait "$holder" || fail "$mode: the run holding the file: $(cat held.log)"
  rm -f ../opened ../settled
  got=$("$VRIFT" run -- cat build/seed.o)
  expect_eq "$got" "$(printf 'seed\none\ntwo')" "$mode: what the holding run wrote"
  [ -z "$("$VRIFT" ls build/seed.o | awk '$1 == "dirty"')" ] || fail "$mode: the held file is left dirty"
  "$VRIFT" doctor > doctor.out || fail "$mode: doctor: $(cat doctor.out)"
  "$VRIFT" cas verify --deep > verify.out 2>&1 || fail "$mode: verify: $(cat verify.out)"
  cd ..
  pass "$mode: a file another run holds open is left to it and recorded when it is done"
done
