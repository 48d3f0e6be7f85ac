#include "cli/unshim.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "project/session.hpp"

extern char** environ;

namespace vrift::cli {

void leave_shim(char** argv) noexcept {
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload == nullptr || std::strstr(preload, "libvrift_shim.so") == nullptr) {
    return;
  }
  try {
    const char* shim = std::getenv("VRIFT_SHIM");
    std::string rest = project::preload_without_shim(preload, shim ? shim : "");
    std::string rest_var = "LD_PRELOAD=" + rest;
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0) {
        envp.push_back(*e);
      }
    }
    if (!rest.empty()) {
      envp.push_back(rest_var.data());
    }
    envp.push_back(nullptr);
    // The raw system call: the shim wraps execve() to put itself back into children.
    ::syscall(SYS_execve, "/proc/self/exe", argv, envp.data());
  } catch (...) {
    // Out of memory this early: go on as we are.
  }
}

}  // namespace vrift::cli
