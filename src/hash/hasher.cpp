#include "hash/hasher.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/fd.hpp"

namespace vrift::hash {

namespace {

// Small files are read with pread into a stack buffer; anything larger is read into
// an anonymous mapping, reused across iterations. Reading (not mmap of the file) keeps
// a concurrent truncation from killing the process with SIGBUS, at the cost of one
// copy that the page cache makes cheap next to hashing.
constexpr size_t k_stack_chunk = 16 * 1024;
constexpr size_t k_big_chunk = 1024 * 1024;

// Hashes from offset 0 up to `limit` bytes or the end of the file, whichever is first.
Result<FileDigest> hash_with_buffer(int fd, char* buf, size_t cap, uint64_t limit) noexcept {
  Hasher hasher;
  uint64_t offset = 0;
  while (offset < limit) {
    size_t want = limit - offset < cap ? static_cast<size_t>(limit - offset) : cap;
    ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail_sys("read");
    }
    if (n == 0) {
      break;
    }
    hasher.update(buf, static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return FileDigest{hasher.finish(), offset};
}

}  // namespace

Digest hash_bytes(const void* data, size_t len) noexcept {
  Hasher hasher;
  hasher.update(data, len);
  return hasher.finish();
}

namespace {

Result<FileDigest> hash_up_to(int fd, uint64_t size_hint, uint64_t limit) noexcept {
  if (size_hint < k_stack_chunk) {
    char buf[k_stack_chunk];
    return hash_with_buffer(fd, buf, sizeof buf, limit);
  }
  void* big = ::mmap(nullptr, k_big_chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (big == MAP_FAILED) {
    return fail_sys("mmap");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto result = hash_with_buffer(fd, static_cast<char*>(big), k_big_chunk, limit);
  ::munmap(big, k_big_chunk);
  return result;
}

}  // namespace

Result<FileDigest> hash_fd(int fd) noexcept {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return fail_sys("fstat");
  }
  return hash_up_to(fd, static_cast<uint64_t>(st.st_size), UINT64_MAX);
}

Result<FileDigest> hash_fd_exact(int fd, uint64_t size) noexcept {
  auto result = hash_up_to(fd, size, size);
  if (result && result->size != size) {
    return fail(Errc::changed, "read");
  }
  return result;
}

Result<FileDigest> hash_file(const char* path) noexcept {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return fail_sys("open");
  }
  return hash_fd(fd.get());
}

}  // namespace vrift::hash
