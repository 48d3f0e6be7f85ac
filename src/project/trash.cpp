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
  // A grandchild does it, detached (the caller neither waits for it nor reaps it), at
  // idle CPU and I/O priority.
  pid_t child = ::fork();
  if (child == 0) {
    if (::fork() == 0) {
      // Nothing of the caller's stays open here: a pipe held open would keep whoever
      // reads the caller's output waiting for this process.
      int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      for (int std_fd = 0; std_fd < 3 && null >= 0; ++std_fd) {
        ::dup2(null, std_fd);
      }
      ::close_range(3, static_cast<unsigned>(fd) - 1, 0);
      ::close_range(static_cast<unsigned>(fd) + 1, ~0u, 0);
      ::setsid();
      ::setpriority(PRIO_PROCESS, 0, 19);
      ::syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, 3 << 13 /* IOPRIO_CLASS_IDLE */);
      remove_below(fd);
      ::rmdir(trash.c_str());
    }
    ::_exit(0);
  }
  ::close(fd);
  if (child > 0) {
    ::waitpid(child, nullptr, 0);
  }
}

}  // namespace vrift::project
