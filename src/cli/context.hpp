#pragma once
// Opening what most subcommands need: the project, its config, its manifest and The
// Source. Failures are printed; the caller returns exit status 1.

#include <optional>
#include <string>
#include <vector>

#include "cas/the_source.hpp"
#include "cli/commands.hpp"
#include "manifest/lmdb_manifest.hpp"
#include "project/config.hpp"
#include "project/failure.hpp"
#include "project/project.hpp"

namespace vrift::cli {

struct ProjectContext {
  project::ProjectPaths paths;
  project::Config config;
  std::optional<manifest::LmdbManifest> manifest;
  std::optional<cas::TheSource> source;
};

// Finds the project (-C, else the cwd), loads its config and opens its manifest and The
// Source (created when `create_source`). Prints the failure and returns nullopt.
std::optional<ProjectContext> open_project(const Globals& g, bool create_source);

// Prints a project-layer failure as one error line.
void print_failure(const project::Failure& f);
void print_warning(const project::Failure& f);

// Turns PATH arguments (relative to the cwd, or absolute) into project-relative paths.
// Refuses the root itself, paths outside the project and .vrift/, printing one error
// line starting with `what` ("cannot ingest"), and returns false.
bool to_project_relative(const project::ProjectPaths& paths, const std::vector<std::string>& args, const char* what,
                         std::vector<std::string>& out);

}  // namespace vrift::cli
