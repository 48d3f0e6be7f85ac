#pragma once
// Break-before-write: a managed file is never opened for writing where it stands,
// because where it stands is a blob (Solid: the path is a hardlink to the blob's inode or
// a symlink to it; Phantom: the blob is all there is). Before the caller's open, the
// path is made a private file of its own:
//   - with O_TRUNC, an empty file with the entry's mode (no copy: O(1) in the size);
//   - otherwise a copy of the blob (copy_file_range, chunked), with the entry's mode and
//     mtime, so a file opened r+ and never written still looks unchanged.
// The private file is written under a temp name beside the path and renamed over it, so
// the path never goes missing and never holds a partial copy. Then the entry is marked
// dirty in the delta layer (readers in every process now see the path), and the caller
// opens the path with its own flags. A blob is only ever read here.
//
// Temps beside project files are named `.vrift-tmp-<pid>-<n>`; a crash leaves at most
// one, which `vrift doctor --repair` removes.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "manifest/entry.hpp"
#include "shim/path.hpp"

namespace vrift::shim {

// A file entry copied out of a read snapshot (an Entry points into LMDB memory that is
// gone once the snapshot ends; a write needs the snapshot ended).
struct FileFacts {
  manifest::Entry entry;  // entry.ext points into ext below
  char ext[manifest::k_max_ext + 1] = {};

  void assign(const manifest::Entry& e) noexcept;
  FileFacts() = default;
  FileFacts(const FileFacts&) = delete;
  FileFacts& operator=(const FileFacts&) = delete;
};

// Makes the managed file at `mp` a private file (see above). Returns 0, or -1 with
// errno set (ENOSPC, EACCES, EIO when the blob is missing...). Must be called with the
// re-entry guard raised and no read snapshot held by this thread.
int break_before_write(const ManagedPath& mp, const FileFacts& facts, bool truncate) noexcept;

// Writes `<dir of abs>/.vrift-tmp-<pid>-<n>` into out (PATH_MAX). False when too long.
bool temp_beside(const char* abs, size_t abs_len, char* out) noexcept;

}  // namespace vrift::shim
