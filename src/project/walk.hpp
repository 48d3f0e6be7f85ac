#pragma once
// Walking a project tree: every directory, file and symlink below a starting directory,
// without following symlinks, parents before their children.

#include <sys/stat.h>

#include <functional>
#include <string>

#include "base/error.hpp"

namespace vrift::project {

struct WalkEntry {
  const std::string& rel;  // path relative to the walk's root ("" for the root itself)
  const struct stat& st;   // lstat of the entry
};

// Called for each entry; return false to not descend into a directory.
using WalkVisitor = std::function<bool(const WalkEntry&)>;
// Called when a directory cannot be read or an entry cannot be stat-ed; the walk goes on.
using WalkErrorSink = std::function<void(const std::string& rel, const Error& error)>;

// Walks `start` (relative to `root_fd`; "" is the root itself), visiting `start` first.
// Paths longer than PATH_MAX are reached through per-directory fds, not whole paths.
void walk_tree(int root_fd, const std::string& start, const WalkVisitor& visit, const WalkErrorSink& on_error);

}  // namespace vrift::project
