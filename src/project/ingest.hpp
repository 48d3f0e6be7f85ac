#pragma once
// Ingest: hash every file of the projected paths, store it in The Source, record it in
// the manifest, and project it back (Solid: a link; Phantom: nothing at the path).
//
// The order per batch of files is the crash-safety guarantee (the Iron Law):
//   1. each file is opened and held with flock(LOCK_SH) until its entry is committed;
//   2. its content goes into The Source (StoreBatch); the batch is made durable at once;
//   3. one manifest transaction records the batch's entries;
//   4. only then is the project path changed: replaced by a link to the blob (Solid) or
//      removed (Phantom). A second transaction records the inode each projection got,
//      which lets the next ingest skip files that did not change.
// A crash anywhere leaves every file's content either at its path or in The Source with
// a committed entry naming it.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/fd.hpp"
#include "cas/the_source.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "project/config.hpp"
#include "project/failure.hpp"
#include "project/project.hpp"

namespace vrift::project {

struct IngestOptions {
  std::vector<std::string> paths;  // project-relative; empty: the config's projected paths
  Mode mode = Mode::Solid;
  unsigned jobs = 0;               // worker threads; 0: four per core (reads overlap)
  bool progress = false;           // draw a progress line on stderr
  bool holding_lock = false;       // the caller holds lock_for_ingest()
  // Phantom: remove the directories under the walked paths that are left empty, which
  // become virtual (shim/vfs.hpp). The re-ingest that ends a session keeps them: a
  // program of another session may still be in one.
  bool virtual_dirs = true;
};

struct IngestSummary {
  uint64_t files = 0;          // regular files now recorded under the walked paths
  uint64_t bytes = 0;          // their logical size
  uint64_t hashed = 0;         // files hashed in this run (new or changed)
  uint64_t hashed_bytes = 0;
  uint64_t unchanged = 0;      // files skipped because nothing changed since the last ingest
  uint64_t converted = 0;      // files already in The Source whose projection changed (mode switch)
  uint64_t new_blobs = 0;      // blobs this run added to The Source
  uint64_t new_blob_bytes = 0;
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t removed = 0;        // entries dropped because their file is gone
  uint64_t skipped = 0;        // special files (FIFOs, sockets, devices), left as they are
  // Files not readable by everyone (lock files, keys), left as plain files: every blob
  // is world-readable. Counted rather than warned about one by one.
  uint64_t private_files = 0;
  std::string private_example;  // one of them (the first found)
  uint64_t failed = 0;         // files or directories that could not be read or ingested
  // Files another process had open, or replaced (or removed) while they were being
  // ingested, left as they are (see ingest()).
  std::vector<std::string> busy_paths;
  uint64_t copies = 0;         // files kept as private read-only copies (no link possible)
  uint64_t tier1 = 0;
  uint64_t tier2 = 0;
  // Files under a node_modules directory this run turned into Tier-1 symlinks: Node
  // resolves symlinks, so outside a session it looks for their neighbours in The Source.
  uint64_t node_symlinks = 0;
  bool cross_filesystem = false;  // The Source is on another filesystem: copies, not links
  double seconds = 0;
};

// Receives warnings (one line each: what, path, why); ingest goes on after them.
using WarningSink = std::function<void(const Failure&)>;

// One ingest at a time per project: each decides from the manifest as it finds it (what
// is unchanged, what vanished), and two at once (the ends of two `vrift run`s) would
// undo what the other recorded meanwhile. Held while the returned descriptor is open
// (.vrift/ingest.lock); waits for the holder. Errors: Failure.
Outcome<UniqueFd> lock_for_ingest(const ProjectPaths& project);

// A file's own inode becomes its blob only under a write lease, which the kernel grants
// only when no other process has the file open or mapped, and which makes any new
// opener wait until the file is recorded and projected (the shim then looks again:
// shim/hooks_open.cpp). A file another process has open (a build writing it, a session
// holding it) is left as it is, in busy_paths: storing it could catch it half-written,
// and replacing it by its projection would lose what that process writes next. A path
// is replaced by its projection only while it still holds the file read (projection.hpp).
// A file with other links is copied (the_source.hpp).
Outcome<IngestSummary> ingest(const ProjectPaths& project, const Config& config, cas::TheSource& source,
                              manifest::LmdbManifest& manifest, const IngestOptions& options,
                              const WarningSink& warn);

}  // namespace vrift::project
