// nftw and ftw, rebuilt on the wrapped opendir/readdir/stat: glibc's versions read
// directories through internal calls no wrapper sees, so phantom files would be missing.
// Semantics follow glibc: FTW_PHYS, FTW_MOUNT, FTW_DEPTH, FTW_CHDIR, FTW_ACTIONRETVAL;
// without FTW_PHYS each directory is visited once even when symlinks lead to it again.
// Names of a directory are read in full before descending, so one descriptor is open
// at a time whatever `nopenfd` says.

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "shim/export.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"

namespace vrift::shim {
namespace {

using NftwFn = int (*)(const char*, const struct stat*, int, struct FTW*);

struct Walk {
  NftwFn fn;
  int flags;
  dev_t root_dev = 0;
  char path[PATH_MAX];
  // Directories seen (dev, ino), without FTW_PHYS: a small open-addressing set.
  struct Seen {
    dev_t dev;
    ino_t ino;
  }* seen = nullptr;
  size_t seen_cap = 0;
  size_t seen_count = 0;

  ~Walk() { std::free(seen); }

  // True when (dev, ino) was not seen before (and records it).
  bool first_visit(dev_t dev, ino_t ino) {
    if (seen_count * 2 >= seen_cap) {
      size_t cap = seen_cap == 0 ? 256 : seen_cap * 2;
      auto* grown = static_cast<Seen*>(std::calloc(cap, sizeof(Seen)));
      if (grown == nullptr) {
        return true;
      }
      for (size_t i = 0; i < seen_cap; ++i) {
        if (seen[i].ino != 0) {
          size_t h = (seen[i].ino * 31 + seen[i].dev) & (cap - 1);
          while (grown[h].ino != 0) {
            h = (h + 1) & (cap - 1);
          }
          grown[h] = seen[i];
        }
      }
      std::free(seen);
      seen = grown;
      seen_cap = cap;
    }
    size_t h = (ino * 31 + dev) & (seen_cap - 1);
    while (seen[h].ino != 0) {
      if (seen[h].ino == ino && seen[h].dev == dev) {
        return false;
      }
      h = (h + 1) & (seen_cap - 1);
    }
    seen[h] = Seen{dev, ino};
    ++seen_count;
    return true;
  }
};

// What a callback's return means: keep going (0), stop the whole walk (its value), or,
// with FTW_ACTIONRETVAL, skip a subtree or the remaining siblings.
enum Next { k_continue, k_stop, k_skip_subtree, k_skip_siblings };

Next next_of(const Walk& w, int rc, int& result) {
  if ((w.flags & FTW_ACTIONRETVAL) == 0) {
    if (rc != 0) {
      result = rc;
      return k_stop;
    }
    return k_continue;
  }
  switch (rc) {
    case FTW_STOP: result = FTW_STOP; return k_stop;
    case FTW_SKIP_SUBTREE: return k_skip_subtree;
    case FTW_SKIP_SIBLINGS: return k_skip_siblings;
    default: return k_continue;
  }
}

Next visit(Walk& w, size_t len, int base, int level, int& result);

// With FTW_CHDIR the walk stands in the entry's directory: name it by its base name.
const char* local_name(const Walk& w, int base) { return (w.flags & FTW_CHDIR) != 0 ? w.path + base : w.path; }

Next visit_dir(Walk& w, size_t len, int base, int level, const struct stat& st, int& result) {
  struct FTW ftw {base, level};
  DIR* dir = ::opendir(local_name(w, base));  // the wrapper: phantom files are listed
  if (dir == nullptr) {
    if (errno != EACCES) {
      result = -1;
      return k_stop;
    }
    return next_of(w, w.fn(w.path, &st, FTW_DNR, &ftw), result);
  }
  if ((w.flags & FTW_DEPTH) == 0) {
    Next n = next_of(w, w.fn(w.path, &st, FTW_D, &ftw), result);
    if (n != k_continue) {
      ::closedir(dir);
      return n == k_skip_subtree ? k_continue : n;
    }
  }
  // All names first: the callback may change the directory.
  char* names = nullptr;
  size_t used = 0;
  size_t cap = 0;
  while (struct dirent64* d = ::readdir64(dir)) {
    if (d->d_name[0] == '.' && (d->d_name[1] == '\0' || (d->d_name[1] == '.' && d->d_name[2] == '\0'))) {
      continue;
    }
    size_t n = std::strlen(d->d_name) + 1;
    if (used + n > cap) {
      cap = cap == 0 ? 4096 : cap * 2;
      while (cap < used + n) {
        cap *= 2;
      }
      auto* grown = static_cast<char*>(std::realloc(names, cap));
      if (grown == nullptr) {
        break;
      }
      names = grown;
    }
    std::memcpy(names + used, d->d_name, n);
    used += n;
  }
  ::closedir(dir);
  int here = -1;
  if ((w.flags & FTW_CHDIR) != 0) {
    here = real().openat(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (::chdir(local_name(w, base)) != 0) {
      result = -1;
      std::free(names);
      if (here >= 0) {
        ::close(here);
      }
      return k_stop;
    }
  }
  Next n = k_continue;
  for (size_t i = 0; i < used && n == k_continue;) {
    const char* name = names + i;
    size_t name_len = std::strlen(name);
    i += name_len + 1;
    if (len + 1 + name_len >= PATH_MAX) {
      continue;
    }
    w.path[len] = '/';
    std::memcpy(w.path + len + 1, name, name_len + 1);
    n = visit(w, len + 1 + name_len, static_cast<int>(len + 1), level + 1, result);
    w.path[len] = '\0';
  }
  std::free(names);
  if (here >= 0) {
    ::fchdir(here);
    ::close(here);
  }
  if (n == k_stop) {
    return k_stop;
  }
  if ((w.flags & FTW_DEPTH) != 0) {
    Next after = next_of(w, w.fn(w.path, &st, FTW_DP, &ftw), result);
    return after == k_skip_subtree ? k_continue : after;
  }
  return k_continue;
}

Next visit(Walk& w, size_t len, int base, int level, int& result) {
  struct stat st;
  const char* name = local_name(w, base);
  int rc = (w.flags & FTW_PHYS) != 0 ? ::lstat(name, &st) : ::stat(name, &st);
  int type = FTW_F;
  if (rc != 0) {
    if (errno != EACCES && errno != ENOENT && errno != ELOOP) {
      result = -1;
      return k_stop;
    }
    type = (w.flags & FTW_PHYS) == 0 && ::lstat(name, &st) == 0 && S_ISLNK(st.st_mode) ? FTW_SLN : FTW_NS;
  } else if (S_ISDIR(st.st_mode)) {
    type = FTW_D;
  } else if (S_ISLNK(st.st_mode)) {
    type = FTW_SL;
  }
  if (rc == 0 && (w.flags & FTW_MOUNT) != 0 && st.st_dev != w.root_dev) {
    return k_continue;
  }
  if (type == FTW_D) {
    if ((w.flags & FTW_PHYS) == 0 && !w.first_visit(st.st_dev, st.st_ino)) {
      return k_continue;
    }
    return visit_dir(w, len, base, level, st, result);
  }
  struct FTW ftw {base, level};
  return next_of(w, w.fn(w.path, &st, type, &ftw), result);
}

int walk(const char* dirpath, NftwFn fn, int flags) {
  Walk w;
  w.fn = fn;
  w.flags = flags;
  size_t len = std::strlen(dirpath);
  if (len == 0) {
    errno = ENOENT;
    return -1;
  }
  if (len >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(w.path, dirpath, len + 1);
  // glibc reports the start without trailing slashes, keeping a lone "/".
  while (len > 1 && w.path[len - 1] == '/') {
    w.path[--len] = '\0';
  }
  struct stat root;
  if (((flags & FTW_PHYS) != 0 ? ::lstat(w.path, &root) : ::stat(w.path, &root)) == 0) {
    w.root_dev = root.st_dev;
  }
  int base = 0;
  for (size_t i = 0; i < len; ++i) {
    if (w.path[i] == '/' && i + 1 < len) {
      base = static_cast<int>(i + 1);
    }
  }
  int here = -1;
  if ((flags & FTW_CHDIR) != 0 && base > 0) {
    here = real().openat(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char parent[PATH_MAX];
    std::memcpy(parent, w.path, static_cast<size_t>(base));
    parent[base > 1 ? base - 1 : 1] = '\0';
    if (::chdir(parent) != 0) {
      if (here >= 0) {
        ::close(here);
      }
      return -1;
    }
  }
  int result = 0;
  visit(w, len, base, 0, result);
  if (here >= 0) {
    int saved = errno;
    ::fchdir(here);
    ::close(here);
    errno = saved;
  }
  return result;
}

// ftw's callback has no FTW argument and knows no FTW_SL/FTW_SLN/FTW_DP.
using FtwFn = int (*)(const char*, const struct stat*, int);
__thread FtwFn t_ftw_fn __attribute__((tls_model("initial-exec"))) = nullptr;

int ftw_adapter(const char* path, const struct stat* st, int type, struct FTW*) {
  return t_ftw_fn(path, st, type == FTW_SLN ? FTW_NS : type);
}

int ftw_impl(const char* dirpath, FtwFn fn) {
  FtwFn outer = t_ftw_fn;
  t_ftw_fn = fn;
  int rc = walk(dirpath, ftw_adapter, 0);
  t_ftw_fn = outer;
  return rc;
}

}  // namespace
}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int nftw(const char* dirpath, NftwFn fn, int nopenfd, int flags) {
  if (!active()) {
    return real().nftw(dirpath, fn, nopenfd, flags);
  }
  return walk(dirpath, fn, flags);
}

// struct stat64 is struct stat on x86-64.
VRIFT_EXPORT int nftw64(const char* dirpath, int (*fn)(const char*, const struct stat64*, int, struct FTW*),
                        int nopenfd, int flags) {
  if (!active()) {
    return real().nftw64(dirpath, fn, nopenfd, flags);
  }
  return walk(dirpath, reinterpret_cast<NftwFn>(fn), flags);
}

VRIFT_EXPORT int ftw(const char* dirpath, FtwFn fn, int nopenfd) {
  if (!active()) {
    return real().ftw(dirpath, fn, nopenfd);
  }
  return ftw_impl(dirpath, fn);
}

VRIFT_EXPORT int ftw64(const char* dirpath, int (*fn)(const char*, const struct stat64*, int), int nopenfd) {
  if (!active()) {
    return real().ftw64(dirpath, fn, nopenfd);
  }
  return ftw_impl(dirpath, reinterpret_cast<FtwFn>(fn));
}
