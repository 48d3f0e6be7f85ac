// vrift gc: remove the blobs no registered project names (project/gc.hpp).

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cas/the_source.hpp"
#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "project/gc.hpp"

namespace vrift::cli {

namespace {

int run_gc(const Globals& g, const project::GcOptions& options) {
  std::string root = resolve_cas_root(g);
  auto source = cas::TheSource::open(root, false);
  if (!source) {
    print_error("cannot open The Source", root, source.error());
    return 1;
  }
  auto report = project::collect_garbage(
      *source, options,
      [&] {
        if (!g.quiet) {
          std::fprintf(stderr, "vrift: waiting for other vrift commands using The Source to finish\n");
        }
      },
      [](const project::Failure& f) { print_warning(f); });
  if (!report) {
    print_failure(report.error());
    return 1;
  }
  const auto& r = *report;
  if (g.json) {
    nlohmann::json out = {{"dry_run", options.dry_run}, {"projects", r.projects}, {"missing", r.missing},
                          {"forgot_missing", r.forgot_missing}, {"referenced", r.referenced}, {"blobs", r.blobs},
                          {"removed", r.removed}, {"removed_bytes", r.removed_bytes},
                          {"freed_bytes", r.freed_bytes}, {"short_names", r.short_names}, {"temps", r.temps},
                          {"failed", r.failed}};
    fmt::print("{}\n", out.dump(2));
  } else if (!g.quiet) {
    for (const auto& gone : r.missing) {
      fmt::print("{} project that is gone: {}\n", r.forgot_missing ? "forgot" : "would forget", gone);
    }
    fmt::print("{} {} of {} blobs ({}; {} freed), {} short names and {} stray temps; kept {} blobs named by {} "
               "project{}\n",
               options.dry_run ? "would remove" : "removed", r.removed, r.blobs, human_bytes(r.removed_bytes),
               human_bytes(r.freed_bytes), r.short_names, r.temps, r.blobs - r.removed, r.projects,
               r.projects == 1 ? "" : "s");
  }
  return r.failed == 0 ? 0 : 1;
}

}  // namespace

void add_gc_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand("gc", "Remove the blobs no registered project names");
  auto options = std::make_shared<project::GcOptions>();
  cmd->add_flag("--dry-run,-n", options->dry_run, "Say what would be removed; remove nothing");
  cmd->add_flag("--forget-missing", options->forget_missing,
                "Forget registered projects that are gone (deleted) instead of stopping at them");
  cmd->callback([&g, options, &exit_code] { exit_code = run_gc(g, *options); });
}

}  // namespace vrift::cli
