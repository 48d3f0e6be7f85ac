#pragma once
// The shared cores of the wrappers, used by more than one family (the syscall()
// dispatcher reuses the stat cores, realpath reuses the resolver).

#include <sys/stat.h>
#include <sys/types.h>

struct statx;
struct open_how;

namespace vrift::shim {

using StatxFn = int (*)(int, const char*, int, unsigned int, struct statx*);

int stat_at(int dirfd, const char* path, struct stat* buf, int flags) noexcept;
int stat_fd(int fd, struct stat* buf) noexcept;
int statx_at(int dirfd, const char* path, int flags, unsigned int mask, struct statx* buf, StatxFn real_statx) noexcept;
int access_at(int dirfd, const char* path, int mode, int flags) noexcept;
ssize_t readlink_at(int dirfd, const char* path, char* buf, size_t size) noexcept;
int close_fd(int fd) noexcept;
int close_fd_range(unsigned first, unsigned last, int flags) noexcept;
long getdents64_at(int fd, void* buf, size_t count) noexcept;  // syscall(SYS_getdents64)
long openat2_at(int dirfd, const char* path, const struct open_how* how, size_t size) noexcept;  // SYS_openat2
// `fd`, just opened on (dirfd, path) with `flags` by a call the shim did not resolve (a
// project path that is not a managed file), tracked as a file being written when the
// open(2) family would have tracked it. -2, with `fd` closed, when the file turned out
// to be a blob (a concurrent ingest): the caller opens again through openat().
int track_opened_write(int dirfd, const char* path, int fd, int flags) noexcept;
// In a vfork child (state.hpp): true, with errno EROFS, for a write-intent open (or a
// truncate) of a project file that may be a projection. The child cannot break it away
// first (that needs the manifest), and as root the write would reach the blob.
bool vfork_child_refuses(int dirfd, const char* path, int flags) noexcept;
// After a directory call (opendir, chdir) failed with ENOENT on (dirfd, path): ENOTDIR
// when the path is a managed file or lies below one, as the kernel says for real files.
// True when the path was a virtual directory, made physical now: call again.
bool directory_errno(int dirfd, const char* path) noexcept;
// /proc/self/exe of a phantom executable run from its blob: when `target` (what the
// kernel says, n bytes) is that blob, its project path into out (cap); else 0.
size_t exe_project_path(const char* target, size_t n, char* out, size_t cap) noexcept;

}  // namespace vrift::shim
