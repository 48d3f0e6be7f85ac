#!/usr/bin/env bash
# Interactive sessions in real shells, on a real node_modules in a project whose path
# has a space, a quote, a $ and non-ASCII: an interactive bash driven through tmux
# (prompt on screen, commands inside, no stacking, wake restores `env` and the prompt
# exactly), Phantom files readable only inside, session.json and rejoining from another
# shell, mode switches, zsh and fish, the cd hooks (and that they run vrift only on
# entering and leaving), and an unprivileged user.
source "$(dirname "$0")/lib/common.bash"
need tmux zsh fish python3 b3sum node setpriv
cd "$SCRATCH"
export HOME="$SCRATCH/home"  # nothing may land in the real ~/.vrift
mkdir -p "$HOME"

npm_tree npm
P="$SCRATCH/my proj's \$dir ü"
cp -a npm "$P"
PLAIN=$(tree_hashes npm node_modules)
cd "$P"
"$VRIFT" init -q
"$VRIFT" ingest -q
FILE=node_modules/semver/package.json
[ -L "$FILE" ] || fail "$FILE is not a Tier-1 symlink after ingest"

# --- tmux: a real interactive bash ------------------------------------------------
SOCK="$SCRATCH/tmux.sock"
tm() { tmux -S "$SOCK" "$@"; }
stop_tmux() { tm kill-server 2>/dev/null || true; cleanup; }
trap stop_tmux EXIT
steps=0
# in_pane CMD: types CMD at the prompt and waits until the shell has run it.
in_pane() {
  steps=$((steps + 1))
  tm send-keys -t t -l -- "$1; tmux -S $SOCK wait-for -S step$steps"
  tm send-keys -t t Enter
  timeout 120 tmux -S "$SOCK" wait-for "step$steps" || fail "the shell did not finish: $1"
}
# screen_shows_prompt TEXT: waits for the screen's last line to be the prompt TEXT.
screen_shows_prompt() {
  local last=
  for _ in $(seq 1 600); do
    last=$(tm capture-pane -p -t t | sed '/^$/d' | tail -n 1)
    [ "$last" == "$1" ] && return 0
    sleep 0.05
  done
  fail "prompt on screen: expected '$1', got '$last'"
}
screen() { tm capture-pane -p -S - -t t; }

B="$SCRATCH/bash"
mkdir -p "$B"
tm -f /dev/null new-session -d -s t -x 200 -y 50 \
  env -i HOME="$HOME" PATH="$VRIFT_BUILD:$PATH" TERM=xterm LANG=C.UTF-8 VRIFT_CAS_ROOT="$VRIFT_CAS_ROOT" \
  PROJ="$P" KEEP_ME="a 'b' \$c" UV_USE_IO_URING=1 bash --norc --noprofile -i
in_pane "PS1='test-prompt> '; VRIFT_MODE=mine; cd \"\$PROJ\""
screen_shows_prompt "test-prompt>"
in_pane "env | sort > $B/env0; declare -p PS1 VRIFT_MODE UV_USE_IO_URING > $B/vars0"
grep -q '^UV_USE_IO_URING=1$' "$B/env0" || fail "pre-session environment: $(cat "$B/env0")"
grep -q '^LD_PRELOAD=' "$B/env0" && fail "the pane started with LD_PRELOAD set"

# Typed without eval, it changes nothing and says how to use it.
in_pane 'vrift inception'
screen | grep -q 'use: eval "$(vrift inception)"' || fail "no hint when run without eval: $(screen)"
[ ! -e .vrift/session.json ] || fail "inception without eval recorded a session"
in_pane 'clear'

in_pane 'eval "$(vrift inception)"'
screen_shows_prompt "(vrift 🌀 [Solid]) test-prompt>"
screen | grep -q "🌀 Entering the dream…" || fail "no entering message: $(screen)"
screen | grep -q "vrift is active in \[Solid\] mode. Physical files are safe." || fail "no Solid message: $(screen)"
in_pane "env | sort > $B/env1; cat $FILE > $B/cat1; stat -c %F $FILE > $B/stat1; node -e 'console.log(require(\"semver\").valid(\"1.2.3\"))' > $B/node1"
grep -qx "LD_PRELOAD=$VRIFT_SHIM" "$B/env1" || fail "LD_PRELOAD in the session: $(grep LD_PRELOAD "$B/env1")"
grep -qx "VRIFT_PROJECT=$P" "$B/env1" || fail "VRIFT_PROJECT in the session"
grep -qx "VRIFT_MODE=solid" "$B/env1" || fail "VRIFT_MODE in the session"
grep -qx "UV_USE_IO_URING=0" "$B/env1" || fail "UV_USE_IO_URING in the session"
grep -qx "VRIFT_CAS_ROOT=$VRIFT_CAS_ROOT" "$B/env1" || fail "VRIFT_CAS_ROOT in the session"
cmp -s "$B/cat1" "$SCRATCH/npm/$FILE" || fail "cat in the session differs"
# The shim is in the shell's children: a Tier-1 link reads as the regular file.
expect_eq "$(cat "$B/stat1")" "regular file" "stat of a Tier-1 file inside the session"
expect_eq "$(cat "$B/node1")" "1.2.3" "node requiring a projected module"
pass "bash in tmux: inception shows [Solid] on the prompt; the session's environment; commands see the projection"

in_pane 'eval "$(vrift inception)"'
screen_shows_prompt "(vrift 🌀 [Solid]) test-prompt>"
in_pane "env | sort > $B/env2"
diff "$B/env1" "$B/env2" || fail "a second inception changed the environment"
pass "a second inception does not stack (prompt, LD_PRELOAD, saved originals)"

python3 - "$P" "$VRIFT_CAS_ROOT" "$VRIFT_SHIM" <<'PY'
import json, os, sys
project, cas, shim = sys.argv[1:]
s = json.load(open(os.path.join(project, ".vrift/session.json")))
assert s["mode"] == "solid" and s["project"] == project and s["cas_root"] == cas and s["shim"] == shim, s
assert s["version"] == 1 and s["started_at"].endswith("Z") and s["abi_context"] is None, s
assert len(s["shells"]) == 1 and os.path.exists("/proc/%d" % s["shells"][0]["pid"]), s
PY
"$VRIFT" status | grep -q "^session:    \[Solid\] since .*, 1 shell in it" || fail "status: $("$VRIFT" status)"
pass "session.json records mode, project, The Source, shim, start and the shell; status shows it"

in_pane 'eval "$(vrift wake)"'
screen_shows_prompt "test-prompt>"
in_pane "env | sort > $B/env3; declare -p PS1 VRIFT_MODE UV_USE_IO_URING > $B/vars3"
diff "$B/env0" "$B/env3" || fail "wake did not restore the environment"
diff "$B/vars0" "$B/vars3" || fail "wake did not restore PS1 and the shell's own variables"
[ ! -e .vrift/session.json ] || fail "session.json left after the last shell woke"
[ "$(tree_hashes . node_modules)" == "$PLAIN" ] || fail "files changed after a Solid session"
[ -L "$FILE" ] || fail "the Tier-1 link is gone after a Solid session"
pass "wake restores env | sort, PS1 and unexported shell variables exactly; Solid files intact"

# --- Phantom, in the same pane ------------------------------------------------------
in_pane 'eval "$(vrift inception --phantom)"'
screen_shows_prompt "(vrift 🌀 [Phantom]) test-prompt>"
screen | grep -q "vrift is active in \[Phantom\] mode" || fail "no Phantom message: $(screen)"
[ ! -e "$FILE" ] || fail "$FILE is still on disk in Phantom mode"
grep -q '^mode = "phantom"$' .vrift/config.toml || fail "config.toml does not record Phantom"
in_pane "cat $FILE > $B/cat2; node -e 'console.log(require(\"semver\").valid(\"4.5.6\"))' > $B/node2"
cmp -s "$B/cat2" "$SCRATCH/npm/$FILE" || fail "cat of a phantom file in the session"
expect_eq "$(cat "$B/node2")" "4.5.6" "node requiring a phantom module"
# A dependency's directory is virtual (not on disk); the session's cd makes it.
[ ! -e node_modules/debug/src ] || fail "node_modules/debug/src is on disk in Phantom mode"
in_pane "(cd node_modules/debug/src && pwd > $B/pwd2 && ls > $B/ls2)"
expect_eq "$(cat "$B/pwd2")" "$P/node_modules/debug/src" "cd into a virtual directory in the session"
expect_eq "$(cat "$B/ls2")" "$(ls "$SCRATCH/npm/node_modules/debug/src")" "ls in a virtual directory made by cd"
in_pane "(cd no-such-dir) 2> $B/cd-err; echo \$? > $B/cd-rc"
expect_eq "$(cat "$B/cd-rc")" 1 "cd to a missing directory in the session"
grep -q "no-such-dir: No such file or directory" "$B/cd-err" || fail "cd's own error: $(cat "$B/cd-err")"
# vrift typed inside the session sees the real tree, not the shim's view: an ingest
# there changes nothing, and status finds no problem.
"$VRIFT" --json status > "$B/status-before.json"
in_pane "vrift -q ingest; vrift --json status > $B/status-inside.json"
"$VRIFT" --json status > "$B/status-after.json"
python3 - "$B" <<'PY'
import json, sys
d = sys.argv[1]
before, inside, after = (json.load(open(f"{d}/status-{n}.json")) for n in ("before", "inside", "after"))
for s in (before, inside, after):
    assert all(v == 0 for k, v in s["problems"].items() if k != "borrowed_mtimes"), s["problems"]
    assert s["entries"]["phantom"] == s["entries"]["files"] > 1000, s["entries"]
    assert s["entries"]["delta"] == 0 and s["entries"]["whiteouts"] == 0, s["entries"]
assert before["entries"] == inside["entries"] == after["entries"]
assert inside["session"]["mode"] == "phantom" and inside["session"]["shells"] == 1, inside["session"]
PY
[ ! -e "$FILE" ] || fail "an ingest inside the Phantom session put $FILE on disk"
pass "inception --phantom converts first; files not on disk are read inside; vrift itself sees the real tree"

# A second shell rejoins in the session's mode; a mode switch is refused while the
# tmux shell is in the session, unless forced.
out=$(VRIFT_ABI_CONTEXT="x86_64 glibc-2.36" bash --norc -c 'eval "$("$VRIFT" inception 2>/dev/null)"; echo "$VRIFT_MODE|$PS1"; cat '"$FILE"' | head -c 1
  python3 -c "import json; s = json.load(open(\".vrift/session.json\")); print(len(s[\"shells\"]), s[\"abi_context\"])"
  eval "$("$VRIFT" wake 2>'"$SCRATCH"'/wake2.err)"; echo "|${VRIFT_MODE-unset}"')
expect_eq "$out" "phantom|(vrift 🌀 [Phantom]) 
{2 x86_64 glibc-2.36
|unset" "a second shell rejoining"
grep -q "stays active for 1 other shell" "$SCRATCH/wake2.err" || fail "wake in the second shell: $(cat "$SCRATCH/wake2.err")"
[ -e .vrift/session.json ] || fail "the second shell's wake ended the tmux shell's session"
status=0; "$VRIFT" inception --solid --shell bash > /dev/null 2> switch.err || status=$?
expect_eq "$status" 1 "switching the mode under another shell"
grep -q "vrift: error: cannot switch the session to \[Solid\] mode (.*): 1 other shell is in its \[Phantom\] session" switch.err ||
  fail "switch refusal: $(cat switch.err)"
[ ! -e "$FILE" ] || fail "a refused switch converted anyway"
pass "another shell rejoins in [Phantom]; its wake keeps the session; a mode switch under it is refused"

in_pane 'eval "$(vrift wake)"'
screen_shows_prompt "test-prompt>"
screen | grep -q "vrift: warning: the project's files live only in The Source" || fail "no Phantom warning: $(screen)"
screen | grep -q "vrift restore" || fail "the Phantom warning does not point to vrift restore"
in_pane "env | sort > $B/env4; declare -p PS1 VRIFT_MODE UV_USE_IO_URING > $B/vars4; type -t cd > $B/cd4"
diff "$B/env0" "$B/env4" || fail "wake from Phantom did not restore the environment"
expect_eq "$(cat "$B/cd4")" builtin "cd after wake"
diff "$B/vars0" "$B/vars4" || fail "wake from Phantom did not restore PS1"
[ ! -e .vrift/session.json ] || fail "session.json left after waking from Phantom"
[ ! -e "$FILE" ] || fail "waking from Phantom put files back (that is vrift restore's job)"
pass "wake from Phantom warns and points to vrift restore; environment restored"

# --- the bash hook, in the same pane -----------------------------------------------
# The hook runs vrift through a wrapper that logs each run: none at a prompt that did
# not change directory or outside projects; one on entering, one on leaving.
cat > "$SCRATCH/vrift-logged" <<EOF
#!/bin/sh
echo "\$*" >> "$SCRATCH/hook.log"
exec "$VRIFT" "\$@"
EOF
chmod +x "$SCRATCH/vrift-logged"
: > "$SCRATCH/hook.log"
"$VRIFT" hook bash | sed "s|'$VRIFT'|'$SCRATCH/vrift-logged'|g" > "$SCRATCH/hook.bash"
grep -q "vrift-logged" "$SCRATCH/hook.bash" || fail "the hook does not name the vrift binary: $(cat "$SCRATCH/hook.bash")"
# A session left behind by a shell that exited without waking: rejoinable.
bash --norc -c 'eval "$("$VRIFT" inception --solid 2>/dev/null)"'
[ -L "$FILE" ] || fail "inception --solid did not convert back"
grep -q '^mode = "solid"$' .vrift/config.toml || fail "config.toml does not record Solid again"
in_pane "cd /; source $SCRATCH/hook.bash"
in_pane "true"
in_pane "cd /tmp"
screen_shows_prompt "test-prompt>"
expect_eq "$(wc -l < "$SCRATCH/hook.log")" 0 "vrift runs outside projects"
in_pane "cd \"\$PROJ/node_modules\""
screen_shows_prompt "(vrift 🌀 [Solid]) test-prompt>"
in_pane "env | sort > $B/env5"
grep -qx "LD_PRELOAD=$VRIFT_SHIM" "$B/env5" || fail "the hook did not set LD_PRELOAD"
in_pane "true"
in_pane "cd semver"
in_pane "cd .."
in_pane "true"  # the hook runs before the next command is read
expect_eq "$(cat "$SCRATCH/hook.log")" "-C $P inception" "vrift runs after entering and moving inside"
in_pane "cd /"
screen_shows_prompt "test-prompt>"
in_pane "env | sort > $B/env6; declare -p PS1 VRIFT_MODE UV_USE_IO_URING > $B/vars6"
# The directory moved: everything else must be as before.
diff <(grep -v -e '^PWD=' -e '^OLDPWD=' "$B/env0") <(grep -v -e '^PWD=' -e '^OLDPWD=' "$B/env6") || fail "leaving the project with the hook did not restore the environment"
diff "$B/vars0" "$B/vars6" || fail "leaving the project with the hook did not restore PS1"
expect_eq "$(sed -n 2p "$SCRATCH/hook.log")" "wake --keep" "vrift run on leaving"
[ -e .vrift/session.json ] || fail "leaving with the hook ended the session (it should keep it)"
in_pane "cd \"\$PROJ\""
screen_shows_prompt "(vrift 🌀 [Solid]) test-prompt>"
in_pane 'eval "$(vrift wake)"'
screen_shows_prompt "test-prompt>"
[ ! -e .vrift/session.json ] || fail "wake inside the project did not end the session"
in_pane "cd /; cd \"\$PROJ\""
screen_shows_prompt "test-prompt>"
pass "bash hook: cd in enters (prompt, LD_PRELOAD), cd out leaves and restores; vrift runs only then"
tm kill-server

# --- zsh and fish, non-interactively --------------------------------------------------
Z="$SCRATCH/zsh"
mkdir -p "$Z"
LD_PRELOAD=/lib/x86_64-linux-gnu/libm.so.6 zsh -f -c '
  PS1="z%# "; VRIFT_PROJECT=shell-local
  cd() { print -r -- "mine $*" >> '"$Z"'/mycd; builtin cd "$@"; }
  env | sort > '"$Z"'/env0; typeset -p PS1 VRIFT_PROJECT > '"$Z"'/vars0
  eval "$("$VRIFT" inception 2>/dev/null)"
  print -r -- "$PS1" > '"$Z"'/ps1; print -r -- "$LD_PRELOAD|$VRIFT_PROJECT|$VRIFT_MODE" > '"$Z"'/vars1
  stat -c %F '"$FILE"' > '"$Z"'/stat1
  eval "$("$VRIFT" inception 2>/dev/null)"
  print -r -- "$PS1|$LD_PRELOAD" > '"$Z"'/again
  (cd node_modules && cd ..)
  eval "$("$VRIFT" wake 2>/dev/null)"
  env | sort > '"$Z"'/env1; typeset -p PS1 VRIFT_PROJECT > '"$Z"'/vars2; functions cd > '"$Z"'/cd-after'
expect_eq "$(cat "$Z/ps1")" "(vrift 🌀 [Solid]) z%# " "zsh prompt"
expect_eq "$(cat "$Z/vars1")" "/lib/x86_64-linux-gnu/libm.so.6:$VRIFT_SHIM|$P|solid" "zsh session variables"
expect_eq "$(cat "$Z/stat1")" "regular file" "stat in a zsh session"
expect_eq "$(cat "$Z/again")" "(vrift 🌀 [Solid]) z%# |/lib/x86_64-linux-gnu/libm.so.6:$VRIFT_SHIM" "zsh second inception"
diff "$Z/env0" "$Z/env1" || fail "zsh: wake did not restore the environment"
diff "$Z/vars0" "$Z/vars2" || fail "zsh: wake did not restore PS1 and VRIFT_PROJECT"
expect_eq "$(cat "$Z/mycd")" "mine node_modules
mine .." "zsh: the user's own cd, called by the session's"
grep -q 'print -r -- "mine $\*"' "$Z/cd-after" || fail "zsh: the user's cd after wake: $(cat "$Z/cd-after")"
pass "zsh: prompt, variables (other preload kept), no stacking, the user's cd kept, exact restore"

F="$SCRATCH/fish"
mkdir -p "$F"
fish --no-config -c '
  set -g VRIFT_MODE fish-local
  env | sort > '"$F"'/env0; fish_prompt > '"$F"'/prompt0
  eval "$("$VRIFT" inception --phantom 2>/dev/null)"
  fish_prompt > '"$F"'/prompt1; echo "$LD_PRELOAD|$VRIFT_PROJECT|$VRIFT_MODE" > '"$F"'/vars1
  cat '"$FILE"' > '"$F"'/cat1
  cd node_modules/debug/src; and pwd > '"$F"'/pwd1; cd ../../..
  eval "$("$VRIFT" inception 2>/dev/null)"
  fish_prompt > '"$F"'/prompt2
  eval "$("$VRIFT" wake 2>'"$F"'/wake.err)"
  env | sort > '"$F"'/env1; fish_prompt > '"$F"'/prompt3; set -S VRIFT_MODE > '"$F"'/mode'
{ printf '(vrift 🌀 [Phantom]) '; cat "$F/prompt0"; } | cmp -s - "$F/prompt1" ||
  fail "fish prompt: $(cat "$F/prompt1") (was: $(cat "$F/prompt0"))"
cmp -s "$F/prompt1" "$F/prompt2" || fail "fish: a second inception changed the prompt"
expect_eq "$(cat "$F/vars1")" "$VRIFT_SHIM|$P|phantom" "fish session variables"
cmp -s "$F/cat1" "$SCRATCH/npm/$FILE" || fail "fish: cat of a phantom file"
expect_eq "$(cat "$F/pwd1")" "$P/node_modules/debug/src" "fish: cd into a virtual directory"
diff "$F/env0" "$F/env1" || fail "fish: wake did not restore the environment"
cmp -s "$F/prompt0" "$F/prompt3" || fail "fish: wake did not restore the prompt"
grep -q "global scope, unexported" "$F/mode" && grep -q "|fish-local|" "$F/mode" || fail "fish: VRIFT_MODE not restored as it was: $(cat "$F/mode")"
grep -q "vrift restore" "$F/wake.err" || fail "fish: no Phantom warning"
pass "fish: wrapped fish_prompt, variables, Phantom reads, no stacking, exact restore"

# zsh (chpwd) and fish (PWD) hooks: into the project with a session, and out again.
bash --norc -c 'eval "$("$VRIFT" inception 2>/dev/null)"'  # leaves an active Phantom session
out=$(cd / && zsh -f -c 'PS1="z> "; eval "$("$VRIFT" hook zsh)"; cd "$1/node_modules"
  print -rn -- "$VRIFT_MODE|$PS1|"; cat semver/package.json | head -c 1; cd /; print -rn -- "|${VRIFT_MODE-unset}|$PS1"' zsh "$P" 2>/dev/null)
expect_eq "$out" "phantom|(vrift 🌀 [Phantom]) z> |{|unset|z> " "zsh hook"
out=$(cd / && fish --no-config -c 'eval "$($VRIFT hook fish)"; cd "$argv[1]/node_modules"
  fish_prompt | string match -q -- "(vrift 🌀 [Phantom]) *"; and echo -n "$VRIFT_MODE|prefix|"
  cat semver/package.json | head -c 1; cd /; set -q VRIFT_MODE; or echo -n "|unset|"
  fish_prompt | string match -q -- "(vrift*"; or echo "no prefix"' "$P" 2>/dev/null)
expect_eq "$out" "phantom|prefix|{|unset|no prefix" "fish hook"
[ -e .vrift/session.json ] || fail "the hooks ended the session on leaving"
"$VRIFT" wake --end --shell bash > /dev/null 2>&1
[ ! -e .vrift/session.json ] || fail "wake --end left session.json"
pass "zsh chpwd and fish PWD hooks enter and leave; the session stays until wake --end"

# --- mode switches: recorded, and finished after an interruption ----------------------
census() { "$VRIFT" --json status | python3 -c 'import json, sys; e = json.load(sys.stdin)["entries"]; print(e["phantom"], e["files"])'; }
mode_in() { bash --norc -c 'eval "$("$VRIFT" inception '"$1"' 2>/dev/null)"; echo "$VRIFT_MODE"; eval "$("$VRIFT" wake 2>/dev/null)"'; }
"$VRIFT" -q ingest --solid
grep -q '^mode = "solid"$' .vrift/config.toml || fail "ingest --solid did not record the mode"
expect_eq "$(mode_in "")" solid "a new session after ingest --solid"
[ -L "$FILE" ] || fail "a plain inception after ingest --solid converted the files"
# Interrupted on the way to Phantom: the mode is recorded first, part is converted.
sed -i 's/^mode = .*/mode = "phantom"/' .vrift/config.toml
"$VRIFT" -q ingest --phantom node_modules/semver
read -r ph all < <(census)
[ "$ph" -gt 0 ] && [ "$ph" -lt "$all" ] || fail "not a partial projection: $ph of $all"
expect_eq "$(mode_in "")" phantom "the next session after an interrupted switch to Phantom"
read -r ph all < <(census)
expect_eq "$ph" "$all" "phantom files after the switch was finished"
# Interrupted on the way back to Solid.
sed -i 's/^mode = .*/mode = "solid"/' .vrift/config.toml
"$VRIFT" -q ingest --solid node_modules/semver
expect_eq "$(mode_in --solid)" solid "inception --solid after an interrupted switch to Solid"
read -r ph all < <(census)
expect_eq "$ph" 0 "phantom files after the switch back was finished"
[ "$(tree_hashes . node_modules)" == "$PLAIN" ] || fail "files differ after the mode switches"
pass "ingest --solid/--phantom record the mode; a half-done switch is finished by the next inception"

# --- an unprivileged user, in a project and Source of its own -------------------------
U="$SCRATCH/user"
mkdir -p "$U/proj/build" && echo "mine" > "$U/proj/build/f.txt"
chown -R 65534:65534 "$U"
chmod 755 "$SCRATCH"
out=$(cd "$U/proj" && setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$U" VRIFT_CAS_ROOT="$U/cas" bash --norc -c '
  "$VRIFT" init -q && "$VRIFT" ingest -q --phantom
  eval "$("$VRIFT" inception 2>/dev/null)"; echo "$VRIFT_MODE"; cat build/f.txt
  eval "$("$VRIFT" wake 2>/dev/null)"; echo "${LD_PRELOAD-unset}"; [ -e .vrift/session.json ] || echo ended')
expect_eq "$out" "phantom
mine
unset
ended" "an unprivileged user's session"
[ ! -e "$HOME/.vrift" ] || fail "something was written to ~/.vrift"
pass "an unprivileged user enters and leaves a session of their own; nothing in ~/.vrift"
