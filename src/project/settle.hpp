#pragma once
// Settling a session's writes: files written inside a session are re-ingested by the
// shim at their last close. A writer that never closed (killed, or a program image the
// shim could not follow) leaves its entry marked dirty (manifest::k_flag_dirty) and its
// bytes at the project path. Settling ingests those paths, so the manifest and the
// projection agree again. `vrift run` settles when its command ends.

#include <cstdint>

#include "cas/the_source.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "project/config.hpp"
#include "project/failure.hpp"
#include "project/ingest.hpp"
#include "project/project.hpp"

namespace vrift::project {

// Ingests every dirty entry's path that holds a file, in `mode`. Returns how many paths
// were settled (0 when nothing was dirty: then nothing else is done). Errors: as
// ingest().
Outcome<uint64_t> settle_writes(const ProjectPaths& project, const Config& config, cas::TheSource& source,
                                manifest::LmdbManifest& manifest, Mode mode, const WarningSink& warn);

}  // namespace vrift::project
