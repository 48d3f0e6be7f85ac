#!/usr/bin/env bash
# Projections protect their blobs without any shim: an unprivileged writer gets EACCES
# through a Tier-1 symlink or a Tier-2 hardlink, and root cannot write or delete a
# locked (immutable) Tier-1 blob. The blob's content never changes.
source "$(dirname "$0")/lib/common.bash"
need b3sum setpriv lsattr
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to test both the unprivileged and the root side"; exit 125; }
chmod 755 "$SCRATCH"
cd "$SCRATCH"
mkdir -p project/node_modules/dep project/build
echo "module.exports = 42;" > project/node_modules/dep/index.js
echo "compiled" > project/build/main.o
cd project
# A dedicated owner for Tier-1 blobs, when this machine can make one.
user_made=0
if ! getent passwd vrift >/dev/null && command -v useradd >/dev/null; then user_made=1; fi
"$VRIFT" init -q --create-user
getent passwd vrift >/dev/null || fail "init --create-user made no vrift user"
"$VRIFT" ingest -q

tier1=node_modules/dep/index.js
tier2=build/main.o
blob1=$(readlink "$tier1")
[ -n "$blob1" ] || fail "$tier1 is not a symlink"
expect_eq "$(stat -c %U "$blob1")" vrift "owner of the Tier-1 blob"
expect_eq "$(stat -c %U "$tier2")" root "owner of the Tier-2 blob (not transferred: other projects link it)"
pass "Tier-1 blobs belong to the vrift user"
sum1=$(b3sum --no-names "$blob1"); sum2=$(b3sum --no-names "$tier2")
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

for path in "$tier1" "$tier2"; do
  if as_nobody sh -c "echo tampered >> '$path'" 2> err; then fail "nobody wrote through $path"; fi
  grep -qE "Permission denied|Operation not permitted" err || fail "writing $path: expected EACCES or EPERM, got: $(cat err)"
  if as_nobody sh -c ": > '$path'" 2> err; then fail "nobody truncated $path"; fi
done
[ "$(b3sum --no-names "$blob1")" == "$sum1" ] || fail "Tier-1 blob changed"
[ "$(b3sum --no-names "$tier2")" == "$sum2" ] || fail "Tier-2 blob changed"
pass "unprivileged writes through Tier-1 and Tier-2 projections fail (EACCES/EPERM)"

if lsattr -d "$blob1" 2>/dev/null | cut -d' ' -f1 | grep -q i; then
  if sh -c "echo tampered >> '$blob1'" 2> err; then fail "root wrote to an immutable blob"; fi
  grep -q "Operation not permitted" err || fail "expected EPERM, got: $(cat err)"
  if rm -f "$blob1" 2> err; then fail "root deleted an immutable blob"; fi
  if sh -c "echo tampered >> '$tier1'" 2> err; then fail "root wrote through the Tier-1 symlink"; fi
  [ "$(b3sum --no-names "$blob1")" == "$sum1" ] || fail "immutable blob changed"
  pass "root cannot write or delete an immutable Tier-1 blob"
  "$VRIFT" --json status | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["protection"]["tier1_immutable"] == 1, s'
  pass "status reports the immutable flag in force"
  # Where flags work, The Source's tmp/ spreads the directories Tier-1 symlinks are made
  # in over block groups of their own (ext4's top-directory flag).
  lsattr -d "$VRIFT_CAS_ROOT/tmp" | cut -d' ' -f1 | grep -q T || fail "The Source's tmp/ lacks the top-directory flag"
  pass "Tier-1 staging directories are spread like top-level directories"

  # A locked blob cannot gain links: paths that want it by hardlink get read-only copies.
  # Phantom made Solid: a Tier-2 file with the content of a locked Tier-1 blob.
  mkdir -p ../other/build && cp "$blob1" ../other/build/same.js && chmod 644 ../other/build/same.js
  (cd ../other && "$VRIFT" init -q && "$VRIFT" ingest -q --phantom && "$VRIFT" ingest -q --solid) || fail "other: ingest"
  expect_eq "$(stat -c '%a %h' ../other/build/same.js) $(b3sum --no-names ../other/build/same.js)" "444 1 $sum1" \
    "a Phantom file made Solid whose blob is locked"
  # Tier-1 symlinks turned into hardlinks by the config: copies of their locked blobs.
  sed -i 's/^link = "symlink"/link = "hardlink"/' .vrift/config.toml
  "$VRIFT" ingest > relink.out || fail "ingest with link = hardlink: $(cat relink.out)"
  [ ! -L "$tier1" ] || fail "$tier1 is still a symlink after link = hardlink"
  expect_eq "$(stat -c '%a %h' "$tier1") $(b3sum --no-names "$tier1")" "444 1 $sum1" "a Tier-1 symlink made a hardlink"
  grep -q '^note: 1 files are private read-only copies' relink.out || fail "no note on the copies: $(cat relink.out)"
  for p in . ../other; do
    "$VRIFT" -C $p doctor > doctor.out || fail "$p: doctor after the copies: $(cat doctor.out)"
    "$VRIFT" -C $p ingest | grep -q ' 0 hashed, [12] unchanged' || fail "$p: the copies are hashed again"
  done
  pass "a locked blob is copied, read-only, where a path wants it by hardlink (mode switch, link = hardlink)"
else
  echo "note: this filesystem has no immutable flag here; Tier-1 blobs are protected by mode only"
  "$VRIFT" --json status | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["protection"]["tier1_immutable"] == 0, s'
fi

[ "$user_made" -eq 1 ] && userdel vrift 2>/dev/null || true

# Paths of one content in one ingest: the first file's inode becomes the blob, under a
# write lease until the chunk is done, and the other paths' symlinks lead to it. Locking
# it for them must not break that lease (an open of the blob would), or ingest takes the
# break for a writer waiting to open the file and moves the blob to a copy: the file's
# inode must be the blob's, each path a symlink to it. Run unprivileged (no immutable
# flag, so nothing refuses the move), in a Source of that user's own, with the symlinks
# asked for (init chooses hardlinks where blobs cannot be locked).
cd "$SCRATCH"
mkdir -p dups/p/node_modules/a dups/p/node_modules/b dups/p/node_modules/c
for d in a b c; do echo "The ISC License, the same in every package" > dups/p/node_modules/$d/LICENSE; done
echo unique > dups/p/node_modules/a/index.js
inodes=" $(stat -c %i dups/p/node_modules/*/LICENSE | tr '\n' ' ')"
chown -R 65534:65534 dups
as_nobody env VRIFT_CAS_ROOT="$SCRATCH/dups/source" "$VRIFT" -C dups/p init -q
sed -i 's/^link = .*/link = "symlink"/' dups/p/.vrift/config.toml
as_nobody env VRIFT_CAS_ROOT="$SCRATCH/dups/source" "$VRIFT" -C dups/p ingest -q
blob=$(readlink -f dups/p/node_modules/a/LICENSE)
case "$blob" in "$SCRATCH/dups/source"/*) ;; *) fail "node_modules/a/LICENSE does not lead into The Source: $blob" ;; esac
for d in b c; do expect_eq "$(readlink -f dups/p/node_modules/$d/LICENSE)" "$blob" "the blob of node_modules/$d/LICENSE"; done
case "$inodes" in *" $(stat -c %i "$blob") "*) ;; *) fail "the blob is a copy, not the file ingested (inodes$inodes, blob $(stat -c %i "$blob"))" ;; esac
pass "three paths of one content: the file ingested is their blob, not a copy"

# Where blobs cannot be locked (no CAP_LINUX_IMMUTABLE: an unprivileged user, most
# containers), a symlink guards nothing a read-only hardlink does not, and Node resolves
# symlinks into The Source, where a module's relative requires fail. init then chooses
# hardlinks: Node loads the modules outside any session as it did before the ingest,
# and the blobs stay safe from the user's writes. Root, who can lock, gets symlinks.
need node
mkdir -p unpriv/p/node_modules/dep/lib
echo "module.exports = require('./lib/answer') + 1;" > unpriv/p/node_modules/dep/index.js
echo "module.exports = 41;" > unpriv/p/node_modules/dep/lib/answer.js
echo '{"name": "dep", "main": "index.js"}' > unpriv/p/node_modules/dep/package.json
chown -R 65534:65534 unpriv
in_unpriv() { (cd unpriv/p && as_nobody env HOME="$SCRATCH/unpriv" VRIFT_CAS_ROOT="$SCRATCH/unpriv/source" "$@"); }
before=$(in_unpriv node -e 'console.log(require("dep"))')
in_unpriv "$VRIFT" init > init.out
grep -q '^Tier-1 files: read-only hardlinks' init.out || fail "init as nobody: $(cat init.out)"
grep -q '^link = "hardlink"' unpriv/p/.vrift/config.toml || fail "nobody's config: $(grep '^link' unpriv/p/.vrift/config.toml)"
in_unpriv "$VRIFT" ingest -q
answer=unpriv/p/node_modules/dep/lib/answer.js
[ -f "$answer" ] && [ ! -L "$answer" ] && [ "$(stat -c %h "$answer")" -ge 2 ] || fail "answer.js is not a hardlink to its blob"
expect_eq "$(stat -c %a "$answer")" 444 "mode of a Tier-1 hardlink"
expect_eq "$(in_unpriv node -e 'console.log(require("dep"))')" "$before" "node outside a session after the ingest"
if in_unpriv sh -c "echo tampered >> node_modules/dep/lib/answer.js" 2> err; then fail "nobody wrote through a Tier-1 hardlink"; fi
expect_eq "$(in_unpriv node -e 'console.log(require("dep"))')" "$before" "node after the refused write"
mkdir -p rooted/node_modules/dep && echo x > rooted/node_modules/dep/index.js
"$VRIFT" -C rooted init > init.out
if lsattr -d "$blob1" 2>/dev/null | cut -d' ' -f1 | grep -q i; then
  grep -q '^link = "symlink"' rooted/.vrift/config.toml || fail "root, who can lock blobs, did not get symlinks"
  grep -q '^Tier-1 files: symlinks to locked' init.out || fail "init as root: $(cat init.out)"
fi
pass "where blobs cannot be locked, init projects Tier-1 by hardlink and node loads modules outside a session"
