#include "hash/hasher.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/fd.hpp"
#include "base/io.hpp"

namespace vrift::hash {

namespace {

// Small files are read with pread into a stack buffer; anything larger is read into a
// 1 MiB mapping. Reading (not mmap of the file) keeps a concurrent truncation from
// killing the process with SIGBUS, at the cost of one copy that the page cache makes
// cheap next to hashing.
constexpr size_t k_stack_chunk = 16 * 1024;
constexpr size_t k_big_chunk = 1024 * 1024;

// Inside a ReadBufferScope the thread keeps one mapping for all its files: mapping and
// faulting in a fresh one per file cost ~15% of ingesting large files. Initial-exec TLS:
// this code is also linked into the LD_PRELOAD shim, which must not call __tls_get_addr.
[[gnu::tls_model("initial-exec")]] thread_local char* t_kept = nullptr;
[[gnu::tls_model("initial-exec")]] thread_local int t_scopes = 0;

char* map_chunk() noexcept {
  void* p = ::mmap(nullptr, k_big_chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

// The big buffer for one hash or copy: the thread's kept one, or a mapping of its own.
class BigBuffer {
 public:
  BigBuffer() noexcept : m_owned(t_scopes == 0) {
    if (m_owned) {
      m_data = map_chunk();
    } else {
      t_kept = t_kept != nullptr ? t_kept : map_chunk();
      m_data = t_kept;
    }
  }
  ~BigBuffer() {
    if (m_owned && m_data != nullptr) {
      ::munmap(m_data, k_big_chunk);
    }
  }
  BigBuffer(const BigBuffer&) = delete;
  BigBuffer& operator=(const BigBuffer&) = delete;
  char* data() const noexcept { return m_data; }

 private:
  bool m_owned;
  char* m_data = nullptr;
};

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

ReadBufferScope::ReadBufferScope() noexcept { ++t_scopes; }

ReadBufferScope::~ReadBufferScope() {
  if (--t_scopes == 0 && t_kept != nullptr) {
    ::munmap(t_kept, k_big_chunk);
    t_kept = nullptr;
  }
}

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
  BigBuffer big;
  if (big.data() == nullptr) {
    return fail_sys("mmap");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return hash_with_buffer(fd, big.data(), k_big_chunk, limit);
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

Result<FileDigest> copy_and_hash(int src_fd, int dst_fd, uint64_t limit) noexcept {
  BigBuffer buf;
  if (buf.data() == nullptr) {
    return fail_sys("mmap");
  }
  Hasher hasher;
  uint64_t offset = 0;
  while (offset < limit) {
    size_t want = limit - offset < k_big_chunk ? static_cast<size_t>(limit - offset) : k_big_chunk;
    ssize_t n = ::pread(src_fd, buf.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return fail_sys("read");
    }
    if (n == 0) {
      break;
    }
    hasher.update(buf.data(), static_cast<size_t>(n));
    VRIFT_CHECK(pwrite_all(dst_fd, buf.data(), static_cast<size_t>(n), offset));
    offset += static_cast<uint64_t>(n);
  }
  return FileDigest{hasher.finish(), offset};
}

Result<FileDigest> hash_file(const char* path) noexcept {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return fail_sys("open");
  }
  return hash_fd(fd.get());
}

}  // namespace vrift::hash
