#include "base/io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "base/fd.hpp"

namespace vrift {

Status write_all(int fd, const void* data, size_t len) noexcept {
  auto* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail_sys("write");
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return {};
}

Status pwrite_all(int fd, const void* data, size_t len, uint64_t offset) noexcept {
  auto* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail_sys("pwrite");
    }
    p += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

Result<size_t> read_full(int fd, void* data, size_t len) noexcept {
  auto* p = static_cast<char*>(data);
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::read(fd, p + done, len - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail_sys("read");
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

Status make_dir(int dirfd, const char* path, mode_t mode) noexcept {
  if (::mkdirat(dirfd, path, mode) != 0 && errno != EEXIST) {
    return fail_sys("mkdir");
  }
  return {};
}

Status sync_dir(int dirfd, const char* rel, const char* op) noexcept {
  UniqueFd dir(::openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return dir && ::fsync(dir.get()) == 0 ? Status{} : fail_sys(op);
}

Result<std::vector<std::string>> list_dir(int dirfd, const char* rel) {
  int fd = ::openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* dir = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (dir == nullptr) {
    Error e = sys_error("list directory");
    if (fd >= 0) {
      ::close(fd);
    }
    return fail(e);
  }
  std::vector<std::string> names;
  while (dirent* ent = ::readdir(dir)) {
    if (std::strcmp(ent->d_name, ".") != 0 && std::strcmp(ent->d_name, "..") != 0) {
      names.emplace_back(ent->d_name);
    }
  }
  ::closedir(dir);
  return names;
}

Status replace_symlink(int dirfd, const std::string& rel, const std::string& target, const char* op) {
  std::string tmp = rel + ".tmp." + std::to_string(::getpid());
  ::unlinkat(dirfd, tmp.c_str(), 0);
  if (::symlinkat(target.c_str(), dirfd, tmp.c_str()) != 0) {
    return fail_sys(op);
  }
  if (::renameat(dirfd, tmp.c_str(), dirfd, rel.c_str()) != 0) {
    Error e = sys_error(op);
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return fail(e);
  }
  return {};
}

std::string read_symlink(int dirfd, const std::string& rel) {
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(dirfd, rel.c_str(), buf, sizeof buf);
  return n > 0 && static_cast<size_t>(n) < sizeof buf ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace vrift
