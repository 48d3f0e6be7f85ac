// syscall(): libuv (node) issues statx, newfstatat and close through syscall() rather
// than their libc wrappers. The calls that read paths are dispatched to the same cores
// as the wrappers; every other number passes through unchanged with all six argument
// registers. io_uring_setup is refused (ENOSYS) so libuv falls back to system calls the
// shim sees; sessions also set UV_USE_IO_URING=0.

#include <fcntl.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "shim/export.hpp"
#include "shim/hooks.hpp"
#include "shim/path.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {
namespace {

int raw_statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* buf) {
  return static_cast<int>(real().syscall(SYS_statx, dirfd, path, flags, mask, buf));
}

// The raw forms of a write-intent open or a truncate, checked as their libc forms are
// in a vfork child (hooks.hpp).
bool refused_in_vfork_child(long number, long a0, long a1, long a2) noexcept {
  switch (number) {
    case SYS_open:
      return vfork_child_refuses(AT_FDCWD, reinterpret_cast<const char*>(a0), static_cast<int>(a1));
    case SYS_openat:
      return vfork_child_refuses(static_cast<int>(a0), reinterpret_cast<const char*>(a1), static_cast<int>(a2));
    case SYS_openat2:
      return a2 != 0 && vfork_child_refuses(static_cast<int>(a0), reinterpret_cast<const char*>(a1),
                                            static_cast<int>(reinterpret_cast<const struct open_how*>(a2)->flags));
    case SYS_truncate:
      return vfork_child_refuses(AT_FDCWD, reinterpret_cast<const char*>(a0), O_WRONLY);
    default:
      return false;
  }
}

}  // namespace
}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a0 = va_arg(ap, long);
  long a1 = va_arg(ap, long);
  long a2 = va_arg(ap, long);
  long a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long);
  long a5 = va_arg(ap, long);
  va_end(ap);
  if (t_depth != 0 && refused_in_vfork_child(number, a0, a1, a2)) {
    return -1;
  }
  if (active()) {
    switch (number) {
      case SYS_statx:
        return statx_at(static_cast<int>(a0), reinterpret_cast<const char*>(a1), static_cast<int>(a2),
                        static_cast<unsigned int>(a3), reinterpret_cast<struct statx*>(a4), raw_statx);
      case SYS_newfstatat:
        return stat_at(static_cast<int>(a0), reinterpret_cast<const char*>(a1), reinterpret_cast<struct stat*>(a2),
                       static_cast<int>(a3));
      case SYS_stat:
        return stat_at(AT_FDCWD, reinterpret_cast<const char*>(a0), reinterpret_cast<struct stat*>(a1), 0);
      case SYS_lstat:
        return stat_at(AT_FDCWD, reinterpret_cast<const char*>(a0), reinterpret_cast<struct stat*>(a1),
                       AT_SYMLINK_NOFOLLOW);
      case SYS_fstat:
        return stat_fd(static_cast<int>(a0), reinterpret_cast<struct stat*>(a1));
      case SYS_open:
        return ::open(reinterpret_cast<const char*>(a0), static_cast<int>(a1), static_cast<mode_t>(a2));
      case SYS_openat:
        return ::openat(static_cast<int>(a0), reinterpret_cast<const char*>(a1), static_cast<int>(a2),
                        static_cast<mode_t>(a3));
      case SYS_openat2:
        return openat2_at(static_cast<int>(a0), reinterpret_cast<const char*>(a1),
                          reinterpret_cast<const struct open_how*>(a2), static_cast<size_t>(a3));
      case SYS_access:
        return access_at(AT_FDCWD, reinterpret_cast<const char*>(a0), static_cast<int>(a1), 0);
      case SYS_faccessat:
        return access_at(static_cast<int>(a0), reinterpret_cast<const char*>(a1), static_cast<int>(a2), 0);
      case SYS_faccessat2:
        return access_at(static_cast<int>(a0), reinterpret_cast<const char*>(a1), static_cast<int>(a2),
                         static_cast<int>(a3));
      case SYS_readlink:
        return readlink_at(AT_FDCWD, reinterpret_cast<const char*>(a0), reinterpret_cast<char*>(a1),
                           static_cast<size_t>(a2));
      case SYS_readlinkat:
        return readlink_at(static_cast<int>(a0), reinterpret_cast<const char*>(a1), reinterpret_cast<char*>(a2),
                           static_cast<size_t>(a3));
      case SYS_dup3:
        return ::dup3(static_cast<int>(a0), static_cast<int>(a1), static_cast<int>(a2));
      case SYS_close:
        return close_fd(static_cast<int>(a0));
      case SYS_close_range:
        return close_fd_range(static_cast<unsigned>(a0), static_cast<unsigned>(a1), static_cast<int>(a2));
      case SYS_renameat2:
        return ::renameat2(static_cast<int>(a0), reinterpret_cast<const char*>(a1), static_cast<int>(a2),
                           reinterpret_cast<const char*>(a3), static_cast<unsigned>(a4));
      case SYS_getdents64:
        return getdents64_at(static_cast<int>(a0), reinterpret_cast<void*>(a1), static_cast<size_t>(a2));
      case SYS_io_uring_setup:
        errno = ENOSYS;
        return -1;
      default:
        break;
    }
  }
  return real().syscall(number, a0, a1, a2, a3, a4, a5);
}

VRIFT_EXPORT int chdir(const char* path) {
  int rc = real().chdir(path);
  if (rc != 0 && directory_errno(AT_FDCWD, path)) {
    rc = real().chdir(path);
  }
  invalidate_cwd();
  return rc;
}

VRIFT_EXPORT int fchdir(int fd) {
  int rc = real().fchdir(fd);
  invalidate_cwd();
  return rc;
}
