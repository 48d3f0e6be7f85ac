// The ends of writing: close and its relatives, writable shared mappings, and process
// exit. Each may drop the last reference to a file being written (writes.hpp), which
// re-ingests it. The shim's own descriptors are never closed for the program: a program
// that closes every descriptor (daemons, some shells) would cut the session off.

#include <linux/close_range.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "shim/export.hpp"
#include "shim/hooks.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/writes.hpp"

namespace vrift::shim {
namespace {

bool is_shim_fd(int fd) noexcept {
  if (fd < k_shim_fd_floor) {
    return false;
  }
  int fds[8];
  size_t n = shim_fds(fds, 8);
  return std::find(fds, fds + n, fd) != fds + n;
}

}  // namespace

int close_fd(int fd) noexcept {
  if (caller() != Caller::program) {
    return real().close(fd);
  }
  if (is_shim_fd(fd)) {
    return 0;  // pretend: the program no longer sees it (it is close-on-exec)
  }
  Finished f;
  release_fd(fd, f);
  int rc = real().close(fd);
  int saved = errno;
  finish(f);
  errno = saved;
  return rc;
}

int close_fd_range(unsigned first, unsigned last, int flags) noexcept {
  if (caller() != Caller::program || (flags & CLOSE_RANGE_CLOEXEC) != 0) {
    return real().close_range(first, last, flags);
  }
  int fds[8];
  size_t n = shim_fds(fds, 8);
  for (size_t i = 1; i < n; ++i) {  // ascending (a handful: std::sort trips GCC's bounds warning)
    for (size_t j = i; j > 0 && fds[j - 1] > fds[j]; --j) {
      std::swap(fds[j - 1], fds[j]);
    }
  }
  return release_range(first, last, [&]() {
    // Close around the shim's own descriptors.
    int rc = 0;
    unsigned start = first;
    for (size_t i = 0; i < n; ++i) {
      unsigned keep = static_cast<unsigned>(fds[i]);
      if (keep < start || keep > last) {
        continue;
      }
      if (keep > start) {
        rc |= real().close_range(start, keep - 1, flags);
      }
      start = keep + 1;
    }
    if (start <= last && start != 0) {
      rc |= real().close_range(start, last, flags);
    }
    return rc;
  });
}

}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int close(int fd) { return close_fd(fd); }

VRIFT_EXPORT int close_range(unsigned int first, unsigned int last, int flags) {
  return close_fd_range(first, last, flags);
}

// glibc's fclose closes the descriptor internally, past the close() wrapper.
VRIFT_EXPORT int fclose(FILE* stream) {
  Finished f;
  if (stream != nullptr && caller() == Caller::program) {
    release_fd(::fileno(stream), f);
  }
  int rc = real().fclose(stream);
  int saved = errno;
  finish(f);
  errno = saved;
  return rc;
}

VRIFT_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  void* p = real().mmap(addr, len, prot, flags, fd, offset);
  if (p != MAP_FAILED && (prot & PROT_WRITE) != 0 && (flags & MAP_SHARED) != 0 && caller() == Caller::program) {
    int saved = errno;
    tracked_map(fd, p, len);
    errno = saved;
  }
  return p;
}

VRIFT_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off64_t offset) {
  return mmap(addr, len, prot, flags, fd, static_cast<off_t>(offset));
}

VRIFT_EXPORT int munmap(void* addr, size_t len) {
  int rc = real().munmap(addr, len);
  if (rc == 0 && caller() == Caller::program) {
    int saved = errno;
    tracked_unmap(addr, len);
    errno = saved;
  }
  return rc;
}

namespace {

// Files still open for writing when the program exits normally are re-ingested then.
__attribute__((destructor)) void flush_at_exit() {
  if (active()) {
    flush_all_writes();
  }
}

}  // namespace
