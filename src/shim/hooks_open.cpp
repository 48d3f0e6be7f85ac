// The open family. A managed file opens its blob (Phantom) or its projection (Solid)
// read-only, and the fd is remembered so fstat() answers the virtual stat. An open that
// may write a managed file first breaks it away from its blob (bbw.hpp) and is then
// tracked until its last close, when the file is re-ingested (writes.hpp). Files opened
// for writing in a directory the manifest records (new outputs, files being written by
// another process) are tracked the same way.

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "shim/bbw.hpp"
#include "shim/export.hpp"
#include "shim/fd_paths.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"
#include "shim/writes.hpp"

namespace vrift::shim {

namespace {

constexpr int k_write_intent = O_WRONLY | O_RDWR | O_TRUNC | O_APPEND;
// Flags that keep their meaning when the blob is opened in the file's place.
constexpr int k_kept_flags =
    O_CLOEXEC | O_NONBLOCK | O_NOATIME | O_NOCTTY | O_LARGEFILE | O_DIRECT | O_PATH | O_NOFOLLOW;

bool needs_mode(int flags) { return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE; }

// open_tracked() found the file made a blob while the open waited: decide again.
constexpr int k_open_again = -3;

// What a file just opened for writing looks like if a concurrent ingest (another `vrift
// run` settling its writes) made it a blob between our look at the path and the open,
// which waited on that ingest's write lease meanwhile: a blob has no write permission
// and, in Solid, more than one link. (A plain file like that only costs a second look.)
bool may_be_a_blob(const struct stat& st) { return st.st_nlink > 1 || (st.st_mode & 0222) == 0; }

// Opens the path of a file being written with the caller's flags and tracks the fd. With
// `recheck`, an fd on what may be a blob is closed unwritten and k_open_again returned;
// O_TRUNC waits until then, for it would empty the blob.
int open_tracked(const ManagedPath& mp, int flags, mode_t mode, manifest::Tier tier, bool recheck) noexcept {
  recheck = recheck && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);  // a new file is ours
  bool trunc = recheck && (flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY;
  int fd = real().open(mp.abs, trunc ? flags & ~O_TRUNC : flags, mode);
  if (fd < 0) {
    return -1;
  }
  int saved = errno;
  struct stat st;
  if (real().fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    if (recheck && may_be_a_blob(st)) {
      real().close(fd);
      errno = saved;
      return k_open_again;
    }
    if (trunc && ::ftruncate(fd, 0) != 0) {
      int err = errno;
      real().close(fd);
      errno = err;
      return -1;
    }
    track_write(fd, st.st_dev, st.st_ino, mp.rel, mp.rel_len, tier);
  }
  errno = saved;
  return fd;
}

// Break-before-write, then the caller's open of the now private file.
int open_for_writing(ManagedFile& file, int flags, mode_t mode, bool recheck) noexcept {
  FileFacts facts;
  facts.assign(file.entry);
  file.lookup.release();
  if (!g_session.writable) {
    debug_log("vrift shim: refusing to write %s (the manifest is read-only here)", file.path.abs);
    errno = EROFS;
    return -1;
  }
  if (break_before_write(file.path, facts, (flags & O_TRUNC) != 0) != 0) {
    return -1;
  }
  return open_tracked(file.path, flags & ~(O_EXCL | O_NOFOLLOW), mode, facts.entry.tier, recheck);
}

// Whether a write-intent open of (dirfd, path), a project path that is not a managed
// file, is one to track, and with which tier: when the manifest records the file as
// being written (dirty) or records its directory, so the file is ingested at its last
// close (under `vrift run`, always: see below). Fills `mp`. Call under a Guard.
bool tracks_unmanaged_write(int dirfd, const char* path, ManagedPath& mp, manifest::Tier& tier) noexcept {
  if (!g_session.writable || !classify(dirfd, path, mp) || mp.rel_len == 0 || mp.trailing_slash) {
    return false;
  }
  tier = manifest::Tier::tier2;
  if (g_session.reingest_at_exit) {
    // `vrift run` decides at its end which listed files belong to the projection
    // (project/settle.hpp): a program that only writes new files never opens the
    // manifest. The tier is settled there too.
    return true;
  }
  Lookup lookup;
  manifest::Entry e;
  if (lookup.find(mp.rel, mp.rel_len, e)) {
    tier = e.tier;
    return e.kind == manifest::EntryKind::file && e.dirty();
  }
  size_t parent = mp.rel_len;
  while (parent > 0 && mp.rel[parent - 1] != '/') {
    --parent;
  }
  bool in_managed_dir = parent > 1 && lookup.find(mp.rel, parent - 1, e) && e.kind == manifest::EntryKind::dir;
  tier = e.tier;
  return in_managed_dir;
}

// A write-intent open of a project path that is not a managed file, tracked as
// tracks_unmanaged_write() decides. Returns -2 when the call is not ours.
int open_unmanaged_for_writing(int dirfd, const char* path, int flags, mode_t mode, bool recheck) noexcept {
  Guard guard;
  ManagedPath mp;
  manifest::Tier tier = manifest::Tier::tier2;
  if (!tracks_unmanaged_write(dirfd, path, mp, tier)) {
    return -2;
  }
  return open_tracked(mp, flags, mode, tier, recheck);
}

// A recorded directory, in a session with virtual directories: opened here, so its fd
// shows the directory as the plain tree would (remember_dir_fd()).
int open_recorded_dir(const ManagedPath& mp, int flags, mode_t mode) noexcept {
  int fd = real().openat(AT_FDCWD, mp.abs, flags, mode);
  if (fd >= 0) {
    int saved = errno;
    struct stat st;
    if (real().fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      remember_dir_fd(fd, st);
    }
    errno = saved;
  }
  return fd;
}

// Returns -2 when the call is not ours (the caller then does the real open).
int open_managed(int dirfd, const char* path, int flags, mode_t mode, bool recheck) noexcept {
  ManagedFile file;
  int found = file.resolve(dirfd, path, (flags & O_NOFOLLOW) == 0);
  if (found == 0) {
    return file.notes.dir && (flags & k_write_intent) == 0 && virtual_dirs_session(file.lookup)
               ? open_recorded_dir(file.path, flags, mode)
               : -2;
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
    return open_for_writing(file, flags, mode, recheck);
  }
  // The blob itself when there is no file at the path, or when the path is a Tier-1
  // link that O_NOFOLLOW would refuse (the program sees a regular file there).
  int fd = g_session.phantom || (flags & O_NOFOLLOW) != 0
               ? open_blob(file.entry, flags & k_kept_flags)
               : real().openat(AT_FDCWD, mp.abs, O_RDONLY | (flags & k_kept_flags));
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

// A project path: open_managed(), then for a write open_unmanaged_for_writing(). -2 when
// the call is not ours. A write that found its file made a blob meanwhile decides once
// more: the manifest records the file by then (the ingest committed before letting the
// open go on), so the second time it is broken away from its blob first.
int open_in_project(int dirfd, const char* path, int flags, mode_t mode) noexcept {
  int fd = k_open_again;
  for (int attempt = 0; fd == k_open_again; ++attempt) {
    bool recheck = attempt == 0;
    fd = open_managed(dirfd, path, flags, mode, recheck);
    if (fd == -2 && (flags & k_write_intent) != 0) {
      fd = open_unmanaged_for_writing(dirfd, path, flags, mode, recheck);
    }
  }
  return fd;
}

}  // namespace

int track_opened_write(int dirfd, const char* path, int fd, int flags) noexcept {
  if ((flags & k_write_intent) == 0) {
    return fd;
  }
  int saved = errno;
  Guard guard;
  ManagedPath mp;
  manifest::Tier tier = manifest::Tier::tier2;
  struct stat st;
  if (!tracks_unmanaged_write(dirfd, path, mp, tier) || real().fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    errno = saved;
    return fd;
  }
  if ((flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL) && may_be_a_blob(st)) {
    real().close(fd);  // made a blob while the open waited: decide again (hooks_open)
    errno = saved;
    return -2;
  }
  track_write(fd, st.st_dev, st.st_ino, mp.rel, mp.rel_len, tier);
  errno = saved;
  return fd;
}

// What a projection looks like from outside: a read-only regular file with more than
// one link (a blob, through a hardlink or a Tier-1 symlink followed). Judged without the
// manifest and without the shim's cwd cache, which the child must not touch either.
bool vfork_child_refuses(int dirfd, const char* path, int flags) noexcept {
  if ((flags & k_write_intent) == 0 || path == nullptr || caller() != Caller::vfork_child) {
    return false;
  }
  struct stat st;
  int saved = errno;
  int rc = real().fstatat(dirfd, path, &st, (flags & O_NOFOLLOW) != 0 ? AT_SYMLINK_NOFOLLOW : 0);
  errno = saved;
  if (rc != 0 || !S_ISREG(st.st_mode) || st.st_nlink < 2 || (st.st_mode & 0222) != 0) {
    return false;
  }
  errno = EROFS;
  return true;
}

namespace {

int open_once(int dirfd, const char* path, int flags, mode_t mode, bool is_at) noexcept {
  Caller who = caller();
  if (who == Caller::shim) {
    // Files LMDB opens from inside a lookup move above the program's descriptors.
    return relocate_shim_fd(is_at ? real().openat(dirfd, path, flags, mode) : real().open(path, flags, mode));
  }
  if (who == Caller::vfork_child && vfork_child_refuses(dirfd, path, flags)) {
    return -1;
  }
  if (who == Caller::program && active() && !clearly_outside(path)) {
    int fd = open_in_project(dirfd, path, flags, mode);
    if (fd != -2) {
      return fd;
    }
  }
  return is_at ? real().openat(dirfd, path, flags, mode) : real().open(path, flags, mode);
}

// open_once(), again when it could not create a file because its directory is virtual.
int do_open(int dirfd, const char* path, int flags, mode_t mode, bool is_at) noexcept {
  int fd = open_once(dirfd, path, flags, mode, is_at);
  if (fd < 0 && errno == ENOENT && (flags & O_CREAT) != 0 && caller() == Caller::program &&
      made_parent_of(dirfd, path)) {
    fd = open_once(dirfd, path, flags, mode, is_at);
  }
  return fd;
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
  if (path == nullptr || mode == nullptr || !fopen_flags(mode, flags)) {
    return -2;
  }
  if (!active()) {
    return vfork_child_refuses(AT_FDCWD, path, flags) ? -1 : -2;
  }
  return open_in_project(AT_FDCWD, path, flags, 0666);
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

namespace vrift::shim {
namespace {

FILE* fopen_once(const char* path, const char* mode) noexcept {
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

}  // namespace
}  // namespace vrift::shim

VRIFT_EXPORT FILE* fopen(const char* path, const char* mode) {
  FILE* f = fopen_once(path, mode);
  if (f == nullptr && errno == ENOENT && mode != nullptr && mode[0] != 'r' && made_parent_of(AT_FDCWD, path)) {
    f = fopen_once(path, mode);  // its directory was virtual (do_open())
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
  if (f != nullptr) {
    copy_fd(fd, ::fileno(f));
    tracked_dup(fd, ::fileno(f));
  }
  ::close(fd);
  errno = saved;
  return f;
}

VRIFT_EXPORT FILE* freopen64(const char* path, const char* mode, FILE* stream) { return freopen(path, mode, stream); }

// Duplicates carry the managed file's entry, so fstat of any of them agrees.
VRIFT_EXPORT int dup(int fd) {
  int to = real().dup(fd);
  if (to >= 0 && caller() == Caller::program) {
    copy_fd(fd, to);
    tracked_dup(fd, to);
  }
  return to;
}

// dup2 and dup3 close `to` first when it is open: that may be the last close of a file
// being written.
VRIFT_EXPORT int dup2(int fd, int to) {
  int rc = real().dup2(fd, to);
  if (rc >= 0 && fd != to && caller() == Caller::program) {
    copy_fd(fd, rc);
    fd_closed(rc);
    tracked_dup(fd, rc);
  }
  return rc;
}

VRIFT_EXPORT int dup3(int fd, int to, int flags) {
  int rc = real().dup3(fd, to, flags);
  if (rc >= 0 && caller() == Caller::program) {
    copy_fd(fd, rc);
    fd_closed(rc);
    tracked_dup(fd, rc);
  }
  return rc;
}

namespace vrift::shim {
namespace {

int fcntl_impl(int (*real_fcntl)(int, int, ...), int fd, int cmd, va_list ap) {
  // Every fcntl command takes at most one argument, an int or a pointer.
  void* arg = va_arg(ap, void*);
  int rc = real_fcntl(fd, cmd, arg);
  if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && caller() == Caller::program) {
    copy_fd(fd, rc);
    tracked_dup(fd, rc);
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

VRIFT_EXPORT int creat(const char* path, mode_t mode) { return do_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode, false); }
VRIFT_EXPORT int creat64(const char* path, mode_t mode) {
  return do_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_LARGEFILE, mode, false);
}

namespace vrift::shim {
namespace {

// mkstemp and friends, on the wrapped open: glibc's own versions open internally, and a
// temp file made beside a managed file (sed -i, python, git) must be tracked like any
// other new file there.
int make_temp(char* tmpl, int suffix_len, int flags) noexcept {
  static constexpr char k_letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  size_t len = tmpl != nullptr ? std::strlen(tmpl) : 0;
  if (suffix_len < 0 || len < 6 + static_cast<size_t>(suffix_len) ||
      std::memcmp(tmpl + len - suffix_len - 6, "XXXXXX", 6) != 0) {
    errno = EINVAL;
    return -1;
  }
  char* x = tmpl + len - suffix_len - 6;
  uint64_t seed = 0;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (seed < 62ull * 62 * 62 * 62 * 62 * 62) {
      struct timespec now;
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      seed = (static_cast<uint64_t>(now.tv_nsec) * 0x9E3779B97F4A7C15ull) ^ (static_cast<uint64_t>(::getpid()) << 32) ^
             static_cast<uint64_t>(attempt) * 7919;
    }
    for (int i = 0; i < 6; ++i) {
      x[i] = k_letters[seed % 62];
      seed /= 62;
    }
    int fd = do_open(AT_FDCWD, tmpl, (flags & ~O_ACCMODE) | O_RDWR | O_CREAT | O_EXCL, 0600, false);
    if (fd >= 0 || errno != EEXIST) {
      return fd;
    }
  }
  errno = EEXIST;
  return -1;
}

}  // namespace
}  // namespace vrift::shim

VRIFT_EXPORT int mkstemp(char* tmpl) { return make_temp(tmpl, 0, 0); }
VRIFT_EXPORT int mkstemp64(char* tmpl) { return make_temp(tmpl, 0, O_LARGEFILE); }
VRIFT_EXPORT int mkostemp(char* tmpl, int flags) { return make_temp(tmpl, 0, flags); }
VRIFT_EXPORT int mkostemp64(char* tmpl, int flags) { return make_temp(tmpl, 0, flags | O_LARGEFILE); }
VRIFT_EXPORT int mkstemps(char* tmpl, int suffix_len) { return make_temp(tmpl, suffix_len, 0); }
VRIFT_EXPORT int mkstemps64(char* tmpl, int suffix_len) { return make_temp(tmpl, suffix_len, O_LARGEFILE); }
VRIFT_EXPORT int mkostemps(char* tmpl, int suffix_len, int flags) { return make_temp(tmpl, suffix_len, flags); }
VRIFT_EXPORT int mkostemps64(char* tmpl, int suffix_len, int flags) {
  return make_temp(tmpl, suffix_len, flags | O_LARGEFILE);
}
