#pragma once
// BLAKE3 hashing of memory and of files, through the official C implementation
// (SIMD chosen at run time: SSE2 up to AVX-512).

#include <blake3.h>

#include <cstddef>
#include <cstdint>

#include "base/result.hpp"
#include "hash/digest.hpp"

namespace vrift::hash {

// Incremental hasher. Cheap to construct; not thread-safe.
class Hasher {
 public:
  Hasher() noexcept { blake3_hasher_init(&m_state); }
  void update(const void* data, size_t len) noexcept { blake3_hasher_update(&m_state, data, len); }
  Digest finish() const noexcept {
    Digest d;
    blake3_hasher_finalize(&m_state, d.bytes.data(), d.bytes.size());
    return d;
  }

 private:
  blake3_hasher m_state;
};

Digest hash_bytes(const void* data, size_t len) noexcept;

struct FileDigest {
  Digest digest;
  uint64_t size = 0;  // bytes hashed
};

// Hashes the whole file behind `fd` from offset 0 to its end, streaming: memory use is
// bounded whatever the file size. `fd` must be open for reading; its offset is not
// used or changed. Errors: Errc::system (read failures).
Result<FileDigest> hash_fd(int fd) noexcept;

// Hashes exactly the first `size` bytes of `fd` (from offset 0), as one does for a file
// whose size fstat just gave: no read past them. Errors: Errc::system, Errc::changed
// (the file ended before `size` bytes: it was truncated meanwhile).
Result<FileDigest> hash_fd_exact(int fd, uint64_t size) noexcept;

// Copies `src_fd` from offset 0 (up to `limit` bytes or its end) to the same offsets of
// `dst_fd`, hashing exactly the bytes written. Errors: Errc::system.
Result<FileDigest> copy_and_hash(int src_fd, int dst_fd, uint64_t limit = UINT64_MAX) noexcept;

// While one is alive, the thread reuses one read buffer for every hash and copy above
// instead of mapping one per file. Worker threads that go through many files hold one.
class ReadBufferScope {
 public:
  ReadBufferScope() noexcept;
  ~ReadBufferScope();
  ReadBufferScope(const ReadBufferScope&) = delete;
  ReadBufferScope& operator=(const ReadBufferScope&) = delete;
};

// Opens `path` (O_RDONLY|O_CLOEXEC) and hashes it. Errors: Errc::system.
Result<FileDigest> hash_file(const char* path) noexcept;

}  // namespace vrift::hash
