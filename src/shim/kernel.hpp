#pragma once
// The kernel's answer to the calls the shim makes before it looks at a path (stat,
// statx and access on paths outside the project by their prefix): 0 or more, or
// -errno, with errno left as it was. The caller sets errno only when that answer is the
// one it returns, so a call whose answer the shim replaces leaves the caller's errno
// alone without saving it first.
//
// When the next definition of the libc function is libc's own (nothing else is
// preloaded between), the shim makes the system call itself, as libc's wrapper would
// (glibc 2.36 on x86-64: one newfstatat, statx or faccessat, nothing else), sparing the
// call through the real table, the wrapper and the errno round trip: most calls of a
// session are such calls. When another interposer comes next (fakeroot, a sanitizer),
// its definition is called, so what it changes still reaches the program.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cerrno>

#include "shim/hooks.hpp"
#include "shim/real.hpp"

namespace vrift::shim {

// Which calls go to the kernel directly: set once while the shim initializes
// (direct_kernel_calls()), before any wrapper takes a path past active().
struct DirectCalls {
  bool fstatat = false;
  bool statx = false;      // libc's statx and libc's syscall() both
  bool faccessat = false;
};
extern DirectCalls g_direct;

// Looks up the real fstatat, statx, syscall and faccessat (filling their entries of the
// real table, as their first calls would) and where they live, and fills g_direct.
void direct_kernel_calls() noexcept;

namespace kernel {

#if defined(__x86_64__)
inline long syscall4(long number, long a0, long a1, long a2, long a3) noexcept {
  long rc;
  register long r10 __asm__("r10") = a3;  // the fourth argument's register
  __asm__ volatile("syscall"
                   : "=a"(rc)
                   : "0"(number), "D"(a0), "S"(a1), "d"(a2), "r"(r10)
                   : "rcx", "r11", "memory");
  return rc;
}

inline long syscall5(long number, long a0, long a1, long a2, long a3, long a4) noexcept {
  long rc;
  register long r10 __asm__("r10") = a3;
  register long r8 __asm__("r8") = a4;
  __asm__ volatile("syscall"
                   : "=a"(rc)
                   : "0"(number), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8)
                   : "rcx", "r11", "memory");
  return rc;
}
#define VRIFT_DIRECT_KERNEL 1
#else
#define VRIFT_DIRECT_KERNEL 0
#endif

// A libc-style result (-1 with errno) as 0-or-more / -errno, errno as it was before.
inline int as_result(int rc, int saved_errno) noexcept {
  if (rc >= 0) {
    return rc;
  }
  rc = -errno;
  errno = saved_errno;
  return rc;
}

inline int fstatat(int dirfd, const char* path, struct stat* buf, int flags) noexcept {
#if VRIFT_DIRECT_KERNEL
  if (g_direct.fstatat) {
    return static_cast<int>(syscall4(SYS_newfstatat, dirfd, reinterpret_cast<long>(path),
                                     reinterpret_cast<long>(buf), flags));
  }
#endif
  int saved = errno;
  return as_result(real().fstatat(dirfd, path, buf, flags), saved);
}

// `next` is the statx this call would otherwise make (libc's, or syscall(SYS_statx)).
inline int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* buf, StatxFn next) noexcept {
#if VRIFT_DIRECT_KERNEL
  if (g_direct.statx) {
    long rc = syscall5(SYS_statx, dirfd, reinterpret_cast<long>(path), flags, mask, reinterpret_cast<long>(buf));
    if (rc != -ENOSYS) {  // libc would fall back to fstatat; so does `next`
      return static_cast<int>(rc);
    }
  }
#endif
  int saved = errno;
  return as_result(next(dirfd, path, flags, mask, buf), saved);
}

// access() and faccessat() without flags, which libc passes to one faccessat call; with
// flags libc may emulate them, so they go through it.
inline int faccessat(int dirfd, const char* path, int mode, int flags) noexcept {
#if VRIFT_DIRECT_KERNEL
  if (g_direct.faccessat && flags == 0) {
    return static_cast<int>(syscall4(SYS_faccessat, dirfd, reinterpret_cast<long>(path), mode, 0));
  }
#endif
  int saved = errno;
  return as_result(real().faccessat(dirfd, path, mode, flags), saved);
}

// Returns a kernel answer to the caller the libc way: -1 with errno, or the result.
inline int to_caller(int rc) noexcept {
  if (rc >= 0) {
    return rc;
  }
  errno = -rc;
  return -1;
}

}  // namespace kernel
}  // namespace vrift::shim
