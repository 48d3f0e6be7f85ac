#include "project/trash.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.hpp"
#include "project/detached.hpp"

namespace vrift::project {

namespace {

// Removes everything below the directory open as `dir_fd` (closing it), depth first.
void remove_below(int dir_fd) noexcept {
  DIR* dir = ::fdopendir(dir_fd);
  if (dir == nullptr) {
    ::close(dir_fd);
    return;
  }
  while (dirent* ent = ::readdir(dir)) {
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) {
      continue;
    }
    if (::unlinkat(::dirfd(dir), ent->d_name, 0) == 0 || errno != EISDIR) {
      continue;
    }
    int sub = ::openat(::dirfd(dir), ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub >= 0) {
      remove_below(sub);
    }
    ::unlinkat(::dirfd(dir), ent->d_name, AT_REMOVEDIR);
  }
  ::closedir(dir);
}

}  // namespace

Trash::Trash(int root_fd, std::string state_dir) noexcept : m_root_fd(root_fd), m_state_dir(std::move(state_dir)) {}

Trash::~Trash() { empty_later(); }

bool Trash::ready() noexcept {
  std::call_once(m_made, [&] {
    std::string trash = m_state_dir + "/trash";
    std::string mine = trash + "/" + std::to_string(::getpid());
    if ((::mkdir(trash.c_str(), 0700) == 0 || errno == EEXIST) && (::mkdir(mine.c_str(), 0700) == 0 || errno == EEXIST)) {
      m_dir_fd.reset(::open(mine.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
  });
  return static_cast<bool>(m_dir_fd);
}

bool Trash::take(int dir_fd, const char* name) noexcept {
  if (!ready()) {
    return false;
  }
  std::string trashed = std::to_string(m_next.fetch_add(1, std::memory_order_relaxed));
  return ::renameat(dir_fd, name, m_dir_fd.get(), trashed.c_str()) == 0;
}

void Trash::empty_later() noexcept {
  if (m_emptied) {
    return;
  }
  m_emptied = true;
  std::string trash = m_state_dir + "/trash";
  int fd = ::open(trash.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return;  // no run ever trashed anything here
  }
  run_detached(fd, [&] {
    remove_below(fd);
    ::rmdir(trash.c_str());
  });
  ::close(fd);
}

}  // namespace vrift::project
