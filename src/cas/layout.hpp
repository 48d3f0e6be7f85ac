#pragma once
// The Source's on-disk layout.
//
//   <root>/blake3/ab/<64 hex>_<size>[_x][.<ext>]      a published blob
//   <root>/s/<id>[.<ext>]                            its short name (a second hard link)
//   <root>/x/<id>[.<ext>]                            the same for an executable blob
//   <root>/tmp/                                       staged copies, not yet published, and an
//                                                     ingest's symlink staging (project/projection.hpp)
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
//
// Short names exist for Tier-1 symlinks. ext4 keeps a symlink's target inside its inode
// when it is shorter than 60 bytes; a longer one costs a data block (4 KiB on disk and a
// block to allocate and write per symlink, in every project). A blob's path is ~110
// bytes, so a symlink to it is always slow; "<root>/s/<id>[.<ext>]" is sized to fit:
// <id> is the first characters of the hash in base64 (with '+' and '_'), as many as the
// root and the extension leave room for (16 to 43, so at least 96 bits). One flat
// directory, because every character counts: with the default root of a typical user
// (~30 bytes) a `.json` file keeps 21 of them. An executable blob's short name is under
// x/ instead of s/. A name already taken by another inode is never replaced (that blob
// keeps the long target).

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

// Longest symlink target ext4 stores inside the inode ("fast" symlink).
inline constexpr size_t k_fast_symlink_max = 59;
// Fewest and most characters of a short name's id (6 bits each).
inline constexpr size_t k_min_short_id = 16;
inline constexpr size_t k_max_short_id = 43;
// Longest relative short name: "s/" + id + "." + ext.
inline constexpr size_t k_max_short_rel_path = 2 + k_max_short_id + 1 + k_max_ext;

// Writes the blob's short name relative to the root ("s/<id>[.<ext>]" or "x/..."),
// NUL-terminated, into `out` (at least k_max_short_rel_path + 1 bytes): the longest one
// for which "<root>/<short name>" is at most k_fast_symlink_max bytes, given a root of
// `root_len` bytes. Returns its length, or 0 when fewer than k_min_short_id characters
// of the hash would fit.
size_t short_rel_path(const BlobKey& key, size_t root_len, char* out) noexcept;

// Whether `target` (a symlink's content) names this blob in The Source at `root`: its
// path or its short name.
bool names_blob(std::string_view root, const BlobKey& key, std::string_view target) noexcept;

// Whether `target` names this blob in a Source at whatever root: The Source a project's
// links were made in, since moved (the content behind the name is this blob's all the
// same).
bool names_blob_at_any_root(const BlobKey& key, std::string_view target) noexcept;

// Parses a blob file name. Returns false when `name` is not one.
bool parse_blob_name(std::string_view name, BlobKey& out) noexcept;

}  // namespace vrift::cas
