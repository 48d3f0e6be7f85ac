// `vrift ingest [PATH...] [--solid|--phantom] [-j N]`: store and project a project's files.

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "project/ingest.hpp"
#include "project/restored.hpp"
#include "project/settle.hpp"

namespace vrift::cli {

namespace {

struct IngestArgs {
  std::vector<std::string> paths;
  bool solid = false;
  bool phantom = false;
  unsigned jobs = 0;
};


int run_ingest(const Globals& g, const IngestArgs& args) {
  auto ctx = open_project(g, true);
  if (!ctx) {
    return 1;
  }
  project::IngestOptions options;
  if (!to_project_relative(ctx->paths, args.paths, "cannot ingest", options.paths)) {
    return 1;
  }
  options.mode = args.phantom ? project::Mode::Phantom : args.solid ? project::Mode::Solid : ctx->config.mode;
  // A mode asked for over the whole project (no PATH, or PATHs holding every projected
  // directory) becomes the project's mode, recorded before converting so an interrupted
  // run resumes toward it (sessions and `run` read it). Over part of it, it lasts until
  // the next ingest of those paths, which says so.
  const auto& projected = ctx->config.projected;
  bool whole = options.paths.empty() ||
               (!projected.empty() && std::all_of(projected.begin(), projected.end(), [&](const std::string& p) {
                 return project::under_any(p, options.paths);
               }));
  if ((args.solid || args.phantom) && options.mode != ctx->config.mode) {
    if (whole) {
      if (auto recorded = project::set_config_mode(ctx->paths.config_file(), options.mode); !recorded) {
        print_failure(recorded.error());
        return 1;
      }
      ctx->config.mode = options.mode;
    } else if (!g.quiet) {
      fmt::print(stderr, "note: the project stays in {} mode (these paths are not all it projects), so the next "
                         "ingest of them makes them {} again; ingest without PATHs to switch the whole project\n",
                 project::mode_name(ctx->config.mode), project::mode_name(ctx->config.mode));
    }
  }
  options.jobs = args.jobs;
  options.progress = !g.quiet && !g.json && ::isatty(STDERR_FILENO);
  auto summary = project::ingest(ctx->paths, ctx->config, *ctx->source, *ctx->manifest, options,
                                 [&](const project::Failure& f) { print_warning(f); });
  if (!summary) {
    print_failure(summary.error());
    return 1;
  }
  const auto& s = *summary;
  if (auto listed = project::list_for_settle(ctx->paths, s.busy_paths); !listed) {
    print_warning(listed.error());
  }
  uint64_t saved = s.hashed_bytes > s.new_blob_bytes ? s.hashed_bytes - s.new_blob_bytes : 0;
  if (g.json) {
    nlohmann::json out = {
        {"mode", project::mode_name(options.mode)}, {"files", s.files}, {"bytes", s.bytes},
        {"hashed", s.hashed}, {"hashed_bytes", s.hashed_bytes}, {"unchanged", s.unchanged},
        {"converted", s.converted},
        {"new_blobs", s.new_blobs}, {"new_blob_bytes", s.new_blob_bytes}, {"dedup_saved_bytes", saved},
        {"dirs", s.dirs}, {"symlinks", s.symlinks}, {"removed", s.removed}, {"skipped", s.skipped}, {"failed", s.failed},
        {"private_files", s.private_files}, {"busy", s.busy_paths.size()},
        {"copies", s.copies}, {"tier1", s.tier1}, {"tier2", s.tier2}, {"node_modules_symlinks", s.node_symlinks},
        {"cross_filesystem", s.cross_filesystem}, {"seconds", s.seconds},
        {"files_per_second", s.seconds > 0 ? static_cast<double>(s.hashed) / s.seconds : 0.0}};
    fmt::print("{}\n", out.dump(2));
  } else if (!g.quiet) {
    fmt::print("ingested {} files ({}) in [{}] mode: {} hashed, {} unchanged, {} re-projected, {} removed, "
               "{} skipped, {} failed\n",
               s.files, human_bytes(s.bytes), options.mode == project::Mode::Phantom ? "Phantom" : "Solid", s.hashed,
               s.unchanged, s.converted, s.removed, s.skipped, s.failed);
    fmt::print("new blobs: {} ({}); dedup saved {} of {} hashed\n", s.new_blobs, human_bytes(s.new_blob_bytes),
               human_bytes(saved), human_bytes(s.hashed_bytes));
    fmt::print("tiers: {} Tier-1, {} Tier-2; {} directories, {} symlinks; {:.2f} s ({:.0f} files/s)\n", s.tier1,
               s.tier2, s.dirs, s.symlinks, s.seconds, s.seconds > 0 ? static_cast<double>(s.hashed) / s.seconds : 0.0);
    if (s.cross_filesystem) {
      fmt::print("note: The Source is on another filesystem: Tier-2 and Phantom files are copies, "
                 "so dedup on disk is reduced\n");
    } else if (s.copies > 0) {
      fmt::print("note: {} files are private read-only copies (their blob is locked and cannot gain links)\n",
                 s.copies);
    }
    if (s.private_files > 0) {
      fmt::print("note: left as plain files, not stored: {} not readable by everyone (e.g. {}); every blob is "
                 "readable by everyone\n",
                 s.private_files == 1 ? std::string("1 file") : fmt::format("{} files", s.private_files),
                 s.private_example);
    }
    if (!s.busy_paths.empty()) {
      fmt::print("note: left as they are: {} open in another process or replaced while being ingested (e.g. {}); "
                 "they are recorded by the next ingest, or by the end of the `vrift run` writing them\n",
                 s.busy_paths.size() == 1 ? std::string("1 file") : fmt::format("{} files", s.busy_paths.size()),
                 s.busy_paths.front());
    }
    if (s.node_symlinks > 0) {
      fmt::print("note: {} files under node_modules are now symlinks into The Source; Node follows them there, "
                 "so run node inside `vrift run -- CMD` or a session (`vrift inception`), or set "
                 "[tier1] link = \"hardlink\" in .vrift/config.toml and ingest again\n",
                 s.node_symlinks);
    }
  }
  return s.failed == 0 ? 0 : 1;
}

}  // namespace

void add_ingest_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand("ingest", "Store the project's files in The Source and project them back");
  auto args = std::make_shared<IngestArgs>();
  cmd->add_option("PATH", args->paths, "Directories to ingest (default: the config's projected paths)");
  auto* solid = cmd->add_flag("--solid", args->solid, "Leave every file visible as a link (default)");
  cmd->add_flag("--phantom", args->phantom, "Keep regular files in The Source only")->excludes(solid);
  cmd->add_option("-j,--jobs", args->jobs, "Worker threads (default: four per core, so reads overlap)");
  cmd->callback([&g, args, &exit_code] { exit_code = run_ingest(g, *args); });
}

}  // namespace vrift::cli
