#include "project/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/fd.hpp"

namespace vrift::project {

namespace {

// Opens `name` relative to its parent's fd, so depth is not limited by PATH_MAX.
void walk_dir(int parent_fd, const char* dir_name, std::string& rel, const WalkVisitor& visit,
              const WalkErrorSink& on_error) {
  int fd = ::openat(parent_fd, dir_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    on_error(rel, sys_error("open directory"));
    return;
  }
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    on_error(rel, sys_error("read directory"));
    return;
  }
  // Read all names first: the visitor may change the directory (projection replaces
  // entries), and readdir over a changing directory may repeat or miss names.
  std::vector<std::string> names;
  errno = 0;
  while (dirent* ent = ::readdir(dir)) {
    if (std::strcmp(ent->d_name, ".") != 0 && std::strcmp(ent->d_name, "..") != 0) {
      names.emplace_back(ent->d_name);
    }
    errno = 0;
  }
  if (errno != 0) {
    on_error(rel, sys_error("read directory"));
  }
  int self = ::dirfd(dir);
  size_t base_len = rel.size();
  for (const auto& name : names) {
    struct stat st;
    rel.resize(base_len);
    if (!rel.empty()) {
      rel += '/';
    }
    rel += name;
    if (::fstatat(self, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) {  // vanished since the listing: nothing to report
        on_error(rel, sys_error("stat"));
      }
      continue;
    }
    bool descend = visit(WalkEntry{rel, st});
    if (descend && S_ISDIR(st.st_mode)) {
      walk_dir(self, name.c_str(), rel, visit, on_error);
    }
  }
  rel.resize(base_len);
  ::closedir(dir);
}

}  // namespace

void walk_tree(int root_fd, const std::string& start, const WalkVisitor& visit, const WalkErrorSink& on_error) {
  struct stat st;
  if (::fstatat(root_fd, start.empty() ? "." : start.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    on_error(start, sys_error("stat"));
    return;
  }
  std::string rel = start;
  if (!visit(WalkEntry{rel, st}) || !S_ISDIR(st.st_mode)) {
    return;
  }
  walk_dir(root_fd, start.empty() ? "." : start.c_str(), rel, visit, on_error);
}

}  // namespace vrift::project
