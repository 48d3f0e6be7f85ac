#pragma once
// The Source's on-disk layout.
//
//   <root>/blake3/ab/<64 hex>_<size>[_x][.<ext>]      a published blob
//   <root>/tmp/                                       staged copies, not yet published
//   <root>/damaged/                                   blobs `vrift doctor --repair` found damaged,
//                                                     moved off their names (never read as blobs)
//
// `ab` is the first two hex digits of the hash: one level of 256 shard directories. A
// second level would cost a directory (a 4 KiB block and an inode to create and sync)
// for almost every blob below ~65,000 blobs, and ext4's hashed directories stay fast
// with tens of thousands of names each. <size> is the content length
// in decimal, so comparing it with st_size is an O(1) integrity check. A blob's identity
// is (hash, size, executable, ext): the exec bit is part of what a program sees, so
// executable content is its own blob (mode 0555, marked by the `_x` variant suffix)
// beside the plain one (mode 0444). The extension is kept because tools that reach a
// blob through a Tier-1 symlink decide how to load a file by its name (`.js` vs `.mjs`
// vs `.json` vs `.node`).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hash/digest.hpp"

namespace vrift::cas {

inline constexpr size_t k_max_ext = 10;
// Longest relative blob path: "blake3/ab/" + 64 + "_" + 20 + "_x" + "." + ext.
inline constexpr size_t k_max_blob_rel_path = 10 + 64 + 1 + 20 + 2 + 1 + k_max_ext;

// What names one blob.
struct BlobKey {
  hash::Digest digest;
  uint64_t size = 0;
  bool executable = false;
  char ext[k_max_ext + 1] = {};  // NUL-terminated; empty when the blob has none

  std::string_view extension() const noexcept { return ext; }
  friend bool operator==(const BlobKey& a, const BlobKey& b) noexcept {
    return a.digest == b.digest && a.size == b.size && a.executable == b.executable &&
           std::string_view(a.ext) == std::string_view(b.ext);
  }
};

// Sets key.ext from a file name (any path; only the last component counts): its last
// extension when it is 1..k_max_ext ASCII letters or digits and the name is not a
// dot-file with nothing before the dot; empty otherwise.
void set_ext_from_name(BlobKey& key, std::string_view file_name) noexcept;

// Sets key.ext to `ext` when it is a valid extension (1..k_max_ext ASCII alphanumerics)
// or empty. Returns false, leaving key.ext empty, otherwise.
bool set_ext(BlobKey& key, std::string_view ext) noexcept;

// The mode a blob of this key has: 0555 when executable, 0444 otherwise.
inline unsigned blob_mode(const BlobKey& key) noexcept { return key.executable ? 0555u : 0444u; }

// Writes the blob's path relative to the root, NUL-terminated, into `out` (at least
// k_max_blob_rel_path + 1 bytes). Returns its length.
size_t blob_rel_path(const BlobKey& key, char* out) noexcept;

// Length of "blake3/ab": the shard directory part of a relative blob path.
inline constexpr size_t k_shard_rel_len = 9;

// Writes only the file name ("<hex>_<size>[_x][.<ext>]"), NUL-terminated. Returns its length.
size_t blob_file_name(const BlobKey& key, char* out) noexcept;

// Parses a blob file name. Returns false when `name` is not one.
bool parse_blob_name(std::string_view name, BlobKey& out) noexcept;

}  // namespace vrift::cas
