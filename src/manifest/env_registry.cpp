#include "manifest/env_registry.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "base/fd.hpp"
#include "manifest/lmdb_manifest.hpp"

namespace vrift::manifest::detail {

namespace {

constexpr size_t k_slots = 64;
constexpr int k_max_begin_attempts = 8;
constexpr time_t k_remap_wait_seconds = 10;

pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
EnvHandle* g_slots[k_slots] = {};
pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

void atfork_prepare() noexcept { ::pthread_mutex_lock(&g_mutex); }
void atfork_parent() noexcept { ::pthread_mutex_unlock(&g_mutex); }
void atfork_child() noexcept { ::pthread_mutex_init(&g_mutex, nullptr); }
void register_atfork() noexcept { ::pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

class RegistryLock {
 public:
  RegistryLock() noexcept {
    ::pthread_once(&g_atfork_once, register_atfork);
    ::pthread_mutex_lock(&g_mutex);
  }
  ~RegistryLock() { ::pthread_mutex_unlock(&g_mutex); }
  RegistryLock(const RegistryLock&) = delete;
  RegistryLock& operator=(const RegistryLock&) = delete;
};

void destroy_handle(EnvHandle* h) noexcept {
  if (h->pid == ::getpid()) {
    ::pthread_rwlock_destroy(&h->remap_lock);
    for (BaseIndexMap& map : h->index_maps) {
      map.unmap();
    }
  }
  h->env.close();  // leaks the MDB_env when inherited across fork
  delete h;
}

// Reads and checks the format record. Errors: Errc::corrupt, Errc::too_new.
Status check_format(MDB_txn* txn, MDB_dbi meta) noexcept {
  MDB_val key = lmdb::to_val(k_meta_format_key);
  MDB_val val;
  int rc = ::mdb_get(txn, meta, &key, &val);
  if (rc == MDB_NOTFOUND) {
    return fail(Errc::corrupt, "read manifest format (missing)");
  }
  VRIFT_CHECK(lmdb::check(rc, "read manifest format"));
  if (val.mv_size != sizeof(uint32_t)) {
    return fail(Errc::corrupt, "read manifest format (garbled)");
  }
  uint32_t version;
  std::memcpy(&version, val.mv_data, sizeof(version));
  if (version == 0) {
    return fail(Errc::corrupt, "read manifest format (garbled)");
  }
  if (version > k_format_version) {
    return fail(Errc::too_new, "read manifest format");
  }
  return {};
}

// mdb_dbi_open without MDB_CREATE; a missing or non-database name means the environment
// is not a vrift manifest.
Status open_existing_dbi(MDB_txn* txn, const char* name, MDB_dbi& out) noexcept {
  int rc = ::mdb_dbi_open(txn, name, 0, &out);
  if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
    return fail(Errc::corrupt, "open manifest database (not a vrift manifest)");
  }
  return lmdb::check(rc, "mdb_dbi_open");
}

// Creates the databases and the format record in a fresh environment, or (when another
// process won the race) checks what it wrote.
Status create_layout(EnvHandle& h) noexcept {
  lmdb::Txn txn = VRIFT_TRY(lmdb::Txn::begin(h.env.get(), 0));
  int rc = ::mdb_dbi_open(txn.get(), "meta", 0, &h.meta_dbi);
  if (rc == MDB_SUCCESS) {
    VRIFT_CHECK(check_format(txn.get(), h.meta_dbi));
    VRIFT_CHECK(open_existing_dbi(txn.get(), "base", h.base_dbi));
    VRIFT_CHECK(open_existing_dbi(txn.get(), "delta", h.delta_dbi));
    return txn.commit();
  }
  if (rc != MDB_NOTFOUND) {
    return fail(rc == MDB_INCOMPATIBLE ? Error{Errc::corrupt, rc, "open manifest database"}
                                       : lmdb::to_error(rc, "mdb_dbi_open"));
  }
  VRIFT_CHECK(lmdb::check(::mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &h.meta_dbi),
                          "create manifest database"));
  VRIFT_CHECK(lmdb::check(::mdb_dbi_open(txn.get(), "base", MDB_CREATE, &h.base_dbi),
                          "create manifest database"));
  VRIFT_CHECK(lmdb::check(::mdb_dbi_open(txn.get(), "delta", MDB_CREATE, &h.delta_dbi),
                          "create manifest database"));
  uint32_t version = k_format_version;
  MDB_val key = lmdb::to_val(k_meta_format_key);
  MDB_val val{sizeof(version), &version};
  VRIFT_CHECK(
      lmdb::check(::mdb_put(txn.get(), h.meta_dbi, &key, &val, 0), "write manifest format"));
  return txn.commit();
}

// Opens the databases: a read transaction when they exist (no writer lock needed, so
// opening never waits for a long ingest), a write transaction only to create them.
Status open_layout(EnvHandle& h, bool create) noexcept {
  {
    lmdb::Txn txn = VRIFT_TRY(lmdb::Txn::begin(h.env.get(), MDB_RDONLY));
    int rc = ::mdb_dbi_open(txn.get(), "meta", 0, &h.meta_dbi);
    if (rc == MDB_SUCCESS) {
      VRIFT_CHECK(check_format(txn.get(), h.meta_dbi));
      VRIFT_CHECK(open_existing_dbi(txn.get(), "base", h.base_dbi));
      VRIFT_CHECK(open_existing_dbi(txn.get(), "delta", h.delta_dbi));
      // Committing (not aborting) a read transaction keeps the handles it opened.
      return txn.commit();
    }
    if (rc != MDB_NOTFOUND || !create || h.read_only) {
      return fail(rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE
                      ? Error{Errc::corrupt, rc, "open manifest (not a vrift manifest)"}
                      : lmdb::to_error(rc, "mdb_dbi_open"));
    }
  }
  return create_layout(h);
}

// The data file's size, and the size the page count in its newest meta page says.
struct DataSize {
  uint64_t bytes = 0;
  uint64_t needed = 0;
  uint64_t page = 0;
  uint64_t last_pgno = 0;
  uint64_t txnid = 0;
};

Result<DataSize> data_size(MDB_env* env) noexcept {
  MDB_envinfo info;
  MDB_stat st;
  VRIFT_CHECK(lmdb::check(::mdb_env_info(env, &info), "mdb_env_info"));
  VRIFT_CHECK(lmdb::check(::mdb_env_stat(env, &st), "mdb_env_stat"));
  int fd = -1;
  VRIFT_CHECK(lmdb::check(::mdb_env_get_fd(env, &fd), "mdb_env_get_fd"));
  struct stat sb;
  if (::fstat(fd, &sb) != 0) {
    return fail_sys("stat manifest data file");
  }
  DataSize d;
  d.bytes = static_cast<uint64_t>(sb.st_size);
  d.page = st.ms_psize;
  d.last_pgno = info.me_last_pgno;
  d.needed = (d.last_pgno + 1) * d.page;
  d.txnid = info.me_last_txnid;
  return d;
}

// Grows the data file to `needed` bytes with zeros (never shrinks it).
bool extend_data_file(int fd, uint64_t bytes, uint64_t needed) noexcept {
  return ::posix_fallocate(fd, static_cast<off_t>(bytes), static_cast<off_t>(needed - bytes)) == 0;
}

// How many of the pages [first, last] LMDB's freelist (as of one snapshot) holds.
Result<uint64_t> free_pages_in(MDB_env* env, uint64_t first, uint64_t last) noexcept {
  lmdb::Txn txn = VRIFT_TRY(lmdb::Txn::begin(env, MDB_RDONLY));
  MDB_cursor* cursor = nullptr;
  VRIFT_CHECK(lmdb::check(::mdb_cursor_open(txn.get(), 0 /* FREE_DBI */, &cursor), "mdb_cursor_open"));
  uint64_t count = 0;
  MDB_val key;
  MDB_val val;
  int rc = ::mdb_cursor_get(cursor, &key, &val, MDB_FIRST);
  for (; rc == MDB_SUCCESS; rc = ::mdb_cursor_get(cursor, &key, &val, MDB_NEXT)) {
    // Each record is an ID list (LMDB's MDB_ID is a size_t): its length, then the pages.
    const auto* ids = static_cast<const size_t*>(val.mv_data);
    size_t n = val.mv_size / sizeof(size_t);
    for (size_t i = 1; n > 0 && i <= ids[0] && i < n; ++i) {
      count += ids[i] >= first && ids[i] <= last ? 1 : 0;
    }
  }
  ::mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) {
    return fail(lmdb::to_error(rc, "read manifest freelist"));
  }
  return count;
}

// LMDB trusts the page count in its meta page and maps the file without checking its
// length; touching a page past the end of a truncated file raises SIGBUS. But a file may
// also end early by design: pages a transaction took from the end and freed again
// before committing are counted, never written. So a short file is first grown with
// zeros (what LMDB's next write there does; any page read past the old end is then an
// LMDB error, not a signal), then the pages it lacked must all be free ones; if not, it
// was truncated: it is cut back to its size and refused. (The file only grows while in
// use; the check is made again if a writer committed meanwhile.)
Status check_not_truncated(MDB_env* env, const char* dir) noexcept {
  for (int attempt = 0;; ++attempt) {
    DataSize d = VRIFT_TRY(data_size(env));
    if (d.bytes >= d.needed) {
      return {};
    }
    char path[PATH_MAX];
    int n = std::snprintf(path, sizeof path, "%s/data.mdb", dir);
    UniqueFd fd(n > 0 && static_cast<size_t>(n) < sizeof path ? ::open(path, O_WRONLY | O_CLOEXEC) : -1);
    if (!fd || !extend_data_file(fd.get(), d.bytes, d.needed)) {
      return fail(Errc::corrupt, "open manifest (data file truncated, and cannot be checked)");
    }
    auto free = free_pages_in(env, d.bytes / d.page, d.last_pgno);
    DataSize now = VRIFT_TRY(data_size(env));
    if (now.txnid != d.txnid && attempt < 3) {
      continue;
    }
    if (!free || *free < d.last_pgno - d.bytes / d.page + 1) {
      int ignored = ::ftruncate(fd.get(), static_cast<off_t>(d.bytes));
      (void)ignored;
      return fail(Errc::corrupt, "open manifest (data file truncated)");
    }
    return {};
  }
}

// LMDB 0.9.24 opens its main data descriptor without O_CLOEXEC, so every program a
// shimmed process execs would inherit it. Find the environment's descriptors (lock file,
// data file, meta writer), mark them close-on-exec, and remember them: the shim must
// refuse close()/dup2() onto them (LmdbManifest::descriptors()).
void add_claimed(EnvHandle& h, int fd) noexcept {
  for (uint32_t i = 0; i < h.fd_count; ++i) {
    if (h.fds[i] == fd) {
      return;
    }
  }
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0 && (flags & FD_CLOEXEC) == 0) {
    ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
  if (h.fd_count < sizeof(h.fds) / sizeof(h.fds[0])) {
    h.fds[h.fd_count++] = fd;
  }
}

bool is_file(int fd, const struct stat* files, size_t count) noexcept {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return false;
  }
  for (size_t i = 0; i < count; ++i) {
    if (files[i].st_ino != 0 && files[i].st_ino == st.st_ino && files[i].st_dev == st.st_dev) {
      return true;
    }
  }
  return false;
}

// Every open descriptor on one of `files`, from /proc/self/fd: the slow, sure way.
void claim_by_scan(EnvHandle& h, const struct stat* files, size_t count) noexcept {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) {
    return;
  }
  while (struct dirent* de = ::readdir(d)) {
    char* end = nullptr;
    long fd = std::strtol(de->d_name, &end, 10);
    if (end != de->d_name && *end == '\0' && fd >= 0 && fd <= INT_MAX && fd != ::dirfd(d) &&
        is_file(static_cast<int>(fd), files, count)) {
      add_claimed(h, static_cast<int>(fd));
    }
  }
  ::closedir(d);
}

// LMDB opens the lock file, the data file and the meta writer one after another, so
// they sit next to the data descriptor it reports: look there first (a few fstat calls
// instead of a /proc/self/fd scan, ~0.1 ms of every shimmed program's start), and scan
// only if one of them is not found.
void claim_fds(EnvHandle& h, const char* dir, bool read_only, bool no_lock) noexcept {
  struct stat files[2];
  files[0].st_ino = 0;
  files[1].st_ino = 0;
  mdb_filehandle_t data_fd = -1;
  if (::mdb_env_get_fd(h.env.get(), &data_fd) != 0 || ::fstat(data_fd, &files[0]) != 0) {
    data_fd = -1;
  }
  char path[PATH_MAX];
  int n = std::snprintf(path, sizeof(path), "%s/lock.mdb", dir);
  if (no_lock || n < 0 || static_cast<size_t>(n) >= sizeof(path) || ::stat(path, &files[1]) != 0) {
    files[1].st_ino = 0;
  }
  // Expected: the data file, the lock file (unless MDB_NOLOCK), the meta writer (unless
  // read-only).
  uint32_t expected = 1 + (no_lock ? 0 : 1) + (read_only ? 0 : 1);
  if (data_fd >= 0) {
    add_claimed(h, data_fd);
    constexpr int k_reach = 4;
    for (int fd = data_fd - k_reach; fd <= data_fd + k_reach && h.fd_count < expected; ++fd) {
      if (fd != data_fd && is_file(fd, files, 2)) {
        add_claimed(h, fd);
      }
    }
  }
  if (data_fd < 0 || h.fd_count < expected) {
    claim_by_scan(h, files, 2);
  }
}

Result<EnvHandle*> open_handle(const EnvConfig& config, const struct stat& dir_st) noexcept {
  auto* h = new (std::nothrow) EnvHandle;
  if (h == nullptr) {
    return fail(Error{Errc::system, ENOMEM, "open manifest"});
  }
  h->dev = dir_st.st_dev;
  h->ino = dir_st.st_ino;
  h->pid = ::getpid();
  h->read_only = config.read_only;
  pthread_rwlockattr_t attr;
  ::pthread_rwlockattr_init(&attr);
  ::pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  ::pthread_rwlock_init(&h->remap_lock, &attr);
  ::pthread_rwlockattr_destroy(&attr);

  auto open_env = [&](unsigned flags) noexcept -> Status {
    h->env = VRIFT_TRY(lmdb::Env::create());
    MDB_env* env = h->env.get();
    VRIFT_CHECK(lmdb::check(::mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs"));
    VRIFT_CHECK(
        lmdb::check(::mdb_env_set_maxreaders(env, config.max_readers), "mdb_env_set_maxreaders"));
    return lmdb::check(::mdb_env_open(env, config.dir, flags, 0644), "open manifest");
  };
  bool no_lock = false;
  auto opened = [&]() noexcept -> Status {
    unsigned flags = MDB_NOTLS | (config.read_only ? MDB_RDONLY : 0u);
    Status env_open = open_env(flags);
    if (!env_open && config.read_only && env_open.error().sys == EACCES) {
      // A reader who may not write the lock file (another user's project) reads
      // without the reader table. A writer committing meanwhile may reuse pages such a
      // reader is on: lookups then fail as corrupt records, never crash.
      h->env.close();
      env_open = open_env(flags | MDB_NOLOCK);
      no_lock = true;
    }
    VRIFT_CHECK(env_open);
    MDB_env* env = h->env.get();
    claim_fds(*h, config.dir, config.read_only, no_lock);
    VRIFT_CHECK(check_not_truncated(env, config.dir));
    // An existing environment keeps the map size recorded in it (LMDB reads it when no
    // size was set before mdb_env_open); raise it to the configured minimum.
    MDB_envinfo info;
    VRIFT_CHECK(lmdb::check(::mdb_env_info(env, &info), "mdb_env_info"));
    if (info.me_mapsize < config.initial_map_size) {
      VRIFT_CHECK(
          lmdb::check(::mdb_env_set_mapsize(env, config.initial_map_size), "mdb_env_set_mapsize"));
    }
    int dead = 0;
    ::mdb_reader_check(env, &dead);
    return open_layout(*h, config.create);
  }();
  if (!opened) {
    destroy_handle(h);
    return fail(opened.error());
  }
  h->refs = 1;
  return h;
}

bool timed_wrlock(EnvHandle& h) noexcept {
  struct timespec deadline;
  ::clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += k_remap_wait_seconds;
  return ::pthread_rwlock_clockwrlock(&h.remap_lock, CLOCK_MONOTONIC, &deadline) == 0;
}

// Follows a map grown by another process: size 0 means "the size in the meta page".
Status adopt_map_size(EnvHandle& h) noexcept {
  if (!timed_wrlock(h)) {
    return fail(Error{Errc::system, ETIMEDOUT,
                      "follow manifest map growth (a transaction of this thread is active)"});
  }
  int rc = ::mdb_env_set_mapsize(h.env.get(), 0);
  ::pthread_rwlock_unlock(&h.remap_lock);
  return lmdb::check(rc, "mdb_env_set_mapsize");
}

}  // namespace

Result<EnvHandle*> acquire_env(const EnvConfig& config) noexcept {
  if (config.dir == nullptr || config.dir[0] == '\0') {
    return fail(Errc::invalid, "open manifest (no path)");
  }
  if (config.create && config.read_only) {
    return fail(Errc::invalid, "open manifest (create and read-only)");
  }
  if (config.create && ::mkdir(config.dir, 0755) != 0 && errno != EEXIST) {
    return fail_sys("create manifest directory");
  }
  struct stat dir_st;
  if (::stat(config.dir, &dir_st) != 0) {
    return fail_sys("open manifest");
  }
  if (!S_ISDIR(dir_st.st_mode)) {
    return fail(Error{Errc::system, ENOTDIR, "open manifest"});
  }
  RegistryLock lock;
  pid_t pid = ::getpid();
  size_t free_slot = k_slots;
  for (size_t i = 0; i < k_slots; ++i) {
    EnvHandle* h = g_slots[i];
    if (h == nullptr || h->pid != pid) {
      // Empty, or inherited from a parent process: reusable. The inherited handle itself
      // is never freed here; whoever still points at it leaks it (see the header).
      if (free_slot == k_slots) {
        free_slot = i;
      }
      continue;
    }
    if (h->dev == dir_st.st_dev && h->ino == dir_st.st_ino) {
      if (h->read_only && !config.read_only) {
        return fail(Errc::invalid, "open manifest (already open read-only in this process)");
      }
      ++h->refs;
      return h;
    }
  }
  if (free_slot == k_slots) {
    return fail(
        Error{Errc::system, EMFILE, "open manifest (too many environments in this process)"});
  }
  if (!config.create) {
    // mdb_env_open would create an empty data file: a missing manifest must stay missing.
    char data_path[PATH_MAX];
    int n = std::snprintf(data_path, sizeof(data_path), "%s/data.mdb", config.dir);
    if (n < 0 || static_cast<size_t>(n) >= sizeof(data_path)) {
      return fail(Error{Errc::system, ENAMETOOLONG, "open manifest"});
    }
    struct stat data_st;
    if (::stat(data_path, &data_st) != 0) {
      return fail_sys("open manifest");
    }
    if (data_st.st_size == 0) {
      // LMDB would initialize an empty file as a new environment.
      return fail(Errc::corrupt, "open manifest (empty data file)");
    }
  }
  EnvHandle* h = VRIFT_TRY(open_handle(config, dir_st));
  g_slots[free_slot] = h;
  return h;
}

void retain_env(EnvHandle* handle) noexcept {
  RegistryLock lock;
  ++handle->refs;
}

void release_env(EnvHandle* handle) noexcept {
  if (handle == nullptr) {
    return;
  }
  {
    RegistryLock lock;
    if (--handle->refs != 0) {
      return;
    }
    for (EnvHandle*& slot : g_slots) {
      if (slot == handle) {
        slot = nullptr;
      }
    }
  }
  destroy_handle(handle);
}

void pad_data_file(EnvHandle& handle) noexcept {
  auto d = data_size(handle.env.get());
  int fd = -1;
  if (d && d->bytes < d->needed && ::mdb_env_get_fd(handle.env.get(), &fd) == MDB_SUCCESS) {
    extend_data_file(fd, d->bytes, d->needed);
  }
}

Status begin_locked(EnvHandle& handle, MDB_txn*& txn, unsigned flags) noexcept {
  bool renew = txn != nullptr;
  for (int attempt = 1;; ++attempt) {
    ::pthread_rwlock_rdlock(&handle.remap_lock);
    int rc = renew ? ::mdb_txn_renew(txn) : ::mdb_txn_begin(handle.env.get(), nullptr, flags, &txn);
    if (rc == MDB_SUCCESS) {
      return {};
    }
    ::pthread_rwlock_unlock(&handle.remap_lock);
    if (!renew) {
      txn = nullptr;  // mdb_txn_begin freed it
    }
    if (attempt < k_max_begin_attempts && rc == MDB_MAP_RESIZED) {
      VRIFT_CHECK(adopt_map_size(handle));
      continue;
    }
    if (attempt < k_max_begin_attempts && rc == MDB_READERS_FULL) {
      int dead = 0;
      if (::mdb_reader_check(handle.env.get(), &dead) == MDB_SUCCESS && dead > 0) {
        continue;
      }
    }
    return fail(lmdb::to_error(rc, renew ? "mdb_txn_renew" : "mdb_txn_begin"));
  }
}

const BaseIndexMap* base_index_for(EnvHandle& h, const char* dir, uint64_t stamp,
                                   uint64_t txn_id) noexcept {
  int current = h.index_current.load(std::memory_order_acquire);
  if (current >= 0 && h.index_maps[current].stamp() == stamp) {
    return &h.index_maps[current];
  }
  if (h.index_failed_txn.load(std::memory_order_relaxed) == txn_id) {
    return nullptr;
  }
  const BaseIndexMap* found = nullptr;
  ::pthread_mutex_lock(&h.index_mutex);
  current = h.index_current.load(std::memory_order_relaxed);
  if (current >= 0 && h.index_maps[current].stamp() == stamp) {
    found = &h.index_maps[current];
  } else {
    for (int slot = 0; slot < EnvHandle::k_index_maps; ++slot) {
      if (h.index_maps[slot].mapped()) {
        continue;
      }
      auto opened = BaseIndexMap::open(dir, stamp, h.index_maps[slot]);
      if (opened && *opened) {
        h.index_current.store(slot, std::memory_order_release);
        found = &h.index_maps[slot];
      }
      break;
    }
    if (found == nullptr) {
      h.index_failed_txn.store(txn_id, std::memory_order_relaxed);
    }
  }
  ::pthread_mutex_unlock(&h.index_mutex);
  return found;
}

void unlock_shared(EnvHandle& handle) noexcept { ::pthread_rwlock_unlock(&handle.remap_lock); }

uint64_t map_size(EnvHandle& handle) noexcept {
  MDB_envinfo info;
  if (::mdb_env_info(handle.env.get(), &info) != MDB_SUCCESS) {
    return 0;
  }
  return info.me_mapsize;
}

Status grow_map(EnvHandle& handle, uint64_t seen, uint64_t max_size) noexcept {
  if (!timed_wrlock(handle)) {
    return fail(Error{Errc::system, ETIMEDOUT,
                      "grow manifest map (a transaction of this thread is active)"});
  }
  int rc = MDB_SUCCESS;
  uint64_t now = map_size(handle);
  if (now <= seen) {
    if (seen >= max_size) {
      rc = MDB_MAP_FULL;
    } else {
      uint64_t next = seen * 2 < max_size ? seen * 2 : max_size;
      rc = ::mdb_env_set_mapsize(handle.env.get(), next);
    }
  }
  ::pthread_rwlock_unlock(&handle.remap_lock);
  return lmdb::check(rc, "grow manifest map");
}

}  // namespace vrift::manifest::detail
