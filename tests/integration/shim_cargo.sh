#!/usr/bin/env bash
# A real Rust build inside `vrift run`, Solid and Phantom, compared with the same build
# on a plain copy: a workspace of three crates (path dependencies, a build script,
# incremental compilation on) whose target/ was built, then ingested. Cargo and rustc
# meet the projection where other tools do not: outputs hardlinked to each other
# (deps/ and incremental/ share inodes, so all of them must keep their mode: rustc
# refuses to write over a read-only output), incremental session directories renamed
# once complete, 0600 lock files, and target/ itself removed by `cargo clean` and made
# again under a temporary name. Each step must do what it does on the plain copy; at
# the end every output is recorded, none is left behind on disk in Phantom, the
# doctor finds nothing and every entry reads its recorded bytes.
source "$(dirname "$0")/lib/common.bash"
need cargo b3sum
cd "$SCRATCH"
export CARGO_TERM_COLOR=never CARGO_INCREMENTAL=1
unset RUSTC_WRAPPER CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

make_workspace() {
  local d=$1
  mkdir -p "$d/core/src" "$d/util/src" "$d/app/src"
  printf '[workspace]\nmembers = ["core", "util", "app"]\nresolver = "2"\n' > "$d/Cargo.toml"
  printf '[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2021"\n' core > "$d/core/Cargo.toml"
  printf '[package]\nname = "util"\nversion = "0.1.0"\nedition = "2021"\nbuild = "build.rs"\n[dependencies]\ncore = { path = "../core" }\n' \
    > "$d/util/Cargo.toml"
  printf '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n[dependencies]\nutil = { path = "../util" }\n' \
    > "$d/app/Cargo.toml"
  printf 'pub fn base(x: u64) -> u64 { x * 3 + 1 }\n' > "$d/core/src/lib.rs"
  cat > "$d/util/build.rs" <<'RS'
use std::{env, fs, path::Path};
fn main() {
    let out = env::var("OUT_DIR").unwrap();
    fs::write(Path::new(&out).join("gen.rs"), "pub const GEN: u64 = 42;\n").unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}
RS
  printf 'include!(concat!(env!("OUT_DIR"), "/gen.rs"));\npub fn twice(x: u64) -> u64 { core::base(x) * 2 + GEN }\n' \
    > "$d/util/src/lib.rs"
  printf 'fn main() { println!("{}", util::twice(7)); }\n' > "$d/app/src/main.rs"
}

# The steps; each prints what cargo compiled (sorted, project path removed) and what
# the program printed.
STEPS=(
  'cargo build --offline'
  'sleep 0.02 && touch core/src/lib.rs && cargo build --offline && ./target/debug/app'
  'sleep 0.02 && echo "pub fn more() -> u64 { 5 }" >> util/src/lib.rs && cargo build --offline'
  'sed -i "s/twice(7)/twice(7) + util::more()/" app/src/main.rs && cargo build --offline && ./target/debug/app'
  'cargo build --offline --release && ./target/release/app'
  'cargo clean && cargo build --offline && ./target/debug/app'
  'cargo build --offline'
)
STEP_FILTER='grep -v "^ *Finished\\|^ *Removed" | sort'

for mode in solid phantom; do
  rm -rf plain project
  make_workspace plain
  (cd plain && cargo build --offline -q) || fail "cargo cannot build the workspace"
  cp -a plain project
  (cd project && "$VRIFT" init -q && "$VRIFT" ingest --$mode > "$SCRATCH/ingest.out") || fail "$mode: ingest"
  grep -q "not readable by everyone (e.g. target/debug/incremental/.*\.lock)" "$SCRATCH/ingest.out" ||
    fail "$mode: ingest does not name the private lock files: $(cat "$SCRATCH/ingest.out")"
  compare_steps $mode "${STEPS[@]}"
  cd project
  "$VRIFT" ls > "$SCRATCH/ls"
  for out in target/debug/app target/debug/libutil.rlib target/CACHEDIR.TAG; do
    grep -q " $out\$" "$SCRATCH/ls" || fail "$mode: $out is not recorded"
  done
  grep -q ' target/debug/incremental/core-[^/]*/s-[^/]*/dep-graph.bin$' "$SCRATCH/ls" ||
    fail "$mode: the files of a renamed incremental session are not recorded"
  if [ $mode = phantom ]; then
    left=$(find target -type f -perm -o=r)
    [ -z "$left" ] || fail "phantom: files left on disk: $left"
  else
    [ "$(stat -c %h target/debug/app)" -ge 2 ] || fail "solid: app is not a link to its blob"
  fi
  cd ..
  pass "$mode: fresh, touch, edits, release, clean rebuild: cargo does what it does on a plain copy; outputs recorded"
done

# A shell session re-ingests at each close instead: target/ made anew under a
# temporary name is recorded at once, and what it held by the end of the command.
cd project
VRIFT_REINGEST=close "$VRIFT" run -- bash -c 'cargo clean -q && cargo build --offline -q && ./target/debug/app' > "$SCRATCH/app.out" 2>&1 ||
  fail "close: cargo clean && cargo build: $(cat "$SCRATCH/app.out")"
expect_eq "$(cat "$SCRATCH/app.out")" 91 "close: the rebuilt program's output"
"$VRIFT" doctor > "$SCRATCH/doctor.out" || fail "close: the doctor finds problems: $(cat "$SCRATCH/doctor.out")"
check_iron_law "close"
pass "re-ingest at close: cargo clean && cargo build leaves everything recorded"
