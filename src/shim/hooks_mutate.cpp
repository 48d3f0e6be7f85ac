// Calls that change a path rather than its bytes. Each keeps the manifest true:
//   unlink/remove/rmdir  the entry goes (a whiteout hides what base had); a Phantom
//                        file, which is not on disk, is removed from the manifest only
//   rename               entries move, a directory's with all of its subtree; a Phantom
//                        file moves in the manifest only; a file renamed over a managed
//                        path (sed -i, editors, git: write a temp, rename it over) is
//                        ingested at its new path
//   mkdir                recorded, so files created below it are ingested too
//   link/symlink         the new path gets its own entry
//   chmod                break-before-write then re-ingest: the exec bit is part of a
//                        blob's identity, and a blob's mode never changes
//   utimes               the manifest's mtime only (a blob's times never change)
//   chown                accepted and ignored: a managed file belongs to the session user
//   truncate             break-before-write, then re-ingest
// Paths that leave the project with a link to a blob would let a write outside the
// session reach it: rename and link of a managed file across the project boundary
// fail with EXDEV, so `mv` and `cp -l` fall back to copying, as across filesystems.

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <cerrno>
#include <cstring>

#include "shim/bbw.hpp"
#include "shim/delta.hpp"
#include "shim/export.hpp"
#include "shim/hooks.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"
#include "shim/writes.hpp"

namespace vrift::shim {
namespace {

using manifest::Entry;
using manifest::EntryKind;

// A project path and what the manifest has at it, copied out of the snapshot.
struct Target {
  ManagedPath mp;
  bool found = false;      // an entry (any kind) is recorded at the path
  FileFacts facts;         // the entry
  bool on_disk = false;    // lstat finds the path
  struct stat disk{};
  // The parent directory is recorded, or the path is a projected directory of the
  // project (made anew after `rm -rf`: recorded again, as though its parent were).
  bool parent_managed = false;
  manifest::Tier parent_tier = manifest::Tier::tier2;

  bool managed_file() const noexcept { return found && facts.entry.kind == EntryKind::file; }
  // A file only the manifest has (Phantom): the kernel knows nothing of it.
  bool virtual_only() const noexcept { return managed_file() && !on_disk; }
  bool managed() const noexcept { return found || parent_managed; }
};

size_t parent_len(const ManagedPath& mp) noexcept {
  size_t n = mp.rel_len;
  while (n > 0 && mp.rel[n - 1] != '/') {
    --n;
  }
  return n > 0 ? n - 1 : 0;
}

// Fills `t` for (dirfd, path). False when the path is not the project's (or is its root).
bool look(int dirfd, const char* path, Target& t) noexcept {
  if (!classify(dirfd, path, t.mp) || t.mp.rel_len == 0) {
    return false;
  }
  Lookup lookup;
  Entry e;
  if (lookup.find(t.mp.rel, t.mp.rel_len, e)) {
    t.found = true;
    t.facts.assign(e);
  }
  size_t plen = parent_len(t.mp);
  if (plen > 0 && lookup.find(t.mp.rel, plen, e) && e.kind == EntryKind::dir) {
    t.parent_managed = true;
    t.parent_tier = e.tier;
  } else if (!t.found && lookup.projected_dir(t.mp.rel, t.mp.rel_len, t.parent_tier)) {
    t.parent_managed = true;
  }
  lookup.release();
  int saved = errno;
  t.on_disk = real().fstatat(AT_FDCWD, t.mp.abs, &t.disk, AT_SYMLINK_NOFOLLOW) == 0;
  if (!t.on_disk && g_session.phantom && (t.found || t.parent_managed)) {
    // A change to a virtual directory, or to an entry of one, happens on disk (vfs.hpp).
    if (t.found && t.facts.entry.kind == EntryKind::dir) {
      Lookup again;
      hydrate_dir(again, t.mp.rel, t.mp.rel_len);
      t.on_disk = real().fstatat(AT_FDCWD, t.mp.abs, &t.disk, AT_SYMLINK_NOFOLLOW) == 0;
    } else {
      hydrate_parent(t.mp);
    }
  }
  errno = saved;
  return true;
}

// Whether a path lies below a projected directory (though its parent is not recorded).
bool below_projected_dir(const ManagedPath& mp) noexcept {
  Lookup lookup;
  manifest::Tier tier;
  return lookup.projected_dir(mp.rel, mp.rel_len, tier, true);
}

// The kernel's answer for removing an entry of a directory it cannot see into: the
// directory must be writable (and searchable) by the caller.
int check_dir_writable(const ManagedPath& mp) noexcept {
  char dir[PATH_MAX];
  size_t n = mp.abs_len;
  while (n > 1 && mp.abs[n - 1] != '/') {
    --n;
  }
  std::memcpy(dir, mp.abs, n);
  dir[n > 1 ? n - 1 : 1] = '\0';
  return real().faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS);
}

// Whether a directory has children only the manifest has (Phantom files, virtual
// directories).
bool has_virtual_children(const ManagedPath& mp) noexcept {
  Lookup lookup;
  bool any = false;
  int dfd = real().open(mp.abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    return false;  // not a directory the kernel can list: rmdir answers for itself
  }
  for_each_virtual_child(lookup, dfd, mp.rel, mp.rel_len, [&](std::string_view, unsigned char) {
    any = true;
    return false;
  });
  real().close(dfd);
  return any;
}

int fail(int err) noexcept {
  errno = err;
  return -1;
}

// The file now at `t` (put there by rename or link from an unrecorded file) is ingested.
void ingest_arrival(const Target& t) noexcept {
  struct stat st;
  if (real().fstatat(AT_FDCWD, t.mp.abs, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
    manifest::Tier tier = t.managed_file() ? t.facts.entry.tier : t.parent_tier;
    reingest(t.mp.rel, t.mp.rel_len, st.st_dev, st.st_ino, tier);
  }
}

int unlink_at(int dirfd, const char* path, int flags) noexcept {
  if (!active()) {
    return real().unlinkat(dirfd, path, flags);
  }
  Guard guard;
  Target t;
  if (!look(dirfd, path, t) || !t.found) {
    return real().unlinkat(dirfd, path, flags);
  }
  if ((flags & AT_REMOVEDIR) != 0) {
    if (t.virtual_only()) {
      return fail(ENOTDIR);
    }
    if (t.on_disk && S_ISDIR(t.disk.st_mode) && has_virtual_children(t.mp)) {
      return fail(ENOTEMPTY);
    }
  } else if (t.virtual_only()) {
    if (t.mp.trailing_slash) {
      return fail(ENOTDIR);
    }
    if (check_dir_writable(t.mp) != 0) {
      return -1;
    }
    if (!g_session.writable) {
      return fail(EROFS);
    }
    return commit_erase(t.mp.rel, t.mp.rel_len) ? 0 : fail(EIO);
  }
  int rc = real().unlinkat(AT_FDCWD, t.mp.abs, flags);
  if (rc == 0) {
    int saved = errno;
    commit_erase(t.mp.rel, t.mp.rel_len);
    errno = saved;
  }
  return rc;
}

int rename_at(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, unsigned flags) noexcept {
  if (!active()) {
    return real().renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
  }
  Guard guard;
  Target from;
  Target to;
  bool from_ours = look(olddirfd, oldpath, from);
  bool to_ours = look(newdirfd, newpath, to);
  if (!from_ours && !to_ours) {
    return real().renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
  }
  const char* old_abs = from_ours ? from.mp.abs : oldpath;
  const char* new_abs = to_ours ? to.mp.abs : newpath;
  int old_dir = from_ours ? AT_FDCWD : olddirfd;
  int new_dir = to_ours ? AT_FDCWD : newdirfd;
  // Out of the project: a managed file (or a directory holding some) would take a link
  // to a blob, or a Phantom file that is not on disk, with it.
  if (from_ours && from.found && !to_ours) {
    return fail(EXDEV);
  }
  if ((flags & RENAME_NOREPLACE) != 0 && (to.on_disk || to.managed_file())) {
    return fail(EEXIST);
  }
  if ((flags & RENAME_EXCHANGE) != 0 && (from.virtual_only() || to.virtual_only())) {
    return fail(EINVAL);  // not supported for files only the manifest has
  }
  if (from.virtual_only()) {
    if (to.on_disk && S_ISDIR(to.disk.st_mode)) {
      return fail(EISDIR);
    }
    if (check_dir_writable(from.mp) != 0 || check_dir_writable(to.mp) != 0) {
      return -1;
    }
    if (!g_session.writable) {
      return fail(EROFS);
    }
    if (to.on_disk && real().unlink(to.mp.abs) != 0) {
      return -1;
    }
    return commit_move(from.mp.rel, from.mp.rel_len, to.mp.rel, to.mp.rel_len) ? 0 : fail(EIO);
  }
  if (to.on_disk && S_ISDIR(to.disk.st_mode) && has_virtual_children(to.mp)) {
    return fail(ENOTEMPTY);
  }
  int rc = real().renameat2(old_dir, old_abs, new_dir, new_abs, flags);
  if (rc != 0) {
    return rc;
  }
  int saved = errno;
  if (from_ours) {
    tracked_rename(from.mp.rel, from.mp.rel_len, to.mp.rel, to.mp.rel_len);
  }
  struct stat now;
  bool dir_arrived = (flags & RENAME_EXCHANGE) == 0 && to.managed() &&
                     real().fstatat(AT_FDCWD, to.mp.abs, &now, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(now.st_mode);
  if ((flags & RENAME_EXCHANGE) != 0) {
    // Both stay on disk; each path now holds what the other had: re-ingest both.
    if (to.managed()) {
      ingest_arrival(to);
    }
    if (from.managed()) {
      ingest_arrival(from);
    }
  } else if (from_ours && from.found) {
    commit_move(from.mp.rel, from.mp.rel_len, to.mp.rel, to.mp.rel_len);
  } else if (dir_arrived) {
    // A directory made under a temporary name (cargo makes target/ so), or moved in:
    // recorded now, so what is written below it from now on is too.
    commit_dir(to.mp.rel, to.mp.rel_len, now.st_mode,
               static_cast<int64_t>(now.st_mtim.tv_sec) * 1000000000 + now.st_mtim.tv_nsec, to.parent_tier);
  } else if (to.managed()) {
    ingest_arrival(to);  // an unrecorded file arrived (a temp renamed over, or moved in)
  }
  if (dir_arrived) {
    directory_arrived(to.mp.rel, to.mp.rel_len);  // what it holds (rustc renames its incremental sessions)
  }
  errno = saved;
  return 0;
}

int mkdir_at(int dirfd, const char* path, mode_t mode) noexcept {
  if (!active()) {
    return real().mkdirat(dirfd, path, mode);
  }
  Guard guard;
  Target t;
  // Phantom: look() first, so a virtual directory at the path (EEXIST) or holding it is
  // on disk when the kernel is asked.
  bool ours = g_session.phantom && look(dirfd, path, t);
  int rc = real().mkdirat(dirfd, path, mode);
  if (rc != 0) {
    return rc;
  }
  int saved = errno;
  struct stat st;
  if (ours || look(dirfd, path, t)) {
    if (t.parent_managed && real().fstatat(AT_FDCWD, t.mp.abs, &st, 0) == 0) {
      commit_dir(t.mp.rel, t.mp.rel_len, st.st_mode,
                 static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, t.parent_tier);
    } else if (!t.parent_managed && below_projected_dir(t.mp)) {
      unrecorded_parent(t.mp.rel, t.mp.rel_len);
    }
  }
  errno = saved;
  return 0;
}

int link_at(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags) noexcept {
  if (!active()) {
    return real().linkat(olddirfd, oldpath, newdirfd, newpath, flags);
  }
  Guard guard;
  Target from;
  Target to;
  bool from_ours = look(olddirfd, oldpath, from);
  bool to_ours = look(newdirfd, newpath, to);
  if (!from_ours || !from.managed_file()) {
    int rc = real().linkat(olddirfd, oldpath, newdirfd, newpath, flags);
    if (rc == 0 && to_ours && to.managed()) {
      int saved = errno;
      ingest_arrival(to);
      errno = saved;
    }
    return rc;
  }
  if (!to_ours) {
    return fail(EXDEV);  // a link to a blob must not leave the project
  }
  if (to.on_disk || to.managed_file()) {
    return fail(EEXIST);
  }
  if (!from.virtual_only()) {
    if (real().linkat(AT_FDCWD, from.mp.abs, AT_FDCWD, to.mp.abs, flags) != 0) {
      return -1;
    }
  } else if (check_dir_writable(to.mp) != 0) {
    return -1;
  }
  // The new name gets an entry of its own: a later write to either breaks it away.
  return commit_entry(to.mp.rel, to.mp.rel_len, from.facts.entry) ? 0 : fail(EIO);
}

int symlink_at(const char* target, int dirfd, const char* path) noexcept {
  int rc = real().symlinkat(target, dirfd, path);
  if (rc != 0 && errno == ENOENT && made_parent_of(dirfd, path)) {
    rc = real().symlinkat(target, dirfd, path);  // its directory was virtual
  }
  if (rc != 0 || !active()) {
    return rc;
  }
  Guard guard;
  int saved = errno;
  Target t;
  size_t target_len = std::strlen(target);
  bool ours = look(dirfd, path, t);
  if (ours && !t.parent_managed) {
    if (below_projected_dir(t.mp)) {
      unrecorded_parent(t.mp.rel, t.mp.rel_len);
    }
  } else if (ours && target_len > 0 && target_len <= manifest::k_max_target) {
    Entry e;
    e.kind = EntryKind::symlink;
    e.tier = t.parent_tier;
    e.mode = S_IFLNK | 0777;
    e.mtime_ns = static_cast<int64_t>(t.disk.st_mtim.tv_sec) * 1000000000 + t.disk.st_mtim.tv_nsec;
    e.target = std::string_view(target, target_len);
    commit_entry(t.mp.rel, t.mp.rel_len, e);
  }
  errno = saved;
  return 0;
}

// Break-before-write of a managed file reached by path, then `change` on the private
// file, then re-ingest. Returns -2 when the path is not a managed file.
// Resolves the managed file a change is about: 1 with its entry copied into `facts` and
// the read snapshot ended (the change writes the manifest), -2 when the path is not a
// managed file, -1 with errno.
int resolve_for_change(ManagedFile& file, int dirfd, const char* path, bool follow, FileFacts& facts) noexcept {
  int found = file.resolve(dirfd, path, follow);
  if (found <= 0) {
    return found == 0 ? -2 : -1;
  }
  facts.assign(file.entry);
  file.lookup.release();
  return 1;
}

template <class Change>
int change_managed(int dirfd, const char* path, bool follow, bool truncate, Change&& change) noexcept {
  ManagedFile file;
  FileFacts facts;
  if (int found = resolve_for_change(file, dirfd, path, follow, facts); found != 1) {
    return found;
  }
  if (break_before_write(file.path, facts, truncate) != 0) {
    return -1;
  }
  int rc = change(file.path.abs);
  int saved = errno;
  struct stat st;
  if (real().fstatat(AT_FDCWD, file.path.abs, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    reingest(file.path.rel, file.path.rel_len, st.st_dev, st.st_ino, facts.entry.tier);
  }
  errno = saved;
  return rc;
}

int chmod_at(int dirfd, const char* path, mode_t mode, int flags) noexcept {
  if (active()) {
    int rc = change_managed(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0, false,
                            [&](const char* abs) { return real().fchmodat(AT_FDCWD, abs, mode, 0); });
    if (rc != -2) {
      return rc;
    }
  }
  return real().fchmodat(dirfd, path, mode, flags);
}

int truncate_path(const char* path, off_t length) noexcept {
  if (vfork_child_refuses(AT_FDCWD, path, O_WRONLY)) {
    return -1;
  }
  if (active()) {
    int rc = change_managed(AT_FDCWD, path, true, length == 0,
                            [&](const char* abs) { return real().truncate(abs, length); });
    if (rc != -2) {
      return rc;
    }
  }
  return real().truncate(path, length);
}

int64_t now_ns() noexcept {
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

// The new mtime utimensat() asks for; false when the mtime is left alone.
bool requested_mtime(const struct timespec* times, int64_t& out) noexcept {
  if (times == nullptr || times[1].tv_nsec == UTIME_NOW) {
    out = now_ns();
    return true;
  }
  if (times[1].tv_nsec == UTIME_OMIT) {
    return false;
  }
  out = static_cast<int64_t>(times[1].tv_sec) * 1000000000 + times[1].tv_nsec;
  return true;
}

// utimensat on a managed file sets the manifest's mtime. Returns -2 when not ours.
int utimens_managed(int dirfd, const char* path, const struct timespec* times, int flags) noexcept {
  ManagedFile file;
  FileFacts facts;
  if (int found = resolve_for_change(file, dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0, facts); found != 1) {
    return found;
  }
  int64_t mtime = 0;
  if (!requested_mtime(times, mtime)) {
    return 0;
  }
  if (!g_session.writable) {
    return fail(EROFS);
  }
  facts.entry.mtime_ns = mtime;
  return commit_entry(file.path.rel, file.path.rel_len, facts.entry) ? 0 : fail(EIO);
}

int utimens_at(int dirfd, const char* path, const struct timespec* times, int flags) noexcept {
  if (path != nullptr && active()) {
    int rc = utimens_managed(dirfd, path, times, flags);
    if (rc != -2) {
      return rc;
    }
  }
  return real().utimensat(dirfd, path, times, flags);
}

// Whether fd is a read descriptor vrift opened on a blob (metadata changes through it
// would reach the blob).
bool blob_fd(int fd) noexcept {
  struct stat st;
  if (real().fstat(fd, &st) != 0) {
    return false;
  }
  struct stat virt;
  return fd_virtual_stat(fd, st.st_dev, st.st_ino, virt);
}

int owned_managed(int dirfd, const char* path, int flags) noexcept {
  ManagedFile file;
  int found = file.resolve(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0);
  return found == 1 ? 0 : (found == 0 ? -2 : -1);
}

}  // namespace
}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int unlink(const char* path) { return unlink_at(AT_FDCWD, path, 0); }
VRIFT_EXPORT int unlinkat(int dirfd, const char* path, int flags) { return unlink_at(dirfd, path, flags); }
VRIFT_EXPORT int rmdir(const char* path) { return unlink_at(AT_FDCWD, path, AT_REMOVEDIR); }

// glibc's remove() calls its internal unlink and rmdir, past the wrappers.
VRIFT_EXPORT int remove(const char* path) {
  int rc = unlink_at(AT_FDCWD, path, 0);
  if (rc != 0 && errno == EISDIR) {
    rc = unlink_at(AT_FDCWD, path, AT_REMOVEDIR);
  }
  return rc;
}

VRIFT_EXPORT int rename(const char* from, const char* to) { return rename_at(AT_FDCWD, from, AT_FDCWD, to, 0); }
VRIFT_EXPORT int renameat(int fromfd, const char* from, int tofd, const char* to) {
  return rename_at(fromfd, from, tofd, to, 0);
}
VRIFT_EXPORT int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned int flags) {
  return rename_at(fromfd, from, tofd, to, flags);
}

VRIFT_EXPORT int mkdir(const char* path, mode_t mode) { return mkdir_at(AT_FDCWD, path, mode); }
VRIFT_EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) { return mkdir_at(dirfd, path, mode); }

VRIFT_EXPORT int link(const char* from, const char* to) { return link_at(AT_FDCWD, from, AT_FDCWD, to, 0); }
VRIFT_EXPORT int linkat(int fromfd, const char* from, int tofd, const char* to, int flags) {
  return link_at(fromfd, from, tofd, to, flags);
}
VRIFT_EXPORT int symlink(const char* target, const char* path) { return symlink_at(target, AT_FDCWD, path); }
VRIFT_EXPORT int symlinkat(const char* target, int dirfd, const char* path) { return symlink_at(target, dirfd, path); }

VRIFT_EXPORT int chmod(const char* path, mode_t mode) { return chmod_at(AT_FDCWD, path, mode, 0); }
VRIFT_EXPORT int fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
  return chmod_at(dirfd, path, mode, flags);
}
VRIFT_EXPORT int fchmod(int fd, mode_t mode) {
  if (active() && blob_fd(fd)) {
    errno = EPERM;  // a read descriptor on a blob: the blob's mode never changes
    return -1;
  }
  return real().fchmod(fd, mode);
}

VRIFT_EXPORT int truncate(const char* path, off_t length) { return truncate_path(path, length); }
VRIFT_EXPORT int truncate64(const char* path, off64_t length) { return truncate_path(path, static_cast<off_t>(length)); }

VRIFT_EXPORT int utimensat(int dirfd, const char* path, const struct timespec times[2], int flags) {
  return utimens_at(dirfd, path, times, flags);
}
VRIFT_EXPORT int futimens(int fd, const struct timespec times[2]) {
  if (active() && blob_fd(fd)) {
    errno = EPERM;
    return -1;
  }
  return real().futimens(fd, times);
}
VRIFT_EXPORT int utimes(const char* path, const struct timeval times[2]) {
  if (times == nullptr) {
    return utimens_at(AT_FDCWD, path, nullptr, 0);
  }
  struct timespec ts[2];
  for (int i = 0; i < 2; ++i) {
    ts[i].tv_sec = times[i].tv_sec;
    ts[i].tv_nsec = times[i].tv_usec * 1000;
  }
  return utimens_at(AT_FDCWD, path, ts, 0);
}
VRIFT_EXPORT int utime(const char* path, const struct utimbuf* times) {
  if (times == nullptr) {
    return utimens_at(AT_FDCWD, path, nullptr, 0);
  }
  struct timespec ts[2];
  ts[0].tv_sec = times->actime;
  ts[0].tv_nsec = 0;
  ts[1].tv_sec = times->modtime;
  ts[1].tv_nsec = 0;
  return utimens_at(AT_FDCWD, path, ts, 0);
}

VRIFT_EXPORT int chown(const char* path, uid_t uid, gid_t gid) {
  if (active()) {
    Guard guard;
    int rc = owned_managed(AT_FDCWD, path, 0);
    if (rc != -2) {
      return rc;
    }
  }
  return real().chown(path, uid, gid);
}
VRIFT_EXPORT int lchown(const char* path, uid_t uid, gid_t gid) {
  if (active()) {
    Guard guard;
    int rc = owned_managed(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW);
    if (rc != -2) {
      return rc;
    }
  }
  return real().lchown(path, uid, gid);
}
VRIFT_EXPORT int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) {
  if (active() && (flags & AT_EMPTY_PATH) == 0) {
    Guard guard;
    int rc = owned_managed(dirfd, path, flags);
    if (rc != -2) {
      return rc;
    }
  }
  return real().fchownat(dirfd, path, uid, gid, flags);
}
VRIFT_EXPORT int fchown(int fd, uid_t uid, gid_t gid) {
  if (active() && blob_fd(fd)) {
    return 0;
  }
  return real().fchown(fd, uid, gid);
}

VRIFT_EXPORT int setxattr(const char* path, const char* name, const void* value, size_t size, int flags) {
  if (active()) {
    Guard guard;
    if (owned_managed(AT_FDCWD, path, 0) != -2) {
      errno = ENOTSUP;  // a managed file has no extended attributes
      return -1;
    }
  }
  return real().setxattr(path, name, value, size, flags);
}
VRIFT_EXPORT int lsetxattr(const char* path, const char* name, const void* value, size_t size, int flags) {
  if (active()) {
    Guard guard;
    if (owned_managed(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW) != -2) {
      errno = ENOTSUP;
      return -1;
    }
  }
  return real().lsetxattr(path, name, value, size, flags);
}
VRIFT_EXPORT int fsetxattr(int fd, const char* name, const void* value, size_t size, int flags) {
  if (active() && blob_fd(fd)) {
    errno = ENOTSUP;
    return -1;
  }
  return real().fsetxattr(fd, name, value, size, flags);
}
