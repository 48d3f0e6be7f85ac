#include "shim/path.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "shim/path_scan.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"

namespace vrift::shim {

namespace {

constinit char g_cwd[PATH_MAX] = {};
constinit size_t g_cwd_len = 0;
constinit std::atomic<bool> g_cwd_valid{false};

// Copies the cwd into out; false if it cannot be had.
bool current_dir(char* out, size_t& len) noexcept {
  if (!g_cwd_valid.load(std::memory_order_acquire)) {
    if (::getcwd(g_cwd, sizeof g_cwd) == nullptr) {
      return false;
    }
    g_cwd_len = std::strlen(g_cwd);
    g_cwd_valid.store(true, std::memory_order_release);
  }
  len = g_cwd_len;
  std::memcpy(out, g_cwd, len);
  return true;
}

bool dir_fd_path(int dirfd, char* out, size_t& len) noexcept {
  char proc[32];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", dirfd);
  ssize_t n = real().readlink(proc, out, PATH_MAX - 1);
  if (n <= 0 || out[0] != '/') {
    return false;
  }
  len = static_cast<size_t>(n);
  return true;
}

// Normalizes abs[0..len) in place: collapses "//", drops ".", resolves "..".
size_t normalize(char* abs, size_t len) noexcept {
  size_t out = 0;
  size_t i = 0;
  while (i < len) {
    while (i < len && abs[i] == '/') {
      ++i;
    }
    size_t start = i;
    while (i < len && abs[i] != '/') {
      ++i;
    }
    size_t n = i - start;
    if (n == 0 || (n == 1 && abs[start] == '.')) {
      continue;
    }
    if (n == 2 && abs[start] == '.' && abs[start + 1] == '.') {
      while (out > 0 && abs[out - 1] != '/') {
        --out;
      }
      if (out > 0) {
        --out;  // the '/' before the dropped component
      }
      continue;
    }
    abs[out++] = '/';
    std::memmove(abs + out, abs + start, n);
    out += n;
  }
  if (out == 0) {
    abs[out++] = '/';
  }
  abs[out] = '\0';
  return out;
}

// End of the last ".." component in abs[0..len), or 0 when there is none.
size_t last_dotdot_end(const char* abs, size_t len) noexcept {
  size_t end = 0;
  for (size_t i = 0; i + 1 < len; ++i) {
    if (abs[i] == '.' && abs[i + 1] == '.' && (i == 0 || abs[i - 1] == '/') && (i + 2 == len || abs[i + 2] == '/')) {
      end = i + 2;
    }
  }
  return end;
}

// ".." after a symlinked directory goes up from the link's target, not lexically: let
// the kernel resolve everything up to the last "..", then append the rest.
void resolve_dotdot(char* abs, size_t& len) noexcept {
  size_t end = last_dotdot_end(abs, len);
  if (end == 0) {
    return;
  }
  char prefix[PATH_MAX];
  std::memcpy(prefix, abs, end);
  prefix[end] = '\0';
  char resolved[PATH_MAX];
  int saved = errno;
  bool ok = real().realpath(prefix, resolved) != nullptr;
  errno = saved;
  if (!ok) {
    return;  // a missing directory: lexical normalization is all there is
  }
  size_t rlen = std::strlen(resolved);
  size_t rest = len - end;
  if (rlen + rest >= PATH_MAX) {
    return;
  }
  std::memmove(abs + rlen, abs + end, rest + 1);
  std::memcpy(abs, resolved, rlen);
  len = rlen + rest;
}

// "/dev/fd/N/rest" or "/proc/self/fd/N/rest", a path through a directory descriptor
// (what the kernel hands a script run by execveat): N and where rest starts, or -1.
int fd_dir_prefix(const char* p, size_t& rest) noexcept {
  size_t i = 0;
  if (std::strncmp(p, "/dev/fd/", 8) == 0) {
    i = 8;
  } else if (std::strncmp(p, "/proc/self/fd/", 14) == 0) {
    i = 14;
  } else {
    return -1;
  }
  int fd = 0;
  size_t digits = i;
  while (p[i] >= '0' && p[i] <= '9' && fd < 100000000) {
    fd = fd * 10 + (p[i++] - '0');
  }
  if (i == digits || p[i] != '/') {
    return -1;
  }
  rest = i;
  return fd;
}

// classify() of "/dev/fd/N/rest": the directory N names, then rest. Out of line: its
// buffer stays off the common path's stack frame.
__attribute__((noinline)) bool through_fd_dir(const char* path, size_t len, ManagedPath& out) noexcept {
  size_t rest = 0;
  int fd = fd_dir_prefix(path, rest);
  if (fd < 0) {
    return false;
  }
  char joined[PATH_MAX];
  size_t base = 0;
  int saved = errno;
  bool ok = dir_fd_path(fd, joined, base) && base + (len - rest) < PATH_MAX;
  errno = saved;
  if (!ok) {
    return false;
  }
  std::memcpy(joined + base, path + rest, len - rest + 1);
  return classify(AT_FDCWD, joined, out);
}

// The project's path, then the end or a '/'.
bool starts_in_project(const char* path, size_t len) noexcept {
  const size_t plen = g_session.project_len;
  return len >= plen && std::memcmp(path, g_session.project, plen) == 0 && (len == plen || path[plen] == '/');
}

// The project's alias (the root as reached through a symlink), then the end or a '/'.
bool starts_in_alias(const char* path, size_t len) noexcept {
  const size_t alen = g_session.alias_len;
  return alen != 0 && len >= alen && std::memcmp(path, g_session.alias, alen) == 0 &&
         (len == alen || path[alen] == '/');
}

// out.abs = the project's real root + what follows the alias in `path`.
__attribute__((noinline)) bool from_alias(const char* path, size_t len, ManagedPath& out) noexcept {
  size_t rest = len - g_session.alias_len;
  if (g_session.project_len + rest >= PATH_MAX) {
    return false;
  }
  std::memcpy(out.abs, g_session.project, g_session.project_len);
  std::memcpy(out.abs + g_session.project_len, path + g_session.alias_len, rest + 1);
  out.abs_len = g_session.project_len + rest;
  return true;
}

}  // namespace

bool project_path(const char* rel, size_t len, ManagedPath& out) noexcept {
  size_t plen = g_session.project_len;
  if (plen + 1 + len >= PATH_MAX) {
    return false;
  }
  std::memcpy(out.abs, g_session.project, plen);
  out.abs[plen] = '/';
  std::memcpy(out.abs + plen + 1, rel, len);
  out.abs_len = plen + 1 + len;
  out.abs[out.abs_len] = '\0';
  out.rel = out.abs + plen + 1;
  out.rel_len = len;
  out.trailing_slash = false;
  return true;
}

void invalidate_cwd() noexcept { g_cwd_valid.store(false, std::memory_order_release); }

bool may_lead_back(const char* path) noexcept { return needs_normalizing(path, std::strlen(path)); }

bool classify(int dirfd, const char* path, ManagedPath& out) noexcept {
  if (path == nullptr || path[0] == '\0') {
    return false;
  }
  const size_t plen = g_session.project_len;
  size_t len = std::strlen(path);
  if (path[0] == '/') {
    bool inside = starts_in_project(path, len);
    if (!inside && starts_in_alias(path, len)) {
      if (!from_alias(path, len, out)) {
        return false;
      }
    } else {
      if (!inside) {
        if ((path[1] == 'd' || path[1] == 'p') && through_fd_dir(path, len, out)) {
          return true;
        }
        if (!needs_normalizing(path, len)) {
          return false;
        }
      }
      if (len >= PATH_MAX) {
        return false;
      }
      std::memcpy(out.abs, path, len + 1);
      out.abs_len = len;
    }
  } else {
    int saved = errno;
    size_t base = 0;
    bool ok = dirfd == AT_FDCWD ? current_dir(out.abs, base) : dir_fd_path(dirfd, out.abs, base);
    errno = saved;
    if (!ok || base + 1 + len >= PATH_MAX) {
      return false;
    }
    out.abs[base] = '/';
    std::memcpy(out.abs + base + 1, path, len + 1);
    out.abs_len = base + 1 + len;
  }
  out.trailing_slash = out.abs_len > 1 && out.abs[out.abs_len - 1] == '/';
  if (needs_normalizing(out.abs, out.abs_len)) {
    // Only a path that starts inside the project pays for the kernel's view of "..";
    // elsewhere (gcc's /usr/lib/gcc/.../../../crt1.o) lexical is enough to say "not ours".
    if (starts_in_project(out.abs, out.abs_len)) {
      resolve_dotdot(out.abs, out.abs_len);
    }
    out.abs_len = normalize(out.abs, out.abs_len);
  }
  if (out.abs_len < plen || std::memcmp(out.abs, g_session.project, plen) != 0) {
    return false;
  }
  if (out.abs_len == plen) {
    out.rel = out.abs + plen;
    out.rel_len = 0;
    return true;
  }
  if (out.abs[plen] != '/') {
    return false;
  }
  out.rel = out.abs + plen + 1;
  out.rel_len = out.abs_len - plen - 1;
  // vrift's own state is never virtualized.
  if (out.rel_len >= 6 && std::memcmp(out.rel, ".vrift", 6) == 0 && (out.rel_len == 6 || out.rel[6] == '/')) {
    return false;
  }
  return true;
}

}  // namespace vrift::shim
