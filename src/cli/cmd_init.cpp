// `vrift init [--force] [--create-user]`: make the current directory (or -C) a project.

#include <fmt/core.h>

#include "cli/commands.hpp"
#include "cas/projects.hpp"
#include "cas/the_source.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "project/project.hpp"

namespace vrift::cli {

namespace {

int run_init(const Globals& g, project::InitOptions options) {
  // The Source first (so that doctor, ls and status work on a project never ingested):
  // whether it can lock blobs decides how Tier-1 files are projected.
  std::string root = resolve_cas_root(g);
  auto source = cas::TheSource::open(root, true);
  if (!source) {
    print_error("cannot create The Source", root, source.error());
    return 1;
  }
  bool can_lock = source->can_lock();
  options.tier1_link = can_lock ? project::Tier1Link::symlink : project::Tier1Link::hardlink;
  auto paths = project::init_project(g.project_dir.empty() ? "." : g.project_dir, options);
  if (!paths) {
    print_failure(paths.error());
    return 1;
  }
  if (auto listed = cas::register_project(*source, paths->root); !listed) {
    print_error("cannot register the project with The Source", root + "/projects", listed.error());
    return 1;
  }
  if (!g.quiet) {
    auto config = project::load_config(paths->config_file());
    std::string projected;
    if (config) {
      for (const auto& p : config->projected) {
        projected += (projected.empty() ? "" : ", ") + p;
      }
    }
    fmt::print("initialized vrift project in {}\n", paths->root);
    fmt::print("projected paths: {}\n", projected.empty() ? "(none yet: edit .vrift/config.toml or name them to `vrift ingest`)" : projected);
    fmt::print("Tier-1 files: {}\n", can_lock ? "symlinks to locked (immutable) blobs"
                                              : "read-only hardlinks (blobs cannot be locked here: that takes "
                                                "CAP_LINUX_IMMUTABLE and a filesystem with inode flags)");
  }
  return 0;
}

}  // namespace

void add_init_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand("init", "Make this directory a vrift project (.vrift/ with config and manifest)");
  auto options = std::make_shared<project::InitOptions>();
  cmd->add_flag("--force", options->force, "Initialize even inside an existing project, or rewrite its config");
  cmd->add_flag("--create-user", options->create_user, "Create the `vrift` system user that owns Tier-1 blobs (root)");
  cmd->callback([&g, options, &exit_code] { exit_code = run_init(g, *options); });
}

}  // namespace vrift::cli
