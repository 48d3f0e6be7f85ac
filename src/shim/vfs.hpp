#pragma once
// The virtual view: what the manifest says a project path is, and the stat a program
// sees for it.
//
// A managed file (a manifest file entry) is answered from the manifest: its recorded
// mode, size and mtime, nlink 1, the session user as owner, the project's st_dev and a
// stable inode number unique to its path. In Phantom mode that is all there is; in
// Solid mode only while the path still holds the projection vrift made (a symlink to
// the blob, or the blob's own inode): a path someone replaced is reported as it is.
//
// Open descriptors on a managed file are remembered by fd in a table, with the real
// (device, inode) they were opened on. fstat() of such an fd returns the virtual stat
// when the fd still refers to that inode, so a reused fd number is never misreported
// and no close() bookkeeping is needed for correctness.

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include "manifest/entry.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "shim/path.hpp"
#include "shim/real.hpp"
#include "shim/state.hpp"

namespace vrift::shim {

// One lookup's view of the manifest: a read snapshot of this thread, taken on first use
// (a path outside the project never touches the manifest) and reset on scope exit, so
// entries found through it stay valid for the scope only.
class Lookup {
 public:
  Lookup() noexcept = default;
  ~Lookup();
  Lookup(const Lookup&) = delete;
  Lookup& operator=(const Lookup&) = delete;

  // A managed file or other entry at `rel`; false on a miss, a whiteout or an error.
  bool find(const char* rel, size_t len, manifest::Entry& out) noexcept;
  // Whether `rel` is one of the project's projected directories (recorded or not), or
  // with `or_below` lies below one, and that directory's tier
  // (manifest::k_meta_projected_key).
  bool projected_dir(const char* rel, size_t len, manifest::Tier& tier, bool or_below = false) noexcept;
  // The manifest's meta record `key` into `out` (valid for the snapshot); false if none.
  bool meta(std::string_view key, std::string_view& out) noexcept;
  // Ends this lookup's snapshot early (entries found through it become invalid), so
  // the thread may write the manifest.
  void release() noexcept;
  // Visits the children of `dir_rel` (layered view).
  template <class F>
  bool children(const char* dir_rel, size_t len, F&& visit) noexcept {
    return begin() && static_cast<bool>(m_manifest->list_children(*m_txn, std::string_view(dir_rel, len), visit));
  }

 private:
  bool begin() noexcept;
  manifest::LmdbManifest* m_manifest = nullptr;  // set with m_txn
  manifest::ReadTxn* m_txn = nullptr;
};

// Visits, as visit(name, d_type) -> bool (false stops), the children of project
// directory `rel` that only the manifest has: phantom files (DT_REG) and virtual
// directories (DT_DIR) not physically in it (`dfd`: the directory, open). Names are
// NUL-terminated in a stack buffer valid during the call.
template <class F>
void for_each_virtual_child(Lookup& lookup, int dfd, const char* rel, size_t len, F&& visit) noexcept {
  lookup.children(rel, len, [&](std::string_view name, const manifest::Entry& e) {
    bool file = e.kind == manifest::EntryKind::file;
    if (!(file || e.kind == manifest::EntryKind::dir) || !e.phantom() || name.size() >= 256) {
      return true;
    }
    char cname[256];
    std::memcpy(cname, name.data(), name.size());
    cname[name.size()] = '\0';
    struct stat st;
    if (real().fstatat(dfd, cname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      return true;  // physically there: the kernel lists it
    }
    return visit(std::string_view(cname, name.size()), static_cast<unsigned char>(file ? DT_REG : DT_DIR));
  });
}

// Phantom directories are virtual until a program needs one. Ingest removes the Phantom
// directories it empties (their entries carry k_flag_phantom), and the shim makes one
// again, with its recorded mode and mtime, when a program names the directory itself
// (stat, open, opendir, chdir: resolve_managed() does it) or makes or removes an entry
// in it (the mutating calls). Paths below a virtual directory need no directory on
// disk: a phantom file is answered from the manifest, and a miss is a miss.
//
// Makes the virtual directory `rel` and its virtual ancestors physical; the nearest
// directory already on disk keeps its times. True when something was made. Keeps errno.
bool hydrate_dir(Lookup& lookup, const char* rel, size_t len) noexcept;
// hydrate_dir() of the directory holding `mp` (when it is a virtual directory).
bool hydrate_parent(const ManagedPath& mp) noexcept;
// hydrate_parent() for (dirfd, path): after a call that creates `path` failed with
// ENOENT, true when the call is worth making again. Keeps errno.
bool made_parent_of(int dirfd, const char* path) noexcept;
// Whether `abs` (absolute, normalized) is a virtual directory of the project not on
// disk (the caller found it missing).
bool virtual_dir(Lookup& lookup, const char* abs) noexcept;

// A stable inode number for a project path, in a range real inode numbers never reach.
uint64_t virtual_ino(const char* rel, size_t len) noexcept;

// Fills `st` from a file entry as described above.
void fill_stat(const manifest::Entry& e, const char* rel, size_t len, struct stat& st) noexcept;

// The lstat of a path, made once and shared by the steps that need it.
struct PathStat {
  bool known = false;  // made (then `ok` says whether it succeeded)
  bool ok = false;
  int err = 0;  // its errno when it failed
  struct stat st;
};

// lstat(abs) as a PathStat (errno kept).
PathStat lstat_path(const char* abs) noexcept;

// What a program should see at `path`. Returns:
//   1  the path is a managed file: `st` holds its virtual stat (and `entry` its entry)
//   0  not managed here: ask the kernel
// In a Solid session it lstats the path first (the projection decides), using and
// filling `real` when given.
int virtual_stat(const ManagedPath& path, Lookup& lookup, manifest::Entry& entry, struct stat& st,
                 PathStat* real = nullptr) noexcept;

// virtual_stat() for (dirfd, path), following what the kernel would follow: a symlink as
// the last component when `follow`, and symlinked parent directories (whose targets the
// kernel cannot see into when the file is phantom). Returns 1 with `mp` naming the
// managed file itself; 0 when the kernel should answer (errno kept); -1 with errno set
// when the answer is an error the kernel cannot give (ENOTDIR for "file/" or "file/x").
// What resolve_managed() noticed on the way, for callers that ask.
struct ResolveNotes {
  bool made_dir = false;  // the path named a virtual directory, made physical now: a call
                          // the kernel failed before may be made again
  bool dir = false;       // the kernel answers for a directory the manifest records
};

// A virtual directory named by the path is made physical first.
int resolve_managed(int dirfd, const char* path, bool follow, ManagedPath& mp, Lookup& lookup,
                    manifest::Entry& entry, struct stat& st, ResolveNotes* notes = nullptr) noexcept;

// Whether the session's project has virtual directories (manifest::k_meta_virtual_dirs_key;
// read once per process).
bool virtual_dirs_session(Lookup& lookup) noexcept;

// The stat of a recorded directory as the plain tree would show it, in a session with
// virtual directories: the kernel's nlink counts only the subdirectories on disk (1, as
// btrfs reports, tells walkers "unknown"), and making a subdirectory changed the ctime
// (tar would report the directory changed as it read it).
inline void plain_dir_stat(struct stat& st) noexcept {
  st.st_nlink = 1;
  st.st_ctim = st.st_mtim;
}

// A path resolved against the manifest, with what keeps its entry valid (the re-entry
// guard and this thread's read snapshot) held for the object's lifetime.
struct ManagedFile {
  Guard guard;
  ManagedPath path;
  Lookup lookup;
  manifest::Entry entry;
  struct stat st;
  ResolveNotes notes;

  // 1: (dirfd, p) is a managed file; 0: ask the kernel; -1: fail with errno (see
  // resolve_managed()).
  int resolve(int dirfd, const char* p, bool follow) noexcept {
    return resolve_managed(dirfd, p, follow, path, lookup, entry, st, &notes);
  }
  // After resolve() returned 0 and the kernel answered with `mode`: whether that answer
  // is a recorded directory in a session with virtual directories (plain_dir_stat()).
  bool plain_dir(mode_t mode) noexcept { return notes.dir && S_ISDIR(mode) && virtual_dirs_session(lookup); }
};

// The canonical absolute path of `path` into out (PATH_MAX), as realpath(3) makes it but
// seeing what a session sees: a managed file is a file (a Tier-1 symlink is not
// followed into The Source), a virtual directory is a directory. False with errno set.
// Looks up through `lookup` (one read snapshot per thread: never a second Lookup).
bool canonical_path(const char* path, char* out, Lookup& lookup) noexcept;

// Writes the blob path of a file entry into out (PATH_MAX). Returns false if too long.
bool blob_path(const manifest::Entry& e, char* out) noexcept;
// Whether `target` (a symlink's content, `len` bytes) names the blob of a file entry:
// its path or its short name (cas/layout.hpp).
bool names_blob(const manifest::Entry& e, const char* target, size_t len) noexcept;

// Opens the blob of a file entry read-only with `flags` added (the real open; -1 with
// errno on failure).
int open_blob(const manifest::Entry& e, int flags) noexcept;

// The fd table.
void remember_fd(int fd, const struct stat& real_st, const struct stat& virtual_st) noexcept;
// fd is a recorded directory of a session with virtual directories (plain_dir_stat()).
void remember_dir_fd(int fd, const struct stat& real_st) noexcept;
// Whether fd is such a directory, still on the inode (dev, ino) it was opened on.
bool fd_dir_view(int fd, dev_t dev, ino_t ino) noexcept;
// Replaces `st` (the real fstat of fd) with the virtual stat when fd is a managed file,
// or amends it (plain_dir_stat()) when fd is such a directory.
bool overlay_fd_stat(int fd, struct stat& st) noexcept;
// fd `to` now refers to what `from` does (dup and friends): it inherits from's entry.
void copy_fd(int from, int to) noexcept;
// The virtual stat of fd (true) when fd is a managed file whose real inode is (dev, ino)
// (never for a directory).
bool fd_virtual_stat(int fd, dev_t dev, ino_t ino, struct stat& out) noexcept;

}  // namespace vrift::shim
