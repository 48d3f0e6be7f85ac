#include "shim/fd_paths.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "shim/real.hpp"

namespace vrift::shim {
namespace {

struct Slot {
  std::atomic<uint64_t> ino{0};  // 0: empty
  uint64_t dev = 0;
  uint32_t len = 0;
  char path[PATH_MAX];
};

constexpr int k_chunk_fds = 1024;
constexpr int k_chunks = 64;  // fds below 65536
constinit std::atomic<Slot*> g_chunks[k_chunks]{};

Slot* slot(int fd, bool create) noexcept {
  if (fd < 0 || fd >= k_chunk_fds * k_chunks) {
    return nullptr;
  }
  std::atomic<Slot*>& chunk = g_chunks[fd / k_chunk_fds];
  Slot* base = chunk.load(std::memory_order_acquire);
  if (base == nullptr) {
    if (!create) {
      return nullptr;
    }
    int saved = errno;
    void* mem = ::mmap(nullptr, sizeof(Slot) * k_chunk_fds, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    errno = saved;
    if (mem == MAP_FAILED) {
      return nullptr;
    }
    Slot* expected = nullptr;
    if (chunk.compare_exchange_strong(expected, static_cast<Slot*>(mem), std::memory_order_acq_rel)) {
      base = static_cast<Slot*>(mem);
    } else {
      ::munmap(mem, sizeof(Slot) * k_chunk_fds);  // another thread made it first
      base = expected;
    }
  }
  return base + fd % k_chunk_fds;
}

}  // namespace

void remember_fd_path(int fd, dev_t dev, ino_t ino, const char* abs, size_t len) noexcept {
  Slot* s = slot(fd, true);
  if (s == nullptr) {
    return;
  }
  s->ino.store(0, std::memory_order_relaxed);
  if (len >= sizeof s->path) {
    return;
  }
  std::memcpy(s->path, abs, len);
  s->path[len] = '\0';
  s->len = static_cast<uint32_t>(len);
  s->dev = dev;
  s->ino.store(ino, std::memory_order_release);
}

void copy_fd_path(int from, int to) noexcept {
  Slot* src = slot(from, false);
  if (from == to || src == nullptr || src->ino.load(std::memory_order_acquire) == 0) {
    if (Slot* dst = slot(to, false)) {
      dst->ino.store(0, std::memory_order_relaxed);
    }
    return;
  }
  remember_fd_path(to, src->dev, src->ino.load(std::memory_order_acquire), src->path, src->len);
}

size_t fd_project_path(int fd, char* out, size_t cap) noexcept {
  Slot* s = slot(fd, false);
  if (s == nullptr) {
    return 0;
  }
  uint64_t ino = s->ino.load(std::memory_order_acquire);
  if (ino == 0 || s->len >= cap) {
    return 0;
  }
  int saved = errno;
  struct stat st;
  bool same = real().fstat(fd, &st) == 0 && st.st_ino == ino && st.st_dev == s->dev;
  errno = saved;
  if (!same) {
    return 0;
  }
  size_t len = s->len;
  std::memcpy(out, s->path, len);
  out[len] = '\0';
  return len;
}

const char* proc_self_rest(const char* link) noexcept {
  if (std::strncmp(link, "/proc/", 6) != 0) {
    return nullptr;
  }
  const char* p = link + 6;
  if (std::strncmp(p, "self/", 5) == 0) {
    return p + 5;
  }
  if (std::strncmp(p, "thread-self/", 12) == 0) {
    return p + 12;
  }
  if (*p < '0' || *p > '9') {
    return nullptr;
  }
  long pid = 0;
  while (*p >= '0' && *p <= '9' && pid < INT_MAX / 10) {
    pid = pid * 10 + (*p++ - '0');
  }
  return *p == '/' && pid == ::getpid() ? p + 1 : nullptr;
}

int proc_fd_number(const char* link) noexcept {
  const char* rest = nullptr;
  if (std::strncmp(link, "/dev/fd/", 8) == 0) {
    rest = link + 8;
  } else {
    rest = proc_self_rest(link);
    if (rest == nullptr || std::strncmp(rest, "fd/", 3) != 0) {
      return -1;
    }
    rest += 3;
  }
  if (*rest < '0' || *rest > '9') {
    return -1;
  }
  long fd = 0;
  while (*rest >= '0' && *rest <= '9' && fd < INT_MAX / 10) {
    fd = fd * 10 + (*rest++ - '0');
  }
  return *rest == '\0' ? static_cast<int>(fd) : -1;
}

}  // namespace vrift::shim
