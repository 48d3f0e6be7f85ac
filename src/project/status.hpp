#pragma once
// What `vrift status` reports: counts, space, protections actually in force, and
// anything inconsistent that `vrift doctor` should look at.

#include <cstdint>
#include <optional>
#include <string>

#include "cas/the_source.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "project/config.hpp"
#include "project/failure.hpp"
#include "project/project.hpp"
#include "project/session_record.hpp"

namespace vrift::project {

struct StatusReport {
  Mode mode = Mode::Solid;          // the mode the project's files are projected in
  std::optional<SessionRecord> session;  // the active session (session.json), if any
  uint64_t session_shells = 0;      // live shells in it
  std::string session_error;        // why session.json could not be read; empty: it could
  manifest::Census census;
  uint64_t tier1_files = 0;
  uint64_t tier2_files = 0;
  uint64_t unique_blobs = 0;        // distinct blobs the project's files use
  uint64_t stored_bytes = 0;        // their size: what the project costs in The Source
  // Protections in force, checked on disk.
  uint64_t tier1_blobs = 0;
  uint64_t tier1_immutable = 0;     // carry the immutable flag
  uint64_t tier1_owned_by_user = 0; // owned by the config's tier1 owner
  uint64_t read_only_blobs = 0;     // no write bit for anyone
  uint64_t tier2_links = 0;         // Solid Tier-2 (and Tier-1 hardlink) projections
  uint64_t private_copies = 0;      // read-only private files standing in for a link
  // Inconsistencies (for doctor).
  uint64_t missing_blobs = 0;
  uint64_t broken_projections = 0;  // a link that is gone or points elsewhere
  uint64_t phantom_occupied = 0;    // something sits at a phantom file's path
  uint64_t borrowed_mtimes = 0;     // Tier-2 links whose kernel mtime is another project's
};

Outcome<StatusReport> project_status(const ProjectPaths& project, const Config& config, const cas::TheSource& source,
                                     manifest::LmdbManifest& manifest);

}  // namespace vrift::project
