#!/usr/bin/env bash
# Writers at once, Solid and Phantom: 8 processes appending to distinct managed files,
# 16 threads of one process rewriting files, node writing through libuv (which closes
# with syscall(SYS_close)), make -j8, and external commands writing through a shell
# redirect (the descriptor is handed across exec). With VRIFT_REINGEST=close (as in an
# interactive session) each file is re-ingested by the process that closed it (checked
# inside the session, before `vrift run` settles anything); by default each is listed
# for `vrift run`'s one batch at its end, and nothing is dirty or listed after it. Every
# result is what the same work gives on plain files, and The Source verifies.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/cproject.bash"
need python3 make cc b3sum node
cd "$SCRATCH"

make_tree() {
  mkdir -p "$1/target/logs" "$1/target/py" "$1/target/js"
  for p in $(seq 1 8); do printf 'start %s\n' "$p" > "$1/target/logs/l$p.txt"; done
  for t in $(seq 1 16); do printf 'thread file %s\n' "$t" > "$1/target/py/t$t.txt"; done
  for j in 1 2 3; do printf 'js %s\n' "$j" > "$1/target/js/j$j.txt"; done
  make_cproject "$1/target/cproj" 60
}

WORK='
for p in $(seq 1 8); do
  (for i in $(seq 1 60); do echo "line $i of $p" >> target/logs/l$p.txt; done) &
done
wait
python3 - <<PY
import threading
def rewrite(t):
    for i in range(20):
        with open(f"target/py/t{t}.txt", "a") as f:
            f.write(f"thread {t} pass {i}\n")
threads = [threading.Thread(target=rewrite, args=(t,)) for t in range(1, 17)]
for th in threads: th.start()
for th in threads: th.join()
PY
node -e "
const fs = require(\"fs\");
fs.writeFileSync(\"target/js/j1.txt\", \"sync write\\n\");
fs.appendFileSync(\"target/js/j2.txt\", \"appended\\n\");
fs.promises.writeFile(\"target/js/j3.txt\", \"async write\\n\").then(() => fs.writeFileSync(\"target/js/new.txt\", \"new\\n\"));
"
(cd target/cproj && make -s -j8 && ./app)
# external commands writing through a redirect: the descriptor crosses exec
cat target/logs/l1.txt > target/js/cat-out.txt
sort target/logs/l2.txt >> target/js/j2.txt
'

# (A directory's size depends on the temps once created in it: not compared.)
view() { (cd "$1" && find target -type f -print0 | sort -z | xargs -0 b3sum && find target -printf '%p %y %m\n' | sort); }

for reingest in close exit; do
for mode in solid phantom; do
  export VRIFT_REINGEST=$reingest
  rm -rf plain project
  make_tree plain
  cp -a plain project
  want=$(cd plain && bash -c "$WORK" 2>&1) || fail "plain run: $want"
  cd project
  "$VRIFT" init -q
  "$VRIFT" ingest -q --$mode target
  if [ $reingest = close ]; then
    # Inside the session, after the writers are done: nothing may be left dirty.
    got=$("$VRIFT" run -- bash -c "$WORK"'
      "$VRIFT" ls | awk '\''$1 == "dirty" { print "still dirty: " $6 }'\''' 2>&1) || fail "$mode/$reingest: session run: $got"
    expect_eq "$got" "$want" "$mode/$reingest: output of the writers (and nothing left dirty)"
  else
    got=$("$VRIFT" run -- bash -c "$WORK"'
      [ -s .vrift/pending ] || echo "nothing listed for the end of the run"' 2>&1) || fail "$mode/$reingest: session run: $got"
    expect_eq "$got" "$want" "$mode/$reingest: output of the writers (and the files listed)"
    left=$("$VRIFT" ls | awk '$1 == "dirty" { print $6 }'; ls .vrift | grep pending || true)
    [ -z "$left" ] || fail "$mode/$reingest: dirty or listed after the run: $left"
  fi
  session_view=$("$VRIFT" run -- bash -c "$(declare -f view); view .")
  plain_view=$(view ../plain)
  [ "$session_view" == "$plain_view" ] ||
    fail "$mode/$reingest: the tree after the writers differs: $(diff <(echo "$plain_view") <(echo "$session_view") | head -20)"
  "$VRIFT" cas verify --deep >/dev/null || fail "$mode/$reingest: The Source does not verify"
  for p in $(seq 1 8); do
    n=$("$VRIFT" run -- cat target/logs/l$p.txt | wc -l)
    expect_eq "$n" 61 "$mode/$reingest: lines in target/logs/l$p.txt"
  done
  cd ..
  pass "$mode, re-ingest at $reingest: 8 appending processes, 16 threads, node (libuv) and make -j8 all recorded as written"
done
done
