#pragma once
// Walking a project tree: every directory, file and symlink below a starting directory,
// without following symlinks, parents before their children, in the order of their
// manifest keys (keys.hpp): directories by path, each one's entries by name, bytewise.
// The walker reads each directory's entry types and stats nothing itself beyond what
// DT_UNKNOWN needs, so a visitor that only needs names and types costs no stat per file.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <functional>
#include <string>

#include "base/error.hpp"

namespace vrift::project {

struct WalkEntry {
  const std::string& rel;  // path relative to the walk's root
  int dir_fd;              // the entry's parent directory, open
  const char* name;        // the entry's name in it ("." for the starting directory)
  unsigned char type;      // DT_REG, DT_DIR, DT_LNK, DT_FIFO, ... (never DT_UNKNOWN)

  // lstat of the entry. Returns false (errno set) when that fails.
  bool stat(struct stat& st) const { return ::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0; }
};

// Called for each entry; return false to not descend into a directory.
using WalkVisitor = std::function<bool(const WalkEntry&)>;
// Called when a directory cannot be read or an entry cannot be typed; the walk goes on.
using WalkErrorSink = std::function<void(const std::string& rel, const Error& error)>;

// Walks `start` (relative to `root_fd`; "" is the root itself), visiting `start` first.
// Directories are opened relative to their parent's fd, so depth is not limited by
// PATH_MAX.
void walk_tree(int root_fd, const std::string& start, const WalkVisitor& visit, const WalkErrorSink& on_error);

}  // namespace vrift::project
