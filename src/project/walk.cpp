#include "project/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <utility>
#include <vector>

namespace vrift::project {

namespace {

unsigned char type_of_mode(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    default: return DT_UNKNOWN;
  }
}

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
  std::vector<std::pair<std::string, unsigned char>> entries;
  errno = 0;
  while (dirent* ent = ::readdir(dir)) {
    if (std::strcmp(ent->d_name, ".") != 0 && std::strcmp(ent->d_name, "..") != 0) {
      entries.emplace_back(ent->d_name, ent->d_type);
    }
    errno = 0;
  }
  if (errno != 0) {
    on_error(rel, sys_error("read directory"));
  }
  int self = ::dirfd(dir);
  size_t base_len = rel.size();
  for (auto& [name, type] : entries) {
    rel.resize(base_len);
    if (!rel.empty()) {
      rel += '/';
    }
    rel += name;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (::fstatat(self, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) {  // vanished since the listing: nothing to report
          on_error(rel, sys_error("stat"));
        }
        continue;
      }
      type = type_of_mode(st.st_mode);
    }
    bool descend = visit(WalkEntry{rel, self, name.c_str(), type});
    if (descend && type == DT_DIR) {
      walk_dir(self, name.c_str(), rel, visit, on_error);
    }
  }
  rel.resize(base_len);
  ::closedir(dir);
}

}  // namespace

void walk_tree(int root_fd, const std::string& start, const WalkVisitor& visit, const WalkErrorSink& on_error) {
  const char* start_path = start.empty() ? "." : start.c_str();
  struct stat st;
  if (::fstatat(root_fd, start_path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    on_error(start, sys_error("stat"));
    return;
  }
  std::string rel = start;
  unsigned char type = type_of_mode(st.st_mode);
  if (!visit(WalkEntry{rel, root_fd, start_path, type}) || type != DT_DIR) {
    return;
  }
  walk_dir(root_fd, start_path, rel, visit, on_error);
}

}  // namespace vrift::project
