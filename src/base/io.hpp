#pragma once
// Whole-buffer read and write on file descriptors, retrying short transfers and EINTR.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "base/result.hpp"

namespace vrift {

// Writes all `len` bytes at the current offset. Errors: Errc::system.
Status write_all(int fd, const void* data, size_t len) noexcept;

// Reads up to `len` bytes; returns fewer only at end of file. Errors: Errc::system.
Result<size_t> read_full(int fd, void* data, size_t len) noexcept;

// Writes all of `data` at `offset` (pwrite). Errors: Errc::system.
Status pwrite_all(int fd, const void* data, size_t len, uint64_t offset) noexcept;

}  // namespace vrift
