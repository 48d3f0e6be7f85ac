#include "shim/vfs.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>

#include "cas/layout.hpp"
#include "shim/fd_paths.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"

namespace vrift::shim {

namespace {

// One read transaction per thread, kept across lookups (reset between them, renewed
// without allocation), freed when the thread exits.
__thread manifest::ReadTxn* t_txn __attribute__((tls_model("initial-exec"))) = nullptr;
pthread_key_t g_txn_key;
constinit pthread_once_t g_txn_key_once = PTHREAD_ONCE_INIT;

void free_txn(void* txn) { delete static_cast<manifest::ReadTxn*>(txn); }
void make_txn_key() { ::pthread_key_create(&g_txn_key, free_txn); }

manifest::ReadTxn* thread_txn() noexcept {
  if (t_txn == nullptr) {
    ::pthread_once(&g_txn_key_once, make_txn_key);
    t_txn = new (std::nothrow) manifest::ReadTxn();
    if (t_txn != nullptr) {
      ::pthread_setspecific(g_txn_key, t_txn);
    }
  }
  return t_txn;
}

// fd table: slots for fds below k_max_fds; larger fds are simply not virtualized.
constexpr int k_max_fds = 1 << 16;
struct FdSlot {
  std::atomic<uint64_t> real_ino{0};  // 0: empty
  uint64_t real_dev = 0;
  uint32_t mode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t ino = 0;
  bool dir_view = false;  // a recorded directory: the kernel's stat, as plain_dir_stat() shows it
};
constinit FdSlot g_fds[k_max_fds]{};

}  // namespace

bool Lookup::begin() noexcept {
  if (m_txn != nullptr) {
    return true;
  }
  manifest::LmdbManifest* m = session_manifest();
  if (m == nullptr) {
    return false;
  }
  int saved = errno;
  manifest::ReadTxn* txn = thread_txn();
  if (txn != nullptr) {
    if (auto begun = m->begin_read(*txn)) {
      m_manifest = m;
      m_txn = txn;
    } else {
      debug_log("vrift shim: cannot read the manifest (%s); passing through", error_reason(begun.error()));
    }
  }
  errno = saved;
  return m_txn != nullptr;
}

Lookup::~Lookup() { release(); }

void Lookup::release() noexcept {
  if (m_txn != nullptr) {
    m_txn->reset();
    m_txn = nullptr;
  }
}

bool Lookup::find(const char* rel, size_t len, manifest::Entry& out) noexcept {
  if (!begin()) {
    return false;
  }
  int saved = errno;
  auto hit = m_manifest->get(*m_txn, std::string_view(rel, len), out);
  errno = saved;
  return hit && *hit;
}

bool Lookup::meta(std::string_view key, std::string_view& out) noexcept {
  if (!begin()) {
    return false;
  }
  int saved = errno;
  auto found = m_manifest->get_meta(*m_txn, key, out);
  errno = saved;
  return found && *found;
}

bool Lookup::projected_dir(const char* rel, size_t len, manifest::Tier& tier, bool or_below) noexcept {
  if (!begin()) {
    return false;
  }
  int saved = errno;
  std::string_view list;
  auto found = m_manifest->get_meta(*m_txn, manifest::k_meta_projected_key, list);
  errno = saved;
  if (!found || !*found) {
    return false;
  }
  std::string_view want(rel, len);
  while (!list.empty()) {  // lines of <tier digit><path>
    size_t end = list.find('\n');
    std::string_view line = list.substr(0, end);
    std::string_view dir = line.size() > 1 ? line.substr(1) : std::string_view();
    bool below = or_below && want.size() > dir.size() && want.starts_with(dir) && want[dir.size()] == '/';
    if (!dir.empty() && (want == dir || below)) {
      tier = line[0] == '1' ? manifest::Tier::tier1 : manifest::Tier::tier2;
      return true;
    }
    list = end == std::string_view::npos ? std::string_view() : list.substr(end + 1);
  }
  return false;
}

uint64_t virtual_ino(const char* rel, size_t len) noexcept {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (size_t i = 0; i < len; ++i) {
    h ^= static_cast<unsigned char>(rel[i]);
    h *= 1099511628211ull;
  }
  return (h & ((uint64_t{1} << 47) - 1)) | (uint64_t{1} << 47);
}

void fill_stat(const manifest::Entry& e, const char* rel, size_t len, struct stat& st) noexcept {
  std::memset(&st, 0, sizeof st);
  st.st_dev = g_session.project_dev;
  st.st_ino = virtual_ino(rel, len);
  st.st_mode = e.mode;
  st.st_nlink = 1;
  st.st_uid = g_session.uid;
  st.st_gid = g_session.gid;
  st.st_size = static_cast<off_t>(e.size);
  st.st_blksize = 4096;
  st.st_blocks = static_cast<blkcnt_t>((e.size + 511) / 512);
  st.st_mtim.tv_sec = e.mtime_ns / 1000000000;
  st.st_mtim.tv_nsec = e.mtime_ns % 1000000000;
  st.st_atim = st.st_mtim;
  st.st_ctim = st.st_mtim;
}

bool blob_path(const manifest::Entry& e, char* out) noexcept {
  size_t root = g_session.cas_root_len;
  if (root + 1 + cas::k_max_blob_rel_path + 1 > PATH_MAX) {
    return false;
  }
  std::memcpy(out, g_session.cas_root, root);
  out[root] = '/';
  cas::blob_rel_path(manifest::blob_key(e), out + root + 1);
  return true;
}

bool names_blob(const manifest::Entry& e, const char* target, size_t len) noexcept {
  return cas::names_blob(std::string_view(g_session.cas_root, g_session.cas_root_len), manifest::blob_key(e),
                         std::string_view(target, len));
}

int open_blob(const manifest::Entry& e, int flags) noexcept {
  char rel[cas::k_max_blob_rel_path + 1];
  cas::blob_rel_path(manifest::blob_key(e), rel);
  if (int dir = blobs_dir_fd(); dir >= 0) {
    // "ab/<name>" below blake3/. Should the program have closed or replaced that
    // descriptor behind the shim's back, no other directory holds this blob name, and
    // the absolute path below answers.
    int fd = real().openat(dir, rel + cas::k_shard_rel_len - 2, O_RDONLY | flags);
    if (fd >= 0) {
      return fd;
    }
  }
  char path[PATH_MAX];
  if (!blob_path(e, path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return real().openat(AT_FDCWD, path, O_RDONLY | flags);
}

PathStat lstat_path(const char* abs) noexcept {
  PathStat p;
  int saved = errno;
  p.known = true;
  p.ok = real().fstatat(AT_FDCWD, abs, &p.st, AT_SYMLINK_NOFOLLOW) == 0;
  p.err = p.ok ? 0 : errno;
  errno = saved;
  return p;
}

int virtual_stat(const ManagedPath& path, Lookup& lookup, manifest::Entry& entry, struct stat& st,
                 PathStat* real) noexcept {
  PathStat own;
  PathStat& p = real != nullptr ? *real : own;
  if (!g_session.phantom) {
    // Solid: only the projection vrift made is answered from the manifest, and that is
    // a symlink or a hardlink shared with its blob. Anything else (a directory, a file
    // the build just wrote) is the kernel's to answer, without opening the manifest:
    // most programs of a build touch nothing else.
    if (!p.known) {
      p = lstat_path(path.abs);
    }
    if (!p.ok || !(S_ISLNK(p.st.st_mode) || (S_ISREG(p.st.st_mode) && p.st.st_nlink > 1))) {
      return 0;
    }
  }
  if (!lookup.find(path.rel, path.rel_len, entry) || entry.kind != manifest::EntryKind::file || entry.dirty()) {
    return 0;  // a dirty entry's path holds the file being written: the kernel answers
  }
  if (!g_session.phantom) {
    bool projected = (entry.flags & manifest::k_flag_projected) != 0;
    bool ours = projected && (S_ISLNK(p.st.st_mode) || p.st.st_ino == entry.ino);
    if (!ours) {
      return 0;
    }
  }
  fill_stat(entry, path.rel, path.rel_len, st);
  return 1;
}

namespace {

// mp := the path `target` (a symlink's content) means when found in directory `dir`.
bool reclassify(const char* dir, size_t dir_len, const char* target, size_t target_len, ManagedPath& mp) noexcept {
  char next[PATH_MAX];
  size_t n = 0;
  if (target[0] != '/') {
    if (dir_len + 1 >= PATH_MAX) {
      return false;
    }
    std::memcpy(next, dir, dir_len);
    next[dir_len] = '/';
    n = dir_len + 1;
  }
  if (n + target_len >= PATH_MAX) {
    return false;
  }
  std::memcpy(next + n, target, target_len);
  next[n + target_len] = '\0';
  return classify(AT_FDCWD, next, mp);
}

size_t dirname_len(const ManagedPath& mp) noexcept {
  size_t i = mp.abs_len;
  while (i > 1 && mp.abs[i - 1] != '/') {
    --i;
  }
  return i > 1 ? i - 1 : 1;
}

// mp := the same name in its parent's canonical directory. False when the parent is
// canonical already (or cannot be resolved): nothing more to try.
bool via_canonical_parent(ManagedPath& mp, Lookup& lookup) noexcept {
  size_t dir_len = dirname_len(mp);
  char dir[PATH_MAX];
  std::memcpy(dir, mp.abs, dir_len);
  dir[dir_len] = '\0';
  char canon[PATH_MAX];
  int saved = errno;
  bool resolved = canonical_path(dir, canon, lookup);
  errno = saved;
  if (!resolved || std::strcmp(canon, dir) == 0) {
    return false;
  }
  const char* name = mp.abs + dir_len + 1;
  size_t name_len = mp.abs_len - dir_len - 1;
  return reclassify(canon, std::strlen(canon), name, name_len, mp);
}

bool in_the_source(const char* path, size_t len) noexcept {
  size_t root = g_session.cas_root_len;
  return len > root && std::memcmp(path, g_session.cas_root, root) == 0 && path[root] == '/';
}

// Solid: does this physical file look like a projection vrift made (a link into The
// Source, or a read-only hardlink shared with the blob)? Then a miss in the manifest
// may only mean the path was reached through a symlinked directory.
bool looks_projected(const ManagedPath& mp, const struct stat& st) noexcept {
  if (S_ISREG(st.st_mode)) {
    return st.st_nlink > 1 && (st.st_mode & 0222) == 0;
  }
  if (!S_ISLNK(st.st_mode)) {
    return false;
  }
  char target[PATH_MAX];
  ssize_t n = real().readlink(mp.abs, target, sizeof target);
  return n > 0 && in_the_source(target, static_cast<size_t>(n));
}

// "link/x" where the symlink `link` leads to a managed file: not a directory either. The
// link is resolved like any path, nested at most twice (each level costs stack).
__thread int t_parent_depth __attribute__((tls_model("initial-exec"))) = 0;

bool parent_links_to_file(const ManagedPath& mp, Lookup& lookup) noexcept {
  size_t dir_len = dirname_len(mp);
  char dir[PATH_MAX];
  std::memcpy(dir, mp.abs, dir_len);
  dir[dir_len] = '\0';
  struct stat st;
  if (t_parent_depth >= 2 || real().fstatat(AT_FDCWD, dir, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) {
    return false;
  }
  ++t_parent_depth;
  ManagedPath link;
  manifest::Entry entry;
  bool file = resolve_managed(AT_FDCWD, dir, true, link, lookup, entry, st) == 1;
  --t_parent_depth;
  return file;
}

}  // namespace

int resolve_managed(int dirfd, const char* path, bool follow, ManagedPath& mp, Lookup& lookup,
                    manifest::Entry& entry, struct stat& st, ResolveNotes* notes) noexcept {
  if (!classify(dirfd, path, mp)) {
    return 0;
  }
  int saved = errno;
  int result = 0;
  bool trailing_slash = mp.trailing_slash;  // "link/" keeps its slash when link is followed
  for (int hops = 0; hops < 40; ++hops) {
    PathStat lst;
    entry.kind = manifest::EntryKind::whiteout;  // what virtual_stat() found, if anything
    if (virtual_stat(mp, lookup, entry, st, &lst) == 1) {
      result = 1;
      if (trailing_slash) {
        saved = ENOTDIR;  // "file/": not a directory
        result = -1;
      }
      break;
    }
    if (!lst.known) {
      lst = lstat_path(mp.abs);
    }
    const struct stat& real_st = lst.st;
    if (lst.ok) {
      if (!follow || !S_ISLNK(real_st.st_mode)) {
        if (!g_session.phantom && looks_projected(mp, real_st) && via_canonical_parent(mp, lookup)) {
          continue;
        }
        break;  // a real file, directory or unfollowed link: the kernel answers
      }
      char target[PATH_MAX];
      ssize_t n = real().readlink(mp.abs, target, sizeof target - 1);
      size_t dir_len = dirname_len(mp);
      char dir[PATH_MAX];
      std::memcpy(dir, mp.abs, dir_len);
      if (n > 0 && !g_session.phantom && in_the_source(target, static_cast<size_t>(n))) {
        if (via_canonical_parent(mp, lookup)) {
          continue;  // a projection reached through a symlinked directory
        }
        break;
      }
      if (n <= 0 || !reclassify(dir, dir_len, target, static_cast<size_t>(n), mp)) {
        break;
      }
      continue;
    }
    if (lst.err != ENOENT || !g_session.phantom) {
      break;
    }
    if (entry.kind == manifest::EntryKind::dir) {
      // The path names a virtual directory: made now, the kernel answers for it.
      if (hydrate_dir(lookup, mp.rel, mp.rel_len) && notes != nullptr) {
        notes->made_dir = true;
      }
      break;
    }
    // "file/x" below a phantom file: not a directory, as the kernel says for real files.
    size_t parent_len = mp.rel_len;
    while (parent_len > 0 && mp.rel[parent_len - 1] != '/') {
      --parent_len;
    }
    manifest::Entry parent;
    bool parent_recorded = parent_len > 1 && lookup.find(mp.rel, parent_len - 1, parent);
    if (parent_recorded && parent.kind == manifest::EntryKind::file) {
      saved = ENOTDIR;
      result = -1;
      break;
    }
    // A parent recorded as a directory was reached through no symlink inside the project
    // (ingest never descends into one): the miss is final. Programs that probe for files
    // (node's module resolution, compilers' include paths) mostly miss, and resolving the
    // parent's canonical path cost a readlink per component of it.
    if (parent_recorded && parent.kind == manifest::EntryKind::dir) {
      break;
    }
    if (parent_links_to_file(mp, lookup)) {
      saved = ENOTDIR;
      result = -1;
      break;
    }
    // Missing in Phantom: a parent may be a symlink into the project; look again
    // through the parent's canonical path.
    if (!via_canonical_parent(mp, lookup)) {
      break;
    }
  }
  if (notes != nullptr && result == 0) {
    notes->dir = entry.kind == manifest::EntryKind::dir;
  }
  errno = saved;
  return result;
}

namespace {
constinit std::atomic<int> g_virtual_dirs{-1};  // -1: not read yet
}  // namespace

bool virtual_dirs_session(Lookup& lookup) noexcept {
  int known = g_virtual_dirs.load(std::memory_order_relaxed);
  if (known < 0) {
    std::string_view value;
    known = g_session.phantom && lookup.meta(manifest::k_meta_virtual_dirs_key, value) && value == "1" ? 1 : 0;
    g_virtual_dirs.store(known, std::memory_order_relaxed);
  }
  return known == 1;
}

namespace {

// The recorded mode and mtime of the virtual directory at abs[0..end), made just now.
void set_recorded_attrs(Lookup& lookup, char* abs, size_t end, size_t rel_off) noexcept {
  manifest::Entry e;
  char kept = abs[end];
  abs[end] = '\0';
  if (lookup.find(abs + rel_off, end - rel_off, e)) {
    real().fchmodat(AT_FDCWD, abs, static_cast<mode_t>(e.mode & 07777), 0);
    timespec times[2];
    times[0].tv_sec = e.mtime_ns / 1000000000;
    times[0].tv_nsec = e.mtime_ns % 1000000000;
    times[1] = times[0];
    real().utimensat(AT_FDCWD, abs, times, AT_SYMLINK_NOFOLLOW);
  }
  abs[end] = kept;
}

// The end of the parent of abs[0..end) (the '/' before its last component).
size_t parent_end(const char* abs, size_t end) noexcept {
  while (end > 0 && abs[end - 1] != '/') {
    --end;
  }
  return end > 0 ? end - 1 : 0;
}

// Is `abs` (normalized, absolute) a managed file? The lstat it made, if any, is left
// in `real` for the caller.
bool managed_file(const char* abs, Lookup& lookup, PathStat& real) noexcept {
  ManagedPath mp;
  if (!classify(AT_FDCWD, abs, mp)) {
    return false;
  }
  if (!g_session.phantom) {
    real = lstat_path(abs);
    if (!real.ok || !S_ISLNK(real.st.st_mode)) {
      return false;  // Solid: only a Tier-1 symlink must not be followed; the kernel walks the rest
    }
  }
  manifest::Entry entry;
  struct stat st;
  return virtual_stat(mp, lookup, entry, st, &real) == 1;
}

}  // namespace

bool canonical_path(const char* path, char* out, Lookup& lookup) noexcept {
  if (path == nullptr) {
    errno = EINVAL;
    return false;
  }
  if (path[0] == '\0') {
    errno = ENOENT;
    return false;
  }
  // `todo` holds the components still to resolve; symlink targets are spliced in front.
  char todo[PATH_MAX];
  size_t todo_len = std::strlen(path);
  if (todo_len >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return false;
  }
  std::memcpy(todo, path, todo_len + 1);
  size_t out_len = 0;
  if (path[0] == '/') {
    out[0] = '\0';
  } else {
    if (::getcwd(out, PATH_MAX) == nullptr) {
      return false;
    }
    out_len = std::strlen(out);
    if (out_len == 1) {
      out_len = 0;  // "/": components append as "/name"
    }
  }
  int links = 0;
  size_t pos = 0;
  while (pos < todo_len) {
    while (pos < todo_len && todo[pos] == '/') {
      ++pos;
    }
    size_t start = pos;
    while (pos < todo_len && todo[pos] != '/') {
      ++pos;
    }
    size_t n = pos - start;
    if (n == 0 || (n == 1 && todo[start] == '.')) {
      continue;
    }
    if (n == 2 && todo[start] == '.' && todo[start + 1] == '.') {
      while (out_len > 0 && out[out_len - 1] != '/') {
        --out_len;
      }
      if (out_len > 0) {
        --out_len;
      }
      continue;
    }
    if (out_len + 1 + n >= PATH_MAX) {
      errno = ENAMETOOLONG;
      return false;
    }
    size_t prev_len = out_len;
    out[out_len++] = '/';
    std::memcpy(out + out_len, todo + start, n);
    out_len += n;
    out[out_len] = '\0';
    PathStat lst;
    if (managed_file(out, lookup, lst)) {
      if (pos < todo_len) {
        errno = ENOTDIR;  // "file/..." or "file/"
        return false;
      }
      continue;
    }
    if (!lst.known) {
      lst = lstat_path(out);
    }
    if (!lst.ok && lst.err == ENOENT && virtual_dir(lookup, out)) {
      continue;  // a virtual directory (vfs.hpp) holds no symlinks: nothing to resolve
    }
    if (!lst.ok) {
      errno = lst.err;
      return false;
    }
    const struct stat& st = lst.st;
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) {
        errno = ELOOP;
        return false;
      }
      char target[PATH_MAX];
      ssize_t len = real().readlink(out, target, sizeof target - 1);
      if (len < 0) {
        return false;
      }
      size_t rest = todo_len - pos;
      if (static_cast<size_t>(len) + 1 + rest >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return false;
      }
      // todo := target + rest
      std::memmove(todo + len, todo + pos, rest);
      std::memcpy(todo, target, static_cast<size_t>(len));
      todo_len = static_cast<size_t>(len) + rest;
      todo[todo_len] = '\0';
      pos = 0;
      out_len = target[0] == '/' ? 0 : prev_len;
      out[out_len] = '\0';
      continue;
    }
    if (!S_ISDIR(st.st_mode) && pos < todo_len) {
      errno = ENOTDIR;  // "file/..." or "file/"
      return false;
    }
  }
  if (out_len == 0) {
    out[out_len++] = '/';
  }
  out[out_len] = '\0';
  return true;
}

bool hydrate_dir(Lookup& lookup, const char* rel, size_t len) noexcept {
  ManagedPath mp;
  if (!g_session.phantom || len == 0 || !project_path(rel, len, mp)) {
    return false;
  }
  int saved = errno;
  char* abs = mp.abs;
  const size_t rel_off = static_cast<size_t>(mp.rel - mp.abs);
  // Up to the nearest directory on disk; every one missing on the way must be virtual.
  size_t top = mp.abs_len;
  struct stat st;
  for (;;) {
    char kept = abs[top];
    abs[top] = '\0';
    bool present = real().fstatat(AT_FDCWD, abs, &st, AT_SYMLINK_NOFOLLOW) == 0;
    abs[top] = kept;
    if (present) {
      break;
    }
    manifest::Entry e;
    if (errno != ENOENT || top <= rel_off || !lookup.find(abs + rel_off, top - rel_off, e) ||
        e.kind != manifest::EntryKind::dir || !e.phantom()) {
      errno = saved;
      return false;
    }
    top = parent_end(abs, top);
  }
  if (top == mp.abs_len || !S_ISDIR(st.st_mode)) {
    errno = saved;
    return false;
  }
  // Down again, making each one (owner-writable until all are made: a recorded 0555
  // must not stop its children; another process may be making the same ones).
  bool made = false;
  for (size_t end = top + 1; end <= mp.abs_len; ++end) {
    if (end != mp.abs_len && abs[end] != '/') {
      continue;
    }
    char kept = abs[end];
    abs[end] = '\0';
    int rc = real().mkdirat(AT_FDCWD, abs, 0700);
    abs[end] = kept;
    if (rc != 0 && errno != EEXIST) {
      break;
    }
    made = made || rc == 0;
  }
  for (size_t end = mp.abs_len; end > top; end = parent_end(abs, end)) {
    set_recorded_attrs(lookup, abs, end, rel_off);
  }
  // The directory that gained an entry shows the times it had: nothing changed there.
  abs[top] = '\0';
  timespec times[2] = {st.st_atim, st.st_mtim};
  real().utimensat(AT_FDCWD, abs, times, AT_SYMLINK_NOFOLLOW);
  errno = saved;
  return made;
}

bool hydrate_parent(const ManagedPath& mp) noexcept {
  if (!g_session.phantom) {
    return false;
  }
  size_t n = mp.rel_len;
  while (n > 0 && mp.rel[n - 1] != '/') {
    --n;
  }
  if (n <= 1) {
    return false;  // the project's root holds it
  }
  // Only a project whose directories are virtual pays the parent's lstat (every unlink
  // or rename of a phantom file comes here).
  Lookup lookup;
  return virtual_dirs_session(lookup) && hydrate_dir(lookup, mp.rel, n - 1);
}

bool made_parent_of(int dirfd, const char* path) noexcept {
  if (!g_session.phantom || !active()) {
    return false;
  }
  Guard guard;
  int saved = errno;
  ManagedPath mp;
  bool made = classify(dirfd, path, mp) && hydrate_parent(mp);
  errno = saved;
  return made;
}

bool virtual_dir(Lookup& lookup, const char* abs) noexcept {
  ManagedPath mp;
  manifest::Entry e;
  return g_session.phantom && classify(AT_FDCWD, abs, mp) && lookup.find(mp.rel, mp.rel_len, e) &&
         e.kind == manifest::EntryKind::dir && e.phantom();
}

void remember_fd(int fd, const struct stat& real_st, const struct stat& virtual_st) noexcept {
  if (fd < 0 || fd >= k_max_fds) {
    return;
  }
  FdSlot& slot = g_fds[fd];
  slot.real_ino.store(0, std::memory_order_relaxed);
  slot.real_dev = real_st.st_dev;
  slot.mode = virtual_st.st_mode;
  slot.size = static_cast<uint64_t>(virtual_st.st_size);
  slot.mtime_ns = static_cast<int64_t>(virtual_st.st_mtim.tv_sec) * 1000000000 + virtual_st.st_mtim.tv_nsec;
  slot.ino = virtual_st.st_ino;
  slot.dir_view = false;
  slot.real_ino.store(real_st.st_ino, std::memory_order_release);
}

void remember_dir_fd(int fd, const struct stat& real_st) noexcept {
  if (fd < 0 || fd >= k_max_fds) {
    return;
  }
  FdSlot& slot = g_fds[fd];
  slot.real_ino.store(0, std::memory_order_relaxed);
  slot.real_dev = real_st.st_dev;
  slot.dir_view = true;
  slot.real_ino.store(real_st.st_ino, std::memory_order_release);
}

void copy_fd(int from, int to) noexcept {
  copy_fd_path(from, to);
  if (from < 0 || from >= k_max_fds || to < 0 || to >= k_max_fds || from == to) {
    return;
  }
  const FdSlot& src = g_fds[from];
  FdSlot& dst = g_fds[to];
  uint64_t real_ino = src.real_ino.load(std::memory_order_acquire);
  dst.real_ino.store(0, std::memory_order_relaxed);
  if (real_ino == 0) {
    return;
  }
  dst.real_dev = src.real_dev;
  dst.mode = src.mode;
  dst.size = src.size;
  dst.mtime_ns = src.mtime_ns;
  dst.ino = src.ino;
  dst.dir_view = src.dir_view;
  dst.real_ino.store(real_ino, std::memory_order_release);
}

bool fd_virtual_stat(int fd, dev_t dev, ino_t ino, struct stat& out) noexcept {
  if (fd < 0 || fd >= k_max_fds) {
    return false;
  }
  const FdSlot& slot = g_fds[fd];
  uint64_t real_ino = slot.real_ino.load(std::memory_order_acquire);
  if (real_ino == 0 || real_ino != ino || slot.real_dev != dev || slot.dir_view) {
    return false;
  }
  out.st_dev = g_session.project_dev;
  out.st_ino = slot.ino;
  out.st_mode = slot.mode;
  out.st_nlink = 1;
  out.st_uid = g_session.uid;
  out.st_gid = g_session.gid;
  out.st_size = static_cast<off_t>(slot.size);
  out.st_blocks = static_cast<blkcnt_t>((slot.size + 511) / 512);
  out.st_mtim.tv_sec = slot.mtime_ns / 1000000000;
  out.st_mtim.tv_nsec = slot.mtime_ns % 1000000000;
  out.st_atim = out.st_mtim;
  out.st_ctim = out.st_mtim;
  return true;
}

bool fd_dir_view(int fd, dev_t dev, ino_t ino) noexcept {
  if (fd < 0 || fd >= k_max_fds) {
    return false;
  }
  const FdSlot& slot = g_fds[fd];
  uint64_t real_ino = slot.real_ino.load(std::memory_order_acquire);
  return real_ino != 0 && real_ino == ino && slot.real_dev == dev && slot.dir_view;
}

bool overlay_fd_stat(int fd, struct stat& st) noexcept {
  if (fd_dir_view(fd, st.st_dev, st.st_ino)) {
    plain_dir_stat(st);
    return true;
  }
  return fd_virtual_stat(fd, st.st_dev, st.st_ino, st);
}

}  // namespace vrift::shim
