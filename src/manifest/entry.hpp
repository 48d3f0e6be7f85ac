#pragma once
// Entry: what the manifest knows about one project path, and its binary record codec.
//
// Record layout, version 2 (written; all fixed-width integers little-endian):
//
//   size  field
//      1  layout version (2)
//      1  kind            EntryKind
//      1  tier            Tier
//      1  flags           k_flag_* bits; unknown bits are kept as they are
//      1  present         k_has_* bits: which optional fields follow
//   1..5  mode            st_mode, varint
//      8  mtime_ns        since the epoch, signed
//   then, in this order, only the fields whose present bit is set:
//  1..10  size            bytes, varint                          (k_has_size)
//      8  ctime_ns        since the epoch, signed (re-ingest)    (k_has_ctime)
//  1..10  ino             st_ino at ingest, varint (re-ingest)   (k_has_ino)
//     32  hash            BLAKE3 of the content                  (k_has_hash)
//   1+ n  ext             length (1..k_max_ext), bytes           (k_has_ext)
//   v+ n  target          length varint (1..k_max_target), bytes (k_has_target)
//   v+ n  parent          length varint (1..k_max_path), bytes   (k_has_parent; only
//                         under a hashed-parent key, keys.hpp)
//
// Varints are unsigned LEB128. A field is present exactly when it is non-zero (the hash:
// not all zero bytes; ext/target/parent: not empty), and absent fields read as zero or
// empty: directories and symlinks skip the 32-byte hash, and zero sizes and inodes cost
// nothing, where v1 spent 80 bytes on every header. There is one encoding per entry:
// decode refuses a present field that is zero, a varint that is not minimal or
// overflows, unknown present bits, and any length but the exact one (truncated or padded
// records), all as Errc::corrupt.
//
// Layout version 1 (every field at a fixed offset) is still read, from manifests written
// before version 2:
//
//   off size  field
//     0    1  layout version (1)
//     1    1  kind, 2: tier, 3: flags (as above)
//     4    4  mode
//     8    8  size
//    16    8  mtime_ns
//    24    8  ctime_ns
//    32    8  ino
//    40   32  hash
//    72    1  ext length      0..k_max_ext
//    73    1  reserved (0)
//    74    2  target length   0..k_max_target
//    76    2  parent length   0..k_max_path
//    78    2  reserved (0)
//    80       ext bytes, target bytes, parent bytes; length exactly 80 + the three
//
// A record with a newer layout version is refused (Errc::too_new) rather than misread.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "base/result.hpp"
#include "cas/layout.hpp"
#include "hash/digest.hpp"
#include "manifest/keys.hpp"

namespace vrift::manifest {

// Tier-1: immutable content (registry deps, toolchains), projected by symlink to a locked
// blob. Tier-2: mutable outputs (default), projected by read-only hardlink.
enum class Tier : uint8_t { tier1 = 1, tier2 = 2 };

enum class EntryKind : uint8_t {
  file = 1,
  symlink = 2,
  dir = 3,
  whiteout = 4,  // delta layer only: "deleted", hides the base entry at the same path
};

// Content not present at the project path (Phantom mode): served from The Source.
inline constexpr uint8_t k_flag_phantom = 0x01;
// The project path holds a link vrift made to the entry's blob (Solid projection): a
// hardlink (`ino` is then the blob's inode) or, for Tier-1, a symlink.
inline constexpr uint8_t k_flag_projected = 0x02;
// The project path holds a private file written inside a session and not yet
// re-ingested: the path, not the entry's blob, has the current content (the other
// fields describe the content before the write). Re-ingest clears it.
inline constexpr uint8_t k_flag_dirty = 0x04;

inline constexpr size_t k_max_ext = cas::k_max_ext;  // 10
inline constexpr size_t k_max_target = 4095;         // PATH_MAX without its NUL
inline constexpr uint8_t k_record_layout = 2;  // written; 1 is still read

// Present bits of a version-2 record (see the layout).
inline constexpr uint8_t k_has_size = 0x01;
inline constexpr uint8_t k_has_ctime = 0x02;
inline constexpr uint8_t k_has_ino = 0x04;
inline constexpr uint8_t k_has_hash = 0x08;
inline constexpr uint8_t k_has_ext = 0x10;
inline constexpr uint8_t k_has_target = 0x20;
inline constexpr uint8_t k_has_parent = 0x40;

// Bytes of a varint holding `v`.
constexpr size_t varint_size(uint64_t v) noexcept {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline constexpr size_t k_record_v1_header = 80;
// A version-2 record's largest fixed part: every optional number present at full width.
inline constexpr size_t k_record_v2_max_fixed = 5 + varint_size(UINT32_MAX) + 8 +
                                                varint_size(UINT64_MAX) + 8 +
                                                varint_size(UINT64_MAX) + 32;
inline constexpr size_t k_record_v1_max = k_record_v1_header + k_max_ext + k_max_target + k_max_path;
inline constexpr size_t k_record_v2_max = k_record_v2_max_fixed + 1 + k_max_ext +
                                          varint_size(k_max_target) + k_max_target +
                                          varint_size(k_max_path) + k_max_path;
// No record of either layout is longer.
inline constexpr size_t k_max_record =
    k_record_v1_max > k_record_v2_max ? k_record_v1_max : k_record_v2_max;

// A view type: `ext` and `target` point into memory owned elsewhere. An Entry filled by
// a lookup points into LMDB's map and stays valid only until that read transaction is
// reset or ends; copy what must live longer. An Entry being written points into the
// caller's memory.
struct Entry {
  EntryKind kind = EntryKind::file;
  Tier tier = Tier::tier2;
  uint8_t flags = 0;
  uint32_t mode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t ino = 0;
  ::vrift::hash::Digest hash{};
  std::string_view ext;     // blob extension without the dot, <= k_max_ext ASCII alnum
  std::string_view target;  // symlink target; empty for other kinds

  bool is_whiteout() const noexcept { return kind == EntryKind::whiteout; }
  bool phantom() const noexcept { return (flags & k_flag_phantom) != 0; }
  bool dirty() const noexcept { return (flags & k_flag_dirty) != 0; }
  bool executable() const noexcept { return (mode & 0111u) != 0; }
};

// A whiteout record: kind whiteout, every other field zero.
inline Entry make_whiteout() noexcept {
  Entry e;
  e.kind = EntryKind::whiteout;
  e.tier = Tier::tier2;
  return e;
}

// The name of the blob that holds a file entry's content (cas/layout.hpp).
inline cas::BlobKey blob_key(const Entry& e) noexcept {
  cas::BlobKey key;
  key.digest = e.hash;
  key.size = e.size;
  key.executable = e.executable();
  size_t n = e.ext.size() <= k_max_ext ? e.ext.size() : 0;
  if (n != 0) {
    std::memcpy(key.ext, e.ext.data(), n);
  }
  key.ext[n] = '\0';
  return key;
}

// Checks that `e` can be stored: a known kind and tier, ext of at most k_max_ext ASCII
// letters and digits, a target only on (and a non-empty target on every) symlink, of at
// most k_max_target bytes. Errors: Errc::invalid.
Status check_entry(const Entry& e) noexcept;

// Bytes encode_record() writes for `e` with `parent` (empty unless the key is hashed):
// exact, since the manifest reserves this much in the map and encodes into it.
size_t record_size(const Entry& e, std::string_view parent) noexcept;

// Encodes `e` (and `parent`, see the layout) into `out`, which holds `cap` bytes.
// Returns the bytes written. Errors: Errc::invalid (check_entry() fails, parent longer
// than k_max_path, or cap < record_size()).
Result<size_t> encode_record(const Entry& e, std::string_view parent, char* out,
                             size_t cap) noexcept;

// Decodes a record of either layout. `out.ext`/`out.target` and `*parent` (when
// non-null; empty unless the record carries one) point into `record`. Never reads outside
// `record`. Errors: Errc::corrupt (bad length, unknown kind or tier, bad ext, see the
// layout), Errc::too_new (a newer layout version).
Status decode_record(std::string_view record, Entry& out,
                     std::string_view* parent = nullptr) noexcept;

}  // namespace vrift::manifest
