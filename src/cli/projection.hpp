#pragma once
// The mode a project's files are projected in, and switching it: what `vrift run` and
// `vrift inception` do before they start a session in a given mode.

#include <optional>
#include <string>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "project/config.hpp"

namespace vrift::cli {

struct Projection {
  uint64_t files = 0;    // regular files in the manifest
  uint64_t phantom = 0;  // of them, those held only in The Source
  uint64_t dirty = 0;    // of them, those being written in a session (plain files for now)
};

// What starting a session needs: the project opened (The Source created if missing), the
// shim found, and how the files are projected now.
struct SessionStart {
  ProjectContext ctx;
  std::string shim;
  Projection projection;
};

// Prints the failure and returns nullopt.
std::optional<SessionStart> prepare_session(const Globals& g);

// Counts the project's files and phantom files. Prints the failure and returns nullopt.
std::optional<Projection> read_projection(ProjectContext& ctx);

// The mode to use when none is asked for: Phantom when any file is phantom (a
// conversion to Solid never finished, or a Phantom project), else the config's.
project::Mode default_mode(const ProjectContext& ctx, const Projection& p);

// Makes every file projected in `mode`: records `mode` in config.toml first (so an
// interrupted conversion resumes toward it) and converts with ingest when any file is
// projected otherwise. Ingest is crash-safe and skips what is already done, so running
// this again after an interruption finishes the job. Prints failures; returns success.
bool switch_projection(const Globals& g, ProjectContext& ctx, const Projection& p, project::Mode mode);

}  // namespace vrift::cli
