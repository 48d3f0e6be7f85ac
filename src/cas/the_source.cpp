#include "cas/the_source.hpp"

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "base/io.hpp"
#include "hash/hasher.hpp"

namespace vrift::cas {

namespace {

// A blob's new name, and the shard directory that may be new too.
Status sync_blob_name(int root, const BlobKey& key) noexcept {
  char rel[k_max_blob_rel_path + 1];
  blob_rel_path(key, rel);
  for (size_t cut : {k_shard_rel_len, size_t{6}}) {
    rel[cut] = '\0';  // "blake3/ab", then "blake3"
    VRIFT_CHECK(sync_dir(root, rel, "sync shard directory"));
  }
  return {};
}

bool same_mtime(const struct stat& a, const struct stat& b) noexcept {
  return a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// TheSource

// pid, a counter, and the clock.
void TheSource::temp_name(char* out, size_t cap) noexcept {
  static std::atomic<uint64_t> counter{0};
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  std::snprintf(out, cap, "tmp/%d.%llu.%lx", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1)),
                static_cast<unsigned long>(ts.tv_nsec));
}

Result<TheSource> TheSource::open(std::string_view root, bool create) noexcept {
  TheSource source;
  source.m_root.assign(root);
  while (source.m_root.size() > 1 && source.m_root.back() == '/') {
    source.m_root.pop_back();
  }
  if (create) {
    // mkdir -p of the root itself.
    std::string partial;
    for (size_t i = 1; i <= source.m_root.size(); ++i) {
      if (i == source.m_root.size() || source.m_root[i] == '/') {
        partial.assign(source.m_root, 0, i);
        VRIFT_CHECK(make_dir(AT_FDCWD, partial.c_str(), 0755));
      }
    }
  }
  source.m_root_fd.reset(::open(source.m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!source.m_root_fd) {
    return fail_sys("open The Source");
  }
  if (create) {
    VRIFT_CHECK(make_dir(source.root_fd(), "blake3", 0755));
    VRIFT_CHECK(make_dir(source.root_fd(), "tmp", 0755));
  }
  struct stat st;
  if (::fstatat(source.root_fd(), "blake3", &st, 0) != 0) {
    return fail_sys("open The Source");
  }
  source.m_dev = st.st_dev;
  return source;
}

size_t TheSource::path_of(const BlobKey& key, char* out, size_t cap) const noexcept {
  size_t need = m_root.size() + 1 + k_max_blob_rel_path + 1;
  if (cap < need) {
    return 0;
  }
  std::memcpy(out, m_root.data(), m_root.size());
  out[m_root.size()] = '/';
  return m_root.size() + 1 + blob_rel_path(key, out + m_root.size() + 1);
}

bool TheSource::has_short_name(const BlobKey& key, const struct stat& blob_st) const noexcept {
  char short_rel[k_max_short_rel_path + 1];
  struct stat short_st;
  return short_rel_path(key, m_root.size(), short_rel) != 0 &&
         ::fstatat(root_fd(), short_rel, &short_st, AT_SYMLINK_NOFOLLOW) == 0 && short_st.st_ino == blob_st.st_ino &&
         short_st.st_dev == blob_st.st_dev;
}

size_t TheSource::link_target(const BlobKey& key, char* out, size_t cap) const noexcept {
  char blob_rel[k_max_blob_rel_path + 1];
  blob_rel_path(key, blob_rel);
  struct stat blob_st;
  if (cap > k_fast_symlink_max && ::fstatat(root_fd(), blob_rel, &blob_st, AT_SYMLINK_NOFOLLOW) == 0 &&
      has_short_name(key, blob_st)) {
    return short_target(key, out, cap);
  }
  return path_of(key, out, cap);
}

size_t TheSource::short_target(const BlobKey& key, char* out, size_t cap) const noexcept {
  if (cap <= k_fast_symlink_max) {
    return 0;
  }
  std::memcpy(out, m_root.data(), m_root.size());
  out[m_root.size()] = '/';
  size_t rel_len = short_rel_path(key, m_root.size(), out + m_root.size() + 1);
  return rel_len != 0 ? m_root.size() + 1 + rel_len : 0;
}

bool TheSource::is_link_to(const BlobKey& key, std::string_view target) const noexcept {
  return names_blob(m_root, key, target);
}

Status TheSource::add_short_name(const BlobKey& key, bool sync_now) noexcept {
  char short_rel[k_max_short_rel_path + 1];
  if (short_rel_path(key, m_root.size(), short_rel) == 0) {
    return fail(Errc::invalid, "short blob name (The Source's path is too long)");
  }
  char blob_rel[k_max_blob_rel_path + 1];
  blob_rel_path(key, blob_rel);
  auto linked = [&]() noexcept -> Status {
    if (!sync_now) {
      return {};
    }
    return sync_dir(root_fd(), short_rel[0] == 'x' ? "x" : "s", "sync short blob name");
  };
  if (::linkat(root_fd(), blob_rel, root_fd(), short_rel, 0) == 0) {
    return linked();
  }
  if (errno == ENOENT) {  // the first short name of its kind
    VRIFT_CHECK(make_dir(root_fd(), short_rel[0] == 'x' ? "x" : "s", 0755));
    if (::linkat(root_fd(), blob_rel, root_fd(), short_rel, 0) == 0) {
      return linked();
    }
  }
  if (errno != EEXIST) {
    return fail_sys("link short blob name");
  }
  struct stat blob_st;
  if (::fstatat(root_fd(), blob_rel, &blob_st, AT_SYMLINK_NOFOLLOW) != 0) {
    return fail_sys("stat blob");
  }
  if (has_short_name(key, blob_st)) {
    return linked();
  }
  return fail(Error{Errc::system, EEXIST, "short blob name (held by another inode)"});
}

void TheSource::remove_short_name(const BlobKey& key, const struct stat& inode) noexcept {
  char short_rel[k_max_short_rel_path + 1];
  if (has_short_name(key, inode) && short_rel_path(key, m_root.size(), short_rel) != 0) {
    ::unlinkat(root_fd(), short_rel, 0);
  }
}

Status TheSource::name_from_short_name(const BlobKey& key, int fd) noexcept {
  char proc_path[64];
  std::snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
  if (int err = link_to_blob(AT_FDCWD, proc_path, key, AT_SYMLINK_FOLLOW); err != 0) {
    return fail(Errc::system, "link blob", err);
  }
  return sync_blob_name(root_fd(), key);
}

Status TheSource::detach_blob(const BlobKey& key, int fd) noexcept {
  char tmp[64];
  temp_name(tmp, sizeof tmp);
  UniqueFd copy(::openat(root_fd(), tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!copy) {
    return fail_sys("create temp in The Source");
  }
  char short_tmp[80];
  std::snprintf(short_tmp, sizeof short_tmp, "%s.s", tmp);
  auto discard = [&](Error e) -> Status {
    ::unlinkat(root_fd(), tmp, 0);
    ::unlinkat(root_fd(), short_tmp, 0);
    return fail(e);
  };
  auto copied = hash::copy_and_hash(fd, copy.get(), key.size + 1);
  if (!copied) {
    return discard(copied.error());
  }
  if (copied->size != key.size || copied->digest != key.digest) {
    return discard(make_error(Errc::corrupt, "copy blob"));
  }
  struct stat inode;
  if (::fchmod(copy.get(), blob_mode(key)) != 0 || ::fdatasync(copy.get()) != 0 || ::fstat(fd, &inode) != 0) {
    return discard(sys_error("copy blob"));
  }
  char short_rel[k_max_short_rel_path + 1];
  bool with_short = has_short_name(key, inode) && short_rel_path(key, m_root.size(), short_rel) != 0;
  char blob_rel[k_max_blob_rel_path + 1];
  blob_rel_path(key, blob_rel);
  // Each rename leaves its name on a whole copy of the content, whatever happens next.
  if (with_short && (::linkat(root_fd(), tmp, root_fd(), short_tmp, 0) != 0 ||
                     ::renameat(root_fd(), short_tmp, root_fd(), short_rel) != 0)) {
    return discard(sys_error("rename short blob name"));
  }
  if (::renameat(root_fd(), tmp, root_fd(), blob_rel) != 0) {
    return discard(sys_error("rename blob"));
  }
  if (with_short) {
    VRIFT_CHECK(sync_dir(root_fd(), short_rel[0] == 'x' ? "x" : "s", "sync short blob name"));
  }
  return sync_blob_name(root_fd(), key);
}

Result<bool> TheSource::contains(const BlobKey& key) const noexcept {
  char rel[k_max_blob_rel_path + 1];
  blob_rel_path(key, rel);
  struct stat st;
  if (::fstatat(root_fd(), rel, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return false;
    }
    return fail_sys("stat blob");
  }
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != key.size) {
    return fail(Errc::corrupt, "stat blob");
  }
  return true;
}

Status TheSource::make_shard_dirs(const BlobKey& key) noexcept {
  char rel[k_max_blob_rel_path + 1];
  blob_rel_path(key, rel);
  rel[k_shard_rel_len] = '\0';  // "blake3/ab"
  return make_dir(root_fd(), rel, 0755);
}

int TheSource::link_to_blob(int old_dirfd, const char* old_path, const BlobKey& key, int flags) noexcept {
  char rel[k_max_blob_rel_path + 1];
  blob_rel_path(key, rel);
  if (::linkat(old_dirfd, old_path, root_fd(), rel, flags) == 0) {
    return 0;
  }
  if (errno != ENOENT) {
    return errno;
  }
  // Most shard directories exist after a while: create them only when the link says so.
  if (auto made = make_shard_dirs(key); !made) {
    return made.error().sys;
  }
  return ::linkat(old_dirfd, old_path, root_fd(), rel, flags) == 0 ? 0 : errno;
}

Result<Stored> TheSource::store_file(const StoreRequest& request) noexcept {
  StoreBatch batch(*this);
  Stored stored = VRIFT_TRY(batch.add_file(request));
  VRIFT_CHECK(batch.commit_each());
  return stored;
}

Result<Stored> TheSource::store_bytes(const void* data, size_t len, bool executable, std::string_view ext) noexcept {
  StoreBatch batch(*this);
  Stored stored = VRIFT_TRY(batch.add_bytes(data, len, executable, ext));
  VRIFT_CHECK(batch.commit());
  return stored;
}

Status TheSource::lock(const BlobKey& key) noexcept {
  char rel[k_max_blob_rel_path + 1];
  blob_rel_path(key, rel);
  UniqueFd fd(::openat(root_fd(), rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    return fail_sys("open blob");
  }
  return lock_fd(fd.get());
}

Status TheSource::lock_fd(int fd) noexcept {
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
    return fail_sys("get inode flags");
  }
  if ((flags & FS_IMMUTABLE_FL) != 0) {
    return {};
  }
  flags |= FS_IMMUTABLE_FL;  // keep the other flags (extents, ...) as they are
  if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) {
    return fail_sys("set immutable flag");
  }
  return {};
}

Status TheSource::unlock_fd(int fd) noexcept {
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
    return fail_sys("get inode flags");
  }
  if ((flags & FS_IMMUTABLE_FL) == 0) {
    return {};
  }
  flags &= ~FS_IMMUTABLE_FL;
  if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) {
    return fail_sys("clear immutable flag");
  }
  return {};
}

bool TheSource::can_lock() const noexcept {
  char rel[64];
  temp_name(rel, sizeof rel);
  UniqueFd fd(::openat(root_fd(), rel, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
  if (!fd) {
    return false;
  }
  bool locked = static_cast<bool>(lock_fd(fd.get()));
  if (locked) {
    unlock_fd(fd.get());
  }
  ::unlinkat(root_fd(), rel, 0);
  return locked;
}

Status TheSource::remove_name(const char* rel) noexcept {
  if (::unlinkat(root_fd(), rel, 0) == 0) {
    return {};
  }
  if (errno != EPERM) {
    return fail_sys("remove from The Source");
  }
  UniqueFd fd(::openat(root_fd(), rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  int flags = 0;
  if (!fd || ::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0 || (flags & FS_IMMUTABLE_FL) == 0) {
    errno = EPERM;
    return fail_sys("remove from The Source");
  }
  flags &= ~FS_IMMUTABLE_FL;
  if (::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags) != 0) {
    return fail_sys("clear the immutable flag");
  }
  int unlinked = ::unlinkat(root_fd(), rel, 0);
  Error failed = sys_error("remove from The Source");
  // An inode that keeps another name (a blob, behind a stale temp's or its short name)
  // stays locked.
  struct stat st;
  if (::fstat(fd.get(), &st) == 0 && st.st_nlink > 0) {
    flags |= FS_IMMUTABLE_FL;
    ::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags);
  }
  if (unlinked != 0) {
    return fail(failed);
  }
  return {};
}

Status TheSource::sync() noexcept {
  if (::syncfs(root_fd()) != 0) {
    return fail_sys("syncfs");
  }
  return {};
}

Result<UniqueFd> TheSource::hold_lock(int operation, bool wait) const noexcept {
  UniqueFd fd(::openat(root_fd(), "gc.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd && errno == EACCES) {
    fd.reset(::openat(root_fd(), "gc.lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW));  // flock needs no write access
  }
  if (!fd) {
    return fail_sys("open The Source's gc.lock");
  }
  int rc;
  do {
    rc = ::flock(fd.get(), operation | (wait ? 0 : LOCK_NB));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    return fail_sys("lock The Source's gc.lock");
  }
  return fd;
}

Result<UniqueFd> TheSource::hold_references(bool wait) const noexcept { return hold_lock(LOCK_SH, wait); }

Result<UniqueFd> TheSource::hold_exclusively(bool wait) const noexcept { return hold_lock(LOCK_EX, wait); }

// ---------------------------------------------------------------------------------------
// StoreBatch

StoreBatch::~StoreBatch() {
  for (const auto& staged : m_staged) {
    ::unlinkat(m_source->root_fd(), staged.tmp_name.c_str(), 0);
  }
}

Result<std::pair<UniqueFd, std::string>> StoreBatch::create_temp() noexcept {
  char name[64];
  TheSource::temp_name(name, sizeof name);
  UniqueFd fd(::openat(m_source->root_fd(), name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) {
    return fail_sys("create temp in The Source");
  }
  return std::pair<UniqueFd, std::string>(std::move(fd), std::string(name));
}

Result<Stored> StoreBatch::finish_staged(UniqueFd tmp_fd, std::string tmp_name, BlobKey key,
                                         StoreMethod method) noexcept {
  int root = m_source->root_fd();
  bool present = false;
  auto contains = m_source->contains(key);
  if (contains && *contains) {
    present = true;
  }
  if (!present && ::fchmod(tmp_fd.get(), blob_mode(key)) != 0) {
    ::unlinkat(root, tmp_name.c_str(), 0);
    return fail_sys("chmod temp");
  }
  if (present) {
    ::unlinkat(root, tmp_name.c_str(), 0);
    note_added();
    return Stored{key, StoreMethod::present};
  }
  ::sync_file_range(tmp_fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);  // start writeback now
  {
    std::lock_guard lock(m_staged_mutex);
    m_staged.push_back(Staged{std::move(tmp_name), key});
  }
  note_added();
  return Stored{key, method};
}

Result<Stored> StoreBatch::stage_copy(int src_fd, const StoreRequest& request, bool executable) noexcept {
  auto [tmp_fd, tmp_name] = VRIFT_TRY(create_temp());
  BlobKey key;
  key.executable = executable;
  set_ext_from_name(key, request.ext_name.empty() ? std::string_view(request.path) : request.ext_name);
  StoreMethod method = StoreMethod::copied;
  Result<hash::FileDigest> digest = fail(Errc::system, "clone", EOPNOTSUPP);
  if (::ioctl(tmp_fd.get(), FICLONE, src_fd) == 0) {
    // The clone is private to us now: hash what it holds, not what the source holds.
    method = StoreMethod::cloned;
    digest = hash::hash_fd(tmp_fd.get());
  } else {
    digest = hash::copy_and_hash(src_fd, tmp_fd.get());
  }
  if (!digest) {
    ::unlinkat(m_source->root_fd(), tmp_name.c_str(), 0);
    return fail(digest.error());
  }
  key.digest = digest->digest;
  key.size = digest->size;
  return finish_staged(std::move(tmp_fd), std::move(tmp_name), key, method);
}

Result<Stored> StoreBatch::add_file(const StoreRequest& request) noexcept {
  UniqueFd owned;
  if (request.fd < 0) {
    owned.reset(::openat(request.dirfd, request.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!owned) {
      return fail_sys("open");
    }
  }
  int fd = request.fd >= 0 ? request.fd : owned.get();
  struct stat before;
  if (request.fd_stat != nullptr) {
    before = *request.fd_stat;
  } else if (::fstat(fd, &before) != 0) {
    return fail_sys("stat");
  }
  if (!S_ISREG(before.st_mode)) {
    return fail(Errc::invalid, "store (not a regular file)");
  }
  // Only a file's sole name may hand its inode over: a second name (a package manager's
  // store, a `cp -al` backup, another checkout) would be a way to write into the blob,
  // and turning that inode into a blob would change files outside the ingest.
  bool linkable = request.allow_link && before.st_nlink == 1 && before.st_dev == m_source->device();
  if (!linkable) {
    return stage_copy(fd, request, request.executable);
  }

  BlobKey key;
  key.executable = request.executable;
  set_ext_from_name(key, request.ext_name.empty() ? std::string_view(request.path) : request.ext_name);
  mode_t want = static_cast<mode_t>(blob_mode(key));
  if ((before.st_mode & 07777) != want && ::fchmod(fd, want) != 0) {
    return stage_copy(fd, request, request.executable);  // not ours to change
  }
  // chmod changes ctime only: `before`'s size and mtime still describe the content.
  hash::FileDigest digest = VRIFT_TRY(hash::hash_fd_exact(fd, static_cast<uint64_t>(before.st_size)));
  key.digest = digest.digest;
  key.size = digest.size;

  char proc_path[64];
  std::snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
  // EEXIST means an identical blob is already published: nothing to do.
  int err = m_source->link_to_blob(AT_FDCWD, proc_path, key, AT_SYMLINK_FOLLOW);
  if (err != 0 && err != EEXIST) {
    if (err == EXDEV || err == EPERM || err == EMLINK || err == EACCES || err == ENOENT) {
      return stage_copy(fd, request, request.executable);
    }
    errno = err;
    return fail_sys("link into The Source");
  }
  // One stat after the link covers the whole window since `before`: if the file was
  // written to while it was hashed or linked, the hash may not be its content. Take
  // back a name this call published, and let the caller retry.
  struct stat after;
  if (::fstat(fd, &after) != 0 || static_cast<uint64_t>(after.st_size) != digest.size ||
      !same_mtime(before, after)) {
    if (err == 0) {
      char rel[k_max_blob_rel_path + 1];
      blob_rel_path(key, rel);
      ::unlinkat(m_source->root_fd(), rel, 0);
    }
    return fail(Errc::changed, "hash");
  }
  note_added();
  return Stored{key, err == 0 ? StoreMethod::linked : StoreMethod::present};
}

Result<Stored> StoreBatch::add_bytes(const void* data, size_t len, bool executable, std::string_view ext) noexcept {
  BlobKey key;
  key.executable = executable;
  if (!set_ext(key, ext)) {
    return fail(Errc::invalid, "blob extension");
  }
  key.digest = hash::hash_bytes(data, len);
  key.size = len;
  if (auto present = m_source->contains(key); present && *present) {
    note_added();
    return Stored{key, StoreMethod::present};
  }
  auto [tmp_fd, tmp_name] = VRIFT_TRY(create_temp());
  if (auto written = write_all(tmp_fd.get(), data, len); !written) {
    ::unlinkat(m_source->root_fd(), tmp_name.c_str(), 0);
    return fail(written.error());
  }
  return finish_staged(std::move(tmp_fd), std::move(tmp_name), key, StoreMethod::copied);
}

Status StoreBatch::commit_each() noexcept {
  if (pending() != m_staged.size() || !m_short_names.empty()) {
    return commit();  // linked blobs: their data is made durable by syncing everything
  }
  int root = m_source->root_fd();
  for (const auto& staged : m_staged) {
    UniqueFd tmp(::openat(root, staged.tmp_name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!tmp || ::fdatasync(tmp.get()) != 0) {
      return fail_sys("sync blob");
    }
    if (int err = m_source->link_to_blob(root, staged.tmp_name.c_str(), staged.key, 0); err != 0 && err != EEXIST) {
      errno = err;
      return fail_sys("publish blob");
    }
    ::unlinkat(root, staged.tmp_name.c_str(), 0);
    VRIFT_CHECK(sync_blob_name(root, staged.key));
  }
  m_staged.clear();
  m_pending.store(0, std::memory_order_relaxed);
  return {};
}

void StoreBatch::add_short_name_at_commit(const BlobKey& key) noexcept {
  std::lock_guard lock(m_staged_mutex);
  m_short_names.push_back(key);
}

Status StoreBatch::commit() noexcept {
  if (pending() == 0) {
    return {};
  }
  // 1. Linked blobs' data and staged temps' data reach the disk.
  VRIFT_CHECK(m_source->sync());
  if (!m_staged.empty() || !m_short_names.empty()) {
    int root = m_source->root_fd();
    // 2. Publish staged temps under their final names (EEXIST: someone else did).
    for (const auto& staged : m_staged) {
      if (int err = m_source->link_to_blob(root, staged.tmp_name.c_str(), staged.key, 0); err != 0 && err != EEXIST) {
        errno = err;
        return fail_sys("publish blob");
      }
    }
    for (const auto& staged : m_staged) {
      ::unlinkat(root, staged.tmp_name.c_str(), 0);
    }
    m_staged.clear();
    for (const auto& key : m_short_names) {
      (void)m_source->add_short_name(key, false);  // without it, symlinks name the blob's path
    }
    m_short_names.clear();
    // 3. The final names themselves are durable.
    VRIFT_CHECK(m_source->sync());
  }
  m_pending.store(0, std::memory_order_relaxed);
  return {};
}

}  // namespace vrift::cas
