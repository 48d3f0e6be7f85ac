#include "shim/writes.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cas/the_source.hpp"
#include "shim/bbw.hpp"
#include "shim/delta.hpp"
#include "shim/path.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"
#include "shim/vfs.hpp"

namespace vrift::shim {

namespace {

constexpr int k_max_fds = 1 << 16;
constexpr int k_max_slots = 256;
constexpr int k_max_maps = 64;

struct WriteSlot {
  bool used = false;
  dev_t dev = 0;
  ino_t ino = 0;
  int fds = 0;   // descriptors of this process on the file
  int maps = 0;  // writable shared mappings
  manifest::Tier tier{};  // set when the slot is taken; all-zero keeps the table in .bss
  size_t rel_len = 0;
  char rel[PATH_MAX] = {};
};

struct MapRecord {
  uintptr_t addr = 0;  // 0: free
  size_t len = 0;
  int slot = -1;
};

// One lock for the table: it is touched only by opens for writing, closes of tracked
// descriptors and mappings of tracked files, never on a read path.
constinit pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
constinit WriteSlot g_slots[k_max_slots]{};
constinit MapRecord g_maps[k_max_maps]{};
// Slots in use: exit and fork skip the table (256 slots of a path each: touching them
// all would fault in a megabyte) when this process writes nothing.
constinit std::atomic<int> g_used_slots{0};
// One past the highest slot ever used (changed under g_lock): searches touch only those
// slots, not the whole megabyte of paths, at the first write of every program.
constinit std::atomic<int> g_slot_end{0};

int slot_end() noexcept { return g_slot_end.load(std::memory_order_relaxed); }
// fd -> slot + 1 (0: not tracked). Read without the lock by is_tracked_fd().
constinit std::atomic<int16_t> g_fd_slot[k_max_fds]{};
// One past the highest descriptor ever tracked: walks of g_fd_slot stop there instead of
// touching all 128 KiB of it (at every exec of every program in a session).
constinit std::atomic<int> g_fd_end{0};

// With the lock held: descriptor `fd` now refers to slot index `slot`.
void set_fd_slot(int fd, int slot) noexcept {
  g_fd_slot[fd].store(static_cast<int16_t>(slot + 1), std::memory_order_relaxed);
  if (fd >= g_fd_end.load(std::memory_order_relaxed)) {
    g_fd_end.store(fd + 1, std::memory_order_relaxed);
  }
}

class Locked {
 public:
  Locked() noexcept { ::pthread_mutex_lock(&g_lock); }
  ~Locked() { ::pthread_mutex_unlock(&g_lock); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
};

// With the lock held: frees the slot when nothing refers to it, copying it to `out`.
void finish_if_unused(int slot, Finished& out) noexcept {
  WriteSlot& s = g_slots[slot];
  if (!s.used || s.fds > 0 || s.maps > 0) {
    return;
  }
  out.due = true;
  out.dev = s.dev;
  out.ino = s.ino;
  out.tier = s.tier;
  out.rel_len = s.rel_len;
  std::memcpy(out.rel, s.rel, s.rel_len + 1);
  s.used = false;
  g_used_slots.fetch_sub(1, std::memory_order_relaxed);
}

// With the lock held: drops fd's reference.
void drop_fd(int fd, Finished& out) noexcept {
  int16_t slot = g_fd_slot[fd].exchange(0, std::memory_order_relaxed);
  if (slot == 0) {
    return;
  }
  WriteSlot& s = g_slots[slot - 1];
  if (s.used) {
    --s.fds;
    finish_if_unused(slot - 1, out);
  }
}

void reingest_finished(const Finished& f) noexcept {
  if (f.due) {
    reingest(f.rel, f.rel_len, f.dev, f.ino, f.tier);
  }
}

// The Source, opened on first re-ingest.
constinit cas::TheSource* g_source = nullptr;
constinit pthread_mutex_t g_source_lock = PTHREAD_MUTEX_INITIALIZER;

cas::TheSource* the_source() noexcept {
  ::pthread_mutex_lock(&g_source_lock);
  if (g_source == nullptr) {
    auto opened = cas::TheSource::open(std::string_view(g_session.cas_root, g_session.cas_root_len), false);
    if (opened) {
      g_source = new (std::nothrow) cas::TheSource(std::move(*opened));
    } else {
      debug_log("vrift shim: cannot open The Source %s (%s)", g_session.cas_root, error_reason(opened.error()));
    }
  }
  cas::TheSource* source = g_source;
  ::pthread_mutex_unlock(&g_source_lock);
  return source;
}

int64_t ns_of(const struct timespec& t) noexcept { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

// fork: the child neither owns its parent's files being written nor may wait on a lock
// a parent thread held. Its copy of the table starts empty: its closes of inherited
// descriptors and its exit leave the parent's files to the parent.
void lock_for_fork() { ::pthread_mutex_lock(&g_lock); }
void unlock_after_fork() { ::pthread_mutex_unlock(&g_lock); }
void forget_in_child() {
  if (g_used_slots.load(std::memory_order_relaxed) != 0) {
    for (int i = 0; i < slot_end(); ++i) {
      g_slots[i].used = false;
    }
    for (MapRecord& m : g_maps) {
      m.addr = 0;
    }
    for (int fd = 0; fd < g_fd_end.load(std::memory_order_relaxed); ++fd) {
      g_fd_slot[fd].store(0, std::memory_order_relaxed);
    }
    g_used_slots.store(0, std::memory_order_relaxed);
  }
  ::pthread_mutex_unlock(&g_lock);
}

__attribute__((constructor)) void register_fork_handlers() {
  ::pthread_atfork(lock_for_fork, unlock_after_fork, forget_in_child);
}

// Appends "rel\n" to .vrift/pending for `vrift run` to ingest at its end. One write
// with O_APPEND: concurrent writers' lines never interleave. No sync: the file itself is
// on disk at its path, and whatever the list loses to a crash, the entry's dirty mark
// or the next ingest of its directory finds.
void record_pending(const char* rel, size_t rel_len) noexcept {
  char path[sizeof g_session.project + 32];
  std::snprintf(path, sizeof path, "%s/.vrift/pending", g_session.project);
  char line[PATH_MAX + 1];
  if (rel_len >= sizeof line - 1) {
    return;
  }
  std::memcpy(line, rel, rel_len);
  line[rel_len] = '\n';
  int fd = real().open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    debug_log("vrift shim: cannot record %.*s in %s; `vrift ingest` will find it", static_cast<int>(rel_len), rel,
              path);
    return;
  }
  ssize_t ignored = ::write(fd, line, rel_len + 1);
  (void)ignored;
  real().close(fd);
}

// A file that arrived at a managed path (renamed over it) while its entry still names
// the old content: marked dirty, so every process reads the file now there rather than
// the old blob until `vrift run` ingests it.
void mark_written(const char* rel, size_t rel_len) noexcept {
  FileFacts facts;
  {
    Lookup lookup;
    manifest::Entry e;
    if (!lookup.find(rel, rel_len, e) || e.kind != manifest::EntryKind::file || e.dirty()) {
      return;
    }
    facts.assign(e);
  }
  commit_dirty(rel, rel_len, facts.entry);
}

// Whether the path still holds the file this process wrote: another `vrift run` may have
// recorded it (and, Phantom, taken it off its path) since its last close here, and the
// entry it recorded must then not be marked as being written again.
bool still_at_path(const char* rel, size_t rel_len, dev_t dev, ino_t ino) noexcept {
  ManagedPath mp;
  struct stat st;
  return project_path(rel, rel_len, mp) && real().fstatat(AT_FDCWD, mp.abs, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         st.st_dev == dev && st.st_ino == ino;
}

// A written file that could not go back into The Source now stays at its path, and the
// next ingest takes it. In Phantom its entry is marked dirty, so that reads find the file
// there rather than the blob of the content before the write.
void stays_private(const char* rel, size_t rel_len) noexcept {
  if (g_session.phantom) {
    mark_written(rel, rel_len);
  }
  record_pending(rel, rel_len);  // for the end of the session (or of `vrift run`)
}

}  // namespace

bool track_write(int fd, dev_t dev, ino_t ino, const char* rel, size_t rel_len, manifest::Tier tier) noexcept {
  if (fd < 0 || fd >= k_max_fds || rel_len >= PATH_MAX) {
    return false;
  }
  Finished replaced;
  bool tracked = false;
  {
    Locked lock;
    drop_fd(fd, replaced);  // a stale entry for a number the kernel reused
    int free_slot = -1;
    int found = -1;
    for (int i = 0; i < slot_end(); ++i) {
      if (g_slots[i].used && g_slots[i].dev == dev && g_slots[i].ino == ino) {
        found = i;
        break;
      }
      if (!g_slots[i].used && free_slot < 0) {
        free_slot = i;
      }
    }
    if (found < 0 && free_slot < 0 && slot_end() < k_max_slots) {
      free_slot = g_slot_end.fetch_add(1, std::memory_order_relaxed);
    }
    if (found < 0 && free_slot >= 0) {
      WriteSlot& s = g_slots[free_slot];
      s.used = true;
      g_used_slots.fetch_add(1, std::memory_order_relaxed);
      s.dev = dev;
      s.ino = ino;
      s.fds = 0;
      s.maps = 0;
      s.tier = tier;
      s.rel_len = rel_len;
      std::memcpy(s.rel, rel, rel_len);
      s.rel[rel_len] = '\0';
      found = free_slot;
    }
    if (found >= 0) {
      ++g_slots[found].fds;
      set_fd_slot(fd, found);
      tracked = true;
    }
  }
  reingest_finished(replaced);
  if (!tracked && g_session.reingest_at_exit) {
    record_pending(rel, rel_len);  // listed now instead: `vrift run` settles it at its end all the same
  }
  return tracked;
}

bool writes_in_progress() noexcept { return g_used_slots.load(std::memory_order_acquire) != 0; }

bool is_tracked_fd(int fd) noexcept {
  return fd >= 0 && fd < k_max_fds && g_fd_slot[fd].load(std::memory_order_relaxed) != 0;
}

void tracked_dup(int from, int to) noexcept {
  if (!is_tracked_fd(from) || to < 0 || to >= k_max_fds || from == to) {
    return;
  }
  Locked lock;
  int16_t slot = g_fd_slot[from].load(std::memory_order_relaxed);
  if (slot != 0) {
    ++g_slots[slot - 1].fds;
    set_fd_slot(to, slot - 1);
  }
}

void release_fd(int fd, Finished& out) noexcept {
  if (!is_tracked_fd(fd)) {
    return;
  }
  Locked lock;
  drop_fd(fd, out);
}

void finish(const Finished& f) noexcept { reingest_finished(f); }

void fd_closed(int fd) noexcept {
  Finished f;
  release_fd(fd, f);
  finish(f);
}

void tracked_map(int fd, void* addr, size_t len) noexcept {
  if (!is_tracked_fd(fd)) {
    return;
  }
  Locked lock;
  int16_t slot = g_fd_slot[fd].load(std::memory_order_relaxed);
  for (MapRecord& m : g_maps) {
    if (slot != 0 && m.addr == 0) {
      m.addr = reinterpret_cast<uintptr_t>(addr);
      m.len = len;
      m.slot = slot - 1;
      ++g_slots[slot - 1].maps;
      return;
    }
  }
}

void tracked_unmap(void* addr, size_t len) noexcept {
  if (g_used_slots.load(std::memory_order_relaxed) == 0) {
    return;  // no file being written, so no mapping of one (the common munmap)
  }
  uintptr_t lo = reinterpret_cast<uintptr_t>(addr);
  uintptr_t hi = lo + len;
  Finished done[4];
  int n = 0;
  {
    Locked lock;
    for (MapRecord& m : g_maps) {
      // A mapping counts as gone once any part of it is unmapped: writes through it
      // after that are the program's own business, and are caught by the next sweep.
      if (m.addr != 0 && m.addr < hi && lo < m.addr + m.len) {
        int slot = m.slot;
        m.addr = 0;
        --g_slots[slot].maps;
        if (n < 4) {
          finish_if_unused(slot, done[n]);
          n += done[n].due ? 1 : 0;
        }
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    reingest_finished(done[i]);
  }
}

void tracked_rename(const char* from_rel, size_t from_len, const char* to_rel, size_t to_len) noexcept {
  if (to_len >= PATH_MAX) {
    return;
  }
  Locked lock;
  for (int i = 0; i < slot_end(); ++i) {
    WriteSlot& s = g_slots[i];
    if (!s.used || s.rel_len < from_len || std::memcmp(s.rel, from_rel, from_len) != 0 ||
        (s.rel_len > from_len && s.rel[from_len] != '/')) {
      continue;
    }
    char moved[PATH_MAX];
    size_t tail = s.rel_len - from_len;
    if (to_len + tail >= PATH_MAX) {
      continue;
    }
    std::memcpy(moved, to_rel, to_len);
    std::memcpy(moved + to_len, s.rel + from_len, tail);
    s.rel_len = to_len + tail;
    std::memcpy(s.rel, moved, s.rel_len);
    s.rel[s.rel_len] = '\0';
  }
}

void flush_all_writes() noexcept {
  for (int i = 0; i < slot_end() && g_used_slots.load(std::memory_order_relaxed) != 0; ++i) {
    Finished f;
    {
      Locked lock;
      if (g_slots[i].used) {
        g_slots[i].fds = 0;
        g_slots[i].maps = 0;
        finish_if_unused(i, f);
      }
    }
    reingest_finished(f);
  }
}

bool writing_env(char* out, size_t cap) noexcept {
  if (g_used_slots.load(std::memory_order_relaxed) == 0) {
    return false;
  }
  size_t len = static_cast<size_t>(std::snprintf(out, cap, "VRIFT_WRITING="));
  bool any = false;
  Locked lock;
  int end = g_fd_end.load(std::memory_order_relaxed);
  for (int fd = 0; fd < end; ++fd) {
    int16_t slot = g_fd_slot[fd].load(std::memory_order_relaxed);
    if (slot == 0) {
      continue;
    }
    int flags = real().fcntl(fd, F_GETFD);
    if (flags < 0 || (flags & FD_CLOEXEC) != 0) {
      continue;
    }
    const WriteSlot& s = g_slots[slot - 1];
    // The path goes last in each record; a ';' or newline in it ends the list early,
    // which only leaves that file for the end-of-session sweep.
    int n = std::snprintf(out + len, cap - len, "%s%d:%llu:%llu:%d:%s", any ? ";" : "", fd,
                          static_cast<unsigned long long>(s.dev), static_cast<unsigned long long>(s.ino),
                          static_cast<int>(s.tier), s.rel);
    if (n < 0 || len + static_cast<size_t>(n) >= cap) {
      break;
    }
    len += static_cast<size_t>(n);
    any = true;
  }
  return any;
}

void adopt_writing_env() noexcept {
  const char* env = std::getenv("VRIFT_WRITING");
  if (env == nullptr) {
    return;
  }
  for (const char* p = env; *p != '\0';) {
    char* end = nullptr;
    long fd = std::strtol(p, &end, 10);
    unsigned long long dev = end && *end == ':' ? std::strtoull(end + 1, &end, 10) : 0;
    unsigned long long ino = end && *end == ':' ? std::strtoull(end + 1, &end, 10) : 0;
    long tier = end && *end == ':' ? std::strtol(end + 1, &end, 10) : 0;
    if (end == nullptr || *end != ':') {
      return;
    }
    const char* rel = end + 1;
    const char* stop = std::strchr(rel, ';');
    size_t rel_len = stop ? static_cast<size_t>(stop - rel) : std::strlen(rel);
    struct stat st;
    // Only a descriptor that still is that file: the new image may have closed or
    // replaced it before we got here.
    if (fd >= 0 && real().fstat(static_cast<int>(fd), &st) == 0 && st.st_dev == dev && st.st_ino == ino) {
      track_write(static_cast<int>(fd), st.st_dev, st.st_ino, rel, rel_len,
                  tier == 1 ? manifest::Tier::tier1 : manifest::Tier::tier2);
    }
    if (stop == nullptr) {
      break;
    }
    p = stop + 1;
  }
  ::unsetenv("VRIFT_WRITING");
}

void directory_arrived(const char* rel, size_t rel_len) noexcept { record_pending(rel, rel_len); }

void unrecorded_parent(const char* rel, size_t rel_len) noexcept { record_pending(rel, rel_len); }

void reingest(const char* rel, size_t rel_len, dev_t dev, ino_t ino, manifest::Tier tier) noexcept {
  Guard guard;
  int saved = errno;
  if (g_session.reingest_at_exit) {
    // Solid reads answer from the manifest only while the path holds the projection's
    // own inode, so only a Phantom session needs the entry marked (and the manifest
    // opened: most programs of a build only write new files).
    if (g_session.phantom && still_at_path(rel, rel_len, dev, ino)) {
      mark_written(rel, rel_len);
    }
    record_pending(rel, rel_len);
    errno = saved;
    return;
  }
  ManagedPath mp;
  if (!project_path(rel, rel_len, mp)) {
    errno = saved;
    return;
  }
  int fd = real().open(mp.abs, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || real().fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino) {
    // Moved, replaced or removed since: whoever did that recorded it, or the sweep will.
    if (fd >= 0) {
      real().close(fd);
    }
    errno = saved;
    return;
  }
  cas::TheSource* source = the_source();
  // From the store to the commit naming the blob, gc must wait; while it runs, the file
  // stays private and the next ingest takes it (the_source.hpp).
  auto references = source != nullptr ? source->hold_references(false) : Result<UniqueFd>(fail(Errc::invalid, "open"));
  if (!references) {
    debug_log("vrift shim: The Source is busy (gc) or missing (%s); %s stays a private file",
              error_reason(references.error()), mp.abs);
    real().close(fd);
    stays_private(rel, rel_len);
    errno = saved;
    return;
  }
  cas::StoreRequest request;
  request.fd = fd;
  request.fd_stat = &st;
  request.path = mp.abs;
  request.executable = (st.st_mode & 0111) != 0;
  request.allow_link = false;  // see the header essay: copy, never link the written inode
  auto stored = source != nullptr ? source->store_file(request) : Result<cas::Stored>(fail(Errc::invalid, "open"));
  real().close(fd);
  if (!stored) {
    debug_log("vrift shim: cannot store %s in The Source (%s); it stays a private file", mp.abs,
              error_reason(stored.error()));
    stays_private(rel, rel_len);
    errno = saved;
    return;
  }
  manifest::Entry e;
  e.kind = manifest::EntryKind::file;
  e.tier = tier;
  e.mode = st.st_mode;
  e.size = static_cast<uint64_t>(st.st_size);
  e.mtime_ns = ns_of(st.st_mtim);
  e.ctime_ns = ns_of(st.st_ctim);
  e.ino = st.st_ino;
  e.hash = stored->key.digest;
  e.ext = stored->key.extension();

  char blob[PATH_MAX];
  char tmp[PATH_MAX];
  if (g_session.phantom) {
    e.flags = manifest::k_flag_phantom;
    if (commit_entry(rel, rel_len, e)) {
      struct stat now;
      if (real().fstatat(AT_FDCWD, mp.abs, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_ino == ino && now.st_dev == dev) {
        real().unlink(mp.abs);
      }
    }
    errno = saved;
    return;
  }
  // Solid: the path becomes a link to the blob again, made beside it and renamed over.
  bool linked = false;
  bool symlink = tier == manifest::Tier::tier1;
  if (symlink) {
    (void)source->add_short_name(stored->key, true);  // durable before the symlink names it
  }
  size_t blob_len = symlink ? source->link_target(stored->key, blob, sizeof blob)
                            : source->path_of(stored->key, blob, sizeof blob);
  if (blob_len != 0 && temp_beside(mp.abs, mp.abs_len, tmp)) {
    if (symlink) {
      linked = real().symlink(blob, tmp) == 0;
      e.ino = linked ? 0 : e.ino;  // a symlink projection records no inode (as ingest does)
    } else {
      struct stat blob_st;
      linked = real().link(blob, tmp) == 0 && real().fstatat(AT_FDCWD, tmp, &blob_st, AT_SYMLINK_NOFOLLOW) == 0;
      e.ino = linked ? blob_st.st_ino : e.ino;
      if (!linked) {
        real().unlink(tmp);
      }
    }
  }
  e.flags = linked ? manifest::k_flag_projected : 0;
  if (!commit_entry(rel, rel_len, e)) {
    if (linked) {
      real().unlink(tmp);
    }
  } else if (linked && real().rename(tmp, mp.abs) != 0) {
    real().unlink(tmp);
  }
  errno = saved;
}

}  // namespace vrift::shim
