// The stat family, access and readlink. A managed file answers from the manifest
// (vfs.hpp); everything else, and every fd that is not a managed file, asks the kernel.
// struct stat and struct stat64 are the same on x86-64, and the old __xstat ABI (node
// 20 and make 4.3 still import it) is served by the same code, each entry forwarding to
// its own next definition (glibc 2.33+ keeps them as compat symbols, which dlsym finds).

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

#include "shim/export.hpp"
#include "shim/fd_paths.hpp"
#include "shim/hooks.hpp"
#include "shim/kernel.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {

namespace {

// The manifest's answer for a path that may be managed: 1 (in buf), -1 (errno), or 0
// (ask the kernel). Out of line, so the common call elsewhere does not set up its frame.
__attribute__((noinline)) int managed_stat(int dirfd, const char* path, struct stat* buf, int flags) noexcept {
  ManagedFile file;
  int found = file.resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0);
  if (found > 0) {
    *buf = file.st;
  }
  return found;
}

// Whether the kernel's answer about a path may differ from the shim's were the path in
// the project: nothing is there (a Phantom file is not on disk), or what is there may be
// a link vrift projected (a symlink; or a read-only file with more names, which is also
// where a followed Tier-1 symlink lands: its blob).
bool maybe_projected(mode_t mode, nlink_t nlink) noexcept {
  return S_ISLNK(mode) || (S_ISREG(mode) && nlink > 1 && (mode & 0222) == 0);
}

// The answer to a call on a path outside the project by its prefix whose kernel answer
// `rc` (kernel.hpp: 0 or -errno, errno untouched) may not stand: the shim's, when the
// path leads back into the project and `managed()` has one (1, or -1 with errno; 0:
// none), else the kernel's. Out of line: the rare path.
template <class Managed>
__attribute__((noinline)) int unless_managed(const char* path, int rc, Managed managed) noexcept {
  if (may_lead_back(path)) {
    int caller_errno = errno;
    if (int found = managed(); found != 0) {
      if (found > 0) {
        errno = caller_errno;
      }
      return found > 0 ? 0 : -1;
    }
  }
  return kernel::to_caller(rc);  // the kernel's answer (and what it filled in)
}

// The call a stat wrapper makes when the kernel is to answer: the next definition of
// the symbol the program called. Another preloaded library may define one entry in
// terms of another (fakeroot's fstatat jumps to __fxstatat, its stat to __xstat, through
// the PLT, which reaches the shim's): a wrapper that made a different call than its own
// would send such a library back into the shim, round and round.
struct ViaFstatat {
  int operator()(int dirfd, const char* path, struct stat* buf, int flags) const noexcept {
    return real().fstatat(dirfd, path, buf, flags);
  }
};

// The kernel's answer through `next` (kernel.hpp: 0 or -errno, errno untouched).
template <class Next>
int kernel_answer(Next next, int dirfd, const char* path, struct stat* buf, int flags) noexcept {
  if constexpr (std::is_same_v<Next, ViaFstatat>) {
    return kernel::fstatat(dirfd, path, buf, flags);
  } else {
    int saved = errno;
    return kernel::as_result(next(dirfd, path, buf, flags), saved);
  }
}

// A path that starts in the project: the manifest's answer, or the kernel's (a recorded
// directory as the plain tree shows it: plain_dir_stat()).
template <class Next>
__attribute__((noinline)) int project_stat(int dirfd, const char* path, struct stat* buf, int flags,
                                           Next next) noexcept {
  ManagedFile file;
  int found = file.resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0);
  if (found != 0) {
    if (found > 0) {
      *buf = file.st;
    }
    return found > 0 ? 0 : -1;
  }
  int rc = next(dirfd, path, buf, flags);
  if (rc == 0 && file.plain_dir(buf->st_mode)) {
    plain_dir_stat(*buf);
  }
  return rc;
}

// Calls on paths that do not start with the project's (outside_by_prefix()) are outside
// unless a ".", ".." or "//" component leads them back in, which is rare: the kernel
// answers first, and the path is examined (resolved, then looked up) only when that
// answer may be one the project changes. Most calls of a session are such calls, and
// most succeed on plain files: they pay no scan of the path.
template <class Next>
int stat_through(int dirfd, const char* path, struct stat* buf, int flags, Next next) noexcept {
  if (path != nullptr && path[0] == '\0' && (flags & AT_EMPTY_PATH) != 0) {
    int rc = next(dirfd, path, buf, flags);
    if (rc == 0 && active()) {
      overlay_fd_stat(dirfd, *buf);
    }
    return rc;
  }
  if (!active()) {
    return next(dirfd, path, buf, flags);
  }
  if (outside_by_prefix(path)) {
    int rc = kernel_answer(next, dirfd, path, buf, flags);
    if (rc == 0 && !maybe_projected(buf->st_mode, buf->st_nlink)) {
      return 0;
    }
    return unless_managed(path, rc, [=] { return managed_stat(dirfd, path, buf, flags); });
  }
  return project_stat(dirfd, path, buf, flags, next);
}

// The old-ABI entries (__xstat and kin: node 20 and make 4.3 still import them), each
// through its own next definition, with the version the program passed.
template <int (*RealFunctions::*Entry)(int, const char*, struct stat*)>
struct ViaXstat {
  int ver;
  int operator()(int, const char* path, struct stat* buf, int) const noexcept { return (real().*Entry)(ver, path, buf); }
};

template <int (*RealFunctions::*Entry)(int, const char*, struct stat64*)>
struct ViaXstat64 {
  int ver;
  int operator()(int, const char* path, struct stat* buf, int) const noexcept {
    return (real().*Entry)(ver, path, reinterpret_cast<struct stat64*>(buf));
  }
};

template <class Stat, int (*RealFunctions::*Entry)(int, int, const char*, Stat*, int)>
struct ViaFxstatat {
  int ver;
  int operator()(int dirfd, const char* path, struct stat* buf, int flags) const noexcept {
    return (real().*Entry)(ver, dirfd, path, reinterpret_cast<Stat*>(buf), flags);
  }
};

template <class Next>
int stat_fd_through(int fd, struct stat* buf, Next next) noexcept {
  int rc = next(fd, buf);
  if (rc == 0 && active()) {
    overlay_fd_stat(fd, *buf);
  }
  return rc;
}

}  // namespace

int stat_at(int dirfd, const char* path, struct stat* buf, int flags) noexcept {
  return stat_through(dirfd, path, buf, flags, ViaFstatat{});
}

int stat_fd(int fd, struct stat* buf) noexcept {
  return stat_fd_through(fd, buf, [](int f, struct stat* b) { return real().fstat(f, b); });
}

namespace {

void fill_statx(const struct stat& st, unsigned int mask, struct statx* out) {
  std::memset(out, 0, sizeof *out);
  out->stx_mask = STATX_BASIC_STATS & (mask | STATX_BASIC_STATS);
  out->stx_blksize = static_cast<uint32_t>(st.st_blksize);
  out->stx_nlink = static_cast<uint32_t>(st.st_nlink);
  out->stx_uid = st.st_uid;
  out->stx_gid = st.st_gid;
  out->stx_mode = static_cast<uint16_t>(st.st_mode);
  out->stx_ino = st.st_ino;
  out->stx_size = static_cast<uint64_t>(st.st_size);
  out->stx_blocks = static_cast<uint64_t>(st.st_blocks);
  auto ts = [](const timespec& t) {
    struct statx_timestamp x {};
    x.tv_sec = t.tv_sec;
    x.tv_nsec = static_cast<uint32_t>(t.tv_nsec);
    return x;
  };
  out->stx_atime = ts(st.st_atim);
  out->stx_mtime = ts(st.st_mtim);
  out->stx_ctime = ts(st.st_ctim);
  out->stx_btime = ts(st.st_mtim);
  if ((mask & STATX_BTIME) != 0) {
    out->stx_mask |= STATX_BTIME;
  }
  out->stx_dev_major = major(st.st_dev);
  out->stx_dev_minor = minor(st.st_dev);
}

}  // namespace

namespace {

// managed_stat() for statx: 1 (in buf), -1 (errno), or 0 (ask the kernel).
__attribute__((noinline)) int managed_statx(int dirfd, const char* path, int flags, unsigned int mask,
                                            struct statx* buf) noexcept {
  ManagedFile file;
  int found = file.resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0);
  if (found > 0) {
    fill_statx(file.st, mask, buf);
  }
  return found;
}

// project_stat() for statx.
__attribute__((noinline)) int project_statx(int dirfd, const char* path, int flags, unsigned int mask,
                                            struct statx* buf, StatxFn real_statx) noexcept {
  ManagedFile file;
  int found = file.resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0);
  if (found != 0) {
    if (found > 0) {
      fill_statx(file.st, mask, buf);
    }
    return found > 0 ? 0 : -1;
  }
  int rc = real_statx(dirfd, path, flags, mask, buf);
  if (rc == 0 && file.plain_dir(buf->stx_mode)) {
    buf->stx_nlink = 1;  // plain_dir_stat()
    buf->stx_ctime = buf->stx_mtime;
  }
  return rc;
}

}  // namespace

int statx_at(int dirfd, const char* path, int flags, unsigned int mask, struct statx* buf, StatxFn real_statx) noexcept {
  if (!active() || path == nullptr || buf == nullptr) {
    return real_statx(dirfd, path, flags, mask, buf);
  }
  if (outside_by_prefix(path)) {
    constexpr unsigned k_needed = STATX_TYPE | STATX_MODE | STATX_NLINK;
    int rc = kernel::statx(dirfd, path, flags, mask, buf, real_statx);
    if (rc == 0 && (buf->stx_mask & k_needed) == k_needed && !maybe_projected(buf->stx_mode, buf->stx_nlink)) {
      return 0;
    }
    return unless_managed(path, rc, [=] { return managed_statx(dirfd, path, flags, mask, buf); });
  }
  if (path[0] == '\0' && (flags & AT_EMPTY_PATH) != 0) {
    int rc = real_statx(dirfd, path, flags, mask, buf);
    struct stat vst;
    dev_t dev = makedev(buf->stx_dev_major, buf->stx_dev_minor);
    if (rc == 0 && fd_virtual_stat(dirfd, dev, buf->stx_ino, vst)) {
      fill_statx(vst, mask, buf);
    } else if (rc == 0 && fd_dir_view(dirfd, dev, buf->stx_ino)) {
      buf->stx_nlink = 1;  // plain_dir_stat()
      buf->stx_ctime = buf->stx_mtime;
    }
    return rc;
  }
  return project_statx(dirfd, path, flags, mask, buf, real_statx);
}

namespace {

// The manifest's answer to access(): 1 (allowed), -1 (errno), or 0 (ask the kernel).
__attribute__((noinline)) int managed_access(int dirfd, const char* path, int mode, int flags) noexcept {
  ManagedFile file;
  int found = file.resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0);
  if (found <= 0) {
    return found;
  }
  if (mode == F_OK) {
    return 1;
  }
  // Managed files belong to the project's owner: the owner, group or other bits
  // decide as for the caller's identity (root: any x bit).
  bool effective = (flags & AT_EACCESS) != 0;
  uid_t uid = effective ? ::geteuid() : ::getuid();
  gid_t gid = effective ? ::getegid() : ::getgid();
  unsigned shift = uid == file.st.st_uid ? 6 : (gid == file.st.st_gid || ::group_member(file.st.st_gid)) ? 3 : 0;
  unsigned bits = (file.st.st_mode >> shift) & 7;
  bool root = uid == 0;
  bool ok = ((mode & R_OK) == 0 || root || (bits & 4) != 0) &&
            ((mode & W_OK) == 0 || root || (bits & 2) != 0) &&
            ((mode & X_OK) == 0 || (file.st.st_mode & 0111) != 0);
  // Writing a managed file puts a private copy in its directory (break-before-write):
  // it is writable only where the caller may create files.
  if (ok && (mode & W_OK) != 0) {
    size_t dir_len = file.path.abs_len;
    while (dir_len > 1 && file.path.abs[dir_len - 1] != '/') {
      --dir_len;
    }
    char dir[PATH_MAX];
    std::memcpy(dir, file.path.abs, dir_len);
    dir[dir_len > 1 ? dir_len - 1 : 1] = '\0';
    int saved = errno;
    ok = real().faccessat(AT_FDCWD, dir, W_OK | X_OK, flags & AT_EACCESS) == 0;
    errno = saved;
  }
  if (!ok) {
    errno = EACCES;
    return -1;
  }
  return 1;
}

}  // namespace

int access_at(int dirfd, const char* path, int mode, int flags) noexcept {
  if (!active()) {
    return real().faccessat(dirfd, path, mode, flags);
  }
  // Outside by its prefix, asking neither to write nor about a symlink itself (where a
  // projection's answer differs from the kernel's: its blob is read-only, a Tier-1
  // symlink's own mode is 0777): the kernel first, as stat_at().
  if ((mode & W_OK) == 0 && (flags & AT_SYMLINK_NOFOLLOW) == 0 && outside_by_prefix(path)) {
    int rc = kernel::faccessat(dirfd, path, mode, flags);
    return rc == 0 ? 0 : unless_managed(path, rc, [=] { return managed_access(dirfd, path, mode, flags); });
  }
  if (int found = managed_access(dirfd, path, mode, flags); found != 0) {
    return found > 0 ? 0 : -1;
  }
  return real().faccessat(dirfd, path, mode, flags);
}

namespace {

// /proc/self/fd/N of a managed file and /proc/self/exe of a phantom executable name the
// project path, not the blob: `n` bytes the kernel put in buf become the project path
// (truncated to size, not NUL-terminated, as readlink does).
ssize_t project_link(const char* path, char* buf, size_t size, ssize_t n) noexcept {
  char full[PATH_MAX];
  size_t len = 0;
  int saved = errno;
  if (int fd = proc_fd_number(path); fd >= 0) {
    len = fd_project_path(fd, full, sizeof full);
  } else if (const char* rest = proc_self_rest(path); rest != nullptr && std::strcmp(rest, "exe") == 0) {
    char target[PATH_MAX];
    ssize_t t = real().readlinkat(AT_FDCWD, path, target, sizeof target - 1);
    len = t > 0 ? exe_project_path(target, static_cast<size_t>(t), full, sizeof full) : 0;
  }
  errno = saved;
  if (len == 0) {
    return n;
  }
  size_t k = len < size ? len : size;
  std::memcpy(buf, full, k);
  return static_cast<ssize_t>(k);
}

}  // namespace

ssize_t readlink_at(int dirfd, const char* path, char* buf, size_t size) noexcept {
  if (active() && !clearly_outside(path)) {
    ManagedFile file;
    if (int found = file.resolve(dirfd, path, false); found != 0) {
      if (found > 0) {
        errno = EINVAL;  // a managed file is a regular file, even where a symlink projects it
      }
      return -1;
    }
  }
  ssize_t n = real().readlinkat(dirfd, path, buf, size);
  if (n > 0 && path[0] == '/' && (path[1] == 'p' || path[1] == 'd') && active()) {
    Guard guard;
    n = project_link(path, buf, size, n);
  }
  return n;
}

}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int stat(const char* path, struct stat* buf) { return stat_at(AT_FDCWD, path, buf, 0); }
VRIFT_EXPORT int stat64(const char* path, struct stat64* buf) {
  return stat_at(AT_FDCWD, path, reinterpret_cast<struct stat*>(buf), 0);
}
VRIFT_EXPORT int lstat(const char* path, struct stat* buf) { return stat_at(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW); }
VRIFT_EXPORT int lstat64(const char* path, struct stat64* buf) {
  return stat_at(AT_FDCWD, path, reinterpret_cast<struct stat*>(buf), AT_SYMLINK_NOFOLLOW);
}
VRIFT_EXPORT int fstat(int fd, struct stat* buf) { return stat_fd(fd, buf); }
VRIFT_EXPORT int fstat64(int fd, struct stat64* buf) { return stat_fd(fd, reinterpret_cast<struct stat*>(buf)); }
VRIFT_EXPORT int fstatat(int dirfd, const char* path, struct stat* buf, int flags) {
  return stat_at(dirfd, path, buf, flags);
}
VRIFT_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* buf, int flags) {
  return stat_at(dirfd, path, reinterpret_cast<struct stat*>(buf), flags);
}
VRIFT_EXPORT int __xstat(int ver, const char* path, struct stat* buf) {
  return stat_through(AT_FDCWD, path, buf, 0, ViaXstat<&RealFunctions::__xstat>{ver});
}
VRIFT_EXPORT int __xstat64(int ver, const char* path, struct stat64* buf) {
  return stat_through(AT_FDCWD, path, reinterpret_cast<struct stat*>(buf), 0,
                      ViaXstat64<&RealFunctions::__xstat64>{ver});
}
VRIFT_EXPORT int __lxstat(int ver, const char* path, struct stat* buf) {
  return stat_through(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW, ViaXstat<&RealFunctions::__lxstat>{ver});
}
VRIFT_EXPORT int __lxstat64(int ver, const char* path, struct stat64* buf) {
  return stat_through(AT_FDCWD, path, reinterpret_cast<struct stat*>(buf), AT_SYMLINK_NOFOLLOW,
                      ViaXstat64<&RealFunctions::__lxstat64>{ver});
}
VRIFT_EXPORT int __fxstat(int ver, int fd, struct stat* buf) {
  return stat_fd_through(fd, buf, [ver](int f, struct stat* b) { return real().__fxstat(ver, f, b); });
}
VRIFT_EXPORT int __fxstat64(int ver, int fd, struct stat64* buf) {
  return stat_fd_through(fd, reinterpret_cast<struct stat*>(buf), [ver](int f, struct stat* b) {
    return real().__fxstat64(ver, f, reinterpret_cast<struct stat64*>(b));
  });
}
VRIFT_EXPORT int __fxstatat(int ver, int dirfd, const char* path, struct stat* buf, int flags) {
  return stat_through(dirfd, path, buf, flags, ViaFxstatat<struct stat, &RealFunctions::__fxstatat>{ver});
}
VRIFT_EXPORT int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* buf, int flags) {
  return stat_through(dirfd, path, reinterpret_cast<struct stat*>(buf), flags,
                      ViaFxstatat<struct stat64, &RealFunctions::__fxstatat64>{ver});
}
VRIFT_EXPORT int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* buf) {
  return statx_at(dirfd, path, flags, mask, buf, real().statx);
}

VRIFT_EXPORT int access(const char* path, int mode) { return access_at(AT_FDCWD, path, mode, 0); }
VRIFT_EXPORT int faccessat(int dirfd, const char* path, int mode, int flags) {
  return access_at(dirfd, path, mode, flags);
}
VRIFT_EXPORT int eaccess(const char* path, int mode) { return access_at(AT_FDCWD, path, mode, AT_EACCESS); }
VRIFT_EXPORT int euidaccess(const char* path, int mode) { return access_at(AT_FDCWD, path, mode, AT_EACCESS); }

VRIFT_EXPORT ssize_t readlink(const char* path, char* buf, size_t size) {
  return readlink_at(AT_FDCWD, path, buf, size);
}
VRIFT_EXPORT ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) {
  return readlink_at(dirfd, path, buf, size);
}
VRIFT_EXPORT ssize_t __readlink_chk(const char* path, char* buf, size_t size, size_t) {
  return readlink_at(AT_FDCWD, path, buf, size);
}
VRIFT_EXPORT ssize_t __readlinkat_chk(int dirfd, const char* path, char* buf, size_t size, size_t) {
  return readlink_at(dirfd, path, buf, size);
}

namespace vrift::shim {
namespace {

// 1 when path is a managed file (following a final symlink when `follow`), -1 with
// errno set when the answer is an error only the manifest knows (ENOTDIR), 0 otherwise.
int managed_file(const char* path, bool follow) noexcept {
  if (!active()) {
    return 0;
  }
  ManagedFile file;
  return file.resolve(AT_FDCWD, path, follow);
}

}  // namespace
}  // namespace vrift::shim

VRIFT_EXPORT ssize_t getxattr(const char* path, const char* name, void* value, size_t size) {
  if (int found = managed_file(path, true); found != 0) {
    if (found > 0) {
      errno = ENODATA;  // a managed file has no extended attributes
    }
    return -1;
  }
  return real().getxattr(path, name, value, size);
}
VRIFT_EXPORT ssize_t lgetxattr(const char* path, const char* name, void* value, size_t size) {
  if (int found = managed_file(path, false); found != 0) {
    if (found > 0) {
      errno = ENODATA;  // a managed file has no extended attributes
    }
    return -1;
  }
  return real().lgetxattr(path, name, value, size);
}
VRIFT_EXPORT ssize_t listxattr(const char* path, char* list, size_t size) {
  if (int found = managed_file(path, true); found != 0) {
    return found > 0 ? 0 : -1;
  }
  return real().listxattr(path, list, size);
}
VRIFT_EXPORT ssize_t llistxattr(const char* path, char* list, size_t size) {
  if (int found = managed_file(path, false); found != 0) {
    return found > 0 ? 0 : -1;
  }
  return real().llistxattr(path, list, size);
}
