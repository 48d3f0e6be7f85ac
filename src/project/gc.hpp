#pragma once
// Garbage collection of The Source: remove the blobs no registered project names.
//
// Mark: under the reference lock held exclusively (the_source.hpp), read both layers of
// the manifest of every project registered with The Source (projects.hpp) and note
// every blob a file entry names, overridden and dirty entries included. Sweep: remove
// every blob under blake3/ that no manifest names, with its short name; then short
// names left with no blob (a crash between the two removals), and temps older than an
// hour (interrupted stores, as `cas verify` calls them).
//
// gc never guesses: a registered project that is gone (its root has no manifest any
// more: deleted, or moved and not used since) stops it before anything is removed,
// because its blobs cannot be told apart. `forget_missing` drops those entries first,
// for projects the user knows are deleted. A manifest that cannot be read stops it too.
// Removing a blob is safe for a project that links it (a Tier-2 hardlink keeps the
// inode); only the space the removed names alone held is freed.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cas/the_source.hpp"
#include "project/failure.hpp"

namespace vrift::project {

struct GcOptions {
  bool dry_run = false;         // report what would go; remove nothing
  bool forget_missing = false;  // drop registered projects that are gone, then collect
};

struct GcReport {
  uint64_t projects = 0;             // registered projects whose manifests were read
  std::vector<std::string> missing;  // registered roots with no project at them
  bool forgot_missing = false;       // `missing` were dropped from the registry
  uint64_t referenced = 0;           // distinct blobs the manifests name
  uint64_t blobs = 0;                // blobs found under blake3/
  uint64_t removed = 0;              // blobs removed (dry run: that would be)
  uint64_t removed_bytes = 0;        // their content size
  uint64_t freed_bytes = 0;          // disk space their removal gave back (no other link held it)
  uint64_t short_names = 0;          // short names of no remaining blob, removed
  uint64_t temps = 0;                // stray temps removed
  uint64_t failed = 0;               // names that could not be removed (warned)
};

// Collects The Source's garbage. `waiting` is called once if other vrift processes
// hold the reference lock and gc must wait for them. Warnings go to `warn` (one line
// each). Errors: the reference lock or the registry cannot be read; a registered project
// is gone (without forget_missing) or its manifest cannot be read: nothing is removed.
Outcome<GcReport> collect_garbage(cas::TheSource& source, const GcOptions& options,
                                  const std::function<void()>& waiting,
                                  const std::function<void(const Failure&)>& warn);

}  // namespace vrift::project
