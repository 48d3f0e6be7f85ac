// getdents64 (the libc wrapper and syscall(SYS_getdents64)): the merged directory view
// for programs that read directory fds themselves. The kernel's records come first, as
// readdir shows them (a Solid projection is DT_REG with its virtual inode); once the
// kernel has no more, a project directory's phantom files and virtual directories
// follow, packed into the caller's buffer the way the kernel packs records.
//
// Where the phantom entries have got to is kept per fd, with the directory's (dev, ino)
// so a reused fd number starts afresh. A call that returns physical records again (the
// program rewound with lseek) starts the phantom entries from the beginning again.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "shim/export.hpp"
#include "shim/hooks.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {
namespace {

// The kernel's record layout is struct dirent64's, with d_name cut to the record.
using LinuxDirent64 = struct dirent64;

constexpr int k_max_dir_fds = 1 << 16;
struct Cursor {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t emitted = 0;  // phantom entries returned so far
};
constinit Cursor g_cursors[k_max_dir_fds]{};

// Phantom records' d_off: beyond the offsets ext4 and tmpfs hand out for real entries.
constexpr int64_t k_phantom_off = int64_t{1} << 62;

size_t record_len(size_t name_len) { return (offsetof(LinuxDirent64, d_name) + name_len + 1 + 7) & ~size_t{7}; }

// The project directory fd reads, or false when it is not one.
bool dir_of_fd(int fd, ManagedPath& mp) noexcept {
  char proc[32];
  char path[PATH_MAX];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  ssize_t n = real().readlink(proc, path, sizeof path - 1);
  if (n <= 0) {
    return false;
  }
  path[n] = '\0';
  return classify(AT_FDCWD, path, mp);
}

size_t child_rel(const ManagedPath& dir, const char* name, char* out) noexcept {
  size_t n = std::strlen(name);
  size_t len = 0;
  if (dir.rel_len > 0) {
    std::memcpy(out, dir.rel, dir.rel_len);
    out[dir.rel_len] = '/';
    len = dir.rel_len + 1;
  }
  if (len + n >= PATH_MAX) {
    return 0;
  }
  std::memcpy(out + len, name, n + 1);
  return len + n;
}

// The kernel's records, with managed files shown as readdir shows them.
void overlay_physical(const ManagedPath& dir, char* buf, size_t len) noexcept {
  Lookup lookup;
  for (size_t off = 0; off < len;) {
    auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
    off += d->d_reclen;
    if (d->d_type != DT_LNK && d->d_type != DT_REG && d->d_type != DT_UNKNOWN) {
      continue;
    }
    char rel[PATH_MAX];
    size_t rel_len = child_rel(dir, d->d_name, rel);
    ManagedPath mp;
    manifest::Entry entry;
    struct stat st;
    if (rel_len > 0 && project_path(rel, rel_len, mp) && virtual_stat(mp, lookup, entry, st) == 1) {
      d->d_type = DT_REG;
      d->d_ino = st.st_ino;
    }
  }
}

// Packs phantom records after `cursor.emitted` into buf. Returns the bytes written, or
// -1 with EINVAL when the next record does not fit at all.
long fill_phantoms(int fd, const ManagedPath& dir, Cursor& cursor, char* buf, size_t cap) noexcept {
  Lookup lookup;
  uint64_t index = 0;
  size_t used = 0;
  bool too_small = false;
  for_each_virtual_child(lookup, fd, dir.rel, dir.rel_len, [&](std::string_view name, unsigned char type) {
    const char* cname = name.data();  // NUL-terminated
    if (index++ < cursor.emitted) {
      return true;
    }
    size_t reclen = record_len(name.size());
    if (used + reclen > cap) {
      too_small = used == 0;
      return false;
    }
    auto* d = reinterpret_cast<LinuxDirent64*>(buf + used);
    char rel[PATH_MAX];
    size_t rel_len = child_rel(dir, cname, rel);
    d->d_ino = virtual_ino(rel, rel_len);
    d->d_off = k_phantom_off + static_cast<int64_t>(index);
    d->d_reclen = static_cast<unsigned short>(reclen);
    d->d_type = type;
    std::memset(d->d_name, 0, reclen - offsetof(LinuxDirent64, d_name));
    std::memcpy(d->d_name, cname, name.size());
    used += reclen;
    ++cursor.emitted;
    return true;
  });
  if (too_small) {
    errno = EINVAL;
    return -1;
  }
  return static_cast<long>(used);
}

using RawGetdents = long (*)(int, void*, size_t);

long getdents_merged(int fd, void* buf, size_t count, RawGetdents raw) noexcept {
  long n = raw(fd, buf, count);
  if (n < 0 || !active() || fd < 0 || fd >= k_max_dir_fds) {
    return n;
  }
  Guard guard;
  int saved = errno;
  ManagedPath dir;
  if (!dir_of_fd(fd, dir)) {
    errno = saved;
    return n;
  }
  struct stat st;
  if (real().fstat(fd, &st) != 0) {
    errno = saved;
    return n;
  }
  Cursor& cursor = g_cursors[fd];
  if (cursor.dev != st.st_dev || cursor.ino != st.st_ino || n > 0) {
    cursor = Cursor{st.st_dev, st.st_ino, 0};
  }
  if (n > 0) {
    overlay_physical(dir, static_cast<char*>(buf), static_cast<size_t>(n));
    errno = saved;
    return n;
  }
  if (!g_session.phantom) {
    errno = saved;
    return 0;
  }
  long filled = fill_phantoms(fd, dir, cursor, static_cast<char*>(buf), count);
  if (filled >= 0) {
    errno = saved;
  }
  return filled;
}

long raw_getdents(int fd, void* buf, size_t count) { return real().syscall(SYS_getdents64, fd, buf, count); }
long libc_getdents(int fd, void* buf, size_t count) { return real().getdents64(fd, buf, count); }

}  // namespace

long getdents64_at(int fd, void* buf, size_t count) noexcept { return getdents_merged(fd, buf, count, raw_getdents); }

}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT ssize_t getdents64(int fd, void* buf, size_t count) {
  return getdents_merged(fd, buf, count, libc_getdents);
}
