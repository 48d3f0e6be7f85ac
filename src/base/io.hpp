#pragma once
// Whole-buffer read and write on file descriptors, retrying short transfers and EINTR;
// and the few directory operations several layers share.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace vrift {

// Writes all `len` bytes at the current offset. Errors: Errc::system.
Status write_all(int fd, const void* data, size_t len) noexcept;

// Reads up to `len` bytes; returns fewer only at end of file. Errors: Errc::system.
Result<size_t> read_full(int fd, void* data, size_t len) noexcept;

// Writes all of `data` at `offset` (pwrite). Errors: Errc::system.
Status pwrite_all(int fd, const void* data, size_t len, uint64_t offset) noexcept;

// mkdirat, where a directory already there is success. Errors: Errc::system ("mkdir").
Status make_dir(int dirfd, const char* path, mode_t mode) noexcept;

// fsyncs directory `rel` (relative to `dirfd`), so the names made in it are durable.
// Errors: Errc::system, reported as `op` (a static string).
Status sync_dir(int dirfd, const char* rel, const char* op) noexcept;

// The names in directory `rel` (relative to `dirfd`), "." and ".." left out, in
// directory order. Allocates. Errors: Errc::system ("list directory").
Result<std::vector<std::string>> list_dir(int dirfd, const char* rel);

// Points symlink `rel` (relative to `dirfd`) at `target`: made beside it
// ("<rel>.tmp.<pid>") and renamed over it, so the name is never half there. Not synced.
// Errors: Errc::system, reported as `op` (a static string).
Status replace_symlink(int dirfd, const std::string& rel, const std::string& target, const char* op);

// What symlink `rel` (relative to `dirfd`) names; empty when it is missing or not a
// symlink.
std::string read_symlink(int dirfd, const std::string& rel);

}  // namespace vrift
