#pragma once
// Projection: the steps that put a blob at a project path, shared by ingest, doctor and
// restore, so each makes links, temps and locks the same way.
//
// A path never goes missing while it is replaced: the new link (or private copy) is made
// under a temp name beside the path, `.vrift-tmp-<pid>-<n>`, and renamed over it. The
// shim names its break-before-write temps the same way. A temp whose <pid> is no longer
// alive is a leftover of a crash and may be removed; one whose process lives may be in
// use. The Source's own temps are `tmp/<pid>.<n>.<clock>` (cas/the_source.cpp), judged
// the same way, as are an ingest's staging directories `tmp/<pid>.w<k>/` (SourceStaging).

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.hpp"
#include "base/result.hpp"
#include "cas/the_source.hpp"
#include "hash/digest.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "project/config.hpp"

namespace vrift::project {

class Trash;

inline constexpr std::string_view k_temp_prefix = ".vrift-tmp-";

// A temp name beside `rel` (same directory), unique in this process: "<dir>/.vrift-tmp-<pid>-<n>".
std::string temp_beside(std::string_view rel);

// A temp name beside directory `rel` that keeps its name: "<dir>/.vrift-tmp-<pid>-<n>.<name>"
// (leaving_dirs.hpp), or "" when that would be too long a name.
std::string aside_name_for(std::string_view rel);

// The path a name made by aside_name_for() stands for ("" for other names).
std::string original_of_aside(std::string_view rel);

// Puts a directory named by aside_name_for() (`rel`, under `dir_fd`) back under its own
// name, unless that name is taken. True when it was put back.
bool put_back_aside(int dir_fd, std::string_view rel);

// Whether the last component of `rel` is a vrift temp name.
bool is_projection_temp(std::string_view rel);

// Whether a process with this id exists (kill(pid, 0); EPERM counts as alive).
bool pid_alive(pid_t pid);

// Whether a project temp name (last component of `rel`) was left by a process that is
// gone. False for names that are not vrift temps, and for temps of live processes.
bool stale_project_temp(std::string_view rel);

// Whether a name in The Source's tmp/ ("<pid>.<n>.<clock>") was left by a process that
// is gone. Names that do not start with a pid are judged stale (nothing makes them).
bool stale_source_temp(std::string_view name);

// What a path must still hold for a projection (or a private copy) to replace it: the
// file ingest read (or what doctor found there), and no writer waiting to open that
// file. Anything else is a file a program put there since (a session's
// break-before-write, an editor's save), or one a program is about to write, and it
// stays.
struct Expected {
  const struct stat* file = nullptr;  // st_dev/st_ino of the file read; st_ino 0: nothing at all
  int lease_fd = -1;                  // open on that file with a write lease, or -1
  Trash* trash = nullptr;             // where the file goes instead of being freed now (trash.hpp)
};

// Puts `tmp` (a name under tmp_dir, on the project's filesystem) at `rel` (under root_fd)
// only while `rel` holds what `expected` names: an atomic exchange, then a look at what
// came off the path, which goes straight back unless it is that file (if the path
// changed yet again meanwhile, the newest file wins, as the program's own renames would
// have it). Errors: Errc::changed (the path was left as it is), Errc::system; on either
// the caller removes `tmp`.
Status place_checked(int tmp_dir, const char* tmp, int root_fd, const char* rel, const Expected& expected);

// Phantom: takes the file read off `rel` (into `expected.trash`, or freed), only while
// `rel` holds it and no writer waits on it: a rename aside, a look, and the unlink, or
// the rename back. Errors: Errc::changed (the path is gone, or left as it is),
// Errc::system.
Status remove_checked(int root_fd, const std::string& rel, const Expected& expected);

struct LinkOptions {
  bool symlink = false;          // a symlink to the blob's absolute path; else a hardlink
  uint64_t* ino = nullptr;       // set to the inode the path then has (0 for a symlink)
  const char* target = nullptr;  // the symlink's target, already known (TheSource::short_target())
  const Expected* expect = nullptr;  // null: whatever is at the path is replaced
  // A directory under The Source's root, on the project's filesystem (a SourceStaging
  // one), to make the symlink in rather than beside the path. On an ext4 without a
  // journal each new inode is checked against the recently freed ones of its block
  // group, scanned from the group's start; right after `rm -rf node_modules && npm ci`
  // the project's groups are full of those, and making ~30,000 symlinks there spent half
  // its time in that scan. The Source's tmp/ lies in a group of its own.
  const char* source_dir = nullptr;
};

// Directories in The Source's tmp/, one per worker ("tmp/<pid>.w<k>"), to make
// projection symlinks in: workers that each make, exchange and remove their temps in a
// directory of their own do not queue on one directory's lock (they did, for a sixth of
// a Tier-1 ingest's time, in tmp/ itself). Removed with this object; a process that dies
// leaves them, with whatever temps they hold, to doctor and gc as stale temps.
class SourceStaging {
 public:
  SourceStaging() = default;
  // Makes `workers` directories; on failure makes none (dir() is then tmp/ itself).
  SourceStaging(int source_root_fd, unsigned workers);
  ~SourceStaging();
  SourceStaging(const SourceStaging&) = delete;
  SourceStaging& operator=(const SourceStaging&) = delete;

  // The directory of `worker`, relative to The Source's root.
  const char* dir(unsigned worker) const;

 private:
  void remove_all() noexcept;

  int m_root_fd = -1;
  std::vector<std::string> m_dirs;
};

// Whether a name in The Source's tmp/ is a SourceStaging directory's ("<pid>.w<k>").
bool is_staging_dir_name(std::string_view name);

// Removes `rel` ("tmp/<name>") from The Source's tmp/: a temp, or a staging directory
// with the temps in it, each by TheSource::remove_name() (a temp may be a name of a
// locked blob). False with errno set when something stays.
bool remove_source_temp(cas::TheSource& source, const std::string& rel);

// Replaces (or creates) `rel` under `root_fd` with a link to the blob, made as a temp
// beside and put over the path (place_checked() with `expect`). Errors: Errc::changed
// (see place_checked()), Errc::system (errno of the failing step: EPERM from linkat
// when the blob is immutable, EXDEV across filesystems, ...); the temp is removed on
// failure.
Status link_projection(int root_fd, const cas::TheSource& source, const cas::BlobKey& key, const std::string& rel,
                       const LinkOptions& options);

// A private copy of a blob's content on its way to a project path: an unnamed file
// (O_TMPFILE) in the path's directory, so a crash leaves nothing behind, or where the
// filesystem cannot make those, a named temp beside the path.
struct StagedCopy {
  UniqueFd fd;
  std::string temp;  // the named temp (relative to the root); empty for an unnamed file
};

// Copies the content of `src_fd` (from offset 0) into a new file in the directory of
// `rel`, hashing the bytes as they are written; gives it `mode` (permission bits) and
// the mtime `mtime_ns`. Errors: Errc::corrupt (the bytes are not `size` bytes hashing to
// `digest`: the source is damaged; nothing is left behind), Errc::system.
Result<StagedCopy> stage_private_copy(int root_fd, const std::string& rel, int src_fd, const hash::Digest& digest,
                                      uint64_t size, unsigned mode, int64_t mtime_ns);

// Puts a staged copy at `rel`: linked there when nothing is at the path, otherwise
// renamed over what is there (through a temp beside it for an unnamed file), or with
// `expect` put there by place_checked(). The copy's data should be durable first (the
// caller syncs a batch at once). Errors: Errc::changed (with `expect`), Errc::system
// (EPERM: the path is an immutable inode).
Status publish_private_copy(int root_fd, const std::string& rel, StagedCopy& copy, const Expected* expect = nullptr);

// A read-only private copy of blob `key` at `rel` (replacing what is there: a link to the
// blob, or nothing), for a path whose blob cannot gain links (locked, or on another
// filesystem): staged, made durable, then published. Its inode number goes to `ino`.
// With `expect`, the path is replaced only as place_checked() allows.
// Errors: as stage_private_copy() and publish_private_copy(); Errc::system (open blob).
Status copy_blob_to(int root_fd, const cas::TheSource& source, const cas::BlobKey& key, const std::string& rel,
                    int64_t mtime_ns, uint64_t& ino, const Expected* expect = nullptr);

// Makes `path` absent from the manifest's layered view: its records leave both layers,
// or, when the base is shared with other projects, a whiteout hides it. Errors: as
// WriteTxn::remove().
Status forget_entry(manifest::WriteTxn& txn, bool shared_base, std::string_view path);

// Who owns Tier-1 blobs, and whether they are locked, as the config says.
struct Tier1Protection {
  uid_t uid = static_cast<uid_t>(-1);  // -1: leave the owner as it is
  gid_t gid = static_cast<gid_t>(-1);
  bool immutable = true;
};

// The protection for `config`: its owner when running as root and the user exists.
Tier1Protection tier1_protection(const Config& config);

// Locks a Tier-1 blob (owner, immutable flag) when no project links to it (nlink 1): the
// immutable flag would freeze such links too. `fd` is open on the blob, or -1 to open it
// by key. Returns the error of setting the immutable flag (the caller may warn once);
// a blob that has links or cannot be opened is left as it is without error.
// `short_named`: the caller knows the blob has its short name (no need to look).
Status protect_tier1_blob(const cas::TheSource& source, const cas::BlobKey& key, int fd,
                          const Tier1Protection& protection, bool short_named = false);

// Whether the inode open as `fd` carries the immutable flag (false when unknown).
bool is_immutable(int fd);

}  // namespace vrift::project
