// dlopen of a managed file. ld.so opens the file itself (no wrapper sees it), so a
// phantom library cannot be found; and ld.so identifies a loaded object by (device,
// inode), so two packages whose identical native addons share one blob would get one
// handle and one run of constructors ("Module did not self-register"). Each managed path
// therefore gets a real file of its own: a copy of its blob under
// <project>/.vrift/materialized/, named by the path's virtual inode, made once and
// atomically (temp + rename), reused after that.
// Not covered yet: libraries found next to the object through $ORIGIN, which resolves
// relative to the copy.

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "shim/export.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {
namespace {

bool copy_fd(int from, int to, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, static_cast<size_t>(size - done), 0);
    if (n <= 0) {
      return false;
    }
    done += static_cast<uint64_t>(n);
  }
  return true;
}

// Writes into `out` the path of the per-path copy of a managed file, making it if needed.
bool materialize(const ManagedFile& file, char* out) {
  const char* name = std::strrchr(file.path.abs, '/');
  name = name != nullptr ? name + 1 : file.path.abs;
  char dir[PATH_MAX + 32];
  std::snprintf(dir, sizeof dir, "%s/.vrift/materialized", g_session.project);
  char id[24];
  std::snprintf(id, sizeof id, "/%llx-", static_cast<unsigned long long>(file.st.st_ino));
  size_t dir_len = std::strlen(dir);
  size_t id_len = std::strlen(id);
  size_t name_len = std::strlen(name);
  if (dir_len + id_len + name_len >= PATH_MAX) {
    return false;
  }
  std::memcpy(out, dir, dir_len);
  std::memcpy(out + dir_len, id, id_len);
  std::memcpy(out + dir_len + id_len, name, name_len + 1);
  struct stat st;
  if (real().fstatat(AT_FDCWD, out, &st, 0) == 0 && st.st_size == file.st.st_size) {
    return true;
  }
  ::mkdir(dir, 0755);
  char source[PATH_MAX];
  const char* from = file.path.abs;
  if (g_session.phantom) {
    if (!blob_path(file.entry, source)) {
      return false;
    }
    from = source;
  }
  char tmp[PATH_MAX + 96];
  std::snprintf(tmp, sizeof tmp, "%s/.tmp-%d-%llx", dir, static_cast<int>(::getpid()),
                static_cast<unsigned long long>(file.st.st_ino));
  int in = real().openat(AT_FDCWD, from, O_RDONLY | O_CLOEXEC);
  int dst = real().openat(AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0555);
  bool ok = in >= 0 && dst >= 0 && copy_fd(in, dst, static_cast<uint64_t>(file.st.st_size));
  if (in >= 0) {
    ::close(in);
  }
  if (dst >= 0) {
    ::close(dst);
  }
  if (!ok || ::rename(tmp, out) != 0) {
    ::unlink(tmp);
    return false;
  }
  return true;
}

}  // namespace
}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT void* dlopen(const char* path, int flags) {
  if (path != nullptr && std::strchr(path, '/') != nullptr && active()) {
    int saved = errno;
    char copy[PATH_MAX];
    bool materialized = false;
    {
      ManagedFile file;
      materialized = file.resolve(AT_FDCWD, path, true) == 1 && materialize(file, copy);
    }
    errno = saved;
    if (materialized) {
      return real().dlopen(copy, flags);
    }
  }
  return real().dlopen(path, flags);
}
