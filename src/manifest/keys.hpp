#pragma once
// Manifest key layout.
//
// A manifest maps project-relative, normalized paths ("" is the project root, otherwise
// "a/b/c": no leading or trailing '/', no empty, "." or ".." component) to entries. The
// key is not the path itself: readdir must be a range scan over one directory's
// children, and LMDB keys are capped at 511 bytes while paths reach PATH_MAX.
//
//   root            0x00
//   short parent    0x01 <parent path> 0x00 <name>        parent <= 240 bytes
//   long parent     0x02 <16-byte BLAKE3 of parent> 0x00 <name>
//
// Contiguity: names and paths never contain NUL, so in a 0x01 key the first NUL ends the
// parent; two keys share the prefix `0x01 P 0x00` exactly when their parents are both P.
// The 0x02 form has a fixed 18-byte prefix per parent, and a 128-bit digest makes two
// parents sharing it practically impossible. Either way the children of one directory
// are exactly the keys that start with its children prefix, and LMDB's byte order
// (memcmp, then shorter first) sorts them by name bytewise, which is the order listings
// promise.
//
// Size: 1 + 240 + 1 + 255 (NAME_MAX) = 497 bytes, under LMDB's 511. The 0x02 form loses
// the parent path, so a record stored under such a key carries its parent in the value
// (entry.hpp); iteration rebuilds full paths from that.
//
// Lookup paths need no validation: a key built from a malformed path (with NUL bytes,
// "//", a trailing '/') can never equal a key written for a valid path, so such a lookup
// simply misses. Writes validate with validate_path().

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/result.hpp"

namespace vrift::manifest {

inline constexpr size_t k_max_path = 4095;          // bytes, PATH_MAX without its NUL
inline constexpr size_t k_max_name = 255;           // NAME_MAX
inline constexpr size_t k_max_inline_parent = 240;  // longer parents are hashed
inline constexpr size_t k_parent_digest_len = 16;
inline constexpr size_t k_max_key = 1 + k_max_inline_parent + 1 + k_max_name;
static_assert(k_max_key <= 511, "LMDB's default maximum key size");

inline constexpr char k_key_root = '\x00';
inline constexpr char k_key_inline = '\x01';
inline constexpr char k_key_hashed = '\x02';

// A key or children prefix, built in place (no allocation).
struct KeyBuf {
  char bytes[k_max_key];
  size_t len = 0;
  std::string_view view() const noexcept { return std::string_view(bytes, len); }
};

// Splits `path` at its last '/': "a/b/c" -> ("a/b", "c"), "c" -> ("", "c"), "" -> ("", "").
// The views point into `path`.
void split_path(std::string_view path, std::string_view& parent, std::string_view& name) noexcept;

// Checks that `path` is normalized (see above), at most k_max_path bytes, with components
// of 1..k_max_name bytes, no NUL. "" (the root) is valid. Errors: Errc::invalid.
Status validate_path(std::string_view path) noexcept;

// True when `path`'s key holds its parent as a digest, so its record must carry the
// parent path (entry.hpp).
bool key_parent_hashed(std::string_view path) noexcept;

// Writes the key of `path` into `out`. Returns false, leaving `out` unspecified, when no
// valid path could have this key (longer than k_max_path, empty or too long last
// component): a lookup of it is a miss. Otherwise does not validate (see above).
bool encode_key(std::string_view path, KeyBuf& out) noexcept;

// Writes the prefix that exactly the keys of `dir`'s children start with. Returns false
// when `dir` is longer than k_max_path (it can have no children).
bool encode_children_prefix(std::string_view dir, KeyBuf& out) noexcept;

// A stored key taken apart. Views point into the key bytes (LMDB memory when the key
// came from a cursor: valid until that transaction ends or resets).
struct KeyParts {
  char tag = k_key_root;
  std::string_view parent;  // the parent path for k_key_inline; empty otherwise
  std::string_view digest;  // the 16 digest bytes for k_key_hashed; empty otherwise
  std::string_view name;    // empty for the root
};

// Takes a stored key apart. Returns false when it is not a well-formed key.
bool decode_key(std::string_view key, KeyParts& out) noexcept;

// Writes parent + '/' + name (or just name under the root, "" for the root itself) into
// `out`, which holds `cap` bytes; no NUL is written. Returns the length, or SIZE_MAX
// when the result does not fit.
size_t join_path(std::string_view parent, std::string_view name, char* out, size_t cap) noexcept;

// LMDB's default key order (memcmp on the common length, then the shorter first):
// negative, zero or positive like memcmp.
int compare_keys(std::string_view a, std::string_view b) noexcept;

}  // namespace vrift::manifest
