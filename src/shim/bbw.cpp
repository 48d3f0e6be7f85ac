#include "shim/bbw.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "shim/delta.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {

void FileFacts::assign(const manifest::Entry& e) noexcept {
  entry = e;
  size_t n = e.ext.size() <= manifest::k_max_ext ? e.ext.size() : 0;
  if (n != 0) {
    std::memcpy(ext, e.ext.data(), n);  // (an empty view may have no data at all)
  }
  ext[n] = '\0';
  entry.ext = std::string_view(ext, n);
  entry.target = {};
}

bool temp_beside(const char* abs, size_t abs_len, char* out) noexcept {
  static constinit std::atomic<unsigned> counter{0};
  size_t dir_len = abs_len;
  while (dir_len > 0 && abs[dir_len - 1] != '/') {
    --dir_len;
  }
  int n = std::snprintf(out, PATH_MAX, "%.*s.vrift-tmp-%d-%u", static_cast<int>(dir_len), abs,
                        static_cast<int>(::getpid()), counter.fetch_add(1, std::memory_order_relaxed));
  return n > 0 && n < PATH_MAX;
}

namespace {

// Copies all of src into dst: a clone where the filesystem shares extents, else
// copy_file_range, else read/write. Returns false with errno on failure.
bool copy_content(int src, int dst) noexcept {
  if (::ioctl(dst, FICLONE, src) == 0) {
    return true;
  }
  bool ranges = true;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = -1;
    if (ranges) {
      n = ::copy_file_range(src, nullptr, dst, nullptr, 1 << 30, 0);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        ranges = false;
        continue;
      }
    } else {
      n = ::read(src, buf, sizeof buf);
      for (ssize_t done = 0; n > 0 && done < n;) {
        ssize_t w = ::write(dst, buf + done, static_cast<size_t>(n - done));
        if (w < 0) {
          if (errno == EINTR) {
            continue;
          }
          return false;
        }
        done += w;
      }
    }
    if (n == 0) {
      return true;
    }
    if (n < 0 && errno != EINTR) {
      return false;
    }
  }
}

}  // namespace

int break_before_write(const ManagedPath& mp, const FileFacts& facts, bool truncate) noexcept {
  const manifest::Entry& e = facts.entry;
  if (!g_session.writable) {
    errno = EROFS;
    return -1;
  }
  char tmp[PATH_MAX];
  if (!temp_beside(mp.abs, mp.abs_len, tmp)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  if (e.phantom()) {
    hydrate_parent(mp);  // the private file is made in its directory (vfs.hpp)
  }
  mode_t perm = static_cast<mode_t>(e.mode & 07777);
  int out = real().open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, perm);
  if (out < 0) {
    return -1;
  }
  bool ok = true;
  if (!truncate) {
    int in = open_blob(e, O_CLOEXEC);
    if (in < 0) {
      debug_log("vrift shim: blob missing for %s (run `vrift doctor`)", mp.abs);
      errno = EIO;
      ok = false;
    } else {
      ok = copy_content(in, out);
      int saved = errno;
      real().close(in);
      errno = saved;
    }
    if (ok) {
      // Unwritten, the copy must look like the file it replaces.
      struct timespec times[2];
      times[0].tv_sec = e.mtime_ns / 1000000000;
      times[0].tv_nsec = e.mtime_ns % 1000000000;
      times[1] = times[0];
      real().futimens(out, times);
    }
  }
  // The umask may have narrowed the create mode.
  ok = ok && real().fchmod(out, perm) == 0;
  int saved = errno;
  real().close(out);
  if (!ok || real().rename(tmp, mp.abs) != 0) {
    saved = ok ? errno : saved;
    real().unlink(tmp);
    errno = saved;
    return -1;
  }
  commit_dirty(mp.rel, mp.rel_len, e);
  errno = saved;
  return 0;
}

}  // namespace vrift::shim
