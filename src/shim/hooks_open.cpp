// The open family. A managed file opens its blob (Phantom) or its projection (Solid)
// read-only, and the fd is remembered so fstat() answers the virtual stat. Writing to a
// managed file is refused with EROFS until break-before-write takes it over: the blob
// must never be opened for writing (through a 0444 hardlink root could).

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shim/export.hpp"
#include "shim/fd_paths.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {

namespace {

constexpr int k_write_intent = O_WRONLY | O_RDWR | O_TRUNC | O_APPEND;
// Flags that keep their meaning when the blob is opened in the file's place.
constexpr int k_kept_flags =
    O_CLOEXEC | O_NONBLOCK | O_NOATIME | O_NOCTTY | O_LARGEFILE | O_DIRECT | O_PATH | O_NOFOLLOW;

bool needs_mode(int flags) { return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE; }

// Returns -2 when the call is not ours (the caller then does the real open).
int open_managed(int dirfd, const char* path, int flags) noexcept {
  ManagedFile file;
  int found = file.resolve(dirfd, path, (flags & O_NOFOLLOW) == 0);
  if (found == 0) {
    return -2;
  }
  if (found < 0) {
    return -1;
  }
  const ManagedPath& mp = file.path;
  if ((flags & O_CREAT) != 0 && (flags & O_EXCL) != 0) {
    errno = EEXIST;
    return -1;
  }
  if ((flags & O_DIRECTORY) != 0 || mp.trailing_slash) {
    errno = ENOTDIR;
    return -1;
  }
  if ((flags & k_write_intent) != 0) {
    debug_log("vrift shim: refusing to write %s (managed file)", mp.abs);
    errno = EROFS;
    return -1;
  }
  char target[PATH_MAX];
  const char* open_path = mp.abs;
  // The blob itself when there is no file at the path, or when the path is a Tier-1
  // link that O_NOFOLLOW would refuse (the program sees a regular file there).
  if (g_session.phantom || (flags & O_NOFOLLOW) != 0) {
    if (!blob_path(file.entry, target)) {
      errno = ENAMETOOLONG;
      return -1;
    }
    open_path = target;
  }
  int fd = real().openat(AT_FDCWD, open_path, O_RDONLY | (flags & k_kept_flags));
  if (fd < 0) {
    if (g_session.phantom && errno == ENOENT) {
      debug_log("vrift shim: blob missing for %s (run `vrift doctor`)", mp.abs);
      errno = EIO;
    }
    return -1;
  }
  struct stat real_st;
  int saved = errno;
  if (real().fstat(fd, &real_st) == 0) {
    remember_fd(fd, real_st, file.st);
    remember_fd_path(fd, real_st.st_dev, real_st.st_ino, mp.abs, mp.abs_len);
  }
  errno = saved;
  return fd;
}

// Files the shim itself opens (LMDB's, from inside a lookup) move above the program's
// descriptors and close on exec: a program expecting its first open to be fd 3 still
// gets it, and no child inherits the manifest.
constexpr int k_shim_fd_floor = 1000;

int relocate_shim_fd(int fd) noexcept {
  if (fd < 0 || fd >= k_shim_fd_floor) {
    return fd;
  }
  int saved = errno;
  int high = real().fcntl(fd, F_DUPFD_CLOEXEC, k_shim_fd_floor);
  if (high >= 0) {
    ::close(fd);
    fd = high;
  }
  errno = saved;
  return fd;
}

int do_open(int dirfd, const char* path, int flags, mode_t mode, bool is_at) noexcept {
  if (t_depth > 0) {
    return relocate_shim_fd(is_at ? real().openat(dirfd, path, flags, mode) : real().open(path, flags, mode));
  }
  if (active()) {
    int fd = open_managed(dirfd, path, flags);
    if (fd != -2) {
      return fd;
    }
  }
  return is_at ? real().openat(dirfd, path, flags, mode) : real().open(path, flags, mode);
}

mode_t mode_arg(int flags, va_list ap) { return needs_mode(flags) ? static_cast<mode_t>(va_arg(ap, int)) : 0; }

// fopen's mode string as open flags: r w a, '+', and glibc's 'e' (O_CLOEXEC), 'x' (O_EXCL).
bool fopen_flags(const char* mode, int& flags) {
  switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: return false;
  }
  for (const char* m = mode + 1; *m != '\0' && *m != ','; ++m) {
    if (*m == '+') {
      flags = (flags & ~(O_RDONLY | O_WRONLY)) | O_RDWR;
    } else if (*m == 'e') {
      flags |= O_CLOEXEC;
    } else if (*m == 'x') {
      flags |= O_EXCL;
    }
  }
  return true;
}

// Opens a managed file for fopen/freopen: the fd, or -2 when the path is not ours.
int fopen_managed(const char* path, const char* mode) noexcept {
  int flags = 0;
  if (path == nullptr || mode == nullptr || !fopen_flags(mode, flags) || !active()) {
    return -2;
  }
  return open_managed(AT_FDCWD, path, flags);
}

}  // namespace

}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_open(AT_FDCWD, path, flags, mode, false);
}

VRIFT_EXPORT int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_open(AT_FDCWD, path, flags | O_LARGEFILE, mode, false);
}

VRIFT_EXPORT int __open_2(const char* path, int flags) { return do_open(AT_FDCWD, path, flags, 0, false); }
VRIFT_EXPORT int __open64_2(const char* path, int flags) { return do_open(AT_FDCWD, path, flags | O_LARGEFILE, 0, false); }

VRIFT_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_open(dirfd, path, flags, mode, true);
}

VRIFT_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return do_open(dirfd, path, flags | O_LARGEFILE, mode, true);
}

VRIFT_EXPORT int __openat_2(int dirfd, const char* path, int flags) { return do_open(dirfd, path, flags, 0, true); }
VRIFT_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
  return do_open(dirfd, path, flags | O_LARGEFILE, 0, true);
}

VRIFT_EXPORT FILE* fopen(const char* path, const char* mode) {
  int fd = fopen_managed(path, mode);
  if (fd == -2) {
    return real().fopen(path, mode);
  }
  if (fd < 0) {
    return nullptr;
  }
  FILE* f = ::fdopen(fd, mode);
  if (f == nullptr) {
    int saved = errno;
    ::close(fd);
    errno = saved;
  }
  return f;
}

VRIFT_EXPORT FILE* fopen64(const char* path, const char* mode) { return fopen(path, mode); }

VRIFT_EXPORT FILE* freopen(const char* path, const char* mode, FILE* stream) {
  int fd = path == nullptr ? -2 : fopen_managed(path, mode);
  if (fd == -2) {
    return real().freopen(path, mode, stream);
  }
  if (fd < 0) {
    ::fclose(stream);
    return nullptr;
  }
  // Reopen the stream on our fd: freopen of /dev/fd/N would go through the kernel's
  // view of the fd, which is the blob; the fd itself is what we want.
  char proc[32];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  FILE* f = real().freopen(proc, mode, stream);
  int saved = errno;
  ::close(fd);
  errno = saved;
  return f;
}

VRIFT_EXPORT FILE* freopen64(const char* path, const char* mode, FILE* stream) { return freopen(path, mode, stream); }

// Duplicates carry the managed file's entry, so fstat of any of them agrees.
VRIFT_EXPORT int dup(int fd) {
  int to = real().dup(fd);
  if (to >= 0) {
    copy_fd(fd, to);
  }
  return to;
}

VRIFT_EXPORT int dup2(int fd, int to) {
  int rc = real().dup2(fd, to);
  if (rc >= 0) {
    copy_fd(fd, rc);
  }
  return rc;
}

VRIFT_EXPORT int dup3(int fd, int to, int flags) {
  int rc = real().dup3(fd, to, flags);
  if (rc >= 0) {
    copy_fd(fd, rc);
  }
  return rc;
}

namespace vrift::shim {
namespace {

int fcntl_impl(int (*real_fcntl)(int, int, ...), int fd, int cmd, va_list ap) {
  // Every fcntl command takes at most one argument, an int or a pointer.
  void* arg = va_arg(ap, void*);
  int rc = real_fcntl(fd, cmd, arg);
  if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) {
    copy_fd(fd, rc);
  }
  return rc;
}

}  // namespace
}  // namespace vrift::shim

VRIFT_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  int rc = fcntl_impl(real().fcntl, fd, cmd, ap);
  va_end(ap);
  return rc;
}

VRIFT_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  int rc = fcntl_impl(real().fcntl64 != nullptr ? real().fcntl64 : real().fcntl, fd, cmd, ap);
  va_end(ap);
  return rc;
}
