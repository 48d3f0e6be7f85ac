#pragma once
// The base index: a read-only hash table of the base layer, beside the manifest, for
// point lookups that cost one or two cache misses instead of a B-tree descent.
//
// Why: a random lookup in a large base descends three or four LMDB pages and binary-
// searches each, a cache (and TLB) miss per probe once the tree outgrows the caches
// (~1.1 µs at 1M entries on a 2-core VM). Listings and iteration still need LMDB's
// order, so the index is an addition for point lookups only, derived from LMDB and
// never consulted without proof that it describes the snapshot being read.
//
// Trust. Every commit that changes a base layer writes a fresh random `base_stamp` into
// that environment's meta (lmdb_manifest.cpp), and the index records the stamp of the
// snapshot it was built from. A reader uses the index only while its snapshot's stamp
// equals the index's: any base change since the build, committed or not yet seen,
// sends lookups back to LMDB. A manifest whose base has ever been stamped is format 2,
// so a vrift that does not stamp refuses to write it.
//
// File `<manifest env>/base.index`, little-endian, written to `base.index.<pid>.tmp`,
// synced, then renamed over (a reader maps either the old file or the new one, whole):
//
//   header   magic "VRIFTBX1", u64 stamp, u64 slot count (a power of two), u64 entries,
//            u64 arena bytes
//   slots    u64 each: 0 empty, else (tag << 32) | arena offset, where tag is the top
//            32 bits of the path's hash (never 0) and the offset points at a record
//   arena    per entry: u16 path length, u16 record length, the path, the manifest
//            record (entry.hpp layout)
//
// Lookups probe linearly from (hash & (slots - 1)) and compare the path itself, so a
// hash collision costs a comparison, never a wrong answer. Every offset and length is
// checked against the mapping before it is read: a damaged file gives misses or
// Errc::corrupt, never a read outside the map.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace vrift::manifest {

inline constexpr std::string_view k_base_index_name = "base.index";
inline constexpr std::string_view k_meta_base_stamp_key = "base_stamp";

// 64-bit hash of a path for the index (stable: it is part of the file format).
uint64_t index_hash(std::string_view path) noexcept;

// Collects (path, record) pairs, then writes the index file. Allocates.
class BaseIndexBuilder {
 public:
  void add(std::string_view path, std::string_view record);
  size_t size() const noexcept { return m_items.size(); }
  // Writes `<env_dir>/base.index` for `stamp`: to a temp name, fsynced, renamed over.
  // Errors: Errc::invalid (an arena over 4 GiB), Errc::system.
  Status write(const char* env_dir, uint64_t stamp) const;

 private:
  struct Item {
    uint64_t hash;
    uint32_t offset;
  };
  std::string m_arena;
  std::vector<Item> m_items;
};

// A mapped index file: a plain value (no allocation), unmapped only by unmap(), so that
// views handed out stay valid for as long as the owner keeps it. Lookups never allocate.
class BaseIndexMap {
 public:
  // Maps `<env_dir>/base.index` into `out` when it exists and was built for `stamp`.
  // Returns false (and maps nothing) when the file is missing or was built for another
  // stamp. Errors: Errc::corrupt (not an index, or inconsistent sizes), Errc::system.
  static Result<bool> open(const char* env_dir, uint64_t stamp, BaseIndexMap& out) noexcept;
  // The stamp in the header of `<env_dir>/base.index`, or 0 when there is no readable
  // index there.
  static uint64_t stamp_on_disk(const char* env_dir) noexcept;
  void unmap() noexcept;

  bool mapped() const noexcept { return m_base != nullptr; }
  uint64_t stamp() const noexcept { return m_stamp; }
  uint64_t entries() const noexcept { return m_entries; }
  // The record stored for `path`: true and `record` pointing into the mapping, or false
  // when the base has no such path. Errors: Errc::corrupt (a slot or record out of the
  // mapping's bounds).
  Result<bool> find(std::string_view path, std::string_view& record) const noexcept;

 private:
  const unsigned char* m_base = nullptr;
  size_t m_bytes = 0;
  uint64_t m_stamp = 0;
  uint64_t m_mask = 0;
  uint64_t m_entries = 0;
  const unsigned char* m_slots = nullptr;
  const unsigned char* m_arena = nullptr;
  uint64_t m_arena_bytes = 0;
};

}  // namespace vrift::manifest
