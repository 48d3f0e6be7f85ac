#pragma once
// Deciding whether a path is the project's: resolve (dirfd, path) to an absolute path,
// normalize it lexically (".", "..", "//"), then one prefix compare. Everything outside
// the project (and the project's own .vrift/ state) passes straight through.
//
// Relative paths are resolved against a cached cwd (refreshed after chdir/fchdir) or,
// for a directory fd, /proc/self/fd/N. A path with ".." has everything up to its last
// ".." resolved by the kernel (directories are physical), since `link/..` goes up from
// the link's target; the rest is normalized lexically.

#include <climits>
#include <cstddef>

namespace vrift::shim {

struct ManagedPath {
  char abs[PATH_MAX];      // normalized absolute path
  size_t abs_len = 0;
  const char* rel = "";    // project-relative path, pointing into abs ("" = the root)
  size_t rel_len = 0;
  bool trailing_slash = false;  // "x/": must be a directory
};

// True when (dirfd, path) is inside the active project. Never allocates; keeps errno.
bool classify(int dirfd, const char* path, ManagedPath& out) noexcept;

// True when `path` is absolute, plainly elsewhere (no ".", "..", "//" or trailing '/'
// to resolve) and not in /dev or /proc (whose fd links may lead into the project):
// classify() would say no. The common case of a session's calls, answered before a
// wrapper builds anything.
bool clearly_outside(const char* path) noexcept;

// Builds the ManagedPath of a project-relative path. False when too long.
bool project_path(const char* rel, size_t len, ManagedPath& out) noexcept;

// Forgets the cached cwd (after chdir/fchdir).
void invalidate_cwd() noexcept;

}  // namespace vrift::shim
