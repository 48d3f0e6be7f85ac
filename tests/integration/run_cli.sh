#!/usr/bin/env bash
# vrift run: the command's exit status, a clear line when it cannot start, the session's
# environment (shim once, after other preloads, which are kept), signals passed on, and mode
# conversion when asked.
source "$(dirname "$0")/lib/common.bash"
need python3
cd "$SCRATCH"
mkdir -p project/build && echo "hello" > project/build/greeting.txt
cd project
"$VRIFT" init -q
"$VRIFT" ingest -q

expect_status 0 "$VRIFT" run -- true
expect_status 7 "$VRIFT" run -- sh -c 'exit 7'
status=0; "$VRIFT" run -- no-such-command-here 2> err.txt || status=$?
expect_eq "$status" 127 "exit status of a command that does not exist"
grep -q "vrift: error: cannot run command (no-such-command-here): No such file or directory" err.txt ||
  fail "missing-command message: $(cat err.txt)"
pass "exit status passed through; 127 and one line for a missing command"

env_of() { "$VRIFT" run "$@" -- sh -c 'printf "%s|%s|%s|%s\n" "$LD_PRELOAD" "$VRIFT_PROJECT" "$VRIFT_MODE" "$UV_USE_IO_URING"'; }
IFS='|' read -r preload project mode uring < <(env_of)
expect_eq "$preload" "$VRIFT_SHIM" "LD_PRELOAD in a session"
expect_eq "$project" "$PWD" "VRIFT_PROJECT"
expect_eq "$mode" solid "VRIFT_MODE"
expect_eq "$uring" 0 "UV_USE_IO_URING"
# Nested sessions do not stack the shim; another preload is kept, before it, whether
# it was there when the session began or a program in it set LD_PRELOAD for a child
# (the shim's exec hook puts itself back, last). ASAN_OPTIONS keeps the user's options.
nested=$("$VRIFT" run -- "$VRIFT" run -- sh -c 'echo "$LD_PRELOAD"')
expect_eq "$nested" "$VRIFT_SHIM" "LD_PRELOAD of a nested session"
other=$(LD_PRELOAD=/lib/x86_64-linux-gnu/libm.so.6 "$VRIFT" run -- sh -c 'echo "$LD_PRELOAD"')
expect_eq "$other" "/lib/x86_64-linux-gnu/libm.so.6:$VRIFT_SHIM" "LD_PRELOAD with another preload"
other=$("$VRIFT" run -- env LD_PRELOAD=/lib/x86_64-linux-gnu/libm.so.6 sh -c 'echo "$LD_PRELOAD"')
expect_eq "$other" "/lib/x86_64-linux-gnu/libm.so.6:$VRIFT_SHIM" "LD_PRELOAD a program in the session set"
asan=$(ASAN_OPTIONS=detect_leaks=0 "$VRIFT" run -- sh -c 'echo "$ASAN_OPTIONS"')
expect_eq "$asan" "detect_leaks=0:verify_asan_link_order=0" "ASAN_OPTIONS in a session"
asan=$(ASAN_OPTIONS=verify_asan_link_order=1 "$VRIFT" run -- sh -c 'echo "$ASAN_OPTIONS"')
expect_eq "$asan" "verify_asan_link_order=1" "ASAN_OPTIONS the user set that option in"
pass "session environment: shim once and last, other preloads kept, ASAN_OPTIONS added to"

# A signal to vrift reaches the command, and vrift reports it as 128 + signal.
"$VRIFT" run -- python3 -c 'import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: (print("got TERM", flush=True), sys.exit(3)))
print("ready", flush=True); time.sleep(30)' > sig.out &
pid=$!
for _ in $(seq 1 100); do grep -q ready sig.out 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
status=0; wait "$pid" || status=$?
expect_eq "$status" 3 "exit status after SIGTERM was passed on"
grep -q "got TERM" sig.out || fail "the command never saw SIGTERM: $(cat sig.out)"
pass "SIGTERM sent to vrift reaches the command"

# Asking for the other mode converts the projection first.
"$VRIFT" run --phantom -- cat build/greeting.txt > out.txt 2> err.txt
expect_eq "$(cat out.txt)" hello "reading a file after converting to Phantom"
grep -q "converting the projection to \[Phantom\]" err.txt || fail "no conversion note: $(cat err.txt)"
[ ! -e build/greeting.txt ] || fail "the file is still on disk after converting to Phantom"
"$VRIFT" run --solid -- true 2> /dev/null
[ "$(cat build/greeting.txt)" == hello ] || fail "the file is not back on disk after converting to Solid"
pass "run --phantom / --solid convert the projection first"

# A project just initialized, never ingested (The Source not yet used): the read-only
# commands work on it.
mkdir -p "$SCRATCH/fresh/build" && echo data > "$SCRATCH/fresh/build/f.txt"
fresh_source="$SCRATCH/fresh-source"
VRIFT_CAS_ROOT=$fresh_source "$VRIFT" -C "$SCRATCH/fresh" init -q
VRIFT_CAS_ROOT=$fresh_source "$VRIFT" -C "$SCRATCH/fresh" doctor > doctor.out || fail "doctor on a fresh project: $(cat doctor.out)"
grep -q "no problems" doctor.out || fail "doctor on a fresh project: $(cat doctor.out)"
VRIFT_CAS_ROOT=$fresh_source "$VRIFT" -C "$SCRATCH/fresh" ls > /dev/null || fail "ls on a fresh project"
VRIFT_CAS_ROOT=$fresh_source "$VRIFT" -C "$SCRATCH/fresh" status > /dev/null || fail "status on a fresh project"
pass "doctor, ls and status work on a project never ingested"
