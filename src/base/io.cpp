#include "base/io.hpp"

#include <unistd.h>

#include <cerrno>

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

}  // namespace vrift
