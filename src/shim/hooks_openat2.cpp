// syscall(SYS_openat2): glibc 2.36 has no openat2 wrapper, so programs reach it through
// syscall() only. A managed file opens as openat() opens it (the blob, read-only); the
// resolve flags keep their meaning where the kernel cannot check them itself:
// RESOLVE_NO_SYMLINKS refuses symlinks among the parents (the kernel checks those, as
// directories are physical) and at the last component, where a Solid Tier-1 projection
// is not a symlink to the program. Resolve flags that confine the walk (BENEATH,
// IN_ROOT) are left to the kernel.

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shim/hooks.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {

namespace {

long raw_openat2(int dirfd, const char* path, const struct open_how* how, size_t size) {
  return real().syscall(SYS_openat2, dirfd, path, how, size);
}

// The parents of (dirfd, path) pass the kernel's RESOLVE_* checks: 0, or -1 with errno
// when they do not (ELOOP, EXDEV, EAGAIN). A parent missing or not a directory is left
// to the manifest's answer (a phantom file is not physically there).
int check_parents(int dirfd, const char* path, uint64_t resolve) {
  size_t end = std::strlen(path);
  while (end > 1 && path[end - 1] == '/') {
    --end;
  }
  while (end > 0 && path[end - 1] != '/') {
    --end;
  }
  if (end == 0) {
    return 0;
  }
  char parent[PATH_MAX];
  size_t len = end > 1 ? end - 1 : 1;
  if (len >= sizeof parent) {
    return 0;
  }
  std::memcpy(parent, path, len);
  parent[len] = '\0';
  struct open_how how {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = resolve;
  int saved = errno;
  long fd = raw_openat2(dirfd, parent, &how, sizeof how);
  if (fd < 0) {
    if (errno == ELOOP || errno == EXDEV || errno == EAGAIN) {
      return -1;
    }
    errno = saved;
    return 0;
  }
  ::close(static_cast<int>(fd));
  return 0;
}

}  // namespace

long openat2_at(int dirfd, const char* path, const struct open_how* how, size_t size) noexcept {
  constexpr uint64_t k_understood = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV | RESOLVE_CACHED;
  if (how != nullptr && path != nullptr && size >= sizeof(struct open_how) &&
      vfork_child_refuses(dirfd, path, static_cast<int>(how->flags))) {
    return -1;
  }
  if (how == nullptr || path == nullptr || size < sizeof(struct open_how) || (how->resolve & ~k_understood) != 0 ||
      !active()) {
    return raw_openat2(dirfd, path, how, size);
  }
  bool no_symlinks = (how->resolve & RESOLVE_NO_SYMLINKS) != 0;
  int found = 0;
  {
    ManagedFile file;
    found = file.resolve(dirfd, path, !no_symlinks && (how->flags & O_NOFOLLOW) == 0);
  }
  if (found == 0) {
    // Not a managed file: the kernel opens it, with every resolve flag; a write is
    // tracked as open() tracks it.
    long fd = raw_openat2(dirfd, path, how, size);
    if (fd < 0) {
      return fd;
    }
    int tracked = track_opened_write(dirfd, path, static_cast<int>(fd), static_cast<int>(how->flags));
    return tracked != -2 ? tracked : ::openat(dirfd, path, static_cast<int>(how->flags), static_cast<mode_t>(how->mode));
  }
  if (no_symlinks && check_parents(dirfd, path, how->resolve) != 0) {
    return -1;  // a symlink among the parents: the kernel's answer comes first
  }
  if (found < 0) {
    return -1;
  }
  return ::openat(dirfd, path, static_cast<int>(how->flags), static_cast<mode_t>(how->mode));
}

}  // namespace vrift::shim
