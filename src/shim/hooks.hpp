#pragma once
// The shared cores of the wrappers, used by more than one family (the syscall()
// dispatcher reuses the stat cores, realpath reuses the resolver).

#include <sys/stat.h>
#include <sys/types.h>

struct statx;

namespace vrift::shim {

using StatxFn = int (*)(int, const char*, int, unsigned int, struct statx*);

int stat_at(int dirfd, const char* path, struct stat* buf, int flags) noexcept;
int stat_fd(int fd, struct stat* buf) noexcept;
int statx_at(int dirfd, const char* path, int flags, unsigned int mask, struct statx* buf, StatxFn real_statx) noexcept;
int access_at(int dirfd, const char* path, int mode, int flags) noexcept;
ssize_t readlink_at(int dirfd, const char* path, char* buf, size_t size) noexcept;
int close_fd(int fd) noexcept;
int close_fd_range(unsigned first, unsigned last, int flags) noexcept;

}  // namespace vrift::shim
