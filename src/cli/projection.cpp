#include "cli/projection.hpp"

#include <fmt/core.h>

#include "project/ingest.hpp"
#include "project/session.hpp"
#include "project/settle.hpp"

namespace vrift::cli {

std::optional<Projection> read_projection(ProjectContext& ctx) {
  auto txn = ctx.manifest->read();
  if (!txn) {
    print_failure(project::Failure{"cannot read manifest", ctx.paths.manifest_dir(), error_reason(txn.error())});
    return std::nullopt;
  }
  auto census = ctx.manifest->census(*txn);
  txn->reset();
  if (!census) {
    print_failure(project::Failure{"cannot read manifest", ctx.paths.manifest_dir(), error_reason(census.error())});
    return std::nullopt;
  }
  return Projection{census->files, census->phantom, census->dirty};
}

project::Mode default_mode(const ProjectContext& ctx, const Projection& p) {
  return p.phantom > 0 ? project::Mode::Phantom : ctx.config.mode;
}

bool switch_projection(const Globals& g, ProjectContext& ctx, const Projection& p, project::Mode mode) {
  if (ctx.config.mode != mode) {
    if (auto recorded = project::set_config_mode(ctx.paths.config_file(), mode); !recorded) {
      print_failure(recorded.error());
      return false;
    }
    ctx.config.mode = mode;
  }
  // (A file being written in a session is a plain file in either mode until it settles.)
  bool converting = mode == project::Mode::Phantom ? p.phantom + p.dirty < p.files : p.phantom > 0;
  if (!converting) {
    return true;
  }
  if (!g.quiet) {
    fmt::print(stderr, "vrift: converting the projection to [{}] mode first\n",
               mode == project::Mode::Phantom ? "Phantom" : "Solid");
  }
  project::IngestOptions options;
  options.mode = mode;
  auto summary = project::ingest(ctx.paths, ctx.config, *ctx.source, *ctx.manifest, options,
                                 [&](const project::Failure& f) { print_warning(f); });
  if (!summary) {
    print_failure(summary.error());
    return false;
  }
  if (auto listed = project::list_for_settle(ctx.paths, summary->busy_paths); !listed) {
    print_failure(listed.error());
    return false;
  }
  if (summary->failed > 0) {
    // Those files stay as they were; the next session start tries them again.
    print_warning(project::Failure{"not every file was converted", ctx.paths.root,
                                   fmt::format("{} failed (see above); starting anyway, the next start retries them",
                                               summary->failed)});
  }
  return true;
}

std::optional<SessionStart> prepare_session(const Globals& g) {
  auto ctx = open_project(g, true);
  if (!ctx) {
    return std::nullopt;
  }
  auto shim = project::find_shim();
  if (!shim) {
    print_failure(shim.error());
    return std::nullopt;
  }
  auto projection = read_projection(*ctx);
  if (!projection) {
    return std::nullopt;
  }
  return SessionStart{std::move(*ctx), std::move(*shim), *projection};
}

}  // namespace vrift::cli
