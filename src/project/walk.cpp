#include "project/walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "base/fd.hpp"

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

// Reads all of a directory's names with getdents64 directly: opendir's DIR costs an
// allocation and two fcntl calls per directory, a tenth of a no-op re-ingest.
// `buf` is shared by the whole walk: names are copied out before it descends.
bool read_names(int fd, std::vector<char>& buf, std::vector<std::pair<std::string, unsigned char>>& entries) {
  for (;;) {
    ssize_t n = ::getdents64(fd, buf.data(), buf.size());
    if (n < 0) {
      return false;
    }
    if (n == 0) {
      return true;
    }
    for (ssize_t off = 0; off < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf.data() + off);
      off += d->d_reclen;
      if (std::strcmp(d->d_name, ".") != 0 && std::strcmp(d->d_name, "..") != 0) {
        entries.emplace_back(d->d_name, d->d_type);
      }
    }
  }
}

// A directory waiting to be read: its path and its parent, held open (shared by its
// siblings) so that depth is not limited by PATH_MAX.
struct Pending {
  std::string rel;
  std::shared_ptr<UniqueFd> parent;
  std::string name;
};

// Orders the heap so that the smallest path comes out first.
struct LaterPath {
  bool operator()(const Pending& a, const Pending& b) const { return a.rel > b.rel; }
};

// Reads one directory and visits its entries in name order; the subdirectories to
// descend into join `pending`.
void walk_dir(Pending& dir, std::vector<char>& buf, std::vector<Pending>& pending, const WalkVisitor& visit,
              const WalkErrorSink& on_error) {
  auto self = std::make_shared<UniqueFd>(
      ::openat(dir.parent->get(), dir.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!*self) {
    on_error(dir.rel, sys_error("open directory"));
    return;
  }
  // Read all names first: the visitor may change the directory (projection replaces
  // entries), and reading a changing directory may repeat or miss names.
  std::vector<std::pair<std::string, unsigned char>> entries;
  if (!read_names(self->get(), buf, entries)) {
    on_error(dir.rel, sys_error("read directory"));
  }
  std::sort(entries.begin(), entries.end());
  std::string rel = dir.rel;
  size_t base_len = rel.size();
  for (auto& [name, type] : entries) {
    rel.resize(base_len);
    if (!rel.empty()) {
      rel += '/';
    }
    rel += name;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (::fstatat(self->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) {  // vanished since the listing: nothing to report
          on_error(rel, sys_error("stat"));
        }
        continue;
      }
      type = type_of_mode(st.st_mode);
    }
    bool descend = visit(WalkEntry{rel, self->get(), name.c_str(), type});
    if (descend && type == DT_DIR) {
      pending.push_back(Pending{rel, self, std::move(name)});
      std::push_heap(pending.begin(), pending.end(), LaterPath{});
    }
  }
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
  std::vector<char> buf(32768);  // (operator new aligns it for dirent64)
  // Directories in path order, each one's entries in name order: the order of their
  // manifest keys (a parent's path, then the name), so that the puts of an ingest come
  // sorted. A heap holds the directories not yet read; each one read adds only paths
  // that sort after it.
  int root_copy = ::fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  if (root_copy < 0) {
    on_error(start, sys_error("dup"));
    return;
  }
  std::vector<Pending> pending;
  pending.push_back(Pending{rel, std::make_shared<UniqueFd>(root_copy), start_path});
  while (!pending.empty()) {
    std::pop_heap(pending.begin(), pending.end(), LaterPath{});
    Pending dir = std::move(pending.back());
    pending.pop_back();
    walk_dir(dir, buf, pending, visit, on_error);
  }
}

}  // namespace vrift::project
