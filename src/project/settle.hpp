#pragma once
// Settling a session's writes. In an interactive session the shim re-ingests each file
// written at its last close; under `vrift run` it lists the file in .vrift/pending
// instead, for one batch at the command's end; it lists every file written in the
// project, and settling keeps those the manifest records or whose directory it records. A writer that never closed (killed, or
// a program image the shim could not follow) leaves its entry marked dirty
// (manifest::k_flag_dirty) and its bytes at the project path. Settling ingests the
// listed and the dirty paths, so the manifest and the projection agree again. `vrift
// run` settles when its command ends.

#include <cstdint>
#include <string>
#include <vector>

#include "cas/the_source.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "project/config.hpp"
#include "project/failure.hpp"
#include "project/ingest.hpp"
#include "project/project.hpp"

namespace vrift::project {

// Lists project paths for the next settle, as the shim lists a write: files ingest left
// because another process had them open (IngestSummary::busy_paths).
Outcome<void> list_for_settle(const ProjectPaths& project, const std::vector<std::string>& paths);

// Ingests every listed or dirty path that holds a file, in `mode`. Returns how many
// paths were settled (0 when there were none: then nothing else is done). Errors: as
// ingest() (the lists are then kept for the next settle).
Outcome<uint64_t> settle_writes(const ProjectPaths& project, const Config& config, cas::TheSource& source,
                                manifest::LmdbManifest& manifest, Mode mode, const WarningSink& warn);

}  // namespace vrift::project
