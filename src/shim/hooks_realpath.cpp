// realpath and friends, reimplemented: glibc's realpath calls its internal readlink and
// lstat, which no wrapper sees, and would resolve a Tier-1 symlink into The Source (or
// fail on a phantom file). This walk resolves one component at a time, asking the
// manifest first inside the project and the kernel everywhere else.

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shim/export.hpp"
#include "shim/fd_paths.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {

namespace {

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

// Resolves `path` into out (PATH_MAX). Returns false with errno set.
bool resolve_path(const char* path, char* out) noexcept {
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
  Lookup lookup;
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

char* realpath_impl(const char* path, char* resolved) noexcept {
  if (!active()) {
    return real().realpath(path, resolved);
  }
  ManagedPath mp;
  Guard guard;
  char buf[PATH_MAX];
  int saved = errno;
  int fd = path != nullptr ? proc_fd_number(path) : -1;
  if (fd >= 0 && fd_project_path(fd, buf, sizeof buf) > 0) {
    // a managed file's descriptor: its project path, not the blob behind it
  } else if (path != nullptr && !classify(AT_FDCWD, path, mp)) {
    return real().realpath(path, resolved);  // outside the project: the kernel's view
  } else if (!resolve_path(path, buf)) {
    return nullptr;
  }
  errno = saved;
  if (resolved == nullptr) {
    resolved = static_cast<char*>(std::malloc(std::strlen(buf) + 1));
    if (resolved == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  std::strcpy(resolved, buf);
  return resolved;
}

}  // namespace

}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT char* realpath(const char* path, char* resolved) { return realpath_impl(path, resolved); }
VRIFT_EXPORT char* __realpath_chk(const char* path, char* resolved, size_t resolved_len) {
  if (resolved != nullptr && resolved_len < PATH_MAX) {
    return real().__realpath_chk(path, resolved, resolved_len);  // let glibc report the overflow
  }
  return realpath_impl(path, resolved);
}
VRIFT_EXPORT char* canonicalize_file_name(const char* path) { return realpath_impl(path, nullptr); }
