// `vrift status [--json]`: what the project holds, what it costs, what protects it.

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "project/status.hpp"

namespace vrift::cli {

namespace {

nlohmann::json session_json(const project::StatusReport& r) {
  if (!r.session_error.empty()) {
    return {{"error", r.session_error}};
  }
  if (!r.session) {
    return nullptr;
  }
  const auto& s = *r.session;
  return {{"mode", project::mode_name(s.mode)}, {"started_at", s.started_at}, {"shells", r.session_shells},
          {"the_source", s.cas_root}, {"shim", s.shim},
          {"abi_context", s.abi_context.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.abi_context)}};
}

std::string session_line(const project::StatusReport& r) {
  if (!r.session_error.empty()) {
    return "unreadable: " + r.session_error;
  }
  if (!r.session) {
    return "none";
  }
  const auto& s = *r.session;
  return fmt::format("[{}] since {}, {} shell{} in it{}", s.mode == project::Mode::Phantom ? "Phantom" : "Solid",
                     s.started_at, r.session_shells, r.session_shells == 1 ? "" : "s",
                     r.session_shells == 0 ? " (a shell entering the project rejoins it)" : "");
}

int run_status(const Globals& g) {
  auto ctx = open_project(g, false);
  if (!ctx) {
    return 1;
  }
  auto report = project::project_status(ctx->paths, ctx->config, *ctx->source, *ctx->manifest);
  if (!report) {
    print_failure(report.error());
    return 1;
  }
  const auto& r = *report;
  const auto& c = r.census;
  double ratio = r.stored_bytes > 0 ? static_cast<double>(c.file_bytes) / static_cast<double>(r.stored_bytes) : 0;
  uint64_t problems = r.missing_blobs + r.broken_projections + r.phantom_occupied;
  if (g.json) {
    nlohmann::json out = {
        {"project", ctx->paths.root},
        {"the_source", ctx->source->root()},
        {"mode", project::mode_name(r.mode)},
        {"session", session_json(r)},
        {"entries", {{"total", c.entries}, {"files", c.files}, {"dirs", c.dirs}, {"symlinks", c.symlinks},
                     {"tier1", r.tier1_files}, {"tier2", r.tier2_files}, {"phantom", c.phantom},
                     {"delta", c.delta_entries}, {"whiteouts", c.delta_whiteouts}}},
        {"logical_bytes", c.file_bytes},
        {"stored_bytes", r.stored_bytes},
        {"unique_blobs", r.unique_blobs},
        {"dedup_ratio", ratio},
        {"protection", {{"tier1_blobs", r.tier1_blobs}, {"tier1_immutable", r.tier1_immutable},
                        {"tier1_owned_by", ctx->config.tier1_owner}, {"tier1_owned", r.tier1_owned_by_user},
                        {"read_only_blobs", r.read_only_blobs}, {"tier2_links", r.tier2_links},
                        {"private_copies", r.private_copies}}},
        {"problems", {{"missing_blobs", r.missing_blobs}, {"broken_projections", r.broken_projections},
                      {"phantom_occupied", r.phantom_occupied}, {"borrowed_mtimes", r.borrowed_mtimes}}},
    };
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("project:    {}\n", ctx->paths.root);
  fmt::print("The Source: {}\n", ctx->source->root());
  fmt::print("mode:       [{}]\n", r.mode == project::Mode::Phantom ? "Phantom" : "Solid");
  fmt::print("session:    {}\n", session_line(r));
  fmt::print("entries:    {} files ({} Tier-1, {} Tier-2, {} phantom), {} directories, {} symlinks\n", c.files,
             r.tier1_files, r.tier2_files, c.phantom, c.dirs, c.symlinks);
  fmt::print("space:      {} bytes of files stored as {} bytes in {} blobs (dedup {:.2f}x)\n", c.file_bytes,
             r.stored_bytes, r.unique_blobs, ratio);
  fmt::print("protection: {} of {} Tier-1 blobs immutable, {} owned by '{}'; {} of {} blobs read-only; "
             "{} read-only hardlinks; {} private copies\n",
             r.tier1_immutable, r.tier1_blobs, r.tier1_owned_by_user, ctx->config.tier1_owner, r.read_only_blobs,
             r.unique_blobs, r.tier2_links, r.private_copies);
  if (r.borrowed_mtimes > 0) {
    fmt::print("warning:    {} hardlinks show another project's mtime on disk (their blob is shared); "
               "inside a session vrift reports each path's own mtime\n",
               r.borrowed_mtimes);
  }
  if (problems > 0) {
    fmt::print("problems:   {} missing blobs, {} broken projections, {} phantom paths occupied: run `vrift doctor`\n",
               r.missing_blobs, r.broken_projections, r.phantom_occupied);
  } else {
    fmt::print("problems:   none\n");
  }
  return 0;
}

}  // namespace

void add_status_command(CLI::App& app, Globals& g, int& exit_code) {
  auto* cmd = app.add_subcommand("status", "Show the project's mode, entries, space saved, protections and problems");
  cmd->callback([&g, &exit_code] { exit_code = run_status(g); });
}

}  // namespace vrift::cli
