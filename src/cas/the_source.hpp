#pragma once
// TheSource: the global content-addressable store. See layout.hpp for names on disk.
//
// How content gets in, and why it is always whole (the Iron Law, P0-a):
// - Link: when the file is on The Source's filesystem and may become a blob, its own
//   inode is linked to the final name (`link` is atomic: the name appears whole or not
//   at all). Its mode is set to the blob mode first, and the link is made through
//   /proc/self/fd so it is exactly the inode that was hashed; a file whose size or
//   mtime moved while it was hashed is not published (Errc::changed).
// - Clone or copy: otherwise the content goes to a temp file in <root>/tmp/ (FICLONE
//   where the filesystem has it, else a copy that is hashed as it is written, so the
//   hash is of the bytes on disk). The temp is made durable before it is linked to its
//   final name, so a crash never leaves a final name with partial content.
// - Concurrency: `link` onto an existing name fails with EEXIST, which means another
//   store already published the same content; every racer succeeds and one blob stays.
// - Durability is batched (one fsync per file would cost ~0.3 ms): a StoreBatch syncs
//   the filesystem once for all it staged, then publishes the staged temps, then syncs
//   again. Callers commit a manifest transaction naming blobs only after commit().
// A published blob is never opened for writing, truncated, chmod-ed or utime-d again.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.hpp"
#include "base/result.hpp"
#include "cas/layout.hpp"

namespace vrift::cas {

enum class StoreMethod : uint8_t {
  present,  // an identical blob was already there; nothing was written
  linked,   // the file's own inode became the blob
  cloned,   // reflinked (FICLONE) into The Source
  copied,   // copied into The Source
};

struct StoreRequest {
  int fd = -1;                    // the file, already open for reading; or -1 to open `path`
  const struct stat* fd_stat = nullptr;  // fstat of `fd` just taken, if the caller has it
  int dirfd = AT_FDCWD;
  const char* path = nullptr;     // the file to store, relative to dirfd
  bool executable = false;        // store as the executable (0555) variant
  std::string_view ext_name;      // name whose extension the blob takes; empty: `path`
  bool allow_link = true;         // may the file's own inode become the blob? (only with one link)
};

struct Stored {
  BlobKey key;
  StoreMethod method = StoreMethod::present;
};

class TheSource {
 public:
  // Opens The Source at `root`. With `create`, makes the root, blake3/ and tmp/ as
  // needed. Errors: Errc::system (the root is missing or not a directory, ...).
  static Result<TheSource> open(std::string_view root, bool create) noexcept;

  const std::string& root() const noexcept { return m_root; }
  // Whether `path` (a symlink's target, say) names something below the root.
  bool holds_path(std::string_view path) const noexcept {
    return path.size() > m_root.size() + 1 && path.starts_with(m_root) && path[m_root.size()] == '/';
  }
  int root_fd() const noexcept { return m_root_fd.get(); }
  dev_t device() const noexcept { return m_dev; }

  // Writes the blob's absolute path, NUL-terminated, into `out`. Returns its length,
  // or 0 when it does not fit in `cap`. Never allocates.
  size_t path_of(const BlobKey& key, char* out, size_t cap) const noexcept;

  // The target a symlink to this blob gets: "<root>/<short name>" (layout.hpp) when the
  // blob has that name on its own inode, so that the symlink fits in its inode; else the
  // blob's path. Returns its length, or 0 when it does not fit in `cap`. Never allocates.
  size_t link_target(const BlobKey& key, char* out, size_t cap) const noexcept;
  // "<root>/<short name>", for a caller that knows the blob has that name (it just made
  // it, and add_short_name() succeeded): link_target() without its two stats. Returns
  // its length, or 0 when no short name fits this root or `cap`.
  size_t short_target(const BlobKey& key, char* out, size_t cap) const noexcept;
  // Whether a symlink with this target stands for this blob: the blob's path or its
  // short name.
  bool is_link_to(const BlobKey& key, std::string_view target) const noexcept;
  // Gives the blob its short name, a second hard link. Must come before the blob is
  // locked (an immutable inode gains no links: EPERM); the name is durable after the next
  // sync(), or on return with `sync_now` (its directory is synced). A name another inode
  // holds is left alone (EEXIST): it may be another blob's.
  // Errors: Errc::invalid (no short name fits this root), Errc::system.
  Status add_short_name(const BlobKey& key, bool sync_now = false) noexcept;
  // Whether the blob (whose stat is `blob_st`) has its short name on its own inode.
  bool has_short_name(const BlobKey& key, const struct stat& blob_st) const noexcept;
  // Removes the blob's short name if it is a link to `inode` (a blob moved off its name,
  // whose stat that is).
  void remove_short_name(const BlobKey& key, const struct stat& inode) noexcept;
  // Gives a blob whose own name was lost that name back from its short name, which is
  // the same inode: `fd` is open on the short name and its content was checked to be the
  // blob's. The name is durable on return (its directory is synced). Errors:
  // Errc::system (EPERM: the inode is locked; EEXIST: the blob has a name again).
  Status name_from_short_name(const BlobKey& key, int fd) noexcept;

  // Moves the blob's names (its own, and its short name when that is on the same inode)
  // to a new inode holding a copy of the content, read from `fd`, open on the blob's
  // inode: ingest hands a file's inode over to The Source, and a process that opened
  // the file meanwhile would write into that inode (ingest.cpp). The copy is checked
  // against the key before it takes any name; durable on return. Errors: Errc::corrupt
  // (the content is not the blob's), Errc::system (EPERM: the names are locked).
  Status detach_blob(const BlobKey& key, int fd) noexcept;

  // Whether the blob is present with the size its name claims (one fstatat; no read).
  // A present blob with another size is reported as Errc::corrupt. Errors: Errc::system.
  Result<bool> contains(const BlobKey& key) const noexcept;

  // Stores one file or buffer and makes it durable before returning.
  Result<Stored> store_file(const StoreRequest& request) noexcept;
  Result<Stored> store_bytes(const void* data, size_t len, bool executable, std::string_view ext) noexcept;

  // Removes one name in The Source (`rel`: a blob's path, a short name or a stale temp),
  // clearing the inode's immutable flag first when that is what refuses it (needs
  // CAP_LINUX_IMMUTABLE), and setting it again when the inode keeps another name. Only
  // `vrift gc` removes names, of blobs no manifest names.
  // Errors: Errc::system.
  Status remove_name(const char* rel) noexcept;

  // Sets the immutable flag on a blob (needs CAP_LINUX_IMMUTABLE and a filesystem that
  // has it). An immutable blob can no longer gain hard links. Errors: Errc::system.
  Status lock(const BlobKey& key) noexcept;
  // The same for a blob already open (any mode) as `fd`.
  static Status lock_fd(int fd) noexcept;
  // Clears the immutable flag of the inode open as `fd` (needs CAP_LINUX_IMMUTABLE).
  // Errors: Errc::system.
  static Status unlock_fd(int fd) noexcept;
  // Whether this process can lock blobs here: sets and clears the immutable flag on a
  // scratch file in tmp/ (it takes CAP_LINUX_IMMUTABLE, which unprivileged users and
  // most containers lack, and a filesystem with inode flags).
  bool can_lock() const noexcept;

  // A name in tmp/ ("tmp/<pid>.<n>.<clock>", relative to root_fd()) that no other
  // process or thread will pick. Whatever a dead process left under such a name is a
  // stale temp (doctor removes it).
  static void temp_name(char* out, size_t cap) noexcept;

  // Makes everything written to The Source's filesystem durable (syncfs).
  Status sync() noexcept;

  // The reference lock, <root>/gc.lock, held while the returned descriptor is open. A
  // process that stores or finds blobs and then records them in a manifest holds it
  // shared from before the first store until its last commit; `vrift gc` holds it
  // exclusively while it reads the manifests and removes the blobs none of them names,
  // so it never removes a blob between its store and the commit that names it. `wait`:
  // block until the other side lets go; else fail at once (EWOULDBLOCK). Never
  // allocates (the shim takes it). Errors: Errc::system.
  Result<UniqueFd> hold_references(bool wait) const noexcept;
  Result<UniqueFd> hold_exclusively(bool wait) const noexcept;

  TheSource(TheSource&&) noexcept = default;
  TheSource& operator=(TheSource&&) noexcept = default;

 private:
  friend class StoreBatch;
  TheSource() = default;
  Status make_shard_dirs(const BlobKey& key) noexcept;
  Result<UniqueFd> hold_lock(int operation, bool wait) const noexcept;
  // linkat(old_dirfd, old_path) to the blob's name, creating its shard directories when
  // missing. Returns errno semantics: 0, or the failing errno (EEXIST: already there).
  int link_to_blob(int old_dirfd, const char* old_path, const BlobKey& key, int flags) noexcept;

  std::string m_root;
  UniqueFd m_root_fd;
  dev_t m_dev = 0;
};

// StoreBatch: stores many files with one round of syncs. Every key that add_* returned
// is a durable, published blob once commit() has succeeded; not before. A batch
// destroyed without commit() removes the temps it staged (linked blobs stay: they are
// whole and correct, just possibly not yet durable). add_* may be called from several
// threads at once; commit() must not overlap them.
class StoreBatch {
 public:
  explicit StoreBatch(TheSource& source) noexcept : m_source(&source) {}
  ~StoreBatch();
  StoreBatch(const StoreBatch&) = delete;
  StoreBatch& operator=(const StoreBatch&) = delete;

  // Hashes the file and brings its content into The Source. Errors: Errc::system,
  // Errc::invalid (not a regular file), Errc::changed (modified while being read).
  Result<Stored> add_file(const StoreRequest& request) noexcept;
  // Same for `len` bytes of memory.
  Result<Stored> add_bytes(const void* data, size_t len, bool executable, std::string_view ext) noexcept;

  // Makes everything added durable and published. Errors: Errc::system.
  Status commit() noexcept;
  // The same for a batch of one or a few copied files: a data sync per file and a sync
  // of its shard directories instead of syncing the whole filesystem twice, which costs
  // far more while other programs write to it. Falls back to commit() when a file was
  // linked rather than copied.
  Status commit_each() noexcept;

  // Gives the blob its short name (layout.hpp) when commit() publishes it, made durable
  // with it: a copied blob has no name to link until then. Best effort, like the name.
  void add_short_name_at_commit(const BlobKey& key) noexcept;

  // How many files were added since the last commit().
  size_t pending() const noexcept { return m_pending.load(std::memory_order_relaxed); }

 private:
  struct Staged {
    std::string tmp_name;  // relative to the root
    BlobKey key;
  };
  Result<Stored> stage_copy(int src_fd, const StoreRequest& request, bool executable) noexcept;
  Result<Stored> finish_staged(UniqueFd tmp_fd, std::string tmp_name, BlobKey key, StoreMethod method) noexcept;
  Result<std::pair<UniqueFd, std::string>> create_temp() noexcept;

  void note_added() noexcept { m_pending.fetch_add(1, std::memory_order_relaxed); }

  TheSource* m_source;
  std::mutex m_staged_mutex;
  std::vector<Staged> m_staged;
  std::vector<BlobKey> m_short_names;  // add_short_name_at_commit(); under m_staged_mutex
  std::atomic<size_t> m_pending{0};
};

}  // namespace vrift::cas
