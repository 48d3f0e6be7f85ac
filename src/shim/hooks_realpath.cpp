// realpath and friends, reimplemented: glibc's realpath calls its internal readlink and
// lstat, which no wrapper sees, and would resolve a Tier-1 symlink into The Source (or
// fail on a phantom file or a virtual directory). canonical_path() (vfs.hpp) resolves
// one component at a time, asking the manifest first inside the project and the kernel
// everywhere else.

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shim/export.hpp"
#include "shim/fd_paths.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {

namespace {

char* realpath_impl(const char* path, char* resolved) noexcept {
  if (!active()) {
    return real().realpath(path, resolved);
  }
  ManagedPath mp;
  Guard guard;
  char buf[PATH_MAX];
  int saved = errno;
  int fd = path != nullptr ? proc_fd_number(path) : -1;
  if (fd >= 0 && fd_project_path(fd, buf, sizeof buf) > 0) {
    // a managed file's descriptor: its project path, not the blob behind it
  } else if (path != nullptr && !classify(AT_FDCWD, path, mp)) {
    return real().realpath(path, resolved);  // outside the project: the kernel's view
  } else if (Lookup lookup; !canonical_path(path, buf, lookup)) {
    return nullptr;
  }
  errno = saved;
  if (resolved == nullptr) {
    resolved = static_cast<char*>(std::malloc(std::strlen(buf) + 1));
    if (resolved == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
  }
  std::strcpy(resolved, buf);
  return resolved;
}

}  // namespace

}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT char* realpath(const char* path, char* resolved) { return realpath_impl(path, resolved); }
VRIFT_EXPORT char* __realpath_chk(const char* path, char* resolved, size_t resolved_len) {
  if (resolved != nullptr && resolved_len < PATH_MAX) {
    return real().__realpath_chk(path, resolved, resolved_len);  // let glibc report the overflow
  }
  return realpath_impl(path, resolved);
}
VRIFT_EXPORT char* canonicalize_file_name(const char* path) { return realpath_impl(path, nullptr); }
