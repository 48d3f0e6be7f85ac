// `vrift run [--solid|--phantom] -- CMD ARGS...`: one command inside the projection.

#include <fmt/core.h>

#include <chrono>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/projection.hpp"
#include "project/prefetch.hpp"
#include "project/session.hpp"
#include "project/settle.hpp"

namespace vrift::cli {

namespace {

struct RunArgs {
  bool solid = false;
  bool phantom = false;
  std::vector<std::string> command;
};

int run_run(const Globals& g, const RunArgs& args) {
  auto start = prepare_session(g);
  if (!start) {
    return 1;
  }
  ProjectContext* ctx = &start->ctx;
  const std::string* shim = &start->shim;
  const Projection* projection = &start->projection;
  project::Mode mode = args.phantom ? project::Mode::Phantom
                       : args.solid ? project::Mode::Solid
                                    : default_mode(*ctx, *projection);
  if (!switch_projection(g, *ctx, *projection, mode)) {
    return 1;
  }
  project::SessionSpec spec{ctx->paths, ctx->source->root(), *shim, mode};
  spec.project_alias = project::logical_project_root(ctx->paths.root);
  spec.reingest_at_exit = true;  // settle_writes() below, one batch for the whole command
  project::Outcome<int> status = 0;
  {
    project::Prefetch prefetch(*ctx->source, *ctx->manifest, project::k_prefetch_budget);
    status = project::run_in_session(spec, args.command);
  }
  if (!status) {
    print_failure(status.error());
    return 1;
  }
  // The files the command wrote, and any a writer left unclosed (killed, or handed to a
  // program the shim could not follow), are recorded now.
  auto settle_start = std::chrono::steady_clock::now();
  auto settled = project::settle_writes(ctx->paths, ctx->config, *ctx->source, *ctx->manifest, mode,
                                        [&](const project::Failure& f) { print_warning(f); });
  if (!settled) {
    print_failure(settled.error());
    return *status != 0 ? *status : 1;
  }
  if (*settled > 0 && g.verbose) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - settle_start;
    fmt::print(stderr, "vrift: recorded {} file(s) the command wrote ({:.3f} s)\n", *settled, took.count());
  }
  return *status;
}

}  // namespace

void add_run_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand("run", "Run one command inside the projection (vrift run -- CMD ARGS...)");
  auto args = std::make_shared<RunArgs>();
  auto* solid = cmd->add_flag("--solid", args->solid, "Run with the files projected as links (default)");
  cmd->add_flag("--phantom", args->phantom, "Run with the files in The Source only")->excludes(solid);
  cmd->add_option("command", args->command, "The command and its arguments")->required();
  cmd->prefix_command();
  cmd->callback([&g, args, &exit_code] { exit_code = run_run(g, *args); });
}

}  // namespace vrift::cli
