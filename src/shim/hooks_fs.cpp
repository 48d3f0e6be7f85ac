// statfs/statvfs (and *64, fstatfs/fstatvfs): what filesystem a path is on. A managed
// file lives, for the program, in its project directory: a phantom file is not
// physically there (the kernel says ENOENT) and a Solid Tier-1 link leads into The
// Source, which may be another filesystem. Both answer as the file's directory does.
// A descriptor on a managed file (a blob underneath) answers as the project does.
// struct statfs/statvfs and their *64 forms are the same on x86-64.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "shim/export.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {
namespace {

// Calls query(path) on the directory of a managed file, query(path) otherwise.
template <class Query>
int path_query(const char* path, Query&& query) noexcept {
  if (active()) {
    ManagedFile file;
    int found = file.resolve(AT_FDCWD, path, true);
    if (found < 0) {
      return -1;
    }
    if (found > 0) {
      char* slash = std::strrchr(file.path.abs, '/');
      if (slash == file.path.abs) {
        ++slash;
      }
      *slash = '\0';
      return query(file.path.abs);
    }
  }
  return query(path);
}

// Calls query_fd(fd), then, for a managed file's fd, query_path(project) instead.
template <class QueryFd, class QueryPath>
int fd_query(int fd, QueryFd&& query_fd, QueryPath&& query_path) noexcept {
  int rc = query_fd(fd);
  if (rc != 0 || !active()) {
    return rc;
  }
  int saved = errno;
  struct stat st;
  struct stat vst;
  if (real().fstat(fd, &st) == 0 && fd_virtual_stat(fd, st.st_dev, st.st_ino, vst)) {
    rc = query_path(g_session.project);
  }
  errno = saved;
  return rc;
}

}  // namespace
}  // namespace vrift::shim

using namespace vrift::shim;

VRIFT_EXPORT int statfs(const char* path, struct statfs* buf) noexcept {
  return path_query(path, [buf](const char* p) { return real().statfs(p, buf); });
}
VRIFT_EXPORT int statfs64(const char* path, struct statfs64* buf) noexcept {
  return path_query(path, [buf](const char* p) { return real().statfs64(p, buf); });
}
VRIFT_EXPORT int __statfs(const char* path, struct statfs* buf) noexcept {
  return path_query(path, [buf](const char* p) { return real().statfs(p, buf); });
}
VRIFT_EXPORT int statvfs(const char* path, struct statvfs* buf) noexcept {
  return path_query(path, [buf](const char* p) { return real().statvfs(p, buf); });
}
VRIFT_EXPORT int statvfs64(const char* path, struct statvfs64* buf) noexcept {
  return path_query(path, [buf](const char* p) { return real().statvfs64(p, buf); });
}

VRIFT_EXPORT int fstatfs(int fd, struct statfs* buf) noexcept {
  return fd_query(
      fd, [buf](int f) { return real().fstatfs(f, buf); }, [buf](const char* p) { return real().statfs(p, buf); });
}
VRIFT_EXPORT int fstatfs64(int fd, struct statfs64* buf) noexcept {
  return fd_query(
      fd, [buf](int f) { return real().fstatfs64(f, buf); }, [buf](const char* p) { return real().statfs64(p, buf); });
}
VRIFT_EXPORT int fstatvfs(int fd, struct statvfs* buf) noexcept {
  return fd_query(
      fd, [buf](int f) { return real().fstatvfs(f, buf); }, [buf](const char* p) { return real().statvfs(p, buf); });
}
VRIFT_EXPORT int fstatvfs64(int fd, struct statvfs64* buf) noexcept {
  return fd_query(
      fd, [buf](int f) { return real().fstatvfs64(f, buf); },
      [buf](const char* p) { return real().statvfs64(p, buf); });
}
