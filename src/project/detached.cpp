#include "project/detached.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vrift::project {

void run_detached(int keep_fd, const std::function<void()>& work) noexcept {
  pid_t child = ::fork();
  if (child == 0) {
    if (::fork() == 0) {
      // Nothing of the caller's stays open here: a pipe held open would keep whoever
      // reads the caller's output waiting for this process, and a lock (ingest's) would
      // keep the next command waiting.
      int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      for (int std_fd = 0; std_fd < 3 && null >= 0; ++std_fd) {
        ::dup2(null, std_fd);
      }
      if (keep_fd >= 3) {
        ::close_range(3, static_cast<unsigned>(keep_fd) - 1, 0);
        ::close_range(static_cast<unsigned>(keep_fd) + 1, ~0u, 0);
      } else {
        ::close_range(3, ~0u, 0);
      }
      ::setsid();
      ::setpriority(PRIO_PROCESS, 0, 19);
      ::syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, 3 << 13 /* IOPRIO_CLASS_IDLE */);
      try {
        work();
      } catch (...) {
      }
    }
    ::_exit(0);
  }
  if (child > 0) {
    ::waitpid(child, nullptr, 0);
  }
}

}  // namespace vrift::project
