// Directories. A project directory a program opens is physical (a virtual Phantom
// directory is made when named: vfs.hpp), so opendir and friends are the kernel's; what the shim adds, for a directory inside the
// project, is the view of its managed files:
//   - Phantom: after the physical entries, the directory's phantom files and virtual
//     directories from the manifest (those not physically present), with d_type DT_REG
//     or DT_DIR and the virtual inode;
//   - Solid: a Tier-1 symlink projection is shown as the regular file it stands for
//     (DT_REG), and every managed file carries its virtual inode in d_ino.
// glibc's scandir, scandirat and readdir_r read through its internal readdir, so they are rebuilt here on the
// wrapped readdir. telldir/seekdir positions are the kernel's and do not cover the
// phantom entries that follow the physical ones.

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "shim/export.hpp"
#include "shim/hooks.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {

namespace {

struct DirState {
  DIR* dir = nullptr;
  char rel[PATH_MAX];
  size_t rel_len = 0;
  bool physical_done = false;
  char* names = nullptr;  // virtual entries still to list: a d_type byte, the name, a NUL
  size_t names_len = 0;
  size_t cursor = 0;
  long next_off = 0;
  struct dirent64 ent;
};

constexpr int k_max_dirs = 512;
constinit std::atomic<DIR*> g_dir_keys[k_max_dirs]{};
constinit DirState* g_dir_states[k_max_dirs]{};
constinit std::atomic<int> g_open_dirs{0};

DirState* find_state(DIR* dir) noexcept {
  if (g_open_dirs.load(std::memory_order_acquire) == 0) {
    return nullptr;
  }
  for (int i = 0; i < k_max_dirs; ++i) {
    if (g_dir_keys[i].load(std::memory_order_acquire) == dir) {
      return g_dir_states[i];
    }
  }
  return nullptr;
}

// A slot is claimed with a marker before its state is written, so two threads opening
// directories at once can never publish each other's state (a double free at closedir).
DIR* const k_claimed = reinterpret_cast<DIR*>(uintptr_t{1});

void register_dir(DIR* dir, const ManagedPath& mp) noexcept {
  auto* state = static_cast<DirState*>(std::calloc(1, sizeof(DirState)));
  if (state == nullptr) {
    return;  // the directory is listed as the kernel has it
  }
  state->dir = dir;
  std::memcpy(state->rel, mp.rel, mp.rel_len);
  state->rel[mp.rel_len] = '\0';
  state->rel_len = mp.rel_len;
  for (int i = 0; i < k_max_dirs; ++i) {
    DIR* expected = nullptr;
    if (g_dir_keys[i].compare_exchange_strong(expected, k_claimed, std::memory_order_acq_rel)) {
      g_dir_states[i] = state;
      g_dir_keys[i].store(dir, std::memory_order_release);
      g_open_dirs.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
  }
  std::free(state);  // table full: this directory is listed as the kernel has it
}

void reset_state(DirState* state) noexcept {
  std::free(state->names);
  state->names = nullptr;
  state->names_len = 0;
  state->cursor = 0;
  state->physical_done = false;
}

void unregister_dir(DIR* dir) noexcept {
  for (int i = 0; i < k_max_dirs; ++i) {
    DIR* expected = dir;
    if (g_dir_keys[i].compare_exchange_strong(expected, k_claimed, std::memory_order_acq_rel)) {
      DirState* state = g_dir_states[i];
      g_dir_states[i] = nullptr;
      g_dir_keys[i].store(nullptr, std::memory_order_release);
      g_open_dirs.fetch_sub(1, std::memory_order_acq_rel);
      reset_state(state);
      std::free(state);
      return;
    }
  }
}

// The child path rel/name in buf; returns its length.
size_t child_rel(const DirState* state, const char* name, char* buf) noexcept {
  size_t n = std::strlen(name);
  size_t len = 0;
  if (state->rel_len > 0) {
    std::memcpy(buf, state->rel, state->rel_len);
    buf[state->rel_len] = '/';
    len = state->rel_len + 1;
  }
  if (len + n >= PATH_MAX) {
    return 0;
  }
  std::memcpy(buf + len, name, n + 1);
  return len + n;
}

// Gathers the phantom files of the directory that are not physically there.
void collect_phantoms(DirState* state) noexcept {
  Lookup lookup;
  int dfd = ::dirfd(state->dir);
  size_t cap = 0;
  for_each_virtual_child(lookup, dfd, state->rel, state->rel_len, [&](std::string_view name, unsigned char type) {
    if (state->names_len + name.size() + 2 > cap) {
      size_t grown = cap == 0 ? 4096 : cap * 2;
      while (grown < state->names_len + name.size() + 2) {
        grown *= 2;
      }
      auto* bigger = static_cast<char*>(std::realloc(state->names, grown));
      if (bigger == nullptr) {
        return false;
      }
      state->names = bigger;
      cap = grown;
    }
    state->names[state->names_len++] = static_cast<char>(type);
    std::memcpy(state->names + state->names_len, name.data(), name.size());
    state->names[state->names_len + name.size()] = '\0';
    state->names_len += name.size() + 1;
    return true;
  });
}

struct dirent64* read_managed(DirState* state) noexcept {
  Guard guard;
  int saved = errno;
  if (!state->physical_done) {
    errno = 0;
    struct dirent64* d = real().readdir64(state->dir);
    if (d != nullptr) {
      if (d->d_name[0] == '.' && (d->d_name[1] == '\0' || (d->d_name[1] == '.' && d->d_name[2] == '\0'))) {
        errno = saved;
        return d;
      }
      if (d->d_type == DT_LNK || d->d_type == DT_REG || d->d_type == DT_UNKNOWN) {
        char rel[PATH_MAX];
        size_t len = child_rel(state, d->d_name, rel);
        Lookup lookup;
        manifest::Entry entry;
        ManagedPath mp;
        struct stat st;
        if (len > 0 && project_path(rel, len, mp) && virtual_stat(mp, lookup, entry, st) == 1) {
          d->d_type = DT_REG;
          d->d_ino = st.st_ino;
        }
      }
      errno = saved;
      return d;
    }
    if (errno != 0) {
      return nullptr;
    }
    state->physical_done = true;
    if (g_session.phantom) {
      collect_phantoms(state);
    }
  }
  if (state->cursor >= state->names_len) {
    errno = saved;
    return nullptr;
  }
  auto type = static_cast<unsigned char>(state->names[state->cursor]);
  const char* name = state->names + state->cursor + 1;
  size_t n = std::strlen(name);
  state->cursor += n + 2;
  char rel[PATH_MAX];
  size_t len = child_rel(state, name, rel);
  std::memset(&state->ent, 0, offsetof(struct dirent64, d_name));
  state->ent.d_ino = virtual_ino(rel, len);
  state->ent.d_off = ++state->next_off;
  state->ent.d_reclen = static_cast<unsigned short>(offsetof(struct dirent64, d_name) + n + 1);
  state->ent.d_type = type;
  std::memcpy(state->ent.d_name, name, n + 1);
  errno = saved;
  return &state->ent;
}

void maybe_register(DIR* dir, int dirfd, const char* path) noexcept {
  if (dir == nullptr || !active()) {
    return;
  }
  Guard guard;
  ManagedPath mp;
  if (classify(dirfd, path, mp)) {
    register_dir(dir, mp);
  }
}

template <class Ent, class Filter, class Compare>
int scan(DIR* dir, Ent*** out, Filter filter, Compare compare) noexcept;

}  // namespace

}  // namespace vrift::shim

using namespace vrift::shim;

namespace vrift::shim {
namespace {

// Registers a directory stream by the directory it really reads: through a symlinked
// directory, that is the link's target, whose children the manifest holds.
void register_by_fd(DIR* dir) noexcept {
  int saved = errno;
  char proc[32];
  char path[PATH_MAX];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", ::dirfd(dir));
  ssize_t n = real().readlink(proc, path, sizeof path - 1);
  if (n > 0) {
    path[n] = '\0';
    maybe_register(dir, AT_FDCWD, path);
  }
  errno = saved;
}

// A recorded directory of a session with virtual directories: its fd shows it as the
// plain tree would (remember_dir_fd()).
void remember_if_recorded(int fd, const ManagedPath& mp) noexcept {
  Guard guard;
  Lookup lookup;
  manifest::Entry e;
  struct stat st;
  int saved = errno;
  if (virtual_dirs_session(lookup) && lookup.find(mp.rel, mp.rel_len, e) && e.kind == manifest::EntryKind::dir &&
      real().fstat(fd, &st) == 0) {
    remember_dir_fd(fd, st);
  }
  errno = saved;
}

}  // namespace
}  // namespace vrift::shim

bool vrift::shim::directory_errno(int dirfd, const char* path) noexcept {
  if (errno != ENOENT || !active()) {
    return false;
  }
  ManagedFile file;
  int found = file.resolve(dirfd, path, true);
  if (found > 0) {
    errno = ENOTDIR;
  } else if (found == 0) {
    errno = ENOENT;
  }
  return found == 0 && file.notes.made_dir;
}

VRIFT_EXPORT DIR* opendir(const char* path) {
  DIR* dir = real().opendir(path);
  if (dir == nullptr && directory_errno(AT_FDCWD, path)) {
    dir = real().opendir(path);
  }
  if (dir == nullptr) {
    return nullptr;
  }
  if (dir != nullptr && active()) {
    ManagedPath mp;
    if (classify(AT_FDCWD, path, mp)) {
      register_by_fd(dir);  // only a project path pays for the readlink
      remember_if_recorded(::dirfd(dir), mp);
    }
  }
  return dir;
}

VRIFT_EXPORT DIR* fdopendir(int fd) {
  DIR* dir = real().fdopendir(fd);
  if (dir != nullptr && active()) {
    register_by_fd(dir);
  }
  return dir;
}

VRIFT_EXPORT int closedir(DIR* dir) {
  unregister_dir(dir);
  return real().closedir(dir);
}

VRIFT_EXPORT struct dirent64* readdir64(DIR* dir) {
  DirState* state = find_state(dir);
  if (state == nullptr) {
    return real().readdir64(dir);
  }
  return read_managed(state);
}

// struct dirent and struct dirent64 are the same on x86-64.
VRIFT_EXPORT struct dirent* readdir(DIR* dir) { return reinterpret_cast<struct dirent*>(readdir64(dir)); }

// Positions: the kernel's (non-negative) while the physical entries are being listed;
// -(index + 2) among the phantom entries that follow them.
VRIFT_EXPORT long telldir(DIR* dir) {
  DirState* state = find_state(dir);
  if (state == nullptr || !state->physical_done) {
    return real().telldir(dir);
  }
  return -static_cast<long>(state->cursor) - 2;
}

VRIFT_EXPORT void seekdir(DIR* dir, long pos) {
  DirState* state = find_state(dir);
  if (state == nullptr) {
    real().seekdir(dir, pos);
    return;
  }
  if (pos >= 0) {
    reset_state(state);
    real().seekdir(dir, pos);
    return;
  }
  if (!state->physical_done) {
    Guard guard;
    state->physical_done = true;
    if (g_session.phantom) {
      collect_phantoms(state);
    }
  }
  size_t cursor = static_cast<size_t>(-pos - 2);
  state->cursor = cursor <= state->names_len ? cursor : state->names_len;
}

VRIFT_EXPORT void rewinddir(DIR* dir) {
  if (DirState* state = find_state(dir)) {
    reset_state(state);
  }
  real().rewinddir(dir);
}

namespace vrift::shim {
namespace {

// Reads and closes `dir` (opened through the wrappers above).
template <class Ent, class Filter, class Compare>
int scan(DIR* dir, Ent*** out, Filter filter, Compare compare) noexcept {
  if (dir == nullptr) {
    return -1;
  }
  Ent** list = nullptr;
  size_t count = 0;
  size_t cap = 0;
  int saved = errno;
  errno = 0;
  while (struct dirent64* d = ::readdir64(dir)) {
    auto* ent = reinterpret_cast<Ent*>(d);
    if (filter != nullptr && filter(ent) == 0) {
      errno = 0;
      continue;
    }
    if (count == cap) {
      cap = cap == 0 ? 32 : cap * 2;
      auto** bigger = static_cast<Ent**>(std::realloc(list, cap * sizeof(Ent*)));
      if (bigger == nullptr) {
        break;
      }
      list = bigger;
    }
    auto* copy = static_cast<Ent*>(std::malloc(sizeof(Ent)));
    if (copy == nullptr) {
      break;
    }
    std::memcpy(copy, d, d->d_reclen < sizeof(Ent) ? d->d_reclen : sizeof(Ent));
    list[count++] = copy;
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) {
    for (size_t i = 0; i < count; ++i) {
      std::free(list[i]);
    }
    std::free(list);
    errno = err;
    return -1;
  }
  if (compare != nullptr && count > 1) {
    std::qsort(list, count, sizeof(Ent*), reinterpret_cast<int (*)(const void*, const void*)>(compare));
  }
  errno = saved;
  *out = list;
  return static_cast<int>(count);
}

}  // namespace
}  // namespace vrift::shim

VRIFT_EXPORT int scandir(const char* path, struct dirent*** out, int (*filter)(const struct dirent*),
                         int (*compare)(const struct dirent**, const struct dirent**)) {
  if (!active()) {
    return real().scandir(path, out, filter, compare);
  }
  return scan<struct dirent>(::opendir(path), out, filter, compare);
}

VRIFT_EXPORT int scandir64(const char* path, struct dirent64*** out, int (*filter)(const struct dirent64*),
                           int (*compare)(const struct dirent64**, const struct dirent64**)) {
  if (!active()) {
    return real().scandir64(path, out, filter, compare);
  }
  return scan<struct dirent64>(::opendir(path), out, filter, compare);
}

namespace vrift::shim {
namespace {

// scandirat's directory: (dirfd, path) opened through the wrappers, so it is merged.
DIR* open_dir_at(int dirfd, const char* path) noexcept {
  int fd = ::openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return nullptr;
  }
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int saved = errno;
    ::close(fd);
    errno = saved;
  }
  return dir;
}

// readdir_r: the merged stream's next entry copied into the caller's buffer.
int read_into(DirState* state, struct dirent64* entry, struct dirent64** result) noexcept {
  int saved = errno;
  errno = 0;
  struct dirent64* d = read_managed(state);
  int err = errno;
  errno = saved;
  if (d == nullptr) {
    *result = nullptr;
    return err;
  }
  std::memcpy(entry, d, offsetof(struct dirent64, d_name) + std::strlen(d->d_name) + 1);
  *result = entry;
  return 0;
}

}  // namespace
}  // namespace vrift::shim

VRIFT_EXPORT int scandirat(int dirfd, const char* path, struct dirent*** out, int (*filter)(const struct dirent*),
                           int (*compare)(const struct dirent**, const struct dirent**)) {
  if (!active()) {
    return real().scandirat(dirfd, path, out, filter, compare);
  }
  return scan<struct dirent>(open_dir_at(dirfd, path), out, filter, compare);
}

VRIFT_EXPORT int scandirat64(int dirfd, const char* path, struct dirent64*** out,
                             int (*filter)(const struct dirent64*),
                             int (*compare)(const struct dirent64**, const struct dirent64**)) {
  if (!active()) {
    return real().scandirat64(dirfd, path, out, filter, compare);
  }
  return scan<struct dirent64>(open_dir_at(dirfd, path), out, filter, compare);
}

VRIFT_EXPORT int readdir64_r(DIR* dir, struct dirent64* entry, struct dirent64** result) {
  DirState* state = find_state(dir);
  if (state == nullptr) {
    return real().readdir64_r(dir, entry, result);
  }
  return read_into(state, entry, result);
}

VRIFT_EXPORT int readdir_r(DIR* dir, struct dirent* entry, struct dirent** result) {
  DirState* state = find_state(dir);
  if (state == nullptr) {
    return real().readdir_r(dir, entry, result);
  }
  return read_into(state, reinterpret_cast<struct dirent64*>(entry), reinterpret_cast<struct dirent64**>(result));
}

namespace vrift::shim {
namespace {

// glob's directory and stat callbacks: the wrapped functions, so phantom files match.
void* glob_opendir(const char* path) { return ::opendir(path); }
struct dirent* glob_readdir(void* dir) { return ::readdir(static_cast<DIR*>(dir)); }
void glob_closedir(void* dir) { ::closedir(static_cast<DIR*>(dir)); }
int glob_lstat(const char* path, struct stat* st) { return ::lstat(path, st); }
int glob_stat(const char* path, struct stat* st) { return ::stat(path, st); }

template <class GlobT>
void use_wrapped_functions(GlobT* g) {
  g->gl_opendir = glob_opendir;
  g->gl_readdir = reinterpret_cast<decltype(g->gl_readdir)>(glob_readdir);
  g->gl_closedir = glob_closedir;
  g->gl_lstat = reinterpret_cast<decltype(g->gl_lstat)>(glob_lstat);
  g->gl_stat = reinterpret_cast<decltype(g->gl_stat)>(glob_stat);
}

}  // namespace
}  // namespace vrift::shim

VRIFT_EXPORT int glob(const char* pattern, int flags, int (*errfunc)(const char*, int), glob_t* g) {
  if (!active() || (flags & GLOB_ALTDIRFUNC) != 0) {
    return real().glob(pattern, flags, errfunc, g);  // the caller's own functions win
  }
  use_wrapped_functions(g);
  return real().glob(pattern, flags | GLOB_ALTDIRFUNC, errfunc, g);
}

VRIFT_EXPORT int glob64(const char* pattern, int flags, int (*errfunc)(const char*, int), glob64_t* g) {
  if (!active() || (flags & GLOB_ALTDIRFUNC) != 0) {
    return real().glob64(pattern, flags, errfunc, g);
  }
  use_wrapped_functions(g);
  return real().glob64(pattern, flags | GLOB_ALTDIRFUNC, errfunc, g);
}
