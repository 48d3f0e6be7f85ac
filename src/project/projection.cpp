#include "project/projection.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "base/fd.hpp"
#include "base/io.hpp"
#include "hash/hasher.hpp"
#include "project/trash.hpp"

namespace vrift::project {

namespace {

std::string_view last_component(std::string_view rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? rel : rel.substr(slash + 1);
}

// The decimal number at the start of `s`, up to `stop`; 0 when there is none.
pid_t leading_pid(std::string_view s, char stop) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 10; ++i) {
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  if (i == 0 || i >= s.size() || s[i] != stop || v == 0 || v > INT32_MAX) {
    return 0;
  }
  return static_cast<pid_t>(v);
}

}  // namespace

std::string temp_beside(std::string_view rel) {
  static std::atomic<uint64_t> counter{0};
  size_t slash = rel.rfind('/');
  std::string_view dir = slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash + 1);
  return fmt::format("{}{}{}-{}", dir, k_temp_prefix, ::getpid(), counter.fetch_add(1));
}

std::string aside_name_for(std::string_view rel) {
  std::string aside = temp_beside(rel) + "." + std::string(last_component(rel));
  return last_component(aside).size() <= NAME_MAX ? aside : std::string();
}

std::string original_of_aside(std::string_view rel) {
  std::string_view name = last_component(rel);
  if (!name.starts_with(k_temp_prefix)) {
    return {};
  }
  std::string_view rest = name.substr(k_temp_prefix.size());
  size_t dot = rest.find('.');  // after "<pid>-<n>"
  if (dot == std::string_view::npos || dot + 1 == rest.size()) {
    return {};
  }
  return std::string(rel.substr(0, rel.size() - name.size())) + std::string(rest.substr(dot + 1));
}

bool put_back_aside(int dir_fd, std::string_view rel) {
  std::string original = original_of_aside(rel);
  std::string aside(rel);
  return !original.empty() &&
         ::syscall(SYS_renameat2, dir_fd, aside.c_str(), dir_fd, original.c_str(), RENAME_NOREPLACE) == 0;
}

bool is_projection_temp(std::string_view rel) { return last_component(rel).starts_with(k_temp_prefix); }

bool pid_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

bool stale_project_temp(std::string_view rel) {
  std::string_view name = last_component(rel);
  if (!name.starts_with(k_temp_prefix)) {
    return false;
  }
  pid_t pid = leading_pid(name.substr(k_temp_prefix.size()), '-');
  return pid == 0 || (pid != ::getpid() && !pid_alive(pid));
}

bool stale_source_temp(std::string_view name) {
  pid_t pid = leading_pid(name, '.');
  return pid == 0 || (pid != ::getpid() && !pid_alive(pid));
}

namespace {

bool same_inode(const struct stat& a, const struct stat& b) { return a.st_ino == b.st_ino && a.st_dev == b.st_dev; }

int exchange(int a_dir, const char* a, int b_dir, const char* b) {
  return static_cast<int>(::syscall(SYS_renameat2, a_dir, a, b_dir, b, RENAME_EXCHANGE));
}

// `tmp` (the file ingested, taken off its path by place_checked() or remove_checked())
// is done with: into the trash, or freed now.
void dispose(int dir_fd, const char* tmp, Trash* trash) {
  if (trash == nullptr || !trash->take(dir_fd, tmp)) {
    ::unlinkat(dir_fd, tmp, 0);
  }
}

// Whether `st` (what is, or was, at the path) is the file read, with no writer waiting
// to open it.
bool holds_file_read(const struct stat& st, const Expected& expected) {
  if (!same_inode(st, *expected.file)) {
    return false;
  }
  if (expected.lease_fd >= 0) {
    return ::fcntl(expected.lease_fd, F_GETLEASE) != F_UNLCK;
  }
  // No descriptor holds the file read: another may have its inode number by now.
  const struct stat& read = *expected.file;
  return st.st_size == read.st_size && st.st_mtim.tv_sec == read.st_mtim.tv_sec &&
         st.st_mtim.tv_nsec == read.st_mtim.tv_nsec;
}

Status changed() { return fail(Errc::changed, "project"); }

}  // namespace

Status place_checked(int tmp_dir, const char* tmp, int root_fd, const char* rel, const Expected& expected) {
  const struct stat& expect = *expected.file;
  if (expect.st_ino == 0) {
    if (::syscall(SYS_renameat2, tmp_dir, tmp, root_fd, rel, RENAME_NOREPLACE) == 0) {
      return {};
    }
    return errno == EEXIST ? changed() : fail_sys("rename");
  }
  struct stat out;
  if (exchange(tmp_dir, tmp, root_fd, rel) != 0) {
    if (errno == ENOENT) {
      return changed();  // removed meanwhile
    }
    if (errno != EINVAL && errno != ENOSYS) {
      return fail_sys("rename");
    }
    // No RENAME_EXCHANGE here: look, then rename (a window of two system calls).
    if (::fstatat(root_fd, rel, &out, AT_SYMLINK_NOFOLLOW) != 0 || !holds_file_read(out, expected)) {
      return changed();
    }
    return ::renameat(tmp_dir, tmp, root_fd, rel) == 0 ? Status{} : fail_sys("rename");
  }
  if (::fstatat(tmp_dir, tmp, &out, AT_SYMLINK_NOFOLLOW) != 0) {
    return fail_sys("stat");
  }
  if (holds_file_read(out, expected)) {
    dispose(tmp_dir, tmp, expected.trash);
    return {};
  }
  // A program's file came off the path (or the file read, which a writer waits to open):
  // it goes back. Should the path have changed yet again in between (it no longer holds
  // what was put there), the newest file wins.
  struct stat mine;
  if (::fstatat(root_fd, rel, &mine, AT_SYMLINK_NOFOLLOW) == 0 && exchange(tmp_dir, tmp, root_fd, rel) == 0 &&
      ::fstatat(tmp_dir, tmp, &out, AT_SYMLINK_NOFOLLOW) == 0 && !same_inode(out, mine)) {
    exchange(tmp_dir, tmp, root_fd, rel);
  }
  return changed();
}

Status remove_checked(int root_fd, const std::string& rel, const Expected& expected) {
  std::string grabbed = temp_beside(rel);
  if (::renameat(root_fd, rel.c_str(), root_fd, grabbed.c_str()) != 0) {
    return errno == ENOENT ? changed() : fail_sys("rename");
  }
  struct stat st;
  if (::fstatat(root_fd, grabbed.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !holds_file_read(st, expected)) {
    ::syscall(SYS_renameat2, root_fd, grabbed.c_str(), root_fd, rel.c_str(), RENAME_NOREPLACE);
    return changed();
  }
  dispose(root_fd, grabbed.c_str(), expected.trash);
  return {};
}

namespace {

// Asks ext4 to place directories made in `rel` as it places top-level ones: each in a
// block group of its own with inodes to spare (the Orlov allocator), rather than beside
// `rel`. A hint: where the flag cannot be set, directories go where they would have.
void spread_subdirectories(int root_fd, const char* rel) noexcept {
  UniqueFd fd(::openat(root_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  int flags = 0;
  if (!fd || ::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0 || (flags & FS_TOPDIR_FL) != 0) {
    return;
  }
  flags |= FS_TOPDIR_FL;
  (void)::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags);
}

}  // namespace

SourceStaging::SourceStaging(int source_root_fd, unsigned workers) : m_root_fd(source_root_fd) {
  // A new inode starts life in its directory's block group, and on an ext4 without a
  // journal it is first checked against the group's recently freed inodes, scanned from
  // the group's start. The Source's own group collects those (gc, removed projects, a
  // tree deleted and ingested again), and a Tier-1 ingest makes ~30,000 symlinks: in a
  // group of their own they skip that scan (about a quarter of the ingest's time, measured).
  spread_subdirectories(m_root_fd, "tmp");
  for (unsigned k = 0; k < workers; ++k) {
    std::string dir = fmt::format("tmp/{}.w{}", ::getpid(), k);
    if (::mkdirat(m_root_fd, dir.c_str(), 0700) != 0 && errno != EEXIST) {
      remove_all();
      return;
    }
    m_dirs.push_back(std::move(dir));
  }
}

SourceStaging::~SourceStaging() { remove_all(); }

void SourceStaging::remove_all() noexcept {
  for (const auto& dir : m_dirs) {
    ::unlinkat(m_root_fd, dir.c_str(), AT_REMOVEDIR);
  }
  m_dirs.clear();
}

const char* SourceStaging::dir(unsigned worker) const {
  return m_dirs.empty() ? "tmp" : m_dirs[worker % m_dirs.size()].c_str();
}

bool is_staging_dir_name(std::string_view name) {
  return leading_pid(name, '.') != 0 && name.substr(name.find('.') + 1).starts_with('w');
}

bool remove_source_temp(cas::TheSource& source, const std::string& rel) {
  auto removed = source.remove_name(rel.c_str());
  if (removed) {
    return true;
  }
  errno = removed.error().sys;
  if (errno != EISDIR || !is_staging_dir_name(last_component(rel))) {
    return false;
  }
  auto names = list_dir(source.root_fd(), rel.c_str());
  if (!names) {
    return false;
  }
  for (const auto& name : *names) {
    (void)source.remove_name((rel + "/" + name).c_str());
  }
  return ::unlinkat(source.root_fd(), rel.c_str(), AT_REMOVEDIR) == 0;
}

namespace {

// A temp name in `dir` (under The Source's root): "<dir>/<pid>.<n>", judged like The
// Source's own temps.
std::string source_temp(const char* dir) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}/{}.{}", dir, ::getpid(), counter.fetch_add(1));
}

}  // namespace

Status link_projection(int root_fd, const cas::TheSource& source, const cas::BlobKey& key, const std::string& rel,
                       const LinkOptions& options) {
  // Made under a temp name, then put over the path.
  bool in_source = options.symlink && options.source_dir != nullptr;
  int tmp_dir = in_source ? source.root_fd() : root_fd;
  std::string tmp = in_source ? source_temp(options.source_dir) : temp_beside(rel);
  if (options.symlink) {
    char found[PATH_MAX];
    if (options.target == nullptr && source.link_target(key, found, sizeof found) == 0) {
      return fail(Errc::system, "symlink", ENAMETOOLONG);
    }
    if (::symlinkat(options.target != nullptr ? options.target : found, tmp_dir, tmp.c_str()) != 0) {
      return fail_sys("symlink");
    }
  } else {
    char blob_rel[cas::k_max_blob_rel_path + 1];
    cas::blob_rel_path(key, blob_rel);
    if (::linkat(source.root_fd(), blob_rel, root_fd, tmp.c_str(), 0) != 0) {
      return fail_sys("link");
    }
  }
  Status placed = options.expect != nullptr
                      ? place_checked(tmp_dir, tmp.c_str(), root_fd, rel.c_str(), *options.expect)
                  : ::renameat(tmp_dir, tmp.c_str(), root_fd, rel.c_str()) == 0 ? Status{}
                                                                                 : fail_sys("rename");
  if (!placed) {
    ::unlinkat(tmp_dir, tmp.c_str(), 0);
    if (in_source && placed.error().code == Errc::system && placed.error().sys == EXDEV) {
      LinkOptions beside = options;  // the path is on another mount than The Source
      beside.source_dir = nullptr;
      return link_projection(root_fd, source, key, rel, beside);
    }
    return placed;
  }
  if (options.ino != nullptr) {
    struct stat st;
    *options.ino = !options.symlink && ::fstatat(root_fd, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : 0;
  }
  return {};
}

Result<StagedCopy> stage_private_copy(int root_fd, const std::string& rel, int src_fd, const hash::Digest& digest,
                                      uint64_t size, unsigned mode, int64_t mtime_ns) {
  size_t slash = rel.rfind('/');
  std::string dir = slash == std::string::npos ? "." : rel.substr(0, slash);
  StagedCopy copy;
  copy.fd.reset(::openat(root_fd, dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  if (!copy.fd) {
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return fail_sys("create copy");
    }
    copy.temp = temp_beside(rel);
    copy.fd.reset(::openat(root_fd, copy.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!copy.fd) {
      return fail_sys("create copy");
    }
  }
  auto discard = [&](Error e) -> Result<StagedCopy> {
    if (!copy.temp.empty()) {
      ::unlinkat(root_fd, copy.temp.c_str(), 0);
    }
    return fail(e);
  };
  auto copied = hash::copy_and_hash(src_fd, copy.fd.get(), size + 1);
  if (!copied) {
    return discard(copied.error());
  }
  if (copied->size != size || copied->digest != digest) {
    return discard(make_error(Errc::corrupt, "copy"));
  }
  timespec times[2] = {{0, UTIME_OMIT}, {mtime_ns / 1000000000, mtime_ns % 1000000000}};
  if (::fchmod(copy.fd.get(), static_cast<mode_t>(mode & 07777)) != 0 || ::futimens(copy.fd.get(), times) != 0) {
    return discard(sys_error("set mode and time"));
  }
  return copy;
}

Status publish_private_copy(int root_fd, const std::string& rel, StagedCopy& copy, const Expected* expect) {
  // Over the path: checked (expect), or a plain rename.
  auto put = [&](const std::string& tmp) -> Status {
    if (expect != nullptr) {
      return place_checked(root_fd, tmp.c_str(), root_fd, rel.c_str(), *expect);
    }
    return ::renameat(root_fd, tmp.c_str(), root_fd, rel.c_str()) == 0 ? Status{} : fail_sys("rename");
  };
  if (!copy.temp.empty()) {
    if (Status placed = put(copy.temp); !placed) {
      ::unlinkat(root_fd, copy.temp.c_str(), 0);
      return placed;
    }
    return {};
  }
  char proc[64];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", copy.fd.get());
  if (expect == nullptr && ::linkat(AT_FDCWD, proc, root_fd, rel.c_str(), AT_SYMLINK_FOLLOW) == 0) {
    return {};
  }
  if (expect == nullptr && errno != EEXIST) {
    return fail_sys("link");
  }
  std::string tmp = temp_beside(rel);
  if (::linkat(AT_FDCWD, proc, root_fd, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return fail_sys("link");
  }
  if (Status placed = put(tmp); !placed) {
    ::unlinkat(root_fd, tmp.c_str(), 0);
    return placed;
  }
  return {};
}

Status copy_blob_to(int root_fd, const cas::TheSource& source, const cas::BlobKey& key, const std::string& rel,
                    int64_t mtime_ns, uint64_t& ino, const Expected* expect) {
  char blob_rel[cas::k_max_blob_rel_path + 1];
  cas::blob_rel_path(key, blob_rel);
  UniqueFd src(::openat(source.root_fd(), blob_rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!src) {
    return fail_sys("open blob");
  }
  auto staged =
      VRIFT_TRY(stage_private_copy(root_fd, rel, src.get(), key.digest, key.size, cas::blob_mode(key), mtime_ns));
  if (::fsync(staged.fd.get()) != 0) {
    Error e = sys_error("fsync");
    if (!staged.temp.empty()) {
      ::unlinkat(root_fd, staged.temp.c_str(), 0);
    }
    return fail(e);
  }
  VRIFT_CHECK(publish_private_copy(root_fd, rel, staged, expect));
  struct stat st;
  ino = ::fstat(staged.fd.get(), &st) == 0 ? st.st_ino : 0;
  return {};
}

Status forget_entry(manifest::WriteTxn& txn, bool shared_base, std::string_view path) {
  if (shared_base) {
    VRIFT_TRY(txn.erase(path));
    return {};
  }
  VRIFT_TRY(txn.remove(manifest::Layer::base, path));
  VRIFT_TRY(txn.remove(manifest::Layer::delta, path));
  return {};
}

Tier1Protection tier1_protection(const Config& config) {
  Tier1Protection p;
  p.immutable = config.tier1_immutable;
  if (::geteuid() == 0) {
    if (const passwd* pw = ::getpwnam(config.tier1_owner.c_str())) {
      p.uid = pw->pw_uid;
      p.gid = pw->pw_gid;
    }
  }
  return p;
}

Status protect_tier1_blob(const cas::TheSource& source, const cas::BlobKey& key, int fd,
                          const Tier1Protection& protection, bool short_named) {
  UniqueFd opened;
  if (fd < 0) {
    char rel[cas::k_max_blob_rel_path + 1];
    cas::blob_rel_path(key, rel);
    opened.reset(::openat(source.root_fd(), rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    fd = opened.get();
  }
  // Only a blob no project path hardlinks: its own name and, when it has one, its short
  // name are its only links.
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_nlink != (short_named || source.has_short_name(key, st) ? 2u : 1u)) {
    return {};
  }
  if (protection.uid != static_cast<uid_t>(-1)) {
    ::fchown(fd, protection.uid, protection.gid);
  }
  if (protection.immutable) {
    return cas::TheSource::lock_fd(fd);
  }
  return {};
}

bool is_immutable(int fd) {
  int flags = 0;
  return ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL) != 0;
}

}  // namespace vrift::project
