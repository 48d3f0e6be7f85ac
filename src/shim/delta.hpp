#pragma once
// The shim's writes to the manifest: always the delta layer (base is what ingest
// recorded), each call one committed transaction. They run with the re-entry guard
// raised and no read snapshot held by the calling thread (LMDB allows one transaction
// per thread). Each returns false, with a debug line, when the manifest cannot be
// written (read-only session, full disk): the caller then leaves the path as it is and
// the end-of-session sweep or `vrift doctor` records it.

#include <cstddef>

#include "manifest/entry.hpp"

namespace vrift::shim {

// Records `entry` at project path `rel`.
bool commit_entry(const char* rel, size_t len, const manifest::Entry& entry) noexcept;

// Makes `rel` absent from the layered view (a whiteout when base has it).
bool commit_erase(const char* rel, size_t len) noexcept;

// Marks the entry at `rel` dirty (k_flag_dirty), keeping its other fields.
bool commit_dirty(const char* rel, size_t len, const manifest::Entry& before) noexcept;

// Moves the entry at `from` and, for a directory, every entry below it, to `to`
// (replacing what `to` had). A whiteout hides `from` where base has it.
bool commit_move(const char* from, size_t from_len, const char* to, size_t to_len) noexcept;

// Records a directory at `rel` (mkdir inside a managed directory).
bool commit_dir(const char* rel, size_t len, uint32_t mode, int64_t mtime_ns, manifest::Tier tier) noexcept;

}  // namespace vrift::shim
