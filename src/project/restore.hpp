#pragma once
// Restore: turn projections back into plain private files (rollback; leaving Phantom).
//
// Each file the manifest holds under the chosen paths gets its content back as a file of
// its own, with the recorded mode and mtime, and the manifest stops claiming it. The
// order is the crash-safety guarantee, batch by batch:
//   1. copy each blob into a new file in the path's directory, hashing the bytes as they
//      are copied (a damaged blob is never restored: the file keeps its projection and
//      the failure says to run `vrift doctor`); give it the recorded mode and mtime. The
//      copy is an unnamed file (O_TMPFILE), so a crash leaves nothing half-made behind;
//   2. make the batch's copies durable at once (syncfs);
//   3. put each copy at its path: linked where nothing is (Phantom), renamed over the
//      link otherwise (through a `.vrift-tmp-` name beside it), so the path always
//      holds either the projection or the whole copy;
//   4. make those names durable (syncfs), then drop the batch's entries from the
//      manifest in one transaction.
// Blobs are never removed (`vrift gc` does that once no project uses them), so until
// step 4 the entry still names content that is in The Source.
//
// How the manifest records a restore: the entries are simply dropped, files batch by
// batch, then symlinks, then directories (whose recorded mtimes are put back on disk
// first: moving files in and out changes them). A path whose entry is gone is an
// ordinary file vrift no longer manages. A partial restore (PATH...) also lists its
// paths in `.vrift/restored` (project/restored.hpp), so that the next `vrift ingest`
// and `vrift doctor` leave them alone; a full restore empties that list.
//
// Resuming: a restore killed at any point is finished by running it again. A path that
// still has an entry but no longer holds its projection holds either a copy a killed
// run completed or content the user wrote; either way it is the file's latest content:
// it is kept as it is and its entry dropped. Temps of dead processes are removed.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cas/the_source.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "project/config.hpp"
#include "project/failure.hpp"
#include "project/project.hpp"

namespace vrift::project {

struct RestoreOptions {
  std::vector<std::string> paths;  // project-relative; empty: everything the manifest holds
  unsigned jobs = 0;               // copying threads; 0: four per core
};

struct RestoreSummary {
  uint64_t files = 0;     // files copied back from The Source
  uint64_t bytes = 0;     // their size
  uint64_t kept = 0;      // paths that already held a file of their own, left as they are
  uint64_t symlinks = 0;  // symlink entries released
  uint64_t dirs = 0;      // directory entries released
  uint64_t failed = 0;    // files that could not be restored (still projected)
  double seconds = 0;
};

// Receives one line per file that could not be restored; restore goes on after it.
using RestoreWarningSink = std::function<void(const Failure&)>;

// Restores the files under options.paths. Fails when a path is not managed by vrift, or
// the project, manifest or The Source cannot be used at all.
Outcome<RestoreSummary> restore(const ProjectPaths& project, const Config& config, const cas::TheSource& source,
                                manifest::LmdbManifest& manifest, const RestoreOptions& options,
                                const RestoreWarningSink& warn);

}  // namespace vrift::project
