// `vrift restore [PATH...]`: turn projections back into plain private files with the
// same content, mode and mtime; the manifest stops claiming them.

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "project/restore.hpp"

namespace vrift::cli {

namespace {

int run_restore(const Globals& g, const std::vector<std::string>& args) {
  auto ctx = open_project(g, false);
  if (!ctx) {
    return 1;
  }
  project::RestoreOptions options;
  if (!to_project_relative(ctx->paths, args, "cannot restore", options.paths)) {
    return 1;
  }
  auto summary = project::restore(ctx->paths, ctx->config, *ctx->source, *ctx->manifest, options,
                                  [&](const project::Failure& f) { print_failure(f); });
  if (!summary) {
    print_failure(summary.error());
    return 1;
  }
  const auto& s = *summary;
  if (g.json) {
    nlohmann::json out = {{"files", s.files}, {"bytes", s.bytes}, {"kept", s.kept}, {"symlinks", s.symlinks},
                          {"dirs", s.dirs},   {"failed", s.failed}, {"seconds", s.seconds}};
    fmt::print("{}\n", out.dump(2));
  } else if (!g.quiet) {
    fmt::print("restored {} files ({} bytes) as private files; {} kept as they were; {} symlinks and {} directories "
               "released; {} failed ({:.2f} s)\n",
               s.files, s.bytes, s.kept, s.symlinks, s.dirs, s.failed, s.seconds);
  }
  return s.failed == 0 ? 0 : 1;
}

}  // namespace

void add_restore_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand("restore", "Turn projections back into plain private files (rollback)");
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("PATH", *paths, "Files or directories to restore (default: everything vrift manages)");
  cmd->callback([&g, paths, &exit_code] { exit_code = run_restore(g, *paths); });
}

}  // namespace vrift::cli
