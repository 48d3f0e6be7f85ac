#pragma once
// The project path behind each descriptor the shim opened on a managed file, so that
// readlink("/proc/self/fd/N") and realpath() of it name the project path, not the blob
// The Source holds (tools print it; some find sibling files through it).
//
// Entries are keyed by fd and carry the real (device, inode) the fd was opened on: a
// lookup checks fstat(fd) against them, so a reused fd number is never misreported and
// no close() bookkeeping is needed. Storage is reserved per 1024 fds on first use
// (mmap, not malloc: callable from any wrapper), one page touched per fd in use.

#include <sys/types.h>

#include <cstddef>

namespace vrift::shim {

// fd was opened by the shim on the real inode (dev, ino) for the project path abs.
void remember_fd_path(int fd, dev_t dev, ino_t ino, const char* abs, size_t len) noexcept;

// fd `to` now refers to what `from` does (dup and friends).
void copy_fd_path(int from, int to) noexcept;

// The project path of fd into out (cap bytes, NUL-terminated): its length, or 0 when fd
// is not a managed file the shim opened (or no longer the inode it opened). Keeps errno.
size_t fd_project_path(int fd, char* out, size_t cap) noexcept;

// When `link` names a descriptor of this process ("/proc/self/fd/N",
// "/proc/thread-self/fd/N", "/proc/<own pid>/fd/N", "/dev/fd/N"): N; else -1.
int proc_fd_number(const char* link) noexcept;

// What follows "/proc/self/", "/proc/thread-self/" or "/proc/<own pid>/" in link, or
// nullptr when link is not below one of those.
const char* proc_self_rest(const char* link) noexcept;

}  // namespace vrift::shim
